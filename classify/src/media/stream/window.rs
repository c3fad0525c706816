//! A stream's 15-second windows (docs/call-flows.md §3.5: Microsoft's loss, jitter
//! and reorder targets hold "in any 15 s", burst loss "in any 200 ms").
//!
//! Windows are cut in arrival time from the stream's first packet: window k
//! is `[first + 15k s, first + 15(k+1) s)`. Only the open window is kept,
//! with the worst-so-far figures and counts of the closed ones, so memory is
//! constant whatever the call's length. A window counts when it expected at
//! least [`WindowRules::min_expected`] packets (the tail window of a stream,
//! or one mostly of silence, says too little otherwise); a window without a
//! packet is never opened, and the sequence gap across it lands in the
//! window of the next packet.
//!
//! Per counted window: loss (RFC 3550 A.3 over the window: the extended
//! highest sequence advance against the packets received, duplicates
//! included, clamped at 0), judged only when the window expected enough
//! packets to show the target (100 / target: 100 for 1%, 1000 for 0.1%);
//! its 200 ms bursts (the burst buckets that close in it, each judged when
//! it expected 100 / target packets: 10 for 10%, 100 for 1%); reorder is not
//! judged per window (Microsoft states it without one, and one late packet
//! among 750 would be 0.13%), but over the whole stream;
//! and its largest RFC 3550 running jitter over regular packets (the max,
//! not the value at the window's end: a 15 s target is broken by any moment
//! above it, and the running estimate is already smoothed over about 16
//! packets). A packet arriving late into the next window counts as lost in
//! its own and received in the next, so a window's loss errs high by the
//! reordered packets at its end, never low.
//!
//! A window is judged against both profiles' targets as it closes, because
//! the profile a stream is judged by is known only once its flow's egress
//! is; jitter needs the stream's clock, which a dynamic payload type may
//! learn only from SDP after the call, so the jitter part is counted for
//! every candidate clock, as the jitter itself is.

use super::Stream;
use crate::media::quality::{Targets, WindowRules};

/// Window length (docs/call-flows.md §3.5: "in any 15 s").
pub(super) const WINDOW_US: i64 = 15_000_000;
/// Above this a window's expected count is a sequence artefact, not traffic.
const MAX_EXPECTED: u64 = 1 << 20;

/// The open window and what the closed ones left behind.
#[derive(Clone, Debug)]
pub(super) struct Windows {
    /// Arrival the open window starts at.
    start_us: i64,
    /// Extended highest sequence before the window's first packet.
    pub(super) start_ext: u64,
    /// Packets (and late packets) of the stream before the window opened.
    pub(super) packets_start: u64,
    /// A 200 ms bucket closed in the open window was above a profile's
    /// burst target, on a sample able to show it.
    burst_bad: [bool; 2],
    /// Counted windows closed.
    pub(super) counted: u32,
    /// Counted windows poor on loss, reorder or burst alone, per profile.
    pub(super) poor_base: [u32; 2],
    /// Worst loss of a counted window, percent.
    pub(super) loss_worst: Option<f64>,
}

impl Windows {
    /// The windows of a stream whose first packet arrives at `first_us` with
    /// sequence number `seq`.
    pub(super) fn new(first_us: i64, seq: u16) -> Self {
        Windows {
            start_us: first_us,
            start_ext: u64::from(seq).wrapping_sub(1),
            packets_start: 0,
            burst_bad: [false; 2],
            counted: 0,
            poor_base: [0; 2],
            loss_worst: None,
        }
    }

