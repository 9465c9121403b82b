//! `rafka perf`: Kafka's `kafka-producer-perf-test` with rafka underneath. Same flags, same
//! progress and summary lines, so figures compare like with like.
//!
//! Latency is measured as Java's tool does: from `send()` to the record's delivery report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{ArgGroup, Args};
use rafka_core::{Config, Producer, ProducerRecord};

use crate::args::{apply_props, read_properties};

/// Sends N records as fast as allowed and prints kafka-producer-perf-test's lines: one every 5 s
/// while sending, then the summary (and a steady-state summary after --warmup-records).
///
/// The flags are kafka-producer-perf-test's; compression and every other setting go in
/// --producer-props or --producer.config.
#[derive(Args)]
#[command(group(ArgGroup::new("payload").required(true).args(["record_size", "payload_file"])))]
pub struct PerfArgs {
    /// Topic to send to (it must exist).
    #[arg(long, value_name = "T")]
    topic: String,
    /// Number of records to send.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    num_records: u64,
    /// Size of each record in bytes (random capital letters).
    #[arg(long, value_name = "B")]
    record_size: Option<usize>,
    /// Payloads read from this file, split at --payload-delimiter; one picked at random per record.
    #[arg(long, value_name = "F")]
    payload_file: Option<String>,
    /// Delimiter of --payload-file (\n and \t are understood).
    #[arg(long, value_name = "D", default_value = "\\n", requires = "payload_file")]
    payload_delimiter: String,
    /// Records per second at most; -1: no limit.
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    throughput: f64,
    /// Kafka broker(s) to bootstrap from (or bootstrap.servers in --producer-props).
    #[arg(long, value_name = "H:P")]
    bootstrap_server: Option<String>,
    /// Producer settings: --producer-props bootstrap.servers=H:P acks=all linger.ms=5 ...
    #[arg(long, value_name = "K=V", num_args = 1.., value_parser = |s: &str| crate::args::key_value(s).map(|_| s.to_string()))]
    producer_props: Vec<String>,
    /// A properties file of producer settings (--producer-props win over it).
    #[arg(long = "producer.config", value_name = "FILE")]
    producer_config: Option<String>,
    /// Prints buffered records and elapsed time at the end.
    #[arg(long)]
    print_metrics: bool,
    /// Records sent first and left out of a second, steady-state summary line.
    #[arg(long, value_name = "N", default_value_t = 0)]
    warmup_records: u64,
    /// Sends in transactions with this transactional.id (default with --transaction-duration-ms:
    /// performance-producer-default-transactional-id).
    #[arg(long, value_name = "ID")]
    transactional_id: Option<String>,
    /// Commits each transaction once it has been open this long (default with
    /// --transactional-id: 3000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    transaction_duration_ms: Option<u64>,
    /// rafka's: with statistics.interval.ms in the settings, writes each statistics document
    /// (docs/observability.md) to this file, one per line.
    #[arg(long, value_name = "FILE")]
    statistics_file: Option<String>,
}

/// Kafka's tool prints a progress line this often while records are acknowledged.
const REPORTING_INTERVAL: Duration = Duration::from_secs(5);

/// Latencies in whole milliseconds: a counter per millisecond up to a minute, then one bucket.
struct Stats {
    acked: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    inner: Mutex<Window>,
    /// Prints the progress line every REPORTING_INTERVAL, from the delivery thread, as Java's does.
    reporting: bool,
}

struct Window {
    hist: Vec<u64>,
    total_latency_ms: f64,
    max_latency_ms: f64,
    win_count: u64,
    win_bytes: u64,
    win_latency: f64,
    win_max: f64,
    win_start: Instant,
    first_error: Option<String>,
}

const HIST_MS: usize = 60_000;

/// Delivery-handler opaque of a record sent after the warm-up.
const STEADY: usize = 1;

impl Stats {
    fn new(reporting: bool) -> Self {
        Stats {
            reporting,
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            inner: Mutex::new(Window {
                hist: vec![0; HIST_MS + 1],
                total_latency_ms: 0.0,
                max_latency_ms: 0.0,
                win_count: 0,
                win_bytes: 0,
                win_latency: 0.0,
                win_max: 0.0,
                win_start: Instant::now(),
                first_error: None,
            }),
        }
    }

    /// The final line, in Kafka's format; `what` is "" or " steady state" (as Kafka's tool
    /// prints for the records after `--warmup-records`).
    fn summary(&self, what: &str, elapsed: f64) {
        let w = self.inner.lock().unwrap();
        let acked = self.acked.load(Ordering::Relaxed);
        let mb = self.bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
        println!(
            "{acked}{what} records sent, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            acked as f64 / elapsed,
            mb / elapsed,
            if acked > 0 { w.total_latency_ms / acked as f64 } else { 0.0 },
            w.max_latency_ms,
            Stats::percentile(&w.hist, acked, 0.5),
            Stats::percentile(&w.hist, acked, 0.95),
            Stats::percentile(&w.hist, acked, 0.99),
            Stats::percentile(&w.hist, acked, 0.999),
        );
    }

