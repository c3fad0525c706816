//! Classification scored against the corpus labels with `pathlens score`,
//! held to the thresholds of the classification issue: overall accuracy at
//! least 0.97, and precision and recall at least 0.95 for every class with
//! five or more labelled flows.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use support::*;

#[test]
fn corpus_classification_meets_the_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.parquet");
    read_ok(&[corpus().join("pcap").to_str().unwrap()], &out);
    let labels = corpus().join("labels.tsv");
    let o = pathlens(&[
        "score",
        "--labels",
        labels.to_str().unwrap(),
        out.to_str().unwrap(),
        "--min-accuracy",
        "0.97",
        "--min-class",
        "0.95",
        "--min-support",
        "5",
    ]);
    let report = String::from_utf8_lossy(&o.stdout);
    println!("{report}");
    assert!(
        o.status.success(),
        "thresholds not met:\n{report}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(report.contains("confusion matrix"));
    let acc_line = report.lines().find(|l| l.starts_with("accuracy ")).unwrap();
    let acc: f64 = acc_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(acc >= 0.97, "{acc_line}");
    assert!(
        acc_line.contains("of 316 labelled flows"),
        "every non-skip label was scored: {acc_line}"
    );
}

#[test]
fn port_only_mode_labels_from_ports_and_scores_lower() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ports.parquet");
    read_ok(
        &[
            "--classify",
            "port",
            corpus().join("pcap").to_str().unwrap(),
        ],
        &out,
    );
    let b = read_batches(&out);
    let sources = column_text(&b, "app_protocol_source");
    assert!(
        sources.iter().all(|s| s == "port" || s == "none"),
        "no payload evidence in port mode"
    );
    assert!(column_text(&b, "server_name").iter().all(String::is_empty));
    let labels = corpus().join("labels.tsv");
    let o = pathlens(&[
        "score",
        "--labels",
        labels.to_str().unwrap(),
        out.to_str().unwrap(),
        "--min-accuracy",
        "0.97",
    ]);
    assert_eq!(o.status.code(), Some(2), "ports alone do not reach the bar");
}

#[test]
fn score_fails_when_thresholds_are_not_met() {
    // Port-only labels (payload inspection defeated by a 54-byte snap
    // length) cannot reach the thresholds, and the command says so.
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut");
    std::fs::create_dir(&cut).unwrap();
    for f in ["chrome.pcap", "bittorrent.pcap", "sip.pcap", "dns.pcap"] {
        let src = corpus().join("pcap").join(f);
        let dst = cut.join(f);
        let o = std::process::Command::new("tcpdump")
            .args([
                "-r",
                src.to_str().unwrap(),
                "-s",
                "54",
                "-w",
                dst.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let out = dir.path().join("cut.parquet");
    assert!(pathlens(&[
        "read",
        "-q",
        cut.to_str().unwrap(),
        "-w",
        out.to_str().unwrap()
    ])
    .status
    .success());
    let labels = corpus().join("labels.tsv");
    let o = pathlens(&[
        "score",
        "--labels",
        labels.to_str().unwrap(),
        out.to_str().unwrap(),
        "--min-accuracy",
        "0.99",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(report.contains("FAIL accuracy"), "{report}");
}
