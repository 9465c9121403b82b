//! The `rafka` command: `produce` (stdin lines to a topic), `perf` (a producer performance test
//! with the flags and output lines of Kafka's `kafka-producer-perf-test`), `doctor` (what is
//! wrong between this machine and a cluster) and `completions`.

/// mimalloc unless `RAFKA_ALLOCATOR=system`: see rafka-core's `alloc.rs`.
#[global_allocator]
static ALLOCATOR: rafka_core::alloc::RafkaAlloc = rafka_core::alloc::RafkaAlloc;

mod args;
mod doctor;
mod perf;
mod produce;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Kafka producer client: produce from standard input, measure with kafka-producer-perf-test's flags,
/// or check a cluster with `rafka doctor`.
#[derive(Parser)]
#[command(name = "rafka", version, after_help = "Logs: RAFKA_LOG=info|debug (default warn) on standard error.")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Produce(produce::ProduceArgs),
    Perf(perf::PerfArgs),
    Doctor(doctor::DoctorArgs),
    /// Prints a shell completion script: `rafka completions bash > /etc/bash_completion.d/rafka`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // The engine logs through the `log` crate; RAFKA_LOG=debug (or RUST_LOG) shows it.
    env_logger::Builder::from_env(env_logger::Env::new().filter_or("RAFKA_LOG", "warn").write_style("RAFKA_LOG_STYLE"))
        .format_timestamp_millis()
        .init();
    // clap prints --help/--version on stdout (exit 0) and usage errors on stderr (exit 2).
    let cli = Cli::parse();
    let (name, result) = match cli.command {
        Cmd::Produce(a) => ("produce", produce::run(a)),
        Cmd::Perf(a) => ("perf", perf::run(a)),
        // Its own exit codes: 1 when a check FAILs, 2 for usage errors.
        Cmd::Doctor(a) => return doctor::run(a),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "rafka", &mut std::io::stdout());
            ("completions", Ok(()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rafka {name}: {e}");
            ExitCode::from(1)
        }
    }
}
