//! How fast the lander's decoder turns Confluent-framed Avro into bronze column buffers, on one
//! thread, without Kafka or the lake in the way: reads up to `--limit` records of a topic
//! written by eventsim (whose writer schemas are the embedded `.avsc` files) into memory, then
//! decodes them all `--rounds` times and prints nanoseconds per record. Then, for comparison,
//! the same with `apache_avro`'s own datum decoding (`GenericDatumReader`, built once, into
//! `apache_avro::types::Value`s, nothing appended to bronze columns): the reason the lander
//! keeps its own decoder (docs/benchmarks.md).
//!
//! ```text
//! cargo run --release -p soundlake-ingest --example decode_speed -- \
//!     --brokers 127.0.0.1:9092 --topic prof1_page_view_events
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::Schema;
use clap::Parser;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use soundlake_core::event::Topic;
use soundlake_ingest::batch_builder::{KafkaMeta, PartitionedBatches};
use soundlake_ingest::decode::{TopicDecoder, DEFAULT_MAX_VALUE_BYTES};
use soundlake_ingest::schema::{embedded_avsc, BronzeSchema};

const TIMEOUT: Duration = Duration::from_secs(15);

/// Times the decoder on records of one topic.
#[derive(Debug, Parser)]
#[command(name = "decode_speed")]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    /// A topic eventsim wrote (its name ends in listen_events, page_view_events, …).
    #[arg(long)]
    topic: String,
    /// Records to read (from partition 0).
    #[arg(long, default_value_t = 300_000)]
    limit: usize,
    /// Times every record is decoded.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Skip the comparison with apache_avro's datum decoding.
    #[arg(long)]
    no_crate: bool,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("decode_speed: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let topic = Topic::ALL
        .into_iter()
        .find(|t| cli.topic.ends_with(t.name()))
        .ok_or_else(|| format!("{}: not an event topic's name", cli.topic))?;
    let values = read(cli)?;
    let bronze = Arc::new(BronzeSchema::for_topic(topic)?);
    let avsc = embedded_avsc(topic);
    let mut decoder = TopicDecoder::new(Arc::clone(&bronze), avsc.into(), DEFAULT_MAX_VALUE_BYTES);
    let mut ids: Vec<u32> = values
        .iter()
        .filter_map(|v| decoder.frame(Some(v)).ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        decoder.add_schema(id, Ok(avsc));
    }
    let mut batches = PartitionedBatches::new(bronze);
    let mut best = Duration::MAX;
    for _ in 0..cli.rounds {
        let started = Instant::now();
        let mut bad = 0;
        for (offset, value) in values.iter().enumerate() {
            let meta = KafkaMeta {
                partition: 0,
                offset: i64::try_from(offset)?,
                timestamp_ms: Some(0),
                schema_id: 0,
                ingested_at_us: 0,
            };
            if decoder.decode(Some(value), &mut batches, &meta).is_err() {
                bad += 1;
            }
        }
        best = best.min(started.elapsed());
        batches.finish_all()?;
        if bad > 0 {
            return Err(format!("{bad} records did not decode").into());
        }
    }
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / values.len() as f64;
    println!(
        "decode: {} records of {}, best of {} rounds: {:.0} ns per record",
        values.len(),
        cli.topic,
        cli.rounds,
        ns(best)
    );
    if !cli.no_crate {
        let crate_best = crate_decode(&values, avsc, cli.rounds)?;
        println!(
            "apache_avro datum decoding: best of {} rounds: {:.0} ns per record ({:.2}x the decoder's time)",
            cli.rounds,
            ns(crate_best),
            crate_best.as_secs_f64() / best.as_secs_f64()
        );
    }
    Ok(())
}

/// The best time of `rounds` decodings of every value's body into `apache_avro` values.
fn crate_decode(
    values: &[Vec<u8>],
    avsc: &str,
    rounds: usize,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let schema = Schema::parse_str(avsc)?;
    let reader = GenericDatumReader::builder(&schema).build()?;
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut fields = 0usize;
        for value in values {
            let mut body = value.get(5..).ok_or("a value shorter than its header")?;
            if let apache_avro::types::Value::Record(record) = reader.read_value(&mut body)? {
                fields += record.len();
            }
        }
        best = best.min(started.elapsed());
        if fields == 0 {
            return Err("apache_avro decoded no fields".into());
        }
    }
    Ok(best)
}

/// Up to `limit` values of partition 0, from the beginning.
fn read(cli: &Cli) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &cli.brokers)
        .set("group.id", "soundlake-decode-speed")
        .set("enable.auto.commit", "false")
        .create()?;
    let (low, high) = consumer.fetch_watermarks(&cli.topic, 0, TIMEOUT)?;
    let want = usize::try_from(high - low)?.min(cli.limit);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&cli.topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let mut values = Vec::with_capacity(want);
    let started = Instant::now();
    while values.len() < want {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => values.push(m.payload().unwrap_or_default().to_vec()),
            Some(Err(err)) => return Err(err.into()),
            None if started.elapsed() > Duration::from_secs(120) => {
                return Err(format!("only {} of {want} records in 2 min", values.len()).into())
            }
            None => {}
        }
    }
    Ok(values)
}
