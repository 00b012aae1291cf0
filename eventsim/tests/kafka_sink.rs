//! eventsim into the local stack's real Kafka, with the real schema registry (and with the
//! file ids of `--schema-registry-url none`): everything is consumed back, counts equal the JSON
//! sink's for the same seed, every value decodes with the schema its id resolves to, and keys
//! are the user ids (guests: the session ids). Needs `scripts/stack up kafka schema-registry`.

mod common;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use eventsim::app::{execute_into, execute_with_telemetry};
use eventsim::run::Summary;
use eventsim::sinks::memory::MemorySink;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use soundlake_core::event::Topic;
use soundlake_core::schema_registry::{value_subject, FileSchemas, SchemaSource};
use soundlake_core::telemetry::Telemetry;
use soundlake_core::wire;
use soundlake_testkit::{require, unique_name, Service, StackEndpoints};

const CONSUME_TIMEOUT: Duration = Duration::from_secs(60);

/// The four topics of one test run (unique names); deleted with their registry subjects on drop.
struct RunTopics {
    stack: StackEndpoints,
    prefix: String,
    names: [String; 4],
}

impl RunTopics {
    fn new(stack: &StackEndpoints, label: &str) -> RunTopics {
        let prefix = format!("{}_", unique_name(label));
        RunTopics {
            stack: stack.clone(),
            names: Topic::ALL.map(|t| format!("{prefix}{}", t.name())),
            prefix,
        }
    }
}

impl Drop for RunTopics {
    fn drop(&mut self) {
        let (stack, names) = (self.stack.clone(), self.names.clone());
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let admin: AdminClient<DefaultClientContext> =
                    stack.kafka_config().create().expect("admin client");
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)));
                if let Err(e) = admin.delete_topics(&refs, &opts).await {
                    eprintln!("warning: deleting test topics {refs:?}: {e}");
                }
                let http = stack.http_client().expect("http client");
                for n in &names {
                    let subject = value_subject(n);
                    for suffix in ["", "?permanent=true"] {
                        let url =
                            stack.schema_registry_endpoint(&format!("subjects/{subject}{suffix}"));
                        let _ = http.delete(url).send().await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn args<'a>(extra: &[&'a str], config: &'a str) -> Vec<&'a str> {
    let mut a = vec![
        "-c",
        config,
        "--nusers",
        "120",
        "--start-time",
        "2015-06-01T00:00:00",
        "--end-time",
        "2015-06-03T00:00:00",
        "--growth-rate",
        "0.5",
        "--randomseed",
        "7",
        "--progress",
        "never",
    ];
    a.extend_from_slice(extra);
    a
}

/// Runs eventsim into Kafka (off the async runtime: the run blocks) and, for the same
/// options, into memory as JSON.
async fn run_both(extra: Vec<String>) -> (Summary, MemorySink) {
    let config = common::reference_config();
    let config = config.to_str().expect("utf-8").to_string();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let kafka_plan = common::plan_of(&args(&extra, &config));
        let telemetry = Telemetry::init("eventsim", None).expect("telemetry");
        let summary =
            execute_with_telemetry(&kafka_plan, &AtomicBool::new(false), Some(&telemetry))
                .expect("Kafka run");
        assert_delivery_metrics(&telemetry.render(), &summary);
        let json_plan = common::plan_of(&args(&[], &config));
        let mut json = MemorySink::new();
        execute_into(&json_plan, &mut json, &AtomicBool::new(false)).expect("JSON run");
        (summary, json)
    })
    .await
    .expect("run thread")
}

/// The delivery reports, as /metrics shows them, account for every record.
fn assert_delivery_metrics(metrics: &str, summary: &Summary) {
    for t in Topic::ALL {
        let n = summary.per_topic[t.index()];
        for line in [
            format!(
                "soundlake_eventsim_produced_events_total{{topic=\"{}\"}} {n}",
                t.name()
            ),
            format!(
                "soundlake_eventsim_delivered_events_total{{topic=\"{}\"}} {n}",
                t.name()
            ),
            format!(
                "soundlake_eventsim_delivery_failed_events_total{{topic=\"{}\"}} 0",
                t.name()
            ),
        ] {
            assert!(
                metrics.lines().any(|l| l == line),
                "missing {line:?} in:\n{metrics}"
            );
        }
    }
}

/// Every record of the topics, from the beginning: (topic index, partition, key, value).
fn consume_all(
    stack: &StackEndpoints,
    names: &[String; 4],
    expected: u64,
) -> Vec<(usize, i32, String, Vec<u8>)> {
    let consumer: BaseConsumer = stack
        .kafka_config()
        .set("group.id", unique_name("eventsim_it_group"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for name in names {
        let md = consumer
            .fetch_metadata(Some(name), Duration::from_secs(10))
            .expect("metadata");
        let partitions = md.topics()[0].partitions().len();
        assert_eq!(partitions, 4, "{name} was created with 4 partitions");
        for p in 0..partitions as i32 {
            tpl.add_partition_offset(name, p, Offset::Beginning)
                .expect("offset");
        }
    }
    consumer.assign(&tpl).expect("assign");
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut out = Vec::new();
    let deadline = Instant::now() + CONSUME_TIMEOUT;
    while (out.len() as u64) < expected && Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            let m = m.expect("consume");
            out.push((
                index[m.topic()],
                m.partition(),
                String::from_utf8(m.key().expect("key").to_vec()).expect("UTF-8 key"),
                m.payload().expect("value").to_vec(),
            ));
        }
    }
    // Nothing beyond what was sent.
    if let Some(Ok(m)) = consumer.poll(Duration::from_secs(1)) {
        panic!("an extra record on {}", m.topic());
    }
    out
}

