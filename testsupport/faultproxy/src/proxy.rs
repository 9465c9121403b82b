//! The proxy: one listener per broker, two forwarding threads per connection, and the rule
//! table they consult for every frame.
//!
//! Threads and locks: each listener has an accept thread; each accepted connection gets a
//! thread that connects upstream and then forwards requests, plus one that forwards responses,
//! and each of those two has a reader thread that takes frames off its socket as they arrive
//! and stamps them with the time (so a latency fault delays each frame from its own arrival:
//! frames that arrive together leave together, as over a slow link, instead of one delay
//! after another).
//! `Shared::rules`, `Shared::listeners`, `Shared::conns`, `Listener::stats`, `Conn::inflight`
//! and `Conn::stalled_by` are short-held mutexes, never held across I/O or a sleep, and never
//! two at once except `listeners` then a new listener's `stats` (creation).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::rule::{AfterDrop, Direction, Fault, Refusal, Rule};
use crate::wire::{self, AddressMap};

/// Identifies a rule in [`FaultProxy::remove`] and [`FaultProxy::hits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u64);

/// What the proxy saw for one broker (summed over its listeners).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Connections accepted and forwarded.
    pub connections: u64,
    /// Connections accepted and reset by [`Refusal::Reset`].
    pub refused: u64,
    /// Requests read from clients, by API key.
    pub requests: BTreeMap<i16, u64>,
    /// Responses forwarded (or dropped by a fault) to clients, by API key.
    pub responses: BTreeMap<i16, u64>,
    /// The most requests of one API that were ever waiting for their response on one
    /// connection, as the client sees it (sent, response not yet delivered).
    pub max_in_flight: BTreeMap<i16, usize>,
}

/// How long the accept loop sleeps when nothing is waiting, and the stall poll period.
const POLL: Duration = Duration::from_millis(5);
/// Frames a reader thread takes ahead of its forwarding thread. Bounded, so a stalled
/// connection still pushes back on its sender (as a black hole does) once this many and the
/// socket buffers are full.
const READ_AHEAD: usize = 32;
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

struct RuleState {
    id: RuleId,
    rule: Rule,
    hits: u64,
}

impl RuleState {
    fn spent(&self) -> bool {
        self.rule.times.is_some_and(|t| self.hits >= t)
    }
    fn covers(&self, node: i32) -> bool {
        self.rule.broker.is_none_or(|b| b == node)
    }
}

struct Listener {
    /// `host:port` of the broker, as given or as advertised in metadata.
    upstream: String,
    /// Where the proxy listens for it.
    addr: SocketAddr,
    /// The broker's node id; -1 until known.
    node_id: AtomicI32,
    stats: Mutex<BrokerStats>,
}

pub(crate) struct Shared {
    listen_host: String,
    rules: Mutex<Vec<RuleState>>,
    next_rule: AtomicU64,
    listeners: Mutex<Vec<Arc<Listener>>>,
    conns: Mutex<Vec<Weak<Conn>>>,
    shutdown: AtomicBool,
    accept_threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a forwarding thread must not take the whole proxy down with poisoned locks.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds a [`FaultProxy`].
pub struct Builder {
    listen_host: String,
    brokers: Vec<(Option<i32>, String, u16)>,
}

impl Builder {
    /// The address the proxy listens on and writes into rewritten metadata [127.0.0.1].
    pub fn listen_host(mut self, host: &str) -> Builder {
        self.listen_host = host.to_string();
        self
    }
    /// A broker at `upstream` (`host:port`, as it advertises itself), its node id learned from
    /// the metadata that passes through.
    pub fn upstream(mut self, upstream: &str) -> Builder {
        self.brokers.push((None, upstream.to_string(), 0));
        self
    }
    /// A broker whose node id is known up front, so rules for it apply from the first
    /// connection on.
    pub fn broker(mut self, node_id: i32, upstream: &str) -> Builder {
        self.brokers.push((Some(node_id), upstream.to_string(), 0));
        self
    }
    /// Like [`Builder::broker`] / [`Builder::upstream`] with a fixed listening port (0: any).
    pub fn broker_on(mut self, node_id: Option<i32>, upstream: &str, listen_port: u16) -> Builder {
        self.brokers
            .push((node_id, upstream.to_string(), listen_port));
        self
    }
    pub fn start(self) -> io::Result<FaultProxy> {
        if self.brokers.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a fault proxy needs at least one broker to forward to",
            ));
        }
        let shared = Arc::new(Shared {
            listen_host: self.listen_host,
            rules: Mutex::new(Vec::new()),
            next_rule: AtomicU64::new(1),
            listeners: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            accept_threads: Mutex::new(Vec::new()),
        });
        let mut initial = Vec::new();
        for (node, upstream, port) in &self.brokers {
            let (h, p) = split_host_port(upstream)?;
            let l = shared.listener_for(&h, p, node.unwrap_or(-1), *port)?;
            initial.push(l.addr);
        }
        Ok(FaultProxy { shared, initial })
    }
}

