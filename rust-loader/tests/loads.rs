//! Full and incremental loads into the local stack's real ClickHouse (18.16): the first run
//! loads everything, the second changes nothing, a changed day replaces only its month, a
//! vanished day drops its month's rows, a schema change reloads in full, a corrupt file leaves
//! the previous table served and its failure in the load log, and --dry-run changes nothing.
//!
//! These tests fail (never skip) when ClickHouse or HDFS do not answer: `make stack-up` first.

mod common;

use common::{config, history, load, query, songs_batch, tables, write_gold, LocalLake};
use soundlake_loader::load_log::Mode;
use soundlake_testkit::{require, Service, TestClickHouseDb, TestHdfsDir};

const TABLE: &str = "gold_top_songs";

/// `event_date -> count()` of the loaded table.
async fn counts(config: &soundlake_loader::run::RunConfig) -> String {
    query(
        config,
        &format!(
            "SELECT event_date, count(), sum(plays) FROM {}.{TABLE} GROUP BY event_date ORDER BY event_date",
            config.server.database
        ),
    )
    .await
}

/// The active parts of one month (changes when the month is rewritten).
async fn parts(config: &soundlake_loader::run::RunConfig, month: &str) -> String {
    query(
        config,
        &format!(
            "SELECT name FROM system.parts WHERE database = '{}' AND table = '{TABLE}' AND partition = '{month}' AND active ORDER BY name",
            config.server.database
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_unchanged_then_incremental_by_month() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "loader_incr")
        .await
        .expect("a test database");
    let lake = LocalLake::new("incr");
    for (day, salt) in [("2024-01-30", 1), ("2024-01-31", 2), ("2024-02-01", 3)] {
        write_gold(
            &lake.store,
            TABLE,
            &format!("event_date={day}"),
            "part-00000.snappy.parquet",
            &songs_batch(1000, salt),
        )
        .await;
    }
    // Spark's markers are ignored.
    lake.store
        .write_new(&format!("gold/{TABLE}/_SUCCESS"), bytes::Bytes::new())
        .await
        .expect("marker");
    let config = config(&stack, &db, &lake.url);

    let first = load(&config).await;
    assert_eq!(first.failures(), 0, "{}", first.render());
    assert_eq!(first.tables[0].mode, Mode::Full);
    assert_eq!(first.tables[0].rows, 3000);
    assert_eq!(
        counts(&config).await,
        "2024-01-30\t1000\t1499500\n2024-01-31\t1000\t2499500\n2024-02-01\t1000\t3499500"
    );
    let ddl = query(&config, &format!("SHOW CREATE TABLE {}.{TABLE}", db.name())).await;
    assert!(ddl.contains("PARTITION BY toYYYYMM(event_date)"), "{ddl}");
    assert!(ddl.contains("ORDER BY event_date"), "{ddl}");

    // Second run: nothing changed, nothing loaded, and the log says so.
    let january = parts(&config, "202401").await;
    let february = parts(&config, "202402").await;
    let second = load(&config).await;
    assert_eq!(second.tables[0].mode, Mode::Unchanged);
    assert_eq!(second.tables[0].rows, 0);
    assert_eq!(parts(&config, "202401").await, january);
    assert_eq!(parts(&config, "202402").await, february);
    let log = history(&config, TABLE).await;
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[1].mode.as_str(), log[1].status.as_str(), log[1].rows),
        ("unchanged", "success", 0)
    );

    // One changed day in February: only February is rewritten.
    write_gold(
        &lake.store,
        TABLE,
        "event_date=2024-02-01",
        "part-00000.snappy.parquet",
        &songs_batch(500, 9),
    )
    .await;
    let third = load(&config).await;
    assert_eq!(third.failures(), 0, "{}", third.render());
    assert_eq!(third.tables[0].mode, Mode::Incremental);
    assert_eq!(third.tables[0].partitions, ["202402"]);
    assert_eq!(third.tables[0].rows, 500, "only the changed month is read");
    assert_eq!(parts(&config, "202401").await, january, "January untouched");
    assert_ne!(parts(&config, "202402").await, february);
    assert_eq!(
        counts(&config).await,
        "2024-01-30\t1000\t1499500\n2024-01-31\t1000\t2499500\n2024-02-01\t500\t4624750"
    );

    // A new day in January and a day gone: January reloaded from the lake's current state.
    std::fs::remove_dir_all(lake.dir.join(format!("gold/{TABLE}/event_date=2024-01-30")))
        .expect("remove a day");
    write_gold(
        &lake.store,
        TABLE,
        "event_date=2024-01-15",
        "part-00000.snappy.parquet",
        &songs_batch(10, 4),
    )
    .await;
    let fourth = load(&config).await;
    assert_eq!(fourth.tables[0].mode, Mode::Incremental);
    assert_eq!(fourth.tables[0].partitions, ["202401"]);
    assert_eq!(
        counts(&config).await,
        "2024-01-15\t10\t40045\n2024-01-31\t1000\t2499500\n2024-02-01\t500\t4624750"
    );

    // All of February gone: its partition is dropped.
    std::fs::remove_dir_all(lake.dir.join(format!("gold/{TABLE}/event_date=2024-02-01")))
        .expect("remove a day");
    let fifth = load(&config).await;
    assert_eq!(fifth.tables[0].mode, Mode::Incremental);
    assert_eq!(
        counts(&config).await,
        "2024-01-15\t10\t40045\n2024-01-31\t1000\t2499500"
    );
    assert_eq!(
        tables(&config).await,
        ["_load_log", TABLE],
        "no staging table left"
    );
    db.cleanup().await.expect("drop the test database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_file_leaves_the_previous_table_and_logs_the_failure() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "loader_fail")
        .await
        .expect("a test database");
    let lake = LocalLake::new("fail");
    for day in ["2024-03-01", "2024-03-02"] {
        write_gold(
            &lake.store,
            TABLE,
            &format!("event_date={day}"),
            "part-00000.parquet",
            &songs_batch(2000, 1),
        )
        .await;
    }
    let mut config = config(&stack, &db, &lake.url);
    assert_eq!(load(&config).await.failures(), 0);
    let before = counts(&config).await;

    // A truncated file in one partition: the incremental load fails mid-way …
    let good = common::parquet_bytes(&songs_batch(3000, 2));
    let corrupt = good.slice(..good.len() / 2);
    lake.store
        .write_new(
            &format!("gold/{TABLE}/event_date=2024-03-02/part-00001.parquet"),
            corrupt,
        )
        .await
        .expect("write");
    let failed = load(&config).await;
    assert_eq!(failed.failures(), 1);
    let error = failed.tables[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("part-00001.parquet"),
        "the error names the file: {error}"
    );
    // … the previous data is still served, the failure is logged, nothing is left behind.
    assert_eq!(counts(&config).await, before);
    let log = history(&config, TABLE).await;
    let last = log.last().expect("log entries");
    assert_eq!(last.status, "failed");
    assert!(last.error.contains("part-00001.parquet"), "{}", last.error);
    assert_eq!(tables(&config).await, ["_load_log", TABLE]);

    // A full reload fails the same way, before any swap.
    config.full = true;
    assert_eq!(load(&config).await.failures(), 1);
    assert_eq!(counts(&config).await, before);

    // Fixed on the lake: the next run catches up.
    config.full = false;
    lake.store
        .delete(
            &format!("gold/{TABLE}/event_date=2024-03-02/part-00001.parquet"),
            false,
        )
        .await
        .expect("delete");
    lake.store
        .write_new(
            &format!("gold/{TABLE}/event_date=2024-03-02/part-00001.parquet"),
            good,
        )
        .await
        .expect("write");
    let fixed = load(&config).await;
    assert_eq!(fixed.failures(), 0, "{}", fixed.render());
    assert_eq!(
        counts(&config).await,
        "2024-03-01\t2000\t3999000\n2024-03-02\t5000\t14497500"
    );
    db.cleanup().await.expect("drop the test database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_change_and_forced_full_reload_swap_the_table() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "loader_swap")
        .await
        .expect("a test database");
    let lake = LocalLake::new("swap");
    write_gold(
        &lake.store,
        "gold_churn",
        "",
        "part-0.parquet",
        &songs_batch(100, 1),
    )
    .await;
    let mut config = config(&stack, &db, &lake.url);
    assert_eq!(load(&config).await.tables[0].mode, Mode::Full);
    let ddl = query(
        &config,
        &format!("SHOW CREATE TABLE {}.gold_churn", db.name()),
    )
    .await;
    assert!(
        ddl.contains("ORDER BY tuple()") && !ddl.contains("PARTITION BY"),
        "{ddl}"
    );

    // Forced full reload over an existing table: RENAME … TO old, staging TO table (18.16).
    config.full = true;
    let again = load(&config).await;
    assert_eq!(
        (again.tables[0].mode, again.tables[0].rows),
        (Mode::Full, 100)
    );
    config.full = false;

    // A new column: full reload with the new schema.
    let wider = {
        let batch = songs_batch(50, 2);
        let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
        let mut columns = batch.columns().to_vec();
        fields.push(std::sync::Arc::new(arrow::datatypes::Field::new(
            "country",
            arrow::datatypes::DataType::Utf8,
            false,
        )));
        columns.push(std::sync::Arc::new(arrow::array::StringArray::from(
            vec!["US"; 50],
        )));
        arrow::array::RecordBatch::try_new(
            std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
            columns,
        )
        .expect("batch")
    };
    write_gold(&lake.store, "gold_churn", "", "part-0.parquet", &wider).await;
    let changed = load(&config).await;
    assert_eq!(changed.tables[0].mode, Mode::Full);
    assert_eq!(
        query(
            &config,
            &format!("SELECT count(), any(country) FROM {}.gold_churn", db.name())
        )
        .await,
        "50\tUS"
    );
    assert_eq!(
        tables(&config).await,
        ["_load_log", "gold_churn"],
        "no staging or old table left"
    );
    db.cleanup().await.expect("drop the test database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_plan_and_changes_nothing() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "loader_dry")
        .await
        .expect("a test database");
    let lake = LocalLake::new("dry");
    write_gold(
        &lake.store,
        TABLE,
        "event_date=2024-05-01",
        "part-0.parquet",
        &songs_batch(10, 1),
    )
    .await;
    write_gold(
        &lake.store,
        "gold_device_mix",
        "",
        "part-0.parquet",
        &songs_batch(10, 1),
    )
    .await;
    let mut config = config(&stack, &db, &lake.url);
    config.dry_run = true;
    config.filter.exclude = vec!["gold_device*".into()];
    let report = load(&config).await;
    assert!(report.tables.is_empty(), "nothing loaded");
    assert!(
        report
            .plan
            .contains(&format!("{TABLE}: 1 lake partition(s), 1 file(s)")),
        "{}",
        report.plan
    );
    assert!(
        report
            .plan
            .contains("full load (the ClickHouse table does not exist)"),
        "{}",
        report.plan
    );
    assert!(
        report.plan.contains("PARTITION BY toYYYYMM(`event_date`)"),
        "{}",
        report.plan
    );
    assert!(
        !report.plan.contains("gold_device_mix"),
        "excluded: {}",
        report.plan
    );
    assert!(tables(&config).await.is_empty(), "dry run created nothing");

    // An empty lake: no tables, no error.
    let empty = LocalLake::new("empty");
    config.lake_url = empty.url.clone();
    config.dry_run = false;
    let report = load(&config).await;
    assert!(report.tables.is_empty());
    assert!(report.gold_url.ends_with("/gold"), "{}", report.gold_url);
    db.cleanup().await.expect("drop the test database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_from_hdfs() {
    let Some(stack) = require(&[Service::ClickHouse, Service::Hdfs]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "loader_hdfs")
        .await
        .expect("a test database");
    let dir = TestHdfsDir::create(&stack, "loader")
        .await
        .expect("an HDFS folder");
    let url = dir.url();
    let store = soundlake_core::lake::LakeStore::open(
        &soundlake_core::lake::LakeUrl::parse(&url).expect("url"),
    )
    .expect("store");
    for (day, salt) in [("2024-06-01", 1), ("2024-07-01", 2)] {
        write_gold(
            &store,
            TABLE,
            &format!("event_date={day}"),
            "part-00000.snappy.parquet",
            &songs_batch(20_000, salt),
        )
        .await;
    }
    let config = config(&stack, &db, &url);
    let report = load(&config).await;
    assert_eq!(report.failures(), 0, "{}", report.render());
    assert_eq!(report.tables[0].rows, 40_000);
    assert_eq!(
        counts(&config).await,
        "2024-06-01\t20000\t219990000\n2024-07-01\t20000\t239990000"
    );
    write_gold(
        &store,
        TABLE,
        "event_date=2024-07-01",
        "part-00000.snappy.parquet",
        &songs_batch(5, 3),
    )
    .await;
    let report = load(&config).await;
    assert_eq!(
        (report.tables[0].mode, report.tables[0].rows),
        (Mode::Incremental, 5)
    );
    assert_eq!(
        counts(&config).await,
        "2024-06-01\t20000\t219990000\n2024-07-01\t5\t15010"
    );
    dir.cleanup().await.expect("delete the HDFS folder");
    db.cleanup().await.expect("drop the test database");
}
