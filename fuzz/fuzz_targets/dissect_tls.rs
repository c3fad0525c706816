//! TLS hello parsing and record walking over arbitrary stream starts, whole and cut.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::tls;

fuzz_target!(|data: &[u8]| {
    let whole = tls::parse_hello(data);
    if let tls::TlsProbe::Hello(h) = &whole {
        assert!(h
            .sni
            .as_ref()
            .is_none_or(|n| n.len() <= 255 && n.bytes().all(|b| b.is_ascii_graphic())));
    }
    let kinds = tls::record_kinds(data);
    // A prefix of a stream never yields a hello the whole stream denies, and
    // a non-handshake record seen in a prefix is still there in the whole.
    if let Some(cut) = data.len().checked_sub(1) {
        if let tls::TlsProbe::Hello(h) = tls::parse_hello(&data[..cut]) {
            assert_eq!(whole, tls::TlsProbe::Hello(h));
        }
        if tls::record_kinds(&data[..cut]) == tls::RecordKinds::Other {
            assert_eq!(kinds, tls::RecordKinds::Other);
        }
    }
});
