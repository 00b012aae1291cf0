//! The lander's settings: command-line flags over `SOUNDLAKE_*` environment variables over a
//! TOML file (`--config`) over the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;
use soundlake_core::event::Topic;
use soundlake_core::schema_registry::DEFAULT_REGISTRY_URL;
use soundlake_core::settings::{self, SettingsError};

use crate::decode::DEFAULT_MAX_VALUE_BYTES;
use crate::parquet_writer::RollPolicy;

/// The embedded default lake (a local folder); DESIGN's stack lake is
/// `hdfs://127.0.0.1:8020/lake`.
pub const DEFAULT_LAKE_URL: &str = "file:///tmp/soundlake-lake";
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";
pub const DEFAULT_GROUP: &str = "soundlake-ingest";
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";
pub const DEFAULT_FLUSH_INTERVAL_SECS: u64 = 60;
/// Two: the two busy topics (listen and page view events, first and second in the default
/// order) are decoded side by side.
pub const DEFAULT_DECODE_THREADS: usize = 2;

/// Soundlake lander: Kafka topics → bronze Parquet in the lake (file:// or hdfs://), exactly once.
///
/// Precedence: flags, then SOUNDLAKE_* environment variables, then the --config file, then the
/// defaults.
#[derive(Parser, Debug, Default, Clone)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// TOML config file with any of the settings below (snake_case keys, e.g. `lake_url`).
    #[arg(long, value_name = "FILE", env = "SOUNDLAKE_INGEST_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap brokers, HOST:PORT[,HOST:PORT…] [default: 127.0.0.1:9092].
    #[arg(long, value_name = "HOST:PORT", env = "SOUNDLAKE_KAFKA_BROKERS")]
    pub brokers: Option<String>,
    /// Consumer group [default: soundlake-ingest].
    #[arg(long, env = "SOUNDLAKE_INGEST_GROUP")]
    pub group: Option<String>,
    /// Topics to land, comma separated [default: the four event topics].
    #[arg(long, value_delimiter = ',', env = "SOUNDLAKE_INGEST_TOPICS")]
    pub topics: Option<Vec<String>>,
    /// Lake root: file:///path or hdfs://host:port/path [default: file:///tmp/soundlake-lake].
    #[arg(long, value_name = "URL", env = "SOUNDLAKE_LAKE_URL")]
    pub lake_url: Option<String>,
    /// Schema registry base URL, or `none` for the schema files' fixed ids
    /// [default: http://127.0.0.1:8081/apis/ccompat/v7].
    #[arg(long, value_name = "URL|none", env = "SOUNDLAKE_SCHEMA_REGISTRY_URL")]
    pub schema_registry_url: Option<String>,
    /// Writer id = the consumer's group.instance.id (static membership); unique per running
    /// instance [default: ingest-<hostname>].
    #[arg(long, env = "SOUNDLAKE_INGEST_WRITER_ID")]
    pub writer_id: Option<String>,
    /// Flush once the buffered data reaches this many bytes [default: 40 MiB] (one buffer fills
    /// while two earlier ones are written: count three times this for memory).
    #[arg(long, value_name = "BYTES")]
    pub max_file_bytes: Option<u64>,
    /// Close a file (flush) once it holds this many rows [default: 5000000].
    #[arg(long, value_name = "N")]
    pub max_rows: Option<u64>,
    /// Flush at least this often, in seconds, so that an idle topic's data gets written
    /// [default: 60].
    #[arg(long, value_name = "SECS")]
    pub flush_interval: Option<u64>,
    /// Threads that decode records (topic i goes to thread i mod N; more threads than topics
    /// are not started) [default: 2].
    #[arg(long, value_name = "N", env = "SOUNDLAKE_INGEST_DECODE_THREADS")]
    pub decode_threads: Option<usize>,
    /// Values larger than this are quarantined [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub max_value_bytes: Option<usize>,
    /// Metrics address (Prometheus /metrics) [default: 127.0.0.1:9464].
    #[arg(long, value_name = "ADDR", env = "SOUNDLAKE_INGEST_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// librdkafka consumer setting over the lander's defaults; repeatable.
    #[arg(short = 'X', long = "consumer-config", value_name = "KEY=VALUE")]
    pub consumer_config: Vec<String>,
    /// Land everything up to the end offsets seen at start, commit, and exit 0.
    #[arg(long)]
    pub until_caught_up: bool,
}

