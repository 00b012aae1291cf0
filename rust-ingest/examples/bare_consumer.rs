//! The ceiling for `soundlake-ingest` in `scripts/bench-ingest`: an rdkafka consumer that
//! reads every record of the given topics from the beginning up to the end offsets seen at
//! start, and discards it (it only touches the value's length). Same client library and prefetch
//! settings as the lander, and messages taken from librdkafka many at a time as the lander takes
//! them (`kafka_batch`; one `poll` per message read the benchmark's topics 1.2–1.4× more
//! slowly), no decoding, no writing.
//!
//! ```text
//! cargo run --release -p soundlake-ingest --example bare_consumer -- \
//!     --brokers 127.0.0.1:9092 --topics a,b,c
//! ```
//! Prints `bare consumer: N records, B bytes in S s: R records/s`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use soundlake_ingest::kafka_batch::{Batch, BatchQueue, Record};

const TIMEOUT: Duration = Duration::from_secs(15);
/// Messages taken from librdkafka per call (the lander's `partition_reader::BURST`).
const BATCH: usize = soundlake_ingest::partition_reader::BURST;

/// Reads the topics to their end offsets and discards every record.
#[derive(Debug, Parser)]
#[command(name = "bare_consumer")]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    /// Topics, comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    topics: Vec<String>,
    /// A consumer setting (`key=value`), repeatable.
    #[arg(short = 'X', long = "consumer-config")]
    settings: Vec<String>,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bare_consumer: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &cli.brokers)
        .set("group.id", "soundlake-bench-bare-consumer")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    // The lander's prefetch settings: with librdkafka's defaults this consumer read the
    // benchmark's topics more slowly than with them, and was no ceiling (docs/benchmarks.md).
    soundlake_ingest::lander::consumer::set_prefetch(&mut config);
    for kv in &cli.settings {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("-X {kv}: expected key=value"))?;
        config.set(k, v);
    }
    let consumer: Arc<BaseConsumer> = Arc::new(
        config
            .create()
            .map_err(|e| format!("cannot create the consumer for {}: {e}", cli.brokers))?,
    );
    let mut tpl = TopicPartitionList::new();
    // Per (index of the topic in --topics, partition).
    let mut ends: HashMap<(usize, i32), i64> = HashMap::new();
    let mut total: i64 = 0;
    for (index, topic) in cli.topics.iter().enumerate() {
        let metadata = consumer
            .fetch_metadata(Some(topic), TIMEOUT)
            .map_err(|e| format!("metadata of {topic} from {}: {e}", cli.brokers))?;
        for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), TIMEOUT)
                .map_err(|e| format!("watermarks of {topic}[{}]: {e}", p.id()))?;
            if high > low {
                tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                    .map_err(|e| e.to_string())?;
                ends.insert((index, p.id()), high);
                total += high - low;
            }
        }
    }
    consumer.assign(&tpl).map_err(|e| format!("assign: {e}"))?;
    let queue = BatchQueue::consumer_queue(&consumer).ok_or("the consumer has no queue")?;
    let mut batch = Batch::with_capacity(BATCH);
    let started = Instant::now();
    let (mut records, mut bytes) = (0_i64, 0_u64);
    while !ends.is_empty() {
        if queue.take(&mut batch, BATCH, Duration::from_millis(500)) == 0
            && started.elapsed() > Duration::from_secs(600)
        {
            return Err(format!("stuck: {records} of {total} records after 10 min"));
        }
        while let Some(message) = batch.next_message() {
            let m = match message {
                Ok(m) => m,
                Err(err) => {
                    eprintln!("bare_consumer: {err}");
                    continue;
                }
            };
            records += 1;
            bytes += m.payload().map_or(0, |p| p.len() as u64);
            let Some(index) = cli.topics.iter().position(|t| t == m.topic()) else {
                continue;
            };
            let key = (index, m.partition());
            if ends.get(&key).is_some_and(|end| m.offset() + 1 >= *end) {
                ends.remove(&key);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bare consumer: {records} records, {bytes} bytes in {secs:.2} s: {:.0} records/s",
        records as f64 / secs
    );
    Ok(())
}
