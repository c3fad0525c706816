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
//!
//! A long capture has tens of thousands of intervals: deciding walks only
//! the undecided ones, and a decision no worker can still ask for (every
//! worker's floor, see [`EdgeDecisions::need`], is past it) is dropped, so
//! the cost per interval and the memory stay flat.

use pathlens_classify::egress::{EdgeRules, LearnedEdges, Tallies};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// An input and an interval of its edge learning, in input order.
pub type Round = (usize, usize);

#[derive(Default)]
struct Interval {
    tallies: Tallies,
    published: Vec<bool>,
    result: Option<Arc<LearnedEdges>>,
}

#[derive(Default)]
struct Input {
    intervals: Vec<Interval>,
    // Intervals decided so far: `intervals[..decided]` have been decided.
    decided: usize,
    // The latest decision, which the next one updates (kept when dropped
    // from `intervals`).
    last: Option<Arc<LearnedEdges>>,
    // Intervals below this have had their decision dropped.
    dropped: usize,
}

struct State {
    inputs: Vec<Input>,
    finished: Vec<bool>,
    // Per worker, the earliest decision it may still ask for.
    floors: Vec<Round>,
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
                inputs: Vec::new(),
                finished: vec![false; n],
                floors: vec![(0, 0); n],
            }),
            finished: Condvar::new(),
            redecided: AtomicU64::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s)
    }

    fn interval(n: usize, s: &mut State, (gen, k): Round) -> Option<&mut Interval> {
        while s.inputs.len() <= gen {
            s.inputs.push(Input::default());
        }
        let input = s.inputs.get_mut(gen)?;
        while input.intervals.len() <= k {
            input.intervals.push(Interval {
                published: vec![false; n],
                ..Interval::default()
            });
        }
        input.intervals.get_mut(k)
    }

    /// Decides every interval of input `gen` that can be, in order.
    fn settle(&self, s: &mut State, gen: usize) {
        let State {
            inputs, finished, ..
        } = s;
        let Some(input) = inputs.get_mut(gen) else {
            return;
        };
        while let Some(r) = input.intervals.get_mut(input.decided) {
            let all = r
                .published
                .iter()
                .zip(finished.iter())
                .all(|(p, f)| *p || *f);
            if !all {
                return;
            }
            let k = input.decided;
            let tallies = std::mem::take(&mut r.tallies);
            // An interval that counted nothing changes nothing (once no
            // edge is marked as just re-decided): the same decision, not a
            // copy of every edge.
            let unchanged = input
                .last
                .as_ref()
                .filter(|l| tallies.is_empty() && l.redecided().next().is_none());
            let d = match unchanged {
                Some(l) => Arc::clone(l),
                None => {
                    let d = LearnedEdges::next(input.last.as_deref(), k, &tallies, self.rules);
                    for l in d.redecided() {
                        self.redecided.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(edge = %l.edge.name, "{}", l.evidence_note());
                    }
                    Arc::new(d)
                }
            };
            r.result = Some(Arc::clone(&d));
            input.last = Some(d);
            input.decided += 1;
        }
    }

    /// Drops the decisions below every worker's floor.
    fn drop_unneeded(s: &mut State) {
        let Some(&(fgen, fk)) = s.floors.iter().min() else {
            return;
        };
        for (gen, input) in s.inputs.iter_mut().enumerate().take(fgen + 1) {
            let below = if gen < fgen { input.decided } else { fk };
            let below = below.min(input.decided);
            for r in input.intervals.iter_mut().take(below).skip(input.dropped) {
                r.result = None;
                r.published = Vec::new();
            }
            input.dropped = input.dropped.max(below);
        }
    }

    /// Worker `w`'s counts for interval `interval` of input `gen`.
    pub fn publish(&self, gen: usize, interval: usize, w: usize, tallies: &Tallies) {
        self.with(|s| {
            if let Some(r) = Self::interval(self.n, s, (gen, interval)) {
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

    /// Worker `w` will ask for no decision before `floor` any more (its
    /// current interval's and its held records' judges are all at or past
    /// it).
    pub fn need(&self, w: usize, floor: Round) {
        self.with(|s| {
            if let Some(f) = s.floors.get_mut(w) {
                *f = (*f).max(floor);
            }
            Self::drop_unneeded(s);
        });
    }

    /// Decision `interval` of input `gen`, once made.
    pub fn get(&self, gen: usize, interval: usize) -> Option<Arc<LearnedEdges>> {
        self.with(|s| {
            s.inputs
                .get(gen)
                .and_then(|g| g.intervals.get(interval))
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
            for gen in 0..s.inputs.len() {
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

    const HOP: NextHop = NextHop {
        mac: [2, 0, 0, 0, 0, 1],
        vlan: 0,
    };

    /// One interval's counts at `HOP`: flows to advertised prefixes, others.
    fn t(advertised: u64, other: u64) -> Tallies {
        Tallies::from([(
            HOP,
            Tally {
                advertised,
                other,
                unjudged: 0,
            },
        )])
    }

    #[test]
    fn decides_each_interval_once_every_worker_published() {
        let l = EdgeDecisions::new(2, EdgeRules::default());
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
        assert_eq!(e.get(&HOP).unwrap().edge.path, Egress::ExpressRoute);
        // Interval 1 alone says Internet on 3 flows: decided again, counted.
        let e = l.get(0, 1).unwrap();
        assert_eq!(e.get(&HOP).unwrap().edge.path, Egress::Internet);
        assert_eq!(l.redecided(), 1);
        // A finished worker counts as published for later inputs.
        l.finish(1);
        l.publish(1, 0, 0, &t(0, 3));
        assert_eq!(
            l.get(1, 0).unwrap().get(&HOP).unwrap().edge.path,
            Egress::Internet
        );
        assert!(!l.all_finished());
    }

    #[test]
    fn drops_only_what_no_worker_can_ask_for() {
        let l = EdgeDecisions::new(2, EdgeRules::default());
        for k in 0..5 {
            l.publish(0, k, 0, &Tallies::new());
            l.publish(0, k, 1, &Tallies::new());
        }
        assert!((0..5).all(|k| l.get(0, k).is_some()));
        // Worker 0 is past interval 3; worker 1 still needs 1.
        l.need(0, (0, 3));
        l.need(1, (0, 1));
        assert!(l.get(0, 0).is_none(), "below every floor");
        assert!((1..5).all(|k| l.get(0, k).is_some()));
        // A floor never goes back.
        l.need(1, (0, 0));
        assert!(l.get(0, 1).is_some());
        // A later input: the earlier one is dropped whole, and the next
        // decision of input 0 still builds on its last.
        l.need(0, (1, 0));
        l.need(1, (1, 0));
        assert!((0..5).all(|k| l.get(0, k).is_none()));
        l.publish(0, 5, 0, &Tallies::new());
        l.publish(0, 5, 1, &Tallies::new());
        assert!(l.get(0, 5).is_some());
    }

    #[test]
    fn memory_stays_flat_over_many_intervals() {
        let l = EdgeDecisions::new(2, EdgeRules::default());
        let n = 20_000;
        for k in 0..n {
            l.publish(0, k, 0, &Tallies::new());
            l.publish(0, k, 1, &Tallies::new());
            l.need(0, (0, k));
            l.need(1, (0, k));
        }
        assert!(l.get(0, n - 1).is_some());
        let kept = l.with(|s| {
            s.inputs
                .iter()
                .flat_map(|i| &i.intervals)
                .filter(|r| r.result.is_some() || !r.published.is_empty())
                .count()
        });
        assert_eq!(kept, 1, "only the decision still asked for");
    }

    #[test]
    fn an_interval_that_counted_nothing_shares_the_decision_before_it() {
        let l = EdgeDecisions::new(1, EdgeRules::default());
        l.publish(0, 0, 0, &t(5, 0));
        l.publish(0, 1, 0, &Tallies::new());
        let (d0, d1) = (l.get(0, 0).unwrap(), l.get(0, 1).unwrap());
        assert!(Arc::ptr_eq(&d0, &d1));
        // A failover is marked in its own decision only: the next one,
        // even empty, is made afresh without the mark.
        l.publish(0, 2, 0, &t(0, 4));
        l.publish(0, 3, 0, &Tallies::new());
        let (d2, d3) = (l.get(0, 2).unwrap(), l.get(0, 3).unwrap());
        assert!(d2.get(&HOP).unwrap().redecided.is_some());
        assert!(d3.get(&HOP).unwrap().redecided.is_none());
        assert_eq!(d3.get(&HOP).unwrap().edge.path, Egress::Internet);
        assert_eq!(l.redecided(), 1);
    }
}
