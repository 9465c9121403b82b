//! The client side of the SASL mechanisms rafka speaks: PLAIN (RFC 4616), SCRAM-SHA-256 and
//! SCRAM-SHA-512 (RFC 5802, RFC 7677) and OAUTHBEARER (RFC 7628, with a token supplied by the
//! user). Each is a small state machine fed with the broker's answers; the connection carries its
//! bytes in SaslAuthenticate requests. Runs on the I/O thread only.
//!
//! Credentials never reach a log line or an error message: errors name the mechanism and the
//! step, and the broker's own error message (which Kafka keeps free of secrets).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::config::{SaslConfig, SaslMechanism};

/// One authentication exchange in progress.
pub(crate) struct SaslSession {
    mechanism: SaslMechanism,
    step: Step,
}

enum Step {
    /// The first message is due.
    Start,
    /// SCRAM: client-first sent; keeps what the proof needs.
    ScramSentFirst { client_nonce: String, client_first_bare: String },
    /// SCRAM: client-final sent; the server signature we expect back.
    ScramSentFinal { server_signature: Vec<u8> },
    /// The exchange is complete once the broker accepts the last message.
    AwaitingOk,
}

impl SaslSession {
    pub fn new(mechanism: SaslMechanism) -> SaslSession {
        SaslSession { mechanism, step: Step::Start }
    }

    /// The mechanism's name as Kafka spells it in SaslHandshake.
    pub fn mechanism_name(&self) -> &'static str {
        self.mechanism.name()
    }

    /// Given the broker's last bytes (empty before the first message), the next bytes to send,
    /// or None when the exchange is complete. An Err is an authentication failure.
    pub fn next(&mut self, cfg: &SaslConfig, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match std::mem::replace(&mut self.step, Step::AwaitingOk) {
            Step::Start => match self.mechanism {
                SaslMechanism::Plain => {
                    let mut m = Vec::new();
                    m.push(0);
                    m.extend_from_slice(cfg.username.as_bytes());
                    m.push(0);
                    m.extend_from_slice(cfg.password.expose().as_bytes());
                    Ok(Some(m))
                }
                SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                    let client_nonce = nonce();
                    let client_first_bare = format!("n={},r={client_nonce}", scram_escape(&cfg.username));
                    let msg = format!("n,,{client_first_bare}").into_bytes();
                    self.step = Step::ScramSentFirst { client_nonce, client_first_bare };
                    Ok(Some(msg))
                }
                SaslMechanism::OAuthBearer => {
                    let token = cfg.current_token()?;
                    // RFC 7628 client initial response: GS2 header, then auth=Bearer <token>, with
                    // ^A separators and a final ^A^A.
                    let mut m = b"n,,\x01auth=Bearer ".to_vec();
                    m.extend_from_slice(token.expose().as_bytes());
                    m.extend_from_slice(b"\x01\x01");
                    Ok(Some(m))
                }
            },
            Step::ScramSentFirst { client_nonce, client_first_bare } => {
                let server_first = std::str::from_utf8(server).map_err(|_| "SCRAM server-first message is not UTF-8".to_string())?;
                let attr = |k: char| -> Option<&str> { server_first.split(',').find_map(|p| p.strip_prefix(k).and_then(|r| r.strip_prefix('='))) };
                if let Some(e) = attr('e') {
                    return Err(format!("the broker refused the SCRAM exchange: {e}"));
                }
                let nonce = attr('r').ok_or("SCRAM server-first message has no nonce")?;
                if !nonce.starts_with(&client_nonce) || nonce.len() == client_nonce.len() {
                    return Err("SCRAM server nonce does not extend the client nonce".into());
                }
                let salt = B64.decode(attr('s').ok_or("SCRAM server-first message has no salt")?).map_err(|_| "SCRAM salt is not base64".to_string())?;
                let iterations: u32 = attr('i').and_then(|i| i.parse().ok()).ok_or("SCRAM server-first message has no iteration count")?;
                if !(1..=1_000_000).contains(&iterations) {
                    return Err(format!("SCRAM iteration count {iterations} is out of range"));
                }
                let client_final_no_proof = format!("c=biws,r={nonce}");
                let auth_message = format!("{client_first_bare},{server_first},{client_final_no_proof}");
                let pw = cfg.password.expose().as_bytes();
                let (proof, server_signature) = match self.mechanism {
                    SaslMechanism::ScramSha256 => scram_proof_sha256(pw, &salt, iterations, auth_message.as_bytes()),
                    _ => scram_proof_sha512(pw, &salt, iterations, auth_message.as_bytes()),
                };
                self.step = Step::ScramSentFinal { server_signature };
                Ok(Some(format!("{client_final_no_proof},p={}", B64.encode(proof)).into_bytes()))
            }
            Step::ScramSentFinal { server_signature } => {
                let server_final = std::str::from_utf8(server).map_err(|_| "SCRAM server-final message is not UTF-8".to_string())?;
                if let Some(e) = server_final.strip_prefix("e=") {
                    return Err(format!("the broker refused the SCRAM proof: {e}"));
                }
                let v = server_final.strip_prefix("v=").ok_or("SCRAM server-final message has no verifier")?;
                let v = B64.decode(v.split(',').next().unwrap_or("")).map_err(|_| "SCRAM verifier is not base64".to_string())?;
                if v != server_signature {
                    return Err("the broker's SCRAM signature is wrong: it does not know the password (or is not the broker)".into());
                }
                Ok(None)
            }
            Step::AwaitingOk => Ok(None),
        }
    }
}

