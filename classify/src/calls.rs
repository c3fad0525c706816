//! Calls: the media, ICE checks and signaling flows of one local client
//! grouped into one call, with the call's building, modalities, one-way
//! audio and quality.
//!
//! The grouping rule (also in `docs/calls-and-buildings.md`), per local
//! client:
//! 1. Clear-text SIP: a SIP flow's dialogs, each known by a hash of its
//!    `Call-ID` (the value is never kept), name the media endpoints their
//!    SDP offered or answered. A media flow (a flow that carried RTP) one of
//!    whose ends a dialog of the client named is that dialog's: the dialog
//!    that named it last at or before its first packet, else the first to
//!    name it before its last (media before the answer). The media of one
//!    dialog is one call, however long its silences; two dialogs are two
//!    calls even when they overlap in time.
//! 2. Teams and Skype for Business encrypt their signaling, so their calls
//!    are found from media: the media flows no dialog named form one call
//!    while each starts less than [`GAP_US`] after the call's media so far
//!    ended; a longer silence starts a new call.
//! 3. A SIP flow joins the call of its first dialog that has media (one
//!    signaling flow may carry every call of its client: it is not a reason
//!    to merge them). The client's STUN/TURN checks and other signaling
//!    flows join the call that starts within [`GAP_US`] after them or is
//!    going on when they start.
//!
//! A flow between two local ends belongs to its initiator's call.
//!
//! Everything here is pure: [`CallFlow::of`] takes a finished flow's row,
//! [`Grouper`] holds the candidates of each client and hands back a call
//! once no media of its client came for [`GAP_US`] plus [`HOLD_US`] of
//! writer time, so a live run emits calls as they end.

mod cluster;

use crate::buildings::{Building, FlowBuildings};
use crate::egress::{Egress, ExpectedPath};
use crate::evidence::Dialog;
use crate::media::Quality;
use crate::outcome::Labels;
use crate::{AppProtocol, Side, TrafficType};
use cluster::clusters;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Silence of a client's media that ends its call: a flow starting later is
/// the next call.
pub const GAP_US: i64 = 60_000_000;
/// How long after a call's gap the writer still waits for its flows: a
/// record reaches the writer only when its flow ends, up to an idle timeout
/// (120 s by default) after its last packet, and a record waiting for the
/// edges learned in the warm-up (5 min by default) later still.
pub const HOLD_US: i64 = 600_000_000;
/// A leg whose last packet comes this long before the other leg's stopped
/// while the other went on.
pub const STOPPED_US: i64 = 5_000_000;

/// Audio, video and screen sharing bits of [`Call::modalities`].
pub const AUDIO: u8 = 1;
/// Video.
pub const VIDEO: u8 = 2;
/// Screen or application sharing.
pub const SHARING: u8 = 4;

/// What part a flow plays in a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// It carried RTP.
    Media,
    /// ICE connectivity checks or relay allocation without RTP (STUN/TURN,
    /// DTLS).
    Check,
    /// Call signaling (SIP, Teams/Skype for Business HTTPS).
    Signaling,
}

/// One RTP stream of a call's media flow, seen from the client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Leg {
    /// The client sends it.
    pub sent: bool,
    /// Audio (else video or sharing).
    pub audio: bool,
    /// RTP packets.
    pub packets: u64,
    /// Last packet, µs.
    pub last_us: i64,
    /// Its verdict.
    pub quality: Option<Quality>,
    /// Its CQD verdict.
    pub cqd_quality: Option<Quality>,
}

