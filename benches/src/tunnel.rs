//! Tunnel and mirror headers around an Ethernet frame built by [`frame`]:
//! GRE (RFC 2784/2890), ERSPAN types I, II and III, VXLAN, GENEVE,
//! GRE-in-UDP, GTP-U, Teredo and AYIYA, each inside an outer Ethernet + IPv4
//! frame between two fixed tunnel endpoints.
//!
//! [`frame`]: crate::frame

use crate::frame::{ip_headers, udp_frame, Eth};
use etherparse::IpNumber;
use std::net::{IpAddr, Ipv4Addr};

/// The outer tunnel endpoints: a mirror source and the sensor.
pub const OUTER_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The sensor's address.
pub const OUTER_DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The outer frame's addresses (the sensor's NIC, not the mirrored path).
pub const OUTER_ETH: Eth = Eth::new([2, 0xee, 0, 0, 0, 1], [2, 0xee, 0, 0, 0, 2]);

/// How an inner frame is wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrap {
    /// GRE carrying the bare IP packet, with an optional key, and a sequence
    /// number and checksum when `full`.
    Gre {
        /// The key.
        key: Option<u32>,
        /// Checksum and sequence number present too.
        full: bool,
    },
    /// GRE transparent Ethernet bridging (0x6558).
    GreEth,
    /// ERSPAN type I (GRE 0x88BE, no sequence number, no header).
    Erspan1,
    /// ERSPAN type II with this session id and VLAN field.
    Erspan2(u16, u16),
    /// ERSPAN type III with this session id; `ip` sends frame type 2 (the
    /// bare IP packet), `sub` adds the platform-specific subheader.
    Erspan3 {
        /// Session id.
        session: u16,
        /// Frame type 2 (IP) instead of 0 (Ethernet).
        ip: bool,
        /// The 8-byte platform-specific subheader.
        sub: bool,
    },
    /// VXLAN with this VNI on this UDP port.
    Vxlan(u32, u16),
    /// GENEVE with this VNI and a 8-byte option.
    Geneve(u32),
    /// GRE-in-UDP (UDP 4754) carrying the IP packet.
    GreUdp,
    /// GTP-U G-PDU with this TEID; `ext` adds a PDU session container.
    Gtpu(u32, bool),
    /// Teredo with an origin indicator (the inner packet must be IPv6).
    Teredo,
    /// AYIYA Forward (UDP 5072) as AICCU sends it: the IP packet behind a
    /// 16-byte identity and a 20-byte signature.
    Ayiya,
}

/// The IP packet inside an Ethernet frame built by [`crate::frame`]
/// (after its 802.1Q tag when there is one), with its Ethernet type.
///
/// # Panics
/// The frame is shorter than its Ethernet header.
pub fn ip_of(frame: &[u8]) -> (u16, &[u8]) {
    let mut at = 12;
    let mut et = u16::from_be_bytes([frame[at], frame[at + 1]]);
    while et == 0x8100 {
        at += 4;
        et = u16::from_be_bytes([frame[at], frame[at + 1]]);
    }
    (et, &frame[at + 2..])
}

