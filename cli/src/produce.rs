//! `rafka produce`: one record per line of standard input.

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rafka_core::{Config, Producer, ProducerRecord};

use crate::args::{apply_props, Args};

pub fn run(argv: &[String]) -> Result<(), String> {
    let mut a = Args::new(argv);
    let bootstrap = a.require("--bootstrap-server")?;
    let topic = a.require("--topic")?;
    let sep = a.take("--key-separator")?;
    let headers = a.take_all("--header")?;
    let props = a.take_all("--property")?;
    a.finish()?;
    if sep.as_deref() == Some("") {
        return Err("--key-separator must not be empty".into());
    }
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|h| h.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("--header '{h}' is not key=value")))
        .collect::<Result<_, _>>()?;

    let mut config = Config::new();
    config.set("bootstrap.servers", &bootstrap).map_err(|e| e.to_string())?;
    apply_props(&mut config, &props)?;
    let producer = Producer::new(config).map_err(|e| e.to_string())?;

    let failures: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let stdin = std::io::stdin();
    let mut lines = 0usize;
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| format!("reading standard input: {e}"))?;
        let lineno = i + 1;
        lines += 1;
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
        let f = failures.clone();
        let sent = producer.send_with_callback(&rec, move |d| {
            if let Some(e) = d.error {
                f.lock().unwrap().push((lineno, e.to_string()));
            }
        });
        if let Err(e) = sent {
            failures.lock().unwrap().push((lineno, e.to_string()));
        }
    }
    let flushed = producer.flush(Duration::from_secs(u64::MAX / 4));
    producer.close(Duration::from_secs(30)).ok();
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
