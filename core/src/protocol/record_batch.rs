//! RecordBatch v2 (magic 2), the only record format Produce v3+ carries.
//!
//! Batch header, 61 bytes, big-endian (offsets in bytes):
//! ```text
//!  0 baseOffset i64        8 batchLength i32      12 partitionLeaderEpoch i32
//! 16 magic i8 (=2)        17 crc u32 (CRC-32C of bytes 21..end)
//! 21 attributes i16       23 lastOffsetDelta i32  27 baseTimestamp i64
//! 35 maxTimestamp i64     43 producerId i64       51 producerEpoch i16
//! 53 baseSequence i32     57 recordCount i32      61 records...
//! ```
//! `batchLength` counts the bytes after itself (total - 12). Each record is
//! `[length varint][attributes i8][timestampDelta varlong][offsetDelta varint][body]`, where the
//! body is `[keyLen varint][key][valueLen varint][value][headerCount varint][headers]` and each
//! header is `[keyLen varint][key utf8][valueLen varint][value]`; `-1` lengths mean null.
//!
//! The engine encodes in two steps so that it can size a batch before writing it:
//! [`record_body_len`]/[`encode_record_body`] for the part that does not depend on the record's
//! place in the batch, then [`record_len`]/[`write_record`] once the deltas are known; the batch
//! itself is framed by [`begin_batch`] and [`finish_batch`].

use std::mem::MaybeUninit;

use super::primitives::{varint_len, varlong_len, zigzag32, DecodeError, Decoder, WireWrite};

/// Size of the v2 batch header, before the first record.
pub const RECORD_BATCH_OVERHEAD: usize = 61;
/// The record format this module reads and writes.
pub const MAGIC_V2: i8 = 2;

/// Offset of the `batchLength` field, and the bytes it does not count (baseOffset + itself).
const BATCH_LENGTH_OFFSET: usize = 8;
const LOG_OVERHEAD: usize = 12;
const MAGIC_OFFSET: usize = 16;
const CRC_OFFSET: usize = 17;
/// The CRC covers everything from `attributes` to the end of the batch.
const ATTRIBUTES_OFFSET: usize = 21;

/// Attribute bits (Kafka's `DefaultRecordBatch`).
pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
pub const ATTR_TIMESTAMP_TYPE_LOG_APPEND: i16 = 0x08;
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
pub const ATTR_CONTROL: i16 = 0x20;
pub const ATTR_DELETE_HORIZON: i16 = 0x40;

/// Compression codecs in the low three attribute bits.
pub const COMPRESSION_NONE: i16 = 0;
pub const COMPRESSION_GZIP: i16 = 1;
pub const COMPRESSION_SNAPPY: i16 = 2;
pub const COMPRESSION_LZ4: i16 = 3;
pub const COMPRESSION_ZSTD: i16 = 4;

/// The header fields the writer supplies. When producing: `base_offset` 0,
/// `partition_leader_epoch` -1; without idempotence `producer_id`, `producer_epoch` and
/// `base_sequence` are all -1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub partition_leader_epoch: i32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

/// A record as read back from a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord {
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A batch as read back: its header and its records (uncompressed batches only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBatch {
    pub header: BatchHeader,
    /// The CRC-32C stored in the batch (already verified).
    pub crc: u32,
    pub records: Vec<DecodedRecord>,
}

fn opt_len(b: Option<&[u8]>) -> usize {
    match b {
        Some(b) => varint_len(b.len() as i32) + b.len(),
        None => varint_len(-1),
    }
}

/// Bytes [`encode_record_body`] will write for these fields.
pub fn record_body_len(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&[u8], Option<&[u8]>)],
) -> usize {
    let mut n = opt_len(key) + opt_len(value) + varint_len(headers.len() as i32);
    for (hk, hv) in headers {
        n += varint_len(hk.len() as i32) + hk.len() + opt_len(*hv);
    }
    n
}

/// Writes into a slice sized by [`record_body_len`] (possibly uninitialised memory, which it
/// fills); a write past its end is a bug and panics.
struct SliceWriter<'a> {
    out: &'a mut [MaybeUninit<u8>],
    pos: usize,
}

