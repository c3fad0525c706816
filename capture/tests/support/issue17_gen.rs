//! Generated captures of issue 17's cases: traffic nobody tuned for.
//!
//! Each writer builds its payloads field by field (RFC 6120 stanzas, RFC
//! 3550 RTCP compounds, [MS-TURN] TCP frames, RFC 4733 events, RFC 7983
//! ICE flows) with the shared builders, and returns what pathlens should
//! say about it where the test needs more than the labels file.
#![allow(dead_code)] // each test uses a part

use crate::support::PcapWriter;
use pathlens_benches::frame::{tcp_frame, udp_frame, Eth, Tcp, ACK, PSH, SYN};
use pathlens_benches::payload::{self, client_hello, stun, PCMU_SILENCE_20MS};
use pathlens_classify::dissect::rtp;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

/// Capture time of the first packet.
pub const T0: i64 = 1_790_000_000_000_000;

/// A capture being written, with per-direction TCP sequence numbers.
pub struct Gen {
    w: PcapWriter,
    /// Time of the next packet, µs.
    pub now: i64,
    seq: HashMap<(SocketAddr, SocketAddr), u32>,
}

fn eth() -> Eth {
    Eth::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
}

/// `ip:port` as a socket address.
pub fn ep(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl Gen {
    /// An Ethernet capture at `path`.
    pub fn new(path: &Path) -> Self {
        Gen {
            w: PcapWriter::create(path, 1, 65_535),
            now: T0,
            seq: HashMap::new(),
        }
    }

    /// A UDP datagram at the current time.
    pub fn udp(&mut self, from: SocketAddr, to: SocketAddr, payload: &[u8]) {
        self.w.frame(self.now, &udp_frame(eth(), from, to, payload));
    }

    /// A TCP segment at the current time, sequence numbers following.
    pub fn tcp(&mut self, from: SocketAddr, to: SocketAddr, flags: u8, payload: &[u8]) {
        let seq = *self.seq.entry((from, to)).or_insert(1000);
        let ack = self.seq.get(&(to, from)).copied().unwrap_or(0);
        let t = Tcp {
            seq,
            ack,
            flags,
            window: 64_240,
        };
        self.w
            .frame(self.now, &tcp_frame(eth(), from, to, t, payload));
        let used = payload.len() as u32 + u32::from(flags & SYN != 0);
        self.seq.insert((from, to), seq.wrapping_add(used));
    }

    /// A TCP handshake from `c` to `s`, 1 ms a step.
    pub fn open(&mut self, c: SocketAddr, s: SocketAddr) {
        self.tcp(c, s, SYN, &[]);
        self.now += 1000;
        self.tcp(s, c, SYN | ACK, &[]);
        self.now += 1000;
        self.tcp(c, s, ACK, &[]);
        self.now += 1000;
    }

    /// Data segments, each `(from_client, payload)`, 5 ms apart.
    pub fn talk(&mut self, c: SocketAddr, s: SocketAddr, msgs: &[(bool, &[u8])]) {
        for (up, p) in msgs {
            let (a, b) = if *up { (c, s) } else { (s, c) };
            self.tcp(a, b, PSH | ACK, p);
            self.now += 5000;
        }
    }

    /// Flushes the file.
    pub fn finish(self) {
        self.w.finish();
    }
}

/// A 172-byte PCMU RTP packet.
pub fn pcmu(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    payload::rtp(0, seq, ts, ssrc, &PCMU_SILENCE_20MS)
}

/// An RTCP compound of RFC 3550 §6.1: an RR about `about` and an SDES
/// CNAME of `sender`.
pub fn rr_sdes(sender: u32, about: u32) -> Vec<u8> {
    let mut v = rtp::ReportBlock {
        ssrc: about,
        fraction_lost: 0,
        cumulative_lost: 0,
        ext_highest_seq: 500,
        jitter: 16,
        lsr: 0,
        dlsr: 0,
    }
    .receiver_report(sender);
    v.extend([0x81, 202, 0, 3]);
    v.extend(sender.to_be_bytes());
    v.extend([1, 3, b'u', b'@', b'h', 0, 0, 0]);
    v
}

/// A lone RTCP BYE from `sender` (RFC 3550 §6.6).
pub fn bye(sender: u32) -> Vec<u8> {
    let mut v = vec![0x81, 203, 0, 1];
    v.extend(sender.to_be_bytes());
    v
}

/// A DTLS 1.2 handshake record (RFC 6347 §4.1), first byte 22.
pub fn dtls_record(epoch_seq: u8, len: usize) -> Vec<u8> {
    let mut v = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, epoch_seq];
    v.extend((len as u16).to_be_bytes());
    v.extend(std::iter::repeat_n(0x42, len));
    v
}

