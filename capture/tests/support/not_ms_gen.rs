//! A seeded generator of popular non-Microsoft traffic on the ports Teams,
//! Skype for Business and Exchange also use (issue 11), with Microsoft flows
//! mixed in so that a fix that names no service at all fails too.
//!
//! Every flow is written with what pathlens should say about it: the class,
//! the traffic type, the Office 365 service and the evidence that names it.
//! The intent comes from how the flow was built (which server, which
//! protocol markers), never from pathlens. Clients mostly use source ports
//! inside 50000-59999, the Teams/Edge media range, because that is where a
//! port rule applied to the wrong end does its damage. Payloads are built
//! field by field.
//!
//! Addresses: clients in 192.168.50.0/24; non-Microsoft servers in public
//! blocks outside every Office 365 set (the test checks that against the
//! real list); Microsoft servers in the Office 365 sets of
//! `testdata/corpus/o365/endpoints-worldwide.json` (Skype 52.112.0.0/14,
//! Exchange 40.96.0.0/13, 52.96.0.0/14, EOP 52.100.0.0/14), or on-premises
//! in 192.168.60.0/24 and 10.20.0.0/24 where only their protocol markers or
//! the site config can tell.
#![allow(dead_code)] // each test uses a part

use crate::support::sample::{client_hello, server_hello, tls_data};
use crate::support::PcapWriter;
use etherparse::PacketBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

const MAGIC: u32 = 0x2112_a442;

/// What pathlens should say about one flow.
#[derive(Clone, Debug)]
pub struct Intent {
    /// Why this flow exists.
    pub what: &'static str,
    /// `tcp` or `udp`.
    pub transport: &'static str,
    /// The initiator.
    pub client: (IpAddr, u16),
    /// The responder.
    pub server: (IpAddr, u16),
    /// Acceptable `app_protocol` values (more than one only where payload
    /// classification may reasonably go either way; issue 11 is not about it).
    pub app: &'static [&'static str],
    /// Required `app_protocol_source`, where it matters to issue 11.
    pub app_source: Option<&'static str>,
    /// Acceptable `traffic_type` values.
    pub traffic: &'static [&'static str],
    /// `service` (None: no Microsoft service).
    pub service: Option<&'static str>,
    /// `service_source`: `sni`, `o365`, `protocol`, `config`, `correlation`.
    pub service_source: Option<&'static str>,
}

/// The expectation part of an [`Intent`].
#[derive(Clone, Copy)]
struct Want {
    app: &'static [&'static str],
    app_source: Option<&'static str>,
    traffic: &'static [&'static str],
    service: Option<(&'static str, &'static str)>,
}

const fn want(app: &'static [&'static str], traffic: &'static [&'static str]) -> Want {
    Want {
        app,
        app_source: None,
        traffic,
        service: None,
    }
}

impl Want {
    const fn by(mut self, source: &'static str) -> Self {
        self.app_source = Some(source);
        self
    }

    const fn service(mut self, service: &'static str, source: &'static str) -> Self {
        self.service = Some((service, source));
        self
    }
}

const MEDIA: &[&str] = &["media"];
const OTHER: &[&str] = &["other"];
const OTHER_OR_INFRA: &[&str] = &["other", "infrastructure"];
const WEB: &[&str] = &["web"];
const MAIL: &[&str] = &["mail"];
const SIGNALING: &[&str] = &["signaling"];

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn mac_of(ip: IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0x4e, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x02, 0x66, o[12], o[13], o[14], o[15]]
        }
    }
}

/// A STUN message with the RFC 5389 cookie; attributes padded to 4 bytes.
fn stun(msg_type: u16, tid: u8, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in attrs {
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(v.len() as u16).to_be_bytes());
        body.extend_from_slice(v);
        body.extend(std::iter::repeat_n(0, (4 - v.len() % 4) % 4));
    }
    let mut m = msg_type.to_be_bytes().to_vec();
    m.extend_from_slice(&(body.len() as u16).to_be_bytes());
    m.extend_from_slice(&MAGIC.to_be_bytes());
    m.extend((0..12u8).map(|i| tid.wrapping_mul(13).wrapping_add(i)));
    m.extend_from_slice(&body);
    m
}

/// An XOR-MAPPED- or XOR-RELAYED-ADDRESS value for an IPv4 endpoint.
fn xor_addr(ip: IpAddr, port: u16) -> Vec<u8> {
    let IpAddr::V4(a) = ip else {
        unreachable!("IPv4 only")
    };
    let mut v = vec![0, 1];
    v.extend_from_slice(&(port ^ 0x2112).to_be_bytes());
    v.extend_from_slice(&(u32::from(a) ^ MAGIC).to_be_bytes());
    v
}

/// ICE attributes every WebRTC stack sends (none of them Microsoft's).
fn ice_attrs(user: &str) -> Vec<(u16, Vec<u8>)> {
    vec![
        (0x0006, user.as_bytes().to_vec()),
        (0x0024, vec![0x6e, 0x7f, 0x1e, 0xff]),
        (0x802a, vec![0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, 0x72, 0x83]),
        (0x0008, vec![0xa5; 20]),
        (0x8028, vec![0x12, 0x34, 0x56, 0x78]),
    ]
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0x80, pt];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seq as u8)));
    v
}

/// Bytes no dissector claims: a first byte outside STUN, DTLS, RTP and
/// TURN channel ranges, and a header DNS would reject.
fn opaque(first: u8, n: u16, len: usize) -> Vec<u8> {
    let mut v = vec![first, 0x10, (n >> 8) as u8, n as u8, 0xff, 0xff];
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(53).wrapping_add(n as u8)));
    v
}

