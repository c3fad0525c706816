//! Seeded synthetic traffic for the pathlens benches, and the one home of
//! the capture builders that benches and tests share: the classic-pcap
//! writer ([`pcap`]), application payloads ([`payload`]: RTP, STUN, TLS, DNS,
//! SIP/SDP) and Ethernet frame assembly ([`frame`]). It depends on no
//! pathlens crate, so `pathlens` takes it as a dev-dependency.
//!
//! [`Generator`] interleaves many concurrent flows by packet time (a heap of
//! per-flow next-packet times) and builds every frame with etherparse's
//! `PacketBuilder`, checksums included. The same seed always gives the same
//! bytes. The mix, by share of flows:
//!
//! - DNS over UDP (44 %): a query and, from 0.2 ms (a cache hit at the
//!   site's resolver) to tens of ms later, a response with one to four
//!   answers; 3 % go unanswered.
//! - Short TCP (38.5 %, ports 443 and 80): SYN / SYN-ACK / ACK, one to three
//!   request/response exchanges (a padded TLS ClientHello with SNI or an HTTP
//!   GET first), data segments of 1514-byte frames, delayed ACKs of 54 or
//!   66 bytes (with or without TCP timestamps), FIN both ways (a few RSTs).
//! - Chatty TCP (5 %): long-lived sessions of many small exchanges, with the
//!   576-byte IP packets of old stacks among them.
//! - QUIC (6 %) and NTP (4.45 %) over UDP.
//! - Bulk TCP (2 %): downloads and uploads sent in slow-start bursts; their
//!   mean size is calibrated so the file holds about [`GenConfig::flows`]
//!   flows (by default 200 000 per GB).
//! - Teams-like audio (0.05 %): a STUN exchange, then RTP of about 200-byte
//!   frames every 20 ms both ways, from ports 50000-50059 to
//!   52.112.0.0/14:3478-3481, 15 to 75 s long.
//!
//! [`GenConfig::media_heavy`] is a second profile for the cost of media
//! metrics: a quarter of the flows are Teams-like calls (most packets are
//! then RTP), at a lower arrival rate so about a thousand calls overlap.
//!
//! About 12 % of the DNS, TCP and QUIC flows run over IPv6. Flows arrive as a
//! Poisson process ([`GenConfig::flows_per_sec`]); the capture point sits near
//! the clients, so a server's reply comes one round trip after the request.
//!
//! Layout: `model.rs` holds each flow's state and packet plan, `generator.rs`
//! interleaves the flows and builds their frames; this file holds what to
//! generate ([`GenConfig`]) and the ways to run it ([`generate_pcap`],
//! [`generate_frames`]).

pub mod frame;
mod generator;
mod model;
pub mod payload;
pub mod pcap;
pub mod rewrap;
pub mod tunnel;

pub use generator::Generator;
pub use pcap::{PcapFile, PcapWriter, LINKTYPE_ETHERNET, PCAP_GLOBAL_HEADER, PCAP_RECORD_HEADER};

use std::io;
use std::path::Path;

/// Version of the traffic model; part of the cache key of generated files.
pub const GENERATOR_VERSION: u32 = 1;
/// Flows per 10^9 bytes of capture when [`GenConfig::new`] picks the count.
pub const DEFAULT_FLOWS_PER_GB: u64 = 200_000;
/// Capture start time: 2023-11-14T22:13:20Z, in µs since the epoch.
pub const DEFAULT_START_US: i64 = 1_700_000_000_000_000;

/// The kinds of flow the generator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    /// DNS query and response over UDP.
    Dns,
    /// Short TCP (HTTPS or HTTP).
    Web,
    /// Long-lived TCP with many small exchanges.
    Chatty,
    /// Large TCP transfer.
    Bulk,
    /// QUIC over UDP 443.
    Quic,
    /// NTP over UDP 123.
    Ntp,
    /// RTP audio with a STUN exchange first.
    Media,
}

impl FlowKind {
    /// Every kind, in the order of [`GenStats::flows_by_kind`].
    pub const ALL: [FlowKind; 7] = [
        FlowKind::Dns,
        FlowKind::Web,
        FlowKind::Chatty,
        FlowKind::Bulk,
        FlowKind::Quic,
        FlowKind::Ntp,
        FlowKind::Media,
    ];

    /// Share of flows of this kind.
    pub fn weight(self) -> f64 {
        match self {
            FlowKind::Dns => 0.44,
            FlowKind::Web => 0.385,
            FlowKind::Chatty => 0.05,
            FlowKind::Bulk => 0.02,
            FlowKind::Quic => 0.06,
            FlowKind::Ntp => 0.0445,
            FlowKind::Media => 0.0005,
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            FlowKind::Dns => "dns",
            FlowKind::Web => "web",
            FlowKind::Chatty => "chatty",
            FlowKind::Bulk => "bulk",
            FlowKind::Quic => "quic",
            FlowKind::Ntp => "ntp",
            FlowKind::Media => "media",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            FlowKind::Dns => 0,
            FlowKind::Web => 1,
            FlowKind::Chatty => 2,
            FlowKind::Bulk => 3,
            FlowKind::Quic => 4,
            FlowKind::Ntp => 5,
            FlowKind::Media => 6,
        }
    }

