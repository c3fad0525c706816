//! The per-flow classifier: combines the evidence of the payload dissectors
//! over the first packets of each direction with port rules, server-name
//! rules and the flow's shape.
//!
//! A worker creates one [`FlowClassifier`] per flow and feeds it the transport
//! payload of each packet while [`FlowClassifier::wants_more`] is true; once
//! the flow is decided (or the packet budget is spent) the inspection state is
//! dropped and decided flows cost only counters. Payload evidence outranks
//! port evidence (docs/call-flows.md §1.3).
//!
//! The rules, in order, for the class of a flow:
//! 1. DTLS records: `dtls` (ICE flows that carry STUN then DTLS-SRTP too).
//! 2. RTP confirmed across packets (version 2, one SSRC, sequence and
//!    timestamp advancing): `srtp` when the same flow also carried RFC 5389
//!    STUN (ICE stacks key SRTP over it) or a Microsoft STUN attribute, else
//!    `rtp`. A flow with only RTCP, on any port pair, is `rtcp`: every
//!    datagram a valid length chain of RTCP packets (types 200-213, a lone
//!    BYE or SDES included) and one sender SSRC per direction.
//! 3. STUN/TURN messages and nothing else: `stun_turn`.
//! 4. A TLS hello: the class a server-name rule gives (`sip_tls`, `psom`),
//!    else the mail, XMPP, SIP-TLS or PSOM class of the port (implicit TLS,
//!    5061, 8057), else `https` when either port is 443, else `tls`.
//! 5. Clear-text SIP, HTTP, SMTP, POP3, IMAP, XMPP, DNS from their first
//!    lines or headers; a mail or XMPP session that then sends STARTTLS keeps
//!    its class with `starttls = true`. Any other registered probe that is
//!    certain names the flow too (`registry` lists them all).
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
//!
//! Layout: this module holds the per-flow state and the rules that combine
//! evidence; `registry` the probe interface and the one table per transport
//! that orders the probes (`tls`, `stun`, `rtp`, `text`, `simple`, and the
//! dissectors that need nothing of the flow, such as MQTT); `correlation`
//! the media endpoints a flow announces for others.

mod correlation;
mod registry;
mod rtp;
mod simple;
mod stun;
mod text;
mod tls;

pub use correlation::{needs_correlation, CorrelationCounters, LearnedEndpoint, SignaledBinding};

use crate::dissect::{ipsec, ProbeResult};
use crate::rules::Signatures;
use crate::vocab::{AppProtocol, AppSource, Side, TrafficType, Transport};
use std::sync::Arc;

/// IP protocol number of ESP (RFC 4303).
pub const IP_PROTO_ESP: u8 = 50;
/// IP protocol number of AH (RFC 4302).
pub const IP_PROTO_AH: u8 = 51;

/// Payload-carrying packets per direction a flow is inspected for.
pub const PACKET_BUDGET: u8 = 16;

/// Whether the classifier wants more packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inspection {
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
    /// The service the server name's rule names (`sni.toml`), when any.
    pub sni_service: Option<Arc<str>>,
    /// The service Microsoft's own protocol markers name: MS-TURN / MS-ICE
    /// attributes in STUN, a Lync / Skype for Business SIP user agent or
    /// `ms-` header, an Exchange mail banner.
    pub protocol_service: Option<Arc<str>>,
    /// What the payloads showed beyond the class: the protocol columns the
    /// flow's row shares.
    pub protocol: ProtocolFields,
}

impl Classification {
    /// The class, `unknown` when nothing is known.
    pub fn app(&self) -> AppProtocol {
        self.app_protocol.unwrap_or(AppProtocol::Unknown)
    }
}

/// What a flow's payloads (and, for `media_over_tcp`, its cadence) showed
/// beyond its class; the flow's row carries them as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtocolFields {
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

/// Per-flow classification state. Small when decided: the inspection state
/// lives in a box that is freed when the flow is decided.
#[derive(Clone, Debug)]
pub struct FlowClassifier {
    transport: Transport,
    // IP protocol number, for transports without ports (ESP, AH).
    ip_proto: u8,
    src_port: u16,
    dst_port: u16,
    // The server port's rule: class, traffic type, and whether it is a wide
    // range (a media range names a flow only when its server is a known
    // media server).
    port_rule: Option<(AppProtocol, TrafficType, bool)>,
    // Payloads are inspected (false: `--classify port`).
    inspect: bool,
    // Inspection goes on: no class yet, budget left.
    probing: bool,
    label: Option<(AppProtocol, AppSource)>,
    meta: Option<Box<Classification>>,
    // The probes' state, made at the first payload: most flows of a busy
    // link (SYNs, scans, lone datagrams) never carry one.
    probe: Option<Box<ProbeBox>>,
    // Boxed: only signaling flows fill it, and a Vec would take 24 bytes
    // in every flow (the lint's extra allocation is the point).
    #[allow(clippy::box_collection)]
    learned: Option<Box<Vec<LearnedEndpoint>>>,
}

