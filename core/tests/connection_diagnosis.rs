//! Misconfigured connections fail within seconds with an error that names the cause (issue 26).
//!
//! One real broker (`scripts/kafka up --security sasl_ssl`, state dir `$TMPDIR/rafka-diag`,
//! stopped at exit) with a listener per misconfiguration, all on ports 23100-23199 (below the
//! ephemeral range, 32768 and up, where an outgoing connection may hold a port for a while):
//! - 23100 PLAINTEXT (tools, and a TLS or SASL client pointed at the wrong port);
//! - 23102 SASL_SSL, advertised as localhost, SCRAM-SHA-512 not enabled;
//! - 23103 SSL that requires a client certificate;
//! - 23104 PLAINTEXT advertised as 127.0.0.1:23199, where nothing listens;
//! - 23105 SSL with an expired certificate (its own CA, made here with openssl).
//!
//! Plus, without a broker: a closed port (23198), an HTTP server (23110), a stand-in for a broker
//! older than Kafka 2.1 (23111, answering ApiVersions only), a name under
//! `.invalid`. Each test asserts the error's code, that its message names the cause and the
//! setting, and that it came within 5 s of the call (the bound; `max.block.ms` is 20 s).

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::secure::*;
use rafka_core::protocol::error_codes::KafkaCode;
use rafka_core::{Code, LocalCode, Producer, ProducerRecord};

const PLAIN: &str = "127.0.0.1:23100";
const SASL_SSL: &str = "localhost:23102";
const MTLS: &str = "localhost:23103";
const ADVERTISES_NOTHING: &str = "127.0.0.1:23104";
const EXPIRED: &str = "localhost:23105";
const CLOSED_PORT: &str = "127.0.0.1:23198";
const HTTP_PORT: u16 = 23110;

/// The bound on how long a misconfigured call may take to fail.
const FAST: Duration = Duration::from_secs(5);

fn expired_dir() -> PathBuf {
    std::env::temp_dir().join("rafka-diag-expired")
}

/// A CA and a server certificate for localhost that expired on 2020-01-02, as a Java PEM
/// keystore (`keystore.pem`) beside its CA (`ca.pem`).
fn make_expired_certificate() {
    let d = expired_dir();
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("ca.cnf"), "[ca]\ndefault_ca = x\n[x]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n").unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "01\n").unwrap();
    let steps: &[&[&str]] = &[
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=rafka expired-test CA"],
        &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        &["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "server.csr", "-out", "server.pem", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext"],
        &["pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-out", "server.pk8"],
    ];
    for args in steps {
        let out = std::process::Command::new("openssl").args(*args).current_dir(&d).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let keystore: Vec<u8> = ["server.pk8", "server.pem", "ca.pem"].iter().flat_map(|f| std::fs::read(d.join(f)).unwrap()).collect();
    std::fs::write(d.join("keystore.pem"), keystore).unwrap();
}

fn cluster() -> &'static SecureCluster {
    static C: OnceLock<SecureCluster> = OnceLock::new();
    C.get_or_init(|| {
        make_expired_certificate();
        let tls = std::env::temp_dir().join("rafka-diag").join("tls");
        let expired = expired_dir();
        let settings = [
            "controller.quorum.voters=1@127.0.0.1:23101".to_string(),
            format!("listeners=PLAINTEXT://{PLAIN},CONTROLLER://127.0.0.1:23101,SECURE://127.0.0.1:23102,MTLS://127.0.0.1:23103,ADV://{ADVERTISES_NOTHING},EXPIRED://127.0.0.1:23105"),
            format!("advertised.listeners=PLAINTEXT://{PLAIN},SECURE://{SASL_SSL},MTLS://{MTLS},ADV://127.0.0.1:23199,EXPIRED://{EXPIRED}"),
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL,MTLS:SSL,ADV:PLAINTEXT,EXPIRED:SSL".into(),
            "listener.name.secure.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,OAUTHBEARER".into(),
            "listener.name.mtls.ssl.keystore.type=PEM".into(),
            format!("listener.name.mtls.ssl.keystore.location={}", tls.join("server-keystore.pem").display()),
            "listener.name.mtls.ssl.truststore.type=PEM".into(),
            format!("listener.name.mtls.ssl.truststore.location={}", tls.join("ca.pem").display()),
            "listener.name.mtls.ssl.client.auth=required".into(),
            "listener.name.expired.ssl.keystore.type=PEM".into(),
            format!("listener.name.expired.ssl.keystore.location={}", expired.join("keystore.pem").display()),
        ];
        let mut extra = Vec::new();
        for s in &settings {
            extra.push("--set");
            extra.push(s.as_str());
        }
        SecureCluster::start("rafka-diag", "23100", "sasl_ssl", &extra)
    })
}

