//! The reader: frames of each input decoded, counted, and dealt to the
//! workers in batches, with capture time marked in every batch.

use super::batch::{end_interval, PacketBatch, Ticker};
use super::{
    worker_of, KnowledgeSlot, Progress, RunReport, WorkMsg, BATCH_PACKETS, MAX_BATCH_BLOCKS,
};
use crate::counters::ReadCounters;
use crate::decode::{decode_with, Decap, FragTracker, Skip};
use crate::flow::{Knowledge, Pkt};
use crate::link::LinkType;
use crate::source::{Frame, PacketSource};
use crossbeam_channel::{Receiver, Sender};
use foldhash::fast::FixedState;
use std::sync::Arc;

/// The reader's state across inputs.
pub(super) struct Reader {
    pub(super) ctx: Arc<Knowledge>,
    /// Which tunnels are opened.
    pub(super) decap: Decap,
    /// Where a reload puts new knowledge (edges), taken at ticks.
    pub(super) reload: Option<Arc<KnowledgeSlot>>,
    version: u64,
    pub(super) edge_warmup_us: i64,
    pub(super) worker_tx: Vec<Sender<WorkMsg>>,
    pub(super) pool_rx: Receiver<PacketBatch>,
    pub(super) rc: ReadCounters,
    has_edges: bool,
    n: usize,
    hasher: FixedState,
    frags: FragTracker,
    batches: Vec<PacketBatch>,
    seq: u64,
}

/// Where the reader is in one input.
struct InputClock {
    now: i64,
    // Edges are learned until this packet time (set at the first packet).
    warmup_until: Option<i64>,
    // In the edge-learning warm-up (which runs only when no edges are given).
    warm: bool,
    ticker: Ticker,
}

impl Reader {
    /// A reader dealing to `worker_tx`, taking spare batches from `pool_rx`.
    pub(super) fn new(
        ctx: Arc<Knowledge>,
        decap: Decap,
        edge_warmup_us: i64,
        worker_tx: Vec<Sender<WorkMsg>>,
        pool_rx: Receiver<PacketBatch>,
    ) -> Self {
        let n = worker_tx.len();
        Reader {
            has_edges: !ctx.egress.edges.is_empty(),
            ctx,
            decap,
            reload: None,
            version: 0,
            edge_warmup_us,
            n,
            hasher: FixedState::with_seed(0x7061_7468_6c65_6e73),
            frags: FragTracker::default(),
            batches: (0..n).map(|_| PacketBatch::new()).collect(),
            seq: 0,
            rc: ReadCounters::default(),
            worker_tx,
            pool_rx,
        }
    }

    fn take_batch(&self) -> PacketBatch {
        self.pool_rx
            .try_recv()
            .unwrap_or_else(|_| PacketBatch::new())
    }

    /// Reads one input to its end (or its first read error), then has
    /// every worker flush its table.
    pub(super) fn read(
        &mut self,
        index: usize,
        mut src: Box<dyn PacketSource>,
        report: &mut RunReport,
        progress: &mut dyn Progress,
    ) {
        report.inputs.push(src.name().to_string());
        let Some(link) = LinkType::from_dlt(src.datalink()) else {
            report.failures.push(format!(
                "{}: unsupported link type {}",
                src.name(),
                src.datalink()
            ));
            return;
        };
        let name: Arc<str> = Arc::from(src.name());
        for tx in &self.worker_tx {
            let _ = tx.send(WorkMsg::Source(Arc::clone(&name)));
        }
        self.frags.clear();
        let mut clock = InputClock {
            now: i64::MIN,
            warmup_until: None,
            warm: !self.has_edges,
            ticker: Ticker::new(),
        };
        loop {
            if self.rc.packets_read % 4096 == 4095 {
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
                self.quiet_tick(&mut clock, frame.ts_us);
            } else {
                self.frame(&mut clock, link, &frame);
            }
        }
        progress.update(index, src.position());
        for w in 0..self.n {
            let fresh = self.take_batch();
            if let (Some(b), Some(tx)) = (self.batches.get_mut(w), self.worker_tx.get(w)) {
                let mut rest = std::mem::replace(b, fresh);
                rest.now_us = clock.now;
                rest.upto_seq = self.seq;
                let _ = tx.send(WorkMsg::Packets(rest));
                let _ = tx.send(WorkMsg::EndOfSource(clock.now));
            }
        }
    }

