//! `-w DIR/` writes a dataset partitioned by the hour of each record's
//! `first_seen`: `DIR/flows/date=…/hour=…/part-….parquet` and the same for
//! `DIR/streams/`. Its rows are exactly the single-file output's, each in the
//! right partition with its streams beside it; a record that ends after its
//! hour was closed gets a new part instead of rewriting one; a second run
//! adds parts and leaves the first run's alone. The capture is generated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pathlens_benches::frame::{udp_frame, Eth};
use pathlens_benches::payload;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::{column_text, read_batches, read_ok, row_texts, PcapWriter};

/// 2026-11-21 10:00:00 UTC.
const H10: i64 = 1_795_255_200_000_000;
const SEC: i64 = 1_000_000;

fn udp(w: &mut PcapWriter, t: i64, a: ([u8; 4], u16), b: ([u8; 4], u16), payload: &[u8]) {
    w.frame(t, &udp_frame(Eth::new([1; 6], [2; 6]), a, b, payload));
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    payload::rtp(
        0,
        seq,
        u32::from(seq) * 160,
        ssrc,
        &payload::PCMU_SILENCE_20MS,
    )
}

/// Six hours from 10:00 UTC. Each hour: 400 short opaque exchanges from :30
/// and, in even hours, a 60-packet PCMU call. One flow starts at
/// 10:59:59.9999 and goes on into 11:00 (its partition is hour 10). One flow
/// keeps talking every 100 s from 10:10 to 15:50: it ends only at the end of
/// the input. With one worker, the first 2,048 records reach the writer in
/// hour 15, after hours 10-14 were opened, so hour 10 was closed to keep
/// four open; the long flow then needs a second part in hour 10.
fn write_capture(path: &Path) {
    let mut w = PcapWriter::create(path, 1, 65535);
    let client = [10, 0, 0, 5];
    type Endpoint = ([u8; 4], u16);
    let mut frames: Vec<(i64, Endpoint, Endpoint, Vec<u8>)> = Vec::new();
    for h in 0..6i64 {
        let t = H10 + h * 3600 * SEC + 1800 * SEC;
        let server = [198, 51, 100, 10 + h as u8];
        for i in 0..400u16 {
            let at = t + i64::from(i) * 1000;
            frames.push((at, (client, 20000 + i), (server, 7000), vec![0x17; 40]));
            frames.push((
                at + 500,
                (server, 7000),
                (client, 20000 + i),
                vec![0x18; 40],
            ));
        }
        if h % 2 == 0 {
            for i in 0..60u16 {
                let at = t + 5 * SEC + i64::from(i) * 20_000;
                frames.push((
                    at,
                    (client, 50010),
                    (server, 3480),
                    rtp(i, 0x100 + h as u32),
                ));
            }
        }
    }
    let edge = H10 + 3600 * SEC - 100;
    frames.push((
        edge,
        (client, 41000),
        ([198, 51, 100, 99], 7001),
        vec![0x19; 30],
    ));
    frames.push((
        edge + 2 * SEC,
        ([198, 51, 100, 99], 7001),
        (client, 41000),
        vec![0x1a; 30],
    ));
    let mut t = H10 + 600 * SEC;
    while t < H10 + (5 * 3600 + 3000) * SEC {
        frames.push((
            t,
            (client, 42000),
            ([198, 51, 100, 77], 7002),
            vec![0x1b; 20],
        ));
        t += 100 * SEC;
    }
    frames.sort_by_key(|f| f.0);
    for (t, a, b, p) in &frames {
        udp(&mut w, *t, *a, *b, p);
    }
    w.finish();
}

/// Every `.parquet` file under `dir`, and whether any other file is there.
fn parts(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut other) = (Vec::new(), Vec::new());
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
            {
                files.push(p);
            } else {
                other.push(p);
            }
        }
    }
    files.sort();
    (files, other)
}

/// (date, hour) of a part from its directory names.
fn partition_of(part: &Path) -> (String, String) {
    let hour = part.parent().unwrap();
    let date = hour.parent().unwrap();
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    (
        name(date).strip_prefix("date=").unwrap().to_string(),
        name(hour).strip_prefix("hour=").unwrap().to_string(),
    )
}

const RUN: [&str; 6] = [
    "--idle-timeout",
    "150s",
    "--active-timeout",
    "10h",
    "--workers",
    "1",
];

