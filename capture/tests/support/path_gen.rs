//! A seeded generator of a site behind two edge routers that pathlens is
//! not told about: Office 365 ExpressRoute destinations leave through the
//! ExpressRoute router, Internet destinations through the Internet router,
//! some Teams media and signaling leak through the Internet router, some
//! replies come back through the other router, some SYNs and STUN requests
//! are never answered, handshakes and STUN transactions take known times,
//! and media carries EF, AF41 or no marking.
//!
//! Each flow is written with what pathlens should find: the router each
//! direction crossed (so its learned edge), the path of the edge crossed,
//! the call-flow verdict, asymmetry, the round trips and the DSCP per
//! direction. The intent comes from how the flow was built.

use super::PcapWriter;
use pathlens_benches::frame::{set_dscp, tcp_frame, udp_frame, Eth, Tcp, ACK, SYN};
use pathlens_benches::payload::{rtp, stun, PCMU_SILENCE_20MS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// The ExpressRoute router's MAC.
pub const ER_MAC: [u8; 6] = [0x02, 0xe0, 0, 0, 0, 0x01];
/// The Internet router's MAC.
pub const INET_MAC: [u8; 6] = [0x02, 0x11, 0, 0, 0, 0x01];

/// The site config without edges: they are learned from the wire.
pub const SITE_TOML: &str = r#"
deployment = "hybrid"

[sources]
o365 = "o365.json"

[expressroute]
o365 = ["Skype", "Common"]
"#;

/// The two routers, configured: appended to [`SITE_TOML`].
pub const EDGES_TOML: &str = r#"
[[edge]]
name = "er-rtr"
path = "expressroute"
macs = ["02:e0:00:00:00:01"]

[[edge]]
name = "inet-rtr"
path = "internet"
macs = ["02:11:00:00:00:01"]
"#;

/// The path of a router.
pub fn path_of(mac: [u8; 6]) -> &'static str {
    if mac == ER_MAC {
        "expressroute"
    } else {
        "internet"
    }
}

/// The edge name pathlens learns for a router.
pub fn learned_name(mac: [u8; 6]) -> String {
    let m: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("edge-{}", m.join(":"))
}

/// The edge name of a router in [`SITE_EDGES_TOML`].
pub fn configured_name(mac: [u8; 6]) -> String {
    if mac == ER_MAC { "er-rtr" } else { "inet-rtr" }.to_string()
}

/// What pathlens should say about one flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    /// Why this flow exists.
    pub what: &'static str,
    /// Initiator.
    pub src: (IpAddr, u16),
    /// Responder.
    pub dst: (IpAddr, u16),
    /// Router of each direction (src2dst, dst2src); None when not seen.
    pub edges: [Option<[u8; 6]>; 2],
    /// `observed_egress`.
    pub observed: Option<&'static str>,
    /// `path_conformant`.
    pub conformant: Option<bool>,
    /// `asymmetric`.
    pub asymmetric: Option<bool>,
    /// `server_rtt_ms`, `client_rtt_ms`, `stun_rtt_ms`.
    pub rtt_ms: [Option<f64>; 3],
    /// `src2dst_dscp`, `dst2src_dscp`.
    pub dscp: [Option<u8>; 2],
}

#[derive(Clone, Copy)]
enum Kind {
    /// A STUN transaction then RTP both ways (Teams QoS ports: 3479 audio, 3480 video).
    Media { port: u16, out: u8, back: u8 },
    /// STUN requests never answered.
    StunOnly,
    /// A TCP handshake to 5061 (signaling by port).
    Signaling,
    /// A TCP handshake to 443 (web: no call-flow expectation).
    Web,
    /// A SYN sent twice, never answered.
    Syn,
}

fn host_mac(ip: IpAddr) -> [u8; 6] {
    let IpAddr::V4(a) = ip else {
        unreachable!("IPv4 only")
    };
    let o = a.octets();
    [0x02, 0xaa, o[0], o[1], o[2], o[3]]
}

struct Gen {
    w: PcapWriter,
    rng: StdRng,
    now: i64,
    intents: Vec<Intent>,
}

impl Gen {
    fn v4_in(&mut self, base: [u8; 4], bits: u32) -> IpAddr {
        let r: u32 = self.rng.random_range(1..(1u32 << (32 - bits)) - 1);
        IpAddr::V4(Ipv4Addr::from(u32::from_be_bytes(base) | r))
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        at: i64,
        s: (IpAddr, u16),
        d: (IpAddr, u16),
        eth: Eth,
        tcp: Option<u8>,
        dscp: u8,
        payload: &[u8],
    ) {
        let mut f = match tcp {
            None => udp_frame(eth, s, d, payload),
            Some(flags) => tcp_frame(
                eth,
                s,
                d,
                Tcp {
                    seq: 1,
                    ack: 1,
                    flags,
                    window: 64_000,
                },
                payload,
            ),
        };
        set_dscp(&mut f, dscp);
        self.w.frame(at, &f);
    }

