//! TxnOffsetCommit (key 28): commits a consumer group's offsets as part of a transaction; sent
//! to the group's coordinator after AddOffsetsToTxn (transaction version 1).
//!
//! Versions 0..=5: v2 adds the committed leader epoch per partition, v3 is the first flexible
//! version and adds the consumer's generation id, member id and group instance id (KIP-447, so
//! the group coordinator fences a zombie that lost its partitions), v4 allows
//! TRANSACTION_ABORTABLE, and v5 (transaction version 2) adds the group to the transaction
//! implicitly, so it may be sent only when the transaction uses version 2.

use super::{check_version, decode_partition_errors, encode_partition_errors, PartitionErrors};
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 5;
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;
/// The highest version a transaction of version 1 may use (v5 implies transaction version 2).
pub const MAX_VERSION_TV1: i16 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitPartition {
    pub partition_index: i32,
    pub committed_offset: i64,
    /// v2+; -1 when unknown.
    pub committed_leader_epoch: i32,
    pub committed_metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitRequest {
    pub transactional_id: String,
    pub group_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// v3+ (KIP-447); -1 when not known.
    pub generation_id: i32,
    /// v3+; empty when not known.
    pub member_id: String,
    /// v3+; static membership's `group.instance.id`.
    pub group_instance_id: Option<String>,
    pub topics: Vec<(String, Vec<TxnOffsetCommitPartition>)>,
}

impl TxnOffsetCommitRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION`.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "TxnOffsetCommit v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_string_flex(&self.transactional_id, flexible);
        buf.put_string_flex(&self.group_id, flexible);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        if version >= 3 {
            buf.put_i32(self.generation_id);
            buf.put_compact_string(&self.member_id);
            buf.put_compact_nullable_string(self.group_instance_id.as_deref());
        }
        buf.put_array_len_flex(self.topics.len(), flexible);
        for (name, parts) in &self.topics {
            buf.put_string_flex(name, flexible);
            buf.put_array_len_flex(parts.len(), flexible);
            for p in parts {
                buf.put_i32(p.partition_index);
                buf.put_i64(p.committed_offset);
                if version >= 2 {
                    buf.put_i32(p.committed_leader_epoch);
                }
                buf.put_nullable_string_flex(p.committed_metadata.as_deref(), flexible);
                buf.put_tagged_fields_flex(flexible);
            }
            buf.put_tagged_fields_flex(flexible);
        }
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("TxnOffsetCommitRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let transactional_id = d.string_flex("transactional_id", flexible)?;
        let group_id = d.string_flex("group_id", flexible)?;
        let producer_id = d.i64("producer_id")?;
        let producer_epoch = d.i16("producer_epoch")?;
        let (generation_id, member_id, group_instance_id) = if version >= 3 {
            (d.i32("generation_id")?, d.compact_string("member_id")?, d.compact_nullable_string("group_instance_id")?)
        } else {
            (-1, String::new(), None)
        };
        let n = d.array_len_flex("topics", 2, flexible)?;
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            let name = d.string_flex("topics.name", flexible)?;
            let m = d.array_len_flex("topics.partitions", 13, flexible)?;
            let mut parts = Vec::with_capacity(m);
            for _ in 0..m {
                let partition_index = d.i32("partition_index")?;
                let committed_offset = d.i64("committed_offset")?;
                let committed_leader_epoch = if version >= 2 { d.i32("committed_leader_epoch")? } else { -1 };
                let committed_metadata = d.nullable_string_flex("committed_metadata", flexible)?;
                d.skip_tagged_fields_flex(flexible)?;
                parts.push(TxnOffsetCommitPartition { partition_index, committed_offset, committed_leader_epoch, committed_metadata });
            }
            d.skip_tagged_fields_flex(flexible)?;
            topics.push((name, parts));
        }
        d.skip_tagged_fields_flex(flexible)?;
        Ok(TxnOffsetCommitRequest { transactional_id, group_id, producer_id, producer_epoch, generation_id, member_id, group_instance_id, topics })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitResponse {
    pub throttle_time_ms: i32,
    /// Topic name and, per partition, its index and error code.
    pub topics: PartitionErrors,
}

impl TxnOffsetCommitResponse {
    /// Reads the body after the response header.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("TxnOffsetCommitResponse", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let throttle_time_ms = d.i32("throttle_time_ms")?;
        let topics = decode_partition_errors(d, "topics", flexible)?;
        d.skip_tagged_fields_flex(flexible)?;
        Ok(TxnOffsetCommitResponse { throttle_time_ms, topics })
    }

    /// Writes the body (tests and mock brokers).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "TxnOffsetCommit v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_i32(self.throttle_time_ms);
        encode_partition_errors(buf, &self.topics, flexible);
        buf.put_tagged_fields_flex(flexible);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip_at_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            let kip447 = v >= 3;
            let req = TxnOffsetCommitRequest {
                transactional_id: "txn".into(),
                group_id: "g".into(),
                producer_id: 11,
                producer_epoch: 4,
                generation_id: if kip447 { 5 } else { -1 },
                member_id: if kip447 { "member-1".into() } else { String::new() },
                group_instance_id: if kip447 { Some("static-1".into()) } else { None },
                topics: vec![(
                    "in".into(),
                    vec![TxnOffsetCommitPartition { partition_index: 2, committed_offset: 100, committed_leader_epoch: if v >= 2 { 7 } else { -1 }, committed_metadata: Some("m".into()) }],
                )],
            };
            let mut buf = Vec::new();
            req.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(TxnOffsetCommitRequest::decode(&mut d, v).unwrap(), req, "v{v}");
            assert!(d.is_empty());
            let resp = TxnOffsetCommitResponse { throttle_time_ms: 0, topics: vec![("in".into(), vec![(2, 0), (3, 22)])] };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(TxnOffsetCommitResponse::decode(&mut d, v).unwrap(), resp, "v{v}");
            assert!(d.is_empty());
            for cut in 0..buf.len() {
                assert!(TxnOffsetCommitResponse::decode(&mut Decoder::new(&buf[..cut]), v).is_err());
            }
        }
    }
}