    fn record(&self, latency_us: u64, bytes: usize) {
        let ms = latency_us as f64 / 1000.0;
        let mut w = self.inner.lock().unwrap();
        w.hist[(latency_us / 1000).min(HIST_MS as u64) as usize] += 1;
        w.total_latency_ms += ms;
        w.max_latency_ms = w.max_latency_ms.max(ms);
        w.win_count += 1;
        w.win_bytes += bytes as u64;
        w.win_latency += ms;
        w.win_max = w.win_max.max(ms);
        // The clock is read every 64 reports, not per report (a read costs more than the rest of
        // this function): a window line comes at most 64 records late.
        if self.reporting && w.win_count.is_multiple_of(64) && w.win_start.elapsed() >= REPORTING_INTERVAL {
            print_window(&mut w);
        }
        drop(w);
        self.acked.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn percentile(hist: &[u64], total: u64, p: f64) -> usize {
        let target = ((total as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (ms, n) in hist.iter().enumerate() {
            seen += n;
            if seen >= target {
                return ms;
            }
        }
        hist.len() - 1
    }
}

pub fn run(a: PerfArgs) -> Result<(), String> {
    let PerfArgs {
        topic,
        num_records: num,
        record_size: size,
        payload_file,
        payload_delimiter: delimiter,
        throughput,
        bootstrap_server: bootstrap,
        producer_props: mut props,
        producer_config,
        print_metrics,
        warmup_records: warmup,
        transactional_id: txn_id,
        transaction_duration_ms: txn_ms,
        statistics_file,
    } = a;
    // Transactions, as Kafka's tool has them: either flag turns them on.
    let transactions = TxnPlan::new(txn_id, txn_ms)?;
    if let Some(f) = producer_config {
        let mut from_file = read_properties(&f)?;
        from_file.append(&mut props);
        props = from_file;
    }
    // Java's tool: either random letters of --record-size bytes, or payloads read from a file
    // (split at the delimiter, one picked at random per record).
    let payloads: Vec<Vec<u8>> = match (size, &payload_file) {
        (Some(_), Some(_)) | (None, None) => return Err("give exactly one of --record-size and --payload-file".into()),
        (Some(size), None) => vec![(0..size).map(|_| b'A' + fastrand_u8(26)).collect()],
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f).map_err(|e| format!("--payload-file {f}: {e}"))?;
            let delimiter = delimiter.replace("\\n", "\n").replace("\\t", "\t");
            let p: Vec<Vec<u8>> = text.split(delimiter.as_str()).filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()).collect();
            if p.is_empty() {
                return Err(format!("--payload-file {f} holds no payloads"));
            }
            p
        }
    };
    if warmup >= num {
        return Err("--warmup-records must be less than --num-records".into());
    }

    let mut config = Config::new();
    if let Some(b) = &bootstrap {
        config.set("bootstrap.servers", b).map_err(|e| e.to_string())?;
    }
    apply_props(&mut config, &props)?;
    if let Some(t) = &transactions {
        config.set("transactional.id", &t.id).map_err(|e| e.to_string())?;
    }
    if config.get("bootstrap.servers").is_none() {
        return Err("no bootstrap servers: give --bootstrap-server or bootstrap.servers in --producer-props".into());
    }

    let stats = Arc::new(Stats::new(true));
    // Records after the first --warmup-records, as Kafka's tool counts them: their opaque is 1.
    let steady = Arc::new(Stats::new(false));
    let (s2, steady2) = (stats.clone(), steady.clone());
    let mut builder = Producer::builder(config);
    if let Some(path) = &statistics_file {
        let out = std::fs::File::create(path).map_err(|e| format!("--statistics-file {path}: {e}"))?;
        let out = Mutex::new(std::io::BufWriter::new(out));
        builder = builder.stats_handler(move |json| {
            use std::io::Write as _;
            let mut o = out.lock().unwrap();
            // Written as the documents come; a failed write shows in the file's contents.
            let _ = writeln!(o, "{json}").and_then(|_| o.flush());
        });
    }
    let producer = builder
        .delivery_handler(move |d, opaque| match d.error {
            None => {
                let bytes = d.value().map_or(0, |v| v.len());
                s2.record(d.latency_us, bytes);
                if opaque == STEADY {
                    steady2.record(d.latency_us, bytes);
                }
            }
            Some(e) => {
                s2.failed.fetch_add(1, Ordering::Relaxed);
                let mut w = s2.inner.lock().unwrap();
                w.first_error.get_or_insert_with(|| e.to_string());
            }
        })
        .build()
        .map_err(|e| e.to_string())?;

