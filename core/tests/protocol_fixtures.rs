//! Decodes responses captured from a real Apache Kafka 4.3.1 broker (see
//! `tests/fixtures/README.md`) and checks concrete values, and checks that today's encoders
//! still produce, byte for byte, the requests that broker accepted.

mod protocol_support;

use protocol_support::{build_batch, fixture, sample_records, TestRecord};
use rafka_core::protocol::error_codes::KafkaCode;
use rafka_core::protocol::messages::api_versions::{self, ApiVersionsResponse};
use rafka_core::protocol::messages::init_producer_id::InitProducerIdResponse;
use rafka_core::protocol::messages::metadata::MetadataResponse;
use rafka_core::protocol::messages::produce::{decode_produce_request, ProduceResponse};
use rafka_core::protocol::messages::{
    decode_request_header_auto, decode_response_header, frame_len, response_header_flexible,
    API_KEY_API_VERSIONS, API_KEY_INIT_PRODUCER_ID, API_KEY_METADATA, API_KEY_PRODUCE,
};
use rafka_core::protocol::record_batch::decode_record_batches;
use rafka_core::protocol::Decoder;

const DIR: &str = "broker-4.3.1";
const BASE_TS: i64 = 1_700_000_000_000;

/// Reads `<name>.response.bin`: checks the frame size and the correlation id, returns a decoder
/// positioned at the body.
fn response(name: &str, api_key: i16, version: i16, correlation_id: i32) -> Vec<u8> {
    let frame = fixture(&format!("{DIR}/{name}.response.bin"));
    let n = frame_len(frame[..4].try_into().unwrap()).unwrap();
    assert_eq!(n, frame.len() - 4, "{name}: size prefix");
    let mut d = Decoder::new(&frame[4..]);
    let id = decode_response_header(&mut d, response_header_flexible(api_key, version)).unwrap();
    assert_eq!(id, correlation_id, "{name}: correlation id");
    d.rest().to_vec()
}

