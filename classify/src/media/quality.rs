//! Media quality judgement: the targets of `signatures/media.toml` (Microsoft's
//! network targets and CQD's poor-audio rules) and the `good`/`poor` verdict
//! of a stream and of a flow against them.

use super::StreamStats;

/// The built-in quality thresholds (`signatures/media.toml`).
pub const DEFAULT_MEDIA_TOML: &str = include_str!("../../../signatures/media.toml");

/// `good` or `poor` against the thresholds of `signatures/media.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quality {
    /// Every figure within the targets.
    Good,
    /// Some figure above a target or a CQD poor threshold.
    Poor,
}

impl Quality {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Poor => "poor",
        }
    }
}

/// Microsoft's network targets (domain.md §3.5, client -> edge column).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Loss, percent.
    pub loss_pct: f64,
    /// Worst 200 ms window loss, percent.
    pub burst_loss_pct: f64,
    /// Largest running jitter, ms.
    pub jitter_ms: f64,
    /// Out-of-order packets, percent.
    pub reorder_pct: f64,
}

/// CQD's network rules for a poor audio stream (domain.md §3.5).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CqdAudioPoor {
    /// Loss, percent.
    pub loss_pct: f64,
    /// Mean jitter, ms.
    pub jitter_ms: f64,
    /// Round trip, ms.
    pub rtt_ms: f64,
}

/// The thresholds `media_quality` is judged by, as data.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityRules {
    /// Streams with fewer RTP packets are not judged.
    pub min_packets: u64,
    /// Network targets.
    pub targets: Targets,
    /// CQD poor audio thresholds.
    pub cqd_audio_poor: CqdAudioPoor,
}

impl QualityRules {
    /// Parses a `media.toml` text.
    ///
    /// # Errors
    /// The text is not valid TOML for these fields; the message names `file`.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, crate::RuleError> {
        crate::rules::parse_toml(text, file)
    }

    /// The built-in thresholds.
    ///
    /// # Errors
    /// Only if the embedded file is broken, which the tests rule out.
    pub fn builtin() -> Result<Self, crate::RuleError> {
        Self::from_toml(DEFAULT_MEDIA_TOML, "signatures/media.toml (built in)")
    }

    /// Judges one stream; `None` when it has too few packets.
    pub fn judge_stream(&self, s: &StreamStats) -> Option<Quality> {
        if s.packets < self.min_packets {
            return None;
        }
        let t = &self.targets;
        let c = &self.cqd_audio_poor;
        let loss = s.loss_pct();
        let reorder = s.reordered as f64 * 100.0 / s.packets as f64;
        let over = |v: Option<f64>, limit: f64| v.is_some_and(|v| v > limit);
        let poor = loss > t.loss_pct
            || loss > c.loss_pct
            || over(s.burst_loss_max_pct, t.burst_loss_pct)
            || over(s.jitter_max_ms, t.jitter_ms)
            || over(s.jitter_mean_ms, c.jitter_ms)
            || reorder > t.reorder_pct
            || over(s.rtcp.and_then(|r| r.rtt_ms), c.rtt_ms);
        Some(if poor { Quality::Poor } else { Quality::Good })
    }

    /// Judges a flow from its streams' judgements and its RTCP round trip.
    pub fn judge_flow(&self, streams: &[Option<Quality>], rtt_ms: Option<f64>) -> Option<Quality> {
        let judged = streams.iter().flatten().count();
        if judged == 0 {
            return None;
        }
        let poor = streams.contains(&Some(Quality::Poor))
            || rtt_ms.is_some_and(|r| r > self.cqd_audio_poor.rtt_ms);
        Some(if poor { Quality::Poor } else { Quality::Good })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::media::test_support::run;

    #[test]
    fn quality_rules_from_the_builtin_file() {
        let q = QualityRules::builtin().unwrap();
        assert_eq!(q.min_packets, 50);
        assert_eq!(q.targets.loss_pct, 1.0);
        assert_eq!(q.cqd_audio_poor.rtt_ms, 500.0);
        let seqs: Vec<u16> = (0..100).collect();
        assert_eq!(q.judge_stream(&run(&seqs)), Some(Quality::Good));
        assert_eq!(q.judge_stream(&run(&seqs[..49])), None);
        // 2 of 100 lost: above the 1% target.
        let lossy: Vec<u16> = (0..100).filter(|s| *s != 10 && *s != 60).collect();
        assert_eq!(q.judge_stream(&run(&lossy)), Some(Quality::Poor));
        assert_eq!(
            q.judge_flow(&[Some(Quality::Good), None], Some(600.0)),
            Some(Quality::Poor)
        );
        assert_eq!(q.judge_flow(&[None], None), None);
        assert!(QualityRules::from_toml("min_packets = 1\n", "x.toml")
            .unwrap_err()
            .to_string()
            .starts_with("x.toml"));
        // A key at the start of a line is on that line, not the one before.
        let e = QualityRules::from_toml("min_packets = 50\nbogus = 1\n", "m.toml").unwrap_err();
        assert!(e.to_string().starts_with("m.toml:2:"), "{e}");
    }
}
