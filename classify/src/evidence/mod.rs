//! The per-packet evidence of one flow: everything its payloads and packet
//! times teach between its first and last packet, which
//! [`crate::outcome::label`] reads when the flow ends.
//!
//! A [`FlowEvidence`] owns the flow's classifier, its RTP/RTCP tracker (and
//! the decision when one starts or stops), the pairing of STUN transactions
//! for `stun_rtt_ms` and a tunnel's cadence counters. The runtime hands it
//! each packet as a [`Packet`] (direction, time, IP length, payload) and
//! keeps only counters, timeouts and eviction itself.
//!
//! The companion-port rules live here too: RTCP on port + 1 of an RTP flow
//! reaches the same worker ([`dispatch_key`]) and is handed to the RTP
//! flow's evidence ([`companion_of`], [`FlowEvidence::companion_bytes`]), so
//! its reports land on the streams they describe.
//!
//! Nothing here allocates per packet: the tracker, the STUN pairing and the
//! cadence counters are boxed and made only for flows that need them.

mod companion;
mod dialogs;
mod media;
mod stun;

pub use companion::{companion_of, dispatch_key};
pub use dialogs::{Dialog, MAX_DIALOGS};
pub use media::{media_bytes, media_packets};

use crate::classifier::LearnedEndpoint;
use crate::media::MediaTracker;
use crate::outcome::tunnel::Cadence;
use crate::{AppProtocol, FlowClassifier, Side, Signatures, Transport};
use dialogs::Dialogs;
pub use stun::stun_transaction;
use stun::StunRtt;

/// What the evidence of a flow is told about one of its packets.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Its direction, relative to the flow's initiator.
    pub side: Side,
    /// Capture time, µs.
    pub ts_us: i64,
    /// IP protocol number.
    pub ip_proto: u8,
    /// IP bytes per the header.
    pub ip_len: u32,
    /// Transport payload as captured (may be cut by the snap length).
    pub payload: &'a [u8],
}

/// What a run asks of every flow's evidence.
#[derive(Clone, Copy, Debug)]
pub struct Inspect<'a> {
    /// The rules the classifier and the media tracker judge by.
    pub signatures: &'a Signatures,
    /// Track RTP/RTCP streams (false: `--no-media`).
    pub media: bool,
}

/// One flow's per-packet evidence (see the module doc).
#[derive(Debug)]
pub struct FlowEvidence {
    classifier: FlowClassifier,
    // One pointer for what most flows never need (8 bytes a live flow
    // instead of 24).
    extra: Option<Box<Extra>>,
}

/// The evidence only some flows need, each part made when first needed.
#[derive(Debug, Default)]
struct Extra {
    // Boxed: most flows never carry RTP and keep only the pointer.
    media: Option<Box<MediaTracker>>,
    // From the packet that showed the flow is a tunnel.
    cadence: Option<Box<Cadence>>,
    // Boxed: most flows never carry STUN.
    stun: Option<Box<StunRtt>>,
    // The dialogs of a clear-text SIP flow.
    dialogs: Option<Box<Dialogs>>,
}