fn decode_all<T>(
    body: &[u8],
    f: impl FnOnce(&mut Decoder<'_>) -> Result<T, rafka_core::protocol::DecodeError>,
) -> T {
    let mut d = Decoder::new(body);
    let out = f(&mut d).unwrap();
    assert_eq!(d.remaining(), 0, "bytes left after the body");
    out
}

#[test]
fn api_versions_v3_from_broker_lists_the_producer_apis() {
    let body = response("api_versions_v3", API_KEY_API_VERSIONS, 3, 1);
    let r = decode_all(&body, |d| ApiVersionsResponse::decode(d, 3));
    assert_eq!(r.error_code, 0);
    assert_eq!(r.throttle_time_ms, 0);
    assert_eq!(r.version_range(API_KEY_PRODUCE), Some((0, 13)));
    assert_eq!(r.version_range(API_KEY_METADATA), Some((0, 13)));
    assert_eq!(r.version_range(API_KEY_API_VERSIONS), Some((0, 4)));
    assert_eq!(r.version_range(API_KEY_INIT_PRODUCER_ID), Some((0, 5)));
    assert_eq!(r.negotiate(API_KEY_PRODUCE, (3, 12)), Some(12));
    assert!(
        r.api_keys.len() > 40,
        "a 4.3 broker serves many APIs, got {}",
        r.api_keys.len()
    );
}

#[test]
fn api_versions_v0_from_broker_matches_v3_ranges() {
    let v0 = decode_all(
        &response("api_versions_v0", API_KEY_API_VERSIONS, 0, 2),
        |d| ApiVersionsResponse::decode(d, 0),
    );
    let v3 = decode_all(
        &response("api_versions_v3", API_KEY_API_VERSIONS, 3, 1),
        |d| ApiVersionsResponse::decode(d, 3),
    );
    assert_eq!(v0.api_keys, v3.api_keys);
}

#[test]
fn api_versions_unsupported_version_answer_is_read_as_v0_and_names_the_retry_version() {
    // Asked at v127; the broker answers UNSUPPORTED_VERSION in the v0 body format.
    let body = response("api_versions_v127_unsupported", API_KEY_API_VERSIONS, 3, 3);
    let r = decode_all(&body, |d| ApiVersionsResponse::decode(d, 3));
    assert_eq!(KafkaCode(r.error_code), KafkaCode::UNSUPPORTED_VERSION);
    assert_eq!(r.version_range(API_KEY_API_VERSIONS), Some((0, 4)));
    assert_eq!(
        r.negotiate(
            API_KEY_API_VERSIONS,
            (api_versions::MIN_VERSION, api_versions::MAX_VERSION)
        ),
        Some(4)
    );
}

#[test]
fn metadata_v12_from_broker_has_topic_id_leader_epoch_and_three_partitions() {
    let body = response("metadata_v12_topic", API_KEY_METADATA, 12, 4);
    let r = decode_all(&body, |d| MetadataResponse::decode(d, 12));
    assert_eq!(r.brokers.len(), 1);
    assert_eq!(
        (
            r.brokers[0].node_id,
            r.brokers[0].host.as_str(),
            r.brokers[0].port
        ),
        (1, "127.0.0.1", 39592)
    );
    assert_eq!(r.brokers[0].rack, None);
    assert_eq!(r.cluster_id.as_deref(), Some("9MMegcKfJ-GlbgPzrEPL_Q"));
    assert_eq!(r.controller_id, 1);
    let t = &r.topics[0];
    assert_eq!(
        (t.error_code, t.name.as_deref(), t.is_internal),
        (0, Some("rafka-fixture"), false)
    );
    assert_ne!(t.topic_id, [0; 16]);
    assert_eq!(t.partitions.len(), 3);
    for (i, p) in t.partitions.iter().enumerate() {
        assert_eq!(p.partition_index, i as i32);
        assert_eq!((p.error_code, p.leader_id, p.leader_epoch), (0, 1, 0));
        assert_eq!(
            (p.replica_nodes.as_slice(), p.isr_nodes.as_slice()),
            (&[1][..], &[1][..])
        );
        assert!(p.offline_replicas.is_empty());
    }
}

#[test]
fn metadata_v4_and_v1_from_broker_carry_no_epoch_no_topic_id() {
    let v4 = decode_all(
        &response("metadata_v4_topic", API_KEY_METADATA, 4, 5),
        |d| MetadataResponse::decode(d, 4),
    );
    assert_eq!(v4.cluster_id.as_deref(), Some("9MMegcKfJ-GlbgPzrEPL_Q"));
    assert_eq!(v4.topics[0].topic_id, [0; 16]);
    assert!(v4.topics[0].partitions.iter().all(|p| p.leader_epoch == -1));
    let v1 = decode_all(&response("metadata_v1_all", API_KEY_METADATA, 1, 6), |d| {
        MetadataResponse::decode(d, 1)
    });
    assert_eq!(v1.cluster_id, None, "cluster id arrived in v2");
    assert_eq!(
        v1.topics.len(),
        1,
        "null topic list = all topics (only ours exists)"
    );
    assert_eq!(v1.topics[0].partitions.len(), 3);
}

#[test]
fn metadata_v9_for_a_missing_topic_reports_unknown_topic() {
    let body = response("metadata_v9_missing_topic", API_KEY_METADATA, 9, 7);
    let r = decode_all(&body, |d| MetadataResponse::decode(d, 9));
    let t = &r.topics[0];
    assert_eq!(t.name.as_deref(), Some("rafka-fixture-missing"));
    assert_eq!(
        KafkaCode(t.error_code),
        KafkaCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    assert!(KafkaCode(t.error_code).is_retriable());
    assert!(t.partitions.is_empty());
}

#[test]
fn init_producer_id_v0_and_v5_from_broker_give_ids_with_epoch_zero() {
    for (name, version, id, pid) in [
        ("init_producer_id_v0", 0, 8, 0),
        ("init_producer_id_v5", 5, 9, 1),
    ] {
        let body = response(name, API_KEY_INIT_PRODUCER_ID, version, id);
        let r = decode_all(&body, |d| InitProducerIdResponse::decode(d, version));
        assert_eq!(
            r,
            InitProducerIdResponse {
                throttle_time_ms: 0,
                error_code: 0,
                producer_id: pid,
                producer_epoch: 0
            }
        );
    }
}

fn produce_partition(
    name: &str,
    version: i16,
    id: i32,
) -> rafka_core::protocol::messages::produce::ProducePartitionResponse {
    let body = response(name, API_KEY_PRODUCE, version, id);
    let r = decode_all(&body, |d| ProduceResponse::decode(d, version));
    assert_eq!(r.throttle_time_ms, 0);
    assert!(r.node_endpoints.is_empty());
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].name, "rafka-fixture");
    assert_eq!(r.topics[0].partitions.len(), 1);
    r.topics[0].partitions[0].clone()
}