#[test]
fn a_dataset_holds_the_single_file_rows_partitioned_by_hour() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("hours.pcap");
    write_capture(&pcap);
    let single = dir.path().join("one.parquet");
    let mut args = vec![pcap.to_str().unwrap()];
    args.extend(RUN);
    read_ok(&args, &single);
    let ds = dir.path().join("ds");
    let ds_arg = format!("{}/", ds.display());
    let mut dargs = args.clone();
    dargs.extend(["-w", &ds_arg]);
    let o = support::pathlens(&[&["read"], &dargs[..]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("partitioned by date and hour"), "{stdout}");

    let (flow_parts, junk) = parts(&ds.join("flows"));
    let (stream_parts, junk2) = parts(&ds.join("streams"));
    assert!(
        junk.is_empty() && junk2.is_empty(),
        "left behind: {junk:?} {junk2:?}"
    );
    // flow_id -> partition, checking each row's first_seen against its part.
    let mut part_of: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut per_hour: BTreeMap<String, usize> = BTreeMap::new();
    let mut all = Vec::new();
    for p in &flow_parts {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("part-20261121T") && name.ends_with(".parquet"),
            "{name}"
        );
        assert_eq!(
            name.split('-').count(),
            5,
            "part-TIME-SENSOR-RUN-SEQ: {name}"
        );
        let (date, hour) = partition_of(p);
        *per_hour.entry(hour.clone()).or_default() += 1;
        let b = read_batches(p);
        let names: Vec<String> = b[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert!(
            !names.iter().any(|n| n == "date" || n == "hour"),
            "{names:?}"
        );
        for (id, first) in column_text(&b, "flow_id")
            .into_iter()
            .zip(column_text(&b, "first_seen"))
        {
            // Every time here falls on 2026-11-21 (UTC).
            let us: i64 = first.parse().unwrap();
            let day0 = H10 - 10 * 3600 * SEC;
            assert!((day0..day0 + 24 * 3600 * SEC).contains(&us), "{us}");
            assert_eq!(date, "2026-11-21");
            assert_eq!(
                ((us - day0) / (3600 * SEC)).to_string(),
                hour,
                "{us} in {p:?}"
            );
            part_of.insert(id, (date.clone(), hour.clone()));
        }
        all.extend(b);
    }
    assert_eq!(
        per_hour.keys().cloned().collect::<Vec<_>>(),
        ["10", "11", "12", "13", "14", "15"]
    );
    assert!(
        per_hour["10"] >= 2,
        "the late record of hour 10 gets a new part: {per_hour:?}"
    );
    let single_rows = read_batches(&single);
    assert_eq!(
        row_texts(&all, &["run_id"]),
        row_texts(&single_rows, &["run_id"])
    );

    // Streams sit in their flow's partition; only hours with media have them.
    let mut streams = Vec::new();
    for p in &stream_parts {
        let b = read_batches(p);
        for id in column_text(&b, "flow_id") {
            assert_eq!(
                part_of[&id],
                partition_of(p),
                "stream of flow {id} in {p:?}"
            );
        }
        streams.extend(b);
    }
    let hours: std::collections::BTreeSet<String> =
        stream_parts.iter().map(|p| partition_of(p).1).collect();
    assert_eq!(hours.into_iter().collect::<Vec<_>>(), ["10", "12", "14"]);
    let single_streams = read_batches(&pathlens_export::streams_path(&single));
    assert_eq!(
        row_texts(&streams, &["run_id"]),
        row_texts(&single_streams, &["run_id"])
    );
    assert_eq!(row_texts(&streams, &["run_id"]).len(), 3);

    // A second run adds parts beside the first run's, which stay as they were.
    let before: Vec<(PathBuf, Vec<u8>)> = flow_parts
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    let o = support::pathlens(&[&["read", "-q"], &dargs[..]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (again, _) = parts(&ds.join("flows"));
    // How many parts a run makes depends on when records reach the writer;
    // its rows do not.
    let added: Vec<_> = again.iter().filter(|p| !flow_parts.contains(p)).collect();
    let mut rows2 = Vec::new();
    for p in &added {
        rows2.extend(read_batches(p));
    }
    assert_eq!(
        row_texts(&rows2, &["run_id"]),
        row_texts(&single_rows, &["run_id"])
    );
    for (p, bytes) in before {
        assert_eq!(std::fs::read(&p).unwrap(), bytes, "{p:?} changed");
    }
}
