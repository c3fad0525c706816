//! The flow-level media columns (schema.md §3), appended to the flows table
//! after `service`, and the `streams` table: one row per RTP stream (SSRC and
//! direction) keyed by `flow_id`.
//!
//! Non-media flows carry -1 in the integer columns and null in the others,
//! as the schema says. Only header-derived figures are here: no payload byte
//! ever reaches a column.

use crate::writer::WriterOptions;
use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use pathlens_classify::media::Quality;
pub use pathlens_classify::outcome::{DirMedia, MediaFields, StreamRecord};
use std::sync::{Arc, OnceLock};

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The media fields of the flows schema, in column order (after `service`).
pub fn media_fields() -> Vec<Field> {
    use DataType::*;
    let f = |name: &str, dt: DataType, nullable: bool| Field::new(name, dt, nullable);
    let mut v = vec![
        f("rtp_ssrc_count", Int32, false),
        f("rtp_payload_type", Int16, false),
        f("codec", dict(), true),
    ];
    for d in ["src2dst", "dst2src"] {
        v.push(f(&format!("{d}_rtp_packets_lost"), Int64, false));
        v.push(f(&format!("{d}_rtp_loss_pct"), Float64, true));
        v.push(f(&format!("{d}_jitter_mean_ms"), Float64, true));
        v.push(f(&format!("{d}_jitter_max_ms"), Float64, true));
        v.push(f(&format!("{d}_rtp_reordered"), Int64, false));
        v.push(f(&format!("{d}_rtp_duplicates"), Int64, false));
    }
    v.push(f("rtcp_rtt_ms", Float64, true));
    v.push(f("rtcp_fraction_lost", Float64, true));
    v.push(f("media_quality", dict(), true));
    v.push(f("rtp_overflow_packets", Int64, false));
    v
}

#[derive(Default)]
struct DirCols {
    lost: Int64Builder,
    loss_pct: Float64Builder,
    jitter_mean: Float64Builder,
    jitter_max: Float64Builder,
    reordered: Int64Builder,
    duplicates: Int64Builder,
}

