//! The writer thread: finished records in, Arrow batches and Parquet files
//! out (one flows file and its streams file, or a partitioned dataset), and
//! the run's summary aggregated from the same rows; or, when the run hands
//! it an [`Outlet`], the rows passed on to that.

use super::outlet::{Outlet, OutletTotals, OUTLET_POLL};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use pathlens_export::{
    calls_path, streams_path, CallHold, CallRecord, DatasetSink, FlowRecord, ParquetSink,
    StreamRecord, StreamsSink, Summary, WriterError, WriterOptions,
};
use std::path::{Path, PathBuf};

pub(crate) enum WriterMsg {
    Records(Vec<FlowRecord>),
    Finish(Vec<(String, String)>),
}

pub(crate) struct WriterOutcome {
    pub(crate) summary: Summary,
    /// Rows written, and rows an outlet lost (it logs them and goes on).
    pub(crate) totals: OutletTotals,
    pub(crate) error: Option<String>,
}

/// Where the writer puts rows: one flows file and its streams file, or a
/// partitioned dataset.
enum OutputFiles {
    File(Box<(ParquetSink, StreamsSink, ParquetSink<CallRecord>)>),
    Dataset(Box<DatasetSink>),
}

impl OutputFiles {
    fn create(
        output: &Path,
        dataset: bool,
        opts: WriterOptions,
        meta: Vec<(String, String)>,
    ) -> Result<Self, WriterError> {
        if dataset {
            return DatasetSink::create(output, opts, meta)
                .map(|d| OutputFiles::Dataset(Box::new(d)));
        }
        let f = ParquetSink::create(output, opts.clone())?;
        let s = StreamsSink::create_table(&streams_path(output), opts.clone())?;
        let c = ParquetSink::create_table(&calls_path(output), opts)?;
        Ok(OutputFiles::File(Box::new((f, s, c))))
    }

    fn write_calls(&mut self, calls: &[CallRecord]) -> Result<(), WriterError> {
        match self {
            OutputFiles::File(t) => t.2.write(calls),
            OutputFiles::Dataset(d) => d.write_calls(calls),
        }
    }

    fn write(&mut self, recs: &[FlowRecord], streams: &[StreamRecord]) -> Result<(), WriterError> {
        match self {
            OutputFiles::File(pair) => pair.0.write(recs).and_then(|()| pair.1.write(streams)),
            OutputFiles::Dataset(d) => d.write(recs, streams),
        }
    }

    fn abort(self) {
        match self {
            OutputFiles::File(t) => {
                let (f, s, c) = *t;
                f.abort();
                s.abort();
                c.abort();
            }
            OutputFiles::Dataset(d) => (*d).abort(),
        }
    }

    /// Closes everything; returns (flow rows, stream rows, call rows).
    fn finish(self, meta: Vec<(String, String)>) -> Result<(u64, u64, u64), WriterError> {
        match self {
            OutputFiles::File(t) => {
                let (f, s, c) = *t;
                let s = s.finish_unrenamed(meta.clone())?;
                let c = c.finish_unrenamed(meta.clone())?;
                let f = f.finish_unrenamed(meta)?;
                // Streams and calls first: a flows file never appears without them.
                let n = s.commit()?;
                let k = c.commit()?;
                Ok((f.commit()?, n, k))
            }
            OutputFiles::Dataset(d) => (*d)
                .finish(meta)
                .map(|t| (t.rows, t.stream_rows, t.call_rows)),
        }
    }
}

/// Adds records to the summary, if any, and moves their stream rows to
/// `streams` (cleared first).
fn take_streams(
    recs: &mut [FlowRecord],
    mut summary: Option<&mut Summary>,
    streams: &mut Vec<StreamRecord>,
) {
    streams.clear();
    for r in recs {
        if let Some(s) = summary.as_deref_mut() {
            s.add(r);
        }
        if !r.labels.media.streams.is_empty() {
            if let Some(s) = summary.as_deref_mut() {
                s.add_streams(r, &r.labels.media.streams);
            }
            streams.append(&mut r.labels.media.streams);
        }
    }
}

