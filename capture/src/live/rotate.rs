//! The writer of a live run: the dataset's files are closed and renamed at
//! every rotation (interval, row count or SIGHUP) rather than at the end, so
//! rows reach readers while the capture goes on. An output error (disk
//! full, directory unwritable) is logged and counted; the files of that
//! window are removed, never left half-written under a final name, the
//! rows meanwhile are counted as lost, and the next rotation tries again.

use super::LiveHooks;
use crate::pipeline::{Outlet, OutletTotals};
use pathlens_export::{DatasetSink, FlowRecord, StreamRecord, WriterOptions};
use std::path::PathBuf;

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
}

impl Rotor {
    /// A writer of the dataset at `root` whose files carry `meta`; its
    /// first files are opened now.
    pub fn new(
        root: PathBuf,
        opts: WriterOptions,
        meta: Vec<(String, String)>,
        hooks: LiveHooks,
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
        };
        r.open();
        r
    }

    fn open(&mut self) {
        match DatasetSink::create(&self.root, self.opts.clone(), self.meta.clone()) {
            Ok(s) => self.sink = Some(s),
            Err(e) => self.failed(&e.to_string()),
        }
    }

    fn failed(&mut self, e: &str) {
        let g = &self.hooks.gauges;
        super::Gauges::add(&g.write_errors, 1);
        super::Gauges::add(&g.rows_lost, self.pending);
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
        if let Some(s) = self.sink.take() {
            match s.finish(self.hooks.metadata(meta)) {
                Ok(t) => {
                    let g = &self.hooks.gauges;
                    super::Gauges::add(&g.files_written, t.parts);
                    super::Gauges::add(&g.rows_written, t.rows);
                    self.totals.rows += t.rows;
                    self.totals.stream_rows += t.stream_rows;
                    if t.parts > 0 {
                        tracing::info!(files = t.parts, rows = t.rows, "files rotated");
                    }
                    self.pending = 0;
                }
                Err(e) => self.failed(&e.to_string()),
            }
        }
        if !last {
            self.open();
        }
    }
}

impl Outlet for Rotor {
    fn write(&mut self, recs: &[FlowRecord], streams: &[StreamRecord]) {
        let n = recs.len() as u64;
        let Some(s) = self.sink.as_mut() else {
            self.totals.lost += n;
            super::Gauges::add(&self.hooks.gauges.rows_lost, n);
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
