//! The summary printed three ways: aligned text tables for a terminal (also
//! the end of `pathlens read`), one long CSV (`table,key1,key2,metric,value`)
//! that any spreadsheet or BI tool pivots, and a JSON document.

use super::figures::{sorted, time_text, MediaFigures, PCTS};
use super::{Summary, Totals, TOP};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How `pathlens summary` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text tables.
    Table,
    /// One long CSV.
    Csv,
    /// One JSON document.
    Json,
}

fn num(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

fn by_reason(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, n)| format!("{k} {}", num(Some(n))))
                .collect()
        })
        .unwrap_or_default()
}

/// The `packets:` and `flows:` lines of the run counters (as written to the
/// files' `pathlens.counters`).
pub fn counter_lines(c: &BTreeMap<String, Value>) -> String {
    let n = |k: &str| num(c.get(k));
    let malformed = by_reason(c.get("malformed"));
    let malformed_total: u64 = c
        .get("malformed")
        .and_then(Value::as_object)
        .map_or(0, |m| m.values().map(|v| num(Some(v))).sum());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "packets:  {} read, {} decoded, {} not IP, {} truncated by snaplen, {} fragments ({} untracked), {} malformed{}",
        n("packets_read"),
        n("packets_decoded"),
        n("not_ip"),
        n("truncated"),
        n("fragments"),
        n("fragments_untracked"),
        malformed_total,
        if malformed.is_empty() { String::new() } else { format!(" ({})", malformed.join(", ")) }
    );
    // No record, no reasons: no empty parentheses either.
    let ended = by_reason(c.get("ended"));
    let _ = writeln!(
        s,
        "flows:    {} created, {} records{}, {} evicted",
        n("flows_created"),
        n("records_written"),
        if ended.is_empty() {
            String::new()
        } else {
            format!(" ({})", ended.join(", "))
        },
        n("evicted")
    );
    s
}

