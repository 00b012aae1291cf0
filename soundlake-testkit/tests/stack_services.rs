//! Smoke tests of the local stack through the clients the Soundlake services use.
//!
//! Each test fails — never skips — when its service does not answer; start the stack with
//! `make stack-up` first.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use soundlake_testkit::{require, unique_name, Service, TestClickHouseDb, TestHdfsDir, TestTopic};

const KAFKA_MESSAGES: usize = 100;
const KAFKA_PARTITIONS: i32 = 3;
const CONSUME_TIMEOUT: Duration = Duration::from_secs(30);

/// (key, payload) produced in this order.
fn kafka_messages() -> Vec<(String, String)> {
    (0..KAFKA_MESSAGES)
        .map(|i| (format!("user-{}", i % 7), format!("event-{i:03}")))
        .collect()
}

#[tokio::test]
async fn kafka_round_trip_keeps_order_per_partition() {
    let Some(stack) = require(&[Service::Kafka]).await else {
        return;
    };
    let topic = TestTopic::create(&stack, "smoke_kafka", KAFKA_PARTITIONS)
        .await
        .expect("create the test topic");

    let producer: FutureProducer = topic
        .client_config()
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("create a producer");
    // Partition → payloads in the order the broker stored them.
    let mut produced: BTreeMap<i32, Vec<(i64, String, String)>> = BTreeMap::new();
    for (key, payload) in kafka_messages() {
        let record = FutureRecord::to(topic.name()).key(&key).payload(&payload);
        let delivery = producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(err, _)| panic!("produce {payload}: {err}"));
        produced
            .entry(delivery.partition)
            .or_default()
            .push((delivery.offset, key, payload));
    }
    let keys_per_partition: BTreeMap<&str, i32> = produced
        .iter()
        .flat_map(|(partition, rows)| {
            rows.iter()
                .map(move |(_, key, _)| (key.as_str(), *partition))
        })
        .collect();
    for (partition, rows) in &produced {
        for (_, key, _) in rows {
            assert_eq!(
                keys_per_partition[key.as_str()],
                *partition,
                "key {key} spans partitions"
            );
        }
    }

    let consumer: StreamConsumer = topic
        .client_config()
        .set("group.id", unique_name("smoke_group"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("create a consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..topic.partitions() {
        assignment
            .add_partition_offset(topic.name(), partition, Offset::Beginning)
            .expect("build the assignment");
    }
    consumer.assign(&assignment).expect("assign the partitions");

    let mut consumed: BTreeMap<i32, Vec<(i64, String, String)>> = BTreeMap::new();
    let read_all = async {
        for _ in 0..KAFKA_MESSAGES {
            let message = consumer.recv().await.expect("consume a message");
            let text = |bytes: Option<&[u8]>| {
                String::from_utf8_lossy(bytes.unwrap_or_default()).into_owned()
            };
            consumed.entry(message.partition()).or_default().push((
                message.offset(),
                text(message.key()),
                text(message.payload()),
            ));
        }
    };
    tokio::time::timeout(CONSUME_TIMEOUT, read_all)
        .await
        .unwrap_or_else(|_| {
            panic!("did not consume {KAFKA_MESSAGES} messages within {CONSUME_TIMEOUT:?}")
        });

    assert_eq!(
        consumed, produced,
        "consumed messages differ from produced ones"
    );
    assert!(
        produced.len() > 1,
        "7 keys all hashed to one partition: {produced:?}"
    );
    topic.cleanup().await.expect("delete the test topic");
}

/// Deterministic bytes that are not all alike (an xorshift generator).
fn test_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[tokio::test]
async fn hdfs_write_list_read_delete() {
    let Some(stack) = require(&[Service::Hdfs]).await else {
        return;
    };
    let dir = TestHdfsDir::create(&stack, "smoke_hdfs")
        .await
        .expect("create the test folder");
    let client = dir.client();
    let path = dir.path_of("data/blob.bin");
    let data = test_bytes(3 * 1024 * 1024 + 17);

    let mut writer = client
        .create(&path, hdfs_native::WriteOptions::default())
        .await
        .expect("open the file for writing");
    for chunk in data.chunks(256 * 1024) {
        writer
            .write_bytes(Bytes::copy_from_slice(chunk))
            .await
            .expect("write a chunk");
    }
    writer.close().await.expect("close the file");

    let listing = client
        .list_status(&dir.path_of("data"), false)
        .await
        .expect("list the folder");
    let status = listing
        .iter()
        .find(|status| status.path == path)
        .unwrap_or_else(|| panic!("{path} is not listed in {listing:?}"));
    assert!(!status.isdir);
    assert_eq!(status.length, data.len());

    let reader = client.read(&path).await.expect("open the file for reading");
    assert_eq!(reader.file_length(), data.len());
    let all = reader
        .read_range(0, data.len())
        .await
        .expect("read the whole file");
    assert!(
        all.as_ref() == data.as_slice(),
        "the bytes read back differ"
    );
    let middle = reader
        .read_range(1_000_000, 4096)
        .await
        .expect("read a range");
    assert_eq!(middle.as_ref(), &data[1_000_000..1_004_096]);

    assert!(client.delete(&path, false).await.expect("delete the file"));
    match client.get_file_info(&path).await {
        Err(hdfs_native::HdfsError::FileNotFound(_)) => {}
        other => panic!("{path} should be gone, got {other:?}"),
    }
    dir.cleanup().await.expect("delete the test folder");
}

#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
struct ListenRow {
    id: u64,
    user_id: String,
    duration_s: f64,
    artist: Option<String>,
}

fn listen_rows(count: u64) -> Vec<ListenRow> {
    (0..count)
        .map(|id| ListenRow {
            id,
            user_id: format!("user-{}", id % 13),
            duration_s: id as f64 * 1.5,
            artist: (id % 3 != 0).then(|| format!("artist {id}")),
        })
        .collect()
}

#[tokio::test]
async fn clickhouse_insert_and_query_rows() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "smoke")
        .await
        .expect("create the test database");
    let client = db.client();
    client
        .query(
            "CREATE TABLE listens (id UInt64, user_id String, duration_s Float64, \
             artist Nullable(String)) ENGINE = MergeTree ORDER BY id",
        )
        .execute()
        .await
        .expect("create the table");

    let rows = listen_rows(1000);
    let mut inserter = client.inserter::<ListenRow>("listens").with_max_rows(300);
    for row in &rows {
        inserter.write(row).await.expect("write a row");
        inserter
            .commit()
            .await
            .expect("commit when the limit is reached");
    }
    inserter.end().await.expect("end the inserter");

    let read: Vec<ListenRow> = client
        .query("SELECT ?fields FROM listens ORDER BY id")
        .fetch_all()
        .await
        .expect("read the rows back");
    assert_eq!(read, rows);

    let users: u64 = client
        .query("SELECT uniqExact(user_id) FROM listens")
        .fetch_one()
        .await
        .expect("count the users");
    assert_eq!(users, 13);
    db.cleanup().await.expect("drop the test database");
}

