//! Helpers shared by the lander's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use soundlake_core::event::Topic;
use soundlake_core::lake::{LakeStore, LakeUrl};
use soundlake_ingest::batch_builder::{BatchError, KafkaMeta, PartitionedBatches};
use soundlake_ingest::schema::BronzeSchema;

/// 2025-11-25T07:00:00Z in epoch milliseconds.
pub const TS: i64 = 1_764_054_000_000;

/// A `file://` lake in a fresh temporary folder, removed when dropped.
pub struct LocalLake {
    pub dir: PathBuf,
    pub store: LakeStore,
}

impl LocalLake {
    pub fn new(prefix: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "soundlake-ingest-{prefix}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let url = LakeUrl::parse(&format!("file://{}", dir.display())).expect("a file URL");
        let store = LakeStore::open(&url).expect("a local store");
        Self { dir, store }
    }
}

impl Drop for LocalLake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A listen event for Kafka partition `partition` at `offset`, `ts` = [`TS`] + `offset` s.
pub fn append_listen(
    batches: &mut PartitionedBatches,
    partition: i32,
    offset: i64,
) -> Result<(), BatchError> {
    let schema = Arc::clone(batches.schema());
    let col = |name: &str| schema.index_of(name).expect(name);
    let mut row = batches.row(TS + offset * 1000)?;
    row.set_i64(col("sessionId"), 1000 + offset)?;
    row.set_str(col("auth"), "Logged In")?;
    row.set_str(col("level"), if offset % 2 == 0 { "free" } else { "paid" })?;
    row.set_i32(
        col("itemInSession"),
        i32::try_from(offset % 50).unwrap_or(0),
    )?;
    row.set_str(col("city"), "Boston")?;
    row.set_str(col("zip"), "02134")?;
    row.set_str(col("state"), "MA")?;
    row.set_str(col("userAgent"), "\"Mozilla/5.0\"")?;
    row.set_f64(col("lon"), -71.06)?;
    row.set_f64(col("lat"), 42.36)?;
    row.set_i64(col("userId"), offset % 97)?;
    row.set_str(col("firstName"), "Ada")?;
    row.set_str(col("artist"), "The Artist")?;
    row.set_str(col("song"), &format!("Song {offset}"))?;
    row.set_f64(col("duration"), 200.5)?;
    row.finish(&KafkaMeta {
        partition,
        offset,
        timestamp_ms: Some(TS + offset),
        schema_id: 1,
        ingested_at_us: TS * 1000,
    })
}

pub fn listen_batches() -> PartitionedBatches {
    PartitionedBatches::new(Arc::new(
        BronzeSchema::for_topic(Topic::Listen).expect("listen schema"),
    ))
}
pub mod private_hdfs;
pub mod stack_run;
