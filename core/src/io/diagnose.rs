//! Recognisers for misconfigured connections: what a failed connection showed (an error from
//! the OS, the first bytes the peer sent back, a TLS error, a broker's answer) turned into a
//! [`Diagnosis`] that names the likely cause and the setting to change.
//!
//! Pure functions, called by the I/O thread (`connection.rs`, `connections.rs`) where a
//! connection fails; no I/O and no state here, so each signature is unit-tested without a broker.
//! The messages are listed, with causes and fixes, in docs/troubleshooting.md: change both
//! together. `rafka doctor` reaches the same functions through `crate::probe`.

use std::io;

use crate::error::{Code, Error, LocalCode};
use crate::protocol::error_codes::KafkaCode;

/// What went wrong with a connection, in words a user can act on, and the error code the calls
/// waiting on the connection fail with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diagnosis {
    pub code: Code,
    pub message: String,
}

impl Diagnosis {
    fn local(code: LocalCode, message: String) -> Diagnosis {
        Diagnosis { code: Code::Local(code), message }
    }

    fn kafka(code: KafkaCode, message: String) -> Diagnosis {
        Diagnosis { code: Code::Kafka(code), message }
    }

    pub fn to_error(&self) -> Error {
        match self.code {
            Code::Local(l) => Error::local(l, self.message.clone()),
            Code::Kafka(k) => Error::kafka(k, self.message.clone()),
        }
    }
}

/// UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const ILLEGAL_SASL_STATE: i16 = 34;
pub(crate) const SASL_AUTHENTICATION_FAILED: KafkaCode = KafkaCode(58);

/// `bootstrap.servers` (node < 0) or a broker's advertised address (from metadata), for messages.
fn whose(node: i32) -> String {
    if node < 0 {
        "bootstrap.servers".into()
    } else {
        format!("the advertised listener of broker {node}")
    }
}

/// The host name of `addr` does not resolve.
pub(crate) fn does_not_resolve(addr: &str, node: i32, e: &io::Error) -> Diagnosis {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let fix = if node < 0 {
        "check the spelling in bootstrap.servers, and that this machine's DNS (or /etc/hosts) knows the name".to_string()
    } else {
        format!("the broker advertises {host} (advertised.listeners on the broker): make that name resolvable from this machine, or advertise a name or address that is")
    };
    Diagnosis::local(LocalCode::Resolve, format!("{} name {host} does not resolve ({e}): {fix}", whose(node)))
}

/// The host name of `addr` resolves, but to no address `broker.address.family` allows.
pub(crate) fn no_address_of_family(addr: &str, node: i32, family: crate::config::AddressFamily, all: &[std::net::SocketAddr]) -> Diagnosis {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let ips: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
    let (want, other) = match family {
        crate::config::AddressFamily::V6 => ("v6", "IPv4"),
        _ => ("v4", "IPv6"),
    };
    Diagnosis::local(
        LocalCode::Resolve,
        format!("{} name {host} resolves only to {other} addresses ({}), and broker.address.family={want} allows none of them: set broker.address.family=any (the default), or use a name with {want} addresses", whose(node), ips.join(", ")),
    )
}

/// A TCP connect failed. `bootstrap_answered`: a bootstrap address that answered (metadata came
/// back from it), when `node` is a broker named by that metadata.
pub(crate) fn connect_failed(addr: &str, node: i32, e: &io::Error, bootstrap_answered: Option<&str>) -> Option<Diagnosis> {
    let refused = e.kind() == io::ErrorKind::ConnectionRefused;
    let unreachable = matches!(e.raw_os_error(), Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::ETIMEDOUT));
    if !refused && !unreachable {
        return None;
    }
    if let (true, Some(boot)) = (node >= 0, bootstrap_answered) {
        return Some(advertised_unreachable(boot, addr, node, &e.to_string()));
    }
    let m = if refused {
        format!("nothing listens on {addr} (connection refused): check the host and port in {}, and that the broker is running", whose(node))
    } else {
        format!("{addr} cannot be reached ({e}): check the host and port in {}, and any firewall on the way", whose(node))
    };
    Some(Diagnosis::local(LocalCode::Transport, m))
}

