//! Media cadence inside a VPN tunnel (`tunnel_media_suspected`): Lync and
//! Skype for Business media are not supported through DirectAccess or VPN
//! tunnels, so a tunnel whose packets look like a call is worth a note.
//!
//! The definition, from small per-direction counters (no per-packet
//! storage): a packet is *small* when its IP length is at most
//! [`SMALL_BYTES`]; the gap between consecutive small packets of one
//! direction goes into a histogram of [`GAP_EDGES_MS`]. A tunnel is
//! suspected of carrying media when, in **both** directions,
//! 1. at least [`MIN_SMALL`] packets were small (two seconds of 20 ms audio),
//! 2. at least [`SMALL_SHARE_PCT`] % of the direction's packets were small
//!    (bulk transfer sends full-size packets one way), and
//! 3. the gaps are steady: two adjacent histogram buckets inside the
//!    packetisation range (10-70 ms: 10, 20, 30, 40, 60 ms frames) hold at
//!    least [`STEADY_PCT`] % of them (interactive traffic is irregular).

/// The largest IP packet counted as small, bytes: a 20 ms G.711 frame in
/// RTP/UDP/IP inside ESP with a 16-byte IV and 16-byte ICV is about 260.
pub const SMALL_BYTES: u32 = 400;
/// Small packets each direction needs before the flag can be set.
pub const MIN_SMALL: u32 = 100;
/// Share of a direction's packets that must be small, percent.
pub const SMALL_SHARE_PCT: u32 = 80;
/// Share of gaps two adjacent media-range buckets must hold, percent.
pub const STEADY_PCT: u32 = 60;
/// Upper edges of the gap histogram's buckets, ms (the last is open).
pub const GAP_EDGES_MS: [i64; 11] = [2, 5, 10, 15, 20, 25, 30, 40, 50, 70, 100];
/// Buckets whose gaps lie in 10-70 ms: indices 3 to 9.
const MEDIA_BUCKETS: std::ops::RangeInclusive<usize> = 3..=9;
const BUCKETS: usize = GAP_EDGES_MS.len() + 1;

/// One direction's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Dir {
    packets: u32,
    small: u32,
    last_small_us: Option<i64>,
    gaps: [u32; BUCKETS],
}

impl Dir {
    fn push(&mut self, ts_us: i64, ip_len: u32) {
        self.packets = self.packets.saturating_add(1);
        if ip_len > SMALL_BYTES {
            return;
        }
        self.small = self.small.saturating_add(1);
        if let Some(last) = self.last_small_us {
            let gap_ms = ts_us.saturating_sub(last) / 1000;
            let b = GAP_EDGES_MS
                .iter()
                .position(|&e| gap_ms < e)
                .unwrap_or(BUCKETS - 1);
            if let Some(n) = self.gaps.get_mut(b) {
                *n = n.saturating_add(1);
            }
        }
        self.last_small_us = Some(ts_us);
    }

    fn media_like(&self) -> bool {
        let total: u64 = self.gaps.iter().map(|&n| u64::from(n)).sum();
        let steady = self
            .gaps
            .windows(2)
            .enumerate()
            .filter(|(i, _)| MEDIA_BUCKETS.contains(i) && MEDIA_BUCKETS.contains(&(i + 1)))
            .map(|(_, w)| w.iter().map(|&n| u64::from(n)).sum::<u64>())
            .max()
            .unwrap_or(0);
        self.small >= MIN_SMALL
            && u64::from(self.small) * 100 >= u64::from(self.packets) * u64::from(SMALL_SHARE_PCT)
            && total > 0
            && steady * 100 >= total * u64::from(STEADY_PCT)
    }
}

/// The cadence counters of one tunnel flow (src2dst, dst2src).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cadence {
    dirs: [Dir; 2],
}

impl Cadence {
    /// Counts one packet: `side` 0 for src2dst, 1 for dst2src.
    pub fn push(&mut self, side: usize, ts_us: i64, ip_len: u32) {
        if let Some(d) = self.dirs.get_mut(side) {
            d.push(ts_us, ip_len);
        }
    }

    /// Whether the tunnel looks like it carries media (module doc).
    pub fn media_suspected(&self) -> bool {
        self.dirs.iter().all(Dir::media_like)
    }
}

/// The `path_note` of a tunnel carrying media cadence.
pub const NOTE: &str =
    "media cadence inside a VPN tunnel: Lync/SfB media through VPN or DirectAccess is not recommended";

#[cfg(test)]
mod test {
    use super::*;

    /// `n` packets each way: sizes from `size`, gaps from `gap_us`.
    fn run(n: u32, size: &dyn Fn(usize, u32) -> u32, gap_us: &dyn Fn(u32) -> i64) -> Cadence {
        let mut c = Cadence::default();
        let mut t = [0i64; 2];
        for k in 0..n {
            for (side, t) in t.iter_mut().enumerate() {
                *t += gap_us(k + side as u32 * 7);
                c.push(side, *t, size(side, k));
            }
        }
        c
    }

    #[test]
    fn steady_small_packets_both_ways_are_media() {
        // 20 ms audio with ±3 ms jitter, 200 packets each way.
        let jitter = |k: u32| 20_000 + i64::from(k % 7) * 1000 - 3000;
        let c = run(200, &|_, _| 250, &jitter);
        assert!(c.media_suspected());
        // Too short: 99 packets.
        assert!(!run(99, &|_, _| 250, &jitter).media_suspected());
        // Bulk: full-size one way, ACKs back.
        let bulk = run(500, &|side, _| if side == 0 { 1450 } else { 80 }, &|_| 1000);
        assert!(!bulk.media_suspected());
        // Small but irregular (interactive): gaps spread 1 ms to 500 ms.
        let irregular = |k: u32| i64::from((k * 7919) % 500 + 1) * 1000;
        assert!(!run(300, &|_, _| 120, &irregular).media_suspected());
        // Small, steady, but too fast for media framing (1 ms gaps).
        assert!(!run(300, &|_, _| 120, &|_| 1000).media_suspected());
        // One way only.
        let mut one = Cadence::default();
        for k in 0..300 {
            one.push(0, i64::from(k) * 20_000, 200);
        }
        assert!(!one.media_suspected());
        // Video mixed in: a quarter of the packets large, still 75 % small: no.
        let mixed = run(400, &|_, k| if k % 4 == 0 { 1200 } else { 250 }, &jitter);
        assert!(!mixed.media_suspected());
    }
}
