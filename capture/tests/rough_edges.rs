//! The messages a new user meets first say what is wrong and where: an
//! empty or wrongly shaped `--o365` list, a capture given to `--o365`, an
//! empty input directory, and a filter that matches nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use support::*;

fn err_of(args: &[&str]) -> (i32, String) {
    let o = pathlens(args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn o365_list_errors_say_which_flag_and_what_shape() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo().join("testdata/sample.pcap");
    let sample = sample.to_str().unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "[]\n").unwrap();
    let (code, e) = err_of(&["read", sample, "-q", "--o365", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("--o365") && e.contains("no endpoint set"), "{e}");

    let tags = dir.path().join("tags.json");
    std::fs::write(&tags, "{\"changeNumber\": 1, \"values\": []}\n").unwrap();
    let (code, e) = err_of(&["read", sample, "-q", "--o365", tags.to_str().unwrap()]);
    assert_eq!(code, 2, "{e}");
    assert!(!e.contains("invalid JSON"), "valid JSON, wrong shape: {e}");
    assert!(e.contains("a JSON array of endpoint sets"), "{e}");

    let (code, e) = err_of(&["read", sample, "-q", "--o365", sample]);
    assert_eq!(code, 2, "{e}");
    assert!(
        e.contains("--o365 takes the Office 365 endpoints JSON") && e.contains("sample.pcap"),
        "{e}"
    );
}

#[test]
fn an_empty_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("caps");
    std::fs::create_dir(&caps).unwrap();
    let (code, e) = err_of(&["read", caps.to_str().unwrap(), "-q"]);
    assert_eq!(code, 2, "{e}");
    assert!(
        e.contains(&format!("{} (an empty directory)", caps.display())),
        "{e}"
    );
}

#[test]
fn a_filter_matching_nothing_prints_no_empty_reasons() {
    let sample = repo().join("testdata/sample.pcap");
    let o = pathlens(&["read", sample.to_str().unwrap(), "-f", "tcp port 9"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("flows:    0 created, 0 records, 0 evicted"),
        "{out}"
    );
    assert!(!out.contains("()"), "{out}");
}
