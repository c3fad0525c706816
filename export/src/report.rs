//! The HTML report: one self-contained page (inline CSS, SVG and a few
//! lines of script to sort tables; no network fetch) drawn from the same
//! [`Summary`] as `pathlens summary`, so the same names carry the same
//! numbers. Charts: traffic by type and path, traffic over time by path
//! (dated ticks), RTP streams by their worst 15 s window's loss and jitter
//! against Microsoft's targets and by verdict, top local hosts; then every
//! table of [`Summary::tables`], whatever tables it holds, the listings of
//! flows and streams sortable. Its size depends on the number of groups,
//! not of flows.

mod charts;
mod svg;
mod time_axis;

pub use charts::{by_type_and_egress, histogram, over_time, path_order, talkers, verdicts};
pub use svg::{colour_of, columns, hbars, nice_step, Labels, Marker, Stacked, XAxis, PALETTE};
pub use time_axis::{bucket_minutes, ticks};

use crate::summary::{Cell, Summary, Table};
use std::fmt::Write;
use svg::esc;

/// Bytes with a decimal unit, as people read link volumes.
pub fn human_bytes(v: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut x = v;
    let mut i = 0;
    while x >= 1000.0 && i + 1 < units.len() {
        x /= 1000.0;
        i += 1;
    }
    if i == 0 || x >= 100.0 {
        format!("{x:.0} {}", units[i])
    } else {
        format!("{x:.1} {}", units[i])
    }
}

