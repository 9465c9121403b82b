//! The spool's on-disk format: an append-only log of segment files in `spool.dir`, and the lock
//! that keeps a second process off the directory.
//!
//! A segment is `<first record id, 20 digits>.seg`: the 8-byte magic `RAFKASP2`, then entries,
//! each `u32 length | u32 crc32c(payload) | payload` (little-endian), then zeros to the end of
//! the file. A payload is a record (`1 | id u64 | timestamp i64 | partition i32 (-1: the
//! partitioner chooses) | topic u16+bytes | key i32+bytes (-1: null) | value i32+bytes | header
//! count u32 | per header: key u32+bytes, value i32+bytes`) or an ack marker, saying that these
//! records were reported and are not to be sent again: `3 | (first id u64, count u32)...`, runs
//! of ids (format 1, magic `RAFKASP1`, wrote `2 | id u64...`; both are read). Ids grow by one
//! per record, across segments and restarts.
//!
//! Appends are copies into a shared memory mapping of the newest segment (no system call per
//! record): the pages are the file's pages in the kernel's page cache, so what was copied
//! survives a SIGKILL of the process at once, and reaches the disk at the next sync
//! (`fdatasync`, by the spool's policy) or when the kernel writes it back; the pages are faulted
//! in ahead of the appends, outside the spool's lock (`map.rs`). A segment is created
//! at its full size (`posix_fallocate`, so that a full disk is an error here rather than a
//! SIGBUS on a later copy); an entry's length is written last, so an entry cut short by a crash
//! reads as zeros where its length should be. The segment a producer appended to is cut back to
//! its entries when it closes.
//!
//! Recovery reads every segment; an entry whose length runs past the end of the file (a torn
//! write), whose CRC does not match (a corrupt one), or a zero length followed by anything but
//! zeros (a write cut short, or pages lost by a power failure) ends that segment: the file is
//! truncated there and the bytes dropped are logged and returned. Zeros after the last entry are
//! the end, not damage. Later segments are read on.
//!
//! A segment is deleted once every record in it is acknowledged and every older segment is
//! deleted: an ack marker only covers records written before it, so deleting oldest first never
//! drops a marker whose record is still on disk.
//!
//! Threads: one [`SpoolLog`] behind the spool's mutex (`mod.rs`); nothing here locks.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use super::entry::{SpoolRecordRef, SpooledRecord};
use super::entry::{read_entry, read_entry_into, runs, Entry, Put, KIND_ACK_RUNS};
pub use super::map::Prefault;
use super::map::{reserve, Map};
#[cfg(test)]
use super::entry::KIND_ACK_IDS;

const MAGIC: &[u8; 8] = b"RAFKASP2";
/// Format 1: written with one `pwrite` per entry, ack markers as lists of ids. Still read.
const MAGIC_V1: &[u8; 8] = b"RAFKASP1";
const HEAD: usize = 8;
/// Segment files are sized in whole pages.
const PAGE: u64 = 4096;
/// How far ahead of the appends the newest segment's pages are faulted in (see [`Prefault`]).
const AHEAD: u64 = 1 << 20;


/// Where a record's entry is: its segment (by first id) and byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    segment: u64,
    offset: u64,
}

/// Damage found by recovery in one segment.
#[derive(Clone, Debug)]
pub struct Damage {
    pub segment: PathBuf,
    /// Where the last good entry ended (the file's new length).
    pub at: u64,
    /// Bytes from there to the last byte that was not zero.
    pub dropped_bytes: u64,
    pub reason: String,
}

struct Segment {
    path: PathBuf,
    file: Arc<File>,
    /// Shared with a [`Prefault`] in progress.
    map: Arc<Map>,
    /// Where its entries end (the next append goes there).
    len: u64,
    /// Records in the segment not acknowledged yet.
    unacked: u64,
    /// The bytes of a writable mapping handed to a [`Prefault`] so far.
    ready: u64,
}

impl Segment {
    /// Makes the segment take appends up to `cap` bytes: the file grows to `cap` (space reserved
    /// on disk) and is mapped writable. Beyond `len` the file holds zeros.
    fn make_writable(&mut self, cap: u64) -> std::io::Result<()> {
        if self.map.writable && self.map.len as u64 >= cap {
            return Ok(());
        }
        reserve(&self.file, cap)?;
        self.map = Arc::new(Map::new(&self.file, cap, true)?);
        self.ready = 0;
        Ok(())
    }