impl DirCols {
    fn append(&mut self, d: Option<&DirMedia>) {
        match d {
            Some(d) => {
                self.lost.append_value(d.packets_lost);
                self.loss_pct.append_value(d.loss_pct);
                self.jitter_mean.append_option(d.jitter_mean_ms);
                self.jitter_max.append_option(d.jitter_max_ms);
                self.reordered.append_value(d.reordered);
                self.duplicates.append_value(d.duplicates);
            }
            None => {
                self.lost.append_value(-1);
                self.loss_pct.append_null();
                self.jitter_mean.append_null();
                self.jitter_max.append_null();
                self.reordered.append_value(-1);
                self.duplicates.append_value(-1);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<ArrayRef>) {
        out.push(Arc::new(self.lost.finish()));
        out.push(Arc::new(self.loss_pct.finish()));
        out.push(Arc::new(self.jitter_mean.finish()));
        out.push(Arc::new(self.jitter_max.finish()));
        out.push(Arc::new(self.reordered.finish()));
        out.push(Arc::new(self.duplicates.finish()));
    }
}

/// Builders for the media columns of the flows table.
#[derive(Default)]
pub struct MediaColumns {
    ssrc_count: Int32Builder,
    payload_type: Int16Builder,
    codec: StringDictionaryBuilder<Int32Type>,
    s2d: DirCols,
    d2s: DirCols,
    rtt: Float64Builder,
    fraction_lost: Float64Builder,
    quality: StringDictionaryBuilder<Int32Type>,
    overflow: Int64Builder,
}

impl MediaColumns {
    /// Appends one flow's media fields.
    pub fn append(&mut self, m: &MediaFields) {
        self.ssrc_count.append_value(m.rtp_ssrc_count);
        self.payload_type.append_value(m.rtp_payload_type);
        self.codec.append_option(m.codec.as_deref());
        self.s2d.append(m.src2dst.as_ref());
        self.d2s.append(m.dst2src.as_ref());
        self.rtt.append_option(m.rtcp_rtt_ms);
        self.fraction_lost.append_option(m.rtcp_fraction_lost);
        self.quality
            .append_option(m.media_quality.map(Quality::as_str));
        self.overflow.append_value(m.rtp_overflow_packets);
    }

    /// Finishes the columns, in [`media_fields`] order, onto `out`.
    pub fn finish(&mut self, out: &mut Vec<ArrayRef>) {
        out.push(Arc::new(self.ssrc_count.finish()));
        out.push(Arc::new(self.payload_type.finish()));
        out.push(Arc::new(self.codec.finish()));
        self.s2d.finish(out);
        self.d2s.finish(out);
        out.push(Arc::new(self.rtt.finish()));
        out.push(Arc::new(self.fraction_lost.finish()));
        out.push(Arc::new(self.quality.finish()));
        out.push(Arc::new(self.overflow.finish()));
    }
}

/// The `streams` table schema, built once.
pub fn streams_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use DataType::*;
            let f = |name: &str, dt: DataType, nullable: bool| Field::new(name, dt, nullable);
            Arc::new(Schema::new(vec![
                f("flow_id", Int64, false),
                f("run_id", dict(), false),
                f("direction", dict(), false),
                f("ssrc", Int64, false),
                f("payload_type", Int16, true),
                f("codec", dict(), true),
                f("clock_rate", Int32, true),
                f("clock_source", dict(), true),
                f("packets", Int64, false),
                f("expected", Int64, false),
                f("lost", Int64, false),
                f("loss_pct", Float64, false),
                f("duplicates", Int64, false),
                f("reordered", Int64, false),
                f("restarts", Int32, false),
                f("valid", Boolean, false),
                f("jitter_mean_ms", Float64, true),
                f("jitter_max_ms", Float64, true),
                f("longest_gap_ms", Float64, false),
                f("burst_loss_max_pct", Float64, true),
                f("first_seq", Int32, true),
                f("last_seq", Int32, true),
                f("first_seen", ts(), false),
                f("last_seen", ts(), false),
                f("rtcp_reports", Int64, false),
                f("rtcp_fraction_lost", Float64, true),
                f("rtcp_cumulative_lost", Int64, true),
                f("rtcp_jitter_ms", Float64, true),
                f("rtcp_rtt_ms", Float64, true),
                f("quality", dict(), true),
            ]))
        })
        .clone()
}

