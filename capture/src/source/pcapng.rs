//! pcapng files read without libpcap: the blocks that carry packets
//! (enhanced, simple and the obsolete packet block) walked in place on a
//! [`BlockFile`], frames borrowed from it, as the classic pcap reader does.
//!
//! It reads what libpcap 1.10 reads: sections in either byte order, each
//! with its own interfaces; per-interface time resolution (`if_tsresol`,
//! decimal or binary) and offset (`if_tsoffset`); records longer than the
//! first interface's snap length cut to it; blocks it does not know
//! skipped. Where libpcap refuses a file (an interface of another link type
//! or snap length than the first, a packet on an interface never described, a block cut
//! short) it stops at the same record with an error.

use super::blocks::{u32_at, BlockFile, MAX_SNAPLEN};
use crate::source::Frame;

/// Section header block: its type reads the same in both byte orders.
const SHB: u32 = 0x0A0D_0D0A;
/// Interface description block.
const IDB: u32 = 1;
/// The obsolete packet block.
const PB: u32 = 2;
/// Simple packet block.
const SPB: u32 = 3;
/// Enhanced packet block.
const EPB: u32 = 6;
/// The largest block accepted; libpcap's own limit is of the same order.
const MAX_BLOCK: u32 = 16 << 20;

/// What a packet needs of its interface.
#[derive(Clone, Copy, Debug)]
struct Interface {
    /// Time units per second.
    units: u64,
    /// Seconds added to every time stamp.
    offset: i64,
}

/// pcapng blocks read from a [`BlockFile`].
pub struct PcapngBlocks {
    pub(super) bytes: BlockFile,
    big_endian: bool,
    interfaces: Vec<Interface>,
    // libpcap's snapshot: the first interface's snap length (0: the largest).
    snaplen: Option<u32>,
    pub(super) dlt: i32,
}

impl PcapngBlocks {
    /// A pcapng file (of link type `dlt`, as libpcap reported it when it
    /// checked the first section), mapped when it is a regular file.
    pub fn new(file: std::fs::File, dlt: i32) -> Self {
        Self::with_map(file, dlt, true)
    }

    /// As [`PcapngBlocks::new`], mapping the file only when `map` says so.
    pub fn with_map(file: std::fs::File, dlt: i32, map: bool) -> Self {
        PcapngBlocks {
            bytes: BlockFile::new(file, 0, map),
            big_endian: false,
            interfaces: Vec::new(),
            snaplen: None,
            dlt,
        }
    }

    /// The byte offset of the next block.
    pub fn position(&self) -> u64 {
        self.bytes.offset()
    }

