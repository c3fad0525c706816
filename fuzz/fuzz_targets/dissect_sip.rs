//! SIP start lines, headers and SDP over arbitrary payloads: bounded media
//! lines and `a=rtpmap` bindings, each binding sane; several messages in
//! one payload, bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::sip;

fn check_media(media: &[sip::SdpMedia]) {
    assert!(media.len() <= 8);
    for m in media {
        assert!(m.port != 0);
        assert!(m.rtpmap.len() <= 32);
        for (i, r) in m.rtpmap.iter().enumerate() {
            assert!(r.pt < 128 && r.clock_rate > 0, "{r:?}");
            assert!(!r.codec.is_empty() && r.codec.len() <= 32, "{r:?}");
            assert!(
                m.rtpmap[..i].iter().all(|o| o.pt != r.pt),
                "duplicate {r:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let sip::SipProbe::Message(m) = sip::parse(data) {
        check_media(&m.media);
        assert!(m.user_agent.as_ref().is_none_or(|u| u.len() <= 128 * 4));
    }
    check_media(&sip::parse_sdp(data));
    // Messages one after another by Content-Length: bounded, each ending
    // inside the payload it was read from.
    let mut n = 0;
    for m in sip::messages(data, 8) {
        check_media(&m.media);
        n += 1;
    }
    assert!(n <= 8);
});
