//! STUN/TURN over UDP and TCP framings, and MS-TURN's TCP frame test.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::stun;

fuzz_target!(|data: &[u8]| {
    if let stun::StunProbe::Message(m) = stun::parse_udp(data) {
        assert_eq!(
            m.msg_type & 0xc000,
            0,
            "the top two bits of a STUN type are zero"
        );
    }
    let _ = stun::parse_tcp(data);
    if stun::is_ms_turn_frame(data) {
        assert!(
            matches!(data, [2 | 3, 0, ..]),
            "an MS-TURN frame starts with its type and a zero"
        );
    }
});
