//! Decoding one frame, once, in the reader: link layer, IP (etherparse's lax
//! slicer: IPv4 options, IPv6 extension headers, fragments), and the fixed
//! fields of the transport header, into the few values the flow table needs.
//!
//! Tunnels and mirror feeds (GRE, ERSPAN, VXLAN, GENEVE, GRE-in-UDP, GTP-U,
//! Teredo, AYIYA) are opened here too, recursively ([`layers`], headers in
//! [`tunnel`]): the packet returned is the innermost one, with the chain of
//! tunnels it came through. Only GRE (IP protocol 47) and UDP to a tunnel
//! port take that path, so untunnelled traffic pays one compare per packet.
//!
//! A malformed packet is data, not an error: [`decode`] returns the reason and
//! the caller counts it. Snaplen-cut packets decode as far as their bytes go;
//! byte counts come from the IP header's length, never from the capture.

pub mod layers;
pub mod tunnel;

pub use layers::{Chain, Decap, Layers, MAX_DEPTH};

use crate::link::{peel, L2Error, LinkType, L2};
use etherparse::{LaxIpSlice, LenSource};
use pathlens_classify::community_id::icmp_ports;
use std::collections::HashMap;
use std::net::IpAddr;

/// A decoded IP packet. `payload` borrows the captured transport payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Sender address.
    pub src: IpAddr,
    /// Receiver address.
    pub dst: IpAddr,
    /// Sender port (ICMP: type-derived key port, see Community ID).
    pub sport: u16,
    /// Receiver port (ICMP: counterpart type or code).
    pub dport: u16,
    /// IANA protocol number of the transport.
    pub proto: u8,
    /// 4 or 6.
    pub ip_version: u8,
    /// Outer VLAN id, 0 if untagged.
    pub vlan: u16,
    /// IP-layer bytes per the IP header.
    pub ip_len: u32,
    /// Transport payload bytes per the headers.
    pub payload_len: u32,
    /// TCP flags (9 bits), 0 for non-TCP or when cut before the flags.
    pub tcp_flags: u16,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
    /// Fragment information, when the packet is an IP fragment.
    pub frag: Option<Frag>,
    /// Captured bytes of the transport payload.
    pub payload: &'a [u8],
    /// Ethernet source MAC.
    pub src_mac: Option<[u8; 6]>,
    /// Ethernet destination MAC.
    pub dst_mac: Option<[u8; 6]>,
    /// DSCP of the IPv4 TOS or IPv6 traffic class (upper six bits).
    pub dscp: u8,
    /// The tunnels the packet came out of, outermost first.
    pub layers: Layers,
}

/// An IP fragment's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frag {
    /// IPv4 identification or IPv6 fragment id.
    pub id: u32,
    /// Offset zero: this fragment carries the transport header.
    pub first: bool,
    /// More fragments follow.
    pub more: bool,
}

/// Why a frame did not become a flow packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Not an IP packet (ARP, LLDP, STP, ...).
    NotIp,
    /// The link header is cut.
    LinkTruncated,
    /// The IP header is invalid or cut.
    BadIpHeader,
    /// The TCP/UDP header is cut before the ports.
    TransportTruncated,
}

impl Skip {
    /// Counter name for malformed reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotIp => "not_ip",
            Skip::LinkTruncated => "link_truncated",
            Skip::BadIpHeader => "bad_ip_header",
            Skip::TransportTruncated => "transport_truncated",
        }
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

/// Decodes one frame with the default decapsulation (every tunnel on its
/// standard port). `wire_len` is the original length from the capture
/// header (used only when the IP header gives no usable length).
///
/// # Errors
/// The [`Skip`] reason when the frame yields no flow packet.
pub fn decode(link: LinkType, frame: &[u8], wire_len: u32) -> Result<Decoded<'_>, Skip> {
    decode_with(link, frame, wire_len, Decap::standard())
}

