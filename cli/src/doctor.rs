//! `rafka doctor`: probes a cluster the way the producer sees it and says, one line per check,
//! what works and what does not, in plain words.
//!
//! The connections are the engine's own (`rafka_core::probe`: same TLS, SASL, ApiVersions and
//! diagnoses of misconfigurations as a producer), so a FAIL here is what a producer built from
//! the same settings would hit. The order follows a connection's life: the bootstrap addresses
//! (DNS, TCP, TLS, ApiVersions, SASL), the cluster they describe (Metadata), every advertised
//! listener (reachable from here? round-trip times), then, with --topic, the topic against the
//! chosen acks, a short produce probe, and with --target-rate, sizing advice.
//!
//! Exit code: 0 when nothing FAILs, 1 when something does, 2 for usage errors (flags, an
//! unreadable --command-config, a setting the configuration rejects).

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use rafka_core::config::Acks;
use rafka_core::probe::{BrokerProbe, Handshake, ProbeError, Stage};
use rafka_core::{ClusterMetadata, Config, Producer, ProducerConfig, ProducerRecord};
use serde_json::{json, Value};

use crate::args::{apply_props, key_value, read_properties};

/// Checks a cluster as the producer sees it: DNS and TCP to the bootstrap and to every
/// advertised listener, TLS and certificate expiry, SASL, API versions, round-trip times; with
/// --topic, partitions, leaders, ISR and min.insync.replicas against --acks and a produce probe;
/// with --target-rate and --record-size, recommended sizes.
///
/// Prints one line per check (OK, WARN or FAIL), or with --json one document. Exit code 0 when
/// nothing FAILs, 1 when something does, 2 for usage errors.
#[derive(Args)]
pub struct DoctorArgs {
    /// Kafka broker(s) to bootstrap from, host:port[,host:port...].
    #[arg(long, value_name = "H:P")]
    bootstrap_server: String,
    /// A properties file of client settings (security.protocol, ssl.*, sasl.*, ...), as for
    /// the producer.
    #[arg(long, value_name = "FILE")]
    command_config: Option<String>,
    /// A client setting (repeatable), on top of --command-config.
    #[arg(long = "property", value_name = "K=V", value_parser = |s: &str| key_value(s).map(|_| s.to_string()))]
    properties: Vec<String>,
    /// A topic to check (partitions, leaders, ISR, min.insync.replicas) and to write a few probe
    /// records to (see --probe-records).
    #[arg(long, value_name = "T")]
    topic: Option<String>,
    /// The acks the producer will use: 0, 1 or all (default: the configuration's, all).
    #[arg(long, value_name = "A", value_parser = ["0", "1", "-1", "all"])]
    acks: Option<String>,
    /// Records per second the producer should sustain (with --record-size): sizing advice.
    #[arg(long, value_name = "R", requires = "record_size")]
    target_rate: Option<f64>,
    /// Average record size in bytes (key, value and headers), with --target-rate.
    #[arg(long, value_name = "B", requires = "target_rate")]
    record_size: Option<u64>,
    /// One JSON document on standard output instead of lines.
    #[arg(long)]
    json: bool,
    /// How long each step (a connection's set-up, one request) may take before it is a FAIL.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..))]
    timeout_ms: u64,
    /// Round trips timed per broker (ApiVersions requests).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    samples: u64,
    /// Records the produce probe writes to --topic (one at a time, each waited for).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    probe_records: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report. `name` is one of a fixed set (see docs/troubleshooting.md); the
/// same name may appear once per address or broker, told apart by `details`.
struct Check {
    name: &'static str,
    status: Status,
    message: String,
    details: Value,
}

struct Report {
    checks: Vec<Check>,
    json: bool,
}

/// A line on standard output; a closed pipe (`rafka doctor | head`) is not an error.
fn out(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

impl Report {
    fn add(&mut self, name: &'static str, status: Status, message: String, details: Value) {
        if !self.json {
            out(&format!("{:<4} {:<20} {message}", status.word(), name));
        }
        self.checks.push(Check { name, status, message, details });
    }

    fn worst(&self) -> Status {
        self.checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok)
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The p-th percentile (0..=100) of sorted samples, nearest rank.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn acks_name(a: Acks) -> &'static str {
    match a {
        Acks::None => "0",
        Acks::Leader => "1",
        Acks::All => "all",
    }
}

/// Builds the configuration: --bootstrap-server, --command-config, --property, --acks.
fn build_config(a: &DoctorArgs) -> Result<(Config, ProducerConfig), String> {
    let mut config = Config::new();
    if let Some(f) = &a.command_config {
        apply_props(&mut config, &read_properties(f)?).map_err(|e| format!("{f}: {e}"))?;
    }
    apply_props(&mut config, &a.properties)?;
    config.set("bootstrap.servers", &a.bootstrap_server).map_err(|e| e.to_string())?;
    if let Some(acks) = &a.acks {
        config.set("acks", acks).map_err(|e| e.to_string())?;
        if acks != "all" && acks != "-1" {
            // Idempotence needs acks=all; the doctor checks what the user asked for.
            config.set("enable.idempotence", "false").map_err(|e| e.to_string())?;
        }
    }
    let built = config.build().map_err(|e| e.to_string())?;
    Ok((config, built))
}

pub fn run(a: DoctorArgs) -> ExitCode {
    let (config, cfg) = match build_config(&a) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rafka doctor: {e}");
            return ExitCode::from(2);
        }
    };
    let timeout = Duration::from_millis(a.timeout_ms);
    let mut r = Report { checks: Vec::new(), json: a.json };
    let started = Instant::now();
    let security = if cfg.security.tls.is_some() { "SSL" } else { "" };
    let security = match (cfg.security.sasl.as_ref(), security) {
        (Some(_), "SSL") => "SASL_SSL",
        (Some(_), _) => "SASL_PLAINTEXT",
        (None, "SSL") => "SSL",
        _ => "PLAINTEXT",
    };

