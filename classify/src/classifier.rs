//! The per-flow classifier: combines the evidence of the payload dissectors
//! over the first packets of each direction with port rules, server-name
//! rules and the flow's shape.
//!
//! A worker creates one [`FlowClassifier`] per flow and feeds it the transport
//! payload of each packet while [`FlowClassifier::wants_more`] is true; once
//! the flow is decided (or the packet budget is spent) the inspection state is
//! dropped and decided flows cost only counters. Payload evidence outranks
//! port evidence (domain.md §1.3).
//!
//! The rules, in order, for the class of a flow:
//! 1. DTLS records: `dtls` (ICE flows that carry STUN then DTLS-SRTP too).
//! 2. RTP confirmed across packets (version 2, one SSRC, sequence and
//!    timestamp advancing): `srtp` when the same flow also carried RFC 5389
//!    STUN (ICE stacks key SRTP over it) or a Microsoft STUN attribute, else
//!    `rtp`. A flow with only valid RTCP compounds is `rtcp`.
//! 3. STUN/TURN messages and nothing else: `stun_turn`.
//! 4. A TLS hello: the class a server-name rule gives (`sip_tls`, `psom`),
//!    else the mail, XMPP, SIP-TLS or PSOM class of the port (implicit TLS,
//!    5061, 8057), else `https` when either port is 443, else `tls`.
//! 5. Clear-text SIP, HTTP, SMTP, POP3, IMAP, XMPP, DNS from their first
//!    lines or headers; a mail or XMPP session that then sends STARTTLS keeps
//!    its class with `starttls = true`.
//! 6. Payload inspected but none of the above: `other`.
//! 7. No payload seen: the port rule, then `unknown`.
//!
//! Behaviour, judged when the record is written: a TCP flow to a
//! media-capable port (443, 3478-3481, 50000-59999) with media cadence (many
//! small packets both ways at a steady rate) is media over TCP.
//!
//! MS-TURN over TCP ([MS-TURN] 2.1.1): a TLS hello on a media-capable TCP
//! port that no server-name rule decides is not settled at once. The flow is
//! watched a few payloads more: a non-handshake TLS record (change cipher
//! spec, alert, application data) settles it as TLS; a 4-byte MS-TURN frame
//! (type 2 or 3, zero, length of the rest) after the fake handshake makes it
//! `stun_turn`, media.
//!
//! Correlation: flows announce media endpoints ([`LearnedEndpoint`]) from
//! clear-text SDP (`c=`/`m=`, `a=rtcp:` or port + 1) and from STUN
//! XOR-MAPPED- and XOR-RELAYED-ADDRESS. A UDP flow with no header evidence
//! of its own ([`needs_correlation`]) that reaches such an endpoint takes the
//! endpoint's label with `app_protocol_source = correlation`: `rtp` or `srtp`
//! by the SDP profile (`RTP/SAVP*` is SRTP), `rtcp` on the RTCP port, and
//! `srtp` for an ICE candidate learned from STUN (the stacks that run ICE,
//! SfB, Teams and WebRTC, send only SRTP or DTLS-SRTP media).

use crate::dissect::sip::RtpMap;
use crate::dissect::{dns, dtls, rtp, sip, stun, text, tls};
use crate::rules::Signatures;
use crate::vocab::{AppProtocol, AppSource, Side, TrafficType, Transport};
use std::net::SocketAddr;
use std::sync::Arc;

/// Payload-carrying packets per direction a flow is inspected for.
pub const PACKET_BUDGET: u8 = 16;

/// Payloads watched after a TLS hello on a media-capable port before the flow
/// is settled as TLS (MS-TURN's fake handshake is followed at once by framed
/// TURN, real TLS by a non-handshake record within two or three payloads).
const AFTER_HELLO_BUDGET: u8 = 6;

/// Endpoints one flow may announce for correlation.
const MAX_LEARNED: usize = 8;

/// A media endpoint a flow announced, and what a flow reaching it carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LearnedEndpoint {
    /// Address and port the media goes to.
    pub addr: SocketAddr,
    /// The class a flow to it with no evidence of its own gets.
    pub label: AppProtocol,
    /// The payload types its SDP bound (`a=rtpmap`), when it came from SDP.
    pub rtpmap: Option<Arc<[RtpMap]>>,
}

