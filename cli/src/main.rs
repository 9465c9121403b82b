//! The `rafka` command: `produce` (stdin lines to a topic) and `perf` (a producer performance test
//! with the flags and summary line of Kafka's `kafka-producer-perf-test`).

/// mimalloc unless `RAFKA_ALLOCATOR=system`: see rafka-core's `alloc.rs`.
#[global_allocator]
static ALLOCATOR: rafka_core::alloc::RafkaAlloc = rafka_core::alloc::RafkaAlloc;

mod args;
mod perf;
mod produce;

use std::process::ExitCode;

const USAGE: &str = "usage:
  rafka produce --bootstrap-server H:P --topic T [--key-separator S] [--header k=v]... [--property k=v]...
      Writes one record per line of standard input. Exits 1 naming the lines that failed.
  rafka perf --topic T --num-records N (--record-size B | --payload-file F [--payload-delimiter D])
             --throughput R [--bootstrap-server H:P] [--producer-props k=v ...] [--producer.config FILE]
             [--print-metrics] [--warmup-records N] [--transactional-id ID] [--transaction-duration-ms MS]
      Sends N records of B random letters (or payloads picked at random from F, split at D, default
      \\n) at up to R records/s (-1: no limit) and prints the summary line of
      kafka-producer-perf-test. Compression and every other setting go in --producer-props.
      With --transactional-id or --transaction-duration-ms (default 3000) the records go in
      transactions, each committed once it has been open MS milliseconds.
  rafka --version
Logs: RAFKA_LOG=info|debug (default warn) on standard error.";

fn main() -> ExitCode {
    // The engine logs through the `log` crate; RAFKA_LOG=debug (or RUST_LOG) shows it.
    env_logger::Builder::from_env(env_logger::Env::new().filter_or("RAFKA_LOG", "warn").write_style("RAFKA_LOG_STYLE"))
        .format_timestamp_millis()
        .init();
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let cmd = argv.remove(0);
    let result = match cmd.as_str() {
        "produce" => produce::run(&argv),
        "perf" => perf::run(&argv),
        "--version" | "-V" | "version" => {
            println!("rafka {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "--help" | "-h" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rafka {cmd}: {e}");
            ExitCode::from(1)
        }
    }
}
