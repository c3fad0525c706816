//! Opening tunnels: which UDP ports carry which tunnel ([`Decap`]), what a
//! packet keeps of the layers it came through ([`Layers`]), and the
//! recursive walk from an outer packet to the innermost one.

use super::tunnel::{gre, Encap, Inner, Tunnel, UdpTunnel};
use super::{decode_ip, Decoded, Skip};
use crate::link::{peel, peel_ethertype, L2Error, LinkType, L2};

/// Tunnels inside tunnels opened at most this deep; a deeper packet stays
/// the packet of the last layer opened.
pub const MAX_DEPTH: usize = 4;

/// At most this many UDP ports carry tunnels.
const MAX_PORTS: usize = 16;

/// Which tunnels are opened, and on which UDP ports.
#[derive(Clone, Debug)]
pub struct Decap {
    /// Off: every packet is taken as it is on the wire (`--no-decap`).
    pub enabled: bool,
    ports: [(u16, Option<UdpTunnel>); MAX_PORTS],
    bits: [u64; 1024],
}

static STANDARD: Decap = Decap::with_ports(&[
    (4789, UdpTunnel::Vxlan),
    (6081, UdpTunnel::Geneve),
    (4754, UdpTunnel::GreUdp),
    (2152, UdpTunnel::Gtpu),
    (3544, UdpTunnel::Teredo),
    (5072, UdpTunnel::Ayiya),
]);

impl Default for Decap {
    fn default() -> Self {
        Decap::standard().clone()
    }
}