/// Whether a finished flow's labels leave room for correlation: a UDP flow
/// whose class came from no payload evidence (port rule or nothing), or whose
/// payload was inspected and matched nothing (`other`).
pub fn needs_correlation(transport: Transport, app: AppProtocol, source: AppSource) -> bool {
    transport == Transport::Udp
        && (matches!(source, AppSource::Port | AppSource::None)
            || (source == AppSource::Payload && app == AppProtocol::Other))
}

/// Whether the classifier wants more packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Keep feeding payloads.
    NeedMore,
    /// The flow is decided; stop feeding.
    Done,
}

/// The labels a classifier gives a flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Classification {
    /// `app_protocol` column.
    pub app_protocol: Option<AppProtocol>,
    /// `app_protocol_source` column.
    pub source: Option<AppSource>,
    /// `traffic_type` column.
    pub traffic_type: Option<TrafficType>,
    /// `service` (SfB/Teams, Exchange, SharePoint, common), when known.
    pub service: Option<Arc<str>>,
    /// `server_name`: TLS SNI, SIP request host, HTTP Host, SMTP HELO name.
    pub server_name: Option<String>,
    /// `alpn`: the first ALPN id offered.
    pub alpn: Option<String>,
    /// `tls_version`: highest offered by the client or chosen by the server.
    pub tls_version: Option<&'static str>,
    /// `sip_method`: the first SIP request method.
    pub sip_method: Option<&'static str>,
    /// `sip_user_agent`: User-Agent or Server header.
    pub sip_user_agent: Option<String>,
    /// `starttls`: a mail or XMPP session upgraded to TLS.
    pub starttls: bool,
    /// `stun_seen`: STUN/TURN messages were seen on the flow.
    pub stun_seen: bool,
    /// `media_over_tcp`: media cadence on a TCP flow to a media port.
    pub media_over_tcp: bool,
}

impl Classification {
    /// The class, `unknown` when nothing is known.
    pub fn app(&self) -> AppProtocol {
        self.app_protocol.unwrap_or(AppProtocol::Unknown)
    }
}

/// Packet counts and timing of a flow, for behaviour rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowShape {
    /// Packets initiator to responder.
    pub src2dst_packets: u64,
    /// Packets responder to initiator.
    pub dst2src_packets: u64,
    /// Payload bytes both ways.
    pub payload_bytes: u64,
    /// Duration of the record in µs.
    pub duration_us: i64,
}

#[derive(Clone, Copy, Debug, Default)]
struct RtpTrack {
    ssrc: u32,
    seq: u16,
    ts: u32,
    good: u8,
}

impl RtpTrack {
    fn push(&mut self, h: &rtp::RtpHeader) {
        let dseq = h.seq.wrapping_sub(self.seq);
        let dts = h.ts.wrapping_sub(self.ts);
        if self.good > 0 && h.ssrc == self.ssrc && (1..=64).contains(&dseq) && dts < 1 << 30 {
            self.good = self.good.saturating_add(1);
        } else if self.good > 0 && h.ssrc == self.ssrc && dseq == 0 {
            // A duplicate proves nothing either way.
        } else {
            self.good = 1;
            self.ssrc = h.ssrc;
        }
        self.seq = h.seq;
        self.ts = h.ts;
    }
}

/// Inspection state, dropped once the flow is decided.
#[derive(Debug, Default)]
struct Probe {
    fed: [u8; 2],
    // Start of each TCP direction, for hellos spanning segments.
    stream: [Vec<u8>; 2],
    stream_done: [bool; 2],
    rtp: [RtpTrack; 2],
    rtcp: u8,
    rtcp_bad: bool,
    stun: u8,
    stun5389: bool,
    stun_ms: bool,
    dtls: u8,
    tls: bool,
    text: Option<AppProtocol>,
    smtp_greeting: bool,
    other_payload: u8,
    // A TLS hello on a media-capable port, class held until MS-TURN is ruled out.
    tls_pending: Option<AppProtocol>,
    after_hello: u8,
}

