//! Decoding off the poll thread. Each worker thread owns the decoders and column buffers of
//! some topics (topic `i` belongs to worker `i % threads`); the poll loop copies each record's
//! value into its worker's chunk and sends full chunks over a bounded channel (backpressure:
//! the poll loop waits when a worker is behind). A worker handles its commands in order, so a
//! [`DecodeWorkers::drain`] returns exactly the records pushed before it, and a
//! [`DecodeWorkers::drop_all`] discards exactly those.
//!
//! Why: decoding Avro into Arrow columns was most of the poll thread's time, and that one
//! thread set the lander's pace while the other core waited (docs/benchmarks.md).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use tracing::debug;

use crate::batch_builder::{FinishedBatch, KafkaMeta, PartitionedBatches};
use crate::decode::TopicDecoder;
use crate::hold_back::{self, MetaColumns, Tails};
use crate::offsets::OffsetSpan;
use crate::quarantine::{QuarantineBuffer, QuarantinedRecord};

/// Records per chunk sent to a worker.
const CHUNK_RECORDS: usize = 1024;
/// Chunks a worker may have queued before the poll loop waits for it.
const QUEUE_CHUNKS: usize = 8;

/// Records of a topic waiting for their commit.
#[derive(Debug, Default)]
pub struct PendingCounts {
    pub landed: u64,
    pub quarantined: BTreeMap<&'static str, u64>,
}

/// What a flush takes from one topic.
pub struct Drained {
    /// Index of the topic in the lander's topic list.
    pub topic_index: usize,
    /// The bronze table's Arrow schema.
    pub schema: SchemaRef,
    /// One batch per bronze partition (`event_date`, `hour`).
    pub batches: Vec<FinishedBatch>,
    /// The quarantined records, with the offsets they cover.
    pub quarantine: Option<(RecordBatch, BTreeMap<i32, OffsetSpan>)>,
    pub pending: PendingCounts,
    /// Per Kafka partition: the first offset held back for the next flush (none: everything
    /// up to the last record pushed is in this one). See [`hold_back`].
    pub held_from: BTreeMap<i32, i64>,
}

/// A worker stopped (it panicked, or could not finish a batch).
#[derive(Debug, thiserror::Error)]
#[error("decoding: {0}")]
pub struct WorkerError(String);

/// One record, its value in the chunk's data.
struct Record {
    topic: usize,
    partition: i32,
    offset: i64,
    timestamp_ms: Option<i64>,
    /// `(start, len)` in the chunk's data; none for a tombstone.
    value: Option<(usize, usize)>,
    ingested_at_us: i64,
}

enum Entry {
    Record(Record),
    /// A writer schema (or why it cannot be had), before the first record that needs it.
    Schema {
        topic: usize,
        id: u32,
        writer: Result<String, String>,
    },
}

#[derive(Default)]
struct Chunk {
    data: Vec<u8>,
    entries: Vec<Entry>,
}

enum Command {
    Chunk(Chunk),
    Drain {
        hold_back: bool,
        reply: SyncSender<Result<Vec<Drained>, WorkerError>>,
    },
    Drop,
}

/// A topic's decoder and buffers, on its worker.
struct TopicBuffers {
    index: usize,
    name: String,
    decoder: TopicDecoder,
    batches: PartitionedBatches,
    quarantine: QuarantineBuffer,
    pending: PendingCounts,
    /// Where each Kafka partition's records of each hour start (for holding back).
    tails: Tails,
    /// Rows held back by the last flush, for the next.
    held: Vec<FinishedBatch>,
}

/// The rows and bytes a worker buffers, for the poll loop's rolling checks.
#[derive(Default)]
struct Size {
    rows: AtomicU64,
    bytes: AtomicU64,
}

struct Worker {
    tx: Option<SyncSender<Command>>,
    thread: Option<JoinHandle<()>>,
    chunk: Chunk,
    size: Arc<Size>,
}

/// How far a Kafka partition's landed records have got in event time, as the workers publish it
/// after each decoded chunk (since the buffers were last dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHour {
    /// The furthest event hour (epoch hours) a chunk ended in.
    pub furthest: i64,
    /// A chunk ended more than an hour before the furthest: the partition is not in event-time
    /// order (a backfill sent user by user, late data), and `crate::partition_reader` leaves
    /// its topic alone.
    pub out_of_order: bool,
}

/// Per (topic index, Kafka partition): its [`EventHour`].
pub type EventHours = BTreeMap<(usize, i32), EventHour>;

