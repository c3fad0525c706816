//! The batch pipeline over the real-traffic corpus, checked against tshark and
//! against the corpus's own labels.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use support::*;

/// Per file and transport, where pathlens and tshark's conversation table
/// count flows differently on purpose, with the counts pinned.
const EXPLAINED: &[(&str, &str, usize, usize, &str)] = &[
    ("dtls.pcap", "udp", 3, 4, "one DTLS flow rides inside GTP-U; tshark lists the outer tunnel conversation and the inner one, pathlens opens GTP-U and keeps the inner flow alone"),
    ("rtsp.pcap", "tcp", 8, 7, "a SYN on a connection that was refused (REJ) half a second earlier starts a new record, as Zeek does; tshark keeps one conversation"),
    ("skinny.pcap", "udp", 5, 6, "tshark lists one RTP flow twice (one conversation per direction, set up by SCCP); labels.tsv counts 5 like pathlens"),
    ("snmp.pcap", "udp", 17, 34, "tshark splits each SNMP request/response 5-tuple into two conversations; labels.tsv counts 17 like pathlens"),
];

fn tshark_conversations(file: &Path) -> BTreeMap<&'static str, usize> {
    let out = tool(
        "tshark",
        &[
            "-r",
            file.to_str().unwrap(),
            "-q",
            "-z",
            "conv,tcp",
            "-z",
            "conv,udp",
        ],
    );
    let mut counts = BTreeMap::from([("tcp", 0), ("udp", 0)]);
    let mut cur = None;
    for line in out.lines() {
        if line.contains("TCP Conversations") {
            cur = Some("tcp");
        } else if line.contains("UDP Conversations") {
            cur = Some("udp");
        } else if line.contains("<->") {
            if let Some(c) = cur {
                *counts.get_mut(c).unwrap() += 1;
            }
        }
    }
    counts
}

/// (frames, frames without IPv4/IPv6) as tshark sees them.
fn tshark_frames(file: &Path) -> (u64, u64) {
    let out = tool(
        "tshark",
        &[
            "-r",
            file.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "ip.version",
            "-e",
            "ipv6.version",
        ],
    );
    let mut frames = 0;
    let mut non_ip = 0;
    for line in out.lines() {
        frames += 1;
        if line.split('\t').skip(1).all(|f| f.is_empty()) {
            non_ip += 1;
        }
    }
    (frames, non_ip)
}

type Pair = (String, BTreeSet<(String, i64)>);

fn labelled_flows() -> HashMap<String, BTreeSet<Pair>> {
    let text = std::fs::read_to_string(corpus().join("labels.tsv")).unwrap();
    let mut m: HashMap<String, BTreeSet<Pair>> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let ends = BTreeSet::from([
            (f[2].to_string(), f[3].parse().unwrap()),
            (f[4].to_string(), f[5].parse().unwrap()),
        ]);
        m.entry(f[0].to_string())
            .or_default()
            .insert((f[1].to_string(), ends));
    }
    m
}

