//! Properties of the whole pipeline over generated traffic: whatever the
//! flows, their timing and the number of workers, every IP packet lands in
//! exactly one row, counters add up, and the rows are the same for 1, 2 and
//! 3 workers, including idle splits, active-timeout continuations, TCP closes
//! and evictions-free runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use pathlens::flow::{FlowConfig, Knowledge};
use pathlens::pipeline::{run, RunOptions};
use pathlens::source::{MemorySource, PacketSource, SourceError};
use pathlens_benches::frame::{tcp_frame, udp_frame, Eth, Tcp, ACK, FIN, RST, SYN};
use pathlens_classify::prefix::LocalNets;
use pathlens_classify::Signatures;
use pathlens_export::{Compression, WriterOptions};
use proptest::prelude::*;
use std::net::IpAddr;
use std::sync::Arc;
use support::*;

#[derive(Clone, Debug)]
struct GenFlow {
    client: u8,
    server: u8,
    sport: u16,
    dport: u16,
    tcp: bool,
    v6: bool,
    vlan: Option<u16>,
    // (gap before the packet in ms, from client?, payload length, tcp flags)
    packets: Vec<(u32, bool, u16, u8)>,
}

fn flow_strategy() -> impl Strategy<Value = GenFlow> {
    (
        1u8..6,
        1u8..4,
        prop_oneof![
            Just(443u16),
            Just(3478),
            Just(5061),
            Just(53),
            1024u16..65535
        ],
        prop_oneof![
            Just(443u16),
            Just(3478),
            Just(5061),
            Just(53),
            1024u16..65535
        ],
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop_oneof![Just(None), Just(Some(10u16)), Just(Some(20u16))],
        prop::collection::vec(
            (
                prop_oneof![0u32..50, 0u32..3_000, Just(7_000), Just(20_000)],
                any::<bool>(),
                0u16..1200,
                prop_oneof![
                    Just(0x10u8),
                    Just(0x18),
                    Just(0x02),
                    Just(0x12),
                    Just(0x11),
                    Just(0x04)
                ],
            ),
            1..25,
        ),
    )
        .prop_map(
            |(client, server, sport, dport, tcp, v6, vlan, packets)| GenFlow {
                client,
                server,
                sport,
                dport,
                tcp,
                v6,
                vlan,
                packets,
            },
        )
}

fn frames(flows: &[GenFlow], start_offsets: &[u32]) -> Vec<(i64, u32, Vec<u8>)> {
    let mut out = Vec::new();
    for (f, off) in flows.iter().zip(start_offsets) {
        let mut t: i64 = 1_700_000_000_000_000 + i64::from(*off) * 1000;
        for &(gap, from_client, len, flags) in &f.packets {
            t += i64::from(gap) * 1000;
            let (c4, s4) = ([10, 0, 0, f.client], [52, 112, 0, f.server]);
            let c6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, f.client];
            let s6 = [
                0x26, 3, 0x10, 0x63, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, f.server,
            ];
            let (client, server): (IpAddr, IpAddr) = if f.v6 {
                (c6.into(), s6.into())
            } else {
                (c4.into(), s4.into())
            };
            let (eth, a, b) = if from_client {
                (
                    Eth::new([1; 6], [2; 6]),
                    (client, f.sport),
                    (server, f.dport),
                )
            } else {
                (
                    Eth::new([2; 6], [1; 6]),
                    (server, f.dport),
                    (client, f.sport),
                )
            };
            // The VLAN tag is drawn for every flow but only IPv4 frames carry it.
            let eth = eth.vlan(f.vlan.filter(|_| !f.v6));
            let payload = vec![0x42u8; usize::from(len)];
            let frame = if f.tcp {
                let tcp = Tcp {
                    seq: 1,
                    ack: 1,
                    // PSH is drawn but not sent.
                    flags: flags & (SYN | ACK | FIN | RST),
                    window: 1000,
                };
                tcp_frame(eth, a, b, tcp, &payload)
            } else {
                udp_frame(eth, a, b, &payload)
            };
            let wire = frame.len() as u32;
            out.push((t, wire, frame));
        }
    }
    out.sort_by_key(|f| f.0);
    out
}

fn run_with(
    frames: &[(i64, u32, Vec<u8>)],
    workers: usize,
    dir: &std::path::Path,
) -> (Vec<String>, serde_json::Value) {
    let out = dir.join(format!("w{workers}.parquet"));
    let ctx = Arc::new(Knowledge {
        signatures: Signatures::builtin().unwrap(),
        local: LocalNets::default(),
        egress: Default::default(),
        sensor_position: Default::default(),
    });
    let opts = RunOptions {
        decap: pathlens::decode::Decap::default(),
        workers,
        flow: FlowConfig {
            idle_us: 5_000_000,
            active_us: 12_000_000,
            ..FlowConfig::default()
        },
        output: Some(out.clone()),
        dataset: false,
        writer: WriterOptions {
            compression: Compression::Zstd,
            run_id: "r".into(),
            sensor: "s".into(),
            store: None,
        },
        metadata: vec![],
        observer: None,
        reload: None,
    };
    let src: Result<Box<dyn PacketSource>, SourceError> =
        Ok(Box::new(MemorySource::new("gen", 1, frames.to_vec())));
    let report = run([src], &opts, ctx, &mut ());
    assert!(
        !report.failed(),
        "{:?} {:?}",
        report.failures,
        report.output_error
    );
    let b = read_batches(&out);
    (row_texts(&b, &["run_id"]), counters(&out))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn rows_and_counts_do_not_depend_on_workers(
        flows in prop::collection::vec(flow_strategy(), 1..40),
        offsets in prop::collection::vec(0u32..30_000, 40),
    ) {
        let frames = frames(&flows, &offsets);
        let dir = tempfile::tempdir().unwrap();
        let (rows1, c1) = run_with(&frames, 1, dir.path());
        let total: usize = flows.iter().map(|f| f.packets.len()).sum();
        prop_assert_eq!(c1["packets_read"].as_u64().unwrap() as usize, total);
        prop_assert_eq!(c1["packets_decoded"].as_u64().unwrap() as usize, total);
        // Every packet is in exactly one row: sum the packet columns.
        let b = read_batches(&dir.path().join("w1.parquet"));
        let in_rows = sum_i64(&b, "src2dst_packets") + sum_i64(&b, "dst2src_packets");
        prop_assert_eq!(in_rows as usize, total);
        prop_assert_eq!(c1["records_written"].as_u64().unwrap() as usize, rows1.len());
        for n in [2, 3] {
            let (rows_n, cn) = run_with(&frames, n, dir.path());
            let only1: Vec<_> = rows1.iter().filter(|r| !rows_n.contains(r)).collect();
            let only_n: Vec<_> = rows_n.iter().filter(|r| !rows1.contains(r)).collect();
            prop_assert!(only1.is_empty() && only_n.is_empty(), "workers 1 vs {}:\n1 only: {:#?}\n{} only: {:#?}", n, only1, n, only_n);
            prop_assert_eq!(&c1["ended"], &cn["ended"]);
        }
    }
}
