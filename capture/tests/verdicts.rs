//! Issue 24, end to end: no circuit is assumed from an Office 365 list, and
//! a router first seen after the warm-up is learned on its own evidence, in
//! `read` and in `live`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use pathlens_benches::frame::{udp_frame, Eth};
use pathlens_benches::payload::{self, PCMU_SILENCE_20MS};
use std::collections::BTreeMap;
use std::path::Path;
use support::*;

const T0: i64 = 1_700_000_000_000_000;
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
/// The ExpressRoute router, seen from the start.
const ER_MAC: [u8; 6] = [2, 0xe0, 0, 0, 0, 1];
/// A backup firewall to the Internet, first seen after the warm-up.
const BACKUP_MAC: [u8; 6] = [2, 0xbb, 0, 0, 0, 1];

/// A short RTP exchange between `client` and `server` through `router`,
/// from `at` µs: 5 packets each way, 20 ms apart.
fn call(
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    router: [u8; 6],
    at: i64,
    ssrc: u32,
) -> Vec<(i64, Vec<u8>)> {
    let mut v = Vec::new();
    for i in 0..5u32 {
        let t = at + i64::from(i) * 20_000;
        let p = payload::rtp(0, i as u16, 160 * i, ssrc, &PCMU_SILENCE_20MS);
        v.push((
            t,
            udp_frame(Eth::new(CLIENT_MAC, router), client, server, &p),
        ));
        let q = payload::rtp(0, i as u16, 160 * i, ssrc + 1, &PCMU_SILENCE_20MS);
        v.push((
            t + 1_000,
            udp_frame(Eth::new(router, CLIENT_MAC), server, client, &q),
        ));
    }
    v
}

/// Four Teams calls through the ExpressRoute router in the first second;
/// from `later` µs on, the router fails over to a backup firewall that
/// carries three Teams calls and three calls to a server on the Internet.
fn failover(path: &Path, later: i64) {
    let mut frames = Vec::new();
    for i in 0..4u8 {
        let c = ([10, 0, 0, 10 + i], 50_000 + u16::from(i));
        frames.extend(call(
            c,
            ([52, 112, 1, 10 + i], 3_478),
            ER_MAC,
            T0 + i64::from(i) * 100_000,
            0x100 * u32::from(i),
        ));
    }
    for i in 0..3u8 {
        let c = ([10, 0, 1, 10 + i], 50_100 + u16::from(i));
        let at = T0 + later + i64::from(i) * 100_000;
        frames.extend(call(
            c,
            ([52, 112, 2, 10 + i], 3_478),
            BACKUP_MAC,
            at,
            0x1000 + u32::from(i),
        ));
        let d = ([10, 0, 2, 10 + i], 50_200 + u16::from(i));
        frames.extend(call(
            d,
            ([93, 184, 216, 10 + i], 3_478),
            BACKUP_MAC,
            at + 50_000,
            0x2000 + u32::from(i),
        ));
    }
    frames.sort_by_key(|f| f.0);
    let mut w = PcapWriter::create(path, 1, 65535);
    for (t, f) in &frames {
        w.frame(*t, f);
    }
    w.finish();
}

fn site(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("site.toml");
    let o365 = repo().join("signatures/o365-endpoints-worldwide.json");
    std::fs::write(
        &p,
        format!(
            "[sources]\no365 = {:?}\n[expressroute]\n",
            o365.to_str().unwrap()
        ),
    )
    .unwrap();
    p
}

/// Per flow (by its responder address and port): egress, edges, observed path,
/// expectation, conformance, note.
fn verdicts(batches: &[arrow::array::RecordBatch]) -> BTreeMap<String, Vec<String>> {
    let port = column_text(batches, "dst_port");
    let cols = [
        "dst_ip",
        "egress",
        "src2dst_edge",
        "observed_egress",
        "expected_path",
        "path_conformant",
        "path_note",
    ];
    let c: Vec<Vec<String>> = cols.iter().map(|n| column_text(batches, n)).collect();
    (0..c[0].len())
        .map(|i| {
            (
                format!("{}:{}", c[0][i], port[i]),
                c[1..].iter().map(|col| col[i].clone()).collect(),
            )
        })
        .collect()
}

