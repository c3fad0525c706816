//! The thread pipeline: one reader decodes frames and sends batches of
//! packets to N workers chosen by a symmetric flow hash; each worker owns a
//! flow table; one writer turns finished flows into Parquet.
//!
//! Channels are bounded and a file read blocks when they are full, so nothing
//! is lost. Packet time drives expiry: every second of capture time the reader
//! flushes every worker's batch with the current time, so a worker that sees
//! no packets still expires its flows. Flows never span input files: at the
//! end of each input every worker flushes its table.

mod batch;
pub mod outlet;
mod reader;
mod writer;

use crate::correlate::Correlator;
use crate::counters::{FlowCounters, RunCounters};
use crate::edge_decisions::EdgeDecisions;
use crate::flow::{FlowConfig, FlowTable, Knowledge};
use crate::source::{PacketSource, SourceError};
use batch::{Mark, PacketBatch};
use crossbeam_channel::{bounded, Receiver, Sender};
use foldhash::fast::FixedState;
pub use outlet::{KnowledgeSlot, Observer, Outlet, OutletTotals};
use pathlens_classify::{dispatch_key, FlowKey};
use pathlens_export::{FlowRecord, Summary, WriterError, WriterOptions};
use reader::Reader;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use writer::{writer_thread, WriterMsg, WriterOutcome};

/// Packets per batch sent to a worker.
pub const BATCH_PACKETS: usize = 512;
/// How many packets ahead a worker fetches payloads into its cache.
const PAYLOAD_FETCH_AHEAD: usize = 4;
/// Capture time between ticks.
const TICK_US: i64 = 1_000_000;
/// Input blocks one batch may hold: a worker that gets a packet now and
/// then sends early rather than keep many blocks of the file in memory.
const MAX_BATCH_BLOCKS: usize = 4;
/// Tick marks a batch collects before every batch is sent anyway.
const MAX_TICKS: usize = 1_024;
/// Wall time after which a tick sends every batch, full or not, so a live
/// capture's quiet workers expire flows and release records on time.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// Records a worker accumulates before handing them to the writer.
const RECORDS_PER_SEND: usize = 2_048;

/// How a run is set up.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Flow timeouts and the total flow cap (split across workers).
    pub flow: FlowConfig,
    /// Output file (or dataset directory); `None` computes the summary only.
    pub output: Option<PathBuf>,
    /// Write `output` as a partitioned dataset (`flows/` and `streams/`
    /// under it) instead of one file and its streams file.
    pub dataset: bool,
    /// Output settings.
    pub writer: WriterOptions,
    /// Extra key-value metadata for the output file.
    pub metadata: Vec<(String, String)>,
    /// Told of every worker's flow table as it changes (a live run's gauges).
    pub observer: Option<Arc<dyn Observer>>,
    /// Knowledge a reload may replace during the run (`None`: fixed).
    pub reload: Option<Arc<KnowledgeSlot>>,
    /// Which tunnels are opened, on which UDP ports.
    pub decap: crate::decode::Decap,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Every counter.
    pub counters: RunCounters,
    /// Flows, packets and bytes by app protocol.
    pub summary: Summary,
    /// One line per input that failed.
    pub failures: Vec<String>,
    /// The output error, if writing failed.
    pub output_error: Option<String>,
    /// Inputs read (names).
    pub inputs: Vec<String>,
    /// Rows written to the `streams` table.
    pub stream_rows: u64,
    /// Rows of the calls table written.
    pub call_rows: u64,
}

impl RunReport {
    /// Whether anything failed (exit status 2).
    pub fn failed(&self) -> bool {
        !self.failures.is_empty() || self.output_error.is_some()
    }
}

/// Something a reader reports while running (for progress bars).
pub trait Progress {
    /// Called every few thousand frames with the current source's position.
    fn update(&mut self, source_index: usize, position: Option<u64>);
}

impl Progress for () {
    fn update(&mut self, _: usize, _: Option<u64>) {}
}

enum WorkMsg {
    Source(Arc<str>),
    Packets(PacketBatch),
    EndOfSource(i64),
}

