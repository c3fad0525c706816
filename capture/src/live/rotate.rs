//! The writer of a live run: the dataset's files are closed and renamed at
//! every rotation (interval, row count or SIGHUP) rather than at the end, so
//! rows reach readers while the capture goes on. An output error (disk
//! full, directory unwritable) is logged and counted; the files of that
//! window are removed, never left half-written under a final name, the
//! rows meanwhile are counted as lost, and the next rotation tries again.
//!
//! Retention runs here too: at each rotation, and whenever the disk is
//! below its free-space floor, so old hours make room before new rows are
//! lost.

use super::{Gauges, LiveHooks};
use crate::pipeline::{Outlet, OutletTotals};
use crate::retention::{now_us, Pruner};
use pathlens_classify::egress::Egress;
use pathlens_classify::TrafficType;
use pathlens_export::{CallRecord, DatasetSink, FlowRecord, StreamRecord, WriterOptions};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often a writer looks at the free space of its disk.
const ROOM_EVERY: Duration = Duration::from_secs(1);

/// The rotating dataset writer, as the pipeline's [`Outlet`].
pub struct Rotor {
    root: PathBuf,
    opts: WriterOptions,
    meta: Vec<(String, String)>,
    hooks: LiveHooks,
    sink: Option<DatasetSink>,
    // Rows handed to the current sink since the last rotation.
    pending: u64,
    totals: OutletTotals,
    finished: bool,
    pruner: Option<Pruner>,
    room_at: Instant,
    // Below the free-space floor at the last look (said once per episode).
    below_floor: bool,
}

impl Rotor {
    /// A writer of the dataset at `root` whose files carry `meta`; its
    /// first files are opened now.
    pub fn new(
        root: PathBuf,
        opts: WriterOptions,
        meta: Vec<(String, String)>,
        hooks: LiveHooks,
        pruner: Option<Pruner>,
    ) -> Self {
        let mut r = Rotor {
            root,
            opts,
            meta,
            hooks,
            sink: None,
            pending: 0,
            totals: OutletTotals::default(),
            finished: false,
            pruner,
            room_at: Instant::now(),
            below_floor: false,
        };
        r.prune();
        Gauges::set(&r.hooks.gauges.last_rotation, unix_secs());
        r.open();
        r
    }

    /// Where a reload leaves the metadata of the files opened after it.
    pub fn next_meta(&self) -> super::hooks::NextMeta {
        std::sync::Arc::clone(&self.hooks.next_meta)
    }

    /// Applies retention and the free-space guard now.
    fn prune(&mut self) {
        let Some(p) = &self.pruner else { return };
        let done = p.prune(now_us());
        if done.below_floor && !self.below_floor {
            tracing::warn!(
                target: "pathlens::health",
                "the disk is below its free-space floor and no older hour is left to remove"
            );
        }
        self.below_floor |= done.below_floor;
        let g = &self.hooks.gauges;
        Gauges::add(&g.partitions_removed, done.partitions);
        Gauges::add(&g.bytes_removed, done.bytes);
        if let Some((free, _)) = p.room() {
            Gauges::set(&g.disk_free, free);
        }
        Gauges::set(&g.disk_floor, p.floor_bytes());
    }

    /// Prunes when the disk went below its floor (looked at once a second).
    fn keep_room(&mut self) {
        if self.room_at.elapsed() < ROOM_EVERY {
            return;
        }
        self.room_at = Instant::now();
        let Some(p) = &self.pruner else { return };
        match p.room() {
            Some((_, need)) if need > 0 => {
                if !self.below_floor {
                    tracing::warn!(
                        target: "pathlens::health",
                        need_bytes = need,
                        "the disk is below its free-space floor; removing the oldest hours"
                    );
                }
                self.below_floor = true;
                self.prune();
            }
            Some((free, _)) => {
                Gauges::set(&self.hooks.gauges.disk_free, free);
                if std::mem::take(&mut self.below_floor) {
                    tracing::warn!(target: "pathlens::health", "the disk is above its free-space floor again");
                }
            }
            None => {}
        }
    }

    fn open(&mut self) {
        match DatasetSink::create(&self.root, self.opts.clone(), self.meta.clone()) {
            Ok(s) => self.sink = Some(s),
            Err(e) => self.failed(&e.to_string()),
        }
    }

    fn failed(&mut self, e: &str) {
        let g = &self.hooks.gauges;
        Gauges::add(&g.write_errors, 1);
        Gauges::add(&g.rows_lost, self.pending);
        self.totals.lost += self.pending;
        tracing::error!(
            error = %e,
            rows_lost = self.pending,
            "output failed; capture goes on, retrying at the next rotation"
        );
        self.pending = 0;
    }

