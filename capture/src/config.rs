//! The site config file (`--config site.toml`) and the egress flags that
//! override it, turned into the local networks and the egress [`Site`] once,
//! before any packet is read.
//!
//! Two layers: [`SiteConfig`] is the file as written (serde, every key
//! documented, unknown keys rejected); [`EgressArgs`] are the command-line
//! overrides; [`build`] reads every prefix source, hands the text to the pure
//! parsers of `pathlens_classify::egress`, and returns the validated tables.
//! Every error names the file, the line and the offending value. Relative
//! paths in the file are relative to the file's directory. A commented
//! example is `signatures/site.example.toml`.

use anyhow::{Context as _, Result};
use pathlens_classify::buildings::Buildings;
use pathlens_classify::classifier::{EXCHANGE, SKYPE_TEAMS};
use pathlens_classify::egress::callflow::{CallFlow, Profile, Role};
use pathlens_classify::egress::infer::MIN_FLOWS;
use pathlens_classify::egress::sources::{self, parse_cidr_list, parse_o365, parse_service_tags};
use pathlens_classify::egress::{
    CircuitDecl, CircuitSource, EdgeRules, Egress, EgressDbBuilder, EgressError, O365Advertised,
    Onprem, Site,
};
use pathlens_classify::outcome::SensorPosition;
use pathlens_classify::prefix::{LocalNets, PrefixTable};
use pathlens_classify::rules::line_of;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// The site config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    /// Deployment profile: `online` (default), `hybrid`, `cloud_connector`.
    pub deployment: Option<Spanned<String>>,
    /// The site's own networks, local in addition to RFC 1918, ULA,
    /// loopback, link-local and multicast (CIDR strings).
    pub local_networks: Vec<Spanned<String>>,
    /// Networks of on-premises servers (SfB pools, Edges, Mediation, Cloud
    /// Connector): their role in the call-flow table is `onprem_server`, and
    /// their service `skype_teams`.
    pub onprem_servers: Vec<Spanned<String>>,
    /// Networks of on-premises Exchange servers: call-flow role
    /// `onprem_server`, service `exchange`.
    pub onprem_exchange: Vec<Spanned<String>>,
    /// On-premises servers by role, one `[[onprem]]` table each.
    pub onprem: Vec<OnpremConfig>,
    /// Prefix sources.
    pub sources: SourcesConfig,
    /// The ExpressRoute circuit: `"none"` (no circuit: Office 365 is
    /// expected over the Internet), or an `[expressroute]` table (the site
    /// has a circuit; its route filter). Absent, and no ExpressRoute prefix
    /// list: no circuit is declared, and Office 365 is predicted and
    /// expected over the Internet.
    pub expressroute: Option<Spanned<toml::Value>>,
    /// Fewest flows that decide a learned edge's path (default 3), and
    /// fewest flows in one interval that decide it again.
    pub edge_min_flows: Option<u64>,
    /// Edge routers, one `[[edge]]` table each.
    pub edge: Vec<Spanned<EdgeConfig>>,
    /// A call-flow table replacing the built-in `signatures/callflow.toml`.
    pub callflow: Option<PathBuf>,
    /// Where the sensor taps: `inside` (default) or `customer_edge`, which
    /// judges media of flows crossing the ExpressRoute edge by that
    /// segment's targets.
    pub sensor_position: Option<Spanned<String>>,
    /// The CQD building data file (`.csv` or `.tsv`, no header row): each
    /// local subnet's building, and whether that building has ExpressRoute.
    pub buildings: Option<PathBuf>,
}

/// `[sources]`: where prefixes come from.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourcesConfig {
    /// The Office 365 endpoints JSON (source name `o365`).
    pub o365: Option<PathBuf>,
    /// An Azure service tags JSON (source name `service_tags`).
    pub service_tags: Option<PathBuf>,
    /// Plain prefix lists, one `[[sources.prefixes]]` table each.
    pub prefixes: Vec<PrefixListConfig>,
}

/// One plain prefix list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixListConfig {
    /// Source name (`egress_list` value).
    pub name: String,
    /// The file: one prefix a line, `#` comments, optional label after it.
    pub path: PathBuf,
    /// The circuit receives these prefixes (e.g. an export of ER-learned routes). Default false.
    #[serde(default)]
    pub expressroute: bool,
}

