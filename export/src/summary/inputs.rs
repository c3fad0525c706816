//! Which files a summary reads: flows files and dataset directories in any
//! mix, each file's streams table beside it, `date=`/`hour=` partitions
//! pruned against the time range, datasets on object storage copied here
//! first (only the partitions in the range); and why reading can fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Why flows could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not Parquet, or is damaged.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// A column could not be read as the summary needs it.
    #[error("{}: column {column}: {source}", path.display())]
    Arrow {
        /// The path.
        path: PathBuf,
        /// The column.
        column: String,
        /// The cause.
        source: arrow::error::ArrowError,
    },
    /// A column the summary needs is not in the file.
    #[error("{}: no column {column} (not a pathlens flows file?)", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
        /// The column.
        column: &'static str,
    },
    /// Nothing to read at a path.
    #[error("{}: no flows file or dataset found", .0.display())]
    NotFound(PathBuf),
    /// A dataset on object storage could not be listed or read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A time bound that does not parse.
    #[error("bad time {0:?}: expected RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)")]
    Time(String),
}

/// A half-open range of `first_seen` times, µs since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub from_us: Option<i64>,
    /// Exclusive upper bound.
    pub to_us: Option<i64>,
}

impl TimeRange {
    /// Whether `t` is inside.
    pub fn contains(&self, t: i64) -> bool {
        self.from_us.is_none_or(|f| t >= f) && self.to_us.is_none_or(|e| t < e)
    }

    /// Whether `[start, end)` meets the range.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.from_us.is_none_or(|f| end > f) && self.to_us.is_none_or(|e| start < e)
    }
}

/// A time given on the command line, in UTC: RFC 3339, `YYYY-MM-DD`, or
/// `YYYY-MM-DDTHH:MM[:SS]` (a space works for the `T`).
///
/// # Errors
/// [`ReadError::Time`] when none of these forms matches.
pub fn parse_time(s: &str) -> Result<i64, ReadError> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
        .ok_or_else(|| ReadError::Time(s.to_string()))
}

const HOUR_US: i64 = 3_600_000_000;

/// The time span a partition directory name covers inside its parent's span.
fn partition_span(name: &str, parent: Option<(i64, i64)>) -> Option<(i64, i64)> {
    if let Some(d) = name.strip_prefix("date=") {
        let start = parse_time(d).ok()?;
        return Some((start, start + 24 * HOUR_US));
    }
    let h: i64 = name.strip_prefix("hour=")?.parse().ok()?;
    let (day, _) = parent?;
    Some((day + h * HOUR_US, day + (h + 1) * HOUR_US))
}

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Every visible `.parquet` file below `dir`, skipping partitions outside
/// `range` and the dot- or underscore-named files writers are still writing.
fn walk(
    dir: &Path,
    range: &TimeRange,
    span: Option<(i64, i64)>,
    out: &mut Vec<PathBuf>,
) -> Result<(), ReadError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = e.path();
        if path.is_dir() {
            let sub = partition_span(&name, span).or(span);
            if sub.is_none_or(|(a, b)| range.overlaps(a, b)) {
                walk(&path, range, sub, out)?;
            }
        } else if name.ends_with(".parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// The files a summary reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Flows files.
    pub flows: BTreeSet<PathBuf>,
    /// Streams files.
    pub streams: BTreeSet<PathBuf>,
    /// Calls files.
    pub calls: BTreeSet<PathBuf>,
}

