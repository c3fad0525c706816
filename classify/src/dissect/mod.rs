//! Payload dissectors: one module per protocol, each a pure function over
//! payload bytes. They hold no state; the per-flow classifier's probes
//! (`classifier::registry`) keep what must span packets and answer with
//! [`ProbeResult`]. A dissector that needs nothing of the flow but the
//! payload (MQTT) answers with it itself.

use crate::vocab::AppProtocol;

/// A probe's answer to one payload (retina's `ProbeResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// The flow is this class: inspection stops.
    Certain(AppProtocol),
    /// The payload is this probe's, but the flow needs more packets.
    Unsure,
    /// Not this probe's: the next one is asked.
    NotForUs,
}

pub mod cursor;
pub mod dns;
pub mod dtls;
pub mod ipsec;
pub mod mqtt;
pub mod rtp;
pub mod sip;
pub mod stun;
pub mod text;
pub mod tls;
pub mod turn;

/// Hex text to bytes, for tests that embed captured payloads.
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
