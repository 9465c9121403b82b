//! SASL against a real broker with a SASL_PLAINTEXT listener (`scripts/kafka up --security
//! sasl_plaintext`, its own state dir and ports, stopped at exit): every mechanism authenticates
//! and its records read back with Kafka's own consumer; bad credentials fail fast with an
//! authentication error; and no secret reaches the debug-level log.

mod common;

use std::sync::OnceLock;

use common::secure::*;
use rafka_core::{Producer, ProducerBuilder};

fn cluster() -> &'static SecureCluster {
    static C: OnceLock<SecureCluster> = OnceLock::new();
    C.get_or_init(|| {
        capture_debug_logs();
        SecureCluster::start("rafka-security-sasl", "19642", "sasl_plaintext", &[])
    })
}

fn sasl_config(c: &SecureCluster, settings: &[(&str, &str)]) -> rafka_core::Config {
    let mut cfg = c.config(&[("security.protocol", "SASL_PLAINTEXT")]);
    for (k, v) in settings {
        cfg.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    cfg
}

/// Bad credentials: send() and the records already pending fail within seconds with
/// SASL_AUTHENTICATION_FAILED (58), not with a delivery timeout.
fn assert_fails_fast(c: &SecureCluster, settings: &[(&str, &str)]) {
    c.assert_fails_fast(sasl_config(c, settings), "");
}

/// One record to partition 0, waited for.
fn send_one(p: &Producer, topic: &str, value: &str) -> rafka_core::DeliveryResult {
    match p.send(&rafka_core::ProducerRecord::new(topic).partition(0).value(value.as_bytes())) {
        Ok(f) => f.wait_timeout(std::time::Duration::from_secs(30)),
        Err(e) => Err(e),
    }
}

/// Long enough for connections.max.idle.ms (1 s) to close every connection, whose check runs
/// about once a second.
const IDLE_CUT: std::time::Duration = std::time::Duration::from_millis(3500);

#[test]
fn set_sasl_credentials_are_used_by_connections_opened_afterwards_and_open_ones_keep_theirs() {
    let c = cluster();
    let t = c.topic("sasl-rotate");
    let settings = [("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "alice-secret"), ("connections.max.idle.ms", "1000")];
    let p = Producer::new(sasl_config(c, &settings)).unwrap();
    send_one(&p, &t, "as-alice").expect("delivered with the configured credentials");
    // Rotated to another valid user: the connections opened after the idle cut authenticate.
    p.set_sasl_credentials("bob", "bob-secret").unwrap();
    std::thread::sleep(IDLE_CUT);
    send_one(&p, &t, "as-bob").expect("delivered over a connection opened with bob's credentials");
    // Replaced by a wrong password: the open connection keeps working...
    p.set_sasl_credentials("bob", "not-bobs-password").unwrap();
    send_one(&p, &t, "still-open").expect("delivered over the connection opened before the change");
    // ...and the first connection opened afterwards is refused by the broker.
    std::thread::sleep(IDLE_CUT);
    let err = send_one(&p, &t, "refused").expect_err("a new connection authenticates with the wrong password");
    assert_eq!(err.code(), rafka_core::Code::Kafka(rafka_core::protocol::error_codes::KafkaCode(58)), "{err}");
    let got = common::consume_env(&t, 3, &c.env());
    let values: Vec<String> = got.iter().map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap()).collect();
    assert_eq!(values, ["as-alice", "as-bob", "still-open"]);
}

#[test]
fn set_sasl_credentials_is_refused_naming_why_without_sasl_with_oauthbearer_or_an_empty_username() {
    let c = cluster();
    let plain = Producer::new(c.config(&[])).unwrap();
    let e = plain.set_sasl_credentials("alice", "alice-secret").unwrap_err();
    assert_eq!(e.code(), rafka_core::Code::Local(rafka_core::LocalCode::InvalidArgument), "{e}");
    assert!(e.message().contains("does not authenticate with SASL"), "{e}");
    let oauth = Producer::new(sasl_config(c, &[("sasl.mechanism", "OAUTHBEARER"), ("sasl.oauthbearer.token", &unsecured_jwt("alice"))])).unwrap();
    let e = oauth.set_sasl_credentials("alice", "alice-secret").unwrap_err();
    assert!(e.message().contains("OAUTHBEARER"), "{e}");
    let scram = Producer::new(sasl_config(c, &[("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.username", "bob"), ("sasl.password", "bob-secret")])).unwrap();
    let e = scram.set_sasl_credentials("", "x").unwrap_err();
    assert!(e.message().contains("username is empty"), "{e}");
}

#[test]
fn plain_authenticates_and_records_read_back() {
    let c = cluster();
    let t = c.topic("sasl-plain");
    let p = Producer::new(sasl_config(c, &[("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")])).unwrap();
    c.produce_and_read_back(p, &t);
}

#[test]
fn scram_sha_256_authenticates_and_records_read_back() {
    let c = cluster();
    let t = c.topic("sasl-scram256");
    let p = Producer::new(sasl_config(c, &[("sasl.mechanisms", "SCRAM-SHA-256"), ("sasl.username", "bob"), ("sasl.password", "bob-secret")])).unwrap();
    c.produce_and_read_back(p, &t);
}

#[test]
fn scram_sha_512_with_java_jaas_config_authenticates_and_records_read_back() {
    let c = cluster();
    let t = c.topic("sasl-scram512");
    let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";"#;
    let p = Producer::new(sasl_config(c, &[("sasl.mechanism", "SCRAM-SHA-512"), ("sasl.jaas.config", jaas)])).unwrap();
    c.produce_and_read_back(p, &t);
}

#[test]
fn oauthbearer_static_token_authenticates_and_records_read_back() {
    let c = cluster();
    let t = c.topic("sasl-oauth");
    let p = Producer::new(sasl_config(c, &[("sasl.mechanism", "OAUTHBEARER"), ("sasl.oauthbearer.token", &unsecured_jwt("alice"))])).unwrap();
    c.produce_and_read_back(p, &t);
}

#[test]
fn oauthbearer_token_provider_is_asked_for_each_connection() {
    let c = cluster();
    let t = c.topic("sasl-oauth-cb");
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls2 = calls.clone();
    let p = ProducerBuilder::new(sasl_config(c, &[("sasl.mechanism", "OAUTHBEARER")]))
        .oauthbearer_token_provider(move || {
            calls2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(unsecured_jwt("bob"))
        })
        .build()
        .unwrap();
    c.produce_and_read_back(p, &t);
    assert!(calls.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

#[test]
fn wrong_password_fails_fast_with_an_authentication_error() {
    let c = cluster();
    for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        assert_fails_fast(c, &[("sasl.mechanism", m), ("sasl.username", "alice"), ("sasl.password", "wrong-password-123")]);
    }
}

#[test]
fn unknown_user_fails_fast_with_an_authentication_error() {
    let c = cluster();
    for m in ["PLAIN", "SCRAM-SHA-512"] {
        assert_fails_fast(c, &[("sasl.mechanism", m), ("sasl.username", "mallory"), ("sasl.password", "mallory-pw-456")]);
    }
}

#[test]
fn debug_logs_never_contain_a_password_or_token() {
    let c = cluster();
    // Its own successes and failures, so the scan sees SASL traffic whatever else runs.
    let t = c.topic("sasl-logscan");
    let token = unsecured_jwt("alice");
    let ok = Producer::new(sasl_config(c, &[("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")])).unwrap();
    c.produce_and_read_back(ok, &t);
    let ok = Producer::new(sasl_config(c, &[("sasl.mechanism", "OAUTHBEARER"), ("sasl.oauthbearer.token", &token)])).unwrap();
    c.produce_and_read_back(ok, &t);
    assert_fails_fast(c, &[("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "wrong-password-123")]);
    // The signature-less JWT's claims part is the secret-bearing bit; check it alone too.
    let claims = token.split('.').nth(1).unwrap();
    assert_logs_hold_no_secret(&["alice-secret", "bob-secret", "wrong-password-123", "mallory-pw-456", &token, claims]);
}