    /// Cuts the file back to its entries (the producer closes; no more appends).
    fn trim(&mut self) -> std::io::Result<()> {
        if self.map.len as u64 == self.len {
            return Ok(());
        }
        // The new mapping first: the file must not be shorter than any mapping of it.
        self.map = Arc::new(Map::new(&self.file, self.len, false)?);
        self.file.set_len(self.len)
    }
}

/// The log: its segments, the id of the next record, and the send cursor (the next record not
/// yet handed to the sending path).
pub struct SpoolLog {
    dir: PathBuf,
    segments: BTreeMap<u64, Segment>,
    next_id: u64,
    bytes: u64,
    segment_bytes: u64,
    /// (segment first id, offset) of the next entry the cursor reads.
    cursor: (u64, u64),
    /// Records acknowledged before the cursor reached them (by ack markers found in recovery, or
    /// by a purge), skipped by the cursor.
    skip: HashSet<u64>,
    /// Records appended for direct sending (behind the cursor) and handed back to the cursor's
    /// reader after all ([`SpoolLog::requeue`]), by id: read before the cursor.
    requeued: BTreeMap<u64, Pos>,
    /// Records appended and not yet read by the cursor, `requeued` included.
    unread: u64,
    /// Records not yet acknowledged.
    unacked: u64,
    /// Written since the last sync.
    pub(crate) dirty: bool,
    /// Whether a full segment is synced before the next one takes appends (not with
    /// `spool.fsync=never`), and how many times that happened (the statistics' `spool.syncs`).
    pub(crate) sync_on_roll: bool,
    pub(crate) roll_syncs: u64,
    /// Closed: the newest segment is cut back to its entries, nothing is written any more.
    closed: bool,
    lock: File,
    /// Pages for the thread that appended last to fault in once it lets the spool's lock go.
    pub(crate) prefault: Option<Prefault>,
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.seg")
}


/// Takes the directory's lock file, or says who holds it.
fn lock_dir(dir: &Path) -> std::io::Result<File> {
    let path = dir.join("lock");
    let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = std::io::Error::last_os_error();
        let mut holder = String::new();
        let _ = f.read_to_string(&mut holder);
        let holder = holder.trim();
        let who = if holder.is_empty() { "another producer".to_string() } else { format!("another producer ({holder})") };
        return Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!("spool.dir {} is in use by {who}, which holds the lock file {} ({err}); one spool directory serves one producer at a time", dir.display(), path.display()),
        ));
    }
    f.set_len(0)?;
    write!(f, "process {}", std::process::id())?;
    Ok(f)
}

/// Recovers one segment file: its records and ack markers, and the damage found (the file is cut
/// back to its last good entry either way). Returns the segment, mapped read-only.
fn recover_segment(path: PathBuf, ids: &mut BTreeMap<u64, u64>, acked: &mut HashSet<u64>, first: u64, next_id: &mut u64) -> std::io::Result<(Segment, Option<Damage>)> {
    let file = OpenOptions::new().read(true).write(true).open(&path)?;
    let file_len = file.metadata()?.len();
    let mut off = HEAD as u64;
    let mut bad = None;
    let mut last_data = file_len;
    {
        let map = if file_len > 0 { Some(Map::new(&file, file_len, false)?) } else { None };
        let buf = map.as_ref().map_or(&[][..], |m| m.bytes());
        if buf.len() < HEAD || (&buf[..HEAD] != MAGIC && &buf[..HEAD] != MAGIC_V1) {
            off = 0;
            bad = Some("no segment header".to_string());
        } else {
            loop {
                match read_entry(buf, off) {
                    Ok(None) => break,
                    Ok(Some((Entry::Record(r), end))) => {
                        ids.insert(r.id, first);
                        *next_id = (*next_id).max(r.id + 1);
                        off = end;
                    }
                    Ok(Some((Entry::Acks(runs), end))) => {
                        for (f, n) in runs {
                            acked.extend(f..f.saturating_add(n));
                        }
                        off = end;
                    }
                    Err(reason) => {
                        bad = Some(reason);
                        break;
                    }
                }
            }
        }
        if bad.is_some() {
            last_data = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i as u64 + 1).max(off);
        }
    } // unmapped before the file is cut
    let damage = bad.map(|reason| {
        let d = Damage { segment: path.clone(), at: off, dropped_bytes: last_data - off, reason };
        log::warn!("spool: {} holds {} at byte {}: truncated there, {} byte(s) dropped", d.segment.display(), d.reason, d.at, d.dropped_bytes);
        d
    });
    if off == 0 {
        file.set_len(0)?;
        (&file).write_all(MAGIC)?;
        off = HEAD as u64;
        file.sync_all()?;
    } else if off < file_len {
        // Zeros after the entries (a segment its producer did not close), or damage.
        file.set_len(off)?;
        if damage.is_some() {
            file.sync_all()?;
        }
    }
    let map = Arc::new(Map::new(&file, off, false)?);
    Ok((Segment { path, file: Arc::new(file), map, len: off, unacked: 0, ready: 0 }, damage))
}