/// The worker a key belongs to: a seeded hash of its dispatch key
/// (`classify::dispatch_key`), so both directions of a flow, and a flow and
/// the companion whose evidence it feeds, land on the same worker.
#[inline]
pub fn worker_of(hasher: &FixedState, key: &FlowKey, n: usize) -> usize {
    let h = hasher.hash_one(dispatch_key(key));
    // The high bits of h * n: a multiply, where `%` was a 64-bit division
    // (14% of the reader loop's own time).
    ((u128::from(h) * n as u128) >> 64) as usize
}

/// Tells the correlator and the edge learner that a worker is done, even
/// if it panics, so the other workers never wait for it forever.
struct Finished<'a>(Option<&'a Correlator>, Option<&'a EdgeDecisions>, usize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            c.finish(self.2);
        }
        if let Some(l) = self.1 {
            l.finish(self.2);
        }
    }
}

// Each argument is a separate channel or shared table a worker owns a
// handle to; a struct holding them would only be unpacked here.
#[allow(clippy::too_many_arguments)]
fn worker_thread(
    rx: Receiver<WorkMsg>,
    pool: Sender<PacketBatch>,
    out_tx: Sender<WriterMsg>,
    mut table: FlowTable,
    corr: Option<Arc<Correlator>>,
    learner: Arc<EdgeDecisions>,
    w: usize,
    hooks: WorkerHooks,
) -> FlowCounters {
    let mut version = hooks.reload.as_ref().map_or(0, |r| r.version());
    let guard = Finished(corr.as_deref(), Some(&learner), w);
    let mut first_input = true;
    let mut out: Vec<FlowRecord> = Vec::with_capacity(RECORDS_PER_SEND);
    let send = |out: &mut Vec<FlowRecord>| {
        if !out.is_empty() {
            // Room for as many as this send: records are large, and
            // growing from empty copied each one several times.
            let next = Vec::with_capacity(out.len());
            let _ = out_tx.send(WriterMsg::Records(std::mem::replace(out, next)));
        }
    };
    for msg in rx {
        match msg {
            WorkMsg::Source(name) => {
                table.interface = name;
                table.next_input(first_input);
                first_input = false;
            }
            WorkMsg::Packets(mut b) => {
                work_batch(&mut table, &b, &mut out);
                if let Some(c) = &corr {
                    c.publish(w, b.upto_seq, b.now_us);
                }
                b.pkts.clear();
                b.data.clear();
                b.blocks.clear();
                b.ticks.clear();
                let _ = pool.try_send(b);
            }
            WorkMsg::EndOfSource(end_us) => {
                // In chunks: the bounded writer channel then caps how many
                // finished records are in memory at once.
                while !table.flush_some(end_us, RECORDS_PER_SEND, &mut out) {
                    send(&mut out);
                }
                table.end_interval();
                send(&mut out);
            }
        }
        table.release(&mut out);
        // Rows for an outlet go on at once: it decides when they reach a
        // file, and a quiet link may never fill a send.
        if out.len() >= RECORDS_PER_SEND || hooks.send_each {
            send(&mut out);
        }
        if let Some(o) = &hooks.observer {
            o.worker(w, table.len(), table.counters.evicted);
            o.edges_redecided(table.edges_redecided());
        }
        if let Some(r) = hooks.reload.as_ref().filter(|r| r.version() != version) {
            version = r.version();
            if let Some(k) = r.get() {
                table.set_knowledge(k);
            }
        }
    }
    table.flush(i64::MIN, &mut out);
    table.end_interval();
    send(&mut out);
    // Held records wait until every worker has learned all it will.
    drop(guard);
    learner.wait_all_finished();
    if let Some(c) = &corr {
        c.wait_all_finished();
    }
    table.release_all(&mut out);
    send(&mut out);
    table.counters
}