/// RFC 5802: SaltedPassword = Hi(password, salt, i); ClientKey = HMAC(SaltedPassword, "Client
/// Key"); StoredKey = H(ClientKey); ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage);
/// ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage).
macro_rules! scram_proof_fn {
    ($name:ident, $hash:ty, $len:expr) => {
        fn $name(password: &[u8], salt: &[u8], iterations: u32, auth_message: &[u8]) -> (Vec<u8>, Vec<u8>) {
            let mut salted = [0u8; $len];
            pbkdf2::pbkdf2_hmac::<$hash>(password, salt, iterations, &mut salted);
            let hmac = |key: &[u8], data: &[u8]| -> Vec<u8> {
                let mut m = <Hmac<$hash> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            };
            let client_key = hmac(&salted, b"Client Key");
            let stored_key = <$hash>::digest(&client_key);
            let client_signature = hmac(&stored_key, auth_message);
            let proof: Vec<u8> = client_key.iter().zip(&client_signature).map(|(a, b)| a ^ b).collect();
            let server_key = hmac(&salted, b"Server Key");
            (proof, hmac(&server_key, auth_message))
        }
    };
}
scram_proof_fn!(scram_proof_sha256, Sha256, 32);
scram_proof_fn!(scram_proof_sha512, Sha512, 64);

/// A client nonce: 18 bytes from the OS's random source, base64 (printable, no ',').
fn nonce() -> String {
    use std::io::Read;
    let mut b = [0u8; 18];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).is_err() {
        b.iter_mut().for_each(|x| *x = fastrand::u8(..));
    }
    B64.encode(b)
}

/// RFC 5802 saslname: ',' and '=' are escaped.
fn scram_escape(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3's example exchange (user "user", password "pencil").
    #[test]
    fn scram_sha256_matches_the_rfc_7677_example() {
        let client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final_no_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth = format!("{client_first_bare},{server_first},{client_final_no_proof}");
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let (proof, sig) = scram_proof_sha256(b"pencil", &salt, 4096, auth.as_bytes());
        assert_eq!(B64.encode(proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert_eq!(B64.encode(sig), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn usernames_are_escaped() {
        assert_eq!(scram_escape("a=b,c"), "a=3Db=2Cc");
    }
}
