//! Name resolution against the real broker: lookups run off the I/O thread (a DNS server that
//! does not answer stalls only the connection that needs it), and every address a name resolves
//! to is tried (`client.dns.lookup=use_all_dns_ips`). The hanging or multi-address DNS answers
//! come from the application resolver hook (`ProducerBuilder::resolver`, librdkafka's
//! `resolve_cb`); the broker and the read-back are real.

mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use rafka_core::{Producer, ProducerRecord};

/// Holds lookups of `*.hang.invalid` until released (at the end of the test).
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    held: Mutex<usize>,
}

impl Gate {
    fn hold(&self) {
        *self.held.lock().unwrap() += 1;
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
    }
    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

fn send_and_read_back(p: &Producer, topic: &str, n: usize) {
    for i in 0..n {
        let v = format!("v{i}");
        let rec = ProducerRecord { topic, partition: Some(0), value: Some(v.as_bytes()), ..Default::default() };
        p.send_with_opaque(&rec, i, true).unwrap();
    }
    p.flush(Duration::from_secs(60)).unwrap();
    let values: Vec<Vec<u8>> = consume(topic, n).into_iter().map(|r| r.value.unwrap()).collect();
    let want: Vec<Vec<u8>> = (0..n).map(|i| format!("v{i}").into_bytes()).collect();
    assert_eq!(values, want);
}

#[test]
fn a_dns_lookup_that_never_answers_does_not_stall_the_other_brokers() {
    let topic = unique_topic("dns-hang");
    create_topic(&topic, 1);
    let gate = Arc::new(Gate::default());
    let g2 = gate.clone();
    // Five bootstrap names whose lookups hang, and the real broker. Were lookups made on the
    // I/O thread, it would block in the first hanging name it tried (5 chances in 6) and send
    // nothing while the gate is closed.
    let servers = format!("a.hang.invalid:9092,b.hang.invalid:9092,c.hang.invalid:9092,d.hang.invalid:9092,e.hang.invalid:9092,{}", bootstrap());
    let p = Producer::builder(config(&[("bootstrap.servers", &servers), ("linger.ms", "1")]))
        .resolver(move |name: &str| {
            if name.contains(".hang.invalid") {
                g2.hold();
                return Err(std::io::Error::other("released at the end of the test"));
            }
            name.to_socket_addrs().map(Iterator::collect)
        })
        .build()
        .unwrap();
    // The gate stays closed until every record is stored and read back.
    send_and_read_back(&p, &topic, 20);
    assert!(*gate.held.lock().unwrap() >= 1, "the hanging lookups were started");
    gate.release();
    p.close(Duration::from_secs(30)).unwrap();
}

#[test]
fn every_address_of_a_name_is_tried_until_one_connects() {
    let topic = unique_topic("dns-all-ips");
    create_topic(&topic, 1);
    let real: SocketAddr = bootstrap().to_socket_addrs().unwrap().next().unwrap();
    // An address nothing listens on: a port just bound and released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::<String>::new()));
    let a2 = asked.clone();
    let p = Producer::builder(config(&[("bootstrap.servers", "kafka.multi.test:9092"), ("linger.ms", "1"), ("reconnect.backoff.ms", "50")]))
        .resolver(move |name: &str| {
            a2.lock().unwrap().push(name.to_string());
            if name == "kafka.multi.test:9092" {
                // The dead address first: only trying the second one reaches the broker.
                return Ok(vec![dead, real]);
            }
            name.to_socket_addrs().map(Iterator::collect)
        })
        .build()
        .unwrap();
    send_and_read_back(&p, &topic, 10);
    assert_eq!(asked.lock().unwrap().iter().filter(|n| *n == "kafka.multi.test:9092").count(), 1, "one lookup served both attempts");
    p.close(Duration::from_secs(30)).unwrap();
}

#[test]
fn a_name_with_no_address_of_the_configured_family_fails_metadata_naming_the_setting() {
    // broker.address.family=v6 and a bootstrap that resolves to IPv4 only: metadata() fails
    // with the diagnosis well before max.block.ms, rather than "no metadata answer".
    let p = Producer::new(config(&[("broker.address.family", "v6"), ("max.block.ms", "60000")])).unwrap();
    let e = p.metadata(None, Duration::from_secs(60)).unwrap_err().to_string();
    assert!(e.contains("_RESOLVE") && e.contains("resolves only to IPv4 addresses (127.0.0.1)") && e.contains("broker.address.family=v6"), "{e}");
}