/// Decodes one frame, opening the tunnels `decap` names: the packet
/// returned is the innermost one, with the layers it came through.
///
/// # Errors
/// The [`Skip`] reason when the frame yields no flow packet.
// Inlined into the reader's loop, with `decode_ip`: the decoded packet is
// then built in place; returned by value it was copied twice, 8 % of the
// reader thread's instructions.
#[inline]
pub fn decode_with<'a>(
    link: LinkType,
    frame: &'a [u8],
    wire_len: u32,
    decap: &Decap,
) -> Result<Decoded<'a>, Skip> {
    let l2 = peel(link, frame).map_err(|e| match e {
        L2Error::NotIp => Skip::NotIp,
        L2Error::Truncated => Skip::LinkTruncated,
    })?;
    let mut d = decode_ip(frame, l2, wire_len)?;
    // The only branch untunnelled traffic pays: GRE, or UDP to a decap port.
    if decap.enabled && (d.proto == 47 || (d.proto == 17 && decap.any_port(d.sport, d.dport))) {
        layers::open(&mut d, frame, wire_len, decap, 0)?;
    }
    Ok(d)
}

/// The IP header at `l2.ip_offset` and the fixed transport fields.
#[inline(always)]
fn decode_ip(frame: &[u8], l2: L2, wire_len: u32) -> Result<Decoded<'_>, Skip> {
    let ip_bytes = frame.get(l2.ip_offset..).ok_or(Skip::LinkTruncated)?;
    let (ip, _ext_err) = LaxIpSlice::from_slice(ip_bytes).map_err(|_| Skip::BadIpHeader)?;
    let pl = ip.payload();
    let wire_ip_len = wire_len.saturating_sub(u32::try_from(l2.ip_offset).unwrap_or(u32::MAX));
    // Offset of the payload inside the IP bytes = IP header + extensions.
    let hdr_len = (pl.payload.as_ptr() as usize).saturating_sub(ip_bytes.as_ptr() as usize);
    let hdr_len = u32::try_from(hdr_len).unwrap_or(u32::MAX);
    let (ip_len, frag, dscp) = ip_fields(&ip, ip_bytes, pl.len_source, wire_ip_len);
    let ip_payload_len = ip_len.saturating_sub(hdr_len);
    let mut d = Decoded {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        sport: 0,
        dport: 0,
        proto: pl.ip_number.0,
        ip_version: l2.ip_version,
        vlan: l2.vlan,
        ip_len,
        payload_len: ip_payload_len,
        tcp_flags: 0,
        icmp: None,
        frag,
        payload: pl.payload,
        src_mac: l2.src_mac,
        dst_mac: l2.dst_mac,
        dscp,
        layers: Layers::default(),
    };
    if frag.is_some_and(|f| !f.first) {
        // A later fragment: all of it is transport payload, ports come from
        // the first fragment (see FragTracker).
        return Ok(d);
    }
    transport(&mut d, pl.payload, ip_payload_len)?;
    Ok(d)
}

/// Total IP length, fragment and DSCP of an IP header.
fn ip_fields(
    ip: &LaxIpSlice<'_>,
    ip_bytes: &[u8],
    len_source: LenSource,
    wire_ip_len: u32,
) -> (u32, Option<Frag>, u8) {
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let len = if len_source == LenSource::Slice {
                wire_ip_len
            } else {
                u32::from(h.total_len())
            };
            let frag = h.is_fragmenting_payload().then(|| Frag {
                id: u32::from(h.identification()),
                first: h.fragments_offset().value() == 0,
                more: h.more_fragments(),
            });
            (len, frag, h.dcp().value())
        }
        LaxIpSlice::Ipv6(v6) => {
            let plen = v6.header().payload_length();
            let len = if plen == 0 || len_source == LenSource::Slice {
                wire_ip_len
            } else {
                40 + u32::from(plen)
            };
            // Walked by hand: etherparse 0.21's extension iterator trusts
            // header lengths the lax parser did not check (out-of-bounds
            // get_unchecked on a cut destination-options header).
            let frag = ipv6_fragment(ip_bytes);
            (len, frag, v6.header().traffic_class() >> 2)
        }
    }
}

