//! Egress attribution: which way each flow leaves the site (ExpressRoute,
//! Internet, or not at all), which edge each direction really crossed, and
//! whether that matches the call-flow principles.
//!
//! Contract: everything here is pure. Parsers take text plus a source name and
//! return [`EgressError`]s naming file, line and value; [`Site`] is built once
//! at start and then only read; [`Site::judge`] turns a finished flow's
//! addresses, traffic type and per-direction edges into a [`Verdict`].
//!
//! Derivation rules (also in the README):
//! - `egress`: `local` when both ends are local; else the remote end (the
//!   non-local one; the responder when neither is local) is looked up:
//!   `expressroute` when a prefix advertised over ExpressRoute contains it,
//!   `internet` when it is a public address, `unknown` otherwise.
//! - next hop: per direction, the first configured edge seen (destination MAC
//!   of packets sent to a router, source MAC of packets from one, or VLAN).
//!   `asymmetric` is set only when both directions crossed a configured
//!   edge: true when the edges differ; null otherwise (no edges configured,
//!   or a direction without edge evidence, such as a one-way flow). A
//!   direction whose edge changes mid-record gets a `path_note`.
//! - observed path: the paths of the edges seen; without edge evidence, the
//!   prefix-predicted `egress`.
//! - `expected_path`: from the call-flow table, for media and signaling
//!   (including web conferencing) flows whose two roles are both known; else
//!   null, and `path_conformant` null too. A public address outside every
//!   Office 365 set has the role `internet` only when an O365 list is loaded. Conformant when every observed path
//!   is one the expectation allows.

pub mod callflow;
pub mod circuit;
pub mod db;
pub mod edge;
pub mod expect;
pub mod infer;
pub mod sources;

pub use callflow::{CallFlow, ExpectedPath, Profile, Role, TrafficKind};
pub use circuit::{CircuitDecl, CircuitSource};
pub use db::{EgressDb, EgressDbBuilder, O365Advertised, PrefixMatch};
pub use edge::{Edge, Edges};
pub use expect::Onprem;
pub use infer::{EdgeRules, LearnedEdge, LearnedEdges, NextHop, Tallies, Tally};
pub use sources::{Category, EgressError, O365Set, ServiceTag};

use crate::prefix::{FlowDirection, LocalNets, PrefixTable};
use crate::vocab::TrafficType;
use ipnet::IpNet;
use std::net::IpAddr;

/// How a flow leaves the site (`egress` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Egress {
    /// Both ends inside the site.
    Local,
    /// Over the ExpressRoute circuit.
    ExpressRoute,
    /// Over the Internet.
    Internet,
    /// Cannot tell.
    #[default]
    Unknown,
}

impl Egress {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Egress::Local => "local",
            Egress::ExpressRoute => "expressroute",
            Egress::Internet => "internet",
            Egress::Unknown => "unknown",
        }
    }

    /// Parses an edge path (`expressroute` or `internet`).
    pub fn parse_edge_path(s: &str) -> Option<Self> {
        match s {
            "expressroute" => Some(Egress::ExpressRoute),
            "internet" => Some(Egress::Internet),
            _ => None,
        }
    }
}

/// Whether an address is publicly routable (not local-scope, documentation,
/// shared, benchmarking or reserved space).
pub fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let [o0, o1, o2, _] = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || a.is_documentation()
                || o0 == 0
                || o0 >= 240
                || (o0 == 100 && (o1 & 0xc0) == 64)
                || (o0 == 198 && (o1 & 0xfe) == 18)
                || (o0 == 192 && o1 == 0 && o2 == 0))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            let first = s.first().copied().unwrap_or(0);
            let second = s.get(1).copied().unwrap_or(0);
            // Global unicast only, without the documentation prefix.
            (first & 0xe000) == 0x2000 && !(first == 0x2001 && second == 0x0db8)
        }
    }
}

