//! Media quality of one flow, from RTP and RTCP headers only.
//!
//! A worker keeps one [`MediaTracker`] per candidate media flow and feeds it
//! `(side, arrival_us, bytes)` for every packet; the tracker reads the RTP
//! fixed header (or an RTCP compound in clear) and never the payload, so it
//! works on SRTP. Per stream (direction and SSRC) it keeps RFC 3550 A.1
//! sequence state (wrap-around, restart after a large jump, probation),
//! duplicates and reordering in a 128-packet window, RFC 3550 §6.4.1
//! interarrival jitter with signed 64-bit transit arithmetic, the longest
//! gap, and the worst loss over 200 ms windows. RTCP SR/RR report blocks are
//! matched to the stream they report on, and an SR paired with a later block
//! echoing its LSR gives a round-trip time at the tap.
//!
//! Memory is bounded: at most [`MAX_STREAMS`] streams per flow; packets of
//! further SSRCs are counted in [`MediaTracker::overflow_packets`] and
//! dropped. Nothing allocates per packet: the stream vector is reserved once.

use crate::dissect::rtp::{self, RtpHeader};
use crate::vocab::Side;
use std::sync::Arc;

/// Streams kept per flow; more SSRCs are counted, not stored.
pub const MAX_STREAMS: usize = 16;
/// RFC 3550 A.1: a jump this far ahead is a gap, further is a restart candidate.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: this far behind the newest is a late packet.
const MAX_MISORDER: u16 = 100;
/// RFC 3550 A.1: in-order packets before a new source is believed.
const MIN_SEQUENTIAL: u8 = 2;
/// Arrival span the clock estimate waits for.
const ESTIMATE_SPAN_US: i64 = 1_000_000;
/// Clock rates a dynamic payload type may have. Its jitter is computed for
/// each of them from the first packet, and the rate is chosen when the record
/// is written (SDP, else the estimate, which snaps to one of them): the SDP
/// may be read by another worker after the media started, and the rows must
/// not depend on that. These cover the rtpmaps of SfB/Teams (SILK, SATIN,
/// RTAudio, G.722, Opus, H.264, RTVideo) and common SIP trunks.
const CLOCKS: [u32; 7] = [8000, 12000, 16000, 24000, 32000, 48000, 90000];
/// Window of the burst loss figure (domain.md §3.5: "in any 200 ms").
const BURST_US: i64 = 200_000;
/// A burst window with fewer expected packets says too little to count.
const BURST_MIN_EXPECTED: u64 = 5;
/// SRs remembered per flow for RTT pairing.
const SR_SLOTS: usize = 8;

/// Where a stream's RTP clock rate came from (`clock_source` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// The static payload-type table (RFC 3551).
    Static,
    /// An SDP `a=rtpmap` learned from signaling.
    Sdp,
    /// Δtimestamp / Δarrival over about a second, snapped to a common rate.
    Estimated,
}

impl ClockSource {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::Static => "static",
            ClockSource::Sdp => "sdp",
            ClockSource::Estimated => "estimated",
        }
    }
}

/// The codec name and RTP clock of a payload type, when the number alone
/// says it: the RFC 3551 static table (dynamic numbers are only bound in SDP).
pub fn payload_type_info(pt: u8) -> Option<(&'static str, u32)> {
    rtp::static_payload_type(pt)
}

/// RTCP figures about one stream, from report blocks other hosts sent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RtcpFigures {
    /// Report blocks about this stream.
    pub reports: u64,
    /// Fraction lost of the latest block, 0..=1.
    pub fraction_lost: f64,
    /// Cumulative lost of the latest block.
    pub cumulative_lost: i64,
    /// Jitter of the latest block in ms (when the stream's clock is known).
    pub jitter_ms: Option<f64>,
    /// Latest block's jitter in timestamp units.
    pub jitter_ts: u32,
    /// Mean round trip from SR/RR pairs about this stream's sender, ms.
    pub rtt_ms: Option<f64>,
}

/// What signaling said a dynamic payload type is (an SDP `a=rtpmap`).
pub use crate::dissect::sip::RtpMap;

/// The figures of one stream when the flow record is written.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamStats {
    /// Direction of the stream's packets.
    pub side: Side,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload type of the latest packet.
    pub payload_type: u8,
    /// Codec name: the static table's, or the SDP's for a dynamic type.
    pub codec: Option<Arc<str>>,
    /// RTP clock rate in Hz, when known.
    pub clock_rate: Option<u32>,
    /// Where the clock rate came from.
    pub clock_source: Option<ClockSource>,
    /// RTP packets received (duplicates included).
    pub packets: u64,
    /// RFC 3550 A.3 expected packets (sum over restarts).
    pub expected: u64,
    /// expected - received (negative when duplicates outnumber losses).
    pub lost: i64,
    /// Packets whose sequence number was already seen in the window.
    pub duplicates: u64,
    /// Packets older than the highest seen that were not duplicates.
    pub reordered: u64,
    /// Times the sequence restarted (a large jump confirmed by the next packet).
    pub restarts: u32,
    /// The stream passed RFC 3550 probation (MIN_SEQUENTIAL in-order packets).
    pub valid: bool,
    /// Mean of the running jitter over regular packets (tshark's average), ms.
    pub jitter_mean_ms: Option<f64>,
    /// Largest running jitter, ms.
    pub jitter_max_ms: Option<f64>,
    /// Longest arrival gap between consecutive packets, µs.
    pub longest_gap_us: i64,
    /// Worst loss over 200 ms windows of arrival time, percent.
    pub burst_loss_max_pct: Option<f64>,
    /// Sequence number of the first packet.
    pub first_seq: u16,
    /// Highest sequence number (the extended maximum modulo 2^16).
    pub last_seq: u16,
    /// Arrival of the first packet, µs.
    pub first_us: i64,
    /// Arrival of the last packet, µs.
    pub last_us: i64,
    /// RTCP reports about this stream.
    pub rtcp: Option<RtcpFigures>,
    /// Known only from RTCP on a port+1 flow whose every report about it
    /// also landed on the RTP flow one port below: that flow has its row.
    pub reported_elsewhere: bool,
}

impl StreamStats {
    /// Loss in percent of expected, clamped at 0 (duplicates can make it negative).
    pub fn loss_pct(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        (self.lost.max(0) as f64) * 100.0 / self.expected as f64
    }
}

/// The built-in quality thresholds (`signatures/media.toml`).
pub const DEFAULT_MEDIA_TOML: &str = include_str!("../../signatures/media.toml");

