//! Link layers: from a captured frame to the start of its IP header.
//!
//! Pure functions over the frame bytes. Supported: Ethernet (with 802.1Q,
//! 802.1ad/QinQ, MPLS and PPPoE session shims), Linux SLL and SLL2, raw IPv4
//! and IPv6, BSD null/loopback, Cisco HDLC, and the serial links of routers'
//! captures: PPP (RFC 1661, with or without RFC 1662's address and control
//! bytes, protocol field compressed or not), PPP in HDLC-like framing, PPPoE
//! without its Ethernet header, and the with-direction variants of PPP and
//! Cisco HDLC. On the two PPP link types a frame that starts with a Cisco
//! HDLC address (0x0F unicast, 0x8F broadcast) is Cisco HDLC, as libpcap
//! documents for LINKTYPE_PPP_HDLC and as routers write LINKTYPE_PPP too.
//! The outer VLAN id and the Ethernet MACs are kept for the flow key and for
//! edge attribution.

/// A capture's link type, from libpcap's DLT/LINKTYPE number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// DLT_EN10MB.
    Ethernet,
    /// DLT_NULL: 4-byte address family in the writer's byte order.
    Null,
    /// DLT_LOOP: 4-byte address family in network byte order.
    Loop,
    /// Raw IP, version from the first nibble.
    Raw,
    /// Raw IPv4 only.
    Ipv4,
    /// Raw IPv6 only.
    Ipv6,
    /// Linux cooked capture v1.
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    /// Cisco HDLC.
    CiscoHdlc,
    /// DLT_PPP: PPP, or Cisco HDLC framing.
    Ppp,
    /// DLT_PPP_SERIAL: PPP in HDLC-like framing (RFC 1662), or Cisco HDLC.
    PppHdlc,
    /// DLT_PPP_ETHER: a PPPoE session header, then PPP.
    PppEther,
    /// DLT_PPP_WITH_DIR: a direction byte, then PPP.
    PppWithDir,
    /// DLT_C_HDLC_WITH_DIR: a direction byte, then Cisco HDLC.
    CiscoHdlcWithDir,
}

impl LinkType {
    /// Maps a libpcap link-type number; `None` for types pathlens cannot read.
    pub fn from_dlt(dlt: i32) -> Option<Self> {
        Some(match dlt {
            1 => LinkType::Ethernet,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            12 | 14 | 101 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            104 => LinkType::CiscoHdlc,
            9 => LinkType::Ppp,
            50 => LinkType::PppHdlc,
            51 => LinkType::PppEther,
            204 => LinkType::PppWithDir,
            205 => LinkType::CiscoHdlcWithDir,
            _ => return None,
        })
    }
}

/// Where the IP header starts and what the link layer said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2 {
    /// Offset of the IP header in the frame.
    pub ip_offset: usize,
    /// 4 or 6.
    pub ip_version: u8,
    /// Outer VLAN id, 0 if untagged.
    pub vlan: u16,
    /// Ethernet source MAC, when the link has one.
    pub src_mac: Option<[u8; 6]>,
    /// Ethernet destination MAC, when the link has one.
    pub dst_mac: Option<[u8; 6]>,
}

/// Why a frame yields no IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2Error {
    /// The frame ends inside a link header.
    Truncated,
    /// The frame carries something other than IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS_UC: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS_UC: u16 = 0x0281;
const PPP_MPLS_MC: u16 = 0x0283;
const CHDLC_UNICAST: u8 = 0x0f;
const CHDLC_BROADCAST: u8 = 0x8f;

fn be16(b: &[u8], at: usize) -> Result<u16, L2Error> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(L2Error::Truncated),
    }
}

fn mac(b: &[u8], at: usize) -> Option<[u8; 6]> {
    b.get(at..at + 6).and_then(|s| s.try_into().ok())
}

fn version_at(frame: &[u8], at: usize) -> Result<u8, L2Error> {
    match frame.get(at).map(|b| b >> 4) {
        Some(4) => Ok(4),
        Some(6) => Ok(6),
        Some(_) => Err(L2Error::NotIp),
        None => Err(L2Error::Truncated),
    }
}

