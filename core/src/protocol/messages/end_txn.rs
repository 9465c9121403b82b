//! EndTxn (key 26): commits or aborts the producer's transaction.
//!
//! Versions 0..=5: v2 allows PRODUCER_FENCED, v3 is the first flexible version, v4 allows
//! TRANSACTION_ABORTABLE, v5 (transaction version 2, KIP-890 part 2) returns the producer id and
//! the epoch the coordinator bumped for the next transaction. Below v5 those read back as -1.

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 5;
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;
/// The first version that bumps the epoch at every transaction's end (transaction version 2).
pub const FIRST_EPOCH_BUMP_VERSION: i16 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndTxnRequest {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// True to commit, false to abort.
    pub committed: bool,
}

impl EndTxnRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION`.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "EndTxn v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_string_flex(&self.transactional_id, flexible);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        buf.put_bool(self.committed);
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("EndTxnRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let r = EndTxnRequest {
            transactional_id: d.string_flex("transactional_id", flexible)?,
            producer_id: d.i64("producer_id")?,
            producer_epoch: d.i16("producer_epoch")?,
            committed: d.bool("committed")?,
        };
        d.skip_tagged_fields_flex(flexible)?;
        Ok(r)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndTxnResponse {
    pub throttle_time_ms: i32,
    pub error_code: i16,
    /// v5+: the producer id for the next transaction; -1 before.
    pub producer_id: i64,
    /// v5+: the (bumped) epoch for the next transaction; -1 before.
    pub producer_epoch: i16,
}

impl EndTxnResponse {
    /// Reads the body after the response header.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("EndTxnResponse", version, MIN_VERSION, MAX_VERSION)?;
        let throttle_time_ms = d.i32("throttle_time_ms")?;
        let error_code = d.i16("error_code")?;
        let (producer_id, producer_epoch) = if version >= FIRST_EPOCH_BUMP_VERSION { (d.i64("producer_id")?, d.i16("producer_epoch")?) } else { (-1, -1) };
        d.skip_tagged_fields_flex(version >= FIRST_FLEXIBLE_VERSION)?;
        Ok(EndTxnResponse { throttle_time_ms, error_code, producer_id, producer_epoch })
    }

    /// Writes the body (tests and mock brokers).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "EndTxn v{version}");
        buf.put_i32(self.throttle_time_ms);
        buf.put_i16(self.error_code);
        if version >= FIRST_EPOCH_BUMP_VERSION {
            buf.put_i64(self.producer_id);
            buf.put_i16(self.producer_epoch);
        }
        buf.put_tagged_fields_flex(version >= FIRST_FLEXIBLE_VERSION);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip_at_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            for committed in [true, false] {
                let req = EndTxnRequest { transactional_id: "txn".into(), producer_id: 9, producer_epoch: 2, committed };
                let mut buf = Vec::new();
                req.encode(&mut buf, v);
                let mut d = Decoder::new(&buf);
                assert_eq!(EndTxnRequest::decode(&mut d, v).unwrap(), req, "v{v}");
                assert!(d.is_empty());
            }
            let bumped = v >= FIRST_EPOCH_BUMP_VERSION;
            let resp = EndTxnResponse { throttle_time_ms: 3, error_code: 0, producer_id: if bumped { 9 } else { -1 }, producer_epoch: if bumped { 3 } else { -1 } };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(EndTxnResponse::decode(&mut d, v).unwrap(), resp, "v{v}");
            assert!(d.is_empty());
            for cut in 0..buf.len() {
                assert!(EndTxnResponse::decode(&mut Decoder::new(&buf[..cut]), v).is_err());
            }
        }
    }
}
