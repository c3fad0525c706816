//! The HTML report: one self-contained page (inline CSS and SVG, no script,
//! no network fetch) drawn from an aggregated [`Summary`], so its size and
//! build time depend on the number of groups, not of flows: traffic by type
//! and egress, traffic over time by egress, media loss and jitter
//! distributions against Microsoft's network targets, top talkers, and
//! tables of the asymmetric and non-conformant flows and of the summary.

mod svg;

pub use svg::{columns, hbars, nice_step, Marker, Stacked};

use crate::summary::{percentile, Summary, Totals, TOP};
use std::collections::BTreeMap;
use std::fmt::Write;
use svg::esc;

/// Columns at most in the traffic-over-time chart.
const MAX_BUCKETS: i64 = 96;

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

fn count(v: f64) -> String {
    format!("{v:.0}")
}

/// Series ordered by their total over all categories, largest first.
fn series_order<'a>(totals: impl Iterator<Item = (&'a str, f64)>) -> Vec<String> {
    let mut m: BTreeMap<&str, f64> = BTreeMap::new();
    for (k, v) in totals {
        *m.entry(k).or_default() += v;
    }
    let mut v: Vec<(&str, f64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(k, _)| k.to_string()).collect()
}

/// Bytes by traffic type (bars) and egress (segments).
pub fn by_type_and_egress(s: &Summary) -> Stacked {
    #[allow(clippy::cast_precision_loss)]
    let b = |t: &Totals| t.bytes as f64;
    let series = series_order(s.by_egress.iter().map(|((_, e), t)| (e.as_str(), b(t))));
    let categories = series_order(s.by_egress.iter().map(|((c, _), t)| (c.as_str(), b(t))));
    let values = categories
        .iter()
        .map(|c| {
            series
                .iter()
                .map(|e| s.by_egress.get(&(c.clone(), e.clone())).map_or(0.0, b))
                .collect()
        })
        .collect();
    Stacked {
        categories,
        series,
        values,
    }
}

/// The bucket (minutes) that puts `span` minutes in at most `MAX_BUCKETS`
/// columns.
pub fn bucket_minutes(span: i64) -> i64 {
    [1, 5, 10, 15, 30, 60, 120, 360, 720, 1440, 10080]
        .into_iter()
        .find(|b| span / b < MAX_BUCKETS)
        .unwrap_or_else(|| span / MAX_BUCKETS + 1)
}

/// Bytes over time (columns, by the minute of each record's `first_seen`)
/// and egress; with the number of columns between labels.
pub fn over_time(s: &Summary) -> (Stacked, usize) {
    let Some(d) = s.detail.as_deref() else {
        return (Stacked::default(), 1);
    };
    let (Some(first), Some(last)) = (d.by_minute.keys().next(), d.by_minute.keys().last()) else {
        return (Stacked::default(), 1);
    };
    let (first, last) = (first.0, last.0);
    let b = bucket_minutes(last - first + 1);
    let start = first.div_euclid(b) * b;
    let n = usize::try_from((last - start) / b + 1).unwrap_or(1);
    #[allow(clippy::cast_precision_loss)]
    let series = series_order(
        d.by_minute
            .iter()
            .map(|((_, e), v)| (e.as_str(), *v as f64)),
    );
    let mut values = vec![vec![0.0; series.len()]; n];
    for ((m, e), v) in &d.by_minute {
        let i = usize::try_from((m - start) / b).unwrap_or(0);
        if let (Some(row), Some(j)) = (values.get_mut(i), series.iter().position(|x| x == e)) {
            #[allow(clippy::cast_precision_loss)]
            {
                row[j] += *v as f64;
            }
        }
    }
    let day = (last - start) >= 1440;
    let categories = (0..n)
        .map(|i| {
            #[allow(clippy::cast_possible_wrap)]
            let us = (start + i as i64 * b) * 60_000_000;
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| {
                    t.format(if day { "%m-%d %H:%M" } else { "%H:%M" })
                        .to_string()
                })
                .unwrap_or_default()
        })
        .collect();
    let every = n.div_ceil(12).max(1);
    (
        Stacked {
            categories,
            series,
            values,
        },
        every,
    )
}

