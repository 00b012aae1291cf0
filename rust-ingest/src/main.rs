//! `soundlake-ingest`: Kafka to bronze Parquet lander (issue 4). A skeleton until its issue lands.

use clap::Parser;

/// Soundlake Kafka to bronze Parquet lander (issue 4).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!("soundlake-ingest: not built yet; see the open issue for Kafka to bronze Parquet lander (issue 4)");
    std::process::ExitCode::from(2)
}
