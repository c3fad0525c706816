//! The end-of-run summary printed to the terminal: inputs, counters, the
//! output and the prefix sources egress attribution used, then the tables of
//! `pathlens_export::summary` that `pathlens summary` prints for the output.

use crate::pipeline::RunReport;
use std::fmt::Write;

/// Renders the summary: inputs, counters, prefix sources (name and prefix
/// count), the flows tables and the media table.
pub fn render(
    r: &RunReport,
    output: Option<&std::path::Path>,
    prefix_sources: &[(String, usize)],
) -> String {
    let c = &r.counters;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "inputs:   {} read, {} failed",
        r.inputs.len(),
        r.failures.len()
    );
    // The same lines `pathlens summary` prints from the files' metadata.
    let counters: std::collections::BTreeMap<String, serde_json::Value> =
        match serde_json::to_value(c) {
            Ok(serde_json::Value::Object(m)) => m.into_iter().collect(),
            _ => Default::default(),
        };
    s.push_str(&pathlens_export::summary::counter_lines(&counters));
    match (output, &r.output_error) {
        (_, Some(e)) => {
            let _ = writeln!(s, "output:   FAILED: {e}");
        }
        (Some(p), None) if p == std::path::Path::new("-") => {
            let _ = writeln!(
                s,
                "output:   stdout ({} rows; no streams table)",
                c.records_written
            );
        }
        (Some(p), None)
            if p.is_dir()
                || pathlens_export::StoreUrl::parse(&p.to_string_lossy())
                    .is_ok_and(|u| u.is_some()) =>
        {
            let _ = writeln!(
                s,
                "output:   {} ({} rows, partitioned by date and hour)",
                p.join("flows").display(),
                c.records_written
            );
            let _ = writeln!(
                s,
                "streams:  {} ({} rows)",
                p.join("streams").display(),
                r.stream_rows
            );
            let _ = writeln!(
                s,
                "calls:    {} ({} rows)",
                p.join("calls").display(),
                r.call_rows
            );
        }
        (Some(p), None) => {
            let _ = writeln!(s, "output:   {} ({} rows)", p.display(), c.records_written);
            let _ = writeln!(
                s,
                "streams:  {} ({} rows)",
                pathlens_export::streams_path(p).display(),
                r.stream_rows
            );
            let _ = writeln!(
                s,
                "calls:    {} ({} rows)",
                pathlens_export::calls_path(p).display(),
                r.call_rows
            );
        }
        (None, None) => {
            let _ = writeln!(s, "output:   none (no -w given)");
        }
    }
    if !prefix_sources.is_empty() {
        let list: Vec<String> = prefix_sources
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let _ = writeln!(s, "prefixes: {}", list.join(", "));
    }
    s.push('\n');
    s.push_str(&r.summary.table());
    s
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn prefix_sources_and_egress_table_are_shown() {
        let mut r = RunReport::default();
        let mut rec = pathlens_export::FlowRecord::example();
        rec.labels.egress.egress = pathlens_classify::egress::Egress::ExpressRoute;
        rec.labels.egress.asymmetric = Some(true);
        r.summary.add(&rec);
        let text = render(&r, None, &[("o365".into(), 294), ("er".into(), 3)]);
        assert!(text.contains("prefixes: o365 294, er 3"), "{text}");
        assert!(
            text.contains("web               expressroute (predicted)"),
            "{text}"
        );
        assert!(
            text.contains("asymmetric flows: 1 of 1 measured\n"),
            "{text}"
        );
        assert!(!render(&r, None, &[]).contains("prefixes:"));
    }
}
