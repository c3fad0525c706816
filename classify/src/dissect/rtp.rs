//! RTP and RTCP headers (RFC 3550 §5.1, §6.4; RFC 5761 muxing; RFC 4571
//! framing over TCP). One packet proves little: the classifier confirms RTP
//! across packets (stable SSRC, advancing sequence and timestamp). The SR/RR
//! report blocks of a compound are read by [`rtcp_reports`], bounded by the
//! bytes present whatever the count fields claim.

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

/// A minimal RTCP sender report without report blocks whose NTP time has
/// `ntp_mid` as its middle 32 bits, what a receiver echoes as LSR (for tests
/// and fuzz seeds).
pub fn sender_report(ssrc: u32, ntp_mid: u32) -> Vec<u8> {
    let mut v = vec![0x80, 200, 0, 6];
    v.extend(ssrc.to_be_bytes());
    v.extend([0, 0]);
    v.extend(ntp_mid.to_be_bytes());
    v.extend([0, 0]);
    v.extend([0u8; 12]);
    v
}

/// Parses an RTP header; `None` unless version 2 with consistent lengths.
pub fn parse_rtp(p: &[u8]) -> Option<RtpHeader> {
    let h = parse_rtp_header(p)?;
    if p.first().is_some_and(|b0| b0 & 0x20 != 0) {
        // Padding: the last byte counts it and it must fit after the header.
        let pad = usize::from(*p.last()?);
        if pad == 0 || h.header_len + pad > p.len() {
            return None;
        }
    }
    Some(h)
}

/// Parses an RTP header without judging its padding: SRTP encrypts the
/// padding with the payload and appends its authentication tag (RFC 3711
/// §3.1), so the last byte of a padded SRTP packet is no padding count. What
/// reads SRTP as well as RTP (the media tracker) counts such packets; the
/// classifier, which wants evidence, uses [`parse_rtp`].
pub fn parse_rtp_header(p: &[u8]) -> Option<RtpHeader> {
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

/// The sender SSRC of an RTCP datagram whose packets form a valid length
/// chain (every packet version 2, a type 200-213, the lengths adding up
/// exactly to the datagram), whatever type comes first: a lone BYE, SDES or
/// APP (RFC 3550 §6.6, §6.5, §6.7) and RFC 5506 reduced-size RTCP are real
/// RTCP too, though [`parse_rtcp`] keeps to full compounds for its reports.
pub fn rtcp_chain_sender(p: &[u8]) -> Option<u32> {
    plain_chain_sender(p).or_else(|| srtcp_sender(p))
}

/// Largest SRTCP index taken as plausible: it starts at 0 and counts the
/// session's packets (RFC 3711 §3.4), so a sender reaching 2^24 sent one
/// report a second for half a year.
const SRTCP_INDEX_MAX: u32 = 1 << 24;

/// The sender SSRC of an SRTCP packet (RFC 3711 §3.4), whose RTCP length
/// chain runs into the encrypted part: the first header (version 2, SR or
/// RR) and SSRC are in the clear, then the compound, the E flag with the
/// 31-bit SRTCP index, and an authentication tag of 0, 4 or 10 bytes. The
/// compound ends 32-bit aligned, the first packet inside it; with the E
/// flag clear (a null cipher) the whole chain must hold, with it set the
/// index must be plausible.
pub fn srtcp_sender(p: &[u8]) -> Option<u32> {
    let mut c = Cursor::new(p);
    let (b0, pt, words, ssrc) = (c.u8()?, c.u8()?, usize::from(c.u16()?), c.u32()?);
    if b0 >> 6 != 2 || !matches!(pt, 200 | 201) {
        return None;
    }
    let first = 4 + 4 * words;
    [10usize, 4, 0].into_iter().find_map(|tag| {
        let n = p.len().checked_sub(tag + 4)?;
        if n % 4 != 0 || n < first.max(8) {
            return None;
        }
        let e_index = Cursor::new(p.get(n..)?).u32()?;
        let ok = if e_index & 0x8000_0000 != 0 {
            e_index & 0x7fff_ffff < SRTCP_INDEX_MAX
        } else {
            plain_chain_sender(p.get(..n)?).is_some()
        };
        ok.then_some(ssrc)
    })
}

/// [`rtcp_chain_sender`] for plain RTCP only.
fn plain_chain_sender(p: &[u8]) -> Option<u32> {
    let mut c = Cursor::new(p);
    let mut sender = None;
    while c.remaining() > 0 {
        let b0 = c.u8()?;
        let pt = c.u8()?;
        let words = usize::from(c.u16()?);
        if b0 >> 6 != 2 || !(200..=213).contains(&pt) {
            return None;
        }
        let body = c.bytes(4 * words)?;
        if sender.is_none() {
            sender = Some(Cursor::new(body).u32()?);
        }
    }
    sender
}

/// Sender info of an SR (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderInfo {
    /// Middle 32 bits of the NTP timestamp: what a later report echoes as LSR.
    pub ntp_mid: u32,
    /// RTP timestamp matching the NTP time.
    pub rtp_ts: u32,
    /// Sender's packet count.
    pub packets: u32,
    /// Sender's octet count.
    pub octets: u32,
}

