//! Issues 16 and 24, end to end: streams judged per 15-second window, each
//! leg by the target table that covers what it crossed (the customer-edge
//! segment's for a leg arriving at a sensor on the customer edge). A generated capture goes through `pathlens
//! read`; the new streams columns are read back from Parquet, and the
//! worst-window percentiles from `pathlens summary`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use pathlens_benches::frame::{udp_frame, Eth};
use pathlens_benches::payload::{self, PCMU_SILENCE_20MS};
use std::collections::BTreeMap;
use std::path::Path;
use support::*;

const T0: i64 = 1_700_000_000_000_000;
/// Two minutes of 20 ms packets: eight 15 s windows.
const PACKETS: u32 = 6_000;
const CLIENT_MAC: [u8; 6] = [1; 6];
const ROUTER_MAC: [u8; 6] = [2; 6];

/// One PCMU stream, `impaired`: 0.5% lost (every 200th packet, never two in
/// a 200 ms bucket) and every odd packet 20 ms late (RFC 3550 jitter
/// climbing to 20 ms): inside the client targets (1%, 10% per 200 ms,
/// 30 ms), above the customer-edge segment's (0.1%, 15 ms).
fn stream(
    from: ([u8; 4], u16),
    to: ([u8; 4], u16),
    ssrc: u32,
    impaired: bool,
) -> Vec<(i64, Vec<u8>)> {
    let inbound = from.0[0] != 10;
    let eth = if inbound {
        Eth::new(ROUTER_MAC, CLIENT_MAC)
    } else {
        Eth::new(CLIENT_MAC, ROUTER_MAC)
    };
    (0..PACKETS)
        .filter(|i| !impaired || i % 200 != 100)
        .map(|i| {
            let late = if impaired && i % 2 == 1 { 20_000 } else { 0 };
            let p = payload::rtp(0, i as u16, 160 * i, ssrc, &PCMU_SILENCE_20MS);
            // The reply 1 ms after its request, so the initiator is the client.
            let at = T0 + i64::from(i) * 20_000 + late + i64::from(inbound) * 1_000;
            (at, udp_frame(eth, from, to, &p))
        })
        .collect()
}

/// Two calls at once. One to a Teams media relay (52.112.0.0/14, endpoint
/// set 11, ExpressRoute-capable): its outbound leg impaired. One to a
/// public server outside every Office 365 set (on the Internet): its
/// inbound leg impaired.
fn capture(path: &Path) {
    let (relay, server) = (([52, 112, 1, 10], 3_480), ([93, 184, 216, 34], 3_480));
    let (a, b) = (([10, 0, 0, 5], 50_010), ([10, 0, 0, 6], 50_010));
    let mut frames = stream(a, relay, 0xE4, true);
    frames.extend(stream(relay, a, 0xE5, false));
    frames.extend(stream(b, server, 0x1E, false));
    frames.extend(stream(server, b, 0x1F, true));
    // Stable: a late packet stays before the next one arriving with it.
    frames.sort_by_key(|f| f.0);
    let mut w = PcapWriter::create(path, 1, 65535);
    for (t, f) in &frames {
        w.frame(*t, f);
    }
    w.finish();
}

/// A site config with the bundled Office 365 list and a declared circuit;
/// `extra` appended.
fn site(dir: &Path, position: Option<&str>, extra: &str) -> std::path::PathBuf {
    let p = dir.join(format!(
        "site-{}-{}.toml",
        position.unwrap_or("default"),
        extra.len()
    ));
    let o365 = repo().join("signatures/o365-endpoints-worldwide.json");
    let mut text = String::new();
    if let Some(pos) = position {
        text.push_str(&format!("sensor_position = \"{pos}\"\n"));
    }
    text.push_str(&format!("[sources]\no365 = {:?}\n", o365.to_str().unwrap()));
    text.push_str("[expressroute]\n");
    text.push_str(extra);
    std::fs::write(&p, text).unwrap();
    p
}

/// Each stream's columns by its flow's egress and its direction
/// (`expressroute/dst2src`).
fn streams_by_leg(out: &Path) -> BTreeMap<String, BTreeMap<&'static str, String>> {
    let flows = read_batches(out);
    let egress: BTreeMap<String, String> = column_text(&flows, "flow_id")
        .into_iter()
        .zip(column_text(&flows, "egress"))
        .collect();
    let st = read_batches(&pathlens_export::streams_path(out));
    let names = [
        "flow_id",
        "direction",
        "quality",
        "cqd_quality",
        "quality_profile",
        "quality_segment",
        "windows",
        "windows_poor",
        "loss_max_window_pct",
        "jitter_max_window_ms",
        "loss_pct",
    ];
    let cols: Vec<Vec<String>> = names.iter().map(|n| column_text(&st, n)).collect();
    let mut m = BTreeMap::new();
    for i in 0..rows(&st) {
        let row: BTreeMap<&'static str, String> = names
            .iter()
            .zip(&cols)
            .map(|(n, c)| (*n, c[i].clone()))
            .collect();
        m.insert(
            format!("{}/{}", egress[&row["flow_id"]], row["direction"]),
            row,
        );
    }
    m
}

