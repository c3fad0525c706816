//! From Parquet to answers: `pathlens summary` in each format against DuckDB
//! over the same files (a file, a dataset directory, a time range), the end
//! of `read` printing the same tables, `pathlens report` rendered by headless
//! Chromium, the examples notebook's answers on the sample, and the Spark
//! job in local mode against `pathlens summary`. Needs python3 with
//! duckdb/polars, chromium, pyspark and a JRE (all installed by the README's
//! test command).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

/// Runs a Python script of the repository with `args`; asserts success and
/// returns stdout.
fn python(script: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let o = Command::new("python3")
        .arg(script)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("python3 is needed by this test");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{}: {stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

fn check_summary(args: &[&str]) -> String {
    python(
        &repo().join("capture/tests/python/check_summary.py"),
        args,
        &[],
    )
}

/// `pathlens ARGS`, asserting success; stdout.
fn run(args: &[&str]) -> String {
    let o = pathlens(args);
    assert!(
        o.status.success(),
        "pathlens {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The sample read with its site config into DIR/sample.parquet; the
/// output path and what `read` printed.
fn sample(dir: &Path) -> (PathBuf, String) {
    let out = dir.join("sample.parquet");
    let printed = run(&[
        "read",
        repo().join("testdata/sample.pcap").to_str().unwrap(),
        "--config",
        repo().join("testdata/sample-site.toml").to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    (out, printed)
}

/// Everything after the first blank line: the tables.
fn tables(text: &str) -> &str {
    text.split_once("\n\n").map_or("", |(_, t)| t)
}

#[test]
fn summary_of_the_sample_in_each_format_matches_duckdb_and_the_end_of_read() {
    let dir = tempfile::tempdir().unwrap();
    let (out, printed) = sample(dir.path());
    let p = out.to_str().unwrap();

    let table = run(&["summary", p]);
    assert_eq!(tables(&table), tables(&printed), "one code path");
    assert!(
        table.starts_with("runs:     1 (1 inputs)\npackets:  790 read"),
        "{table}"
    );
    // Six: the peer-to-peer audio inside the site carries no evidence of
    // the service (no server name, address, marker or configured server).
    assert!(
        table.contains("skype_teams                               6"),
        "{table}"
    );

    let json = run(&["summary", "--format", "json", p]);
    let j = dir.path().join("summary.json");
    std::fs::write(&j, &json).unwrap();
    let streams = pathlens_export_streams(&out);
    let ok = check_summary(&[p, &streams, j.to_str().unwrap()]);
    assert!(ok.contains("summary ok: 10 flows, 4 streams"), "{ok}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["counters"]["packets_read"], 790);

    let csv = run(&["summary", "--format", "csv", p]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("table,key1,key2,metric,value"));
    assert!(lines.all(|l| l.split(',').count() >= 5), "{csv}");
    for want in [
        "total,,,bytes,171837",
        "by_egress,media,expressroute,flows,1",
        "by_app,srtp,udp,packets,502",
        "paths,,,with_expectation,6",
        "media,expressroute,,streams,2",
        "counters,records_written,,value,10",
    ] {
        assert!(csv.lines().any(|l| l == want), "{want} in\n{csv}");
    }
}

fn pathlens_export_streams(flows: &Path) -> String {
    let s = flows.with_extension("streams.parquet");
    assert!(s.is_file(), "{}", s.display());
    s.to_str().unwrap().to_string()
}

#[test]
fn summary_of_a_dataset_directory_and_a_time_range_match_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let ds_arg = format!("{}/", ds.display());
    run(&[
        "read",
        "-q",
        corpus().join("pcap").to_str().unwrap(),
        "-w",
        &ds_arg,
    ]);
    let flows = format!("{}/flows/**/*.parquet", ds.display());
    let streams = format!("{}/streams/**/*.parquet", ds.display());
    let j = dir.path().join("s.json");

    std::fs::write(&j, run(&["summary", "--format", "json", &ds_arg])).unwrap();
    let ok = check_summary(&[&flows, &streams, j.to_str().unwrap()]);
    assert!(ok.contains("summary ok: 356 flows"), "{ok}");

    // Partitions outside the range are skipped, rows at its edges filtered.
    let (from, to) = ("2005-01-01", "2012-06-01T12:30");
    std::fs::write(
        &j,
        run(&[
            "summary", "--format", "json", "--from", from, "--to", to, &ds_arg,
        ]),
    )
    .unwrap();
    let ok = check_summary(&[
        &flows,
        &streams,
        j.to_str().unwrap(),
        &format!("first_seen >= TIMESTAMPTZ '{from} 00:00:00+00' AND first_seen < TIMESTAMPTZ '2012-06-01 12:30:00+00'"),
    ]);
    let n: u64 = ok
        .trim_start_matches("summary ok: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 10 && n < 356, "{ok}");

    // A dataset, a partition inside it and a flows file, in one summary.
    let (single, _) = sample(dir.path());
    let part = std::fs::read_dir(ds.join("flows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&run(&[
        "summary",
        "--format",
        "json",
        &ds_arg,
        single.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(v["total"]["flows"], 366);
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["counters"]["records_written"], 366,
        "counters of both runs"
    );
    let v: serde_json::Value = serde_json::from_str(&run(&[
        "summary",
        "--format",
        "json",
        part.to_str().unwrap(),
    ]))
    .unwrap();
    assert!(v["total"]["flows"].as_u64().unwrap() > 0);
    assert!(
        !pathlens(&["summary", dir.path().join("none").to_str().unwrap()])
            .status
            .success()
    );
}

#[test]
fn report_renders_in_headless_chromium_with_its_charts() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = sample(dir.path());
    let html = dir.path().join("report.html");
    run(&[
        "report",
        out.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
        "--title",
        "pathlens report: sample",
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: no fetch; one inline script, the table sort.
    assert!(!page.contains("https://") && !page.contains("src="));
    assert_eq!(page.matches("<script").count(), 1);

    let url = format!("file://{}", html.display());
    let chromium = |extra: &[&str]| {
        let o = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium is needed by this test; the README's test command installs it");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // The DOM as the browser parsed it: every chart is an SVG with its bars.
    let dom = chromium(&["--dump-dom"]);
    assert_eq!(dom.matches("<svg").count(), 6, "charts in the DOM");
    assert!(dom.matches("class=\"bar\"").count() >= 20);
    assert_eq!(
        dom.matches("class=\"target\"").count(),
        2,
        "loss and jitter targets"
    );

    let png = dir.path().join("report.png");
    chromium(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1000,1500",
    ]);
    let out = python(
        &repo().join("capture/tests/python/check_png.py"),
        &[png.to_str().unwrap()],
        &[],
    );
    let field = |name: &str| -> f64 {
        out.split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(field("ink") > 0.03, "screenshot blank? {out}");
    assert!(field("colours") > 20.0, "charts are coloured: {out}");
    if std::env::var_os("PATHLENS_BLESS_SCREENSHOT").is_some() {
        std::fs::copy(&png, repo().join("examples/report.png")).unwrap();
    }
}

#[test]
fn examples_calls_by_building_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = sample(dir.path());
    let stdout = python(
        &repo().join("examples/calls_by_building.py"),
        &[out.to_str().unwrap()],
        &[],
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("calls_by_building: "))
        .expect("answer line");
    let a: serde_json::Value = serde_json::from_str(line).unwrap();
    // The sample's one call (Teams media and a Skype for Business call at
    // once, from 10.10.1.20) is in the Paris office, over ExpressRoute.
    assert_eq!(
        a,
        serde_json::json!({"PAR-HQ": {"calls": 1, "one_way_calls": 0, "streams": 4,
            "poor_streams": 0, "poor_pct": 0.0, "expressroute_pct": 100.0}})
    );
}

#[test]
fn examples_notebook_answers_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = sample(dir.path());
    let stdout = python(
        &repo().join("examples/answers.py"),
        &[out.to_str().unwrap()],
        &[],
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("answers: "))
        .expect("answers line");
    let a: serde_json::Value = serde_json::from_str(line).unwrap();
    // 1. Teams media leaves over ExpressRoute; the SfB call stays local.
    assert_eq!(a["media_bytes_by_egress"]["expressroute"], 100_108);
    assert_eq!(a["media_bytes_by_egress"]["local"], 40_000);
    assert_eq!(a["media_internet_share"], 0.0);
    // 2. Both calls are from the clients' subnet, and none is poor.
    assert_eq!(a["subnets"]["10.10.1.0/24"]["streams"], 4);
    assert_eq!(a["subnets_with_poor_calls"], serde_json::json!([]));
    // 3. Six flows have a call-flow expectation, none contradicted; no edges
    // configured, but the five local-public flows crossed learned edges, the
    // same one each way.
    assert_eq!(a["flows_with_expectation"], 6);
    assert_eq!(a["flagged_flows"], 0);
    assert_eq!(a["flows_with_edge_evidence"], 5);
    // The notebook holds the script's cells.
    let ok = python(&repo().join("examples/make_notebook.py"), &["--check"], &[]);
    assert!(ok.contains("up to date"), "{ok}");
}

#[test]
fn spark_job_in_local_mode_matches_summary() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let result = dir.path().join("result.json");
    let pcaps = ["sip.pcap", "skype-conference-call.pcap"]
        .map(|f| corpus().join("pcap").join(f).to_str().unwrap().to_string());
    let t = std::time::Instant::now();
    python(
        &repo().join("examples/spark/pathlens_spark.py"),
        &[
            "--pathlens",
            bin().to_str().unwrap(),
            "--out",
            ds.to_str().unwrap(),
            "--result",
            result.to_str().unwrap(),
            &pcaps[0],
            &pcaps[1],
        ],
        &[(
            "PYSPARK_SUBMIT_ARGS",
            "--master local[2] --driver-memory 512m --conf spark.ui.enabled=false \
             --conf spark.sql.shuffle.partitions=2 --conf spark.default.parallelism=2 pyspark-shell",
        )],
    );
    eprintln!("spark job: {:.1} s", t.elapsed().as_secs_f64());
    let spark: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let ours: serde_json::Value =
        serde_json::from_str(&run(&["summary", "--format", "json", ds.to_str().unwrap()])).unwrap();
    assert_eq!(spark["failed"], 0);
    assert_eq!(spark["total"], ours["total"]);
    assert_eq!(spark["by_egress"], ours["by_egress"]);
    assert_eq!(spark["by_app"], ours["by_app"]);
    assert_eq!(
        ours["runs"].as_array().unwrap().len(),
        2,
        "one run per capture"
    );
    assert!(ours["total"]["flows"].as_u64().unwrap() > 0);
}
