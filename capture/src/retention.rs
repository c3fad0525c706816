//! Retention of the dataset a run writes (`--retention`, `--max-size`) and
//! the free-space guard (`--min-free`): whole hour partitions are removed,
//! oldest first, as [`pathlens_export::retention::plan`] decides, and each
//! removal is logged. `live` prunes at start, at each rotation and whenever
//! the disk drops below its floor; `read` prunes before it writes.
//!
//! A dataset on object storage (`az://`, `s3://`) is pruned by the same rule
//! over the store's listing. It has no disk to keep free, so `--min-free`
//! is refused there and `live`'s default floor does not apply.

use pathlens_export::retention::{self, HourPartition, Policy};
use pathlens_export::Store;
use std::path::PathBuf;
use std::time::Duration;

const HOUR_US: i64 = 3_600_000_000;

/// The free-space floor `live` keeps unless told otherwise.
pub const DEFAULT_LIVE_FLOOR: Floor = Floor::Percent(2.0);

/// `--retention`, `--max-size` and `--min-free`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RetentionArgs {
    /// Remove the dataset's hour partitions once their hour ended longer ago than AGE (30d, 12h…); never the hour being written.
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,
    /// Remove the oldest hour partitions while the dataset is larger than SIZE (500G, 20M, bytes).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// Free-space floor of the dataset's disk: below it the oldest hour partitions are removed before writing (SIZE or N%; 0 turns it off; live: 2% unless given; refused for az:// and s3://, which have no disk).
    #[arg(long, value_name = "SIZE|N%", value_parser = parse_floor)]
    pub min_free: Option<Floor>,
}

/// A free-space floor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Floor {
    /// Bytes.
    Bytes(u64),
    /// Percent of the filesystem's size.
    Percent(f64),
}

impl Floor {
    /// The floor in bytes on a filesystem of `total` bytes.
    pub fn bytes(self, total: u64) -> u64 {
        match self {
            Floor::Bytes(b) => b,
            Floor::Percent(p) => (total as f64 * p / 100.0) as u64,
        }
    }
}

/// A size: bytes, or a number with K, M, G or T (powers of 1024; a
/// trailing B or iB is allowed).
///
/// # Errors
/// Not a size.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("{s:?}: expected a size like 500M, 20G or 1T")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a size like 500M, 20G or 1T"))?;
    if !(n >= 0.0 && n.is_finite()) {
        return Err(format!("{s:?}: a size is not negative"));
    }
    Ok((n * mult as f64) as u64)
}

/// A floor: a size, or a percentage of the disk (`5%`).
///
/// # Errors
/// Neither.
pub fn parse_floor(s: &str) -> Result<Floor, String> {
    if let Some(p) = s.trim().strip_suffix('%') {
        let p: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: expected N% or a size"))?;
        if !(0.0..=100.0).contains(&p) {
            return Err(format!("{s:?}: a percentage is 0 to 100"));
        }
        return Ok(Floor::Percent(p));
    }
    parse_size(s).map(Floor::Bytes)
}

/// What one pruning pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Hour partitions removed.
    pub partitions: u64,
    /// Bytes they held.
    pub bytes: u64,
    /// Partitions that could not be removed.
    pub errors: u64,
    /// The disk is still below its floor: nothing older was left to remove.
    pub below_floor: bool,
}

/// Where the pruned dataset lives.
#[derive(Clone, Debug)]
enum Home {
    Dir(PathBuf),
    Store(Store),
}

/// Prunes one dataset: a directory or a prefix on object storage.
#[derive(Clone, Debug)]
pub struct Pruner {
    home: Home,
    policy: Policy,
    floor: Option<Floor>,
}

fn is_off(f: Floor) -> bool {
    f == Floor::Bytes(0) || f == Floor::Percent(0.0)
}

impl Pruner {
    /// A pruner of the dataset at `root`; `None` when nothing is asked
    /// (no age, no size, no floor or a zero floor).
    pub fn new(root: PathBuf, args: &RetentionArgs, default_floor: Option<Floor>) -> Option<Self> {
        let floor = args.min_free.or(default_floor).filter(|f| !is_off(*f));
        let policy = Policy {
            max_age: args.retention,
            max_bytes: args.max_size,
        };
        (policy != Policy::default() || floor.is_some()).then_some(Pruner {
            home: Home::Dir(root),
            policy,
            floor,
        })
    }