impl Summary {
    /// The summary in `format` (tables, CSV or JSON).
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Csv => self.csv(),
            Format::Json => {
                let mut s = serde_json::to_string_pretty(&self.json()).unwrap_or_default();
                s.push('\n');
                s
            }
        }
    }

    /// The text tables, largest byte count first: every table of
    /// [`Summary::tables`], as the terminal lays them out.
    pub fn table(&self) -> String {
        super::tables_text(&self.tables())
    }

    /// The text of one table of [`Summary::tables`] by id (empty when it
    /// says nothing).
    pub fn table_text(&self, id: &str) -> String {
        self.tables()
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.text(false))
            .unwrap_or_default()
    }

    /// Everything as one JSON value.
    pub fn json(&self) -> Value {
        let totals = |names: (&str, &str), (a, b): (&String, &String), t: &Totals| json!({names.0: a, names.1: b, "flows": t.flows, "packets": t.packets, "bytes": t.bytes});
        let top = |key: &str, m| {
            Summary::top(m, TOP)
                .into_iter()
                .map(|(k, t)| json!({key: k, "flows": t.flows, "packets": t.packets, "bytes": t.bytes}))
                .collect::<Vec<_>>()
        };
        let media: Vec<Value> = self
            .media
            .iter()
            .map(|(k, g)| {
                let m = MediaFigures::of(g);
                let mut o = Map::new();
                o.insert("egress".into(), json!(k));
                o.insert("streams".into(), json!(m.streams));
                o.insert("windowed".into(), json!(m.windowed));
                for (i, (_, p)) in PCTS.iter().enumerate() {
                    o.insert(format!("loss_window_{p}"), json!(m.loss[i]));
                    o.insert(format!("jitter_window_{p}"), json!(m.jitter[i]));
                }
                o.insert("judged".into(), json!(m.judged));
                o.insert("poor".into(), json!(m.poor));
                Value::Object(o)
            })
            .collect();
        json!({
            "runs": self.runs.iter().map(|(id, inputs)| json!({"run_id": id, "inputs": inputs})).collect::<Vec<_>>(),
            "counters": self.counters,
            "total": self.total,
            "by_app": sorted(&self.by_app).into_iter().map(|((a, b), t)| totals(("app_protocol", "transport"), (a, b), t)).collect::<Vec<_>>(),
            "by_egress": sorted(&self.by_egress).into_iter().map(|((a, b), t)| totals(("traffic_type", "egress"), (a, b), t)).collect::<Vec<_>>(),
            "paths": {"asymmetric": self.asymmetric, "asymmetry_measured": self.asymmetry_measured, "non_conformant": self.non_conformant, "with_expectation": self.with_expectation, "judged_observed": self.judged_observed, "expected_only": self.expected_only},
            "circuit": self.circuit,
            "segment_pools": self.segment.json(),
            "flagged_total": self.flagged_total,
            "flagged": self.flagged_sorted(),
            "poor_total": self.poor_total,
            "poor_streams": self.poor_sorted(),
            "services": top("service", &self.services),
            "server_names": top("server_name", &self.server_names),
            "tunnels": top("tunnel", &self.tunnels),
            "media": media,
            "rtp_overflow_packets": self.rtp_overflow_packets,
            "paths_seen": self.paths.json(),
            "places": self.places.json(),
        })
    }

    /// Everything as one long CSV: `table,key1,key2,metric,value`.
    pub fn csv(&self) -> String {
        let mut c = Csv(String::from("table,key1,key2,metric,value\n"));
        for (id, inputs) in &self.runs {
            c.row("runs", id, "", "inputs", inputs.join(" "));
        }
        for (k, v) in &self.counters {
            c.row("counters", k, "", "value", v);
        }
        c.totals("total", "", "", &self.total);
        for ((a, b), t) in sorted(&self.by_app) {
            c.totals("by_app", a, b, t);
        }
        for ((a, b), t) in sorted(&self.by_egress) {
            c.totals("by_egress", a, b, t);
        }
        c.row("paths", "", "", "asymmetric", self.asymmetric);
        c.row(
            "paths",
            "",
            "",
            "asymmetry_measured",
            self.asymmetry_measured,
        );
        c.row("paths", "", "", "non_conformant", self.non_conformant);
        c.row("paths", "", "", "with_expectation", self.with_expectation);
        c.row("paths", "", "", "flagged", self.flagged_total);
        for (k, t) in Summary::top(&self.services, TOP) {
            c.totals("services", k, "", &t);
        }
        for (k, t) in Summary::top(&self.server_names, TOP) {
            c.totals("server_names", k, "", &t);
        }
        for (k, t) in Summary::top(&self.tunnels, TOP) {
            c.totals("tunnels", k, "", &t);
        }
        for f in self.flagged_sorted() {
            let k1 = format!("{} > {}:{}", f.src_ip, f.dst_ip, f.dst_port);
            let k2 = time_text(f.first_seen_us);
            let opt = |v: &Option<String>| v.clone().unwrap_or_default();
            let b = |v: Option<bool>| v.map_or(String::new(), |x| x.to_string());
            for (m, v) in [
                ("app_protocol", f.app_protocol.clone()),
                ("traffic_type", f.traffic_type.clone()),
                ("egress", f.egress.clone()),
                ("expected_path", opt(&f.expected_path)),
                ("next_hops", f.next_hops.clone()),
                ("asymmetric", b(f.asymmetric)),
                ("path_conformant", b(f.path_conformant)),
                ("path_note", opt(&f.path_note)),
                ("bytes", f.bytes.to_string()),
            ] {
                c.row("flagged", &k1, &k2, m, v);
            }
        }
        let o = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
        for (k, g) in &self.media {
            let m = MediaFigures::of(g);
            c.row("media", k, "", "streams", m.streams);
            c.row("media", k, "", "windowed", m.windowed);
            for (i, (_, p)) in PCTS.iter().enumerate() {
                c.row("media", k, "", &format!("loss_window_{p}"), o(m.loss[i]));
                c.row(
                    "media",
                    k,
                    "",
                    &format!("jitter_window_{p}"),
                    o(m.jitter[i]),
                );
            }
            c.row("media", k, "", "judged", m.judged);
            c.row("media", k, "", "poor", m.poor);
        }
        c.row(
            "media",
            "",
            "",
            "rtp_overflow_packets",
            self.rtp_overflow_packets,
        );
        for (table, key, metric, v) in self.places.csv_rows() {
            c.row(table, &key, "", metric, v);
        }
        c.0
    }
}

/// The long CSV being written.
struct Csv(String);

impl Csv {
    fn row(&mut self, table: &str, k1: &str, k2: &str, metric: &str, v: impl std::fmt::Display) {
        let _ = writeln!(
            self.0,
            "{},{},{},{},{}",
            csv_field(table),
            csv_field(k1),
            csv_field(k2),
            csv_field(metric),
            csv_field(&v.to_string())
        );
    }

    fn totals(&mut self, table: &str, k1: &str, k2: &str, t: &Totals) {
        self.row(table, k1, k2, "flows", t.flows);
        self.row(table, k1, k2, "packets", t.packets);
        self.row(table, k1, k2, "bytes", t.bytes);
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
