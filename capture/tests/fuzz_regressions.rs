//! Replays the committed fuzz seeds (`fuzz/seeds/<target>/`) and every saved
//! fuzz finding (`fuzz/regressions/<target>/`) through the fuzz targets' own
//! checks, so they run on every `cargo test` without cargo-fuzz. The checks
//! live in `fuzz/src/lib.rs` and are compiled here as a module: a panic there
//! (an invariant broken, or a crash in pathlens) fails the test and names the
//! input file. See fuzz/README.md.

#[path = "../../fuzz/src/lib.rs"]
mod checks;

use pathlens::decode::Skip;
use pathlens::link::LinkType;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of a directory, sorted by name; none if it does not exist.
fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(PathBuf, Vec<u8>)> = rd
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, data)
        })
        .collect();
    v.sort();
    v
}

/// Runs `check` on every input and fails once, naming every input that
/// panicked.
fn replay<T>(files: &[(PathBuf, Vec<u8>)], check: impl Fn(&[u8]) -> T) -> Vec<(PathBuf, T)> {
    let mut failed = Vec::new();
    let mut out = Vec::new();
    for (path, data) in files {
        match catch_unwind(AssertUnwindSafe(|| check(data))) {
            Ok(r) => out.push((path.clone(), r)),
            Err(_) => failed.push(path.display().to_string()),
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that fail their checks: {failed:#?}"
    );
    out
}

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let files = inputs(&fuzz_dir().join("seeds").join(target));
    assert!(
        !files.is_empty(),
        "no seeds in fuzz/seeds/{target}: run fuzz/scripts/extract_seeds.py"
    );
    files
}

fn is_real(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("real-"))
}

#[test]
fn decode_seeds_keep_their_invariants_and_decode() {
    let files = seeds("decode");
    let results = replay(&files, checks::check_decode);
    let mut ok_links = BTreeSet::new();
    let mut skips: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut real, mut real_ok) = (0, 0);
    for ((path, r), (_, data)) in results.iter().zip(&files) {
        let inp = checks::split_decode_input(data).unwrap();
        match r {
            Some(Ok(())) => {
                ok_links.insert(checks::link_selector(inp.link));
            }
            Some(Err(s)) => *skips.entry(s.as_str()).or_default() += 1,
            None => {}
        }
        if is_real(path) {
            real += 1;
            real_ok += usize::from(matches!(r, Some(Ok(()))));
        }
    }
    // Frames from real captures are almost all IP packets: if most stop
    // decoding, decode broke (the few skips are ARP, LLDP and the like).
    assert!(real >= 50, "only {real} real frames among the seeds");
    assert!(
        real_ok * 10 >= real * 8,
        "{real_ok} of {real} real frames decode; skips: {skips:?}"
    );
    let all: BTreeSet<u8> = checks::LINKS
        .iter()
        .map(|&l| checks::link_selector(l))
        .collect();
    assert_eq!(ok_links, all, "link types with no decodable seed");
    assert!(skips.contains_key(Skip::NotIp.as_str()), "{skips:?}");
}

