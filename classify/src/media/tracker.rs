//! The media state of one flow: routes each RTP packet to its stream (at
//! most [`MAX_STREAMS`]), each RTCP report block to the stream it reports
//! on, and pairs SRs with the blocks that echo them for a round trip.

use super::quality::{QualityRules, WindowRules};
use super::stream::Stream;
use super::{RtcpFigures, RtpMap, StreamStats, MAX_STREAMS};
use crate::dissect::rtp::{self, RtpHeader};
use crate::dissect::{stun, turn};
use crate::vocab::Side;

/// SRs remembered per flow for RTT pairing.
const SR_SLOTS: usize = 8;

#[derive(Clone, Copy, Debug)]
struct SrSeen {
    side: Side,
    ssrc: u32,
    ntp_mid: u32,
    arrival_us: i64,
}

/// Media state of one flow: its RTP streams and what RTCP said about them.
#[derive(Clone, Debug)]
pub struct MediaTracker {
    streams: Vec<Stream>,
    // What each stream's 15 s windows are judged by as they close.
    rules: WindowRules,
    srs: [Option<SrSeen>; SR_SLOTS],
    sr_next: usize,
    /// RTP packets of SSRCs beyond [`MAX_STREAMS`], not tracked.
    pub overflow_packets: u64,
    /// RTP packets fed.
    pub rtp_packets: u64,
    /// RTCP datagrams fed.
    pub rtcp_packets: u64,
    /// RTCP datagrams that were not a clean compound (SRTCP, truncated,
    /// lying counts): their report blocks were not used.
    pub rtcp_unreadable: u64,
}

impl Default for MediaTracker {
    fn default() -> Self {
        MediaTracker::with_window_rules(WindowRules::builtin())
    }
}

impl MediaTracker {
    /// An empty tracker judging windows by the built-in `media.toml`.
    pub fn new() -> Self {
        MediaTracker::default()
    }

    /// An empty tracker judging windows by `rules` (the run's `media.toml`).
    pub fn with_rules(rules: &QualityRules) -> Self {
        MediaTracker::with_window_rules(rules.window_rules())
    }

    /// An empty tracker judging windows by `rules`.
    pub fn with_window_rules(rules: WindowRules) -> Self {
        MediaTracker {
            streams: Vec::new(),
            rules,
            srs: [None; SR_SLOTS],
            sr_next: 0,
            overflow_packets: 0,
            rtp_packets: 0,
            rtcp_packets: 0,
            rtcp_unreadable: 0,
        }
    }

    /// An empty tracker with this one's rules, for a flow's next record.
    pub fn restarted(&self) -> Self {
        MediaTracker::with_window_rules(self.rules)
    }

    /// The RTP or RTCP bytes of a UDP payload: the payload itself, or what
    /// a TURN relay carries, the data of a ChannelData message
    /// ([`stun::channel_data`]) or of a Send or Data indication
    /// ([`turn::indication_data`]).
    pub fn unwrap_udp(payload: &[u8]) -> &[u8] {
        stun::channel_data(payload, false)
            .or_else(|| turn::indication_data(payload))
            .unwrap_or(payload)
    }

    /// Whether a UDP payload's first byte is worth a tracker (RTP/RTCP version 2).
    pub fn looks_like_rtp(payload: &[u8]) -> bool {
        matches!(payload.first(), Some(128..=191))
    }

    /// Whether a payload starts like an RTCP packet (version 2, packet type
    /// 192-223), the test [`MediaTracker::feed`] routes on.
    pub fn looks_like_rtcp(payload: &[u8]) -> bool {
        Self::looks_like_rtp(payload) && payload.get(1).is_some_and(|&b| rtp::is_rtcp_type(b))
    }

    /// Accounts one packet: an RTP header or an RTCP datagram; anything else
    /// (STUN, DTLS on the same 5-tuple) is ignored.
    pub fn feed(&mut self, side: Side, arrival_us: i64, bytes: &[u8]) {
        let Some(&b1) = bytes.get(1) else {
            return;
        };
        if !Self::looks_like_rtp(bytes) {
            return;
        }
        if rtp::is_rtcp_type(b1) {
            self.rtcp(side, arrival_us, bytes, None);
        } else if let Some(h) = rtp::parse_rtp_header(bytes) {
            self.rtp_packets += 1;
            if let Some(s) = stream_in(&mut self.streams, side, h.ssrc, arrival_us, Some(&h)) {
                s.rtp(arrival_us, &h, &self.rules);
            } else {
                self.overflow_packets += 1;
            }
        }
    }

