//! Records kept in memory, per topic: for tests and for embedding the generator.

use soundlake_core::event::Topic;

use super::{Chunk, Sink, SinkError};

#[derive(Debug, Default)]
pub struct MemorySink {
    /// Per topic (by [`Topic::index`]): the encoded bytes of all records, one after the other.
    pub topics: [Vec<u8>; 4],
    /// Per topic: where each record ends in `topics`, and its key.
    ends: [Vec<(usize, i64)>; 4],
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

    /// The topic's records, as (key, bytes).
    pub fn records(&self, topic: Topic) -> impl Iterator<Item = (i64, &[u8])> {
        let data = &self.topics[topic.index()];
        let mut start = 0;
        self.ends[topic.index()].iter().map(move |&(end, key)| {
            let r = &data[start..end];
            start = end;
            (key, r)
        })
    }
}

impl Sink for MemorySink {
    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), SinkError> {
        for t in Topic::ALL {
            let (data, ends) = (&mut self.topics[t.index()], &mut self.ends[t.index()]);
            let buf = chunk.topic(t);
            let base = data.len();
            data.extend_from_slice(&buf.data);
            ends.extend(
                buf.ends
                    .iter()
                    .zip(&buf.keys)
                    .map(|(&end, &key)| (base + end as usize, key)),
            );
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
