//! The call-flow expectation of one flow (`expected_path`,
//! `path_conformant`, and the part of `path_note` that says where the
//! expectation came from).
//!
//! Order of the decision:
//! 1. A flow that leaves the site and is an Internet-only service of the
//!    document (CRL/OCSP, DNS, telemetry, Skype consumer federation, the
//!    broadcast CDN: `[[internet_only]]` in `callflow.toml`) is expected on
//!    the Internet, unless its remote end is in an ExpressRoute-capable
//!    Office 365 set: the set's flag is authoritative (docs/call-flows.md §4.3).
//! 2. Else the first call-flow rule for the profile, traffic kind and the
//!    two roles. Roles: a configured on-premises role (by address, or for
//!    the responder by a configured name), a conventional published name
//!    of a local server, `client` for any other local address, and for a
//!    remote address `o365_er` / `o365_internet` by its endpoint set's
//!    `expressRoute` flag, or `internet`.
//! 3. The circuit: an expectation of `expressroute` (or either path)
//!    towards an ExpressRoute-capable set becomes `internet` when no circuit
//!    is declared for the flow's local end, or the declared one does not
//!    receive the set (route filter, prefix lists), and the note says why.
//!
//! The note names the scenario rows of docs/call-flows.md §5.2 behind the rule, so
//! every expectation can be traced to the document.

use super::callflow::{ExpectedPath, Role, TrafficKind};
use super::{is_public, Edge, Egress, FlowFacts, Site, Verdict};
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;

/// An on-premises server: its call-flow role and the service it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Onprem {
    /// Its role.
    pub role: Role,
    /// `skype_teams`, `exchange`, `sharepoint`.
    pub service: Arc<str>,
}

impl Default for Onprem {
    fn default() -> Self {
        Onprem::new(Role::OnpremServer)
    }
}

impl Onprem {
    /// A server of `role`, running the role's service.
    pub fn new(role: Role) -> Self {
        Onprem {
            role,
            service: Arc::from(role.service().unwrap_or("skype_teams")),
        }
    }
}

impl Site {
    /// The on-premises server a configured name designates.
    pub fn onprem_by_name(&self, name: &str) -> Option<&Onprem> {
        let n = name.to_ascii_lowercase();
        self.onprem_names
            .iter()
            .find(|(p, _)| super::callflow::name_matches(p, &n))
            .map(|(_, o)| o)
    }

    /// The role a responder's server name gives it: a configured name
    /// wherever it is; a conventional published name (meet., dial.,
    /// lyncdiscover., ...) only for a local address, since another
    /// company's Edge publishes the same names.
    pub fn named_role(&self, name: &str, dst_local: bool) -> Option<Role> {
        self.onprem_by_name(name).map(|o| o.role).or_else(|| {
            dst_local
                .then(|| self.callflow.published_role(name))
                .flatten()
        })
    }

    /// The role of one end; `named` the role its server name gives it.
    fn role(&self, addr: IpAddr, is_local: bool, named: Option<Role>) -> Option<Role> {
        if let Some((_, o)) = self.onprem.lookup(addr) {
            return Some(o.role);
        }
        if let Some(r) = named {
            return Some(r);
        }
        if is_local {
            return Some(Role::Client);
        }
        match self.db.lookup(addr).and_then(|m| m.o365) {
            Some(s) if s.expressroute => Some(Role::O365Er),
            Some(_) => Some(Role::O365Internet),
            // Without an Office 365 list a public address may well be
            // Office 365: its role is unknown, not "internet".
            None => (is_public(addr) && !self.db.o365_sets().is_empty()).then_some(Role::Internet),
        }
    }

    /// Why no circuit carries the remote end's set, when it is
    /// ExpressRoute-capable and none does for this flow's local end.
    fn filtered(&self, f: &FlowFacts, v: &Verdict<'_>) -> Option<String> {
        let set = v.o365.filter(|s| s.expressroute)?;
        let local = if v.local_src {
            Some(f.src)
        } else {
            v.local_dst.then_some(f.dst)
        };
        self.not_on_circuit(local, set, v.egress == Egress::ExpressRoute)
    }

    /// Sets the expectation and conformance of `v`, and notes them.
    pub(super) fn expect(
        &self,
        f: &FlowFacts,
        v: &mut Verdict<'_>,
        seen: &[(usize, Edge)],
        note: &mut dyn FnMut(&str),
    ) {
        let leaves = !(v.local_src && v.local_dst);
        let er_capable = v.o365.is_some_and(|s| s.expressroute);
        let internet_only = f
            .internet_only
            .filter(|_| leaves && !er_capable)
            .and_then(|i| self.callflow.internet_only_services().get(usize::from(i)));
        let (expected, mut what) = if let Some(s) = internet_only {
            (
                ExpectedPath::Internet,
                format!(
                    "internet-only {} expected internet (internet_only_traffic",
                    s.what
                ),
            )
        } else {
            let Some((rule, kind, a, b)) = TrafficKind::of(f.traffic_type).and_then(|kind| {
                let a = self.role(f.src, v.local_src, None)?;
                let b = self.role(f.dst, v.local_dst, f.dst_role)?;
                self.callflow
                    .expect(self.profile, kind, a, b)
                    .map(|r| (r, kind, a, b))
            }) else {
                return;
            };
            let kind = match kind {
                TrafficKind::Media => "media",
                TrafficKind::Signaling => "signaling",
            };
            let mut expected = rule.expected;
            let filtered = matches!(
                expected,
                ExpectedPath::ExpressRoute | ExpectedPath::InternetOrExpressRoute
            )
            .then(|| self.filtered(f, v))
            .flatten();
            let mut s = String::new();
            let _ = write!(s, "{kind} {}-{} expected ", a.as_str(), b.as_str());
            if let Some(why) = &filtered {
                expected = ExpectedPath::Internet;
                let _ = write!(s, "internet, not {}: {why}", rule.expected.as_str());
            } else {
                s.push_str(expected.as_str());
            }
            let ids = if rule.scenarios.is_empty() {
                "no scenario named".to_string()
            } else {
                rule.scenarios.join(", ")
            };
            let _ = write!(s, " ({ids}");
            (expected, s)
        };
        what.push(')');
        v.expected = Some(expected);
        // Observed evidence only: the edges crossed, or both ends inside
        // the site. A prefix alone predicts, it does not observe.
        let mut observed: Vec<Egress> = if v.egress == Egress::Local {
            vec![Egress::Local]
        } else {
            seen.iter()
                .map(|(_, e)| e.path)
                .filter(|p| *p != Egress::Unknown)
                .collect()
        };
        observed.sort();
        observed.dedup();
        if !observed.is_empty() {
            let ok = observed.iter().all(|o| expected.allows(*o));
            v.conformant = Some(ok);
            if !ok {
                let obs: Vec<&str> = observed.iter().map(|o| o.as_str()).collect();
                let _ = write!(
                    what,
                    ", observed {}{}",
                    obs.join("+"),
                    if seen.is_empty() {
                        " by address"
                    } else {
                        " at the edge"
                    }
                );
            }
        }
        note(&what);
    }
}
