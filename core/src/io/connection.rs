//! One broker connection, owned by the I/O thread: a non-blocking socket, its write buffer of
//! encoded requests, its read buffer of response frames, and the requests awaiting an answer, in
//! the order the broker will answer them.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::config::{SaslConfig, TlsClient};
use crate::io::batch::ProducerBatch;
use crate::io::diagnose::{self, Diagnosis};
use crate::io::sasl::SaslSession;
use crate::io::window::Window;
use crate::protocol::messages::{self, api_versions::ApiVersionsResponse};
use crate::protocol::primitives::Decoder;

/// Request counts are kept per API key below this (every request rafka sends: the largest key
/// is SaslAuthenticate's 36).
pub(crate) const API_KEY_SLOTS: usize = 37;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// TCP connect in progress.
    Connecting,
    /// Connected; our ApiVersions request is out.
    Negotiating,
    /// Versions known; SaslHandshake / SaslAuthenticate exchange in progress.
    Authenticating,
    /// Versions known (and authenticated); requests may be sent.
    Ready,
}

/// What a request was for, so that its response can be handled.
pub(crate) enum RequestKind {
    ApiVersions,
    SaslHandshake,
    SaslAuthenticate,
    Metadata,
    /// An application's `Producer::metadata()` query, by its id in `IoThread::queries_inflight`.
    MetadataQuery(u64),
    InitProducerId,
    /// A request of the transaction manager (`io/transaction.rs`).
    Txn(TxnRequest),
    Produce(Vec<ProducerBatch>),
    /// A request of `crate::probe` (diagnosis tools), answered to the probe alone; the I/O
    /// thread never sends one.
    Probe,
}

pub(crate) struct InFlight {
    pub correlation_id: i32,
    pub api_key: i16,
    pub version: i16,
    pub sent_at: Instant,
    pub kind: RequestKind,
}

/// API versions this connection will use: the highest both sides support.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Versions {
    pub produce: Option<i16>,
    pub metadata: Option<i16>,
    pub init_producer_id: Option<i16>,
    /// Transactions (`io/transaction.rs`): the versions of its APIs, and the broker's finalized
    /// `transaction.version` feature level (0 when not reported).
    pub txn: TxnVersions,
}

/// What a transactional request was, so its answer (or its loss) can be handled.
pub(crate) enum TxnRequest {
    FindCoordinator { key_type: i8, key: String },
    InitProducerId,
    AddPartitions(Vec<usize>),
    AddOffsets,
    TxnOffsetCommit,
    EndTxn,
}

/// The transactional APIs' versions on one connection.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TxnVersions {
    pub find_coordinator: Option<i16>,
    pub add_partitions: Option<i16>,
    pub add_offsets: Option<i16>,
    pub end_txn: Option<i16>,
    pub txn_offset_commit: Option<i16>,
    pub transaction_version: i16,
}

pub(crate) struct Connection {
    /// The broker's node id; negative for a bootstrap address.
    pub node_id: i32,
    pub addr: String,
    pub state: ConnState,
    stream: TcpStream,
    /// SSL / SASL_SSL: the TLS session over `stream`. `wbuf`/`rbuf` then hold plaintext; rustls
    /// holds the ciphertext until the socket takes it.
    tls: Option<Box<rustls::ClientConnection>>,
    /// A TLS handshake failure (untrusted or misnamed certificate, refused client certificate):
    /// an authentication error rather than a network one.
    pub tls_failed: bool,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Bytes ever handed to `wbuf` / ever written to the socket; acks=0 produce requests are
    /// complete once `written` passes their end.
    pub enqueued_bytes: u64,
    pub written_bytes: u64,
    /// Received bytes not yet parsed are `rbuf[rpos..rend]`. `rbuf` is zero-filled once as it
    /// grows and reused: the bytes past `rend` are spare room, not data.
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    pub inflight: VecDeque<InFlight>,
    /// acks=0 produce requests: (end offset in the byte stream, batches).
    pub unacked: VecDeque<(u64, Vec<ProducerBatch>)>,
    pub versions: Versions,
    pub last_activity: Instant,
    pub connect_started: Instant,
    /// How long the set-up (TCP, TLS, SASL, ApiVersions) may take: `socket.connection.setup.timeout.ms`,
    /// grown per failed attempt up to `.max.ms` (set by `Connections`).
    pub setup_timeout: std::time::Duration,
    api_versions_version: i16,
    /// SASL_*: the credentials and the exchange in progress; None for PLAINTEXT.
    sasl: Option<(SaslConfig, SaslSession)>,
    sasl_authenticate_version: i16,
    /// Correlation ids of this connection's own requests (the SASL exchange).
    next_own_correlation: i32,
    /// Why the connection failed, when `diagnose` recognised it; read by `Connections::remove`.
    pub diagnosis: Option<Diagnosis>,
    /// Bytes ever read from the socket (TLS records included), and responses parsed: what the
    /// recognisers ask of a connection that was closed on us.
    pub received_bytes: u64,
    pub responses: u64,
    /// Requests ever put in the write buffer (statistics), in all and by API key.
    pub requests: u64,
    pub requests_by_api: [u64; API_KEY_SLOTS],
    /// A bootstrap address that answered, when this connection goes to a broker metadata named.
    bootstrap_answered: Option<String>,
    /// The broker answered a request beyond the set-up (ApiVersions, SASL): only then does the
    /// connection count as working (a SASL listener answers ApiVersions, then hangs up on a
    /// client without SASL).
    pub confirmed: bool,
    /// When `state` last changed (statistics' `stateage`).
    pub state_since: Instant,
    /// Statistics on only: the requests in the write buffer not yet wholly written, and how long
    /// each waited there (`outbuf_cnt`, `outbuf_latency`).
    pub outbuf: Option<Box<Outbuf>>,
}

