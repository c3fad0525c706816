//! The path each flow really took, end to end: edges learned from the wire
//! (no `[[edge]]` configured), the path of the edge crossed, call-flow
//! verdicts against it, asymmetry, handshake and STUN round trips and DSCP
//! per direction, for every flow of a generated capture and any number of
//! workers; the same verdicts with the edges configured; nothing inferred
//! without local-public pairs; and the handshake split against tshark.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::HashMap;
use std::path::Path;
use support::path_gen::{self, Intent};
use support::*;

const COLS: [&str; 10] = [
    "src2dst_edge",
    "dst2src_edge",
    "observed_egress",
    "path_conformant",
    "asymmetric",
    "server_rtt_ms",
    "client_rtt_ms",
    "stun_rtt_ms",
    "src2dst_dscp",
    "dst2src_dscp",
];

/// Rows by `src sport dst dport`: the checked columns, then `path_note`.
fn read_rows(pcap: &Path, site: &Path, workers: &str, out: &Path) -> HashMap<String, Vec<String>> {
    read_rows_with(pcap, site, workers, out, &[])
}

fn read_rows_with(
    pcap: &Path,
    site: &Path,
    workers: &str,
    out: &Path,
    extra: &[&str],
) -> HashMap<String, Vec<String>> {
    let mut args = vec![
        pcap.to_str().unwrap(),
        "--config",
        site.to_str().unwrap(),
        "--workers",
        workers,
    ];
    args.extend_from_slice(extra);
    read_ok(&args, out);
    let b = read_batches(out);
    let col = |n: &str| column_text(&b, n);
    let key: Vec<Vec<String>> = ["src_ip", "src_port", "dst_ip", "dst_port"]
        .iter()
        .map(|n| col(n))
        .collect();
    let cols: Vec<Vec<String>> = COLS.iter().chain(&["path_note"]).map(|n| col(n)).collect();
    let n = rows(&b);
    let mut rows = HashMap::new();
    for i in 0..n {
        let k: Vec<&str> = key.iter().map(|c| c[i].as_str()).collect();
        let v = cols.iter().map(|c| c[i].clone()).collect();
        assert!(rows.insert(k.join(" "), v).is_none(), "two rows for {k:?}");
    }
    rows
}

fn want(it: &Intent, name: &dyn Fn([u8; 6]) -> String) -> Vec<String> {
    let o = |x: Option<String>| x.unwrap_or_default();
    let ms = |x: Option<f64>| o(x.map(|v| format!("{v:.1}")));
    vec![
        o(it.edges[0].map(name)),
        o(it.edges[1].map(name)),
        it.observed.unwrap_or_default().to_string(),
        o(it.conformant.map(|x| x.to_string())),
        o(it.asymmetric.map(|x| x.to_string())),
        ms(it.rtt_ms[0]),
        ms(it.rtt_ms[1]),
        ms(it.rtt_ms[2]),
        o(it.dscp[0].map(|x| x.to_string())),
        o(it.dscp[1].map(|x| x.to_string())),
    ]
}

fn check(
    rows: &HashMap<String, Vec<String>>,
    intents: &[Intent],
    name: &dyn Fn([u8; 6]) -> String,
    ctx: &str,
) {
    assert_eq!(
        rows.len(),
        intents.len(),
        "one row per generated flow ({ctx})"
    );
    for it in intents {
        let key = format!("{} {} {} {}", it.src.0, it.src.1, it.dst.0, it.dst.1);
        let got = rows
            .get(&key)
            .unwrap_or_else(|| panic!("no row for {} ({ctx})", it.what));
        let mut got: Vec<String> = got[..COLS.len()].to_vec();
        // Round trips to 0.1 ms: the generator's are whole milliseconds.
        for g in &mut got[5..8] {
            if let Ok(v) = g.parse::<f64>() {
                *g = format!("{v:.1}");
            }
        }
        let w = want(it, name);
        for (i, c) in COLS.iter().enumerate() {
            assert_eq!(got[i], w[i], "{c} of {} ({key}, {ctx})", it.what);
        }
    }
}

/// A directory with the Office 365 list, the site config without edges
/// and the same with the two routers configured.
fn site_files() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("o365.json"), egress_gen::O365_JSON).unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, path_gen::SITE_TOML).unwrap();
    let edges = dir.path().join("edges.toml");
    std::fs::write(
        &edges,
        format!("{}{}", path_gen::SITE_TOML, path_gen::EDGES_TOML),
    )
    .unwrap();
    (dir, site, edges)
}

