//! The one place pathlens talks to C directly: asking libpcap where it is in
//! a capture file, which the `pcap` crate does not expose, and making the
//! pipe a decompressed capture flows through.
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
