//! A blocking look at one broker, for diagnosis tools (`rafka doctor`): connect the way the
//! producer does, say how far the set-up got and what it found, then time small requests.
//!
//! A [`BrokerProbe`] is one connection of the engine's own kind (`io/connection.rs`: the same
//! socket options, TLS, ApiVersions negotiation and SASL exchange, and the same recognisers of
//! misconfigurations in `io/diagnose.rs`), driven by a private mio `Poll` on the calling thread
//! instead of the I/O thread. Nothing here is on the produce path; a producer never creates one.
//!
//! Every call takes a timeout and returns by it: a broker that accepts the TCP connection and
//! then says nothing (paused, overloaded) is a [`ProbeError`] naming the stage it stopped at.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::config::ProducerConfig;
use crate::error::{Error, LocalCode};
use crate::io::connection::{ConnError, ConnState, Connection, InFlight, RequestKind, Response, SaslOutcome, SocketOptions};
use crate::io::diagnose::{self, Diagnosis};
use crate::metadata::ClusterMetadata;
use crate::protocol::error_codes::KafkaCode;
use crate::protocol::messages::{self, api_versions::ApiVersionsResponse, describe_configs as dc};
use crate::protocol::primitives::Decoder;

const TOKEN: Token = Token(1);

/// How far a connection's set-up got when it failed, in the order the steps happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Looking the host name up.
    Resolve,
    /// The TCP connection.
    Connect,
    /// The TLS handshake (SSL, SASL_SSL).
    Tls,
    /// The first Kafka request: which API versions the broker speaks.
    ApiVersions,
    /// SaslHandshake and SaslAuthenticate.
    Sasl,
    /// A request after the set-up.
    Request,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Resolve => "DNS",
            Stage::Connect => "TCP connect",
            Stage::Tls => "TLS handshake",
            Stage::ApiVersions => "ApiVersions",
            Stage::Sasl => "SASL authentication",
            Stage::Request => "request",
        }
    }
}

/// A probe that failed: where, and the engine's error (its message is the diagnosis when the
/// failure was recognised, as a producer would report it).
#[derive(Clone, Debug)]
pub struct ProbeError {
    pub stage: Stage,
    pub error: Error,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.stage.name(), self.error.message())
    }
}

/// The broker's certificate, as read from the TLS handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificate {
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    /// `not_after` in seconds since the epoch, when it could be read.
    pub not_after_unix: Option<i64>,
}

/// What the TLS handshake settled on.
#[derive(Clone, Debug)]
pub struct TlsFacts {
    /// `TLSv1_3`, ...
    pub protocol: String,
    pub cipher_suite: String,
    pub certificate: Option<PeerCertificate>,
}

