//! Packet sources behind one trait, so the pipeline runs the same over pcap
//! and pcapng files (libpcap), stdin, or frames a test hands it directly.

use std::path::{Path, PathBuf};

mod blocks;
mod pcapng;
pub use blocks::{Block, BlockBytes, PcapBlocks};
pub use pcapng::PcapngBlocks;

/// One captured frame, borrowed from the source until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Capture time, µs since the epoch.
    pub ts_us: i64,
    /// Original length on the wire.
    pub wire_len: u32,
    /// Captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// The shared block `data` lies in, when the source reads in blocks: a
    /// batch may then keep the block instead of copying payloads out of it.
    pub block: Option<&'a Block>,
}

/// The block of a clock tick: an empty frame pointing at it is no packet
/// but the time a live source hands on while its link is quiet. No file
/// frame can point at it, whatever the file holds.
pub fn tick_block() -> &'static Block {
    static TICK: std::sync::LazyLock<Block> = std::sync::LazyLock::new(Block::default);
    &TICK
}

impl Frame<'_> {
    /// Whether this frame is a clock tick (see [`tick_block`]).
    pub fn is_tick(&self) -> bool {
        self.block
            .is_some_and(|b| std::sync::Arc::ptr_eq(b, tick_block()))
    }
}

/// A source could not be opened or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Opening failed: missing, unreadable, not a capture, bad filter.
    #[error("{name}: {reason}")]
    Open {
        /// The input.
        name: String,
        /// Why.
        reason: String,
    },
    /// The capture's link type is not one pathlens decodes.
    #[error("{name}: unsupported link type {dlt} ({desc}); supported: Ethernet, Linux SLL/SLL2, raw IP, BSD null/loopback, Cisco HDLC")]
    LinkType {
        /// The input.
        name: String,
        /// The DLT number.
        dlt: i32,
        /// libpcap's name for it.
        desc: String,
    },
    /// Reading stopped before the end of the capture.
    #[error("{name}: {reason} at byte offset {offset}")]
    Read {
        /// The input.
        name: String,
        /// libpcap's message.
        reason: String,
        /// Offset of the record that could not be read (end of the last good record).
        offset: u64,
    },
}

/// Where frames come from.
pub trait PacketSource {
    /// The name written to the `interface` column.
    fn name(&self) -> &str;
    /// The libpcap link-type (DLT) number.
    fn datalink(&self) -> i32;
    /// The next frame, `Ok(None)` at the end.
    ///
    /// # Errors
    /// The capture is corrupt or cut mid-record.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError>;
    /// Bytes consumed so far, when the source can tell (progress bars).
    fn position(&mut self) -> Option<u64> {
        None
    }
}

pub(crate) const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The capture format a file's magic number says, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap (µs or ns, either byte order).
    Pcap,
    /// pcapng.
    Pcapng,
}

/// Reads a file's magic number. `None` when it is not a capture.
pub fn sniff_format(path: &Path) -> std::io::Result<Option<Format>> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path)?;
    let mut got = 0;
    while got < 4 {
        let n = f.read(magic.get_mut(got..).unwrap_or(&mut []))?;
        if n == 0 {
            return Ok(None);
        }
        got += n;
    }
    Ok(format_of_magic(magic))
}

/// The capture format four leading bytes announce, if any.
pub fn format_of_magic(magic: [u8; 4]) -> Option<Format> {
    if PCAP_MAGICS.contains(&magic) {
        Some(Format::Pcap)
    } else if magic == PCAPNG_MAGIC {
        Some(Format::Pcapng)
    } else {
        None
    }
}

/// A pcap or pcapng file (or stdin as `-`). Files without a filter are
/// read in place, classic pcap by [`PcapBlocks`] and pcapng by
/// [`PcapngBlocks`]; stdin, pipes and filtered reads go through libpcap.
pub struct PcapFileSource {
    inner: Reader,
    name: String,
    format: Option<Format>,
    // End of the last complete record, exact for classic pcap.
    offset: u64,
    // The pcap_t behind a libpcap reader, kept as an address so the
    // position can be asked while a frame borrowed from it is alive.
    handle: usize,
}

enum Reader {
    Libpcap(Box<pcap::Capture<pcap::Offline>>),
    Blocks(PcapBlocks),
    Ng(PcapngBlocks),
}

impl PcapFileSource {
    /// Opens a capture file, or stdin for `-`, with an optional BPF filter.
    ///
    /// # Errors
    /// The file is missing, unreadable, not a capture, or the filter is invalid.
    pub fn open(path: &Path, filter: Option<&str>) -> Result<Self, SourceError> {
        let name = path.display().to_string();
        let open_err = |reason: String| SourceError::Open {
            name: name.clone(),
            reason,
        };
        let stdin = path == Path::new("-");
        let format = if stdin {
            None
        } else {
            match sniff_format(path) {
                Ok(Some(f)) => Some(f),
                Ok(None) => {
                    return Err(open_err(
                        "not a pcap or pcapng file (unknown magic number)".into(),
                    ))
                }
                Err(e) => return Err(open_err(e.to_string())),
            }
        };
        Self::open_stream(path, name, format, filter)
    }

    /// A capture of `format` and link type `dlt`, already checked, read
    /// from `file` by the block readers (a pipe: in blocks, not mapped).
    ///
    /// # Errors
    /// The classic pcap header cannot be read.
    pub fn in_place(
        file: std::fs::File,
        name: String,
        format: Format,
        dlt: i32,
    ) -> Result<Self, SourceError> {
        let inner = match format {
            Format::Pcap => {
                Reader::Blocks(PcapBlocks::new(file, dlt).map_err(|e| SourceError::Open {
                    name: name.clone(),
                    reason: e.to_string(),
                })?)
            }
            Format::Pcapng => Reader::Ng(PcapngBlocks::new(file, dlt)),
        };
        Ok(PcapFileSource {
            inner,
            name,
            format: Some(format),
            offset: 24,
            handle: 0,
        })
    }