/// A count; a tick between whole numbers stays unlabelled.
fn count(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

const CSS: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}h3{font-size:15px;margin:18px 0 4px}\
table{border-collapse:collapse;font-size:12px;margin:8px 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f2f2f2}\
table.sortable th{cursor:pointer}table.sortable th:after{content:' \\2195';color:#999}\
td.n{text-align:right}.note{color:#555;font-size:12px}.grid{display:flex;flex-wrap:wrap;gap:12px}";

/// Sorts a listing by the clicked column: numbers by value (`data-v`), the
/// rest as text; a second click reverses.
const SORT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th){\
th.addEventListener('click',function(){var i=th.cellIndex,tb=th.closest('table').tBodies[0];\
var asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';\
var rows=Array.prototype.slice.call(tb.rows);rows.sort(function(a,b){\
var x=a.cells[i].dataset.v,y=b.cells[i].dataset.v;\
var r=(x!==undefined&&y!==undefined)?x-y:a.cells[i].textContent.localeCompare(b.cells[i].textContent);\
return asc?r:-r;});rows.forEach(function(r){tb.appendChild(r);});});});";

/// One table of the summary as HTML: heading, caption, rows, notes.
pub fn table_html(o: &mut String, t: &Table) {
    let _ = writeln!(o, "<h3 id=\"t-{}\">{}</h3>", t.id, esc(&t.title));
    if t.rows.is_empty() {
        let e = t.empty.as_deref().unwrap_or("None.");
        let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(e));
        return;
    }
    if let (true, Some(c)) = (t.listing, &t.caption) {
        let _ = writeln!(
            o,
            "<p class=\"note\">{}; click a heading to sort.</p>",
            esc(c)
        );
    }
    // Every table sorts: a listing by time or bytes, a count table by any column.
    let _ = write!(
        o,
        "<table id=\"{}\" class=\"summary sortable\"><thead><tr>",
        t.id
    );
    for c in &t.columns {
        let _ = write!(o, "<th>{}</th>", esc(&c.name));
    }
    o.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        o.push_str("<tr>");
        for c in r {
            match c.sort_key() {
                Some(v) => {
                    let _ = write!(o, "<td class=\"n\" data-v=\"{v}\">{}</td>", esc(&c.text()));
                }
                None => {
                    let _ = write!(o, "<td>{}</td>", esc(&c.text()));
                }
            }
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>\n");
    for n in &t.notes {
        let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(n));
    }
}

/// The page's opening paragraph: volumes, period, streams, flagged flows.
fn overview(o: &mut String, s: &Summary) {
    let streams: usize = s.media.values().map(|g| g.loss_pct.len()).sum();
    let period = s
        .detail
        .as_deref()
        .and_then(|d| Some((d.by_minute.keys().next()?.0, d.by_minute.keys().last()?.0)))
        .map(|(a, b)| {
            format!(
                " between {} and {} (UTC, by first_seen)",
                time_axis::bucket_name(a),
                time_axis::bucket_name(b)
            )
        })
        .unwrap_or_default();
    #[allow(clippy::cast_precision_loss)]
    let _ = writeln!(
        o,
        "<p>{} flows, {} packets, {} from {} run(s){period}; {streams} RTP streams; {} asymmetric and {} non-conformant flows (of {} with a call-flow expectation).</p>",
        s.total.flows,
        s.total.packets,
        human_bytes(s.total.bytes as f64),
        s.runs.len(),
        s.asymmetric,
        s.non_conformant,
        s.with_expectation
    );
}

/// Bytes by type and path, and over time.
fn traffic_charts(o: &mut String, s: &Summary) {
    o.push_str("<h2>Traffic</h2>\n");
    o.push_str(&hbars(
        &by_type_and_egress(s),
        &Labels {
            title: "Bytes by traffic type and path (egress)",
            x: "bytes",
            y: "",
        },
        human_bytes,
    ));
    let (t, axis) = over_time(s);
    if t.categories.is_empty() {
        o.push_str("<p class=\"note\">No flows over time.</p>\n");
        return;
    }
    o.push_str(&columns(
        &t,
        &Labels {
            title: "Bytes over time by path (egress)",
            x: "first_seen (UTC)",
            y: "bytes",
        },
        human_bytes,
        &XAxis::Ticks(axis),
        None,
    ));
    o.push_str("\n<p class=\"note\">Each record counted at its first_seen (UTC); hover a column for its period.</p>\n");
}

/// Streams by worst-window loss and jitter against the targets, and by verdict.
fn media_charts(o: &mut String, s: &Summary) {
    o.push_str("<h2>Media quality against Microsoft's network targets</h2>\n");
    if s.media.is_empty() {
        o.push_str("<p class=\"note\">No RTP streams.</p>\n");
        return;
    }
    let streams: usize = s.media.values().map(|g| g.loss_pct.len()).sum();
    let rules = pathlens_classify::media::QualityRules::builtin().ok();
    let (loss_t, jitter_t) = rules.map_or((1.0, 30.0), |r| (r.client.loss_pct, r.client.jitter_ms));
    o.push_str("<div class=\"grid\">");
    let (d, m, n) = histogram(
        s,
        |g| &g.loss_window_pct,
        &[0.0, 0.5, 1.0, 2.0, 5.0, 10.0],
        loss_t,
        "%",
    );
    let title = format!("Worst 15 s window loss: {n} of {streams} streams counted");
    o.push_str(&columns(
        &d,
        &Labels {
            title: &title,
            x: "loss in the worst 15 s window (%)",
            y: "streams",
        },
        count,
        &XAxis::Every(1),
        Some(&m),
    ));
    let (d, m, n) = histogram(
        s,
        |g| &g.jitter_window_ms,
        &[0.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0],
        jitter_t,
        "ms",
    );
    let title = format!("Worst 15 s window jitter: {n} of {streams} streams counted");
    o.push_str(&columns(
        &d,
        &Labels {
            title: &title,
            x: "largest jitter in a counted 15 s window (ms)",
            y: "streams",
        },
        count,
        &XAxis::Every(1),
        Some(&m),
    ));
    o.push_str(&hbars(
        &verdicts(s),
        &Labels {
            title: "Streams by path and verdict",
            x: "streams",
            y: "",
        },
        count,
    ));
    o.push_str("</div>\n<p class=\"note\">A stream is counted in a histogram when one of its 15 s windows expected at least 50 packets (jitter also needs the payload type's clock); the figures are the media table's below and those of <code>pathlens summary</code>.</p>\n");
}

/// The whole page.
pub fn html(s: &Summary, title: &str) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body>\n<h1>{t}</h1>\n",
        t = esc(title)
    );
    overview(&mut o, s);
    traffic_charts(&mut o, s);
    media_charts(&mut o, s);
    let tk = talkers(s);
    if !tk.categories.is_empty() {
        o.push_str("<h2>Top talkers (local hosts)</h2>\n");
        o.push_str(&hbars(
            &tk,
            &Labels {
                title: "Bytes by local host and path (egress)",
                x: "bytes",
                y: "",
            },
            human_bytes,
        ));
    }
    o.push_str("\n<h2>Tables</h2>\n<p class=\"note\">The tables of <code>pathlens summary</code>, with the same figures.</p>\n");
    for t in s.tables() {
        table_html(&mut o, &t);
    }
    let _ = write!(
        o,
        "<p class=\"note\">Written by pathlens {}.</p>\n<script>{SORT}</script>\n</body></html>\n",
        env!("CARGO_PKG_VERSION")
    );
    o
}

/// The cells of table `id` of a summary, for checks.
pub fn cells(s: &Summary, id: &str) -> Vec<Vec<Cell>> {
    s.tables()
        .into_iter()
        .find(|t| t.id == id)
        .map(|t| t.rows)
        .unwrap_or_default()
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::summary::{FlowRow, StreamRow};
    use crate::FlowRecord;

    fn summary() -> Summary {
        let mut s = Summary::with_detail();
        let mut r = FlowRecord::example();
        for (i, e) in [
            pathlens_classify::egress::Egress::ExpressRoute,
            pathlens_classify::egress::Egress::Internet,
        ]
        .into_iter()
        .enumerate()
        {
            r.labels.egress.egress = e;
            r.first_seen_us += 3_600_000_000 * i64::try_from(i).unwrap();
            s.add(&r);
            let eg = e.as_str();
            for loss in [0.0, 0.7, 3.0, 50.0] {
                s.add_stream(
                    eg,
                    &StreamRow {
                        packets: 100,
                        loss_pct: loss,
                        jitter_mean_ms: Some(loss * 10.0),
                        loss_window_pct: Some(loss * 2.0),
                        jitter_window_ms: Some(loss * 20.0),
                        poor: Some(loss > 1.0),
                        ..StreamRow::default()
                    },
                );
            }
        }
        let mut flagged = FlowRecord::example();
        flagged.labels.egress.asymmetric = Some(true);
        flagged.labels.egress.path_note = Some("reply <via> inet".into());
        s.add_row(&FlowRow::from_record(&flagged));
        s
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1500.0), "1.5 kB");
        assert_eq!(human_bytes(171_837.0), "172 kB");
    }

    #[test]
    fn histogram_bins_and_target_edge() {
        let s = summary();
        let (d, m, n) = histogram(&s, |g| &g.loss_pct, &[0.0, 0.5, 2.0], 1.0, "%");
        assert_eq!(n, 8);
        // Edges 0, 0.5, 1, 2: bins 0–0.5, 0.5–1, 1–2, >2; the marker at the 1 edge.
        assert_eq!(d.categories.len(), 4);
        assert_eq!(m.at, 2.0);
        let per_bin: Vec<f64> = d.values.iter().map(|v| v.iter().sum()).collect();
        assert_eq!(per_bin, vec![2.0, 2.0, 0.0, 4.0]);
    }

    #[test]
    fn over_time_spans_the_records() {
        let (d, ticks) = over_time(&summary());
        assert!(ticks.windows(2).all(|w| w[0].0 < w[1].0));
        // One hour apart, 1-minute buckets: 61 columns, bytes in the first and last.
        assert_eq!(d.categories.len(), 61);
        let sum = |i: usize| d.values[i].iter().sum::<f64>();
        assert_eq!(sum(0), 10_000.0);
        assert_eq!(sum(60), 5_000.0);
    }

    #[test]
    fn page_is_self_contained_with_its_charts_and_every_table() {
        let s = summary();
        let h = html(&s, "t <1>");
        assert!(h.starts_with("<!DOCTYPE html>"));
        assert!(
            !h.contains("http://")
                || h.matches("http://").count()
                    == h.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
        assert!(!h.contains("https://") && !h.contains(" src="));
        assert_eq!(h.matches("<script>").count(), 1, "the sort script only");
        assert_eq!(
            h.matches("<svg").count(),
            6,
            "type/egress, time, loss, jitter, verdicts, talkers"
        );
        assert!(h.contains("t &lt;1&gt;"));
        assert!(h.contains("reply &lt;via&gt; inet"));
        assert!(h.contains("target 1 %") && h.contains("target 30 ms"));
        // Every table of the summary, whatever it holds.
        for t in s.tables() {
            assert!(h.contains(&format!("id=\"t-{}\"", t.id)), "{}", t.id);
        }
        assert!(h.contains("<table id=\"flagged\" class=\"summary sortable\">"));
        assert!(
            h.contains("1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            "community id listed"
        );
    }

    #[test]
    fn media_table_is_the_summarys_worst_window_figures() {
        let s = summary();
        let rows = cells(&s, "media");
        let j = s.json();
        for (r, m) in rows.iter().zip(j["media"].as_array().unwrap()) {
            assert_eq!(r[0].text(), m["egress"].as_str().unwrap());
            for (i, k) in [
                "loss_window_p50",
                "loss_window_p90",
                "loss_window_p95",
                "jitter_window_p50",
                "jitter_window_p90",
                "jitter_window_p95",
            ]
            .iter()
            .enumerate()
            {
                assert_eq!(r[3 + i], Cell::Num(m[k].as_f64()), "{k}");
            }
        }
        // The worst windows (loss x2, jitter x20), not the whole-stream means.
        assert_eq!(
            rows[0][7],
            Cell::Num(Some(1000.0)),
            "not the mean jitter p90 (500)"
        );
    }
}
