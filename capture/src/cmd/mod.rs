//! `pathlens summary` and `pathlens report`: the flows that `read` wrote
//! (files and dataset directories, in any mix) read back and summarised, as
//! text tables, CSV or JSON, or as one self-contained HTML page of charts.

pub mod args;
pub mod checks;
pub mod live;
pub mod logging;
pub mod read;

use anyhow::{Context as _, Result};
use pathlens_export::summary::{self, Format, TimeRange};
use std::io::Write;
use std::path::PathBuf;

/// How the summary is printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// Aligned text tables (as at the end of `read`).
    Table,
    /// One long CSV: table,key1,key2,metric,value.
    Csv,
    /// One JSON document.
    Json,
}

/// What is read: paths and a time range.
#[derive(clap::Args, Debug)]
pub struct Selection {
    /// Flows files (their .streams.parquet beside them) or dataset directories, any mix.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Only flows whose first_seen is at or after TIME (UTC; RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Only flows whose first_seen is before TIME.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
}

impl Selection {
    fn range(&self) -> Result<TimeRange> {
        let t = |s: &Option<String>| s.as_deref().map(summary::parse_time).transpose();
        Ok(TimeRange {
            from_us: t(&self.from)?,
            to_us: t(&self.to)?,
        })
    }
}

/// `pathlens summary` arguments.
#[derive(clap::Args, Debug)]
pub struct SummaryArgs {
    /// What to read.
    #[command(flatten)]
    pub sel: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
}

/// `pathlens report` arguments.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// What to read.
    #[command(flatten)]
    pub sel: Selection,
    /// The HTML file to write.
    #[arg(short = 'o', long = "output", value_name = "report.html")]
    pub output: PathBuf,
    /// Title of the page.
    #[arg(long, default_value = "pathlens report")]
    pub title: String,
}

/// Prints the summary of the selected flows to `out`.
///
/// # Errors
/// A path with nothing to read, an unreadable file, a bad time bound.
pub fn summary(args: &SummaryArgs, out: &mut dyn Write) -> Result<()> {
    let s = summary::summarize(&args.sel.paths, &args.sel.range()?, false)?;
    let text = match args.format {
        FormatArg::Table => {
            let inputs: usize = s.runs.values().map(Vec::len).sum();
            // Files written by other tools carry no counters.
            let counters = if s.counters.is_empty() {
                String::new()
            } else {
                summary::counter_lines(&s.counters)
            };
            format!(
                "runs:     {} ({} inputs)\n{counters}\n{}",
                s.runs.len(),
                inputs,
                s.table()
            )
        }
        FormatArg::Csv => s.render(Format::Csv),
        FormatArg::Json => s.render(Format::Json),
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Writes the HTML report of the selected flows; returns its size in bytes.
///
/// # Errors
/// As [`summary`], or the output cannot be written.
pub fn report(args: &ReportArgs) -> Result<u64> {
    let s = summary::summarize(&args.sel.paths, &args.sel.range()?, true)?;
    let html = pathlens_export::report::html(&s, &args.title);
    std::fs::write(&args.output, &html)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(html.len() as u64)
}
