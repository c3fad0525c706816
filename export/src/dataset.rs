//! A partitioned Parquet dataset: `DIR/flows/date=YYYY-MM-DD/hour=HH/part-…`
//! and `DIR/streams/…` with the same partitions (docs/reading-the-output.md, "Datasets").
//!
//! A record goes to the hour of its `first_seen` (UTC); its streams go to
//! the same partition of `streams/`, so a join on `flow_id` can stay within
//! one partition. `date` and `hour` are directory names only, never columns
//! (engines disagree on a duplicate field). Each part is written under a
//! dot-prefixed `.inprogress` name that dataset readers skip. A handful of
//! hours stay open; a late record for an hour already closed opens a new part
//! there, so nothing is lost and no finished file is rewritten. Closed parts
//! keep their temporary names until the run completes, then every streams
//! part is renamed, then every flows part: a failed run adds nothing to the
//! dataset, and a rerun cannot duplicate rows. With object storage
//! ([`crate::store`]) the directory is a local staging area and the
//! completing step is an upload under the final key instead of a rename.

use crate::calls_table::CallRecord;
use crate::options::WriterOptions;
use crate::record::FlowRecord;
use crate::sink::{ParquetSink, StreamsSink, UncommittedFile, WriterError};
use crate::StreamRecord;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Hours written to at once; the least recently used is closed past this.
pub const OPEN_PARTITIONS: usize = 4;

/// A partition: UTC date and hour of a record's `first_seen`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// 0-23.
    pub hour: u32,
}

impl Partition {
    /// The partition of a time in µs since the epoch (UTC); times outside
    /// chrono's range fall in 1970-01-01, hour 0.
    pub fn of(ts_us: i64) -> Self {
        let t = chrono::DateTime::from_timestamp_micros(ts_us).unwrap_or_default();
        Partition {
            date: t.format("%Y-%m-%d").to_string(),
            hour: chrono::Timelike::hour(&t),
        }
    }

    /// The partition's directory under a table's directory.
    pub fn dir(&self, table: &Path) -> PathBuf {
        table
            .join(format!("date={}", self.date))
            .join(format!("hour={}", self.hour))
    }
}

/// The object key of a staged file: its path below the dataset root, with `/`.
fn rel_key(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Whole hours since the epoch (UTC) of a time in µs: the partition key.
fn hour_index(ts_us: i64) -> i64 {
    ts_us.div_euclid(3_600_000_000)
}

struct Part {
    flows: ParquetSink,
    // Created with the first call row, as the streams part.
    calls: Option<ParquetSink<CallRecord>>,
    calls_path: PathBuf,
    // Created with the first stream row: most hours of a busy link have
    // media, but a part without any gets no empty streams file.
    streams: Option<StreamsSink>,
    streams_path: PathBuf,
    last_used: u64,
}

/// What a finished dataset run wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatasetTotals {
    /// Flow rows over all parts.
    pub rows: u64,
    /// Stream rows over all parts.
    pub stream_rows: u64,
    /// Call rows over all parts.
    pub call_rows: u64,
    /// Parts of the flows table (each with its streams part).
    pub parts: u64,
}

/// Writes flow and stream rows into the partitioned layout under a root.
pub struct DatasetSink {
    root: PathBuf,
    opts: WriterOptions,
    sensor: String,
    // The first characters of the run id, in every part name.
    run: String,
    // Keyed by hours since the epoch; the date and hour names are derived
    // only when a part is opened.
    open: HashMap<i64, Part>,
    clock: u64,
    seq: u64,
    meta: Vec<(String, String)>,
    // Closed parts waiting for the run to complete: (streams, flows).
    closed: Vec<(Option<UncommittedFile>, UncommittedFile)>,
    // Closed calls parts, renamed with the streams (before the flows).
    closed_calls: Vec<UncommittedFile>,
    totals: DatasetTotals,
}

