//! Tunnel and mirror headers: from the bytes after an outer header to the
//! frame or packet they carry. Each parser is a pure function over a byte
//! slice that returns what it found and where the inner bytes start, or
//! `None` when the header is cut or not the kind it claims to be (the caller
//! then keeps the outer packet and counts it as undecodable).
//!
//! GRE (RFC 2784, RFC 2890 key and sequence number), ERSPAN types I, II and
//! III (in GRE, protocol 0x88BE or 0x22EB), VXLAN (RFC 7348), GENEVE
//! (RFC 8926), GRE-in-UDP (RFC 8086), GTP-U (3GPP TS 29.281, G-PDU with
//! extension headers), Teredo (RFC 4380, with its origin and
//! authentication indicators) and AYIYA (draft-massar-v6ops-ayiya, IPv6 or
//! IPv4 behind an identity and a signature).

/// A tunnel or mirror encapsulation, as the `encapsulation` column names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encap {
    /// Plain GRE (IPv4, IPv6, transparent Ethernet bridging, MPLS).
    Gre,
    /// ERSPAN type I: GRE 0x88BE without a sequence number, no header.
    Erspan1,
    /// ERSPAN type II: GRE 0x88BE, 8-byte header.
    Erspan2,
    /// ERSPAN type III: GRE 0x22EB, 12-byte header (+8 platform-specific).
    Erspan3,
    /// VXLAN.
    Vxlan,
    /// GENEVE.
    Geneve,
    /// GRE in UDP.
    GreUdp,
    /// GTP-U.
    Gtpu,
    /// Teredo.
    Teredo,
    /// AYIYA (Anything In Anything).
    Ayiya,
}

impl Encap {
    /// Every kind, in the order of their codes (1 up).
    pub const ALL: [Encap; 10] = [
        Encap::Gre,
        Encap::Erspan1,
        Encap::Erspan2,
        Encap::Erspan3,
        Encap::Vxlan,
        Encap::Geneve,
        Encap::GreUdp,
        Encap::Gtpu,
        Encap::Teredo,
        Encap::Ayiya,
    ];

    /// A 4-bit code, never 0.
    pub fn code(self) -> u16 {
        Encap::ALL
            .iter()
            .position(|&e| e == self)
            .map_or(0, |i| i as u16 + 1)
    }

    /// The kind of a code.
    pub fn from_code(code: u16) -> Option<Encap> {
        Encap::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Encap::Gre => "gre",
            Encap::Erspan1 => "erspan1",
            Encap::Erspan2 => "erspan2",
            Encap::Erspan3 => "erspan3",
            Encap::Vxlan => "vxlan",
            Encap::Geneve => "geneve",
            Encap::GreUdp => "gre_udp",
            Encap::Gtpu => "gtpu",
            Encap::Teredo => "teredo",
            Encap::Ayiya => "ayiya",
        }
    }

    /// Whether the tunnel id names a network or a mirror session, the same
    /// both ways, and so belongs in the flow key. GTP TEIDs differ per
    /// direction (the receiver allocates them), and GRE keys may: those are
    /// reported but keep both directions in one flow.
    pub fn id_in_key(self) -> bool {
        matches!(
            self,
            Encap::Vxlan | Encap::Geneve | Encap::Erspan2 | Encap::Erspan3
        )
    }
}

/// What a tunnel carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inner {
    /// An Ethernet frame.
    Ethernet,
    /// An IP packet, version from its first nibble.
    Ip,
    /// A payload starting with this Ethernet type (MPLS, or IP by type).
    EtherType(u16),
}

/// One opened tunnel header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnel {
    /// Which encapsulation.
    pub encap: Encap,
    /// Session id, VNI, GRE key or TEID, when the header has one.
    pub id: Option<u32>,
    /// What follows.
    pub inner: Inner,
    /// Offset of the inner bytes in the slice given to the parser.
    pub offset: usize,
    /// VLAN of the mirrored frame as ERSPAN reports it (0: none).
    pub vlan: u16,
}

