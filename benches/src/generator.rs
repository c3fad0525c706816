//! The [`Generator`]: many synthetic flows interleaved by packet time, each
//! planned packet built into an Ethernet frame with its checksums.

use crate::frame::{ACK, FIN, PSH, RST, SYN};
use crate::model::*;
use crate::payload::{put_dns_message, put_padded_client_hello, put_rtp_header, put_stun_header};
use crate::{FlowKind, GenConfig, GenStats};
use etherparse::{PacketBuilder, TcpHeader};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Write};

/// The packet-time-ordered interleaving of many synthetic flows.
pub struct Generator {
    cfg: GenConfig,
    rng: StdRng,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    slots: Vec<Option<Flow>>,
    free: Vec<u32>,
    next_arrival_us: i64,
    bulk_mean: f64,
    noise: Vec<u8>,
    scratch: Vec<u8>,
    stats: GenStats,
    packets: u64,
    cum_weights: [f64; 7],
}

impl Generator {
    /// A generator for `cfg`; calibrates the bulk flow size first.
    pub fn new(cfg: GenConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut noise = vec![0u8; NOISE_LEN + 2048];
        rng.fill(noise.as_mut_slice());
        let mut cum = [0.0; 7];
        let mut acc = 0.0;
        for (c, k) in cum.iter_mut().zip(FlowKind::ALL) {
            acc += cfg.weight(k);
            *c = acc;
        }
        let mut g = Generator {
            next_arrival_us: cfg.start_us,
            cfg,
            rng,
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            bulk_mean: 0.0,
            noise,
            scratch: Vec::with_capacity(2048),
            stats: GenStats::default(),
            packets: 0,
            cum_weights: cum,
        };
        g.bulk_mean = g.calibrate_bulk_mean();
        g
    }

    /// Mean payload bytes of a bulk transfer, as calibrated.
    pub fn bulk_mean_bytes(&self) -> f64 {
        self.bulk_mean
    }

    /// What was produced so far.
    pub fn stats(&self) -> &GenStats {
        &self.stats
    }

    /// Frame bytes of whole flows of one kind, averaged over `n` samples
    /// (bulk flows all carry exactly `bulk` payload bytes here).
    fn mean_flow_bytes(&self, kind: FlowKind, n: u32, rng: &mut StdRng, bulk: u64) -> f64 {
        let mut total = 0u64;
        for _ in 0..n {
            let mut f = Self::make_flow(&self.cfg, kind, 0, rng, 0.0);
            f.bulk_bytes = bulk;
            loop {
                f.refill(rng);
                if f.pending.is_empty() {
                    break;
                }
                while let Some(p) = f.pending.pop_front() {
                    total += f.frame_len(&p) as u64;
                    f.emitted += 1;
                }
            }
        }
        total as f64 / f64::from(n.max(1))
    }

    /// The bulk payload mean that makes the mix hold `cfg.flows` flows in
    /// `cfg.target_bytes`, measured on whole flows of a side RNG.
    fn calibrate_bulk_mean(&self) -> f64 {
        let mut rng = StdRng::seed_from_u64(self.cfg.seed ^ 0x6361_6c69_6272_6174);
        let want = self.cfg.target_bytes as f64 / self.cfg.flows.max(1) as f64;
        let mut others = 0.0;
        for k in FlowKind::ALL {
            let n = match k {
                FlowKind::Bulk => continue,
                FlowKind::Media => 100,
                _ => 3_000,
            };
            others += self.cfg.weight(k) * self.mean_flow_bytes(k, n, &mut rng, 0);
        }
        // Frame bytes per payload byte of a transfer, with its ACKs.
        let unit = 1_000_000u64;
        let per = self.mean_flow_bytes(FlowKind::Bulk, 20, &mut rng, unit) / unit as f64;
        // File bytes include a 16-byte record header per frame (~2 %).
        let bulk_frames = (want / 1.02 - others) / self.cfg.weight(FlowKind::Bulk);
        (bulk_frames / per).max(16_384.0)
    }

    fn pick_kind(&mut self) -> FlowKind {
        let u: f64 = self.rng.random();
        for (c, k) in self.cum_weights.iter().zip(FlowKind::ALL) {
            if u < *c {
                return k;
            }
        }
        FlowKind::Web
    }

