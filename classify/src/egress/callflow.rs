//! Call-flow expectations: the path the call-flow principles predict for a
//! flow, from `signatures/callflow.toml` (data, not code).
//!
//! A rule maps (deployment profile, traffic kind, the unordered pair of
//! endpoint roles) to an expected path; the first matching rule wins and a
//! flow no rule matches has no expectation. Roles are decided by
//! [`super::Site`] from the local networks, the on-premises server networks
//! and the Office 365 endpoint sets.

use super::sources::EgressError;
use crate::rules::line_of;
use crate::vocab::TrafficType;
use serde::Deserialize;

/// The built-in call-flow table (`signatures/callflow.toml`).
pub const DEFAULT_CALLFLOW_TOML: &str = include_str!("../../../signatures/callflow.toml");

/// Deployment profile of the site (docs/call-flows.md §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Profile {
    /// All users homed Online.
    #[default]
    Online,
    /// Some users homed on premises.
    Hybrid,
    /// Online users with Cloud Connector Edition for PSTN.
    CloudConnector,
}

impl Profile {
    /// Parses `online`, `hybrid`, `cloud_connector`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "online" => Some(Profile::Online),
            "hybrid" => Some(Profile::Hybrid),
            "cloud_connector" => Some(Profile::CloudConnector),
            _ => None,
        }
    }
}

/// The traffic kinds the scenario tables distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrafficKind {
    /// RTP audio, video, sharing.
    Media,
    /// SIP and HTTP/TLS control traffic (web conferencing counted here).
    Signaling,
}

impl TrafficKind {
    /// The kind of a traffic type, if the tables cover it.
    pub fn of(t: TrafficType) -> Option<Self> {
        match t {
            TrafficType::Media => Some(TrafficKind::Media),
            TrafficType::Signaling | TrafficType::WebConferencing => Some(TrafficKind::Signaling),
            _ => None,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "media" => Some(TrafficKind::Media),
            "signaling" => Some(TrafficKind::Signaling),
            _ => None,
        }
    }
}

/// The role of one endpoint of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A local address that is not an on-premises server.
    Client,
    /// An on-premises server of no more precise role (`onprem_servers`,
    /// `onprem_exchange`); in a rule, any on-premises role.
    OnpremServer,
    /// Lync/SfB Edge (Access, Web Conferencing, A/V).
    Edge,
    /// Lync/SfB Front End (pool).
    FrontEnd,
    /// Lync/SfB Director.
    Director,
    /// Mediation server (SIP over MTLS on 5070 to the gateway side).
    Mediation,
    /// Reverse proxy publishing meet, dial, lyncdiscover, webconf, Office
    /// Web Apps.
    ReverseProxy,
    /// Exchange server (CAS behind a layer-4 load balancer, transport).
    Exchange,
    /// SharePoint server.
    Sharepoint,
    /// Skype for Business Cloud Connector Edition.
    CloudConnector,
    /// Session border controller / PSTN gateway.
    Sbc,
    /// A remote address in an ExpressRoute-capable Office 365 set.
    O365Er,
    /// A remote address in an Office 365 set that is not ExpressRoute-capable.
    O365Internet,
    /// A public remote address outside Office 365.
    Internet,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 14] = [
        Role::Client,
        Role::OnpremServer,
        Role::Edge,
        Role::FrontEnd,
        Role::Director,
        Role::Mediation,
        Role::ReverseProxy,
        Role::Exchange,
        Role::Sharepoint,
        Role::CloudConnector,
        Role::Sbc,
        Role::O365Er,
        Role::O365Internet,
        Role::Internet,
    ];

    /// The name used in the table, the site config and in notes.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::OnpremServer => "onprem_server",
            Role::Edge => "edge",
            Role::FrontEnd => "front_end",
            Role::Director => "director",
            Role::Mediation => "mediation",
            Role::ReverseProxy => "reverse_proxy",
            Role::Exchange => "exchange",
            Role::Sharepoint => "sharepoint",
            Role::CloudConnector => "cloud_connector",
            Role::Sbc => "sbc",
            Role::O365Er => "o365_er",
            Role::O365Internet => "o365_internet",
            Role::Internet => "internet",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// An on-premises server role (what `[[onprem]]` may name).
    pub fn is_onprem(self) -> bool {
        !matches!(
            self,
            Role::Client | Role::O365Er | Role::O365Internet | Role::Internet
        )
    }

    /// Whether a rule's role covers an endpoint's: `onprem_server` in a
    /// rule stands for every on-premises role.
    pub fn covers(self, actual: Role) -> bool {
        self == actual || (self == Role::OnpremServer && actual.is_onprem())
    }

    /// The `service` of flows to a server of this role.
    pub fn service(self) -> Option<&'static str> {
        match self {
            Role::Exchange => Some("exchange"),
            Role::Sharepoint => Some("sharepoint"),
            r if r.is_onprem() => Some("skype_teams"),
            _ => None,
        }
    }
}

