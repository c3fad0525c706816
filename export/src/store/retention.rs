//! Retention on object storage: a dataset's hour partitions with their size
//! and age, and the removal of one whole partition, for the same policy as a
//! local dataset's (`--retention AGE`, `--max-size SIZE`).

use super::{Store, StoreError};
use crate::dataset::Partition;
use std::collections::BTreeMap;

/// One hour partition of a dataset on object storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPartition {
    /// Its date and hour.
    pub partition: Partition,
    /// Bytes of its objects, both tables.
    pub bytes: u64,
    /// Objects, both tables.
    pub objects: usize,
    /// The newest object's last-modified time, µs since the epoch (UTC).
    pub newest_us: i64,
}

impl StoredPartition {
    /// The start of the partition's hour, µs since the epoch (UTC); `None`
    /// for a date that does not parse.
    pub fn start_us(&self) -> Option<i64> {
        let d = chrono::NaiveDate::parse_from_str(&self.partition.date, "%Y-%m-%d").ok()?;
        let t = d.and_hms_opt(self.partition.hour, 0, 0)?;
        Some(t.and_utc().timestamp_micros())
    }
}

/// The partition of a key relative to the dataset
/// (`flows/date=D/hour=H/…` or `streams/…`), if it is in one.
pub fn partition_of(rel: &str) -> Option<Partition> {
    let mut it = rel.split('/');
    let table = it.next()?;
    if table != "flows" && table != "streams" {
        return None;
    }
    let date = it.next()?.strip_prefix("date=")?;
    let hour = it.next()?.strip_prefix("hour=")?.parse().ok()?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    it.next()?;
    Some(Partition {
        date: date.to_string(),
        hour,
    })
}

impl Store {
    /// The dataset's hour partitions, oldest first, with their sizes and
    /// times. Objects outside `flows/` and `streams/` partitions are not
    /// counted (and never removed).
    ///
    /// # Errors
    /// The listing failed.
    pub fn partitions(&self) -> Result<Vec<StoredPartition>, StoreError> {
        let mut by: BTreeMap<Partition, StoredPartition> = BTreeMap::new();
        for table in ["flows", "streams"] {
            for o in self.list(table)? {
                let Some(p) = partition_of(&o.rel) else {
                    continue;
                };
                let e = by.entry(p.clone()).or_insert(StoredPartition {
                    partition: p,
                    bytes: 0,
                    objects: 0,
                    newest_us: i64::MIN,
                });
                e.bytes += o.size;
                e.objects += 1;
                e.newest_us = e.newest_us.max(o.modified_us);
            }
        }
        Ok(by.into_values().collect())
    }

    /// Removes every object of one hour partition: the flows parts first,
    /// so a reader never finds a flows part whose streams are gone. Returns
    /// the objects removed.
    ///
    /// # Errors
    /// A listing or a deletion failed (the objects removed until then stay
    /// removed; a retry finishes the job).
    pub fn delete_partition(&self, p: &Partition) -> Result<usize, StoreError> {
        let mut n = 0;
        for table in ["flows", "streams"] {
            let dir = format!("{table}/date={}/hour={}/", p.date, p.hour);
            for o in self.list(&dir)? {
                self.delete(&o.rel)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn keys_map_to_their_partition() {
        let p = partition_of("flows/date=2026-11-21/hour=8/part-x.parquet").unwrap();
        assert_eq!((p.date.as_str(), p.hour), ("2026-11-21", 8));
        assert_eq!(
            partition_of("streams/date=2026-11-21/hour=23/part-x.parquet"),
            Some(Partition {
                date: "2026-11-21".into(),
                hour: 23
            })
        );
        for other in [
            "flows/date=2026-11-21/hour=8",
            "flows/date=yesterday/hour=8/x",
            "flows/hour=8/date=2026-11-21/x",
            "notes/date=2026-11-21/hour=8/x",
            "flows/date=2026-11-21/hour=x/y",
        ] {
            assert_eq!(partition_of(other), None, "{other}");
        }
        let s = StoredPartition {
            partition: p,
            bytes: 1,
            objects: 1,
            newest_us: 0,
        };
        assert_eq!(s.start_us(), Some(1_795_248_000_000_000));
    }
}
