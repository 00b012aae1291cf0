//! eventsim's metrics on `/metrics` (`--metrics-addr`), through the shared telemetry module:
//!
//! - `soundlake_eventsim_produced_events_total{topic}`: records handed to the sink (files,
//!   stdout or Kafka), per topic (`topic` is the stream's name, without `--topic-prefix`);
//! - `soundlake_eventsim_produced_events_per_second{topic}`: the same, per second, over the
//!   time since the previous scrape (at least 1 s);
//! - with Kafka, `soundlake_eventsim_delivered_events_total{topic}` and
//!   `soundlake_eventsim_delivery_failed_events_total{topic}` from the delivery reports;
//! - `soundlake_build_info{service="eventsim",version}` (the telemetry module's).
//!
//! The hot path pays four relaxed atomic adds per chunk (thousands of events) on the writer
//! thread; everything else is read when Prometheus scrapes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use soundlake_core::event::Topic;
use soundlake_core::telemetry::{
    AsyncInstrument, KeyValue, ObservableCounter, ObservableGauge, Telemetry, Unit,
};

use crate::sinks::kafka::DeliveryCounts;
use crate::sinks::{Chunk, Delivery, Sink, SinkError};

/// The shortest window the events/s gauge is computed over (scrapes closer together see the
/// previous value).
const MIN_RATE_WINDOW: Duration = Duration::from_secs(1);

/// Records produced per topic (by `Topic::index`), added once per chunk.
#[derive(Debug, Default)]
pub struct Produced([AtomicU64; 4]);

impl Produced {
    fn add(&self, chunk: &Chunk) {
        for t in Topic::ALL {
            let n = chunk.topic(t).len() as u64;
            if n > 0 {
                self.0[t.index()].fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    pub fn get(&self) -> [u64; 4] {
        self.0.each_ref().map(|c| c.load(Ordering::Relaxed))
    }
}

/// Per-topic rates between two looks at the counts.
#[derive(Debug)]
struct Rate {
    since: Instant,
    counts: [u64; 4],
    per_second: [f64; 4],
}

impl Rate {
    fn new() -> Rate {
        Rate {
            since: Instant::now(),
            counts: [0; 4],
            per_second: [0.0; 4],
        }
    }

    /// The rates with `counts` seen at `now`; a window shorter than [`MIN_RATE_WINDOW`] keeps
    /// the previous rates.
    fn update(&mut self, counts: [u64; 4], now: Instant) -> [f64; 4] {
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed >= MIN_RATE_WINDOW {
            let secs = elapsed.as_secs_f64();
            let before = self.counts;
            self.per_second =
                std::array::from_fn(|i| counts[i].saturating_sub(before[i]) as f64 / secs);
            self.since = now;
            self.counts = counts;
        }
        self.per_second
    }
}

/// The instruments, registered for as long as this lives.
pub struct Metrics {
    produced: Arc<Produced>,
    _counters: Vec<ObservableCounter<u64>>,
    _rate: ObservableGauge<f64>,
}

fn topic_labels() -> [[KeyValue; 1]; 4] {
    Topic::ALL.map(|t| [KeyValue::new("topic", t.name())])
}

/// Observes per-topic totals from `read` as the counter `what`.
fn per_topic_counter(
    telemetry: &Telemetry,
    what: &str,
    help: &str,
    read: impl Fn() -> [u64; 4] + Send + Sync + 'static,
) -> ObservableCounter<u64> {
    let labels = topic_labels();
    telemetry.observable_counter(what, Unit::Events, help, move |o| {
        let counts = read();
        for t in Topic::ALL {
            o.observe(counts[t.index()], &labels[t.index()]);
        }
    })
}

impl Metrics {
    /// Registers eventsim's instruments; `deliveries` when the sink is Kafka.
    pub fn register(telemetry: &Telemetry, deliveries: Option<DeliveryCounts>) -> Metrics {
        let produced = Arc::new(Produced::default());
        let p = Arc::clone(&produced);
        let mut counters = vec![per_topic_counter(
            telemetry,
            "produced",
            "Events handed to the sink (files, stdout or Kafka), per topic",
            move || p.get(),
        )];
        if let Some(d) = deliveries {
            let failed = d.clone();
            counters.push(per_topic_counter(
                telemetry,
                "delivered",
                "Events Kafka acknowledged, per topic",
                move || d.delivered(),
            ));
            counters.push(per_topic_counter(
                telemetry,
                "delivery_failed",
                "Events Kafka failed to take (each fails the run), per topic",
                move || failed.failed(),
            ));
        }
        let p = Arc::clone(&produced);
        let rate = Mutex::new(Rate::new());
        let labels = topic_labels();
        let rate_gauge = telemetry.observable_gauge(
            "produced",
            Unit::EventsPerSecond,
            "Events handed to the sink per second since the previous scrape, per topic",
            move |o: &dyn AsyncInstrument<f64>| {
                let mut r = rate.lock().unwrap_or_else(|e| e.into_inner());
                let rates = r.update(p.get(), Instant::now());
                for t in Topic::ALL {
                    o.observe(rates[t.index()], &labels[t.index()]);
                }
            },
        );
        Metrics {
            produced,
            _counters: counters,
            _rate: rate_gauge,
        }
    }

    /// `sink`, counting what it takes.
    pub fn meter<'a>(&self, sink: &'a mut dyn Sink) -> MeteredSink<'a> {
        MeteredSink {
            inner: sink,
            produced: Arc::clone(&self.produced),
        }
    }
}

/// A sink that counts the records of each chunk its inner sink took.
pub struct MeteredSink<'a> {
    inner: &'a mut dyn Sink,
    produced: Arc<Produced>,
}

impl Sink for MeteredSink<'_> {
    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), SinkError> {
        self.inner.write_chunk(chunk)?;
        self.produced.add(chunk);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.inner.flush()
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.inner.finish()
    }

    fn bytes_written(&self) -> u64 {
        self.inner.bytes_written()
    }

    fn report(&self) -> Option<Delivery> {
        self.inner.report()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_need_a_full_window() {
        let mut r = Rate::new();
        let t0 = r.since;
        assert_eq!(
            r.update([10, 0, 0, 0], t0 + Duration::from_millis(500)),
            [0.0; 4]
        );
        let rates = r.update([20, 4, 0, 0], t0 + Duration::from_secs(2));
        assert_eq!(rates, [10.0, 2.0, 0.0, 0.0]);
        // Too soon: the previous rates stay.
        assert_eq!(
            r.update([90, 4, 0, 0], t0 + Duration::from_millis(2100)),
            rates
        );
        assert_eq!(
            r.update([90, 4, 0, 0], t0 + Duration::from_secs(4)),
            [35.0, 0.0, 0.0, 0.0]
        );
    }
}
