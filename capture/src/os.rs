//! The one place pathlens talks to C directly: asking libpcap where it is in
//! a capture file, which the `pcap` crate does not expose, making the
//! pipe a decompressed capture flows through, and mapping a capture file.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::fd::{FromRawFd, OwnedFd};

extern "C" {
    // libpcap: the stdio stream of an offline capture, NULL for live ones.
    fn pcap_file(p: *mut c_void) -> *mut libc::FILE;
}

/// The byte position libpcap has reached in an offline capture, given the
/// address of its `pcap_t` (`Capture::as_ptr`), which must still be open.
pub fn file_position(handle: usize) -> Option<u64> {
    let p = handle as *mut c_void;
    // SAFETY: callers pass the address of a pcap_t they own and keep open
    // for the whole call (PcapFileSource holds the Capture beside it);
    // pcap_file only returns the FILE* libpcap reads from (or NULL), and
    // ftell reads that stream's position without changing it.
    let pos = unsafe {
        let f = pcap_file(p);
        if f.is_null() {
            return None;
        }
        libc::ftell(f)
    };
    u64::try_from(pos).ok()
}

/// A new pipe: (read end, write end).
///
/// # Errors
/// The process is out of file descriptors.
pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [libc::c_int; 2] = [-1, -1];
    // SAFETY: pipe(2) writes two descriptors into the array it is given,
    // which has room for them; on success each is open and owned by no one
    // else, so wrapping each in an OwnedFd once is sound.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// The whole of a regular file mapped read-only, or `None` when it cannot
/// be (empty, not a regular file, no memory map): the caller then reads it.
pub fn map_file(file: &std::fs::File) -> Option<memmap2::Mmap> {
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    // SAFETY: the map is read-only and only ever read as bytes. Its one
    // hazard is another process truncating the file while it is mapped
    // (reads past the new end fault); capture files are read after they
    // are written, and a file still being appended to is read up to its
    // size at open, as a `read` loop would have seen it at that moment.
    let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
    // The pages are read once, front to back.
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(map)
}

/// Lets the kernel take back the pages of `map[from..to]` (rounded inward
/// to whole pages) from this process's resident set; they stay in the page
/// cache, and a later read of them maps them again.
pub fn release_mapped(map: &memmap2::Mmap, from: usize, to: usize) {
    const PAGE: usize = 4096;
    let start = from.div_ceil(PAGE) * PAGE;
    let end = (to.min(map.len()) / PAGE) * PAGE;
    if end <= start {
        return;
    }
    // SAFETY: MADV_DONTNEED on a shared, read-only file mapping drops only
    // this process's page-table entries: the bytes stay what the file
    // holds, and any later read (a batch still pointing there) faults the
    // same page back in from the page cache. No memory is freed or changed
    // under a live reference.
    let _ = unsafe {
        map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
    };
}
