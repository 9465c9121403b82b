//! InitProducerId (key 22): obtains a producer id and epoch for idempotent (and transactional)
//! producing.
//!
//! Versions 0..=5. v2 is the first flexible version; v3 adds `producer_id`/`producer_epoch` to
//! the request, which lets an idempotent producer bump its epoch after
//! OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID instead of getting a fresh id (KIP-360);
//! v4 allows PRODUCER_FENCED and v5 TRANSACTION_ABORTABLE in the response. Before v3 the
//! request's id/epoch are not sent (they read back as -1).

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 5;
pub const FIRST_FLEXIBLE_VERSION: i16 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerIdRequest {
    /// None for an idempotent, non-transactional producer.
    pub transactional_id: Option<String>,
    pub transaction_timeout_ms: i32,
    /// -1 for a new producer; the current id when bumping the epoch (v3+).
    pub producer_id: i64,
    /// -1 for a new producer; the current epoch when bumping it (v3+).
    pub producer_epoch: i16,
}

impl InitProducerIdRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION`.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!(
            (MIN_VERSION..=MAX_VERSION).contains(&version),
            "InitProducerId v{version}"
        );
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_nullable_string_flex(self.transactional_id.as_deref(), flexible);
        buf.put_i32(self.transaction_timeout_ms);
        if version >= 3 {
            buf.put_i64(self.producer_id);
            buf.put_i16(self.producer_epoch);
        }
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("InitProducerIdRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let transactional_id = d.nullable_string_flex("transactional_id", flexible)?;
        let transaction_timeout_ms = d.i32("transaction_timeout_ms")?;
        let (producer_id, producer_epoch) = if version >= 3 {
            (d.i64("producer_id")?, d.i16("producer_epoch")?)
        } else {
            (-1, -1)
        };
        d.skip_tagged_fields_flex(flexible)?;
        Ok(InitProducerIdRequest {
            transactional_id,
            transaction_timeout_ms,
            producer_id,
            producer_epoch,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerIdResponse {
    pub throttle_time_ms: i32,
    pub error_code: i16,
    pub producer_id: i64,
    pub producer_epoch: i16,
}

impl InitProducerIdResponse {
    /// Reads the body after the response header.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("InitProducerIdResponse", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let r = InitProducerIdResponse {
            throttle_time_ms: d.i32("throttle_time_ms")?,
            error_code: d.i16("error_code")?,
            producer_id: d.i64("producer_id")?,
            producer_epoch: d.i16("producer_epoch")?,
        };
        d.skip_tagged_fields_flex(flexible)?;
        Ok(r)
    }

    /// Writes the body (tests and mock brokers).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!(
            (MIN_VERSION..=MAX_VERSION).contains(&version),
            "InitProducerId v{version}"
        );
        buf.put_i32(self.throttle_time_ms);
        buf.put_i16(self.error_code);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        buf.put_tagged_fields_flex(version >= FIRST_FLEXIBLE_VERSION);
    }
}
