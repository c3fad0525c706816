//! Cross-worker correlation: media endpoints that one flow's signaling
//! announces label other flows that carry no evidence of their own,
//! whichever worker owns them. What an endpoint is, and what a flow reaching
//! it becomes, is `pathlens_classify`'s to say; this table only shares the
//! announcements between workers in input order.
//!
//! The endpoints live in one `DashMap` that workers write rarely and read
//! once per candidate record. Rows must not depend on the number of workers
//! or on thread timing, so:
//! - every entry carries the input position (the packet's sequence number)
//!   where it was learned, and the earliest position wins;
//! - a record that may need correlation is held back by its worker until
//!   every worker has processed the input up to the record's last packet
//!   (each worker publishes a watermark after each batch);
//! - the lookup then accepts only entries learned at or before that packet.
//!
//! So a lookup sees exactly the endpoints learned before the record's last
//! packet, as a single-threaded run would. The bindings signaling made for an
//! endpoint (a [`SignaledBinding`], opaque here) are looked up the same way,
//! except that the latest one learned at or before the record's last packet
//! wins: a port reused by a later call, or a renegotiation, brings its own
//! binding before its media.

use foldhash::fast::FixedState;
use pathlens_classify::classifier::{CorrelationCounters, LearnedEndpoint, SignaledBinding};
use pathlens_classify::AppProtocol;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// How long before a record's first packet an endpoint may have been learned.
/// A call's media starts within seconds of its offer; an hour covers long
/// calls whose records were cut by the active timeout.
pub const LEARNED_TTL_US: i64 = 3_600_000_000;

/// Entries kept before old ones are purged.
pub const LEARNED_CAP: usize = 262_144;

#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    ts_us: i64,
    label: AppProtocol,
    // The service the announcing flow's protocol markers named.
    service: Option<Arc<str>>,
    // Bindings by input position, each differing from the one before it (a
    // repeat adds nothing a lookup could tell apart).
    bindings: Vec<Binding>,
}

/// What signaling bound for an endpoint, and where and when it was read.
#[derive(Clone, Debug)]
struct Binding {
    seq: u64,
    ts_us: i64,
    value: SignaledBinding,
}

/// Distinct bindings kept per endpoint. A lookup may need any binding
/// learned before its record, and other workers may already have learned
/// later ones, so none is evicted for a newer one: past this (hostile
/// signaling) new bindings are dropped and counted.
pub const BINDINGS_CAP: usize = 64;

/// The shared table of learned endpoints and the workers' watermarks.
#[derive(Debug)]
pub struct Correlator {
    learned: dashmap::DashMap<SocketAddr, Entry, FixedState>,
    marks: Vec<AtomicU64>,
    clocks: Vec<AtomicI64>,
    horizon_us: i64,
    learned_n: AtomicU64,
    purged: AtomicU64,
    dropped: AtomicU64,
    bindings_dropped: AtomicU64,
    // Wakes the workers waiting for every other one to finish.
    finished: (Mutex<()>, Condvar),
}

impl Correlator {
    /// A correlator for `workers` workers. `record_span_us` is the longest a
    /// record can stay open (active plus idle timeout): entries older than
    /// that plus the TTL can no longer match any record.
    pub fn new(workers: usize, record_span_us: i64) -> Self {
        let n = workers.max(1);
        Correlator {
            learned: dashmap::DashMap::with_hasher(FixedState::with_seed(0xc0_44e1)),
            marks: (0..n).map(|_| AtomicU64::new(0)).collect(),
            clocks: (0..n).map(|_| AtomicI64::new(i64::MIN)).collect(),
            horizon_us: LEARNED_TTL_US.saturating_add(record_span_us.max(0)),
            learned_n: AtomicU64::new(0),
            purged: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            bindings_dropped: AtomicU64::new(0),
            finished: (Mutex::new(()), Condvar::new()),
        }
    }

