//! Stopping a `read` early, and watching each input as it is read.
//!
//! The first SIGINT or SIGTERM asks for a clean stop: every input ends at
//! its next frame, so the pipeline flushes the flows read so far, the
//! writer renames complete files and the run ends with its summary (exit
//! 130 or 143, as a shell reports a process killed by that signal). A
//! second signal aborts at once and removes the run's temporary files.
//!
//! [`Watched`] wraps each source: it ends the source when a stop was asked,
//! counts the input's frames for an info line at its end, and logs clock
//! anomalies (capture time stepping back, or jumping ahead by an hour or
//! more) at debug, a few per input, then only their count.

use crate::source::{Frame, PacketSource, SourceError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// What a second signal removes before exiting.
#[derive(Clone, Debug)]
pub enum Temporary {
    /// One file (a flows or streams file's temporary name).
    File(PathBuf),
    /// The dot-prefixed `.inprogress` parts of run `run` (its id's prefix in
    /// the part names) under a dataset directory.
    DatasetParts {
        /// The dataset directory.
        root: PathBuf,
        /// The run id prefix written in the part names.
        run: String,
    },
    /// A whole directory of the run's own.
    Dir(PathBuf),
}

impl Temporary {
    fn remove(&self) {
        match self {
            Temporary::File(p) => {
                let _ = std::fs::remove_file(p);
            }
            Temporary::Dir(p) => {
                let _ = std::fs::remove_dir_all(p);
            }
            Temporary::DatasetParts { root, run } => {
                let marker = format!("-{run}-");
                remove_parts(&root.join("flows"), &marker);
                remove_parts(&root.join("streams"), &marker);
                remove_parts(&root.join("calls"), &marker);
            }
        }
    }
}

fn remove_parts(dir: &Path, marker: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_parts(&e.path(), marker);
        } else if name.starts_with(".part-")
            && name.ends_with(".inprogress")
            && name.contains(marker)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The stop request shared by the signal thread and the sources.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicI32>);

impl Stop {
    /// A stop that no signal sets (tests set it with [`Stop::request`]).
    pub fn new() -> Self {
        Stop::default()
    }

    /// Asks for a clean stop, as signal `sig` would.
    pub fn request(&self, sig: i32) {
        let _ = self
            .0
            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The signal that asked for the stop, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// The exit status of a stopped run: 128 + the signal number.
    pub fn exit_code(&self) -> Option<u8> {
        self.signal()
            .and_then(|s| u8::try_from(128 + s.clamp(0, 127)).ok())
    }

    /// Installs the SIGINT/SIGTERM handling: the first signal asks for a
    /// clean stop, a second removes `temporaries` and exits.
    ///
    /// # Errors
    /// The handlers cannot be registered.
    pub fn on_signals(temporaries: Vec<Temporary>) -> std::io::Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let stop = Stop::new();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let s = stop.clone();
        std::thread::spawn(move || {
            for sig in signals.forever() {
                if s.signal().is_none() {
                    s.request(sig);
                    eprintln!(
                        "pathlens: stopping: finishing the flows read so far (again to abort)"
                    );
                } else {
                    for t in &temporaries {
                        t.remove();
                    }
                    eprintln!("pathlens: aborted; temporary files removed");
                    std::process::exit(128 + sig);
                }
            }
        });
        Ok(stop)
    }
}

/// Clock anomalies logged per input before only their count is.
const CLOCK_LOGS: u32 = 3;
/// A forward step in capture time this large (µs) is a clock jump.
const JUMP_US: i64 = 3_600_000_000;

/// A source that ends early on a stop request and reports on its input.
pub struct Watched {
    inner: Box<dyn PacketSource>,
    watch: Watch,
}

/// What [`Watched`] keeps of its input, apart from the source itself (so
/// it can be updated while a frame borrows the source).
struct Watch {
    name: String,
    stop: Stop,
    frames: u64,
    bytes: u64,
    last_us: Option<i64>,
    clock_anomalies: u32,
    ended: bool,
}

impl Watched {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn PacketSource>, stop: Stop) -> Self {
        let name = inner.name().to_string();
        Watched {
            inner,
            watch: Watch {
                name,
                stop,
                frames: 0,
                bytes: 0,
                last_us: None,
                clock_anomalies: 0,
                ended: false,
            },
        }
    }
}

impl Watch {
    fn frame(&mut self, ts_us: i64, len: usize) {
        self.frames += 1;
        self.bytes += len as u64;
        if let Some(last) = self.last_us {
            let step = ts_us.saturating_sub(last);
            if !(0..JUMP_US).contains(&step) {
                self.clock_anomalies += 1;
                if self.clock_anomalies <= CLOCK_LOGS {
                    tracing::debug!(
                        input = %self.name,
                        frame = self.frames,
                        step_us = step,
                        "capture clock jumped"
                    );
                }
            }
        }
        self.last_us = Some(ts_us);
    }

    fn end(&mut self, why: &str) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        if self.clock_anomalies > CLOCK_LOGS {
            tracing::debug!(
                input = %self.name,
                clock_jumps = self.clock_anomalies,
                "capture clock jumps (only the first {CLOCK_LOGS} logged)"
            );
        }
        tracing::info!(
            input = %self.name,
            frames = self.frames,
            captured_bytes = self.bytes,
            clock_jumps = self.clock_anomalies,
            "input {why}"
        );
    }
}

impl PacketSource for Watched {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn datalink(&self) -> i32 {
        self.inner.datalink()
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError> {
        if self.watch.stop.signal().is_some() {
            self.watch.end("stopped early");
            return Ok(None);
        }
        match self.inner.next_frame() {
            Ok(Some(f)) => {
                self.watch.frame(f.ts_us, f.data.len());
                Ok(Some(f))
            }
            Ok(None) => {
                self.watch.end("read");
                Ok(None)
            }
            Err(e) => {
                self.watch.end("failed");
                Err(e)
            }
        }
    }

    fn position(&mut self) -> Option<u64> {
        self.inner.position()
    }
}
