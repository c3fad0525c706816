//! Micro benches of the pathlens hot paths: frame decoding, flow-table
//! updates, Arrow batch building (and the Parquet write behind it), and
//! local-network prefix lookups, and the media tracker's per-packet update.
//!
//! Every input comes from the seeded synthetic generator of this crate
//! (`pathlens_benches::Generator`, seed 42): Ethernet frames of a realistic
//! mix (DNS, short and bulk TCP, QUIC, NTP, Teams-like RTP; about 12 % IPv6),
//! held in memory. The flow-table bench replays packets decoded beforehand
//! into a table already holding the flows of the preceding packets; the
//! batch bench encodes records that table produced.
//!
//! Run with `cargo bench -p pathlens-benches --bench micro`.
// Bench setup on generated data: failing loudly is the right outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use pathlens::decode::{decode, decode_with, Decap};
use pathlens::flow::{FlowConfig, FlowTable, Knowledge, Pkt};
use pathlens::link::LinkType;
use pathlens_benches::{generate_frames, FrameSet, GenConfig, Generator};
use pathlens_classify::media::MediaTracker;
use pathlens_classify::prefix::LocalNets;
use pathlens_classify::{FlowKey, Side, Signatures};
use pathlens_export::{
    records_to_batch, Compression, FlowRecord, ParquetSink, Summary, WriterOptions,
};
use std::hint::black_box;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const SEED: u64 = 42;
/// The generator is configured as for the 1 GB pipeline file; the benches
/// take its first packets.
const GEN_BYTES: u64 = 1_000_000_000;
/// Frames held in memory for the decode bench.
const DECODE_FRAMES: usize = 200_000;
/// Frames of the cache-resident decode set (about 1 MB).
const WARM_FRAMES: usize = 2_048;
/// Packets fed to the flow table before the timed part (untimed).
const TABLE_WARM: usize = 400_000;
/// Packets fed to the flow table in the timed part.
const TABLE_TIMED: usize = 200_000;
/// Packets per worker batch in the pipeline (advance after each).
const BATCH: usize = 512;
/// Records per Arrow batch, as the writer uses.
const RECORDS: usize = 8_192;

fn frames() -> &'static FrameSet {
    static F: OnceLock<FrameSet> = OnceLock::new();
    F.get_or_init(|| {
        let cfg = GenConfig::new(GEN_BYTES, SEED);
        let set = generate_frames(&cfg, DECODE_FRAMES).unwrap();
        eprintln!(
            "decode input: {} frames, {} bytes (mean {:.0} B/frame), {} flows",
            set.len(),
            set.data.len(),
            set.data.len() as f64 / set.len() as f64,
            set.stats.flows
        );
        set
    })
}

/// Packets as the reader hands them to a worker, with their payloads.
struct Decoded {
    pkts: Vec<(Pkt, u32, u32)>,
    payload: Vec<u8>,
}

fn decoded() -> &'static Decoded {
    static D: OnceLock<Decoded> = OnceLock::new();
    D.get_or_init(|| {
        let mut g = Generator::new(GenConfig::new(GEN_BYTES, SEED));
        let mut buf = Vec::new();
        let n = TABLE_WARM + TABLE_TIMED;
        let mut out = Decoded {
            pkts: Vec::with_capacity(n),
            payload: Vec::with_capacity(n * 400),
        };
        let mut seq = 0u64;
        while out.pkts.len() < n {
            let ts = g.next_frame(&mut buf).unwrap().unwrap();
            seq += 1;
            let d = decode(LinkType::Ethernet, &buf, buf.len() as u32).unwrap();
            let pl = d.payload;
            let off = out.payload.len() as u32;
            out.payload.extend_from_slice(pl);
            out.pkts
                .push((Pkt::from_decoded(seq, ts, false, &d), off, pl.len() as u32));
        }
        eprintln!(
            "flow-table input: {} packets, {} flows started, {:.1} s of capture",
            n,
            g.stats().flows,
            g.stats().duration_s()
        );
        out
    })
}

fn ctx() -> Arc<Knowledge> {
    Arc::new(Knowledge {
        signatures: Signatures::builtin().unwrap(),
        local: LocalNets::default(),
        egress: Default::default(),
        sensor_position: Default::default(),
    })
}

/// Feeds packets to a table the way a worker does: a batch, then `advance`.
fn feed(t: &mut FlowTable, d: &Decoded, range: std::ops::Range<usize>, out: &mut Vec<FlowRecord>) {
    for chunk in d.pkts[range].chunks(BATCH) {
        for (p, off, len) in chunk {
            let pl = &d.payload[*off as usize..(*off + *len) as usize];
            t.packet(p, pl, out);
        }
        if let Some((last, _, _)) = chunk.last() {
            t.advance(last.ts_us, out);
        }
        out.clear();
    }
}