    /// Accounts an RTCP datagram of the RTCP flow one port above (RTCP on
    /// port + 1) and returns the SSRCs whose report blocks landed on a stream
    /// here. Anything but RTCP is ignored.
    pub fn feed_forwarded(&mut self, side: Side, arrival_us: i64, bytes: &[u8]) -> Vec<u32> {
        let mut landed = Vec::new();
        if Self::looks_like_rtcp(bytes) {
            self.rtcp(side, arrival_us, bytes, Some(&mut landed));
        }
        landed
    }

    /// Notes that the report blocks about `ssrcs`, in a datagram this flow
    /// received from `side`, also landed on the RTP flow one port below.
    pub fn mark_forwarded(&mut self, side: Side, ssrcs: &[u32]) {
        for s in &mut self.streams {
            if s.side == side.flip() && ssrcs.contains(&s.ssrc) {
                s.forwarded += ssrcs.iter().filter(|&&x| x == s.ssrc).count() as u64;
            }
        }
    }

    fn rtcp(&mut self, side: Side, arrival_us: i64, bytes: &[u8], landed: Option<&mut Vec<u32>>) {
        let mut landed = landed;
        self.rtcp_packets += 1;
        // Only an exact compound is in clear: SRTCP appends an index and a
        // tag (so the lengths no longer add up) and encrypts the blocks.
        if rtp::parse_rtcp(bytes).is_none() {
            self.rtcp_unreadable += 1;
            return;
        }
        let mut bad = false;
        for rep in rtp::rtcp_reports(bytes) {
            bad |= rep.count_overflow;
            if let Some(si) = rep.sender {
                self.remember_sr(SrSeen {
                    side,
                    ssrc: rep.sender_ssrc,
                    ntp_mid: si.ntp_mid,
                    arrival_us,
                });
            }
            for b in rep.blocks() {
                let rtt = self.rtt_for(side, &b, arrival_us);
                // The block reports on packets flowing towards its sender.
                let Some(s) = stream_in(&mut self.streams, side.flip(), b.ssrc, arrival_us, None)
                else {
                    continue;
                };
                if let Some(l) = landed.as_deref_mut() {
                    l.push(b.ssrc);
                }
                let r = s.rtcp.get_or_insert_with(RtcpFigures::default);
                r.reports += 1;
                r.fraction_lost = f64::from(b.fraction_lost) / 256.0;
                r.cumulative_lost = i64::from(b.cumulative_lost);
                r.jitter_ts = b.jitter;
                if let Some(ms) = rtt {
                    s.rtt_sum_ms += ms;
                    s.rtt_n += 1;
                }
            }
        }
        if bad {
            self.rtcp_unreadable += 1;
        }
    }

    fn remember_sr(&mut self, sr: SrSeen) {
        if let Some(slot) = self.srs.get_mut(self.sr_next % SR_SLOTS) {
            *slot = Some(sr);
        }
        self.sr_next = self.sr_next.wrapping_add(1);
    }

    /// Round trip tap -> block sender -> tap: the block echoes the SR as LSR;
    /// both times are the tap's, and DLSR removes the sender's holding time.
    fn rtt_for(&self, side: Side, b: &rtp::ReportBlock, arrival_us: i64) -> Option<f64> {
        if b.lsr == 0 {
            return None;
        }
        let sr = self
            .srs
            .iter()
            .flatten()
            .find(|s| s.ssrc == b.ssrc && s.ntp_mid == b.lsr && s.side != side)?;
        let dlsr_us = i64::from(b.dlsr) * 1_000_000 / 65_536;
        let rtt_us = arrival_us - sr.arrival_us - dlsr_us;
        (rtt_us >= 0).then(|| rtt_us as f64 / 1000.0)
    }

    /// Streams tracked so far.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The figures of every stream, in the order they were first seen, with
    /// clocks from the static table or the estimate.
    pub fn streams(&self) -> Vec<StreamStats> {
        self.streams_with(&|_, _| None)
    }

    /// The figures of every stream, with dynamic payload types bound by
    /// `sdp(direction, payload_type)` where signaling was seen.
    pub fn streams_with(&self, sdp: &dyn Fn(Side, u8) -> Option<RtpMap>) -> Vec<StreamStats> {
        self.streams
            .iter()
            .map(|s| s.stats(sdp, &self.rules))
            .collect()
    }

