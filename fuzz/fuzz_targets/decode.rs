#![no_main]
//! A frame of any link type: byte 0 selects the link type and the wire
//! length, the rest is the frame. Checks decode against peel, its invariants,
//! and FragTracker's handling of the result.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pathlens_fuzz::check_decode(data);
});