/// An RFC 5389 Binding request (`resp`: its success response).
pub fn binding(tid: u8, resp: bool) -> Vec<u8> {
    let t = if resp { 0x0101 } else { 0x0001 };
    stun(t, &[tid; 12], &[])
}

/// An XMPP client session on 5222 captured after its stream header and its
/// STARTTLS (none of it seen): presence, an iq ping and its result, a
/// message, whitespace keep-alives, the stream close. Then a second session
/// whose capture sees only keep-alives, and one of SOAP over 5222.
pub fn xmpp_mid_stream(path: &Path) {
    let mut g = Gen::new(path);
    let (c, s) = (ep("192.168.7.10:51000"), ep("198.51.100.20:5222"));
    // Mid-stream: no handshake in the capture.
    g.talk(
        c,
        s,
        &[
            (true, b"<presence><show>away</show></presence>"),
            (true, b"<iq type='get' id='ping-1' to='im.example.org'><ping xmlns='urn:xmpp:ping'/></iq>"),
            (false, b"<iq type='result' id='ping-1' from='im.example.org'/>"),
            (true, b" "),
            (false, b"<message from='bob@im.example.org/pc' to='alice@im.example.org' type='chat' id='m1'><body>hi</body></message>"),
            (true, b"<r xmlns='urn:xmpp:sm:3'/>"),
            (false, b"<a xmlns='urn:xmpp:sm:3' h='3'/>"),
            (true, b"</stream:stream>"),
        ],
    );
    let (c2, s2) = (ep("192.168.7.10:51001"), ep("198.51.100.20:5222"));
    g.talk(c2, s2, &[(true, b" "), (true, b" "), (true, b"\n")]);
    let (c3, s3) = (ep("192.168.7.10:51002"), ep("198.51.100.21:5222"));
    g.talk(
        c3,
        s3,
        &[(true, b"<soap:Envelope xmlns:soap='http://www.w3.org/2003/05/soap-envelope'><soap:Body><m:Get xmlns:m='urn:example'/></soap:Body></soap:Envelope>")],
    );
    g.finish();
}

/// RTCP alone between two even ports (no SDP, no RTP flow below): RR and
/// SDES compounds each way every 5 s, then a lone BYE each way. Returns the
/// two SSRCs (caller side first).
pub fn rtcp_only(path: &Path) -> (u32, u32) {
    let mut g = Gen::new(path);
    let (a, b) = (ep("192.168.7.11:40000"), ep("203.0.113.5:40010"));
    let (sa, sb) = (0x0A0A_0001, 0x0B0B_0002);
    for _ in 0..4 {
        g.udp(a, b, &rr_sdes(sa, sb));
        g.now += 100_000;
        g.udp(b, a, &rr_sdes(sb, sa));
        g.now += 4_900_000;
    }
    g.udp(a, b, &bye(sa));
    g.now += 1000;
    g.udp(b, a, &bye(sb));
    g.finish();
    (sa, sb)
}

/// One MS-TURN end-to-end data frame ([MS-TURN] 2.1.4: type 3, reserved 0,
/// 16-bit length) around `body`.
pub fn ms_turn_data_frame(body: &[u8]) -> Vec<u8> {
    let mut f = vec![3, 0];
    f.extend((body.len() as u16).to_be_bytes());
    f.extend(body);
    f
}

