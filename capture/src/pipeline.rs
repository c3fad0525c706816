//! The thread pipeline: one reader decodes frames and sends batches of
//! packets to N workers chosen by a symmetric flow hash; each worker owns a
//! flow table; one writer turns finished flows into Parquet.
//!
//! Channels are bounded and a file read blocks when they are full, so nothing
//! is lost. Packet time drives expiry: every second of capture time the reader
//! flushes every worker's batch with the current time, so a worker that sees
//! no packets still expires its flows. Flows never span input files: at the
//! end of each input every worker flushes its table.

pub(crate) mod writer;

use crate::correlate::Correlator;
use crate::counters::{FlowCounters, ReadCounters, RunCounters};
use crate::decode::{decode, FragTracker, Skip};
use crate::flow::{FlowConfig, FlowTable, Knowledge, Pkt};
use crate::learn::EdgeLearner;
use crate::link::LinkType;
use crate::source::{Block, PacketSource, SourceError};
use crossbeam_channel::{bounded, Receiver, Sender};
use foldhash::fast::FixedState;
use pathlens_classify::FlowKey;
use pathlens_export::{FlowRecord, Summary, WriterError, WriterOptions};
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use writer::{writer_thread, WriterMsg};

/// Packets per batch sent to a worker.
pub const BATCH_PACKETS: usize = 512;
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
    /// A live capture's gauges and rotation (`None` for files).
    pub live: Option<crate::live::LiveHooks>,
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

struct Batch {
    pkts: Vec<(Pkt, Payload)>,
    // Payloads copied out of frames no block holds (libpcap's buffer,
    // reassembled fragments).
    data: Vec<u8>,
    // Blocks of the input that payloads point into, in place.
    blocks: Vec<Block>,
    now_us: i64,
    // The reader's input position when it sent the batch: the worker has
    // then seen every one of its packets up to here (correlation watermark).
    upto_seq: u64,
    // Sweeps run only at ticks: they sit at the same places in the packet
    // stream whatever the number of workers, so the rows do not depend on it
    // even when capture timestamps go backwards. A tick is a mark (after
    // how many of `pkts`, at what time) rather than a send of its own: a
    // sparse capture ticks at nearly every packet, and a hand-off per tick
    // cost more than the packets.
    ticks: Vec<(u32, i64)>,
}

/// Where a packet's payload is: `buf` indexes the batch's blocks, or is
/// `IN_DATA` for its copied bytes.
#[derive(Clone, Copy)]
struct Payload {
    buf: u32,
    off: u32,
    len: u32,
}

const IN_DATA: u32 = u32::MAX;

impl Batch {
    /// Adds a packet and its payload, kept in place when it lies in
    /// `block` (copying payloads was the reader's largest cost after
    /// decoding).
    fn push(&mut self, pkt: Pkt, payload: &[u8], block: Option<&Block>) {
        let len = u32::try_from(payload.len()).unwrap_or(0);
        if let Some(b) = block {
            // Addresses only locate the payload in the block; a payload
            // from elsewhere (a reassembled fragment) falls outside it.
            let off = (payload.as_ptr() as usize).wrapping_sub(b.as_ptr() as usize);
            if off <= b.len() && payload.len() <= b.len() - off {
                if !self.blocks.last().is_some_and(|l| Arc::ptr_eq(l, b)) {
                    self.blocks.push(Arc::clone(b));
                }
                let buf = u32::try_from(self.blocks.len() - 1).unwrap_or(IN_DATA);
                let off = u32::try_from(off).unwrap_or(0);
                self.pkts.push((pkt, Payload { buf, off, len }));
                return;
            }
        }
        let off = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        self.data.extend_from_slice(payload);
        self.pkts.push((
            pkt,
            Payload {
                buf: IN_DATA,
                off,
                len,
            },
        ));
    }

    /// The payload of a packet of this batch.
    fn payload(&self, p: Payload) -> &[u8] {
        let src = if p.buf == IN_DATA {
            Some(&self.data[..])
        } else {
            self.blocks.get(p.buf as usize).map(|b| &b[..])
        };
        src.and_then(|s| s.get(p.off as usize..p.off as usize + p.len as usize))
            .unwrap_or(&[])
    }