fn warm_table(d: &Decoded) -> FlowTable {
    let mut t = FlowTable::new(FlowConfig::default(), ctx());
    t.interface = Arc::from("bench.pcap");
    let mut out = Vec::new();
    feed(&mut t, d, 0..TABLE_WARM, &mut out);
    t
}

fn records() -> &'static Vec<FlowRecord> {
    static R: OnceLock<Vec<FlowRecord>> = OnceLock::new();
    R.get_or_init(|| {
        let d = decoded();
        let mut t = FlowTable::new(FlowConfig::default(), ctx());
        t.interface = Arc::from("bench.pcap");
        let mut out = Vec::new();
        for (p, off, len) in &d.pkts {
            t.packet(
                p,
                &d.payload[*off as usize..(*off + *len) as usize],
                &mut out,
            );
        }
        let end = d.pkts.last().map_or(i64::MIN, |(p, _, _)| p.ts_us);
        t.flush(end, &mut out);
        eprintln!(
            "record input: {} records from the flow-table packets",
            out.len()
        );
        out
    })
}

fn writer_opts() -> WriterOptions {
    WriterOptions {
        compression: Compression::Zstd,
        run_id: "3f1c2a9e-7b4d-4e8a-9c61-0d2b5e7f8a10".into(),
        sensor: "bench-sensor".into(),
        store: None,
    }
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn bench_decode(c: &mut Criterion) {
    let set = frames();
    // A slice from mid-capture small enough to stay in L2, as frames are
    // when the reader decodes them right after libpcap copied them in.
    let warm: Vec<&[u8]> = set
        .iter()
        .skip(set.len() / 2)
        .take(WARM_FRAMES)
        .map(|(_, f)| f)
        .collect();
    let warm_bytes: usize = warm.iter().map(|f| f.len()).sum();
    eprintln!(
        "decode warm set: {} frames, {} bytes (mean {:.0} B/frame)",
        warm.len(),
        warm_bytes,
        warm_bytes as f64 / warm.len() as f64
    );
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(warm.len() as u64));
    g.bench_function("warm_2048", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for f in &warm {
                if let Ok(d) = decode(LinkType::Ethernet, black_box(f), f.len() as u32) {
                    acc += u64::from(d.payload_len) + u64::from(d.sport);
                }
            }
            black_box(acc)
        });
    });
    // What the reader does per frame before batching: decode and key.
    g.bench_function("warm_2048+flow_key", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for f in &warm {
                if let Ok(d) = decode(LinkType::Ethernet, black_box(f), f.len() as u32) {
                    let (k, lo) = FlowKey::new(d.src, d.sport, d.dst, d.dport, d.proto, d.vlan);
                    acc += u64::from(k.lo_port) + u64::from(lo);
                }
            }
            black_box(acc)
        });
    });
    // The same frames with decapsulation off: what the tunnel check costs
    // untunnelled traffic.
    let off = Decap::off();
    g.bench_function("warm_2048_no_decap", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for f in &warm {
                if let Ok(d) = decode_with(LinkType::Ethernet, black_box(f), f.len() as u32, &off) {
                    acc += u64::from(d.payload_len) + u64::from(d.sport);
                }
            }
            black_box(acc)
        });
    });
    // And each frame wrapped in VXLAN, as a cloud TAP sends it.
    let wrapped: Vec<Vec<u8>> = warm
        .iter()
        .enumerate()
        .map(|(i, f)| {
            pathlens_benches::tunnel::wrap(
                pathlens_benches::tunnel::Wrap::Vxlan(5001, 4789),
                f,
                i as u32,
            )
        })
        .collect();
    g.bench_function("warm_2048_vxlan", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for f in &wrapped {
                if let Ok(d) = decode(LinkType::Ethernet, black_box(f), f.len() as u32) {
                    acc += u64::from(d.payload_len) + u64::from(d.sport);
                }
            }
            black_box(acc)
        });
    });
    g.finish();
    // Streaming through ~96 MB: every frame's first byte is a cache miss.
    let mut g = c.benchmark_group("decode");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.throughput(Throughput::Elements(set.len() as u64));
    g.bench_function("cold_200k", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for (_, f) in set.iter() {
                if let Ok(d) = decode(LinkType::Ethernet, black_box(f), f.len() as u32) {
                    acc += u64::from(d.payload_len) + u64::from(d.sport);
                }
            }
            black_box(acc)
        });
    });
    g.finish();
}

