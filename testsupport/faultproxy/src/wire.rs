//! Frames on the wire: reading whole frames, the request header fields the proxy needs, and the
//! rewriting of broker addresses in Metadata and Produce responses.
//!
//! Only what is needed to route faults and keep clients on the proxy is decoded; everything else
//! is forwarded byte for byte.

use std::io::{self, Read};

use rafka_core::protocol::messages::{
    self, produce, response_header_flexible, API_KEY_METADATA, API_KEY_PRODUCE,
};
use rafka_core::protocol::{DecodeError, Decoder, WireWrite};

/// Reads one frame (`[size i32][size bytes]`, size prefix included). `Ok(None)` when the peer
/// closed the connection between frames; a size prefix that is negative or over
/// [`messages::MAX_FRAME_SIZE`] is an `InvalidData` error.
pub(crate) fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = messages::frame_len(prefix)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut frame = vec![0u8; 4 + len];
    frame[..4].copy_from_slice(&prefix);
    r.read_exact(&mut frame[4..])?;
    Ok(Some(frame))
}

/// What the proxy keeps of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestInfo {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    /// False for Produce with acks=0, which the broker never answers.
    pub expects_response: bool,
}

/// Reads the request header of `frame` (size prefix included).
pub(crate) fn request_info(frame: &[u8]) -> Result<RequestInfo, DecodeError> {
    let mut d = Decoder::new(&frame[4..]);
    let api_key = d.i16("request_header.api_key")?;
    let api_version = d.i16("request_header.api_version")?;
    let correlation_id = d.i32("request_header.correlation_id")?;
    let mut expects_response = true;
    if api_key == API_KEY_PRODUCE
        && (produce::MIN_VERSION..=produce::MAX_VERSION).contains(&api_version)
    {
        // The header's flexibility is known for Produce; skip the client id (and tagged fields)
        // and read transactional_id and acks.
        let mut d = Decoder::new(&frame[4..]);
        let header = messages::decode_request_header_auto(&mut d)?;
        debug_assert_eq!(header.correlation_id, correlation_id);
        let flexible = api_version >= produce::FIRST_FLEXIBLE_VERSION;
        d.nullable_string_flex("transactional_id", flexible)?;
        expects_response = d.i16("acks")? != 0;
    }
    Ok(RequestInfo {
        api_key,
        api_version,
        correlation_id,
        expects_response,
    })
}

/// The answer to the Produce request `frame` (size prefix included) that refuses each of its
/// partitions with `code`, as a broker would without storing anything; the request's version and
/// correlation id are kept.
pub(crate) fn produce_error_response(frame: &[u8], code: i16) -> Result<Vec<u8>, DecodeError> {
    let mut d = Decoder::new(&frame[4..]);
    let header = messages::decode_request_header_auto(&mut d)?;
    let request = produce::decode_produce_request(&mut d, header.api_version)?;
    let message = format!("faultproxy: refused with error code {code}");
    let response = produce::ProduceResponse {
        topics: request
            .topics
            .iter()
            .map(|(name, parts)| produce::ProduceTopicResponse {
                name: name.clone(),
                partitions: parts
                    .iter()
                    .map(|(index, _)| produce::ProducePartitionResponse {
                        index: *index,
                        error_code: code,
                        base_offset: -1,
                        log_append_time_ms: -1,
                        log_start_offset: -1,
                        record_errors: Vec::new(),
                        error_message: Some(message.clone()),
                        current_leader: None,
                    })
                    .collect(),
            })
            .collect(),
        throttle_time_ms: 0,
        node_endpoints: Vec::new(),
    };
    let mut out = Vec::new();
    let start = messages::begin_response(
        &mut out,
        header.correlation_id,
        response_header_flexible(API_KEY_PRODUCE, header.api_version),
    );
    response.encode(&mut out, header.api_version);
    messages::finish_request(&mut out, start);
    Ok(out)
}

/// An ApiVersions v0 request with `correlation_id`: sent to the broker in the place of a request
/// the proxy answers itself, so that the broker's answer to it marks where that answer goes
/// among the connection's responses (a broker answers a connection's requests in order).
pub(crate) fn placeholder_request(correlation_id: i32) -> Vec<u8> {
    let mut out = Vec::new();
    let start = messages::begin_request(
        &mut out,
        messages::API_KEY_API_VERSIONS,
        0,
        correlation_id,
        "rafka-faultproxy",
        false,
    );
    messages::finish_request(&mut out, start);
    out
}