/// What grouping needs of one finished flow row.
#[derive(Clone, Debug, PartialEq)]
pub struct CallFlow {
    /// The row's `flow_id`.
    pub flow_id: i64,
    /// First packet, µs.
    pub first_us: i64,
    /// Last packet, µs.
    pub last_us: i64,
    /// The local end (the initiator when both are local).
    pub client: IpAddr,
    /// The other end.
    pub remote: IpAddr,
    /// The other end is local too.
    pub remote_local: bool,
    /// The client's and the other end's address and port.
    pub ends: [SocketAddr; 2],
    /// The SIP dialogs it carried in clear text (signaling flows).
    pub dialogs: Vec<Dialog>,
    /// Its part in a call.
    pub part: Part,
    /// Modalities its ports or payload types show.
    pub modalities: u8,
    /// Its RTP streams.
    pub legs: Vec<Leg>,
    /// IP bytes both ways.
    pub bytes: u64,
    /// Its service is Teams / Skype for Business.
    pub teams: bool,
    /// Buildings of its local ends.
    pub buildings: FlowBuildings,
    /// Prefix-predicted egress.
    pub egress: Egress,
    /// Observed egress.
    pub observed: Option<Egress>,
    /// Expected path.
    pub expected: Option<ExpectedPath>,
    /// Conformance.
    pub conformant: Option<bool>,
}

/// The modality a Teams or Skype for Business port names: the relay ports
/// 3479-3481 with QoS markers on, the recommended client ranges
/// 50000-50059 (domain.md 1.2).
fn port_modality(port: u16) -> u8 {
    match port {
        3479 | 50_000..=50_019 => AUDIO,
        3480 | 50_020..=50_039 => VIDEO,
        3481 | 50_040..=50_059 => SHARING,
        _ => 0,
    }
}

/// Whether an RTP stream is video by its clock or payload type (90 kHz is
/// the video clock; 34 H.263, 121-123 Microsoft's video types).
fn is_video(clock: Option<u32>, pt: u8) -> bool {
    clock == Some(90_000) || matches!(pt, 34 | 121..=123)
}

impl CallFlow {
    /// The call-relevant view of a finished flow, or None when it cannot be
    /// part of a call (no local end, or neither media nor signaling).
    pub fn of(
        flow_id: i64,
        (src, src_port): (IpAddr, u16),
        (dst, dst_port): (IpAddr, u16),
        (first_us, last_us): (i64, i64),
        bytes: u64,
        l: &Labels,
    ) -> Option<Self> {
        let (client, remote, client_port, remote_port) = match (l.local_src, l.local_dst) {
            (true, _) => (src, dst, src_port, dst_port),
            (false, true) => (dst, src, dst_port, src_port),
            (false, false) => return None,
        };
        let teams = l.service.as_deref() == Some("skype_teams");
        let rtp = l.media.rtp_ssrc_count.unwrap_or(0) > 0
            || matches!(l.app_protocol, AppProtocol::Rtp | AppProtocol::Srtp);
        let part = match l.traffic_type {
            TrafficType::Media if rtp => Part::Media,
            TrafficType::Media => Part::Check,
            TrafficType::Signaling
                if teams || matches!(l.app_protocol, AppProtocol::Sip | AppProtocol::SipTls) =>
            {
                Part::Signaling
            }
            _ => return None,
        };
        let by_port = port_modality(remote_port) | port_modality(client_port);
        let client_is_src = l.local_src;
        let legs: Vec<Leg> = l
            .media
            .streams
            .iter()
            .filter(|s| s.stats.packets > 0)
            .map(|s| Leg {
                sent: (s.stats.side == Side::Src2Dst) == client_is_src,
                audio: match by_port {
                    0 => !is_video(s.stats.clock_rate, s.stats.payload_type),
                    m => m == AUDIO,
                },
                packets: s.stats.packets,
                last_us: s.stats.last_us,
                quality: s.quality,
                cqd_quality: s.cqd_quality,
            })
            .collect();
        let by_streams = legs
            .iter()
            .map(|g| if g.audio { AUDIO } else { VIDEO })
            .fold(0, |a, b| a | b);
        let modalities = if part != Part::Media {
            0
        } else if by_port != 0 {
            by_port
        } else if legs.is_empty() {
            // RTP seen without streams (`--no-media`): audio is the best guess
            // nothing supports, so say nothing.
            0
        } else {
            by_streams
        };
        Some(CallFlow {
            flow_id,
            first_us,
            last_us,
            client,
            remote,
            remote_local: l.local_src && l.local_dst,
            ends: [
                SocketAddr::new(client, client_port),
                SocketAddr::new(remote, remote_port),
            ],
            dialogs: l.dialogs.clone(),
            part,
            modalities,
            legs,
            bytes,
            teams,
            buildings: l.buildings.clone(),
            egress: l.egress.egress,
            observed: l.egress.observed_egress,
            expected: l.egress.expected_path,
            conformant: l.egress.path_conformant,
        })
    }
}