/// Runs a batch's packets through `table`, each mark (a tick, an
/// interval's end) where it falls among them.
fn work_batch(table: &mut FlowTable, b: &PacketBatch, out: &mut Vec<FlowRecord>) {
    let mut done = 0;
    let marks = b.ticks.iter().map(|&(at, m)| (at as usize, Some(m)));
    for (end, mark) in marks.chain([(b.pkts.len(), None)]) {
        for i in done..end.min(b.pkts.len()) {
            // The payload a few packets on is asked into this
            // core's cache now: its first byte, read at once
            // by the evidence, missed the cache at nearly every
            // packet (39% of `state::update`'s time).
            if let Some((_, ahead)) = b.pkts.get(i + PAYLOAD_FETCH_AHEAD) {
                crate::os::prefetch(b.payload(*ahead), 0);
            }
            if let Some((p, at)) = b.pkts.get(i) {
                table.packet(p, b.payload(*at), out);
            }
        }
        done = done.max(end);
        match mark {
            Some(Mark::Tick(now)) => table.advance(now, out),
            Some(Mark::IntervalEnd) => table.end_interval(),
            None => {}
        }
    }
}

/// Reads every source through the pipeline and writes the output.
///
/// Sources come as results: an input that cannot be opened is reported and
/// the others go on.
pub fn run<I>(
    sources: I,
    opts: &RunOptions,
    ctx: Arc<Knowledge>,
    progress: &mut dyn Progress,
) -> RunReport
where
    I: IntoIterator<Item = Result<Box<dyn PacketSource>, SourceError>>,
{
    run_with(sources, opts, None, ctx, progress)
}

/// As [`run`], with the rows going to `outlet` instead of `opts.output`.
pub fn run_into<I>(
    sources: I,
    opts: &RunOptions,
    outlet: Box<dyn Outlet>,
    ctx: Arc<Knowledge>,
    progress: &mut dyn Progress,
) -> RunReport
where
    I: IntoIterator<Item = Result<Box<dyn PacketSource>, SourceError>>,
{
    run_with(sources, opts, Some(outlet), ctx, progress)
}

fn run_with<I>(
    sources: I,
    opts: &RunOptions,
    outlet: Option<Box<dyn Outlet>>,
    ctx: Arc<Knowledge>,
    progress: &mut dyn Progress,
) -> RunReport
where
    I: IntoIterator<Item = Result<Box<dyn PacketSource>, SourceError>>,
{
    let n = opts.workers.max(1);
    let mut report = RunReport::default();
    let (wtx, wrx) = bounded::<WriterMsg>(64);
    let writes = outlet.is_some() || opts.output.is_some();
    let send_each = outlet.is_some();
    let out_path = opts.output.clone().map(|p| (p, opts.dataset));
    let (wopts, wmeta) = (opts.writer.clone(), opts.metadata.clone());
    let writer = thread::spawn(move || writer_thread(wrx, out_path, wopts, wmeta, outlet));

    let (pool_tx, pool_rx) = bounded::<PacketBatch>(n * 12);
    // Correlation needs payload inspection: port rules learn nothing.
    let corr = opts.flow.inspect_payload.then(|| {
        Arc::new(Correlator::new(
            n,
            opts.flow.active_us.saturating_add(opts.flow.idle_us),
        ))
    });
    let spawn = Workers {
        opts,
        ctx: &ctx,
        corr: corr.as_ref(),
        pool_tx: &pool_tx,
        out_tx: &wtx,
        send_each,
    };
    let (worker_tx, handles) = spawn.start(n);

    let mut reader = Reader::new(
        Arc::clone(&ctx),
        opts.decap.clone(),
        opts.flow.edge_warmup_us,
        worker_tx,
        pool_rx,
    );
    reader.reload = opts.reload.clone();
    for (index, src) in sources.into_iter().enumerate() {
        match src {
            Ok(s) => reader.read(index, s, &mut report, progress),
            Err(e) => report.failures.push(e.to_string()),
        }
    }
    let rc = std::mem::take(&mut reader.rc);
    drop(reader);
    let mut fc = FlowCounters::default();
    for h in handles {
        match h.join() {
            Ok(c) => fc.merge(&c),
            Err(_) => report
                .failures
                .push("a flow worker stopped unexpectedly".into()),
        }
    }
    report.counters.read = rc;
    report.counters.flows = fc;
    if let Some(c) = &corr {
        report.counters.correlation = c.counters();
    }
    report.counters.inputs_failed = report.failures.len() as u64;
    // Records written = records ended; the writer confirms the row count.
    report.counters.records_written = report.counters.flows.ended.values().sum();
    let _ = wtx.send(WriterMsg::Finish(run_metadata(opts, &report)));
    drop(wtx);
    match writer.join() {
        Ok(o) => take_outcome(&mut report, o, writes),
        Err(_) => report.output_error = Some("the writer stopped unexpectedly".into()),
    }
    report
}

