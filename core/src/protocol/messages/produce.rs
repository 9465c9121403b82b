//! Produce (key 0): record batches to partition leaders.
//!
//! Versions 3..=12. v3 is the first with a transactional id and RecordBatch v2 (and the lowest
//! Kafka 4.x accepts, KIP-896); v9 is the first flexible version; v10 adds the tagged
//! `CurrentLeader` (per partition) and `NodeEndpoints` (top level) to the response (KIP-951) so a
//! producer hit by NOT_LEADER_OR_FOLLOWER learns the new leader without a metadata round trip;
//! v11 and v12 change only which errors a broker may return (KIP-890). v13 (Kafka 4.1) replaces
//! topic names with topic ids and is out of scope.
//!
//! Response fields by version: v2 `log_append_time_ms`, v5 `log_start_offset`, v8
//! `record_errors` and `error_message`, v1 `throttle_time_ms` (after the topics).
//!
//! The request is written by [`ProduceRequestWriter`], which lets the engine append record
//! batches straight into the request buffer with no intermediate copy.

use super::{begin_request, check_version, finish_request, API_KEY_PRODUCE};
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 3;
pub const MAX_VERSION: i16 = 12;
pub const FIRST_FLEXIBLE_VERSION: i16 = 9;

/// Tag of `CurrentLeader` in a partition response, and of `NodeEndpoints` in the top level.
const TAG_CURRENT_LEADER: u32 = 0;
const TAG_NODE_ENDPOINTS: u32 = 0;

/// Streams a whole Produce request frame into a buffer.
///
/// Call order: [`begin`](Self::begin) with the number of topics, then for each topic
/// [`topic`](Self::topic) with its partition count and a closure that calls
/// [`partition`](Self::partition) exactly that many times, then [`finish`](Self::finish).
/// The counts are written up front (arrays are length-prefixed), so they must be right: debug
/// builds assert it.
pub struct ProduceRequestWriter<'a> {
    buf: &'a mut Vec<u8>,
    frame_start: usize,
    flexible: bool,
    topics_left: usize,
    partitions_left: usize,
}

impl<'a> ProduceRequestWriter<'a> {
    /// Writes the frame prefix, the request header and the fields before the topic array.
    /// `acks` is 0, 1 or -1. Panics on a version outside `MIN_VERSION..=MAX_VERSION`.
    #[allow(clippy::too_many_arguments)]
    pub fn begin(
        buf: &'a mut Vec<u8>,
        version: i16,
        correlation_id: i32,
        client_id: &str,
        transactional_id: Option<&str>,
        acks: i16,
        timeout_ms: i32,
        topic_count: usize,
    ) -> Self {
        assert!(
            (MIN_VERSION..=MAX_VERSION).contains(&version),
            "Produce v{version}"
        );
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let frame_start = begin_request(
            buf,
            API_KEY_PRODUCE,
            version,
            correlation_id,
            client_id,
            flexible,
        );
        buf.put_nullable_string_flex(transactional_id, flexible);
        buf.put_i16(acks);
        buf.put_i32(timeout_ms);
        buf.put_array_len_flex(topic_count, flexible);
        ProduceRequestWriter {
            buf,
            frame_start,
            flexible,
            topics_left: topic_count,
            partitions_left: 0,
        }
    }

    /// Writes one topic: its name and partition count, then `f` writes the partitions.
    pub fn topic(&mut self, name: &str, partition_count: usize, f: impl FnOnce(&mut Self)) {
        debug_assert!(self.topics_left > 0, "more topics than declared in begin()");
        self.topics_left = self.topics_left.wrapping_sub(1);
        self.buf.put_string_flex(name, self.flexible);
        self.buf.put_array_len_flex(partition_count, self.flexible);
        self.partitions_left = partition_count;
        f(self);
        debug_assert_eq!(
            self.partitions_left, 0,
            "fewer partitions than declared for {name}"
        );
        self.buf.put_tagged_fields_flex(self.flexible);
    }

