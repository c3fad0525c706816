//! The data of the report's charts, from the summary: bytes by traffic type
//! and path, bytes over time by path, streams by their worst 15 s window's
//! loss and jitter (the figures of the summary's media table), streams by
//! verdict, and the local hosts with the most bytes.

use super::svg::{Marker, Stacked, PALETTE};
use super::time_axis::{bucket_minutes, bucket_name, ticks};
use crate::summary::{MediaGroup, Summary, TOP};
use std::collections::{BTreeMap, BTreeSet};

/// Paths in the palette's order first, then any other in name order: the
/// legend reads the same in every chart.
pub fn path_order<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let seen: BTreeSet<&str> = names.collect();
    let mut v: Vec<String> = PALETTE
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| seen.contains(n))
        .map(String::from)
        .collect();
    v.extend(
        seen.into_iter()
            .filter(|n| !PALETTE.iter().any(|(p, _)| p == n))
            .map(String::from),
    );
    v
}

/// Categories by their total, largest first (ties by name).
fn by_total<'a>(totals: impl Iterator<Item = (&'a str, f64)>) -> Vec<String> {
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
    let b = |t: &crate::summary::Totals| t.bytes as f64;
    let series = path_order(s.by_egress.keys().map(|(_, e)| e.as_str()));
    let categories = by_total(s.by_egress.iter().map(|((c, _), t)| (c.as_str(), b(t))));
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

/// Bytes over time (columns, by the minute of each record's `first_seen`)
/// and egress, with the axis ticks (position in columns, label lines).
pub fn over_time(s: &Summary) -> (Stacked, Vec<(f64, Vec<String>)>) {
    let Some(d) = s.detail.as_deref() else {
        return Default::default();
    };
    let (Some(first), Some(last)) = (d.by_minute.keys().next(), d.by_minute.keys().last()) else {
        return Default::default();
    };
    let (first, last) = (first.0, last.0);
    let b = bucket_minutes(last - first + 1);
    let start = first.div_euclid(b) * b;
    let n = usize::try_from((last - start) / b + 1).unwrap_or(1);
    let series = path_order(d.by_minute.keys().map(|(_, e)| e.as_str()));
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
    #[allow(clippy::cast_possible_wrap)]
    let categories = (0..n).map(|i| bucket_name(start + i as i64 * b)).collect();
    #[allow(clippy::cast_precision_loss)]
    let axis = ticks(first, start + n as i64 * b)
        .into_iter()
        .map(|(t, l)| ((t - start) as f64 / b as f64, l))
        .collect();
    (
        Stacked {
            categories,
            series,
            values,
        },
        axis,
    )
}

/// A histogram of per-stream values by egress over `edges` (bins `(a, b]`,
/// the first from 0 inclusive, the last open), with a marker at `target`,
/// which is made an edge; and the number of streams counted.
pub fn histogram(
    s: &Summary,
    pick: fn(&MediaGroup) -> &Vec<f64>,
    edges: &[f64],
    target: f64,
    unit: &str,
) -> (Stacked, Marker, usize) {
    let mut e: Vec<f64> = edges.to_vec();
    if !e.iter().any(|x| (x - target).abs() < f64::EPSILON) {
        e.push(target);
    }
    e.sort_by(f64::total_cmp);
    let mut categories: Vec<String> = e.windows(2).map(|w| format!("{}–{}", w[0], w[1])).collect();
    categories.push(format!(">{}", e.last().copied().unwrap_or(0.0)));
    let series = path_order(s.media.keys().map(String::as_str));
    let mut values = vec![vec![0.0; series.len()]; categories.len()];
    let mut counted = 0;
    for (j, name) in series.iter().enumerate() {
        for v in s.media.get(name).map(pick).into_iter().flatten() {
            let bin = e
                .iter()
                .skip(1)
                .position(|edge| v <= edge)
                .unwrap_or(e.len() - 1);
            values[bin][j] += 1.0;
            counted += 1;
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
        counted,
    )
}

/// Streams by egress (bars) and verdict (good, poor, not judged).
pub fn verdicts(s: &Summary) -> Stacked {
    let categories = path_order(s.media.keys().map(String::as_str));
    #[allow(clippy::cast_precision_loss)]
    let values = categories
        .iter()
        .filter_map(|c| s.media.get(c))
        .map(|g| {
            let streams = g.loss_pct.len() as u64;
            vec![
                g.judged.saturating_sub(g.poor) as f64,
                g.poor as f64,
                streams.saturating_sub(g.judged) as f64,
            ]
        })
        .collect();
    Stacked {
        categories,
        series: vec!["good".into(), "poor".into(), "not judged".into()],
        values,
    }
}

/// The local hosts with the most bytes, by egress.
pub fn talkers(s: &Summary) -> Stacked {
    let Some(d) = s.detail.as_deref() else {
        return Stacked::default();
    };
    let top = Summary::top(&d.talkers, TOP);
    let series = path_order(d.talker_egress.keys().map(|(_, e)| e.as_str()));
    #[allow(clippy::cast_precision_loss)]
    let values = top
        .iter()
        .map(|(h, _)| {
            series
                .iter()
                .map(|e| {
                    d.talker_egress
                        .get(&((*h).to_string(), e.clone()))
                        .map_or(0.0, |b| *b as f64)
                })
                .collect()
        })
        .collect();
    Stacked {
        categories: top.iter().map(|(k, _)| (*k).to_string()).collect(),
        series,
        values,
    }
}
