//! Ethernet frames around a payload (IPv4 or IPv6, then UDP, TCP or ICMP
//! echo), checksums included, for the tests' capture generators. Every frame
//! has TTL (hop limit) [`TTL`].

use etherparse::{IpHeaders, PacketBuilder, PacketBuilderStep, VlanId};
use std::net::{IpAddr, SocketAddr};

/// TTL or hop limit of every frame built here.
pub const TTL: u8 = 64;

/// TCP flag FIN.
pub const FIN: u8 = 0x01;
/// TCP flag SYN.
pub const SYN: u8 = 0x02;
/// TCP flag RST.
pub const RST: u8 = 0x04;
/// TCP flag PSH.
pub const PSH: u8 = 0x08;
/// TCP flag ACK.
pub const ACK: u8 = 0x10;

/// The Ethernet II addresses of a frame, and its 802.1Q VLAN when tagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eth {
    /// Source MAC.
    pub src: [u8; 6],
    /// Destination MAC.
    pub dst: [u8; 6],
    /// VLAN id of a single 802.1Q tag.
    pub vlan: Option<u16>,
}

impl Eth {
    /// An untagged frame from `src` to `dst`.
    pub const fn new(src: [u8; 6], dst: [u8; 6]) -> Self {
        Eth {
            src,
            dst,
            vlan: None,
        }
    }

    /// The same addresses, tagged with `vlan` when it is `Some`.
    pub const fn vlan(self, vlan: Option<u16>) -> Self {
        Eth { vlan, ..self }
    }
}

/// The TCP header fields of a segment besides its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number, written only with [`ACK`].
    pub ack: u32,
    /// Flags: [`FIN`], [`SYN`], [`RST`], [`PSH`], [`ACK`].
    pub flags: u8,
    /// Receive window.
    pub window: u16,
}

/// Ethernet (and VLAN tag) then the IP header from `src` to `dst`.
///
/// # Panics
/// The addresses are of different families, or the VLAN id exceeds 12 bits.
pub fn ip_headers(eth: Eth, src: IpAddr, dst: IpAddr) -> PacketBuilderStep<IpHeaders> {
    let step = PacketBuilder::ethernet2(eth.src, eth.dst);
    match (src, dst, eth.vlan) {
        (IpAddr::V4(a), IpAddr::V4(b), None) => step.ipv4(a.octets(), b.octets(), TTL),
        (IpAddr::V6(a), IpAddr::V6(b), None) => step.ipv6(a.octets(), b.octets(), TTL),
        (a, b, Some(v)) => {
            let tagged = match VlanId::try_new(v) {
                Ok(id) => step.single_vlan(id),
                Err(e) => panic!("VLAN {v}: {e}"),
            };
            match (a, b) {
                (IpAddr::V4(a), IpAddr::V4(b)) => tagged.ipv4(a.octets(), b.octets(), TTL),
                (IpAddr::V6(a), IpAddr::V6(b)) => tagged.ipv6(a.octets(), b.octets(), TTL),
                _ => panic!("mixed address families: {a} and {b}"),
            }
        }
        (a, b, None) => panic!("mixed address families: {a} and {b}"),
    }
}

fn written(r: Result<(), etherparse::err::packet::BuildWriteError>, frame: Vec<u8>) -> Vec<u8> {
    match r {
        Ok(()) => frame,
        Err(e) => panic!("building a frame: {e}"),
    }
}

/// A UDP datagram from `src` to `dst`.
///
/// # Panics
/// As [`ip_headers`], or the payload does not fit in one IP packet.
pub fn udp_frame(
    eth: Eth,
    src: impl Into<SocketAddr>,
    dst: impl Into<SocketAddr>,
    payload: &[u8],
) -> Vec<u8> {
    let (s, d) = (src.into(), dst.into());
    let mut f = Vec::with_capacity(62 + payload.len());
    let r = ip_headers(eth, s.ip(), d.ip())
        .udp(s.port(), d.port())
        .write(&mut f, payload);
    written(r, f)
}

/// A TCP segment from `src` to `dst`.
///
/// # Panics
/// As [`udp_frame`].
pub fn tcp_frame(
    eth: Eth,
    src: impl Into<SocketAddr>,
    dst: impl Into<SocketAddr>,
    tcp: Tcp,
    payload: &[u8],
) -> Vec<u8> {
    let (s, d) = (src.into(), dst.into());
    let mut b = ip_headers(eth, s.ip(), d.ip()).tcp(s.port(), d.port(), tcp.seq, tcp.window);
    if tcp.flags & SYN != 0 {
        b = b.syn();
    }
    if tcp.flags & ACK != 0 {
        b = b.ack(tcp.ack);
    }
    if tcp.flags & FIN != 0 {
        b = b.fin();
    }
    if tcp.flags & RST != 0 {
        b = b.rst();
    }
    if tcp.flags & PSH != 0 {
        b = b.psh();
    }
    let mut f = Vec::with_capacity(74 + payload.len());
    let r = b.write(&mut f, payload);
    written(r, f)
}

/// An ICMPv4 echo request (or reply) with identifier `id` and sequence
/// number `seq`.
///
/// # Panics
/// As [`udp_frame`].
pub fn icmp_echo_frame(
    eth: Eth,
    src: IpAddr,
    dst: IpAddr,
    request: bool,
    (id, seq): (u16, u16),
    payload: &[u8],
) -> Vec<u8> {
    let ip = ip_headers(eth, src, dst);
    let b = if request {
        ip.icmpv4_echo_request(id, seq)
    } else {
        ip.icmpv4_echo_reply(id, seq)
    };
    let mut f = Vec::with_capacity(42 + payload.len());
    let r = b.write(&mut f, payload);
    written(r, f)
}

/// Writes `dscp` into the IP header of an Ethernet `frame` built here
/// (IPv4 TOS with its header checksum recomputed, or the IPv6 traffic
/// class), after the VLAN tag when there is one. Frames too short are left
/// as they are.
pub fn set_dscp(frame: &mut [u8], dscp: u8) {
    let ip = if frame.get(12..14) == Some(&[0x81, 0x00]) {
        18
    } else {
        14
    };
    let Some(&v) = frame.get(ip) else {
        return;
    };
    match v >> 4 {
        4 => {
            let ihl = usize::from(v & 0x0f) * 4;
            if frame.len() < ip + ihl {
                return;
            }
            frame[ip + 1] = (dscp << 2) | (frame[ip + 1] & 0x03);
            frame[ip + 10] = 0;
            frame[ip + 11] = 0;
            let sum = frame[ip..ip + ihl]
                .chunks(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                .sum::<u32>();
            let sum = (sum & 0xffff) + (sum >> 16);
            let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
            frame[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
        }
        6 if frame.len() >= ip + 2 => {
            let tc = dscp << 2;
            frame[ip] = 0x60 | (tc >> 4);
            frame[ip + 1] = (tc << 4) | (frame[ip + 1] & 0x0f);
        }
        _ => {}
    }
}
