//! TCP payloads: TLS hellos gathered across segments (and the MS-TURN
//! pseudo-TLS watch after them), STUN and RTP in their TCP framings, and the
//! clear-text protocols from their first lines. A hello offering the ALPN
//! `xmpp-client` or `xmpp-server` (XEP-0368 direct TLS, 443 included) is
//! XMPP on any port.

use super::{is_media_port, FlowClassifier, Probe, EXCHANGE};
use crate::dissect::{dns, rtp, sip, stun, text, tls};
use crate::rules::Signatures;
use crate::vocab::AppProtocol;
use std::sync::Arc;

/// Payloads watched after a TLS hello on a media-capable port before the flow
/// is settled as TLS (MS-TURN's fake handshake is followed at once by framed
/// TURN, real TLS by a non-handshake record within two or three payloads).
const AFTER_HELLO_BUDGET: u8 = 6;

impl FlowClassifier {
    pub(super) fn feed_tcp(
        &mut self,
        sig: &Signatures,
        p: &mut Probe,
        i: usize,
        payload: &[u8],
    ) -> Option<AppProtocol> {
        if let Some(app) = p.tls_pending {
            return self.after_hello(p, app, payload);
        }
        // TLS: gather the start of each direction until a hello parses.
        if !p.stream_done.get(i).copied().unwrap_or(true) {
            let buf = p.stream.get_mut(i)?;
            if buf.is_empty() && !tls::is_record_header(payload) && payload.len() >= 5 {
                if let Some(d) = p.stream_done.get_mut(i) {
                    *d = true;
                }
            } else {
                let room = tls::MAX_HELLO.saturating_sub(buf.len());
                buf.extend_from_slice(payload.get(..room.min(payload.len())).unwrap_or(&[]));
                match tls::parse_hello(buf) {
                    tls::TlsProbe::Hello(h) => {
                        p.tls = true;
                        let (app, by_name) = self.on_tls(sig, p, &h);
                        if by_name || p.text.is_some() || !self.media_port() {
                            return Some(app);
                        }
                        // Maybe MS-TURN's fake handshake: watch what follows.
                        if let Some(d) = p.stream_done.get_mut(i) {
                            *d = true;
                        }
                        p.tls_pending = Some(app);
                        return None;
                    }
                    tls::TlsProbe::OtherRecord => {
                        p.tls = true;
                        if let Some(d) = p.stream_done.get_mut(i) {
                            *d = true;
                        }
                        if p.text.is_none() {
                            return Some(self.tls_class(sig, None));
                        }
                    }
                    tls::TlsProbe::NeedMore => return None,
                    tls::TlsProbe::NotTls => {
                        if let Some(d) = p.stream_done.get_mut(i) {
                            *d = true;
                        }
                    }
                }
            }
        }
        if self.dns_port() && dns::is_dns(payload, true) {
            return Some(AppProtocol::Dns);
        }
        // STUN over TCP (RFC 6062 / RFC 4571 / MS-TURN framing).
        if let stun::StunProbe::Message(m) = stun::parse_tcp(payload) {
            self.on_stun(p, &m);
            return Some(AppProtocol::StunTurn);
        }
        // RTP over TCP with RFC 4571 framing.
        if let Some(pkt) = rtp::rfc4571_first(payload) {
            if let Some(h) = rtp::parse_rtp(pkt) {
                if let Some(t) = p.rtp.get_mut(i) {
                    t.push(&h);
                    if t.good >= 3 {
                        return Some(AppProtocol::Rtp);
                    }
                }
                return None;
            }
        }
        match text::probe(payload) {
            text::TextProbe::HttpRequest { host } => {
                let meta = self.meta();
                meta.protocol.server_name = meta.protocol.server_name.take().or(host);
                return Some(AppProtocol::Http);
            }
            text::TextProbe::HttpResponse => return Some(AppProtocol::Http),
            text::TextProbe::SmtpHello { name } => {
                let meta = self.meta();
                meta.protocol.server_name = meta.protocol.server_name.take().or(name);
                p.text = Some(AppProtocol::Smtp);
            }
            text::TextProbe::SmtpBanner => {
                p.text = p.text.or(Some(AppProtocol::Smtp));
                self.exchange_greeting(payload);
            }
            text::TextProbe::Greeting220 => {
                p.smtp_greeting = true;
                self.exchange_greeting(payload);
            }
            text::TextProbe::Pop3 => {
                p.text = p.text.or(Some(AppProtocol::Pop3));
                self.exchange_greeting(payload);
            }
            text::TextProbe::Imap => {
                p.text = p.text.or(Some(AppProtocol::Imap));
                self.exchange_greeting(payload);
            }
            text::TextProbe::Xmpp => p.text = p.text.or(Some(AppProtocol::Xmpp)),
            text::TextProbe::WhitespaceKeepAlive => {
                p.xmpp_keepalive |= self.xmpp_port();
            }
            text::TextProbe::StartTls => {
                if let Some(app) = p.text {
                    self.meta().protocol.starttls = true;
                    return Some(app);
                }
            }
            text::TextProbe::Unknown => {
                if let sip::SipProbe::Message(m) = sip::parse(payload) {
                    self.on_sip(p, &m);
                    return Some(AppProtocol::Sip);
                }
                if (self.src_port == 53 || self.dst_port == 53) && dns::is_dns(payload, true) {
                    return Some(AppProtocol::Dns);
                }
                p.other_payload = p.other_payload.saturating_add(1);
            }
        }
        None
    }

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

