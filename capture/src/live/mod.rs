//! `pathlens live`: capture from interfaces around the clock into a rotating,
//! Hive-partitioned Parquet dataset, with health counters, a Prometheus
//! endpoint and privilege dropping.

pub mod files;
pub mod hooks;
pub mod interfaces;
pub mod metrics;
pub mod rotate;

pub use hooks::{Gauges, LiveHooks, Rotation};
pub use rotate::Rotor;
