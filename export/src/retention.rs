//! Retention of a partitioned dataset: which whole hour partitions go when
//! they are older than an age, when the dataset is over a size, or when the
//! disk needs room. [`plan`] decides over a listing of partitions and does
//! no I/O, so the same rule applies to a directory ([`list`], [`remove`])
//! or to an object store's listing.
//!
//! A partition is the same `date=…/hour=…` under `flows/`, `streams/` and `calls/`:
//! it is listed, sized and removed as one. Never removed: the hour of
//! `now`, an hour after it (a clock that stepped back), and any hour that
//! holds a part still being written (`.inprogress`).

use std::path::{Path, PathBuf};
use std::time::Duration;

const HOUR_US: i64 = 3_600_000_000;

/// One hour partition of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourPartition {
    /// Whole hours since the epoch (UTC).
    pub hour: i64,
    /// Bytes of its files, both tables.
    pub bytes: u64,
    /// A part in it is still being written.
    pub busy: bool,
}

impl HourPartition {
    /// Its date and hour.
    pub fn partition(&self) -> crate::dataset::Partition {
        let t = chrono::DateTime::from_timestamp(self.hour * 3600, 0).unwrap_or_default();
        crate::dataset::Partition {
            date: t.format("%Y-%m-%d").to_string(),
            hour: chrono::Timelike::hour(&t),
        }
    }

    /// Its `date=YYYY-MM-DD/hour=H` path below a table's directory.
    pub fn rel_dir(&self) -> PathBuf {
        let p = self.partition();
        PathBuf::from(format!("date={}", p.date)).join(format!("hour={}", p.hour))
    }
}

/// What is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Partitions whose hour ended longer ago than this go.
    pub max_age: Option<Duration>,
    /// Oldest partitions go while the dataset is larger than this.
    pub max_bytes: Option<u64>,
}

/// Why a partition is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Older than `max_age`.
    Age,
    /// The dataset was over `max_bytes`.
    Size,
    /// The disk was below its free-space floor.
    DiskFree,
}

impl Reason {
    /// The name logged and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Age => "age",
            Reason::Size => "size",
            Reason::DiskFree => "disk_free",
        }
    }
}

/// The partitions to remove from `parts` at `now_us`, oldest first, with
/// why: by age, then the oldest while over `max_bytes`, then the oldest
/// until `need_bytes` more are free.
pub fn plan(
    parts: &[HourPartition],
    now_us: i64,
    policy: &Policy,
    need_bytes: u64,
) -> Vec<(HourPartition, Reason)> {
    let current = now_us.div_euclid(HOUR_US);
    let mut sorted: Vec<&HourPartition> = parts.iter().collect();
    sorted.sort_by_key(|p| p.hour);
    let mut total: u64 = sorted.iter().map(|p| p.bytes).sum();
    let mut freed: u64 = 0;
    let mut out = Vec::new();
    for p in sorted {
        if p.busy || p.hour >= current {
            continue;
        }
        let ended_us = (p.hour + 1).saturating_mul(HOUR_US);
        let age_us = now_us.saturating_sub(ended_us);
        let old = policy
            .max_age
            .is_some_and(|a| age_us >= i64::try_from(a.as_micros()).unwrap_or(i64::MAX));
        let reason = if old {
            Reason::Age
        } else if policy.max_bytes.is_some_and(|m| total > m) {
            Reason::Size
        } else if freed < need_bytes {
            Reason::DiskFree
        } else {
            // Sorted by age: nothing younger goes by age; size and room
            // are met.
            break;
        };
        total = total.saturating_sub(p.bytes);
        freed = freed.saturating_add(p.bytes);
        out.push((p.clone(), reason));
    }
    out
}

/// The hour partitions of the dataset at `root` (its `flows/` and
/// `streams/`), unsorted. Names that are not `date=…/hour=…` are ignored.
pub fn list(root: &Path) -> Vec<HourPartition> {
    let mut parts: Vec<HourPartition> = Vec::new();
    for table in crate::dataset::TABLES {
        let Ok(dates) = std::fs::read_dir(root.join(table)) else {
            continue;
        };
        for d in dates.flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            let Some(day) = name
                .strip_prefix("date=")
                .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            else {
                continue;
            };
            let Ok(hours) = std::fs::read_dir(d.path()) else {
                continue;
            };
            for h in hours.flatten() {
                let hname = h.file_name().to_string_lossy().into_owned();
                let Some(hh) = hname
                    .strip_prefix("hour=")
                    .and_then(|s| s.parse::<i64>().ok())
                    .filter(|h| (0..24).contains(h))
                else {
                    continue;
                };
                let days = day
                    .signed_duration_since(chrono::NaiveDate::default())
                    .num_days();
                let hour = days * 24 + hh;
                let (bytes, busy) = dir_usage(&h.path());
                match parts.iter_mut().find(|p| p.hour == hour) {
                    Some(p) => {
                        p.bytes += bytes;
                        p.busy |= busy;
                    }
                    None => parts.push(HourPartition { hour, bytes, busy }),
                }
            }
        }
    }
    parts
}

