//! The tunnel and mirror headers: GRE, ERSPAN II/III, VXLAN, GENEVE, GTP-U,
//! Teredo and AYIYA, each over the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens::decode::tunnel::{self, Encap, Inner, Tunnel};

fn check(data: &[u8], t: Option<Tunnel>) {
    if let Some(t) = t {
        // The inner bytes start inside the slice (or right at its end).
        assert!(t.offset <= data.len(), "{t:?}");
        assert!(t.vlan < 4096);
        if let Inner::EtherType(e) = t.inner {
            assert!(matches!(e, 0x0800 | 0x86dd | 0x8847 | 0x8848), "{e:#x}");
        }
        if matches!(t.encap, Encap::Teredo | Encap::Ayiya) {
            // An IP packet starts at the offset.
            assert!(matches!(data.get(t.offset).map(|v| v >> 4), Some(4 | 6)));
        }
        if matches!(t.encap, Encap::Erspan2 | Encap::Erspan3) {
            assert!(t.id.is_some_and(|s| s < 1024));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, tunnel::gre(data));
    check(data, tunnel::erspan2(data));
    check(data, tunnel::erspan3(data));
    check(data, tunnel::vxlan(data));
    check(data, tunnel::geneve(data));
    check(data, tunnel::gtpu(data));
    check(data, tunnel::teredo(data));
    check(data, tunnel::ayiya(data));
});