/// `[expressroute]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpressRouteConfig {
    /// The route filter: which Office 365 sets with `expressRoute: true`
    /// the circuit receives: `"all"` (default), `"none"`, or a list of
    /// service areas (`"Skype"`, `"Exchange"`, `"SharePoint"`, `"Common"`:
    /// the BGP communities the filter allows) and endpoint set ids (`11`).
    pub route_filter: Option<toml::Value>,
    /// The older name of `route_filter`.
    pub o365: Option<toml::Value>,
    /// The service tags source is received over the circuit. Default false.
    pub service_tags: bool,
}

/// The circuit's route filter and whether it carries the service tags,
/// from the `expressroute` key.
fn circuit(
    v: Option<&Spanned<toml::Value>>,
    file: &str,
    text: &str,
) -> Result<(O365Advertised, bool), EgressError> {
    let err = |span: std::ops::Range<usize>, value: &str, msg: &str| {
        EgressError::new(file, line_of(text, span.start), value, msg)
    };
    let Some(v) = v else {
        return Ok((O365Advertised::All, false));
    };
    let table: ExpressRouteConfig = match v.get_ref() {
        toml::Value::String(s) if s == "none" => return Ok((O365Advertised::None, false)),
        t @ toml::Value::Table(_) => t
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| err(v.span(), "[expressroute]", e.message().trim()))?,
        other => {
            return Err(err(
                v.span(),
                &other.to_string(),
                "expressroute: expected \"none\" or an [expressroute] table",
            ))
        }
    };
    let filter = match (&table.route_filter, &table.o365) {
        (Some(_), Some(_)) => {
            return Err(err(
                v.span(),
                "o365",
                "expressroute: give route_filter or its older name o365, not both",
            ))
        }
        (f, o) => f.as_ref().or(o.as_ref()),
    };
    let advertised = match filter {
        None => O365Advertised::All,
        Some(f) => {
            let bad = || {
                err(
                    v.span(),
                    &f.to_string(),
                    "expressroute.route_filter: expected \"all\", \"none\" or a list of service areas and endpoint set ids",
                )
            };
            match f {
                toml::Value::String(s) if s == "all" => O365Advertised::All,
                toml::Value::String(s) if s == "none" => O365Advertised::None,
                toml::Value::Array(a) => {
                    let (mut areas, mut ids) = (Vec::new(), Vec::new());
                    for x in a {
                        match x {
                            toml::Value::String(s) if sources::is_service_area(s) => {
                                areas.push(s.clone())
                            }
                            toml::Value::Integer(n) => {
                                ids.push(i32::try_from(*n).map_err(|_| bad())?)
                            }
                            _ => return Err(bad()),
                        }
                    }
                    O365Advertised::Filter { areas, ids }
                }
                _ => return Err(bad()),
            }
        }
    };
    Ok((advertised, table.service_tags))
}

/// One `[[onprem]]` server (or group of servers of one role).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnpremConfig {
    /// `edge`, `front_end`, `director`, `mediation`, `reverse_proxy`,
    /// `exchange`, `sharepoint`, `cloud_connector`, `sbc`.
    pub role: Spanned<String>,
    /// Its addresses or networks (CIDR strings).
    #[serde(default)]
    pub addresses: Vec<Spanned<String>>,
    /// Its names (exact, `*.suffix` or `prefix.*`), matched against the
    /// `server_name` of flows to it.
    #[serde(default)]
    pub names: Vec<String>,
}

/// One `[[edge]]` router.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Its name (`src2dst_next_hop` value).
    pub name: String,
    /// `expressroute` or `internet`.
    pub path: Spanned<String>,
    /// MAC addresses of its interfaces toward the tap.
    #[serde(default)]
    pub macs: Vec<Spanned<String>>,
    /// VLANs that lead to it.
    #[serde(default)]
    pub vlans: Vec<u16>,
}

