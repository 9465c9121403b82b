//! Helpers shared by the protocol test files: building record batches the way the engine will,
//! and reading fixture files.
#![allow(dead_code)]

use std::path::PathBuf;

use rafka_core::protocol::record_batch::{
    begin_batch, encode_record_body, finish_batch, record_body_len, record_len, write_record,
    BatchHeader, DecodedRecord,
};

/// One record to put in a test batch.
#[derive(Debug, Clone)]
pub struct TestRecord {
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl TestRecord {
    pub fn new(timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Self {
        TestRecord {
            timestamp,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, k: &str, v: Option<&[u8]>) -> Self {
        self.headers.push((k.to_owned(), v.map(<[u8]>::to_vec)));
        self
    }

    /// What decoding the record back should give, at position `offset_delta` of a batch whose
    /// base timestamp is `base_ts`.
    pub fn expected(&self, offset_delta: i32, base_ts: i64) -> DecodedRecord {
        DecodedRecord {
            offset_delta,
            timestamp_delta: self.timestamp - base_ts,
            key: self.key.clone(),
            value: self.value.clone(),
            headers: self.headers.clone(),
        }
    }
}

/// Writes a v2 batch of `records` (uncompressed) the way the engine does: body first, sized,
/// then framed. Returns the batch bytes and the header that was written.
pub fn build_batch(
    records: &[TestRecord],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> (Vec<u8>, BatchHeader) {
    let base_ts = records.iter().map(|r| r.timestamp).min().unwrap_or(0);
    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(0);
    let mut buf = Vec::new();
    let start = begin_batch(&mut buf);
    for (i, r) in records.iter().enumerate() {
        let headers: Vec<(&[u8], Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_deref()))
            .collect();
        // encode_record_body panics unless it fills exactly record_body_len bytes.
        let mut body = vec![0; record_body_len(r.key.as_deref(), r.value.as_deref(), &headers)];
        encode_record_body(&mut body, r.key.as_deref(), r.value.as_deref(), &headers);
        let before = buf.len();
        write_record(&mut buf, r.timestamp - base_ts, i as i32, &body);
        assert_eq!(
            buf.len() - before,
            record_len(r.timestamp - base_ts, i as i32, body.len())
        );
    }
    let header = BatchHeader {
        base_offset: 0,
        partition_leader_epoch: -1,
        attributes: 0,
        last_offset_delta: records.len() as i32 - 1,
        base_timestamp: base_ts,
        max_timestamp: max_ts,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count: records.len() as i32,
    };
    finish_batch(&mut buf, start, &header);
    (buf, header)
}

/// A varied set: keys, a null key, a null value, headers with a null value, timestamps out of
/// order, and non-ASCII bytes.
pub fn sample_records(base_ts: i64) -> Vec<TestRecord> {
    vec![
        TestRecord::new(base_ts, Some(b"key-1"), Some(b"value-1"))
            .header("trace-id", Some(b"abc123"))
            .header("empty", Some(b""))
            .header("null-valued", None),
        TestRecord::new(base_ts + 5, None, Some(b"no key here")),
        TestRecord::new(base_ts + 2, Some(b"tombstone"), None),
        TestRecord::new(
            base_ts + 1000,
            Some("k\u{e9}y".as_bytes()),
            Some(&[0, 255, 7, 128]),
        )
        .header("h\u{fc}ader", Some(b"\x00\x01")),
        TestRecord::new(base_ts, Some(b""), Some(b"")),
    ]
}

/// Directory of committed fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// Reads a fixture file relative to `tests/fixtures/`.
pub fn fixture(rel: &str) -> Vec<u8> {
    let p = fixtures_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading fixture {}: {e}", p.display()))
}
