//! The flow-outcome step: from what the runtime gathered about a finished
//! flow (its endpoints, packet shape, edges crossed, and the
//! [`FlowEvidence`] its packets fed: classifier, media tracker, round
//! trips, cadence) to the labelled fields of its output row: what it is,
//! where it goes, whether that is the path the call-flow principles
//! predict, and how good its media is.
//!
//! Every decision about a flow's labels lives here, and everything its
//! packets teach lives in [`crate::evidence`], so the runtime only keeps the
//! mechanics (flow table, timeouts, threads) and the writer only turns rows
//! into columns. Records that must wait for other flows are [`Pending`].

pub mod leg;
pub mod media;
pub mod path;
mod pending;
pub mod tunnel;

pub use leg::{Leg, SensorPosition};
pub use path::{Marking, PathEvidence, PathFields};
pub use pending::Pending;

pub use media::{DirMedia, MediaFields, StreamRecord};

use crate::classifier::{
    Classification, FlowShape, KnownServer, ProtocolFields, EXCHANGE, SKYPE_TEAMS,
};
use crate::egress::{Egress, ExpectedPath, FlowFacts, LearnedEdges, NextHop, Site, Verdict};
use crate::evidence::FlowEvidence;
use crate::prefix::{FlowDirection, LocalNets};
use crate::{AppProtocol, AppSource, ServiceSource, Signatures, TrafficType, Transport};
use std::net::IpAddr;
use std::sync::Arc;

/// What every flow is judged against: the rules, the site's local networks
/// and its egress knowledge. Read-only and shared by every worker.
#[derive(Debug)]
pub struct Knowledge {
    /// Signature rules.
    pub signatures: Signatures,
    /// Local networks.
    pub local: LocalNets,
    /// Egress attribution: prefix sources, edge routers, call-flow table.
    pub egress: Site,
    /// Where the sensor sits, which decides the media targets.
    pub sensor_position: SensorPosition,
}

/// Egress attribution of one flow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EgressFields {
    /// `expressroute`, `internet`, `local`, `unknown`.
    pub egress: Egress,
    /// Which prefix source matched (file name, `o365`, `local`).
    pub egress_list: Option<Arc<str>>,
    /// Office 365 endpoint set id of the remote address.
    pub o365_endpoint_id: Option<i32>,
    /// Its service area.
    pub o365_service_area: Option<Arc<str>>,
    /// Its category.
    pub o365_category: Option<&'static str>,
    /// Whether the set is ExpressRoute-capable.
    pub o365_expressroute: Option<bool>,
    /// Next hop (MAC, VLAN) the initiator's packets were seen through.
    pub src2dst_next_hop: Option<Arc<str>>,
    /// Next hop the responder's packets were seen through.
    pub dst2src_next_hop: Option<Arc<str>>,
    /// Edge the initiator's packets crossed (configured or learned).
    pub src2dst_edge: Option<Arc<str>>,
    /// Edge the responder's packets crossed.
    pub dst2src_edge: Option<Arc<str>>,
    /// The path of the edge crossed (or `local` when both ends are local).
    pub observed_egress: Option<Egress>,
    /// The directions used different edges (null unless both crossed an edge).
    pub asymmetric: Option<bool>,
    /// Path the call-flow principles predict.
    pub expected_path: Option<ExpectedPath>,
    /// Whether the observed path matches it.
    pub path_conformant: Option<bool>,
    /// Why not, or what else looks wrong with the path.
    pub path_note: Option<String>,
}

/// The labelled fields of a flow's row (everything but its key, times and
/// counters).
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    /// The flow's class.
    pub app_protocol: AppProtocol,
    /// How the class was reached.
    pub app_protocol_source: AppSource,
    /// Traffic type.
    pub traffic_type: TrafficType,
    /// Initiator inside the local networks.
    pub local_src: bool,
    /// Responder inside the local networks.
    pub local_dst: bool,
    /// Direction relative to the site.
    pub direction: FlowDirection,
    /// Label of the remote endpoint's longest-prefix match.
    pub egress_label: Option<String>,
    /// The matched CIDR.
    pub egress_prefix: Option<String>,
    /// Server name and what the payloads showed of their protocol, as the
    /// classifier read them.
    pub protocol: ProtocolFields,
    /// SfB/Teams, Exchange, SharePoint or common service.
    pub service: Option<Arc<str>>,
    /// What named the service (null when no service).
    pub service_source: Option<ServiceSource>,
    /// Egress attribution, next hops and call-flow conformance.
    pub egress: EgressFields,
    /// Media quality columns (export/SCHEMA.md, "Media columns"); default for non-media flows.
    pub media: MediaFields,
    /// Handshake and STUN round trips, DSCP per direction.
    pub path: PathFields,
    /// A tunnel carrying media cadence; null for flows that are no tunnel.
    pub tunnel_media_suspected: Option<bool>,
    /// The buildings of the flow's local ends (CQD building file).
    pub buildings: crate::buildings::FlowBuildings,
    /// The call the flow belongs to (set when its call is grouped).
    pub call_id: Option<i64>,
    /// The SIP dialogs it carried in clear text, for grouping calls (never
    /// written: a `Call-ID` hash and media endpoints).
    pub dialogs: Vec<crate::evidence::Dialog>,
}

