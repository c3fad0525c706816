//! STUN and TURN (RFC 5389/8489 with the magic cookie, classic RFC 3489,
//! Microsoft's draft-era MS-TURN whose first attribute is MAGIC-COOKIE, TURN
//! ChannelData), with the framings seen over TCP: RFC 4571 length prefix and
//! the MS-TURN 4-byte header ([MS-TURN] 2.1.4). Reads the addresses that let
//! other flows be correlated (XOR-MAPPED-, XOR-RELAYED-ADDRESS).

use super::cursor::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// RFC 5389 magic cookie.
pub const MAGIC: u32 = 0x2112_a442;
/// MS-TURN's MAGIC-COOKIE attribute value.
pub const MS_MAGIC: u32 = 0x72c6_4bc6;

/// Which dialect a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// RFC 5389/8489 (magic cookie in the header).
    Rfc5389,
    /// RFC 3489, no cookie.
    Classic,
    /// MS-TURN: no cookie in the header, MAGIC-COOKIE attribute first.
    MsTurn,
}

/// One STUN message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StunMessage {
    /// The dialect.
    pub dialect: Dialect,
    /// Message type (method and class).
    pub msg_type: u16,
    /// A Microsoft attribute (MS-VERSION, MS-SEQUENCE-NUMBER, ...) was present.
    pub microsoft: bool,
    /// XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS for classic STUN).
    pub mapped: Option<SocketAddr>,
    /// XOR-RELAYED-ADDRESS.
    pub relayed: Option<SocketAddr>,
}

/// Outcome of looking at a payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StunProbe {
    /// A STUN message.
    Message(StunMessage),
    /// TURN ChannelData (channel 0x4000-0x7FFF) with a consistent length.
    ChannelData,
    /// Not STUN.
    NotStun,
}

// Attributes that only Microsoft's stacks send (docs/call-flows.md §2.4).
fn is_microsoft_attr(t: u16) -> bool {
    // Only attributes Microsoft's own specifications define, since this
    // names the service: MS-VERSION (0x8008), MS-SEQUENCE-NUMBER (0x8050)
    // and MAGIC-COOKIE (0x000F) of [MS-TURN]; the bandwidth-management and
    // site attributes 0x8054-0x8068 of [MS-TURNBWM]/[MS-ICE2] (candidate
    // identifier 0x8054, service quality 0x8055...); IMPLEMENTATION-VERSION
    // (0x8070) and the multiplexed-session ids (0x8090, 0x8095). Not 0x8020:
    // pre-RFC 5389 drafts gave XOR-MAPPED-ADDRESS that number and other
    // stacks still send it.
    matches!(
        t,
        0x000f | 0x8008 | 0x8050 | 0x8054..=0x8068 | 0x8070 | 0x8090 | 0x8095
    )
}

