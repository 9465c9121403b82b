//! `rafka-faultproxy`: the fault proxy as a command.
//!
//! ```text
//! rafka-faultproxy serve --upstream [ID=]HOST:PORT[@LISTENPORT]... [--listen-host H] [--control PATH] [-v]
//! rafka-faultproxy ctl PATH COMMAND...
//! ```
//! `serve` prints one `broker ID UPSTREAM -> PROXY` line per listener and then
//! `bootstrap.servers=...`, and runs until killed. `ctl` sends one command to a running proxy's
//! control socket and prints the answer: `add RULE`, `remove ID`, `clear`, `rules`,
//! `stats NODE`, `listeners` (rules as in `Rule::parse`: e.g. `add blackhole broker=1`,
//! `add latency ms=500 api=produce`, `add drop-response broker=2 api=produce`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;

use rafka_faultproxy::FaultProxy;

const USAGE: &str = "usage:
  rafka-faultproxy serve --upstream [ID=]HOST:PORT[@LISTENPORT]... [--listen-host H] [--control PATH] [-v]
  rafka-faultproxy ctl PATH COMMAND...
control commands: add RULE | remove ID | clear | rules | stats NODE | listeners
rules: latency ms=N [dir=requests|responses|both] | blackhole | drop-response [then=close|stall]
       | cut [dir=...] | throttle bps=N [dir=...] | garble | truncate | refuse [mode=closed|reset]
       | produce-error code=N
       each with optional broker=ID api=NAME|KEY times=N|unlimited";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("ctl") => ctl(&args[1..]),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("expected a command\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rafka-faultproxy: {e}");
            ExitCode::FAILURE
        }
    }
}

struct StderrLog;
impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        eprintln!("{} {}", r.level(), r.args());
    }
    fn flush(&self) {}
}

fn serve(args: &[String]) -> Result<(), String> {
    let mut b = FaultProxy::builder();
    let mut control = None;
    let mut upstreams = 0;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--upstream" => {
                let v = value("--upstream")?;
                let (id, rest) = match v.split_once('=') {
                    Some((id, rest)) => (
                        Some(
                            id.parse::<i32>()
                                .map_err(|_| format!("--upstream {v}: '{id}' is not a node id"))?,
                        ),
                        rest,
                    ),
                    None => (None, v.as_str()),
                };
                let (addr, port) = match rest.rsplit_once('@') {
                    Some((addr, p)) => (
                        addr,
                        p.parse::<u16>()
                            .map_err(|_| format!("--upstream {v}: '{p}' is not a port"))?,
                    ),
                    None => (rest, 0),
                };
                b = b.broker_on(id, addr, port);
                upstreams += 1;
            }
            "--listen-host" => b = b.listen_host(&value("--listen-host")?),
            "--control" => control = Some(value("--control")?),
            "-v" => {
                let _ = log::set_logger(&StderrLog);
                log::set_max_level(log::LevelFilter::Info);
            }
            other => return Err(format!("unknown option '{other}'\n{USAGE}")),
        }
    }
    if upstreams == 0 {
        return Err(format!("serve needs at least one --upstream\n{USAGE}"));
    }
    let proxy = b.start().map_err(|e| format!("cannot start: {e}"))?;
    for (node, upstream, addr) in proxy.listeners() {
        println!("broker {node} {upstream} -> {addr}");
    }
    println!("bootstrap.servers={}", proxy.bootstrap());
    let _ = std::io::stdout().flush();
    let Some(path) = control else {
        // No control socket: faults cannot be switched, but the proxy still forwards (and
        // rewrites metadata) until killed.
        loop {
            std::thread::park();
        }
    };
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| format!("control socket {path}: {e}"))?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let mut out = match conn.try_clone() {
            Ok(o) => o,
            Err(_) => continue,
        };
        for line in BufReader::new(conn).lines() {
            let Ok(line) = line else { break };
            let answer = match proxy.execute(&line) {
                Ok(a) => a,
                Err(e) => format!("error: {e}"),
            };
            if writeln!(out, "{answer}\n.").is_err() {
                break;
            }
        }
    }
    Ok(())
}

fn ctl(args: &[String]) -> Result<(), String> {
    let (path, command) = args
        .split_first()
        .ok_or_else(|| format!("ctl needs the control socket's path and a command\n{USAGE}"))?;
    if command.is_empty() {
        return Err(format!("ctl needs a command\n{USAGE}"));
    }
    let mut s = UnixStream::connect(path).map_err(|e| format!("control socket {path}: {e}"))?;
    writeln!(s, "{}", command.join(" ")).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    for line in BufReader::new(s).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line == "." {
            break;
        }
        answer.push_str(&line);
        answer.push('\n');
    }
    print!("{answer}");
    if answer.starts_with("error:") {
        return Err("the proxy refused the command".into());
    }
    Ok(())
}