    fn media_port(&self) -> bool {
        // The media range too: MS-TURN framing after the hello is the
        // evidence here, the port only bounds the watch.
        is_media_port(self.dst_port, true)
    }

    /// A payload after a TLS hello on a media-capable port: framed MS-TURN,
    /// a real TLS record, or more handshake.
    fn after_hello(
        &mut self,
        p: &mut Probe,
        app: AppProtocol,
        payload: &[u8],
    ) -> Option<AppProtocol> {
        if let stun::StunProbe::Message(m) = stun::parse_tcp(payload) {
            self.on_stun(p, &m);
            return Some(AppProtocol::StunTurn);
        }
        if stun::is_ms_turn_frame(payload) || stun::starts_ms_turn(payload) {
            self.meta().protocol.stun_seen = true;
            return Some(AppProtocol::StunTurn);
        }
        match tls::record_kinds(payload) {
            tls::RecordKinds::Other => return Some(app),
            tls::RecordKinds::Handshake => {
                // The peer's hello (or the rest of a long one).
                if let tls::TlsProbe::Hello(h) = tls::parse_hello(payload) {
                    self.on_hello_fields(&h);
                }
            }
            tls::RecordKinds::NotTls => {
                // Neither a record nor a frame start: the continuation of a
                // record or of a frame that an earlier segment began, on
                // either side. Only the budget settles it.
            }
        }
        p.after_hello = p.after_hello.saturating_add(1);
        (p.after_hello >= AFTER_HELLO_BUDGET).then_some(app)
    }

    fn on_hello_fields(&mut self, h: &tls::Hello) {
        let meta = self.meta();
        if h.kind == tls::HelloKind::Client {
            meta.protocol.server_name = meta.protocol.server_name.take().or_else(|| h.sni.clone());
            meta.protocol.alpn = meta.protocol.alpn.take().or_else(|| h.alpn.clone());
        }
        let v = tls::version_name(h.version);
        meta.protocol.tls_version = match (meta.protocol.tls_version, v) {
            (Some(a), Some(b)) => Some(if b > a { b } else { a }),
            (a, b) => a.or(b),
        };
    }

