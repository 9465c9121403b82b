//! Decoders never panic and never allocate more than a small multiple of their input, whatever
//! the bytes: every truncation of valid frames, thousands of seeded random mutations, and
//! hostile length prefixes, fed to every response decoder at every version and to
//! `decode_record_batches`.
//!
//! A counting global allocator records, per thread, the largest single allocation made while a
//! decoder runs.

mod protocol_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use protocol_support::{build_batch, fixture, sample_records, TestRecord};
use rafka_core::protocol::messages::api_versions::{self, ApiVersionRange, ApiVersionsResponse};
use rafka_core::protocol::messages::init_producer_id::{self, InitProducerIdResponse};
use rafka_core::protocol::messages::metadata::{
    self, MetadataBroker, MetadataPartition, MetadataResponse, MetadataTopic,
};
use rafka_core::protocol::messages::produce::{
    self, decode_produce_request, ProducePartitionResponse, ProduceResponse, ProduceTopicResponse,
};
use rafka_core::protocol::messages::{
    decode_request_header_auto, decode_response_header, frame_len,
};
use rafka_core::protocol::record_batch::decode_record_batches;
use rafka_core::protocol::Decoder;

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Clone, Copy, Debug)]
enum Kind {
    ApiVersions,
    Metadata,
    InitProducerId,
    Produce,
    ProduceRequest,
    RecordBatches,
    ResponseFrame,
}

const KINDS: [Kind; 7] = [
    Kind::ApiVersions,
    Kind::Metadata,
    Kind::InitProducerId,
    Kind::Produce,
    Kind::ProduceRequest,
    Kind::RecordBatches,
    Kind::ResponseFrame,
];

fn versions(kind: Kind) -> std::ops::RangeInclusive<i16> {
    match kind {
        Kind::ApiVersions => api_versions::MIN_VERSION..=api_versions::MAX_VERSION,
        Kind::Metadata => metadata::MIN_VERSION..=metadata::MAX_VERSION,
        Kind::InitProducerId => init_producer_id::MIN_VERSION..=init_producer_id::MAX_VERSION,
        Kind::Produce | Kind::ProduceRequest => produce::MIN_VERSION..=produce::MAX_VERSION,
        Kind::RecordBatches | Kind::ResponseFrame => 0..=0,
    }
}

/// Runs one decoder on `input`; returns whether it succeeded. Panics propagate (and fail).
/// Also checks the largest allocation made while decoding.
fn decode(kind: Kind, version: i16, input: &[u8]) -> bool {
    LARGEST.with(|l| l.set(0));
    let mut d = Decoder::new(input);
    let ok = match kind {
        Kind::ApiVersions => ApiVersionsResponse::decode(&mut d, version).is_ok(),
        Kind::Metadata => MetadataResponse::decode(&mut d, version).is_ok(),
        Kind::InitProducerId => InitProducerIdResponse::decode(&mut d, version).is_ok(),
        Kind::Produce => ProduceResponse::decode(&mut d, version).is_ok(),
        Kind::ProduceRequest => decode_produce_request(&mut d, version).is_ok(),
        Kind::RecordBatches => decode_record_batches(input).is_ok(),
        Kind::ResponseFrame => {
            // Also run the request-header reader over it: only "no panic" matters there.
            if input.len() >= 4 {
                let _ = decode_request_header_auto(&mut Decoder::new(&input[4..]));
            }
            input.len() >= 4
                && frame_len(input[..4].try_into().unwrap()) == Ok(input.len() - 4)
                && decode_response_header(&mut Decoder::new(&input[4..]), false).is_ok()
        }
    };
    let largest = LARGEST.with(|l| l.get());
    let bound = 32 * input.len() + 4096;
    assert!(
        largest <= bound,
        "{kind:?} v{version}: allocated {largest} bytes at once for a {}-byte input",
        input.len()
    );
    ok
}

