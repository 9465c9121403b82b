//! Kafka's primitive wire types: fixed-width big-endian integers, zigzag varints, unsigned
//! varints, strings, byte arrays, array lengths and tagged-field sections.
//!
//! Encoding goes through the [`WireWrite`] extension trait on `Vec<u8>` (encoding never fails:
//! the buffer grows). Decoding goes through [`Decoder`], which never trusts a length prefix: a
//! length is checked against the bytes that are left *before* anything is allocated, so a hostile
//! or corrupt frame costs at most its own size in memory and ends in a [`DecodeError`], never a
//! panic.
//!
//! Two families of strings/bytes/arrays exist on the wire:
//! - classic: `i16` length for strings, `i32` for bytes and arrays, `-1` for null;
//! - compact (flexible versions, KIP-482): unsigned varint of `length + 1`, `0` for null.
//!
//! The `*_flex` helpers pick the family from a `flexible` flag so message code reads like the
//! JSON schemas.

use std::fmt;

/// Everything that can be wrong with bytes handed to a decoder. Each variant names the field (or
/// structure) where decoding stopped, so an error in a log says what the peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside `field`: it needed `needed` bytes, `remaining` were left.
    Truncated {
        field: &'static str,
        needed: usize,
        remaining: usize,
    },
    /// A length prefix was negative where null is not allowed (or below -1).
    NegativeLength { field: &'static str, len: i64 },
    /// A length prefix (or element count × minimum element size) is larger than the input left.
    LengthExceedsRemaining {
        field: &'static str,
        len: usize,
        remaining: usize,
    },
    /// A varint ran longer than its type allows.
    BadVarint { field: &'static str },
    /// A string was not valid UTF-8.
    BadUtf8 { field: &'static str },
    /// A null appeared where the schema does not allow one.
    UnexpectedNull { field: &'static str },
    /// A record batch's stored CRC-32C does not match its bytes.
    CrcMismatch { stored: u32, computed: u32 },
    /// A record batch uses a magic byte other than 2.
    UnsupportedMagic { magic: i8 },
    /// A record batch is compressed with the given codec, which this decoder does not inflate yet.
    CompressedBatch { codec: u8 },
    /// A message was asked for at a version outside what this crate implements.
    UnsupportedVersion { api: &'static str, version: i16 },
    /// A frame's size prefix is negative or larger than the allowed maximum.
    FrameTooLarge { len: i64, max: usize },
    /// A structurally invalid value (inconsistent counts, sizes that do not add up...).
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { field, needed, remaining } => write!(
                f,
                "truncated at {field}: needed {needed} byte(s), {remaining} left"
            ),
            DecodeError::NegativeLength { field, len } => {
                write!(f, "negative length {len} for {field}")
            }
            DecodeError::LengthExceedsRemaining { field, len, remaining } => write!(
                f,
                "length {len} of {field} exceeds the {remaining} byte(s) left"
            ),
            DecodeError::BadVarint { field } => write!(f, "malformed varint in {field}"),
            DecodeError::BadUtf8 { field } => write!(f, "{field} is not valid UTF-8"),
            DecodeError::UnexpectedNull { field } => write!(f, "{field} is null but not nullable"),
            DecodeError::CrcMismatch { stored, computed } => write!(
                f,
                "record batch CRC-32C mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            DecodeError::UnsupportedMagic { magic } => {
                write!(f, "record batch magic {magic} is not supported (only 2)")
            }
            DecodeError::CompressedBatch { codec } => write!(
                f,
                "record batch is compressed (codec {codec}); only uncompressed batches can be decoded"
            ),
            DecodeError::UnsupportedVersion { api, version } => {
                write!(f, "{api} version {version} is not supported")
            }
            DecodeError::FrameTooLarge { len, max } => {
                write!(f, "frame size {len} is outside 0..={max}")
            }
            DecodeError::Invalid { field, reason } => write!(f, "invalid {field}: {reason}"),
        }
    }
}

impl std::error::Error for DecodeError {}

// ---------------------------------------------------------------------------------------------
// Lengths of variable-size encodings

/// Bytes taken by `v` as an unsigned varint (LEB128 style, 7 bits per byte).
pub fn uvarint_len(v: u32) -> usize {
    uvarlong_len(v as u64)
}

/// Bytes taken by `v` as an unsigned 64-bit varint.
pub fn uvarlong_len(v: u64) -> usize {
    // 1 byte per started group of 7 significant bits, at least 1.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Zigzag-maps a signed 32-bit value so small magnitudes of either sign stay small.
pub(crate) fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Bytes taken by `v` as a zigzag varint (record fields use these).
pub fn varint_len(v: i32) -> usize {
    uvarint_len(zigzag32(v))
}

/// Bytes taken by `v` as a zigzag varlong.
pub fn varlong_len(v: i64) -> usize {
    uvarlong_len(zigzag64(v))
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Writers for every primitive, as an extension of the output buffer.
///
/// Lengths that don't fit the wire type (a string over 32767 bytes, more than `i32::MAX`
/// elements) are programming errors of the caller and panic; nothing read from the network ever
/// reaches these functions.
pub trait WireWrite {
    fn put_i8(&mut self, v: i8);
    fn put_i16(&mut self, v: i16);
    fn put_i32(&mut self, v: i32);
    fn put_i64(&mut self, v: i64);
    fn put_u32(&mut self, v: u32);
    fn put_bool(&mut self, v: bool);
    fn put_uuid(&mut self, v: &[u8; 16]);
    fn put_uvarint(&mut self, v: u32);
    fn put_uvarlong(&mut self, v: u64);
    /// Zigzag varint.
    fn put_varint(&mut self, v: i32);
    /// Zigzag varlong.
    fn put_varlong(&mut self, v: i64);

    /// Classic string: `i16` length then UTF-8 bytes.
    fn put_string(&mut self, s: &str);
    /// Classic nullable string: `-1` for null.
    fn put_nullable_string(&mut self, s: Option<&str>);
    /// Compact string: uvarint `len + 1` then bytes.
    fn put_compact_string(&mut self, s: &str);
    /// Compact nullable string: `0` for null.
    fn put_compact_nullable_string(&mut self, s: Option<&str>);
    /// Classic bytes: `i32` length then bytes.
    fn put_bytes(&mut self, b: &[u8]);
    fn put_nullable_bytes(&mut self, b: Option<&[u8]>);
    fn put_compact_bytes(&mut self, b: &[u8]);
    fn put_compact_nullable_bytes(&mut self, b: Option<&[u8]>);
    /// Classic array length (`i32`).
    fn put_array_len(&mut self, n: usize);
    /// Classic nullable array length: `-1` for null.
    fn put_nullable_array_len(&mut self, n: Option<usize>);
    /// Compact array length: uvarint `n + 1`.
    fn put_compact_array_len(&mut self, n: usize);
    /// Compact nullable array length: `0` for null.
    fn put_compact_nullable_array_len(&mut self, n: Option<usize>);
    /// An empty tagged-field section (a single `0` byte).
    fn put_empty_tagged_fields(&mut self);

    /// String in the family `flexible` selects.
    fn put_string_flex(&mut self, s: &str, flexible: bool) {
        if flexible {
            self.put_compact_string(s)
        } else {
            self.put_string(s)
        }
    }
    fn put_nullable_string_flex(&mut self, s: Option<&str>, flexible: bool) {
        if flexible {
            self.put_compact_nullable_string(s)
        } else {
            self.put_nullable_string(s)
        }
    }
    fn put_array_len_flex(&mut self, n: usize, flexible: bool) {
        if flexible {
            self.put_compact_array_len(n)
        } else {
            self.put_array_len(n)
        }
    }
    fn put_nullable_array_len_flex(&mut self, n: Option<usize>, flexible: bool) {
        if flexible {
            self.put_compact_nullable_array_len(n)
        } else {
            self.put_nullable_array_len(n)
        }
    }
    /// Writes an empty tagged-field section only when `flexible`.
    fn put_tagged_fields_flex(&mut self, flexible: bool) {
        if flexible {
            self.put_empty_tagged_fields()
        }
    }
}

fn checked_i16_len(n: usize) -> i16 {
    i16::try_from(n).expect("string longer than i16::MAX bytes")
}

fn checked_i32_len(n: usize) -> i32 {
    i32::try_from(n).expect("length larger than i32::MAX")
}

fn checked_compact_len(n: usize) -> u32 {
    u32::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(1))
        .filter(|n| *n <= i32::MAX as u32)
        .expect("compact length larger than i32::MAX")
}

impl WireWrite for Vec<u8> {
    fn put_i8(&mut self, v: i8) {
        self.push(v as u8);
    }
    fn put_i16(&mut self, v: i16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bool(&mut self, v: bool) {
        self.push(v as u8);
    }
    fn put_uuid(&mut self, v: &[u8; 16]) {
        self.extend_from_slice(v);
    }
    fn put_uvarint(&mut self, v: u32) {
        self.put_uvarlong(v as u64);
    }
    fn put_uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.push(v as u8);
    }
    fn put_varint(&mut self, v: i32) {
        self.put_uvarint(zigzag32(v));
    }
    fn put_varlong(&mut self, v: i64) {
        self.put_uvarlong(zigzag64(v));
    }
    fn put_string(&mut self, s: &str) {
        self.put_i16(checked_i16_len(s.len()));
        self.extend_from_slice(s.as_bytes());
    }
    fn put_nullable_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.put_string(s),
            None => self.put_i16(-1),
        }
    }
    fn put_compact_string(&mut self, s: &str) {
        self.put_uvarint(checked_compact_len(s.len()));
        self.extend_from_slice(s.as_bytes());
    }
    fn put_compact_nullable_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.put_compact_string(s),
            None => self.put_uvarint(0),
        }
    }
    fn put_bytes(&mut self, b: &[u8]) {
        self.put_i32(checked_i32_len(b.len()));
        self.extend_from_slice(b);
    }
    fn put_nullable_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => self.put_bytes(b),
            None => self.put_i32(-1),
        }
    }
    fn put_compact_bytes(&mut self, b: &[u8]) {
        self.put_uvarint(checked_compact_len(b.len()));
        self.extend_from_slice(b);
    }
    fn put_compact_nullable_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => self.put_compact_bytes(b),
            None => self.put_uvarint(0),
        }
    }
    fn put_array_len(&mut self, n: usize) {
        self.put_i32(checked_i32_len(n));
    }
    fn put_nullable_array_len(&mut self, n: Option<usize>) {
        match n {
            Some(n) => self.put_array_len(n),
            None => self.put_i32(-1),
        }
    }
    fn put_compact_array_len(&mut self, n: usize) {
        self.put_uvarint(checked_compact_len(n));
    }
    fn put_compact_nullable_array_len(&mut self, n: Option<usize>) {
        match n {
            Some(n) => self.put_compact_array_len(n),
            None => self.put_uvarint(0),
        }
    }
    fn put_empty_tagged_fields(&mut self) {
        self.push(0);
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A cursor over a borrowed input. Every reader takes the name of the field it reads, which ends
/// up in the [`DecodeError`] when the input is wrong.
///
/// Lengths are validated before allocation: a string or bytes length must fit in what is left,
/// and an array count times the smallest encoding of one element must fit too.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Decoder { data, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unconsumed input.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                field,
                needed: n,
                remaining: self.remaining(),
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        self.take(n, field).map(|_| ())
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn i8(&mut self, field: &'static str) -> Result<i8, DecodeError> {
        Ok(self.array::<1>(field)?[0] as i8)
    }
    pub fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }
    pub fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }
    /// Any non-zero byte is true, as Kafka reads it.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        Ok(self.array::<1>(field)?[0] != 0)
    }
    pub fn uuid(&mut self, field: &'static str) -> Result<[u8; 16], DecodeError> {
        self.array(field)
    }

    fn uvar(&mut self, field: &'static str, max_bytes: usize) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let b = match self.data.get(self.pos) {
                Some(b) => *b,
                None => {
                    return Err(DecodeError::Truncated {
                        field,
                        needed: 1,
                        remaining: 0,
                    });
                }
            };
            self.pos += 1;
            value |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::BadVarint { field })
    }

    /// Unsigned varint of at most 5 bytes (Kafka rejects longer ones); bits past 32 are an error.
    pub fn uvarint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let v = self.uvar(field, 5)?;
        u32::try_from(v).map_err(|_| DecodeError::BadVarint { field })
    }
    pub fn uvarlong(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.uvar(field, 10)
    }
    /// Zigzag varint.
    pub fn varint(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        let u = self.uvarint(field)?;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }
    /// Zigzag varlong.
    pub fn varlong(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        let u = self.uvarlong(field)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// Checks a declared byte length against what is left, then takes the bytes.
    fn take_len(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::LengthExceedsRemaining {
                field,
                len,
                remaining: self.remaining(),
            });
        }
        self.take(len, field)
    }

    fn utf8(b: &'a [u8], field: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(b).map_err(|_| DecodeError::BadUtf8 { field })
    }

    /// Classic nullable string, borrowed.
    pub fn nullable_str(&mut self, field: &'static str) -> Result<Option<&'a str>, DecodeError> {
        let len = self.i16(field)?;
        match len {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::NegativeLength {
                field,
                len: n as i64,
            }),
            n => Ok(Some(Self::utf8(self.take_len(n as usize, field)?, field)?)),
        }
    }
    /// Compact nullable string, borrowed.
    pub fn compact_nullable_str(
        &mut self,
        field: &'static str,
    ) -> Result<Option<&'a str>, DecodeError> {
        match self.uvarint(field)? {
            0 => Ok(None),
            n => Ok(Some(Self::utf8(
                self.take_len((n - 1) as usize, field)?,
                field,
            )?)),
        }
    }

    pub fn nullable_string(&mut self, field: &'static str) -> Result<Option<String>, DecodeError> {
        Ok(self.nullable_str(field)?.map(str::to_owned))
    }
    pub fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        self.nullable_string(field)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }
    pub fn compact_nullable_string(
        &mut self,
        field: &'static str,
    ) -> Result<Option<String>, DecodeError> {
        Ok(self.compact_nullable_str(field)?.map(str::to_owned))
    }
    pub fn compact_string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        self.compact_nullable_string(field)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }
    pub fn string_flex(
        &mut self,
        field: &'static str,
        flexible: bool,
    ) -> Result<String, DecodeError> {
        if flexible {
            self.compact_string(field)
        } else {
            self.string(field)
        }
    }
    pub fn nullable_string_flex(
        &mut self,
        field: &'static str,
        flexible: bool,
    ) -> Result<Option<String>, DecodeError> {
        if flexible {
            self.compact_nullable_string(field)
        } else {
            self.nullable_string(field)
        }
    }

    /// Classic nullable bytes, borrowed.
    pub fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.i32(field)? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::NegativeLength {
                field,
                len: n as i64,
            }),
            n => Ok(Some(self.take_len(n as usize, field)?)),
        }
    }
    pub fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        self.nullable_bytes(field)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }
    pub fn compact_nullable_bytes(
        &mut self,
        field: &'static str,
    ) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.uvarint(field)? {
            0 => Ok(None),
            n => Ok(Some(self.take_len((n - 1) as usize, field)?)),
        }
    }
    pub fn compact_bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        self.compact_nullable_bytes(field)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }
    pub fn nullable_bytes_flex(
        &mut self,
        field: &'static str,
        flexible: bool,
    ) -> Result<Option<&'a [u8]>, DecodeError> {
        if flexible {
            self.compact_nullable_bytes(field)
        } else {
            self.nullable_bytes(field)
        }
    }

    fn cap_count(
        &self,
        n: usize,
        min_elem_size: usize,
        field: &'static str,
    ) -> Result<usize, DecodeError> {
        let needed = n.saturating_mul(min_elem_size.max(1));
        if needed > self.remaining() {
            return Err(DecodeError::LengthExceedsRemaining {
                field,
                len: n,
                remaining: self.remaining(),
            });
        }
        Ok(n)
    }

    /// Classic nullable array count. `min_elem_size` is the fewest bytes one element can take;
    /// a count whose elements could not fit in the remaining input is rejected up front, so the
    /// count is safe to pass to `Vec::with_capacity`.
    pub fn nullable_array_len(
        &mut self,
        field: &'static str,
        min_elem_size: usize,
    ) -> Result<Option<usize>, DecodeError> {
        match self.i32(field)? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::NegativeLength {
                field,
                len: n as i64,
            }),
            n => Ok(Some(self.cap_count(n as usize, min_elem_size, field)?)),
        }
    }
    pub fn array_len(
        &mut self,
        field: &'static str,
        min_elem_size: usize,
    ) -> Result<usize, DecodeError> {
        self.nullable_array_len(field, min_elem_size)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }
    pub fn compact_nullable_array_len(
        &mut self,
        field: &'static str,
        min_elem_size: usize,
    ) -> Result<Option<usize>, DecodeError> {
        match self.uvarint(field)? {
            0 => Ok(None),
            n => Ok(Some(self.cap_count(
                (n - 1) as usize,
                min_elem_size,
                field,
            )?)),
        }
    }
    pub fn compact_array_len(
        &mut self,
        field: &'static str,
        min_elem_size: usize,
    ) -> Result<usize, DecodeError> {
        self.compact_nullable_array_len(field, min_elem_size)?
            .ok_or(DecodeError::UnexpectedNull { field })
    }
    pub fn array_len_flex(
        &mut self,
        field: &'static str,
        min_elem_size: usize,
        flexible: bool,
    ) -> Result<usize, DecodeError> {
        if flexible {
            self.compact_array_len(field, min_elem_size)
        } else {
            self.array_len(field, min_elem_size)
        }
    }
    pub fn nullable_array_len_flex(
        &mut self,
        field: &'static str,
        min_elem_size: usize,
        flexible: bool,
    ) -> Result<Option<usize>, DecodeError> {
        if flexible {
            self.compact_nullable_array_len(field, min_elem_size)
        } else {
            self.nullable_array_len(field, min_elem_size)
        }
    }

    /// Reads an array of `i32` in the family `flexible` selects.
    pub fn i32_array_flex(
        &mut self,
        field: &'static str,
        flexible: bool,
    ) -> Result<Vec<i32>, DecodeError> {
        let n = self.array_len_flex(field, 4, flexible)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.i32(field)?);
        }
        Ok(out)
    }

    /// Reads a tagged-field section, handing each field's tag and raw bytes to `on_field`, which
    /// decodes the tags it knows and ignores the rest.
    pub fn tagged_fields(
        &mut self,
        mut on_field: impl FnMut(u32, &'a [u8]) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        // Each field takes at least 2 bytes (tag and size).
        let n = self.uvarint("tagged_fields.count")? as usize;
        self.cap_count(n, 2, "tagged_fields.count")?;
        for _ in 0..n {
            let tag = self.uvarint("tagged_fields.tag")?;
            let size = self.uvarint("tagged_fields.size")? as usize;
            let data = self.take_len(size, "tagged_fields.data")?;
            on_field(tag, data)?;
        }
        Ok(())
    }

    /// Skips a tagged-field section, whatever it holds.
    pub fn skip_tagged_fields(&mut self) -> Result<(), DecodeError> {
        self.tagged_fields(|_, _| Ok(()))
    }

    /// Skips a tagged-field section only when `flexible`.
    pub fn skip_tagged_fields_flex(&mut self, flexible: bool) -> Result<(), DecodeError> {
        if flexible {
            self.skip_tagged_fields()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_matches_protobuf_zigzag_examples() {
        // Zigzag pairs from the protobuf encoding guide: 0->0, -1->1, 1->2, -2->3, 2147483647->fffffffe.
        for (v, z) in [
            (0i32, 0u32),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (i32::MAX, 0xffff_fffe),
            (i32::MIN, u32::MAX),
        ] {
            assert_eq!(zigzag32(v), z);
            let mut b = Vec::new();
            b.put_varint(v);
            assert_eq!(b.len(), varint_len(v));
            assert_eq!(Decoder::new(&b).varint("v").unwrap(), v);
        }
        let mut b = Vec::new();
        b.put_uvarint(300);
        assert_eq!(b, [0xac, 0x02]);
    }

    #[test]
    fn varlong_round_trips_extremes() {
        for v in [0i64, -1, 1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40] {
            let mut b = Vec::new();
            b.put_varlong(v);
            assert_eq!(b.len(), varlong_len(v));
            assert_eq!(Decoder::new(&b).varlong("v").unwrap(), v);
        }
        assert_eq!(varlong_len(i64::MIN), 10);
    }

    #[test]
    fn overlong_uvarint_is_an_error() {
        let b = [0x80u8, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(
            Decoder::new(&b).uvarint("x"),
            Err(DecodeError::BadVarint { field: "x" })
        );
        // 5 bytes but more than 32 bits of value.
        let b = [0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(Decoder::new(&b).uvarint("x").is_err());
    }

    #[test]
    fn huge_lengths_are_rejected_before_allocating() {
        let b = [0x7f, 0xff, 0xff, 0xff, 1, 2];
        assert!(matches!(
            Decoder::new(&b).array_len("a", 4),
            Err(DecodeError::LengthExceedsRemaining { .. })
        ));
        assert!(matches!(
            Decoder::new(&b).bytes("b"),
            Err(DecodeError::LengthExceedsRemaining { .. })
        ));
        let b = [0xff, 0xfe];
        assert!(matches!(
            Decoder::new(&b).nullable_string("s"),
            Err(DecodeError::NegativeLength { len: -2, .. })
        ));
    }
}