/// Egress flags; each overrides the config file.
#[derive(Debug, Default, Clone)]
pub struct EgressArgs {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--o365`.
    pub o365: Option<PathBuf>,
    /// `--prefixes NAME=FILE` (replaces a same-named list of the file).
    pub prefixes: Vec<(String, PathBuf)>,
    /// `--expressroute-prefixes NAME=FILE`: a list the circuit receives.
    pub er_prefixes: Vec<(String, PathBuf)>,
    /// `--service-tags`.
    pub service_tags: Option<PathBuf>,
    /// `--local` (replaces the file's `local_networks` when given).
    pub local: Vec<String>,
    /// `--onprem` (replaces the file's `onprem_servers` when given).
    pub onprem: Vec<String>,
    /// `--onprem-exchange` (replaces the file's `onprem_exchange` when given).
    pub onprem_exchange: Vec<String>,
    /// `--deployment`.
    pub deployment: Option<String>,
    /// `--callflow`.
    pub callflow: Option<PathBuf>,
    /// `--buildings` (replaces the file's `buildings`).
    pub buildings: Option<PathBuf>,
    /// Check the config's own values only; do not read the files it names
    /// (`pathlens signatures check`).
    pub check_only: bool,
}

/// What [`build`] produces.
#[derive(Debug)]
pub struct Built {
    /// Local networks.
    pub local: LocalNets,
    /// Egress tables.
    pub site: Site,
    /// Where the sensor taps.
    pub sensor_position: SensorPosition,
    /// Each prefix source and its prefix count, for the file metadata.
    pub sources: Vec<(String, usize)>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn net(file: &str, text: &str, s: &Spanned<String>) -> Result<ipnet::IpNet, EgressError> {
    pathlens_classify::egress::sources::parse_prefix(s.get_ref()).ok_or_else(|| {
        EgressError::new(
            file,
            line_of(text, s.span().start),
            s.get_ref(),
            "not an IP prefix",
        )
    })
}

/// Parses the config text (`file` names it in errors).
///
/// # Errors
/// Invalid TOML or an unknown key, with its line and the key.
pub fn parse(text: &str, file: &str) -> Result<SiteConfig, EgressError> {
    toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let value = text.get(span.clone()).unwrap_or_default().trim();
        let value: String = value.chars().take(60).collect();
        EgressError::new(file, line_of(text, span.start), &value, e.message().trim())
    })
}

fn split_flag(v: &str) -> Option<(String, PathBuf)> {
    let (name, path) = v.split_once('=')?;
    (!name.is_empty() && !path.is_empty()).then(|| (name.to_string(), PathBuf::from(path)))
}

/// Parses a `NAME=FILE` flag value.
///
/// # Errors
/// No `=`, or an empty side.
pub fn name_eq_file(v: &str) -> Result<(String, PathBuf), String> {
    split_flag(v).ok_or_else(|| format!("expected NAME=FILE, got {v:?}"))
}

/// The config file as read: its parsed keys, its text and name (for error
/// lines) and the directory its relative paths start from.
struct Loaded {
    cfg: SiteConfig,
    text: String,
    file: String,
    base: PathBuf,
}

impl Loaded {
    fn read(config: Option<&Path>) -> Result<Self> {
        let Some(p) = config else {
            return Ok(Loaded {
                cfg: SiteConfig::default(),
                text: String::new(),
                file: String::new(),
                base: PathBuf::new(),
            });
        };
        let text = read(p)?;
        let file = p.display().to_string();
        let cfg = parse(&text, &file)?;
        let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Loaded {
            cfg,
            text,
            file,
            base,
        })
    }

    /// A path of the file, relative to the file's directory.
    fn rel(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn error(&self, span: std::ops::Range<usize>, value: &str, msg: &str) -> EgressError {
        EgressError::new(&self.file, line_of(&self.text, span.start), value, msg)
    }

    fn net(&self, s: &Spanned<String>) -> Result<ipnet::IpNet, EgressError> {
        net(&self.file, &self.text, s)
    }
}

/// A prefix given on the command line.
fn flag_net(flag: &str, s: &str) -> Result<ipnet::IpNet, EgressError> {
    pathlens_classify::egress::sources::parse_prefix(s)
        .ok_or_else(|| EgressError::new(flag, 0, s, "not an IP prefix"))
}

fn local_nets(args: &EgressArgs, l: &Loaded) -> Result<LocalNets> {
    let mut local = LocalNets::default();
    if args.local.is_empty() {
        for s in &l.cfg.local_networks {
            local.add(l.net(s)?, "site");
        }
    } else {
        for s in &args.local {
            local.add(flag_net("--local", s)?, "site");
        }
    }
    Ok(local)
}

/// On-premises servers by address, and by name.
type OnpremTables = (PrefixTable<Onprem>, Vec<(String, Onprem)>);

/// The on-premises servers by address and by name.
fn onprem(args: &EgressArgs, l: &Loaded) -> Result<OnpremTables> {
    let mut onprem = PrefixTable::new();
    // The shorthand lists: role onprem_server, service by list.
    for (flag, given, listed, service) in [
        ("--onprem", &args.onprem, &l.cfg.onprem_servers, SKYPE_TEAMS),
        (
            "--onprem-exchange",
            &args.onprem_exchange,
            &l.cfg.onprem_exchange,
            EXCHANGE,
        ),
    ] {
        let server = Onprem {
            role: Role::OnpremServer,
            service: Arc::from(service),
        };
        if given.is_empty() {
            for s in listed {
                onprem.insert(l.net(s)?, server.clone());
            }
        } else {
            for s in given {
                onprem.insert(flag_net(flag, s)?, server.clone());
            }
        }
    }
    // [[onprem]] entries come after, so a role wins over the shorthand on
    // an equal prefix.
    let mut names = Vec::new();
    for o in &l.cfg.onprem {
        let role = Role::parse(o.role.get_ref())
            .filter(|r| r.is_onprem() && *r != Role::OnpremServer)
            .ok_or_else(|| {
                l.error(
                    o.role.span(),
                    o.role.get_ref(),
                    "onprem role: expected edge, front_end, director, mediation, reverse_proxy, exchange, sharepoint, cloud_connector or sbc",
                )
            })?;
        for a in &o.addresses {
            onprem.insert(l.net(a)?, Onprem::new(role));
        }
        for n in &o.names {
            names.push((n.to_ascii_lowercase(), Onprem::new(role)));
        }
    }
    Ok((onprem, names))
}

fn profile(args: &EgressArgs, l: &Loaded) -> Result<Profile, EgressError> {
    const WHAT: &str = "expected online, hybrid or cloud_connector";
    Ok(match (&args.deployment, &l.cfg.deployment) {
        (Some(d), _) => {
            Profile::parse(d).ok_or_else(|| EgressError::new("--deployment", 0, d, WHAT))?
        }
        (None, Some(d)) => {
            Profile::parse(d.get_ref()).ok_or_else(|| l.error(d.span(), d.get_ref(), WHAT))?
        }
        (None, None) => Profile::default(),
    })
}

fn sensor_position(l: &Loaded) -> Result<SensorPosition, EgressError> {
    match &l.cfg.sensor_position {
        None => Ok(SensorPosition::default()),
        Some(v) => SensorPosition::parse(v.get_ref()).ok_or_else(|| {
            l.error(
                v.span(),
                v.get_ref(),
                "sensor_position: expected \"inside\" or \"customer_edge\"",
            )
        }),
    }
}

/// Every prefix source, read and parsed.
fn prefix_db(
    args: &EgressArgs,
    l: &Loaded,
    er_o365: &O365Advertised,
    er_service_tags: bool,
) -> Result<EgressDbBuilder> {
    let mut db = EgressDbBuilder::default();
    let o365 = args
        .o365
        .clone()
        .or_else(|| l.cfg.sources.o365.as_deref().map(|p| l.rel(p)));
    if let Some(p) = o365.filter(|_| !args.check_only) {
        let flag = if args.o365.is_some() {
            "--o365"
        } else {
            "o365 in [sources] of the site config"
        };
        let text = read(&p).with_context(|| {
            format!("{flag} takes the Office 365 endpoints JSON (/endpoints/Worldwide), not a capture or a binary file")
        })?;
        let sets = parse_o365(&text, &p.display().to_string())
            .with_context(|| format!("{flag} {}", p.display()))?;
        db.add_o365("o365", sets, er_o365);
    }
    let mut lists: Vec<(String, PathBuf, bool)> = l
        .cfg
        .sources
        .prefixes
        .iter()
        .map(|p| (p.name.clone(), l.rel(&p.path), p.expressroute))
        .collect();
    let flag_lists = args
        .prefixes
        .iter()
        .map(|(n, p)| (n, p, false))
        .chain(args.er_prefixes.iter().map(|(n, p)| (n, p, true)));
    for (name, path, er) in flag_lists {
        lists.retain(|x| &x.0 != name);
        lists.push((name.clone(), path.clone(), er));
    }
    for (name, path, er) in lists.into_iter().filter(|_| !args.check_only) {
        let items = parse_cidr_list(&read(&path)?, &path.display().to_string())?;
        db.add_cidrs(&name, items, er);
    }
    let tags = args
        .service_tags
        .clone()
        .or_else(|| l.cfg.sources.service_tags.as_deref().map(|p| l.rel(p)));
    if let Some(p) = tags.filter(|_| !args.check_only) {
        let t = parse_service_tags(&read(&p)?, &p.display().to_string())?;
        db.add_service_tags("service_tags", t, er_service_tags);
    }
    Ok(db)
}

fn edges(l: &Loaded) -> Result<pathlens_classify::egress::Edges> {
    let mut edges = pathlens_classify::egress::Edges::default();
    for e in &l.cfg.edge {
        let line = line_of(&l.text, e.span().start);
        let ec = e.get_ref();
        let path = Egress::parse_edge_path(ec.path.get_ref()).ok_or_else(|| {
            l.error(
                ec.path.span(),
                ec.path.get_ref(),
                "edge path: expected expressroute or internet",
            )
        })?;
        let mut macs = Vec::with_capacity(ec.macs.len());
        for m in &ec.macs {
            if pathlens_classify::egress::edge::parse_mac(m.get_ref()).is_none() {
                return Err(l.error(m.span(), m.get_ref(), "not a MAC address").into());
            }
            macs.push(m.get_ref().clone());
        }
        edges.add(&ec.name, path, &macs, &ec.vlans, &l.file, line)?;
    }
    Ok(edges)
}

/// The building file (`--buildings`, else the config's `buildings`); its
/// subnets are added to the local networks unless a local network already
/// covers them whole.
fn buildings(args: &EgressArgs, l: &Loaded, local: &mut LocalNets) -> Result<Buildings> {
    let path = args
        .buildings
        .clone()
        .or_else(|| l.cfg.buildings.as_deref().map(|p| l.rel(p)));
    let Some(p) = path.filter(|_| !args.check_only) else {
        return Ok(Buildings::default());
    };
    let b = pathlens_classify::buildings::parse(&read(&p)?, &p.display().to_string())?;
    for row in b.iter() {
        let covered = local
            .lookup(row.network.network())
            .is_some_and(|m| m.prefix.prefix_len() <= row.network.prefix_len());
        if !covered {
            local.add(row.network, "building");
        }
    }
    Ok(b)
}

/// Who declares the site's circuit, and the Office 365 sets it receives: an
/// Office 365 list says what a circuit could receive; without an
/// `[expressroute]` table none of it is received (a prefix list, if any,
/// says exactly what is), unless the building file gives a building a
/// circuit: every ExpressRoute-capable set then reaches that building's
/// subnets.
fn circuit_decl(
    args: &EgressArgs,
    l: &Loaded,
    er_o365: O365Advertised,
    buildings: &Buildings,
) -> (CircuitDecl, O365Advertised) {
    let er_lists =
        !args.er_prefixes.is_empty() || l.cfg.sources.prefixes.iter().any(|p| p.expressroute);
    let decl = match l.cfg.expressroute.as_ref().map(Spanned::get_ref) {
        Some(toml::Value::String(_)) => CircuitDecl::NoCircuit,
        Some(_) => CircuitDecl::Declared(CircuitSource::Config),
        None if er_lists => CircuitDecl::Declared(CircuitSource::PrefixList),
        None => CircuitDecl::Undeclared,
    };
    let er_o365 = match decl {
        CircuitDecl::Declared(CircuitSource::Config) => er_o365,
        CircuitDecl::Undeclared if buildings.iter().any(|b| b.expressroute) => O365Advertised::All,
        _ => O365Advertised::None,
    };
    (decl, er_o365)
}

/// Reads the config (if any) and every prefix source, and builds the tables.
///
/// # Errors
/// A file that cannot be read, or any parse error (file, line, value).
pub fn build(args: &EgressArgs) -> Result<Built> {
    let l = Loaded::read(args.config.as_deref())?;
    let mut local = local_nets(args, &l)?;
    let (onprem, onprem_names) = onprem(args, &l)?;
    let profile = profile(args, &l)?;
    let sensor_position = sensor_position(&l)?;
    let (er_o365, er_service_tags) = circuit(l.cfg.expressroute.as_ref(), &l.file, &l.text)?;
    let buildings = buildings(args, &l, &mut local)?;
    let (circuit_decl, er_o365) = circuit_decl(args, &l, er_o365, &buildings);
    let db = prefix_db(args, &l, &er_o365, er_service_tags)?;
    let edges = edges(&l)?;
    let callflow = match args
        .callflow
        .clone()
        .or_else(|| l.cfg.callflow.as_deref().map(|p| l.rel(p)))
        .filter(|_| !args.check_only)
    {
        Some(p) => CallFlow::parse(&read(&p)?, &p.display().to_string())?,
        None => CallFlow::default(),
    };
    // A building's ExpressRoute flag is the circuit of its subnets.
    let mut circuit_subnets = PrefixTable::new();
    for b in buildings.iter() {
        let d = if b.expressroute {
            CircuitDecl::Declared(CircuitSource::Building)
        } else {
            CircuitDecl::NoCircuit
        };
        circuit_subnets.insert(b.network, d);
    }
    let db = db.build();
    let sources = db.sources().to_vec();
    Ok(Built {
        local,
        site: Site {
            db,
            edges,
            callflow,
            profile,
            onprem,
            onprem_names,
            circuit: er_o365,
            circuit_decl,
            circuit_subnets,
            edge_rules: EdgeRules {
                min_flows: l.cfg.edge_min_flows.unwrap_or(MIN_FLOWS).max(1),
                circuit_declared: circuit_decl.is_declared()
                    || buildings.iter().any(|b| b.expressroute),
            },
            buildings: Arc::new(buildings),
        },
        sensor_position,
        sources,
    })
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../signatures/site.example.toml");
        let c = parse(text, "site.example.toml").unwrap();
        assert_eq!(c.edge.len(), 2);
        assert!(c.deployment.is_some());
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let text = "deployment = \"online\"\n\n[[edge]]\nname = \"er\"\npath = \"expressroute\"\nmac = [\"00:11:22:33:44:55\"]\n";
        let e = parse(text, "site.toml").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("site.toml", 6), "{e}");
        assert_eq!(e.value, "mac");
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn circuit_and_route_filter() {
        let c = |t: &str| {
            let cfg = parse(t, "s.toml").unwrap();
            circuit(cfg.expressroute.as_ref(), "s.toml", t)
        };
        assert_eq!(c("").unwrap(), (O365Advertised::All, false));
        assert_eq!(
            c("expressroute = \"none\"\n").unwrap(),
            (O365Advertised::None, false)
        );
        assert_eq!(
            c("[expressroute]\nroute_filter = [\"Skype\", 12, \"exchange\"]\nservice_tags = true\n")
                .unwrap(),
            (
                O365Advertised::Filter {
                    areas: vec!["Skype".into(), "exchange".into()],
                    ids: vec![12]
                },
                true
            )
        );
        assert_eq!(
            c("[expressroute]\no365 = \"none\"\n").unwrap().0,
            O365Advertised::None,
            "the older key"
        );
        let e = c("\n[expressroute]\nroute_filter = [\"Teams\"]\n").unwrap_err();
        assert!(e.message.contains("service areas"), "{e}");
        assert!(c("[expressroute]\nroute_filter = \"all\"\no365 = \"all\"\n").is_err());
        let e = c("expressroute = \"off\"\n").unwrap_err();
        assert_eq!((e.line, e.value.as_str()), (1, "\"off\""), "{e}");
    }

    #[test]
    fn onprem_roles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("site.toml");
        std::fs::write(
            &p,
            "deployment = \"hybrid\"\nonprem_servers = [\"10.1.0.0/24\"]\n[[onprem]]\nrole = \"edge\"\naddresses = [\"10.1.0.5/32\"]\nnames = [\"SIP.Contoso.com\"]\n[[onprem]]\nrole = \"exchange\"\naddresses = [\"10.2.0.25\"]\n",
        )
        .unwrap();
        let args = EgressArgs {
            config: Some(p.clone()),
            ..EgressArgs::default()
        };
        let b = build(&args).unwrap();
        let role = |a: &str| {
            b.site
                .onprem
                .lookup(a.parse().unwrap())
                .map(|(_, o)| o.role)
        };
        assert_eq!(
            role("10.1.0.5"),
            Some(Role::Edge),
            "the role wins over the shorthand"
        );
        assert_eq!(role("10.1.0.6"), Some(Role::OnpremServer));
        assert_eq!(role("10.2.0.25"), Some(Role::Exchange));
        assert_eq!(
            b.site
                .onprem
                .lookup("10.2.0.25".parse().unwrap())
                .unwrap()
                .1
                .service
                .as_ref(),
            "exchange"
        );
        assert_eq!(
            b.site.named_role("sip.contoso.com", false),
            Some(Role::Edge)
        );
        std::fs::write(&p, "[[onprem]]\nrole = \"pbx\"\n").unwrap();
        let e = build(&args).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("pbx"), "{e}");
    }
}
