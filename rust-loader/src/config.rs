//! The loader's settings: command-line flags over `SOUNDLAKE_*` environment variables over a
//! TOML file (`--config`) over the defaults. The ClickHouse password comes only from the
//! environment or a file, never from a flag or the config file itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Deserialize;
use soundlake_core::settings::{self, SettingsError};

use crate::discover::TableFilter;
use crate::load::{LoadOptions, DEFAULT_RETRY};
use crate::run::RunConfig;
use crate::server::ServerConfig;

pub const DEFAULT_LAKE_URL: &str = "hdfs://127.0.0.1:8020/lake";
pub const DEFAULT_CLICKHOUSE_URL: &str = "http://127.0.0.1:8123";
pub const DEFAULT_USER: &str = "default";
pub const DEFAULT_DATABASE: &str = "soundlake";
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9465";
pub const DEFAULT_BATCH_ROWS: usize = 65_536;
pub const ENV_PASSWORD: &str = "SOUNDLAKE_CLICKHOUSE_PASSWORD";
pub const ENV_PASSWORD_FILE: &str = "SOUNDLAKE_CLICKHOUSE_PASSWORD_FILE";

/// When to draw progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Progress {
    /// On a terminal only (plain log lines otherwise).
    #[default]
    Auto,
    Always,
    Never,
}

/// Compression of the inserted data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CompressionChoice {
    /// Plain (fastest on the same machine).
    #[default]
    None,
    /// ClickHouse's LZ4 block format (less traffic over a network).
    Lz4,
}

/// Soundlake loader: every gold table of the lake into ClickHouse, atomically and
/// incrementally.
///
/// Each table is loaded into a staging table, checked (row count and per-column checksums),
/// then swapped in at once (full load) or swapped in month by month with REPLACE PARTITION
/// (incremental load: only the months whose lake partitions changed since the last successful
/// load, per the load log `<database>._load_log`). A failed load leaves the previous table
/// served and records the failure.
///
/// Precedence: flags, then SOUNDLAKE_* environment variables, then the --config file, then the
/// defaults. The password: SOUNDLAKE_CLICKHOUSE_PASSWORD, or the file named by
/// --password-file / SOUNDLAKE_CLICKHOUSE_PASSWORD_FILE.
///
/// Exit status: 0 when every table loaded (or there was nothing to load), 1 when a table failed,
/// 2 for a configuration error.
#[derive(Parser, Debug, Default, Clone)]
#[command(name = "soundlake-loader", version, about, long_about)]
pub struct Cli {
    /// TOML config file with any of the settings below (snake_case keys, e.g. `lake_url`).
    #[arg(long, value_name = "FILE", env = "SOUNDLAKE_LOADER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Lake root: hdfs://host:port/path or file:///path [default: hdfs://127.0.0.1:8020/lake].
    #[arg(long, value_name = "URL", env = "SOUNDLAKE_LAKE_URL")]
    pub lake_url: Option<String>,
    /// ClickHouse HTTP URL [default: http://127.0.0.1:8123].
    #[arg(long, value_name = "URL", env = "SOUNDLAKE_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,
    /// ClickHouse user [default: default].
    #[arg(long, env = "SOUNDLAKE_CLICKHOUSE_USER")]
    pub user: Option<String>,
    /// File holding the ClickHouse password (its first line).
    #[arg(long, value_name = "FILE", env = ENV_PASSWORD_FILE)]
    pub password_file: Option<PathBuf>,
    /// ClickHouse database [default: soundlake].
    #[arg(long, env = "SOUNDLAKE_CLICKHOUSE_DATABASE")]
    pub database: Option<String>,
    /// Load only these tables (comma separated; `prefix*` allowed) [default: all].
    #[arg(long, value_delimiter = ',')]
    pub include: Option<Vec<String>>,
    /// Skip these tables (comma separated; `prefix*` allowed).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Option<Vec<String>>,
    /// Print the plan (tables, partitions, DDL) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Reload every table in full, whatever changed.
    #[arg(long)]
    pub full: bool,
    /// Run again every SECS seconds until interrupted (serving metrics all along).
    #[arg(long, value_name = "SECS")]
    pub every: Option<u64>,
    /// Retries of a table load after a transient failure [default: 3].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Rows per Native block sent to ClickHouse [default: 65536].
    #[arg(long, value_name = "N")]
    pub batch_rows: Option<usize>,
    /// Concurrent inserts per table, each reading its share of the files [default: 2].
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Compression of inserted data [default: none].
    #[arg(long, value_enum)]
    pub compression: Option<CompressionChoice>,
    /// Metrics address (Prometheus /metrics), or `none` [default: 127.0.0.1:9465].
    #[arg(long, value_name = "ADDR", env = "SOUNDLAKE_LOADER_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Progress bars per table.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
}