    let txn_timeout = Duration::from_secs(60);
    if transactions.is_some() {
        producer.init_transactions(txn_timeout).map_err(|e| format!("init_transactions: {e}"))?;
    }
    let mut txn_started: Option<Instant> = None;
    let start = Instant::now();
    let mut steady_start = start;
    for i in 0..num {
        if i == warmup && warmup > 0 {
            steady_start = Instant::now();
        }
        if throughput > 0.0 {
            let due = start + Duration::from_secs_f64(i as f64 / throughput);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        if let Some(t) = &transactions {
            if txn_started.is_none() {
                producer.begin_transaction().map_err(|e| format!("begin_transaction ({}): {e}", t.id))?;
                txn_started = Some(Instant::now());
            }
        }
        let payload = if payloads.len() == 1 { &payloads[0] } else { &payloads[fastrand_usize(payloads.len())] };
        let opaque = if i >= warmup { STEADY } else { 0 };
        if let Err(e) = producer.send_with_opaque(&ProducerRecord::new(&topic).value(payload), opaque, true) {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            let mut w = stats.inner.lock().unwrap();
            w.first_error.get_or_insert_with(|| e.to_string());
            if w.first_error.as_deref().is_some_and(|m| m.contains("_UNKNOWN_TOPIC") || m.contains("_INVALID_CONFIG")) {
                return Err(e.to_string());
            }
        }
        if let (Some(t), Some(began)) = (&transactions, txn_started) {
            if began.elapsed() >= t.duration {
                producer.commit_transaction(txn_timeout).map_err(|e| format!("commit_transaction: {e}"))?;
                txn_started = None;
            }
        }
    }
    if txn_started.is_some() {
        producer.commit_transaction(Duration::from_secs(3600)).map_err(|e| format!("commit_transaction: {e}"))?;
    }
    producer.flush(Duration::from_secs(3600)).map_err(|e| e.to_string())?;
    let elapsed = start.elapsed().as_secs_f64();
    stats.summary("", elapsed);
    if warmup > 0 {
        steady.summary(" steady state", steady_start.elapsed().as_secs_f64());
    }
    let w = stats.inner.lock().unwrap();
    let failed = stats.failed.load(Ordering::Relaxed);
    if print_metrics {
        println!("buffered-records-at-end={} elapsed-seconds={elapsed:.3}", producer.in_flight_count());
    }
    let first_error = w.first_error.clone();
    drop(w);
    drop(producer);
    if failed > 0 {
        return Err(format!("{failed} record(s) failed; first error: {}", first_error.unwrap_or_default()));
    }
    Ok(())
}

/// `--transactional-id` / `--transaction-duration-ms`: each transaction commits once it has been
/// open that long (Kafka's ProducerPerformance: default id
/// `performance-producer-default-transactional-id`, default duration 3000 ms).
struct TxnPlan {
    id: String,
    duration: Duration,
}

impl TxnPlan {
    fn new(id: Option<String>, duration_ms: Option<u64>) -> Result<Option<TxnPlan>, String> {
        if id.is_none() && duration_ms.is_none() {
            return Ok(None);
        }
        let duration_ms = duration_ms.unwrap_or(3000);
        if duration_ms == 0 {
            return Err("--transaction-duration-ms must be at least 1".into());
        }
        let id = id.unwrap_or_else(|| "performance-producer-default-transactional-id".into());
        Ok(Some(TxnPlan { id, duration: Duration::from_millis(duration_ms) }))
    }
}

/// Kafka's progress line for the window, then a new window.
fn print_window(w: &mut Window) {
    let secs = w.win_start.elapsed().as_secs_f64();
    if w.win_count > 0 {
        println!(
            "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            w.win_count,
            w.win_count as f64 / secs,
            w.win_bytes as f64 / (1024.0 * 1024.0) / secs,
            w.win_latency / w.win_count as f64,
            w.win_max
        );
    }
    w.win_count = 0;
    w.win_bytes = 0;
    w.win_latency = 0.0;
    w.win_max = 0.0;
    w.win_start = Instant::now();
}

fn fastrand_u8(n: u8) -> u8 {
    fastrand_usize(n as usize) as u8
}

fn fastrand_usize(n: usize) -> usize {
    // A small xorshift: the payload only needs to look like Java's, not be cryptographic.
    use std::cell::Cell;
    thread_local!(static S: Cell<u64> = const { Cell::new(0x9E37_79B9_7F4A_7C15) });
    S.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x % n as u64) as usize
    })
}
