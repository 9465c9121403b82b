//! The C API's OAUTHBEARER token callback against a real broker with a SASL_PLAINTEXT listener
//! (`scripts/kafka up --security sasl_plaintext`, own state dir and port): a token handed over by
//! the callback authenticates and the records read back with Kafka's own consumer; a callback
//! that reports a failure fails the records fast with an authentication error carrying its reason.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::ffi::{c_void, CStr, CString};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use common::secure::*;
use rafka::conf::*;
use rafka::oauthbearer::*;
use rafka::handle::rafka_producer_t;
use rafka::last_error::rafka_last_error_message;
use rafka::produce::*;
use rafka::producer::*;
use rafka::report::rafka_delivery_report_t;

fn cluster() -> &'static SecureCluster {
    static C: OnceLock<SecureCluster> = OnceLock::new();
    C.get_or_init(|| SecureCluster::start("rafka-ffi-oauthbearer", "19682", "sasl_plaintext", &[]))
}

/// The producer's global opaque: the token to hand over (None: report a failure), how often the
/// callback ran, and the delivery reports as (error code, error string).
struct TokenSource {
    token: Option<CString>,
    calls: AtomicUsize,
    reports: Mutex<Vec<(i32, String)>>,
}

impl TokenSource {
    fn new(token: Option<String>) -> TokenSource {
        TokenSource { token: token.map(|t| CString::new(t).unwrap()), calls: AtomicUsize::new(0), reports: Mutex::new(Vec::new()) }
    }
}

unsafe extern "C" fn token_cb(sink: *mut rafka_oauthbearer_token_t, opaque: *mut c_void) {
    let src = &*(opaque as *const TokenSource);
    src.calls.fetch_add(1, Ordering::SeqCst);
    match &src.token {
        Some(t) => assert_eq!(rafka_oauthbearer_token_set(sink, t.as_ptr()), 0),
        None => assert_eq!(rafka_oauthbearer_token_set_failure(sink, c"identity provider unreachable".as_ptr()), 0),
    };
}

unsafe extern "C" fn dr_cb(_p: *mut rafka_producer_t, r: *const rafka_delivery_report_t, opaque: *mut c_void) {
    let (r, src) = (&*r, &*(opaque as *const TokenSource));
    let msg = if r.errstr.is_null() { String::new() } else { CStr::from_ptr(r.errstr).to_string_lossy().into_owned() };
    src.reports.lock().unwrap().push((r.err, msg));
}

/// Produces `n` records to `topic` through the C API with the token callback fed by `src`;
/// returns a report for each record: its delivery report, or what refused it.
fn produce_with_token_cb(c: &SecureCluster, topic: &str, n: usize, src: &TokenSource) -> Vec<(i32, String)> {
    unsafe {
        let conf = rafka_conf_new();
        for (k, v) in [("bootstrap.servers", c.secure_bootstrap.as_str()), ("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "OAUTHBEARER"), ("max.block.ms", "15000")] {
            let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
            assert_eq!(rafka_conf_set(conf, k.as_ptr(), v.as_ptr(), null_mut(), 0), rafka_conf_res_t::RAFKA_CONF_OK);
        }
        assert_eq!(rafka_conf_set_oauthbearer_token_cb(conf, Some(token_cb)), 0);
        assert_eq!(rafka_conf_set_dr_cb(conf, Some(dr_cb)), 0);
        assert_eq!(rafka_conf_set_opaque(conf, src as *const TokenSource as *mut c_void), 0);
        let mut errstr = [0 as std::ffi::c_char; 256];
        let p = rafka_producer_new(conf, errstr.as_mut_ptr(), errstr.len());
        assert!(!p.is_null(), "{:?}", CStr::from_ptr(errstr.as_ptr()));
        let t = CString::new(topic).unwrap();
        for i in 0..n {
            let v = format!("v{i}");
            let err = rafka_produce(p, t.as_ptr(), RAFKA_PARTITION_UA, RAFKA_MSG_F_COPY, std::ptr::null(), 0, v.as_ptr().cast(), v.len(), std::ptr::null(), 0, 0, null_mut());
            if err != 0 {
                // Refused at once (the fatal authentication error is already known): a report of its own.
                let why = CStr::from_ptr(rafka_last_error_message()).to_string_lossy().into_owned();
                src.reports.lock().unwrap().push((err, why));
            }
        }
        rafka_flush(p, 30_000);
        rafka_producer_close(p, 5_000);
        rafka_producer_free(p);
    }
    let reports = src.reports.lock().unwrap().clone();
    reports
}

#[test]
fn a_token_from_the_c_callback_authenticates_and_records_read_back() {
    let c = cluster();
    let t = c.topic("capi-oauth");
    let src = TokenSource::new(Some(unsecured_jwt("alice")));
    let reports = produce_with_token_cb(c, &t, 10, &src);
    assert_eq!(reports.len(), 10);
    assert!(reports.iter().all(|(e, _)| *e == 0), "{reports:?}");
    assert!(src.calls.load(Ordering::SeqCst) >= 1, "the callback was asked for a token");
    let mut values: Vec<String> = common::consume_env(&t, 10, &c.env()).into_iter().map(|r| String::from_utf8(r.value.unwrap()).unwrap()).collect();
    values.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    want.sort();
    assert_eq!(values, want);
}

#[test]
fn a_failure_from_the_c_callback_fails_records_with_its_reason() {
    let c = cluster();
    let t = c.topic("capi-oauth-fail");
    let src = TokenSource::new(None);
    let started = std::time::Instant::now();
    let reports = produce_with_token_cb(c, &t, 3, &src);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "failed after {:?}", started.elapsed());
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert!(reports.iter().all(|(e, _)| *e == 58 || *e == rafka::error::RAFKA_RESP_ERR__FATAL), "{reports:?}");
    assert!(reports.iter().any(|(_, m)| m.contains("identity provider unreachable")), "{reports:?}");
}