impl FlowEvidence {
    /// The evidence of a new flow of `ip_proto` between `src_port` (its
    /// initiator's) and `dst_port`, with payloads inspected or (`--classify
    /// port`) judged by port rules only.
    pub fn new(
        sig: &Signatures,
        ip_proto: u8,
        src_port: u16,
        dst_port: u16,
        inspect_payload: bool,
    ) -> Self {
        let transport = Transport::from_ip_proto(ip_proto);
        let classifier = if inspect_payload {
            FlowClassifier::new(sig, transport, src_port, dst_port)
        } else {
            FlowClassifier::port_only(sig, transport, src_port, dst_port)
        };
        FlowEvidence {
            classifier: classifier.with_ip_proto(ip_proto),
            extra: None,
        }
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    fn media_mut(&mut self) -> Option<&mut MediaTracker> {
        self.extra.as_deref_mut()?.media.as_deref_mut()
    }

    fn cadence_mut(&mut self) -> Option<&mut Cadence> {
        self.extra.as_deref_mut()?.cadence.as_deref_mut()
    }

    /// Accounts one packet.
    #[inline]
    pub fn packet(&mut self, run: Inspect<'_>, p: &Packet<'_>) {
        let i = usize::from(p.side == Side::Dst2Src);
        if p.ip_proto == 17 && p.payload.first().is_some_and(|b| b & 0xc0 == 0) {
            if let Some(tx) = stun_transaction(p.payload) {
                self.extra_mut()
                    .stun
                    .get_or_insert_with(Box::default)
                    .feed(p.ts_us, i, tx);
            }
        }
        let inspecting = self.classifier.wants_more();
        if inspecting && !p.payload.is_empty() {
            self.classifier.feed(run.signatures, p.side, p.payload);
            // Only tunnels pay for cadence counters, from the packet that
            // showed what they are.
            if self.cadence().is_none() && self.classifier.maybe_tunnel() {
                self.extra_mut().cadence = Some(Box::default());
            }
        }
        if let Some(c) = self.cadence_mut() {
            c.push(i, p.ts_us, p.ip_len);
        }
        // Every message of a SIP flow, the first (that decided it) included.
        if !p.payload.is_empty() && self.classifier.payload_label() == Some(AppProtocol::Sip) {
            self.extra_mut()
                .dialogs
                .get_or_insert_with(Box::default)
                .feed(p.ts_us, p.payload);
        }
        if run.media {
            self.feed_media(p, inspecting, run.signatures);
        }
    }

    /// The media endpoints the flow's signaling announced since the last
    /// call, for the other flows they may label; None when there are none.
    pub fn take_learned(&mut self) -> Option<Vec<LearnedEndpoint>> {
        self.classifier
            .has_learned()
            .then(|| self.classifier.take_learned())
    }

    /// Starts afresh for the flow's next record: the class stays, the
    /// figures (streams, round trips, cadence) describe their own record.
    pub fn next_record(&mut self) {
        if let Some(x) = self.extra.as_deref_mut() {
            x.stun = None;
            x.dialogs = None;
        }
        if let Some(c) = self.cadence_mut() {
            *c = Cadence::default();
        }
        if let Some(m) = self.media_mut() {
            *m = m.restarted();
        }
    }

    /// The flow's classifier, with what its payloads showed.
    pub fn classifier(&self) -> &FlowClassifier {
        &self.classifier
    }

    /// The flow's RTP/RTCP tracker, when one started.
    pub fn media(&self) -> Option<&MediaTracker> {
        self.extra.as_deref()?.media.as_deref()
    }

    /// Cadence counters, kept once the flow was seen to be a tunnel.
    pub fn cadence(&self) -> Option<&Cadence> {
        self.extra.as_deref()?.cadence.as_deref()
    }

    /// The SIP dialogs the flow carried in clear text (none for other flows).
    pub fn dialogs(&self) -> &[Dialog] {
        self.extra
            .as_deref()
            .and_then(|x| x.dialogs.as_deref())
            .map_or(&[], Dialogs::list)
    }

    /// Median round trip of the initiator's STUN requests, µs.
    pub fn stun_rtt_us(&self) -> Option<i64> {
        self.extra
            .as_deref()?
            .stun
            .as_deref()
            .and_then(StunRtt::median)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::AppProtocol;

    fn run(sig: &Signatures, media: bool) -> Inspect<'_> {
        Inspect {
            signatures: sig,
            media,
        }
    }

    fn pkt(side: Side, ts_us: i64, payload: &[u8]) -> Packet<'_> {
        Packet {
            side,
            ts_us,
            ip_proto: 17,
            ip_len: 28 + payload.len() as u32,
            payload,
        }
    }