/// One 24-byte report block of an SR or RR (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, × 256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub ext_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from the source.
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

impl ReportBlock {
    /// A minimal RTCP receiver report from `sender` holding this one block
    /// (for tests and fuzz seeds; the inverse of [`rtcp_reports`]).
    pub fn receiver_report(&self, sender: u32) -> Vec<u8> {
        let mut v = vec![0x81, 201, 0, 7];
        v.extend(sender.to_be_bytes());
        v.extend(self.ssrc.to_be_bytes());
        let lost = (self.cumulative_lost as u32) & 0x00ff_ffff;
        v.extend(((u32::from(self.fraction_lost) << 24) | lost).to_be_bytes());
        for w in [self.ext_highest_seq, self.jitter, self.lsr, self.dlsr] {
            v.extend(w.to_be_bytes());
        }
        v
    }

    fn parse(b: &[u8]) -> Option<Self> {
        let mut c = Cursor::new(b);
        let ssrc = c.u32()?;
        let word = c.u32()?;
        // The low 24 bits are a two's complement count: shift the sign in.
        let cumulative_lost = ((word << 8) as i32) >> 8;
        Some(ReportBlock {
            ssrc,
            fraction_lost: (word >> 24) as u8,
            cumulative_lost,
            ext_highest_seq: c.u32()?,
            jitter: c.u32()?,
            lsr: c.u32()?,
            dlsr: c.u32()?,
        })
    }
}

/// One SR or RR of a compound, as [`rtcp_reports`] yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcpReport<'a> {
    /// 200 (SR) or 201 (RR).
    pub packet_type: u8,
    /// SSRC of the report's sender.
    pub sender_ssrc: u32,
    /// The SR's sender info.
    pub sender: Option<SenderInfo>,
    /// The report count field claimed more blocks than the packet holds.
    pub count_overflow: bool,
    blocks: &'a [u8],
}

impl<'a> RtcpReport<'a> {
    /// The report blocks that fit in the packet (never more than it holds).
    pub fn blocks(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        self.blocks.chunks_exact(24).filter_map(ReportBlock::parse)
    }
}

