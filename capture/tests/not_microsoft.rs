//! Issue 11's "not Microsoft" regression set: generated captures of popular
//! non-Microsoft traffic on the ports Teams, Skype for Business and Exchange
//! also use must get no Microsoft `service`, and Microsoft flows in the same
//! capture must keep theirs, each named by the evidence in
//! `service_source`. A SYN scan across 50000-59999 must give no media and no
//! application label beyond a port name on a well-known server port.
//!
//! Every check compares pathlens's row with the generator's intent flow by
//! flow and lists every flow that differs, with what it got and wanted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[path = "support/not_ms_gen.rs"]
mod not_ms_gen;
#[path = "support/o365_list.rs"]
mod o365_list;
mod support;

use arrow::array::RecordBatch;
use not_ms_gen::Intent;
use o365_list::O365List;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use support::*;

const SEEDS: [u64; 2] = [1, 7];

/// Server ports on which a payload-less flow may carry a port's name
/// (`app_protocol_source = port`): the system ports and the registered
/// ports of the protocols `ports.toml` names for servers.
const WELL_KNOWN: &[u16] = &[
    5060, 5061, 5062, 5063, 5064, 5065, 5067, 5068, 5070, 5071, 5072, 5073, 5075, 5076, 5081, 5082,
    5086, 5087, 8057, 8058, 5222, 5269, 4443, 8443, 8080, 3478, 3479, 3480, 3481,
];

type Key = (String, [(IpAddr, u16); 2]);

fn key(transport: &str, a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
    let mut ends = [a, b];
    ends.sort();
    (transport.to_string(), ends)
}

/// The columns issue 11 is about, for one row.
#[derive(Debug)]
struct Row {
    src: String,
    dst: String,
    app: String,
    app_source: String,
    traffic: String,
    service: String,
    /// None when the column does not exist.
    service_source: Option<String>,
    payload_bytes: i64,
}

fn o365_path() -> PathBuf {
    corpus().join("o365/endpoints-worldwide.json")
}

fn has_column(b: &[RecordBatch], name: &str) -> bool {
    b.first()
        .is_some_and(|b| b.schema().column_with_name(name).is_some())
}

/// Runs pathlens on `pcap` with the real Office 365 list and `extra` flags.
fn run(pcap: &Path, extra: &[&str]) -> HashMap<Key, Vec<Row>> {
    let out = pcap.with_extension("parquet");
    let o365 = o365_path();
    let mut args = vec![
        pcap.to_str().unwrap(),
        "--o365",
        o365.to_str().unwrap(),
        "--workers",
        "2",
    ];
    args.extend_from_slice(extra);
    read_ok(&args, &out);
    let b = read_batches(&out);
    let col = |n: &str| column_text(&b, n);
    let (transport, src, sport, dst, dport) = (
        col("transport"),
        col("src_ip"),
        col("src_port"),
        col("dst_ip"),
        col("dst_port"),
    );
    let (app, app_source, traffic, service) = (
        col("app_protocol"),
        col("app_protocol_source"),
        col("traffic_type"),
        col("service"),
    );
    let (up, down) = (col("src2dst_payload_bytes"), col("dst2src_payload_bytes"));
    let service_source = has_column(&b, "service_source").then(|| col("service_source"));
    let mut rows: HashMap<Key, Vec<Row>> = HashMap::new();
    for i in 0..support::rows(&b) {
        let end = |a: &str, p: &str| (a.parse::<IpAddr>().unwrap(), p.parse::<u16>().unwrap());
        let k = key(
            &transport[i],
            end(&src[i], &sport[i]),
            end(&dst[i], &dport[i]),
        );
        rows.entry(k).or_default().push(Row {
            src: format!("{}:{}", src[i], sport[i]),
            dst: format!("{}:{}", dst[i], dport[i]),
            app: app[i].clone(),
            app_source: app_source[i].clone(),
            traffic: traffic[i].clone(),
            service: service[i].clone(),
            service_source: service_source.as_ref().map(|c| c[i].clone()),
            payload_bytes: up[i].parse::<i64>().unwrap() + down[i].parse::<i64>().unwrap(),
        });
    }
    rows
}

