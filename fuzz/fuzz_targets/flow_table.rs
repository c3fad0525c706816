#![no_main]
//! A sequence of synthetic packets (6-byte configuration header, then
//! 8 bytes per packet) through a small flow table with short timeouts;
//! packets, bytes and payload bytes in must equal those out after a flush.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pathlens_fuzz::check_flow_table(data);
});
