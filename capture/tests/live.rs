//! `pathlens live` end to end (issue 13): a network namespace per test with
//! a veth pair, pathlens capturing on one end, tcpreplay sending corpus
//! captures into the other, then signals. Needs root, `ip` and `tcpreplay`
//! (CI runs as root after `.ci/setup test`); without root each test says so
//! loudly and passes without checking anything.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::netns::{is_root, run, Live, Veth};
use support::*;

impl Veth {
    /// Starts `pathlens -v live -i vb ARGS` in the namespace.
    fn live(&self, dir: &Path, args: &[&str]) -> Live {
        let log = dir.with_extension("log");
        let err = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(bin())
            .args(["-v", "live", "-i", "vb", "--workers", "2", "-w"])
            .arg(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        let l = Live { child, log };
        l.wait_log("capturing");
        l
    }
}

fn python(args: &[&str]) -> String {
    python_script("check_live.py", args)
}

/// What `check_live.py open` says of a dataset: files, flow rows, rows the
/// DuckDB glob reads, the largest drop count in the files' metadata.
fn open_all(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&python(&["open", dir.to_str().unwrap()])).unwrap()
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn flow_files(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|f| f.starts_with("flows/") && f.ends_with(".parquet"))
        .collect()
}

fn is_temporary(f: &str) -> bool {
    Path::new(f)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// The Ethernet captures of the corpus and the sample.
fn ethernet_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = corpus_files()
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "pcap")
                && std::fs::read(p).is_ok_and(|b| b.get(20..24) == Some(&[1, 0, 0, 0]))
        })
        .collect();
    v.push(repo().join("testdata/sample.pcap"));
    v
}

#[test]
fn live_flows_match_read_of_the_replayed_captures() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let caps = ethernet_captures();
    assert!(caps.len() > 20, "{caps:?}");
    let net = Veth::new("pl", "match");
    let live = net.live(&dir, &["-B", "33554432"]);
    net.replay(&caps);
    std::thread::sleep(Duration::from_millis(800));
    let (code, log) = live.stop();
    assert_eq!(code, 0, "{log}");
    let files = files(&dir);
    assert!(files.iter().all(|f| !is_temporary(f)), "{files:?}");
    let seen = open_all(&dir);
    assert!(seen["rows"].as_u64().unwrap() > 100, "{seen}");
    assert_eq!(seen["rows"], seen["glob_rows"]);
    eprintln!("live dataset: {seen}");

    let read = tmp.path().join("read.parquet");
    let args: Vec<&str> = caps.iter().map(|p| p.to_str().unwrap()).collect();
    read_ok(&args, &read);
    let want = python(&["pairs", read.to_str().unwrap()]);
    let got = python(&["pairs", dir.join("flows/**/*.parquet").to_str().unwrap()]);
    if seen["dropped"] == 0 {
        assert_eq!(got, want, "endpoint pairs and packets, live vs read");
    } else {
        // The kernel dropped some: the same pairs, counts may be short.
        let keys = |s: &str| {
            s.lines()
                .map(|l| l.rsplit_once('\t').unwrap().0.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&got), keys(&want), "dropped: {}", seen["dropped"]);
    }
    // SIGINT ended the open flows as forced ends.
    let reasons = Command::new("python3")
        .args(["-c", &format!(
            "import duckdb; print(duckdb.sql(\"select count(*) from read_parquet('{}/flows/**/*.parquet') where end_reason = 'forced_end'\").fetchall()[0][0])",
            dir.display()
        )])
        .output()
        .unwrap();
    let forced: u64 = String::from_utf8_lossy(&reasons.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(forced > 0);
}

fn small(name: &str) -> Vec<PathBuf> {
    vec![corpus().join("pcap").join(name)]
}