fn shown(v: &str) -> &str {
    if v.is_empty() {
        "null"
    } else {
        v
    }
}

/// How a row differs from its intent, for the columns `check` selects.
fn differences(it: &Intent, r: &Row, labels: bool, service_source: bool) -> Vec<String> {
    let mut d = Vec::new();
    if labels {
        let initiator = format!("{}:{}", it.client.0, it.client.1);
        if r.src != initiator {
            d.push(format!("src {} (want the initiator {initiator})", r.src));
        }
        if !it.app.contains(&r.app.as_str()) {
            d.push(format!("app_protocol {} (want {:?})", r.app, it.app));
        }
        if let Some(s) = it.app_source {
            if r.app_source != s {
                d.push(format!("app_protocol_source {} (want {s})", r.app_source));
            }
        }
        if !it.traffic.contains(&r.traffic.as_str()) {
            d.push(format!(
                "traffic_type {} (want {:?})",
                r.traffic, it.traffic
            ));
        }
        if r.service != it.service.unwrap_or("") {
            d.push(format!(
                "service {} (want {})",
                shown(&r.service),
                it.service.unwrap_or("null")
            ));
        }
    }
    if service_source {
        match &r.service_source {
            None => d.push("no service_source column (issue 11 point 3)".to_string()),
            Some(got) if got != it.service_source.unwrap_or("") => d.push(format!(
                "service_source {} (want {})",
                shown(got),
                it.service_source.unwrap_or("null")
            )),
            Some(_) => {}
        }
    }
    d
}

/// Compares every intent with its row; returns one readable block per flow
/// that differs.
fn compare(
    intents: &[&Intent],
    rows: &HashMap<Key, Vec<Row>>,
    labels: bool,
    service_source: bool,
) -> Vec<String> {
    let mut bad = Vec::new();
    for it in intents {
        let k = key(it.transport, it.client, it.server);
        let flow = format!(
            "{} {}:{} -> {}:{}",
            it.transport, it.client.0, it.client.1, it.server.0, it.server.1
        );
        match rows.get(&k).map(Vec::as_slice) {
            None | Some([]) => bad.push(format!("{}\n    {flow}: no row", it.what)),
            Some([r]) => {
                let d = differences(it, r, labels, service_source);
                if !d.is_empty() {
                    bad.push(format!(
                        "{}\n    {flow} (row {} -> {}): {}",
                        it.what,
                        r.src,
                        r.dst,
                        d.join("; ")
                    ));
                }
            }
            Some(more) => bad.push(format!("{}\n    {flow}: {} rows", it.what, more.len())),
        }
    }
    bad
}

/// The first `n` entries, and how many were left out.
fn first(bad: &[String], n: usize) -> String {
    let mut s = bad.iter().take(n).cloned().collect::<Vec<_>>().join("\n  ");
    if bad.len() > n {
        s.push_str(&format!("\n  ... and {} more", bad.len() - n));
    }
    s
}

fn fail_on(bad: &[String], total: usize, what: &str) {
    assert!(
        bad.is_empty(),
        "issue 11: {} of {total} {what} differ from their intent:\n  {}",
        bad.len(),
        first(bad, 60)
    );
}

