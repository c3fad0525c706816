//! The flags `read` and `live` share (workers, timeouts, classification,
//! egress sources, media, output settings) and what they build: the flow
//! configuration, the knowledge tables, the writer options and the metadata
//! every output file carries.

use crate::config::EgressArgs;
use crate::decode::Decap;
use crate::flow::{FlowConfig, Knowledge};
use anyhow::Result;
use pathlens_classify::{RuleError, RuleText, SignatureTexts, Signatures};
use pathlens_export::{Compression, WriterOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How flows are classified.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ClassifyArg {
    /// Payload dissectors, then port rules (the default).
    Payload,
    /// Port rules only: no payload is inspected (fastest).
    Port,
}

/// Parquet column compression.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum CompressionArg {
    /// zstd (the default).
    Zstd,
    /// snappy.
    Snappy,
}

/// Flags shared by `read` and `live`.
#[derive(clap::Args, Debug)]
pub struct FlowArgs {
    /// Flow worker threads, 1 to 256 (default: the number of cores).
    #[arg(long, value_parser = super::checks::parse_workers)]
    pub workers: Option<usize>,
    /// A flow with no packet for this long ends.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// A flow record this long is cut; the flow continues in a new row.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub active_timeout: Duration,
    /// Packet time from the start of each input (or of a live capture)
    /// during which edge routers are learned from the wire when the config
    /// names none; the rows of that time wait for it to end.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub edge_warmup: Duration,
    /// Cap on live flows; past it the longest-idle flow is evicted (counted).
    #[arg(long, default_value = "4000000", value_parser = super::checks::parse_max_flows)]
    pub max_flows: usize,
    /// Parquet column compression.
    #[arg(long, value_enum, default_value = "zstd")]
    pub compression: CompressionArg,
    /// How flows are classified: from their payload, or from port rules only.
    #[arg(long, value_enum, default_value = "payload")]
    pub classify: ClassifyArg,
    /// Skip RTP/RTCP stream metrics: no media columns, empty streams table (cheaper on media-heavy links).
    #[arg(long)]
    pub no_media: bool,
    /// UDP ports of the tunnels to open, e.g. `vxlan=4789,8472 geneve=6081`
    /// (tunnels not named keep their standard port: VXLAN 4789, GENEVE 6081,
    /// GRE-in-UDP 4754, GTP-U 2152, Teredo 3544, AYIYA 5072). GRE and ERSPAN
    /// are opened by IP protocol 47.
    #[arg(long, value_name = "TUNNEL=PORT,..", value_parser = parse_decap)]
    pub decap_ports: Option<Decap>,
    /// Open no tunnel: flows are the outer packets as on the wire.
    #[arg(long, conflicts_with = "decap_ports")]
    pub no_decap: bool,
    /// Sensor name written to every row (default: the host name).
    #[arg(long)]
    pub sensor: Option<String>,
    /// Directory whose ports.toml, sni.toml and media.toml (each where present) override the built-in rules.
    #[arg(long, value_name = "DIR")]
    pub signatures: Option<PathBuf>,
    /// Site config (TOML; see signatures/site.example.toml). Flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Office 365 endpoints JSON (the endpoints web service output).
    #[arg(long, value_name = "FILE")]
    pub o365: Option<PathBuf>,
    /// A plain prefix list (one prefix a line, optional label), named NAME. Repeatable.
    #[arg(long, value_name = "NAME=FILE", value_parser = crate::config::name_eq_file)]
    pub prefixes: Vec<(String, PathBuf)>,
    /// A prefix list the ExpressRoute circuit receives (e.g. ER-learned routes). Repeatable.
    #[arg(long, value_name = "NAME=FILE", value_parser = crate::config::name_eq_file)]
    pub expressroute_prefixes: Vec<(String, PathBuf)>,
    /// Azure service tags JSON.
    #[arg(long, value_name = "FILE")]
    pub service_tags: Option<PathBuf>,
    /// A site network counted as local (besides RFC 1918/ULA). Repeatable; replaces the config's list.
    #[arg(long, value_name = "NET")]
    pub local: Vec<String>,
    /// A network of on-premises SfB servers (call-flow role onprem_server, service skype_teams). Repeatable.
    #[arg(long, value_name = "NET")]
    pub onprem: Vec<String>,
    /// A network of on-premises Exchange servers (call-flow role onprem_server, service exchange). Repeatable.
    #[arg(long, value_name = "NET")]
    pub onprem_exchange: Vec<String>,
    /// Deployment profile for call-flow expectations: online, hybrid, cloud_connector.
    #[arg(long, value_name = "PROFILE")]
    pub deployment: Option<String>,
    /// Call-flow table replacing the built-in signatures/callflow.toml.
    #[arg(long, value_name = "FILE")]
    pub callflow: Option<PathBuf>,
    /// CQD building data file (.csv or .tsv, no header row): each subnet's building, and its ExpressRoute flag.
    #[arg(long, value_name = "FILE")]
    pub buildings: Option<PathBuf>,
}

