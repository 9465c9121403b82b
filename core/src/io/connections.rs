//! The I/O thread's broker connections: the mio `Poll` that drives them, the addresses of the
//! bootstrap servers and of every broker metadata named, one connection per broker at most, and
//! the reconnect backoff of brokers whose connections failed.
//!
//! Owned by the I/O thread alone. What a lost connection means for the requests it carried is
//! the I/O thread's (`IoThread::close_connection`); this room only opens, finds and forgets them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Poll, Token};

use super::backoff;
use super::connection::{ConnState, Connection, SocketOptions};
use super::diagnose::{self, Diagnosis};
use super::resolver::{Resolution, Resolver, Unresolved};
use crate::config::{ProducerConfig, SaslConfig};
use crate::shared::SaslCredentials;

pub(super) struct ReconnectState {
    until: Instant,
    failures: u32,
    pub last_error: String,
    /// Log summary: failures identical to `last_error` not logged since `logged_at`.
    unlogged: u32,
    logged_at: Instant,
}

/// Identical connect failures of one broker are logged at WARN once, then as a count at most
/// this often.
const REPEAT_SUMMARY_EVERY: Duration = Duration::from_secs(30);

/// A broker whose oldest request has waited this long is *unanswering*: metadata is asked again
/// from another broker to learn whether its partitions moved (a paused or cut-off leader is
/// replaced by the controller within its session timeout, long before `request.timeout.ms`).
/// Nothing is closed on this alone: only when metadata names a new leader (see
/// `IoThread::on_metadata`), so a broker that is merely slow keeps its requests.
pub(super) const UNANSWERED_AFTER: Duration = Duration::from_secs(1);

/// How long the oldest request on a ready connection has waited (zero when none waits).
fn oldest_wait(c: &Connection, now: Instant) -> Duration {
    if c.state != ConnState::Ready {
        return Duration::ZERO;
    }
    c.inflight.front().map_or(Duration::ZERO, |f| now.saturating_duration_since(f.sent_at))
}

pub(super) struct Connections {
    pub poll: Poll,
    pub conns: HashMap<Token, Connection>,
    /// Broker id (negative: the bootstrap address at `-id - 1`) to its connection.
    pub node_conn: HashMap<i32, Token>,
    next_token: usize,
    bootstrap: Vec<String>,
    /// Broker id to `host:port`, from metadata.
    pub brokers: HashMap<i32, String>,
    /// Brokers whose last connection failed: not reconnected before `until`.
    pub reconnect: HashMap<i32, ReconnectState>,
    correlation: i32,
    /// The bootstrap address whose connection last became ready: a broker metadata named that
    /// cannot be reached is then an advertised-listener problem.
    bootstrap_answered: Option<String>,
    /// What `diagnose` recognised in connection failures since the I/O thread last looked, and
    /// whether a connection became ready meanwhile: the I/O thread publishes both to
    /// `Inner::diagnosis` (see `IoThread::publish_diagnosis`).
    pub diagnosed: Option<Diagnosis>,
    pub became_ready: bool,
    /// Some connection (any / to a broker metadata named) has answered a request: from then on
    /// a failure is an outage (a broker restarting, a failover), not a misconfiguration, and is
    /// no longer diagnosed; the calls wait as they always did.
    ever_confirmed: bool,
    broker_confirmed: bool,
    /// Broker names to addresses, looked up off this thread.
    resolver: Resolver,
    /// Per broker id, connection attempts: each TCP connect started and each name that did not
    /// resolve (statistics `connects`, librdkafka's meaning).
    pub connect_attempts: HashMap<i32, u64>,
    /// Statistics are on: connections keep their output queue's requests (`Connection::outbuf`).
    pub track_outbuf: bool,
    /// `Inner::sasl_credentials`: credentials set after the producer was built, used by each
    /// connection opened from then on.
    pub sasl_credentials: Arc<Mutex<Option<SaslCredentials>>>,
}

impl Connections {
    pub fn new(poll: Poll, bootstrap: Vec<String>, resolver: Resolver) -> Connections {
        Connections {
            poll,
            conns: HashMap::new(),
            node_conn: HashMap::new(),
            next_token: 1,
            bootstrap,
            brokers: HashMap::new(),
            reconnect: HashMap::new(),
            correlation: 1,
            bootstrap_answered: None,
            diagnosed: None,
            became_ready: false,
            track_outbuf: false,
            ever_confirmed: false,
            broker_confirmed: false,
            resolver,
            connect_attempts: HashMap::new(),
            sasl_credentials: Arc::default(),
        }
    }

