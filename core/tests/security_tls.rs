//! TLS against real brokers (`scripts/kafka up --security sasl_ssl|ssl`, own state dirs and
//! ports, stopped at exit; a test CA made with openssl): SASL over TLS for every mechanism, an
//! untrusted CA and a host name mismatch rejected fast, mutual TLS with and without a client
//! certificate.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::secure::*;
use rafka_core::{Code, LocalCode, Producer, ProducerRecord};

/// A SASL_SSL listener, server authentication only.
fn sasl_ssl() -> &'static SecureCluster {
    static C: OnceLock<SecureCluster> = OnceLock::new();
    C.get_or_init(|| {
        capture_debug_logs();
        SecureCluster::start("rafka-security-sasl-ssl", "19652", "sasl_ssl", &[])
    })
}

/// An SSL listener that requires a client certificate.
fn mtls() -> &'static SecureCluster {
    static C: OnceLock<SecureCluster> = OnceLock::new();
    C.get_or_init(|| {
        capture_debug_logs();
        SecureCluster::start("rafka-security-mtls", "19662", "ssl", &["--set", "listener.name.secure.ssl.client.auth=required"])
    })
}

fn config(bootstrap: &str, settings: &[(&str, &str)]) -> rafka_core::Config {
    secure_config(bootstrap, settings)
}

#[test]
fn sasl_ssl_every_mechanism_authenticates_and_records_read_back() {
    let c = sasl_ssl();
    let ca = c.pem("ca.pem");
    for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let t = c.topic("sasl-ssl");
        let cfg = config(&c.secure_bootstrap, &[("security.protocol", "SASL_SSL"), ("ssl.ca.location", &ca), ("sasl.mechanism", m), ("sasl.username", "alice"), ("sasl.password", "alice-secret")]);
        c.produce_and_read_back(Producer::new(cfg).unwrap(), &t);
    }
    let t = c.topic("sasl-ssl-oauth");
    let token = unsecured_jwt("bob");
    let cfg = config(&c.secure_bootstrap, &[("security.protocol", "SASL_SSL"), ("ssl.ca.location", &ca), ("sasl.mechanism", "OAUTHBEARER"), ("sasl.oauthbearer.token", &token)]);
    c.produce_and_read_back(Producer::new(cfg).unwrap(), &t);
}

#[test]
fn wrong_password_over_tls_fails_fast_with_an_authentication_error() {
    let c = sasl_ssl();
    let cfg = config(&c.secure_bootstrap, &[("security.protocol", "SASL_SSL"), ("ssl.ca.location", &c.pem("ca.pem")), ("sasl.mechanism", "SCRAM-SHA-512"), ("sasl.username", "alice"), ("sasl.password", "tls-wrong-pw-789")]);
    c.assert_fails_fast(cfg, "");
}

#[test]
fn java_pem_strings_work_like_pem_files() {
    let c = sasl_ssl();
    let ca = std::fs::read_to_string(c.pem("ca.pem")).unwrap();
    let t = c.topic("sasl-ssl-pem");
    let cfg = config(
        &c.secure_bootstrap,
        &[("security.protocol", "SASL_SSL"), ("ssl.truststore.type", "PEM"), ("ssl.truststore.certificates", &ca), ("sasl.mechanism", "PLAIN"), ("sasl.username", "bob"), ("sasl.password", "bob-secret")],
    );
    c.produce_and_read_back(Producer::new(cfg).unwrap(), &t);
}

#[test]
fn an_untrusted_ca_is_rejected_fast() {
    let c = sasl_ssl();
    let cfg = config(&c.secure_bootstrap, &[("security.protocol", "SASL_SSL"), ("ssl.ca.location", &c.pem("other-ca.pem")), ("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")]);
    c.assert_fails_fast_with(cfg, Code::Local(LocalCode::Ssl), "UnknownIssuer");
}

#[test]
fn a_host_name_mismatch_is_rejected_unless_verification_is_off() {
    let c = sasl_ssl();
    // The certificate names localhost only; 127.0.0.1 does not match.
    let by_ip = c.secure_bootstrap.replace("localhost", "127.0.0.1");
    let base = [("security.protocol", "SASL_SSL"), ("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")];
    let ca = c.pem("ca.pem");
    let mut s = base.to_vec();
    s.push(("ssl.ca.location", &ca));
    c.assert_fails_fast_with(config(&by_ip, &s), Code::Local(LocalCode::Ssl), "not valid for the name 127.0.0.1");
    s.push(("ssl.endpoint.identification.algorithm", "none"));
    let t = c.topic("tls-noverify");
    c.produce_and_read_back(Producer::new(config(&by_ip, &s)).unwrap(), &t);
}