// The probe state is not Clone (buffers); flows are never cloned while
// inspecting.
#[derive(Debug, Default)]
struct ProbeBox(ProbeState);

impl Clone for ProbeBox {
    fn clone(&self) -> Self {
        ProbeBox::default()
    }
}

/// Per-flow inspection state: the budget, and each stateful probe's own.
/// Dropped once the flow is decided.
#[derive(Debug, Default)]
struct ProbeState {
    /// Payloads fed per direction, against the budget.
    fed: [u8; 2],
    /// Payloads no probe claimed.
    unclaimed: u8,
    tls: tls::TlsState,
    stun: stun::StunState,
    rtp: rtp::RtpState,
    rtcp: rtp::RtcpState,
    text: text::TextState,
    // IKE or a NAT-keepalive on UDP 4500: NAT traversal, until ESP shows.
    natt: bool,
}

/// What a probe sees besides the payload: the flow, every probe's state
/// (a TLS hello after a mail greeting is STARTTLS; RTP after STUN is
/// SRTP), the rules, and where the payload came from.
struct Cx<'a> {
    flow: &'a mut FlowClassifier,
    st: &'a mut ProbeState,
    sig: &'a Signatures,
    /// 0: initiator to responder; 1: responder to initiator.
    side: usize,
    /// The payload is the data of a TURN channel.
    relayed: bool,
    /// Asks the UDP probes again, for the data inside a TURN channel (the
    /// registry's table, handed in so a probe needs no table of its own).
    reprobe: fn(&mut Cx<'_>, &[u8]) -> ProbeResult,
}

/// Server ports media can run on: TLS 443 (MS-TURN over TCP), the TURN
/// ports, and the media range, the last only to a known media server.
fn is_media_port(p: u16, media_server: bool) -> bool {
    p == 443 || (3478..=3481).contains(&p) || (media_server && (50000..=59999).contains(&p))
}

impl FlowClassifier {
    /// Starts a flow's classification from its oriented ports; only the
    /// server's (the responder's) port is looked up in the port rules.
    pub fn new(sig: &Signatures, transport: Transport, src_port: u16, dst_port: u16) -> Self {
        let port_rule = sig
            .ports
            .get(transport, dst_port)
            .map(|r| (r.app_protocol, r.traffic_type, r.wide));
        let inspect = matches!(transport, Transport::Tcp | Transport::Udp);
        FlowClassifier {
            transport,
            ip_proto: 0,
            src_port,
            dst_port,
            port_rule,
            inspect: true,
            probing: inspect,
            label: None,
            meta: None,
            probe: None,
            learned: None,
        }
    }

    /// A classifier that labels from port rules only and never asks for
    /// payloads (the cheapest mode, `--classify port`).
    pub fn port_only(sig: &Signatures, transport: Transport, src_port: u16, dst_port: u16) -> Self {
        let mut c = Self::new(sig, transport, src_port, dst_port);
        c.probing = false;
        c.inspect = false;
        c
    }

    /// Sets the IP protocol number of a flow without ports: ESP (50) and
    /// AH (51) are IPsec by their own header.
    pub fn with_ip_proto(mut self, proto: u8) -> Self {
        self.ip_proto = proto;
        // Other protocols without ports stay uninspected (`unknown`).
        if self.inspect && matches!(proto, IP_PROTO_ESP | IP_PROTO_AH) {
            self.probing = true;
        }
        self
    }

    /// Whether the worker should keep feeding payloads.
    #[inline]
    pub fn wants_more(&self) -> bool {
        self.probing
    }

    /// The class payload inspection settled on, once it has (None while
    /// inspecting or when it found nothing).
    #[inline]
    pub fn payload_label(&self) -> Option<AppProtocol> {
        self.label.map(|(a, _)| a)
    }

