//! The `streams` table: one row per RTP stream (SSRC and direction) of a
//! media flow, keyed by `flow_id`. Its columns are declared here, once; the
//! schema, the builders and `SCHEMA.md`'s table come from [`STREAM_COLUMNS`].
//!
//! Only header-derived figures are here: no payload byte ever reaches a
//! column. A stream known only from RTCP has no RTP fields of its own, so
//! those columns are null for it.

use crate::column::{i64c, schema_of, Column, Row, Value::*};
use crate::StreamRecord;
use arrow::datatypes::SchemaRef;
use pathlens_classify::media::{ClockSource, Quality, QualityProfile};
use std::sync::OnceLock;

type C = Column<StreamRecord>;

/// Whether the stream had RTP packets (else it is known from RTCP only).
fn rtp(r: &StreamRecord) -> bool {
    r.stats.packets > 0
}

/// Every column of the `streams` table, in file order.
pub static STREAM_COLUMNS: &[Column<StreamRecord>] = &[
    C::new("flow_id", I64(|r| r.flow_id), "the flow row the stream belongs to"),
    C::new("run_id", Setting(|o| &o.run_id), "as in the flows table"),
    C::new("direction", Label(|r| r.direction()), "`src2dst` or `dst2src`, relative to the flow's `src`"),
    C::new("ssrc", I64(|r| i64::from(r.stats.ssrc)), "synchronisation source (0 to 2^32-1)"),
    C::new("payload_type", OptI16(|r| rtp(r).then_some(i16::from(r.stats.payload_type))), "the stream's main payload type: the one with the most packets (comfort noise only when alone), so RFC 4733 events and CN interleaved in a call do not name it"),
    C::new("codec", OptDict(|r| r.stats.codec.as_deref().filter(|_| rtp(r))), "encoding name of `payload_type`: static table, else SDP `a=rtpmap`"),
    C::new("clock_rate", OptI32(|r| r.stats.clock_rate.and_then(|c| i32::try_from(c).ok())), "RTP clock in Hz"),
    C::new("clock_source", OptLabel(|r| r.stats.clock_source.map(ClockSource::as_str)), "`static` (RFC 3551 table); `sdp` (the `a=rtpmap` of the latest SDP, learned by any worker at or before the flow's last packet and within an hour before its first, that announced the address the stream goes to, else the one it comes from); `estimated` (Δtimestamp/Δarrival over about a second snapped to 8, 12, 16, 24, 32, 48 or 90 kHz). A dynamic type's jitter is computed under each of those rates from the first packet and the one chosen is reported; an SDP rate outside them gives `clock_rate` without jitter"),
    C::new("packets", I64(|r| i64c(r.stats.packets)), "RTP packets received, duplicates included"),
    C::new("expected", I64(|r| i64c(r.stats.expected)), "RFC 3550 A.3 expected packets, summed over restarts"),
    C::new("lost", I64(|r| r.stats.lost), "expected - packets (negative when duplicates outnumber losses)"),
    C::new("loss_pct", F64(|r| r.stats.loss_pct()), "lost (clamped at 0) as a percentage (0-100) of expected"),
    C::new("duplicates", I64(|r| i64c(r.stats.duplicates)), "packets whose sequence number was already seen in the last 128"),
    C::new("reordered", I64(|r| i64c(r.stats.reordered)), "packets older than the newest seen that were not duplicates"),
    C::new("restarts", I32(|r| i32::try_from(r.stats.restarts).unwrap_or(i32::MAX)), "sequence restarts (a jump of 3000 or more confirmed by the next packet)"),
    C::new("valid", Bool(|r| r.stats.valid), "the source passed RFC 3550 probation (2 in-order packets)"),
    C::new("jitter_mean_ms", OptF64(|r| r.stats.jitter_mean_ms), "as `src2dst_jitter_mean_ms` in the flows table"),
    C::new("jitter_max_ms", OptF64(|r| r.stats.jitter_max_ms), "as `src2dst_jitter_max_ms` in the flows table"),
    C::new("longest_gap_ms", F64(|r| r.stats.longest_gap_us as f64 / 1000.0), "longest arrival gap between consecutive packets"),
    C::new("burst_loss_max_pct", OptF64(|r| r.stats.burst_loss_max_pct), "worst loss over 200 ms windows of arrival time (windows expecting at least 5 packets)"),
    C::new("first_seq", OptI32(|r| rtp(r).then_some(i32::from(r.stats.first_seq))), "first sequence number"),
    C::new("last_seq", OptI32(|r| rtp(r).then_some(i32::from(r.stats.last_seq))), "the highest sequence number"),
    C::new("first_seen", Time(|r| r.stats.first_us), "first packet"),
    C::new("last_seen", Time(|r| r.stats.last_us), "last packet"),
    C::new("rtcp_reports", I64(|r| i64c(r.stats.rtcp.as_ref().map_or(0, |c| c.reports))), "RTCP report blocks about this stream"),
    C::new("rtcp_fraction_lost", OptF64(|r| r.stats.rtcp.as_ref().map(|c| c.fraction_lost)), "latest block's fraction lost, a 0-1 fraction as RFC 3550 carries it (not a percentage)"),
    C::new("rtcp_cumulative_lost", OptI64(|r| r.stats.rtcp.as_ref().map(|c| c.cumulative_lost)), "latest block's cumulative lost"),
    C::new("rtcp_jitter_ms", OptF64(|r| r.stats.rtcp.as_ref().and_then(|c| c.jitter_ms)), "latest block's jitter converted with the stream's clock"),
    C::new("rtcp_rtt_ms", OptF64(|r| r.stats.rtcp.as_ref().and_then(|c| c.rtt_ms)), "mean round trip from SR/RR pairs about this stream"),
    C::new("quality", OptLabel(|r| r.quality.map(Quality::as_str)), "`good` / `poor` for this stream by Microsoft's targets, the table in `quality_profile` (signatures/media.toml, docs/verdicts.md): poor when a counted 15 s window is poor (loss, 200 ms burst, largest jitter), or over the stream its loss or reorder (each only on a sample of at least 100 / target packets) or its mean or largest jitter is above the table's target; null under 50 packets"),
    C::new("cqd_quality", OptLabel(|r| r.cqd_quality.map(Quality::as_str)), "`good` / `poor` by Call Quality Dashboard's poor-audio rule restricted to what the wire shows: loss over the stream above 10%, mean jitter above 30 ms or RTCP round trip above 500 ms (MOS degradation and concealment are not visible); null under 50 packets"),
    C::new("windows", OptI32(|r| rtp(r).then(|| i32::try_from(r.stats.windows).unwrap_or(i32::MAX))), "15 s windows of arrival time, cut from the stream's first packet, that expected at least `min_packets` (50) packets; a shorter tail window or one mostly of silence is not counted"),
    C::new("windows_poor", OptI32(|r| r.profile().and_then(|p| r.stats.windows_poor.get(p.index())).map(|&n| i32::try_from(n).unwrap_or(i32::MAX))), "counted windows above a target of `quality_profile`: loss (when the window expected at least 100 / target packets), a 200 ms burst (when the bucket expected at least 100 / target) or the largest running jitter"),
    C::new("loss_max_window_pct", OptF64(|r| r.stats.loss_max_window_pct.filter(|_| rtp(r))), "worst loss of a counted window, percent of the packets it expected (a loss counts in the window of the packet that reveals it)"),
    C::new("jitter_max_window_ms", OptF64(|r| r.stats.jitter_max_window_ms), "largest RFC 3550 running jitter inside a counted window (the max over its regular packets, not the value at its end); null without a known clock"),
    C::new("quality_profile", OptLabel(|r| r.profile().map(QualityProfile::as_str)), "the table `quality` is judged by: `customer_edge_segment` (customer network edge to Microsoft edge) for a stream arriving from outside the site when the site config sets `sensor_position = \"customer_edge\"`, whatever its path; else `client` (client to Microsoft edge); null for a stream without RTP"),
    C::new("quality_segment", OptLabel(|r| r.leg.map(|l| l.segment)), "what the stream crossed before the tap: `lan` (the inside network only: a stream leaving the site, or between two local ends), `internet` / `expressroute` / `unknown` (the segment beyond the customer edge, by the flow's observed path, else its predicted `egress`) for a stream arriving at a customer-edge sensor, `internet+lan`... at a sensor inside; null for a stream without RTP"),
];

impl Row for StreamRecord {
    fn columns() -> &'static [Column<StreamRecord>] {
        STREAM_COLUMNS
    }
}

/// The `streams` table schema, built once.
pub fn streams_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(|| schema_of(STREAM_COLUMNS)).clone()
}
