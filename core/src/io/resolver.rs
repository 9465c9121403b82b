//! Broker addresses to socket addresses, off the I/O thread.
//!
//! `getaddrinfo` blocks, sometimes for many seconds (a DNS server that does not answer), and the
//! I/O thread serves every broker: a lookup there would stall them all. So each lookup runs on a
//! short-lived thread of its own (lookups happen once per connection attempt sequence, not per
//! request), which wakes the I/O thread when it has an answer. The I/O thread owns this room and
//! asks it for the address to try next:
//! - no answer yet: wait (a lookup older than the connection set-up timeout fails the attempt);
//! - an answer: the addresses of the allowed family (`broker.address.family`), tried one after the
//!   other as attempts fail (`client.dns.lookup=use_all_dns_ips`); the one that worked is used
//!   again for reconnects; when every address has failed, the name is looked up again.
//!
//! A lookup that never returns leaves its thread blocked in the C library, but at most one per
//! name: a second is not started while the first is pending.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::config::AddressFamily;
use crate::shared::Inner;

/// An application's resolver (`ProducerBuilder::resolver`): `host:port` to its addresses, in
/// the order to try them. Runs on a lookup thread, never on the I/O thread.
pub type ResolveFn = Arc<dyn Fn(&str) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// What a lookup thread hands back: the name and its answer.
type Answer = (String, io::Result<Vec<SocketAddr>>);

enum Lookup {
    Pending { started: Instant },
    Done { addrs: Vec<SocketAddr>, next: usize },
    /// The name does not resolve (to an address of the allowed family): reported to one
    /// attempt, then forgotten, so the attempt after the backoff looks it up again.
    Failed { why: String, cause: Unresolved },
}

/// Why a name gave no address to connect to, for the diagnosis.
#[derive(Debug)]
pub(super) enum Unresolved {
    /// The lookup failed.
    Error(io::Error),
    /// It resolved, but to no address of `broker.address.family` (these are what it has).
    WrongFamily(AddressFamily, Vec<SocketAddr>),
    /// The lookup has not answered within the set-up timeout.
    Timeout,
}

/// The answer to "where do I connect to `host:port`".
pub(super) enum Resolution {
    Connect(SocketAddr),
    /// The lookup is under way; the I/O thread is woken when it ends.
    Waiting,
    /// The attempt fails: the error in words, and its cause.
    Failed(String, Unresolved),
}

