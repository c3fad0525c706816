//! SIP start lines, headers and SDP over arbitrary payloads.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::sip;

fuzz_target!(|data: &[u8]| {
    if let sip::SipProbe::Message(m) = sip::parse(data) {
        assert!(m.media.len() <= 8);
        assert!(m.user_agent.as_ref().is_none_or(|u| u.len() <= 128 * 4));
    }
    assert!(sip::parse_sdp(data).len() <= 8);
});
