//! Calls and streams by building and by subnet, as CQD reports them: from
//! the calls table (or the calls the writer just closed), each call counted
//! in its client's building and subnet of the building file.
//!
//! Poor % follows CQD: poor / (poor + good) streams, unjudged streams left
//! out. The Teams media share is of the bytes of the calls' Teams media
//! flows by their `egress` (the path predicted for the building), and its
//! conformance of the Teams calls whose media paths were judged.

use super::tables::{Cell, Column, Table};
use crate::calls_table::CallRecord;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One call as the summary counts it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallRow {
    /// `first_seen`, µs.
    pub first_us: i64,
    /// `building` (`-` when null).
    pub building: String,
    /// `subnet` (`-` when null).
    pub subnet: String,
    /// `one_way_audio`.
    pub one_way: bool,
    /// `quality` is poor.
    pub poor: bool,
    /// `streams`.
    pub streams: u64,
    /// `poor_streams`.
    pub poor_streams: u64,
    /// `good_streams`.
    pub good_streams: u64,
    /// `teams`.
    pub teams: bool,
    /// `teams_bytes_expressroute`.
    pub teams_bytes_expressroute: u64,
    /// `teams_bytes_internet`.
    pub teams_bytes_internet: u64,
    /// `path_conformant`.
    pub conformant: Option<bool>,
}

impl CallRow {
    /// The row of a call the writer closed.
    pub fn of(r: &CallRecord) -> Self {
        let c = &r.call;
        let key = |v: Option<&str>| v.unwrap_or("-").to_string();
        CallRow {
            first_us: c.first_us,
            building: key(c.building.as_deref().map(|b| &*b.name)),
            subnet: key(c.building.as_deref().map(|b| &*b.subnet)),
            one_way: c.one_way_audio == Some(true),
            poor: c.quality == Some(pathlens_classify::media::Quality::Poor),
            streams: u64::from(c.streams),
            poor_streams: u64::from(c.poor_streams),
            good_streams: u64::from(c.good_streams),
            teams: c.teams,
            teams_bytes_expressroute: c.teams_bytes[0],
            teams_bytes_internet: c.teams_bytes[1],
            conformant: c.conformant,
        }
    }
}

/// The figures of one building or subnet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlaceFigures {
    /// Calls.
    pub calls: u64,
    /// Calls whose quality is poor (worst leg).
    pub poor_calls: u64,
    /// Calls with one-way audio.
    pub one_way_calls: u64,
    /// RTP streams of its calls.
    pub streams: u64,
    /// Streams judged poor.
    pub poor_streams: u64,
    /// Streams judged good.
    pub good_streams: u64,
    /// Teams media bytes predicted over ExpressRoute.
    pub teams_bytes_expressroute: u64,
    /// Teams media bytes predicted over the Internet.
    pub teams_bytes_internet: u64,
    /// Teams calls whose media paths were judged.
    pub teams_calls_judged: u64,
    /// Of which every judged path conformed.
    pub teams_calls_conformant: u64,
}

impl PlaceFigures {
    fn add(&mut self, c: &CallRow) {
        self.calls += 1;
        self.poor_calls += u64::from(c.poor);
        self.one_way_calls += u64::from(c.one_way);
        self.streams += c.streams;
        self.poor_streams += c.poor_streams;
        self.good_streams += c.good_streams;
        self.teams_bytes_expressroute += c.teams_bytes_expressroute;
        self.teams_bytes_internet += c.teams_bytes_internet;
        if c.teams {
            if let Some(ok) = c.conformant {
                self.teams_calls_judged += 1;
                self.teams_calls_conformant += u64::from(ok);
            }
        }
    }

    /// CQD's Poor %: poor / (poor + good) streams; None when none was judged.
    pub fn poor_pct(&self) -> Option<f64> {
        pct(self.poor_streams, self.poor_streams + self.good_streams)
    }

    /// ExpressRoute's share of the Teams media bytes that left the site.
    pub fn expressroute_pct(&self) -> Option<f64> {
        pct(
            self.teams_bytes_expressroute,
            self.teams_bytes_expressroute + self.teams_bytes_internet,
        )
    }

    /// Share of the judged Teams calls whose paths conformed.
    pub fn conformant_pct(&self) -> Option<f64> {
        pct(self.teams_calls_conformant, self.teams_calls_judged)
    }
}

#[allow(clippy::cast_precision_loss)]
fn pct(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| 100.0 * a as f64 / b as f64)
}

/// Calls by building and by subnet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Places {
    /// By BuildingName (`-`: no building).
    pub by_building: BTreeMap<String, PlaceFigures>,
    /// By subnet (`-`: no building).
    pub by_subnet: BTreeMap<String, PlaceFigures>,
}