#[test]
fn rotation_writes_several_files_in_their_partitions_and_sighup_rotates_now() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let net = Veth::new("pl", "rot");
    let live = net.live(
        &dir,
        &[
            "--rotate-interval",
            "1s",
            "--idle-timeout",
            "1s",
            "--edge-warmup",
            "1s",
        ],
    );
    // Three bursts, each idle long enough to end its flows and rotate.
    for f in ["dns.pcap", "NTPv4.pcap", "stun_classic.pcap"] {
        net.replay(&small(f));
        std::thread::sleep(Duration::from_millis(2500));
    }
    let (code, log) = live.stop();
    assert_eq!(code, 0, "{log}");
    let all = files(&dir);
    assert!(all.iter().all(|f| !is_temporary(f)), "{all:?}");
    let flows = flow_files(&dir);
    assert!(flows.len() >= 3, "{flows:?}\n{log}");
    for f in &flows {
        assert!(f.starts_with("flows/date=") && f.contains("/hour="), "{f}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.join(f)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o640, "{f}");
    }
    // The checker asserts each row lies in the partition of its first_seen.
    let seen = open_all(&dir);
    assert_eq!(seen["files"].as_u64().unwrap() as usize, files(&dir).len());

    // SIGHUP: with hour-long rotation, a file appears only because of it.
    let dir = tmp.path().join("hup");
    let live = net.live(&dir, &["--idle-timeout", "1s", "--edge-warmup", "1s"]);
    net.replay(&small("dns.pcap"));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(flow_files(&dir).iter().all(|f| is_temporary(f)));
    live.signal("HUP");
    live.wait_log("files rotated");
    let after_hup = flow_files(&dir);
    assert_eq!(
        after_hup.iter().filter(|f| !is_temporary(f)).count(),
        1,
        "{after_hup:?}"
    );
    net.replay(&small("NTPv4.pcap"));
    std::thread::sleep(Duration::from_millis(2500));
    let (code, log) = live.stop();
    assert_eq!(code, 0, "{log}");
    let flows = flow_files(&dir);
    assert_eq!(flows.len(), 2, "{flows:?}");
    assert!(flows.iter().all(|f| !is_temporary(f)));
}

#[test]
fn kill_9_leaves_complete_files_and_temporaries_readers_skip() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let net = Veth::new("pl", "kill");
    let mut live = net.live(&dir, &["--idle-timeout", "1s", "--edge-warmup", "1s"]);
    net.replay(&small("dns.pcap"));
    std::thread::sleep(Duration::from_millis(2500));
    live.signal("HUP");
    live.wait_log("files rotated");
    net.replay(&ethernet_captures());
    std::thread::sleep(Duration::from_millis(2500));
    live.child.kill().unwrap();
    live.child.wait().unwrap();
    let all = files(&dir);
    let temps: Vec<_> = all.iter().filter(|f| is_temporary(f)).collect();
    let done: Vec<_> = all.iter().filter(|f| !is_temporary(f)).collect();
    assert!(!temps.is_empty(), "{all:?}");
    assert_eq!(done.len(), 1, "only the file SIGHUP closed: {all:?}");
    // The glob skips the temporaries: only the complete file's rows.
    let seen = open_all(&dir);
    assert_eq!(seen["rows"], seen["glob_rows"], "{seen}");
    assert!(seen["rows"].as_u64().unwrap() > 0);

    // The next start removes the temporaries and says so.
    let live = net.live(&dir, &[]);
    assert!(live.log().contains("did not finish"), "{}", live.log());
    let (code, _) = live.stop();
    assert_eq!(code, 0);
    assert!(files(&dir).iter().all(|f| !is_temporary(f)));
}

/// `Uid:` or `Gid:` of a process: real, effective, saved, filesystem.
fn ids(pid: u32, field: &str) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap()
        .to_string();
    line.split_whitespace().skip(1).map(String::from).collect()
}

#[test]
fn privileges_drop_after_the_capture_opens_and_output_still_works() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The user must be able to reach DIR: the temporary dir is root's 0700.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let dir = tmp.path().join("out");
    let net = Veth::new("pl", "priv");
    let live = net.live(
        &dir,
        &[
            "-Z",
            "nobody",
            "--idle-timeout",
            "1s",
            "--edge-warmup",
            "1s",
        ],
    );
    live.wait_log("privileges dropped");
    let uid = tool("id", &["-u", "nobody"]).trim().to_string();
    let gid = tool("id", &["-g", "nobody"]).trim().to_string();
    let pid = live.child.id();
    assert_eq!(ids(pid, "Uid:"), vec![uid.clone(); 4]);
    assert_eq!(ids(pid, "Gid:"), vec![gid.clone(); 4]);
    let groups = ids(pid, "Groups:");
    assert!(!groups.contains(&"0".to_string()), "{groups:?}");
    net.replay(&small("dns.pcap"));
    std::thread::sleep(Duration::from_millis(1500));
    let (code, log) = live.stop();
    assert_eq!(code, 0, "{log}");
    let flows = flow_files(&dir);
    assert_eq!(flows.len(), 1, "{flows:?}\n{log}");
    let meta = std::fs::metadata(dir.join(&flows[0])).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta).to_string(), uid);
}

