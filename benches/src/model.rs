//! The traffic model: what each kind of flow is made of (ends, ports,
//! round-trip time, sizes) and the packets it sends next, planned a few at a
//! time with their times, flags and payload kinds.

use crate::frame::{ACK, FIN, PSH, RST, SYN};
use crate::payload::PADDED_HELLO_LEN;
use crate::FlowKind;
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::VecDeque;

pub(crate) const GATEWAY_MAC: [u8; 6] = [0x00, 0x1b, 0x54, 0xc2, 0x10, 0x01];
pub(crate) const NOISE_LEN: usize = 1 << 16;

pub(crate) const NAMES: &[&str] = &[
    "teams.microsoft.com",
    "outlook.office365.com",
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "www.office.com",
    "substrate.office.com",
    "statics.teams.cdn.office.net",
    "contoso.sharepoint.com",
    "contoso-my.sharepoint.com",
    "onedrive.live.com",
    "api.flightproxy.teams.microsoft.com",
    "config.teams.microsoft.com",
    "presence.teams.microsoft.com",
    "www.bing.com",
    "update.googleapis.com",
    "www.google.com",
    "github.com",
    "objects.githubusercontent.com",
    "cdn.jsdelivr.net",
    "slack.com",
    "zoom.us",
    "s3.amazonaws.com",
    "www.example.com",
    "ocsp.digicert.com",
];

/// Remote IPv4 /16s (Microsoft 365, Teams, CDNs, cloud).
pub(crate) const REMOTE_V4: &[[u8; 2]] = &[
    [52, 112],
    [52, 113],
    [52, 114],
    [13, 107],
    [20, 190],
    [40, 126],
    [52, 96],
    [52, 97],
    [104, 18],
    [142, 250],
    [151, 101],
    [23, 45],
    [17, 253],
    [185, 199],
    [3, 5],
    [34, 107],
];

/// Remote IPv6 /32s.
pub(crate) const REMOTE_V6: &[[u8; 4]] = &[
    [0x26, 0x03, 0x10, 0x63],
    [0x26, 0x03, 0x10, 0x36],
    [0x26, 0x20, 0x01, 0xec],
    [0x2a, 0x00, 0x14, 0x50],
    [0x26, 0x06, 0x47, 0x00],
    [0x2a, 0x01, 0x01, 0x11],
];

pub(crate) const LOCAL_CLIENTS: u32 = 4_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ends {
    V4 { c: [u8; 4], s: [u8; 4] },
    V6 { c: [u8; 16], s: [u8; 16] },
}

impl Ends {
    pub(crate) fn ip_header_len(self) -> usize {
        match self {
            Ends::V4 { .. } => 20,
            Ends::V6 { .. } => 40,
        }
    }
}

/// What a planned packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    Random,
    TlsHello,
    HttpGet,
    DnsQuery,
    DnsAnswer,
    Rtp,
    Stun,
    Ntp,
    QuicInitial,
    QuicShort,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Planned {
    pub(crate) ts_us: i64,
    pub(crate) from_client: bool,
    pub(crate) flags: u8,
    pub(crate) len: u16,
    pub(crate) body: Body,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Start,
    Request,
    Response,
    Close,
    Done,
}

