//! The lander's counters, and their publication to `--metrics-addr` (the lag and assignment
//! gauges refreshed from librdkafka's statistics and the commit log).

use std::collections::BTreeMap;
use std::time::Instant;

use super::rebalance::lock;
use super::Lander;
use crate::stats::{LanderMetrics, Stats};

impl Lander {
    /// Publishes the stats to `metrics` at each commit and every `GAUGE_INTERVAL` (and times
    /// the flushes).
    pub fn set_metrics(&mut self, metrics: LanderMetrics) {
        metrics.publish(&self.stats());
        self.metrics = Some(metrics);
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        for state in &self.buffers.topics {
            stats.topics.entry(state.name.clone()).or_default().consumed = state.consumed;
        }
        stats
    }

    /// Refreshes the lag and assignment gauges and publishes the stats.
    pub(super) fn publish(&mut self) {
        self.last_gauges = Instant::now();
        if self.metrics.is_none() {
            return;
        }
        let assigned = self.shared.assigned();
        let mut lag = BTreeMap::new();
        let mut per_topic: BTreeMap<String, u64> = BTreeMap::new();
        {
            let marks = lock(&self.shared.high_watermarks).clone();
            let log = self.rt.block_on(self.shared.log.lock());
            for (topic, partition) in assigned {
                *per_topic.entry(topic.clone()).or_default() += 1;
                // The watermark the consumer's fetcher last saw: no request to the broker.
                let Some(&high) = marks.get(&(topic.clone(), partition)) else {
                    continue;
                };
                let next = log.next_offset(&topic, partition).unwrap_or(0);
                lag.insert((topic, partition), (high - next).max(0));
            }
        }
        for topic in &self.cfg.topics {
            per_topic.entry(topic.clone()).or_default();
        }
        self.stats.lag = lag;
        self.stats.assigned = per_topic;
        let stats = self.stats();
        if let Some(metrics) = &self.metrics {
            metrics.publish(&stats);
        }
    }
}