    /// One flow from local `client` to `server`: out through `out` (None:
    /// a LAN peer), back through `back` (None: no reply seen).
    #[allow(clippy::too_many_arguments)]
    fn flow(
        &mut self,
        what: &'static str,
        kind: Kind,
        client: IpAddr,
        server: IpAddr,
        out: Option<[u8; 6]>,
        back: Option<[u8; 6]>,
        expected: Option<&'static str>,
    ) {
        let c = (client, self.rng.random_range(50_000..60_000));
        let s = (
            server,
            match kind {
                Kind::Media { port, .. } => port,
                Kind::StunOnly => 3478,
                Kind::Signaling => 5061,
                Kind::Web | Kind::Syn => 443,
            },
        );
        let cmac = host_mac(client);
        let smac = host_mac(server);
        let eth_out = Eth::new(cmac, out.unwrap_or(smac));
        let eth_back = Eth::new(back.unwrap_or(smac), cmac);
        let t0 = self.now;
        let ms = |x: i64| x * 1_000;
        let mut rtt = [None; 3];
        let mut dscp = [Some(0), back.map(|_| 0)];
        match kind {
            Kind::Media {
                out: d_out,
                back: d_back,
                ..
            } => {
                // Known delays: the STUN transaction takes 20-90 ms.
                let stun_ms = self.rng.random_range(20..90);
                let tid: [u8; 12] = self.rng.random();
                self.send(t0, c, s, eth_out, None, d_out, &stun(0x0001, &tid, &[]));
                self.send(
                    t0 + ms(stun_ms),
                    s,
                    c,
                    eth_back,
                    None,
                    d_back,
                    &stun(0x0101, &tid, &[]),
                );
                rtt[2] = Some(stun_ms as f64);
                let (ssc, sss) = (self.rng.random::<u32>(), self.rng.random::<u32>());
                for i in 0..12u16 {
                    let t = t0 + ms(100) + ms(20) * i64::from(i);
                    let ts = u32::from(i) * 160;
                    let p = rtp(0, 1000 + i, ts, ssc, &PCMU_SILENCE_20MS);
                    self.send(t, c, s, eth_out, None, d_out, &p);
                    let p = rtp(0, 7000 + i, ts, sss, &PCMU_SILENCE_20MS);
                    self.send(t + 500, s, c, eth_back, None, d_back, &p);
                }
                dscp = [Some(d_out), Some(d_back)];
            }
            Kind::StunOnly => {
                let tid: [u8; 12] = self.rng.random();
                for i in 0..3 {
                    self.send(
                        t0 + ms(500) * i,
                        c,
                        s,
                        eth_out,
                        None,
                        0,
                        &stun(0x0001, &tid, &[]),
                    );
                }
                dscp[1] = None;
            }
            Kind::Signaling | Kind::Web => {
                let server_ms = self.rng.random_range(5..120);
                let client_ms = self.rng.random_range(1..30);
                let t1 = t0 + ms(server_ms);
                let t2 = t1 + ms(client_ms);
                self.send(t0, c, s, eth_out, Some(SYN), 0, &[]);
                self.send(t1, s, c, eth_back, Some(SYN | ACK), 0, &[]);
                self.send(t2, c, s, eth_out, Some(ACK), 0, &[]);
                rtt[0] = Some(server_ms as f64);
                rtt[1] = Some(client_ms as f64);
            }
            Kind::Syn => {
                // Retransmitted once, as when a firewall drops the reply.
                self.send(t0, c, s, eth_out, Some(SYN), 0, &[]);
                self.send(t0 + ms(1000), c, s, eth_out, Some(SYN), 0, &[]);
                dscp[1] = None;
            }
        }
        self.now += ms(2_000);
        let edges = [out, back];
        let observed = match (out, back) {
            (None, None) => None,
            (o, b) => Some(path_of(o.or(b).unwrap_or(INET_MAC))),
        };
        let seen: Vec<&str> = edges.iter().flatten().map(|m| path_of(*m)).collect();
        let conformant = expected.filter(|_| !seen.is_empty()).map(|e| {
            seen.iter()
                .all(|p| e == *p || e == "internet_or_expressroute")
        });
        self.intents.push(Intent {
            what,
            src: c,
            dst: s,
            edges,
            observed,
            conformant,
            asymmetric: match (out, back) {
                (Some(a), Some(b)) => Some(a != b),
                _ => None,
            },
            rtt_ms: rtt,
            dscp,
        });
    }
}

