//! Calls in `pathlens live` (issue 25): the generated calls of two
//! buildings and a VPN pool, replayed at their own pace into a veth pair in
//! a network namespace, give the calls table `read` gives of the same
//! capture, row for row, each call with the same flows; and the flow rows
//! are written within a rotation of the flows' end, not held until their
//! call closes. Needs root, `ip` and `tcpreplay`; without root the test
//! says so loudly and passes without checking anything.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::netns::{is_root, run, Live, Veth};
use support::*;

/// Until `done` holds, within `limit` (generous: the machine is shared).
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    t.elapsed()
}

fn py(args: &[&str]) -> String {
    python_script("live_calls.py", args)
}

/// Flow rows in `flows` (a file, or a dataset's glob), and those with a
/// `call_id`; (0, 0) while the dataset has no final flows file yet.
fn flow_rows(flows: &str) -> (u64, u64) {
    if let Some(dir) = flows.strip_suffix("/flows/**/*.parquet") {
        let done = files_under(&Path::new(dir).join("flows"))
            .iter()
            .any(|f| f.ends_with(".parquet"));
        if !done {
            return (0, 0);
        }
    }
    let v: serde_json::Value = serde_json::from_str(&py(&["count", flows])).unwrap();
    (
        v["rows"].as_u64().unwrap(),
        v["with_call_id"].as_u64().unwrap(),
    )
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// Copies the generated calls capture with its calls brought together:
/// the generator spaces them 400 s apart, which would take an hour to
/// replay. Each call keeps its own timing (setup, media, a leg stopping
/// 30 s early), calls start 2 s apart (they are of different clients, so
/// they do not group together), and the client that calls twice still has
/// 77 s between its calls, more than the 60 s gap that separates two
/// calls. Returns the capture's length.
fn bring_calls_together(src: &Path, dst: &Path) -> Duration {
    const S: i64 = 1_000_000;
    let b = std::fs::read(src).unwrap();
    assert_eq!(&b[0..4], &0xa1b2_c3d4u32.to_le_bytes(), "µs pcap");
    let u32_at = |i: usize| i64::from(u32::from_le_bytes(b[i..i + 4].try_into().unwrap()));
    let mut frames: Vec<(i64, &[u8])> = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let ts = u32_at(i) * S + u32_at(i + 4);
        let len = usize::try_from(u32_at(i + 8)).unwrap();
        frames.push((ts, &b[i + 16..i + 16 + len]));
        i += 16 + len;
    }
    // The first call's media starts 3 s after its first packet (its
    // signaling); the k-th call 400 s after the one before.
    let base = frames[0].0 + 3 * S;
    let mut out: Vec<(i64, &[u8])> = frames
        .into_iter()
        .map(|(t, f)| {
            let k = (t - base + 100 * S).div_euclid(400 * S);
            let mut within = t - base - k * 400 * S;
            if within >= 100 * S {
                // The second call of the client that calls twice (200 s
                // after its first, which lasts 20 s): 100 s earlier.
                within -= 100 * S;
            }
            (base + k * 2 * S + within, f)
        })
        .collect();
    out.sort_by_key(|f| f.0);
    let mut w = PcapWriter::create(dst, 1, 65_535);
    for (t, f) in &out {
        w.frame(*t, f);
    }
    w.finish();
    let span = out.last().unwrap().0 - out[0].0;
    Duration::from_micros(u64::try_from(span).unwrap())
}

/// The site's files in `dir`; returns the site config.
fn site(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("o365.json"), egress_gen::O365_JSON).unwrap();
    std::fs::write(dir.join("buildings.csv"), calls_gen::BUILDINGS_CSV).unwrap();
    let site = dir.join("site.toml");
    std::fs::write(&site, calls_gen::SITE_TOML).unwrap();
    site
}

const IDLE: &str = "5s";
const ROTATE: &str = "1s";