#[derive(Debug)]
pub(crate) struct Flow {
    pub(crate) kind: FlowKind,
    pub(crate) ends: Ends,
    pub(crate) cport: u16,
    pub(crate) sport: u16,
    pub(crate) cmac: [u8; 6],
    pub(crate) smac: [u8; 6],
    pub(crate) cttl: u8,
    pub(crate) sttl: u8,
    pub(crate) tcp_ts: bool,
    pub(crate) window: u16,
    pub(crate) seq: [u32; 2],
    pub(crate) tsval_base: u32,
    pub(crate) rtt_us: i64,
    /// Time between back-to-back segments of a burst.
    pub(crate) seg_gap_us: i64,
    /// Planning clock: no packet is planned before it.
    pub(crate) clock: i64,
    pub(crate) pending: VecDeque<Planned>,
    pub(crate) phase: Phase,
    pub(crate) exchanges_left: u32,
    /// Bytes left in the current response, and who sends them.
    pub(crate) resp_left: u64,
    pub(crate) resp_from_client: bool,
    pub(crate) cwnd: u32,
    pub(crate) bulk_bytes: u64,
    pub(crate) name: u8,
    pub(crate) qtype: u16,
    pub(crate) dns_id: u16,
    pub(crate) answers: u8,
    /// Media: next packet time of each direction, and the end.
    pub(crate) media_next: [i64; 2],
    pub(crate) media_end: i64,
    pub(crate) rtp_seq: [u16; 2],
    pub(crate) ssrc: [u32; 2],
    pub(crate) first_request: bool,
    pub(crate) emitted: u64,
}

/// Standard normal deviate (Box-Muller).
pub(crate) fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal deviate with the given median, clipped to `[lo, hi]`.
pub(crate) fn lognormal(rng: &mut StdRng, median: f64, sigma: f64, lo: f64, hi: f64) -> f64 {
    (median * (sigma * normal(rng)).exp()).clamp(lo, hi)
}

/// Payload bytes of a small application message: mostly tiny, with the
/// 536-byte segments of 576-byte IP packets and mid-size ones mixed in.
pub(crate) fn small_payload(rng: &mut StdRng) -> u16 {
    match rng.random_range(0..100u32) {
        0..=49 => rng.random_range(20..300),
        50..=69 => 536,
        _ => rng.random_range(600..1400),
    }
}

pub(crate) fn dns_name_len(name: &str) -> usize {
    // Labels with their length bytes, plus the root label.
    name.len() + 2
}

pub(crate) fn dns_query_len(name: &str) -> u16 {
    u16::try_from(12 + dns_name_len(name) + 4).unwrap_or(u16::MAX)
}

pub(crate) fn dns_answer_len(name: &str, qtype: u16, answers: u8) -> u16 {
    let rdata = if qtype == 28 { 16 } else { 4 };
    let per = 2 + 2 + 2 + 4 + 2 + rdata;
    u16::try_from(12 + dns_name_len(name) + 4 + usize::from(answers) * per).unwrap_or(u16::MAX)
}

pub(crate) const STUN_LEN: u16 = 96;
pub(crate) const NTP_LEN: u16 = 48;

pub(crate) fn name_of(i: u8) -> &'static str {
    NAMES.get(usize::from(i)).copied().unwrap_or("example.com")
}

impl Flow {
    pub(crate) fn mss(&self) -> u64 {
        let base: u64 = match self.ends {
            Ends::V4 { .. } => 1460,
            Ends::V6 { .. } => 1440,
        };
        if self.tcp_ts {
            base - 12
        } else {
            base
        }
    }

    pub(crate) fn tcp_options_len(&self, flags: u8) -> usize {
        match (flags & SYN != 0, self.tcp_ts) {
            (true, true) => 20,
            (true, false) => 12,
            (false, true) => 12,
            (false, false) => 0,
        }
    }

    /// Frame length of a planned packet.
    pub(crate) fn frame_len(&self, p: &Planned) -> usize {
        let l4 = if self.kind.is_tcp() {
            20 + self.tcp_options_len(p.flags)
        } else {
            8
        };
        14 + self.ends.ip_header_len() + l4 + usize::from(p.len)
    }

    pub(crate) fn push(&mut self, ts_us: i64, from_client: bool, flags: u8, len: u16, body: Body) {
        self.pending.push_back(Planned {
            ts_us,
            from_client,
            flags,
            len,
            body,
        });
    }