fn lines(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

fn sip_body(sdp: &str) -> String {
    sdp.replace('\n', "\r\n")
}

type Endpoint = (IpAddr, u16);

struct Gen {
    w: PcapWriter,
    rng: StdRng,
    now: i64,
    /// Next TCP sequence number per direction.
    seq: HashMap<(Endpoint, Endpoint), u32>,
    used: HashSet<(IpAddr, u16)>,
    intents: Vec<Intent>,
}

impl Gen {
    fn new(pcap: &Path, seed: u64) -> Self {
        Gen {
            w: PcapWriter::create(pcap, 1, 65_535),
            rng: StdRng::seed_from_u64(seed),
            now: 1_793_700_000_000_000,
            seq: HashMap::new(),
            used: HashSet::new(),
            intents: Vec::new(),
        }
    }

    /// A client endpoint on a fresh port in `lo..hi`.
    fn client(&mut self, ip: IpAddr, lo: u16, hi: u16) -> (IpAddr, u16) {
        loop {
            let p = self.rng.random_range(lo..hi);
            if self.used.insert((ip, p)) {
                return (ip, p);
            }
        }
    }

    /// A client endpoint on a fresh port inside the Teams/Edge media range.
    fn eph(&mut self, ip: IpAddr) -> (IpAddr, u16) {
        self.client(ip, 50_000, 60_000)
    }

    fn frame(&mut self, s: (IpAddr, u16), d: (IpAddr, u16), tcp: Option<u8>, payload: &[u8]) {
        let eth = PacketBuilder::ethernet2(mac_of(s.0), mac_of(d.0));
        let (IpAddr::V4(a), IpAddr::V4(b)) = (s.0, d.0) else {
            unreachable!("IPv4 only")
        };
        let ip = eth.ipv4(a.octets(), b.octets(), 64);
        let mut frame = Vec::new();
        match tcp {
            None => ip.udp(s.1, d.1).write(&mut frame, payload).unwrap(),
            Some(flags) => {
                let seq = *self.seq.entry((s, d)).or_insert(1_000);
                let peer = self.seq.get(&(d, s)).copied().unwrap_or(0);
                let mut t = ip.tcp(s.1, d.1, seq, 64_240);
                if flags & SYN != 0 {
                    t = t.syn();
                }
                if flags & ACK != 0 {
                    t = t.ack(peer);
                }
                if flags & PSH != 0 {
                    t = t.psh();
                }
                if flags & RST != 0 {
                    t = t.rst();
                }
                if flags & FIN != 0 {
                    t = t.fin();
                }
                t.write(&mut frame, payload).unwrap();
                let used = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
                self.seq.insert((s, d), seq.wrapping_add(used));
            }
        }
        self.w.frame(self.now, &frame);
        self.now += 1_000;
    }

    /// UDP datagrams, each `(to_server, payload)`, 20 ms apart.
    fn udp(&mut self, c: (IpAddr, u16), s: (IpAddr, u16), msgs: &[(bool, Vec<u8>)]) {
        for (up, p) in msgs {
            if *up {
                self.frame(c, s, None, p);
            } else {
                self.frame(s, c, None, p);
            }
            self.now += 19_000;
        }
    }

    /// A TCP connection: handshake, the segments `(from_client, payload)`,
    /// each acknowledged, then a FIN close.
    fn tcp(&mut self, c: (IpAddr, u16), s: (IpAddr, u16), msgs: &[(bool, Vec<u8>)]) {
        self.frame(c, s, Some(SYN), &[]);
        self.frame(s, c, Some(SYN | ACK), &[]);
        self.frame(c, s, Some(ACK), &[]);
        for (up, p) in msgs {
            let (a, b) = if *up { (c, s) } else { (s, c) };
            for chunk in p.chunks(1400) {
                self.frame(a, b, Some(PSH | ACK), chunk);
            }
            self.frame(b, a, Some(ACK), &[]);
            self.now += 5_000;
        }
        self.frame(c, s, Some(FIN | ACK), &[]);
        self.frame(s, c, Some(FIN | ACK), &[]);
        self.frame(c, s, Some(ACK), &[]);
    }

    /// A connection that never carries payload: SYNs, then what the server
    /// answers (`None`: nothing; `Some(RST)`: refused; `Some(SYN)`: a
    /// SYN-ACK the client resets, as a half-open scan does).
    fn tcp_failed(&mut self, c: (IpAddr, u16), s: (IpAddr, u16), syns: u8, answer: Option<u8>) {
        for _ in 0..syns {
            self.frame(c, s, Some(SYN), &[]);
            // Retransmissions keep the same sequence number.
            if let Some(n) = self.seq.get_mut(&(c, s)) {
                *n = n.wrapping_sub(1);
            }
            self.now += 1_000_000;
        }
        if let Some(n) = self.seq.get_mut(&(c, s)) {
            *n = n.wrapping_add(1);
        }
        match answer {
            Some(RST) => self.frame(s, c, Some(RST | ACK), &[]),
            Some(_) => {
                self.frame(s, c, Some(SYN | ACK), &[]);
                self.frame(c, s, Some(RST), &[]);
            }
            None => {}
        }
    }

    fn intent(
        &mut self,
        what: &'static str,
        transport: &'static str,
        c: (IpAddr, u16),
        s: (IpAddr, u16),
        w: Want,
    ) {
        self.intents.push(Intent {
            what,
            transport,
            client: c,
            server: s,
            app: w.app,
            app_source: w.app_source,
            traffic: w.traffic,
            service: w.service.map(|x| x.0),
            service_source: w.service.map(|x| x.1),
        });
        self.now += 50_000;
    }

    /// STUN binding request/response pairs, then RTP both ways when `rtp_pt`.
    fn stun_call(
        &mut self,
        c: (IpAddr, u16),
        s: (IpAddr, u16),
        req_attrs: &[(u16, Vec<u8>)],
        resp_extra: &[(u16, Vec<u8>)],
        rtp_pt: Option<u8>,
    ) {
        let mut msgs = Vec::new();
        for i in 0..3u8 {
            let tid = self.rng.random::<u8>();
            msgs.push((true, stun(0x0001, tid, req_attrs)));
            let mut resp = vec![(0x0020, xor_addr(v4(203, 0, 113, 7), c.1))];
            resp.extend_from_slice(resp_extra);
            resp.push((0x8028, vec![i, 1, 2, 3]));
            msgs.push((false, stun(0x0101, tid, &resp)));
        }
        if let Some(pt) = rtp_pt {
            let (a, b) = (self.rng.random::<u32>(), self.rng.random::<u32>());
            for i in 0..16u16 {
                msgs.push((true, rtp(pt, 100 + i, u32::from(i) * 960, a, 90)));
                msgs.push((false, rtp(pt, 9_000 + i, u32::from(i) * 960, b, 90)));
            }
        }
        self.udp(c, s, &msgs);
    }

    /// A TURN Allocate exchange whose success response names `relayed`.
    fn turn_allocate(
        &mut self,
        c: (IpAddr, u16),
        s: (IpAddr, u16),
        extra: &[(u16, Vec<u8>)],
        relayed: (IpAddr, u16),
    ) {
        let tid = self.rng.random::<u8>();
        let mut req = vec![(0x0019, vec![17, 0, 0, 0])];
        req.extend_from_slice(extra);
        let mut resp = vec![
            (0x0016, xor_addr(relayed.0, relayed.1)),
            (0x0020, xor_addr(v4(203, 0, 113, 7), c.1)),
            (0x000d, vec![0, 0, 0x02, 0x58]),
        ];
        resp.extend_from_slice(extra);
        self.udp(
            c,
            s,
            &[
                (true, stun(0x0003, tid, &req)),
                (false, stun(0x0103, tid, &resp)),
            ],
        );
    }

    /// Media no dissector reads (SRTP whose header is hidden by a relay's
    /// framing): only correlation can say what it is.
    fn opaque_media(&mut self, c: (IpAddr, u16), s: (IpAddr, u16)) {
        let msgs: Vec<(bool, Vec<u8>)> = (0..20u16)
            .map(|i| (i % 2 == 0, opaque(0xd7, i, 120)))
            .collect();
        self.udp(c, s, &msgs);
    }

    /// A TLS session: ClientHello with `sni`, a ServerHello, application data.
    fn tls(&mut self, c: (IpAddr, u16), s: (IpAddr, u16), sni: &str) {
        let seed = self.rng.random::<u8>();
        self.tcp(
            c,
            s,
            &[
                (true, client_hello(sni, "h2", seed)),
                (false, server_hello(1200, seed)),
                (true, tls_data(300, seed)),
                (false, tls_data(2000, seed)),
            ],
        );
    }

    /// A clear-text conversation where the server speaks first.
    fn banner(&mut self, c: (IpAddr, u16), s: (IpAddr, u16), talk: &[(bool, &str)]) {
        let msgs: Vec<(bool, Vec<u8>)> = talk.iter().map(|(up, t)| (*up, lines(t))).collect();
        self.tcp(c, s, &msgs);
    }

    fn non_microsoft(&mut self) {
        let wa = v4(192, 168, 50, 10);
        let sig = v4(192, 168, 50, 11);
        let zoom = v4(192, 168, 50, 12);
        let meet = v4(192, 168, 50, 13);
        let p2p = v4(192, 168, 50, 14);
        let bt = v4(192, 168, 50, 15);
        let game = v4(192, 168, 50, 16);
        let fail = v4(192, 168, 50, 17);
        let mail = v4(192, 168, 50, 21);
        let lan = v4(192, 168, 50, 20);
        let misc = v4(192, 168, 50, 40);

        // WhatsApp: STUN then SRTP to a relay on 3478, STUN on 3480, TURN
        // allocation and media to the relayed address.
        let c = self.eph(wa);
        let s = (v4(157, 240, 21, 51), 3478);
        self.stun_call(c, s, &ice_attrs("wa:1"), &[], Some(120));
        self.intent(
            "WhatsApp STUN then SRTP on 3478",
            "udp",
            c,
            s,
            want(&["srtp"], MEDIA),
        );
        let c = self.eph(wa);
        let s = (v4(31, 13, 86, 48), 3480);
        self.stun_call(c, s, &ice_attrs("wa:2"), &[], None);
        self.intent(
            "WhatsApp STUN on 3480",
            "udp",
            c,
            s,
            want(&["stun_turn"], MEDIA),
        );
        let c = self.eph(wa);
        let s = (v4(157, 240, 21, 52), 3478);
        let relayed = (v4(157, 240, 21, 53), 40_100);
        self.turn_allocate(c, s, &[], relayed);
        self.intent(
            "WhatsApp TURN allocation on 3478",
            "udp",
            c,
            s,
            want(&["stun_turn"], MEDIA),
        );
        let c = self.eph(wa);
        self.opaque_media(c, relayed);
        self.intent(
            "WhatsApp media to its relayed address: correlation gives srtp, never a service",
            "udp",
            c,
            relayed,
            want(&["srtp"], MEDIA).by("correlation"),
        );

        // Signal: TURN over TCP on 3478, STUN on 3479.
        let c = self.eph(sig);
        let s = (v4(13, 248, 212, 111), 3478);
        let tid = self.rng.random::<u8>();
        let alloc = stun(0x0003, tid, &[(0x0019, vec![17, 0, 0, 0])]);
        let err = stun(
            0x0113,
            tid,
            &[
                (0x0009, vec![0, 0, 4, 1]),
                (0x0014, b"signal.org".to_vec()),
                (0x0015, b"6c2a1b9f0e3d4c5b".to_vec()),
            ],
        );
        self.tcp(c, s, &[(true, alloc), (false, err)]);
        self.intent(
            "Signal TURN over TCP on 3478",
            "tcp",
            c,
            s,
            want(&["stun_turn"], MEDIA),
        );
        let c = self.eph(sig);
        let s = (v4(13, 248, 212, 112), 3479);
        self.stun_call(c, s, &ice_attrs("sg:1"), &[], None);
        self.intent(
            "Signal STUN on 3479",
            "udp",
            c,
            s,
            want(&["stun_turn"], MEDIA),
        );

        // Zoom: STUN on 3478, proprietary media on 8801.
        let c = self.eph(zoom);
        let s = (v4(170, 114, 10, 21), 3478);
        self.stun_call(c, s, &[(0x8022, b"Zoom".to_vec())], &[], None);
        self.intent(
            "Zoom STUN on 3478",
            "udp",
            c,
            s,
            want(&["stun_turn"], MEDIA),
        );
        let c = self.eph(zoom);
        let s = (v4(170, 114, 10, 20), 8801);
        let msgs: Vec<(bool, Vec<u8>)> = (0..40u16)
            .map(|i| (i % 2 == 0, opaque(0x05, i, 150)))
            .collect();
        self.udp(c, s, &msgs);
        self.intent(
            "Zoom media on 8801 from a client port in 50000-59999",
            "udp",
            c,
            s,
            want(&["other"], OTHER),
        );

        // Google Meet: STUN with Google's attribute, then SRTP, on 19305;
        // STUN to a TURN server on 3478.
        let c = self.eph(meet);
        let s = (v4(142, 250, 82, 99), 19_305);
        let mut attrs = ice_attrs("gm:1");
        attrs.insert(1, (0xc057, vec![0, 1, 0, 0x0a]));
        self.stun_call(c, s, &attrs, &[], Some(111));
        self.intent(
            "Google Meet STUN then SRTP on 19305",
            "udp",
            c,
            s,
            want(&["srtp"], MEDIA),
        );
        let c = self.eph(meet);
        let s = (v4(74, 125, 247, 128), 3478);
        self.stun_call(c, s, &ice_attrs("gm:2"), &[], None);
        self.intent(
            "Google Meet STUN on 3478",
            "udp",
            c,
            s,
            want(&["stun_turn"], MEDIA),
        );
        let c = self.eph(meet);
        let s = (v4(142, 250, 82, 100), 443);
        self.tls(c, s, "meet.google.com");
        self.intent("Google Meet web on 443", "tcp", c, s, want(&["https"], WEB));

        // Peer-to-peer SRTP between two high ports, the client on 50010
        // (inside Teams' recommended client range).
        let c = self.client(p2p, 50_010, 50_011);
        let s = (v4(93, 57, 123, 227), 51_234);
        let (a, b) = (self.rng.random::<u32>(), self.rng.random::<u32>());
        let msgs: Vec<(bool, Vec<u8>)> = (0..16u16)
            .flat_map(|i| {
                [
                    (true, rtp(120, i, u32::from(i) * 960, a, 80)),
                    (false, rtp(120, 500 + i, u32::from(i) * 960, b, 80)),
                ]
            })
            .collect();
        self.udp(c, s, &msgs);
        self.intent(
            "peer-to-peer SRTP between high ports, client on 50010",
            "udp",
            c,
            s,
            want(&["rtp", "srtp"], MEDIA),
        );

        // BitTorrent: DHT to a peer on 53137, uTP and the peer wire on
        // 50000-59999.
        let c = self.client(bt, 6881, 6882);
        let s = (v4(82, 57, 97, 83), 53_137);
        let id: String = "abcdefghij0123456789".to_string();
        self.udp(
            c,
            s,
            &[
                (
                    true,
                    format!("d1:ad2:id20:{id}e1:q4:ping1:t2:aa1:y1:qe").into_bytes(),
                ),
                (
                    false,
                    format!("d1:rd2:id20:{id}e1:t2:aa1:y1:re").into_bytes(),
                ),
            ],
        );
        self.intent(
            "BitTorrent DHT ping to a peer on 53137",
            "udp",
            c,
            s,
            want(&["other"], OTHER),
        );
        let c = self.eph(bt);
        let s = (v4(151, 72, 255, 163), 59_928);
        let utp = |ty: u8, seq: u16, data: &[u8]| {
            let mut v = vec![ty << 4 | 1, 0, 0x3a, 0x7c, 0x11, 0x22, 0x33, 0x44];
            v.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]);
            v.extend_from_slice(&seq.to_be_bytes());
            v.extend_from_slice(&[0, 1]);
            v.extend_from_slice(data);
            v
        };
        let mut hs = vec![19];
        hs.extend_from_slice(b"BitTorrent protocol");
        hs.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 5]);
        hs.extend_from_slice(&[0x5a; 20]);
        hs.extend_from_slice(b"-qB4650-0123456789ab");
        let mut msgs = vec![(true, utp(4, 1, &[])), (false, utp(2, 1, &[]))];
        for i in 0..6u16 {
            msgs.push((true, utp(0, 2 + i, &hs)));
            msgs.push((false, utp(2, 2 + i, &[])));
        }
        self.udp(c, s, &msgs);
        self.intent(
            "BitTorrent uTP on 50000-59999",
            "udp",
            c,
            s,
            want(&["other"], OTHER),
        );
        let c = self.eph(bt);
        let s = (v4(198, 100, 146, 9), self.rng.random_range(50_000..60_000));
        self.tcp(
            c,
            s,
            &[
                (true, hs.clone()),
                (false, hs.clone()),
                (true, vec![0, 0, 0, 5, 5, 0xff, 0xff, 0xff, 0xf0]),
            ],
        );
        self.intent(
            "BitTorrent peer wire, both ports in 50000-59999",
            "tcp",
            c,
            s,
            want(&["other"], OTHER),
        );

        // A game on 50000-59999 at both ends.
        let c = self.eph(game);
        let s = (v4(35, 198, 10, 20), 55_020);
        let msgs: Vec<(bool, Vec<u8>)> = (0..60u16)
            .map(|i| (i % 2 == 0, opaque(0xfe, i, 60 + usize::from(i % 40))))
            .collect();
        self.udp(c, s, &msgs);
        self.intent(
            "game UDP, both ports in 50000-59999",
            "udp",
            c,
            s,
            want(&["other"], OTHER),
        );

        // Failed connections: no payload at all.
        let c = self.eph(fail);
        let s = (v4(198, 51, 100, 20), 55_555);
        self.tcp_failed(c, s, 3, None);
        self.intent(
            "TCP SYN only, high ports",
            "tcp",
            c,
            s,
            want(&["unknown"], OTHER).by("none"),
        );
        let c = self.eph(fail);
        let s = (v4(198, 51, 100, 21), 50_000);
        self.tcp_failed(c, s, 1, Some(RST));
        self.intent(
            "TCP SYN -> RST on 50000",
            "tcp",
            c,
            s,
            want(&["unknown"], OTHER).by("none"),
        );
        let c = self.eph(fail);
        let s = (v4(198, 51, 100, 22), 443);
        self.tcp_failed(c, s, 1, Some(RST));
        self.intent(
            "TCP SYN -> RST on 443",
            "tcp",
            c,
            s,
            want(&["https"], OTHER).by("port"),
        );
        let c = self.eph(fail);
        let s = (v4(198, 51, 100, 23), 25);
        self.tcp_failed(c, s, 1, Some(SYN));
        self.intent(
            "TCP SYN, SYN/ACK, RST on 25 (no payload)",
            "tcp",
            c,
            s,
            want(&["smtp"], OTHER).by("port"),
        );

        // Mail that is not Exchange: Gmail and self-hosted servers.
        let c = self.eph(mail);
        let s = (v4(142, 250, 102, 108), 993);
        self.tls(c, s, "imap.gmail.com");
        self.intent("Gmail IMAPS", "tcp", c, s, want(&["imap"], MAIL));
        let c = self.eph(mail);
        let s = (v4(142, 250, 102, 109), 587);
        self.banner(
            c,
            s,
            &[
                (false, "220 smtp.gmail.com ESMTP a640c23a62f3a-a9a3f1 - gsmtp\n"),
                (true, "EHLO laptop.example.org\n"),
                (
                    false,
                    "250-smtp.gmail.com at your service, [203.0.113.7]\n250-SIZE 35882577\n250-STARTTLS\n250 SMTPUTF8\n",
                ),
                (true, "STARTTLS\n"),
                (false, "220 2.0.0 Ready to start TLS\n"),
            ],
        );
        self.intent(
            "Gmail SMTP submission with STARTTLS",
            "tcp",
            c,
            s,
            want(&["smtp"], MAIL),
        );
        let c = self.eph(mail);
        let s = (v4(142, 250, 102, 26), 25);
        self.banner(
            c,
            s,
            &[
                (
                    false,
                    "220 mx.google.com ESMTP 5b1f17b1804b1-4311 - gsmtp\n",
                ),
                (true, "EHLO mail.example.org\n"),
                (false, "250-mx.google.com at your service\n250 STARTTLS\n"),
                (true, "QUIT\n"),
                (false, "221 2.0.0 closing connection\n"),
            ],
        );
        self.intent("Gmail MX on 25", "tcp", c, s, want(&["smtp"], MAIL));
        let c = self.eph(mail);
        let s = (v4(142, 250, 102, 110), 995);
        self.tls(c, s, "pop.gmail.com");
        self.intent("Gmail POP3S", "tcp", c, s, want(&["pop3"], MAIL));
        let c = self.eph(mail);
        let s = (v4(198, 51, 100, 25), 25);
        self.banner(
            c,
            s,
            &[
                (false, "220 mail.example.org ESMTP Postfix (Debian/GNU)\n"),
                (true, "EHLO client.example.net\n"),
                (false, "250-mail.example.org\n250 STARTTLS\n"),
                (true, "QUIT\n"),
                (false, "221 2.0.0 Bye\n"),
            ],
        );
        self.intent("Postfix SMTP on 25", "tcp", c, s, want(&["smtp"], MAIL));
        let c = self.eph(mail);
        let s = (v4(198, 51, 100, 27), 465);
        self.tls(c, s, "mail.example.net");
        self.intent("Exim SMTPS on 465", "tcp", c, s, want(&["smtp"], MAIL));
        let c = self.eph(mail);
        let s = (v4(198, 51, 100, 26), 143);
        self.banner(
            c,
            s,
            &[
                (
                    false,
                    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\n",
                ),
                (true, "a1 CAPABILITY\n"),
                (
                    false,
                    "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\na1 OK Pre-login capabilities listed, post-login capabilities have more.\n",
                ),
                (true, "a2 LOGOUT\n"),
                (false, "* BYE Logging out\na2 OK Logout completed.\n"),
            ],
        );
        self.intent("Dovecot IMAP on 143", "tcp", c, s, want(&["imap"], MAIL));

        // SIP phones and a non-Microsoft PBX.
        let pbx = (v4(198, 51, 100, 40), 5060);
        let c = (v4(192, 168, 50, 30), 5060);
        self.udp(
            c,
            pbx,
            &[
                (true, lines("REGISTER sip:pbx.example.org SIP/2.0\nVia: SIP/2.0/UDP 192.168.50.30:5060;branch=z9hG4bK1a2b3c\nFrom: <sip:201@pbx.example.org>;tag=1\nTo: <sip:201@pbx.example.org>\nCall-ID: 8d1f@192.168.50.30\nCSeq: 1 REGISTER\nContact: <sip:201@192.168.50.30:5060>\nUser-Agent: Yealink SIP-T46S 66.86.0.15\nExpires: 3600\nContent-Length: 0\n\n")),
                (false, lines("SIP/2.0 401 Unauthorized\nVia: SIP/2.0/UDP 192.168.50.30:5060;branch=z9hG4bK1a2b3c\nFrom: <sip:201@pbx.example.org>;tag=1\nTo: <sip:201@pbx.example.org>;tag=as5e1\nCall-ID: 8d1f@192.168.50.30\nCSeq: 1 REGISTER\nServer: Asterisk PBX 18.9.0\nWWW-Authenticate: Digest realm=\"asterisk\",nonce=\"4f1d\"\nContent-Length: 0\n\n")),
            ],
        );
        self.intent(
            "Yealink phone REGISTER to Asterisk on UDP 5060",
            "udp",
            c,
            pbx,
            want(&["sip"], SIGNALING),
        );
        let phone = v4(192, 168, 50, 31);
        let c = (phone, 5060);
        let sdp_c = sip_body("v=0\no=- 1 1 IN IP4 192.168.50.31\ns=-\nc=IN IP4 192.168.50.31\nt=0 0\nm=audio 11780 RTP/AVP 0 8 101\na=rtpmap:0 PCMU/8000\n");
        let sdp_s = sip_body("v=0\no=- 2 2 IN IP4 198.51.100.40\ns=-\nc=IN IP4 198.51.100.40\nt=0 0\nm=audio 14562 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n");
        let invite = format!(
            "INVITE sip:300@pbx.example.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.50.31:5060;branch=z9hG4bK77\r\nFrom: <sip:202@pbx.example.org>;tag=9\r\nTo: <sip:300@pbx.example.org>\r\nCall-ID: 71aa@192.168.50.31\r\nCSeq: 1 INVITE\r\nUser-Agent: Grandstream GXP2170 1.0.11.23\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp_c}",
            sdp_c.len()
        );
        let ok = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.50.31:5060;branch=z9hG4bK77\r\nFrom: <sip:202@pbx.example.org>;tag=9\r\nTo: <sip:300@pbx.example.org>;tag=as77\r\nCall-ID: 71aa@192.168.50.31\r\nCSeq: 1 INVITE\r\nServer: Asterisk PBX 18.9.0\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp_s}",
            sdp_s.len()
        );
        self.udp(
            c,
            pbx,
            &[(true, invite.into_bytes()), (false, ok.into_bytes())],
        );
        self.intent(
            "Grandstream INVITE with SDP to Asterisk",
            "udp",
            c,
            pbx,
            want(&["sip"], SIGNALING),
        );
        let c = (phone, 11_780);
        let s = (pbx.0, 14_562);
        let (a, b) = (self.rng.random::<u32>(), self.rng.random::<u32>());
        let msgs: Vec<(bool, Vec<u8>)> = (0..16u16)
            .flat_map(|i| {
                [
                    (true, rtp(0, i, u32::from(i) * 160, a, 160)),
                    (false, rtp(0, 700 + i, u32::from(i) * 160, b, 160)),
                ]
            })
            .collect();
        self.udp(c, s, &msgs);
        self.intent(
            "RTP between the phone and Asterisk",
            "udp",
            c,
            s,
            want(&["rtp"], MEDIA),
        );
        let c = self.eph(v4(192, 168, 50, 32));
        let s = (v4(198, 51, 100, 41), 5060);
        self.banner(
            c,
            s,
            &[
                (true, "REGISTER sip:fs.example.org SIP/2.0\nVia: SIP/2.0/TCP 192.168.50.32;branch=z9hG4bK5\nFrom: <sip:400@fs.example.org>;tag=2\nTo: <sip:400@fs.example.org>\nCall-ID: 55@192.168.50.32\nCSeq: 1 REGISTER\nUser-Agent: snom D785/10.1.101.11\nContent-Length: 0\n\n"),
                (false, "SIP/2.0 401 Unauthorized\nVia: SIP/2.0/TCP 192.168.50.32;branch=z9hG4bK5\nFrom: <sip:400@fs.example.org>;tag=2\nTo: <sip:400@fs.example.org>;tag=fs1\nCall-ID: 55@192.168.50.32\nCSeq: 1 REGISTER\nServer: FreeSWITCH-mod_sofia/1.10.9\nContent-Length: 0\n\n"),
            ],
        );
        self.intent(
            "snom phone REGISTER to FreeSWITCH on TCP 5060",
            "tcp",
            c,
            s,
            want(&["sip"], SIGNALING),
        );
        let c = self.eph(v4(192, 168, 50, 33));
        let s = (v4(198, 51, 100, 42), 5061);
        self.tls(c, s, "sip.easybell.de");
        self.intent(
            "SIP over TLS to a provider's sip.<domain> on 5061",
            "tcp",
            c,
            s,
            want(&["sip_tls"], SIGNALING),
        );

        // Remote desktop, VPN, LAN chatter, cameras: all from client ports
        // inside 50000-59999.
        let c = self.eph(misc);
        let s = (v4(198, 51, 100, 50), 7070);
        self.tls(c, s, "relay-1a2b3c4d.net.anydesk.com");
        self.intent("AnyDesk-like TLS on 7070", "tcp", c, s, want(&["tls"], WEB));
        let c = self.eph(misc);
        let s = (v4(198, 51, 100, 60), 51_820);
        let wg = |ty: u8, len: usize, n: u8| {
            let mut v = vec![ty, 0, 0, 0];
            v.extend((0..len - 4).map(|i| (i as u8).wrapping_mul(91).wrapping_add(n)));
            v
        };
        let mut msgs = vec![(true, wg(1, 148, 0)), (false, wg(2, 92, 1))];
        for i in 0..10u8 {
            msgs.push((true, wg(4, 128, i)));
            msgs.push((false, wg(4, 96, i)));
        }
        self.udp(c, s, &msgs);
        self.intent(
            "WireGuard on 51820",
            "udp",
            c,
            s,
            want(&["other"], OTHER_OR_INFRA),
        );
        let c = self.eph(lan);
        let s = (v4(239, 255, 255, 250), 1900);
        self.udp(
            c,
            s,
            &[(true, lines("M-SEARCH * HTTP/1.1\nHOST: 239.255.255.250:1900\nMAN: \"ssdp:discover\"\nMX: 1\nST: ssdp:all\n\n"))],
        );
        self.intent(
            "SSDP M-SEARCH from a high port",
            "udp",
            c,
            s,
            want(&["other", "http"], &["other", "infrastructure", "web"]),
        );
        let c = self.eph(lan);
        let s = (v4(192, 168, 50, 1), 5351);
        self.udp(
            c,
            s,
            &[
                (true, vec![0, 0]),
                (false, vec![0, 128, 0, 0, 0, 0, 0x1c, 0x20, 203, 0, 113, 7]),
            ],
        );
        self.intent(
            "NAT-PMP from a high port",
            "udp",
            c,
            s,
            want(&["other"], OTHER_OR_INFRA),
        );
        let c = self.eph(lan);
        let s = (v4(192, 168, 50, 2), 514);
        self.udp(
            c,
            s,
            &[(
                true,
                b"<134>Nov  3 09:00:00 fw01 kernel: DROP IN=eth0 SRC=198.51.100.9".to_vec(),
            )],
        );
        self.intent(
            "syslog from a high port to 514",
            "udp",
            c,
            s,
            want(&["other"], OTHER_OR_INFRA),
        );
        let c = self.eph(lan);
        let s = (v4(224, 0, 0, 252), 5355);
        let mut q = vec![0x4d, 0x21, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7];
        q.extend_from_slice(b"printer");
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        self.udp(c, s, &[(true, q)]);
        self.intent(
            "LLMNR query from a high port",
            "udp",
            c,
            s,
            want(&["dns", "other"], &["infrastructure", "other"]),
        );
        let c = self.client(lan, 57_621, 57_622);
        let s = (v4(192, 168, 50, 255), 57_621);
        let mut spot = b"SpotUdp0".to_vec();
        spot.extend_from_slice(&[0x80, 0, 0, 1, 0, 4, 0x48, 0x95, 0xc2, 0x03]);
        self.udp(c, s, &[(true, spot)]);
        self.intent(
            "Spotify LAN discovery on 57621",
            "udp",
            c,
            s,
            want(&["other"], OTHER_OR_INFRA),
        );
        let cam = (v4(198, 51, 100, 80), 554);
        let c = self.eph(misc);
        self.banner(
            c,
            cam,
            &[
                (true, "OPTIONS rtsp://198.51.100.80/stream1 RTSP/1.0\nCSeq: 1\nUser-Agent: LibVLC/3.0.20\n\n"),
                (false, "RTSP/1.0 200 OK\nCSeq: 1\nPublic: OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY\n\n"),
            ],
        );
        self.intent(
            "RTSP control on 554 from a high port",
            "tcp",
            c,
            cam,
            want(&["other", "http"], &["other", "web"]),
        );
        // The camera sends first: it is the initiator of this flow.
        let c = (cam.0, 6970);
        let s = self.eph(misc);
        let ssrc = self.rng.random::<u32>();
        let msgs: Vec<(bool, Vec<u8>)> = (0..20u16)
            .map(|i| (true, rtp(96, i, u32::from(i) * 3000, ssrc, 900)))
            .collect();
        self.udp(c, s, &msgs);
        self.intent(
            "RTSP camera RTP to a high client port",
            "udp",
            c,
            s,
            want(&["rtp"], MEDIA),
        );
    }

    fn microsoft(&mut self) {
        let host = v4(192, 168, 50, 60);
        let c = self.eph(host);
        let s = (v4(52, 113, 194, 132), 443);
        self.tls(c, s, "teams.microsoft.com");
        self.intent(
            "Teams web: SNI teams.microsoft.com to a Teams address",
            "tcp",
            c,
            s,
            want(&["https"], SIGNALING).service("skype_teams", "sni"),
        );
        let c = self.eph(host);
        let s = (v4(23, 50, 52, 10), 443);
        self.tls(c, s, "teams.microsoft.com");
        self.intent(
            "Teams web: SNI teams.microsoft.com to an address in no Office 365 set",
            "tcp",
            c,
            s,
            want(&["https"], SIGNALING).service("skype_teams", "sni"),
        );
        let c = self.eph(host);
        let s = (v4(40, 97, 160, 2), 443);
        self.tls(c, s, "outlook.office365.com");
        self.intent(
            "Outlook: SNI outlook.office365.com",
            "tcp",
            c,
            s,
            want(&["https"], MAIL).service("exchange", "sni"),
        );

        // STUN with MS-IMPLEMENTATION-VERSION to a Teams relay, then SRTP.
        let c = self.client(host, 50_000, 50_020);
        let s = (v4(52, 112, 10, 20), 3478);
        let ms = [(0x8070, vec![0, 0, 0, 2])];
        let mut attrs = ice_attrs("ms:1");
        attrs.insert(2, ms[0].clone());
        self.stun_call(c, s, &attrs, &ms, Some(114));
        self.intent(
            "Teams STUN with MS-IMPLEMENTATION-VERSION to a relay, then SRTP",
            "udp",
            c,
            s,
            want(&["srtp"], MEDIA).service("skype_teams", "o365"),
        );
        let c = self.client(host, 50_000, 50_020);
        let s = (v4(52, 114, 20, 30), 3479);
        let (a, b) = (self.rng.random::<u32>(), self.rng.random::<u32>());
        let msgs: Vec<(bool, Vec<u8>)> = (0..16u16)
            .flat_map(|i| {
                [
                    (true, rtp(114, i, u32::from(i) * 320, a, 70)),
                    (false, rtp(114, 300 + i, u32::from(i) * 320, b, 70)),
                ]
            })
            .collect();
        self.udp(c, s, &msgs);
        self.intent(
            "Teams media, RTP only, to a relay on 3479",
            "udp",
            c,
            s,
            want(&["rtp"], MEDIA).service("skype_teams", "o365"),
        );

        // A partner's Skype for Business Edge: in no Office 365 set, so only
        // MS-VERSION says what it is; its relayed address then names the
        // media that follows.
        let c = self.client(host, 50_020, 50_040);
        let s = (v4(198, 51, 100, 70), 3478);
        let relayed = (v4(198, 51, 100, 71), 53_000);
        self.turn_allocate(c, s, &[(0x8008, vec![0, 0, 0, 6])], relayed);
        self.intent(
            "Skype for Business TURN with MS-VERSION to a partner Edge",
            "udp",
            c,
            s,
            want(&["stun_turn"], MEDIA).service("skype_teams", "protocol"),
        );
        let c = self.client(host, 50_020, 50_040);
        self.opaque_media(c, relayed);
        self.intent(
            "media to the partner Edge's relayed address",
            "udp",
            c,
            relayed,
            want(&["srtp"], MEDIA)
                .by("correlation")
                .service("skype_teams", "correlation"),
        );

        let c = self.eph(v4(192, 168, 50, 63));
        let s = (v4(192, 168, 60, 10), 5060);
        self.banner(
            c,
            s,
            &[
                (true, "REGISTER sip:contoso.com SIP/2.0\nVia: SIP/2.0/TCP 192.168.50.63;branch=z9hG4bK9\nFrom: <sip:alice@contoso.com>;tag=3\nTo: <sip:alice@contoso.com>\nCall-ID: 9a9a\nCSeq: 1 REGISTER\nUser-Agent: UCCAPI/16.0.13328.20130 OC/16.0.13328.20292 (Skype for Business)\nContent-Length: 0\n\n"),
                (false, "SIP/2.0 401 Unauthorized\nVia: SIP/2.0/TCP 192.168.50.63;branch=z9hG4bK9\nFrom: <sip:alice@contoso.com>;tag=3\nTo: <sip:alice@contoso.com>;tag=fe1\nCall-ID: 9a9a\nCSeq: 1 REGISTER\nServer: RTC/7.0\nContent-Length: 0\n\n"),
            ],
        );
        self.intent(
            "Skype for Business client SIP (UCCAPI user agent) to an on-premises pool",
            "tcp",
            c,
            s,
            want(&["sip"], SIGNALING).service("skype_teams", "protocol"),
        );

        // Exchange Online and Exchange Online Protection, by address.
        let mail = v4(192, 168, 50, 64);
        let c = self.eph(mail);
        let s = (v4(52, 101, 8, 10), 25);
        self.banner(
            c,
            s,
            &[
                (false, "220 BN8NAM11FT066.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Tue, 3 Nov 2026 09:00:00 +0000\n"),
                (true, "EHLO mail.contoso.com\n"),
                (false, "250-BN8NAM11FT066.mail.protection.outlook.com Hello [203.0.113.7]\n250 STARTTLS\n"),
                (true, "QUIT\n"),
                (false, "221 2.0.0 Service closing transmission channel\n"),
            ],
        );
        self.intent(
            "SMTP to Exchange Online Protection on 25",
            "tcp",
            c,
            s,
            want(&["smtp"], MAIL).service("exchange", "o365"),
        );
        let c = self.eph(mail);
        let s = (v4(52, 97, 146, 2), 993);
        self.tls(c, s, "mail.contoso.com");
        self.intent(
            "IMAPS to Exchange Online under a tenant's own name",
            "tcp",
            c,
            s,
            want(&["imap"], MAIL).service("exchange", "o365"),
        );

        // On-premises Exchange: only its banners say so.
        let c = self.eph(mail);
        let s = (v4(192, 168, 60, 20), 143);
        self.banner(
            c,
            s,
            &[
                (false, "* OK The Microsoft Exchange IMAP4 service is ready.\n"),
                (true, "a1 CAPABILITY\n"),
                (false, "* CAPABILITY IMAP4 IMAP4rev1 AUTH=NTLM STARTTLS\na1 OK CAPABILITY completed.\n"),
            ],
        );
        self.intent(
            "on-premises Exchange IMAP banner",
            "tcp",
            c,
            s,
            want(&["imap"], MAIL).service("exchange", "protocol"),
        );
        let c = self.eph(mail);
        let s = (v4(192, 168, 60, 21), 25);
        self.banner(
            c,
            s,
            &[
                (false, "220 EXCH01.contoso.local Microsoft ESMTP MAIL Service ready at Tue, 3 Nov 2026 09:00:00 +0000\n"),
                (true, "EHLO scanner.contoso.local\n"),
                (false, "250-EXCH01.contoso.local Hello [192.168.50.64]\n250 STARTTLS\n"),
            ],
        );
        self.intent(
            "on-premises Exchange SMTP banner",
            "tcp",
            c,
            s,
            want(&["smtp"], MAIL).service("exchange", "protocol"),
        );

        // No payload, but the address is a Teams endpoint set's.
        let c = self.eph(host);
        let s = (v4(52, 113, 194, 133), 443);
        self.tcp_failed(c, s, 1, Some(RST));
        self.intent(
            "TCP SYN -> RST to a Teams address on 443",
            "tcp",
            c,
            s,
            want(&["https"], &["other", "signaling"])
                .by("port")
                .service("skype_teams", "o365"),
        );
    }
}

