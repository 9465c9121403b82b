//! Test support: the broker the test command started (`RAFKA_BOOTSTRAP`), topics made with
//! `scripts/kafka`, and records read back with Kafka's own Java consumer (`scripts/kafka consume`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn kafka_script() -> PathBuf {
    repo_root().join("scripts/kafka")
}

/// The bootstrap servers of the running test cluster. Fails (never skips) without one.
pub fn bootstrap() -> String {
    std::env::var("RAFKA_BOOTSTRAP").unwrap_or_else(|_| {
        panic!("RAFKA_BOOTSTRAP is not set: these tests need a Kafka broker. Run ./scripts/test, or `scripts/kafka up` and export RAFKA_BOOTSTRAP=<its bootstrap.servers>")
    })
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh topic name for one test.
pub fn unique_topic(prefix: &str) -> String {
    format!("{prefix}-{}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), fastrand::u32(..))
}

/// Runs `scripts/kafka ARGS` with the environment of the cluster under test; panics with its
/// output when it fails.
pub fn kafka(args: &[&str]) -> String {
    kafka_env(args, &[])
}

pub fn kafka_env(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(kafka_script());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run scripts/kafka");
    if !out.status.success() {
        panic!("scripts/kafka {args:?} failed: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn create_topic(name: &str, partitions: u32) {
    kafka(&["topic", "create", name, "--partitions", &partitions.to_string()]);
}

/// Waits until the broker at `bootstrap` serves metadata for a just-created topic (creation
/// reaches the brokers' metadata caches asynchronously), so that a test's own producer with a
/// short `max.block.ms` measures what it means to.
pub fn await_topic(bootstrap: &str, topic: &str) {
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", bootstrap).unwrap();
    let p = rafka_core::Producer::new(c).unwrap();
    p.partition_count(topic).unwrap_or_else(|e| panic!("topic {topic} never appeared: {e}"));
}

/// One record as Kafka's Java consumer read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Reads `expected` records of `topic` from the beginning with `scripts/kafka consume`.
pub fn consume(topic: &str, expected: usize) -> Vec<Consumed> {
    consume_env(topic, expected, &[])
}

pub fn consume_env(topic: &str, expected: usize, env: &[(&str, &str)]) -> Vec<Consumed> {
    let out = kafka_env(&["consume", topic, "--max", &expected.to_string(), "--timeout", "20"], env);
    out.lines().filter(|l| l.starts_with('{')).map(|l| parse_record(&serde_json::from_str(l).expect("consume prints JSON"))).collect()
}

fn bytes_field(v: &Value, field: &str, encoding_field: &str) -> Option<Vec<u8>> {
    let s = v.get(field)?.as_str()?;
    let base64 = v.get(encoding_field).and_then(|e| e.as_str()) == Some("base64");
    Some(if base64 { b64_decode(s) } else { s.as_bytes().to_vec() })
}

fn parse_record(v: &Value) -> Consumed {
    let headers = v
        .get("headers")
        .and_then(|h| h.as_array())
        .map(|hs| hs.iter().map(|h| (h["key"].as_str().unwrap_or_default().to_string(), bytes_field(h, "value", "value_encoding"))).collect())
        .unwrap_or_default();
    Consumed {
        partition: v["partition"].as_i64().unwrap() as i32,
        offset: v["offset"].as_i64().unwrap(),
        timestamp: v["timestamp"].as_i64().unwrap(),
        key: bytes_field(v, "key", "key_encoding"),
        value: bytes_field(v, "value", "value_encoding"),
        headers,
    }
}

pub fn b64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => panic!("bad base64 {c}"),
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    out
}

/// A producer configuration for the test cluster, with overrides.
pub fn config(overrides: &[(&str, &str)]) -> rafka_core::Config {
    init_stderr_log();
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", &bootstrap()).unwrap();
    for (k, v) in overrides {
        c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    c
}

/// The partitions Kafka's own Java client (`Utils.murmur2`, `toPositive(h) % n`) assigns to keys,
/// computed by running Java against the kafka-clients jar, not by our code.
pub fn java_partitions(keys: &[Vec<u8>], partitions: u32) -> Vec<u32> {
    let dir = std::env::temp_dir().join(format!("rafka-keys-{}-{}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let keys_file = dir.join("keys.hex");
    let hex: Vec<String> = keys.iter().map(|k| k.iter().map(|b| format!("{b:02x}")).collect()).collect();
    std::fs::write(&keys_file, hex.join("\n")).unwrap();
    let cp = kafka(&["classpath"]).trim().to_string();
    let out = Command::new("java")
        .args(["-cp", &cp])
        .arg(repo_root().join("core/tests/java/JavaPartition.java"))
        .arg(&keys_file)
        .arg(partitions.to_string())
        .output()
        .expect("run java");
    assert!(out.status.success(), "JavaPartition failed: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect()
}

/// One record as kcat (librdkafka) read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcatRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Reads `expected` records of `topic` from the beginning with kcat, librdkafka's CLI. Each
/// record is printed as a text line `partition offset keyLength valueLength` (-1 for null)
/// followed by the raw key and value bytes, which is unambiguous for binary data.
pub fn kcat_consume(topic: &str, expected: usize) -> Vec<KcatRecord> {
    let out = Command::new("kcat")
        .args(["-C", "-b", &bootstrap(), "-t", topic, "-o", "beginning", "-e", "-q", "-c", &expected.to_string()])
        .args(["-X", "fetch.message.max.bytes=16777216", "-f", "%p %o %K %S\n%k%s"])
        .output()
        .expect("run kcat (apt-get install kcat)");
    assert!(out.status.success(), "kcat failed: {}", String::from_utf8_lossy(&out.stderr));
    let data = out.stdout;
    let mut records = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let nl = at + data[at..].iter().position(|b| *b == b'\n').expect("kcat record header line");
        let header = std::str::from_utf8(&data[at..nl]).expect("kcat header is text");
        let f: Vec<i64> = header.split(' ').map(|x| x.parse().unwrap_or_else(|_| panic!("bad kcat header {header:?}"))).collect();
        assert_eq!(f.len(), 4, "kcat header {header:?}");
        at = nl + 1;
        let mut field = |len: i64| -> Option<Vec<u8>> {
            if len < 0 {
                return None;
            }
            let v = data[at..at + len as usize].to_vec();
            at += len as usize;
            Some(v)
        };
        let key = field(f[2]);
        let value = field(f[3]);
        records.push(KcatRecord { partition: f[0] as i32, offset: f[1], key, value });
    }
    records
}

/// The codec of every batch stored for `topic`-`partition`, as Kafka's own `DumpLogSegments`
/// reads the broker's log files (`compresscodec: lz4` and so on), in log order. The files are
/// found under the state dir of `scripts/kafka` (`RAFKA_KAFKA_STATE`, default /tmp/rafka-kafka).
pub fn broker_batch_codecs(topic: &str, partition: i32) -> Vec<String> {
    let state = std::env::var("RAFKA_KAFKA_STATE").unwrap_or_else(|_| "/tmp/rafka-kafka".into());
    let dir = std::fs::read_dir(&state)
        .unwrap_or_else(|e| panic!("cannot read the broker state dir {state} ({e}): set RAFKA_KAFKA_STATE to the cluster's"))
        .flatten()
        .map(|n| n.path().join("data").join(format!("{topic}-{partition}")))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| panic!("no log dir of {topic}-{partition} under {state}/node-*/data"));
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "log")).collect();
    logs.sort();
    let cp = kafka(&["classpath"]).trim().to_string();
    let mut codecs = Vec::new();
    for log in logs {
        let out = Command::new("java").args(["-cp", &cp, "org.apache.kafka.tools.DumpLogSegments", "--files"]).arg(&log).output().expect("run DumpLogSegments");
        assert!(out.status.success(), "DumpLogSegments failed: {}", String::from_utf8_lossy(&out.stderr));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(rest) = line.split("compresscodec: ").nth(1) {
                assert!(line.contains("isvalid: true"), "DumpLogSegments finds a bad batch: {line}");
                codecs.push(rest.split_whitespace().next().unwrap_or_default().to_string());
            }
        }
    }
    codecs
}

pub mod cluster;
pub mod secure;

/// With `RAFKA_TEST_LOG=error|warn|info|debug|trace`, the engine's log goes to stderr (shown for
/// failing tests), for finding out why a test failed.
pub fn init_stderr_log() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            eprintln!("{:?} {} {}: {}", std::time::SystemTime::now(), r.level(), r.target(), r.args());
        }
        fn flush(&self) {}
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    let Ok(level) = std::env::var("RAFKA_TEST_LOG") else { return };
    ONCE.call_once(|| {
        if log::set_logger(&Stderr).is_ok() {
            log::set_max_level(level.parse().unwrap_or(log::LevelFilter::Info));
        }
    });
}
