//! The end-of-run summary printed to the terminal.

use crate::pipeline::RunReport;
use std::fmt::Write;

/// Renders the summary: inputs, counters, the flows table and the media table.
pub fn render(r: &RunReport, output: Option<&std::path::Path>) -> String {
    let c = &r.counters;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "inputs:   {} read, {} failed",
        r.inputs.len(),
        r.failures.len()
    );
    let malformed: Vec<String> = c
        .read
        .malformed
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        s,
        "packets:  {} read, {} decoded, {} not IP, {} truncated by snaplen, {} fragments ({} untracked), {} malformed{}",
        c.read.packets_read,
        c.read.packets_decoded,
        c.read.not_ip,
        c.read.truncated,
        c.read.fragments,
        c.read.fragments_untracked,
        c.read.malformed_total(),
        if malformed.is_empty() { String::new() } else { format!(" ({})", malformed.join(", ")) }
    );
    let ended: Vec<String> = c
        .flows
        .ended
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        s,
        "flows:    {} created, {} records ({}), {} evicted",
        c.flows.flows_created,
        c.records_written,
        ended.join(", "),
        c.flows.evicted
    );
    match (output, &r.output_error) {
        (_, Some(e)) => {
            let _ = writeln!(s, "output:   FAILED: {e}");
        }
        (Some(p), None) => {
            let _ = writeln!(s, "output:   {} ({} rows)", p.display(), c.records_written);
            let _ = writeln!(
                s,
                "streams:  {} ({} rows)",
                pathlens_export::streams_path(p).display(),
                r.stream_rows
            );
        }
        (None, None) => {
            let _ = writeln!(s, "output:   none (no -w given)");
        }
    }
    s.push('\n');
    s.push_str(&r.summary.table());
    let media = r.summary.media_table();
    if !media.is_empty() {
        s.push_str("\nRTP streams by egress (loss %, mean jitter ms):\n");
        s.push_str(&media);
    }
    s
}
