//! Every message, at every version this crate implements: requests are encoded into a frame and
//! decoded back (header and body), responses are encoded and decoded back, and the result must
//! equal the original with the fields the version lacks set to their defaults.

mod protocol_support;

use protocol_support::{build_batch, sample_records};
use rafka_core::protocol::messages::api_versions::{
    self, ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse,
};
use rafka_core::protocol::messages::init_producer_id::{
    self, InitProducerIdRequest, InitProducerIdResponse,
};
use rafka_core::protocol::messages::metadata::{
    self, MetadataBroker, MetadataPartition, MetadataRequest, MetadataResponse, MetadataTopic,
};
use rafka_core::protocol::messages::produce::{
    self, decode_produce_request, ProducePartitionResponse, ProduceRequestWriter, ProduceResponse,
    ProduceTopicResponse,
};
use rafka_core::protocol::messages::{
    begin_request, begin_response, decode_request_header, decode_response_header, finish_request,
    frame_len, is_flexible, response_header_flexible, RequestHeader, API_KEY_API_VERSIONS,
    API_KEY_INIT_PRODUCER_ID, API_KEY_METADATA, API_KEY_PRODUCE, MAX_FRAME_SIZE,
};
use rafka_core::protocol::record_batch::decode_record_batches;
use rafka_core::protocol::{DecodeError, Decoder};

const CLIENT_ID: &str = "rafka-test";

/// Encodes a request frame with `body`, then checks the size prefix and header and returns the
/// body bytes.
fn request_frame(api_key: i16, version: i16, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let flexible = is_flexible(api_key, version).unwrap();
    let mut buf = vec![0xAA; 3]; // frames may start mid-buffer
    let start = begin_request(&mut buf, api_key, version, 0x0102_0304, CLIENT_ID, flexible);
    body(&mut buf);
    finish_request(&mut buf, start);
    let frame = &buf[start..];
    assert_eq!(
        frame_len(frame[..4].try_into().unwrap()).unwrap(),
        frame.len() - 4
    );
    let mut d = Decoder::new(&frame[4..]);
    let h = decode_request_header(&mut d, flexible).unwrap();
    assert_eq!(
        h,
        RequestHeader {
            api_key,
            api_version: version,
            correlation_id: 0x0102_0304,
            client_id: Some(CLIENT_ID.into())
        }
    );
    d.rest().to_vec()
}

fn response_frame(api_key: i16, version: i16, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let flexible = response_header_flexible(api_key, version);
    let mut buf = Vec::new();
    let start = begin_response(&mut buf, 77, flexible);
    body(&mut buf);
    finish_request(&mut buf, start);
    let mut d = Decoder::new(&buf[4..]);
    assert_eq!(decode_response_header(&mut d, flexible).unwrap(), 77);
    d.rest().to_vec()
}

