//! The load log: one row per table load in `<database>._load_log` — what was loaded, how, the
//! outcome and, for successful loads, the lake state (partition fingerprints) and schema that
//! the next incremental load compares with.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::schema::quote;
use crate::server::{string_literal, Server};

/// The load log's table name.
pub const LOAD_LOG_TABLE: &str = "_load_log";

/// How a table was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Incremental,
    /// Nothing had changed on the lake: nothing was loaded.
    Unchanged,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Incremental => "incremental",
            Mode::Unchanged => "unchanged",
        }
    }
}

/// One row of the load log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntry {
    pub table: String,
    pub mode: String,
    /// `success` or `failed`.
    pub status: String,
    /// The lake partitions (`event_date=…`, or `` for an unpartitioned table) at this load…
    pub lake_partitions: Vec<String>,
    /// …and their fingerprints (same order).
    pub fingerprints: Vec<String>,
    /// The ClickHouse partitions (`YYYYMM`) replaced, or `all` for a full load.
    pub partitions: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
    pub checksum: String,
    /// The table's columns (`name Type, …`).
    pub schema: String,
    /// `YYYY-MM-DD hh:mm:ss`, UTC.
    pub started: String,
    pub finished: String,
    /// Microseconds since the epoch at the end: orders the entries of one table.
    pub seq: u64,
    pub error: String,
    pub loader_version: String,
}

impl LogEntry {
    /// The lake state this entry recorded: partition → fingerprint.
    pub fn lake_state(&self) -> BTreeMap<String, String> {
        self.lake_partitions
            .iter()
            .cloned()
            .zip(self.fingerprints.iter().cloned())
            .collect()
    }
}

/// The `CREATE TABLE` of the load log.
pub fn create_sql(database: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}.{} (\
         `table` String, `mode` String, `status` String, \
         `lake_partitions` Array(String), `fingerprints` Array(String), `partitions` Array(String), \
         `rows` UInt64, `bytes` UInt64, `checksum` String, `schema` String, \
         `started` DateTime('UTC'), `finished` DateTime('UTC'), `seq` UInt64, \
         `error` String, `loader_version` String\
         ) ENGINE = MergeTree() ORDER BY (`table`, `seq`)",
        quote(database),
        quote(LOAD_LOG_TABLE)
    )
}

/// Creates the load log if missing.
pub async fn ensure(server: &Server) -> Result<(), Error> {
    server.execute(&create_sql(server.database())).await
}

/// Appends entries.
pub async fn append(server: &Server, entries: &[LogEntry]) -> Result<(), Error> {
    let mut body = Vec::new();
    for entry in entries {
        serde_json::to_writer(&mut body, entry).map_err(Error::LoadLogEncode)?;
        body.push(b'\n');
    }
    server
        .insert_all(LOAD_LOG_TABLE, "JSONEachRow", Bytes::from(body))
        .await
}

/// The last entry of `table` with `status = 'success'`, if any (and if the log exists).
pub async fn last_success(server: &Server, table: &str) -> Result<Option<LogEntry>, Error> {
    let text = server
        .query_text(&format!(
            "SELECT * FROM {}.{} WHERE `table` = {} AND `status` = 'success' \
             ORDER BY `seq` DESC LIMIT 1 FORMAT JSONEachRow",
            quote(server.database()),
            quote(LOAD_LOG_TABLE),
            string_literal(table)
        ))
        .await?;
    parse_entries(&text).map(|mut entries| entries.pop())
}

/// Every entry of `table`, oldest first.
pub async fn history(server: &Server, table: &str) -> Result<Vec<LogEntry>, Error> {
    let text = server
        .query_text(&format!(
            "SELECT * FROM {}.{} WHERE `table` = {} ORDER BY `seq` FORMAT JSONEachRow",
            quote(server.database()),
            quote(LOAD_LOG_TABLE),
            string_literal(table)
        ))
        .await?;
    parse_entries(&text)
}

/// The time (seconds since the epoch) of each table's last successful load.
pub async fn last_success_times(server: &Server) -> Result<BTreeMap<String, f64>, Error> {
    let rows = server
        .query_rows(&format!(
            "SELECT `table`, max(`seq`) FROM {}.{} WHERE `status` = 'success' GROUP BY `table`",
            quote(server.database()),
            quote(LOAD_LOG_TABLE)
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let seq: u64 = row.get(1)?.parse().ok()?;
            Some((row.first()?.clone(), seq as f64 / 1e6))
        })
        .collect())
}

fn parse_entries(text: &str) -> Result<Vec<LogEntry>, Error> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).map_err(|source| Error::LoadLogRow {
                table: LOAD_LOG_TABLE,
                source,
            })
        })
        .collect()
}
