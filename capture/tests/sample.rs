//! The bundled sample capture: reproducible from its generator, and its
//! flows as a golden file (`testdata/golden/sample.txt`).
//!
//! Regenerate both after an intended change with `PATHLENS_BLESS=1 cargo test
//! -p pathlens --test sample`, then review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use support::*;

fn bless() -> bool {
    std::env::var_os("PATHLENS_BLESS").is_some()
}

#[test]
fn sample_pcap_is_what_its_generator_writes() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("sample.pcap");
    sample::write_sample(&fresh);
    let committed = repo().join("testdata/sample.pcap");
    if bless() {
        std::fs::copy(&fresh, &committed).unwrap();
    }
    assert_eq!(
        std::fs::read(&fresh).unwrap(),
        std::fs::read(&committed).unwrap(),
        "testdata/sample.pcap differs from its generator (PATHLENS_BLESS=1 to regenerate)"
    );
}

const GOLDEN_COLUMNS: &[&str] = &[
    "flow_id",
    "community_id",
    "first_seen",
    "last_seen",
    "end_reason",
    "ip_version",
    "transport",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "icmp_type",
    "icmp_code",
    "vlan_id",
    "src2dst_packets",
    "dst2src_packets",
    "src2dst_bytes",
    "dst2src_bytes",
    "src2dst_payload_bytes",
    "dst2src_payload_bytes",
    "src2dst_tcp_flags",
    "dst2src_tcp_flags",
    "conn_state",
    "app_protocol",
    "app_protocol_source",
    "traffic_type",
    "local_src",
    "local_dst",
    "direction",
    "egress_label",
    "egress_prefix",
    "server_name",
    "alpn",
    "tls_version",
    "sip_method",
    "sip_user_agent",
    "starttls",
    "stun_seen",
    "media_over_tcp",
    "service",
    "egress",
    "egress_list",
    "asymmetric",
    "expected_path",
    "path_conformant",
    "path_note",
];

#[test]
fn sample_flows_match_the_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.parquet");
    let pcap = repo().join("testdata/sample.pcap");
    read_ok(&["--sensor", "golden", pcap.to_str().unwrap()], &out);
    let b = read_batches(&out);
    let cols: Vec<Vec<String>> = GOLDEN_COLUMNS.iter().map(|c| column_text(&b, c)).collect();
    let mut lines: Vec<String> = (0..rows(&b))
        .map(|i| {
            cols.iter()
                .map(|c| c[i].as_str())
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect();
    // Stable order: first_seen, then community_id.
    lines.sort_by(|a, b| {
        let k = |l: &str| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[2].parse::<i64>().unwrap(), f[1].to_string())
        };
        k(a).cmp(&k(b))
    });
    let text = format!("{}\n{}\n", GOLDEN_COLUMNS.join("\t"), lines.join("\n"));
    let golden = repo().join("testdata/golden/sample.txt");
    if bless() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &text).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(
        text, want,
        "flows of the sample changed (PATHLENS_BLESS=1 to accept, then review the diff)"
    );
    // Independent of the golden file: what the sample was built to contain.
    let c = counters(&out);
    assert_eq!(c["not_ip"], 2, "two ARP frames");
    let apps = column_text(&b, "app_protocol");
    for want in [
        "dns", "https", "sip_tls", "sip", "psom", "srtp", "rtp", "smtp",
    ] {
        assert!(
            apps.iter().any(|a| a == want),
            "{want} missing from {apps:?}"
        );
    }
    let states = column_text(&b, "conn_state");
    assert!(
        states.iter().any(|s| s == "REJ"),
        "the refused SIP connection"
    );
    assert!(states.iter().filter(|s| *s == "SF").count() >= 3);
    assert!(column_text(&b, "vlan_id").iter().any(|v| v == "100"));
    assert!(column_text(&b, "ip_version").iter().any(|v| v == "6"));
    // What the payload dissectors read.
    let names = column_text(&b, "server_name");
    for n in [
        "teams.microsoft.com",
        "pool01.contoso.com",
        "contoso.sharepoint.com",
        "mail.contoso.com",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let row = |col: &str, app: &str| -> String {
        let i = apps.iter().position(|a| a == app).unwrap();
        column_text(&b, col)[i].clone()
    };
    assert_eq!(row("stun_seen", "srtp"), "true", "STUN before the media");
    assert_eq!(row("starttls", "smtp"), "true");
    let by_name = |col: &str, name: &str| -> String {
        let i = names.iter().position(|n| n == name).unwrap();
        column_text(&b, col)[i].clone()
    };
    assert_eq!(by_name("service", "teams.microsoft.com"), "skype_teams");
    assert_eq!(by_name("service", "contoso.sharepoint.com"), "sharepoint");
    assert_eq!(by_name("alpn", "teams.microsoft.com"), "h2");
    assert_eq!(by_name("tls_version", "teams.microsoft.com"), "TLS 1.3");
}

/// The README's quick start reads the sample with the bundled site config
/// and Office 365 snapshot: every flow must get the path its site predicts.
#[test]
fn quick_start_site_config_attributes_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.parquet");
    let site = repo().join("testdata/sample-site.toml");
    read_ok(
        &[
            repo().join("testdata/sample.pcap").to_str().unwrap(),
            "--config",
            site.to_str().unwrap(),
        ],
        &out,
    );
    let rows = rows_of(
        &read_batches(&out),
        &[
            "dst_port",
            "traffic_type",
            "egress",
            "o365_service_area",
            "expected_path",
            "path_conformant",
        ],
        " ",
    );
    // HTTPS to Teams is signaling over ExpressRoute; SfB Server signaling
    // and PSOM stay local; media to the Teams relay takes ExpressRoute;
    // peer-to-peer media stays local (the hybrid table of the principles).
    let want = [
        "0 other expressroute Skype  ",
        "25 mail expressroute Exchange  ",
        "3478 media expressroute Skype expressroute true",
        "443 signaling expressroute Skype expressroute true",
        "443 web internet   ",
        "50014 media local  local true",
        "5060 signaling local  local true",
        "5061 signaling local  local true",
        "53 infrastructure local   ",
        "8057 web_conferencing local  local true",
    ];
    assert_eq!(rows, want);
}
