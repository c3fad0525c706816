//! Longest-prefix match of the egress attribution database: the real Office
//! 365 endpoints list plus 100,000 random prefixes, one lookup per address.
//!
//! Input (seeded, `StdRng` 42): 100,000 distinct random prefixes, 85 % IPv4 of
//! length /8 to /32, 15 % IPv6 of length /16 to /64, as a plain CIDR list;
//! the O365 list from `$PATHLENS_CORPUS/o365/endpoints-worldwide.json`
//! (default `testdata/corpus`; skipped with a note when missing). Lookup
//! addresses: 200,000, a third inside O365 prefixes, a third inside random
//! prefixes, a third uniform (mostly misses), 15 % IPv6. One thread, so the
//! reported elements/s is lookups per second per core.
//!
//! Run with `cargo bench -p pathlens-benches --bench lpm` (about 15 s).
// Bench setup on generated data: failing loudly is the right outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use pathlens_classify::egress::sources::parse_o365;
use pathlens_classify::egress::{EgressDb, EgressDbBuilder, O365Advertised};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

const RANDOM_PREFIXES: usize = 100_000;
const LOOKUPS: usize = 200_000;

fn random_prefix(rng: &mut StdRng) -> IpNet {
    if rng.random_bool(0.85) {
        let len = rng.random_range(8..=32);
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(rng.random::<u32>()), len)
                .unwrap()
                .trunc(),
        )
    } else {
        let len = rng.random_range(16..=64);
        // Global unicast, like real routes.
        let a = (rng.random::<u128>() & !(0b111u128 << 125)) | (1u128 << 125);
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc())
    }
}

fn inside(rng: &mut StdRng, net: &IpNet) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let host = !u32::from(n.netmask());
            IpAddr::V4(Ipv4Addr::from(
                u32::from(n.network()) | (rng.random::<u32>() & host),
            ))
        }
        IpNet::V6(n) => {
            let host = !u128::from(n.netmask());
            IpAddr::V6(Ipv6Addr::from(
                u128::from(n.network()) | (rng.random::<u128>() & host),
            ))
        }
    }
}

fn setup() -> (EgressDb, Vec<IpAddr>) {
    let mut rng = StdRng::seed_from_u64(42);
    let mut b = EgressDbBuilder::default();
    let corpus = std::env::var_os("PATHLENS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus"));
    let o365_file = corpus.join("o365/endpoints-worldwide.json");
    let mut o365_nets = Vec::new();
    match std::fs::read_to_string(&o365_file) {
        Ok(text) => {
            let sets = parse_o365(&text, "endpoints-worldwide.json").unwrap();
            o365_nets = sets.iter().flat_map(|s| s.ips.clone()).collect();
            b.add_o365("o365", sets, &O365Advertised::All);
        }
        Err(e) => eprintln!(
            "lpm: no O365 list ({}: {e}); random prefixes only",
            o365_file.display()
        ),
    }
    // Distinct prefixes: short random prefixes collide often.
    let mut seen = std::collections::HashSet::new();
    let mut random: Vec<IpNet> = Vec::with_capacity(RANDOM_PREFIXES);
    while random.len() < RANDOM_PREFIXES {
        let n = random_prefix(&mut rng);
        if seen.insert(n) {
            random.push(n);
        }
    }
    b.add_cidrs("random", random.iter().map(|n| (*n, None)).collect(), false);
    let db = b.build();
    let mut addrs = Vec::with_capacity(LOOKUPS);
    for i in 0..LOOKUPS {
        let a = match i % 3 {
            0 if !o365_nets.is_empty() => {
                let n = o365_nets[rng.random_range(0..o365_nets.len())];
                inside(&mut rng, &n)
            }
            1 => {
                let n = random[rng.random_range(0..random.len())];
                inside(&mut rng, &n)
            }
            _ if rng.random_bool(0.15) => IpAddr::V6(Ipv6Addr::from(rng.random::<u128>())),
            _ => IpAddr::V4(Ipv4Addr::from(rng.random::<u32>())),
        };
        addrs.push(a);
    }
    let hits = addrs.iter().filter(|a| db.lookup(**a).is_some()).count();
    let v6 = addrs.iter().filter(|a| a.is_ipv6()).count();
    eprintln!(
        "lpm input: {} prefixes ({} from O365), {} addresses ({} IPv6, {} hits)",
        db.len(),
        o365_nets.len(),
        addrs.len(),
        v6,
        hits
    );
    (db, addrs)
}

fn bench_lpm(c: &mut Criterion) {
    let (db, addrs) = setup();
    let mut g = c.benchmark_group("egress_lpm");
    g.throughput(Throughput::Elements(addrs.len() as u64));
    g.bench_function("lookup_o365_plus_100k", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for a in &addrs {
                if let Some(m) = db.lookup(black_box(*a)) {
                    n += usize::from(m.expressroute.is_some()) + usize::from(m.prefix.prefix_len());
                }
            }
            black_box(n)
        });
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = lpm;
    config = config();
    targets = bench_lpm
}
criterion_main!(lpm);