/// Everything the site's config says about egress, built once at start.
#[derive(Clone, Debug, Default)]
pub struct Site {
    /// Prefix sources.
    pub db: EgressDb,
    /// Edge routers.
    pub edges: Edges,
    /// Call-flow expectations.
    pub callflow: CallFlow,
    /// Deployment profile.
    pub profile: Profile,
    /// Networks of the on-premises servers, each with its role and the
    /// service it runs: `skype_teams` for SfB pools, Edges, Mediation and
    /// Cloud Connector, `exchange` for Exchange servers.
    pub onprem: PrefixTable<Onprem>,
    /// On-premises servers named by DNS name (`[[onprem]] names`), lower
    /// case: exact names or `*.suffix` / `prefix.*` patterns.
    pub onprem_names: Vec<(String, Onprem)>,
    /// The circuit's route filter: which ExpressRoute-capable Office 365
    /// sets it receives (all when not configured).
    pub circuit: O365Advertised,
    /// Whether the site declared a circuit (see [`Site::circuit_for`]).
    pub circuit_decl: CircuitDecl,
    /// Circuits declared per local subnet (a building file's flag); they
    /// win over `circuit_decl`.
    pub circuit_subnets: PrefixTable<CircuitDecl>,
    /// How much evidence decides a learned edge.
    pub edge_rules: EdgeRules,
    /// The CQD building file (each local subnet's building).
    pub buildings: std::sync::Arc<crate::buildings::Buildings>,
}

/// What the flow table knows about a finished flow, for [`Site::judge`].
#[derive(Clone, Copy, Debug)]
pub struct FlowFacts {
    /// Initiator.
    pub src: IpAddr,
    /// Responder.
    pub dst: IpAddr,
    /// The classifier's traffic type.
    pub traffic_type: TrafficType,
    /// First edge index seen per direction (src2dst, dst2src), 0 = none.
    pub hops: [u8; 2],
    /// The edge changed within a direction.
    pub hop_changed: [bool; 2],
    /// Next hop per direction seen on the wire (local-public flows only).
    pub next_hops: [NextHop; 2],
    /// The Internet-only service the flow is (index into the call-flow
    /// table's list), from its class, server name or endpoint set.
    pub internet_only: Option<u16>,
    /// The role the responder's server name gives it (configured names,
    /// or a conventional published name of a local server).
    pub dst_role: Option<Role>,
}

/// The egress columns of one flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict<'a> {
    /// Initiator is local.
    pub local_src: bool,
    /// Responder is local.
    pub local_dst: bool,
    /// Direction relative to the site.
    pub direction: FlowDirection,
    /// Prefix-predicted egress.
    pub egress: Egress,
    /// The prefix reported (`egress_prefix`).
    pub prefix: Option<IpNet>,
    /// Its source (`egress_list`).
    pub list: Option<&'a str>,
    /// Its label (`egress_label`).
    pub label: Option<&'a str>,
    /// The remote end's Office 365 set.
    pub o365: Option<&'a O365Set>,
    /// Edge per direction: configured, else learned.
    pub next_hop: [Option<Edge>; 2],
    /// The path of the edge crossed: the outbound direction's, else the
    /// inbound one's; null when no edge of known path was crossed.
    pub observed: Option<Egress>,
    /// The two directions used different edges.
    pub asymmetric: Option<bool>,
    /// What the call-flow principles predict.
    pub expected: Option<ExpectedPath>,
    /// Whether the observed path matches.
    pub conformant: Option<bool>,
    /// Why not, or what else looks wrong.
    pub note: Option<String>,
}

const DIR_NAMES: [&str; 2] = ["src2dst", "dst2src"];

