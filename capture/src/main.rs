//! The `pathlens` command: batch reading of capture files into Parquet flow
//! tables, and tools around its rule files.

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use pathlens::cmd::checks;
use pathlens::pipeline::{self, Progress, RunOptions};
use pathlens_classify::PortRules;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

// Flow records are made by the workers and dropped by the writer, by the
// million: glibc's malloc and free were 7% of the samples on the
// real-traffic bench, and jemalloc cut the whole run's CPU time by 5% with
// a lower peak RSS. (mimalloc was as fast but zeroed transparent huge pages
// again and again, up to 2 s of system time in some runs.)
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser, Debug)]
#[command(
    name = "pathlens",
    version,
    about = "Passive traffic classifier and flow analyzer for Office 365, Teams and Skype for Business networks"
)]
struct Cli {
    /// Quieter: no summary, errors only.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More verbose logs on stderr (repeat for more; RUST_LOG works too).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Log line format on stderr: text, or one JSON object a line for log shippers.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: pathlens::cmd::logging::LogFormat,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Read pcap/pcapng files (a directory means every capture below it; - is stdin) into one Parquet table of flows.
    Read(Box<ReadArgs>),
    /// Capture from interfaces into a rotating, hour-partitioned Parquet dataset until SIGINT/SIGTERM.
    Live(Box<pathlens::cmd::live::LiveArgs>),
    /// Summarise flows files or dataset directories written by `read`.
    Summary(pathlens::cmd::SummaryArgs),
    /// Write one self-contained HTML page of charts and tables of flows files or datasets.
    Report(pathlens::cmd::ReportArgs),
    /// Score a flows file against labelled ground truth (a labels.tsv) and print a confusion matrix.
    Score(ScoreArgs),
    /// Work with signature rule files.
    Signatures {
        #[command(subcommand)]
        cmd: SigCmd,
    },
}

#[derive(Subcommand, Debug)]
enum SigCmd {
    /// Check a rule file (ports.toml, sni.toml, media.toml, callflow.toml) or a site config and report errors with line numbers.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct ScoreArgs {
    /// Labels: tab-separated with file, transport, addr_a, port_a, addr_b, port_b, app (and note for alt=).
    #[arg(long, value_name = "FILE.tsv")]
    labels: PathBuf,
    /// The flows file written by `pathlens read`.
    flows: PathBuf,
    /// Fail (exit 2) when overall accuracy is below this.
    #[arg(long, value_name = "RATIO")]
    min_accuracy: Option<f64>,
    /// Fail (exit 2) when a class with at least --min-support labelled flows has precision or recall below this.
    #[arg(long, value_name = "RATIO")]
    min_class: Option<f64>,
    /// Classes with fewer labelled flows are not held to --min-class.
    #[arg(long, default_value_t = 5)]
    min_support: u64,
}

#[derive(clap::Args, Debug)]
struct ReadArgs {
    /// Capture files (pcap, pcapng; gzip, zstd or xz compressed too) or
    /// directories; - reads stdin. After -r inputs, words that are not files
    /// are a BPF filter, as tcpdump takes it: -r x.pcap udp port 53.
    #[arg(required_unless_present = "read_file", value_name = "INPUT|FILTER")]
    inputs: Vec<PathBuf>,
    /// Input file (tcpdump's -r; same as a positional input).
    #[arg(short = 'r', value_name = "FILE")]
    read_file: Vec<PathBuf>,
    /// Output Parquet file (written under a temporary name, renamed when
    /// complete; never onto an input, nor over an existing file without
    /// --force); an existing directory or a path ending in / gets a dataset
    /// partitioned by hour, to which a run only adds parts:
    /// DIR/flows/date=…/hour=…/part-….parquet and DIR/streams/…; - streams
    /// the flows file to stdout (not a terminal; no streams table; the
    /// summary goes to stderr).
    #[arg(short = 'w', long = "write", value_name = "OUT.parquet|DIR/|-")]
    write: Option<PathBuf>,
    /// Overwrite an existing output file (never an input).
    #[arg(long)]
    force: bool,
    /// BPF filter, as tcpdump takes it.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    filter: Option<String>,
    /// Read the BPF filter from a file.
    #[arg(long = "filter-file", value_name = "FILE", conflicts_with = "filter")]
    filter_file: Option<PathBuf>,
    /// Retention of a dataset output (-w DIR/), applied before writing.
    #[command(flatten)]
    retention: pathlens::retention::RetentionArgs,
    /// Flow, classification, egress and output settings.
    #[command(flatten)]
    flow: pathlens::cmd::args::FlowArgs,
}

