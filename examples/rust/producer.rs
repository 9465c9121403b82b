//! examples/rust/producer.rs: writes one record per standard-input line and prints each delivery.
//!
//!   cargo run -p rafka-examples --bin producer -- <bootstrap.servers> <topic> < lines.txt

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rafka_core::{Config, Producer, ProducerRecord};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} <bootstrap.servers> <topic>", args[0]);
        return ExitCode::from(1);
    }
    match run(&args[1], &args[2]) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failed) => {
            eprintln!("% {failed} record(s) failed");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("% {e}");
            ExitCode::from(1)
        }
    }
}

/// Sends every line, waits for every report; returns how many records failed.
fn run(bootstrap: &str, topic: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let mut config = Config::new();
    config.set("bootstrap.servers", bootstrap)?;
    let producer = Producer::new(config)?;
    let failed = Arc::new(AtomicUsize::new(0));
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let failed = failed.clone();
        // The callback runs on rafka's delivery thread, once per record.
        producer.send_with_callback(&ProducerRecord::new(topic).value(line.as_bytes()), move |d| match d.error {
            Some(e) => {
                eprintln!("% delivery failed: {e}");
                failed.fetch_add(1, Ordering::Relaxed);
            }
            None => eprintln!("% delivered {} bytes to {} [{}] at offset {}", d.value().map_or(0, |v| v.len()), d.topic, d.partition, d.offset),
        })?;
    }
    producer.flush(Duration::from_secs(30))?;
    producer.close(Duration::from_secs(30))?;
    Ok(failed.load(Ordering::Relaxed))
}
