#![no_main]
//! A port-rule TOML file: parse errors must point at a line of the text.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pathlens_fuzz::check_port_rules(data);
});
