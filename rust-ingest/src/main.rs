//! `soundlake-ingest`: the Kafka → bronze Parquet lander (issue 4).

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use soundlake_ingest::config::{Cli, Config};
use soundlake_ingest::lander::Lander;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::resolve(cli) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("soundlake-ingest: {err}");
            return ExitCode::from(2);
        }
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(err) = signal_hook::flag::register(signal, Arc::clone(&shutdown)) {
            eprintln!("soundlake-ingest: cannot handle signal {signal}: {err}");
            return ExitCode::from(1);
        }
    }
    let result = Lander::new(config, shutdown).and_then(|mut lander| lander.run());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("soundlake-ingest: {err}");
            ExitCode::from(1)
        }
    }
}
