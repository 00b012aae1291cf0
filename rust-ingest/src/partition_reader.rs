//! Reading the assigned Kafka partitions so that each topic's partitions stay together in event
//! time, without pausing any of them.
//!
//! Bronze is partitioned by event hour. librdkafka fetches a topic's partitions fairly in bytes,
//! not in event time: in the benchmark's backfill the partition with 5 % more records fell
//! hours behind the others over a week of events. An hour that the partitions reach in
//! different flushes is written as two files, and [`hold_back`](crate::hold_back), which keeps
//! only each topic's newest hour for the next flush, cannot keep it together.
//!
//! So each assigned partition's messages come out of their own queue
//! ([`BaseConsumer::split_partition_queue`]) and the poll loop reads, per topic, only the
//! partitions whose furthest event hour is at most [`SLACK_HOURS`] past the least advanced of the
//! topic's partitions. A partition's furthest hour is the later of what the decode threads
//! published ([`EventHours`], after decoding) and the event time of the last message taken from
//! it ([`peek_event_ms`]: the decode threads run thousands of records behind the reader). A partition that is
//! ahead is simply not read for a while: its queue fills up to librdkafka's prefetch limits
//! (`queued.min.messages`, `queued.max.messages.kbytes`), librdkafka stops fetching it, and the
//! fetches go to the partitions behind. Nothing is dropped or fetched twice (pausing a
//! partition made librdkafka drop its prefetched messages, which cost 10–15 % of a landing:
//! docs/benchmarks.md).
//!
//! It never stalls the stream: when the partitions others wait for stay empty for [`WAIT`]
//! (they are caught up, quiet, or their fetch is slow) they are "dry" for a while (see [`DRY`])
//! and hold nobody back meanwhile; dry partitions are still read whenever they have something.
//! Waiting costs no CPU: every partition queue rings a doorbell when it stops being empty.
//! Streams not in event-time order (a backfill sent user by user) are left alone: once a
//! partition's decoding goes back more than an hour, its topic's partitions are all read as
//! they come. Offsets, ranges and commits do not see any of this.
//!
//! Order within a partition is kept across a split: messages fetched before it are on the
//! consumer's queue, so after each (re)split that queue is read until it is empty before any
//! partition queue is.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use tracing::warn;

use crate::batch_builder::HOUR_MS;
use crate::decode::peek_event_ms;
use crate::decode_worker::{EventHour, EventHours, SharedEventHours};
use crate::kafka_batch::{AnyMessage, Batch, BatchQueue};

/// A partition is read while its furthest event hour is at most this many hours past the least
/// advanced (not dry) partition of its topic.
pub const SLACK_HOURS: i64 = 0;
/// At most this many messages are taken from one partition queue (in one call: `kafka_batch`)
/// before the next partition's turn.
pub const BURST: usize = 512;
/// How long the reader waits for the partitions others wait for before calling them dry.
pub const WAIT: Duration = Duration::from_millis(20);
/// How long a partition found dry holds nobody back the first time; each time it is found dry
/// again before it yields a message, twice as long, up to [`MAX_DRY`]. Short at first: while
/// the others run free they drift apart in event time (at full speed, a few milliseconds hold
/// thousands of records: docs/benchmarks.md). Long later: a partition that ended behind the
/// others (its topic's last records are older) costs a few waits, not one every 10 ms.
pub const DRY: Duration = Duration::from_millis(10);
/// The longest a partition stays dry.
pub const MAX_DRY: Duration = Duration::from_secs(2);
/// How long the reader waits for a message when nothing is held back and every queue is empty
/// (then it serves the consumer's events and lets the poll loop do its checks).
pub const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How long the consumer's queue is polled when no partition is assigned.
pub const IDLE_POLL: Duration = Duration::from_millis(200);

/// Rung (from librdkafka's threads) when a partition queue stops being empty.
#[derive(Default)]
struct Doorbell {
    rung: Mutex<bool>,
    ring: Condvar,
}

impl Doorbell {
    fn ring(&self) {
        *self.lock() = true;
        self.ring.notify_one();
    }

    fn clear(&self) {
        *self.lock() = false;
    }