fn xor_addr(v: &[u8], tid: &[u8]) -> Option<SocketAddr> {
    let mut c = Cursor::new(v);
    c.skip(1)?;
    let family = c.u8()?;
    let port = c.u16()? ^ 0x2112;
    let ip = match family {
        1 => IpAddr::V4(Ipv4Addr::from(c.u32()? ^ MAGIC)),
        2 => {
            let raw = c.bytes(16)?;
            let mut key = MAGIC.to_be_bytes().to_vec();
            key.extend_from_slice(tid);
            let mut o = [0u8; 16];
            for (i, b) in o.iter_mut().enumerate() {
                *b = raw.get(i)? ^ key.get(i)?;
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn plain_addr(v: &[u8]) -> Option<SocketAddr> {
    let mut c = Cursor::new(v);
    c.skip(1)?;
    let family = c.u8()?;
    let port = c.u16()?;
    let ip = match family {
        1 => IpAddr::V4(Ipv4Addr::from(c.u32()?)),
        2 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(c.bytes(16)?).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

const CLASSIC_TYPES: &[u16] = &[0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112];
const MS_TYPES: &[u16] = &[
    0x0003, 0x0103, 0x0113, 0x0004, 0x0115, 0x0006, 0x0106, 0x0116, 0x0001, 0x0101, 0x0111,
];

/// Parses one STUN message that fills `b` exactly.
fn parse_message(b: &[u8]) -> Option<StunMessage> {
    let mut c = Cursor::new(b);
    let msg_type = c.u16()?;
    let len = usize::from(c.u16()?);
    if msg_type & 0xc000 != 0 || len % 4 != 0 || len + 20 != b.len() {
        return None;
    }
    let cookie = c.u32()?;
    let tid = c.bytes(12)?;
    let mut attrs = Cursor::new(c.bytes(len)?);
    let mut msg = StunMessage {
        dialect: Dialect::Classic,
        msg_type,
        microsoft: false,
        mapped: None,
        relayed: None,
    };
    let mut first = true;
    while attrs.remaining() > 0 {
        let t = attrs.u16()?;
        let l = usize::from(attrs.u16()?);
        let v = attrs.bytes(l)?;
        // Attributes are padded to 4 bytes; accept a missing last pad.
        let pad = (4 - l % 4) % 4;
        if attrs.remaining() >= pad {
            attrs.skip(pad)?;
        }
        if first && t == 0x000f && v == MS_MAGIC.to_be_bytes() {
            msg.dialect = Dialect::MsTurn;
        }
        first = false;
        msg.microsoft |= is_microsoft_attr(t);
        match t {
            0x0020 | 0x8020 if cookie == MAGIC => {
                msg.mapped = msg.mapped.or_else(|| xor_addr(v, tid))
            }
            0x0016 if cookie == MAGIC => msg.relayed = xor_addr(v, tid),
            0x0001 => msg.mapped = msg.mapped.or_else(|| plain_addr(v)),
            _ => {}
        }
    }
    if cookie == MAGIC {
        msg.dialect = Dialect::Rfc5389;
    } else if msg.dialect == Dialect::MsTurn {
        if !MS_TYPES.contains(&msg_type) {
            return None;
        }
    } else if !CLASSIC_TYPES.contains(&msg_type) {
        return None;
    }
    Some(msg)
}

/// Parses a UDP payload.
pub fn parse_udp(p: &[u8]) -> StunProbe {
    if let Some(m) = parse_message(p) {
        return StunProbe::Message(m);
    }
    // Microsoft multiplexed TURN: 0xFF10, length, 8-byte session id, message.
    if let [0xff, 0x10, hi, lo, rest @ ..] = p {
        if usize::from(u16::from_be_bytes([*hi, *lo])) == rest.len() {
            if let Some(m) = rest.get(8..).and_then(parse_message) {
                return StunProbe::Message(m);
            }
        }
    }
    if channel_data(p, false).is_some() {
        return StunProbe::ChannelData;
    }
    StunProbe::NotStun
}

/// Parses the start of a TCP segment: bare messages (TURN over TCP, RFC
/// 6062, several back to back), RFC 4571 length-prefixed, or MS-TURN framed.
pub fn parse_tcp(p: &[u8]) -> StunProbe {
    // MS-TURN framing: type 2 (control) or 3 (data), zero, length of the rest.
    if let [2 | 3, 0, hi, lo, rest @ ..] = p {
        let n = usize::from(u16::from_be_bytes([*hi, *lo]));
        if let Some(m) = rest.get(..n).and_then(parse_message) {
            return StunProbe::Message(m);
        }
    }
    // RFC 4571: a 2-byte length, then the message.
    if let [hi, lo, rest @ ..] = p {
        let n = usize::from(u16::from_be_bytes([*hi, *lo]));
        if let Some(m) = rest.get(..n).and_then(parse_message) {
            return StunProbe::Message(m);
        }
    }
    // Bare: the first message's own length says where it ends.
    if let [_, _, hi, lo, ..] = p {
        let n = usize::from(u16::from_be_bytes([*hi, *lo])) + 20;
        if let Some(m) = p.get(..n).and_then(parse_message) {
            if m.dialect == Dialect::Rfc5389 {
                return StunProbe::Message(m);
            }
        }
    }
    if channel_data(p, true).is_some() {
        return StunProbe::ChannelData;
    }
    StunProbe::NotStun
}

/// Whether a TCP segment starts with MS-TURN framing ([MS-TURN] 2.1.4): type
/// 2 (TURN control) or 3 (end-to-end data), a zero byte, the length of the
/// frame's body; the frame fills the segment or is followed by another one.
pub fn is_ms_turn_frame(p: &[u8]) -> bool {
    match p {
        [2 | 3, 0, hi, lo, rest @ ..] => {
            let n = usize::from(u16::from_be_bytes([*hi, *lo]));
            n >= 4 && matches!(rest.get(n..), Some([] | [2 | 3, 0, ..]))
        }
        _ => false,
    }
}

/// The body of an MS-TURN end-to-end data frame (type 3) at the start of a
/// TCP segment: the relayed media (RTP or RTCP) a client sends over TCP.
pub fn ms_turn_data(p: &[u8]) -> Option<&[u8]> {
    ms_turn_frames(p)
        .next()
        .filter(|f| f.kind == 3 && f.whole)
        .map(|f| f.body)
}

/// One MS-TURN TCP frame ([MS-TURN] 2.1.4) found in a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsTurnFrame<'a> {
    /// 2: TURN control (a STUN message), 3: end-to-end data (media).
    pub kind: u8,
    /// The body, or as much of it as the segment holds.
    pub body: &'a [u8],
    /// The whole body is in the segment (the rest follows in the next one
    /// otherwise: there is no reassembly).
    pub whole: bool,
}

/// The MS-TURN frames a TCP segment starts with: each type 2 or 3, a zero
/// byte, a 16-bit length of at least 4, then the body; the walk stops at the
/// first byte that cannot start a frame and after a frame the segment cuts.
pub fn ms_turn_frames(p: &[u8]) -> impl Iterator<Item = MsTurnFrame<'_>> {
    let mut rest = p;
    std::iter::from_fn(move || {
        let [kind @ (2 | 3), 0, hi, lo, body @ ..] = rest else {
            return None;
        };
        let n = usize::from(u16::from_be_bytes([*hi, *lo]));
        if n < 4 {
            return None;
        }
        let (body, after, whole) = match body.split_at_checked(n) {
            Some((b, a)) => (b, a, true),
            None => (body, &[][..], false),
        };
        let f = MsTurnFrame {
            kind: *kind,
            body,
            whole,
        };
        rest = after;
        Some(f)
    })
}

/// Whether a TCP segment starts with an MS-TURN frame whose body is what its
/// type says: for control, a STUN header whose length fills the frame; for
/// data, an RTP or RTCP version-2 header. Unlike [`is_ms_turn_frame`] the
/// frame may run past the segment (a segment cut inside it) or be followed
/// by a cut one, so it judges media frames as TCP delivers them.
pub fn starts_ms_turn(p: &[u8]) -> bool {
    let Some(f) = ms_turn_frames(p).next() else {
        return false;
    };
    let frame_len = f.body.len().max(if f.whole { 0 } else { usize::MAX });
    match (f.kind, f.body) {
        (2, [t0, _, hi, lo, ..]) => {
            let stun_len = usize::from(u16::from_be_bytes([*hi, *lo])) + 20;
            t0 & 0xc0 == 0
                && stun_len % 4 == 0
                && (stun_len == f.body.len() || (!f.whole && stun_len >= f.body.len()))
        }
        (3, [b0, ..]) => (128..=191).contains(b0) && frame_len >= 8,
        _ => false,
    }
}

/// The data of one TURN ChannelData message (RFC 8656 §12): a channel
/// number, a length, that many bytes of application data, then padding to a
/// multiple of 4 that is never part of the data.
///
/// Channel numbers are 0x4000-0x7FFF, RFC 5766's range: RFC 8656 narrows new
/// bindings to 0x4000-0x4FFF but only reserves the rest, and relays built on
/// RFC 5766 still hand it out. Over TCP the padding is mandatory, so the
/// message may end anywhere inside it (a segment cut after the data); over
/// UDP it is optional, so the datagram ends right after the data or after the
/// whole padding. Anything else, an empty message included, is not
/// ChannelData: its first byte is also an ASCII letter, and only a consistent
/// length tells the two apart.
pub fn channel_data(p: &[u8], over_tcp: bool) -> Option<&[u8]> {
    let [a, b, hi, lo, rest @ ..] = p else {
        return None;
    };
    let channel = u16::from_be_bytes([*a, *b]);
    let n = usize::from(u16::from_be_bytes([*hi, *lo]));
    let padded = n.div_ceil(4) * 4;
    let ends_well = if over_tcp {
        (n..=padded).contains(&rest.len())
    } else {
        rest.len() == n || rest.len() == padded
    };
    if (0x4000..=0x7fff).contains(&channel) && n > 0 && ends_well {
        rest.get(..n)
    } else {
        None
    }
}

#[cfg(test)]
mod test {
    use super::*;

    use crate::dissect::hex;

    // Real messages from the corpus.
    const CLASSIC_REQ: &str = "000100089429ef88294dd52632c72931cb8dbb4c0003000400000000"; // stun_classic.pcap #1
    const CLASSIC_RESP: &str = "0101000c9429ef88294dd52632c72931cb8dbb4c000100080001d70aac103fe0"; // #2
    const TEAMS_RESP: &str = "010100342112a442567009c2ae00e698d98f01908070000400000007002000080001e24473a09b3900080014081c187c4cf903476de30538dee3554682a1e5d080280004513d0c54"; // stun_msteams_unidir.pcapng #1
    const SKYPE_REQ: &str = "000100542112a442c55a4fdfde0c325e304c60c700060009677070653a7a57796b000000002400046efffeff802a00080000000000bf43178054000131000000807000040000000300080014c3926666385c09a134e40a0c6c2ef3061a8b62ab802800041fb59b6b"; // skype-conference-call.pcap #1
    const TCP_TWO: &str = "000300082112a442704b6e453952586746596c590019000411000000"; // stun_tcp_multiple_msgs_same_pkt.pcap #2
                                                                                      // TURN ChannelData on channel 0x4003 over UDP: 22 bytes of SRTCP, not
                                                                                      // padded (#113), and a STUN Binding success response (#112).
    const CHANNEL_SRTCP: &str = "4003001680c9000100000001800000031ff01345009e4583923d"; // stun.pcap #113
    const CHANNEL_STUN: &str = "400300400101002c2112a442424a6650522b3470464652370020000800010e8298b82f4300080014a36bc8da81b21e6181dc646035008dbf2f5cc79b8028000454570d0b"; // stun.pcap #112

    #[test]
    fn channel_data_honours_its_length_and_padding() {
        let m = hex(CHANNEL_SRTCP);
        let data = &m[4..];
        assert_eq!(data.len(), 22);
        assert_eq!(channel_data(&m, false), Some(data));
        assert_eq!(channel_data(&m, true), Some(data));
        // Padded to 4 bytes, as TCP requires and UDP allows: the padding is
        // not data.
        let mut padded = m.clone();
        padded.extend([0, 0]);
        assert_eq!(channel_data(&padded, false), Some(data));
        assert_eq!(channel_data(&padded, true), Some(data));
        // Half the padding: a TCP segment may stop there, a datagram may not.
        let half = &padded[..padded.len() - 1];
        assert_eq!(channel_data(half, true), Some(data));
        assert_eq!(channel_data(half, false), None);
        // Bytes beyond the padding: not one message.
        let mut long = padded.clone();
        long.extend([0, 0, 0, 0]);
        assert_eq!(channel_data(&long, false), None);
        assert_eq!(channel_data(&long, true), None);
        // A length past the end, at every cut.
        for cut in 0..m.len() {
            assert_eq!(channel_data(&m[..cut], false), None, "cut {cut}");
            assert_eq!(channel_data(&m[..cut], true), None, "cut {cut}");
        }
        // Channel numbers: RFC 5766's 0x4000-0x7FFF.
        for (channel, ok) in [
            (0x3fffu16, false),
            (0x4000, true),
            (0x4fff, true),
            (0x5000, true),
            (0x7fff, true),
            (0x8000, false),
        ] {
            let mut x = m.clone();
            x[..2].copy_from_slice(&channel.to_be_bytes());
            assert_eq!(channel_data(&x, false).is_some(), ok, "{channel:#x}");
        }
        assert_eq!(channel_data(&[0x40, 0, 0, 0], false), None, "no data");
        // STUN relayed through the channel.
        let s = hex(CHANNEL_STUN);
        assert_eq!(parse_udp(&s), StunProbe::ChannelData);
        let inner = channel_data(&s, false).unwrap();
        assert!(matches!(parse_udp(inner), StunProbe::Message(m) if m.msg_type == 0x0101));
    }

    #[test]
    fn ms_turn_frames() {
        // A data frame carrying a 12-byte RTP header, alone and followed by another.
        let mut f = vec![3, 0, 0, 12, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
        assert!(is_ms_turn_frame(&f));
        f.extend([2, 0, 0, 4]);
        assert!(is_ms_turn_frame(&f));
        f.push(0x55);
        // What follows the first frame is not a frame header.
        let mut bad = f[..16].to_vec();
        bad.extend([0x17, 3, 3]);
        assert!(!is_ms_turn_frame(&bad));
        assert!(!is_ms_turn_frame(&[3, 0, 0, 12, 1, 2]), "cut frame");
        assert!(
            !is_ms_turn_frame(&[3, 1, 0, 4, 1, 2, 3, 4]),
            "second byte not zero"
        );
        assert!(!is_ms_turn_frame(&[3, 0, 0, 0]), "empty frame");
        assert_eq!(ms_turn_data(&f).map(<[u8]>::len), Some(12));
        assert_eq!(ms_turn_data(&f[..16]).map(|d| d[0]), Some(0x80));
        assert_eq!(
            ms_turn_data(&[2, 0, 0, 4, 0, 1, 0, 0]),
            None,
            "control, not data"
        );
        for cut in 0..f.len() {
            let _ = is_ms_turn_frame(&f[..cut]);
        }
    }

    #[test]
    fn real_messages() {
        let StunProbe::Message(m) = parse_udp(&hex(CLASSIC_REQ)) else {
            panic!()
        };
        assert_eq!((m.dialect, m.msg_type), (Dialect::Classic, 1));
        let StunProbe::Message(m) = parse_udp(&hex(CLASSIC_RESP)) else {
            panic!()
        };
        assert_eq!(
            m.mapped.unwrap().to_string(),
            "172.16.63.224:55050",
            "as tshark decodes it"
        );
        let StunProbe::Message(m) = parse_udp(&hex(TEAMS_RESP)) else {
            panic!()
        };
        assert_eq!(
            (m.dialect, m.microsoft),
            (Dialect::Rfc5389, true),
            "MS-IMPLEMENTATION-VERSION 0x8070"
        );
        assert_eq!(
            m.mapped.unwrap().to_string(),
            "82.178.63.123:50006",
            "as tshark decodes it"
        );
        let StunProbe::Message(m) = parse_udp(&hex(SKYPE_REQ)) else {
            panic!()
        };
        assert!(m.microsoft);
        let mut two = hex(TCP_TWO);
        two.extend(hex(TCP_TWO));
        let StunProbe::Message(m) = parse_tcp(&two) else {
            panic!()
        };
        assert_eq!(
            m.msg_type, 3,
            "Allocate over TCP, two messages in one segment"
        );
    }

    #[test]
    fn framings_and_ms_turn() {
        let msg = hex(TEAMS_RESP);
        let mut rfc4571 = (msg.len() as u16).to_be_bytes().to_vec();
        rfc4571.extend(&msg);
        assert!(matches!(parse_tcp(&rfc4571), StunProbe::Message(_)));
        let mut ms = vec![2, 0];
        ms.extend((msg.len() as u16).to_be_bytes());
        ms.extend(&msg);
        assert!(matches!(parse_tcp(&ms), StunProbe::Message(_)));
        // MS-TURN Allocate: no cookie, MAGIC-COOKIE attribute first.
        let mut m = vec![0, 3, 0, 8];
        m.extend([7u8; 16]);
        m.extend([0, 0x0f, 0, 4, 0x72, 0xc6, 0x4b, 0xc6]);
        let StunProbe::Message(s) = parse_udp(&m) else {
            panic!()
        };
        assert_eq!((s.dialect, s.microsoft), (Dialect::MsTurn, true));
        // Multiplexed TURN wrapper.
        let mut mux = vec![0xff, 0x10];
        mux.extend(((msg.len() + 8) as u16).to_be_bytes());
        mux.extend([9u8; 8]);
        mux.extend(&msg);
        assert!(matches!(parse_udp(&mux), StunProbe::Message(_)));
        assert_eq!(
            parse_udp(&[0x40, 0x01, 0, 4, 1, 2, 3, 4]),
            StunProbe::ChannelData
        );
    }

    #[test]
    fn not_stun() {
        let rtcp =
            hex("80c90005000003e85445413b6f681514fa9c98c95d7a5cf38000a15e01e3e4b990e8e3fcd2e170");
        assert_eq!(parse_udp(&rtcp), StunProbe::NotStun);
        assert_eq!(parse_udp(b"GET / HTTP/1.1\r\n"), StunProbe::NotStun);
        let mut bad_len = hex(TEAMS_RESP);
        bad_len[3] ^= 4;
        assert_eq!(parse_udp(&bad_len), StunProbe::NotStun);
        // Cookie-less, unknown type: not classic STUN.
        let mut m = hex(CLASSIC_REQ);
        m[1] = 0x33;
        assert_eq!(parse_udp(&m), StunProbe::NotStun);
    }

    #[test]
    fn every_truncation_and_mutation_is_safe() {
        for s in [CLASSIC_RESP, TEAMS_RESP, SKYPE_REQ] {
            let m = hex(s);
            for cut in 0..m.len() {
                assert!(
                    matches!(
                        parse_udp(&m[..cut]),
                        StunProbe::NotStun | StunProbe::ChannelData
                    ),
                    "cut {cut} of {s}"
                );
                let _ = parse_tcp(&m[..cut]);
            }
            for i in 0..m.len() {
                let mut x = m.clone();
                x[i] ^= 0xff;
                let _ = parse_udp(&x);
                let _ = parse_tcp(&x);
            }
        }
    }

    #[test]
    fn ms_turn_frames_as_tcp_delivers_them() {
        let mut rtp = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
        rtp.extend([0xd5; 160]);
        let mut frame = vec![3, 0, 0, 172];
        frame.extend(&rtp);
        let mut seg = frame.clone();
        seg.extend(&frame);
        seg.extend(&frame[..50]);
        let frames: Vec<MsTurnFrame> = super::ms_turn_frames(&seg).collect();
        assert_eq!(frames.len(), 3);
        assert!(frames[0].whole && frames[1].whole && !frames[2].whole);
        assert_eq!(frames[1].body, &rtp[..]);
        assert_eq!(frames[2].body.len(), 46);
        assert!(starts_ms_turn(&seg) && starts_ms_turn(&frame[..60]));
        assert_eq!(ms_turn_data(&seg), Some(&rtp[..]));
        assert_eq!(ms_turn_data(&frame[..60]), None, "a cut frame is no packet");
        // Data frames must hold RTP/RTCP, control frames a STUN header
        // that fills them.
        let mut bad = frame.clone();
        bad[4] = 0x17;
        assert!(!starts_ms_turn(&bad));
        let mut ctl = vec![2, 0, 0, 28, 0, 1, 0, 8];
        ctl.extend([0x11; 16]);
        ctl.extend([0, 0x0f, 0, 4]);
        ctl.extend([0x72, 0xc6, 0x4b, 0xc6]);
        assert!(starts_ms_turn(&ctl));
        ctl[7] = 12;
        assert!(!starts_ms_turn(&ctl));
        for cut in 0..seg.len() {
            let _ = starts_ms_turn(&seg[..cut]);
            assert!(super::ms_turn_frames(&seg[..cut]).count() <= 3);
        }
    }
}