    /// Whether payload inspection showed a tunnel, or DTLS on UDP 443 that
    /// may be judged a DTLS VPN at the end (see [`Self::result_with`]).
    pub fn maybe_tunnel(&self) -> bool {
        match self.payload_label() {
            Some(AppProtocol::Dtls) => self.transport == Transport::Udp && self.dst_port == 443,
            Some(a) => a.is_tunnel(),
            None => false,
        }
    }

    fn meta(&mut self) -> &mut Classification {
        self.meta.get_or_insert_with(Box::default)
    }

    fn decide(&mut self, app: AppProtocol) -> Inspection {
        self.label = Some((app, AppSource::Payload));
        self.probing = false;
        self.probe = None;
        Inspection::Done
    }

    /// Feeds one packet's transport payload; empty payloads do not count
    /// against the budget.
    pub fn feed(&mut self, sig: &Signatures, side: Side, payload: &[u8]) -> Inspection {
        if !self.probing {
            return Inspection::Done;
        }
        if payload.is_empty() {
            return Inspection::NeedMore;
        }
        let mut pb = self.probe.take().unwrap_or_default();
        let side = usize::from(side == Side::Dst2Src);
        let st = &mut pb.0;
        if let Some(n) = st.fed.get_mut(side) {
            *n = n.saturating_add(1);
        }
        let transport = self.transport;
        let verdict = if matches!(transport, Transport::Tcp | Transport::Udp) {
            let mut cx = Cx {
                flow: &mut *self,
                st: &mut *st,
                sig,
                side,
                relayed: false,
                reprobe: registry::probe_udp,
            };
            match registry::probe_all(transport, &mut cx, payload) {
                ProbeResult::Certain(app) => Some(app),
                ProbeResult::Unsure => None,
                ProbeResult::NotForUs => {
                    st.unclaimed = st.unclaimed.saturating_add(1);
                    None
                }
            }
        } else {
            Some(self.ip_class(payload))
        };
        if let Some(app) = verdict {
            return self.decide(app);
        }
        let spent = st.fed.iter().all(|&n| n >= PACKET_BUDGET)
            || st.fed.iter().any(|&n| n >= PACKET_BUDGET * 2);
        if spent {
            let app = registry::settle(self.transport, st);
            self.label = app.map(|a| (a, AppSource::Payload));
            self.probing = false;
            return Inspection::Done;
        }
        self.probe = Some(pb);
        Inspection::NeedMore
    }

    /// The class of a payload of a transport without ports: IPsec when
    /// its ESP or AH header is valid.
    fn ip_class(&self, payload: &[u8]) -> AppProtocol {
        let ok = match self.ip_proto {
            IP_PROTO_ESP => ipsec::parse_esp(payload).is_some(),
            IP_PROTO_AH => ipsec::parse_ah(payload).is_some(),
            _ => false,
        };
        if ok {
            AppProtocol::Ipsec
        } else {
            AppProtocol::Other
        }
    }

    /// Either port is a DNS port.
    fn dns_port(&self) -> bool {
        matches!(self.src_port, 53 | 5353) || matches!(self.dst_port, 53 | 5353)
    }

    /// The labels, given the flow's shape for behaviour rules, when nothing
    /// is known of its server.
    pub fn result(&self, sig: &Signatures, shape: &FlowShape) -> Classification {
        self.result_with(sig, shape, KnownServer::default())
    }