/// Writes the capture to `pcap` and returns the intent of every flow.
pub fn write(pcap: &Path, seed: u64) -> Vec<Intent> {
    let mut g = Gen {
        w: PcapWriter::create(pcap, 1, 65_535),
        rng: StdRng::seed_from_u64(seed),
        now: 1_793_800_000_000_000,
        intents: Vec::new(),
    };
    let (er, inet) = (Some(ER_MAC), Some(INET_MAC));
    let er_e = Some("expressroute");
    let inet_e = Some("internet");
    use Kind::*;
    let audio = |back| Media {
        port: 3479,
        out: 46,
        back,
    };
    let video = |back| Media {
        port: 3480,
        out: 34,
        back,
    };
    for _ in 0..g.rng.random_range(2..4) {
        let c = g.v4_in([10, 1, 0, 0], 16);
        let teams = g.v4_in([52, 112, 0, 0], 14);
        let common = g.v4_in([20, 190, 128, 0], 18);
        let exo = g.v4_in([40, 96, 0, 0], 13);
        let public = g.v4_in([93, 184, 216, 0], 24);
        let public2 = g.v4_in([151, 101, 0, 0], 16);
        // Office 365 over ExpressRoute: DSCP kept both ways.
        g.flow("teams audio over ER", audio(46), c, teams, er, er, er_e);
        g.flow("teams video over ER", video(34), c, teams, er, er, er_e);
        g.flow("teams signaling over ER", Signaling, c, teams, er, er, er_e);
        g.flow("common web over ER", Web, c, common, er, er, None);
        g.flow("teams SYN unanswered via ER", Syn, c, teams, er, None, er_e);
        g.flow(
            "teams STUN unanswered via ER",
            StunOnly,
            c,
            teams,
            er,
            None,
            er_e,
        );
        // Replies through the other router.
        g.flow(
            "teams audio, reply via internet",
            audio(46),
            c,
            teams,
            er,
            inet,
            er_e,
        );
        g.flow("public web, reply via ER", Web, c, public, inet, er, None);
        // Teams leaking through the Internet router, re-marked to 0 on the way back.
        g.flow("teams audio leak", audio(0), c, teams, inet, inet, er_e);
        g.flow(
            "teams signaling leak",
            Signaling,
            c,
            teams,
            inet,
            inet,
            er_e,
        );
        // Internet destinations; one video sender not marking at all.
        g.flow("public web", Web, c, public, inet, inet, None);
        g.flow("public web 2", Web, c, public2, inet, inet, None);
        g.flow(
            "public video unmarked",
            Media {
                port: 3480,
                out: 0,
                back: 0,
            },
            c,
            public,
            inet,
            inet,
            inet_e,
        );
        g.flow("public signaling", Signaling, c, public2, inet, inet, None);
        g.flow(
            "exchange web, not advertised",
            Web,
            c,
            exo,
            inet,
            inet,
            None,
        );
    }
    g.w.finish();
    g.intents
}

/// A capture with no local-public pair: public to public (a transit tap)
/// and local to local flows, through the same routers.
pub fn write_no_pairs(pcap: &Path, seed: u64) -> Vec<Intent> {
    let mut g = Gen {
        w: PcapWriter::create(pcap, 1, 65_535),
        rng: StdRng::seed_from_u64(seed),
        now: 1_793_800_000_000_000,
        intents: Vec::new(),
    };
    for _ in 0..3 {
        let a = g.v4_in([93, 184, 216, 0], 24);
        let teams = g.v4_in([52, 112, 0, 0], 14);
        let b = g.v4_in([151, 101, 0, 0], 16);
        g.flow(
            "transit media",
            Kind::Media {
                port: 3479,
                out: 46,
                back: 46,
            },
            a,
            teams,
            Some(ER_MAC),
            Some(ER_MAC),
            None,
        );
        g.flow(
            "transit signaling",
            Kind::Signaling,
            b,
            teams,
            Some(INET_MAC),
            Some(INET_MAC),
            None,
        );
    }
    g.w.finish();
    // Nothing is learned: no edges, no observed path, no verdict.
    for i in &mut g.intents {
        i.edges = [None; 2];
        i.observed = None;
        i.conformant = None;
        i.asymmetric = None;
    }
    g.intents
}

/// One handshake from a local client to a public server through the
/// Internet router, its reply tagged with VLAN 200: one flow, asymmetric by
/// VLAN. Returns (client, server) as `ip port`.
pub fn write_vlan_split(pcap: &Path) -> (String, String) {
    let mut w = PcapWriter::create(pcap, 1, 65_535);
    let c: (IpAddr, u16) = ("10.1.0.9".parse().unwrap(), 50_123);
    let s: (IpAddr, u16) = ("93.184.216.34".parse().unwrap(), 443);
    let (cmac, t0) = (host_mac(c.0), 1_793_800_000_000_000);
    let out = Eth::new(cmac, INET_MAC);
    let back = Eth::new(INET_MAC, cmac).vlan(Some(200));
    let seg = |flags| Tcp {
        seq: 1,
        ack: 1,
        flags,
        window: 64_000,
    };
    w.frame(t0, &tcp_frame(out, c, s, seg(SYN), &[]));
    w.frame(t0 + 30_000, &tcp_frame(back, s, c, seg(SYN | ACK), &[]));
    w.frame(t0 + 31_000, &tcp_frame(out, c, s, seg(ACK), &[]));
    w.finish();
    (format!("{} {}", c.0, c.1), format!("{} {}", s.0, s.1))
}
