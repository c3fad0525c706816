//! One RTP stream's RFC 3550 arithmetic: A.1 sequence state (wrap-around,
//! restart after a confirmed jump, probation), duplicates and reordering in
//! a 128-packet window, A.3 expected and lost, the longest arrival gap and
//! the worst loss over 200 ms windows. Clocks and jitter are in `jitter`,
//! the 15-second windows in `window`.

mod jitter;
mod window;

use self::jitter::Jitter;
use self::window::Windows;
use super::quality::WindowRules;
use super::{payload_type_info, ClockSource, RtcpFigures, RtpMap, StreamStats};
use crate::dissect::rtp::RtpHeader;
use crate::vocab::Side;
use std::sync::Arc;

/// RFC 3550 A.1: a jump this far ahead is a gap, further is a restart candidate.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: this far behind the newest is a late packet.
const MAX_MISORDER: u16 = 100;
/// RFC 3550 A.1: in-order packets before a new source is believed.
const MIN_SEQUENTIAL: u8 = 2;
/// Window of the burst loss figure (docs/call-flows.md §3.5: "in any 200 ms").
const BURST_US: i64 = 200_000;
/// A burst window with fewer expected packets says too little to count.
const BURST_MIN_EXPECTED: u64 = 5;
/// Payload types counted per stream for its main one; more are not counted.
const PT_SLOTS: usize = 4;
/// Consecutive packets of another payload type, each advancing its
/// timestamp, that make a codec switch (an RFC 4733 event repeats its
/// timestamp, so its packets never do).
const SWITCH_RUN: u8 = 3;

/// Comfort noise (RFC 3389 and the old RFC 1890 number).
fn is_cn(pt: u8) -> bool {
    matches!(pt, 13 | 19)
}

/// One RTP stream (a direction and an SSRC) of a flow.
#[derive(Clone, Debug)]
pub(super) struct Stream {
    pub(super) side: Side,
    pub(super) ssrc: u32,
    pt: u8,
    // Packets per payload type, for the main one.
    pt_counts: [(u8, u64); PT_SLOTS],
    // Another payload type's packets in a row, its latest timestamp, and
    // how many of them advanced it.
    other_pt: Option<(u8, u32)>,
    other_run: u8,
    // Packets before the jitter computation last restarted.
    jit_base: u64,
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
    // 15 s windows.
    win: Windows,
    pub(super) rtcp: Option<RtcpFigures>,
    pub(super) rtt_sum_ms: f64,
    pub(super) rtt_n: u64,
    from_report: bool,
    // Report blocks about this stream that also landed on the RTP flow one
    // port below (RTCP on port + 1).
    pub(super) forwarded: u64,
}

impl Stream {
    pub(super) fn new(side: Side, arrival_us: i64, h: &RtpHeader) -> Self {
        let clock = payload_type_info(h.pt).map(|(_, c)| (c, ClockSource::Static));
        let jit = Jitter::candidates(clock.map(|(c, _)| c));
        Stream {
            side,
            ssrc: h.ssrc,
            pt: h.pt,
            pt_counts: [(0, 0); PT_SLOTS],
            other_pt: None,
            other_run: 0,
            jit_base: 0,
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
            win: Windows::new(arrival_us, h.seq),
            rtcp: None,
            rtt_sum_ms: 0.0,
            rtt_n: 0,
            from_report: false,
            forwarded: 0,
        }
    }

