//! RTP headers, RTCP compounds and their report blocks, and RFC 4571 framing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::dissect::rtp;

fuzz_target!(|data: &[u8]| {
    if let Some(h) = rtp::parse_rtp(data) {
        assert!(h.header_len <= data.len());
        assert!(h.pt < 128);
    }
    if let Some(h) = rtp::parse_rtp_header(data) {
        assert!(h.header_len <= data.len());
    } else {
        assert!(rtp::parse_rtp(data).is_none(), "the padding check only narrows");
    }
    if rtp::rtcp_chain_sender(data).is_some() {
        assert!(data.len() >= 8 && data.len() % 4 == 0, "a chain of whole 32-bit words");
    }
    if let Some(i) = rtp::parse_rtcp(data) {
        assert!(i.packets >= 1 && (200..=213).contains(&i.first_type));
    }
    let mut blocks = 0;
    for r in rtp::rtcp_reports(data) {
        assert!(matches!(r.packet_type, 200 | 201));
        blocks += r.blocks().count();
    }
    assert!(
        blocks * 24 <= data.len(),
        "report blocks stay inside the datagram"
    );
    if let Some(p) = rtp::rfc4571_first(data) {
        assert!(p.len() + 2 <= data.len());
    }
});
