//! TLS for broker connections: a rustls client configuration built once from the `ssl.*`
//! settings, and the per-connection `rustls::ClientConnection` that `Connection` drives from the
//! same mio readiness events as a plain socket (no thread per connection).

use std::io::BufReader;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

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
}

/// System CA bundles, as librdkafka probes them.
const SYSTEM_BUNDLES: &[&str] = &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// Builds the client configuration; errors say what is wrong without quoting a key.
pub fn client_config(s: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
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
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if s.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        log::warn!("ssl.endpoint.identification.algorithm=none: broker certificates are checked against the CA but not against the broker's host name");
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider).build().map_err(|e| format!("TLS setup: {e}"))?;
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoHostnameCheck(inner)))
    };
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

/// `ssl.endpoint.identification.algorithm=none`: the chain must still lead to a trusted CA;
/// only a name mismatch is forgiven.
#[derive(Debug)]
struct NoHostnameCheck(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for NoHostnameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
