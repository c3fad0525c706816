//! Calls and buildings end to end: a generated site of two buildings (one
//! with ExpressRoute) and a VPN pool, whose clients make calls of every
//! kind the calls table must tell apart; each call is one row with the
//! building, one-way flag, quality and expected path its generator
//! intended, and the summary's figures by building equal DuckDB's over the
//! written files. A malformed building file stops the run with one error
//! naming its line and column, and writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use support::*;

/// The site's files in `dir`; returns the site config.
fn site(dir: &Path, buildings: &str) -> PathBuf {
    std::fs::write(dir.join("o365.json"), egress_gen::O365_JSON).unwrap();
    std::fs::write(dir.join("buildings.csv"), buildings).unwrap();
    let site = dir.join("site.toml");
    std::fs::write(&site, calls_gen::SITE_TOML).unwrap();
    site
}

const CALL_COLS: &[&str] = &[
    "local_ip",
    "first_seen",
    "call_id",
    "peer_local_ip",
    "building",
    "peer_building",
    "vpn",
    "one_way_audio",
    "modalities",
    "quality",
    "expected_path",
    "path_conformant",
    "media_flows",
    "flows",
];

#[test]
fn every_generated_call_is_one_row_with_its_building_and_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path(), calls_gen::BUILDINGS_CSV);
    let pcap = dir.path().join("calls.pcap");
    let intents = calls_gen::write(&pcap);
    let out = dir.path().join("out.parquet");
    read_ok(
        &["--config", site.to_str().unwrap(), pcap.to_str().unwrap()],
        &out,
    );
    let calls_file = dir.path().join("out.calls.parquet");
    let calls = read_batches(&calls_file);
    let rows = rows_of(&calls, CALL_COLS, "|");
    assert_eq!(
        rows.len(),
        intents.len(),
        "one row per call:\n{}",
        rows.join("\n")
    );
    for (n, want) in intents.iter().enumerate() {
        // The calls of one client in time order (the rows sort by client,
        // then first_seen), matched to its intents in start order.
        let client = want.client.to_string();
        let nth = intents[..n]
            .iter()
            .filter(|i| i.client == want.client)
            .count();
        let row = rows
            .iter()
            .filter(|r| r.starts_with(&format!("{client}|")))
            .nth(nth)
            .unwrap_or_else(|| {
                panic!(
                    "{}: no call {nth} of {client}:\n{}",
                    want.what,
                    rows.join("\n")
                )
            });
        let f: Vec<&str> = row.split('|').collect();
        let text = |b: Option<bool>| b.map_or(String::new(), |b| b.to_string());
        let got = (f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]);
        let peer_local = want.peer_local.map(|a| a.to_string()).unwrap_or_default();
        let want_row = (
            peer_local.as_str(),
            want.building,
            want.peer_building.unwrap_or(""),
            if want.vpn { "true" } else { "false" },
            if want.one_way { "true" } else { "false" },
            want.modalities,
            want.quality,
            want.expected,
            text(want.conformant),
        );
        assert_eq!(
            got,
            (
                want_row.0,
                want_row.1,
                want_row.2,
                want_row.3,
                want_row.4,
                want_row.5,
                want_row.6,
                want_row.7,
                want_row.8.as_str()
            ),
            "{}: {row}",
            want.what
        );
        let (media, flows): (u32, u32) = (f[12].parse().unwrap(), f[13].parse().unwrap());
        let checks = if want.peer_local.is_some() { 0 } else { 2 };
        let want_media = if want.modalities == "audio,video" {
            2
        } else {
            1
        };
        assert_eq!(
            (media, flows),
            (want_media, want_media + checks),
            "{}: {row}",
            want.what
        );
    }

    // CQD's verdict, worst leg: only the lossy call (one received packet in
    // six lost, over CQD's 10%) is poor.
    let cqd = rows_of(&calls, &["local_ip", "cqd_quality"], "|");
    assert_eq!(
        cqd.iter()
            .filter(|r| r.ends_with("|poor"))
            .collect::<Vec<_>>(),
        ["10.2.0.12|poor"],
        "{cqd:?}"
    );

    // The summary's figures by building and subnet equal DuckDB's.
    let summary = dir.path().join("summary.json");
    let o = pathlens(&["summary", "--format", "json", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(&summary, &o.stdout).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hq = json["places"]["by_building"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["building"] == "HQ")
        .unwrap()
        .clone();
    // HQ: audio, audio+video, the peer-to-peer call and the two calls of
    // one client; all Teams media over ExpressRoute.
    assert_eq!(
        (hq["calls"].as_u64(), hq["one_way_calls"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(hq["expressroute_pct"].as_f64(), Some(100.0), "{hq}");
    let annex = json["places"]["by_building"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["building"] == "ANNEX")
        .unwrap()
        .clone();
    assert_eq!(
        (annex["calls"].as_u64(), annex["one_way_calls"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(annex["poor_streams"].as_u64(), Some(1), "{annex}");
    assert_eq!(annex["expressroute_pct"].as_f64(), Some(0.0), "{annex}");
    // The example answers the same question with the same figures.
    let o = std::process::Command::new("python3")
        .arg(repo().join("examples/calls_by_building.py"))
        .arg(&out)
        .output()
        .expect("python3 is needed by this test");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("calls_by_building: "))
        .expect("answer line");
    let ex: serde_json::Value = serde_json::from_str(line).unwrap();
    for b in json["places"]["by_building"].as_array().unwrap() {
        let e = &ex[b["building"].as_str().unwrap()];
        for k in ["calls", "one_way_calls", "streams", "poor_streams"] {
            assert_eq!(e[k], b[k], "{k} of {b}");
        }
        let r1 = |v: &serde_json::Value| v.as_f64().map(|x| (x * 10.0).round() / 10.0);
        assert_eq!(r1(&e["poor_pct"]), r1(&b["poor_pct"]), "{b}");
    }
    let py = repo().join("capture/tests/python/check_calls.py");
    let o = std::process::Command::new("python3")
        .arg(py)
        .args([
            out.to_str().unwrap(),
            dir.path().join("out.streams.parquet").to_str().unwrap(),
            calls_file.to_str().unwrap(),
            summary.to_str().unwrap(),
        ])
        .output()
        .expect("python3 is needed by this test");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && stdout.contains("calls ok: 9 calls"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_dataset_gets_its_calls_beside_flows_and_streams() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path(), calls_gen::BUILDINGS_CSV);
    let pcap = dir.path().join("calls.pcap");
    let intents = calls_gen::write(&pcap);
    let out = dir.path().join("ds");
    std::fs::create_dir(&out).unwrap();
    let o = pathlens(&[
        "read",
        "-q",
        "--config",
        site.to_str().unwrap(),
        pcap.to_str().unwrap(),
        "-w",
        &format!("{}/", out.display()),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut parts = Vec::new();
    let mut stack = vec![out.join("calls")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                parts.push(p);
            }
        }
    }
    let n: usize = parts.iter().map(|p| rows(&read_batches(p))).sum();
    assert_eq!(n, intents.len(), "{parts:?}");
    let o = pathlens(&["summary", "--format", "json", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let calls: u64 = json["places"]["by_building"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["calls"].as_u64().unwrap())
        .sum();
    assert_eq!(calls, intents.len() as u64);
}

#[test]
fn a_malformed_building_file_names_line_and_column_and_writes_nothing() {
    let good = calls_gen::BUILDINGS_CSV;
    let first = good.lines().next().unwrap();
    let thirteen = first.rsplitn(3, ',').nth(2).unwrap().to_string();
    let cases = [
        (
            "header row",
            format!("NetworkIP,NetworkName,NetworkRange,BuildingName,OwnershipType,BuildingType,BuildingOfficeType,City,ZipCode,Country,State,Region,InsideCorp,ExpressRoute\n{good}"),
            "buildings.csv:1: column 1 (NetworkIP)",
        ),
        (
            "13 columns",
            format!("{good}{thirteen}\n").replace("10.1.0.0,HQ/Floor 1,24,HQ,Contoso,Office,Sales,Paris,75008,FR,IDF,EMEA,1\n", "10.5.0.0,X,24,X,,,,,,,,EMEA,1\n"),
            "buildings.csv:4: column 14 (ExpressRoute): expected 14 or 15 columns, found 13",
        ),
        (
            "bad prefix",
            good.replace("10.2.0.0,Annex/Floor 1,24", "10.2.0.0,Annex/Floor 1,40"),
            "buildings.csv:2: column 3 (NetworkRange)",
        ),
        (
            "overlap",
            format!("{good}10.2.0.0,Again,24,AGAIN,,,,,,,,EMEA,1,0\n"),
            "buildings.csv:4: column 1 (NetworkIP): overlapping range: the same subnet as line 2",
        ),
    ];
    for (what, text, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let site = site(dir.path(), &text);
        let pcap = dir.path().join("calls.pcap");
        std::fs::copy(repo().join("testdata/sample.pcap"), &pcap).unwrap();
        let out = dir.path().join("out.parquet");
        let o = pathlens(&[
            "read",
            "--config",
            site.to_str().unwrap(),
            pcap.to_str().unwrap(),
            "-w",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(want), "{what}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.contains("buildings.csv:")).count(),
            1,
            "{what}: one error: {err}"
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("out"))
            .collect();
        left.sort();
        assert!(left.is_empty(), "{what}: wrote {left:?}");
    }
}

/// Clear-text SIP: each dialog's media (the ports its SDP named) is one
/// call, even when time alone would merge two calls of a client; a call
/// with audio and video is one row with both.
#[test]
fn clear_text_sip_calls_are_grouped_by_call_id_and_sdp() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("sip.pcap");
    let made = sip_calls_gen::write(&pcap);
    // The witness: tshark reads three dialogs offering media.
    let ids = tool(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "sip.Method == \"INVITE\" && sdp",
            "-T",
            "fields",
            "-e",
            "sip.Call-ID",
        ],
    );
    let ids: std::collections::BTreeSet<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    let out = dir.path().join("out.parquet");
    read_ok(&[pcap.to_str().unwrap()], &out);
    let flows = read_batches(&out);
    let cols = [
        "src_ip",
        "src_port",
        "dst_ip",
        "dst_port",
        "app_protocol",
        "call_id",
    ];
    let flows = rows_of(&flows, &cols, "|");
    let call_of = |ep: &str| -> String {
        let (ip, port) = ep.split_once(':').unwrap();
        let f = flows
            .iter()
            .find(|r| r.starts_with(&format!("{ip}|{port}|")))
            .unwrap_or_else(|| panic!("no flow from {ep}:\n{}", flows.join("\n")));
        f.rsplit('|').next().unwrap().to_string()
    };
    let calls = read_batches(&dir.path().join("out.calls.parquet"));
    let rows = rows_of(
        &calls,
        &[
            "local_ip",
            "first_seen",
            "call_id",
            "media_flows",
            "modalities",
        ],
        "|",
    );
    for client in ["10.1.0.5", "10.1.0.6"] {
        let want: Vec<&sip_calls_gen::SipCall> =
            made.iter().filter(|c| c.client == client).collect();
        let got: Vec<&String> = rows
            .iter()
            .filter(|r| r.starts_with(&format!("{client}|")))
            .collect();
        assert_eq!(got.len(), want.len(), "{client}:\n{}", rows.join("\n"));
        for (row, call) in got.iter().zip(&want) {
            let f: Vec<&str> = row.split('|').collect();
            let id = f[2];
            assert_eq!(f[3], call.media.len().to_string(), "media flows: {row}");
            assert_eq!(f[4], call.modalities, "{row}");
            for ep in &call.media {
                assert_eq!(call_of(ep), id, "{ep} in call {row}");
            }
        }
    }
    // The signaling flow carrying both of 10.1.0.5's dialogs joins the
    // first call only; the second call is its media alone.
    let a: Vec<&sip_calls_gen::SipCall> = made.iter().filter(|c| c.client == "10.1.0.5").collect();
    let (first, second) = (call_of(&a[0].media[0]), call_of(&a[1].media[0]));
    assert_ne!(first, second);
    assert_eq!(call_of("10.1.0.5:5060"), first);
    let sip = flows
        .iter()
        .find(|r| r.starts_with("10.1.0.5|5060|"))
        .unwrap();
    assert!(sip.contains("|sip|"), "{sip}");
}
