//! The Parquet writer: Arrow batches from flow records, zstd (or snappy), row
//! groups of 128 Ki rows, key-value metadata, and an atomic file lifecycle.
//!
//! A file is written as `.NAME.inprogress` in the target directory and renamed
//! to `NAME` only once its footer is written, so a reader never sees half a
//! file and an earlier complete file is never clobbered by a failed run.

use crate::egress_cols::EgressColumns;
use crate::media_cols::{streams_schema, MediaColumns, StreamColumns, StreamRecord};
use crate::record::FlowRecord;
use crate::schema::{flow_schema, SCHEMA_VERSION};
use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    Int8Builder, StringBuilder, StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::Int32Type;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per Parquet row group (schema.md §4).
pub const ROW_GROUP_ROWS: usize = 131_072;
/// Rows per Arrow batch handed to the Parquet writer.
pub const BATCH_ROWS: usize = 8_192;

/// Column compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// zstd level 3 (the default).
    #[default]
    Zstd,
    /// Snappy, for older or unknown readers.
    Snappy,
}

/// Settings of one output file.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Column compression.
    pub compression: Compression,
    /// Value of the `run_id` column.
    pub run_id: String,
    /// Value of the `sensor` column.
    pub sensor: String,
}

/// Writing the output failed.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Encoding or writing Parquet failed (a full disk shows up here too).
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The writer error.
        source: parquet::errors::ParquetError,
    },
    /// Building an Arrow batch failed.
    #[error("building a record batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The temporary name a file is written under before its rename.
pub fn temp_path(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_path.with_file_name(format!(".{name}.inprogress"))
}

/// The column builders of one output table: what a [`ParquetSink`] needs
/// to turn rows into Arrow batches.
pub trait Table: Default {
    /// One row as the workers hand it over.
    type Row;
    /// The table's Arrow schema.
    fn schema() -> SchemaRef;
    /// Appends one row.
    fn append_row(&mut self, row: &Self::Row, opts: &WriterOptions);
    /// Finishes the rows appended so far into a batch.
    ///
    /// # Errors
    /// Only if the columns disagree with the schema, which tests rule out.
    fn finish_batch(&mut self) -> Result<RecordBatch, arrow::error::ArrowError>;
}

/// Column builders for one batch of flow records.
pub struct Columns {
    flow_id: Int64Builder,
    run_id: StringDictionaryBuilder<Int32Type>,
    sensor: StringDictionaryBuilder<Int32Type>,
    interface: StringDictionaryBuilder<Int32Type>,
    community_id: StringBuilder,
    first_seen: TimestampMicrosecondBuilder,
    last_seen: TimestampMicrosecondBuilder,
    duration_s: Float64Builder,
    end_reason: StringDictionaryBuilder<Int32Type>,
    ip_version: Int8Builder,
    ip_proto: Int16Builder,
    transport: StringDictionaryBuilder<Int32Type>,
    src_ip: StringBuilder,
    dst_ip: StringBuilder,
    src_port: Int32Builder,
    dst_port: Int32Builder,
    icmp_type: Int16Builder,
    icmp_code: Int16Builder,
    vlan_id: Int32Builder,
    s2d_pkts: Int64Builder,
    d2s_pkts: Int64Builder,
    s2d_bytes: Int64Builder,
    d2s_bytes: Int64Builder,
    s2d_payload: Int64Builder,
    d2s_payload: Int64Builder,
    bi_pkts: Int64Builder,
    bi_bytes: Int64Builder,
    truncated: Int64Builder,
    s2d_flags: Int16Builder,
    d2s_flags: Int16Builder,
    conn_state: StringDictionaryBuilder<Int32Type>,
    app_protocol: StringDictionaryBuilder<Int32Type>,
    app_source: StringDictionaryBuilder<Int32Type>,
    server_name: StringBuilder,
    local_src: BooleanBuilder,
    local_dst: BooleanBuilder,
    direction: StringDictionaryBuilder<Int32Type>,
    egress_label: StringDictionaryBuilder<Int32Type>,
    egress_prefix: StringBuilder,
    traffic_type: StringDictionaryBuilder<Int32Type>,
    alpn: StringBuilder,
    tls_version: StringDictionaryBuilder<Int32Type>,
    sip_method: StringDictionaryBuilder<Int32Type>,
    sip_user_agent: StringBuilder,
    starttls: BooleanBuilder,
    stun_seen: BooleanBuilder,
    media_over_tcp: BooleanBuilder,
    service: StringDictionaryBuilder<Int32Type>,
    egress: EgressColumns,
    media: MediaColumns,
}

