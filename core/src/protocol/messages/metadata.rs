//! Metadata (key 3): brokers, and for each topic its partitions and their leaders.
//!
//! Versions 1..=12: v1 is the first where a null topic list means "all topics" (v0's empty list
//! meant the same, which is why it is left out); v12 is the last before v13 appended a top-level
//! error code (KIP-1102, Kafka 4.0). Kafka 3.9 and 4.x brokers serve all of 1..=12 (checked
//! against a 4.3 broker's ApiVersions, which advertises 0..=13).
//!
//! Fields by version (from `MetadataRequest.json` / `MetadataResponse.json`):
//! - request: v4+ `allow_auto_topic_creation`; v8-10 `include_cluster_authorized_operations`;
//!   v8+ `include_topic_authorized_operations`; v10+ a topic id before each topic name (we send
//!   zeros: lookup by id is not used). Both authorized-operations flags are sent false.
//! - response: v1 rack, controller id, is_internal; v2 cluster id; v3 throttle time; v5 offline
//!   replicas; v7 leader epoch; v8 topic authorized operations (and v8-10 cluster ones, read and
//!   dropped); v10 topic id; v12 nullable topic name. v9+ flexible.

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 1;
pub const MAX_VERSION: i16 = 12;
pub const FIRST_FLEXIBLE_VERSION: i16 = 9;

/// Value of the authorized-operations bitfields when they were not requested.
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRequest {
    /// `None` asks for every topic; `Some(vec![])` for none (brokers only).
    pub topics: Option<Vec<String>>,
    /// Sent from v4 on; before v4 the broker decides (auto-creation allowed).
    pub allow_auto_topic_creation: bool,
}

