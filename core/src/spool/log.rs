//! The spool's on-disk format: an append-only log of segment files in `spool.dir`, and the lock
//! that keeps a second process off the directory.
//!
//! A segment is `<first record id, 20 digits>.seg`: the 8-byte magic `RAFKASP1`, then entries,
//! each `u32 length | u32 crc32c(payload) | payload` (little-endian). A payload is a record
//! (`1 | id u64 | timestamp i64 | partition i32 (-1: the partitioner chooses) | topic u16+bytes |
//! key i32+bytes (-1: null) | value i32+bytes | header count u32 | per header: key u32+bytes,
//! value i32+bytes`) or an ack marker (`2 | id u64...`): these records were reported and are
//! not to be sent again. Ids grow by one per record, across segments and restarts.
//!
//! Recovery reads every segment; an entry whose length runs past the end of the file (a torn
//! write) or whose CRC does not match (a corrupt one) ends that segment: the file is truncated
//! there and the bytes dropped are logged and returned. Later segments are read on.
//!
//! A segment is deleted once every record in it is acknowledged and every older segment is
//! deleted: an ack marker only covers records written before it, so deleting oldest first never
//! drops a marker whose record is still on disk.
//!
//! Threads: one [`SpoolLog`] behind the spool's mutex (`mod.rs`); nothing here locks.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RAFKASP1";
const HEAD: usize = 8;
const KIND_RECORD: u8 = 1;
const KIND_ACK: u8 = 2;
/// The largest entry accepted when reading: a length beyond it is corruption, not a record.
const MAX_ENTRY: u32 = 1 << 30;

/// One record as the spool keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpooledRecord {
    pub id: u64,
    pub topic: String,
    /// `None`: the partitioner chooses when it is sent.
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: i64,
}

/// Damage found by recovery in one segment.
#[derive(Clone, Debug)]
pub struct Damage {
    pub segment: PathBuf,
    /// Where the last good entry ended (the file's new length).
    pub at: u64,
    pub dropped_bytes: u64,
    pub reason: String,
}

struct Segment {
    path: PathBuf,
    file: File,
    len: u64,
    /// Records in the segment not acknowledged yet.
    unacked: u64,
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
    /// Records appended and not yet read by the cursor.
    unread: u64,
    /// Records not yet acknowledged.
    unacked: u64,
    /// Written since the last sync.
    pub(crate) dirty: bool,
    lock: File,
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.seg")
}

/// A record's payload bytes.
pub fn encode_record(r: &SpoolRecordRef<'_>, out: &mut Vec<u8>) {
    out.push(KIND_RECORD);
    out.extend_from_slice(&r.id.to_le_bytes());
    out.extend_from_slice(&r.timestamp.to_le_bytes());
    out.extend_from_slice(&r.partition.unwrap_or(-1).to_le_bytes());
    out.extend_from_slice(&(r.topic.len() as u16).to_le_bytes());
    out.extend_from_slice(r.topic.as_bytes());
    put_opt(out, r.key);
    put_opt(out, r.value);
    out.extend_from_slice(&(r.headers.len() as u32).to_le_bytes());
    for (k, v) in r.headers {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        put_opt(out, *v);
    }
}

/// A record to append, borrowed from `send()`'s arguments.
pub struct SpoolRecordRef<'a> {
    pub id: u64,
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    pub timestamp: i64,
}

fn put_opt(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.extend_from_slice(&(-1i32).to_le_bytes()),
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_le_bytes());
            out.extend_from_slice(b);
        }
    }
}

/// An entry's payload, read back.
enum Entry {
    Record(SpooledRecord),
    Acks(Vec<u64>),
}

struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes(b.try_into().unwrap()))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    }
    fn opt(&mut self) -> Option<Option<Vec<u8>>> {
        let n = self.u32()? as i32;
        if n < 0 {
            return Some(None);
        }
        Some(Some(self.take(n as usize)?.to_vec()))
    }
}

