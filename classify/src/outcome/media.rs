//! The media part of a flow's outcome: the flow-level media columns of its
//! main streams and quality verdict, and its rows of the `streams` table,
//! from what the tracker measured.
//!
//! Only header-derived figures are here: no payload byte ever reaches a
//! column.

use super::leg::Leg;
use crate::dissect::rtp::rfc4571_first;
use crate::dissect::stun::ms_turn_frames;
use crate::dissect::turn;
use crate::media::{MediaTracker, Quality, QualityProfile, QualityRules, RtpMap, StreamStats};
use crate::{AppProtocol, FlowClassifier, Side, Transport};
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

/// The RTP/RTCP bytes a transport payload carries, through its framing: over
/// UDP plain or inside TURN ChannelData or a Send/Data indication; over TCP
/// the first MS-TURN data frame, TURN message or RFC 4571 frame of the
/// segment (no reassembly, as nDPI). None when a TCP segment has none of
/// these framings or the transport carries no media.
pub fn media_bytes(transport: Transport, payload: &[u8]) -> Option<&[u8]> {
    media_packets(transport, payload).next()
}

/// Every RTP/RTCP packet a transport payload carries whole: over UDP the one
/// [`media_bytes`] gives; over TCP each complete MS-TURN data frame (type 3)
/// of the segment, else the data of each complete TURN Send/Data indication
/// and ChannelData message (TURN over TCP, whose first message is whole),
/// else each complete RFC 4571 frame that starts like RTP or RTCP (version
/// 2), up to the first that does not. A frame the segment cuts is left out
/// (no reassembly).
pub fn media_packets(transport: Transport, payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    let udp = (transport == Transport::Udp).then(|| MediaTracker::unwrap_udp(payload));
    let tcp = transport == Transport::Tcp;
    let ms = tcp
        && ms_turn_frames(payload)
            .next()
            .is_some_and(|f| f.kind == 3 && f.whole);
    let ms_frames = ms_turn_frames(if ms { payload } else { &[] })
        .filter(|f| f.kind == 3 && f.whole)
        .map(|f| f.body);
    // A TURN walk starts with a whole STUN message (cookie in bytes 4-7) or
    // a whole ChannelData (first byte 0x40-0x7F): an RFC 4571 frame of RTP
    // is neither unless it is 16 KiB or more or its sequence number and
    // timestamp spell the cookie.
    let turn = tcp && !ms && turn::tcp_messages(payload).next().is_some();
    let relayed = turn::tcp_messages(if turn { payload } else { &[] }).flatten();
    let mut rest = if tcp && !ms && !turn { payload } else { &[] };
    let rfc4571 = std::iter::from_fn(move || {
        let pkt = rfc4571_first(rest).filter(|p| MediaTracker::looks_like_rtp(p))?;
        rest = rest.get(pkt.len() + 2..).unwrap_or(&[]);
        Some(pkt)
    });
    udp.into_iter()
        .chain(ms_frames)
        .chain(relayed)
        .chain(rfc4571)
}

/// RTCP on port + 1 of an RTP flow: the RTCP bytes of a datagram worth
/// handing to the RTP flow one port below, so its reports land on the
/// streams they describe. Only from an RTCP-only flow: muxed RTCP on odd
/// ports stays on its own flow.
pub fn rtcp_to_forward<'a>(own: Option<&MediaTracker>, payload: &'a [u8]) -> Option<&'a [u8]> {
    let bytes = MediaTracker::unwrap_udp(payload);
    (MediaTracker::looks_like_rtcp(bytes) && own.is_some_and(|m| m.rtp_packets == 0))
        .then_some(bytes)
}

/// The tracker of a flow that may take RTCP forwarded from port + 1: one
/// already decided as media with RTP tracked (an undecided flow may end as
/// anything, and write no streams).
pub fn takes_forwarded_rtcp<'a>(
    c: &FlowClassifier,
    m: Option<&'a mut MediaTracker>,
) -> Option<&'a mut MediaTracker> {
    if c.wants_more() || !c.payload_label().is_some_and(AppProtocol::carries_media) {
        return None;
    }
    m.filter(|m| m.rtp_packets > 0)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::dissect::hex;
    use crate::dissect::turn::test::*;

    fn lens(t: Transport, p: &[u8]) -> Vec<(usize, u8)> {
        media_packets(t, p).map(|m| (m.len(), m[0])).collect()
    }

    #[test]
    fn turn_indications_are_unwrapped_over_udp_and_tcp() {
        // Over UDP: the DATA of a Data indication, ChannelData's data, or
        // the datagram itself.
        assert_eq!(lens(Transport::Udp, &hex(UDP_DATA_IND)), [(22, 0x80)]);
        assert_eq!(lens(Transport::Udp, &hex(UDP_SEND_IND)), [(50, 0x80)]);
        assert_eq!(lens(Transport::Udp, &hex(CHANNEL_SRTCP)), [(22, 0x80)]);
        assert_eq!(lens(Transport::Udp, &hex(TCP_BINDING)), [(28, 0)]);
        // Over TCP, one real indication a segment as the corpus has them,
        // then a segment of several messages, a Binding response among them.
        assert_eq!(lens(Transport::Tcp, &hex(TCP_DATA_RTP)), [(285, 0xb0)]);
        let mut seg = hex(TCP_BINDING);
        seg.extend(hex(TCP_SEND_RTCP));
        seg.extend(hex(TCP_DATA_RTP));
        assert_eq!(lens(Transport::Tcp, &seg), [(42, 0xaf), (285, 0xb0)]);
        // The same packet in an RFC 4571 frame is still read as one.
        let rtp = turn::indication_data(&hex(TCP_DATA_RTP)).unwrap().to_vec();
        let mut framed = u16::try_from(rtp.len()).unwrap().to_be_bytes().to_vec();
        framed.extend(&rtp);
        assert_eq!(lens(Transport::Tcp, &framed), [(285, 0xb0)]);
        // A first message the segment cuts is no TURN walk (and its bytes
        // no RFC 4571 frame either).
        let cut = hex(TCP_DATA_RTP);
        assert_eq!(lens(Transport::Tcp, &cut[..100]), []);
    }
}
