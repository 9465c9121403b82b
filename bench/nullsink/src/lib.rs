//! rafka-nullsink: a Kafka-protocol server that acknowledges every Produce request and stores
//! nothing, so a benchmark shows a client's own ceiling once the broker is no longer the limit.
//!
//! It answers ApiVersions, Metadata, InitProducerId and Produce (and advertises Fetch, which
//! librdkafka needs to see before it uses RecordBatch v2), and closes the connection on
//! anything else. Every topic exists: `NAME-p<N>` has N partitions, any other name has the
//! default count. Each partition's offsets start at 0 and grow by the records each batch holds
//! (read from the RecordBatch header; the records themselves are never parsed or checked).
//!
//! The codec is rafka-core's `protocol` module, used in the broker's direction (request
//! decoders, response encoders), so the sink speaks every version the client library
//! implements, flexible ones included. Java's producer and librdkafka are run against it by
//! hand (bench/README.md) as the check that those encoders are what a real client expects.
//!
//! Threads: one accept thread, and one thread per connection that reads a request, answers it,
//! and writes answers in a batch once no further request is already buffered. Offsets live in
//! one map behind a mutex, taken once per Produce request.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use rafka_core::protocol::messages::api_versions::{self, ApiVersionRange, ApiVersionsResponse};
use rafka_core::protocol::messages::init_producer_id::{self, InitProducerIdRequest, InitProducerIdResponse};
use rafka_core::protocol::messages::metadata::{
    self, MetadataBroker, MetadataPartition, MetadataRequest, MetadataResponse, MetadataTopic,
};
use rafka_core::protocol::messages::produce::{self, ProducePartitionResponse, ProduceResponse, ProduceTopicResponse};
use rafka_core::protocol::messages::{
    begin_response, decode_request_header_auto, finish_request, frame_len, response_header_flexible,
    API_KEY_API_VERSIONS, API_KEY_INIT_PRODUCER_ID, API_KEY_METADATA, API_KEY_PRODUCE,
};
use rafka_core::protocol::{DecodeError, Decoder};

/// The sink's only node id: it leads every partition.
const NODE_ID: i32 = 1;
const UNSUPPORTED_VERSION: i16 = 35;
/// Bytes of a RecordBatch v2 header up to and including `lastOffsetDelta`.
const BATCH_LAST_OFFSET_DELTA_END: usize = 27;
/// Offset of the magic byte in a batch (2 for RecordBatch v2; 0 and 1 are the old MessageSets).
const BATCH_MAGIC: usize = 16;
/// `baseOffset` (8) + `batchLength` (4): what precedes the length-counted part of a batch.
const BATCH_LOG_OVERHEAD: usize = 12;

/// What the sink has acknowledged since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub connections: u64,
    pub produce_requests: u64,
    /// Records in acknowledged batches (acks=0 requests included: they are counted, not answered).
    pub records: u64,
    /// Bytes of record batches received.
    pub batch_bytes: u64,
    /// Record batches accepted (acks=0 requests included, as for `records`): records / batches is
    /// how full clients fill them.
    pub batches: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    produce_requests: AtomicU64,
    records: AtomicU64,
    batch_bytes: AtomicU64,
    batches: AtomicU64,
}

struct Shared {
    addr: SocketAddr,
    default_partitions: i32,
    /// Next offset per (topic, partition).
    offsets: Mutex<HashMap<(String, i32), i64>>,
    /// Fault topics only (see `FAULT_NOT_LEADER_FIRST`): per partition, whether the first Produce
    /// was refused, and the producer's (epoch, next sequence) as a broker keeps it.
    faults: Mutex<HashMap<(String, i32), FaultState>>,
    next_producer_id: AtomicU64,
    counters: Counters,
}

/// A running sink. Its threads live as long as the process (a benchmark or test process).
pub struct NullSink {
    shared: Arc<Shared>,
}

impl NullSink {
    /// Binds `listen` (e.g. `127.0.0.1:0`) and starts accepting connections.
    pub fn start(listen: &str, default_partitions: i32) -> io::Result<NullSink> {
        if default_partitions < 1 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "partitions must be at least 1"));
        }
        let listener = TcpListener::bind(listen)?;
        let shared = Arc::new(Shared {
            addr: listener.local_addr()?,
            default_partitions,
            offsets: Mutex::new(HashMap::new()),
            faults: Mutex::new(HashMap::new()),
            next_producer_id: AtomicU64::new(1000),
            counters: Counters::default(),
        });
        let s = shared.clone();
        thread::Builder::new().name("nullsink-accept".into()).spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                s.counters.connections.fetch_add(1, Ordering::Relaxed);
                let s = s.clone();
                let _ = thread::Builder::new().name("nullsink-conn".into()).spawn(move || {
                    if let Err(e) = serve(stream, &s) {
                        if e.kind() != io::ErrorKind::UnexpectedEof && e.kind() != io::ErrorKind::ConnectionReset {
                            eprintln!("rafka-nullsink: connection closed: {e}");
                        }
                    }
                });
            }
        })?;
        Ok(NullSink { shared })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            connections: c.connections.load(Ordering::Relaxed),
            produce_requests: c.produce_requests.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            batch_bytes: c.batch_bytes.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
        }
    }
}

