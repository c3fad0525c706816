//! STUN/TURN over UDP and TCP framings, MS-TURN's TCP frame test, and the
//! data TURN relays (Send/Data indications, TURN over TCP's message walk).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::{stun, turn};

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
    assert!(
        body_bytes + 4 * frames <= data.len(),
        "frames stay inside the segment"
    );
    if stun::starts_ms_turn(data) {
        assert!(frames >= 1);
    }
    if let Some(d) = stun::ms_turn_data(data) {
        assert!(d.len() + 4 <= data.len());
    }
    let inside = |d: &[u8]| {
        let r = data.as_ptr_range();
        r.start <= d.as_ptr() && d.as_ptr_range().end <= r.end
    };
    if let Some(d) = turn::indication_data(data) {
        assert!(
            matches!(data, [0, 0x16 | 0x17, ..]),
            "only Send and Data indications"
        );
        assert!(!d.is_empty() && inside(d) && d.len() + 24 <= data.len());
    }
    // Each message has a header of at least 4 bytes around its data.
    let mut relayed = 0usize;
    let mut messages = 0usize;
    for d in turn::tcp_messages(data) {
        messages += 1;
        if let Some(d) = d {
            assert!(!d.is_empty() && inside(d));
            relayed += d.len();
        }
    }
    assert!(
        relayed + 4 * messages <= data.len(),
        "messages stay inside the segment"
    );
});