/// What the set-up of a probe's connection found, and how long each step took.
#[derive(Clone, Debug)]
pub struct Handshake {
    pub addr: String,
    /// What the host name resolved to.
    pub resolved: Vec<SocketAddr>,
    /// The address the connection went to: the first of `resolved` that
    /// `broker.address.family` allows and that accepted the TCP connection.
    pub connected_to: SocketAddr,
    /// From the start of the TCP connect until it completed.
    pub tcp_connect: Duration,
    /// SSL / SASL_SSL.
    pub tls: Option<TlsFacts>,
    /// SASL_*: the mechanism that authenticated.
    pub sasl_mechanism: Option<&'static str>,
    /// From the start of the TCP connect until requests could be sent.
    pub ready_after: Duration,
    /// The broker's answer to ApiVersions: every API it speaks, with its version range.
    pub api_versions: ApiVersionsResponse,
    /// The APIs the producer uses and the version it negotiated with this broker (None: the
    /// broker speaks no version rafka does).
    pub negotiated: Vec<(&'static str, Option<i16>)>,
}

/// One connection to one broker, driven on the calling thread (see the module doc).
pub struct BrokerProbe {
    poll: Poll,
    events: Events,
    conn: Connection,
    client_id: String,
    handshake: Handshake,
}

impl BrokerProbe {
    /// Connects to `addr` with `config`'s security and socket settings and completes the set-up
    /// (TLS, ApiVersions, SASL) within `timeout`. `node_id` is the broker's id from metadata, or
    /// negative for a bootstrap address; `bootstrap_answered` names the bootstrap address whose
    /// metadata advertised `addr`, so that a failure says so.
    pub fn connect(config: &ProducerConfig, addr: &str, node_id: i32, bootstrap_answered: Option<&str>, timeout: Duration) -> Result<BrokerProbe, ProbeError> {
        let deadline = Instant::now() + timeout;
        let resolved: Vec<SocketAddr> = match addr.to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => return Err(ProbeError { stage: Stage::Resolve, error: diagnose::does_not_resolve(addr, node_id, &e).to_error() }),
        };
        let family = config.broker_address_family;
        let allowed: Vec<SocketAddr> = resolved.iter().copied().filter(|a| family.allows(a)).collect();
        if allowed.is_empty() {
            return Err(ProbeError { stage: Stage::Resolve, error: diagnose::no_address_of_family(addr, node_id, family, &resolved).to_error() });
        }
        // Each address in turn while the TCP connect fails, as the producer does
        // (client.dns.lookup=use_all_dns_ips); any later failure is the broker's answer.
        let mut last = None;
        for sa in allowed {
            match BrokerProbe::connect_to(config, addr, sa, node_id, bootstrap_answered, deadline, &resolved) {
                Err(e) if e.stage == Stage::Connect && Instant::now() < deadline => last = Some(e),
                other => return other,
            }
        }
        Err(last.expect("at least one address was tried"))
    }

    /// [`BrokerProbe::connect`] to one resolved address.
    fn connect_to(config: &ProducerConfig, addr: &str, sa: SocketAddr, node_id: i32, bootstrap_answered: Option<&str>, deadline: Instant, resolved: &[SocketAddr]) -> Result<BrokerProbe, ProbeError> {
        let poll = Poll::new().map_err(|e| request_error(format!("cannot create a poll: {e}")))?;
        let (sasl, tls) = (config.security.sasl.as_ref(), config.security.tls.as_ref());
        let started = Instant::now();
        let conn = Connection::connect(node_id, addr, sa, TOKEN, poll.registry(), &SocketOptions::of(config), sasl, tls, bootstrap_answered)
            .map_err(|(e, d)| ProbeError { stage: Stage::Connect, error: failure(e, d) })?;
        let handshake = Handshake {
            addr: addr.to_string(),
            resolved: resolved.to_vec(),
            connected_to: sa,
            tcp_connect: Duration::ZERO,
            tls: None,
            sasl_mechanism: sasl.map(|s| s.mechanism.name()),
            ready_after: Duration::ZERO,
            api_versions: ApiVersionsResponse { error_code: 0, api_keys: Vec::new(), throttle_time_ms: 0, finalized_features: Vec::new() },
            negotiated: Vec::new(),
        };
        let mut p = BrokerProbe { poll, events: Events::with_capacity(16), conn, client_id: config.client_id.clone(), handshake };
        let mut tcp_done = false;
        while p.conn.state != ConnState::Ready {
            let responses = p.turn(deadline)?;
            if !tcp_done && p.conn.state != ConnState::Connecting {
                tcp_done = true;
                p.handshake.tcp_connect = started.elapsed();
            }
            for r in responses {
                p.on_setup_response(r)?;
            }
        }
        p.handshake.ready_after = started.elapsed();
        p.handshake.tls = p.conn.tls_session().map(|t| TlsFacts {
            protocol: t.protocol_version().map_or_else(|| "?".into(), |v| format!("{v:?}")),
            cipher_suite: t.negotiated_cipher_suite().map_or_else(|| "?".into(), |s| format!("{:?}", s.suite())),
            certificate: t.peer_certificates().and_then(|c| c.first()).and_then(|c| diagnose::cert_info(c)).map(|c| PeerCertificate {
                subject: c.subject,
                not_before: c.not_before,
                not_after: c.not_after,
                not_after_unix: c.not_after_unix,
            }),
        });
        let v = p.conn.versions;
        p.handshake.negotiated = vec![
            ("Produce", v.produce),
            ("Metadata", v.metadata),
            ("InitProducerId", v.init_producer_id),
            ("FindCoordinator", v.txn.find_coordinator),
            ("AddPartitionsToTxn", v.txn.add_partitions),
            ("EndTxn", v.txn.end_txn),
        ];
        Ok(p)
    }

