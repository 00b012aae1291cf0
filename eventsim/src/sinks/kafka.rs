//! Records into Kafka: one topic per stream (`<prefix><topic>`), Avro values in the Confluent
//! wire format (encoded by [`super::avro::AvroEncoder`] in the generation threads), the key the
//! user id (guests: the session id) as decimal text, so that one user's events stay in order in
//! one partition. An idempotent producer (`enable.idempotence`, `acks=all`) sends them; every
//! delivery report is counted per topic, and any failed record fails the run.
//!
//! Topics are created if missing ([`ensure_topics`], with `--partitions`, default 4, and the
//! broker's replication factor) rather than left to broker auto-creation, which production
//! clusters usually disable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use soundlake_core::event::Topic;

use super::{Chunk, Delivery, Sink, SinkError};

/// How long to wait for the brokers to answer a metadata or admin request.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest [`KafkaSink::finish`] waits for outstanding deliveries (records fail by
/// themselves after `message.timeout.ms`).
const FINISH_TIMEOUT: Duration = Duration::from_secs(600);

/// Producer settings tuned for throughput on a small machine; `--producer-config` overrides any.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("compression.type", "lz4"),
    ("linger.ms", "50"),
    ("batch.size", "1000000"),
    ("batch.num.messages", "100000"),
    ("queue.buffering.max.messages", "2000000"),
    ("queue.buffering.max.kbytes", "131072"),
    ("message.timeout.ms", "120000"),
    // Java's default partitioner: a key lands on the same partition as with Java clients.
    ("partitioner", "murmur2_random"),
    ("client.id", "eventsim"),
];

/// Where and how to send.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaOptions {
    /// `host:port[,host:port…]`
    pub brokers: String,
    /// Prepended to each topic name (`<prefix>listen_events`, …).
    pub topic_prefix: String,
    /// Partitions of the topics this sink creates.
    pub partitions: i32,
    /// librdkafka settings over [`PRODUCER_DEFAULTS`].
    pub producer_config: Vec<(String, String)>,
}

impl KafkaOptions {
    /// The Kafka topic of each stream, by `Topic::index`.
    pub fn topic_names(&self) -> [String; 4] {
        Topic::ALL.map(|t| format!("{}{}", self.topic_prefix, t.name()))
    }

    /// The producer's configuration: bootstrap servers, the defaults, then the overrides.
    pub fn producer_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in PRODUCER_DEFAULTS {
            c.set(*k, *v);
        }
        for (k, v) in &self.producer_config {
            c.set(k, v);
        }
        c
    }
}

fn sink_error(what: impl Into<String>, detail: impl Into<String>) -> SinkError {
    SinkError {
        what: what.into(),
        source: std::io::Error::other(detail.into()),
    }
}

fn unreachable(brokers: &str, err: &KafkaError) -> SinkError {
    sink_error(
        format!("Kafka at {brokers} does not answer"),
        format!("{err}; start it with `scripts/stack up kafka` or check --kafka-brokers"),
    )
}

/// Creates the topics that do not exist yet (`partitions` each, the broker's default
/// replication factor) and returns the names of those it created.
pub async fn ensure_topics(
    brokers: &str,
    topics: &[String],
    partitions: i32,
) -> Result<Vec<String>, SinkError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| sink_error("cannot create a Kafka admin client", e.to_string()))?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(ADMIN_TIMEOUT))
        .request_timeout(Some(ADMIN_TIMEOUT));
    let results = admin
        .create_topics(new.iter(), &options)
        .await
        .map_err(|e| unreachable(brokers, &e))?;
    let mut created = Vec::new();
    for r in results {
        match r {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(sink_error(
                    format!("cannot create Kafka topic {name} at {brokers}"),
                    code.to_string(),
                ))
            }
        }
    }
    Ok(created)
}

/// Delivery reports, counted per topic (the delivery opaque is the topic index).
#[derive(Debug, Default)]
struct Deliveries {
    delivered: [AtomicU64; 4],
    failed: [AtomicU64; 4],
    first_error: Mutex<Option<String>>,
    /// The last error librdkafka reported about the client (e.g. brokers down).
    client_error: Mutex<Option<String>>,
}

impl Deliveries {
    fn failed(&self) -> u64 {
        self.failed.iter().map(|f| f.load(Ordering::Relaxed)).sum()
    }

    fn note(slot: &Mutex<Option<String>>, msg: String, replace: bool) {
        let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
        if replace || s.is_none() {
            *s = Some(msg);
        }
    }
}

/// The delivery reports counted so far, readable from any thread (for `/metrics`).
#[derive(Debug, Clone)]
pub struct DeliveryCounts(Arc<Deliveries>);

impl DeliveryCounts {
    /// Records delivered, per topic (by `Topic::index`).
    pub fn delivered(&self) -> [u64; 4] {
        self.0
            .delivered
            .each_ref()
            .map(|d| d.load(Ordering::Relaxed))
    }

    /// Records that failed to be delivered, per topic (by `Topic::index`).
    pub fn failed(&self) -> [u64; 4] {
        self.0.failed.each_ref().map(|f| f.load(Ordering::Relaxed))
    }
}

