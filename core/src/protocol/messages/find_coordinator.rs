//! FindCoordinator (key 10): which broker coordinates a consumer group (key type 0) or a
//! transactional id (key type 1).
//!
//! Versions 0..=6. v1 adds the key type (v0 can only ask for groups), v3 is the first flexible
//! version, v4 batches keys (KIP-699: `coordinator_keys` in the request, one `coordinators`
//! entry per key in the response, each with its own error); v5 and v6 change nothing on the wire
//! (new error codes, share groups). Kafka 4.0 removed v0. A request carries one or more keys;
//! below v4 exactly one is sent, and the response is read back as a one-entry list so callers
//! see the same shape at every version.

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 6;
pub const FIRST_FLEXIBLE_VERSION: i16 = 3;
/// The first version with batched keys.
pub const FIRST_BATCHED_VERSION: i16 = 4;

pub const KEY_TYPE_GROUP: i8 = 0;
pub const KEY_TYPE_TRANSACTION: i8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorRequest {
    pub key_type: i8,
    /// One key below v4 (the first is sent); one or more from v4 on.
    pub keys: Vec<String>,
}

impl FindCoordinatorRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION`, on no key, on several keys below v4, and on a transaction
    /// key at v0 (negotiation bugs, not network input).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "FindCoordinator v{version}");
        assert!(!self.keys.is_empty(), "FindCoordinator without a key");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        if version < FIRST_BATCHED_VERSION {
            assert!(self.keys.len() == 1, "FindCoordinator v{version} takes one key");
            buf.put_string_flex(&self.keys[0], flexible);
        }
        if version >= 1 {
            buf.put_i8(self.key_type);
        } else {
            assert!(self.key_type == KEY_TYPE_GROUP, "FindCoordinator v0 knows only groups");
        }
        if version >= FIRST_BATCHED_VERSION {
            buf.put_compact_array_len(self.keys.len());
            for k in &self.keys {
                buf.put_compact_string(k);
            }
        }
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("FindCoordinatorRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let mut keys = Vec::new();
        if version < FIRST_BATCHED_VERSION {
            keys.push(d.string_flex("key", flexible)?);
        }
        let key_type = if version >= 1 { d.i8("key_type")? } else { KEY_TYPE_GROUP };
        if version >= FIRST_BATCHED_VERSION {
            let n = d.compact_array_len("coordinator_keys", 1)?;
            keys.reserve(n);
            for _ in 0..n {
                keys.push(d.compact_string("coordinator_keys")?);
            }
        }
        d.skip_tagged_fields_flex(flexible)?;
        Ok(FindCoordinatorRequest { key_type, keys })
    }
}

/// The coordinator of one key, or the error that kept the broker from naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    /// The key asked for (below v4: the request's key, filled in by the caller of `decode`).
    pub key: String,
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub error_code: i16,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorResponse {
    pub throttle_time_ms: i32,
    /// One entry per key asked for (exactly one below v4).
    pub coordinators: Vec<Coordinator>,
}

impl FindCoordinatorResponse {
    /// Reads the body after the response header. Below v4 the one entry's `key` is `asked`.
    pub fn decode(d: &mut Decoder<'_>, version: i16, asked: &str) -> Result<Self, DecodeError> {
        check_version("FindCoordinatorResponse", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let throttle_time_ms = if version >= 1 { d.i32("throttle_time_ms")? } else { 0 };
        let mut coordinators = Vec::new();
        if version < FIRST_BATCHED_VERSION {
            let error_code = d.i16("error_code")?;
            let error_message = if version >= 1 { d.nullable_string_flex("error_message", flexible)? } else { None };
            let node_id = d.i32("node_id")?;
            let host = d.string_flex("host", flexible)?;
            let port = d.i32("port")?;
            coordinators.push(Coordinator { key: asked.to_string(), node_id, host, port, error_code, error_message });
        } else {
            // key (1) + node (4) + host (1) + port (4) + error (2) + message (1) + tags (1)
            let n = d.compact_array_len("coordinators", 14)?;
            coordinators.reserve(n);
            for _ in 0..n {
                let key = d.compact_string("coordinators.key")?;
                let node_id = d.i32("coordinators.node_id")?;
                let host = d.compact_string("coordinators.host")?;
                let port = d.i32("coordinators.port")?;
                let error_code = d.i16("coordinators.error_code")?;
                let error_message = d.compact_nullable_string("coordinators.error_message")?;
                d.skip_tagged_fields()?;
                coordinators.push(Coordinator { key, node_id, host, port, error_code, error_message });
            }
        }
        d.skip_tagged_fields_flex(flexible)?;
        Ok(FindCoordinatorResponse { throttle_time_ms, coordinators })
    }

    /// Writes the body (tests and mock brokers). Below v4 only the first entry is written.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "FindCoordinator v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        if version >= 1 {
            buf.put_i32(self.throttle_time_ms);
        }
        if version < FIRST_BATCHED_VERSION {
            let c = &self.coordinators[0];
            buf.put_i16(c.error_code);
            if version >= 1 {
                buf.put_nullable_string_flex(c.error_message.as_deref(), flexible);
            }
            buf.put_i32(c.node_id);
            buf.put_string_flex(&c.host, flexible);
            buf.put_i32(c.port);
        } else {
            buf.put_compact_array_len(self.coordinators.len());
            for c in &self.coordinators {
                buf.put_compact_string(&c.key);
                buf.put_i32(c.node_id);
                buf.put_compact_string(&c.host);
                buf.put_i32(c.port);
                buf.put_i16(c.error_code);
                buf.put_compact_nullable_string(c.error_message.as_deref());
                buf.put_empty_tagged_fields();
            }
        }
        buf.put_tagged_fields_flex(flexible);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_at_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            let key_type = if v == 0 { KEY_TYPE_GROUP } else { KEY_TYPE_TRANSACTION };
            let req = FindCoordinatorRequest { key_type, keys: vec!["txn-a".into()] };
            let mut buf = Vec::new();
            req.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(FindCoordinatorRequest::decode(&mut d, v).unwrap(), req, "v{v}");
            assert!(d.is_empty(), "v{v}");
        }
        let req = FindCoordinatorRequest { key_type: KEY_TYPE_TRANSACTION, keys: vec!["a".into(), "b".into()] };
        let mut buf = Vec::new();
        req.encode(&mut buf, 4);
        assert_eq!(FindCoordinatorRequest::decode(&mut Decoder::new(&buf), 4).unwrap(), req);
    }

    #[test]
    fn response_round_trips_at_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            let c = Coordinator {
                key: "txn-a".into(),
                node_id: 3,
                host: "broker-3".into(),
                port: 9092,
                error_code: 0,
                error_message: if v >= 1 { Some("fine".into()) } else { None },
            };
            let resp = FindCoordinatorResponse { throttle_time_ms: if v >= 1 { 7 } else { 0 }, coordinators: vec![c] };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(FindCoordinatorResponse::decode(&mut d, v, "txn-a").unwrap(), resp, "v{v}");
            assert!(d.is_empty(), "v{v}");
        }
    }

    #[test]
    fn a_huge_coordinator_count_is_an_error_not_an_allocation() {
        let mut buf = Vec::new();
        buf.put_i32(0);
        buf.put_uvarint(u32::MAX);
        assert!(FindCoordinatorResponse::decode(&mut Decoder::new(&buf), 4, "k").is_err());
        for cut in 0..10 {
            let resp = FindCoordinatorResponse {
                throttle_time_ms: 0,
                coordinators: vec![Coordinator { key: "k".into(), node_id: 1, host: "h".into(), port: 1, error_code: 0, error_message: None }],
            };
            let mut buf = Vec::new();
            resp.encode(&mut buf, 4);
            assert!(FindCoordinatorResponse::decode(&mut Decoder::new(&buf[..cut]), 4, "k").is_err());
        }
    }
}