fn decode_exact<T>(body: &[u8], f: impl FnOnce(&mut Decoder<'_>) -> Result<T, DecodeError>) -> T {
    let mut d = Decoder::new(body);
    let v = f(&mut d).unwrap();
    assert_eq!(d.remaining(), 0, "decoder left bytes unread");
    v
}

#[test]
fn api_versions_request_round_trips_at_every_version() {
    let req = ApiVersionsRequest {
        client_software_name: "rafka".into(),
        client_software_version: "0.1.0-dev".into(),
    };
    for v in api_versions::MIN_VERSION..=api_versions::MAX_VERSION {
        let body = request_frame(API_KEY_API_VERSIONS, v, |b| req.encode(b, v));
        let got = decode_exact(&body, |d| ApiVersionsRequest::decode(d, v));
        let want = if v >= 3 {
            req.clone()
        } else {
            ApiVersionsRequest::default()
        };
        assert_eq!(got, want, "v{v}");
    }
}

#[test]
fn api_versions_response_round_trips_at_every_version() {
    let resp = ApiVersionsResponse {
        error_code: 0,
        api_keys: vec![
            ApiVersionRange {
                api_key: 0,
                min_version: 3,
                max_version: 12,
            },
            ApiVersionRange {
                api_key: 18,
                min_version: 0,
                max_version: 4,
            },
        ],
        throttle_time_ms: 250,
        finalized_features: vec![],
    };
    for v in api_versions::MIN_VERSION..=api_versions::MAX_VERSION {
        let body = response_frame(API_KEY_API_VERSIONS, v, |b| resp.encode(b, v));
        let got = decode_exact(&body, |d| ApiVersionsResponse::decode(d, v));
        let mut want = resp.clone();
        if v < 1 {
            want.throttle_time_ms = 0;
        }
        assert_eq!(got, want, "v{v}");
        assert_eq!(got.version_range(0), Some((3, 12)));
        assert_eq!(got.version_range(1), None);
    }
}

#[test]
fn api_versions_response_header_is_v0_even_when_flexible() {
    assert!(!response_header_flexible(API_KEY_API_VERSIONS, 3));
    assert!(response_header_flexible(API_KEY_METADATA, 9));
    assert!(!response_header_flexible(API_KEY_METADATA, 8));
}

#[test]
fn api_versions_unsupported_answer_in_v0_format_decodes_at_any_requested_version() {
    let v0 = ApiVersionsResponse {
        error_code: 35,
        api_keys: vec![ApiVersionRange {
            api_key: 18,
            min_version: 0,
            max_version: 2,
        }],
        throttle_time_ms: 0,
        finalized_features: vec![],
    };
    let mut body = Vec::new();
    v0.encode(&mut body, 0);
    for v in api_versions::MIN_VERSION..=api_versions::MAX_VERSION {
        assert_eq!(
            decode_exact(&body, |d| ApiVersionsResponse::decode(d, v)),
            v0,
            "v{v}"
        );
    }
}

#[test]
fn metadata_request_round_trips_at_every_version() {
    let cases = [
        MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
        },
        MetadataRequest {
            topics: Some(vec![]),
            allow_auto_topic_creation: true,
        },
        MetadataRequest {
            topics: Some(vec!["orders".into(), "t\u{f6}pic.2".into()]),
            allow_auto_topic_creation: false,
        },
    ];
    for v in metadata::MIN_VERSION..=metadata::MAX_VERSION {
        for req in &cases {
            let body = request_frame(API_KEY_METADATA, v, |b| req.encode(b, v));
            let got = decode_exact(&body, |d| MetadataRequest::decode(d, v));
            let mut want = req.clone();
            if v < 4 {
                want.allow_auto_topic_creation = true; // not sent: the broker's default
            }
            assert_eq!(got, want, "v{v}");
        }
    }
}

#[test]
fn metadata_v1_request_with_all_topics_is_a_null_array() {
    let body = request_frame(API_KEY_METADATA, 1, |b| {
        MetadataRequest {
            topics: None,
            allow_auto_topic_creation: true,
        }
        .encode(b, 1)
    });
    assert_eq!(body, [0xff, 0xff, 0xff, 0xff]);
    let body = request_frame(API_KEY_METADATA, 12, |b| {
        MetadataRequest {
            topics: None,
            allow_auto_topic_creation: true,
        }
        .encode(b, 12)
    });
    // compact null array, allow auto creation, include topic authorized ops, no tagged fields
    assert_eq!(body, [0x00, 0x01, 0x00, 0x00]);
}

fn sample_metadata() -> MetadataResponse {
    MetadataResponse {
        throttle_time_ms: 12,
        brokers: vec![
            MetadataBroker {
                node_id: 1,
                host: "b1.example".into(),
                port: 9092,
                rack: Some("rack-a".into()),
            },
            MetadataBroker {
                node_id: 2,
                host: "b2".into(),
                port: 9093,
                rack: None,
            },
        ],
        cluster_id: Some("cluster-xyz".into()),
        controller_id: 2,
        topics: vec![
            MetadataTopic {
                error_code: 0,
                name: Some("orders".into()),
                topic_id: [7; 16],
                is_internal: false,
                partitions: vec![
                    MetadataPartition {
                        error_code: 0,
                        partition_index: 0,
                        leader_id: 1,
                        leader_epoch: 5,
                        replica_nodes: vec![1, 2],
                        isr_nodes: vec![1],
                        offline_replicas: vec![2],
                    },
                    MetadataPartition {
                        error_code: 5,
                        partition_index: 1,
                        leader_id: -1,
                        leader_epoch: 9,
                        replica_nodes: vec![2],
                        isr_nodes: vec![],
                        offline_replicas: vec![],
                    },
                ],
            },
            MetadataTopic {
                error_code: 3,
                name: Some("missing".into()),
                topic_id: [0; 16],
                is_internal: true,
                partitions: vec![],
            },
        ],
    }
}