/// The TOML file: the same settings, every one optional (no password: see `password_file`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    lake_url: Option<String>,
    clickhouse_url: Option<String>,
    user: Option<String>,
    password_file: Option<PathBuf>,
    database: Option<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    every: Option<u64>,
    retries: Option<u32>,
    batch_rows: Option<usize>,
    parallel: Option<usize>,
    compression: Option<CompressionChoice>,
    metrics_addr: Option<String>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub run: RunConfig,
    pub every: Option<Duration>,
    pub metrics_addr: Option<SocketAddr>,
    pub progress: Progress,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot read the password file {path}: {reason}")]
    PasswordFile { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Resolves `cli` (flags and env) over its `--config` file over the defaults; the password
    /// from `env` (a lookup of environment variables).
    pub fn resolve(cli: Cli, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => settings::read_toml(path)?,
            None => FileConfig::default(),
        };
        let password = match (env(ENV_PASSWORD), cli.password_file.or(file.password_file)) {
            (Some(password), _) => Some(password),
            (None, Some(path)) => Some(read_password(&path)?),
            (None, None) => None,
        };
        let database = cli
            .database
            .or(file.database)
            .unwrap_or_else(|| DEFAULT_DATABASE.into());
        if !crate::discover::is_plain_identifier(&database) {
            return Err(ConfigError::Invalid(format!(
                "--database {database:?}: use letters, digits and _ only"
            )));
        }
        let metrics = cli
            .metrics_addr
            .or(file.metrics_addr)
            .unwrap_or_else(|| DEFAULT_METRICS_ADDR.into());
        let metrics_addr = settings::metrics_addr(&metrics, DEFAULT_METRICS_ADDR)?;
        let batch_rows = cli
            .batch_rows
            .or(file.batch_rows)
            .unwrap_or(DEFAULT_BATCH_ROWS);
        if batch_rows == 0 {
            return Err(ConfigError::Invalid(
                "--batch-rows must be at least 1".into(),
            ));
        }
        let every = match cli.every.or(file.every) {
            Some(0) => {
                return Err(ConfigError::Invalid(
                    "--every must be at least 1 second".into(),
                ))
            }
            other => other.map(Duration::from_secs),
        };
        let clickhouse_url = cli
            .clickhouse_url
            .or(file.clickhouse_url)
            .unwrap_or_else(|| DEFAULT_CLICKHOUSE_URL.into());
        if !(clickhouse_url.starts_with("http://") || clickhouse_url.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "--clickhouse-url {clickhouse_url:?}: use ClickHouse's HTTP interface, e.g. {DEFAULT_CLICKHOUSE_URL}"
            )));
        }
        let compression = cli.compression.or(file.compression).unwrap_or_default();
        Ok(Self {
            run: RunConfig {
                lake_url: cli
                    .lake_url
                    .or(file.lake_url)
                    .unwrap_or_else(|| DEFAULT_LAKE_URL.into()),
                server: ServerConfig {
                    url: clickhouse_url,
                    user: cli
                        .user
                        .or(file.user)
                        .unwrap_or_else(|| DEFAULT_USER.into()),
                    password,
                    database,
                    lz4: compression == CompressionChoice::Lz4,
                },
                filter: TableFilter {
                    include: cli.include.or(file.include).unwrap_or_default(),
                    exclude: cli.exclude.or(file.exclude).unwrap_or_default(),
                },
                dry_run: cli.dry_run,
                full: cli.full,
                load: LoadOptions {
                    batch_rows,
                    retry: match cli.retries.or(file.retries) {
                        Some(retries) => DEFAULT_RETRY.with_max_retries(retries),
                        None => DEFAULT_RETRY,
                    },
                    progress_bar: false,
                    parallel: cli.parallel.or(file.parallel).unwrap_or(2).max(1),
                },
            },
            every,
            metrics_addr,
            progress: cli.progress,
        })
    }
}

fn read_password(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().next().unwrap_or_default().to_owned())
        .map_err(|e| ConfigError::PasswordFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults() {
        let config = Config::resolve(Cli::default(), no_env).unwrap();
        assert_eq!(config.run.lake_url, DEFAULT_LAKE_URL);
        assert_eq!(config.run.server.url, DEFAULT_CLICKHOUSE_URL);
        assert_eq!(config.run.server.database, "soundlake");
        assert_eq!(config.run.server.password, None);
        assert_eq!(
            config.metrics_addr,
            Some(DEFAULT_METRICS_ADDR.parse().unwrap())
        );
    }

    #[test]
    fn flags_over_file_and_password_from_env_or_file() {
        let dir = std::env::temp_dir().join(format!("loader-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("password");
        std::fs::write(&secret, "s3cret\n").unwrap();
        let file = dir.join("loader.toml");
        std::fs::write(
            &file,
            format!(
                "database = \"from_file\"\nuser = \"u\"\nexclude = [\"gold_x\"]\npassword_file = {:?}\n",
                secret.display().to_string()
            ),
        )
        .unwrap();
        let cli = Cli {
            config: Some(file.clone()),
            database: Some("from_flag".into()),
            metrics_addr: Some("none".into()),
            ..Cli::default()
        };
        let config = Config::resolve(cli.clone(), no_env).unwrap();
        assert_eq!(config.run.server.database, "from_flag");
        assert_eq!(config.run.server.user, "u");
        assert_eq!(config.run.filter.exclude, ["gold_x"]);
        assert_eq!(config.run.server.password.as_deref(), Some("s3cret"));
        assert_eq!(config.metrics_addr, None);
        let from_env =
            Config::resolve(cli, |name| (name == ENV_PASSWORD).then(|| "env".to_owned())).unwrap();
        assert_eq!(from_env.run.server.password.as_deref(), Some("env"));
        assert!(
            !format!("{:?}", from_env.run.server).contains("env\""),
            "the password is not printed"
        );
        std::fs::write(&file, "password = \"inline\"\n").unwrap();
        let err = Config::resolve(
            Cli {
                config: Some(file),
                ..Cli::default()
            },
            no_env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
