//! The flow table one worker owns: bidirectional flows keyed by [`FlowKey`],
//! kept in least-recently-seen order so the longest-idle flow is evicted in
//! O(1) when the table is full.
//!
//! Every decision is a function of packet times only (idle, active and
//! TCP-close deadlines), never of when a sweep happens to run, so the rows
//! are the same whatever the number of workers and however ticks fall.
//! A record cut by the active timeout leaves an empty "continuation" entry
//! that keeps the flow's orientation and classification for the next row.

use crate::correlate::Correlator;
use crate::counters::FlowCounters;
use foldhash::fast::FixedState;
use hashlink::LinkedHashMap;
use pathlens_classify::classifier::needs_correlation;
use pathlens_classify::community_id::{community_id_v1, icmp_ports};
use pathlens_classify::dissect::rtp::rfc4571_first;
use pathlens_classify::dissect::stun::ms_turn_data;
use pathlens_classify::egress::{FlowFacts, Site};
use pathlens_classify::media::MediaTracker;
use pathlens_classify::prefix::LocalNets;
use pathlens_classify::{
    AppProtocol, AppSource, EndReason, FlowClassifier, FlowKey, FlowShape, Side, Signatures,
    TrafficType, Transport,
};
use pathlens_export::{ConnState, EgressFields, FlowRecord, MediaFields};
use std::net::SocketAddr;
use std::sync::Arc;

/// Read-only knowledge every worker shares.
#[derive(Debug)]
pub struct Context {
    /// Signature rules.
    pub signatures: Signatures,
    /// Local networks.
    pub local: LocalNets,
    /// Egress attribution: prefix sources, edge routers, call-flow table.
    pub egress: Site,
}

/// Timeouts and limits, in microseconds of packet time.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// A flow with no packet for this long ends (`idle_timeout`).
    pub idle_us: i64,
    /// A record this long is cut; the flow continues in a new row.
    pub active_us: i64,
    /// After FIN both ways or RST, packets this close still join the record.
    pub close_linger_us: i64,
    /// Live flows this table may hold before evicting the longest-idle.
    pub capacity: usize,
    /// How often (packet time) to scan the whole table for active and close deadlines.
    pub scan_every_us: i64,
    /// Inspect payloads (false: port rules only, `--classify port`).
    pub inspect_payload: bool,
    /// Track RTP/RTCP streams of media flows (false: `--no-media`).
    pub media_metrics: bool,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_us: 120_000_000,
            active_us: 1_800_000_000,
            close_linger_us: 5_000_000,
            capacity: 4_000_000,
            scan_every_us: 10_000_000,
            inspect_payload: true,
            media_metrics: true,
        }
    }
}

/// One packet as the reader hands it to a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pkt {
    /// Index of the packet in the run's input: the flow id of the record it opens.
    pub seq: u64,
    /// Capture time, µs since the epoch.
    pub ts_us: i64,
    /// Canonical key.
    pub key: FlowKey,
    /// The sender is the key's `lo` endpoint.
    pub from_lo: bool,
    /// 4 or 6.
    pub ip_version: u8,
    /// IP bytes per the header.
    pub ip_len: u32,
    /// Transport payload bytes per the headers.
    pub payload_len: u32,
    /// TCP flags.
    pub tcp_flags: u16,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
    /// Captured length < wire length.
    pub truncated: bool,
    /// Sender port as seen on the wire (for orientation).
    pub sport: u16,
    /// Receiver port as seen on the wire.
    pub dport: u16,
    /// Edge router the packet crossed (index into the site's edges, 0 =
    /// none), resolved by the reader from the MACs or VLAN only when edges
    /// are configured: one byte instead of two MACs in every batch.
    pub edge: u8,
}

impl Pkt {
    /// The flow-table view of a decoded packet: `seq` is its index in the
    /// run's input, `truncated` whether the capture cut it.
    pub fn from_decoded(
        seq: u64,
        ts_us: i64,
        truncated: bool,
        d: &crate::decode::Decoded<'_>,
    ) -> Self {
        let (key, from_lo) = FlowKey::new(d.src, d.sport, d.dst, d.dport, d.proto, d.vlan);
        Pkt {
            seq,
            ts_us,
            key,
            from_lo,
            ip_version: d.ip_version,
            ip_len: d.ip_len,
            payload_len: d.payload_len,
            tcp_flags: d.tcp_flags,
            icmp: d.icmp,
            truncated,
            sport: d.sport,
            dport: d.dport,
            edge: 0,
        }
    }
}

const SYN: u16 = 0x02;
const FIN: u16 = 0x01;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

// TCP history bits, per side (shifted by 4 for dst2src).
const H_SYN: u8 = 1; // SYN without ACK
const H_SYNACK: u8 = 2;
const H_FIN: u8 = 4;
const H_RST: u8 = 8;

#[derive(Debug)]
struct Flow {
    flow_id: i64,
    first_us: i64,
    last_us: i64,
    last_seq: u64,
    src_is_lo: bool,
    ip_version: u8,
    icmp: Option<(u8, u8)>,
    pkts: [u64; 2],
    bytes: [u64; 2],
    payload: [u64; 2],
    flags: [u16; 2],
    truncated: u64,
    tcp_hist: u8,
    closed_us: Option<i64>,
    /// First edge seen per direction (0 = none yet).
    hops: [u8; 2],
    /// A later packet of that direction crossed another edge.
    hop_changed: [bool; 2],
    classifier: FlowClassifier,
    // Boxed: most flows never carry RTP and keep only the pointer.
    media: Option<Box<MediaTracker>>,
}

