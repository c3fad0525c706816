//! Line-based protocols recognised from their first lines: HTTP/1.x, SMTP,
//! POP3, IMAP (with STARTTLS) and XMPP, from its stream header or, in a
//! capture that starts mid-session, from its stanzas. Each answers from one
//! payload in one direction; the classifier combines both directions.
//!
//! XMPP mid-stream (RFC 6120 §4, §8): a payload is XMPP when it is one or
//! more whole top-level elements (it starts with `<`, ends with `>`, nothing
//! but whitespace around them) and the first is XMPP's own: `<stream:...`
//! or `</stream:stream>`, a stanza (`<iq` with an `id` and a `type` of
//! get/set/result/error, `<message`, `<presence`) whose element closes in the
//! payload, or an element in an XMPP namespace (`urn:xmpp:`,
//! `urn:ietf:params:xml:ns:xmpp-`, `jabber:`). Any other XML (SOAP, a
//! `<?xml` document, XML-RPC) is not XMPP. A payload of one to four
//! whitespace bytes is RFC 6120 §4.6.1's keep-alive: weak evidence that
//! counts only on an XMPP port and only when nothing else was seen.

/// What one payload says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextProbe {
    /// An HTTP request, with its Host header.
    HttpRequest {
        /// Host header, if present.
        host: Option<String>,
    },
    /// An HTTP response status line.
    HttpResponse,
    /// An SMTP client command (EHLO/HELO), with the announced name.
    SmtpHello {
        /// The EHLO/HELO argument.
        name: Option<String>,
    },
    /// An SMTP server greeting that names SMTP.
    SmtpBanner,
    /// A 220 greeting that does not name its protocol (SMTP or FTP).
    Greeting220,
    /// A POP3 `+OK` greeting or a POP3-only command.
    Pop3,
    /// An IMAP untagged greeting or tagged command.
    Imap,
    /// An XMPP stream header, or a whole XMPP element mid-stream.
    Xmpp,
    /// One to four whitespace bytes: an XMPP keep-alive, if the port says XMPP.
    WhitespaceKeepAlive,
    /// A STARTTLS (SMTP, IMAP, XMPP) or STLS (POP3) request.
    StartTls,
    /// Nothing recognised.
    Unknown,
}

const HTTP_METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"RPC_IN_DATA ",
    b"RPC_OUT_DATA ",
];