/// The UDP tunnels, chosen by port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpTunnel {
    /// VXLAN (4789; 8472 on Linux's old default).
    Vxlan,
    /// GENEVE (6081).
    Geneve,
    /// GRE in UDP (4754).
    GreUdp,
    /// GTP-U (2152).
    Gtpu,
    /// Teredo (3544).
    Teredo,
    /// AYIYA (5072).
    Ayiya,
}

impl UdpTunnel {
    /// Parses a flag name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "vxlan" => UdpTunnel::Vxlan,
            "geneve" => UdpTunnel::Geneve,
            "gre_udp" | "gre-udp" | "greudp" => UdpTunnel::GreUdp,
            "gtpu" | "gtp-u" | "gtp" => UdpTunnel::Gtpu,
            "teredo" => UdpTunnel::Teredo,
            "ayiya" => UdpTunnel::Ayiya,
            _ => return None,
        })
    }

    /// Opens the header of this tunnel at the start of a UDP payload.
    pub fn parse(self, b: &[u8]) -> Option<Tunnel> {
        match self {
            UdpTunnel::Vxlan => vxlan(b),
            UdpTunnel::Geneve => geneve(b),
            UdpTunnel::GreUdp => gre(b).map(|t| match t.encap {
                Encap::Gre => Tunnel {
                    encap: Encap::GreUdp,
                    ..t
                },
                _ => t,
            }),
            UdpTunnel::Gtpu => gtpu(b),
            UdpTunnel::Teredo => teredo(b),
            UdpTunnel::Ayiya => ayiya(b),
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

#[inline]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => Some(u32::from_be_bytes([w, x, y, z])),
        _ => None,
    }
}

const GRE_C: u16 = 0x8000;
const GRE_K: u16 = 0x2000;
const GRE_S: u16 = 0x1000;
const ERSPAN_2: u16 = 0x88be;
const ERSPAN_3: u16 = 0x22eb;
const TEB: u16 = 0x6558;

/// GRE version 0 (RFC 2784 with RFC 2890's key and sequence number), and
/// ERSPAN behind it. Version 1 (PPTP's enhanced GRE) and the deprecated
/// routing field (RFC 1701's R bit) are not opened.
pub fn gre(b: &[u8]) -> Option<Tunnel> {
    let flags = be16(b, 0)?;
    let proto = be16(b, 2)?;
    // Version 0, and none of RFC 1701's routing or strict-route bits.
    if flags & 0x0007 != 0 || flags & 0x4800 != 0 {
        return None;
    }
    let mut at = 4;
    if flags & GRE_C != 0 {
        at += 4;
    }
    let key = if flags & GRE_K != 0 {
        let k = be32(b, at)?;
        at += 4;
        Some(k)
    } else {
        None
    };
    let seq = flags & GRE_S != 0;
    if seq {
        at += 4;
    }
    if b.len() < at {
        return None;
    }
    let plain = |inner| {
        Some(Tunnel {
            encap: Encap::Gre,
            id: key,
            inner,
            offset: at,
            vlan: 0,
        })
    };
    match proto {
        TEB => plain(Inner::Ethernet),
        // ERSPAN type I has no sequence number and no header of its own.
        ERSPAN_2 if !seq => Some(Tunnel {
            encap: Encap::Erspan1,
            id: None,
            inner: Inner::Ethernet,
            offset: at,
            vlan: 0,
        }),
        ERSPAN_2 => erspan2(b.get(at..)?).map(|t| Tunnel {
            offset: t.offset + at,
            ..t
        }),
        ERSPAN_3 => erspan3(b.get(at..)?).map(|t| Tunnel {
            offset: t.offset + at,
            ..t
        }),
        0x0800 | 0x86dd | 0x8847 | 0x8848 => plain(Inner::EtherType(proto)),
        _ => None,
    }
}