#[test]
fn metrics_are_served_on_loopback_in_prometheus_text() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let net = Veth::new("pl", "metrics");
    let live = net.live(&dir, &["--metrics-listen", "0"]);
    let log = live.wait_log("metrics served");
    let addr = log
        .lines()
        .find(|l| l.contains("metrics served"))
        .and_then(|l| l.split("addr=").nth(1))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    net.replay(&small("dns.pcap"));
    std::thread::sleep(Duration::from_millis(1500));
    let out = Command::new("ip")
        .args(["netns", "exec", &net.ns, "python3", "-c"])
        .arg(format!(
            "import urllib.request; print(urllib.request.urlopen('http://{addr}/metrics').read().decode())"
        ))
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| -> u64 {
        page.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{page}"))
    };
    let dns_packets = 2;
    assert!(
        value("pathlens_pcap_received_packets_total ") >= dns_packets,
        "{page}"
    );
    assert!(value("pathlens_packets_total ") >= dns_packets, "{page}");
    assert_eq!(
        value("pathlens_pcap_dropped_packets_total{reason=\"kernel\"}"),
        0
    );
    value("pathlens_flows_live ");
    value("pathlens_files_written_total ");
    value("pathlens_flows_evicted_total ");
    assert!(page.contains("# TYPE pathlens_flows_live gauge"), "{page}");
    let (code, _) = live.stop();
    assert_eq!(code, 0);
}

/// A full disk: the sensor logs the failed window and counts its rows as
/// lost, keeps capturing, and writes again at a later rotation once there
/// is room; nothing incomplete is ever left under a final name.
#[test]
fn a_full_disk_is_logged_counted_and_retried() {
    if !is_root("live capture tests") {
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    run(&[
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=256k",
        "tmpfs",
        mnt.to_str().unwrap(),
    ]);
    let _unmount = Unmount(mnt.clone());
    // All but one page of the disk taken.
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0u8; 252 * 1024]).unwrap();
    let dir = mnt.join("out");
    let net = Veth::new("pl", "full");
    let live = net.live(
        &dir,
        &[
            "--rotate-interval",
            "1s",
            "--idle-timeout",
            "1s",
            "--edge-warmup",
            "1s",
        ],
    );
    net.replay(&small("dns.pcap"));
    let log = live.wait_log("output failed");
    assert!(log.contains("rows_lost"), "{log}");
    assert!(
        flow_files(&dir).iter().all(|f| is_temporary(f)),
        "{:?}",
        files(&dir)
    );
    // Room again: a later rotation writes the next window's rows.
    std::fs::remove_file(&filler).unwrap();
    net.replay(&small("NTPv4.pcap"));
    std::thread::sleep(Duration::from_millis(3000));
    let (code, log) = live.stop();
    assert_eq!(code, 0, "{log}");
    let all = files(&dir);
    assert!(all.iter().all(|f| !is_temporary(f)), "{all:?}\n{log}");
    let flows = flow_files(&dir);
    assert!(!flows.is_empty(), "{all:?}\n{log}");
    let seen = open_all(&dir);
    assert_eq!(seen["files"].as_u64().unwrap() as usize, all.len());
    assert!(seen["rows"].as_u64().unwrap() > 0, "{seen}");
}