/// A connection's output queue, as the statistics see it (`Connection::outbuf`).
#[derive(Default)]
pub(crate) struct Outbuf {
    /// Per request in the write buffer, oldest first: the end of its bytes in the connection's
    /// byte stream (`enqueued_bytes` after it), when it was queued, whether a response is
    /// awaited for it (all but acks=0 Produce requests), and the records it carries.
    pending: VecDeque<(u64, Instant, bool, u64)>,
    /// Microseconds from a request being queued to its last byte being written to the socket
    /// (with TLS: handed to the TLS session), for the requests written since the last document.
    pub latency: Window,
}

impl Outbuf {
    /// Requests queued and not wholly written yet.
    pub fn requests(&self) -> usize {
        self.pending.len()
    }

    /// Records in those requests.
    pub fn records(&self) -> u64 {
        self.pending.iter().map(|p| p.3).sum()
    }

    /// Those of them whose response is awaited, and their records.
    pub fn awaiting_response(&self) -> (usize, u64) {
        self.pending.iter().filter(|p| p.2).fold((0, 0), |(n, r), p| (n + 1, r + p.3))
    }

    /// `written` bytes of the stream are on the socket: the requests they complete leave.
    fn written(&mut self, written: u64) {
        if self.pending.front().is_none_or(|p| p.0 > written) {
            return;
        }
        let now = Instant::now();
        while let Some(&(end, queued, _, _)) = self.pending.front() {
            if end > written {
                break;
            }
            self.latency.record(now.saturating_duration_since(queued).as_micros() as u64);
            self.pending.pop_front();
        }
    }
}

/// How a step of the SASL exchange went.
pub(crate) enum SaslOutcome {
    /// Another SaslAuthenticate is out.
    Continue,
    /// Authenticated: the connection is ready.
    Done,
    /// The broker refused us (or we refused the broker): an authentication error, not a
    /// network one. The message holds no credential.
    Failed(Diagnosis),
}

/// A complete response frame: the request it answers and its body after the header.
pub(crate) struct Response {
    pub request: InFlight,
    pub body: Vec<u8>,
}

/// Why a connection is unusable.
#[derive(Debug)]
pub(crate) struct ConnError(pub String);

const READ_CHUNK: usize = 64 * 1024;

