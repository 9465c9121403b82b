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
