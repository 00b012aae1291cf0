//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use eventsim::app::execute_into;
use eventsim::cli::Cli;
use eventsim::plan::{plan, Plan};
use eventsim::run::Summary;
use eventsim::sinks::memory::MemorySink;

/// eventsim's example config (a copy of the reference config).
pub fn reference_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/eventsim-config-example.json")
}

pub fn test_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A plan from command-line arguments (after the program name).
pub fn plan_of(args: &[&str]) -> Plan {
    let mut argv = vec!["eventsim"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("valid command line");
    plan(&cli, 1_500_000_000_000).expect("valid plan")
}

/// Runs the reference config in memory.
pub fn run_reference(
    users: &str,
    start: &str,
    end: &str,
    threads: &str,
) -> (Plan, MemorySink, Summary) {
    let config = reference_config();
    let p = plan_of(&[
        "-c",
        config.to_str().expect("utf-8 path"),
        "--nusers",
        users,
        "--start-time",
        start,
        "--end-time",
        end,
        "--threads",
        threads,
        "--progress",
        "never",
        "--growth-rate",
        "0.5",
        "--attrition-rate",
        "0.2",
        "--tag",
        "A",
    ]);
    let mut sink = MemorySink::new();
    let summary = execute_into(&p, &mut sink, &AtomicBool::new(false)).expect("run");
    (p, sink, summary)
}

/// Parses JSON lines.
pub fn parse_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    lines
        .map(|l| match serde_json::from_str(l) {
            Ok(serde_json::Value::Object(m)) => m,
            other => panic!("not a JSON object: {l} ({other:?})"),
        })
        .collect()
}
