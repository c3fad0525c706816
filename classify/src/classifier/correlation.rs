//! Correlation: the media endpoints a flow announces (clear-text SDP,
//! STUN mapped and relayed addresses) and which finished flows may take a
//! label from them.

use super::FlowClassifier;
use crate::dissect::sip::RtpMap;
use crate::vocab::{AppProtocol, AppSource, Transport};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// Endpoints one flow may announce for correlation.
const MAX_LEARNED: usize = 8;

/// A media endpoint a flow announced, and what a flow reaching it carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LearnedEndpoint {
    /// Address and port the media goes to.
    pub addr: SocketAddr,
    /// The class a flow to it with no evidence of its own gets.
    pub label: AppProtocol,
    /// What its signaling bound for it, when the announcement was SDP.
    pub binding: Option<SignaledBinding>,
    /// The service the announcing flow's own protocol markers named when it
    /// announced this endpoint (a Skype for Business SIP agent, MS-TURN
    /// attributes), which a flow to it inherits.
    pub service: Option<Arc<str>>,
}

/// What signaling bound for one media endpoint: the payload types an SDP
/// body's `a=rtpmap` lines gave a codec and clock. The runtime's
/// cross-worker table keeps it as an opaque value (it only compares two for
/// equality); [`SignaledBinding::payload_type`] reads it back.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignaledBinding(Arc<[RtpMap]>);

impl SignaledBinding {
    /// The binding of these payload types; None when there are none.
    pub fn new(maps: &[RtpMap]) -> Option<Self> {
        (!maps.is_empty()).then(|| SignaledBinding(Arc::from(maps)))
    }

    /// What it bound payload type `pt` to.
    pub fn payload_type(&self, pt: u8) -> Option<RtpMap> {
        self.0.iter().find(|m| m.pt == pt).cloned()
    }
}

/// What cross-worker correlation did over a run, as the run summary and the
/// file metadata name it.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CorrelationCounters {
    /// Endpoints announced (SDP media, STUN addresses), duplicates included.
    pub endpoints_learned: u64,
    /// Endpoints forgotten because the table was full and they were old.
    pub endpoints_purged: u64,
    /// Endpoints not kept because the table was full of recent ones.
    pub endpoints_dropped: u64,
    /// SDP payload-type bindings not kept because their endpoint already
    /// had as many distinct ones as the table keeps.
    #[serde(rename = "sdp_bindings_dropped")]
    pub bindings_dropped: u64,
}

/// Whether a finished flow's labels leave room for correlation: a UDP flow
/// whose class came from no payload evidence (port rule or nothing), or whose
/// payload was inspected and matched nothing (`other`).
pub fn needs_correlation(transport: Transport, app: AppProtocol, source: AppSource) -> bool {
    transport == Transport::Udp
        && (matches!(source, AppSource::Port | AppSource::None)
            || (source == AppSource::Payload && app == AppProtocol::Other))
}

impl FlowClassifier {
    /// Media endpoints this flow announced (SDP, STUN mapped/relayed
    /// addresses) since the last call, for correlation with other flows.
    pub fn take_learned(&mut self) -> Vec<LearnedEndpoint> {
        self.learned.take().map(|b| *b).unwrap_or_default()
    }

    /// Whether endpoints are waiting for [`FlowClassifier::take_learned`].
    #[inline]
    pub fn has_learned(&self) -> bool {
        self.learned.as_ref().is_some_and(|l| !l.is_empty())
    }

    pub(super) fn learn(
        &mut self,
        addr: SocketAddr,
        label: AppProtocol,
        binding: Option<SignaledBinding>,
    ) {
        let service = self.meta.as_ref().and_then(|m| m.protocol_service.clone());
        let e = LearnedEndpoint {
            addr,
            label,
            binding,
            service,
        };
        let learned = self.learned.get_or_insert_with(Box::default);
        if learned.len() < MAX_LEARNED && !learned.contains(&e) {
            learned.push(e);
        }
    }
}

#[cfg(test)]
mod test {
    use super::super::test_support::sig;
    use super::*;
    use crate::vocab::Side;

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
    fn a_binding_reads_back_its_payload_types_and_the_counter_keeps_its_output_name() {
        let opus = RtpMap {
            pt: 111,
            codec: Arc::from("opus"),
            clock_rate: 48000,
        };
        assert_eq!(SignaledBinding::new(&[]), None);
        let b = SignaledBinding::new(std::slice::from_ref(&opus)).unwrap();
        assert_eq!(b.payload_type(111), Some(opus));
        assert_eq!(b.payload_type(0), None);
        let k = CorrelationCounters {
            bindings_dropped: 3,
            ..Default::default()
        };
        let json = serde_json::to_string(&k).unwrap();
        assert!(json.ends_with(r#""sdp_bindings_dropped":3}"#), "{json}");
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
}