    fn make_flow(
        cfg: &GenConfig,
        kind: FlowKind,
        t: i64,
        rng: &mut StdRng,
        bulk_mean: f64,
    ) -> Flow {
        let v6 = kind != FlowKind::Media && rng.random_bool(cfg.ipv6_share.clamp(0.0, 1.0));
        let host: u32 = rng.random_range(0..LOCAL_CLIENTS);
        let hb = host.to_be_bytes();
        let c4 = [10, 20, (host / 250) as u8, (host % 250 + 1) as u8];
        let mut c6 = [0xfd, 0x20, 0x00, 0x0a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        c6[12..16].copy_from_slice(&hb);
        c6[8] = 0x02;
        let remote4 = |rng: &mut StdRng| {
            let p = REMOTE_V4
                .get(rng.random_range(0..REMOTE_V4.len()))
                .copied()
                .unwrap_or([52, 112]);
            [
                p[0],
                p[1],
                rng.random_range(0..=255),
                rng.random_range(1..255),
            ]
        };
        let remote6 = |rng: &mut StdRng| {
            let p = REMOTE_V6
                .get(rng.random_range(0..REMOTE_V6.len()))
                .copied()
                .unwrap_or([0x26, 0x03, 0x10, 0x63]);
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&p);
            rng.fill(&mut a[4..]);
            a
        };
        let remote_rtt =
            |rng: &mut StdRng| lognormal(rng, 25_000.0, 0.7, 2_000.0, 300_000.0) as i64;
        let ephemeral = rng.random_range(49_152..=65_535u16);
        let (ends, sport, cport, rtt_us, local_server) = match kind {
            FlowKind::Dns => {
                let public = rng.random_range(0..100u32) < 10;
                let ends = match (v6, public) {
                    (false, false) => Ends::V4 {
                        c: c4,
                        s: [10, 20, 255, 53 + rng.random_range(0..2u8)],
                    },
                    (false, true) => Ends::V4 {
                        c: c4,
                        s: [8, 8, 8, 8],
                    },
                    (true, false) => Ends::V6 {
                        c: c6,
                        s: [
                            0xfd, 0x20, 0, 0x0a, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x53,
                        ],
                    },
                    (true, true) => Ends::V6 {
                        c: c6,
                        s: [
                            0x20, 0x01, 0x48, 0x60, 0x48, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x88,
                        ],
                    },
                };
                // Cache hit at the site resolver, or a recursive lookup.
                let rtt = if public {
                    remote_rtt(rng)
                } else if rng.random_range(0..100u32) < 70 {
                    rng.random_range(200..1_500)
                } else {
                    rng.random_range(5_000..60_000)
                };
                (ends, 53, ephemeral, rtt, !public)
            }
            FlowKind::Ntp => {
                let public = rng.random_bool(0.5);
                let s = if public {
                    [40, 119, 6, 228]
                } else {
                    [10, 20, 255, 123]
                };
                let cport = if rng.random_bool(0.5) { 123 } else { ephemeral };
                let rtt = if public {
                    remote_rtt(rng)
                } else {
                    rng.random_range(200..1_000)
                };
                (Ends::V4 { c: c4, s }, 123, cport, rtt, !public)
            }
            FlowKind::Media => {
                let s = [
                    52,
                    112 + rng.random_range(0..4u8),
                    rng.random_range(0..=255),
                    rng.random_range(1..255),
                ];
                let sport = 3478 + rng.random_range(0..4u16);
                let cport = 50_000 + rng.random_range(0..60u16);
                (Ends::V4 { c: c4, s }, sport, cport, remote_rtt(rng), false)
            }
            FlowKind::Quic | FlowKind::Web | FlowKind::Chatty | FlowKind::Bulk => {
                let ends = if v6 {
                    Ends::V6 {
                        c: c6,
                        s: remote6(rng),
                    }
                } else {
                    Ends::V4 {
                        c: c4,
                        s: remote4(rng),
                    }
                };
                let sport = if kind == FlowKind::Web && rng.random_range(0..100u32) < 15 {
                    80
                } else {
                    443
                };
                (ends, sport, ephemeral, remote_rtt(rng), false)
            }
        };
        // Per-flow bottleneck rate: 5 Mbit/s to 1 Gbit/s.
        let rate_mbps = lognormal(rng, 60.0, 1.2, 5.0, 1_000.0);
        let seg_gap_us = ((1514.0 * 8.0 / rate_mbps) as i64).max(12);
        let cmac = [0x02, 0x00, hb[0] ^ 0x5a, hb[1], hb[2], hb[3]];
        let smac = if local_server {
            [0x02, 0x53, 0x00, 0x00, 0x00, 0x01]
        } else {
            GATEWAY_MAC
        };
        let exchanges = match kind {
            FlowKind::Web => match rng.random_range(0..100u32) {
                0..=69 => 1,
                70..=89 => 2,
                _ => 3,
            },
            FlowKind::Chatty => rng.random_range(3..16),
            FlowKind::Bulk => 1,
            _ => 0,
        };
        let bulk_bytes = if kind == FlowKind::Bulk {
            // Log-normal with mean `bulk_mean`: median = mean / e^(σ²/2).
            let sigma: f64 = 1.2;
            let median = bulk_mean / (sigma * sigma / 2.0).exp();
            lognormal(rng, median, sigma, 16_384.0, 4.0e9) as u64
        } else {
            0
        };
        let media_secs = rng.random_range(15..75i64);
        Flow {
            kind,
            ends,
            cport,
            sport,
            cmac,
            smac,
            cttl: if rng.random_bool(0.7) { 128 } else { 64 },
            sttl: rng.random_range(40..120),
            tcp_ts: rng.random_range(0..100u32) < 70,
            window: rng.random_range(500..=65_535),
            seq: [rng.random(), rng.random()],
            tsval_base: rng.random(),
            rtt_us: rtt_us.max(100),
            seg_gap_us,
            clock: t,
            pending: VecDeque::new(),
            phase: Phase::Start,
            exchanges_left: exchanges,
            resp_left: 0,
            resp_from_client: false,
            cwnd: 10,
            bulk_bytes,
            name: rng.random_range(0..NAMES.len() as u8),
            qtype: if v6 || rng.random_bool(0.3) { 28 } else { 1 },
            dns_id: rng.random(),
            answers: rng.random_range(1..5),
            media_next: [t, t],
            media_end: t + media_secs * 1_000_000,
            rtp_seq: [rng.random(), rng.random()],
            ssrc: [rng.random(), rng.random()],
            first_request: true,
            emitted: 0,
        }
    }

