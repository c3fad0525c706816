//! The RTP and RTCP probes. RTP is confirmed across packets (version 2, one
//! SSRC, sequence and timestamp advancing), over UDP or RFC 4571 framed over
//! TCP; RTCP on any port pair is a valid length chain with one sender SSRC
//! per direction.

use super::{Cx, ProbeState};
use crate::dissect::{rtp, ProbeResult};
use crate::vocab::AppProtocol;

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

/// The RTP probe's state: two tracks (per direction on TCP, per SSRC on UDP).
#[derive(Debug, Default)]
pub(super) struct RtpState {
    tracks: [RtpTrack; 2],
}

/// The RTCP probe's state.
#[derive(Debug, Default)]
pub(super) struct RtcpState {
    count: u8,
    bad: bool,
    // Each direction's sender SSRC, and how often a packet named another.
    ssrc: [Option<u32>; 2],
    ssrc_changes: u8,
}

/// RTP over TCP with RFC 4571 framing: three packets in sequence settle it.
pub(super) fn probe_tcp(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    let Some(h) = rtp::rfc4571_first(payload).and_then(rtp::parse_rtp) else {
        return ProbeResult::NotForUs;
    };
    if let Some(t) = cx.st.rtp.tracks.get_mut(cx.side) {
        t.push(&h);
        if t.good >= 3 {
            return ProbeResult::Certain(AppProtocol::Rtp);
        }
    }
    ProbeResult::Unsure
}

/// RTP over UDP (first byte 128-191, second byte no RTCP type): four
/// packets in sequence settle it, `srtp` when STUN keyed it.
pub(super) fn probe_udp(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    if !matches!(payload.first(), Some(128..=191)) || is_rtcp(payload) {
        return ProbeResult::NotForUs;
    }
    let Some(h) = rtp::parse_rtp(payload) else {
        return ProbeResult::NotForUs;
    };
    let tracks = &mut cx.st.rtp.tracks;
    // Tracks per SSRC direction: the payload's direction is not known
    // here, so use the SSRC's parity of slots.
    let slot = usize::from(
        tracks
            .first()
            .is_some_and(|t| t.good > 0 && t.ssrc != h.ssrc),
    );
    if let Some(t) = tracks.get_mut(slot) {
        t.push(&h);
    }
    let confirmed = tracks.iter().any(|t| t.good >= 4);
    let stun = &cx.st.stun;
    if confirmed && stun.count == 0 {
        return ProbeResult::Certain(AppProtocol::Rtp);
    }
    if confirmed && tracks.iter().map(|t| u32::from(t.good)).sum::<u32>() >= 8 {
        return ProbeResult::Certain(if stun.rfc5389 || stun.microsoft {
            AppProtocol::Srtp
        } else {
            AppProtocol::Rtp
        });
    }
    ProbeResult::Unsure
}

/// RTP seen in sequence but not yet certain: `srtp` when the flow carried
/// RFC 5389 STUN (ICE stacks key SRTP over it) or a Microsoft attribute.
pub(super) fn settle(st: &ProbeState) -> Option<AppProtocol> {
    let t = &st.rtp.tracks;
    let ok = t.iter().any(|t| t.good >= 3) || t.iter().all(|t| t.good >= 2);
    ok.then_some(if st.stun.rfc5389 || st.stun.microsoft {
        AppProtocol::Srtp
    } else {
        AppProtocol::Rtp
    })
}

fn is_rtcp(payload: &[u8]) -> bool {
    rtp::is_rtcp_type(payload.get(1).copied().unwrap_or(0))
}

