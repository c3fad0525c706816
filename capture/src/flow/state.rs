//! One flow's state between its first and last packet: counters per
//! direction, TCP history, edges crossed, and the classifier and media
//! tracker its payloads feed.

use super::*;
use crate::correlate::Correlator;
use pathlens_classify::media::MediaTracker;
use pathlens_classify::outcome::media_packets;
use pathlens_classify::{AppProtocol, EndReason, FlowClassifier, Side, Signatures, Transport};
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
    pub(super) truncated: u64,
    pub(super) tcp_hist: u8,
    pub(super) closed_us: Option<i64>,
    /// First edge seen per direction (0 = none yet).
    pub(super) hops: [u8; 2],
    /// A later packet of that direction crossed another edge.
    pub(super) hop_changed: [bool; 2],
    pub(super) classifier: FlowClassifier,
    // Boxed: most flows never carry RTP and keep only the pointer.
    pub(super) media: Option<Box<MediaTracker>>,
}

impl Flow {
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
    pub(super) fn make_continuation(&mut self) {
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

/// Media metrics must see a stream from its first packet, but the classifier
/// decides only after a few. So a tracker starts at the first RTP-looking
/// packet while the flow is still being inspected, or later on a flow already
/// decided as media-carrying (an ICE flow labelled `dtls` at its handshake
/// sends SRTP afterwards); it is dropped as soon as the flow is decided as
/// anything else, and flows still undecided at the end are settled when
/// the record is built. Packets before a tracker starts are STUN or DTLS, nothing
/// it reads; what a transport's framing hides is `media_packets`'s to unwrap.
#[inline]
fn feed_media(f: &mut Flow, p: &Pkt, side: Side, inspecting: bool, payload: &[u8]) {
    // Decided flows that carry no media cost two checks per packet.
    if f.media.is_none()
        && !inspecting
        && !f
            .classifier
            .payload_label()
            .is_some_and(AppProtocol::carries_media)
    {
        return;
    }
    for rtp in media_packets(Transport::from_ip_proto(p.key.proto), payload) {
        match f.media.as_deref_mut() {
            Some(m) => m.feed(side, p.ts_us, rtp),
            None if MediaTracker::looks_like_rtp(rtp)
                && (inspecting
                    || f.classifier
                        .payload_label()
                        .is_some_and(AppProtocol::carries_media)) =>
            {
                let mut m = Box::new(MediaTracker::new());
                m.feed(side, p.ts_us, rtp);
                f.media = Some(m);
            }
            None => {}
        }
    }
    if inspecting
        && !f.classifier.wants_more()
        && !f
            .classifier
            .payload_label()
            .is_some_and(AppProtocol::carries_media)
    {
        f.media = None;
    }
}
