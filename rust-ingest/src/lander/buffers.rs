//! What the poll loop keeps of the records since the last flush started: each topic's offset
//! positions (the exactly-once bookkeeping of [`crate::positions`]) and the decode threads
//! holding their buffers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use soundlake_core::schema_registry::SchemaSource;
use tokio::runtime::Runtime;
use tracing::info;

use super::error::LanderError;
use super::rebalance::Shared;
use super::schemas::resolve_schema;
use crate::batch_builder::KafkaMeta;
use crate::commit_log::OffsetRange;
use crate::decode;
use crate::decode_worker::DecodeWorkers;
use crate::kafka_batch::Record;
use crate::positions::TopicPositions;

/// What the poll loop keeps of one Kafka topic (its decoder and buffers are on a decode
/// thread).
pub(super) struct TopicState {
    pub name: String,
    /// The writer schema ids already handed to the decode thread.
    known_ids: BTreeSet<u32>,
    /// What is buffered and in flight of each Kafka partition.
    pub positions: TopicPositions,
    /// Records read from Kafka since the start.
    pub consumed: u64,
}

impl TopicState {
    pub fn new(name: String) -> Self {
        Self {
            name,
            known_ids: BTreeSet::new(),
            positions: TopicPositions::default(),
            consumed: 0,
        }
    }
}

/// What the poll loop needs to decode a record, besides the topic's state.
pub(super) struct RecordContext<'a> {
    pub rt: &'a Runtime,
    pub schemas: &'a SchemaSource,
    pub shared: &'a Shared,
    /// The clock read for `_ingested_at` (refreshed every [`super::CHECK_EVERY`] records).
    pub now_us: i64,
}

/// The topics' buffers since the last flush started.
pub(super) struct Buffers {
    pub topics: Vec<TopicState>,
    pub workers: DecodeWorkers,
    pub max_value_bytes: usize,
    pub first_buffered: Option<Instant>,
}

impl Buffers {
    pub fn is_empty(&self) -> bool {
        self.first_buffered.is_none()
    }

    /// Rows and bytes buffered (estimate).
    pub fn size(&self) -> (u64, u64) {
        self.workers.size()
    }

    /// The index of a topic in the lander's topic list.
    pub fn topic_index(&self, topic: &str) -> Option<usize> {
        self.topics.iter().position(|t| t.name == topic)
    }

    /// Hands one record to its topic's decode thread (which decodes it into the topic's
    /// buffers or its quarantine), unless it is buffered, in flight or committed already.
    pub fn handle(
        &mut self,
        ctx: &RecordContext<'_>,
        message: &impl Record,
    ) -> Result<(), LanderError> {
        let topic = message.topic();
        let Some(index) = self.topic_index(topic) else {
            return Ok(());
        };
        let state = &mut self.topics[index];
        let (partition, offset) = (message.partition(), message.offset());
        let admission = state.positions.admit(partition, offset, || {
            ctx.rt
                .block_on(async { ctx.shared.log.lock().await.next_offset(topic, partition) })
        });
        let Some(from) = admission.take_from() else {
            return Ok(());
        };
        state.consumed += 1;
        let value = message.payload();
        // Resolve a new schema id first (the registry is async; a registry outage waits).
        if let Ok(id) = decode::frame(value, self.max_value_bytes) {
            if state.known_ids.insert(id) {
                let writer = resolve_schema(ctx.rt, ctx.schemas, id, &ctx.shared.shutdown);
                self.workers.add_schema(index, id, writer);
            }
        }
        let meta = KafkaMeta {
            partition,
            offset,
            timestamp_ms: message.timestamp_ms(),
            schema_id: 0,
            ingested_at_us: ctx.now_us,
        };
        self.workers.push(index, &meta, value)?;
        state.positions.buffered(partition, from, offset);
        self.first_buffered.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Discards everything buffered (its offsets are read again from the log's positions).
    pub fn drop_all(&mut self) -> Result<(), LanderError> {
        let partitions: usize = self
            .topics
            .iter()
            .map(|t| t.positions.buffered_partitions())
            .sum();
        if partitions > 0 {
            info!(partitions, "dropping unflushed records");
        }
        self.workers.drop_all()?;
        for state in &mut self.topics {
            state.positions.clear();
        }
        self.first_buffered = None;
        Ok(())
    }

    /// The consumed ranges of every partition, as a flush commits them: up to where its rows
    /// are held back (`held_from`, per topic and Kafka partition), if they are. What is held
    /// back stays buffered, the start of the next flush's range; the rest is in flight.
    pub fn take_ranges(&mut self, held_from: &[BTreeMap<i32, i64>]) -> Vec<OffsetRange> {
        self.topics
            .iter_mut()
            .zip(held_from)
            .flat_map(|(t, held)| t.positions.take_ranges(&t.name, held))
            .collect()
    }

    /// No flush is in flight any more.
    pub fn settled(&mut self) {
        for state in &mut self.topics {
            state.positions.settled();
        }
    }

    /// The consumed position of a partition, if it has buffered records.
    pub fn buffered_to(&self, topic: &str, partition: i32) -> Option<i64> {
        let index = self.topic_index(topic)?;
        self.topics[index].positions.buffered_to(partition)
    }
}
