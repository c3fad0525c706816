//! Flow records, their Arrow schema and the Parquet writer of pathlens.
//!
//! This crate turns finished flows into the Parquet contract of `schema.md`:
//! column names and types, writer settings, key-value metadata, and the file
//! lifecycle (written under a temporary name, renamed when complete). It does
//! no classification and no capture.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod dataset;
pub mod egress_cols;
pub mod media_cols;
pub mod record;
pub mod report;
pub mod schema;
pub mod score;
pub mod summary;
pub mod writer;

pub use dataset::{DatasetSink, DatasetTotals, Partition};
pub use egress_cols::EgressFields;
pub use media_cols::{streams_schema, DirMedia, MediaFields, StreamRecord};
pub use record::{ConnState, FlowRecord};
pub use schema::{flow_schema, SCHEMA_VERSION};
pub use summary::Summary;
pub use writer::{
    streams_path, Compression, Finished, ParquetSink, StreamsSink, WriterError, WriterOptions,
};
