//! TLS record and hello parsing (RFC 8446, 6066 SNI, 7301 ALPN): enough to
//! recognise TLS and read what a passive observer can see in clear, the
//! ClientHello's SNI and ALPN and the version the ServerHello picks.
//!
//! [`parse_hello`] takes the bytes of one direction from the start of the
//! stream (the caller concatenates TCP segments, capped at [`MAX_HELLO`]),
//! so a ClientHello that spans two segments is read once both are there.

use super::cursor::Cursor;

/// The most bytes of one direction worth buffering for a hello (large
/// post-quantum key shares push ClientHellos past one segment).
pub const MAX_HELLO: usize = 16 * 1024;

/// Longest SNI kept (DNS names are at most 253 bytes).
const MAX_NAME: usize = 255;

/// Which hello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloKind {
    /// Sent by the client.
    Client,
    /// Sent by the server.
    Server,
}

/// What a hello says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// ClientHello or ServerHello.
    pub kind: HelloKind,
    /// SNI host name (ClientHello).
    pub sni: Option<String>,
    /// First offered (client) or selected (server) ALPN protocol id.
    pub alpn: Option<String>,
    /// Highest offered (client) or selected (server) version: 0x0304 for
    /// TLS 1.3 from supported_versions, else the legacy version field.
    pub version: u16,
}

/// Outcome of looking at the start of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsProbe {
    /// A complete hello.
    Hello(Hello),
    /// A TLS record that is not a hello (alert, application data...).
    OtherRecord,
    /// Looks like TLS so far; more bytes are needed.
    NeedMore,
    /// Not TLS.
    NotTls,
}

/// Whether 5 bytes can be a TLS record header: content type 20-23 and a
/// 3.x version with a plausible length, or the start of an SSLv2-format
/// ClientHello (high bit, length, type 1, version 2.0 or 3.x).
pub fn is_record_header(b: &[u8]) -> bool {
    match b {
        [ct, 3, minor, hi, lo, ..] if (20..=23).contains(ct) => {
            *minor <= 4 && usize::from(u16::from_be_bytes([*hi, *lo])) <= (1 << 14) + 2048
        }
        [hi, _, 1, 3, minor, ..] => hi & 0x80 != 0 && *minor <= 3,
        [hi, _, 1, 0, 2, ..] => hi & 0x80 != 0,
        _ => false,
    }
}

/// What the TLS records at the start of a segment are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKinds {
    /// Only handshake records (the last one may run past the segment).
    Handshake,
    /// At least one change-cipher-spec, alert or application-data record:
    /// the session is real TLS.
    Other,
    /// The segment does not start with a TLS record header.
    NotTls,
}

/// Walks the record headers of a segment (a real TLS session soon sends a
/// non-handshake record; MS-TURN's fake handshake never does).
pub fn record_kinds(mut b: &[u8]) -> RecordKinds {
    if !is_record_header(b) {
        return RecordKinds::NotTls;
    }
    while is_record_header(b) {
        let (ct, len) = match b {
            [ct, _, _, hi, lo, ..] => (*ct, usize::from(u16::from_be_bytes([*hi, *lo]))),
            _ => break,
        };
        if ct != 0x16 {
            return RecordKinds::Other;
        }
        match b.get(5 + len..) {
            Some(rest) => b = rest,
            None => break,
        }
    }
    RecordKinds::Handshake
}

/// A human name for a TLS version number (`tls_version` column).
pub fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0xfeff => "DTLS 1.0",
        0xfefd => "DTLS 1.2",
        0xfefc => "DTLS 1.3",
        _ => return None,
    })
}