impl MetadataRequest {
    /// Appends the body after [`super::begin_request`]. Panics on a version outside
    /// `MIN_VERSION..=MAX_VERSION`.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!(
            (MIN_VERSION..=MAX_VERSION).contains(&version),
            "Metadata v{version}"
        );
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_nullable_array_len_flex(self.topics.as_ref().map(Vec::len), flexible);
        for name in self.topics.iter().flatten() {
            if version >= 10 {
                buf.put_uuid(&[0; 16]);
            }
            buf.put_string_flex(name, flexible);
            buf.put_tagged_fields_flex(flexible);
        }
        if version >= 4 {
            buf.put_bool(self.allow_auto_topic_creation);
        }
        if (8..=10).contains(&version) {
            buf.put_bool(false); // include_cluster_authorized_operations
        }
        if version >= 8 {
            buf.put_bool(false); // include_topic_authorized_operations
        }
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers). Topic ids are ignored; a null name (v10+)
    /// is an error since this crate never sends one.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("MetadataRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let topics = match d.nullable_array_len_flex("topics", 1, flexible)? {
            None => None,
            Some(n) => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    if version >= 10 {
                        d.uuid("topics.topic_id")?;
                    }
                    v.push(d.string_flex("topics.name", flexible)?);
                    d.skip_tagged_fields_flex(flexible)?;
                }
                Some(v)
            }
        };
        let allow_auto_topic_creation = if version >= 4 {
            d.bool("allow_auto_topic_creation")?
        } else {
            true
        };
        if (8..=10).contains(&version) {
            d.bool("include_cluster_authorized_operations")?;
        }
        if version >= 8 {
            d.bool("include_topic_authorized_operations")?;
        }
        d.skip_tagged_fields_flex(flexible)?;
        Ok(MetadataRequest {
            topics,
            allow_auto_topic_creation,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataBroker {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataPartition {
    pub error_code: i16,
    pub partition_index: i32,
    pub leader_id: i32,
    /// -1 before v7.
    pub leader_epoch: i32,
    pub replica_nodes: Vec<i32>,
    pub isr_nodes: Vec<i32>,
    /// Empty before v5.
    pub offline_replicas: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataTopic {
    pub error_code: i16,
    /// Never null before v12; from v12 null for a topic asked for by an unknown id.
    pub name: Option<String>,
    /// All zeros before v10 (or for a topic looked up by an unknown name).
    pub topic_id: [u8; 16],
    pub is_internal: bool,
    pub partitions: Vec<MetadataPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    /// 0 before v3.
    pub throttle_time_ms: i32,
    pub brokers: Vec<MetadataBroker>,
    /// None before v2.
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub topics: Vec<MetadataTopic>,
}

impl MetadataResponse {
    /// Reads the body after the response header.
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("MetadataResponse", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let throttle_time_ms = if version >= 3 {
            d.i32("throttle_time_ms")?
        } else {
            0
        };

        // node id + port + shortest host + rack, at least 10 bytes each.
        let n = d.array_len_flex("brokers", 10, flexible)?;
        let mut brokers = Vec::with_capacity(n);
        for _ in 0..n {
            let node_id = d.i32("brokers.node_id")?;
            let host = d.string_flex("brokers.host", flexible)?;
            let port = d.i32("brokers.port")?;
            let rack = d.nullable_string_flex("brokers.rack", flexible)?;
            d.skip_tagged_fields_flex(flexible)?;
            brokers.push(MetadataBroker {
                node_id,
                host,
                port,
                rack,
            });
        }
        let cluster_id = if version >= 2 {
            d.nullable_string_flex("cluster_id", flexible)?
        } else {
            None
        };
        let controller_id = d.i32("controller_id")?;

        let n = d.array_len_flex("topics", 5, flexible)?;
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            let error_code = d.i16("topics.error_code")?;
            let name = if version >= 12 {
                d.nullable_string_flex("topics.name", flexible)?
            } else {
                Some(d.string_flex("topics.name", flexible)?)
            };
            let topic_id = if version >= 10 {
                d.uuid("topics.topic_id")?
            } else {
                [0; 16]
            };
            let is_internal = d.bool("topics.is_internal")?;
            // error + index + leader + two arrays, at least 12 bytes each.
            let np = d.array_len_flex("topics.partitions", 12, flexible)?;
            let mut partitions = Vec::with_capacity(np);
            for _ in 0..np {
                let error_code = d.i16("partitions.error_code")?;
                let partition_index = d.i32("partitions.partition_index")?;
                let leader_id = d.i32("partitions.leader_id")?;
                let leader_epoch = if version >= 7 {
                    d.i32("partitions.leader_epoch")?
                } else {
                    -1
                };
                let replica_nodes = d.i32_array_flex("partitions.replica_nodes", flexible)?;
                let isr_nodes = d.i32_array_flex("partitions.isr_nodes", flexible)?;
                let offline_replicas = if version >= 5 {
                    d.i32_array_flex("partitions.offline_replicas", flexible)?
                } else {
                    Vec::new()
                };
                d.skip_tagged_fields_flex(flexible)?;
                partitions.push(MetadataPartition {
                    error_code,
                    partition_index,
                    leader_id,
                    leader_epoch,
                    replica_nodes,
                    isr_nodes,
                    offline_replicas,
                });
            }
            if version >= 8 {
                d.i32("topics.topic_authorized_operations")?;
            }
            d.skip_tagged_fields_flex(flexible)?;
            topics.push(MetadataTopic {
                error_code,
                name,
                topic_id,
                is_internal,
                partitions,
            });
        }
        if (8..=10).contains(&version) {
            d.i32("cluster_authorized_operations")?;
        }
        d.skip_tagged_fields_flex(flexible)?;
        Ok(MetadataResponse {
            throttle_time_ms,
            brokers,
            cluster_id,
            controller_id,
            topics,
        })
    }

    /// Writes the body (tests and mock brokers). Fields the version lacks are left out; a null
    /// topic name before v12 is written as an empty string.
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!(
            (MIN_VERSION..=MAX_VERSION).contains(&version),
            "Metadata v{version}"
        );
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        if version >= 3 {
            buf.put_i32(self.throttle_time_ms);
        }
        buf.put_array_len_flex(self.brokers.len(), flexible);
        for b in &self.brokers {
            buf.put_i32(b.node_id);
            buf.put_string_flex(&b.host, flexible);
            buf.put_i32(b.port);
            buf.put_nullable_string_flex(b.rack.as_deref(), flexible);
            buf.put_tagged_fields_flex(flexible);
        }
        if version >= 2 {
            buf.put_nullable_string_flex(self.cluster_id.as_deref(), flexible);
        }
        buf.put_i32(self.controller_id);
        buf.put_array_len_flex(self.topics.len(), flexible);
        for t in &self.topics {
            buf.put_i16(t.error_code);
            if version >= 12 {
                buf.put_nullable_string_flex(t.name.as_deref(), flexible);
            } else {
                buf.put_string_flex(t.name.as_deref().unwrap_or(""), flexible);
            }
            if version >= 10 {
                buf.put_uuid(&t.topic_id);
            }
            buf.put_bool(t.is_internal);
            buf.put_array_len_flex(t.partitions.len(), flexible);
            for p in &t.partitions {
                buf.put_i16(p.error_code);
                buf.put_i32(p.partition_index);
                buf.put_i32(p.leader_id);
                if version >= 7 {
                    buf.put_i32(p.leader_epoch);
                }
                for nodes in [&p.replica_nodes, &p.isr_nodes] {
                    buf.put_array_len_flex(nodes.len(), flexible);
                    nodes.iter().for_each(|n| buf.put_i32(*n));
                }
                if version >= 5 {
                    buf.put_array_len_flex(p.offline_replicas.len(), flexible);
                    p.offline_replicas.iter().for_each(|n| buf.put_i32(*n));
                }
                buf.put_tagged_fields_flex(flexible);
            }
            if version >= 8 {
                buf.put_i32(AUTHORIZED_OPERATIONS_OMITTED);
            }
            buf.put_tagged_fields_flex(flexible);
        }
        if (8..=10).contains(&version) {
            buf.put_i32(AUTHORIZED_OPERATIONS_OMITTED);
        }
        buf.put_tagged_fields_flex(flexible);
    }
}
