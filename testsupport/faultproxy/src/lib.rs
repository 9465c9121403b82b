//! A Kafka-aware fault proxy for rafka's tests: a TCP proxy in front of each broker that reads
//! the Kafka frames going through it and, per broker and per API, adds latency, black-holes a
//! connection, drops a response the broker already handled (a lost acknowledgement), cuts a
//! connection mid-frame, throttles bandwidth, garbles or truncates responses, refuses new
//! connections, or answers Produce requests with an error code in the broker's place (nothing
//! stored, as with a failed log directory). Rules are switched while traffic flows, from Rust ([`FaultProxy::add`],
//! [`FaultProxy::remove`]) or from the command line through the `rafka-faultproxy` binary's
//! control socket.
//!
//! ```no_run
//! use rafka_faultproxy::{FaultProxy, Fault, Rule};
//! let proxy = FaultProxy::start("127.0.0.1:9092,127.0.0.1:9093").unwrap();
//! // give the producer proxy.bootstrap() as bootstrap.servers, then:
//! let rule = proxy.add(Rule::new(Fault::BlackHole).broker(1));
//! // ... the producer sees broker 1 go silent ...
//! proxy.remove(rule);
//! ```
//!
//! # How clients stay on the proxy
//!
//! A producer bootstraps from one address and then connects to each broker at the host and port
//! the cluster's metadata advertises. The proxy rewrites those addresses in the responses that
//! carry them: the broker list of every Metadata response (all versions; only the brokers
//! array is re-encoded, everything after it is copied byte for byte, so fields and tagged
//! fields the proxy does not know survive) and the `NodeEndpoints` of Produce responses v10+
//! (KIP-951 leader hints). Each broker address seen there gets a listener of its own on an
//! ephemeral port, and its node id is recorded on it, so rules name brokers by node id.
//!
//! The other way, starting brokers with advertised listeners pointing at the proxy, was not
//! taken: the port of each proxy listener would have to be fixed before the broker starts,
//! a cluster could not be put behind a proxy (or taken out) without restarting it, and in a
//! KRaft cluster the advertised listener is also what the other brokers and tools use, so
//! replication and the test's own consumer would suffer the faults meant for the producer.
//! Rewriting keeps the cluster as it is and affects only the clients that bootstrap through
//! the proxy.
//!
//! Limits: plaintext listeners only (TLS makes frames opaque; SASL over plaintext works as its
//! frames are ordinary Kafka frames). FindCoordinator responses are not rewritten yet
//! (transactional and consumer-group clients would reach the coordinator directly). Faults act
//! at frame boundaries: a rule applies from the next frame of each connection on.

mod proxy;
mod rule;
mod wire;

pub use proxy::{BrokerStats, Builder, FaultProxy, RuleId};
pub use rule::{api_key, AfterDrop, Direction, Fault, Refusal, Rule};

/// API keys the tests use most.
pub const API_PRODUCE: i16 = 0;
pub const API_METADATA: i16 = 3;
pub const API_API_VERSIONS: i16 = 18;
pub const API_INIT_PRODUCER_ID: i16 = 22;