/// A producer built from `settings` on top of `bootstrap` (max.block.ms 20 s) fails its first
/// send() (or, with `flush`, the flush after it) within [`FAST`] with `code`, and a message
/// holding every one of `needles`. Returns the message.
fn fails_fast(bootstrap: &str, settings: &[(&str, &str)], topic: &str, flush: bool, code: Code, needles: &[&str]) -> String {
    let p = Producer::new(secure_config(bootstrap, settings)).unwrap();
    let t0 = Instant::now();
    let err = match p.send(&ProducerRecord::new(topic).partition(0).value(b"x")) {
        Err(e) => e,
        Ok(_) if flush => p.flush(Duration::from_secs(30)).expect_err("flush must fail"),
        Ok(f) => f.wait_timeout(Duration::from_secs(30)).expect_err("the record must fail"),
    };
    let took = t0.elapsed();
    assert!(took < FAST, "failed after {took:?}, not within {FAST:?}: {err}");
    assert_eq!(err.code(), code, "{err}");
    for n in needles {
        assert!(err.message().contains(n), "the message does not say {n:?}: {err}");
    }
    err.message().to_string()
}

fn local(code: LocalCode) -> Code {
    Code::Local(code)
}

#[test]
fn a_tls_client_at_a_plaintext_listener_is_told_to_use_plaintext() {
    let c = cluster();
    fails_fast(PLAIN, &[("security.protocol", "SSL"), ("ssl.ca.location", &c.pem("ca.pem"))], "t", false, local(LocalCode::Transport), &["is not a TLS listener", "security.protocol=PLAINTEXT"]);
}

#[test]
fn a_plaintext_client_at_a_tls_listener_is_told_to_use_ssl() {
    cluster();
    fails_fast("127.0.0.1:23102", &[], "t", false, local(LocalCode::Transport), &["is a TLS listener", "security.protocol=SSL"]);
}

