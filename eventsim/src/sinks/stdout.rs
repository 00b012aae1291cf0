//! JSON lines on standard output: the `page_view_events` stream (every event once; the other
//! topics' records repeat page views and could not be told apart on one stream).

use std::io::{Stdout, Write};

use soundlake_core::event::Topic;

use super::{Chunk, Sink, SinkError};

pub struct StdoutSink {
    out: std::io::BufWriter<Stdout>,
    bytes: u64,
}

impl StdoutSink {
    pub fn new() -> StdoutSink {
        StdoutSink {
            out: std::io::BufWriter::with_capacity(1 << 20, std::io::stdout()),
            bytes: 0,
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        StdoutSink::new()
    }
}

fn err(source: std::io::Error) -> SinkError {
    SinkError {
        what: "cannot write to standard output".to_string(),
        source,
    }
}

impl Sink for StdoutSink {
    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), SinkError> {
        let data = &chunk.topic(Topic::PageView).data;
        self.out.write_all(data).map_err(err)?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(err)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.flush()
    }

    fn bytes_written(&self) -> u64 {
        self.bytes
    }
}
