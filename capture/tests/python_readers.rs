//! The output opens in pyarrow, pandas, polars and DuckDB with the types of
//! export/SCHEMA.md, "Why these types", and every community_id matches the reference Python
//! implementation. The expected columns and types come from the column
//! declarations of `pathlens_export`, handed to the script as JSON. Needs
//! python3 with capture/tests/python/requirements.txt (installed by the
//! README's test command).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use support::*;

/// Runs `capture/tests/python/SCRIPT ARGS...`, asserts success, returns stdout.
fn python(script: &str, args: &[&std::path::Path]) -> String {
    let o = std::process::Command::new("python3")
        .arg(repo().join("capture/tests/python").join(script))
        .args(args)
        .output()
        .expect("python3 is needed by this test");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

/// The declared columns of one table as JSON: name, type as SCHEMA.md
/// writes it, nullability.
fn declared<R>(columns: &[pathlens_export::column::Column<R>]) -> serde_json::Value {
    columns
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "type": c.value.type_name(),
                "nullable": c.value.nullable(),
            })
        })
        .collect()
}

fn check_with_python(parquet: &std::path::Path) {
    let columns = parquet.with_extension("columns.json");
    let json = serde_json::json!({
        "flows": declared(pathlens_export::FLOW_COLUMNS),
        "streams": declared(pathlens_export::STREAM_COLUMNS),
    });
    std::fs::write(&columns, json.to_string()).unwrap();
    let stdout = python("check_readers.py", &[parquet, &columns]);
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

/// A dataset directory reads in DuckDB, polars, pyarrow and pandas with hive
/// partitioning (integer `hour`, `date` typed as a date), with the single
/// file's rows, every row in its partition, streams joined on the partition.
#[test]
fn python_readers_on_a_dataset_directory() {
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("one.parquet");
    let input = corpus().join("pcap");
    read_ok(&[input.to_str().unwrap()], &single);
    let ds = format!("{}/", dir.path().join("ds").display());
    let o = pathlens(&["read", "-q", input.to_str().unwrap(), "-w", &ds]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = python("check_dataset.py", &[std::path::Path::new(&ds), &single]);
    assert!(stdout.contains("dataset ok: 356 flows"), "{stdout}");
}
