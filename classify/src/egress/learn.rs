//! Edges learned from the wire when no `[[edge]]` is configured.
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
//! [`MIN_FLOWS`] flows, stays `unknown` with its shares. Nothing is inferred
//! without an ExpressRoute prefix source: every address would then be
//! "outside every list".
//!
//! The runtime counts the evidence over a warm-up window of each input and
//! merges the workers' counts once all have passed it, so the inference is
//! the same for any number of workers.

use super::{Edge, Egress};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// Fewest flows an edge needs before its path is inferred.
pub const MIN_FLOWS: u64 = 3;
/// Share of flows to advertised prefixes at or above which an edge is ExpressRoute.
pub const ER_SHARE: f64 = 0.8;
/// Share of flows outside every advertised prefix at or above which an edge is Internet.
pub const INTERNET_SHARE: f64 = 0.5;

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

    /// The path these counts point to.
    pub fn path(&self) -> Egress {
        let n = self.advertised + self.other;
        if n < MIN_FLOWS {
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
    /// The evidence.
    pub tally: Tally,
}

/// The edges learned from one input, with their inferred paths.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearnedEdges {
    edges: BTreeMap<NextHop, LearnedEdge>,
}

impl LearnedEdges {
    /// Infers every edge's path from the merged tallies.
    pub fn infer(tallies: &Tallies) -> Self {
        let edges = tallies
            .iter()
            .map(|(hop, t)| {
                let edge = Edge {
                    name: Arc::from(hop.edge_name()),
                    path: t.path(),
                };
                (*hop, LearnedEdge { edge, tally: *t })
            })
            .collect();
        LearnedEdges { edges }
    }

    /// The edge of a next hop; one first seen after the warm-up is an edge
    /// of unknown path.
    pub fn get(&self, hop: &NextHop) -> Option<&LearnedEdge> {
        self.edges.get(hop)
    }

    /// Every learned edge.
    pub fn iter(&self) -> impl Iterator<Item = (&NextHop, &LearnedEdge)> {
        self.edges.iter()
    }

    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }
}

#[cfg(test)]
mod test {
    use super::*;

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
        let t = |advertised, other| Tally {
            advertised,
            other,
            unjudged: 0,
        };
        assert_eq!(t(2, 0).path(), Egress::Unknown, "too little evidence");
        assert_eq!(
            t(8, 2).path(),
            Egress::ExpressRoute,
            "a few replies of other flows"
        );
        assert_eq!(t(7, 3).path(), Egress::Unknown, "mixed");
        assert_eq!(t(5, 5).path(), Egress::Internet, "leaks stay internet");
        assert_eq!(t(0, 3).path(), Egress::Internet);
        assert_eq!(t(8, 2).advertised_pct(), 80.0);
    }
}
