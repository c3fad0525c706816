//! A failover capture (issue 24): four Teams calls through an ExpressRoute
//! router, then, after the warm-up, a backup firewall carrying Teams calls
//! and Internet calls; and what pathlens must say of each flow.

use super::*;
use pathlens_benches::frame::{udp_frame, Eth};
use pathlens_benches::payload::{self, PCMU_SILENCE_20MS};
use std::collections::BTreeMap;
use std::path::Path;

const T0: i64 = 1_700_000_000_000_000;
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
/// The ExpressRoute router, seen from the start.
const ER_MAC: [u8; 6] = [2, 0xe0, 0, 0, 0, 1];
/// A backup firewall to the Internet, first seen after the warm-up.
const BACKUP_MAC: [u8; 6] = [2, 0xbb, 0, 0, 0, 1];

/// A short RTP exchange between `client` and `server` through `router`,
/// from `at` µs: 5 packets each way, 20 ms apart.
pub fn call(
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
pub fn failover(path: &Path, later: i64) {
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

/// One router whose path changes: four Teams calls in the first second
/// (ExpressRoute prefixes), four calls to Internet servers from `later` µs,
/// two Teams calls from `2 * later` µs. Learned interval by interval, the
/// router is re-decided to the Internet by the second group, and the last
/// calls are observed there; over the whole capture at once its mix (60 %
/// to ExpressRoute prefixes) decides nothing.
pub fn rerouted(path: &Path, later: i64) {
    let mut frames = Vec::new();
    let groups: [(i64, u8, [u8; 3], u16); 3] = [
        (0, 4, [52, 112, 1], 3_478),
        (later, 4, [93, 184, 216], 3_478),
        (2 * later, 2, [52, 112, 3], 3_478),
    ];
    for (g, (start, n, net, port)) in groups.into_iter().enumerate() {
        for i in 0..n {
            let c = (
                [10, 0, g as u8, 10 + i],
                50_000 + 100 * g as u16 + u16::from(i),
            );
            frames.extend(call(
                c,
                ([net[0], net[1], net[2], 10 + i], port),
                ER_MAC,
                T0 + start + i64::from(i) * 100_000,
                0x100 * (g as u32 + 1) + u32::from(i),
            ));
        }
    }
    frames.sort_by_key(|f| f.0);
    let mut w = PcapWriter::create(path, 1, 65535);
    for (t, f) in &frames {
        w.frame(*t, f);
    }
    w.finish();
}

pub fn site(dir: &Path) -> std::path::PathBuf {
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
pub fn verdicts(batches: &[arrow::array::RecordBatch]) -> BTreeMap<String, Vec<String>> {
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

pub fn check_failover(v: &BTreeMap<String, Vec<String>>) {
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
