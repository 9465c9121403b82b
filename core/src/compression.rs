//! The codecs of a RecordBatch v2's records section, in exactly the framing Kafka's Java client
//! writes and both it and librdkafka read.
//!
//! Only the records after the 61-byte batch header are compressed; the header stays plain and its
//! `attributes` carry the codec in bits 0-2 (`protocol::record_batch::COMPRESSION_*`).
//!
//! | codec | framing | crate (library) |
//! |---|---|---|
//! | gzip | a gzip member (RFC 1952), as `java.util.zip.GZIPOutputStream` writes | `flate2` |
//! | snappy | xerial snappy-java's stream: 16-byte header, then `[len u32 BE][raw snappy block]` per 32 KiB of input | `snap` (raw blocks) |
//! | lz4 | an LZ4 frame: independent 64 KiB blocks, no block or content checksum, no content size | `lz4` (liblz4) |
//! | zstd | one zstd frame | `zstd` (libzstd) |
//!
//! Levels follow the Java client (KIP-390): gzip 1-9 or -1 (zlib's default, 6); lz4 1-17,
//! default 9, where 9 means liblz4's fast compressor and any other level its high-compression
//! one (as Java picks lz4-java's `fastCompressor` for the default and `highCompressor(level)`
//! otherwise; liblz4 counts levels above 12 as 12); zstd from libzstd's minimum (negative: faster)
//! to 22, default 3; snappy has none.

use std::fmt;
use std::io::{Read, Write};

use crate::protocol::record_batch::{COMPRESSION_GZIP, COMPRESSION_LZ4, COMPRESSION_NONE, COMPRESSION_SNAPPY, COMPRESSION_ZSTD};

/// `compression.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    pub const ALL: [Codec; 5] = [Codec::None, Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd];

    /// The `compression.type` value (Java's and librdkafka's spelling, case-insensitive).
    pub fn parse(v: &str) -> Option<Codec> {
        Some(match v.to_ascii_lowercase().as_str() {
            "none" => Codec::None,
            "gzip" => Codec::Gzip,
            "snappy" => Codec::Snappy,
            "lz4" => Codec::Lz4,
            "zstd" => Codec::Zstd,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }

    /// The codec's id in a batch's `attributes`.
    pub fn attribute(self) -> i16 {
        match self {
            Codec::None => COMPRESSION_NONE,
            Codec::Gzip => COMPRESSION_GZIP,
            Codec::Snappy => COMPRESSION_SNAPPY,
            Codec::Lz4 => COMPRESSION_LZ4,
            Codec::Zstd => COMPRESSION_ZSTD,
        }
    }

    pub fn from_attribute(codec: i16) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| c.attribute() == codec)
    }

    /// The Java key that sets this codec's level (`compression.<codec>.level`).
    pub fn level_key(self) -> Option<&'static str> {
        match self {
            Codec::Gzip => Some("compression.gzip.level"),
            Codec::Lz4 => Some("compression.lz4.level"),
            Codec::Zstd => Some("compression.zstd.level"),
            Codec::None | Codec::Snappy => None,
        }
    }

    /// The levels this codec accepts, and its default. `None` for codecs without levels.
    pub fn levels(self) -> Option<LevelRange> {
        match self {
            Codec::Gzip => Some(LevelRange { min: 1, max: 9, default: -1, default_allowed: true }),
            Codec::Lz4 => Some(LevelRange { min: 1, max: 17, default: LZ4_DEFAULT_LEVEL, default_allowed: false }),
            Codec::Zstd => Some(LevelRange { min: *zstd::compression_level_range().start(), max: 22, default: 3, default_allowed: false }),
            Codec::None | Codec::Snappy => None,
        }
    }

    /// The Produce version a codec needs: zstd came with Produce v7 (Kafka 2.1, KIP-110); a
    /// broker refuses it on older versions with UNSUPPORTED_COMPRESSION_TYPE.
    pub fn min_produce_version(self) -> i16 {
        match self {
            Codec::Zstd => 7,
            _ => 0,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Java's lz4 default: the one level that uses the fast (not high-compression) compressor.
pub const LZ4_DEFAULT_LEVEL: i32 = 9;

/// The valid levels of one codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelRange {
    pub min: i32,
    pub max: i32,
    pub default: i32,
    /// The default lies outside `min..=max` and is accepted too (gzip's -1).
    pub default_allowed: bool,
}

impl LevelRange {
    pub fn contains(&self, level: i32) -> bool {
        (self.min..=self.max).contains(&level) || (self.default_allowed && level == self.default)
    }

    /// For error messages: "an integer from 1 to 9, or -1 (the codec's default)".
    pub fn describe(&self) -> String {
        if self.default_allowed {
            format!("an integer from {} to {}, or {} (the codec's default)", self.min, self.max, self.default)
        } else {
            format!("an integer from {} to {} (default {})", self.min, self.max, self.default)
        }
    }
}

/// The codec and level batches are compressed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression {
    pub codec: Codec,
    /// Already checked against the codec's range; the codec's default when not set.
    pub level: i32,
}

