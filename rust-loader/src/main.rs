//! `soundlake-loader`: gold to ClickHouse loader (issue 7). A skeleton until its issue lands.

use clap::Parser;

/// Soundlake gold to ClickHouse loader (issue 7).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!("soundlake-loader: not built yet; see the open issue for gold to ClickHouse loader (issue 7)");
    std::process::ExitCode::from(2)
}