impl Labels {
    /// The labels of a flow nothing is known about.
    pub fn unknown() -> Self {
        Labels {
            app_protocol: AppProtocol::Unknown,
            app_protocol_source: AppSource::None,
            traffic_type: TrafficType::Other,
            local_src: false,
            local_dst: false,
            direction: FlowDirection::External,
            egress_label: None,
            egress_prefix: None,
            protocol: ProtocolFields::default(),
            service: None,
            service_source: None,
            egress: EgressFields::default(),
            media: MediaFields::default(),
            path: PathFields::default(),
            tunnel_media_suspected: None,
            buildings: crate::buildings::FlowBuildings::default(),
            call_id: None,
            dialogs: Vec::new(),
        }
    }
}

/// What the runtime hands the outcome step about a finished flow.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    /// The record's id (the streams rows join on it).
    pub flow_id: i64,
    /// Initiator.
    pub src: IpAddr,
    /// Responder.
    pub dst: IpAddr,
    /// Transport class.
    pub transport: Transport,
    /// Packet counts and timing.
    pub shape: FlowShape,
    /// First edge index seen per direction (src2dst, dst2src), 0 = none.
    pub hops: [u8; 2],
    /// The edge changed within a direction.
    pub hop_changed: [bool; 2],
    /// Next hop per direction seen on the wire (local-public flows only).
    pub next_hops: [NextHop; 2],
    /// Edges learned from the wire, once decided for this input.
    pub learned: Option<&'a LearnedEdges>,
    /// Handshake timing and marking (the STUN round trip is the flow
    /// evidence's: see [`Evidence::path`]).
    pub path: PathEvidence,
    /// What the flow's packets taught: class, media, round trips, cadence.
    pub flow: &'a FlowEvidence,
}

impl Evidence<'_> {
    /// Timing and marking, with the STUN round trip the flow evidence paired.
    pub fn path(&self) -> PathEvidence {
        PathEvidence {
            stun_rtt_us: self.flow.stun_rtt_us(),
            ..self.path
        }
    }

    fn facts(&self, traffic_type: TrafficType) -> FlowFacts {
        FlowFacts {
            src: self.src,
            dst: self.dst,
            traffic_type,
            hops: self.hops,
            hop_changed: self.hop_changed,
            next_hops: self.next_hops,
            internet_only: None,
            dst_role: None,
        }
    }
}

/// The labelled fields of a finished flow, in four steps: where it goes
/// (which tells whether a media port range means media), what it is and
/// which service, the path judged on that, then its media and tunnel
/// findings.
pub fn label(k: &Knowledge, e: &Evidence<'_>) -> Labels {
    let located = k
        .egress
        .judge(&k.local, &e.facts(TrafficType::Other), e.learned);
    let class =
        e.flow
            .classifier()
            .result_with(&k.signatures, &e.shape, known_server(k, e, &located));
    let app = class.app();
    let service = service_of(k, e, &class, &located);
    // The service may make web traffic signaling or mail, which the
    // call-flow expectation depends on, so egress is judged on the final type.
    let traffic_type = class
        .traffic_type
        .unwrap_or(TrafficType::Other)
        .for_service(app, service.as_ref().map(|(s, _)| &**s));
    let mut v = judge_path(k, e, &class, traffic_type, located);
    let path = v.observed.unwrap_or(v.egress);
    let leg = |side| {
        k.sensor_position
            .leg(side, (v.local_src, v.local_dst), path)
    };
    let media = match e.flow.media() {
        Some(m) if app.carries_media() && m.rtp_packets + m.rtcp_packets > 0 => {
            MediaFields::from_tracker(e.flow_id, m, &k.signatures.media, &|_, _| None, &leg)
        }
        _ => MediaFields::default(),
    };
    let tunnel_media_suspected = app.is_tunnel().then(|| {
        e.flow
            .cadence()
            .is_some_and(tunnel::Cadence::media_suspected)
    });
    let evidence = e.path();
    let rtt = path::RttTargets::of(&k.signatures.media, k.sensor_position);
    let mut extra = path::notes(&evidence, app, &media, v.o365.is_some(), outbound(&v), &rtt);
    if tunnel_media_suspected == Some(true) {
        extra.push(tunnel::NOTE.to_string());
    }
    let (service, service_source) = service.unzip();
    let note = v.note.take();
    Labels {
        app_protocol: app,
        app_protocol_source: class.source.unwrap_or(AppSource::None),
        traffic_type,
        local_src: v.local_src,
        local_dst: v.local_dst,
        direction: v.direction,
        egress_label: v.label.map(str::to_string),
        egress_prefix: v.prefix.map(|p| p.to_string()),
        service,
        service_source,
        egress: egress_fields(e, &v, note, &extra),
        media,
        path: PathFields::of(&evidence),
        tunnel_media_suspected,
        protocol: class.protocol,
        buildings: crate::buildings::FlowBuildings::of(
            &k.egress.buildings,
            (e.src, v.local_src),
            (e.dst, v.local_dst),
        ),
        call_id: None,
        dialogs: e.flow.dialogs().to_vec(),
    }
}

