//! The clear-text probes: HTTP, SMTP, POP3, IMAP and XMPP from their first
//! lines (a mail or XMPP session that then sends STARTTLS keeps its class
//! with `starttls = true`), and SIP, whose SDP announces media endpoints.

use super::correlation::SignaledBinding;
use super::{Cx, ProbeState};
use super::{FlowClassifier, EXCHANGE, SKYPE_TEAMS};
use crate::dissect::{sip, text, ProbeResult};
use crate::vocab::AppProtocol;
use std::net::SocketAddr;
use std::sync::Arc;

/// The text probe's state.
#[derive(Debug, Default)]
pub(super) struct TextState {
    /// The class a greeting or command named (STARTTLS keeps it).
    pub(super) class: Option<AppProtocol>,
    // Whitespace keep-alives on an XMPP port (weak: counts only alone).
    xmpp_keepalive: bool,
}

/// HTTP settles at once; a mail greeting or command, XMPP, or a
/// keep-alive is kept until STARTTLS, a TLS hello or the budget settles it.
pub(super) fn probe(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    let st = &mut cx.st.text;
    match text::probe(payload) {
        text::TextProbe::HttpRequest { host } => {
            let meta = cx.flow.meta();
            meta.protocol.server_name = meta.protocol.server_name.take().or(host);
            return ProbeResult::Certain(AppProtocol::Http);
        }
        text::TextProbe::HttpResponse => return ProbeResult::Certain(AppProtocol::Http),
        text::TextProbe::SmtpHello { name } => {
            let meta = cx.flow.meta();
            meta.protocol.server_name = meta.protocol.server_name.take().or(name);
            st.class = Some(AppProtocol::Smtp);
        }
        text::TextProbe::SmtpBanner => {
            st.class = st.class.or(Some(AppProtocol::Smtp));
            cx.flow.exchange_greeting(payload);
        }
        text::TextProbe::Greeting220 => cx.flow.exchange_greeting(payload),
        text::TextProbe::Pop3 => {
            st.class = st.class.or(Some(AppProtocol::Pop3));
            cx.flow.exchange_greeting(payload);
        }
        text::TextProbe::Imap => {
            st.class = st.class.or(Some(AppProtocol::Imap));
            cx.flow.exchange_greeting(payload);
        }
        text::TextProbe::Xmpp => st.class = st.class.or(Some(AppProtocol::Xmpp)),
        text::TextProbe::WhitespaceKeepAlive => st.xmpp_keepalive |= cx.flow.xmpp_port(),
        text::TextProbe::StartTls => {
            if let Some(app) = st.class {
                cx.flow.meta().protocol.starttls = true;
                return ProbeResult::Certain(app);
            }
        }
        text::TextProbe::Unknown => return ProbeResult::NotForUs,
    }
    ProbeResult::Unsure
}

/// The class a greeting named; else XMPP when whitespace keep-alives on its
/// port were all the flow carried.
pub(super) fn settle(st: &ProbeState) -> Option<AppProtocol> {
    let keepalive_only = st.text.xmpp_keepalive && st.unclaimed == 0 && !st.tls.seen;
    st.text
        .class
        .or(keepalive_only.then_some(AppProtocol::Xmpp))
}

/// SIP, over UDP or TCP: one message settles it.
pub(super) fn sip(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    match sip::parse(payload) {
        sip::SipProbe::Message(m) => {
            cx.flow.on_sip(&m);
            ProbeResult::Certain(AppProtocol::Sip)
        }
        _ => ProbeResult::NotForUs,
    }
}

impl FlowClassifier {
    /// A mail greeting that names Exchange is Microsoft's own marker.
    fn exchange_greeting(&mut self, payload: &[u8]) {
        if text::exchange_greeting(payload) {
            self.meta().protocol_service = Some(Arc::from(EXCHANGE));
        }
    }

    /// The client and federation ports of XMPP (RFC 6120 §14.7): only there
    /// is a whitespace keep-alive support. (5223, XMPP's legacy implicit-TLS
    /// port, carries TLS records, never a clear keep-alive, and is Apple's
    /// push service at least as often.)
    fn xmpp_port(&self) -> bool {
        [self.src_port, self.dst_port]
            .iter()
            .any(|p| matches!(p, 5222 | 5269))
    }

