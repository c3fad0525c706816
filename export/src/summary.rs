//! The end-of-run summary: flows, packets and bytes by app protocol and
//! transport and by traffic type and egress, the asymmetric and
//! non-conformant flow counts, and RTP streams by egress with their loss and
//! jitter percentiles and how many are poor, accumulated by the writer as
//! records pass.

use crate::record::FlowRecord;
use crate::StreamRecord;
use pathlens_classify::media::Quality;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Totals for one group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Flow records.
    pub flows: u64,
    /// Packets both ways.
    pub packets: u64,
    /// IP bytes both ways.
    pub bytes: u64,
}

impl Totals {
    fn add(&mut self, r: &FlowRecord) {
        self.flows += 1;
        self.packets += r.packets();
        self.bytes += r.bytes();
    }
}

/// RTP streams of one egress group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaGroup {
    /// Loss percent of each stream.
    pub loss_pct: Vec<f64>,
    /// Mean jitter (ms) of each stream with a known clock.
    pub jitter_ms: Vec<f64>,
    /// Streams judged.
    pub judged: u64,
    /// Streams judged poor.
    pub poor: u64,
}

/// The nearest-rank percentile `p` (0-100) of `v`; None when empty.
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s.get(rank.saturating_sub(1)).copied()
}

/// The media summary's grouping key: the flow's egress.
fn media_group(r: &FlowRecord) -> &str {
    r.labels.egress.egress.as_str()
}

/// Rows of totals keyed by two labels, largest byte count first, under a
/// header; each label is given with its column width.
fn totals_table(
    rows: &BTreeMap<(String, String), Totals>,
    (a, wa): (&str, usize),
    (b, wb): (&str, usize),
) -> String {
    let mut rows: Vec<_> = rows.iter().collect();
    rows.sort_by(|x, y| y.1.bytes.cmp(&x.1.bytes).then(x.0.cmp(y.0)));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{a:<wa$} {b:<wb$} {:>10} {:>12} {:>16}",
        "flows", "packets", "bytes"
    );
    for ((x, y), t) in rows {
        let _ = writeln!(
            s,
            "{x:<wa$} {y:<wb$} {:>10} {:>12} {:>16}",
            t.flows, t.packets, t.bytes
        );
    }
    s
}

/// Totals by (app_protocol, transport) and overall.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// By (app_protocol, transport).
    pub by_app: BTreeMap<(String, String), Totals>,
    /// By (traffic_type, egress).
    pub by_egress: BTreeMap<(String, String), Totals>,
    /// Records whose two directions crossed different edges.
    pub asymmetric: u64,
    /// Records whose observed path contradicts the call-flow expectation.
    pub non_conformant: u64,
    /// Records with a call-flow expectation at all.
    pub with_expectation: u64,
    /// Everything.
    pub total: Totals,
    /// RTP streams by egress group.
    pub media: BTreeMap<String, MediaGroup>,
    /// RTP packets dropped by the per-flow stream cap, over all flows.
    pub rtp_overflow_packets: u64,
}

impl Summary {
    /// Counts one record.
    pub fn add(&mut self, r: &FlowRecord) {
        self.total.add(r);
        self.by_app
            .entry((
                r.labels.app_protocol.as_str().to_string(),
                r.transport.as_str().to_string(),
            ))
            .or_default()
            .add(r);
        self.by_egress
            .entry((
                r.labels.traffic_type.as_str().to_string(),
                r.labels.egress.egress.as_str().to_string(),
            ))
            .or_default()
            .add(r);
        self.asymmetric += u64::from(r.labels.egress.asymmetric == Some(true));
        self.non_conformant += u64::from(r.labels.egress.path_conformant == Some(false));
        self.with_expectation += u64::from(r.labels.egress.expected_path.is_some());
    }

    /// Counts the RTP streams of one record (those with RTP packets).
    pub fn add_streams(&mut self, r: &FlowRecord, streams: &[StreamRecord]) {
        self.rtp_overflow_packets +=
            u64::try_from(r.labels.media.rtp_overflow_packets).unwrap_or(0);
        for st in streams.iter().filter(|s| s.stats.packets > 0) {
            let g = self.media.entry(media_group(r).to_string()).or_default();
            g.loss_pct.push(st.stats.loss_pct());
            if let Some(j) = st.stats.jitter_mean_ms {
                g.jitter_ms.push(j);
            }
            if let Some(q) = st.quality {
                g.judged += 1;
                g.poor += u64::from(q == Quality::Poor);
            }
        }
    }

