//! SaslAuthenticate (key 36): carries one SASL exchange step (client bytes out, server bytes
//! back) after a SaslHandshake v1.
//!
//! Versions 0..=2. v1 adds `session_lifetime_ms` to the response (KIP-368); v2 is the first
//! flexible version.

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 2;
pub const FIRST_FLEXIBLE_VERSION: i16 = 2;

/// The request. Its bytes are credentials: the Debug output leaves them out.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslAuthenticateRequest {
    pub auth_bytes: Vec<u8>,
}

impl std::fmt::Debug for SaslAuthenticateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SaslAuthenticateRequest {{ auth_bytes: [redacted; {} bytes] }}", self.auth_bytes.len())
    }
}

impl SaslAuthenticateRequest {
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "SaslAuthenticate v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        if flexible {
            buf.put_compact_bytes(&self.auth_bytes);
        } else {
            buf.put_bytes(&self.auth_bytes);
        }
        buf.put_tagged_fields_flex(flexible);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("SaslAuthenticateRequest", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let auth_bytes = if flexible { d.compact_bytes("auth_bytes")? } else { d.bytes("auth_bytes")? }.to_vec();
        d.skip_tagged_fields_flex(flexible)?;
        Ok(SaslAuthenticateRequest { auth_bytes })
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct SaslAuthenticateResponse {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub auth_bytes: Vec<u8>,
    /// v1+: how long the broker will keep the session (0: no limit); 0 before v1.
    pub session_lifetime_ms: i64,
}

impl std::fmt::Debug for SaslAuthenticateResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslAuthenticateResponse")
            .field("error_code", &self.error_code)
            .field("error_message", &self.error_message)
            .field("auth_bytes", &format_args!("[redacted; {} bytes]", self.auth_bytes.len()))
            .field("session_lifetime_ms", &self.session_lifetime_ms)
            .finish()
    }
}

impl SaslAuthenticateResponse {
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("SaslAuthenticateResponse", version, MIN_VERSION, MAX_VERSION)?;
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        let error_code = d.i16("error_code")?;
        let error_message = d.nullable_string_flex("error_message", flexible)?;
        let auth_bytes = if flexible { d.compact_bytes("auth_bytes")? } else { d.bytes("auth_bytes")? }.to_vec();
        let session_lifetime_ms = if version >= 1 { d.i64("session_lifetime_ms")? } else { 0 };
        d.skip_tagged_fields_flex(flexible)?;
        Ok(SaslAuthenticateResponse { error_code, error_message, auth_bytes, session_lifetime_ms })
    }

    /// Writes the body (tests and mock brokers).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "SaslAuthenticate v{version}");
        let flexible = version >= FIRST_FLEXIBLE_VERSION;
        buf.put_i16(self.error_code);
        buf.put_nullable_string_flex(self.error_message.as_deref(), flexible);
        if flexible {
            buf.put_compact_bytes(&self.auth_bytes);
        } else {
            buf.put_bytes(&self.auth_bytes);
        }
        if version >= 1 {
            buf.put_i64(self.session_lifetime_ms);
        }
        buf.put_tagged_fields_flex(flexible);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip_in_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            let req = SaslAuthenticateRequest { auth_bytes: b"n,,n=user,r=abc".to_vec() };
            let mut buf = Vec::new();
            req.encode(&mut buf, v);
            assert_eq!(SaslAuthenticateRequest::decode(&mut Decoder::new(&buf), v).unwrap(), req);
            let resp = SaslAuthenticateResponse {
                error_code: 58,
                error_message: Some("Authentication failed".into()),
                auth_bytes: b"r=abcdef,s=c2FsdA==,i=4096".to_vec(),
                session_lifetime_ms: if v >= 1 { 3_600_000 } else { 0 },
            };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            let mut d = Decoder::new(&buf);
            assert_eq!(SaslAuthenticateResponse::decode(&mut d, v).unwrap(), resp);
            assert!(d.is_empty());
        }
    }

    #[test]
    fn debug_output_never_shows_the_bytes() {
        let req = SaslAuthenticateRequest { auth_bytes: b"\0user\0hunter2".to_vec() };
        assert!(!format!("{req:?}").contains("hunter2"));
    }
}