    /// Takes reloaded knowledge, if any; the warm-up of the current input
    /// goes on as it started.
    fn refresh(&mut self) {
        if let Some(r) = self.reload.as_ref().filter(|r| r.version() != self.version) {
            self.version = r.version();
            if let Some(k) = r.get() {
                self.ctx = k;
            }
        }
    }

    /// Time passing on a quiet link.
    fn quiet_tick(&mut self, clock: &mut InputClock, ts_us: i64) {
        self.refresh();
        if ts_us <= clock.now {
            return;
        }
        clock.now = ts_us;
        let now = clock.now;
        // On a quiet link an interval ends on the clock too.
        if let Some(u) = clock.warmup_until.filter(|u| clock.warm && now >= *u) {
            clock.warmup_until = Some(next_interval(u, now, self.edge_warmup_us));
            end_interval(&mut self.batches);
        }
        if clock.ticker.due(now) {
            let seq = self.seq;
            let (b, tx, pool) = (&mut self.batches, &self.worker_tx, &self.pool_rx);
            clock.ticker.tick(now, seq, b, tx, pool);
        }
    }

    /// One captured frame: counted, decoded and dealt to its worker.
    fn frame(&mut self, clock: &mut InputClock, link: LinkType, frame: &Frame<'_>) {
        let rc = &mut self.rc;
        rc.packets_read += 1;
        rc.captured_bytes += frame.data.len() as u64;
        let truncated = (frame.data.len() as u64) < u64::from(frame.wire_len);
        rc.truncated += u64::from(truncated);
        self.seq += 1;
        let seq = self.seq;
        let mut d = match decode_with(link, frame.data, frame.wire_len, &self.decap) {
            Ok(d) => d,
            Err(Skip::NotIp) => {
                rc.not_ip += 1;
                return;
            }
            Err(reason) => {
                *rc.malformed.entry(reason.as_str().to_string()).or_default() += 1;
                return;
            }
        };
        if d.frag.is_some() {
            rc.fragments += 1;
            if !self.frags.resolve(&mut d) {
                rc.fragments_untracked += 1;
            }
        }
        rc.packets_decoded += 1;
        rc.decapsulated += u64::from(d.layers.chain.0 != 0);
        rc.tunnel_undecodable += u64::from(d.layers.undecodable);
        let mut pkt = Pkt::from_decoded(seq, frame.ts_us, truncated, &d);
        if !self.ctx.egress.edges.is_empty() {
            pkt.edge = self.ctx.egress.edges.resolve(d.src_mac, d.dst_mac, d.vlan);
        }
        if clock.warm {
            let until = *clock
                .warmup_until
                .get_or_insert(frame.ts_us.saturating_add(self.edge_warmup_us));
            if frame.ts_us >= until {
                // Cut at a packet position: the same for any worker count.
                // Learning goes on, interval after interval.
                clock.warmup_until = Some(next_interval(until, frame.ts_us, self.edge_warmup_us));
                end_interval(&mut self.batches);
            }
        }
        let key = pkt.key;
        clock.now = clock.now.max(frame.ts_us);
        let now = clock.now;
        let w = worker_of(&self.hasher, &key, self.n);
        let fresh = &self.pool_rx;
        if let Some(b) = self.batches.get_mut(w) {
            b.push(pkt, d.payload, frame.block);
            if b.pkts.len() >= BATCH_PACKETS || b.blocks.len() >= MAX_BATCH_BLOCKS {
                let next = fresh.try_recv().unwrap_or_else(|_| PacketBatch::new());
                let mut full = std::mem::replace(b, next);
                full.now_us = now;
                full.upto_seq = seq;
                if let Some(tx) = self.worker_tx.get(w) {
                    let _ = tx.send(WorkMsg::Packets(full));
                }
            }
        }
        if clock.ticker.due(now) {
            let (b, tx, pool) = (&mut self.batches, &self.worker_tx, &self.pool_rx);
            clock.ticker.tick(now, seq, b, tx, pool);
            self.refresh();
        }
    }
}

/// The end of the interval after the one ending at `until`, past `now` (a
/// gap in the traffic skips the empty intervals).
fn next_interval(until: i64, now: i64, every: i64) -> i64 {
    let every = every.max(1);
    let skipped = now.saturating_sub(until) / every;
    until.saturating_add(every.saturating_mul(skipped.saturating_add(1)))
}