/// Per-flow classification state. Small when decided: the inspection state
/// lives in a box that is freed when the flow is decided.
#[derive(Clone, Debug)]
pub struct FlowClassifier {
    transport: Transport,
    src_port: u16,
    dst_port: u16,
    port_rule: Option<(AppProtocol, TrafficType, Option<Arc<str>>)>,
    label: Option<(AppProtocol, AppSource)>,
    meta: Option<Box<Classification>>,
    probe: Option<Box<ProbeBox>>,
    learned: Vec<LearnedEndpoint>,
}

// Probe is not Clone (buffers); flows are never cloned while inspecting.
#[derive(Debug, Default)]
struct ProbeBox(Probe);

impl Clone for ProbeBox {
    fn clone(&self) -> Self {
        ProbeBox::default()
    }
}

fn is_media_port(p: u16) -> bool {
    p == 443 || (3478..=3481).contains(&p) || (50000..=59999).contains(&p)
}

impl FlowClassifier {
    /// Starts a flow's classification from its oriented ports.
    pub fn new(sig: &Signatures, transport: Transport, src_port: u16, dst_port: u16) -> Self {
        let port_rule = sig
            .ports
            .lookup(transport, src_port, dst_port)
            .map(|r| (r.app_protocol, r.traffic_type, r.service.clone()));
        let inspect = matches!(transport, Transport::Tcp | Transport::Udp);
        FlowClassifier {
            transport,
            src_port,
            dst_port,
            port_rule,
            label: None,
            meta: None,
            probe: inspect.then(|| Box::new(ProbeBox::default())),
            learned: Vec::new(),
        }
    }

    /// A classifier that labels from port rules only and never asks for
    /// payloads (the cheapest mode, `--classify port`).
    pub fn port_only(sig: &Signatures, transport: Transport, src_port: u16, dst_port: u16) -> Self {
        let mut c = Self::new(sig, transport, src_port, dst_port);
        c.probe = None;
        c
    }

    /// Whether the worker should keep feeding payloads.
    #[inline]
    pub fn wants_more(&self) -> bool {
        self.probe.is_some()
    }

    /// The class payload inspection settled on, once it has (None while
    /// inspecting or when it found nothing).
    #[inline]
    pub fn payload_label(&self) -> Option<AppProtocol> {
        self.label.map(|(a, _)| a)
    }

    /// Media endpoints this flow announced (SDP, STUN mapped/relayed
    /// addresses) since the last call, for correlation with other flows.
    pub fn take_learned(&mut self) -> Vec<LearnedEndpoint> {
        std::mem::take(&mut self.learned)
    }

    /// Whether endpoints are waiting for [`FlowClassifier::take_learned`].
    #[inline]
    pub fn has_learned(&self) -> bool {
        !self.learned.is_empty()
    }

    fn learn(&mut self, addr: SocketAddr, label: AppProtocol, rtpmap: Option<Arc<[RtpMap]>>) {
        let e = LearnedEndpoint {
            addr,
            label,
            rtpmap,
        };
        if self.learned.len() < MAX_LEARNED && !self.learned.contains(&e) {
            self.learned.push(e);
        }
    }

    fn meta(&mut self) -> &mut Classification {
        self.meta.get_or_insert_with(Box::default)
    }

    fn decide(&mut self, app: AppProtocol) -> Progress {
        self.label = Some((app, AppSource::Payload));
        self.probe = None;
        Progress::Done
    }

    /// Feeds one packet's transport payload; empty payloads do not count
    /// against the budget.
    pub fn feed(&mut self, sig: &Signatures, side: Side, payload: &[u8]) -> Progress {
        let Some(mut pb) = self.probe.take() else {
            return Progress::Done;
        };
        if payload.is_empty() {
            self.probe = Some(pb);
            return Progress::NeedMore;
        }
        let i = usize::from(side == Side::Dst2Src);
        let p = &mut pb.0;
        if let Some(n) = p.fed.get_mut(i) {
            *n = n.saturating_add(1);
        }
        let verdict = match self.transport {
            Transport::Udp => self.feed_udp(p, payload),
            Transport::Tcp => self.feed_tcp(sig, p, i, payload),
            _ => Some(AppProtocol::Other),
        };
        if let Some(app) = verdict {
            return self.decide(app);
        }
        let spent = p.fed.iter().all(|&n| n >= PACKET_BUDGET)
            || p.fed.iter().any(|&n| n >= PACKET_BUDGET * 2);
        if spent {
            let app = Self::settle(p);
            self.label = app.map(|a| (a, AppSource::Payload));
            return Progress::Done;
        }
        self.probe = Some(pb);
        Progress::NeedMore
    }