/// Decodes every record with the schema its id resolves to through `source`; checks the
/// fields, the key and the partition; returns the records per topic and the ids seen.
async fn check_records(
    source: &SchemaSource,
    records: &[(usize, i32, String, Vec<u8>)],
) -> ([u64; 4], Vec<u32>) {
    let mut counts = [0u64; 4];
    let mut ids = Vec::new();
    let mut partition_of_key: HashMap<(usize, String), i32> = HashMap::new();
    let mut schemas: HashMap<u32, Schema> = HashMap::new();
    for (t, partition, key, value) in records {
        let topic = Topic::ALL[*t];
        let framed = wire::parse(value).expect("wire format");
        if let std::collections::hash_map::Entry::Vacant(slot) = schemas.entry(framed.schema_id) {
            let text = source
                .writer_schema(framed.schema_id)
                .await
                .expect("writer schema");
            slot.insert(Schema::parse_str(&text).expect("schema parses"));
            ids.push(framed.schema_id);
        }
        let schema = &schemas[&framed.schema_id];
        let reader = GenericDatumReader::builder(schema).build().expect("reader");
        let mut body = framed.body;
        let v = reader.read_value(&mut body).expect("value decodes");
        assert!(body.is_empty(), "{topic}: trailing bytes");
        let Avro::Record(fields) = &v else {
            panic!("{topic}: not a record")
        };
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            topic.fields(),
            "{topic}: fields of the writer schema"
        );
        let get = |n: &str| &fields.iter().find(|(k, _)| k == n).expect(n).1;
        let expected_key = match get("userId") {
            Avro::Union(1, id) => match **id {
                Avro::Long(id) => id,
                ref other => panic!("userId {other:?}"),
            },
            _ => match get("sessionId") {
                Avro::Long(s) => *s,
                other => panic!("sessionId {other:?}"),
            },
        };
        assert_eq!(key, &expected_key.to_string(), "{topic}: key");
        let p = *partition_of_key
            .entry((*t, key.clone()))
            .or_insert(*partition);
        assert_eq!(p, *partition, "{topic}: one key, one partition");
        counts[*t] += 1;
    }
    (counts, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_kafka_with_the_schema_registry() {
    let Some(stack) = require(&[Service::Kafka, Service::SchemaRegistry]).await else {
        return;
    };
    let topics = RunTopics::new(&stack, "eventsim_it");
    let registry = stack
        .schema_registry_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let (summary, json) = run_both(vec![
        "--kafka-brokers".into(),
        stack.kafka_brokers.clone(),
        "--schema-registry-url".into(),
        registry.clone(),
        "--topic-prefix".into(),
        topics.prefix.clone(),
    ])
    .await;
    let json_counts = Topic::ALL.map(|t| json.lines(t).count() as u64);
    assert_eq!(
        summary.per_topic, json_counts,
        "same records as the JSON sink"
    );
    let report = summary.sink_report.clone().expect("Kafka report");
    assert_eq!(report.delivered, json_counts, "{report:?}");
    assert_eq!(report.topics[0], topics.names[0], "{report:?}");
    assert_eq!(
        report.target,
        format!("Kafka at {}", stack.kafka_brokers),
        "{report:?}"
    );

    let records = {
        let (stack, names) = (stack.clone(), topics.names.clone());
        let total = summary.records();
        tokio::task::spawn_blocking(move || consume_all(&stack, &names, total))
            .await
            .expect("consumer thread")
    };
    // A fresh client: ids are resolved by asking the registry, not from a producer's cache.
    let source = SchemaSource::from_option(&registry).expect("registry");
    let (counts, ids) = check_records(&source, &records).await;
    assert_eq!(counts, json_counts, "consumed records per topic");
    let file_ids = FileSchemas::embedded();
    assert_eq!(ids.len(), 4, "one schema id per topic");
    for id in ids {
        assert!(file_ids.topic_of(id).is_none(), "{id} is a registry id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_kafka_with_the_schema_files() {
    let Some(stack) = require(&[Service::Kafka]).await else {
        return;
    };
    let topics = RunTopics::new(&stack, "eventsim_it_files");
    let (summary, json) = run_both(vec![
        "--kafka-brokers".into(),
        stack.kafka_brokers.clone(),
        "--schema-registry-url".into(),
        "none".into(),
        "--topic-prefix".into(),
        topics.prefix.clone(),
    ])
    .await;
    let json_counts = Topic::ALL.map(|t| json.lines(t).count() as u64);
    assert_eq!(summary.per_topic, json_counts);
    let records = {
        let (stack, names) = (stack.clone(), topics.names.clone());
        let total = summary.records();
        tokio::task::spawn_blocking(move || consume_all(&stack, &names, total))
            .await
            .expect("consumer thread")
    };
    let source = SchemaSource::from_option("none").expect("files");
    let (counts, mut ids) = check_records(&source, &records).await;
    assert_eq!(counts, json_counts);
    ids.sort_unstable();
    let files = FileSchemas::embedded();
    let mut want = Topic::ALL.map(|t| files.id_of(t)).to_vec();
    want.sort_unstable();
    assert_eq!(ids, want, "the ids of schema-registry/ids.json");
}