fn ones_complement(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A GRE header and its payload: protocol, optional key, optional sequence
/// number, and the checksum over both when `csum`.
pub fn gre(proto: u16, key: Option<u32>, seq: Option<u32>, csum: bool, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u16;
    if csum {
        flags |= 0x8000;
    }
    if key.is_some() {
        flags |= 0x2000;
    }
    if seq.is_some() {
        flags |= 0x1000;
    }
    let mut g = flags.to_be_bytes().to_vec();
    g.extend(proto.to_be_bytes());
    if csum {
        g.extend([0; 4]);
    }
    if let Some(k) = key {
        g.extend(k.to_be_bytes());
    }
    if let Some(s) = seq {
        g.extend(s.to_be_bytes());
    }
    g.extend_from_slice(payload);
    if csum {
        let c = ones_complement(&g);
        g[4..6].copy_from_slice(&c.to_be_bytes());
    }
    g
}

/// The ERSPAN type II header: version 1, VLAN, session id, index.
pub fn erspan2(session: u16, vlan: u16, index: u32) -> Vec<u8> {
    let mut h = (0x1000 | (vlan & 0x0fff)).to_be_bytes().to_vec();
    h.extend((session & 0x03ff).to_be_bytes());
    h.extend((index & 0x000f_ffff).to_be_bytes());
    h
}

/// The ERSPAN type III header: version 2, session id, a timestamp, frame
/// type 0 or 2, and the 8-byte platform-specific subheader when `sub`.
pub fn erspan3(session: u16, timestamp: u32, ip: bool, sub: bool) -> Vec<u8> {
    let mut h = 0x2000u16.to_be_bytes().to_vec();
    h.extend((session & 0x03ff).to_be_bytes());
    h.extend(timestamp.to_be_bytes());
    h.extend([0, 0]); // SGT
    let last: u16 = (if ip { 2 << 10 } else { 0 }) | u16::from(sub);
    h.extend(last.to_be_bytes());
    if sub {
        // Platform id 3: upper timestamp word and the port id.
        h.extend([0x0c, 0, 0, 0, 0, 0, 0, 1]);
    }
    h
}

/// The VXLAN header with the I flag and `vni`.
pub fn vxlan(vni: u32) -> Vec<u8> {
    let mut h = vec![0x08, 0, 0, 0];
    h.extend((vni << 8).to_be_bytes());
    h
}

/// A GENEVE header, version 0, with one 8-byte option (class 0x0103 as
/// cloud gateways send), protocol `proto` and `vni`.
pub fn geneve(vni: u32, proto: u16) -> Vec<u8> {
    let mut h = vec![0x02, 0];
    h.extend(proto.to_be_bytes());
    h.extend((vni << 8).to_be_bytes());
    h.extend([0x01, 0x03, 0x80, 0x01, 0, 0, 0, 42]);
    h
}

/// A GTP-U G-PDU header for a `len`-byte packet: TEID, and when `ext` a
/// sequence number and a PDU session container extension header.
pub fn gtpu(teid: u32, len: usize, ext: bool) -> Vec<u8> {
    let extra = if ext { 8 } else { 0 };
    let mut h = vec![if ext { 0x34 } else { 0x30 }, 0xff];
    h.extend(u16::try_from(len + extra).unwrap_or(u16::MAX).to_be_bytes());
    h.extend(teid.to_be_bytes());
    if ext {
        h.extend([0, 1, 0, 0x85, 1, 0x10, 0x09, 0x00]);
    }
    h
}

/// The Teredo origin indicator (port and address obfuscated by XOR).
pub fn teredo_origin(port: u16, addr: Ipv4Addr) -> Vec<u8> {
    let mut h = vec![0, 0];
    h.extend((port ^ 0xffff).to_be_bytes());
    h.extend((u32::from(addr) ^ 0xffff_ffff).to_be_bytes());
    h
}

/// The AYIYA header of a Forward operation carrying next header `next`
/// (41 or 4): identity type integer, 16 bytes (2^4); SHA-1 hash, 20-byte
/// signature (5 words); shared-secret authentication; an epoch.
pub fn ayiya(next: u8, epoch: u32) -> Vec<u8> {
    let mut h = vec![0x41, 0x52, 0x11, next];
    h.extend(epoch.to_be_bytes());
    h.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h.extend([0x5a; 20]);
    h
}

fn outer_ip(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    let b = ip_headers(OUTER_ETH, IpAddr::V4(OUTER_SRC), IpAddr::V4(OUTER_DST));
    match b.write(&mut f, IpNumber(proto), payload) {
        Ok(()) => f,
        Err(e) => panic!("building a tunnel frame: {e}"),
    }
}

fn outer_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    udp_frame(
        OUTER_ETH,
        (IpAddr::V4(OUTER_SRC), sport),
        (IpAddr::V4(OUTER_DST), dport),
        payload,
    )
}

/// `inner` (an Ethernet frame) wrapped as `how`, in an outer Ethernet and
/// IPv4 frame. `n` is the packet's index (GRE and ERSPAN sequence numbers).
///
/// # Panics
/// Teredo around a frame that is not IPv6; AYIYA around one that is not IP.
pub fn wrap(how: Wrap, inner: &[u8], n: u32) -> Vec<u8> {
    let (et, ip) = ip_of(inner);
    let cat = |h: Vec<u8>, body: &[u8]| {
        let mut v = h;
        v.extend_from_slice(body);
        v
    };
    match how {
        Wrap::Gre { key, full } => outer_ip(47, &gre(et, key, full.then_some(n), full, ip)),
        Wrap::GreEth => outer_ip(47, &gre(0x6558, None, None, false, inner)),
        Wrap::Erspan1 => outer_ip(47, &gre(0x88be, None, None, false, inner)),
        Wrap::Erspan2(session, vlan) => {
            let body = cat(erspan2(session, vlan, 7), inner);
            outer_ip(47, &gre(0x88be, None, Some(n), false, &body))
        }
        Wrap::Erspan3 {
            session,
            ip: bare,
            sub,
        } => {
            let body = cat(
                erspan3(session, n, bare, sub),
                if bare { ip } else { inner },
            );
            outer_ip(47, &gre(0x22eb, None, Some(n), false, &body))
        }
        Wrap::Vxlan(vni, port) => outer_udp(49_152, port, &cat(vxlan(vni), inner)),
        Wrap::Geneve(vni) => outer_udp(50_000, 6081, &cat(geneve(vni, 0x6558), inner)),
        Wrap::GreUdp => outer_udp(50_001, 4754, &gre(et, None, None, false, ip)),
        Wrap::Gtpu(teid, ext) => outer_udp(2152, 2152, &cat(gtpu(teid, ip.len(), ext), ip)),
        Wrap::Teredo => {
            assert_eq!(et, 0x86dd, "Teredo carries IPv6");
            let h = teredo_origin(40_000, Ipv4Addr::new(198, 51, 100, 7));
            outer_udp(3544, 40_000, &cat(h, ip))
        }
        Wrap::Ayiya => {
            let next = match et {
                0x86dd => 41,
                0x0800 => 4,
                _ => panic!("AYIYA carries IP, not {et:#06x}"),
            };
            outer_udp(50_002, 5072, &cat(ayiya(next, 1_793_900_000 + n), ip))
        }
    }
}