#[test]
fn decode_edge_cases() {
    // A frame cut inside its link header, an ARP frame, and an IPv4 packet
    // cut inside its header.
    let eth = |rest: &[u8]| {
        let mut f = vec![checks::link_selector(LinkType::Ethernet)];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
        f.extend_from_slice(rest);
        f
    };
    assert_eq!(checks::check_decode(&[]), None);
    assert_eq!(
        checks::check_decode(&eth(&[8])),
        Some(Err(Skip::LinkTruncated))
    );
    assert_eq!(
        checks::check_decode(&eth(&[8, 6, 0, 1])),
        Some(Err(Skip::NotIp))
    );
    let raw = checks::link_selector(LinkType::Raw);
    assert_eq!(
        checks::check_decode(&[raw, 0x45, 0, 0, 20]),
        Some(Err(Skip::BadIpHeader))
    );
    // The smallest UDP packet, with every wire-length mode.
    let mut udp = vec![
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    udp.extend_from_slice(&[0x13, 0x88, 0, 53, 0, 8, 0, 0]);
    for mode in 0..16u8 {
        let mut input = vec![raw | (mode << 4)];
        input.extend_from_slice(&udp);
        assert_eq!(checks::check_decode(&input), Some(Ok(())), "mode {mode}");
    }
}

#[test]
fn flow_table_seeds_conserve_packets() {
    let files = seeds("flow_table");
    let results = replay(&files, checks::check_flow_table);
    let mut total = checks::FlowOutcome::default();
    for (_, r) in &results {
        let r = r.unwrap();
        total.packets += r.packets;
        total.records += r.records;
        total.evicted += r.evicted;
        total.expired += r.expired;
    }
    assert!(total.packets >= 100, "{total:?}");
    assert!(
        total.records > 0 && total.records <= total.packets,
        "{total:?}"
    );
    assert!(total.evicted > 0, "no seed fills its table: {total:?}");
    assert!(total.expired > 0, "no seed reaches a timeout: {total:?}");
    assert_eq!(checks::check_flow_table(&[0; 5]), None);
}

#[test]
fn port_rules_seeds_parse_or_name_a_line() {
    let files = seeds("port_rules");
    let results = replay(&files, checks::check_port_rules);
    let shipped = results
        .iter()
        .find(|(p, _)| p.ends_with("ports.toml"))
        .expect("signatures/ports.toml is a seed");
    assert!(
        matches!(shipped.1, Some(Ok(n)) if n > 0),
        "the shipped rules: {:?}",
        shipped.1
    );
    assert!(
        results.iter().any(|(_, r)| matches!(r, Some(Err(_)))),
        "no seed exercises an error"
    );
    assert_eq!(checks::check_port_rules(&[0xff, 0xfe]), None);
    assert_eq!(
        checks::check_port_rules(
            b"[[port]]\ntransport = 'tcp'\n\nports = ['1-0']\napp_protocol = 'http'\n"
        ),
        Some(Err(4))
    );
}

#[test]
fn pipeline_seeds_account_for_every_frame() {
    let files = seeds("pipeline");
    let results = replay(&files, checks::check_pipeline);
    let decoded: u64 = results.iter().map(|(_, r)| r.unwrap()).sum();
    assert!(decoded > 0, "no frame of the pipeline seeds decoded");
}

/// Environment variables that make `replay_child` replay one saved input.
const CHILD_TARGET: &str = "PATHLENS_FUZZ_REPLAY_TARGET";
const CHILD_FILE: &str = "PATHLENS_FUZZ_REPLAY_FILE";

/// Runs one input through the checks of a fuzz target; false for a target
/// name that is not one.
fn check_one(target: &str, data: &[u8]) -> bool {
    match target {
        "decode" => drop(checks::check_decode(data)),
        "flow_table" => drop(checks::check_flow_table(data)),
        "port_rules" => drop(checks::check_port_rules(data)),
        "pipeline" => drop(checks::check_pipeline(data)),
        "pcapng" => drop(checks::check_pcapng(data)),
        _ => return false,
    }
    true
}

/// Replays one saved input in a child process (this test binary, running
/// only `replay_child`), so that an abort, such as a failed unsafe
/// precondition inside a dependency, fails the test with the input's name
/// and the child's message instead of killing the whole test binary.
fn replay_isolated(target: &str, file: &Path) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .args(["--exact", "replay_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_TARGET, target)
        .env(CHILD_FILE, file)
        .env("RUST_BACKTRACE", "0")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let why: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note:"))
        .take(6)
        .collect();
    Err(format!(
        "{} ({}, {}): {}",
        file.display(),
        target,
        out.status,
        why.join(" | ")
    ))
}

/// Does nothing unless started by `replay_isolated`.
#[test]
fn replay_child() {
    let (Some(target), Some(file)) = (
        std::env::var(CHILD_TARGET).ok(),
        std::env::var_os(CHILD_FILE),
    ) else {
        return;
    };
    let data = std::fs::read(&file).unwrap();
    assert!(check_one(&target, &data), "no fuzz target {target}");
}

/// The pcapng seeds (small real captures and generated edge cases) read
/// through the native reader's check: most hold packets.
#[test]
fn pcapng_seeds_read_the_same_mapped_and_in_blocks() {
    let files = seeds("pcapng");
    let read: Vec<usize> = files
        .iter()
        .filter_map(|(_, d)| checks::check_pcapng(d))
        .collect();
    assert_eq!(
        read.len(),
        files.len(),
        "a seed could not be written or opened"
    );
    assert!(read.iter().filter(|&&n| n > 0).count() * 2 > files.len());
}

#[test]
fn saved_fuzz_findings_stay_fixed() {
    let dir = fuzz_dir().join("regressions");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut targets: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    targets.sort();
    let mut failed = Vec::new();
    let mut replayed = 0;
    for t in targets.iter().filter(|p| p.is_dir()) {
        let name = t.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            check_one(name, &[]),
            "fuzz/regressions/{name} names no fuzz target"
        );
        for (path, _) in inputs(t) {
            replayed += 1;
            if let Err(e) = replay_isolated(name, &path) {
                failed.push(e);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {replayed} saved fuzz findings fail again:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