/// An SSLv2-format ClientHello (RFC 6101 appendix E.2, RFC 5246 appendix
/// E.2): a 2-byte record header with the high bit set, message type 1, a
/// version 2.0 or 3.x, then cipher-spec, session-id and challenge lengths
/// that add up to the record (cipher specs 3 bytes each, a challenge of 16
/// to 32 bytes). Old clients open TLS sessions with it; it has no SNI.
pub fn sslv2_client_hello(stream: &[u8]) -> Option<Hello> {
    let mut c = Cursor::new(stream);
    let len = usize::from(c.u16()? & 0x7fff);
    let (msg, version) = (c.u8()?, c.u16()?);
    let (specs, session, challenge) = (c.u16()?, c.u16()?, c.u16()?);
    let ok = stream.first().is_some_and(|b| b & 0x80 != 0)
        && msg == 1
        && (version == 0x0002 || (0x0300..=0x0303).contains(&version))
        && specs > 0
        && specs % 3 == 0
        && (session == 0 || session == 16)
        && (16..=32).contains(&challenge)
        && len == 9 + usize::from(specs) + usize::from(session) + usize::from(challenge);
    ok.then_some(Hello {
        kind: HelloKind::Client,
        sni: None,
        alpn: None,
        version,
    })
}

/// Parses the start of one direction of a TLS stream.
pub fn parse_hello(stream: &[u8]) -> TlsProbe {
    if stream.first().is_some_and(|b| b & 0x80 != 0) {
        // No TLS record starts with the high bit: SSLv2 format or nothing,
        // decided by its first 11 bytes (the lengths must add up).
        return match sslv2_client_hello(stream) {
            Some(h) => TlsProbe::Hello(h),
            None if stream.len() < 11 && (stream.len() < 5 || is_record_header(stream)) => {
                TlsProbe::NeedMore
            }
            None => TlsProbe::NotTls,
        };
    }
    if stream.len() < 5 {
        // Judge what is there: a first byte that cannot start a record is not TLS.
        return match stream {
            [] => TlsProbe::NeedMore,
            [ct, rest @ ..] if (20..=23).contains(ct) && rest.first().is_none_or(|v| *v == 3) => {
                TlsProbe::NeedMore
            }
            _ => TlsProbe::NotTls,
        };
    }
    if !is_record_header(stream) {
        return TlsProbe::NotTls;
    }
    if stream.first() != Some(&22) {
        return TlsProbe::OtherRecord;
    }
    // Gather handshake bytes from consecutive handshake records.
    let mut hs: Vec<u8> = Vec::new();
    let mut c = Cursor::new(stream);
    loop {
        let (Some(ct), Some(_ver), Some(len)) = (c.u8(), c.u16(), c.u16()) else {
            return TlsProbe::NeedMore;
        };
        if ct != 22 {
            return TlsProbe::NotTls;
        }
        let Some(body) = c.bytes(usize::from(len)) else {
            // Partial record: use what is there if the hello fits.
            let rest = stream.get(stream.len() - c.remaining()..).unwrap_or(&[]);
            hs.extend_from_slice(rest);
            return match parse_handshake(&hs) {
                Some(Some(h)) => TlsProbe::Hello(h),
                Some(None) => TlsProbe::NotTls,
                None if stream.len() >= MAX_HELLO => TlsProbe::NotTls,
                None => TlsProbe::NeedMore,
            };
        };
        hs.extend_from_slice(body);
        match parse_handshake(&hs) {
            Some(Some(h)) => return TlsProbe::Hello(h),
            Some(None) => return TlsProbe::NotTls,
            None if c.remaining() == 0 => return TlsProbe::NeedMore,
            None => {}
        }
        if hs.len() >= MAX_HELLO {
            return TlsProbe::NotTls;
        }
    }
}

/// `None`: incomplete; `Some(None)`: not a hello; `Some(Some)`: a hello.
fn parse_handshake(hs: &[u8]) -> Option<Option<Hello>> {
    let mut c = Cursor::new(hs);
    let ty = c.u8()?;
    let len = c.u24()?;
    let kind = match ty {
        1 => HelloKind::Client,
        2 => HelloKind::Server,
        _ => return Some(None),
    };
    if len > MAX_HELLO * 4 {
        return Some(None);
    }
    let body = c.bytes(len)?;
    Some(parse_hello_body(kind, body))
}