/// Ports, TCP flags, ICMP type and the payload after the transport header.
// Inlined too: called, it wrote the ports and flags by narrow stores that
// the wide copy of the decoded packet right after read back, a stalled
// load (store forwarding fails) on every packet.
#[inline(always)]
fn transport<'a>(d: &mut Decoded<'a>, body: &'a [u8], ip_payload_len: u32) -> Result<(), Skip> {
    match d.proto {
        6 | 17 | 132 => {
            let (sport, dport) = match (be16(body, 0), be16(body, 2)) {
                (Some(s), Some(p)) => (s, p),
                _ => return Err(Skip::TransportTruncated),
            };
            d.sport = sport;
            d.dport = dport;
            let th = match d.proto {
                6 => {
                    if let (Some(&off), Some(&flags)) = (body.get(12), body.get(13)) {
                        d.tcp_flags = u16::from(flags) | (u16::from(off & 1) << 8);
                    }
                    body.get(12).map_or(20, |&b| u32::from(b >> 4) * 4).max(20)
                }
                17 => 8,
                _ => 12,
            };
            d.payload_len = ip_payload_len.saturating_sub(th);
            d.payload = body.get(th as usize..).unwrap_or(&[]);
        }
        1 | 58 => {
            if let (Some(&t), Some(&c)) = (body.first(), body.get(1)) {
                let (s, p, _) = icmp_ports(t, c, d.proto == 58);
                d.sport = s;
                d.dport = p;
                d.icmp = Some((t, c));
            }
            d.payload_len = ip_payload_len.saturating_sub(8);
            d.payload = body.get(8..).unwrap_or(&[]);
        }
        _ => {}
    }
    Ok(())
}

/// (sender, receiver, protocol, fragment id).
type FragKey = (IpAddr, IpAddr, u8, u32);

/// The IPv6 fragment header, found by walking the extension-header chain
/// with bounds checks (hop-by-hop, routing, destination options, AH).
pub fn ipv6_fragment(ip: &[u8]) -> Option<Frag> {
    let mut next = *ip.get(6)?;
    let mut at = 40usize;
    for _ in 0..8 {
        match next {
            44 => {
                let h = ip.get(at..at + 8)?;
                let off_flags = u16::from_be_bytes([*h.get(2)?, *h.get(3)?]);
                let id = u32::from_be_bytes([*h.get(4)?, *h.get(5)?, *h.get(6)?, *h.get(7)?]);
                let offset = off_flags >> 3;
                let more = off_flags & 1 == 1;
                return (offset != 0 || more).then_some(Frag {
                    id,
                    first: offset == 0,
                    more,
                });
            }
            0 | 43 | 60 => {
                next = *ip.get(at)?;
                at = at.checked_add((usize::from(*ip.get(at + 1)?) + 1) * 8)?;
            }
            51 => {
                next = *ip.get(at)?;
                at = at.checked_add((usize::from(*ip.get(at + 1)?) + 2) * 4)?;
            }
            _ => return None,
        }
    }
    None
}

/// Remembers the ports of first fragments so later fragments join the flow.
///
/// Bounded: past `cap` entries the oldest half is dropped (counted by the
/// caller as untracked fragments when a later fragment finds nothing).
#[derive(Debug)]
pub struct FragTracker {
    map: HashMap<FragKey, (u16, u16, u64)>,
    cap: usize,
    tick: u64,
}

impl Default for FragTracker {
    fn default() -> Self {
        FragTracker {
            map: HashMap::new(),
            cap: 65_536,
            tick: 0,
        }
    }
}

