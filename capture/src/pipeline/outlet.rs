//! What a run may hang on the pipeline without the pipeline knowing who it
//! is: an outlet that takes the rows and decides itself when its files
//! close, an observer told how full each worker's flow table is, and a slot
//! whose knowledge a reload replaces. A live capture plugs its rotating
//! writer, its gauges and its reload in here.

use crate::flow::Knowledge;
use pathlens_export::{CallRecord, FlowRecord, StreamRecord};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the writer asks the outlet to look at its clock when no rows
/// come.
pub const OUTLET_POLL: Duration = Duration::from_millis(200);

/// Rows that leave the pipeline through an outlet instead of the files
/// `RunOptions::output` names.
///
/// A run with an outlet keeps no summary (it may run for months and the
/// summary keeps a figure per media stream), and its workers hand rows on
/// as soon as flows end, since the outlet, not the batch size, decides when
/// rows reach a file.
pub trait Outlet: Send {
    /// Takes the rows of finished flows and the stream rows taken from them.
    fn write(&mut self, flows: &[FlowRecord], streams: &[StreamRecord]);
    /// Takes the rows of calls that ended.
    fn write_calls(&mut self, calls: &[CallRecord]);
    /// Called after every message and at least every [`OUTLET_POLL`]: the
    /// outlet may close its files and start new ones.
    fn poll(&mut self);
    /// The run is over: closes everything, `meta` in the last files' footer.
    fn finish(&mut self, meta: &[(String, String)]);
    /// What it wrote and lost so far.
    fn totals(&self) -> OutletTotals;
}

/// What an outlet wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutletTotals {
    /// Flow rows in finished files.
    pub rows: u64,
    /// Stream rows in finished files.
    pub stream_rows: u64,
    /// Call rows in finished files.
    pub call_rows: u64,
    /// Flow rows lost to output errors (logged and counted, the run goes on).
    pub lost: u64,
}

/// Told of each worker's flow table after every message it handles.
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// Worker `w` holds `live` flows and has evicted `evicted` so far.
    fn worker(&self, w: usize, live: usize, evicted: u64);
    /// Learned edges re-decided so far because their share of traffic
    /// changed (a failover); nothing by default.
    fn edges_redecided(&self, _total: u64) {}
}

/// The knowledge a run may replace while it goes on (a reload): workers
/// take the new one at their next message, the reader at its next tick.
/// Flows in progress keep their state; what is judged at a flow's end
/// (egress, services) is judged with the knowledge of that moment.
#[derive(Debug)]
pub struct KnowledgeSlot {
    current: RwLock<Arc<Knowledge>>,
    version: AtomicU64,
}

impl KnowledgeSlot {
    /// A slot holding `k`.
    pub fn new(k: Arc<Knowledge>) -> Self {
        KnowledgeSlot {
            current: RwLock::new(k),
            version: AtomicU64::new(0),
        }
    }

    /// Puts `k` in place of the current knowledge.
    pub fn replace(&self, k: Arc<Knowledge>) {
        if let Ok(mut c) = self.current.write() {
            *c = k;
            self.version.fetch_add(1, Ordering::Release);
        }
    }

    /// How many times it was replaced.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The current knowledge.
    pub fn get(&self) -> Option<Arc<Knowledge>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}