/// The ERSPAN type II header (8 bytes): version 1, VLAN, session id, then
/// the mirrored Ethernet frame.
pub fn erspan2(b: &[u8]) -> Option<Tunnel> {
    let w0 = be16(b, 0)?;
    let w1 = be16(b, 2)?;
    if w0 >> 12 != 1 || b.len() < 8 {
        return None;
    }
    Some(Tunnel {
        encap: Encap::Erspan2,
        id: Some(u32::from(w1 & 0x03ff)),
        inner: Inner::Ethernet,
        offset: 8,
        vlan: w0 & 0x0fff,
    })
}

/// The ERSPAN type III header (12 bytes, and 8 more when its O bit says a
/// platform-specific subheader follows): version 2, VLAN, session id,
/// timestamp, SGT, then an Ethernet frame (frame type 0) or an IP packet
/// (frame type 2).
pub fn erspan3(b: &[u8]) -> Option<Tunnel> {
    let w0 = be16(b, 0)?;
    let w1 = be16(b, 2)?;
    let last = be16(b, 10)?;
    if w0 >> 12 != 2 {
        return None;
    }
    let offset = if last & 1 != 0 { 20 } else { 12 };
    if b.len() < offset {
        return None;
    }
    let inner = match (last >> 10) & 0x1f {
        0 => Inner::Ethernet,
        2 => Inner::Ip,
        _ => return None,
    };
    Some(Tunnel {
        encap: Encap::Erspan3,
        id: Some(u32::from(w1 & 0x03ff)),
        inner,
        offset,
        vlan: w0 & 0x0fff,
    })
}

/// The VXLAN header (8 bytes): the I flag must be set; the VNI, then an
/// Ethernet frame.
pub fn vxlan(b: &[u8]) -> Option<Tunnel> {
    let flags = *b.first()?;
    let vni = be32(b, 4)? >> 8;
    (flags & 0x08 != 0).then_some(Tunnel {
        encap: Encap::Vxlan,
        id: Some(vni),
        inner: Inner::Ethernet,
        offset: 8,
        vlan: 0,
    })
}

/// The GENEVE header: version 0, options (length in 4-byte words), the
/// protocol type (Ethernet, IPv4 or IPv6) and the VNI.
pub fn geneve(b: &[u8]) -> Option<Tunnel> {
    let v = *b.first()?;
    if v >> 6 != 0 {
        return None;
    }
    let proto = be16(b, 2)?;
    let vni = be32(b, 4)? >> 8;
    let offset = 8 + usize::from(v & 0x3f) * 4;
    if b.len() < offset {
        return None;
    }
    let inner = match proto {
        TEB => Inner::Ethernet,
        0x0800 | 0x86dd => Inner::EtherType(proto),
        _ => return None,
    };
    Some(Tunnel {
        encap: Encap::Geneve,
        id: Some(vni),
        inner,
        offset,
        vlan: 0,
    })
}

/// GTP-U version 1, a G-PDU (message type 255) carrying an IP packet: the
/// 8-byte header, the 4 optional bytes when any of E, S or PN is set, and
/// the chain of extension headers (length in 4-byte units, next type in
/// the last byte). Echo, error indication and the rest carry no user packet.
pub fn gtpu(b: &[u8]) -> Option<Tunnel> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *b.get(1)? != 255 {
        return None;
    }
    let teid = be32(b, 4)?;
    let mut at = 8;
    if flags & 0x07 != 0 {
        let mut next = *b.get(11)?;
        at = 12;
        // Bounded: at most 16 extension headers.
        for _ in 0..16 {
            if next == 0 || flags & 0x04 == 0 {
                break;
            }
            let units = usize::from(*b.get(at)?);
            if units == 0 {
                return None;
            }
            at += units * 4;
            next = *b.get(at - 1)?;
        }
        if next != 0 && flags & 0x04 != 0 {
            return None;
        }
    }
    matches!(b.get(at).map(|v| v >> 4), Some(4 | 6)).then_some(Tunnel {
        encap: Encap::Gtpu,
        id: Some(teid),
        inner: Inner::Ip,
        offset: at,
        vlan: 0,
    })
}

