//! The media part of a flow's evidence: when its RTP/RTCP tracker starts
//! and stops, what a transport's framing hides of the RTP/RTCP it carries,
//! and the RTCP handed over from the companion flow on port + 1.

use super::{FlowEvidence, Packet};
use crate::dissect::rtp::rfc4571_first;
use crate::dissect::stun::ms_turn_frames;
use crate::dissect::turn;
use crate::media::MediaTracker;
use crate::{AppProtocol, FlowClassifier, Side, Signatures, Transport};

impl FlowEvidence {
    /// Media metrics must see a stream from its first packet, but the
    /// classifier decides only after a few. So a tracker starts at the first
    /// RTP-looking packet while the flow is still being inspected, or later
    /// on a flow already decided as media-carrying (an ICE flow labelled
    /// `dtls` at its handshake sends SRTP afterwards); it is dropped as soon
    /// as the flow is decided as anything else, and flows still undecided at
    /// the end are settled by the outcome step. Packets before a tracker
    /// starts are STUN or DTLS, nothing it reads; what a transport's framing
    /// hides is [`media_packets`]'s to unwrap.
    #[inline]
    pub(super) fn feed_media(&mut self, p: &Packet<'_>, inspecting: bool, sig: &Signatures) {
        let carries_media =
            |c: &FlowClassifier| c.payload_label().is_some_and(AppProtocol::carries_media);
        // Decided flows that carry no media cost two checks per packet.
        if self.media().is_none() && !inspecting && !carries_media(&self.classifier) {
            return;
        }
        let may_start = inspecting || carries_media(&self.classifier);
        for rtp in media_packets(Transport::from_ip_proto(p.ip_proto), p.payload) {
            match self.media_mut() {
                Some(m) => m.feed(p.side, p.ts_us, rtp),
                None if may_start && MediaTracker::looks_like_rtp(rtp) => {
                    let mut m = Box::new(MediaTracker::with_rules(&sig.media));
                    m.feed(p.side, p.ts_us, rtp);
                    self.extra_mut().media = Some(m);
                }
                None => {}
            }
        }
        if inspecting && !self.classifier.wants_more() && !carries_media(&self.classifier) {
            if let Some(x) = self.extra.as_deref_mut() {
                x.media = None;
            }
        }
    }

    /// The RTCP bytes of a datagram of this flow worth handing to its
    /// companion one port below ([`super::companion_of`]), so its reports
    /// land on the streams they describe. Only from an RTCP-only flow: muxed
    /// RTCP on odd ports stays on its own flow.
    pub fn companion_bytes<'a>(&self, payload: &'a [u8]) -> Option<&'a [u8]> {
        let bytes = MediaTracker::unwrap_udp(payload);
        (MediaTracker::looks_like_rtcp(bytes) && self.media().is_some_and(|m| m.rtp_packets == 0))
            .then_some(bytes)
    }

    /// Takes RTCP `bytes` from the companion flow, received from `side` of
    /// this flow at `ts_us`, and returns the SSRCs whose report blocks
    /// landed on a stream here. Only a flow already decided as media with
    /// RTP tracked takes any (an undecided flow may end as anything, and
    /// write no streams).
    pub fn take_companion(&mut self, side: Side, ts_us: i64, bytes: &[u8]) -> Vec<u32> {
        let c = &self.classifier;
        if c.wants_more() || !c.payload_label().is_some_and(AppProtocol::carries_media) {
            return Vec::new();
        }
        match self.media_mut() {
            Some(m) if m.rtp_packets > 0 => m.feed_forwarded(side, ts_us, bytes),
            _ => Vec::new(),
        }
    }

    /// Notes that the report blocks about `ssrcs`, in a datagram this flow
    /// received from `side`, also landed on its companion: the streams they
    /// describe are that flow's rows.
    pub fn companion_took(&mut self, side: Side, ssrcs: &[u32]) {
        if let Some(m) = self.media_mut() {
            m.mark_forwarded(side, ssrcs);
        }
    }
}

