//! The end-of-run summary: flows, packets and bytes by app protocol and
//! transport, accumulated by the writer as records pass.

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
}