/// MS-TURN over TCP 443: the pseudo-TLS hello (a ClientHello without SNI,
/// the server's ServerHello and ServerHelloDone in one record), then 10 s
/// of PCMU each way in data frames, 50 packets/s. The server's frames come
/// two to a segment; every fifth segment of the client ends inside a frame
/// whose rest opens the next segment (no reassembly: that frame is lost to
/// the tracker, as documented). Returns the RTP packets each side sent
/// whole in a segment (client, server).
pub fn ms_turn_tcp(path: &Path) -> (u64, u64) {
    let mut g = Gen::new(path);
    let (c, s) = (ep("192.168.7.12:50500"), ep("52.112.1.10:443"));
    g.open(c, s);
    let hello = client_hello("", "", 7);
    // ServerHello (version 3.1, random, empty session, suite 0x0004) and
    // ServerHelloDone.
    let mut body = vec![3, 1];
    body.extend([9u8; 32]);
    body.extend([0, 0, 0x04, 0]);
    let mut hs = vec![2, 0];
    hs.extend((body.len() as u16).to_be_bytes());
    hs.extend(body);
    hs.extend([0x0e, 0, 0, 0]);
    let mut shd = vec![0x16, 3, 1];
    shd.extend((hs.len() as u16).to_be_bytes());
    shd.extend(hs);
    g.talk(c, s, &[(true, &hello), (false, &shd)]);
    let (mut whole_c, mut whole_s) = (0u64, 0u64);
    let mut carry: Vec<u8> = Vec::new();
    let mut pending_s: Vec<u8> = Vec::new();
    for i in 0..500u16 {
        let ts = u32::from(i) * 160;
        let frame = ms_turn_data_frame(&pcmu(i, ts, 0xC1));
        // Client: one frame a segment; every fifth cut at 100 bytes, its
        // rest at the head of the next segment (which then holds no frame
        // start the tracker could read).
        let mut seg = std::mem::take(&mut carry);
        let starts_with_frame = seg.is_empty();
        if i % 5 == 4 {
            seg.extend(&frame[..100]);
            carry = frame[100..].to_vec();
        } else {
            seg.extend(&frame);
            if starts_with_frame {
                whole_c += 1;
            }
        }
        g.tcp(c, s, PSH | ACK, &seg);
        g.now += 10_000;
        // Server: two frames a segment.
        pending_s.extend(ms_turn_data_frame(&pcmu(1000 + i, ts, 0x5E)));
        if i % 2 == 1 {
            g.tcp(s, c, PSH | ACK, &pending_s);
            pending_s.clear();
            whole_s += 2;
        }
        g.now += 10_000;
    }
    g.finish();
    (whole_c, whole_s)
}

/// An ICE flow on one 5-tuple (RFC 7983): STUN Binding both ways, a DTLS
/// handshake, then SRTP one way only, every packet with the padding bit as
/// WebRTC's probes and padded packets have, so its last byte (the
/// authentication tag's) is no padding count. Returns the SRTP packets sent.
pub fn ice_one_way(path: &Path) -> u64 {
    let mut g = Gen::new(path);
    let (a, b) = (ep("192.168.7.13:54000"), ep("198.51.100.30:3478"));
    for t in 0..3u8 {
        g.udp(a, b, &binding(t, false));
        g.now += 2000;
        g.udp(b, a, &binding(t, true));
        g.now += 50_000;
    }
    for k in 0..4u8 {
        g.udp(a, b, &dtls_record(k, 120));
        g.now += 3000;
        g.udp(b, a, &dtls_record(k, 200));
        g.now += 20_000;
    }
    let n = 150u16;
    for i in 0..n {
        let mut p = payload::rtp(111, 7000 + i, 960 * u32::from(i), 0xABCD, &[0x33; 60]);
        p[0] |= 0x20;
        // A 10-byte HMAC-SHA1-80 tag after the encrypted payload.
        p.extend((0..10u8).map(|k| k.wrapping_mul(29).wrapping_add((i as u8).wrapping_mul(53))));
        g.udp(a, b, &p);
        g.now += 20_000;
    }
    g.finish();
    u64::from(n)
}