fn first_line(p: &[u8]) -> &[u8] {
    let end = p.iter().position(|&c| c == b'\n').unwrap_or(p.len());
    let l = p.get(..end).unwrap_or(&[]);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn starts_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.get(..needle.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(needle))
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn header(p: &[u8], name: &[u8]) -> Option<String> {
    for line in p.split(|&c| c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if starts_ci(line, name) && line.get(name.len()) == Some(&b':') {
            let v = line.get(name.len() + 1..)?;
            let v = String::from_utf8_lossy(v).trim().to_ascii_lowercase();
            return (!v.is_empty() && v.len() <= 255).then_some(v);
        }
    }
    None
}

/// Looks at the first line(s) of a payload.
pub fn probe(p: &[u8]) -> TextProbe {
    // Every probe below starts with a printable character or whitespace
    // (an XMPP element may follow whitespace); binary payloads stop here
    // rather than be scanned whole for a line end.
    if !p
        .first()
        .is_some_and(|c| c.is_ascii_graphic() || c.is_ascii_whitespace())
    {
        return TextProbe::Unknown;
    }
    let line = first_line(p);
    if HTTP_METHODS.iter().any(|m| line.starts_with(m))
        && (line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0"))
    {
        let host = header(p, b"host")
            .map(|h| h.split(':').next().unwrap_or("").to_string())
            .filter(|h| !h.is_empty());
        return TextProbe::HttpRequest { host };
    }
    // HTTP/0.9 (RFC 1945 §4.1): `GET` SP path CRLF, nothing after it.
    if line.starts_with(b"GET /")
        && line.get(4..).is_some_and(|path| !path.contains(&b' '))
        && p.len() == line.len() + 2
        && p.ends_with(b"\r\n")
    {
        return TextProbe::HttpRequest { host: None };
    }
    if (line.starts_with(b"HTTP/1.1 ") || line.starts_with(b"HTTP/1.0 "))
        && line
            .get(9..12)
            .is_some_and(|c| c.iter().all(u8::is_ascii_digit))
    {
        return TextProbe::HttpResponse;
    }
    if starts_ci(line, b"EHLO ") || starts_ci(line, b"HELO ") {
        let name = line
            .get(5..)
            .map(|n| String::from_utf8_lossy(n).trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty() && n.len() <= 255);
        return TextProbe::SmtpHello { name };
    }
    if line.starts_with(b"220 ") || line.starts_with(b"220-") {
        return if contains_ci(line, b"SMTP")
            || contains_ci(line, b"mail") && !contains_ci(line, b"FTP")
        {
            TextProbe::SmtpBanner
        } else {
            TextProbe::Greeting220
        };
    }
    if line.eq_ignore_ascii_case(b"STARTTLS") || line.eq_ignore_ascii_case(b"STLS") {
        return TextProbe::StartTls;
    }
    if line.starts_with(b"+OK")
        || ["CAPA", "UIDL", "APOP "]
            .iter()
            .any(|c| starts_ci(line, c.as_bytes()))
    {
        return TextProbe::Pop3;
    }
    if line.starts_with(b"* OK")
        || line.starts_with(b"* PREAUTH")
        || line.starts_with(b"* CAPABILITY")
    {
        return TextProbe::Imap;
    }
    // Tagged IMAP command: "<tag> CAPABILITY|LOGIN|STARTTLS|AUTHENTICATE|SELECT".
    let mut words = line.split(|&c| c == b' ');
    if let (Some(tag), Some(cmd)) = (words.next(), words.next()) {
        // A 3-digit "tag" is an FTP/SMTP reply code ("230 Login successful").
        let reply_code = tag.len() == 3 && tag.iter().all(u8::is_ascii_digit);
        let tag_ok = !reply_code
            && !tag.is_empty()
            && tag.len() <= 16
            && tag.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'.');
        if tag_ok {
            if cmd.eq_ignore_ascii_case(b"STARTTLS") {
                return TextProbe::StartTls;
            }
            if ["CAPABILITY", "LOGIN", "AUTHENTICATE", "SELECT", "ID"]
                .iter()
                .any(|c| cmd.eq_ignore_ascii_case(c.as_bytes()))
            {
                return TextProbe::Imap;
            }
        }
    }
    if (p.starts_with(b"<?xml") || p.starts_with(b"<stream:stream"))
        && contains_ci(p.get(..512.min(p.len())).unwrap_or(p), b"jabber")
    {
        return TextProbe::Xmpp;
    }
    if p.starts_with(b"<starttls") {
        return TextProbe::StartTls;
    }
    if (1..=4).contains(&p.len()) && p.iter().all(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t')) {
        return TextProbe::WhitespaceKeepAlive;
    }
    if xmpp_element(p) {
        return TextProbe::Xmpp;
    }
    TextProbe::Unknown
}

/// XMPP namespaces: an element in one of them is XMPP's.
const XMPP_NS: [&[u8]; 4] = [
    b"urn:xmpp:",
    b"urn:ietf:params:xml:ns:xmpp-",
    b"jabber:",
    b"http://etherx.jabber.org/streams",
];

/// Whether a payload is whole XMPP elements seen mid-stream (see the module
/// doc for the rule).
fn xmpp_element(p: &[u8]) -> bool {
    let trimmed = p.trim_ascii();
    if trimmed.len() < 4 || !trimmed.starts_with(b"<") || !trimmed.ends_with(b">") {
        return false;
    }
    // Text nodes of XMPP are escaped; a raw NUL or other control byte is not XML.
    if trimmed
        .iter()
        .any(|c| c.is_ascii_control() && !c.is_ascii_whitespace())
    {
        return false;
    }
    if trimmed.starts_with(b"</stream:stream>") || trimmed.starts_with(b"<stream:") {
        return true;
    }
    let head_end = trimmed
        .iter()
        .position(|&c| c == b'>')
        .unwrap_or(trimmed.len());
    let head = trimmed.get(..head_end).unwrap_or(&[]);
    let name_end = head
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == b'/')
        .unwrap_or(head.len());
    let name = head.get(1..name_end).unwrap_or(&[]);
    let closes = |tag: &[u8]| {
        head.ends_with(b"/") || {
            let mut end = b"</".to_vec();
            end.extend_from_slice(tag);
            end.push(b'>');
            trimmed.windows(end.len()).any(|w| w == end.as_slice())
        }
    };
    let attr = |a: &[u8]| {
        [b'\'', b'"'].iter().any(|q| {
            let mut n = b" ".to_vec();
            n.extend_from_slice(a);
            n.push(b'=');
            n.push(*q);
            head.windows(n.len()).any(|w| w == n.as_slice())
        })
    };
    match name {
        b"iq" => {
            let typed = [b"get" as &[u8], b"set", b"result", b"error"]
                .iter()
                .any(|t| {
                    [b'\'', b'"'].iter().any(|q| {
                        let mut n = b" type=".to_vec();
                        n.push(*q);
                        n.extend_from_slice(t);
                        n.push(*q);
                        head.windows(n.len()).any(|w| w == n.as_slice())
                    })
                });
            typed && attr(b"id") && closes(name)
        }
        // A bare `<presence/>` is the initial presence; anything else names
        // its addressing or kind.
        b"message" | b"presence" => {
            closes(name)
                && ((name == b"presence" && head.len() <= name.len() + 2)
                    || [b"to" as &[u8], b"from", b"type", b"id", b"xml:lang"]
                        .iter()
                        .any(|a| attr(a)))
        }
        _ => {
            XMPP_NS
                .iter()
                .any(|ns| head.windows(ns.len()).any(|w| w == *ns))
                && closes(name)
        }
    }
}