fn split_host_port(s: &str) -> io::Result<(String, i32)> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{s}' is not host:port"),
        )
    };
    let (h, p) = s.rsplit_once(':').ok_or_else(bad)?;
    let p: u16 = p.parse().map_err(|_| bad())?;
    if h.is_empty() {
        return Err(bad());
    }
    Ok((
        h.trim_start_matches('[').trim_end_matches(']').to_string(),
        p as i32,
    ))
}

/// A running proxy in front of a Kafka cluster. Dropping it closes every listener and
/// connection.
pub struct FaultProxy {
    shared: Arc<Shared>,
    initial: Vec<SocketAddr>,
}

impl FaultProxy {
    pub fn builder() -> Builder {
        Builder {
            listen_host: "127.0.0.1".into(),
            brokers: Vec::new(),
        }
    }

    /// A proxy for the brokers of a `bootstrap.servers` list (`host:port,...`); any other
    /// broker the cluster's metadata names gets a listener when it is first seen.
    pub fn start(bootstrap_servers: &str) -> io::Result<FaultProxy> {
        let mut b = FaultProxy::builder();
        for s in bootstrap_servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            b = b.upstream(s);
        }
        b.start()
    }

    /// The `bootstrap.servers` to give clients: the proxy's listeners for the brokers it was
    /// started with, in that order.
    pub fn bootstrap(&self) -> String {
        self.initial
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The proxy's address for broker `node_id`, once known.
    pub fn address_of(&self, node_id: i32) -> Option<SocketAddr> {
        lock(&self.shared.listeners)
            .iter()
            .find(|l| l.node_id.load(Ordering::SeqCst) == node_id)
            .map(|l| l.addr)
    }

    /// `(node id or -1, upstream, proxy address)` of every listener.
    pub fn listeners(&self) -> Vec<(i32, String, SocketAddr)> {
        lock(&self.shared.listeners)
            .iter()
            .map(|l| (l.node_id.load(Ordering::SeqCst), l.upstream.clone(), l.addr))
            .collect()
    }

    /// Puts a rule in force from the next frame (or connection) on.
    pub fn add(&self, rule: Rule) -> RuleId {
        let id = RuleId(self.shared.next_rule.fetch_add(1, Ordering::SeqCst));
        log::info!("faultproxy: rule {} in force: {rule}", id.0);
        lock(&self.shared.rules).push(RuleState { id, rule, hits: 0 });
        id
    }

    /// Lifts a rule: connections it stalled resume, refused connections are accepted again.
    /// False when there was no such rule.
    pub fn remove(&self, id: RuleId) -> bool {
        let mut rules = lock(&self.shared.rules);
        let before = rules.len();
        rules.retain(|r| r.id != id);
        log::info!("faultproxy: rule {} lifted", id.0);
        rules.len() != before
    }

    /// Lifts every rule.
    pub fn clear(&self) {
        lock(&self.shared.rules).clear();
    }

    /// How many frames (or connections) the rule has acted on; `None` once removed.
    pub fn hits(&self, id: RuleId) -> Option<u64> {
        lock(&self.shared.rules)
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.hits)
    }

    /// The rules in force with their hit counts.
    pub fn rules(&self) -> Vec<(RuleId, Rule, u64)> {
        lock(&self.shared.rules)
            .iter()
            .map(|r| (r.id, r.rule.clone(), r.hits))
            .collect()
    }

    /// What the proxy saw for broker `node_id` (all zeros for a broker it does not know).
    pub fn stats(&self, node_id: i32) -> BrokerStats {
        let mut out = BrokerStats::default();
        for l in lock(&self.shared.listeners)
            .iter()
            .filter(|l| l.node_id.load(Ordering::SeqCst) == node_id)
        {
            let s = lock(&l.stats);
            out.connections += s.connections;
            out.refused += s.refused;
            for (k, v) in &s.requests {
                *out.requests.entry(*k).or_default() += v;
            }
            for (k, v) in &s.responses {
                *out.responses.entry(*k).or_default() += v;
            }
            for (k, v) in &s.max_in_flight {
                let m = out.max_in_flight.entry(*k).or_default();
                *m = (*m).max(*v);
            }
        }
        out
    }

    /// Runs one control command (the control socket's language), returning its answer:
    /// `add RULE` (see [`Rule::parse`]) -> `ok ID`; `remove ID`; `clear`; `rules`;
    /// `stats NODE`; `listeners`.
    pub fn execute(&self, line: &str) -> Result<String, String> {
        let line = line.trim();
        let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match cmd {
            "add" => Ok(format!("ok {}", self.add(Rule::parse(rest)?).0)),
            "remove" => {
                let id: u64 = rest
                    .parse()
                    .map_err(|_| format!("remove takes a rule id, got '{rest}'"))?;
                if self.remove(RuleId(id)) {
                    Ok("ok".into())
                } else {
                    Err(format!("no rule {id}"))
                }
            }
            "clear" => {
                self.clear();
                Ok("ok".into())
            }
            "rules" => Ok(self
                .rules()
                .iter()
                .map(|(id, r, hits)| format!("{} {r} hits={hits}", id.0))
                .collect::<Vec<_>>()
                .join("\n")),
            "stats" => {
                let node: i32 = rest
                    .parse()
                    .map_err(|_| format!("stats takes a node id, got '{rest}'"))?;
                Ok(format!("{:?}", self.stats(node)))
            }
            "listeners" => Ok(self
                .listeners()
                .iter()
                .map(|(n, u, a)| format!("broker {n} {u} -> {a}"))
                .collect::<Vec<_>>()
                .join("\n")),
            "" => Err("empty command".into()),
            other => Err(format!(
                "unknown command '{other}' (add, remove, clear, rules, stats, listeners)"
            )),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for c in lock(&self.shared.conns).iter().filter_map(Weak::upgrade) {
            c.close();
        }
        let threads = std::mem::take(&mut *lock(&self.shared.accept_threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Which of the broker-level refusals are in force for `node`.
enum Admission {
    Accept,
    Reset,
    Closed,
}

impl Shared {
    /// The listener for the broker at `host:port`, made (bound to `listen_port`, 0 for any)
    /// when there is none yet. A known `node_id` is recorded on it.
    fn listener_for(
        self: &Arc<Self>,
        host: &str,
        port: i32,
        node_id: i32,
        listen_port: u16,
    ) -> io::Result<Arc<Listener>> {
        let upstream = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut ls = lock(&self.listeners);
        if let Some(l) = ls.iter().find(|l| l.upstream == upstream) {
            if node_id >= 0 && l.node_id.swap(node_id, Ordering::SeqCst) != node_id {
                log::info!(
                    "faultproxy: {upstream} (proxied at {}) is broker {node_id}",
                    l.addr
                );
            }
            return Ok(l.clone());
        }
        let sock = TcpListener::bind((self.listen_host.as_str(), listen_port))?;
        sock.set_nonblocking(true)?;
        let l = Arc::new(Listener {
            upstream: upstream.clone(),
            addr: sock.local_addr()?,
            node_id: AtomicI32::new(node_id),
            stats: Mutex::default(),
        });
        log::info!(
            "faultproxy: broker {node_id} at {upstream} proxied at {}",
            l.addr
        );
        ls.push(l.clone());
        let (shared, listener) = (self.clone(), l.clone());
        let t = std::thread::Builder::new()
            .name(format!("faultproxy-accept-{}", l.addr.port()))
            .spawn(move || shared.accept_loop(&listener, sock))?;
        lock(&self.accept_threads).push(t);
        Ok(l)
    }

    fn accept_loop(self: &Arc<Self>, l: &Arc<Listener>, sock: TcpListener) {
        let mut sock = Some(sock);
        while !self.shutdown.load(Ordering::SeqCst) {
            let admission = self.admission(l.node_id.load(Ordering::SeqCst), false);
            match (&admission, sock.is_some()) {
                (Admission::Closed, true) => {
                    log::info!("faultproxy: {} closed (connections refused)", l.addr);
                    sock = None;
                }
                (Admission::Accept | Admission::Reset, false) => match TcpListener::bind(l.addr)
                    .and_then(|s| s.set_nonblocking(true).map(|_| s))
                {
                    Ok(s) => {
                        log::info!("faultproxy: {} listening again", l.addr);
                        sock = Some(s);
                    }
                    Err(e) => {
                        log::warn!(
                            "faultproxy: cannot listen on {} again: {e}; retrying",
                            l.addr
                        );
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                },
                _ => {}
            }
            let Some(s) = &sock else {
                std::thread::sleep(POLL);
                continue;
            };
            match s.accept() {
                Ok((client, _)) => self.accepted(l, client),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
                Err(e) => {
                    log::warn!("faultproxy: accept on {}: {e}", l.addr);
                    std::thread::sleep(POLL);
                }
            }
        }
    }

    /// Whether a connection to `node` is accepted; with `take`, a `Reset` refusal counts as a
    /// hit of its rule.
    fn admission(&self, node: i32, take: bool) -> Admission {
        let mut rules = lock(&self.rules);
        for r in rules.iter_mut().filter(|r| !r.spent() && r.covers(node)) {
            if let Fault::RefuseConnections { how } = r.rule.fault {
                return match how {
                    Refusal::Closed => Admission::Closed,
                    Refusal::Reset => {
                        if take {
                            r.hits += 1;
                        }
                        Admission::Reset
                    }
                };
            }
        }
        Admission::Accept
    }

    fn accepted(self: &Arc<Self>, l: &Arc<Listener>, client: TcpStream) {
        let _ = client.set_nonblocking(false);
        if let Admission::Reset = self.admission(l.node_id.load(Ordering::SeqCst), true) {
            lock(&l.stats).refused += 1;
            reset(&client);
            return;
        }
        lock(&l.stats).connections += 1;
        let (shared, l) = (self.clone(), l.clone());
        let spawned = std::thread::Builder::new()
            .name("faultproxy-requests".into())
            .spawn(move || {
                let broker = match connect(&l.upstream) {
                    Ok(b) => b,
                    Err(e) => {
                        log::warn!(
                            "faultproxy: cannot reach {}: {e}; closing the client's connection",
                            l.upstream
                        );
                        return;
                    }
                };
                let _ = client.set_nodelay(true);
                let _ = broker.set_nodelay(true);
                let conn = Arc::new(Conn {
                    shared: shared.clone(),
                    listener: l,
                    client,
                    broker,
                    inflight: Mutex::default(),
                    answers: Mutex::default(),
                    stalled_by: Mutex::new(None),
                    closed: AtomicBool::new(false),
                });
                {
                    let mut conns = lock(&shared.conns);
                    conns.retain(|c| c.strong_count() > 0);
                    conns.push(Arc::downgrade(&conn));
                }
                if shared.shutdown.load(Ordering::SeqCst) {
                    conn.close();
                    return;
                }
                let c = conn.clone();
                if std::thread::Builder::new()
                    .name("faultproxy-responses".into())
                    .spawn(move || c.pump_responses())
                    .is_err()
                {
                    conn.close();
                    return;
                }
                conn.pump_requests();
            });
        if let Err(e) = spawned {
            log::warn!("faultproxy: no thread for a new connection: {e}");
        }
    }

    /// Finds the faults for one frame, counting a hit on each rule that acts.
    fn faults_for(&self, node: i32, api: Option<i16>, dir: Direction) -> Vec<(RuleId, Fault)> {
        let mut rules = lock(&self.rules);
        let mut out = Vec::new();
        for r in rules.iter_mut() {
            if r.spent() || !r.covers(node) || r.rule.api.is_some_and(|a| Some(a) != api) {
                continue;
            }
            let applies = match &r.rule.fault {
                Fault::Latency { direction, .. }
                | Fault::CutMidFrame { direction }
                | Fault::Throttle { direction, .. } => direction.includes(dir),
                Fault::BlackHole => true,
                Fault::DropResponse { .. } | Fault::Garble | Fault::Truncate => {
                    dir == Direction::Responses
                }
                Fault::ProduceError { .. } => {
                    dir == Direction::Requests && api == Some(crate::API_PRODUCE)
                }
                Fault::RefuseConnections { .. } => false,
            };
            if applies {
                r.hits += 1;
                out.push((r.id, r.rule.fault.clone()));
            }
        }
        out
    }

    fn rule_present(&self, id: RuleId) -> bool {
        lock(&self.rules).iter().any(|r| r.id == id)
    }
}

impl AddressMap for Arc<Shared> {
    fn map(&self, node_id: i32, host: &str, port: i32) -> (String, i32) {
        match self.listener_for(host, port, node_id, 0) {
            Ok(l) => (l.addr.ip().to_string(), l.addr.port() as i32),
            Err(e) => {
                // The client will reach this broker directly, past every fault: say so loudly.
                log::error!("faultproxy: no listener for broker {node_id} at {host}:{port} ({e}); its address goes to the client unchanged");
                (host.to_string(), port)
            }
        }
    }
}

fn connect(upstream: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{upstream} resolves to no address"),
    );
    for addr in upstream.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, UPSTREAM_CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Closes `s` with an RST (SO_LINGER on with a zero timeout).
fn reset(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor owned by `s`, and a `linger` of the size passed.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A frame as a reader thread took it off a socket, with the time it was read.
type Arrival = (Instant, io::Result<Option<Vec<u8>>>);

/// Starts a thread that reads frames from `from` as they arrive and hands them over with their
/// arrival time; it stops after the end of the stream, an error, or when the receiver is gone.
fn read_ahead(from: &TcpStream, name: &str) -> io::Result<mpsc::Receiver<Arrival>> {
    let mut from = from.try_clone()?;
    let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || loop {
            let read = wire::read_frame(&mut from);
            let last = !matches!(read, Ok(Some(_)));
            if tx.send((Instant::now(), read)).is_err() || last {
                break;
            }
        })?;
    Ok(rx)
}

/// The next frame from a reader thread; a reader that ended without saying why (it cannot)
/// reads as the end of the stream.
fn next_frame(frames: &mpsc::Receiver<Arrival>) -> Arrival {
    frames.recv().unwrap_or_else(|_| (Instant::now(), Ok(None)))
}

/// One client connection and its connection to the broker.
struct Conn {
    shared: Arc<Shared>,
    listener: Arc<Listener>,
    client: TcpStream,
    broker: TcpStream,
    /// `correlation id -> (api key, version)` of requests whose response has not been delivered.
    inflight: Mutex<HashMap<i32, (i16, i16)>>,
    /// `correlation id -> the proxy's own answer` of requests a [`Fault::ProduceError`] kept
    /// from the broker: written by the request pump, taken by the response pump when the
    /// broker's answer to the placeholder sent in their place arrives.
    answers: Mutex<HashMap<i32, Vec<u8>>>,
    /// The black-hole (or stalling drop) rule holding this connection.
    stalled_by: Mutex<Option<RuleId>>,
    closed: AtomicBool,
}

impl Conn {
    fn node(&self) -> i32 {
        self.listener.node_id.load(Ordering::SeqCst)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.broker.shutdown(Shutdown::Both);
    }

    fn pump_requests(&self) {
        let frames = match read_ahead(&self.client, "faultproxy-read-requests") {
            Ok(f) => f,
            Err(e) => {
                log::warn!("faultproxy: no reader thread for a client of {}: {e}", self.listener.upstream);
                return self.close();
            }
        };
        loop {
            let (arrived, read) = next_frame(&frames);
            let frame = match read {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    if !self.closed.load(Ordering::SeqCst) {
                        log::debug!("faultproxy: client of {}: {e}", self.listener.upstream);
                    }
                    break;
                }
            };
            let info = wire::request_info(&frame).ok();
            let api = info.map(|i| i.api_key);
            if let Some(i) = info {
                let mut stats = lock(&self.listener.stats);
                *stats.requests.entry(i.api_key).or_default() += 1;
                if i.expects_response {
                    let mut inflight = lock(&self.inflight);
                    inflight.insert(i.correlation_id, (i.api_key, i.api_version));
                    let n = inflight.values().filter(|(k, _)| *k == i.api_key).count();
                    let m = stats.max_in_flight.entry(i.api_key).or_default();
                    *m = (*m).max(n);
                }
            }
            let faults = self
                .shared
                .faults_for(self.node(), api, Direction::Requests);
            let frame = match (info, faults.iter().find_map(|(id, f)| match f {
                Fault::ProduceError { code } => Some((*id, *code)),
                _ => None,
            })) {
                (Some(i), Some((id, code))) if !i.expects_response => {
                    // acks=0: the client waits for no answer; the broker never gets the records.
                    log::info!("faultproxy: an acks=0 Produce request to {} dropped for error {code} (rule {})", self.listener.upstream, id.0);
                    continue;
                }
                (Some(i), Some((id, code))) => match wire::produce_error_response(&frame, code) {
                    Ok(answer) => {
                        log::info!("faultproxy: a Produce request to {} answered with error {code} (rule {})", self.listener.upstream, id.0);
                        lock(&self.answers).insert(i.correlation_id, answer);
                        wire::placeholder_request(i.correlation_id)
                    }
                    Err(e) => {
                        log::warn!("faultproxy: cannot read a Produce request to {} (v{}): {e}; forwarded unchanged", self.listener.upstream, i.api_version);
                        frame
                    }
                },
                _ => frame,
            };
            if !self.forward(frame, arrived, &faults, Direction::Requests, None) {
                break;
            }
        }
        self.close();
    }

    fn pump_responses(&self) {
        let frames = match read_ahead(&self.broker, "faultproxy-read-responses") {
            Ok(f) => f,
            Err(e) => {
                log::warn!("faultproxy: no reader thread for broker {}: {e}", self.listener.upstream);
                return self.close();
            }
        };
        loop {
            let (arrived, read) = next_frame(&frames);
            let mut frame = match read {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    if !self.closed.load(Ordering::SeqCst) {
                        log::debug!("faultproxy: broker {}: {e}", self.listener.upstream);
                    }
                    break;
                }
            };
            let corr = wire::response_correlation_id(&frame);
            let request = corr.and_then(|c| lock(&self.inflight).get(&c).copied());
            let own_answer = corr.and_then(|c| lock(&self.answers).remove(&c));
            if let Some(answer) = own_answer {
                frame = answer;
            } else if let Some((api_key, api_version)) = request {
                match wire::rewrite_response(&frame, api_key, api_version, &self.shared) {
                    Ok(Some(f)) => frame = f,
                    Ok(None) => {}
                    Err(e) => log::warn!("faultproxy: cannot read the addresses in a response (api {api_key} v{api_version}) from {}: {e}; forwarded unchanged", self.listener.upstream),
                }
            }
            let api = request.map(|r| r.0);
            let faults = self
                .shared
                .faults_for(self.node(), api, Direction::Responses);
            let go_on = self.forward(frame, arrived, &faults, Direction::Responses, corr);
            if let Some(a) = api {
                *lock(&self.listener.stats).responses.entry(a).or_default() += 1;
            }
            if !go_on {
                break;
            }
        }
        self.close();
    }

    /// Waits while a rule stalls this connection. False when the connection or the proxy
    /// closed meanwhile.
    fn wait_while_stalled(&self) -> bool {
        loop {
            let Some(id) = *lock(&self.stalled_by) else {
                return true;
            };
            if !self.shared.rule_present(id) {
                let mut s = lock(&self.stalled_by);
                if *s == Some(id) {
                    *s = None;
                }
                continue;
            }
            if self.closed.load(Ordering::SeqCst) || self.shared.shutdown.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }

    fn stall(&self, id: RuleId) {
        let mut s = lock(&self.stalled_by);
        if s.is_none() {
            log::info!(
                "faultproxy: a connection to {} stalls (rule {})",
                self.listener.upstream,
                id.0
            );
            *s = Some(id);
        }
    }

    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.closed.load(Ordering::SeqCst) || self.shared.shutdown.load(Ordering::SeqCst) {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }

    /// Applies `faults` to `frame` and forwards what is left of it. False when the connection
    /// is to be closed. `arrived` is when the frame was read: latency counts from then, so
    /// frames read together are delayed together. `answers` is the correlation id of a
    /// response, which stops counting as in flight just before the client can read it (or
    /// when it is dropped).
    fn forward(
        &self,
        mut frame: Vec<u8>,
        arrived: Instant,
        faults: &[(RuleId, Fault)],
        dir: Direction,
        answers: Option<i32>,
    ) -> bool {
        let answered = || {
            if let Some(c) = answers {
                lock(&self.inflight).remove(&c);
            }
        };
        if let Some((id, _)) = faults.iter().find(|(_, f)| *f == Fault::BlackHole) {
            self.stall(*id);
        }
        if !self.wait_while_stalled() {
            return false;
        }
        let mut throttle: Option<u64> = None;
        let mut due = arrived;
        for (id, fault) in faults {
            match fault {
                Fault::Latency { delay, .. } => {
                    due += *delay;
                    if !self.sleep(due.saturating_duration_since(Instant::now())) {
                        return false;
                    }
                }
                Fault::DropResponse { then } => {
                    answered();
                    log::info!(
                        "faultproxy: response dropped on a connection to {} (rule {})",
                        self.listener.upstream,
                        id.0
                    );
                    return match then {
                        AfterDrop::Close => false,
                        AfterDrop::Stall => {
                            self.stall(*id);
                            self.wait_while_stalled()
                        }
                    };
                }
                Fault::CutMidFrame { .. } => {
                    answered();
                    let dst = if dir == Direction::Requests {
                        &self.broker
                    } else {
                        &self.client
                    };
                    let _ = (&*dst).write_all(&frame[..frame.len() / 2]);
                    log::info!(
                        "faultproxy: connection to {} cut after {} of {} bytes (rule {})",
                        self.listener.upstream,
                        frame.len() / 2,
                        frame.len(),
                        id.0
                    );
                    return false;
                }
                Fault::Garble => {
                    // Size and correlation id stay, so the client matches it to its request.
                    frame.iter_mut().skip(8).for_each(|b| *b = fastrand::u8(..));
                }
                Fault::Truncate => {
                    let keep = 8 + (frame.len().saturating_sub(8)) / 2;
                    frame.truncate(keep.min(frame.len()));
                    let size = (frame.len() - 4) as i32;
                    frame[..4].copy_from_slice(&size.to_be_bytes());
                }
                Fault::Throttle { bytes_per_sec, .. } => {
                    throttle = Some(throttle.map_or(*bytes_per_sec, |t| t.min(*bytes_per_sec)))
                }
                Fault::BlackHole | Fault::RefuseConnections { .. } | Fault::ProduceError { .. } => {}
            }
        }
        answered();
        let mut dst = if dir == Direction::Requests {
            &self.broker
        } else {
            &self.client
        };
        match throttle {
            None => dst.write_all(&frame).is_ok(),
            Some(bps) => {
                let chunk = (bps / 50).max(1) as usize;
                for piece in frame.chunks(chunk) {
                    if dst.write_all(piece).is_err()
                        || !self.sleep(Duration::from_secs_f64(piece.len() as f64 / bps as f64))
                    {
                        return false;
                    }
                }
                true
            }
        }
    }
}
