//! `soundlake-loader`: every gold table of the lake into ClickHouse.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use soundlake_core::telemetry::Telemetry;
use soundlake_loader::config::{Cli, Config, Progress};
use soundlake_loader::metrics::LoaderMetrics;
use soundlake_loader::run::{run, RunReport};
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let terminal = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(terminal)
        .init();
    let mut config = match Config::resolve(cli, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("soundlake-loader: {err}");
            return ExitCode::from(2);
        }
    };
    config.run.load.progress_bar = match config.progress {
        Progress::Auto => terminal,
        Progress::Always => true,
        Progress::Never => false,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("soundlake-loader: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let metrics_addr = if config.run.dry_run {
        None
    } else {
        config.metrics_addr
    };
    let telemetry = match Telemetry::init("loader", metrics_addr) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("soundlake-loader: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(addr) = telemetry.local_addr() {
        info!("metrics on http://{addr}/metrics");
    }
    let metrics = LoaderMetrics::register(&telemetry);
    let code = runtime.block_on(async {
        loop {
            let code = match run(&config.run, Some(&metrics)).await {
                Ok(report) => print_report(&report, config.run.dry_run),
                Err(err) => {
                    eprintln!("soundlake-loader: {err}");
                    ExitCode::from(1)
                }
            };
            let Some(every) = config.every else {
                return code;
            };
            info!("next run in {}s (Ctrl-C or SIGTERM stops)", every.as_secs());
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop_signal() => return code,
            }
        }
    });
    if let Err(err) = telemetry.shutdown() {
        eprintln!("soundlake-loader: {err}");
    }
    code
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn print_report(report: &RunReport, dry_run: bool) -> ExitCode {
    if report.tables.is_empty() && report.plan.is_empty() {
        warn!(
            "no gold tables under {}: nothing to load (run the gold models first)",
            report.gold_url
        );
        println!("no gold tables under {}", report.gold_url);
        return ExitCode::SUCCESS;
    }
    if dry_run {
        println!(
            "plan (dry run, nothing changed; ClickHouse {}):",
            report.server_version
        );
        print!("{}", report.plan);
    }
    if !report.tables.is_empty() {
        print!("{}", report.render());
    }
    let failures = report.failures();
    if failures > 0 {
        eprintln!(
            "soundlake-loader: {failures} table(s) failed; the previous data stays served (see the load log _load_log)"
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