    /// Sorts the chunk just planned by time and moves the clock past it.
    pub(crate) fn seal(&mut self) {
        self.pending
            .make_contiguous()
            .sort_by_key(|p| (p.ts_us, !p.from_client));
        if let Some(last) = self.pending.back() {
            self.clock = self.clock.max(last.ts_us + 1);
        }
    }

    /// Plans the next few packets; leaves `pending` empty when the flow ends.
    pub(crate) fn refill(&mut self, rng: &mut StdRng) {
        match self.kind {
            FlowKind::Dns => self.refill_dns(rng),
            FlowKind::Ntp => self.refill_ntp(rng),
            FlowKind::Quic => self.refill_quic(rng),
            FlowKind::Media => self.refill_media(rng),
            FlowKind::Web | FlowKind::Chatty | FlowKind::Bulk => self.refill_tcp(rng),
        }
    }

    pub(crate) fn refill_dns(&mut self, rng: &mut StdRng) {
        if self.phase != Phase::Start {
            return;
        }
        self.phase = Phase::Done;
        let name = name_of(self.name);
        let t = self.clock;
        self.push(t, true, 0, dns_query_len(name), Body::DnsQuery);
        // 3 % of queries go unanswered.
        if rng.random_range(0..100u32) >= 3 {
            let len = dns_answer_len(name, self.qtype, self.answers);
            self.push(t + self.rtt_us, false, 0, len, Body::DnsAnswer);
        }
        self.seal();
    }

    pub(crate) fn refill_ntp(&mut self, _rng: &mut StdRng) {
        if self.phase != Phase::Start {
            return;
        }
        self.phase = Phase::Done;
        let t = self.clock;
        self.push(t, true, 0, NTP_LEN, Body::Ntp);
        self.push(t + self.rtt_us, false, 0, NTP_LEN, Body::Ntp);
        self.seal();
    }

    pub(crate) fn refill_quic(&mut self, rng: &mut StdRng) {
        match self.phase {
            Phase::Start => {
                let t = self.clock;
                let rtt = self.rtt_us;
                self.push(t, true, 0, 1252, Body::QuicInitial);
                for i in 0..2 {
                    self.push(
                        t + rtt + i * self.seg_gap_us,
                        false,
                        0,
                        1252,
                        Body::QuicInitial,
                    );
                }
                self.push(
                    t + rtt + 2 * self.seg_gap_us + 50,
                    true,
                    0,
                    90,
                    Body::QuicShort,
                );
                self.resp_left = lognormal(rng, 3_000.0, 1.0, 500.0, 400_000.0) as u64;
                self.phase = Phase::Response;
                self.clock = t + 2 * rtt;
                self.seal();
            }
            Phase::Response => {
                if self.resp_left == 0 {
                    self.phase = Phase::Done;
                    return;
                }
                // One burst of server packets, client ACKs every third.
                let start = self.clock;
                let n = self.cwnd.max(1);
                let mut t = start;
                for i in 0..n {
                    if self.resp_left == 0 {
                        break;
                    }
                    let len = self.resp_left.min(rng.random_range(1150..1350));
                    self.resp_left -= len;
                    self.push(t, false, 0, len as u16, Body::QuicShort);
                    if i % 3 == 2 || self.resp_left == 0 {
                        let a = rng.random_range(30..60);
                        self.push(t + 40, true, 0, a, Body::QuicShort);
                    }
                    t += self.seg_gap_us;
                }
                self.cwnd = (self.cwnd * 2).min(64);
                self.seal();
                self.clock = self.clock.max(start + self.rtt_us);
            }
            _ => {}
        }
    }