/// One call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The smallest `flow_id` of its flows.
    pub call_id: i64,
    /// First packet of any of its flows, µs.
    pub first_us: i64,
    /// Last packet of any of its flows, µs.
    pub last_us: i64,
    /// The local client.
    pub client: IpAddr,
    /// The other end of its main media flow (relay or peer).
    pub remote: IpAddr,
    /// That other end when it is local too (a call between two local ends).
    pub remote_local: Option<IpAddr>,
    /// The client's building.
    pub building: Option<Arc<Building>>,
    /// The local peer's building.
    pub peer_building: Option<Arc<Building>>,
    /// Media flows.
    pub media_flows: u32,
    /// Every flow of the call.
    pub flow_ids: Vec<i64>,
    /// [`AUDIO`] | [`VIDEO`] | [`SHARING`].
    pub modalities: u8,
    /// RTP streams.
    pub streams: u32,
    /// Streams judged poor.
    pub poor_streams: u32,
    /// Streams judged good.
    pub good_streams: u32,
    /// Worst leg: poor when a stream is, good when every judged one is.
    pub quality: Option<Quality>,
    /// Worst leg by the streams' CQD verdict, the same way.
    pub cqd_quality: Option<Quality>,
    /// An audio leg carried nothing while the other did, or stopped while
    /// the other went on; None without audio.
    pub one_way_audio: Option<bool>,
    /// Which leg and how, when one-way.
    pub one_way_note: Option<String>,
    /// Media bytes.
    pub media_bytes: u64,
    /// Teams / Skype for Business media.
    pub teams: bool,
    /// Bytes of its Teams / Skype for Business media flows by their
    /// predicted egress: ExpressRoute, Internet, other (local, unknown).
    pub teams_bytes: [u64; 3],
    /// Predicted egress of the main media flow.
    pub egress: Egress,
    /// Its observed egress.
    pub observed: Option<Egress>,
    /// Its expected path.
    pub expected: Option<ExpectedPath>,
    /// False when a media flow's path did not conform, true when every
    /// judged one did, None when none was judged.
    pub conformant: Option<bool>,
}

impl Call {
    /// `audio,video,sharing` as far as known; None when nothing tells.
    pub fn modalities_text(&self) -> Option<&'static str> {
        const NAMES: [&str; 8] = [
            "",
            "audio",
            "video",
            "audio,video",
            "sharing",
            "audio,sharing",
            "video,sharing",
            "audio,video,sharing",
        ];
        NAMES
            .get(usize::from(self.modalities & 7))
            .copied()
            .filter(|s| !s.is_empty())
    }

    /// A call from its media flows and the checks and signaling before them.
    fn of(media: &[CallFlow], others: &[CallFlow]) -> Option<Self> {
        let main = media.iter().max_by_key(|f| (f.bytes, -f.flow_id))?;
        let all = || media.iter().chain(others.iter());
        let legs = || media.iter().flat_map(|f| f.legs.iter());
        let count = |q: Quality| {
            let n = legs().filter(|g| g.quality == Some(q)).count();
            u32::try_from(n).unwrap_or(u32::MAX)
        };
        let (poor, good) = (count(Quality::Poor), count(Quality::Good));
        let (one_way_audio, one_way_note) = one_way(legs());
        let judged: Vec<bool> = media.iter().filter_map(|f| f.conformant).collect();
        let mut flow_ids: Vec<i64> = all().map(|f| f.flow_id).collect();
        flow_ids.sort_unstable();
        Some(Call {
            call_id: flow_ids.first().copied().unwrap_or(main.flow_id),
            first_us: all().map(|f| f.first_us).min().unwrap_or(main.first_us),
            last_us: all().map(|f| f.last_us).max().unwrap_or(main.last_us),
            client: main.client,
            remote: main.remote,
            remote_local: main.remote_local.then_some(main.remote),
            building: main.buildings.local.clone(),
            peer_building: main.buildings.peer.clone(),
            media_flows: u32::try_from(media.len()).unwrap_or(u32::MAX),
            modalities: media.iter().fold(0, |m, f| m | f.modalities),
            streams: u32::try_from(legs().count()).unwrap_or(u32::MAX),
            poor_streams: poor,
            good_streams: good,
            quality: if poor > 0 {
                Some(Quality::Poor)
            } else {
                (good > 0).then_some(Quality::Good)
            },
            cqd_quality: worst(legs().map(|g| g.cqd_quality)),
            one_way_audio,
            one_way_note,
            media_bytes: media.iter().map(|f| f.bytes).sum(),
            teams: media.iter().any(|f| f.teams),
            teams_bytes: media.iter().filter(|f| f.teams).fold([0; 3], |mut t, f| {
                let i = match f.egress {
                    Egress::ExpressRoute => 0,
                    Egress::Internet => 1,
                    _ => 2,
                };
                if let Some(x) = t.get_mut(i) {
                    *x += f.bytes;
                }
                t
            }),
            egress: main.egress,
            observed: main.observed,
            expected: main.expected,
            conformant: if judged.contains(&false) {
                Some(false)
            } else {
                judged.first().copied()
            },
            flow_ids,
        })
    }
}

