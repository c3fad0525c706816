//! The writer of a live run: the dataset's files are closed and renamed at
//! every rotation (interval, row count or SIGHUP) rather than at the end, so
//! rows reach readers while the capture goes on. An output error (disk
//! full, directory unwritable) is logged and counted; the files of that
//! window are removed, never left half-written under a final name, the
//! rows meanwhile are counted as lost, and the next rotation tries again.

use super::LiveHooks;
use crate::pipeline::writer::{take_streams, WriterMsg, WriterOutcome};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use pathlens_export::{CallHold, CallRecord, DatasetSink, StreamRecord, Summary, WriterOptions};
use std::path::PathBuf;
use std::time::Duration;

/// How often the writer looks at the rotation policy when no rows come.
const POLL: Duration = Duration::from_millis(200);

struct Rotor {
    root: Option<PathBuf>,
    opts: WriterOptions,
    meta: Vec<(String, String)>,
    hooks: LiveHooks,
    sink: Option<DatasetSink>,
    // Rows handed to the current sink since the last rotation.
    pending: u64,
    out: WriterOutcome,
}

impl Rotor {
    fn open(&mut self) {
        let Some(root) = &self.root else { return };
        match DatasetSink::create(root, self.opts.clone(), self.meta.clone()) {
            Ok(s) => self.sink = Some(s),
            Err(e) => self.failed(&e.to_string()),
        }
    }

    fn failed(&mut self, e: &str) {
        let g = &self.hooks.gauges;
        crate::live::Gauges::add(&g.write_errors, 1);
        crate::live::Gauges::add(&g.rows_lost, self.pending);
        self.out.lost += self.pending;
        tracing::error!(
            error = %e,
            rows_lost = self.pending,
            "output failed; capture goes on, retrying at the next rotation"
        );
        self.pending = 0;
    }

    fn write(
        &mut self,
        recs: &[pathlens_export::FlowRecord],
        streams: &[StreamRecord],
        calls: &[CallRecord],
    ) {
        let n = recs.len() as u64;
        let Some(s) = self.sink.as_mut() else {
            self.out.lost += n;
            crate::live::Gauges::add(&self.hooks.gauges.rows_lost, n);
            return;
        };
        self.pending += n;
        if let Err(e) = s.write(recs, streams).and_then(|()| s.write_calls(calls)) {
            if let Some(s) = self.sink.take() {
                s.abort();
            }
            self.failed(&e.to_string());
        }
    }

    /// Closes and renames the current files; opens new ones unless `last`.
    fn rotate(&mut self, meta: &[(String, String)], last: bool) {
        if let Some(s) = self.sink.take() {
            match s.finish(self.hooks.metadata(meta)) {
                Ok(t) => {
                    let g = &self.hooks.gauges;
                    crate::live::Gauges::add(&g.files_written, t.parts);
                    crate::live::Gauges::add(&g.rows_written, t.rows);
                    self.out.rows += t.rows;
                    self.out.stream_rows += t.stream_rows;
                    self.out.call_rows += t.call_rows;
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

/// Runs the writer of a live run until the pipeline finishes.
pub(crate) fn writer(
    rx: Receiver<WriterMsg>,
    output: Option<(PathBuf, bool)>,
    opts: WriterOptions,
    meta: Vec<(String, String)>,
    hooks: LiveHooks,
) -> WriterOutcome {
    let mut r = Rotor {
        root: output.map(|(p, _)| p),
        opts,
        meta,
        hooks,
        sink: None,
        pending: 0,
        out: WriterOutcome {
            summary: Summary::default(),
            rows: 0,
            stream_rows: 0,
            call_rows: 0,
            lost: 0,
            error: None,
        },
    };
    r.open();
    let mut streams: Vec<StreamRecord> = Vec::new();
    // Rows of call flows wait here until their call has ended, so calls
    // reach the dataset as they end.
    let mut hold = CallHold::live();
    let mut finished = false;
    loop {
        match rx.recv_timeout(POLL) {
            Ok(WriterMsg::Records(recs)) => {
                let (mut recs, calls) = hold.pass(recs);
                // No summary: it keeps a figure per media stream, which would grow
                // for as long as the sensor runs, and a live run prints none.
                take_streams(&mut recs, None, &mut streams);
                r.write(&recs, &streams, &calls);
            }
            Ok(WriterMsg::Finish(m)) => {
                let (mut recs, calls) = hold.finish();
                take_streams(&mut recs, None, &mut streams);
                r.write(&recs, &streams, &calls);
                r.rotate(&m, true);
                finished = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if !finished && r.hooks.rotation.due(r.pending) {
            let m = r.meta.clone();
            r.rotate(&m, false);
        }
    }
    if !finished {
        let (mut recs, calls) = hold.finish();
        take_streams(&mut recs, None, &mut streams);
        r.write(&recs, &streams, &calls);
        let m = r.meta.clone();
        r.rotate(&m, true);
    }
    r.out
}