/// The TOML file: the same settings, every one optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    brokers: Option<String>,
    group: Option<String>,
    topics: Option<Vec<String>>,
    lake_url: Option<String>,
    schema_registry_url: Option<String>,
    writer_id: Option<String>,
    max_file_bytes: Option<u64>,
    max_rows: Option<u64>,
    flush_interval: Option<u64>,
    decode_threads: Option<usize>,
    max_value_bytes: Option<usize>,
    metrics_addr: Option<String>,
    until_caught_up: Option<bool>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub brokers: String,
    pub group: String,
    pub topics: Vec<String>,
    pub lake_url: String,
    pub schema_registry_url: String,
    pub writer_id: String,
    pub roll: RollPolicy,
    pub flush_interval: Duration,
    pub decode_threads: usize,
    pub max_value_bytes: usize,
    pub metrics_addr: Option<SocketAddr>,
    pub consumer_config: Vec<(String, String)>,
    pub until_caught_up: bool,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Resolves `cli` (flags and env) over its `--config` file over the defaults.
    pub fn resolve(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => settings::read_toml(path)?,
            None => FileConfig::default(),
        };
        let roll = RollPolicy {
            max_file_bytes: cli
                .max_file_bytes
                .or(file.max_file_bytes)
                .unwrap_or(RollPolicy::default().max_file_bytes),
            max_rows: cli
                .max_rows
                .or(file.max_rows)
                .unwrap_or(RollPolicy::default().max_rows),
        };
        if roll.max_rows == 0 || roll.max_file_bytes == 0 {
            return Err(ConfigError::Invalid(
                "--max-rows and --max-file-bytes must be at least 1".into(),
            ));
        }
        let decode_threads = cli
            .decode_threads
            .or(file.decode_threads)
            .unwrap_or(DEFAULT_DECODE_THREADS);
        if decode_threads == 0 {
            return Err(ConfigError::Invalid(
                "--decode-threads must be at least 1".into(),
            ));
        }
        let metrics = cli
            .metrics_addr
            .or(file.metrics_addr)
            .unwrap_or_else(|| DEFAULT_METRICS_ADDR.into());
        let metrics_addr = settings::metrics_addr(&metrics, DEFAULT_METRICS_ADDR)?;
        let mut consumer_config = Vec::new();
        for kv in cli.consumer_config {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| ConfigError::Invalid(format!("-X {kv:?}: expected KEY=VALUE")))?;
            consumer_config.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let topics = cli
            .topics
            .or(file.topics)
            .unwrap_or_else(|| Topic::ALL.iter().map(|t| t.name().to_owned()).collect());
        for topic in &topics {
            if table_of(topic).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "topic {topic:?} is none of the event topics ({}) nor ends with one (a prefixed name)",
                    Topic::ALL.map(Topic::name).join(", ")
                )));
            }
        }
        Ok(Self {
            brokers: cli
                .brokers
                .or(file.brokers)
                .unwrap_or_else(|| DEFAULT_BROKERS.into()),
            group: cli
                .group
                .or(file.group)
                .unwrap_or_else(|| DEFAULT_GROUP.into()),
            topics,
            lake_url: cli
                .lake_url
                .or(file.lake_url)
                .unwrap_or_else(|| DEFAULT_LAKE_URL.into()),
            schema_registry_url: cli
                .schema_registry_url
                .or(file.schema_registry_url)
                .unwrap_or_else(|| DEFAULT_REGISTRY_URL.into()),
            writer_id: cli
                .writer_id
                .or(file.writer_id)
                .unwrap_or_else(default_writer_id),
            roll,
            flush_interval: Duration::from_secs(
                cli.flush_interval
                    .or(file.flush_interval)
                    .unwrap_or(DEFAULT_FLUSH_INTERVAL_SECS)
                    .max(1),
            ),
            decode_threads,
            max_value_bytes: cli
                .max_value_bytes
                .or(file.max_value_bytes)
                .unwrap_or(DEFAULT_MAX_VALUE_BYTES),
            metrics_addr,
            consumer_config,
            until_caught_up: cli.until_caught_up || file.until_caught_up.unwrap_or(false),
        })
    }
}

/// The event topic (table schema) a Kafka topic carries: its name, or a name ending with it.
pub fn table_of(kafka_topic: &str) -> Option<Topic> {
    Topic::ALL
        .into_iter()
        .find(|t| kafka_topic == t.name() || kafka_topic.ends_with(t.name()))
}

fn default_writer_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "local".into());
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(48)
        .collect();
    format!("ingest-{}", if host.is_empty() { "local" } else { &host })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_over_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("ingest-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "group = \"g\"\nmax_rows = 10\nlake_url = \"file:///x\"\n",
        )
        .expect("write");
        let cli = Cli {
            config: Some(path),
            max_rows: Some(5),
            ..Cli::default()
        };
        let c = Config::resolve(cli).expect("config");
        assert_eq!(c.group, "g");
        assert_eq!(c.roll.max_rows, 5);
        assert_eq!(c.lake_url, "file:///x");
        assert_eq!(c.topics.len(), 4);
        assert_eq!(c.decode_threads, DEFAULT_DECODE_THREADS);
        assert_eq!(table_of("t1_listen_events"), Some(Topic::Listen));
        let bad = Cli {
            topics: Some(vec!["nope".into()]),
            ..Cli::default()
        };
        assert!(Config::resolve(bad).is_err());
    }
}