/// Bootstrap worked, but the address the broker advertises does not accept connections: the
/// classic container `localhost` case.
pub(crate) fn advertised_unreachable(bootstrap: &str, addr: &str, node: i32, why: &str) -> Diagnosis {
    Diagnosis::local(
        LocalCode::Transport,
        format!(
            "bootstrap {bootstrap} answered but the broker's advertised listener {addr} (node {node}) does not accept connections ({why}): \
             fix advertised.listeners on the broker so that it names an address this client can reach \
             (in containers, not localhost), or connect through the listener advertised for this network"
        ),
    )
}

/// The first bytes a PLAINTEXT (or SASL_PLAINTEXT) connection read back for our ApiVersions
/// request, when they cannot start a Kafka response.
pub(crate) fn first_bytes(addr: &str, bytes: &[u8], sasl: bool) -> Option<Diagnosis> {
    if bytes.len() >= 3 && matches!(bytes[0], 0x15 | 0x16) && bytes[1] == 0x03 {
        let ours = if sasl { "SASL_PLAINTEXT" } else { "PLAINTEXT" };
        let fix = if sasl { "SASL_SSL" } else { "SSL (or SASL_SSL)" };
        return Some(Diagnosis::local(
            LocalCode::Transport,
            format!(
                "{addr} is a TLS listener: it answered our Kafka request with a TLS {}, but security.protocol={ours}; set security.protocol={fix} \
                 (with ssl.ca.location), or use the broker's PLAINTEXT port",
                if bytes[0] == 0x15 { "alert" } else { "handshake" }
            ),
        ));
    }
    if bytes.starts_with(b"HTTP/") {
        return Some(not_kafka(addr, "an HTTP server answered"));
    }
    if bytes.starts_with(b"SSH-") {
        return Some(not_kafka(addr, "an SSH server answered"));
    }
    if bytes.len() >= 4 {
        let n = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if !(0..=crate::protocol::messages::MAX_FRAME_SIZE as i32).contains(&n) {
            return Some(not_kafka(addr, &format!("its answer starts with a frame size of {n} bytes, which no Kafka broker sends")));
        }
    }
    None
}

fn not_kafka(addr: &str, what: &str) -> Diagnosis {
    Diagnosis::local(LocalCode::Transport, format!("{addr} is not a Kafka broker: {what}; check the host and port in bootstrap.servers"))
}

/// A plaintext connection was closed by the broker before it answered our ApiVersions request.
pub(crate) fn closed_before_api_versions(addr: &str) -> Diagnosis {
    Diagnosis::local(
        LocalCode::Transport,
        format!(
            "{addr} closed the connection without answering ApiVersions: it is probably a TLS listener (set security.protocol=SSL or SASL_SSL) \
             or not a Kafka broker; check security.protocol and the port in bootstrap.servers"
        ),
    )
}

/// A connection without SASL was closed right after ApiVersions, at our first request: the
/// listener expects SaslHandshake first.
pub(crate) fn closed_after_api_versions(addr: &str, tls: bool) -> Diagnosis {
    let (ours, fix) = if tls { ("SSL", "SASL_SSL") } else { ("PLAINTEXT", "SASL_PLAINTEXT") };
    Diagnosis::local(
        LocalCode::Transport,
        format!(
            "{addr} answered ApiVersions then closed the connection at our first request: the listener requires SASL authentication \
             but security.protocol={ours}; set security.protocol={fix} with sasl.mechanism, sasl.username and sasl.password"
        ),
    )
}

/// A TLS connection was closed during the handshake with no answer: a PLAINTEXT listener reads
/// the ClientHello as an absurd frame size and hangs up.
pub(crate) fn closed_during_tls_handshake(addr: &str, sasl: bool, received: u64) -> Option<Diagnosis> {
    if received > 0 {
        return None;
    }
    let (ours, fix) = if sasl { ("SASL_SSL", "SASL_PLAINTEXT") } else { ("SSL", "PLAINTEXT") };
    Some(Diagnosis::local(
        LocalCode::Transport,
        format!(
            "{addr} is not a TLS listener: it closed the connection at our TLS ClientHello; security.protocol={ours} but the broker speaks \
             PLAINTEXT there. Set security.protocol={fix}, or use the broker's TLS port"
        ),
    ))
}

/// Facts read from the broker's certificate, for messages (see [`cert_info`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CertInfo {
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    /// `not_after` in seconds since the epoch (for the days left before expiry).
    pub not_after_unix: Option<i64>,
}