/// The decode workers of a lander.
pub struct DecodeWorkers {
    workers: Vec<Worker>,
    /// Per topic: its worker.
    worker_of: Vec<usize>,
    hours: Arc<Mutex<EventHours>>,
}

/// A topic for the workers: its name, decoder and (empty) buffers.
pub struct TopicInput {
    pub name: String,
    pub decoder: TopicDecoder,
    pub batches: PartitionedBatches,
}

impl DecodeWorkers {
    /// Starts `threads` workers (at least one, at most one per topic) for `topics`.
    pub fn start(topics: Vec<TopicInput>, threads: usize) -> Result<Self, WorkerError> {
        let threads = threads.clamp(1, topics.len().max(1));
        let worker_of: Vec<usize> = (0..topics.len()).map(|i| i % threads).collect();
        let mut per_worker: Vec<Vec<TopicBuffers>> = (0..threads).map(|_| Vec::new()).collect();
        for (index, topic) in topics.into_iter().enumerate() {
            per_worker[index % threads].push(TopicBuffers {
                index,
                name: topic.name,
                decoder: topic.decoder,
                batches: topic.batches,
                quarantine: QuarantineBuffer::default(),
                pending: PendingCounts::default(),
                tails: Tails::default(),
                held: Vec::new(),
            });
        }
        let mut workers = Vec::with_capacity(threads);
        let hours = Arc::new(Mutex::new(EventHours::new()));
        for (n, topics) in per_worker.into_iter().enumerate() {
            let (tx, rx) = mpsc::sync_channel(QUEUE_CHUNKS);
            let size = Arc::new(Size::default());
            let state = WorkerState {
                topics,
                size: Arc::clone(&size),
                hours: Arc::clone(&hours),
            };
            let thread = std::thread::Builder::new()
                .name(format!("decode-{n}"))
                .spawn(move || state.run(rx))
                .map_err(|e| WorkerError(format!("cannot start a decode thread: {e}")))?;
            workers.push(Worker {
                tx: Some(tx),
                thread: Some(thread),
                chunk: Chunk::default(),
                size,
            });
        }
        Ok(Self {
            workers,
            worker_of,
            hours,
        })
    }

    /// The event hours the partitions' decoding has reached (see [`EventHours`]), shared with
    /// the reader that keeps partitions together in event time.
    pub fn event_hours(&self) -> SharedEventHours {
        SharedEventHours(Arc::clone(&self.hours))
    }

    /// Queues a record of topic `topic` (its index) for decoding.
    pub fn push(
        &mut self,
        topic: usize,
        meta: &KafkaMeta,
        value: Option<&[u8]>,
    ) -> Result<(), WorkerError> {
        let worker = &mut self.workers[self.worker_of[topic]];
        let value = value.map(|v| {
            let start = worker.chunk.data.len();
            worker.chunk.data.extend_from_slice(v);
            (start, v.len())
        });
        worker.chunk.entries.push(Entry::Record(Record {
            topic,
            partition: meta.partition,
            offset: meta.offset,
            timestamp_ms: meta.timestamp_ms,
            value,
            ingested_at_us: meta.ingested_at_us,
        }));
        if worker.chunk.entries.len() >= CHUNK_RECORDS {
            worker.send_chunk()?;
        }
        Ok(())
    }

    /// Queues the writer schema `id` of topic `topic` before its next record.
    pub fn add_schema(&mut self, topic: usize, id: u32, writer: Result<String, String>) {
        let worker = &mut self.workers[self.worker_of[topic]];
        worker
            .chunk
            .entries
            .push(Entry::Schema { topic, id, writer });
    }

    /// Sends every partly filled chunk (so that a quiet stream's records do not wait).
    pub fn send_pending(&mut self) -> Result<(), WorkerError> {
        self.workers.iter_mut().try_for_each(Worker::send_chunk)
    }

    /// Rows and bytes buffered (an estimate: the workers publish theirs after each chunk).
    pub fn size(&self) -> (u64, u64) {
        self.workers.iter().fold((0, 0), |(rows, bytes), w| {
            (
                rows + w.size.rows.load(Ordering::Relaxed) + w.chunk.entries.len() as u64,
                bytes + w.size.bytes.load(Ordering::Relaxed) + w.chunk.data.len() as u64,
            )
        })
    }