impl Places {
    /// Counts one call.
    pub fn add(&mut self, c: &CallRow) {
        self.by_building
            .entry(c.building.clone())
            .or_default()
            .add(c);
        self.by_subnet.entry(c.subnet.clone()).or_default().add(c);
    }

    /// Whether no call was counted.
    pub fn is_empty(&self) -> bool {
        self.by_building.is_empty()
    }

    fn tables_by(&self) -> [(&'static str, &BTreeMap<String, PlaceFigures>); 2] {
        [
            ("by_building", &self.by_building),
            ("by_subnet", &self.by_subnet),
        ]
    }

    /// The two tables of [`crate::summary::Summary::tables`]: by building,
    /// then by subnet right under it.
    pub fn tables(&self) -> Vec<Table> {
        let mut out = Vec::new();
        for (i, (id, m)) in self.tables_by().into_iter().enumerate() {
            let key = if id == "by_building" {
                "building"
            } else {
                "subnet"
            };
            let title = if id == "by_building" {
                "Calls by building (building file)"
            } else {
                "Calls by subnet (building file)"
            };
            let mut t = super::tables::table(
                id,
                title,
                vec![
                    Column::text(key, 24),
                    Column::num("calls", 6),
                    Column::num("one_way", 8),
                    Column::num("streams", 8),
                    Column::num("poor", 8),
                    Column::num("poor%", 6),
                    Column::num("er%", 7),
                    Column::num("teams_er", 10),
                    Column::num("teams_inet", 10),
                    Column::num("conform%", 8),
                ],
            );
            if i == 0 {
                t.caption = Some("Calls by building and subnet (poor% = poor / (poor + good) streams; er% = ExpressRoute share of Teams media bytes):".into());
            }
            t.rows = m
                .iter()
                .map(|(k, f)| {
                    vec![
                        Cell::Text(k.clone()),
                        Cell::Int(f.calls),
                        Cell::Int(f.one_way_calls),
                        Cell::Int(f.streams),
                        Cell::Int(f.poor_streams),
                        Cell::Num(f.poor_pct()),
                        Cell::Num(f.expressroute_pct()),
                        Cell::Int(f.teams_bytes_expressroute),
                        Cell::Int(f.teams_bytes_internet),
                        Cell::Num(f.conformant_pct()),
                    ]
                })
                .collect();
            out.push(t);
        }
        out
    }

    /// `by_building` and `by_subnet` as JSON arrays.
    pub fn json(&self) -> Value {
        let mut o = serde_json::Map::new();
        for (name, m) in self.tables_by() {
            let key = if name == "by_building" {
                "building"
            } else {
                "subnet"
            };
            let rows: Vec<Value> = m
                .iter()
                .map(|(k, f)| {
                    let mut v = json!(f);
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert(key.into(), json!(k));
                        obj.insert("poor_pct".into(), json!(f.poor_pct()));
                        obj.insert("expressroute_pct".into(), json!(f.expressroute_pct()));
                        obj.insert("conformant_pct".into(), json!(f.conformant_pct()));
                    }
                    v
                })
                .collect();
            o.insert(name.into(), Value::Array(rows));
        }
        Value::Object(o)
    }

    /// The long CSV's rows: (table, key, metric, value).
    pub fn csv_rows(&self) -> Vec<(&'static str, String, &'static str, String)> {
        let mut out = Vec::new();
        for (name, m) in self.tables_by() {
            for (k, f) in m {
                let o = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
                for (metric, v) in [
                    ("calls", f.calls.to_string()),
                    ("poor_calls", f.poor_calls.to_string()),
                    ("one_way_calls", f.one_way_calls.to_string()),
                    ("streams", f.streams.to_string()),
                    ("poor_streams", f.poor_streams.to_string()),
                    ("good_streams", f.good_streams.to_string()),
                    ("poor_pct", o(f.poor_pct())),
                    (
                        "teams_bytes_expressroute",
                        f.teams_bytes_expressroute.to_string(),
                    ),
                    ("teams_bytes_internet", f.teams_bytes_internet.to_string()),
                    ("expressroute_pct", o(f.expressroute_pct())),
                    ("teams_calls_judged", f.teams_calls_judged.to_string()),
                    (
                        "teams_calls_conformant",
                        f.teams_calls_conformant.to_string(),
                    ),
                    ("conformant_pct", o(f.conformant_pct())),
                ] {
                    out.push((name, k.clone(), metric, v));
                }
            }
        }
        out
    }
}
