//! The command line: eventsim's options (same names and meanings) plus our own for sinks,
//! threads and progress.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use clap::Parser;

use soundlake_core::settings::help_with_default;

use crate::progress::ProgressMode;
use crate::settings::RunSettings;

/// Where JSON lines go when no output is named (eventsim's default).
pub const DEFAULT_OUTPUT_DIR: &str = "output";

/// eventsim: generates a music service's click-stream (eventsim's model and config format).
#[derive(Parser, Debug, Clone)]
#[command(name = "eventsim", version, about, long_about = None)]
pub struct Cli {
    /// eventsim config file (JSON).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: PathBuf,

    #[command(flatten)]
    pub run: RunSettings,

    /// Start from X days ago (when no start time is given).
    #[arg(long = "from", value_name = "DAYS", default_value_t = 15)]
    pub from: i64,

    /// End Y days ago (when no end time is given).
    #[arg(long = "to", value_name = "DAYS", default_value_t = 1)]
    pub to: i64,

    /// Real-time output: each event is emitted when its timestamp comes.
    #[arg(long = "continuous", overrides_with = "nocontinuous")]
    pub continuous: bool,

    /// Batch output in global time order, as eventsim writes it (one thread; about 200 bytes
    /// of memory per user). Without it, batch output is user by user (each user's events in
    /// time order), in parallel and in constant memory.
    #[arg(long = "time-ordered")]
    pub time_ordered: bool,

    /// Run all at once (the default; eventsim's toggle).
    #[arg(long = "nocontinuous", hide = true)]
    pub nocontinuous: bool,

    /// eventsim's toggle; accepted and ignored.
    #[arg(long = "verbose", hide = true)]
    pub verbose: bool,

    /// eventsim's toggle; accepted and ignored.
    #[arg(long = "noverbose", hide = true)]
    pub noverbose: bool,

    #[arg(long = "output-dir", value_name = "DIR", conflicts_with = "stdout", help = help_with_default(
        "Write JSON lines into DIR/<topic>.jsonl",
        format_args!("./{DEFAULT_OUTPUT_DIR}, as eventsim"),
    ))]
    pub output_dir: Option<PathBuf>,

    /// eventsim's trailing output directory argument (same as --output-dir).
    #[arg(value_name = "OUTPUT_DIR", conflicts_with_all = ["stdout", "output_dir"])]
    pub output_dir_arg: Option<PathBuf>,

    /// Write JSON lines of page_view_events (every event) to standard output instead.
    #[arg(long = "stdout")]
    pub stdout: bool,

    /// Send Avro records (Confluent wire format) to these Kafka brokers, HOST:PORT[,HOST:PORT…],
    /// instead of writing files.
    #[arg(
        long = "kafka-brokers",
        value_name = "HOST:PORT",
        conflicts_with_all = ["stdout", "output_dir", "output_dir_arg"]
    )]
    pub kafka_brokers: Option<String>,

    /// With --kafka-brokers: the schema registry (Confluent REST API) that gives the schema
    /// ids, or `none` for the fixed ids of schema-registry/ids.json.
    #[arg(
        long = "schema-registry-url",
        value_name = "URL|none",
        env = "SOUNDLAKE_SCHEMA_REGISTRY_URL",
        default_value = soundlake_core::schema_registry::DEFAULT_REGISTRY_URL
    )]
    pub schema_registry_url: String,

    /// With --kafka-brokers: prefix of the topic names (`PREFIXlisten_events`, …).
    #[arg(
        long = "topic-prefix",
        value_name = "PREFIX",
        default_value = "",
        requires = "kafka_brokers"
    )]
    pub topic_prefix: String,

    /// With --kafka-brokers: partitions of the topics created when missing.
    #[arg(
        long = "partitions",
        value_name = "N",
        default_value_t = 4,
        requires = "kafka_brokers"
    )]
    pub partitions: i32,

    /// With --kafka-brokers: a librdkafka producer setting over eventsim's defaults
    /// (e.g. linger.ms=20, compression.type=zstd); repeatable.
    #[arg(
        long = "producer-config",
        short = 'X',
        value_name = "KEY=VALUE",
        requires = "kafka_brokers"
    )]
    pub producer_config: Vec<String>,

    /// Generation threads [default: the number of CPUs]. The output does not depend on it.
    #[arg(long = "threads", value_name = "N")]
    pub threads: Option<usize>,

    /// Serve Prometheus metrics on http://ADDR/metrics (events produced per topic, events/s,
    /// Kafka deliveries and failures), e.g. 127.0.0.1:9466, the local stack's port for
    /// eventsim [default: off].
    #[arg(long = "metrics-addr", value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,

    /// Progress display on standard error.
    #[arg(
        long = "progress",
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub progress: ProgressMode,
}

/// Reads a time as eventsim does (`LocalDateTime.parse`, taken as UTC), a little more leniently:
/// `2015-06-01T00:00:00[.sss][Z]`, `2015-06-01T00:00`, `2015-06-01 00:00:00` or `2015-06-01`.
/// Returns epoch milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = s.trim().trim_end_matches('Z');
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// Formats epoch ms as eventsim prints times (`2015-06-01T00:00:00`).
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let a = parse_time("2015-06-01T00:00:00").expect("iso");
        assert_eq!(a, 1_433_116_800_000);
        assert_eq!(parse_time("2015-06-01"), Some(a));
        assert_eq!(parse_time("2015-06-01T00:00"), Some(a));
        assert_eq!(parse_time("2015-06-01T00:00:00Z"), Some(a));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2015-13-01"), None);
        assert_eq!(format_time(a), "2015-06-01T00:00:00");
    }
}
