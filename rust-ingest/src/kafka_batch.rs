//! Messages taken from a librdkafka queue many at a time (`rd_kafka_consume_batch_queue`).
//!
//! `rdkafka`'s `poll` hands out one message per call, and each call reads the clock, takes the
//! queue's lock, wraps the message in an event and allocates a reference count for it. Taking up
//! to a few hundred messages per call costs a fraction of that: the bare consumer of
//! `scripts/bench-ingest` reads the benchmark's records with much less CPU this way than with
//! `poll` (docs/benchmarks.md). This module is the only place where the
//! lander calls librdkafka directly.

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaErrorCode;

/// What the lander reads of a Kafka message, whichever way it was polled.
pub trait Record {
    fn topic(&self) -> &str;
    fn partition(&self) -> i32;
    fn offset(&self) -> i64;
    fn payload(&self) -> Option<&[u8]>;
    /// Milliseconds since the epoch (`None`: the message has no timestamp).
    fn timestamp_ms(&self) -> Option<i64>;
}

impl Record for BorrowedMessage<'_> {
    fn topic(&self) -> &str {
        Message::topic(self)
    }
    fn partition(&self) -> i32 {
        Message::partition(self)
    }
    fn offset(&self) -> i64 {
        Message::offset(self)
    }
    fn payload(&self) -> Option<&[u8]> {
        Message::payload(self)
    }
    fn timestamp_ms(&self) -> Option<i64> {
        Message::timestamp(self).to_millis()
    }
}

/// A handle on one librdkafka queue, read with [`BatchQueue::take`]. Holds the consumer, so it
/// cannot outlive it.
pub struct BatchQueue<C: ConsumerContext + 'static> {
    queue: *mut rdsys::rd_kafka_queue_t,
    /// The topic of every message of a partition's queue (`None`: the consumer's queue).
    topic: Option<String>,
    _consumer: Arc<BaseConsumer<C>>,
}

impl<C: ConsumerContext + 'static> BatchQueue<C> {
    /// The consumer's own queue (every message of partitions without a queue of their own,
    /// and the consumer's events). Only for a consumer that never polls it otherwise and
    /// has no rebalance callback to serve (an `assign`-only reader such as the bare consumer).
    pub fn consumer_queue(consumer: &Arc<BaseConsumer<C>>) -> Option<Self> {
        // SAFETY: the client pointer is valid while `consumer` lives, and we hold it.
        let queue = unsafe { rdsys::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) };
        (!queue.is_null()).then(|| Self {
            queue,
            topic: None,
            _consumer: Arc::clone(consumer),
        })
    }

    /// A second handle on the queue of `topic`'s `partition` that
    /// [`BaseConsumer::split_partition_queue`] gave its own (it must have: otherwise the
    /// handle reads whatever the partition's messages are forwarded to). `None` if the
    /// partition is not known to the consumer.
    pub fn partition(consumer: &Arc<BaseConsumer<C>>, topic: &str, partition: i32) -> Option<Self> {
        let name = CString::new(topic).ok()?;
        // SAFETY: valid client and topic pointers; the call returns a new reference (or null).
        let queue = unsafe {
            rdsys::rd_kafka_queue_get_partition(
                consumer.client().native_ptr(),
                name.as_ptr(),
                partition,
            )
        };
        (!queue.is_null()).then(|| Self {
            queue,
            topic: Some(topic.to_owned()),
            _consumer: Arc::clone(consumer),
        })
    }

    /// Moves up to `max` messages (at most the batch's capacity) from the queue into `batch`,
    /// waiting at most `timeout` for the first; returns how many came. `batch` must be empty.
    pub fn take(&self, batch: &mut Batch, max: usize, timeout: Duration) -> usize {
        debug_assert!(batch.is_empty(), "a batch is refilled only once read");
        batch.clear();
        let max = max.min(batch.slots.len());
        let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
        // SAFETY: `slots` has room for `max` pointers; librdkafka writes at most that many.
        let got = unsafe {
            rdsys::rd_kafka_consume_batch_queue(
                self.queue,
                timeout_ms,
                batch.slots.as_mut_ptr(),
                max,
            )
        };
        // -1 is an invalid queue: none of ours; nothing came either way.
        batch.len = usize::try_from(got).unwrap_or(0).min(max);
        batch.topic.clone_from(&self.topic);
        batch.len
    }
}

impl<C: ConsumerContext + 'static> Drop for BatchQueue<C> {
    fn drop(&mut self) {
        // SAFETY: our reference, created in `partition` / `consumer_queue`, released once.
        unsafe { rdsys::rd_kafka_queue_destroy(self.queue) }
    }
}

/// Messages taken from a queue, handed out one at a time; those not handed out are released
/// with the batch (or at the next [`BatchQueue::take`]).
pub struct Batch {
    slots: Vec<*mut rdsys::rd_kafka_message_t>,
    next: usize,
    len: usize,
    topic: Option<String>,
}

