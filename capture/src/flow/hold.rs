//! Records held back until every worker has passed their last packet, so
//! what other flows' signaling teaches (learned media endpoints, SDP
//! bindings) completes them the same way whatever the number of workers.

use super::record::evidence;
use super::state::Flow;
use crate::correlate::Correlator;
use pathlens_classify::outcome::{Knowledge, Pending};
use pathlens_export::FlowRecord;
use std::net::SocketAddr;

/// A finished record waiting for what other workers learn.
pub(super) struct Held {
    rec: FlowRecord,
    // Input position of its last packet.
    last: u64,
    pending: Pending,
}

/// Where a finished record goes: straight out, or held for correlation.
pub(super) struct Outlet<'a> {
    pub(super) out: &'a mut Vec<FlowRecord>,
    pub(super) held: &'a mut Vec<Held>,
    pub(super) correlate: bool,
}

impl Outlet<'_> {
    /// Hands on `rec`, the record of `f`, or holds it.
    pub(super) fn push(&mut self, rec: FlowRecord, f: &Flow) {
        let pending = self.correlate.then(|| {
            let e = evidence(f, rec.src_ip, rec.dst_ip, rec.transport);
            Pending::of(rec.transport, &rec.labels, &e)
        });
        match pending.flatten() {
            Some(pending) => self.held.push(Held {
                rec,
                last: f.last_seq,
                pending,
            }),
            None => self.out.push(rec),
        }
    }
}

/// Resolves and hands on the held records whose last packet every worker
/// has processed; returns how many correlation relabelled.
pub(super) fn release(
    held: &mut Vec<Held>,
    c: &Correlator,
    k: &Knowledge,
    out: &mut Vec<FlowRecord>,
) -> u64 {
    let mark = c.watermark();
    let mut relabelled = 0;
    let mut i = 0;
    while i < held.len() {
        if held.get(i).is_none_or(|h| h.last > mark) {
            i += 1;
            continue;
        }
        let Held {
            mut rec,
            last,
            pending,
        } = held.swap_remove(i);
        let first = rec.first_seen_us;
        let ends = (
            SocketAddr::new(rec.src_ip, rec.src_port),
            SocketAddr::new(rec.dst_ip, rec.dst_port),
        );
        let sdp = |at: SocketAddr, pt: u8| c.lookup_rtpmap(at, pt, last, first);
        let learned = |at: SocketAddr| c.lookup_learned(at, last, first);
        if pending.resolve(k, rec.flow_id, ends, &mut rec.labels, &sdp, &learned) {
            relabelled += 1;
        }
        out.push(rec);
    }
    relabelled
}
