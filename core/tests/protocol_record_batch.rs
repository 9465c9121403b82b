//! RecordBatch v2: what the engine writes decodes back to the same records, the CRC is the
//! standard CRC-32C over attributes..end, and corruption is caught.

mod protocol_support;

use protocol_support::{build_batch, sample_records, TestRecord};
use rafka_core::protocol::record_batch::{
    begin_batch, decode_record_batches, finish_batch, BatchHeader, RECORD_BATCH_OVERHEAD,
};
use rafka_core::protocol::DecodeError;

const BASE_TS: i64 = 1_700_000_000_000;

#[test]
fn batch_with_keys_nulls_headers_and_mixed_timestamps_round_trips() {
    let records = sample_records(BASE_TS);
    let (bytes, header) = build_batch(&records, 1234, 5, 77);
    let batches = decode_record_batches(&bytes).unwrap();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!(b.header, header);
    assert_eq!(b.header.base_timestamp, BASE_TS);
    assert_eq!(b.header.max_timestamp, BASE_TS + 1000);
    assert_eq!(b.header.last_offset_delta, records.len() as i32 - 1);
    let want: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| r.expected(i as i32, BASE_TS))
        .collect();
    assert_eq!(b.records, want);
    assert_eq!(b.records[0].headers[2], ("null-valued".to_string(), None));
    assert_eq!(b.records[1].key, None);
    assert_eq!(b.records[2].value, None);
}

#[test]
fn header_layout_matches_default_record_batch_offsets() {
    let (bytes, _) = build_batch(
        &[TestRecord::new(BASE_TS, Some(b"k"), Some(b"v"))],
        0x0102_0304_0506_0708,
        0x0a0b,
        0x0c0d_0e0f,
    );
    assert_eq!(&bytes[0..8], &0i64.to_be_bytes(), "baseOffset");
    assert_eq!(
        i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize,
        bytes.len() - 12,
        "batchLength"
    );
    assert_eq!(
        &bytes[12..16],
        &(-1i32).to_be_bytes(),
        "partitionLeaderEpoch"
    );
    assert_eq!(bytes[16], 2, "magic");
    assert_eq!(&bytes[21..23], &0i16.to_be_bytes(), "attributes");
    assert_eq!(&bytes[27..35], &BASE_TS.to_be_bytes(), "baseTimestamp");
    assert_eq!(
        &bytes[43..51],
        &0x0102_0304_0506_0708i64.to_be_bytes(),
        "producerId"
    );
    assert_eq!(&bytes[51..53], &0x0a0bi16.to_be_bytes(), "producerEpoch");
    assert_eq!(
        &bytes[53..57],
        &0x0c0d_0e0fi32.to_be_bytes(),
        "baseSequence"
    );
    assert_eq!(&bytes[57..61], &1i32.to_be_bytes(), "recordCount");
    // The one record: length 8 (zigzag 16), attributes 0, ts delta 0, offset delta 0,
    // key len 1 (zigzag 2) "k", value len 1 "v", 0 headers.
    assert_eq!(
        &bytes[RECORD_BATCH_OVERHEAD..],
        &[16, 0, 0, 0, 2, b'k', 2, b'v', 0]
    );
}

#[test]
fn crc_is_crc32c_of_attributes_to_end() {
    // The CRC-32C check value from the Castagnoli spec (RFC 3720 lists the same polynomial).
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    let (bytes, _) = build_batch(&sample_records(BASE_TS), -1, -1, -1);
    let stored = u32::from_be_bytes(bytes[17..21].try_into().unwrap());
    assert_eq!(stored, crc32c::crc32c(&bytes[21..]));
    // And not the IEEE CRC-32 of the same bytes.
    assert_ne!(stored, crc32fast::hash(&bytes[21..]));
    assert_eq!(decode_record_batches(&bytes).unwrap()[0].crc, stored);
}

