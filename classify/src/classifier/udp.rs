//! UDP payloads: RFC 7983 demultiplexing by first byte (STUN, DTLS, TURN
//! ChannelData, RTP/RTCP), then SIP and DNS.

use super::{FlowClassifier, Probe};
use crate::dissect::{dns, dtls, ipsec, rtp, sip, stun};
use crate::vocab::AppProtocol;

/// IKE's UDP port (RFC 7296 §2).
const IKE_PORT: u16 = 500;
/// NAT traversal's UDP port (RFC 3948 §2).
const NATT_PORT: u16 = 4500;

impl FlowClassifier {
    fn has_port(&self, port: u16) -> bool {
        self.src_port == port || self.dst_port == port
    }

    pub(super) fn feed_udp(
        &mut self,
        p: &mut Probe,
        side: usize,
        payload: &[u8],
    ) -> Option<AppProtocol> {
        self.demux_udp(p, side, payload, false)
    }

    /// `relayed`: the payload is the data of a TURN channel, which is not
    /// unwrapped again (a channel inside a channel is no TURN, and hostile
    /// nesting must not run the stack out).
    fn demux_udp(
        &mut self,
        p: &mut Probe,
        side: usize,
        payload: &[u8],
        relayed: bool,
    ) -> Option<AppProtocol> {
        // DNS ids are random, so their first byte may look like anything:
        // on the DNS port, ask the DNS dissector first.
        if self.dns_port() && dns::is_dns(payload, false) {
            return Some(AppProtocol::Dns);
        }
        // IKE and NAT traversal own their ports (RFC 7296 §2, RFC 3948):
        // ESP's encrypted bytes may look like anything else.
        if !relayed && self.has_port(IKE_PORT) && ipsec::parse_ike(payload).is_some() {
            return Some(AppProtocol::Ike);
        }
        if !relayed && self.has_port(NATT_PORT) {
            match ipsec::parse_natt(payload) {
                Some(ipsec::NatT::Esp(_)) => return Some(AppProtocol::Ipsec),
                Some(_) => {
                    p.natt = true;
                    return None;
                }
                None => {}
            }
        }
        let b0 = *payload.first()?;
        match b0 {
            0..=3 => match stun::parse_udp(payload) {
                stun::StunProbe::Message(m) => self.on_stun(p, &m),
                _ => self.other_udp(p, payload),
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
            0x40..=0x7f => match stun::channel_data(payload, false) {
                // Relayed media: the channel's data, without its padding,
                // demultiplexes like any other payload.
                Some(data) if !relayed => return self.demux_udp(p, side, data, true),
                _ => self.other_udp(p, payload),
            },
            128..=191 => {
                let b1 = payload.get(1).copied().unwrap_or(0);
                if rtp::is_rtcp_type(b1) {
                    self.on_rtcp(p, side, payload);
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

    /// RTCP on any port pair: a valid length chain, and in each direction
    /// one sender SSRC across packets (a session's reports all come from
    /// its source; a new SSRC every packet is noise that happens to parse).
    fn on_rtcp(&mut self, p: &mut Probe, side: usize, payload: &[u8]) {
        let Some(sender) = rtp::rtcp_chain_sender(payload) else {
            p.rtcp_bad = true;
            return;
        };
        p.rtcp = p.rtcp.saturating_add(1);
        if let Some(slot) = p.rtcp_ssrc.get_mut(side) {
            match slot {
                Some(s) if *s != sender => {
                    p.rtcp_ssrc_changes = p.rtcp_ssrc_changes.saturating_add(1)
                }
                Some(_) => {}
                None => *slot = Some(sender),
            }
        }
    }

    fn other_udp(&mut self, p: &mut Probe, payload: &[u8]) {
        p.other_payload = p.other_payload.saturating_add(1);
        if p.text.is_some() {
            return;
        }
        if let sip::SipProbe::Message(m) = sip::parse(payload) {
            self.on_sip(p, &m);
        } else if (self.dns_port() || self.port_rule.is_none()) && dns::is_dns(payload, false)
            || dns::is_dns_exact(payload)
        {
            p.text = Some(AppProtocol::Dns);
        }
    }
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
        let nested = channel(&channel(&rtp_pkt(1, 160, 5)));
        for _ in 0..usize::from(super::super::PACKET_BUDGET) * 2 {
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

    #[test]
    fn sip_over_udp_learns_sdp_media() {
        let s = sig();
        let mut c = FlowClassifier::new(&s, Transport::Udp, 5060, 5060);
        let invite = b"INVITE sip:bob@example.com SIP/2.0\r\nUser-Agent: UA/1\r\n\r\nv=0\r\nc=IN IP4 10.1.1.1\r\nm=audio 40000 RTP/AVP 0\r\n";
        assert_eq!(c.feed(&s, Side::Src2Dst, invite), Inspection::Done);
        let r = c.result(&s, &FlowShape::default());
        assert_eq!(
            (
                r.app(),
                r.protocol.sip_method,
                r.protocol.sip_user_agent.as_deref()
            ),
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
}