impl Default for Compression {
    fn default() -> Self {
        Compression { codec: Codec::None, level: 0 }
    }
}

/// xerial snappy-java's stream header: magic `\x82SNAPPY\0`, version 1, compatible version 1.
const XERIAL_HEADER: [u8; 16] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1];
/// snappy-java's default block: each 32 KiB of input is one compressed chunk.
const XERIAL_BLOCK: usize = 32 * 1024;

impl Compression {
    pub fn new(codec: Codec, level: Option<i32>) -> Compression {
        let level = level.or_else(|| codec.levels().map(|r| r.default)).unwrap_or(0);
        Compression { codec, level }
    }

    pub fn is_none(&self) -> bool {
        self.codec == Codec::None
    }

    /// Appends `input` compressed to `out`.
    pub fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        match self.codec {
            Codec::None => out.extend_from_slice(input),
            Codec::Gzip => {
                let level = if self.level < 0 { flate2::Compression::default() } else { flate2::Compression::new(self.level as u32) };
                let mut e = flate2::write::GzEncoder::new(out, level);
                e.write_all(input)?;
                e.finish()?;
            }
            Codec::Snappy => {
                out.extend_from_slice(&XERIAL_HEADER);
                let mut enc = snap::raw::Encoder::new();
                for chunk in input.chunks(XERIAL_BLOCK) {
                    let at = out.len();
                    out.resize(at + 4 + snap::raw::max_compress_len(chunk.len()), 0);
                    let n = enc.compress(chunk, &mut out[at + 4..]).map_err(std::io::Error::other)?;
                    out[at..at + 4].copy_from_slice(&(n as u32).to_be_bytes());
                    out.truncate(at + 4 + n);
                }
            }
            Codec::Lz4 => {
                // liblz4's level 0 is its fast compressor; Java's default (9) means exactly that.
                let level = if self.level == LZ4_DEFAULT_LEVEL { 0 } else { self.level as u32 };
                let mut e = lz4::EncoderBuilder::new()
                    .block_size(lz4::BlockSize::Max64KB)
                    .block_mode(lz4::BlockMode::Independent)
                    .block_checksum(lz4::liblz4::BlockChecksum::NoBlockChecksum)
                    .checksum(lz4::ContentChecksum::NoChecksum)
                    .level(level)
                    .build(out)?;
                e.write_all(input)?;
                let (_, r) = e.finish();
                r?;
            }
            Codec::Zstd => {
                let mut c = zstd::bulk::Compressor::new(self.level)?;
                let at = out.len();
                out.reserve(zstd::zstd_safe::compress_bound(input.len()));
                let spare = out.spare_capacity_mut().len();
                out.resize(at + spare, 0);
                let n = c.compress_to_buffer(input, &mut out[at..])?;
                out.truncate(at + n);
            }
        }
        Ok(())
    }
}

