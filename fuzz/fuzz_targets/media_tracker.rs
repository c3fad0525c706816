//! The per-flow media tracker over arbitrary packet sequences: hostile RTP
//! and RTCP never grow it past its stream cap, and its figures stay sane.
//!
//! Input: chunks of (flags: bit 0 = direction, bit 1 = unwrap as a UDP
//! payload; 2-byte arrival step in 10 µs; 1-byte length; that many bytes).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::media::{MediaTracker, MAX_STREAMS};
use pathlens_classify::Side;

fuzz_target!(|data: &[u8]| {
    let mut t = MediaTracker::new();
    let mut now: i64 = 1_700_000_000_000_000;
    let mut rest = data;
    let mut fed = 0u64;
    while let [flags, hi, lo, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (pkt, next) = tail.split_at(n);
        rest = next;
        now += i64::from(u16::from_be_bytes([*hi, *lo])) * 10;
        let side = if flags & 1 == 0 { Side::Src2Dst } else { Side::Dst2Src };
        let bytes = if flags & 2 != 0 { MediaTracker::unwrap_udp(pkt) } else { pkt };
        t.feed(side, now, bytes);
        fed += 1;
    }
    assert!(t.stream_count() <= MAX_STREAMS);
    assert!(t.rtp_packets + t.rtcp_packets <= fed);
    assert!(t.overflow_packets <= t.rtp_packets);
    for s in t.streams() {
        // A stream known only from RTCP reports about it has no RTP packets.
        assert!(s.packets <= t.rtp_packets);
        assert!(s.packets >= 1 || s.rtcp.is_some(), "{s:?}");
        assert!(s.first_us <= s.last_us);
        assert!(s.longest_gap_us >= 0);
        assert!(s.loss_pct().is_finite());
        for j in [s.jitter_mean_ms, s.jitter_max_ms, s.burst_loss_max_pct].into_iter().flatten() {
            assert!(j.is_finite() && j >= 0.0, "{s:?}");
        }
    }
});