#[test]
fn live_calls_equal_read_of_the_same_capture_and_flow_rows_come_within_a_rotation() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let site = site(tmp.path());
    let site = site.to_str().unwrap();
    let generated = tmp.path().join("calls.pcap");
    let intents = calls_gen::write(&generated);
    let pcap = tmp.path().join("replay.pcap");
    let length = bring_calls_together(&generated, &pcap);
    assert!(length < Duration::from_secs(150), "{length:?}");

    // What `read` writes of the capture: one row per intended call, each
    // flow of a call carrying its call_id.
    let out = tmp.path().join("read.parquet");
    read_ok(
        &[
            "--config",
            site,
            "--idle-timeout",
            IDLE,
            pcap.to_str().unwrap(),
        ],
        &out,
    );
    let read_flows = out.to_str().unwrap();
    let read_calls = tmp.path().join("read.calls.parquet");
    let want = py(&["calls", read_flows, read_calls.to_str().unwrap()]);
    assert_eq!(want.lines().count(), intents.len(), "{want}");
    assert_eq!(
        py(&["by-call-id", read_flows, read_calls.to_str().unwrap()]),
        want,
        "read: flows.call_id and calls.flow_ids give the same flows"
    );
    // Columns: local_ip, peer_local_ip, building, peer_building,
    // network_name, vpn, building_expressroute, one_way_audio, …
    for (client, building, vpn, one_way) in [
        ("10.2.0.10", "ANNEX", "False", "True"),
        ("10.2.0.11", "ANNEX", "False", "True"),
        ("10.9.0.5", "VPN", "True", "False"),
        ("10.1.0.10", "HQ", "False", "False"),
    ] {
        let line = want.lines().find(|l| l.starts_with(client)).unwrap();
        let cols: Vec<&str> = line.split(" | ").collect();
        assert_eq!(
            (cols[2], cols[5], cols[7]),
            (building, vpn, one_way),
            "{line}"
        );
    }
    let (want_rows, _) = flow_rows(read_flows);

    // The same capture into `live`, at its own pace.
    let net = Veth::new("plc", "calls");
    let dir = tmp.path().join("live");
    let log = tmp.path().join("live.log");
    let child = Command::new("ip")
        .args(["netns", "exec", &net.ns])
        .arg(bin())
        .args(["-v", "live", "-i", "vb", "--workers", "2", "-B", "33554432"])
        .args(["--config", site, "--idle-timeout", IDLE])
        .args(["--rotate-interval", ROTATE, "--edge-warmup", "1s", "-w"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let live = Live { child, log };
    wait_until(Duration::from_secs(30), "capturing", || {
        live.log().contains("capturing")
    });
    let started = Instant::now();
    net.exec(&["tcpreplay", "-q", "-i", "va", pcap.to_str().unwrap()]);
    let replayed = started.elapsed();

    // Every flow row is readable within the idle timeout and a rotation
    // after the last packet (with room for a loaded machine), while the
    // calls, whose clients could still call again, are not closed yet.
    let glob = format!("{}/flows/**/*.parquet", dir.display());
    let latency = wait_until(Duration::from_secs(90), "every flow row", || {
        flow_rows(&glob).0 >= want_rows
    });
    eprintln!(
        "replay {replayed:?} (capture {length:?}); all {want_rows} flow rows readable {latency:?} after its end"
    );
    assert!(
        latency <= Duration::from_secs(5 + 1 + 30),
        "{latency:?}\n{}",
        live.log()
    );
    let calls_glob = format!("{}/calls/**/*.parquet", dir.display());
    assert!(
        files_under(&dir.join("calls"))
            .iter()
            .all(|f| !f.ends_with(".parquet")),
        "no call has ended yet"
    );

    // Stopped: the calls close, and equal read's, each with its flows.
    run(&["kill", "-INT", &live.child.id().to_string()]);
    let mut live = live;
    let status = live.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", live.log());
    let ended = live.log();
    let ended = ended
        .lines()
        .rfind(|l| l.contains("capture ended"))
        .unwrap();
    assert!(ended.contains(" kernel_dropped=0 "), "{ended}");
    let got = py(&["calls", &glob, &calls_glob]);
    assert_eq!(got, want, "live vs read:\n{}", live.log());
    // Flow rows went out before their call was known: in live the join is
    // calls.flow_ids, and flows carry no call_id.
    assert_eq!(flow_rows(&glob), (want_rows, 0));
}