/// A G.711 call on one SSRC, packets exactly on time: PCMU with comfort
/// noise (PT 13) before a silence and an RFC 4733 digit (PT 101, bound in
/// the call's SDP, the event's start timestamp on every packet, the end
/// packet thrice) in the middle; the SIP INVITE binds 101. Returns the RTP
/// packets sent.
pub fn g711_with_events(path: &Path) -> u64 {
    let mut g = Gen::new(path);
    let (c, s) = (ep("192.168.7.14:50020"), ep("203.0.113.9:50030"));
    let sdp = payload::sdp_audio(
        "192.168.7.14",
        50020,
        "RTP/AVP",
        "0 13 101",
        &["0 PCMU/8000", "13 CN/8000", "101 telephone-event/8000"],
    );
    let invite = payload::sip_with_sdp(
        "INVITE sip:bob@example.com SIP/2.0",
        "192.168.7.14:5060",
        &sdp,
    );
    g.udp(
        ep("192.168.7.14:5060"),
        ep("203.0.113.9:5060"),
        invite.as_bytes(),
    );
    g.now += 100_000;
    // (payload type, timestamp, marker, extra gap before it in µs)
    let mut plan: Vec<(u8, u32, bool, i64)> = (0..200u32).map(|i| (0, 160 * i, false, 0)).collect();
    plan.push((13, 160 * 200, false, 0));
    plan.extend((211..300u32).map(|i| (0, 160 * i, i == 211, if i == 211 { 200_000 } else { 0 })));
    plan.extend((0..9).map(|k| (101, 160 * 300, k == 0, 0)));
    plan.extend((309..500u32).map(|i| (0, 160 * i, false, 0)));
    let n = plan.len() as u64;
    for (seq, (pt, ts, marker, gap)) in plan.into_iter().enumerate() {
        g.now += gap;
        let pt = if marker { pt | payload::RTP_MARKER } else { pt };
        let body: &[u8] = if pt & 0x7f == 101 {
            &[1, 0x8a, 0, 160]
        } else {
            &PCMU_SILENCE_20MS
        };
        g.udp(c, s, &payload::rtp(pt, 3000 + seq as u16, ts, 0xFA, body));
        g.now += 20_000;
    }
    g.finish();
    n
}

/// One labelled flow of the label stress capture.
pub struct Labelled {
    /// `tcp` or `udp`.
    pub transport: &'static str,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// The class pathlens must give it.
    pub app: &'static str,
    /// Why the flow is there.
    pub note: &'static str,
}

