//! The summary as a list of tables: the one shape the terminal text and the
//! HTML report both draw, so a table added to [`Summary::tables`] appears in
//! `pathlens summary`, at the end of `read` and in the report without any
//! code of theirs. Each table keeps its figures as cells (numbers stay
//! numbers, so the report sorts them) and says how the terminal lays it out.

use super::{percentile, time_text, MediaFigures, Summary, Totals, PCTS, TOP};
use std::fmt::Write;

/// One value of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text, shown as it is.
    Text(String),
    /// A count.
    Int(u64),
    /// A measured figure (two decimals), `-` when not measured.
    Num(Option<f64>),
    /// A time, µs since the Unix epoch, shown as RFC 3339 UTC.
    Time(i64),
}

impl Cell {
    /// The text a terminal and a page show.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(v) => v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}")),
            Cell::Time(us) => time_text(*us),
        }
    }

    /// The value a sort compares: numbers as numbers, the rest as text.
    pub fn sort_key(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        match self {
            Cell::Int(n) => Some(*n as f64),
            Cell::Num(v) => *v,
            Cell::Time(us) => Some(*us as f64),
            Cell::Text(_) => None,
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<u64> for Cell {
    fn from(n: u64) -> Self {
        Cell::Int(n)
    }
}

impl From<usize> for Cell {
    fn from(n: usize) -> Self {
        Cell::Int(u64::try_from(n).unwrap_or(u64::MAX))
    }
}

/// A column: its name and its width in the terminal (numbers align right).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Header.
    pub name: String,
    /// Terminal width (0: as wide as the value).
    pub width: usize,
    /// Aligned right (numbers).
    pub right: bool,
}

impl Column {
    /// A left-aligned text column.
    pub fn text(name: &str, width: usize) -> Self {
        Column {
            name: name.into(),
            width,
            right: false,
        }
    }

    /// A right-aligned number column.
    pub fn num(name: &str, width: usize) -> Self {
        Column {
            name: name.into(),
            width,
            right: true,
        }
    }
}

/// One table of the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Stable id (the CSV/JSON name where there is one; the page's anchor).
    pub id: &'static str,
    /// What the table shows, as the report's heading.
    pub title: String,
    /// A line printed above the table in the terminal.
    pub caption: Option<String>,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// Lines printed after the rows (totals, caveats).
    pub notes: Vec<String>,
    /// The terminal shows one sentence per row instead of columns.
    pub sentences: Option<Vec<String>>,
    /// What the terminal says when there are no rows (nothing when None).
    pub empty: Option<String>,
    /// Printed right under the previous table, with no blank line (its
    /// caption only when the previous printed nothing).
    pub joined: bool,
    /// Rows of flows or streams someone looks up in a capture: the report
    /// makes the table sortable.
    pub listing: bool,
    /// Shown only in the report (a view of another table's rows).
    pub page_only: bool,
}

impl Table {
    fn new(id: &'static str, title: &str, columns: Vec<Column>) -> Self {
        Table {
            id,
            title: title.into(),
            columns,
            ..Table::default()
        }
    }

    /// The column named `name`, if any.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    fn line(&self, s: &mut String, cells: &[String]) {
        let mut l = String::new();
        for (i, (c, v)) in self.columns.iter().zip(cells).enumerate() {
            if i > 0 {
                l.push(' ');
            }
            let w = c.width;
            let _ = if c.right {
                write!(l, "{v:>w$}")
            } else {
                write!(l, "{v:<w$}")
            };
        }
        s.push_str(l.trim_end());
        s.push('\n');
    }

    /// The terminal form: caption, header and rows (or one sentence per
    /// row), then the notes. Empty when there is nothing to say.
    pub fn text(&self, caption: bool) -> String {
        let mut s = String::new();
        if self.page_only {
            return s;
        }
        if self.rows.is_empty() {
            if let Some(e) = &self.empty {
                s.push_str(e);
                s.push('\n');
            }
            return s;
        }
        if let (true, Some(c)) = (caption, &self.caption) {
            s.push_str(c);
            s.push('\n');
        }
        if let Some(lines) = &self.sentences {
            for l in lines {
                s.push_str(l);
                s.push('\n');
            }
        } else {
            let head: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
            self.line(&mut s, &head);
            for r in &self.rows {
                let cells: Vec<String> = r.iter().map(Cell::text).collect();
                self.line(&mut s, &cells);
            }
        }
        for n in &self.notes {
            s.push_str(n);
            s.push('\n');
        }
        s
    }
}