/// The correlation id of a response frame.
pub(crate) fn response_correlation_id(frame: &[u8]) -> Option<i32> {
    frame
        .get(4..8)
        .map(|b| i32::from_be_bytes(b.try_into().unwrap()))
}

/// Where the body of a response starts (after size, correlation id and, for flexible response
/// headers, the header's tagged fields).
fn response_body_start(frame: &[u8], api_key: i16, api_version: i16) -> Result<usize, DecodeError> {
    let mut d = Decoder::new(&frame[4..]);
    messages::decode_response_header(&mut d, response_header_flexible(api_key, api_version))?;
    Ok(4 + d.position())
}

/// Maps a broker's advertised `(node_id, host, port)` to the address the client should use.
pub(crate) trait AddressMap {
    fn map(&self, node_id: i32, host: &str, port: i32) -> (String, i32);
}

/// Returns `frame` with every broker address replaced through `map` when it is a Metadata
/// response (any version, 0 to 13 and later: only the brokers array at the start of the body is
/// rewritten, the rest is copied) or a Produce response v10+ carrying `NodeEndpoints` (KIP-951);
/// `Ok(None)` when there is nothing to rewrite.
pub(crate) fn rewrite_response(
    frame: &[u8],
    api_key: i16,
    api_version: i16,
    map: &dyn AddressMap,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let body_start = match api_key {
        API_KEY_METADATA => response_body_start(frame, api_key, api_version)?,
        API_KEY_PRODUCE if (10..=produce::MAX_VERSION).contains(&api_version) => {
            response_body_start(frame, api_key, api_version)?
        }
        _ => return Ok(None),
    };
    let body = &frame[body_start..];
    let new_body = if api_key == API_KEY_METADATA {
        rewrite_metadata(body, api_version, map)?
    } else {
        let mut d = Decoder::new(body);
        let mut r = produce::ProduceResponse::decode(&mut d, api_version)?;
        if r.node_endpoints.is_empty() {
            return Ok(None);
        }
        for (id, host, port, _) in &mut r.node_endpoints {
            (*host, *port) = map.map(*id, host, *port);
        }
        let mut b = Vec::new();
        r.encode(&mut b, api_version);
        b
    };
    let mut out = Vec::with_capacity(body_start + new_body.len());
    out.extend_from_slice(&frame[..body_start]);
    out.extend_from_slice(&new_body);
    messages::finish_request(&mut out, 0);
    Ok(Some(out))
}