#[tokio::test]
async fn prometheus_serves_its_own_metrics() {
    let Some(stack) = require(&[Service::Prometheus]).await else {
        return;
    };
    let url = stack.prometheus_endpoint("metrics");
    let response = stack
        .http_client()
        .expect("an HTTP client")
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    let body = response.text().await.expect("read the metrics");
    assert!(
        body.contains("prometheus_build_info"),
        "no prometheus_build_info in {url}"
    );
}

const SCHEMA_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[tokio::test]
async fn schema_registry_registers_and_serves_a_schema() {
    let Some(stack) = require(&[Service::SchemaRegistry]).await else {
        return;
    };
    let http = stack.http_client().expect("an HTTP client");
    let subject = format!("{}-value", unique_name("smoke_subject"));
    let schema = serde_json::json!({
        "type": "record",
        "name": "SmokeEvent",
        "namespace": "soundlake.test",
        "fields": [
            {"name": "user_id", "type": "string"},
            {"name": "ts", "type": "long"}
        ]
    });

    let register_url = stack.schema_registry_endpoint(&format!("subjects/{subject}/versions"));
    let response = http
        .post(&register_url)
        .header(reqwest::header::CONTENT_TYPE, SCHEMA_CONTENT_TYPE)
        .body(serde_json::json!({ "schema": schema.to_string() }).to_string())
        .send()
        .await
        .unwrap_or_else(|err| panic!("POST {register_url}: {err}"));
    let status = response.status();
    let body = response.text().await.expect("read the registration answer");
    assert!(status.is_success(), "POST {register_url}: {status}: {body}");
    let registered: serde_json::Value = serde_json::from_str(&body).expect("registration JSON");
    let id = registered["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no numeric id in {body}"));

    for path in [
        format!("schemas/ids/{id}"),
        format!("subjects/{subject}/versions/latest"),
    ] {
        let url = stack.schema_registry_endpoint(&path);
        let response = http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {url}: {err}"));
        let status = response.status();
        let body = response.text().await.expect("read the schema");
        assert!(status.is_success(), "GET {url}: {status}: {body}");
        let fetched: serde_json::Value = serde_json::from_str(&body).expect("schema JSON");
        let text = fetched["schema"]
            .as_str()
            .unwrap_or_else(|| panic!("no schema in {body}"));
        let parsed: serde_json::Value = serde_json::from_str(text).expect("the schema is JSON");
        assert_eq!(parsed["name"], "SmokeEvent", "GET {url}: {body}");
        assert_eq!(parsed["fields"], schema["fields"], "GET {url}: {body}");
    }

    let delete_url = stack.schema_registry_endpoint(&format!("subjects/{subject}"));
    let deleted = http
        .delete(&delete_url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("DELETE {delete_url}: {err}"));
    assert!(
        deleted.status().is_success(),
        "DELETE {delete_url}: {}",
        deleted.status()
    );
}
