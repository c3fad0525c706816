//! Pieces of `pathlens read` around the pipeline: where the output goes
//! (and what a second Ctrl-C must remove), handing a `-w -` file to stdout,
//! and the chain of sources, each watched and ended by a stop request.

use super::checks::Output;
use crate::source::{PacketSource, SourceError};
use crate::stop::{Stop, Temporary, Watched};
use anyhow::{Context as _, Result};
use pathlens_export::sink::temp_path;
use pathlens_export::streams_path;
use std::path::{Path, PathBuf};

/// The output of a run as the pipeline writes it.
pub struct Delivery {
    output: Output,
    /// For `-w -`: the directory of the run's own where the file is written
    /// before it is copied to stdout.
    spool: Option<PathBuf>,
    run_tag: String,
}

impl Delivery {
    /// Prepares `output` for run `run_id`.
    ///
    /// # Errors
    /// The spool directory of `-w -` cannot be made.
    pub fn new(output: &Output, run_id: &str) -> Result<Self> {
        let spool = match output {
            // Object storage parts are staged here until they are sent.
            Output::Stdout | Output::Remote(_) => {
                let d = std::env::temp_dir().join(format!("pathlens-{run_id}"));
                std::fs::create_dir(&d).with_context(|| format!("creating {}", d.display()))?;
                Some(d)
            }
            _ => None,
        };
        Ok(Delivery {
            output: output.clone(),
            spool,
            run_tag: pathlens_export::dataset::run_tag(run_id),
        })
    }

    /// The path the pipeline writes to (file or dataset directory).
    pub fn path(&self) -> Option<PathBuf> {
        match &self.output {
            Output::None => None,
            Output::File(p) | Output::Dataset(p) => Some(p.clone()),
            Output::Stdout => self.spool.as_ref().map(|d| d.join("flows.parquet")),
            Output::Remote(_) => self.spool.clone(),
        }
    }

    /// The output as the summary names it (`-` for stdout).
    pub fn shown(&self) -> Option<PathBuf> {
        match &self.output {
            Output::Stdout => Some(PathBuf::from("-")),
            Output::Remote(url) => Some(PathBuf::from(url.to_string())),
            _ => self.path(),
        }
    }

    /// What a second signal removes: the files still under their
    /// temporary names, or the spool directory.
    pub fn temporaries(&self) -> Vec<Temporary> {
        match (&self.output, &self.spool) {
            (_, Some(d)) => vec![Temporary::Dir(d.clone())],
            (Output::File(p), None) => vec![
                Temporary::File(temp_path(p)),
                Temporary::File(temp_path(&streams_path(p))),
                Temporary::File(temp_path(&pathlens_export::calls_path(p))),
            ],
            (Output::Dataset(p), None) => vec![Temporary::DatasetParts {
                root: p.clone(),
                run: self.run_tag.clone(),
            }],
            _ => Vec::new(),
        }
    }

    /// After the run: for `-w -`, copies the flows file to stdout (unless
    /// the run failed); removes the spool (or object storage staging)
    /// directory.
    ///
    /// # Errors
    /// Stdout cannot be written.
    pub fn deliver(&self, failed: bool) -> Result<()> {
        let Some(dir) = &self.spool else {
            return Ok(());
        };
        let res = if failed || self.output != Output::Stdout {
            Ok(())
        } else {
            copy_to_stdout(&dir.join("flows.parquet"))
        };
        let _ = std::fs::remove_dir_all(dir);
        res
    }
}

/// A client for the dataset at `url`, checked with one listing so missing
/// credentials or a missing container fail before any packet is read.
///
/// # Errors
/// The client cannot be set up, or the listing fails.
pub fn open_store(url: &pathlens_export::StoreUrl) -> Result<pathlens_export::Store> {
    let store = pathlens_export::Store::open(url)?;
    store.check().with_context(|| {
        format!("{url}: cannot list the container or bucket (credentials? does it exist?)")
    })?;
    Ok(store)
}

fn copy_to_stdout(path: &Path) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut f, &mut out).context("writing the flows file to stdout")?;
    out.flush().context("writing the flows file to stdout")
}

/// The sources of a run in input order: the inputs that failed before the
/// first one opened, that one, then the others as they are reached; each
/// watched, and none started once a stop was asked.
pub fn sources<'a>(
    early: Vec<SourceError>,
    first: Box<dyn PacketSource>,
    rest: impl Iterator<Item = Result<Box<dyn PacketSource>, SourceError>> + 'a,
    stop: &Stop,
) -> impl Iterator<Item = Result<Box<dyn PacketSource>, SourceError>> + 'a {
    let (until, each) = (stop.clone(), stop.clone());
    early
        .into_iter()
        .map(Err)
        .chain(std::iter::once(Ok(first)))
        .chain(rest)
        .take_while(move |_| until.signal().is_none())
        .map(move |r| r.map(|s| Box::new(Watched::new(s, each.clone())) as Box<dyn PacketSource>))
}