#[test]
fn a_flipped_byte_anywhere_under_the_crc_is_detected() {
    let (bytes, _) = build_batch(&sample_records(BASE_TS), 1, 0, 0);
    for i in 21..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(
                decode_record_batches(&bad),
                Err(DecodeError::CrcMismatch { .. })
            ),
            "flip at byte {i} not detected"
        );
    }
    let mut bad = bytes.clone();
    bad[17] ^= 0x80; // the stored CRC itself
    assert!(matches!(
        decode_record_batches(&bad),
        Err(DecodeError::CrcMismatch { .. })
    ));
}

#[test]
fn concatenated_batches_decode_in_order() {
    let (a, ha) = build_batch(&sample_records(BASE_TS), 1, 0, 0);
    let (b, hb) = build_batch(&[TestRecord::new(9, None, None)], 1, 0, 5);
    let both = [a, b].concat();
    let got = decode_record_batches(&both).unwrap();
    assert_eq!(
        got.iter().map(|b| b.header).collect::<Vec<_>>(),
        vec![ha, hb]
    );
    assert_eq!(got[1].records[0].key, None);
    assert_eq!(got[1].records[0].value, None);
    assert!(decode_record_batches(&[]).unwrap().is_empty());
}

#[test]
fn empty_batch_round_trips() {
    let mut buf = Vec::new();
    let start = begin_batch(&mut buf);
    let h = BatchHeader {
        base_offset: 0,
        partition_leader_epoch: -1,
        attributes: 0,
        last_offset_delta: -1,
        base_timestamp: 0,
        max_timestamp: 0,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        record_count: 0,
    };
    finish_batch(&mut buf, start, &h);
    assert_eq!(buf.len(), RECORD_BATCH_OVERHEAD);
    assert_eq!(decode_record_batches(&buf).unwrap()[0].header, h);
}

#[test]
fn compressed_batches_are_reported_not_misread() {
    let mut buf = Vec::new();
    let start = begin_batch(&mut buf);
    buf.extend_from_slice(&[1, 2, 3, 4]); // stand-in for a gzip payload
    let h = BatchHeader {
        base_offset: 0,
        partition_leader_epoch: -1,
        attributes: 1, // gzip
        last_offset_delta: 0,
        base_timestamp: 0,
        max_timestamp: 0,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        record_count: 1,
    };
    finish_batch(&mut buf, start, &h);
    let err = decode_record_batches(&buf).unwrap_err();
    assert_eq!(err, DecodeError::CompressedBatch { codec: 1 });
    assert!(err.to_string().contains("compressed"));
}

#[test]
fn structural_lies_are_errors() {
    let (good, _) = build_batch(&sample_records(BASE_TS), 1, 0, 0);
    // Magic 1.
    let mut bad = good.clone();
    bad[16] = 1;
    assert_eq!(
        decode_record_batches(&bad),
        Err(DecodeError::UnsupportedMagic { magic: 1 })
    );
    // Batch length shorter than a header.
    let mut bad = good.clone();
    bad[8..12].copy_from_slice(&10i32.to_be_bytes());
    assert!(matches!(
        decode_record_batches(&bad),
        Err(DecodeError::Invalid { .. })
    ));
    // Truncated.
    assert!(matches!(
        decode_record_batches(&good[..good.len() - 1]),
        Err(DecodeError::Truncated { .. })
    ));
    // Record count larger than the records (CRC recomputed so the count is what's checked).
    let mut bad = good.clone();
    bad[57..61].copy_from_slice(&1_000_000i32.to_be_bytes());
    let crc = crc32c::crc32c(&bad[21..]);
    bad[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        decode_record_batches(&bad),
        Err(DecodeError::LengthExceedsRemaining { .. })
    ));
    // Record count smaller than the records.
    let mut bad = good;
    bad[57..61].copy_from_slice(&1i32.to_be_bytes());
    let crc = crc32c::crc32c(&bad[21..]);
    bad[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        decode_record_batches(&bad),
        Err(DecodeError::Invalid { .. })
    ));
}
