//! The lander's flushes: when one is due, handing the buffers to a flush task (`flush`), and
//! settling each flush's outcome in order: counts and Kafka offsets after a commit; recovery
//! and a fresh start from the log's positions after a refused one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::record_batch::RecordBatch;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::consumer::KAFKA_TIMEOUT;
use super::error::{Fatal, LanderError};
use super::{now_us, Lander};
use crate::commit_log::OffsetRange;
use crate::decode_worker::PendingCounts;
use crate::flush::{Destination, FlushError, FlushItem, FlushJob, Flushed, MAX_IN_FLIGHT};
use crate::quarantine::quarantine_schema;
use crate::schema::stamp_ingested_at;

/// Why the buffers are flushed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlushDue {
    /// `--max-file-bytes` or `--max-rows` reached.
    Size,
    /// `--flush-interval` passed since the oldest buffered record.
    Age,
}

/// What a file of a flush holds, for the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Data,
    Quarantine,
}

/// The flush being written and committed while the poll loop goes on.
pub(super) struct InFlight {
    task: JoinHandle<Result<Flushed, FlushError>>,
    pub ranges: Vec<OffsetRange>,
    /// Per file of the flush, in its order: the topic's index and what the file holds.
    files: Vec<(usize, FileKind)>,
    /// Per topic: the records the flush holds.
    pending: Vec<PendingCounts>,
    /// The rebalance generation the flush was started in.
    generation: u64,
    started: Instant,
}