/// `good` or `poor` against the thresholds of `signatures/media.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quality {
    /// Every figure within the targets.
    Good,
    /// Some figure above a target or a CQD poor threshold.
    Poor,
}

impl Quality {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Poor => "poor",
        }
    }
}

/// Microsoft's network targets (domain.md §3.5, client -> edge column).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Loss, percent.
    pub loss_pct: f64,
    /// Worst 200 ms window loss, percent.
    pub burst_loss_pct: f64,
    /// Largest running jitter, ms.
    pub jitter_ms: f64,
    /// Out-of-order packets, percent.
    pub reorder_pct: f64,
}

/// CQD's network rules for a poor audio stream (domain.md §3.5).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CqdAudioPoor {
    /// Loss, percent.
    pub loss_pct: f64,
    /// Mean jitter, ms.
    pub jitter_ms: f64,
    /// Round trip, ms.
    pub rtt_ms: f64,
}

/// The thresholds `media_quality` is judged by, as data.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityRules {
    /// Streams with fewer RTP packets are not judged.
    pub min_packets: u64,
    /// Network targets.
    pub targets: Targets,
    /// CQD poor audio thresholds.
    pub cqd_audio_poor: CqdAudioPoor,
}

impl QualityRules {
    /// Parses a `media.toml` text.
    ///
    /// # Errors
    /// The text is not valid TOML for these fields; the message names `file`.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, crate::RuleError> {
        toml::from_str(text).map_err(|e| crate::RuleError::Invalid {
            file: file.to_string(),
            line: e
                .span()
                .map_or(0, |s| text.get(..s.start).map_or(0, |t| t.lines().count())),
            message: e.message().to_string(),
        })
    }

    /// The built-in thresholds.
    ///
    /// # Errors
    /// Only if the embedded file is broken, which the tests rule out.
    pub fn builtin() -> Result<Self, crate::RuleError> {
        Self::from_toml(DEFAULT_MEDIA_TOML, "signatures/media.toml (built in)")
    }

    /// Judges one stream; `None` when it has too few packets.
    pub fn judge_stream(&self, s: &StreamStats) -> Option<Quality> {
        if s.packets < self.min_packets {
            return None;
        }
        let t = &self.targets;
        let c = &self.cqd_audio_poor;
        let loss = s.loss_pct();
        let reorder = s.reordered as f64 * 100.0 / s.packets as f64;
        let over = |v: Option<f64>, limit: f64| v.is_some_and(|v| v > limit);
        let poor = loss > t.loss_pct
            || loss > c.loss_pct
            || over(s.burst_loss_max_pct, t.burst_loss_pct)
            || over(s.jitter_max_ms, t.jitter_ms)
            || over(s.jitter_mean_ms, c.jitter_ms)
            || reorder > t.reorder_pct
            || over(s.rtcp.and_then(|r| r.rtt_ms), c.rtt_ms);
        Some(if poor { Quality::Poor } else { Quality::Good })
    }

    /// Judges a flow from its streams' judgements and its RTCP round trip.
    pub fn judge_flow(&self, streams: &[Option<Quality>], rtt_ms: Option<f64>) -> Option<Quality> {
        let judged = streams.iter().flatten().count();
        if judged == 0 {
            return None;
        }
        let poor = streams.contains(&Some(Quality::Poor))
            || rtt_ms.is_some_and(|r| r > self.cqd_audio_poor.rtt_ms);
        Some(if poor { Quality::Poor } else { Quality::Good })
    }
}

#[derive(Clone, Debug)]
struct Stream {
    side: Side,
    ssrc: u32,
    pt: u8,
    packets: u64,
    // RFC 3550 A.1 state.
    max_seq: u16,
    cycles: u64,
    base_ext: u64,
    bad_seq: u32,
    probation: u8,
    valid: bool,
    expected_before: u64,
    restarts: u32,
    // Bit i set: extended sequence (ext_max - i) was received.
    window: u128,
    duplicates: u64,
    reordered: u64,
    first_seq: u16,
    first_us: i64,
    last_us: i64,
    longest_gap_us: i64,
    // Clock and jitter: the payload type the clock is read from (the first
    // packet's), the static clock or the estimate, and the jitter for the
    // static clock or for every candidate clock.
    clock_pt: u8,
    clock: Option<(u32, ClockSource)>,
    est_start: Option<(u32, i64)>,
    last_ts: u32,
    last_cn: bool,
    // Arrival of the previous packet, once there is one.
    prev_arrival_us: Option<i64>,
    jitter_n: u64,
    jit: Box<[Jitter]>,
    // Burst loss window.
    burst_start_us: i64,
    burst_start_ext: u64,
    burst_received: u64,
    burst_worst: Option<f64>,
    rtcp: Option<RtcpFigures>,
    rtt_sum_ms: f64,
    rtt_n: u64,
    from_report: bool,
    // Report blocks about this stream that also landed on the RTP flow one
    // port below (RTCP on port + 1).
    forwarded: u64,
}

/// RFC 3550 §6.4.1 jitter of a stream under one clock rate.
#[derive(Clone, Copy, Debug)]
struct Jitter {
    clock: u32,
    running: f64,
    mean: f64,
    max: f64,
}

impl Jitter {
    fn new(clock: u32) -> Self {
        Jitter {
            clock,
            running: 0.0,
            mean: 0.0,
            max: 0.0,
        }
    }
}

impl Stream {
    fn new(side: Side, arrival_us: i64, h: &RtpHeader) -> Self {
        let clock = payload_type_info(h.pt).map(|(_, c)| (c, ClockSource::Static));
        let jit: Box<[Jitter]> = match clock {
            Some((c, _)) => Box::new([Jitter::new(c)]),
            None => CLOCKS.iter().map(|&c| Jitter::new(c)).collect(),
        };
        Stream {
            side,
            ssrc: h.ssrc,
            pt: h.pt,
            packets: 0,
            max_seq: h.seq.wrapping_sub(1),
            cycles: 0,
            base_ext: u64::from(h.seq),
            bad_seq: u32::MAX,
            probation: MIN_SEQUENTIAL,
            valid: false,
            expected_before: 0,
            restarts: 0,
            window: 0,
            duplicates: 0,
            reordered: 0,
            first_seq: h.seq,
            first_us: arrival_us,
            last_us: arrival_us,
            longest_gap_us: 0,
            clock_pt: h.pt,
            clock,
            est_start: None,
            last_ts: h.ts,
            last_cn: false,
            prev_arrival_us: None,
            jitter_n: 0,
            jit,
            burst_start_us: arrival_us,
            burst_start_ext: u64::from(h.seq).wrapping_sub(1),
            burst_received: 0,
            burst_worst: None,
            rtcp: None,
            rtt_sum_ms: 0.0,
            rtt_n: 0,
            from_report: false,
            forwarded: 0,
        }
    }

