//! The reader's side of the hand-off to the workers: batches of packets
//! whose payloads stay in the input's blocks, and the ticks that carry
//! capture time to every worker.

use super::{WorkMsg, BATCH_PACKETS, FLUSH_EVERY, MAX_TICKS, TICK_US};
use crate::flow::Pkt;
use crate::source::Block;
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;

/// Packets on their way from the reader to one worker, with the blocks
/// their payloads lie in.
pub(super) struct PacketBatch {
    pub(super) pkts: Vec<(Pkt, Payload)>,
    // Payloads copied out of frames no block holds (libpcap's buffer,
    // reassembled fragments).
    pub(super) data: Vec<u8>,
    // Blocks of the input that payloads point into, in place.
    pub(super) blocks: Vec<Block>,
    pub(super) now_us: i64,
    // The reader's input position when it sent the batch: the worker has
    // then seen every one of its packets up to here (correlation watermark).
    pub(super) upto_seq: u64,
    // Sweeps run only at ticks: they sit at the same places in the packet
    // stream whatever the number of workers, so the rows do not depend on it
    // even when capture timestamps go backwards. A tick is a mark (after
    // how many of `pkts`, at what time) rather than a send of its own: a
    // sparse capture ticks at nearly every packet, and a hand-off per tick
    // cost more than the packets. The ends of edge-learning intervals are
    // marks too, for the same reason: a sparse capture spanning months has
    // tens of thousands of them.
    pub(super) ticks: Vec<(u32, Mark)>,
}

/// A mark between the packets of a batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Mark {
    /// Capture time is now this (µs): sweep.
    Tick(i64),
    /// An interval of the input's edge learning ends here.
    IntervalEnd,
}

/// Where a packet's payload is: `buf` indexes the batch's blocks, or is
/// `IN_DATA` for its copied bytes.
#[derive(Clone, Copy)]
pub(super) struct Payload {
    buf: u32,
    off: u32,
    len: u32,
}

const IN_DATA: u32 = u32::MAX;

impl PacketBatch {
    /// Adds a packet and its payload, kept in place when it lies in
    /// `block` (copying payloads was the reader's largest cost after
    /// decoding).
    pub(super) fn push(&mut self, pkt: Pkt, payload: &[u8], block: Option<&Block>) {
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
    pub(super) fn payload(&self, p: Payload) -> &[u8] {
        let src = if p.buf == IN_DATA {
            Some(&self.data[..])
        } else {
            self.blocks.get(p.buf as usize).map(|b| &b[..])
        };
        src.and_then(|s| s.get(p.off as usize..p.off as usize + p.len as usize))
            .unwrap_or(&[])
    }

    pub(super) fn new() -> Self {
        PacketBatch {
            pkts: Vec::with_capacity(BATCH_PACKETS),
            data: Vec::with_capacity(BATCH_PACKETS * 256),
            blocks: Vec::new(),
            now_us: i64::MIN,
            upto_seq: 0,
            ticks: Vec::new(),
        }
    }
}

/// Marks the end of an edge-learning interval in every batch, after the
/// packets each holds: every packet before it is in this batch or an
/// earlier one.
pub(super) fn end_interval(batches: &mut [PacketBatch]) {
    for b in batches.iter_mut() {
        b.ticks.push((
            u32::try_from(b.pkts.len()).unwrap_or(u32::MAX),
            Mark::IntervalEnd,
        ));
    }
}

/// When the reader next marks time in the batches, and when it last sent
/// them all.
pub(super) struct Ticker {
    next_tick: i64,
    last_flush: std::time::Instant,
}

impl Ticker {
    /// A ticker whose first tick comes with the first packet.
    pub(super) fn new() -> Self {
        Ticker {
            next_tick: i64::MIN,
            last_flush: std::time::Instant::now(),
        }
    }

    /// Whether a tick is due at `now`: checked for every packet, so it
    /// stays in the reader's loop and only a due tick makes a call.
    #[inline]
    pub(super) fn due(&self, now: i64) -> bool {
        now >= self.next_tick
    }

    /// Marks `now` in every batch (once a second of capture time, when
    /// [`Ticker::due`]); sends them all when the marks pile up or wall time
    /// says quiet workers must hear.
    #[inline(never)]
    pub(super) fn tick(
        &mut self,
        now: i64,
        seq: u64,
        batches: &mut [PacketBatch],
        worker_tx: &[Sender<WorkMsg>],
        pool_rx: &Receiver<PacketBatch>,
    ) {
        self.next_tick = now.saturating_add(TICK_US);
        for b in batches.iter_mut() {
            b.ticks.push((
                u32::try_from(b.pkts.len()).unwrap_or(u32::MAX),
                Mark::Tick(now),
            ));
        }
        // Quiet workers still hear of time (expiry, the correlation
        // watermark) often enough, and the marks stay bounded.
        let pending = batches.first().map_or(0, |b| b.ticks.len());
        if pending >= MAX_TICKS || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.last_flush = std::time::Instant::now();
            for (b, tx) in batches.iter_mut().zip(worker_tx) {
                let mut full =
                    std::mem::replace(b, pool_rx.try_recv().unwrap_or_else(|_| PacketBatch::new()));
                full.now_us = now;
                full.upto_seq = seq;
                let _ = tx.send(WorkMsg::Packets(full));
            }
        }
    }
}