impl Default for Columns {
    fn default() -> Self {
        Columns::new()
    }
}

impl Table for Columns {
    type Row = FlowRecord;
    fn schema() -> SchemaRef {
        flow_schema()
    }
    fn append_row(&mut self, row: &FlowRecord, opts: &WriterOptions) {
        self.append(row, opts);
    }
    fn finish_batch(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        self.finish()
    }
}

impl Table for StreamColumns {
    type Row = StreamRecord;
    fn schema() -> SchemaRef {
        streams_schema()
    }
    fn append_row(&mut self, row: &StreamRecord, opts: &WriterOptions) {
        self.append(row, opts);
    }
    fn finish_batch(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        self.finish()
    }
}

/// The `streams` table's sink.
pub type StreamsSink = ParquetSink<StreamColumns>;

fn i64c(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Columns {
    fn new() -> Self {
        let d = StringDictionaryBuilder::<Int32Type>::new;
        Columns {
            flow_id: Int64Builder::new(),
            run_id: d(),
            sensor: d(),
            interface: d(),
            community_id: StringBuilder::new(),
            first_seen: TimestampMicrosecondBuilder::new(),
            last_seen: TimestampMicrosecondBuilder::new(),
            duration_s: Float64Builder::new(),
            end_reason: d(),
            ip_version: Int8Builder::new(),
            ip_proto: Int16Builder::new(),
            transport: d(),
            src_ip: StringBuilder::new(),
            dst_ip: StringBuilder::new(),
            src_port: Int32Builder::new(),
            dst_port: Int32Builder::new(),
            icmp_type: Int16Builder::new(),
            icmp_code: Int16Builder::new(),
            vlan_id: Int32Builder::new(),
            s2d_pkts: Int64Builder::new(),
            d2s_pkts: Int64Builder::new(),
            s2d_bytes: Int64Builder::new(),
            d2s_bytes: Int64Builder::new(),
            s2d_payload: Int64Builder::new(),
            d2s_payload: Int64Builder::new(),
            bi_pkts: Int64Builder::new(),
            bi_bytes: Int64Builder::new(),
            truncated: Int64Builder::new(),
            s2d_flags: Int16Builder::new(),
            d2s_flags: Int16Builder::new(),
            conn_state: d(),
            app_protocol: d(),
            app_source: d(),
            server_name: StringBuilder::new(),
            local_src: BooleanBuilder::new(),
            local_dst: BooleanBuilder::new(),
            direction: d(),
            egress_label: d(),
            egress_prefix: StringBuilder::new(),
            traffic_type: d(),
            alpn: StringBuilder::new(),
            tls_version: d(),
            sip_method: d(),
            sip_user_agent: StringBuilder::new(),
            starttls: BooleanBuilder::new(),
            stun_seen: BooleanBuilder::new(),
            media_over_tcp: BooleanBuilder::new(),
            service: d(),
            egress: EgressColumns::new(),
            media: MediaColumns::default(),
        }
    }

    fn append(&mut self, r: &FlowRecord, opts: &WriterOptions) {
        self.flow_id.append_value(r.flow_id);
        self.run_id.append_value(&opts.run_id);
        self.sensor.append_value(&opts.sensor);
        self.interface.append_value(&*r.interface);
        self.community_id.append_value(&r.community_id);
        self.first_seen.append_value(r.first_seen_us);
        self.last_seen.append_value(r.last_seen_us);
        #[allow(clippy::cast_precision_loss)]
        self.duration_s
            .append_value((r.last_seen_us - r.first_seen_us) as f64 / 1e6);
        self.end_reason.append_value(r.end_reason.as_str());
        self.ip_version
            .append_value(i8::try_from(r.ip_version).unwrap_or(0));
        self.ip_proto.append_value(i16::from(r.ip_proto));
        self.transport.append_value(r.transport.as_str());
        self.src_ip.append_value(r.src_ip.to_string());
        self.dst_ip.append_value(r.dst_ip.to_string());
        self.src_port.append_value(i32::from(r.src_port));
        self.dst_port.append_value(i32::from(r.dst_port));
        self.icmp_type.append_value(r.icmp_type);
        self.icmp_code.append_value(r.icmp_code);
        self.vlan_id.append_value(i32::from(r.vlan_id));
        self.s2d_pkts.append_value(i64c(r.src2dst_packets));
        self.d2s_pkts.append_value(i64c(r.dst2src_packets));
        self.s2d_bytes.append_value(i64c(r.src2dst_bytes));
        self.d2s_bytes.append_value(i64c(r.dst2src_bytes));
        self.s2d_payload.append_value(i64c(r.src2dst_payload_bytes));
        self.d2s_payload.append_value(i64c(r.dst2src_payload_bytes));
        self.bi_pkts.append_value(i64c(r.packets()));
        self.bi_bytes.append_value(i64c(r.bytes()));
        self.truncated.append_value(i64c(r.truncated_packets));
        self.s2d_flags
            .append_value(i16::try_from(r.src2dst_tcp_flags).unwrap_or(i16::MAX));
        self.d2s_flags
            .append_value(i16::try_from(r.dst2src_tcp_flags).unwrap_or(i16::MAX));
        match r.conn_state {
            Some(c) => self.conn_state.append_value(c.as_str()),
            None => self.conn_state.append_null(),
        }
        self.app_protocol
            .append_value(r.labels.app_protocol.as_str());
        self.app_source
            .append_value(r.labels.app_protocol_source.as_str());
        self.server_name
            .append_option(r.labels.server_name.as_deref());
        self.local_src.append_value(r.labels.local_src);
        self.local_dst.append_value(r.labels.local_dst);
        self.direction.append_value(r.labels.direction.as_str());
        self.egress_label
            .append_option(r.labels.egress_label.as_deref());
        self.egress_prefix
            .append_option(r.labels.egress_prefix.as_deref());
        self.traffic_type
            .append_value(r.labels.traffic_type.as_str());
        self.alpn.append_option(r.labels.alpn.as_deref());
        self.tls_version.append_option(r.labels.tls_version);
        self.sip_method.append_option(r.labels.sip_method);
        self.sip_user_agent
            .append_option(r.labels.sip_user_agent.as_deref());
        self.starttls.append_value(r.labels.starttls);
        self.stun_seen.append_value(r.labels.stun_seen);
        self.media_over_tcp.append_value(r.labels.media_over_tcp);
        self.service.append_option(r.labels.service.as_deref());
        self.egress.append(&r.labels.egress);
        self.media.append(&r.labels.media);
    }

    fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.flow_id.finish()),
            Arc::new(self.run_id.finish()),
            Arc::new(self.sensor.finish()),
            Arc::new(self.interface.finish()),
            Arc::new(self.community_id.finish()),
            Arc::new(self.first_seen.finish().with_timezone("UTC")),
            Arc::new(self.last_seen.finish().with_timezone("UTC")),
            Arc::new(self.duration_s.finish()),
            Arc::new(self.end_reason.finish()),
            Arc::new(self.ip_version.finish()),
            Arc::new(self.ip_proto.finish()),
            Arc::new(self.transport.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.dst_ip.finish()),
            Arc::new(self.src_port.finish()),
            Arc::new(self.dst_port.finish()),
            Arc::new(self.icmp_type.finish()),
            Arc::new(self.icmp_code.finish()),
            Arc::new(self.vlan_id.finish()),
            Arc::new(self.s2d_pkts.finish()),
            Arc::new(self.d2s_pkts.finish()),
            Arc::new(self.s2d_bytes.finish()),
            Arc::new(self.d2s_bytes.finish()),
            Arc::new(self.s2d_payload.finish()),
            Arc::new(self.d2s_payload.finish()),
            Arc::new(self.bi_pkts.finish()),
            Arc::new(self.bi_bytes.finish()),
            Arc::new(self.truncated.finish()),
            Arc::new(self.s2d_flags.finish()),
            Arc::new(self.d2s_flags.finish()),
            Arc::new(self.conn_state.finish()),
            Arc::new(self.app_protocol.finish()),
            Arc::new(self.app_source.finish()),
            Arc::new(self.server_name.finish()),
            Arc::new(self.local_src.finish()),
            Arc::new(self.local_dst.finish()),
            Arc::new(self.direction.finish()),
            Arc::new(self.egress_label.finish()),
            Arc::new(self.egress_prefix.finish()),
            Arc::new(self.traffic_type.finish()),
            Arc::new(self.alpn.finish()),
            Arc::new(self.tls_version.finish()),
            Arc::new(self.sip_method.finish()),
            Arc::new(self.sip_user_agent.finish()),
            Arc::new(self.starttls.finish()),
            Arc::new(self.stun_seen.finish()),
            Arc::new(self.media_over_tcp.finish()),
            Arc::new(self.service.finish()),
        ];
        self.egress.finish_into(&mut cols);
        self.media.finish(&mut cols);
        RecordBatch::try_new(flow_schema(), cols)
    }
}