/// The terminal text of a list of tables: blank lines between them, joined
/// tables right under the one before.
pub fn text(tables: &[Table]) -> String {
    let mut s = String::new();
    let mut prev_printed = false;
    for t in tables {
        let under = t.joined && prev_printed;
        let body = t.text(!under);
        if body.is_empty() {
            prev_printed = prev_printed && t.joined;
            continue;
        }
        if !s.is_empty() && !under {
            s.push('\n');
        }
        s.push_str(&body);
        prev_printed = true;
    }
    s
}

fn totals_cols(key: &[(&str, usize)]) -> Vec<Column> {
    let mut c: Vec<Column> = key.iter().map(|(n, w)| Column::text(n, *w)).collect();
    c.extend([
        Column::num("flows", 10),
        Column::num("packets", 12),
        Column::num("bytes", 16),
    ]);
    c
}

fn totals_cells(keys: &[&str], t: &Totals) -> Vec<Cell> {
    let mut v: Vec<Cell> = keys.iter().map(|k| Cell::from(*k)).collect();
    v.extend([t.flows, t.packets, t.bytes].map(Cell::Int));
    v
}

impl Summary {
    /// Every table of the summary, in the order they are printed.
    pub fn tables(&self) -> Vec<Table> {
        let mut v = vec![
            self.by_app_table(),
            self.by_egress_table(),
            self.top_table("services", "Top services", "service", &self.services),
            self.top_table(
                "server_names",
                "Top server names",
                "server_name",
                &self.server_names,
            ),
            self.flagged_listing(),
        ];
        let mut nonconf = v[4].clone();
        nonconf.id = "non_conformant";
        nonconf.title = "Non-conformant flows (of the flagged flows listed)".into();
        nonconf.caption = None;
        nonconf.sentences = None;
        nonconf.page_only = true;
        nonconf.rows = self
            .flagged_sorted()
            .iter()
            .zip(&v[4].rows)
            .filter(|(f, _)| f.path_conformant == Some(false))
            .map(|(_, r)| r.clone())
            .collect();
        v.push(nonconf);
        v.push(self.media_figures_table());
        if !self.tunnels.is_empty() {
            // Only for mirror feeds and tunnels: most captures have none.
            v.insert(
                4,
                self.top_table(
                    "tunnels",
                    "Mirror sessions and tunnel networks (encapsulation and id)",
                    "tunnel",
                    &self.tunnels,
                ),
            );
        }
        v.extend(self.paths.tables());
        v.push(self.segment.table());
        v.push(self.poor_streams_listing());
        v.extend(self.places.tables());
        v
    }

    fn by_app_table(&self) -> Table {
        let mut t = Table::new(
            "by_app",
            "Flows by app protocol and transport",
            totals_cols(&[("app_protocol", 14), ("transport", 9)]),
        );
        t.rows = super::sorted(&self.by_app)
            .into_iter()
            .map(|((a, b), x)| totals_cells(&[a, b], x))
            .collect();
        t.rows.push(totals_cells(&["total", ""], &self.total));
        t
    }