#[test]
fn metadata_response_round_trips_at_every_version() {
    let resp = sample_metadata();
    for v in metadata::MIN_VERSION..=metadata::MAX_VERSION {
        let body = response_frame(API_KEY_METADATA, v, |b| resp.encode(b, v));
        let got = decode_exact(&body, |d| MetadataResponse::decode(d, v));
        let mut want = resp.clone();
        if v < 2 {
            want.cluster_id = None;
        }
        if v < 3 {
            want.throttle_time_ms = 0;
        }
        for t in &mut want.topics {
            if v < 10 {
                t.topic_id = [0; 16];
            }
            for p in &mut t.partitions {
                if v < 5 {
                    p.offline_replicas.clear();
                }
                if v < 7 {
                    p.leader_epoch = -1;
                }
            }
        }
        assert_eq!(got, want, "v{v}");
    }
}

#[test]
fn metadata_v12_response_allows_a_null_topic_name() {
    let mut resp = sample_metadata();
    resp.topics[1].name = None;
    let mut body = Vec::new();
    resp.encode(&mut body, 12);
    assert_eq!(
        decode_exact(&body, |d| MetadataResponse::decode(d, 12)),
        resp
    );
}

#[test]
fn init_producer_id_round_trips_at_every_version() {
    let reqs = [
        InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            producer_id: 4242,
            producer_epoch: 3,
        },
        InitProducerIdRequest {
            transactional_id: Some("txn-1".into()),
            transaction_timeout_ms: 1,
            producer_id: -1,
            producer_epoch: -1,
        },
    ];
    let resp = InitProducerIdResponse {
        throttle_time_ms: 5,
        error_code: 0,
        producer_id: 1 << 40,
        producer_epoch: 7,
    };
    for v in init_producer_id::MIN_VERSION..=init_producer_id::MAX_VERSION {
        for req in &reqs {
            let body = request_frame(API_KEY_INIT_PRODUCER_ID, v, |b| req.encode(b, v));
            let got = decode_exact(&body, |d| InitProducerIdRequest::decode(d, v));
            let mut want = req.clone();
            if v < 3 {
                want.producer_id = -1;
                want.producer_epoch = -1;
            }
            assert_eq!(got, want, "v{v}");
        }
        let body = response_frame(API_KEY_INIT_PRODUCER_ID, v, |b| resp.encode(b, v));
        assert_eq!(
            decode_exact(&body, |d| InitProducerIdResponse::decode(d, v)),
            resp,
            "v{v}"
        );
    }
}

#[test]
fn produce_request_writer_round_trips_at_every_version() {
    let (batch_a, header_a) = build_batch(&sample_records(1_700_000_000_000), 99, 2, 10);
    let (batch_b, _) = build_batch(&sample_records(5), -1, -1, -1);
    let two_batches = [batch_a.clone(), batch_b.clone()].concat();
    for v in produce::MIN_VERSION..=produce::MAX_VERSION {
        let mut buf = Vec::new();
        let mut w = ProduceRequestWriter::begin(
            &mut buf,
            v,
            0x0102_0304,
            CLIENT_ID,
            Some("txn"),
            -1,
            30_000,
            2,
        );
        w.topic("orders", 2, |w| {
            w.partition(0, batch_a.len(), |b| b.extend_from_slice(&batch_a));
            w.partition(7, two_batches.len(), |b| b.extend_from_slice(&two_batches));
        });
        w.topic("empty-records", 1, |w| w.partition(3, 0, |_| {}));
        w.finish();

        assert_eq!(
            frame_len(buf[..4].try_into().unwrap()).unwrap(),
            buf.len() - 4
        );
        let mut d = Decoder::new(&buf[4..]);
        let h = decode_request_header(&mut d, v >= 9).unwrap();
        assert_eq!(
            (h.api_key, h.api_version, h.correlation_id),
            (API_KEY_PRODUCE, v, 0x0102_0304)
        );
        let view = decode_produce_request(&mut d, v).unwrap();
        assert_eq!(d.remaining(), 0, "v{v}");
        assert_eq!(
            (view.transactional_id.as_deref(), view.acks, view.timeout_ms),
            (Some("txn"), -1, 30_000)
        );
        assert_eq!(
            view.topics,
            vec![
                (
                    "orders".to_string(),
                    vec![(0, batch_a.clone()), (7, two_batches.clone())]
                ),
                ("empty-records".to_string(), vec![(3, vec![])]),
            ],
            "v{v}"
        );
        let decoded = decode_record_batches(&view.topics[0].1[1].1).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].header, header_a);
    }
}

#[test]
#[should_panic(expected = "different number of bytes")]
#[cfg(debug_assertions)]
fn produce_writer_catches_a_records_length_that_lies() {
    let mut buf = Vec::new();
    let mut w = ProduceRequestWriter::begin(&mut buf, 9, 1, CLIENT_ID, None, 1, 1000, 1);
    w.topic("t", 1, |w| {
        w.partition(0, 10, |b| b.extend_from_slice(&[0; 9]))
    });
}

