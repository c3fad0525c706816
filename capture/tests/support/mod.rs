//! Helpers shared by the integration tests: running the real binary, reading
//! its Parquet output back, writing small pcaps, and finding the corpus.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `capture/tests/python/SCRIPT` with `args`; its stdout, the test
/// failing with its stderr when it fails.
pub fn python_script(script: &str, args: &[&str]) -> String {
    let o = Command::new("python3")
        .arg(repo().join("capture/tests/python").join(script))
        .args(args)
        .output()
        .expect("python3 with the test requirements is needed by this test");
    assert!(
        o.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The pathlens binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pathlens"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The real-traffic corpus in `testdata/corpus` (or $PATHLENS_CORPUS).
pub fn corpus() -> PathBuf {
    let p = std::env::var_os("PATHLENS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("testdata/corpus"));
    assert!(
        p.join("pcap").is_dir(),
        "corpus not found at {} (set PATHLENS_CORPUS)",
        p.display()
    );
    p
}

/// Every capture file of the corpus, sorted.
pub fn corpus_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus().join("pcap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Runs `pathlens ARGS`.
pub fn pathlens(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("running pathlens")
}

/// Runs `pathlens read -q ARGS -w OUT` and asserts it succeeded.
pub fn read_ok(args: &[&str], out: &Path) {
    let mut all = vec!["read", "-q"];
    all.extend_from_slice(args);
    all.extend(["-w", out.to_str().unwrap()]);
    let o = pathlens(&all);
    assert!(
        o.status.success(),
        "pathlens {all:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs a tool that the test suite needs (installed by the test command).
pub fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} is needed by this test ({e}); the README's test command installs it")
    });
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// All record batches of a Parquet file.
pub fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let f = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// The key-value metadata of a Parquet file.
pub fn metadata(path: &Path) -> Vec<(String, String)> {
    let f = File::open(path).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    b.metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// The run counters written in the file metadata.
pub fn counters(path: &Path) -> serde_json::Value {
    let kv = metadata(path);
    let c = kv
        .iter()
        .find(|(k, _)| k == "pathlens.counters")
        .expect("counters in metadata");
    serde_json::from_str(&c.1).unwrap()
}

/// One column of every row, rendered as text (nulls as "").
pub fn column_text(batches: &[RecordBatch], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let opts = FormatOptions::default();
    for b in batches {
        let col = b
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"));
        // Timestamps as plain µs: formatting a named zone needs chrono-tz.
        let col = match col.data_type() {
            DataType::Timestamp(_, _) => arrow::compute::cast(col, &DataType::Int64).unwrap(),
            _ => col.clone(),
        };
        let f = ArrayFormatter::try_new(col.as_ref(), &opts).unwrap();
        for i in 0..b.num_rows() {
            out.push(if col.is_null(i) {
                String::new()
            } else {
                f.value(i).to_string()
            });
        }
    }
    out
}

/// Sum of an Int64 column.
pub fn sum_i64(batches: &[RecordBatch], name: &str) -> i64 {
    batches
        .iter()
        .map(|b| {
            b.column_by_name(name)
                .unwrap()
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .sum::<i64>()
        })
        .sum()
}

/// Number of rows.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// Every row as one line of text (all columns but `except`), sorted.
pub fn row_texts(batches: &[RecordBatch], except: &[&str]) -> Vec<String> {
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let names: Vec<String> = first
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !except.contains(&n.as_str()))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    rows_of(batches, &names, "|")
}

/// Every row as one line of the named columns joined by `sep`, sorted.
pub fn rows_of(batches: &[RecordBatch], names: &[&str], sep: &str) -> Vec<String> {
    let cols: Vec<Vec<String>> = names.iter().map(|n| column_text(batches, n)).collect();
    let mut out: Vec<String> = (0..rows(batches))
        .map(|i| {
            cols.iter()
                .map(|c| c[i].as_str())
                .collect::<Vec<_>>()
                .join(sep)
        })
        .collect();
    out.sort();
    out
}

/// The classic pcap writer of generated test captures (`create`, `frame`,
/// `frame_cut`, `finish`), shared with the benches.
pub use pathlens_benches::PcapFile as PcapWriter;

pub mod calls_gen;
pub mod egress_gen;
pub mod netns;
pub mod path_gen;
pub mod sample;
pub mod sip_calls_gen;
pub mod verdicts_gen;
