//! Edge paths inferred from the flows that cross them, when no `[[edge]]`
//! is configured.
//!
//! For a flow between a local and a public address, the next hop of each
//! direction is the router the tap sees it cross: the destination MAC of
//! packets going out, the source MAC of packets coming in, with the VLAN
//! they carry. Each distinct next hop is an edge, named `edge-<mac>` (or
//! `edge-<mac>.<vlan>`, `edge-vlan<vlan>` without a MAC).
//!
//! An edge's path is inferred from the remote ends of the flows that cross
//! it: an ExpressRoute circuit only reaches the prefixes advertised over it,
//! so an edge whose flows go (nearly) only to advertised prefixes is
//! `expressroute`; an edge that also reaches many addresses outside every
//! advertised prefix is `internet` (it may still carry Office 365 that
//! leaks past the circuit); anything in between, or fewer than
//! [`EdgeRules::min_flows`] flows, stays `unknown` with its shares. Nothing
//! is inferred without an ExpressRoute prefix source: every address would
//! then be "outside every list". At a site that declared no circuit, the
//! flows are counted against the ExpressRoute-capable Office 365 sets
//! instead, and an edge that carries (nearly) only those is reported as a
//! circuit observed but not declared, its path left `unknown`.
//!
//! Learning never stops. The runtime counts the evidence per interval (the
//! first is the warm-up) and merges the workers' counts once all have passed
//! the interval's end, so every decision is the same for any number of
//! workers. Decision k is decision k-1 updated with interval k's counts: a
//! next hop not decided yet is decided on its own cumulative count (same
//! rule); a decided one whose interval alone points, on enough flows, to
//! another path (a failover) is decided again, at most once an interval,
//! and says so.

use super::{Edge, Egress};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// Fewest flows an edge needs before its path is inferred (the default of
/// [`EdgeRules::min_flows`]).
pub const MIN_FLOWS: u64 = 3;
/// Share of flows to advertised prefixes at or above which an edge is ExpressRoute.
pub const ER_SHARE: f64 = 0.8;
/// Share of flows outside every advertised prefix at or above which an edge is Internet.
pub const INTERNET_SHARE: f64 = 0.5;

/// How much evidence decides an edge (site config `edge_min_flows`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeRules {
    /// Fewest flows an edge needs before its path is inferred, and fewest
    /// flows in one interval that can decide it again.
    pub min_flows: u64,
    /// Whether the site declared a circuit: without one, an edge of
    /// ExpressRoute-capable traffic only is a circuit observed, not declared.
    pub circuit_declared: bool,
}

impl Default for EdgeRules {
    fn default() -> Self {
        EdgeRules {
            min_flows: MIN_FLOWS,
            circuit_declared: true,
        }
    }
}

/// A next hop seen on the wire: a router's MAC and the VLAN (0 = none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NextHop {
    /// The router's MAC (all zero when the link type has none).
    pub mac: [u8; 6],
    /// The VLAN the packet carried, 0 if untagged.
    pub vlan: u16,
}

impl NextHop {
    /// Whether there is no evidence at all (no MAC, no VLAN).
    pub fn is_none(&self) -> bool {
        self.mac == [0; 6] && self.vlan == 0
    }

    /// The learned edge's name: `edge-<mac>`, `edge-<mac>.<vlan>`, `edge-vlan<vlan>`.
    pub fn edge_name(&self) -> String {
        match (self.mac == [0; 6], self.vlan) {
            (true, v) => format!("edge-vlan{v}"),
            (false, 0) => format!("edge-{}", Mac(self.mac)),
            (false, v) => format!("edge-{}.{v}", Mac(self.mac)),
        }
    }

    /// The hop as text (its `Display`) and its learned edge name, shared:
    /// every finished flow names the same few hops, and formatting their
    /// MACs anew was 3% of a run's time.
    pub fn names(&self) -> HopNames {
        /// Distinct hops a thread remembers before it starts over.
        const KEPT: usize = 4096;
        thread_local! {
            static NAMES: RefCell<HashMap<NextHop, HopNames>> = RefCell::new(HashMap::new());
        }
        NAMES.with(|m| {
            let mut m = m.borrow_mut();
            if let Some(n) = m.get(self) {
                return n.clone();
            }
            if m.len() >= KEPT {
                m.clear();
            }
            let n = HopNames {
                text: Arc::from(self.to_string()),
                edge: Arc::from(self.edge_name()),
            };
            m.insert(*self, n.clone());
            n
        })
    }
}