fn i64c(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Builders for one batch of the `streams` table.
#[derive(Default)]
pub struct StreamColumns {
    flow_id: Int64Builder,
    run_id: StringDictionaryBuilder<Int32Type>,
    direction: StringDictionaryBuilder<Int32Type>,
    ssrc: Int64Builder,
    payload_type: Int16Builder,
    codec: StringDictionaryBuilder<Int32Type>,
    clock_rate: Int32Builder,
    clock_source: StringDictionaryBuilder<Int32Type>,
    packets: Int64Builder,
    expected: Int64Builder,
    lost: Int64Builder,
    loss_pct: Float64Builder,
    duplicates: Int64Builder,
    reordered: Int64Builder,
    restarts: Int32Builder,
    valid: BooleanBuilder,
    jitter_mean: Float64Builder,
    jitter_max: Float64Builder,
    longest_gap: Float64Builder,
    burst: Float64Builder,
    first_seq: Int32Builder,
    last_seq: Int32Builder,
    first_seen: TimestampMicrosecondBuilder,
    last_seen: TimestampMicrosecondBuilder,
    rtcp_reports: Int64Builder,
    rtcp_fraction: Float64Builder,
    rtcp_cum: Int64Builder,
    rtcp_jitter: Float64Builder,
    rtcp_rtt: Float64Builder,
    quality: StringDictionaryBuilder<Int32Type>,
}

impl StreamColumns {
    /// Appends one stream row.
    pub fn append(&mut self, r: &StreamRecord, opts: &WriterOptions) {
        let s = &r.stats;
        // A stream known only from RTCP has no RTP fields of its own.
        let rtp = s.packets > 0;
        self.flow_id.append_value(r.flow_id);
        self.run_id.append_value(&opts.run_id);
        self.direction.append_value(r.direction());
        self.ssrc.append_value(i64::from(s.ssrc));
        self.payload_type
            .append_option(rtp.then_some(i16::from(s.payload_type)));
        self.codec.append_option(s.codec.as_deref().filter(|_| rtp));
        self.clock_rate
            .append_option(s.clock_rate.and_then(|c| i32::try_from(c).ok()));
        self.clock_source
            .append_option(s.clock_source.map(|c| c.as_str()));
        self.packets.append_value(i64c(s.packets));
        self.expected.append_value(i64c(s.expected));
        self.lost.append_value(s.lost);
        self.loss_pct.append_value(s.loss_pct());
        self.duplicates.append_value(i64c(s.duplicates));
        self.reordered.append_value(i64c(s.reordered));
        self.restarts
            .append_value(i32::try_from(s.restarts).unwrap_or(i32::MAX));
        self.valid.append_value(s.valid);
        self.jitter_mean.append_option(s.jitter_mean_ms);
        self.jitter_max.append_option(s.jitter_max_ms);
        #[allow(clippy::cast_precision_loss)]
        self.longest_gap
            .append_value(s.longest_gap_us as f64 / 1000.0);
        self.burst.append_option(s.burst_loss_max_pct);
        self.first_seq
            .append_option(rtp.then_some(i32::from(s.first_seq)));
        self.last_seq
            .append_option(rtp.then_some(i32::from(s.last_seq)));
        self.first_seen.append_value(s.first_us);
        self.last_seen.append_value(s.last_us);
        let rc = s.rtcp.as_ref();
        self.rtcp_reports
            .append_value(i64c(rc.map_or(0, |r| r.reports)));
        self.rtcp_fraction
            .append_option(rc.map(|r| r.fraction_lost));
        self.rtcp_cum.append_option(rc.map(|r| r.cumulative_lost));
        self.rtcp_jitter.append_option(rc.and_then(|r| r.jitter_ms));
        self.rtcp_rtt.append_option(rc.and_then(|r| r.rtt_ms));
        self.quality.append_option(r.quality.map(Quality::as_str));
    }

    /// Finishes one batch.
    ///
    /// # Errors
    /// Only if the columns disagree with the schema, which tests rule out.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.flow_id.finish()),
            Arc::new(self.run_id.finish()),
            Arc::new(self.direction.finish()),
            Arc::new(self.ssrc.finish()),
            Arc::new(self.payload_type.finish()),
            Arc::new(self.codec.finish()),
            Arc::new(self.clock_rate.finish()),
            Arc::new(self.clock_source.finish()),
            Arc::new(self.packets.finish()),
            Arc::new(self.expected.finish()),
            Arc::new(self.lost.finish()),
            Arc::new(self.loss_pct.finish()),
            Arc::new(self.duplicates.finish()),
            Arc::new(self.reordered.finish()),
            Arc::new(self.restarts.finish()),
            Arc::new(self.valid.finish()),
            Arc::new(self.jitter_mean.finish()),
            Arc::new(self.jitter_max.finish()),
            Arc::new(self.longest_gap.finish()),
            Arc::new(self.burst.finish()),
            Arc::new(self.first_seq.finish()),
            Arc::new(self.last_seq.finish()),
            Arc::new(self.first_seen.finish().with_timezone("UTC")),
            Arc::new(self.last_seen.finish().with_timezone("UTC")),
            Arc::new(self.rtcp_reports.finish()),
            Arc::new(self.rtcp_fraction.finish()),
            Arc::new(self.rtcp_cum.finish()),
            Arc::new(self.rtcp_jitter.finish()),
            Arc::new(self.rtcp_rtt.finish()),
            Arc::new(self.quality.finish()),
        ];
        RecordBatch::try_new(streams_schema(), cols)
    }
}