    /// Writes one partition: its index and the length prefix of its records (`BYTES` before v9,
    /// `COMPACT_RECORDS` from v9), then `write_records` must append exactly `records_len` bytes
    /// (one or more record batches).
    pub fn partition(
        &mut self,
        index: i32,
        records_len: usize,
        write_records: impl FnOnce(&mut Vec<u8>),
    ) {
        debug_assert!(self.partitions_left > 0, "more partitions than declared");
        self.partitions_left = self.partitions_left.wrapping_sub(1);
        self.buf.put_i32(index);
        if self.flexible {
            self.buf
                .put_uvarint(u32::try_from(records_len + 1).expect("records over 4 GiB"));
        } else {
            self.buf
                .put_i32(i32::try_from(records_len).expect("records over 2 GiB"));
        }
        let before = self.buf.len();
        write_records(self.buf);
        debug_assert_eq!(
            self.buf.len() - before,
            records_len,
            "write_records appended a different number of bytes than records_len"
        );
        self.buf.put_tagged_fields_flex(self.flexible);
    }

    /// Closes the request (tagged fields when flexible) and patches the frame size.
    pub fn finish(self) {
        debug_assert_eq!(self.topics_left, 0, "fewer topics than declared in begin()");
        self.buf.put_tagged_fields_flex(self.flexible);
        finish_request(self.buf, self.frame_start);
    }
}

/// `(node_id, host, port, rack)` of a broker named in a Produce response (KIP-951).
pub type NodeEndpoint = (i32, String, i32, Option<String>);

/// `(topic, [(partition index, raw record batches)])` of a decoded Produce request.
pub type ProduceRequestTopic = (String, Vec<(i32, Vec<u8>)>);

/// A Produce request body as read back (tests, fixtures, mock brokers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceRequestView {
    pub transactional_id: Option<String>,
    pub acks: i16,
    pub timeout_ms: i32,
    /// `(topic, [(partition index, raw record batches)])`; null records read as empty.
    pub topics: Vec<ProduceRequestTopic>,
}