    /// The labels, given the flow's shape and what is known of its server:
    /// media port ranges name a flow only to a known media server, and a
    /// flow that carried no payload takes its port rule's traffic type only
    /// to a known server of the service.
    pub fn result_with(
        &self,
        sig: &Signatures,
        shape: &FlowShape,
        server: KnownServer,
    ) -> Classification {
        let media_server = server.media;
        let mut c = self.meta.as_deref().cloned().unwrap_or_default();
        let (mut app, mut source) = match (&self.label, &self.probe) {
            (Some((a, s)), _) => (Some(*a), Some(*s)),
            (None, Some(pb)) if self.probing => (registry::settle(self.transport, &pb.0), None),
            // Still inspecting, no payload yet: what the probes say of none.
            (None, None) if self.probing => (
                registry::settle(self.transport, &ProbeState::default()),
                None,
            ),
            (None, _) => (None, None),
        };
        if app.is_some() && source.is_none() {
            source = Some(AppSource::Payload);
        }
        if app.is_none() && matches!(self.ip_proto, IP_PROTO_ESP | IP_PROTO_AH) {
            // No payload inspected: the IP protocol number names it, as a
            // port would.
            (app, source) = (Some(AppProtocol::Ipsec), Some(AppSource::Port));
        }
        // DTLS on UDP 443 that no ICE check preceded, to a server not known
        // to relay media: a DTLS VPN (AnyConnect, Fortinet, OpenConnect
        // carry their data channel so). WebRTC and Teams media run STUN
        // first, which keeps them `dtls`.
        if app == Some(AppProtocol::Dtls)
            && self.transport == Transport::Udp
            && self.dst_port == 443
            && !c.protocol.stun_seen
            && !media_server
        {
            (app, source) = (Some(AppProtocol::SslVpn), Some(AppSource::Behaviour));
        }
        let mut traffic = app.map(AppProtocol::default_traffic_type);
        if app.is_none() {
            // Nothing in the payload (there was none): the server port's
            // name. A flow that carried nothing is not signaling, media or
            // mail from a port alone, only to a server known to run the
            // service; `--classify port` asked for the rules' types.
            match self.port_rule {
                Some((a, t, wide)) if !wide || media_server => {
                    app = Some(a);
                    source = Some(AppSource::Port);
                    let known = if a.carries_media() {
                        media_server
                    } else {
                        server.microsoft
                    };
                    traffic = Some(if !self.inspect || known {
                        t
                    } else {
                        TrafficType::Other
                    });
                }
                _ => {}
            }
        }
        // Media cadence over TCP: many small packets both ways at a steady
        // rate, to a server port media runs on.
        if self.transport == Transport::Tcp && is_media_port(self.dst_port, media_server) {
            let pk = shape.src2dst_packets.min(shape.dst2src_packets);
            let total = shape.src2dst_packets + shape.dst2src_packets;
            let secs = shape.duration_us as f64 / 1e6;
            let rate = if secs > 0.0 { total as f64 / secs } else { 0.0 };
            let mean = shape.payload_bytes.checked_div(total).unwrap_or(0);
            if pk >= 50 && mean <= 400 && (20.0..=200.0).contains(&rate) && secs >= 2.0 {
                c.protocol.media_over_tcp = true;
                traffic = Some(TrafficType::Media);
                if !matches!(
                    app,
                    Some(AppProtocol::Rtp | AppProtocol::Srtp | AppProtocol::StunTurn)
                ) {
                    source = Some(AppSource::Behaviour);
                }
            }
        }
        c.sni_service = c
            .protocol
            .server_name
            .as_deref()
            .and_then(|n| sig.sni.lookup(n))
            .and_then(|r| r.service.clone());
        c.app_protocol = app;
        c.source = Some(source.unwrap_or(AppSource::None));
        c.traffic_type = Some(traffic.unwrap_or(TrafficType::Other));
        c
    }
}

/// The names of a transport's payload probes, in the order the registry
/// asks them (empty for transports without ports).
pub fn probe_order(transport: Transport) -> impl Iterator<Item = &'static str> {
    registry::table(transport).iter().map(|p| p.name)
}

/// What is known of a flow's server (the responder) before its labels are
/// decided, from the site's knowledge rather than from the flow itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KnownServer {
    /// An Office 365 address or a configured on-premises server.
    pub microsoft: bool,
    /// One that relays or terminates media: an Office 365 Skype address, a
    /// configured Skype for Business server.
    pub media: bool,
}

/// The `service` value of Skype for Business / Teams.
pub const SKYPE_TEAMS: &str = "skype_teams";
/// The `service` value of Exchange.
pub const EXCHANGE: &str = "exchange";

#[cfg(test)]
mod test_support {
    use crate::rules::Signatures;

    pub(super) fn sig() -> Signatures {
        Signatures::builtin().unwrap()
    }

    pub(super) fn rtp_pkt(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut v = vec![0x80, 0];
        v.extend(seq.to_be_bytes());
        v.extend(ts.to_be_bytes());
        v.extend(ssrc.to_be_bytes());
        v.extend([0u8; 160]);
        v
    }
}

#[cfg(test)]
mod test {
    use super::test_support::sig;
    use super::*;

