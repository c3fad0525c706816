//! Labels that need more than one flow's own bytes: media endpoints learned
//! from SDP and STUN on one flow label another flow with no evidence of its
//! own (whatever the number of workers), and MS-TURN over TCP 443 is told
//! from real TLS after its fake handshake. The captures are generated here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pathlens_benches::frame::{tcp_frame, udp_frame, Eth, Tcp, ACK, PSH, SYN};
use pathlens_benches::payload::{
    client_hello, rtp, sdp_audio, server_hello, sip_with_sdp, stun, tls_data, xor_mapped_v4,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use support::{column_text, read_batches, read_ok, row_texts, PcapWriter};

const T0: i64 = 1_793_610_000_000_000;
const SEC: i64 = 1_000_000;

/// Frames of one generated capture, with per-direction TCP sequence numbers.
struct Gen {
    w: PcapWriter,
    now: i64,
    tcp_seq: HashMap<(IpAddr, u16), u32>,
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

impl Gen {
    fn new(path: &Path) -> Self {
        Gen {
            w: PcapWriter::create(path, 1, 65535),
            now: T0,
            tcp_seq: HashMap::new(),
        }
    }

    /// Both directions use the same MAC pair: these tests are about labels.
    const ETH: Eth = Eth::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);

    fn udp(&mut self, a: (&str, u16), b: (&str, u16), payload: &[u8]) {
        let f = udp_frame(Self::ETH, (ip(a.0), a.1), (ip(b.0), b.1), payload);
        self.w.frame(self.now, &f);
        self.now += 20_000;
    }

    fn tcp(&mut self, a: (&str, u16), b: (&str, u16), syn: bool, payload: &[u8]) {
        let (sa, sb) = ((ip(a.0), a.1), (ip(b.0), b.1));
        let ack = *self.tcp_seq.get(&sb).unwrap_or(&0);
        let seq = *self.tcp_seq.entry(sa).or_insert(7_000);
        let flags = match (syn, ack) {
            (true, 0) => SYN,
            (true, _) => SYN | ACK,
            (false, _) => ACK | PSH,
        };
        let tcp = Tcp {
            seq,
            ack,
            flags,
            window: 64_000,
        };
        let f = tcp_frame(Self::ETH, sa, sb, tcp, payload);
        self.w.frame(self.now, &f);
        self.tcp_seq
            .insert(sa, seq.wrapping_add(payload.len() as u32 + u32::from(syn)));
        self.now += 5_000;
    }

    fn tcp_open(&mut self, c: (&str, u16), s: (&str, u16)) {
        self.tcp(c, s, true, &[]);
        self.tcp(s, c, true, &[]);
        self.tcp(c, s, false, &[]);
    }
}

/// Bytes that no dissector claims: a first byte in RFC 7983's "drop" range
/// and a DNS opcode that does not exist.
fn opaque(i: u8) -> Vec<u8> {
    let mut v = vec![0x0c, 0xff, 0xff, i];
    v.extend((0..96u8).map(|k| k.wrapping_mul(31) ^ i));
    v
}

/// Twenty opaque datagrams each way.
fn opaque_exchange(g: &mut Gen, a: (&str, u16), b: (&str, u16)) {
    for i in 0..20 {
        g.udp(a, b, &opaque(i));
        g.udp(b, a, &opaque(i ^ 0x55));
    }
}

fn stun_binding_response(mapped: ([u8; 4], u16)) -> Vec<u8> {
    stun(0x0101, &[9; 12], &xor_mapped_v4(mapped.0, mapped.1))
}

const CLIENT: (&str, u16) = ("10.1.1.1", 40000);
const PEER: (&str, u16) = ("198.51.100.7", 30000);

fn write_correlation_capture(path: &Path) {
    let mut g = Gen::new(path);
    // Before any signaling: the same client port to another peer port. The
    // endpoint is learned only later, so this flow must stay unlabelled.
    opaque_exchange(&mut g, CLIENT, ("198.51.100.7", 30002));
    g.now += SEC;
    let invite = sip_with_sdp(
        "INVITE sip:bob@example.com SIP/2.0",
        "10.1.1.1:5060",
        &sdp_audio("10.1.1.1", 40000, "RTP/SAVP", "0", &[]),
    );
    g.udp(
        ("10.1.1.1", 5060),
        ("198.51.100.7", 5060),
        invite.as_bytes(),
    );
    g.now += SEC;
    // Media to the offered endpoint and to its implied RTCP port (+1).
    opaque_exchange(&mut g, PEER, CLIENT);
    opaque_exchange(&mut g, ("198.51.100.7", 30001), ("10.1.1.1", 40001));
    // A STUN binding response tells the client its public candidate.
    g.udp(
        ("52.112.5.5", 3478),
        ("10.1.1.20", 50010),
        &stun_binding_response(([203, 0, 113, 20], 41000)),
    );
    g.now += SEC;
    opaque_exchange(&mut g, ("198.51.100.50", 55555), ("203.0.113.20", 41000));
    // A port nobody announced: no correlation.
    opaque_exchange(&mut g, ("10.1.1.1", 40002), ("198.51.100.7", 30004));
    g.w.finish();
}

/// (src_port, dst_port) -> (app_protocol, app_protocol_source, traffic_type).
fn labels(out: &Path) -> HashMap<(String, String), (String, String, String)> {
    let b = read_batches(out);
    let col = |n: &str| column_text(&b, n);
    let (sp, dp, app, src, tt) = (
        col("src_port"),
        col("dst_port"),
        col("app_protocol"),
        col("app_protocol_source"),
        col("traffic_type"),
    );
    (0..sp.len())
        .map(|i| {
            (
                (sp[i].clone(), dp[i].clone()),
                (app[i].clone(), src[i].clone(), tt[i].clone()),
            )
        })
        .collect()
}

#[test]
fn learned_endpoints_label_flows_without_evidence_for_any_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("corr.pcap");
    write_correlation_capture(&pcap);
    let mut runs = Vec::new();
    for workers in ["1", "2", "3", "4"] {
        let out = dir.path().join(format!("w{workers}.parquet"));
        read_ok(&[pcap.to_str().unwrap(), "--workers", workers], &out);
        let l = labels(&out);
        let get = |a: &str, b: &str| {
            l.get(&(a.to_string(), b.to_string()))
                .or_else(|| l.get(&(b.to_string(), a.to_string())))
                .cloned()
                .unwrap_or_else(|| panic!("no flow {a}-{b} in {l:?}"))
        };
        let media = |app: &str| {
            (
                app.to_string(),
                "correlation".to_string(),
                "media".to_string(),
            )
        };
        assert_eq!(get("30000", "40000"), media("srtp"), "RTP/SAVP offer");
        assert_eq!(get("30001", "40001"), media("rtcp"), "RTCP on port + 1");
        assert_eq!(get("55555", "41000"), media("srtp"), "STUN candidate");
        assert_eq!(get("40000", "30002").1, "payload", "before the offer");
        assert_eq!(get("40002", "30004").1, "payload", "never announced");
        assert_eq!(get("5060", "5060").0, "sip");
        let c = support::counters(&out);
        assert_eq!(c["correlated"], 3, "{c}");
        assert!(c["endpoints_learned"].as_u64().unwrap() >= 3, "{c}");
        assert_eq!(c["sdp_bindings_dropped"], 0, "{c}");
        runs.push(row_texts(&read_batches(&out), &["run_id"]));
    }
    for r in &runs[1..] {
        assert_eq!(r, &runs[0], "rows depend on the number of workers");
    }
}