    fn new() -> Self {
        Batch {
            pkts: Vec::with_capacity(BATCH_PACKETS),
            data: Vec::with_capacity(BATCH_PACKETS * 256),
            blocks: Vec::new(),
            now_us: i64::MIN,
            upto_seq: 0,
            ticks: Vec::new(),
        }
    }
}

enum WorkMsg {
    Source(Arc<str>),
    Batch(Batch),
    // The edge-learning warm-up of the current input is over: every packet
    // before it is in an earlier batch.
    WarmupEnd,
    EndOfSource(i64),
}

/// The worker a key belongs to: a seeded hash of the canonical key, so both
/// directions of a flow land on the same worker. UDP ports are hashed without
/// their lowest bit, so RTP on even ports and its RTCP on the next odd ones
/// share a worker, which matches the reports to the streams.
#[inline]
pub fn worker_of(hasher: &FixedState, key: &FlowKey, n: usize) -> usize {
    let h = if key.proto == 17 {
        hasher.hash_one(FlowKey {
            lo_port: key.lo_port & !1,
            hi_port: key.hi_port & !1,
            ..*key
        })
    } else {
        hasher.hash_one(key)
    };
    // The high bits of h * n: a multiply, where `%` was a 64-bit division
    // (14% of the reader loop's own time).
    ((u128::from(h) * n as u128) >> 64) as usize
}

/// Tells the correlator and the edge learner that a worker is done, even
/// if it panics, so the other workers never wait for it forever.
struct Finished<'a>(Option<&'a Correlator>, Option<&'a EdgeLearner>, usize);

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
    pool: Sender<Batch>,
    out_tx: Sender<WriterMsg>,
    mut table: FlowTable,
    corr: Option<Arc<Correlator>>,
    learner: Arc<EdgeLearner>,
    w: usize,
    gauges: Option<Arc<crate::live::Gauges>>,
) -> FlowCounters {
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
            WorkMsg::WarmupEnd => table.end_warmup(),
            WorkMsg::Batch(mut b) => {
                let mut done = 0;
                let ends = b.ticks.iter().map(|&(at, now)| (at as usize, Some(now)));
                for (end, tick) in ends.chain([(b.pkts.len(), None)]) {
                    for (p, at) in b.pkts.get(done..end).unwrap_or(&[]) {
                        table.packet(p, b.payload(*at), &mut out);
                    }
                    done = done.max(end);
                    if let Some(now) = tick {
                        table.advance(now, &mut out);
                    }
                }
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
                table.end_warmup();
                send(&mut out);
            }
        }
        table.release(&mut out);
        // Live rows go on at once: the writer's rotation decides when they
        // reach a file, and a quiet link may never fill a send.
        if out.len() >= RECORDS_PER_SEND || gauges.is_some() {
            send(&mut out);
        }
        if let Some(g) = &gauges {
            g.worker(w, table.len(), table.counters.evicted);
        }
    }
    table.flush(i64::MIN, &mut out);
    table.end_warmup();
    send(&mut out);
    // Held records wait until every worker has learned all it will.
    drop(guard);
    learner.wait_all_finished();
    if let Some(c) = &corr {
        c.wait_all_finished();
    }
    table.release(&mut out);
    send(&mut out);
    table.counters
}

/// Sends every batch, each followed by the end of the edge warm-up.
fn end_warmup(
    batches: &mut [Batch],
    worker_tx: &[Sender<WorkMsg>],
    pool_rx: &Receiver<Batch>,
    now: i64,
    upto_seq: u64,
) {
    for (b, tx) in batches.iter_mut().zip(worker_tx) {
        let mut full = std::mem::replace(b, pool_rx.try_recv().unwrap_or_else(|_| Batch::new()));
        full.now_us = now;
        full.upto_seq = upto_seq;
        let _ = tx.send(WorkMsg::Batch(full));
        let _ = tx.send(WorkMsg::WarmupEnd);
    }
}

/// When the reader next marks time in the batches, and when it last sent
/// them all.
struct Ticker {
    next_tick: i64,
    last_flush: std::time::Instant,
}

impl Ticker {
    /// Whether a tick is due at `now`: checked for every packet, so it
    /// stays in the reader's loop and only a due tick makes a call.
    #[inline]
    fn due(&self, now: i64) -> bool {
        now >= self.next_tick
    }

