//! Probes that decide from one payload and keep nothing: DNS, IKE, NAT
//! traversal, DTLS.

use super::{Cx, ProbeState};
use crate::dissect::{dns, dtls, ipsec, ProbeResult};
use crate::vocab::AppProtocol;

fn certain_if(yes: bool, app: AppProtocol) -> ProbeResult {
    if yes {
        ProbeResult::Certain(app)
    } else {
        ProbeResult::NotForUs
    }
}

/// DNS over TCP on a DNS port.
pub(super) fn dns_tcp(_: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    certain_if(dns::is_dns(payload, true), AppProtocol::Dns)
}

/// DNS over UDP on a DNS port.
pub(super) fn dns_udp(_: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    certain_if(dns::is_dns(payload, false), AppProtocol::Dns)
}

/// DNS over UDP off its ports: the loose check where no port rule names the
/// server's port, else only a message whose lengths add up exactly.
pub(super) fn dns_content(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    let loose = cx.flow.dns_port() || cx.flow.port_rule.is_none();
    certain_if(
        loose && dns::is_dns(payload, false) || dns::is_dns_exact(payload),
        AppProtocol::Dns,
    )
}

/// IKE on UDP 500.
pub(super) fn ike(_: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    certain_if(ipsec::parse_ike(payload).is_some(), AppProtocol::Ike)
}

/// UDP 4500: ESP in UDP is IPsec at once; IKE behind the non-ESP marker or
/// a NAT keepalive is NAT traversal, until ESP shows.
pub(super) fn natt(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    match ipsec::parse_natt(payload) {
        Some(ipsec::NatT::Esp(_)) => ProbeResult::Certain(AppProtocol::Ipsec),
        Some(_) => {
            cx.st.natt = true;
            ProbeResult::Unsure
        }
        None => ProbeResult::NotForUs,
    }
}

/// NAT traversal that never carried ESP: `ike`.
pub(super) fn natt_settle(st: &ProbeState) -> Option<AppProtocol> {
    st.natt.then_some(AppProtocol::Ike)
}

/// DTLS records (first byte 20-63, RFC 7983).
pub(super) fn dtls(_: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    certain_if(
        matches!(payload.first(), Some(20..=63)) && dtls::parse(payload).is_some(),
        AppProtocol::Dtls,
    )
}
