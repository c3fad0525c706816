//! The flow table one worker owns, and what happens to a flow at each
//! packet, tick and deadline.

use super::hold::{self, Held, Outlet};
use super::record::build_record;
use super::state::{update, Flow, PathState, Remote, OPEN};
use super::*;
use crate::correlate::Correlator;
use crate::counters::FlowCounters;
use crate::edge_decisions::{EdgeDecisions, Round};
use foldhash::fast::FixedState;
use hashlink::LinkedHashMap;
use pathlens_classify::egress::{is_public, LearnedEdges, Tallies};
use pathlens_classify::evidence::Inspect;
use pathlens_classify::{companion_of, EndReason, FlowEvidence, Side, Transport};
use pathlens_export::FlowRecord;
use std::sync::Arc;

/// A worker's flow table.
pub struct FlowTable {
    map: LinkedHashMap<FlowKey, Flow, FixedState>,
    cfg: FlowConfig,
    ctx: Arc<Knowledge>,
    now_us: i64,
    next_scan_us: i64,
    /// The input the current flows come from (`interface` column).
    pub interface: Arc<str>,
    /// What this table did.
    pub counters: FlowCounters,
    correlator: Option<Arc<Correlator>>,
    // Records that other flows' signaling may complete, held until every
    // worker has passed their last packet.
    held: Vec<Held>,
    // Edges learned from the wire: the shared decisions and this worker's index.
    learner: Option<(Arc<EdgeDecisions>, usize)>,
    // The current input (generation), counted from 0.
    gen: usize,
    // The current interval of the input's edge learning (0: the warm-up).
    interval: usize,
    // This interval's counts.
    tally: Option<Tallies>,
    // The decision this interval's records are judged by, once made.
    learned: Option<Arc<LearnedEdges>>,
    // The earliest decision this worker may still ask for, as last told.
    floor_told: Round,
}

impl FlowTable {
    /// Replaces the knowledge later packets and flow ends are judged with
    /// (a reload); flows in progress keep what they gathered.
    pub fn set_knowledge(&mut self, ctx: Arc<Knowledge>) {
        self.ctx = ctx;
    }

    /// An empty table.
    pub fn new(cfg: FlowConfig, ctx: Arc<Knowledge>) -> Self {
        FlowTable {
            map: LinkedHashMap::with_hasher(FixedState::with_seed(0x5eed_f10e)),
            cfg,
            ctx,
            now_us: i64::MIN,
            next_scan_us: i64::MIN,
            interface: Arc::from(""),
            counters: FlowCounters::default(),
            correlator: None,
            held: Vec::new(),
            learner: None,
            gen: 0,
            interval: 0,
            tally: None,
            learned: None,
            floor_told: (0, 0),
        }
    }

    /// Learned edges re-decided so far (failovers); 0 when none is learned.
    pub fn edges_redecided(&self) -> u64 {
        self.learner.as_ref().map_or(0, |(l, _)| l.redecided())
    }

    /// Learns edges from the wire with the other workers through `l` (this
    /// is worker `w`); only when no edge is configured.
    pub fn with_learner(mut self, l: Arc<EdgeDecisions>, w: usize) -> Self {
        if self.ctx.egress.edges.is_empty() {
            self.learner = Some((l, w));
            self.tally = Some(Tallies::new());
        }
        self
    }

    /// A new input starts (after the first): its edges are learned afresh.
    pub fn next_input(&mut self, first: bool) {
        if !first {
            self.end_interval();
            self.gen += 1;
        }
        self.interval = 0;
        if self.learner.is_some() {
            self.tally = Some(Tallies::new());
            self.learned = None;
        }
    }

    /// An interval of the current input's edge learning is over (the
    /// warm-up, or a later one): publish what was counted, count afresh.
    pub fn end_interval(&mut self) {
        if let (Some((l, w)), Some(t)) = (&self.learner, self.tally.take()) {
            l.publish(self.gen, self.interval, *w, &t);
            self.tally = Some(Tallies::new());
            self.interval += 1;
            self.learned = None;
        }
    }

    /// The decision this interval's records are judged by (the previous
    /// interval's; the warm-up's during the warm-up), once made (None too
    /// when not learning). Over fields, so it can run while a flow is
    /// borrowed.
    fn learned_of(
        cache: &mut Option<Arc<LearnedEdges>>,
        learner: &Option<(Arc<EdgeDecisions>, usize)>,
        gen: usize,
        interval: usize,
    ) -> Option<Arc<LearnedEdges>> {
        if cache.is_none() {
            if let Some((l, _)) = learner {
                *cache = l.get(gen, interval.saturating_sub(1));
            }
        }
        cache.clone()
    }

