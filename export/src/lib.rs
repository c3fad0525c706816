//! Flow records, their Arrow schema and the Parquet writer of pathlens.
//!
//! This crate turns finished flows into the Parquet contract of `export/SCHEMA.md`:
//! column names and types, writer settings, key-value metadata, and the file
//! lifecycle (written under a temporary name, renamed when complete). It does
//! no classification and no capture.
//!
//! Each output column is declared once, in `flows_table`, `streams_table` or
//! `calls_table`;
//! `column` derives the Arrow schema, the builders and `SCHEMA.md`'s tables
//! from those declarations, and `sink` writes the batches to files; `store`
//! sends a dataset's finished parts to object storage (`az://`, `s3://`).
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod calls_table;
pub mod column;
pub mod dataset;
pub mod flows_table;
pub mod options;
pub mod record;
pub mod report;
pub mod retention;
pub mod score;
pub mod sink;
pub mod store;
pub mod streams_table;
pub mod summary;

pub use calls_table::{calls_path, calls_schema, CallHold, CallRecord, CALL_COLUMNS};
pub use dataset::{DatasetSink, DatasetTotals, Partition};
pub use flows_table::{flow_schema, records_to_batch, FLOW_COLUMNS};
pub use options::{Compression, WriterOptions};
pub use pathlens_classify::outcome::{DirMedia, EgressFields, MediaFields, StreamRecord};
pub use record::{ConnState, FlowRecord};
pub use sink::{
    streams_path, ParquetSink, StreamsSink, UncommittedFile, WriterError, SCHEMA_VERSION,
};
pub use store::{Store, StoreUrl};
pub use streams_table::{streams_schema, STREAM_COLUMNS};
pub use summary::Summary;
