//! AddPartitionsToTxn (key 24): adds partitions to the producer's open transaction before it
//! writes to them (transaction version 1; with transaction version 2 a Produce v12+ adds them).
//!
//! Client versions 0..=3: v2 allows PRODUCER_FENCED, v3 is the first flexible version. v4 and
//! later batch several transactions and are spoken between brokers only (KIP-890 part 1), so a
//! client never sends them; this module implements 0..=3.

use super::{check_version, decode_partition_errors, encode_partition_errors, PartitionErrors};
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 3;
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPartitionsToTxnRequest {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Topic name and its partitions.
    pub topics: Vec<(String, Vec<i32>)>,
}

impl AddPartitionsToTxnRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION`.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "AddPartitionsToTxn v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_string_flex(&self.transactional_id, flexible);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        buf.put_array_len_flex(self.topics.len(), flexible);
        for (name, parts) in &self.topics {
            buf.put_string_flex(name, flexible);
            buf.put_array_len_flex(parts.len(), flexible);
            for p in parts {
                buf.put_i32(*p);
            }
            buf.put_tagged_fields_flex(flexible);
        }
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("AddPartitionsToTxnRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let transactional_id = d.string_flex("transactional_id", flexible)?;
        let producer_id = d.i64("producer_id")?;
        let producer_epoch = d.i16("producer_epoch")?;
        let n = d.array_len_flex("topics", 2, flexible)?;
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            let name = d.string_flex("topics.name", flexible)?;
            let parts = d.i32_array_flex("topics.partitions", flexible)?;
            d.skip_tagged_fields_flex(flexible)?;
            topics.push((name, parts));
        }
        d.skip_tagged_fields_flex(flexible)?;
        Ok(AddPartitionsToTxnRequest { transactional_id, producer_id, producer_epoch, topics })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPartitionsToTxnResponse {
    pub throttle_time_ms: i32,
    /// Topic name and, per partition, its index and error code.
    pub results: PartitionErrors,
}

impl AddPartitionsToTxnResponse {
    /// Reads the body after the response header.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("AddPartitionsToTxnResponse", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let throttle_time_ms = d.i32("throttle_time_ms")?;
        let results = decode_partition_errors(d, "results", flexible)?;
        d.skip_tagged_fields_flex(flexible)?;
        Ok(AddPartitionsToTxnResponse { throttle_time_ms, results })
    }

    /// Writes the body (tests and mock brokers).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "AddPartitionsToTxn v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_i32(self.throttle_time_ms);
        encode_partition_errors(buf, &self.results, flexible);
        buf.put_tagged_fields_flex(flexible);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip_at_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            let req = AddPartitionsToTxnRequest {
                transactional_id: "txn".into(),
                producer_id: 42,
                producer_epoch: 3,
                topics: vec![("a".into(), vec![0, 2]), ("b".into(), vec![1])],
            };
            let mut buf = Vec::new();
            req.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(AddPartitionsToTxnRequest::decode(&mut d, v).unwrap(), req, "v{v}");
            assert!(d.is_empty());
            let resp = AddPartitionsToTxnResponse { throttle_time_ms: 5, results: vec![("a".into(), vec![(0, 0), (2, 51)])] };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(AddPartitionsToTxnResponse::decode(&mut d, v).unwrap(), resp, "v{v}");
            assert!(d.is_empty());
        }
    }

    #[test]
    fn truncated_or_oversized_responses_are_errors() {
        let resp = AddPartitionsToTxnResponse { throttle_time_ms: 0, results: vec![("a".into(), vec![(0, 0)])] };
        for v in MIN_VERSION..=MAX_VERSION {
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            for cut in 0..buf.len() {
                assert!(AddPartitionsToTxnResponse::decode(&mut Decoder::new(&buf[..cut]), v).is_err(), "v{v} cut {cut}");
            }
        }
        let mut buf = Vec::new();
        buf.put_i32(0);
        buf.put_i32(i32::MAX);
        assert!(AddPartitionsToTxnResponse::decode(&mut Decoder::new(&buf), 0).is_err());
    }
}