/// A histogram of per-stream values by egress over `edges` (bins `(a, b]`,
/// the first from 0 inclusive, the last open), with a marker at `target`,
/// which is made an edge.
pub fn histogram(
    s: &Summary,
    pick: fn(&crate::summary::MediaGroup) -> &Vec<f64>,
    edges: &[f64],
    target: f64,
    unit: &str,
) -> (Stacked, Marker) {
    let mut e: Vec<f64> = edges.to_vec();
    if !e.iter().any(|x| (x - target).abs() < f64::EPSILON) {
        e.push(target);
    }
    e.sort_by(f64::total_cmp);
    let mut categories: Vec<String> = e.windows(2).map(|w| format!("{}–{}", w[0], w[1])).collect();
    categories.push(format!(">{}", e.last().copied().unwrap_or(0.0)));
    let series: Vec<String> = s.media.keys().cloned().collect();
    let mut values = vec![vec![0.0; series.len()]; categories.len()];
    for (j, g) in s.media.values().enumerate() {
        for v in pick(g) {
            let bin = e
                .iter()
                .skip(1)
                .position(|edge| v <= edge)
                .unwrap_or(e.len() - 1);
            values[bin][j] += 1.0;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let at = e
        .iter()
        .position(|x| (x - target).abs() < f64::EPSILON)
        .unwrap_or(0) as f64;
    (
        Stacked {
            categories: categories
                .into_iter()
                .map(|c| format!("{c} {unit}"))
                .collect(),
            series,
            values,
        },
        Marker {
            at,
            label: format!("target {target} {unit}"),
        },
    )
}

/// The local hosts with the most bytes.
pub fn talkers(s: &Summary) -> Stacked {
    let Some(d) = s.detail.as_deref() else {
        return Stacked::default();
    };
    let top = Summary::top(&d.talkers, TOP);
    Stacked {
        categories: top.iter().map(|(k, _)| (*k).to_string()).collect(),
        series: vec!["bytes".into()],
        #[allow(clippy::cast_precision_loss)]
        values: top.iter().map(|(_, t)| vec![t.bytes as f64]).collect(),
    }
}

fn table(out: &mut String, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

fn totals_row(keys: &[&str], t: &Totals) -> Vec<String> {
    let mut v: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
    #[allow(clippy::cast_precision_loss)]
    v.extend([
        t.flows.to_string(),
        t.packets.to_string(),
        human_bytes(t.bytes as f64),
    ]);
    v
}

const CSS: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:12px;margin:8px 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f2f2f2}\
.note{color:#666;font-size:12px}.grid{display:flex;flex-wrap:wrap;gap:12px}";

/// The whole page.
pub fn html(s: &Summary, title: &str) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body>\n<h1>{t}</h1>\n",
        t = esc(title)
    );
    #[allow(clippy::cast_precision_loss)]
    let _ = writeln!(
        o,
        "<p>{} flows, {} packets, {} from {} run(s); {} RTP streams; {} asymmetric and {} non-conformant flows (of {} with a call-flow expectation).</p>",
        s.total.flows,
        s.total.packets,
        human_bytes(s.total.bytes as f64),
        s.runs.len(),
        s.media.values().map(|g| g.loss_pct.len()).sum::<usize>(),
        s.asymmetric,
        s.non_conformant,
        s.with_expectation
    );

    o.push_str("<h2>Traffic by type and egress</h2>\n");
    o.push_str(&hbars(
        &by_type_and_egress(s),
        "bytes by traffic type and egress",
        human_bytes,
    ));
    o.push_str("\n<h2>Traffic over time by egress</h2>\n");
    let (t, every) = over_time(s);
    if t.categories.is_empty() {
        o.push_str("<p class=\"note\">No flows.</p>\n");
    } else {
        o.push_str(&columns(
            &t,
            "bytes over time by egress",
            human_bytes,
            every,
            None,
        ));
        o.push_str("\n<p class=\"note\">Each record counted at its first_seen (UTC).</p>\n");
    }

    o.push_str("<h2>Media quality against Microsoft's network targets</h2>\n");
    if s.media.is_empty() {
        o.push_str("<p class=\"note\">No RTP streams.</p>\n");
    } else {
        let rules = pathlens_classify::media::QualityRules::builtin().ok();
        let (loss_t, jitter_t) =
            rules.map_or((1.0, 30.0), |r| (r.client.loss_pct, r.client.jitter_ms));
        let (d, m) = histogram(
            s,
            |g| &g.loss_pct,
            &[0.0, 0.5, 1.0, 2.0, 5.0, 10.0],
            loss_t,
            "%",
        );
        o.push_str("<div class=\"grid\">");
        o.push_str(&columns(
            &d,
            "streams by loss percent and egress",
            count,
            1,
            Some(&m),
        ));
        let (d, m) = histogram(
            s,
            |g| &g.jitter_ms,
            &[0.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0],
            jitter_t,
            "ms",
        );
        o.push_str(&columns(
            &d,
            "streams by mean jitter (ms) and egress",
            count,
            1,
            Some(&m),
        ));
        o.push_str("</div>\n");
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
        table(
            &mut o,
            &[
                "egress",
                "streams",
                "loss p50",
                "loss p90",
                "loss p95",
                "jitter p50",
                "jitter p90",
                "jitter p95",
                "judged",
                "poor",
            ],
            s.media.iter().map(|(k, g)| {
                let mut r = vec![k.clone(), g.loss_pct.len().to_string()];
                r.extend([50.0, 90.0, 95.0].map(|p| f(percentile(&g.loss_pct, p))));
                r.extend([50.0, 90.0, 95.0].map(|p| f(percentile(&g.jitter_ms, p))));
                r.extend([g.judged.to_string(), g.poor.to_string()]);
                r
            }),
        );
    }

    o.push_str("<h2>Top talkers (local hosts)</h2>\n");
    let tk = talkers(s);
    if !tk.categories.is_empty() {
        o.push_str(&hbars(&tk, "bytes by local host", human_bytes));
    }

    o.push_str("\n<h2>Asymmetric and non-conformant flows</h2>\n");
    let flagged = s.flagged_sorted();
    if flagged.is_empty() {
        o.push_str("<p class=\"note\">None.</p>\n");
    } else {
        let _ = writeln!(
            o,
            "<p>{} flows; the largest {} by bytes:</p>",
            s.flagged_total,
            flagged.len()
        );
        table(
            &mut o,
            &[
                "first_seen",
                "flow",
                "traffic type",
                "egress",
                "expected",
                "next hops",
                "asymmetric",
                "conformant",
                "bytes",
                "note",
            ],
            flagged.into_iter().map(|f| {
                let b = |v: Option<bool>| v.map_or("-".to_string(), |x| x.to_string());
                vec![
                    crate::summary::time_text(f.first_seen_us),
                    format!(
                        "{} > {}:{} {}",
                        f.src_ip, f.dst_ip, f.dst_port, f.app_protocol
                    ),
                    f.traffic_type.clone(),
                    f.egress.clone(),
                    f.expected_path.clone().unwrap_or_else(|| "-".into()),
                    f.next_hops.clone(),
                    b(f.asymmetric),
                    b(f.path_conformant),
                    f.bytes.to_string(),
                    f.path_note.clone().unwrap_or_default(),
                ]
            }),
        );
    }

    o.push_str("<h2>Flows by app protocol</h2>\n");
    table(
        &mut o,
        &["app_protocol", "transport", "flows", "packets", "bytes"],
        crate::summary::sorted(&s.by_app)
            .into_iter()
            .map(|((a, b), t)| totals_row(&[a, b], t)),
    );
    o.push_str("<h2>Top services and server names</h2>\n<div class=\"grid\">");
    table(
        &mut o,
        &["service", "flows", "packets", "bytes"],
        Summary::top(&s.services, TOP)
            .into_iter()
            .map(|(k, t)| totals_row(&[k], &t)),
    );
    table(
        &mut o,
        &["server_name", "flows", "packets", "bytes"],
        Summary::top(&s.server_names, TOP)
            .into_iter()
            .map(|(k, t)| totals_row(&[k], &t)),
    );
    o.push_str("</div>\n<p class=\"note\">Written by pathlens ");
    o.push_str(env!("CARGO_PKG_VERSION"));
    o.push_str(".</p>\n</body></html>\n");
    o
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
    fn buckets_fit_the_chart() {
        assert_eq!(bucket_minutes(60), 1);
        assert_eq!(bucket_minutes(96), 5);
        assert_eq!(bucket_minutes(24 * 60), 30);
        assert_eq!(bucket_minutes(30 * 24 * 60), 720);
        // Decades of captures still fit.
        let span = 50 * 365 * 24 * 60;
        assert!(span / bucket_minutes(span) < MAX_BUCKETS);
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
        let (d, m) = histogram(&s, |g| &g.loss_pct, &[0.0, 0.5, 2.0], 1.0, "%");
        // Edges 0, 0.5, 1, 2: bins 0–0.5, 0.5–1, 1–2, >2; the marker at the 1 edge.
        assert_eq!(d.categories.len(), 4);
        assert_eq!(m.at, 2.0);
        let per_bin: Vec<f64> = d.values.iter().map(|v| v.iter().sum()).collect();
        assert_eq!(per_bin, vec![2.0, 2.0, 0.0, 4.0]);
    }

    #[test]
    fn over_time_spans_the_records() {
        let (d, _) = over_time(&summary());
        // One hour apart, 1-minute buckets: 61 columns, bytes in the first and last.
        assert_eq!(d.categories.len(), 61);
        let sum = |i: usize| d.values[i].iter().sum::<f64>();
        assert_eq!(sum(0), 10_000.0);
        assert_eq!(sum(60), 5_000.0);
    }

    #[test]
    fn page_is_self_contained_with_its_charts() {
        let h = html(&summary(), "t <1>");
        assert!(h.starts_with("<!DOCTYPE html>"));
        assert!(
            !h.contains("http://")
                || h.matches("http://").count()
                    == h.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
        assert!(!h.contains("https://") && !h.contains("<script"));
        assert_eq!(
            h.matches("<svg").count(),
            5,
            "type/egress, time, loss, jitter, talkers"
        );
        assert!(h.contains("t &lt;1&gt;"));
        assert!(h.contains("reply &lt;via&gt; inet"));
        assert!(h.contains("target 1 %") && h.contains("target 30 ms"));
    }
}
