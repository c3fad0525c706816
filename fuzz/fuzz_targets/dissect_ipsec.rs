//! IKE headers, ESP/AH headers and the NAT-T framing of UDP 4500.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::ipsec;

fuzz_target!(|data: &[u8]| {
    if let Some(h) = ipsec::parse_ike(data) {
        assert!(data.len() >= ipsec::IKE_HEADER_LEN && h.initiator_spi != 0);
    }
    if let Some(h) = ipsec::parse_esp(data) {
        assert!(h.spi > 255 && h.seq != 0);
    }
    let _ = ipsec::parse_ah(data);
    if let Some(ipsec::NatT::Ike(_)) = ipsec::parse_natt(data) {
        assert!(data.len() >= 4 + ipsec::IKE_HEADER_LEN);
    }
});
