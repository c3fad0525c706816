//! Capture files read without libpcap: mapped whole, or in large blocks
//! for pipes, with frames borrowed from the block. Classic pcap records
//! here, pcapng blocks in `pcapng.rs`.

use crate::source::Frame;

/// A block of a capture file, shared by the batches that point into it.
pub type Block = std::sync::Arc<BlockBytes>;

/// The bytes of a block: read into memory, or the whole file mapped.
pub enum BlockBytes {
    /// Read with `read`, refilled when no batch holds it.
    Heap(Vec<u8>),
    /// The whole file, mapped read-only.
    Mapped(memmap2::Mmap),
}

impl Default for BlockBytes {
    fn default() -> Self {
        BlockBytes::Heap(Vec::new())
    }
}

impl std::ops::Deref for BlockBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            BlockBytes::Heap(v) => v,
            BlockBytes::Mapped(m) => m,
        }
    }
}

impl std::fmt::Debug for BlockBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            BlockBytes::Heap(_) => "heap",
            BlockBytes::Mapped(_) => "mapped",
        };
        write!(f, "{kind} block of {} bytes", self.len())
    }
}

impl BlockBytes {
    fn heap_mut(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            BlockBytes::Heap(v) => Some(v),
            BlockBytes::Mapped(_) => None,
        }
    }
}

/// Bytes read from the file at a time.
const BLOCK_BYTES: usize = 4 << 20;
/// Blocks kept for reuse (the ones batches hold are not written again).
const MAX_SPARE_BLOCKS: usize = 16;
/// How far behind the reader mapped pages stay resident.
const RELEASE_BEHIND: usize = 16 << 20;
/// How far ahead of the reader mapped pages are made resident at once.
const POPULATE_AHEAD: usize = 8 << 20;
/// How far ahead of the reader the file's cache lines are fetched: the
/// next records' headers and bytes are then in cache when they are read
/// (the hardware prefetcher stops at every 4 KiB page; a load of a record
/// header missed the cache at nearly every record).
const FETCH_AHEAD: usize = 4096;
/// libpcap's largest snap length for the link types pathlens decodes.
pub(super) const MAX_SNAPLEN: u32 = 262_144;

/// A capture file's bytes, mapped whole or read in large blocks, from
/// which records are borrowed: one `read` per 4 MiB (or none at all)
/// instead of two buffered reads and a copy per record.
pub(super) struct BlockFile {
    file: std::fs::File,
    // Never written once a frame has been lent from it: a refill moves on
    // to a block no batch holds any more (or a new one).
    pub(super) buf: Block,
    spare: Vec<Block>,
    pub(super) block_bytes: usize,
    // Unread bytes are buf[at..end].
    pub(super) at: usize,
    end: usize,
    // The file offset of buf[0].
    base: u64,
    // The whole file is `buf`: nothing to read, nothing copied.
    pub(super) mapped: bool,
    // Mapped bytes before this offset are released from the resident set.
    pub(super) released: usize,
    // Mapped bytes before this offset are resident (or were asked to be).
    pub(super) populated: usize,
    // The offset at which the two above are next looked at.
    upkeep_at: usize,
    // Bytes of `buf` before this offset were asked into the cache.
    fetched: usize,
}

impl BlockFile {
    /// The rest of `file`, of which `read` bytes were already read: mapped
    /// when `map` says so and the file is regular, else read in blocks.
    pub(super) fn new(file: std::fs::File, read: usize, map: bool) -> Self {
        // A regular file is mapped: the kernel then hands its page-cache
        // pages over instead of copying every byte into a buffer, which
        // was the largest single cost of reading.
        let map = map
            .then(|| crate::os::map_file(&file))
            .flatten()
            .filter(|m| m.len() >= read);
        let (buf, at, end, base, mapped) = match map {
            Some(m) => {
                let end = m.len();
                (Block::new(BlockBytes::Mapped(m)), read, end, 0, true)
            }
            None => (Block::default(), 0, 0, read as u64, false),
        };
        BlockFile {
            file,
            buf,
            spare: Vec::new(),
            block_bytes: BLOCK_BYTES,
            at,
            end,
            base,
            mapped,
            released: 0,
            populated: 0,
            upkeep_at: 0,
            fetched: 0,
        }
    }

    /// Asks the cache for the lines up to [`FETCH_AHEAD`] past the reader.
    #[inline]
    pub(super) fn fetch_ahead(&mut self) {
        let buf: &[u8] = &self.buf;
        let to = (self.at + FETCH_AHEAD).min(self.end);
        let mut at = self.fetched.max(self.at);
        while at < to {
            crate::os::prefetch(buf, at);
            at += 64;
        }
        self.fetched = at;
    }