/// What the shared flags build, ready for `pipeline::run`.
pub struct Prepared {
    /// Worker threads.
    pub workers: usize,
    /// Flow timeouts and cap.
    pub flow: FlowConfig,
    /// Signatures, local networks, egress tables.
    pub knowledge: Knowledge,
    /// Output settings (run id, sensor, compression).
    pub writer: WriterOptions,
    /// Key-value metadata for every output file.
    pub metadata: Vec<(String, String)>,
    /// Prefix sources and their prefix counts (for the summary).
    pub prefix_sources: Vec<(String, usize)>,
    /// Which tunnels are opened.
    pub decap: Decap,
}

/// The rules of `--signatures DIR`: its `ports.toml`, `sni.toml` and
/// `media.toml`, each where it exists, with the built-in rules.
fn read_signatures(dir: &Path) -> Result<Signatures, RuleError> {
    let read = |name: &str| -> Result<Option<RuleText>, RuleError> {
        let path = dir.join(name);
        if !path.exists() {
            return Ok(None);
        }
        let file = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(RuleText { file, text })),
            Err(source) => Err(RuleError::Io { file, source }),
        }
    };
    Signatures::from_texts(&SignatureTexts {
        ports: read("ports.toml")?,
        sni: read("sni.toml")?,
        media: read("media.toml")?,
    })
}

fn parse_decap(s: &str) -> Result<Decap, String> {
    Decap::parse(s)
}

impl FlowArgs {
    /// Reads every rule and egress source (all checked before any packet
    /// is read) and builds the run's settings; `filter` goes in the metadata.
    ///
    /// # Errors
    /// A rule file, prefix list or site config is unreadable or invalid.
    pub fn prepare(&self, filter: Option<&str>) -> Result<Prepared> {
        let signatures = match &self.signatures {
            Some(dir) => read_signatures(dir)?,
            None => Signatures::builtin()?,
        };
        let built = crate::config::build(&EgressArgs {
            config: self.config.clone(),
            o365: self.o365.clone(),
            prefixes: self.prefixes.clone(),
            er_prefixes: self.expressroute_prefixes.clone(),
            service_tags: self.service_tags.clone(),
            local: self.local.clone(),
            onprem: self.onprem.clone(),
            onprem_exchange: self.onprem_exchange.clone(),
            deployment: self.deployment.clone(),
            callflow: self.callflow.clone(),
            buildings: self.buildings.clone(),
            check_only: false,
        })?;
        for (name, n) in &built.sources {
            tracing::info!(source = %name, prefixes = n, "prefix source loaded");
        }
        let workers = self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().min(super::checks::MAX_WORKERS))
        });
        let to_us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let flow = FlowConfig {
            idle_us: to_us(self.idle_timeout).max(1),
            active_us: to_us(self.active_timeout).max(1),
            capacity: self.max_flows,
            inspect_payload: matches!(self.classify, ClassifyArg::Payload),
            media_metrics: !self.no_media,
            edge_warmup_us: to_us(self.edge_warmup),
            ..FlowConfig::default()
        };
        let sensor = self
            .sensor
            .clone()
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
        let writer = WriterOptions {
            compression: match self.compression {
                CompressionArg::Zstd => Compression::Zstd,
                CompressionArg::Snappy => Compression::Snappy,
            },
            run_id: uuid::Uuid::new_v4().to_string(),
            sensor,
            // Set by `read` and `live` once `-w` names object storage.
            store: None,
        };
        let decap = if self.no_decap {
            Decap::off()
        } else {
            self.decap_ports.clone().unwrap_or_default()
        };
        let metadata = vec![
            ("pathlens.decap".to_string(), decap.describe()),
            (
                "pathlens.signatures_digest".to_string(),
                signatures.digest.clone(),
            ),
            (
                "pathlens.idle_timeout_s".to_string(),
                self.idle_timeout.as_secs_f64().to_string(),
            ),
            (
                "pathlens.active_timeout_s".to_string(),
                self.active_timeout.as_secs_f64().to_string(),
            ),
            (
                "pathlens.filter".to_string(),
                filter.unwrap_or_default().to_string(),
            ),
            (
                "pathlens.prefix_sources".to_string(),
                serde_json::to_string(&built.sources).unwrap_or_default(),
            ),
            (
                "pathlens.circuit".to_string(),
                built.site.circuit_decl.describe().to_string(),
            ),
        ];
        Ok(Prepared {
            workers,
            flow,
            knowledge: Knowledge {
                signatures,
                local: built.local,
                egress: built.site,
                sensor_position: built.sensor_position,
            },
            writer,
            metadata,
            prefix_sources: built.sources,
            decap,
        })
    }
}

/// The BPF filter of `-f EXPR` or `--filter-file FILE`.
///
/// # Errors
/// The filter file cannot be read.
pub fn filter_text(filter: Option<&str>, file: Option<&Path>) -> Result<Option<String>> {
    use anyhow::Context as _;
    Ok(match (filter, file) {
        (Some(f), _) => Some(f.to_string()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading {}", f.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    })
}
