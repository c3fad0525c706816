//! RTP on an even port and its RTCP on the next odd one (RFC 3550 §11)
//! are two flows that describe the same streams. The reader sends both to
//! one worker ([`dispatch_key`]), and the flow table hands the RTCP flow's
//! reports to the RTP flow ([`companion_of`]).

use crate::FlowKey;

/// The key a packet is dispatched to a worker by: its flow key, with UDP
/// ports stripped of their lowest bit so a flow and its companion (RTP on
/// even ports, RTCP on the next odd ones) share a worker.
#[inline]
pub fn dispatch_key(key: &FlowKey) -> FlowKey {
    if key.proto == 17 {
        FlowKey {
            lo_port: key.lo_port & !1,
            hi_port: key.hi_port & !1,
            ..*key
        }
    } else {
        *key
    }
}

/// The flow whose evidence a packet of `key` may also feed: for UDP with
/// both ports odd (RTCP on port + 1), the flow one port below on both
/// ends; None for anything else.
#[inline]
pub fn companion_of(key: &FlowKey) -> Option<FlowKey> {
    (key.proto == 17 && key.lo_port & key.hi_port & 1 == 1).then(|| FlowKey {
        lo_port: key.lo_port - 1,
        hi_port: key.hi_port - 1,
        ..*key
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(proto: u8, a: u16, b: u16) -> FlowKey {
        let x = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let y = IpAddr::V4(Ipv4Addr::new(52, 112, 0, 1));
        FlowKey::new(x, a, y, b, proto, 0).0
    }

    #[test]
    fn rtcp_on_odd_ports_pairs_with_rtp_one_below() {
        assert_eq!(
            companion_of(&key(17, 50_001, 3_479)),
            Some(key(17, 50_000, 3_478))
        );
        assert_eq!(
            dispatch_key(&key(17, 50_001, 3_479)),
            key(17, 50_000, 3_478)
        );
        assert_eq!(
            dispatch_key(&key(17, 50_000, 3_478)),
            key(17, 50_000, 3_478)
        );
        // One even port: no companion (it is its own flow), same worker
        // as its neighbours all the same.
        assert_eq!(companion_of(&key(17, 50_001, 3_478)), None);
        assert_eq!(companion_of(&key(17, 50_000, 3_478)), None);
        // TCP keeps its ports.
        assert_eq!(companion_of(&key(6, 50_001, 3_479)), None);
        assert_eq!(dispatch_key(&key(6, 50_001, 3_479)), key(6, 50_001, 3_479));
    }
}
