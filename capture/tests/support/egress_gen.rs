//! A seeded generator of a site behind two edge routers (ExpressRoute and
//! Internet), with the Office 365 list and site config it is read with.
//!
//! Each flow is written with the answer pathlens should give for it: which
//! egress, which Office 365 set, whether its two directions crossed
//! different edges, what the call-flow table expects and whether the path
//! conforms. The intent comes from how the flow was built (which set the
//! address was drawn from, which MAC each direction was sent through), not
//! from pathlens. Payloads are built field by field.

use super::PcapWriter;
use pathlens_benches::frame::{tcp_frame, udp_frame, Eth, Tcp, ACK, SYN};
use pathlens_benches::payload::{rtp, PCMU_SILENCE_20MS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The ExpressRoute router's MAC.
pub const ER_MAC: [u8; 6] = [0x02, 0xe0, 0, 0, 0, 0x01];
/// The Internet firewall's MAC.
pub const INET_MAC: [u8; 6] = [0x02, 0x11, 0, 0, 0, 0x01];

/// Office 365 endpoint sets of the fixture. Skype and Common are let
/// through the route filter (see [`SITE_TOML`]); Exchange set 1 is
/// ExpressRoute-capable but filtered out; set 9 is not ExpressRoute-capable.
pub const O365_JSON: &str = r#"[
 {"id": 11, "serviceArea": "Skype", "serviceAreaDisplayName": "Microsoft Teams",
  "ips": ["52.112.0.0/14", "2603:1063::/38"], "udpPorts": "3478,3479,3480,3481",
  "expressRoute": true, "category": "Optimize", "required": true},
 {"id": 1, "serviceArea": "Exchange", "serviceAreaDisplayName": "Exchange Online",
  "ips": ["40.96.0.0/13", "2603:1006::/40"], "tcpPorts": "80,443",
  "expressRoute": true, "category": "Optimize", "required": true},
 {"id": 9, "serviceArea": "Exchange", "serviceAreaDisplayName": "Exchange Online",
  "ips": ["104.47.0.0/17", "2a01:111:f400::/48"], "tcpPorts": "25",
  "expressRoute": false, "category": "Allow", "required": true},
 {"id": 46, "serviceArea": "Common", "ips": ["20.190.128.0/18"], "tcpPorts": "443",
  "expressRoute": true, "category": "Allow", "required": true}
]"#;

/// The site config the capture is read with (`o365.json` beside it).
pub const SITE_TOML: &str = r#"
deployment = "hybrid"
onprem_servers = ["10.20.0.0/24", "fd00:20::/64"]

[sources]
o365 = "o365.json"

[expressroute]
o365 = ["Skype", "Common"]

[[edge]]
name = "er-rtr"
path = "expressroute"
macs = ["02:e0:00:00:00:01"]

[[edge]]
name = "inet-fw"
path = "internet"
macs = ["02:11:00:00:00:01"]
"#;

/// What pathlens should say about one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// Why this flow exists.
    pub what: &'static str,
    /// Initiator and responder.
    pub src: (IpAddr, u16),
    /// Responder.
    pub dst: (IpAddr, u16),
    /// `egress`.
    pub egress: &'static str,
    /// `o365_endpoint_id`.
    pub o365_id: Option<i32>,
    /// `asymmetric`.
    pub asymmetric: Option<bool>,
    /// `expected_path`.
    pub expected: Option<&'static str>,
    /// `path_conformant`.
    pub conformant: Option<bool>,
}

#[derive(Clone, Copy)]
enum Via {
    /// Host MACs only: no edge.
    Lan,
    /// Both directions through this edge.
    Both([u8; 6]),
    /// Out through the first, back through the second.
    Split([u8; 6], [u8; 6]),
    /// Out through this edge; the reply is never seen (a one-way flow).
    OutOnly([u8; 6]),
}

#[derive(Clone, Copy)]
enum Kind {
    /// RTP both ways, UDP to 3478 (or client to client).
    Media,
    /// A TCP handshake to 5061 (SIP over TLS by port).
    Signaling,
    /// A TCP handshake to 443 (HTTPS by port: no call-flow expectation).
    Web,
}

