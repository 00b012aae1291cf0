//! The lander's counters, and their export through the shared `soundlake_core::telemetry`
//! (`--metrics-addr`, service `ingest`):
//!
//! - `soundlake_ingest_consumed_records_total`: records read from Kafka (landed + quarantined);
//! - `soundlake_ingest_landed_records_total`: records decoded into bronze rows;
//! - `soundlake_ingest_quarantined_records_total{reason}`: records quarantined, per reason;
//! - `soundlake_ingest_succeeded_commits_total`: commit-log entries written;
//! - `soundlake_ingest_failed_commits_total`: commits that failed (fenced, ambiguous) and were
//!   re-read;
//! - `soundlake_ingest_committed_files_total`, `soundlake_ingest_committed_bytes_total`: files
//!   (data and quarantine) committed, and their bytes;
//! - `soundlake_ingest_flush_duration_seconds`: histogram of flushes (write and commit);
//! - `soundlake_build_info{service="ingest",version}` (the telemetry module's).
//!
//! The lander publishes a snapshot of its [`Stats`] once per commit (not per record); the
//! counters read that snapshot when Prometheus scrapes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use soundlake_core::telemetry::{
    Histogram, KeyValue, ObservableCounter, Telemetry, Unit, SECONDS_BUCKETS,
};

/// What the lander did since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records read from Kafka (landed + quarantined).
    pub consumed: u64,
    /// Records decoded into bronze rows.
    pub landed: u64,
    /// Records quarantined, by reason.
    pub quarantined: BTreeMap<&'static str, u64>,
    /// Commit-log entries written.
    pub commits: u64,
    /// Commits that failed (fenced, ambiguous) and were re-read.
    pub commit_failures: u64,
    /// Files (data and quarantine) committed.
    pub files: u64,
    /// Bytes of committed files.
    pub bytes: u64,
}

/// The lander's instruments, registered for as long as this lives.
pub struct LanderMetrics {
    snapshot: Arc<Mutex<Stats>>,
    flush_seconds: Histogram<f64>,
    _counters: Vec<ObservableCounter<u64>>,
}

impl std::fmt::Debug for LanderMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanderMetrics")
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

fn read(snapshot: &Mutex<Stats>) -> Stats {
    snapshot.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Observes one number of the snapshot as the counter `what`.
fn stat_counter(
    telemetry: &Telemetry,
    snapshot: &Arc<Mutex<Stats>>,
    what: &str,
    unit: Unit,
    help: &str,
    get: fn(&Stats) -> u64,
) -> ObservableCounter<u64> {
    let snapshot = Arc::clone(snapshot);
    telemetry.observable_counter(what, unit, help, move |o| {
        o.observe(get(&read(&snapshot)), &[]);
    })
}

impl LanderMetrics {
    /// Registers the lander's instruments on `telemetry`.
    pub fn register(telemetry: &Telemetry) -> LanderMetrics {
        let snapshot = Arc::new(Mutex::new(Stats::default()));
        let s = &snapshot;
        let mut counters = vec![
            stat_counter(
                telemetry,
                s,
                "consumed",
                Unit::Records,
                "Records read from Kafka (landed and quarantined)",
                |s| s.consumed,
            ),
            stat_counter(
                telemetry,
                s,
                "landed",
                Unit::Records,
                "Records decoded into bronze rows",
                |s| s.landed,
            ),
            stat_counter(
                telemetry,
                s,
                "succeeded",
                Unit::Commits,
                "Commit-log entries written",
                |s| s.commits,
            ),
            stat_counter(
                telemetry,
                s,
                "failed",
                Unit::Commits,
                "Commits that failed (fenced, ambiguous) and were re-read",
                |s| s.commit_failures,
            ),
            stat_counter(
                telemetry,
                s,
                "committed",
                Unit::Files,
                "Files (data and quarantine) committed",
                |s| s.files,
            ),
            stat_counter(
                telemetry,
                s,
                "committed",
                Unit::Bytes,
                "Bytes of committed files",
                |s| s.bytes,
            ),
        ];
        let q = Arc::clone(&snapshot);
        counters.push(telemetry.observable_counter(
            "quarantined",
            Unit::Records,
            "Records quarantined, per reason",
            move |o| {
                for (reason, n) in read(&q).quarantined {
                    o.observe(n, &[KeyValue::new("reason", reason)]);
                }
            },
        ));
        let flush_seconds = telemetry.histogram(
            "flush_duration",
            Unit::Seconds,
            "Flushes: writing the buffered files and committing them",
            SECONDS_BUCKETS,
        );
        LanderMetrics {
            snapshot,
            flush_seconds,
            _counters: counters,
        }
    }

    /// Makes `stats` what the next scrape sees.
    pub fn publish(&self, stats: &Stats) {
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = stats.clone();
    }

    /// Records a flush that took `seconds`.
    pub fn record_flush(&self, seconds: f64) {
        self.flush_seconds.record(seconds, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_stats_are_served() {
        let telemetry = Telemetry::init("ingest", Some("127.0.0.1:0".parse().unwrap())).unwrap();
        assert!(telemetry.local_addr().is_some());
        let metrics = LanderMetrics::register(&telemetry);
        let stats = Stats {
            consumed: 12,
            landed: 9,
            quarantined: BTreeMap::from([("bad_magic", 2), ("truncated_body", 1)]),
            commits: 3,
            commit_failures: 1,
            files: 5,
            bytes: 4096,
        };
        metrics.publish(&stats);
        metrics.record_flush(0.2);
        let text = telemetry.render();
        for line in [
            "soundlake_ingest_consumed_records_total 12",
            "soundlake_ingest_landed_records_total 9",
            "soundlake_ingest_quarantined_records_total{reason=\"bad_magic\"} 2",
            "soundlake_ingest_quarantined_records_total{reason=\"truncated_body\"} 1",
            "soundlake_ingest_succeeded_commits_total 3",
            "soundlake_ingest_failed_commits_total 1",
            "soundlake_ingest_committed_files_total 5",
            "soundlake_ingest_committed_bytes_total 4096",
            "soundlake_ingest_flush_duration_seconds_count 1",
            "soundlake_ingest_flush_duration_seconds_bucket{le=\"0.25\"} 1",
            "soundlake_ingest_flush_duration_seconds_bucket{le=\"0.1\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in:\n{text}"
            );
        }
        assert!(
            text.contains("soundlake_build_info{service=\"ingest\""),
            "{text}"
        );
        telemetry.shutdown().unwrap();
    }
}
