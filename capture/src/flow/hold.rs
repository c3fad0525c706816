//! Records held back until every worker has passed their last packet, so
//! what other flows' signaling teaches (learned endpoints, payload-type
//! bindings) completes them the same way whatever the number of workers;
//! and records that crossed a next hop before the edges of their input
//! are decided (see `crate::learn`).

use super::record::evidence;
use super::state::Flow;
use crate::correlate::Correlator;
use crate::learn::EdgeLearner;
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
    // The input it came from (which learned edges judge it).
    gen: usize,
}

/// Where a finished record goes: straight out, or held for correlation.
pub(super) struct Outlet<'a> {
    pub(super) out: &'a mut Vec<FlowRecord>,
    pub(super) held: &'a mut Vec<Held>,
    pub(super) correlate: bool,
    /// Edges are learned and not decided yet for this input.
    pub(super) edges_pending: bool,
    /// The current input.
    pub(super) gen: usize,
}

impl Outlet<'_> {
    /// Hands on `rec`, the record of `f`, or holds it.
    pub(super) fn push(&mut self, rec: FlowRecord, f: &Flow) {
        let pending = (self.correlate || self.edges_pending).then(|| {
            let e = evidence(f, rec.src_ip, rec.dst_ip, rec.dst_port, rec.transport, None);
            let p = Pending::of(rec.transport, &rec.labels, &e, self.edges_pending)?;
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
            }),
            None => self.out.push(rec),
        }
    }
}

/// Resolves and hands on the held records whose last packet every worker
/// has processed; returns how many correlation relabelled.
pub(super) fn release(
    held: &mut Vec<Held>,
    c: Option<&Correlator>,
    l: Option<&EdgeLearner>,
    k: &Knowledge,
    out: &mut Vec<FlowRecord>,
) -> u64 {
    let mark = c.map_or(u64::MAX, Correlator::watermark);
    let mut relabelled = 0;
    let mut i = 0;
    // One lookup per input, not per record.
    let mut edges: Vec<(usize, Option<std::sync::Arc<LearnedEdges>>)> = Vec::new();
    while i < held.len() {
        let Some(h) = held.get(i) else {
            break;
        };
        let gen = h.gen;
        let learned = match edges.iter().find(|(g, _)| *g == gen) {
            Some((_, e)) => e.clone(),
            None => {
                let e = l.and_then(|l| l.get(gen));
                edges.push((gen, e.clone()));
                e
            }
        };
        if h.pending.edges && learned.is_none() {
            i += 1;
            continue;
        }
        let waits_mark = h.pending.waits_for_correlation();
        if waits_mark && h.last > mark {
            i += 1;
            continue;
        }
        let Held {
            mut rec,
            last,
            pending,
            gen: _,
        } = held.swap_remove(i);
        let first = rec.first_seen_us;
        let ends = (
            SocketAddr::new(rec.src_ip, rec.src_port),
            SocketAddr::new(rec.dst_ip, rec.dst_port),
        );
        let binding = |at: SocketAddr, pt: u8| c.and_then(|c| c.lookup_rtpmap(at, pt, last, first));
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
    relabelled
}