    /// A 200 ms burst bucket closed while this window is open: `lost` of
    /// `expected`.
    pub(super) fn burst(&mut self, lost: u64, expected: u64, rules: &WindowRules) {
        for (bad, t) in self.burst_bad.iter_mut().zip(&rules.targets) {
            *bad |= Targets::rate_over(lost, expected, t.burst_loss_pct);
        }
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl Stream {
    /// Closes the open window when a packet arrives at or past its end (this
    /// packet, already counted in `packets`, opens the next one).
    pub(super) fn roll_window(&mut self, arrival_us: i64, rules: &WindowRules) {
        let since = arrival_us.saturating_sub(self.first_us);
        if arrival_us.saturating_sub(self.win.start_us) < WINDOW_US {
            return;
        }
        self.close_window(self.packets.saturating_sub(1), rules);
        self.win.start_us = self
            .first_us
            .saturating_add(since.div_euclid(WINDOW_US).saturating_mul(WINDOW_US));
        self.win.start_ext = self.ext_max();
        self.win.packets_start = self.packets.saturating_sub(1);
    }

    /// Judges and forgets the open window; `packets_now` is the stream's
    /// packet count at its end.
    pub(super) fn close_window(&mut self, packets_now: u64, rules: &WindowRules) {
        let expected = self.ext_max().wrapping_sub(self.win.start_ext);
        let received = packets_now.saturating_sub(self.win.packets_start);
        if (rules.min_expected.max(1)..MAX_EXPECTED).contains(&expected) {
            let w = &mut self.win;
            let lost = expected.saturating_sub(received);
            let loss = pct(lost, expected);
            w.counted = w.counted.saturating_add(1);
            if w.loss_worst.is_none_or(|x| loss > x) {
                w.loss_worst = Some(loss);
            }
            for (i, t) in rules.targets.iter().enumerate() {
                let bad = Targets::rate_over(lost, expected, t.loss_pct)
                    || w.burst_bad.get(i).copied().unwrap_or(false);
                if bad {
                    if let Some(n) = w.poor_base.get_mut(i) {
                        *n = n.saturating_add(1);
                    }
                    continue;
                }
                for j in self.jit.iter_mut() {
                    // The window max in ms, under this candidate clock.
                    if j.win_max * 1000.0 / f64::from(j.clock) > t.jitter_ms {
                        if let Some(n) = j.poor_extra.get_mut(i) {
                            *n = n.saturating_add(1);
                        }
                    }
                }
            }
            for j in self.jit.iter_mut() {
                j.worst_win = j.worst_win.max(j.win_max);
            }
        }
        for j in self.jit.iter_mut() {
            j.win_max = 0.0;
        }
        self.win.burst_bad = [false; 2];
    }
}

#[cfg(test)]
mod test {
    use crate::media::quality::{QualityRules, Targets, WindowRules};
    use crate::media::test_support::{rtp, S2D};
    use crate::media::{MediaTracker, StreamStats};

    /// PCMU packets `(seq, arrival µs)`; the timestamp follows the sequence
    /// (160 ticks, 20 ms, a packet).
    fn feed(rules: WindowRules, plan: impl Iterator<Item = (u32, i64)>) -> StreamStats {
        let mut t = MediaTracker::with_window_rules(rules);
        for (seq, at) in plan {
            t.feed(S2D, at, &rtp(0, seq as u16, 160 * seq, 7));
        }
        t.streams().remove(0)
    }

    /// Sequence numbers sent 20 ms apart from 0, the ones not in `keep` lost.
    fn every_20ms(n: u32, keep: impl Fn(u32) -> bool) -> impl Iterator<Item = (u32, i64)> {
        (0..n)
            .filter(move |&i| keep(i))
            .map(|i| (i, i64::from(i) * 20_000))
    }

    fn builtin() -> WindowRules {
        QualityRules::builtin().unwrap().window_rules()
    }

    #[test]
    fn windows_are_cut_every_15_s_from_the_first_packet() {
        // 31 s of 20 ms packets: windows [0,15), [15,30), and a 1 s tail of
        // 50 packets, which just reaches the floor of 50 expected.
        let s = feed(builtin(), every_20ms(1550, |_| true));
        assert_eq!(s.windows, 3);
        // 49 packets in the tail: it expected fewer than 50, not counted.
        let s = feed(builtin(), every_20ms(1549, |_| true));
        assert_eq!(s.windows, 2);
        assert_eq!(s.loss_max_window_pct, Some(0.0));
        assert_eq!(s.windows_poor, [0, 0]);
        // A stream shorter than the floor has no window at all.
        let s = feed(builtin(), every_20ms(40, |_| true));
        assert_eq!((s.windows, s.loss_max_window_pct), (0, None));
        assert_eq!(s.jitter_max_window_ms, None);
        // The first packet anchors the windows, whatever its capture time.
        let s = feed(
            builtin(),
            every_20ms(1549, |_| true).map(|(q, t)| (q, t + 7_654_321)),
        );
        assert_eq!(s.windows, 2);
    }

    #[test]
    fn loss_lands_in_the_window_of_the_packet_that_reveals_it() {
        // Packet 750 arrives at exactly 15 s: it opens window 2, so the
        // first window holds packets 0..750. Losing 10 of them (1.33%) makes
        // that window poor for the client (750 packets show 1%); the
        // segment's 0.1% needs 1000 packets a window, so it is not judged
        // there. The second window is clean.
        let s = feed(builtin(), every_20ms(1500, |i| !(700..710).contains(&i)));
        assert_eq!(s.windows, 2);
        let want = 10.0 * 100.0 / 750.0;
        assert!((s.loss_max_window_pct.unwrap() - want).abs() < 1e-9);
        assert_eq!(s.windows_poor, [1, 0]);
        // The last 10 packets of window 1 lost: the loss is seen only when
        // packet 750 arrives, at 15 s, so it counts in window 2, which
        // expected 760 (740..1500) and received 750.
        let s = feed(builtin(), every_20ms(1500, |i| !(740..750).contains(&i)));
        let want = 10.0 * 100.0 / 760.0;
        assert!((s.loss_max_window_pct.unwrap() - want).abs() < 1e-9);
        assert_eq!(s.windows_poor, [1, 0]);
        // At 100 packets a second a window expects 1500: 0.1% is shown, and
        // 2 lost in one window (0.13%) is poor for the segment too.
        let mut t = MediaTracker::with_window_rules(builtin());
        for i in (0..3000u32).filter(|i| *i != 100 && *i != 900) {
            t.feed(S2D, i64::from(i) * 10_000, &rtp(0, i as u16, 80 * i, 7));
        }
        assert_eq!(t.streams()[0].windows_poor, [0, 1]);
    }

    #[test]
    fn a_silent_window_is_skipped_and_the_gap_is_not_loss() {
        // 10 s of packets, 40 s of silence (DTX: timestamps jump, sequence
        // does not), then 10 s more: windows [0,15) and [45,60), both clean.
        let mut t = MediaTracker::with_window_rules(builtin());
        for i in 0..1000u32 {
            let at = i64::from(i) * 20_000 + if i >= 500 { 40_000_000 } else { 0 };
            let ts = 160 * i + if i >= 500 { 320_000 } else { 0 };
            t.feed(S2D, at, &rtp(0, i as u16, ts, 7));
        }
        let s = &t.streams()[0];
        assert_eq!((s.windows, s.windows_poor), (2, [0, 0]));
        assert_eq!(s.loss_max_window_pct, Some(0.0));
    }

    #[test]
    fn one_late_packet_is_not_judged_per_window() {
        // 750 packets a window, packet 100 arriving after 101: 1/750 =
        // 0.13% reordered in its window. Reorder has no window in
        // Microsoft's text: it is judged over the stream, not here.
        let plan = every_20ms(1500, |_| true).map(|(q, t)| match q {
            100 => (101, t),
            101 => (100, t),
            _ => (q, t),
        });
        let s = feed(builtin(), plan);
        assert_eq!((s.reordered, s.windows), (1, 2));
        assert_eq!(s.windows_poor, [0, 0]);
        assert_eq!(s.loss_max_window_pct, Some(0.0));
    }

    #[test]
    fn burst_loss_is_judged_per_200_ms_inside_its_window() {
        // One packet lost in 30 s: its window's loss is 1/750 = 0.13%,
        // under the client's 1%, and 750 packets cannot show the segment's
        // 0.1%; its 200 ms bucket lost 1 of 10 = 10%, not above the
        // client's 10%, and 10 packets cannot show the segment's 1%.
        let s = feed(builtin(), every_20ms(1500, |i| i != 300));
        assert_eq!(s.windows_poor, [0, 0]);
        // Two lost in one bucket: 20% of 10, above the client's 10% burst
        // target, in the one window holding it.
        let s = feed(builtin(), every_20ms(1500, |i| i != 300 && i != 301));
        assert_eq!(s.windows_poor, [1, 0]);
        // Only a burst target of 20% (5 packets show it): 2 of 10 is not
        // above it, 3 of 10 is.
        let burst_only = Targets {
            burst_loss_pct: 20.0,
            ..Targets::NONE
        };
        let r = WindowRules {
            min_expected: 50,
            targets: [Targets::NONE, burst_only],
        };
        let s = feed(r, every_20ms(1500, |i| i != 300 && i != 301));
        assert_eq!(s.windows_poor, [0, 0]);
        let s = feed(r, every_20ms(1500, |i| !(300..303).contains(&i)));
        assert_eq!(s.windows_poor, [0, 1]);
    }

    #[test]
    fn window_jitter_is_the_largest_running_estimate_inside_it() {
        // Window 1 clean; in window 2 every odd packet is 20 ms late (it
        // arrives with the next one): |D| = 20 ms per packet, J climbs
        // towards 20 ms, above the segment's 15 ms, under the client's 30.
        let plan = every_20ms(1500, |_| true).map(|(q, t)| {
            (
                q,
                if q >= 750 && q % 2 == 1 {
                    t + 20_000
                } else {
                    t
                },
            )
        });
        let s = feed(builtin(), plan);
        let j = s.jitter_max_window_ms.unwrap();
        assert!(j > 19.9 && j <= 20.0, "{j}");
        assert_eq!(s.windows_poor, [0, 1]);
        assert_eq!(s.loss_max_window_pct, Some(0.0));
    }
}
