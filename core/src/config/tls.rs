//! TLS for broker connections: a rustls client configuration built once from the `ssl.*`
//! settings, and the per-connection `rustls::ClientConnection` that `Connection` drives from the
//! same mio readiness events as a plain socket (no thread per connection).

use std::io::BufReader;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring as provider_ring, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion};

use super::Secret;

/// The `ssl.*` settings, as PEM text (a file's content or the value given inline).
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// Trusted CAs; None: the system's bundle.
    pub ca_pem: Option<String>,
    /// Client certificate chain and key, for mutual TLS.
    pub cert_pem: Option<String>,
    pub key_pem: Option<Secret>,
    /// `ssl.key.password`: decrypts a PKCS#8 `ENCRYPTED PRIVATE KEY`.
    pub key_password: Option<Secret>,
    /// `ssl.endpoint.identification.algorithm=https` (the default): the certificate must name the
    /// broker's host.
    pub verify_hostname: bool,
    /// `enable.ssl.certificate.verification` (default true); false accepts any certificate.
    pub verify_certificates: bool,
    /// `ssl.cipher.suites`; None: rustls's defaults.
    pub cipher_suites: Option<Vec<SupportedCipherSuite>>,
    /// From `ssl.enabled.protocols` / `ssl.protocol`; None: TLS 1.2 and 1.3.
    pub versions: Option<Vec<&'static SupportedProtocolVersion>>,
    /// `ssl.crl.location`'s content: certificate revocation lists (PEM).
    pub crl_pem: Option<String>,
}

/// The TLS 1.2 and 1.3 suites rustls has, by IANA (Java) name and OpenSSL name.
fn suite_names() -> [(&'static str, &'static str, SupportedCipherSuite); 9] {
    use provider_ring::cipher_suite as s;
    [
        ("TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", s::TLS13_AES_128_GCM_SHA256),
        ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", s::TLS13_AES_256_GCM_SHA384),
        ("TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", s::TLS13_CHACHA20_POLY1305_SHA256),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", s::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", s::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
        ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", s::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", s::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
        ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", s::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
        ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", s::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ]
}

/// `ssl.cipher.suites`: names separated by commas, colons or spaces (Java lists, OpenSSL cipher
/// strings), each an IANA/Java or OpenSSL name of a suite rustls has. Anything else (an older
/// suite, OpenSSL's `HIGH:!aNULL` syntax) is an error naming it.
pub fn cipher_suites(v: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let table = suite_names();
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for name in v.split([',', ':', ' ']).map(str::trim).filter(|n| !n.is_empty()) {
        // rustls spells TLS 1.3 suites TLS13_...; accept that too.
        let iana = name.strip_prefix("TLS13_").map(|r| format!("TLS_{r}")).unwrap_or_else(|| name.to_string());
        match table.iter().find(|(i, o, _)| i.eq_ignore_ascii_case(&iana) || o.eq_ignore_ascii_case(name)) {
            Some((_, _, s)) if !out.contains(s) => out.push(*s),
            Some(_) => {}
            None => unknown.push(name.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "cipher suites rafka's TLS (rustls) has; not supported: {}; supported: {}",
            unknown.join(", "),
            table.iter().map(|(i, o, _)| if i == o { i.to_string() } else { format!("{i} ({o})") }).collect::<Vec<_>>().join(", ")
        ));
    }
    if out.is_empty() {
        return Err("at least one cipher suite".into());
    }
    Ok(out)
}

/// `ssl.enabled.protocols` / `ssl.protocol`: TLSv1.2 and TLSv1.3 (Java's `TLS`: both).
pub fn versions(v: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let mut out: Vec<&'static SupportedProtocolVersion> = Vec::new();
    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let add: &[&'static SupportedProtocolVersion] = match name.to_ascii_uppercase().as_str() {
            "TLSV1.2" => &[&rustls::version::TLS12],
            "TLSV1.3" => &[&rustls::version::TLS13],
            "TLS" => &[&rustls::version::TLS12, &rustls::version::TLS13],
            _ => return Err(format!("TLSv1.2 or TLSv1.3: rafka supports TLS 1.2 and 1.3 only, not {name}")),
        };
        for a in add {
            if !out.contains(a) {
                out.push(a);
            }
        }
    }
    if out.is_empty() {
        return Err("TLSv1.2 and/or TLSv1.3".into());
    }
    Ok(out)
}

