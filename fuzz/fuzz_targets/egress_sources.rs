//! The egress prefix sources and config files users hand pathlens: the
//! Office 365 JSON, plain CIDR lists, service tags, the call-flow table and
//! the site config never panic, and an error always names a line within the
//! text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pathlens_classify::egress::callflow::CallFlow;
use pathlens_classify::egress::sources::{parse_cidr_list, parse_o365, parse_service_tags};
use pathlens_classify::egress::{EgressDbBuilder, O365Advertised};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.lines().count().max(1);
    let check = |e: &pathlens_classify::egress::EgressError| assert!(e.line <= lines + 1, "{e}");
    let mut b = EgressDbBuilder::default();
    // Building the lookup table costs two 65,536-bucket indexes: only when
    // some source parsed, or most inputs would be spent building empty ones.
    let mut parsed = false;
    match parse_o365(text, "f") {
        Ok(sets) => {
            parsed = true;
            b.add_o365("o365", sets, &O365Advertised::All);
        }
        Err(e) => check(&e),
    }
    match parse_cidr_list(text, "f") {
        Ok(items) => {
            parsed |= !items.is_empty();
            b.add_cidrs("list", items, true);
        }
        Err(e) => check(&e),
    }
    match parse_service_tags(text, "f") {
        Ok(tags) => {
            parsed = true;
            b.add_service_tags("tags", tags, false);
        }
        Err(e) => check(&e),
    }
    if parsed {
        let db = b.build();
        let _ = db.lookup(std::net::IpAddr::from([52, 112, 0, 1]));
    }
    if let Err(e) = CallFlow::parse(text, "f") {
        check(&e);
    }
    if let Err(e) = pathlens::config::parse(text, "f") {
        check(&e);
    }
});
