//! The pathlens runtime: packet sources, link-layer decoding, the flow table,
//! the reader/worker/writer pipeline, counters and the command line.
#![deny(unsafe_code)]

pub mod cmd;
pub mod config;
pub mod correlate;
pub mod counters;
pub mod decode;
pub mod edge_decisions;
pub mod flow;
pub mod input;
pub mod link;
pub mod live;
mod os;
pub mod pipeline;
pub mod retention;
pub mod run_summary;
pub mod source;
pub mod stop;