    pub fn next_correlation(&mut self) -> i32 {
        self.correlation = self.correlation.wrapping_add(1).max(1);
        self.correlation
    }

    /// The connection to `node`, opening one unless it backs off. `fatal`: the producer hit a
    /// fatal error, after which no connection is opened.
    pub fn connection_for(&mut self, node: i32, now: Instant, cfg: &ProducerConfig, fatal: bool) -> Option<Token> {
        if let Some(t) = self.node_conn.get(&node) {
            return Some(*t);
        }
        if self.reconnect.get(&node).is_some_and(|r| r.until > now) {
            return None;
        }
        if fatal {
            // Nothing can be sent after a fatal error (a refused authentication, say): opening
            // connections again would only hammer the broker.
            return None;
        }
        let addr = if node < 0 { self.bootstrap.get((-node - 1) as usize).cloned() } else { self.brokers.get(&node).cloned() }?;
        let setup = self.setup_timeout(node, cfg);
        let sa = match self.resolver.resolve(&addr, cfg.broker_address_family, now, setup) {
            Resolution::Connect(sa) => sa,
            Resolution::Waiting => return None,
            Resolution::Failed(why, cause) => {
                *self.connect_attempts.entry(node).or_default() += 1;
                let diagnosis = match cause {
                    Unresolved::Error(e) => Some(diagnose::does_not_resolve(&addr, node, &e)),
                    Unresolved::WrongFamily(family, all) => Some(diagnose::no_address_of_family(&addr, node, family, &all)),
                    Unresolved::Timeout => None,
                };
                self.note_connect_failure(node, why, diagnosis, now, cfg);
                return None;
            }
        };
        *self.connect_attempts.entry(node).or_default() += 1;
        let token = Token(self.next_token);
        self.next_token += 1;
        let answered = self.advertised_suspect(node).then(|| self.bootstrap_answered.clone()).flatten();
        let replaced = cfg.security.sasl.as_ref().and_then(|c| {
            let set = self.sasl_credentials.lock().unwrap_or_else(|e| e.into_inner());
            set.as_ref().map(|s| SaslConfig { username: s.username.clone(), password: s.password.clone(), ..c.clone() })
        });
        let (sasl, tls) = (replaced.as_ref().or(cfg.security.sasl.as_ref()), cfg.security.tls.as_ref());
        match Connection::connect(node, &addr, sa, token, self.poll.registry(), &SocketOptions::of(cfg), sasl, tls, answered.as_deref()) {
            Ok(mut c) => {
                let (i, n) = self.resolver.position(&addr).unwrap_or((0, 1));
                log::debug!("connecting to broker {node} at {addr} ({sa}, address {} of {n})", i + 1);
                c.setup_timeout = setup;
                if self.track_outbuf {
                    c.outbuf = Some(Box::default());
                }
                self.conns.insert(token, c);
                self.node_conn.insert(node, token);
                Some(token)
            }
            Err((e, diagnosis)) => {
                self.resolver.failed(&addr);
                self.note_connect_failure(node, e.0, diagnosis, now, cfg);
                None
            }
        }
    }

    /// A connection to `node` failed before it became ready: back off its reconnects, keep what
    /// `diagnose` recognised for the I/O thread, and log (identical failures summarised: the
    /// first at WARN, then a count every 30 s; each one at DEBUG).
    pub fn note_connect_failure(&mut self, node: i32, error: String, diagnosis: Option<Diagnosis>, now: Instant, cfg: &ProducerConfig) {
        let error = match &diagnosis {
            Some(d) => d.message.clone(),
            None => error,
        };
        // Misconfigurations show from the first attempt; once anything worked, only an
        // advertised listener nobody reaches is still worth naming.
        if diagnosis.is_some() && (!self.ever_confirmed || self.advertised_suspect(node)) {
            self.diagnosed = diagnosis;
        }
        let r = self.reconnect.entry(node).or_insert(ReconnectState { until: now, failures: 0, last_error: String::new(), unlogged: 0, logged_at: now });
        r.failures += 1;
        let backoff = backoff(cfg.reconnect_backoff, cfg.reconnect_backoff_max, r.failures);
        r.until = now + backoff;
        if error != r.last_error {
            if r.unlogged > 0 {
                log::warn!("broker {node}: {} (repeated {} times in the last {} s)", r.last_error, r.unlogged, now.duration_since(r.logged_at).as_secs());
            }
            log::warn!("broker {node}: {error}; retrying in {backoff:?}");
            r.unlogged = 0;
            r.logged_at = now;
        } else {
            log::debug!("broker {node}: {error}; retrying in {backoff:?}");
            r.unlogged += 1;
            if now.duration_since(r.logged_at) >= REPEAT_SUMMARY_EVERY {
                log::warn!("broker {node}: {error} (repeated {} times in the last {} s)", r.unlogged, now.duration_since(r.logged_at).as_secs());
                r.unlogged = 0;
                r.logged_at = now;
            }
        }
        r.last_error = error;
    }