/// A next hop's texts, as [`NextHop::names`] gives them.
#[derive(Clone, Debug)]
pub struct HopNames {
    /// `02:e0:00:00:00:01 vlan 101` (the `Display` form).
    pub text: Arc<str>,
    /// `edge-02:e0:00:00:00:01.101` (the learned edge's name).
    pub edge: Arc<str>,
}

/// `02:e0:00:00:00:01`, `02:e0:00:00:00:01 vlan 101`, `vlan 101`.
impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.mac == [0; 6], self.vlan) {
            (true, v) => write!(f, "vlan {v}"),
            (false, 0) => write!(f, "{}", Mac(self.mac)),
            (false, v) => write!(f, "{} vlan {v}", Mac(self.mac)),
        }
    }
}

struct Mac([u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// What crossed one next hop during the warm-up window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Flows whose remote end is inside a prefix advertised over ExpressRoute.
    pub advertised: u64,
    /// Flows whose remote end is outside every advertised prefix.
    pub other: u64,
    /// Flows that could not be judged: no advertised prefix is loaded.
    pub unjudged: u64,
}

impl Tally {
    /// Adds another worker's counts.
    pub fn merge(&mut self, o: &Tally) {
        self.advertised += o.advertised;
        self.other += o.other;
        self.unjudged += o.unjudged;
    }

    /// The path these counts point to, with at least `min_flows` flows.
    pub fn path(&self, min_flows: u64) -> Egress {
        let n = self.advertised + self.other;
        if n < min_flows.max(1) {
            return Egress::Unknown;
        }
        let er = self.advertised as f64 / n as f64;
        if er >= ER_SHARE {
            Egress::ExpressRoute
        } else if 1.0 - er >= INTERNET_SHARE {
            Egress::Internet
        } else {
            Egress::Unknown
        }
    }

    /// Share of flows to advertised prefixes, in percent (0 when none).
    pub fn advertised_pct(&self) -> f64 {
        let n = self.advertised + self.other;
        if n == 0 {
            0.0
        } else {
            100.0 * self.advertised as f64 / n as f64
        }
    }
}

/// Per-next-hop tallies (one per worker, then merged).
pub type Tallies = BTreeMap<NextHop, Tally>;

/// One learned edge.
#[derive(Clone, Debug, PartialEq)]
pub struct LearnedEdge {
    /// Its name and inferred path (`unknown` when undecided).
    pub edge: Edge,
    /// The evidence, over every interval so far.
    pub tally: Tally,
    /// The fewest flows that decide it.
    pub min_flows: u64,
    /// It carried (nearly) only ExpressRoute-capable traffic at a site that
    /// declared no circuit.
    pub circuit_undeclared: bool,
    /// Decided again in an interval: (the path before, the interval, its
    /// own counts).
    pub redecided: Option<(Egress, usize, Tally)>,
}

impl LearnedEdge {
    /// The evidence behind its path, for `path_note` and the summary.
    pub fn evidence_note(&self) -> String {
        let t = &self.tally;
        let n = t.advertised + t.other;
        let name = &self.edge.name;
        if let Some((was, interval, it)) = &self.redecided {
            return format!(
                "edge {name} re-decided {} (was {}) in interval {interval}: {:.0}% of its {} flows there to ExpressRoute prefixes",
                self.edge.path.as_str(),
                was.as_str(),
                it.advertised_pct(),
                it.advertised + it.other
            );
        }
        if self.circuit_undeclared {
            return format!(
                "circuit observed, not declared: edge {name} carried {:.0}% of its {n} flows to ExpressRoute-capable Office 365 sets, path unknown",
                t.advertised_pct()
            );
        }
        match self.edge.path {
            Egress::Unknown if n == 0 && t.unjudged > 0 => format!(
                "path of edge {name} unknown: no ExpressRoute prefix loaded to judge it by ({} flows)",
                t.unjudged
            ),
            Egress::Unknown if n < self.min_flows => format!(
                "path of edge {name} unknown: {n} flows counted, {} needed",
                self.min_flows
            ),
            Egress::Unknown => format!(
                "path of edge {name} unknown: {:.0}% of its {n} flows to ExpressRoute prefixes",
                t.advertised_pct()
            ),
            p => format!(
                "edge {name} {}: {:.0}% of its {n} flows to ExpressRoute prefixes",
                p.as_str(),
                t.advertised_pct()
            ),
        }
    }
}

/// Edges per shared chunk of a decision.
const CHUNK: usize = 16;

/// The edges learned from one input, with their inferred paths.
///
/// A decision is made every interval, and a sparse capture spanning months
/// has tens of thousands of intervals with hundreds of edges: copying every
/// edge into each decision was 5% of a whole run. So the edges lie in
/// chunks shared between decisions, and a decision copies only the chunks
/// holding the edges its interval counted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearnedEdges {
    // Where each hop's edge is (chunk * CHUNK + slot), in order of first sight.
    index: Arc<BTreeMap<NextHop, usize>>,
    chunks: Vec<Arc<Vec<(NextHop, LearnedEdge)>>>,
    // The edges re-decided by this decision: the only ones whose
    // `redecided` is set, reset by the next decision.
    redecided: Vec<usize>,
    /// The interval this decision was made in (0: the warm-up); an interval
    /// that counted nothing shares the decision before it.
    pub interval: usize,
}

