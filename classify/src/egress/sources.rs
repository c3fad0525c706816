//! Parsers for the prefix sources: the Office 365 endpoints JSON, plain CIDR
//! lists and Azure service tags JSON.
//!
//! Each parser takes the file's text and a source name (the file name, used in
//! messages) and either returns every prefix or the first error, naming the
//! source, the line and the offending value. Nothing here reads files.

use crate::rules::line_of;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::sync::Arc;

/// A prefix source, site config or call-flow table could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}: {value:?}")]
pub struct EgressError {
    /// The source (file name).
    pub file: String,
    /// 1-based line number (0 when the problem has no line).
    pub line: usize,
    /// The offending value, as written.
    pub value: String,
    /// What is wrong with it.
    pub message: String,
}

impl EgressError {
    /// An error at `line` about `value`.
    pub fn new(file: &str, line: usize, value: &str, message: impl Into<String>) -> Self {
        EgressError {
            file: file.to_string(),
            line,
            value: value.to_string(),
            message: message.into(),
        }
    }
}

/// Line of the first occurrence of `"value"` in a JSON text: serde_json does
/// not report where an element of a valid document sits, and a bad prefix is
/// most useful with a line to look at.
fn json_line_of(text: &str, value: &str) -> usize {
    let quoted = format!("\"{value}\"");
    text.find(&quoted).map_or(0, |at| line_of(text, at))
}

fn json_error(file: &str, text: &str, e: &serde_json::Error) -> EgressError {
    // serde_json counts lines from 1 and columns from 1.
    let line = e.line();
    let value = text
        .lines()
        .nth(line.saturating_sub(1))
        .map(str::trim)
        .unwrap_or_default();
    let value: String = value.chars().take(80).collect();
    EgressError::new(
        file,
        line,
        &value,
        format!("invalid JSON at column {}: {e}", e.column()),
    )
}

/// Parses a prefix: `a.b.c.d/n`, `x::/n`, or a bare address (a host prefix).
/// Host bits are cleared.
pub fn parse_prefix(s: &str) -> Option<IpNet> {
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Office 365 endpoint category, ordered Default < Allow < Optimize.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Category {
    /// Fine over the normal Internet egress.
    #[default]
    Default,
    /// Benefits from good connectivity.
    Allow,
    /// Latency-critical; bypass proxies.
    Optimize,
}

impl Category {
    /// The value as Microsoft writes it (`o365_category` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Default => "Default",
            Category::Allow => "Allow",
            Category::Optimize => "Optimize",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "Default" => Some(Category::Default),
            "Allow" => Some(Category::Allow),
            "Optimize" => Some(Category::Optimize),
            _ => None,
        }
    }
}

/// The `service` column value for an Office 365 service area.
pub fn service_of_area(area: &str) -> Option<&'static str> {
    match area {
        "Skype" => Some("skype_teams"),
        "Exchange" => Some("exchange"),
        "SharePoint" => Some("sharepoint"),
        "Common" => Some("common"),
        _ => None,
    }
}

/// Whether `s` names an Office 365 service area, in any case (a route
/// filter may list them).
pub fn is_service_area(s: &str) -> bool {
    ["Exchange", "SharePoint", "Skype", "Common"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(s))
}

/// One Office 365 endpoint set, as the endpoints web service describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct O365Set {
    /// Immutable id of the set.
    pub id: i32,
    /// `Common`, `Exchange`, `SharePoint`, `Skype`.
    pub service_area: Arc<str>,
    /// `service` column value derived from the service area.
    pub service: Option<Arc<str>>,
    /// Optimize, Allow or Default.
    pub category: Category,
    /// The set is routed over ExpressRoute (Microsoft peering advertises it).
    pub expressroute: bool,
    /// Needed for the service to be supported.
    pub required: bool,
    /// TCP ports, as written (`"80,443"`).
    pub tcp_ports: Arc<str>,
    /// UDP ports, as written.
    pub udp_ports: Arc<str>,
    /// The set's prefixes.
    pub ips: Vec<IpNet>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSet {
    id: i64,
    service_area: String,
    #[serde(default)]
    ips: Vec<String>,
    #[serde(default)]
    tcp_ports: String,
    #[serde(default)]
    udp_ports: String,
    #[serde(default)]
    express_route: bool,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    required: bool,
}

