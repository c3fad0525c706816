//! Egress attribution end to end: the real Office 365 list loads with the
//! expected figures, a generated capture gets the egress, Office 365 set,
//! asymmetry and call-flow verdict its generator intended for every flow,
//! and bad prefix sources or configs stop the run before any packet.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::HashMap;
use support::*;

#[test]
fn generated_capture_matches_generator_intent_for_every_flow() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("o365.json"), egress_gen::O365_JSON).unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, egress_gen::SITE_TOML).unwrap();
    for seed in [1u64, 7, 42] {
        let pcap = dir.path().join(format!("egress-{seed}.pcap"));
        let intents = egress_gen::write(&pcap, seed);
        let out = dir.path().join(format!("egress-{seed}.parquet"));
        read_ok(
            &[
                pcap.to_str().unwrap(),
                "--config",
                site.to_str().unwrap(),
                "--workers",
                "2",
            ],
            &out,
        );
        let b = read_batches(&out);
        let col = |n: &str| column_text(&b, n);
        let (src, sport, dst, dport) = (
            col("src_ip"),
            col("src_port"),
            col("dst_ip"),
            col("dst_port"),
        );
        let (egress, id, asym, expected, conf) = (
            col("egress"),
            col("o365_endpoint_id"),
            col("asymmetric"),
            col("expected_path"),
            col("path_conformant"),
        );
        let mut rows = HashMap::new();
        for i in 0..rows_count(&b) {
            let key = format!("{} {} {} {}", src[i], sport[i], dst[i], dport[i]);
            let got = format!(
                "{} {} {} {} {}",
                egress[i], id[i], asym[i], expected[i], conf[i]
            );
            assert!(
                rows.insert(key.clone(), got).is_none(),
                "two rows for {key}"
            );
        }
        assert_eq!(
            rows.len(),
            intents.len(),
            "one row per generated flow (seed {seed})"
        );
        let s = |o: Option<String>| o.unwrap_or_default();
        for it in &intents {
            let key = format!("{} {} {} {}", it.src.0, it.src.1, it.dst.0, it.dst.1);
            let want = format!(
                "{} {} {} {} {}",
                it.egress,
                s(it.o365_id.map(|x| x.to_string())),
                s(it.asymmetric.map(|x| x.to_string())),
                it.expected.unwrap_or_default(),
                s(it.conformant.map(|x| x.to_string())),
            );
            let got = rows
                .get(&key)
                .unwrap_or_else(|| panic!("no row for {} ({key})", it.what));
            assert_eq!(got, &want, "{} ({key}, seed {seed})", it.what);
        }
        // The summary's egress table counts the same flows.
        let asym_true = intents
            .iter()
            .filter(|i| i.asymmetric == Some(true))
            .count();
        assert!(asym_true > 0);
        let o = pathlens(&[
            "read",
            pcap.to_str().unwrap(),
            "--config",
            site.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&o.stdout);
        let non_conf = intents
            .iter()
            .filter(|i| i.conformant == Some(false))
            .count();
        assert!(
            text.contains(&format!("asymmetric flows: {asym_true} of "))
                && text.contains(&format!("call-flow conformance: {non_conf} of")),
            "{text}"
        );
    }
}

fn rows_count(b: &[arrow::array::RecordBatch]) -> usize {
    rows(b)
}

#[test]
fn service_comes_from_the_endpoint_set_when_sni_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("o365.json"), egress_gen::O365_JSON).unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, egress_gen::SITE_TOML).unwrap();
    let pcap = dir.path().join("e.pcap");
    let intents = egress_gen::write(&pcap, 3);
    let out = dir.path().join("e.parquet");
    read_ok(
        &[pcap.to_str().unwrap(), "--config", site.to_str().unwrap()],
        &out,
    );
    let b = read_batches(&out);
    let (dst, dport, service, area) = (
        column_text(&b, "dst_ip"),
        column_text(&b, "dst_port"),
        column_text(&b, "service"),
        column_text(&b, "o365_service_area"),
    );
    let mut checked = 0;
    for i in 0..rows(&b) {
        // HTTPS by port names no service; the endpoint set does.
        if dport[i] == "443" && !area[i].is_empty() {
            let want = match area[i].as_str() {
                "Exchange" => "exchange",
                "Common" => "common",
                other => panic!("unexpected area {other}"),
            };
            assert_eq!(service[i], want, "{}", dst[i]);
            checked += 1;
        }
    }
    let want = intents
        .iter()
        .filter(|i| i.dst.1 == 443 && i.o365_id.is_some())
        .count();
    assert_eq!(checked, want);
}

/// The real endpoints file, counted with jq: distinct prefixes per service
/// area, and distinct prefixes of sets with `expressRoute: true` (of the
/// given areas, when a route filter limits them).
fn jq(filter: &str, file: &std::path::Path) -> String {
    tool("jq", &["-r", filter, file.to_str().unwrap()])
}

