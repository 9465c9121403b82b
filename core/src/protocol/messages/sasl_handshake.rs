//! SaslHandshake (key 17): the client names the SASL mechanism it wants; the broker says whether
//! it has it and lists those it has.
//!
//! Versions 0..=1, never flexible. v1 means the authentication bytes that follow travel in
//! SaslAuthenticate requests (KIP-152) rather than as raw frames; rafka sends only v1.

use super::check_version;
use crate::protocol::primitives::{DecodeError, Decoder, WireWrite};

pub const MIN_VERSION: i16 = 0;
pub const MAX_VERSION: i16 = 1;
pub const FIRST_FLEXIBLE_VERSION: i16 = i16::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeRequest {
    pub mechanism: String,
}

impl SaslHandshakeRequest {
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "SaslHandshake v{version}");
        buf.put_string(&self.mechanism);
    }

    /// Reads a request body (tests and mock brokers).
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("SaslHandshakeRequest", version, MIN_VERSION, MAX_VERSION)?;
        Ok(SaslHandshakeRequest { mechanism: d.string("mechanism")? })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeResponse {
    pub error_code: i16,
    /// The mechanisms the broker has enabled on this listener.
    pub mechanisms: Vec<String>,
}

impl SaslHandshakeResponse {
    pub fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {
        check_version("SaslHandshakeResponse", version, MIN_VERSION, MAX_VERSION)?;
        let error_code = d.i16("error_code")?;
        let n = d.array_len("mechanisms", 2)?;
        let mut mechanisms = Vec::with_capacity(n);
        for _ in 0..n {
            mechanisms.push(d.string("mechanisms")?);
        }
        Ok(SaslHandshakeResponse { error_code, mechanisms })
    }

    /// Writes the body (tests and mock brokers).
    pub fn encode(&self, buf: &mut Vec<u8>, version: i16) {
        assert!((MIN_VERSION..=MAX_VERSION).contains(&version), "SaslHandshake v{version}");
        buf.put_i16(self.error_code);
        buf.put_array_len(self.mechanisms.len());
        for m in &self.mechanisms {
            buf.put_string(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip_in_every_version() {
        for v in MIN_VERSION..=MAX_VERSION {
            let req = SaslHandshakeRequest { mechanism: "SCRAM-SHA-512".into() };
            let mut buf = Vec::new();
            req.encode(&mut buf, v);
            assert_eq!(SaslHandshakeRequest::decode(&mut Decoder::new(&buf), v).unwrap(), req);
            let resp = SaslHandshakeResponse { error_code: 33, mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-256".into()] };
            let mut buf = Vec::new();
            resp.encode(&mut buf, v);
            assert_eq!(SaslHandshakeResponse::decode(&mut Decoder::new(&buf), v).unwrap(), resp);
        }
    }
}
