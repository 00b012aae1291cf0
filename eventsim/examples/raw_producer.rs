//! The benchmark's baseline: an rdkafka producer sending pre-encoded records, with eventsim's
//! producer settings. It takes eventsim's own command line (with `--kafka-brokers`), generates
//! that run's wire-format Avro records into memory first (not timed), then only sends them —
//! the same bytes, keys and topics that `eventsim` itself would send — and prints its rate.
//!
//! ```sh
//! cargo run --release -p eventsim --example raw_producer -- -c eventsim/configs/eventsim-config-example.json \
//!     --nusers 5000 --start-time 2015-06-01 --end-time 2015-06-08 \
//!     --kafka-brokers 127.0.0.1:9092 --topic-prefix bench_raw_
//! ```

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::Parser;
use eventsim::app::{connect_kafka, execute_encoded, Encoding};
use eventsim::cli::Cli;
use eventsim::plan::{plan, Output};
use eventsim::sinks::memory::MemorySink;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use soundlake_core::event::Topic;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raw_producer: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let cli = Cli::parse();
    let plan = plan(&cli, chrono::Utc::now().timestamp_millis()).map_err(|e| e.to_string())?;
    let Output::Kafka { options, schemas } = &plan.output else {
        return Err("give --kafka-brokers (and --topic-prefix) as to eventsim".to_string());
    };
    let (sink, schema_ids) = connect_kafka(options, schemas).map_err(|e| e.to_string())?;
    drop(sink);

    let encoding_started = Instant::now();
    let mut records = MemorySink::new();
    let summary = execute_encoded(
        &plan,
        Encoding::Avro { schema_ids },
        &mut records,
        &AtomicBool::new(false),
    )
    .map_err(|e| e.to_string())?;
    eprintln!(
        "raw_producer: pre-encoded {} records ({} events, {:.1} MB) in {:.2} s (not timed)",
        summary.records(),
        summary.events(),
        summary.bytes as f64 / 1e6,
        encoding_started.elapsed().as_secs_f64()
    );

    let producer: ThreadedProducer<DefaultProducerContext> = options
        .producer_config()
        .create()
        .map_err(|e| format!("cannot create the producer: {e}"))?;
    let topics = options.topic_names();
    let started = Instant::now();
    for t in Topic::ALL {
        for (key, value) in records.records(t) {
            let mut k = itoa::Buffer::new();
            let mut record = BaseRecord::to(&topics[t.index()])
                .key(k.format(key))
                .payload(value);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(1));
                    }
                    Err((e, _)) => return Err(format!("send: {e}")),
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(600))
        .map_err(|e| format!("flush: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "raw_producer: sent {} records ({} events, {:.1} MB) in {secs:.2} s: {:.0} events/s, {:.0} records/s",
        summary.records(),
        summary.events(),
        summary.bytes as f64 / 1e6,
        summary.events() as f64 / secs,
        summary.records() as f64 / secs,
    );
    Ok(())
}
