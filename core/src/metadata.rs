//! Cluster metadata on request: `Producer::metadata()` asks the I/O thread for one Metadata
//! response (every topic, or the ones named) and hands it back decoded.
//!
//! The query does not touch the producer's own metadata (the topics it sends to and their
//! leaders): it is a separate request on any ready connection, answered to the caller alone. It
//! never asks the broker to create a topic; a topic that does not exist comes back with its error.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::protocol::error_codes::KafkaCode;
use crate::protocol::messages::metadata::MetadataResponse;

/// The cluster as one broker described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    /// The controller's broker id; -1 when the broker did not say.
    pub controller_id: i32,
    /// The broker that answered (-1 when it was a bootstrap address not found among `brokers`).
    pub orig_broker_id: i32,
    /// `host:port/id` of the broker that answered.
    pub orig_broker_name: String,
    pub brokers: Vec<BrokerMetadata>,
    pub topics: Vec<TopicMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMetadata {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub name: String,
    /// The topic-level error (`UNKNOWN_TOPIC_OR_PARTITION`, an authorization failure, ...).
    pub error: Option<Error>,
    pub is_internal: bool,
    pub partitions: Vec<PartitionMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub id: i32,
    /// Leader broker id; -1 while there is none.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isrs: Vec<i32>,
    pub error: Option<Error>,
}

fn error_of(code: i16, what: &str) -> Option<Error> {
    let code = KafkaCode(code);
    (!code.is_ok()).then(|| Error::kafka(code, format!("{what}: {}", code.description())))
}

impl ClusterMetadata {
    /// From a decoded response; `node`/`addr` name the connection it came on (a negative node
    /// for a bootstrap address).
    pub(crate) fn from_response(resp: MetadataResponse, node: i32, addr: &str) -> ClusterMetadata {
        let brokers: Vec<BrokerMetadata> =
            resp.brokers.into_iter().map(|b| BrokerMetadata { id: b.node_id, host: b.host, port: b.port }).collect();
        let orig_broker_id = if node >= 0 {
            node
        } else {
            brokers.iter().find(|b| format_addr(&b.host, b.port as u16) == addr).map_or(-1, |b| b.id)
        };
        let topics = resp
            .topics
            .into_iter()
            .filter_map(|t| {
                let name = t.name?;
                let partitions = t
                    .partitions
                    .into_iter()
                    .map(|p| PartitionMetadata {
                        id: p.partition_index,
                        leader: p.leader_id,
                        replicas: p.replica_nodes,
                        isrs: p.isr_nodes,
                        error: error_of(p.error_code, &format!("partition {}-{}", name, p.partition_index)),
                    })
                    .collect();
                Some(TopicMetadata { error: error_of(t.error_code, &format!("topic {name}")), is_internal: t.is_internal, partitions, name })
            })
            .collect();
        ClusterMetadata {
            cluster_id: resp.cluster_id,
            controller_id: resp.controller_id,
            orig_broker_id,
            orig_broker_name: format!("{addr}/{orig_broker_id}"),
            brokers,
            topics,
        }
    }
}

/// A caller waiting for a metadata answer.
pub(crate) struct MetadataQuery {
    /// `None`: every topic.
    pub topics: Option<Vec<String>>,
    pub deadline: Instant,
    pub reply: crossbeam_channel::Sender<Result<ClusterMetadata>>,
}

/// `host:port`, with an IPv6 host in brackets.
pub(crate) fn format_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
