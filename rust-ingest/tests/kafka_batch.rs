//! `kafka_batch` (messages taken from librdkafka many at a time) against the real Kafka: every
//! message comes out once, in order, with its topic, partition, offset, value and timestamp,
//! from a split partition queue and from the consumer's queue alike. Needs
//! `scripts/stack up kafka`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use soundlake_ingest::kafka_batch::{Batch, BatchQueue, Record};
use soundlake_testkit::{require, Service, TestTopic};

/// Records per partition: several batches of [`BATCH`] each.
const RECORDS: i64 = 1_000;
const BATCH: usize = 64;
const TS: i64 = 1_764_054_000_000;

/// What a message said: (offset, value, timestamp).
type Seen = Vec<(i64, Option<Vec<u8>>, Option<i64>)>;

fn value(partition: i32, i: i64) -> Option<Vec<u8>> {
    // Every 100th record has no value (a tombstone).
    (i % 100 != 7).then(|| format!("p{partition}-{i}").into_bytes())
}

/// Takes every message of `queue` until `want` came or 30 s passed; returns them with the
/// topics and partitions they named.
fn read_all<C: rdkafka::consumer::ConsumerContext>(
    queue: &BatchQueue<C>,
    want: usize,
) -> (Seen, Vec<(String, i32)>) {
    let (mut seen, mut names) = (Seen::new(), Vec::new());
    let mut batch = Batch::with_capacity(BATCH);
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < want && Instant::now() < deadline {
        let took = queue.take(&mut batch, BATCH, Duration::from_millis(200));
        assert!(took <= BATCH, "a batch of {took} for room of {BATCH}");
        while let Some(message) = batch.next_message() {
            let m = message.expect("no consumer error");
            seen.push((
                m.offset(),
                m.payload().map(<[u8]>::to_vec),
                m.timestamp_ms(),
            ));
            names.push((m.topic().to_owned(), m.partition()));
        }
    }
    (seen, names)
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_hand_out_every_message_once_in_order() {
    let Some(stack) = require(&[Service::Kafka]).await else {
        return;
    };
    let topic = TestTopic::create(&stack, "kafka_batch", 2)
        .await
        .expect("topic");
    let name = topic.name().to_owned();
    let config = stack.kafka_config();
    let checked = tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = config.create().expect("producer");
        for partition in 0..2 {
            for i in 0..RECORDS {
                let payload = value(partition, i);
                let mut record = BaseRecord::<(), [u8]>::to(&name)
                    .partition(partition)
                    .timestamp(TS + i);
                if let Some(p) = payload.as_deref() {
                    record = record.payload(p);
                }
                producer.send(record).expect("send");
                producer.poll(Duration::ZERO);
            }
        }
        producer.flush(Duration::from_secs(30)).expect("flush");

        let consumer: Arc<BaseConsumer> = Arc::new(
            config
                .clone()
                .set("group.id", format!("{name}_reader"))
                .set("enable.auto.commit", "false")
                .create()
                .expect("consumer"),
        );
        let mut tpl = TopicPartitionList::new();
        for partition in 0..2 {
            tpl.add_partition_offset(&name, partition, Offset::Beginning)
                .expect("tpl");
        }
        consumer.assign(&tpl).expect("assign");
        // Partition 0 through its own queue, as the lander reads; partition 1 stays on the
        // consumer's queue.
        let _split = consumer
            .split_partition_queue(&name, 0)
            .expect("split partition 0");
        let own = BatchQueue::partition(&consumer, &name, 0).expect("partition 0's queue");
        let main = BatchQueue::consumer_queue(&consumer).expect("the consumer's queue");
        let want = usize::try_from(RECORDS).expect("records");
        for (partition, queue) in [(0, &own), (1, &main)] {
            let (seen, names) = read_all(queue, want);
            let expected: Seen = (0..RECORDS)
                .map(|i| (i, value(partition, i), Some(TS + i)))
                .collect();
            assert_eq!(seen.len(), want, "partition {partition}: messages taken");
            assert_eq!(
                seen, expected,
                "partition {partition}: offsets, values, timestamps"
            );
            assert!(
                names.iter().all(|(t, p)| *t == name && *p == partition),
                "partition {partition}: every message names its topic and partition"
            );
        }

        // Messages taken but not handed out are released with the batch (the lander seeks
        // before reading on): the queue goes on after them.
        consumer
            .seek(&name, 0, Offset::Offset(10), Duration::from_secs(10))
            .expect("seek");
        let mut batch = Batch::with_capacity(BATCH);
        let deadline = Instant::now() + Duration::from_secs(30);
        while own.take(&mut batch, 5, Duration::from_millis(200)) == 0 {
            assert!(Instant::now() < deadline, "nothing after the seek");
        }
        let first = batch.next_message().expect("a message").expect("no error");
        assert_eq!(first.offset(), 10, "the first message after seeking to 10");
        drop(first);
        batch.clear();
        assert!(batch.is_empty() && batch.next_message().is_none());
        let (rest, _) = read_all(&own, want - 15);
        assert_eq!(
            rest.first().map(|m| m.0),
            Some(15),
            "after a cleared batch of 10..15"
        );
        assert_eq!(rest.len(), want - 15);
        true
    })
    .await
    .expect("join");
    assert!(checked);
    topic.cleanup().await.expect("cleanup");
}
