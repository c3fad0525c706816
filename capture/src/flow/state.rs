//! One flow's state between its first and last packet: counters per
//! direction, TCP history, edges crossed, next hops and marking, and the
//! [`FlowEvidence`] its packets feed (what they are is `classify`'s to say).

use super::*;
use crate::correlate::Correlator;
use pathlens_classify::egress::{NextHop, Tallies};
use pathlens_classify::evidence::{Inspect, Packet};
use pathlens_classify::outcome::{Marking, PathEvidence};
use pathlens_classify::{EndReason, FlowEvidence, Side};
use pathlens_export::ConnState;

/// One live flow: the current record's counters and the evidence its labels
/// will be decided from.
#[derive(Debug)]
pub(super) struct Flow {
    pub(super) flow_id: i64,
    pub(super) first_us: i64,
    pub(super) last_us: i64,
    pub(super) last_seq: u64,
    pub(super) src_is_lo: bool,
    pub(super) ip_version: u8,
    pub(super) icmp: Option<(u8, u8)>,
    pub(super) pkts: [u64; 2],
    pub(super) bytes: [u64; 2],
    pub(super) payload: [u64; 2],
    pub(super) flags: [u16; 2],
    // Packets cut short by the snap length; u32 (saturating) keeps the
    // flow's node a size step smaller.
    pub(super) truncated: u32,
    pub(super) tcp_hist: u8,
    /// When the TCP flow closed ([`OPEN`]: not yet); see [`Flow::closed`].
    pub(super) closed_us: i64,
    /// First edge seen per direction (0 = none yet).
    pub(super) hops: [u8; 2],
    /// Bit `i`: a later packet of direction `i` crossed another edge.
    pub(super) hop_changed: u8,
    /// VLAN of the record's first packet.
    pub(super) vlan: u16,
    /// Tunnels and tunnel id of the record's first packet.
    pub(super) encap: (crate::decode::Chain, Option<u32>),
    /// Path evidence: next hops, marking, round trips.
    pub(super) path: PathState,
    /// What its packets teach the outcome step.
    pub(super) evidence: FlowEvidence,
}

/// `closed_us` of a flow not closed: an `Option<i64>` would take 16 bytes.
pub(super) const OPEN: i64 = i64::MIN;

impl Flow {
    /// When the TCP flow closed (both FINs or a RST), if it did.
    pub(super) fn closed(&self) -> Option<i64> {
        (self.closed_us != OPEN).then_some(self.closed_us)
    }

    /// Per direction: a later packet crossed another edge than the first.
    pub(super) fn hop_changed(&self) -> [bool; 2] {
        [self.hop_changed & 1 != 0, self.hop_changed & 2 != 0]
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pkts[0] == 0 && self.pkts[1] == 0
    }

