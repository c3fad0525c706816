//! Latency and QoS marking of a flow, judged against Microsoft's targets
//! (docs/call-flows.md §3.5) and the DSCP values of the recommended media ranges
//! (docs/call-flows.md §1.2, §4.6).
//!
//! Both round-trip targets come from one table, `signatures/media.toml`
//! (`rtt_ms` of `[client]` and `[customer_edge_segment]`). The whole
//! handshake (server side plus client side, SYN-ACK to ACK) spans the client
//! path: the client's 100 ms. The server side of a handshake (SYN to
//! SYN-ACK), a STUN transaction answered by the remote end and an RTCP round
//! trip are measured from the tap: from a tap at the customer edge they span
//! the customer-edge-to-Microsoft segment (60 ms); from a tap inside they
//! also span part of the inside network, so only the client's 100 ms bounds
//! them.

use super::{MediaFields, SensorPosition};
use crate::media::QualityRules;
use crate::AppProtocol;

/// The round-trip targets `path_note` judges by, from the target tables and
/// the sensor's position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RttTargets {
    /// For round trips from the tap to the remote end, ms, and its name.
    pub from_tap: (f64, &'static str),
    /// For the whole handshake (client to Microsoft edge), ms.
    pub client: f64,
}

impl RttTargets {
    /// The targets of `rules` for a sensor at `pos`.
    pub fn of(rules: &QualityRules, pos: SensorPosition) -> Self {
        let client = rules.client.rtt_ms.unwrap_or(f64::INFINITY);
        let segment = rules.customer_edge_segment.rtt_ms.unwrap_or(f64::INFINITY);
        RttTargets {
            from_tap: if pos.at_edge() {
                (segment, "customer-edge-to-Microsoft")
            } else {
                (client, "client-to-Microsoft")
            },
            client,
        }
    }
}

/// DSCP EF: audio.
pub const DSCP_EF: u8 = 46;
/// DSCP AF41: video.
pub const DSCP_AF41: u8 = 34;
/// DSCP AF21: application sharing.
pub const DSCP_AF21: u8 = 18;

/// One direction's marking: the value most packets carried and whether a
/// packet carried another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marking {
    /// The DSCP of most packets.
    pub dscp: u8,
    /// A packet of the direction carried another value.
    pub changed: bool,
}

/// Timing and marking the runtime measured on a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PathEvidence {
    /// SYN to SYN-ACK at the tap, µs.
    pub server_rtt_us: Option<i64>,
    /// SYN-ACK to the initiator's ACK at the tap, µs.
    pub client_rtt_us: Option<i64>,
    /// Median STUN request to response time, µs (requests from the initiator).
    pub stun_rtt_us: Option<i64>,
    /// Marking per direction (src2dst, dst2src), none without packets.
    pub marking: [Option<Marking>; 2],
    /// Responder port (Teams: 3479 audio, 3480 video, 3481 sharing).
    pub dst_port: u16,
}

/// The latency and marking columns of one flow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathFields {
    /// `server_rtt_ms`.
    pub server_rtt_ms: Option<f64>,
    /// `client_rtt_ms`.
    pub client_rtt_ms: Option<f64>,
    /// `stun_rtt_ms`.
    pub stun_rtt_ms: Option<f64>,
    /// Marking per direction (src2dst, dst2src).
    pub marking: [Option<Marking>; 2],
}

fn ms(us: Option<i64>) -> Option<f64> {
    us.map(|u| u as f64 / 1000.0)
}

impl PathFields {
    /// The columns of the measured evidence.
    pub fn of(e: &PathEvidence) -> Self {
        PathFields {
            server_rtt_ms: ms(e.server_rtt_us),
            client_rtt_ms: ms(e.client_rtt_us),
            stun_rtt_ms: ms(e.stun_rtt_us),
            marking: e.marking,
        }
    }
}

/// What kind of media a flow carries, for the marking it should have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Audio,
    Video,
    Sharing,
}

impl Kind {
    fn expected(self) -> (u8, &'static str) {
        match self {
            Kind::Audio => (DSCP_EF, "EF 46"),
            Kind::Video => (DSCP_AF41, "AF41 34"),
            Kind::Sharing => (DSCP_AF21, "AF21 18"),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Audio => "audio",
            Kind::Video => "video",
            Kind::Sharing => "sharing",
        }
    }
}

/// Audio, video or sharing from the Teams QoS ports, else the RTP payload
/// type (RFC 3551 static types) or the codec name.
fn kind(e: &PathEvidence, m: &MediaFields) -> Option<Kind> {
    match e.dst_port {
        3479 => return Some(Kind::Audio),
        3480 => return Some(Kind::Video),
        3481 => return Some(Kind::Sharing),
        _ => {}
    }
    match m.rtp_payload_type {
        Some(0..=23) => Some(Kind::Audio),
        Some(24..=34) => Some(Kind::Video),
        _ => {
            let c = m.codec.as_deref()?.to_ascii_uppercase();
            let video = ["H26", "VP8", "VP9", "AV1", "RTVC", "X-H264UC"];
            Some(if video.iter().any(|v| c.starts_with(v)) {
                Kind::Video
            } else {
                Kind::Audio
            })
        }
    }
}

