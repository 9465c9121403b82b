//! `rafka doctor` against a real broker: each problem named correctly, and exit codes 0/1/2.
//!
//! One broker of its own (`scripts/kafka up --security sasl_ssl`, state dir
//! `$TMPDIR/rafka-doctor`, stopped at exit) on ports 26100-26199 (controller 27100):
//! - 26100 PLAINTEXT, healthy (and the one `scripts/kafka pause` stops);
//! - 26102 SASL_SSL advertised as localhost (users alice/alice-secret; the harness's test CA,
//!   and `other-ca.pem`, a CA that signed nothing the broker holds);
//! - 26104 PLAINTEXT advertised as 127.0.0.1:26199, where nothing listens;
//! - 26106 PLAINTEXT advertised as kafka-1.invalid:26106, a name nothing resolves (a container's
//!   name seen from outside the container network).
//!
//! The pause test stops the one broker every other test talks to: it holds [`LOCK`] for writing,
//! the others for reading.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Once, OnceLock, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

const PLAIN: &str = "127.0.0.1:26100";
const SASL_SSL: &str = "localhost:26102";
const ADVERTISES_NOTHING: &str = "127.0.0.1:26104";
const NOTHING_LISTENS: &str = "127.0.0.1:26199";
const ADVERTISES_A_NAME: &str = "127.0.0.1:26106";
const UNRESOLVABLE: &str = "kafka-1.invalid:26106";

static LOCK: RwLock<()> = RwLock::new(());

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn state() -> PathBuf {
    std::env::temp_dir().join("rafka-doctor")
}