/// Follows an ethertype chain (VLAN tags, MPLS labels, PPPoE) from `at` to an
/// IP header. Returns (offset, version, outer vlan).
fn from_ethertype(
    frame: &[u8],
    mut ethertype: u16,
    mut at: usize,
) -> Result<(usize, u8, u16), L2Error> {
    let mut vlan = 0u16;
    // Bounded: a frame cannot hold more shims than bytes, but cap the loop anyway.
    for _ in 0..16 {
        match ethertype {
            ETH_IPV4 | ETH_IPV6 => {
                let v = version_at(frame, at)?;
                let want = if ethertype == ETH_IPV4 { 4 } else { 6 };
                return if v == want {
                    Ok((at, v, vlan))
                } else {
                    Err(L2Error::NotIp)
                };
            }
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                let tci = be16(frame, at)?;
                if vlan == 0 {
                    vlan = tci & 0x0fff;
                }
                ethertype = be16(frame, at + 2)?;
                at += 4;
            }
            ETH_MPLS_UC | ETH_MPLS_MC => {
                // Labels until the bottom-of-stack bit, then IP by version nibble.
                loop {
                    let entry = frame.get(at..at + 4).ok_or(L2Error::Truncated)?;
                    at += 4;
                    if entry.get(2).is_some_and(|b| b & 0x01 == 1) {
                        break;
                    }
                }
                let v = version_at(frame, at)?;
                return Ok((at, v, vlan));
            }
            ETH_PPPOE_SESSION => {
                // 6-byte PPPoE header, then the 2-byte PPP protocol.
                let ppp = be16(frame, at + 6)?;
                at += 8;
                ethertype = match ppp {
                    0x0021 => ETH_IPV4,
                    0x0057 => ETH_IPV6,
                    _ => return Err(L2Error::NotIp),
                };
            }
            _ => return Err(L2Error::NotIp),
        }
    }
    Err(L2Error::NotIp)
}

/// PPP from `at`: RFC 1662's address and control bytes (0xFF 0x03) when
/// present, then the protocol, one byte when compressed (RFC 1661 §6.5: an
/// odd first byte) else two. IPv4, IPv6 and MPLS are followed; LCP, IPCP
/// and the rest are not IP.
fn from_ppp(frame: &[u8], mut at: usize) -> Result<(usize, u8, u16), L2Error> {
    if frame.get(at) == Some(&0xff) {
        match frame.get(at + 1) {
            Some(0x03) => at += 2,
            Some(_) => return Err(L2Error::NotIp),
            None => return Err(L2Error::Truncated),
        }
    }
    let first = *frame.get(at).ok_or(L2Error::Truncated)?;
    let (proto, len) = if first & 1 == 1 {
        (u16::from(first), 1)
    } else {
        (be16(frame, at)?, 2)
    };
    let ethertype = match proto {
        PPP_IPV4 => ETH_IPV4,
        PPP_IPV6 => ETH_IPV6,
        PPP_MPLS_UC | PPP_MPLS_MC => ETH_MPLS_UC,
        _ => return Err(L2Error::NotIp),
    };
    from_ethertype(frame, ethertype, at + len)
}

/// Cisco HDLC from `at`: address, control, then an Ethernet type.
fn from_cisco_hdlc(frame: &[u8], at: usize) -> Result<(usize, u8, u16), L2Error> {
    let proto = be16(frame, at + 2)?;
    from_ethertype(frame, proto, at + 4)
}

/// PPP, or Cisco HDLC when the first byte is one of its addresses.
fn from_ppp_or_cisco(frame: &[u8], at: usize) -> Result<(usize, u8, u16), L2Error> {
    match frame.get(at) {
        Some(&(CHDLC_UNICAST | CHDLC_BROADCAST)) => from_cisco_hdlc(frame, at),
        Some(_) => from_ppp(frame, at),
        None => Err(L2Error::Truncated),
    }
}