    /// An entry for a stream known only from RTCP reports about it (RTCP on
    /// its own port+1 flow never carries the RTP).
    pub(super) fn from_report(side: Side, ssrc: u32, arrival_us: i64) -> Self {
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
                // The stray packet and this one: both received, in the
                // new sequence space.
                self.win.start_ext = self.base_ext.wrapping_sub(1);
                self.win.packets_start = self.packets.saturating_sub(2);
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

    fn update_burst(&mut self, arrival_us: i64, rules: &WindowRules) {
        if arrival_us - self.burst_start_us >= BURST_US {
            self.close_burst(rules);
            self.burst_start_us = arrival_us;
            self.burst_start_ext = self.ext_max();
            self.burst_received = 0;
        }
        self.burst_received += 1;
    }

    fn close_burst(&mut self, rules: &WindowRules) {
        let expected = self.ext_max().wrapping_sub(self.burst_start_ext);
        if (BURST_MIN_EXPECTED..1 << 20).contains(&expected) {
            let lost = expected.saturating_sub(self.burst_received);
            let pct = lost as f64 * 100.0 / expected as f64;
            if self.burst_worst.is_none_or(|w| pct > w) {
                self.burst_worst = Some(pct);
            }
            self.win.burst(lost, expected, rules);
        }
    }

    pub(super) fn rtp(&mut self, arrival_us: i64, h: &RtpHeader, rules: &WindowRules) {
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
        self.count_pt(h.pt);
        // The windows close on the ext_max before this packet; the burst
        // bucket first, so it counts in the 15 s window it ends in.
        self.update_burst(arrival_us, rules);
        self.roll_window(arrival_us, rules);
        self.update_seq(h.seq);
        if self.feeds_jitter(h) {
            self.update_clock(arrival_us, h.ts);
            self.update_jitter(arrival_us, h);
        }
    }

    fn count_pt(&mut self, pt: u8) {
        let slot = self
            .pt_counts
            .iter()
            .position(|&(p, n)| p == pt && n > 0)
            .or_else(|| self.pt_counts.iter().position(|&(_, n)| n == 0));
        if let Some((p, n)) = slot.and_then(|i| self.pt_counts.get_mut(i)) {
            *p = pt;
            *n += 1;
        }
    }

    /// The stream's main payload type: the one with the most packets,
    /// comfort noise only when there is nothing else; the first seen wins a tie.
    fn main_pt(&self) -> u8 {
        let best = |cn: bool| {
            self.pt_counts
                .iter()
                .filter(|&&(p, n)| n > 0 && is_cn(p) == cn)
                .fold(None::<(u8, u64)>, |b, &(p, n)| match b {
                    Some((_, bn)) if bn >= n => b,
                    _ => Some((p, n)),
                })
        };
        best(false)
            .or_else(|| best(true))
            .map_or(self.pt, |(p, _)| p)
    }

    /// Whether a packet takes part in the jitter (RFC 3550 §6.4.1 needs the
    /// transit of packets on one clock). The reference payload type does;
    /// comfort noise does as tshark has it (the running J moves, the figures
    /// skip it); so does another static type on the same clock (PCMU and
    /// PCMA are one timeline). Any other type does not: an RFC 4733 event
    /// carries the timestamp of the event's start, repeated, not its
    /// sending instant, and a type of another or unknown clock counts in
    /// other units. When such a type keeps coming with advancing timestamps
    /// ([`SWITCH_RUN`] packets in a row) the codec switched: the jitter
    /// restarts on its clock from that packet.
    fn feeds_jitter(&mut self, h: &RtpHeader) -> bool {
        let same_clock = || match (payload_type_info(self.clock_pt), payload_type_info(h.pt)) {
            (Some((_, a)), Some((_, b))) => a == b,
            _ => false,
        };
        if h.pt == self.clock_pt || is_cn(h.pt) || same_clock() {
            self.other_pt = None;
            self.other_run = 0;
            return true;
        }
        let advancing = match self.other_pt {
            Some((pt, ts)) if pt == h.pt => {
                let step = h.ts.wrapping_sub(ts);
                step != 0 && step < 1 << 31
            }
            _ => false,
        };
        self.other_run = if advancing {
            self.other_run.saturating_add(1)
        } else {
            1
        };
        self.other_pt = Some((h.pt, h.ts));
        if self.other_run < SWITCH_RUN {
            return false;
        }
        // A codec switch: the new type's clock, from its first packet here.
        self.clock_pt = h.pt;
        self.clock = payload_type_info(h.pt).map(|(_, c)| (c, ClockSource::Static));
        self.jit = Jitter::candidates(self.clock.map(|(c, _)| c));
        self.est_start = None;
        self.prev_arrival_us = None;
        self.jitter_n = 0;
        self.jit_base = self.packets.saturating_sub(1);
        self.last_cn = false;
        self.other_pt = None;
        self.other_run = 0;
        true
    }

    /// The stream's figures; `sdp` says what signaling bound a dynamic
    /// payload type to, for this stream's direction.
    pub(super) fn stats(
        &self,
        sdp: &dyn Fn(Side, u8) -> Option<RtpMap>,
        rules: &WindowRules,
    ) -> StreamStats {
        let mut s = self.clone();
        s.close_burst(rules);
        s.close_window(s.packets, rules);
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
        let main = s.main_pt();
        let codec = match payload_type_info(main) {
            _ if s.packets == 0 => None,
            Some((name, _)) => Some(Arc::from(name)),
            None if main == s.clock_pt => bound.map(|m| m.codec),
            None => sdp(s.side, main).map(|m| m.codec),
        };
        StreamStats {
            side: s.side,
            ssrc: s.ssrc,
            payload_type: main,
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
            windows: s.win.counted,
            windows_poor: [0, 1].map(|i| {
                let jit_extra = jit.and_then(|j| j.poor_extra.get(i)).copied();
                s.win.poor_base.get(i).copied().unwrap_or(0) + jit_extra.unwrap_or(0)
            }),
            loss_max_window_pct: s.win.loss_worst,
            jitter_max_window_ms: jit
                .filter(|_| s.jitter_n > 0 && s.win.counted > 0)
                .and_then(|j| ms(j.worst_win)),
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
    pub(super) fn is_dynamic(&self) -> bool {
        self.packets > 0
            && (payload_type_info(self.clock_pt).is_none()
                || payload_type_info(self.main_pt()).is_none())
    }
}

#[cfg(test)]
mod test {
    use crate::media::test_support::run;
    use crate::media::ClockSource;

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
    fn burst_loss_over_200ms_windows() {
        // 50 pps; in one window of 10 packets, 3 are lost.
        let seqs: Vec<u16> = (0..100).filter(|s| !(42..45).contains(s)).collect();
        let s = run(&seqs);
        assert_eq!(s.lost, 3);
        // Arrival window [800, 1000) ms holds seqs 40, 41, 45..=52: 13
        // expected since seq 39, 10 received.
        assert_eq!(s.burst_loss_max_pct, Some(300.0 / 13.0));
    }
}