/// What the flow's located remote end and the site's own servers tell of
/// its server: Microsoft's, and one that relays Teams/SfB media.
fn known_server(k: &Knowledge, e: &Evidence<'_>, located: &Verdict<'_>) -> KnownServer {
    let onprem = |a: IpAddr| k.egress.onprem.lookup(a).map(|(_, o)| &o.service);
    KnownServer {
        microsoft: located.o365.is_some() || onprem(e.dst).is_some(),
        media: located
            .o365
            .and_then(|s| s.service.as_deref())
            .is_some_and(|s| s == SKYPE_TEAMS)
            || [e.src, e.dst]
                .into_iter()
                .any(|a| onprem(a).is_some_and(|s| &**s == SKYPE_TEAMS)),
    }
}

/// The flow's service and what named it: the server name's rule, the
/// Office 365 set, Microsoft's protocol markers, the site's own servers.
fn service_of(
    k: &Knowledge,
    e: &Evidence<'_>,
    class: &Classification,
    located: &Verdict<'_>,
) -> Option<(Arc<str>, ServiceSource)> {
    let onprem = |a: IpAddr| k.egress.onprem.lookup(a).map(|(_, o)| &o.service);
    let named = class
        .protocol
        .server_name
        .as_deref()
        .and_then(|n| k.egress.onprem_by_name(n));
    let config = onprem(e.dst)
        .or(named.map(|o| &o.service))
        .or_else(|| onprem(e.src).filter(|s| serves(s, class.app())))
        .cloned();
    decide_service([
        (class.sni_service.clone(), ServiceSource::Sni),
        (
            located.o365.and_then(|s| s.service.clone()),
            ServiceSource::O365,
        ),
        (class.protocol_service.clone(), ServiceSource::Protocol),
        (config, ServiceSource::Config),
    ])
}

/// The path verdict on the flow's final traffic type; the first one
/// (`located`) stands when nothing the expectation reads has changed.
fn judge_path<'k>(
    k: &'k Knowledge,
    e: &Evidence<'_>,
    class: &Classification,
    traffic_type: TrafficType,
    located: Verdict<'k>,
) -> Verdict<'k> {
    let mut facts = e.facts(traffic_type);
    name_facts(
        k,
        &mut facts,
        class.app(),
        class.protocol.server_name.as_deref(),
        located.o365.map(|s| s.id),
        located.local_dst,
    );
    if traffic_type == TrafficType::Other
        && facts.internet_only.is_none()
        && facts.dst_role.is_none()
    {
        located
    } else {
        k.egress.judge(&k.local, &facts, e.learned)
    }
}

/// The egress columns of a verdict, its `note` followed by the latency,
/// marking and tunnel findings `extra`.
fn egress_fields(
    e: &Evidence<'_>,
    v: &Verdict<'_>,
    note: Option<String>,
    extra: &[String],
) -> EgressFields {
    let o365 = v.o365;
    EgressFields {
        egress: v.egress,
        egress_list: v.list.map(Arc::from),
        o365_endpoint_id: o365.map(|s| s.id),
        o365_service_area: o365.map(|s| Arc::clone(&s.service_area)),
        o365_category: o365.map(|s| s.category.as_str()),
        o365_expressroute: o365.map(|s| s.expressroute),
        src2dst_next_hop: hop_text(e.next_hops[0]),
        dst2src_next_hop: hop_text(e.next_hops[1]),
        src2dst_edge: v.next_hop[0].as_ref().map(|e| Arc::clone(&e.name)),
        dst2src_edge: v.next_hop[1].as_ref().map(|e| Arc::clone(&e.name)),
        observed_egress: v.observed,
        asymmetric: v.asymmetric,
        expected_path: v.expected,
        path_conformant: v.conformant,
        path_note: join_notes(note, extra),
    }
}

