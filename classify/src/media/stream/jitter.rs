//! A stream's RTP clock and its RFC 3550 §6.4.1 interarrival jitter.
//!
//! A static payload type has its clock from the table; a dynamic one has its
//! jitter computed under every candidate clock from the first packet, and
//! the clock chosen when the record is written (see `CLOCKS`).

use super::Stream;
use crate::dissect::rtp::RtpHeader;
use crate::media::ClockSource;

/// Arrival span the clock estimate waits for.
const ESTIMATE_SPAN_US: i64 = 1_000_000;
/// Clock rates a dynamic payload type may have. Its jitter is computed for
/// each of them from the first packet, and the rate is chosen when the record
/// is written (SDP, else the estimate, which snaps to one of them): the SDP
/// may be read by another worker after the media started, and the rows must
/// not depend on that. These cover the rtpmaps of SfB/Teams (SILK, SATIN,
/// RTAudio, G.722, Opus, H.264, RTVideo) and common SIP trunks.
const CLOCKS: [u32; 7] = [8000, 12000, 16000, 24000, 32000, 48000, 90000];

/// RFC 3550 §6.4.1 jitter of a stream under one clock rate.
#[derive(Clone, Copy, Debug)]
pub(super) struct Jitter {
    /// The clock rate, Hz.
    pub(super) clock: u32,
    running: f64,
    /// tshark's running mean of J over regular packets.
    pub(super) mean: f64,
    /// Largest J over regular packets.
    pub(super) max: f64,
    /// Largest J over regular packets of the open 15 s window.
    pub(super) win_max: f64,
    /// Largest `win_max` of a counted window.
    pub(super) worst_win: f64,
    /// Counted windows poor on jitter alone under this clock, per profile.
    pub(super) poor_extra: [u32; 2],
}

impl Jitter {
    fn new(clock: u32) -> Self {
        Jitter {
            clock,
            running: 0.0,
            mean: 0.0,
            max: 0.0,
            win_max: 0.0,
            worst_win: 0.0,
            poor_extra: [0; 2],
        }
    }

    /// The jitter states of a new stream: one for a known clock, else one
    /// per candidate clock.
    pub(super) fn candidates(clock: Option<u32>) -> Box<[Jitter]> {
        match clock {
            Some(c) => Box::new([Jitter::new(c)]),
            None => CLOCKS.iter().map(|&c| Jitter::new(c)).collect(),
        }
    }
}

impl Stream {
    /// Estimates a dynamic payload type's clock from its own packets.
    pub(super) fn update_clock(&mut self, arrival_us: i64, ts: u32) {
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
    pub(super) fn update_jitter(&mut self, arrival_us: i64, h: &RtpHeader) {
        // A signed delta, so a wrap or a step back never becomes a 2^32 jump.
        let step = i64::from(h.ts.wrapping_sub(self.last_ts) as i32);
        self.last_ts = h.ts;
        let cn = matches!(h.pt, 13 | 19);
        let after_cn = std::mem::replace(&mut self.last_cn, cn);
        let regular = !h.marker && step >= 0 && !cn && !after_cn;
        let Some(prev_us) = self.prev_arrival_us.replace(arrival_us) else {
            return;
        };
        // Packets received before this one since the jitter (re)started, as
        // tshark's total_nr.
        let k = self
            .packets
            .saturating_sub(self.jit_base)
            .saturating_sub(1)
            .max(1) as f64;
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
                j.win_max = j.win_max.max(j.running);
            }
        }
        if regular {
            self.jitter_n += 1;
        }
    }
}

#[cfg(test)]
mod test {
    use crate::media::test_support::{rtp, S2D};
    use crate::media::{ClockSource, MediaTracker, RtpMap};
    use crate::vocab::Side;
    use std::sync::Arc;

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

    /// A clean PCMU call (packets exactly 20 ms apart, timestamps exactly
    /// 160 apart) that carries, on its one SSRC and sequence: comfort noise
    /// (PT 13) before a 220 ms silence, a DTMF digit as RFC 4733 §2.5 sends
    /// it (PT 101, every packet with the event's start timestamp, the first
    /// with the marker, the end packet three times), and with `switch` then
    /// a switch to a 48 kHz dynamic type (96) for good. Nothing was late: the
    /// jitter is 0, no packet is lost, the stream is one stream.
    fn fax_like_call(switch: bool) -> MediaTracker {
        // (payload type, timestamp, marker, extra gap before it in µs)
        let mut plan: Vec<(u8, u32, bool, i64)> =
            (0..40u32).map(|i| (0, 160 * i, false, 0)).collect();
        plan.push((13, 160 * 40, false, 0));
        plan.extend((51..60u32).map(|i| (0, 160 * i, i == 51, if i == 51 { 200_000 } else { 0 })));
        plan.extend((0..9).map(|k| (101, 160 * 60, k == 0, 0)));
        plan.extend((69..100u32).map(|i| (0, 160 * i, false, 0)));
        if switch {
            plan.extend((0..120u32).map(|k| (96, 0x1000_0000 + 960 * k, false, 0)));
        } else {
            // The call ends in silence: the last packet is CN.
            plan.push((13, 160 * 100, false, 0));
        }
        let mut t = MediaTracker::new();
        let mut at = 0i64;
        for (seq, (pt, ts, marker, gap)) in plan.into_iter().enumerate() {
            at += gap;
            let mut p = rtp(pt, seq as u16, ts, 0xFA);
            if marker {
                p[1] |= 0x80;
            }
            t.feed(S2D, at, &p);
            at += 20_000;
        }
        t
    }

    #[test]
    fn payload_type_changes_follow_rfc_3550_and_4733() {
        let opus = |_: Side, pt: u8| {
            (pt == 96).then(|| RtpMap {
                pt,
                codec: Arc::from("opus"),
                clock_rate: 48000,
            })
        };
        let v = fax_like_call(true).streams_with(&opus);
        assert_eq!(v.len(), 1, "a payload type change is no new stream");
        let s = &v[0];
        assert_eq!((s.packets, s.lost, s.restarts), (210, 0, 0));
        assert_eq!(
            (s.payload_type, s.codec.as_deref(), s.clock_rate),
            (96, Some("opus"), Some(48000)),
            "the main payload type names the codec; the jitter restarted on the new clock"
        );
        assert_eq!((s.jitter_mean_ms, s.jitter_max_ms), (Some(0.0), Some(0.0)));
        // Before the switch, the same: the event and the CN moved nothing,
        // and the codec is the main type's, not the latest packet's.
        let b = &fax_like_call(false).streams()[0];
        assert_eq!((b.packets, b.lost), (91, 0));
        assert_eq!((b.payload_type, b.codec.as_deref()), (0, Some("PCMU")));
        assert_eq!((b.jitter_mean_ms, b.jitter_max_ms), (Some(0.0), Some(0.0)));
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
}
