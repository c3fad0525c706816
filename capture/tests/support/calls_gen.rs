//! A generated site of two buildings and a VPN pool, and the calls its
//! clients make, each written with the answer the calls table should give.
//!
//! HQ (10.1.0.0/24) has ExpressRoute, the Annex (10.2.0.0/24) has not, the
//! VPN pool (10.9.0.0/24) has not. Teams media goes to the relays of set 11
//! (52.112.0.0/14, ExpressRoute-capable) through the ExpressRoute router
//! from HQ and through the Internet firewall from the Annex and the VPN
//! pool. Every call has its signaling (TLS to teams.microsoft.com) and its
//! STUN checks before its media. The intent comes from how each call was
//! built, not from pathlens.

use super::egress_gen::{ER_MAC, INET_MAC};
use super::PcapWriter;
use pathlens_benches::frame::{tcp_frame, udp_frame, Eth, Tcp, ACK, PSH, SYN};
use pathlens_benches::payload::{client_hello, rtp, server_hello, stun, PCMU_SILENCE_20MS};
use std::net::IpAddr;
use std::path::Path;

/// The building file of the site.
pub const BUILDINGS_CSV: &str = "\
10.1.0.0,HQ/Floor 1,24,HQ,Contoso,Office,Sales,Paris,75008,FR,IDF,EMEA,1,1,0
10.2.0.0,Annex/Floor 1,24,ANNEX,Contoso,Office,Support,Lyon,69001,FR,ARA,EMEA,1,0,0
10.9.0.0,VPN pool,24,VPN,Contoso,Remote,,,,,,EMEA,0,0,1
";

/// The site config (`o365.json` and `buildings.csv` beside it).
pub const SITE_TOML: &str = r#"
buildings = "buildings.csv"

[sources]
o365 = "o365.json"

[expressroute]
route_filter = ["Skype", "Common"]

[[edge]]
name = "er-rtr"
path = "expressroute"
macs = ["02:e0:00:00:00:01"]

[[edge]]
name = "inet-fw"
path = "internet"
macs = ["02:11:00:00:00:01"]
"#;

/// What the calls table should say about one call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallIntent {
    /// Why this call exists.
    pub what: &'static str,
    /// The client.
    pub client: IpAddr,
    /// The local peer of a call between two local ends.
    pub peer_local: Option<IpAddr>,
    /// `building`.
    pub building: &'static str,
    /// `peer_building`.
    pub peer_building: Option<&'static str>,
    /// `vpn`.
    pub vpn: bool,
    /// `one_way_audio`.
    pub one_way: bool,
    /// `modalities`.
    pub modalities: &'static str,
    /// `quality`.
    pub quality: &'static str,
    /// `expected_path`.
    pub expected: &'static str,
    /// `path_conformant`.
    pub conformant: Option<bool>,
    /// Start, µs.
    pub start_us: i64,
}

const S: i64 = 1_000_000;
const T0: i64 = 1_795_248_000_000_000;