#[test]
fn non_microsoft_traffic_gets_no_microsoft_service() {
    let o365 = O365List::load(&o365_path());
    let dir = tempfile::tempdir().unwrap();
    for seed in SEEDS {
        let pcap = dir.path().join(format!("not-ms-{seed}.pcap"));
        let intents = not_ms_gen::write(&pcap, seed);
        let negatives: Vec<&Intent> = intents.iter().filter(|i| i.service.is_none()).collect();
        assert!(negatives.len() >= 40, "the generator lost flows");
        for it in &negatives {
            assert!(
                !o365.contains(it.server.0),
                "generator: {} uses {}, which is in an Office 365 set",
                it.what,
                it.server.0
            );
        }
        let rows = run(&pcap, &[]);
        let bad = compare(&negatives, &rows, true, false);
        fail_on(
            &bad,
            negatives.len(),
            &format!("non-Microsoft flows (seed {seed})"),
        );
    }
}

#[test]
fn microsoft_flows_keep_their_service() {
    let dir = tempfile::tempdir().unwrap();
    for seed in SEEDS {
        let pcap = dir.path().join(format!("ms-{seed}.pcap"));
        let intents = not_ms_gen::write(&pcap, seed);
        let positives: Vec<&Intent> = intents.iter().filter(|i| i.service.is_some()).collect();
        assert!(positives.len() >= 12, "the generator lost flows");
        let rows = run(&pcap, &[]);
        let bad = compare(&positives, &rows, true, false);
        fail_on(
            &bad,
            positives.len(),
            &format!("Microsoft flows (seed {seed})"),
        );
    }
}

#[test]
fn service_source_names_the_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("source.pcap");
    let intents = not_ms_gen::write(&pcap, SEEDS[0]);
    let rows = run(&pcap, &[]);
    assert!(
        rows.values().flatten().all(|r| r.service_source.is_some()),
        "issue 11 point 3: the output has no service_source column \
         (sni, o365, protocol, config, correlation; null when service is null)"
    );
    let all: Vec<&Intent> = intents.iter().collect();
    let bad = compare(&all, &rows, false, true);
    fail_on(&bad, all.len(), "flows' service_source values");
}

#[test]
fn configured_onprem_servers_name_their_service() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("onprem.pcap");
    let intents = not_ms_gen::write_onprem(&pcap, SEEDS[0]);
    let rows = run(&pcap, &["--onprem", "10.20.0.0/24"]);
    let all: Vec<&Intent> = intents.iter().collect();
    let bad = compare(&all, &rows, true, true);
    fail_on(&bad, all.len(), "flows to on-premises servers");
}

#[test]
fn syn_scan_across_the_media_range_is_not_media() {
    let dir = tempfile::tempdir().unwrap();
    for seed in SEEDS {
        let pcap = dir.path().join(format!("scan-{seed}.pcap"));
        let flows = not_ms_gen::write_scan(&pcap, seed, 150);
        let rows = run(&pcap, &[]);
        let all: Vec<&Row> = rows.values().flatten().collect();
        assert_eq!(all.len(), flows, "one row per scanned port (seed {seed})");
        let mut bad = Vec::new();
        for r in &all {
            assert_eq!(r.payload_bytes, 0, "generator: the scan carries no payload");
            let dport: u16 = r.dst.rsplit(':').next().unwrap().parse().unwrap();
            let mut d = Vec::new();
            if r.traffic == "media" {
                d.push("traffic_type media".to_string());
            }
            if !r.service.is_empty() {
                d.push(format!("service {}", r.service));
            }
            match r.app_source.as_str() {
                "none" if r.app == "unknown" => {}
                "port" if dport < 1024 || WELL_KNOWN.contains(&dport) => {}
                _ => d.push(format!(
                    "app_protocol {} from {} on server port {dport} (no payload: at most a \
                     well-known server port's name)",
                    r.app, r.app_source
                )),
            }
            if !d.is_empty() {
                bad.push(format!("tcp {} -> {}: {}", r.src, r.dst, d.join("; ")));
            }
        }
        bad.sort();
        assert!(
            bad.is_empty(),
            "issue 11: {} of {} payload-less scan flows (seed {seed}) are labelled:\n  {}",
            bad.len(),
            all.len(),
            first(&bad, 30)
        );
    }
}
