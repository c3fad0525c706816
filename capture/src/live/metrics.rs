//! `--metrics-listen`: the live counters in Prometheus text format over
//! plain HTTP, one small thread answering every request with the same page.

use super::hooks::Snapshot;
use super::Gauges;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// The address to listen on: `PORT` or `:PORT` means loopback.
///
/// # Errors
/// Not an address or a port.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let port = s.strip_prefix(':').unwrap_or(s);
    if let Ok(p) = port.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], p)));
    }
    s.parse()
        .map_err(|_| format!("{s:?}: expected ADDR:PORT, [ADDR]:PORT or a port"))
}

/// The page: every counter with its type and help line.
pub fn render(s: &Snapshot) -> String {
    let rows: [(&str, &str, &str, u64); 20] = [
        ("pathlens_packets_total", "counter", "packets handed to the flow pipeline", s.packets),
        ("pathlens_pcap_received_packets_total", "counter", "packets libpcap received", s.received),
        ("pathlens_pcap_dropped_packets_total{reason=\"kernel\"}", "counter", "packets dropped: kernel buffer full (libpcap dropped) or by the interface (if_dropped)", s.kernel_dropped),
        ("pathlens_pcap_dropped_packets_total{reason=\"interface\"}", "", "", s.if_dropped),
        ("pathlens_flows_live", "gauge", "flows held in the flow tables", s.flows_live),
        ("pathlens_flows_evicted_total", "counter", "flows evicted past --max-flows", s.evicted),
        ("pathlens_rows_written_total", "counter", "flow rows in finished files", s.rows_written),
        ("pathlens_files_written_total", "counter", "flow files finished (renamed)", s.files_written),
        ("pathlens_rows_lost_total", "counter", "flow rows lost to output errors", s.rows_lost),
        ("pathlens_write_errors_total", "counter", "output errors", s.write_errors),
        ("pathlens_partitions_removed_total", "counter", "hour partitions removed by retention or the free-space guard", s.partitions_removed),
        ("pathlens_removed_bytes_total", "counter", "bytes of the hour partitions removed", s.bytes_removed),
        ("pathlens_disk_free_bytes", "gauge", "bytes free on the output's disk", s.disk_free),
        ("pathlens_disk_free_floor_bytes", "gauge", "free-space floor of the output's disk (0: none)", s.disk_floor),
        ("pathlens_last_rotation_timestamp_seconds", "gauge", "unix time of the last rotation (or of the start)", s.last_rotation),
        ("pathlens_last_packet_timestamp_seconds", "gauge", "unix time of the last packet captured (0: none yet)", s.last_packet),
        ("pathlens_o365_media_internet_flows_total", "counter", "Office 365 media flows (Teams, Skype for Business calls) whose egress is an Internet edge", s.o365_media_internet),
        ("pathlens_edges_redecided_total", "counter", "learned edges re-decided because their share of traffic changed (a failover)", s.edges_redecided),
        ("pathlens_config_reloads_total{result=\"ok\"}", "counter", "config reloads on SIGHUP (failed: a bad file, the old config kept)", s.reloads),
        ("pathlens_config_reloads_total{result=\"failed\"}", "", "", s.reloads_failed),
    ];
    let mut out = String::new();
    for (name, kind, help, v) in rows {
        let base = name.split('{').next().unwrap_or(name);
        if !kind.is_empty() {
            out.push_str(&format!("# HELP {base} {help}\n# TYPE {base} {kind}\n"));
        }
        out.push_str(&format!("{name} {v}\n"));
    }
    out
}

/// Binds `addr` and serves the gauges from a thread.
///
/// # Errors
/// The address cannot be bound.
pub fn serve(addr: SocketAddr, gauges: Arc<Gauges>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
            // The request is read (so the client is not reset) but not
            // parsed: every path gets the same page.
            let mut req = [0u8; 4096];
            let _ = c.read(&mut req);
            let body = render(&gauges.snapshot());
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_bare_port_is_loopback() {
        assert_eq!(parse_listen("9100").unwrap().to_string(), "127.0.0.1:9100");
        assert_eq!(parse_listen(":9100").unwrap().to_string(), "127.0.0.1:9100");
        assert_eq!(parse_listen("0.0.0.0:9").unwrap().to_string(), "0.0.0.0:9");
        assert!(parse_listen("x").is_err());
    }

    #[test]
    fn each_family_is_typed_once() {
        let page = render(&Snapshot {
            kernel_dropped: 3,
            ..Snapshot::default()
        });
        assert_eq!(
            page.matches("# TYPE pathlens_pcap_dropped_packets_total")
                .count(),
            1
        );
        assert!(page.contains("pathlens_pcap_dropped_packets_total{reason=\"kernel\"} 3\n"));
    }

    /// A failover counted by the edge decisions reaches the page through
    /// the pipeline's observer.
    #[test]
    fn redecided_edges_are_served() {
        use crate::pipeline::Observer;
        let g = crate::live::Gauges::new(2);
        g.edges_redecided(2);
        g.edges_redecided(1);
        let page = render(&g.snapshot());
        assert!(page.contains("# TYPE pathlens_edges_redecided_total counter\n"));
        assert!(
            page.contains("pathlens_edges_redecided_total 2\n"),
            "{page}"
        );
    }
}