impl InFlight {
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Lander {
    pub(super) fn flush_due(&self) -> Option<FlushDue> {
        let first = self.buffers.first_buffered?;
        let (rows, bytes) = self.buffers.size();
        if rows >= self.cfg.roll.max_rows || bytes >= self.cfg.roll.max_file_bytes {
            Some(FlushDue::Size)
        } else {
            (first.elapsed() >= self.cfg.flush_interval).then_some(FlushDue::Age)
        }
    }

    /// Writes and commits everything buffered, and waits for the commits.
    pub fn flush(&mut self) -> Result<(), LanderError> {
        self.start_flush(false)?;
        while !self.in_flight.is_empty() {
            self.settle_oldest()?;
        }
        Ok(())
    }

    /// Settles the flushes that are done, oldest first, up to the first that is not.
    pub(super) fn settle_finished(&mut self) -> Result<(), LanderError> {
        while self.in_flight.front().is_some_and(InFlight::is_finished) {
            self.settle_oldest()?;
        }
        Ok(())
    }

    /// Hands everything buffered to a flush task (once fewer than [`MAX_IN_FLIGHT`] are in
    /// flight) and goes on with empty buffers, or with `hold_back` with the newest hour of each
    /// topic (its offsets belong to the next flush's ranges).
    pub(super) fn start_flush(&mut self, hold_back: bool) -> Result<(), LanderError> {
        while self.in_flight.len() >= MAX_IN_FLIGHT {
            self.settle_oldest()?;
        }
        if self.buffers.is_empty() {
            return Ok(());
        }
        let drained = self.buffers.workers.drain(hold_back)?;
        let mut held_from = vec![BTreeMap::new(); self.buffers.topics.len()];
        for topic in &drained {
            held_from[topic.topic_index].clone_from(&topic.held_from);
        }
        let ranges = self.buffers.take_ranges(&held_from);
        // One `_ingested_at` for the whole flush, later than the last flush's even if the clock
        // stepped back: commit order (schema::INGESTED_AT).
        let ingested_at_us = now_us().max(self.last_ingested_at_us + 1);
        self.last_ingested_at_us = ingested_at_us;
        let stamp = |batch: &RecordBatch| {
            stamp_ingested_at(batch, ingested_at_us).map_err(LanderError::Stamp)
        };
        let mut items = Vec::new();
        let mut pending = Vec::with_capacity(self.buffers.topics.len());
        for topic in drained {
            let name = &self.buffers.topics[topic.topic_index].name;
            for finished in topic.batches {
                items.push(FlushItem {
                    topic_index: topic.topic_index,
                    topic: name.clone(),
                    schema: Arc::clone(&topic.schema),
                    batch: stamp(&finished.batch)?,
                    spans: finished.spans,
                    destination: Destination::Bronze {
                        partition_dir: finished.key.dir(),
                    },
                });
            }
            if let Some((batch, spans)) = topic.quarantine {
                items.push(FlushItem {
                    topic_index: topic.topic_index,
                    topic: name.clone(),
                    schema: quarantine_schema(),
                    batch: stamp(&batch)?,
                    spans,
                    destination: Destination::Quarantine,
                });
            }
            pending.push(topic.pending);
        }
        // Held-back rows start their age afresh (a flush for age writes them at the latest).
        let held = held_from.iter().any(|h| !h.is_empty());
        self.buffers.first_buffered = held.then(Instant::now);
        if ranges.is_empty() {
            return Ok(()); // everything was held back (cannot happen: at most half is)
        }
        let files = items
            .iter()
            .map(|i| {
                let kind = match i.destination {
                    Destination::Bronze { .. } => FileKind::Data,
                    Destination::Quarantine => FileKind::Quarantine,
                };
                (i.topic_index, kind)
            })
            .collect();
        // Fewer than MAX_IN_FLIGHT flushes are in flight (settled above): a permit is free.
        let gate = Arc::clone(&self.shared.flush_gate)
            .try_acquire_owned()
            .map_err(|_| LanderError::TooManyFlushes)?;
        let (done, turn) = oneshot::channel();
        let job = FlushJob {
            items,
            ranges: ranges.clone(),
            ingested_at_us,
            namer: self.namer.clone(),
            turn: self.next_turn.replace(turn),
            done,
        };
        let task = self
            .rt
            .spawn(job.run(self.store.clone(), Arc::clone(&self.shared.log), gate));
        self.in_flight.push_back(InFlight {
            task,
            ranges,
            files,
            pending,
            generation: self.generation,
            started: Instant::now(),
        });
        Ok(())
    }

    /// Waits for the oldest flush in flight, if any, and takes its outcome into account:
    /// counts and Kafka offsets after a commit; after a refused commit, the later flushes give
    /// up too, then recovery and a fresh start from the log's positions (what is buffered is
    /// dropped: it follows the refused ranges).
    pub(super) fn settle_oldest(&mut self) -> Result<(), LanderError> {
        let Some(mut flight) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let outcome = self.outcome(&mut flight.task);
        let took = flight.started.elapsed();
        if let Some(metrics) = &self.metrics {
            metrics.record_flush(took.as_secs_f64());
        }
        if self.in_flight.is_empty() {
            self.next_turn = None;
            // Committed: the log has these positions; refused: they are read again.
            self.buffers.settled();
        }
        match outcome {
            Ok(flushed) => {
                self.count_commit(&flight, &flushed);
                info!(
                    seq = flushed.seq,
                    files = flushed.files.len(),
                    bytes = flushed.files.iter().map(|f| f.bytes).sum::<u64>(),
                    ranges = flight.ranges.len(),
                    took_ms = took.as_millis() as u64,
                    write_ms = flushed.write_time.as_millis() as u64,
                    commit_ms = flushed.commit_time.as_millis() as u64,
                    "committed"
                );
                // After a rebalance the partitions may be another instance's: the lake's log
                // is the truth, Kafka's offsets only serve lag monitoring.
                if flight.generation == self.generation {
                    self.commit_kafka(&flight.ranges);
                }
            }
            Err(err @ (FlushError::Commit(_) | FlushError::Abandoned)) => {
                self.stats.commit_failures += 1;
                warn!(%err, "the commit did not go through as is; recovering and re-reading from the commit log's positions");
                // The later flushes give up (their turn says the previous one failed).
                while let Some(mut later) = self.in_flight.pop_front() {
                    if let Err(FlushError::Write(err)) = self.outcome(&mut later.task) {
                        return Err(LanderError::Write(err));
                    }
                }
                self.next_turn = None;
                self.reset_to_log()?;
            }
            Err(FlushError::Write(err)) => return Err(LanderError::Write(err)),
        }
        self.publish();
        Ok(())
    }

    /// Waits for a flush task's outcome. A panic in the task is a bug: it is propagated.
    fn outcome(
        &self,
        task: &mut JoinHandle<Result<Flushed, FlushError>>,
    ) -> Result<Flushed, FlushError> {
        self.rt
            .block_on(task)
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }

    /// Moves a committed flush's counts into the stats.
    fn count_commit(&mut self, flight: &InFlight, flushed: &Flushed) {
        self.stats.commits += 1;
        self.stats.last_commit_unix_seconds = now_us() as f64 / 1e6;
        for (state, pending) in self.buffers.topics.iter().zip(&flight.pending) {
            let stats = self.stats.topics.entry(state.name.clone()).or_default();
            stats.landed += pending.landed;
            for (reason, n) in &pending.quarantined {
                *stats.quarantined.entry(reason).or_default() += n;
            }
        }
        for ((topic_index, kind), file) in flight.files.iter().zip(&flushed.files) {
            let name = &self.buffers.topics[*topic_index].name;
            let stats = self.stats.topics.entry(name.clone()).or_default();
            match kind {
                FileKind::Quarantine => {
                    stats.quarantine_files += 1;
                    stats.quarantine_bytes += file.bytes;
                }
                FileKind::Data => {
                    stats.data_files += 1;
                    stats.data_bytes += file.bytes;
                }
            }
        }
    }

    /// After a fenced or ambiguous commit: recover, drop everything, seek to the log.
    fn reset_to_log(&mut self) -> Result<(), LanderError> {
        self.buffers.drop_all()?;
        // Messages taken before the seek: librdkafka would not hand them out after it.
        self.reader.discard_taken();
        let assigned = self.shared.assigned();
        let positions = self.shared.recover(&assigned);
        for ((topic, partition), next) in assigned.iter().zip(positions) {
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            if let Err(source) = self.consumer.seek(topic, *partition, offset, KAFKA_TIMEOUT) {
                self.shared.set_fatal(Fatal::Seek {
                    topic: topic.clone(),
                    partition: *partition,
                    source,
                });
            }
        }
        Ok(())
    }

    /// Commits a flush's end offsets to Kafka, for lag monitoring only.
    fn commit_kafka(&self, ranges: &[OffsetRange]) {
        let mut tpl = TopicPartitionList::new();
        for r in ranges {
            if let Err(err) = tpl.add_partition_offset(&r.topic, r.partition, Offset::Offset(r.to))
            {
                warn!(%err, "cannot list an offset for Kafka");
            }
        }
        if let Err(err) = self.consumer.commit(&tpl, CommitMode::Async) {
            // Lag monitoring only: the lake's log is the truth.
            warn!(%err, "committing offsets to Kafka failed (only lag monitoring is affected)");
        }
    }
}
