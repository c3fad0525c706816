//! The end-of-run summary: flows, packets and bytes by app protocol and
//! transport and by traffic type and egress, plus the asymmetric and
//! non-conformant flow counts, accumulated by the writer as records pass.

use crate::record::FlowRecord;
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
}

impl Summary {
    /// Counts one record.
    pub fn add(&mut self, r: &FlowRecord) {
        self.total.add(r);
        self.by_app
            .entry((
                r.app_protocol.as_str().to_string(),
                r.transport.as_str().to_string(),
            ))
            .or_default()
            .add(r);
        self.by_egress
            .entry((
                r.traffic_type.as_str().to_string(),
                r.egress.egress.as_str().to_string(),
            ))
            .or_default()
            .add(r);
        self.asymmetric += u64::from(r.egress.asymmetric == Some(true));
        self.non_conformant += u64::from(r.egress.path_conformant == Some(false));
        self.with_expectation += u64::from(r.egress.expected_path.is_some());
    }

    /// A plain-text table, largest byte count first.
    pub fn table(&self) -> String {
        let mut rows: Vec<_> = self.by_app.iter().collect();
        rows.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<14} {:<9} {:>10} {:>12} {:>16}",
            "app_protocol", "transport", "flows", "packets", "bytes"
        );
        for ((app, tr), t) in rows {
            let _ = writeln!(
                s,
                "{:<14} {:<9} {:>10} {:>12} {:>16}",
                app, tr, t.flows, t.packets, t.bytes
            );
        }
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
        let mut rows: Vec<_> = self.by_egress.iter().collect();
        rows.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<17} {:<13} {:>10} {:>12} {:>16}",
            "traffic_type", "egress", "flows", "packets", "bytes"
        );
        for ((tt, eg), t) in rows {
            let _ = writeln!(
                s,
                "{:<17} {:<13} {:>10} {:>12} {:>16}",
                tt, eg, t.flows, t.packets, t.bytes
            );
        }
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
    }

    #[test]
    fn egress_groups_and_path_counts() {
        use pathlens_classify::egress::{Egress, ExpectedPath};
        let mut s = Summary::default();
        let mut a = FlowRecord::example();
        a.traffic_type = pathlens_classify::TrafficType::Media;
        a.egress.egress = Egress::ExpressRoute;
        a.egress.asymmetric = Some(true);
        a.egress.expected_path = Some(ExpectedPath::ExpressRoute);
        a.egress.path_conformant = Some(false);
        let mut b = FlowRecord::example();
        b.egress.egress = Egress::Internet;
        b.egress.asymmetric = Some(false);
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
