//! `pathlens signatures check` on every kind of rule file, and rule files
//! given with `--signatures DIR` reaching the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{column_text, metadata, pathlens, read_batches, read_ok, repo};

#[test]
fn every_shipped_rule_file_and_site_config_checks_ok() {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("signatures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.push(repo().join("testdata/sample-site.toml"));
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let o = pathlens(&["signatures", "check", f.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).ends_with(": ok\n"));
    }
}

#[test]
fn a_broken_file_of_each_kind_names_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "ports.toml",
            "[[port]]\ntransport = \"tcp\"\nports = [\"5061\"]\napp_protocol = \"sip_tls\"\n\n[[port]]\ntransport = \"udp\"\nports = [\"70000\"]\napp_protocol = \"rtp\"\n",
            8,
            "70000",
        ),
        (
            "sni.toml",
            "[[sni]]\npattern = \"*.lync.com\"\nservice = \"skype_teams\"\napp_protocol = \"sip-tls\"\n",
            4,
            "sip-tls",
        ),
        (
            "media.toml",
            "min_packets = 50\n\n[targets]\nloss_pct = 1.0\njitter_ms = \"thirty\"\n",
            5,
            "thirty",
        ),
        (
            "callflow.toml",
            "[[rule]]\nprofiles = [\"online\"]\ntraffic = [\"media\"]\nends = [\"client\", \"o365_er\"]\nexpected = \"satellite\"\n",
            5,
            "satellite",
        ),
        (
            "site.toml",
            "deployment = \"hybrid\"\n\n[[edge]]\nname = \"er\"\npath = \"expressroute\"\nmacs = [\"00:11:22:33:44\"]\n",
            6,
            "00:11:22:33:44",
        ),
    ];
    for (name, text, line, value) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        let o = pathlens(&["signatures", "check", f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!("{}:{line}:", f.display())) && err.contains(value),
            "{name}: wanted line {line} and {value:?} in {err:?}"
        );
    }
}

/// The media quality of the sample's Teams media flow and the rules digest.
fn media_verdict(extra: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.parquet");
    let mut args = vec![repo()
        .join("testdata/sample.pcap")
        .to_str()
        .unwrap()
        .to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    read_ok(&args, &out);
    let b = read_batches(&out);
    let port = column_text(&b, "dst_port");
    let i = port.iter().position(|p| p == "3478").unwrap();
    let digest = metadata(&out)
        .into_iter()
        .find(|(k, _)| k == "pathlens.signatures_digest")
        .unwrap()
        .1;
    (column_text(&b, "media_quality")[i].clone(), digest)
}

#[test]
fn a_media_toml_given_with_signatures_replaces_the_thresholds_and_the_digest() {
    let (quality, digest) = media_verdict(&[]);
    assert_eq!(quality, "good");
    // Same file but a jitter target the sample's 18.8 ms inbound jitter misses.
    let dir = tempfile::tempdir().unwrap();
    let builtin = std::fs::read_to_string(repo().join("signatures/media.toml")).unwrap();
    let strict = builtin.replace(
        "jitter_ms = 30.0\n# Out-of-order",
        "jitter_ms = 5.0\n# Out-of-order",
    );
    assert_ne!(strict, builtin, "the [targets] jitter line moved");
    std::fs::write(dir.path().join("media.toml"), strict).unwrap();
    let (quality2, digest2) = media_verdict(&["--signatures", dir.path().to_str().unwrap()]);
    assert_eq!(quality2, "poor");
    assert_ne!(digest2, digest, "the digest covers media.toml");
}