    /// An entry for a stream known only from RTCP reports about it (RTCP on
    /// its own port+1 flow never carries the RTP).
    fn from_report(side: Side, ssrc: u32, arrival_us: i64) -> Self {
        let h = RtpHeader {
            pt: 0,
            marker: false,
            seq: 0,
            ts: 0,
            ssrc,
            header_len: 12,
        };
        let mut s = Stream::new(side, arrival_us, &h);
        s.clock = None;
        s.jit = Box::new([]);
        s.from_report = true;
        s
    }

    fn ext_max(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    /// RFC 3550 A.1 `update_seq`, plus duplicate and reorder counting.
    fn update_seq(&mut self, seq: u16) {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            // Counting starts from the first packet (tshark does the same);
            // probation only decides whether the source is believed.
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                self.mark_new(1);
                if self.probation == 0 {
                    self.valid = true;
                }
                return;
            }
            self.probation = MIN_SEQUENTIAL - 1;
        }
        if udelta == 0 {
            self.duplicates += 1;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.max_seq = seq;
            self.mark_new(u32::from(udelta));
        } else if udelta <= u16::MAX - MAX_MISORDER {
            // A large jump: a restart only if the next packet follows it.
            if u32::from(seq) == self.bad_seq {
                // The stray packet counted as its own sequence space becomes
                // the first of the new one.
                self.expected_before = self.expected_before.saturating_sub(1);
                self.expected_before += (self.ext_max() + 1).saturating_sub(self.base_ext);
                self.restarts += 1;
                self.cycles = 0;
                self.max_seq = seq;
                // The packet that triggered bad_seq was received too.
                self.base_ext = u64::from(seq.wrapping_sub(1));
                self.window = 0b11;
                self.burst_start_ext = self.base_ext.wrapping_sub(1);
                self.burst_received = 1;
            } else {
                self.bad_seq = u32::from(seq.wrapping_add(1));
                // Not yet part of any sequence space: neither lost nor late.
                self.expected_before += 1;
            }
        } else {
            // Up to MAX_MISORDER behind the newest.
            let back = u16::MAX - udelta + 1;
            let bit = 1u128.checked_shl(u32::from(back)).unwrap_or(0);
            if bit != 0 && self.window & bit != 0 {
                self.duplicates += 1;
            } else {
                self.window |= bit;
                self.reordered += 1;
            }
        }
    }

    fn mark_new(&mut self, advance: u32) {
        self.window = self.window.checked_shl(advance).unwrap_or(0) | 1;
    }

    fn expected(&self) -> u64 {
        self.expected_before + (self.ext_max() + 1).saturating_sub(self.base_ext)
    }

    /// Estimates a dynamic payload type's clock from its own packets.
    fn update_clock(&mut self, arrival_us: i64, ts: u32) {
        if self.clock.is_some() {
            return;
        }
        let Some((ts0, t0)) = self.est_start else {
            self.est_start = Some((ts, arrival_us));
            return;
        };
        let dt_us = arrival_us - t0;
        if dt_us < ESTIMATE_SPAN_US {
            return;
        }
        let dts = f64::from(ts.wrapping_sub(ts0));
        let rate = dts * 1e6 / dt_us as f64;
        // Snap to the nearest common rate in ratio terms; a rate far from all
        // of them (a stalled or jumping timestamp) waits for the next second.
        let best = CLOCKS.iter().copied().min_by(|a, b| {
            let da = (rate / f64::from(*a)).ln().abs();
            let db = (rate / f64::from(*b)).ln().abs();
            da.total_cmp(&db)
        });
        match best {
            Some(c) if (rate / f64::from(c)).ln().abs() < 0.2 => {
                self.clock = Some((c, ClockSource::Estimated));
            }
            _ => self.est_start = Some((ts, arrival_us)),
        }
    }

    /// RFC 3550 §6.4.1 jitter, in timestamp units, in arrival order, under
    /// each clock the stream may have.
    ///
    /// The running J moves on every packet. Its max and mean take only
    /// "regular" packets, as tshark 4.0 does (`rtppacket_analyse`): not the
    /// first, not a marker packet (talk-spurt start, end of a video frame),
    /// not one whose timestamp steps back, not comfort noise or the packet
    /// after it. The mean is tshark's running average over the packets
    /// received so far: a plain mean of J when no packet is skipped.
    fn update_jitter(&mut self, arrival_us: i64, h: &RtpHeader) {
        // A signed delta, so a wrap or a step back never becomes a 2^32 jump.
        let step = i64::from(h.ts.wrapping_sub(self.last_ts) as i32);
        self.last_ts = h.ts;
        let cn = matches!(h.pt, 13 | 19);
        let after_cn = std::mem::replace(&mut self.last_cn, cn);
        let regular = !h.marker && step >= 0 && !cn && !after_cn;
        let Some(prev_us) = self.prev_arrival_us.replace(arrival_us) else {
            return;
        };
        // Packets received before this one, as tshark's total_nr.
        let k = self.packets.saturating_sub(1).max(1) as f64;
        // One division per packet, not per candidate clock.
        let inv_k = 1.0 / k;
        // D(i-1, i) = Δarrival × clock - Δtimestamp, in millionths of a tick:
        // exact integers for any gap under three years at 90 kHz (|step| is
        // under 2^31 ticks), saturating beyond.
        let d_arrival = arrival_us.saturating_sub(prev_us);
        let d_ts = step * 1_000_000;
        for j in self.jit.iter_mut() {
            let d = d_arrival
                .saturating_mul(i64::from(j.clock))
                .saturating_sub(d_ts)
                .unsigned_abs() as f64
                * 1e-6;
            j.running += (d - j.running) / 16.0;
            if regular {
                j.mean = (j.mean * (k - 1.0) + j.running) * inv_k;
                j.max = j.max.max(j.running);
            }
        }
        if regular {
            self.jitter_n += 1;
        }
    }

    fn update_burst(&mut self, arrival_us: i64) {
        if arrival_us - self.burst_start_us >= BURST_US {
            self.close_burst();
            self.burst_start_us = arrival_us;
            self.burst_start_ext = self.ext_max();
            self.burst_received = 0;
        }
        self.burst_received += 1;
    }

    fn close_burst(&mut self) {
        let expected = self.ext_max().wrapping_sub(self.burst_start_ext);
        if (BURST_MIN_EXPECTED..1 << 20).contains(&expected) {
            let lost = expected.saturating_sub(self.burst_received);
            let pct = lost as f64 * 100.0 / expected as f64;
            if self.burst_worst.is_none_or(|w| pct > w) {
                self.burst_worst = Some(pct);
            }
        }
    }

    fn rtp(&mut self, arrival_us: i64, h: &RtpHeader) {
        if self.packets > 0 {
            self.longest_gap_us = self.longest_gap_us.max(arrival_us - self.last_us);
        }
        if self.packets == 0 && self.from_report {
            // A stream an RTCP report created first: its RTP starts here.
            let fresh = Stream::new(self.side, arrival_us, h);
            let rtcp = self.rtcp.take();
            let (sum, n, fwd) = (self.rtt_sum_ms, self.rtt_n, self.forwarded);
            *self = fresh;
            self.rtcp = rtcp;
            self.rtt_sum_ms = sum;
            self.rtt_n = n;
            self.forwarded = fwd;
        }
        self.packets += 1;
        self.last_us = self.last_us.max(arrival_us);
        self.pt = h.pt;
        // The window closes on the ext_max before this packet.
        self.update_burst(arrival_us);
        self.update_seq(h.seq);
        self.update_clock(arrival_us, h.ts);
        self.update_jitter(arrival_us, h);
    }

    /// The stream's figures; `sdp` says what signaling bound a dynamic
    /// payload type to, for this stream's direction.
    fn stats(&self, sdp: &dyn Fn(Side, u8) -> Option<RtpMap>) -> StreamStats {
        let mut s = self.clone();
        s.close_burst();
        let expected = s.expected();
        // Static table, else the SDP, else the estimate. A stream known only
        // from reports has no payload type to look up.
        let bound = if s.packets == 0 || s.clock.is_some_and(|(_, src)| src == ClockSource::Static)
        {
            None
        } else {
            sdp(s.side, s.clock_pt)
        };
        let clock = match &bound {
            Some(m) => Some((m.clock_rate, ClockSource::Sdp)),
            None => s.clock,
        };
        let jit = clock.and_then(|(c, _)| s.jit.iter().find(|j| j.clock == c));
        let ms = |ts_units: f64| clock.map(|(c, _)| ts_units * 1000.0 / f64::from(c));
        let mut rtcp = s.rtcp;
        if let Some(r) = rtcp.as_mut() {
            r.jitter_ms = ms(f64::from(r.jitter_ts));
            r.rtt_ms = (s.rtt_n > 0).then(|| s.rtt_sum_ms / s.rtt_n as f64);
        }
        let jitter = |v: fn(&Jitter) -> f64| jit.filter(|_| s.jitter_n > 0).and_then(|j| ms(v(j)));
        let codec = match payload_type_info(s.pt) {
            _ if s.packets == 0 => None,
            Some((name, _)) => Some(Arc::from(name)),
            None if s.pt == s.clock_pt => bound.map(|m| m.codec),
            None => sdp(s.side, s.pt).map(|m| m.codec),
        };
        StreamStats {
            side: s.side,
            ssrc: s.ssrc,
            payload_type: s.pt,
            codec,
            clock_rate: clock.map(|(c, _)| c),
            clock_source: clock.map(|(_, src)| src),
            packets: s.packets,
            expected: if s.packets == 0 { 0 } else { expected },
            lost: if s.packets == 0 {
                0
            } else {
                i64::try_from(expected).unwrap_or(i64::MAX)
                    - i64::try_from(s.packets).unwrap_or(i64::MAX)
            },
            duplicates: s.duplicates,
            reordered: s.reordered,
            restarts: s.restarts,
            valid: s.valid,
            jitter_mean_ms: jitter(|j| j.mean),
            jitter_max_ms: jitter(|j| j.max),
            longest_gap_us: s.longest_gap_us,
            burst_loss_max_pct: s.burst_worst,
            first_seq: s.first_seq,
            last_seq: s.max_seq,
            first_us: s.first_us,
            last_us: s.last_us,
            rtcp,
            reported_elsewhere: s.packets == 0
                && s.forwarded > 0
                && s.rtcp.is_some_and(|r| s.forwarded >= r.reports),
        }
    }

    /// Whether a payload type of this stream is bound only by signaling.
    fn is_dynamic(&self) -> bool {
        self.packets > 0
            && (payload_type_info(self.clock_pt).is_none() || payload_type_info(self.pt).is_none())
    }
}

