//! Issue 18: `pathlens read` behaves as users of tcpdump, tshark and Zeek
//! expect. Outputs never destroy inputs or existing files, a mistake costs
//! one error and writes nothing, a filter may trail `-r` inputs, directory
//! reads say what they skipped, compressed captures are read, bounds are
//! checked, Ctrl-C leaves a valid shorter output, and logs are real.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use pathlens_benches::frame::{udp_frame, Eth};
use pathlens_benches::pcap::PcapWriter;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

fn sample() -> PathBuf {
    repo().join("testdata/sample.pcap")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file below `dir`, names relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let p = e.path();
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn issue18_output_onto_an_input_is_refused_even_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.pcap");
    std::fs::copy(sample(), &victim).unwrap();
    let before = std::fs::read(&victim).unwrap();
    let o = pathlens(&[
        "read",
        victim.to_str().unwrap(),
        "-w",
        victim.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    // Another name for the same file (a hard link) is the same input.
    let link = dir.path().join("link.parquet");
    std::fs::hard_link(&victim, &link).unwrap();
    let v = victim.to_str().unwrap();
    let o = pathlens(&["read", v, "-w", link.to_str().unwrap(), "--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        before,
        "the capture is intact"
    );
    assert_eq!(files(dir.path()), ["link.parquet", "victim.pcap"]);
}

#[test]
fn issue18_existing_output_needs_force_and_datasets_only_add_parts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flows.parquet");
    std::fs::write(&out, b"keep me").unwrap();
    let s = sample();
    let o = pathlens(&["read", s.to_str().unwrap(), "-w", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("without --force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let o = pathlens(&[
        "read",
        s.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(rows(&read_batches(&out)), 10);
    // A dataset directory takes a second run: it only gains parts.
    let ds = format!("{}/", dir.path().join("ds").display());
    for _ in 0..2 {
        let o = pathlens(&["read", s.to_str().unwrap(), "-w", &ds, "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let parts = files(&dir.path().join("ds/flows"));
    assert!(
        parts.len() >= 2 && parts.len().is_multiple_of(2),
        "{parts:?}"
    );
}

#[test]
fn issue18_dash_writes_parquet_to_stdout_and_the_summary_to_stderr() {
    let o = pathlens(&["read", sample().to_str().unwrap(), "-w", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&o.stdout[..4], b"PAR1");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("out.parquet");
    std::fs::write(&f, &o.stdout).unwrap();
    assert_eq!(rows(&read_batches(&f)), 10);
    assert!(
        stderr(&o).contains("output:   stdout (10 rows"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("-").exists() && !Path::new("-").exists());
}

#[test]
fn issue18_bad_filter_fails_once_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("caps");
    std::fs::create_dir(&caps).unwrap();
    for n in ["a.pcap", "b.pcap", "c.pcap"] {
        std::fs::copy(sample(), caps.join(n)).unwrap();
    }
    let out = dir.path().join("out.parquet");
    let o = pathlens(&[
        "read",
        caps.to_str().unwrap(),
        "-f",
        "udp prot 53",
        "-w",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).matches("syntax error").count(),
        1,
        "{}",
        stderr(&o)
    );
    assert!(
        o.stdout.is_empty(),
        "no summary of a run that did not start"
    );
    assert_eq!(
        files(dir.path()),
        ["caps/a.pcap", "caps/b.pcap", "caps/c.pcap"]
    );
}

#[test]
fn issue18_a_run_whose_every_input_fails_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Captures of a link type pathlens does not decode (DLT_USER0).
    let mut names = Vec::new();
    for n in ["x.pcap", "y.pcap"] {
        let p = dir.path().join(n);
        let mut w = PcapWriter::create(&p, 147, 65535).unwrap();
        w.write_frame(0, &[0u8; 60]).unwrap();
        w.finish().unwrap();
        names.push(p);
    }
    let out = dir.path().join("out.parquet");
    let o = pathlens(&[
        "read",
        names[0].to_str().unwrap(),
        names[1].to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.matches("unsupported link type").count(), 2, "{e}");
    assert!(e.contains("nothing written"), "{e}");
    assert_eq!(files(dir.path()), ["x.pcap", "y.pcap"]);
}

#[test]
fn issue18_a_filter_may_trail_r_inputs_as_in_tcpdump() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dns.parquet");
    let s = sample();
    let o = pathlens(&[
        "read",
        "-r",
        s.to_str().unwrap(),
        "vlan",
        "and",
        "udp",
        "port",
        "53",
        "-w",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let flows = read_batches(&out);
    assert_eq!(column_text(&flows, "app_protocol"), ["dns"]);
    assert!(metadata(&out).contains(&("pathlens.filter".into(), "vlan and udp port 53".into())));
    // Without -r the words are no files: one error that says how to filter.
    let o = pathlens(&["read", s.to_str().unwrap(), "udp", "port", "53"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("-f 'udp port 53'"), "{}", stderr(&o));
}

#[test]
fn issue18_directories_list_what_they_skip_and_compressed_captures_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("caps");
    std::fs::create_dir(&caps).unwrap();
    let raw = std::fs::read(sample()).unwrap();
    std::fs::write(caps.join("plain.pcap"), &raw).unwrap();
    // Names that do not say the compression: the magic bytes do.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    std::fs::write(caps.join("a.pcap.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(caps.join("b.data"), zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(&raw).unwrap();
    std::fs::write(caps.join("c.cap.xz"), xz.finish().unwrap()).unwrap();
    std::fs::write(caps.join("README"), "captures of the 2nd floor\n").unwrap();
    std::fs::write(caps.join("fake.pcap"), "not a capture\n").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"notes, compressed").unwrap();
    std::fs::write(caps.join("notes.gz"), gz.finish().unwrap()).unwrap();

    let out = dir.path().join("all.parquet");
    let o = pathlens(&["read", caps.to_str().unwrap(), "-w", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("skipped 3 files in the inputs: 1 gzip file that holds no capture, 2 not a capture (unknown magic number) (-v names them)"),
        "{e}"
    );
    assert!(!e.contains("README"), "named only with -v: {e}");
    // Flows never span inputs: four copies of the sample, 10 flows each.
    assert_eq!(rows(&read_batches(&out)), 40);
    assert_eq!(counters(&out)["packets_read"], 4 * 790);
    let o = pathlens(&["read", caps.to_str().unwrap(), "-v"]);
    let e = stderr(&o);
    assert!(
        e.contains("README") && e.contains("fake.pcap") && e.contains("notes.gz"),
        "{e}"
    );

    // The same file given twice is read once.
    let p = caps.join("plain.pcap");
    let o = pathlens(&["read", p.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("packets:  790 read"));
}

#[test]
fn issue18_workers_and_max_flows_are_bounded() {
    let s = sample();
    for (flag, value, says) in [
        ("--workers", "0", "at least 1"),
        ("--workers", "100000", "at most 256"),
        ("--max-flows", "0", "at least 1"),
    ] {
        let o = pathlens(&["read", s.to_str().unwrap(), flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    let o = pathlens(&[
        "read",
        s.to_str().unwrap(),
        "--max-flows",
        &u64::MAX.to_string(),
        "--workers",
        "256",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn issue18_logs_are_json_lines_at_info_with_v() {
    let s = sample();
    let o = pathlens(&[
        "read",
        s.to_str().unwrap(),
        "-f",
        "vlan or not vlan",
        "-v",
        "--log-format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let msg = |m: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == m)
            .unwrap_or_else(|| panic!("no {m:?} in {lines:?}"))
    };
    assert_eq!(msg("filter compiled")["level"], "INFO");
    assert_eq!(msg("input opened")["fields"]["filter"], "vlan or not vlan");
    assert_eq!(msg("input read")["fields"]["frames"], 790);
    // Without -v a normal run logs nothing.
    let o = pathlens(&["read", s.to_str().unwrap()]);
    assert_eq!(stderr(&o), "");
}

/// A capture of `n` one-packet UDP flows, one every millisecond.
fn frames(n: u16) -> Vec<(i64, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let f = udp_frame(
                Eth::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]),
                ([10, 0, 0, 1], 1024 + i),
                ([10, 0, 0, 2], 9),
                b"x",
            );
            (1_700_000_000_000_000 + i64::from(i) * 1000, f)
        })
        .collect()
}

/// Starts `read -` writing to `out`, feeds `frames` on its stdin in slices
/// with pauses, and sends `signals` (kill names) once `after` have passed,
/// 300 ms apart; feeding stops at the first signal when `stall`. Returns the
/// exit status.
fn interrupt(
    out: &Path,
    signals: &[&str],
    after: Duration,
    stall: bool,
) -> std::process::ExitStatus {
    let mut child = Command::new(bin())
        .args(["read", "-", "-w", out.to_str().unwrap(), "--workers", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut w = PcapWriter::new(child.stdin.take().unwrap(), 1, 65535).unwrap();
    let start = Instant::now();
    let mut sent = false;
    for chunk in frames(20_000).chunks(100) {
        if !sent && start.elapsed() >= after {
            for (i, s) in signals.iter().enumerate() {
                if i > 0 {
                    std::thread::sleep(Duration::from_millis(300));
                }
                Command::new("kill")
                    .args([&format!("-{s}"), &pid])
                    .status()
                    .unwrap();
            }
            sent = true;
            if stall {
                break;
            }
        }
        if chunk.iter().any(|(t, f)| w.write_frame(*t, f).is_err()) {
            break; // the reader has gone
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !stall {
        drop(w); // end of input, should the run still be reading
        return child.wait().unwrap();
    }
    // The run must end by itself within seconds; a hang is a failure.
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    let _ = child.wait();
    panic!("the run did not end after {signals:?}");
}

#[test]
fn issue18_sigint_keeps_the_flows_read_so_far_in_a_valid_shorter_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cut.parquet");
    let status = interrupt(&out, &["INT"], Duration::from_millis(1500), false);
    assert_eq!(status.code(), Some(130));
    let n = rows(&read_batches(&out));
    assert!(n > 0 && n < 20_000, "{n} rows");
    assert_eq!(counters(&out)["records_written"], n as u64);
    assert_eq!(
        files(dir.path()),
        ["cut.calls.parquet", "cut.parquet", "cut.streams.parquet"]
    );
    // SIGTERM the same, with its own status.
    let out = dir.path().join("term.parquet");
    let status = interrupt(&out, &["TERM"], Duration::from_millis(1500), false);
    assert_eq!(status.code(), Some(143));
    assert!(rows(&read_batches(&out)) < 20_000);
}

#[test]
fn issue18_a_second_sigint_aborts_and_removes_the_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("abort.parquet");
    // The input stalls after the first signal, so only the second ends the run.
    let status = interrupt(&out, &["INT", "INT"], Duration::from_millis(1500), true);
    assert_eq!(status.code(), Some(130));
    assert_eq!(files(dir.path()), Vec::<String>::new());
}

/// Compressed captures are read by the block readers, as plain files are
/// (through libpcap the records were copied twice more): the rows are
/// those of the plain file, pcap and pcapng, and a compressed capture cut
/// mid-record fails with the plain file's message, after its whole records.
#[test]
fn compressed_captures_are_read_in_place_with_the_rows_of_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let ng = corpus().join("pcap/http.pcapng");
    // Different names, so `interface` (the input as given) differs too.
    let varying = ["run_id", "interface"];
    for (i, plain) in [sample(), ng].into_iter().enumerate() {
        let raw = std::fs::read(&plain).unwrap();
        let z = dir.path().join(format!("capture{i}.zst"));
        std::fs::write(&z, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
        let a = dir.path().join(format!("a{i}.parquet"));
        let b = dir.path().join(format!("b{i}.parquet"));
        read_ok(&[plain.to_str().unwrap()], &a);
        let o = pathlens(&["read", z.to_str().unwrap(), "-v", "-w", b.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("reader=\"in place\""), "{}", stderr(&o));
        let (ra, rb) = (read_batches(&a), read_batches(&b));
        assert!(rows(&ra) > 0);
        assert_eq!(
            row_texts(&ra, &varying),
            row_texts(&rb, &varying),
            "{plain:?}"
        );
        assert_eq!(counters(&a)["packets_read"], counters(&b)["packets_read"]);
        // A filtered read still goes through libpcap, fed by the same pipe.
        let (fa, fb) = (
            dir.path().join(format!("fa{i}.parquet")),
            dir.path().join(format!("fb{i}.parquet")),
        );
        read_ok(&[plain.to_str().unwrap(), "-f", "tcp"], &fa);
        let o = pathlens(&[
            "read",
            z.to_str().unwrap(),
            "-f",
            "tcp",
            "-v",
            "-w",
            fb.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            !stderr(&o).contains("reader=\"in place\""),
            "{}",
            stderr(&o)
        );
        let (ra, rb) = (read_batches(&fa), read_batches(&fb));
        assert!(rows(&ra) > 0);
        assert_eq!(
            row_texts(&ra, &varying),
            row_texts(&rb, &varying),
            "{plain:?} -f tcp"
        );
    }
    // Cut 10 bytes into a record: the same message, the same records before it.
    let raw = std::fs::read(sample()).unwrap();
    let cut = &raw[..raw.len() - 30];
    let p = dir.path().join("cut.pcap");
    std::fs::write(&p, cut).unwrap();
    let z = dir.path().join("cut.zst");
    std::fs::write(&z, zstd::encode_all(cut, 3).unwrap()).unwrap();
    let (a, b) = (dir.path().join("ca.parquet"), dir.path().join("cb.parquet"));
    let oa = pathlens(&["read", p.to_str().unwrap(), "-w", a.to_str().unwrap()]);
    let ob = pathlens(&["read", z.to_str().unwrap(), "-w", b.to_str().unwrap()]);
    let msg = |o: &std::process::Output| {
        let e = stderr(o);
        e.lines()
            .find(|l| l.contains("truncated dump file"))
            .map(|l| l.rsplit(": libpcap").next().unwrap_or("").to_string())
    };
    assert!(msg(&oa).is_some(), "{}", stderr(&oa));
    assert_eq!(msg(&oa), msg(&ob), "{}", stderr(&ob));
    assert_eq!(counters(&a)["packets_read"], counters(&b)["packets_read"]);
}
