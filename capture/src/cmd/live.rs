//! `pathlens live`: capture from one or more interfaces into a rotating
//! dataset until SIGINT/SIGTERM (or `-c` packets), with a stats line, a
//! Prometheus endpoint and an optional switch to an unprivileged user.

use super::args::FlowArgs;
use crate::live::{interfaces, Gauges, LiveHooks, Rotation, Rotor};
use crate::pipeline::{self, KnowledgeSlot, RunOptions};
use crate::retention::{Pruner, RetentionArgs, DEFAULT_LIVE_FLOOR};
use anyhow::{Context as _, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Dataset directory (DIR/flows/date=…/hour=…/part-….parquet and DIR/streams/…), or az://CONTAINER/PATH/ or s3://BUCKET/PATH/.
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
    /// Warn when no packet came for this long (and again when they resume).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub stall_after: Duration,
    /// Retention and the free-space guard.
    #[command(flatten)]
    pub retention: RetentionArgs,
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
    let target = args.write.clone().context("-w DIR is required")?;
    let filter = super::args::filter_text(args.filter.as_deref(), args.filter_file.as_deref())?;
    let mut prep = args.flow.prepare(filter.as_deref())?;
    let (dir, remote) = output_dir(&target, &mut prep.writer)?;
    let pruner = pruner(&args.retention, &dir, prep.writer.store.as_ref())?;
    // The interfaces open before anything is made on disk: a mistyped
    // name costs one error and leaves no directories behind.
    let opened = interfaces::open(
        &args.interfaces,
        &interfaces::OpenOptions {
            snaplen: args.snaplen.max(64),
            buffer_size: args.buffer_size,
            promiscuous: !args.no_promiscuous,
            immediate: args.immediate,
            filter: filter.clone(),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e} (`pathlens live -D` lists the interfaces)"))?;
    own_output_dir(&dir, args.user.as_deref())?;
    let gauges = Arc::new(Gauges::new(prep.workers));
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("installing the SIGHUP handler")?;
    let rotate_now = Arc::new(AtomicBool::new(false));
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
    let rotor = rotor(args, &dir, &prep, &gauges, Arc::clone(&rotate_now), pruner);
    let reload = Reload {
        flow: &args.flow,
        filter: filter.as_deref(),
        hup,
        rotate_now,
        slot: Arc::new(KnowledgeSlot::new(Arc::new(prep.knowledge))),
        next_meta: rotor.next_meta(),
        gauges: Arc::clone(&gauges),
    };
    let src = opened.start(stop.clone(), args.count, Arc::clone(&gauges));
    let opts = RunOptions {
        workers: prep.workers,
        flow: prep.flow,
        output: None,
        dataset: true,
        writer: prep.writer,
        metadata: prep.metadata,
        decap: prep.decap,
        observer: Some(Arc::clone(&gauges) as Arc<dyn crate::pipeline::Observer>),
        reload: Some(Arc::clone(&reload.slot)),
    };
    let done = Arc::new(AtomicBool::new(false));
    let watch = Watch {
        gauges: Arc::clone(&gauges),
        every: args.stats_interval,
        stall_after: args.stall_after,
        rotate_every: args.rotate_interval,
    };
    let stats = watch.spawn(Arc::clone(&done));
    tracing::info!(interfaces = %args.interfaces.join(","), dir = %target.display(), "capturing");
    let started = Instant::now();
    let sources = std::iter::once(Ok(Box::new(src) as Box<dyn crate::source::PacketSource>));
    let ctx = reload.slot.get().context("the knowledge slot")?;
    let report = std::thread::scope(|s| {
        s.spawn(|| reload.watch(&done));
        let r = pipeline::run_into(sources, &opts, Box::new(rotor), ctx, &mut ());
        done.store(true, Ordering::Relaxed);
        r
    });
    let _ = stats.join();
    let s = gauges.snapshot();
    let avg = s.packets as f64 / started.elapsed().as_secs_f64().max(1e-3);
    log_stats(&s, avg, "capture ended");
    if remote.is_some() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(exit_status(&report))
}

/// The directory the run writes into, and the object store behind it
/// when `-w` names one (DIR is then where this run stages its parts).
fn output_dir(
    target: &std::path::Path,
    writer: &mut pathlens_export::WriterOptions,
) -> Result<(std::path::PathBuf, Option<pathlens_export::StoreUrl>)> {
    let remote = pathlens_export::StoreUrl::parse(&target.to_string_lossy())?;
    let dir = match &remote {
        Some(url) => {
            writer.store = Some(super::read::open_store(url)?);
            std::env::temp_dir().join(format!(
                "pathlens-live-{}",
                pathlens_export::dataset::run_tag(&writer.run_id)
            ))
        }
        None => target.to_path_buf(),
    };
    Ok((dir, remote))
}

/// Prints what failed; the exit status of the run.
fn exit_status(report: &pipeline::RunReport) -> u8 {
    for f in &report.failures {
        eprintln!("pathlens: {f}");
    }
    if let Some(e) = &report.output_error {
        eprintln!("pathlens: output: {e}");
        return 2;
    }
    if report.failures.is_empty() {
        0
    } else {
        2
    }
}

/// The retention of the dataset: the directory's, with `live`'s default
/// floor, or the object store's (no floor there).
fn pruner(
    args: &RetentionArgs,
    dir: &std::path::Path,
    store: Option<&pathlens_export::Store>,
) -> Result<Option<Pruner>> {
    match store {
        Some(s) => Pruner::for_store(s.clone(), args).map_err(anyhow::Error::msg),
        None => Ok(Pruner::new(
            dir.to_path_buf(),
            args,
            Some(DEFAULT_LIVE_FLOOR),
        )),
    }
}

/// The rotating writer of the dataset at `dir`, with its retention.
fn rotor(
    args: &LiveArgs,
    dir: &std::path::Path,
    prep: &super::args::Prepared,
    gauges: &Arc<Gauges>,
    rotate_now: Arc<AtomicBool>,
    pruner: Option<Pruner>,
) -> Rotor {
    let hooks = LiveHooks {
        gauges: Arc::clone(gauges),
        rotation: Arc::new(Rotation::new(
            args.rotate_interval,
            args.rotate_rows.unwrap_or(0),
            rotate_now,
        )),
        next_meta: Arc::default(),
    };
    Rotor::new(
        dir.to_path_buf(),
        prep.writer.clone(),
        prep.metadata.clone(),
        hooks,
        pruner,
    )
}

/// Makes the dataset directory and its tables, gives them to `user` and
/// becomes it, then removes temporaries an earlier run left.
fn own_output_dir(dir: &std::path::Path, user: Option<&str>) -> Result<()> {
    // Files 0640, directories 0750: flow records are not for every local user.
    crate::os::set_umask(0o027);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for t in ["flows", "streams", "calls"] {
        let d = dir.join(t);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    if let Some(user) = user {
        let (uid, gid) = crate::os::user_ids(user).with_context(|| format!("user {user}"))?;
        crate::live::files::chown_dirs(dir, uid, gid)
            .with_context(|| format!("giving {} to {user}", dir.display()))?;
        crate::os::drop_privileges(user).with_context(|| format!("becoming {user}"))?;
        tracing::info!(user = %user, uid, gid, "privileges dropped");
    }
    // As the user that owns the files now (root may lack DAC_OVERRIDE).
    let stale = crate::live::files::remove_stale(dir);
    if !stale.is_empty() {
        tracing::warn!(files = stale.len(), "removed temporaries of an earlier run");
    }
    Ok(())
}

fn log_stats(s: &crate::live::hooks::Snapshot, pps: f64, what: &str) {
    tracing::info!(
        target: "pathlens::health",
        packets_received = s.received,
        kernel_dropped = s.kernel_dropped,
        if_dropped = s.if_dropped,
        packets_per_s = pps.round() as u64,
        flows_live = s.flows_live,
        evicted = s.evicted,
        files_written = s.files_written,
        rows_written = s.rows_written,
        rows_lost = s.rows_lost,
        partitions_removed = s.partitions_removed,
        "{what}"
    );
}

/// The stats line and the stall warnings, from their own thread.
struct Watch {
    gauges: Arc<Gauges>,
    every: Duration,
    stall_after: Duration,
    rotate_every: Duration,
}

impl Watch {
    fn spawn(self, done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let every = self.every.max(Duration::from_secs(1));
            let mut last = (Instant::now(), self.gauges.snapshot().packets);
            let mut stalls = Stalls::new(self.gauges.snapshot().packets);
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let s = self.gauges.snapshot();
                stalls.check(&s, self.stall_after, self.rotate_every);
                if last.0.elapsed() < every {
                    continue;
                }
                let pps =
                    (s.packets.saturating_sub(last.1)) as f64 / last.0.elapsed().as_secs_f64();
                log_stats(&s, pps, "stats");
                last = (Instant::now(), s.packets);
            }
        })
    }
}