/// Builds one Arrow batch from flow records (also used by benches).
///
/// # Errors
/// Only if the columns disagree with the schema, which tests rule out.
pub fn records_to_batch(
    records: &[FlowRecord],
    opts: &WriterOptions,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut c = Columns::new();
    for r in records {
        c.append(r, opts);
    }
    c.finish()
}

/// A Parquet file being written: the flows table by default, or any
/// [`Table`] (the `streams` table) with the same settings and lifecycle.
pub struct ParquetSink<T: Table = Columns> {
    writer: Option<ArrowWriter<BufWriter<File>>>,
    columns: T,
    pending: usize,
    rows: u64,
    opts: WriterOptions,
    tmp: PathBuf,
    path: PathBuf,
}

impl ParquetSink {
    /// Creates `path`'s temporary twin and starts writing flow records into it.
    ///
    /// # Errors
    /// The directory is missing or not writable.
    pub fn create(path: &Path, opts: WriterOptions) -> Result<Self, WriterError> {
        Self::create_table(path, opts)
    }
}

impl<T: Table> ParquetSink<T> {
    /// Creates `path`'s temporary twin and starts writing `T`'s rows into it.
    ///
    /// # Errors
    /// The directory is missing or not writable.
    pub fn create_table(path: &Path, opts: WriterOptions) -> Result<Self, WriterError> {
        let tmp = temp_path(path);
        let file = File::create(&tmp).map_err(|source| WriterError::Io {
            path: tmp.clone(),
            source,
        })?;
        let compression = match opts.compression {
            Compression::Zstd => PqCompression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()),
            Compression::Snappy => PqCompression::SNAPPY,
        };
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("pathlens {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            T::schema(),
            Some(props),
        )
        .map_err(|source| WriterError::Parquet {
            path: tmp.clone(),
            source,
        })?;
        Ok(ParquetSink {
            writer: Some(writer),
            columns: T::default(),
            pending: 0,
            rows: 0,
            opts,
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// Appends records; they reach the file in batches of [`BATCH_ROWS`].
    ///
    /// # Errors
    /// Writing failed (e.g. the disk is full); the final file is untouched.
    pub fn write(&mut self, records: &[T::Row]) -> Result<(), WriterError> {
        self.write_each(records)
    }

    /// Appends rows picked out of a larger set, without copying them.
    ///
    /// # Errors
    /// As [`ParquetSink::write`].
    pub fn write_each<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a T::Row>,
    ) -> Result<(), WriterError>
    where
        T::Row: 'a,
    {
        for r in records {
            self.columns.append_row(r, &self.opts);
            self.pending += 1;
            if self.pending >= BATCH_ROWS {
                self.flush_batch()?;
            }
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<(), WriterError> {
        if self.pending == 0 {
            return Ok(());
        }
        let batch = self.columns.finish_batch()?;
        self.rows += self.pending as u64;
        self.pending = 0;
        if let Some(w) = self.writer.as_mut() {
            w.write(&batch).map_err(|source| WriterError::Parquet {
                path: self.tmp.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Rows handed to the writer so far.
    pub fn rows(&self) -> u64 {
        self.rows + self.pending as u64
    }

    /// Writes the footer with `metadata` (plus the schema version and tool
    /// version), then renames the file to its final name. Returns the rows.
    ///
    /// # Errors
    /// Writing or renaming failed; the temporary file is removed.
    pub fn finish(self, metadata: Vec<(String, String)>) -> Result<u64, WriterError> {
        self.finish_unrenamed(metadata)?.commit()
    }

    /// Writes the footer and syncs the temporary file, but leaves the rename
    /// to [`Finished::commit`], so files that belong together (flows and
    /// streams) appear only once all of them are complete.
    ///
    /// # Errors
    /// Writing failed; the temporary file is removed.
    pub fn finish_unrenamed(
        mut self,
        metadata: Vec<(String, String)>,
    ) -> Result<Finished, WriterError> {
        let res = self.finish_inner(metadata);
        if res.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        res.map(|rows| Finished {
            tmp: self.tmp.clone(),
            path: self.path.clone(),
            rows,
            done: false,
        })
    }

    fn finish_inner(&mut self, metadata: Vec<(String, String)>) -> Result<u64, WriterError> {
        self.flush_batch()?;
        let mut w = match self.writer.take() {
            Some(w) => w,
            None => return Ok(self.rows),
        };
        let pq = |source| WriterError::Parquet {
            path: self.tmp.clone(),
            source,
        };
        w.append_key_value_metadata(KeyValue::new(
            "pathlens.schema_version".into(),
            SCHEMA_VERSION.to_string(),
        ));
        w.append_key_value_metadata(KeyValue::new(
            "pathlens.version".into(),
            env!("CARGO_PKG_VERSION").to_string(),
        ));
        w.append_key_value_metadata(KeyValue::new(
            "pathlens.run_id".into(),
            self.opts.run_id.clone(),
        ));
        w.append_key_value_metadata(KeyValue::new(
            "pathlens.sensor".into(),
            self.opts.sensor.clone(),
        ));
        for (k, v) in metadata {
            w.append_key_value_metadata(KeyValue::new(k, v));
        }
        let buf = w.into_inner().map_err(pq)?;
        let file = buf.into_inner().map_err(|e| WriterError::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(|source| WriterError::Io {
            path: self.tmp.clone(),
            source,
        })?;
        Ok(self.rows)
    }

    /// Gives up on the file: removes the temporary file.
    pub fn abort(mut self) {
        self.writer = None;
        let _ = std::fs::remove_file(&self.tmp);
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A complete file still under its temporary name.
pub struct Finished {
    tmp: PathBuf,
    path: PathBuf,
    rows: u64,
    done: bool,
}

impl Finished {
    /// The final name the file gets on [`Finished::commit`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to its final name. Returns the rows.
    ///
    /// # Errors
    /// The rename failed; the temporary file is removed.
    pub fn commit(mut self) -> Result<u64, WriterError> {
        self.done = true;
        std::fs::rename(&self.tmp, &self.path).map_err(|source| {
            let _ = std::fs::remove_file(&self.tmp);
            WriterError::Io {
                path: self.path.clone(),
                source,
            }
        })?;
        Ok(self.rows)
    }
}

impl Drop for Finished {
    fn drop(&mut self) {
        // Never committed: a sibling failed, so this file must not appear alone.
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Where the `streams` table of a flows file goes: `OUT.parquet` gives
/// `OUT.streams.parquet` in the same directory.
pub fn streams_path(flows: &Path) -> PathBuf {
    let name = flows
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    flows.with_file_name(format!("{stem}.streams.parquet"))
}

impl<T: Table> Drop for ParquetSink<T> {
    fn drop(&mut self) {
        // A sink dropped without finish() never produced a complete file.
        if self.writer.is_some() {
            self.writer = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn opts() -> WriterOptions {
        WriterOptions {
            compression: Compression::Zstd,
            run_id: "run-1".into(),
            sensor: "s1".into(),
        }
    }

    #[test]
    fn writes_reads_back_and_renames() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("flows.parquet");
        let mut sink = ParquetSink::create(&out, opts()).unwrap();
        assert!(temp_path(&out).exists() && !out.exists());
        let mut recs = Vec::new();
        for i in 0..20_000 {
            let mut r = FlowRecord::example();
            r.flow_id = i;
            r.src2dst_packets = i as u64;
            recs.push(r);
        }
        sink.write(&recs).unwrap();
        let rows = sink
            .finish(vec![("pathlens.counters".into(), "{}".into())])
            .unwrap();
        assert_eq!(rows, 20_000);
        assert!(out.exists() && !temp_path(&out).exists());

        let f = File::open(&out).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let kv = b
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap()
            .clone();
        assert!(kv
            .iter()
            .any(|k| k.key == "pathlens.schema_version"
                && k.value.as_deref() == Some(SCHEMA_VERSION)));
        assert!(kv.iter().any(|k| k.key == "pathlens.counters"));
        assert_eq!(
            b.schema()
                .field_with_name("first_seen")
                .unwrap()
                .data_type(),
            &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert!(matches!(
            b.schema()
                .field_with_name("app_protocol")
                .unwrap()
                .data_type(),
            DataType::Dictionary(_, _)
        ));
        let mut total = 0i64;
        let mut n = 0;
        for batch in b.build().unwrap() {
            let batch = batch.unwrap();
            let col = batch
                .column_by_name("src2dst_packets")
                .unwrap()
                .as_primitive::<Int64Type>();
            total += col.iter().flatten().sum::<i64>();
            n += batch.num_rows();
            assert_eq!(batch.column_by_name("conn_state").unwrap().null_count(), 0);
        }
        assert_eq!(n, 20_000);
        assert_eq!(total, (0..20_000i64).sum::<i64>());
    }

    #[test]
    fn row_groups_hold_128ki_rows() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("big.parquet");
        let mut sink = ParquetSink::create(&out, opts()).unwrap();
        let rec = FlowRecord::example();
        let chunk: Vec<FlowRecord> = (0..10_000).map(|_| rec.clone()).collect();
        for _ in 0..30 {
            sink.write(&chunk).unwrap();
        }
        assert_eq!(sink.finish(vec![]).unwrap(), 300_000);
        let r = ParquetRecordBatchReaderBuilder::try_new(File::open(&out).unwrap()).unwrap();
        let groups: Vec<i64> = r
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, vec![131_072, 131_072, 37_856]);
    }

    #[test]
    fn dropped_sink_leaves_no_file_and_keeps_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("flows.parquet");
        std::fs::write(&out, b"previous").unwrap();
        {
            let mut sink = ParquetSink::create(&out, opts()).unwrap();
            sink.write(&[FlowRecord::example()]).unwrap();
        }
        assert!(!temp_path(&out).exists());
        assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let e = ParquetSink::create(Path::new("/nonexistent-dir/x.parquet"), opts())
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("/nonexistent-dir/.x.parquet.inprogress"),
            "{e}"
        );
    }

    #[test]
    fn streams_file_sits_beside_the_flows_file() {
        assert_eq!(
            streams_path(Path::new("/x/out.parquet")),
            PathBuf::from("/x/out.streams.parquet")
        );
        assert_eq!(
            streams_path(Path::new("run1")),
            PathBuf::from("run1.streams.parquet")
        );
    }

    #[test]
    fn an_uncommitted_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("flows.parquet");
        let mut sink = ParquetSink::create(&out, opts()).unwrap();
        sink.write(&[FlowRecord::example()]).unwrap();
        let done = sink.finish_unrenamed(vec![]).unwrap();
        assert!(temp_path(&out).exists() && !out.exists());
        drop(done);
        assert!(!temp_path(&out).exists() && !out.exists());
    }

    #[test]
    fn batch_matches_schema_with_nulls() {
        let mut r = FlowRecord::example();
        r.conn_state = None;
        r.labels.server_name = Some("teams.microsoft.com".into());
        let b = records_to_batch(&[r, FlowRecord::example()], &opts()).unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column_by_name("conn_state").unwrap().null_count(), 1);
        assert_eq!(b.schema(), flow_schema());
    }

    #[test]
    fn egress_block_follows_service_and_round_trips() {
        use pathlens_classify::egress::{Egress, ExpectedPath};
        let schema = flow_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let at = names.iter().position(|n| *n == "service").unwrap();
        // The egress block comes first; the media columns follow it.
        assert_eq!(
            &names[at + 1..at + 13],
            &[
                "egress",
                "egress_list",
                "o365_endpoint_id",
                "o365_service_area",
                "o365_category",
                "o365_expressroute",
                "src2dst_next_hop",
                "dst2src_next_hop",
                "asymmetric",
                "expected_path",
                "path_conformant",
                "path_note"
            ]
        );
        let mut r = FlowRecord::example();
        r.labels.egress.egress = Egress::ExpressRoute;
        r.labels.egress.o365_endpoint_id = Some(11);
        r.labels.egress.o365_category = Some("Optimize");
        r.labels.egress.src2dst_next_hop = Some(Arc::from("er-1"));
        r.labels.egress.expected_path = Some(ExpectedPath::ExpressRoute);
        r.labels.egress.path_conformant = Some(true);
        let b = records_to_batch(&[r, FlowRecord::example()], &opts()).unwrap();
        let ids = b
            .column_by_name("o365_endpoint_id")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!((ids.value(0), ids.null_count()), (11, 1));
        assert_eq!(b.column_by_name("egress").unwrap().null_count(), 0);
        assert_eq!(b.column_by_name("path_conformant").unwrap().null_count(), 1);
        assert_eq!(b.column_by_name("path_note").unwrap().null_count(), 2);
    }
}