    pub(crate) fn refill_media(&mut self, rng: &mut StdRng) {
        match self.phase {
            Phase::Start => {
                let t = self.clock;
                self.push(t, true, 0, STUN_LEN, Body::Stun);
                self.push(t + self.rtt_us, false, 0, STUN_LEN, Body::Stun);
                let first = t + self.rtt_us + 5_000;
                // The remote stream reaches the capture point one one-way delay later.
                self.media_next = [first, first + self.rtt_us / 2 + rng.random_range(0..4_000)];
                self.phase = Phase::Response;
                self.seal();
            }
            Phase::Response => {
                let side = usize::from(self.media_next[1] < self.media_next[0]);
                let t = self.media_next[side];
                if t >= self.media_end {
                    self.phase = Phase::Done;
                    return;
                }
                let len = rng.random_range(150..186);
                self.push(t, side == 0, 0, len, Body::Rtp);
                // 20 ms pacing; the network adds up to 3 ms of jitter to the
                // remote stream, the sender's clock up to 0.2 ms to ours.
                let jitter = if side == 0 {
                    rng.random_range(0..200)
                } else {
                    rng.random_range(0..3_000)
                };
                let base = t - (t % 20_000) + 20_000;
                self.media_next[side] = (base + jitter).max(t + 1);
                self.seal();
            }
            _ => {}
        }
    }

    pub(crate) fn refill_tcp(&mut self, rng: &mut StdRng) {
        loop {
            match self.phase {
                Phase::Start => {
                    let t = self.clock;
                    self.push(t, true, SYN, 0, Body::Random);
                    self.push(t + self.rtt_us, false, SYN | ACK, 0, Body::Random);
                    let ack_at = t + self.rtt_us + rng.random_range(20..90);
                    self.push(ack_at, true, ACK, 0, Body::Random);
                    self.phase = Phase::Request;
                    self.seal();
                    return;
                }
                Phase::Request => {
                    if self.exchanges_left == 0 {
                        self.phase = Phase::Close;
                        continue;
                    }
                    let first = std::mem::take(&mut self.first_request);
                    self.exchanges_left -= 1;
                    let (req, body) = if first && self.sport == 443 {
                        (u64::from(PADDED_HELLO_LEN), Body::TlsHello)
                    } else if first && self.sport == 80 {
                        (rng.random_range(220..700), Body::HttpGet)
                    } else {
                        (u64::from(small_payload(rng)), Body::Random)
                    };
                    let (resp, upload) = match self.kind {
                        FlowKind::Bulk => (self.bulk_bytes, rng.random_range(0..100u32) < 20),
                        FlowKind::Chatty => (u64::from(small_payload(rng)), false),
                        _ => (lognormal(rng, 1_200.0, 1.0, 150.0, 150_000.0) as u64, false),
                    };
                    let gap = if first {
                        rng.random_range(100..3_000)
                    } else {
                        match self.kind {
                            FlowKind::Chatty => rng.random_range(20_000..1_500_000),
                            _ => rng.random_range(1_000..400_000),
                        }
                    };
                    let t = self.clock + gap;
                    let last = self.plan_segments(t, true, req, body);
                    // The server acknowledges a request it answers at once only
                    // through its response; a large request gets a pure ACK.
                    if req > self.mss() {
                        self.push(last + self.rtt_us, false, ACK, 0, Body::Random);
                    }
                    let think = match self.kind {
                        FlowKind::Chatty => rng.random_range(500..20_000),
                        _ => rng.random_range(1_000..60_000),
                    };
                    self.seal();
                    self.clock = self.clock.max(last + self.rtt_us + think);
                    self.resp_left = resp;
                    self.resp_from_client = upload;
                    self.cwnd = 10;
                    self.phase = Phase::Response;
                    return;
                }
                Phase::Response => {
                    if self.resp_left == 0 {
                        self.phase = Phase::Request;
                        continue;
                    }
                    self.plan_burst(rng);
                    return;
                }
                Phase::Close => {
                    let idle = if rng.random_range(0..100u32) < 80 {
                        rng.random_range(200..50_000)
                    } else {
                        rng.random_range(50_000..5_000_000)
                    };
                    let t = self.clock + idle;
                    let roll = rng.random_range(0..100u32);
                    if roll < 3 {
                        self.push(t, true, RST | ACK, 0, Body::Random);
                    } else {
                        // Either side may close first.
                        let closer = roll < 70;
                        self.push(t, closer, FIN | ACK, 0, Body::Random);
                        let t2 = t + if closer { self.rtt_us } else { 150 };
                        self.push(t2, !closer, FIN | ACK, 0, Body::Random);
                        let t3 = t2 + if closer { 60 } else { self.rtt_us };
                        self.push(t3, closer, ACK, 0, Body::Random);
                    }
                    self.phase = Phase::Done;
                    self.seal();
                    return;
                }
                Phase::Done => return,
            }
        }
    }

