//! The TLS probe (TCP): hellos gathered across segments, and the MS-TURN
//! pseudo-TLS watch after them. A hello offering the ALPN `xmpp-client` or
//! `xmpp-server` (XEP-0368 direct TLS, 443 included) is XMPP on any port.

use super::{is_media_port, stun, FlowClassifier};
use super::{Cx, ProbeState};
use crate::dissect::{stun as stun_wire, tls, ProbeResult};
use crate::rules::Signatures;
use crate::vocab::AppProtocol;

/// Payloads watched after a TLS hello on a media-capable port before the flow
/// is settled as TLS (MS-TURN's fake handshake is followed at once by framed
/// TURN, real TLS by a non-handshake record within two or three payloads).
const AFTER_HELLO_BUDGET: u8 = 6;

/// The TLS probe's state.
#[derive(Debug, Default)]
pub(super) struct TlsState {
    // Start of each direction, for hellos spanning segments.
    stream: [Vec<u8>; 2],
    stream_done: [bool; 2],
    /// A TLS record was seen.
    pub(super) seen: bool,
    // A hello on a media-capable port, class held until MS-TURN is ruled out.
    pending: Option<AppProtocol>,
    after_hello: u8,
}

impl TlsState {
    fn finish(&mut self, side: usize) {
        if let Some(d) = self.stream_done.get_mut(side) {
            *d = true;
        }
    }
}

/// Gathers the start of each direction until a hello parses; after a hello
/// on a media-capable port, watches for MS-TURN.
pub(super) fn probe(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    if let Some(app) = cx.st.tls.pending {
        return after_hello(cx, app, payload);
    }
    let i = cx.side;
    let st = &mut cx.st.tls;
    if st.stream_done.get(i).copied().unwrap_or(true) {
        return ProbeResult::NotForUs;
    }
    let Some(buf) = st.stream.get_mut(i) else {
        return ProbeResult::NotForUs;
    };
    if buf.is_empty() && !tls::is_record_header(payload) && payload.len() >= 5 {
        st.finish(i);
        return ProbeResult::NotForUs;
    }
    let room = tls::MAX_HELLO.saturating_sub(buf.len());
    buf.extend_from_slice(payload.get(..room.min(payload.len())).unwrap_or(&[]));
    let text = cx.st.text.class;
    match tls::parse_hello(buf) {
        tls::TlsProbe::Hello(h) => {
            st.seen = true;
            let (app, by_name) = cx.flow.on_tls(cx.sig, text, &h);
            if by_name || text.is_some() || !cx.flow.media_port() {
                return ProbeResult::Certain(app);
            }
            // Maybe MS-TURN's fake handshake: watch what follows.
            let st = &mut cx.st.tls;
            st.finish(i);
            st.pending = Some(app);
            ProbeResult::Unsure
        }
        tls::TlsProbe::OtherRecord => {
            st.seen = true;
            st.finish(i);
            match text {
                None => ProbeResult::Certain(cx.flow.tls_class()),
                // A mail or XMPP session's records after a STARTTLS.
                Some(_) => ProbeResult::NotForUs,
            }
        }
        tls::TlsProbe::NeedMore => ProbeResult::Unsure,
        tls::TlsProbe::NotTls => {
            st.finish(i);
            ProbeResult::NotForUs
        }
    }
}

/// A hello still watched for MS-TURN is TLS when the budget ends.
pub(super) fn settle(st: &ProbeState) -> Option<AppProtocol> {
    st.tls.pending
}

/// A payload after a TLS hello on a media-capable port: framed MS-TURN,
/// a real TLS record, or more handshake.
fn after_hello(cx: &mut Cx<'_>, app: AppProtocol, payload: &[u8]) -> ProbeResult {
    if let stun_wire::StunProbe::Message(m) = stun_wire::parse_tcp(payload) {
        stun::on_stun(cx, &m);
        return ProbeResult::Certain(AppProtocol::StunTurn);
    }
    if stun_wire::is_ms_turn_frame(payload) || stun_wire::starts_ms_turn(payload) {
        cx.flow.meta().protocol.stun_seen = true;
        return ProbeResult::Certain(AppProtocol::StunTurn);
    }
    match tls::record_kinds(payload) {
        tls::RecordKinds::Other => return ProbeResult::Certain(app),
        tls::RecordKinds::Handshake => {
            // The peer's hello (or the rest of a long one).
            if let tls::TlsProbe::Hello(h) = tls::parse_hello(payload) {
                cx.flow.on_hello_fields(&h);
            }
        }
        tls::RecordKinds::NotTls => {
            // Neither a record nor a frame start: the continuation of a
            // record or of a frame that an earlier segment began, on
            // either side. Only the budget settles it.
        }
    }
    let st = &mut cx.st.tls;
    st.after_hello = st.after_hello.saturating_add(1);
    if st.after_hello >= AFTER_HELLO_BUDGET {
        ProbeResult::Certain(app)
    } else {
        ProbeResult::Unsure
    }
}

impl FlowClassifier {
    fn media_port(&self) -> bool {
        // The media range too: MS-TURN framing after the hello is the
        // evidence here, the port only bounds the watch.
        is_media_port(self.dst_port, true)
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
    /// gave it. `text`: the clear-text class seen before (STARTTLS).
    fn on_tls(
        &mut self,
        sig: &Signatures,
        text: Option<AppProtocol>,
        h: &tls::Hello,
    ) -> (AppProtocol, bool) {
        self.on_hello_fields(h);
        if let Some(app) = text {
            self.meta().protocol.starttls = true;
            return (app, false);
        }
        // XEP-0368 direct TLS (on 443 too) names XMPP in the ALPN offer.
        let alpn = self.meta.as_ref().and_then(|m| m.protocol.alpn.as_deref());
        if matches!(alpn, Some("xmpp-client" | "xmpp-server")) {
            return (AppProtocol::Xmpp, true);
        }
        let by_name = self
            .meta
            .as_ref()
            .and_then(|m| m.protocol.server_name.as_deref())
            .and_then(|n| sig.sni.lookup(n))
            .and_then(|r| r.app_protocol);
        match by_name {
            Some(app) => (app, true),
            None => (self.tls_class(), false),
        }
    }

    /// The class of TLS no server name decided: the class of an implicit-TLS
    /// port's rule, else `https` on 443, else `tls`.
    fn tls_class(&self) -> AppProtocol {
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
    use super::AFTER_HELLO_BUDGET;
    use crate::vocab::{AppProtocol, Side, TrafficType, Transport};
    use crate::FlowClassifier;

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

    /// A payload the TLS probe claimed (the MS-TURN watch after a hello on
    /// 443) is read by no later probe: clear text there is no HTTP flow.
    #[test]
    fn a_claimed_payload_goes_no_further() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        c.feed(
            &s,
            Side::Src2Dst,
            &crate::dissect::tls::test_hello("x.example"),
        );
        let get = b"GET / HTTP/1.1\r\nHost: x.example\r\n\r\n";
        assert_eq!(c.feed(&s, Side::Src2Dst, get), Inspection::NeedMore);
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Https
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
}
