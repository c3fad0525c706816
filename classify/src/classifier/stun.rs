//! The STUN/TURN probes: messages over UDP (bare, or behind MS-TURN's
//! multiplexing prefix), over TCP (RFC 6062 bare, RFC 4571 or MS-TURN
//! framed), and TURN ChannelData, whose data is read again by the UDP probes
//! (relayed media demultiplexes like any other payload).

use super::SKYPE_TEAMS;
use super::{Cx, ProbeState};
use crate::dissect::{stun, ProbeResult};
use crate::vocab::AppProtocol;
use std::sync::Arc;

/// The STUN probe's state: what the messages so far said.
#[derive(Debug, Default)]
pub(super) struct StunState {
    /// Messages seen.
    pub(super) count: u8,
    /// One carried RFC 5389's magic cookie.
    pub(super) rfc5389: bool,
    /// One was MS-TURN or carried a Microsoft attribute.
    pub(super) microsoft: bool,
}

/// STUN over TCP: one message settles the flow.
pub(super) fn probe_tcp(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    match stun::parse_tcp(payload) {
        stun::StunProbe::Message(m) => {
            on_stun(cx, &m);
            ProbeResult::Certain(AppProtocol::StunTurn)
        }
        _ => ProbeResult::NotForUs,
    }
}

/// STUN over UDP (first byte 0-3, RFC 7983), or behind MS-TURN's 0xFF10
/// multiplexing prefix: evidence, not a verdict (ICE checks come before the
/// media they key).
pub(super) fn probe_udp(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    let ms_mux = matches!(payload, [0xff, 0x10, ..]);
    if !ms_mux && !matches!(payload.first(), Some(0..=3)) {
        return ProbeResult::NotForUs;
    }
    match stun::parse_udp(payload) {
        stun::StunProbe::Message(m) => {
            on_stun(cx, &m);
            ProbeResult::Unsure
        }
        // The multiplexing prefix is MS-TURN's even when what follows is
        // not a message: no clear-text probe reads it.
        _ if ms_mux => ProbeResult::Unsure,
        _ => ProbeResult::NotForUs,
    }
}

/// Messages and nothing certain: `stun_turn`.
pub(super) fn settle(st: &ProbeState) -> Option<AppProtocol> {
    (st.stun.count > 0).then_some(AppProtocol::StunTurn)
}

/// TURN ChannelData (first byte 0x40-0x7F, RFC 7983): the channel's data,
/// without its padding, is asked of the UDP probes again.
pub(super) fn channel(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    if !matches!(payload.first(), Some(0x40..=0x7f)) {
        return ProbeResult::NotForUs;
    }
    let Some(data) = stun::channel_data(payload, false) else {
        return ProbeResult::NotForUs;
    };
    let outer = cx.relayed;
    cx.relayed = true;
    let answer = (cx.reprobe)(cx, data);
    cx.relayed = outer;
    match answer {
        ProbeResult::Certain(app) => ProbeResult::Certain(app),
        // The channel is TURN's whatever its data.
        _ => ProbeResult::Unsure,
    }
}

/// Keeps what a message says: its dialect, Microsoft's markers, and the
/// addresses it maps or relays (ICE candidates: SRTP media).
pub(super) fn on_stun(cx: &mut Cx<'_>, m: &stun::StunMessage) {
    let st = &mut cx.st.stun;
    st.count = st.count.saturating_add(1);
    st.rfc5389 |= m.dialect == stun::Dialect::Rfc5389;
    let ms = m.microsoft || m.dialect == stun::Dialect::MsTurn;
    st.microsoft |= ms;
    let meta = cx.flow.meta();
    meta.protocol.stun_seen = true;
    if ms {
        meta.protocol_service = Some(Arc::from(SKYPE_TEAMS));
    }
    for a in [m.mapped, m.relayed].into_iter().flatten() {
        cx.flow.learn(a, AppProtocol::Srtp, None);
    }
}