impl Site {
    /// The edge a direction crossed: the configured one when edges are
    /// configured (they always win), else the one learned for its next hop;
    /// a next hop first seen after the warm-up is an edge of unknown path.
    fn edge_of(&self, f: &FlowFacts, i: usize, learned: Option<&LearnedEdges>) -> Option<Edge> {
        if !self.edges.is_empty() {
            return self.edges.get(*f.hops.get(i)?).cloned();
        }
        let hop = f.next_hops.get(i).filter(|h| !h.is_none())?;
        Some(match learned.and_then(|l| l.get(hop)) {
            Some(l) => l.edge.clone(),
            None => Edge {
                name: hop.names().edge,
                path: Egress::Unknown,
            },
        })
    }

    /// The egress columns of a finished flow; `learned` holds the edges
    /// learned from the wire (used only when none is configured).
    pub fn judge<'a>(
        &'a self,
        local: &'a LocalNets,
        f: &FlowFacts,
        learned: Option<&LearnedEdges>,
    ) -> Verdict<'a> {
        let mut v = self.predict(local, f);
        v.next_hop = [self.edge_of(f, 0, learned), self.edge_of(f, 1, learned)];
        let mut notes = String::new();
        let mut note = |s: &str| {
            if !notes.is_empty() {
                notes.push_str("; ");
            }
            notes.push_str(s);
        };
        let seen = self.observe(f, &mut v, learned, &mut note);
        self.expect(f, &mut v, &seen, &mut note);
        v.note = (!notes.is_empty()).then_some(notes);
        v
    }

    /// The prefix-predicted part of a verdict: locality, `egress` and the
    /// prefix, source and Office 365 set that decided it. ExpressRoute only
    /// where a circuit is declared for the flow's local end.
    fn predict<'a>(&'a self, local: &'a LocalNets, f: &FlowFacts) -> Verdict<'a> {
        let local_src = local.is_local(f.src);
        let local_dst = local.is_local(f.dst);
        let remote = if local_dst && !local_src {
            f.src
        } else {
            f.dst
        };
        let mut v = Verdict {
            local_src,
            local_dst,
            direction: FlowDirection::from_locality(local_src, local_dst),
            egress: Egress::Unknown,
            prefix: None,
            list: None,
            label: None,
            o365: None,
            next_hop: [None, None],
            observed: None,
            asymmetric: None,
            expected: None,
            conformant: None,
            note: None,
        };
        if local_src && local_dst {
            v.egress = Egress::Local;
            if let Some(m) = local.lookup(remote) {
                v.prefix = Some(m.prefix);
                v.label = Some(m.label);
                v.list = Some("local");
            }
            return v;
        }
        let m = self.db.lookup(remote);
        v.o365 = m.and_then(|m| m.o365);
        let local_end = if local_src {
            Some(f.src)
        } else {
            local_dst.then_some(f.dst)
        };
        let er = m
            .and_then(|m| m.expressroute)
            .filter(|_| self.circuit_for(local_end).is_declared());
        match er {
            Some((prefix, list, label)) => {
                v.egress = Egress::ExpressRoute;
                v.prefix = Some(prefix);
                v.list = Some(list);
                v.label = label;
            }
            None => {
                v.egress = if is_public(remote) {
                    Egress::Internet
                } else {
                    Egress::Unknown
                };
                if let Some(m) = m {
                    v.prefix = Some(m.prefix);
                    v.list = Some(m.list);
                    v.label = m.label;
                }
            }
        }
        v
    }

    /// The observed part of a verdict: asymmetry, the observed path, and
    /// notes on changed next hops, edges of unknown path and edges that
    /// contradict the prediction. Returns the edges crossed by direction.
    fn observe(
        &self,
        f: &FlowFacts,
        v: &mut Verdict<'_>,
        learned: Option<&LearnedEdges>,
        note: &mut dyn FnMut(&str),
    ) -> Vec<(usize, Edge)> {
        let seen: Vec<(usize, Edge)> = v
            .next_hop
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.clone().map(|e| (i, e)))
            .collect();
        // Only a flow seen crossing an edge both ways can be judged: a
        // one-way flow may have its other half on an untapped path.
        if let [Some(a), Some(b)] = &v.next_hop {
            v.asymmetric = Some(a.name != b.name);
        }
        let outbound = usize::from(v.local_dst && !v.local_src);
        v.observed = if v.egress == Egress::Local {
            Some(Egress::Local)
        } else {
            [outbound, 1 - outbound]
                .iter()
                .filter_map(|i| v.next_hop.get(*i).and_then(Option::as_ref))
                .map(|e| e.path)
                .find(|p| *p != Egress::Unknown)
        };
        for (i, changed) in f.hop_changed.iter().enumerate() {
            if *changed {
                note(&format!(
                    "{} next hop changed within the flow",
                    DIR_NAMES.get(i).unwrap_or(&"")
                ));
            }
        }
        for (n, (i, e)) in seen.iter().enumerate() {
            // One note per edge, even when both directions crossed it.
            if seen
                .get(..n)
                .is_some_and(|s| s.iter().any(|x| x.1.name == e.name))
            {
                continue;
            }
            let l = learned.and_then(|l| f.next_hops.get(*i).and_then(|h| l.get(h)));
            if let Some(l) = l {
                note(&l.evidence_note());
            } else if e.path == Egress::Unknown {
                note(&format!("path of edge {} unknown: no evidence yet", e.name));
            }
        }
        if matches!(v.egress, Egress::ExpressRoute | Egress::Internet) {
            for (i, e) in &seen {
                if e.path != v.egress && e.path != Egress::Unknown {
                    note(&format!(
                        "prefix predicts {} but {} crossed edge {} ({})",
                        v.egress.as_str(),
                        DIR_NAMES.get(*i).unwrap_or(&""),
                        e.name,
                        e.path.as_str()
                    ));
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::Arc;

    fn site() -> Site {
        let mut b = EgressDbBuilder::default();
        let set = |id, area: &str, er, ips: &[&str]| O365Set {
            id,
            service_area: Arc::from(area),
            service: None,
            category: Category::Optimize,
            expressroute: er,
            required: true,
            tcp_ports: Arc::from(""),
            udp_ports: Arc::from(""),
            ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
        };
        b.add_o365(
            "o365",
            vec![
                set(11, "Skype", true, &["52.112.0.0/14", "2603:1063::/38"]),
                set(12, "Skype", false, &["13.107.64.0/18"]),
            ],
            &O365Advertised::All,
        );
        let mut edges = Edges::default();
        edges
            .add(
                "er",
                Egress::ExpressRoute,
                &["02:00:00:00:e1:01".into()],
                &[],
                "s",
                1,
            )
            .unwrap();
        edges
            .add(
                "inet",
                Egress::Internet,
                &["02:00:00:00:11:01".into()],
                &[],
                "s",
                2,
            )
            .unwrap();
        let mut onprem = PrefixTable::new();
        onprem.insert(
            "10.9.0.0/24".parse().unwrap(),
            Onprem::new(Role::OnpremServer),
        );
        Site {
            db: b.build(),
            edges,
            callflow: CallFlow::default(),
            profile: Profile::Hybrid,
            onprem,
            onprem_names: Vec::new(),
            circuit: O365Advertised::All,
            circuit_decl: CircuitDecl::Declared(CircuitSource::Config),
            circuit_subnets: PrefixTable::new(),
            edge_rules: EdgeRules::default(),
            buildings: Arc::default(),
        }
    }

    fn facts(src: &str, dst: &str, t: TrafficType, hops: [u8; 2]) -> FlowFacts {
        FlowFacts {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            traffic_type: t,
            hops,
            hop_changed: [false; 2],
            next_hops: [NextHop::default(); 2],
            internet_only: None,
            dst_role: None,
        }
    }

    #[test]
    fn egress_and_conformance() {
        let s = site();
        let l = LocalNets::default();
        // Media to a Teams relay predicted over ER, seen on the Internet edge.
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "52.112.1.1", TrafficType::Media, [2, 2]),
            None,
        );
        assert_eq!(v.egress, Egress::ExpressRoute);
        assert_eq!(v.o365.unwrap().id, 11);
        assert_eq!(v.asymmetric, Some(false));
        assert_eq!(v.expected, Some(ExpectedPath::ExpressRoute));
        assert_eq!(v.conformant, Some(false));
        let note = v.note.unwrap();
        assert!(note.contains("prefix predicts expressroute"), "{note}");
        assert!(note.contains("observed internet at the edge"), "{note}");
        // Asymmetric but both halves conform? No: one half is on the Internet.
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "52.112.1.1", TrafficType::Signaling, [1, 2]),
            None,
        );
        assert_eq!((v.asymmetric, v.conformant), (Some(true), Some(false)));
        // One direction seen at an edge: asymmetry unknown, the path still judged.
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "52.112.1.1", TrafficType::Media, [1, 0]),
            None,
        );
        assert_eq!((v.asymmetric, v.conformant), (None, Some(true)));
        // No edge evidence: prefix prediction decides.
        let v = s.judge(
            &l,
            &facts("2603:1063::5", "fd00::5", TrafficType::Media, [0, 0]),
            None,
        );
        assert_eq!(
            (v.egress, v.direction),
            (Egress::ExpressRoute, FlowDirection::Inbound)
        );
        // A prefix predicts; it observes nothing.
        assert_eq!((v.asymmetric, v.conformant, v.observed), (None, None, None));
        // Non-ER O365 set: internet expected and predicted.
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "13.107.64.9", TrafficType::Signaling, [0, 0]),
            None,
        );
        assert_eq!(
            (v.egress, v.expected, v.conformant),
            (Egress::Internet, Some(ExpectedPath::Internet), None)
        );
        // Local: client to on-prem server (hybrid).
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "10.9.0.3", TrafficType::Signaling, [0, 0]),
            None,
        );
        assert_eq!(
            (v.egress, v.list, v.label),
            (Egress::Local, Some("local"), Some("rfc1918"))
        );
        assert_eq!(
            (v.expected, v.conformant),
            (Some(ExpectedPath::Local), Some(true))
        );
        // Web traffic: no expectation. Documentation address: unknown egress.
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "192.0.2.1", TrafficType::Web, [0, 0]),
            None,
        );
        assert_eq!(
            (v.egress, v.expected, v.conformant),
            (Egress::Unknown, None, None)
        );
        // Public non-O365 address.
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "8.8.4.4", TrafficType::Media, [0, 0]),
            None,
        );
        assert_eq!(
            (v.egress, v.expected, v.conformant),
            (Egress::Internet, Some(ExpectedPath::Internet), None)
        );
    }

    #[test]
    fn without_an_o365_list_public_roles_are_unknown() {
        let s = Site::default();
        let l = LocalNets::default();
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "52.112.1.1", TrafficType::Media, [0, 0]),
            None,
        );
        assert_eq!(
            (v.egress, v.expected, v.conformant),
            (Egress::Internet, None, None)
        );
        let v = s.judge(
            &l,
            &facts("10.0.0.5", "10.0.0.6", TrafficType::Media, [0, 0]),
            None,
        );
        assert_eq!(
            (v.egress, v.expected),
            (Egress::Local, Some(ExpectedPath::Local))
        );
    }

    #[test]
    fn public_addresses() {
        for (a, p) in [
            ("8.8.8.8", true),
            ("100.64.1.1", false),
            ("198.19.0.1", false),
            ("203.0.113.9", false),
            ("240.0.0.1", false),
            ("2a01:111::1", true),
            ("2001:db8::1", false),
            ("fe80::1", false),
        ] {
            assert_eq!(is_public(a.parse().unwrap()), p, "{a}");
        }
    }
}