    /// The class a probe supports when inspection ends without certainty.
    fn settle(p: &Probe) -> Option<AppProtocol> {
        if p.tls_pending.is_some() {
            return p.tls_pending;
        }
        let rtp_ok = p.rtp.iter().any(|t| t.good >= 3) || p.rtp.iter().all(|t| t.good >= 2);
        if p.dtls > 0 {
            Some(AppProtocol::Dtls)
        } else if rtp_ok {
            Some(if p.stun5389 || p.stun_ms {
                AppProtocol::Srtp
            } else {
                AppProtocol::Rtp
            })
        } else if p.stun > 0 {
            Some(AppProtocol::StunTurn)
        } else if p.rtcp > 0 && !p.rtcp_bad && p.rtp.iter().all(|t| t.good == 0) {
            Some(AppProtocol::Rtcp)
        } else if p.text.is_some() {
            p.text
        } else if p.fed.iter().any(|&n| n > 0) {
            // Payload was inspected and is none of the named classes: a port
            // guess (a client port inside a media range, say) would be worse.
            Some(AppProtocol::Other)
        } else {
            None
        }
    }

    fn dns_port(&self) -> bool {
        matches!(self.src_port, 53 | 5353) || matches!(self.dst_port, 53 | 5353)
    }

    fn feed_udp(&mut self, p: &mut Probe, payload: &[u8]) -> Option<AppProtocol> {
        // DNS ids are random, so their first byte may look like anything:
        // on the DNS port, ask the DNS dissector first.
        if self.dns_port() && dns::is_dns(payload, false) {
            return Some(AppProtocol::Dns);
        }
        let b0 = *payload.first()?;
        match b0 {
            0..=3 => match stun::parse_udp(payload) {
                stun::StunProbe::Message(m) => self.on_stun(p, &m),
                stun::StunProbe::ChannelData => {
                    // The wrapped payload demultiplexes like any other.
                    if let Some(inner) = payload.get(4..) {
                        return self.feed_udp(p, inner);
                    }
                }
                stun::StunProbe::NotStun => self.other_udp(p, payload),
            },
            0xff if payload.get(1) == Some(&0x10) => {
                if let stun::StunProbe::Message(m) = stun::parse_udp(payload) {
                    self.on_stun(p, &m);
                }
            }
            20..=63 => {
                if dtls::parse(payload).is_some() {
                    p.dtls = p.dtls.saturating_add(1);
                    return Some(AppProtocol::Dtls);
                }
                self.other_udp(p, payload);
            }
            64..=79 => {
                if let stun::StunProbe::ChannelData = stun::parse_udp(payload) {
                    if let Some(inner) = payload.get(4..) {
                        return self.feed_udp(p, inner);
                    }
                }
                self.other_udp(p, payload);
            }
            128..=191 => {
                let b1 = payload.get(1).copied().unwrap_or(0);
                if rtp::is_rtcp_type(b1) {
                    if rtp::parse_rtcp(payload).is_some() {
                        p.rtcp = p.rtcp.saturating_add(1);
                    } else {
                        p.rtcp_bad = true;
                    }
                } else if let Some(h) = rtp::parse_rtp(payload) {
                    // Tracks per SSRC direction: the payload's direction is
                    // not known here, so use the SSRC's parity of slots.
                    let slot = usize::from(
                        p.rtp
                            .first()
                            .is_some_and(|t| t.good > 0 && t.ssrc != h.ssrc),
                    );
                    if let Some(t) = p.rtp.get_mut(slot) {
                        t.push(&h);
                    }
                    let confirmed = p.rtp.iter().any(|t| t.good >= 4);
                    if confirmed && p.stun == 0 {
                        return Some(AppProtocol::Rtp);
                    }
                    if confirmed && p.rtp.iter().map(|t| u32::from(t.good)).sum::<u32>() >= 8 {
                        return Some(if p.stun5389 || p.stun_ms {
                            AppProtocol::Srtp
                        } else {
                            AppProtocol::Rtp
                        });
                    }
                } else {
                    self.other_udp(p, payload);
                }
            }
            _ => self.other_udp(p, payload),
        }
        p.text
            .filter(|a| matches!(a, AppProtocol::Sip | AppProtocol::Dns | AppProtocol::Http))
    }