/// Latency and marking findings for `path_note`: `o365` when the remote end
/// is Office 365 (the targets are for the path to Microsoft), `outbound`
/// the index of the local sender's direction, `rtt` the targets.
pub fn notes(
    e: &PathEvidence,
    app: AppProtocol,
    media: &MediaFields,
    o365: bool,
    outbound: usize,
    rtt: &RttTargets,
) -> Vec<String> {
    let mut out = Vec::new();
    if o365 {
        let over = |what: &str, v: f64, target: f64, seg: &str| {
            (v > target).then(|| format!("{what} {v:.1} ms over the {target:.0} ms {seg} target"))
        };
        let (tap, tap_name) = rtt.from_tap;
        out.extend(ms(e.server_rtt_us).and_then(|v| over("server-side RTT", v, tap, tap_name)));
        if let (Some(s), Some(c)) = (e.server_rtt_us, e.client_rtt_us) {
            out.extend(over(
                "handshake RTT",
                (s + c) as f64 / 1000.0,
                rtt.client,
                "client-to-Microsoft",
            ));
        }
        out.extend(ms(e.stun_rtt_us).and_then(|v| over("STUN RTT", v, tap, tap_name)));
        out.extend(
            media
                .rtcp_rtt_ms
                .and_then(|v| over("RTCP RTT", v, tap, tap_name)),
        );
    }
    if !(app.carries_media() && media.is_media) {
        return out;
    }
    let inbound = 1 - outbound.min(1);
    let sent = e.marking.get(outbound).copied().flatten();
    let back = e.marking.get(inbound).copied().flatten();
    let dir = ["src2dst", "dst2src"];
    let name = |i: usize| dir.get(i).copied().unwrap_or("");
    if let Some(k) = kind(e, media) {
        let (want, label) = k.expected();
        if let Some(s) = sent.filter(|s| s.dscp != want) {
            out.push(format!(
                "{} {} marked DSCP {}, not {label}",
                name(outbound),
                k.as_str(),
                s.dscp
            ));
        }
    }
    if let (Some(s), Some(b)) = (sent, back) {
        if s.dscp != 0 && b.dscp == 0 {
            out.push(format!(
                "{} re-marked to DSCP 0 (sent {})",
                name(inbound),
                s.dscp
            ));
        }
    }
    for (i, m) in e.marking.iter().enumerate() {
        if m.is_some_and(|m| m.changed) {
            out.push(format!("{} DSCP changed within the flow", name(i)));
        }
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    fn media(pt: i16) -> MediaFields {
        MediaFields {
            is_media: true,
            rtp_payload_type: Some(pt),
            ..MediaFields::default()
        }
    }

    fn mark(dscp: u8) -> Option<Marking> {
        Some(Marking {
            dscp,
            changed: false,
        })
    }

    fn rtt(pos: SensorPosition) -> RttTargets {
        RttTargets::of(&QualityRules::builtin().unwrap(), pos)
    }

    #[test]
    fn round_trips_by_the_table_of_what_they_span() {
        let e = PathEvidence {
            server_rtt_us: Some(75_000),
            client_rtt_us: Some(30_000),
            stun_rtt_us: Some(20_000),
            marking: [mark(46), mark(46)],
            dst_port: 3478,
        };
        let mut m = media(0);
        m.rtcp_rtt_ms = Some(80.0);
        let edge = rtt(SensorPosition::CustomerEdge);
        assert_eq!(
            notes(&e, AppProtocol::Rtp, &m, true, 0, &edge),
            [
                "server-side RTT 75.0 ms over the 60 ms customer-edge-to-Microsoft target",
                "handshake RTT 105.0 ms over the 100 ms client-to-Microsoft target",
                "RTCP RTT 80.0 ms over the 60 ms customer-edge-to-Microsoft target",
            ]
        );
        // Inside, the same round trips span part of the inside network too:
        // only the client's 100 ms bounds them.
        let inside = rtt(SensorPosition::Inside);
        assert_eq!(
            notes(&e, AppProtocol::Rtp, &m, true, 0, &inside),
            ["handshake RTT 105.0 ms over the 100 ms client-to-Microsoft target"]
        );
    }

    #[test]
    fn targets_and_markings() {
        let r = &rtt(SensorPosition::CustomerEdge);
        let e = PathEvidence {
            server_rtt_us: Some(75_000),
            client_rtt_us: Some(30_000),
            stun_rtt_us: Some(20_000),
            marking: [mark(46), mark(0)],
            dst_port: 3478,
        };
        let n = notes(&e, AppProtocol::Rtp, &media(0), true, 0, r);
        assert_eq!(
            n,
            [
                "server-side RTT 75.0 ms over the 60 ms customer-edge-to-Microsoft target",
                "handshake RTT 105.0 ms over the 100 ms client-to-Microsoft target",
                "dst2src re-marked to DSCP 0 (sent 46)",
            ]
        );
        // Not Office 365: no target; video marked EF is wrong.
        let e = PathEvidence {
            marking: [mark(46), mark(46)],
            dst_port: 3480,
            ..e
        };
        assert_eq!(
            notes(&e, AppProtocol::Rtp, &media(0), false, 0, r),
            ["src2dst video marked DSCP 46, not AF41 34"]
        );
        // Inbound flow: the local sender is the responder.
        let e = PathEvidence {
            marking: [mark(0), mark(34)],
            dst_port: 50_000,
            ..e
        };
        assert_eq!(
            notes(&e, AppProtocol::Rtp, &media(96), false, 1, r),
            ["src2dst re-marked to DSCP 0 (sent 34)"],
            "dynamic type without codec: kind unknown; the return path is the initiator's"
        );
        assert!(notes(&e, AppProtocol::Https, &MediaFields::default(), false, 0, r).is_empty());
    }
}