/// Valid bodies for each kind and version: our own encodings plus the broker's fixtures.
fn corpus() -> Vec<(Kind, i16, Vec<u8>)> {
    let mut out = Vec::new();
    let av = ApiVersionsResponse {
        error_code: 0,
        api_keys: vec![
            ApiVersionRange {
                api_key: 0,
                min_version: 3,
                max_version: 12
            };
            3
        ],
        throttle_time_ms: 1,
        finalized_features: vec![],
    };
    let md = MetadataResponse {
        throttle_time_ms: 1,
        brokers: vec![MetadataBroker {
            node_id: 1,
            host: "h".into(),
            port: 2,
            rack: Some("r".into()),
        }],
        cluster_id: Some("c".into()),
        controller_id: 1,
        topics: vec![MetadataTopic {
            error_code: 0,
            name: Some("t".into()),
            topic_id: [1; 16],
            is_internal: false,
            partitions: vec![
                MetadataPartition {
                    error_code: 0,
                    partition_index: 0,
                    leader_id: 1,
                    leader_epoch: 1,
                    replica_nodes: vec![1, 2],
                    isr_nodes: vec![1],
                    offline_replicas: vec![2],
                };
                2
            ],
        }],
    };
    let ip = InitProducerIdResponse {
        throttle_time_ms: 0,
        error_code: 0,
        producer_id: 5,
        producer_epoch: 1,
    };
    let pr = ProduceResponse {
        topics: vec![ProduceTopicResponse {
            name: "t".into(),
            partitions: vec![ProducePartitionResponse {
                index: 0,
                error_code: 6,
                base_offset: -1,
                log_append_time_ms: -1,
                log_start_offset: -1,
                record_errors: vec![(1, Some("x".into()))],
                error_message: Some("m".into()),
                current_leader: Some((2, 3)),
            }],
        }],
        throttle_time_ms: 0,
        node_endpoints: vec![(2, "h2".into(), 9, None)],
    };
    for v in versions(Kind::ApiVersions) {
        let mut b = Vec::new();
        av.encode(&mut b, v);
        out.push((Kind::ApiVersions, v, b));
    }
    for v in versions(Kind::Metadata) {
        let mut b = Vec::new();
        md.encode(&mut b, v);
        out.push((Kind::Metadata, v, b));
    }
    for v in versions(Kind::InitProducerId) {
        let mut b = Vec::new();
        ip.encode(&mut b, v);
        out.push((Kind::InitProducerId, v, b));
    }
    for v in versions(Kind::Produce) {
        let mut b = Vec::new();
        pr.encode(&mut b, v);
        out.push((Kind::Produce, v, b));
    }
    let (batch, _) = build_batch(&sample_records(1_700_000_000_000), 1, 0, 0);
    let (small, _) = build_batch(&[TestRecord::new(0, None, Some(b"v"))], -1, -1, -1);
    out.push((Kind::RecordBatches, 0, [batch.clone(), small].concat()));

    // The broker's frames: the body after the header for the decoders, the frame for framing.
    let dir = "broker-4.3.1";
    for (name, kind, v, hdr) in [
        ("api_versions_v3", Kind::ApiVersions, 3, 4),
        ("api_versions_v127_unsupported", Kind::ApiVersions, 3, 4),
        ("metadata_v12_topic", Kind::Metadata, 12, 5),
        ("metadata_v1_all", Kind::Metadata, 1, 4),
        ("init_producer_id_v5", Kind::InitProducerId, 5, 5),
        ("produce_v12_idempotent", Kind::Produce, 12, 5),
        ("produce_v8", Kind::Produce, 8, 4),
    ] {
        let frame = fixture(&format!("{dir}/{name}.response.bin"));
        out.push((kind, v, frame[4 + hdr..].to_vec()));
        out.push((Kind::ResponseFrame, 0, frame));
    }
    let req = fixture(&format!("{dir}/produce_v12_idempotent.request.bin"));
    let mut d = Decoder::new(&req[4..]);
    decode_request_header_auto(&mut d).unwrap();
    out.push((Kind::ProduceRequest, 12, d.rest().to_vec()));
    out
}

#[test]
fn corpus_inputs_decode_successfully() {
    for (kind, v, body) in corpus() {
        assert!(decode(kind, v, &body), "{kind:?} v{v} should decode");
    }
}

#[test]
fn every_truncation_of_every_valid_input_is_an_error_not_a_panic() {
    for (kind, v, body) in corpus() {
        for cut in 0..body.len() {
            // A prefix may be a valid shorter message only for the frame check.
            let ok = decode(kind, v, &body[..cut]);
            if !matches!(kind, Kind::ResponseFrame | Kind::RecordBatches) {
                assert!(
                    !ok,
                    "{kind:?} v{v}: truncation at {cut}/{} decoded",
                    body.len()
                );
            }
        }
    }
}

fn mutate(rng: &mut fastrand::Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..rng.usize(1..=4) {
        if b.is_empty() {
            b.push(rng.u8(..));
            continue;
        }
        let i = rng.usize(..b.len());
        match rng.u8(..6) {
            0 => b[i] ^= 1 << rng.u8(..8),
            1 => b[i] = rng.u8(..),
            2 => {
                // A huge or negative length where a length might be.
                let v: [u8; 4] = *[
                    [0x7f, 0xff, 0xff, 0xff],
                    [0xff, 0xff, 0xff, 0xfe],
                    [0x80, 0, 0, 0],
                ]
                .get(rng.usize(..3))
                .unwrap();
                for (k, x) in v.iter().enumerate() {
                    if i + k < b.len() {
                        b[i + k] = *x;
                    }
                }
            }
            3 => b[i] = 0xff, // long varint / -1 length
            4 => {
                b.remove(i);
            }
            _ => b.insert(i, rng.u8(..)),
        }
    }
    b
}

#[test]
fn seeded_random_mutations_never_panic_or_over_allocate() {
    let mut rng = fastrand::Rng::with_seed(0x5AFE_C0DE);
    let corpus = corpus();
    let mut decoded_anyway = 0;
    let mut total = 0;
    for (kind, _, body) in &corpus {
        for _ in 0..400 {
            let mut m = mutate(&mut rng, body);
            if matches!(kind, Kind::RecordBatches) && rng.bool() && m.len() >= 21 {
                // Re-seal the first batch's CRC so the mutation reaches the record parser.
                let end = (12 + i32::from_be_bytes(m[8..12].try_into().unwrap()).max(0) as usize)
                    .min(m.len());
                if end > 21 {
                    let crc = crc32c::crc32c(&m[21..end]);
                    m[17..21].copy_from_slice(&crc.to_be_bytes());
                }
            }
            // Other versions too: a body read at the wrong version must fail cleanly.
            for ver in versions(*kind) {
                decoded_anyway += decode(*kind, ver, &m) as usize;
                total += 1;
            }
        }
    }
    assert!(total > 10_000, "ran {total} decodes");
    println!("{decoded_anyway} of {total} mutated decodes succeeded");
}

#[test]
fn hostile_lengths_fail_fast_without_allocating() {
    // Bodies made of a single repeated byte that reads as a huge count/length everywhere.
    for fill in [0x7fu8, 0xff, 0x80, 0xfe] {
        let body = vec![fill; 64];
        for kind in KINDS {
            for v in versions(kind) {
                let ok = decode(kind, v, &body);
                // InitProducerId is all fixed-width fields: any 16+ bytes are a valid body.
                if !matches!(kind, Kind::InitProducerId) {
                    assert!(!ok, "{kind:?} v{v} accepted {fill:#x} fill");
                }
            }
        }
    }
}
