//! What `read` reads: the inputs as given, expanded (a directory means every
//! capture below it), each one checked before any packet is read, with what
//! was skipped and why; and opening one, through a decompressor when it is a
//! gzip, zstd or xz file (recognised by its magic bytes, not its name).

use crate::source::{sniff_format, Format, PacketSource, PcapFileSource, SourceError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// How a capture file is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    /// A plain pcap or pcapng file.
    Plain,
    /// gzip (RFC 1952), also several members one after another.
    Gzip,
    /// Zstandard (RFC 8878).
    Zstd,
    /// xz (LZMA2).
    Xz,
}

impl Packing {
    /// The compression a file's first bytes announce (`Plain` for none).
    pub fn of_magic(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Packing::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Packing::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Packing::Xz
        } else {
            Packing::Plain
        }
    }

    fn name(self) -> &'static str {
        match self {
            Packing::Plain => "plain",
            Packing::Gzip => "gzip",
            Packing::Zstd => "zstd",
            Packing::Xz => "xz",
        }
    }

    /// A reader of the file's decompressed bytes.
    fn reader(self, file: std::fs::File) -> std::io::Result<Box<dyn Read + Send>> {
        let file = std::io::BufReader::new(file);
        Ok(match self {
            Packing::Plain => Box::new(file),
            Packing::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(file)),
            Packing::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(file)?),
            Packing::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(file)),
        })
    }
}