/// Writes the mixed capture to `pcap` and returns the intent of every flow.
pub fn write(pcap: &Path, seed: u64) -> Vec<Intent> {
    let mut g = Gen::new(pcap, seed);
    g.non_microsoft();
    g.microsoft();
    g.w.finish();
    g.intents
}

/// Writes a SYN scan of `targets` ports in 50000-59999 (both ends of
/// every flow in that range where possible, no payload anywhere): half
/// refused, some half-open, some unanswered; outbound from a local scanner
/// and inbound to a local host.
pub fn write_scan(pcap: &Path, seed: u64, targets: usize) -> usize {
    let mut g = Gen::new(pcap, seed);
    let mut flows = 0;
    let mut ports: Vec<u16> = vec![50_000, 50_019, 50_059, 50_060, 59_999];
    while ports.len() < targets {
        let p = g.rng.random_range(50_000..60_000);
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let scans = [
        (v4(192, 168, 50, 99), v4(198, 51, 100, 30)),
        (v4(203, 0, 113, 66), v4(192, 168, 50, 20)),
    ];
    for (scanner, target) in scans {
        let c = g.eph(scanner);
        for &p in &ports {
            let answer = match g.rng.random_range(0..10) {
                0 => None,
                1 => Some(SYN),
                _ => Some(RST),
            };
            g.tcp_failed(c, (target, p), 1, answer);
            g.now += 2_000;
            flows += 1;
        }
    }
    g.w.finish();
    flows
}

/// Writes flows to on-premises servers that only the site config can name
/// (`--onprem 10.20.0.0/24`: Skype for Business pools, Edges, Mediation),
/// and one to a server outside it.
pub fn write_onprem(pcap: &Path, seed: u64) -> Vec<Intent> {
    let mut g = Gen::new(pcap, seed);
    let host = v4(192, 168, 50, 70);
    let c = g.eph(host);
    let s = (v4(10, 20, 0, 11), 443);
    g.tls(c, s, "pool01.contoso.local");
    g.intent(
        "TLS to a configured Skype for Business pool",
        "tcp",
        c,
        s,
        want(&["https"], SIGNALING).service("skype_teams", "config"),
    );
    let c = (v4(192, 168, 50, 71), 5060);
    let s = (v4(10, 20, 0, 12), 5060);
    g.udp(
        c,
        s,
        &[(true, lines("OPTIONS sip:10.20.0.12 SIP/2.0\nVia: SIP/2.0/UDP 192.168.50.71:5060;branch=z9hG4bK3\nFrom: <sip:gw@192.168.50.71>;tag=4\nTo: <sip:10.20.0.12>\nCall-ID: 3c3c\nCSeq: 1 OPTIONS\nUser-Agent: AudioCodes-Sip-Gateway-M500/7.20A\nContent-Length: 0\n\n"))],
    );
    g.intent(
        "gateway SIP to a configured Mediation server",
        "udp",
        c,
        s,
        want(&["sip"], SIGNALING).service("skype_teams", "config"),
    );
    let c = g.eph(host);
    let s = (v4(10, 30, 0, 5), 443);
    g.tls(c, s, "intranet.contoso.local");
    g.intent(
        "TLS to a server outside the configured ranges",
        "tcp",
        c,
        s,
        want(&["https"], WEB),
    );
    g.w.finish();
    g.intents
}
