//! RTP and RTCP headers (RFC 3550 §5.1, §6.4; RFC 5761 muxing; RFC 4571
//! framing over TCP). One packet proves little: the classifier confirms RTP
//! across packets (stable SSRC, advancing sequence and timestamp).

use super::cursor::Cursor;

/// The fixed RTP header and where the payload starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type.
    pub pt: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub ts: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Header length including CSRCs and the extension.
    pub header_len: usize,
}

/// What an RTCP datagram (compound or single) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcpInfo {
    /// Type of the first packet (200 SR, 201 RR, ...).
    pub first_type: u8,
    /// Packets in the compound.
    pub packets: u8,
    /// SSRC of the first packet's sender.
    pub ssrc: u32,
}

/// Whether the second byte of a version-2 packet marks RTCP (RFC 5761:
/// packet types 192-223 collide only with RTP payload types 64-95 plus marker).
pub fn is_rtcp_type(b1: u8) -> bool {
    (192..=223).contains(&b1)
}

/// Parses an RTP header; `None` unless version 2 with consistent lengths.
pub fn parse_rtp(p: &[u8]) -> Option<RtpHeader> {
    let mut c = Cursor::new(p);
    let b0 = c.u8()?;
    let b1 = c.u8()?;
    if b0 >> 6 != 2 || is_rtcp_type(b1) {
        return None;
    }
    let seq = c.u16()?;
    let ts = c.u32()?;
    let ssrc = c.u32()?;
    let cc = usize::from(b0 & 0x0f);
    c.skip(4 * cc)?;
    let mut header_len = 12 + 4 * cc;
    if b0 & 0x10 != 0 {
        let _profile = c.u16()?;
        let words = usize::from(c.u16()?);
        c.skip(4 * words)?;
        header_len += 4 + 4 * words;
    }
    if b0 & 0x20 != 0 {
        // Padding: the last byte counts it and it must fit after the header.
        let pad = usize::from(*p.last()?);
        if pad == 0 || header_len + pad > p.len() {
            return None;
        }
    }
    Some(RtpHeader {
        pt: b1 & 0x7f,
        marker: b1 & 0x80 != 0,
        seq,
        ts,
        ssrc,
        header_len,
    })
}

/// Parses an RTCP datagram: every packet version 2 with a known type, and
/// the lengths adding up exactly to the datagram.
pub fn parse_rtcp(p: &[u8]) -> Option<RtcpInfo> {
    let mut c = Cursor::new(p);
    let mut info: Option<RtcpInfo> = None;
    while c.remaining() > 0 {
        let b0 = c.u8()?;
        let pt = c.u8()?;
        let words = usize::from(c.u16()?);
        if b0 >> 6 != 2 || !(192..=213).contains(&pt) {
            return None;
        }
        let body = c.bytes(4 * words)?;
        let ssrc = Cursor::new(body).u32().unwrap_or(0);
        match info.as_mut() {
            None => {
                info = Some(RtcpInfo {
                    first_type: pt,
                    packets: 1,
                    ssrc,
                })
            }
            Some(i) => i.packets = i.packets.saturating_add(1),
        }
    }
    let i = info?;
    // A compound starts with SR or RR (RFC 3550 §6.1); reduced-size RTCP
    // (RFC 5506) may start with feedback, which is 205/206.
    matches!(i.first_type, 200 | 201 | 205 | 206 | 207).then_some(i)
}

/// Splits RFC 4571 framing (a 2-byte length before each packet) off the
/// start of a TCP segment: the first framed packet, if the length fits.
pub fn rfc4571_first(p: &[u8]) -> Option<&[u8]> {
    let mut c = Cursor::new(p);
    let n = usize::from(c.u16()?);
    if n < 8 {
        return None;
    }
    c.bytes(n)
}

/// The RTP clock rate of a static payload type (RFC 3551), and the codec name.
pub fn static_payload_type(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        34 => ("H263", 90000),
        _ => return None,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    use crate::dissect::hex;

    // rtp.pcapng (first RTP packet) and rtcp_multiple_pkts_in_the_same_datagram.pcap.
    const RTP: &str =
        "802201100009e88600001646007000000000836a0e033ffc05cc8e21d3df8bc0785f3cf854d6";
    const RTCP: &str = "81c8000c5d931534dd3ac1704d614df800007d00000000c800007d0000000000000000010000000000000000000000000000000081ca000e5d931534010835643933313533340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d000000";

    #[test]
    fn real_rtp_and_compound_rtcp() {
        let h = parse_rtp(&hex(RTP)).unwrap();
        assert_eq!(
            (h.pt, h.seq, h.ssrc, h.header_len),
            (34, 0x0110, 0x0000_1646, 12)
        );
        let r = hex(RTCP);
        // The sample holds SR + SDES (its tail is cut in this constant, so
        // check the SR alone, then a rebuilt exact compound).
        let sr = &r[..4 + 4 * 12];
        assert_eq!(
            parse_rtcp(sr).map(|i| (i.first_type, i.packets)),
            Some((200, 1))
        );
        let mut compound = sr.to_vec();
        compound.extend([0x81, 0xca, 0, 2, 0x5d, 0x93, 0x15, 0x34, 0, 0, 0, 0]);
        assert_eq!(
            parse_rtcp(&compound).map(|i| (i.first_type, i.packets, i.ssrc)),
            Some((200, 2, 0x5d93_1534))
        );
        assert!(parse_rtp(sr).is_none(), "RTCP is not RTP");
    }

    #[test]
    fn rejects() {
        assert!(
            parse_rtp(&[0x40, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]).is_none(),
            "version 1"
        );
        assert!(
            parse_rtp(&[0x8f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]).is_none(),
            "15 CSRCs that are not there"
        );
        assert!(
            parse_rtp(&[0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]).is_none(),
            "zero padding count"
        );
        assert!(
            parse_rtcp(&[0x81, 0xca, 0, 1, 0, 0, 0, 1]).is_none(),
            "SDES alone is not a compound start"
        );
        assert!(
            parse_rtcp(&[0x81, 0xc8, 0, 9, 0, 0, 0, 1]).is_none(),
            "length past the end"
        );
        assert!(parse_rtcp(&[]).is_none());
        assert_eq!(
            rfc4571_first(&[0, 12, 0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]).map(<[u8]>::len),
            Some(12)
        );
        assert_eq!(static_payload_type(0), Some(("PCMU", 8000)));
    }

    #[test]
    fn truncation_never_panics() {
        for s in [RTP, RTCP] {
            let m = hex(s);
            for cut in 0..m.len() {
                let _ = parse_rtp(&m[..cut]);
                let _ = parse_rtcp(&m[..cut]);
                let _ = rfc4571_first(&m[..cut]);
            }
        }
    }
}