impl LearnedEdges {
    /// Infers every edge's path from the merged tallies of the warm-up.
    pub fn infer(tallies: &Tallies) -> Self {
        Self::next(None, 0, tallies, EdgeRules::default())
    }

    /// Decision `interval`: `prev` (decision `interval - 1`) updated with
    /// the interval's merged `tallies`.
    pub fn next(
        prev: Option<&LearnedEdges>,
        interval: usize,
        tallies: &Tallies,
        rules: EdgeRules,
    ) -> Self {
        let mut d = prev.cloned().unwrap_or_default();
        d.interval = interval;
        for at in std::mem::take(&mut d.redecided) {
            if let Some(l) = d.slot_mut(at) {
                l.redecided = None;
            }
        }
        for (hop, t) in tallies {
            let at = d
                .index
                .get(hop)
                .copied()
                .unwrap_or_else(|| d.add(*hop, rules));
            let Some(l) = d.slot_mut(at) else {
                continue;
            };
            l.tally.merge(t);
            let decided = l.edge.path != Egress::Unknown;
            let own = t.path(rules.min_flows);
            if decided && own != Egress::Unknown && own != l.edge.path {
                // A failover: the interval alone, on enough flows, says
                // another path.
                l.redecided = Some((l.edge.path, interval, *t));
                l.edge.path = own;
                d.redecided.push(at);
            } else if !decided {
                let p = l.tally.path(rules.min_flows);
                l.circuit_undeclared = !rules.circuit_declared && p == Egress::ExpressRoute;
                l.edge.path = if l.circuit_undeclared {
                    Egress::Unknown
                } else {
                    p
                };
            }
        }
        d
    }