impl CertInfo {
    fn describe(info: Option<&CertInfo>) -> String {
        match info {
            Some(c) => format!("; the certificate's subject is {}, valid from {} to {}", c.subject, c.not_before, c.not_after),
            None => String::new(),
        }
    }
}

/// A TLS handshake failed with `e` (our check of the broker, or the broker's alert).
pub(crate) fn tls_failed(addr: &str, e: &rustls::Error, cert: Option<&CertInfo>, sasl: bool) -> Diagnosis {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let about = CertInfo::describe(cert);
    let ssl = |m: String| Diagnosis::local(LocalCode::Ssl, m);
    match e {
        E::InvalidCertificate(C::UnknownIssuer) => ssl(format!(
            "the certificate of {addr} is not signed by a CA this client trusts (UnknownIssuer){about}: set ssl.ca.location to the CA that signed the broker's certificate"
        )),
        E::InvalidCertificate(C::NotValidForName) => ssl(format!(
            "the certificate of {addr} is not valid for the name {} (NotValidForName){about}: connect by a name the certificate holds, \
             or fix the broker's certificate (ssl.endpoint.identification.algorithm=none turns the check off)",
            host(addr)
        )),
        E::InvalidCertificate(C::NotValidForNameContext { expected, presented }) => ssl(format!(
            "the certificate of {addr} is not valid for the name {} (NotValidForName): it is valid for {}{about}; connect by one of those names \
             (in bootstrap.servers and the broker's advertised.listeners), or fix the broker's certificate (ssl.endpoint.identification.algorithm=none turns the check off)",
            expected.to_str(),
            if presented.is_empty() { "no name".to_string() } else { presented.join(", ") }
        )),
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            let when = match e {
                E::InvalidCertificate(C::ExpiredContext { not_after, time }) => format!(" on {} (it is now {})", utc(not_after.as_secs()), utc(time.as_secs())),
                _ => String::new(),
            };
            ssl(format!("the certificate of {addr} has expired{when}{about}: renew the broker's certificate (or check this machine's clock)"))
        }
        E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            let when = match e {
                E::InvalidCertificate(C::NotValidYetContext { not_before, time }) => format!(" before {} (it is now {})", utc(not_before.as_secs()), utc(time.as_secs())),
                _ => String::new(),
            };
            ssl(format!("the certificate of {addr} is not valid yet{when}{about}: check this machine's clock and the broker's certificate"))
        }
        E::AlertReceived(A::CertificateRequired) => ssl(client_cert_required(addr)),
        E::AlertReceived(A::BadCertificate | A::UnknownCA | A::CertificateUnknown) => ssl(format!(
            "{addr} refused our client certificate ({e}): set ssl.certificate.location and ssl.key.location to a certificate \
             signed by a CA in the broker's truststore (or, if none is set, the broker requires one: ssl.client.auth=required)"
        )),
        E::AlertReceived(A::HandshakeFailure) => ssl(format!(
            "{addr} refused the TLS handshake ({e}): either no TLS version or cipher suite is in common (ssl.enabled.protocols, \
             ssl.cipher.suites), or the broker requires a client certificate (ssl.client.auth=required): set ssl.certificate.location \
             and ssl.key.location"
        )),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => Diagnosis::local(
            LocalCode::Transport,
            format!(
                "{addr} is not a TLS listener: its answer to our TLS ClientHello is not TLS ({e}); security.protocol={} but the port speaks something else: \
                 check security.protocol and the port in bootstrap.servers",
                if sasl { "SASL_SSL" } else { "SSL" }
            ),
        ),
        _ => ssl(format!("TLS handshake with {addr} failed: {e}{about}")),
    }
}

/// The broker asked for a client certificate and we had none to give.
pub(crate) fn client_cert_required(addr: &str) -> String {
    format!(
        "{addr} requires a client certificate (ssl.client.auth=required on the broker) and none is configured: \
         set ssl.certificate.location and ssl.key.location (or ssl.keystore.location)"
    )
}