    /// What the set-up found.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// One ApiVersions request and its round-trip time: the cheapest request a broker answers,
    /// so its time is the network plus the broker's request queue.
    pub fn round_trip(&mut self, timeout: Duration) -> Result<Duration, ProbeError> {
        let v = self.handshake.api_versions.negotiate(messages::API_KEY_API_VERSIONS, (messages::api_versions::MIN_VERSION, messages::api_versions::MAX_VERSION)).unwrap_or(0);
        let req = messages::api_versions::ApiVersionsRequest { client_software_name: "rafka".into(), client_software_version: env!("CARGO_PKG_VERSION").into() };
        let (_, rtt) = self.request(messages::API_KEY_API_VERSIONS, v, |buf, v| req.encode(buf, v), timeout)?;
        Ok(rtt)
    }

    /// A Metadata request (every topic, or those named; never creating one) and its round trip.
    pub fn metadata(&mut self, topics: Option<&[String]>, timeout: Duration) -> Result<(ClusterMetadata, Duration), ProbeError> {
        let v = self.conn.versions.metadata.expect("ready connections have a Metadata version");
        let req = messages::metadata::MetadataRequest { topics: topics.map(<[String]>::to_vec), allow_auto_topic_creation: false };
        let (body, rtt) = self.request(messages::API_KEY_METADATA, v, |buf, v| req.encode(buf, v), timeout)?;
        let resp = messages::metadata::MetadataResponse::decode(&mut Decoder::new(&body), v)
            .map_err(|e| request_error(format!("bad Metadata response from {}: {e}", self.handshake.addr)))?;
        Ok((ClusterMetadata::from_response(resp, self.conn.node_id, &self.handshake.addr), rtt))
    }

    /// A topic's configuration values for `keys` (DescribeConfigs): the topic's own value, or
    /// the broker default it inherits. None for a value the broker hides (sensitive).
    pub fn topic_config(&mut self, topic: &str, keys: &[&str], timeout: Duration) -> Result<Vec<(String, Option<String>)>, ProbeError> {
        let Some(v) = self.handshake.api_versions.negotiate(messages::API_KEY_DESCRIBE_CONFIGS, (dc::MIN_VERSION, dc::MAX_VERSION)) else {
            return Err(request_error(format!("{} does not offer DescribeConfigs v{}..v{}", self.handshake.addr, dc::MIN_VERSION, dc::MAX_VERSION)));
        };
        let req = dc::DescribeConfigsRequest {
            resources: vec![dc::DescribeConfigsResource {
                resource_type: dc::RESOURCE_TOPIC,
                resource_name: topic.to_string(),
                configuration_keys: Some(keys.iter().map(|k| k.to_string()).collect()),
            }],
            include_synonyms: false,
            include_documentation: false,
        };
        let (body, _) = self.request(messages::API_KEY_DESCRIBE_CONFIGS, v, |buf, v| req.encode(buf, v), timeout)?;
        let resp = dc::DescribeConfigsResponse::decode(&mut Decoder::new(&body), v)
            .map_err(|e| request_error(format!("bad DescribeConfigs response from {}: {e}", self.handshake.addr)))?;
        let Some(r) = resp.results.into_iter().next() else {
            return Err(request_error(format!("{} answered DescribeConfigs with no result", self.handshake.addr)));
        };
        if r.error_code != 0 {
            let code = KafkaCode(r.error_code);
            let why = r.error_message.unwrap_or_else(|| code.description().to_string());
            return Err(ProbeError { stage: Stage::Request, error: Error::kafka(code, format!("DescribeConfigs of topic {topic}: {why}")) });
        }
        Ok(r.configs.into_iter().map(|c| (c.name, c.value)).collect())
    }

