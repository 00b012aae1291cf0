//! Carrying out a table's plan: stream the lake files it needs into a staging table, check the
//! staging table against what was read, then make it visible at once — a table swap for a full
//! load, `REPLACE PARTITION … FROM` per month for an incremental one. Until that last step the
//! previous table is untouched, so a failure anywhere leaves it served.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use soundlake_core::lake::LakeStore;
use soundlake_core::retry::RetryPolicy;
use tokio::sync::mpsc;

use crate::checksum::{parse_summary, summary_sql, Summary};
use crate::error::Error;
use crate::plan::{old_name, staging_name, Action, TablePlan};
use crate::schema::quote;
use crate::server::Server;
use crate::source::{Block, FileJob, Producer};

/// Blocks waiting between the Parquet reader and the insert.
const BLOCKS_IN_FLIGHT: usize = 4;
/// Rows per record batch, hence per Native block, unless `--batch-rows` says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;
/// Concurrent inserts per table, unless `--parallel` says otherwise.
pub const DEFAULT_PARALLEL: usize = 2;
/// Retries of a failed step, unless `--retries` says otherwise.
pub const DEFAULT_RETRIES: u32 = 3;
/// How a step of a run (listing, connecting, reading a file, loading a table) is retried when
/// it fails for a passing reason: after 1 s, then doubling up to the cap.
pub const DEFAULT_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_secs(1)).with_max_retries(DEFAULT_RETRIES);

/// How loads run.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Rows per record batch, hence per Native block.
    pub batch_rows: usize,
    pub retry: RetryPolicy,
    /// Show a progress bar (on a terminal).
    pub progress_bar: bool,
    /// Concurrent inserts per table (each reads its share of the files).
    pub parallel: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            batch_rows: DEFAULT_BATCH_ROWS,
            retry: DEFAULT_RETRY,
            progress_bar: false,
            parallel: DEFAULT_PARALLEL,
        }
    }
}

/// What a successful load did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loaded {
    pub rows: u64,
    pub bytes: u64,
    pub checksum: String,
    /// ClickHouse partitions replaced (`YYYYMM`), `all` for a full load, empty if unchanged.
    pub partitions: Vec<String>,
}

/// Loads one table according to its plan. Leaves no staging table behind, whatever happens.
pub async fn load_table(
    server: &Server,
    store: &LakeStore,
    plan: &TablePlan,
    options: LoadOptions,
) -> Result<Loaded, Error> {
    if plan.action == Action::Unchanged {
        return Ok(Loaded::default());
    }
    let staging = staging_name(&plan.table.name);
    let result = load_via_staging(server, store, plan, options, &staging).await;
    if let Err(err) = server.execute(&drop_sql(server, &staging)).await {
        tracing::warn!("could not drop the staging table {staging}: {err}");
    }
    result
}

fn drop_sql(server: &Server, table: &str) -> String {
    format!(
        "DROP TABLE IF EXISTS {}.{}",
        quote(server.database()),
        quote(table)
    )
}

async fn load_via_staging(
    server: &Server,
    store: &LakeStore,
    plan: &TablePlan,
    options: LoadOptions,
    staging: &str,
) -> Result<Loaded, Error> {
    let db = server.database();
    let name = &plan.table.name;
    server.execute(&drop_sql(server, staging)).await?;
    server.execute(&plan.schema.create_sql(db, staging)).await?;
    let mut jobs = Vec::new();
    for partition in plan.partitions_to_read() {
        let values = plan.schema.partition_values(&partition.values)?;
        jobs.extend(partition.files.iter().map(|file| FileJob {
            file: file.clone(),
            partition_values: values.clone(),
        }));
    }
    let (summary, bytes) = stream_parallel(server, store, plan, options, staging, jobs).await?;
    let in_clickhouse = server
        .query_text(&summary_sql(&plan.schema, db, staging))
        .await
        .map(|text| parse_summary(&text, plan.schema.columns.len()))?
        .ok_or_else(|| Error::Verify {
            table: name.clone(),
            detail: "ClickHouse's answer to the checksum query could not be read".into(),
        })?;
    if let Some(detail) = in_clickhouse.difference(&summary, &plan.schema) {
        return Err(Error::Verify {
            table: name.clone(),
            detail,
        });
    }
    let partitions = match &plan.action {
        Action::Full { .. } => {
            swap(server, name, staging).await?;
            vec!["all".to_owned()]
        }
        Action::Incremental { months, .. } => {
            for month in months {
                let sql = if plan.month_has_data(*month) {
                    format!(
                        "ALTER TABLE {}.{} REPLACE PARTITION {month} FROM {}.{}",
                        quote(db),
                        quote(name),
                        quote(db),
                        quote(staging)
                    )
                } else {
                    format!(
                        "ALTER TABLE {}.{} DROP PARTITION {month}",
                        quote(db),
                        quote(name)
                    )
                };
                server.execute(&sql).await?;
            }
            months.iter().map(u32::to_string).collect()
        }
        Action::Unchanged => Vec::new(),
    };
    Ok(Loaded {
        rows: summary.rows,
        bytes,
        checksum: summary.digest(),
        partitions,
    })
}