/// Edges re-learned every few seconds of a capture whose flows start 2 s
/// apart: dozens of intervals, decided while the workers run at their own
/// pace, and old decisions dropped as the workers move on. Every flow has
/// its row, and the rows do not depend on the worker count.
#[test]
fn short_intervals_lose_no_row_and_agree_across_worker_counts() {
    let (dir, site, _) = site_files();
    let pcap = dir.path().join("paths-short.pcap");
    let intents = path_gen::write(&pcap, 5);
    let mut first: Option<HashMap<String, Vec<String>>> = None;
    for workers in ["1", "2", "4"] {
        let out = dir.path().join(format!("paths-short-{workers}.parquet"));
        let rows = read_rows_with(&pcap, &site, workers, &out, &["--edge-warmup", "5s"]);
        assert_eq!(rows.len(), intents.len(), "{workers} workers");
        match &first {
            None => first = Some(rows),
            Some(f) => assert_eq!(f, &rows, "{workers} workers"),
        }
    }
    // Each interval judges by what the earlier ones learned: every flow
    // gets the path its generator meant.
    check(
        &first.unwrap(),
        &intents,
        &path_gen::learned_name,
        "5 s intervals",
    );
}

#[test]
fn learned_edges_match_generator_intent_for_any_worker_count() {
    let (dir, site, edges) = site_files();
    for seed in [3u64, 11] {
        let pcap = dir.path().join(format!("paths-{seed}.pcap"));
        let intents = path_gen::write(&pcap, seed);
        let mut first: Option<HashMap<String, Vec<String>>> = None;
        for workers in ["1", "2", "4"] {
            let out = dir.path().join(format!("paths-{seed}-{workers}.parquet"));
            let rows = read_rows(&pcap, &site, workers, &out);
            check(
                &rows,
                &intents,
                &path_gen::learned_name,
                &format!("seed {seed}, {workers} workers"),
            );
            // Notes included: the rows do not depend on the worker count.
            match &first {
                None => first = Some(rows),
                Some(f) => assert_eq!(f, &rows, "{workers} workers"),
            }
        }
        let rows = first.unwrap();
        let note = |what: &str| {
            let it = intents.iter().find(|i| i.what == what).unwrap();
            let key = format!("{} {} {} {}", it.src.0, it.src.1, it.dst.0, it.dst.1);
            rows[&key][COLS.len()].clone()
        };
        let leak = note("teams audio leak");
        assert!(leak.contains("prefix predicts expressroute but src2dst crossed edge edge-02:11:00:00:00:01 (internet)"), "{leak}");
        assert!(
            leak.contains("dst2src re-marked to DSCP 0 (sent 46)"),
            "{leak}"
        );
        let unmarked = note("public video unmarked");
        assert!(
            unmarked.contains("src2dst video marked DSCP 0, not AF41 34"),
            "{unmarked}"
        );
        // The summary: both edges with their inferred paths, the unanswered
        // SYNs and STUN requests on the ER edge, the Teams leaks.
        let rounds = intents.len() / 15;
        let o = pathlens(&[
            "read",
            pcap.to_str().unwrap(),
            "--config",
            site.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&o.stdout);
        let er = format!(
            "{:<28} {:<30} {:<12} {:>8}",
            path_gen::learned_name(path_gen::ER_MAC),
            "02:e0:00:00:00:01",
            "expressroute",
            8 * rounds
        );
        let inet = format!(
            "{:<28} {:<30} {:<12} {:>8}",
            path_gen::learned_name(path_gen::INET_MAC),
            "02:11:00:00:00:01",
            "internet",
            9 * rounds
        );
        let line = |l: &str| text.lines().find(|x| x.starts_with(l)).map(str::to_string);
        let er_line = line(&er).unwrap_or_else(|| panic!("{er}\n{text}"));
        // The one_way column, before the evidence.
        let one_way = |l: &str| l.get(97..105).map(|s| s.trim().to_string());
        assert_eq!(
            one_way(&er_line),
            Some((2 * rounds).to_string()),
            "one-way flows: {er_line}"
        );
        assert!(er_line.contains("% of its"), "evidence: {er_line}");
        assert!(
            line(&inet).is_some_and(|l| one_way(&l).as_deref() == Some("0")),
            "{inet}\n{text}"
        );
        assert!(
            text.contains(&format!(
                "Office 365 ExpressRoute traffic on the Internet edge: {} flows",
                2 * rounds
            )),
            "{text}"
        );
        assert!(
            text.contains("media bytes via internet marked DSCP 0:"),
            "{text}"
        );
        // Configured edges give the same verdicts under their own names.
        let out = dir.path().join(format!("paths-{seed}-edges.parquet"));
        let rows = read_rows(&pcap, &edges, "2", &out);
        check(
            &rows,
            &intents,
            &path_gen::configured_name,
            &format!("seed {seed}, configured"),
        );
    }
}

#[test]
fn without_local_public_pairs_nothing_is_inferred() {
    let (dir, site, _) = site_files();
    let pcap = dir.path().join("transit.pcap");
    let intents = path_gen::write_no_pairs(&pcap, 5);
    let out = dir.path().join("transit.parquet");
    let rows = read_rows(&pcap, &site, "2", &out);
    check(&rows, &intents, &path_gen::learned_name, "no pairs");
    let b = read_batches(&out);
    for c in [
        "src2dst_next_hop",
        "dst2src_next_hop",
        "path_conformant",
        "observed_egress",
    ] {
        assert!(column_text(&b, c).iter().all(String::is_empty), "{c}");
    }
}

/// tshark's handshake per TCP stream of `file`: the 4-tuple of the SYN,
/// then (SYN to SYN-ACK, `tcp.analysis.initial_rtt`) in ms. tshark times
/// `initial_rtt` from the most recent SYN to the ACK of the SYN-ACK (the
/// first packet showing it); the split falls at the first SYN-ACK after
/// that SYN, the server's answer to it. tls_port_80.pcapng shows why not
/// the latest SYN-ACK: after the last SYN the server answers in 126 ms,
/// then retransmits its SYN-ACK 4 s later, and the client ACKs 3.3 s after
/// that; the server side is the 126 ms.
fn tshark_handshakes(file: &Path) -> HashMap<String, (f64, f64)> {
    let f = file.to_str().unwrap();
    let syns = tool(
        "tshark",
        &[
            "-r",
            f,
            "-Y",
            "tcp.flags.syn==1",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.flags.ack",
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.dstport",
        ],
    );
    // Per stream: its first SYN's 4-tuple, every SYN time, every SYN-ACK time.
    let mut hs: HashMap<String, (String, Vec<f64>, Vec<f64>)> = HashMap::new();
    for line in syns.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let [stream, ack, t, s4, s6, sp, d4, d6, dp] = c[..] else {
            continue;
        };
        let t: f64 = t.parse().unwrap();
        let e = hs.entry(stream.to_string()).or_default();
        if ack == "1" || ack == "True" {
            e.2.push(t);
        } else {
            if e.0.is_empty() {
                e.0 = format!("{s4}{s6} {sp} {d4}{d6} {dp}");
            }
            e.1.push(t);
        }
    }
    let rtts = tool(
        "tshark",
        &[
            "-r",
            f,
            "-Y",
            "tcp.analysis.initial_rtt",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.analysis.initial_rtt",
            "-e",
            "frame.time_epoch",
        ],
    );
    let mut out = HashMap::new();
    for line in rtts.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let [stream, rtt, at] = c[..] else {
            continue;
        };
        let Some((key, syns, synacks)) = hs.get(stream) else {
            continue;
        };
        let at: f64 = at.parse().unwrap();
        let Some(syn) = syns.iter().rev().find(|t| **t <= at) else {
            continue;
        };
        let Some(synack) = synacks.iter().find(|t| *t >= syn && **t <= at) else {
            continue;
        };
        let rtt: f64 = rtt.parse().unwrap();
        out.entry(key.clone())
            .or_insert(((synack - syn) * 1e3, rtt * 1e3));
    }
    out
}

