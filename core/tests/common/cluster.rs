//! A private cluster for fault tests (its own state dir and ports, started and stopped by the
//! test binary), and the checks those tests share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rafka_core::{Producer, ProducerRecord};

use super::{consume_env, init_stderr_log, kafka_env, Consumed};

/// A cluster of `brokers` brokers under its own state dir; stopped at process exit (`atexit`).
pub struct Cluster {
    pub env: Vec<(String, String)>,
    pub bootstrap: String,
}

impl Cluster {
    pub fn start(name: &str, brokers: u32, port: u16) -> Cluster {
        Cluster::start_with(name, &["--brokers", &brokers.to_string(), "--port", &port.to_string()])
    }

    /// One broker of an older Kafka `version` (e.g. "3.9.1"), stopped when the guard drops.
    pub fn start_version(name: &str, version: &str, port: u16) -> StopOnDrop {
        StopOnDrop(Cluster::start_with(name, &["--version", version, "--port", &port.to_string()]))
    }

    /// `scripts/kafka up` with `args`, under the state dir `rafka-{name}`.
    fn start_with(name: &str, args: &[&str]) -> Cluster {
        // A fixed state dir: a cluster left behind by a crashed run is stopped first.
        let state = std::env::temp_dir().join(format!("rafka-{name}"));
        let env = vec![("RAFKA_KAFKA_STATE".to_string(), state.display().to_string())];
        let mut c = Cluster { env, bootstrap: String::new() };
        let _ = std::panic::catch_unwind(|| c.kafka(&["down"]));
        let up: Vec<&str> = std::iter::once("up").chain(args.iter().copied()).collect();
        let out = c.kafka(&up);
        c.bootstrap = out.lines().last().and_then(|l| l.strip_prefix("bootstrap.servers=")).expect("up prints bootstrap.servers last").to_string();
        c
    }

    /// The one cluster of this test binary, started on first use and stopped when the process
    /// exits, pass or fail; tests that take it run one at a time.
    pub fn shared(name: &str, brokers: u32, port: u16) -> MutexGuard<'static, Cluster> {
        static C: OnceLock<Mutex<Cluster>> = OnceLock::new();
        let m = C.get_or_init(|| {
            let c = Cluster::start(name, brokers, port);
            extern "C" fn stop() {
                if let Some(m) = C.get() {
                    // A failed test poisons the mutex; the cluster must still be stopped.
                    let c = m.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.kafka(&["down"])));
                }
            }
            unsafe { libc_atexit(stop) };
            Mutex::new(c)
        });
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn kafka(&self, args: &[&str]) -> String {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        kafka_env(args, &env)
    }

    pub fn consume(&self, topic: &str, n: usize) -> Vec<Consumed> {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        consume_env(topic, n, &env)
    }

    pub fn config(&self, overrides: &[(&str, &str)]) -> rafka_core::Config {
        init_stderr_log();
        let mut c = rafka_core::Config::new();
        c.set("bootstrap.servers", &self.bootstrap).unwrap();
        for (k, v) in overrides {
            c.set(k, v).unwrap();
        }
        c
    }

    /// The leader of `topic`-`partition`, from `topic describe`.
    pub fn leader_of(&self, topic: &str, partition: i32) -> i32 {
        let out = self.kafka(&["topic", "describe", topic]);
        for line in out.lines() {
            if line.contains(&format!("Partition: {partition}\t")) || line.contains(&format!("Partition: {partition} ")) {
                if let Some(rest) = line.split("Leader: ").nth(1) {
                    return rest.split_whitespace().next().unwrap().parse().unwrap();
                }
            }
        }
        panic!("no leader for {topic}-{partition} in:\n{out}");
    }
}

/// A cluster stopped when this is dropped (at the end of the test that started it, pass or fail).
pub struct StopOnDrop(pub Cluster);

impl std::ops::Deref for StopOnDrop {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.0
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.kafka(&["down"])));
    }
}

extern "C" {
    #[link_name = "atexit"]
    fn libc_atexit(f: extern "C" fn()) -> i32;
}

/// Sends keyed records numbered 0, 1, 2... from a thread until `stop()` is called; collects every
/// delivery error.
pub struct StreamingSender {
    stop: Arc<std::sync::atomic::AtomicBool>,
    failures: Arc<Mutex<Vec<String>>>,
    handle: std::thread::JoinHandle<usize>,
}

impl StreamingSender {
    pub fn start(p: &Arc<Producer>, topic: &str, keys: usize, pause_every: usize, pause: Duration) -> StreamingSender {
        let failures = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, topic, f, s) = (p.clone(), topic.to_string(), failures.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let mut i = 0usize;
            while !s.load(std::sync::atomic::Ordering::SeqCst) {
                let f = f.clone();
                p.send_with_callback(&ProducerRecord::new(&topic).key(format!("k{}", i % keys).as_bytes()).value(format!("{i}").as_bytes()), move |d| {
                    if let Some(e) = d.error {
                        f.lock().unwrap().push(e.to_string());
                    }
                })
                .unwrap();
                i += 1;
                if i.is_multiple_of(pause_every) {
                    std::thread::sleep(pause);
                }
            }
            i
        });
        StreamingSender { stop, failures, handle }
    }

    /// Stops sending; returns how many records were sent and the delivery errors.
    pub fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let n = self.handle.join().unwrap();
        let f = self.failures.lock().unwrap().clone();
        (n, f)
    }
}

/// Every record value (a number) appears once, and per key in increasing order. Negative values
/// are markers outside the numbered stream.
pub fn assert_exactly_once_in_key_order(got: Vec<Consumed>) {
    let mut seen = std::collections::HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for r in got {
        let v: i64 = String::from_utf8(r.value.unwrap()).unwrap().parse().unwrap();
        assert!(seen.insert(v), "record {v} stored twice");
        if v >= 0 {
            let k = String::from_utf8(r.key.unwrap()).unwrap();
            let prev = last.insert(k.clone(), v);
            assert!(prev.is_none_or(|p| p < v), "key {k}: {v} stored after {prev:?}");
        }
    }
}
