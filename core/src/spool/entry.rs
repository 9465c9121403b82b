//! The spool's entries: what one record or ack marker looks like inside a segment
//! (`u32 length | u32 crc32c(payload) | payload`, the payload as the log's module doc gives it),
//! written by [`SpoolRecordRef`] and read back by [`read_entry`]. The segments, their mapping and
//! recovery are in `log.rs`. Nothing here holds state.

pub(super) const KIND_RECORD: u8 = 1;
/// Format 1's ack marker: `id u64...`.
pub(super) const KIND_ACK_IDS: u8 = 2;
/// `(first id u64, count u32)...`.
pub(super) const KIND_ACK_RUNS: u8 = 3;
/// The largest entry accepted when reading: a length beyond it is corruption, not a record.
pub(super) const MAX_ENTRY: u32 = 1 << 30;

/// One record as the spool keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// A record to append, borrowed from `send()`'s arguments.
pub struct SpoolRecordRef<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    pub timestamp: i64,
}

impl SpoolRecordRef<'_> {
    /// The bytes of its payload.
    pub fn payload_len(&self) -> usize {
        let opt = |b: Option<&[u8]>| 4 + b.map_or(0, |b| b.len());
        1 + 8 + 8 + 4 + 2 + self.topic.len() + opt(self.key) + opt(self.value) + 4 + self.headers.iter().map(|(k, v)| 4 + k.len() + opt(*v)).sum::<usize>()
    }

    /// Writes its payload with `id` into `out`, exactly [`SpoolRecordRef::payload_len`] bytes.
    pub(super) fn write(&self, id: u64, out: &mut [u8]) {
        let mut w = Put(out);
        w.put(&[KIND_RECORD]);
        w.put(&id.to_le_bytes());
        w.put(&self.timestamp.to_le_bytes());
        w.put(&self.partition.unwrap_or(-1).to_le_bytes());
        w.put(&(self.topic.len() as u16).to_le_bytes());
        w.put(self.topic.as_bytes());
        w.opt(self.key);
        w.opt(self.value);
        w.put(&(self.headers.len() as u32).to_le_bytes());
        for (k, v) in self.headers {
            w.put(&(k.len() as u32).to_le_bytes());
            w.put(k.as_bytes());
            w.opt(*v);
        }
        assert!(w.0.is_empty(), "a spool record shorter than its payload_len");
    }
}

/// Writes into a slice from the front.
pub(super) struct Put<'a>(pub(super) &'a mut [u8]);

impl Put<'_> {
    pub(super) fn put(&mut self, b: &[u8]) {
        let (head, rest) = std::mem::take(&mut self.0).split_at_mut(b.len());
        head.copy_from_slice(b);
        self.0 = rest;
    }
    pub(super) fn opt(&mut self, b: Option<&[u8]>) {
        match b {
            None => self.put(&(-1i32).to_le_bytes()),
            Some(b) => {
                self.put(&(b.len() as i32).to_le_bytes());
                self.put(b);
            }
        }
    }
}

/// An entry's payload, read back.
pub(super) enum Entry {
    Record(SpooledRecord),
    /// Runs of acknowledged ids: (first, count).
    Acks(Vec<(u64, u64)>),
}

pub(super) struct Cur<'a>(&'a [u8]);

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
    /// A nullable byte string (`i32` length, -1: null) into `dst`, keeping its vector's
    /// allocation.
    fn opt_into(&mut self, dst: &mut Option<Vec<u8>>) -> Option<()> {
        let n = self.u32()? as i32;
        if n < 0 {
            *dst = None;
            return Some(());
        }
        let b = self.take(n as usize)?;
        let mut v = dst.take().unwrap_or_default();
        v.clear();
        v.extend_from_slice(b);
        *dst = Some(v);
        Some(())
    }
}

