//! The `rafka` command against the real broker, read back with Kafka's Java consumer.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn bootstrap() -> String {
    std::env::var("RAFKA_BOOTSTRAP").expect("RAFKA_BOOTSTRAP is not set: run ./scripts/test, or scripts/kafka up and export it")
}

fn kafka(args: &[&str]) -> String {
    let out = Command::new(root().join("scripts/kafka")).args(args).output().unwrap();
    assert!(out.status.success(), "scripts/kafka {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn topic(prefix: &str, partitions: u32) -> String {
    let t = format!("{prefix}-{}-{}", std::process::id(), fastrand_u32());
    kafka(&["topic", "create", &t, "--partitions", &partitions.to_string()]);
    t
}

fn fastrand_u32() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

fn rafka(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rafka"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits without reading its input; writing to it then
    // fails with a broken pipe, which is the command's answer, not the test's failure.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn consumed(topic: &str, n: usize) -> Vec<serde_json::Value> {
    kafka(&["consume", topic, "--max", &n.to_string(), "--timeout", "20"]).lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn produce_writes_one_record_per_line_with_keys_and_headers() {
    let t = topic("cli-produce", 2);
    let (ok, _, err) = rafka(
        &["produce", "--bootstrap-server", &bootstrap(), "--topic", &t, "--key-separator", ":", "--header", "source=cli", "--property", "linger.ms=1"],
        "a:first\nb:second\nc:third:with:colons\n",
    );
    assert!(ok, "{err}");
    let mut got: Vec<(String, String, String)> = consumed(&t, 3)
        .iter()
        .map(|r| (r["key"].as_str().unwrap().into(), r["value"].as_str().unwrap().into(), r["headers"][0]["value"].as_str().unwrap().into()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a".into(), "first".into(), "cli".into()),
            ("b".into(), "second".into(), "cli".into()),
            ("c".into(), "third:with:colons".into(), "cli".into())
        ]
    );
}

#[test]
fn produce_exits_non_zero_naming_the_lines_that_failed() {
    let t = topic("cli-fail", 1);
    let (ok, _, err) = rafka(&["produce", "--bootstrap-server", &bootstrap(), "--topic", &t, "--key-separator", "|"], "k|good\nno separator here\nk2|also good\n");
    assert!(!ok);
    assert!(err.contains("line 2") && err.contains("1 of 3 line(s) failed"), "{err}");
    assert_eq!(consumed(&t, 2).len(), 2, "the good lines are still written");
}

#[test]
fn produce_rejects_a_bad_property_naming_it() {
    let (ok, _, err) = rafka(&["produce", "--bootstrap-server", &bootstrap(), "--topic", "x", "--property", "lingerms=5"], "");
    assert!(!ok);
    assert!(err.contains("lingerms") && err.contains("linger.ms"), "{err}");
}

#[test]
fn perf_prints_the_summary_line_of_kafka_producer_perf_test() {
    let t = topic("cli-perf", 3);
    let (ok, out, err) = rafka(
        &["perf", "--topic", &t, "--num-records", "20000", "--record-size", "100", "--throughput", "-1", "--producer-props", &format!("bootstrap.servers={}", bootstrap()), "acks=1"],
        "",
    );
    assert!(ok, "{err}");
    let last = out.lines().last().unwrap();
    let re_parts = ["20000 records sent, ", " records/sec (", " MB/sec), ", " ms avg latency, ", " ms max latency, ", " ms 50th, ", " ms 95th, ", " ms 99th, ", " ms 99.9th."];
    let mut pos = 0;
    for p in re_parts {
        let i = last[pos..].find(p).unwrap_or_else(|| panic!("'{p}' missing in: {last}"));
        pos += i + p.len();
    }
    assert_eq!(consumed(&t, 20000).len(), 20000);
}

#[test]
fn perf_warmup_records_adds_a_steady_state_line_for_the_rest() {
    let t = topic("cli-perf-warmup", 3);
    let (ok, out, err) = rafka(
        &["perf", "--topic", &t, "--num-records", "20000", "--warmup-records", "5000", "--record-size", "100", "--throughput", "-1", "--producer-props", &format!("bootstrap.servers={}", bootstrap())],
        "",
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[lines.len() - 2].starts_with("20000 records sent, "), "{out}");
    assert!(lines[lines.len() - 1].starts_with("15000 steady state records sent, "), "{out}");
}

#[test]
fn perf_fails_clearly_on_an_unknown_topic() {
    let (ok, _, err) = rafka(
        &["perf", "--topic", "no-such-topic-cli", "--num-records", "10", "--record-size", "10", "--throughput", "-1", "--producer-props", &format!("bootstrap.servers={}", bootstrap()), "max.block.ms=1000"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("no-such-topic-cli") && err.contains("_UNKNOWN_TOPIC"), "{err}");
}

#[test]
fn perf_sends_payloads_from_a_payload_file_compressed_as_configured() {
    let t = topic("cli-perf-payloads", 1);
    let file = std::env::temp_dir().join(format!("rafka-payloads-{}-{}", std::process::id(), fastrand_u32()));
    std::fs::write(&file, "alpha-event\n\nbeta-event\ngamma-event\n").unwrap();
    let (ok, _, err) = rafka(
        &["perf", "--topic", &t, "--num-records", "300", "--payload-file", file.to_str().unwrap(), "--throughput", "-1", "--producer-props", &format!("bootstrap.servers={}", bootstrap()), "compression.type=zstd"],
        "",
    );
    let _ = std::fs::remove_file(&file);
    assert!(ok, "{err}");
    let values: Vec<String> = consumed(&t, 300).iter().map(|v| v["value"].as_str().unwrap().to_string()).collect();
    assert_eq!(values.len(), 300);
    assert!(values.iter().all(|v| ["alpha-event", "beta-event", "gamma-event"].contains(&v.as_str())), "only the file's payloads, the empty line skipped");
    assert!(values.iter().any(|v| v != &values[0]), "payloads picked at random, not one repeated");
}

#[test]
fn perf_wants_exactly_one_of_record_size_and_payload_file() {
    let (ok, _, err) = rafka(&["perf", "--topic", "t", "--num-records", "10", "--throughput", "-1", "--bootstrap-server", "127.0.0.1:1"], "");
    assert!(!ok);
    assert!(err.contains("--record-size") && err.contains("--payload-file"), "{err}");
}

#[test]
fn help_works_for_the_command_and_every_subcommand_without_a_broker() {
    for args in [&["--help"][..], &["produce", "--help"], &["perf", "--help"], &["completions", "--help"]] {
        let (ok, out, err) = rafka(args, "");
        assert!(ok, "rafka {args:?}: {err}");
        assert!(out.contains("Usage: rafka"), "rafka {args:?}: {out}");
    }
}

#[test]
fn produce_refuses_a_header_with_an_empty_name() {
    let (ok, _, err) = rafka(&["produce", "--bootstrap-server", "127.0.0.1:1", "--topic", "t", "--header", "=v"], "x\n");
    assert!(!ok);
    assert!(err.contains("--header") && err.contains("empty key"), "{err}");
}

#[test]
fn completions_prints_a_bash_script_naming_the_subcommands() {
    let (ok, out, err) = rafka(&["completions", "bash"], "");
    assert!(ok, "{err}");
    assert!(out.contains("complete -F") && out.contains("produce") && out.contains("--num-records"), "{out}");
}

#[test]
fn perf_prints_a_progress_line_every_five_seconds_as_kafka_producer_perf_test_does() {
    let t = topic("cli-perf-progress", 1);
    // 1,500 records/s for 8 s: at least one progress line before the summary.
    let (ok, out, err) = rafka(
        &["perf", "--topic", &t, "--num-records", "12000", "--record-size", "10", "--throughput", "1500", "--producer-props", &format!("bootstrap.servers={}", bootstrap())],
        "",
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "{out}");
    let first = lines[0];
    assert!(first.contains(" records sent, ") && first.contains(" records/sec (") && first.ends_with(" ms max latency."), "{out}");
    assert!(lines.last().unwrap().starts_with("12000 records sent, "), "{out}");
}

#[test]
fn produce_shows_records_per_second_on_a_terminal_and_not_when_piped() {
    let t = topic("cli-progress", 1);
    let cmd = format!("printf 'a\\nb\\nc\\n' | {} produce --bootstrap-server {} --topic {t}", env!("CARGO_BIN_EXE_rafka"), bootstrap());
    // util-linux's script(1) gives the command a terminal for its standard error.
    let out = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(tty.contains("3 records sent, 3 acknowledged, ") && tty.contains(" records/s"), "{tty}");
    assert_eq!(consumed(&t, 3).len(), 3);

    let (ok, _, err) = rafka(&["produce", "--bootstrap-server", &bootstrap(), "--topic", &t], "d\n");
    assert!(ok, "{err}");
    assert!(!err.contains("records/s"), "no progress when standard error is a pipe: {err}");
}