/// Writes a fake finished part of `bytes` bytes into hour partition
/// `date`/`hour` of both tables.
fn old_partition(dir: &Path, date: &str, hour: u32, bytes: usize) {
    for t in ["flows", "streams"] {
        let d = dir.join(t).join(format!("date={date}/hour={hour}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("part-old.parquet"), vec![7u8; bytes / 2]).unwrap();
    }
}

/// The value of `key=` in the last log line holding `what`.
fn logged(log: &str, what: &str, key: &str) -> u64 {
    log.lines()
        .rfind(|l| l.contains(what))
        .and_then(|l| l.split(&format!("{key}=")).nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.trim_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("no {key} in a {what:?} line of\n{log}"))
}

#[test]
fn retention_removes_old_hours_at_start_and_keeps_the_hour_being_written() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    old_partition(&dir, "2020-01-01", 3, 1000);
    old_partition(&dir, "2020-01-01", 4, 1000);
    let net = Veth::new("pl", "ret");
    let live = net.live(
        &dir,
        &[
            "--retention",
            "2h",
            "--rotate-interval",
            "1s",
            "--idle-timeout",
            "1s",
            "--edge-warmup",
            "1s",
        ],
    );
    let log = live.wait_log("partition removed");
    assert!(
        log.contains("reason=\"age\"") || log.contains("reason=age"),
        "{log}"
    );
    net.replay(&small("dns.pcap"));
    std::thread::sleep(Duration::from_millis(3000));
    let (code, log) = live.stop();
    assert_eq!(code, 0, "{log}");
    let all = files(&dir);
    assert!(
        all.iter().all(|f| !f.contains("date=2020-01-01")),
        "{all:?}"
    );
    // The hour just written is kept, whatever the age asked.
    assert!(!flow_files(&dir).is_empty(), "{all:?}\n{log}");
    assert_eq!(
        logged(&log, "capture ended", "partitions_removed"),
        2,
        "{log}"
    );
}

#[test]
fn read_into_a_dataset_applies_retention_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ds");
    old_partition(&dir, "2001-01-01", 0, 100);
    old_partition(&dir, "2001-01-02", 5, 100);
    let o = Command::new(bin())
        .args(["-v", "read", "--max-size", "1", "-w"])
        .arg(format!("{}/", dir.display()))
        .arg(repo().join("testdata/sample.pcap"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("partition removed").count(), 2, "{err}");
    let all = files(&dir);
    assert!(all.iter().all(|f| !f.contains("date=2001-")), "{all:?}");
    assert!(!flow_files(&dir).is_empty(), "{all:?}");
}

/// A full small filesystem: the guard removes old hours before the rows
/// of a window are written, so none are lost; without it, rows are lost.
#[test]
fn a_filling_disk_prunes_old_hours_rather_than_losing_rows() {
    if !is_root("live capture tests") {
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let run_on_full_disk = |tag: &str, floor: &str| -> (String, Vec<String>) {
        let mnt = tmp.path().join(tag);
        std::fs::create_dir(&mnt).unwrap();
        run(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=4m",
            "tmpfs",
            mnt.to_str().unwrap(),
        ]);
        let _unmount = Unmount(mnt.clone());
        let dir = mnt.join("out");
        // Old hours take 3 of the 4 MiB: above the floor at start.
        for h in 0..6 {
            old_partition(&dir, "2020-01-01", h, 512 * 1024);
        }
        let net = Veth::new("pl", tag);
        let live = net.live(
            &dir,
            &[
                "--min-free",
                floor,
                "--rotate-interval",
                "1s",
                "--idle-timeout",
                "1s",
                "--edge-warmup",
                "1s",
            ],
        );
        // Then the disk fills while the sensor runs, but for a few pages.
        let (free, _) = disk_free(&mnt);
        std::fs::write(mnt.join("filler"), vec![0u8; free as usize - 12 * 1024]).unwrap();
        net.replay(&small("dns.pcap"));
        net.replay(&small("NTPv4.pcap"));
        std::thread::sleep(Duration::from_millis(3500));
        let (code, log) = live.stop();
        assert_eq!(code, 0, "{log}");
        (log, files(&dir))
    };
    let (log, all) = run_on_full_disk("fill", "256K");
    assert_eq!(logged(&log, "capture ended", "rows_lost"), 0, "{log}");
    assert!(logged(&log, "capture ended", "rows_written") > 0, "{log}");
    let removed = logged(&log, "capture ended", "partitions_removed");
    assert!(
        (1..6).contains(&removed),
        "oldest first, only what the floor needs: {log}"
    );
    assert!(log.contains("disk_free"), "{log}");
    // The oldest hours went first.
    assert!(
        !all.iter().any(|f| f.contains("date=2020-01-01/hour=0/")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|f| f.contains("date=2020-01-01/hour=5/")),
        "{all:?}"
    );

    let (log, _) = run_on_full_disk("nofloor", "0");
    assert!(
        logged(&log, "capture ended", "rows_lost") > 0,
        "without the guard rows are lost: {log}"
    );
}

/// Bytes available and total on the filesystem of `p`, from df.
fn disk_free(p: &Path) -> (u64, u64) {
    let o = Command::new("df")
        .args(["-B1", "--output=avail,size"])
        .arg(p)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let v: Vec<u64> = text
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (v[0], v[1])
}

#[test]
fn a_missing_interface_creates_nothing_and_hints_at_d() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let o = Command::new(bin())
        .args(["live", "-i", "nosuchif0", "-w"])
        .arg(format!("{}/", dir.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("nosuchif0") && err.contains("-D"), "{err}");
    assert!(!dir.exists(), "{:?}", files(tmp.path()));
}

#[test]
fn the_stats_line_shows_without_v_and_its_last_line_has_a_rate() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let net = Veth::new("pl", "stats");
    let log = dir.with_extension("log");
    let child = Command::new("ip")
        .args(["netns", "exec", &net.ns])
        .arg(bin())
        .args([
            "live",
            "-i",
            "vb",
            "--stats-interval",
            "1s",
            "--stall-after",
            "2s",
            "-w",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let live = Live { child, log };
    live.wait_log(" stats ");
    net.replay(&small("dns.pcap"));
    // No packets after the replay: the stall is said once.
    live.wait_log("capture stalled");
    let (code, log) = live.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(log.matches("capture stalled").count(), 1, "{log}");
    let last = log.lines().rfind(|l| l.contains("capture ended")).unwrap();
    assert!(!last.contains("packets_per_s=\"\""), "{last}");
    // A number, as in every stats line (logged() parses it or fails).
    logged(&log, "capture ended", "packets_per_s");
    assert!(
        logged(&log, "capture ended", "packets_received") >= 2,
        "{log}"
    );
    assert!(
        !log.contains("INFO pathlens::cmd"),
        "only the stats target shows at info:\n{log}"
    );
}

/// The egress of the DNS flow of dns.pcap in each file's rows, in capture
/// order.
fn dns_egress(dir: &Path) -> Vec<String> {
    let code = format!(
        "import duckdb\nfor (e,) in duckdb.sql(\"select egress from read_parquet('{}/flows/**/*.parquet') where '82.178.158.181' in (src_ip, dst_ip) order by first_seen\").fetchall(): print(e)",
        dir.display()
    );
    let o = Command::new("python3")
        .args(["-c", &code])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn sighup_reloads_a_prefix_list_and_refuses_a_broken_one() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let list = tmp.path().join("er.txt");
    std::fs::write(&list, "203.0.113.0/24 elsewhere\n").unwrap();
    let net = Veth::new("pl", "hup");
    let er = format!("er={}", list.display());
    let live = net.live(
        &dir,
        &[
            "--expressroute-prefixes",
            &er,
            "--idle-timeout",
            "1s",
            "--edge-warmup",
            "1s",
            "--rotate-interval",
            "1h",
        ],
    );
    let replay_and_rotate = |live: &Live, rotations: usize| {
        net.replay(&small("dns.pcap"));
        // The flow ends (idle 1 s), then a SIGHUP closes the files.
        std::thread::sleep(Duration::from_millis(2500));
        live.signal("HUP");
        let t = Instant::now();
        while live.log().matches("files rotated").count() < rotations {
            assert!(t.elapsed() < Duration::from_secs(15), "{}", live.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // The DNS server is not in the list yet: a row that is not ExpressRoute.
    replay_and_rotate(&live, 1);
    // The new list, then the reload it takes; the next rows go by ExpressRoute.
    std::fs::write(&list, "82.178.158.0/24 er-dns\n").unwrap();
    replay_and_rotate(&live, 2);
    assert_eq!(
        live.log().matches("config reloaded").count(),
        2,
        "{}",
        live.log()
    );
    replay_and_rotate(&live, 3);
    // A broken list is refused and the one in force stays.
    std::fs::write(&list, "not a prefix\n").unwrap();
    replay_and_rotate(&live, 4);
    let log = live.wait_log("config reload refused");
    assert!(log.contains("not an IP prefix"), "{log}");
    replay_and_rotate(&live, 5);
    let (code, log) = live.stop();
    assert_eq!(code, 0, "the sensor never stops on a bad edit: {log}");
    let egress = dns_egress(&dir);
    assert_eq!(egress.len(), 5, "one DNS row per replay: {egress:?}\n{log}");
    assert_ne!(egress[0], "expressroute", "{egress:?}");
    // The row of the second replay ended before its reload: still the old list.
    assert_eq!(egress[1], egress[0], "{egress:?}");
    assert_eq!(egress[2..], ["expressroute"; 3], "{egress:?}\n{log}");
}

/// Issue 24 under `live`: a router first seen after the warm-up is learned
/// on its own evidence (before, it stayed `unknown` for the rest of the
/// run). The capture is replayed at its own pace: Teams calls through the
/// ExpressRoute router, then 3 s later, past a 1 s warm-up, a backup
/// firewall carrying Teams and Internet calls.
#[test]
fn live_learns_a_router_first_seen_after_the_warm_up() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("failover.pcap");
    support::verdicts_gen::failover(&pcap, 3_000_000);
    let cfg = support::verdicts_gen::site(tmp.path());
    let dir = tmp.path().join("out");
    let net = Veth::new("pl", "failover");
    let live = net.live(
        &dir,
        &["--config", cfg.to_str().unwrap(), "--edge-warmup", "1s"],
    );
    net.replay_timed(&pcap);
    std::thread::sleep(Duration::from_millis(500));
    let (code, log) = live.stop();
    assert_eq!(code, 0, "{log}");
    let mut batches = Vec::new();
    for f in flow_files(&dir) {
        batches.extend(read_batches(&dir.join(f)));
    }
    support::verdicts_gen::check_failover(&support::verdicts_gen::verdicts(&batches));
}

/// A mirror feed on the wire: the sample as an Azure virtual network TAP
/// sends it (VXLAN) and as a switch's ERSPAN II session does, replayed into
/// the veth pair. Each live dataset has the rows of `read` of the unwrapped
/// sample with the same site config: per endpoint pair the packets, IP
/// bytes, class and next hops (taken from the mirrored frames' MACs and
/// VLANs), every row marked with its tunnel.
#[test]
fn live_opens_vxlan_and_erspan_feeds_like_read_of_the_unwrapped_capture() {
    if !is_root("live capture tests") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let read = tmp.path().join("read.parquet");
    let site = repo().join("testdata/sample-site.toml");
    let site = site.to_str().unwrap();
    read_ok(
        &[
            repo().join("testdata/sample.pcap").to_str().unwrap(),
            "--config",
            site,
        ],
        &read,
    );
    let want = python(&["rows", read.to_str().unwrap()]);
    assert!(want.lines().count() >= 8, "{want}");
    assert!(want.contains("srtp\t02:00:00:00:00:01 vlan 100"), "{want}");
    for (feed, encap) in [
        ("mirror-vxlan.pcap", "vxlan|5001"),
        ("mirror-erspan.pcap", "erspan2|301"),
    ] {
        let dir = tmp.path().join(feed);
        let net = Veth::new("pl", &feed[7..10]);
        let live = net.live(&dir, &["-B", "33554432", "--config", site]);
        net.replay(&[repo().join("testdata").join(feed)]);
        std::thread::sleep(Duration::from_millis(800));
        let (code, log) = live.stop();
        assert_eq!(code, 0, "{log}");
        let seen = open_all(&dir);
        assert_eq!(seen["dropped"], 0, "{seen}");
        let glob = dir.join("flows/**/*.parquet");
        assert_eq!(python(&["rows", glob.to_str().unwrap()]), want, "{feed}");
        let mut tunnels: Vec<String> = flow_files(&dir)
            .iter()
            .flat_map(|f| {
                rows_of(
                    &read_batches(&dir.join(f)),
                    &["encapsulation", "tunnel_id"],
                    "|",
                )
            })
            .collect();
        tunnels.dedup();
        assert_eq!(tunnels, vec![encap.to_string()], "{feed}");
    }
}
