//! Records that cannot be final when their flow ends: what other flows'
//! signaling teaches (a learned media endpoint, an SDP payload-type
//! binding) or the edges of their input, learned from the wire, may still
//! change their labels.

use super::{
    join_notes, name_facts, path, tunnel, Evidence, Knowledge, Labels, Leg, MediaFields,
    PathEvidence,
};
use crate::classifier::{needs_correlation, SignaledBinding};
use crate::egress::{FlowFacts, LearnedEdges};
use crate::media::MediaTracker;
use crate::{AppProtocol, AppSource, ServiceSource, Side, Transport};
use std::net::SocketAddr;
use std::sync::Arc;

/// Why a finished record must wait for what other flows' signaling teaches
/// (learned media endpoints, SDP payload-type bindings) before it is final.
#[derive(Clone, Debug)]
pub struct Pending {
    /// What egress judged it on, to judge again if correlation relabels it.
    pub facts: FlowFacts,
    /// Its class came from a port or from nothing: a learned endpoint may name it.
    pub relabel: bool,
    /// Its streams, when a dynamic payload type waits for an SDP binding.
    pub media: Option<Box<MediaTracker>>,
    /// It crossed a next hop whose edge is not decided yet.
    pub edges: bool,
    /// Latency and marking evidence, judged again to follow a new path verdict.
    pub path: PathEvidence,
}

impl Pending {
    /// What a finished record waits for, or None when it is final now:
    /// `edges_pending` when edges are learned but not decided yet.
    pub fn of(
        transport: Transport,
        labels: &Labels,
        e: &Evidence<'_>,
        edges_pending: bool,
    ) -> Option<Self> {
        let relabel = needs_correlation(transport, labels.app_protocol, labels.app_protocol_source);
        let media = e
            .flow
            .media()
            .filter(|m| labels.media.is_media && m.has_dynamic_payload())
            .map(|m| Box::new(m.clone()));
        let edges = edges_pending && e.next_hops.iter().any(|h| !h.is_none());
        (relabel || media.is_some() || edges).then(|| Pending {
            facts: e.facts(labels.traffic_type),
            relabel,
            media,
            edges,
            path: e.path(),
        })
    }

    /// Whether it waits for what other flows' signaling teaches (as opposed
    /// to only the edges of its input).
    pub fn waits_for_correlation(&self) -> bool {
        self.relabel || self.media.is_some()
    }

    /// What it still waits for when no correlation runs: the edges only, or
    /// nothing (None).
    pub fn without_correlation(self) -> Option<Self> {
        self.edges.then_some(Pending {
            relabel: false,
            media: None,
            ..self
        })
    }

    /// Completes a held record's labels from what was learned: `edges` the
    /// edges learned from the wire, `bound` finds what the signaling that
    /// announced an endpoint bound for it, `learned` the class of a learned media
    /// endpoint. Returns whether correlation relabelled it.
    #[allow(clippy::too_many_arguments)]
    pub fn resolve(
        self,
        k: &Knowledge,
        edges: Option<&LearnedEdges>,
        flow_id: i64,
        (src, dst): (SocketAddr, SocketAddr),
        labels: &mut Labels,
        bound: &dyn Fn(SocketAddr) -> Option<SignaledBinding>,
        learned: &dyn Fn(SocketAddr) -> Option<(AppProtocol, Option<Arc<str>>)>,
    ) -> bool {
        let Pending {
            mut facts,
            relabel,
            media,
            edges: rejudge,
            path: evidence,
        } = self;
        let rtt = path::RttTargets::of(&k.signatures.media, k.sensor_position);
        let judge = |facts: &mut FlowFacts, labels: &mut Labels| {
            name_facts(
                k,
                facts,
                labels.app_protocol,
                labels.protocol.server_name.as_deref(),
                labels.egress.o365_endpoint_id,
                labels.local_dst,
            );
            let v = k.egress.judge(&k.local, facts, edges);
            let e = &mut labels.egress;
            e.src2dst_edge = v.next_hop[0].as_ref().map(|e| Arc::clone(&e.name));
            e.dst2src_edge = v.next_hop[1].as_ref().map(|e| Arc::clone(&e.name));
            e.observed_egress = v.observed;
            e.asymmetric = v.asymmetric;
            e.expected_path = v.expected;
            e.path_conformant = v.conformant;
            let mut notes = path::notes(
                &evidence,
                labels.app_protocol,
                &labels.media,
                labels.egress.o365_endpoint_id.is_some(),
                usize::from(labels.local_dst && !labels.local_src),
                &rtt,
            );
            if labels.tunnel_media_suspected == Some(true) {
                notes.push(tunnel::NOTE.to_string());
            }
            let e = &mut labels.egress;
            e.path_note = join_notes(v.note, &notes);
            // The edge crossed may change the media targets.
            if labels.media.is_media {
                let leg = legs(k, labels);
                labels.media.judge(&k.signatures.media, &leg);
            }
        };
        if let Some(m) = media {
            // A stream's payload types are the ones the SDP of the endpoint
            // it goes to bound; else its sender's.
            let by_side = |side: Side, pt: u8| {
                let (to, from) = match side {
                    Side::Src2Dst => (dst, src),
                    Side::Dst2Src => (src, dst),
                };
                let sdp = |at: SocketAddr| bound(at).and_then(|b| b.payload_type(pt));
                sdp(to).or_else(|| sdp(from))
            };
            let leg = legs(k, labels);
            labels.media =
                MediaFields::from_tracker(flow_id, &m, &k.signatures.media, &by_side, &leg);
        }
        let Some((app, service)) = relabel
            .then(|| learned(dst).or_else(|| learned(src)))
            .flatten()
        else {
            if rejudge {
                judge(&mut facts, labels);
            }
            return false;
        };
        if labels.service.is_none() {
            if let Some(s) = service {
                labels.service = Some(s);
                labels.service_source = Some(ServiceSource::Correlation);
            }
        }
        labels.app_protocol = app;
        labels.app_protocol_source = AppSource::Correlation;
        labels.traffic_type = app.default_traffic_type();
        // The call-flow expectation depends on the traffic type.
        facts.traffic_type = labels.traffic_type;
        judge(&mut facts, labels);
        true
    }
}

/// The leg of each direction of a labelled flow's streams.
fn legs(k: &Knowledge, labels: &Labels) -> impl Fn(Side) -> Leg {
    let (pos, local) = (k.sensor_position, (labels.local_src, labels.local_dst));
    let path = labels
        .egress
        .observed_egress
        .unwrap_or(labels.egress.egress);
    move |side| pos.leg(side, local, path)
}
