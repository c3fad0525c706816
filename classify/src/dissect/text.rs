//! Line-based protocols recognised from their first lines: HTTP/1.x, SMTP,
//! POP3, IMAP (with STARTTLS) and XMPP stream opens. Each answers from one
//! payload in one direction; the classifier combines both directions.

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
    /// An XMPP stream header.
    Xmpp,
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
    let line = first_line(p);
    if HTTP_METHODS.iter().any(|m| line.starts_with(m))
        && (line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0"))
    {
        let host = header(p, b"host")
            .map(|h| h.split(':').next().unwrap_or("").to_string())
            .filter(|h| !h.is_empty());
        return TextProbe::HttpRequest { host };
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
    TextProbe::Unknown
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

    #[test]
    fn truncation_never_panics() {
        let p = b"GET /ncsi.txt HTTP/1.1\r\nHost: www.msftncsi.com\r\n\r\n";
        for cut in 0..p.len() {
            let _ = probe(&p[..cut]);
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
