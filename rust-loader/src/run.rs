//! One run of the loader: discover the gold tables, plan each, load each (with retries),
//! record every outcome in the load log, and report.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use soundlake_core::lake::{LakeStore, LakeUrl};
use soundlake_core::text_table::{count, per_second, seconds, Align, TextTable};

use crate::discover::{discover, TableFilter, GOLD_DIR};
use crate::error::Error;
use crate::load::{load_table, LoadOptions};
use crate::load_log::{self, LogEntry, Mode, LOAD_LOG_TABLE};
use crate::metrics::LoaderMetrics;
use crate::plan::{decide, Action, TablePlan};
use crate::schema::TableSchema;
use crate::server::{Server, ServerConfig};
use crate::source::parquet_schema;

/// What a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub lake_url: String,
    pub server: ServerConfig,
    pub filter: TableFilter,
    pub dry_run: bool,
    /// Reload every table in full.
    pub full: bool,
    pub load: LoadOptions,
}

/// One table's outcome.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub table: String,
    pub mode: Mode,
    pub rows: u64,
    pub bytes: u64,
    pub partitions: Vec<String>,
    pub elapsed: Duration,
    /// `None` when the load succeeded.
    pub error: Option<String>,
}

/// A run's outcome.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// The gold folder that was searched.
    pub gold_url: String,
    pub server_version: String,
    pub tables: Vec<TableReport>,
    /// With `--dry-run`: the plan, as text.
    pub plan: String,
}

impl RunReport {
    pub fn failures(&self) -> usize {
        self.tables.iter().filter(|t| t.error.is_some()).count()
    }