impl SliceWriter<'_> {
    #[inline]
    fn varint(&mut self, v: i32) {
        let mut v = zigzag32(v);
        while v >= 0x80 {
            self.out[self.pos].write((v as u8) | 0x80);
            self.pos += 1;
            v >>= 7;
        }
        self.out[self.pos].write(v as u8);
        self.pos += 1;
    }
    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        let dst = &mut self.out[self.pos..self.pos + b.len()];
        // SAFETY: `dst` is exactly `b.len()` bytes (checked by the indexing above); u8 has no
        // invalid values and the ranges cannot overlap (`out` is borrowed mutably).
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), dst.as_mut_ptr().cast::<u8>(), b.len()) };
        self.pos += b.len();
    }
    #[inline]
    fn opt(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.varint(b.len() as i32);
                self.bytes(b);
            }
            None => self.varint(-1),
        }
    }
}

/// Writes the part of a record after `offsetDelta`: key, value and headers, into `out`, which
/// must be exactly [`record_body_len`] bytes (panics otherwise). Header keys are the UTF-8 bytes
/// of the header name (Kafka decodes them as UTF-8).
pub fn encode_record_body(out: &mut [u8], key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(&[u8], Option<&[u8]>)]) {
    // SAFETY: the same memory seen as possibly-uninitialised bytes; only u8 values are written.
    let out = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<MaybeUninit<u8>>(), out.len()) };
    encode_record_body_uninit(out, key, value, headers);
}

/// [`encode_record_body`] into memory not initialised yet; every byte of `out` is written (or it
/// panics).
#[inline]
pub(crate) fn encode_record_body_uninit(
    out: &mut [MaybeUninit<u8>],
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&[u8], Option<&[u8]>)],
) {
    let mut w = SliceWriter { out, pos: 0 };
    w.opt(key);
    w.opt(value);
    w.varint(headers.len() as i32);
    for (hk, hv) in headers {
        w.varint(hk.len() as i32);
        w.bytes(hk);
        w.opt(*hv);
    }
    assert_eq!(w.pos, w.out.len(), "encode_record_body: the slice is not record_body_len bytes");
}

/// A record's key and value, each `None` when null.
pub type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// The key and value back out of a body written by [`encode_record_body`] (for choosing a
/// partition after the record was encoded). `None` when `body` is not such a body.
pub fn body_key_value(body: &[u8]) -> Option<KeyValue<'_>> {
    fn opt<'a>(d: &mut Decoder<'a>) -> Option<Option<&'a [u8]>> {
        let len = d.varint("length").ok()?;
        if len < 0 {
            return Some(None);
        }
        d.take(len as usize, "bytes").ok().map(Some)
    }
    let mut d = Decoder::new(body);
    let key = opt(&mut d)?;
    let value = opt(&mut d)?;
    Some((key, value))
}

/// Length of the record's inner part (what its length varint counts).
fn record_inner_len(timestamp_delta: i64, offset_delta: i32, body_len: usize) -> usize {
    1 + varlong_len(timestamp_delta) + varint_len(offset_delta) + body_len
}

/// Total bytes [`write_record`] will append, the leading length varint included.
pub fn record_len(timestamp_delta: i64, offset_delta: i32, body_len: usize) -> usize {
    let inner = record_inner_len(timestamp_delta, offset_delta, body_len);
    varint_len(inner as i32) + inner
}

/// Appends one record: length, attributes (0), timestamp delta, offset delta, then `body` as
/// produced by [`encode_record_body`].
pub fn write_record(buf: &mut Vec<u8>, timestamp_delta: i64, offset_delta: i32, body: &[u8]) {
    let inner = record_inner_len(timestamp_delta, offset_delta, body.len());
    buf.put_varint(inner as i32);
    buf.put_i8(0);
    buf.put_varlong(timestamp_delta);
    buf.put_varint(offset_delta);
    buf.extend_from_slice(body);
}

/// Reserves the 61-byte header at the end of `buf` and returns where the batch starts; append
/// records with [`write_record`], then call [`finish_batch`].
pub fn begin_batch(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.resize(start + RECORD_BATCH_OVERHEAD, 0);
    start
}

