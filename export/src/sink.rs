//! The Parquet file of one table: rows in Arrow batches, zstd (or snappy),
//! row groups of 128 Ki rows, key-value metadata, and an atomic lifecycle.
//!
//! A file is written as `.NAME.inprogress` in the target directory and renamed
//! to `NAME` only once its footer is written, so a reader never sees half a
//! file and an earlier complete file is never clobbered by a failed run.

use crate::column::{Batch, Row, CHUNK_ROWS};
use crate::options::{Compression, WriterOptions};
use crate::record::FlowRecord;
use crate::StreamRecord;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Value of the `pathlens.schema_version` metadata key.
pub const SCHEMA_VERSION: &str = "3";
/// Rows per Parquet row group (export/SCHEMA.md, "Writer settings").
pub const ROW_GROUP_ROWS: usize = 131_072;
pub use crate::column::BATCH_ROWS;

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
    /// Sending a complete part to object storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
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

/// A Parquet file being written: the flows table by default, or the table
/// of any other [`Row`] type (the `streams` table) with the same settings
/// and lifecycle.
pub struct ParquetSink<R: Row = FlowRecord> {
    writer: Option<ArrowWriter<BufWriter<File>>>,
    columns: Batch<R>,
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

/// The `streams` table's sink.
pub type StreamsSink = ParquetSink<StreamRecord>;

impl<R: Row> ParquetSink<R> {
    /// Creates `path`'s temporary twin and starts writing `R` rows into it.
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
            Compression::Zstd => PqCompression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()),
            Compression::Snappy => PqCompression::SNAPPY,
        };
        let props = R::columns()
            .iter()
            .filter(|c| !c.dictionary())
            .fold(WriterProperties::builder(), |b, c| {
                b.set_column_dictionary_enabled(ColumnPath::from(c.name), false)
            })
            .set_compression(compression)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("pathlens {}", env!("CARGO_PKG_VERSION")))
            .build();
        let columns = Batch::default();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            columns.schema(),
            Some(props),
        )
        .map_err(|source| WriterError::Parquet {
            path: tmp.clone(),
            source,
        })?;
        Ok(ParquetSink {
            writer: Some(writer),
            columns,
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
    pub fn write(&mut self, records: &[R]) -> Result<(), WriterError> {
        self.write_each(records)
    }

    /// Appends rows picked out of a larger set, without copying them.
    ///
    /// # Errors
    /// As [`ParquetSink::write`].
    pub fn write_each<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a R>,
    ) -> Result<(), WriterError>
    where
        R: 'a,
    {
        let mut records = records.into_iter();
        let mut chunk: Vec<&R> = Vec::with_capacity(CHUNK_ROWS);
        loop {
            chunk.clear();
            let room = BATCH_ROWS.saturating_sub(self.pending).clamp(1, CHUNK_ROWS);
            chunk.extend(records.by_ref().take(room));
            if chunk.is_empty() {
                return Ok(());
            }
            self.columns.append_rows(&chunk, &self.opts);
            self.pending += chunk.len();
            if self.pending >= BATCH_ROWS {
                self.flush_batch()?;
            }
        }
    }

    fn flush_batch(&mut self) -> Result<(), WriterError> {
        if self.pending == 0 {
            return Ok(());
        }
        let batch = self.columns.finish()?;
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
    /// to [`UncommittedFile::commit`], so files that belong together (flows and
    /// streams) appear only once all of them are complete.
    ///
    /// # Errors
    /// Writing failed; the temporary file is removed.
    pub fn finish_unrenamed(
        mut self,
        metadata: Vec<(String, String)>,
    ) -> Result<UncommittedFile, WriterError> {
        let res = self.finish_inner(metadata);
        if res.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        res.map(|rows| UncommittedFile {
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
pub struct UncommittedFile {
    tmp: PathBuf,
    path: PathBuf,
    rows: u64,
    done: bool,
}

impl UncommittedFile {
    /// The final name the file gets on [`UncommittedFile::commit`].
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

    /// Sends the file to object storage as `rel` (one complete object, or
    /// none), then removes the local file. Returns the rows.
    ///
    /// # Errors
    /// The upload failed after its tries; the local file is removed.
    pub fn upload(self, store: &crate::store::Store, rel: &str) -> Result<u64, WriterError> {
        // Dropping removes the local file either way.
        store.put_file(rel, &self.tmp)?;
        Ok(self.rows)
    }
}

impl Drop for UncommittedFile {
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

impl<R: Row> Drop for ParquetSink<R> {
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
    use crate::record::FlowRecord;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn opts() -> WriterOptions {
        WriterOptions {
            compression: Compression::Zstd,
            run_id: "run-1".into(),
            sensor: "s1".into(),
            store: None,
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
        // Dictionary pages only where values repeat: the per-row ids,
        // addresses and times are written plain (cheaper, and smaller on
        // real traffic), the labels keep their dictionaries.
        let g = &r.metadata().row_groups()[0];
        let dict = |name: &str| {
            g.columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap()
                .dictionary_page_offset()
                .is_some()
        };
        for plain in ["community_id", "src_ip", "dst_ip", "first_seen"] {
            assert!(!dict(plain), "{plain}");
        }
        for dictionary in ["app_protocol", "transport", "flow_id", "src_port"] {
            assert!(dict(dictionary), "{dictionary}");
        }
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
}
