//! `--metrics-addr`: what a run serves on /metrics matches what it produced; a taken address
//! stops the binary with advice.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use eventsim::app::{execute_with_telemetry, start_telemetry};
use eventsim::cli::Cli;
use eventsim::plan::plan;
use soundlake_core::event::Topic;

fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to /metrics");
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    response.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn a_run_counts_what_it_produced_per_topic() {
    let out = std::env::temp_dir().join(format!("eventsim-metrics-test-{}", std::process::id()));
    let config = common::reference_config();
    let cli = Cli::try_parse_from([
        "eventsim",
        "-c",
        config.to_str().unwrap(),
        "--nusers",
        "30",
        "--start-time",
        "2015-06-01",
        "--end-time",
        "2015-06-03",
        "--progress",
        "never",
        "--output-dir",
        out.to_str().unwrap(),
        "--metrics-addr",
        "127.0.0.1:0",
    ])
    .unwrap();
    let plan = plan(&cli, 1_500_000_000_000).unwrap();
    let telemetry = start_telemetry(&cli).unwrap().expect("telemetry is on");
    let addr = telemetry.local_addr().expect("served");
    let summary = execute_with_telemetry(&plan, &AtomicBool::new(false), Some(&telemetry)).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    assert!(summary.events() > 0);

    let body = scrape(addr);
    for t in Topic::ALL {
        let line = format!(
            "soundlake_eventsim_produced_events_total{{topic=\"{}\"}} {}",
            t.name(),
            summary.per_topic[t.index()]
        );
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in:\n{body}"
        );
        let rate = format!(
            "soundlake_eventsim_produced_events_per_second{{topic=\"{}\"}} ",
            t.name()
        );
        assert!(body.contains(&rate), "missing {rate:?} in:\n{body}");
    }
    assert!(body.contains("soundlake_build_info{service=\"eventsim\","));
    // Files, not Kafka: no delivery counters.
    assert!(!body.contains("delivered"), "{body}");
    telemetry.shutdown().unwrap();
}

#[test]
fn without_metrics_addr_nothing_is_served() {
    let config = common::reference_config();
    let cli = Cli::try_parse_from(["eventsim", "-c", config.to_str().unwrap()]).unwrap();
    assert!(start_telemetry(&cli).unwrap().is_none());
}

#[test]
fn a_taken_metrics_address_stops_the_binary_with_advice() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_eventsim"))
        .args([
            "-c",
            common::reference_config().to_str().unwrap(),
            "--stdout",
        ])
        .args(["--metrics-addr", &addr.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "eventsim: error: metrics address {addr} is in use: pass --metrics-addr or stop the other process"
        )),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