#[derive(Debug, Clone, Default)]
struct Context(Arc<Deliveries>);

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        Deliveries::note(&self.0.client_error, format!("{error}: {reason}"), true);
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, topic: usize) {
        let d = &self.0;
        match result {
            Ok(_) => d.delivered[topic & 3].fetch_add(1, Ordering::Relaxed),
            Err((e, _)) => {
                Deliveries::note(&d.first_error, e.to_string(), false);
                d.failed[topic & 3].fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// The Kafka sink.
pub struct KafkaSink {
    producer: ThreadedProducer<Context>,
    deliveries: Arc<Deliveries>,
    brokers: String,
    topics: [String; 4],
    sent: [u64; 4],
    bytes: u64,
}

impl KafkaSink {
    /// A producer for `options`, after checking that the brokers answer.
    pub fn connect(options: &KafkaOptions) -> Result<KafkaSink, SinkError> {
        let context = Context::default();
        let deliveries = Arc::clone(&context.0);
        let producer: ThreadedProducer<Context> = options
            .producer_config()
            .create_with_context(context)
            .map_err(|e| {
                sink_error(
                    "cannot create the Kafka producer",
                    format!("{e}; check --producer-config"),
                )
            })?;
        producer
            .client()
            .fetch_metadata(None, ADMIN_TIMEOUT)
            .map_err(|e| unreachable(&options.brokers, &e))?;
        Ok(KafkaSink {
            producer,
            deliveries,
            brokers: options.brokers.clone(),
            topics: options.topic_names(),
            sent: [0; 4],
            bytes: 0,
        })
    }

    /// Records delivered so far, per topic (by `Topic::index`).
    pub fn delivered(&self) -> [u64; 4] {
        self.delivery_counts().delivered()
    }

    /// A handle on the delivery reports, which stays valid while the sink runs.
    pub fn delivery_counts(&self) -> DeliveryCounts {
        DeliveryCounts(Arc::clone(&self.deliveries))
    }

    fn per_topic(&self, counts: [u64; 4]) -> String {
        Topic::ALL
            .iter()
            .map(|t| format!("{} {}", self.topics[t.index()], counts[t.index()]))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// An error if any record failed: how many, of which topics, and the first reason.
    fn check_failures(&self) -> Result<(), SinkError> {
        let failed = self.deliveries.failed();
        if failed == 0 {
            return Ok(());
        }
        let first = self
            .deliveries
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        let counts = self.delivery_counts().failed();
        Err(sink_error(
            format!(
                "{failed} record(s) were not delivered to Kafka at {}",
                self.brokers
            ),
            format!(
                "first error: {first}; failed per topic: {}; delivered per topic: {}",
                self.per_topic(counts),
                self.per_topic(self.delivered())
            ),
        ))
    }

    fn send(&mut self, t: Topic, key: i64, value: &[u8]) -> Result<(), SinkError> {
        let mut k = itoa::Buffer::new();
        let mut record = BaseRecord::with_opaque_to(&self.topics[t.index()], t.index())
            .key(k.format(key))
            .payload(value);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // The local queue is full: let the broker catch up.
                    record = r;
                    self.producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    return Err(sink_error(
                        format!(
                            "cannot send a record to Kafka topic {}",
                            self.topics[t.index()]
                        ),
                        e.to_string(),
                    ))
                }
            }
        }
    }
}

impl Sink for KafkaSink {
    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), SinkError> {
        // Stop at the first failed delivery rather than generate into a broken producer.
        self.check_failures()?;
        for t in Topic::ALL {
            let buf = chunk.topic(t);
            for (key, value) in buf.records() {
                self.send(t, key, value)?;
            }
            self.sent[t.index()] += buf.len() as u64;
            self.bytes += buf.data.len() as u64;
        }
        Ok(())
    }

    /// Records are on their way already (`linger.ms`); only report failures.
    fn flush(&mut self) -> Result<(), SinkError> {
        self.check_failures()
    }

    /// Waits until every record is acknowledged (or has failed).
    fn finish(&mut self) -> Result<(), SinkError> {
        let flushed = self.producer.flush(FINISH_TIMEOUT);
        self.check_failures()?;
        if let Err(e) = flushed {
            let client = self
                .deliveries
                .client_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_default();
            return Err(sink_error(
                format!("Kafka at {} did not acknowledge every record", self.brokers),
                format!(
                    "{e} ({} in flight; last client error: {client}); sent per topic: {}",
                    self.producer.in_flight_count(),
                    self.per_topic(self.sent)
                ),
            ));
        }
        let delivered = self.delivered();
        if delivered != self.sent {
            return Err(sink_error(
                "Kafka delivery reports do not add up",
                format!(
                    "sent {}; delivered {}",
                    self.per_topic(self.sent),
                    self.per_topic(delivered)
                ),
            ));
        }
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.bytes
    }

    fn report(&self) -> Option<Delivery> {
        Some(Delivery {
            target: format!("Kafka at {}", self.brokers),
            topics: self.topics.clone(),
            delivered: self.delivered(),
        })
    }
}