    /// Whether some stream has a payload type only SDP can name.
    pub fn has_dynamic_payload(&self) -> bool {
        self.streams.iter().any(Stream::is_dynamic)
    }
}

/// The stream of `(side, ssrc)`, created when there is room; a free function
/// so the caller may borrow the tracker's other fields beside it.
fn stream_in<'a>(
    streams: &'a mut Vec<Stream>,
    side: Side,
    ssrc: u32,
    arrival_us: i64,
    h: Option<&RtpHeader>,
) -> Option<&'a mut Stream> {
    let pos = streams
        .iter()
        .position(|s| s.ssrc == ssrc && s.side == side);
    match pos {
        Some(i) => streams.get_mut(i),
        None if streams.len() < MAX_STREAMS => {
            if streams.capacity() == 0 {
                streams.reserve_exact(4);
            }
            streams.push(match h {
                Some(h) => Stream::new(side, arrival_us, h),
                None => Stream::from_report(side, ssrc, arrival_us),
            });
            streams.last_mut()
        }
        None => None,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::media::test_support::{rr, rtp, S2D};
    use std::sync::Arc;

    #[test]
    fn a_stream_known_only_from_reports_takes_no_sdp_clock() {
        let mut t = MediaTracker::new();
        for i in 0..10u32 {
            t.feed(S2D, i64::from(i) * 20_000, &rtp(111, i as u16, 960 * i, 1));
        }
        // A report about a source that sent no RTP here.
        t.feed(S2D.flip(), 300_000, &rr(2, 0x77, 0, 0, 480, 0, 0));
        let sdp = |_: Side, pt: u8| {
            Some(match pt {
                0 => RtpMap {
                    pt,
                    codec: Arc::from("PCMU"),
                    clock_rate: 8000,
                },
                _ => RtpMap {
                    pt,
                    codec: Arc::from("opus"),
                    clock_rate: 48000,
                },
            })
        };
        let v = t.streams_with(&sdp);
        let only = v.iter().find(|s| s.ssrc == 0x77).unwrap();
        assert_eq!(only.packets, 0);
        assert_eq!(
            (only.clock_rate, only.clock_source, only.codec.clone()),
            (None, None, None)
        );
        assert_eq!(
            only.rtcp.unwrap().jitter_ms,
            None,
            "no clock, no made-up ms"
        );
        let opus = v.iter().find(|s| s.ssrc == 1).unwrap();
        assert_eq!(opus.clock_rate, Some(48000));
    }

    #[test]
    fn turn_channel_data_is_unwrapped() {
        // A 33-byte RTP packet in a ChannelData message padded to 4 bytes.
        let mut inner = rtp(0, 1, 160, 3);
        inner.push(0x55);
        let mut cd = vec![0x40, 0x01];
        cd.extend(u16::try_from(inner.len()).unwrap().to_be_bytes());
        cd.extend(&inner);
        cd.extend([0, 0, 0]);
        assert_eq!(MediaTracker::unwrap_udp(&cd), &inner[..], "padding dropped");
        assert_eq!(
            MediaTracker::unwrap_udp(&cd[..4 + inner.len()]),
            &inner[..],
            "unpadded over UDP"
        );
        assert_eq!(MediaTracker::unwrap_udp(&inner), &inner[..]);
        assert_eq!(
            MediaTracker::unwrap_udp(&cd[..10]),
            &cd[..10],
            "length past the end"
        );
        let mut t = MediaTracker::new();
        t.feed(S2D, 0, MediaTracker::unwrap_udp(&cd));
        assert_eq!(t.rtp_packets, 1);
    }

    #[test]
    fn ssrc_churn_is_capped_and_counted() {
        let mut t = MediaTracker::new();
        for i in 0..10_000u32 {
            t.feed(S2D, i64::from(i), &rtp(0, i as u16, i, i));
        }
        assert_eq!(t.stream_count(), MAX_STREAMS);
        assert_eq!(t.overflow_packets, 10_000 - MAX_STREAMS as u64);
        assert_eq!(t.rtp_packets, 10_000);
    }

    fn sr(ssrc: u32, ntp_mid: u32) -> Vec<u8> {
        rtp::sender_report(ssrc, ntp_mid)
    }

    #[test]
    fn rtcp_reports_match_their_stream_and_give_rtt() {
        let mut t = MediaTracker::new();
        for i in 0..10u32 {
            t.feed(S2D, i64::from(i) * 20_000, &rtp(0, i as u16, 160 * i, 0xaa));
        }
        t.feed(S2D, 200_000, &sr(0xaa, 0x0001_8000));
        // The receiver answers 80 ms later, having held the SR 30 ms
        // (30 ms = 1966.08 units of 1/65536 s; 1966 -> 29.998 ms).
        t.feed(
            Side::Dst2Src,
            280_000,
            &rr(0xbb, 0xaa, 64, 2, 80, 0x0001_8000, 1966),
        );
        let v = t.streams();
        assert_eq!(v.len(), 1, "the report joins the RTP stream");
        let r = v[0].rtcp.unwrap();
        assert_eq!(r.reports, 1);
        assert_eq!(r.fraction_lost, 0.25);
        assert_eq!(r.cumulative_lost, 2);
        assert_eq!(r.jitter_ms, Some(10.0));
        let rtt = r.rtt_ms.unwrap();
        let want = 80.0 - 1966.0 * 1000.0 / 65536.0;
        assert!((rtt - want).abs() < 0.01, "{rtt} vs {want}");
    }

    #[test]
    fn malformed_rtp_is_ignored_at_every_length() {
        let mut t = MediaTracker::new();
        // 15 CSRCs announced, an extension and padding: every cut is refused
        // until the whole header (80 bytes) is there. The padding is not
        // judged (SRTP's last byte is its tag's).
        let mut p = vec![0xbf, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9];
        p.extend([0u8; 60]);
        p.extend([0xbe, 0xde, 0, 1, 0, 0, 0, 0]);
        p.push(1);
        for cut in 0..80 {
            t.feed(S2D, 0, &p[..cut]);
        }
        assert_eq!((t.rtp_packets, t.stream_count()), (0, 0));
        t.feed(S2D, 0, &p);
        assert_eq!((t.rtp_packets, t.stream_count()), (1, 1));
        // An extension length past the end.
        let mut x = rtp(0, 2, 0, 9);
        x[0] = 0x90;
        x[14..16].copy_from_slice(&[0xff, 0xff]);
        t.feed(S2D, 0, &x);
        assert_eq!(t.rtp_packets, 1);
    }

    /// SRTP with the padding bit (WebRTC's bandwidth probes are padding-only
    /// packets): the last byte is the authentication tag's, so it is no
    /// padding count, and every packet still counts (RFC 3711 §3.1).
    #[test]
    fn padded_srtp_counts_whatever_its_last_byte() {
        let mut t = MediaTracker::new();
        for i in 0..40u16 {
            let mut p = rtp(111, i, 960 * u32::from(i), 0x5eed);
            p[0] |= 0x20;
            // A 10-byte HMAC-SHA1-80 tag; its last byte is 0 or past the
            // packet as often as not.
            p.extend(
                (0..10u8).map(|b| b.wrapping_mul(37).wrapping_add((i as u8).wrapping_mul(91))),
            );
            t.feed(S2D, i64::from(i) * 20_000, &p);
        }
        let v = t.streams();
        assert_eq!((t.rtp_packets, v[0].packets, v[0].lost), (40, 40, 0));
    }

    #[test]
    fn hostile_rtcp_is_bounded() {
        let mut t = MediaTracker::new();
        // Count field 31 with one block; a length past the end; SRTCP-like tail.
        let mut lying = rr(1, 2, 0, 0, 0, 0, 0);
        lying[0] = 0x80 | 31;
        t.feed(S2D, 0, &lying);
        let mut long = rr(1, 3, 0, 0, 0, 0, 0);
        long[3] = 250;
        t.feed(S2D, 1, &long);
        let mut srtcp = rr(1, 4, 0, 0, 0, 0, 0);
        srtcp.extend([0x80, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        t.feed(S2D, 2, &srtcp);
        assert_eq!(t.rtcp_packets, 3);
        assert_eq!(t.rtcp_unreadable, 3);
        // Churning report SSRCs stay within the cap too.
        for i in 0..1000u32 {
            t.feed(S2D, 3, &rr(1, 100 + i, 0, 0, 0, 0, 0));
        }
        assert_eq!(t.stream_count(), MAX_STREAMS);
        for cut in 0..lying.len() {
            t.feed(S2D, 4, &lying[..cut]);
        }
    }
}
