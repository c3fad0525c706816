//! The summary printed three ways: aligned text tables for a terminal (also
//! the end of `pathlens read`), one long CSV (`table,key1,key2,metric,value`)
//! that any spreadsheet or BI tool pivots, and a JSON document.

use super::{percentile, MediaGroup, Summary, Totals, TOP};
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

/// The percentiles of the media table.
const PCTS: [(f64, &str); 3] = [(50.0, "p50"), (90.0, "p90"), (95.0, "p95")];

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
    let _ = writeln!(
        s,
        "flows:    {} created, {} records ({}), {} evicted",
        n("flows_created"),
        n("records_written"),
        by_reason(c.get("ended")).join(", "),
        n("evicted")
    );
    s
}

/// Entries largest byte count first, ties by key.
pub(crate) fn sorted<K: Ord>(m: &BTreeMap<K, Totals>) -> Vec<(&K, &Totals)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|x, y| y.1.bytes.cmp(&x.1.bytes).then(x.0.cmp(y.0)));
    v
}

fn totals_line(s: &mut String, a: &str, wa: usize, b: &str, wb: usize, t: &Totals) {
    let _ = writeln!(
        s,
        "{a:<wa$} {b:<wb$} {:>10} {:>12} {:>16}",
        t.flows, t.packets, t.bytes
    );
}

fn totals_header(s: &mut String, a: &str, wa: usize, b: &str, wb: usize) {
    let _ = writeln!(
        s,
        "{a:<wa$} {b:<wb$} {:>10} {:>12} {:>16}",
        "flows", "packets", "bytes"
    );
}

/// One media group's figures: streams, those with a counted window, the
/// percentiles of their worst window's loss and jitter, judged, poor.
struct MediaFigures {
    streams: usize,
    windowed: usize,
    loss: [Option<f64>; 3],
    jitter: [Option<f64>; 3],
    judged: u64,
    poor: u64,
}

impl MediaFigures {
    fn of(g: &MediaGroup) -> Self {
        MediaFigures {
            streams: g.loss_pct.len(),
            windowed: g.loss_window_pct.len(),
            loss: PCTS.map(|(p, _)| percentile(&g.loss_window_pct, p)),
            jitter: PCTS.map(|(p, _)| percentile(&g.jitter_window_ms, p)),
            judged: g.judged,
            poor: g.poor,
        }
    }
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

    /// The text tables, largest byte count first.
    pub fn table(&self) -> String {
        let mut s = String::new();
        totals_header(&mut s, "app_protocol", 14, "transport", 9);
        for ((a, b), t) in sorted(&self.by_app) {
            totals_line(&mut s, a, 14, b, 9, t);
        }
        totals_line(&mut s, "total", 14, "", 9, &self.total);
        s.push('\n');
        s.push_str(&self.egress_table());
        s.push('\n');
        s.push_str(&self.top_tables());
        let flagged = self.flagged_table();
        if !flagged.is_empty() {
            s.push('\n');
            s.push_str(&flagged);
        }
        let media = self.media_table();
        if media.is_empty() {
            s.push_str("\nRTP streams: not measured (no RTP stream in these flows)\n");
        } else {
            s.push_str("\nRTP streams by egress, worst 15 s window of each (loss %, jitter ms):\n");
            s.push_str(&media);
        }
        let paths = self.paths.table();
        if !paths.is_empty() {
            s.push_str("\nEdges, round trips and media marking by observed egress:\n");
            s.push_str(&paths);
        }
        if !self.places.is_empty() {
            s.push_str("\nCalls by building and subnet (poor% = poor / (poor + good) streams; er% = ExpressRoute share of Teams media bytes):\n");
            s.push_str(&self.places.table());
        }
        s
    }

    /// Bytes and flows by traffic type and egress, then the asymmetric and
    /// non-conformant counts.
    pub fn egress_table(&self) -> String {
        let mut s = String::new();
        totals_header(&mut s, "traffic_type", 17, "egress", 13);
        for ((a, b), t) in sorted(&self.by_egress) {
            totals_line(&mut s, a, 17, b, 13, t);
        }
        // Zero found and nothing measured read alike as "0": say which.
        let asymmetric = if self.asymmetry_measured == 0 {
            "not measured (no flow crossed a configured edge router both ways)".to_string()
        } else {
            format!(
                "{} of {} measured",
                self.asymmetric, self.asymmetry_measured
            )
        };
        let conformance = if self.with_expectation == 0 {
            "not measured (no flow with a call-flow expectation)".to_string()
        } else {
            format!(
                "{} of {} with a call-flow expectation",
                self.non_conformant, self.with_expectation
            )
        };
        let _ = writeln!(
            s,
            "asymmetric flows: {asymmetric}; non-conformant flows: {conformance}"
        );
        s
    }