#[test]
fn handshake_split_matches_tshark_initial_rtt_on_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for file in corpus_files() {
        let want = tshark_handshakes(&file);
        if want.is_empty() {
            continue;
        }
        let name = file.file_name().unwrap().to_string_lossy();
        let out = dir.path().join(format!("{name}.parquet"));
        read_ok(&[file.to_str().unwrap()], &out);
        let b = read_batches(&out);
        let col = |n: &str| column_text(&b, n);
        let (src, sp, dst, dp) = (
            col("src_ip"),
            col("src_port"),
            col("dst_ip"),
            col("dst_port"),
        );
        let (server, client) = (col("server_rtt_ms"), col("client_rtt_ms"));
        let keys: Vec<String> = (0..rows(&b))
            .map(|i| format!("{} {} {} {}", src[i], sp[i], dst[i], dp[i]))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            // tshark keeps one stream where pathlens starts a record per
            // connection attempt (a SYN after a refusal, rtsp.pcap): only
            // 4-tuples of one record compare.
            if keys.iter().filter(|k| *k == key).count() > 1 {
                continue;
            }
            let Some((w_server, w_initial)) = want.get(key) else {
                continue;
            };
            if server[i].is_empty() {
                // A later record of the same 4-tuple has no handshake.
                continue;
            }
            let s: f64 = server[i].parse().unwrap();
            let c: f64 = client[i].parse().unwrap();
            let name = file.file_name().unwrap().to_string_lossy();
            // Microsecond capture clocks: equal to the microsecond.
            assert!(
                (s - w_server).abs() < 1e-3,
                "{name} {key}: server {s} vs {w_server}"
            );
            assert!(
                (s + c - w_initial).abs() < 1e-3,
                "{name} {key}: {s} + {c} vs initial_rtt {w_initial}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 50, "only {compared} handshakes compared");
}

#[test]
fn a_reply_on_another_vlan_is_one_asymmetric_flow() {
    let (dir, site, _) = site_files();
    let pcap = dir.path().join("vlan.pcap");
    let (c, s) = path_gen::write_vlan_split(&pcap);
    let out = dir.path().join("vlan.parquet");
    let rows = read_rows(&pcap, &site, "2", &out);
    // Were the VLAN part of the flow key, the reply would be a second flow.
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[&format!("{c} {s}")];
    assert_eq!(
        (&r[0][..], &r[1][..], &r[4][..], &r[5][..], &r[6][..]),
        (
            "edge-02:11:00:00:00:01",
            "edge-02:11:00:00:00:01.200",
            "true",
            "30.0",
            "1.0"
        )
    );
}