/// Whether the capture or the writer is stalled, each said once when it
/// starts and once when it ends.
struct Stalls {
    packets: u64,
    moved_at: Instant,
    capture: bool,
    writer: bool,
}

impl Stalls {
    fn new(packets: u64) -> Self {
        Stalls {
            packets,
            moved_at: Instant::now(),
            capture: false,
            writer: false,
        }
    }

    fn check(
        &mut self,
        s: &crate::live::hooks::Snapshot,
        stall_after: Duration,
        rotate_every: Duration,
    ) {
        if s.packets != self.packets {
            self.packets = s.packets;
            self.moved_at = Instant::now();
        }
        let quiet = self.moved_at.elapsed();
        if !self.capture && quiet >= stall_after {
            self.capture = true;
            tracing::warn!(
                seconds = quiet.as_secs(),
                "capture stalled: no packets captured"
            );
        } else if self.capture && quiet < stall_after {
            self.capture = false;
            tracing::warn!("capture resumed");
        }
        // A rotation is late when it missed two intervals and a grace.
        let now = u64::try_from(crate::retention::now_us() / 1_000_000).unwrap_or(0);
        let late = rotate_every.saturating_mul(2) + Duration::from_secs(30);
        let since = now.saturating_sub(s.last_rotation);
        let stalled = s.last_rotation > 0 && since >= late.as_secs();
        if stalled != self.writer {
            self.writer = stalled;
            if stalled {
                tracing::warn!(seconds = since, "writer stalled: no rotation for too long");
            } else {
                tracing::warn!("writer resumed");
            }
        }
    }
}

