//! scripts/chaos's Rust worker: the send loop of worker.py through rafka-core (built as the
//! `chaos_worker` binary of examples/rust).
//!
//!   chaos_worker BOOTSTRAP TOPIC RECORDS SECONDS ACKS IDEMPOTENCE(0|1) RECORD_SIZE OUT
//!
//! Records, pacing and the OUT line format are those of worker.py; a record that send refuses (no
//! report follows) gets a line of its own with the error's name. Reports arrive on rafka's delivery
//! thread. Prints "ready", then "done" at the end; exits 1 if the final flush fails.
//!
//! With `RAFKA_CHAOS_LOG=debug` (or `info`, `trace`...) the engine's log goes to stderr (the
//! run's `rafka-rust.worker.log`), each line stamped with the wall clock in milliseconds, the
//! clock of the report lines, so what the engine did can be set beside each record's wait.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rafka_core::{Config, Producer, ProducerRecord};

fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// The engine's log on stderr, for `RAFKA_CHAOS_LOG`.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        eprintln!("{:.3} {} {}: {}", wall_ns() as f64 / 1e9, r.level(), r.target(), r.args());
    }
    fn flush(&self) {}
}

static STDERR_LOG: StderrLog = StderrLog;

fn main() -> ExitCode {
    if let Ok(level) = std::env::var("RAFKA_CHAOS_LOG") {
        if log::set_logger(&STDERR_LOG).is_ok() {
            log::set_max_level(level.parse().unwrap_or(log::LevelFilter::Debug));
        }
    }
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 9 {
        eprintln!("usage: {} BOOTSTRAP TOPIC RECORDS SECONDS ACKS IDEMPOTENCE RECORD_SIZE OUT", args[0]);
        return ExitCode::from(2);
    }
    match run(&args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaos_worker: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let (bootstrap, topic) = (&args[0], &args[1]);
    let records: usize = args[2].parse()?;
    let seconds: f64 = args[3].parse()?;
    let size: usize = args[6].parse()?;
    let out = Arc::new(Mutex::new(std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[7])?)));

    let mut config = Config::new();
    config.set("bootstrap.servers", bootstrap)?;
    config.set("acks", &args[4])?;
    config.set("enable.idempotence", if args[5] == "1" { "true" } else { "false" })?;
    let producer = Producer::new(config)?;
    println!("ready");
    std::io::stdout().flush()?;

    let rate = if seconds > 0.0 { records as f64 / seconds } else { f64::INFINITY };
    let start = Instant::now();
    let mut seq = 0usize;
    let mut value = Vec::with_capacity(size + 24);
    while seq < records {
        let due = records.min((start.elapsed().as_secs_f64() * rate) as usize + 1);
        while seq < due {
            value.clear();
            write!(value, "{seq}.")?;
            let head = value.len();
            value.resize(size.max(head), b'x');
            let key = format!("k{}", seq % 1000);
            let sent = wall_ns();
            let out2 = out.clone();
            let s = seq;
            let record = ProducerRecord::new(topic).key(key.as_bytes()).value(&value);
            let result = producer.send_with_callback(&record, move |d| {
                let now = wall_ns();
                let err = d.error.map_or("", |e| e.name());
                let _ = writeln!(out2.lock().unwrap(), "{s}\t{}\t{}\t{err}\t{sent}\t{now}", d.partition, d.offset);
            });
            if let Err(e) = result {
                writeln!(out.lock().unwrap(), "{s}\t-1\t-1\tsend-refused-{}\t{sent}\t{}", e.name(), wall_ns())?;
            }
            seq += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    producer.flush(Duration::from_secs(900))?;
    producer.close(Duration::from_secs(60))?;
    out.lock().unwrap().flush()?;
    println!("done");
    Ok(())
}