/// Protocols on ports that are not theirs, and usual ports carrying
/// something else: HTTP on 5060, SIP over TLS on 443 (by its SNI), RTP on
/// 443/UDP, DNS on 3478, STUN on 19302, XMPP on 443 (direct TLS, XEP-0368,
/// with SNI and ALPN), IMAP on 8143. Returns the labels.
pub fn label_stress(path: &Path) -> Vec<Labelled> {
    let mut g = Gen::new(path);
    let mut out = Vec::new();
    let mut label = |t, c, s, app, note| {
        out.push(Labelled {
            transport: t,
            client: c,
            server: s,
            app,
            note,
        });
    };

    let (c, s) = (ep("10.9.0.2:41000"), ep("198.51.100.40:5060"));
    g.open(c, s);
    g.talk(
        c,
        s,
        &[
            (
                true,
                b"GET /status HTTP/1.1\r\nHost: pbx.example.net:5060\r\nUser-Agent: curl/8\r\n\r\n",
            ),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ],
    );
    label("tcp", c, s, "http", "HTTP on the SIP port");

    let (c, s) = (ep("10.9.0.2:41001"), ep("52.112.2.20:443"));
    g.open(c, s);
    let hello = client_hello("sipdir.online.lync.com", "", 3);
    g.talk(
        c,
        s,
        &[(true, &hello), (false, &payload::server_hello(90, 3))],
    );
    g.talk(
        c,
        s,
        &[
            (true, &payload::tls_data(300, 1)),
            (false, &payload::tls_data(500, 2)),
        ],
    );
    label("tcp", c, s, "sip_tls", "SIP over TLS on 443, by its SNI");

    let (c, s) = (ep("10.9.0.2:41002"), ep("198.51.100.41:443"));
    for i in 0..30u16 {
        g.udp(c, s, &pcmu(i, u32::from(i) * 160, 0x443));
        g.now += 20_000;
    }
    label("udp", c, s, "rtp", "RTP on 443/UDP");

    let (c, s) = (ep("10.9.0.2:41003"), ep("198.51.100.42:3478"));
    let q = payload::dns_message(0x0102, "www.example.org", 1, 0, &[]);
    let r = payload::dns_message(0x0102, "www.example.org", 1, 300, &[&[192, 0, 2, 7]]);
    g.udp(c, s, &q);
    g.now += 3000;
    g.udp(s, c, &r);
    label("udp", c, s, "dns", "DNS on the STUN port");

    let (c, s) = (ep("10.9.0.2:41004"), ep("198.51.100.43:19302"));
    g.udp(c, s, &binding(9, false));
    g.now += 30_000;
    g.udp(s, c, &binding(9, true));
    label("udp", c, s, "stun_turn", "STUN on Google's 19302");

    let (c, s) = (ep("10.9.0.2:41005"), ep("198.51.100.44:443"));
    g.open(c, s);
    let hello = client_hello("im.example.org", "xmpp-client", 5);
    g.talk(
        c,
        s,
        &[(true, &hello), (false, &payload::server_hello(90, 5))],
    );
    g.talk(c, s, &[(true, &payload::tls_data(120, 3))]);
    label(
        "tcp",
        c,
        s,
        "xmpp",
        "XMPP direct TLS on 443 (XEP-0368), SNI and ALPN xmpp-client",
    );

    let (c, s) = (ep("10.9.0.2:41006"), ep("198.51.100.45:8143"));
    g.open(c, s);
    g.talk(
        c,
        s,
        &[
            (
                false,
                b"* OK [CAPABILITY IMAP4rev1 STARTTLS] imap.example.org ready\r\n",
            ),
            (true, b"a1 CAPABILITY\r\n"),
            (false, b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"),
        ],
    );
    label("tcp", c, s, "imap", "IMAP on 8143");
    g.finish();
    out
}

/// A TURN Send indication (`send`, client to relay) or Data indication
/// (relay to client) relaying `data` to or from 203.0.113.77:40000 (RFC 8656
/// §11): XOR-PEER-ADDRESS, then DATA padded to a multiple of 4.
pub fn turn_indication(send: bool, tid: u8, data: &[u8]) -> Vec<u8> {
    let mut attrs = payload::xor_mapped_v4([203, 0, 113, 77], 40_000).to_vec();
    attrs[1] = 0x12; // XOR-PEER-ADDRESS has XOR-MAPPED-ADDRESS's layout
    attrs.extend([0x00, 0x13]);
    attrs.extend((data.len() as u16).to_be_bytes());
    attrs.extend(data);
    attrs.resize(attrs.len().div_ceil(4) * 4, 0);
    stun(if send { 0x0016 } else { 0x0017 }, &[tid; 12], &attrs)
}

/// A ChannelData message on channel 0x4001 padded to 4 bytes, as TCP
/// requires (RFC 8656 §12.5).
pub fn channel_data_padded(data: &[u8]) -> Vec<u8> {
    let mut m = vec![0x40, 0x01];
    m.extend((data.len() as u16).to_be_bytes());
    m.extend(data);
    m.resize(m.len().div_ceil(4) * 4, 0);
    m
}

/// What [`turn_relays`] sent: RTP packets relayed whole, per flow and side,
/// and the client's packets over TCP cut across two segments.
#[derive(Debug)]
pub struct TurnSent {
    /// UDP: (client to relay, relay to client).
    pub udp: (u64, u64),
    /// TCP: (client to relay, relay to client), whole in a segment.
    pub tcp: (u64, u64),
    /// Client packets over TCP whose message two segments carry.
    pub tcp_cut: u64,
}

/// SSRCs of [`turn_relays`]: UDP client and relay side, TCP client and relay side.
pub const TURN_SSRCS: [u32; 4] = [0xC2, 0x5F, 0xC3, 0x60];

/// Two TURN relay flows to 198.51.100.40:3478, one over UDP, one over TCP:
/// an Allocate request and its success response, then 5 s of G.711 each
/// way, the client's packets in Send indications, the relay's in Data
/// indications (every fifth in ChannelData on a bound channel). The relay's
/// RTP has 157 bytes of payload, so its DATA carries 3 bytes of padding.
/// A Refresh transaction every second relays nothing. Over TCP the relay
/// packs two messages to a segment, and every tenth client message is cut
/// across two segments (no reassembly: lost to the tracker).
pub fn turn_relays(path: &Path) -> TurnSent {
    let mut g = Gen::new(path);
    let s = ep("198.51.100.40:3478");
    let (cu, ct) = (ep("192.168.7.15:50600"), ep("192.168.7.15:50601"));
    let allocate = stun(0x0003, &[1; 12], &[0, 0x19, 0, 4, 17, 0, 0, 0]);
    let allocated = stun(0x0103, &[1; 12], &[]);
    let refresh = (stun(0x0004, &[2; 12], &[]), stun(0x0104, &[2; 12], &[]));
    g.udp(cu, s, &allocate);
    g.now += 2000;
    g.udp(s, cu, &allocated);
    g.open(ct, s);
    g.talk(ct, s, &[(true, &allocate), (false, &allocated)]);
    let mut sent = TurnSent {
        udp: (0, 0),
        tcp: (0, 0),
        tcp_cut: 0,
    };
    let mut pending = Vec::new();
    for i in 0..250u16 {
        let ts = u32::from(i) * 160;
        let [uc, us, tc, ts_] = TURN_SSRCS;
        let relay_rtp = |ssrc| payload::rtp(0, 2000 + i, ts, ssrc, &PCMU_SILENCE_20MS[..157]);
        let from_relay = |ssrc| {
            if i % 5 == 0 {
                channel_data_padded(&relay_rtp(ssrc))
            } else {
                turn_indication(false, i as u8, &relay_rtp(ssrc))
            }
        };
        if i % 50 == 25 {
            g.udp(cu, s, &refresh.0);
            g.udp(s, cu, &refresh.1);
            g.talk(ct, s, &[(true, &refresh.0), (false, &refresh.1)]);
        }
        g.udp(cu, s, &turn_indication(true, i as u8, &pcmu(i, ts, uc)));
        sent.udp.0 += 1;
        let msg = turn_indication(true, i as u8, &pcmu(i, ts, tc));
        if i % 10 == 5 {
            g.tcp(ct, s, PSH | ACK, &msg[..60]);
            g.tcp(ct, s, PSH | ACK, &msg[60..]);
            sent.tcp_cut += 1;
        } else {
            g.tcp(ct, s, PSH | ACK, &msg);
            sent.tcp.0 += 1;
        }
        g.now += 10_000;
        g.udp(s, cu, &from_relay(us));
        sent.udp.1 += 1;
        pending.extend(from_relay(ts_));
        if i % 2 == 1 {
            g.tcp(s, ct, PSH | ACK, &std::mem::take(&mut pending));
            sent.tcp.1 += 2;
        }
        g.now += 10_000;
    }
    g.finish();
    sent
}
