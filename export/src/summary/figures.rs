//! Figures both renderings draw from: the text tables (`tables`) and the
//! CSV and JSON (`render`) order groups, write times and take media
//! percentiles the same way.

use super::{percentile, MediaGroup, Totals};
use std::collections::BTreeMap;

/// The percentiles of the media table.
pub(crate) const PCTS: [(f64, &str); 3] = [(50.0, "p50"), (90.0, "p90"), (95.0, "p95")];

/// Entries largest byte count first, ties by key.
pub(crate) fn sorted<K: Ord>(m: &BTreeMap<K, Totals>) -> Vec<(&K, &Totals)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|x, y| y.1.bytes.cmp(&x.1.bytes).then(x.0.cmp(y.0)));
    v
}

/// One media group's figures: streams, those with a counted window, the
/// percentiles of their worst window's loss and jitter, judged, poor.
pub(crate) struct MediaFigures {
    pub(crate) streams: usize,
    pub(crate) windowed: usize,
    pub(crate) loss: [Option<f64>; 3],
    pub(crate) jitter: [Option<f64>; 3],
    pub(crate) judged: u64,
    pub(crate) poor: u64,
}

impl MediaFigures {
    pub(crate) fn of(g: &MediaGroup) -> Self {
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

/// A µs timestamp as RFC 3339 UTC to the second.
pub(crate) fn time_text(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