impl Connection {
    #[allow(clippy::too_many_arguments)]
    pub fn connect(
        node_id: i32,
        addr: &str,
        sa: SocketAddr,
        token: Token,
        registry: &Registry,
        sock: &SocketOptions,
        sasl: Option<&SaslConfig>,
        tls: Option<&TlsClient>,
        bootstrap_answered: Option<&str>,
    ) -> Result<Connection, (ConnError, Option<Diagnosis>)> {
        let plain = |e: String| (ConnError(e), None);
        let tls = match tls {
            Some(t) => {
                let name = crate::config::tls::server_name(addr).map_err(plain)?;
                let c = rustls::ClientConnection::new(t.0.clone(), name).map_err(|e| plain(format!("TLS setup for {addr}: {e}")))?;
                Some(Box::new(c))
            }
            None => None,
        };
        let mut stream = TcpStream::connect(sa)
            .map_err(|e| (ConnError(format!("connect to {addr}: {e}")), diagnose::connect_failed(addr, node_id, &e, bootstrap_answered)))?;
        set_socket_options(&stream, sock);
        registry
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| plain(format!("register {addr}: {e}")))?;
        let now = Instant::now();
        Ok(Connection {
            node_id,
            addr: addr.to_string(),
            state: ConnState::Connecting,
            stream,
            tls,
            tls_failed: false,
            wbuf: Vec::with_capacity(READ_CHUNK),
            wpos: 0,
            enqueued_bytes: 0,
            written_bytes: 0,
            rbuf: Vec::new(),
            rpos: 0,
            rend: 0,
            inflight: VecDeque::new(),
            unacked: VecDeque::new(),
            versions: Versions::default(),
            last_activity: now,
            connect_started: now,
            setup_timeout: std::time::Duration::from_secs(10),
            api_versions_version: messages::api_versions::MAX_VERSION,
            sasl: sasl.map(|c| (c.clone(), SaslSession::new(c.mechanism))),
            sasl_authenticate_version: 0,
            next_own_correlation: 1,
            diagnosis: None,
            received_bytes: 0,
            requests: 0,
            requests_by_api: [0; API_KEY_SLOTS],
            responses: 0,
            bootstrap_answered: bootstrap_answered.map(str::to_string),
            confirmed: false,
            state_since: now,
            outbuf: None,
        })
    }

    pub fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
    }

    /// The buffer to encode the next request into (appended after what is pending).
    pub fn write_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.wbuf
    }

    /// Records that the bytes just appended to the write buffer form a request awaiting
    /// `inflight` (None: an acks=0 Produce request, the one request without a response).
    pub fn push_request(&mut self, inflight: Option<InFlight>, appended: usize) {
        self.enqueued_bytes += appended as u64;
        if let Some(o) = self.outbuf.as_deref_mut() {
            o.pending.push_back((self.enqueued_bytes, Instant::now(), inflight.is_some(), 0));
        }
        self.requests += 1;
        let api_key = inflight.as_ref().map_or(messages::API_KEY_PRODUCE, |f| f.api_key);
        if let Some(c) = self.requests_by_api.get_mut(api_key as usize) {
            *c += 1;
        }
        if let Some(f) = inflight {
            self.inflight.push_back(f);
        }
    }

    /// SSL / SASL_SSL: the TLS session (handshake state, protocol, the broker's certificates).
    pub fn tls_session(&self) -> Option<&rustls::ClientConnection> {
        self.tls.as_deref()
    }

    pub fn has_pending_writes(&self) -> bool {
        self.wpos < self.wbuf.len() || self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    /// Called when the socket reports writable while connecting: did the connect succeed?
    fn finish_connect(&mut self) -> Result<bool, ConnError> {
        if let Ok(Some(e)) | Err(e) = self.stream.take_error() {
            self.diagnosis = diagnose::connect_failed(&self.addr, self.node_id, &e, self.bootstrap_answered.as_deref());
            return Err(ConnError(format!("connect to {}: {e}", self.addr)));
        }
        match self.stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(ConnError(format!("connect to {}: {e}", self.addr))),
        }
    }

    /// Handles a readiness event. Returns the responses that arrived; an error means the
    /// connection is dead and must be closed (its in-flight requests failed or retried).
    pub fn on_ready(&mut self, client_id: &str, responses: &mut Vec<Response>) -> Result<(), ConnError> {
        if self.state == ConnState::Connecting {
            if !self.finish_connect()? {
                return Ok(());
            }
            self.set_state(ConnState::Negotiating);
            self.send_api_versions(client_id);
        }
        self.flush()?;
        self.read(responses)?;
        if self.tls.is_some() {
            // Reading may have moved the handshake on (or freed room for plaintext).
            self.flush()?;
        }
        Ok(())
    }

    fn send_api_versions(&mut self, client_id: &str) {
        let v = self.api_versions_version;
        let start = self.wbuf.len();
        let flexible = v >= messages::api_versions::FIRST_FLEXIBLE_VERSION;
        let frame = messages::begin_request(&mut self.wbuf, messages::API_KEY_API_VERSIONS, v, 0, client_id, flexible);
        messages::api_versions::ApiVersionsRequest {
            client_software_name: "rafka".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        }
        .encode(&mut self.wbuf, v);
        messages::finish_request(&mut self.wbuf, frame);
        let n = self.wbuf.len() - start;
        self.push_request(
            Some(InFlight { correlation_id: 0, api_key: messages::API_KEY_API_VERSIONS, version: v, sent_at: Instant::now(), kind: RequestKind::ApiVersions }),
            n,
        );
    }

    /// Applies the broker's ApiVersions answer. Returns Ok(true) when the connection is ready,
    /// Ok(false) when the request was re-sent at version 0 (the broker did not know our version).
    pub fn on_api_versions(&mut self, version: i16, body: &[u8], client_id: &str) -> Result<bool, ConnError> {
        let mut d = Decoder::new(body);
        let resp = ApiVersionsResponse::decode(&mut d, version).map_err(|e| ConnError(format!("bad ApiVersions response from {}: {e}", self.addr)))?;
        if resp.error_code == 35 && version != 0 {
            // UNSUPPORTED_VERSION: the broker answered in v0 with its range; ask again in v0.
            self.api_versions_version = 0;
            self.send_api_versions(client_id);
            self.flush()?;
            return Ok(false);
        }
        if resp.error_code != 0 {
            return Err(ConnError(format!("ApiVersions to {} failed with error code {}", self.addr, resp.error_code)));
        }
        let pick = |key: i16, lo: i16, hi: i16| -> Option<i16> {
            let (blo, bhi) = resp.version_range(key)?;
            let v = hi.min(bhi);
            (v >= lo.max(blo)).then_some(v)
        };
        use messages::{init_producer_id as ipi, metadata as md, produce as pr};
        self.versions = Versions {
            produce: pick(messages::API_KEY_PRODUCE, pr::MIN_VERSION, pr::MAX_VERSION),
            metadata: pick(messages::API_KEY_METADATA, md::MIN_VERSION, md::MAX_VERSION),
            init_producer_id: pick(messages::API_KEY_INIT_PRODUCER_ID, ipi::MIN_VERSION, ipi::MAX_VERSION),
            txn: TxnVersions {
                find_coordinator: pick(messages::API_KEY_FIND_COORDINATOR, messages::find_coordinator::MIN_VERSION, messages::find_coordinator::MAX_VERSION),
                add_partitions: pick(messages::API_KEY_ADD_PARTITIONS_TO_TXN, messages::add_partitions_to_txn::MIN_VERSION, messages::add_partitions_to_txn::MAX_VERSION),
                add_offsets: pick(messages::API_KEY_ADD_OFFSETS_TO_TXN, messages::add_offsets_to_txn::MIN_VERSION, messages::add_offsets_to_txn::MAX_VERSION),
                end_txn: pick(messages::API_KEY_END_TXN, messages::end_txn::MIN_VERSION, messages::end_txn::MAX_VERSION),
                txn_offset_commit: pick(messages::API_KEY_TXN_OFFSET_COMMIT, messages::txn_offset_commit::MIN_VERSION, messages::txn_offset_commit::MAX_VERSION),
                transaction_version: resp.finalized_level("transaction.version").unwrap_or(0),
            },
        };
        if self.versions.metadata.is_none() || self.versions.produce.is_none() {
            self.diagnosis = Some(diagnose::broker_too_old(
                &self.addr,
                resp.version_range(messages::API_KEY_PRODUCE),
                resp.version_range(messages::API_KEY_METADATA),
                (pr::MIN_VERSION, pr::MAX_VERSION),
                (md::MIN_VERSION, md::MAX_VERSION),
            ));
            return Err(ConnError(format!(
                "broker {} supports no Produce ({}..{}) or Metadata ({}..{}) version rafka speaks",
                self.addr,
                pr::MIN_VERSION,
                pr::MAX_VERSION,
                md::MIN_VERSION,
                md::MAX_VERSION
            )));
        }
        if let Some((_, session)) = &self.sasl {
            let (Some(_), Some(auth)) = (
                pick(messages::API_KEY_SASL_HANDSHAKE, 1, messages::sasl_handshake::MAX_VERSION),
                pick(messages::API_KEY_SASL_AUTHENTICATE, messages::sasl_authenticate::MIN_VERSION, messages::sasl_authenticate::MAX_VERSION),
            ) else {
                return Err(ConnError(format!("broker {} does not offer SaslHandshake v1 and SaslAuthenticate (is this a SASL listener?)", self.addr)));
            };
            self.sasl_authenticate_version = auth;
            let mechanism = session.mechanism_name().to_string();
            self.set_state(ConnState::Authenticating);
            let body = |buf: &mut Vec<u8>, v| messages::sasl_handshake::SaslHandshakeRequest { mechanism }.encode(buf, v);
            self.send_own(client_id, messages::API_KEY_SASL_HANDSHAKE, 1, RequestKind::SaslHandshake, body);
            self.flush()?;
            return Ok(false);
        }
        self.set_state(ConnState::Ready);
        Ok(true)
    }

    /// Encodes one of the connection's own requests (the SASL exchange, or a probe's) and queues
    /// it; the request header is the flexible one when `messages::is_flexible` says so.
    pub(crate) fn send_own(&mut self, client_id: &str, api_key: i16, version: i16, kind: RequestKind, body: impl FnOnce(&mut Vec<u8>, i16)) {
        let corr = self.next_own_correlation;
        self.next_own_correlation += 1;
        let start = self.wbuf.len();
        let frame = messages::begin_request(&mut self.wbuf, api_key, version, corr, client_id, messages::is_flexible(api_key, version).unwrap_or(false));
        body(&mut self.wbuf, version);
        messages::finish_request(&mut self.wbuf, frame);
        let n = self.wbuf.len() - start;
        self.push_request(Some(InFlight { correlation_id: corr, api_key, version, sent_at: Instant::now(), kind }), n);
    }

    /// Sends the next SASL message given the broker's last bytes; Done when there is none.
    fn sasl_step(&mut self, client_id: &str, server: &[u8]) -> Result<SaslOutcome, ConnError> {
        let Some((cfg, session)) = self.sasl.as_mut() else { return Ok(SaslOutcome::Done) };
        let mechanism = session.mechanism_name();
        match session.next(cfg, server) {
            Err(why) => Ok(SaslOutcome::Failed(Diagnosis {
                code: crate::error::Code::Kafka(diagnose::SASL_AUTHENTICATION_FAILED),
                message: format!("{mechanism} authentication with {}: {why}", self.addr),
            })),
            Ok(None) => {
                self.set_state(ConnState::Ready);
                Ok(SaslOutcome::Done)
            }
            Ok(Some(bytes)) => {
                let v = self.sasl_authenticate_version;
                let req = messages::sasl_authenticate::SaslAuthenticateRequest { auth_bytes: bytes };
                self.send_own(client_id, messages::API_KEY_SASL_AUTHENTICATE, v, RequestKind::SaslAuthenticate, |buf, v| req.encode(buf, v));
                self.flush()?;
                Ok(SaslOutcome::Continue)
            }
        }
    }

    /// The broker's SaslHandshake answer: start the exchange if it has our mechanism.
    pub fn on_sasl_handshake(&mut self, version: i16, body: &[u8], client_id: &str) -> Result<SaslOutcome, ConnError> {
        let resp = messages::sasl_handshake::SaslHandshakeResponse::decode(&mut Decoder::new(body), version)
            .map_err(|e| ConnError(format!("bad SaslHandshake response from {}: {e}", self.addr)))?;
        if resp.error_code != 0 {
            let ours = self.sasl.as_ref().map(|(_, s)| s.mechanism_name()).unwrap_or("?");
            return Ok(SaslOutcome::Failed(diagnose::sasl_handshake_refused(&self.addr, resp.error_code, ours, &resp.mechanisms, self.tls.is_some())));
        }
        self.sasl_step(client_id, &[])
    }

    /// The broker's SaslAuthenticate answer: the next step, done, or refused.
    pub fn on_sasl_authenticate(&mut self, version: i16, body: &[u8], client_id: &str) -> Result<SaslOutcome, ConnError> {
        let resp = messages::sasl_authenticate::SaslAuthenticateResponse::decode(&mut Decoder::new(body), version)
            .map_err(|e| ConnError(format!("bad SaslAuthenticate response from {}: {e}", self.addr)))?;
        if resp.error_code != 0 {
            let mechanism = self.sasl.as_ref().map(|(_, s)| s.mechanism_name()).unwrap_or("?");
            return Ok(SaslOutcome::Failed(Diagnosis {
                code: crate::error::Code::Kafka(diagnose::SASL_AUTHENTICATION_FAILED),
                message: format!(
                    "{mechanism} authentication with {} failed (error code {}): {}; check sasl.username and sasl.password (or the token)",
                    self.addr,
                    resp.error_code,
                    resp.error_message.as_deref().unwrap_or("no message")
                ),
            }));
        }
        self.sasl_step(client_id, &resp.auth_bytes)
    }

    fn set_state(&mut self, state: ConnState) {
        self.state = state;
        self.state_since = Instant::now();
    }

    /// Statistics on: the records of the request just queued by `push_request` (a Produce).
    pub fn note_records(&mut self, records: u64) {
        if let Some(p) = self.outbuf.as_deref_mut().and_then(|o| o.pending.back_mut()) {
            p.3 = records;
        }
    }

    /// Writes what the socket takes.
    pub fn flush(&mut self) -> Result<(), ConnError> {
        let r = self.flush_socket();
        if let Some(o) = self.outbuf.as_deref_mut() {
            o.written(self.written_bytes);
        }
        r
    }

    fn flush_socket(&mut self) -> Result<(), ConnError> {
        if self.state == ConnState::Connecting {
            return Ok(());
        }
        if self.tls.is_some() {
            self.flush_tls()?;
        }
        while self.tls.is_none() && self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(ConnError(format!("connection to {} closed while writing", self.addr))),
                Ok(n) => {
                    self.wpos += n;
                    self.written_bytes += n as u64;
                    self.last_activity = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError(format!("write to {}: {e}", self.addr))),
            }
        }
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        } else if self.wpos > (1 << 20) && self.wpos * 2 > self.wbuf.len() {
            self.wbuf.drain(..self.wpos);
            self.wpos = 0;
        }
        Ok(())
    }

    /// TLS: hands plaintext to rustls (which buffers a bounded amount) and writes its records to
    /// the socket until it would block.
    fn flush_tls(&mut self) -> Result<(), ConnError> {
        let tls = self.tls.as_mut().expect("TLS connection");
        loop {
            if self.wpos < self.wbuf.len() {
                let n = tls.writer().write(&self.wbuf[self.wpos..]).map_err(|e| ConnError(format!("TLS write to {}: {e}", self.addr)))?;
                self.wpos += n;
                self.written_bytes += n as u64;
            }
            if !tls.wants_write() {
                return Ok(());
            }
            match tls.write_tls(&mut self.stream) {
                Ok(0) => return Err(ConnError(format!("connection to {} closed while writing", self.addr))),
                Ok(_) => self.last_activity = Instant::now(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError(format!("write to {}: {e}", self.addr))),
            }
        }
    }

    /// TLS: reads records from the socket, decrypts them, and parses the plaintext frames.
    fn read_tls(&mut self, responses: &mut Vec<Response>) -> Result<(), ConnError> {
        loop {
            let tls = self.tls.as_mut().expect("TLS connection");
            match tls.read_tls(&mut self.stream) {
                Ok(0) => {
                    if tls.is_handshaking() {
                        self.diagnosis = diagnose::closed_during_tls_handshake(&self.addr, self.sasl.is_some(), self.received_bytes);
                    } else {
                        self.diagnose_closed();
                    }
                    return Err(ConnError(format!("connection closed by {}", self.addr)));
                }
                Ok(n) => {
                    self.received_bytes += n as u64;
                    self.last_activity = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError(format!("read from {}: {e}", self.addr))),
            }
            if let Err(e) = tls.process_new_packets() {
                // Tell the broker why (an alert), then give up on this connection.
                let _ = tls.write_tls(&mut self.stream);
                let cert = tls.peer_certificates().and_then(|c| c.first()).and_then(|c| diagnose::cert_info(c)).or_else(diagnose::take_rejected_cert);
                let d = diagnose::tls_failed(&self.addr, &e, cert.as_ref(), self.sasl.is_some());
                // A certificate problem (or a refused one of ours) does not fix itself: the
                // I/O thread makes it fatal. A port that does not speak TLS is a transport problem.
                self.tls_failed = d.code == crate::error::Code::Local(crate::error::LocalCode::Ssl);
                self.diagnosis = Some(d);
                return Err(ConnError(format!("TLS handshake with {} failed: {e}", self.addr)));
            }
            loop {
                self.make_read_room();
                let tls = self.tls.as_mut().expect("TLS connection");
                match tls.reader().read(&mut self.rbuf[self.rend..]) {
                    Ok(0) => {
                        // The broker closed the TLS session (close_notify): what it sent before
                        // (a refusal, say) is read first.
                        self.parse_frames(responses)?;
                        self.diagnose_closed();
                        return Err(ConnError(format!("connection closed by {}", self.addr)));
                    }
                    Ok(n) => self.rend += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(ConnError(format!("TLS read from {}: {e}", self.addr))),
                }
            }
            self.parse_frames(responses)?;
        }
    }

    fn read(&mut self, responses: &mut Vec<Response>) -> Result<(), ConnError> {
        if self.tls.is_some() {
            return self.read_tls(responses);
        }
        loop {
            self.make_read_room();
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    self.diagnose_closed();
                    return Err(ConnError(format!("connection closed by {}", self.addr)));
                }
                Ok(n) => {
                    self.rend += n;
                    self.received_bytes += n as u64;
                    self.last_activity = Instant::now();
                    self.parse_frames(responses)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError(format!("read from {}: {e}", self.addr))),
            }
        }
    }

    /// Leaves at least a quarter of READ_CHUNK free after `rend`: moves unparsed bytes to the
    /// front, or grows the buffer (zero-filling only the new part).
    fn make_read_room(&mut self) {
        if self.rbuf.len() - self.rend >= READ_CHUNK / 4 {
            return;
        }
        if self.rpos > 0 {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        if self.rbuf.len() - self.rend < READ_CHUNK / 4 {
            self.rbuf.resize(self.rbuf.len() + READ_CHUNK, 0);
        }
    }

    /// The broker closed the connection: recognise when in the set-up that happened.
    fn diagnose_closed(&mut self) {
        let front = self.inflight.front().map(|f| f.api_key);
        self.diagnosis = match self.state {
            ConnState::Negotiating if self.responses == 0 => Some(diagnose::closed_before_api_versions(&self.addr)),
            ConnState::Authenticating if front == Some(messages::API_KEY_SASL_HANDSHAKE) => Some(diagnose::closed_at_sasl_handshake(&self.addr, self.tls.is_some())),
            // Only ApiVersions was answered and our first request got no answer.
            ConnState::Ready if self.sasl.is_none() && self.responses == 1 && front.is_some() => Some(diagnose::closed_after_api_versions(&self.addr, self.tls.is_some())),
            _ => None,
        };
    }

    fn parse_frames(&mut self, responses: &mut Vec<Response>) -> Result<(), ConnError> {
        loop {
            let avail = &self.rbuf[self.rpos..self.rend];
            if self.responses == 0 && self.tls.is_none() {
                // The first bytes back: do they look like anything but a Kafka response?
                if let Some(d) = diagnose::first_bytes(&self.addr, avail, self.sasl.is_some()) {
                    let e = ConnError(format!("{} answered with bytes that are not a Kafka response: {}", self.addr, d.message));
                    self.diagnosis = Some(d);
                    return Err(e);
                }
            }
            if avail.len() < 4 {
                break;
            }
            let size = messages::frame_len([avail[0], avail[1], avail[2], avail[3]])
                .map_err(|e| ConnError(format!("bad frame from {}: {e}", self.addr)))?;
            if avail.len() < 4 + size {
                break;
            }
            let frame = &avail[4..4 + size];
            // The request stays in `inflight` until its answer is known good: on an error the
            // connection is closed, and close_connection retries or re-asks whatever is still
            // there. (Popped first, a garbled header lost the request: its batch was never
            // reported and close() waited for ever.)
            let Some(front) = self.inflight.front() else {
                return Err(ConnError(format!("{} sent a response to no request", self.addr)));
            };
            let flexible = messages::response_header_flexible(front.api_key, front.version);
            let mut d = Decoder::new(frame);
            let corr = messages::decode_response_header(&mut d, flexible)
                .map_err(|e| ConnError(format!("bad response header from {}: {e}", self.addr)))?;
            if corr != front.correlation_id {
                return Err(ConnError(format!("{} answered correlation id {corr}, expected {}", self.addr, front.correlation_id)));
            }
            let req = self.inflight.pop_front().expect("checked above");
            let consumed = frame.len() - d.remaining();
            let body = frame[consumed..].to_vec();
            self.rpos += 4 + size;
            self.responses += 1;
            responses.push(Response { request: req, body });
        }
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        }
        Ok(())
    }

    /// acks=0 produce requests whose bytes have all been written: they are done.
    pub fn take_written_unacked(&mut self) -> Vec<Vec<ProducerBatch>> {
        let mut done = Vec::new();
        while self.unacked.front().is_some_and(|(end, _)| *end <= self.written_bytes) {
            done.push(self.unacked.pop_front().unwrap().1);
        }
        done
    }

    pub fn is_idle(&self) -> bool {
        self.inflight.is_empty() && self.unacked.is_empty() && !self.has_pending_writes()
    }
}