/// Issue 24: at a customer-edge sensor the leg arriving from outside is
/// judged by the customer-edge segment's table whatever its path, the leg
/// leaving by the client table. 0.5% loss and 20 ms jitter on the inbound
/// leg over the Internet: poor; the same on the outbound leg of the call
/// over ExpressRoute: good. Before, the table followed the path (segment
/// for both ExpressRoute legs, client for both Internet legs), the other
/// way round.
#[test]
fn customer_edge_sensor_judges_each_leg_by_the_table_of_what_it_crossed() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("calls.pcap");
    capture(&pcap);

    let out = dir.path().join("edge.parquet");
    let cfg = site(dir.path(), Some("customer_edge"), "");
    read_ok(
        &[pcap.to_str().unwrap(), "--config", cfg.to_str().unwrap()],
        &out,
    );
    let s = streams_by_leg(&out);
    assert_eq!(s.len(), 4, "{s:?}");
    for (leg, profile, segment, quality, poor) in [
        ("expressroute/src2dst", "client", "lan", "good", "0"),
        (
            "expressroute/dst2src",
            "customer_edge_segment",
            "expressroute",
            "good",
            "0",
        ),
        ("internet/src2dst", "client", "lan", "good", "0"),
        (
            "internet/dst2src",
            "customer_edge_segment",
            "internet",
            "poor",
            "8",
        ),
    ] {
        let row = &s[leg];
        assert_eq!(row["quality_profile"], profile, "{leg} {row:?}");
        assert_eq!(row["quality_segment"], segment, "{leg} {row:?}");
        assert_eq!(row["quality"], quality, "{leg} {row:?}");
        assert_eq!(row["cqd_quality"], "good", "{leg} {row:?}");
        assert_eq!(row["windows"], "8", "{leg} {row:?}");
        assert_eq!(row["windows_poor"], poor, "{leg} {row:?}");
    }
    for leg in ["expressroute/src2dst", "internet/dst2src"] {
        let row = &s[leg];
        // About 750 expected per window (a late packet at a boundary falls
        // into the next one), 3 or 4 lost.
        let loss: f64 = row["loss_max_window_pct"].parse().unwrap();
        assert!(loss > 0.5 && loss < 0.55, "{row:?}");
        let jitter: f64 = row["jitter_max_window_ms"].parse().unwrap();
        assert!(jitter > 19.0 && jitter < 22.0, "{row:?}");
        assert_eq!(row["loss_pct"], "0.5");
    }

    // The same capture with the sensor inside: every leg by the client
    // table, all good; the inbound legs crossed part of the inside too.
    let out2 = dir.path().join("inside.parquet");
    let cfg2 = site(dir.path(), None, "");
    read_ok(
        &[pcap.to_str().unwrap(), "--config", cfg2.to_str().unwrap()],
        &out2,
    );
    let s2 = streams_by_leg(&out2);
    let inet = &s2["internet/dst2src"];
    assert_eq!(
        (
            inet["quality_profile"].as_str(),
            inet["quality_segment"].as_str()
        ),
        ("client", "internet+lan")
    );
    assert_eq!(inet["quality"], "good");
    assert_eq!(inet["windows_poor"], "0");

    // Both calls through the ExpressRoute router's MAC: the edge crossed,
    // not the prefix, names the segment of the inbound leg.
    let out3 = dir.path().join("routed.parquet");
    let edge =
        "[[edge]]\nname = \"er-rtr\"\npath = \"expressroute\"\nmacs = [\"02:02:02:02:02:02\"]\n";
    let cfg3 = site(dir.path(), Some("customer_edge"), edge);
    read_ok(
        &[pcap.to_str().unwrap(), "--config", cfg3.to_str().unwrap()],
        &out3,
    );
    let s3 = streams_by_leg(&out3);
    assert_eq!(s3["internet/dst2src"]["quality_segment"], "expressroute");
    assert_eq!(s3["internet/dst2src"]["quality"], "poor");

    // The summary reads the worst windows back: p90 per egress.
    let o = pathlens(&["summary", "--format", "json", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let media = j["media"].as_array().unwrap();
    let inet = media
        .iter()
        .find(|m| m["egress"] == "internet (predicted)")
        .unwrap();
    assert_eq!(inet["windowed"], 2);
    assert!(inet["jitter_window_p90"].as_f64().unwrap() > 19.0, "{inet}");
    assert_eq!(inet["poor"], 1);
    let er = media
        .iter()
        .find(|m| m["egress"] == "expressroute (predicted)")
        .unwrap();
    assert_eq!(er["poor"], 0);
}

#[test]
fn a_bad_sensor_position_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("site.toml");
    std::fs::write(
        &cfg,
        "deployment = \"online\"\nsensor_position = \"roof\"\n",
    )
    .unwrap();
    let pcap = repo().join("testdata/sample.pcap");
    let o = pathlens(&[
        "read",
        "-q",
        pcap.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "-w",
        dir.path().join("x.parquet").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("site.toml:2") && err.contains("roof"), "{err}");
}