impl Flow {
    fn is_empty(&self) -> bool {
        self.pkts[0] == 0 && self.pkts[1] == 0
    }

    /// The earliest deadline and what reaching it means.
    fn deadline(&self, cfg: &FlowConfig) -> (i64, EndReason) {
        let idle = self.last_us.saturating_add(cfg.idle_us);
        if self.is_empty() {
            return (idle, EndReason::IdleTimeout);
        }
        let active = self.first_us.saturating_add(cfg.active_us);
        // A closed TCP flow ends as end_of_flow, at the end of its linger or
        // of its idle time, whichever is first; only an earlier active
        // timeout takes precedence.
        let (end, reason) = match self.closed_us {
            Some(c) => (
                idle.min(c.saturating_add(cfg.close_linger_us)),
                EndReason::EndOfFlow,
            ),
            None => (idle, EndReason::IdleTimeout),
        };
        if active < end {
            (active, EndReason::ActiveTimeout)
        } else {
            (end, reason)
        }
    }

    /// Resets counters for the next row of the same flow.
    fn make_continuation(&mut self) {
        self.pkts = [0; 2];
        self.bytes = [0; 2];
        self.payload = [0; 2];
        self.flags = [0; 2];
        self.truncated = 0;
        self.tcp_hist = 0;
        self.closed_us = None;
        self.hops = [0; 2];
        self.hop_changed = [false; 2];
        // The next row's streams start afresh: figures describe their row.
        if let Some(m) = self.media.as_deref_mut() {
            *m = MediaTracker::new();
        }
    }

    fn conn_state(&self) -> ConnState {
        let o = self.tcp_hist & 0x0f;
        let r = self.tcp_hist >> 4;
        let orig_syn = o & H_SYN != 0;
        let resp_synack = r & H_SYNACK != 0;
        match (orig_syn, resp_synack) {
            (true, true) => {
                if o & H_RST != 0 {
                    ConnState::RSTO
                } else if r & H_RST != 0 {
                    ConnState::RSTR
                } else if o & H_FIN != 0 && r & H_FIN != 0 {
                    ConnState::SF
                } else if o & H_FIN != 0 {
                    ConnState::S2
                } else if r & H_FIN != 0 {
                    ConnState::S3
                } else {
                    ConnState::S1
                }
            }
            (true, false) => {
                if r & H_RST != 0 {
                    ConnState::REJ
                } else if o & H_RST != 0 {
                    ConnState::RSTOS0
                } else if o & H_FIN != 0 {
                    ConnState::SH
                } else if self.pkts[1] == 0 {
                    ConnState::S0
                } else {
                    ConnState::OTH
                }
            }
            (false, true) => {
                if r & H_RST != 0 {
                    ConnState::RSTRH
                } else if r & H_FIN != 0 {
                    ConnState::SHR
                } else {
                    ConnState::OTH
                }
            }
            (false, false) => ConnState::OTH,
        }
    }
}

/// A worker's flow table.
pub struct FlowTable {
    map: LinkedHashMap<FlowKey, Flow, FixedState>,
    cfg: FlowConfig,
    ctx: Arc<Context>,
    now_us: i64,
    next_scan_us: i64,
    /// The input the current flows come from (`interface` column).
    pub interface: Arc<str>,
    /// What this table did.
    pub counters: FlowCounters,
    correlator: Option<Arc<Correlator>>,
    // Records that other flows' signaling may complete, held until every
    // worker has passed their last packet.
    pending: Vec<Held>,
}

/// A finished record waiting for what other workers learn.
struct Held {
    rec: FlowRecord,
    // Input position of its last packet.
    last: u64,
    // What egress judged it on, to judge again if correlation relabels it.
    facts: FlowFacts,
    relabel: bool,
    // Its streams, when a dynamic payload type waits for an SDP binding.
    media: Option<Box<MediaTracker>>,
}

/// Where a finished record goes: straight out, or held for correlation.
struct Sink<'a> {
    out: &'a mut Vec<FlowRecord>,
    pending: &'a mut Vec<Held>,
    correlate: bool,
}