/// Decodes a record entry into `r`, reusing its strings and vectors (the drainer reads every
/// record back: a fresh allocation for each field showed in its profile); `Some(false)` for a
/// valid ack marker, which is not decoded; `None` for an entry that does not decode.
pub(super) fn decode_record_into(payload: &[u8], r: &mut SpooledRecord) -> Option<bool> {
    let mut c = Cur(payload);
    match c.take(1)?[0] {
        KIND_RECORD => {
            r.id = c.u64()?;
            r.timestamp = c.u64()? as i64;
            let partition = c.u32()? as i32;
            r.partition = (partition >= 0).then_some(partition);
            let tn = c.u16()? as usize;
            r.topic.clear();
            r.topic.push_str(std::str::from_utf8(c.take(tn)?).ok()?);
            c.opt_into(&mut r.key)?;
            c.opt_into(&mut r.value)?;
            let n = c.u32()? as usize;
            r.headers.clear();
            for _ in 0..n {
                let kn = c.u32()? as usize;
                let k = String::from_utf8(c.take(kn)?.to_vec()).ok()?;
                let mut v = None;
                c.opt_into(&mut v)?;
                r.headers.push((k, v));
            }
            c.0.is_empty().then_some(true)
        }
        KIND_ACK_IDS if c.0.len() % 8 == 0 && !c.0.is_empty() => Some(false),
        KIND_ACK_RUNS if c.0.len() % 12 == 0 && !c.0.is_empty() => Some(false),
        _ => None,
    }
}

pub(super) fn decode(payload: &[u8]) -> Option<Entry> {
    let mut c = Cur(payload);
    match c.take(1)?[0] {
        KIND_RECORD => {
            let mut r = SpooledRecord::default();
            decode_record_into(payload, &mut r)?.then_some(Entry::Record(r))
        }
        KIND_ACK_IDS if c.0.len() % 8 == 0 && !c.0.is_empty() => {
            let mut runs = Vec::with_capacity(c.0.len() / 8);
            while let Some(id) = c.u64() {
                runs.push((id, 1));
            }
            Some(Entry::Acks(runs))
        }
        KIND_ACK_RUNS if c.0.len() % 12 == 0 && !c.0.is_empty() => {
            let mut runs = Vec::with_capacity(c.0.len() / 12);
            while let (Some(first), Some(count)) = (c.u64(), c.u32()) {
                runs.push((first, count as u64));
            }
            Some(Entry::Acks(runs))
        }
        _ => None,
    }
}

/// `ids` as runs of consecutive ids (first, count), in the order given.
pub(super) fn runs(ids: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &id in ids {
        match out.last_mut() {
            Some((first, count)) if *first + *count == id && *count < u32::MAX as u64 => *count += 1,
            _ => out.push((id, 1)),
        }
    }
    out
}

/// Whether `b` is all zeros.
pub(super) fn zeros(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// Reads the entry at `off` of `buf` (a segment's bytes up to where its entries may end):
/// `Ok(None)` at the end (the end of `buf`, or zeros from `off` on), `Err(reason)` for a torn
/// or corrupt entry, else the entry and the offset after it.
pub(super) fn read_entry(buf: &[u8], off: u64) -> Result<Option<(Entry, u64)>, String> {
    read_entry_with(buf, off, |payload| decode(payload).ok_or_else(|| "an entry that does not decode".to_string()))
}

/// As [`read_entry`], with the record read into `r` (see [`decode_record_into`]): whether the
/// entry was a record, and the offset after it.
pub(super) fn read_entry_into(buf: &[u8], off: u64, r: &mut SpooledRecord) -> Result<Option<(bool, u64)>, String> {
    read_entry_with(buf, off, |payload| decode_record_into(payload, r).ok_or_else(|| "an entry that does not decode".to_string()))
}

/// Checks the entry at `off` (length, CRC) and hands its payload to `decode`.
fn read_entry_with<T>(buf: &[u8], off: u64, decode: impl FnOnce(&[u8]) -> Result<T, String>) -> Result<Option<(T, u64)>, String> {
    let len = buf.len() as u64;
    if off >= len {
        return Ok(None);
    }
    let rest = &buf[off as usize..];
    if rest.len() < 8 {
        return if zeros(rest) { Ok(None) } else { Err(format!("a torn entry header ({} of 8 bytes)", rest.len())) };
    }
    let n = u32::from_le_bytes(rest[..4].try_into().unwrap());
    let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap());
    if n == 0 {
        return if zeros(rest) { Ok(None) } else { Err("an entry without its length, with data after it (a write cut short)".into()) };
    }
    if n > MAX_ENTRY {
        return Err(format!("an entry length of {n} bytes, which no entry has"));
    }
    if 8 + n as u64 > rest.len() as u64 {
        return Err(format!("a torn entry ({} of {} bytes)", rest.len() - 8, n));
    }
    let payload = &rest[8..8 + n as usize];
    if crc32c::crc32c(payload) != crc {
        return Err("an entry whose CRC does not match".into());
    }
    decode(payload).map(|e| Some((e, off + 8 + n as u64)))
}