    /// Waits at most `timeout` for a ring since the last `clear`; true if it came.
    fn wait(&self, timeout: Duration) -> bool {
        let rung = self.lock();
        let (mut rung, _) = self
            .ring
            .wait_timeout_while(rung, timeout, |rung| !*rung)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *rung)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        // A flag: one a panicking thread left behind is still usable.
        self.rung
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A Kafka partition of one of the lander's topics: (topic index, partition).
pub type PartKey = (usize, i32);

/// What one call of [`PartitionReader::poll`] got.
pub enum Polled<'a> {
    /// A message, or an error, from Kafka.
    Message(KafkaResult<AnyMessage<'a>>),
    /// A queue was empty or a pass ended: call again right away.
    Empty,
    /// Nothing came within a wait: time for the poll loop's periodic checks.
    Idle,
}

struct Part<C: ConsumerContext + 'static> {
    key: PartKey,
    /// Keeps the partition's queue split from the consumer's, and its doorbell.
    _queue: PartitionQueue<C>,
    /// Reads that queue.
    batches: BatchQueue<C>,
    /// Until when the partition counts as dry.
    dry_until: Cell<Option<Instant>>,
    /// How long it is dry the next time it is found dry.
    next_dry: Cell<Duration>,
}

/// Where the reader is in its round over the partitions.
#[derive(Default)]
struct Pass {
    /// Per partition (same order as the parts): may it be read in this pass?
    eligible: Vec<bool>,
    cursor: usize,
    /// Did this pass read anything?
    read: bool,
    /// Has the consumer's queue been read empty since the last split?
    main_drained: bool,
    hours: EventHours,
    /// Per partition, the event hour of the last message taken (peeked at, not decoded):
    /// the decode threads publish theirs only after decoding, by which time the reader may have
    /// taken thousands more records of the partition (kept since the last split or seek).
    taken_hours: BTreeMap<PartKey, i64>,
}

/// Reads the assigned partitions from their own queues, keeping each topic's partitions
/// together in event time (see the module documentation).
pub struct PartitionReader<C: ConsumerContext + 'static> {
    /// Messages taken from a partition queue, handed out one by one (first: released before
    /// the queues and the consumer).
    batch: Batch,
    consumer: Arc<BaseConsumer<C>>,
    hours: SharedEventHours,
    parts: Vec<Part<C>>,
    pass: Pass,
    doorbell: Arc<Doorbell>,
}

impl<C: ConsumerContext + 'static> PartitionReader<C> {
    pub fn new(consumer: Arc<BaseConsumer<C>>, hours: SharedEventHours) -> Self {
        Self {
            batch: Batch::with_capacity(BURST),
            consumer,
            hours,
            parts: Vec::new(),
            pass: Pass::default(),
            doorbell: Arc::default(),
        }
    }

    /// Gives each of `assigned` (topic index, name, partition) its own queue (after every
    /// assignment: librdkafka's `assign` undoes earlier splits); the messages fetched before are
    /// read first.
    pub fn split(&mut self, assigned: &[(usize, &str, i32)]) {
        // Messages of the old queues: the poll loop drops what it buffered and reads again.
        self.batch.clear();
        self.parts.clear();
        for &(index, topic, partition) in assigned {
            let split = self
                .consumer
                .split_partition_queue(topic, partition)
                .and_then(|queue| {
                    BatchQueue::partition(&self.consumer, topic, partition).map(|b| (queue, b))
                });
            match split {
                Some((mut queue, batches)) => {
                    let doorbell = Arc::clone(&self.doorbell);
                    queue.set_nonempty_callback(move || doorbell.ring());
                    self.parts.push(Part {
                        key: (index, partition),
                        _queue: queue,
                        batches,
                        dry_until: Cell::new(None),
                        next_dry: Cell::new(DRY),
                    });
                }
                // Its messages keep coming through the consumer's queue, unaligned. (A queue
                // split without a second handle is dropped, which forwards it back there.)
                None => warn!(%topic, partition, "cannot give the partition its own queue"),
            }
        }
        self.pass = Pass::default();
        start_pass(
            &mut self.pass,
            &self.parts,
            &self.hours,
            &self.doorbell,
            Instant::now(),
        );
    }

    /// Releases the messages taken from the partition queues and not yet handed out (before a
    /// seek: they are not to be landed).
    pub fn discard_taken(&mut self) {
        self.batch.clear();
        self.pass.taken_hours.clear();
    }

    /// The next message, or why there is none now. Serves the consumer's events (rebalances)
    /// once per round over the partitions, and while idle.
    pub fn poll(&mut self) -> Polled<'_> {
        if self.parts.is_empty() {
            return poll_main(&self.consumer, &mut self.pass, IDLE_POLL, Polled::Idle);
        }
        if !self.pass.main_drained {
            if let Some(message) = self.consumer.poll(Duration::ZERO) {
                return Polled::Message(message.map(AnyMessage::Polled));
            }
            self.pass.main_drained = true;
        }
        if self.batch.is_empty() {
            match take(&mut self.pass, &self.parts, &mut self.batch) {
                Taken::Batch => {}
                Taken::NothingInPass => {
                    return wait(
                        &mut self.pass,
                        &self.parts,
                        &self.hours,
                        &self.doorbell,
                        &self.consumer,
                    );
                }
                Taken::EndOfPass => {
                    start_pass(
                        &mut self.pass,
                        &self.parts,
                        &self.hours,
                        &self.doorbell,
                        Instant::now(),
                    );
                    // The consumer's own events (and errors) once per pass.
                    return poll_main(
                        &self.consumer,
                        &mut self.pass,
                        Duration::ZERO,
                        Polled::Empty,
                    );
                }
            }
        }
        match self.batch.next_message() {
            Some(message) => Polled::Message(message.map(AnyMessage::Batched)),
            None => Polled::Empty,
        }
    }
}