    /// The unread bytes (at least what the last [`BlockFile::fill`] made available).
    #[inline]
    pub(super) fn unread(&self) -> &[u8] {
        self.buf.get(self.at..self.end).unwrap_or(&[])
    }

    /// The file offset of the first unread byte.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.at as u64
    }

    /// Keeps the mapped window around the reader when it is due.
    #[inline]
    pub(super) fn tend(&mut self) {
        if self.mapped && self.at >= self.upkeep_at {
            self.upkeep();
        }
    }

    /// Makes at least `n` unread bytes available unless the file ends
    /// first; returns how many there are.
    pub(super) fn fill(&mut self, n: usize) -> Result<usize, String> {
        use std::io::Read;
        if self.end - self.at >= n || self.mapped {
            return Ok(self.end - self.at);
        }
        let size = self.block_bytes.max(n);
        let free = self
            .spare
            .iter()
            .position(|b| std::sync::Arc::strong_count(b) == 1 && b.len() >= size);
        let mut next = match free {
            Some(i) => self.spare.swap_remove(i),
            None => Block::new(BlockBytes::Heap(vec![0; size])),
        };
        let tail = self.end - self.at;
        if let (Some(dst), Some(src)) = (
            std::sync::Arc::get_mut(&mut next)
                .and_then(BlockBytes::heap_mut)
                .and_then(|b| b.get_mut(..tail)),
            self.buf.get(self.at..self.end),
        ) {
            dst.copy_from_slice(src);
        }
        let old = std::mem::replace(&mut self.buf, next);
        // Blocks batches still hold come back once they are dropped.
        if old.len() >= size && self.spare.len() < MAX_SPARE_BLOCKS {
            self.spare.push(old);
        }
        self.end = tail;
        self.base += self.at as u64;
        self.at = 0;
        self.fetched = 0;
        let Some(buf) = std::sync::Arc::get_mut(&mut self.buf).and_then(BlockBytes::heap_mut)
        else {
            return Ok(self.end);
        };
        while self.end < n {
            let free = buf.get_mut(self.end..).unwrap_or(&mut []);
            match self.file.read(free) {
                Ok(0) => break,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("libpcap error: error reading dump file: {e}")),
            }
        }
        Ok(self.end - self.at)
    }

    /// Keeps the mapped file's resident window around the reader: pages
    /// read long ago leave the resident set (which would otherwise grow to
    /// the file's size; batches still in flight sit far less than this
    /// behind), and the pages ahead are mapped in one call per window
    /// rather than one page fault per 16 pages, which cost 12% of the
    /// reader's time on this VM.
    fn upkeep(&mut self) {
        let BlockBytes::Mapped(m) = &*self.buf else {
            return;
        };
        if self.at - self.released >= 2 * RELEASE_BEHIND {
            let upto = self.at - RELEASE_BEHIND;
            crate::os::release_mapped(m, self.released, upto);
            self.released = upto;
        }
        if self.populated < m.len() {
            let upto = (self.at + POPULATE_AHEAD).min(m.len()).max(self.populated);
            crate::os::populate_mapped(m, self.populated, upto);
            self.populated = upto;
        }
        self.upkeep_at = self.at + POPULATE_AHEAD / 2;
    }
}

/// Classic pcap records read from a [`BlockFile`], borrowed from its block.
/// It reads records exactly as libpcap does (32-bit times signed
/// in the host's byte order, unsigned in the other,
/// nanoseconds scaled down to µs, records longer than the file's snap
/// length cut to it, the same messages for a cut or corrupt file).
pub struct PcapBlocks {
    pub(super) bytes: BlockFile,
    big_endian: bool,
    nanos: bool,
    snaplen: u32,
    pub(super) dlt: i32,
}

impl PcapBlocks {
    /// Reads the global header of `file` (of link type `dlt`, as libpcap
    /// reported it when it checked the header).
    ///
    /// # Errors
    /// The header cannot be read.
    pub fn new(file: std::fs::File, dlt: i32) -> std::io::Result<Self> {
        Self::with_map(file, dlt, true)
    }

    /// As [`PcapBlocks::new`], mapping the file only when `map` says so.
    fn with_map(mut file: std::fs::File, dlt: i32, map: bool) -> std::io::Result<Self> {
        use std::io::Read;
        let mut h = [0u8; 24];
        file.read_exact(&mut h)?;
        let (big_endian, nanos) = match h.get(..4) {
            Some([0xa1, 0xb2, 0xc3, 0xd4]) => (true, false),
            Some([0xa1, 0xb2, 0x3c, 0x4d]) => (true, true),
            Some([0x4d, 0x3c, 0xb2, 0xa1]) => (false, true),
            _ => (false, false),
        };
        let snaplen = u32_at(&h, 16, big_endian);
        Ok(PcapBlocks {
            bytes: BlockFile::new(file, 24, map),
            big_endian,
            nanos,
            // As libpcap: a missing or oversized snap length means the largest.
            snaplen: if snaplen == 0 || snaplen > MAX_SNAPLEN {
                MAX_SNAPLEN
            } else {
                snaplen
            },
            dlt,
        })
    }