    /// Shares learned endpoints with the other workers through `c` and
    /// labels this table's records from them.
    pub fn with_correlator(mut self, c: Arc<Correlator>) -> Self {
        self.correlator = Some(c);
        self
    }

    /// Records held for correlation.
    pub fn pending(&self) -> usize {
        self.held.len()
    }

    /// Resolves and hands on the held records whose last packet every worker
    /// has processed; tells the other workers which decisions this one may
    /// still ask for.
    pub fn release(&mut self, out: &mut Vec<FlowRecord>) {
        self.release_held(out, false);
    }

    /// Hands on every held record, once every worker has finished.
    pub fn release_all(&mut self, out: &mut Vec<FlowRecord>) {
        self.release_held(out, true);
    }

    fn release_held(&mut self, out: &mut Vec<FlowRecord>, last_call: bool) {
        let mut floor = (self.gen, self.interval.saturating_sub(1));
        if !self.held.is_empty() {
            let r = hold::release(
                &mut self.held,
                self.correlator.as_deref(),
                self.learner.as_ref().map(|(l, _)| &**l),
                &self.ctx,
                out,
                last_call,
            );
            self.counters.correlated += r.relabelled;
            floor = r.floor.map_or(floor, |f| f.min(floor));
        }
        if let Some((l, w)) = &self.learner {
            if floor > self.floor_told {
                self.floor_told = floor;
                l.need(*w, floor);
            }
        }
    }

