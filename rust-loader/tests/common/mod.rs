//! Shared by the loader's tests: gold Parquet written with arrow into a throw-away lake
//! (`file://` or the stack's HDFS), a loader configuration aimed at a test database, and
//! queries on ClickHouse.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use soundlake_core::lake::{LakeStore, LakeUrl};
use soundlake_loader::discover::TableFilter;
use soundlake_loader::load::{LoadOptions, DEFAULT_RETRY};
use soundlake_loader::load_log::{self, LogEntry};
use soundlake_loader::run::{run, RunConfig, RunReport};
use soundlake_loader::server::{Server, ServerConfig};
use soundlake_testkit::{unique_name, StackEndpoints, TestClickHouseDb};

/// A `file://` lake in a temporary folder, deleted on drop.
pub struct LocalLake {
    pub dir: PathBuf,
    pub url: String,
    pub store: LakeStore,
}

impl LocalLake {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name(&format!("loader_{prefix}")));
        let url = format!("file://{}", dir.display());
        let store = LakeStore::open(&LakeUrl::parse(&url).expect("a file URL")).expect("a store");
        Self { dir, url, store }
    }
}

impl Drop for LocalLake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Parquet bytes of `batch`, snappy-compressed as Spark writes them.
pub fn parquet_bytes(batch: &RecordBatch) -> Bytes {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).expect("a Parquet writer");
    writer.write(batch).expect("write a batch");
    writer.close().expect("close the Parquet writer");
    Bytes::from(out)
}

/// Writes `batch` as `gold/<table>/<partition>/<file>` (partition may be empty).
pub async fn write_gold(
    store: &LakeStore,
    table: &str,
    partition: &str,
    file: &str,
    batch: &RecordBatch,
) {
    let path = if partition.is_empty() {
        format!("gold/{table}/{file}")
    } else {
        format!("gold/{table}/{partition}/{file}")
    };
    let _ = store.delete(&path, false).await;
    store
        .write_new(&path, parquet_bytes(batch))
        .await
        .expect("write a gold file");
}

/// Writes what a dbt gold model writes besides its data: its schema file, no rows, every
/// column of `batch` plus the partition column `event_date` (a date), at
/// `gold/<table>/_schema/event_date=__HIVE_DEFAULT_PARTITION__/`.
pub async fn write_schema_file(store: &LakeStore, table: &str, batch: &RecordBatch) {
    let mut fields = batch.schema().fields().to_vec();
    fields.push(Arc::new(Field::new("event_date", DataType::Date32, true)));
    let empty = RecordBatch::new_empty(Arc::new(Schema::new(fields)));
    let path = format!(
        "gold/{table}/_schema/event_date=__HIVE_DEFAULT_PARTITION__/part-00000-schema.snappy.parquet"
    );
    let _ = store.delete(&path, false).await;
    store
        .write_new(&path, parquet_bytes(&empty))
        .await
        .expect("write a schema file");
}

/// A top-songs-like batch: `n` rows whose values depend on `salt`.
pub fn songs_batch(n: usize, salt: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("song", DataType::Utf8, true),
        Field::new("artist", DataType::Utf8, true),
        Field::new("plays", DataType::Int64, true),
        Field::new("rank", DataType::Int32, true),
        Field::new("minutes", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter(
            (0..n).map(|i| Some(format!("song {i}"))),
        )),
        Arc::new(StringArray::from_iter(
            (0..n).map(|i| (i % 7 != 0).then(|| format!("artist {}", i % 5))),
        )),
        Arc::new(Int64Array::from_iter_values(
            (0..n).map(|i| salt * 1000 + i as i64),
        )),
        Arc::new(Int32Array::from_iter_values((0..n).map(|i| i as i32 + 1))),
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| i as f64 * 0.5),
        )),
    ];
    RecordBatch::try_new(schema, columns).expect("a batch")
}

/// A loader configuration for `lake_url` and the test database.
pub fn config(endpoints: &StackEndpoints, db: &TestClickHouseDb, lake_url: &str) -> RunConfig {
    RunConfig {
        lake_url: lake_url.to_owned(),
        server: ServerConfig {
            url: endpoints
                .clickhouse_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            user: "default".into(),
            password: None,
            database: db.name().to_owned(),
            lz4: false,
        },
        filter: TableFilter::default(),
        dry_run: false,
        full: false,
        load: LoadOptions {
            retry: DEFAULT_RETRY.with_max_retries(0),
            ..LoadOptions::default()
        },
    }
}

pub async fn load(config: &RunConfig) -> RunReport {
    run(config, None).await.expect("the run completes")
}

pub async fn server(config: &RunConfig) -> Server {
    Server::connect(&config.server)
        .await
        .expect("connect to ClickHouse")
}

/// The answer of `sql` as tab-separated text, trimmed.
pub async fn query(config: &RunConfig, sql: &str) -> String {
    server(config)
        .await
        .query_text(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .trim_end()
        .to_owned()
}

pub async fn history(config: &RunConfig, table: &str) -> Vec<LogEntry> {
    load_log::history(&server(config).await, table)
        .await
        .expect("read the load log")
}

/// The tables of the test database.
pub async fn tables(config: &RunConfig) -> Vec<String> {
    let mut names = server(config).await.tables().await.expect("list tables");
    names.sort();
    names
}
