//! DTLS record chains.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::dtls;

fuzz_target!(|data: &[u8]| {
    if let Some(i) = dtls::parse(data) {
        assert!(i.records >= 1 && data.len() >= 13);
    }
});
