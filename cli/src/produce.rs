//! `rafka produce`: one record per line of standard input.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use rafka_core::{Config, Producer, ProducerRecord};

use crate::args::{apply_props, key_value};

/// Writes one record per line of standard input; exits 1 naming the lines that failed.
///
/// On a terminal, standard error shows records/s and totals once a second.
#[derive(Args)]
pub struct ProduceArgs {
    /// Kafka broker(s) to bootstrap from, host:port[,host:port...].
    #[arg(long, value_name = "H:P")]
    bootstrap_server: String,
    /// Topic to write to.
    #[arg(long, value_name = "T")]
    topic: String,
    /// Splits each line at the first S into key and value (lines without S fail).
    #[arg(long, value_name = "S", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    key_separator: Option<String>,
    /// A header added to every record (repeatable).
    #[arg(long = "header", value_name = "K=V", value_parser = key_value)]
    headers: Vec<(String, String)>,
    /// A producer setting, Java name or librdkafka alias (repeatable): --property linger.ms=5.
    #[arg(long = "property", value_name = "K=V", value_parser = |s: &str| key_value(s).map(|_| s.to_string()))]
    properties: Vec<String>,
}

/// Records/s and totals on standard error, rewritten in place; only when it is a terminal.
struct Progress {
    start: Instant,
    last: Instant,
    shown: bool,
}

impl Progress {
    fn tick(&mut self, sent: u64, acked: u64, force: bool) {
        let now = Instant::now();
        if !force && now.duration_since(self.last) < Duration::from_secs(1) {
            return;
        }
        self.last = now;
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-3);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{sent} records sent, {acked} acknowledged, {:.0} records/s   ", acked as f64 / secs);
        let _ = err.flush();
        self.shown = true;
    }
}

pub fn run(a: ProduceArgs) -> Result<(), String> {
    let ProduceArgs { bootstrap_server, topic, key_separator: sep, headers, properties } = a;
    let mut config = Config::new();
    config.set("bootstrap.servers", &bootstrap_server).map_err(|e| e.to_string())?;
    apply_props(&mut config, &properties)?;
    let producer = Producer::new(config).map_err(|e| e.to_string())?;

    let failures: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let acked = Arc::new(AtomicU64::new(0));
    let now = Instant::now();
    let mut progress = std::io::stderr().is_terminal().then_some(Progress { start: now, last: now, shown: false });
    let stdin = std::io::stdin();
    let mut lines = 0usize;
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| format!("reading standard input: {e}"))?;
        let lineno = i + 1;
        lines += 1;
        if let Some(p) = progress.as_mut() {
            if lines.is_multiple_of(256) {
                p.tick(lines as u64, acked.load(Ordering::Relaxed), false);
            }
        }
        let (key, value) = match &sep {
            Some(s) => match line.split_once(s.as_str()) {
                Some((k, v)) => (Some(k), v),
                None => {
                    failures.lock().unwrap().push((lineno, format!("no key separator '{s}' in the line")));
                    continue;
                }
            },
            None => (None, line.as_str()),
        };
        let mut rec = ProducerRecord::new(&topic).value(value.as_bytes());
        rec.key = key.map(str::as_bytes);
        rec.headers = headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_bytes()))).collect();
        let (f, n) = (failures.clone(), acked.clone());
        let sent = producer.send_with_callback(&rec, move |d| match d.error {
            Some(e) => f.lock().unwrap().push((lineno, e.to_string())),
            None => {
                n.fetch_add(1, Ordering::Relaxed);
            }
        });
        if let Err(e) = sent {
            failures.lock().unwrap().push((lineno, e.to_string()));
        }
    }
    let flushed = producer.flush(Duration::from_secs(u64::MAX / 4));
    producer.close(Duration::from_secs(30)).ok();
    if let Some(p) = progress.as_mut() {
        p.tick(lines as u64, acked.load(Ordering::Relaxed), true);
        if p.shown {
            eprintln!();
        }
    }
    let mut failures = failures.lock().unwrap().clone();
    failures.sort();
    if let Err(e) = flushed {
        return Err(format!("flush failed: {e}"));
    }
    if failures.is_empty() {
        eprintln!("{lines} record(s) written to {topic}");
        return Ok(());
    }
    for (line, e) in &failures {
        eprintln!("line {line}: {e}");
    }
    Err(format!("{} of {lines} line(s) failed", failures.len()))
}