/// Fills `batch` from the next eligible partition of the pass that has messages.
fn take<C: ConsumerContext>(pass: &mut Pass, parts: &[Part<C>], batch: &mut Batch) -> Taken {
    while let Some(part) = parts.get(pass.cursor) {
        let eligible = pass.eligible[pass.cursor];
        pass.cursor += 1;
        if eligible && part.batches.take(batch, BURST, Duration::ZERO) > 0 {
            if let Some(ms) = batch.last_payload().and_then(peek_event_ms) {
                let hour = ms.div_euclid(HOUR_MS);
                let taken = pass.taken_hours.entry(part.key).or_insert(hour);
                *taken = (*taken).max(hour);
            }
            if part.dry_until.get().is_some() {
                part.dry_until.set(None);
                part.next_dry.set(DRY);
            }
            pass.read = true;
            return Taken::Batch;
        }
    }
    if pass.read {
        Taken::EndOfPass
    } else {
        Taken::NothingInPass
    }
}

/// What [`take`] did.
enum Taken {
    /// The batch holds messages.
    Batch,
    /// The pass is over and read something: start the next.
    EndOfPass,
    /// The pass is over and read nothing: wait.
    NothingInPass,
}

/// A pass read nothing. If partitions are held back, waits at most [`WAIT`] for the ones they
/// wait for, then calls those dry (see [`DRY`]); otherwise waits at most [`IDLE_WAIT`] for any
/// message and serves the consumer's events.
fn wait<'a, C: ConsumerContext>(
    pass: &mut Pass,
    parts: &'a [Part<C>],
    hours: &SharedEventHours,
    doorbell: &Doorbell,
    consumer: &'a BaseConsumer<C>,
) -> Polled<'a> {
    if pass.eligible.iter().any(|eligible| !eligible) {
        if !doorbell.wait(WAIT) {
            let now = Instant::now();
            for (part, _) in parts.iter().zip(&pass.eligible).filter(|(_, e)| **e) {
                if !is_dry(part, now) {
                    let dry = part.next_dry.get();
                    part.dry_until.set(Some(now + dry));
                    part.next_dry.set((dry * 2).min(MAX_DRY));
                }
            }
        }
        start_pass(pass, parts, hours, doorbell, Instant::now());
        return Polled::Empty;
    }
    doorbell.wait(IDLE_WAIT);
    start_pass(pass, parts, hours, doorbell, Instant::now());
    poll_main(consumer, pass, Duration::ZERO, Polled::Idle)
}

/// Polls the consumer's queue. A message there (a partition that could not be split) makes the
/// reader read that queue until it is empty again.
fn poll_main<'a, C: ConsumerContext>(
    consumer: &'a BaseConsumer<C>,
    pass: &mut Pass,
    timeout: Duration,
    none: Polled<'a>,
) -> Polled<'a> {
    match consumer.poll(timeout) {
        Some(message) => {
            pass.main_drained = false;
            Polled::Message(message.map(AnyMessage::Polled))
        }
        None => none,
    }
}

fn is_dry<C: ConsumerContext>(part: &Part<C>, now: Instant) -> bool {
    part.dry_until.get().is_some_and(|until| until > now)
}

/// Starts a round over the partitions with fresh hours and eligibility.
fn start_pass<C: ConsumerContext>(
    pass: &mut Pass,
    parts: &[Part<C>],
    hours: &SharedEventHours,
    doorbell: &Doorbell,
    now: Instant,
) {
    // A queue that fills after this is read in the pass, or rings for the wait after it.
    doorbell.clear();
    hours.copy_into(&mut pass.hours);
    // A partition is as far as the last message taken from it, decoded or not.
    for (&key, &taken) in &pass.taken_hours {
        pass.hours
            .entry(key)
            .and_modify(|h| h.furthest = h.furthest.max(taken))
            .or_insert(EventHour {
                furthest: taken,
                out_of_order: false,
            });
    }
    let keys: Vec<PartKey> = parts.iter().map(|p| p.key).collect();
    let dry: Vec<bool> = parts.iter().map(|p| is_dry(p, now)).collect();
    pass.eligible = eligible(&keys, &dry, &pass.hours, SLACK_HOURS);
    pass.cursor = 0;
    pass.read = false;
}

