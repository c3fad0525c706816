//! `pathlens live`: capture from one or more interfaces into a rotating
//! dataset until SIGINT/SIGTERM (or `-c` packets), with a stats line, a
//! Prometheus endpoint and an optional switch to an unprivileged user.

use super::args::FlowArgs;
use crate::live::{interfaces, Gauges, LiveHooks, Rotation, Rotor};
use crate::pipeline::{self, RunOptions};
use anyhow::{Context as _, Result};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `pathlens live` arguments.
#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// Interface to capture on; repeat for several (same link type).
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        required_unless_present = "list_interfaces"
    )]
    pub interfaces: Vec<String>,
    /// List the interfaces libpcap can capture on, and exit.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,
    /// Dataset directory: DIR/flows/date=…/hour=…/part-….parquet and DIR/streams/….
    #[arg(
        short = 'w',
        long = "write",
        value_name = "DIR",
        required_unless_present = "list_interfaces"
    )]
    pub write: Option<PathBuf>,
    /// BPF capture filter, as tcpdump takes it.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Read the BPF filter from a file.
    #[arg(long = "filter-file", value_name = "FILE", conflicts_with = "filter")]
    pub filter_file: Option<PathBuf>,
    /// Bytes captured of each packet (enough for the dissectors).
    #[arg(short = 's', long = "snaplen", default_value_t = 2048)]
    pub snaplen: i32,
    /// Kernel capture buffer, bytes (libpcap's default otherwise).
    #[arg(short = 'B', long = "buffer-size", value_name = "BYTES")]
    pub buffer_size: Option<i32>,
    /// Do not put the interface in promiscuous mode.
    #[arg(short = 'p', long = "no-promiscuous")]
    pub no_promiscuous: bool,
    /// Immediate mode: packets are delivered as they arrive (lower latency, more wake-ups).
    #[arg(long)]
    pub immediate: bool,
    /// Become USER once the capture is open (its groups too); DIR is given to it.
    #[arg(short = 'Z', long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Stop after this many packets.
    #[arg(short = 'c', long = "count")]
    pub count: Option<u64>,
    /// Close the files and start new ones this often.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub rotate_interval: Duration,
    /// Also rotate once the open files hold this many flow rows.
    #[arg(long, value_name = "N")]
    pub rotate_rows: Option<u64>,
    /// One log line of counters this often.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub stats_interval: Duration,
    /// Serve the counters in Prometheus text format at ADDR:PORT (a bare port: loopback).
    #[arg(long, value_name = "ADDR", value_parser = crate::live::metrics::parse_listen)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Flow, classification, egress and output settings.
    #[command(flatten)]
    pub flow: FlowArgs,
}

