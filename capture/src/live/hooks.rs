//! What a live capture hangs on the pipeline: gauges the workers, the
//! writer and the capture threads update (read by the stats line, the
//! metrics endpoint and each file's metadata), and the rotation policy the
//! writer asks whether to close its files now.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters shared across threads; each is written by one thread only.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Frames the capture threads handed on.
    pub packets: AtomicU64,
    /// libpcap's received, summed over interfaces.
    pub received: AtomicU64,
    /// libpcap's dropped (kernel buffer full), summed over interfaces.
    pub kernel_dropped: AtomicU64,
    /// libpcap's if_dropped (dropped by the interface or driver).
    pub if_dropped: AtomicU64,
    /// Live flows per worker.
    flows_live: Vec<AtomicU64>,
    /// Evictions per worker (table full).
    evicted: Vec<AtomicU64>,
    /// Flow rows in files renamed to their final names.
    pub rows_written: AtomicU64,
    /// Flow files renamed to their final names.
    pub files_written: AtomicU64,
    /// Rows lost to output errors (disk full, unwritable directory).
    pub rows_lost: AtomicU64,
    /// Output errors (each followed by a retry at the next rotation).
    pub write_errors: AtomicU64,
    /// Hour partitions removed by retention or the free-space guard.
    pub partitions_removed: AtomicU64,
    /// Bytes those partitions held.
    pub bytes_removed: AtomicU64,
    /// Bytes free on the output's disk, at the last look.
    pub disk_free: AtomicU64,
    /// The free-space floor of the output's disk, bytes (0: none).
    pub disk_floor: AtomicU64,
    /// Unix time of the last rotation (or of the start).
    pub last_rotation: AtomicU64,
    /// Unix time of the last packet handed on.
    pub last_packet: AtomicU64,
    /// Office 365 media flows (Teams/Skype calls) whose egress is an
    /// Internet edge rather than ExpressRoute.
    pub o365_media_internet: AtomicU64,
    /// Learned edges re-decided because their share changed (failovers).
    pub edges_redecided: AtomicU64,
    /// Reloads of the config on SIGHUP, and those refused.
    pub reloads: AtomicU64,
    /// Reloads refused (a bad file: the old knowledge is kept).
    pub reloads_failed: AtomicU64,
}

/// A snapshot of [`Gauges`], as logged and written to file metadata.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Snapshot {
    /// Frames handed on by the capture threads.
    pub packets: u64,
    /// libpcap received.
    pub received: u64,
    /// libpcap dropped (kernel).
    pub kernel_dropped: u64,
    /// libpcap if_dropped.
    pub if_dropped: u64,
    /// Live flows over all workers.
    pub flows_live: u64,
    /// Evictions over all workers.
    pub evicted: u64,
    /// Flow rows in final files.
    pub rows_written: u64,
    /// Final flow files.
    pub files_written: u64,
    /// Rows lost to output errors.
    pub rows_lost: u64,
    /// Output errors.
    pub write_errors: u64,
    /// Hour partitions removed.
    pub partitions_removed: u64,
    /// Bytes removed with them.
    pub bytes_removed: u64,
    /// Bytes free on the output's disk.
    pub disk_free: u64,
    /// The free-space floor, bytes.
    pub disk_floor: u64,
    /// Unix time of the last rotation.
    pub last_rotation: u64,
    /// Unix time of the last packet.
    pub last_packet: u64,
    /// Office 365 media flows seen on an Internet edge.
    pub o365_media_internet: u64,
    /// Learned edges re-decided (failovers).
    pub edges_redecided: u64,
    /// Config reloads done.
    pub reloads: u64,
    /// Config reloads refused.
    pub reloads_failed: u64,
}

impl Gauges {
    /// Gauges for `workers` flow workers.
    pub fn new(workers: usize) -> Self {
        Gauges {
            flows_live: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            evicted: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            ..Gauges::default()
        }
    }

    /// A worker's table size and eviction count.
    pub fn worker(&self, w: usize, live: usize, evicted: u64) {
        if let Some(g) = self.flows_live.get(w) {
            g.store(live as u64, Ordering::Relaxed);
        }
        if let Some(g) = self.evicted.get(w) {
            g.store(evicted, Ordering::Relaxed);
        }
    }

