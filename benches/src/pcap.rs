//! Classic pcap files (little-endian, microsecond timestamps), written the
//! same way by the bench generator and by the tests' capture generators.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Bytes of the classic pcap global header.
pub const PCAP_GLOBAL_HEADER: u64 = 24;
/// Bytes of a classic pcap record header.
pub const PCAP_RECORD_HEADER: u64 = 16;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// The snap length of the generated bench captures.
pub const BENCH_SNAPLEN: u32 = 262_144;

/// A classic pcap writer (little-endian, microsecond timestamps).
pub struct PcapWriter<W: Write> {
    out: W,
    bytes: u64,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates `path` and writes the global header, buffered by 4 MiB.
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn create(path: &Path, linktype: u32, snaplen: u32) -> io::Result<Self> {
        let f = File::create(path)?;
        PcapWriter::new(BufWriter::with_capacity(4 << 20, f), linktype, snaplen)
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header to `out`.
    ///
    /// # Errors
    /// Writing failed.
    pub fn new(mut out: W, linktype: u32, snaplen: u32) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay zero.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            bytes: PCAP_GLOBAL_HEADER,
        })
    }

    /// Appends one frame captured whole at `ts_us`.
    ///
    /// # Errors
    /// Writing failed.
    #[inline]
    pub fn write_frame(&mut self, ts_us: i64, frame: &[u8]) -> io::Result<()> {
        self.write_frame_cut(ts_us, frame, frame.len())
    }

    /// Appends one frame at `ts_us` whose capture was cut to `caplen` bytes
    /// (the record keeps the frame's whole length as its wire length).
    ///
    /// # Errors
    /// Writing failed.
    #[inline]
    pub fn write_frame_cut(&mut self, ts_us: i64, frame: &[u8], caplen: usize) -> io::Result<()> {
        let kept = frame.get(..caplen).unwrap_or(frame);
        let sec = u32::try_from(ts_us.div_euclid(1_000_000)).unwrap_or(u32::MAX);
        let usec = u32::try_from(ts_us.rem_euclid(1_000_000)).unwrap_or(0);
        let caplen = u32::try_from(kept.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&sec.to_le_bytes());
        h[4..8].copy_from_slice(&usec.to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(kept)?;
        self.bytes += PCAP_RECORD_HEADER + kept.len() as u64;
        Ok(())
    }

    /// Bytes written so far, headers included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the inner writer.
    ///
    /// # Errors
    /// Flushing failed.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A pcap file written by a test: [`PcapWriter`] without results, for code
/// where an I/O error can only fail the test.
///
/// # Panics
/// Every method panics, naming the file, when the file cannot be written.
pub struct PcapFile {
    w: PcapWriter<BufWriter<File>>,
    path: PathBuf,
}

impl PcapFile {
    /// Creates `path` with the given link type and snap length.
    pub fn create(path: &Path, linktype: u32, snaplen: u32) -> Self {
        let w = PcapWriter::create(path, linktype, snaplen)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        PcapFile {
            w,
            path: path.to_path_buf(),
        }
    }

    /// Appends a frame captured in full.
    pub fn frame(&mut self, ts_us: i64, data: &[u8]) {
        self.frame_cut(ts_us, data, data.len());
    }

    /// Appends a frame whose capture is cut to `caplen` bytes.
    pub fn frame_cut(&mut self, ts_us: i64, data: &[u8], caplen: usize) {
        if let Err(e) = self.w.write_frame_cut(ts_us, data, caplen) {
            panic!("writing {}: {e}", self.path.display());
        }
    }

    /// Flushes the file.
    pub fn finish(self) {
        if let Err(e) = self.w.finish() {
            panic!("writing {}: {e}", self.path.display());
        }
    }
}
