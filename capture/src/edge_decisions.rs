//! The workers' shared decisions on learned edges, one per interval of
//! each input.
//!
//! Each worker counts, per next hop, the flows that start crossing it, and
//! publishes its counts at the end of every interval the reader marks (the
//! first `edge_warmup_us` of packet time, then every `edge_warmup_us`, and
//! the end of the input). Once every worker has published interval k of an
//! input and decision k-1 exists, the merged counts update it into decision
//! k (see `pathlens_classify::egress::infer`). Intervals are cut at packet
//! positions of the input, so the counts, the decisions and the rows are the
//! same for any number of workers. An edge decided again (a failover) is
//! logged and counted.

use pathlens_classify::egress::{EdgeRules, LearnedEdges, Tallies};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

#[derive(Default)]
struct Round {
    tallies: Tallies,
    published: Vec<bool>,
    result: Option<Arc<LearnedEdges>>,
}

struct State {
    // Per input, per interval.
    gens: Vec<Vec<Round>>,
    finished: Vec<bool>,
}

/// The learned edges per input and interval, shared by the workers.
pub struct EdgeDecisions {
    n: usize,
    rules: EdgeRules,
    state: Mutex<State>,
    // Wakes the workers waiting for every other one to finish.
    finished: Condvar,
    redecided: AtomicU64,
}

impl EdgeDecisions {
    /// Decisions for `n` workers under `rules`.
    pub fn new(n: usize, rules: EdgeRules) -> Self {
        EdgeDecisions {
            n,
            rules,
            state: Mutex::new(State {
                gens: Vec::new(),
                finished: vec![false; n],
            }),
            finished: Condvar::new(),
            redecided: AtomicU64::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s)
    }

    fn round(n: usize, s: &mut State, gen: usize, interval: usize) {
        while s.gens.len() <= gen {
            s.gens.push(Vec::new());
        }
        if let Some(g) = s.gens.get_mut(gen) {
            while g.len() <= interval {
                g.push(Round {
                    published: vec![false; n],
                    ..Round::default()
                });
            }
        }
    }

    /// Decides every interval of input `gen` that can be.
    fn settle(&self, s: &mut State, gen: usize) {
        let finished = s.finished.clone();
        let Some(g) = s.gens.get_mut(gen) else {
            return;
        };
        let mut prev: Option<Arc<LearnedEdges>> = None;
        for (k, r) in g.iter_mut().enumerate() {
            for (p, f) in r.published.iter_mut().zip(&finished) {
                *p |= *f;
            }
            if r.result.is_none() {
                if !r.published.iter().all(|p| *p) || (k > 0 && prev.is_none()) {
                    return;
                }
                let d = LearnedEdges::next(prev.as_deref(), k, &r.tallies, self.rules);
                for (_, l) in d.iter() {
                    if l.redecided.is_some() {
                        self.redecided.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(edge = %l.edge.name, "{}", l.evidence_note());
                    }
                }
                r.result = Some(Arc::new(d));
            }
            prev = r.result.clone();
        }
    }

    /// Worker `w`'s counts for interval `interval` of input `gen`.
    pub fn publish(&self, gen: usize, interval: usize, w: usize, tallies: &Tallies) {
        self.with(|s| {
            Self::round(self.n, s, gen, interval);
            if let Some(r) = s.gens.get_mut(gen).and_then(|g| g.get_mut(interval)) {
                if r.published.get(w).is_some_and(|p| !p) {
                    for (hop, t) in tallies {
                        r.tallies.entry(*hop).or_default().merge(t);
                    }
                    if let Some(p) = r.published.get_mut(w) {
                        *p = true;
                    }
                }
            }
            self.settle(s, gen);
        });
    }

    /// Decision `interval` of input `gen`, once made.
    pub fn get(&self, gen: usize, interval: usize) -> Option<Arc<LearnedEdges>> {
        self.with(|s| {
            s.gens
                .get(gen)
                .and_then(|g| g.get(interval))
                .and_then(|r| r.result.clone())
        })
    }

    /// Edges decided again so far (failovers).
    pub fn redecided(&self) -> u64 {
        self.redecided.load(Ordering::Relaxed)
    }

    /// Worker `w` publishes nothing more (it ended, or stopped).
    pub fn finish(&self, w: usize) {
        self.with(|s| {
            if let Some(f) = s.finished.get_mut(w) {
                *f = true;
            }
            for gen in 0..s.gens.len() {
                self.settle(s, gen);
            }
        });
        self.finished.notify_all();
    }

    /// Blocks until every worker has finished.
    pub fn wait_all_finished(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !s.finished.iter().all(|f| *f) {
            s = self
                .finished
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Whether every worker has finished.
    pub fn all_finished(&self) -> bool {
        self.with(|s| s.finished.iter().all(|f| *f))
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use pathlens_classify::egress::{Egress, NextHop, Tally};

    #[test]
    fn decides_each_interval_once_every_worker_published() {
        let l = EdgeDecisions::new(2, EdgeRules::default());
        let hop = NextHop {
            mac: [2, 0, 0, 0, 0, 1],
            vlan: 0,
        };
        let t = |a, o| {
            Tallies::from([(
                hop,
                Tally {
                    advertised: a,
                    other: o,
                    unjudged: 0,
                },
            )])
        };
        l.publish(0, 0, 0, &t(2, 0));
        assert!(l.get(0, 0).is_none());
        l.publish(0, 0, 0, &t(9, 9));
        assert!(l.get(0, 0).is_none(), "a second publish is ignored");
        // Interval 1 complete before interval 0: waits for it.
        l.publish(0, 1, 0, &t(0, 3));
        l.publish(0, 1, 1, &t(0, 0));
        assert!(l.get(0, 1).is_none());
        l.publish(0, 0, 1, &t(1, 0));
        let e = l.get(0, 0).unwrap();
        assert_eq!(e.get(&hop).unwrap().edge.path, Egress::ExpressRoute);
        // Interval 1 alone says Internet on 3 flows: decided again, counted.
        let e = l.get(0, 1).unwrap();
        assert_eq!(e.get(&hop).unwrap().edge.path, Egress::Internet);
        assert_eq!(l.redecided(), 1);
        // A finished worker counts as published for later inputs.
        l.finish(1);
        l.publish(1, 0, 0, &t(0, 3));
        assert_eq!(
            l.get(1, 0).unwrap().get(&hop).unwrap().edge.path,
            Egress::Internet
        );
        assert!(!l.all_finished());
    }
}