    fn rtp(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0];
        p.extend(seq.to_be_bytes());
        p.extend((160 * u32::from(seq)).to_be_bytes());
        p.extend(7u32.to_be_bytes());
        p.extend([0xd5; 160]);
        p
    }

    fn stun(class: u8, tid: u8) -> Vec<u8> {
        let mut m = vec![class, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        m.extend([tid; 12]);
        m
    }

    #[test]
    fn a_tracker_starts_at_the_first_rtp_packet_and_only_when_asked() {
        let sig = Signatures::builtin().unwrap();
        let mut e = FlowEvidence::new(&sig, 17, 50_010, 50_020, true);
        let mut off = FlowEvidence::new(&sig, 17, 50_010, 50_020, true);
        for i in 0..20u16 {
            let p = rtp(i);
            e.packet(
                run(&sig, true),
                &pkt(Side::Src2Dst, i64::from(i) * 20_000, &p),
            );
            off.packet(
                run(&sig, false),
                &pkt(Side::Src2Dst, i64::from(i) * 20_000, &p),
            );
        }
        assert_eq!(e.media().map(|m| m.rtp_packets), Some(20));
        assert!(off.media().is_none(), "--no-media keeps no tracker");
        e.next_record();
        assert_eq!(
            e.media().map(|m| m.rtp_packets),
            Some(0),
            "figures per record"
        );
    }

    /// A DNS query whose id starts like RTP (0x81) starts a tracker while
    /// the flow is inspected; the flow decided as DNS drops it at once.
    #[test]
    fn a_flow_decided_as_no_media_drops_its_tracker() {
        let sig = Signatures::builtin().unwrap();
        let mut q = vec![0x81, 0x23, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        let mut e = FlowEvidence::new(&sig, 17, 40_000, 53, true);
        e.packet(run(&sig, true), &pkt(Side::Src2Dst, 0, &q));
        assert_eq!(e.classifier().payload_label(), Some(AppProtocol::Dns));
        assert!(!e.classifier().wants_more());
        assert!(e.media().is_none());
    }

    /// Every message of a SIP flow counts, not only the one that decided
    /// its class; a flow of another class keeps none.
    #[test]
    fn a_sip_flow_keeps_the_dialogs_of_all_its_messages_each_record() {
        let sig = Signatures::builtin().unwrap();
        let invite = |cid: &str, port: u16| {
            let sdp = format!("v=0\r\nc=IN IP4 10.0.0.5\r\nm=audio {port} RTP/AVP 0\r\n");
            format!(
                "INVITE sip:b@x SIP/2.0\r\nCall-ID: {cid}\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            )
        };
        let mut e = FlowEvidence::new(&sig, 17, 5_060, 5_060, true);
        e.packet(
            run(&sig, true),
            &pkt(Side::Src2Dst, 1, invite("a", 40_000).as_bytes()),
        );
        assert!(!e.classifier().wants_more(), "decided on the first");
        e.packet(
            run(&sig, true),
            &pkt(Side::Src2Dst, 2, invite("b", 40_002).as_bytes()),
        );
        let ports: Vec<u16> = e
            .dialogs()
            .iter()
            .flat_map(|d| d.endpoints.iter().map(|(a, _)| a.port()))
            .collect();
        assert_eq!(ports, [40_000, 40_002]);
        e.next_record();
        assert!(e.dialogs().is_empty());
        let mut q = vec![0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        let mut r = FlowEvidence::new(&sig, 17, 40_000, 53, true);
        r.packet(run(&sig, true), &pkt(Side::Src2Dst, 1, &q));
        assert_eq!(r.classifier().payload_label(), Some(AppProtocol::Dns));
        r.packet(
            run(&sig, true),
            &pkt(Side::Src2Dst, 2, invite("c", 1).as_bytes()),
        );
        assert!(r.dialogs().is_empty());
    }

    #[test]
    fn stun_round_trips_pair_on_udp_and_start_afresh_each_record() {
        let sig = Signatures::builtin().unwrap();
        let mut e = FlowEvidence::new(&sig, 17, 50_010, 3_478, true);
        e.packet(run(&sig, true), &pkt(Side::Src2Dst, 1_000, &stun(0x00, 1)));
        e.packet(run(&sig, true), &pkt(Side::Dst2Src, 31_000, &stun(0x01, 1)));
        assert_eq!(e.stun_rtt_us(), Some(30_000));
        e.next_record();
        assert_eq!(e.stun_rtt_us(), None);
        // The same bytes over TCP are no datagram to pair.
        let mut t = FlowEvidence::new(&sig, 6, 50_010, 3_478, true);
        for (side, ts, m) in [
            (Side::Src2Dst, 0, stun(0, 2)),
            (Side::Dst2Src, 9, stun(1, 2)),
        ] {
            t.packet(
                run(&sig, true),
                &Packet {
                    ip_proto: 6,
                    ..pkt(side, ts, &m)
                },
            );
        }
        assert_eq!(t.stun_rtt_us(), None);
    }
}