fn decode(payload: &[u8]) -> Option<Entry> {
    let mut c = Cur(payload);
    match c.take(1)?[0] {
        KIND_RECORD => {
            let id = c.u64()?;
            let timestamp = c.u64()? as i64;
            let partition = c.u32()? as i32;
            let tn = c.u16()? as usize;
            let topic = String::from_utf8(c.take(tn)?.to_vec()).ok()?;
            let key = c.opt()?;
            let value = c.opt()?;
            let n = c.u32()? as usize;
            let mut headers = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let kn = c.u32()? as usize;
                let k = String::from_utf8(c.take(kn)?.to_vec()).ok()?;
                headers.push((k, c.opt()?));
            }
            if !c.0.is_empty() {
                return None;
            }
            Some(Entry::Record(SpooledRecord { id, topic, partition: (partition >= 0).then_some(partition), key, value, headers, timestamp }))
        }
        KIND_ACK if c.0.len() % 8 == 0 && !c.0.is_empty() => {
            let mut ids = Vec::with_capacity(c.0.len() / 8);
            while let Some(id) = c.u64() {
                ids.push(id);
            }
            Some(Entry::Acks(ids))
        }
        _ => None,
    }
}

/// Reads the entry at `off` of `file` (of length `len`): `Ok(None)` at the end, `Err(reason)` for
/// a torn or corrupt entry, else the entry and the offset after it.
fn read_entry(file: &File, off: u64, len: u64) -> Result<Option<(Entry, u64)>, String> {
    if off == len {
        return Ok(None);
    }
    if len - off < 8 {
        return Err(format!("a torn entry header ({} of 8 bytes)", len - off));
    }
    let mut h = [0u8; 8];
    file.read_exact_at(&mut h, off).map_err(|e| format!("read error: {e}"))?;
    let n = u32::from_le_bytes(h[..4].try_into().unwrap());
    let crc = u32::from_le_bytes(h[4..].try_into().unwrap());
    if n == 0 || n > MAX_ENTRY {
        return Err(format!("an entry length of {n} bytes, which no entry has"));
    }
    if off + 8 + n as u64 > len {
        return Err(format!("a torn entry ({} of {} bytes)", len - off - 8, n));
    }
    let mut payload = vec![0u8; n as usize];
    file.read_exact_at(&mut payload, off + 8).map_err(|e| format!("read error: {e}"))?;
    if crc32c::crc32c(&payload) != crc {
        return Err("an entry whose CRC does not match".into());
    }
    match decode(&payload) {
        Some(e) => Ok(Some((e, off + 8 + n as u64))),
        None => Err("an entry that does not decode".into()),
    }
}