/// Fills in the header of the batch that starts at `start` and runs to the end of `buf`:
/// the fields of `header`, magic 2, `batchLength`, and the CRC-32C over attributes..end.
#[allow(clippy::ptr_arg)] // kept as Vec for symmetry with begin_batch
pub fn finish_batch(buf: &mut Vec<u8>, start: usize, header: &BatchHeader) {
    assert!(
        buf.len() >= start + RECORD_BATCH_OVERHEAD,
        "finish_batch: no header reserved at {start}"
    );
    let batch_length = i32::try_from(buf.len() - start - LOG_OVERHEAD).expect("batch over 2 GiB");
    let h = &mut buf[start..start + RECORD_BATCH_OVERHEAD];
    h[0..8].copy_from_slice(&header.base_offset.to_be_bytes());
    h[8..12].copy_from_slice(&batch_length.to_be_bytes());
    h[12..16].copy_from_slice(&header.partition_leader_epoch.to_be_bytes());
    h[16] = MAGIC_V2 as u8;
    h[21..23].copy_from_slice(&header.attributes.to_be_bytes());
    h[23..27].copy_from_slice(&header.last_offset_delta.to_be_bytes());
    h[27..35].copy_from_slice(&header.base_timestamp.to_be_bytes());
    h[35..43].copy_from_slice(&header.max_timestamp.to_be_bytes());
    h[43..51].copy_from_slice(&header.producer_id.to_be_bytes());
    h[51..53].copy_from_slice(&header.producer_epoch.to_be_bytes());
    h[53..57].copy_from_slice(&header.base_sequence.to_be_bytes());
    h[57..61].copy_from_slice(&header.record_count.to_be_bytes());
    let crc = crc32c::crc32c(&buf[start + ATTRIBUTES_OFFSET..]);
    buf[start + CRC_OFFSET..start + CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Parses a concatenation of v2 batches (what a Produce request carries for one partition, or a
/// fetch returns), verifying each CRC-32C and decoding the records of uncompressed batches.
/// A compressed batch is reported as [`DecodeError::CompressedBatch`].
pub fn decode_record_batches(data: &[u8]) -> Result<Vec<DecodedBatch>, DecodeError> {
    let mut d = Decoder::new(data);
    let mut out = Vec::new();
    while !d.is_empty() {
        out.push(decode_one_batch(&mut d)?);
    }
    Ok(out)
}

fn decode_one_batch(d: &mut Decoder<'_>) -> Result<DecodedBatch, DecodeError> {
    let batch_start = d.rest();
    let base_offset = d.i64("batch.base_offset")?;
    let batch_length = d.i32("batch.batch_length")?;
    let min_len = (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) as i32;
    if batch_length < min_len {
        return Err(DecodeError::Invalid {
            field: "batch.batch_length",
            reason: "shorter than the v2 batch header",
        });
    }
    let body = d.take(batch_length as usize, "batch.records")?;
    let whole = &batch_start[..LOG_OVERHEAD + batch_length as usize];
    debug_assert_eq!(whole.len() - BATCH_LENGTH_OFFSET - 4, body.len());

    let mut h = Decoder::new(body);
    let partition_leader_epoch = h.i32("batch.partition_leader_epoch")?;
    let magic = h.i8("batch.magic")?;
    if magic != MAGIC_V2 {
        return Err(DecodeError::UnsupportedMagic { magic });
    }
    debug_assert_eq!(LOG_OVERHEAD + h.position(), CRC_OFFSET);
    let stored = h.u32("batch.crc")?;
    let computed = crc32c::crc32c(&whole[ATTRIBUTES_OFFSET..]);
    if stored != computed {
        return Err(DecodeError::CrcMismatch { stored, computed });
    }
    debug_assert_eq!(whole[MAGIC_OFFSET] as i8, MAGIC_V2);
    let header = BatchHeader {
        base_offset,
        partition_leader_epoch,
        attributes: h.i16("batch.attributes")?,
        last_offset_delta: h.i32("batch.last_offset_delta")?,
        base_timestamp: h.i64("batch.base_timestamp")?,
        max_timestamp: h.i64("batch.max_timestamp")?,
        producer_id: h.i64("batch.producer_id")?,
        producer_epoch: h.i16("batch.producer_epoch")?,
        base_sequence: h.i32("batch.base_sequence")?,
        record_count: h.i32("batch.record_count")?,
    };
    let codec = header.attributes & ATTR_COMPRESSION_MASK;
    if codec != COMPRESSION_NONE {
        return Err(DecodeError::CompressedBatch { codec: codec as u8 });
    }
    if header.record_count < 0 {
        return Err(DecodeError::NegativeLength {
            field: "batch.record_count",
            len: header.record_count as i64,
        });
    }
    // The smallest record is 7 bytes (length, attributes, two deltas, null key, null value, no
    // headers), which bounds the count before anything is allocated.
    let count = header.record_count as usize;
    if count.saturating_mul(7) > h.remaining() {
        return Err(DecodeError::LengthExceedsRemaining {
            field: "batch.record_count",
            len: count,
            remaining: h.remaining(),
        });
    }
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        records.push(decode_record(&mut h)?);
    }
    if !h.is_empty() {
        return Err(DecodeError::Invalid {
            field: "batch.records",
            reason: "bytes left after the declared record count",
        });
    }
    Ok(DecodedBatch {
        header,
        crc: stored,
        records,
    })
}

fn opt_bytes(d: &mut Decoder<'_>, field: &'static str) -> Result<Option<Vec<u8>>, DecodeError> {
    match d.varint(field)? {
        -1 => Ok(None),
        n if n < 0 => Err(DecodeError::NegativeLength {
            field,
            len: n as i64,
        }),
        n => {
            let n = n as usize;
            if n > d.remaining() {
                return Err(DecodeError::LengthExceedsRemaining {
                    field,
                    len: n,
                    remaining: d.remaining(),
                });
            }
            Ok(Some(d.take(n, field)?.to_vec()))
        }
    }
}

fn decode_record(d: &mut Decoder<'_>) -> Result<DecodedRecord, DecodeError> {
    let len = d.varint("record.length")?;
    if len < 0 {
        return Err(DecodeError::NegativeLength {
            field: "record.length",
            len: len as i64,
        });
    }
    if len as usize > d.remaining() {
        return Err(DecodeError::LengthExceedsRemaining {
            field: "record.length",
            len: len as usize,
            remaining: d.remaining(),
        });
    }
    let mut r = Decoder::new(d.take(len as usize, "record")?);
    let _attributes = r.i8("record.attributes")?;
    let timestamp_delta = r.varlong("record.timestamp_delta")?;
    let offset_delta = r.varint("record.offset_delta")?;
    let key = opt_bytes(&mut r, "record.key")?;
    let value = opt_bytes(&mut r, "record.value")?;
    let header_count = r.varint("record.header_count")?;
    if header_count < 0 {
        return Err(DecodeError::NegativeLength {
            field: "record.header_count",
            len: header_count as i64,
        });
    }
    // A header takes at least 2 bytes (key length and value length).
    let header_count = header_count as usize;
    if header_count.saturating_mul(2) > r.remaining() {
        return Err(DecodeError::LengthExceedsRemaining {
            field: "record.header_count",
            len: header_count,
            remaining: r.remaining(),
        });
    }
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let key = opt_bytes(&mut r, "record.header.key")?.ok_or(DecodeError::UnexpectedNull {
            field: "record.header.key",
        })?;
        let key = String::from_utf8(key).map_err(|_| DecodeError::BadUtf8 {
            field: "record.header.key",
        })?;
        let value = opt_bytes(&mut r, "record.header.value")?;
        headers.push((key, value));
    }
    if !r.is_empty() {
        return Err(DecodeError::Invalid {
            field: "record",
            reason: "record length does not match its fields",
        });
    }
    Ok(DecodedRecord {
        offset_delta,
        timestamp_delta,
        key,
        value,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_key_value_reads_back_what_encode_record_body_wrote() {
        let cases: [KeyValue<'_>; 4] = [(Some(b"k"), Some(b"value")), (None, Some(b"v")), (Some(b""), None), (None, None)];
        for (key, value) in cases {
            let headers: [(&[u8], Option<&[u8]>); 1] = [(b"h", Some(b"x"))];
            let mut body = vec![0u8; record_body_len(key, value, &headers)];
            encode_record_body(&mut body, key, value, &headers);
            assert_eq!(body_key_value(&body), Some((key, value)));
        }
        assert_eq!(body_key_value(&[0x0a, b'a']), None, "a key of 5 bytes with 1 present");
    }

    #[test]
    fn record_len_matches_what_write_record_appends() {
        for (ts, off, body) in [(0i64, 0i32, 0usize), (-5, 3, 10), (1 << 40, 70000, 200)] {
            let mut b = Vec::new();
            write_record(&mut b, ts, off, &vec![0u8; body]);
            assert_eq!(b.len(), record_len(ts, off, body));
        }
    }
}