    /// The next record, `Ok(None)` at the end; the error is libpcap's message.
    pub(super) fn next(&mut self) -> Result<Option<Frame<'_>>, String> {
        let b = &mut self.bytes;
        b.tend();
        let got = b.fill(16)?;
        if got == 0 {
            return Ok(None);
        }
        if got < 16 {
            return Err(format!(
                "libpcap error: truncated dump file; tried to read 16 header bytes, only got {got}"
            ));
        }
        let h = b.unread();
        let be = self.big_endian;
        // libpcap reads the time fields as signed 32-bit numbers, but its
        // byte swap of a file of the other byte order makes them unsigned.
        let (sec, frac) = (u32_at(h, 0, be), u32_at(h, 4, be));
        let (sec, frac) = if be == cfg!(target_endian = "big") {
            (i64::from(sec as i32), i64::from(frac as i32))
        } else {
            (i64::from(sec), i64::from(frac))
        };
        let caplen = u32_at(h, 8, be);
        let len = u32_at(h, 12, be);
        if caplen > MAX_SNAPLEN {
            return Err(format!(
                "libpcap error: invalid packet capture length {caplen}, bigger than snaplen of {}",
                self.snaplen
            ));
        }
        let need = 16 + caplen as usize;
        let got = b.fill(need)?;
        if got < need {
            return Err(format!(
                "libpcap error: truncated dump file; tried to read {caplen} captured bytes, only got {}",
                got - 16
            ));
        }
        let start = b.at + 16;
        b.at += need;
        b.fetch_ahead();
        // A record longer than the snap length keeps only that much.
        let kept = caplen.min(self.snaplen);
        let usec = if self.nanos { frac / 1000 } else { frac };
        Ok(Some(Frame {
            ts_us: sec.saturating_mul(1_000_000).saturating_add(usec),
            wire_len: len.max(kept),
            data: b.buf.get(start..start + kept as usize).unwrap_or(&[]),
            block: Some(&b.buf),
        }))
    }
}