/// What a worker is told besides its packets.
struct WorkerHooks {
    // Rows for an outlet: sent after every message.
    send_each: bool,
    observer: Option<Arc<dyn Observer>>,
    reload: Option<Arc<KnowledgeSlot>>,
}

/// What every worker thread is started with.
struct Workers<'a> {
    opts: &'a RunOptions,
    ctx: &'a Arc<Knowledge>,
    corr: Option<&'a Arc<Correlator>>,
    pool_tx: &'a Sender<PacketBatch>,
    out_tx: &'a Sender<WriterMsg>,
    send_each: bool,
}

impl Workers<'_> {
    /// Starts `n` workers; returns their channels and handles.
    fn start(&self, n: usize) -> (Vec<Sender<WorkMsg>>, Vec<thread::JoinHandle<FlowCounters>>) {
        let mut worker_tx = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        let per_worker = FlowConfig {
            capacity: self.opts.flow.capacity.div_ceil(n).max(1),
            ..self.opts.flow
        };
        let learner = Arc::new(EdgeDecisions::new(n, self.ctx.egress.edge_rules));
        for w in 0..n {
            let (tx, rx) = bounded::<WorkMsg>(8);
            let mut table = FlowTable::new(per_worker, Arc::clone(self.ctx))
                .with_learner(Arc::clone(&learner), w);
            if let Some(c) = self.corr {
                table = table.with_correlator(Arc::clone(c));
            }
            let (pool, out, corr) = (
                self.pool_tx.clone(),
                self.out_tx.clone(),
                self.corr.cloned(),
            );
            let learner = Arc::clone(&learner);
            let hooks = WorkerHooks {
                send_each: self.send_each,
                observer: self.opts.observer.clone(),
                reload: self.opts.reload.clone(),
            };
            handles.push(thread::spawn(move || {
                worker_thread(rx, pool, out, table, corr, learner, w, hooks)
            }));
            worker_tx.push(tx);
        }
        (worker_tx, handles)
    }
}

/// The metadata of the output: the run's own, its inputs, failures and
/// counters.
fn run_metadata(opts: &RunOptions, report: &RunReport) -> Vec<(String, String)> {
    let mut meta = opts.metadata.clone();
    meta.push((
        "pathlens.inputs".into(),
        serde_json::to_string(&report.inputs).unwrap_or_default(),
    ));
    meta.push((
        "pathlens.failures".into(),
        serde_json::to_string(&report.failures).unwrap_or_default(),
    ));
    meta.push((
        "pathlens.counters".into(),
        serde_json::to_string(&report.counters).unwrap_or_default(),
    ));
    meta
}

/// Adds what the writer did to the report; when it wrote, every ended
/// record must be a row or counted lost.
fn take_outcome(report: &mut RunReport, o: WriterOutcome, writes: bool) {
    report.summary = o.summary;
    report.stream_rows = o.totals.stream_rows;
    report.call_rows = o.totals.call_rows;
    report.output_error = o.error;
    if writes
        && report.output_error.is_none()
        && o.totals.rows + o.totals.lost != report.counters.records_written
    {
        report.output_error = Some(format!(
            "wrote {} rows but {} flow records ended",
            o.totals.rows, report.counters.records_written
        ));
    }
}

/// Turns a writer error into the message printed for it.
pub fn describe(e: &WriterError) -> String {
    e.to_string()
}