    fn other_udp(&mut self, p: &mut Probe, payload: &[u8]) {
        p.other_payload = p.other_payload.saturating_add(1);
        if p.text.is_some() {
            return;
        }
        if let sip::SipProbe::Message(m) = sip::parse(payload) {
            self.on_sip(p, &m);
        } else if (self.dns_port() || self.port_rule.is_none()) && dns::is_dns(payload, false) {
            p.text = Some(AppProtocol::Dns);
        }
    }

    fn on_stun(&mut self, p: &mut Probe, m: &stun::StunMessage) {
        p.stun = p.stun.saturating_add(1);
        p.stun5389 |= m.dialect == stun::Dialect::Rfc5389;
        p.stun_ms |= m.microsoft || m.dialect == stun::Dialect::MsTurn;
        self.meta().stun_seen = true;
        for a in [m.mapped, m.relayed].into_iter().flatten() {
            self.learn(a, AppProtocol::Srtp, None);
        }
    }

    fn on_sip(&mut self, p: &mut Probe, m: &sip::SipMessage) {
        p.text = Some(AppProtocol::Sip);
        let meta = self.meta();
        if let sip::StartLine::Request { method, host } = &m.start {
            if meta.sip_method.is_none() {
                meta.sip_method = Some(method);
                meta.server_name = meta.server_name.take().or_else(|| host.clone());
            }
        }
        if meta.sip_user_agent.is_none() {
            meta.sip_user_agent = m.user_agent.clone();
        }
        for media in &m.media {
            let rtp = if media.secure {
                AppProtocol::Srtp
            } else {
                AppProtocol::Rtp
            };
            let maps = (!media.rtpmap.is_empty()).then(|| Arc::from(media.rtpmap.as_slice()));
            self.learn(SocketAddr::new(media.addr, media.port), rtp, maps);
            let rtcp = media.rtcp_port.or_else(|| media.port.checked_add(1));
            if let Some(port) = rtcp {
                self.learn(SocketAddr::new(media.addr, port), AppProtocol::Rtcp, None);
            }
        }
    }

    fn feed_tcp(
        &mut self,
        sig: &Signatures,
        p: &mut Probe,
        i: usize,
        payload: &[u8],
    ) -> Option<AppProtocol> {
        if let Some(app) = p.tls_pending {
            return self.after_hello(p, i, app, payload);
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
                meta.server_name = meta.server_name.take().or(host);
                return Some(AppProtocol::Http);
            }
            text::TextProbe::HttpResponse => return Some(AppProtocol::Http),
            text::TextProbe::SmtpHello { name } => {
                let meta = self.meta();
                meta.server_name = meta.server_name.take().or(name);
                p.text = Some(AppProtocol::Smtp);
            }
            text::TextProbe::SmtpBanner => p.text = p.text.or(Some(AppProtocol::Smtp)),
            text::TextProbe::Greeting220 => p.smtp_greeting = true,
            text::TextProbe::Pop3 => p.text = p.text.or(Some(AppProtocol::Pop3)),
            text::TextProbe::Imap => p.text = p.text.or(Some(AppProtocol::Imap)),
            text::TextProbe::Xmpp => p.text = p.text.or(Some(AppProtocol::Xmpp)),
            text::TextProbe::StartTls => {
                if let Some(app) = p.text {
                    self.meta().starttls = true;
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
            }
        }
        None
    }

    fn media_port(&self) -> bool {
        is_media_port(self.src_port) || is_media_port(self.dst_port)
    }

