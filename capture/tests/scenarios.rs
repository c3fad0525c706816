//! The call-flow scenario tables end to end: one generated capture per
//! deployment profile (online, hybrid, cloud_connector), one whose route
//! filter advertises only some endpoint sets and one with no circuit. Each
//! flow stands for a scenario row of docs/call-flows.md §5.2 and carries the
//! `expected_path` and `path_conformant` the document's table gives (written
//! here by hand from the tables, not from the code); its `path_note` must
//! name that row. Every row of `callflow.toml`'s `scenario_rows` is
//! covered by at least one flow.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use pathlens_benches::frame::{tcp_frame, udp_frame, Eth, Tcp, ACK, SYN};
use pathlens_benches::payload::{
    client_hello, dns_message, rtp, server_hello, stun, PCMU_SILENCE_20MS,
};
use std::collections::BTreeSet;
use std::net::IpAddr;
use support::*;

const ER: [u8; 6] = [0x02, 0xe0, 0, 0, 0, 0x01];
const INET: [u8; 6] = [0x02, 0x11, 0, 0, 0, 0x01];

const EDGES: &str = r#"
[sources]
o365 = "o365.json"

[[edge]]
name = "er"
path = "expressroute"
macs = ["02:e0:00:00:00:01"]

[[edge]]
name = "inet"
path = "internet"
macs = ["02:11:00:00:00:01"]
"#;

// Addresses: Teams media relays (set 11, Skype), Exchange (set 9), a public
// address in no Office 365 set, an outside user, and on-premises servers.
const TEAMS: &str = "52.112.10.20";
const EXO: &str = "40.92.3.4";
const OTHER_CO: &str = "81.2.69.160";
const OUTSIDE_USER: &str = "81.2.70.7";
const C1: &str = "10.1.0.11";
const C2: &str = "10.1.0.12";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// STUN then RTP both ways (media).
    Media,
    /// TCP handshake then TLS hellos on 5061 (signaling), with this SNI.
    Signaling(&'static str),
    /// TLS on 443 with this SNI (web unless the name says otherwise).
    Web(&'static str),
    /// A DNS query and answer.
    Dns,
}

/// One flow and what the document's table says of it.
struct Flow {
    row: &'static str,
    kind: Kind,
    src: &'static str,
    dst: &'static str,
    /// The edge crossed (both directions); None: both ends local.
    edge: Option<[u8; 6]>,
    expected: &'static str,
    conformant: &'static str,
    /// Text path_note must contain besides the row.
    note: &'static str,
}

const fn f(
    row: &'static str,
    kind: Kind,
    src: &'static str,
    dst: &'static str,
    edge: Option<[u8; 6]>,
    expected: &'static str,
    conformant: &'static str,
) -> Flow {
    Flow {
        row,
        kind,
        src,
        dst,
        edge,
        expected,
        conformant,
        note: "",
    }
}

fn mac(ip: IpAddr) -> [u8; 6] {
    let IpAddr::V4(a) = ip else { unreachable!() };
    let o = a.octets();
    [0x02, 0xaa, o[0], o[1], o[2], o[3]]
}

fn is_local(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(a) if a.is_private())
}

/// Writes the flows; each direction's frames cross `edge` (a local sender
/// sends to it, a remote sender's frames come from it).
fn write(path: &std::path::Path, flows: &[Flow]) -> Vec<String> {
    let mut w = PcapWriter::create(path, 1, 65_535);
    let mut t = 1_793_950_000_000_000i64;
    let mut keys = Vec::new();
    for (n, fl) in flows.iter().enumerate() {
        let (a, b): (IpAddr, IpAddr) = (fl.src.parse().unwrap(), fl.dst.parse().unwrap());
        let eth = |from: IpAddr, to: IpAddr| match fl.edge {
            None => Eth::new(mac(from), mac(to)),
            Some(e) if is_local(from) => Eth::new(mac(from), e),
            Some(e) => Eth::new(e, mac(to)),
        };
        let cport = 50_000 + n as u16;
        let (sport, dport) = match fl.kind {
            Kind::Media => (cport, 3479),
            Kind::Signaling(_) => (cport, 5061),
            Kind::Web(_) => (cport, 443),
            Kind::Dns => (cport, 53),
        };
        let (c, s) = ((a, sport), (b, dport));
        let (up, down) = (eth(a, b), eth(b, a));
        match fl.kind {
            Kind::Media => {
                let tid = [n as u8; 12];
                w.frame(t, &udp_frame(up, c, s, &stun(0x0001, &tid, &[])));
                w.frame(t + 30_000, &udp_frame(down, s, c, &stun(0x0101, &tid, &[])));
                for i in 0..12u16 {
                    let at = t + 100_000 + 20_000 * i64::from(i);
                    let p = rtp(0, 100 + i, u32::from(i) * 160, 0x1111, &PCMU_SILENCE_20MS);
                    w.frame(at, &udp_frame(up, c, s, &p));
                    let p = rtp(0, 900 + i, u32::from(i) * 160, 0x2222, &PCMU_SILENCE_20MS);
                    w.frame(at + 500, &udp_frame(down, s, c, &p));
                }
            }
            Kind::Signaling(sni) | Kind::Web(sni) => {
                let seg = |flags, seq, ack| Tcp {
                    seq,
                    ack,
                    flags,
                    window: 64_000,
                };
                w.frame(t, &tcp_frame(up, c, s, seg(SYN, 1, 0), &[]));
                w.frame(
                    t + 10_000,
                    &tcp_frame(down, s, c, seg(SYN | ACK, 1, 2), &[]),
                );
                w.frame(t + 11_000, &tcp_frame(up, c, s, seg(ACK, 2, 2), &[]));
                let hello = client_hello(sni, "h2", n as u8);
                w.frame(t + 12_000, &tcp_frame(up, c, s, seg(ACK, 2, 2), &hello));
                let sh = server_hello(90, n as u8);
                w.frame(t + 30_000, &tcp_frame(down, s, c, seg(ACK, 2, 2), &sh));
            }
            Kind::Dns => {
                w.frame(
                    t,
                    &udp_frame(up, c, s, &dns_message(7, "example.org", 1, 0, &[])),
                );
                let ans = [93u8, 184, 216, 34];
                w.frame(
                    t + 8_000,
                    &udp_frame(down, s, c, &dns_message(7, "example.org", 1, 60, &[&ans])),
                );
            }
        }
        t += 2_000_000;
        keys.push(format!("{} {} {} {}", a, sport, b, dport));
    }
    keys
}

