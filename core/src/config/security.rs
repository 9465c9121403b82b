//! `security.protocol`, SASL and TLS: the settings a connection is secured with, built from the
//! `sasl.*` and `ssl.*` keys.

use std::fmt;

use super::{Config, ConfigError, Secret};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
    OAuthBearer,
}

impl SaslMechanism {
    pub(super) fn parse(v: &str) -> Result<SaslMechanism, String> {
        match v.to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            "OAUTHBEARER" => Ok(SaslMechanism::OAuthBearer),
            "GSSAPI" => Err("PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER: GSSAPI (Kerberos) is not supported by rafka".into()),
            _ => Err("one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER".into()),
        }
    }

    /// The name Kafka uses in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// Supplies an OAUTHBEARER token each time a connection authenticates (set with
/// `ProducerBuilder::oauthbearer_token_provider`). Runs on the I/O thread: it must not block for
/// long. An Err fails the authentication with that message (which must not contain the token).
pub type TokenProvider = std::sync::Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// How to authenticate with SASL.
#[derive(Clone)]
pub struct SaslConfig {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
    /// OAUTHBEARER: the static token (`sasl.oauthbearer.token`).
    pub token: Option<Secret>,
    /// OAUTHBEARER: the callback, which wins over the static token.
    pub token_provider: Option<TokenProvider>,
}

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslConfig")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("token", &self.token)
            .field("token_provider", &self.token_provider.as_ref().map(|_| "[callback]"))
            .finish()
    }
}

impl SaslConfig {
    /// The OAUTHBEARER token to send now.
    pub fn current_token(&self) -> Result<Secret, String> {
        if let Some(p) = &self.token_provider {
            return p().map(Secret::new).map_err(|e| format!("the OAUTHBEARER token provider failed: {e}"));
        }
        self.token.clone().ok_or_else(|| "no OAUTHBEARER token: set sasl.oauthbearer.token or a token provider".into())
    }
}

/// The connection's security.
#[derive(Clone, Debug, Default)]
pub struct SecurityConfig {
    /// Set for SASL_PLAINTEXT and SASL_SSL.
    pub sasl: Option<SaslConfig>,
    /// Set for SSL and SASL_SSL.
    pub tls: Option<TlsClient>,
}

/// A ready rustls client configuration (built once, shared by every connection).
#[derive(Clone)]
pub struct TlsClient(pub std::sync::Arc<rustls::ClientConfig>);

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsClient")
    }
}

impl Config {
    pub(super) fn build_security(&self) -> Result<SecurityConfig, ConfigError> {
        let protocol = self.raw("security.protocol").unwrap_or("PLAINTEXT").to_ascii_uppercase();
        let mechanism = match self.raw("sasl.mechanism") {
            Some(m) => SaslMechanism::parse(m).expect("checked at set"),
            None if protocol.starts_with("SASL") => {
                return Err(ConfigError::Conflict(format!(
                    "security.protocol={protocol} needs sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER); its Java default, GSSAPI, is not supported by rafka"
                )))
            }
            None => SaslMechanism::Plain,
        };
        let tls = if protocol.ends_with("SSL") { Some(self.build_tls()?) } else { None };
        if !protocol.starts_with("SASL") {
            return Ok(SecurityConfig { sasl: None, tls });
        }
        let mut username = self.raw("sasl.username").map(str::to_string);
        let mut password = self.raw("sasl.password").map(Secret::new);
        if let Some(jaas) = self.raw("sasl.jaas.config") {
            let (module, opts) = parse_jaas(jaas).map_err(|why| ConfigError::Invalid {
                key: "sasl.jaas.config".into(),
                value: "[redacted]".into(),
                expected: why,
            })?;
            let expected_module = match mechanism {
                SaslMechanism::Plain => "PlainLoginModule",
                SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => "ScramLoginModule",
                SaslMechanism::OAuthBearer => "OAuthBearerLoginModule",
            };
            if !module.ends_with(expected_module) {
                return Err(ConfigError::Conflict(format!("sasl.jaas.config names {module}, but sasl.mechanism={} needs {expected_module}", mechanism.name())));
            }
            for (k, v) in opts {
                match k.as_str() {
                    "username" if username.is_none() => username = Some(v),
                    "password" if password.is_none() => password = Some(Secret::new(v)),
                    _ => {}
                }
            }
        }
        let token = self.raw("sasl.oauthbearer.token").map(Secret::new);
        if mechanism != SaslMechanism::OAuthBearer && (username.is_none() || password.is_none()) {
            return Err(ConfigError::Conflict(format!(
                "sasl.mechanism={} needs a username and a password: set sasl.username and sasl.password, or sasl.jaas.config",
                mechanism.name()
            )));
        }
        Ok(SecurityConfig {
            tls,
            sasl: Some(SaslConfig {
                mechanism,
                username: username.unwrap_or_default(),
                password: password.unwrap_or_default(),
                token,
                token_provider: None,
            }),
        })
    }
}