    /// The top services (`-`: none known) and server names by bytes.
    pub fn top_tables(&self) -> String {
        let mut s = String::new();
        totals_header(&mut s, "service", 31, "", 0);
        for (k, t) in Summary::top(&self.services, TOP) {
            totals_line(&mut s, k, 31, "", 0, &t);
        }
        if !self.server_names.is_empty() {
            s.push('\n');
            totals_header(&mut s, "server_name", 31, "", 0);
            for (k, t) in Summary::top(&self.server_names, TOP) {
                totals_line(&mut s, k, 31, "", 0, &t);
            }
        }
        s
    }

    /// The largest asymmetric or non-conformant flows with their notes;
    /// empty when there are none.
    pub fn flagged_table(&self) -> String {
        let mut s = String::new();
        if self.flagged.is_empty() {
            return s;
        }
        let _ = writeln!(
            s,
            "asymmetric or non-conformant flows: {} (largest {} shown)",
            self.flagged_total,
            self.flagged_sorted().len()
        );
        let _ = writeln!(
            s,
            "{:<22} {:<40} {:<16} {:<13} {:<13} {:<24} {:>10}  note",
            "first_seen", "flow", "traffic_type", "egress", "expected", "next_hops", "bytes"
        );
        for f in self.flagged_sorted() {
            let _ = writeln!(
                s,
                "{:<22} {:<40} {:<16} {:<13} {:<13} {:<24} {:>10}  {}{}",
                time_text(f.first_seen_us),
                format!(
                    "{} > {}:{} {}",
                    f.src_ip, f.dst_ip, f.dst_port, f.app_protocol
                ),
                f.traffic_type,
                f.egress,
                f.expected_path.as_deref().unwrap_or("-"),
                f.next_hops,
                f.bytes,
                if f.asymmetric == Some(true) {
                    "asymmetric; "
                } else {
                    ""
                },
                f.path_note.as_deref().unwrap_or("")
            );
        }
        s
    }

    /// The media table: streams by egress, those with a counted 15 s
    /// window, p50/p90/p95 of their worst window's loss and jitter, judged
    /// and poor streams. Empty without RTP.
    pub fn media_table(&self) -> String {
        let mut s = String::new();
        if self.media.is_empty() {
            return s;
        }
        let _ = writeln!(
            s,
            "{:<13} {:>7} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10} {:>6} {:>5}",
            "egress",
            "streams",
            "windowed",
            "loss_p50",
            "loss_p90",
            "loss_p95",
            "jitter_p50",
            "jitter_p90",
            "jitter_p95",
            "judged",
            "poor"
        );
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
        for (k, g) in &self.media {
            let m = MediaFigures::of(g);
            let _ = writeln!(
                s,
                "{:<13} {:>7} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10} {:>6} {:>5}",
                k,
                m.streams,
                m.windowed,
                f(m.loss[0]),
                f(m.loss[1]),
                f(m.loss[2]),
                f(m.jitter[0]),
                f(m.jitter[1]),
                f(m.jitter[2]),
                m.judged,
                m.poor
            );
        }
        if self.rtp_overflow_packets > 0 {
            let _ = writeln!(
                s,
                "{} RTP packets of SSRCs beyond the per-flow cap of {} streams were not tracked",
                self.rtp_overflow_packets,
                pathlens_classify::media::MAX_STREAMS
            );
        }
        s
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
            "paths": {"asymmetric": self.asymmetric, "asymmetry_measured": self.asymmetry_measured, "non_conformant": self.non_conformant, "with_expectation": self.with_expectation},
            "flagged_total": self.flagged_total,
            "flagged": self.flagged_sorted(),
            "services": top("service", &self.services),
            "server_names": top("server_name", &self.server_names),
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

/// A µs timestamp as RFC 3339 UTC to the second.
pub(crate) fn time_text(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