    /// The connection to `node` answered its first request beyond the set-up: it works, so no
    /// more backoff for its broker, and what was diagnosed no longer holds.
    pub fn connected(&mut self, node: i32) {
        if let Some(r) = self.reconnect.remove(&node) {
            if r.unlogged > 0 {
                log::warn!("broker {node}: {} (repeated {} times before the connection succeeded)", r.last_error, r.unlogged);
            }
        }
        if node < 0 {
            self.bootstrap_answered = self.bootstrap.get((-node - 1) as usize).cloned();
        } else {
            self.broker_confirmed = true;
        }
        self.ever_confirmed = true;
        self.became_ready = true;
    }

    /// How long the next attempt to `node` may take to set up: `socket.connection.setup.timeout.ms`
    /// doubled per consecutive failure up to `socket.connection.setup.timeout.max.ms`, +-20% (as
    /// the Java client grows it).
    fn setup_timeout(&self, node: i32, cfg: &ProducerConfig) -> Duration {
        let failures = self.reconnect.get(&node).map_or(0, |r| r.failures);
        let base = cfg.socket_connection_setup_timeout;
        if failures == 0 {
            return base;
        }
        let max = cfg.socket_connection_setup_timeout_max.max(base);
        let grown = base.saturating_mul(1u32 << failures.min(16)).min(max);
        grown.mul_f64(0.8 + 0.4 * fastrand::f64()).clamp(base, max)
    }

    /// A failure to reach `node` may be an advertised-listener problem: it is a broker metadata
    /// named, a bootstrap address answered, and no such broker ever did.
    fn advertised_suspect(&self, node: i32) -> bool {
        node >= 0 && self.bootstrap_answered.is_some() && !self.broker_confirmed
    }

    pub fn ready_connection(&mut self, node: i32, now: Instant, cfg: &ProducerConfig, fatal: bool) -> Option<Token> {
        let t = self.connection_for(node, now, cfg, fatal)?;
        (self.conns.get(&t)?.state == ConnState::Ready).then_some(t)
    }

    /// Any connection able to take a metadata or InitProducerId request: a ready one with the
    /// fewest requests in flight, else one being opened (to a known broker or a bootstrap
    /// address). A connection to an unanswering broker comes last: its answer would wait with the
    /// rest, so while every ready connection is to one, a connection to another known broker is
    /// opened and used once ready (the unanswering one only when there is no other broker).
    pub fn any_connection(&mut self, now: Instant, cfg: &ProducerConfig, fatal: bool) -> Option<Token> {
        let ready = self.conns.iter().filter(|(_, c)| c.state == ConnState::Ready);
        let best = ready.map(|(t, c)| (*t, oldest_wait(c, now) >= UNANSWERED_AFTER, c.inflight.len())).min_by_key(|&(_, silent, n)| (silent, n));
        if let Some((t, false, _)) = best {
            return Some(t);
        }
        if self.conns.values().any(|c| c.state != ConnState::Ready) {
            return None; // one is on its way
        }
        if let Some((silent_one, _, _)) = best {
            let unconnected: Vec<i32> = self.brokers.keys().copied().filter(|n| !self.node_conn.contains_key(n)).collect();
            if unconnected.is_empty() {
                return Some(silent_one);
            }
            let start = fastrand::usize(..unconnected.len());
            for i in 0..unconnected.len() {
                if self.connection_for(unconnected[(start + i) % unconnected.len()], now, cfg, fatal).is_some() {
                    return None; // connecting; used once ready
                }
            }
            return Some(silent_one);
        }
        let mut candidates: Vec<i32> = self.brokers.keys().copied().collect();
        // metadata.recovery.strategy=none: once metadata named brokers, only they are used.
        if cfg.metadata_rebootstrap || candidates.is_empty() {
            candidates.extend((0..self.bootstrap.len() as i32).map(|i| -i - 1));
        }
        if candidates.is_empty() {
            return None;
        }
        let start = fastrand::usize(..candidates.len());
        for i in 0..candidates.len() {
            let node = candidates[(start + i) % candidates.len()];
            if self.connection_for(node, now, cfg, fatal).is_some() {
                return None; // connecting; used once ready
            }
        }
        None
    }