fn check_failover(v: &BTreeMap<String, Vec<String>>) {
    // Before: the ExpressRoute edge, decided in the warm-up, conformant.
    let er = &v["52.112.1.10:3478"];
    assert_eq!(
        (er[1].as_str(), er[2].as_str(), er[4].as_str()),
        ("edge-02:e0:00:00:00:01", "expressroute", "true"),
        "{er:?}"
    );
    // After: the backup firewall, first seen after the warm-up, learned on
    // its own six flows (half to ExpressRoute prefixes: the Internet). Its
    // Teams calls are observed on the Internet, expected over ExpressRoute.
    for a in ["52.112.2.10:3478", "52.112.2.11:3478", "52.112.2.12:3478"] {
        let r = &v[a];
        assert_eq!(
            (r[1].as_str(), r[2].as_str(), r[3].as_str(), r[4].as_str()),
            (
                "edge-02:bb:00:00:00:01",
                "internet",
                "expressroute",
                "false"
            ),
            "{a}: {r:?}"
        );
        assert!(
            r[5].contains(
                "edge edge-02:bb:00:00:00:01 internet: 50% of its 6 flows to ExpressRoute prefixes"
            ),
            "{a}: {r:?}"
        );
        assert!(r[5].contains("observed internet at the edge"), "{r:?}");
    }
}

/// Issue 24: a failover to a new router after the warm-up. Before, a next
/// hop first seen after the warm-up stayed `unknown` for the rest of the
/// run, and its flows had no observed path and no verdict.
#[test]
fn a_router_first_seen_after_the_warm_up_is_learned_on_its_own_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("failover.pcap");
    failover(&pcap, 10_000_000);
    let cfg = site(dir.path());
    for workers in ["1", "3"] {
        let out = dir.path().join(format!("failover-{workers}.parquet"));
        read_ok(
            &[
                pcap.to_str().unwrap(),
                "--config",
                cfg.to_str().unwrap(),
                "--edge-warmup",
                "2s",
                "--workers",
                workers,
            ],
            &out,
        );
        check_failover(&verdicts(&read_batches(&out)));
    }
    // The summary names the evidence behind each edge.
    let out = dir.path().join("failover-1.parquet");
    let o = pathlens(&["summary", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("edge-02:bb:00:00:00:01")
            && l.contains("internet")
            && l.contains("50% of its 6 flows")),
        "{text}"
    );
    assert!(
        text.contains(
            "call-flow conformance: 3 of 10 flows judged on observed evidence non-conformant"
        ),
        "{text}"
    );
}

/// Issue 24: an Internet-only site that passes `--o365` (and nothing
/// else) has no circuit. Before, every ExpressRoute-capable set was taken
/// as received over one: the sample's Teams flows were predicted and
/// expected over ExpressRoute.
#[test]
fn an_office_365_list_alone_declares_no_circuit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.parquet");
    let pcap = repo().join("testdata/sample.pcap");
    let o365 = repo().join("signatures/o365-endpoints-worldwide.json");
    let o = pathlens(&[
        "read",
        pcap.to_str().unwrap(),
        "--o365",
        o365.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("circuit: no ExpressRoute circuit declared"),
        "{text}"
    );
    let v = verdicts(&read_batches(&out));
    // The Teams relay and signaling: ExpressRoute-capable, but predicted
    // and expected on the Internet, with the reason.
    for a in ["52.114.76.10:3478", "52.113.194.132:443"] {
        let r = &v[a];
        assert_eq!(
            (r[0].as_str(), r[3].as_str()),
            ("internet", "internet"),
            "{a}: {r:?}"
        );
        assert!(
            r[5].contains("not expressroute: no ExpressRoute circuit declared"),
            "{r:?}"
        );
    }
    // The edge carrying only ExpressRoute-capable traffic is reported, its
    // path not assumed.
    let r = &v["52.114.76.10:3478"];
    assert_eq!(r[2], "", "no observed path: {r:?}");
    assert!(
        r[5].contains("circuit observed, not declared: edge edge-02:00:00:00:00:01.100 carried 100% of its 3 flows to ExpressRoute-capable Office 365 sets"),
        "{r:?}"
    );
    assert!(text.contains("circuit observed, not declared"), "{text}");
}