/// The SRs and RRs of an RTCP datagram, front to back; other packet types
/// are skipped. Iteration stops at the first header whose length runs past
/// the datagram, so a hostile length or report count costs nothing: blocks
/// are bounded by the bytes present, never by the count field.
pub fn rtcp_reports(p: &[u8]) -> impl Iterator<Item = RtcpReport<'_>> {
    let mut c = Cursor::new(p);
    std::iter::from_fn(move || loop {
        let b0 = c.u8()?;
        let pt = c.u8()?;
        let words = usize::from(c.u16()?);
        if b0 >> 6 != 2 {
            return None;
        }
        let body = c.bytes(4 * words)?;
        if pt != 200 && pt != 201 {
            continue;
        }
        let mut b = Cursor::new(body);
        let sender_ssrc = b.u32()?;
        let sender = if pt == 200 {
            let _ntp_hi = b.u16()?;
            let ntp_mid = b.u32()?;
            let _ntp_lo = b.u16()?;
            Some(SenderInfo {
                ntp_mid,
                rtp_ts: b.u32()?,
                packets: b.u32()?,
                octets: b.u32()?,
            })
        } else {
            None
        };
        let count = usize::from(b0 & 0x1f);
        let avail = b.remaining() / 24;
        let n = count.min(avail);
        let blocks = b.bytes(24 * n)?;
        return Some(RtcpReport {
            packet_type: pt,
            sender_ssrc,
            sender,
            count_overflow: count > avail,
            blocks,
        });
    })
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

    /// RFC 3711 §3.4's layout: the clear RR header and SSRC, the encrypted
    /// rest, E flag and index, then the tag.
    #[test]
    fn srtcp_compounds_by_their_trailer() {
        let mut p = vec![0x81, 201, 0, 7, 0, 0, 0x11, 0x11];
        p.extend([0x3c; 36]); // encrypted report block and SDES
        p.extend(0x8000_0005u32.to_be_bytes());
        for tag in [0usize, 4, 10] {
            let mut q = p.clone();
            q.extend(vec![0xa5; tag]);
            assert_eq!(srtcp_sender(&q), Some(0x1111), "tag {tag}");
            assert_eq!(rtcp_chain_sender(&q), Some(0x1111));
            for n in 0..q.len() {
                let _ = srtcp_sender(&q[..n]);
            }
        }
        // A tag of 7 bytes leaves no aligned compound.
        let mut q = p.clone();
        q.extend([0xa5; 7]);
        assert_eq!(srtcp_sender(&q), None);
        // An implausible index, a type that cannot start a compound.
        let mut q = p.clone();
        q[44..48].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        q.extend([0xa5; 10]);
        assert_eq!(srtcp_sender(&q), None);
        let mut q = p.clone();
        q[1] = 203;
        assert_eq!(srtcp_sender(&q), None);
        // E clear (null cipher): the chain itself must hold.
        let mut q = vec![0x80, 201, 0, 1, 0, 0, 0x22, 0x22];
        q.extend(5u32.to_be_bytes());
        assert_eq!(srtcp_sender(&q), Some(0x2222));
        q[8..12].copy_from_slice(&[0x81, 202, 0, 9]);
        q.extend(5u32.to_be_bytes());
        assert_eq!(srtcp_sender(&q), None);
    }

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

    fn rr(count_field: u8, blocks: usize) -> Vec<u8> {
        let words = 1 + 6 * blocks;
        let mut v = vec![0x80 | count_field, 201, 0, words as u8, 0, 0, 0, 7];
        for i in 0..blocks {
            v.extend((100 + i as u32).to_be_bytes());
            // fraction 64/256, cumulative lost -3
            v.extend([64, 0xff, 0xff, 0xfd]);
            v.extend(65_600u32.to_be_bytes());
            v.extend(160u32.to_be_bytes());
            v.extend(0x1234_5678u32.to_be_bytes());
            v.extend(65_536u32.to_be_bytes());
        }
        v
    }

    #[test]
    fn report_blocks_of_sr_and_rr() {
        let r = hex(RTCP);
        let sr = &r[..4 + 4 * 12];
        let reps: Vec<_> = rtcp_reports(sr).collect();
        assert_eq!(reps.len(), 1);
        assert_eq!(reps[0].packet_type, 200);
        assert_eq!(reps[0].sender_ssrc, 0x5d93_1534);
        // NTP dd3ac170.4d614df8: the middle 32 bits are c1704d61.
        assert_eq!(reps[0].sender.map(|s| s.ntp_mid), Some(0xc170_4d61));
        let b: Vec<_> = reps[0].blocks().collect();
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].ssrc, b[0].cumulative_lost), (0, 1));

        let v = rr(2, 2);
        let reps: Vec<_> = rtcp_reports(&v).collect();
        let b: Vec<_> = reps[0].blocks().collect();
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[1],
            ReportBlock {
                ssrc: 101,
                fraction_lost: 64,
                cumulative_lost: -3,
                ext_highest_seq: 65_600,
                jitter: 160,
                lsr: 0x1234_5678,
                dlsr: 65_536,
            }
        );
        assert!(!reps[0].count_overflow);
    }

    #[test]
    fn report_count_larger_than_the_packet_is_bounded_and_flagged() {
        // Claims 31 blocks, holds one.
        let v = rr(31, 1);
        let reps: Vec<_> = rtcp_reports(&v).collect();
        assert_eq!(reps.len(), 1);
        assert!(reps[0].count_overflow);
        assert_eq!(reps[0].blocks().count(), 1);
        // A length past the end yields nothing at all.
        let mut bad = rr(1, 1);
        bad[3] = 200;
        assert_eq!(rtcp_reports(&bad).count(), 0);
        // Compound: SDES skipped, then an RR.
        let mut comp = vec![0x81, 202, 0, 1, 0, 0, 0, 9];
        comp.extend(rr(1, 1));
        let reps: Vec<_> = rtcp_reports(&comp).collect();
        assert_eq!(reps.len(), 1);
        assert_eq!(reps[0].packet_type, 201);
    }

    #[test]
    fn report_truncation_at_every_offset() {
        let mut full = hex(RTCP)[..4 + 4 * 12].to_vec();
        full.extend(rr(1, 1));
        let whole: usize = rtcp_reports(&full).map(|r| r.blocks().count()).sum();
        assert_eq!(whole, 2);
        for cut in 0..full.len() {
            let m = &full[..cut];
            let blocks: usize = rtcp_reports(m).map(|r| r.blocks().count()).sum();
            assert!(blocks < 2, "cut {cut}");
        }
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