struct Bar {
    bar: indicatif::ProgressBar,
    starts: Vec<u64>,
}

impl Bar {
    /// A bar over the inputs' total size, drawn only when `show`.
    fn new(inputs: &[PathBuf], show: bool) -> Self {
        let sizes: Vec<u64> = inputs
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .collect();
        let bar = if show {
            let b = indicatif::ProgressBar::new(sizes.iter().sum());
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        Bar {
            bar,
            starts: sizes
                .iter()
                .scan(0u64, |acc, s| Some(std::mem::replace(acc, *acc + s)))
                .collect(),
        }
    }
}

impl Progress for Bar {
    fn update(&mut self, index: usize, pos: Option<u64>) {
        if let (Some(start), Some(pos)) = (self.starts.get(index), pos) {
            self.bar.set_position(start + pos);
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    pathlens::cmd::logging::init(cli.quiet, cli.verbose, cli.log_format);
    let res = match cli.cmd {
        Cmd::Read(args) => cmd_read(*args, cli.quiet),
        Cmd::Live(args) => pathlens::cmd::live::run(&args).map(ExitCode::from),
        Cmd::Score(args) => cmd_score(&args),
        Cmd::Summary(args) => {
            pathlens::cmd::summary(&args, &mut std::io::stdout().lock()).map(|()| ExitCode::SUCCESS)
        }
        Cmd::Report(args) => pathlens::cmd::report(&args).map(|_| ExitCode::SUCCESS),
        Cmd::Signatures {
            cmd: SigCmd::Check { file },
        } => cmd_sig_check(&file),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("pathlens: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn cmd_score(args: &ScoreArgs) -> Result<ExitCode> {
    let s = pathlens_export::score::score(&args.labels, &args.flows)?;
    let mut out = std::io::stdout().lock();
    out.write_all(s.report().as_bytes())?;
    let mut failed = Vec::new();
    if let Some(min) = args.min_accuracy {
        if s.accuracy() < min {
            failed.push(format!("accuracy {:.4} < {min}", s.accuracy()));
        }
    }
    if let Some(min) = args.min_class {
        for (class, c) in s.classes() {
            if c.support >= args.min_support && (c.precision < min || c.recall < min) {
                failed.push(format!(
                    "{class}: precision {:.3} recall {:.3} < {min}",
                    c.precision, c.recall
                ));
            }
        }
    }
    for f in &failed {
        writeln!(out, "FAIL {f}")?;
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn cmd_sig_check(file: &Path) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.display().to_string();
    // The kind comes from the file name as shipped, else from what it holds.
    let base = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let has = |marker: &str| text.lines().any(|l| l.trim_start().starts_with(marker));
    let site = base.ends_with("site.toml")
        || base.ends_with("site.example.toml")
        || has("[[edge]]")
        || has("[sources]")
        || has("deployment");
    let res: Result<(), String> = if site {
        // Every value it holds; the files it names are read by `read`.
        pathlens::config::build(&pathlens::config::EgressArgs {
            config: Some(file.to_path_buf()),
            check_only: true,
            ..Default::default()
        })
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
    } else if base == "sni.toml" || has("[[sni]]") {
        let mut r = pathlens_classify::rules::SniRules::default();
        r.add_text(&text, &name)
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else if base == "media.toml" || has("[client]") || has("[targets]") || has("[cqd_audio_poor]")
    {
        pathlens_classify::media::QualityRules::from_toml(&text, &name)
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else if base == "callflow.toml" || has("[[rule]]") {
        pathlens_classify::egress::CallFlow::parse(&text, &name)
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else {
        PortRules::parse(&text, &name)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    match res {
        Ok(()) => {
            println!("{}: ok", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// What prunes a `read`'s dataset, local or in object storage, when
/// retention is asked for; none for a single file.
fn read_pruner(
    output: &checks::Output,
    store: &Option<pathlens_export::store::Store>,
    retention: &pathlens::retention::RetentionArgs,
) -> Result<Option<pathlens::retention::Pruner>> {
    Ok(match (output, store) {
        (checks::Output::Remote(_), Some(store)) => {
            pathlens::retention::Pruner::for_store(store.clone(), retention)
                .map_err(anyhow::Error::msg)?
        }
        (checks::Output::Dataset(root), _) => {
            pathlens::retention::Pruner::new(root.clone(), retention, None)
        }
        _ => None,
    })
}

fn cmd_read(args: ReadArgs, quiet: bool) -> Result<ExitCode> {
    // Inputs, filter and output are checked before anything else: a
    // mistake costs one error and writes nothing.
    let file_filter = pathlens::cmd::args::filter_text(None, args.filter_file.as_deref())?;
    let (raw_inputs, filter) = checks::split_filter(
        &args.read_file,
        &args.inputs,
        args.filter.clone().or(file_filter),
    )?;
    if let Some(f) = &filter {
        checks::check_filter(f)?;
        tracing::info!(filter = %f, "filter compiled");
    }
    let listing = pathlens::input::list(&raw_inputs)?;
    if let Some(line) = pathlens::input::skipped_line(&listing.skipped) {
        if !quiet {
            eprintln!("pathlens: {line}");
        }
    }
    anyhow::ensure!(
        !listing.files.is_empty(),
        pathlens::input::nothing_found(&raw_inputs, &listing.skipped)
    );
    let output = checks::check_output(
        args.write.as_deref(),
        &listing.files,
        args.force,
        std::io::stdout().is_terminal(),
    )?;
    let inputs = listing.files;
    let mut prep = args.flow.prepare(filter.as_deref())?;
    if let checks::Output::Remote(url) = &output {
        prep.writer.store = Some(pathlens::cmd::read::open_store(url)?);
    }
    let pruner = read_pruner(&output, &prep.writer.store, &args.retention)?;
    let prefix_sources = prep.prefix_sources.clone();
    let run_id = prep.writer.run_id.clone();
    // The first input that opens is opened before anything is written:
    // when none does, the run ends here with nothing written.
    let open = {
        let f = filter.clone();
        move |p: &PathBuf| pathlens::input::open(p, f.as_deref())
    };
    let mut rest = inputs.iter();
    let mut early = Vec::new();
    let first = loop {
        match rest.next().map(&open) {
            None => break None,
            Some(Ok(s)) => break Some(s),
            Some(Err(e)) => early.push(e),
        }
    };
    let Some(first) = first else {
        for e in &early {
            eprintln!("pathlens: {e}");
        }
        anyhow::bail!("no input could be read; nothing written");
    };
    // Before writing: this run's rows are never the ones removed.
    if let Some(p) = &pruner {
        if p.prune(pathlens::retention::now_us()).below_floor {
            tracing::warn!(
                target: "pathlens::health",
                "the disk is below its free-space floor and no older hour is left to remove"
            );
        }
    }
    let delivery = pathlens::cmd::read::Delivery::new(&output, &run_id)?;
    let stop = pathlens::stop::Stop::on_signals(delivery.temporaries())
        .context("installing the SIGINT/SIGTERM handlers")?;
    let opts = RunOptions {
        workers: prep.workers,
        flow: prep.flow,
        output: delivery.path(),
        dataset: matches!(
            output,
            checks::Output::Dataset(_) | checks::Output::Remote(_)
        ),
        writer: prep.writer,
        metadata: prep.metadata,
        decap: prep.decap,
        observer: None,
        reload: None,
    };
    let ctx = Arc::new(prep.knowledge);
    let mut bar = Bar::new(&inputs, !quiet && std::io::stderr().is_terminal());
    let sources = pathlens::cmd::read::sources(early, first, rest.map(open), &stop);
    let report = pipeline::run(sources, &opts, ctx, &mut bar);
    bar.bar.finish_and_clear();
    let shown = Shown {
        quiet,
        to_stderr: output == checks::Output::Stdout,
        prefix_sources: &prefix_sources,
    };
    finish_read(&report, &delivery, &shown, &stop)
}

/// How the end of a `read` is shown.
struct Shown<'a> {
    quiet: bool,
    // With -w - stdout holds the Parquet file: the summary goes to stderr.
    to_stderr: bool,
    prefix_sources: &'a [(String, usize)],
}

/// Prints a run's failures and summary, delivers its output, and says how
/// it ended.
fn finish_read(
    report: &pipeline::RunReport,
    delivery: &pathlens::cmd::read::Delivery,
    shown: &Shown<'_>,
    stop: &pathlens::stop::Stop,
) -> Result<ExitCode> {
    pathlens::cmd::logging::anomalies(&report.counters);
    for f in &report.failures {
        eprintln!("pathlens: {f}");
    }
    if let Some(e) = &report.output_error {
        eprintln!("pathlens: output: {e}");
    }
    let delivered = delivery.deliver(report.failed());
    if !shown.quiet {
        let text = pathlens::run_summary::render(
            report,
            delivery.shown().as_deref(),
            shown.prefix_sources,
        );
        if shown.to_stderr {
            eprint!("{text}");
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    delivered?;
    if let Some(code) = stop.exit_code() {
        eprintln!(
            "pathlens: stopped early by a signal; the output holds the flows read until then"
        );
        return Ok(ExitCode::from(code));
    }
    Ok(if report.failed() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