/// Runs pathlens on `flows` with the site config `site` (profile, roles,
/// circuit) plus the two edges; checks every flow; returns the rows seen.
fn check(name: &str, site: &str, flows: &[Flow]) -> BTreeSet<&'static str> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("signatures/o365-endpoints-worldwide.json"),
        dir.path().join("o365.json"),
    )
    .unwrap();
    let cfg = dir.path().join("site.toml");
    // The site has a circuit unless its config says otherwise.
    let circuit = if site.contains("expressroute") {
        ""
    } else {
        "[expressroute]\n"
    };
    std::fs::write(&cfg, format!("{site}\n{circuit}{EDGES}")).unwrap();
    let pcap = dir.path().join(format!("{name}.pcap"));
    let keys = write(&pcap, flows);
    let out = dir.path().join("out.parquet");
    read_ok(
        &[pcap.to_str().unwrap(), "--config", cfg.to_str().unwrap()],
        &out,
    );
    let b = read_batches(&out);
    let rows = rows_of(
        &b,
        &[
            "src_ip",
            "src_port",
            "dst_ip",
            "dst_port",
            "expected_path",
            "path_conformant",
            "path_note",
        ],
        "|",
    );
    assert_eq!(rows.len(), flows.len(), "{name}: {rows:#?}");
    let mut covered = BTreeSet::new();
    for (fl, key) in flows.iter().zip(&keys) {
        let row = rows
            .iter()
            .find(|r| r.split('|').take(4).collect::<Vec<_>>().join(" ") == *key)
            .unwrap_or_else(|| panic!("{name}: no row for {key}: {rows:#?}"));
        let v: Vec<&str> = row.split('|').collect();
        assert_eq!(
            (v[4], v[5]),
            (fl.expected, fl.conformant),
            "{name} {} ({key}): {}",
            fl.row,
            v[6]
        );
        assert!(
            v[6].contains(fl.row),
            "{name}: note of {key} must name {}: {}",
            fl.row,
            v[6]
        );
        assert!(v[6].contains(fl.note), "{name}: note of {key}: {}", v[6]);
        covered.insert(fl.row);
    }
    covered
}