fn sample_produce_response() -> ProduceResponse {
    ProduceResponse {
        topics: vec![
            ProduceTopicResponse {
                name: "orders".into(),
                partitions: vec![
                    ProducePartitionResponse {
                        index: 0,
                        error_code: 0,
                        base_offset: 1_234_567,
                        log_append_time_ms: 1_700_000_000_123,
                        log_start_offset: 17,
                        record_errors: vec![],
                        error_message: None,
                        current_leader: None,
                    },
                    ProducePartitionResponse {
                        index: 4,
                        error_code: 6,
                        base_offset: -1,
                        log_append_time_ms: -1,
                        log_start_offset: -1,
                        record_errors: vec![(2, Some("bad key".into())), (5, None)],
                        error_message: Some("not the leader".into()),
                        current_leader: Some((3, 12)),
                    },
                ],
            },
            ProduceTopicResponse {
                name: "other".into(),
                partitions: vec![],
            },
        ],
        throttle_time_ms: 40,
        node_endpoints: vec![
            (3, "b3.example".into(), 9094, Some("rack-c".into())),
            (4, "b4".into(), 1, None),
        ],
    }
}

#[test]
fn produce_response_round_trips_at_every_version() {
    let resp = sample_produce_response();
    for v in produce::MIN_VERSION..=produce::MAX_VERSION {
        let body = response_frame(API_KEY_PRODUCE, v, |b| resp.encode(b, v));
        let got = decode_exact(&body, |d| ProduceResponse::decode(d, v));
        let mut want = resp.clone();
        if v < 10 {
            want.node_endpoints.clear();
        }
        for p in want.topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
            if v < 5 {
                p.log_start_offset = -1;
            }
            if v < 8 {
                p.record_errors.clear();
                p.error_message = None;
            }
            if v < 10 {
                p.current_leader = None;
            }
        }
        assert_eq!(got, want, "v{v}");
    }
}

#[test]
fn produce_response_skips_unknown_tagged_fields() {
    // v10 partition with CurrentLeader (tag 0) and an unknown tag 5 of 3 bytes.
    let mut b: Vec<u8> = vec![2, 2, b't', 2]; // 1 topic "t", 1 partition
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&6i16.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes());
    b.extend_from_slice(&[1, 0]); // empty record errors, null message
    b.extend_from_slice(&[2, 0, 9]); // 2 tagged fields; tag 0, 9 bytes
    b.extend_from_slice(&8i32.to_be_bytes());
    b.extend_from_slice(&33i32.to_be_bytes());
    b.push(0);
    b.extend_from_slice(&[5, 3, 0xde, 0xad, 0xbe]);
    b.push(0); // topic tagged fields
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&[1, 7, 1, 0]); // top level: unknown tag 7 of 1 byte
    let r = decode_exact(&b, |d| ProduceResponse::decode(d, 10));
    assert_eq!(r.topics[0].partitions[0].current_leader, Some((8, 33)));
    assert!(r.node_endpoints.is_empty());
}

#[test]
fn versions_outside_the_range_are_refused_by_decoders() {
    let mut d = Decoder::new(&[]);
    assert_eq!(
        ProduceResponse::decode(&mut d, 2),
        Err(DecodeError::UnsupportedVersion {
            api: "ProduceResponse",
            version: 2
        })
    );
    assert!(MetadataResponse::decode(&mut Decoder::new(&[]), 13).is_err());
    assert!(InitProducerIdResponse::decode(&mut Decoder::new(&[]), 6).is_err());
    assert!(ApiVersionsResponse::decode(&mut Decoder::new(&[]), 5).is_err());
}

#[test]
fn frame_len_refuses_negative_and_oversized_frames() {
    assert_eq!(frame_len(16i32.to_be_bytes()), Ok(16));
    assert_eq!(
        frame_len((MAX_FRAME_SIZE as i32).to_be_bytes()),
        Ok(MAX_FRAME_SIZE)
    );
    assert!(matches!(
        frame_len((MAX_FRAME_SIZE as i32 + 1).to_be_bytes()),
        Err(DecodeError::FrameTooLarge { .. })
    ));
    assert!(matches!(
        frame_len((-1i32).to_be_bytes()),
        Err(DecodeError::FrameTooLarge { .. })
    ));
    // "HTTP" from a misdirected connection is 1.2 GB: refused, not allocated.
    assert!(frame_len(*b"HTTP").is_err());
}