    /// The earliest deadline and what reaching it means.
    pub(super) fn deadline(&self, cfg: &FlowConfig) -> (i64, EndReason) {
        let idle = self.last_us.saturating_add(cfg.idle_us);
        if self.is_empty() {
            return (idle, EndReason::IdleTimeout);
        }
        let active = self.first_us.saturating_add(cfg.active_us);
        // A closed TCP flow ends as end_of_flow, at the end of its linger or
        // of its idle time, whichever is first; only an earlier active
        // timeout takes precedence.
        let (end, reason) = match self.closed() {
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
    pub(super) fn make_continuation(&mut self) {
        self.pkts = [0; 2];
        self.bytes = [0; 2];
        self.payload = [0; 2];
        self.flags = [0; 2];
        self.truncated = 0;
        self.tcp_hist = 0;
        self.closed_us = OPEN;
        self.hops = [0; 2];
        self.hop_changed = 0;
        self.path.reset();
        self.evidence.next_record();
    }

    pub(super) fn conn_state(&self) -> ConnState {
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

/// Accounts one packet in a live flow record.
#[inline]
pub(super) fn update(
    f: &mut Flow,
    p: &Pkt,
    payload: &[u8],
    run: Inspect<'_>,
    corr: Option<&Correlator>,
    learn: Option<&mut Tallies>,
) {
    if f.is_empty() {
        // First packet of this record (new flow or continuation).
        f.flow_id = i64::try_from(p.seq).unwrap_or(i64::MAX);
        f.first_us = p.ts_us;
        f.icmp = p.icmp;
        f.vlan = p.l2.vlan;
        f.encap = (p.encap, p.tunnel_id);
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
    f.truncated = f.truncated.saturating_add(u32::from(p.truncated));
    if p.edge != 0 {
        if let Some(h) = f.hops.get_mut(i) {
            if *h == 0 {
                *h = p.edge;
            } else if *h != p.edge {
                f.hop_changed |= 1 << i;
            }
        }
    }
    f.path.packet(p, i, learn);
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
        if (both_fin || rst) && f.closed_us == OPEN {
            f.closed_us = p.ts_us;
        }
    }
    f.evidence.packet(
        run,
        &Packet {
            side,
            ts_us: p.ts_us,
            ip_proto: p.key.proto,
            ip_len: p.ip_len,
            payload,
        },
    );
    if let Some(learned) = f.evidence.take_learned() {
        if let Some(c) = corr {
            c.learn(p.seq, p.ts_us, &learned);
        }
    }
}

/// Where a flow's remote end is, for learning next hops: set only for a
/// flow between a local and a public address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Remote {
    /// The remote end is the key's `lo` endpoint.
    pub(super) is_lo: bool,
    /// It is inside a prefix advertised over ExpressRoute; None when no
    /// advertised prefix is loaded (then nothing is learned from it).
    pub(super) advertised: Option<bool>,
}

/// Each direction's DSCP: a majority vote (the value of most packets when
/// one has more than half) and whether any packet differed from the first.
/// Laid out by field, not by direction: 12 bytes instead of 16.
#[derive(Clone, Copy, Debug, Default)]
struct Votes {
    // The first value (low 6 bits), SEEN and CHANGED.
    first: [u8; 2],
    cand: [u8; 2],
    count: [u32; 2],
}

// DSCP is 6 bits: the two above carry the vote's flags.
const SEEN: u8 = 0x80;
const CHANGED: u8 = 0x40;
const DSCP: u8 = 0x3f;

impl Votes {
    fn add(&mut self, i: usize, v: u8) {
        let v = v & DSCP;
        let (Some(first), Some(cand), Some(count)) = (
            self.first.get_mut(i),
            self.cand.get_mut(i),
            self.count.get_mut(i),
        ) else {
            return;
        };
        if *first & SEEN == 0 {
            *first = SEEN | v;
        }
        if v != *first & DSCP {
            *first |= CHANGED;
        }
        if *count == 0 {
            (*cand, *count) = (v, 1);
        } else if *cand == v {
            *count += 1;
        } else {
            *count -= 1;
        }
    }

    fn marking(&self, i: usize) -> Option<Marking> {
        let first = self.first.get(i).copied().unwrap_or(0);
        (first & SEEN != 0).then(|| Marking {
            dscp: self.cand.get(i).copied().unwrap_or(0),
            changed: first & CHANGED != 0,
        })
    }
}

/// A flow's path evidence.
#[derive(Debug, Default)]
pub(super) struct PathState {
    /// Set at creation for local-public flows while edges are learned.
    pub(super) remote: Option<Remote>,
    /// First next hop per direction (default: none).
    pub(super) hops: [NextHop; 2],
    // Bit `i`: a later packet of direction `i` had another next hop;
    // HANDSHAKE_DONE: `handshake` holds the two round trips; SYN_SEEN and
    // SYNACK_SEEN: it holds their times.
    bits: u8,
    dscp: Votes,
    // The most recent SYN and the first SYN-ACK after it; at the first ACK
    // after that, the server's and the client's round trips: tshark's
    // `initial_rtt` (most recent SYN to the ACK), split where the server
    // answered that SYN. Two times, not three, and each the low 32 bits of
    // its µs (a difference stays exact within 35 minutes either way, as
    // a wrapping signed 32-bit one), keep a flow's node a size step smaller.
    handshake: [u32; 2],
}

const HANDSHAKE_DONE: u8 = 4;
const SYN_SEEN: u8 = 8;
const SYNACK_SEEN: u8 = 16;

/// The low 32 bits of a time in µs: what a round trip needs.
#[inline]
fn low32(us: i64) -> u32 {
    us as u32
}

/// `later - earlier` of two [`low32`] times (or a difference already
/// taken), in µs; negative when time went backwards.
#[inline]
fn since(later: u32, earlier: u32) -> i64 {
    i64::from(later.wrapping_sub(earlier) as i32)
}

impl PathState {
    /// The evidence of a new flow whose remote end is `remote`.
    pub(super) fn new(remote: Option<Remote>) -> Self {
        PathState {
            remote,
            ..PathState::default()
        }
    }

    /// Per direction: a later packet had another next hop than the first.
    pub(super) fn changed(&self) -> [bool; 2] {
        [self.bits & 1 != 0, self.bits & 2 != 0]
    }

    fn reset(&mut self) {
        *self = PathState {
            remote: self.remote,
            ..PathState::default()
        };
    }

    #[inline]
    fn packet(&mut self, p: &Pkt, i: usize, learn: Option<&mut Tallies>) {
        self.dscp.add(i, p.l2.dscp);
        if let Some(r) = self.remote {
            let from_remote = p.from_lo == r.is_lo;
            let hop = NextHop {
                mac: if from_remote {
                    p.l2.src_mac
                } else {
                    p.l2.dst_mac
                },
                vlan: p.l2.vlan,
            };
            let other = self.hops.get(1 - i).copied().unwrap_or_default();
            if let Some(h) = self.hops.get_mut(i) {
                if h.is_none() {
                    *h = hop;
                    // A flow counts once per edge it crosses.
                    if let (Some(t), false) = (learn, other == hop) {
                        let e = t.entry(hop).or_default();
                        match r.advertised {
                            Some(true) => e.advertised += 1,
                            Some(false) => e.other += 1,
                            None => e.unjudged += 1,
                        }
                    }
                } else if *h != hop {
                    self.bits |= 1 << i;
                }
            }
        }
        // A packet at time 0 counts as none (as it did when 0 meant "not
        // seen").
        if p.key.proto == 6
            && p.tcp_flags & (SYN | ACK) != 0
            && self.bits & HANDSHAKE_DONE == 0
            && p.ts_us != 0
        {
            let syn = p.tcp_flags & SYN != 0;
            let ack = p.tcp_flags & ACK != 0;
            let [syn_us, synack_us] = self.handshake;
            let (seen_syn, seen_synack) = (self.bits & SYN_SEEN != 0, self.bits & SYNACK_SEEN != 0);
            let now = low32(p.ts_us);
            match (i, syn, ack) {
                (0, true, false) => {
                    self.handshake = [now, 0];
                    self.bits = (self.bits | SYN_SEEN) & !SYNACK_SEEN;
                }
                (1, true, true) if seen_syn && !seen_synack => {
                    self.handshake = [syn_us, now];
                    self.bits |= SYNACK_SEEN;
                }
                (0, false, true) if seen_synack => {
                    self.handshake = [synack_us.wrapping_sub(syn_us), now.wrapping_sub(synack_us)];
                    self.bits |= HANDSHAKE_DONE;
                }
                _ => {}
            }
        }
    }

    /// The handshake timing and marking of the record (the round trips
    /// payloads show are the flow evidence's: see `Evidence::path`).
    pub(super) fn evidence(&self, dst_port: u16) -> PathEvidence {
        let [a, b] = self.handshake;
        let (server, client) = if self.bits & HANDSHAKE_DONE != 0 {
            (Some(since(a, 0)), Some(since(b, 0)))
        } else {
            let answered = self.bits & SYNACK_SEEN != 0;
            (answered.then(|| since(b, a)), None)
        };
        PathEvidence {
            server_rtt_us: server,
            client_rtt_us: client,
            marking: [0, 1].map(|i| self.dscp.marking(i)),
            dst_port,
            ..PathEvidence::default()
        }
    }
}