    /// A pruner of the dataset on `store`; `None` when neither an age nor a
    /// size is asked.
    ///
    /// # Errors
    /// A free-space floor (other than 0) was asked: object storage has no
    /// disk to keep free, and a flag that silently did nothing would leave
    /// the operator believing the dataset is bounded.
    pub fn for_store(store: Store, args: &RetentionArgs) -> Result<Option<Self>, String> {
        if let Some(f) = args.min_free.filter(|f| !is_off(*f)) {
            let shown = match f {
                Floor::Bytes(b) => format!("{b} bytes"),
                Floor::Percent(p) => format!("{p}%"),
            };
            return Err(format!(
                "--min-free {shown}: {} is object storage, which has no disk to keep free; \
                 bound it with --retention AGE or --max-size SIZE (the local staging \
                 directory only holds the parts of the rotation being written)",
                store.url()
            ));
        }
        let policy = Policy {
            max_age: args.retention,
            max_bytes: args.max_size,
        };
        Ok((policy != Policy::default()).then_some(Pruner {
            home: Home::Store(store),
            policy,
            floor: None,
        }))
    }

    /// Bytes free on the dataset's disk, and how many more the floor asks
    /// (`None` on object storage).
    pub fn room(&self) -> Option<(u64, u64)> {
        let Home::Dir(root) = &self.home else {
            return None;
        };
        let (avail, total) = crate::os::disk_space(root).ok()?;
        let want = self.floor.map_or(0, |f| f.bytes(total));
        Some((avail, want.saturating_sub(avail)))
    }

    /// The floor in bytes on the dataset's disk (0: none).
    pub fn floor_bytes(&self) -> u64 {
        let Home::Dir(root) = &self.home else {
            return 0;
        };
        let total = crate::os::disk_space(root).map_or(0, |(_, t)| t);
        self.floor.map_or(0, |f| f.bytes(total))
    }

    /// Whether the disk is below its floor.
    pub fn below_floor(&self) -> bool {
        self.room().is_some_and(|(_, need)| need > 0)
    }

    /// Removes what the policy and the floor ask at `now_us`, logging each
    /// partition removed.
    pub fn prune(&self, now_us: i64) -> Pruned {
        let need = self.room().map_or(0, |(_, need)| need);
        let mut done = Pruned::default();
        let Some(parts) = self.list() else {
            done.errors += 1;
            return done;
        };
        for (p, reason) in retention::plan(&parts, now_us, &self.policy, need) {
            let rel = p.rel_dir();
            match self.remove(&p) {
                Ok(()) => {
                    done.partitions += 1;
                    done.bytes += p.bytes;
                    tracing::info!(
                        target: "pathlens::health",
                        partition = %rel.display(),
                        bytes = p.bytes,
                        reason = reason.as_str(),
                        "partition removed"
                    );
                }
                Err(e) => {
                    done.errors += 1;
                    tracing::warn!(target: "pathlens::health", partition = %rel.display(), error = %e, "cannot remove a partition");
                }
            }
        }
        done.below_floor = need > 0 && self.below_floor();
        done
    }

    /// The dataset's hour partitions; `None` (logged) when the store's
    /// listing failed, so nothing is removed on a partial view.
    fn list(&self) -> Option<Vec<HourPartition>> {
        match &self.home {
            Home::Dir(root) => Some(retention::list(root)),
            Home::Store(store) => match store.partitions() {
                // Objects are complete once visible, and this run's parts
                // are staged locally until then: nothing on the store is busy.
                Ok(parts) => Some(
                    parts
                        .iter()
                        .filter_map(|p| {
                            Some(HourPartition {
                                hour: p.start_us()?.div_euclid(HOUR_US),
                                bytes: p.bytes,
                                busy: false,
                            })
                        })
                        .collect(),
                ),
                Err(e) => {
                    tracing::warn!(target: "pathlens::health", error = %e, "cannot list the dataset's partitions; nothing removed");
                    None
                }
            },
        }
    }

    fn remove(&self, p: &HourPartition) -> Result<(), String> {
        match &self.home {
            Home::Dir(root) => retention::remove(root, p).map_err(|e| e.to_string()),
            Home::Store(store) => store
                .delete_partition(&p.partition())
                .map(drop)
                .map_err(|e| e.to_string()),
        }
    }
}

/// Now, in µs since the epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes_and_floors_parse() {
        assert_eq!(parse_size("20M"), Ok(20 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12X").is_err() && parse_size("-1G").is_err());
        assert_eq!(parse_floor("5%"), Ok(Floor::Percent(5.0)));
        assert_eq!(parse_floor("1M"), Ok(Floor::Bytes(1 << 20)));
        assert!(parse_floor("101%").is_err());
        assert_eq!(Floor::Percent(2.0).bytes(1000), 20);
    }

    #[test]
    fn nothing_asked_means_no_pruner() {
        let none = RetentionArgs::default();
        assert!(Pruner::new("d".into(), &none, None).is_none());
        let off = RetentionArgs {
            min_free: Some(Floor::Bytes(0)),
            ..RetentionArgs::default()
        };
        assert!(Pruner::new("d".into(), &off, Some(DEFAULT_LIVE_FLOOR)).is_none());
        assert!(Pruner::new("d".into(), &none, Some(DEFAULT_LIVE_FLOOR)).is_some());
    }
}
