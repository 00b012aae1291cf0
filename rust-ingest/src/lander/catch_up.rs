//! `--until-caught-up`: the end offsets seen at start, and whether the lander has reached them.

use std::collections::BTreeMap;

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::consumer::KAFKA_TIMEOUT;
use super::error::LanderError;
use super::rebalance::LanderContext;
use super::Lander;
use crate::config::Config;

/// The offsets (low and high watermark) of each partition seen at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Targets(BTreeMap<(String, i32), (i64, i64)>);

impl Targets {
    /// Checks that the topics exist (waiting for them otherwise, unless `--until-caught-up`)
    /// and, with `--until-caught-up`, reads each partition's watermarks.
    pub fn at_start(
        consumer: &BaseConsumer<LanderContext>,
        cfg: &Config,
    ) -> Result<Self, LanderError> {
        let kafka_err = |reason: String| LanderError::Kafka {
            brokers: cfg.brokers.clone(),
            reason,
        };
        let metadata = consumer
            .fetch_metadata(None, KAFKA_TIMEOUT)
            .map_err(|e| kafka_err(format!("no answer to a metadata request ({e})")))?;
        let mut targets = BTreeMap::new();
        for name in &cfg.topics {
            let topic = metadata.topics().iter().find(|t| t.name() == name);
            let Some(topic) = topic.filter(|t| t.error().is_none()) else {
                if cfg.until_caught_up {
                    return Err(kafka_err(format!("topic {name} does not exist")));
                }
                tracing::warn!(%name, "the topic does not exist (yet); waiting for it");
                continue;
            };
            if cfg.until_caught_up {
                for p in topic.partitions() {
                    let (low, high) = consumer
                        .fetch_watermarks(name, p.id(), KAFKA_TIMEOUT)
                        .map_err(|e| kafka_err(format!("watermarks of {name}[{}]: {e}", p.id())))?;
                    targets.insert((name.clone(), p.id()), (low, high));
                }
            }
        }
        Ok(Self(targets))
    }

    /// Whether every partition's position reaches its end offset seen at start. `logged` gives
    /// a partition's next offset in the commit log (None: never committed, it starts at its low
    /// watermark), `consumed` how far it is consumed (buffered or in flight), if that counts.
    pub fn met(
        &self,
        logged: impl Fn(&str, i32) -> Option<i64>,
        consumed: impl Fn(&str, i32) -> Option<i64>,
    ) -> bool {
        self.0.iter().all(|((topic, partition), (low, high))| {
            let logged = logged(topic, *partition).unwrap_or(*low);
            let position = consumed(topic, *partition).map_or(logged, |c| c.max(logged));
            high <= low || position >= *high
        })
    }
}

impl Lander {
    /// Whether what is consumed reaches every end offset seen at start.
    pub(super) fn caught_up(&self) -> bool {
        self.targets_met(true)
    }

    /// Whether what is committed reaches every end offset seen at start.
    pub(super) fn caught_up_committed(&self) -> bool {
        self.in_flight.is_empty() && self.targets_met(false)
    }

    fn targets_met(&self, count_consumed: bool) -> bool {
        let log = self.rt.block_on(self.shared.log.lock());
        // The latest flush's end wins (collected oldest first).
        let in_flight: BTreeMap<(&str, i32), i64> = self
            .in_flight
            .iter()
            .flat_map(|f| &f.ranges)
            .map(|r| ((r.topic.as_str(), r.partition), r.to))
            .collect();
        self.targets.met(
            |topic, partition| log.next_offset(topic, partition),
            |topic, partition| {
                let flushing = in_flight.get(&(topic, partition)).copied();
                let buffered = self.buffers.buffered_to(topic, partition);
                count_consumed.then(|| flushing.max(buffered)).flatten()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn met_when_every_partition_reaches_its_end() {
        let targets = Targets(BTreeMap::from([
            (("a".into(), 0), (0, 10)),
            (("a".into(), 1), (5, 5)), // empty: met from the start
            (("b".into(), 0), (20, 30)),
        ]));
        type Positions<'a> = &'a [((&'a str, i32), i64)];
        // (case, committed positions, consumed positions, met?)
        let cases: [(&str, Positions, Positions, bool); 8] = [
            ("nothing yet", &[], &[], false),
            ("one behind", &[(("a", 0), 10), (("b", 0), 29)], &[], false),
            ("all there", &[(("a", 0), 10), (("b", 0), 30)], &[], true),
            ("beyond", &[(("a", 0), 12), (("b", 0), 31)], &[], true),
            ("one missing", &[(("b", 0), 30)], &[], false),
            ("consumed", &[], &[(("a", 0), 10), (("b", 0), 30)], true),
            (
                "consumed, one behind",
                &[(("b", 0), 30)],
                &[(("a", 0), 9)],
                false,
            ),
            // Consumed below the log's position (a stale count): the log's position counts.
            (
                "consumed below",
                &[(("a", 0), 10), (("b", 0), 30)],
                &[(("a", 0), 3)],
                true,
            ),
        ];
        for (name, logged, consumed, expected) in cases {
            let logged: BTreeMap<(&str, i32), i64> = logged.iter().copied().collect();
            let consumed: BTreeMap<(&str, i32), i64> = consumed.iter().copied().collect();
            let met = targets.met(
                |topic, partition| logged.get(&(topic, partition)).copied(),
                |topic, partition| consumed.get(&(topic, partition)).copied(),
            );
            assert_eq!(met, expected, "{name}");
        }
        assert!(
            Targets::default().met(|_, _| None, |_, _| None),
            "no targets: met"
        );
        // A partition never committed starts at its low watermark, not at a consumed position
        // below it.
        let from_low = Targets(BTreeMap::from([(("c".into(), 0), (7, 9))]));
        assert!(!from_low.met(|_, _| None, |_, _| Some(3)));
        assert!(from_low.met(|_, _| None, |_, _| Some(9)));
    }
}
