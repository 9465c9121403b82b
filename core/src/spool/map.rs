//! A shared memory mapping of a spool segment file, the pages made ready ahead of the appends
//! ([`Prefault`]), and the disk space reserved for it. No state but the mapping itself; the
//! log (`log.rs`) owns every mapping and uses it under the spool's mutex.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::ptr::NonNull;
use std::sync::Arc;

/// A shared mapping of a whole segment file.
pub(super) struct Map {
    ptr: NonNull<u8>,
    pub len: usize,
    pub writable: bool,
}

// SAFETY: the mapping is plain memory owned by this value; the log that owns it is used under
// the spool's mutex (one thread at a time), and no other process maps the files (the lock).
unsafe impl Send for Map {}
unsafe impl Sync for Map {}

impl Map {
    /// Maps `len` bytes of `file` (`len` > 0, at most the file's length).
    pub fn new(file: &File, len: u64, writable: bool) -> std::io::Result<Map> {
        let prot = if writable { libc::PROT_READ | libc::PROT_WRITE } else { libc::PROT_READ };
        let len = usize::try_from(len).map_err(|_| std::io::Error::other("a segment too large to map"))?;
        // SAFETY: a new shared mapping of a file we hold open; the kernel picks the address.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Map { ptr: NonNull::new(p.cast()).expect("mmap returned NULL"), len, writable })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` mapped bytes, readable while `self` lives; the file is never shortened
        // below `len` while mapped (see `Segment::trim`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapping's bytes to write. Only the log writes them, through its segment (`&mut`),
    /// under the spool's mutex; a [`Prefault`] holding the same mapping never touches its bytes.
    #[allow(clippy::mut_from_ref)]
    pub fn bytes_mut(&self) -> &mut [u8] {
        assert!(self.writable, "a write to a read-only segment mapping");
        // SAFETY: as `bytes`, and the mapping is writable; the one writer is the log (above).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// Pages of the newest segment to fault in before the appends reach them. A page of a new
/// segment costs the kernel a fault and zeroing it on its first write; taken by an append under
/// the spool's lock, that held up every thread waiting for the lock (the delivery thread's
/// acknowledgements above all). The log hands one out ahead of its appends (`AHEAD` in
/// `log.rs`); the thread that appended runs it after it lets the lock go.
pub struct Prefault {
    map: Arc<Map>,
    from: usize,
    len: usize,
}

impl Prefault {
    /// `len` bytes of `map` from `from` (inside the mapping).
    pub(super) fn new(map: Arc<Map>, from: usize, len: usize) -> Prefault {
        assert!(from + len <= map.len, "a prefault range inside its mapping");
        Prefault { map, from, len }
    }

    #[cfg(test)]
    pub(super) fn range(&self) -> (usize, usize) {
        (self.from, self.len)
    }

    pub fn run(self) {
        // SAFETY: a range inside a mapping that `self.map` keeps alive; no memory is accessed.
        // A failure (a kernel older than 5.14 without MADV_POPULATE_WRITE, the file cut back
        // meanwhile) leaves the pages to the appends' own faults.
        unsafe { libc::madvise(self.map.ptr.as_ptr().add(self.from).cast(), self.len, libc::MADV_POPULATE_WRITE) };
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `Map::new`, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Grows `file` to `len` bytes with the blocks allocated, so that writing through a mapping
/// cannot fail for want of space.
pub(super) fn reserve(file: &File, len: u64) -> std::io::Result<()> {
    // SAFETY: posix_fallocate on a descriptor we own.
    let r = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    if r != 0 {
        return Err(std::io::Error::from_raw_os_error(r));
    }
    Ok(())
}