/// Runs the writer until the pipeline finishes: into `outlet` when there
/// is one, else into the files `output` names (if any).
pub(super) fn writer_thread(
    rx: Receiver<WriterMsg>,
    output: Option<(PathBuf, bool)>,
    opts: WriterOptions,
    meta: Vec<(String, String)>,
    outlet: Option<Box<dyn Outlet>>,
) -> WriterOutcome {
    if let Some(o) = outlet {
        return outlet_writer(rx, o);
    }
    let mut summary = Summary::default();
    summary.add_metadata(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut error: Option<String> = None;
    // Everything written, everything renamed only when complete.
    let mut sinks = match output {
        Some((p, dataset)) => match OutputFiles::create(&p, dataset, opts, meta) {
            Ok(s) => Some(s),
            Err(e) => {
                error = Some(e.to_string());
                None
            }
        },
        None => None,
    };
    let (mut rows, mut stream_rows, mut call_rows) = (0, 0, 0);
    let mut streams: Vec<StreamRecord> = Vec::new();
    // Rows of call flows wait here until their call has ended.
    let mut hold = CallHold::default();
    for msg in rx {
        let (mut recs, calls, finish) = match msg {
            WriterMsg::Records(recs) => {
                let (r, c) = hold.pass(recs);
                (r, c, None)
            }
            WriterMsg::Finish(meta) => {
                let (r, c) = hold.finish();
                (r, c, Some(meta))
            }
        };
        take_streams(&mut recs, Some(&mut summary), &mut streams);
        summary.add_calls(&calls);
        if let Some(s) = sinks.as_mut() {
            let written = s
                .write(&recs, &streams)
                .and_then(|()| s.write_calls(&calls));
            if let Err(e) = written {
                // Keep draining so workers never block; the files are abandoned.
                error = Some(e.to_string());
                if let Some(s) = sinks.take() {
                    s.abort();
                }
            }
        }
        if let Some(meta) = finish {
            if let Some(s) = sinks.take() {
                match s.finish(meta) {
                    Ok(n) => (rows, stream_rows, call_rows) = n,
                    Err(e) => error = Some(e.to_string()),
                }
            }
        }
    }
    WriterOutcome {
        summary,
        totals: OutletTotals {
            rows,
            stream_rows,
            call_rows,
            lost: 0,
        },
        error,
    }
}

/// Passes rows on to `outlet` and gives it the chance to rotate at least
/// every [`OUTLET_POLL`].
fn outlet_writer(rx: Receiver<WriterMsg>, mut outlet: Box<dyn Outlet>) -> WriterOutcome {
    let mut streams: Vec<StreamRecord> = Vec::new();
    // Calls close as they end, so they reach the outlet's files then.
    let mut hold = CallHold::live();
    let mut pass = |outlet: &mut Box<dyn Outlet>, recs: Vec<FlowRecord>, last: bool| {
        let (mut recs, calls) = if last {
            let (mut r, c) = hold.pass(recs);
            let (rest, more) = hold.finish();
            r.extend(rest);
            (r, c.into_iter().chain(more).collect())
        } else {
            hold.pass(recs)
        };
        take_streams(&mut recs, None, &mut streams);
        outlet.write(&recs, &streams);
        outlet.write_calls(&calls);
    };
    let mut finished = false;
    loop {
        match rx.recv_timeout(OUTLET_POLL) {
            Ok(WriterMsg::Records(recs)) => pass(&mut outlet, recs, false),
            Ok(WriterMsg::Finish(m)) => {
                pass(&mut outlet, Vec::new(), true);
                outlet.finish(&m);
                finished = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if !finished {
            outlet.poll();
        }
    }
    if !finished {
        pass(&mut outlet, Vec::new(), true);
        outlet.finish(&[]);
    }
    WriterOutcome {
        summary: Summary::default(),
        totals: outlet.totals(),
        error: None,
    }
}