    // 1. The bootstrap addresses: the first that works describes the cluster.
    let bootstrap: Vec<String> = cfg.bootstrap_servers.iter().map(|(h, p)| join_addr(h, *p)).collect();
    let mut answered: Option<(String, BrokerProbe)> = None;
    for addr in &bootstrap {
        let result = BrokerProbe::connect(&cfg, addr, -1, None, timeout);
        connection_checks(&mut r, &cfg, addr, "bootstrap", &result, None);
        if let (Ok(p), None) = (result, answered.as_ref()) {
            answered = Some((addr.clone(), p));
        }
    }
    let Some((boot, mut bp)) = answered else {
        r.add("metadata", Status::Fail, format!("no bootstrap address answered ({}): nothing more can be checked", bootstrap.join(", ")), json!({}));
        return finish(r, &a, security, started);
    };

    // 2. The cluster as the bootstrap broker describes it.
    let topics: Option<Vec<String>> = a.topic.as_ref().map(|t| vec![t.clone()]);
    let meta = match bp.metadata(Some(topics.as_deref().unwrap_or(&[])), timeout) {
        Ok((m, rtt)) => {
            let brokers: Vec<String> = m.brokers.iter().map(|b| format!("{} at {}", b.id, join_addr(&b.host, b.port as u16))).collect();
            r.add(
                "metadata",
                Status::Ok,
                format!(
                    "{boot} answered Metadata in {:.1} ms: cluster {}, controller {}, {} broker(s): {}",
                    ms(rtt),
                    m.cluster_id.as_deref().unwrap_or("(no id)"),
                    m.controller_id,
                    m.brokers.len(),
                    brokers.join(", ")
                ),
                json!({"address": boot, "cluster_id": m.cluster_id, "controller_id": m.controller_id,
                       "brokers": m.brokers.iter().map(|b| json!({"id": b.id, "host": b.host, "port": b.port})).collect::<Vec<_>>()}),
            );
            m
        }
        Err(e) => {
            r.add("metadata", Status::Fail, format!("{boot}: Metadata failed: {}", e.error.message()), json!({"address": boot, "stage": e.stage.name()}));
            return finish(r, &a, security, started);
        }
    };

    // 3. Every advertised listener: reachable from here, and how fast it answers.
    let mut leaders_ok = std::collections::HashMap::new();
    for b in &meta.brokers {
        let addr = join_addr(&b.host, b.port as u16);
        let result = BrokerProbe::connect(&cfg, &addr, b.id, Some(&boot), timeout);
        let repeat = bootstrap.contains(&addr);
        connection_checks(&mut r, &cfg, &addr, "advertised", &result, Some((b.id, &boot, repeat)));
        leaders_ok.insert(b.id, result.is_ok());
        if let Ok(mut p) = result {
            latency_check(&mut r, &mut p, b.id, &addr, a.samples, timeout);
        }
    }