/// Runs `pathlens live`; returns the exit status.
///
/// # Errors
/// Bad flags or config, an interface that cannot be opened, an output
/// directory that cannot be made, a user that does not exist.
pub fn run(args: &LiveArgs) -> Result<u8> {
    if args.list_interfaces {
        for l in interfaces::list_interfaces().context("listing interfaces")? {
            println!("{l}");
        }
        return Ok(0);
    }
    let dir = args.write.clone().context("-w DIR is required")?;
    let filter = super::args::filter_text(args.filter.as_deref(), args.filter_file.as_deref())?;
    let prep = args.flow.prepare(filter.as_deref())?;
    // Files 0640, directories 0750: flow records are not for every local user.
    crate::os::set_umask(0o027);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for t in ["flows", "streams"] {
        let d = dir.join(t);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    let stale = crate::live::files::remove_stale(&dir);
    if !stale.is_empty() {
        tracing::warn!(files = stale.len(), "removed temporaries of an earlier run");
    }
    let opened = interfaces::open(
        &args.interfaces,
        &interfaces::OpenOptions {
            snaplen: args.snaplen.max(64),
            buffer_size: args.buffer_size,
            promiscuous: !args.no_promiscuous,
            immediate: args.immediate,
            filter: filter.clone(),
        },
    )?;
    if let Some(user) = &args.user {
        let (uid, gid) = crate::os::user_ids(user).with_context(|| format!("user {user}"))?;
        crate::live::files::chown_dirs(&dir, uid, gid)
            .with_context(|| format!("giving {} to {user}", dir.display()))?;
        crate::os::drop_privileges(user).with_context(|| format!("becoming {user}"))?;
        tracing::info!(user = %user, uid, gid, "privileges dropped");
    }
    let gauges = Arc::new(Gauges::new(prep.workers));
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("installing the SIGHUP handler")?;
    let run_tag = pathlens_export::dataset::run_tag(&prep.writer.run_id);
    let stop = crate::stop::Stop::on_signals(vec![crate::stop::Temporary::DatasetParts {
        root: dir.clone(),
        run: run_tag,
    }])
    .context("installing the SIGINT/SIGTERM handlers")?;
    if let Some(addr) = args.metrics_listen {
        let bound = crate::live::metrics::serve(addr, Arc::clone(&gauges))
            .with_context(|| format!("listening on {addr}"))?;
        tracing::info!(addr = %bound, "metrics served");
    }
    let hooks = LiveHooks {
        gauges: Arc::clone(&gauges),
        rotation: Arc::new(Rotation::new(
            args.rotate_interval,
            args.rotate_rows.unwrap_or(0),
            hup,
        )),
    };
    let src = opened.start(stop.clone(), args.count, Arc::clone(&gauges));
    let rotor = Rotor::new(
        dir.clone(),
        prep.writer.clone(),
        prep.metadata.clone(),
        hooks,
    );
    let opts = RunOptions {
        workers: prep.workers,
        flow: prep.flow,
        output: None,
        dataset: true,
        writer: prep.writer,
        metadata: prep.metadata,
        observer: Some(Arc::clone(&gauges) as Arc<dyn crate::pipeline::Observer>),
    };
    let done = Arc::new(AtomicBool::new(false));
    let stats = stats_thread(Arc::clone(&gauges), args.stats_interval, Arc::clone(&done));
    tracing::info!(interfaces = %args.interfaces.join(","), dir = %dir.display(), "capturing");
    let sources = std::iter::once(Ok(Box::new(src) as Box<dyn crate::source::PacketSource>));
    let report = pipeline::run_into(
        sources,
        &opts,
        Box::new(rotor),
        Arc::new(prep.knowledge),
        &mut (),
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = stats.join();
    log_stats(&gauges.snapshot(), None, "capture ended");
    for f in &report.failures {
        eprintln!("pathlens: {f}");
    }
    if let Some(e) = &report.output_error {
        eprintln!("pathlens: output: {e}");
        return Ok(2);
    }
    Ok(if report.failures.is_empty() { 0 } else { 2 })
}

fn log_stats(s: &crate::live::hooks::Snapshot, pps: Option<f64>, what: &str) {
    tracing::info!(
        packets_received = s.received,
        kernel_dropped = s.kernel_dropped,
        if_dropped = s.if_dropped,
        packets_per_s = pps.map_or(String::new(), |p| format!("{p:.0}")),
        flows_live = s.flows_live,
        evicted = s.evicted,
        files_written = s.files_written,
        rows_written = s.rows_written,
        rows_lost = s.rows_lost,
        "{what}"
    );
}

fn stats_thread(
    gauges: Arc<Gauges>,
    every: Duration,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let every = every.max(Duration::from_secs(1));
        let mut last = (Instant::now(), gauges.snapshot().packets);
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if last.0.elapsed() < every {
                continue;
            }
            let s = gauges.snapshot();
            let pps = (s.packets.saturating_sub(last.1)) as f64 / last.0.elapsed().as_secs_f64();
            log_stats(&s, Some(pps), "stats");
            last = (Instant::now(), s.packets);
        }
    })
}
