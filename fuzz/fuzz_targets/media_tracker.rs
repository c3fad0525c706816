//! The per-flow media tracker over arbitrary packet sequences: hostile RTP
//! and RTCP never grow it past its stream cap, and its figures stay sane,
//! with or without an SDP binding (any clock rate) for dynamic types.
//!
//! Input: chunks of (flags: bit 0 = direction, bit 1 = unwrap as a UDP
//! payload; 2-byte arrival step in 10 µs; 1-byte length; that many bytes).
//! The first four bytes of the input are the SDP clock rate the binding
//! gives (0: no binding).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::media::{MediaTracker, RtpMap, MAX_STREAMS};
use pathlens_classify::Side;

fuzz_target!(|data: &[u8]| {
    let mut t = MediaTracker::new();
    let mut now: i64 = 1_700_000_000_000_000;
    let Some((clock, mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let clock = u32::from_be_bytes(*clock);
    let mut fed = 0u64;
    while let [flags, hi, lo, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (pkt, next) = tail.split_at(n);
        rest = next;
        now += i64::from(u16::from_be_bytes([*hi, *lo])) * 10;
        let side = if flags & 1 == 0 {
            Side::Src2Dst
        } else {
            Side::Dst2Src
        };
        let bytes = if flags & 2 != 0 {
            MediaTracker::unwrap_udp(pkt)
        } else {
            pkt
        };
        t.feed(side, now, bytes);
        fed += 1;
    }
    assert!(t.stream_count() <= MAX_STREAMS);
    assert!(t.rtp_packets + t.rtcp_packets <= fed);
    assert!(t.overflow_packets <= t.rtp_packets);
    let sdp = |_: Side, pt: u8| {
        (clock != 0).then(|| RtpMap {
            pt,
            codec: "X".into(),
            clock_rate: clock,
        })
    };
    let bound = t.streams_with(&sdp);
    assert_eq!(bound.len(), t.stream_count());
    for s in t.streams().into_iter().chain(bound) {
        // A stream known only from RTCP reports about it has no RTP packets.
        assert!(s.packets <= t.rtp_packets);
        assert!(s.packets >= 1 || s.rtcp.is_some(), "{s:?}");
        assert!(s.first_us <= s.last_us);
        assert!(s.longest_gap_us >= 0);
        assert!(s.loss_pct().is_finite());
        let rtcp_jitter = s.rtcp.and_then(|r| r.jitter_ms);
        for j in [
            s.jitter_mean_ms,
            s.jitter_max_ms,
            s.burst_loss_max_pct,
            rtcp_jitter,
        ]
        .into_iter()
        .flatten()
        {
            assert!(j.is_finite() && j >= 0.0, "{s:?}");
        }
    }
});
