//! The per-flow classifier over a sequence of payloads: byte 0 picks the
//! transport and ports, then each chunk is (direction bit + 15-bit length,
//! payload). Checks the budget ends inspection and result() never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::{FlowClassifier, FlowShape, Side, Signatures, Transport};
use std::sync::OnceLock;

static SIG: OnceLock<Signatures> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let sig = SIG.get_or_init(|| Signatures::builtin().expect("built-in rules"));
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let ports = [443u16, 5061, 3478, 53, 25, 993, 8057, 50010, 40000, 80];
    let transport = if sel & 1 == 0 {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let dport = ports[usize::from(sel >> 1) % ports.len()];
    let mut c = FlowClassifier::new(sig, transport, 50123, dport);
    let mut fed = 0u32;
    while rest.len() >= 2 {
        let h = u16::from_be_bytes([rest[0], rest[1]]);
        let n = usize::from(h & 0x7fff).min(rest.len() - 2);
        let side = if h & 0x8000 == 0 {
            Side::Src2Dst
        } else {
            Side::Dst2Src
        };
        let payload = &rest[2..2 + n];
        rest = &rest[2 + n..];
        if c.wants_more() {
            c.feed(sig, side, payload);
            if !payload.is_empty() {
                fed += 1;
            }
        }
    }
    assert!(fed <= 2 * 32, "inspection is bounded by the packet budget");
    let r = c.result(
        sig,
        &FlowShape {
            src2dst_packets: 60,
            dst2src_packets: 60,
            payload_bytes: 9000,
            duration_us: 3_000_000,
        },
    );
    assert!(r.app_protocol.is_some() || r.source.is_some());
    let _ = c.take_learned();
});