#[test]
fn port_only_classification_learns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("corr.pcap");
    write_correlation_capture(&pcap);
    let out = dir.path().join("port.parquet");
    read_ok(&[pcap.to_str().unwrap(), "--classify", "port"], &out);
    let l = labels(&out);
    assert!(l.values().all(|v| v.1 != "correlation"), "{l:?}");
    assert_eq!(support::counters(&out)["correlated"], 0);
}

#[test]
fn a_correlated_flow_is_judged_by_the_call_flow_rules_as_media() {
    // An SDP offer names a Teams media relay address; a flow to it carries
    // nothing the dissectors know. As media from a client to an Office 365
    // ExpressRoute address it has an expected path; as `other` it had none.
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("relay.pcap");
    let mut g = Gen::new(&pcap);
    let invite = "INVITE sip:conf@example.com SIP/2.0\r\n\r\nv=0\r\n\
        c=IN IP4 52.112.1.10\r\nm=audio 3480 RTP/SAVP 0\r\n";
    g.udp(("10.1.1.1", 5060), ("10.9.9.9", 5060), invite.as_bytes());
    opaque_exchange(&mut g, ("10.1.1.1", 50020), ("52.112.1.10", 3480));
    g.w.finish();
    let o365 = support::corpus().join("o365/endpoints-worldwide.json");
    let out = dir.path().join("relay.parquet");
    read_ok(
        &[pcap.to_str().unwrap(), "--o365", o365.to_str().unwrap()],
        &out,
    );
    let b = read_batches(&out);
    let col = |n: &str| column_text(&b, n);
    let r = col("dst_port").iter().position(|p| p == "3480").unwrap();
    let got: Vec<String> = [
        "app_protocol",
        "app_protocol_source",
        "traffic_type",
        "egress",
        "expected_path",
        "path_conformant",
    ]
    .iter()
    .map(|c| col(c)[r].clone())
    .collect();
    assert_eq!(
        got,
        [
            "srtp",
            "correlation",
            "media",
            // `--o365` alone declares no circuit: Internet (issue 24).
            "internet",
            "internet",
            // Judged as media (expected ExpressRoute), but with too few flows
            // to infer its edge's path nothing was observed: a prefix alone
            // predicts, it does not prove the path (issue 15).
            ""
        ]
    );
}