pub(super) fn u32_at(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

#[cfg(test)]
pub(super) mod test {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;
    use crate::source::{sniff_format, Format, PCAP_MAGICS};
    use std::path::{Path, PathBuf};

    /// Every frame (time, wire length, bytes) and the final error message.
    pub(in crate::source) type Read = (Vec<(i64, u32, Vec<u8>)>, Option<String>);

    /// What libpcap reads from `path` (pcap or pcapng).
    pub(in crate::source) fn via_libpcap(path: &Path) -> Read {
        let mut cap = pcap::Capture::from_file(path).unwrap();
        let mut v = Vec::new();
        loop {
            match cap.next_packet() {
                Ok(p) => v.push((
                    p.header.ts.tv_sec * 1_000_000 + p.header.ts.tv_usec,
                    p.header.len.max(p.header.caplen),
                    p.data.to_vec(),
                )),
                Err(pcap::Error::NoMorePackets) => return (v, None),
                Err(e) => return (v, Some(e.to_string())),
            }
        }
    }

    /// What the block reader reads from `path`, mapped or in small blocks.
    fn via_blocks(path: &Path, map: bool) -> Read {
        let dlt = pcap::Capture::from_file(path).unwrap().get_datalink().0;
        let file = std::fs::File::open(path).unwrap();
        let mut r = PcapBlocks::with_map(file, dlt, map).unwrap();
        assert_eq!(r.bytes.mapped, map);
        // A small block so records straddle refills.
        r.bytes.block_bytes = 1000;
        let mut v = Vec::new();
        loop {
            match r.next() {
                Ok(Some(f)) => v.push((f.ts_us, f.wire_len, f.data.to_vec())),
                Ok(None) => return (v, None),
                Err(e) => return (v, Some(e)),
            }
        }
    }

    fn header(magic: [u8; 4], be: bool, snaplen: u32) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut h = magic.to_vec();
        h.extend_from_slice(&if be { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&w(snaplen));
        h.extend_from_slice(&w(1));
        h
    }

    fn record(be: bool, sec: u32, frac: u32, caplen: u32, len: u32, fill: u8) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut r = Vec::new();
        for v in [sec, frac, caplen, len] {
            r.extend_from_slice(&w(v));
        }
        r.extend(std::iter::repeat_n(fill, caplen as usize));
        r
    }

    /// The block reader must read exactly what libpcap reads, or the rows
    /// of a classic pcap would depend on which reader ran.
    #[test]
    fn blocks_read_what_libpcap_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus/pcap"),
        )
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(sniff_format(p), Ok(Some(Format::Pcap))))
        .collect();
        assert!(files.len() > 20);
        // Both byte orders, µs and ns, times past 2038 (libpcap reads them
        // as signed), a record longer than the snap length (cut to it), a
        // snap length of 0 (the largest), a record over the largest snap
        // length, and files cut inside a record header and inside its data.
        let cases: [(&str, [u8; 4], bool, u32, usize); 8] = [
            ("le-us", PCAP_MAGICS[0], false, 65535, 0),
            ("be-us", PCAP_MAGICS[1], true, 65535, 0),
            ("le-ns", PCAP_MAGICS[2], false, 65535, 0),
            ("be-ns", PCAP_MAGICS[3], true, 65535, 0),
            ("snap", PCAP_MAGICS[0], false, 64, 0),
            ("snap0", PCAP_MAGICS[0], false, 0, 0),
            ("cut-header", PCAP_MAGICS[0], false, 65535, 7),
            ("cut-data", PCAP_MAGICS[0], false, 65535, 30),
        ];
        for (name, magic, be, snap, cut) in cases {
            let mut data = header(magic, be, snap);
            data.extend(record(be, 1_700_000_000, 999_999_999, 60, 60, 1));
            data.extend(record(be, 0xffff_fff0, 5_000, 200, 1500, 2));
            data.extend(record(be, 3, 7, 0, 0, 3));
            data.extend(record(be, 4, 8, 1200, 1000, 4));
            data.truncate(data.len() - cut);
            let p = dir.path().join(format!("{name}.pcap"));
            std::fs::write(&p, &data).unwrap();
            files.push(p);
        }
        let mut big = header(PCAP_MAGICS[0], false, 65535);
        big.extend(record(false, 1, 2, 60, 60, 1));
        big.extend(record(false, 1, 2, MAX_SNAPLEN + 1, MAX_SNAPLEN + 1, 1));
        let p = dir.path().join("huge.pcap");
        std::fs::write(&p, &big).unwrap();
        files.push(p);
        let p = dir.path().join("header-only.pcap");
        std::fs::write(&p, header(PCAP_MAGICS[0], false, 65535)).unwrap();
        files.push(p);
        for (p, map) in files.iter().flat_map(|p| [(p, true), (p, false)]) {
            let (a, b) = (via_libpcap(p), via_blocks(p, map));
            assert_eq!(a.0.len(), b.0.len(), "{} map {map}", p.display());
            for (x, y) in a.0.iter().zip(&b.0) {
                assert!(
                    x == y,
                    "{} map {map}: libpcap {:?} blocks {:?}",
                    p.display(),
                    (x.0, x.1, x.2.len()),
                    (y.0, y.1, y.2.len())
                );
            }
            assert_eq!(a.1, b.1, "{} map {map}", p.display());
        }
    }

    /// Pages released behind the reader are read again if a batch still
    /// points there: a file past the release window reads as libpcap
    /// reads it, and the windows (released behind, populated ahead) did
    /// move.
    #[test]
    fn mapped_reads_past_the_release_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = header(PCAP_MAGICS[0], false, 65535);
        let mut i = 0u32;
        while data.len() < 3 * RELEASE_BEHIND {
            data.extend(record(false, i, 0, 1400, 1400, (i % 251) as u8));
            i += 1;
        }
        let p = dir.path().join("long.pcap");
        std::fs::write(&p, &data).unwrap();
        let dlt = pcap::Capture::from_file(&p).unwrap().get_datalink().0;
        let mut r = PcapBlocks::new(std::fs::File::open(&p).unwrap(), dlt).unwrap();
        assert!(r.bytes.mapped);
        let first = r.next().unwrap().unwrap().data.as_ptr();
        let mut n = 1;
        while let Some(f) = r.next().unwrap() {
            assert_eq!(f.data.len(), 1400);
            assert!(f.data.iter().all(|&b| b == (n % 251) as u8), "record {n}");
            n += 1;
            // The pages ahead were mapped before the reader got there.
            assert!(
                r.bytes.populated >= r.bytes.at.min(data.len()),
                "populated {}",
                r.bytes.populated
            );
        }
        assert_eq!(n, i);
        assert_eq!(r.bytes.populated, data.len());
        assert!(
            r.bytes.released >= RELEASE_BEHIND,
            "released {}",
            r.bytes.released
        );
        // A page released long ago still reads back as the file's bytes.
        let back = r.bytes.buf.get(24 + 16..24 + 16 + 1400).unwrap();
        assert_eq!(back.as_ptr(), first);
        assert!(back.iter().all(|&b| b == 0));
    }
}
