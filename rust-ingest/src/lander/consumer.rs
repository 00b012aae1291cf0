//! The lander's librdkafka consumer and its configuration.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::BaseConsumer;

use super::error::LanderError;
use super::rebalance::{LanderContext, Shared};
use crate::config::Config;

/// How long a request to Kafka (metadata, watermarks, a seek) may take.
pub(super) const KAFKA_TIMEOUT: Duration = Duration::from_secs(15);
/// How often librdkafka reports its statistics, and the lag and assignment gauges are
/// refreshed between commits.
pub(super) const GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// The lander's librdkafka prefetch settings (the benchmark's bare consumer uses them too, so
/// that it is the ceiling of the same client with the same settings).
pub fn set_prefetch(config: &mut ClientConfig) {
    config
        // When a partition's prefetch queue is full, librdkafka waits this long before it
        // fetches again (its default, 1 s, left the lander idle most of the time on a backlog:
        // docs/benchmarks.md).
        .set("fetch.queue.backoff.ms", "20")
        // librdkafka prefetches until a partition has 100 000 messages or the queue 64 MiB by
        // default: at peak, much of the lander's heap (decompressed message sets and one op per
        // message). These smaller limits keep the decode threads just as busy
        // (docs/benchmarks.md).
        .set("queued.min.messages", "20000")
        .set("queued.max.messages.kbytes", "16384")
        // A fetch request leaves out the partitions whose queues are full; if it then holds
        // only partitions with nothing new (a small topic already read to its end), the broker
        // keeps it up to this long (librdkafka's default: 500 ms) and the other partitions wait
        // for it. The partition reader keeps partitions ahead in event time full on purpose:
        // with the default, a backfill stalled again and again (docs/benchmarks.md).
        .set("fetch.wait.max.ms", "50");
}

/// The consumer of the lander's group, with `--consumer-config` over the lander's settings.
pub(super) fn create_consumer(
    cfg: &Config,
    shared: Arc<Shared>,
) -> Result<BaseConsumer<LanderContext>, LanderError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &cfg.brokers)
        .set("group.id", &cfg.group)
        .set("group.instance.id", &cfg.writer_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("enable.partition.eof", "false");
    set_prefetch(&mut config);
    config
        .set(
            "statistics.interval.ms",
            GAUGE_INTERVAL.as_millis().to_string(),
        )
        .set("client.id", format!("soundlake-ingest-{}", cfg.writer_id));
    for (k, v) in &cfg.consumer_config {
        config.set(k, v);
    }
    config
        .create_with_context(LanderContext(shared))
        .map_err(|e| LanderError::Kafka {
            brokers: cfg.brokers.clone(),
            reason: format!("cannot create the consumer: {e}"),
        })
}
