//! SIP (RFC 3261, [MS-SIP]) start lines and the few headers pathlens keeps,
//! plus the SDP media lines (RFC 4566 `c=`, `m=`, `a=rtpmap`) that name
//! where a call's media will flow.

/// Methods accepted in a request line, with Lync/SfB's SERVICE and BENOTIFY.
pub const METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "SUBSCRIBE",
    "NOTIFY",
    "MESSAGE",
    "INFO",
    "PRACK",
    "UPDATE",
    "REFER",
    "PUBLISH",
    "SERVICE",
    "BENOTIFY",
];

/// Longest header value kept (User-Agent can be long; keep it bounded).
const MAX_VALUE: usize = 128;

/// The start of a SIP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    /// A request with its method and Request-URI host.
    Request {
        /// The method, upper case.
        method: &'static str,
        /// Host part of the Request-URI, if any.
        host: Option<String>,
    },
    /// A response with its status code.
    Response {
        /// The status code.
        code: u16,
    },
}

/// Payload type bindings read per media line.
const MAX_RTPMAP: usize = 32;

/// An SDP `a=rtpmap`: what a payload type number means on one media line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RtpMap {
    /// The payload type number.
    pub pt: u8,
    /// Its encoding name, as written.
    pub codec: std::sync::Arc<str>,
    /// Its RTP clock rate in Hz.
    pub clock_rate: u32,
}

/// A media line of an SDP body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpMedia {
    /// Connection address (`c=` of the media, else of the session).
    pub addr: std::net::IpAddr,
    /// Media port.
    pub port: u16,
    /// First payload type offered.
    pub payload_type: Option<u8>,
    /// The `a=rtpmap` bindings of the offered payload types (at most 32: a
    /// browser's video offer lists about 30).
    pub rtpmap: Vec<RtpMap>,
    /// A separate RTCP port from `a=rtcp:`, if given.
    pub rtcp_port: Option<u16>,
    /// The transport profile is a secure one (`RTP/SAVP`, `RTP/SAVPF`,
    /// `UDP/TLS/RTP/SAVP`): the media will be SRTP.
    pub secure: bool,
}

/// What one SIP message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipMessage {
    /// Request or response line.
    pub start: StartLine,
    /// User-Agent (requests) or Server (responses).
    pub user_agent: Option<String>,
    /// Media announced in an SDP body.
    pub media: Vec<SdpMedia>,
    /// Microsoft's own markers: a Lync / Skype for Business / Teams user
    /// agent or server, or one of the `ms-` headers of [MS-SIPRE].
    pub microsoft: bool,
    /// A hash of the `Call-ID` (or compact `i`) header, which names the
    /// dialog: the value itself is never kept, it may name a user or host.
    pub call_id: Option<u64>,
    /// Bytes of the message, headers and body, when a `Content-Length` (or
    /// compact `l`) header gave the body's: where a next message in the same
    /// stream segment starts.
    pub len: Option<usize>,
}

/// FNV-1a, 64 bits: a stable hash of a header value, the same in every run
/// and on every machine, so dialogs compare across records and workers.
fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &c| {
        (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Whether a User-Agent or Server value is one of Microsoft's SIP stacks:
/// the Lync / Skype for Business client (`UCCAPI/`, `OC/`), its servers and
/// gateways (`RTC/`, `RTCC/`, `LCC/`), or a product name.
fn microsoft_agent(value: &[u8]) -> bool {
    let v = trim(value);
    const PREFIXES: [&[u8]; 5] = [b"UCCAPI/", b"OC/", b"RTC/", b"RTCC/", b"LCC/"];
    const NAMES: [&[u8]; 4] = [
        b"Skype for Business",
        b"Microsoft Lync",
        b"Microsoft Teams",
        b"Microsoft Office Communicator",
    ];
    PREFIXES
        .iter()
        .any(|p| v.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
        || NAMES
            .iter()
            .any(|n| v.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)))
}

/// Outcome of looking at a payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SipProbe {
    /// A SIP message.
    Message(SipMessage),
    /// A keep-alive (CRLF CRLF or a bare CRLF): SIP-compatible, not proof.
    KeepAlive,
    /// Not SIP.
    NotSip,
}

