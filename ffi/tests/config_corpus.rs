//! Every `.properties` configuration of tests/config-corpus (librdkafka's and the Java client's
//! names) builds a producer through the C API and, unless it is construct-only, delivers one
//! record to the test broker (RAFKA_BOOTSTRAP) that Kafka's own consumer reads back. The
//! confluent-kafka (`.json`) files are Python's: tests/python/test_config_corpus.py.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::ffi::{c_void, CStr, CString};
use std::ptr::null_mut;
use std::sync::Mutex;

use rafka::conf::*;
use rafka::handle::rafka_producer_t;
use rafka::last_error::rafka_last_error_message;
use rafka::produce::*;
use rafka::producer::*;
use rafka::report::rafka_delivery_report_t;

const CA_PEM: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The Java client's serializer classes: the Java binding's (see the corpus README).
const JAVA_ONLY_KEYS: [&str; 2] = ["key.serializer", "value.serializer"];

struct CorpusFile {
    name: String,
    settings: Vec<(String, String)>,
    construct_only: bool,
}

fn corpus() -> Vec<CorpusFile> {
    let dir = common::repo_root().join("tests/config-corpus");
    let mut files: Vec<CorpusFile> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "properties"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).unwrap().replace("@CA_PEM@", CA_PEM);
            if text.contains("# binding: java") {
                return None;
            }
            let settings = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.split_once('=').unwrap_or_else(|| panic!("{}: {l:?}", p.display())))
                .filter(|(k, _)| !JAVA_ONLY_KEYS.contains(&k.trim()))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            Some(CorpusFile { name: p.file_name().unwrap().to_string_lossy().into_owned(), settings, construct_only: text.contains("# construct-only:") })
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

unsafe extern "C" fn dr_cb(_p: *mut rafka_producer_t, r: *const rafka_delivery_report_t, opaque: *mut c_void) {
    let (r, reports) = (&*r, &*(opaque as *const Mutex<Vec<i32>>));
    reports.lock().unwrap().push(r.err);
}

/// Builds a producer from `f` through the C API; sends one record to a new topic unless the file
/// is construct-only. Returns why it failed, if it did.
fn run(f: &CorpusFile) -> Result<(), String> {
    let reports: Mutex<Vec<i32>> = Mutex::new(Vec::new());
    let topic = common::unique_topic("capi-corpus");
    unsafe {
        let conf = rafka_conf_new();
        let mut err = [0 as std::ffi::c_char; 512];
        for (k, v) in &f.settings {
            let v = if k == "bootstrap.servers" && !f.construct_only { common::bootstrap() } else { v.clone() };
            let (ck, cv) = (CString::new(k.as_str()).unwrap(), CString::new(v).unwrap());
            if rafka_conf_set(conf, ck.as_ptr(), cv.as_ptr(), err.as_mut_ptr(), err.len()) != rafka_conf_res_t::RAFKA_CONF_OK {
                rafka_conf_free(conf);
                return Err(format!("{k}: {:?}", CStr::from_ptr(err.as_ptr())));
            }
        }
        rafka_conf_set_dr_cb(conf, Some(dr_cb));
        rafka_conf_set_opaque(conf, &reports as *const _ as *mut c_void);
        let p = rafka_producer_new(conf, err.as_mut_ptr(), err.len());
        if p.is_null() {
            rafka_conf_free(conf);
            return Err(format!("producer_new: {:?}", CStr::from_ptr(err.as_ptr())));
        }
        if !f.construct_only {
            common::create_topic(&topic, 1);
            let t = CString::new(topic.as_str()).unwrap();
            let rc = rafka_produce(p, t.as_ptr(), RAFKA_PARTITION_UA, RAFKA_MSG_F_COPY, b"k".as_ptr().cast(), 1, f.name.as_ptr().cast(), f.name.len(), std::ptr::null(), 0, 0, null_mut());
            if rc != 0 {
                let why = CStr::from_ptr(rafka_last_error_message()).to_string_lossy().into_owned();
                rafka_producer_free(p);
                return Err(format!("produce: {rc} {why}"));
            }
            rafka_flush(p, 30_000);
        }
        rafka_producer_close(p, 5_000);
        rafka_producer_free(p);
    }
    if f.construct_only {
        return Ok(());
    }
    let reports = reports.into_inner().unwrap();
    if reports != [0] {
        return Err(format!("reports {reports:?}"));
    }
    let got: Vec<Vec<u8>> = common::consume(&topic, 1).into_iter().map(|r| r.value.unwrap()).collect();
    if got != [f.name.as_bytes().to_vec()] {
        return Err(format!("read back {got:?}"));
    }
    Ok(())
}

#[test]
fn every_corpus_configuration_builds_a_c_producer_that_delivers() {
    let files = corpus();
    assert!(files.iter().any(|f| f.name.ends_with("-librdkafka.properties")), "no librdkafka-form file");
    assert!(files.iter().any(|f| f.name.ends_with("-java.properties")), "no Java-form file");
    let failures: Vec<String> = files.iter().filter_map(|f| run(f).err().map(|e| format!("{}: {e}", f.name))).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
