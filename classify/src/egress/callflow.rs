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

/// Deployment profile of the site (domain.md 5.2).
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
    /// A local address in the on-premises server networks.
    OnpremServer,
    /// A remote address in an ExpressRoute-capable Office 365 set.
    O365Er,
    /// A remote address in an Office 365 set that is not ExpressRoute-capable.
    O365Internet,
    /// A public remote address outside Office 365.
    Internet,
}

impl Role {
    /// The name used in the table and in notes.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::OnpremServer => "onprem_server",
            Role::O365Er => "o365_er",
            Role::O365Internet => "o365_internet",
            Role::Internet => "internet",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Role::Client,
            Role::OnpremServer,
            Role::O365Er,
            Role::O365Internet,
            Role::Internet,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
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
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    profiles: Vec<toml::Spanned<String>>,
    traffic: Vec<toml::Spanned<String>>,
    ends: toml::Spanned<Vec<toml::Spanned<String>>>,
    expected: toml::Spanned<String>,
    #[serde(default)]
    scenarios: Vec<String>,
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
}

impl Default for CallFlow {
    fn default() -> Self {
        // The built-in table is tested to parse; an empty table is the safe
        // fallback that never invents expectations.
        CallFlow::parse(DEFAULT_CALLFLOW_TOML, "signatures/callflow.toml (built in)")
            .unwrap_or(CallFlow { rules: Vec::new() })
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
            rules.push(CallFlowRule {
                profiles,
                traffic,
                ends,
                expected,
                scenarios: r.scenarios,
            });
        }
        Ok(CallFlow { rules })
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
            r.profiles.contains(&profile)
                && r.traffic.contains(&kind)
                && (r.ends == [a, b] || r.ends == [b, a])
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
        assert_eq!(e(Profile::Online, Media, Internet, O365Er), None);
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