/// Finds the IP header after a payload announced by an Ethernet type (a
/// GRE or GENEVE protocol field): IP, or VLAN tags and MPLS labels first.
///
/// # Errors
/// As [`peel`].
pub fn peel_ethertype(frame: &[u8], ethertype: u16) -> Result<L2, L2Error> {
    let (ip_offset, ip_version, vlan) = from_ethertype(frame, ethertype, 0)?;
    Ok(L2 {
        ip_offset,
        ip_version,
        vlan,
        src_mac: None,
        dst_mac: None,
    })
}

/// Finds the IP header in a frame of the given link type.
///
/// # Errors
/// [`L2Error::Truncated`] if the link header is cut, [`L2Error::NotIp`] if
/// the frame carries no IPv4/IPv6.
pub fn peel(link: LinkType, frame: &[u8]) -> Result<L2, L2Error> {
    let plain = |ip_offset, ip_version, vlan| L2 {
        ip_offset,
        ip_version,
        vlan,
        src_mac: None,
        dst_mac: None,
    };
    match link {
        LinkType::Ethernet => {
            let ethertype = be16(frame, 12)?;
            if ethertype <= 1500 {
                // 802.3 length field: LLC/SNAP, never IP in practice here.
                return Err(L2Error::NotIp);
            }
            let (at, v, vlan) = from_ethertype(frame, ethertype, 14)?;
            Ok(L2 {
                ip_offset: at,
                ip_version: v,
                vlan,
                src_mac: mac(frame, 6),
                dst_mac: mac(frame, 0),
            })
        }
        LinkType::Null | LinkType::Loop => {
            let fam = frame.get(0..4).ok_or(L2Error::Truncated)?;
            let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let be = u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]);
            // The family is in the writer's byte order for NULL; accept either.
            let family = if le < 256 { le } else { be };
            let v = match family {
                2 => 4,
                // AF_INET6 differs by OS: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
                10 | 24 | 28 | 30 => 6,
                _ => return Err(L2Error::NotIp),
            };
            if version_at(frame, 4)? != v {
                return Err(L2Error::NotIp);
            }
            Ok(plain(4, v, 0))
        }
        LinkType::Raw => Ok(plain(0, version_at(frame, 0)?, 0)),
        LinkType::Ipv4 => match version_at(frame, 0)? {
            4 => Ok(plain(0, 4, 0)),
            _ => Err(L2Error::NotIp),
        },
        LinkType::Ipv6 => match version_at(frame, 0)? {
            6 => Ok(plain(0, 6, 0)),
            _ => Err(L2Error::NotIp),
        },
        LinkType::LinuxSll => {
            let proto = be16(frame, 14)?;
            let (at, v, vlan) = from_ethertype(frame, proto, 16)?;
            Ok(plain(at, v, vlan))
        }
        LinkType::LinuxSll2 => {
            let proto = be16(frame, 0)?;
            if frame.len() < 20 {
                return Err(L2Error::Truncated);
            }
            let (at, v, vlan) = from_ethertype(frame, proto, 20)?;
            Ok(plain(at, v, vlan))
        }
        LinkType::CiscoHdlc => {
            let (at, v, vlan) = from_cisco_hdlc(frame, 0)?;
            Ok(plain(at, v, vlan))
        }
        LinkType::CiscoHdlcWithDir => {
            let (at, v, vlan) = from_cisco_hdlc(frame, 1)?;
            Ok(plain(at, v, vlan))
        }
        LinkType::Ppp | LinkType::PppHdlc => {
            let (at, v, vlan) = from_ppp_or_cisco(frame, 0)?;
            Ok(plain(at, v, vlan))
        }
        LinkType::PppWithDir => {
            let (at, v, vlan) = from_ppp_or_cisco(frame, 1)?;
            Ok(plain(at, v, vlan))
        }
        LinkType::PppEther => {
            // The 6-byte PPPoE session header, then the PPP protocol.
            if frame.len() < 6 {
                return Err(L2Error::Truncated);
            }
            let (at, v, vlan) = from_ppp(frame, 6)?;
            Ok(plain(at, v, vlan))
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn eth(ethertype: u16, rest: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(rest);
        f
    }

    const V4: [u8; 2] = [0x45, 0];
    const V6: [u8; 2] = [0x60, 0];

    #[test]
    fn ethernet_plain_vlan_qinq() {
        let l = peel(LinkType::Ethernet, &eth(ETH_IPV4, &V4)).unwrap();
        assert_eq!((l.ip_offset, l.ip_version, l.vlan), (14, 4, 0));
        assert_eq!(l.src_mac, Some([2, 0, 0, 0, 0, 2]));
        let mut q = vec![0x00, 0x64];
        q.extend_from_slice(&ETH_IPV6.to_be_bytes());
        q.extend_from_slice(&V6);
        let l = peel(LinkType::Ethernet, &eth(ETH_VLAN, &q)).unwrap();
        assert_eq!((l.ip_offset, l.ip_version, l.vlan), (18, 6, 100));
        // QinQ: outer 200, inner 100; the outer id is kept.
        let mut qq = vec![0x00, 0xc8];
        qq.extend_from_slice(&ETH_VLAN.to_be_bytes());
        qq.extend_from_slice(&q);
        let l = peel(LinkType::Ethernet, &eth(ETH_QINQ, &qq)).unwrap();
        assert_eq!((l.ip_offset, l.vlan), (22, 200));
    }

    #[test]
    fn mpls_and_pppoe() {
        // Two labels, bottom of stack on the second.
        let l = peel(
            LinkType::Ethernet,
            &eth(ETH_MPLS_UC, &[0, 1, 0, 64, 0, 2, 1, 64, 0x45, 0]),
        )
        .unwrap();
        assert_eq!((l.ip_offset, l.ip_version), (22, 4));
        let l = peel(
            LinkType::Ethernet,
            &eth(ETH_PPPOE_SESSION, &[0x11, 0, 0, 1, 0, 10, 0, 0x21, 0x45]),
        )
        .unwrap();
        assert_eq!((l.ip_offset, l.ip_version), (22, 4));
        assert_eq!(
            peel(
                LinkType::Ethernet,
                &eth(ETH_PPPOE_SESSION, &[0x11, 0, 0, 1, 0, 10, 0xc0, 0x21])
            ),
            Err(L2Error::NotIp)
        );
    }

    #[test]
    fn other_link_types() {
        assert_eq!(
            peel(LinkType::Null, &[2, 0, 0, 0, 0x45]).unwrap().ip_offset,
            4
        );
        assert_eq!(
            peel(LinkType::Loop, &[0, 0, 0, 30, 0x60])
                .unwrap()
                .ip_version,
            6
        );
        assert_eq!(peel(LinkType::Raw, &[0x60]).unwrap().ip_version, 6);
        assert_eq!(peel(LinkType::Ipv4, &[0x60]), Err(L2Error::NotIp));
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&ETH_IPV4.to_be_bytes());
        sll.push(0x45);
        assert_eq!(peel(LinkType::LinuxSll, &sll).unwrap().ip_offset, 16);
        let mut sll2 = ETH_IPV6.to_be_bytes().to_vec();
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.push(0x60);
        assert_eq!(peel(LinkType::LinuxSll2, &sll2).unwrap().ip_offset, 20);
        assert_eq!(
            peel(LinkType::CiscoHdlc, &[0x0f, 0, 0x08, 0x00, 0x45])
                .unwrap()
                .ip_offset,
            4
        );
        assert_eq!(
            peel(LinkType::Ethernet, &eth(0x0806, &[0; 28])),
            Err(L2Error::NotIp)
        );
        assert_eq!(
            peel(LinkType::Ethernet, &eth(100, &[0; 28])),
            Err(L2Error::NotIp)
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut q = vec![0x00, 0x64];
        q.extend_from_slice(&ETH_MPLS_UC.to_be_bytes());
        q.extend_from_slice(&[0, 1, 1, 64, 0x45, 0]);
        let full = eth(ETH_VLAN, &q);
        assert!(peel(LinkType::Ethernet, &full).is_ok());
        for cut in 0..full.len() - 2 {
            assert_eq!(
                peel(LinkType::Ethernet, &full[..cut]),
                Err(L2Error::Truncated),
                "cut at {cut}"
            );
        }
        for link in [
            LinkType::Null,
            LinkType::Raw,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::CiscoHdlc,
        ] {
            assert!(peel(link, &[]).is_err());
        }
    }

    #[test]
    fn dlt_numbers() {
        assert_eq!(LinkType::from_dlt(1), Some(LinkType::Ethernet));
        assert_eq!(LinkType::from_dlt(113), Some(LinkType::LinuxSll));
        assert_eq!(LinkType::from_dlt(276), Some(LinkType::LinuxSll2));
        assert_eq!(LinkType::from_dlt(105), None, "802.11 is not supported");
        assert_eq!(LinkType::from_dlt(9), Some(LinkType::Ppp));
        assert_eq!(LinkType::from_dlt(50), Some(LinkType::PppHdlc));
    }

    /// PPP as RFC 1661/1662 lay it out, and Cisco HDLC inside the PPP link
    /// types, byte by byte.
    #[test]
    fn ppp_and_cisco_hdlc_on_serial_links() {
        let ip = |at: usize, v: u8| Ok((at, v));
        let got = |link, f: &[u8]| peel(link, f).map(|l| (l.ip_offset, l.ip_version));
        for link in [LinkType::Ppp, LinkType::PppHdlc] {
            // Address 0xFF, control 0x03, protocol 0x0021 (IPv4).
            assert_eq!(got(link, &[0xff, 0x03, 0x00, 0x21, 0x45]), ip(4, 4));
            // Protocol-field compression: 0x57 (IPv6) in one byte.
            assert_eq!(got(link, &[0xff, 0x03, 0x57, 0x60]), ip(3, 6));
            // Address and control compressed away.
            assert_eq!(got(link, &[0x00, 0x21, 0x45]), ip(2, 4));
            // Cisco HDLC unicast and broadcast, IPv4 and IPv6.
            assert_eq!(got(link, &[0x0f, 0x00, 0x08, 0x00, 0x45]), ip(4, 4));
            assert_eq!(got(link, &[0x8f, 0x00, 0x86, 0xdd, 0x60]), ip(4, 6));
            // MPLS over PPP (0x0281), one label with bottom of stack.
            assert_eq!(
                got(link, &[0xff, 0x03, 0x02, 0x81, 0, 1, 1, 64, 0x45]),
                ip(8, 4)
            );
            // LCP (0xC021), Cisco SLARP (0x8035): not IP.
            assert_eq!(got(link, &[0xff, 0x03, 0xc0, 0x21, 1]), Err(L2Error::NotIp));
            assert_eq!(got(link, &[0x8f, 0x00, 0x80, 0x35, 0]), Err(L2Error::NotIp));
            // The protocol says IPv4, the header says 6.
            assert_eq!(
                got(link, &[0xff, 0x03, 0x00, 0x21, 0x60]),
                Err(L2Error::NotIp)
            );
            assert_eq!(
                got(link, &[0xff, 0x07, 0x00, 0x21, 0x45]),
                Err(L2Error::NotIp)
            );
            let full = [0xff, 0x03, 0x00, 0x21, 0x45];
            for cut in 0..full.len() {
                assert_eq!(
                    got(link, &full[..cut]),
                    Err(L2Error::Truncated),
                    "cut {cut}"
                );
            }
        }
        assert_eq!(
            got(LinkType::PppWithDir, &[1, 0xff, 0x03, 0x00, 0x21, 0x45]),
            ip(5, 4)
        );
        assert_eq!(
            got(LinkType::CiscoHdlcWithDir, &[0, 0x0f, 0, 0x08, 0, 0x45]),
            ip(5, 4)
        );
        // PPPoE session header (ver/type, code, session, length), then PPP.
        assert_eq!(
            got(
                LinkType::PppEther,
                &[0x11, 0, 0, 1, 0, 22, 0x00, 0x21, 0x45]
            ),
            ip(8, 4)
        );
        for link in [
            LinkType::PppWithDir,
            LinkType::CiscoHdlcWithDir,
            LinkType::PppEther,
        ] {
            assert!(peel(link, &[]).is_err());
        }
    }
}