#[derive(Clone, Copy, Debug)]
struct SrSeen {
    side: Side,
    ssrc: u32,
    ntp_mid: u32,
    arrival_us: i64,
}

/// Media state of one flow: its RTP streams and what RTCP said about them.
#[derive(Clone, Debug, Default)]
pub struct MediaTracker {
    streams: Vec<Stream>,
    srs: [Option<SrSeen>; SR_SLOTS],
    sr_next: usize,
    /// RTP packets of SSRCs beyond [`MAX_STREAMS`], not tracked.
    pub overflow_packets: u64,
    /// RTP packets fed.
    pub rtp_packets: u64,
    /// RTCP datagrams fed.
    pub rtcp_packets: u64,
    /// RTCP datagrams that were not a clean compound (SRTCP, truncated,
    /// lying counts): their report blocks were not used.
    pub rtcp_unreadable: u64,
}

impl MediaTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        MediaTracker::default()
    }

    /// The RTP or RTCP bytes of a UDP payload: the payload itself, or the
    /// inside of a TURN ChannelData message (RFC 8656 §12: channel numbers
    /// 0x4000-0x7FFF, then a length), which is how relayed media travels.
    pub fn unwrap_udp(payload: &[u8]) -> &[u8] {
        match payload {
            [0x40..=0x7f, _, hi, lo, rest @ ..] => {
                let n = usize::from(u16::from_be_bytes([*hi, *lo]));
                rest.get(..n).unwrap_or(payload)
            }
            _ => payload,
        }
    }

    /// Whether a UDP payload's first byte is worth a tracker (RTP/RTCP version 2).
    pub fn looks_like_rtp(payload: &[u8]) -> bool {
        matches!(payload.first(), Some(128..=191))
    }

    /// Whether a payload starts like an RTCP packet (version 2, packet type
    /// 192-223), the test [`MediaTracker::feed`] routes on.
    pub fn looks_like_rtcp(payload: &[u8]) -> bool {
        Self::looks_like_rtp(payload) && payload.get(1).is_some_and(|&b| rtp::is_rtcp_type(b))
    }

    /// Accounts one packet: an RTP header or an RTCP datagram; anything else
    /// (STUN, DTLS on the same 5-tuple) is ignored.
    pub fn feed(&mut self, side: Side, arrival_us: i64, bytes: &[u8]) {
        let Some(&b1) = bytes.get(1) else {
            return;
        };
        if !Self::looks_like_rtp(bytes) {
            return;
        }
        if rtp::is_rtcp_type(b1) {
            self.rtcp(side, arrival_us, bytes, None);
        } else if let Some(h) = rtp::parse_rtp(bytes) {
            self.rtp_packets += 1;
            if let Some(s) = self.stream_mut(side, h.ssrc, arrival_us, Some(&h)) {
                s.rtp(arrival_us, &h);
            } else {
                self.overflow_packets += 1;
            }
        }
    }

    fn stream_mut(
        &mut self,
        side: Side,
        ssrc: u32,
        arrival_us: i64,
        h: Option<&RtpHeader>,
    ) -> Option<&mut Stream> {
        let pos = self
            .streams
            .iter()
            .position(|s| s.ssrc == ssrc && s.side == side);
        match pos {
            Some(i) => self.streams.get_mut(i),
            None if self.streams.len() < MAX_STREAMS => {
                if self.streams.capacity() == 0 {
                    self.streams.reserve_exact(4);
                }
                self.streams.push(match h {
                    Some(h) => Stream::new(side, arrival_us, h),
                    None => Stream::from_report(side, ssrc, arrival_us),
                });
                self.streams.last_mut()
            }
            None => None,
        }
    }

    /// Accounts an RTCP datagram of the RTCP flow one port above (RTCP on
    /// port + 1) and returns the SSRCs whose report blocks landed on a stream
    /// here. Anything but RTCP is ignored.
    pub fn feed_forwarded(&mut self, side: Side, arrival_us: i64, bytes: &[u8]) -> Vec<u32> {
        let mut landed = Vec::new();
        if Self::looks_like_rtcp(bytes) {
            self.rtcp(side, arrival_us, bytes, Some(&mut landed));
        }
        landed
    }

    /// Notes that the report blocks about `ssrcs`, in a datagram this flow
    /// received from `side`, also landed on the RTP flow one port below.
    pub fn mark_forwarded(&mut self, side: Side, ssrcs: &[u32]) {
        for s in &mut self.streams {
            if s.side == side.flip() && ssrcs.contains(&s.ssrc) {
                s.forwarded += ssrcs.iter().filter(|&&x| x == s.ssrc).count() as u64;
            }
        }
    }

    fn rtcp(&mut self, side: Side, arrival_us: i64, bytes: &[u8], landed: Option<&mut Vec<u32>>) {
        let mut landed = landed;
        self.rtcp_packets += 1;
        // Only an exact compound is in clear: SRTCP appends an index and a
        // tag (so the lengths no longer add up) and encrypts the blocks.
        if rtp::parse_rtcp(bytes).is_none() {
            self.rtcp_unreadable += 1;
            return;
        }
        let mut bad = false;
        for rep in rtp::rtcp_reports(bytes) {
            bad |= rep.count_overflow;
            if let Some(si) = rep.sender {
                self.remember_sr(SrSeen {
                    side,
                    ssrc: rep.sender_ssrc,
                    ntp_mid: si.ntp_mid,
                    arrival_us,
                });
            }
            for b in rep.blocks() {
                let rtt = self.rtt_for(side, &b, arrival_us);
                // The block reports on packets flowing towards its sender.
                let Some(s) = self.stream_mut(side.flip(), b.ssrc, arrival_us, None) else {
                    continue;
                };
                if let Some(l) = landed.as_deref_mut() {
                    l.push(b.ssrc);
                }
                let r = s.rtcp.get_or_insert_with(RtcpFigures::default);
                r.reports += 1;
                r.fraction_lost = f64::from(b.fraction_lost) / 256.0;
                r.cumulative_lost = i64::from(b.cumulative_lost);
                r.jitter_ts = b.jitter;
                if let Some(ms) = rtt {
                    s.rtt_sum_ms += ms;
                    s.rtt_n += 1;
                }
            }
        }
        if bad {
            self.rtcp_unreadable += 1;
        }
    }

    fn remember_sr(&mut self, sr: SrSeen) {
        if let Some(slot) = self.srs.get_mut(self.sr_next % SR_SLOTS) {
            *slot = Some(sr);
        }
        self.sr_next = self.sr_next.wrapping_add(1);
    }

    /// Round trip tap -> block sender -> tap: the block echoes the SR as LSR;
    /// both times are the tap's, and DLSR removes the sender's holding time.
    fn rtt_for(&self, side: Side, b: &rtp::ReportBlock, arrival_us: i64) -> Option<f64> {
        if b.lsr == 0 {
            return None;
        }
        let sr = self
            .srs
            .iter()
            .flatten()
            .find(|s| s.ssrc == b.ssrc && s.ntp_mid == b.lsr && s.side != side)?;
        let dlsr_us = i64::from(b.dlsr) * 1_000_000 / 65_536;
        let rtt_us = arrival_us - sr.arrival_us - dlsr_us;
        (rtt_us >= 0).then(|| rtt_us as f64 / 1000.0)
    }

    /// Streams tracked so far.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The figures of every stream, in the order they were first seen, with
    /// clocks from the static table or the estimate.
    pub fn streams(&self) -> Vec<StreamStats> {
        self.streams_with(&|_, _| None)
    }

    /// The figures of every stream, with dynamic payload types bound by
    /// `sdp(direction, payload_type)` where signaling was seen.
    pub fn streams_with(&self, sdp: &dyn Fn(Side, u8) -> Option<RtpMap>) -> Vec<StreamStats> {
        self.streams.iter().map(|s| s.stats(sdp)).collect()
    }

    /// Whether some stream has a payload type only SDP can name.
    pub fn has_dynamic_payload(&self) -> bool {
        self.streams.iter().any(Stream::is_dynamic)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const S2D: Side = Side::Src2Dst;

    fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut v = vec![0x80, pt];
        v.extend(seq.to_be_bytes());
        v.extend(ts.to_be_bytes());
        v.extend(ssrc.to_be_bytes());
        v.extend([0u8; 20]);
        v
    }

    /// Feeds `seqs` of one PCMU stream, 20 ms apart, timestamps following
    /// the sequence (160 per packet).
    fn run(seqs: &[u16]) -> StreamStats {
        let mut t = MediaTracker::new();
        for (i, &s) in seqs.iter().enumerate() {
            let ts = u32::from(s).wrapping_mul(160);
            t.feed(S2D, i as i64 * 20_000, &rtp(0, s, ts, 42));
        }
        let v = t.streams();
        assert_eq!(v.len(), 1);
        v.into_iter().next().unwrap()
    }

    #[test]
    fn quality_rules_from_the_builtin_file() {
        let q = QualityRules::builtin().unwrap();
        assert_eq!(q.min_packets, 50);
        assert_eq!(q.targets.loss_pct, 1.0);
        assert_eq!(q.cqd_audio_poor.rtt_ms, 500.0);
        let seqs: Vec<u16> = (0..100).collect();
        assert_eq!(q.judge_stream(&run(&seqs)), Some(Quality::Good));
        assert_eq!(q.judge_stream(&run(&seqs[..49])), None);
        // 2 of 100 lost: above the 1% target.
        let lossy: Vec<u16> = (0..100).filter(|s| *s != 10 && *s != 60).collect();
        assert_eq!(q.judge_stream(&run(&lossy)), Some(Quality::Poor));
        assert_eq!(
            q.judge_flow(&[Some(Quality::Good), None], Some(600.0)),
            Some(Quality::Poor)
        );
        assert_eq!(q.judge_flow(&[None], None), None);
        assert!(QualityRules::from_toml("min_packets = 1\n", "x.toml")
            .unwrap_err()
            .to_string()
            .starts_with("x.toml"));
    }

    #[test]
    fn clean_stream() {
        let seqs: Vec<u16> = (1000..1100).collect();
        let s = run(&seqs);
        assert_eq!((s.packets, s.expected, s.lost), (100, 100, 0));
        assert_eq!((s.duplicates, s.reordered), (0, 0));
        assert!(s.valid);
        assert_eq!((s.first_seq, s.last_seq), (1000, 1099));
        assert_eq!(s.codec.as_deref(), Some("PCMU"));
        assert_eq!(s.clock_source, Some(ClockSource::Static));
        assert_eq!(s.jitter_max_ms, Some(0.0));
        assert_eq!(s.longest_gap_us, 20_000);
        assert_eq!(s.burst_loss_max_pct, Some(0.0));
    }

    #[test]
    fn loss_duplicates_and_reordering() {
        // 1..=20 with 5 and 6 lost, 10 duplicated, 13 arriving after 14.
        let mut seqs: Vec<u16> = (1..=20).filter(|s| *s != 5 && *s != 6).collect();
        let i10 = seqs.iter().position(|s| *s == 10).unwrap();
        seqs.insert(i10 + 1, 10);
        let i13 = seqs.iter().position(|s| *s == 13).unwrap();
        seqs.swap(i13, i13 + 1);
        let s = run(&seqs);
        assert_eq!(s.packets, 19);
        assert_eq!(s.expected, 20);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.reordered, 1);
        // expected 20 - received 19 (duplicate included) = 1, as RFC 3550 A.3.
        assert_eq!(s.lost, 1);
        assert_eq!(s.last_seq, 20);
    }

    #[test]
    fn a_late_duplicate_is_not_reordering() {
        let s = run(&[1, 2, 3, 4, 5, 3, 6]);
        assert_eq!((s.duplicates, s.reordered, s.lost), (1, 0, -1));
        assert_eq!(s.loss_pct(), 0.0);
    }

    #[test]
    fn wrap_around() {
        let seqs: Vec<u16> = (65530..=65535).chain(0..=5).filter(|s| *s != 2).collect();
        let s = run(&seqs);
        assert_eq!((s.packets, s.expected, s.lost), (11, 12, 1));
        assert_eq!((s.first_seq, s.last_seq), (65530, 5));
        assert_eq!(s.reordered, 0);
    }

    #[test]
    fn restart_after_a_confirmed_jump_and_probation() {
        // 10 packets, then the sender restarts at 40000 and continues.
        let seqs: Vec<u16> = (100..110).chain(40000..40010).collect();
        let s = run(&seqs);
        assert_eq!(s.restarts, 1);
        assert_eq!((s.packets, s.expected, s.lost), (20, 20, 0));
        // A lone stray jump is no restart and no loss.
        let mut seqs: Vec<u16> = (100..110).collect();
        seqs.push(30000);
        seqs.extend(110..115);
        let s = run(&seqs);
        assert_eq!(s.restarts, 0);
        assert_eq!((s.packets, s.expected, s.lost), (16, 16, 0));
        // Probation: one packet is not a believed source.
        assert!(!run(&[7]).valid);
        assert!(!run(&[7, 9]).valid);
        assert!(run(&[7, 8, 9]).valid);
    }

    #[test]
    fn jitter_by_hand() {
        // PCMU (8 kHz): every packet 160 ticks = 20 ms of media. Arrivals at
        // 0, 20, 50, 60, 80 ms. Transit differences D in ticks:
        // p2: (160 - 160) = 0; p3: 240 - 160 = 80; p4: 80 - 160 = -80 (|80|);
        // p5: 160 - 160 = 0.
        // J2 = 0; J3 = 80/16 = 5; J4 = 5 + (80 - 5)/16 = 9.6875;
        // J5 = 9.6875 - 9.6875/16 = 9.08203125.
        let mut t = MediaTracker::new();
        for (i, at) in [0i64, 20, 50, 60, 80].iter().enumerate() {
            let i = i as u32;
            t.feed(S2D, at * 1000, &rtp(0, 1 + i as u16, 160 * i, 1));
        }
        let s = &t.streams()[0];
        let js = [0.0, 5.0, 9.6875, 9.082_031_25];
        let max_ms = 9.6875 / 8.0;
        let mean_ms = js.iter().sum::<f64>() / 4.0 / 8.0;
        assert!((s.jitter_max_ms.unwrap() - max_ms).abs() < 1e-9);
        assert!((s.jitter_mean_ms.unwrap() - mean_ms).abs() < 1e-9);
        assert_eq!(s.longest_gap_us, 30_000);
    }

    #[test]
    fn marker_packets_are_left_out_of_max_and_mean_as_tshark_does() {
        // The same arrivals as above, the third packet with the marker bit:
        // J3 = 5 still moves the running J but is not counted. tshark's
        // running mean weights by packets received before: after packet 2
        // (1 before) 0; after 4 (3 before) (0 * 2 + 9.6875) / 3; after 5
        // (4 before) (that * 3 + 9.08203125) / 4.
        let mut t = MediaTracker::new();
        for (i, at) in [0i64, 20, 50, 60, 80].iter().enumerate() {
            let i = i as u32;
            let mut p = rtp(0, 1 + i as u16, 160 * i, 1);
            if i == 2 {
                p[1] |= 0x80;
            }
            t.feed(S2D, at * 1000, &p);
        }
        let s = &t.streams()[0];
        let mean = (9.6875 + 9.082_031_25) / 4.0 / 8.0;
        assert!((s.jitter_mean_ms.unwrap() - mean).abs() < 1e-9);
        assert!((s.jitter_max_ms.unwrap() - 9.6875 / 8.0).abs() < 1e-9);
    }

    #[test]
    fn jitter_survives_timestamp_wrap() {
        // Timestamps straddle 2^32: a u32 transit would jump by 2^32.
        let mut t = MediaTracker::new();
        for i in 0..50u32 {
            let ts = (u32::MAX - 800).wrapping_add(160 * i);
            t.feed(S2D, i64::from(i) * 20_000, &rtp(0, i as u16, ts, 1));
        }
        assert_eq!(t.streams()[0].jitter_max_ms, Some(0.0));
    }

    #[test]
    fn dynamic_payload_type_clock_is_estimated() {
        let mut t = MediaTracker::new();
        // 48 kHz opus-like: 960 ticks per 20 ms, 2 s of packets.
        for i in 0..100u32 {
            t.feed(S2D, i64::from(i) * 20_000, &rtp(111, i as u16, 960 * i, 5));
        }
        let s = &t.streams()[0];
        assert_eq!(s.clock_rate, Some(48000));
        assert_eq!(s.clock_source, Some(ClockSource::Estimated));
        assert_eq!(s.codec, None);
        assert_eq!(s.jitter_max_ms, Some(0.0));
    }

    fn silk(pt: u8, clock: u32) -> RtpMap {
        RtpMap {
            pt,
            codec: Arc::from("SILK"),
            clock_rate: clock,
        }
    }

    /// A 16 kHz stream on dynamic type 104, arrivals alternately 3 ms early
    /// and late, for `n` packets.
    fn wideband(n: u32) -> MediaTracker {
        let mut t = MediaTracker::new();
        for i in 0..n {
            let skew = if i == 0 {
                0
            } else if i % 2 == 0 {
                -3_000
            } else {
                3_000
            };
            let arrival = i64::from(i) * 20_000 + skew;
            t.feed(S2D, arrival, &rtp(104, i as u16, 320 * i, 9));
        }
        t
    }

    #[test]
    fn sdp_binding_names_the_codec_and_clock_of_a_dynamic_type() {
        // 0.6 s: too short for an estimate, so only the SDP gives a clock.
        let t = wideband(30);
        assert!(t.has_dynamic_payload());
        let plain = &t.streams()[0];
        assert_eq!((plain.clock_rate, plain.jitter_max_ms), (None, None));
        let s =
            &t.streams_with(&|side, pt| (side == S2D && pt == 104).then(|| silk(104, 16000)))[0];
        assert_eq!(s.clock_source, Some(ClockSource::Sdp));
        assert_eq!(
            (s.clock_rate, s.codec.as_deref()),
            (Some(16000), Some("SILK"))
        );
        // RFC 3550 by hand: |D| is 3 ms once, then 6 ms, at 16 ticks per ms.
        let mut j = 0.0f64;
        let mut max = 0.0f64;
        for n in 1..30 {
            let d = if n == 1 { 48.0 } else { 96.0 };
            j += (d - j) / 16.0;
            max = max.max(j);
        }
        assert!(
            (s.jitter_max_ms.unwrap() - max / 16.0).abs() < 1e-9,
            "{s:?}"
        );
    }

    #[test]
    fn sdp_wins_over_the_estimate_and_an_unusual_rate_has_no_jitter() {
        let t = wideband(150);
        let est = &t.streams()[0];
        assert_eq!(est.clock_source, Some(ClockSource::Estimated));
        assert_eq!(est.clock_rate, Some(16000));
        // The SDP names 8 kHz: its word is taken, and the jitter is the one
        // computed under 8 kHz from the first packet.
        let s8 = &t.streams_with(&|_, _| Some(silk(104, 8000)))[0];
        assert_eq!(
            (s8.clock_rate, s8.clock_source),
            (Some(8000), Some(ClockSource::Sdp))
        );
        assert_ne!(s8.jitter_max_ms, est.jitter_max_ms);
        let s16 = &t.streams_with(&|_, _| Some(silk(104, 16000)))[0];
        assert_eq!(
            s16.jitter_max_ms, est.jitter_max_ms,
            "same clock, same jitter"
        );
        assert_eq!(s16.jitter_mean_ms, est.jitter_mean_ms);
        // A rate outside the candidates is reported, without a jitter.
        let odd = &t.streams_with(&|_, _| Some(silk(104, 11025)))[0];
        assert_eq!(odd.clock_rate, Some(11025));
        assert_eq!((odd.jitter_max_ms, odd.jitter_mean_ms), (None, None));
    }

    #[test]
    fn a_stream_known_only_from_reports_takes_no_sdp_clock() {
        let mut t = MediaTracker::new();
        for i in 0..10u32 {
            t.feed(S2D, i64::from(i) * 20_000, &rtp(111, i as u16, 960 * i, 1));
        }
        // A report about a source that sent no RTP here.
        t.feed(S2D.flip(), 300_000, &rr(2, 0x77, 0, 0, 480, 0, 0));
        let sdp = |_: Side, pt: u8| {
            Some(match pt {
                0 => RtpMap {
                    pt,
                    codec: Arc::from("PCMU"),
                    clock_rate: 8000,
                },
                _ => RtpMap {
                    pt,
                    codec: Arc::from("opus"),
                    clock_rate: 48000,
                },
            })
        };
        let v = t.streams_with(&sdp);
        let only = v.iter().find(|s| s.ssrc == 0x77).unwrap();
        assert_eq!(only.packets, 0);
        assert_eq!(
            (only.clock_rate, only.clock_source, only.codec.clone()),
            (None, None, None)
        );
        assert_eq!(
            only.rtcp.unwrap().jitter_ms,
            None,
            "no clock, no made-up ms"
        );
        let opus = v.iter().find(|s| s.ssrc == 1).unwrap();
        assert_eq!(opus.clock_rate, Some(48000));
    }

    #[test]
    fn candidate_jitter_equals_the_static_computation() {
        // The same packets as PCMU (static, 8 kHz) and as dynamic 96 bound
        // to 8 kHz by SDP give the same figures.
        let feed = |pt: u8| {
            let mut t = MediaTracker::new();
            for i in 0..200u32 {
                let skew = i64::from((i * 7919) % 11) * 1_000;
                t.feed(
                    S2D,
                    i64::from(i) * 20_000 + skew,
                    &rtp(pt, i as u16, 160 * i, 3),
                );
            }
            t
        };
        let pcmu = &feed(0).streams()[0];
        let dynamic = feed(96);
        let bound = &dynamic.streams_with(&|_, _| {
            Some(RtpMap {
                pt: 96,
                codec: Arc::from("PCMU"),
                clock_rate: 8000,
            })
        })[0];
        assert!(pcmu.jitter_max_ms.unwrap() > 0.0);
        assert_eq!(pcmu.jitter_max_ms, bound.jitter_max_ms);
        assert_eq!(pcmu.jitter_mean_ms, bound.jitter_mean_ms);
        assert!(!feed(0).has_dynamic_payload());
    }

    #[test]
    fn burst_loss_over_200ms_windows() {
        // 50 pps; in one window of 10 packets, 3 are lost.
        let seqs: Vec<u16> = (0..100).filter(|s| !(42..45).contains(s)).collect();
        let s = run(&seqs);
        assert_eq!(s.lost, 3);
        // Arrival window [800, 1000) ms holds seqs 40, 41, 45..=52: 13
        // expected since seq 39, 10 received.
        assert_eq!(s.burst_loss_max_pct, Some(300.0 / 13.0));
    }

    #[test]
    fn turn_channel_data_is_unwrapped() {
        let inner = rtp(0, 1, 160, 3);
        let mut cd = vec![0x40, 0x01];
        cd.extend(u16::try_from(inner.len()).unwrap().to_be_bytes());
        cd.extend(&inner);
        cd.extend([0, 0, 0]); // padding to 4 bytes
        assert_eq!(MediaTracker::unwrap_udp(&cd), &inner[..]);
        assert_eq!(MediaTracker::unwrap_udp(&inner), &inner[..]);
        assert_eq!(
            MediaTracker::unwrap_udp(&cd[..10]),
            &cd[..10],
            "length past the end"
        );
    }

    #[test]
    fn ssrc_churn_is_capped_and_counted() {
        let mut t = MediaTracker::new();
        for i in 0..10_000u32 {
            t.feed(S2D, i64::from(i), &rtp(0, i as u16, i, i));
        }
        assert_eq!(t.stream_count(), MAX_STREAMS);
        assert_eq!(t.overflow_packets, 10_000 - MAX_STREAMS as u64);
        assert_eq!(t.rtp_packets, 10_000);
    }

    fn sr(ssrc: u32, ntp_mid: u32) -> Vec<u8> {
        rtp::sender_report(ssrc, ntp_mid)
    }

    fn rr(
        sender: u32,
        about: u32,
        frac: u8,
        lost: i32,
        jitter: u32,
        lsr: u32,
        dlsr: u32,
    ) -> Vec<u8> {
        rtp::ReportBlock {
            ssrc: about,
            fraction_lost: frac,
            cumulative_lost: lost,
            ext_highest_seq: 0,
            jitter,
            lsr,
            dlsr,
        }
        .receiver_report(sender)
    }

    #[test]
    fn rtcp_reports_match_their_stream_and_give_rtt() {
        let mut t = MediaTracker::new();
        for i in 0..10u32 {
            t.feed(S2D, i64::from(i) * 20_000, &rtp(0, i as u16, 160 * i, 0xaa));
        }
        t.feed(S2D, 200_000, &sr(0xaa, 0x0001_8000));
        // The receiver answers 80 ms later, having held the SR 30 ms
        // (30 ms = 1966.08 units of 1/65536 s; 1966 -> 29.998 ms).
        t.feed(
            Side::Dst2Src,
            280_000,
            &rr(0xbb, 0xaa, 64, 2, 80, 0x0001_8000, 1966),
        );
        let v = t.streams();
        assert_eq!(v.len(), 1, "the report joins the RTP stream");
        let r = v[0].rtcp.unwrap();
        assert_eq!(r.reports, 1);
        assert_eq!(r.fraction_lost, 0.25);
        assert_eq!(r.cumulative_lost, 2);
        assert_eq!(r.jitter_ms, Some(10.0));
        let rtt = r.rtt_ms.unwrap();
        let want = 80.0 - 1966.0 * 1000.0 / 65536.0;
        assert!((rtt - want).abs() < 0.01, "{rtt} vs {want}");
    }

    #[test]
    fn malformed_rtp_is_ignored_at_every_length() {
        let mut t = MediaTracker::new();
        // 15 CSRCs announced, an extension and padding: every cut is refused
        // until the whole header is there.
        let mut p = vec![0xbf, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9];
        p.extend([0u8; 60]);
        p.extend([0xbe, 0xde, 0, 1, 0, 0, 0, 0]);
        p.push(1);
        for cut in 0..p.len() {
            t.feed(S2D, 0, &p[..cut]);
        }
        assert_eq!((t.rtp_packets, t.stream_count()), (0, 0));
        t.feed(S2D, 0, &p);
        assert_eq!((t.rtp_packets, t.stream_count()), (1, 1));
        // An extension length past the end.
        let mut x = rtp(0, 2, 0, 9);
        x[0] = 0x90;
        x[14..16].copy_from_slice(&[0xff, 0xff]);
        t.feed(S2D, 0, &x);
        assert_eq!(t.rtp_packets, 1);
    }

    #[test]
    fn hostile_rtcp_is_bounded() {
        let mut t = MediaTracker::new();
        // Count field 31 with one block; a length past the end; SRTCP-like tail.
        let mut lying = rr(1, 2, 0, 0, 0, 0, 0);
        lying[0] = 0x80 | 31;
        t.feed(S2D, 0, &lying);
        let mut long = rr(1, 3, 0, 0, 0, 0, 0);
        long[3] = 250;
        t.feed(S2D, 1, &long);
        let mut srtcp = rr(1, 4, 0, 0, 0, 0, 0);
        srtcp.extend([0x80, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        t.feed(S2D, 2, &srtcp);
        assert_eq!(t.rtcp_packets, 3);
        assert_eq!(t.rtcp_unreadable, 3);
        // Churning report SSRCs stay within the cap too.
        for i in 0..1000u32 {
            t.feed(S2D, 3, &rr(1, 100 + i, 0, 0, 0, 0, 0));
        }
        assert_eq!(t.stream_count(), MAX_STREAMS);
        for cut in 0..lying.len() {
            t.feed(S2D, 4, &lying[..cut]);
        }
    }
}