/// The prefix of a run id written in the dataset's part names.
pub fn run_tag(run_id: &str) -> String {
    run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect()
}

impl DatasetSink {
    /// Prepares `root/flows`, `root/streams` and `root/calls` (created if
    /// missing).
    /// `meta` is the key-value metadata of parts closed during the run; the
    /// parts still open at the end get the run's final metadata instead.
    ///
    /// # Errors
    /// The directories cannot be created.
    pub fn create(
        root: &Path,
        opts: WriterOptions,
        meta: Vec<(String, String)>,
    ) -> Result<Self, WriterError> {
        for t in ["flows", "streams", "calls"] {
            let d = root.join(t);
            std::fs::create_dir_all(&d).map_err(|source| WriterError::Io { path: d, source })?;
        }
        let sensor: String = opts
            .sensor
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let run = run_tag(&opts.run_id);
        Ok(DatasetSink {
            root: root.to_path_buf(),
            opts,
            sensor,
            run,
            open: HashMap::new(),
            clock: 0,
            seq: 0,
            meta,
            closed: Vec::new(),
            closed_calls: Vec::new(),
            totals: DatasetTotals::default(),
        })
    }

    /// Appends records and the stream rows of those records.
    ///
    /// # Errors
    /// A part could not be created, written or closed (e.g. a full disk).
    pub fn write(
        &mut self,
        records: &[FlowRecord],
        streams: &[StreamRecord],
    ) -> Result<(), WriterError> {
        let mut by_hour: HashMap<i64, (Vec<usize>, Vec<usize>)> = HashMap::new();
        let mut hour_of: HashMap<i64, i64> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let h = hour_index(r.first_seen_us);
            by_hour.entry(h).or_default().0.push(i);
            hour_of.insert(r.flow_id, h);
        }
        for (i, s) in streams.iter().enumerate() {
            if let Some(h) = hour_of.get(&s.flow_id) {
                by_hour.entry(*h).or_default().1.push(i);
            }
        }
        let mut hours: Vec<_> = by_hour.into_iter().collect();
        hours.sort_by_key(|h| h.0);
        for (h, (ri, si)) in hours {
            let first = ri
                .first()
                .and_then(|&i| records.get(i))
                .map_or(0, |r| r.first_seen_us);
            let opts = self.opts.clone();
            let part = self.part(h, first)?;
            part.flows
                .write_each(ri.iter().filter_map(|&i| records.get(i)))?;
            if !si.is_empty() {
                let sink = match part.streams.as_mut() {
                    Some(s) => s,
                    None => {
                        if let Some(d) = part.streams_path.parent() {
                            std::fs::create_dir_all(d).map_err(|source| WriterError::Io {
                                path: d.to_path_buf(),
                                source,
                            })?;
                        }
                        part.streams
                            .insert(StreamsSink::create_table(&part.streams_path, opts)?)
                    }
                };
                sink.write_each(si.iter().filter_map(|&i| streams.get(i)))?;
            }
        }
        Ok(())
    }

    /// Appends call rows, each to the hour of its `first_seen`.
    ///
    /// # Errors
    /// A part could not be created, written or closed.
    pub fn write_calls(&mut self, calls: &[CallRecord]) -> Result<(), WriterError> {
        for c in calls {
            let opts = self.opts.clone();
            let part = self.part(hour_index(c.call.first_us), c.call.first_us)?;
            let sink = match part.calls.as_mut() {
                Some(s) => s,
                None => {
                    if let Some(d) = part.calls_path.parent() {
                        std::fs::create_dir_all(d).map_err(|source| WriterError::Io {
                            path: d.to_path_buf(),
                            source,
                        })?;
                    }
                    part.calls
                        .insert(ParquetSink::create_table(&part.calls_path, opts)?)
                }
            };
            sink.write(std::slice::from_ref(c))?;
        }
        Ok(())
    }

    fn part(&mut self, hour: i64, first_us: i64) -> Result<&mut Part, WriterError> {
        self.clock += 1;
        if !self.open.contains_key(&hour) {
            if self.open.len() >= OPEN_PARTITIONS {
                let oldest = self
                    .open
                    .iter()
                    .min_by_key(|(_, part)| part.last_used)
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.close(k)?;
                }
            }
            let part = self.open_part(&Partition::of(first_us), first_us)?;
            self.open.insert(hour, part);
        }
        let clock = self.clock;
        let part = self.open.get_mut(&hour).ok_or_else(|| WriterError::Io {
            path: self.root.clone(),
            source: std::io::Error::other("partition vanished"),
        })?;
        part.last_used = clock;
        Ok(part)
    }

    fn open_part(&mut self, p: &Partition, first_us: i64) -> Result<Part, WriterError> {
        let fdir = p.dir(&self.root.join("flows"));
        let sdir = p.dir(&self.root.join("streams"));
        let cdir = p.dir(&self.root.join("calls"));
        std::fs::create_dir_all(&fdir).map_err(|source| WriterError::Io {
            path: fdir.clone(),
            source,
        })?;
        let stamp = chrono::DateTime::from_timestamp_micros(first_us)
            .unwrap_or_default()
            .format("%Y%m%dT%H%M%S%.6fZ");
        // Never reuse a name: an earlier run may have it, and a concurrent
        // run of the same sensor differs by its run id.
        let name = loop {
            self.seq += 1;
            let name = format!(
                "part-{stamp}-{}-{}-{:06}.parquet",
                self.sensor, self.run, self.seq
            );
            let taken = [&fdir, &sdir, &cdir]
                .iter()
                .any(|d| d.join(&name).exists() || crate::sink::temp_path(&d.join(&name)).exists());
            if !taken {
                break name;
            }
        };
        let flows = ParquetSink::create(&fdir.join(&name), self.opts.clone())?;
        Ok(Part {
            flows,
            calls: None,
            calls_path: cdir.join(&name),
            streams: None,
            streams_path: sdir.join(&name),
            last_used: self.clock,
        })
    }

    /// Closes one partition's parts; they are renamed when the run completes.
    fn close(&mut self, hour: i64) -> Result<(), WriterError> {
        let Some(part) = self.open.remove(&hour) else {
            return Ok(());
        };
        let s = match part.streams {
            Some(s) => Some(s.finish_unrenamed(self.meta.clone())?),
            None => None,
        };
        if let Some(c) = part.calls {
            self.closed_calls
                .push(c.finish_unrenamed(self.meta.clone())?);
        }
        let f = part.flows.finish_unrenamed(self.meta.clone())?;
        self.closed.push((s, f));
        Ok(())
    }

    /// Closes every open part with `meta` and returns what the run wrote.
    ///
    /// # Errors
    /// A part could not be finished or renamed; the parts not yet renamed
    /// are removed.
    pub fn finish(mut self, meta: Vec<(String, String)>) -> Result<DatasetTotals, WriterError> {
        self.meta = meta;
        let mut keys: Vec<i64> = self.open.keys().copied().collect();
        keys.sort_unstable();
        for k in keys {
            self.close(k)?;
        }
        // Streams first, so a flows part never appears without its streams.
        let closed = std::mem::take(&mut self.closed);
        let (streams, flows): (Vec<_>, Vec<_>) = closed.into_iter().unzip();
        let mut renamed: Vec<PathBuf> = Vec::new();
        let store = self.opts.store.clone();
        let root = self.root.clone();
        // With object storage the part is sent under its final key instead
        // of renamed: the local directory is only the staging area.
        let commit = |f: UncommittedFile, renamed: &mut Vec<PathBuf>| {
            let path = f.path().to_path_buf();
            let n = match &store {
                Some(s) => f.upload(s, &rel_key(&root, &path))?,
                None => f.commit()?,
            };
            renamed.push(path);
            Ok::<u64, WriterError>(n)
        };
        let mut outcome = Ok(());
        for s in streams.into_iter().flatten() {
            match commit(s, &mut renamed) {
                Ok(n) => self.totals.stream_rows += n,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if outcome.is_ok() {
            for c in std::mem::take(&mut self.closed_calls) {
                match commit(c, &mut renamed) {
                    Ok(n) => self.totals.call_rows += n,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
        }
        if outcome.is_ok() {
            for f in flows {
                match commit(f, &mut renamed) {
                    Ok(n) => {
                        self.totals.rows += n;
                        self.totals.parts += 1;
                    }
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
        }
        // A rename failed: take back the ones done, so the run adds nothing
        // (the parts not renamed are removed as they drop).
        if let Err(e) = outcome {
            for p in renamed {
                match &self.opts.store {
                    Some(s) => {
                        if let Err(d) = s.delete(&rel_key(&self.root, &p)) {
                            // A complete part stays: never half a one.
                            tracing::warn!(error = %d, "could not take back a part of a failed run");
                        }
                    }
                    None => {
                        let _ = std::fs::remove_file(p);
                    }
                }
            }
            return Err(e);
        }
        Ok(self.totals.clone())
    }

    /// Drops every part's temporary files: the run adds nothing.
    pub fn abort(mut self) {
        // Dropping an `UncommittedFile` removes its temporary file.
        self.closed.clear();
        self.closed_calls.clear();
        for (_, part) in self.open.drain() {
            if let Some(c) = part.calls {
                c.abort();
            }
            part.flows.abort();
            if let Some(s) = part.streams {
                s.abort();
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::options::Compression;

    fn files(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(dir).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    /// Six hours, one record each: the first two hours are closed (LRU)
    /// before the run ends.
    fn six_hours(root: &Path) -> DatasetSink {
        let opts = WriterOptions {
            compression: Compression::Zstd,
            run_id: "abc-123-def".into(),
            sensor: "edge 1".into(),
            store: None,
        };
        let mut d = DatasetSink::create(root, opts, Vec::new()).unwrap();
        for h in 0..6i64 {
            let mut r = FlowRecord::example();
            r.flow_id = h;
            r.first_seen_us = 1_795_248_000_000_000 + h * 3_600_000_000;
            d.write(&[r], &[]).unwrap();
        }
        d
    }

    #[test]
    fn parts_appear_only_when_the_run_completes() {
        let dir = tempfile::tempdir().unwrap();
        let d = six_hours(dir.path());
        let before = files(dir.path());
        assert_eq!(before.len(), 6);
        assert!(
            before
                .iter()
                .all(|f| f.contains("/.part-") && f.ends_with(".inprogress")),
            "{before:?}"
        );
        let t = d.finish(vec![("k".into(), "v".into())]).unwrap();
        assert_eq!((t.rows, t.stream_rows, t.parts), (6, 0, 6));
        let after = files(dir.path());
        assert_eq!(after.len(), 6);
        assert_eq!(
            after[0],
            "flows/date=2026-11-21/hour=10/part-20261121T100000.000000Z-edge_1-abc123de-000003.parquet"
        );
    }

    #[test]
    fn an_aborted_run_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        six_hours(dir.path()).abort();
        assert_eq!(files(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn partitions_are_utc_date_and_hour() {
        // 2026-11-21 13:59:59.999999 UTC and the next µs.
        let t = 1_795_269_599_999_999;
        assert_eq!(
            Partition::of(t),
            Partition {
                date: "2026-11-21".into(),
                hour: 13
            }
        );
        assert_eq!(Partition::of(t + 1).hour, 14);
        assert_eq!(
            Partition::of(t).dir(Path::new("out/flows")),
            PathBuf::from("out/flows/date=2026-11-21/hour=13")
        );
        assert_eq!(
            Partition::of(1_795_248_000_000_000).dir(Path::new("f")),
            PathBuf::from("f/date=2026-11-21/hour=8"),
            "unpadded, so engines infer an integer"
        );
    }
}
