//! Where events go. Generation threads *encode* records (JSON lines, or Avro for Kafka)
//! into per-topic buffers of a [`Chunk`]; one writer thread hands the chunks, in a fixed order,
//! to a [`Sink`] (files, stdout, Kafka). Encoding in the workers keeps the writer cheap, and the
//! fixed order makes the output identical whatever the number of threads.

pub mod avro;
pub mod files;
pub mod json;
pub mod kafka;
pub mod memory;
pub mod stdout;

use soundlake_core::event::{Event, Topic};

/// The encoded records of one topic in a chunk: the bytes, where each record ends, its key
/// (user id, or session id for guests).
#[derive(Debug, Default, Clone)]
pub struct TopicBuf {
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
    pub keys: Vec<i64>,
}

impl TopicBuf {
    /// Marks the end of a record just written into `data`.
    #[inline]
    pub fn end_record(&mut self, key: i64) {
        self.ends.push(self.data.len() as u32);
        self.keys.push(key);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The records, as (key, bytes).
    pub fn records(&self) -> impl Iterator<Item = (i64, &[u8])> {
        let mut start = 0usize;
        self.ends.iter().zip(&self.keys).map(move |(&end, &key)| {
            let r = &self.data[start..end as usize];
            start = end as usize;
            (key, r)
        })
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.keys.clear();
    }
}

/// A batch of encoded records, per topic (indexed by [`Topic::index`]).
#[derive(Debug, Default, Clone)]
pub struct Chunk {
    pub topics: [TopicBuf; 4],
    /// Users simulated for this chunk.
    pub users: u64,
}

impl Chunk {
    pub fn topic(&self, t: Topic) -> &TopicBuf {
        &self.topics[t.index()]
    }

    pub fn topic_mut(&mut self, t: Topic) -> &mut TopicBuf {
        &mut self.topics[t.index()]
    }

    pub fn events(&self) -> u64 {
        self.topics.iter().map(|t| t.len() as u64).sum()
    }

    pub fn clear(&mut self) {
        self.topics.iter_mut().for_each(TopicBuf::clear);
        self.users = 0;
    }

    /// Gives back memory beyond `bytes` per topic buffer (after an unusually big chunk).
    pub fn shrink_to(&mut self, bytes: usize) {
        for t in &mut self.topics {
            if t.data.capacity() > bytes {
                t.data.shrink_to(bytes);
                t.ends.shrink_to(bytes / 64);
                t.keys.shrink_to(bytes / 64);
            }
        }
    }
}

/// One event as the generator hands it to encoders: its fields, plus the ids of its state and
/// song in the model, with which an encoder may use fragments it encoded once in advance.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub event: Event<&'a str>,
    /// Index into `Site::states`.
    pub state: u32,
    /// Index into `Catalog::songs`, when `event.song` is set.
    pub song: Option<u32>,
}

/// Turns events into record bytes. One instance per generation thread.
pub trait Encoder: Send {
    /// Announces the user whose events follow (`first` is that user's first event), so that an
    /// encoder may prepare what does not change from one of the user's events to the next.
    fn begin_user(&mut self, first: &Event<&str>);
    /// Appends the record of `topic` for `rec` (ending it with [`TopicBuf::end_record`]).
    fn encode(&mut self, topic: Topic, rec: &Record<'_>, out: &mut TopicBuf);
}

/// Makes one encoder per generation thread.
pub type EncoderFactory = dyn Fn() -> Box<dyn Encoder> + Sync;

/// Why a sink failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct SinkError {
    pub what: String,
    #[source]
    pub source: std::io::Error,
}

/// Receives chunks, in order, on the writer thread.
pub trait Sink: Send {
    /// Stores (or sends) one chunk's records.
    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), SinkError>;
    /// Pushes buffered records out (called before real-time pauses).
    fn flush(&mut self) -> Result<(), SinkError>;
    /// Flushes and closes; after this the records are durable where the sink puts them.
    fn finish(&mut self) -> Result<(), SinkError>;
    /// Bytes written so far (for the summary).
    fn bytes_written(&self) -> u64;
    /// What the sink delivered to a broker, for the summary (sinks that write files or stdout
    /// have nothing to add).
    fn report(&self) -> Option<Delivery> {
        None
    }
}

/// What a sink delivered to a broker, per topic (by `Topic::index`). A failed delivery fails the
/// run, so a finished run has none to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Where the records went, e.g. `Kafka at 127.0.0.1:9092`.
    pub target: String,
    /// The topics' names there (with `--topic-prefix`).
    pub topics: [String; 4],
    /// Records acknowledged.
    pub delivered: [u64; 4],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_split_with_their_keys() {
        let mut buf = TopicBuf::default();
        buf.data.extend_from_slice(b"{\"a\":1}\n");
        buf.end_record(7);
        buf.data.extend_from_slice(b"{\"b\":2}\n");
        buf.end_record(-3);
        let records: Vec<(i64, &[u8])> = buf.records().collect();
        assert_eq!(
            records,
            vec![(7, &b"{\"a\":1}\n"[..]), (-3, &b"{\"b\":2}\n"[..])]
        );
        let mut chunk = Chunk::default();
        chunk.topics[Topic::Auth.index()] = buf;
        assert_eq!(chunk.topic(Topic::Auth).len(), 2);
        chunk.clear();
        assert!(chunk.topic(Topic::Auth).is_empty());
    }
}