fn mac_of(ip: IpAddr) -> [u8; 6] {
    let o = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets()[12..].to_vec(),
    };
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
        let host_bits = 32 - bits;
        let r: u32 = self.rng.random_range(1..(1u32 << host_bits) - 1);
        IpAddr::V4(Ipv4Addr::from(u32::from_be_bytes(base) | r))
    }

    fn v6_in(&mut self, base: Ipv6Addr) -> IpAddr {
        // Random low 64 bits: every prefix used here is /64 or shorter.
        let r: u64 = self.rng.random_range(1..u64::MAX);
        IpAddr::V6(Ipv6Addr::from(u128::from(base) | u128::from(r)))
    }

    fn port(&mut self) -> u16 {
        self.rng.random_range(50_000..60_000)
    }

    fn frame(
        &mut self,
        s: (IpAddr, u16),
        d: (IpAddr, u16),
        smac: [u8; 6],
        dmac: [u8; 6],
        tcp: Option<(bool, bool, u32)>,
        payload: &[u8],
    ) {
        let eth = Eth::new(smac, dmac);
        let frame = match tcp {
            None => udp_frame(eth, s, d, payload),
            Some((syn, ack, seq)) => {
                let flags = if syn { SYN } else { 0 } | if ack { ACK } else { 0 };
                let tcp = Tcp {
                    seq,
                    ack: 1,
                    flags,
                    window: 64_000,
                };
                tcp_frame(eth, s, d, tcp, payload)
            }
        };
        self.now += 1_000;
        self.w.frame(self.now, &frame);
    }

    /// Writes one flow from a local `client` to `server`, through `via`.
    fn flow(
        &mut self,
        what: &'static str,
        kind: Kind,
        client: IpAddr,
        server: IpAddr,
        via: Via,
        intent: (
            &'static str,
            Option<i32>,
            Option<bool>,
            Option<&'static str>,
            Option<bool>,
        ),
    ) {
        let cport = self.port();
        let sport = match kind {
            Kind::Media if matches!(via, Via::Lan) => self.port(),
            Kind::Media => 3478,
            Kind::Signaling => 5061,
            Kind::Web => 443,
        };
        let c = (client, cport);
        let s = (server, sport);
        let (out_dmac, in_smac) = match via {
            Via::Lan => (mac_of(server), mac_of(server)),
            Via::Both(m) => (m, m),
            Via::Split(a, b) => (a, b),
            Via::OutOnly(m) => (m, m),
        };
        let replies = !matches!(via, Via::OutOnly(_));
        let cmac = mac_of(client);
        match kind {
            Kind::Media => {
                let (ss_c, ss_s) = (self.rng.random::<u32>(), self.rng.random::<u32>());
                for i in 0..12u16 {
                    self.frame(
                        c,
                        s,
                        cmac,
                        out_dmac,
                        None,
                        &rtp(0, 1000 + i, u32::from(i) * 160, ss_c, &PCMU_SILENCE_20MS),
                    );
                    self.frame(
                        s,
                        c,
                        in_smac,
                        cmac,
                        None,
                        &rtp(0, 7000 + i, u32::from(i) * 160, ss_s, &PCMU_SILENCE_20MS),
                    );
                }
            }
            Kind::Signaling | Kind::Web => {
                self.frame(c, s, cmac, out_dmac, Some((true, false, 1)), &[]);
                if replies {
                    self.frame(s, c, in_smac, cmac, Some((true, true, 9)), &[]);
                    self.frame(c, s, cmac, out_dmac, Some((false, true, 2)), &[]);
                } else {
                    // SYN retransmissions, as when a firewall drops the reply.
                    self.frame(c, s, cmac, out_dmac, Some((true, false, 1)), &[]);
                }
            }
        }
        self.now += 10_000;
        let (egress, o365_id, asymmetric, expected, conformant) = intent;
        self.intents.push(Intent {
            what,
            src: c,
            dst: s,
            egress,
            o365_id,
            asymmetric,
            expected,
            conformant,
        });
    }
}