#[test]
fn mutual_tls_works_with_a_client_certificate_and_fails_without() {
    let c = mtls();
    let ca = c.pem("ca.pem");
    let (cert, key) = (c.pem("client.pem"), c.pem("client.key"));
    let t = c.topic("mtls");
    let cfg = config(&c.secure_bootstrap, &[("security.protocol", "SSL"), ("ssl.ca.location", &ca), ("ssl.certificate.location", &cert), ("ssl.key.location", &key)]);
    c.produce_and_read_back(Producer::new(cfg).unwrap(), &t);
    let t0 = Instant::now();
    let cfg = config(&c.secure_bootstrap, &[("security.protocol", "SSL"), ("ssl.ca.location", &ca), ("max.block.ms", "8000")]);
    let p = Producer::new(cfg).unwrap();
    let t2 = c.topic("mtls-bad");
    let err = p.send(&ProducerRecord::new(&t2).partition(0).value(b"x")).and_then(|f| f.wait_timeout(Duration::from_secs(15))).expect_err("no client certificate must fail");
    assert!(t0.elapsed() < Duration::from_secs(15), "{err}");
}

/// `client.key` encrypted as PKCS#8 (PBES2, AES-256-CBC) with `password`, written beside it.
fn encrypted_client_key(c: &SecureCluster, password: &str) -> String {
    let out = c.pem("client-encrypted.key");
    let st = std::process::Command::new("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", &c.pem("client.key"), "-out", &out, "-passout", &format!("pass:{password}")])
        .status()
        .expect("run openssl");
    assert!(st.success(), "openssl pkcs8 failed");
    out
}

#[test]
fn an_encrypted_client_key_works_with_ssl_key_password_and_is_refused_without_it() {
    let c = mtls();
    let key = encrypted_client_key(c, "key-pass-314");
    let (ca, cert) = (c.pem("ca.pem"), c.pem("client.pem"));
    let base = [("security.protocol", "SSL"), ("ssl.ca.location", ca.as_str()), ("ssl.certificate.location", cert.as_str()), ("ssl.key.location", key.as_str())];
    let t = c.topic("mtls-enc");
    let mut s = base.to_vec();
    s.push(("ssl.key.password", "key-pass-314"));
    c.produce_and_read_back(Producer::new(config(&c.secure_bootstrap, &s)).unwrap(), &t);

    let err = Producer::new(config(&c.secure_bootstrap, &base)).err().expect("an encrypted key without a password is refused").to_string();
    assert!(err.contains("set ssl.key.password"), "{err}");
    let mut s = base.to_vec();
    s.push(("ssl.key.password", "not-the-pass-271"));
    let err = Producer::new(config(&c.secure_bootstrap, &s)).err().expect("a wrong key password is refused").to_string();
    assert!(err.contains("does not decrypt"), "{err}");
    assert!(!err.contains("not-the-pass-271"), "the password must not be quoted: {err}");
}