    fn by_egress_table(&self) -> Table {
        let mut t = Table::new(
            "by_egress",
            "Flows by traffic type and path (observed, else predicted)",
            totals_cols(&[("traffic_type", 17), ("path", 26)]),
        );
        t.rows = super::sorted(&self.by_egress)
            .into_iter()
            .map(|((a, b), x)| totals_cells(&[a, b], x))
            .collect();
        t.notes.push(
            "path: observed at an edge where one was seen, else `(predicted)` from prefixes"
                .to_string(),
        );
        t.notes
            .extend(self.circuit.iter().map(|c| format!("circuit: {c}")));
        // Zero found and nothing measured read alike as "0": say which.
        let asymmetric = if self.asymmetry_measured == 0 {
            "not measured (no flow crossed a configured edge router both ways)".to_string()
        } else {
            format!(
                "{} of {} measured",
                self.asymmetric, self.asymmetry_measured
            )
        };
        t.notes.push(format!("asymmetric flows: {asymmetric}"));
        let without = self.total.flows.saturating_sub(self.with_expectation);
        t.notes.push(if self.with_expectation == 0 {
            "call-flow conformance: not measured (no flow with a call-flow expectation)".to_string()
        } else {
            format!(
                "call-flow conformance: {} of {} flows judged on observed evidence non-conformant; {} only predicted (no path observed); {} without an expectation",
                self.non_conformant, self.judged_observed, self.expected_only, without
            )
        });
        t.empty = Some(t.notes.join("\n"));
        t
    }

    fn top_table(
        &self,
        id: &'static str,
        title: &str,
        key: &str,
        m: &std::collections::HashMap<String, Totals>,
    ) -> Table {
        // The service table's key column is two columns wide in the
        // terminal, as it always was.
        let mut cols = totals_cols(&[(key, 31)]);
        cols[1].width = 11;
        let mut t = Table::new(id, title, cols);
        t.rows = Summary::top(m, TOP)
            .into_iter()
            .map(|(k, x)| totals_cells(&[k], &x))
            .collect();
        if id == "services" {
            // Printed even when empty, as the header of the top tables.
            t.empty = Some(format!(
                "{:<31}  {:>10} {:>12} {:>16}",
                key, "flows", "packets", "bytes"
            ));
        }
        t
    }

    fn flagged_listing(&self) -> Table {
        let mut t = Table::new(
            "flagged",
            "Asymmetric and non-conformant flows",
            vec![
                Column::text("first_seen", 22),
                Column::text("flow", 40),
                Column::text("traffic_type", 16),
                Column::text("egress", 13),
                Column::text("expected", 13),
                Column::text("next_hops", 24),
                Column::num("bytes", 10),
                Column::text("note", 0),
                Column::text("community_id", 0),
            ],
        );
        let shown = self.flagged_sorted();
        t.caption = Some(format!(
            "asymmetric or non-conformant flows: {} (largest {} shown)",
            self.flagged_total,
            shown.len()
        ));
        t.listing = true;
        let mut lines = vec![format!(
            "{:<22} {:<40} {:<16} {:<13} {:<13} {:<24} {:>10}  note",
            "first_seen", "flow", "traffic_type", "egress", "expected", "next_hops", "bytes"
        )];
        for f in shown {
            let note = format!(
                "{}{}",
                if f.asymmetric == Some(true) {
                    "asymmetric; "
                } else {
                    ""
                },
                f.path_note.as_deref().unwrap_or("")
            );
            let flow = f.five_tuple();
            let expected = f.expected_path.as_deref().unwrap_or("-");
            lines.push(format!(
                "{:<22} {:<40} {:<16} {:<13} {:<13} {:<24} {:>10}  {note}",
                time_text(f.first_seen_us),
                flow,
                f.traffic_type,
                f.egress,
                expected,
                f.next_hops,
                f.bytes,
            ));
            t.rows.push(vec![
                Cell::Time(f.first_seen_us),
                Cell::Text(flow),
                f.traffic_type.as_str().into(),
                f.egress.as_str().into(),
                expected.into(),
                f.next_hops.as_str().into(),
                Cell::Int(f.bytes),
                Cell::Text(note),
                f.community_id.as_deref().unwrap_or("").into(),
            ]);
        }
        // The terminal keeps its layout: the community id only on the page.
        t.sentences = Some(lines);
        t
    }

