//! Records held back until every worker has passed their last packet, so
//! what other flows' signaling teaches (learned endpoints, payload-type
//! bindings) completes them the same way whatever the number of workers;
//! and records that crossed a next hop before the edges of their input
//! are decided (see `crate::edge_decisions`).

use super::record::evidence;
use super::state::Flow;
use crate::correlate::Correlator;
use crate::edge_decisions::EdgeDecisions;
use pathlens_classify::egress::LearnedEdges;
use pathlens_classify::outcome::{Knowledge, Pending};
use pathlens_export::FlowRecord;
use std::net::SocketAddr;

/// A finished record waiting for what other workers learn.
pub(super) struct Held {
    rec: FlowRecord,
    // Input position of its last packet.
    last: u64,
    pending: Pending,
    // The input it came from and the interval it ended in (which learned
    // edges judge it).
    gen: usize,
    interval: usize,
}

use crate::edge_decisions::Round;
/// The edges decided for a round, once made.
type Decision = Option<std::sync::Arc<LearnedEdges>>;

/// Where a finished record goes: straight out, or held for correlation.
pub(super) struct Outlet<'a> {
    pub(super) out: &'a mut Vec<FlowRecord>,
    pub(super) held: &'a mut Vec<Held>,
    pub(super) correlate: bool,
    /// Edges are learned from the wire.
    pub(super) learning: bool,
    /// The decision records of this interval are judged by, when made.
    pub(super) learned: Option<&'a LearnedEdges>,
    /// The current input.
    pub(super) gen: usize,
    /// The current interval of its edge learning.
    pub(super) interval: usize,
}

impl Outlet<'_> {
    /// Hands on `rec`, the record of `f`, or holds it.
    pub(super) fn push(&mut self, rec: FlowRecord, f: &Flow) {
        let pending = (self.correlate || self.learning).then(|| {
            let e = evidence(f, rec.src_ip, rec.dst_ip, rec.dst_port, rec.transport, None);
            // It waits for the edges when a next hop it crossed is not
            // decided in the decision it is judged by (the previous
            // interval's), or that decision is not made yet.
            let edges_pending = self.learning
                && e.next_hops.iter().any(|h| !h.is_none())
                && !self
                    .learned
                    .is_some_and(|l| self.interval == 0 || l.all_known(&e.next_hops));
            let p = Pending::of(rec.transport, &rec.labels, &e, edges_pending)?;
            if self.correlate {
                Some(p)
            } else {
                p.without_correlation()
            }
        });
        match pending.flatten() {
            Some(pending) => self.held.push(Held {
                rec,
                last: f.last_seq,
                pending,
                gen: self.gen,
                interval: self.interval,
            }),
            None => self.out.push(rec),
        }
    }
}

/// What a release did: records relabelled by correlation, and the earliest
/// decision a record still held may ask for.
pub(super) struct Released {
    pub(super) relabelled: u64,
    pub(super) floor: Option<Round>,
}

/// Resolves and hands on the held records whose last packet every worker
/// has processed. With `last` (every worker has finished), every record
/// goes: one whose decision is missing is judged without learned edges
/// rather than lost.
pub(super) fn release(
    held: &mut Vec<Held>,
    c: Option<&Correlator>,
    l: Option<&EdgeDecisions>,
    k: &Knowledge,
    out: &mut Vec<FlowRecord>,
    last_call: bool,
) -> Released {
    let mark = c.map_or(u64::MAX, Correlator::watermark);
    let mut relabelled = 0;
    let mut floor = None;
    let mut i = 0;
    // One lookup per decision, not per record.
    let mut edges: Vec<(Round, Decision)> = Vec::new();
    let mut decision = |gen: usize, k: usize| match edges.iter().find(|(g, _)| *g == (gen, k)) {
        Some((_, e)) => e.clone(),
        None => {
            let e = l.and_then(|l| l.get(gen, k));
            edges.push(((gen, k), e.clone()));
            e
        }
    };
    while i < held.len() {
        let Some(h) = held.get(i) else {
            break;
        };
        // The previous interval's decision when it knows every hop crossed,
        // else this interval's (a next hop first seen in it).
        let base = decision(h.gen, h.interval.saturating_sub(1));
        let learned = match base {
            Some(b) if h.interval == 0 || b.all_known(&h.pending.facts.next_hops) => Some(b),
            Some(_) => decision(h.gen, h.interval),
            None => None,
        };
        let waits_edges = h.pending.edges && learned.is_none();
        let waits_mark = h.pending.waits_for_correlation() && h.last > mark;
        if (waits_edges || waits_mark) && !last_call {
            let judge = (h.gen, h.interval.saturating_sub(1));
            floor = Some(floor.map_or(judge, |f: Round| f.min(judge)));
            i += 1;
            continue;
        }
        let Held {
            mut rec,
            last,
            pending,
            gen: _,
            interval: _,
        } = held.swap_remove(i);
        let first = rec.first_seen_us;
        let ends = (
            SocketAddr::new(rec.src_ip, rec.src_port),
            SocketAddr::new(rec.dst_ip, rec.dst_port),
        );
        let binding = |at: SocketAddr| c.and_then(|c| c.lookup_binding(at, last, first));
        let endpoint = |at: SocketAddr| c.and_then(|c| c.lookup_learned(at, last, first));
        if pending.resolve(
            k,
            learned.as_deref(),
            rec.flow_id,
            ends,
            &mut rec.labels,
            &binding,
            &endpoint,
        ) {
            relabelled += 1;
        }
        out.push(rec);
    }
    Released { relabelled, floor }
}
