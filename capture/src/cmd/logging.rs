//! Logs on stderr through `tracing`: `-v` info (inputs opened, filters
//! compiled, prefix sources loaded, each input's counters), `-vv` debug
//! (anomalies: malformed packets by reason, evictions, clock jumps, each
//! logged a bounded number of times), `-vvv` trace; `RUST_LOG` overrides.
//! `--log-format json` writes one JSON object a line for log shippers.
//! The stats line of `live` and its reloads (target
//! `pathlens::health`) shows by default.

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// Installs the subscriber once for the process.
pub fn init(quiet: bool, verbose: u8, format: LogFormat) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        // A live capture's periodic stats line is seen without -v, as
        // tcpdump and Suricata users expect.
        (false, 0) => "warn,pathlens::health=info",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a sensor's stderr goes to a log.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The run's anomalies at debug, once each at the end of the run (the
/// reader and workers only count them): malformed frames by reason,
/// evictions, untracked fragments.
pub fn anomalies(c: &crate::counters::RunCounters) {
    for (reason, n) in &c.read.malformed {
        tracing::debug!(reason = %reason, frames = n, "malformed frames");
    }
    if c.flows.evicted > 0 {
        tracing::debug!(
            flows = c.flows.evicted,
            "flows evicted: the table reached --max-flows"
        );
    }
    if c.read.fragments_untracked > 0 {
        tracing::debug!(
            fragments = c.read.fragments_untracked,
            "IP fragments whose first fragment was not seen"
        );
    }
}