    /// Closes and renames the current files; opens new ones unless `last`.
    fn rotate(&mut self, meta: &[(String, String)], last: bool) {
        // Room first: closing the files writes most of their bytes.
        self.room_at = Instant::now() - ROOM_EVERY;
        self.keep_room();
        if let Some(s) = self.sink.take() {
            match s.finish(self.hooks.metadata(meta)) {
                Ok(t) => {
                    let g = &self.hooks.gauges;
                    Gauges::add(&g.files_written, t.parts);
                    Gauges::add(&g.rows_written, t.rows);
                    self.totals.rows += t.rows;
                    self.totals.stream_rows += t.stream_rows;
                    self.totals.call_rows += t.call_rows;
                    if t.parts > 0 {
                        tracing::info!(files = t.parts, rows = t.rows, "files rotated");
                    }
                    self.pending = 0;
                }
                Err(e) => self.failed(&e.to_string()),
            }
        }
        Gauges::set(&self.hooks.gauges.last_rotation, unix_secs());
        if !last {
            if let Some(m) = self.hooks.next_meta.lock().ok().and_then(|mut m| m.take()) {
                self.meta = m;
            }
            self.prune();
            self.open();
        }
    }
}

/// Now, in whole seconds since the epoch.
fn unix_secs() -> u64 {
    u64::try_from(now_us() / 1_000_000).unwrap_or(0)
}

/// Office 365 media (a Teams or Skype for Business call's streams) that
/// crossed an Internet edge, or was judged to leave by the Internet: the
/// call flows that ExpressRoute was bought for.
pub fn o365_media_on_internet(r: &FlowRecord) -> bool {
    let l = &r.labels;
    l.traffic_type == TrafficType::Media
        && l.egress.o365_endpoint_id.is_some()
        && l.egress.observed_egress.unwrap_or(l.egress.egress) == Egress::Internet
}

impl Outlet for Rotor {
    fn write(&mut self, recs: &[FlowRecord], streams: &[StreamRecord]) {
        let n = recs.len() as u64;
        let media = recs.iter().filter(|r| o365_media_on_internet(r)).count();
        Gauges::add(&self.hooks.gauges.o365_media_internet, media as u64);
        self.keep_room();
        let Some(s) = self.sink.as_mut() else {
            self.totals.lost += n;
            Gauges::add(&self.hooks.gauges.rows_lost, n);
            return;
        };
        self.pending += n;
        if let Err(e) = s.write(recs, streams) {
            if let Some(s) = self.sink.take() {
                s.abort();
            }
            self.failed(&e.to_string());
        }
    }

    fn write_calls(&mut self, calls: &[CallRecord]) {
        let Some(s) = self.sink.as_mut() else {
            return;
        };
        if let Err(e) = s.write_calls(calls) {
            if let Some(s) = self.sink.take() {
                s.abort();
            }
            self.failed(&e.to_string());
        }
    }

    fn poll(&mut self) {
        if !self.finished && self.hooks.rotation.due(self.pending) {
            let m = self.meta.clone();
            self.rotate(&m, false);
        }
    }

    fn finish(&mut self, meta: &[(String, String)]) {
        if self.finished {
            return;
        }
        self.finished = true;
        // A run that ended without its metadata still closes its files.
        let m = if meta.is_empty() {
            self.meta.clone()
        } else {
            meta.to_vec()
        };
        self.rotate(&m, true);
    }

    fn totals(&self) -> OutletTotals {
        self.totals
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn o365_media_counts_only_media_to_office_365_leaving_by_the_internet() {
        let mut r = FlowRecord::example();
        r.labels.traffic_type = TrafficType::Media;
        r.labels.egress.o365_endpoint_id = Some(11);
        r.labels.egress.egress = Egress::Internet;
        assert!(o365_media_on_internet(&r), "judged Internet, no edge seen");
        r.labels.egress.observed_egress = Some(Egress::ExpressRoute);
        assert!(!o365_media_on_internet(&r), "the edge crossed wins");
        r.labels.egress.observed_egress = Some(Egress::Internet);
        r.labels.egress.egress = Egress::ExpressRoute;
        assert!(o365_media_on_internet(&r));
        r.labels.egress.o365_endpoint_id = None;
        assert!(!o365_media_on_internet(&r), "not Office 365");
        r.labels.egress.o365_endpoint_id = Some(11);
        r.labels.traffic_type = TrafficType::Signaling;
        assert!(!o365_media_on_internet(&r), "not media");
    }
}