/// The worst of some verdicts: poor when one is, good when one is and
/// none is poor.
fn worst(v: impl Iterator<Item = Option<Quality>>) -> Option<Quality> {
    v.flatten().max_by_key(|q| *q == Quality::Poor)
}

/// One-way audio of a call's legs: a direction that carried no audio while
/// the other did, or whose last packet came [`STOPPED_US`] or more before
/// the other's.
fn one_way<'a>(legs: impl Iterator<Item = &'a Leg>) -> (Option<bool>, Option<String>) {
    let (mut sent, mut recv) = ((0u64, i64::MIN), (0u64, i64::MIN));
    for g in legs.filter(|g| g.audio) {
        let d = if g.sent { &mut sent } else { &mut recv };
        d.0 += g.packets;
        d.1 = d.1.max(g.last_us);
    }
    let secs = |us: i64| us as f64 / 1e6;
    match (sent.0, recv.0) {
        (0, 0) => (None, None),
        (_, 0) => (Some(true), Some("no audio received".into())),
        (0, _) => (Some(true), Some("no audio sent".into())),
        _ if recv.1 + STOPPED_US <= sent.1 => (
            Some(true),
            Some(format!(
                "received audio stopped {:.1} s before the sent audio",
                secs(sent.1 - recv.1)
            )),
        ),
        _ if sent.1 + STOPPED_US <= recv.1 => (
            Some(true),
            Some(format!(
                "sent audio stopped {:.1} s before the received audio",
                secs(recv.1 - sent.1)
            )),
        ),
        _ => (Some(false), None),
    }
}

/// Groups one client's flows into calls (see the module doc); returns the
/// calls and the flows no call took.
pub fn group(flows: Vec<CallFlow>) -> (Vec<Call>, Vec<CallFlow>) {
    let (cl, left) = clusters(flows);
    let calls = cl.iter().filter_map(|(m, o)| Call::of(m, o)).collect();
    (calls, left)
}

/// Holds the call flows of each client until their call has ended, in
/// writer time (the latest `last_seen` handed to it).
#[derive(Debug, Default)]
pub struct Grouper {
    held: HashMap<IpAddr, Vec<CallFlow>>,
    now_us: i64,
}

/// What [`Grouper::close`] hands back.
#[derive(Debug, Default)]
pub struct Closed {
    /// Calls that ended.
    pub calls: Vec<Call>,
    /// Held flows no call took, to release without a call.
    pub released: Vec<i64>,
}

impl Grouper {
    /// Holds a flow; its row waits for [`Grouper::close`].
    pub fn hold(&mut self, f: CallFlow) {
        self.now_us = self.now_us.max(f.last_us);
        self.held.entry(f.client).or_default().push(f);
    }