fn parse_hello_body(kind: HelloKind, body: &[u8]) -> Option<Hello> {
    let mut c = Cursor::new(body);
    let legacy = c.u16()?;
    if legacy >> 8 != 3 {
        return None;
    }
    c.skip(32)?;
    let sid = c.u8()?;
    if sid > 32 {
        return None;
    }
    c.skip(usize::from(sid))?;
    match kind {
        HelloKind::Client => {
            let suites = c.u16()?;
            if suites % 2 != 0 {
                return None;
            }
            c.skip(usize::from(suites))?;
            let comp = c.u8()?;
            c.skip(usize::from(comp))?;
        }
        HelloKind::Server => {
            c.skip(3)?; // cipher suite + compression method
        }
    }
    let mut hello = Hello {
        kind,
        sni: None,
        alpn: None,
        version: legacy,
    };
    if c.remaining() == 0 {
        return Some(hello);
    }
    let ext_len = c.u16()?;
    let mut ext = Cursor::new(c.bytes(usize::from(ext_len))?);
    while ext.remaining() >= 4 {
        let ty = ext.u16()?;
        let len = ext.u16()?;
        let mut v = Cursor::new(ext.bytes(usize::from(len))?);
        match ty {
            0x0000 if kind == HelloKind::Client => {
                let _list = v.u16()?;
                if v.u8()? == 0 {
                    let n = v.u16()?;
                    let name = v.bytes(usize::from(n))?;
                    if !name.is_empty()
                        && name.len() <= MAX_NAME
                        && name.iter().all(|b| b.is_ascii_graphic())
                    {
                        hello.sni = Some(String::from_utf8_lossy(name).to_ascii_lowercase());
                    }
                }
            }
            0x0010 => {
                let _list = v.u16()?;
                let n = v.u8()?;
                let id = v.bytes(usize::from(n))?;
                if !id.is_empty() && id.iter().all(|b| b.is_ascii_graphic()) {
                    hello.alpn = Some(String::from_utf8_lossy(id).into_owned());
                }
            }
            0x002b => {
                // Client: a list of versions; server: the one chosen.
                let best = match kind {
                    HelloKind::Client => {
                        let n = v.u8()?;
                        let mut list = Cursor::new(v.bytes(usize::from(n))?);
                        let mut best = 0u16;
                        while let Some(ver) = list.u16() {
                            // Skip GREASE values (0x?a?a).
                            if ver & 0x0f0f != 0x0a0a && ver > best && ver >> 8 == 3 {
                                best = ver;
                            }
                        }
                        best
                    }
                    HelloKind::Server => v.u16()?,
                };
                if best >> 8 == 3 {
                    hello.version = hello.version.max(best);
                }
            }
            _ => {}
        }
    }
    Some(hello)
}