/// ServerHello + ServerHelloDone in one record, as MS-TURN's pseudo-TLS
/// server answers ([MS-TURN] 2.1.1).
fn pseudo_server_hello() -> Vec<u8> {
    let mut body = vec![3, 1];
    body.extend([0x42u8; 32]);
    body.extend([0, 0, 0x04, 0]);
    let mut hs = vec![2, 0, 0, body.len() as u8];
    hs.extend(body);
    hs.extend([0x0e, 0, 0, 0]);
    let mut rec = vec![0x16, 3, 1, 0, hs.len() as u8];
    rec.extend(hs);
    rec
}

/// An MS-TURN frame (type 2 control or 3 data, zero, length) around `body`.
fn ms_frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![kind, 0];
    f.extend((body.len() as u16).to_be_bytes());
    f.extend(body);
    f
}

#[test]
fn ms_turn_after_pseudo_tls_is_media_and_real_tls_stays_https() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("msturn.pcap");
    let mut g = Gen::new(&pcap);
    let relay = ("52.112.9.9", 443);
    let client = ("10.1.1.30", 50100);
    g.tcp_open(client, relay);
    g.tcp(client, relay, false, &client_hello("", "", 3));
    g.tcp(relay, client, false, &pseudo_server_hello());
    // MS-TURN Allocate request: no cookie, MAGIC-COOKIE attribute first.
    let mut allocate = vec![0, 3, 0, 8];
    allocate.extend([0x5au8; 16]);
    allocate.extend([0, 0x0f, 0, 4, 0x72, 0xc6, 0x4b, 0xc6]);
    g.tcp(client, relay, false, &ms_frame(2, &allocate));
    // Media in MS-TURN data frames, one SSRC each way; the relay's packet 10
    // never arrives.
    let rtp = |i: u8, ssrc: [u8; 4]| {
        let ts = u32::from_be_bytes([0, 0, u8::from(i > 12), i.wrapping_mul(160)]);
        rtp(0, u16::from(i), ts, u32::from_be_bytes(ssrc), &[i; 80])
    };
    for i in 0..30u8 {
        g.tcp(client, relay, false, &ms_frame(3, &rtp(i, [1, 2, 3, 4])));
        if i != 10 {
            g.tcp(relay, client, false, &ms_frame(3, &rtp(i, [9, 9, 9, 9])));
        }
    }
    // Real TLS to a web server on the same port.
    let web = ("52.96.1.1", 443);
    let client2 = ("10.1.1.30", 50101);
    g.tcp_open(client2, web);
    g.tcp(
        client2,
        web,
        false,
        &client_hello("outlook.office365.com", "h2", 4),
    );
    g.tcp(web, client2, false, &server_hello(90, 4));
    g.tcp(web, client2, false, &tls_data(300, 4));
    g.tcp(client2, web, false, &tls_data(100, 5));
    g.w.finish();

    let out = dir.path().join("msturn.parquet");
    read_ok(&[pcap.to_str().unwrap()], &out);
    let b = read_batches(&out);
    let col = |n: &str| column_text(&b, n);
    let (sp, app, tt, stun) = (
        col("src_port"),
        col("app_protocol"),
        col("traffic_type"),
        col("stun_seen"),
    );
    let row = |port: &str| sp.iter().position(|p| p == port).unwrap();
    let t = row("50100");
    assert_eq!(
        (app[t].as_str(), tt[t].as_str(), stun[t].as_str()),
        ("stun_turn", "media", "true")
    );
    // The media tracker reads the RTP inside the MS-TURN data frames.
    assert_eq!(
        (
            col("rtp_ssrc_count")[t].as_str(),
            col("src2dst_rtp_packets_lost")[t].as_str(),
            col("dst2src_rtp_packets_lost")[t].as_str()
        ),
        ("2", "0", "1")
    );
    let h = row("50101");
    // HTTPS to an Exchange name is mail traffic (docs/call-flows.md §1.3 rule 5).
    assert_eq!(
        (app[h].as_str(), tt[h].as_str(), stun[h].as_str()),
        ("https", "mail", "false")
    );
    assert_eq!(col("server_name")[h], "outlook.office365.com");
}
