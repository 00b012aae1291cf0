//! Records kept in memory, per topic: for tests and for embedding the generator.

use soundlake_core::event::Topic;

use super::{Chunk, Sink, SinkError};

#[derive(Debug, Default)]
pub struct MemorySink {
    /// Per topic (by [`Topic::index`]): the encoded bytes, and where each record ends.
    pub topics: [Vec<u8>; 4],
}

impl MemorySink {
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// The topic's records as text lines (for JSON lines).
    pub fn lines(&self, topic: Topic) -> impl Iterator<Item = &str> {
        std::str::from_utf8(&self.topics[topic.index()])
            .unwrap_or("")
            .lines()
    }
}

impl Sink for MemorySink {
    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), SinkError> {
        for t in Topic::ALL {
            self.topics[t.index()].extend_from_slice(&chunk.topic(t).data);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.topics.iter().map(|t| t.len() as u64).sum()
    }
}