impl Sink<'_> {
    fn push(&mut self, rec: FlowRecord, f: &Flow) {
        if !self.correlate {
            self.out.push(rec);
            return;
        }
        let relabel = needs_correlation(rec.transport, rec.app_protocol, rec.app_protocol_source);
        let media = f
            .media
            .as_ref()
            .filter(|m| rec.media.is_media && m.has_dynamic_payload())
            .cloned();
        if !relabel && media.is_none() {
            self.out.push(rec);
            return;
        }
        let facts = FlowFacts {
            src: rec.src_ip,
            dst: rec.dst_ip,
            traffic_type: rec.traffic_type,
            hops: f.hops,
            hop_changed: f.hop_changed,
        };
        self.pending.push(Held {
            rec,
            last: f.last_seq,
            facts,
            relabel,
            media,
        });
    }
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig, ctx: Arc<Context>) -> Self {
        FlowTable {
            map: LinkedHashMap::with_hasher(FixedState::with_seed(0x5eed_f10e)),
            cfg,
            ctx,
            now_us: i64::MIN,
            next_scan_us: i64::MIN,
            interface: Arc::from(""),
            counters: FlowCounters::default(),
            correlator: None,
            pending: Vec::new(),
        }
    }

    /// Shares learned endpoints with the other workers through `c` and
    /// labels this table's records from them.
    pub fn with_correlator(mut self, c: Arc<Correlator>) -> Self {
        self.correlator = Some(c);
        self
    }

    /// Records held for correlation.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Resolves and hands on the held records whose last packet every worker
    /// has processed (all of them once every worker has finished).
    pub fn release(&mut self, out: &mut Vec<FlowRecord>) {
        let Some(c) = self.correlator.as_deref() else {
            return;
        };
        if self.pending.is_empty() {
            return;
        }
        let mark = c.watermark();
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending.get(i).is_some_and(|h| h.last <= mark) {
                let Held {
                    mut rec,
                    last,
                    mut facts,
                    relabel,
                    media,
                } = self.pending.swap_remove(i);
                let dst = SocketAddr::new(rec.dst_ip, rec.dst_port);
                let src = SocketAddr::new(rec.src_ip, rec.src_port);
                if let Some(m) = media {
                    // A stream's payload types are the ones the SDP of the
                    // endpoint it goes to bound; else its sender's.
                    let first = rec.first_seen_us;
                    let sdp = |side: Side, pt: u8| {
                        let (to, from) = match side {
                            Side::Src2Dst => (dst, src),
                            Side::Dst2Src => (src, dst),
                        };
                        c.lookup_rtpmap(to, pt, last, first)
                            .or_else(|| c.lookup_rtpmap(from, pt, last, first))
                    };
                    rec.media = MediaFields::from_tracker(
                        rec.flow_id,
                        &m,
                        &self.ctx.signatures.media,
                        &sdp,
                    );
                }
                let label = relabel
                    .then(|| {
                        c.lookup(dst, last, rec.first_seen_us)
                            .or_else(|| c.lookup(src, last, rec.first_seen_us))
                    })
                    .flatten();
                if let Some(app) = label {
                    rec.app_protocol = app;
                    rec.app_protocol_source = AppSource::Correlation;
                    rec.traffic_type = app.default_traffic_type();
                    self.counters.correlated += 1;
                    // The call-flow expectation depends on the traffic type.
                    facts.traffic_type = rec.traffic_type;
                    let v = self.ctx.egress.judge(&self.ctx.local, &facts);
                    rec.egress.expected_path = v.expected;
                    rec.egress.path_conformant = v.conformant;
                    rec.egress.path_note = v.note;
                }
                out.push(rec);
            } else {
                i += 1;
            }
        }
    }

    fn sink<'a>(
        out: &'a mut Vec<FlowRecord>,
        pending: &'a mut Vec<Held>,
        correlator: &Option<Arc<Correlator>>,
    ) -> Sink<'a> {
        Sink {
            out,
            pending,
            correlate: correlator.is_some(),
        }
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
            closed_us: None,
            hops: [0; 2],
            hop_changed: [false; 2],
            media: None,
            classifier: if self.cfg.inspect_payload {
                FlowClassifier::new(&self.ctx.signatures, transport, sp, dp)
            } else {
                FlowClassifier::port_only(&self.ctx.signatures, transport, sp, dp)
            },
        }
    }

    /// Accounts one packet; records that end because of it go to `out`.
    pub fn packet(&mut self, p: &Pkt, payload: &[u8], out: &mut Vec<FlowRecord>) {
        self.packet_own(p, payload, out);
        // Both ports odd: RTCP on port+1 of an RTP flow, which the reader
        // sent to this worker too (`worker_of`).
        if self.cfg.media_metrics && p.key.proto == 17 && p.key.lo_port & p.key.hi_port & 1 == 1 {
            self.forward_rtcp(p, payload);
        }
    }

    /// Accounts an RTCP datagram on the RTP flow one port below, so its
    /// reports land on the streams they describe; the RTCP flow keeps its
    /// own figures but leaves those streams' rows to the RTP flow. Only for
    /// an RTCP-only flow (muxed RTCP on odd ports stays on its own flow) and
    /// an RTP flow still live at this packet's time and already decided as
    /// media (an undecided one may end as anything, and write no streams).
    fn forward_rtcp(&mut self, p: &Pkt, payload: &[u8]) {
        let bytes = MediaTracker::unwrap_udp(payload);
        if !MediaTracker::looks_like_rtcp(bytes) {
            return;
        }
        let Some(own) = self.map.get(&p.key) else {
            return;
        };
        let own_side = if p.from_lo == own.src_is_lo {
            Side::Src2Dst
        } else {
            Side::Dst2Src
        };
        if own.media.as_deref().is_none_or(|m| m.rtp_packets > 0) {
            return;
        }
        let rtp_key = FlowKey {
            lo_port: p.key.lo_port - 1,
            hi_port: p.key.hi_port - 1,
            ..p.key
        };
        let Some(f) = self.map.get_mut(&rtp_key) else {
            return;
        };
        if p.ts_us >= f.deadline(&self.cfg).0
            || f.classifier.wants_more()
            || !f.classifier.payload_label().is_some_and(carries_media)
        {
            return;
        }
        let Some(m) = f.media.as_deref_mut().filter(|m| m.rtp_packets > 0) else {
            return;
        };
        let side = if p.from_lo == f.src_is_lo {
            Side::Src2Dst
        } else {
            Side::Dst2Src
        };
        let landed = m.feed_forwarded(side, p.ts_us, bytes);
        if landed.is_empty() {
            return;
        }
        if let Some(own) = self
            .map
            .get_mut(&p.key)
            .and_then(|f| f.media.as_deref_mut())
        {
            own.mark_forwarded(own_side, &landed);
        }
    }

    fn packet_own(&mut self, p: &Pkt, payload: &[u8], out: &mut Vec<FlowRecord>) {
        if p.ts_us > self.now_us {
            self.now_us = p.ts_us;
        }
        let is_syn = p.tcp_flags & (SYN | ACK) == SYN && p.key.proto == 6;
        // One hash lookup on the common path: an existing, live flow.
        let corr = self.correlator.as_deref();
        let media = self.cfg.media_metrics;
        if let Some(f) = self.map.to_back(&p.key) {
            let (deadline, reason) = f.deadline(&self.cfg);
            if p.ts_us < deadline && !(is_syn && f.closed_us.is_some()) {
                update(f, p, payload, &self.ctx.signatures, corr, media);
                return;
            }
            let reason = if p.ts_us >= deadline {
                reason
            } else {
                EndReason::EndOfFlow
            };
            if !f.is_empty() {
                let rec = build_record(&self.ctx, &self.interface, &p.key, f, reason);
                Self::sink(out, &mut self.pending, &self.correlator).push(rec, f);
                self.counters.ended(reason);
            }
            // Exactly what a sweep at the deadline would have done: an active
            // cut continues the flow, anything else (an idle gap, a close, a
            // new SYN on a closed 5-tuple) starts a fresh one.
            if reason == EndReason::ActiveTimeout
                && p.ts_us < f.last_us.saturating_add(self.cfg.idle_us)
            {
                f.make_continuation();
                update(f, p, payload, &self.ctx.signatures, corr, media);
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
            update(f, p, payload, &self.ctx.signatures, corr, media);
        }
    }

    fn evict_one(&mut self, out: &mut Vec<FlowRecord>) {
        if let Some((k, f)) = self.map.pop_front() {
            if !f.is_empty() {
                let rec = build_record(
                    &self.ctx,
                    &self.interface,
                    &k,
                    &f,
                    EndReason::LackOfResources,
                );
                Self::sink(out, &mut self.pending, &self.correlator).push(rec, &f);
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
                    let rec = build_record(&self.ctx, &self.interface, &k, &f, reason);
                    Self::sink(out, &mut self.pending, &self.correlator).push(rec, &f);
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
            let mut sink = Self::sink(out, &mut self.pending, &self.correlator);
            self.map.retain(|k, f| {
                let (deadline, reason) = f.deadline(cfg);
                if deadline > now {
                    return true;
                }
                if !f.is_empty() {
                    sink.push(build_record(ctx, iface, k, f, reason), f);
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
            } else if f.closed_us.is_some() {
                EndReason::EndOfFlow
            } else {
                EndReason::ForcedEnd
            };
            let rec = build_record(&self.ctx, &self.interface, &k, &f, reason);
            Self::sink(out, &mut self.pending, &self.correlator).push(rec, &f);
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

/// Accounts one packet in a live flow record.
#[inline]
fn update(
    f: &mut Flow,
    p: &Pkt,
    payload: &[u8],
    sig: &Signatures,
    corr: Option<&Correlator>,
    media: bool,
) {
    if f.is_empty() {
        // First packet of this record (new flow or continuation).
        f.flow_id = i64::try_from(p.seq).unwrap_or(i64::MAX);
        f.first_us = p.ts_us;
        f.icmp = p.icmp;
    }
    let side = if p.from_lo == f.src_is_lo {
        Side::Src2Dst
    } else {
        Side::Dst2Src
    };
    let i = usize::from(side == Side::Dst2Src);
    f.last_us = f.last_us.max(p.ts_us);
    f.last_seq = p.seq;
    if let (Some(pk), Some(by), Some(pl), Some(fl)) = (
        f.pkts.get_mut(i),
        f.bytes.get_mut(i),
        f.payload.get_mut(i),
        f.flags.get_mut(i),
    ) {
        *pk += 1;
        *by += u64::from(p.ip_len);
        *pl += u64::from(p.payload_len);
        *fl |= p.tcp_flags;
    }
    f.truncated += u64::from(p.truncated);
    if p.edge != 0 {
        if let (Some(h), Some(c)) = (f.hops.get_mut(i), f.hop_changed.get_mut(i)) {
            if *h == 0 {
                *h = p.edge;
            } else if *h != p.edge {
                *c = true;
            }
        }
    }
    if p.key.proto == 6 && p.tcp_flags != 0 {
        let mut h = 0u8;
        if p.tcp_flags & (SYN | ACK) == SYN {
            h |= H_SYN;
        }
        if p.tcp_flags & (SYN | ACK) == SYN | ACK {
            h |= H_SYNACK;
        }
        if p.tcp_flags & FIN != 0 {
            h |= H_FIN;
        }
        if p.tcp_flags & RST != 0 {
            h |= H_RST;
        }
        f.tcp_hist |= if i == 0 { h } else { h << 4 };
        let both_fin = f.tcp_hist & H_FIN != 0 && f.tcp_hist & (H_FIN << 4) != 0;
        let rst = f.tcp_hist & (H_RST | (H_RST << 4)) != 0;
        if (both_fin || rst) && f.closed_us.is_none() {
            f.closed_us = Some(p.ts_us);
        }
    }
    let inspecting = f.classifier.wants_more();
    if inspecting && !payload.is_empty() {
        f.classifier.feed(sig, side, payload);
        if f.classifier.has_learned() {
            let learned = f.classifier.take_learned();
            if let Some(c) = corr {
                c.learn(p.seq, p.ts_us, &learned);
            }
        }
    }
    if media {
        feed_media(f, p, side, inspecting, payload);
    }
}

/// Classes whose flows carry RTP: plain or secure media, RTCP, and the ICE
/// flows (STUN checks, then DTLS-SRTP or relayed media) that go on to carry it.
fn carries_media(app: AppProtocol) -> bool {
    matches!(
        app,
        AppProtocol::Rtp
            | AppProtocol::Srtp
            | AppProtocol::Rtcp
            | AppProtocol::Dtls
            | AppProtocol::StunTurn
    )
}

/// Media metrics must see a stream from its first packet, but the classifier
/// decides only after a few. So a tracker starts at the first RTP-looking
/// packet while the flow is still being inspected, or later on a flow already
/// decided as media-carrying (an ICE flow labelled `dtls` at its handshake
/// sends SRTP afterwards); it is dropped as soon as the flow is decided as
/// anything else, and flows still undecided at the end are settled in
/// `build_record`. Packets before a tracker starts are STUN or DTLS, nothing
/// it reads. Over TCP only the first RFC 4571 frame, or MS-TURN data frame,
/// of a segment is read (no reassembly, as nDPI).
#[inline]
fn feed_media(f: &mut Flow, p: &Pkt, side: Side, inspecting: bool, payload: &[u8]) {
    // Decided flows that carry no media cost two checks per packet.
    if f.media.is_none() && !inspecting && !f.classifier.payload_label().is_some_and(carries_media)
    {
        return;
    }
    let rtp = match p.key.proto {
        17 => MediaTracker::unwrap_udp(payload),
        6 => match rfc4571_first(payload).or_else(|| ms_turn_data(payload)) {
            Some(inner) => inner,
            None => return,
        },
        _ => return,
    };
    match f.media.as_deref_mut() {
        Some(m) => m.feed(side, p.ts_us, rtp),
        None if MediaTracker::looks_like_rtp(rtp)
            && (inspecting || f.classifier.payload_label().is_some_and(carries_media)) =>
        {
            let mut m = Box::new(MediaTracker::new());
            m.feed(side, p.ts_us, rtp);
            f.media = Some(m);
        }
        None => {}
    }
    if inspecting
        && !f.classifier.wants_more()
        && !f.classifier.payload_label().is_some_and(carries_media)
    {
        f.media = None;
    }
}

fn build_record(
    ctx: &Context,
    iface: &Arc<str>,
    k: &FlowKey,
    f: &Flow,
    reason: EndReason,
) -> FlowRecord {
    let (src, sport, dst, dport) = if f.src_is_lo {
        (k.lo_addr, k.lo_port, k.hi_addr, k.hi_port)
    } else {
        (k.hi_addr, k.hi_port, k.lo_addr, k.lo_port)
    };
    let transport = Transport::from_ip_proto(k.proto);
    let (cid_sport, cid_dport, one_way) = match (transport, f.icmp) {
        (Transport::Icmp | Transport::Icmpv6, Some((t, c))) => {
            icmp_ports(t, c, transport == Transport::Icmpv6)
        }
        _ => (sport, dport, false),
    };
    let (sport, dport) = if transport.has_ports() {
        (sport, dport)
    } else {
        (0, 0)
    };
    let community_id = community_id_v1(src, dst, cid_sport, cid_dport, k.proto, one_way, 0);
    let shape = FlowShape {
        src2dst_packets: f.pkts[0],
        dst2src_packets: f.pkts[1],
        payload_bytes: f.payload[0] + f.payload[1],
        duration_us: f.last_us - f.first_us,
    };
    let class = f.classifier.result(&ctx.signatures, &shape);
    let app = class.app();
    let mut facts = FlowFacts {
        src,
        dst,
        traffic_type: class
            .traffic_type
            .unwrap_or(TrafficType::Other)
            .for_service(app, class.service.as_deref()),
        hops: f.hops,
        hop_changed: f.hop_changed,
    };
    let mut v = ctx.egress.judge(&ctx.local, &facts);
    // The endpoint set names the service when the server name did not; the
    // service may make web traffic signaling or mail, which the call-flow
    // expectation depends on.
    let service = class
        .service
        .clone()
        .or_else(|| v.o365.and_then(|s| s.service.clone()));
    let refined = facts.traffic_type.for_service(app, service.as_deref());
    if refined != facts.traffic_type {
        facts.traffic_type = refined;
        v = ctx.egress.judge(&ctx.local, &facts);
    }
    let traffic_type = facts.traffic_type;
    let o365 = v.o365;
    let egress = EgressFields {
        egress: v.egress,
        egress_list: v.list.map(Arc::from),
        o365_endpoint_id: o365.map(|s| s.id),
        o365_service_area: o365.map(|s| Arc::clone(&s.service_area)),
        o365_category: o365.map(|s| s.category.as_str()),
        o365_expressroute: o365.map(|s| s.expressroute),
        src2dst_next_hop: v.next_hop[0].map(|e| Arc::clone(&e.name)),
        dst2src_next_hop: v.next_hop[1].map(|e| Arc::clone(&e.name)),
        asymmetric: v.asymmetric,
        expected_path: v.expected,
        path_conformant: v.conformant,
        path_note: v.note,
    };
    let media = match f.media.as_deref() {
        Some(m) if carries_media(class.app()) && m.rtp_packets + m.rtcp_packets > 0 => {
            MediaFields::from_tracker(f.flow_id, m, &ctx.signatures.media, &|_, _| None)
        }
        _ => MediaFields::default(),
    };
    FlowRecord {
        flow_id: f.flow_id,
        interface: Arc::clone(iface),
        community_id,
        first_seen_us: f.first_us,
        last_seen_us: f.last_us,
        end_reason: reason,
        ip_version: f.ip_version,
        ip_proto: k.proto,
        transport,
        src_ip: src,
        dst_ip: dst,
        src_port: sport,
        dst_port: dport,
        icmp_type: f.icmp.map_or(-1, |(t, _)| i16::from(t)),
        icmp_code: f.icmp.map_or(-1, |(_, c)| i16::from(c)),
        vlan_id: k.vlan,
        src2dst_packets: f.pkts[0],
        dst2src_packets: f.pkts[1],
        src2dst_bytes: f.bytes[0],
        dst2src_bytes: f.bytes[1],
        src2dst_payload_bytes: f.payload[0],
        dst2src_payload_bytes: f.payload[1],
        truncated_packets: f.truncated,
        src2dst_tcp_flags: f.flags[0],
        dst2src_tcp_flags: f.flags[1],
        conn_state: (transport == Transport::Tcp).then(|| f.conn_state()),
        app_protocol: class.app(),
        app_protocol_source: class.source.unwrap_or(AppSource::None),
        traffic_type,
        server_name: class.server_name,
        alpn: class.alpn,
        tls_version: class.tls_version,
        sip_method: class.sip_method,
        sip_user_agent: class.sip_user_agent,
        starttls: class.starttls,
        stun_seen: class.stun_seen,
        media_over_tcp: class.media_over_tcp,
        service,
        local_src: v.local_src,
        local_dst: v.local_dst,
        direction: v.direction,
        egress_label: v.label.map(str::to_string),
        egress_prefix: v.prefix.map(|p| p.to_string()),
        egress,
        media,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use pathlens_classify::prefix::FlowDirection;
    use pathlens_classify::AppProtocol;
    use std::net::IpAddr;

    const S: i64 = 1_000_000;

    fn ctx() -> Arc<Context> {
        Arc::new(Context {
            signatures: Signatures::builtin().unwrap(),
            local: LocalNets::default(),
            egress: Site::default(),
        })
    }

    struct Gen {
        seq: u64,
    }

    impl Gen {
        fn pkt(
            &mut self,
            ts: i64,
            src: (&str, u16),
            dst: (&str, u16),
            proto: u8,
            flags: u16,
            len: u32,
        ) -> Pkt {
            let (s, d): (IpAddr, IpAddr) = (src.0.parse().unwrap(), dst.0.parse().unwrap());
            let (key, from_lo) = FlowKey::new(s, src.1, d, dst.1, proto, 0);
            self.seq += 1;
            Pkt {
                seq: self.seq,
                ts_us: ts,
                key,
                from_lo,
                ip_version: 4,
                ip_len: len,
                payload_len: len.saturating_sub(40),
                tcp_flags: flags,
                icmp: None,
                truncated: false,
                sport: src.1,
                dport: dst.1,
                edge: 0,
            }
        }
    }

    const C: (&str, u16) = ("192.168.1.10", 50123);
    const SV: (&str, u16) = ("52.112.1.1", 443);

    fn table(cfg: FlowConfig) -> FlowTable {
        let mut t = FlowTable::new(cfg, ctx());
        t.interface = Arc::from("t.pcap");
        t
    }

    #[test]
    fn tcp_handshake_orients_and_closes_sf() {
        let mut g = Gen { seq: 0 };
        let mut t = table(FlowConfig::default());
        let mut out = Vec::new();
        // Capture starts with the SYN-ACK: the receiver is still the initiator.
        t.packet(&g.pkt(0, SV, C, 6, SYN | ACK, 60), &[], &mut out);
        t.packet(&g.pkt(1, C, SV, 6, ACK, 52), &[], &mut out);
        t.packet(&g.pkt(2, C, SV, 6, ACK | FIN, 52), &[], &mut out);
        t.packet(&g.pkt(3, SV, C, 6, ACK | FIN, 52), &[], &mut out);
        t.packet(&g.pkt(4, C, SV, 6, ACK, 52), &[], &mut out);
        assert!(out.is_empty(), "the last ACK joins the closed flow");
        t.advance(4 + 10 * S, &mut out);
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!(
            (r.src_ip.to_string().as_str(), r.src_port, r.dst_port),
            ("192.168.1.10", 50123, 443)
        );
        assert_eq!(
            (r.src2dst_packets, r.dst2src_packets, r.src2dst_bytes),
            (3, 2, 156)
        );
        assert_eq!(r.end_reason, EndReason::EndOfFlow);
        assert_eq!(r.conn_state, Some(ConnState::SHR));
        assert_eq!(r.app_protocol, AppProtocol::Https);
        assert_eq!(r.flow_id, 1);
        assert_eq!(r.direction, FlowDirection::Outbound);
        assert_eq!(r.egress_label, None);
    }

    #[test]
    fn conn_states() {
        let cases: &[(&[(bool, u16)], ConnState)] = &[
            (&[(true, SYN)], ConnState::S0),
            (&[(true, SYN), (false, RST | ACK)], ConnState::REJ),
            (
                &[(true, SYN), (false, SYN | ACK), (true, ACK)],
                ConnState::S1,
            ),
            (
                &[
                    (true, SYN),
                    (false, SYN | ACK),
                    (true, FIN | ACK),
                    (false, FIN | ACK),
                ],
                ConnState::SF,
            ),
            (
                &[(true, SYN), (false, SYN | ACK), (true, FIN | ACK)],
                ConnState::S2,
            ),
            (
                &[(true, SYN), (false, SYN | ACK), (false, FIN | ACK)],
                ConnState::S3,
            ),
            (
                &[(true, SYN), (false, SYN | ACK), (true, RST)],
                ConnState::RSTO,
            ),
            (
                &[(true, SYN), (false, SYN | ACK), (false, RST)],
                ConnState::RSTR,
            ),
            (&[(true, SYN), (true, RST)], ConnState::RSTOS0),
            (&[(true, ACK), (false, ACK)], ConnState::OTH),
        ];
        for (pkts, want) in cases {
            let mut g = Gen { seq: 0 };
            let mut t = table(FlowConfig::default());
            let mut out = Vec::new();
            for (i, (from_client, flags)) in pkts.iter().enumerate() {
                let (a, b) = if *from_client { (C, SV) } else { (SV, C) };
                t.packet(&g.pkt(i as i64, a, b, 6, *flags, 40), &[], &mut out);
            }
            t.flush(i64::MIN, &mut out);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].conn_state, Some(*want), "{pkts:?}");
        }
    }

    #[test]
    fn idle_timeout_splits_and_port_evidence_orients() {
        let mut g = Gen { seq: 0 };
        let mut t = table(FlowConfig::default());
        let mut out = Vec::new();
        // First packet comes from the DNS server: the client is still src.
        t.packet(
            &g.pkt(0, ("8.8.8.8", 53), ("192.168.1.5", 40000), 17, 0, 80),
            &[],
            &mut out,
        );
        t.packet(
            &g.pkt(200 * S, ("192.168.1.5", 40000), ("8.8.8.8", 53), 17, 0, 60),
            &[],
            &mut out,
        );
        assert_eq!(out.len(), 1, "the gap ended the first record on arrival");
        assert_eq!(out[0].end_reason, EndReason::IdleTimeout);
        assert_eq!(
            (out[0].src_port, out[0].dst_port, out[0].dst2src_packets),
            (40000, 53, 1)
        );
        t.flush(i64::MIN, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].end_reason, EndReason::ForcedEnd);
        assert_eq!(out[1].flow_id, 2);
    }

    #[test]
    fn active_timeout_continues_with_the_same_orientation() {
        let cfg = FlowConfig {
            active_us: 10 * S,
            ..FlowConfig::default()
        };
        let mut g = Gen { seq: 0 };
        // Two tables: one sees ticks between packets, one does not; same rows.
        let mut rows = Vec::new();
        for ticks in [false, true] {
            let mut t = table(cfg);
            let mut out = Vec::new();
            for i in 0..25 {
                let (a, b) = if i % 2 == 0 {
                    (C, ("52.112.1.1", 3478))
                } else {
                    (("52.112.1.1", 3478), C)
                };
                t.packet(&g.pkt(i * S, a, b, 17, 0, 200), &[], &mut out);
                if ticks {
                    t.advance(i * S + S / 2, &mut out);
                }
            }
            t.flush(i64::MIN, &mut out);
            let mut v: Vec<_> = out
                .iter()
                .map(|r| {
                    (
                        r.first_seen_us,
                        r.end_reason,
                        r.src_port,
                        r.src2dst_packets + r.dst2src_packets,
                    )
                })
                .collect();
            v.sort();
            rows.push(v);
        }
        assert_eq!(rows[0], rows[1]);
        let v = &rows[0];
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], (0, EndReason::ActiveTimeout, 50123, 10));
        assert_eq!(v[1], (10 * S, EndReason::ActiveTimeout, 50123, 10));
        assert_eq!(v[2], (20 * S, EndReason::ForcedEnd, 50123, 5));
    }

    #[test]
    fn full_table_evicts_the_longest_idle() {
        let cfg = FlowConfig {
            capacity: 2,
            ..FlowConfig::default()
        };
        let mut g = Gen { seq: 0 };
        let mut t = table(cfg);
        let mut out = Vec::new();
        t.packet(
            &g.pkt(0, ("10.0.0.1", 41000), ("10.0.0.2", 2000), 17, 0, 100),
            &[],
            &mut out,
        );
        t.packet(
            &g.pkt(1, ("10.0.0.1", 41001), ("10.0.0.2", 2000), 17, 0, 100),
            &[],
            &mut out,
        );
        t.packet(
            &g.pkt(2, ("10.0.0.1", 41000), ("10.0.0.2", 2000), 17, 0, 100),
            &[],
            &mut out,
        );
        t.packet(
            &g.pkt(3, ("10.0.0.1", 41002), ("10.0.0.2", 2000), 17, 0, 100),
            &[],
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].src_port, out[0].end_reason),
            (41001, EndReason::LackOfResources)
        );
        assert_eq!(t.counters.evicted, 1);
        assert_eq!(t.len(), 2);
        assert_eq!(out[0].egress_label.as_deref(), Some("rfc1918"));
        assert_eq!(out[0].egress_prefix.as_deref(), Some("10.0.0.0/8"));
        assert_eq!(out[0].direction, FlowDirection::Internal);
    }

    #[test]
    fn a_client_port_in_a_media_range_does_not_beat_443() {
        let mut g = Gen { seq: 0 };
        let mut t = table(FlowConfig::default());
        let mut out = Vec::new();
        t.packet(
            &g.pkt(0, SV, ("192.168.1.121", 53432), 6, ACK, 1500),
            &[],
            &mut out,
        );
        t.flush(i64::MIN, &mut out);
        assert_eq!((out[0].src_port, out[0].dst_port), (53432, 443));
    }

    fn rtp_payload(seq: u16, ssrc: u32) -> Vec<u8> {
        let mut v = vec![0x80, 0];
        v.extend(seq.to_be_bytes());
        v.extend((u32::from(seq) * 160).to_be_bytes());
        v.extend(ssrc.to_be_bytes());
        v.extend([0u8; 160]);
        v
    }

    #[test]
    fn media_is_tracked_from_the_first_packet_and_only_on_media_flows() {
        let mut g = Gen { seq: 0 };
        let mut t = table(FlowConfig::default());
        let mut out = Vec::new();
        let (a, b) = (("192.168.1.10", 50020), ("52.112.3.4", 3479));
        for i in 0..60u16 {
            let p = g.pkt(i64::from(i) * 20_000, a, b, 17, 0, 200);
            t.packet(&p, &rtp_payload(700 + i, 5), &mut out);
        }
        // A DNS query whose id starts like RTP: decided as DNS, no media.
        let q = g.pkt(0, ("192.168.1.10", 40000), ("192.168.1.1", 53), 17, 0, 60);
        let dns = [
            0x80, 0x01, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ];
        t.packet(&q, &dns, &mut out);
        t.flush(i64::MIN, &mut out);
        out.sort_by_key(|r| r.flow_id);
        assert_eq!(out[0].app_protocol, AppProtocol::Rtp);
        let m = &out[0].media;
        assert_eq!(m.streams.len(), 1);
        let s = &m.streams[0].stats;
        // The classifier decided after a few packets; the stream starts at the first.
        assert_eq!((s.first_seq, s.packets, s.expected), (700, 60, 60));
        assert_eq!(m.media_quality.map(|q| q.as_str()), Some("good"));
        assert_eq!(out[1].app_protocol, AppProtocol::Dns);
        assert_eq!(out[1].media, MediaFields::default());
    }

    #[test]
    fn syn_after_close_starts_a_new_record() {
        let mut g = Gen { seq: 0 };
        let mut t = table(FlowConfig::default());
        let mut out = Vec::new();
        t.packet(&g.pkt(0, C, SV, 6, SYN, 60), &[], &mut out);
        t.packet(&g.pkt(1, SV, C, 6, RST | ACK, 40), &[], &mut out);
        t.packet(&g.pkt(2, C, SV, 6, SYN, 60), &[], &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].conn_state, out[0].end_reason),
            (Some(ConnState::REJ), EndReason::EndOfFlow)
        );
        t.flush(i64::MIN, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].conn_state, Some(ConnState::S0));
        // A flow closed just before the end of input ended by itself.
        t.packet(&g.pkt(3, C, SV, 6, SYN, 60), &[], &mut out);
        t.packet(&g.pkt(4, SV, C, 6, RST | ACK, 40), &[], &mut out);
        t.flush(i64::MIN, &mut out);
        assert_eq!(
            out[1].end_reason,
            EndReason::ForcedEnd,
            "the open S0 attempt"
        );
        assert_eq!(out.last().unwrap().end_reason, EndReason::EndOfFlow);
    }
}
