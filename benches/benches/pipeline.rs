//! Whole-pipeline throughput of the release `pathlens` binary against the
//! plain libpcap read of `tcpdump -r FILE -w /dev/null`, on one seeded
//! synthetic capture.
//!
//! The input is a classic pcap of about 1 GB written by
//! `pathlens_benches::generate_pcap` (seed 42: ~200 000 flows of DNS, short
//! and bulk TCP, QUIC, NTP and Teams-like RTP, ~12 % IPv6) into
//! `target/bench-data/`, and reused while a sidecar `.meta` file says it was
//! made by the same generator version, size and seed. The file is read once
//! before timing so every run starts from a warm page cache.
//!
//! Each command runs `PATHLENS_BENCH_RUNS` times (default 3); the table shows
//! the best wall time, the CPU time of that run and the highest peak RSS
//! (`ru_maxrss` from `wait4`). Nothing is asserted: it only prints.
//!
//! Environment: `PATHLENS_BENCH_BYTES` (file size, e.g. `100M`, `1G`,
//! default `1G`), `PATHLENS_BENCH_SEED` (default 42), `PATHLENS_BENCH_RUNS`,
//! `PATHLENS_BENCH_WORKERS` (comma-separated, default `1,2`),
//! `PATHLENS_BENCH_PROFILE` (`mixed`, the default, or `media`: the
//! media-heavy capture of `GenConfig::media_heavy`, where most packets are
//! RTP and go through the media tracker), `PATHLENS_BENCH_VARIANTS`
//! (`;`-separated `label:extra pathlens flags`, each run with every worker
//! count, to price a feature on the same input: e.g.
//! `payload:;port:--classify port` for classification on and off, or
//! `plain:;o365:--o365 testdata/corpus/o365/endpoints-worldwide.json` for
//! egress attribution; default one unlabelled variant with no extra flags),
//! `PATHLENS_BENCH_VXLAN=1` (also read a copy of the input with every
//! frame wrapped in VXLAN, as a cloud TAP delivers it, variant `vxlan`),
//! `CARGO`.
//!
//! Run with `cargo bench -p pathlens-benches --bench pipeline`.

use pathlens_benches::{generate_pcap_with, FlowKind, GenConfig, GenStats, GENERATOR_VERSION};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipeline bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `123`, `100M`, `1G`, `512k` (decimal multiples).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().trim_end_matches(['B', 'b']);
    let (num, mul) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1_000),
        'm' | 'M' => (&s[..s.len() - 1], 1_000_000),
        'g' | 'G' => (&s[..s.len() - 1], 1_000_000_000),
        _ => (s, 1),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v > 0.0).then_some((v * mul as f64) as u64)
}

fn env_or<T>(name: &str, default: T, parse: impl Fn(&str) -> Option<T>) -> Res<T> {
    match std::env::var(name) {
        Ok(v) => parse(&v).ok_or_else(|| format!("{name}={v:?} is not valid")),
        Err(_) => Ok(default),
    }
}

fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = here.parent().map_or(here.clone(), Path::to_path_buf);
    root.canonicalize().unwrap_or(root)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn build_pathlens(root: &Path) -> Res<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building: {cargo} build --release -p pathlens --bin pathlens");
    let st = Command::new(&cargo)
        .args(["build", "--release", "-p", "pathlens", "--bin", "pathlens"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("running {cargo}: {e}"))?;
    if !st.success() {
        return Err(format!("cargo build failed: {st}"));
    }
    let bin = target_dir(root).join("release").join("pathlens");
    if !bin.is_file() {
        return Err(format!("{} not found after the build", bin.display()));
    }
    Ok(bin)
}

/// Which generated capture the bench reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Profile {
    Mixed,
    Media,
}

impl Profile {
    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "mixed" => Some(Profile::Mixed),
            "media" => Some(Profile::Media),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Profile::Mixed => "mixed",
            Profile::Media => "media",
        }
    }

    fn config(self, target: u64, seed: u64) -> GenConfig {
        match self {
            Profile::Mixed => GenConfig::new(target, seed),
            Profile::Media => GenConfig::media_heavy(target, seed),
        }
    }

    /// File name stem; the mixed profile keeps the name older runs cached.
    fn stem(self, seed: u64, target: u64) -> String {
        match self {
            Profile::Mixed => format!("synthetic-s{seed}-{target}"),
            Profile::Media => format!("synthetic-media-s{seed}-{target}"),
        }
    }
}

