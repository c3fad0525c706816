//! The path part of the summary: the edges found (next hop, path, flows,
//! bytes, one-way flows), Office 365 ExpressRoute traffic seen on the
//! Internet edge, handshake and STUN round trips by observed egress, and
//! media bytes by DSCP and egress. Aggregated from rows like the rest.

use super::tables::{rtt_rows, table};
use super::{percentile, Cell, Column, FlowRow, Table, Totals};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One edge as found in the rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EdgeFigures {
    /// The next hop (MAC, VLAN) of its first row.
    pub next_hop: String,
    /// Its path as the rows saw it (`unknown` when undecided).
    pub path: String,
    /// Flows, packets and bytes that crossed it.
    pub totals: Totals,
    /// Flows seen one way only (an unanswered SYN or STUN request, UDP
    /// without a reply): what a stateful firewall on the return path leaves.
    pub one_way: u64,
    /// The evidence behind its path, from the `path_note` of its latest
    /// flow that gives it (flows counted, shares).
    pub evidence: String,
    #[serde(skip)]
    evidence_at: i64,
}

/// The part of a `path_note` that gives the evidence behind edge `name`.
fn evidence_of<'n>(note: &'n str, name: &str) -> Option<&'n str> {
    note.split("; ").find(|p| {
        p.contains(&format!("edge {name} "))
            && (p.starts_with("edge ")
                || p.starts_with("path of edge ")
                || p.starts_with("circuit observed"))
    })
}

/// The path figures of a summary.
#[derive(Clone, Debug, Default)]
pub struct Paths {
    /// By edge name.
    pub edges: BTreeMap<String, EdgeFigures>,
    /// Flows whose remote end is advertised over ExpressRoute but whose
    /// observed path is the Internet.
    pub er_on_internet: Totals,
    /// Server-side handshake round trips (ms) by observed egress.
    pub server_rtt_ms: BTreeMap<String, Vec<f64>>,
    /// STUN round trips (ms) by observed egress.
    pub stun_rtt_ms: BTreeMap<String, Vec<f64>>,
    /// Media bytes by (observed egress, DSCP).
    pub media_dscp: BTreeMap<(String, i64), u64>,
}

/// The value under `k`, inserted empty the first time: the key is copied
/// only then, not for every row counted under it.
/// (Always `Some`.)
fn slot<'m, V: Default>(m: &'m mut BTreeMap<String, V>, k: &str) -> Option<&'m mut V> {
    if !m.contains_key(k) {
        m.insert(k.to_string(), V::default());
    }
    m.get_mut(k)
}

impl Paths {
    /// Counts one row.
    pub fn add(&mut self, r: &FlowRow<'_>) {
        let p = &r.path;
        let observed = p.observed.unwrap_or("-");
        // The local sender's direction decides the edge's path.
        let out = usize::from(r.local_dst && !r.local_src);
        let deciding = p.edges.get(out).copied().flatten().or(p
            .edges
            .get(1 - out)
            .copied()
            .flatten());
        let one_way = (p.packets[0] == 0) != (p.packets[1] == 0);
        for (i, e) in p.edges.iter().enumerate() {
            let Some(e) = e else { continue };
            if i == 1 && p.edges[0] == Some(e) {
                continue;
            }
            let Some(f) = slot(&mut self.edges, e) else {
                continue;
            };
            if f.next_hop.is_empty() {
                f.next_hop = p.next_hops[i].unwrap_or("").to_string();
            }
            if deciding == Some(e) && (f.path.is_empty() || f.path == "unknown") {
                f.path = p.observed.unwrap_or("unknown").to_string();
            }
            if f.path.is_empty() {
                f.path = "unknown".to_string();
            }
            if let Some(ev) = r.path_note.and_then(|n| evidence_of(n, e)) {
                if f.evidence.is_empty() || r.first_seen_us >= f.evidence_at {
                    f.evidence = ev.to_string();
                    f.evidence_at = r.first_seen_us;
                }
            }
            f.totals.flows += 1;
            f.totals.packets += r.packets;
            f.totals.bytes += r.bytes;
            f.one_way += u64::from(one_way);
        }
        if r.egress == "expressroute" && p.observed == Some("internet") {
            self.er_on_internet.flows += 1;
            self.er_on_internet.packets += r.packets;
            self.er_on_internet.bytes += r.bytes;
        }
        if let Some(v) = p.server_rtt_ms {
            if let Some(s) = slot(&mut self.server_rtt_ms, observed) {
                s.push(v);
            }
        }
        if let Some(v) = p.stun_rtt_ms {
            if let Some(s) = slot(&mut self.stun_rtt_ms, observed) {
                s.push(v);
            }
        }
        if r.traffic_type == "media" {
            for (d, b) in p.dscp.iter().zip(p.bytes) {
                if let Some(d) = d {
                    *self
                        .media_dscp
                        .entry((observed.to_string(), *d))
                        .or_default() += b;
                }
            }
        }
    }

