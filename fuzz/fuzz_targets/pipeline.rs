#![no_main]
//! A whole run (reader, 1-2 workers, no output file) over fuzzed frames:
//! every frame must be accounted for and every decoded packet must reach a
//! flow record.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pathlens_fuzz::check_pipeline(data);
});
