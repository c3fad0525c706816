//! Media quality of one flow, from RTP and RTCP headers only.
//!
//! A worker keeps one [`MediaTracker`] per candidate media flow and feeds it
//! `(side, arrival_us, bytes)` for every packet; the tracker reads the RTP
//! fixed header (or an RTCP compound in clear) and never the payload, so it
//! works on SRTP. Per stream (direction and SSRC) it keeps RFC 3550 A.1
//! sequence state (wrap-around, restart after a large jump, probation),
//! duplicates and reordering in a 128-packet window, RFC 3550 §6.4.1
//! interarrival jitter with signed 64-bit transit arithmetic, the longest
//! gap, the worst loss over 200 ms windows, and loss, reorder, burst loss
//! and jitter per 15 s window judged against both target profiles as each
//! window closes (only the open window is kept). RTCP SR/RR report blocks are
//! matched to the stream they report on, and an SR paired with a later block
//! echoing its LSR gives a round-trip time at the tap.
//!
//! Memory is bounded: at most [`MAX_STREAMS`] streams per flow; packets of
//! further SSRCs are counted in [`MediaTracker::overflow_packets`] and
//! dropped. Nothing allocates per packet: the stream vector is reserved once.
//!
//! Layout: `stream` holds the per-stream RFC 3550 arithmetic (its `jitter`
//! part the clocks and interarrival jitter), `tracker` the per-flow state
//! that routes RTP and RTCP to streams, `quality` the targets a stream is
//! judged by; this module the figures they hand out.

mod quality;
mod stream;
mod tracker;

pub use quality::{
    min_sample, CqdAudioPoor, Quality, QualityProfile, QualityRules, Targets, WindowRules,
    DEFAULT_MEDIA_TOML,
};
pub use tracker::MediaTracker;

use crate::dissect::rtp;
use crate::vocab::Side;
use std::sync::Arc;

/// Streams kept per flow; more SSRCs are counted, not stored.
pub const MAX_STREAMS: usize = 16;

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
    /// The main payload type: the one with the most packets (comfort noise
    /// only when alone).
    pub payload_type: u8,
    /// Codec name of the main payload type: the static table's, or the
    /// SDP's for a dynamic type.
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
    /// 15 s windows counted (those expecting at least `min_packets`).
    pub windows: u32,
    /// Counted windows above a target, per profile ([`QualityProfile::index`]).
    pub windows_poor: [u32; 2],
    /// Worst loss of a counted window, percent.
    pub loss_max_window_pct: Option<f64>,
    /// Largest running jitter in a counted window, ms.
    pub jitter_max_window_ms: Option<f64>,
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

#[cfg(test)]
mod test_support {
    use super::*;

    pub(super) const S2D: Side = Side::Src2Dst;

    pub(super) fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut v = vec![0x80, pt];
        v.extend(seq.to_be_bytes());
        v.extend(ts.to_be_bytes());
        v.extend(ssrc.to_be_bytes());
        v.extend([0u8; 20]);
        v
    }

    /// Feeds `seqs` of one PCMU stream, 20 ms apart, timestamps following
    /// the sequence (160 per packet).
    pub(super) fn run(seqs: &[u16]) -> StreamStats {
        let mut t = MediaTracker::new();
        for (i, &s) in seqs.iter().enumerate() {
            let ts = u32::from(s).wrapping_mul(160);
            t.feed(S2D, i as i64 * 20_000, &rtp(0, s, ts, 42));
        }
        let v = t.streams();
        assert_eq!(v.len(), 1);
        v.into_iter().next().unwrap()
    }

    pub(super) fn rr(
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
}