#[test]
fn debug_logs_of_tls_connections_hold_no_password_key_or_token() {
    // Its own successes and failures, so the scan sees TLS and SASL traffic whatever else runs.
    let c = sasl_ssl();
    let ca = c.pem("ca.pem");
    let t = c.topic("tls-logscan");
    let ok = config(&c.secure_bootstrap, &[("security.protocol", "SASL_SSL"), ("ssl.ca.location", &ca), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.username", "alice"), ("sasl.password", "alice-secret")]);
    c.produce_and_read_back(Producer::new(ok).unwrap(), &t);
    let token = unsecured_jwt("alice");
    let ok = config(&c.secure_bootstrap, &[("security.protocol", "SASL_SSL"), ("ssl.ca.location", &ca), ("sasl.mechanism", "OAUTHBEARER"), ("sasl.oauthbearer.token", &token)]);
    c.produce_and_read_back(Producer::new(ok).unwrap(), &t);
    let bad = config(&c.secure_bootstrap, &[("security.protocol", "SASL_SSL"), ("ssl.ca.location", &ca), ("sasl.mechanism", "PLAIN"), ("sasl.username", "alice"), ("sasl.password", "tls-logscan-wrong-161")]);
    c.assert_fails_fast(bad, "");

    let m = mtls();
    let key_pem = std::fs::read_to_string(m.pem("client.key")).unwrap();
    let t = m.topic("mtls-logscan");
    let ok = config(&m.secure_bootstrap, &[("security.protocol", "SSL"), ("ssl.ca.location", &m.pem("ca.pem")), ("ssl.keystore.certificate.chain", &std::fs::read_to_string(m.pem("client.pem")).unwrap()), ("ssl.keystore.key", &key_pem)]);
    m.produce_and_read_back(Producer::new(ok).unwrap(), &t);

    // The key's base64 body, line by line: any fragment of it in a log is a leak.
    let key_lines: Vec<&str> = key_pem.lines().filter(|l| !l.starts_with("-----") && l.len() > 20).collect();
    let claims = token.split('.').nth(1).unwrap();
    let mut secrets = vec!["alice-secret", "tls-logscan-wrong-161", token.as_str(), claims];
    secrets.extend(key_lines);
    assert_logs_hold_no_secret(&secrets);
}

/// A CRL signed by the test CA that revokes `revoke` (PEM paths), or nothing; written beside them.
fn crl(c: &SecureCluster, name: &str, revoke: Option<&str>) -> String {
    let dir = std::path::PathBuf::from(c.pem(&format!("crl-{name}")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    let cnf = format!("[ca]\ndefault_ca = d\n[d]\ndatabase = {0}/index.txt\ncrlnumber = {0}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n", dir.display());
    std::fs::write(dir.join("ca.cnf"), cnf).unwrap();
    let openssl = |args: &[&str]| {
        let (cnf, key, cert) = (dir.join("ca.cnf").display().to_string(), c.pem("ca.key"), c.pem("ca.pem"));
        let mut all = vec!["ca", "-config", &cnf, "-keyfile", &key, "-cert", &cert];
        all.extend_from_slice(args);
        let out = std::process::Command::new("openssl").args(&all).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    if let Some(cert) = revoke {
        openssl(&["-revoke", cert]);
    }
    let out = dir.join("list.crl").display().to_string();
    openssl(&["-gencrl", "-out", &out]);
    out
}

fn mtls_settings(c: &SecureCluster) -> Vec<(&'static str, String)> {
    vec![("security.protocol", "SSL".into()), ("ssl.ca.location", c.pem("ca.pem")), ("ssl.certificate.location", c.pem("client.pem")), ("ssl.key.location", c.pem("client.key"))]
}

fn mtls_config(c: &SecureCluster, extra: &[(&str, &str)]) -> rafka_core::Config {
    let base = mtls_settings(c);
    let mut s: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.extend_from_slice(extra);
    config(&c.secure_bootstrap, &s)
}

#[test]
fn ssl_crl_location_rejects_a_revoked_broker_certificate() {
    let c = mtls();
    let none_revoked = crl(c, "empty", None);
    let t = c.topic("crl-ok");
    c.produce_and_read_back(Producer::new(mtls_config(c, &[("ssl.crl.location", &none_revoked)])).unwrap(), &t);
    let revoked = crl(c, "server", Some(&c.pem("server.pem")));
    c.assert_fails_fast_with(mtls_config(c, &[("ssl.crl.location", &revoked)]), Code::Local(LocalCode::Ssl), "Revoked");
}

#[test]
fn certificate_verification_off_accepts_a_certificate_of_an_unknown_ca() {
    let c = mtls();
    let other = c.pem("other-ca.pem");
    c.assert_fails_fast_with(mtls_config(c, &[("ssl.ca.location", &other)]), Code::Local(LocalCode::Ssl), "UnknownIssuer");
    let t = c.topic("noverify");
    c.produce_and_read_back(Producer::new(mtls_config(c, &[("ssl.ca.location", &other), ("enable.ssl.certificate.verification", "false")])).unwrap(), &t);
}

#[test]
fn tls_versions_and_cipher_suites_reach_the_handshake() {
    let c = mtls();
    // The broker's key is RSA: an RSA suite over TLS 1.2, by OpenSSL name, works...
    let t = c.topic("tls12");
    c.produce_and_read_back(Producer::new(mtls_config(c, &[("ssl.enabled.protocols", "TLSv1.2"), ("ssl.cipher.suites", "ECDHE-RSA-AES128-GCM-SHA256")])).unwrap(), &t);
    let t = c.topic("tls13");
    c.produce_and_read_back(Producer::new(mtls_config(c, &[("ssl.protocol", "TLSv1.3"), ("ssl.cipher.suites", "TLS_CHACHA20_POLY1305_SHA256")])).unwrap(), &t);
    // ...and offering only ECDSA suites, which an RSA certificate cannot serve, fails the handshake.
    c.assert_fails_fast_with(mtls_config(c, &[("ssl.enabled.protocols", "TLSv1.2"), ("ssl.cipher.suites", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")]), Code::Local(LocalCode::Ssl), "");
    // A TLS 1.2 suite with only TLS 1.3 enabled can never negotiate: refused when built.
    let e = Producer::new(mtls_config(c, &[("ssl.enabled.protocols", "TLSv1.3"), ("ssl.cipher.suites", "ECDHE-RSA-AES128-GCM-SHA256")])).err().expect("no usable suite").to_string();
    assert!(e.contains("ssl.cipher.suites has no suite for the enabled protocol versions"), "{e}");
}
