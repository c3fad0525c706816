//! Which of Microsoft's two target tables judges each leg of a media flow,
//! from where the sensor sits and which way the stream goes (docs/call-flows.md
//! §3.5, docs/verdicts.md).
//!
//! Microsoft's "client to Microsoft edge" table covers the whole path
//! (Wi-Fi, LAN, WAN and the Internet or ExpressRoute link); its "customer
//! network edge to Microsoft edge" table covers only the segment beyond the
//! site's edge, over the Internet or ExpressRoute alike. A sensor at the
//! customer edge sees a stream arriving from outside right after that
//! segment, and a stream leaving right after the inside network; a sensor
//! inside sees part of the inside network on both legs.

use crate::egress::Egress;
use crate::media::QualityProfile;
use crate::Side;

/// Where the sensor taps the site's traffic (site config `sensor_position`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SensorPosition {
    /// Somewhere inside the customer network (the default): both legs
    /// include part of the inside network, so both are judged by the client
    /// table.
    #[default]
    Inside,
    /// At the customer edge: the leg arriving from outside is judged by the
    /// customer-edge segment's table, the leg leaving by the client's.
    CustomerEdge,
}

/// The table a stream is judged by and the part of the path it crossed
/// before the tap (`quality_profile`, `quality_segment`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leg {
    /// The target table.
    pub profile: QualityProfile,
    /// `lan` (the inside network only), `internet`, `expressroute` or
    /// `unknown` (the segment beyond the customer edge, by the path
    /// observed, else predicted), `internet+lan`... (both).
    pub segment: &'static str,
}

impl SensorPosition {
    /// Parses the config value (`inside`, `customer_edge`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inside" => Some(SensorPosition::Inside),
            "customer_edge" => Some(SensorPosition::CustomerEdge),
            _ => None,
        }
    }

    /// The leg of a stream sent by `side`'s sender; `local` says which ends
    /// (src, dst) are inside the site, `path` is the flow's path beyond the
    /// edge (observed, else predicted).
    pub fn leg(self, side: Side, local: (bool, bool), path: Egress) -> Leg {
        let (sender_local, receiver_local) = match side {
            Side::Src2Dst => local,
            Side::Dst2Src => (local.1, local.0),
        };
        let client = |segment| Leg {
            profile: QualityProfile::Client,
            segment,
        };
        if sender_local {
            // Leaving the site, or inside it: only inside network so far.
            return client("lan");
        }
        if !receiver_local {
            return client("unknown");
        }
        let beyond = match path {
            Egress::ExpressRoute => ("expressroute", "expressroute+lan"),
            Egress::Internet => ("internet", "internet+lan"),
            Egress::Local | Egress::Unknown => ("unknown", "unknown+lan"),
        };
        match self {
            SensorPosition::CustomerEdge => Leg {
                profile: QualityProfile::CustomerEdgeSegment,
                segment: beyond.0,
            },
            SensorPosition::Inside => client(beyond.1),
        }
    }

    /// Whether a round trip measured from the tap to a remote end is the
    /// customer-edge segment's (the tap is at the edge), else part of the
    /// client path.
    pub fn at_edge(self) -> bool {
        self == SensorPosition::CustomerEdge
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn each_leg_by_the_table_covering_what_it_crossed() {
        let edge = SensorPosition::CustomerEdge;
        let inside = SensorPosition::Inside;
        let seg = QualityProfile::CustomerEdgeSegment;
        let client = QualityProfile::Client;
        let out = (true, false);
        // At the edge: arriving from outside by the segment's table,
        // whatever the path; leaving by the client's.
        for (path, name) in [
            (Egress::Internet, "internet"),
            (Egress::ExpressRoute, "expressroute"),
            (Egress::Unknown, "unknown"),
        ] {
            let l = edge.leg(Side::Dst2Src, out, path);
            assert_eq!((l.profile, l.segment), (seg, name));
            let l = edge.leg(Side::Src2Dst, out, path);
            assert_eq!((l.profile, l.segment), (client, "lan"));
        }
        // An inbound flow: the initiator is outside.
        let l = edge.leg(Side::Src2Dst, (false, true), Egress::Internet);
        assert_eq!((l.profile, l.segment), (seg, "internet"));
        // Inside: the client's table both ways.
        let l = inside.leg(Side::Dst2Src, out, Egress::ExpressRoute);
        assert_eq!((l.profile, l.segment), (client, "expressroute+lan"));
        let l = inside.leg(Side::Src2Dst, out, Egress::ExpressRoute);
        assert_eq!((l.profile, l.segment), (client, "lan"));
        // Both ends inside: the inside network only.
        let l = edge.leg(Side::Dst2Src, (true, true), Egress::Local);
        assert_eq!((l.profile, l.segment), (client, "lan"));
        assert_eq!(SensorPosition::parse("customer_edge"), Some(edge));
        assert_eq!(SensorPosition::parse("inside"), Some(inside));
        assert_eq!(SensorPosition::parse("edge"), None);
    }
}
