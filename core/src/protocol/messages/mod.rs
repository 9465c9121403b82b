//! Request framing, response headers, and one module per API the producer speaks.
//!
//! A request on the wire is `[size i32][request header][body]`. The engine writes a request
//! straight into its send buffer: [`begin_request`] writes the size placeholder and the header,
//! the message's `encode` (or [`produce::ProduceRequestWriter`]) appends the body, and
//! [`finish_request`] patches the size. A response is `[size i32][response header][body]`:
//! [`frame_len`] validates the size prefix, [`decode_response_header`] reads the correlation id,
//! and the response type's `decode` reads the body at the version the request was sent with.
//!
//! Each message module exposes `MIN_VERSION`, `MAX_VERSION` (what this crate implements) and
//! `FIRST_FLEXIBLE_VERSION` (from which on the message uses compact encodings, tagged fields and
//! the v2 request / v1 response header). Besides what the producer needs (request encoders,
//! response decoders) each module also has the opposite direction (request decoders, response
//! encoders) for round-trip tests, fixtures and mock brokers.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod api_versions;
pub mod describe_configs;
pub mod end_txn;
pub mod find_coordinator;
pub mod init_producer_id;
pub mod metadata;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod txn_offset_commit;

use super::primitives::{DecodeError, Decoder, WireWrite};

pub const API_KEY_PRODUCE: i16 = 0;
pub const API_KEY_METADATA: i16 = 3;
pub const API_KEY_FIND_COORDINATOR: i16 = 10;
pub const API_KEY_SASL_HANDSHAKE: i16 = 17;
pub const API_KEY_API_VERSIONS: i16 = 18;
pub const API_KEY_INIT_PRODUCER_ID: i16 = 22;
pub const API_KEY_ADD_PARTITIONS_TO_TXN: i16 = 24;
pub const API_KEY_ADD_OFFSETS_TO_TXN: i16 = 25;
pub const API_KEY_END_TXN: i16 = 26;
pub const API_KEY_TXN_OFFSET_COMMIT: i16 = 28;
pub const API_KEY_DESCRIBE_CONFIGS: i16 = 32;
pub const API_KEY_SASL_AUTHENTICATE: i16 = 36;

/// Largest frame [`frame_len`] accepts (100 MiB). A broker's response to a producer is small; a
/// size beyond this is a corrupt stream or not Kafka at all, and must not become an allocation.
pub const MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// Whether `api_key` at `api_version` uses the flexible (KIP-482) encoding, for the APIs this
/// crate implements; `None` for other APIs.
pub fn is_flexible(api_key: i16, api_version: i16) -> Option<bool> {
    let first = match api_key {
        API_KEY_PRODUCE => produce::FIRST_FLEXIBLE_VERSION,
        API_KEY_METADATA => metadata::FIRST_FLEXIBLE_VERSION,
        API_KEY_API_VERSIONS => api_versions::FIRST_FLEXIBLE_VERSION,
        API_KEY_INIT_PRODUCER_ID => init_producer_id::FIRST_FLEXIBLE_VERSION,
        API_KEY_SASL_HANDSHAKE => sasl_handshake::FIRST_FLEXIBLE_VERSION,
        API_KEY_SASL_AUTHENTICATE => sasl_authenticate::FIRST_FLEXIBLE_VERSION,
        API_KEY_FIND_COORDINATOR => find_coordinator::FIRST_FLEXIBLE_VERSION,
        API_KEY_ADD_PARTITIONS_TO_TXN => add_partitions_to_txn::FIRST_FLEXIBLE_VERSION,
        API_KEY_ADD_OFFSETS_TO_TXN => add_offsets_to_txn::FIRST_FLEXIBLE_VERSION,
        API_KEY_END_TXN => end_txn::FIRST_FLEXIBLE_VERSION,
        API_KEY_TXN_OFFSET_COMMIT => txn_offset_commit::FIRST_FLEXIBLE_VERSION,
        API_KEY_DESCRIBE_CONFIGS => describe_configs::FIRST_FLEXIBLE_VERSION,
        _ => return None,
    };
    Some(api_version >= first)
}

/// Whether the RESPONSE header for this request is the flexible one (v1, with tagged fields).
/// ApiVersions responses always use header v0 so that a client can read them before it knows
/// which versions the broker speaks.
pub fn response_header_flexible(api_key: i16, api_version: i16) -> bool {
    api_key != API_KEY_API_VERSIONS && is_flexible(api_key, api_version).unwrap_or(false)
}

/// Starts a request frame at the end of `buf`: a 4-byte size placeholder, then request header v1
/// (api key, version, correlation id, client id as a classic nullable string), plus an empty
/// tagged-field section (header v2) when `flexible`. Returns the frame start for
/// [`finish_request`].
pub fn begin_request(
    buf: &mut Vec<u8>,
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    client_id: &str,
    flexible: bool,
) -> usize {
    let start = buf.len();
    buf.put_i32(0);
    buf.put_i16(api_key);
    buf.put_i16(api_version);
    buf.put_i32(correlation_id);
    // The client id keeps its classic i16 length even in header v2, so that any broker can read
    // the header of a request whose version it does not know.
    buf.put_nullable_string(Some(client_id));
    buf.put_tagged_fields_flex(flexible);
    start
}