fn sidecar_text(profile: Profile, seed: u64, target: u64, s: &GenStats) -> String {
    let kinds: Vec<String> = FlowKind::ALL
        .iter()
        .zip(s.flows_by_kind)
        .map(|(k, n)| format!("{}:{n}", k.name()))
        .collect();
    format!(
        "generator_version={GENERATOR_VERSION}\nprofile={}\nseed={seed}\ntarget_bytes={target}\n\
         file_bytes={}\npackets={}\nbytes={}\nflows={}\nfirst_ts_us={}\nlast_ts_us={}\n\
         flows_by_kind={}\n",
        profile.name(),
        s.file_bytes,
        s.packets,
        s.bytes,
        s.flows,
        s.first_ts_us,
        s.last_ts_us,
        kinds.join(",")
    )
}

/// The stats of a cached file, if its sidecar matches and its size is right.
fn cached(pcap: &Path, meta: &Path, profile: Profile, seed: u64, target: u64) -> Option<GenStats> {
    let text = std::fs::read_to_string(meta).ok()?;
    let get = |k: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
    };
    let num = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
    if num("generator_version")? != i64::from(GENERATOR_VERSION)
        || get("seed")? != seed.to_string()
        || get("target_bytes")? != target.to_string()
        || get("profile").unwrap_or("mixed") != profile.name()
    {
        return None;
    }
    let file_bytes = u64::try_from(num("file_bytes")?).ok()?;
    if std::fs::metadata(pcap).ok()?.len() != file_bytes {
        return None;
    }
    let mut by_kind = [0u64; 7];
    for (slot, kind) in by_kind.iter_mut().zip(FlowKind::ALL) {
        *slot = get("flows_by_kind")?
            .split(',')
            .find_map(|kv| kv.strip_prefix(kind.name())?.strip_prefix(':'))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
    }
    Some(GenStats {
        packets: u64::try_from(num("packets")?).ok()?,
        bytes: u64::try_from(num("bytes")?).ok()?,
        file_bytes,
        flows: u64::try_from(num("flows")?).ok()?,
        flows_by_kind: by_kind,
        first_ts_us: num("first_ts_us")?,
        last_ts_us: num("last_ts_us")?,
    })
}

fn input(dir: &Path, profile: Profile, target: u64, seed: u64) -> Res<(PathBuf, GenStats)> {
    let stem = profile.stem(seed, target);
    let pcap = dir.join(format!("{stem}.pcap"));
    let meta = dir.join(format!("{stem}.pcap.meta"));
    if let Some(s) = cached(&pcap, &meta, profile, seed, target) {
        eprintln!("reusing {}", pcap.display());
        return Ok((pcap, s));
    }
    eprintln!(
        "generating {} ({} bytes, seed {seed})",
        pcap.display(),
        target
    );
    let _ = std::fs::remove_file(&meta);
    // Per-process temporary name: concurrent runs each write their own and
    // the (identical) results replace one another atomically.
    let tmp = pcap.with_extension(format!("pcap.tmp{}", std::process::id()));
    let t = Instant::now();
    let s = generate_pcap_with(&tmp, &profile.config(target, seed))
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &pcap).map_err(|e| format!("{}: {e}", pcap.display()))?;
    std::fs::write(&meta, sidecar_text(profile, seed, target, &s))
        .map_err(|e| format!("{}: {e}", meta.display()))?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "generated in {secs:.1} s ({:.0} MB/s)",
        s.file_bytes as f64 / 1e6 / secs
    );
    Ok((pcap, s))
}

/// Reads the file once so every timed run starts from the page cache.
fn warm_cache(p: &Path) -> io::Result<()> {
    let mut f = File::open(p)?;
    let mut buf = vec![0u8; 8 << 20];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

/// What one child run used.
#[derive(Clone, Copy, Debug)]
struct Usage {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    /// Cores kept busy by everything else on the machine during the run.
    other_cores: f64,
}

/// Busy CPU time of the whole machine so far, from /proc/stat (USER_HZ = 100).
fn machine_busy() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| f.get(i)).sum();
    Some(Duration::from_millis(busy * 10))
}

/// Waits for `pid` with `wait4`, returning its exit code and resources.
#[allow(unsafe_code)]
fn wait4(pid: u32) -> io::Result<(i32, libc::rusage)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is a plain C struct of integers, for which all-zero
        // bytes are a valid value; wait4 only writes through the two
        // pointers, which point at live locals for the whole call.
        let (r, ru) = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            let r = libc::wait4(pid, &mut status, 0, &mut ru);
            (r, ru)
        };
        if r == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            return Ok((code, ru));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

fn run_once(cmd: &mut Command, log: &Path) -> Res<Usage> {
    let err = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let busy0 = machine_busy();
    let t = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .map_err(|e| format!("spawning {cmd:?}: {e}"))?;
    let (code, ru) = wait4(child.id()).map_err(|e| format!("waiting for {cmd:?}: {e}"))?;
    let wall = t.elapsed();
    let busy = match (busy0, machine_busy()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => Duration::ZERO,
    };
    if code != 0 {
        let msg = std::fs::read_to_string(log).unwrap_or_default();
        return Err(format!("{cmd:?} exited with {code}: {}", msg.trim()));
    }
    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    Ok(Usage {
        wall,
        cpu,
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
        other_cores: busy.saturating_sub(cpu).as_secs_f64() / wall.as_secs_f64().max(1e-9),
    })
}