    /// The next packet, `Ok(None)` at the end; the error says why reading stopped.
    ///
    /// # Errors
    /// A block is cut short or malformed, or a packet names no interface.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        loop {
            self.bytes.tend();
            let got = self.bytes.fill(12)?;
            if got == 0 {
                return Ok(None);
            }
            if got < 12 {
                return Err(truncated(12, got));
            }
            let head = self.bytes.unread();
            let kind = u32_at(head, 0, self.big_endian);
            if kind == SHB {
                self.big_endian = match head.get(8..12) {
                    Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                    Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                    _ => return Err("libpcap error: unknown byte order in section header".into()),
                };
            }
            let len = u32_at(head, 4, self.big_endian);
            if len < 12 {
                return Err(format!(
                    "libpcap error: block in pcapng dump file has a length of {len} < 12"
                ));
            }
            if !len.is_multiple_of(4) {
                return Err(format!("libpcap error: block in pcapng dump file has a length of {len} that is not a multiple of 4"));
            }
            if len > MAX_BLOCK {
                return Err(format!(
                    "libpcap error: pcapng block size {len} > maximum {MAX_BLOCK}"
                ));
            }
            let got = self.bytes.fill(len as usize)?;
            if got < len as usize {
                return Err(truncated(len as usize, got));
            }
            let start = self.bytes.at;
            self.bytes.at += len as usize;
            self.bytes.fetch_ahead();
            let body = start + 8..start + len as usize - 4;
            match kind {
                SHB => self.section(body)?,
                IDB => self.interface(body)?,
                EPB | PB | SPB => return self.packet(kind, body).map(Some),
                _ => {}
            }
        }
    }

    /// A new section: its interfaces are its own.
    fn section(&mut self, body: std::ops::Range<usize>) -> Result<(), String> {
        let b = self.bytes.buf.get(body).unwrap_or(&[]);
        let major = b.get(4..6).map_or(0, |v| u16_of(v, self.big_endian));
        if major != 1 {
            return Err(format!(
                "libpcap error: unsupported pcapng savefile version {major}"
            ));
        }
        self.interfaces.clear();
        Ok(())
    }

    /// An interface: its link type must be the file's, as libpcap requires.
    fn interface(&mut self, body: std::ops::Range<usize>) -> Result<(), String> {
        let be = self.big_endian;
        let b = self.bytes.buf.get(body).unwrap_or(&[]);
        if b.len() < 8 {
            return Err(too_short(IDB));
        }
        let link = i32::from(b.get(0..2).map_or(0, |v| u16_of(v, be)));
        if link != self.dlt {
            return Err(format!("libpcap error: an interface has a type {link} different from the type of the first interface"));
        }
        let snaplen = u32_at(b, 4, be);
        if *self.snaplen.get_or_insert(snaplen) != snaplen {
            return Err(format!("libpcap error: an interface has a snapshot length {snaplen} different from the snapshot length of the first interface"));
        }
        let mut iface = Interface {
            units: 1_000_000,
            offset: 0,
        };
        let mut opts = b.get(8..).unwrap_or(&[]);
        while opts.len() >= 4 {
            let code = u16_of(&opts[..2], be);
            let olen = usize::from(u16_of(&opts[2..4], be));
            let Some(value) = opts.get(4..4 + olen) else {
                break;
            };
            match code {
                0 => break,
                9 => iface.units = resolution(value)?,
                14 => {
                    let v: [u8; 8] = value.try_into().map_err(|_| {
                        format!("libpcap error: if_tsoffset option has length {olen} != 8")
                    })?;
                    iface.offset = if be {
                        i64::from_be_bytes(v)
                    } else {
                        i64::from_le_bytes(v)
                    };
                }
                _ => {}
            }
            opts = opts.get(4 + olen.div_ceil(4) * 4..).unwrap_or(&[]);
        }
        self.interfaces.push(iface);
        Ok(())
    }

    /// The frame a packet block carries.
    fn packet(&self, kind: u32, body: std::ops::Range<usize>) -> Result<Frame<'_>, String> {
        let be = self.big_endian;
        let whole = &self.bytes.buf;
        let b = whole.get(body.clone()).unwrap_or(&[]);
        // (interface, time, captured, original, where the data starts)
        let (iface, t, caplen, len, data_at) = match kind {
            SPB => {
                if b.len() < 4 {
                    return Err(too_short(kind));
                }
                let len = u32_at(b, 0, be);
                let snap = self.snapshot();
                (0, 0u64, len.min(snap), len, 4)
            }
            _ => {
                if b.len() < 20 {
                    return Err(too_short(kind));
                }
                let iface = if kind == EPB {
                    u32_at(b, 0, be)
                } else {
                    u32::from(u16_of(&b[..2], be))
                };
                let t = u64::from(u32_at(b, 4, be)) << 32 | u64::from(u32_at(b, 8, be));
                (iface, t, u32_at(b, 12, be), u32_at(b, 16, be), 20)
            }
        };
        let Some(info) = self.interfaces.get(iface as usize) else {
            return Err(format!("libpcap error: a packet arrived on interface {iface}, but there's no Interface Description Block for that interface"));
        };
        if caplen > MAX_SNAPLEN {
            return Err(format!(
                "libpcap error: invalid packet capture length {caplen}, bigger than maximum of {MAX_SNAPLEN}"
            ));
        }
        if data_at + caplen as usize > b.len() {
            return Err(too_short(kind));
        }
        let kept = caplen.min(self.snapshot());
        let start = body.start + data_at;
        Ok(Frame {
            ts_us: micros(t, *info),
            wire_len: len.max(kept),
            data: whole.get(start..start + kept as usize).unwrap_or(&[]),
            block: Some(whole),
        })
    }

    /// The snap length records are cut to.
    fn snapshot(&self) -> u32 {
        match self.snaplen {
            Some(s) if s != 0 && s <= MAX_SNAPLEN => s,
            _ => MAX_SNAPLEN,
        }
    }
}

/// An `if_tsresol` value as units per second: 10^n, or 2^n with the top bit set.
fn resolution(value: &[u8]) -> Result<u64, String> {
    let &[v] = value else {
        return Err(format!(
            "libpcap error: if_tsresol option has length {} != 1",
            value.len()
        ));
    };
    let exp = u32::from(v & 0x7f);
    let units = if v & 0x80 != 0 {
        1u64.checked_shl(exp).filter(|_| exp < 64)
    } else {
        10u64.checked_pow(exp)
    };
    units.ok_or_else(|| format!("libpcap error: if_tsresol {v} is too large"))
}

