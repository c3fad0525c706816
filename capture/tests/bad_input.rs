//! Bad input never crashes and never loses data: truncated captures, files
//! that are not captures, unsupported link types, garbage frames, flow floods
//! and a full disk give a clear error or a counted skip, and the output
//! written so far stays valid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use pathlens_benches::frame::{udp_frame, Eth};
use std::path::Path;
use support::*;

/// Offsets where each record of a classic pcap starts.
fn record_starts(data: &[u8]) -> Vec<usize> {
    let mut at = 24;
    let mut v = Vec::new();
    while at + 16 <= data.len() {
        v.push(at);
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    v
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn truncated_pcap_keeps_its_flows_and_names_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(corpus().join("pcap/bittorrent.pcap")).unwrap();
    let starts = record_starts(&data);
    let keep = starts.len() * 2 / 3;
    let cut_record = starts[keep];
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &data[..cut_record + 16 + 10]).unwrap();
    let out = dir.path().join("cut.parquet");
    let o = pathlens(&["read", cut.to_str().unwrap(), "-w", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a cut capture fails the run");
    let err = stderr_of(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("pathlens:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("cut.pcap") && lines[0].contains(&format!("byte offset {cut_record}")),
        "{err}"
    );
    // What was read is kept, in a valid file.
    let b = read_batches(&out);
    assert!(rows(&b) > 5);
    let c = counters(&out);
    assert_eq!(c["packets_read"], keep as u64);
    assert_eq!(c["inputs_failed"], 1);
    let in_flows = sum_i64(&b, "src2dst_packets") + sum_i64(&b, "dst2src_packets");
    assert_eq!(in_flows as u64, keep as u64 - c["not_ip"].as_u64().unwrap());
}

#[test]
fn truncated_pcapng_is_an_error_with_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(corpus().join("pcap/sites.pcapng")).unwrap();
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &data[..data.len() / 2 + 7]).unwrap();
    let out = dir.path().join("cut.parquet");
    let o = pathlens(&[
        "read",
        "-q",
        cut.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr_of(&o);
    assert!(
        err.contains("cut.pcapng") && err.contains("byte offset"),
        "{err}"
    );
    assert!(
        rows(&read_batches(&out)) > 10,
        "flows before the cut are written"
    );
}

#[test]
fn bad_inputs_are_named_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a capture at all").unwrap();
    let wifi = dir.path().join("wifi.pcap");
    let mut w = PcapWriter::create(&wifi, 105, 65535);
    w.frame(1_000_000, &[0u8; 40]);
    w.finish();
    let good = corpus().join("pcap/chrome.pcap");
    let out = dir.path().join("out.parquet");
    // Inputs that are missing or no capture stop the run before it reads
    // anything (issue 18), each named once.
    let o = pathlens(&[
        "read",
        "-q",
        "/nonexistent/missing.pcap",
        text.to_str().unwrap(),
        good.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr_of(&o);
    assert!(
        err.contains("2 inputs cannot be read; nothing was read"),
        "{err}"
    );
    assert!(
        err.contains("/nonexistent/missing.pcap: No such file"),
        "{err}"
    );
    assert!(
        err.contains("notes.txt: not a capture (unknown magic number)"),
        "{err}"
    );
    assert!(!out.exists());
    // A capture whose link type is found unsupported only when it is
    // opened is named, and the others go on.
    let o = pathlens(&[
        "read",
        "-q",
        wifi.to_str().unwrap(),
        good.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr_of(&o);
    assert!(
        err.contains("wifi.pcap: unsupported link type 105"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line per failed input: {err}");
    let b = read_batches(&out);
    assert_eq!(rows(&b), 6, "chrome.pcap's flows");
    assert_eq!(counters(&out)["inputs_failed"], 1);
}

#[test]
fn a_directory_means_every_capture_inside() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::copy(corpus().join("pcap/chrome.pcap"), sub.join("x.cap")).unwrap();
    std::fs::copy(corpus().join("pcap/dns.pcap"), dir.path().join("a/y.pcap")).unwrap();
    std::fs::write(dir.path().join("a/README"), "text").unwrap();
    let out = dir.path().join("out.parquet");
    let o = pathlens(&[
        "read",
        "-q",
        dir.path().join("a").to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let b = read_batches(&out);
    assert_eq!(rows(&b), 6 + 2);
    let ifaces: std::collections::BTreeSet<String> =
        column_text(&b, "interface").into_iter().collect();
    assert_eq!(ifaces.len(), 2, "{ifaces:?}");
}

#[test]
fn garbage_frames_are_counted_never_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("garbage.pcap");
    let mut w = PcapWriter::create(&f, 1, 65535);
    // A simple LCG: deterministic garbage without a dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as u32
    };
    for i in 0..5000 {
        let len = (next() % 200) as usize;
        let mut frame: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Every other frame claims IPv4 or IPv6 so the IP decoder sees garbage too.
        if len > 14 && i % 2 == 0 {
            frame[12] = if i % 4 == 0 { 0x08 } else { 0x86 };
            frame[13] = if i % 4 == 0 { 0x00 } else { 0xdd };
            frame[14] = if i % 4 == 0 { 0x45 } else { 0x60 };
        }
        w.frame(1_600_000_000_000_000 + i * 1000, &frame);
    }
    w.finish();
    let out = dir.path().join("g.parquet");
    let o = pathlens(&[
        "read",
        "-q",
        f.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let c = counters(&out);
    assert_eq!(c["packets_read"], 5000);
    let malformed: u64 = c["malformed"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(malformed > 500, "{c}");
    assert!(c["not_ip"].as_u64().unwrap() > 1000, "{c}");
    let b = read_batches(&out);
    let in_flows = (sum_i64(&b, "src2dst_packets") + sum_i64(&b, "dst2src_packets")) as u64;
    assert_eq!(in_flows, 5000 - malformed - c["not_ip"].as_u64().unwrap());
}

/// A capture with `n` one-packet UDP flows, 1 ms apart.
fn flood(path: &Path, n: u32) {
    let mut w = PcapWriter::create(path, 1, 65535);
    for i in 0..n {
        let f = udp_frame(
            Eth::new([1; 6], [2; 6]),
            (
                [10, 1, (i >> 16) as u8, (i >> 8) as u8],
                40000 + (i % 20000) as u16,
            ),
            ([52, 112, 0, (i & 0xff) as u8], 3478),
            &[0u8; 60],
        );
        w.frame(1_600_000_000_000_000 + i64::from(i) * 1000, &f);
    }
    w.finish();
}

#[test]
fn a_flow_flood_is_bounded_by_eviction_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("flood.pcap");
    flood(&f, 30_000);
    let out = dir.path().join("flood.parquet");
    let o = pathlens(&[
        "read",
        "-q",
        "--max-flows",
        "1000",
        "--workers",
        "2",
        f.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let c = counters(&out);
    let b = read_batches(&out);
    assert_eq!(rows(&b), 30_000, "every flow is written once");
    let evicted = c["evicted"].as_u64().unwrap();
    assert!(evicted >= 28_000, "{c}");
    let reasons = column_text(&b, "end_reason");
    assert_eq!(
        reasons.iter().filter(|r| *r == "lack_of_resources").count() as u64,
        evicted
    );
}

#[test]
fn a_missing_output_directory_fails_before_reading() {
    let o = pathlens(&[
        "read",
        "-q",
        corpus().join("pcap/chrome.pcap").to_str().unwrap(),
        "-w",
        "/nonexistent-dir/out.parquet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains("/nonexistent-dir"),
        "{}",
        stderr_of(&o)
    );
}

/// Runs `f` on a 128 KiB tmpfs; false when it cannot be mounted (not root).
fn on_small_tmpfs(f: impl FnOnce(&std::path::Path, &std::path::Path)) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=128k",
            "tmpfs",
            mnt.to_str().unwrap(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert_ne!(
            euid_is_root(),
            Some(true),
            "mount failed although running as root"
        );
        eprintln!("skipped: mounting a tmpfs needs root");
        return false;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    f(dir.path(), &mnt);
    true
}

fn assert_out_of_space(o: &std::process::Output) {
    assert_eq!(o.status.code(), Some(2));
    let err = stderr_of(o);
    assert!(
        err.contains("No space left on device") || err.contains("os error 28"),
        "{err}"
    );
}

#[test]
fn a_full_disk_fails_cleanly_and_keeps_the_previous_output() {
    // Needs root for a small tmpfs; CI runs as root.
    on_small_tmpfs(|dir, mnt| {
        let previous = mnt.join("flows.parquet");
        std::fs::write(&previous, b"previous complete output").unwrap();
        let f = dir.join("flood.pcap");
        flood(&f, 40_000);
        let o = pathlens(&[
            "read",
            "-q",
            f.to_str().unwrap(),
            "-w",
            previous.to_str().unwrap(),
            "--force",
        ]);
        assert_out_of_space(&o);
        assert_eq!(
            std::fs::read(&previous).unwrap(),
            b"previous complete output"
        );
        let leftovers: Vec<_> = std::fs::read_dir(mnt)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "no temporary file is left behind: {leftovers:?}"
        );
    });
}

/// A failed dataset run adds nothing: parts closed during the run are
/// renamed only when it completes, so no `.inprogress` file and no part is
/// left, and the run can simply be repeated.
#[test]
fn a_full_disk_under_a_dataset_adds_nothing() {
    on_small_tmpfs(|dir, mnt| {
        let f = dir.join("flood.pcap");
        flood(&f, 40_000);
        let ds = format!("{}/", mnt.join("ds").display());
        let o = pathlens(&["read", "-q", f.to_str().unwrap(), "-w", &ds]);
        assert_out_of_space(&o);
        let mut stack = vec![mnt.join("ds")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                panic!("a failed run left {p:?}");
            }
        }
    });
}

fn euid_is_root() -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid_line = status.lines().find(|l| l.starts_with("Uid:"))?;
    let euid = uid_line.split_whitespace().nth(2)?;
    Some(euid == "0")
}
