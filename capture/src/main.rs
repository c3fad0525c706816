//! The `pathlens` command: batch reading of capture files into Parquet flow
//! tables, and tools around its rule files.

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};
use pathlens::cmd::checks;
use pathlens::config::EgressArgs;
use pathlens::flow::{FlowConfig, Knowledge};
use pathlens::pipeline::{self, Progress, RunOptions};
use pathlens_classify::{PortRules, RuleError, RuleText, SignatureTexts, Signatures};
use pathlens_export::{Compression, WriterOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ClassifyArg {
    /// Payload dissectors, then port rules (the default).
    Payload,
    /// Port rules only: no payload is inspected (fastest).
    Port,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum CompressionArg {
    Zstd,
    Snappy,
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
    /// Flow worker threads, 1 to 256 (default: the number of cores).
    #[arg(long, value_parser = pathlens::cmd::checks::parse_workers)]
    workers: Option<usize>,
    /// A flow with no packet for this long ends.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
    /// A flow record this long is cut; the flow continues in a new row.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    active_timeout: Duration,
    /// Cap on live flows; past it the longest-idle flow is evicted (counted).
    #[arg(long, default_value = "4000000", value_parser = pathlens::cmd::checks::parse_max_flows)]
    max_flows: usize,
    /// Parquet column compression.
    #[arg(long, value_enum, default_value = "zstd")]
    compression: CompressionArg,
    /// How flows are classified: from their payload, or from port rules only.
    #[arg(long, value_enum, default_value = "payload")]
    classify: ClassifyArg,
    /// Skip RTP/RTCP stream metrics: no media columns, empty streams table (cheaper on media-heavy links).
    #[arg(long)]
    no_media: bool,
    /// Sensor name written to every row (default: the host name).
    #[arg(long)]
    sensor: Option<String>,
    /// Directory whose ports.toml, sni.toml and media.toml (each where present) override the built-in rules.
    #[arg(long, value_name = "DIR")]
    signatures: Option<PathBuf>,
    /// Site config (TOML; see signatures/site.example.toml). Flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Office 365 endpoints JSON (the endpoints web service output).
    #[arg(long, value_name = "FILE")]
    o365: Option<PathBuf>,
    /// A plain prefix list (one prefix a line, optional label), named NAME. Repeatable.
    #[arg(long, value_name = "NAME=FILE", value_parser = pathlens::config::name_eq_file)]
    prefixes: Vec<(String, PathBuf)>,
    /// A prefix list the ExpressRoute circuit receives (e.g. ER-learned routes). Repeatable.
    #[arg(long, value_name = "NAME=FILE", value_parser = pathlens::config::name_eq_file)]
    expressroute_prefixes: Vec<(String, PathBuf)>,
    /// Azure service tags JSON.
    #[arg(long, value_name = "FILE")]
    service_tags: Option<PathBuf>,
    /// A site network counted as local (besides RFC 1918/ULA). Repeatable; replaces the config's list.
    #[arg(long, value_name = "NET")]
    local: Vec<String>,
    /// A network of on-premises SfB servers (call-flow role onprem_server, service skype_teams). Repeatable.
    #[arg(long, value_name = "NET")]
    onprem: Vec<String>,
    /// A network of on-premises Exchange servers (call-flow role onprem_server, service exchange). Repeatable.
    #[arg(long, value_name = "NET")]
    onprem_exchange: Vec<String>,
    /// Deployment profile for call-flow expectations: online, hybrid, cloud_connector.
    #[arg(long, value_name = "PROFILE")]
    deployment: Option<String>,
    /// Call-flow table replacing the built-in signatures/callflow.toml.
    #[arg(long, value_name = "FILE")]
    callflow: Option<PathBuf>,
}

struct Bar {
    bar: indicatif::ProgressBar,
    starts: Vec<u64>,
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

/// The rules of `--signatures DIR`: its `ports.toml`, `sni.toml` and
/// `media.toml`, each where it exists, with the built-in rules.
fn read_signatures(dir: &Path) -> Result<Signatures, RuleError> {
    let read = |name: &str| -> Result<Option<RuleText>, RuleError> {
        let path = dir.join(name);
        if !path.exists() {
            return Ok(None);
        }
        let file = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(RuleText { file, text })),
            Err(source) => Err(RuleError::Io { file, source }),
        }
    };
    Signatures::from_texts(&SignatureTexts {
        ports: read("ports.toml")?,
        sni: read("sni.toml")?,
        media: read("media.toml")?,
    })
}

fn cmd_read(args: ReadArgs, quiet: bool) -> Result<ExitCode> {
    // Inputs, filter and output are checked before anything else: a
    // mistake costs one error and writes nothing.
    let file_filter = match &args.filter_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading {}", f.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
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
        "no capture files found in the inputs given"
    );
    let output = checks::check_output(
        args.write.as_deref(),
        &listing.files,
        args.force,
        std::io::stdout().is_terminal(),
    )?;
    let inputs = listing.files;
    let signatures = match &args.signatures {
        Some(dir) => read_signatures(dir)?,
        None => Signatures::builtin()?,
    };
    // Every egress source is read and checked before any packet is.
    let built = pathlens::config::build(&EgressArgs {
        config: args.config.clone(),
        o365: args.o365.clone(),
        prefixes: args.prefixes.clone(),
        er_prefixes: args.expressroute_prefixes.clone(),
        service_tags: args.service_tags.clone(),
        local: args.local.clone(),
        onprem: args.onprem.clone(),
        onprem_exchange: args.onprem_exchange.clone(),
        deployment: args.deployment.clone(),
        callflow: args.callflow.clone(),
        check_only: false,
    })?;
    for (name, n) in &built.sources {
        tracing::info!(source = %name, prefixes = n, "prefix source loaded");
    }
    let prefix_sources = built.sources.clone();
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(checks::MAX_WORKERS))
    });
    let to_us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let flow = FlowConfig {
        idle_us: to_us(args.idle_timeout).max(1),
        active_us: to_us(args.active_timeout).max(1),
        capacity: args.max_flows,
        inspect_payload: matches!(args.classify, ClassifyArg::Payload),
        media_metrics: !args.no_media,
        ..FlowConfig::default()
    };
    let run_id = uuid::Uuid::new_v4().to_string();
    let sensor = args
        .sensor
        .clone()
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    let writer = WriterOptions {
        compression: match args.compression {
            CompressionArg::Zstd => Compression::Zstd,
            CompressionArg::Snappy => Compression::Snappy,
        },
        run_id: run_id.clone(),
        sensor,
    };
    let metadata = vec![
        (
            "pathlens.signatures_digest".to_string(),
            signatures.digest.clone(),
        ),
        (
            "pathlens.idle_timeout_s".to_string(),
            args.idle_timeout.as_secs_f64().to_string(),
        ),
        (
            "pathlens.active_timeout_s".to_string(),
            args.active_timeout.as_secs_f64().to_string(),
        ),
        (
            "pathlens.filter".to_string(),
            filter.clone().unwrap_or_default(),
        ),
        (
            "pathlens.prefix_sources".to_string(),
            serde_json::to_string(&built.sources).unwrap_or_default(),
        ),
    ];
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
    let sink = pathlens::cmd::read::Sink::new(&output, &run_id)?;
    let stop = pathlens::stop::Stop::on_signals(sink.temporaries())
        .context("installing the SIGINT/SIGTERM handlers")?;
    let opts = RunOptions {
        workers,
        flow,
        output: sink.path(),
        dataset: matches!(output, checks::Output::Dataset(_)),
        writer,
        metadata,
    };
    let ctx = Arc::new(Knowledge {
        signatures,
        local: built.local,
        egress: built.site,
        sensor_position: built.sensor_position,
    });

    let sizes: Vec<u64> = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    let show_bar = !quiet && std::io::stderr().is_terminal();
    let mut bar = Bar {
        bar: if show_bar {
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
        },
        starts: sizes
            .iter()
            .scan(0u64, |acc, s| Some(std::mem::replace(acc, *acc + s)))
            .collect(),
    };
    let sources = pathlens::cmd::read::sources(early, first, rest.map(open), &stop);
    let report = pipeline::run(sources, &opts, ctx, &mut bar);
    bar.bar.finish_and_clear();
    pathlens::cmd::logging::anomalies(&report.counters);

    for f in &report.failures {
        eprintln!("pathlens: {f}");
    }
    if let Some(e) = &report.output_error {
        eprintln!("pathlens: output: {e}");
    }
    let delivered = sink.deliver(report.failed());
    if !quiet {
        let text = pathlens::report::render(&report, sink.shown().as_deref(), &prefix_sources);
        // With -w - stdout holds the Parquet file: the summary goes to stderr.
        if output == checks::Output::Stdout {
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
