//! The loader's settings: command-line flags over `SOUNDLAKE_*` environment variables over a
//! TOML file (`--config`) over the defaults. The ClickHouse password comes only from the
//! environment or a file, never from a flag or the config file itself.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, ValueEnum};
use serde::Deserialize;
use soundlake_core::settings::{self, help_with_default, SettingsError};

use crate::discover::TableFilter;
use crate::load::{
    LoadOptions, DEFAULT_BATCH_ROWS, DEFAULT_PARALLEL, DEFAULT_RETRIES, DEFAULT_RETRY,
};
use crate::run::RunConfig;
use crate::server::ServerConfig;

pub const DEFAULT_LAKE_URL: &str = "hdfs://127.0.0.1:8020/lake";
pub const DEFAULT_CLICKHOUSE_URL: &str = "http://127.0.0.1:8123";
pub const DEFAULT_USER: &str = "default";
pub const DEFAULT_DATABASE: &str = "soundlake";
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9465";
pub const DEFAULT_COMPRESSION: CompressionChoice = CompressionChoice::None;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionChoice {
    /// Plain (fastest on the same machine).
    None,
    /// ClickHouse's LZ4 block format (less traffic over a network).
    Lz4,
}

impl fmt::Display for CompressionChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompressionChoice::None => "none",
            CompressionChoice::Lz4 => "lz4",
        })
    }
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
    #[command(flatten)]
    pub settings: Settings,
    /// Print the plan (tables, partitions, DDL) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Reload every table in full, whatever changed.
    #[arg(long)]
    pub full: bool,
    /// Progress bars per table.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
}

soundlake_core::layered_settings! {
    /// The settings that a flag (or its environment variable) and the config file both may give,
    /// each under the same name (the file's keys are the field names); `None`: not given there.
    /// The password is not one of them: see `password_file`.
    #[derive(Args, Debug, Default, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Settings {
        #[arg(long, value_name = "URL", env = "SOUNDLAKE_LAKE_URL", help = help_with_default(
            "Lake root: hdfs://host:port/path or file:///path", DEFAULT_LAKE_URL))]
        pub lake_url: Option<String>,
        #[arg(long, value_name = "URL", env = "SOUNDLAKE_CLICKHOUSE_URL",
            help = help_with_default("ClickHouse HTTP URL", DEFAULT_CLICKHOUSE_URL))]
        pub clickhouse_url: Option<String>,
        #[arg(long, env = "SOUNDLAKE_CLICKHOUSE_USER",
            help = help_with_default("ClickHouse user", DEFAULT_USER))]
        pub user: Option<String>,
        /// File holding the ClickHouse password (its first line).
        #[arg(long, value_name = "FILE", env = ENV_PASSWORD_FILE)]
        pub password_file: Option<PathBuf>,
        #[arg(long, env = "SOUNDLAKE_CLICKHOUSE_DATABASE",
            help = help_with_default("ClickHouse database", DEFAULT_DATABASE))]
        pub database: Option<String>,
        /// Load only these tables (comma separated; `prefix*` allowed) [default: all].
        #[arg(long, value_delimiter = ',')]
        pub include: Option<Vec<String>>,
        /// Skip these tables (comma separated; `prefix*` allowed).
        #[arg(long, value_delimiter = ',')]
        pub exclude: Option<Vec<String>>,
        /// Run again every SECS seconds until interrupted (serving metrics all along).
        #[arg(long, value_name = "SECS")]
        pub every: Option<u64>,
        #[arg(long, value_name = "N", help = help_with_default(
            "Retries of a table load after a transient failure", DEFAULT_RETRIES))]
        pub retries: Option<u32>,
        #[arg(long, value_name = "N",
            help = help_with_default("Rows per Native block sent to ClickHouse", DEFAULT_BATCH_ROWS))]
        pub batch_rows: Option<usize>,
        #[arg(long, value_name = "N", help = help_with_default(
            "Concurrent inserts per table, each reading its share of the files", DEFAULT_PARALLEL))]
        pub parallel: Option<usize>,
        #[arg(long, value_enum,
            help = help_with_default("Compression of inserted data", DEFAULT_COMPRESSION))]
        pub compression: Option<CompressionChoice>,
        #[arg(long, value_name = "ADDR", env = "SOUNDLAKE_LOADER_METRICS_ADDR", help = help_with_default(
            "Metrics address (Prometheus /metrics), or `none`", DEFAULT_METRICS_ADDR))]
        pub metrics_addr: Option<String>,
    }
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
    #[error("--database {0:?}: use letters, digits and _ only")]
    Database(String),
    #[error("--batch-rows must be at least 1")]
    BatchRows,
    #[error("--every must be at least 1 second")]
    Every,
    #[error(
        "--clickhouse-url {0:?}: use ClickHouse's HTTP interface, e.g. {DEFAULT_CLICKHOUSE_URL}"
    )]
    ClickHouseUrl(String),
}

impl Config {
    /// Resolves `cli` (flags and env) over its `--config` file over the defaults; the password
    /// from `env` (a lookup of environment variables).
    pub fn resolve(cli: Cli, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => settings::read_toml(path)?,
            None => Settings::default(),
        };
        let given = cli.settings.or(file);
        let password = match (env(ENV_PASSWORD), given.password_file) {
            (Some(password), _) => Some(password),
            (None, Some(path)) => Some(read_password(&path)?),
            (None, None) => None,
        };
        let database = given.database.unwrap_or_else(|| DEFAULT_DATABASE.into());
        if !crate::discover::is_plain_identifier(&database) {
            return Err(ConfigError::Database(database));
        }
        let metrics = given
            .metrics_addr
            .unwrap_or_else(|| DEFAULT_METRICS_ADDR.into());
        let metrics_addr = settings::metrics_addr(&metrics, DEFAULT_METRICS_ADDR)?;
        let batch_rows = given.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS);
        if batch_rows == 0 {
            return Err(ConfigError::BatchRows);
        }
        let every = match given.every {
            Some(0) => return Err(ConfigError::Every),
            other => other.map(Duration::from_secs),
        };
        let clickhouse_url = given
            .clickhouse_url
            .unwrap_or_else(|| DEFAULT_CLICKHOUSE_URL.into());
        if !(clickhouse_url.starts_with("http://") || clickhouse_url.starts_with("https://")) {
            return Err(ConfigError::ClickHouseUrl(clickhouse_url));
        }
        let compression = given.compression.unwrap_or(DEFAULT_COMPRESSION);
        Ok(Self {
            run: RunConfig {
                lake_url: given.lake_url.unwrap_or_else(|| DEFAULT_LAKE_URL.into()),
                server: ServerConfig {
                    url: clickhouse_url,
                    user: given.user.unwrap_or_else(|| DEFAULT_USER.into()),
                    password,
                    database,
                    lz4: compression == CompressionChoice::Lz4,
                },
                filter: TableFilter {
                    include: given.include.unwrap_or_default(),
                    exclude: given.exclude.unwrap_or_default(),
                },
                dry_run: cli.dry_run,
                full: cli.full,
                load: LoadOptions {
                    batch_rows,
                    retry: DEFAULT_RETRY.with_max_retries(given.retries.unwrap_or(DEFAULT_RETRIES)),
                    progress_bar: false,
                    parallel: given.parallel.unwrap_or(DEFAULT_PARALLEL).max(1),
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
            settings: Settings {
                database: Some("from_flag".into()),
                metrics_addr: Some("none".into()),
                ..Settings::default()
            },
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