    /// A payload after a TLS hello on a media-capable port: framed MS-TURN,
    /// a real TLS record, or more handshake.
    fn after_hello(
        &mut self,
        p: &mut Probe,
        i: usize,
        app: AppProtocol,
        payload: &[u8],
    ) -> Option<AppProtocol> {
        if let stun::StunProbe::Message(m) = stun::parse_tcp(payload) {
            self.on_stun(p, &m);
            return Some(AppProtocol::StunTurn);
        }
        if stun::is_ms_turn_frame(payload) {
            self.meta().stun_seen = true;
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
                // Neither TLS nor MS-TURN; an unframed continuation of a
                // hello is still possible on the sending side.
                let same_side = p.stream.get(i).is_some_and(|b| !b.is_empty());
                if !same_side {
                    return Some(app);
                }
            }
        }
        p.after_hello = p.after_hello.saturating_add(1);
        (p.after_hello >= AFTER_HELLO_BUDGET).then_some(app)
    }

    fn on_hello_fields(&mut self, h: &tls::Hello) {
        let meta = self.meta();
        if h.kind == tls::HelloKind::Client {
            meta.server_name = meta.server_name.take().or_else(|| h.sni.clone());
            meta.alpn = meta.alpn.take().or_else(|| h.alpn.clone());
        }
        let v = tls::version_name(h.version);
        meta.tls_version = match (meta.tls_version, v) {
            (Some(a), Some(b)) => Some(if b > a { b } else { a }),
            (a, b) => a.or(b),
        };
    }

    /// The class of a TLS flow after a hello, and whether a server-name rule
    /// gave it.
    fn on_tls(&mut self, sig: &Signatures, p: &Probe, h: &tls::Hello) -> (AppProtocol, bool) {
        self.on_hello_fields(h);
        if let Some(app) = p.text {
            self.meta().starttls = true;
            return (app, false);
        }
        let sni = self.meta.as_ref().and_then(|m| m.server_name.clone());
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

    /// The labels, given the flow's shape for behaviour rules.
    pub fn result(&self, sig: &Signatures, shape: &FlowShape) -> Classification {
        let mut c = self.meta.as_deref().cloned().unwrap_or_default();
        let (mut app, mut source) = match (&self.label, &self.probe) {
            (Some((a, s)), _) => (Some(*a), Some(*s)),
            (None, Some(pb)) => (Self::settle(&pb.0), None),
            (None, None) => (None, None),
        };
        if app.is_some() && source.is_none() {
            source = Some(AppSource::Payload);
        }
        let mut traffic = app.map(AppProtocol::default_traffic_type);
        if app.is_none() {
            if let Some((a, t, _)) = &self.port_rule {
                app = Some(*a);
                source = Some(AppSource::Port);
                traffic = Some(*t);
            }
        }
        // Media cadence over TCP: many small packets both ways at a steady rate.
        if self.transport == Transport::Tcp
            && (is_media_port(self.src_port) || is_media_port(self.dst_port))
        {
            let pk = shape.src2dst_packets.min(shape.dst2src_packets);
            let total = shape.src2dst_packets + shape.dst2src_packets;
            let secs = shape.duration_us as f64 / 1e6;
            let rate = if secs > 0.0 { total as f64 / secs } else { 0.0 };
            let mean = shape.payload_bytes.checked_div(total).unwrap_or(0);
            if pk >= 50 && mean <= 400 && (20.0..=200.0).contains(&rate) && secs >= 2.0 {
                c.media_over_tcp = true;
                traffic = Some(TrafficType::Media);
                if !matches!(
                    app,
                    Some(AppProtocol::Rtp | AppProtocol::Srtp | AppProtocol::StunTurn)
                ) {
                    source = Some(AppSource::Behaviour);
                }
            }
        }
        let sni_rule = c.server_name.as_deref().and_then(|n| sig.sni.lookup(n));
        c.service = sni_rule
            .map(|r| r.service.clone())
            .or_else(|| self.port_rule.as_ref().and_then(|r| r.2.clone()));
        c.app_protocol = app;
        c.source = Some(source.unwrap_or(AppSource::None));
        c.traffic_type = Some(traffic.unwrap_or(TrafficType::Other));
        c
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn sig() -> Signatures {
        Signatures::builtin().unwrap()
    }

    fn rtp_pkt(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut v = vec![0x80, 0];
        v.extend(seq.to_be_bytes());
        v.extend(ts.to_be_bytes());
        v.extend(ssrc.to_be_bytes());
        v.extend([0u8; 160]);
        v
    }

    #[test]
    fn port_rule_without_payload() {
        let s = sig();
        let c = FlowClassifier::new(&s, Transport::Tcp, 50123, 5061);
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.source, r.traffic_type),
            (
                AppProtocol::SipTls,
                Some(AppSource::Port),
                Some(TrafficType::Signaling)
            )
        );
        assert_eq!(r.service.as_deref(), Some("skype_teams"));
        let c = FlowClassifier::new(&s, Transport::Udp, 40000, 40001);
        assert_eq!(
            (
                c.result(&s, &FlowShape::default()).app(),
                c.result(&s, &FlowShape::default()).source
            ),
            (AppProtocol::Unknown, Some(AppSource::None))
        );
    }

    #[test]
    fn rtp_needs_several_consistent_packets_and_stun_makes_it_srtp() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 40000, 40002);
        for i in 0..3u16 {
            assert_eq!(
                c.feed(&s, Side::Src2Dst, &rtp_pkt(100 + i, 160 * u32::from(i), 7)),
                Progress::NeedMore
            );
        }
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &rtp_pkt(103, 480, 7)),
            Progress::Done
        );
        assert_eq!(c.result(&s, &FlowShape::default()).app(), AppProtocol::Rtp);

        let mut c = FlowClassifier::new(&s, Transport::Udp, 50010, 3478);
        let mut req = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        req.extend([1u8; 12]);
        c.feed(&s, Side::Src2Dst, &req);
        for i in 0..20u16 {
            if c.feed(&s, Side::Src2Dst, &rtp_pkt(i, 160 * u32::from(i), 9)) == Progress::Done {
                break;
            }
        }
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.stun_seen, r.traffic_type),
            (AppProtocol::Srtp, true, Some(TrafficType::Media))
        );
    }

    #[test]
    fn tls_on_5061_is_sip_tls_and_sni_sets_service() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50600, 443);
        // A ClientHello cut in two segments.
        let hello = crate::dissect::tls::test_hello("teams.microsoft.com");
        assert_eq!(c.feed(&s, Side::Src2Dst, &hello[..40]), Progress::NeedMore);
        // On 443 the hello alone could be MS-TURN's fake handshake: the
        // first application-data record settles it.
        assert_eq!(c.feed(&s, Side::Src2Dst, &hello[40..]), Progress::NeedMore);
        assert_eq!(
            c.feed(&s, Side::Dst2Src, &[0x17, 3, 3, 0, 2, 0, 0]),
            Progress::Done
        );
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.server_name.as_deref(), r.service.as_deref()),
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
        assert_eq!(c.feed(&s, Side::Src2Dst, &hello), Progress::NeedMore);
        assert_eq!(
            c.feed(&s, Side::Dst2Src, &server_hello_done()),
            Progress::NeedMore
        );
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &framed_ms_allocate()),
            Progress::Done
        );
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.traffic_type, r.stun_seen),
            (AppProtocol::StunTurn, Some(TrafficType::Media), true)
        );
        // Framed end-to-end data (type 3) after the handshake counts too.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        c.feed(&s, Side::Src2Dst, &hello);
        c.feed(&s, Side::Dst2Src, &server_hello_done());
        let data = [3, 0, 0, 12, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
        assert_eq!(c.feed(&s, Side::Src2Dst, &data), Progress::Done);
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
            Progress::NeedMore
        );
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &[0x14, 3, 3, 0, 1, 1]),
            Progress::Done
        );
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.service.as_deref()),
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
            Progress::Done
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
    fn learned_endpoints_carry_their_label() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 5060, 5060);
        let invite = b"INVITE sip:bob@example.com SIP/2.0\r\n\r\nv=0\r\nc=IN IP4 10.1.1.1\r\nm=audio 40000 RTP/SAVP 0\r\na=rtcp:40009\r\nm=video 40002 RTP/AVP 96\r\n";
        c.feed(&s, Side::Src2Dst, invite);
        let got: Vec<(String, AppProtocol)> = c
            .take_learned()
            .into_iter()
            .map(|e| (e.addr.to_string(), e.label))
            .collect();
        assert_eq!(
            got,
            vec![
                ("10.1.1.1:40000".to_string(), AppProtocol::Srtp),
                ("10.1.1.1:40009".to_string(), AppProtocol::Rtcp),
                ("10.1.1.1:40002".to_string(), AppProtocol::Rtp),
                ("10.1.1.1:40003".to_string(), AppProtocol::Rtcp),
            ]
        );
        assert!(!c.has_learned(), "taken once");
        // STUN's XOR-MAPPED-ADDRESS is an ICE candidate: SRTP media.
        let mut c = FlowClassifier::new(&s, Transport::Udp, 50010, 3478);
        let resp =
            crate::dissect::hex("0101000c2112a442000000000000000000000001002000080001a1470f1e2d3c");
        c.feed(&s, Side::Dst2Src, &resp);
        let l = c.take_learned();
        assert_eq!(l.len(), 1);
        assert_eq!(
            (l[0].addr.to_string().as_str(), l[0].label),
            ("46.12.137.126:32853", AppProtocol::Srtp)
        );
    }

    #[test]
    fn which_flows_need_correlation() {
        use AppProtocol as A;
        use AppSource as S;
        assert!(needs_correlation(Transport::Udp, A::Unknown, S::None));
        assert!(needs_correlation(Transport::Udp, A::StunTurn, S::Port));
        assert!(needs_correlation(Transport::Udp, A::Other, S::Payload));
        assert!(!needs_correlation(Transport::Udp, A::Rtp, S::Payload));
        assert!(!needs_correlation(Transport::Udp, A::Dns, S::Payload));
        assert!(!needs_correlation(Transport::Tcp, A::Unknown, S::None));
    }

    #[test]
    fn smtp_starttls_keeps_its_class() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 40001, 25);
        c.feed(&s, Side::Dst2Src, b"220 mx.example.com ESMTP\r\n");
        c.feed(&s, Side::Src2Dst, b"EHLO client.example.com\r\n");
        assert_eq!(c.feed(&s, Side::Src2Dst, b"STARTTLS\r\n"), Progress::Done);
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.starttls, r.server_name.as_deref()),
            (AppProtocol::Smtp, true, Some("client.example.com"))
        );
    }

    #[test]
    fn sip_over_udp_learns_sdp_media() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 5060, 5060);
        let invite = b"INVITE sip:bob@example.com SIP/2.0\r\nUser-Agent: UA/1\r\n\r\nv=0\r\nc=IN IP4 10.1.1.1\r\nm=audio 40000 RTP/AVP 0\r\n";
        assert_eq!(c.feed(&s, Side::Src2Dst, invite), Progress::Done);
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.sip_method, r.sip_user_agent.as_deref()),
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

    #[test]
    fn media_cadence_over_tcp_443() {
        let s = sig();
        let c = FlowClassifier::new(&s, Transport::Tcp, 50123, 443);
        let shape = FlowShape {
            src2dst_packets: 500,
            dst2src_packets: 500,
            payload_bytes: 1000 * 180,
            duration_us: 10_000_000,
        };
        let r = c.result(&s, &shape);
        assert_eq!(
            (r.traffic_type, r.source),
            (Some(TrafficType::Media), Some(AppSource::Behaviour))
        );
        assert!(r.media_over_tcp);
        let bulk = FlowShape {
            src2dst_packets: 500,
            dst2src_packets: 500,
            payload_bytes: 1000 * 1400,
            duration_us: 10_000_000,
        };
        assert!(!c.result(&s, &bulk).media_over_tcp);
    }

    #[test]
    fn budget_bounds_inspection() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 40000, 40001);
        let mut n = 0;
        while c.wants_more() && n < 1000 {
            c.feed(&s, Side::Src2Dst, &[0x55; 40]);
            n += 1;
        }
        assert_eq!(n, usize::from(PACKET_BUDGET) * 2);
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Other,
            "inspected, none of ours"
        );
        // A client port inside the media range is no evidence once payload was seen.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 52915, 60163);
        c.feed(&s, Side::Src2Dst, b"\x13BitTorrent protocol");
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Other
        );
        // DNS whose id looks like an RTP header is still DNS on port 53.
        let mut c = FlowClassifier::new(&s, Transport::Udp, 40000, 53);
        let q = [
            0x9a, 0x01, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
        ];
        assert_eq!(c.feed(&s, Side::Src2Dst, &q), Progress::Done);
        assert_eq!(c.result(&s, &FlowShape::default()).app(), AppProtocol::Dns);
    }
}