    fn outlet<'a>(
        out: &'a mut Vec<FlowRecord>,
        held: &'a mut Vec<Held>,
        correlator: &Option<Arc<Correlator>>,
        learned: &'a Option<Arc<LearnedEdges>>,
        learning: bool,
        (gen, interval): (usize, usize),
    ) -> Outlet<'a> {
        Outlet {
            out,
            held,
            correlate: correlator.is_some(),
            learning,
            learned: learned.as_deref(),
            gen,
            interval,
        }
    }

    /// Where a flow's remote end is, for flows between a local and a public
    /// address; whether it is advertised over ExpressRoute only matters
    /// (and is looked up) while edges are learned.
    fn remote_of(&self, key: &FlowKey) -> Option<Remote> {
        let local = &self.ctx.local;
        let is_lo = match (local.is_local(key.lo_addr), local.is_local(key.hi_addr)) {
            (false, true) => true,
            (true, false) => false,
            _ => return None,
        };
        let remote = if is_lo { key.lo_addr } else { key.hi_addr };
        if !is_public(remote) {
            return None;
        }
        let site = &self.ctx.egress;
        let db = &site.db;
        // Without a declared circuit, flows are counted against the sets
        // that could be received over one, to report a circuit observed.
        let declared = site.edge_rules.circuit_declared;
        let advertised = if declared {
            (self.learner.is_some() && db.advertised_prefixes() > 0)
                .then(|| db.lookup(remote).is_some_and(|m| m.expressroute.is_some()))
        } else {
            (self.learner.is_some() && !db.o365_sets().is_empty()).then(|| {
                db.lookup(remote)
                    .and_then(|m| m.o365)
                    .is_some_and(|s| s.expressroute)
            })
        };
        Some(Remote { is_lo, advertised })
    }

    /// Live entries (flows and pending continuations).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn new_flow(&self, p: &Pkt) -> Flow {
        let transport = Transport::from_ip_proto(p.key.proto);
        // The initiator: the SYN sender; the receiver of a SYN-ACK; else the
        // first sender unless its port looks more like a server's.
        let sender_is_src = if transport == Transport::Tcp && p.tcp_flags & SYN != 0 {
            p.tcp_flags & ACK == 0
        } else if transport.has_ports() {
            let ports = &self.ctx.signatures.ports;
            ports.server_rank(transport, p.sport) <= ports.server_rank(transport, p.dport)
        } else {
            true
        };
        let src_is_lo = p.from_lo == sender_is_src;
        let (sp, dp) = if sender_is_src {
            (p.sport, p.dport)
        } else {
            (p.dport, p.sport)
        };
        let (sp, dp) = if transport.has_ports() {
            (sp, dp)
        } else {
            (0, 0)
        };
        Flow {
            flow_id: i64::try_from(p.seq).unwrap_or(i64::MAX),
            first_us: p.ts_us,
            last_us: p.ts_us,
            last_seq: p.seq,
            src_is_lo,
            ip_version: p.ip_version,
            icmp: None,
            pkts: [0; 2],
            bytes: [0; 2],
            payload: [0; 2],
            flags: [0; 2],
            truncated: 0,
            tcp_hist: 0,
            closed_us: OPEN,
            hops: [0; 2],
            hop_changed: 0,
            vlan: p.l2.vlan,
            encap: (p.encap, p.tunnel_id),
            path: PathState::new(self.remote_of(&p.key)),
            evidence: FlowEvidence::new(
                &self.ctx.signatures,
                p.key.proto,
                sp,
                dp,
                self.cfg.inspect_payload,
            ),
        }
    }

    /// Accounts one packet; records that end because of it go to `out`.
    pub fn packet(&mut self, p: &Pkt, payload: &[u8], out: &mut Vec<FlowRecord>) {
        self.packet_own(p, payload, out);
        // The reader sent the companion flow to this worker too
        // (`classify::dispatch_key`).
        if self.cfg.media_metrics {
            if let Some(to) = companion_of(&p.key) {
                self.feed_companion(p, &to, payload);
            }
        }
    }

    /// Hands what the packet's flow passes on (`FlowEvidence::companion_bytes`)
    /// to its companion flow `to`, when that one is still live at this
    /// packet's time; the packet's own flow notes what landed there.
    fn feed_companion(&mut self, p: &Pkt, to: &FlowKey, payload: &[u8]) {
        let Some(own) = self.map.get(&p.key) else {
            return;
        };
        let Some(bytes) = own.evidence.companion_bytes(payload) else {
            return;
        };
        let own_side = Self::side_of(own, p);
        let Some(f) = self.map.get_mut(to) else {
            return;
        };
        if p.ts_us >= f.deadline(&self.cfg).0 {
            return;
        }
        let side = Self::side_of(f, p);
        let landed = f.evidence.take_companion(side, p.ts_us, bytes);
        if landed.is_empty() {
            return;
        }
        if let Some(own) = self.map.get_mut(&p.key) {
            own.evidence.companion_took(own_side, &landed);
        }
    }

    /// The direction of `p` in flow `f`.
    fn side_of(f: &Flow, p: &Pkt) -> Side {
        if p.from_lo == f.src_is_lo {
            Side::Src2Dst
        } else {
            Side::Dst2Src
        }
    }

    fn packet_own(&mut self, p: &Pkt, payload: &[u8], out: &mut Vec<FlowRecord>) {
        if p.ts_us > self.now_us {
            self.now_us = p.ts_us;
        }
        let is_syn = p.tcp_flags & (SYN | ACK) == SYN && p.key.proto == 6;
        // One hash lookup on the common path: an existing, live flow.
        let corr = self.correlator.as_deref();
        let run = Inspect {
            signatures: &self.ctx.signatures,
            media: self.cfg.media_metrics,
        };
        if let Some(f) = self.map.to_back(&p.key) {
            let (deadline, reason) = f.deadline(&self.cfg);
            if p.ts_us < deadline && !(is_syn && f.closed().is_some()) {
                update(f, p, payload, run, corr, self.tally.as_mut());
                return;
            }
            let reason = if p.ts_us >= deadline {
                reason
            } else {
                EndReason::EndOfFlow
            };
            if !f.is_empty() {
                let learned =
                    Self::learned_of(&mut self.learned, &self.learner, self.gen, self.interval);
                let rec = build_record(
                    &self.ctx,
                    learned.as_deref(),
                    &self.interface,
                    &p.key,
                    f,
                    reason,
                );
                Self::outlet(
                    out,
                    &mut self.held,
                    &self.correlator,
                    &learned,
                    self.learner.is_some(),
                    (self.gen, self.interval),
                )
                .push(rec, f);
                self.counters.ended(reason);
            }
            // Exactly what a sweep at the deadline would have done: an active
            // cut continues the flow, anything else (an idle gap, a close, a
            // new SYN on a closed 5-tuple) starts a fresh one.
            if reason == EndReason::ActiveTimeout
                && p.ts_us < f.last_us.saturating_add(self.cfg.idle_us)
            {
                f.make_continuation();
                update(f, p, payload, run, corr, self.tally.as_mut());
                return;
            }
            self.map.remove(&p.key);
        }
        if self.map.len() >= self.cfg.capacity {
            self.evict_one(out);
        }
        let f = self.new_flow(p);
        self.counters.flows_created += 1;
        if let hashlink::linked_hash_map::RawEntryMut::Vacant(v) =
            self.map.raw_entry_mut().from_key(&p.key)
        {
            let (_, f) = v.insert(p.key, f);
            let corr = self.correlator.as_deref();
            let run = Inspect {
                signatures: &self.ctx.signatures,
                media: self.cfg.media_metrics,
            };
            update(f, p, payload, run, corr, self.tally.as_mut());
        }
    }

    /// Hands on the record of a flow taken out of the table.
    fn end(&mut self, k: &FlowKey, f: &Flow, reason: EndReason, out: &mut Vec<FlowRecord>) {
        let learned = Self::learned_of(&mut self.learned, &self.learner, self.gen, self.interval);
        let rec = build_record(&self.ctx, learned.as_deref(), &self.interface, k, f, reason);
        Self::outlet(
            out,
            &mut self.held,
            &self.correlator,
            &learned,
            self.learner.is_some(),
            (self.gen, self.interval),
        )
        .push(rec, f);
    }

    fn evict_one(&mut self, out: &mut Vec<FlowRecord>) {
        if let Some((k, f)) = self.map.pop_front() {
            if !f.is_empty() {
                self.end(&k, &f, EndReason::LackOfResources, out);
                self.counters.ended(EndReason::LackOfResources);
                self.counters.evicted += 1;
            }
        }
    }

    /// Moves packet time to `now_us` (a tick) and ends what has expired.
    pub fn advance(&mut self, now_us: i64, out: &mut Vec<FlowRecord>) {
        if now_us > self.now_us {
            self.now_us = now_us;
        }
        let now = self.now_us;
        // Cheap and frequent: the least recently seen flows, from the front.
        while let Some((_, f)) = self.map.front() {
            let (deadline, reason) = f.deadline(&self.cfg);
            if deadline > now || reason != EndReason::IdleTimeout {
                break;
            }
            if let Some((k, f)) = self.map.pop_front() {
                if !f.is_empty() {
                    self.end(&k, &f, reason, out);
                    self.counters.ended(reason);
                }
            }
        }
        // Occasional full scan for active-timeout and TCP-close deadlines,
        // which do not follow the idle order.
        if now >= self.next_scan_us {
            self.next_scan_us = now.saturating_add(self.cfg.scan_every_us);
            let (ctx, iface, cfg, counters) =
                (&self.ctx, &self.interface, &self.cfg, &mut self.counters);
            let learned =
                Self::learned_of(&mut self.learned, &self.learner, self.gen, self.interval);
            let mut sink = Self::outlet(
                out,
                &mut self.held,
                &self.correlator,
                &learned,
                self.learner.is_some(),
                (self.gen, self.interval),
            );
            self.map.retain(|k, f| {
                let (deadline, reason) = f.deadline(cfg);
                if deadline > now {
                    return true;
                }
                if !f.is_empty() {
                    sink.push(
                        build_record(ctx, learned.as_deref(), iface, k, f, reason),
                        f,
                    );
                    counters.ended(reason);
                }
                if reason == EndReason::ActiveTimeout {
                    f.make_continuation();
                    true
                } else {
                    false
                }
            });
        }
    }

    /// Ends every flow (end of input or shutdown). Flows already past a
    /// deadline end with that deadline's reason, closed TCP flows with
    /// `end_of_flow`, the rest with `forced_end`.
    /// `end_us` is the time the input ended (the reader's last packet time),
    /// so every worker judges deadlines against the same clock.
    pub fn flush(&mut self, end_us: i64, out: &mut Vec<FlowRecord>) {
        while !self.flush_some(end_us, usize::MAX, out) {}
    }

    /// Ends up to `max` flows as [`FlowTable::flush`] does, longest-idle
    /// first, so a caller can hand records on in bounded chunks. Returns true
    /// when the table is empty (and resets its clock for the next input).
    pub fn flush_some(&mut self, end_us: i64, max: usize, out: &mut Vec<FlowRecord>) -> bool {
        let now = self.now_us.max(end_us);
        for _ in 0..max {
            let Some((k, f)) = self.map.pop_front() else {
                break;
            };
            if f.is_empty() {
                continue;
            }
            let (deadline, reason) = f.deadline(&self.cfg);
            let reason = if deadline <= now {
                reason
            } else if f.closed().is_some() {
                EndReason::EndOfFlow
            } else {
                EndReason::ForcedEnd
            };
            self.end(&k, &f, reason, out);
            self.counters.ended(reason);
        }
        if self.map.is_empty() {
            self.now_us = i64::MIN;
            self.next_scan_us = i64::MIN;
            return true;
        }
        false
    }
}
