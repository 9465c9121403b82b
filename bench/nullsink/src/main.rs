//! `rafka-nullsink [--listen HOST:PORT] [--partitions N]`: runs the null sink until killed.
//! Prints `bootstrap.servers=HOST:PORT` once it listens; on standard input reaching end of file
//! (when started with a pipe) it prints its counters as one JSON line and exits.

use std::io::{Read, Write};

fn main() {
    let mut listen = "127.0.0.1:0".to_string();
    let mut partitions = 6;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| fail(&format!("{name} needs a value")));
        match a.as_str() {
            "--listen" => listen = value("--listen"),
            "--partitions" => {
                partitions = value("--partitions").parse().unwrap_or_else(|_| fail("--partitions: not a number"))
            }
            "-h" | "--help" => {
                println!("usage: rafka-nullsink [--listen HOST:PORT] [--partitions N]\n\
                          Answers ApiVersions, Metadata, InitProducerId and Produce; stores nothing.\n\
                          Topic NAME-p<N> has N partitions, others --partitions (default 6).");
                return;
            }
            other => fail(&format!("unknown argument {other}")),
        }
    }
    let sink = rafka_nullsink::NullSink::start(&listen, partitions).unwrap_or_else(|e| fail(&format!("{listen}: {e}")));
    println!("bootstrap.servers={}", sink.local_addr());
    let _ = std::io::stdout().flush();
    // Wait for EOF on stdin; a terminal or /dev/null never gives a useful one, so then just park.
    let mut sink_input = Vec::new();
    match std::io::stdin().read_to_end(&mut sink_input) {
        Ok(_) if !is_null_or_tty() => {
            let s = sink.stats();
            println!(
                "{{\"connections\": {}, \"produce_requests\": {}, \"records\": {}, \"batch_bytes\": {}, \"batches\": {}}}",
                s.connections, s.produce_requests, s.records, s.batch_bytes, s.batches
            );
        }
        _ => loop {
            std::thread::park();
        },
    }
}

/// Whether standard input is /dev/null or a terminal (its EOF says nothing about the caller).
fn is_null_or_tty() -> bool {
    let link = std::fs::read_link("/proc/self/fd/0").unwrap_or_default();
    link.as_os_str() == "/dev/null" || link.to_string_lossy().starts_with("/dev/pts") || link.to_string_lossy().starts_with("/dev/tty")
}

fn fail(msg: &str) -> ! {
    eprintln!("rafka-nullsink: {msg}");
    std::process::exit(2)
}
