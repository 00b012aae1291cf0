//! `soundlake-ingest`: the Kafka → bronze Parquet lander.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use soundlake_core::telemetry::Telemetry;
use soundlake_ingest::config::{Cli, Config};
use soundlake_ingest::lander::Lander;
use soundlake_ingest::stats::LanderMetrics;
use tracing::info;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = match Config::resolve(cli) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("soundlake-ingest: {err}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match Telemetry::init("ingest", config.metrics_addr) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("soundlake-ingest: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(addr) = telemetry.local_addr() {
        info!("metrics on http://{addr}/metrics");
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(err) = signal_hook::flag::register(signal, Arc::clone(&shutdown)) {
            eprintln!("soundlake-ingest: cannot handle signal {signal}: {err}");
            return ExitCode::from(1);
        }
    }
    let started = Instant::now();
    let result = Lander::new(config, shutdown).and_then(|mut lander| {
        lander.set_metrics(LanderMetrics::register(&telemetry));
        let result = lander.run();
        // For a person, on standard output as the loader's table (the logs go to stderr); also
        // after an error: what it counts is committed.
        print!("{}", lander.stats().summary(started.elapsed()));
        result
    });
    if let Err(err) = telemetry.shutdown() {
        eprintln!("soundlake-ingest: {err}");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("soundlake-ingest: {err}");
            ExitCode::from(1)
        }
    }
}