/// RTCP (first byte 128-191, an RTCP packet type second): every packet is
/// the probe's, valid or not; only the settle judges the flow.
pub(super) fn probe_rtcp(cx: &mut Cx<'_>, payload: &[u8]) -> ProbeResult {
    if !matches!(payload.first(), Some(128..=191)) || !is_rtcp(payload) {
        return ProbeResult::NotForUs;
    }
    let st = &mut cx.st.rtcp;
    // A session's reports all come from its source; a new SSRC every
    // packet is noise that happens to parse.
    let Some(sender) = rtp::rtcp_chain_sender(payload) else {
        st.bad = true;
        return ProbeResult::Unsure;
    };
    st.count = st.count.saturating_add(1);
    if let Some(slot) = st.ssrc.get_mut(cx.side) {
        match slot {
            Some(s) if *s != sender => st.ssrc_changes = st.ssrc_changes.saturating_add(1),
            Some(_) => {}
            None => *slot = Some(sender),
        }
    }
    ProbeResult::Unsure
}

/// Only RTCP, every packet a valid chain from one sender per direction, and
/// no RTP: `rtcp`.
pub(super) fn rtcp_settle(st: &ProbeState) -> Option<AppProtocol> {
    let r = &st.rtcp;
    let no_rtp = st.rtp.tracks.iter().all(|t| t.good == 0);
    (r.count > 0 && !r.bad && r.ssrc_changes == 0 && no_rtp).then_some(AppProtocol::Rtcp)
}

#[cfg(test)]
mod test {
    use super::super::test_support::{rtp_pkt, sig};
    use super::super::{FlowShape, Inspection};
    use crate::vocab::{AppProtocol, Side, TrafficType, Transport};
    use crate::FlowClassifier;

