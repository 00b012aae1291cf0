//! The telemetry endpoint end to end: served on 127.0.0.1:0, scraped over HTTP, the exact
//! metric lines checked, and the output accepted by `promtool check metrics`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};

use soundlake_core::telemetry::{KeyValue, Telemetry, TelemetryError, Unit, VERSION};

const PROMTOOL: &str = "/usr/bin/promtool";

/// GETs `path` and returns the status line and the body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.lines().next().unwrap_or("").to_string();
    (status, body.to_string())
}

fn promtool() -> &'static Path {
    let path = Path::new(PROMTOOL);
    assert!(
        path.exists(),
        "{PROMTOOL} is missing: it comes with Debian's prometheus package, which the local \
         stack installs (`scripts/stack install prometheus`)"
    );
    path
}

#[test]
fn metrics_are_served_in_the_prometheus_text_format() {
    let telemetry = Telemetry::init("selftest", Some("127.0.0.1:0".parse().unwrap())).unwrap();
    let addr = telemetry.local_addr().expect("a bound address");
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    eprintln!("telemetry test: serving on http://{addr}/metrics");

    let produced = telemetry.counter("produced", Unit::Events, "Events produced");
    let topic = |t: &'static str| [KeyValue::new("topic", t)];
    produced.add(40, &topic("listen_events"));
    produced.add(2, &topic("listen_events"));
    produced.add(7, &topic("auth_events"));
    let duration = telemetry.histogram(
        "write_duration",
        Unit::Seconds,
        "Time to write a chunk",
        &[0.1, 0.5, 1.0],
    );
    duration.record(0.25, &[]);
    duration.record(0.75, &[]);
    duration.record(3.0, &[]);
    telemetry
        .gauge(
            "produced",
            Unit::EventsPerSecond,
            "Events produced per second",
        )
        .record(1250.5, &[]);

    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let lines: Vec<&str> = body.lines().collect();
    for expected in [
        "# TYPE soundlake_selftest_produced_events_total counter",
        "soundlake_selftest_produced_events_total{topic=\"listen_events\"} 42",
        "soundlake_selftest_produced_events_total{topic=\"auth_events\"} 7",
        "# TYPE soundlake_selftest_write_duration_seconds histogram",
        "soundlake_selftest_write_duration_seconds_bucket{le=\"0.1\"} 0",
        "soundlake_selftest_write_duration_seconds_bucket{le=\"0.5\"} 1",
        "soundlake_selftest_write_duration_seconds_bucket{le=\"1\"} 2",
        "soundlake_selftest_write_duration_seconds_bucket{le=\"+Inf\"} 3",
        "soundlake_selftest_write_duration_seconds_sum 4",
        "soundlake_selftest_write_duration_seconds_count 3",
        "# TYPE soundlake_selftest_produced_events_per_second gauge",
        "soundlake_selftest_produced_events_per_second 1250.5",
        "# TYPE soundlake_build_info gauge",
        &format!("soundlake_build_info{{service=\"selftest\",version=\"{VERSION}\"}} 1"),
    ] {
        assert!(
            lines.contains(&expected),
            "missing {expected:?} in:\n{body}"
        );
    }
    // Nothing but ours: no target_info, no otel_scope_* labels.
    assert!(
        !body.contains("target_info") && !body.contains("otel_scope"),
        "{body}"
    );

    let (status, body) = get(addr, "/healthz");
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "ok\n")
    );
    assert_eq!(get(addr, "/nope").0, "HTTP/1.1 404 Not Found");

    let (_, body) = get(addr, "/metrics");
    let mut check = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused the output ({}):\n{}{}\n--- output:\n{body}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    telemetry.shutdown().unwrap();
    assert!(
        TcpStream::connect(addr).is_err(),
        "{addr} still accepts connections after shutdown"
    );
}

#[test]
fn an_address_in_use_is_reported_with_advice() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Telemetry::init("selftest", Some(addr)).unwrap_err();
    assert!(matches!(err, TelemetryError::AddrInUse { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("metrics address {addr} is in use: pass --metrics-addr or stop the other process")
    );
}

#[test]
fn without_an_address_nothing_is_served_but_metrics_work() {
    let telemetry = Telemetry::init("selftest", None).unwrap();
    assert_eq!(telemetry.local_addr(), None);
    telemetry
        .counter("sent", Unit::Bytes, "Bytes sent")
        .add(5, &[]);
    assert!(telemetry
        .render()
        .lines()
        .any(|l| l == "soundlake_selftest_sent_bytes_total 5"));
    assert!(matches!(
        Telemetry::init("Self Test", None),
        Err(TelemetryError::Name(_))
    ));
}