impl Config {
    /// The rustls configuration from the `ssl.*` keys: PEM files (librdkafka's `*.location`) or
    /// PEM text (Java's `ssl.truststore.certificates` etc. with `*.type=PEM`).
    pub(super) fn build_tls(&self) -> Result<TlsClient, ConfigError> {
        let invalid = |key: &str, why: String| ConfigError::Invalid { key: key.into(), value: self.raw(key).map(|v| if key.contains("key") { "[redacted]".into() } else { v.to_string() }).unwrap_or_default(), expected: why };
        let file = |key: &str| -> Result<Option<String>, ConfigError> {
            match self.raw(key) {
                Some(path) => std::fs::read_to_string(path).map(Some).map_err(|e| invalid(key, format!("a readable PEM file ({e})"))),
                None => Ok(None),
            }
        };
        let ca_pem = match file("ssl.ca.location")? {
            Some(p) => Some(p),
            None => self.raw("ssl.truststore.certificates").map(str::to_string),
        };
        let cert_pem = match file("ssl.certificate.location")? {
            Some(p) => Some(p),
            None => self.raw("ssl.keystore.certificate.chain").map(str::to_string),
        };
        let key_pem = match file("ssl.key.location")? {
            Some(p) => Some(Secret::new(p)),
            None => self.raw("ssl.keystore.key").map(Secret::new),
        };
        let verify_hostname = !matches!(self.raw("ssl.endpoint.identification.algorithm").map(|v| v.to_ascii_lowercase()).as_deref(), Some("none" | ""));
        let key_password = self.raw("ssl.key.password").map(Secret::new);
        let verify_certificates = self.raw("enable.ssl.certificate.verification").is_none_or(|v| v.eq_ignore_ascii_case("true"));
        let cipher_suites = self.raw("ssl.cipher.suites").map(|v| super::tls::cipher_suites(v).expect("checked at set"));
        // ssl.enabled.protocols lists the versions; ssl.protocol alone names the highest one.
        let versions = match (self.raw("ssl.enabled.protocols"), self.raw("ssl.protocol")) {
            (Some(list), _) => Some(super::tls::versions(list).expect("checked at set")),
            (None, Some(p)) => {
                let v = super::tls::versions(p).expect("checked at set");
                Some(if v.contains(&&rustls::version::TLS13) { vec![&rustls::version::TLS12, &rustls::version::TLS13] } else { v })
            }
            (None, None) => None,
        };
        let crl_pem = file("ssl.crl.location")?;
        let settings = super::tls::TlsSettings { ca_pem, cert_pem, key_pem, key_password, verify_hostname, verify_certificates, cipher_suites, versions, crl_pem };
        super::tls::client_config(&settings).map(TlsClient).map_err(|why| ConfigError::Conflict(format!("TLS settings: {why}")))
    }
}

/// Reads Java's `sasl.jaas.config`: `<LoginModule class> required key="value" ...;`. Returns
/// the class and the options. Errors never quote the text (it holds the password).
pub(super) fn parse_jaas(s: &str) -> Result<(String, Vec<(String, String)>), String> {
    let s = s.trim();
    let s = s.strip_suffix(';').ok_or("a JAAS entry ending in ';'")?.trim();
    let (module, mut rest) = s.split_once(char::is_whitespace).ok_or("'<LoginModule> required key=\"value\" ...;'")?;
    rest = rest.trim_start();
    let flag_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let flag = &rest[..flag_end];
    if !matches!(flag, "required" | "requisite" | "sufficient" | "optional") {
        return Err("a control flag (required) after the login module".into());
    }
    rest = rest[flag_end..].trim_start();
    let mut opts = Vec::new();
    while !rest.is_empty() {
        let (k, r) = rest.split_once('=').ok_or("options of the form key=\"value\"")?;
        let r = r.trim_start();
        let (v, r) = if let Some(q) = r.strip_prefix('"') {
            let end = q.find('"').ok_or("a closing '\"' for every quoted value")?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = r.find(char::is_whitespace).unwrap_or(r.len());
            (r[..end].to_string(), &r[end..])
        };
        opts.push((k.trim().to_string(), v));
        rest = r.trim_start();
    }
    Ok((module.to_string(), opts))
}