    #[test]
    fn rtp_needs_several_consistent_packets_and_stun_makes_it_srtp() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 40000, 40002);
        for i in 0..3u16 {
            assert_eq!(
                c.feed(&s, Side::Src2Dst, &rtp_pkt(100 + i, 160 * u32::from(i), 7)),
                Inspection::NeedMore
            );
        }
        assert_eq!(
            c.feed(&s, Side::Src2Dst, &rtp_pkt(103, 480, 7)),
            Inspection::Done
        );
        assert_eq!(c.result(&s, &FlowShape::default()).app(), AppProtocol::Rtp);

        let mut c = FlowClassifier::new(&s, Transport::Udp, 50010, 3478);
        let mut req = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        req.extend([1u8; 12]);
        c.feed(&s, Side::Src2Dst, &req);
        for i in 0..20u16 {
            if c.feed(&s, Side::Src2Dst, &rtp_pkt(i, 160 * u32::from(i), 9)) == Inspection::Done {
                break;
            }
        }
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.protocol.stun_seen, r.traffic_type),
            (AppProtocol::Srtp, true, Some(TrafficType::Media))
        );
    }

    /// A ChannelData message on channel 0x4001 carrying `data`, padded to
    /// 4 bytes.
    fn channel(data: &[u8]) -> Vec<u8> {
        let mut m = vec![0x40, 0x01];
        m.extend(u16::try_from(data.len()).unwrap().to_be_bytes());
        m.extend(data);
        m.resize(4 + data.len().div_ceil(4) * 4, 0);
        m
    }

    #[test]
    fn relayed_media_is_read_inside_its_channel_without_the_padding() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 50010, 3478);
        // RTP with one byte of RTP padding (P bit, count 1): a 33-byte
        // packet, so the channel pads it with 3 zeros that, read as RTP,
        // would claim a zero-byte padding and be refused.
        for i in 0..4u16 {
            let mut p = rtp_pkt(i, 160 * u32::from(i), 5);
            p[0] |= 0x20;
            p.truncate(32);
            p.push(1);
            let m = channel(&p);
            assert_eq!(m.len(), 40);
            let want = if i == 3 {
                Inspection::Done
            } else {
                Inspection::NeedMore
            };
            assert_eq!(c.feed(&s, Side::Src2Dst, &m), want, "packet {i}");
        }
        assert_eq!(c.result(&s, &FlowShape::default()).app(), AppProtocol::Rtp);
        // A channel inside a channel is not unwrapped twice.
        let mut c = FlowClassifier::new(&s, Transport::Udp, 50010, 3478);
        // (RTP in sequence inside, so unwrapping twice would name it.)
        for i in 0..u16::from(super::super::PACKET_BUDGET) * 2 {
            let nested = channel(&channel(&rtp_pkt(i, 160 * u32::from(i), 5)));
            c.feed(&s, Side::Src2Dst, &nested);
        }
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Other
        );
    }

    /// An RTCP compound as RFC 3550 §6.1 builds it: an RR with one report
    /// block, then an SDES with the sender's CNAME (§6.5.1), `extra` after.
    pub(crate) fn rr_sdes(sender: u32, extra: &[u8]) -> Vec<u8> {
        let mut v = crate::dissect::rtp::ReportBlock {
            ssrc: 0x0102_0304,
            fraction_lost: 0,
            cumulative_lost: 0,
            ext_highest_seq: 100,
            jitter: 12,
            lsr: 0,
            dlsr: 0,
        }
        .receiver_report(sender);
        // SDES: one chunk, CNAME "u@h" (item 1, length 3), end, padded to 4.
        v.extend([0x81, 202, 0, 3]);
        v.extend(sender.to_be_bytes());
        v.extend([1, 3, b'u', b'@', b'h', 0, 0, 0]);
        v.extend(extra);
        v
    }

    /// A BYE from `sender` alone (RFC 3550 §6.6), as stacks send it at hang-up.
    fn bye(sender: u32) -> Vec<u8> {
        let mut v = vec![0x81, 203, 0, 1];
        v.extend(sender.to_be_bytes());
        v
    }

    #[test]
    fn rtcp_only_flows_on_any_port_pair() {
        let s = sig();
        // Even ports, no SDP, no RTP flow one port below: reports each way,
        // one ending with a BYE, then a lone BYE.
        let mut c = FlowClassifier::new(&s, Transport::Udp, 40000, 40010);
        for _ in 0..3 {
            c.feed(&s, Side::Src2Dst, &rr_sdes(0xAAAA, &[]));
            c.feed(&s, Side::Dst2Src, &rr_sdes(0xBBBB, &[]));
        }
        c.feed(&s, Side::Src2Dst, &rr_sdes(0xAAAA, &bye(0xAAAA)));
        c.feed(&s, Side::Dst2Src, &bye(0xBBBB));
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (r.app(), r.traffic_type),
            (AppProtocol::Rtcp, Some(TrafficType::Media))
        );
        // A sender SSRC that changes with every packet is no RTCP session.
        let mut c = FlowClassifier::new(&s, Transport::Udp, 40000, 40010);
        for i in 0..6 {
            c.feed(&s, Side::Src2Dst, &rr_sdes(0x1000 + i, &[]));
        }
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Other
        );
        // A length chain that does not add up is not RTCP either.
        let mut c = FlowClassifier::new(&s, Transport::Udp, 40000, 40010);
        let mut bad = rr_sdes(0xAAAA, &[]);
        bad[3] += 1;
        for _ in 0..4 {
            c.feed(&s, Side::Src2Dst, &bad);
        }
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Other
        );
    }

    /// Settles follow the table: RTP in sequence but short of certain, after
    /// an RFC 5389 check, is `srtp`, not the `stun_turn` STUN alone would
    /// give.
    #[test]
    fn rtp_settles_before_stun() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 50010, 3478);
        let mut req = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        req.extend([1u8; 12]);
        c.feed(&s, Side::Src2Dst, &req);
        for i in 0..3u16 {
            c.feed(&s, Side::Src2Dst, &rtp_pkt(i, 160 * u32::from(i), 9));
        }
        assert!(c.wants_more(), "three packets are not certain");
        assert_eq!(c.result(&s, &FlowShape::default()).app(), AppProtocol::Srtp);
        let mut c = FlowClassifier::new(&s, Transport::Udp, 50010, 3478);
        c.feed(&s, Side::Src2Dst, &req);
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::StunTurn
        );
    }
}