    /// The summary table printed at the end of a run: one row per table, then the total.
    pub fn render(&self) -> String {
        let mut text = TextTable::new([
            ("table", Align::Left),
            ("mode", Align::Left),
            ("rows", Align::Right),
            ("rows/s", Align::Right),
            ("seconds", Align::Right),
            ("status", Align::Left),
        ]);
        for t in &self.tables {
            let status = match &t.error {
                None => "ok".to_owned(),
                Some(err) => format!("FAILED: {err}"),
            };
            text.row([
                t.table.clone(),
                t.mode.as_str().to_owned(),
                count(t.rows),
                per_second(t.rows, t.elapsed),
                seconds(t.elapsed),
                status,
            ]);
        }
        let rows = self.tables.iter().map(|t| t.rows).sum();
        let elapsed = self.tables.iter().map(|t| t.elapsed).sum();
        let status = match self.failures() {
            0 => "ok".to_owned(),
            n => format!("{n} failed"),
        };
        text.total([
            "total".to_owned(),
            String::new(),
            count(rows),
            per_second(rows, elapsed),
            seconds(elapsed),
            status,
        ]);
        text.render()
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn utc_text(micros: u64) -> String {
    chrono::DateTime::from_timestamp_micros(micros as i64)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Runs the loader once.
pub async fn run(config: &RunConfig, metrics: Option<&LoaderMetrics>) -> Result<RunReport, Error> {
    let lake = LakeUrl::parse(&config.lake_url)?;
    let store = LakeStore::open(&lake)?;
    let gold_url = store.url_of(GOLD_DIR);
    let retry = config.load.retry;
    let tables = retry
        .retry(&format!("listing {gold_url}"), Error::is_transient, || {
            discover(&store, &config.filter)
        })
        .await?;
    let mut report = RunReport {
        gold_url,
        ..RunReport::default()
    };
    if tables.is_empty() {
        return Ok(report);
    }
    let mut server = retry
        .retry(
            &format!("connecting to {}", config.server.url),
            Error::is_transient,
            || Server::connect(&config.server),
        )
        .await?;
    report.server_version = server.version().to_owned();
    let existing = if config.dry_run {
        if server.database_exists().await? {
            server.refresh_database_features().await?;
            server.tables().await?
        } else {
            Vec::new()
        }
    } else {
        server.ensure_database().await?;
        load_log::ensure(&server).await?;
        server.tables().await?
    };
    if let Some(metrics) = metrics {
        if existing.iter().any(|t| t == LOAD_LOG_TABLE) {
            metrics.seed_last_success(&load_log::last_success_times(&server).await?);
        }
    }
    let log_exists = existing.iter().any(|t| t == LOAD_LOG_TABLE);
    for table in tables {
        let started_at = now_micros();
        let clock = Instant::now();
        let table_exists = existing.contains(&table.name);
        let planned = async {
            let first = table.schema_source().ok_or_else(|| {
                Error::Layout(format!(
                    "gold table {} has neither data files nor a schema file",
                    table.name
                ))
            })?;
            let url = store.url_of(&first.path);
            let data = retry
                .retry(&format!("reading {url}"), Error::is_transient, || async {
                    store.read(&first.path).await.map_err(Error::from)
                })
                .await?;
            let schema = TableSchema::derive(
                &table,
                parquet_schema(&url, data)?.as_ref(),
                server.features(),
            )?;
            let previous = if log_exists {
                load_log::last_success(&server, &table.name).await?
            } else {
                None
            };
            let action = decide(
                &table,
                &schema,
                previous.as_ref(),
                table_exists,
                config.full,
            );
            Ok::<_, Error>(TablePlan {
                table: table.clone(),
                schema,
                action,
            })
        }
        .await;
        let plan = match planned {
            Ok(plan) => plan,
            Err(err) => {
                let entry = failure_entry(&table.name, Mode::Full, started_at, &err, "");
                report
                    .tables
                    .push(finish_failure(&server, config, metrics, entry, clock, err).await);
                continue;
            }
        };
        if config.dry_run {
            report
                .plan
                .push_str(&plan.describe(server.database(), table_exists));
            continue;
        }
        let mode = match plan.action {
            Action::Unchanged => Mode::Unchanged,
            Action::Full { .. } => Mode::Full,
            Action::Incremental { .. } => Mode::Incremental,
        };
        if !config.load.progress_bar {
            tracing::info!("{}: {} load starting", table.name, mode.as_str());
        }
        let result = retry
            .retry(
                &format!("loading gold table {}", table.name),
                Error::is_transient,
                || load_table(&server, &store, &plan, config.load),
            )
            .await;
        match result {
            Ok(loaded) => {
                let finished = now_micros();
                let state = plan.lake_state();
                let entry = LogEntry {
                    table: table.name.clone(),
                    mode: mode.as_str().to_owned(),
                    status: "success".to_owned(),
                    lake_partitions: state.keys().cloned().collect(),
                    fingerprints: state.values().cloned().collect(),
                    partitions: loaded.partitions.clone(),
                    rows: loaded.rows,
                    bytes: loaded.bytes,
                    checksum: loaded.checksum.clone(),
                    schema: plan.schema.columns_sql(),
                    started: utc_text(started_at),
                    finished: utc_text(finished),
                    seq: finished,
                    error: String::new(),
                    loader_version: env!("CARGO_PKG_VERSION").to_owned(),
                };
                let elapsed = clock.elapsed();
                match load_log::append(&server, &[entry]).await {
                    Ok(()) => {
                        if let Some(metrics) = metrics {
                            metrics.loaded(&table.name, loaded.rows, loaded.bytes);
                            metrics.succeeded(&table.name, mode, elapsed);
                        }
                        tracing::info!(
                            "{}: {} load done, {} rows in {:.2}s",
                            table.name,
                            mode.as_str(),
                            loaded.rows,
                            elapsed.as_secs_f64()
                        );
                        report.tables.push(TableReport {
                            table: table.name.clone(),
                            mode,
                            rows: loaded.rows,
                            bytes: loaded.bytes,
                            partitions: loaded.partitions,
                            elapsed,
                            error: None,
                        });
                    }
                    Err(err) => {
                        // The data is in; only its record is missing: the next run reloads.
                        report.tables.push(TableReport {
                            table: table.name.clone(),
                            mode,
                            rows: loaded.rows,
                            bytes: loaded.bytes,
                            partitions: loaded.partitions,
                            elapsed,
                            error: Some(format!(
                                "loaded, but the load log could not be written: {err}"
                            )),
                        });
                        if let Some(metrics) = metrics {
                            metrics.failed(&table.name, mode, elapsed);
                        }
                    }
                }
            }
            Err(err) => {
                let entry = failure_entry(
                    &table.name,
                    mode,
                    started_at,
                    &err,
                    &plan.schema.columns_sql(),
                );
                report
                    .tables
                    .push(finish_failure(&server, config, metrics, entry, clock, err).await);
            }
        }
    }
    Ok(report)
}

fn failure_entry(table: &str, mode: Mode, started_at: u64, err: &Error, schema: &str) -> LogEntry {
    let finished = now_micros();
    LogEntry {
        table: table.to_owned(),
        mode: mode.as_str().to_owned(),
        status: "failed".to_owned(),
        lake_partitions: Vec::new(),
        fingerprints: Vec::new(),
        partitions: Vec::new(),
        rows: 0,
        bytes: 0,
        checksum: String::new(),
        schema: schema.to_owned(),
        started: utc_text(started_at),
        finished: utc_text(finished),
        seq: finished,
        error: err.to_string(),
        loader_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

async fn finish_failure(
    server: &Server,
    config: &RunConfig,
    metrics: Option<&LoaderMetrics>,
    entry: LogEntry,
    clock: Instant,
    err: Error,
) -> TableReport {
    let mode = match entry.mode.as_str() {
        "incremental" => Mode::Incremental,
        "unchanged" => Mode::Unchanged,
        _ => Mode::Full,
    };
    tracing::error!("{}: load failed: {err}", entry.table);
    if !config.dry_run {
        if let Err(log_err) = load_log::append(server, std::slice::from_ref(&entry)).await {
            tracing::error!(
                "{}: the failure could not be written to the load log: {log_err}",
                entry.table
            );
        }
    }
    let elapsed = clock.elapsed();
    if let Some(metrics) = metrics {
        metrics.failed(&entry.table, mode, elapsed);
    }
    TableReport {
        table: entry.table,
        mode,
        rows: 0,
        bytes: 0,
        partitions: Vec::new(),
        elapsed,
        error: Some(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, mode: Mode, rows: u64, millis: u64, error: Option<&str>) -> TableReport {
        TableReport {
            table: name.to_owned(),
            mode,
            rows,
            bytes: rows * 8,
            partitions: Vec::new(),
            elapsed: Duration::from_millis(millis),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn the_summary_is_a_table_with_a_total() {
        let cases: [(&str, Vec<TableReport>, &[&str]); 2] = [
            (
                "no tables",
                vec![],
                &[
                    "table  mode  rows  rows/s  seconds  status",
                    "------------------------------------------",
                    "total           0       -     0.00  ok",
                ],
            ),
            (
                "big numbers, an unchanged and a failed table",
                vec![
                    table("gold_listens_daily", Mode::Full, 12_345_678, 4_000, None),
                    table("gold_users", Mode::Unchanged, 0, 50, None),
                    table(
                        "gold_songs",
                        Mode::Incremental,
                        0,
                        1_500,
                        Some("ClickHouse at http://x: connection refused"),
                    ),
                ],
                &[
                    "table               mode               rows     rows/s  seconds  status",
                    "gold_listens_daily  full         12,345,678  3,086,420     4.00  ok",
                    "gold_users          unchanged             0          -     0.05  ok",
                    "gold_songs          incremental           0          -     1.50  FAILED: ClickHouse at http://x: connection refused",
                    "-------------------------------------------------------------------------------------------------------------------",
                    "total                            12,345,678  2,224,446     5.55  1 failed",
                ],
            ),
        ];
        for (name, tables, lines) in cases {
            let report = RunReport {
                tables,
                ..RunReport::default()
            };
            let expected: String = lines.iter().map(|line| format!("{line}\n")).collect();
            assert_eq!(report.render(), expected, "{name}");
        }
    }
}
