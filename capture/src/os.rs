//! The one place pathlens talks to C directly: asking libpcap where it is in
//! a capture file, which the `pcap` crate does not expose, making the pipe a
//! decompressed capture flows through, mapping a capture file, prefetching
//! what the reader reads next, and, for
//! `live`, the umask, the switch to an unprivileged user and the free
//! space of the output's disk.
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

/// The link type libpcap reads from the start of a capture held in
/// memory (through a memory file), or `None` when libpcap refuses it.
pub fn checked_datalink(head: &[u8]) -> Option<i32> {
    // SAFETY: memfd_create with a NUL-terminated name and no flags returns
    // a new descriptor owned by no one else, or -1.
    let fd = unsafe { libc::memfd_create(c"pathlens-head".as_ptr(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just created and is owned here only.
    let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    std::io::Write::write_all(&mut f, head).ok()?;
    let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
    let cap = pcap::Capture::from_file(path).ok()?;
    Some(cap.get_datalink().0)
}

/// Asks for a pipe of `bytes` (Linux `F_SETPIPE_SZ`); the pipe stays as it
/// was when the system refuses (above `/proc/sys/fs/pipe-max-size`).
pub fn grow_pipe(fd: &OwnedFd, bytes: usize) {
    let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: fcntl on a descriptor this function borrows, with an integer
    // argument; it changes only the pipe's capacity.
    let _ = unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            libc::F_SETPIPE_SZ,
            bytes,
        )
    };
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

/// Asks the CPU to bring the cache line holding `b[at]` close, ahead of
/// its use; nothing when `at` is out of bounds or the CPU has no such hint.
#[inline]
pub fn prefetch(b: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = b.get(at) {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is only a hint: it reads nothing into the
        // program, never faults, and `p` is inside `b` anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(p).cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (b, at);
}

/// Maps `map[from..to]` into the page tables now, from the page cache
/// (reading what is not there yet), instead of page by page on first
/// touch. Nothing when the kernel has no MADV_POPULATE_READ (before 5.14):
/// the pages then fault in as before.
pub fn populate_mapped(map: &memmap2::Mmap, from: usize, to: usize) {
    if to > from {
        let _ = map.advise_range(memmap2::Advice::PopulateRead, from, to - from);
    }
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

/// Bytes available to an unprivileged writer on the filesystem holding
/// `path`, and the filesystem's size.
///
/// # Errors
/// `path` does not exist or statvfs(3) fails.
pub fn disk_space(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let cpath = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("path holds a NUL byte"))?;
    // SAFETY: an all-zero statvfs is a valid value of a plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: cpath is a NUL-terminated string alive for the call and st a
    // valid, writable statvfs.
    if unsafe { libc::statvfs(cpath.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // The field types differ between platforms (u32 on some, u64 here).
    #[allow(clippy::unnecessary_cast)]
    let frsize = (st.f_frsize as u64).max(1);
    #[allow(clippy::unnecessary_cast)]
    Ok((
        (st.f_bavail as u64).saturating_mul(frsize),
        (st.f_blocks as u64).saturating_mul(frsize),
    ))
}

/// Sets the process umask (files 0640 and directories 0750 with 0o027).
pub fn set_umask(mask: u32) {
    // SAFETY: umask(2) only swaps the process's mask and cannot fail.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

/// A user's uid and primary gid from the password database.
pub fn user_ids(name: &str) -> std::io::Result<(u32, u32)> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| std::io::Error::other("user name holds a NUL byte"))?;
    let mut pwd: libc::passwd = unsafe_zeroed_passwd();
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: the name is a
    // NUL-terminated string, pwd and result live on this frame, buf is
    // buf.len() bytes; getpwnam_r writes only within them.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    if result.is_null() {
        return Err(std::io::Error::other(format!("no user {name:?}")));
    }
    Ok((pwd.pw_uid, pwd.pw_gid))
}

fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: passwd is plain C data (integers and pointers); all-zero is a
    // valid value that getpwnam_r then fills in.
    unsafe { std::mem::zeroed() }
}

/// Becomes user `name`: its supplementary groups (initgroups), its primary
/// group, then its uid; checks that root cannot be regained.
pub fn drop_privileges(name: &str) -> std::io::Result<(u32, u32)> {
    let (uid, gid) = user_ids(name)?;
    let cname = std::ffi::CString::new(name)
        .map_err(|_| std::io::Error::other("user name holds a NUL byte"))?;
    let last = std::io::Error::last_os_error;
    // SAFETY: initgroups, setgid and setuid take plain values and a
    // NUL-terminated string that outlives the call; glibc applies the ids
    // to every thread of the process.
    unsafe {
        if libc::initgroups(cname.as_ptr(), gid) != 0 {
            return Err(last());
        }
        if libc::setgid(gid) != 0 {
            return Err(last());
        }
        if libc::setuid(uid) != 0 {
            return Err(last());
        }
        if uid != 0 && libc::setuid(0) == 0 {
            return Err(std::io::Error::other("root could be regained after setuid"));
        }
    }
    Ok((uid, gid))
}

/// Waits up to `timeout_ms` for `fd` to become readable; true when it is.
pub fn wait_readable(fd: std::os::fd::RawFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll(2) reads and writes exactly the one pollfd it is given,
    // which lives on this frame for the call.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    n > 0
}