/// A minimal ClientHello record with an SNI, for tests elsewhere.
#[cfg(test)]
pub(crate) fn test_hello(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    ext.extend_from_slice(name);
    let mut body = vec![3, 3];
    body.extend([0u8; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend(body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

#[cfg(test)]
mod test {
    use super::*;

    use crate::dissect::hex;

    // Chrome's complete ClientHello from the corpus (chrome.pcap, frame 4, 517 bytes).
    const CHROME_HELLO: &str = concat!(
        "1603010200010001fc0303d77aa0f252cff8ff81a9c82edc42621f8c80d83b0322361c96ae2f2bda7849ce207094dfde",
        "2fae965e90337a4b4c5c840b86caabaca5ab87a6e290440145ae762900209a9a130313011302cca9cca8c02bc02fc02c",
        "c030c013c014009c009d002f0035010001934a4a000000000013001100000e7777772e6969742e636e722e6974001700",
        "00ff01000100000a000a00086a6a001d00170018000b00020100002300000010000e000c02683208687474702f312e31",
        "000500050100000000000d0012001004030804040105030805050108060601001200000033002b00296a6a000100001d",
        "00203af18d95cb86205f04c0a3e2b8c68b9026c6a90ef630fe20a68d31ea2525b648002d00020101002b000b0a6a6a03",
        "04030303020301001b00030200024469000500030268326a6a000100001500c500000000000000000000000000000000",
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000",
    );

    fn chrome_hello() -> Vec<u8> {
        hex(CHROME_HELLO)
    }

    #[test]
    fn sslv2_format_client_hello() {
        // 0x80 | 28, ClientHello, 3.1, 3 bytes of cipher specs, no session
        // id, a 16-byte challenge.
        let mut h = vec![
            0x80, 0x1c, 0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10,
        ];
        h.extend([0x00, 0x00, 0x2f]);
        h.extend([0x5a; 16]);
        let TlsProbe::Hello(hello) = parse_hello(&h) else {
            panic!("{:?}", parse_hello(&h));
        };
        assert_eq!((hello.kind, hello.version), (HelloKind::Client, 0x0301));
        // A length that does not add up, or a challenge of 8 bytes: not it.
        h[1] = 0x1d;
        assert_eq!(sslv2_client_hello(&h), None);
        h[1] = 0x1c;
        h[10] = 8;
        assert_eq!(sslv2_client_hello(&h), None);
        for n in 0..h.len() {
            let _ = parse_hello(&h[..n]);
        }
    }

    #[test]
    fn record_kinds_tell_real_tls_from_a_bare_handshake() {
        let hello = chrome_hello();
        assert_eq!(record_kinds(&hello), RecordKinds::Handshake);
        assert_eq!(record_kinds(&hello[..40]), RecordKinds::Handshake);
        // A handshake record followed by change cipher spec in one segment.
        let mut two = hello.clone();
        two.extend([0x14, 3, 3, 0, 1, 1]);
        assert_eq!(record_kinds(&two), RecordKinds::Other);
        assert_eq!(record_kinds(&[0x17, 3, 3, 0, 2, 9, 9]), RecordKinds::Other);
        assert_eq!(record_kinds(&[2, 0, 0, 4, 1, 2, 3, 4]), RecordKinds::NotTls);
        assert_eq!(record_kinds(&[]), RecordKinds::NotTls);
        for cut in 0..two.len() {
            let _ = record_kinds(&two[..cut]);
        }
    }

    #[test]
    fn reads_sni_and_alpn_from_a_real_client_hello() {
        let h = chrome_hello();
        match parse_hello(&h) {
            TlsProbe::Hello(hello) => {
                assert_eq!(hello.kind, HelloKind::Client);
                assert_eq!(hello.sni.as_deref(), Some("www.iit.cnr.it"));
                assert_eq!(hello.alpn.as_deref(), Some("h2"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_hello_split_across_segments_needs_more_then_parses() {
        let h = chrome_hello();
        for cut in [1, 4, 5, 6, 60, 200, 400, h.len() - 1] {
            assert_eq!(parse_hello(&h[..cut]), TlsProbe::NeedMore, "cut {cut}");
        }
        assert!(matches!(parse_hello(&h), TlsProbe::Hello(_)));
    }

    #[test]
    fn not_tls() {
        assert_eq!(parse_hello(b"GET / HTTP/1.1\r\n\r\n"), TlsProbe::NotTls);
        assert_eq!(parse_hello(b"SSH-2.0-OpenSSH"), TlsProbe::NotTls);
        assert_eq!(
            parse_hello(&[0x17, 3, 3, 0, 10, 1, 2]),
            TlsProbe::OtherRecord
        );
        assert_eq!(
            parse_hello(&[0x16, 3, 3, 0, 4, 9, 0, 0, 0]),
            TlsProbe::NotTls,
            "handshake type 9"
        );
    }

    #[test]
    fn malformed_lengths_never_panic() {
        let h = chrome_hello();
        for i in 0..h.len() {
            for v in [0u8, 0xff, 0x80] {
                let mut m = h.clone();
                m[i] = v;
                let _ = parse_hello(&m);
            }
        }
        // Zero-length record and zero-length extensions.
        let _ = parse_hello(&[0x16, 3, 1, 0, 0]);
        let _ = parse_hello(&[0x16, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3]);
    }

    #[test]
    fn server_hello_version_from_supported_versions() {
        // ServerHello: legacy 0x0303, supported_versions = 0x0304.
        let mut body = vec![3, 3];
        body.extend([0u8; 32]);
        body.push(0);
        body.extend([0x13, 0x01, 0]);
        body.extend([0, 6, 0, 0x2b, 0, 2, 3, 4]);
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend(&body);
        let mut rec = vec![0x16, 3, 3, 0, hs.len() as u8];
        rec.extend(&hs);
        match parse_hello(&rec) {
            TlsProbe::Hello(h) => {
                assert_eq!((h.kind, h.version), (HelloKind::Server, 0x0304));
                assert_eq!(version_name(h.version), Some("TLS 1.3"));
            }
            other => panic!("{other:?}"),
        }
    }
}
