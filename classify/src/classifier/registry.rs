//! The probe registry: every payload dissector answers through one
//! interface, and one table per transport sets the order the probes are
//! asked in and the ports they run on.
//!
//! A probe reads one payload and answers as retina's probes do
//! ([`ProbeResult`]): `Certain(class)` settles the flow; `Unsure` says the
//! payload is the probe's (it kept what it learnt; no later probe reads it)
//! but the flow needs more packets; `NotForUs` passes the payload to the
//! next probe. The registry picks the first certain probe; a payload every
//! probe refused counts as unclaimed. While no probe is certain the flow is
//! fed on, up to the packet budget: a capture may start mid-session, so a
//! probe that refused one payload may still recognise a later one (an XMPP
//! stanza after binary noise). When the budget is spent, each probe's
//! `settle` says what its evidence supports, asked in table order; the
//! first answer names the flow.
//!
//! Order matters only between probes that can claim the same payload (the
//! DNS port's probe before every other on UDP 53, the TLS hello gathering
//! before STUN and RTP framings on TCP) and between settles (RTP confirmed
//! across packets outranks the STUN checks that keyed it). The tables below
//! are the one place that order is written.

use super::{rtp, simple, stun, text, tls, Cx, ProbeState};
use crate::dissect::{mqtt, ProbeResult};
use crate::vocab::{AppProtocol, Transport};