    fn start_flow(&mut self) {
        let kind = self.pick_kind();
        let t = self.next_arrival_us;
        let mut f = Self::make_flow(&self.cfg, kind, t, &mut self.rng, self.bulk_mean);
        f.refill(&mut self.rng);
        // Exponential inter-arrival times.
        let u: f64 = self.rng.random_range(f64::MIN_POSITIVE..1.0);
        let gap = -u.ln() / self.cfg.flows_per_sec.max(1e-3) * 1e6;
        self.next_arrival_us = t + (gap as i64).max(1);
        let Some(first) = f.pending.front().map(|p| p.ts_us) else {
            return;
        };
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(x) = self.slots.get_mut(s as usize) {
                    *x = Some(f);
                }
                s
            }
            None => {
                self.slots.push(Some(f));
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.heap.push(Reverse((first, slot)));
    }

    /// Builds the next frame into `buf` (cleared first) and returns its
    /// capture time; `None` once `cfg.max_packets` frames were made.
    ///
    /// # Errors
    /// Only if etherparse refuses a header, which the model rules out.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<i64>> {
        if self.packets >= self.cfg.max_packets {
            return Ok(None);
        }
        loop {
            let next_flow = self.heap.peek().map(|r| r.0 .0);
            if next_flow.is_none_or(|t| self.next_arrival_us <= t) {
                self.start_flow();
                continue;
            }
            let Some(Reverse((ts, slot))) = self.heap.pop() else {
                continue;
            };
            let Some(mut f) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
                continue;
            };
            let Some(p) = f.pending.pop_front() else {
                self.free.push(slot);
                continue;
            };
            buf.clear();
            self.build(&mut f, &p, buf)?;
            if f.emitted == 0 {
                self.stats.flows += 1;
                if let Some(n) = self.stats.flows_by_kind.get_mut(f.kind.index()) {
                    *n += 1;
                }
            }
            f.emitted += 1;
            if f.pending.is_empty() {
                f.refill(&mut self.rng);
            }
            match f.pending.front().map(|n| n.ts_us) {
                Some(next) => {
                    self.heap.push(Reverse((next.max(ts), slot)));
                    if let Some(x) = self.slots.get_mut(slot as usize) {
                        *x = Some(f);
                    }
                }
                None => self.free.push(slot),
            }
            self.packets += 1;
            if self.stats.packets == 0 {
                self.stats.first_ts_us = ts;
            }
            self.stats.packets += 1;
            self.stats.bytes += buf.len() as u64;
            self.stats.last_ts_us = ts;
            return Ok(Some(ts));
        }
    }

    fn fill_body(&mut self, f: &mut Flow, p: &Planned) {
        let s = &mut self.scratch;
        s.clear();
        let len = usize::from(p.len);
        let side = usize::from(!p.from_client);
        match p.body {
            Body::Random => {}
            Body::TlsHello => put_padded_client_hello(s, name_of(f.name), &self.noise),
            Body::HttpGet => {
                let _ = write!(
                    s,
                    "GET /api/v1/items?id={} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\nX-Pad: ",
                    f.dns_id,
                    name_of(f.name)
                );
                s.resize(len.saturating_sub(4).max(s.len()), b'a');
                s.extend_from_slice(b"\r\n\r\n");
            }
            Body::DnsQuery | Body::DnsAnswer => {
                let answers = if p.body == Body::DnsAnswer {
                    f.answers
                } else {
                    0
                };
                let rdlen: usize = if f.qtype == 28 { 16 } else { 4 };
                let mut rdata: [&[u8]; 4] = [&[]; 4];
                for (i, r) in rdata.iter_mut().enumerate() {
                    *r = self.noise.get(i * 16..i * 16 + rdlen).unwrap_or_default();
                }
                let rdata = rdata.get(..usize::from(answers)).unwrap_or(&rdata);
                put_dns_message(s, f.dns_id, name_of(f.name), f.qtype, 300, rdata);
            }
            Body::Rtp => {
                let seq = f.rtp_seq.get(side).copied().unwrap_or(0);
                if let Some(x) = f.rtp_seq.get_mut(side) {
                    *x = x.wrapping_add(1);
                }
                let ssrc = f.ssrc.get(side).copied().unwrap_or(0);
                let ts = ((p.ts_us / 125) as u32).wrapping_add(ssrc);
                put_rtp_header(s, 0x6f, seq, ts, ssrc);
            }
            Body::Stun => {
                let ty: u16 = if p.from_client { 0x0001 } else { 0x0101 };
                let mut tid = [0u8; 12];
                tid[..4].copy_from_slice(&f.ssrc[0].to_be_bytes());
                tid[4..8].copy_from_slice(&f.ssrc[1].to_be_bytes());
                tid[8..].copy_from_slice(&u32::from(f.dns_id).to_be_bytes());
                put_stun_header(s, ty, p.len.saturating_sub(20), &tid);
            }
            Body::Ntp => {
                s.push(if p.from_client { 0x23 } else { 0x24 });
            }
            Body::QuicInitial => {
                s.push(0xc3);
                s.extend_from_slice(&1u32.to_be_bytes());
                s.push(8);
            }
            Body::QuicShort => s.push(0x40 | (f.ssrc[0] as u8 & 0x3f)),
        }
        // The rest is noise, from an offset that varies per packet.
        if s.len() < len {
            let off = (f.emitted as usize * 1031 + usize::from(f.cport)) % NOISE_LEN;
            let need = len - s.len();
            let src = self
                .noise
                .get(off..off + need.min(2048))
                .unwrap_or_default();
            s.extend_from_slice(src);
            s.resize(len, 0);
        }
        s.truncate(len);
    }

    fn build(&mut self, f: &mut Flow, p: &Planned, buf: &mut Vec<u8>) -> io::Result<()> {
        self.fill_body(f, p);
        let (smac, dmac, sport, dport, ttl) = if p.from_client {
            (f.cmac, f.smac, f.cport, f.sport, f.cttl)
        } else {
            (f.smac, f.cmac, f.sport, f.cport, f.sttl)
        };
        let step = PacketBuilder::ethernet2(smac, dmac);
        let step = match f.ends {
            Ends::V4 { c, s } => {
                let (a, b) = if p.from_client { (c, s) } else { (s, c) };
                step.ipv4(a, b, ttl)
            }
            Ends::V6 { c, s } => {
                let (a, b) = if p.from_client { (c, s) } else { (s, c) };
                step.ipv6(a, b, ttl)
            }
        };
        let payload = self.scratch.as_slice();
        let err = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
        if f.kind.is_tcp() {
            let me = usize::from(!p.from_client);
            let seq = f.seq.get(me).copied().unwrap_or(0);
            let ack_no = f.seq.get(1 - me).copied().unwrap_or(0);
            let mut h = TcpHeader::new(sport, dport, seq, f.window);
            h.syn = p.flags & SYN != 0;
            h.fin = p.flags & FIN != 0;
            h.rst = p.flags & RST != 0;
            h.psh = p.flags & PSH != 0;
            h.ack = p.flags & ACK != 0;
            if h.ack {
                h.acknowledgment_number = ack_no;
            }
            // Each side's timestamp clock ticks in ms from its own origin; the
            // echo is the peer's clock one round trip earlier.
            let clock = |client: bool, t: i64| {
                f.tsval_base
                    .wrapping_add((t / 1000) as u32)
                    .wrapping_add(if client { 0 } else { 0x1000_0000 })
            };
            let tsval = clock(p.from_client, p.ts_us);
            let tsecr = if p.flags == SYN {
                0
            } else {
                clock(!p.from_client, p.ts_us - f.rtt_us)
            };
            let mss = match f.ends {
                Ends::V4 { .. } => 1460u16,
                Ends::V6 { .. } => 1440,
            }
            .to_be_bytes();
            let mut opts = [0u8; 20];
            let n = match (h.syn, f.tcp_ts) {
                (true, true) => {
                    // MSS, SACK permitted, timestamps, NOP, window scale.
                    opts[..4].copy_from_slice(&[2, 4, mss[0], mss[1]]);
                    opts[4..6].copy_from_slice(&[4, 2]);
                    opts[6..8].copy_from_slice(&[8, 10]);
                    opts[8..12].copy_from_slice(&tsval.to_be_bytes());
                    opts[12..16].copy_from_slice(&tsecr.to_be_bytes());
                    opts[16..20].copy_from_slice(&[1, 3, 3, 7]);
                    20
                }
                (true, false) => {
                    opts[..12].copy_from_slice(&[2, 4, mss[0], mss[1], 1, 3, 3, 8, 1, 1, 4, 2]);
                    12
                }
                (false, true) => {
                    opts[..4].copy_from_slice(&[1, 1, 8, 10]);
                    opts[4..8].copy_from_slice(&tsval.to_be_bytes());
                    opts[8..12].copy_from_slice(&tsecr.to_be_bytes());
                    12
                }
                (false, false) => 0,
            };
            h.set_options_raw(opts.get(..n).unwrap_or_default())
                .map_err(|e| err(&e))?;
            let adv = u32::from(p.len) + u32::from(h.syn) + u32::from(h.fin);
            step.tcp_header(h)
                .write_to_vec(buf, payload)
                .map_err(|e| err(&e))?;
            if let Some(s) = f.seq.get_mut(me) {
                *s = s.wrapping_add(adv);
            }
        } else {
            step.udp(sport, dport)
                .write_to_vec(buf, payload)
                .map_err(|e| err(&e))?;
        }
        debug_assert_eq!(buf.len(), f.frame_len(p));
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use crate::*;

    #[test]
    fn frames_are_ordered_and_decodable_and_deterministic() {
        let cfg = GenConfig::new(60_000_000, 7);
        let a = generate_frames(&cfg, 50_000).unwrap();
        let b = generate_frames(&cfg, 50_000).unwrap();
        assert_eq!(a.data, b.data);
        assert_eq!(a.len(), 50_000);
        let mut last = i64::MIN;
        for (ts, f) in a.iter() {
            assert!(ts >= last);
            last = ts;
            let d = pathlens::decode::decode(pathlens::link::LinkType::Ethernet, f, f.len() as u32)
                .unwrap();
            assert!(matches!(d.proto, 6 | 17));
            assert!(f.len() <= 1514, "{}", f.len());
        }
        let s = &a.stats;
        assert!(s.flows > 1_000, "{s:?}");
        assert!(s.flows_by_kind.iter().all(|&n| n > 0), "{s:?}");
    }

    /// FNV-1a: a stable hash with no dependency.
    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// The bench inputs are cached by [`GENERATOR_VERSION`]: the same seed
    /// must keep giving the same bytes until the version is raised.
    #[test]
    fn the_same_seed_gives_the_pinned_bytes() {
        let dir = std::env::temp_dir().join(format!("pathlens-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("pin.pcap");
        let s = generate_pcap(&p, 1_000_000, 42).unwrap();
        let file = std::fs::read(&p).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let media = generate_frames(&GenConfig::media_heavy(1_000_000, 42), 5_000).unwrap();
        let mut times = Vec::new();
        for f in &media.frames {
            times.extend_from_slice(&f.ts_us.to_le_bytes());
        }
        let got = (
            s.packets,
            fnv1a(&file),
            media.len(),
            fnv1a(&media.data),
            fnv1a(&times),
        );
        let pinned = (
            2637,
            11_139_796_965_732_482_282,
            4228,
            17_571_550_537_609_599_015,
            7_711_555_297_428_166_818,
        );
        assert_eq!(got, pinned, "generated bytes changed");
    }

    #[test]
    fn pcap_file_has_the_classic_layout() {
        let dir = std::env::temp_dir().join(format!("pathlens-gen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.pcap");
        let s = generate_pcap(&p, 2_000_000, 1).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.len() as u64, s.file_bytes);
        assert_eq!(s.file_bytes, 24 + 16 * s.packets + s.bytes);
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&bytes[20..24], &[1, 0, 0, 0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
