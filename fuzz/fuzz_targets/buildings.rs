#![no_main]
//! A CQD building file: any text gives a table or an error naming a line
//! of the text and a column of the format.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["b.csv", "b.tsv", "b"] {
        match pathlens_classify::buildings::parse(text, name) {
            Ok(b) => {
                for row in b.iter() {
                    assert!(row.line >= 1 && row.line <= text.lines().count());
                }
            }
            Err(e) => {
                assert!(e.line >= 1 && e.line <= text.lines().count());
                assert!((1..=15).contains(&e.column));
            }
        }
    }
});
