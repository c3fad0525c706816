//! The native pcapng reader over fuzzed files.

use pathlens::source::PcapngBlocks;

/// Frames read (time, wire length, bytes) and the error that ended the read.
type Read = (Vec<(i64, u32, Vec<u8>)>, Option<String>);

/// Reads `data` as a pcapng file (Ethernet) twice, mapped and read in
/// blocks: both reads agree frame by frame and on how they end, every
/// frame's bytes are at most its wire length and the largest snap length,
/// and they lie in the file. Returns the frames read.
pub fn check_pcapng(data: &[u8]) -> Option<usize> {
    let path = std::env::temp_dir().join(format!(
        "pathlens-fuzz-pcapng-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, data).ok()?;
    let mapped = read(&path, true);
    let blocks = read(&path, false);
    let _ = std::fs::remove_file(&path);
    let (mapped, blocks) = (mapped?, blocks?);
    assert_eq!(mapped, blocks, "mapped and block reads differ");
    let mut bytes = 0usize;
    for (_, wire, frame) in &mapped.0 {
        assert!(
            frame.len() <= *wire as usize,
            "more bytes than the wire length"
        );
        assert!(frame.len() <= 262_144, "frame over the largest snap length");
        bytes += frame.len();
    }
    assert!(bytes <= data.len(), "frames hold more bytes than the file");
    Some(mapped.0.len())
}

fn read(path: &std::path::Path, map: bool) -> Option<Read> {
    let file = std::fs::File::open(path).ok()?;
    let mut r = PcapngBlocks::with_map(file, 1, map);
    let mut frames = Vec::new();
    loop {
        match r.next_frame() {
            Ok(Some(f)) => frames.push((f.ts_us, f.wire_len, f.data.to_vec())),
            Ok(None) => return Some((frames, None)),
            Err(e) => return Some((frames, Some(e))),
        }
    }
}