impl Inputs {
    /// Finds the flows and streams files of `paths`: a flows file (its
    /// streams file beside it), a dataset directory (`flows/`, `streams/`),
    /// a directory inside a dataset's `flows/` (the matching part of
    /// `streams/`), or any directory of flows files.
    ///
    /// # Errors
    /// A path that does not exist or holds no Parquet file.
    pub fn find(paths: &[PathBuf], range: &TimeRange) -> Result<Self, ReadError> {
        let mut inp = Inputs::default();
        for p in paths {
            let before = inp.flows.len();
            if p.is_file() {
                inp.flows.insert(p.clone());
                let s = crate::streams_path(p);
                if s.is_file() {
                    inp.streams.insert(s);
                }
                let c = crate::calls_path(p);
                if c.is_file() {
                    inp.calls.insert(c);
                }
            } else if p.is_dir() {
                let (flows_dir, streams_dir) = dataset_dirs(p);
                let mut files = Vec::new();
                walk(&flows_dir, range, None, &mut files)?;
                let split = streams_dir.is_none();
                for f in files {
                    if split && f.to_string_lossy().ends_with(".streams.parquet") {
                        inp.streams.insert(f);
                    } else if split && f.to_string_lossy().ends_with(".calls.parquet") {
                        inp.calls.insert(f);
                    } else {
                        inp.flows.insert(f);
                    }
                }
                if let Some(s) = streams_dir.filter(|s| s.is_dir()) {
                    let mut files = Vec::new();
                    walk(&s, range, partition_span_of(&s), &mut files)?;
                    inp.streams.extend(files);
                    // The calls table sits beside the streams, same partitions.
                    if let Some(c) = calls_twin(&s).filter(|c| c.is_dir()) {
                        let mut files = Vec::new();
                        walk(&c, range, partition_span_of(&c), &mut files)?;
                        inp.calls.extend(files);
                    }
                }
            } else {
                return Err(ReadError::Io {
                    path: p.clone(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            if inp.flows.len() == before && range == &TimeRange::default() {
                return Err(ReadError::NotFound(p.clone()));
            }
        }
        Ok(inp)
    }
}

/// `ROOT/calls/REL` for a dataset's `ROOT/streams/REL`.
fn calls_twin(streams: &Path) -> Option<PathBuf> {
    let a = streams
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "streams"))?;
    let rel = streams.strip_prefix(a).ok()?;
    Some(a.parent()?.join("calls").join(rel))
}

/// The span of the innermost partition a path is in (for pruning below it).
fn partition_span_of(p: &Path) -> Option<(i64, i64)> {
    let mut span = None;
    for c in p.components() {
        let name = c.as_os_str().to_string_lossy();
        span = partition_span(&name, span).or(span);
    }
    span
}

/// The flows directory to walk and, inside a dataset, its streams twin.
fn dataset_dirs(p: &Path) -> (PathBuf, Option<PathBuf>) {
    if p.join("flows").is_dir() {
        return (p.join("flows"), Some(p.join("streams")));
    }
    for a in p.ancestors() {
        if a.file_name().is_some_and(|n| n == "flows") {
            if let (Some(root), Ok(rel)) = (a.parent(), p.strip_prefix(a)) {
                if root.join("streams").is_dir() {
                    return (p.to_path_buf(), Some(root.join("streams").join(rel)));
                }
            }
        }
    }
    (p.to_path_buf(), None)
}

/// `paths` with each object storage URL (`az://`, `s3://`) replaced by a
/// local copy of its visible parts in `range`; the copies are removed when
/// the returned mirrors drop.
///
/// # Errors
/// An unknown URL scheme, a store that cannot be listed or read, or a URL
/// with nothing in it.
pub fn localize(
    paths: &[PathBuf],
    range: &TimeRange,
) -> Result<(Vec<PathBuf>, Vec<crate::store::fetch::Mirror>), ReadError> {
    let mut out = Vec::with_capacity(paths.len());
    let mut mirrors = Vec::new();
    for p in paths {
        let Some(url) = crate::store::StoreUrl::parse(&p.to_string_lossy())
            .map_err(crate::store::StoreError::from)?
        else {
            out.push(p.clone());
            continue;
        };
        let m = crate::store::fetch::mirror(&url, |rel| key_in_range(rel, range))?;
        if m.objects == 0 && range == &TimeRange::default() {
            return Err(ReadError::NotFound(p.clone()));
        }
        out.push(m.path().to_path_buf());
        mirrors.push(m);
    }
    Ok((out, mirrors))
}

/// Whether the `date=`/`hour=` directories of a key meet `range`.
fn key_in_range(rel: &str, range: &TimeRange) -> bool {
    let dirs = rel.rsplit_once('/').map_or("", |(d, _)| d);
    let span = dirs
        .split('/')
        .fold(None, |span, name| partition_span(name, span).or(span));
    span.is_none_or(|(a, b)| range.overlaps(a, b))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn object_keys_are_pruned_by_their_partition() {
        let r = TimeRange {
            from_us: parse_time("2026-11-21T08:30").ok(),
            to_us: parse_time("2026-11-21T09:00").ok(),
        };
        assert!(key_in_range("flows/date=2026-11-21/hour=8/p.parquet", &r));
        assert!(!key_in_range("flows/date=2026-11-21/hour=9/p.parquet", &r));
        assert!(!key_in_range(
            "streams/date=2026-11-20/hour=8/p.parquet",
            &r
        ));
        assert!(key_in_range("flows.parquet", &r));
        assert!(key_in_range(
            "x/date=2026-11-21/hour=23/p.parquet",
            &TimeRange::default()
        ));
    }
}
