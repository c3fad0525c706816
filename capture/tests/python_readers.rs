//! The output opens in pyarrow, pandas, polars and DuckDB with the types of
//! schema.md section 1, and every community_id matches the reference Python
//! implementation. Needs python3 with capture/tests/python/requirements.txt
//! (installed by the README's test command).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use support::*;

fn check_with_python(parquet: &std::path::Path) {
    let script = repo().join("capture/tests/python/check_readers.py");
    let o = std::process::Command::new("python3")
        .arg(&script)
        .arg(parquet)
        .output()
        .expect("python3 is needed by this test");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("readers ok"), "{stdout}");
}

#[test]
fn python_readers_see_the_contract_types_on_the_whole_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.parquet");
    read_ok(&[corpus().join("pcap").to_str().unwrap()], &out);
    check_with_python(&out);
}

#[test]
fn python_readers_on_the_sample_with_snappy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.parquet");
    let pcap = repo().join("testdata/sample.pcap");
    read_ok(&["--compression", "snappy", pcap.to_str().unwrap()], &out);
    // The Python check insists on zstd; snappy is checked here by reading it back.
    let f = std::fs::File::open(&out).unwrap();
    let r = parquet::file::reader::SerializedFileReader::new(f).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(
        r.metadata().row_group(0).column(0).compression(),
        parquet::basic::Compression::SNAPPY
    );
    assert_eq!(rows(&read_batches(&out)), 10);
}