/// Writes the frame's size (everything after the 4-byte prefix) at `frame_start`.
pub fn finish_request(buf: &mut [u8], frame_start: usize) {
    let size = i32::try_from(buf.len() - frame_start - 4).expect("request frame over 2 GiB");
    buf[frame_start..frame_start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Reads a response header and returns its correlation id. `flexible` selects header v1 (with a
/// tagged-field section); pass [`response_header_flexible`]`(api_key, version)`, which is false
/// for ApiVersions at every version.
pub fn decode_response_header(d: &mut Decoder<'_>, flexible: bool) -> Result<i32, DecodeError> {
    let correlation_id = d.i32("response_header.correlation_id")?;
    d.skip_tagged_fields_flex(flexible)?;
    Ok(correlation_id)
}

/// Validates a frame's 4-byte big-endian size prefix and returns the size of what follows.
/// Negative sizes and sizes over [`MAX_FRAME_SIZE`] are errors.
pub fn frame_len(prefix: [u8; 4]) -> Result<usize, DecodeError> {
    let n = i32::from_be_bytes(prefix);
    if n < 0 || n as usize > MAX_FRAME_SIZE {
        return Err(DecodeError::FrameTooLarge {
            len: n as i64,
            max: MAX_FRAME_SIZE,
        });
    }
    Ok(n as usize)
}

/// A request header as a broker (or a test) reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
}

/// Reads a request header v1, or v2 when `flexible`. The counterpart of [`begin_request`], for
/// tests, fixtures and mock brokers. Use [`decode_request_header_auto`] when the API is not
/// known in advance.
pub fn decode_request_header(
    d: &mut Decoder<'_>,
    flexible: bool,
) -> Result<RequestHeader, DecodeError> {
    let api_key = d.i16("request_header.api_key")?;
    let api_version = d.i16("request_header.api_version")?;
    let correlation_id = d.i32("request_header.correlation_id")?;
    let client_id = d.nullable_string("request_header.client_id")?;
    d.skip_tagged_fields_flex(flexible)?;
    Ok(RequestHeader {
        api_key,
        api_version,
        correlation_id,
        client_id,
    })
}

/// Reads a request header, deciding v1/v2 from its api key and version (for the APIs this crate
/// implements; others are read as v1).
pub fn decode_request_header_auto(d: &mut Decoder<'_>) -> Result<RequestHeader, DecodeError> {
    let mut peek = d.clone();
    let api_key = peek.i16("request_header.api_key")?;
    let api_version = peek.i16("request_header.api_version")?;
    let flexible = is_flexible(api_key, api_version).unwrap_or(false);
    decode_request_header(d, flexible)
}

/// Writes a response frame's size placeholder and header (v1 when `flexible`); the counterpart
/// of [`decode_response_header`], for tests and mock brokers. Close it with [`finish_request`]
/// (the size rule is the same).
pub fn begin_response(buf: &mut Vec<u8>, correlation_id: i32, flexible: bool) -> usize {
    let start = buf.len();
    buf.put_i32(0);
    buf.put_i32(correlation_id);
    buf.put_tagged_fields_flex(flexible);
    start
}

/// Fails with [`DecodeError::UnsupportedVersion`] when `version` is outside `min..=max`.
pub(crate) fn check_version(
    api: &'static str,
    version: i16,
    min: i16,
    max: i16,
) -> Result<(), DecodeError> {
    if (min..=max).contains(&version) {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion { api, version })
    }
}

/// Per topic, per partition: index and error code. The answer shape of AddPartitionsToTxn and
/// TxnOffsetCommit (`results`/`topics` arrays of `name` + `partitions` of index + error code).
pub type PartitionErrors = Vec<(String, Vec<(i32, i16)>)>;

/// Reads a [`PartitionErrors`] array; `field` names it in decode errors.
pub(crate) fn decode_partition_errors(d: &mut Decoder<'_>, field: &'static str, flexible: bool) -> Result<PartitionErrors, DecodeError> {
    let n = d.array_len_flex(field, 2, flexible)?;
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.string_flex("topic name", flexible)?;
        let m = d.array_len_flex("partitions", 6, flexible)?;
        let mut parts = Vec::with_capacity(m);
        for _ in 0..m {
            let index = d.i32("partition_index")?;
            let code = d.i16("error_code")?;
            d.skip_tagged_fields_flex(flexible)?;
            parts.push((index, code));
        }
        d.skip_tagged_fields_flex(flexible)?;
        topics.push((name, parts));
    }
    Ok(topics)
}

/// Writes a [`PartitionErrors`] array (tests and mock brokers).
pub(crate) fn encode_partition_errors(buf: &mut Vec<u8>, topics: &PartitionErrors, flexible: bool) {
    buf.put_array_len_flex(topics.len(), flexible);
    for (name, parts) in topics {
        buf.put_string_flex(name, flexible);
        buf.put_array_len_flex(parts.len(), flexible);
        for (index, code) in parts {
            buf.put_i32(*index);
            buf.put_i16(*code);
            buf.put_tagged_fields_flex(flexible);
        }
        buf.put_tagged_fields_flex(flexible);
    }
}