/// Inflates a records section written by any Kafka client with `codec` (tests and tools; the
/// producer itself never reads compressed data). `limit` caps the output, so a corrupt or
/// hostile input cannot make it allocate without bound.
pub fn decompress(codec: Codec, input: &[u8], limit: usize) -> std::io::Result<Vec<u8>> {
    let too_big = || std::io::Error::other(format!("decompressed data exceeds {limit} bytes"));
    let mut out = Vec::new();
    let read_all = |r: &mut dyn Read, out: &mut Vec<u8>| -> std::io::Result<()> {
        r.take(limit as u64 + 1).read_to_end(out)?;
        if out.len() > limit {
            return Err(too_big());
        }
        Ok(())
    };
    match codec {
        Codec::None if input.len() > limit => return Err(too_big()),
        Codec::None => out.extend_from_slice(input),
        Codec::Gzip => read_all(&mut flate2::read::GzDecoder::new(input), &mut out)?,
        Codec::Lz4 => read_all(&mut lz4::Decoder::new(input)?, &mut out)?,
        Codec::Zstd => read_all(&mut zstd::stream::read::Decoder::new(input)?, &mut out)?,
        Codec::Snappy => {
            let Some(mut rest) = input.strip_prefix(&XERIAL_HEADER[..8]) else {
                // librdkafka and older clients may send one raw snappy block.
                let n = snap::raw::decompress_len(input).map_err(std::io::Error::other)?;
                if n > limit {
                    return Err(too_big());
                }
                return snap::raw::Decoder::new().decompress_vec(input).map_err(std::io::Error::other);
            };
            rest = rest.get(8..).ok_or_else(|| std::io::Error::other("truncated xerial snappy header"))?;
            let mut dec = snap::raw::Decoder::new();
            while !rest.is_empty() {
                let len = rest.get(..4).map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize).ok_or_else(|| std::io::Error::other("truncated xerial chunk length"))?;
                let chunk = rest.get(4..4 + len).ok_or_else(|| std::io::Error::other("xerial chunk longer than the data"))?;
                let n = snap::raw::decompress_len(chunk).map_err(std::io::Error::other)?;
                if out.len() + n > limit {
                    return Err(too_big());
                }
                let at = out.len();
                out.resize(at + n, 0);
                dec.decompress(chunk, &mut out[at..]).map_err(std::io::Error::other)?;
                rest = &rest[4 + len..];
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..20_000u32 {
            v.extend_from_slice(format!("{{\"id\":{i},\"name\":\"user-{}\"}}", i % 97).as_bytes());
        }
        v
    }

    #[test]
    fn every_codec_round_trips_and_shrinks_repetitive_data() {
        let input = sample();
        for codec in Codec::ALL {
            let c = Compression::new(codec, None);
            let mut out = vec![0xAA]; // appends after what is there
            c.compress(&input, &mut out).unwrap();
            assert_eq!(out[0], 0xAA);
            assert_eq!(decompress(codec, &out[1..], input.len()).unwrap(), input, "{codec}");
            if codec != Codec::None {
                assert!(out.len() < input.len() / 3, "{codec}: {} of {}", out.len(), input.len());
            }
        }
    }

    #[test]
    fn empty_input_round_trips() {
        for codec in Codec::ALL {
            let mut out = Vec::new();
            Compression::new(codec, None).compress(&[], &mut out).unwrap();
            assert!(decompress(codec, &out, 0).unwrap().is_empty(), "{codec}");
        }
    }

    #[test]
    fn snappy_uses_xerial_framing_in_32k_chunks() {
        let input = sample();
        let mut out = Vec::new();
        Compression::new(Codec::Snappy, None).compress(&input, &mut out).unwrap();
        assert_eq!(&out[..16], &XERIAL_HEADER);
        let mut rest = &out[16..];
        let mut chunks = 0;
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            assert!(snap::raw::decompress_len(&rest[4..4 + len]).unwrap() <= XERIAL_BLOCK);
            rest = &rest[4 + len..];
            chunks += 1;
        }
        assert_eq!(chunks, input.len().div_ceil(XERIAL_BLOCK));
    }

    #[test]
    fn lz4_frame_has_independent_blocks_and_no_checksums() {
        let mut out = Vec::new();
        Compression::new(Codec::Lz4, None).compress(&sample(), &mut out).unwrap();
        assert_eq!(&out[..4], &0x184D2204u32.to_le_bytes());
        let flg = out[4];
        assert_eq!(flg >> 6, 1, "version 1");
        assert_eq!(flg & 0x20, 0x20, "independent blocks: Java's reader refuses dependent ones");
        assert_eq!(flg & 0x1C, 0, "no block checksum, no content size, no content checksum");
        assert_eq!((out[5] >> 4) & 7, 4, "64 KiB blocks");
    }

    #[test]
    fn every_level_in_range_compresses() {
        let input = sample();
        for codec in [Codec::Gzip, Codec::Lz4, Codec::Zstd] {
            let r = codec.levels().unwrap();
            for level in [r.min.max(-5), r.max, r.default] {
                let mut out = Vec::new();
                Compression::new(codec, Some(level)).compress(&input, &mut out).unwrap();
                assert_eq!(decompress(codec, &out, input.len()).unwrap(), input, "{codec} level {level}");
            }
        }
    }

    #[test]
    fn decompress_stops_at_the_limit() {
        let input = vec![0u8; 100_000];
        for codec in Codec::ALL {
            let mut out = Vec::new();
            Compression::new(codec, None).compress(&input, &mut out).unwrap();
            assert!(decompress(codec, &out, 1000).is_err(), "{codec}");
        }
    }
}
