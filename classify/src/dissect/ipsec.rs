//! IPsec and its key exchange: the IKE header (RFC 2408 §3.1 for IKEv1,
//! RFC 7296 §3.1 for IKEv2), the ESP header (RFC 4303 §2), the AH header
//! (RFC 4302 §2), and the UDP encapsulation of NAT traversal on port 4500
//! (RFC 3948 §2): a payload starting with the four-byte non-ESP marker
//! (zero) carries IKE, a lone 0xFF byte is a NAT-keepalive, anything else is
//! ESP. ESP's payload is encrypted, so only its header can be checked: an
//! SPI above the IANA-reserved 0-255 and a non-zero sequence number.

use super::cursor::Cursor;

/// The fixed IKE header: 28 bytes.
pub const IKE_HEADER_LEN: usize = 28;

/// What an IKE header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IkeHeader {
    /// Major version: 1 (IKEv1 / ISAKMP) or 2.
    pub version: u8,
    /// Exchange type (IKEv2: 34 IKE_SA_INIT, 35 IKE_AUTH, 36
    /// CREATE_CHILD_SA, 37 INFORMATIONAL; IKEv1: 2 Main Mode, 4
    /// Aggressive, 32 Quick Mode, 5 Informational).
    pub exchange: u8,
    /// The initiator's SPI (never zero).
    pub initiator_spi: u64,
    /// The responder's SPI (zero in the first message).
    pub responder_spi: u64,
}

/// Parses one IKE message that fills `p` exactly (a UDP datagram holds one
/// message, and its length field counts the header).
pub fn parse_ike(p: &[u8]) -> Option<IkeHeader> {
    let mut c = Cursor::new(p);
    let initiator_spi = c.u64()?;
    let responder_spi = c.u64()?;
    let next = c.u8()?;
    let ver = c.u8()?;
    let exchange = c.u8()?;
    let _flags = c.u8()?;
    let _msgid = c.u32()?;
    let len = usize::try_from(c.u32()?).ok()?;
    let version = ver >> 4;
    // Next payload: IKEv1 types 0-13 (RFC 2408 §3.1) and 20-21 (NAT-D,
    // NAT-OA, RFC 3947); IKEv2 0 or 33-54 (IANA "IKEv2 Payload Types");
    // private use 128-255 in both.
    let next_ok = match version {
        1 => next <= 13 || (20..=21).contains(&next) || next >= 128,
        2 => next == 0 || (33..=54).contains(&next) || next >= 128,
        _ => false,
    };
    // Exchange types: IKEv1 1-5 and 32-33 (Quick Mode, New Group);
    // IKEv2 34-44 (IKE_SA_INIT to the group key exchanges).
    let exchange_ok = match version {
        1 => (1..=5).contains(&exchange) || (32..=33).contains(&exchange),
        _ => (34..=44).contains(&exchange),
    };
    (initiator_spi != 0 && next_ok && exchange_ok && len == p.len()).then_some(IkeHeader {
        version,
        exchange,
        initiator_spi,
        responder_spi,
    })
}

/// An ESP or AH header: SPI and sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaHeader {
    /// Security parameter index.
    pub spi: u32,
    /// Sequence number.
    pub seq: u32,
}

/// Smallest ESP packet: SPI, sequence, and at least the padding length
/// and next header bytes of the trailer (RFC 4303 §2).
const ESP_MIN_LEN: usize = 10;

/// Parses an ESP header (the payload of IP protocol 50, or of UDP 4500
/// after NAT traversal).
pub fn parse_esp(p: &[u8]) -> Option<SaHeader> {
    let mut c = Cursor::new(p);
    let spi = c.u32()?;
    let seq = c.u32()?;
    (p.len() >= ESP_MIN_LEN && spi > 255 && seq != 0).then_some(SaHeader { spi, seq })
}

/// Parses an AH header (IP protocol 51): the payload length in 32-bit
/// words minus 2 must fit, the reserved field is zero.
pub fn parse_ah(p: &[u8]) -> Option<SaHeader> {
    let mut c = Cursor::new(p);
    let _next = c.u8()?;
    let words = usize::from(c.u8()?);
    let reserved = c.u16()?;
    let spi = c.u32()?;
    let seq = c.u32()?;
    let len = (words + 2) * 4;
    (reserved == 0 && len >= 12 && len <= p.len() && spi > 255).then_some(SaHeader { spi, seq })
}

