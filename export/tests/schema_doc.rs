//! `export/SCHEMA.md`'s column tables are generated from the column
//! declarations; this test fails when the committed file differs. After
//! changing a column, regenerate with
//! `PATHLENS_BLESS=1 cargo test -p pathlens-export --test schema_doc`
//! and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use pathlens_export::column::doc_table;
use pathlens_export::{CALL_COLUMNS, FLOW_COLUMNS, STREAM_COLUMNS};
use std::path::Path;

/// Replaces the lines between `<!-- BEGIN NAME columns` and
/// `<!-- END NAME columns -->` with `table`.
fn splice(doc: &str, name: &str, table: &str) -> String {
    let begin = format!("<!-- BEGIN {name} columns");
    let end = format!("<!-- END {name} columns -->");
    let b = doc.find(&begin).expect("begin marker");
    let b = b + doc[b..].find("-->\n").expect("end of the begin marker") + 4;
    let e = doc.find(&end).expect("end marker");
    assert!(b <= e, "{name}: markers out of order");
    format!("{}{table}{}", &doc[..b], &doc[e..])
}

#[test]
fn schema_doc_tables_match_the_column_declarations() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("SCHEMA.md");
    let committed = std::fs::read_to_string(&path).unwrap();
    let doc = splice(&committed, "flows", &doc_table(FLOW_COLUMNS));
    let doc = splice(&doc, "streams", &doc_table(STREAM_COLUMNS));
    let doc = splice(&doc, "calls", &doc_table(CALL_COLUMNS));
    if std::env::var_os("PATHLENS_BLESS").is_some() {
        std::fs::write(&path, &doc).unwrap();
        return;
    }
    assert!(
        committed == doc,
        "export/SCHEMA.md differs from the column declarations \
         (PATHLENS_BLESS=1 cargo test -p pathlens-export --test schema_doc to regenerate)"
    );
}