    /// Sets a gauge.
    pub fn set(gauge: &AtomicU64, v: u64) {
        gauge.store(v, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> Snapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let sum = |v: &[AtomicU64]| v.iter().map(get).sum();
        Snapshot {
            packets: get(&self.packets),
            received: get(&self.received),
            kernel_dropped: get(&self.kernel_dropped),
            if_dropped: get(&self.if_dropped),
            flows_live: sum(&self.flows_live),
            evicted: sum(&self.evicted),
            rows_written: get(&self.rows_written),
            files_written: get(&self.files_written),
            rows_lost: get(&self.rows_lost),
            write_errors: get(&self.write_errors),
            partitions_removed: get(&self.partitions_removed),
            bytes_removed: get(&self.bytes_removed),
            disk_free: get(&self.disk_free),
            disk_floor: get(&self.disk_floor),
            last_rotation: get(&self.last_rotation),
            last_packet: get(&self.last_packet),
            o365_media_internet: get(&self.o365_media_internet),
            edges_redecided: get(&self.edges_redecided),
            reloads: get(&self.reloads),
            reloads_failed: get(&self.reloads_failed),
        }
    }
}

impl crate::pipeline::Observer for Gauges {
    fn worker(&self, w: usize, live: usize, evicted: u64) {
        Gauges::worker(self, w, live, evicted);
    }

    fn edges_redecided(&self, total: u64) {
        // Every worker reads the same shared count: the largest is current.
        self.edges_redecided.fetch_max(total, Ordering::Relaxed);
    }
}

/// When the writer closes its files and starts new ones.
#[derive(Debug)]
pub struct Rotation {
    /// Wall time between rotations.
    pub interval: Duration,
    /// Rows after which a rotation comes early (0: no limit).
    pub rows: u64,
    /// Set by SIGHUP: rotate now.
    pub now: Arc<AtomicBool>,
    last: Mutex<Instant>,
}

impl Rotation {
    /// A policy starting its first interval now.
    pub fn new(interval: Duration, rows: u64, now: Arc<AtomicBool>) -> Self {
        Rotation {
            interval,
            rows,
            now,
            last: Mutex::new(Instant::now()),
        }
    }

    /// Whether files holding `rows` rows are due to close; a yes starts the
    /// next interval.
    pub fn due(&self, rows: u64) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        let hup = self.now.swap(false, Ordering::Relaxed);
        let due = hup || last.elapsed() >= self.interval || (self.rows > 0 && rows >= self.rows);
        if due {
            *last = Instant::now();
        }
        due
    }
}

/// Where a reload leaves the metadata of the files opened after it.
pub type NextMeta = Arc<Mutex<Option<Vec<(String, String)>>>>;

/// The hooks of a live run.
#[derive(Clone, Debug)]
pub struct LiveHooks {
    /// Shared counters.
    pub gauges: Arc<Gauges>,
    /// Rotation policy.
    pub rotation: Arc<Rotation>,
    /// Metadata for the files opened after a reload (taken at rotation).
    pub next_meta: NextMeta,
}

impl LiveHooks {
    /// The metadata of a file closed now: `base` plus the counters.
    pub fn metadata(&self, base: &[(String, String)]) -> Vec<(String, String)> {
        let mut m = base.to_vec();
        m.push((
            "pathlens.live_counters".into(),
            serde_json::to_string(&self.gauges.snapshot()).unwrap_or_default(),
        ));
        m
    }
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rotation_is_due_on_rows_on_hup_and_on_time() {
        let hup = Arc::new(AtomicBool::new(false));
        let r = Rotation::new(Duration::from_secs(3600), 10, Arc::clone(&hup));
        assert!(!r.due(9));
        assert!(r.due(10));
        hup.store(true, Ordering::Relaxed);
        assert!(r.due(0));
        assert!(!r.due(0), "a SIGHUP rotates once");
        let r = Rotation::new(Duration::ZERO, 0, hup);
        assert!(r.due(0));
    }

    #[test]
    fn gauges_sum_workers() {
        let g = Gauges::new(2);
        g.worker(0, 3, 1);
        g.worker(1, 4, 2);
        g.worker(7, 100, 100);
        let s = g.snapshot();
        assert_eq!((s.flows_live, s.evicted), (7, 3));
    }
}