    /// The tables: edges, round trips, media bytes by DSCP (each empty
    /// when there is nothing to show), under one caption in the terminal.
    pub fn tables(&self) -> Vec<Table> {
        let caption = Some("Edges, round trips and media marking by observed egress:".to_string());
        let mut edges = table(
            "edges",
            "Edges by next hop and path",
            vec![
                Column::text("edge", 28),
                Column::text("next_hop", 30),
                Column::text("path", 12),
                Column::num("flows", 8),
                Column::num("bytes", 14),
                Column::num("one_way", 8),
                Column::text("evidence", 0),
            ],
        );
        edges.caption.clone_from(&caption);
        edges.rows = self
            .edges
            .iter()
            .map(|(name, e)| {
                vec![
                    name.as_str().into(),
                    e.next_hop.as_str().into(),
                    e.path.as_str().into(),
                    Cell::Int(e.totals.flows),
                    Cell::Int(e.totals.bytes),
                    Cell::Int(e.one_way),
                    if e.evidence.is_empty() {
                        "-".into()
                    } else {
                        e.evidence.as_str().into()
                    },
                ]
            })
            .collect();
        if !edges.rows.is_empty() {
            edges.notes.push(format!(
                "Office 365 ExpressRoute traffic on the Internet edge: {} flows, {} bytes",
                self.er_on_internet.flows, self.er_on_internet.bytes
            ));
        }
        let mut rtt = table(
            "round_trips",
            "Round trips by observed egress (ms)",
            vec![
                Column::text("round_trip", 0),
                Column::text("egress", 0),
                Column::num("flows", 0),
                Column::num("p50_ms", 0),
                Column::num("p90_ms", 0),
            ],
        );
        let (mut rows, mut lines) = (Vec::new(), Vec::new());
        rtt_rows(
            "server-side handshake RTT",
            &self.server_rtt_ms,
            &mut rows,
            &mut lines,
        );
        rtt_rows("STUN RTT", &self.stun_rtt_ms, &mut rows, &mut lines);
        rtt.rows = rows;
        rtt.sentences = Some(lines);
        rtt.caption.clone_from(&caption);
        rtt.joined = true;
        let mut dscp = table(
            "media_dscp",
            "Media bytes by observed egress and DSCP",
            vec![
                Column::text("egress", 0),
                Column::num("dscp", 0),
                Column::num("bytes", 0),
            ],
        );
        dscp.rows = self
            .media_dscp
            .iter()
            .map(|((e, d), b)| {
                vec![
                    e.as_str().into(),
                    Cell::Int(u64::try_from(*d).unwrap_or(0)),
                    Cell::Int(*b),
                ]
            })
            .collect();
        dscp.sentences = Some(
            self.media_dscp
                .iter()
                .map(|((e, d), b)| format!("media bytes via {e} marked DSCP {d}: {b}"))
                .collect(),
        );
        dscp.caption = caption;
        dscp.joined = true;
        vec![edges, rtt, dscp]
    }

    /// The JSON object.
    pub fn json(&self) -> Value {
        let pct = |m: &BTreeMap<String, Vec<f64>>| {
            m.iter()
                .map(|(k, v)| {
                    json!({"egress": k, "flows": v.len(), "p50_ms": percentile(v, 50.0), "p90_ms": percentile(v, 90.0)})
                })
                .collect::<Vec<_>>()
        };
        json!({
            "edges": self.edges.iter().map(|(k, e)| json!({"edge": k, "next_hop": e.next_hop, "path": e.path, "flows": e.totals.flows, "packets": e.totals.packets, "bytes": e.totals.bytes, "one_way": e.one_way, "evidence": e.evidence})).collect::<Vec<_>>(),
            "expressroute_on_internet": self.er_on_internet,
            "server_rtt": pct(&self.server_rtt_ms),
            "stun_rtt": pct(&self.stun_rtt_ms),
            "media_bytes_by_dscp": self.media_dscp.iter().map(|((e, d), b)| json!({"egress": e, "dscp": d, "bytes": b})).collect::<Vec<_>>(),
        })
    }
}
