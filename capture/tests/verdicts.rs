//! Issue 24, end to end: no circuit is assumed from an Office 365 list, and
//! a router first seen after the warm-up is learned on its own evidence, in
//! `read` and in `live`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use support::verdicts_gen::{check_failover, failover, rerouted, site, verdicts};
use support::*;

/// Issue 24: a failover to a new router after the warm-up. Before, a next
/// hop first seen after the warm-up stayed `unknown` for the rest of the
/// run, and its flows had no observed path and no verdict.
#[test]
fn a_router_first_seen_after_the_warm_up_is_learned_on_its_own_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("failover.pcap");
    failover(&pcap, 10_000_000);
    let cfg = site(dir.path());
    for workers in ["1", "3"] {
        let out = dir.path().join(format!("failover-{workers}.parquet"));
        read_ok(
            &[
                pcap.to_str().unwrap(),
                "--config",
                cfg.to_str().unwrap(),
                "--edge-warmup",
                "2s",
                "--workers",
                workers,
            ],
            &out,
        );
        check_failover(&verdicts(&read_batches(&out)));
    }
    // The summary names the evidence behind each edge.
    let out = dir.path().join("failover-1.parquet");
    let o = pathlens(&["summary", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("edge-02:bb:00:00:00:01")
            && l.contains("internet")
            && l.contains("50% of its 6 flows")),
        "{text}"
    );
    assert!(
        text.contains(
            "call-flow conformance: 3 of 10 flows judged on observed evidence non-conformant"
        ),
        "{text}"
    );
}

/// Issue 24: the same router changes path after the warm-up. Edges are
/// learned interval by interval, so the router is decided again on the
/// second interval's evidence (logged), and the calls after it are
/// observed on the Internet; learned once over the whole capture, its mix
/// would leave it unknown. For any worker count.
#[test]
fn a_router_that_changes_path_is_decided_again_and_later_flows_follow() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("rerouted.pcap");
    rerouted(&pcap, 5_000_000);
    let cfg = site(dir.path());
    for workers in ["1", "2", "4"] {
        let out = dir.path().join(format!("rerouted-{workers}.parquet"));
        let o = pathlens(&[
            "read",
            pcap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--edge-warmup",
            "2s",
            "--workers",
            workers,
            "-w",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(
            err.contains("edge edge-02:e0:00:00:00:01 re-decided internet (was expressroute)"),
            "{workers} workers: {err}"
        );
        let v = verdicts(&read_batches(&out));
        for a in ["52.112.3.10:3478", "52.112.3.11:3478"] {
            let r = &v[a];
            assert_eq!(
                (r[1].as_str(), r[2].as_str(), r[3].as_str(), r[4].as_str()),
                (
                    "edge-02:e0:00:00:00:01",
                    "internet",
                    "expressroute",
                    "false"
                ),
                "{workers} workers, {a}: {r:?}"
            );
        }
    }
}

/// Issue 24: an Internet-only site that passes `--o365` (and nothing
/// else) has no circuit. Before, every ExpressRoute-capable set was taken
/// as received over one: the sample's Teams flows were predicted and
/// expected over ExpressRoute.
#[test]
fn an_office_365_list_alone_declares_no_circuit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample.parquet");
    let pcap = repo().join("testdata/sample.pcap");
    let o365 = repo().join("signatures/o365-endpoints-worldwide.json");
    let o = pathlens(&[
        "read",
        pcap.to_str().unwrap(),
        "--o365",
        o365.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("circuit: no ExpressRoute circuit declared"),
        "{text}"
    );
    let v = verdicts(&read_batches(&out));
    // The Teams relay and signaling: ExpressRoute-capable, but predicted
    // and expected on the Internet, with the reason.
    for a in ["52.114.76.10:3478", "52.113.194.132:443"] {
        let r = &v[a];
        assert_eq!(
            (r[0].as_str(), r[3].as_str()),
            ("internet", "internet"),
            "{a}: {r:?}"
        );
        assert!(
            r[5].contains("not expressroute: no ExpressRoute circuit declared"),
            "{r:?}"
        );
    }
    // The edge carrying only ExpressRoute-capable traffic is reported, its
    // path not assumed.
    let r = &v["52.114.76.10:3478"];
    assert_eq!(r[2], "", "no observed path: {r:?}");
    assert!(
        r[5].contains("circuit observed, not declared: edge edge-02:00:00:00:00:01.100 carried 100% of its 3 flows to ExpressRoute-capable Office 365 sets"),
        "{r:?}"
    );
    assert!(text.contains("circuit observed, not declared"), "{text}");
}