/// The broker refused our SaslHandshake: the listener has no SASL, or not our mechanism.
pub(crate) fn sasl_handshake_refused(addr: &str, error_code: i16, ours: &str, enabled: &[String], tls: bool) -> Diagnosis {
    if error_code == ILLEGAL_SASL_STATE || (error_code == UNSUPPORTED_SASL_MECHANISM && enabled.is_empty()) {
        let (ours_p, fix) = if tls { ("SASL_SSL", "SSL") } else { ("SASL_PLAINTEXT", "PLAINTEXT") };
        return Diagnosis::kafka(
            KafkaCode(ILLEGAL_SASL_STATE),
            format!(
                "{addr} does not use SASL on this listener (SaslHandshake refused with error code {error_code}) but security.protocol={ours_p}; \
                 set security.protocol={fix}, or use the broker's SASL listener"
            ),
        );
    }
    Diagnosis::kafka(
        KafkaCode(UNSUPPORTED_SASL_MECHANISM),
        format!(
            "{addr} does not enable SASL mechanism {ours} (sasl.mechanism); it enables {}: set sasl.mechanism to one of those \
             (or add {ours} to sasl.enabled.mechanisms on the broker)",
            enabled.join(", ")
        ),
    )
}

/// A SASL connection was closed when it sent SaslHandshake: a listener without SASL.
pub(crate) fn closed_at_sasl_handshake(addr: &str, tls: bool) -> Diagnosis {
    sasl_handshake_refused(addr, ILLEGAL_SASL_STATE, "", &[], tls)
}

/// The broker's Produce or Metadata version range does not meet ours.
pub(crate) fn broker_too_old(addr: &str, produce: Option<(i16, i16)>, metadata: Option<(i16, i16)>, ours_produce: (i16, i16), ours_metadata: (i16, i16)) -> Diagnosis {
    let r = |x: Option<(i16, i16)>| x.map_or("none".to_string(), |(a, b)| format!("{a}..{b}"));
    Diagnosis::kafka(
        KafkaCode(35),
        format!(
            "broker {addr} is too old for rafka: it speaks Produce {} and Metadata {}, rafka needs Produce {}..{} and Metadata {}..{} \
             (Kafka 2.1 or later): upgrade the broker",
            r(produce),
            r(metadata),
            ours_produce.0,
            ours_produce.1,
            ours_metadata.0,
            ours_metadata.1
        ),
    )
}

fn host(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(h, _)| h)
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The subject and validity of a DER certificate, if it parses. A small reader of the few
/// fields needed (Certificate -> TBSCertificate -> validity, subject); None on anything unusual.
pub(crate) fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    let (_, _, r) = tlv(rest)?; // serial
    let (_, _, r) = tlv(r)?; // signature algorithm
    let (_, _, r) = tlv(r)?; // issuer
    let (_, validity, r) = tlv(r)?;
    let (_, subject, _) = tlv(r)?;
    let (t1, nb, vr) = tlv(validity)?;
    let (t2, na, _) = tlv(vr)?;
    Some(CertInfo { subject: name_text(subject), not_before: der_time(t1, nb)?, not_after: der_time(t2, na)?, not_after_unix: der_time_unix(t2, na) })
}

/// The subject and dates of the certificate the last failed verification on this thread
/// rejected (`config/tls.rs` keeps it).
pub(crate) fn take_rejected_cert() -> Option<CertInfo> {
    crate::config::tls::take_rejected_cert().and_then(|d| cert_info(&d))
}

/// One DER TLV: (tag, contents, what follows).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let l0 = *b.get(1)? as usize;
    let (len, hdr) = if l0 < 0x80 {
        (l0, 2)
    } else {
        let n = l0 & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, b.get(hdr..end)?, &b[end..]))
}

/// An X.501 Name as `CN=..., O=...` (the attributes commonly seen; others by OID).
fn name_text(mut b: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((_, set, r)) = tlv(b) {
        b = r;
        let Some((_, atv, _)) = tlv(set) else { break };
        let Some((_, oid, r2)) = tlv(atv) else { break };
        let Some((_, val, _)) = tlv(r2) else { break };
        let key = match oid {
            [0x55, 0x04, 0x03] => "CN".to_string(),
            [0x55, 0x04, 0x0a] => "O".to_string(),
            [0x55, 0x04, 0x0b] => "OU".to_string(),
            [0x55, 0x04, 0x06] => "C".to_string(),
            [0x55, 0x04, 0x07] => "L".to_string(),
            [0x55, 0x04, 0x08] => "ST".to_string(),
            _ => "OID".to_string(),
        };
        parts.push(format!("{key}={}", String::from_utf8_lossy(val)));
    }
    if parts.is_empty() {
        "(empty)".into()
    } else {
        parts.join(", ")
    }
}