/// Partition count of a topic: `NAME-p<N>` has N, anything else the default.
pub fn partitions_of(topic: &str, default: i32) -> i32 {
    topic
        .rsplit_once("-p")
        .and_then(|(_, n)| n.parse::<i32>().ok())
        .filter(|n| (1..=100_000).contains(n))
        .unwrap_or(default)
}

fn bad_data(e: DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

/// One connection: read a frame, append its answer to `out`, and write `out` before any read
/// that could block, i.e. once no further complete request is buffered (pipelined requests get
/// their answers in one write, and no answer waits for the next request to arrive).
fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(256 * 1024, stream.try_clone()?);
    let mut writer = stream;
    let mut frame = Vec::new();
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let mut prefix = [0u8; 4];
        reader.read_exact(&mut prefix)?;
        let len = frame_len(prefix).map_err(bad_data)?;
        frame.resize(len, 0);
        reader.read_exact(&mut frame)?;
        answer(&frame, &mut out, shared)?;
        if !out.is_empty() && !holds_whole_frame(reader.buffer()) {
            writer.write_all(&out)?;
            out.clear();
        }
    }
}

/// Whether `buf` starts with a complete frame (size prefix and all it announces).
fn holds_whole_frame(buf: &[u8]) -> bool {
    buf.len() >= 4 && frame_len([buf[0], buf[1], buf[2], buf[3]]).is_ok_and(|n| buf.len() - 4 >= n)
}

/// Decodes one request frame (without its size prefix) and appends the response frame, if the
/// request gets one, to `out`.
fn answer(frame: &[u8], out: &mut Vec<u8>, shared: &Shared) -> io::Result<()> {
    let mut d = Decoder::new(frame);
    let h = decode_request_header_auto(&mut d).map_err(bad_data)?;
    let v = h.api_version;
    let supported = |min, max| (min..=max).contains(&v);
    match h.api_key {
        API_KEY_API_VERSIONS => {
            let ranges = advertised();
            let (version, error_code) = if supported(api_versions::MIN_VERSION, api_versions::MAX_VERSION) {
                api_versions::ApiVersionsRequest::decode(&mut d, v).map_err(bad_data)?;
                (v, 0)
            } else {
                // KIP-511: a newer request than we know gets UNSUPPORTED_VERSION in the v0 body.
                (0, UNSUPPORTED_VERSION)
            };
            let start = begin_response(out, h.correlation_id, false);
            ApiVersionsResponse { error_code, api_keys: ranges, throttle_time_ms: 0, finalized_features: vec![] }.encode(out, version);
            finish_request(out, start);
        }
        API_KEY_METADATA if supported(metadata::MIN_VERSION, metadata::MAX_VERSION) => {
            let req = MetadataRequest::decode(&mut d, v).map_err(bad_data)?;
            let start = begin_response(out, h.correlation_id, response_header_flexible(h.api_key, v));
            metadata_response(shared, req).encode(out, v);
            finish_request(out, start);
        }
        API_KEY_INIT_PRODUCER_ID if supported(init_producer_id::MIN_VERSION, init_producer_id::MAX_VERSION) => {
            InitProducerIdRequest::decode(&mut d, v).map_err(bad_data)?;
            let start = begin_response(out, h.correlation_id, response_header_flexible(h.api_key, v));
            InitProducerIdResponse {
                throttle_time_ms: 0,
                error_code: 0,
                producer_id: shared.next_producer_id.fetch_add(1, Ordering::Relaxed) as i64,
                producer_epoch: 0,
            }
            .encode(out, v);
            finish_request(out, start);
        }
        API_KEY_PRODUCE if supported(produce::MIN_VERSION, produce::MAX_VERSION) => {
            let (acks, resp) = produce_response(shared, &mut d, v).map_err(bad_data)?;
            if acks != 0 {
                let start = begin_response(out, h.correlation_id, response_header_flexible(h.api_key, v));
                resp.encode(out, v);
                finish_request(out, start);
            }
        }
        key => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unsupported request: api key {key} v{v}"),
            ))
        }
    }
    Ok(())
}

/// Fetch: advertised, never answered. librdkafka derives its "MsgVer2" feature (RecordBatch v2,
/// needed for idempotence) from Produce v3+ *and* Fetch v4+; without Fetch it falls back to the
/// old MessageSet format. Producers never send a Fetch request.
const API_KEY_FETCH: i16 = 1;