    /// The class of a TLS flow after a hello, and whether a server-name rule
    /// gave it.
    fn on_tls(&mut self, sig: &Signatures, p: &Probe, h: &tls::Hello) -> (AppProtocol, bool) {
        self.on_hello_fields(h);
        if let Some(app) = p.text {
            self.meta().protocol.starttls = true;
            return (app, false);
        }
        // XEP-0368 direct TLS (on 443 too) names XMPP in the ALPN offer.
        let alpn = self.meta.as_ref().and_then(|m| m.protocol.alpn.as_deref());
        if matches!(alpn, Some("xmpp-client" | "xmpp-server")) {
            return (AppProtocol::Xmpp, true);
        }
        let sni = self
            .meta
            .as_ref()
            .and_then(|m| m.protocol.server_name.clone());
        let by_name = sni
            .as_deref()
            .and_then(|n| sig.sni.lookup(n))
            .and_then(|r| r.app_protocol);
        match by_name {
            Some(app) => (app, true),
            None => (self.tls_class(sig, None), false),
        }
    }

    fn tls_class(&self, sig: &Signatures, sni: Option<&str>) -> AppProtocol {
        if let Some(app) = sni
            .and_then(|n| sig.sni.lookup(n))
            .and_then(|r| r.app_protocol)
        {
            return app;
        }
        match self.port_rule.as_ref().map(|r| r.0) {
            Some(
                a @ (AppProtocol::Smtp
                | AppProtocol::Pop3
                | AppProtocol::Imap
                | AppProtocol::Xmpp
                | AppProtocol::SipTls
                | AppProtocol::Psom),
            ) => a,
            _ if self.src_port == 443 || self.dst_port == 443 => AppProtocol::Https,
            _ => AppProtocol::Tls,
        }
    }
}

#[cfg(test)]
mod test {
    use super::super::test_support::sig;
    use super::super::{FlowShape, Inspection};
    use super::*;
    use crate::vocab::{Side, TrafficType, Transport};

