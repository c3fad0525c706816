//! Whether an ExpressRoute circuit is declared for a local address.
//!
//! An Office 365 list says which endpoint sets *can* be received over
//! ExpressRoute, not that the site has a circuit: many sites have none. A
//! circuit exists only where the site says so: an `[expressroute]` table in
//! the site config, an ExpressRoute prefix list (`--expressroute-prefixes`,
//! `expressroute = true` on a list), or, per subnet, a building file's
//! ExpressRoute flag. Everywhere else predictions and expectations are
//! `internet`.
//!
//! [`Site::circuit_for`] is the one place that answers; a source that knows
//! circuits per subnet fills [`Site::circuit_subnets`].

use super::{O365Set, Site};
use std::net::IpAddr;

/// Who declared a circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitSource {
    /// An `[expressroute]` table in the site config (its route filter says
    /// which ExpressRoute-capable sets it receives).
    Config,
    /// An ExpressRoute prefix list: the circuit receives exactly its prefixes.
    PrefixList,
    /// A building file's ExpressRoute flag for the subnet.
    Building,
}

/// Whether a circuit is declared, and by whom.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CircuitDecl {
    /// Nothing declares one: traffic leaves over the Internet.
    #[default]
    Undeclared,
    /// The site says it has none (`expressroute = "none"`, or a building
    /// file's flag 0).
    NoCircuit,
    /// A circuit is declared.
    Declared(CircuitSource),
}

impl CircuitDecl {
    /// Whether traffic may be received over a circuit at all.
    pub fn is_declared(self) -> bool {
        matches!(self, CircuitDecl::Declared(_))
    }

    /// The declaration in words, for the summary and the file metadata.
    pub fn describe(self) -> &'static str {
        match self {
            CircuitDecl::Undeclared => "no ExpressRoute circuit declared (no [expressroute] in the site config, no ExpressRoute prefix list): Office 365 traffic is predicted and expected on the Internet",
            CircuitDecl::NoCircuit => "no ExpressRoute circuit (expressroute = \"none\"): Office 365 traffic is predicted and expected on the Internet",
            CircuitDecl::Declared(CircuitSource::Config) => "ExpressRoute circuit declared by [expressroute] in the site config",
            CircuitDecl::Declared(CircuitSource::PrefixList) => "ExpressRoute circuit declared by an ExpressRoute prefix list",
            CircuitDecl::Declared(CircuitSource::Building) => "ExpressRoute circuit declared per subnet by the building file",
        }
    }
}

impl Site {
    /// The circuit declared for a local address: its subnet's, else the
    /// site's.
    pub fn circuit_for(&self, local: Option<IpAddr>) -> CircuitDecl {
        local
            .and_then(|a| self.circuit_subnets.lookup(a))
            .map_or(self.circuit_decl, |(_, d)| *d)
    }

    /// Why a flow whose local end is `local` is not received over a
    /// circuit towards ExpressRoute-capable `set`, when it is not; `er_prefix`
    /// says whether an ExpressRoute prefix source contains the remote end.
    pub(super) fn not_on_circuit(
        &self,
        local: Option<IpAddr>,
        set: &O365Set,
        er_prefix: bool,
    ) -> Option<String> {
        match self.circuit_for(local) {
            CircuitDecl::Undeclared => Some("no ExpressRoute circuit declared".to_string()),
            CircuitDecl::NoCircuit => Some("no ExpressRoute circuit".to_string()),
            CircuitDecl::Declared(CircuitSource::PrefixList) => (!er_prefix).then(|| {
                format!(
                    "set {} ({}) not in the ExpressRoute prefix lists",
                    set.id, set.service_area
                )
            }),
            CircuitDecl::Declared(_) => (!self.circuit.allows(set)).then(|| {
                format!(
                    "set {} ({}) not in the route filter",
                    set.id, set.service_area
                )
            }),
        }
    }
}