    /// Opens `path` as a capture without reading its magic number first (a
    /// stream such as a pipe, which a first look would consume), named
    /// `name`; `format` is what the caller knows of it.
    ///
    /// # Errors
    /// As [`PcapFileSource::open`].
    pub fn open_stream(
        path: &Path,
        name: String,
        format: Option<Format>,
        filter: Option<&str>,
    ) -> Result<Self, SourceError> {
        let open_err = |reason: String| SourceError::Open {
            name: name.clone(),
            reason,
        };
        // libpcap opens every input, so headers are checked and refused with
        // the same messages whichever reader then reads the records.
        let mut cap = pcap::Capture::from_file(path).map_err(|e| open_err(e.to_string()))?;
        if let Some(expr) = filter {
            cap.filter(expr, true)
                .map_err(|e| open_err(format!("filter {expr:?}: {e}")))?;
        }
        let dlt = cap.get_datalink();
        if crate::link::LinkType::from_dlt(dlt.0).is_none() {
            let desc = dlt.get_name().unwrap_or_else(|_| "unknown".into());
            return Err(SourceError::LinkType {
                name,
                dlt: dlt.0,
                desc,
            });
        }
        let handle = cap.as_ptr() as usize;
        let inner = match (format, filter) {
            (Some(Format::Pcap), None) => {
                let f = std::fs::File::open(path).map_err(|e| open_err(e.to_string()))?;
                Reader::Blocks(PcapBlocks::new(f, dlt.0).map_err(|e| open_err(e.to_string()))?)
            }
            (Some(Format::Pcapng), None) => {
                let f = std::fs::File::open(path).map_err(|e| open_err(e.to_string()))?;
                Reader::Ng(PcapngBlocks::new(f, dlt.0))
            }
            _ => Reader::Libpcap(Box::new(cap)),
        };
        Ok(PcapFileSource {
            inner,
            name,
            format,
            offset: 24,
            handle,
        })
    }
}

impl PacketSource for PcapFileSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn datalink(&self) -> i32 {
        match &self.inner {
            Reader::Libpcap(cap) => cap.get_datalink().0,
            Reader::Blocks(b) => b.dlt,
            Reader::Ng(b) => b.dlt,
        }
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError> {
        let cap = match &mut self.inner {
            Reader::Blocks(b) => {
                return match b.next() {
                    Ok(Some(f)) => {
                        self.offset += 16 + f.data.len() as u64;
                        Ok(Some(f))
                    }
                    Ok(None) => Ok(None),
                    Err(reason) => Err(SourceError::Read {
                        name: self.name.clone(),
                        reason,
                        offset: self.offset,
                    }),
                }
            }
            Reader::Ng(b) => {
                let offset = b.position();
                return b.next_frame().map_err(|reason| SourceError::Read {
                    name: self.name.clone(),
                    reason,
                    offset,
                });
            }
            Reader::Libpcap(cap) => cap,
        };
        match cap.next_packet() {
            Ok(p) => {
                let h = p.header;
                self.offset += 16 + u64::from(h.caplen);
                let ts_us =
                    h.ts.tv_sec
                        .saturating_mul(1_000_000)
                        .saturating_add(h.ts.tv_usec);
                Ok(Some(Frame {
                    ts_us,
                    wire_len: h.len.max(h.caplen),
                    data: p.data,
                    block: None,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => {
                let offset = match self.format {
                    Some(Format::Pcap) => self.offset,
                    _ => crate::os::file_position(self.handle).unwrap_or(0),
                };
                Err(SourceError::Read {
                    name: self.name.clone(),
                    reason: e.to_string(),
                    offset,
                })
            }
        }
    }

    fn position(&mut self) -> Option<u64> {
        match (&self.inner, self.format) {
            (Reader::Ng(b), _) => Some(b.position()),
            (_, Some(Format::Pcap)) => Some(self.offset),
            _ => crate::os::file_position(self.handle),
        }
    }
}

/// Frames held in memory: for tests and benches, no libpcap involved.
pub struct MemorySource {
    name: String,
    dlt: i32,
    frames: std::vec::IntoIter<(i64, u32, Vec<u8>)>,
    current: Vec<u8>,
}

impl MemorySource {
    /// A source of `(ts_us, wire_len, bytes)` frames of one link type.
    pub fn new(name: &str, dlt: i32, frames: Vec<(i64, u32, Vec<u8>)>) -> Self {
        MemorySource {
            name: name.into(),
            dlt,
            frames: frames.into_iter(),
            current: Vec::new(),
        }
    }
}

impl PacketSource for MemorySource {
    fn name(&self) -> &str {
        &self.name
    }

    fn datalink(&self) -> i32 {
        self.dlt
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError> {
        match self.frames.next() {
            Some((ts_us, wire_len, data)) => {
                self.current = data;
                Ok(Some(Frame {
                    ts_us,
                    wire_len,
                    data: &self.current,
                    block: None,
                }))
            }
            None => Ok(None),
        }
    }
}

/// Expands inputs: a directory means every capture file below it (sorted,
/// hidden files skipped, non-captures ignored); `-` is stdin.
///
/// # Errors
/// A directory that cannot be listed.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), std::io::Error> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&path, found)?;
        } else if ft.is_file() && matches!(sniff_format(&path), Ok(Some(_))) {
            found.push(path);
        }
    }
    Ok(())
}
