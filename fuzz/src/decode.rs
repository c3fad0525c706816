//! Decoding: the link layer and L3/L4 decode of one frame, and the fragment tracker.

use super::*;

/// Link types in the order the low nibble of a `decode` input's first byte
/// selects them (the nibble is taken modulo 14).
pub const LINKS: [LinkType; 14] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::CiscoHdlc,
    LinkType::Ppp,
    LinkType::PppHdlc,
    LinkType::PppEther,
    LinkType::PppWithDir,
    LinkType::CiscoHdlcWithDir,
];

/// The selector byte a `decode` input starts with for a link type, with the
/// wire length equal to the captured length.
pub fn link_selector(link: LinkType) -> u8 {
    LINKS
        .iter()
        .position(|&l| l == link)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

/// A `decode` input split into its parts.
#[derive(Clone, Copy, Debug)]
pub struct DecodeInput<'a> {
    /// The link type (low nibble of byte 0, modulo 14).
    pub link: LinkType,
    /// The captured frame (bytes 1..).
    pub frame: &'a [u8],
    /// The wire length (high nibble of byte 0): 0 means the frame's length,
    /// 1..=14 the frame's length plus 2^(n-1) (a snap-length cut), 15 half the
    /// frame's length (a capture header that lies).
    pub wire_len: u32,
    /// Whether `wire_len >= frame.len()`, as every real source guarantees.
    pub honest: bool,
}

/// Splits a `decode` input; `None` for the empty input.
pub fn split_decode_input(data: &[u8]) -> Option<DecodeInput<'_>> {
    let (&sel, frame) = data.split_first()?;
    let link = LINKS
        .get(usize::from(sel & 0x0f) % LINKS.len())
        .copied()
        .unwrap_or(LinkType::Ethernet);
    let caplen = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let mode = sel >> 4;
    let wire_len = match mode {
        0 => caplen,
        15 => caplen / 2,
        n => caplen.saturating_add(1 << (n - 1)),
    };
    Some(DecodeInput {
        link,
        frame,
        wire_len,
        honest: wire_len >= caplen,
    })
}

fn in_frame(frame: &[u8], part: &[u8]) -> bool {
    let f = frame.as_ptr_range();
    let p = part.as_ptr_range();
    p.start >= f.start && p.end <= f.end
}

/// Decodes one fuzz input (selector byte + frame), checks the result against
/// `peel` and the decode invariants, then runs it through a [`FragTracker`].
/// Returns the decode outcome; `None` for the empty input.
pub fn check_decode(data: &[u8]) -> Option<Result<(), Skip>> {
    let inp = split_decode_input(data)?;
    let DecodeInput {
        link,
        frame,
        wire_len,
        honest,
    } = inp;
    let l2 = peel(link, frame);
    let r = decode(link, frame, wire_len);

    // The same frame with an honest wire length must decode to the same
    // packet: the wire length only ever fills in a missing IP length.
    let again = decode(link, frame, u32::try_from(frame.len()).unwrap_or(u32::MAX));
    match (&r, &again) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                (a.src, a.dst, a.sport, a.dport, a.proto, a.frag, a.payload),
                (b.src, b.dst, b.sport, b.dport, b.proto, b.frag, b.payload),
                "the wire length changed more than the lengths"
            );
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "the wire length changed the skip reason"),
        _ => panic!("the wire length changed whether the frame decodes: {r:?} vs {again:?}"),
    }
    assert_eq!(
        r,
        decode(link, frame, wire_len),
        "decode is not deterministic"
    );

    let d = match (l2, r) {
        (Err(L2Error::NotIp), r) => {
            assert_eq!(r.err(), Some(Skip::NotIp), "peel said NotIp");
            return Some(Err(Skip::NotIp));
        }
        (Err(L2Error::Truncated), r) => {
            assert_eq!(r.err(), Some(Skip::LinkTruncated), "peel said Truncated");
            return Some(Err(Skip::LinkTruncated));
        }
        (Ok(l2), r) => {
            assert!(
                l2.ip_offset < frame.len(),
                "peel's ip_offset is past the frame"
            );
            assert!(matches!(l2.ip_version, 4 | 6));
            assert!(l2.vlan <= 0x0fff, "vlan {} is not 12 bits", l2.vlan);
            match r {
                Err(Skip::NotIp) => {
                    // What a tunnel carried was not IP (a mirrored ARP
                    // frame): the outer packet is a tunnel's, and decodes.
                    let outer = decode_with(link, frame, wire_len, &Decap::off());
                    assert!(
                        outer.as_ref().is_ok_and(|o| matches!(o.proto, 17 | 47)),
                        "the link layer was fine, yet decode says NotIp: {outer:?}"
                    );
                    return Some(Err(Skip::NotIp));
                }
                Err(s) => {
                    assert!(
                        matches!(s, Skip::BadIpHeader | Skip::TransportTruncated),
                        "the link layer was fine, yet decode says {s:?}"
                    );
                    return Some(Err(s));
                }
                Ok(d) => {
                    // A tunnelled packet is the innermost one: its version,
                    // VLAN and MACs are its own (IPv6 in GTP-U in IPv4), or
                    // the outer frame's when the tunnel carried bare IP.
                    let depth = d.layers.chain.depth();
                    assert!(depth <= MAX_DEPTH, "{:?}", d.layers);
                    if depth == 0 {
                        assert_eq!((d.ip_version, d.vlan), (l2.ip_version, l2.vlan));
                        assert_eq!((d.src_mac, d.dst_mac), (l2.src_mac, l2.dst_mac));
                    } else {
                        assert!(d.vlan <= 0x0fff, "inner vlan {}", d.vlan);
                    }
                    if !d.payload.is_empty() {
                        let ip = frame.get(l2.ip_offset..).unwrap_or(&[]);
                        assert!(in_frame(ip, d.payload), "payload outside the IP bytes");
                        let min_hdr = if d.ip_version == 4 { 20 } else { 40 };
                        let start = d.payload.as_ptr() as usize - ip.as_ptr() as usize;
                        assert!(start >= min_hdr, "payload starts inside the IP header");
                    }
                    d
                }
            }
        }
    };
    check_decoded(link, frame, honest, &d);
    check_frag_tracker(&d);
    Some(Ok(()))
}