/// A probe: reads one payload with the flow's context and its own state.
pub(crate) type ProbeFn = fn(&mut Cx<'_>, &[u8]) -> ProbeResult;

/// What a probe's evidence supports when inspection ends undecided.
pub(crate) type SettleFn = fn(&ProbeState) -> Option<AppProtocol>;

/// The ports a probe runs on: either end of the flow.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ports {
    /// Any port: the payload identifies itself.
    Any,
    /// Only when the initiator's or the responder's port is listed.
    Either(&'static [u16]),
}

impl Ports {
    #[inline]
    fn admit(self, src: u16, dst: u16) -> bool {
        match self {
            Ports::Any => true,
            Ports::Either(list) => list.contains(&src) || list.contains(&dst),
        }
    }
}

/// One registration: a probe, where it runs, and how it settles.
pub(crate) struct Probe {
    /// Short name, for the docs and tests.
    pub(crate) name: &'static str,
    ports: Ports,
    // Whether it also reads the data inside a TURN channel (UDP).
    relayed: bool,
    probe: ProbeFn,
    settle: Option<SettleFn>,
}

impl Probe {
    /// A probe on any port, inside TURN channels too, with no settle.
    const fn new(name: &'static str, probe: ProbeFn) -> Self {
        Probe {
            name,
            ports: Ports::Any,
            relayed: true,
            probe,
            settle: None,
        }
    }

    /// Runs only when either port is one of `ports`.
    const fn on(mut self, ports: &'static [u16]) -> Self {
        self.ports = Ports::Either(ports);
        self
    }

    /// Never reads the data inside a TURN channel.
    const fn outer_only(mut self) -> Self {
        self.relayed = false;
        self
    }

    /// Names the flow from its evidence when the budget ends inspection.
    const fn settles(mut self, settle: SettleFn) -> Self {
        self.settle = Some(settle);
        self
    }
}

/// Declares a transport's table and the two functions that walk it. The
/// walk is unrolled, one step per registration with the registration as a
/// constant, so every probe call is direct and can be inlined: the per-packet
/// cost is the old hand-written chain's, with the order written once.
macro_rules! registry {
    ($(#[$meta:meta])* $table:ident, $probe_all:ident, $settle_all:ident = [
        $($entry:expr),+ $(,)?
    ]) => {
        $(#[$meta])*
        pub(crate) const $table: &[Probe] = &[$($entry),+];

        /// Asks the table's probes in order; the first answer other than
        /// `NotForUs` is the registry's.
        pub(super) fn $probe_all(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
            let (src, dst) = (cx.flow.src_port, cx.flow.dst_port);
            $({
                const P: Probe = $entry;
                if (!cx.relayed || P.relayed) && P.ports.admit(src, dst) {
                    match (P.probe)(cx, payload) {
                        ProbeResult::NotForUs => {}
                        answer => return answer,
                    }
                }
            })+
            ProbeResult::NotForUs
        }

        /// The first settle of the table that names the flow.
        fn $settle_all(st: &ProbeState) -> Option<AppProtocol> {
            $({
                const P: Probe = $entry;
                if let Some(app) = P.settle.and_then(|f| f(st)) {
                    return Some(app);
                }
            })+
            None
        }
    };
}

registry! {
    /// The TCP probes, in the order they are asked.
    TCP, probe_tcp, settle_tcp = [
        Probe::new("tls", tls::probe).settles(tls::settle),
        Probe::new("dns", simple::dns_tcp).on(&[53, 5353]),
        Probe::new("stun", stun::probe_tcp).settles(stun::settle),
        Probe::new("rtp", rtp::probe_tcp).settles(rtp::settle),
        Probe::new("text", text::probe).settles(text::settle),
        Probe::new("sip", text::sip),
        Probe::new("mqtt", |_, p| mqtt::probe(p)),
    ]
}

registry! {
    /// The UDP probes, in the order they are asked. DTLS, the TURN channel,
    /// RTP, STUN and RTCP own disjoint first bytes (RFC 7983, RFC 5761), so
    /// among them the order is the order of their settles.
    UDP, probe_udp, settle_udp = [
        // DNS ids are random, so their first byte may look like anything.
        Probe::new("dns", simple::dns_udp).on(&[53, 5353]),
        // IKE and NAT traversal own their ports (RFC 7296 §2, RFC 3948):
        // ESP's encrypted bytes may look like anything else.
        Probe::new("ike", simple::ike).on(&[500]).outer_only(),
        Probe::new("nat-t", simple::natt)
            .on(&[4500])
            .outer_only()
            .settles(simple::natt_settle),
        Probe::new("dtls", simple::dtls),
        // A channel inside a channel is no TURN, and hostile nesting must
        // not run the stack out.
        Probe::new("turn-channel", stun::channel).outer_only(),
        Probe::new("rtp", rtp::probe_udp).settles(rtp::settle),
        Probe::new("stun", stun::probe_udp).settles(stun::settle),
        Probe::new("rtcp", rtp::probe_rtcp).settles(rtp::rtcp_settle),
        Probe::new("sip", text::sip),
        Probe::new("dns-content", simple::dns_content),
    ]
}

/// The table of a transport (none for transports without ports).
pub(crate) fn table(transport: Transport) -> &'static [Probe] {
    match transport {
        Transport::Tcp => TCP,
        Transport::Udp => UDP,
        _ => &[],
    }
}

/// Asks a transport's probes in order (none for transports without ports).
pub(super) fn probe_all(transport: Transport, cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    match transport {
        Transport::Tcp => probe_tcp(cx, payload),
        Transport::Udp => probe_udp(cx, payload),
        _ => ProbeResult::NotForUs,
    }
}

/// The class the evidence supports when inspection ends without a certain
/// probe: the first settle that answers, in table order; `other` when
/// payload was inspected and none does.
pub(super) fn settle(transport: Transport, st: &ProbeState) -> Option<AppProtocol> {
    let named = match transport {
        Transport::Tcp => settle_tcp(st),
        Transport::Udp => settle_udp(st),
        _ => None,
    };
    named.or_else(|| {
        // Payload was inspected and is none of the named classes: a port
        // guess (a client port inside a media range, say) would be worse.
        st.fed.iter().any(|&n| n > 0).then_some(AppProtocol::Other)
    })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_are_unique_per_table() {
        for t in [TCP, UDP] {
            let mut names: Vec<&str> = t.iter().map(|p| p.name).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len());
        }
    }

    /// The inspection state sits in every undecided flow's box: the split
    /// into per-probe states keeps it at the size of the bag it replaced.
    #[test]
    fn probe_state_stays_small() {
        assert!(std::mem::size_of::<ProbeState>() <= 112);
    }

    #[test]
    fn ports_gate_on_either_end() {
        let dns = Ports::Either(&[53, 5353]);
        assert!(dns.admit(53, 40000) && dns.admit(40000, 5353));
        assert!(!dns.admit(40000, 40001));
        assert!(Ports::Any.admit(1, 2));
    }
}