/// Makes the staging table the table, atomically: `EXCHANGE TABLES` where the server has it,
/// else one `RENAME TABLE t TO old, staging TO t` (atomic in ClickHouse), then drops the old.
async fn swap(server: &Server, name: &str, staging: &str) -> Result<(), Error> {
    let db = quote(server.database());
    let exists = server.tables().await?.iter().any(|t| t == name);
    if !exists {
        return server
            .execute(&format!(
                "RENAME TABLE {db}.{} TO {db}.{}",
                quote(staging),
                quote(name)
            ))
            .await;
    }
    if server.features().exchange_tables {
        return server
            .execute(&format!(
                "EXCHANGE TABLES {db}.{} AND {db}.{}",
                quote(staging),
                quote(name)
            ))
            .await;
    }
    let old = old_name(name);
    server.execute(&drop_sql(server, &old)).await?;
    server
        .execute(&format!(
            "RENAME TABLE {db}.{} TO {db}.{}, {db}.{} TO {db}.{}",
            quote(name),
            quote(&old),
            quote(staging),
            quote(name)
        ))
        .await?;
    server.execute(&drop_sql(server, &old)).await
}

/// Splits the files among `options.parallel` concurrent inserts into `staging` (ClickHouse
/// handles each `INSERT` on one thread) and merges what they read.
async fn stream_parallel(
    server: &Server,
    store: &LakeStore,
    plan: &TablePlan,
    options: LoadOptions,
    staging: &str,
    jobs: Vec<FileJob>,
) -> Result<(Summary, u64), Error> {
    if jobs.is_empty() {
        // Nothing to read (a table without rows, or only vanished months): no insert at all.
        return Ok((Summary::new(plan.schema.columns.len()), 0));
    }
    let streams = options.parallel.clamp(1, jobs.len());
    if streams == 1 {
        return stream(server, store, plan, options, staging, jobs).await;
    }
    // Deal the files out largest first, each to the least loaded stream.
    let mut sorted = jobs;
    sorted.sort_by_key(|job| std::cmp::Reverse(job.file.len));
    let mut groups: Vec<(u64, Vec<FileJob>)> = (0..streams).map(|_| (0, Vec::new())).collect();
    for job in sorted {
        if let Some(group) = groups.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            group.0 += job.file.len;
            group.1.push(job);
        }
    }
    let plan = Arc::new(plan.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for (_, jobs) in groups {
        let (server, store, plan, staging) = (
            server.clone(),
            store.clone(),
            Arc::clone(&plan),
            staging.to_owned(),
        );
        tasks.spawn(async move { stream(&server, &store, &plan, options, &staging, jobs).await });
    }
    let mut summary = Summary::new(plan.schema.columns.len());
    let mut bytes = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((part, sent))) => {
                summary.merge(&part);
                bytes += sent;
            }
            Ok(Err(err)) => {
                // The first failure is the cause; the others' inserts are cut short by it.
                first_error.get_or_insert(err);
                tasks.abort_all();
            }
            Err(join) if join.is_cancelled() => {}
            Err(join) => {
                first_error.get_or_insert(Error::Task {
                    task: "an insert task",
                    source: join,
                });
            }
        }
    }
    if let Some(err) = first_error {
        return Err(err);
    }
    Ok((summary, bytes))
}

/// Reads the jobs' files and inserts them into `staging` in one `INSERT … FORMAT Native`.
/// Returns the summary of what was read and the bytes sent.
async fn stream(
    server: &Server,
    store: &LakeStore,
    plan: &TablePlan,
    options: LoadOptions,
    staging: &str,
    jobs: Vec<FileJob>,
) -> Result<(Summary, u64), Error> {
    let total_bytes: u64 = jobs.iter().map(|j| j.file.len).sum();
    let progress = options.progress_bar.then(|| {
        let bar = ProgressBar::new(total_bytes);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>32} [{bar:30}] {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(plan.table.name.clone());
        bar
    });
    let producer = Producer {
        store: store.clone(),
        runtime: tokio::runtime::Handle::current(),
        schema: Arc::new(plan.schema.clone()),
        features: server.features(),
        batch_rows: options.batch_rows,
        retry: options.retry,
        progress: progress.clone(),
    };
    let (sender, mut receiver) = mpsc::channel::<Block>(BLOCKS_IN_FLIGHT);
    let reader = tokio::task::spawn_blocking(move || producer.run(jobs, sender));
    let started = Instant::now();
    let mut insert = server.insert(staging, "Native");
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut send_error = None;
    while let Some(block) = receiver.recv().await {
        rows += block.rows as u64;
        bytes += block.data.len() as u64;
        if let Err(err) = insert.send(block.data).await {
            send_error = Some(Error::clickhouse(
                server.url(),
                format!("inserting into {}.{staging}", server.database()),
                err,
            ));
            break;
        }
        if let Some(bar) = &progress {
            let seconds = started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{rows} rows, {:.0} rows/s", rows as f64 / seconds));
        }
    }
    drop(receiver);
    let read = reader.await.map_err(|source| Error::Task {
        task: "the Parquet reader task",
        source,
    });
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    if let Some(err) = send_error {
        return Err(err);
    }
    let summary = read??;
    insert.end().await.map_err(|e| {
        Error::clickhouse(
            server.url(),
            format!("inserting into {}.{staging}", server.database()),
            e,
        )
    })?;
    Ok((summary, bytes))
}