#[test]
fn real_o365_list_prefix_counts_per_service_area_and_expressroute() {
    use pathlens_classify::egress::sources::parse_o365;
    use pathlens_classify::egress::{EgressDbBuilder, O365Advertised};
    let file = corpus().join("o365/endpoints-worldwide.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let build = |er: O365Advertised| {
        let mut b = EgressDbBuilder::default();
        b.add_o365(
            "o365",
            parse_o365(&text, "endpoints-worldwide.json").unwrap(),
            &er,
        );
        b.build()
    };
    let db = build(O365Advertised::All);
    let want: std::collections::BTreeMap<String, usize> = jq(
        "[.[] | select(.ips) | {a: .serviceArea, ip: .ips[]}] | unique | group_by(.a) | .[] | \"\\(.[0].a) \\(length)\"",
        &file,
    )
    .lines()
    .map(|l| {
        let (a, n) = l.split_once(' ').unwrap();
        (a.to_string(), n.parse().unwrap())
    })
    .collect();
    assert_eq!(want.len(), 4, "{want:?}");
    assert_eq!(db.o365_prefixes_by_area(), &want);
    let er_all: usize = jq(
        "[.[] | select(.expressRoute) | .ips // [] | .[]] | unique | length",
        &file,
    )
    .trim()
    .parse()
    .unwrap();
    assert_eq!(db.advertised_prefixes(), er_all);
    let distinct: usize = jq("[.[] | .ips // [] | .[]] | unique | length", &file)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(db.len(), distinct);
    // A route filter that lets only Skype through.
    let db = build(O365Advertised::Filter {
        areas: vec!["Skype".into()],
        ids: vec![],
    });
    let er_skype: usize = jq(
        "[.[] | select(.expressRoute and .serviceArea == \"Skype\") | .ips // [] | .[]] | unique | length",
        &file,
    )
    .trim()
    .parse()
    .unwrap();
    assert!(er_skype > 0 && er_skype < er_all);
    assert_eq!(db.advertised_prefixes(), er_skype);
    // Every listed address is attributed to a set that lists a prefix containing it.
    let m = db.lookup("52.112.0.1".parse().unwrap()).unwrap();
    assert_eq!(m.o365.unwrap().service_area.as_ref(), "Skype");
}

#[test]
fn real_o365_list_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = corpus().join("o365/endpoints-worldwide.json");
    let out = dir.path().join("s.parquet");
    let pcap = repo().join("testdata/sample.pcap");
    read_ok(
        &[pcap.to_str().unwrap(), "--o365", file.to_str().unwrap()],
        &out,
    );
    let total: usize = jq("[.[] | .ips // [] | length] | add", &file)
        .trim()
        .parse()
        .unwrap();
    let meta = metadata(&out);
    let sources = &meta
        .iter()
        .find(|(k, _)| k == "pathlens.prefix_sources")
        .unwrap()
        .1;
    assert_eq!(sources, &format!("[[\"o365\",{total}]]"));
    // The sample's Teams relay (52.114.76.10) is in an ExpressRoute-capable
    // set, but `--o365` alone declares no circuit: internet (issue 24).
    let b = read_batches(&out);
    let (dst, egress, area) = (
        column_text(&b, "dst_ip"),
        column_text(&b, "egress"),
        column_text(&b, "o365_service_area"),
    );
    let i = dst.iter().position(|d| d == "52.114.76.10").unwrap();
    assert_eq!(
        (egress[i].as_str(), area[i].as_str()),
        ("internet", "Skype")
    );
}