    /// Keeps a SIP message's method, host and agent, and learns the media
    /// endpoints its SDP announces (`a=rtcp:` or port + 1 for RTCP).
    fn on_sip(&mut self, m: &sip::SipMessage) {
        let meta = self.meta();
        if let sip::StartLine::Request { method, host } = &m.start {
            if meta.protocol.sip_method.is_none() {
                meta.protocol.sip_method = Some(method);
                meta.protocol.server_name =
                    meta.protocol.server_name.take().or_else(|| host.clone());
            }
        }
        if meta.protocol.sip_user_agent.is_none() {
            meta.protocol.sip_user_agent = m.user_agent.clone();
        }
        if m.microsoft {
            meta.protocol_service = Some(Arc::from(SKYPE_TEAMS));
        }
        for media in &m.media {
            let rtp = if media.secure {
                AppProtocol::Srtp
            } else {
                AppProtocol::Rtp
            };
            let binding = SignaledBinding::new(&media.rtpmap);
            self.learn(SocketAddr::new(media.addr, media.port), rtp, binding);
            let rtcp = media.rtcp_port.or_else(|| media.port.checked_add(1));
            if let Some(port) = rtcp {
                self.learn(SocketAddr::new(media.addr, port), AppProtocol::Rtcp, None);
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::super::test_support::sig;
    use super::super::{FlowShape, Inspection};
    use crate::vocab::{AppProtocol, Side, Transport};
    use crate::FlowClassifier;

    #[test]
    fn xmpp_recognised_mid_stream() {
        let s = sig();
        let app = |dport: u16, msgs: &[(Side, &[u8])]| {
            let mut c = FlowClassifier::new(&s, Transport::Tcp, 40001, dport);
            for (side, m) in msgs {
                c.feed(&s, *side, m);
            }
            c.result(&s, &FlowShape::default()).app()
        };
        let presence: &[u8] =
            b"<presence from='juliet@example.com/balcony'><show>away</show></presence>";
        let iq: &[u8] =
            b"<iq id='ping1' type='get' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>";
        let result: &[u8] = b"<iq id='ping1' type='result' from='example.com'/>";
        // A capture that starts after the stream header, on 5222 and on any port.
        for port in [5222, 5269, 8080] {
            let got = app(
                port,
                &[
                    (Side::Src2Dst, presence),
                    (Side::Src2Dst, iq),
                    (Side::Dst2Src, result),
                ],
            );
            assert_eq!(got, AppProtocol::Xmpp, "port {port}");
        }
        assert_eq!(
            app(5222, &[(Side::Dst2Src, b"</stream:stream>")]),
            AppProtocol::Xmpp
        );
        // Whitespace keep-alives alone: XMPP on its ports only.
        let ka: &[(Side, &[u8])] = &[(Side::Src2Dst, b" "), (Side::Src2Dst, b" ")];
        assert_eq!(app(5222, ka), AppProtocol::Xmpp);
        assert_eq!(app(8080, ka), AppProtocol::Other);
        // ...and never against other evidence.
        assert_eq!(
            app(
                5222,
                &[(Side::Src2Dst, b" "), (Side::Dst2Src, b"\x01\x02binary")]
            ),
            AppProtocol::Other
        );
        // XML that is not XMPP, even on 5222.
        let soap: &[u8] = b"<soap:Envelope xmlns:soap='http://www.w3.org/2003/05/soap-envelope'><soap:Body/></soap:Envelope>";
        assert_eq!(app(5222, &[(Side::Src2Dst, soap)]), AppProtocol::Other);
        // After a STARTTLS the capture did not see: TLS records on 5222 are
        // XMPP by port, as TLS on 5061 is SIP. On 5223 they stay TLS: that
        // port is Apple's push service as often as legacy XMPP.
        let records: &[(Side, &[u8])] = &[
            (Side::Src2Dst, &[0x17, 3, 3, 0, 4, 1, 2, 3, 4]),
            (Side::Dst2Src, &[0x17, 3, 3, 0, 2, 5, 6]),
        ];
        assert_eq!(app(5222, records), AppProtocol::Xmpp);
        assert_eq!(app(5223, records), AppProtocol::Tls);
    }

    #[test]
    fn smtp_starttls_keeps_its_class() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 40001, 25);
        c.feed(&s, Side::Dst2Src, b"220 mx.example.com ESMTP\r\n");
        c.feed(&s, Side::Src2Dst, b"EHLO client.example.com\r\n");
        assert_eq!(c.feed(&s, Side::Src2Dst, b"STARTTLS\r\n"), Inspection::Done);
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (
                r.app(),
                r.protocol.starttls,
                r.protocol.server_name.as_deref()
            ),
            (AppProtocol::Smtp, true, Some("client.example.com"))
        );
    }

    #[test]
    fn sip_over_udp_learns_sdp_media() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 5060, 5060);
        let invite = b"INVITE sip:bob@example.com SIP/2.0\r\nUser-Agent: UA/1\r\n\r\nv=0\r\nc=IN IP4 10.1.1.1\r\nm=audio 40000 RTP/AVP 0\r\n";
        assert_eq!(c.feed(&s, Side::Src2Dst, invite), Inspection::Done);
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (
                r.app(),
                r.protocol.sip_method,
                r.protocol.sip_user_agent.as_deref()
            ),
            (AppProtocol::Sip, Some("INVITE"), Some("UA/1"))
        );
        let learned: Vec<(String, AppProtocol)> = c
            .take_learned()
            .into_iter()
            .map(|e| (e.addr.to_string(), e.label))
            .collect();
        assert_eq!(
            learned,
            vec![
                ("10.1.1.1:40000".to_string(), AppProtocol::Rtp),
                ("10.1.1.1:40001".to_string(), AppProtocol::Rtcp)
            ]
        );
    }
}
