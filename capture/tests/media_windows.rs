//! Issue 16, part 1, end to end: streams judged per 15-second window, and
//! against the ExpressRoute-segment targets when the site config puts the
//! sensor at the customer edge. A generated capture goes through `pathlens
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

/// One client's PCMU stream to `server`, 0.5% lost (every 200th packet,
/// never two in a 200 ms bucket) and every odd packet 20 ms late (RFC 3550
/// jitter climbing to 20 ms): inside the client targets (1%, 10% per 200 ms,
/// 30 ms), above the ExpressRoute segment's (0.1%, 1% per 200 ms, 15 ms).
fn lossy_jittery(client: [u8; 4], server: [u8; 4], ssrc: u32) -> Vec<(i64, Vec<u8>)> {
    (0..PACKETS)
        .filter(|i| i % 200 != 100)
        .map(|i| {
            let late = if i % 2 == 1 { 20_000 } else { 0 };
            let p = payload::rtp(0, i as u16, 160 * i, ssrc, &PCMU_SILENCE_20MS);
            let eth = Eth::new([1; 6], [2; 6]);
            (
                T0 + i64::from(i) * 20_000 + late,
                udp_frame(eth, (client, 50_010), (server, 3_480), &p),
            )
        })
        .collect()
}

/// Two calls at once: one to a Teams media relay (52.112.0.0/14, endpoint
/// set 11, ExpressRoute-capable in the bundled list), one to a server on the
/// Internet; the same impairments on both.
fn capture(path: &Path) {
    let mut frames = lossy_jittery([10, 0, 0, 5], [52, 112, 1, 10], 0xE4);
    frames.extend(lossy_jittery([10, 0, 0, 6], [198, 51, 100, 7], 0x1E));
    // Stable: a late packet stays before the next one arriving with it.
    frames.sort_by_key(|f| f.0);
    let mut w = PcapWriter::create(path, 1, 65535);
    for (t, f) in &frames {
        w.frame(*t, f);
    }
    w.finish();
}

/// A site config with the bundled Office 365 list; `extra` appended.
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
    text.push_str(extra);
    std::fs::write(&p, text).unwrap();
    p
}

/// Each stream's columns by its flow's egress.
fn streams_by_egress(out: &Path) -> BTreeMap<String, BTreeMap<&'static str, String>> {
    let flows = read_batches(out);
    let egress: BTreeMap<String, String> = column_text(&flows, "flow_id")
        .into_iter()
        .zip(column_text(&flows, "egress"))
        .collect();
    let st = read_batches(&pathlens_export::streams_path(out));
    let names = [
        "flow_id",
        "quality",
        "quality_profile",
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
        m.insert(egress[&row["flow_id"]].clone(), row);
    }
    m
}

#[test]
fn customer_edge_sensor_judges_expressroute_streams_by_the_segment_targets() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("calls.pcap");
    capture(&pcap);

    let out = dir.path().join("edge.parquet");
    let cfg = site(dir.path(), Some("customer_edge"), "");
    read_ok(
        &[pcap.to_str().unwrap(), "--config", cfg.to_str().unwrap()],
        &out,
    );
    let s = streams_by_egress(&out);
    assert_eq!(s.len(), 2, "{s:?}");
    let er = &s["expressroute"];
    // No prefix source names 198.51.100.7: its egress is `unknown`.
    let inet = &s["unknown"];
    for (row, profile, quality, poor) in [
        (er, "expressroute_segment", "poor", "8"),
        (inet, "client", "good", "0"),
    ] {
        assert_eq!(row["quality_profile"], profile, "{row:?}");
        assert_eq!(row["quality"], quality, "{row:?}");
        assert_eq!(row["windows"], "8", "{row:?}");
        assert_eq!(row["windows_poor"], poor, "{row:?}");
        // About 750 expected per window (a late packet at a boundary falls
        // into the next one), 3 or 4 lost.
        let loss: f64 = row["loss_max_window_pct"].parse().unwrap();
        assert!(loss > 0.5 && loss < 0.55, "{row:?}");
        let jitter: f64 = row["jitter_max_window_ms"].parse().unwrap();
        assert!(jitter > 19.0 && jitter < 22.0, "{row:?}");
        assert_eq!(row["loss_pct"], "0.5");
    }

    // The same capture with the sensor inside: both streams by the client
    // targets, both good.
    let out2 = dir.path().join("inside.parquet");
    let cfg2 = site(dir.path(), None, "");
    read_ok(
        &[pcap.to_str().unwrap(), "--config", cfg2.to_str().unwrap()],
        &out2,
    );
    let s2 = streams_by_egress(&out2);
    assert_eq!(s2["expressroute"]["quality_profile"], "client");
    assert_eq!(s2["expressroute"]["quality"], "good");
    assert_eq!(s2["expressroute"]["windows_poor"], "0");

    // Both calls sent to the ExpressRoute router's MAC: the edge crossed,
    // not the prefix, decides, so the call to the non-Microsoft address is
    // judged by the segment targets too.
    let out3 = dir.path().join("routed.parquet");
    let edge =
        "[[edge]]\nname = \"er-rtr\"\npath = \"expressroute\"\nmacs = [\"02:02:02:02:02:02\"]\n";
    let cfg3 = site(dir.path(), Some("customer_edge"), edge);
    read_ok(
        &[pcap.to_str().unwrap(), "--config", cfg3.to_str().unwrap()],
        &out3,
    );
    let s3 = streams_by_egress(&out3);
    assert_eq!(s3["unknown"]["quality_profile"], "expressroute_segment");
    assert_eq!(s3["unknown"]["quality"], "poor");

    // The summary reads the worst windows back: p90 per egress.
    let o = pathlens(&["summary", "--format", "json", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let media = j["media"].as_array().unwrap();
    let er = media
        .iter()
        .find(|m| m["egress"] == "expressroute")
        .unwrap();
    assert_eq!(er["windowed"], 1);
    let p90 = er["loss_window_p90"].as_f64().unwrap();
    assert!(p90 > 0.5 && p90 < 0.55, "{er}");
    assert!(er["jitter_window_p90"].as_f64().unwrap() > 19.0, "{er}");
    assert_eq!(er["poor"], 1);
    let inet = media.iter().find(|m| m["egress"] == "unknown").unwrap();
    assert_eq!(inet["poor"], 0);
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