/// Bytes of the files in `dir`, and whether one is still being written.
fn dir_usage(dir: &Path) -> (u64, bool) {
    let mut bytes = 0;
    let mut busy = false;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            busy |= name.ends_with(".inprogress");
            bytes += e.metadata().map_or(0, |m| m.len());
        }
    }
    (bytes, busy)
}

/// Removes partition `p` from both tables of the dataset at `root`, and
/// its date directories once empty.
///
/// # Errors
/// A directory cannot be removed.
pub fn remove(root: &Path, p: &HourPartition) -> std::io::Result<()> {
    let rel = p.rel_dir();
    for table in crate::dataset::TABLES {
        let dir = root.join(table).join(&rel);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(date) = dir.parent() {
            // Fails while other hours of the day remain: that is fine.
            let _ = std::fs::remove_dir(date);
        }
    }
    Ok(())
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(hour: i64, bytes: u64) -> HourPartition {
        HourPartition {
            hour,
            bytes,
            busy: false,
        }
    }

    const NOW: i64 = 100 * HOUR_US + 30 * 60_000_000;

    #[test]
    fn age_removes_whole_past_hours_only() {
        let parts = [p(97, 1), p(98, 1), p(99, 1), p(100, 1)];
        let policy = Policy {
            max_age: Some(Duration::from_secs(3600)),
            max_bytes: None,
        };
        // Hour 98 ended 1.5 h ago, hour 99 half an hour ago.
        let hours: Vec<i64> = plan(&parts, NOW, &policy, 0)
            .iter()
            .map(|(p, _)| p.hour)
            .collect();
        assert_eq!(hours, vec![97, 98]);
        // Age zero still keeps the hour being written.
        let policy = Policy {
            max_age: Some(Duration::ZERO),
            max_bytes: None,
        };
        assert_eq!(plan(&parts, NOW, &policy, 0).len(), 3);
    }

    #[test]
    fn size_and_room_remove_oldest_first_never_busy_or_current() {
        let mut parts = vec![p(100, 50), p(96, 10), p(99, 10), p(97, 10), p(98, 10)];
        parts[3].busy = true;
        let policy = Policy {
            max_age: None,
            max_bytes: Some(75),
        };
        let got: Vec<(i64, Reason)> = plan(&parts, NOW, &policy, 0)
            .into_iter()
            .map(|(p, r)| (p.hour, r))
            .collect();
        assert_eq!(got, vec![(96, Reason::Size), (98, Reason::Size)]);
        let got: Vec<i64> = plan(&parts, NOW, &Policy::default(), 15)
            .into_iter()
            .map(|(p, _)| p.hour)
            .collect();
        assert_eq!(got, vec![96, 98], "97 is busy, 100 is the current hour");
        assert!(plan(&parts, NOW, &Policy::default(), 0).is_empty());
    }

    #[test]
    fn a_directory_is_listed_and_removed_by_whole_hours() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for (t, h, f) in [
            ("flows", "date=1970-01-05/hour=3", "part-a.parquet"),
            ("streams", "date=1970-01-05/hour=3", "part-a.parquet"),
            (
                "flows",
                "date=1970-01-05/hour=4",
                ".part-b.parquet.inprogress",
            ),
            ("flows", "date=1970-01-05/hour=x", "junk"),
        ] {
            std::fs::create_dir_all(root.join(t).join(h)).unwrap();
            std::fs::write(root.join(t).join(h).join(f), b"12345").unwrap();
        }
        let mut parts = list(root);
        parts.sort_by_key(|p| p.hour);
        let h3 = 4 * 24 + 3;
        assert_eq!(
            parts,
            vec![
                HourPartition {
                    hour: h3,
                    bytes: 10,
                    busy: false
                },
                HourPartition {
                    hour: h3 + 1,
                    bytes: 5,
                    busy: true
                },
            ]
        );
        assert_eq!(parts[0].rel_dir(), PathBuf::from("date=1970-01-05/hour=3"));
        remove(root, &parts[0]).unwrap();
        assert!(!root.join("flows/date=1970-01-05/hour=3").exists());
        assert!(
            !root.join("streams/date=1970-01-05").exists(),
            "empty day removed"
        );
        assert!(root.join("flows/date=1970-01-05/hour=4").exists());
    }
}