/// Rewrites the brokers array of a Metadata response body (MetadataResponse.json: v3+ starts
/// with throttle_time_ms; each broker is node_id, host, port, v1+ rack, v9+ tagged fields).
fn rewrite_metadata(
    body: &[u8],
    version: i16,
    map: &dyn AddressMap,
) -> Result<Vec<u8>, DecodeError> {
    let flexible = version >= 9;
    let mut d = Decoder::new(body);
    let mut out = Vec::with_capacity(body.len() + 64);
    if version >= 3 {
        out.put_i32(d.i32("throttle_time_ms")?);
    }
    let n = d.array_len_flex("brokers", 10, flexible)?;
    out.put_array_len_flex(n, flexible);
    for _ in 0..n {
        let node_id = d.i32("brokers.node_id")?;
        let host = d.string_flex("brokers.host", flexible)?;
        let port = d.i32("brokers.port")?;
        let rack = if version >= 1 {
            Some(d.nullable_string_flex("brokers.rack", flexible)?)
        } else {
            None
        };
        let tags_at = d.position();
        d.skip_tagged_fields_flex(flexible)?;
        let tags = &body[tags_at..d.position()];
        let (host, port) = map.map(node_id, &host, port);
        out.put_i32(node_id);
        out.put_string_flex(&host, flexible);
        out.put_i32(port);
        if let Some(rack) = rack {
            out.put_nullable_string_flex(rack.as_deref(), flexible);
        }
        out.extend_from_slice(tags);
    }
    out.extend_from_slice(d.rest());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rafka_core::protocol::messages::metadata::{
        MetadataBroker, MetadataPartition, MetadataResponse, MetadataTopic,
    };

    struct Shift;
    impl AddressMap for Shift {
        fn map(&self, node_id: i32, _host: &str, port: i32) -> (String, i32) {
            (format!("proxy-{node_id}"), port + 1000)
        }
    }

    fn metadata(version: i16) -> MetadataResponse {
        MetadataResponse {
            throttle_time_ms: if version >= 3 { 7 } else { 0 },
            brokers: (1..=3)
                .map(|id| MetadataBroker {
                    node_id: id,
                    host: "127.0.0.1".into(),
                    port: 9091 + id,
                    rack: (version >= 1 && id == 2).then(|| "r2".to_string()),
                })
                .collect(),
            cluster_id: (version >= 2).then(|| "cluster".to_string()),
            controller_id: if version >= 1 { 1 } else { -1 },
            topics: vec![MetadataTopic {
                error_code: 0,
                name: Some("t".into()),
                topic_id: if version >= 10 { [9; 16] } else { [0; 16] },
                is_internal: false,
                partitions: vec![MetadataPartition {
                    error_code: 0,
                    partition_index: 0,
                    leader_id: 2,
                    leader_epoch: if version >= 7 { 4 } else { -1 },
                    replica_nodes: vec![1, 2, 3],
                    isr_nodes: vec![2, 3],
                    offline_replicas: if version >= 5 { vec![1] } else { vec![] },
                }],
            }],
        }
    }

    #[test]
    fn metadata_responses_of_every_version_get_the_proxy_addresses_and_keep_everything_else() {
        for version in messages::metadata::MIN_VERSION..=messages::metadata::MAX_VERSION {
            let m = metadata(version);
            let mut frame = Vec::new();
            let start = messages::begin_response(
                &mut frame,
                42,
                response_header_flexible(API_KEY_METADATA, version),
            );
            m.encode(&mut frame, version);
            messages::finish_request(&mut frame, start);
            let out = rewrite_response(&frame, API_KEY_METADATA, version, &Shift)
                .unwrap()
                .expect("rewritten");
            assert_eq!(
                messages::frame_len(out[..4].try_into().unwrap()).unwrap(),
                out.len() - 4,
                "v{version}: size prefix"
            );
            let mut d = Decoder::new(&out[4..]);
            assert_eq!(
                messages::decode_response_header(&mut d, version >= 9).unwrap(),
                42
            );
            let back = MetadataResponse::decode(&mut d, version).unwrap();
            assert!(d.is_empty(), "v{version}: nothing left over");
            let mut want = m.clone();
            for b in &mut want.brokers {
                b.host = format!("proxy-{}", b.node_id);
                b.port += 1000;
            }
            assert_eq!(back, want, "v{version}");
        }
    }

    #[test]
    fn metadata_v0_and_v13_are_rewritten_too() {
        // v0: brokers without rack, then topics (copied as they are).
        let mut body = Vec::new();
        body.put_array_len(1);
        body.put_i32(5);
        body.put_string("broker5");
        body.put_i32(9092);
        body.extend_from_slice(&[0, 0, 0, 0]); // no topics
        let out = rewrite_metadata(&body, 0, &Shift).unwrap();
        let mut want = Vec::new();
        want.put_array_len(1);
        want.put_i32(5);
        want.put_string("proxy-5");
        want.put_i32(10092);
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(out, want);
        // v13 (KIP-1102 appends a top-level error code): the tail is copied whatever it holds.
        let mut body = Vec::new();
        body.put_i32(0);
        body.put_compact_array_len(1);
        body.put_i32(1);
        body.put_compact_string("h");
        body.put_i32(1);
        body.put_compact_nullable_string(None);
        body.put_empty_tagged_fields();
        let tail = [0u8, 0, 0, 0, 0, 1, 0, 0x2a, 0];
        body.extend_from_slice(&tail);
        let out = rewrite_metadata(&body, 13, &Shift).unwrap();
        assert!(out.ends_with(&tail));
        let mut d = Decoder::new(&out[4..]);
        assert_eq!(d.compact_array_len("b", 1).unwrap(), 1);
        d.i32("id").unwrap();
        assert_eq!(d.compact_string("host").unwrap(), "proxy-1");
        assert_eq!(d.i32("port").unwrap(), 1001);
    }

    #[test]
    fn produce_responses_with_node_endpoints_point_at_the_proxy() {
        let version = produce::MAX_VERSION;
        let r = produce::ProduceResponse {
            topics: vec![produce::ProduceTopicResponse {
                name: "t".into(),
                partitions: vec![produce::ProducePartitionResponse {
                    index: 0,
                    error_code: 6,
                    base_offset: -1,
                    log_append_time_ms: -1,
                    log_start_offset: -1,
                    record_errors: vec![],
                    error_message: None,
                    current_leader: Some((3, 9)),
                }],
            }],
            throttle_time_ms: 0,
            node_endpoints: vec![(3, "127.0.0.1".into(), 9094, None)],
        };
        let mut frame = Vec::new();
        let start = messages::begin_response(&mut frame, 1, true);
        r.encode(&mut frame, version);
        messages::finish_request(&mut frame, start);
        let out = rewrite_response(&frame, API_KEY_PRODUCE, version, &Shift)
            .unwrap()
            .unwrap();
        let mut d = Decoder::new(&out[4..]);
        messages::decode_response_header(&mut d, true).unwrap();
        let back = produce::ProduceResponse::decode(&mut d, version).unwrap();
        assert_eq!(
            back.node_endpoints,
            vec![(3, "proxy-3".to_string(), 10094, None)]
        );
        assert_eq!(back.topics, r.topics);
        // Without endpoints there is nothing to rewrite.
        let plain = produce::ProduceResponse {
            node_endpoints: vec![],
            ..r
        };
        let mut frame = Vec::new();
        let start = messages::begin_response(&mut frame, 1, true);
        plain.encode(&mut frame, version);
        messages::finish_request(&mut frame, start);
        assert_eq!(
            rewrite_response(&frame, API_KEY_PRODUCE, version, &Shift).unwrap(),
            None
        );
    }

    #[test]
    fn request_info_reads_acks_zero_produce_as_unanswered() {
        for (acks, answered) in [(0i16, false), (1, true), (-1, true)] {
            let mut frame = Vec::new();
            let start = messages::begin_request(&mut frame, API_KEY_PRODUCE, 9, 77, "c", true);
            frame.put_compact_nullable_string(None);
            frame.put_i16(acks);
            frame.put_i32(30000);
            frame.put_compact_array_len(0);
            frame.put_empty_tagged_fields();
            messages::finish_request(&mut frame, start);
            let info = request_info(&frame).unwrap();
            assert_eq!(
                (
                    info.api_key,
                    info.api_version,
                    info.correlation_id,
                    info.expects_response
                ),
                (0, 9, 77, answered)
            );
        }
    }

    #[test]
    fn a_produce_error_answers_every_partition_of_the_request_at_its_version() {
        for version in [produce::MIN_VERSION, 8, 9, produce::MAX_VERSION] {
            let mut frame = Vec::new();
            let mut w = produce::ProduceRequestWriter::begin(&mut frame, version, 41, "c", None, -1, 30000, 2);
            w.topic("a", 2, |w| {
                w.partition(0, 3, |b| b.extend_from_slice(b"xyz"));
                w.partition(5, 1, |b| b.push(1));
            });
            w.topic("b", 1, |w| w.partition(2, 0, |_| {}));
            w.finish();
            let answer = produce_error_response(&frame, 56).unwrap();
            let mut d = Decoder::new(&answer[4..]);
            let flexible = response_header_flexible(API_KEY_PRODUCE, version);
            assert_eq!(messages::decode_response_header(&mut d, flexible).unwrap(), 41, "v{version}");
            let r = produce::ProduceResponse::decode(&mut d, version).unwrap();
            assert_eq!(d.position(), answer.len() - 4, "v{version}: the whole frame read");
            let got: Vec<(String, i32, i16)> = r
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), p.index, p.error_code)))
                .collect();
            assert_eq!(got, [("a".to_string(), 0, 56), ("a".to_string(), 5, 56), ("b".to_string(), 2, 56)], "v{version}");
        }
    }

    #[test]
    fn the_placeholder_is_an_api_versions_request_with_the_correlation_id() {
        let frame = placeholder_request(1234);
        let info = request_info(&frame).unwrap();
        assert_eq!((info.api_key, info.api_version, info.correlation_id, info.expects_response), (18, 0, 1234, true));
        assert_eq!(frame.len(), 4 + i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize);
    }

    #[test]
    fn frames_with_a_bad_size_prefix_are_an_error_not_an_allocation() {
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xf0];
        assert_eq!(
            read_frame(&mut r).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut r: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert_eq!(
            read_frame(&mut r).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut r: &[u8] = &[];
        assert!(read_frame(&mut r).unwrap().is_none());
        let mut r: &[u8] = &[0, 0, 0, 3, 1, 2];
        assert_eq!(
            read_frame(&mut r).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
