//! The lander's settings: command-line flags over `SOUNDLAKE_*` environment variables over a
//! TOML file (`--config`) over the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;
use soundlake_core::event::Topic;
use soundlake_core::schema_registry::DEFAULT_REGISTRY_URL;
use soundlake_core::settings::{self, help_with_default, SettingsError};

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
pub const DEFAULT_MAX_FILE_BYTES: u64 = RollPolicy::DEFAULT.max_file_bytes;
pub const DEFAULT_MAX_ROWS: u64 = RollPolicy::DEFAULT.max_rows;

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
    #[command(flatten)]
    pub settings: Settings,
    /// librdkafka consumer setting over the lander's defaults; repeatable.
    #[arg(short = 'X', long = "consumer-config", value_name = "KEY=VALUE")]
    pub consumer_config: Vec<String>,
}

soundlake_core::layered_settings! {
    /// Every setting that a flag (or its environment variable) and the `--config` file both may
    /// give, each under the same name (the file's keys are the field names), each optional:
    /// [`Config::resolve`] takes the command line's over the file's, then the defaults above,
    /// which the help text shows.
    #[derive(clap::Args, Deserialize, Debug, Default, Clone)]
    #[serde(deny_unknown_fields)]
    pub struct Settings {
        #[arg(long, value_name = "HOST:PORT", env = "SOUNDLAKE_KAFKA_BROKERS", help = help_with_default(
            "Kafka bootstrap brokers, HOST:PORT[,HOST:PORT…]", DEFAULT_BROKERS))]
        pub brokers: Option<String>,
        #[arg(long, env = "SOUNDLAKE_INGEST_GROUP",
            help = help_with_default("Consumer group", DEFAULT_GROUP))]
        pub group: Option<String>,
        #[arg(long, value_delimiter = ',', env = "SOUNDLAKE_INGEST_TOPICS",
            help = help_with_default("Topics to land, comma separated", "the four event topics"))]
        pub topics: Option<Vec<String>>,
        #[arg(long, value_name = "URL", env = "SOUNDLAKE_LAKE_URL", help = help_with_default(
            "Lake root: file:///path or hdfs://host:port/path", DEFAULT_LAKE_URL))]
        pub lake_url: Option<String>,
        #[arg(long, value_name = "URL|none", env = "SOUNDLAKE_SCHEMA_REGISTRY_URL",
            help = help_with_default(
                "Schema registry base URL, or `none` for the schema files' fixed ids",
                DEFAULT_REGISTRY_URL))]
        pub schema_registry_url: Option<String>,
        #[arg(long, env = "SOUNDLAKE_INGEST_WRITER_ID", help = help_with_default(
            "Writer id = the consumer's group.instance.id (static membership); unique per \
             running instance", "ingest-<hostname>"))]
        pub writer_id: Option<String>,
        #[arg(long, value_name = "BYTES", help = help_with_default(
            "Flush once the buffered data reaches this many bytes (one buffer fills while two \
             earlier ones are written: count three times this for memory)",
            format!("{} MiB", DEFAULT_MAX_FILE_BYTES / (1024 * 1024))))]
        pub max_file_bytes: Option<u64>,
        #[arg(long, value_name = "N", help = help_with_default(
            "Close a file (flush) once it holds this many rows", DEFAULT_MAX_ROWS))]
        pub max_rows: Option<u64>,
        #[arg(long, value_name = "SECS", help = help_with_default(
            "Flush at least this often, in seconds, so that an idle topic's data gets written",
            DEFAULT_FLUSH_INTERVAL_SECS))]
        pub flush_interval: Option<u64>,
        #[arg(long, value_name = "N", env = "SOUNDLAKE_INGEST_DECODE_THREADS",
            help = help_with_default(
                "Threads that decode records (topic i goes to thread i mod N; more threads than \
                 topics are not started)",
                DEFAULT_DECODE_THREADS))]
        pub decode_threads: Option<usize>,
        #[arg(long, value_name = "BYTES", help = help_with_default(
            "Values larger than this are quarantined", DEFAULT_MAX_VALUE_BYTES))]
        pub max_value_bytes: Option<usize>,
        #[arg(long, value_name = "ADDR", env = "SOUNDLAKE_INGEST_METRICS_ADDR",
            help = help_with_default("Metrics address (Prometheus /metrics)", DEFAULT_METRICS_ADDR))]
        pub metrics_addr: Option<String>,
        /// Land everything up to the end offsets seen at start, commit, and exit 0.
        #[arg(long, num_args = 0, default_missing_value = "true")]
        pub until_caught_up: Option<bool>,
    }
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
        let file: Settings = match &cli.config {
            Some(path) => settings::read_toml(path)?,
            None => Settings::default(),
        };
        let s = cli.settings.or(file);
        let roll = RollPolicy {
            max_file_bytes: s.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES),
            max_rows: s.max_rows.unwrap_or(DEFAULT_MAX_ROWS),
        };
        if roll.max_rows == 0 || roll.max_file_bytes == 0 {
            return Err(ConfigError::Invalid(
                "--max-rows and --max-file-bytes must be at least 1".into(),
            ));
        }
        let decode_threads = s.decode_threads.unwrap_or(DEFAULT_DECODE_THREADS);
        if decode_threads == 0 {
            return Err(ConfigError::Invalid(
                "--decode-threads must be at least 1".into(),
            ));
        }
        let metrics = s
            .metrics_addr
            .unwrap_or_else(|| DEFAULT_METRICS_ADDR.into());
        let metrics_addr = settings::metrics_addr(&metrics, DEFAULT_METRICS_ADDR)?;
        let mut consumer_config = Vec::new();
        for kv in cli.consumer_config {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| ConfigError::Invalid(format!("-X {kv:?}: expected KEY=VALUE")))?;
            consumer_config.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let topics = s
            .topics
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
            brokers: s.brokers.unwrap_or_else(|| DEFAULT_BROKERS.into()),
            group: s.group.unwrap_or_else(|| DEFAULT_GROUP.into()),
            topics,
            lake_url: s.lake_url.unwrap_or_else(|| DEFAULT_LAKE_URL.into()),
            schema_registry_url: s
                .schema_registry_url
                .unwrap_or_else(|| DEFAULT_REGISTRY_URL.into()),
            writer_id: s.writer_id.unwrap_or_else(default_writer_id),
            roll,
            flush_interval: Duration::from_secs(
                s.flush_interval
                    .unwrap_or(DEFAULT_FLUSH_INTERVAL_SECS)
                    .max(1),
            ),
            decode_threads,
            max_value_bytes: s.max_value_bytes.unwrap_or(DEFAULT_MAX_VALUE_BYTES),
            metrics_addr,
            consumer_config,
            until_caught_up: s.until_caught_up.unwrap_or(false),
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
            settings: Settings {
                max_rows: Some(5),
                ..Settings::default()
            },
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
            settings: Settings {
                topics: Some(vec!["nope".into()]),
                ..Settings::default()
            },
            ..Cli::default()
        };
        assert!(Config::resolve(bad).is_err());
    }

    #[test]
    fn flags_parse_into_the_settings() {
        let cli = Cli::try_parse_from([
            "soundlake-ingest",
            "--until-caught-up",
            "--max-rows",
            "7",
            "--topics",
            "auth_events,listen_events",
            "-X",
            "fetch.min.bytes=1",
        ])
        .expect("flags");
        assert_eq!(cli.settings.until_caught_up, Some(true));
        assert_eq!(cli.settings.max_rows, Some(7));
        assert_eq!(
            cli.settings.topics,
            Some(vec!["auth_events".into(), "listen_events".into()])
        );
        assert_eq!(cli.consumer_config, ["fetch.min.bytes=1"]);
        let bare = Cli::try_parse_from(["soundlake-ingest"]).expect("no flags");
        assert_eq!(
            bare.settings.until_caught_up, None,
            "unset: the file decides"
        );
        assert_eq!(bare.settings.max_rows, None, "unset: the file decides");
    }

    #[test]
    fn the_file_sets_what_flags_leave_unset() {
        let dir = std::env::temp_dir().join(format!("ingest-config-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.toml");
        std::fs::write(&path, "until_caught_up = true\nmax_file_bytes = 1000\n").expect("write");
        let cli = Cli {
            config: Some(path),
            ..Cli::default()
        };
        let c = Config::resolve(cli).expect("config");
        assert!(c.until_caught_up);
        assert_eq!(c.roll.max_file_bytes, 1000);
        assert_eq!(c.roll.max_rows, DEFAULT_MAX_ROWS);
        assert_eq!(
            c.flush_interval,
            Duration::from_secs(DEFAULT_FLUSH_INTERVAL_SECS)
        );
        assert_eq!(c.max_value_bytes, DEFAULT_MAX_VALUE_BYTES);
    }

    #[test]
    fn the_help_shows_the_defaults() {
        use clap::CommandFactory;
        let help = Cli::command().render_help().to_string();
        for default in [
            "[default: 127.0.0.1:9092]",
            "[default: soundlake-ingest]",
            "[default: the four event topics]",
            "[default: file:///tmp/soundlake-lake]",
            "[default: http://127.0.0.1:8081/apis/ccompat/v7]",
            "[default: ingest-<hostname>]",
            "[default: 40 MiB]",
            "[default: 5000000]",
            "[default: 60]",
            "[default: 2]",
            "[default: 1048576]",
            "[default: 127.0.0.1:9464]",
        ] {
            assert!(help.contains(default), "{default} in\n{help}");
        }
    }
}
