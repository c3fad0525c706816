//! STUN/TURN over UDP and TCP framings.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::stun;

fuzz_target!(|data: &[u8]| {
    if let stun::StunProbe::Message(m) = stun::parse_udp(data) {
        assert_eq!(m.msg_type & 0xc000, 0, "the top two bits of a STUN type are zero");
    }
    let _ = stun::parse_tcp(data);
});