fn kafka(args: &[&str]) -> String {
    let out = Command::new(root().join("scripts/kafka")).args(args).env("RAFKA_KAFKA_STATE", state()).output().unwrap();
    assert!(out.status.success(), "scripts/kafka {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

extern "C" fn stop_broker() {
    let _ = Command::new(root().join("scripts/kafka")).arg("down").env("RAFKA_KAFKA_STATE", state()).output();
}

/// Starts the broker once per process (stopping one a crashed run left behind first).
fn broker() {
    static UP: OnceLock<()> = OnceLock::new();
    UP.get_or_init(|| {
        static AT_EXIT: Once = Once::new();
        // SAFETY: registering a plain extern "C" fn with no captured state.
        AT_EXIT.call_once(|| unsafe {
            libc::atexit(stop_broker);
        });
        stop_broker();
        let listeners = format!("listeners=PLAINTEXT://{PLAIN},CONTROLLER://127.0.0.1:27100,SECURE://127.0.0.1:26102,ADV://{ADVERTISES_NOTHING},NAMED://{ADVERTISES_A_NAME}");
        let advertised = format!("advertised.listeners=PLAINTEXT://{PLAIN},SECURE://{SASL_SSL},ADV://{NOTHING_LISTENS},NAMED://{UNRESOLVABLE}");
        let map = "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL,ADV:PLAINTEXT,NAMED:PLAINTEXT";
        kafka(&["up", "--port", "26100", "--security", "sasl_ssl", "--set", &listeners, "--set", &advertised, "--set", map]);
    });
}

fn topic(prefix: &str, extra: &[&str]) -> String {
    let t = format!("{prefix}-{}-{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos());
    let mut args = vec!["topic", "create", &t, "--partitions", "2"];
    args.extend_from_slice(extra);
    kafka(&args);
    // Creation reaches the broker's metadata cache asynchronously: wait until it serves the
    // topic, or the doctor could (rightly) report it unknown.
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", PLAIN).unwrap();
    rafka_core::Producer::new(c).unwrap().partition_count(&t).unwrap_or_else(|e| panic!("topic {t} never appeared: {e}"));
    t
}

/// A --command-config file for the SASL_SSL listener.
fn sasl_ssl_properties(name: &str, password: &str, ca: &str) -> String {
    let path = std::env::temp_dir().join(format!("rafka-doctor-{name}-{}.properties", std::process::id()));
    let ca = state().join("tls").join(ca);
    std::fs::write(
        &path,
        format!("# rafka doctor test\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=alice\nsasl.password={password}\nssl.ca.location={}\n", ca.display()),
    )
    .unwrap();
    path.display().to_string()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    /// The line of check `name` with `status` (e.g. "FAIL", "tls"), or a panic showing everything.
    fn line(&self, status: &str, name: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.split_whitespace().take(2).eq([status, name]))
            .unwrap_or_else(|| panic!("no {status} {name} line in:\n{}\nstderr: {}", self.stdout, self.stderr))
    }
}

fn doctor(args: &[&str]) -> Run {
    let t0 = Instant::now();
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_rafka")).arg("doctor").args(args).output().unwrap();
    Run { code: status.code(), stdout: String::from_utf8_lossy(&stdout).into(), stderr: String::from_utf8_lossy(&stderr).into(), took: t0.elapsed() }
}

#[test]
fn a_healthy_broker_exits_0_with_ok_lines_for_each_step() {
    broker();
    let _g = LOCK.read().unwrap_or_else(|e| e.into_inner());
    let t = topic("doctor-ok", &[]);
    let r = doctor(&["--bootstrap-server", PLAIN, "--topic", &t]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    for name in ["dns", "tcp", "api_versions", "metadata", "advertised_listener", "topic", "min_insync_replicas", "produce"] {
        r.line("OK", name);
    }
    // A round trip over 200 ms is a WARN: a busy machine may see one, a healthy broker still.
    assert!(r.stdout.lines().any(|l| l.starts_with("OK   latency") || l.starts_with("WARN latency")), "{}", r.stdout);
    assert!(r.line("OK", "produce").contains(&format!("wrote 21 record(s) to {t}")), "{}", r.stdout);
    assert!(r.line("OK", "min_insync_replicas").contains("min.insync.replicas=1"), "{}", r.stdout);
    // One broker: acks=all is honest about a replication factor of 1.
    assert!(r.line("WARN", "acks").contains("replication factor 1"), "{}", r.stdout);
    assert!(!r.stdout.lines().any(|l| l.starts_with("FAIL")), "{}", r.stdout);
    assert!(r.stdout.ends_with("0 FAIL") || r.stdout.contains(" 0 FAIL ("), "the summary line: {}", r.stdout);
}

#[test]
fn json_output_parses_and_lists_every_check_with_its_fields() {
    broker();
    let _g = LOCK.read().unwrap_or_else(|e| e.into_inner());
    let t = topic("doctor-json", &[]);
    let r = doctor(&["--bootstrap-server", SASL_SSL, "--command-config", &sasl_ssl_properties("json", "alice-secret", "ca.pem"), "--topic", &t, "--target-rate", "20000", "--record-size", "1000", "--json"]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(doc["security_protocol"], "SASL_SSL");
    assert_ne!(doc["status"], "FAIL");
    let checks = doc["checks"].as_array().unwrap();
    for c in checks {
        assert!(c["name"].is_string() && c["message"].is_string() && c["details"].is_object(), "{c}");
        assert!(["OK", "WARN"].contains(&c["status"].as_str().unwrap()), "{c}");
    }
    let check = |name: &str| checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} check in {}", r.stdout));
    for name in ["dns", "tcp", "api_versions", "metadata", "advertised_listener", "latency", "topic", "min_insync_replicas", "acks", "produce"] {
        check(name);
    }
    assert_eq!(check("sasl")["details"]["mechanism"], "SCRAM-SHA-256");
    assert!(check("tls")["details"]["certificate"]["days_left"].as_i64().is_some(), "{}", check("tls"));
    assert!(check("latency")["details"]["p99_ms"].as_f64().unwrap() >= check("latency")["details"]["p50_ms"].as_f64().unwrap());
    assert_eq!(check("metadata")["details"]["brokers"][0]["port"], 26102);
    let sizing = &check("sizing")["details"];
    // 20,000 records/s of 1000 B over 2 partitions in 5 ms: 50,000 B per partition -> 64 KiB.
    assert_eq!(sizing["batch_size"], 65536, "{sizing}");
    assert!(sizing["latency_measured"].as_bool().unwrap());
    assert!(sizing["buffer_memory"].as_u64().unwrap() >= 32 << 20, "{sizing}");
}

#[test]
fn an_advertised_listener_nobody_can_reach_fails_naming_it_and_the_bootstrap() {
    broker();
    let _g = LOCK.read().unwrap_or_else(|e| e.into_inner());
    let r = doctor(&["--bootstrap-server", ADVERTISES_NOTHING]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    r.line("OK", "metadata");
    let l = r.line("FAIL", "advertised_listener");
    assert!(l.contains(&format!("bootstrap {ADVERTISES_NOTHING} answered")) && l.contains(NOTHING_LISTENS) && l.contains("advertised.listeners"), "{l}");
}

#[test]
fn an_advertised_name_that_does_not_resolve_fails_naming_it_and_the_bootstrap() {
    broker();
    let _g = LOCK.read().unwrap_or_else(|e| e.into_inner());
    let r = doctor(&["--bootstrap-server", ADVERTISES_A_NAME]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let l = r.line("FAIL", "advertised_listener");
    assert!(l.contains(&format!("bootstrap {ADVERTISES_A_NAME} answered")) && l.contains(UNRESOLVABLE) && l.contains("does not resolve"), "{l}");
}

#[test]
fn a_paused_broker_fails_within_the_timeout_instead_of_hanging() {
    broker();
    let _g = LOCK.write().unwrap_or_else(|e| e.into_inner());
    struct Resume;
    impl Drop for Resume {
        fn drop(&mut self) {
            kafka(&["resume", "1"]);
        }
    }
    kafka(&["pause", "1"]);
    let _resume = Resume;
    let r = doctor(&["--bootstrap-server", PLAIN, "--timeout-ms", "2000"]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    r.line("OK", "tcp");
    let l = r.line("FAIL", "api_versions");
    assert!(l.contains("did not answer") && l.contains("paused"), "{l}");
    // 2 s per step; generous for a loaded machine, far below a hang.
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
}

#[test]
fn a_wrong_sasl_password_fails_naming_the_authentication() {
    broker();
    let _g = LOCK.read().unwrap_or_else(|e| e.into_inner());
    let r = doctor(&["--bootstrap-server", SASL_SSL, "--command-config", &sasl_ssl_properties("badpw", "not-her-password", "ca.pem")]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    r.line("OK", "tls");
    let l = r.line("FAIL", "sasl");
    assert!(l.contains("SCRAM-SHA-256 authentication with localhost:26102 failed") && l.contains("sasl.password"), "{l}");
    assert!(!r.stdout.contains("not-her-password"), "the password must not be printed: {}", r.stdout);
}

#[test]
fn an_untrusted_ca_fails_naming_the_certificate() {
    broker();
    let _g = LOCK.read().unwrap_or_else(|e| e.into_inner());
    let r = doctor(&["--bootstrap-server", SASL_SSL, "--command-config", &sasl_ssl_properties("badca", "alice-secret", "other-ca.pem")]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let l = r.line("FAIL", "tls");
    assert!(l.contains("not signed by a CA this client trusts") && l.contains("CN=localhost") && l.contains("ssl.ca.location"), "{l}");
}

#[test]
fn acks_all_with_fewer_replicas_than_min_insync_replicas_fails_with_not_enough_replicas() {
    broker();
    let _g = LOCK.read().unwrap_or_else(|e| e.into_inner());
    let t = topic("doctor-minisr", &["--config", "min.insync.replicas=2"]);
    let r = doctor(&["--bootstrap-server", PLAIN, "--topic", &t, "--acks", "all"]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    r.line("OK", "min_insync_replicas");
    let l = r.line("FAIL", "acks");
    assert!(l.contains("min.insync.replicas=2") && l.contains("NOT_ENOUGH_REPLICAS"), "{l}");
    assert!(r.line("WARN", "produce").contains("did not run"), "{}", r.stdout);
    // acks=1 does not need the ISR: the same topic passes, with the data-loss warning.
    let r = doctor(&["--bootstrap-server", PLAIN, "--topic", &t, "--acks", "1", "--probe-records", "3"]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(r.line("WARN", "acks").contains("acknowledged records are lost"), "{}", r.stdout);
    r.line("OK", "produce");
}

#[test]
fn usage_errors_exit_2() {
    let r = doctor(&["--bootstrap-server", PLAIN, "--target-rate", "1000"]);
    assert_eq!(r.code, Some(2), "--target-rate needs --record-size: {}", r.stderr);
    let r = doctor(&["--bootstrap-server", PLAIN, "--command-config", "/nonexistent/client.properties"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("cannot read /nonexistent/client.properties"), "{}", r.stderr);
}
