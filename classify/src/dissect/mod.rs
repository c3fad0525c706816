//! Payload dissectors: one module per protocol, each a pure function over
//! payload bytes that answers certain, need more, or not mine. They hold no
//! state; the per-flow classifier keeps what must span packets.

pub mod cursor;
pub mod dns;
pub mod dtls;
pub mod ipsec;
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
