//! `eventsim`: the click-stream generator. See the library docs (`eventsim::`) for the design.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use eventsim::app::{execute_with_telemetry, start_telemetry};
use eventsim::cli::Cli;
use eventsim::plan::plan;
use eventsim::summary;
use signal_hook::consts::{SIGINT, SIGTERM};

/// Ctrl-C / SIGTERM: the first one stops the run cleanly (what is generated is flushed and
/// summed up), a second one exits at once.
fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        let registered =
            signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
                .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)));
        if let Err(e) = registered {
            eprintln!(
                "eventsim: warning: cannot handle signal {sig} ({e}); it will end the run abruptly"
            );
        }
    }
    stop
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let now = chrono::Utc::now().timestamp_millis();
    let plan = match plan(&cli, now) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("eventsim: error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    for w in &plan.warnings {
        eprintln!("eventsim: warning: {w}");
    }
    let telemetry = match start_telemetry(&cli) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("eventsim: error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    if let Some(addr) = telemetry.as_ref().and_then(|t| t.local_addr()) {
        eprintln!("eventsim: metrics on http://{addr}/metrics");
    }
    let stop = stop_flag();
    let result = execute_with_telemetry(&plan, &stop, telemetry.as_ref());
    if let Some(Err(e)) = telemetry.map(|t| t.shutdown()) {
        eprintln!("eventsim: warning: {e}");
    }
    match result {
        Ok(summary) => {
            eprint!("{}", summary::text(&plan, &summary));
            if summary.interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("eventsim: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