    /// Everything pushed so far, decoded, per topic (in topic order); the buffers are empty
    /// afterwards. With `hold_back`, each topic may keep the rows of its newest hour (a suffix
    /// of offsets per Kafka partition, named by [`Drained::held_from`]) for the next drain.
    pub fn drain(&mut self, hold_back: bool) -> Result<Vec<Drained>, WorkerError> {
        let mut replies = Vec::with_capacity(self.workers.len());
        for worker in &mut self.workers {
            worker.send_chunk()?;
            let (tx, rx) = mpsc::sync_channel(1);
            worker.send(Command::Drain {
                hold_back,
                reply: tx,
            })?;
            replies.push(rx);
        }
        let mut drained = Vec::new();
        for rx in replies {
            let reply = rx
                .recv()
                .map_err(|_| WorkerError("a decode thread stopped".into()))?;
            drained.extend(reply?);
        }
        drained.sort_by_key(|d| d.topic_index);
        Ok(drained)
    }

    /// Discards every record pushed so far (the writer schemas stay known).
    pub fn drop_all(&mut self) -> Result<(), WorkerError> {
        for worker in &mut self.workers {
            // The records not sent yet go; the schemas they came with still count.
            worker.chunk.data.clear();
            worker
                .chunk
                .entries
                .retain(|entry| matches!(entry, Entry::Schema { .. }));
            worker.send_chunk()?;
            worker.send(Command::Drop)?;
        }
        Ok(())
    }
}

impl Drop for DecodeWorkers {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            // Closing the channel ends the worker's loop.
            worker.tx = None;
            if let Some(thread) = worker.thread.take() {
                // A panic was reported by the channel already.
                let _ = thread.join();
            }
        }
    }
}

impl Worker {
    fn send(&self, command: Command) -> Result<(), WorkerError> {
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(command).ok())
            .ok_or_else(|| WorkerError("a decode thread stopped".into()))
    }

    fn send_chunk(&mut self) -> Result<(), WorkerError> {
        if self.chunk.entries.is_empty() {
            return Ok(());
        }
        let fresh = Chunk {
            data: Vec::with_capacity(self.chunk.data.len()),
            entries: Vec::with_capacity(CHUNK_RECORDS),
        };
        let chunk = std::mem::replace(&mut self.chunk, fresh);
        self.send(Command::Chunk(chunk))
    }
}

/// A worker's topics, on its thread.
struct WorkerState {
    topics: Vec<TopicBuffers>,
    size: Arc<Size>,
    hours: Arc<Mutex<EventHours>>,
}

/// A handle on the event hours the decode workers publish.
#[derive(Clone)]
pub struct SharedEventHours(Arc<Mutex<EventHours>>);

impl SharedEventHours {
    /// A copy of the hours published so far.
    #[cfg(test)]
    pub fn get(&self) -> EventHours {
        lock(&self.0).clone()
    }

    /// Copies the hours published so far into `into` (which keeps its allocation).
    pub fn copy_into(&self, into: &mut EventHours) {
        into.clone_from(&lock(&self.0));
    }
}