/// Best wall time over `runs`, with that run's CPU time and the highest RSS.
fn measure(name: &str, runs: u32, log: &Path, mut make: impl FnMut() -> Command) -> Res<Usage> {
    let mut best: Option<Usage> = None;
    let mut rss = 0;
    for i in 1..=runs {
        let u = run_once(&mut make(), log)?;
        eprintln!(
            "  {name} run {i}/{runs}: {:.3} s wall, {:.3} s cpu, {:.1} MiB peak RSS, \
             other processes busy {:.2} cores (load {})",
            u.wall.as_secs_f64(),
            u.cpu.as_secs_f64(),
            u.max_rss_kib as f64 / 1024.0,
            u.other_cores,
            load()
        );
        rss = rss.max(u.max_rss_kib);
        if best.is_none_or(|b| u.wall < b.wall) {
            best = Some(u);
        }
    }
    let mut b = best.ok_or("no runs")?;
    b.max_rss_kib = rss;
    Ok(b)
}

fn parquet_rows(p: &Path) -> Res<i64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let f = File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let r = SerializedFileReader::new(f).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(r.metadata().file_metadata().num_rows())
}

fn has_tcpdump() -> bool {
    Command::new("tcpdump")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Parses `label:flags;label:flags` (flags split on white space).
fn parse_variants(s: &str) -> Option<Vec<(String, Vec<String>)>> {
    s.split(';')
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            let (label, flags) = v.split_once(':')?;
            Some((
                label.trim().to_string(),
                flags.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
}

/// Writes `src` (a classic microsecond pcap) with every frame wrapped in
/// VXLAN (VNI 5001), keeping the times.
fn wrap_vxlan(src: &Path, dst: &Path) -> io::Result<()> {
    use pathlens_benches::tunnel::{wrap, Wrap};
    let mut b = Vec::new();
    File::open(src)?.read_to_end(&mut b)?;
    let le = |at: usize| {
        b.get(at..at + 4)
            .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    let mut w = pathlens_benches::pcap::PcapWriter::create(dst, 1, 262_144)?;
    let mut at = 24;
    let mut i = 0u32;
    while at + 16 <= b.len() {
        let ts = i64::from(le(at)) * 1_000_000 + i64::from(le(at + 4));
        let n = le(at + 8) as usize;
        let Some(f) = b.get(at + 16..at + 16 + n) else {
            break;
        };
        w.write_frame(ts, &wrap(Wrap::Vxlan(5001, 4789), f, i))?;
        at += 16 + n;
        i += 1;
    }
    w.finish()?;
    Ok(())
}

fn run() -> Res<()> {
    let target = env_or("PATHLENS_BENCH_BYTES", 1_000_000_000, parse_size)?;
    let seed = env_or("PATHLENS_BENCH_SEED", 42, |s| s.trim().parse().ok())?;
    let runs = env_or("PATHLENS_BENCH_RUNS", 3, |s| s.trim().parse().ok())?.max(1);
    let workers: Vec<usize> = env_or("PATHLENS_BENCH_WORKERS", vec![1, 2], |s| {
        s.split(',').map(|w| w.trim().parse().ok()).collect()
    })?;
    let profile = env_or("PATHLENS_BENCH_PROFILE", Profile::Mixed, Profile::parse)?;
    let variants = env_or(
        "PATHLENS_BENCH_VARIANTS",
        vec![(String::new(), Vec::new())],
        parse_variants,
    )?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    let root = workspace_root();
    let bin = build_pathlens(&root)?;
    let dir = target_dir(&root).join("bench-data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (pcap, stats) = input(&dir, profile, target, seed)?;
    warm_cache(&pcap).map_err(|e| format!("{}: {e}", pcap.display()))?;
    let mut files = vec![(String::new(), pcap.clone())];
    if std::env::var_os("PATHLENS_BENCH_VXLAN").is_some() {
        let wrapped = pcap.with_extension("vxlan.pcap");
        if !wrapped.exists() {
            wrap_vxlan(&pcap, &wrapped).map_err(|e| format!("{}: {e}", wrapped.display()))?;
        }
        warm_cache(&wrapped).map_err(|e| format!("{}: {e}", wrapped.display()))?;
        files.push(("vxlan".into(), wrapped));
    }

    println!();
    println!("input: {} (profile {})", pcap.display(), profile.name());
    println!(
        "  {} bytes on disk, {} packets, {} frame bytes (mean {:.0} B), {} flows, {:.1} s of capture",
        stats.file_bytes,
        stats.packets,
        stats.bytes,
        stats.bytes as f64 / stats.packets.max(1) as f64,
        stats.flows,
        stats.duration_s()
    );
    let kinds: Vec<String> = FlowKind::ALL
        .iter()
        .zip(stats.flows_by_kind)
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    println!("  flows by kind: {}", kinds.join(", "));
    println!(
        "machine: {cores} cores, load average {} before the runs",
        load()
    );
    println!();

    // Per-process names, so concurrent runs of this bench do not collide.
    let pid = std::process::id();
    let log = dir.join(format!("pipeline-child-{pid}.stderr"));
    let mut rows: Vec<(String, Usage)> = Vec::new();
    if has_tcpdump() {
        eprintln!("tcpdump -r FILE -w /dev/null");
        let u = measure("tcpdump", runs, &log, || {
            let mut c = Command::new("tcpdump");
            c.arg("-r").arg(&pcap).args(["-w", "/dev/null"]);
            c
        })?;
        rows.push(("tcpdump -r -w /dev/null".into(), u));
    } else {
        println!("tcpdump not found: no libpcap baseline (apt-get install tcpdump)");
    }
    let mut outputs = Vec::new();
    let runs_of = files.iter().flat_map(|(tag, file)| {
        variants.iter().map(move |(label, extra)| {
            let label = [tag.as_str(), label.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("+");
            (label, extra, file)
        })
    });
    for (label, extra, pcap) in runs_of {
        for &w in &workers {
            let name = if label.is_empty() {
                format!("w{w}")
            } else {
                format!("{label} w{w}")
            };
            let out = dir.join(format!("pipeline-{}-{pid}.parquet", name.replace(' ', "-")));
            let _ = std::fs::remove_file(&out);
            eprintln!(
                "pathlens read FILE -w {} -q --workers {w} {}",
                out.display(),
                extra.join(" ")
            );
            let u = measure(&format!("pathlens {name}"), runs, &log, || {
                let mut c = Command::new(&bin);
                c.arg("read")
                    .arg(pcap)
                    .arg("-w")
                    .arg(&out)
                    .args(["-q", "--workers", &w.to_string()])
                    .args(extra)
                    .env_remove("RUST_LOG");
                c
            })?;
            rows.push((format!("pathlens {name}"), u));
            outputs.push((name, out));
        }
    }

    let base = rows
        .iter()
        .find(|(n, _)| n.starts_with("tcpdump"))
        .map(|(_, u)| u.wall.as_secs_f64());
    println!(
        "best of {runs} run(s); Gbit/s from frame bytes; RSS is the highest peak over the runs; \
         'other' = cores used by other processes during the best run"
    );
    println!(
        "{:<26} {:>10} {:>13} {:>8} {:>8} {:>12} {:>8} {:>9} {:>9} {:>6}",
        "command",
        "packets",
        "bytes",
        "wall s",
        "cpu s",
        "packets/s",
        "Gbit/s",
        "RSS MiB",
        "x tcpdump",
        "other"
    );
    for (name, u) in &rows {
        let wall = u.wall.as_secs_f64();
        let ratio = base.map_or_else(|| "-".to_string(), |b| format!("{:.2}", wall / b));
        println!(
            "{:<26} {:>10} {:>13} {:>8.3} {:>8.3} {:>12.0} {:>8.3} {:>9.1} {:>9} {:>6.2}",
            name,
            stats.packets,
            stats.bytes,
            wall,
            u.cpu.as_secs_f64(),
            stats.packets as f64 / wall,
            stats.bytes as f64 * 8.0 / wall / 1e9,
            u.max_rss_kib as f64 / 1024.0,
            ratio,
            u.other_cores
        );
    }
    println!();
    for (w, out) in &outputs {
        let size = std::fs::metadata(out).map(|m| m.len());
        match (size, parquet_rows(out)) {
            (Ok(size), Ok(n)) => println!(
                "output {w}: Parquet of {size} bytes, {n} rows ({} flows generated); \
                 removed after this check",
                stats.flows
            ),
            (Err(e), _) => println!("output {w}: {} missing: {e}", out.display()),
            (_, Err(e)) => println!("output {w}: unreadable: {e}"),
        }
    }
    println!("load average after the runs: {}", load());
    for (w, out) in &outputs {
        let streams = pathlens_export::streams_path(out);
        if let Ok(n) = parquet_rows(&streams) {
            println!("output {w}: streams table of {n} rows");
        }
        let _ = std::fs::remove_file(out);
        let _ = std::fs::remove_file(&streams);
    }
    let _ = std::fs::remove_file(&log);
    Ok(())
}
