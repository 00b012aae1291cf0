//! Every Arrow type of the mapping round-trips through the loader into the local stack's real
//! ClickHouse (18.16) and reads back as written; a type without a mapping fails the table's
//! load with an error naming the table and the column, and leaves nothing behind.
//!
//! Fails (never skips) when ClickHouse does not answer: `make stack-up` first.

mod common;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    DurationSecondArray, FixedSizeBinaryArray, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, Int8Array, LargeStringArray, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, UInt16Array, UInt32Array, UInt64Array,
    UInt8Array,
};
use arrow::datatypes::{DataType, Field, Fields, Int32Type, Int64Type, Schema, TimeUnit};
use common::{config, history, load, query, tables, write_gold, LocalLake};
use soundlake_testkit::{require, Service, TestClickHouseDb};

fn every_type() -> RecordBatch {
    let struct_fields = Fields::from(vec![
        Field::new("a", DataType::Int32, false),
        Field::new("b", DataType::Utf8, true),
    ]);
    let columns: Vec<(&str, ArrayRef, bool)> = vec![
        ("i8", Arc::new(Int8Array::from(vec![-128, 127])), false),
        ("i16", Arc::new(Int16Array::from(vec![-32768, 1])), false),
        (
            "i32",
            Arc::new(Int32Array::from(vec![Some(-5), None])),
            true,
        ),
        (
            "i64",
            Arc::new(Int64Array::from(vec![i64::MIN, i64::MAX])),
            false,
        ),
        ("u8", Arc::new(UInt8Array::from(vec![0, 255])), false),
        ("u16", Arc::new(UInt16Array::from(vec![0, 65535])), false),
        ("u32", Arc::new(UInt32Array::from(vec![0, u32::MAX])), false),
        ("u64", Arc::new(UInt64Array::from(vec![0, u64::MAX])), false),
        ("f32", Arc::new(Float32Array::from(vec![1.5, -0.25])), false),
        (
            "f64",
            Arc::new(Float64Array::from(vec![Some(2.5), None])),
            true,
        ),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false)])),
            true,
        ),
        (
            "d9",
            Arc::new(
                Decimal128Array::from(vec![12345, -1])
                    .with_precision_and_scale(9, 2)
                    .unwrap(),
            ),
            false,
        ),
        (
            "d18",
            Arc::new(
                Decimal128Array::from(vec![Some(123_456_789_012), None])
                    .with_precision_and_scale(18, 4)
                    .unwrap(),
            ),
            true,
        ),
        (
            "d38",
            Arc::new(
                Decimal128Array::from(vec![10i128.pow(30), -7])
                    .with_precision_and_scale(38, 6)
                    .unwrap(),
            ),
            false,
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("tab\there"), None])),
            true,
        ),
        (
            "ls",
            Arc::new(LargeStringArray::from(vec!["large", "é"])),
            false,
        ),
        (
            "bin",
            Arc::new(BinaryArray::from(vec![&b"ab"[..], &b""[..]])),
            false,
        ),
        (
            "fixed",
            Arc::new(
                FixedSizeBinaryArray::try_from_iter(
                    vec![b"abcd".to_vec(), b"wxyz".to_vec()].into_iter(),
                )
                .unwrap(),
            ),
            false,
        ),
        (
            "dict",
            Arc::new(DictionaryArray::<Int32Type>::from_iter(vec![
                Some("Chrome"),
                Some("Firefox"),
            ])),
            true,
        ),
        (
            "day",
            Arc::new(Date32Array::from(vec![Some(19723), None])),
            true,
        ),
        (
            "ts_us",
            Arc::new(
                TimestampMicrosecondArray::from(vec![1_704_067_200_123_456, 1_000_000])
                    .with_timezone("UTC"),
            ),
            false,
        ),
        (
            "ts_ms",
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(1_704_067_201_999),
                None,
            ])),
            true,
        ),
        (
            "tags",
            Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
                Some(vec![Some(1), None, Some(3)]),
                None,
            ])),
            true,
        ),
        (
            "pair",
            Arc::new(StructArray::new(
                struct_fields.clone(),
                vec![
                    Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
                    Arc::new(StringArray::from(vec![Some("x"), None])) as ArrayRef,
                ],
                None,
            )),
            false,
        ),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array, nullable)| Field::new(*name, array.data_type().clone(), *nullable))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, array, _)| array).collect(),
    )
    .expect("a batch of every type")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_type_round_trips() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "loader_types")
        .await
        .expect("a test database");
    let lake = LocalLake::new("types");
    write_gold(
        &lake.store,
        "gold_types",
        "event_date=2024-01-01",
        "part-0.parquet",
        &every_type(),
    )
    .await;
    let config = config(&stack, &db, &lake.url);
    let report = load(&config).await;
    assert_eq!(report.failures(), 0, "{}", report.render());

    let described = query(&config, &format!("DESCRIBE TABLE {}.gold_types", db.name())).await;
    let types: Vec<String> = described
        .lines()
        .map(|line| line.split('\t').take(2).collect::<Vec<_>>().join("\t"))
        .collect();
    let types = types.join("\n");
    let expected_types = "i8\tInt8\ni16\tInt16\ni32\tNullable(Int32)\ni64\tInt64\nu8\tUInt8\nu16\tUInt16\n\
        u32\tUInt32\nu64\tUInt64\nf32\tFloat32\nf64\tNullable(Float64)\nflag\tNullable(UInt8)\n\
        d9\tDecimal(9, 2)\nd18\tNullable(Decimal(18, 4))\nd38\tDecimal(38, 6)\ns\tNullable(String)\n\
        ls\tString\nbin\tString\nfixed\tFixedString(4)\ndict\tNullable(String)\nday\tNullable(Date)\n\
        ts_us\tDateTime(\\'UTC\\')\nts_ms\tNullable(DateTime(\\'UTC\\'))\ntags\tArray(Nullable(Int64))\n\
        pair\tTuple(Int32, Nullable(String))\nevent_date\tDate";
    assert_eq!(types, expected_types);

    let rows = query(
        &config,
        &format!("SELECT * FROM {}.gold_types ORDER BY i8", db.name()),
    )
    .await;
    let expected_rows = "-128\t-32768\t-5\t-9223372036854775808\t0\t0\t0\t0\t1.5\t2.5\t1\t123.45\t12345678.9012\t\
        1000000000000000000000000.000000\ttab\\there\tlarge\tab\tabcd\tChrome\t2024-01-01\t2024-01-01 00:00:00\t\
        2024-01-01 00:00:01\t[1,NULL,3]\t(1,'x')\t2024-01-01\n\
        127\t1\t\\N\t9223372036854775807\t255\t65535\t4294967295\t18446744073709551615\t-0.25\t\\N\t0\t-0.01\t\\N\t\
        -0.000007\t\\N\té\t\tw\tFirefox\t\\N\t1970-01-01 00:00:01\t\\N\t[]\t(2,NULL)\t2024-01-01";
    assert_eq!(rows, expected_rows.replace("\tw\t", "\twxyz\t"));
    db.cleanup().await.expect("drop the test database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmappable_type_fails_its_table_naming_the_column() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "loader_badtype")
        .await
        .expect("a test database");
    let lake = LocalLake::new("badtype");
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("user_id", DataType::Int64, false),
            Field::new("session_length", DataType::Duration(TimeUnit::Second), true),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            Arc::new(DurationSecondArray::from(vec![Some(60)])) as ArrayRef,
        ],
    )
    .expect("a batch");
    write_gold(
        &lake.store,
        "gold_session_duration",
        "",
        "part-0.parquet",
        &batch,
    )
    .await;
    write_gold(
        &lake.store,
        "gold_top_songs",
        "",
        "part-0.parquet",
        &common::songs_batch(3, 1),
    )
    .await;
    let config = config(&stack, &db, &lake.url);
    let report = load(&config).await;
    assert_eq!(report.failures(), 1, "{}", report.render());
    let failed = report
        .tables
        .iter()
        .find(|t| t.error.is_some())
        .expect("a failure");
    let error = failed.error.clone().unwrap_or_default();
    assert_eq!(failed.table, "gold_session_duration");
    assert!(
        error.contains("gold_session_duration")
            && error.contains("session_length")
            && error.contains("Duration"),
        "{error}"
    );
    let log = history(&config, "gold_session_duration").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, "failed");
    assert!(log[0].error.contains("session_length"), "{}", log[0].error);
    // The other table loaded all the same.
    assert_eq!(tables(&config).await, ["_load_log", "gold_top_songs"]);
    db.cleanup().await.expect("drop the test database");
}
