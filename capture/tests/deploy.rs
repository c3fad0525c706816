//! What `deploy/` ships, checked by the tools that will read it: the
//! Prometheus alerting rules by `promtool check rules` and their unit tests
//! by `promtool test rules`; the systemd unit by `systemd-analyze verify`.
//! `.ci/setup test` installs both tools (Debian's prometheus and systemd).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use support::*;

fn tool(cmd: &str, args: &[&str], dir: &std::path::Path) -> String {
    let o = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is needed (bash .ci/setup test): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{cmd} {args:?}:\n{text}");
    text
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let dir = repo().join("deploy/prometheus");
    let out = tool("promtool", &["check", "rules", "pathlens.rules.yml"], &dir);
    assert!(out.contains("SUCCESS: 7 rules found"), "{out}");
    let out = tool(
        "promtool",
        &["test", "rules", "pathlens.rules.test.yml"],
        &dir,
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_metric_the_rules_read_is_served() {
    let rules =
        std::fs::read_to_string(repo().join("deploy/prometheus/pathlens.rules.yml")).unwrap();
    let page = pathlens::live::metrics::render(&pathlens::live::hooks::Snapshot::default());
    let served: BTreeSet<&str> = page
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let read: BTreeSet<String> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("pathlens_"))
        .map(str::to_string)
        .collect();
    assert!(read.len() >= 7, "{read:?}");
    for m in &read {
        assert!(
            served.contains(m.as_str()),
            "the rules read {m}, not served:\n{page}"
        );
    }
}

#[test]
fn the_service_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(repo().join("deploy/systemd/pathlens.service")).unwrap();
    let key = |k: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        key("CapabilityBoundingSet"),
        ["CAP_NET_RAW CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_CHOWN"]
    );
    assert_eq!(key("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
    assert_eq!(key("Restart"), ["on-failure"]);
    assert_eq!(key("ReadWritePaths"), ["/var/lib/pathlens"]);
    assert_eq!(key("ProtectSystem"), ["strict"]);
    let exec = key("ExecStart").pop().unwrap();
    assert!(
        exec.contains(" live ") && exec.contains(" -Z pathlens "),
        "{exec}"
    );

    // verify checks that ExecStart names an executable: the one just built.
    let tmp = tempfile::tempdir().unwrap();
    let local = unit.replace("/usr/local/bin/pathlens", bin().to_str().unwrap());
    std::fs::write(tmp.path().join("pathlens.service"), &local).unwrap();
    let out = tool(
        "systemd-analyze",
        &["verify", "pathlens.service"],
        tmp.path(),
    );
    assert!(out.trim().is_empty(), "verify had remarks:\n{out}");
    // And it refuses a unit whose binary is missing, so the check is real.
    std::fs::write(
        tmp.path().join("broken.service"),
        unit.replace("/usr/local/bin/pathlens", "/nonexistent/pathlens"),
    )
    .unwrap();
    let o = Command::new("systemd-analyze")
        .args(["verify", "broken.service"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(!o.status.success());

    // The flags of ExecStart are flags `live` takes: with the environment
    // the unit sets, only the missing interface stops it.
    let env_args = unit
        .lines()
        .find_map(|l| l.strip_prefix("Environment=\"PATHLENS_ARGS="))
        .unwrap()
        .trim_end_matches('"')
        .replace("--config=/etc/pathlens/site.toml", "");
    let o = Command::new(bin())
        .args(["live", "-i", "nosuchif0", "-w"])
        .arg(tmp.path().join("ds/"))
        .args(["-Z", "pathlens"])
        .args(env_args.split_whitespace())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nosuchif0"), "{err}");
}