/// Parses the Office 365 endpoints JSON (`/endpoints/<instance>` output).
///
/// # Errors
/// Invalid JSON (with serde_json's line and column), a set without `id` or
/// `serviceArea`, an unknown category or a bad prefix (with its line).
pub fn parse_o365(text: &str, file: &str) -> Result<Vec<O365Set>, EgressError> {
    // Valid JSON of another shape is a wrong file, not a syntax slip: say
    // what was expected.
    const SHAPE: &str = "expected the Office 365 endpoint list as /endpoints/Worldwide returns it: a JSON array of endpoint sets such as {\"id\": 11, \"serviceArea\": \"Skype\", \"ips\": [\"52.112.0.0/14\"], \"expressRoute\": true, \"category\": \"Optimize\"}";
    let raw: Vec<RawSet> = serde_json::from_str(text).map_err(|e| {
        let mut err = json_error(file, text, &e);
        if e.classify() == serde_json::error::Category::Data {
            err.message = format!("{SHAPE} ({e})");
        }
        err
    })?;
    if raw.is_empty() {
        return Err(EgressError::new(
            file,
            1,
            text.trim(),
            format!("no endpoint set in the list: {SHAPE}"),
        ));
    }
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let id = i32::try_from(r.id).map_err(|_| {
            EgressError::new(
                file,
                json_line_of(text, &r.id.to_string()),
                &r.id.to_string(),
                "endpoint id out of range",
            )
        })?;
        let category = match r.category.as_deref() {
            None => Category::Default,
            Some(c) => Category::parse(c).ok_or_else(|| {
                EgressError::new(
                    file,
                    json_line_of(text, c),
                    c,
                    format!("endpoint set {id}: unknown category (Optimize, Allow, Default)"),
                )
            })?,
        };
        let mut ips = Vec::with_capacity(r.ips.len());
        for ip in &r.ips {
            let net = parse_prefix(ip).ok_or_else(|| {
                EgressError::new(
                    file,
                    json_line_of(text, ip),
                    ip,
                    format!("endpoint set {id}: not an IP prefix"),
                )
            })?;
            ips.push(net);
        }
        out.push(O365Set {
            id,
            service: service_of_area(&r.service_area).map(Arc::from),
            service_area: Arc::from(r.service_area),
            category,
            expressroute: r.express_route,
            required: r.required,
            tcp_ports: Arc::from(r.tcp_ports),
            udp_ports: Arc::from(r.udp_ports),
            ips,
        });
    }
    Ok(out)
}

/// Parses a plain prefix list: one prefix a line, `#` starts a comment, an
/// optional label follows the prefix after white space.
///
/// # Errors
/// The first line whose first word is not a prefix or an address.
pub fn parse_cidr_list(
    text: &str,
    file: &str,
) -> Result<Vec<(IpNet, Option<String>)>, EgressError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else {
            continue;
        };
        let net = parse_prefix(first)
            .ok_or_else(|| EgressError::new(file, i + 1, first, "not an IP prefix"))?;
        let label: Vec<&str> = words.collect();
        out.push((net, (!label.is_empty()).then(|| label.join(" "))));
    }
    Ok(out)
}

/// One Azure service tag and its prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceTag {
    /// `Service` or `Service.Region`.
    pub name: String,
    /// Its prefixes.
    pub prefixes: Vec<IpNet>,
}

#[derive(Deserialize)]
struct RawTags {
    values: Vec<RawTag>,
}