#[test]
fn every_corpus_file_reads_and_agrees_with_tshark_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let labels = labelled_flows();
    let files = corpus_files();
    assert!(
        files.len() >= 50,
        "expected the whole corpus, found {}",
        files.len()
    );
    let mut problems = Vec::new();
    let mut explained_seen = 0;
    // Two at a time: the machine has two cores and tshark is the slow part.
    std::thread::scope(|s| {
        let chunks: Vec<_> = files.chunks(files.len().div_ceil(2)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let dir = dir.path();
                let labels = &labels;
                s.spawn(move || {
                    let mut problems = Vec::new();
                    let mut explained = 0;
                    for file in chunk {
                        let name = file.file_name().unwrap().to_str().unwrap().to_string();
                        let out = dir.join(format!("{name}.parquet"));
                        // Timeouts off: tshark and the labels never split a conversation.
                        let o = pathlens(&["read", "-q", "--idle-timeout", "100d", "--active-timeout", "100d", "--workers", "2", file.to_str().unwrap(), "-w", out.to_str().unwrap()]);
                        if !o.status.success() {
                            problems.push(format!("{name}: exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr)));
                            continue;
                        }
                        let b = read_batches(&out);
                        let c = counters(&out);
                        // Packets: every IP frame is in exactly one flow.
                        let (frames, non_ip) = tshark_frames(file);
                        let read = c["packets_read"].as_u64().unwrap();
                        let not_ip = c["not_ip"].as_u64().unwrap();
                        let malformed: u64 = c["malformed"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
                        let in_flows = (sum_i64(&b, "src2dst_packets") + sum_i64(&b, "dst2src_packets")) as u64;
                        if read != frames || not_ip != non_ip || in_flows != frames - not_ip - malformed {
                            problems.push(format!("{name}: frames {frames}/{read} non-IP {non_ip}/{not_ip} malformed {malformed} in flows {in_flows}"));
                        }
                        // Flow counts against tshark's conversation tables.
                        let transports = column_text(&b, "transport");
                        for (tr, theirs) in tshark_conversations(file) {
                            let ours = transports.iter().filter(|t| *t == tr).count();
                            let within = (ours as f64 - theirs as f64).abs() <= 0.02 * theirs as f64;
                            match EXPLAINED.iter().find(|e| e.0 == name && e.1 == tr) {
                                Some(e) => {
                                    explained += 1;
                                    if (ours, theirs) != (e.2, e.3) {
                                        problems.push(format!("{name} {tr}: explained difference changed: ours {ours} tshark {theirs}, expected {} {}", e.2, e.3));
                                    }
                                }
                                None if !within => problems.push(format!("{name} {tr}: ours {ours} tshark {theirs}")),
                                None => {}
                            }
                        }
                        // Every labelled flow is a row, with RFC 5952 addresses.
                        let (src, sp, dst, dp) = (column_text(&b, "src_ip"), column_text(&b, "src_port"), column_text(&b, "dst_ip"), column_text(&b, "dst_port"));
                        let ours: BTreeSet<Pair> = (0..src.len())
                            .map(|i| (transports[i].clone(), BTreeSet::from([(src[i].clone(), sp[i].parse().unwrap()), (dst[i].clone(), dp[i].parse().unwrap())])))
                            .collect();
                        for l in labels.get(&name).into_iter().flatten() {
                            // GTP-U is opened: the DTLS flow inside is the row,
                            // the outer tunnel flow (labelled skip) is not.
                            let gtp_outer = name == "dtls.pcap" && l.1.iter().any(|e| e.1 == 2152);
                            if !ours.contains(l) && !gtp_outer {
                                problems.push(format!("{name}: labelled flow {l:?} missing"));
                            }
                        }
                    }
                    (problems, explained)
                })
            })
            .collect();
        for h in handles {
            let (p, e) = h.join().unwrap();
            problems.extend(p);
            explained_seen += e;
        }
    });
    assert_eq!(
        explained_seen,
        EXPLAINED.len(),
        "every explained difference was checked"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn idle_timeout_splits_real_sip_dialogs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sip.parquet");
    let f = corpus().join("pcap/sip.pcap");
    read_ok(&[f.to_str().unwrap()], &out);
    let b = read_batches(&out);
    let ids = column_text(&b, "community_id");
    let reasons = column_text(&b, "end_reason");
    let first = column_text(&b, "first_seen");
    // The SIP 5-tuple pauses for more than 120 s between dialogs: several
    // records with one community id, all but the last ended by idle timeout.
    let mut by_id: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for i in 0..ids.len() {
        by_id
            .entry(&ids[i])
            .or_default()
            .push((&first[i], &reasons[i]));
    }
    let split: Vec<_> = by_id.values().filter(|v| v.len() > 1).collect();
    assert!(!split.is_empty(), "expected a split SIP flow: {by_id:?}");
    for v in split {
        let mut v = v.clone();
        v.sort();
        assert!(
            v[..v.len() - 1].iter().all(|(_, r)| *r == "idle_timeout"),
            "{v:?}"
        );
    }
    assert!(reasons.iter().filter(|r| *r == "idle_timeout").count() >= 2);
    assert_eq!(
        rows(&b),
        6,
        "4 conversations, one of them split into 3 records"
    );
}

#[test]
fn rows_do_not_depend_on_the_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let corpus_pcaps = corpus().join("pcap");
    let mut seen = Vec::new();
    for n in ["1", "2", "4"] {
        let out = dir.path().join(format!("w{n}.parquet"));
        let o = pathlens(&[
            "read",
            "-q",
            "--workers",
            n,
            corpus_pcaps.to_str().unwrap(),
            "-w",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        seen.push(row_texts(&read_batches(&out), &["run_id"]));
    }
    assert!(
        seen[0].len() > 300,
        "the whole corpus in one run: {} rows",
        seen[0].len()
    );
    assert_eq!(seen[0], seen[1], "1 vs 2 workers");
    assert_eq!(seen[0], seen[2], "1 vs 4 workers");
}

#[test]
fn snaplen_cut_frames_are_counted_and_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cut.parquet");
    let f = corpus().join("pcap/rsh-syslog-false-positive.pcap");
    read_ok(&[f.to_str().unwrap()], &out);
    let b = read_batches(&out);
    assert_eq!(counters(&out)["truncated"], 2);
    assert_eq!(sum_i64(&b, "truncated_packets"), 2);
    // Bytes come from the IP header, so cut frames still count in full.
    let captured = counters(&out)["captured_bytes"].as_i64().unwrap();
    assert!(
        sum_i64(&b, "bidirectional_bytes") > captured - 8 * 16,
        "IP bytes are not capped by the snap length"
    );
    assert_eq!(column_text(&b, "dst_port"), vec!["514"]);
}

#[test]
fn bpf_filter_keeps_only_matching_flows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tcp.parquet");
    let f = corpus().join("pcap/tls_certificate_too_long.pcap");
    read_ok(&["-f", "tcp port 443", f.to_str().unwrap()], &out);
    let b = read_batches(&out);
    let dst = column_text(&b, "dst_port");
    assert_eq!(dst.len(), 13, "the 13 flows on port 443 of this capture");
    assert!(dst.iter().all(|p| p == "443"));
    let o = pathlens(&["read", "-q", "-f", "tcp port", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("filter"),
        "a bad filter is named"
    );
}

#[test]
fn stdin_is_an_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdin.parquet");
    let data = std::fs::read(corpus().join("pcap/chrome.pcap")).unwrap();
    let mut child = Command::new(bin())
        .args(["read", "-q", "-", "-w", out.to_str().unwrap()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(child.wait().unwrap().success());
    let b = read_batches(&out);
    assert_eq!(rows(&b), 6);
    assert_eq!(column_text(&b, "interface")[0], "-");
}