/// A DER time (see [`der_time`]) in seconds since the epoch.
fn der_time_unix(tag: u8, b: &[u8]) -> Option<i64> {
    let t = der_time(tag, b)?;
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    // Howard Hinnant's days_from_civil, the inverse of `utc`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?)
}

/// UTCTime (0x17, YYMMDDHHMMSSZ) or GeneralizedTime (0x18, YYYYMMDDHHMMSSZ) as text.
fn der_time(tag: u8, b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?;
    let full = match tag {
        0x17 if s.len() >= 12 => {
            let yy: u32 = s[..2].parse().ok()?;
            format!("{}{s}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 if s.len() >= 14 => s.to_string(),
        _ => return None,
    };
    Some(format!("{}-{}-{} {}:{}:{} UTC", &full[..4], &full[4..6], &full[6..8], &full[8..10], &full[10..12], &full[12..14]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(d: &Diagnosis) -> &str {
        &d.message
    }

    #[test]
    fn a_tls_alert_to_our_kafka_frame_names_a_tls_listener() {
        let d = first_bytes("h:9093", &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50], false).unwrap();
        assert_eq!(d.code, Code::Local(LocalCode::Transport));
        assert!(msg(&d).contains("is a TLS listener") && msg(&d).contains("security.protocol=SSL"), "{d:?}");
        let d = first_bytes("h:9093", &[0x15, 0x03, 0x03], true).unwrap();
        assert!(msg(&d).contains("security.protocol=SASL_SSL"), "{d:?}");
    }

    #[test]
    fn an_http_answer_or_an_absurd_frame_size_is_not_kafka() {
        assert!(msg(&first_bytes("h:80", b"HTTP/1.1 400 Bad Request\r\n", false).unwrap()).contains("HTTP server"));
        let d = first_bytes("h:1", &[0x7f, 0xff, 0xff, 0xff], false).unwrap();
        assert!(msg(&d).contains("not a Kafka broker") && msg(&d).contains("frame size"), "{d:?}");
        assert_eq!(first_bytes("h:1", &[0, 0, 1, 0xcc, 0, 0], false), None, "a plausible Kafka frame");
        assert_eq!(first_bytes("h:1", &[0x15], false), None, "too few bytes to say");
    }

    #[test]
    fn refused_connections_name_the_address_and_advertised_ones_say_bootstrap_worked() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let d = connect_failed("127.0.0.1:9", -1, &refused, None).unwrap();
        assert!(msg(&d).contains("nothing listens on 127.0.0.1:9") && msg(&d).contains("bootstrap.servers"), "{d:?}");
        let d = connect_failed("kafka:9092", 3, &refused, Some("127.0.0.1:19092")).unwrap();
        assert!(msg(&d).contains("bootstrap 127.0.0.1:19092 answered") && msg(&d).contains("kafka:9092 (node 3)") && msg(&d).contains("advertised.listeners"), "{d:?}");
        assert_eq!(connect_failed("h:1", -1, &io::Error::from(io::ErrorKind::PermissionDenied), None), None);
    }

    #[test]
    fn an_unresolvable_bootstrap_name_is_named_with_resolve() {
        let d = does_not_resolve("kafka.invalid:9092", -1, &io::Error::other("failed to lookup address"));
        assert_eq!(d.code, Code::Local(LocalCode::Resolve));
        assert!(msg(&d).contains("bootstrap.servers name kafka.invalid does not resolve"), "{d:?}");
    }

    #[test]
    fn a_tls_client_hung_up_on_names_a_plaintext_listener() {
        let d = closed_during_tls_handshake("h:9092", false, 0).unwrap();
        assert!(msg(&d).contains("is not a TLS listener") && msg(&d).contains("security.protocol=PLAINTEXT"), "{d:?}");
        assert!(msg(&closed_during_tls_handshake("h:9092", true, 0).unwrap()).contains("SASL_PLAINTEXT"));
        assert_eq!(closed_during_tls_handshake("h:9092", false, 10), None, "the broker spoke TLS");
    }

    #[test]
    fn certificate_errors_are_named_with_their_facts() {
        use rustls::pki_types::{ServerName, UnixTime};
        use rustls::CertificateError as C;
        let info = CertInfo { subject: "CN=localhost".into(), not_before: "2020-01-01 00:00:00 UTC".into(), not_after: "2020-01-02 00:00:00 UTC".into(), not_after_unix: None };
        let d = tls_failed("h:1", &rustls::Error::InvalidCertificate(C::UnknownIssuer), Some(&info), false);
        assert_eq!(d.code, Code::Local(LocalCode::Ssl));
        assert!(msg(&d).contains("not signed by a CA this client trusts") && msg(&d).contains("CN=localhost") && msg(&d).contains("ssl.ca.location"), "{d:?}");
        let e = C::NotValidForNameContext { expected: ServerName::try_from("127.0.0.1").unwrap(), presented: vec!["DNS:localhost".into()] };
        let d = tls_failed("127.0.0.1:1", &rustls::Error::InvalidCertificate(e), None, false);
        assert!(msg(&d).contains("not valid for the name 127.0.0.1") && msg(&d).contains("localhost"), "{d:?}");
        let e = C::ExpiredContext { time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)), not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_577_923_200)) };
        let d = tls_failed("h:1", &rustls::Error::InvalidCertificate(e), Some(&info), false);
        assert!(msg(&d).contains("has expired on 2020-01-02 00:00:00 UTC") && msg(&d).contains("valid from 2020-01-01"), "{d:?}");
        let e = C::NotValidYetContext { time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_577_923_200)), not_before: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)) };
        let d = tls_failed("h:1", &rustls::Error::InvalidCertificate(e), None, false);
        assert!(msg(&d).contains("is not valid yet before 2023-11-14 22:13:20 UTC") && msg(&d).contains("clock"), "{d:?}");
        let d = tls_failed("h:1", &rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired), None, false);
        assert!(msg(&d).contains("requires a client certificate"), "{d:?}");
    }

    #[test]
    fn sasl_refusals_tell_a_listener_without_sasl_from_a_missing_mechanism() {
        let d = sasl_handshake_refused("h:1", 34, "PLAIN", &[], false);
        assert_eq!(d.code, Code::Kafka(KafkaCode(34)));
        assert!(msg(&d).contains("does not use SASL") && msg(&d).contains("security.protocol=PLAINTEXT"), "{d:?}");
        let d = sasl_handshake_refused("h:1", 33, "SCRAM-SHA-512", &["PLAIN".into(), "SCRAM-SHA-256".into()], true);
        assert_eq!(d.code, Code::Kafka(KafkaCode(33)));
        assert!(msg(&d).contains("does not enable SASL mechanism SCRAM-SHA-512") && msg(&d).contains("PLAIN, SCRAM-SHA-256"), "{d:?}");
        assert!(msg(&closed_after_api_versions("h:1", true)).contains("security.protocol=SASL_SSL"));
    }

    #[test]
    fn an_old_broker_is_named_with_both_version_ranges() {
        let d = broker_too_old("h:1", Some((0, 2)), Some((0, 1)), (3, 11), (4, 12));
        assert!(msg(&d).contains("Produce 0..2 and Metadata 0..1") && msg(&d).contains("Produce 3..11 and Metadata 4..12"), "{d:?}");
    }

    #[test]
    fn dates_and_certificate_fields_read_right() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_577_923_200), "2020-01-02 00:00:00 UTC");
        assert_eq!(der_time(0x17, b"200101000000Z").unwrap(), "2020-01-01 00:00:00 UTC");
        assert_eq!(der_time(0x18, b"20491231235959Z").unwrap(), "2049-12-31 23:59:59 UTC");
        assert_eq!(der_time_unix(0x17, b"200102000000Z"), Some(1_577_923_200));
        assert_eq!(utc(der_time_unix(0x18, b"20491231235959Z").unwrap() as u64), "2049-12-31 23:59:59 UTC");
        // A SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "kafka" } } }
        let name = [0x31, 0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x05, b'k', b'a', b'f', b'k', b'a'];
        assert_eq!(name_text(&name), "CN=kafka");
        assert_eq!(cert_info(&[0x30, 0x82, 0xff]), None, "a truncated certificate is no panic");
    }
}