/// Per topic in event-time order, the furthest hour of its least advanced partition among
/// those not dry (`None` for a topic with a partition out of order: nobody waits there).
fn floors(keys: &[PartKey], dry: &[bool], hours: &EventHours) -> Vec<(usize, Option<i64>)> {
    let mut floors: Vec<(usize, Option<i64>)> = Vec::new();
    for (key, &dry) in keys.iter().zip(dry) {
        let Some(hour) = hours.get(key) else {
            continue;
        };
        let at = match floors.iter().position(|(topic, _)| *topic == key.0) {
            Some(at) => at,
            None => {
                floors.push((key.0, Some(i64::MAX)));
                floors.len() - 1
            }
        };
        let floor = &mut floors[at].1;
        if hour.out_of_order {
            *floor = None;
        } else if let Some(floor) = floor.as_mut().filter(|_| !dry) {
            *floor = (*floor).min(hour.furthest);
        }
    }
    floors
}

/// Which partitions may be read now: per topic, those at most `slack` hours past the least
/// advanced of its partitions that are not dry; dry partitions, partitions with no hour yet and
/// every partition of a topic with one out of order always.
pub fn eligible(keys: &[PartKey], dry: &[bool], hours: &EventHours, slack: i64) -> Vec<bool> {
    let floors = floors(keys, dry, hours);
    keys.iter()
        .zip(dry)
        .map(|(key, &dry)| {
            let floor = floors.iter().find(|(topic, _)| *topic == key.0);
            match (dry, hours.get(key), floor) {
                (false, Some(hour), Some(&(_, Some(floor)))) => {
                    hour.furthest <= floor.saturating_add(slack)
                }
                _ => true,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_worker::EventHour;

    const KEYS: [PartKey; 5] = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)];

    fn hours(of: &[(PartKey, i64)]) -> EventHours {
        of.iter()
            .map(|&(key, furthest)| {
                let out_of_order = false;
                (
                    key,
                    EventHour {
                        furthest,
                        out_of_order,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn partitions_ahead_of_their_topic_wait() {
        let h = hours(&[
            ((0, 0), 10),
            ((0, 1), 12),
            ((0, 2), 11),
            ((1, 0), 30),
            ((1, 1), 30),
        ]);
        let dry = [false; 5];
        assert_eq!(
            eligible(&KEYS, &dry, &h, 0),
            [true, false, false, true, true]
        );
        assert_eq!(
            eligible(&KEYS, &dry, &h, 1),
            [true, false, true, true, true]
        );
    }

    #[test]
    fn a_dry_partition_holds_nobody_back_and_is_always_read() {
        let h = hours(&[
            ((0, 0), 10),
            ((0, 1), 12),
            ((0, 2), 11),
            ((1, 0), 30),
            ((1, 1), 31),
        ]);
        let dry = [true, false, false, false, false];
        assert_eq!(
            eligible(&KEYS, &dry, &h, 0),
            [true, false, true, true, false]
        );
    }

    #[test]
    fn partitions_with_no_hour_yet_are_read() {
        let h = hours(&[((0, 0), 10), ((0, 1), 12), ((1, 1), 31)]);
        let dry = [false; 5];
        assert_eq!(
            eligible(&KEYS, &dry, &h, 0),
            [true, false, true, true, true]
        );
        assert_eq!(eligible(&KEYS, &dry, &EventHours::new(), 0), [true; 5]);
    }

    #[test]
    fn with_every_partition_dry_all_are_read() {
        let h = hours(&[((0, 0), 10), ((0, 1), 12)]);
        assert_eq!(eligible(&KEYS, &[true; 5], &h, 0), [true; 5]);
    }

    #[test]
    fn a_topic_with_a_partition_out_of_order_holds_nobody_back() {
        let mut h = hours(&[
            ((0, 0), 10),
            ((0, 1), 12),
            ((0, 2), 11),
            ((1, 0), 30),
            ((1, 1), 31),
        ]);
        h.entry((0, 2)).and_modify(|h| h.out_of_order = true);
        assert_eq!(
            eligible(&KEYS, &[false; 5], &h, 0),
            [true, true, true, true, false]
        );
        // Even while the partition out of order is dry.
        let dry = [false, false, true, false, false];
        assert_eq!(
            eligible(&KEYS, &dry, &h, 0),
            [true, true, true, true, false]
        );
    }
}