impl SpoolLog {
    /// Opens (creating) `dir`, locks it and recovers what a previous producer left. New records
    /// go to a new segment.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<(SpoolLog, Vec<Damage>)> {
        std::fs::create_dir_all(dir).map_err(|e| std::io::Error::new(e.kind(), format!("cannot create spool.dir {}: {e}", dir.display())))?;
        let lock = lock_dir(dir)?;
        let mut firsts = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let name = e?.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".seg") {
                if let Ok(first) = stem.parse::<u64>() {
                    firsts.push(first);
                }
            }
        }
        firsts.sort_unstable();
        let mut damage = Vec::new();
        let mut segments = BTreeMap::new();
        let mut ids: BTreeMap<u64, u64> = BTreeMap::new(); // record id -> segment
        let mut acked = HashSet::new();
        let mut next_id = firsts.last().copied().unwrap_or(1).max(1);
        let mut bytes = 0;
        for first in firsts {
            let (seg, d) = recover_segment(dir.join(segment_name(first)), &mut ids, &mut acked, first, &mut next_id)?;
            damage.extend(d);
            bytes += seg.len;
            segments.insert(first, seg);
        }
        let mut unacked = 0;
        for (id, seg) in &ids {
            if !acked.contains(id) {
                segments.get_mut(seg).expect("segment of a record read").unacked += 1;
                unacked += 1;
            }
        }
        acked.retain(|id| ids.contains_key(id));
        let cursor = segments.keys().next().map(|&f| (f, HEAD as u64)).unwrap_or((next_id, HEAD as u64));
        let mut log = SpoolLog {
            dir: dir.to_path_buf(),
            segments,
            next_id,
            bytes,
            segment_bytes: (max_bytes / 8).clamp(PAGE, 64 << 20) / PAGE * PAGE,
            cursor,
            skip: acked,
            requeued: BTreeMap::new(),
            unread: unacked,
            unacked,
            dirty: false,
            sync_on_roll: true,
            roll_syncs: 0,
            closed: false,
            lock,
            prefault: None,
        };
        log.new_segment(0)?;
        log.delete_acked()?;
        Ok((log, damage))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of the entries of every segment on disk (the newest segment's file is larger: it is
    /// created at its full size).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records appended and not yet read by [`SpoolLog::next_unsent`].
    pub fn unread(&self) -> u64 {
        self.unread
    }

    /// Records not yet acknowledged.
    pub fn unacked(&self) -> u64 {
        self.unacked
    }

    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Starts the segment that takes the next appends, with room for an entry of `need` bytes
    /// (the newest segment keeps taking them while it has no record: its name is the next id).
    fn new_segment(&mut self, need: u64) -> std::io::Result<()> {
        let first = self.next_id;
        let cap = (HEAD as u64 + need).max(self.segment_bytes).div_ceil(PAGE) * PAGE;
        if let Some(seg) = self.segments.get_mut(&first) {
            return seg.make_writable((seg.len + need).max(cap).div_ceil(PAGE) * PAGE);
        }
        if let Some(prev) = self.segments.values_mut().next_back() {
            // What the full segment holds reaches the disk before records go to the next one.
            if prev.unacked > 0 && self.sync_on_roll {
                prev.file.sync_data()?;
                self.roll_syncs += 1;
            }
            prev.trim()?;
        }
        let path = self.dir.join(segment_name(first));
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
        reserve(&file, cap)?;
        let map = Arc::new(Map::new(&file, cap, true)?);
        map.bytes_mut()[..HEAD].copy_from_slice(MAGIC);
        self.bytes += HEAD as u64;
        self.segments.insert(first, Segment { path, file: Arc::new(file), map, len: HEAD as u64, unacked: 0, ready: 0 });
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn tail(&mut self) -> &mut Segment {
        self.segments.values_mut().next_back().expect("the log always has a segment")
    }

    /// The bytes appending a record adds.
    pub fn entry_bytes(rec: &SpoolRecordRef<'_>) -> u64 {
        8 + rec.payload_len() as u64
    }

    /// Appends an entry of `payload_len` bytes, written by `fill`, to the newest segment (a new
    /// one when it has no room left); where it went.
    fn append_entry(&mut self, payload_len: usize, fill: impl FnOnce(&mut [u8])) -> std::io::Result<Pos> {
        if self.closed {
            return Err(std::io::Error::other("the spool is closed"));
        }
        let need = 8 + payload_len as u64;
        let tail = self.tail();
        if !tail.map.writable || tail.len + need > tail.map.len as u64 {
            self.new_segment(need)?;
        }
        let (&first, seg) = self.segments.iter_mut().next_back().expect("the log always has a segment");
        let at = seg.len as usize;
        let buf = &mut seg.map.bytes_mut()[at..at + need as usize];
        let (head, payload) = buf.split_at_mut(8);
        fill(payload);
        head[4..].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        // The length last: an entry a crash cuts short has none, and ends the segment.
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::Release);
        head[..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        seg.len += need;
        if seg.len + AHEAD / 2 > seg.ready && (seg.ready as usize) < seg.map.len {
            let from = seg.ready.max(seg.len.next_multiple_of(PAGE)).min(seg.map.len as u64);
            let to = (from + AHEAD).min(seg.map.len as u64);
            seg.ready = to;
            if to > from {
                self.prefault = Some(Prefault::new(seg.map.clone(), from as usize, (to - from) as usize));
            }
        }
        self.bytes += need;
        self.dirty = true;
        Ok(Pos { segment: first, offset: at as u64 })
    }

    /// Appends a record with id [`SpoolLog::next_id`]: its id and place. `advance`: the record is
    /// sent directly, so the cursor moves past it (only when the cursor is at the end already).
    pub fn append(&mut self, rec: &SpoolRecordRef<'_>, advance: bool) -> std::io::Result<(u64, Pos)> {
        let id = self.next_id;
        let at_end = self.cursor_at_end();
        let pos = self.append_entry(rec.payload_len(), |out| rec.write(id, out))?;
        self.next_id += 1;
        self.tail().unacked += 1;
        self.unacked += 1;
        if advance && at_end {
            self.cursor = (pos.segment, self.tail().len);
        } else {
            self.unread += 1;
        }
        Ok((id, pos))
    }

    /// Whether the cursor has read everything appended.
    pub fn cursor_at_end(&self) -> bool {
        self.unread == 0
    }

    /// A record appended for direct sending goes to the cursor's reader after all (the buffer
    /// had no room for it): read before the records at the cursor, which are all newer.
    pub fn requeue(&mut self, id: u64, pos: Pos) {
        self.requeued.insert(id, pos);
        self.unread += 1;
    }

    /// The record at `pos`.
    pub fn read_at(&self, pos: Pos) -> std::io::Result<SpooledRecord> {
        let seg = self.segments.get(&pos.segment).ok_or_else(|| std::io::Error::other("spool: a record's segment is gone"))?;
        match read_entry(&seg.map.bytes()[..seg.len as usize], pos.offset).map_err(std::io::Error::other)? {
            Some((Entry::Record(r), _)) => Ok(r),
            _ => Err(std::io::Error::other("spool: no record where one was written")),
        }
    }

    /// The next record not yet handed to the sending path, and its place, advancing the cursor
    /// past it.
    pub fn next_unsent(&mut self) -> std::io::Result<Option<(SpooledRecord, Pos)>> {
        let mut r = SpooledRecord::default();
        Ok(self.next_unsent_into(&mut r)?.map(|pos| (r, pos)))
    }

    /// As [`SpoolLog::next_unsent`], the record read into `r` (reusing its allocations).
    pub fn next_unsent_into(&mut self, r: &mut SpooledRecord) -> std::io::Result<Option<Pos>> {
        if let Some((_, pos)) = self.requeued.pop_first() {
            self.unread -= 1;
            *r = self.read_at(pos)?;
            return Ok(Some(pos));
        }
        while self.unread > 0 {
            let (first, off) = self.cursor;
            let Some(seg) = self.segments.get(&first) else {
                let next = self.segments.range(first + 1..).next().map(|(f, _)| *f);
                match next {
                    Some(f) => {
                        self.cursor = (f, HEAD as u64);
                        continue;
                    }
                    None => return Err(std::io::Error::other("spool: the send cursor ran past the last segment")),
                }
            };
            match read_entry_into(&seg.map.bytes()[..seg.len as usize], off, r).map_err(std::io::Error::other)? {
                None => {
                    let next = self.segments.range(first + 1..).next().map(|(f, _)| *f);
                    match next {
                        Some(f) => self.cursor = (f, HEAD as u64),
                        None => return Err(std::io::Error::other("spool: records counted unread but none is left to read")),
                    }
                }
                // An ack marker.
                Some((false, end)) => self.cursor = (first, end),
                Some((true, end)) => {
                    self.cursor = (first, end);
                    if self.skip.remove(&r.id) {
                        continue;
                    }
                    self.unread -= 1;
                    return Ok(Some(Pos { segment: first, offset: off }));
                }
            }
        }
        Ok(None)
    }

    /// Takes out the records not yet read by the cursor whose topic and partition `matches` (a
    /// purge), oldest first: the cursor skips them from now on. The caller acknowledges them.
    pub fn take_unread_matching(&mut self, matches: &dyn Fn(&str, Option<i32>) -> bool) -> std::io::Result<Vec<SpooledRecord>> {
        let mut out = Vec::new();
        if self.unread == 0 {
            return Ok(out);
        }
        let mut taken = Vec::new();
        for (&id, &pos) in &self.requeued {
            let r = self.read_at(pos)?;
            if matches(&r.topic, r.partition) {
                taken.push(id);
                out.push(r);
            }
        }
        for id in &taken {
            self.requeued.remove(id);
        }
        let (first, at) = self.cursor;
        for (&f, seg) in self.segments.range(first..) {
            let mut off = if f == first { at } else { HEAD as u64 };
            let buf = &seg.map.bytes()[..seg.len as usize];
            while let Some((e, end)) = read_entry(buf, off).map_err(std::io::Error::other)? {
                off = end;
                if let Entry::Record(r) = e {
                    if !self.skip.contains(&r.id) && matches(&r.topic, r.partition) {
                        self.skip.insert(r.id);
                        out.push(r);
                    }
                }
            }
        }
        self.unread -= out.len() as u64;
        Ok(out)
    }

    /// Appends one ack marker for `ids` (reported records; runs of consecutive ids take 12 bytes
    /// each) and deletes the segments no longer needed.
    pub fn ack(&mut self, ids: &[u64]) -> std::io::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let runs = runs(ids);
        self.append_entry(1 + 12 * runs.len(), |out| {
            let mut w = Put(out);
            w.put(&[KIND_ACK_RUNS]);
            for &(first, count) in &runs {
                w.put(&first.to_le_bytes());
                w.put(&(count as u32).to_le_bytes());
            }
        })?;
        for (first, count) in runs {
            let (mut id, end) = (first, first + count);
            while id < end {
                // The segment holding `id` holds the ids up to the next segment's first.
                let upto = self.segments.range(id + 1..).next().map_or(end, |(&f, _)| f.min(end));
                if let Some((_, seg)) = self.segments.range_mut(..=id).next_back() {
                    seg.unacked = seg.unacked.saturating_sub(upto - id);
                    self.unacked = self.unacked.saturating_sub(upto - id);
                }
                id = upto;
            }
        }
        self.delete_acked()
    }

    /// Deletes the oldest segments while every record in them is acknowledged (never the newest,
    /// which takes appends).
    fn delete_acked(&mut self) -> std::io::Result<()> {
        while self.segments.len() > 1 {
            let (&first, seg) = self.segments.iter().next().unwrap();
            if seg.unacked > 0 {
                break;
            }
            std::fs::remove_file(&seg.path)?;
            self.bytes -= seg.len;
            self.segments.remove(&first);
            let next = *self.segments.keys().next().unwrap();
            if self.cursor.0 == first {
                self.cursor = (next, HEAD as u64);
            }
            // Purged records of the deleted segment: the cursor will not meet them any more.
            if !self.skip.is_empty() {
                self.skip.retain(|&id| id >= next);
            }
        }
        Ok(())
    }

    /// The newest segment's file, to sync outside the lock.
    pub fn tail_file(&self) -> Arc<File> {
        self.segments.values().next_back().expect("the log always has a segment").file.clone()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The lock file (held while the log lives).
    pub fn lock_file(&self) -> &File {
        &self.lock
    }

    /// No more writes: the newest segment's file is cut back to its entries (before the lock is
    /// let go, so that the next producer on the directory finds it as it stays).
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Err(e) = self.tail().trim() {
            log::warn!("spool: cannot cut {} back to its entries: {e} (the next producer reads up to them all the same)", self.tail().path.display());
        }
    }
}

impl Drop for SpoolLog {
    fn drop(&mut self) {
        // The lock file is still held here (fields drop after this).
        self.close();
    }
}

#[cfg(test)]
mod tests;