    /// A new, undecided edge for `hop`; returns where it is.
    fn add(&mut self, hop: NextHop, rules: EdgeRules) -> usize {
        let at = self.index.len();
        Arc::make_mut(&mut self.index).insert(hop, at);
        let edge = LearnedEdge {
            edge: Edge {
                name: Arc::from(hop.edge_name()),
                path: Egress::Unknown,
            },
            tally: Tally::default(),
            min_flows: rules.min_flows,
            circuit_undeclared: false,
            redecided: None,
        };
        match self.chunks.last_mut().filter(|c| c.len() < CHUNK) {
            Some(c) => Arc::make_mut(c).push((hop, edge)),
            None => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push((hop, edge));
                self.chunks.push(Arc::new(c));
            }
        }
        at
    }

    /// The edge at `at`, its chunk copied first when another decision shares it.
    fn slot_mut(&mut self, at: usize) -> Option<&mut LearnedEdge> {
        let c = self.chunks.get_mut(at / CHUNK)?;
        Arc::make_mut(c).get_mut(at % CHUNK).map(|(_, l)| l)
    }

    /// The edge of a next hop; None for one not seen yet.
    pub fn get(&self, hop: &NextHop) -> Option<&LearnedEdge> {
        let at = *self.index.get(hop)?;
        self.chunks
            .get(at / CHUNK)
            .and_then(|c| c.get(at % CHUNK))
            .map(|(_, l)| l)
    }

    /// Every learned edge, in the order first seen.
    pub fn iter(&self) -> impl Iterator<Item = (&NextHop, &LearnedEdge)> {
        self.chunks
            .iter()
            .flat_map(|c| c.iter().map(|(h, l)| (h, l)))
    }

    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The edges this decision decided again (failovers).
    pub fn redecided(&self) -> impl Iterator<Item = &LearnedEdge> {
        self.redecided.iter().filter_map(|&at| {
            self.chunks
                .get(at / CHUNK)
                .and_then(|c| c.get(at % CHUNK))
                .map(|(_, l)| l)
        })
    }

    /// Whether every hop given has a decided (known) path.
    pub fn all_known(&self, hops: &[NextHop]) -> bool {
        hops.iter()
            .filter(|h| !h.is_none())
            .all(|h| self.get(h).is_some_and(|l| l.edge.path != Egress::Unknown))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Flows counted to advertised prefixes and to others.
    fn t(advertised: u64, other: u64) -> Tally {
        Tally {
            advertised,
            other,
            unjudged: 0,
        }
    }

    /// A router of a test, by the last byte of its MAC.
    fn hop(i: u8) -> NextHop {
        NextHop {
            mac: [2, 0, 0, 0, 1, i],
            vlan: 0,
        }
    }

    #[test]
    fn names_and_paths() {
        let h = NextHop {
            mac: [2, 0xe0, 0, 0, 0, 1],
            vlan: 0,
        };
        assert_eq!(h.edge_name(), "edge-02:e0:00:00:00:01");
        assert_eq!(h.to_string(), "02:e0:00:00:00:01");
        let v = NextHop { vlan: 101, ..h };
        assert_eq!(v.edge_name(), "edge-02:e0:00:00:00:01.101");
        let only = NextHop {
            mac: [0; 6],
            vlan: 7,
        };
        assert_eq!(
            (only.edge_name(), only.is_none()),
            ("edge-vlan7".into(), false)
        );
        assert!(NextHop::default().is_none());
        assert_eq!(t(2, 0).path(3), Egress::Unknown, "too little evidence");
        assert_eq!(t(2, 0).path(2), Egress::ExpressRoute, "configurable");
        assert_eq!(
            t(8, 2).path(3),
            Egress::ExpressRoute,
            "a few replies of other flows"
        );
        assert_eq!(t(7, 3).path(3), Egress::Unknown, "mixed");
        assert_eq!(t(5, 5).path(3), Egress::Internet, "leaks stay internet");
        assert_eq!(t(0, 3).path(3), Egress::Internet);
        assert_eq!(t(8, 2).advertised_pct(), 80.0);
    }

    /// Issue 24: learning goes on after the warm-up. A next hop first seen
    /// later is decided on its own count; a decided one whose interval says
    /// another path is decided again, once, with a note.
    #[test]
    fn edges_are_learned_for_as_long_as_the_sensor_runs() {
        let er = NextHop {
            mac: [2, 0, 0, 0, 0, 1],
            vlan: 0,
        };
        let backup = NextHop {
            mac: [2, 0, 0, 0, 0, 2],
            vlan: 0,
        };
        let r = EdgeRules::default();
        let d0 = LearnedEdges::next(None, 0, &Tallies::from([(er, t(5, 0))]), r);
        assert_eq!(d0.get(&er).unwrap().edge.path, Egress::ExpressRoute);
        assert!(d0.get(&backup).is_none());
        // The backup router appears: 2 flows are not enough, 4 are.
        let d1 = LearnedEdges::next(Some(&d0), 1, &Tallies::from([(backup, t(1, 1))]), r);
        let b = d1.get(&backup).unwrap();
        assert_eq!(b.edge.path, Egress::Unknown);
        assert_eq!(
            b.evidence_note(),
            "path of edge edge-02:00:00:00:00:02 unknown: 2 flows counted, 3 needed"
        );
        let d2 = LearnedEdges::next(Some(&d1), 2, &Tallies::from([(backup, t(1, 1))]), r);
        let b = d2.get(&backup).unwrap();
        assert_eq!(b.edge.path, Egress::Internet);
        assert_eq!(
            b.evidence_note(),
            "edge edge-02:00:00:00:00:02 internet: 50% of its 4 flows to ExpressRoute prefixes"
        );
        // The ExpressRoute edge now carries Internet traffic (a failover).
        let d3 = LearnedEdges::next(Some(&d2), 3, &Tallies::from([(er, t(0, 3))]), r);
        let e = d3.get(&er).unwrap();
        assert_eq!(e.edge.path, Egress::Internet);
        assert_eq!(e.redecided, Some((Egress::ExpressRoute, 3, t(0, 3))));
        assert!(
            e.evidence_note().starts_with(
                "edge edge-02:00:00:00:00:01 re-decided internet (was expressroute) in interval 3"
            ),
            "{}",
            e.evidence_note()
        );
        // Once: the next interval keeps it and forgets the change.
        let d4 = LearnedEdges::next(Some(&d3), 4, &Tallies::new(), r);
        assert_eq!(d4.get(&er).unwrap().redecided, None);
        assert_eq!(d4.get(&er).unwrap().edge.path, Egress::Internet);
        assert!(d4.all_known(&[er, backup, NextHop::default()]));
        // No circuit declared: ExpressRoute-capable traffic only is reported.
        let undeclared = EdgeRules {
            circuit_declared: false,
            ..r
        };
        let d = LearnedEdges::next(None, 0, &Tallies::from([(er, t(3, 0))]), undeclared);
        let e = d.get(&er).unwrap();
        assert_eq!((e.edge.path, e.circuit_undeclared), (Egress::Unknown, true));
        assert!(e
            .evidence_note()
            .starts_with("circuit observed, not declared"));
        assert!(!d.all_known(&[er]));
    }

    /// Decisions share the chunks their intervals did not count in, and a
    /// later decision never changes an earlier one.
    #[test]
    fn decisions_share_untouched_edges_and_stay_as_made() {
        let r = EdgeRules::default();
        let seen = |d: &LearnedEdges| -> Vec<(NextHop, LearnedEdge)> {
            d.iter().map(|(h, l)| (*h, l.clone())).collect()
        };
        // 40 edges (three chunks), all ExpressRoute.
        let all: Tallies = (0..40).map(|i| (hop(i), t(5, 0))).collect();
        let d0 = LearnedEdges::next(None, 0, &all, r);
        assert_eq!(d0.iter().count(), 40);
        assert!((0..40).all(|i| d0.get(&hop(i)).unwrap().edge.path == Egress::ExpressRoute));
        let before = seen(&d0);
        // Interval 1 counts one edge of the last chunk only: a failover.
        let d1 = LearnedEdges::next(Some(&d0), 1, &Tallies::from([(hop(35), t(0, 4))]), r);
        assert_eq!(seen(&d0), before, "decision 0 unchanged");
        assert!(Arc::ptr_eq(&d0.chunks[0], &d1.chunks[0]));
        assert!(Arc::ptr_eq(&d0.chunks[1], &d1.chunks[1]));
        assert!(!Arc::ptr_eq(&d0.chunks[2], &d1.chunks[2]));
        let names: Vec<&str> = d1.redecided().map(|l| &*l.edge.name).collect();
        assert_eq!(names, ["edge-02:00:00:00:01:23"]);
        assert_eq!(d1.get(&hop(35)).unwrap().edge.path, Egress::Internet);
        // Interval 2 counts a new edge and one of the first chunk; the
        // failover of interval 1 is no longer marked, its path kept.
        let d1_seen = seen(&d1);
        let d2 = LearnedEdges::next(
            Some(&d1),
            2,
            &Tallies::from([(hop(40), t(3, 0)), (hop(0), t(1, 0))]),
            r,
        );
        assert_eq!(seen(&d1), d1_seen, "decision 1 unchanged");
        assert_eq!(d2.redecided().count(), 0);
        let e = d2.get(&hop(35)).unwrap();
        assert_eq!((e.edge.path, e.redecided), (Egress::Internet, None));
        assert!(Arc::ptr_eq(&d1.chunks[1], &d2.chunks[1]));
        assert!(!Arc::ptr_eq(&d1.chunks[0], &d2.chunks[0]));
        assert_eq!(d2.get(&hop(0)).unwrap().tally, t(6, 0));
        assert_eq!(d2.get(&hop(40)).unwrap().edge.path, Egress::ExpressRoute);
        assert_eq!(d2.iter().count(), 41);
        assert!(d2.iter().all(|(h, l)| d2.get(h) == Some(l)));
        assert!(d1.get(&hop(40)).is_none());
    }
}