fn fails_naming(args: &[&str], needles: &[&str]) {
    let o = pathlens(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    assert!(
        o.stdout.is_empty(),
        "no packet was read: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn bad_prefix_sources_and_configs_fail_before_reading_with_file_line_value() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let pcap = repo().join("testdata/sample.pcap");
    let pcap = pcap.to_str().unwrap();
    let out = p("never.parquet");

    std::fs::write(
        p("routes.txt"),
        "# ER routes\n52.112.0.0/14 teams\n\n52.120.0.0/33 typo\n",
    )
    .unwrap();
    fails_naming(
        &[
            "read",
            pcap,
            "--prefixes",
            &format!("er={}", p("routes.txt")),
            "-w",
            &out,
        ],
        &["routes.txt:4:", "52.120.0.0/33"],
    );
    std::fs::write(p("v6.txt"), "2603:1063::/38\n2603:zz::/40\n").unwrap();
    fails_naming(
        &[
            "read",
            pcap,
            "--expressroute-prefixes",
            &format!("v6={}", p("v6.txt")),
        ],
        &["v6.txt:2:", "2603:zz::/40"],
    );

    std::fs::write(
        p("o365.json"),
        "[\n {\"id\": 1,\n  \"serviceArea\": \"Skype\"\n  \"ips\": []}\n]",
    )
    .unwrap();
    fails_naming(
        &["read", pcap, "--o365", &p("o365.json")],
        &["o365.json:4:", "column"],
    );
    std::fs::write(
        p("o365b.json"),
        "[{\"id\": 1, \"serviceArea\": \"Skype\",\n \"ips\": [\"52.112.0.0/14\",\n \"52.112.0.0/99\"]}]",
    )
    .unwrap();
    fails_naming(
        &["read", pcap, "--o365", &p("o365b.json")],
        &["o365b.json:3:", "52.112.0.0/99"],
    );

    std::fs::write(
        p("tags.json"),
        "{\"values\": [{\"name\": \"AzureCloud\", \"properties\": {\n\"addressPrefixes\": [\"20.0.0.0/8\", \"20.1.1\"]}}]}",
    )
    .unwrap();
    fails_naming(
        &["read", pcap, "--service-tags", &p("tags.json")],
        &["tags.json:2:", "20.1.1"],
    );

    std::fs::write(
        p("site.toml"),
        "deployment = \"hybrid\"\n[sources]\no365_file = \"x.json\"\n",
    )
    .unwrap();
    fails_naming(
        &["read", pcap, "--config", &p("site.toml"), "-w", &out],
        &["site.toml:3:", "o365_file", "unknown field"],
    );
    std::fs::write(
        p("site2.toml"),
        "[[edge]]\nname = \"er\"\npath = \"expressroute\"\nmacs = [\"00:11:22:33:44\"]\n",
    )
    .unwrap();
    fails_naming(
        &["read", pcap, "--config", &p("site2.toml")],
        &["site2.toml:4:", "00:11:22:33:44"],
    );
    std::fs::write(
        p("site3.toml"),
        "local_networks = [\"10.0.0.0/8\",\n  \"192.168.300.0/24\"]\n",
    )
    .unwrap();
    fails_naming(
        &["read", pcap, "--config", &p("site3.toml")],
        &["site3.toml:2:", "192.168.300.0/24"],
    );
    std::fs::write(p("site4.toml"), "\ndeployment = \"cloud\"\n").unwrap();
    fails_naming(
        &["read", pcap, "--config", &p("site4.toml")],
        &["site4.toml:2:", "cloud"],
    );
    std::fs::write(
        p("site5.toml"),
        "[[edge]]\nname = \"er\"\npath = \"mpls\"\n",
    )
    .unwrap();
    fails_naming(
        &["read", pcap, "--config", &p("site5.toml")],
        &["site5.toml:3:", "mpls"],
    );
    assert!(!std::path::Path::new(&out).exists());
}

#[test]
fn the_commented_example_config_is_valid() {
    // Its prefix files do not exist here: only the parse and the values are checked.
    let text = std::fs::read_to_string(repo().join("signatures/site.example.toml")).unwrap();
    let c = pathlens::config::parse(&text, "site.example.toml").unwrap();
    assert_eq!(c.edge.len(), 2);
    assert_eq!(c.sources.prefixes.len(), 2);
}

#[test]
fn flags_override_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("o365.json"), egress_gen::O365_JSON).unwrap();
    // The file names a list that does not exist and a profile the flag replaces;
    // the flags win, so neither is read.
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        "deployment = \"online\"\nlocal_networks = [\"93.184.216.0/24\"]\n[sources]\no365 = \"missing.json\"\n",
    )
    .unwrap();
    let pcap = dir.path().join("e.pcap");
    let intents = egress_gen::write(&pcap, 5);
    let out = dir.path().join("e.parquet");
    let o365 = dir.path().join("o365.json");
    read_ok(
        &[
            pcap.to_str().unwrap(),
            "--config",
            site.to_str().unwrap(),
            "--o365",
            o365.to_str().unwrap(),
            "--local",
            "10.0.0.0/8",
        ],
        &out,
    );
    let b = read_batches(&out);
    let (dst, egress, id) = (
        column_text(&b, "dst_ip"),
        column_text(&b, "egress"),
        column_text(&b, "o365_endpoint_id"),
    );
    // --local replaced the file's list: 93.184.216.x is public again.
    let public = intents.iter().find(|i| i.what == "public media").unwrap();
    let i = dst
        .iter()
        .position(|d| *d == public.dst.0.to_string())
        .unwrap();
    assert_eq!(egress[i], "internet");
    // --o365 replaced the missing file: Teams addresses carry set 11.
    let teams = intents
        .iter()
        .find(|i| i.what == "teams media over ER")
        .unwrap();
    let i = dst
        .iter()
        .position(|d| *d == teams.dst.0.to_string())
        .unwrap();
    assert_eq!(id[i], "11");
    // Without the flag the missing file is an error naming it.
    let o = pathlens(&[
        "read",
        pcap.to_str().unwrap(),
        "--config",
        site.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.json"));
}
