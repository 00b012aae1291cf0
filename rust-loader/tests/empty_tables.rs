//! A gold report without rows yet: Spark writes no data file for it, only the schema file its
//! dbt model writes (`_schema/`). The loader still creates its ClickHouse table, empty, with
//! the columns and types it gets once rows come; a later load with rows fills it
//! incrementally; a table emptied again (a full refresh with no rows) keeps its table, empty.
//! Against the local stack's real ClickHouse (18.16); fails, never skips, when it is down.

mod common;

use common::LocalLake;
use common::{config, history, load, query, songs_batch, tables, write_gold, write_schema_file};
use soundlake_loader::load_log::Mode;
use soundlake_loader::run::RunConfig;
use soundlake_testkit::{require, Service, TestClickHouseDb};

const TABLE: &str = "gold_churn";

/// `name type` per column, in order.
async fn columns(config: &RunConfig) -> String {
    let text = query(
        config,
        &format!("DESCRIBE TABLE {}.{TABLE}", config.server.database),
    )
    .await;
    text.lines()
        .map(|line| line.split('\t').take(2).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn create_sql(config: &RunConfig) -> String {
    query(
        config,
        &format!("SHOW CREATE TABLE {}.{TABLE}", config.server.database),
    )
    .await
}

async fn counts(config: &RunConfig) -> String {
    query(
        config,
        &format!(
            "SELECT event_date, count() FROM {}.{TABLE} GROUP BY event_date ORDER BY event_date",
            config.server.database
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gold_table_without_rows_is_created_empty_then_filled() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "loader_empty")
        .await
        .expect("a test database");
    let lake = LocalLake::new("empty");
    // What a dbt build leaves for a report without rows: Spark's marker and the schema file.
    for table in [TABLE, "gold_device_mix"] {
        lake.store
            .write_new(&format!("gold/{table}/_SUCCESS"), bytes::Bytes::new())
            .await
            .expect("marker");
    }
    write_schema_file(&lake.store, TABLE, &songs_batch(0, 0)).await;
    let mut config = config(&stack, &db, &lake.url);

    // The plan says where the columns come from.
    config.dry_run = true;
    let plan = load(&config).await.plan;
    assert!(
        plan.contains("no rows yet: the columns come from its schema file"),
        "{plan}"
    );
    config.dry_run = false;

    // First run: the table is created, empty, with every column; a folder with neither data
    // nor schema file (built before schema files existed) is still skipped.
    let first = load(&config).await;
    assert_eq!(first.failures(), 0, "{}", first.render());
    assert_eq!(first.tables.len(), 1, "{}", first.render());
    assert_eq!(
        (
            first.tables[0].table.as_str(),
            first.tables[0].mode,
            first.tables[0].rows
        ),
        (TABLE, Mode::Full, 0)
    );
    assert_eq!(tables(&config).await, ["_load_log", TABLE]);
    assert_eq!(
        columns(&config).await,
        "song Nullable(String), artist Nullable(String), plays Nullable(Int64), \
         rank Nullable(Int32), minutes Nullable(Float64), event_date Date"
    );
    let empty_ddl = create_sql(&config).await;
    assert!(
        empty_ddl.contains("PARTITION BY toYYYYMM(event_date)"),
        "{empty_ddl}"
    );
    assert_eq!(counts(&config).await, "");

    // Still empty: nothing to do.
    let second = load(&config).await;
    assert_eq!(
        (second.tables[0].mode, second.tables[0].rows),
        (Mode::Unchanged, 0)
    );

    // Rows come: an incremental load of their months into the same table.
    for (day, salt) in [("2024-03-30", 1), ("2024-04-02", 2)] {
        write_gold(
            &lake.store,
            TABLE,
            &format!("event_date={day}"),
            "part-00000.snappy.parquet",
            &songs_batch(100, salt),
        )
        .await;
    }
    let third = load(&config).await;
    assert_eq!(third.failures(), 0, "{}", third.render());
    assert_eq!(third.tables[0].mode, Mode::Incremental);
    assert_eq!(third.tables[0].partitions, ["202403", "202404"]);
    assert_eq!(third.tables[0].rows, 200);
    assert_eq!(counts(&config).await, "2024-03-30\t100\n2024-04-02\t100");
    assert_eq!(
        create_sql(&config).await,
        empty_ddl,
        "the same table as when empty"
    );

    // A full refresh that leaves no rows (the folder emptied, the schema file rewritten): the
    // months go, the table stays, empty.
    std::fs::remove_dir_all(lake.dir.join(format!("gold/{TABLE}"))).expect("empty the folder");
    write_schema_file(&lake.store, TABLE, &songs_batch(0, 0)).await;
    let fourth = load(&config).await;
    assert_eq!(fourth.failures(), 0, "{}", fourth.render());
    assert_eq!(
        (fourth.tables[0].mode, fourth.tables[0].rows),
        (Mode::Incremental, 0)
    );
    assert_eq!(tables(&config).await, ["_load_log", TABLE]);
    assert_eq!(counts(&config).await, "");
    let log = history(&config, TABLE).await;
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|e| e.status == "success"), "{log:?}");
    db.cleanup().await.expect("drop the test database");
}
