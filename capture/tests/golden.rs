//! Every column of every row, flows and streams, for the whole real-traffic
//! corpus, the bundled sample and a generated two-edge capture, compared with
//! the committed text in `testdata/golden/`. A refactoring must leave these
//! files unchanged; an intended change of output regenerates them with
//! `PATHLENS_BLESS=1 cargo test -p pathlens --test golden`, and the diff is
//! reviewed like code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::Path;
use support::*;

/// Columns that name the run or the machine, not the traffic.
const NOT_TRAFFIC: &[&str] = &["run_id", "sensor"];

/// Both tables of one output as TSV: a header of column names, then one
/// line per row, sorted.
fn table_text(path: &Path) -> String {
    let b = read_batches(path);
    let names: Vec<String> = match b.first() {
        Some(first) => first
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !NOT_TRAFFIC.contains(&n.as_str()))
            .collect(),
        None => return String::new(),
    };
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut out = names.join("\t");
    out.push('\n');
    // The interface is the input path, which depends on where the clone
    // sits: keep its file name.
    let cols: Vec<Vec<String>> = refs
        .iter()
        .map(|n| {
            let c = column_text(&b, n);
            if *n != "interface" {
                return c;
            }
            c.iter()
                .map(|p| {
                    Path::new(p)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        })
        .collect();
    let mut lines: Vec<String> = (0..rows(&b))
        .map(|i| {
            cols.iter()
                .map(|c| c[i].as_str())
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect();
    lines.sort();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn check(name: &str, text: &str) {
    let committed = repo().join("testdata/golden").join(name);
    if std::env::var_os("PATHLENS_BLESS").is_some() {
        std::fs::write(&committed, text).unwrap();
    }
    let want = std::fs::read_to_string(&committed).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (PATHLENS_BLESS=1 to write it)",
            committed.display()
        )
    });
    if want != text {
        let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), text.lines().collect());
        let only_want: Vec<&&str> = w.iter().filter(|l| !g.contains(l)).take(3).collect();
        let only_got: Vec<&&str> = g.iter().filter(|l| !w.contains(l)).take(3).collect();
        panic!(
            "{name} differs from the committed golden file ({} vs {} lines)\n\
             committed only: {only_want:#?}\nnow only: {only_got:#?}\n\
             (PATHLENS_BLESS=1 to regenerate after an intended change)",
            w.len(),
            g.len()
        );
    }
}

fn read_and_check(name: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    read_ok(args, &out);
    check(&format!("{name}.flows.tsv"), &table_text(&out));
    check(
        &format!("{name}.streams.tsv"),
        &table_text(&dir.path().join("out.streams.parquet")),
    );
}

#[test]
fn corpus_output_is_the_committed_golden_text() {
    let o365 = corpus().join("o365/endpoints-worldwide.json");
    read_and_check(
        "corpus",
        &[
            corpus().join("pcap").to_str().unwrap(),
            "--o365",
            o365.to_str().unwrap(),
            "--workers",
            "2",
        ],
    );
}

#[test]
fn sample_output_is_the_committed_golden_text() {
    let site = repo().join("testdata/sample-site.toml");
    read_and_check(
        "sample",
        &[
            repo().join("testdata/sample.pcap").to_str().unwrap(),
            "--config",
            site.to_str().unwrap(),
        ],
    );
}

#[test]
fn generated_two_edge_output_is_the_committed_golden_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("o365.json"), egress_gen::O365_JSON).unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, egress_gen::SITE_TOML).unwrap();
    let pcap = dir.path().join("egress.pcap");
    egress_gen::write(&pcap, 7);
    read_and_check(
        "egress-7",
        &[
            pcap.to_str().unwrap(),
            "--config",
            site.to_str().unwrap(),
            "--workers",
            "3",
        ],
    );
}