/// The socket settings of broker connections (`send.buffer.bytes`, `receive.buffer.bytes`,
/// `socket.keepalive.enable`, `socket.nagle.disable`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SocketOptions {
    /// SO_SNDBUF / SO_RCVBUF; 0 or -1: the OS default.
    pub send_buf: i32,
    pub recv_buf: i32,
    pub keepalive: bool,
    pub nodelay: bool,
}

impl SocketOptions {
    pub fn of(cfg: &crate::config::ProducerConfig) -> SocketOptions {
        SocketOptions {
            send_buf: cfg.send_buffer_bytes,
            recv_buf: cfg.receive_buffer_bytes,
            keepalive: cfg.socket_keepalive,
            nodelay: cfg.socket_nodelay,
        }
    }
}

fn set_socket_options(stream: &TcpStream, o: &SocketOptions) {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    let opts = [
        (libc::SOL_SOCKET, libc::SO_SNDBUF, o.send_buf, o.send_buf > 0),
        (libc::SOL_SOCKET, libc::SO_RCVBUF, o.recv_buf, o.recv_buf > 0),
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1, o.keepalive),
        (libc::IPPROTO_TCP, libc::TCP_NODELAY, i32::from(o.nodelay), true),
    ];
    for (level, opt, val, wanted) in opts {
        if wanted {
            // SAFETY: fd is a valid socket owned by `stream`; the option value is a c_int.
            let r = unsafe { libc::setsockopt(fd, level, opt, (&val as *const i32).cast(), std::mem::size_of::<i32>() as libc::socklen_t) };
            if r != 0 {
                log::warn!("setsockopt({opt}={val}) failed: {}", std::io::Error::last_os_error());
            }
        }
    }
}