/// System CA bundles, as librdkafka probes them.
const SYSTEM_BUNDLES: &[&str] = &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// Builds the client configuration; errors say what is wrong without quoting a key.
pub fn client_config(s: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    let mut provider = provider_ring::default_provider();
    if let Some(suites) = &s.cipher_suites {
        provider.cipher_suites = suites.clone();
    }
    let provider = Arc::new(provider);
    let mut roots = RootCertStore::empty();
    let ca = match &s.ca_pem {
        Some(p) => p.clone(),
        None => SYSTEM_BUNDLES.iter().find_map(|f| std::fs::read_to_string(f).ok()).ok_or("no CA given (ssl.ca.location) and no system CA bundle found")?,
    };
    for c in certs(&ca)? {
        roots.add(c).map_err(|e| format!("a CA certificate is not usable: {e}"))?;
    }
    if roots.is_empty() {
        return Err("the CA PEM holds no certificate".into());
    }
    let roots = Arc::new(roots);
    let versions = s.versions.clone().unwrap_or_else(|| vec![&rustls::version::TLS12, &rustls::version::TLS13]);
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_protocol_versions(&versions).map_err(|e| {
        format!("TLS setup: {e} (ssl.cipher.suites has no suite for the enabled protocol versions {})", versions.iter().map(|v| format!("{:?}", v.version)).collect::<Vec<_>>().join(", "))
    })?;
    let crls = match &s.crl_pem {
        Some(pem) => {
            let crls = rustls_pemfile::crls(&mut BufReader::new(pem.as_bytes())).collect::<Result<Vec<CertificateRevocationListDer<'static>>, _>>().map_err(|e| format!("bad CRL PEM (ssl.crl.location): {e}"))?;
            if crls.is_empty() {
                return Err("ssl.crl.location holds no X509 CRL".into());
            }
            crls
        }
        None => Vec::new(),
    };
    let with_crls = !crls.is_empty();
    let webpki = || {
        let b = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone()).with_crls(crls.clone());
        // As librdkafka (OpenSSL's X509_V_FLAG_CRL_CHECK): the broker's own certificate is checked.
        let b = if with_crls { b.only_check_end_entity_revocation() } else { b };
        b.build().map_err(|e| format!("TLS setup: {e}"))
    };
    let verifier: Arc<dyn ServerCertVerifier> = if !s.verify_certificates {
        log::warn!("enable.ssl.certificate.verification=false: ANY broker certificate is accepted (no CA, host name or expiry check); connections can be intercepted. Use only for testing");
        Arc::new(AcceptAnyCertificate(provider.signature_verification_algorithms))
    } else {
        if !s.verify_hostname {
            log::warn!("ssl.endpoint.identification.algorithm=none: broker certificates are checked against the CA but not against the broker's host name");
        }
        Arc::new(WebPki { inner: webpki()?, forgive_name: !s.verify_hostname })
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
    let config = match (&s.cert_pem, &s.key_pem) {
        (Some(cert), Some(key)) => builder.with_client_auth_cert(certs(cert)?, private_key(key.expose(), s.key_password.as_ref().map(Secret::expose))?).map_err(|e| format!("the client certificate and key do not fit: {e}"))?,
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("mutual TLS needs both a client certificate (ssl.certificate.location) and its key (ssl.key.location)".into()),
    };
    Ok(Arc::new(config))
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    rustls_pemfile::certs(&mut BufReader::new(pem.as_bytes())).collect::<Result<Vec<_>, _>>().map_err(|e| format!("bad certificate PEM: {e}"))
}

/// The client's private key: unencrypted PKCS#8/PKCS#1/SEC1, or PKCS#8 encrypted with
/// `password` (`ssl.key.password`). Errors never quote the key or the password.
fn private_key(pem: &str, password: Option<&str>) -> Result<PrivateKeyDer<'static>, String> {
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let password = password.ok_or("the private key is encrypted: set ssl.key.password")?;
        let (label, der) = pkcs8::der::pem::decode_vec(pem_block(pem, "ENCRYPTED PRIVATE KEY").as_bytes()).map_err(|_| "the encrypted key PEM is not readable")?;
        debug_assert_eq!(label, "ENCRYPTED PRIVATE KEY");
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|_| "the encrypted key is not PKCS#8 EncryptedPrivateKeyInfo")?;
        let plain = info.decrypt(password).map_err(|_| "ssl.key.password does not decrypt the private key (wrong password, or a cipher other than PBES2 with AES-CBC)")?;
        return Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()));
    }
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err("the private key uses OpenSSL's legacy PEM encryption; convert it to encrypted PKCS#8 (openssl pkcs8 -topk8 -v2 aes-256-cbc)".into());
    }
    match rustls_pemfile::private_key(&mut BufReader::new(pem.as_bytes())) {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err("the key PEM holds no private key".into()),
        Err(_) => Err("the key PEM is not readable".into()),
    }
}

/// The first `-----BEGIN LABEL-----` ... `-----END LABEL-----` block of `pem`, markers included.
fn pem_block<'a>(pem: &'a str, label: &str) -> &'a str {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let from = pem.find(&begin).unwrap_or(0);
    let to = pem[from..].find(&end).map_or(pem.len(), |i| from + i + end.len());
    &pem[from..to]
}

/// The server name a connection to `addr` ("host:port") verifies.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| format!("{host} is not a valid TLS server name: {e}"))
}

/// `enable.ssl.certificate.verification=false`: the certificate is not checked at all; the
/// handshake's signatures still are (they prove the peer holds the key it presented).
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(&self, _: &CertificateDer<'_>, _: &[CertificateDer<'_>], _: &ServerName<'_>, _: &[u8], _: UnixTime) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

thread_local! {
    /// The certificate the last failed verification on this thread rejected (DER): the I/O
    /// thread reads it right after the handshake error, to name its subject and dates.
    static REJECTED: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// The broker certificate the last verification on this thread rejected, if any (taken).
pub(crate) fn take_rejected_cert() -> Option<Vec<u8>> {
    REJECTED.with(|r| r.borrow_mut().take())
}

/// The CA (and, unless `forgive_name`, host name) check: webpki's, keeping the certificate it
/// rejects for the error message (rustls does not hand it out after a failed handshake).
/// `forgive_name` is `ssl.endpoint.identification.algorithm=none`: the chain must still lead to a
/// trusted CA; only a name mismatch is forgiven.
#[derive(Debug)]
struct WebPki {
    inner: Arc<WebPkiServerVerifier>,
    forgive_name: bool,
}

impl ServerCertVerifier for WebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let r = match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) if self.forgive_name => Ok(ServerCertVerified::assertion()),
            r => r,
        };
        if r.is_err() {
            REJECTED.with(|c| *c.borrow_mut() = Some(end_entity.to_vec()));
        }
        r
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