    /// The media table: streams by egress group, median and 95th percentile
    /// of loss and mean jitter, judged and poor streams. Empty without RTP.
    pub fn media_table(&self) -> String {
        let mut s = String::new();
        if self.media.is_empty() {
            return s;
        }
        let _ = writeln!(
            s,
            "{:<10} {:>8} {:>9} {:>9} {:>11} {:>11} {:>7} {:>6}",
            "egress",
            "streams",
            "loss_p50",
            "loss_p95",
            "jitter_p50",
            "jitter_p95",
            "judged",
            "poor"
        );
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
        for (k, g) in &self.media {
            let _ = writeln!(
                s,
                "{:<10} {:>8} {:>9} {:>9} {:>11} {:>11} {:>7} {:>6}",
                k,
                g.loss_pct.len(),
                f(percentile(&g.loss_pct, 50.0)),
                f(percentile(&g.loss_pct, 95.0)),
                f(percentile(&g.jitter_ms, 50.0)),
                f(percentile(&g.jitter_ms, 95.0)),
                g.judged,
                g.poor
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

    /// A plain-text table, largest byte count first.
    pub fn table(&self) -> String {
        let mut s = totals_table(&self.by_app, ("app_protocol", 14), ("transport", 9));
        let _ = writeln!(
            s,
            "{:<14} {:<9} {:>10} {:>12} {:>16}",
            "total", "", self.total.flows, self.total.packets, self.total.bytes
        );
        s.push('\n');
        s.push_str(&self.egress_table());
        s
    }

    /// Bytes and flows by traffic type and egress, largest byte count first,
    /// then the asymmetric and non-conformant counts.
    pub fn egress_table(&self) -> String {
        let mut s = totals_table(&self.by_egress, ("traffic_type", 17), ("egress", 13));
        let _ = writeln!(
            s,
            "asymmetric flows: {}; non-conformant flows: {} of {} with a call-flow expectation",
            self.asymmetric, self.non_conformant, self.with_expectation
        );
        s
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn groups_and_totals() {
        let mut s = Summary::default();
        let a = FlowRecord::example();
        let mut b = FlowRecord::example();
        b.transport = pathlens_classify::Transport::Udp;
        s.add(&a);
        s.add(&a);
        s.add(&b);
        assert_eq!(s.total.flows, 3);
        assert_eq!(s.total.packets, 3 * 18);
        let t = s.by_app[&("https".to_string(), "tcp".to_string())];
        assert_eq!((t.flows, t.bytes), (2, 10_000));
        let table = s.table();
        assert!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("https          tcp"),
            "{table}"
        );
        assert!(table.contains("total"));
        assert_eq!(s.media_table(), "");
    }

    #[test]
    fn percentiles_and_media_groups() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&[], 50.0), None);
        use pathlens_classify::media::MediaTracker;
        let mut t = MediaTracker::new();
        for i in 0..100u16 {
            if i == 7 {
                continue;
            }
            let mut p = vec![0x80, 0];
            p.extend(i.to_be_bytes());
            p.extend((u32::from(i) * 160).to_be_bytes());
            p.extend(9u32.to_be_bytes());
            t.feed(pathlens_classify::Side::Src2Dst, i64::from(i) * 20_000, &p);
        }
        let rules = pathlens_classify::media::QualityRules::builtin().unwrap();
        let m = crate::MediaFields::from_tracker(1, &t, &rules, &|_, _| None);
        let mut s = Summary::default();
        let mut r = FlowRecord::example();
        r.labels.egress.egress = pathlens_classify::egress::Egress::ExpressRoute;
        s.add_streams(&r, &m.streams);
        assert!(!s.media.contains_key("outbound"), "grouped by egress");
        let g = &s.media["expressroute"];
        assert_eq!((g.loss_pct.len(), g.judged, g.poor), (1, 1, 0));
        assert_eq!(g.loss_pct[0], 1.0);
        let table = s.media_table();
        assert!(
            table.lines().nth(1).unwrap().starts_with("expressroute"),
            "{table}"
        );
    }

    #[test]
    fn egress_groups_and_path_counts() {
        use pathlens_classify::egress::{Egress, ExpectedPath};
        let mut s = Summary::default();
        let mut a = FlowRecord::example();
        a.labels.traffic_type = pathlens_classify::TrafficType::Media;
        a.labels.egress.egress = Egress::ExpressRoute;
        a.labels.egress.asymmetric = Some(true);
        a.labels.egress.expected_path = Some(ExpectedPath::ExpressRoute);
        a.labels.egress.path_conformant = Some(false);
        let mut b = FlowRecord::example();
        b.labels.egress.egress = Egress::Internet;
        b.labels.egress.asymmetric = Some(false);
        s.add(&a);
        s.add(&a);
        s.add(&b);
        let t = s.by_egress[&("media".to_string(), "expressroute".to_string())];
        assert_eq!((t.flows, t.bytes), (2, 10_000));
        assert_eq!(
            s.by_egress[&("web".to_string(), "internet".to_string())].flows,
            1
        );
        assert_eq!(
            (s.asymmetric, s.non_conformant, s.with_expectation),
            (2, 2, 2)
        );
        let table = s.egress_table();
        assert!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("media             expressroute"),
            "{table}"
        );
        assert!(
            table.contains("asymmetric flows: 2; non-conformant flows: 2 of 2"),
            "{table}"
        );
    }
}