    // 4. The topic against the chosen acks, and a produce probe.
    let mut produce_latency = None;
    let mut partitions = None;
    if let Some(t) = &a.topic {
        if let Some(n) = topic_checks(&mut r, &mut bp, &meta, t, &cfg, &leaders_ok, timeout) {
            partitions = Some(n);
            if r.checks.iter().any(|c| c.status == Status::Fail && matches!(c.name, "topic" | "acks")) {
                // Its records would wait out delivery.timeout.ms and say less than the FAIL above.
                r.add("produce", Status::Warn, format!("the produce probe did not run: sends to {t} would fail (see the FAIL above)"), json!({"topic": t, "records": 0}));
            } else if a.probe_records > 0 {
                produce_latency = produce_probe(&mut r, &config, &cfg, t, a.probe_records, timeout);
            }
        }
    }

    // 5. Sizing for a target rate.
    if let (Some(rate), Some(size)) = (a.target_rate, a.record_size) {
        sizing(&mut r, &cfg, rate, size, produce_latency, partitions, meta.brokers.len());
    }
    finish(r, &a, security, started)
}

/// `host:port`, an IPv6 host in brackets.
fn join_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn finish(r: Report, a: &DoctorArgs, security: &str, started: Instant) -> ExitCode {
    let worst = r.worst();
    let count = |s: Status| r.checks.iter().filter(|c| c.status == s).count();
    let (ok, warn, fail) = (count(Status::Ok), count(Status::Warn), count(Status::Fail));
    if a.json {
        let doc = json!({
            "bootstrap": a.bootstrap_server,
            "security_protocol": security,
            "status": worst.word(),
            "summary": {"ok": ok, "warn": warn, "fail": fail},
            "elapsed_ms": ms(started.elapsed()),
            "checks": r.checks.iter().map(|c| json!({"name": c.name, "status": c.status.word(), "message": c.message, "details": c.details})).collect::<Vec<_>>(),
        });
        out(&serde_json::to_string_pretty(&doc).expect("JSON"));
    } else {
        out(&format!("{} check(s): {ok} OK, {warn} WARN, {fail} FAIL ({:.1} s)", r.checks.len(), started.elapsed().as_secs_f64()));
    }
    if worst == Status::Fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The set-up of one connection as checks: each step that passed is OK, the one that failed
/// FAILs, later ones are not reported. `advertised`: the broker's id, the bootstrap address
/// that advertised it, and whether it is also a bootstrap address (then only one line, its
/// steps having been reported already).
fn connection_checks(r: &mut Report, cfg: &ProducerConfig, addr: &str, role: &str, result: &Result<BrokerProbe, ProbeError>, advertised: Option<(i32, &str, bool)>) {
    let d = |extra: Value| {
        let mut v = json!({"address": addr, "role": role});
        if let Some((id, boot, _)) = advertised {
            v["broker"] = json!(id);
            v["bootstrap"] = json!(boot);
        }
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        v
    };
    let who = match advertised {
        Some((id, _, _)) => format!("broker {id} at {addr}"),
        None => addr.to_string(),
    };
    match result {
        Err(e) => {
            let name = match e.stage {
                _ if advertised.is_some() => "advertised_listener",
                Stage::Resolve => "dns",
                Stage::Connect => "tcp",
                Stage::Tls => "tls",
                Stage::ApiVersions => "api_versions",
                Stage::Sasl => "sasl",
                Stage::Request => "metadata",
            };
            if advertised.is_none() {
                // The steps before the one that failed worked.
                let steps = [(Stage::Resolve, "dns", "resolves"), (Stage::Connect, "tcp", "accepts TCP connections"), (Stage::Tls, "tls", "completed the TLS handshake"), (Stage::ApiVersions, "api_versions", "answered ApiVersions")];
                for (stage, name, what) in steps {
                    if stage == e.stage || e.stage == Stage::Request {
                        break;
                    }
                    if stage != Stage::Tls || cfg.security.tls.is_some() {
                        r.add(name, Status::Ok, format!("{addr} {what}"), d(json!({})));
                    }
                }
            }
            let mut m = e.error.message().to_string();
            if let Some((id, boot, _)) = advertised {
                if !m.contains(boot) {
                    m = format!("bootstrap {boot} answered, but broker {id} advertises {addr}, where the {} failed: {m}", e.stage.name());
                }
            }
            r.add(name, Status::Fail, m, d(json!({"stage": e.stage.name(), "error": e.error.name()})));
        }
        Ok(p) => {
            let h = p.handshake();
            if let Some((id, _, repeat)) = advertised {
                r.add(
                    "advertised_listener",
                    Status::Ok,
                    format!("broker {id} advertises {addr}: reachable, ready in {:.1} ms{}", ms(h.ready_after), if repeat { " (also a bootstrap address)" } else { "" }),
                    d(json!({"ready_ms": ms(h.ready_after)})),
                );
                if repeat {
                    return;
                }
            } else {
                let ips: Vec<String> = h.resolved.iter().map(|a| a.ip().to_string()).collect();
                r.add("dns", Status::Ok, format!("{addr} resolves to {}", ips.join(", ")), d(json!({"resolved": ips})));
                let at = if h.resolved.len() > 1 { format!(" at {}", h.connected_to.ip()) } else { String::new() };
                r.add("tcp", Status::Ok, format!("{addr} accepts TCP connections{at} (connected in {:.1} ms)", ms(h.tcp_connect)), d(json!({"connect_ms": ms(h.tcp_connect), "connected_to": h.connected_to.to_string()})));
            }
            tls_check(r, &who, h, d(json!({})));
            if advertised.is_none() {
                api_versions_check(r, &who, h, d(json!({})));
            }
            if let Some(m) = h.sasl_mechanism {
                let user = cfg.security.sasl.as_ref().map_or("", |s| s.username.as_str());
                let as_user = if user.is_empty() { String::new() } else { format!(" as {user}") };
                r.add("sasl", Status::Ok, format!("{who}: {m} authentication{as_user} accepted"), d(json!({"mechanism": m, "username": user})));
            }
        }
    }
}

/// TLS: protocol, cipher and the certificate's expiry (WARN under 30 days).
fn tls_check(r: &mut Report, who: &str, h: &Handshake, details: Value) {
    let Some(t) = &h.tls else { return };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let mut details = details;
    details["protocol"] = json!(t.protocol);
    details["cipher_suite"] = json!(t.cipher_suite);
    let (status, cert) = match &t.certificate {
        Some(c) => {
            let days = c.not_after_unix.map(|na| (na - now).div_euclid(86_400));
            details["certificate"] = json!({"subject": c.subject, "not_before": c.not_before, "not_after": c.not_after, "days_left": days});
            let status = match days {
                Some(d) if d < 0 => Status::Fail,
                Some(d) if d < 30 => Status::Warn,
                _ => Status::Ok,
            };
            let left = days.map_or(String::new(), |d| if d < 0 { format!(", EXPIRED {} day(s) ago", -d) } else { format!(" ({d} day(s) left)") });
            (status, format!("; certificate {} valid until {}{left}", c.subject, c.not_after))
        }
        None => (Status::Ok, "; no certificate could be read".to_string()),
    };
    let renew = if status == Status::Ok { "" } else { ": renew the broker's certificate" };
    r.add("tls", status, format!("{who}: handshake {} {}{cert}{renew}", t.protocol, t.cipher_suite), details);
}

/// The API versions the producer negotiated with this broker.
fn api_versions_check(r: &mut Report, who: &str, h: &Handshake, mut details: Value) {
    let broker = |key: i16| h.api_versions.version_range(key).map_or("none".to_string(), |(a, b)| format!("{a}..{b}"));
    let keys = [0i16, 3, 22, 10, 24, 26];
    let used: Vec<String> = h.negotiated.iter().zip(keys).map(|((n, v), k)| format!("{n} v{} (broker {})", v.map_or("-".into(), |v| v.to_string()), broker(k))).collect();
    details["negotiated"] = Value::Object(h.negotiated.iter().map(|(n, v)| (n.to_string(), json!(v))).collect());
    details["broker_apis"] = json!(h.api_versions.api_keys.len());
    let txn = h.negotiated.iter().any(|(n, v)| *n == "EndTxn" && v.is_some());
    let (status, tail) = if txn { (Status::Ok, "") } else { (Status::Warn, "; the broker offers no transaction APIs rafka speaks: transactional.id will not work") };
    r.add(
        "api_versions",
        status,
        format!("{who} speaks {} APIs; rafka will use {}{tail}", h.api_versions.api_keys.len(), used.join(", ")),
        details,
    );
}

/// Round trips of ApiVersions requests to one broker: p50/p99.
fn latency_check(r: &mut Report, p: &mut BrokerProbe, id: i32, addr: &str, samples: u64, timeout: Duration) {
    let mut rtts = Vec::new();
    for _ in 0..samples {
        match p.round_trip(timeout) {
            Ok(d) => rtts.push(d),
            Err(e) => {
                r.add("latency", Status::Fail, format!("broker {id} at {addr}: {}", e.error.message()), json!({"broker": id, "address": addr, "answered": rtts.len()}));
                return;
            }
        }
    }
    rtts.sort();
    let (p50, p99, max) = (percentile(&rtts, 50.0), percentile(&rtts, 99.0), rtts[rtts.len() - 1]);
    let status = if p99 > Duration::from_millis(200) { Status::Warn } else { Status::Ok };
    let slow = if status == Status::Warn { ": slow for a request that does no work; look at the network and the broker's request queue (RequestQueueTimeMs)" } else { "" };
    r.add(
        "latency",
        status,
        format!("broker {id} at {addr}: round trip p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} ApiVersions requests{slow}", ms(p50), ms(p99), ms(max), rtts.len()),
        json!({"broker": id, "address": addr, "samples": rtts.len(), "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(max)}),
    );
}

/// The topic's partitions, leaders, ISR and min.insync.replicas against acks. Returns the
/// partition count when the topic exists.
fn topic_checks(
    r: &mut Report,
    bp: &mut BrokerProbe,
    meta: &ClusterMetadata,
    topic: &str,
    cfg: &ProducerConfig,
    reachable: &std::collections::HashMap<i32, bool>,
    timeout: Duration,
) -> Option<usize> {
    let Some(t) = meta.topics.iter().find(|t| t.name == topic) else {
        r.add("topic", Status::Fail, format!("the broker did not describe topic {topic}"), json!({"topic": topic}));
        return None;
    };
    if let Some(e) = &t.error {
        r.add("topic", Status::Fail, format!("topic {topic}: {}: create it (the producer does not) or check the name and the ACLs", e.message()), json!({"topic": topic, "error": e.name()}));
        return None;
    }
    let mut parts: Vec<_> = t.partitions.iter().collect();
    parts.sort_by_key(|p| p.id);
    let rf = parts.iter().map(|p| p.replicas.len()).min().unwrap_or(0);
    let leaderless: Vec<i32> = parts.iter().filter(|p| p.leader < 0).map(|p| p.id).collect();
    let unreachable: Vec<String> = parts.iter().filter(|p| p.leader >= 0 && reachable.get(&p.leader) == Some(&false)).map(|p| format!("{} (leader {})", p.id, p.leader)).collect();
    let under: Vec<String> = parts.iter().filter(|p| p.isrs.len() < p.replicas.len()).map(|p| format!("{} (ISR {:?} of replicas {:?})", p.id, p.isrs, p.replicas)).collect();
    let leaders: Vec<String> = parts.iter().map(|p| format!("{}:{}", p.id, p.leader)).collect();
    let details = json!({
        "topic": topic, "partitions": parts.len(), "replication_factor": rf,
        "partition_list": parts.iter().map(|p| json!({"partition": p.id, "leader": p.leader, "replicas": p.replicas, "isr": p.isrs})).collect::<Vec<_>>(),
    });
    let summary = format!("topic {topic}: {} partition(s), replication factor {rf}, leaders (partition:broker) {}", parts.len(), leaders.join(" "));
    if !leaderless.is_empty() {
        r.add("topic", Status::Fail, format!("{summary}; partition(s) {leaderless:?} have no leader: records for them wait, then fail after delivery.timeout.ms"), details);
    } else if !unreachable.is_empty() {
        r.add("topic", Status::Fail, format!("{summary}; the leader of partition(s) {} cannot be reached from here (see advertised_listener): their records will time out", unreachable.join(", ")), details);
    } else if !under.is_empty() {
        r.add("topic", Status::Warn, format!("{summary}; under-replicated: partition(s) {}", under.join(", ")), details);
    } else {
        r.add("topic", Status::Ok, summary, details);
    }

    // min.insync.replicas, from DescribeConfigs.
    let min_isr: Option<usize> = match bp.topic_config(topic, &["min.insync.replicas"], timeout) {
        Ok(v) => match v.iter().find(|(k, _)| k == "min.insync.replicas").and_then(|(_, v)| v.as_deref()?.parse().ok()) {
            Some(n) => {
                r.add("min_insync_replicas", Status::Ok, format!("topic {topic}: min.insync.replicas={n}"), json!({"topic": topic, "min_insync_replicas": n}));
                Some(n)
            }
            None => {
                r.add("min_insync_replicas", Status::Warn, format!("topic {topic}: the broker did not return min.insync.replicas"), json!({"topic": topic}));
                None
            }
        },
        Err(e) => {
            r.add("min_insync_replicas", Status::Warn, format!("topic {topic}: cannot read min.insync.replicas ({}); the acks check below assumes 1", e.error.message()), json!({"topic": topic}));
            None
        }
    };
    acks_check(r, topic, cfg.acks, &parts, rf, min_isr);
    Some(parts.len())
}

/// What the chosen acks means for this topic's durability and availability.
fn acks_check(r: &mut Report, topic: &str, acks: Acks, parts: &[&rafka_core::PartitionMetadata], rf: usize, min_isr: Option<usize>) {
    let known = min_isr.is_some();
    let min_isr = min_isr.unwrap_or(1);
    let details = json!({"topic": topic, "acks": acks_name(acks), "replication_factor": rf, "min_insync_replicas": if known { json!(min_isr) } else { Value::Null }});
    match acks {
        Acks::All => {
            let short: Vec<String> = parts.iter().filter(|p| p.isrs.len() < min_isr).map(|p| format!("{} (ISR {:?})", p.id, p.isrs)).collect();
            if rf < min_isr {
                r.add("acks", Status::Fail, format!("acks=all on {topic}: replication factor {rf} < min.insync.replicas={min_isr}: every send fails with NOT_ENOUGH_REPLICAS; lower min.insync.replicas or add replicas"), details);
            } else if !short.is_empty() {
                r.add(
                    "acks",
                    Status::Fail,
                    format!("acks=all on {topic}: partition(s) {} have fewer in-sync replicas than min.insync.replicas={min_isr}: sends to them fail with NOT_ENOUGH_REPLICAS until followers catch up", short.join(", ")),
                    details,
                );
            } else if rf <= 1 || min_isr <= 1 {
                let why = if rf <= 1 { format!("replication factor {rf}: one broker holds each partition, so losing its disk loses data and its downtime stops sends") } else { "min.insync.replicas=1: when the ISR shrinks to the leader, acks=all is acknowledged by the leader alone, and losing it then loses acknowledged records".to_string() };
                r.add("acks", Status::Warn, format!("acks=all on {topic}: {why} (replication factor 3 with min.insync.replicas=2 survives one broker)"), details);
            } else {
                r.add("acks", Status::Ok, format!("acks=all on {topic}: every record is on at least {min_isr} of {rf} replicas when acknowledged; sends keep working with {} broker(s) down", rf - min_isr), details);
            }
        }
        Acks::Leader => r.add(
            "acks",
            Status::Warn,
            format!("acks=1 on {topic}: the leader acknowledges before its followers copy the record; if it fails then, acknowledged records are lost (use acks=all for durability)"),
            details,
        ),
        Acks::None => r.add(
            "acks",
            Status::Warn,
            format!("acks=0 on {topic}: nothing is acknowledged; records lost on the network or by a failing broker go unnoticed, and retries cannot help"),
            details,
        ),
    }
}

/// Writes `n` records to the topic, one at a time, spread over its partitions; p50/p99 of
/// send-to-acknowledgement, overall and per leader. Returns (p50, p99).
fn produce_probe(r: &mut Report, config: &Config, cfg: &ProducerConfig, topic: &str, n: u64, timeout: Duration) -> Option<(Duration, Duration)> {
    let mut config = config.clone();
    let t = timeout.as_millis().to_string();
    let bounded = [("linger.ms", "0".to_string()), ("max.block.ms", t.clone()), ("request.timeout.ms", t), ("delivery.timeout.ms", (timeout.as_millis() * 2).to_string())];
    for (k, v) in &bounded {
        if let Err(e) = config.set(k, v) {
            r.add("produce", Status::Fail, format!("cannot configure the probe producer: {e}"), json!({"topic": topic}));
            return None;
        }
    }
    let p = match Producer::new(config) {
        Ok(p) => p,
        Err(e) => {
            r.add("produce", Status::Fail, format!("cannot start a producer: {e}"), json!({"topic": topic}));
            return None;
        }
    };
    let mut all = Vec::new();
    let mut per_leader: std::collections::BTreeMap<i32, Vec<Duration>> = Default::default();
    let partitions = p.metadata(Some(&[topic]), timeout).ok().and_then(|m| m.topics.into_iter().find(|t| t.name == topic)).map(|t| t.partitions).unwrap_or_default();
    let mut failure = None;
    // The first record also waits for the connection, the partition leaders and the producer
    // id: it is sent and waited for, not timed.
    let warm_up = p.send(&ProducerRecord::new(topic).value(b"rafka doctor probe (warm-up)")).and_then(|f| f.wait_timeout(timeout * 3));
    let warmed = warm_up.is_ok();
    if let Err(e) = warm_up {
        failure = Some(e);
    }
    for i in 0..if failure.is_some() { 0 } else { n } {
        let part = partitions.get(i as usize % partitions.len().max(1));
        let value = format!("rafka doctor probe {i}");
        let mut rec = ProducerRecord::new(topic).value(value.as_bytes());
        if let Some(pm) = part {
            rec = rec.partition(pm.id);
        }
        let t0 = Instant::now();
        let res = p.send(&rec).and_then(|f| f.wait_timeout(timeout * 3));
        match res {
            Ok(_) => {
                let d = t0.elapsed();
                all.push(d);
                per_leader.entry(part.map_or(-1, |pm| pm.leader)).or_default().push(d);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let _ = p.close(timeout);
    if let Some(e) = failure {
        r.add(
            "produce",
            Status::Fail,
            format!("the probe wrote {} of {} record(s) to {topic}, then: {e}", all.len() + usize::from(warmed), n + 1),
            json!({"topic": topic, "records": n, "written": all.len() + usize::from(warmed), "error": e.name()}),
        );
        return None;
    }
    all.sort();
    let brokers: Vec<String> = per_leader
        .iter_mut()
        .map(|(b, v)| {
            v.sort();
            format!("leader {b}: p50 {:.1} ms p99 {:.1} ms", ms(percentile(v, 50.0)), ms(percentile(v, 99.0)))
        })
        .collect();
    let (p50, p99) = (percentile(&all, 50.0), percentile(&all, 99.0));
    r.add(
        "produce",
        Status::Ok,
        format!("the probe wrote {} record(s) to {topic} (acks={}, one at a time; the first, a warm-up, not timed): send to acknowledgement p50 {:.1} ms, p99 {:.1} ms ({})", n + 1, acks_name(cfg.acks), ms(p50), ms(p99), brokers.join("; ")),
        json!({"topic": topic, "records": n + 1, "timed": n, "acks": acks_name(cfg.acks), "p50_ms": ms(p50), "p99_ms": ms(p99),
               "per_leader": per_leader.iter().map(|(b, v)| json!({"broker": b, "records": v.len(), "p50_ms": ms(percentile(v, 50.0)), "p99_ms": ms(percentile(v, 99.0))})).collect::<Vec<_>>()}),
    );
    Some((p50, p99))
}

fn round_up_pow2(n: f64, min: u64, max: u64) -> u64 {
    (n.max(1.0).ceil() as u64).next_power_of_two().clamp(min, max)
}

fn mib(b: f64) -> String {
    format!("{:.1} MiB", b / 1_048_576.0)
}

/// Recommended linger.ms, batch.size, buffer.memory and partitions for `rate` records/s of
/// `size` bytes, with the arithmetic.
fn sizing(r: &mut Report, cfg: &ProducerConfig, rate: f64, size: u64, latency: Option<(Duration, Duration)>, partitions: Option<usize>, brokers: usize) {
    let bytes = rate * size as f64; // bytes/s
    // The typical latency (p50) bounds steady throughput per partition; the tail (p99) is what
    // buffer.memory must ride out.
    let (typ, lat, lat_src) = match latency {
        Some((p50, p99)) => (p50.as_secs_f64().max(0.001), p99.as_secs_f64().max(0.001), format!("p50 {:.1} ms, p99 {:.1} ms (the produce probe)", ms(p50), ms(p99))),
        None => (0.050, 0.050, "50 ms (assumed: no produce probe ran; pass --topic to measure it)".to_string()),
    };
    let linger = if cfg.linger.is_zero() { 0.005 } else { cfg.linger.as_secs_f64() };
    let in_flight = cfg.max_in_flight.max(1) as f64;
    // A partition sends at most max.in.flight batches per round trip.
    let batch_for = |p: f64| round_up_pow2(bytes / p * linger, 16 * 1024, 1024 * 1024);
    let per_partition_max = |batch: u64| batch as f64 * in_flight / typ;
    let needed_parts = |batch: u64| (bytes / per_partition_max(batch) * 2.0).ceil().max(1.0) as usize;
    let parts = partitions.unwrap_or_else(|| needed_parts(1024 * 1024).max(brokers));
    let batch = batch_for(parts as f64);
    let part_need = needed_parts(batch).max(brokers.min(parts.max(1)));
    let buffer_min = bytes * (lat + linger) * 2.0;
    let buffer = (buffer_min.max(parts as f64 * batch as f64 * 2.0).max(32.0 * 1_048_576.0) / 1_048_576.0).ceil() * 1_048_576.0;
    let lines = [
        format!("throughput = {rate} records/s x {size} B = {} /s", mib(bytes)),
        format!("linger.ms = {:.0}: batches wait up to this long to fill; the produce latency measured is {lat_src}", linger * 1e3),
        format!(
            "batch.size = {batch}: one partition receives {} /s / {parts} partitions = {:.0} B/s, so {:.0} B arrive per linger.ms; rounded up to a power of two, at least 16 KiB, at most 1 MiB",
            mib(bytes),
            bytes / parts as f64,
            bytes / parts as f64 * linger
        ),
        format!(
            "buffer.memory = {}: it holds what waits (linger.ms) and what is in flight (p99 latency): {} /s x ({:.1} + {:.1}) ms x 2 headroom = {}, and at least 2 batches per partition ({parts} x {batch} x 2) and the 32 MiB default",
            mib(buffer),
            mib(bytes),
            linger * 1e3,
            lat * 1e3,
            mib(buffer_min)
        ),
        format!(
            "partitions >= {part_need}: one partition carries at most batch.size x max.in.flight.requests.per.connection / p50 latency = {batch} x {in_flight} / {:.1} ms = {}/s from this client; twice the throughput over that, and at least one per broker. The broker's own per-partition limit (disk, replication) may be lower: measure with rafka perf",
            typ * 1e3,
            mib(per_partition_max(batch))
        ),
    ];
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    if (cfg.buffer_memory as f64) < buffer_min {
        status = Status::Warn;
        notes.push(format!("the configured buffer.memory={} is below the {} needed: sends will block", cfg.buffer_memory, mib(buffer_min)));
    }
    if let Some(p) = partitions {
        if p < part_need {
            status = Status::Warn;
            notes.push(format!("the topic has {p} partition(s), fewer than {part_need}"));
        }
    }
    let head = format!(
        "for {rate} records/s of {size} B: linger.ms={:.0} batch.size={batch} buffer.memory={} partitions>={part_need}{}",
        linger * 1e3,
        buffer as u64,
        if notes.is_empty() { String::new() } else { format!("; {}", notes.join("; ")) }
    );
    let message = if r.json { head } else { format!("{head}\n{}", lines.iter().map(|l| format!("                          {l}")).collect::<Vec<_>>().join("\n")) };
    r.add(
        "sizing",
        status,
        message,
        json!({"target_rate": rate, "record_size": size, "latency_p50_ms": typ * 1e3, "latency_p99_ms": lat * 1e3, "latency_measured": latency.is_some(),
               "linger_ms": linger * 1e3, "batch_size": batch, "buffer_memory": buffer as u64, "partitions": part_need, "reasoning": lines}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    fn sized(rate: f64, size: u64, latency: (u64, u64), partitions: usize) -> (Status, Value) {
        let mut c = Config::new();
        c.set("bootstrap.servers", "h:1").unwrap();
        let cfg = c.build().unwrap(); // linger.ms 5, max.in.flight 5, buffer.memory 32 MiB
        let mut r = Report { checks: Vec::new(), json: true };
        let l = (Duration::from_millis(latency.0), Duration::from_millis(latency.1));
        sizing(&mut r, &cfg, rate, size, Some(l), Some(partitions), 1);
        let c = r.checks.pop().unwrap();
        (c.status, c.details)
    }

    #[test]
    fn sizing_fits_a_batch_to_linger_and_keeps_the_default_buffer_when_it_is_enough() {
        // 20 MB/s over 6 partitions: 16,667 B per partition per 5 ms -> 32 KiB batches; in
        // flight 20 MB/s x 21 ms x 2 = 0.84 MB, below the 32 MiB default.
        let (status, d) = sized(20_000.0, 1000, (2, 16), 6);
        assert_eq!(status, Status::Ok, "{d}");
        assert_eq!(d["batch_size"], 32768);
        assert_eq!(d["buffer_memory"], 32 << 20);
        assert_eq!(d["partitions"], 1, "32 KiB x 5 in flight / 2 ms is 82 MB/s per partition: {d}");
    }

    #[test]
    fn sizing_warns_when_buffer_memory_cannot_hold_what_is_in_flight() {
        // 200 MB/s x (5 + 100) ms x 2 = 42 MB > 32 MiB; 524,288 B x 5 / 10 ms = 262 MB/s per
        // partition, so 2 partitions for twice the headroom.
        let (status, d) = sized(200_000.0, 1000, (10, 100), 3);
        assert_eq!(status, Status::Warn, "{d}");
        assert_eq!(d["batch_size"], 524288);
        assert_eq!(d["buffer_memory"], 41 << 20, "42,000,000 B rounded up to whole MiB: {d}");
        assert_eq!(d["partitions"], 2);
    }

    #[test]
    fn batch_sizes_round_up_to_a_power_of_two_within_bounds() {
        assert_eq!(round_up_pow2(1000.0, 16384, 1 << 20), 16384);
        assert_eq!(round_up_pow2(40_000.0, 16384, 1 << 20), 65536);
        assert_eq!(round_up_pow2(1e9, 16384, 1 << 20), 1 << 20);
    }
}