/// A time stamp in µs since the epoch, truncated as libpcap truncates it.
fn micros(t: u64, iface: Interface) -> i64 {
    let sec = t / iface.units;
    let frac = u128::from(t % iface.units) * 1_000_000 / u128::from(iface.units);
    let sec = i64::try_from(sec)
        .unwrap_or(i64::MAX)
        .saturating_add(iface.offset);
    sec.saturating_mul(1_000_000)
        .saturating_add(i64::try_from(frac).unwrap_or(0))
}

fn u16_of(b: &[u8], big_endian: bool) -> u16 {
    let w = [
        b.first().copied().unwrap_or(0),
        b.get(1).copied().unwrap_or(0),
    ];
    if big_endian {
        u16::from_be_bytes(w)
    } else {
        u16::from_le_bytes(w)
    }
}

fn truncated(want: usize, got: usize) -> String {
    format!("libpcap error: truncated pcapng dump file; tried to read {want} bytes, only got {got}")
}

fn too_short(kind: u32) -> String {
    format!("libpcap error: block of type {kind} in pcapng dump file is too short")
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;
    use crate::source::{sniff_format, Format};
    use std::path::{Path, PathBuf};

    /// Every frame (time, wire length, bytes) and whether reading ended in an error.
    type Read = (Vec<(i64, u32, Vec<u8>)>, bool);

    /// What libpcap reads from `path`, and whether it ended in an error.
    fn via_libpcap(path: &Path) -> Read {
        let (frames, err) = crate::source::blocks::test::via_libpcap(path);
        (frames, err.is_some())
    }

    fn via_native(path: &Path, map: bool) -> Read {
        let dlt = pcap::Capture::from_file(path).unwrap().get_datalink().0;
        let mut r = PcapngBlocks::with_map(std::fs::File::open(path).unwrap(), dlt, map);
        assert_eq!(r.bytes.mapped, map);
        // A small block so blocks straddle refills.
        r.bytes.block_bytes = 1000;
        let mut v = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Some(f)) => v.push((f.ts_us, f.wire_len, f.data.to_vec())),
                Ok(None) => return (v, false),
                Err(_) => return (v, true),
            }
        }
    }

    /// Builds pcapng files block by block in one byte order.
    struct Ng {
        be: bool,
        out: Vec<u8>,
    }

    impl Ng {
        fn new(be: bool) -> Self {
            Ng {
                be,
                out: Vec::new(),
            }
        }
        fn w32(&self, v: u32) -> [u8; 4] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn w16(&self, v: u16) -> [u8; 2] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn block(&mut self, kind: u32, body: &[u8]) -> &mut Self {
            let pad = body.len().div_ceil(4) * 4 - body.len();
            let len = (12 + body.len() + pad) as u32;
            let mut b = self.w32(kind).to_vec();
            b.extend(self.w32(len));
            b.extend_from_slice(body);
            b.extend(std::iter::repeat_n(0, pad));
            b.extend(self.w32(len));
            self.out.extend(b);
            self
        }
        fn shb(&mut self) -> &mut Self {
            let mut b = self.w32(0x1a2b_3c4d).to_vec();
            b.extend(self.w16(1));
            b.extend(self.w16(0));
            b.extend([0xff; 8]);
            self.block(SHB, &b)
        }
        /// An interface with options (code, value).
        fn idb(&mut self, link: u16, snap: u32, opts: &[(u16, Vec<u8>)]) -> &mut Self {
            let mut b = self.w16(link).to_vec();
            b.extend([0, 0]);
            b.extend(self.w32(snap));
            for (code, v) in opts {
                b.extend(self.w16(*code));
                b.extend(self.w16(v.len() as u16));
                b.extend(v);
                b.extend(std::iter::repeat_n(0, v.len().div_ceil(4) * 4 - v.len()));
            }
            if !opts.is_empty() {
                b.extend([0; 4]);
            }
            self.block(IDB, &b)
        }
        fn epb(&mut self, iface: u32, t: u64, caplen: u32, len: u32, fill: u8) -> &mut Self {
            let mut b = self.w32(iface).to_vec();
            b.extend(self.w32((t >> 32) as u32));
            b.extend(self.w32(t as u32));
            b.extend(self.w32(caplen));
            b.extend(self.w32(len));
            b.extend(std::iter::repeat_n(fill, caplen as usize));
            self.block(EPB, &b)
        }
        fn pb(&mut self, iface: u16, t: u64, caplen: u32, fill: u8) -> &mut Self {
            let mut b = self.w16(iface).to_vec();
            b.extend(self.w16(0));
            b.extend(self.w32((t >> 32) as u32));
            b.extend(self.w32(t as u32));
            b.extend(self.w32(caplen));
            b.extend(self.w32(caplen));
            b.extend(std::iter::repeat_n(fill, caplen as usize));
            self.block(PB, &b)
        }
        fn spb(&mut self, len: u32, fill: u8) -> &mut Self {
            let mut b = self.w32(len).to_vec();
            b.extend(std::iter::repeat_n(fill, len as usize));
            self.block(SPB, &b)
        }
    }

    /// Cases libpcap must read the same as the native reader: both byte
    /// orders, several interfaces and resolutions, blocks it skips, a
    /// second section in the other byte order, and the files it refuses
    /// part way.
    fn generated(dir: &Path) -> Vec<PathBuf> {
        let ns = vec![9u8];
        let bin = vec![0x80 | 20];
        let ms = vec![3u8];
        let offset = 3600i64.to_le_bytes().to_vec();
        let mut files = Vec::new();
        let mut put = |name: &str, ng: &Ng| {
            let p = dir.join(format!("{name}.pcapng"));
            std::fs::write(&p, &ng.out).unwrap();
            files.push(p);
        };
        for be in [false, true] {
            let mut ng = Ng::new(be);
            let off = if be {
                3600i64.to_be_bytes().to_vec()
            } else {
                offset.clone()
            };
            ng.shb()
                .idb(1, 65535, &[])
                .idb(1, 65535, &[(9, ns.clone())])
                .idb(1, 65535, &[(9, bin.clone()), (14, off)])
                .idb(1, 65535, &[(2, b"eth0".to_vec()), (9, ms.clone())])
                .epb(0, 1_700_000_000_123_456, 60, 60, 1)
                .epb(1, 1_700_000_000_123_456_789, 70, 1500, 2)
                .block(4, &[0; 16]) // name resolution: skipped
                .epb(2, (1_700_000_000u64 << 20) + 777_777, 80, 80, 3)
                .epb(3, 1_700_000_000_999, 90, 90, 4)
                .spb(100, 5)
                .pb(1, 1_700_000_001_000_000_001, 40, 6)
                .block(5, &[0; 20]) // statistics: skipped
                .block(0x0000_0BAD, &[1, 2, 3, 4]); // custom: skipped
            put(if be { "be" } else { "le" }, &ng);
        }
        // A second section: its interfaces restart. In the same byte order,
        // then in the other (see `sections_in_either_byte_order`).
        for (name, other) in [("two-sections", false), ("swapped-sections", true)] {
            let mut a = Ng::new(false);
            a.shb().idb(1, 65535, &[]).epb(0, 5_000_000, 60, 60, 1);
            let mut b = Ng::new(other);
            b.shb()
                .idb(1, 65535, &[(9, ns.clone())])
                .epb(0, 6_000_000_000, 60, 60, 2);
            a.out.extend(&b.out);
            put(name, &a);
        }
        // A snap length: longer records are cut to it.
        let mut ng = Ng::new(false);
        ng.shb().idb(1, 64, &[]).epb(0, 1, 200, 200, 1).spb(300, 2);
        put("snap", &ng);
        // Refused part way: an interface of another link type, a packet on
        // an interface never described, a block cut short.
        let mut ng = Ng::new(false);
        ng.shb()
            .idb(1, 65535, &[])
            .epb(0, 1, 60, 60, 1)
            .idb(101, 65535, &[])
            .epb(1, 2, 60, 60, 2);
        put("other-link", &ng);
        let mut ng = Ng::new(false);
        ng.shb()
            .idb(1, 65535, &[])
            .epb(0, 1, 60, 60, 1)
            .idb(1, 0, &[])
            .epb(1, 2, 60, 60, 2);
        put("other-snap", &ng);
        let mut ng = Ng::new(false);
        ng.shb()
            .idb(1, 65535, &[])
            .epb(0, 1, 60, 60, 1)
            .epb(7, 2, 60, 60, 2);
        put("no-interface", &ng);
        let mut ng = Ng::new(false);
        ng.shb()
            .idb(1, 65535, &[])
            .epb(0, 1, 60, 60, 1)
            .epb(0, 2, 60, 60, 2);
        ng.out.truncate(ng.out.len() - 30);
        put("cut", &ng);
        files
    }

    /// The native reader must read exactly the frames libpcap reads, or
    /// the rows of a pcapng would depend on which reader ran.
    #[test]
    fn native_pcapng_reads_what_libpcap_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus/pcap"),
        )
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(sniff_format(p), Ok(Some(Format::Pcapng))))
        .collect();
        assert!(files.len() >= 10, "corpus pcapng files: {}", files.len());
        files.extend(
            generated(dir.path())
                .into_iter()
                .filter(|p| !p.ends_with("swapped-sections.pcapng") && !p.ends_with("snap.pcapng")),
        );
        let mut frames = 0;
        for (p, map) in files.iter().flat_map(|p| [(p, true), (p, false)]) {
            let (a, b) = (via_libpcap(p), via_native(p, map));
            assert_eq!(a.0.len(), b.0.len(), "{} map {map}", p.display());
            for (i, (x, y)) in a.0.iter().zip(&b.0).enumerate() {
                assert!(
                    x == y,
                    "{} map {map} frame {i}: libpcap {:?} native {:?}",
                    p.display(),
                    (x.0, x.1, x.2.len()),
                    (y.0, y.1, y.2.len())
                );
            }
            assert_eq!(a.1, b.1, "{} map {map}: error at the end", p.display());
            frames += a.0.len();
        }
        assert!(frames > 1000, "frames compared: {frames}");
    }

    /// Each section of a pcapng file has its own byte order (the section
    /// header's byte-order magic, draft-ietf-opsawg-pcapng section 4.1), as
    /// when captures of a little- and a big-endian host are concatenated.
    /// libpcap 1.10 reads the second section's header in the first one's
    /// byte order, finds a block of 469,762,048 bytes and stops; the bytes
    /// say the second section is well formed, so its packet is read.
    #[test]
    fn sections_in_either_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let files = generated(dir.path());
        let p = files
            .iter()
            .find(|p| p.ends_with("swapped-sections.pcapng"))
            .unwrap();
        let native = via_native(p, true);
        assert_eq!(native.0.len(), 2);
        assert!(!native.1);
        assert_eq!(
            native.0[1].0, 6_000_000,
            "nanoseconds in the second section"
        );
        assert_eq!(native.0[1].2, vec![2; 60]);
        let libpcap = via_libpcap(p);
        assert!(libpcap.0.len() <= 2, "libpcap {}", libpcap.0.len());
        assert_eq!(libpcap.0.first(), native.0.first());
    }

    /// An enhanced packet block whose captured length exceeds its
    /// interface's snap length: libpcap 1.10 stops the whole file there
    /// ("invalid packet capture length 200, bigger than snaplen of 64"),
    /// losing every later packet, while tshark shows all 200 bytes. The
    /// record is complete in the file, so it is read and cut to the snap
    /// length, as libpcap cuts such records of classic pcap, and reading
    /// goes on (the simple packet block after it is cut the same way).
    #[test]
    fn records_over_the_snap_length_are_cut_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let files = generated(dir.path());
        let p = files.iter().find(|p| p.ends_with("snap.pcapng")).unwrap();
        let native = via_native(p, true);
        assert!(!native.1);
        let got: Vec<(u32, usize)> = native.0.iter().map(|f| (f.1, f.2.len())).collect();
        assert_eq!(got, [(200, 64), (300, 64)]);
        let libpcap = via_libpcap(p);
        assert!(
            libpcap.1 && libpcap.0.is_empty(),
            "libpcap now reads it: compare again"
        );
    }

    /// The generated cases hold what they claim: the resolutions and the
    /// offset give the times written, and the refused files stop where
    /// libpcap stops.
    #[test]
    fn resolutions_offsets_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let files = generated(dir.path());
        let le = via_native(&files[0], true);
        let ts: Vec<i64> = le.0.iter().map(|f| f.0).collect();
        assert_eq!(
            ts,
            [
                1_700_000_000_123_456,
                1_700_000_000_123_456,
                (1_700_000_000 + 3600) * 1_000_000 + 741_745,
                1_700_000_000_999_000,
                0,
                1_700_000_001_000_000,
            ]
        );
        assert!(!le.1);
        for (name, frames) in [
            ("other-link", 1),
            ("other-snap", 1),
            ("no-interface", 1),
            ("cut", 1),
        ] {
            let p = files
                .iter()
                .find(|p| p.ends_with(format!("{name}.pcapng")))
                .unwrap();
            let r = via_native(p, true);
            assert_eq!((r.0.len(), r.1), (frames, true), "{name}");
        }
    }
}