/// Writes the capture to `pcap` and returns the intent of every flow.
pub fn write(pcap: &Path, seed: u64) -> Vec<Intent> {
    let mut g = Gen {
        w: PcapWriter::create(pcap, 1, 65_535),
        rng: StdRng::seed_from_u64(seed),
        now: 1_793_700_000_000_000,
        intents: Vec::new(),
    };
    let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    let rounds = g.rng.random_range(2..4);
    for _ in 0..rounds {
        let c4 = g.v4_in([10, 1, 0, 0], 16);
        let c4b = g.v4_in([10, 1, 0, 0], 16);
        let c6 = g.v6_in(v6("fd00:1::"));
        let c6b = g.v6_in(v6("fd00:1::"));
        let teams4 = g.v4_in([52, 112, 0, 0], 14);
        let teams6 = g.v6_in(v6("2603:1063:1::"));
        let exo4 = g.v4_in([40, 96, 0, 0], 13);
        let exo6 = g.v6_in(v6("2603:1006:0:1::"));
        let eop4 = g.v4_in([104, 47, 0, 0], 17);
        let eop6 = g.v6_in(v6("2a01:111:f400:1::"));
        let common4 = g.v4_in([20, 190, 128, 0], 18);
        let pub4 = g.v4_in([93, 184, 216, 0], 24);
        let pub6 = g.v6_in(v6("2a02:26f0:1::"));
        let pool4 = g.v4_in([10, 20, 0, 0], 24);
        let pool6 = g.v6_in(v6("fd00:20::"));
        let er = Via::Both(ER_MAC);
        let inet = Via::Both(INET_MAC);
        let asym = Via::Split(ER_MAC, INET_MAC);
        let er_e = "expressroute";
        let inet_e = "internet";
        use Kind::*;
        // ExpressRoute-advertised Office 365 (Skype set 11, Common set 46).
        g.flow(
            "teams media over ER",
            Media,
            c4,
            teams4,
            er,
            (er_e, Some(11), Some(false), Some(er_e), Some(true)),
        );
        g.flow(
            "teams media over ER v6",
            Media,
            c6,
            teams6,
            er,
            (er_e, Some(11), Some(false), Some(er_e), Some(true)),
        );
        g.flow(
            "teams signaling over ER",
            Signaling,
            c4,
            teams4,
            er,
            (er_e, Some(11), Some(false), Some(er_e), Some(true)),
        );
        g.flow(
            "common web over ER",
            Web,
            c4,
            common4,
            er,
            (er_e, Some(46), Some(false), None, None),
        );
        // Reply through the other edge.
        g.flow(
            "teams media, reply via internet",
            Media,
            c4,
            teams4,
            asym,
            (er_e, Some(11), Some(true), Some(er_e), Some(false)),
        );
        g.flow(
            "teams media v6, reply via internet",
            Media,
            c6,
            teams6,
            asym,
            (er_e, Some(11), Some(true), Some(er_e), Some(false)),
        );
        // Only the outbound half seen: asymmetry unknown, the path still judged.
        g.flow(
            "teams signaling, no reply seen",
            Signaling,
            c4,
            teams4,
            Via::OutOnly(ER_MAC),
            (er_e, Some(11), None, Some(er_e), Some(true)),
        );
        // Predicted over ER, seen on the Internet edge both ways.
        g.flow(
            "teams media on the internet edge",
            Media,
            c4,
            teams4,
            inet,
            (er_e, Some(11), Some(false), Some(er_e), Some(false)),
        );
        // Office 365, not advertised: ER-capable set filtered out, and a non-ER set.
        g.flow(
            "exchange web, filtered",
            Web,
            c4,
            exo4,
            inet,
            (inet_e, Some(1), Some(false), None, None),
        );
        g.flow(
            "exchange web v6, filtered",
            Web,
            c6,
            exo6,
            inet,
            (inet_e, Some(1), Some(false), None, None),
        );
        // The route filter keeps Exchange off the circuit, so the
        // expectation follows it: the Internet, and the flow went there.
        g.flow(
            "exchange signaling, filtered",
            Signaling,
            c4,
            exo4,
            inet,
            (inet_e, Some(1), Some(false), Some(inet_e), Some(true)),
        );
        g.flow(
            "eop signaling, not ER-capable",
            Signaling,
            c4,
            eop4,
            inet,
            (inet_e, Some(9), Some(false), Some(inet_e), Some(true)),
        );
        g.flow(
            "eop web v6, not ER-capable",
            Web,
            c6,
            eop6,
            inet,
            (inet_e, Some(9), Some(false), None, None),
        );
        // Other public addresses.
        g.flow(
            "public media",
            Media,
            c4,
            pub4,
            inet,
            (inet_e, None, Some(false), Some(inet_e), Some(true)),
        );
        g.flow(
            "public media v6",
            Media,
            c6,
            pub6,
            inet,
            (inet_e, None, Some(false), Some(inet_e), Some(true)),
        );
        g.flow(
            "public web v6, reply via ER",
            Web,
            c6,
            pub6,
            Via::Split(INET_MAC, ER_MAC),
            (inet_e, None, Some(true), None, None),
        );
        // Local only.
        g.flow(
            "p2p media inside",
            Media,
            c4,
            c4b,
            Via::Lan,
            ("local", None, None, Some("local"), Some(true)),
        );
        g.flow(
            "p2p media inside v6",
            Media,
            c6,
            c6b,
            Via::Lan,
            ("local", None, None, Some("local"), Some(true)),
        );
        g.flow(
            "signaling to the on-prem pool",
            Signaling,
            c4,
            pool4,
            Via::Lan,
            ("local", None, None, Some("local"), Some(true)),
        );
        g.flow(
            "signaling to the on-prem pool v6",
            Signaling,
            c6,
            pool6,
            Via::Lan,
            ("local", None, None, Some("local"), Some(true)),
        );
    }
    g.w.finish();
    g.intents
}