impl Decap {
    /// Every tunnel on its IANA port: VXLAN 4789, GENEVE 6081, GRE-in-UDP
    /// 4754, GTP-U 2152, Teredo 3544, AYIYA 5072; GRE and ERSPAN by IP
    /// protocol 47.
    pub fn standard() -> &'static Decap {
        &STANDARD
    }

    /// Nothing opened.
    pub fn off() -> Decap {
        Decap {
            enabled: false,
            ..Decap::standard().clone()
        }
    }

    /// These ports and no others (the first [`MAX_PORTS`] of them).
    pub const fn with_ports(list: &[(u16, UdpTunnel)]) -> Decap {
        let mut d = Decap {
            enabled: true,
            ports: [(0, None); MAX_PORTS],
            bits: [0; 1024],
        };
        let mut i = 0;
        while i < list.len() && i < MAX_PORTS {
            let (port, kind) = list[i];
            d.ports[i] = (port, Some(kind));
            d.bits[(port >> 6) as usize] |= 1 << (port & 63);
            i += 1;
        }
        d
    }

    /// Parses `vxlan=4789,8472 geneve=6081` (spaces or semicolons between
    /// tunnels): the named tunnels move to the given ports, the others keep
    /// their standard ones.
    ///
    /// # Errors
    /// An unknown tunnel name, a bad port, or more than 16 ports.
    pub fn parse(spec: &str) -> Result<Decap, String> {
        let mut list: Vec<(u16, UdpTunnel)> = Vec::new();
        let mut named = Vec::new();
        for item in spec.split([' ', ';']).filter(|s| !s.is_empty()) {
            let (name, ports) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected TUNNEL=PORT[,PORT]"))?;
            let kind = UdpTunnel::from_name(name).ok_or_else(|| {
                format!("`{name}`: not a UDP tunnel (vxlan, geneve, gre_udp, gtpu, teredo, ayiya)")
            })?;
            named.push(kind);
            for p in ports.split(',').filter(|s| !s.is_empty()) {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| format!("`{p}`: not a port"))?;
                list.push((port, kind));
            }
        }
        for &(port, kind) in STANDARD.ports.iter() {
            if let Some(k) = kind {
                if !named.contains(&k) {
                    list.push((port, k));
                }
            }
        }
        if list.len() > MAX_PORTS {
            return Err(format!("{} ports: at most {MAX_PORTS}", list.len()));
        }
        Ok(Decap::with_ports(&list))
    }

    #[inline]
    fn bit(&self, port: u16) -> bool {
        self.bits
            .get(usize::from(port >> 6))
            .is_some_and(|w| w & (1 << (port & 63)) != 0)
    }

    /// Either port carries a tunnel.
    #[inline]
    pub fn any_port(&self, sport: u16, dport: u16) -> bool {
        self.bit(sport) | self.bit(dport)
    }

    /// The tunnel on a UDP packet's ports: the receiver's port, or for
    /// GTP-U, Teredo and AYIYA (whose replies come from the well-known port) the
    /// sender's. VXLAN, GENEVE and GRE-in-UDP senders pick their source
    /// port as entropy (RFC 7348 §5), so a reply *from* 4789 is not VXLAN.
    pub fn udp(&self, sport: u16, dport: u16) -> Option<UdpTunnel> {
        let find = |port| {
            self.ports
                .iter()
                .find(|(p, k)| *p == port && k.is_some())
                .and_then(|(_, k)| *k)
        };
        find(dport).or_else(|| {
            find(sport)
                .filter(|k| matches!(k, UdpTunnel::Gtpu | UdpTunnel::Teredo | UdpTunnel::Ayiya))
        })
    }

    /// The port list, for the run's metadata.
    pub fn describe(&self) -> String {
        if !self.enabled {
            return "off".into();
        }
        self.ports
            .iter()
            .filter_map(|(p, k)| k.map(|k| format!("{k:?}={p}").to_lowercase()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A chain of up to [`MAX_DEPTH`] tunnels, outermost first, 4 bits each:
/// two bytes in every packet handed to the workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Chain(pub u16);

impl Chain {
    /// The tunnels, outermost first.
    pub fn iter(self) -> impl Iterator<Item = Encap> {
        (0..MAX_DEPTH).map_while(move |i| Encap::from_code((self.0 >> (12 - 4 * i)) & 0xf))
    }

    /// How many tunnels.
    pub fn depth(self) -> usize {
        self.iter().count()
    }

    /// The column value: the tunnels outermost first, joined by `+`
    /// (`erspan2`, `vxlan+gre`); `None` when the packet was not tunnelled.
    pub fn name(self) -> Option<String> {
        let mut it = self.iter();
        let first = it.next()?;
        Some(it.fold(first.as_str().to_string(), |mut s, e| {
            s.push('+');
            s.push_str(e.as_str());
            s
        }))
    }

    fn push(&mut self, e: Encap) {
        let d = self.depth();
        if d < MAX_DEPTH {
            self.0 |= e.code() << (12 - 4 * d);
        }
    }
}

/// What a packet keeps of the tunnels it came out of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layers {
    /// The tunnels, outermost first.
    pub chain: Chain,
    /// The outermost tunnel id (ERSPAN session, VNI, GRE key, TEID).
    pub id: Option<u32>,
    /// What keeps flows of different networks or mirror sessions apart:
    /// the ids of the layers whose id names one (see [`Encap::id_in_key`]),
    /// folded; 0 when none.
    pub key_id: u32,
    /// A tunnel header was there but could not be opened (cut, unknown
    /// version or payload, a fragmented outer packet): the packet is the
    /// outer one.
    pub undecodable: bool,
}

impl Layers {
    fn push(&mut self, t: &Tunnel) {
        self.chain.push(t.encap);
        if self.id.is_none() {
            self.id = t.id;
        }
        if let (true, Some(id)) = (t.encap.id_in_key(), t.id) {
            // Non-zero for any id, 0 included, so a VNI 0 differs from none.
            self.key_id = self.key_id.rotate_left(11) ^ id.wrapping_add(0x9e37_79b9);
        }
    }
}

/// Opens the tunnel in `d` (the packet found at `depth` layers) and, when
/// its inner packet decodes, replaces `d` with it, recursively. A header
/// that cannot be opened leaves `d` the outer packet, marked undecodable.
///
/// # Errors
/// `NotIp` when the tunnel carries a frame that is not IP (ARP in VXLAN):
/// that frame is what was mirrored, and it is no flow packet.
pub(super) fn open<'a>(
    d: &mut Decoded<'a>,
    frame: &'a [u8],
    wire_len: u32,
    decap: &Decap,
    depth: usize,
) -> Result<(), Skip> {
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let tunnel = if d.frag.is_some() {
        None
    } else if d.proto == 47 {
        gre(d.payload)
    } else {
        decap.udp(d.sport, d.dport).and_then(|k| k.parse(d.payload))
    };
    let Some(t) = tunnel else {
        d.layers.undecodable = true;
        return Ok(());
    };
    let inner = d.payload.get(t.offset..).unwrap_or(&[]);
    let l2 = match t.inner {
        Inner::Ethernet => peel(LinkType::Ethernet, inner),
        Inner::Ip => peel(LinkType::Raw, inner),
        Inner::EtherType(e) => peel_ethertype(inner, e),
    };
    let l2 = match l2 {
        Ok(l2) => l2,
        // A mirrored ARP or LLDP frame is what was mirrored: no flow packet.
        // Anything else that is not IP may be a packet that only looked like
        // a tunnel (a reply to a client port of 4789): it stays the outer
        // packet, counted, rather than be lost.
        Err(L2Error::NotIp) if t.inner == Inner::Ethernet && known_non_ip(inner) => {
            return Err(Skip::NotIp)
        }
        Err(L2Error::NotIp | L2Error::Truncated) => {
            d.layers.undecodable = true;
            return Ok(());
        }
    };
    // Bytes of the frame before the inner one: the inner wire length.
    let before = (inner.as_ptr() as usize).saturating_sub(frame.as_ptr() as usize);
    let inner_wire = wire_len.saturating_sub(u32::try_from(before).unwrap_or(u32::MAX));
    let Ok(mut n) = decode_ip(inner, l2, inner_wire) else {
        d.layers.undecodable = true;
        return Ok(());
    };
    let mut layers = d.layers;
    layers.push(&t);
    n.layers = layers;
    merge_l2(&mut n, d, &l2, &t);
    *d = n;
    if decap.enabled && (d.proto == 47 || (d.proto == 17 && decap.any_port(d.sport, d.dport))) {
        open(d, frame, wire_len, decap, depth + 1)?;
    }
    Ok(())
}

/// Whether an Ethernet frame carries one of the link's own protocols (ARP,
/// RARP, LLDP, 802.1X, slow protocols, an 802.3 length for STP/LLC), after
/// any VLAN tags.
fn known_non_ip(frame: &[u8]) -> bool {
    let mut at = 12;
    for _ in 0..3 {
        let Some(&[a, b]) = frame.get(at..at + 2) else {
            return false;
        };
        match u16::from_be_bytes([a, b]) {
            0x8100 | 0x88a8 => at += 4,
            0x0806 | 0x8035 | 0x88cc | 0x888e | 0x8809 => return true,
            len => return len <= 1500,
        }
    }
    false
}

/// The inner packet's path evidence: the mirrored frame's MACs and VLAN
/// when it has them (ERSPAN and VXLAN carry the original Ethernet frame),
/// ERSPAN's VLAN field when the frame was untagged, the outer ones when the
/// tunnel carried a bare IP packet.
fn merge_l2(n: &mut Decoded<'_>, outer: &Decoded<'_>, l2: &L2, t: &Tunnel) {
    if l2.src_mac.is_none() {
        n.src_mac = outer.src_mac;
        n.dst_mac = outer.dst_mac;
        n.vlan = outer.vlan;
    } else if n.vlan == 0 {
        n.vlan = t.vlan;
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ports_by_flag() {
        let d = Decap::parse("vxlan=4789,8472 geneve=6081").unwrap();
        assert_eq!(d.udp(50000, 8472), Some(UdpTunnel::Vxlan));
        assert_eq!(d.udp(2152, 2152), Some(UdpTunnel::Gtpu), "kept standard");
        assert_eq!(d.udp(4789, 53000), None, "a reply from 4789 is not VXLAN");
        assert_eq!(d.udp(3544, 40000), Some(UdpTunnel::Teredo));
        assert_eq!(d.udp(5072, 40000), Some(UdpTunnel::Ayiya), "server's reply");
        assert_eq!(d.udp(40000, 5072), Some(UdpTunnel::Ayiya));
        assert!(!d.any_port(53, 443));
        let d = Decap::parse("vxlan=9999").unwrap();
        assert_eq!(d.udp(1, 4789), None, "moved, not added");
        assert!(Decap::parse("foo=1").is_err());
        assert!(Decap::parse("vxlan=0").is_err());
        assert!(Decap::parse("vxlan").is_err());
    }

    #[test]
    fn chain_names_and_key_ids() {
        let mut l = Layers::default();
        assert_eq!(l.chain.name(), None);
        let t = |encap, id| Tunnel {
            encap,
            id,
            inner: Inner::Ethernet,
            offset: 0,
            vlan: 0,
        };
        l.push(&t(Encap::Erspan2, Some(7)));
        l.push(&t(Encap::Vxlan, Some(0)));
        assert_eq!(l.chain.name().as_deref(), Some("erspan2+vxlan"));
        for _ in 0..5 {
            l.push(&t(Encap::Teredo, None));
        }
        assert_eq!(l.chain.depth(), MAX_DEPTH, "bounded");
        assert_eq!(l.id, Some(7));
        let mut m = Layers::default();
        m.push(&t(Encap::Erspan2, Some(7)));
        m.push(&t(Encap::Vxlan, Some(1)));
        assert_ne!(l.key_id, m.key_id, "VNI 0 and VNI 1 apart");
        let mut g = Layers::default();
        g.push(&t(Encap::Gtpu, Some(99)));
        assert_eq!((g.key_id, g.id), (0, Some(99)), "TEID not in the key");
    }
}
