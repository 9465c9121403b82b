//! `rafka_core::interrupt`: a thread whose interruption check fires leaves the engine's waits
//! with `_INTR`. A listener that accepts connections and never answers keeps `send()` waiting for
//! metadata (no Kafka broker needed for the wait itself; the Java binding's BlockingCallsTest
//! covers the buffer and `flush()` waits against a paused broker).

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rafka_core::{interrupt, Code, LocalCode, Producer, ProducerRecord};

static STOP: AtomicBool = AtomicBool::new(false);

fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// A listener that accepts and holds every connection, answering nothing; its address.
fn silent_listener() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    addr.to_string()
}

/// Sets `flag` 300 ms from now (the test's "interrupt").
fn set_soon(flag: &'static AtomicBool) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, Ordering::SeqCst);
    });
}

#[test]
fn a_send_waiting_for_metadata_ends_with_intr_when_the_threads_check_fires() {
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", &silent_listener()).unwrap();
    c.set("max.block.ms", "60000").unwrap();
    let p = Producer::new(c).unwrap();
    set_soon(&STOP);
    interrupt::set_interrupt_check(Some(stop_requested));
    let e = p.send(&ProducerRecord::new("interrupt-test").value(b"v")).err().expect("send() waits for metadata until interrupted");
    interrupt::set_interrupt_check(None);
    assert_eq!(e.code(), Code::Local(LocalCode::Interrupted), "{e}");
    assert!(e.to_string().contains("interrupted while waiting for metadata of topic interrupt-test"), "{e}");
    p.close(Duration::from_secs(5)).ok();
}

static STOP_INIT: AtomicBool = AtomicBool::new(false);

fn init_stop_requested() -> bool {
    STOP_INIT.load(Ordering::SeqCst)
}

#[test]
fn init_transactions_waiting_for_its_coordinator_ends_with_intr_and_a_second_call_waits_for_the_same_request() {
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", &silent_listener()).unwrap();
    c.set("transactional.id", "interrupt-init").unwrap();
    let p = Producer::new(c).unwrap();
    set_soon(&STOP_INIT);
    interrupt::set_interrupt_check(Some(init_stop_requested));
    let started = std::time::Instant::now();
    let e = p.init_transactions(Duration::from_secs(60)).expect_err("init_transactions waits for its coordinator until interrupted");
    let waited = started.elapsed();
    assert_eq!(e.code(), Code::Local(LocalCode::Interrupted), "{e}");
    assert!(e.is_retriable(), "the request goes on, so calling again may succeed: {e}");
    assert!(e.to_string().contains("init_transactions: interrupted while waiting for"), "{e}");
    // Ended by the interruption, not by the 60 s timeout.
    assert!(waited < Duration::from_secs(30), "waited {waited:?}");
    // The flag cleared, a second call resumes the same request (and times out on the silent
    // listener, naming what it waited for) rather than refusing a second init.
    STOP_INIT.store(false, Ordering::SeqCst);
    let e = p.init_transactions(Duration::from_millis(500)).expect_err("the listener never answers");
    interrupt::set_interrupt_check(None);
    assert_eq!(e.code(), Code::Local(LocalCode::TimedOut), "{e}");
    assert!(e.to_string().contains("init_transactions: timed out after 500 ms waiting for"), "{e}");
    p.close(Duration::from_secs(5)).ok();
}