    /// Takes a connection out: deregistered, forgotten for its broker, and, if it never got
    /// ready, counted as a failed attempt. The caller deals with what it carried.
    pub fn remove(&mut self, token: Token, why: &str, now: Instant, cfg: &ProducerConfig) -> Option<Connection> {
        let mut c = self.conns.remove(&token)?;
        c.deregister(self.poll.registry());
        if self.node_conn.get(&c.node_id) == Some(&token) {
            self.node_conn.remove(&c.node_id);
        }
        let was_ready = c.state == ConnState::Ready;
        if !was_ready {
            // client.dns.lookup=use_all_dns_ips: the next attempt tries the name's next address.
            self.resolver.failed(&c.addr);
        }
        if was_ready && c.inflight.is_empty() && c.unacked.is_empty() {
            log::debug!("connection to broker {} ({}) closed: {why}", c.node_id, c.addr);
        } else if was_ready && c.diagnosis.is_none() {
            log::warn!("connection to broker {} ({}) failed with {} requests in flight: {why}", c.node_id, c.addr, c.inflight.len());
        } else {
            // Set-up failures are logged (and summarised) by note_connect_failure.
            log::debug!("connection to broker {} ({}) failed during set-up: {why}", c.node_id, c.addr);
        }
        let mut diagnosis = c.diagnosis.take();
        if diagnosis.is_none() && c.state == ConnState::Connecting && self.advertised_suspect(c.node_id) {
            // A connect that timed out to a broker metadata named, while bootstrap answered.
            if let Some(boot) = &self.bootstrap_answered {
                diagnosis = Some(diagnose::advertised_unreachable(boot, &c.addr, c.node_id, why));
            }
        }
        if was_ready && diagnosis.is_none() {
            // A connection that worked and then dropped (a load balancer cutting idle
            // connections, a broker restart) is reopened at once when needed.
            self.reconnect.remove(&c.node_id);
        } else {
            self.note_connect_failure(c.node_id, why.to_string(), diagnosis, now, cfg);
        }
        Some(c)
    }

    /// Whether some ready connection's oldest request has waited `UNANSWERED_AFTER` or longer.
    pub fn any_unanswering(&self, now: Instant) -> bool {
        self.conns.values().any(|c| oldest_wait(c, now) >= UNANSWERED_AFTER)
    }

    /// When the oldest request of a ready connection that has not yet waited `UNANSWERED_AFTER`
    /// will have (the I/O loop wakes then to ask metadata; `None`: no such request).
    pub fn next_unanswered_at(&self, now: Instant) -> Option<Instant> {
        let due = self.conns.values().filter(|c| c.state == ConnState::Ready).filter_map(|c| c.inflight.front());
        due.map(|f| f.sent_at + UNANSWERED_AFTER).filter(|&at| at > now).min()
    }

    /// Connections whose oldest request has waited `UNANSWERED_AFTER` or longer, with the wait.
    pub fn unanswering(&self, now: Instant) -> Vec<(Token, Duration)> {
        let waits = self.conns.iter().map(|(t, c)| (*t, oldest_wait(c, now)));
        waits.filter(|(_, w)| *w >= UNANSWERED_AFTER).collect()
    }

    /// Connections to close: set-up, request and idle timeouts, with the reason.
    pub fn overdue(&self, now: Instant, cfg: &ProducerConfig) -> Vec<(Token, String)> {
        let (req_timeout, idle) = (cfg.request_timeout, cfg.connections_max_idle);
        let mut dead = Vec::new();
        for (t, c) in self.conns.iter() {
            if c.state != ConnState::Ready {
                if now.duration_since(c.connect_started) > c.setup_timeout {
                    dead.push((*t, format!("connection setup took longer than {} ms (socket.connection.setup.timeout.ms, grown per failed attempt up to socket.connection.setup.timeout.max.ms)", c.setup_timeout.as_millis())));
                }
            } else if let Some(f) = c.inflight.front() {
                if now.duration_since(f.sent_at) > req_timeout {
                    dead.push((*t, format!("request unanswered for request.timeout.ms ({} ms)", req_timeout.as_millis())));
                }
            } else if c.is_idle() && now.duration_since(c.last_activity) > idle {
                dead.push((*t, format!("idle for connections.max.idle.ms ({} ms)", idle.as_millis())));
            }
        }
        dead
    }