fn line_end(b: &[u8]) -> usize {
    b.iter().position(|&c| c == b'\n').unwrap_or(b.len())
}

fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or(&[])
}

fn bounded_text(b: &[u8]) -> Option<String> {
    let b = trim(b);
    if b.is_empty() {
        return None;
    }
    let b = b.get(..MAX_VALUE.min(b.len())).unwrap_or(b);
    Some(String::from_utf8_lossy(b).into_owned())
}

fn parse_start(line: &[u8]) -> Option<StartLine> {
    let line = trim(line);
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        let code = rest.get(..3)?;
        if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|c| *c != b' ') {
            return None;
        }
        let code = std::str::from_utf8(code).ok()?.parse().ok()?;
        return (100..700)
            .contains(&code)
            .then_some(StartLine::Response { code });
    }
    let mut parts = line.split(|&c| c == b' ');
    let m = parts.next()?;
    let method = METHODS
        .iter()
        .find(|x| x.as_bytes().eq_ignore_ascii_case(m))?;
    let uri = parts.next()?;
    if parts.next()? != b"SIP/2.0" {
        return None;
    }
    let lower = uri.to_ascii_lowercase();
    let rest = lower
        .strip_prefix(b"sips:")
        .or_else(|| lower.strip_prefix(b"sip:"))
        .or_else(|| lower.strip_prefix(b"tel:"))?;
    let host_part = match rest.iter().position(|&c| c == b'@') {
        Some(at) => rest.get(at + 1..)?,
        None if lower.starts_with(b"tel:") => &[][..],
        None => rest,
    };
    let end = host_part
        .iter()
        .position(|&c| matches!(c, b':' | b';' | b'>' | b'?'))
        .unwrap_or(host_part.len());
    let host = host_part
        .get(..end)
        .filter(|h| !h.is_empty() && h.len() <= 255)
        .map(|h| String::from_utf8_lossy(h).into_owned());
    Some(StartLine::Request { method, host })
}

/// Parses one SIP message from the start of a payload.
pub fn parse(payload: &[u8]) -> SipProbe {
    if payload.iter().all(|&c| c == b'\r' || c == b'\n') && !payload.is_empty() {
        return SipProbe::KeepAlive;
    }
    // Cheap rejections first: this runs on every unrecognised payload.
    if !payload.first().is_some_and(u8::is_ascii_alphabetic) {
        return SipProbe::NotSip;
    }
    let word_end = payload
        .iter()
        .take(12)
        .position(|&c| c == b' ')
        .unwrap_or(12);
    let word = payload.get(..word_end).unwrap_or(&[]);
    if word != b"SIP/2.0"
        && !METHODS
            .iter()
            .any(|m| m.as_bytes().eq_ignore_ascii_case(word))
    {
        return SipProbe::NotSip;
    }
    let first = line_end(payload);
    let Some(start) = payload.get(..first).and_then(parse_start) else {
        return SipProbe::NotSip;
    };
    let mut user_agent = None;
    let mut microsoft = false;
    let mut rest = payload.get(first + 1..).unwrap_or(&[]);
    let mut body: &[u8] = &[];
    let (mut call_id, mut content_length) = (None, None);
    while !rest.is_empty() {
        let n = line_end(rest);
        let line = rest.get(..n).unwrap_or(&[]);
        let next = rest.get(n + 1..).unwrap_or(&[]);
        if trim(line).is_empty() {
            body = next;
            break;
        }
        if let Some(colon) = line.iter().position(|&c| c == b':') {
            let name = trim(line.get(..colon).unwrap_or(&[]));
            let value = line.get(colon + 1..).unwrap_or(&[]);
            let is_ua =
                name.eq_ignore_ascii_case(b"user-agent") || name.eq_ignore_ascii_case(b"server");
            if is_ua && user_agent.is_none() {
                user_agent = bounded_text(value);
            }
            if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
                call_id = Some(trim(value)).filter(|v| !v.is_empty()).map(fnv1a);
            } else if name.eq_ignore_ascii_case(b"content-length")
                || name.eq_ignore_ascii_case(b"l")
            {
                content_length = std::str::from_utf8(trim(value))
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok());
            }
            microsoft |= (is_ua && microsoft_agent(value))
                || name
                    .get(..3)
                    .is_some_and(|h| h.eq_ignore_ascii_case(b"ms-"));
        }
        rest = next;
    }
    // The body ends where its length says (another message may follow in
    // the same segment); without a length, at the end of the payload.
    let head = payload.len().saturating_sub(body.len());
    let len = content_length.map(|n| head.saturating_add(n));
    let body = content_length.map_or(body, |n| body.get(..n).unwrap_or(body));
    SipProbe::Message(SipMessage {
        start,
        user_agent,
        media: parse_sdp(body),
        microsoft,
        call_id,
        len,
    })
}

