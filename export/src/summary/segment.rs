//! The pooled segment figure: every RTP stream that arrived at the site
//! through one observed edge in one hour, pooled, where Microsoft's
//! customer-edge-to-Microsoft-edge targets are meant to be judged (a rate
//! target needs a sample of about 1 / target packets, which a single
//! stream seldom has; docs/verdicts.md).

use super::tables::table;
use super::{Cell, Column, Table};
use pathlens_classify::media::{min_sample, QualityRules, Targets};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One edge and hour's pooled streams.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pool {
    /// Streams pooled.
    pub streams: u64,
    /// Their RTP packets received.
    pub packets: u64,
    /// Their expected packets.
    pub expected: u64,
    /// Their lost packets (clamped at 0 per stream).
    pub lost: u64,
    /// Their reordered packets.
    pub reordered: u64,
    /// Largest jitter of a counted window (ms) of each stream with one.
    pub jitter_ms: Vec<f64>,
}

/// The pools by (edge, hour start in µs).
#[derive(Clone, Debug, Default)]
pub struct SegmentPools {
    /// By edge name and hour.
    pub pools: BTreeMap<(String, i64), Pool>,
}

/// One stream's part in its pool.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolPart {
    /// RTP packets.
    pub packets: u64,
    /// Expected packets.
    pub expected: u64,
    /// Lost packets.
    pub lost: u64,
    /// Reordered packets.
    pub reordered: u64,
    /// Largest window jitter, ms.
    pub jitter_ms: Option<f64>,
}

const HOUR_US: i64 = 3_600_000_000;

impl SegmentPools {
    /// Adds a stream that arrived through `edge` in the hour of `at_us`.
    pub fn add(&mut self, edge: &str, at_us: i64, s: PoolPart) {
        let hour = at_us.div_euclid(HOUR_US) * HOUR_US;
        let p = self.pools.entry((edge.to_string(), hour)).or_default();
        p.streams += 1;
        p.packets += s.packets;
        p.expected += s.expected;
        p.lost += s.lost;
        p.reordered += s.reordered;
        p.jitter_ms.extend(s.jitter_ms);
    }

    fn targets() -> Targets {
        QualityRules::builtin().map_or(Targets::NONE, |q| q.customer_edge_segment)
    }

    /// A pool's figures: loss %, reorder %, jitter p90 and p95, and its
    /// verdict against the segment's targets (None when no target could be
    /// judged on its sample).
    pub fn figures(p: &Pool) -> (f64, f64, Option<f64>, Option<f64>, Option<&'static str>) {
        let t = Self::targets();
        let pct = |a: u64, b: u64| {
            if b == 0 {
                0.0
            } else {
                a as f64 * 100.0 / b as f64
            }
        };
        let p90 = super::percentile(&p.jitter_ms, 90.0);
        let p95 = super::percentile(&p.jitter_ms, 95.0);
        let judged = p.expected >= min_sample(t.loss_pct)
            || p.packets >= min_sample(t.reorder_pct)
            || p90.is_some();
        let poor = Targets::rate_over(p.lost, p.expected, t.loss_pct)
            || Targets::rate_over(p.reordered, p.packets, t.reorder_pct)
            || p90.is_some_and(|j| j > t.jitter_ms);
        let verdict = judged.then_some(if poor { "poor" } else { "good" });
        (
            pct(p.lost, p.expected),
            pct(p.reordered, p.packets),
            p90,
            p95,
            verdict,
        )
    }

    /// The table: one row per edge and hour.
    pub fn table(&self) -> Table {
        let mut t = table(
            "segment_pools",
            "RTP streams arriving through each edge, pooled per hour, against the customer-edge segment's targets",
            vec![
                Column::text("edge", 28),
                Column::text("hour", 17),
                Column::num("streams", 7),
                Column::num("packets", 9),
                Column::num("loss_pct", 8),
                Column::num("reorder_pct", 11),
                Column::num("jitter_p90", 10),
                Column::num("jitter_p95", 10),
                Column::text("segment", 0),
            ],
        );
        t.caption = Some(
            "Streams arriving through each edge, pooled per hour (customer-edge segment targets):"
                .into(),
        );
        t.rows = self
            .pools
            .iter()
            .map(|((edge, hour), p)| {
                let (loss, reorder, p90, p95, v) = Self::figures(p);
                vec![
                    edge.as_str().into(),
                    super::time_text(*hour).get(..16).unwrap_or("").into(),
                    Cell::Int(p.streams),
                    Cell::Int(p.packets),
                    Cell::Num(Some(loss)),
                    Cell::Num(Some(reorder)),
                    Cell::Num(p90),
                    Cell::Num(p95),
                    v.unwrap_or("not measurable").into(),
                ]
            })
            .collect();
        t
    }

    /// The JSON array.
    pub fn json(&self) -> Value {
        json!(self
            .pools
            .iter()
            .map(|((edge, hour), p)| {
                let (loss, reorder, p90, p95, v) = Self::figures(p);
                json!({"edge": edge, "hour_us": hour, "streams": p.streams, "packets": p.packets,
                       "expected": p.expected, "lost": p.lost, "reordered": p.reordered,
                       "loss_pct": loss, "reorder_pct": reorder, "jitter_window_p90": p90,
                       "jitter_window_p95": p95, "segment_quality": v})
            })
            .collect::<Vec<_>>())
    }
}