    /// Why a partition led by `leader` is not being sent, in words for an error message.
    pub fn why_not_sent(&self, leader: i32) -> String {
        if leader < 0 {
            return "the partition has no known leader".into();
        }
        match self.node_conn.get(&leader).and_then(|t| self.conns.get(t)) {
            Some(c) if c.state == ConnState::Ready => format!("broker {leader} ({}) has {} requests in flight", c.addr, c.inflight.len()),
            Some(c) => format!("the connection to broker {leader} ({}) is being set up", c.addr),
            None => match self.reconnect.get(&leader) {
                Some(r) => format!("broker {leader} is unreachable: {}", r.last_error),
                None => format!("broker {leader} is not connected"),
            },
        }
    }

    /// One line per known broker for the status report: what its connection is doing.
    pub fn describe(&self, now: Instant, s: &mut String) {
        use std::fmt::Write as _;
        let mut nodes: Vec<i32> = self.brokers.keys().copied().collect();
        nodes.sort();
        for node in nodes {
            let addr = &self.brokers[&node];
            match self.node_conn.get(&node).and_then(|t| self.conns.get(t)) {
                Some(c) if c.state == ConnState::Ready => {
                    if let Some(f) = c.inflight.front() {
                        let _ = write!(s, "; broker {node} ({addr}): {} request(s) unanswered, oldest for {:.1} s", c.inflight.len(), now.duration_since(f.sent_at).as_secs_f64());
                    } else if c.has_pending_writes() {
                        let _ = write!(s, "; broker {node} ({addr}): socket not taking data");
                    } else {
                        let _ = write!(s, "; broker {node} ({addr}): idle");
                    }
                }
                Some(c) => {
                    let _ = write!(s, "; broker {node} ({addr}): connecting for {:.1} s", now.duration_since(c.connect_started).as_secs_f64());
                }
                None => match self.reconnect.get(&node) {
                    Some(r) => {
                        let _ = write!(s, "; broker {node} ({addr}): unreachable ({})", r.last_error);
                    }
                    None => {
                        let _ = write!(s, "; broker {node} ({addr}): not connected");
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which node `any_connection` opens a connection to, with broker 1 known from metadata.
    fn first_node(rebootstrap: bool) -> i32 {
        let mut c = Connections::new(Poll::new().unwrap(), vec!["127.0.0.1:9".into()], Resolver::new(std::sync::Weak::new(), None));
        c.brokers.insert(1, "127.0.0.1:9".into());
        let cfg = ProducerConfig { metadata_rebootstrap: rebootstrap, ..ProducerConfig::default() };
        // The first calls wait for the (threaded) lookup of the address.
        for _ in 0..2000 {
            assert_eq!(c.any_connection(Instant::now(), &cfg, false), None, "connecting, not ready");
            if let Some(n) = c.node_conn.keys().next() {
                return *n;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("no connection opened")
    }

    #[test]
    fn metadata_recovery_none_never_goes_back_to_bootstrap_addresses() {
        let nodes: Vec<i32> = (0..40).map(|_| first_node(false)).collect();
        assert!(nodes.iter().all(|n| *n == 1), "{nodes:?}");
        let nodes: Vec<i32> = (0..40).map(|_| first_node(true)).collect();
        assert!(nodes.contains(&-1), "rebootstrap: bootstrap addresses stay candidates: {nodes:?}");
    }

    #[test]
    fn the_setup_timeout_doubles_per_failed_attempt_up_to_its_maximum() {
        let mut c = Connections::new(Poll::new().unwrap(), vec!["127.0.0.1:9".into()], Resolver::new(std::sync::Weak::new(), None));
        let cfg = ProducerConfig { socket_connection_setup_timeout: Duration::from_secs(10), socket_connection_setup_timeout_max: Duration::from_secs(30), ..ProducerConfig::default() };
        assert_eq!(c.setup_timeout(-1, &cfg), Duration::from_secs(10), "first attempt: the base");
        let now = Instant::now();
        c.note_connect_failure(-1, "refused".into(), None, now, &cfg);
        let t = c.setup_timeout(-1, &cfg);
        assert!(t >= Duration::from_secs(16) && t <= Duration::from_secs(24), "one failure: 20 s +-20%: {t:?}");
        for _ in 0..5 {
            c.note_connect_failure(-1, "refused".into(), None, now, &cfg);
        }
        assert!(c.setup_timeout(-1, &cfg) <= Duration::from_secs(30), "capped");
        let small_max = ProducerConfig { socket_connection_setup_timeout_max: Duration::from_secs(1), ..cfg };
        assert_eq!(c.setup_timeout(-1, &small_max), Duration::from_secs(10), "a maximum below the base: the base");
    }
}