    /// Moves writer time forward (a row that is no call flow ended).
    pub fn advance(&mut self, last_us: i64) {
        self.now_us = self.now_us.max(last_us);
    }

    /// Writer time: the latest `last_seen` handed over, µs.
    pub fn now_us(&self) -> i64 {
        self.now_us
    }

    /// Flows held.
    pub fn held(&self) -> usize {
        self.held.values().map(Vec::len).sum()
    }

    /// The calls that ended by now (every one when `all`), and the held
    /// flows that no call took and none can take any more.
    pub fn close(&mut self, all: bool) -> Closed {
        let cut = self.now_us.saturating_sub(GAP_US + HOLD_US);
        let mut out = Closed::default();
        let mut clients: Vec<IpAddr> = self.held.keys().copied().collect();
        clients.sort_unstable();
        for c in clients {
            let Some(flows) = self.held.remove(&c) else {
                continue;
            };
            let (cl, left) = clusters(flows);
            let mut keep: Vec<CallFlow> = Vec::new();
            for (media, others) in cl {
                let last = media.iter().chain(&others).map(|f| f.last_us).max();
                if all || last.is_some_and(|l| l < cut) {
                    out.calls.extend(Call::of(&media, &others));
                } else {
                    // Still going on: its flows wait and are grouped again.
                    keep.extend(media);
                    keep.extend(others);
                }
            }
            for f in left {
                if all || f.last_us < cut {
                    out.released.push(f.flow_id);
                } else {
                    keep.push(f);
                }
            }
            if !keep.is_empty() {
                self.held.insert(c, keep);
            }
        }
        out.calls.sort_by_key(|c| c.call_id);
        out
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const S: i64 = 1_000_000;

    fn flow(id: i64, part: Part, first_s: i64, last_s: i64, legs: &[(bool, i64)]) -> CallFlow {
        CallFlow {
            flow_id: id,
            first_us: first_s * S,
            last_us: last_s * S,
            client: "10.1.0.5".parse().unwrap(),
            remote: "52.112.0.9".parse().unwrap(),
            remote_local: false,
            ends: [
                SocketAddr::new("10.1.0.5".parse().unwrap(), 50_000 + id as u16),
                SocketAddr::new("52.112.0.9".parse().unwrap(), 3479),
            ],
            dialogs: Vec::new(),
            part,
            modalities: if part == Part::Media { AUDIO } else { 0 },
            legs: legs
                .iter()
                .map(|&(sent, last_s)| Leg {
                    sent,
                    audio: true,
                    packets: 100,
                    last_us: last_s * S,
                    quality: Some(Quality::Good),
                    cqd_quality: None,
                })
                .collect(),
            bytes: 1000,
            teams: true,
            buildings: FlowBuildings::default(),
            egress: Egress::Internet,
            observed: None,
            expected: None,
            conformant: None,
        }
    }

    #[test]
    fn a_minute_of_silence_starts_a_new_call() {
        let both = [(true, 30), (false, 30)];
        let (calls, left) = group(vec![
            flow(5, Part::Signaling, 0, 400, &[]),
            flow(7, Part::Check, 9, 12, &[]),
            flow(9, Part::Media, 10, 30, &both),
            flow(11, Part::Media, 20, 35, &[(true, 35), (false, 35)]),
            // 95 s after the first call's media ended.
            flow(20, Part::Media, 130, 160, &[(true, 160), (false, 160)]),
            flow(30, Part::Check, 500, 501, &[]),
        ]);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].flow_ids, vec![5, 7, 9, 11]);
        assert_eq!((calls[0].call_id, calls[0].media_flows), (5, 2));
        assert_eq!(calls[0].one_way_audio, Some(false));
        assert_eq!(calls[1].flow_ids, vec![20]);
        assert_eq!(left.iter().map(|f| f.flow_id).collect::<Vec<_>>(), vec![30]);
    }

    fn dialog(key: u64, first_s: i64, ports: &[u16]) -> Dialog {
        Dialog {
            key,
            first_us: first_s * S,
            endpoints: ports
                .iter()
                .map(|&p| (SocketAddr::new("10.1.0.5".parse().unwrap(), p), first_s * S))
                .collect(),
        }
    }

    #[test]
    fn clear_text_sip_dialogs_part_calls_that_time_would_merge() {
        let both = |t: i64| [(true, t), (false, t)];
        // One UDP signaling flow carries two dialogs a minute apart; their
        // media is 15 s apart, so time alone would make one call.
        let mut sip = flow(2, Part::Signaling, 0, 200, &[]);
        sip.dialogs = vec![dialog(7, 0, &[50_003]), dialog(9, 60, &[50_004, 50_006])];
        let media = |id, first, last| flow(id, Part::Media, first, last, &both(last));
        let late = flow(30, Part::Media, 50, 52, &both(52));
        let (calls, left) = group(vec![
            sip.clone(),
            media(3, 2, 45),
            media(4, 62, 100),
            media(6, 63, 100),
            late.clone(),
        ]);
        let ids: Vec<Vec<i64>> = calls.iter().map(|c| c.flow_ids.clone()).collect();
        // Flow 30, which no dialog named (a Teams call beside), is a call of
        // its own by time, not part of the SIP call going on.
        assert_eq!(ids, vec![vec![2, 3], vec![30], vec![4, 6]]);
        assert!(left.is_empty());
        // The same dialogs overlapping in time are still two calls.
        let (calls, _) = group(vec![sip, media(3, 2, 100), media(4, 62, 100)]);
        let ids: Vec<Vec<i64>> = calls.iter().map(|c| c.flow_ids.clone()).collect();
        assert_eq!(ids, vec![vec![2, 3], vec![4]]);
        // A port the second dialog names again later belongs to it from then.
        let mut sip = flow(2, Part::Signaling, 0, 200, &[]);
        sip.dialogs = vec![dialog(7, 0, &[50_003]), dialog(9, 60, &[50_003])];
        let mut again = media(33, 62, 100);
        again.ends[0] = SocketAddr::new("10.1.0.5".parse().unwrap(), 50_003);
        let (calls, _) = group(vec![sip, media(3, 2, 45), again]);
        let ids: Vec<Vec<i64>> = calls.iter().map(|c| c.flow_ids.clone()).collect();
        assert_eq!(ids, vec![vec![2, 3], vec![33]]);
        // Without dialogs, the same flows are one call by time.
        let (calls, _) = group(vec![media(3, 2, 45), media(4, 62, 100), late]);
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn one_way_audio_never_or_stopped() {
        let call = |legs: &[(bool, i64)]| group(vec![flow(1, Part::Media, 0, 60, legs)]).0;
        let c = call(&[(true, 60)]);
        assert_eq!(c[0].one_way_audio, Some(true));
        assert_eq!(c[0].one_way_note.as_deref(), Some("no audio received"));
        let c = call(&[(true, 60), (false, 10)]);
        assert_eq!(c[0].one_way_audio, Some(true));
        assert!(c[0]
            .one_way_note
            .as_deref()
            .unwrap()
            .starts_with("received audio stopped 50.0 s"));
        let c = call(&[(true, 58), (false, 60)]);
        assert_eq!(
            c[0].one_way_audio,
            Some(false),
            "2 s apart is the call ending"
        );
        assert_eq!(call(&[])[0].one_way_audio, None);
    }

    #[test]
    fn the_grouper_closes_a_call_once_its_gap_and_hold_passed() {
        let mut g = Grouper::default();
        g.hold(flow(1, Part::Media, 0, 60, &[(true, 60), (false, 60)]));
        g.advance(60 * S + GAP_US + HOLD_US);
        let c = g.close(false);
        assert!(c.calls.is_empty() && c.released.is_empty());
        assert_eq!(g.held(), 1);
        let late = (60 * S + GAP_US + HOLD_US) / S + 10;
        g.hold(flow(2, Part::Check, late, late + 1, &[]));
        let c = g.close(false);
        assert_eq!(c.calls.len(), 1);
        assert!(
            c.released.is_empty(),
            "the later check may still precede a call"
        );
        let c = g.close(true);
        assert_eq!((c.calls.len(), c.released.clone()), (0, vec![2]));
        assert_eq!(g.held(), 0);
    }
}