#[test]
fn a_sasl_client_at_a_listener_without_sasl_is_told_to_drop_sasl() {
    cluster();
    let s = [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")];
    fails_fast(PLAIN, &s, "t", false, Code::Kafka(KafkaCode(34)), &["does not use SASL", "security.protocol=PLAINTEXT"]);
}

#[test]
fn a_client_without_sasl_at_a_sasl_listener_is_told_to_use_sasl() {
    let c = cluster();
    fails_fast(SASL_SSL, &[("security.protocol", "SSL"), ("ssl.ca.location", &c.pem("ca.pem"))], "t", false, local(LocalCode::Transport), &["requires SASL", "security.protocol=SASL_SSL"]);
}

#[test]
fn a_mechanism_the_broker_does_not_enable_is_named_with_those_it_does() {
    let c = cluster();
    let s = [("security.protocol", "SASL_SSL"), ("ssl.ca.location", &c.pem("ca.pem")), ("sasl.mechanism", "SCRAM-SHA-512"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")];
    fails_fast(SASL_SSL, &s, "t", false, Code::Kafka(KafkaCode(33)), &["does not enable SASL mechanism SCRAM-SHA-512", "PLAIN, SCRAM-SHA-256, OAUTHBEARER"]);
}

#[test]
fn wrong_credentials_fail_fast_as_an_authentication_error() {
    let c = cluster();
    let s = [("security.protocol", "SASL_SSL"), ("ssl.ca.location", &c.pem("ca.pem")), ("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "diag-wrong-pw-577")];
    let m = fails_fast(SASL_SSL, &s, "t", false, Code::Kafka(KafkaCode(58)), &["PLAIN authentication with localhost:23102 failed", "sasl.password"]);
    assert!(!m.contains("diag-wrong-pw-577"), "{m}");
}

#[test]
fn an_untrusted_ca_is_named_with_the_certificate_subject() {
    let c = cluster();
    let s = [("security.protocol", "SASL_SSL"), ("ssl.ca.location", &c.pem("other-ca.pem")), ("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")];
    fails_fast(SASL_SSL, &s, "t", false, local(LocalCode::Ssl), &["not signed by a CA this client trusts", "subject is CN=localhost", "ssl.ca.location"]);
}

#[test]
fn a_host_name_mismatch_names_the_names_the_certificate_holds() {
    let c = cluster();
    let s = [("security.protocol", "SASL_SSL"), ("ssl.ca.location", &c.pem("ca.pem")), ("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")];
    fails_fast("127.0.0.1:23102", &s, "t", false, local(LocalCode::Ssl), &["not valid for the name 127.0.0.1", "localhost", "CN=localhost"]);
}

#[test]
fn an_expired_certificate_is_named_with_its_dates() {
    cluster();
    let ca = expired_dir().join("ca.pem").display().to_string();
    fails_fast(EXPIRED, &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)], "t", false, local(LocalCode::Ssl), &["has expired on 2020-01-02 00:00:00 UTC", "valid from 2020-01-01"]);
}

#[test]
fn a_listener_requiring_a_client_certificate_says_so() {
    let c = cluster();
    fails_fast(MTLS, &[("security.protocol", "SSL"), ("ssl.ca.location", &c.pem("ca.pem"))], "t", false, local(LocalCode::Ssl), &["client certificate", "ssl.certificate.location"]);
}

#[test]
fn an_advertised_listener_nobody_can_reach_is_named_and_bootstrap_said_to_work() {
    let c = cluster();
    let t = c.topic("diag-adv");
    fails_fast(ADVERTISES_NOTHING, &[], &t, true, local(LocalCode::Transport), &["bootstrap 127.0.0.1:23104 answered", "127.0.0.1:23199 (node 1)", "advertised.listeners"]);
}

#[test]
fn an_http_server_on_the_port_is_not_kafka() {
    let l = std::net::TcpListener::bind(("127.0.0.1", HTTP_PORT)).expect("bind the HTTP port");
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    fails_fast(&format!("127.0.0.1:{HTTP_PORT}"), &[], "t", false, local(LocalCode::Transport), &["is not a Kafka broker", "HTTP server"]);
}

#[test]
fn a_closed_port_says_nothing_listens() {
    fails_fast(CLOSED_PORT, &[], "t", false, local(LocalCode::Transport), &["nothing listens on 127.0.0.1:23198", "bootstrap.servers"]);
}

#[test]
fn metadata_on_a_closed_port_fails_fast_too() {
    let p = Producer::new(secure_config(CLOSED_PORT, &[])).unwrap();
    let t0 = Instant::now();
    let e = p.metadata(None, Duration::from_secs(20)).expect_err("nothing listens");
    assert!(t0.elapsed() < FAST, "{:?}: {e}", t0.elapsed());
    assert_eq!(e.code(), local(LocalCode::Transport), "{e}");
    assert!(e.message().contains("nothing listens on 127.0.0.1:23198"), "{e}");
}

#[test]
fn a_bootstrap_name_that_does_not_resolve_says_so() {
    fails_fast("kafka-broker.invalid:9092", &[], "t", false, local(LocalCode::Resolve), &["bootstrap.servers name kafka-broker.invalid does not resolve"]);
}

/// A stand-in for a broker older than Kafka 2.1 (no real one runs on a current JVM): it answers
/// ApiVersions, as old brokers do, in the v0 format (UNSUPPORTED_VERSION for a newer request,
/// then its ranges), offering Produce 0..2 and Metadata 0..1.
fn old_broker(port: u16) {
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the old broker's port");
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || loop {
                let mut size = [0u8; 4];
                if s.read_exact(&mut size).is_err() {
                    return;
                }
                let mut req = vec![0u8; i32::from_be_bytes(size) as usize];
                if s.read_exact(&mut req).is_err() {
                    return;
                }
                let version = i16::from_be_bytes([req[2], req[3]]);
                let mut body = Vec::new();
                body.extend_from_slice(&req[4..8]); // correlation id
                body.extend_from_slice(&(if version > 0 { 35i16 } else { 0 }).to_be_bytes());
                body.extend_from_slice(&3i32.to_be_bytes());
                for (key, min, max) in [(0i16, 0i16, 2i16), (3, 0, 1), (18, 0, 0)] {
                    for v in [key, min, max] {
                        body.extend_from_slice(&v.to_be_bytes());
                    }
                }
                let mut frame = (body.len() as i32).to_be_bytes().to_vec();
                frame.extend_from_slice(&body);
                if s.write_all(&frame).is_err() {
                    return;
                }
            });
        }
    });
}

#[test]
fn a_broker_too_old_is_named_with_its_version_ranges_and_ours() {
    old_broker(23111);
    fails_fast("127.0.0.1:23111", &[], "t", false, Code::Kafka(KafkaCode(35)), &["is too old for rafka", "Produce 0..2 and Metadata 0..1", "rafka needs Produce 3..12"]);
}

#[test]
fn identical_connect_failures_are_logged_once_at_warn_then_only_counted() {
    capture_debug_logs();
    let p = Producer::new(secure_config("127.0.0.1:23197", &[("reconnect.backoff.ms", "20"), ("reconnect.backoff.max.ms", "100")])).unwrap();
    // Calls that want metadata keep the I/O thread trying (each fails fast with the diagnosis).
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        let _ = p.metadata(None, Duration::from_secs(1));
    }
    drop(p);
    let lines: Vec<String> = captured_logs().into_iter().filter(|l| l.contains("nothing listens on 127.0.0.1:23197")).collect();
    let first = lines.iter().filter(|l| l.starts_with("WARN") && !l.contains("(repeated")).count();
    let summaries = lines.iter().filter(|l| l.starts_with("WARN") && l.contains("(repeated")).count();
    let debugs = lines.iter().filter(|l| l.starts_with("DEBUG")).count();
    assert_eq!(first, 1, "one WARN for the first failure: {lines:#?}");
    assert!(summaries <= 1, "at most one count in 2 s (when the failure changed, at close): {lines:#?}");
    assert!(debugs >= 3, "each repeat is still logged at debug level: {lines:#?}");
}