    /// Marks `now` in every batch (once a second of capture time, when
    /// [`Ticker::due`]); sends them all when the marks pile up or wall time
    /// says quiet workers must hear.
    #[inline(never)]
    fn tick(
        &mut self,
        now: i64,
        seq: u64,
        batches: &mut [Batch],
        worker_tx: &[Sender<WorkMsg>],
        pool_rx: &Receiver<Batch>,
    ) {
        self.next_tick = now.saturating_add(TICK_US);
        for b in batches.iter_mut() {
            b.ticks
                .push((u32::try_from(b.pkts.len()).unwrap_or(u32::MAX), now));
        }
        // Quiet workers still hear of time (expiry, the correlation
        // watermark) often enough, and the marks stay bounded.
        let pending = batches.first().map_or(0, |b| b.ticks.len());
        if pending >= MAX_TICKS || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.last_flush = std::time::Instant::now();
            for (b, tx) in batches.iter_mut().zip(worker_tx) {
                let mut full =
                    std::mem::replace(b, pool_rx.try_recv().unwrap_or_else(|_| Batch::new()));
                full.now_us = now;
                full.upto_seq = seq;
                let _ = tx.send(WorkMsg::Batch(full));
            }
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
    let n = opts.workers.max(1);
    let has_edges = !ctx.egress.edges.is_empty();
    let mut report = RunReport::default();
    let (wtx, wrx) = bounded::<WriterMsg>(64);
    let out_path = opts.output.clone().map(|p| (p, opts.dataset));
    let wopts = opts.writer.clone();
    let wmeta = opts.metadata.clone();
    let live = opts.live.clone();
    let writer = thread::spawn(move || writer_thread(wrx, out_path, wopts, wmeta, live));

    let (pool_tx, pool_rx) = bounded::<Batch>(n * 12);
    let mut worker_tx = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    let per_worker = FlowConfig {
        capacity: opts.flow.capacity.div_ceil(n).max(1),
        ..opts.flow
    };
    // Correlation needs payload inspection: port rules learn nothing.
    let corr = opts.flow.inspect_payload.then(|| {
        Arc::new(Correlator::new(
            n,
            opts.flow.active_us.saturating_add(opts.flow.idle_us),
        ))
    });
    let learner = Arc::new(EdgeLearner::new(n));
    for w in 0..n {
        let (tx, rx) = bounded::<WorkMsg>(8);
        let mut table =
            FlowTable::new(per_worker, Arc::clone(&ctx)).with_learner(Arc::clone(&learner), w);
        if let Some(c) = &corr {
            table = table.with_correlator(Arc::clone(c));
        }
        let (pool, out, corr) = (pool_tx.clone(), wtx.clone(), corr.clone());
        let learner = Arc::clone(&learner);
        let gauges = opts.live.as_ref().map(|l| Arc::clone(&l.gauges));
        handles.push(thread::spawn(move || {
            worker_thread(rx, pool, out, table, corr, learner, w, gauges)
        }));
        worker_tx.push(tx);
    }

    let mut rc = ReadCounters::default();
    let hasher = FixedState::with_seed(0x7061_7468_6c65_6e73);
    let mut frags = FragTracker::default();
    let mut batches: Vec<Batch> = (0..n).map(|_| Batch::new()).collect();
    let mut seq: u64 = 0;
    let take_batch =
        |pool_rx: &Receiver<Batch>| pool_rx.try_recv().unwrap_or_else(|_| Batch::new());

    for (index, src) in sources.into_iter().enumerate() {
        let mut src = match src {
            Ok(s) => s,
            Err(e) => {
                report.failures.push(e.to_string());
                continue;
            }
        };
        report.inputs.push(src.name().to_string());
        let Some(link) = LinkType::from_dlt(src.datalink()) else {
            report.failures.push(format!(
                "{}: unsupported link type {}",
                src.name(),
                src.datalink()
            ));
            continue;
        };
        let name: Arc<str> = Arc::from(src.name());
        for tx in &worker_tx {
            let _ = tx.send(WorkMsg::Source(Arc::clone(&name)));
        }
        frags.clear();
        let mut now = i64::MIN;
        // Edges are learned until this packet time (set at the first packet).
        let mut warmup_until: Option<i64> = None;
        let mut warm = !has_edges;
        let mut ticker = Ticker {
            next_tick: i64::MIN,
            last_flush: std::time::Instant::now(),
        };
        loop {
            if rc.packets_read % 4096 == 4095 {
                let pos = src.position();
                progress.update(index, pos);
            }
            let frame = match src.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    report.failures.push(e.to_string());
                    break;
                }
            };
            // A live source on a quiet link hands a tick stamped with the
            // clock: time passes so flows expire, but no packet came.
            if frame.is_tick() {
                if frame.ts_us <= now {
                    continue;
                }
                now = frame.ts_us;
                // On a quiet link the warm-up ends on the clock too.
                if warm && warmup_until.is_some_and(|u| now >= u) {
                    warm = false;
                    end_warmup(&mut batches, &worker_tx, &pool_rx, now, seq);
                }
                if ticker.due(now) {
                    ticker.tick(now, seq, &mut batches, &worker_tx, &pool_rx);
                }
                continue;
            }
            rc.packets_read += 1;
            rc.captured_bytes += frame.data.len() as u64;
            let truncated = (frame.data.len() as u64) < u64::from(frame.wire_len);
            rc.truncated += u64::from(truncated);
            seq += 1;
            let mut d = match decode(link, frame.data, frame.wire_len) {
                Ok(d) => d,
                Err(Skip::NotIp) => {
                    rc.not_ip += 1;
                    continue;
                }
                Err(reason) => {
                    *rc.malformed.entry(reason.as_str().to_string()).or_default() += 1;
                    continue;
                }
            };
            if d.frag.is_some() {
                rc.fragments += 1;
                if !frags.resolve(&mut d) {
                    rc.fragments_untracked += 1;
                }
            }
            rc.packets_decoded += 1;
            let mut pkt = Pkt::from_decoded(seq, frame.ts_us, truncated, &d);
            if has_edges {
                pkt.edge = ctx.egress.edges.resolve(d.src_mac, d.dst_mac, d.vlan);
            }
            if warm {
                let until = *warmup_until
                    .get_or_insert(frame.ts_us.saturating_add(opts.flow.edge_warmup_us));
                if frame.ts_us >= until {
                    // Cut at a packet position: the same for any worker count.
                    warm = false;
                    end_warmup(&mut batches, &worker_tx, &pool_rx, now, seq - 1);
                }
            }
            let key = pkt.key;
            now = now.max(frame.ts_us);
            let w = worker_of(&hasher, &key, n);
            if let Some(b) = batches.get_mut(w) {
                b.push(pkt, d.payload, frame.block);
                if b.pkts.len() >= BATCH_PACKETS || b.blocks.len() >= MAX_BATCH_BLOCKS {
                    let mut full = std::mem::replace(b, take_batch(&pool_rx));
                    full.now_us = now;
                    full.upto_seq = seq;
                    if let Some(tx) = worker_tx.get(w) {
                        let _ = tx.send(WorkMsg::Batch(full));
                    }
                }
            }
            if ticker.due(now) {
                ticker.tick(now, seq, &mut batches, &worker_tx, &pool_rx);
            }
        }
        progress.update(index, src.position());
        for (b, tx) in batches.iter_mut().zip(&worker_tx) {
            let mut rest = std::mem::replace(b, take_batch(&pool_rx));
            rest.now_us = now;
            rest.upto_seq = seq;
            let _ = tx.send(WorkMsg::Batch(rest));
            let _ = tx.send(WorkMsg::EndOfSource(now));
        }
    }
    drop(worker_tx);
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
    let _ = wtx.send(WriterMsg::Finish(meta));
    drop(wtx);
    match writer.join() {
        Ok(o) => {
            report.summary = o.summary;
            report.stream_rows = o.stream_rows;
            report.call_rows = o.call_rows;
            report.output_error = o.error;
            if opts.output.is_some()
                && report.output_error.is_none()
                && o.rows + o.lost != report.counters.records_written
            {
                report.output_error = Some(format!(
                    "wrote {} rows but {} flow records ended",
                    o.rows, report.counters.records_written
                ));
            }
        }
        Err(_) => report.output_error = Some("the writer stopped unexpectedly".into()),
    }
    report
}

/// Turns a writer error into the message printed for it.
pub fn describe(e: &WriterError) -> String {
    e.to_string()
}
