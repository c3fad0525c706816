//! Every example of the README and of `docs/` runs: the quick start's read
//! command (taken from `.ci/quickstart` itself) writes the sample's output
//! into a scratch directory, then `python/doc_examples.py` extracts each
//! SQL, shell and Python block from the Markdown and runs it there (DuckDB,
//! bash, python3) with this build's `pathlens` on the PATH, comparing each
//! documented output that follows a command with what the command prints,
//! the quick start's printed tables included. Needs python3 with duckdb,
//! polars, pandas and pyarrow (installed by the README's test command).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::process::Command;
use support::*;

/// The Markdown files whose examples run: the README, then `docs/` by name.
fn pages() -> Vec<std::path::PathBuf> {
    let mut docs: Vec<_> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut v = vec![repo().join("README.md")];
    v.extend(docs);
    v
}

#[test]
fn readme_and_docs_examples_run_against_the_quick_starts_output() {
    // The README's two commands are the suite's, and CI runs the second.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("```sh\nbash .ci/quickstart\nbash .ci/test\n```"),
        "the quick start's two commands"
    );
    assert!(
        readme.lines().count() <= 300,
        "the README fits on a few screens"
    );
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "bash .ci/test"), "{ci}");

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    for d in ["testdata", "signatures", "examples"] {
        std::os::unix::fs::symlink(repo().join(d), work.join(d)).unwrap();
    }
    let quickstart = std::fs::read_to_string(repo().join(".ci/quickstart")).unwrap();
    let read = quickstart
        .lines()
        .find(|l| l.starts_with("./target/release/pathlens read "))
        .expect("the quick start reads the sample");
    let args: Vec<&str> = read.split_whitespace().skip(1).collect();
    let o = Command::new(bin())
        .args(&args)
        .current_dir(work)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(work.join("sample.parquet").is_file() && work.join("sample.streams.parquet").is_file());
    std::fs::write(work.join(".quickstart.out"), &o.stdout).unwrap();

    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("python3")
        .arg(repo().join("capture/tests/python/doc_examples.py"))
        .arg(work.join(".quickstart.out"))
        .args(pages())
        .current_dir(work)
        .env("PATH", path)
        .output()
        .expect("python3 is needed by this test");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{out}");
    // Every kind of example ran, and documented outputs were compared.
    let field = |name: &str| -> u32 {
        let w: Vec<&str> = out
            .split_whitespace()
            .map(|x| x.trim_end_matches(','))
            .collect();
        let i = w.iter().position(|x| *x == name).unwrap();
        w[i - 1].parse().unwrap()
    };
    assert!(
        field("sql") >= 5 && field("sh") >= 4 && field("python") >= 3,
        "{out}"
    );
    assert!(field("outputs") >= 6, "{out}");
}