#[test]
fn produce_v12_idempotent_batch_was_accepted_at_offset_zero() {
    let p = produce_partition("produce_v12_idempotent", 12, 10);
    assert_eq!(
        (p.index, p.error_code, p.base_offset, p.log_start_offset),
        (0, 0, 0, 0)
    );
    assert_eq!(p.log_append_time_ms, -1, "CreateTime topic");
    assert_eq!((p.current_leader, p.error_message.as_deref()), (None, None));
}

#[test]
fn produce_v12_duplicate_batch_is_acknowledged_with_the_original_offset() {
    let p = produce_partition("produce_v12_duplicate", 12, 11);
    assert_eq!((p.error_code, p.base_offset), (0, 0));
}

#[test]
fn produce_v12_sequence_gap_is_out_of_order_sequence() {
    let p = produce_partition("produce_v12_out_of_order", 12, 12);
    assert_eq!(
        KafkaCode(p.error_code),
        KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(p.base_offset, -1);
}

#[test]
fn produce_v8_and_v3_from_broker_accepted_non_idempotent_batches() {
    let p = produce_partition("produce_v8", 8, 13);
    assert_eq!(
        (p.index, p.error_code, p.base_offset, p.log_start_offset),
        (1, 0, 0, 0)
    );
    assert!(p.record_errors.is_empty());
    let p = produce_partition("produce_v3", 3, 14);
    assert_eq!((p.index, p.error_code, p.base_offset), (2, 0, 0));
    assert_eq!(p.log_start_offset, -1, "log start offset arrived in v5");
}

#[test]
fn produce_to_a_missing_partition_is_unknown_topic_or_partition() {
    let p = produce_partition("produce_v12_unknown_partition", 12, 15);
    assert_eq!(p.index, 99);
    assert_eq!(
        KafkaCode(p.error_code),
        KafkaCode::UNKNOWN_TOPIC_OR_PARTITION
    );
}

/// The requests the broker accepted are what our encoders write today, byte for byte.
#[test]
fn accepted_produce_requests_are_reproduced_byte_for_byte() {
    let (batch, _) = build_batch(&sample_records(BASE_TS), 1, 0, 0);
    // (fixture, version, acks, partition, correlation id, batch)
    type Case = (&'static str, i16, i16, i32, i32, Vec<u8>);
    let cases: [Case; 3] = [
        ("produce_v12_idempotent", 12, -1, 0, 10, batch),
        (
            "produce_v8",
            8,
            1,
            1,
            13,
            build_batch(
                &[TestRecord::new(
                    BASE_TS,
                    Some(b"v8"),
                    Some(b"produced at v8"),
                )],
                -1,
                -1,
                -1,
            )
            .0,
        ),
        (
            "produce_v3",
            3,
            -1,
            2,
            14,
            build_batch(
                &[TestRecord::new(BASE_TS, None, Some(b"produced at v3"))],
                -1,
                -1,
                -1,
            )
            .0,
        ),
    ];
    for (name, version, acks, partition, id, batch) in cases {
        let mut buf = Vec::new();
        let mut w = rafka_core::protocol::messages::produce::ProduceRequestWriter::begin(
            &mut buf,
            version,
            id,
            "rafka-fixture-capture",
            None,
            acks,
            30_000,
            1,
        );
        w.topic("rafka-fixture", 1, |w| {
            w.partition(partition, batch.len(), |b| b.extend_from_slice(&batch))
        });
        w.finish();
        assert_eq!(buf, fixture(&format!("{DIR}/{name}.request.bin")), "{name}");
    }
}

#[test]
fn accepted_produce_request_decodes_back_to_the_sample_records() {
    let frame = fixture(&format!("{DIR}/produce_v12_idempotent.request.bin"));
    let mut d = Decoder::new(&frame[4..]);
    let h = decode_request_header_auto(&mut d).unwrap();
    assert_eq!((h.api_key, h.api_version, h.correlation_id), (0, 12, 10));
    let view = decode_produce_request(&mut d, 12).unwrap();
    assert_eq!(
        (view.acks, view.timeout_ms, view.transactional_id.as_deref()),
        (-1, 30_000, None)
    );
    let batches = decode_record_batches(&view.topics[0].1[0].1).unwrap();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!(
        (
            b.header.producer_id,
            b.header.producer_epoch,
            b.header.base_sequence
        ),
        (1, 0, 0)
    );
    let expected: Vec<_> = sample_records(BASE_TS)
        .iter()
        .enumerate()
        .map(|(i, r)| r.expected(i as i32, BASE_TS))
        .collect();
    assert_eq!(b.records, expected);
}

/// A Produce request written by another client (kcat 1.7.1 / librdkafka 2.0.2, idempotent,
/// uncompressed), recorded by `tests/fixtures/record_proxy.py` on its way to the 4.3.1 broker:
/// our decoders read its frame, its batch (CRC-32C verified) and the broker's answer.
#[test]
fn kcat_produce_request_decodes_with_our_record_batch_decoder() {
    let frame = fixture("kcat-1.7.1/produce_v7.request.bin");
    assert_eq!(
        frame_len(frame[..4].try_into().unwrap()).unwrap(),
        frame.len() - 4
    );
    let mut d = Decoder::new(&frame[4..]);
    let h = decode_request_header_auto(&mut d).unwrap();
    assert_eq!(
        (h.api_key, h.api_version, h.client_id.as_deref()),
        (API_KEY_PRODUCE, 7, Some("rdkafka"))
    );
    let view = decode_produce_request(&mut d, 7).unwrap();
    assert_eq!(d.remaining(), 0);
    assert_eq!(
        (view.acks, view.timeout_ms, view.transactional_id.as_deref()),
        (-1, 30_000, None)
    );
    assert_eq!(view.topics.len(), 1);
    assert_eq!(view.topics[0].0, "rafka-kcat");
    let (partition, records) = &view.topics[0].1[0];
    assert_eq!(*partition, 0);
    let batches = decode_record_batches(records).unwrap();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!(
        (
            b.header.producer_id,
            b.header.producer_epoch,
            b.header.base_sequence
        ),
        (0, 0, 0)
    );
    assert_eq!(
        (
            b.header.record_count,
            b.header.last_offset_delta,
            b.header.attributes
        ),
        (2, 1, 0)
    );
    let kv: Vec<_> = b
        .records
        .iter()
        .map(|r| (r.key.as_deref(), r.value.as_deref()))
        .collect();
    assert_eq!(
        kv,
        [
            (Some(&b"key-1"[..]), Some(&b"value-1"[..])),
            (Some(&b"key-2"[..]), Some(&b"value-2"[..]))
        ]
    );
    for (i, r) in b.records.iter().enumerate() {
        assert_eq!(r.offset_delta, i as i32);
        assert_eq!(
            r.headers,
            vec![
                ("trace".to_string(), Some(b"abc".to_vec())),
                ("empty".to_string(), Some(vec![]))
            ]
        );
    }

    let resp = fixture("kcat-1.7.1/produce_v7.response.bin");
    let mut d = Decoder::new(&resp[4..]);
    assert_eq!(
        decode_response_header(&mut d, response_header_flexible(API_KEY_PRODUCE, 7)).unwrap(),
        h.correlation_id
    );
    let r = ProduceResponse::decode(&mut d, 7).unwrap();
    assert_eq!(d.remaining(), 0);
    let p = &r.topics[0].partitions[0];
    assert_eq!(
        (
            r.topics[0].name.as_str(),
            p.index,
            p.error_code,
            p.base_offset
        ),
        ("rafka-kcat", 0, 0, 0)
    );
}