fn check_decoded(link: LinkType, frame: &[u8], honest: bool, d: &Decoded<'_>) {
    assert!(
        d.payload.is_empty() || in_frame(frame, d.payload),
        "payload is not a sub-slice of the frame"
    );
    assert!(d.payload.len() <= frame.len());
    match d.ip_version {
        4 => assert!(d.src.is_ipv4() && d.dst.is_ipv4(), "v4 with {:?}", d.src),
        6 => assert!(d.src.is_ipv6() && d.dst.is_ipv6(), "v6 with {:?}", d.src),
        v => panic!("ip_version {v}"),
    }
    if honest {
        let min = if d.ip_version == 4 { 20 } else { 40 };
        assert!(
            d.ip_len >= min,
            "ip_len {} below the IPv{} header",
            d.ip_len,
            d.ip_version
        );
    }
    assert!(
        d.payload_len <= d.ip_len,
        "payload_len {} > ip_len {}",
        d.payload_len,
        d.ip_len
    );
    // A tunnel's inner Ethernet frame brings MACs to any link type; an
    // Ethernet link keeps its own when the tunnel carried bare IP.
    if d.layers.chain.depth() == 0 || link == LinkType::Ethernet {
        assert_eq!(d.src_mac.is_some(), link == LinkType::Ethernet);
        assert_eq!(d.dst_mac.is_some(), link == LinkType::Ethernet);
    }
    assert_eq!(d.src_mac.is_some(), d.dst_mac.is_some());
    assert!(d.tcp_flags <= 0x1ff, "tcp_flags {:#x}", d.tcp_flags);
    if d.proto != 6 {
        assert_eq!(d.tcp_flags, 0, "tcp flags on protocol {}", d.proto);
    }
    if d.icmp.is_some() {
        assert!(
            matches!(d.proto, 1 | 58),
            "icmp type on protocol {}",
            d.proto
        );
    }
    let later = d.frag.is_some_and(|f| !f.first);
    if later || !matches!(d.proto, 1 | 6 | 17 | 58 | 132) {
        assert_eq!(
            (d.sport, d.dport),
            (0, 0),
            "ports without a transport header"
        );
        assert_eq!(d.icmp, None);
    }
    if !later && matches!(d.proto, 6 | 17 | 132) {
        // The fixed transport header was captured, so the payload slice is
        // what follows it.
        let hdr = match d.proto {
            17 => 8,
            132 => 12,
            _ => 20,
        };
        assert!(d.payload_len <= d.ip_len.saturating_sub(hdr));
    }
}

/// Runs a decoded packet through a fresh [`FragTracker`]: a first fragment
/// must lend its ports to its later fragments until the last one, and a later
/// fragment with no first fragment must stay port-less.
fn check_frag_tracker(d: &Decoded<'_>) {
    let mut t = FragTracker::default();
    let mut d1 = d.clone();
    let ok = t.resolve(&mut d1);
    let tracked = matches!(d.proto, 6 | 17 | 132);
    match d.frag {
        Some(f) if tracked && !f.first => {
            assert!(!ok, "a later fragment resolved in an empty tracker");
            assert_eq!(&d1, d, "an unresolved fragment changed");
        }
        Some(f) if tracked => {
            assert!(ok);
            assert_eq!(&d1, d, "a first fragment changed");
            let mut later = d.clone();
            later.sport = 0;
            later.dport = 0;
            later.frag = Some(Frag {
                id: f.id,
                first: false,
                more: true,
            });
            let mut middle = later.clone();
            assert!(t.resolve(&mut middle), "a middle fragment found no first");
            assert_eq!((middle.sport, middle.dport), (d.sport, d.dport));
            let mut last = later.clone();
            last.frag = Some(Frag {
                id: f.id,
                first: false,
                more: false,
            });
            assert!(t.resolve(&mut last), "the last fragment found no first");
            assert_eq!((last.sport, last.dport), (d.sport, d.dport));
            let mut stray = later.clone();
            assert!(
                !t.resolve(&mut stray),
                "the last fragment did not end the entry"
            );
            assert_eq!((stray.sport, stray.dport), (0, 0));
        }
        _ => {
            assert!(ok, "an unfragmented packet failed to resolve");
            assert_eq!(&d1, d, "resolve changed an unfragmented packet");
        }
    }
}
