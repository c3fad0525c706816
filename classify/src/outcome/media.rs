//! The media part of a flow's outcome: the flow-level media columns of its
//! main streams and quality verdict, and its rows of the `streams` table,
//! from what the tracker measured.
//!
//! Only header-derived figures are here: no payload byte ever reaches a
//! column.

use super::leg::Leg;
use crate::media::{MediaTracker, Quality, QualityProfile, QualityRules, RtpMap, StreamStats};
use crate::Side;
use std::sync::Arc;

/// One direction's figures for a flow's main stream (its most packets).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DirMedia {
    /// expected - received, clamped at 0.
    pub packets_lost: i64,
    /// Loss in percent (0-100) of expected.
    pub loss_pct: f64,
    /// Mean running jitter, ms (None without a known clock).
    pub jitter_mean_ms: Option<f64>,
    /// Largest running jitter, ms.
    pub jitter_max_ms: Option<f64>,
    /// Out-of-order packets.
    pub reordered: i64,
    /// Duplicated packets.
    pub duplicates: i64,
}

impl DirMedia {
    /// The columns' view of one stream.
    pub fn from_stats(s: &StreamStats) -> Self {
        DirMedia {
            packets_lost: s.lost.max(0),
            loss_pct: s.loss_pct(),
            jitter_mean_ms: s.jitter_mean_ms,
            jitter_max_ms: s.jitter_max_ms,
            reordered: i64::try_from(s.reordered).unwrap_or(i64::MAX),
            duplicates: i64::try_from(s.duplicates).unwrap_or(i64::MAX),
        }
    }
}

/// Every flow-level media column; `Default` is a non-media flow (every column null).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaFields {
    /// Whether the flow is media with a tracker (the other fields mean something).
    pub is_media: bool,
    /// Streams with at least one RTP packet; None for a non-media flow.
    pub rtp_ssrc_count: Option<i32>,
    /// Payload type of the flow's largest stream; None without RTP.
    pub rtp_payload_type: Option<i16>,
    /// Codec of that payload type: the static table's or the SDP's.
    pub codec: Option<Arc<str>>,
    /// Main stream initiator to responder.
    pub src2dst: Option<DirMedia>,
    /// Main stream responder to initiator.
    pub dst2src: Option<DirMedia>,
    /// Mean RTCP round trip at the tap, ms.
    pub rtcp_rtt_ms: Option<f64>,
    /// Mean RTCP fraction lost over the streams' latest reports: a 0-1
    /// fraction as RFC 3550 carries it, not a percentage.
    pub rtcp_fraction_lost: Option<f64>,
    /// `good` / `poor`, None when unjudged.
    pub media_quality: Option<Quality>,
    /// RTP packets of SSRCs beyond the per-flow stream cap; None for a non-media flow.
    pub rtp_overflow_packets: Option<i64>,
    /// The flow's rows of the `streams` table (the writer moves them there).
    pub streams: Vec<StreamRecord>,
}

impl MediaFields {
    /// The media columns and stream rows of a media flow's record, each
    /// stream judged by the table `leg` gives its direction; `sdp` binds
    /// dynamic payload types (see [`MediaTracker::streams_with`]).
    pub fn from_tracker(
        flow_id: i64,
        t: &MediaTracker,
        rules: &QualityRules,
        sdp: &dyn Fn(Side, u8) -> Option<RtpMap>,
        leg: &dyn Fn(Side) -> Leg,
    ) -> Self {
        let stats = t.streams_with(sdp);
        let streams: Vec<StreamRecord> = stats
            .into_iter()
            .map(|s| StreamRecord {
                flow_id,
                quality: None,
                cqd_quality: None,
                leg: None,
                stats: s,
            })
            .collect();
        let rtp = || streams.iter().map(|r| &r.stats).filter(|s| s.packets > 0);
        // The main stream of a direction is its largest; the first seen wins a tie.
        let main = |side: Option<Side>| {
            rtp().filter(|s| side.is_none_or(|d| s.side == d)).fold(
                None::<&StreamStats>,
                |best, s| match best {
                    Some(b) if b.packets >= s.packets => Some(b),
                    _ => Some(s),
                },
            )
        };
        let top = main(None);
        let mean = |v: Vec<f64>| {
            #[allow(clippy::cast_precision_loss)]
            let n = v.len() as f64;
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / n)
        };
        let rtcp = || streams.iter().filter_map(|r| r.stats.rtcp);
        let rtt = mean(rtcp().filter_map(|r| r.rtt_ms).collect());
        let fraction = mean(rtcp().map(|r| r.fraction_lost).collect());

        let mut fields = MediaFields {
            is_media: true,
            rtp_ssrc_count: Some(i32::try_from(rtp().count()).unwrap_or(i32::MAX)),
            rtp_payload_type: top.map(|s| i16::from(s.payload_type)),
            codec: top.and_then(|s| s.codec.clone()),
            src2dst: main(Some(Side::Src2Dst)).map(DirMedia::from_stats),
            dst2src: main(Some(Side::Dst2Src)).map(DirMedia::from_stats),
            rtcp_rtt_ms: rtt,
            rtcp_fraction_lost: fraction,
            media_quality: None,
            rtp_overflow_packets: Some(i64::try_from(t.overflow_packets).unwrap_or(i64::MAX)),
            streams: Vec::new(),
        };
        fields.streams = streams;
        fields.judge(rules, leg);
        // Streams known only from reports that the RTP flow also received are
        // that flow's rows; this flow keeps its round trip and fraction lost.
        fields.streams.retain(|r| !r.stats.reported_elsewhere);
        fields
    }

    /// Judges each stream by the table of its leg (and CQD's rule), and the
    /// flow from them; again when the flow's path was decided later.
    pub fn judge(&mut self, rules: &QualityRules, leg: &dyn Fn(Side) -> Leg) {
        for r in &mut self.streams {
            let l = leg(r.stats.side);
            r.quality = rules.judge_stream(&r.stats, l.profile);
            r.cqd_quality = rules.judge_cqd(&r.stats);
            r.leg = (r.stats.packets > 0).then_some(l);
        }
        let judged: Vec<Option<Quality>> = self.streams.iter().map(|r| r.quality).collect();
        self.media_quality = rules.judge_flow(&judged);
    }
}

/// One row of the `streams` table.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRecord {
    /// The flow the stream belongs to (joins `flows.flow_id`).
    pub flow_id: i64,
    /// The stream's figures.
    pub stats: StreamStats,
    /// `good` / `poor` for this stream by Microsoft's targets, None when unjudged.
    pub quality: Option<Quality>,
    /// `good` / `poor` by CQD's poor-audio rule (its wire part), None when unjudged.
    pub cqd_quality: Option<Quality>,
    /// The table it was judged by and the segment it crossed; None for a
    /// stream without RTP.
    pub leg: Option<Leg>,
}

impl StreamRecord {
    /// The table `quality` was judged by.
    pub fn profile(&self) -> Option<QualityProfile> {
        self.leg.map(|l| l.profile)
    }

    /// `src2dst` or `dst2src`.
    pub fn direction(&self) -> &'static str {
        match self.stats.side {
            Side::Src2Dst => "src2dst",
            Side::Dst2Src => "dst2src",
        }
    }
}