/// The RTP/RTCP bytes a transport payload carries, through its framing: over
/// UDP plain or inside TURN ChannelData or a Send/Data indication; over TCP
/// the first MS-TURN data frame, TURN message or RFC 4571 frame of the
/// segment (no reassembly, as nDPI). None when a TCP segment has none of
/// these framings or the transport carries no media.
pub fn media_bytes(transport: Transport, payload: &[u8]) -> Option<&[u8]> {
    media_packets(transport, payload).next()
}

/// Every RTP/RTCP packet a transport payload carries whole: over UDP the one
/// [`media_bytes`] gives; over TCP each complete MS-TURN data frame (type 3)
/// of the segment, else the data of each complete TURN Send/Data indication
/// and ChannelData message (TURN over TCP, whose first message is whole),
/// else each complete RFC 4571 frame that starts like RTP or RTCP (version
/// 2), up to the first that does not. A frame the segment cuts is left out
/// (no reassembly).
pub fn media_packets(transport: Transport, payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    let udp = (transport == Transport::Udp).then(|| MediaTracker::unwrap_udp(payload));
    let tcp = transport == Transport::Tcp;
    let ms = tcp
        && ms_turn_frames(payload)
            .next()
            .is_some_and(|f| f.kind == 3 && f.whole);
    let ms_frames = ms_turn_frames(if ms { payload } else { &[] })
        .filter(|f| f.kind == 3 && f.whole)
        .map(|f| f.body);
    // A TURN walk starts with a whole STUN message (cookie in bytes 4-7) or
    // a whole ChannelData (first byte 0x40-0x7F): an RFC 4571 frame of RTP
    // is neither unless it is 16 KiB or more or its sequence number and
    // timestamp spell the cookie.
    let turn = tcp && !ms && turn::tcp_messages(payload).next().is_some();
    let relayed = turn::tcp_messages(if turn { payload } else { &[] }).flatten();
    let mut rest = if tcp && !ms && !turn { payload } else { &[] };
    let rfc4571 = std::iter::from_fn(move || {
        let pkt = rfc4571_first(rest).filter(|p| MediaTracker::looks_like_rtp(p))?;
        rest = rest.get(pkt.len() + 2..).unwrap_or(&[]);
        Some(pkt)
    });
    udp.into_iter()
        .chain(ms_frames)
        .chain(relayed)
        .chain(rfc4571)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::dissect::hex;
    use crate::dissect::turn::test::*;

    fn lens(t: Transport, p: &[u8]) -> Vec<(usize, u8)> {
        media_packets(t, p).map(|m| (m.len(), m[0])).collect()
    }

    #[test]
    fn turn_indications_are_unwrapped_over_udp_and_tcp() {
        // Over UDP: the DATA of a Data indication, ChannelData's data, or
        // the datagram itself.
        assert_eq!(lens(Transport::Udp, &hex(UDP_DATA_IND)), [(22, 0x80)]);
        assert_eq!(lens(Transport::Udp, &hex(UDP_SEND_IND)), [(50, 0x80)]);
        assert_eq!(lens(Transport::Udp, &hex(CHANNEL_SRTCP)), [(22, 0x80)]);
        assert_eq!(lens(Transport::Udp, &hex(TCP_BINDING)), [(28, 0)]);
        // Over TCP, one real indication a segment as the corpus has them,
        // then a segment of several messages, a Binding response among them.
        assert_eq!(lens(Transport::Tcp, &hex(TCP_DATA_RTP)), [(285, 0xb0)]);
        let mut seg = hex(TCP_BINDING);
        seg.extend(hex(TCP_SEND_RTCP));
        seg.extend(hex(TCP_DATA_RTP));
        assert_eq!(lens(Transport::Tcp, &seg), [(42, 0xaf), (285, 0xb0)]);
        // The same packet in an RFC 4571 frame is still read as one.
        let rtp = turn::indication_data(&hex(TCP_DATA_RTP)).unwrap().to_vec();
        let mut framed = u16::try_from(rtp.len()).unwrap().to_be_bytes().to_vec();
        framed.extend(&rtp);
        assert_eq!(lens(Transport::Tcp, &framed), [(285, 0xb0)]);
        // A first message the segment cuts is no TURN walk (and its bytes
        // no RFC 4571 frame either).
        let cut = hex(TCP_DATA_RTP);
        assert_eq!(lens(Transport::Tcp, &cut[..100]), []);
    }
}