/// Whether a name matches a pattern: an exact name, `*.suffix` (any name
/// under suffix) or `prefix.*` (any name starting with `prefix.`); both
/// lower case.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        name.len() > suffix.len() + 1
            && name.ends_with(suffix)
            && name.as_bytes().get(name.len() - suffix.len() - 1) == Some(&b'.')
    } else if let Some(prefix) = pattern.strip_suffix(".*") {
        name.len() > prefix.len() + 1
            && name.starts_with(prefix)
            && name.as_bytes().get(prefix.len()) == Some(&b'.')
    } else {
        pattern == name
    }
}

/// A service the call-flow document routes over the Internet only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternetOnly {
    /// What it is (the item of the document's list).
    pub what: String,
    /// Server-name patterns (TLS SNI, HTTP Host).
    pub sni: Vec<String>,
    /// Classes that are this service wherever they go (`dns`).
    pub apps: Vec<crate::AppProtocol>,
    /// Office 365 endpoint set ids.
    pub sets: Vec<i32>,
}

/// The role a conventional published name gives a local server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedName {
    /// The name pattern.
    pub pattern: String,
    /// The role.
    pub role: Role,
}

/// The path a rule expects (`expected_path` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedPath {
    /// Stays in the customer network.
    Local,
    /// Over ExpressRoute.
    ExpressRoute,
    /// Over the Internet.
    Internet,
    /// Either (depends on which Edge ICE picks).
    InternetOrExpressRoute,
}

