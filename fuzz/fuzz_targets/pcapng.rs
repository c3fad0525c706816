#![no_main]
//! The native pcapng reader over a fuzzed file: mapped and block reads
//! agree, and frames stay inside the file.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pathlens_fuzz::check_pcapng(data);
});
