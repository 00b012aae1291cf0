//! JSON lines into `DIR/<topic>.jsonl`, one file per topic.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use soundlake_core::event::Topic;

use super::{Chunk, Sink, SinkError};

pub struct FileSink {
    files: Vec<(PathBuf, BufWriter<File>)>,
    bytes: u64,
}

impl FileSink {
    /// Creates `dir` if needed and truncates its four topic files.
    pub fn create(dir: &Path) -> Result<FileSink, SinkError> {
        std::fs::create_dir_all(dir).map_err(|source| SinkError {
            what: format!("cannot create the output directory {}", dir.display()),
            source,
        })?;
        let mut files = Vec::new();
        for t in Topic::ALL {
            let path = dir.join(format!("{}.jsonl", t.name()));
            let f = File::create(&path).map_err(|source| SinkError {
                what: format!("cannot create {}", path.display()),
                source,
            })?;
            files.push((path, BufWriter::with_capacity(1 << 20, f)));
        }
        Ok(FileSink { files, bytes: 0 })
    }

    fn each(
        &mut self,
        mut op: impl FnMut(&mut BufWriter<File>) -> std::io::Result<()>,
        what: &str,
    ) -> Result<(), SinkError> {
        for (path, w) in &mut self.files {
            op(w).map_err(|source| SinkError {
                what: format!("cannot {what} {}", path.display()),
                source,
            })?;
        }
        Ok(())
    }
}

impl Sink for FileSink {
    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), SinkError> {
        for t in Topic::ALL {
            let data = &chunk.topic(t).data;
            let (path, w) = &mut self.files[t.index()];
            w.write_all(data).map_err(|source| SinkError {
                what: format!("cannot write {}", path.display()),
                source,
            })?;
            self.bytes += data.len() as u64;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.each(|w| w.flush(), "flush")
    }

    /// Flushes to the files (no fsync: like eventsim, the page cache is trusted).
    fn finish(&mut self) -> Result<(), SinkError> {
        self.each(|w| w.flush(), "flush")
    }

    fn bytes_written(&self) -> u64 {
        self.bytes
    }
}