impl ExpectedPath {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedPath::Local => "local",
            ExpectedPath::ExpressRoute => "expressroute",
            ExpectedPath::Internet => "internet",
            ExpectedPath::InternetOrExpressRoute => "internet_or_expressroute",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            ExpectedPath::Local,
            ExpectedPath::ExpressRoute,
            ExpectedPath::Internet,
            ExpectedPath::InternetOrExpressRoute,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// Whether an observed egress satisfies this expectation.
    pub fn allows(self, observed: super::Egress) -> bool {
        use super::Egress as E;
        matches!(
            (self, observed),
            (ExpectedPath::Local, E::Local)
                | (ExpectedPath::ExpressRoute, E::ExpressRoute)
                | (ExpectedPath::Internet, E::Internet)
                | (
                    ExpectedPath::InternetOrExpressRoute,
                    E::Internet | E::ExpressRoute
                )
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    scenario_rows: Vec<String>,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    internet_only: Vec<RawInternetOnly>,
    #[serde(default)]
    published_name: Vec<RawPublished>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInternetOnly {
    what: String,
    #[serde(default)]
    sni: Vec<toml::Spanned<String>>,
    #[serde(default)]
    apps: Vec<toml::Spanned<String>>,
    #[serde(default)]
    sets: Vec<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublished {
    pattern: toml::Spanned<String>,
    role: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    profiles: Vec<toml::Spanned<String>>,
    traffic: Vec<toml::Spanned<String>>,
    ends: toml::Spanned<Vec<toml::Spanned<String>>>,
    expected: toml::Spanned<String>,
    #[serde(default)]
    scenarios: Vec<toml::Spanned<String>>,
}

/// One rule after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFlowRule {
    /// Profiles it applies to.
    pub profiles: Vec<Profile>,
    /// Traffic kinds it applies to.
    pub traffic: Vec<TrafficKind>,
    /// The two roles, unordered.
    pub ends: [Role; 2],
    /// The expected path.
    pub expected: ExpectedPath,
    /// Scenario ids it comes from.
    pub scenarios: Vec<String>,
}

/// The call-flow table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFlow {
    rules: Vec<CallFlowRule>,
    scenario_rows: Vec<String>,
    internet_only: Vec<InternetOnly>,
    published: Vec<PublishedName>,
}

impl Default for CallFlow {
    fn default() -> Self {
        // The built-in table is tested to parse; an empty table is the safe
        // fallback that never invents expectations.
        CallFlow::parse(DEFAULT_CALLFLOW_TOML, "signatures/callflow.toml (built in)").unwrap_or(
            CallFlow {
                rules: Vec::new(),
                scenario_rows: Vec::new(),
                internet_only: Vec::new(),
                published: Vec::new(),
            },
        )
    }
}

impl CallFlow {
    /// Parses a call-flow table.
    ///
    /// # Errors
    /// Invalid TOML, an unknown key, or an unknown profile, traffic kind,
    /// role or path, with its line.
    pub fn parse(text: &str, file: &str) -> Result<Self, EgressError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = line_of(text, e.span().map_or(0, |s| s.start));
            EgressError::new(file, line, e.message().trim(), "invalid call-flow table")
        })?;
        let bad = |s: &toml::Spanned<String>, what: &str| {
            EgressError::new(file, line_of(text, s.span().start), s.get_ref(), what)
        };
        let mut rules = Vec::with_capacity(raw.rule.len());
        for r in raw.rule {
            let profiles = r
                .profiles
                .iter()
                .map(|p| Profile::parse(p.get_ref()).ok_or_else(|| bad(p, "unknown profile")))
                .collect::<Result<Vec<_>, _>>()?;
            let traffic = r
                .traffic
                .iter()
                .map(|t| {
                    TrafficKind::parse(t.get_ref()).ok_or_else(|| bad(t, "unknown traffic kind"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let ends_line = line_of(text, r.ends.span().start);
            let roles = r
                .ends
                .get_ref()
                .iter()
                .map(|x| Role::parse(x.get_ref()).ok_or_else(|| bad(x, "unknown role")))
                .collect::<Result<Vec<_>, _>>()?;
            let ends = match roles.as_slice() {
                [a, b] => [*a, *b],
                _ => {
                    return Err(EgressError::new(
                        file,
                        ends_line,
                        &format!("{} roles", roles.len()),
                        "ends needs exactly two roles",
                    ))
                }
            };
            let expected = ExpectedPath::parse(r.expected.get_ref())
                .ok_or_else(|| bad(&r.expected, "unknown path"))?;
            let mut scenarios = Vec::with_capacity(r.scenarios.len());
            for id in &r.scenarios {
                // Every expectation must name rows of the document.
                if !raw.scenario_rows.is_empty() && !raw.scenario_rows.contains(id.get_ref()) {
                    return Err(bad(id, "scenario not in scenario_rows"));
                }
                scenarios.push(id.get_ref().clone());
            }
            rules.push(CallFlowRule {
                profiles,
                traffic,
                ends,
                expected,
                scenarios,
            });
        }
        let pattern = |p: &toml::Spanned<String>| {
            let s = p.get_ref().to_ascii_lowercase();
            let inner = s.trim_start_matches("*.").trim_end_matches(".*");
            if inner.is_empty() || inner.contains('*') {
                Err(bad(p, "bad pattern: use name, *.suffix or prefix.*"))
            } else {
                Ok(s)
            }
        };
        let mut internet_only = Vec::with_capacity(raw.internet_only.len());
        for i in raw.internet_only {
            internet_only.push(InternetOnly {
                what: i.what,
                sni: i.sni.iter().map(pattern).collect::<Result<_, _>>()?,
                apps: i
                    .apps
                    .iter()
                    .map(|a| {
                        crate::AppProtocol::parse(a.get_ref())
                            .ok_or_else(|| bad(a, "unknown app_protocol"))
                    })
                    .collect::<Result<_, _>>()?,
                sets: i.sets,
            });
        }
        let mut published = Vec::with_capacity(raw.published_name.len());
        for p in raw.published_name {
            let role = Role::parse(p.role.get_ref())
                .filter(|r| r.is_onprem())
                .ok_or_else(|| bad(&p.role, "not an on-premises role"))?;
            published.push(PublishedName {
                pattern: pattern(&p.pattern)?,
                role,
            });
        }
        Ok(CallFlow {
            rules,
            scenario_rows: raw.scenario_rows,
            internet_only,
            published,
        })
    }

    /// The first Internet-only service a flow is: by its class, its server
    /// name or its remote end's endpoint set. Its index.
    pub fn internet_only(
        &self,
        app: crate::AppProtocol,
        server_name: Option<&str>,
        set: Option<i32>,
    ) -> Option<u16> {
        let name = server_name.map(str::to_ascii_lowercase);
        let i = self.internet_only.iter().position(|s| {
            s.apps.contains(&app)
                || set.is_some_and(|id| s.sets.contains(&id))
                || name
                    .as_deref()
                    .is_some_and(|n| s.sni.iter().any(|p| name_matches(p, n)))
        })?;
        u16::try_from(i).ok()
    }

    /// The Internet-only services, in order.
    pub fn internet_only_services(&self) -> &[InternetOnly] {
        &self.internet_only
    }

    /// The role a conventional published name gives a local server.
    pub fn published_role(&self, server_name: &str) -> Option<Role> {
        let n = server_name.to_ascii_lowercase();
        self.published
            .iter()
            .find(|p| name_matches(&p.pattern, &n))
            .map(|p| p.role)
    }

    /// The scenario row ids of the document (docs/call-flows.md §5.2).
    pub fn scenario_rows(&self) -> &[String] {
        &self.scenario_rows
    }

    /// The first rule for this profile, traffic kind and pair of roles.
    pub fn expect(
        &self,
        profile: Profile,
        kind: TrafficKind,
        a: Role,
        b: Role,
    ) -> Option<&CallFlowRule> {
        self.rules.iter().find(|r| {
            let [x, y] = r.ends;
            r.profiles.contains(&profile)
                && r.traffic.contains(&kind)
                && ((x.covers(a) && y.covers(b)) || (x.covers(b) && y.covers(a)))
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[CallFlowRule] {
        &self.rules
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn builtin_table_parses_and_answers() {
        let c = CallFlow::parse(DEFAULT_CALLFLOW_TOML, "callflow.toml").unwrap();
        assert!(c.rules().len() >= 6);
        let e = |p, k, a, b| c.expect(p, k, a, b).map(|r| r.expected);
        use Role::*;
        use TrafficKind::*;
        assert_eq!(
            e(Profile::Online, Media, O365Er, Client),
            Some(ExpectedPath::ExpressRoute)
        );
        assert_eq!(
            e(Profile::Online, Media, Client, Client),
            Some(ExpectedPath::Local)
        );
        assert_eq!(
            e(Profile::Online, Signaling, Client, Internet),
            Some(ExpectedPath::Internet)
        );
        assert_eq!(e(Profile::Online, Signaling, Client, OnpremServer), None);
        assert_eq!(
            e(Profile::Hybrid, Signaling, OnpremServer, Client),
            Some(ExpectedPath::Local)
        );
        assert_eq!(
            e(Profile::Online, Media, Internet, O365Er),
            Some(ExpectedPath::Internet),
            "a user outside the network (online-conf-internet)"
        );
        // Precise roles first; onprem_server in a rule covers every role.
        assert_eq!(
            e(Profile::Hybrid, Media, O365Er, Edge),
            Some(ExpectedPath::InternetOrExpressRoute)
        );
        assert_eq!(
            e(Profile::Hybrid, Media, FrontEnd, O365Er),
            Some(ExpectedPath::ExpressRoute)
        );
        assert_eq!(
            e(Profile::Hybrid, Signaling, Client, Mediation),
            Some(ExpectedPath::Local)
        );
        assert_eq!(
            e(Profile::CloudConnector, Media, CloudConnector, Client),
            Some(ExpectedPath::Local)
        );
        assert_eq!(e(Profile::Online, Media, Edge, O365Er), None);
        // Every rule names rows of the document, and every row has a rule.
        let rows = c.scenario_rows();
        assert_eq!(rows.len(), 18);
        for id in rows {
            assert!(
                c.rules().iter().any(|r| r.scenarios.contains(id)),
                "no rule for {id}"
            );
        }
    }

    #[test]
    fn internet_only_and_published_names() {
        use crate::AppProtocol as A;
        let c = CallFlow::default();
        let what = |app, name, set| {
            c.internet_only(app, name, set)
                .map(|i| c.internet_only_services()[usize::from(i)].what.as_str())
        };
        assert_eq!(what(A::Dns, None, None), Some("DNS"));
        assert_eq!(
            what(A::Http, Some("crl3.digicert.com"), None),
            Some("certificate revocation (CRL/OCSP)")
        );
        assert_eq!(
            what(A::Https, Some("OCSP.MSOCSP.COM"), None),
            Some("certificate revocation (CRL/OCSP)")
        );
        assert_eq!(
            what(A::Https, Some("browser.events.data.microsoft.com"), None),
            Some("telemetry")
        );
        assert_eq!(
            what(
                A::Https,
                Some("x.streaming.mediaservices.windows.net"),
                None
            ),
            Some("Skype Meeting Broadcast streaming (CDN)")
        );
        assert_eq!(
            what(A::Https, None, Some(44)),
            what(A::Https, Some("a.msecnd.net"), None)
        );
        assert_eq!(what(A::Https, Some("teams.microsoft.com"), Some(11)), None);
        assert_eq!(
            c.published_role("meet.contoso.com"),
            Some(Role::ReverseProxy)
        );
        assert_eq!(
            c.published_role("sipexternal.contoso.com"),
            Some(Role::Edge)
        );
        assert_eq!(c.published_role("meeting.contoso.com"), None);
        assert!(name_matches("*.b.c", "a.b.c") && !name_matches("*.b.c", "b.c"));
        assert!(name_matches("av.*", "av.x.com") && !name_matches("av.*", "avx.com"));
    }

    #[test]
    fn scenario_ids_must_be_rows() {
        let t = "scenario_rows = [\"a\"]\n[[rule]]\nprofiles = [\"online\"]\ntraffic = [\"media\"]\nends = [\"client\", \"client\"]\nexpected = \"local\"\nscenarios = [\"b\"]\n";
        let e = CallFlow::parse(t, "cf.toml").unwrap_err();
        assert_eq!((e.line, e.value.as_str()), (7, "b"), "{e}");
        let t = "[[published_name]]\npattern = \"x.*\"\nrole = \"o365_er\"\n";
        assert_eq!(CallFlow::parse(t, "cf.toml").unwrap_err().line, 3);
    }

    #[test]
    fn errors_name_the_line_and_value() {
        let t = "[[rule]]\nprofiles = [\"online\"]\ntraffic = [\"media\"]\nends = [\"client\", \"phone\"]\nexpected = \"local\"\n";
        let e = CallFlow::parse(t, "cf.toml").unwrap_err();
        assert_eq!((e.line, e.value.as_str()), (4, "phone"));
        let t = "[[rule]]\nprofiles = [\"online\"]\ntraffic = [\"media\"]\nends = [\"client\"]\nexpected = \"local\"\nwhy = 1\n";
        let e = CallFlow::parse(t, "cf.toml").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.value.contains("why"), "{e}");
    }
}
