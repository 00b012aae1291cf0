//! `eventsim`: the click-stream generator (issue 3). A skeleton until its issue lands.

use clap::Parser;

/// Soundlake the click-stream generator (issue 3).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!("eventsim: not built yet; see the open issue for the click-stream generator (issue 3)");
    std::process::ExitCode::from(2)
}