    /// Records endpoints announced by the packet at input position `seq`.
    pub fn learn(&self, seq: u64, ts_us: i64, endpoints: &[LearnedEndpoint]) {
        self.learned_n
            .fetch_add(endpoints.len() as u64, Ordering::Relaxed);
        if self.learned.len() >= LEARNED_CAP {
            self.purge();
        }
        for e in endpoints {
            if self.learned.len() >= LEARNED_CAP && !self.learned.contains_key(&e.addr) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let binding = e.binding.clone().map(|value| Binding { seq, ts_us, value });
            let mut entry = self.learned.entry(e.addr).or_insert(Entry {
                seq,
                ts_us,
                label: e.label,
                service: e.service.clone(),
                bindings: Vec::new(),
            });
            if seq < entry.seq {
                entry.seq = seq;
                entry.ts_us = ts_us;
                entry.label = e.label;
                entry.service = e.service.clone();
            }
            if let Some(b) = binding {
                self.insert_binding(&mut entry.bindings, b);
            }
        }
    }

    /// Keeps `b` in its place by input position, unless the binding before
    /// it already says the same.
    fn insert_binding(&self, list: &mut Vec<Binding>, b: Binding) {
        let at = list.partition_point(|x| x.seq < b.seq);
        let before_same = at
            .checked_sub(1)
            .and_then(|i| list.get(i))
            .is_some_and(|x| x.value == b.value);
        let at_same_seq = list.get(at).is_some_and(|x| x.seq == b.seq);
        if before_same || at_same_seq {
            return;
        }
        if list.len() >= BINDINGS_CAP {
            self.bindings_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // The next one, if equal, is now covered by this one.
        if list.get(at).is_some_and(|x| x.value == b.value) {
            list.remove(at);
        }
        list.insert(at, b);
    }

    /// Forgets entries too old to match any record still to be resolved.
    fn purge(&self) {
        let oldest_clock = self
            .clocks
            .iter()
            .map(|c| c.load(Ordering::Acquire))
            .min()
            .unwrap_or(i64::MIN);
        let cutoff = oldest_clock.saturating_sub(self.horizon_us);
        let before = self.learned.len();
        self.learned.retain(|_, e| {
            e.bindings.retain(|b| b.ts_us >= cutoff);
            e.ts_us >= cutoff || !e.bindings.is_empty()
        });
        let gone = before.saturating_sub(self.learned.len());
        self.purged.fetch_add(gone as u64, Ordering::Relaxed);
    }

    /// Worker `w` has processed every packet up to input position `upto`,
    /// whose capture time is at most `now_us`.
    pub fn publish(&self, w: usize, upto: u64, now_us: i64) {
        if let Some(c) = self.clocks.get(w) {
            c.fetch_max(now_us, Ordering::AcqRel);
        }
        if let Some(m) = self.marks.get(w) {
            m.fetch_max(upto, Ordering::AcqRel);
        }
    }

    /// Worker `w` will process no more packets.
    pub fn finish(&self, w: usize) {
        self.publish(w, u64::MAX, i64::MAX);
        // Taking the lock orders this with a waiter's check, so none misses it.
        let _g = self
            .finished
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.finished.1.notify_all();
    }

    /// Blocks until every worker has finished.
    pub fn wait_all_finished(&self) {
        let (lock, cv) = &self.finished;
        let mut g = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !self.all_finished() {
            g = cv.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The input position every worker has processed.
    pub fn watermark(&self) -> u64 {
        self.marks
            .iter()
            .map(|m| m.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }

    /// Whether every worker has finished.
    pub fn all_finished(&self) -> bool {
        self.watermark() == u64::MAX
    }

    /// The label of an endpoint learned at or before input position
    /// `last_seq` and not long before `first_us`.
    pub fn lookup(&self, addr: SocketAddr, last_seq: u64, first_us: i64) -> Option<AppProtocol> {
        self.lookup_learned(addr, last_seq, first_us)
            .map(|(l, _)| l)
    }

    /// The label of such an endpoint, and the service its announcing flow
    /// named.
    pub fn lookup_learned(
        &self,
        addr: SocketAddr,
        last_seq: u64,
        first_us: i64,
    ) -> Option<(AppProtocol, Option<Arc<str>>)> {
        let e = self.learned.get(&addr)?;
        (e.seq <= last_seq && e.ts_us >= first_us.saturating_sub(LEARNED_TTL_US))
            .then(|| (e.label, e.service.clone()))
    }

    /// What the latest signaling announcing `addr` learned at or before
    /// input position `last_seq`, and not long before `first_us`, bound for
    /// it.
    pub fn lookup_binding(
        &self,
        addr: SocketAddr,
        last_seq: u64,
        first_us: i64,
    ) -> Option<SignaledBinding> {
        let e = self.learned.get(&addr)?;
        let b = e.bindings.iter().rev().find(|b| b.seq <= last_seq)?;
        (b.ts_us >= first_us.saturating_sub(LEARNED_TTL_US)).then(|| b.value.clone())
    }

    /// The run's correlation counters.
    pub fn counters(&self) -> CorrelationCounters {
        CorrelationCounters {
            endpoints_learned: self.learned_n.load(Ordering::Relaxed),
            endpoints_purged: self.purged.load(Ordering::Relaxed),
            endpoints_dropped: self.dropped.load(Ordering::Relaxed),
            bindings_dropped: self.bindings_dropped.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use pathlens_classify::media::RtpMap;

    fn ep(s: &str, label: AppProtocol) -> LearnedEndpoint {
        LearnedEndpoint {
            addr: s.parse().unwrap(),
            label,
            binding: None,
            service: None,
        }
    }

    #[test]
    fn earliest_learning_wins_whatever_the_order() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        for order in [[5u64, 9], [9, 5]] {
            let c = Correlator::new(2, 0);
            for seq in order {
                let label = if seq == 5 {
                    AppProtocol::Rtp
                } else {
                    AppProtocol::Srtp
                };
                c.learn(seq, 1_000, &[ep("10.0.0.1:40000", label)]);
            }
            assert_eq!(c.lookup(a, 4, 1_000), None, "learned after the record");
            assert_eq!(c.lookup(a, 5, 1_000), Some(AppProtocol::Rtp));
            assert_eq!(c.lookup(a, 100, 1_000), Some(AppProtocol::Rtp));
        }
    }

    #[test]
    fn the_service_is_the_earliest_announcement_s() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        for order in [[5u64, 9], [9, 5]] {
            let c = Correlator::new(2, 0);
            for seq in order {
                let service = (seq == 5).then(|| Arc::from("skype_teams"));
                let e = LearnedEndpoint {
                    service,
                    ..ep("10.0.0.1:40000", AppProtocol::Srtp)
                };
                c.learn(seq, 1_000, &[e]);
            }
            assert_eq!(
                c.lookup_learned(a, 100, 1_000),
                Some((AppProtocol::Srtp, Some(Arc::from("skype_teams"))))
            );
        }
    }

    fn sdp(s: &str, clock: u32) -> LearnedEndpoint {
        LearnedEndpoint {
            binding: SignaledBinding::new(&[RtpMap {
                pt: 111,
                codec: Arc::from("opus"),
                clock_rate: clock,
            }]),
            ..ep(s, AppProtocol::Rtp)
        }
    }

    #[test]
    fn the_latest_binding_before_the_record_wins_whatever_the_order() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let hour = 3_600_000_000;
        // A STUN check first, then two calls' SDP on the same port.
        let learns = [
            (2u64, 0i64, ep("10.0.0.1:40000", AppProtocol::Srtp)),
            (10, 2 * hour, sdp("10.0.0.1:40000", 48000)),
            (20, 3 * hour, sdp("10.0.0.1:40000", 16000)),
        ];
        for order in [[0usize, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let c = Correlator::new(2, 0);
            for i in order {
                let (seq, ts, e) = &learns[i];
                c.learn(*seq, *ts, std::slice::from_ref(e));
            }
            let clock = |last, first| {
                c.lookup_binding(a, last, first)
                    .and_then(|b| b.payload_type(111))
                    .map(|m| m.clock_rate)
            };
            assert_eq!(clock(9, 2 * hour), None, "before any SDP");
            // The TTL counts from the binding, not from the STUN check.
            assert_eq!(clock(15, 2 * hour + 60), Some(48000));
            assert_eq!(
                clock(25, 3 * hour + 60),
                Some(16000),
                "a later call on the port"
            );
            assert_eq!(
                c.lookup_binding(a, 25, 3 * hour)
                    .and_then(|b| b.payload_type(0)),
                None,
                "an unbound type"
            );
            assert_eq!(
                c.lookup(a, 25, 0),
                Some(AppProtocol::Srtp),
                "labels: earliest"
            );
        }
    }

    #[test]
    fn later_bindings_never_hide_an_earlier_one() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let c = Correlator::new(2, 0);
        c.learn(10, 0, &[sdp("10.0.0.1:40000", 48000)]);
        // Retransmissions and re-offers learned by faster workers before the
        // record ending at position 50 is resolved.
        for seq in 60..80u64 {
            let clock = if seq % 2 == 0 { 16000 } else { 48000 };
            c.learn(seq, 1, &[sdp("10.0.0.1:40000", clock)]);
        }
        let clock = |last| {
            c.lookup_binding(a, last, 0)
                .and_then(|b| b.payload_type(111))
                .map(|m| m.clock_rate)
        };
        assert_eq!(clock(50), Some(48000));
        assert_eq!(clock(60), Some(16000));
        assert_eq!(clock(61), Some(48000));
        // Repeats of the same SDP add nothing.
        for seq in 100..200u64 {
            c.learn(seq, 2, &[sdp("10.0.0.1:40000", 8000)]);
        }
        assert_eq!(clock(150), Some(8000));
        assert_eq!(c.counters().bindings_dropped, 0);
        // Hostile churn past the cap is counted, and never evicts.
        for seq in 1000..1100u64 {
            c.learn(seq, 3, &[sdp("10.0.0.1:40000", 8000 + seq as u32)]);
        }
        assert!(c.counters().bindings_dropped > 0);
        assert_eq!(clock(50), Some(48000));
    }

    #[test]
    fn too_old_an_endpoint_does_not_match() {
        let c = Correlator::new(1, 0);
        c.learn(1, 0, &[ep("[2001:db8::1]:5004", AppProtocol::Rtp)]);
        let a = "[2001:db8::1]:5004".parse().unwrap();
        assert_eq!(c.lookup(a, 2, LEARNED_TTL_US), Some(AppProtocol::Rtp));
        assert_eq!(c.lookup(a, 2, LEARNED_TTL_US + 1), None);
    }

    #[test]
    fn watermark_is_the_slowest_worker() {
        let c = Correlator::new(3, 0);
        c.publish(0, 100, 1);
        c.publish(1, 50, 1);
        assert_eq!(c.watermark(), 0, "worker 2 has published nothing");
        c.publish(2, 70, 1);
        assert_eq!(c.watermark(), 50);
        c.publish(1, 40, 1);
        assert_eq!(c.watermark(), 50, "a watermark never goes back");
        for w in 0..3 {
            c.finish(w);
        }
        assert!(c.all_finished());
    }

    #[test]
    fn a_full_table_purges_old_entries_then_drops_and_counts() {
        let c = Correlator::new(1, 0);
        c.publish(0, 0, 0);
        // Fill with entries learned at time 0.
        let mut batch = Vec::new();
        for i in 0..LEARNED_CAP as u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            batch.push(LearnedEndpoint {
                addr: SocketAddr::new(ip.into(), 5004),
                label: AppProtocol::Rtp,
                binding: None,
                service: None,
            });
        }
        c.learn(1, 0, &batch);
        assert_eq!(c.counters().endpoints_dropped, 0);
        // Still recent: nothing can be purged, so a new endpoint is dropped.
        c.learn(2, 10, &[ep("192.0.2.1:1", AppProtocol::Rtp)]);
        assert_eq!(c.counters().endpoints_dropped, 1);
        // Time moves past the horizon: the old ones go, the new one fits.
        c.publish(0, 3, LEARNED_TTL_US + 20);
        c.learn(
            3,
            LEARNED_TTL_US + 20,
            &[ep("192.0.2.2:1", AppProtocol::Rtp)],
        );
        let k = c.counters();
        assert_eq!(k.endpoints_purged, LEARNED_CAP as u64);
        assert_eq!(k.endpoints_learned, LEARNED_CAP as u64 + 2);
        assert_eq!(
            c.lookup("192.0.2.2:1".parse().unwrap(), 3, LEARNED_TTL_US + 20),
            Some(AppProtocol::Rtp)
        );
    }
}