fn lock(hours: &Mutex<EventHours>) -> MutexGuard<'_, EventHours> {
    // A map of hints: one a panicking thread left half-updated is still usable.
    hours
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WorkerState {
    fn run(mut self, rx: Receiver<Command>) {
        while let Ok(command) = rx.recv() {
            match command {
                Command::Chunk(chunk) => {
                    self.decode(&chunk);
                    self.publish_hours();
                }
                Command::Drain { hold_back, reply } => {
                    // The lander waits for the reply; if it is gone, so is the work.
                    let _ = reply.send(self.drain(hold_back));
                }
                Command::Drop => self.drop_all(),
            }
            self.publish_size();
        }
    }

    fn topic(&mut self, index: usize) -> Option<&mut TopicBuffers> {
        self.topics.iter_mut().find(|t| t.index == index)
    }

    fn decode(&mut self, chunk: &Chunk) {
        for entry in &chunk.entries {
            match entry {
                Entry::Schema { topic, id, writer } => {
                    if let Some(t) = self.topic(*topic) {
                        t.decoder
                            .add_schema(*id, writer.as_deref().map_err(Clone::clone));
                    }
                }
                Entry::Record(record) => {
                    let Some(t) = self.topic(record.topic) else {
                        continue;
                    };
                    let value = record
                        .value
                        .and_then(|(start, len)| chunk.data.get(start..start + len));
                    t.decode(record, value);
                }
            }
        }
    }

    fn drain(&mut self, hold_back: bool) -> Result<Vec<Drained>, WorkerError> {
        let mut out = Vec::with_capacity(self.topics.len());
        for t in &mut self.topics {
            let Finished {
                batches,
                held_from,
                held_rows,
            } = t.finish(hold_back)?;
            let quarantine = if t.quarantine.is_empty() {
                None
            } else {
                let batch = t
                    .quarantine
                    .to_batch(&t.name)
                    .map_err(|e| WorkerError(format!("quarantine of {}: {e}", t.name)))?;
                let spans = t.quarantine.spans();
                t.quarantine.clear();
                Some((batch, spans))
            };
            let mut pending = std::mem::take(&mut t.pending);
            // The held rows are counted when the flush that writes them commits.
            pending.landed = pending.landed.saturating_sub(held_rows as u64);
            t.pending.landed = held_rows as u64;
            out.push(Drained {
                topic_index: t.index,
                schema: t.batches.schema().arrow_schema(),
                batches,
                quarantine,
                pending,
                held_from,
            });
        }
        Ok(out)
    }

    fn publish_hours(&self) {
        let mut hours = lock(&self.hours);
        for t in &self.topics {
            for (partition, key) in t.tails.newest() {
                let hour = key.epoch_hour();
                hours
                    .entry((t.index, partition))
                    .and_modify(|h| {
                        h.out_of_order |= hour < h.furthest - 1;
                        h.furthest = h.furthest.max(hour);
                    })
                    .or_insert(EventHour {
                        furthest: hour,
                        out_of_order: false,
                    });
            }
        }
    }

    fn drop_all(&mut self) {
        lock(&self.hours).retain(|(topic, _), _| !self.topics.iter().any(|t| t.index == *topic));
        for t in &mut self.topics {
            // Finishing empties the builders; the batches are discarded.
            drop(t.batches.finish_all());
            t.held.clear();
            t.tails.clear();
            t.quarantine.clear();
            t.pending = PendingCounts::default();
        }
    }

    fn publish_size(&self) {
        let (rows, bytes) = self.topics.iter().fold((0, 0), |(rows, bytes), t| {
            let (held_rows, held_bytes) = t.held.iter().fold((0, 0), |(r, b), h| {
                (r + h.batch.num_rows(), b + h.batch.get_array_memory_size())
            });
            (
                rows + t.batches.rows() + t.quarantine.len() + held_rows,
                bytes + t.batches.buffered_bytes() + t.quarantine.buffered_bytes() + held_bytes,
            )
        });
        self.size.rows.store(rows as u64, Ordering::Relaxed);
        self.size.bytes.store(bytes as u64, Ordering::Relaxed);
    }
}

impl TopicBuffers {
    /// Decodes one record into the buffers (or the quarantine).
    fn decode(&mut self, record: &Record, value: Option<&[u8]>) {
        let meta = KafkaMeta {
            partition: record.partition,
            offset: record.offset,
            timestamp_ms: record.timestamp_ms,
            schema_id: 0,
            ingested_at_us: record.ingested_at_us,
        };
        match self.decoder.decode(value, &mut self.batches, &meta) {
            Ok(()) => {
                self.pending.landed += 1;
                if let Some(key) = self.batches.last_key() {
                    self.tails.landed(record.partition, key, record.offset);
                }
            }
            Err(err) => {
                self.tails.quarantined(record.partition);
                debug!(topic = %self.name, record.partition, record.offset, %err, "quarantined");
                *self.pending.quarantined.entry(err.reason()).or_default() += 1;
                self.quarantine.push(QuarantinedRecord {
                    value: value.map(<[u8]>::to_vec),
                    partition: record.partition,
                    offset: record.offset,
                    timestamp_ms: record.timestamp_ms,
                    reason: err.reason(),
                    detail: err.to_string(),
                    ingested_at_us: record.ingested_at_us,
                });
            }
        }
    }

    /// The rows to flush (those held back by the last drain first), and with `hold_back`
    /// where each Kafka partition's held-back rows start and how many rows that is.
    fn finish(&mut self, hold_back: bool) -> Result<Finished, WorkerError> {
        let arrow = |e: arrow::error::ArrowError| WorkerError(format!("{}: {e}", self.name));
        let fresh = self
            .batches
            .finish_all()
            .map_err(|e| WorkerError(e.to_string()))?;
        let batches = hold_back::merge(std::mem::take(&mut self.held), fresh).map_err(arrow)?;
        let rows: usize = batches.iter().map(|b| b.batch.num_rows()).sum();
        // At most half the rows are held back (so every flush makes progress), give or take
        // the offsets that are not rows (quarantined records, transaction markers).
        let cuts = if hold_back {
            self.tails.cuts(rows as u64 / 2)
        } else {
            None
        };
        let Some((from, cuts)) = cuts else {
            self.tails.clear();
            return Ok(Finished::all(batches));
        };
        let start = self.batches.schema().metadata_start();
        let meta = MetaColumns {
            partition: start,
            offset: start + 1,
        };
        let split = hold_back::split(batches, from, &cuts, meta, rows * 3 / 4).map_err(arrow)?;
        if split.held_rows == 0 {
            self.tails.clear();
            return Ok(Finished::all(split.flush));
        }
        self.tails.keep_from(&cuts);
        self.held = split.held;
        Ok(Finished {
            batches: split.flush,
            held_from: cuts,
            held_rows: split.held_rows,
        })
    }
}