/// Takes the directory's lock file, or says who holds it.
fn lock_dir(dir: &Path) -> std::io::Result<File> {
    use std::os::unix::io::AsRawFd;
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
            let path = dir.join(segment_name(first));
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let len = file.metadata()?.len();
            let mut off = HEAD as u64;
            let mut bad = None;
            let mut magic = [0u8; 8];
            if len < HEAD as u64 || file.read_exact_at(&mut magic, 0).is_err() || &magic != MAGIC {
                off = 0;
                bad = Some("no segment header".to_string());
            } else {
                loop {
                    match read_entry(&file, off, len) {
                        Ok(None) => break,
                        Ok(Some((Entry::Record(r), end))) => {
                            ids.insert(r.id, first);
                            next_id = next_id.max(r.id + 1);
                            off = end;
                        }
                        Ok(Some((Entry::Acks(a), end))) => {
                            acked.extend(a);
                            off = end;
                        }
                        Err(reason) => {
                            bad = Some(reason);
                            break;
                        }
                    }
                }
            }
            if let Some(reason) = bad {
                let d = Damage { segment: path.clone(), at: off, dropped_bytes: len - off, reason };
                log::warn!("spool: {} holds {} at byte {}: truncated there, {} byte(s) dropped", d.segment.display(), d.reason, d.at, d.dropped_bytes);
                if off == 0 {
                    file.set_len(0)?;
                    (&file).write_all(MAGIC)?;
                    off = HEAD as u64;
                } else {
                    file.set_len(off)?;
                }
                file.sync_all()?;
                damage.push(d);
            }
            bytes += off;
            segments.insert(first, Segment { path, file, len: off, unacked: 0 });
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
            segment_bytes: (max_bytes / 8).clamp(4096, 64 << 20),
            cursor,
            skip: acked,
            unread: unacked,
            unacked,
            dirty: false,
            lock,
        };
        log.new_segment()?;
        log.delete_acked()?;
        Ok((log, damage))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of every segment on disk.
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

    fn new_segment(&mut self) -> std::io::Result<()> {
        let first = self.next_id;
        if self.segments.contains_key(&first) {
            // The newest segment has no record yet (its name is the next id): keep appending to it.
            return Ok(());
        }
        if let Some(prev) = self.segments.values().next_back() {
            // What the full segment holds reaches the disk before records go to the next one.
            prev.file.sync_data()?;
        }
        let path = self.dir.join(segment_name(first));
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
        file.write_all(MAGIC)?;
        self.bytes += HEAD as u64;
        self.segments.insert(first, Segment { path, file, len: HEAD as u64, unacked: 0 });
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn tail(&mut self) -> &mut Segment {
        self.segments.values_mut().next_back().expect("the log always has a segment")
    }

    /// The bytes appending an entry with this payload length adds.
    pub fn entry_bytes(payload_len: usize) -> u64 {
        8 + payload_len as u64
    }

    /// Appends a record (its payload encoded by [`encode_record`] with id [`SpoolLog::next_id`]).
    /// `advance`: the record is sent directly, so the cursor moves past it (only when the cursor
    /// is at the end already).
    pub fn append_record(&mut self, payload: &[u8], advance: bool) -> std::io::Result<u64> {
        if self.tail().len >= self.segment_bytes {
            self.new_segment()?;
        }
        let id = self.next_id;
        let at_end = self.cursor_at_end();
        self.write_entry(payload)?;
        self.next_id += 1;
        self.tail().unacked += 1;
        self.unacked += 1;
        if advance && at_end {
            let (first, len) = {
                let (f, s) = self.segments.iter().next_back().unwrap();
                (*f, s.len)
            };
            self.cursor = (first, len);
        } else {
            self.unread += 1;
        }
        Ok(id)
    }

    fn write_entry(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(8 + payload.len());
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        buf.extend_from_slice(payload);
        let seg = self.tail();
        let at = seg.len;
        if let Err(e) = seg.file.write_all_at(&buf, at) {
            // Leave no half entry behind for the next append to follow.
            let _ = seg.file.set_len(at);
            return Err(e);
        }
        seg.len += buf.len() as u64;
        self.bytes += buf.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Whether the cursor has read everything appended.
    pub fn cursor_at_end(&self) -> bool {
        self.unread == 0
    }

    /// The next record not yet handed to the sending path, advancing the cursor past it.
    pub fn next_unsent(&mut self) -> std::io::Result<Option<SpooledRecord>> {
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
            match read_entry(&seg.file, off, seg.len).map_err(std::io::Error::other)? {
                None => {
                    let next = self.segments.range(first + 1..).next().map(|(f, _)| *f);
                    match next {
                        Some(f) => self.cursor = (f, HEAD as u64),
                        None => return Err(std::io::Error::other("spool: records counted unread but none is left to read")),
                    }
                }
                Some((Entry::Acks(_), end)) => self.cursor = (first, end),
                Some((Entry::Record(r), end)) => {
                    self.cursor = (first, end);
                    if self.skip.remove(&r.id) {
                        continue;
                    }
                    self.unread -= 1;
                    return Ok(Some(r));
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
        let (first, at) = self.cursor;
        for (&f, seg) in self.segments.range(first..) {
            let mut off = if f == first { at } else { HEAD as u64 };
            while let Some((e, end)) = read_entry(&seg.file, off, seg.len).map_err(std::io::Error::other)? {
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

    /// Appends an ack marker for `ids` (reported records) and deletes the segments no longer
    /// needed.
    pub fn ack(&mut self, ids: &[u64]) -> std::io::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut payload = Vec::with_capacity(1 + 8 * ids.len());
        payload.push(KIND_ACK);
        for id in ids {
            payload.extend_from_slice(&id.to_le_bytes());
        }
        self.write_entry(&payload)?;
        for &id in ids {
            if let Some((_, seg)) = self.segments.range_mut(..=id).next_back() {
                seg.unacked = seg.unacked.saturating_sub(1);
                self.unacked = self.unacked.saturating_sub(1);
            }
        }
        if self.tail().len >= self.segment_bytes && self.tail().unacked == 0 && self.unacked == 0 {
            // Everything is acknowledged: start afresh, so the full segment can go.
            self.new_segment()?;
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

    /// A handle to the newest segment, to sync outside the lock.
    pub fn tail_file(&self) -> std::io::Result<File> {
        self.segments.values().next_back().expect("the log always has a segment").file.try_clone()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The lock file (held while the log lives).
    pub fn lock_file(&self) -> &File {
        &self.lock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rafka-spool-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn append(log: &mut SpoolLog, topic: &str, value: &[u8]) -> u64 {
        let mut p = Vec::new();
        let h: [(&str, Option<&[u8]>); 2] = [("h1", Some(b"v1")), ("h2", None)];
        encode_record(&SpoolRecordRef { id: log.next_id(), topic, partition: Some(3), key: Some(b"k"), value: Some(value), headers: &h, timestamp: 42 }, &mut p);
        log.append_record(&p, false).unwrap()
    }

    fn drain(log: &mut SpoolLog) -> Vec<SpooledRecord> {
        let mut v = Vec::new();
        while let Some(r) = log.next_unsent().unwrap() {
            v.push(r);
        }
        v
    }

    #[test]
    fn records_round_trip_with_every_field_and_ids_keep_growing_across_a_reopen() {
        let d = tmp("roundtrip");
        let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
        assert!(damage.is_empty());
        let a = append(&mut log, "t", b"one");
        let b = append(&mut log, "t", b"two");
        assert_eq!(b, a + 1);
        let got = drain(&mut log);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], SpooledRecord { id: a, topic: "t".into(), partition: Some(3), key: Some(b"k".to_vec()), value: Some(b"one".to_vec()), headers: vec![("h1".into(), Some(b"v1".to_vec())), ("h2".into(), None)], timestamp: 42 });
        drop(log);
        let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
        let got = drain(&mut log);
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [a, b], "unacked records come back after a reopen");
        assert!(append(&mut log, "t", b"three") > b);
    }

    #[test]
    fn acknowledged_records_are_not_recovered() {
        let d = tmp("acks");
        let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
        let ids: Vec<u64> = (0..5).map(|i| append(&mut log, "t", format!("v{i}").as_bytes())).collect();
        log.ack(&[ids[0], ids[2]]).unwrap();
        log.ack(&[ids[4]]).unwrap();
        drop(log);
        let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
        assert_eq!(log.unacked(), 2);
        let got: Vec<u64> = drain(&mut log).iter().map(|r| r.id).collect();
        assert_eq!(got, [ids[1], ids[3]]);
    }

    #[test]
    fn a_torn_tail_is_truncated_and_the_records_before_it_kept() {
        let d = tmp("torn");
        let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
        for i in 0..3 {
            append(&mut log, "t", format!("v{i}").as_bytes());
        }
        let seg = log.segments.values().next_back().unwrap().path.clone();
        drop(log);
        let len = std::fs::metadata(&seg).unwrap().len();
        // A power loss in the middle of the last entry.
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 5).unwrap();
        let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
        assert_eq!(damage.len(), 1, "{damage:?}");
        assert!(damage[0].reason.contains("torn"), "{}", damage[0].reason);
        assert_eq!(damage[0].dropped_bytes + damage[0].at, len - 5);
        let got: Vec<Vec<u8>> = drain(&mut log).into_iter().map(|r| r.value.unwrap()).collect();
        assert_eq!(got, [b"v0".to_vec(), b"v1".to_vec()]);
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), damage[0].at, "the file is truncated at the last good entry");
    }

    #[test]
    fn a_corrupt_entry_ends_its_segment_and_later_segments_are_read_on() {
        let d = tmp("corrupt");
        // Small segments: a few records each.
        let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
        let big = vec![7u8; 1500];
        let mut ids = Vec::new();
        for _ in 0..9 {
            ids.push(append(&mut log, "t", &big));
        }
        assert!(log.segment_count() >= 3, "{}", log.segment_count());
        let first = log.segments.values().next().unwrap().path.clone();
        let in_first = ids.iter().filter(|&&id| log.segments.range(..=id).next_back().unwrap().0 == log.segments.keys().next().unwrap()).count();
        drop(log);
        // Flip a byte of the first record's value in the oldest segment.
        let f = OpenOptions::new().read(true).write(true).open(&first).unwrap();
        f.write_all_at(&[0xff], HEAD as u64 + 100).unwrap();
        let (mut log, damage) = SpoolLog::open(&d, 8 * 4096).unwrap();
        assert_eq!(damage.len(), 1);
        assert!(damage[0].reason.contains("CRC"), "{}", damage[0].reason);
        assert_eq!(damage[0].at, HEAD as u64);
        let got: Vec<u64> = drain(&mut log).iter().map(|r| r.id).collect();
        assert_eq!(got, ids[in_first..], "every record of the later segments is kept");
    }

    #[test]
    fn garbage_in_a_segment_file_never_panics() {
        let d = tmp("garbage");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(segment_name(1)), b"not a segment at all").unwrap();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
        std::fs::write(d.join(segment_name(5)), &bytes).unwrap();
        let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
        assert_eq!(damage.len(), 2, "{damage:?}");
        assert!(drain(&mut log).is_empty());
        append(&mut log, "t", b"after");
        assert_eq!(drain(&mut log).len(), 1);
    }

    #[test]
    fn a_segment_is_deleted_once_all_its_records_are_acknowledged() {
        let d = tmp("delete");
        let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
        let big = vec![1u8; 1500];
        let ids: Vec<u64> = (0..12).map(|_| append(&mut log, "t", &big)).collect();
        assert_eq!(drain(&mut log).len(), 12);
        let n = log.segment_count();
        assert!(n >= 3);
        let count = || std::fs::read_dir(&d).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg")).count();
        assert_eq!(count(), n);
        // Acking a later segment's records deletes nothing while the oldest has unacked ones.
        log.ack(&ids[6..]).unwrap();
        assert_eq!(count(), n);
        log.ack(&ids[..6]).unwrap();
        assert!(count() < n, "acknowledged segments are deleted");
        assert_eq!(log.unacked(), 0);
        drop(log);
        let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
        assert!(drain(&mut log).is_empty());
    }

    #[test]
    fn records_taken_out_by_a_purge_are_skipped_by_the_cursor_and_not_recovered() {
        let d = tmp("purge");
        let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
        let big = vec![2u8; 1500];
        // Over several segments: topics a and b, partition 3 (append's) or none.
        let mut ids = Vec::new();
        for i in 0..12 {
            let mut p = Vec::new();
            let topic = if i % 2 == 0 { "a" } else { "b" };
            let partition = (i % 3 != 0).then_some(3);
            encode_record(&SpoolRecordRef { id: log.next_id(), topic, partition, key: None, value: Some(&big), headers: &[], timestamp: i }, &mut p);
            ids.push(log.append_record(&p, false).unwrap());
        }
        assert!(log.segment_count() >= 3);
        let first = log.next_unsent().unwrap().unwrap();
        assert_eq!(first.id, ids[0]);
        // Topic a, partition 3 only: not the record the cursor read, not those without a partition.
        let taken = log.take_unread_matching(&|t, p| t == "a" && p == Some(3)).unwrap();
        let want: Vec<u64> = (1..12).filter(|i| i % 2 == 0 && i % 3 != 0).map(|i| ids[i]).collect();
        assert_eq!(taken.iter().map(|r| r.id).collect::<Vec<_>>(), want);
        assert_eq!(log.unread(), 11 - want.len() as u64);
        assert!(log.take_unread_matching(&|t, p| t == "a" && p == Some(3)).unwrap().is_empty(), "taken once");
        log.ack(&want).unwrap();
        let rest: Vec<u64> = drain(&mut log).iter().map(|r| r.id).collect();
        let expect: Vec<u64> = ids[1..].iter().copied().filter(|id| !want.contains(id)).collect();
        assert_eq!(rest, expect, "the cursor skips the purged records");
        drop(log);
        let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
        let again: Vec<u64> = drain(&mut log).iter().map(|r| r.id).collect();
        assert_eq!(again, ids.iter().copied().filter(|id| !want.contains(id)).collect::<Vec<_>>(), "purged records are not recovered");
    }

    #[test]
    fn a_second_open_of_the_directory_is_refused_naming_it_and_the_holder() {
        let d = tmp("lock");
        let (log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
        let e = SpoolLog::open(&d, 1 << 20).err().expect("second open refused");
        let msg = e.to_string();
        assert!(msg.contains(&d.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("process {}", std::process::id())), "{msg}");
        drop(log);
        assert!(SpoolLog::open(&d, 1 << 20).is_ok(), "free again once the first is closed");
    }
}
