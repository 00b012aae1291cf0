//! `--continuous`: events come out in time order, when their time comes; `--stdout`.

mod common;

use std::process::Command;
use std::time::Instant;

use eventsim::cli::format_time;

#[test]
fn continuous_mode_paces_events_in_time_order() {
    let now = chrono::Utc::now().timestamp_millis();
    let (start, end) = (format_time(now - 1_800_000), format_time(now + 4_000));
    let config = common::reference_config();
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_eventsim"))
        .args(["-c", config.to_str().expect("utf-8 path")])
        .args([
            "--nusers",
            "20000",
            "--continuous",
            "--stdout",
            "--progress",
            "never",
        ])
        .args(["--start-time", &start, "--end-time", &end])
        .output()
        .expect("run eventsim");
    let waited = t0.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let evs = common::parse_lines(text.lines());
    assert!(!evs.is_empty());
    let ts: Vec<i64> = evs.iter().map(|e| e["ts"].as_i64().expect("ts")).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "events in time order");
    let last = *ts.last().expect("events");
    assert!(last < now + 4_000, "no event after the end");
    assert!(
        last > now,
        "events in the future part of the span ({} ms before now)",
        now - last
    );
    // Events from the future part came out when their time came, not at once.
    let due = (last - now) as f64 / 1000.0;
    assert!(
        waited >= due - 0.3,
        "ran {waited} s, but the last event was due after {due} s"
    );
    // Every line is a page view.
    assert!(evs.iter().all(|e| e.contains_key("page")));
}