/// The versions the sink answers: exactly what rafka-core's codec implements (plus Fetch, above).
fn advertised() -> Vec<ApiVersionRange> {
    let r = |api_key, min_version, max_version| ApiVersionRange { api_key, min_version, max_version };
    vec![
        r(API_KEY_PRODUCE, produce::MIN_VERSION, produce::MAX_VERSION),
        r(API_KEY_METADATA, metadata::MIN_VERSION, metadata::MAX_VERSION),
        r(API_KEY_API_VERSIONS, api_versions::MIN_VERSION, api_versions::MAX_VERSION),
        r(API_KEY_INIT_PRODUCER_ID, init_producer_id::MIN_VERSION, init_producer_id::MAX_VERSION),
        r(API_KEY_FETCH, 4, 12),
    ]
}

fn metadata_response(shared: &Shared, req: MetadataRequest) -> MetadataResponse {
    // A request for all topics (null list) gets none: the sink has no list of topics.
    let topics = req
        .topics
        .unwrap_or_default()
        .into_iter()
        .map(|name| {
            let n = partitions_of(&name, shared.default_partitions);
            let mut topic_id = [0u8; 16];
            // A stable, non-zero id per name (clients may key caches on it).
            let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
            topic_id[..8].copy_from_slice(&h.to_be_bytes());
            topic_id[15] = 1;
            MetadataTopic {
                error_code: 0,
                name: Some(name),
                topic_id,
                is_internal: false,
                partitions: (0..n)
                    .map(|p| MetadataPartition {
                        error_code: 0,
                        partition_index: p,
                        leader_id: NODE_ID,
                        leader_epoch: 0,
                        replica_nodes: vec![NODE_ID],
                        isr_nodes: vec![NODE_ID],
                        offline_replicas: vec![],
                    })
                    .collect(),
            }
        })
        .collect();
    MetadataResponse {
        throttle_time_ms: 0,
        brokers: vec![MetadataBroker {
            node_id: NODE_ID,
            host: shared.addr.ip().to_string(),
            port: i32::from(shared.addr.port()),
            rack: None,
        }],
        cluster_id: Some("rafka-nullsink".into()),
        controller_id: NODE_ID,
        topics,
    }
}

/// A topic whose name contains this gets a fault, for tests: the first Produce of each partition
/// is refused with NOT_LEADER_OR_FOLLOWER (after 200 ms), and sequences are checked as a broker checks them (a
/// producer the partition has no state for may start at any sequence; after that each batch must
/// follow the last, or OUT_OF_ORDER_SEQUENCE_NUMBER; a new epoch starts at 0).
pub const FAULT_NOT_LEADER_FIRST: &str = "-notleaderfirst";
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
/// Offsets in a RecordBatch v2 of producerId (i64), producerEpoch (i16) and baseSequence (i32).
const BATCH_PRODUCER_ID: usize = 43;

/// A fault topic's partition: whether its first Produce was refused, and the producer's
/// (epoch, next sequence).
type FaultState = (bool, Option<(i16, i32)>);