    pub(crate) fn is_tcp(self) -> bool {
        matches!(self, FlowKind::Web | FlowKind::Chatty | FlowKind::Bulk)
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// RNG seed: equal configs give equal bytes.
    pub seed: u64,
    /// Stop once the pcap file (headers included) reaches this many bytes.
    pub target_bytes: u64,
    /// Stop after this many packets at most.
    pub max_packets: u64,
    /// About how many flows the file should hold (sets the bulk flow size).
    pub flows: u64,
    /// Mean flow arrivals per second of capture time (sets concurrency).
    pub flows_per_sec: f64,
    /// Share of non-media flows carried over IPv6.
    pub ipv6_share: f64,
    /// Time of the first flow arrival, µs since the epoch.
    pub start_us: i64,
    /// Share of media flows, overriding [`FlowKind::weight`] (the other
    /// kinds keep their proportions in the rest).
    pub media_share: Option<f64>,
}

impl GenConfig {
    /// A config for a file of `target_bytes`, with [`DEFAULT_FLOWS_PER_GB`].
    pub fn new(target_bytes: u64, seed: u64) -> Self {
        let flows = (u128::from(target_bytes) * u128::from(DEFAULT_FLOWS_PER_GB) / 1_000_000_000)
            .max(1_000);
        GenConfig {
            seed,
            target_bytes,
            max_packets: u64::MAX,
            flows: u64::try_from(flows).unwrap_or(u64::MAX),
            flows_per_sec: 2_000.0,
            ipv6_share: 0.12,
            start_us: DEFAULT_START_US,
            media_share: None,
        }
    }

    /// The media-heavy profile: 25 % of flows are calls, 100 flow arrivals
    /// per second (about 1 100 concurrent calls), about 4 000 flows per GB.
    pub fn media_heavy(target_bytes: u64, seed: u64) -> Self {
        let flows = (u128::from(target_bytes) * 4_000 / 1_000_000_000).max(100);
        GenConfig {
            flows: u64::try_from(flows).unwrap_or(u64::MAX),
            flows_per_sec: 100.0,
            media_share: Some(0.25),
            ..GenConfig::new(target_bytes, seed)
        }
    }

    /// Share of flows of `kind` in this config.
    pub fn weight(&self, kind: FlowKind) -> f64 {
        match self.media_share {
            None => kind.weight(),
            Some(m) if kind == FlowKind::Media => m.clamp(0.0, 1.0),
            Some(m) => kind.weight() * (1.0 - m.clamp(0.0, 1.0)) / (1.0 - FlowKind::Media.weight()),
        }
    }
}

/// What a generator produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Frames written.
    pub packets: u64,
    /// Frame bytes (Ethernet header up, as on the wire less the FCS).
    pub bytes: u64,
    /// Bytes of the pcap file: global header, record headers and frames.
    pub file_bytes: u64,
    /// Flows that sent at least one packet.
    pub flows: u64,
    /// Flows by kind, in [`FlowKind::ALL`] order.
    pub flows_by_kind: [u64; 7],
    /// Time of the first packet, µs since the epoch.
    pub first_ts_us: i64,
    /// Time of the last packet, µs since the epoch.
    pub last_ts_us: i64,
}

impl GenStats {
    /// Capture duration in seconds.
    pub fn duration_s(&self) -> f64 {
        (self.last_ts_us - self.first_ts_us) as f64 / 1e6
    }
}

/// Writes a seeded synthetic pcap of about `target_bytes` to `path`.
///
/// # Errors
/// The file cannot be written.
pub fn generate_pcap(path: &Path, target_bytes: u64, seed: u64) -> io::Result<GenStats> {
    generate_pcap_with(path, &GenConfig::new(target_bytes, seed))
}

/// Writes a synthetic pcap to `path` as `cfg` says.
///
/// # Errors
/// The file cannot be written.
pub fn generate_pcap_with(path: &Path, cfg: &GenConfig) -> io::Result<GenStats> {
    let mut w = PcapWriter::create(path, LINKTYPE_ETHERNET, pcap::BENCH_SNAPLEN)?;
    let mut g = Generator::new(cfg.clone());
    let mut buf = Vec::with_capacity(2048);
    while w.bytes() < cfg.target_bytes {
        match g.next_frame(&mut buf)? {
            Some(ts) => w.write_frame(ts, &buf)?,
            None => break,
        }
    }
    let bytes = w.bytes();
    w.finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    let mut s = g.stats().clone();
    s.file_bytes = bytes;
    Ok(s)
}

/// One frame of a [`FrameSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef {
    /// Capture time, µs since the epoch.
    pub ts_us: i64,
    /// Offset of the frame in [`FrameSet::data`].
    pub off: usize,
    /// Frame length.
    pub len: usize,
}

/// Generated frames held in memory, back to back.
#[derive(Clone, Debug, Default)]
pub struct FrameSet {
    /// All frame bytes.
    pub data: Vec<u8>,
    /// Where each frame is.
    pub frames: Vec<FrameRef>,
    /// What the generator produced.
    pub stats: GenStats,
}

impl FrameSet {
    /// The frames with their capture times.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &[u8])> + '_ {
        self.frames.iter().map(|f| {
            (
                f.ts_us,
                self.data.get(f.off..f.off + f.len).unwrap_or_default(),
            )
        })
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// Generates up to `max_packets` frames (and at most `cfg.target_bytes`
/// frame bytes) into memory.
///
/// # Errors
/// Only if a frame cannot be built, which the generator rules out.
pub fn generate_frames(cfg: &GenConfig, max_packets: usize) -> io::Result<FrameSet> {
    let mut g = Generator::new(cfg.clone());
    let mut set = FrameSet::default();
    let mut buf = Vec::with_capacity(2048);
    while set.frames.len() < max_packets && (set.data.len() as u64) < cfg.target_bytes {
        let Some(ts) = g.next_frame(&mut buf)? else {
            break;
        };
        set.frames.push(FrameRef {
            ts_us: ts,
            off: set.data.len(),
            len: buf.len(),
        });
        set.data.extend_from_slice(&buf);
    }
    set.stats = g.stats().clone();
    Ok(set)
}
