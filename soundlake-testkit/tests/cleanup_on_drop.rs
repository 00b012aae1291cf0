//! A test that panics before calling `cleanup()` must not leave its resources behind: dropping
//! a `TestTopic`, `TestHdfsDir` or `TestClickHouseDb` removes what it created.

use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use soundlake_testkit::{
    require, Service, StackEndpoints, TestClickHouseDb, TestHdfsDir, TestTopic,
};

const TOPIC_GONE_WAIT: Duration = Duration::from_secs(30);

async fn topic_exists(stack: &StackEndpoints, name: &str) -> bool {
    let admin: AdminClient<DefaultClientContext> = stack
        .kafka_config()
        .create()
        .expect("create an admin client");
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let metadata = admin
            .inner()
            .fetch_metadata(None, Duration::from_secs(10))
            .expect("read the cluster metadata");
        metadata.topics().iter().any(|topic| topic.name() == name)
    })
    .await
    .expect("the metadata task")
}

#[tokio::test]
async fn dropping_a_topic_deletes_it() {
    let Some(stack) = require(&[Service::Kafka]).await else {
        return;
    };
    let topic = TestTopic::create(&stack, "drop_topic", 2)
        .await
        .expect("create the test topic");
    let name = topic.name().to_string();
    assert!(topic_exists(&stack, &name).await, "{name} was not created");
    drop(topic);

    let deadline = Instant::now() + TOPIC_GONE_WAIT;
    while topic_exists(&stack, &name).await {
        assert!(
            Instant::now() < deadline,
            "{name} still exists {TOPIC_GONE_WAIT:?} after drop"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn dropping_an_hdfs_dir_deletes_it() {
    let Some(stack) = require(&[Service::Hdfs]).await else {
        return;
    };
    let dir = TestHdfsDir::create(&stack, "drop_dir")
        .await
        .expect("create the test folder");
    let path = dir.path().to_string();
    let client = stack.hdfs_client().expect("an HDFS client");
    client
        .mkdirs(&dir.path_of("a/b"), 0o755, true)
        .await
        .expect("create a subfolder");
    drop(dir);

    match client.get_file_info(&path).await {
        Err(hdfs_native::HdfsError::FileNotFound(_)) => {}
        other => panic!("{path} should be gone after drop, got {other:?}"),
    }
}

#[tokio::test]
async fn dropping_a_clickhouse_db_drops_it() {
    let Some(stack) = require(&[Service::ClickHouse]).await else {
        return;
    };
    let db = TestClickHouseDb::create(&stack, "drop_db")
        .await
        .expect("create the test database");
    let name = db.name().to_string();
    let count_query = "SELECT count() FROM system.databases WHERE name = ?";
    let client = stack.clickhouse_client();
    let before: u64 = client
        .query(count_query)
        .bind(&name)
        .fetch_one()
        .await
        .expect("look the database up");
    assert_eq!(before, 1, "{name} was not created");
    drop(db);

    let after: u64 = client
        .query(count_query)
        .bind(&name)
        .fetch_one()
        .await
        .expect("look the database up");
    assert_eq!(after, 0, "{name} still exists after drop");
}