    #[test]
    fn probe_state_is_made_at_the_first_payload_and_freed_when_decided() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 40000, 9999);
        assert!(c.wants_more() && c.probe.is_none(), "no payload, no state");
        assert_eq!(c.feed(&s, Side::Src2Dst, &[]), Inspection::NeedMore);
        assert!(c.probe.is_none(), "an empty payload makes none");
        // A lone opaque datagram: inspection goes on, with its state.
        assert_eq!(c.feed(&s, Side::Src2Dst, &[0xde; 48]), Inspection::NeedMore);
        assert!(c.wants_more() && c.probe.is_some());
        // A never-fed flow settles as a fed-nothing one did.
        let never = FlowClassifier::new(&s, Transport::Udp, 40000, 9999);
        let shape = FlowShape::default();
        assert_eq!(never.result(&s, &shape).app(), AppProtocol::Unknown);
        let mut dns = FlowClassifier::new(&s, Transport::Udp, 40000, 53);
        let query = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
        ];
        assert_eq!(dns.feed(&s, Side::Src2Dst, &query), Inspection::Done);
        assert!(
            !dns.wants_more() && dns.probe.is_none(),
            "freed once decided"
        );
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
                Some(TrafficType::Other)
            ),
            "a flow that carried nothing is named by its server port, nothing more"
        );
        assert_eq!((r.sni_service, r.protocol_service), (None, None));
        let c = FlowClassifier::new(&s, Transport::Tcp, 5061, 50123);
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Unknown,
            "the client's port is never looked up"
        );
        let c = FlowClassifier::new(&s, Transport::Udp, 40000, 50010);
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            r.app(),
            AppProtocol::Unknown,
            "a media range alone says nothing"
        );
        let media = KnownServer {
            microsoft: true,
            media: true,
        };
        let r = c.result_with(&s, &FlowShape::default(), media);
        assert_eq!(
            (r.app(), r.traffic_type),
            (AppProtocol::Rtp, Some(TrafficType::Media)),
            "a media range to a known media server"
        );
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
        assert!(r.protocol.media_over_tcp);
        let bulk = FlowShape {
            src2dst_packets: 500,
            dst2src_packets: 500,
            payload_bytes: 1000 * 1400,
            duration_us: 10_000_000,
        };
        assert!(!c.result(&s, &bulk).protocol.media_over_tcp);
    }

    #[test]
    fn ipsec_ike_and_nat_traversal() {
        use crate::dissect::hex;
        let s = sig();
        let mut ike = hex("8f54bf6d8b48e6e10000000000000000212022080000000000000150");
        ike.resize(336, 0x22);
        let mut esp = hex("c0a8123400000001");
        esp.extend([0x80; 60]); // ciphertext that happens to look like RTP
        let class = |t, sp, dp, proto, payloads: &[&[u8]]| {
            let mut c = FlowClassifier::new(&s, t, sp, dp).with_ip_proto(proto);
            for p in payloads {
                c.feed(&s, Side::Src2Dst, p);
            }
            let r = c.result(&s, &FlowShape::default());
            (r.app(), r.traffic_type.unwrap_or(TrafficType::Other))
        };
        let tunnel = |a| (a, TrafficType::Tunnel);
        assert_eq!(
            class(Transport::Udp, 500, 500, 17, &[&ike]),
            tunnel(AppProtocol::Ike)
        );
        let mut framed = vec![0, 0, 0, 0];
        framed.extend(&ike);
        assert_eq!(
            class(Transport::Udp, 4500, 4500, 17, &[&framed, &[0xff]]),
            tunnel(AppProtocol::Ike),
            "NAT-T carrying only IKE and keepalives"
        );
        assert_eq!(
            class(Transport::Udp, 4500, 4500, 17, &[&framed, &esp]),
            tunnel(AppProtocol::Ipsec),
            "ESP in UDP"
        );
        assert_eq!(
            class(Transport::Other, 0, 0, 50, &[&esp]),
            tunnel(AppProtocol::Ipsec)
        );
        assert_eq!(
            class(Transport::Other, 0, 0, 50, &[&[1, 2, 3]]),
            (AppProtocol::Other, TrafficType::Other),
            "not an ESP header"
        );
        assert_eq!(
            class(Transport::Other, 0, 0, 47, &[&esp]).0,
            AppProtocol::Unknown,
            "GRE is not inspected"
        );
        // ESP's bytes on another port are not IPsec.
        assert_ne!(
            class(Transport::Udp, 40000, 40002, 17, &[&esp]).0,
            AppProtocol::Ipsec
        );
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
        assert_eq!(c.feed(&s, Side::Src2Dst, &q), Inspection::Done);
        assert_eq!(c.result(&s, &FlowShape::default()).app(), AppProtocol::Dns);
    }
}