/// SIGHUP: the config and every file it names read again; the new
/// knowledge replaces the old for the packets and flow ends that follow,
/// or, when a file does not parse, the error is logged and the old stays.
/// Either way the current files are closed (a rotation, as before).
struct Reload<'a> {
    flow: &'a FlowArgs,
    filter: Option<&'a str>,
    hup: Arc<AtomicBool>,
    rotate_now: Arc<AtomicBool>,
    slot: Arc<KnowledgeSlot>,
    next_meta: crate::live::hooks::NextMeta,
    gauges: Arc<Gauges>,
}

impl Reload<'_> {
    /// Reloads on each SIGHUP until `done`.
    fn watch(&self, done: &AtomicBool) {
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if self.hup.swap(false, Ordering::Relaxed) {
                self.reload();
                self.rotate_now.store(true, Ordering::Relaxed);
            }
        }
    }

    fn reload(&self) {
        match self.flow.prepare(self.filter) {
            Ok(p) => {
                self.slot.replace(Arc::new(p.knowledge));
                if let Ok(mut m) = self.next_meta.lock() {
                    *m = Some(p.metadata);
                }
                Gauges::add(&self.gauges.reloads, 1);
                let sources: Vec<String> = p
                    .prefix_sources
                    .iter()
                    .map(|(n, c)| format!("{n}:{c}"))
                    .collect();
                tracing::info!(target: "pathlens::health", prefix_sources = %sources.join(","), "config reloaded");
            }
            Err(e) => {
                Gauges::add(&self.gauges.reloads_failed, 1);
                tracing::error!(error = %format!("{e:#}"), "config reload refused; the old config stays in force");
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::live::hooks::Snapshot;

    #[test]
    fn a_late_rotation_is_a_writer_stall_said_once_and_its_end_once() {
        let now = u64::try_from(crate::retention::now_us() / 1_000_000).unwrap_or(0);
        let mut st = Stalls::new(0);
        let minute = Duration::from_secs(60);
        let fresh = Snapshot {
            last_rotation: now,
            ..Snapshot::default()
        };
        st.check(&fresh, minute, minute);
        assert!(!st.writer);
        // Two intervals and the grace missed.
        let late = Snapshot {
            last_rotation: now - 151,
            ..Snapshot::default()
        };
        st.check(&late, minute, minute);
        assert!(st.writer);
        st.check(&fresh, minute, minute);
        assert!(!st.writer);
        // Before the first rotation is known, nothing is late.
        st.check(&Snapshot::default(), minute, minute);
        assert!(!st.writer);
    }
}