/// Whether a mail server's greeting line is Exchange's own: "Microsoft ESMTP
/// MAIL Service" (SMTP, Exchange and Exchange Online Protection) or
/// "Microsoft Exchange" (its IMAP4 and POP3 greetings). Only the first line
/// of a server's first payload is read.
pub fn exchange_greeting(payload: &[u8]) -> bool {
    let end = payload
        .iter()
        .take(512)
        .position(|&b| b == b'\n')
        .unwrap_or(payload.len().min(512));
    let line = payload.get(..end).unwrap_or(&[]);
    let has = |needle: &[u8]| {
        line.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    has(b"Microsoft ESMTP MAIL Service") || has(b"Microsoft Exchange")
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn http09_request_line() {
        assert_eq!(
            probe(b"GET /index.html\r\n"),
            TextProbe::HttpRequest { host: None }
        );
        // A space in the line (a version) or bytes after it: not HTTP/0.9.
        assert_ne!(
            probe(b"GET /a b\r\n"),
            TextProbe::HttpRequest { host: None }
        );
        assert_eq!(probe(b"GET /index.html\r\nmore"), probe(b"GET /x\r\nmore"));
        assert_ne!(
            probe(b"GET /index.html"),
            TextProbe::HttpRequest { host: None }
        );
    }

    #[test]
    fn recognises_each_protocol() {
        assert_eq!(
            probe(b"GET /ncsi.txt HTTP/1.1\r\nUser-Agent: x\r\nHost: www.msftncsi.com:80\r\n\r\n"),
            TextProbe::HttpRequest {
                host: Some("www.msftncsi.com".into())
            }
        );
        assert_eq!(probe(b"HTTP/1.1 200 OK\r\n"), TextProbe::HttpResponse);
        assert_eq!(
            probe(b"EHLO mail.contoso.com\r\n"),
            TextProbe::SmtpHello {
                name: Some("mail.contoso.com".into())
            }
        );
        assert_eq!(
            probe(b"220 mx.google.com ESMTP x\r\n"),
            TextProbe::SmtpBanner
        );
        assert_eq!(
            probe(b"220 ProFTPD Server ready\r\n"),
            TextProbe::Greeting220
        );
        assert_eq!(probe(b"+OK lavad\r\n"), TextProbe::Pop3);
        assert_eq!(probe(b"STLS\r\n"), TextProbe::StartTls);
        assert_eq!(
            probe(b"* OK [CAPABILITY IMAP4rev1 CHILDREN] ready\r\n"),
            TextProbe::Imap
        );
        assert_eq!(probe(b". CAPABILITY\r\n"), TextProbe::Imap);
        assert_eq!(probe(b"a002 STARTTLS\r\n"), TextProbe::StartTls);
        assert_eq!(
            probe(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' to='x'>"),
            TextProbe::Xmpp
        );
        assert_eq!(
            probe(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
            TextProbe::StartTls
        );
        assert_eq!(probe(b"\x16\x03\x01\x02\x00"), TextProbe::Unknown);
        assert_eq!(probe(b""), TextProbe::Unknown);
        assert_eq!(
            probe(b"230 Login successful.\r\n"),
            TextProbe::Unknown,
            "an FTP reply, not an IMAP LOGIN"
        );
        // FTP shares RETR and STAT with POP3; only POP3-only commands count.
        assert_eq!(probe(b"RETR file.txt\r\n"), TextProbe::Unknown);
        assert_eq!(probe(b"STAT\r\n"), TextProbe::Unknown);
        assert_eq!(probe(b"UIDL\r\n"), TextProbe::Pop3);
        assert_eq!(probe(b"GET / HTTP/2\r\n"), TextProbe::Unknown);
    }

    /// Stanzas and stream elements as RFC 6120 prints them (§4.3.2, §8.1.2.1,
    /// §8.2.3, §9.1.4 and §4.6.1's keep-alive), as a capture that starts
    /// after the stream header sees them.
    #[test]
    fn xmpp_mid_stream() {
        let xmpp: [&[u8]; 10] = [
            b"<stream:features>\n  <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\n    <required/>\n  </starttls>\n</stream:features>",
            b"<iq from='juliet@im.example.com/balcony'\n    id='rg1'\n    type='get'>\n  <query xmlns='jabber:iq:roster'/>\n</iq>",
            b"<iq id='rg1' to='juliet@im.example.com/balcony' type='result'/>",
            b"<message from='juliet@example.com/balcony'\n         id='ktx72v49'\n         to='romeo@example.net'\n         type='chat'\n         xml:lang='en'>\n  <body>Art thou not Romeo, and a Montague?</body>\n</message>",
            b"<presence/>",
            b"<presence from='juliet@example.com/balcony' xml:lang='en'><show>away</show></presence>\n",
            b"</stream:stream>",
            b"<r xmlns='urn:xmpp:sm:3'/>",
            b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
            // A keep-alive space in the same segment as the next stanza:
            // the binary shortcut must let leading whitespace through.
            b"\n <presence/>",
        ];
        for p in xmpp {
            assert_eq!(probe(p), TextProbe::Xmpp, "{}", String::from_utf8_lossy(p));
        }
        assert_eq!(probe(b" "), TextProbe::WhitespaceKeepAlive);
        assert_eq!(probe(b"\n"), TextProbe::WhitespaceKeepAlive);
        let not: [&[u8]; 9] = [
            b"<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body/></soap:Envelope>",
            b"<methodCall><methodName>examples.getStateName</methodName></methodCall>",
            b"<message>hello</message>",
            b"<iq><query/></iq>",
            b"<iq id='a' type='poke'/>",
            b"<message to='romeo@example.net'><body>cut in the middle",
            b"<presence\x00 to='x'/>",
            b"<html><body>hi</body></html>",
            b"     ",
        ];
        for p in not {
            assert_ne!(probe(p), TextProbe::Xmpp, "{}", String::from_utf8_lossy(p));
        }
        assert_eq!(
            probe(b"     "),
            TextProbe::Unknown,
            "five bytes is no keep-alive"
        );
    }

    #[test]
    fn truncation_never_panics() {
        let p = b"GET /ncsi.txt HTTP/1.1\r\nHost: www.msftncsi.com\r\n\r\n";
        for cut in 0..p.len() {
            let _ = probe(&p[..cut]);
        }
        let x = b"<iq from='a@b/c' id='rg1' type='get'><query xmlns='jabber:iq:roster'/></iq>";
        for cut in 0..x.len() {
            assert_ne!(probe(&x[..cut]), TextProbe::Xmpp, "a cut stanza at {cut}");
        }
    }

    #[test]
    fn exchange_greetings_and_others() {
        assert!(exchange_greeting(
            b"220 BN8NAM11FT066.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready\r\n"
        ));
        assert!(exchange_greeting(
            b"* OK The Microsoft Exchange IMAP4 service is ready.\r\n"
        ));
        assert!(exchange_greeting(
            b"+OK The Microsoft Exchange POP3 service is ready.\r\n"
        ));
        assert!(!exchange_greeting(
            b"220 mx.google.com ESMTP a1-20020a05 - gsmtp\r\n"
        ));
        assert!(!exchange_greeting(
            b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"
        ));
        assert!(!exchange_greeting(
            b"220 mail.example.org ESMTP Postfix\r\nX: Microsoft Exchange\r\n"
        ));
    }
}