fn mac_of(ip: IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0xaa, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(_) => [0x02, 0xaa, 0, 0, 0, 6],
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Frames with their times; sorted and written at the end.
#[derive(Default)]
struct Gen {
    frames: Vec<(i64, Vec<u8>)>,
    next_port: u16,
    ssrc: u32,
}

/// One direction of RTP: `(from, to)`, MACs, payload type, clock step per
/// packet, packet interval, start and end, packets dropped (every `n`th).
struct Leg {
    from: (IpAddr, u16),
    to: (IpAddr, u16),
    macs: ([u8; 6], [u8; 6]),
    pt: u8,
    step: u32,
    every_us: i64,
    span_us: (i64, i64),
    drop_every: Option<u32>,
}

impl Gen {
    fn port(&mut self) -> u16 {
        self.next_port += 2;
        50_100 + self.next_port
    }

    fn rtp(&mut self, l: &Leg) {
        self.ssrc += 1;
        let ssrc = 0x1000 + self.ssrc;
        let mut t = l.span_us.0;
        let mut i: u32 = 0;
        while t < l.span_us.1 {
            if l.drop_every.is_none_or(|n| i % n != n - 1) {
                let p = rtp(
                    l.pt,
                    i as u16,
                    i.wrapping_mul(l.step),
                    ssrc,
                    &PCMU_SILENCE_20MS,
                );
                let f = udp_frame(Eth::new(l.macs.0, l.macs.1), l.from, l.to, &p);
                self.frames.push((t, f));
            }
            i += 1;
            t += l.every_us;
        }
    }

    /// Audio both ways (or one way) between a client and a relay or peer.
    #[allow(clippy::too_many_arguments)]
    fn audio(
        &mut self,
        c: (IpAddr, u16),
        r: (IpAddr, u16),
        gw: ([u8; 6], [u8; 6]),
        sent: (i64, i64),
        received: Option<(i64, i64)>,
        drop_every: Option<u32>,
    ) {
        let cm = mac_of(c.0);
        self.rtp(&Leg {
            from: c,
            to: r,
            macs: (cm, gw.0),
            pt: 0,
            step: 160,
            every_us: 20_000,
            span_us: sent,
            drop_every: None,
        });
        if let Some(span) = received {
            self.rtp(&Leg {
                from: r,
                to: c,
                macs: (gw.1, cm),
                pt: 0,
                step: 160,
                every_us: 20_000,
                span_us: span,
                drop_every,
            });
        }
    }

    /// Signaling (TLS to teams.microsoft.com) and STUN checks before a call
    /// at `t`; `answered` whether the relay answers the checks.
    fn setup(
        &mut self,
        client: IpAddr,
        relay: IpAddr,
        gw: ([u8; 6], [u8; 6]),
        t: i64,
        answered: bool,
    ) {
        let cm = mac_of(client);
        let c = (client, self.port());
        let s = (relay, 443);
        let seg = |seq: u32, flags: u8| Tcp {
            seq,
            ack: 1,
            flags,
            window: 64_000,
        };
        let out = Eth::new(cm, gw.0);
        let back = Eth::new(gw.1, cm);
        self.frames
            .push((t - 3 * S, tcp_frame(out, c, s, seg(1, SYN), &[])));
        self.frames.push((
            t - 3 * S + 500,
            tcp_frame(back, s, c, seg(9, SYN | ACK), &[]),
        ));
        self.frames
            .push((t - 3 * S + 1_000, tcp_frame(out, c, s, seg(2, ACK), &[])));
        let hello = client_hello("teams.microsoft.com", "h2", 7);
        self.frames.push((
            t - 3 * S + 2_000,
            tcp_frame(out, c, s, seg(2, ACK | PSH), &hello),
        ));
        let sh = server_hello(80, 3);
        self.frames.push((
            t - 3 * S + 3_000,
            tcp_frame(back, s, c, seg(10, ACK | PSH), &sh),
        ));
        let k = (client, self.port());
        let relay_stun = (relay, 3478);
        for i in 0..4u8 {
            let tid = [i, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
            let at = t - 2 * S + i64::from(i) * 100_000;
            let req = stun(0x0001, &tid, &[]);
            self.frames.push((at, udp_frame(out, k, relay_stun, &req)));
            if answered {
                let resp = stun(0x0101, &tid, &[]);
                self.frames
                    .push((at + 20_000, udp_frame(back, relay_stun, k, &resp)));
            }
        }
    }
}

/// Writes the capture and returns the intent of every call, in start order.
pub fn write(pcap: &Path) -> Vec<CallIntent> {
    let mut g = Gen::default();
    let er = (ER_MAC, ER_MAC);
    let inet = (INET_MAC, INET_MAC);
    let mut intents = Vec::new();
    let mut slot = 0i64;
    let mut next = || {
        slot += 1;
        T0 + slot * 400 * S
    };
    let base = CallIntent {
        what: "",
        client: ip("10.1.0.10"),
        peer_local: None,
        building: "HQ",
        peer_building: None,
        vpn: false,
        one_way: false,
        modalities: "audio",
        quality: "good",
        expected: "expressroute",
        conformant: Some(true),
        start_us: 0,
    };

    // HQ, audio only, over ExpressRoute.
    let t = next();
    let (c, r) = (ip("10.1.0.10"), ip("52.112.1.1"));
    g.setup(c, r, er, t, true);
    let cp = (c, g.port());
    g.audio(
        cp,
        (r, 3479),
        er,
        (t, t + 30 * S),
        Some((t, t + 30 * S)),
        None,
    );
    intents.push(CallIntent {
        what: "HQ audio",
        start_us: t,
        ..base.clone()
    });

    // HQ, audio and video.
    let t = next();
    let c = ip("10.1.0.11");
    g.setup(c, r, er, t, true);
    let cp = (c, g.port());
    g.audio(
        cp,
        (r, 3479),
        er,
        (t, t + 30 * S),
        Some((t, t + 30 * S)),
        None,
    );
    let vp = (c, g.port());
    let cm = mac_of(c);
    for (from, to, macs) in [(vp, (r, 3480), (cm, ER_MAC)), ((r, 3480), vp, (ER_MAC, cm))] {
        g.rtp(&Leg {
            from,
            to,
            macs,
            pt: 96,
            step: 3000,
            every_us: 33_333,
            span_us: (t + S, t + 29 * S),
            drop_every: None,
        });
    }
    intents.push(CallIntent {
        what: "HQ audio+video",
        client: c,
        modalities: "audio,video",
        start_us: t,
        ..base.clone()
    });

    // Annex: media never answered (checks unanswered, RTP out only).
    let t = next();
    let (c, r) = (ip("10.2.0.10"), ip("52.112.2.2"));
    g.setup(c, r, inet, t, false);
    let cp = (c, g.port());
    g.audio(cp, (r, 3479), inet, (t, t + 20 * S), None, None);
    let annex = CallIntent {
        building: "ANNEX",
        expected: "internet",
        ..base.clone()
    };
    intents.push(CallIntent {
        what: "Annex never answered",
        client: c,
        one_way: true,
        start_us: t,
        ..annex.clone()
    });

    // Annex: the received audio stops after 10 s of a 40 s call.
    let t = next();
    let c = ip("10.2.0.11");
    g.setup(c, r, inet, t, true);
    let cp = (c, g.port());
    g.audio(
        cp,
        (r, 3479),
        inet,
        (t, t + 40 * S),
        Some((t, t + 10 * S)),
        None,
    );
    intents.push(CallIntent {
        what: "Annex one way mid-call",
        client: c,
        one_way: true,
        start_us: t,
        ..annex.clone()
    });

    // Annex: a lossy call, one received packet in 6 lost (16.7%).
    let t = next();
    let c = ip("10.2.0.12");
    g.setup(c, r, inet, t, true);
    let cp = (c, g.port());
    g.audio(
        cp,
        (r, 3479),
        inet,
        (t, t + 30 * S),
        Some((t, t + 30 * S)),
        Some(6),
    );
    intents.push(CallIntent {
        what: "Annex lossy",
        client: c,
        quality: "poor",
        start_us: t,
        ..annex.clone()
    });

    // Peer to peer between HQ and the Annex, on the LAN.
    let t = next();
    let (a, b) = (ip("10.1.0.20"), ip("10.2.0.20"));
    let (ap, bp) = ((a, g.port()), (b, g.port()));
    g.audio(
        ap,
        bp,
        (mac_of(b), mac_of(b)),
        (t, t + 30 * S),
        Some((t, t + 30 * S)),
        None,
    );
    intents.push(CallIntent {
        what: "HQ to Annex peer to peer",
        client: a,
        peer_local: Some(b),
        peer_building: Some("ANNEX"),
        expected: "local",
        start_us: t,
        ..base.clone()
    });

    // The VPN pool, over the Internet.
    let t = next();
    let (c, r) = (ip("10.9.0.5"), ip("52.112.3.3"));
    g.setup(c, r, inet, t, true);
    let cp = (c, g.port());
    g.audio(
        cp,
        (r, 3479),
        inet,
        (t, t + 30 * S),
        Some((t, t + 30 * S)),
        None,
    );
    intents.push(CallIntent {
        what: "VPN",
        client: c,
        building: "VPN",
        vpn: true,
        start_us: t,
        ..annex.clone()
    });

    // One HQ client calls twice, 3 minutes apart.
    let t = next();
    let (c, r) = (ip("10.1.0.30"), ip("52.112.1.1"));
    for (k, start) in [t, t + 200 * S].into_iter().enumerate() {
        g.setup(c, r, er, start, true);
        let cp = (c, g.port());
        g.audio(
            cp,
            (r, 3479),
            er,
            (start, start + 20 * S),
            Some((start, start + 20 * S)),
            None,
        );
        intents.push(CallIntent {
            what: if k == 0 {
                "HQ twice, first"
            } else {
                "HQ twice, second"
            },
            client: c,
            start_us: start,
            ..base.clone()
        });
    }

    g.frames.sort_by_key(|f| f.0);
    let mut w = PcapWriter::create(pcap, 1, 65_535);
    for (t, f) in &g.frames {
        w.frame(*t, f);
    }
    w.finish();
    intents
}
