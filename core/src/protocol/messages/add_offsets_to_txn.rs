//! AddOffsetsToTxn (key 25): tells the transaction coordinator that the transaction will commit
//! offsets of a consumer group (whose coordinator then gets them with TxnOffsetCommit).
//!
//! Versions 0..=4: v2 allows PRODUCER_FENCED, v3 is the first flexible version, v4 allows
//! TRANSACTION_ABORTABLE. Nothing else changes on the wire.

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 4;
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOffsetsToTxnRequest {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub group_id: String,
}

impl AddOffsetsToTxnRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION`.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "AddOffsetsToTxn v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_string_flex(&self.transactional_id, flexible);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        buf.put_string_flex(&self.group_id, flexible);
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("AddOffsetsToTxnRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let r = AddOffsetsToTxnRequest {
            transactional_id: d.string_flex("transactional_id", flexible)?,
            producer_id: d.i64("producer_id")?,
            producer_epoch: d.i16("producer_epoch")?,
            group_id: d.string_flex("group_id", flexible)?,
        };
        d.skip_tagged_fields_flex(flexible)?;
        Ok(r)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOffsetsToTxnResponse {
    pub throttle_time_ms: i32,
    pub error_code: i16,
}

impl AddOffsetsToTxnResponse {
    /// Reads the body after the response header.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("AddOffsetsToTxnResponse", version, MIN_VERSION, MAX_VERSION)?;
        let r = AddOffsetsToTxnResponse { throttle_time_ms: d.i32("throttle_time_ms")?, error_code: d.i16("error_code")? };
        d.skip_tagged_fields_flex(version >= FIRST_FLEXIBLE_VERSION)?;
        Ok(r)
    }

    /// Writes the body (tests and mock brokers).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "AddOffsetsToTxn v{version}");
        buf.put_i32(self.throttle_time_ms);
        buf.put_i16(self.error_code);
        buf.put_tagged_fields_flex(version >= FIRST_FLEXIBLE_VERSION);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip_at_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            let req = AddOffsetsToTxnRequest { transactional_id: "txn".into(), producer_id: 7, producer_epoch: 1, group_id: "g".into() };
            let mut buf = Vec::new();
            req.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(AddOffsetsToTxnRequest::decode(&mut d, v).unwrap(), req, "v{v}");
            assert!(d.is_empty());
            let resp = AddOffsetsToTxnResponse { throttle_time_ms: 1, error_code: 51 };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(AddOffsetsToTxnResponse::decode(&mut d, v).unwrap(), resp, "v{v}");
            assert!(d.is_empty());
            for cut in 0..buf.len() {
                assert!(AddOffsetsToTxnResponse::decode(&mut Decoder::new(&buf[..cut]), v).is_err());
            }
        }
    }
}
