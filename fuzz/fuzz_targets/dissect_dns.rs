//! DNS header and question sanity over UDP and TCP.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::dns;

fuzz_target!(|data: &[u8]| {
    if dns::is_dns_exact(data) {
        assert!(dns::is_dns(data, false), "an exact message is a plausible one");
    }
    if dns::is_dns(data, false) {
        assert!(data.len() >= 17);
    }
    let _ = dns::is_dns(data, true);
});