    fn media_figures_table(&self) -> Table {
        let mut cols = vec![
            Column::text("path", 26),
            Column::num("streams", 7),
            Column::num("windowed", 8),
        ];
        for (w, what) in [(8, "loss"), (10, "jitter")] {
            for (_, p) in PCTS {
                cols.push(Column::num(&format!("{what}_{p}"), w));
            }
        }
        cols.extend([Column::num("judged", 6), Column::num("poor", 5)]);
        let mut t = Table::new(
            "media",
            "RTP streams by path (observed, else predicted): percentiles of each stream's worst 15 s window (loss %, jitter ms)",
            cols,
        );
        t.caption =
            Some("RTP streams by path (observed, else predicted), worst 15 s window of each (loss %, jitter ms):".into());
        t.empty = Some("RTP streams: not measured (no RTP stream in these flows)".into());
        t.rows = self
            .media
            .iter()
            .map(|(k, g)| {
                let m = MediaFigures::of(g);
                let mut r = vec![k.as_str().into(), m.streams.into(), m.windowed.into()];
                r.extend(m.loss.map(Cell::Num));
                r.extend(m.jitter.map(Cell::Num));
                r.extend([Cell::Int(m.judged), Cell::Int(m.poor)]);
                r
            })
            .collect();
        if self.rtp_overflow_packets > 0 {
            t.notes.push(format!(
                "{} RTP packets of SSRCs beyond the per-flow cap of {} streams were not tracked",
                self.rtp_overflow_packets,
                pathlens_classify::media::MAX_STREAMS
            ));
        }
        t
    }

    fn poor_streams_listing(&self) -> Table {
        let mut t = Table::new(
            "poor_streams",
            "Poor RTP streams",
            vec![
                Column::text("first_seen", 22),
                Column::text("flow", 44),
                Column::text("path", 26),
                Column::num("packets", 8),
                Column::num("loss_pct", 8),
                Column::num("loss_window", 11),
                Column::num("jitter_window", 13),
                Column::text("community_id", 0),
            ],
        );
        t.caption = Some(format!(
            "poor RTP streams: {} (worst {} shown)",
            self.poor_total,
            self.poor_streams.len().min(super::FLAGGED_KEPT)
        ));
        t.listing = true;
        t.rows = self
            .poor_sorted()
            .into_iter()
            .map(|p| {
                vec![
                    Cell::Time(p.first_seen_us),
                    Cell::Text(p.flow.clone()),
                    p.egress.as_str().into(),
                    Cell::Int(p.packets),
                    Cell::Num(Some(p.loss_pct)),
                    Cell::Num(p.loss_window_pct),
                    Cell::Num(p.jitter_window_ms),
                    p.community_id.as_str().into(),
                ]
            })
            .collect();
        t
    }
}

/// Round-trip sentences and rows of one kind.
pub(super) fn rtt_rows(
    what: &str,
    m: &std::collections::BTreeMap<String, Vec<f64>>,
    rows: &mut Vec<Vec<Cell>>,
    lines: &mut Vec<String>,
) {
    for (egress, v) in m {
        let (p50, p90) = (percentile(v, 50.0), percentile(v, 90.0));
        lines.push(format!(
            "{what} via {egress}: {} flows, p50 {:.1} ms, p90 {:.1} ms",
            v.len(),
            p50.unwrap_or(0.0),
            p90.unwrap_or(0.0)
        ));
        rows.push(vec![
            what.into(),
            egress.as_str().into(),
            v.len().into(),
            Cell::Num(p50),
            Cell::Num(p90),
        ]);
    }
}

/// A table of the summary built elsewhere (paths): its constructor.
pub(super) fn table(id: &'static str, title: &str, columns: Vec<Column>) -> Table {
    Table::new(id, title, columns)
}