impl FragTracker {
    /// Fills the ports of a fragment: records them from a first fragment,
    /// looks them up for a later one. Returns false when a later fragment's
    /// first fragment was not seen (it stays port-less).
    pub fn resolve(&mut self, d: &mut Decoded<'_>) -> bool {
        let Some(f) = d.frag else { return true };
        if !matches!(d.proto, 6 | 17 | 132) {
            return true;
        }
        self.tick += 1;
        let key = (d.src, d.dst, d.proto, f.id);
        if f.first {
            if self.map.len() >= self.cap {
                let cutoff = self.tick.saturating_sub(self.cap as u64 / 2);
                self.map.retain(|_, v| v.2 >= cutoff);
            }
            self.map.insert(key, (d.sport, d.dport, self.tick));
            return true;
        }
        match self.map.get(&key) {
            Some(&(s, p, _)) => {
                d.sport = s;
                d.dport = p;
                if !f.more {
                    self.map.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    /// Forgets everything (between input files).
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp4(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [52, 112, 0, 1], 64)
            .udp(50000, 3478);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn udp_over_ethernet() {
        let f = udp4(b"hello");
        let d = decode(LinkType::Ethernet, &f, f.len() as u32).unwrap();
        assert_eq!(
            (d.sport, d.dport, d.proto, d.ip_version),
            (50000, 3478, 17, 4)
        );
        assert_eq!((d.ip_len, d.payload_len), (20 + 8 + 5, 5));
        assert_eq!(d.payload, b"hello");
        assert_eq!(d.src_mac, Some([1; 6]));
    }

    #[test]
    fn tcp_flags_and_ipv6() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
            .tcp(443, 50000, 1, 1000)
            .syn()
            .ack(5);
        let mut f = Vec::new();
        b.write(&mut f, b"").unwrap();
        let d = decode(LinkType::Ethernet, &f, f.len() as u32).unwrap();
        assert_eq!(d.tcp_flags, 0x12);
        assert_eq!((d.ip_len, d.payload_len, d.ip_version), (60, 0, 6));
    }

    #[test]
    fn ethernet_padding_does_not_count_and_snaplen_cut_does() {
        let mut f = udp4(b"x");
        f.extend_from_slice(&[0; 20]); // padding up to the Ethernet minimum
        let d = decode(LinkType::Ethernet, &f, f.len() as u32).unwrap();
        assert_eq!(d.ip_len, 29);
        // Cut by the snap length: bytes still from the IP header.
        let f = udp4(&[7; 1000]);
        let d = decode(LinkType::Ethernet, &f[..60], f.len() as u32).unwrap();
        assert_eq!(
            (d.ip_len, d.payload_len, d.payload.len()),
            (1028, 1000, 60 - 42)
        );
    }

    #[test]
    fn cut_at_every_offset_never_panics() {
        let f = udp4(b"payload bytes");
        for cut in 0..f.len() {
            let r = decode(LinkType::Ethernet, &f[..cut], f.len() as u32);
            if cut < 14 {
                assert_eq!(r.err(), Some(Skip::LinkTruncated));
            } else if cut < 34 {
                assert!(r.is_err(), "cut {cut}");
            } else if cut >= 38 {
                assert!(r.is_ok(), "cut {cut}");
            }
        }
    }

    #[test]
    fn fragments_take_ports_from_the_first() {
        // Hand-built IPv4 fragments of one UDP datagram.
        let mk = |off_words: u16, more: bool, body: &[u8]| {
            let mut ip = vec![
                0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ];
            let tl = (20 + body.len()) as u16;
            ip[2..4].copy_from_slice(&tl.to_be_bytes());
            let fo = off_words | if more { 0x2000 } else { 0 };
            ip[6..8].copy_from_slice(&fo.to_be_bytes());
            ip.extend_from_slice(body);
            ip
        };
        let mut first_body = vec![0x13, 0x88, 0x00, 0x35, 0, 0, 0, 0];
        first_body.extend_from_slice(&[1; 16]);
        let first = mk(0, true, &first_body);
        let second = mk(3, false, &[2; 10]);
        let mut t = FragTracker::default();
        let mut d1 = decode(LinkType::Raw, &first, first.len() as u32).unwrap();
        assert!(t.resolve(&mut d1));
        assert_eq!((d1.sport, d1.dport, d1.payload_len), (5000, 53, 16));
        let mut d2 = decode(LinkType::Raw, &second, second.len() as u32).unwrap();
        assert_eq!((d2.sport, d2.dport), (0, 0));
        assert!(t.resolve(&mut d2));
        assert_eq!((d2.sport, d2.dport, d2.payload_len), (5000, 53, 10));
        // The last fragment removed the entry: a stray repeat is untracked.
        let mut d3 = decode(LinkType::Raw, &second, second.len() as u32).unwrap();
        assert!(!t.resolve(&mut d3));
    }

    #[test]
    fn ipv6_fragment_walk_is_bounded() {
        // Fuzz finding: a destination-options header cut short made
        // etherparse's iterator read out of bounds; the walk just stops.
        let cut = [0x60u8, 0, 0, 0, 0, 8, 60, 64]
            .iter()
            .copied()
            .chain([0u8; 32])
            .chain([44u8, 5])
            .collect::<Vec<_>>();
        assert_eq!(ipv6_fragment(&cut), None);
        // Hop-by-hop (8 bytes), then a first fragment with more to come.
        let mut p = vec![0x60, 0, 0, 0, 0, 24, 0, 64];
        p.extend([0u8; 32]);
        p.extend([44, 0, 0, 0, 0, 0, 0, 0]);
        p.extend([17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(
            ipv6_fragment(&p),
            Some(Frag {
                id: 0xdead_beef,
                first: true,
                more: true
            })
        );
        for n in 0..p.len() {
            assert_eq!(ipv6_fragment(&p[..n]), None);
        }
    }

    #[test]
    fn icmp_echo_pairs_share_ports() {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).icmpv4_echo_request(1, 1);
        let mut f = Vec::new();
        b.write(&mut f, b"ping").unwrap();
        let d = decode(LinkType::Raw, &f, f.len() as u32).unwrap();
        assert_eq!(
            (d.icmp, d.sport, d.dport, d.payload_len),
            (Some((8, 0)), 8, 0, 4)
        );
    }

    #[test]
    fn garbage_is_skipped() {
        assert_eq!(
            decode(LinkType::Raw, &[0x45, 0, 0], 3).err(),
            Some(Skip::BadIpHeader)
        );
        assert_eq!(decode(LinkType::Raw, &[0x12], 1).err(), Some(Skip::NotIp));
        let mut f = udp4(b"");
        f.truncate(14 + 20 + 2);
        assert_eq!(
            decode(LinkType::Ethernet, &f, 60).err(),
            Some(Skip::TransportTruncated)
        );
    }
}

#[cfg(test)]
mod esp6 {
    use super::*;
    use etherparse::{IpNumber, PacketBuilder};

    /// ESP directly after the IPv6 header: protocol 50 with its SPI and
    /// sequence number as the payload (etherparse counts 50 among IPv6's
    /// extension headers, which it cannot walk).
    #[test]
    fn esp_over_ipv6_is_protocol_50_with_its_payload() {
        let mut f = Vec::new();
        let esp = [0, 0, 0x10, 0, 0, 0, 0, 1, 9, 9, 9, 9];
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([0x20; 16], [0x30; 16], 64)
            .write(&mut f, IpNumber(50), &esp)
            .unwrap();
        let d = decode(LinkType::Ethernet, &f, f.len() as u32).unwrap();
        assert_eq!((d.proto, d.payload, d.payload_len), (50, &esp[..], 12));
    }
}

#[cfg(test)]
mod decap_test {
    use super::*;
    use pathlens_benches::frame::{udp_frame, Eth};
    use pathlens_benches::tunnel::{vxlan, wrap, Wrap};
    use std::net::SocketAddr;

    fn ep(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Mirrored ARP is no flow packet; a datagram to 4789 that only looks
    /// like VXLAN stays the outer packet, counted, never lost.
    #[test]
    fn non_ip_inside_vxlan() {
        let mut arp = vec![0xff; 6];
        arp.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend([0; 28]);
        let f = wrap(Wrap::Vxlan(7, 4789), &arp, 0);
        assert_eq!(
            decode(LinkType::Ethernet, &f, f.len() as u32).err(),
            Some(Skip::NotIp)
        );
        let mut fake = vxlan(1);
        fake.extend([0x45; 40]);
        let eth = Eth::new([2; 6], [3; 6]);
        let f = udp_frame(eth, ep("10.0.0.1:53"), ep("10.0.0.2:4789"), &fake);
        let d = decode(LinkType::Ethernet, &f, f.len() as u32).unwrap();
        assert_eq!(
            (d.dport, d.layers.undecodable, d.layers.chain.0),
            (4789, true, 0)
        );
        // Switched off, nothing is looked at.
        let d = decode_with(LinkType::Ethernet, &f, f.len() as u32, &Decap::off()).unwrap();
        assert!(!d.layers.undecodable);
    }

    fn unhex(lines: &[&str]) -> Vec<u8> {
        let hex = lines.concat();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Fuzz finding (`decode` target, its check out of date, the decoder
    /// right): GTP-U in IPv4 behind two VLAN tags, carrying IPv6. The packet
    /// is the inner IPv6 one, with the outer frame's MACs and VLAN (GTP-U
    /// carries bare IP), though the outer IPv4 and UDP lengths overrun the
    /// frame.
    #[test]
    fn ipv6_in_gtpu_in_tagged_ipv4_is_the_inner_packet() {
        let f = unhex(&[
            "0000000000000001020000fa81006cab8100600a080045680104880200004011",
            "d9b03d7408390aeefa330868086800f014b833ff00e00e2c1dc7450000e06b91",
            "bfffbf1bff330868086800f014b833ff00e00e2c1dc7450000e06b91bfffbf1b",
            "ffffe3ffe30d9d00f00500",
        ]);
        let d = decode(LinkType::Ethernet, &f, f.len() as u32).unwrap();
        assert_eq!((d.ip_version, d.vlan), (6, 3243));
        assert_eq!(d.layers.chain.name().as_deref(), Some("gtpu"));
        assert_eq!(d.layers.id, Some(0x0e2c_1dc7));
        assert_eq!(d.src_mac, Some([0, 1, 2, 0, 0, 0xfa]));
        assert!(d.src.is_ipv6() && d.dst.is_ipv6());
        let (f0, p0) = (f.as_ptr() as usize, d.payload.as_ptr() as usize);
        assert!(p0 >= f0 + 14 + 8 + 20 + 8 + 12 + 40 && p0 + d.payload.len() <= f0 + f.len());
        // Not opened, it is the outer IPv4 datagram to 2152.
        let o = decode_with(LinkType::Ethernet, &f, f.len() as u32, &Decap::off()).unwrap();
        assert_eq!((o.ip_version, o.vlan, o.dport), (4, 3243, 2152));
    }
    /// Fuzz finding (`decode` target, its check out of date, the decoder
    /// right): VXLAN in an IPv6 atomic fragment, carrying an 802.3 frame
    /// (length field 0, LLC). What was mirrored is no IP packet: `NotIp`,
    /// while the outer datagram to 4789 decodes when nothing is opened.
    #[test]
    fn an_802_3_frame_in_vxlan_is_not_ip() {
        let f = unhex(&[
            "6002b8fc004a2c6b2a00145040130c03000000000000030000010470765b0000",
            "000000000a2500531100000000140100340012b561344deaeaea9f0003000000",
            "000000030000010470765b0000000000000a2500531100000000140100340012",
            "b561344deaeaea9f00eaeaeaeaeaeaeaeaeaeaeaeaeaeaeaeaeaeaeaeaeaeaea",
            "eaeaeaeaeaeaeaeaeaeaeaeaeaeaea",
        ]);
        assert_eq!(
            decode(LinkType::Ipv6, &f, f.len() as u32).err(),
            Some(Skip::NotIp)
        );
        let o = decode_with(LinkType::Ipv6, &f, f.len() as u32, &Decap::off()).unwrap();
        assert_eq!((o.proto, o.dport), (17, 4789));
    }
}
