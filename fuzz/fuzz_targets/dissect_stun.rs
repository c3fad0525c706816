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
    let mut body_bytes = 0usize;
    let mut frames = 0usize;
    for f in stun::ms_turn_frames(data) {
        assert!(matches!(f.kind, 2 | 3), "only control and data frames");
        body_bytes += f.body.len();
        frames += 1;
    }
    assert!(body_bytes + 4 * frames <= data.len(), "frames stay inside the segment");
    if stun::starts_ms_turn(data) {
        assert!(frames >= 1);
    }
    if let Some(d) = stun::ms_turn_data(data) {
        assert!(d.len() + 4 <= data.len());
    }
});