    /// Sends one request and waits for its answer: the body and the round-trip time.
    fn request(&mut self, api_key: i16, version: i16, body: impl FnOnce(&mut Vec<u8>, i16), timeout: Duration) -> Result<(Vec<u8>, Duration), ProbeError> {
        let deadline = Instant::now() + timeout;
        let sent = Instant::now();
        self.conn.send_own(&self.client_id, api_key, version, RequestKind::Probe, body);
        if let Err(e) = self.conn.flush() {
            return Err(self.fail(e));
        }
        loop {
            for r in self.turn(deadline)? {
                if r.request.api_key == api_key {
                    return Ok((r.body, sent.elapsed()));
                }
            }
        }
    }

    /// Waits for socket events until `deadline` and returns the responses they completed.
    fn turn(&mut self, deadline: Instant) -> Result<Vec<Response>, ProbeError> {
        let now = Instant::now();
        if now >= deadline {
            return Err(self.timed_out());
        }
        if let Err(e) = self.poll.poll(&mut self.events, Some(deadline - now)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(request_error(format!("poll failed: {e}")));
            }
        }
        let mut responses = Vec::new();
        if self.events.iter().any(|e| e.token() == TOKEN) {
            if let Err(e) = self.conn.on_ready(&self.client_id, &mut responses) {
                // What the broker said before it hung up (a SASL refusal, say) tells more than
                // the hang-up.
                for r in responses {
                    self.on_setup_response(r)?;
                }
                return Err(self.fail(e));
            }
        }
        Ok(responses)
    }

    /// The ApiVersions and SASL answers of the set-up.
    fn on_setup_response(&mut self, r: Response) -> Result<(), ProbeError> {
        let Response { request: InFlight { version, kind, .. }, body } = r;
        let outcome = match kind {
            RequestKind::ApiVersions => {
                if let Ok(resp) = ApiVersionsResponse::decode(&mut Decoder::new(&body), version) {
                    self.handshake.api_versions = resp;
                }
                return self.conn.on_api_versions(version, &body, &self.client_id).map(|_| ()).map_err(|e| self.fail(e));
            }
            RequestKind::SaslHandshake => self.conn.on_sasl_handshake(version, &body, &self.client_id),
            RequestKind::SaslAuthenticate => self.conn.on_sasl_authenticate(version, &body, &self.client_id),
            _ => return Ok(()),
        };
        match outcome {
            Ok(SaslOutcome::Continue | SaslOutcome::Done) => Ok(()),
            Ok(SaslOutcome::Failed(d)) => Err(ProbeError { stage: Stage::Sasl, error: d.to_error() }),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The stage the connection is in (for a failure or a timeout now).
    fn stage(&self) -> Stage {
        match self.conn.state {
            ConnState::Connecting => Stage::Connect,
            ConnState::Negotiating if self.conn.tls_session().is_some_and(|t| t.is_handshaking()) => Stage::Tls,
            ConnState::Negotiating => Stage::ApiVersions,
            ConnState::Authenticating => Stage::Sasl,
            ConnState::Ready => Stage::Request,
        }
    }

    fn fail(&mut self, e: ConnError) -> ProbeError {
        ProbeError { stage: self.stage(), error: failure(e, self.conn.diagnosis.take()) }
    }

    fn timed_out(&self) -> ProbeError {
        let stage = self.stage();
        let addr = &self.handshake.addr;
        let m = match stage {
            Stage::Connect => format!("{addr} did not complete the TCP connection in time: a firewall may drop the packets, or the host is down"),
            _ => format!(
                "{addr} accepted the connection but did not answer during {} in time: the broker may be paused or overloaded (long GC pauses, \
                 a full request queue), or something on the way holds the bytes",
                stage.name()
            ),
        };
        ProbeError { stage, error: Error::local(LocalCode::TimedOut, m) }
    }
}

/// The error of a failed connection: its diagnosis when one was recognised.
fn failure(e: ConnError, d: Option<Diagnosis>) -> Error {
    match d {
        Some(d) => d.to_error(),
        None => Error::local(LocalCode::Transport, e.0),
    }
}

fn request_error(m: String) -> ProbeError {
    ProbeError { stage: Stage::Request, error: Error::local(LocalCode::Transport, m) }
}
