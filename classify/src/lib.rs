//! Pure flow vocabulary and classification logic for pathlens.
//!
//! This crate owns what a flow *is* (its key, its labels) and how it is labelled:
//! signature rules parsed from `signatures/` text, the per-flow classifier that
//! payload dissectors plug into, the per-packet evidence a flow gathers
//! ([`FlowEvidence`]: classifier, media tracker, round trips, cadence,
//! companion ports), the prefix tables used for local/egress
//! attribution, and the call-flow expectations egress is checked against. It spawns no threads and does no I/O, so everything here can be
//! unit-tested, fuzzed and benchmarked alone.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod buildings;
pub mod calls;
pub mod classifier;
pub mod community_id;
pub mod dissect;
pub mod egress;
pub mod evidence;
pub mod media;
pub mod outcome;
pub mod prefix;
pub mod rule_file;
pub mod rules;
pub mod vocab;

pub use classifier::{
    Classification, FlowClassifier, FlowShape, Inspection, KnownServer, ProtocolFields,
};
pub use evidence::{companion_of, dispatch_key, FlowEvidence};
pub use rules::{PortRules, RuleError, RuleText, SignatureTexts, Signatures};
pub use vocab::{
    AppProtocol, AppSource, EndReason, FlowKey, ServiceSource, Side, TrafficType, Transport,
};