/// The error a fault topic's partition answers to `records` (0: accepted), updating its state.
fn fault_check(state: &mut FaultState, records: &[u8], count: i64) -> i16 {
    if !state.0 {
        state.0 = true;
        // Answer late, so that the producer has sent the batches behind this one meanwhile.
        thread::sleep(std::time::Duration::from_millis(200));
        return NOT_LEADER_OR_FOLLOWER;
    }
    if records.len() < BATCH_PRODUCER_ID + 14 {
        return 0;
    }
    let f = &records[BATCH_PRODUCER_ID..];
    let pid = i64::from_be_bytes(f[..8].try_into().unwrap());
    let epoch = i16::from_be_bytes([f[8], f[9]]);
    let seq = i32::from_be_bytes([f[10], f[11], f[12], f[13]]);
    if pid < 0 {
        return 0;
    }
    let ok = match state.1 {
        None => true,
        Some((e, _)) if e != epoch => seq == 0,
        Some((_, next)) => seq == next,
    };
    if !ok {
        return OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    state.1 = Some((epoch, seq.wrapping_add(count as i32) & i32::MAX));
    0
}

/// Records in `records` (one or more RecordBatch v2), as offsets count them (`lastOffsetDelta + 1`
/// per batch), and how many batches hold them.
fn count_records(mut records: &[u8]) -> Result<(i64, u64), DecodeError> {
    let (mut n, mut batches) = (0i64, 0u64);
    while !records.is_empty() {
        let mut d = Decoder::new(records);
        d.skip(8, "batch.base_offset")?;
        let len = d.i32("batch.length")?;
        let total = BATCH_LOG_OVERHEAD + usize::try_from(len).map_err(|_| DecodeError::NegativeLength {
            field: "batch.length",
            len: len as i64,
        })?;
        if total < BATCH_LAST_OFFSET_DELTA_END || total > records.len() {
            return Err(DecodeError::LengthExceedsRemaining { field: "batch", len: total, remaining: records.len() });
        }
        let magic = records[BATCH_MAGIC] as i8;
        if magic != 2 {
            return Err(DecodeError::UnsupportedMagic { magic });
        }
        let mut d = Decoder::new(&records[BATCH_LAST_OFFSET_DELTA_END - 4..]);
        n += i64::from(d.i32("batch.last_offset_delta")?) + 1;
        batches += 1;
        records = &records[total..];
    }
    Ok((n, batches))
}

/// Reads a Produce request body without copying its records, assigns offsets, and builds the
/// answer. Returns the request's acks too (0: no answer is sent).
fn produce_response(shared: &Shared, d: &mut Decoder<'_>, v: i16) -> Result<(i16, ProduceResponse), DecodeError> {
    let flexible = v >= produce::FIRST_FLEXIBLE_VERSION;
    d.nullable_string_flex("transactional_id", flexible)?;
    let acks = d.i16("acks")?;
    d.i32("timeout_ms")?;
    let nt = d.array_len_flex("topic_data", 2, flexible)?;
    // Per topic: (partition, record count, error code).
    type Parts = Vec<(String, Vec<(i32, i64, i16)>)>;
    let mut parts: Parts = Vec::with_capacity(nt);
    let (mut records, mut bytes, mut batches) = (0u64, 0u64, 0u64);
    for _ in 0..nt {
        let name = d.string_flex("topic_data.name", flexible)?;
        let np = d.array_len_flex("partition_data", 5, flexible)?;
        let mut ps = Vec::with_capacity(np);
        for _ in 0..np {
            let index = d.i32("partition_data.index")?;
            let data = d.nullable_bytes_flex("partition_data.records", flexible)?.unwrap_or_default();
            d.skip_tagged_fields_flex(flexible)?;
            let (n, nb) = count_records(data)?;
            let error = if name.contains(FAULT_NOT_LEADER_FIRST) {
                let mut faults = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
                fault_check(faults.entry((name.clone(), index)).or_default(), data, n)
            } else {
                0
            };
            if error == 0 {
                records += n as u64;
                bytes += data.len() as u64;
                batches += nb;
            }
            ps.push((index, n, error));
        }
        d.skip_tagged_fields_flex(flexible)?;
        parts.push((name, ps));
    }
    d.skip_tagged_fields_flex(flexible)?;

    let c = &shared.counters;
    c.produce_requests.fetch_add(1, Ordering::Relaxed);
    c.records.fetch_add(records, Ordering::Relaxed);
    c.batch_bytes.fetch_add(bytes, Ordering::Relaxed);
    c.batches.fetch_add(batches, Ordering::Relaxed);

    let mut offsets = shared.offsets.lock().unwrap_or_else(|e| e.into_inner());
    let topics = parts
        .into_iter()
        .map(|(name, ps)| {
            let partitions = ps
                .into_iter()
                .map(|(index, n, error_code)| {
                    let next = offsets.entry((name.clone(), index)).or_insert(0);
                    let base_offset = if error_code == 0 { *next } else { -1 };
                    if error_code == 0 {
                        *next += n;
                    }
                    ProducePartitionResponse {
                        index,
                        error_code,
                        base_offset,
                        log_append_time_ms: -1,
                        log_start_offset: 0,
                        record_errors: vec![],
                        error_message: None,
                        current_leader: None,
                    }
                })
                .collect();
            ProduceTopicResponse { name, partitions }
        })
        .collect();
    Ok((acks, ProduceResponse { topics, throttle_time_ms: 0, node_endpoints: vec![] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_suffix_sets_the_partition_count() {
        assert_eq!(partitions_of("bench-p1000", 6), 1000);
        assert_eq!(partitions_of("bench", 6), 6);
        assert_eq!(partitions_of("bench-pX", 3), 3);
        assert_eq!(partitions_of("bench-p0", 3), 3);
    }

    #[test]
    fn record_count_follows_last_offset_delta_across_batches() {
        let mut batch = vec![0u8; 61];
        batch[8..12].copy_from_slice(&(61 - 12i32).to_be_bytes());
        batch[16] = 2;
        batch[23..27].copy_from_slice(&9i32.to_be_bytes());
        let two: Vec<u8> = batch.iter().chain(batch.iter()).copied().collect();
        assert_eq!(count_records(&two).unwrap(), (20, 2));
        assert!(count_records(&two[..70]).is_err());
        batch[16] = 1;
        assert!(count_records(&batch).is_err(), "an old MessageSet is refused");
    }
}