/// Reads a Produce request BODY (after the request header) sent at `version`.
pub fn decode_produce_request(
    body: &mut Decoder<'_>,
    version: i16,
) -> Result<ProduceRequestView, DecodeError> {
    check_version("ProduceRequest", version, MIN_VERSION, MAX_VERSION)?;
    let d = body;
    let flexible = version >= FIRST_FLEXIBLE_VERSION;
    let transactional_id = d.nullable_string_flex("transactional_id", flexible)?;
    let acks = d.i16("acks")?;
    let timeout_ms = d.i32("timeout_ms")?;
    let n = d.array_len_flex("topic_data", 2, flexible)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.string_flex("topic_data.name", flexible)?;
        let np = d.array_len_flex("partition_data", 5, flexible)?;
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            let index = d.i32("partition_data.index")?;
            let records = d.nullable_bytes_flex("partition_data.records", flexible)?;
            d.skip_tagged_fields_flex(flexible)?;
            parts.push((index, records.unwrap_or_default().to_vec()));
        }
        d.skip_tagged_fields_flex(flexible)?;
        topics.push((name, parts));
    }
    d.skip_tagged_fields_flex(flexible)?;
    Ok(ProduceRequestView {
        transactional_id,
        acks,
        timeout_ms,
        topics,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducePartitionResponse {
    pub index: i32,
    pub error_code: i16,
    pub base_offset: i64,
    /// -1 before v2, and when the topic uses CreateTime.
    pub log_append_time_ms: i64,
    /// -1 before v5.
    pub log_start_offset: i64,
    /// `(batch index, message)` of records that made the broker drop the batch (v8+).
    pub record_errors: Vec<(i32, Option<String>)>,
    /// v8+.
    pub error_message: Option<String>,
    /// `(leader_id, leader_epoch)` the broker knows of, sent with NOT_LEADER_OR_FOLLOWER
    /// (tagged, v10+).
    pub current_leader: Option<(i32, i32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceTopicResponse {
    pub name: String,
    pub partitions: Vec<ProducePartitionResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceResponse {
    pub topics: Vec<ProduceTopicResponse>,
    /// 0 when absent.
    pub throttle_time_ms: i32,
    /// `(node_id, host, port, rack)` of the leaders named in `current_leader` (tagged, v10+).
    pub node_endpoints: Vec<NodeEndpoint>,
}

/// Where [`ProduceResponse::find_partition`] looks first: just after the entry it found last.
#[derive(Debug, Default, Clone, Copy)]
pub struct ResponseCursor {
    topic: usize,
    partition: usize,
}

impl ProduceResponse {
    /// Puts the answers in order: topics by name, each topic's partitions by index. Brokers list
    /// them in an order of their own (Kafka's follows a hash map), while a request lists its
    /// batches in this order (the sender sorts them so), and [`Self::find_partition`] walks a
    /// response in step with its request only when both agree.
    pub fn sort(&mut self) {
        self.topics.sort_by(|a, b| a.name.cmp(&b.name));
        for t in &mut self.topics {
            t.partitions.sort_by_key(|p| p.index);
        }
    }

    /// The answer for `topic`-`partition`. Asked for the partitions in the order the response
    /// lists them (after [`Self::sort`], the request's), each lookup is one comparison at the
    /// cursor; any other order falls back to a search of the whole response, so a request of
    /// thousands of partitions costs linear time, not quadratic, and any order is still found.
    pub fn find_partition(&self, at: &mut ResponseCursor, topic: &str, partition: i32) -> Option<&ProducePartitionResponse> {
        let (mut t, mut p) = (at.topic, at.partition);
        if t < self.topics.len() && p >= self.topics[t].partitions.len() {
            (t, p) = (t + 1, 0);
        }
        if let Some(tr) = self.topics.get(t) {
            if let Some(pr) = tr.partitions.get(p) {
                if pr.index == partition && tr.name == topic {
                    *at = ResponseCursor { topic: t, partition: p + 1 };
                    return Some(pr);
                }
            }
        }
        for (t, tr) in self.topics.iter().enumerate().filter(|(_, tr)| tr.name == topic) {
            if let Some(p) = tr.partitions.iter().position(|pr| pr.index == partition) {
                *at = ResponseCursor { topic: t, partition: p + 1 };
                return Some(&tr.partitions[p]);
            }
        }
        None
    }
}

fn decode_current_leader(data: &[u8]) -> Result<(i32, i32), DecodeError> {
    let mut d = Decoder::new(data);
    let leader_id = d.i32("current_leader.leader_id")?;
    let leader_epoch = d.i32("current_leader.leader_epoch")?;
    d.skip_tagged_fields()?;
    Ok((leader_id, leader_epoch))
}

fn decode_node_endpoints(data: &[u8]) -> Result<Vec<NodeEndpoint>, DecodeError> {
    let mut d = Decoder::new(data);
    let n = d.compact_array_len("node_endpoints", 11)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let node_id = d.i32("node_endpoints.node_id")?;
        let host = d.compact_string("node_endpoints.host")?;
        let port = d.i32("node_endpoints.port")?;
        let rack = d.compact_nullable_string("node_endpoints.rack")?;
        d.skip_tagged_fields()?;
        out.push((node_id, host, port, rack));
    }
    Ok(out)
}

impl ProduceResponse {
    /// Reads the body after the response header. (acks=0 requests get no response at all.)
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("ProduceResponse", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let n = d.array_len_flex("responses", 2, flexible)?;
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            let name = d.string_flex("responses.name", flexible)?;
            let np = d.array_len_flex("partition_responses", 14, flexible)?;
            let mut partitions = Vec::with_capacity(np);
            for _ in 0..np {
                let index = d.i32("partition_responses.index")?;
                let error_code = d.i16("partition_responses.error_code")?;
                let base_offset = d.i64("partition_responses.base_offset")?;
                let log_append_time_ms = d.i64("partition_responses.log_append_time_ms")?;
                let log_start_offset = if version >= 5 {
                    d.i64("partition_responses.log_start_offset")?
                } else {
                    -1
                };
                let mut record_errors = Vec::new();
                let mut error_message = None;
                if version >= 8 {
                    let ne = d.array_len_flex("record_errors", 5, flexible)?;
                    record_errors.reserve(ne);
                    for _ in 0..ne {
                        let batch_index = d.i32("record_errors.batch_index")?;
                        let msg = d.nullable_string_flex("record_errors.message", flexible)?;
                        d.skip_tagged_fields_flex(flexible)?;
                        record_errors.push((batch_index, msg));
                    }
                    error_message = d.nullable_string_flex("error_message", flexible)?;
                }
                let mut current_leader = None;
                if flexible {
                    d.tagged_fields(|tag, data| {
                        if version >= 10 && tag == TAG_CURRENT_LEADER {
                            current_leader = Some(decode_current_leader(data)?);
                        }
                        Ok(())
                    })?;
                }
                partitions.push(ProducePartitionResponse {
                    index,
                    error_code,
                    base_offset,
                    log_append_time_ms,
                    log_start_offset,
                    record_errors,
                    error_message,
                    current_leader,
                });
            }
            d.skip_tagged_fields_flex(flexible)?;
            topics.push(ProduceTopicResponse { name, partitions });
        }
        let throttle_time_ms = d.i32("throttle_time_ms")?;
        let mut node_endpoints = Vec::new();
        if flexible {
            d.tagged_fields(|tag, data| {
                if version >= 10 && tag == TAG_NODE_ENDPOINTS {
                    node_endpoints = decode_node_endpoints(data)?;
                }
                Ok(())
            })?;
        }
        Ok(ProduceResponse {
            topics,
            throttle_time_ms,
            node_endpoints,
        })
    }

    /// Writes the body (tests and mock brokers). `current_leader` and `node_endpoints` are
    /// written as tagged fields from v10 when present/non-empty, as Kafka does.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!(
            (MIN_VERSION..=MAX_VERSION).contains(&version),
            "Produce v{version}"
        );
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_array_len_flex(self.topics.len(), flexible);
        for t in &self.topics {
            buf.put_string_flex(&t.name, flexible);
            buf.put_array_len_flex(t.partitions.len(), flexible);
            for p in &t.partitions {
                buf.put_i32(p.index);
                buf.put_i16(p.error_code);
                buf.put_i64(p.base_offset);
                buf.put_i64(p.log_append_time_ms);
                if version >= 5 {
                    buf.put_i64(p.log_start_offset);
                }
                if version >= 8 {
                    buf.put_array_len_flex(p.record_errors.len(), flexible);
                    for (i, msg) in &p.record_errors {
                        buf.put_i32(*i);
                        buf.put_nullable_string_flex(msg.as_deref(), flexible);
                        buf.put_tagged_fields_flex(flexible);
                    }
                    buf.put_nullable_string_flex(p.error_message.as_deref(), flexible);
                }
                if flexible {
                    match p.current_leader {
                        Some((id, epoch)) if version >= 10 => {
                            let mut field = Vec::new();
                            field.put_i32(id);
                            field.put_i32(epoch);
                            field.put_empty_tagged_fields();
                            put_tagged(buf, &[(TAG_CURRENT_LEADER, &field)]);
                        }
                        _ => buf.put_empty_tagged_fields(),
                    }
                }
            }
            buf.put_tagged_fields_flex(flexible);
        }
        buf.put_i32(self.throttle_time_ms);
        if flexible {
            if version >= 10 && !self.node_endpoints.is_empty() {
                let mut field = Vec::new();
                field.put_compact_array_len(self.node_endpoints.len());
                for (id, host, port, rack) in &self.node_endpoints {
                    field.put_i32(*id);
                    field.put_compact_string(host);
                    field.put_i32(*port);
                    field.put_compact_nullable_string(rack.as_deref());
                    field.put_empty_tagged_fields();
                }
                put_tagged(buf, &[(TAG_NODE_ENDPOINTS, &field)]);
            } else {
                buf.put_empty_tagged_fields();
            }
        }
    }
}

/// Writes a tagged-field section holding `fields` (ascending tags).
fn put_tagged(buf: &mut Vec<u8>, fields: &[(u32, &[u8])]) {
    buf.put_uvarint(fields.len() as u32);
    for (tag, data) in fields {
        buf.put_uvarint(*tag);
        buf.put_uvarint(data.len() as u32);
        buf.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(index: i32, base_offset: i64) -> ProducePartitionResponse {
        ProducePartitionResponse {
            index,
            error_code: 0,
            base_offset,
            log_append_time_ms: -1,
            log_start_offset: -1,
            record_errors: Vec::new(),
            error_message: None,
            current_leader: None,
        }
    }

    fn response(topics: &[(&str, &[i32])]) -> ProduceResponse {
        ProduceResponse {
            topics: topics
                .iter()
                .map(|(name, ps)| ProduceTopicResponse { name: name.to_string(), partitions: ps.iter().map(|&p| part(p, 100 + p as i64)).collect() })
                .collect(),
            throttle_time_ms: 0,
            node_endpoints: Vec::new(),
        }
    }

    #[test]
    fn find_partition_answers_each_partition_asked_for_in_request_order() {
        let r = response(&[("a", &[0, 3, 7]), ("b", &[1, 2])]);
        let mut at = ResponseCursor::default();
        for (t, p) in [("a", 0), ("a", 3), ("a", 7), ("b", 1), ("b", 2)] {
            assert_eq!(r.find_partition(&mut at, t, p).map(|x| (x.index, x.base_offset)), Some((p, 100 + p as i64)), "{t}-{p}");
        }
    }

    #[test]
    fn sort_puts_an_answer_in_a_broker_order_into_request_order() {
        // Kafka lists a response's partitions in its hash map's order, not the request's.
        let mut r = response(&[("b", &[9, 1]), ("a", &[7, 0, 3]), ("c", &[])]);
        r.sort();
        let order: Vec<(String, Vec<i32>)> = r.topics.iter().map(|t| (t.name.clone(), t.partitions.iter().map(|p| p.index).collect())).collect();
        assert_eq!(order, vec![("a".into(), vec![0, 3, 7]), ("b".into(), vec![1, 9]), ("c".into(), vec![])]);
        let mut at = ResponseCursor::default();
        for (t, p) in [("a", 0), ("a", 3), ("a", 7), ("b", 1), ("b", 9)] {
            assert_eq!(r.find_partition(&mut at, t, p).map(|x| (x.index, x.base_offset)), Some((p, 100 + p as i64)), "{t}-{p}");
            assert!(r.find_partition(&mut at.clone(), "c", p).is_none(), "an empty topic answers nothing");
        }
        assert!(r.find_partition(&mut at, "b", 9).is_some(), "asked again with the cursor past the end");
    }

    #[test]
    fn find_partition_finds_partitions_answered_out_of_order_and_none_for_those_left_out() {
        // A broker may list topics and partitions in another order than the request; the same
        // partition number under another topic must not be taken for it.
        let r = response(&[("b", &[2, 1]), ("a", &[7, 0, 3])]);
        let mut at = ResponseCursor::default();
        for (t, p) in [("a", 0), ("a", 3), ("a", 7), ("b", 1), ("b", 2), ("a", 0)] {
            assert_eq!(r.find_partition(&mut at, t, p).map(|x| x.index), Some(p), "{t}-{p}");
        }
        assert!(r.find_partition(&mut at, "a", 5).is_none(), "a partition the response left out");
        assert!(r.find_partition(&mut at, "c", 1).is_none(), "a topic the response left out");
        let same_numbers = response(&[("x", &[1]), ("y", &[1])]);
        let mut at = ResponseCursor::default();
        assert!(std::ptr::eq(same_numbers.find_partition(&mut at, "y", 1).unwrap(), &same_numbers.topics[1].partitions[0]));
        assert!(std::ptr::eq(same_numbers.find_partition(&mut at, "x", 1).unwrap(), &same_numbers.topics[0].partitions[0]));
    }
}
