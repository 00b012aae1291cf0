//! What the poll loop shares with the consumer's callbacks, and the rebalance callback: on
//! assignment and revocation (inside `poll`) it first waits for the flushes in flight to
//! commit or fail; on assignment the commit log is then recovered and every assigned partition
//! starts at the log's next offset; on revocation everything still buffered is dropped
//! unflushed: its offsets are not committed, so the next owner reads them again from the log's
//! position (the safe choice: no flush can race a new owner).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use soundlake_core::retry::RetryPolicy;
use tokio::runtime::Handle;
use tokio::sync::{Mutex, Semaphore};
use tracing::{error, info, warn};

use super::error::Fatal;
use crate::commit_log::{CommitError, CommitLog};
use crate::flush::MAX_IN_FLIGHT;

/// How the commit log's recovery waits out a lake that is away: without limit, unless the
/// lander is asked to stop.
const RECOVERY: RetryPolicy = RetryPolicy::new(Duration::from_millis(500));

/// Shared between the poll loop and the consumer's callbacks.
pub(super) struct Shared {
    pub log: Arc<Mutex<CommitLog>>,
    pub rt: Handle,
    /// One permit per flush in flight, held until it has committed (or failed).
    pub flush_gate: Arc<Semaphore>,
    /// Bumped on every assignment and revocation: buffered data of an older generation is
    /// dropped.
    pub generation: AtomicU64,
    pub assigned: StdMutex<BTreeSet<(String, i32)>>,
    pub shutdown: Arc<AtomicBool>,
    /// The first fatal error (checked before every record: a lock-free read).
    pub fatal: OnceLock<Fatal>,
    /// The high watermark of each partition, from librdkafka's statistics.
    pub high_watermarks: StdMutex<BTreeMap<(String, i32), i64>>,
}

impl Shared {
    pub fn new(log: CommitLog, rt: Handle, shutdown: Arc<AtomicBool>) -> Self {
        Self {
            log: Arc::new(Mutex::new(log)),
            rt,
            flush_gate: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            generation: AtomicU64::new(0),
            assigned: StdMutex::new(BTreeSet::new()),
            shutdown,
            fatal: OnceLock::new(),
            high_watermarks: StdMutex::new(BTreeMap::new()),
        }
    }

    /// The partitions assigned now.
    pub fn assigned(&self) -> Vec<(String, i32)> {
        lock(&self.assigned).iter().cloned().collect()
    }

    /// Recovers the commit log (retrying while the lake is away) and returns the log's next
    /// offset of each partition.
    pub fn recover(&self, parts: &[(String, i32)]) -> Vec<Option<i64>> {
        let transient = |err: &CommitError| {
            matches!(err, CommitError::Lake(err) if err.kind().is_transient())
                && !self.shutdown.load(Ordering::SeqCst)
        };
        let result = RECOVERY.retry_blocking(
            "recovering the commit log (the lake is away)",
            transient,
            || {
                self.rt.block_on(async {
                    let mut log = self.log.lock().await;
                    log.recover().await.map(|report| {
                        if report.published > 0 || report.orphans_deleted > 0 {
                            info!(?report, "recovered the commit log");
                        }
                        parts
                            .iter()
                            .map(|(t, p)| log.next_offset(t, *p))
                            .collect::<Vec<_>>()
                    })
                })
            },
        );
        match result {
            Ok(positions) => positions,
            Err(CommitError::Lake(err)) if err.kind().is_transient() => {
                // Not retried: a shutdown was asked for.
                warn!(%err, "the lake is away");
                self.set_fatal(Fatal::StoppedWhileLakeAway);
                vec![None; parts.len()]
            }
            Err(err) => {
                self.set_fatal(Fatal::Recover(Arc::new(err)));
                vec![None; parts.len()]
            }
        }
    }

    pub fn set_fatal(&self, fatal: Fatal) {
        error!(%fatal, "fatal");
        // The first one wins: later ones are consequences.
        let _ = self.fatal.set(fatal);
    }
}

/// Locks a mutex that a panicking thread may have held (its data is still consistent: every
/// holder only inserts or replaces whole values).
pub(super) fn lock<T>(m: &StdMutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The consumer's context: its statistics and rebalance callbacks.
pub(super) struct LanderContext(pub Arc<Shared>);

impl ClientContext for LanderContext {
    /// librdkafka's statistics (every [`super::consumer::GAUGE_INTERVAL`]): keeps the high
    /// watermarks its fetcher saw, for the lag gauge, without asking the broker.
    fn stats(&self, statistics: Statistics) {
        let mut marks = lock(&self.0.high_watermarks);
        for (name, topic) in statistics.topics {
            for (partition, p) in topic.partitions {
                if partition >= 0 && p.hi_offset >= 0 {
                    marks.insert((name.clone(), partition), p.hi_offset);
                }
            }
        }
    }
}

impl ConsumerContext for LanderContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let shared = &self.0;
        // The flushes in flight commit (or fail) before partitions change hands.
        drop(
            shared
                .rt
                .block_on(shared.flush_gate.acquire_many(MAX_IN_FLIGHT as u32)),
        );
        shared.generation.fetch_add(1, Ordering::SeqCst);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let parts: Vec<(String, i32)> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect();
                let positions = shared.recover(&parts);
                for ((topic, partition), next) in parts.iter().zip(positions) {
                    let offset = next.map_or(Offset::Beginning, Offset::Offset);
                    if let Err(err) = tpl.set_partition_offset(topic, *partition, offset) {
                        warn!(%topic, partition, %err, "cannot set the start offset");
                    }
                }
                info!(partitions = ?parts, "assigned; starting at the commit log's positions");
                if let Err(err) = consumer.assign(tpl) {
                    shared.set_fatal(Fatal::Assign(err));
                }
                *lock(&shared.assigned) = parts.into_iter().collect();
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                info!("partitions revoked; dropping what is buffered (it is re-read by the next owner)");
                if let Err(err) = consumer.unassign() {
                    warn!(%err, "unassign failed");
                }
                lock(&shared.assigned).clear();
            }
            other => error!(?other, "rebalance error"),
        }
    }
}