#[derive(Deserialize)]
struct RawTag {
    name: String,
    properties: RawTagProps,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTagProps {
    #[serde(default)]
    address_prefixes: Vec<String>,
}

/// Parses an Azure service tags JSON (`ServiceTags_Public_*.json`).
///
/// # Errors
/// Invalid JSON (line and column) or a bad prefix (its line).
pub fn parse_service_tags(text: &str, file: &str) -> Result<Vec<ServiceTag>, EgressError> {
    let raw: RawTags = serde_json::from_str(text).map_err(|e| json_error(file, text, &e))?;
    let mut out = Vec::with_capacity(raw.values.len());
    for t in raw.values {
        let mut prefixes = Vec::with_capacity(t.properties.address_prefixes.len());
        for p in &t.properties.address_prefixes {
            prefixes.push(parse_prefix(p).ok_or_else(|| {
                EgressError::new(
                    file,
                    json_line_of(text, p),
                    p,
                    format!("service tag {}: not an IP prefix", t.name),
                )
            })?);
        }
        out.push(ServiceTag {
            name: t.name,
            prefixes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn cidr_list_with_comments_labels_and_v6() {
        let text = "# site routes\n10.1.0.0/16 branch a\n\n2001:db8::/32   # doc\n192.0.2.7\n";
        let v = parse_cidr_list(text, "x.txt").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].0.to_string(), "10.1.0.0/16");
        assert_eq!(v[0].1.as_deref(), Some("branch a"));
        assert_eq!(v[1].1, None);
        assert_eq!(v[2].0.to_string(), "192.0.2.7/32");
    }

    #[test]
    fn bad_cidr_line_names_file_line_and_value() {
        let e = parse_cidr_list("10.0.0.0/8\n# c\n10.0.0.0/33 x\n", "routes.txt").unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.value.as_str()),
            ("routes.txt", 3, "10.0.0.0/33")
        );
        assert!(e.to_string().starts_with("routes.txt:3: "), "{e}");
    }

    #[test]
    fn o365_sets_and_errors() {
        let ok = r#"[{"id": 11, "serviceArea": "Skype", "ips": ["52.112.0.0/14", "2603:1063::/38"],
            "udpPorts": "3478,3479", "expressRoute": true, "category": "Optimize", "required": true},
           {"id": 9, "serviceArea": "Exchange", "urls": ["a.example"], "category": "Default"}]"#;
        let v = parse_o365(ok, "o.json").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].ips.len(), 2);
        assert!(v[0].expressroute && v[0].required);
        assert_eq!(v[0].service.as_deref(), Some("skype_teams"));
        assert_eq!(v[1].category, Category::Default);
        assert!(!v[1].expressroute);

        let bad_ip = "[\n{\"id\": 1, \"serviceArea\": \"Skype\",\n \"ips\": [\"52.112.0.0/14\",\n \"52.300.0.0/14\"]}]";
        let e = parse_o365(bad_ip, "o.json").unwrap_err();
        assert_eq!((e.line, e.value.as_str()), (4, "52.300.0.0/14"));

        // An empty list or another shape is a wrong file, said as such.
        let e = parse_o365("[]", "o.json").unwrap_err();
        assert!(
            e.message
                .starts_with("no endpoint set in the list: expected the Office 365 endpoint list"),
            "{e:?}"
        );
        let e = parse_o365("{\"values\": []}", "o.json").unwrap_err();
        assert!(e.message.contains("a JSON array of endpoint sets"), "{e:?}");
        assert!(!e.message.contains("invalid JSON"), "{e:?}");
        let bad_json = "[\n{\"id\": 1,\n \"serviceArea\": \"Skype\",,}]";
        let e = parse_o365(bad_json, "o.json").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("column"), "{e}");

        let bad_cat = "[{\"id\": 1, \"serviceArea\": \"Skype\", \"category\": \"Fast\"}]";
        let e = parse_o365(bad_cat, "o.json").unwrap_err();
        assert_eq!((e.line, e.value.as_str()), (1, "Fast"));
    }

    #[test]
    fn service_tags() {
        let t = r#"{"changeNumber": 1, "values": [{"name": "AzureFrontDoor.Frontend", "id": "x",
          "properties": {"addressPrefixes": ["13.107.219.0/24", "2620:1ec:40::/48"]}}]}"#;
        let v = parse_service_tags(t, "tags.json").unwrap();
        assert_eq!(v[0].name, "AzureFrontDoor.Frontend");
        assert_eq!(v[0].prefixes.len(), 2);
        let bad =
            "{\"values\": [{\"name\": \"T\",\n\"properties\": {\"addressPrefixes\": [\"nope\"]}}]}";
        let e = parse_service_tags(bad, "tags.json").unwrap_err();
        assert_eq!((e.line, e.value.as_str()), (2, "nope"));
    }
}
