//! Memory per live flow: one flow table holding 1 M live flows, measured
//! by a counting allocator (bytes the table keeps allocated) and by the
//! process's resident set. The goal is at most 512 bytes per flow, so a
//! default `--max-flows` of 4 M stays within 2 GiB.
//!
//! The flows are what fills a table on real links: a third DNS queries
//! (UDP, one packet with its payload), a third TCP SYNs to port 443, a third
//! QUIC-like UDP datagrams to port 443 with 1200 bytes of opaque payload;
//! every flow has its own client address and port, all still within the
//! idle timeout. Nothing is asserted: it only prints.
//!
//! Run with `cargo bench -p pathlens-benches --bench flowmem`
//! (`PATHLENS_BENCH_FLOWS` sets the number of flows, default 1000000).
#![allow(unsafe_code)] // the counting allocator: the one way to count heap bytes
#![allow(missing_docs, clippy::unwrap_used)]

use pathlens::flow::{FlowConfig, FlowTable, Knowledge, Pkt};
use pathlens_classify::egress::Site;
use pathlens_classify::prefix::LocalNets;
use pathlens_classify::{FlowKey, Signatures};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only
// counts the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: as `GlobalAlloc::realloc`'s contract, forwarded.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let n: usize = std::env::var("PATHLENS_BENCH_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let ctx = Arc::new(Knowledge {
        signatures: Signatures::builtin().unwrap(),
        local: LocalNets::default(),
        egress: Site::default(),
        sensor_position: Default::default(),
    });
    let dns = pathlens_benches::payload::dns_message(0x1234, "www.example.com", 1, 0, &[]);
    let quic = vec![0xc3u8; 1200];
    let server = IpAddr::V4(Ipv4Addr::new(52, 112, 1, 1));
    let resolver = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53));
    let cfg = FlowConfig {
        capacity: n + 1,
        ..FlowConfig::default()
    };
    let (heap0, rss0) = (LIVE.load(Ordering::Relaxed), rss_bytes());
    let mut table = FlowTable::new(cfg, ctx);
    let mut out = Vec::new();
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i as u32 / 40_000) << 8 | 7));
        let sport = 10_000 + (i % 40_000) as u16;
        let (dst, dport, proto, flags, payload): (IpAddr, u16, u8, u16, &[u8]) = match i % 3 {
            0 => (resolver, 53, 17, 0, &dns),
            1 => (server, 443, 6, 0x02, &[]),
            _ => (server, 443, 17, 0, &quic),
        };
        let (key, from_lo) = FlowKey::new(client, sport, dst, dport, proto, 0);
        let p = Pkt {
            seq: i as u64 + 1,
            ts_us: 1_700_000_000_000_000 + i as i64,
            key,
            from_lo,
            ip_version: 4,
            ip_len: 28 + payload.len() as u32,
            payload_len: payload.len() as u32,
            tcp_flags: flags,
            icmp: None,
            truncated: false,
            sport,
            dport,
            edge: 0,
            l2: Default::default(),
            encap: Default::default(),
            tunnel_id: None,
        };
        table.packet(&p, payload, &mut out);
    }
    let took = t0.elapsed();
    let heap = LIVE.load(Ordering::Relaxed) - heap0;
    let rss = rss_bytes().saturating_sub(rss0);
    println!(
        "{} live flows ({} records out) in {:.2} s: heap {:.0} bytes/flow, RSS {:.0} bytes/flow (goal <= 512)",
        table.len(),
        out.len(),
        took.as_secs_f64(),
        heap as f64 / table.len().max(1) as f64,
        rss as f64 / table.len().max(1) as f64,
    );
}