/// What a file holds, from its first bytes (decompressed where it is
/// compressed): its packing and capture format, or why it is no capture.
///
/// # Errors
/// The file cannot be read.
pub fn identify(path: &Path) -> std::io::Result<Result<(Packing, Format), String>> {
    let mut head = [0u8; 6];
    let n = read_up_to(&mut std::fs::File::open(path)?, &mut head)?;
    let packing = Packing::of_magic(head.get(..n).unwrap_or(&[]));
    if packing == Packing::Plain {
        return Ok(match sniff_format(path)? {
            Some(f) => Ok((packing, f)),
            None if n == 0 => Err("empty file".into()),
            None => Err("not a capture (unknown magic number)".into()),
        });
    }
    let mut inner = [0u8; 4];
    let got = packing
        .reader(std::fs::File::open(path)?)
        .and_then(|mut r| read_up_to(&mut r, &mut inner));
    Ok(match got {
        Ok(4) => match crate::source::format_of_magic(inner) {
            Some(f) => Ok((packing, f)),
            None => Err(format!("{} file that holds no capture", packing.name())),
        },
        Ok(_) => Err(format!(
            "{} file too short to hold a capture",
            packing.name()
        )),
        Err(e) => Err(format!("corrupt {} file: {e}", packing.name())),
    })
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = r.read(buf.get_mut(got..).unwrap_or(&mut []))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// The inputs of a run, expanded, and what was left out.
#[derive(Debug, Default)]
pub struct Listing {
    /// Captures to read, in order (`-` is stdin).
    pub files: Vec<PathBuf>,
    /// Files under a directory that are not read, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Inputs the user named that cannot be read, each with why: the run stops
/// before it starts.
#[derive(Debug)]
pub struct BadInputs(pub Vec<(String, String)>);

impl std::fmt::Display for BadInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [(path, reason)] => write!(f, "{path}: {reason}"),
            all => {
                write!(f, "{} inputs cannot be read; nothing was read:", all.len())?;
                for (path, reason) in all {
                    write!(f, "\n  {path}: {reason}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for BadInputs {}

/// Expands and checks the inputs: each named file must exist and hold a
/// capture (plain or compressed); a directory contributes every capture
/// below it, sorted, and lists the rest as skipped; a file reached twice is
/// read once.
///
/// # Errors
/// Every named input that is missing, unreadable or not a capture, and
/// every directory that cannot be listed.
pub fn list(inputs: &[PathBuf]) -> Result<Listing, BadInputs> {
    let mut out = Listing::default();
    let mut bad = Vec::new();
    for p in inputs {
        if let Err(reason) = add(p, &mut out) {
            bad.push((p.display().to_string(), reason));
        }
    }
    if !bad.is_empty() {
        return Err(BadInputs(bad));
    }
    let mut seen = std::collections::HashSet::new();
    let mut files = Vec::new();
    for f in std::mem::take(&mut out.files) {
        if f == Path::new("-") {
            files.push(f);
            continue;
        }
        let key = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        if seen.insert(key) {
            files.push(f);
        } else {
            out.skipped.push((f, "given twice: read once".into()));
        }
    }
    out.files = files;
    Ok(out)
}

/// Adds one named input to `out`; why not when it cannot be read.
fn add(p: &Path, out: &mut Listing) -> Result<(), String> {
    if p == Path::new("-") {
        out.files.push(p.to_path_buf());
        return Ok(());
    }
    let meta = std::fs::metadata(p).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        let mut found = Vec::new();
        walk(p, &mut found, &mut out.skipped).map_err(|e| e.to_string())?;
        found.sort();
        out.files.extend(found);
        return Ok(());
    }
    // A FIFO or character device is read as a stream, unsniffed.
    if meta.is_file() {
        identify(p).map_err(|e| e.to_string())??;
    }
    out.files.push(p.to_path_buf());
    Ok(())
}

/// The counted line of what a listing skipped, by reason (`-v` names each
/// file); None when nothing was.
pub fn skipped_line(skipped: &[(PathBuf, String)]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut by_reason = std::collections::BTreeMap::<&str, usize>::new();
    for (path, reason) in skipped {
        tracing::info!(file = %path.display(), reason = %reason, "skipped");
        *by_reason.entry(reason.as_str()).or_default() += 1;
    }
    let reasons: Vec<String> = by_reason.iter().map(|(r, n)| format!("{n} {r}")).collect();
    Some(format!(
        "skipped {} file{} in the inputs: {} (-v names them)",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" },
        reasons.join(", ")
    ))
}

/// The error when a listing found no capture: it names the inputs given (a
/// directory as such, empty or not) and what was skipped in them.
pub fn nothing_found(inputs: &[PathBuf], skipped: &[(PathBuf, String)]) -> String {
    let named: Vec<String> = inputs
        .iter()
        .map(|p| {
            let empty = std::fs::read_dir(p).map(|mut d| d.next().is_none());
            match empty {
                Ok(true) => format!("{} (an empty directory)", p.display()),
                Ok(false) => format!("{} (a directory)", p.display()),
                Err(_) => p.display().to_string(),
            }
        })
        .collect();
    let why = if skipped.is_empty() {
        String::new()
    } else {
        let reasons: std::collections::BTreeSet<&str> =
            skipped.iter().map(|(_, r)| r.as_str()).collect();
        format!(
            "; skipped {} file{}: {}",
            skipped.len(),
            if skipped.len() == 1 { "" } else { "s" },
            reasons.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    format!("no capture files found in {}{why}", named.join(", "))
}

fn walk(
    dir: &Path,
    found: &mut Vec<PathBuf>,
    skipped: &mut Vec<(PathBuf, String)>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let ft = entry.file_type()?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            skipped.push((path, "hidden".into()));
        } else if ft.is_dir() {
            walk(&path, found, skipped)?;
        } else if !ft.is_file() {
            skipped.push((path, "not a regular file".into()));
        } else {
            match identify(&path) {
                Ok(Ok(_)) => found.push(path),
                Ok(Err(reason)) => skipped.push((path, reason)),
                Err(e) => skipped.push((path, format!("unreadable: {e}"))),
            }
        }
    }
    Ok(())
}

/// A capture read through a decompressor: a thread inflates the file into
/// a pipe that the block readers (or libpcap) read. It tells no position:
/// offsets in the inflated bytes are not offsets in the file the progress
/// bar measures.
struct Inflated {
    inner: PcapFileSource,
    // Read by libpcap through its /dev/fd name, the read end stays open as
    // long as libpcap's, so the inflating thread sees a broken pipe (and
    // stops) only once the source is dropped.
    _pipe: Option<std::os::fd::OwnedFd>,
}

impl PacketSource for Inflated {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn datalink(&self) -> i32 {
        self.inner.datalink()
    }
    fn next_frame(&mut self) -> Result<Option<crate::source::Frame<'_>>, SourceError> {
        self.inner.next_frame()
    }
}

/// Opens an input for reading, through a decompressor when its magic bytes
/// say gzip, zstd or xz.
///
/// # Errors
/// As [`PcapFileSource::open`]; a compressed file that cannot be inflated.
pub fn open(path: &Path, filter: Option<&str>) -> Result<Box<dyn PacketSource>, SourceError> {
    let name = path.display().to_string();
    let open_err = |reason: String| SourceError::Open {
        name: name.clone(),
        reason,
    };
    let packing = if path == Path::new("-") || !path.is_file() {
        Packing::Plain
    } else {
        let mut head = [0u8; 6];
        let n = std::fs::File::open(path)
            .and_then(|mut f| read_up_to(&mut f, &mut head))
            .map_err(|e| open_err(e.to_string()))?;
        Packing::of_magic(head.get(..n).unwrap_or(&[]))
    };
    if packing == Packing::Plain {
        let s = PcapFileSource::open(path, filter)?;
        tracing::info!(input = %name, filter = filter.unwrap_or(""), "input opened");
        return Ok(Box::new(s));
    }
    if filter.is_none() {
        if let Some(s) = open_inflated_in_place(path, packing, &name) {
            tracing::info!(input = %name, compression = packing.name(), reader = "in place", "input opened");
            return Ok(s);
        }
    }
    let file = std::fs::File::open(path).map_err(|e| open_err(e.to_string()))?;
    let reader = packing.reader(file).map_err(|e| open_err(e.to_string()))?;
    let rd = inflate_into_pipe(reader, Vec::new(), &name).map_err(|e| open_err(e.to_string()))?;
    let fd_path = PathBuf::from(format!("/dev/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&rd)));
    let inner = PcapFileSource::open_stream(&fd_path, name.clone(), None, filter)?;
    tracing::info!(input = %name, compression = packing.name(), filter = filter.unwrap_or(""), "input opened");
    Ok(Box::new(Inflated {
        inner,
        _pipe: Some(rd),
    }))
}

/// Bytes inflated and written to the pipe at a time.
const INFLATE_CHUNK: usize = 1 << 20;

/// Copies `from` to `to` in [`INFLATE_CHUNK`] steps; the bytes copied.
fn copy_in_chunks(from: &mut dyn Read, to: &mut impl Write) -> std::io::Result<u64> {
    let mut buf = vec![0u8; INFLATE_CHUNK];
    let mut n = 0u64;
    loop {
        // The chunk is filled (a decoder hands out a frame at a time)
        // before it is written whole.
        let got = read_up_to(from, &mut buf)?;
        if got == 0 {
            return Ok(n);
        }
        to.write_all(buf.get(..got).unwrap_or(&[]))?;
        n += got as u64;
    }
}

/// A thread writing `head`, then the rest of `reader`, into a new pipe;
/// the pipe's read end.
fn inflate_into_pipe(
    mut reader: Box<dyn Read + Send>,
    head: Vec<u8>,
    name: &str,
) -> std::io::Result<std::os::fd::OwnedFd> {
    let (rd, wr) = crate::os::pipe()?;
    // A larger pipe and larger writes: `io::copy`'s 8 KiB steps into a
    // 64 KiB pipe made two syscalls and a wake-up of the reader per 8 KiB.
    crate::os::grow_pipe(&wr, INFLATE_CHUNK);
    let what = name.to_string();
    std::thread::spawn(move || {
        let mut wr = std::fs::File::from(wr);
        match wr
            .write_all(&head)
            .and_then(|()| copy_in_chunks(&mut reader, &mut wr))
        {
            Ok(n) => tracing::debug!(input = %what, bytes = n + head.len() as u64, "decompressed"),
            // The reader went away first (stopped early): nothing to say.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => tracing::warn!(input = %what, error = %e, "decompression stopped"),
        }
    });
    Ok(rd)
}

/// A compressed capture read by pathlens's own record readers, as a plain
/// file is: the first inflated chunk is checked by libpcap (through an
/// in-memory file), then a thread inflates the rest into a pipe that the
/// block reader reads in place. Through libpcap the records were copied
/// twice more: 2.04 s on the bench input as `.pcap.zst`, 1.81 s in place.
/// `None` when libpcap does not accept the first chunk as it stands (not a
/// capture, an unsupported link type, a header longer than the chunk): the
/// caller then reads the whole stream through libpcap, which says why.
fn open_inflated_in_place(
    path: &Path,
    packing: Packing,
    name: &str,
) -> Option<Box<dyn PacketSource>> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = packing.reader(file).ok()?;
    let mut head = vec![0u8; INFLATE_CHUNK];
    let got = read_up_to(&mut reader, &mut head).ok()?;
    head.truncate(got);
    let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
    let format = crate::source::format_of_magic(magic)?;
    let dlt = crate::os::checked_datalink(&head)?;
    crate::link::LinkType::from_dlt(dlt)?;
    let rd = inflate_into_pipe(reader, head, name).ok()?;
    let inner =
        PcapFileSource::in_place(std::fs::File::from(rd), name.to_string(), format, dlt).ok()?;
    Some(Box::new(Inflated { inner, _pipe: None }))
}

#[cfg(test)]
mod test {
    #[test]
    fn chunked_copy_keeps_every_byte() {
        // Reads of odd sizes, more than a chunk in all.
        struct Drip(Vec<u8>, usize);
        impl std::io::Read for Drip {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let k = out.len().min(7919).min(self.0.len() - self.1);
                out[..k].copy_from_slice(&self.0[self.1..self.1 + k]);
                self.1 += k;
                Ok(k)
            }
        }
        let data: Vec<u8> = (0..super::INFLATE_CHUNK * 2 + 12345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let mut to = Vec::new();
        let n = super::copy_in_chunks(&mut Drip(data.clone(), 0), &mut to).unwrap();
        assert_eq!((n as usize, to), (data.len(), data));
    }

    #[test]
    fn nothing_found_names_the_empty_directory() {
        let d = tempfile::tempdir().unwrap();
        let m = super::nothing_found(&[d.path().to_path_buf()], &[]);
        assert!(
            m.contains(&format!("{} (an empty directory)", d.path().display())),
            "{m}"
        );
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        let m = super::nothing_found(
            &[d.path().to_path_buf()],
            &[(d.path().join("notes.txt"), "not a capture".into())],
        );
        assert!(
            m.ends_with("(a directory); skipped 1 file: not a capture"),
            "{m}"
        );
    }

    use super::*;

    #[test]
    fn magic_bytes_name_the_packing() {
        assert_eq!(Packing::of_magic(&[0x1f, 0x8b, 8, 0]), Packing::Gzip);
        assert_eq!(Packing::of_magic(&[0x28, 0xb5, 0x2f, 0xfd]), Packing::Zstd);
        assert_eq!(
            Packing::of_magic(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Packing::Xz
        );
        assert_eq!(Packing::of_magic(&[0xd4, 0xc3, 0xb2, 0xa1]), Packing::Plain);
        assert_eq!(Packing::of_magic(&[]), Packing::Plain);
    }
}