/// What a topic's drain flushes, and what it holds back.
struct Finished {
    batches: Vec<FinishedBatch>,
    /// Per Kafka partition, the first offset held back.
    held_from: BTreeMap<i32, i64>,
    held_rows: usize,
}

impl Finished {
    /// Everything, nothing held back.
    fn all(batches: Vec<FinishedBatch>) -> Self {
        Self {
            batches,
            held_from: BTreeMap::new(),
            held_rows: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use soundlake_core::event::Topic;

    use super::*;
    use crate::decode::tests::{auth_body, framed};
    use crate::schema::{embedded_avsc, BronzeSchema};

    const ID: u32 = 7;
    const T0: i64 = 1_700_000_000_000;

    fn input(name: &str) -> TopicInput {
        let bronze = Arc::new(BronzeSchema::for_topic(Topic::Auth).expect("auth"));
        let avsc: Arc<str> = embedded_avsc(Topic::Auth).into();
        TopicInput {
            name: name.into(),
            decoder: TopicDecoder::new(Arc::clone(&bronze), avsc, 1000),
            batches: PartitionedBatches::new(bronze),
        }
    }

    fn meta(partition: i32, offset: i64) -> KafkaMeta {
        KafkaMeta {
            partition,
            offset,
            timestamp_ms: Some(offset),
            schema_id: 0,
            ingested_at_us: 1,
        }
    }

    fn good(offset: i64) -> Vec<u8> {
        framed(ID, &auth_body(T0 + offset * 1000, Some(5)))
    }

    /// The offsets of a drained topic's rows, in row order.
    fn offsets(drained: &Drained) -> Vec<i64> {
        drained
            .batches
            .iter()
            .flat_map(|b| {
                let column = b.batch.column_by_name("_kafka_offset").expect("offsets");
                arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(column)
                    .values()
                    .to_vec()
            })
            .collect()
    }

    fn workers() -> DecodeWorkers {
        let topics = ["a_auth_events", "b_auth_events", "c_auth_events"];
        // Three topics on two threads: topics 0 and 2 share one.
        let mut w = DecodeWorkers::start(topics.map(input).into(), 2).expect("start");
        for topic in 0..topics.len() {
            w.add_schema(topic, ID, Ok(embedded_avsc(Topic::Auth).to_owned()));
        }
        w
    }

    #[test]
    fn drains_exactly_what_was_pushed_in_order_with_the_quarantine() {
        let mut w = workers();
        // More records than a chunk holds, and one bad record in each of two topics.
        let n: i64 = 2500;
        for offset in 0..n {
            let topic = usize::try_from(offset % 3).expect("topic");
            w.push(topic, &meta(0, offset), Some(&good(offset)))
                .expect("push");
        }
        w.push(1, &meta(1, 0), Some(&[1, 0, 0, 0, 7]))
            .expect("push");
        w.push(2, &meta(1, 0), Some(&framed(ID + 1, &auth_body(T0, None))))
            .expect("push");
        let drained = w.drain(false).expect("drain");
        assert_eq!(
            drained.iter().map(|d| d.topic_index).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        for (topic, d) in drained.iter().enumerate() {
            let expected: Vec<i64> = (0..n)
                .filter(|o| usize::try_from(o % 3).ok() == Some(topic))
                .collect();
            assert_eq!(offsets(d), expected, "topic {topic}");
            assert_eq!(d.pending.landed, expected.len() as u64);
        }
        assert!(drained[0].quarantine.is_none());
        for (topic, reason) in [(1, "bad_magic"), (2, "unknown_schema_id")] {
            let (batch, spans) = drained[topic].quarantine.as_ref().expect("quarantine");
            assert_eq!(batch.num_rows(), 1);
            assert_eq!(spans[&1].first_offset, 0);
            assert_eq!(drained[topic].pending.quarantined[reason], 1);
        }
        // Drained means empty.
        let again = w.drain(false).expect("drain");
        assert!(again
            .iter()
            .all(|d| d.batches.is_empty() && d.quarantine.is_none()));
    }

    #[test]
    fn a_drain_for_size_holds_the_newest_hour_back_for_the_next() {
        let mut w = workers();
        // Topic 0, partitions 0 and 1: offsets 0..40 at one record every two minutes from T0
        // (22:13:20 UTC), so over two hours.
        const STEP: i64 = 120_000;
        let hour_of = |offset: i64| (T0 + offset * STEP).div_euclid(3_600_000);
        for partition in [0, 1] {
            for offset in 0..40 {
                let body = framed(ID, &auth_body(T0 + offset * STEP, Some(5)));
                w.push(0, &meta(partition, offset), Some(&body))
                    .expect("push");
            }
        }
        let newest = hour_of(39);
        let first_of_newest = (0..40).find(|o| hour_of(*o) == newest).expect("an hour");
        assert!(first_of_newest > 0, "the records span two hours");
        let drained = w.drain(true).expect("drain");
        let topic = &drained[0];
        assert_eq!(
            topic.held_from,
            BTreeMap::from([(0, first_of_newest), (1, first_of_newest)])
        );
        let flushed = offsets(topic);
        assert_eq!(
            flushed.len(),
            2 * usize::try_from(first_of_newest).expect("small")
        );
        assert!(flushed.iter().all(|o| *o < first_of_newest));
        assert_eq!(topic.pending.landed, flushed.len() as u64);
        // The next drain (a final one) has the held rows first, then the new ones.
        w.push(0, &meta(0, 40), Some(&good(40))).expect("push");
        let drained = w.drain(false).expect("drain");
        let topic = &drained[0];
        assert!(topic.held_from.is_empty());
        let mut expected: Vec<i64> = (first_of_newest..40).chain(first_of_newest..40).collect();
        expected.push(40);
        let mut got = offsets(topic);
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(got, expected);
        assert_eq!(topic.pending.landed, expected.len() as u64);
    }

    #[test]
    fn the_furthest_event_hour_of_each_partition_is_published() {
        let mut w = workers();
        w.push(0, &meta(0, 0), Some(&good(0))).expect("push");
        w.push(0, &meta(1, 0), Some(&good(0))).expect("push");
        w.push(0, &meta(1, 1), Some(&good(7200))).expect("push");
        w.push(2, &meta(0, 0), Some(&[0])).expect("push"); // quarantined: no hour
        w.send_pending().expect("send");
        w.push(0, &meta(0, 1), Some(&good(3600))).expect("push");
        w.send_pending().expect("send");
        // Later chunks end with an earlier hour: the furthest stays; two hours back (not
        // one) is out of order.
        w.push(0, &meta(1, 2), Some(&good(0))).expect("push");
        w.push(0, &meta(0, 2), Some(&good(0))).expect("push");
        w.drain(true).expect("drain"); // the chunks were decoded
        let hour = |offset: i64, out_of_order: bool| EventHour {
            furthest: (T0 + offset * 1000).div_euclid(3_600_000),
            out_of_order,
        };
        assert_eq!(
            w.event_hours().get(),
            BTreeMap::from([((0, 0), hour(3600, false)), ((0, 1), hour(7200, true))])
        );
        w.drop_all().expect("drop");
        w.drain(false).expect("drain");
        assert!(w.event_hours().get().is_empty());
    }

    #[test]
    fn a_drain_for_age_holds_nothing_back() {
        let mut w = workers();
        for offset in 0..40 {
            let body = framed(ID, &auth_body(T0 + offset * 120_000, Some(5)));
            w.push(0, &meta(0, offset), Some(&body)).expect("push");
        }
        let drained = w.drain(false).expect("drain");
        assert!(drained[0].held_from.is_empty());
        assert_eq!(offsets(&drained[0]), (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn drop_all_discards_only_what_came_before() {
        let mut w = workers();
        for offset in 0..10 {
            w.push(0, &meta(0, offset), Some(&good(offset)))
                .expect("push");
        }
        w.drop_all().expect("drop");
        for offset in 10..15 {
            w.push(0, &meta(0, offset), Some(&good(offset)))
                .expect("push");
        }
        let drained = w.drain(false).expect("drain");
        assert_eq!(offsets(&drained[0]), [10, 11, 12, 13, 14]);
        assert_eq!(drained[0].pending.landed, 5);
    }
}