/// What a UDP 4500 payload is (RFC 3948 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatT {
    /// A NAT-keepalive: the single byte 0xFF.
    Keepalive,
    /// IKE after the non-ESP marker.
    Ike(IkeHeader),
    /// ESP in UDP.
    Esp(SaHeader),
}

/// Parses a UDP 4500 payload; None when it is none of the three.
pub fn parse_natt(p: &[u8]) -> Option<NatT> {
    match p {
        [0xff] => Some(NatT::Keepalive),
        [0, 0, 0, 0, rest @ ..] => parse_ike(rest).map(NatT::Ike),
        _ => parse_esp(p).map(NatT::Esp),
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::dissect::hex;

    /// A captured IKEv2 IKE_SA_INIT request header (initiator SPI 8f54bf6d8b48e6e1, responder SPI zero,
    /// next payload SA (33), version 2.0, exchange 34, flags Initiator,
    /// message id 0, length 336), followed by its body.
    fn sa_init() -> Vec<u8> {
        let mut m = hex("8f54bf6d8b48e6e10000000000000000212022080000000000000150");
        m.resize(336, 0x22);
        m
    }

    #[test]
    fn ike_headers() {
        let m = sa_init();
        assert_eq!(
            parse_ike(&m),
            Some(IkeHeader {
                version: 2,
                exchange: 34,
                initiator_spi: 0x8f54_bf6d_8b48_e6e1,
                responder_spi: 0,
            })
        );
        for cut in 0..m.len() {
            assert!(parse_ike(&m[..cut]).is_none(), "cut {cut}");
        }
        // IKEv1 Main Mode: next payload SA (1), version 1.0, exchange 2.
        let mut v1 = hex("0102030405060708000000000000000001100200000000000000001c");
        assert_eq!(
            parse_ike(&v1).map(|h| (h.version, h.exchange)),
            Some((1, 2))
        );
        v1[18] = 34; // an IKEv2 exchange type in an IKEv1 header
        assert!(parse_ike(&v1).is_none());
        let mut zero_spi = m.clone();
        zero_spi[..8].fill(0);
        assert!(
            parse_ike(&zero_spi).is_none(),
            "the initiator SPI is never 0"
        );
        let mut v3 = m.clone();
        v3[17] = 0x30;
        assert!(parse_ike(&v3).is_none(), "version 3");
    }

    #[test]
    fn nat_traversal_framing() {
        assert_eq!(parse_natt(&[0xff]), Some(NatT::Keepalive));
        let mut framed = vec![0, 0, 0, 0];
        framed.extend(sa_init());
        assert!(matches!(parse_natt(&framed), Some(NatT::Ike(h)) if h.exchange == 34));
        // ESP in UDP: SPI 0xc0a81234, sequence 1, then ciphertext.
        let mut esp = hex("c0a8123400000001");
        esp.extend([0x5a; 40]);
        assert_eq!(
            parse_natt(&esp),
            Some(NatT::Esp(SaHeader {
                spi: 0xc0a8_1234,
                seq: 1
            }))
        );
        assert_eq!(parse_esp(&esp), parse_natt(&esp).and(parse_esp(&esp)));
        // A marker followed by no IKE is nothing; SPI 1-255 is reserved.
        assert_eq!(parse_natt(&[0, 0, 0, 0, 1, 2, 3]), None);
        assert_eq!(parse_natt(&hex("000000ff00000001aaaa")), None);
        assert_eq!(parse_natt(&hex("0000ffff00000000aaaa")), None, "seq 0");
        assert_eq!(parse_natt(&[]), None);
        for cut in 0..ESP_MIN_LEN {
            assert!(parse_esp(&esp[..cut]).is_none(), "cut {cut}");
        }
    }

    #[test]
    fn ah_header() {
        // Next header TCP, length 4 (24 bytes: 12 fixed + 12 ICV), SPI, seq 7.
        let mut ah = hex("0604000000001001000000070000000000000000");
        ah.extend([0u8; 4]);
        assert_eq!(
            parse_ah(&ah),
            Some(SaHeader {
                spi: 0x1001,
                seq: 7
            })
        );
        for cut in 0..24 {
            assert!(parse_ah(&ah[..cut]).is_none(), "cut {cut}");
        }
        ah[2] = 1;
        assert!(parse_ah(&ah).is_none(), "reserved must be zero");
    }
}