pub(super) struct Resolver {
    lookups: HashMap<String, Lookup>,
    /// Written by lookup threads, taken by the I/O thread.
    answers: Arc<Mutex<Vec<Answer>>>,
    /// Woken when an answer arrives; weak, so a lookup that hangs does not keep a closed
    /// producer's state alive.
    inner: Weak<Inner>,
    custom: Option<ResolveFn>,
    /// Lookup threads not joined yet: joined once finished, and waited for (briefly) when the
    /// I/O thread ends, so that a producer closed during a lookup leaves no thread behind.
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// How long the end of the I/O thread waits for lookups still running (a DNS server that does
/// not answer); after that their threads are left to finish on their own.
const LOOKUP_WAIT_AT_CLOSE: Duration = Duration::from_secs(2);

impl Drop for Resolver {
    fn drop(&mut self) {
        let end = Instant::now() + LOOKUP_WAIT_AT_CLOSE;
        for t in std::mem::take(&mut self.threads) {
            while !t.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(1));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Resolver {
    pub fn new(inner: Weak<Inner>, custom: Option<ResolveFn>) -> Resolver {
        Resolver { lookups: HashMap::new(), answers: Arc::default(), inner, custom, threads: Vec::new() }
    }

    /// The address to connect to for `addr` (`host:port`) now. `timeout`: how long a lookup may
    /// take before the attempt fails (`socket.connection.setup.timeout.ms`).
    pub fn resolve(&mut self, addr: &str, family: AddressFamily, now: Instant, timeout: Duration) -> Resolution {
        self.take_answers(family);
        match self.lookups.get(addr) {
            None => {
                self.start(addr, now);
                Resolution::Waiting
            }
            Some(Lookup::Pending { started }) => {
                let waited = now.saturating_duration_since(*started);
                if waited > timeout {
                    Resolution::Failed(format!("the DNS lookup of {addr} has not answered in {} ms (socket.connection.setup.timeout.ms is {} ms)", waited.as_millis(), timeout.as_millis()), Unresolved::Timeout)
                } else {
                    Resolution::Waiting
                }
            }
            Some(Lookup::Failed { .. }) => match self.lookups.remove(addr) {
                Some(Lookup::Failed { why, cause }) => Resolution::Failed(why, cause),
                _ => unreachable!("matched above"),
            },
            Some(Lookup::Done { addrs, next }) => match addrs.get(*next) {
                Some(a) => Resolution::Connect(*a),
                None => {
                    // Every address failed: look the name up again (its addresses may have moved).
                    self.lookups.remove(addr);
                    self.start(addr, now);
                    Resolution::Waiting
                }
            },
        }
    }

    /// The attempt to the current address of `addr` failed: the next attempt takes the next one.
    pub fn failed(&mut self, addr: &str) {
        if let Some(Lookup::Done { next, .. }) = self.lookups.get_mut(addr) {
            *next += 1;
        }
    }

    /// How many addresses `addr` resolved to and which one is in use, for messages.
    pub fn position(&self, addr: &str) -> Option<(usize, usize)> {
        match self.lookups.get(addr) {
            Some(Lookup::Done { addrs, next }) => Some((*next, addrs.len())),
            _ => None,
        }
    }

    fn start(&mut self, addr: &str, now: Instant) {
        self.lookups.insert(addr.to_string(), Lookup::Pending { started: now });
        let (name, answers, inner, custom) = (addr.to_string(), self.answers.clone(), self.inner.clone(), self.custom.clone());
        let spawned = std::thread::Builder::new().name("rafka-dns".into()).spawn(move || {
            let answer = match &custom {
                Some(f) => f(&name),
                None => name.to_socket_addrs().map(Iterator::collect),
            };
            answers.lock().unwrap_or_else(|e| e.into_inner()).push((name, answer));
            if let Some(inner) = inner.upgrade() {
                inner.wake_io();
            }
        });
        match spawned {
            Ok(t) => self.threads.push(t),
            Err(e) => {
            // No thread to spare: the answer is an error, seen at the next call.
                self.answers.lock().unwrap_or_else(|e| e.into_inner()).push((addr.to_string(), Err(io::Error::other(format!("cannot start a DNS lookup thread: {e}")))));
            }
        }
    }

    fn take_answers(&mut self, family: AddressFamily) {
        if self.threads.iter().any(|t| t.is_finished()) {
            for t in std::mem::take(&mut self.threads) {
                if t.is_finished() {
                    let _ = t.join();
                } else {
                    self.threads.push(t);
                }
            }
        }
        let answers = std::mem::take(&mut *self.answers.lock().unwrap_or_else(|e| e.into_inner()));
        for (name, answer) in answers {
            let lookup = match answer {
                Ok(all) => {
                    let allowed: Vec<SocketAddr> = all.iter().copied().filter(|a| family.allows(a)).collect();
                    log::debug!("{name} resolves to {all:?}; trying {allowed:?}");
                    if allowed.is_empty() && all.is_empty() {
                        Lookup::Failed { why: format!("{name} resolves to no address"), cause: Unresolved::Error(io::Error::other("no address")) }
                    } else if allowed.is_empty() {
                        Lookup::Failed { why: format!("{name} resolves to no {family:?} address (broker.address.family), only to {all:?}"), cause: Unresolved::WrongFamily(family, all) }
                    } else {
                        Lookup::Done { addrs: allowed, next: 0 }
                    }
                }
                Err(e) => Lookup::Failed { why: format!("cannot resolve {name}: {e}"), cause: Unresolved::Error(e) },
            };
            self.lookups.insert(name, lookup);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(r: &mut Resolver, addr: &str, family: AddressFamily) -> Resolution {
        let start = Instant::now();
        loop {
            match r.resolve(addr, family, Instant::now(), Duration::from_secs(30)) {
                Resolution::Waiting if start.elapsed() < Duration::from_secs(10) => std::thread::sleep(Duration::from_millis(5)),
                other => return other,
            }
        }
    }

    #[test]
    fn address_family_filters_resolved_addresses() {
        let mut r = Resolver::new(Weak::new(), None);
        match settle(&mut r, "127.0.0.1:9", AddressFamily::V6) {
            Resolution::Failed(why, _) => assert!(why.contains("no V6 address") && why.contains("broker.address.family"), "{why}"),
            _ => panic!("a v4 literal has no v6 address"),
        }
    }

    #[test]
    fn failed_addresses_are_tried_in_turn_then_looked_up_again() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c2 = calls.clone();
        let custom: ResolveFn = Arc::new(move |_: &str| {
            c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(vec!["10.0.0.1:9092".parse().unwrap(), "10.0.0.2:9092".parse().unwrap()])
        });
        let mut r = Resolver::new(Weak::new(), Some(custom));
        let addr_of = |res: Resolution| match res {
            Resolution::Connect(a) => a.to_string(),
            _ => panic!("expected an address"),
        };
        assert_eq!(addr_of(settle(&mut r, "b:9092", AddressFamily::Any)), "10.0.0.1:9092");
        assert_eq!(addr_of(settle(&mut r, "b:9092", AddressFamily::Any)), "10.0.0.1:9092", "kept until it fails");
        r.failed("b:9092");
        assert_eq!(addr_of(settle(&mut r, "b:9092", AddressFamily::Any)), "10.0.0.2:9092");
        r.failed("b:9092");
        assert_eq!(addr_of(settle(&mut r, "b:9092", AddressFamily::Any)), "10.0.0.1:9092");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2, "looked up again once both failed");
    }

    #[test]
    fn a_hanging_lookup_fails_the_attempt_at_the_timeout_and_is_not_started_twice() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c2 = calls.clone();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let custom: ResolveFn = Arc::new(move |_: &str| {
            c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = wait.lock().unwrap().recv();
            Ok(vec!["10.0.0.1:9092".parse().unwrap()])
        });
        let mut r = Resolver::new(Weak::new(), Some(custom));
        let t0 = Instant::now();
        assert!(matches!(r.resolve("slow:9092", AddressFamily::Any, t0, Duration::from_millis(100)), Resolution::Waiting));
        let later = t0 + Duration::from_millis(150);
        match r.resolve("slow:9092", AddressFamily::Any, later, Duration::from_millis(100)) {
            Resolution::Failed(why, Unresolved::Timeout) => assert!(why.contains("DNS lookup of slow:9092 has not answered"), "{why}"),
            _ => panic!("the lookup is overdue"),
        }
        assert!(matches!(r.resolve("slow:9092", AddressFamily::Any, later, Duration::from_millis(100)), Resolution::Failed(..)));
        std::thread::sleep(Duration::from_millis(200)); // the lookup thread has long started
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "one lookup, not one per attempt");
        release.send(()).unwrap();
        match settle(&mut r, "slow:9092", AddressFamily::Any) {
            Resolution::Connect(a) => assert_eq!(a.to_string(), "10.0.0.1:9092"),
            _ => panic!("answered at last"),
        }
    }
}
