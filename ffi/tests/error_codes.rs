//! The local error numbers are defined once, by the engine (`rafka_core::LocalCode`). The C
//! header (`RAFKA_RESP_ERR__*`, written by cbindgen from `ffi/src/error.rs`) and the JVM binding
//! (`ErrorMapping.java`) have to spell them out; these tests fail when either drifts from the
//! engine's table: a number that differs, a code missing, or a code the engine does not have.

use std::collections::BTreeMap;
use std::path::Path;

use rafka_core::LocalCode;

/// The engine's table: name without the leading '_' -> number.
fn engine_codes() -> BTreeMap<String, i32> {
    LocalCode::ALL
        .iter()
        .map(|l| (l.name().trim_start_matches('_').to_string(), *l as i32))
        .collect()
}

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `NAME -> number` from lines `<prefix>NAME<sep>number<end>`.
fn parse(text: &str, prefix: &str, sep: &str, end: &str) -> BTreeMap<String, i32> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix(prefix) else { continue };
        let (name, value) = rest
            .split_once(sep)
            .unwrap_or_else(|| panic!("cannot parse {line:?}"));
        let value = value.trim().trim_end_matches(end).trim();
        let n = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        assert!(out.insert(name.trim().to_string(), n).is_none(), "{name} twice");
    }
    out
}

#[test]
fn c_header_local_codes_are_the_engines() {
    // `#define RAFKA_RESP_ERR__MSG_TIMED_OUT -192`: two underscores mark a local code.
    let header = parse(&read("include/rafka.h"), "#define RAFKA_RESP_ERR__", " ", "");
    assert_eq!(header, engine_codes());
    // The library names each number as the header does.
    for (name, code) in &header {
        let got = unsafe { std::ffi::CStr::from_ptr(rafka::error::rafka_err_name(*code)) };
        assert_eq!(got.to_str().unwrap(), format!("_{name}"));
    }
}

#[test]
fn java_error_mapping_local_codes_are_the_engines() {
    // `    static final int MSG_TIMED_OUT = -192;`
    let java = parse(
        &read("bindings/java/src/main/java/io/rafka/internal/ErrorMapping.java"),
        "static final int ",
        "=",
        ";",
    );
    assert_eq!(java, engine_codes());
}

#[test]
fn c_retriable_answer_is_the_engines() {
    for l in LocalCode::ALL {
        assert_eq!(rafka::error::rafka_err_is_retriable(l as i32) == 1, l.is_retriable(), "{}", l.name());
    }
    for code in -1..=120 {
        let expected = rafka_core::Code::from_i32(code).is_some_and(|c| c.is_retriable());
        assert_eq!(rafka::error::rafka_err_is_retriable(code) == 1, expected, "{code}");
    }
}

/// librdkafka's development header on this machine (the librdkafka-dev package): the C names are
/// meant to be librdkafka's, so that code moving from `RD_KAFKA_RESP_ERR_X` to `RAFKA_RESP_ERR_X`
/// keeps its numbers.
const LIBRDKAFKA_H: &str = "/usr/include/librdkafka/rdkafka.h";

/// `NAME -> number` of librdkafka's `rd_kafka_resp_err_t` enum (implicit values count on).
fn librdkafka_codes() -> BTreeMap<String, i32> {
    let text = std::fs::read_to_string(LIBRDKAFKA_H)
        .unwrap_or_else(|e| panic!("{LIBRDKAFKA_H}: {e} (apt-get install librdkafka-dev)"));
    let start = text.find("RD_KAFKA_RESP_ERR__BEGIN").expect("the enum's first code");
    let end = start + text[start..].find("} rd_kafka_resp_err_t;").expect("the enum's end");
    let (mut out, mut next) = (BTreeMap::new(), 0);
    for line in text[start..end].lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("RD_KAFKA_RESP_ERR_") else { continue };
        let rest = rest.split("/*").next().unwrap().trim().trim_end_matches(',');
        let (name, value) = match rest.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim().parse().unwrap_or_else(|_| panic!("{line:?}"))),
            None => (rest.trim(), next),
        };
        out.insert(name.to_string(), value);
        next = value + 1;
    }
    out
}

#[test]
fn c_header_codes_have_librdkafkas_numbers_where_librdkafka_has_the_name() {
    let theirs = librdkafka_codes();
    assert_eq!(theirs.get("_ALL_BROKERS_DOWN"), Some(&-187), "parsed {LIBRDKAFKA_H} wrongly");
    assert_eq!(theirs.get("UNKNOWN_TOPIC_OR_PART"), Some(&3));
    // Every RAFKA_RESP_ERR_* of the header, local and broker codes alike.
    let ours = parse(&read("include/rafka.h"), "#define RAFKA_RESP_ERR_", " ", "");
    let mut compared = 0;
    for (name, n) in &ours {
        if let Some(t) = theirs.get(name) {
            assert_eq!(n, t, "RAFKA_RESP_ERR_{name}");
            compared += 1;
        }
    }
    // A broker code under Kafka's name (MESSAGE_TOO_LARGE) also has librdkafka's.
    let (own, kafka_named): (Vec<&String>, Vec<&String>) =
        ours.keys().filter(|n| !theirs.contains_key(*n)).partition(|n| n.starts_with('_'));
    for name in kafka_named {
        assert!(ours.iter().any(|(n, v)| theirs.get(n) == Some(v) && *v == ours[name]), "RAFKA_RESP_ERR_{name} has no librdkafka-named twin");
    }
    // rafka's own local codes librdkafka lacks: numbers librdkafka leaves unused.
    assert_eq!(own, ["_INTERNAL", "_INVALID_CONFIG", "_MSG_SIZE_TOO_LARGE"]);
    for name in own {
        assert!(!theirs.values().any(|v| *v == ours[name]), "RAFKA_RESP_ERR_{name} reuses a librdkafka number");
    }
    assert!(compared >= 15, "{compared}");
}