#[cfg(test)]
mod socket_tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn get(stream: &TcpStream, level: i32, opt: i32) -> i32 {
        let mut v: i32 = -1;
        let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: valid fd, buffer of the given length.
        let r = unsafe { libc::getsockopt(stream.as_raw_fd(), level, opt, (&mut v as *mut i32).cast(), &mut len) };
        assert_eq!(r, 0);
        v
    }

    fn stream(o: &SocketOptions) -> (TcpStream, std::net::TcpListener) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        set_socket_options(&s, o);
        (s, l)
    }

    fn opts() -> SocketOptions {
        SocketOptions { send_buf: 0, recv_buf: 0, keepalive: false, nodelay: true }
    }

    #[test]
    fn keepalive_and_nodelay_follow_the_settings() {
        let (s, _l) = stream(&opts());
        assert_eq!(get(&s, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
        assert_ne!(get(&s, libc::IPPROTO_TCP, libc::TCP_NODELAY), 0, "TCP_NODELAY is the default");
        let (s, _l) = stream(&SocketOptions { keepalive: true, nodelay: false, ..opts() });
        assert_ne!(get(&s, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0, "socket.keepalive.enable=true");
        assert_eq!(get(&s, libc::IPPROTO_TCP, libc::TCP_NODELAY), 0, "socket.nagle.disable=false");
    }

    #[test]
    fn buffer_sizes_are_set_and_zero_keeps_the_os_default() {
        let (plain, _l) = stream(&opts());
        let default_snd = get(&plain, libc::SOL_SOCKET, libc::SO_SNDBUF);
        let (s, _l) = stream(&SocketOptions { send_buf: 65536, recv_buf: 40000, ..opts() });
        // Linux doubles the value asked for (for its bookkeeping).
        assert_eq!(get(&s, libc::SOL_SOCKET, libc::SO_SNDBUF), 2 * 65536);
        assert_eq!(get(&s, libc::SOL_SOCKET, libc::SO_RCVBUF), 2 * 40000);
        let (s, _l) = stream(&SocketOptions { send_buf: -1, ..opts() });
        assert_eq!(get(&s, libc::SOL_SOCKET, libc::SO_SNDBUF), default_snd);
    }
}