    #[test]
    fn tls_on_5061_is_sip_tls_and_sni_sets_service() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50600, 443);
        // A ClientHello cut in two segments.
        let hello = crate::dissect::tls::test_hello("teams.microsoft.com");
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &hello[..40]),
            Inspection::NeedMore
        );
        // On 443 the hello alone could be MS-TURN's fake handshake: the
        // first application-data record settles it.
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &hello[40..]),
            Inspection::NeedMore
        );
        assert_eq!(
            c.feed(&s, Side::Dst2Src, &[0x17, 3, 3, 0, 2, 0, 0]),
            Inspection::Done
        );
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (
                r.app(),
                r.protocol.server_name.as_deref(),
                r.sni_service.as_deref()
            ),
            (
                AppProtocol::Https,
                Some("teams.microsoft.com"),
                Some("skype_teams")
            )
        );
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50600, 5061);
        c.feed(
            &s,
            Side::Src2Dst,
            &crate::dissect::tls::test_hello("pool.contoso.com"),
        );
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::SipTls
        );
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50600, 443);
        c.feed(
            &s,
            Side::Src2Dst,
            &crate::dissect::tls::test_hello("webcon.contoso.com"),
        );
        assert_eq!(c.result(&s, &FlowShape::default()).app(), AppProtocol::Psom);
    }

    /// A ServerHello + ServerHelloDone in one record, as MS-TURN's pseudo-TLS
    /// server sends it ([MS-TURN] 2.1.1).
    fn server_hello_done() -> Vec<u8> {
        let mut body = vec![3, 1];
        body.extend([7u8; 32]);
        body.extend([0, 0, 0x04, 0]);
        let mut hs = vec![2, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend(body);
        hs.extend([0x0e, 0, 0, 0]);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    /// An MS-TURN Allocate request (MAGIC-COOKIE attribute first) in the
    /// MS-TURN TCP framing.
    fn framed_ms_allocate() -> Vec<u8> {
        let mut m = vec![0, 3, 0, 8];
        m.extend([0x5au8; 16]);
        m.extend([0, 0x0f, 0, 4, 0x72, 0xc6, 0x4b, 0xc6]);
        let mut f = vec![2, 0];
        f.extend_from_slice(&(m.len() as u16).to_be_bytes());
        f.extend(m);
        f
    }

    #[test]
    fn ms_turn_after_pseudo_tls_on_443_is_media() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        let hello = crate::dissect::tls::test_hello("");
        assert_eq!(c.feed(&s, Side::Src2Dst, &hello), Inspection::NeedMore);
        assert_eq!(
            c.feed(&s, Side::Dst2Src, &server_hello_done()),
            Inspection::NeedMore
        );
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &framed_ms_allocate()),
            Inspection::Done
        );
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.traffic_type, r.protocol.stun_seen),
            (AppProtocol::StunTurn, Some(TrafficType::Media), true)
        );
        // Framed end-to-end data (type 3) after the handshake counts too.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        c.feed(&s, Side::Src2Dst, &hello);
        c.feed(&s, Side::Dst2Src, &server_hello_done());
        let data = [3, 0, 0, 12, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
        assert_eq!(c.feed(&s, Side::Src2Dst, &data), Inspection::Done);
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::StunTurn
        );
    }

    /// An MS-TURN end-to-end data frame (type 3) carrying a 172-byte PCMU
    /// RTP packet.
    fn data_frame(seq: u16) -> Vec<u8> {
        let rtp = super::super::test_support::rtp_pkt(seq, 160 * u32::from(seq), 0x77);
        let mut f = vec![3, 0];
        f.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
        f.extend(rtp);
        f
    }

    #[test]
    fn ms_turn_data_frames_that_tcp_cuts_are_still_ms_turn() {
        let s = sig();
        let hello = crate::dissect::tls::test_hello("");
        // The server sends first after the fake handshake, and its first
        // segment ends inside a frame: no exact frame chain to check.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        c.feed(&s, Side::Src2Dst, &hello);
        c.feed(&s, Side::Dst2Src, &server_hello_done());
        let mut two = data_frame(1);
        two.extend(data_frame(2));
        assert_eq!(c.feed(&s, Side::Dst2Src, &two[..100]), Inspection::Done);
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.traffic_type, r.protocol.stun_seen),
            (AppProtocol::StunTurn, Some(TrafficType::Media), true)
        );
        // A segment that starts with the rest of a frame settles nothing;
        // the frame that follows does.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        c.feed(&s, Side::Src2Dst, &hello);
        c.feed(&s, Side::Dst2Src, &server_hello_done());
        assert_eq!(
            c.feed(&s, Side::Dst2Src, &two[100..176]),
            Inspection::NeedMore
        );
        assert_eq!(c.feed(&s, Side::Dst2Src, &two[176..]), Inspection::Done);
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::StunTurn
        );
    }

    #[test]
    fn real_tls_on_443_stays_https() {
        let s = sig();
        // TLS 1.2: hellos, certificate, then change cipher spec.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        c.feed(
            &s,
            Side::Src2Dst,
            &crate::dissect::tls::test_hello("outlook.office365.com"),
        );
        c.feed(&s, Side::Dst2Src, &server_hello_done());
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &[0x16, 3, 3, 0, 4, 0x10, 0, 0, 0]),
            Inspection::NeedMore
        );
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &[0x14, 3, 3, 0, 1, 1]),
            Inspection::Done
        );
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.sni_service.as_deref()),
            (AppProtocol::Https, Some("exchange"))
        );
        // A hello then silence: still https when the record is written.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        c.feed(
            &s,
            Side::Src2Dst,
            &crate::dissect::tls::test_hello("x.example"),
        );
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Https
        );
        // Off the media ports a hello decides at once.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 40123, 8443);
        assert_eq!(
            c.feed(
                &s,
                Side::Src2Dst,
                &crate::dissect::tls::test_hello("x.example")
            ),
            Inspection::Done
        );
        assert_eq!(c.result(&s, &FlowShape::default()).app(), AppProtocol::Tls);
        // The watch is bounded: handshake records forever settle as TLS.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        c.feed(
            &s,
            Side::Src2Dst,
            &crate::dissect::tls::test_hello("x.example"),
        );
        let mut n = 0;
        while c.wants_more() && n < 100 {
            c.feed(&s, Side::Dst2Src, &server_hello_done());
            n += 1;
        }
        assert_eq!(n, usize::from(AFTER_HELLO_BUDGET));
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Https
        );
    }

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
}