/// The SIP messages at the start of a payload, one after another by their
/// `Content-Length` (a TCP segment may carry several), at most `max`.
pub fn messages(payload: &[u8], max: usize) -> impl Iterator<Item = SipMessage> + '_ {
    let mut rest = Some(payload);
    std::iter::from_fn(move || {
        let r = rest.take()?;
        let SipProbe::Message(m) = parse(r) else {
            return None;
        };
        rest = m
            .len
            .and_then(|n| r.get(n..))
            .filter(|next| !next.is_empty() && next.len() < r.len());
        Some(m)
    })
    .take(max)
}

/// Reads the media lines of an SDP body (at most 8 streams).
pub fn parse_sdp(body: &[u8]) -> Vec<SdpMedia> {
    let mut out: Vec<SdpMedia> = Vec::new();
    let mut session_addr = None;
    let mut current: Option<SdpMedia> = None;
    for raw in body.split(|&c| c == b'\n') {
        let line = trim(raw);
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        if let Some(c) = text.strip_prefix("c=") {
            let addr = c
                .split_whitespace()
                .nth(2)
                .and_then(|a| a.split('/').next())
                .and_then(|a| a.parse().ok());
            match (&mut current, addr) {
                (Some(m), Some(a)) => m.addr = a,
                (None, Some(a)) => session_addr = Some(a),
                _ => {}
            }
        } else if let Some(m) = text.strip_prefix("m=") {
            if let Some(done) = current.take() {
                out.push(done);
            }
            let mut f = m.split_whitespace();
            let _kind = f.next();
            let port = f
                .next()
                .and_then(|p| p.split('/').next())
                .and_then(|p| p.parse::<u16>().ok());
            let secure = f.next().is_some_and(|p| p.contains("SAVP"));
            let pt = f.next().and_then(|p| p.parse::<u8>().ok());
            if let (Some(port), Some(addr)) = (port, session_addr) {
                if port != 0 && out.len() < 8 {
                    current = Some(SdpMedia {
                        addr,
                        port,
                        payload_type: pt,
                        rtpmap: Vec::new(),
                        rtcp_port: None,
                        secure,
                    });
                }
            }
        } else if let (Some(m), Some(a)) = (&mut current, text.strip_prefix("a=rtpmap:")) {
            let mut f = a.split_whitespace();
            let pt = f.next().and_then(|p| p.parse::<u8>().ok());
            let mut enc = f.next().unwrap_or("").split('/');
            let codec = enc.next().filter(|s| !s.is_empty() && s.len() <= 32);
            let clock = enc.next().and_then(|r| r.parse::<u32>().ok());
            if let (Some(pt), Some(codec), Some(clock_rate)) = (pt, codec, clock) {
                let known = m.rtpmap.iter().any(|r| r.pt == pt);
                if pt < 128 && clock_rate > 0 && !known && m.rtpmap.len() < MAX_RTPMAP {
                    m.rtpmap.push(RtpMap {
                        pt,
                        codec: codec.into(),
                        clock_rate,
                    });
                }
            }
        } else if let (Some(m), Some(a)) = (&mut current, text.strip_prefix("a=rtcp:")) {
            m.rtcp_port = a.split_whitespace().next().and_then(|p| p.parse().ok());
        }
    }
    if let Some(done) = current {
        out.push(done);
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    use crate::dissect::hex;

    // The INVITE with SDP from the corpus's sip.pcap.
    const INVITE: &str = "494e56495445207369703a393732333932383730343440766f69702e6272756a756c612e6e6574205349502f322e300d0a5669613a205349502f322e302f554450203139322e3136382e312e323a353036303b6272616e63683d7a39684734624b6e703130343938343035332d34346365346134313139322e3136382e312e323b72706f72740d0a46726f6d3a20226172696b22203c7369703a38313636363640766f69702e627275726a756c612e6e65743e3b7461673d363433336566390d0a546f3a203c7369703a393732333932383730343440766f69702e6272756a756c612e6e65743e0d0a43616c6c2d49443a203130353039303235392d3434366661663761403139322e3136382e312e320d0a435365713a203120494e564954450d0a557365722d4167656e743a204e65726f2053495050532049502050686f6e652056657273696f6e20322e302e35312e31360d0a457870697265733a203132300d0a4163636570743a206170706c69636174696f6e2f7364700d0a436f6e74656e742d547970653a206170706c69636174696f6e2f7364700d0a436f6e74656e742d4c656e6774683a203237320d0a436f6e746163743a203c7369703a383136363636403139322e3136382e312e323e0d0a4d61782d466f7277617264733a2037300d0a416c6c6f773a20494e564954452c2041434b2c2043414e43454c2c204259452c2052454645522c204f5054494f4e532c204e4f544946592c20494e464f0d0a0d0a763d300d0a6f3d5349505053203130353031353136352031303530313531363220494e20495034203139322e3136382e312e320d0a733d5349502063616c6c0d0a633d494e20495034203139322e3136382e312e320d0a743d3020300d0a6d3d617564696f203330303030205254502f41565020302038203937203220330d0a613d7274706d61703a302070636d752f383030300d0a613d7274706d61703a382070636d612f383030300d0a613d7274706d61703a393720694c42432f383030300d0a613d7274706d61703a3220473732362d33322f383030300d0a613d7274706d61703a332047534d2f383030300d0a613d666d74703a3937206d6f64653d32300d0a613d73656e64726563760d0a";

    #[test]
    fn call_id_is_hashed_and_content_length_bounds_the_body() {
        let one = b"INVITE sip:b@x SIP/2.0\r\nCall-ID: abc@h\r\nContent-Length: 20\r\n\r\nv=0\r\nc=IN IP4 10.0.0.5\r\nm=audio 40000 RTP/AVP 0\r\n";
        let head = one.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let SipProbe::Message(m) = parse(one) else {
            panic!("not SIP")
        };
        assert_eq!(m.call_id, Some(fnv1a(b"abc@h")));
        assert_eq!(m.len, Some(head + 20));
        // The body stops at its length, inside the address: no media.
        assert!(m.media.is_empty());
        let compact = b"SIP/2.0 200 OK\r\ni:  abc@h \r\nl: 0\r\n\r\nINVITE sip:c@x SIP/2.0\r\n";
        let SipProbe::Message(m) = parse(compact) else {
            panic!("not SIP")
        };
        assert_eq!(m.call_id, Some(fnv1a(b"abc@h")), "compact form, trimmed");
        let next = &compact[m.len.unwrap()..];
        assert!(
            next.starts_with(b"INVITE "),
            "{:?}",
            String::from_utf8_lossy(next)
        );
        let SipProbe::Message(m) = parse(b"OPTIONS sip:x SIP/2.0\r\n\r\n") else {
            panic!("not SIP")
        };
        assert_eq!((m.call_id, m.len), (None, None));
    }

    #[test]
    fn real_invite_with_sdp() {
        let SipProbe::Message(m) = parse(&hex(INVITE)) else {
            panic!("not SIP")
        };
        assert_eq!(
            m.start,
            StartLine::Request {
                method: "INVITE",
                host: Some("voip.brujula.net".into())
            }
        );
        assert_eq!(
            m.user_agent.as_deref(),
            Some("Nero SIPPS IP Phone Version 2.0.51.16")
        );
        assert_eq!(m.media.len(), 1);
        let s = &m.media[0];
        assert_eq!(
            (s.addr.to_string().as_str(), s.port, s.payload_type),
            ("192.168.1.2", 30000, Some(0))
        );
        let maps: Vec<(u8, &str, u32)> = s
            .rtpmap
            .iter()
            .map(|r| (r.pt, &*r.codec, r.clock_rate))
            .collect();
        assert_eq!(
            maps,
            [
                (0, "pcmu", 8000),
                (8, "pcma", 8000),
                (97, "iLBC", 8000),
                (2, "G726-32", 8000),
                (3, "GSM", 8000)
            ]
        );
        assert!(!s.secure, "RTP/AVP is plain RTP");
    }

    #[test]
    fn secure_profiles_and_rtcp_port() {
        let sdp = b"v=0\r\nc=IN IP4 10.0.0.5\r\nm=audio 50010 RTP/SAVP 0\r\na=rtcp:50011\r\nm=video 50020 UDP/TLS/RTP/SAVPF 96\r\nm=audio 40000 RTP/AVP 8\r\n";
        let m = parse_sdp(sdp);
        assert_eq!(
            m.iter()
                .map(|x| (x.port, x.secure, x.rtcp_port))
                .collect::<Vec<_>>(),
            vec![
                (50010, true, Some(50011)),
                (50020, true, None),
                (40000, false, None)
            ]
        );
    }

    #[test]
    fn responses_and_microsoft_methods() {
        let r = parse(b"SIP/2.0 401 Unauthorized\r\nServer: RTCC/7.0.0.0\r\n\r\n");
        let SipProbe::Message(m) = r else { panic!() };
        assert_eq!(m.start, StartLine::Response { code: 401 });
        assert_eq!(m.user_agent.as_deref(), Some("RTCC/7.0.0.0"));
        assert!(m.microsoft, "RTCC/ is the Skype for Business server stack");
        let SipProbe::Message(m) = parse(b"SERVICE sip:alice@contoso.com;gruu SIP/2.0\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(
            m.start,
            StartLine::Request {
                method: "SERVICE",
                host: Some("contoso.com".into())
            }
        );
        let SipProbe::Message(m) = parse(b"invite tel:+15551234 SIP/2.0\r\n") else {
            panic!()
        };
        assert_eq!(
            m.start,
            StartLine::Request {
                method: "INVITE",
                host: None
            }
        );
        assert_eq!(parse(b"\r\n\r\n"), SipProbe::KeepAlive);
    }

    #[test]
    fn not_sip() {
        for p in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"HTTP/1.1 200 OK\r\n",
            b"SIP/2.0 99 x\r\n",
            b"SIP/2.0 2000 x",
            b"INVITE http://x SIP/2.0",
            b"INVITE sip:x SIP/3.0",
            b"",
            b"\x16\x03\x01",
        ] {
            assert_eq!(
                parse(p),
                SipProbe::NotSip,
                "{:?}",
                String::from_utf8_lossy(p)
            );
        }
    }

    #[test]
    fn truncation_at_every_offset_never_panics() {
        let m = hex(INVITE);
        for cut in 0..m.len() {
            let _ = parse(&m[..cut]);
        }
        // Hostile SDP: huge ports, missing fields, many m= lines.
        let sdp =
            b"c=IN IP4 10.0.0.1\nm=audio 99999 RTP/AVP\nm=audio\nm=video 0 RTP/AVP 96\n".repeat(20);
        assert!(parse_sdp(&sdp).len() <= 8);
    }

    #[test]
    fn microsoft_markers_are_the_agent_or_an_ms_header_and_nothing_else() {
        let msg = |headers: &str| {
            let text = format!("OPTIONS sip:pbx.example.net SIP/2.0\r\n{headers}\r\n\r\n");
            match parse(text.as_bytes()) {
                SipProbe::Message(m) => m.microsoft,
                other => panic!("{other:?}"),
            }
        };
        assert!(msg(
            "User-Agent: UCCAPI/16.0.13328.20130 OC/16.0.13328.20292 (Skype for Business)"
        ));
        assert!(msg("Server: RTC/6.0"));
        assert!(msg("User-Agent: Microsoft Teams Direct Routing"));
        assert!(msg("ms-keep-alive: UAC;hop-hop=yes"));
        assert!(!msg("User-Agent: Yealink SIP-T46S 66.85.0.5"));
        assert!(!msg("Server: Asterisk PBX 18.20.0"));
        assert!(!msg("User-Agent: Linphone/5.2 (belle-sip/5.2)"));
        assert!(!msg("Subject: notes on OC/RTC stacks"));
    }
}
