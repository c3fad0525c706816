//! Edges learned from the wire, shared by the workers.
//!
//! Each worker counts, per next hop, the flows that start crossing it during
//! the warm-up window of an input (the first `edge_warmup_us` of packet
//! time, or the whole input when shorter) and publishes its counts when the
//! reader says the window closed. Once every worker has published for an
//! input, the merged counts decide every edge's path, once; records that
//! ended before are held and judged then. The window is cut at a packet
//! position of the input, so the counts, and the rows, are the same for any
//! number of workers.

use pathlens_classify::egress::{LearnedEdges, Tallies};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

#[derive(Default)]
struct Generation {
    tallies: Tallies,
    published: Vec<bool>,
    result: Option<Arc<LearnedEdges>>,
}

struct State {
    gens: Vec<Generation>,
    finished: Vec<bool>,
}

/// The edges learned per input (generation), shared by the workers.
pub struct EdgeLearner {
    n: usize,
    state: Mutex<State>,
    // Wakes the workers waiting for every other one to finish.
    finished: Condvar,
}

impl EdgeLearner {
    /// A learner for `n` workers.
    pub fn new(n: usize) -> Self {
        EdgeLearner {
            n,
            state: Mutex::new(State {
                gens: Vec::new(),
                finished: vec![false; n],
            }),
            finished: Condvar::new(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s)
    }

    fn settle(n: usize, s: &mut State, gen: usize) {
        while s.gens.len() <= gen {
            s.gens.push(Generation {
                published: vec![false; n],
                ..Generation::default()
            });
        }
        let finished = s.finished.clone();
        if let Some(g) = s.gens.get_mut(gen) {
            for (p, f) in g.published.iter_mut().zip(&finished) {
                *p |= *f;
            }
            if g.result.is_none() && g.published.iter().all(|p| *p) {
                g.result = Some(Arc::new(LearnedEdges::infer(&g.tallies)));
            }
        }
    }

    /// Worker `w`'s counts for input `gen`.
    pub fn publish(&self, gen: usize, w: usize, tallies: &Tallies) {
        self.with(|s| {
            Self::settle(self.n, s, gen);
            if let Some(g) = s.gens.get_mut(gen) {
                if g.published.get(w).is_some_and(|p| !p) {
                    for (hop, t) in tallies {
                        g.tallies.entry(*hop).or_default().merge(t);
                    }
                    if let Some(p) = g.published.get_mut(w) {
                        *p = true;
                    }
                }
            }
            Self::settle(self.n, s, gen);
        });
    }

    /// The edges of input `gen`, once every worker has published.
    pub fn get(&self, gen: usize) -> Option<Arc<LearnedEdges>> {
        self.with(|s| s.gens.get(gen).and_then(|g| g.result.clone()))
    }

    /// Worker `w` publishes nothing more (it ended, or stopped).
    pub fn finish(&self, w: usize) {
        self.with(|s| {
            if let Some(f) = s.finished.get_mut(w) {
                *f = true;
            }
            for gen in 0..s.gens.len() {
                Self::settle(self.n, s, gen);
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
    fn decides_once_every_worker_published() {
        let l = EdgeLearner::new(2);
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
        l.publish(0, 0, &t(2, 0));
        assert!(l.get(0).is_none());
        l.publish(0, 0, &t(9, 9));
        assert!(l.get(0).is_none(), "a second publish is ignored");
        l.publish(0, 1, &t(1, 0));
        let e = l.get(0).unwrap();
        assert_eq!(e.get(&hop).unwrap().edge.path, Egress::ExpressRoute);
        // A finished worker counts as published for later inputs.
        l.finish(1);
        l.publish(1, 0, &t(0, 3));
        assert_eq!(
            l.get(1).unwrap().get(&hop).unwrap().edge.path,
            Egress::Internet
        );
        assert!(!l.all_finished());
    }
}
