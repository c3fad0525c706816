//! Signature rules parsed from the TOML files of `signatures/`.
//!
//! The defaults are compiled in with `include_str!`, so the binary works with
//! no files around it; users extend or override them by path. Parse errors
//! name the file and line, because these files are edited by hand.

use crate::rule_file::{invalid_at, parse_toml};
pub use crate::rule_file::{line_of, RuleError};
use crate::vocab::{AppProtocol, TrafficType, Transport};
use serde::Deserialize;
use std::sync::Arc;

/// The built-in port rules (`signatures/ports.toml`).
pub const DEFAULT_PORTS_TOML: &str = include_str!("../../signatures/ports.toml");
/// The built-in server-name rules (`signatures/sni.toml`).
pub const DEFAULT_SNI_TOML: &str = include_str!("../../signatures/sni.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortFile {
    #[serde(default)]
    port: Vec<toml::Spanned<RawPortRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortRule {
    transport: toml::Spanned<String>,
    ports: Vec<toml::Spanned<String>>,
    app_protocol: toml::Spanned<String>,
    #[serde(default)]
    traffic_type: Option<toml::Spanned<String>>,
    // Accepted only to refuse it with a reason: a port names no service.
    #[serde(default)]
    service: Option<toml::Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

/// One port rule after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRule {
    /// The class this rule assigns.
    pub app_protocol: AppProtocol,
    /// The traffic type it assigns.
    pub traffic_type: TrafficType,
    /// Whether the rule lists a wide range (more than 16 ports), such as a
    /// media port range: weak evidence of which end is the server.
    pub wide: bool,
}

/// Port rules indexed for O(1) lookup per transport.
#[derive(Clone, Debug)]
pub struct PortRules {
    rules: Vec<PortRule>,
    // Index into `rules` plus one; zero means no rule. One table per transport
    // (tcp, udp): 2 x 64 Ki x 2 bytes, read on every new flow.
    tcp: Vec<u16>,
    udp: Vec<u16>,
}

impl PortRules {
    /// An empty rule set.
    pub fn empty() -> Self {
        PortRules {
            rules: Vec::new(),
            tcp: vec![0; 65536],
            udp: vec![0; 65536],
        }
    }

    /// Parses a port rule file; `file` names it in errors.
    ///
    /// # Errors
    /// A TOML syntax error, an unknown key, or a bad value, with its line.
    pub fn parse(text: &str, file: &str) -> Result<Self, RuleError> {
        let mut rules = PortRules::empty();
        rules.add_text(text, file)?;
        Ok(rules)
    }

    /// Adds the rules of another file; rules already present win for the
    /// ports they cover, so load overrides first.
    ///
    /// # Errors
    /// As [`PortRules::parse`].
    pub fn add_text(&mut self, text: &str, file: &str) -> Result<(), RuleError> {
        let bad = invalid_at(text, file);
        let raw: RawPortFile = parse_toml(text, file)?;
        for spanned in raw.port {
            let start = spanned.span().start;
            let r = spanned.into_inner();
            let app = AppProtocol::parse(r.app_protocol.get_ref()).ok_or_else(|| {
                bad(
                    r.app_protocol.span().start,
                    format!("unknown app_protocol {:?}", r.app_protocol.get_ref()),
                )
            })?;
            let traffic_type = match &r.traffic_type {
                None => app.default_traffic_type(),
                Some(t) => TrafficType::parse(t.get_ref()).ok_or_else(|| {
                    bad(
                        t.span().start,
                        format!("unknown traffic_type {:?}", t.get_ref()),
                    )
                })?,
            };
            let (tcp, udp) = match r.transport.get_ref().as_str() {
                "tcp" => (true, false),
                "udp" => (false, true),
                "both" => (true, true),
                other => {
                    return Err(bad(
                        r.transport.span().start,
                        format!("transport must be tcp, udp or both, not {other:?}"),
                    ))
                }
            };
            if r.ports.is_empty() {
                return Err(bad(start, "ports is empty".to_string()));
            }
            if let Some(sv) = &r.service {
                return Err(bad(
                    sv.span().start,
                    format!(
                        "service {:?}: a port is never evidence of a service \
                         (name it by server name in sni.toml or by address in the site config)",
                        sv.get_ref()
                    ),
                ));
            }
            if self.rules.len() >= usize::from(u16::MAX) - 1 {
                return Err(bad(start, "too many port rules".to_string()));
            }
            let mut ranges = Vec::with_capacity(r.ports.len());
            for p in &r.ports {
                ranges.push(parse_range(p.get_ref()).ok_or_else(|| {
                    bad(
                        p.span().start,
                        format!("bad port or range {:?}", p.get_ref()),
                    )
                })?);
            }
            let wide = ranges.iter().any(|(lo, hi)| hi - lo >= 16);
            self.rules.push(PortRule {
                app_protocol: app,
                traffic_type,
                wide,
            });
            let idx = u16::try_from(self.rules.len()).unwrap_or(u16::MAX);
            for (lo, hi) in ranges {
                for port in lo..=hi {
                    for (on, table) in [(tcp, &mut self.tcp), (udp, &mut self.udp)] {
                        if let (true, Some(slot)) = (on, table.get_mut(usize::from(port))) {
                            if *slot == 0 {
                                *slot = idx;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The rule for one port of a transport, if any.
    #[inline]
    pub fn get(&self, transport: Transport, port: u16) -> Option<&PortRule> {
        let table = match transport {
            Transport::Tcp => &self.tcp,
            Transport::Udp => &self.udp,
            _ => return None,
        };
        let idx = *table.get(usize::from(port))?;
        self.rules.get(usize::from(idx).checked_sub(1)?)
    }

    /// How strongly a port suggests a server: 3 for a system port (below
    /// 1024), 2 for a port a narrow rule names, 0 otherwise. A port inside a
    /// wide range (a media range, say) says nothing: clients' ephemeral
    /// ports fall there as often as servers' do. Used to tell the initiator
    /// of a flow whose first packet was not seen.
    pub fn server_rank(&self, transport: Transport, port: u16) -> u8 {
        if port != 0 && port < 1024 {
            return 3;
        }
        match self.get(transport, port) {
            Some(r) if !r.wide => 2,
            _ => 0,
        }
    }
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    let s = s.trim();
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
            (a <= b).then_some((a, b))
        }
        None => s.parse::<u16>().ok().map(|p| (p, p)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSniFile {
    #[serde(default)]
    sni: Vec<toml::Spanned<RawSniRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSniRule {
    pattern: toml::Spanned<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    app_protocol: Option<toml::Spanned<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    // "*.suffix": any name ending in ".suffix".
    Suffix(String),
    // "prefix.*": any name starting with "prefix.".
    Prefix(String),
}

impl Pattern {
    fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Exact(e) => name == e,
            Pattern::Suffix(s) => name.len() > s.len() && name.ends_with(s.as_str()),
            Pattern::Prefix(p) => name.len() > p.len() && name.starts_with(p.as_str()),
        }
    }
}

/// What a server-name rule says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SniRule {
    /// The service the name belongs to (none for names that only say what
    /// the TLS carries, such as a VPN gateway).
    pub service: Option<Arc<str>>,
    /// The class of TLS flows to this name, when the name implies one.
    pub app_protocol: Option<AppProtocol>,
}

/// Server-name (SNI, HTTP Host) patterns, first match wins.
#[derive(Clone, Debug, Default)]
pub struct SniRules {
    rules: Vec<(Pattern, SniRule)>,
}

impl SniRules {
    /// Adds the rules of a file after those already loaded.
    ///
    /// # Errors
    /// TOML errors, unknown keys, bad patterns or classes, with their line.
    pub fn add_text(&mut self, text: &str, file: &str) -> Result<(), RuleError> {
        let bad = invalid_at(text, file);
        let raw: RawSniFile = parse_toml(text, file)?;
        for r in raw.sni {
            let r = r.into_inner();
            let pat = r.pattern.get_ref().to_ascii_lowercase();
            let pattern = if let Some(s) = pat.strip_prefix('*') {
                Pattern::Suffix(s.to_string())
            } else if let Some(p) = pat.strip_suffix('*') {
                Pattern::Prefix(p.to_string())
            } else {
                Pattern::Exact(pat.clone())
            };
            let inner = match &pattern {
                Pattern::Exact(x) | Pattern::Suffix(x) | Pattern::Prefix(x) => x,
            };
            if inner.is_empty()
                || inner.contains('*')
                || (matches!(pattern, Pattern::Suffix(_)) && !inner.starts_with('.'))
                || (matches!(pattern, Pattern::Prefix(_)) && !inner.ends_with('.'))
            {
                return Err(bad(
                    r.pattern.span().start,
                    format!(
                        "bad pattern {:?}: use name, *.suffix or prefix.*",
                        r.pattern.get_ref()
                    ),
                ));
            }
            let app_protocol = match &r.app_protocol {
                None => None,
                Some(a) => Some(AppProtocol::parse(a.get_ref()).ok_or_else(|| {
                    bad(
                        a.span().start,
                        format!("unknown app_protocol {:?}", a.get_ref()),
                    )
                })?),
            };
            self.rules.push((
                pattern,
                SniRule {
                    service: r.service.as_deref().map(Arc::from),
                    app_protocol,
                },
            ));
        }
        Ok(())
    }

    /// The first rule matching a (lower-case) name.
    pub fn lookup(&self, name: &str) -> Option<&SniRule> {
        self.rules
            .iter()
            .find(|(p, _)| p.matches(name))
            .map(|(_, r)| r)
    }
}

/// A rule file's text and the name its errors give it (its path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleText {
    /// The file, as errors name it.
    pub file: String,
    /// Its contents.
    pub text: String,
}

/// The rule files a user gave (`--signatures DIR`), each one if present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignatureTexts {
    /// `ports.toml`.
    pub ports: Option<RuleText>,
    /// `sni.toml`.
    pub sni: Option<RuleText>,
    /// `media.toml`.
    pub media: Option<RuleText>,
}

/// A user's rule file in front of the built-in one of the same name.
fn layered<'a>(user: Option<&'a RuleText>, name: &str, builtin: &'a str) -> Vec<(String, &'a str)> {
    let mut v: Vec<(String, &str)> = user
        .map(|u| (u.file.clone(), u.text.as_str()))
        .into_iter()
        .collect();
    v.push((format!("signatures/{name} (built in)"), builtin));
    v
}

/// Every rule set a run uses, loaded once at start.
#[derive(Clone, Debug)]
pub struct Signatures {
    /// Port rules.
    pub ports: PortRules,
    /// Server-name rules.
    pub sni: SniRules,
    /// Media quality thresholds (`media.toml`).
    pub media: crate::media::QualityRules,
    /// A short digest of the rule texts, written to the output metadata so a
    /// row can be traced to the rules that labelled it.
    pub digest: String,
}

impl Signatures {
    /// The built-in defaults.
    ///
    /// # Errors
    /// Only if the embedded files are broken, which the tests rule out.
    pub fn builtin() -> Result<Self, RuleError> {
        Self::from_texts(&SignatureTexts::default())
    }

    /// The rules of a user's rule files (`--signatures DIR`) with the
    /// built-in ones: `ports.toml` and `sni.toml` go in front of the built-in
    /// rules, so theirs win and the defaults still apply; a `media.toml`
    /// replaces the built-in media thresholds.
    ///
    /// # Errors
    /// A text is invalid; the error names its file and line.
    pub fn from_texts(texts: &SignatureTexts) -> Result<Self, RuleError> {
        let ports = layered(texts.ports.as_ref(), "ports.toml", DEFAULT_PORTS_TOML);
        let sni = layered(texts.sni.as_ref(), "sni.toml", DEFAULT_SNI_TOML);
        // media.toml replaces the built-in thresholds as a whole: a partial
        // merge of numbers would be hard to reason about.
        let media = match &texts.media {
            Some(m) => (m.file.clone(), m.text.as_str()),
            None => (
                "signatures/media.toml (built in)".to_string(),
                crate::media::DEFAULT_MEDIA_TOML,
            ),
        };
        Self::from_parts(&ports, &sni, (&media.0, media.1))
    }

    /// Rules from named texts, in the order they apply; the digest covers
    /// every text, the media thresholds included, since they judge the rows
    /// too.
    fn from_parts(
        ports_texts: &[(String, &str)],
        sni_texts: &[(String, &str)],
        media_text: (&str, &str),
    ) -> Result<Self, RuleError> {
        use sha1::Digest;
        let mut ports = PortRules::empty();
        let mut sni = SniRules::default();
        let mut h = sha1::Sha1::new();
        for (name, text) in ports_texts {
            ports.add_text(text, name)?;
            h.update(text.as_bytes());
        }
        for (name, text) in sni_texts {
            sni.add_text(text, name)?;
            h.update(text.as_bytes());
        }
        let media = crate::media::QualityRules::from_toml(media_text.1, media_text.0)?;
        h.update(media_text.1.as_bytes());
        let d = h.finalize();
        let digest = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(Signatures {
            ports,
            sni,
            media,
            digest,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn builtin_rules_parse_and_match_domain_ports() {
        let s = Signatures::builtin().unwrap();
        let p = &s.ports;
        let app = |t, port| p.get(t, port).map(|r| r.app_protocol);
        assert_eq!(app(Transport::Tcp, 5061), Some(AppProtocol::SipTls));
        assert_eq!(app(Transport::Tcp, 8057), Some(AppProtocol::Psom));
        assert_eq!(app(Transport::Udp, 3479), Some(AppProtocol::StunTurn));
        assert_eq!(app(Transport::Udp, 3482), None);
        assert_eq!(app(Transport::Udp, 50010), Some(AppProtocol::Rtp));
        assert_eq!(app(Transport::Tcp, 993), Some(AppProtocol::Imap));
        assert_eq!(app(Transport::Udp, 443), Some(AppProtocol::Https));
        assert_eq!(app(Transport::Udp, 25), None, "SMTP rule is tcp only");
        assert_eq!(
            app(Transport::Udp, 51820),
            Some(AppProtocol::Other),
            "WireGuard's port is not swallowed by the media range"
        );
        assert_eq!(
            p.get(Transport::Tcp, 853).unwrap().traffic_type,
            TrafficType::Infrastructure
        );
    }

    #[test]
    fn first_rule_wins_so_overrides_load_first() {
        let text = "[[port]]\ntransport='tcp'\nports=['443']\napp_protocol='psom'\n";
        let mut p = PortRules::parse(text, "site.toml").unwrap();
        p.add_text(DEFAULT_PORTS_TOML, "default").unwrap();
        assert_eq!(
            p.get(Transport::Tcp, 443).unwrap().app_protocol,
            AppProtocol::Psom
        );
        assert_eq!(
            p.get(Transport::Tcp, 5061).unwrap().app_protocol,
            AppProtocol::SipTls
        );
    }

    #[test]
    fn user_texts_go_in_front_of_the_builtin_rules() {
        let text = |file: &str, text: &str| {
            Some(RuleText {
                file: file.to_string(),
                text: text.to_string(),
            })
        };
        let builtin = Signatures::builtin().unwrap();
        let s = Signatures::from_texts(&SignatureTexts {
            ports: text(
                "dir/ports.toml",
                "[[port]]\ntransport='tcp'\nports=['443']\napp_protocol='psom'\n",
            ),
            ..Default::default()
        })
        .unwrap();
        let app = |s: &Signatures, port| s.ports.get(Transport::Tcp, port).unwrap().app_protocol;
        assert_eq!(app(&s, 443), AppProtocol::Psom);
        assert_eq!(app(&s, 5061), AppProtocol::SipTls, "defaults still apply");
        assert_ne!(s.digest, builtin.digest);
        let media = crate::media::DEFAULT_MEDIA_TOML.replace("min_packets = 50", "min_packets = 5");
        let s = Signatures::from_texts(&SignatureTexts {
            media: text("dir/media.toml", &media),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((s.media.min_packets, builtin.media.min_packets), (5, 50));
        let e = Signatures::from_texts(&SignatureTexts {
            sni: text("dir/sni.toml", "[[sni]]\npattern = 1\n"),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("dir/sni.toml:2:"), "{e}");
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "[[port]]\ntransport = 'tcp'\nports = ['80']\napp_protocol = 'gopher'\n";
        let e = PortRules::parse(text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:4:"), "{e}");
        assert!(e.contains("gopher"), "{e}");

        let text = "[[port]]\ntransport = 'tcp'\nports = ['80', '90-70']\napp_protocol = 'http'\n";
        let e = PortRules::parse(text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:3:") && e.contains("90-70"), "{e}");

        let text = "[[port]]\ntransport = 'sctp'\nports = ['80']\napp_protocol = 'http'\n";
        let e = PortRules::parse(text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:2:"), "{e}");

        let text = "[[port]]\ntransport = 'tcp'\nportz = ['80']\napp_protocol = 'http'\n";
        let e = PortRules::parse(text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:"), "{e}");
        assert!(e.contains("portz"), "{e}");

        let e = PortRules::parse("[[port]\n", "y.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("y.toml:1:"), "{e}");
    }

    #[test]
    fn sni_patterns() {
        let s = Signatures::builtin().unwrap();
        let svc = |n: &str| {
            s.sni.lookup(n).map(|r| {
                (
                    r.service.as_deref().unwrap_or("").to_string(),
                    r.app_protocol,
                )
            })
        };
        assert_eq!(
            svc("teams.microsoft.com"),
            Some(("skype_teams".into(), None))
        );
        assert_eq!(
            svc("eu-api.teams.microsoft.com"),
            Some(("skype_teams".into(), None))
        );
        assert_eq!(
            svc("contoso.sharepoint.com"),
            Some(("sharepoint".into(), None))
        );
        assert_eq!(
            svc("sharepoint.com"),
            None,
            "*.suffix needs a label before the suffix"
        );
        assert_eq!(
            svc("sip.example.net"),
            None,
            "any provider's SIP server is sip.<domain>: no Microsoft evidence"
        );
        assert_eq!(svc("autodiscover.gmx.net"), None);
        assert_eq!(
            svc("vpn.contoso.com"),
            Some(("".into(), Some(AppProtocol::SslVpn))),
            "a VPN gateway: a class, no service"
        );
        assert_eq!(svc("myvpn.contoso.com"), None);
        assert_eq!(
            svc("sipexternal.contoso.com"),
            Some(("skype_teams".into(), Some(AppProtocol::SipTls)))
        );
        assert_eq!(
            svc("teams.office.com"),
            Some(("skype_teams".into(), None)),
            "before *.office.com (common)"
        );
        assert_eq!(
            svc("webcon.contoso.com"),
            Some(("skype_teams".into(), Some(AppProtocol::Psom)))
        );
        assert_eq!(
            svc("outlook.office365.com"),
            Some(("exchange".into(), None))
        );
        assert_eq!(svc("www.example.com"), None);
        let mut r = SniRules::default();
        let e = r
            .add_text("[[sni]]\npattern = 'a*b'\nservice = 'x'\n", "s.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml:2:"), "{e}");
        let e = r
            .add_text(
                "[[sni]]\npattern = 'x.com'\nservice = 'x'\napp_protocol = 'ftp'\n",
                "s.toml",
            )
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml:4:"), "{e}");
    }

    #[test]
    fn a_port_rule_naming_a_service_is_refused_with_its_line() {
        let text = "[[port]]\ntransport='udp'\nports=['3478']\napp_protocol='stun_turn'\nservice='skype_teams'\n";
        let e = PortRules::parse(text, "p.toml").unwrap_err().to_string();
        assert!(e.starts_with("p.toml:5:"), "{e}");
        assert!(e.contains("never evidence of a service"), "{e}");
    }

    #[test]
    fn ranges_parse_strictly() {
        assert_eq!(parse_range("3478-3481"), Some((3478, 3481)));
        assert_eq!(parse_range(" 80 "), Some((80, 80)));
        assert_eq!(parse_range("70000"), None);
        assert_eq!(parse_range("5-"), None);
        assert_eq!(parse_range(""), None);
    }

    #[test]
    fn server_port_evidence() {
        let p = Signatures::builtin().unwrap().ports;
        assert_eq!(p.server_rank(Transport::Tcp, 22), 3);
        assert_eq!(p.server_rank(Transport::Tcp, 5061), 2);
        assert_eq!(p.server_rank(Transport::Udp, 3479), 2);
        assert_eq!(
            p.server_rank(Transport::Tcp, 53432),
            0,
            "inside the 50000-59999 media range: a client's port as often as a server's"
        );
        assert_eq!(p.server_rank(Transport::Tcp, 49152), 0);
        assert_eq!(p.server_rank(Transport::Udp, 0), 0);
    }
}