    /// Plans `bytes` of data from one side as back-to-back segments starting
    /// at `t`; returns the time of the last one.
    pub(crate) fn plan_segments(
        &mut self,
        t: i64,
        from_client: bool,
        bytes: u64,
        first_body: Body,
    ) -> i64 {
        let mss = self.mss();
        let mut left = bytes.max(1);
        let mut at = t;
        let mut body = first_body;
        loop {
            let len = left.min(mss);
            left -= len;
            let flags = if left == 0 { ACK | PSH } else { ACK };
            self.push(at, from_client, flags, len as u16, body);
            body = Body::Random;
            if left == 0 {
                return at;
            }
            at += self.seg_gap_us;
        }
    }

    /// One slow-start burst of the current response, with the receiver's
    /// delayed ACKs (one per two segments, and one after the last).
    pub(crate) fn plan_burst(&mut self, rng: &mut StdRng) {
        let mss = self.mss();
        let data_from_client = self.resp_from_client;
        let start = self.clock;
        let mut t = start;
        // Receiver near the capture point: ACKs follow closely; far: one RTT.
        let ack_delay = if data_from_client {
            self.rtt_us
        } else {
            rng.random_range(15..80)
        };
        let mut unacked = 0;
        for _ in 0..self.cwnd {
            if self.resp_left == 0 {
                break;
            }
            let len = self.resp_left.min(mss);
            self.resp_left -= len;
            let flags = if self.resp_left == 0 { ACK | PSH } else { ACK };
            self.push(t, data_from_client, flags, len as u16, Body::Random);
            unacked += 1;
            if unacked == 2 || self.resp_left == 0 {
                self.push(t + ack_delay, !data_from_client, ACK, 0, Body::Random);
                unacked = 0;
            }
            t += self.seg_gap_us;
        }
        if unacked > 0 {
            self.push(
                t - self.seg_gap_us + ack_delay,
                !data_from_client,
                ACK,
                0,
                Body::Random,
            );
        }
        let max_cwnd = if self.kind == FlowKind::Bulk { 128 } else { 64 };
        self.cwnd = (self.cwnd * 2).min(max_cwnd);
        self.seal();
        if !data_from_client {
            // The next burst leaves the server once the first ACKs arrive.
            self.clock = self.clock.max(start + self.rtt_us);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::payload::*;

    #[test]
    fn tls_hello_is_517_bytes_with_sni() {
        let mut s = Vec::new();
        put_padded_client_hello(&mut s, "teams.microsoft.com", &[7; 64]);
        assert_eq!(s.len(), usize::from(PADDED_HELLO_LEN));
        let pos = s.windows(19).position(|w| w == b"teams.microsoft.com");
        assert!(pos.is_some());
    }

    #[test]
    fn dns_lengths_match_the_plan() {
        for (q, a) in [(1u16, 0u8), (1, 3), (28, 2)] {
            let rdata = [1u8; 16];
            let answers = vec![&rdata[..if q == 28 { 16 } else { 4 }]; usize::from(a)];
            let s = dns_message(1, "www.office.com", q, 300, &answers);
            let want = if a == 0 {
                dns_query_len("www.office.com")
            } else {
                dns_answer_len("www.office.com", q, a)
            };
            assert_eq!(s.len(), usize::from(want));
        }
    }
}