#[test]
fn every_scenario_row_gives_the_tables_path_flow_by_flow() {
    use Kind::*;
    let (er, inet) = (Some(ER), Some(INET));
    let mut covered = BTreeSet::new();

    let online = [
        f(
            "online-p2p-both-internal",
            Media,
            C1,
            C2,
            None,
            "local",
            "true",
        ),
        f(
            "online-p2p-both-internal",
            Signaling(""),
            C1,
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        f(
            "online-p2p-internal-external",
            Media,
            C1,
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        f(
            "online-p2p-federated",
            Media,
            C2,
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        f(
            "online-conf-internal",
            Media,
            C1,
            TEAMS,
            inet,
            "expressroute",
            "false",
        ),
        f(
            "online-pstn-internal",
            Signaling(""),
            C2,
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        f(
            "online-conf-internet",
            Media,
            OUTSIDE_USER,
            TEAMS,
            inet,
            "internet",
            "true",
        ),
        f(
            "online-pstn-internet",
            Signaling(""),
            OUTSIDE_USER,
            TEAMS,
            inet,
            "internet",
            "true",
        ),
        f(
            "online-conf-other-company-onprem",
            Signaling("sip.fabrikam.com"),
            C1,
            OTHER_CO,
            inet,
            "internet",
            "true",
        ),
        Flow {
            note: "internet-only DNS",
            ..f(
                "internet_only_traffic",
                Dns,
                C1,
                "8.8.8.8",
                inet,
                "internet",
                "true",
            )
        },
        Flow {
            note: "internet-only certificate revocation",
            ..f(
                "internet_only_traffic",
                Web("crl3.digicert.com"),
                C2,
                OTHER_CO,
                er,
                "internet",
                "false",
            )
        },
    ];
    covered.extend(check("online", "deployment = \"online\"", &online));

    // Hybrid: an Edge, a Front End, a Mediation server and a gateway by
    // role; the reverse proxy known only by its published name.
    let hybrid_site = r#"deployment = "hybrid"
[[onprem]]
role = "edge"
addresses = ["10.50.0.5/32"]
[[onprem]]
role = "front_end"
addresses = ["10.50.0.10/32"]
[[onprem]]
role = "mediation"
addresses = ["10.50.0.30/32"]
[[onprem]]
role = "sbc"
addresses = ["10.50.0.40/32"]
"#;
    let hybrid = [
        f(
            "hybrid-p2p-both-onprem",
            Signaling(""),
            C1,
            "10.50.0.10",
            None,
            "local",
            "true",
        ),
        f(
            "hybrid-p2p-online-and-onprem",
            Media,
            C1,
            C2,
            None,
            "local",
            "true",
        ),
        f(
            "hybrid-p2p-online-and-onprem",
            Signaling(""),
            C2,
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        f(
            "hybrid-p2p-federated",
            Media,
            "10.50.0.5",
            TEAMS,
            inet,
            "internet_or_expressroute",
            "true",
        ),
        f(
            "hybrid-p2p-federated",
            Signaling(""),
            "10.50.0.5",
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        f(
            "hybrid-conf-online-organizer",
            Media,
            C2,
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        f(
            "hybrid-pstn-onprem",
            Media,
            C1,
            "10.50.0.40",
            None,
            "local",
            "true",
        ),
        f(
            "hybrid-pstn-onprem",
            Signaling(""),
            "10.50.0.30",
            "10.50.0.40",
            None,
            "local",
            "true",
        ),
        f(
            "hybrid-onprem-edge-online-conf",
            Media,
            "10.50.0.5",
            TEAMS,
            er,
            "internet_or_expressroute",
            "true",
        ),
        Flow {
            note: "signaling internet-reverse_proxy",
            ..f(
                "hybrid-conf-onprem-organizer",
                Signaling("meet.contoso.com"),
                OUTSIDE_USER,
                "10.50.0.50",
                inet,
                "internet",
                "true",
            )
        },
    ];
    covered.extend(check("hybrid", hybrid_site, &hybrid));

    let cce_site = r#"deployment = "cloud_connector"
[[onprem]]
role = "cloud_connector"
addresses = ["10.60.0.5/32"]
"#;
    let cce = [
        f(
            "cce-pstn-internal",
            Media,
            C1,
            "10.60.0.5",
            None,
            "local",
            "true",
        ),
        f(
            "cce-pstn-internal",
            Signaling(""),
            C1,
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        f(
            "cce-pstn-internal",
            Signaling(""),
            "10.60.0.5",
            TEAMS,
            inet,
            "expressroute",
            "false",
        ),
        f(
            "cce-pstn-internet",
            Media,
            OUTSIDE_USER,
            "10.60.0.5",
            inet,
            "internet",
            "true",
        ),
    ];
    covered.extend(check("cloud_connector", cce_site, &cce));

    // A route filter advertising set 11 (Teams) by id, not Exchange.
    let filtered = [
        f(
            "online-conf-internal",
            Media,
            C1,
            TEAMS,
            er,
            "expressroute",
            "true",
        ),
        Flow {
            note: "not expressroute: set 9 (Exchange) not in the route filter",
            ..f(
                "online-conf-internal",
                Signaling(""),
                C1,
                EXO,
                inet,
                "internet",
                "true",
            )
        },
        Flow {
            note: "not in the route filter",
            ..f(
                "online-conf-internal",
                Signaling(""),
                C2,
                EXO,
                er,
                "internet",
                "false",
            )
        },
    ];
    covered.extend(check(
        "route_filter",
        "deployment = \"online\"\n[expressroute]\nroute_filter = [11]\n",
        &filtered,
    ));

    // No circuit: Office 365 over the Internet; a flow at the ER edge is odd.
    let none = [
        Flow {
            note: "no ExpressRoute circuit",
            ..f(
                "online-conf-internal",
                Media,
                C1,
                TEAMS,
                inet,
                "internet",
                "true",
            )
        },
        f(
            "online-pstn-internal",
            Signaling(""),
            C2,
            TEAMS,
            er,
            "internet",
            "false",
        ),
    ];
    covered.extend(check(
        "no_circuit",
        "deployment = \"online\"\nexpressroute = \"none\"\n",
        &none,
    ));

    // Every row of the table the rules name is covered by a flow.
    let table = std::fs::read_to_string(repo().join("signatures/callflow.toml")).unwrap();
    let v: toml::Value = toml::from_str(&table).unwrap();
    let rows: BTreeSet<&str> = v["scenario_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(rows.len(), 18);
    let missing: Vec<_> = rows.difference(&covered).collect();
    assert!(missing.is_empty(), "rows without a flow: {missing:?}");
}
