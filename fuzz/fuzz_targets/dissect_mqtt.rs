//! MQTT CONNECT recognition: what parses is a CONNECT whose fixed fields
//! the specifications allow, and the probe agrees with the parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::{mqtt, ProbeResult};
use pathlens_classify::AppProtocol;

fuzz_target!(|data: &[u8]| {
    let parsed = mqtt::parse_connect(data);
    if let Some(c) = parsed {
        assert_eq!(data.first(), Some(&0x10));
        assert!(matches!(c.level, 3..=5));
        assert!(c.remaining_len <= mqtt::MAX_REMAINING);
        // Fixed header, protocol name, level, flags and keep-alive are in
        // the payload; the announced length covers them and a client id.
        let name_len = if c.level == 3 { 6 } else { 4 };
        assert!(data.len() >= 1 + 1 + 2 + name_len + 4);
        assert!(c.remaining_len as usize >= 2 + name_len + 4 + 2);
        assert!(c.level == 5 || !c.password || c.username);
    }
    let want = if parsed.is_some() {
        ProbeResult::Certain(AppProtocol::Mqtt)
    } else {
        ProbeResult::NotForUs
    };
    assert_eq!(mqtt::probe(data), want);
});