impl Batch {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            slots: vec![std::ptr::null_mut(); capacity.max(1)],
            next: 0,
            len: 0,
            topic: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.next >= self.len
    }

    /// The next message (or the error librdkafka delivered in its place).
    pub fn next_message(&mut self) -> Option<KafkaResult<RawMessage<'_>>> {
        if self.is_empty() {
            return None;
        }
        let ptr = std::mem::replace(&mut self.slots[self.next], std::ptr::null_mut());
        self.next += 1;
        let message = RawMessage {
            ptr,
            topic: self.topic.as_deref(),
            _batch: PhantomData,
        };
        // SAFETY: librdkafka filled this slot with a valid message.
        let err = unsafe { (*ptr).err };
        if err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Some(Ok(message));
        }
        let partition = message.partition();
        drop(message);
        Some(Err(
            if err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__PARTITION_EOF {
                KafkaError::PartitionEOF(partition)
            } else {
                KafkaError::MessageConsumption(RDKafkaErrorCode::from(err))
            },
        ))
    }

    /// The payload of the last message taken, not handed out yet (`None` when there is none, or
    /// it is an error or has no payload): to peek at without taking it.
    pub fn last_payload(&self) -> Option<&[u8]> {
        if self.is_empty() {
            return None;
        }
        let ptr = self.slots[self.len - 1];
        // SAFETY: a message librdkafka filled this slot with, not handed out nor released (the
        // batch is not empty), valid while `self` is borrowed.
        let message = unsafe { &*ptr };
        if message.err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            || message.payload.is_null()
        {
            return None;
        }
        // SAFETY: librdkafka's payload pointer and length, valid while the message is.
        Some(unsafe { std::slice::from_raw_parts(message.payload.cast::<u8>(), message.len) })
    }

    /// Releases the messages not handed out.
    pub fn clear(&mut self) {
        for slot in &mut self.slots[self.next..self.len] {
            let ptr = std::mem::replace(slot, std::ptr::null_mut());
            // SAFETY: a message librdkafka gave us and nobody released yet.
            unsafe { rdsys::rd_kafka_message_destroy(ptr) };
        }
        self.next = 0;
        self.len = 0;
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.clear();
    }
}

/// One message of a [`Batch`], released when dropped.
pub struct RawMessage<'a> {
    ptr: *mut rdsys::rd_kafka_message_t,
    topic: Option<&'a str>,
    _batch: PhantomData<&'a mut Batch>,
}

impl RawMessage<'_> {
    fn message(&self) -> &rdsys::rd_kafka_message_t {
        // SAFETY: valid until dropped (we release it only then).
        unsafe { &*self.ptr }
    }
}

impl Record for RawMessage<'_> {
    fn topic(&self) -> &str {
        if let Some(topic) = self.topic {
            return topic;
        }
        // SAFETY: a message's topic handle and its name live as long as the message.
        let name = unsafe { CStr::from_ptr(rdsys::rd_kafka_topic_name(self.message().rkt)) };
        // Kafka allows only [a-zA-Z0-9._-] in topic names; rdkafka's `BorrowedMessage::topic`
        // panics on others. A name that is not UTF-8 matches none of the lander's topics.
        name.to_str().unwrap_or("")
    }

    fn partition(&self) -> i32 {
        self.message().partition
    }

    fn offset(&self) -> i64 {
        self.message().offset
    }

    fn payload(&self) -> Option<&[u8]> {
        let m = self.message();
        if m.payload.is_null() {
            return None;
        }
        // SAFETY: librdkafka's payload pointer and length, valid while the message is.
        Some(unsafe { std::slice::from_raw_parts(m.payload.cast::<u8>(), m.len) })
    }

    fn timestamp_ms(&self) -> Option<i64> {
        let mut kind = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: a valid message and a place for the type.
        let ms = unsafe { rdsys::rd_kafka_message_timestamp(self.ptr, &mut kind) };
        // As rdkafka's `BorrowedMessage::timestamp`: -1 or no type is no timestamp.
        (ms != -1 && kind != rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
            .then_some(ms)
    }
}

impl Drop for RawMessage<'_> {
    fn drop(&mut self) {
        // SAFETY: handed out by `Batch::next_message` alone, released once, here.
        unsafe { rdsys::rd_kafka_message_destroy(self.ptr) }
    }
}

/// A message polled one at a time from the consumer's queue, or taken in a batch.
pub enum AnyMessage<'a> {
    Polled(BorrowedMessage<'a>),
    Batched(RawMessage<'a>),
}

impl Record for AnyMessage<'_> {
    fn topic(&self) -> &str {
        match self {
            Self::Polled(m) => Record::topic(m),
            Self::Batched(m) => m.topic(),
        }
    }
    fn partition(&self) -> i32 {
        match self {
            Self::Polled(m) => Record::partition(m),
            Self::Batched(m) => m.partition(),
        }
    }
    fn offset(&self) -> i64 {
        match self {
            Self::Polled(m) => Record::offset(m),
            Self::Batched(m) => m.offset(),
        }
    }
    fn payload(&self) -> Option<&[u8]> {
        match self {
            Self::Polled(m) => Record::payload(m),
            Self::Batched(m) => m.payload(),
        }
    }
    fn timestamp_ms(&self) -> Option<i64> {
        match self {
            Self::Polled(m) => m.timestamp_ms(),
            Self::Batched(m) => m.timestamp_ms(),
        }
    }
}