/// Teredo: an IPv6 packet in UDP, behind an optional authentication
/// indicator (0x0001, id and auth lengths, id, auth, 8-byte nonce, 1-byte
/// confirmation) and an optional origin indicator (0x0000, port, address).
/// Bubbles (IPv6 with no payload) decode too, as the IPv6 packets they are.
pub fn teredo(b: &[u8]) -> Option<Tunnel> {
    let mut at = 0usize;
    if be16(b, 0)? == 0x0001 {
        let id = usize::from(*b.get(2)?);
        let au = usize::from(*b.get(3)?);
        at = 4 + id + au + 8 + 1;
    }
    if be16(b, at)? == 0x0000 {
        at += 8;
    }
    (b.get(at).map(|v| v >> 4) == Some(6) && b.len() >= at + 40).then_some(Tunnel {
        encap: Encap::Teredo,
        id: None,
        inner: Inner::Ip,
        offset: at,
        vlan: 0,
    })
}

/// AYIYA's forward operations: 1 (Forward) and 3 (Echo Request and
/// Forward), the two whose payload is a packet to pass on.
const AYIYA_FORWARD: [u8; 2] = [1, 3];

/// AYIYA (draft-massar-v6ops-ayiya §5): identity length as a power of two
/// and identity type, signature length in 4-byte words and hash method,
/// authentication method and operation, next header, a 4-byte epoch, the
/// identity, the signature, then the packet. Opened only for a forward
/// operation with next header 41 (IPv6) or 4 (IPv4) and an IP version that
/// agrees; heartbeats, echoes and queries carry no user packet.
pub fn ayiya(b: &[u8]) -> Option<Tunnel> {
    let &[ids, sig, op, next, ..] = b else {
        return None;
    };
    if !AYIYA_FORWARD.contains(&(op & 0x0f)) {
        return None;
    }
    let version = match next {
        41 => 6,
        4 => 4,
        _ => return None,
    };
    let offset = 8 + (1usize << (ids >> 4)) + usize::from(sig >> 4) * 4;
    (b.get(offset).map(|v| v >> 4) == Some(version)).then_some(Tunnel {
        encap: Encap::Ayiya,
        id: None,
        inner: Inner::Ip,
        offset,
        vlan: 0,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    const ETH: [u8; 14] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];

    fn never_panics_when_cut(b: &[u8], f: fn(&[u8]) -> Option<Tunnel>) {
        for n in 0..b.len() {
            let _ = f(&b[..n]);
        }
    }

    #[test]
    fn gre_fields_by_rfc_2890() {
        // C, K and S: checksum+reserved, key 0x01020304, sequence 7, IPv4.
        let mut b = vec![0xb0, 0x00, 0x08, 0x00, 0xab, 0xcd, 0, 0];
        b.extend([1, 2, 3, 4, 0, 0, 0, 7, 0x45]);
        let t = gre(&b).unwrap();
        assert_eq!(
            (t.encap, t.id, t.inner, t.offset),
            (Encap::Gre, Some(0x0102_0304), Inner::EtherType(0x0800), 16)
        );
        // Plain, transparent Ethernet bridging.
        let t = gre(&[0, 0, 0x65, 0x58]).unwrap();
        assert_eq!((t.inner, t.offset, t.id), (Inner::Ethernet, 4, None));
        // Version 1 (PPTP), the routing bit, an unknown protocol: not opened.
        assert_eq!(gre(&[0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0]), None);
        assert_eq!(gre(&[0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0]), None);
        assert_eq!(gre(&[0x00, 0x00, 0x12, 0x34]), None);
        // Key announced, cut before it.
        assert_eq!(gre(&[0x20, 0x00, 0x08, 0x00, 1, 2]), None);
        never_panics_when_cut(&b, gre);
    }

    #[test]
    fn erspan_types_one_two_three() {
        // Type I: GRE 0x88BE with no sequence number, Ethernet at once.
        let t = gre(&[0, 0, 0x88, 0xbe]).unwrap();
        assert_eq!((t.encap, t.offset, t.id), (Encap::Erspan1, 4, None));
        // Type II: S bit, sequence, then version 1, VLAN 100, session 301.
        let mut b = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 9];
        b.extend([0x10, 100, 0x01, 0x2d, 0, 0, 0, 0]);
        b.extend(ETH);
        let t = gre(&b).unwrap();
        assert_eq!(
            (t.encap, t.id, t.vlan, t.offset, t.inner),
            (Encap::Erspan2, Some(301), 100, 16, Inner::Ethernet)
        );
        // Type II with the wrong version nibble.
        b[8] = 0x20;
        assert_eq!(gre(&b), None);
        // Type III, session 5, frame type 0, with the subheader (O bit).
        let mut h = vec![0x20, 0x00, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0x00, 0x01];
        h.extend([0; 8]);
        h.extend(ETH);
        let t = erspan3(&h).unwrap();
        assert_eq!(
            (t.encap, t.id, t.offset, t.inner),
            (Encap::Erspan3, Some(5), 20, Inner::Ethernet)
        );
        // Frame type 2: an IP packet; without the subheader.
        h[10] = 0x08;
        h[11] = 0;
        let t = erspan3(&h).unwrap();
        assert_eq!((t.offset, t.inner), (12, Inner::Ip));
        h[10] = 0x04; // frame type 1: not opened
        assert_eq!(erspan3(&h), None);
        never_panics_when_cut(&b, gre);
        never_panics_when_cut(&h, erspan3);
    }

    #[test]
    fn vxlan_and_geneve() {
        let t = vxlan(&[0x08, 0, 0, 0, 0x00, 0x10, 0x01, 0]).unwrap();
        assert_eq!((t.id, t.offset), (Some(0x1001), 8));
        assert_eq!(vxlan(&[0x00, 0, 0, 0, 0, 0, 1, 0]), None, "I flag clear");
        // GENEVE with 2 words of options, Ethernet, VNI 7.
        let mut g = vec![0x02, 0, 0x65, 0x58, 0, 0, 7, 0];
        g.extend([0; 8]);
        let t = geneve(&g).unwrap();
        assert_eq!((t.id, t.offset, t.inner), (Some(7), 16, Inner::Ethernet));
        assert_eq!(geneve(&g[..12]), None, "options cut");
        g[0] = 0x42;
        assert_eq!(geneve(&g), None, "version 1");
        never_panics_when_cut(&g, geneve);
    }

    #[test]
    fn gtpu_with_extension_headers() {
        // Plain G-PDU, TEID 0x11223344, IPv4 inside.
        let mut b = vec![0x30, 0xff, 0, 20, 0x11, 0x22, 0x33, 0x44, 0x45];
        let t = gtpu(&b).unwrap();
        assert_eq!((t.id, t.offset), (Some(0x1122_3344), 8));
        // E flag: sequence, N-PDU, next type 0x85 (PDU session container,
        // 1 unit), then end of chain.
        b = vec![0x34, 0xff, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0x85];
        b.extend([1, 0x10, 0x05, 0x00, 0x60]);
        let t = gtpu(&b).unwrap();
        assert_eq!(t.offset, 16);
        // Echo request (type 1): no user packet.
        assert_eq!(gtpu(&[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]), None);
        // A zero-length extension header would loop: refused.
        let mut z = b.clone();
        z[12] = 0;
        assert_eq!(gtpu(&z), None);
        never_panics_when_cut(&b, gtpu);
    }

    type Parser = fn(&[u8]) -> Option<Tunnel>;
    const PARSERS: [Parser; 8] = [gre, erspan2, erspan3, vxlan, geneve, gtpu, teredo, ayiya];

    /// The fuzz target's checks over seeded random slices (header-shaped
    /// first bytes, so the parsers get past their first test): every opened
    /// header's inner bytes start inside the slice.
    #[test]
    fn random_slices_open_inside_their_bounds() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let starts: [&[u8]; 8] = [
            &[0xb0, 0, 0x88, 0xbe],
            &[0x10, 0, 0x22, 0xeb],
            &[0x08, 0, 0, 0],
            &[0x3f, 0, 0x65, 0x58],
            &[0x37, 0xff],
            &[0, 1],
            &[0x41, 0x52, 0x11, 41],
            &[0x00, 0x00, 0x13, 4],
        ];
        let mut opened = 0;
        for i in 0..60_000usize {
            let len = (next() % 96) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let st = starts[i % starts.len()];
            for (d, v) in b.iter_mut().zip(st) {
                *d = *v;
            }
            for f in PARSERS {
                if let Some(t) = f(&b) {
                    opened += 1;
                    assert!(t.offset <= b.len() && t.vlan < 4096, "{t:?} {b:02x?}");
                }
            }
        }
        assert!(opened > 1000, "the generator reaches the parsers: {opened}");
    }

    #[test]
    fn teredo_indicators() {
        let mut v6 = vec![0x60];
        v6.extend([0; 39]);
        assert_eq!(teredo(&v6).unwrap().offset, 0);
        // Origin indicator, then IPv6.
        let mut o = vec![0, 0, 0xf2, 0x27, 0x3f, 0xff, 0xff, 0xfe];
        o.extend(&v6);
        assert_eq!(teredo(&o).unwrap().offset, 8);
        // Authentication (id 0, auth 0, nonce, confirmation), then origin.
        let mut a = vec![0, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0];
        a.extend(&o);
        assert_eq!(teredo(&a).unwrap().offset, 21);
        assert_eq!(teredo(&[0x45; 60]), None, "IPv4 is not Teredo");
        never_panics_when_cut(&a, teredo);
    }

    /// The header AICCU sends: a 16-byte integer identity (the client's
    /// IPv6 address), a 20-byte SHA-1 signature, shared-secret
    /// authentication, Forward, next header 41.
    fn aiccu_header(op: u8, next: u8) -> Vec<u8> {
        let mut h = vec![0x41, 0x52, 0x10 | op, next, 0x5f, 0x00, 0x00, 0x01];
        h.extend([0x20; 16]);
        h.extend([0xab; 20]);
        h
    }

    #[test]
    fn ayiya_forward_of_ipv6_and_ipv4() {
        let mut v6 = aiccu_header(1, 41);
        v6.push(0x60);
        v6.extend([0; 39]);
        let t = ayiya(&v6).unwrap();
        assert_eq!(
            (t.encap, t.id, t.inner, t.offset),
            (Encap::Ayiya, None, Inner::Ip, 44)
        );
        assert_eq!(UdpTunnel::Ayiya.parse(&v6), Some(t));
        // Echo Request and Forward carries a packet too.
        v6[2] = 0x13;
        assert_eq!(ayiya(&v6).map(|t| t.offset), Some(44));
        // No signature, a 1-byte identity (2^0), IPv4.
        let mut v4 = vec![0x00, 0x00, 0x01, 4, 0, 0, 0, 0, 7, 0x45];
        v4.extend([0; 19]);
        assert_eq!(ayiya(&v4).map(|t| t.offset), Some(9));
        // Next header and IP version disagree.
        v4[3] = 41;
        assert_eq!(ayiya(&v4), None);
        // Heartbeat, echo request, echo response, MOTD: no user packet.
        for op in [0, 2, 4, 5] {
            let mut h = aiccu_header(op, 41);
            h.push(0x60);
            assert_eq!(ayiya(&h), None, "opcode {op}");
        }
        // Next header 17 (UDP straight in AYIYA): not opened.
        let mut u = aiccu_header(1, 17);
        u.push(0x60);
        assert_eq!(ayiya(&u), None);
        // The largest identity (2^15) and signature (60) only bound the
        // offset; a slice that short is refused, not read past.
        assert_eq!(ayiya(&[0xf1, 0xf2, 0x11, 41, 0, 0, 0, 0, 0x60]), None);
        never_panics_when_cut(&v6, ayiya);
        for n in 0..=44 {
            assert!(ayiya(&v6[..n]).is_none(), "cut at {n}: before the IP byte");
        }
    }
}