fn bench_flow_table(c: &mut Criterion) {
    let d = decoded();
    {
        let t = warm_table(d);
        eprintln!(
            "flow table before the timed packets: {} live entries",
            t.len()
        );
    }
    let mut g = c.benchmark_group("flow_table");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.throughput(Throughput::Elements(TABLE_TIMED as u64));
    g.bench_function("packet+advance", |b| {
        b.iter_batched(
            || (warm_table(d), Vec::with_capacity(4096)),
            |(mut t, mut out)| {
                feed(&mut t, d, TABLE_WARM..TABLE_WARM + TABLE_TIMED, &mut out);
                (t, out)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn bench_batch(c: &mut Criterion) {
    let all = records();
    let recs: Vec<FlowRecord> = all.iter().take(RECORDS).cloned().collect();
    let opts = writer_opts();
    let mut g = c.benchmark_group("arrow");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("records_to_batch_8192", |b| {
        b.iter(|| {
            let batch = records_to_batch(black_box(&recs), &opts).unwrap();
            black_box(batch.num_rows())
        });
    });
    g.finish();

    // The writer's other work on every row: the run summary.
    let mut g = c.benchmark_group("summary");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("add_8192", |b| {
        b.iter(|| {
            let mut s = Summary::default();
            for r in black_box(&recs) {
                s.add(r);
            }
            black_box(s.total.flows)
        });
    });
    g.finish();

    // The whole writer path: 8 batches, zstd, footer and rename.
    let many: Vec<FlowRecord> = all.iter().cycle().take(RECORDS * 8).cloned().collect();
    let path = bench_dir().join(format!("micro-sink-{}.parquet", std::process::id()));
    let mut g = c.benchmark_group("parquet");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.throughput(Throughput::Elements(many.len() as u64));
    g.bench_function("sink_write_65536_zstd", |b| {
        b.iter(|| {
            let mut s = ParquetSink::create(&path, writer_opts()).unwrap();
            s.write(black_box(&many)).unwrap();
            s.finish(Vec::new()).unwrap()
        });
    });
    g.finish();
    let _ = std::fs::remove_file(&path);
}

fn bench_prefix(c: &mut Criterion) {
    let d = decoded();
    let addrs: Vec<IpAddr> = d
        .pkts
        .iter()
        .take(100_000)
        .flat_map(|(p, _, _)| [p.key.lo_addr, p.key.hi_addr])
        .collect();
    let local = LocalNets::default();
    let n_local = addrs.iter().filter(|a| local.is_local(**a)).count();
    let n_v6 = addrs.iter().filter(|a| a.is_ipv6()).count();
    eprintln!(
        "prefix input: {} addresses, {} local, {} IPv6",
        addrs.len(),
        n_local,
        n_v6
    );
    let mut g = c.benchmark_group("prefix");
    g.throughput(Throughput::Elements(addrs.len() as u64));
    g.bench_function("local_nets_lookup", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for a in &addrs {
                if let Some(m) = local.lookup(black_box(*a)) {
                    n += m.label.len();
                }
            }
            black_box(n)
        });
    });
    g.bench_function("local_nets_is_local", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for a in &addrs {
                n += usize::from(local.is_local(black_box(*a)));
            }
            black_box(n)
        });
    });
    g.finish();
}

/// RTP headers of a two-way PCMU call (20 ms pacing, 0-3 ms arrival jitter
/// from a fixed LCG, one packet in 100 swapped with the next, one in 250
/// dropped), as `(side, arrival_us, header bytes)`: the per-packet input of
/// the media tracker. Headers only, as the worker hands them over. `pt` 0
/// is PCMU's static clock; a dynamic type is timed under every candidate
/// clock until the record is written.
fn media_packets(n: usize, pt: u8) -> Vec<(Side, i64, [u8; 12])> {
    let mut lcg: u64 = 42;
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        lcg = lcg.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let side = if i % 2 == 0 {
            Side::Src2Dst
        } else {
            Side::Dst2Src
        };
        let k = (i / 2) as u32;
        if k % 250 == 249 {
            continue;
        }
        let seq = if k % 100 == 50 {
            k + 1
        } else if k % 100 == 51 {
            k - 1
        } else {
            k
        } as u16;
        let mut h = [0u8; 12];
        h[0] = 0x80;
        h[1] = pt;
        h[2..4].copy_from_slice(&seq.to_be_bytes());
        h[4..8].copy_from_slice(&(k * 160).to_be_bytes());
        h[8..12].copy_from_slice(&(0x1000 + u32::from(i % 2 == 1)).to_be_bytes());
        let at = i64::from(k) * 20_000 + (lcg >> 33) as i64 % 3_000;
        v.push((side, at, h));
    }
    v
}

fn bench_media(c: &mut Criterion) {
    let mut g = c.benchmark_group("media");
    for (name, pt) in [("tracker_feed", 0u8), ("tracker_feed_dynamic_pt", 111)] {
        let pkts = media_packets(100_000, pt);
        g.throughput(Throughput::Elements(pkts.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                MediaTracker::new,
                |mut t| {
                    for (side, at, h) in &pkts {
                        t.feed(*side, *at, black_box(h));
                    }
                    t
                },
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = micro;
    config = config();
    targets = bench_decode, bench_flow_table, bench_batch, bench_prefix, bench_media
}
criterion_main!(micro);
