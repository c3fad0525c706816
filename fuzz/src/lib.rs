//! Harness logic shared by the fuzz targets and by the regression test
//! `capture/tests/fuzz_regressions.rs` (which loads this file as a module),
//! so a saved input is replayed through exactly the checks that found it.
//!
//! Every `check_*` function takes raw fuzz bytes, drives one entry point and
//! panics when an invariant does not hold. Whatever it returns only helps the
//! regression test tell that the code under test still does real work.

#[path = "decode.rs"]
mod decode;
pub use decode::*;
#[path = "flow_table.rs"]
mod flow_table;
pub use flow_table::*;
#[path = "port_rules.rs"]
mod port_rules;
pub use port_rules::*;
#[path = "pipeline.rs"]
mod pipeline;
pub use pipeline::*;
#[path = "pcapng.rs"]
mod pcapng;
pub use pcapng::*;

use pathlens::decode::{decode, decode_with, Decap, Decoded, Frag, FragTracker, Skip, MAX_DEPTH};
use pathlens::flow::{FlowConfig, FlowTable, Knowledge, Pkt};
use pathlens::link::{peel, L2Error, LinkType};
use pathlens::pipeline::{run, RunOptions};
use pathlens::source::{MemorySource, PacketSource, SourceError};
use pathlens_classify::prefix::LocalNets;
use pathlens_classify::{EndReason, FlowKey, PortRules, RuleError, Signatures};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};