/// Fills in what a flow's class, server name and endpoint set tell the
/// call-flow expectation: the Internet-only service it is, the role its
/// server name gives the responder.
fn name_facts(
    k: &Knowledge,
    facts: &mut FlowFacts,
    app: AppProtocol,
    server_name: Option<&str>,
    set: Option<i32>,
    dst_local: bool,
) {
    facts.internet_only = k.egress.callflow.internet_only(app, server_name, set);
    facts.dst_role = server_name.and_then(|n| k.egress.named_role(n, dst_local));
}

/// The wire evidence of a next hop (`02:e0:00:00:00:01`, `… vlan 101`).
fn hop_text(h: NextHop) -> Option<Arc<str>> {
    (!h.is_none()).then(|| h.names().text)
}

/// Index of the direction the local end sends (src2dst unless only the
/// responder is local).
fn outbound(v: &Verdict<'_>) -> usize {
    usize::from(v.local_dst && !v.local_src)
}

/// The path verdict's note followed by the latency and marking findings.
fn join_notes(note: Option<String>, extra: &[String]) -> Option<String> {
    let mut all: Vec<&str> = note.as_deref().into_iter().collect();
    all.extend(extra.iter().map(String::as_str));
    (!all.is_empty()).then(|| all.join("; "))
}

/// The first service the evidence names, in the order given; `common` (the
/// shared Office 365 endpoints: sign-in, portal) yields to a specific
/// service from a later source.
pub fn decide_service<const N: usize>(
    evidence: [(Option<Arc<str>>, ServiceSource); N],
) -> Option<(Arc<str>, ServiceSource)> {
    let named = || {
        evidence
            .iter()
            .filter_map(|(s, src)| s.as_ref().map(|s| (s, *src)))
    };
    named()
        .find(|(s, _)| &***s != COMMON)
        .or_else(|| named().next())
        .map(|(s, src)| (Arc::clone(s), src))
}

/// Whether an on-premises server that runs `service` explains a flow of
/// class `app` it initiated (a Front End's SIP, an Exchange server's mail),
/// rather than, say, its own software updates.
fn serves(service: &str, app: AppProtocol) -> bool {
    match service {
        SKYPE_TEAMS => {
            matches!(
                app,
                AppProtocol::Sip | AppProtocol::SipTls | AppProtocol::Psom
            ) || app.carries_media()
        }
        EXCHANGE => matches!(
            app,
            AppProtocol::Smtp | AppProtocol::Pop3 | AppProtocol::Imap
        ),
        _ => false,
    }
}

/// The `service` value of the shared Office 365 endpoints.
const COMMON: &str = "common";

#[cfg(test)]
mod test {
    use super::*;
    use crate::media::MediaTracker;
    use crate::media::QualityProfile;
    use crate::Side;

    /// A flow's streams are judged again when its egress, and so its
    /// profile, is decided after the record was built (learned edges).
    #[test]
    fn media_is_judged_again_under_a_new_profile() {
        let rules = crate::media::QualityRules::builtin().unwrap();
        let mut t = MediaTracker::new();
        // 30 s of 20 ms PCMU, one packet in 200 lost: 0.5%.
        for i in (0..1500u32).filter(|i| i % 200 != 100) {
            let mut p = vec![0x80, 0];
            p.extend((i as u16).to_be_bytes());
            p.extend((160 * i).to_be_bytes());
            p.extend(7u32.to_be_bytes());
            t.feed(Side::Src2Dst, i64::from(i) * 20_000, &p);
        }
        let client = QualityProfile::Client;
        let inside = |s| SensorPosition::Inside.leg(s, (false, true), Egress::Internet);
        let mut m = MediaFields::from_tracker(1, &t, &rules, &|_, _| None, &inside);
        assert_eq!(m.media_quality, Some(crate::media::Quality::Good));
        assert_eq!(m.streams[0].profile(), Some(client));
        let seg = QualityProfile::CustomerEdgeSegment;
        let edge = |s| SensorPosition::CustomerEdge.leg(s, (false, true), Egress::Internet);
        m.judge(&rules, &edge);
        assert_eq!(m.streams[0].quality, Some(crate::media::Quality::Poor));
        assert_eq!(m.streams[0].profile(), Some(seg));
        assert_eq!(m.streams[0].leg.map(|l| l.segment), Some("internet"));
        assert_eq!(m.media_quality, Some(crate::media::Quality::Poor));
    }
}
