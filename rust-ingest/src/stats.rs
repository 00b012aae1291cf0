//! The lander's counters and gauges, and their export through the shared
//! `soundlake_core::telemetry` (`--metrics-addr`, service `ingest`). The list with meanings is
//! in docs/operations.md ("Metrics"); the names:
//!
//! - `soundlake_ingest_consumed_records_total{topic}`: records read from Kafka;
//! - `soundlake_ingest_landed_records_total{topic}`: records committed as bronze rows;
//! - `soundlake_ingest_quarantined_records_total{topic,reason}`: records committed to
//!   quarantine;
//! - `soundlake_ingest_committed_files_total{topic,kind}`, `…_committed_bytes_total{topic,kind}`:
//!   files committed (`kind` = `data` or `quarantine`) and their bytes;
//! - `soundlake_ingest_succeeded_commits_total`, `soundlake_ingest_failed_commits_total`;
//! - `soundlake_ingest_flush_duration_seconds`: histogram of flushes (write and commit);
//! - `soundlake_ingest_last_commit_timestamp_seconds`: unix time of the last commit;
//! - `soundlake_ingest_consumer_lag_records{topic,partition}`: high watermark − the lake's next
//!   offset, per assigned partition;
//! - `soundlake_ingest_assigned_partitions{topic}`: partitions this instance owns.
//!
//! The lander publishes a snapshot of its [`Stats`] at each commit and every few seconds (not
//! per record); the instruments read that snapshot when Prometheus scrapes. At the end of a run
//! the same stats are printed for a person ([`Stats::summary`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use soundlake_core::telemetry::{
    Histogram, KeyValue, ObservableCounter, ObservableGauge, Telemetry, Unit, SECONDS_BUCKETS,
};
use soundlake_core::text_table::{self, bytes, count, per_second, Align, TextTable};

/// What the lander did with one topic since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicStats {
    /// Records read from Kafka (each delivery counts: records re-read after a rebalance too).
    pub consumed: u64,
    /// Records committed as bronze rows.
    pub landed: u64,
    /// Records committed to quarantine, by reason.
    pub quarantined: BTreeMap<&'static str, u64>,
    /// Data files committed, and their bytes.
    pub data_files: u64,
    pub data_bytes: u64,
    /// Quarantine files committed, and their bytes.
    pub quarantine_files: u64,
    pub quarantine_bytes: u64,
}

/// What the lander did since it started, and where it stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Per topic.
    pub topics: BTreeMap<String, TopicStats>,
    /// Commit-log entries written.
    pub commits: u64,
    /// Commits that failed (fenced, ambiguous, the lake away) and were re-read.
    pub commit_failures: u64,
    /// Unix time (seconds) of the last successful commit; the start time before the first.
    pub last_commit_unix_seconds: f64,
    /// Per assigned (topic, partition): high watermark − the lake's next offset (unknown
    /// watermarks are left out).
    pub lag: BTreeMap<(String, i32), i64>,
    /// Assigned partitions per topic.
    pub assigned: BTreeMap<String, u64>,
}

impl Stats {
    /// Records read from Kafka, all topics.
    pub fn consumed(&self) -> u64 {
        self.topics.values().map(|t| t.consumed).sum()
    }

    /// Records committed as bronze rows, all topics.
    pub fn landed(&self) -> u64 {
        self.topics.values().map(|t| t.landed).sum()
    }

    /// Records committed to quarantine, all topics and reasons.
    pub fn quarantined(&self) -> u64 {
        self.topics.values().map(TopicStats::quarantined).sum()
    }

    /// Files committed (data and quarantine), all topics.
    pub fn files(&self) -> u64 {
        self.topics.values().map(TopicStats::files).sum()
    }

    /// Bytes of the files committed (data and quarantine), all topics.
    pub fn bytes(&self) -> u64 {
        self.topics.values().map(TopicStats::bytes).sum()
    }

    /// The summary printed at the end of a run that took `elapsed`: per topic the records
    /// landed and quarantined, the files and bytes committed and the records per second, a
    /// total row, then the quarantine reasons if any record was quarantined.
    pub fn summary(&self, elapsed: Duration) -> String {
        let mut table = TextTable::new([
            ("topic", Align::Left),
            ("landed", Align::Right),
            ("quarantined", Align::Right),
            ("files", Align::Right),
            ("bytes", Align::Right),
            ("records/s", Align::Right),
            ("seconds", Align::Right),
        ]);
        for (topic, t) in &self.topics {
            let quarantined = t.quarantined();
            table.row([
                topic.clone(),
                count(t.landed),
                count(quarantined),
                count(t.files()),
                bytes(t.bytes()),
                per_second(t.landed + quarantined, elapsed),
                String::new(),
            ]);
        }
        table.total([
            "total".to_owned(),
            count(self.landed()),
            count(self.quarantined()),
            count(self.files()),
            bytes(self.bytes()),
            per_second(self.landed() + self.quarantined(), elapsed),
            text_table::seconds(elapsed),
        ]);
        let mut text = table.render();
        for (topic, t) in &self.topics {
            if t.quarantined.is_empty() {
                continue;
            }
            let reasons: Vec<String> = t
                .quarantined
                .iter()
                .map(|(reason, n)| format!("{} {reason}", count(*n)))
                .collect();
            text.push_str(&format!("quarantined in {topic}: {}\n", reasons.join(", ")));
        }
        text
    }
}

impl TopicStats {
    /// Records committed to quarantine, all reasons.
    pub fn quarantined(&self) -> u64 {
        self.quarantined.values().sum()
    }

    /// Files committed, data and quarantine.
    pub fn files(&self) -> u64 {
        self.data_files + self.quarantine_files
    }

    /// Bytes of the files committed, data and quarantine.
    pub fn bytes(&self) -> u64 {
        self.data_bytes + self.quarantine_bytes
    }
}

/// The lander's instruments, registered for as long as this lives.
pub struct LanderMetrics {
    snapshot: Arc<Mutex<Stats>>,
    flush_seconds: Histogram<f64>,
    _counters: Vec<ObservableCounter<u64>>,
    _gauges: Vec<ObservableGauge<f64>>,
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

/// Observes one number of the snapshot as the unlabelled counter `what`.
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

/// Observes one number per topic as the counter `what{topic}`.
fn topic_counter(
    telemetry: &Telemetry,
    snapshot: &Arc<Mutex<Stats>>,
    what: &str,
    unit: Unit,
    help: &str,
    get: fn(&TopicStats) -> u64,
) -> ObservableCounter<u64> {
    let snapshot = Arc::clone(snapshot);
    telemetry.observable_counter(what, unit, help, move |o| {
        for (topic, stats) in read(&snapshot).topics {
            o.observe(get(&stats), &[KeyValue::new("topic", topic)]);
        }
    })
}

/// Observes the data and quarantine numbers per topic as the counter `what{topic,kind}`.
fn file_counter(
    telemetry: &Telemetry,
    snapshot: &Arc<Mutex<Stats>>,
    unit: Unit,
    help: &str,
    get: fn(&TopicStats) -> (u64, u64),
) -> ObservableCounter<u64> {
    let snapshot = Arc::clone(snapshot);
    telemetry.observable_counter("committed", unit, help, move |o| {
        for (topic, stats) in read(&snapshot).topics {
            let (data, quarantine) = get(&stats);
            for (kind, n) in [("data", data), ("quarantine", quarantine)] {
                o.observe(
                    n,
                    &[
                        KeyValue::new("topic", topic.clone()),
                        KeyValue::new("kind", kind),
                    ],
                );
            }
        }
    })
}

impl LanderMetrics {
    /// Registers the lander's instruments on `telemetry`.
    pub fn register(telemetry: &Telemetry) -> LanderMetrics {
        let snapshot = Arc::new(Mutex::new(Stats::default()));
        let s = &snapshot;
        let mut counters = vec![
            topic_counter(
                telemetry,
                s,
                "consumed",
                Unit::Records,
                "Records read from Kafka, per topic (re-reads after a rebalance count again)",
                |t| t.consumed,
            ),
            topic_counter(
                telemetry,
                s,
                "landed",
                Unit::Records,
                "Records committed as bronze rows, per topic",
                |t| t.landed,
            ),
            file_counter(
                telemetry,
                s,
                Unit::Files,
                "Files committed to the lake, per topic and kind (data, quarantine)",
                |t| (t.data_files, t.quarantine_files),
            ),
            file_counter(
                telemetry,
                s,
                Unit::Bytes,
                "Bytes of the files committed to the lake, per topic and kind",
                |t| (t.data_bytes, t.quarantine_bytes),
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
                "Commits that failed (fenced, ambiguous, the lake away) and were re-read",
                |s| s.commit_failures,
            ),
        ];
        let q = Arc::clone(&snapshot);
        counters.push(telemetry.observable_counter(
            "quarantined",
            Unit::Records,
            "Records committed to quarantine, per topic and reason",
            move |o| {
                for (topic, stats) in read(&q).topics {
                    for (reason, n) in stats.quarantined {
                        o.observe(
                            n,
                            &[
                                KeyValue::new("topic", topic.clone()),
                                KeyValue::new("reason", reason),
                            ],
                        );
                    }
                }
            },
        ));
        let (l, lag, a) = (
            Arc::clone(&snapshot),
            Arc::clone(&snapshot),
            Arc::clone(&snapshot),
        );
        let gauges = vec![
            telemetry.observable_gauge(
                "last_commit_timestamp",
                Unit::Seconds,
                "Unix time of the last successful lake commit (the start time before the first)",
                move |o| o.observe(read(&l).last_commit_unix_seconds, &[]),
            ),
            telemetry.observable_gauge(
                "consumer_lag",
                Unit::Records,
                "Per assigned partition: high watermark minus the lake's next offset",
                move |o| {
                    for ((topic, partition), n) in read(&lag).lag {
                        o.observe(
                            n as f64,
                            &[
                                KeyValue::new("topic", topic),
                                KeyValue::new("partition", i64::from(partition)),
                            ],
                        );
                    }
                },
            ),
            telemetry.observable_gauge(
                "assigned",
                Unit::Partitions,
                "Partitions assigned to this instance, per topic",
                move |o| {
                    for (topic, n) in read(&a).assigned {
                        o.observe(n as f64, &[KeyValue::new("topic", topic)]);
                    }
                },
            ),
        ];
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
            _gauges: gauges,
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

    fn topic(
        landed: u64,
        quarantined: &[(&'static str, u64)],
        files: u64,
        bytes: u64,
    ) -> TopicStats {
        TopicStats {
            consumed: landed + quarantined.iter().map(|(_, n)| n).sum::<u64>(),
            landed,
            quarantined: quarantined.iter().copied().collect(),
            data_files: files,
            data_bytes: bytes,
            ..TopicStats::default()
        }
    }

    #[test]
    fn the_summary_is_a_table_with_a_total() {
        let listen = TopicStats {
            quarantine_files: 1,
            quarantine_bytes: 900,
            ..topic(
                1_234_567_890,
                &[("bad_magic", 2), ("truncated_body", 1)],
                1_200,
                52_400_000_000,
            )
        };
        // What is checked, the topics, the run's duration, the summary's lines.
        type Case = (
            &'static str,
            Vec<(&'static str, TopicStats)>,
            Duration,
            &'static [&'static str],
        );
        let cases: [Case; 4] = [
            (
                "no topics",
                vec![],
                Duration::ZERO,
                &[
                    "topic  landed  quarantined  files  bytes  records/s  seconds",
                    "------------------------------------------------------------",
                    "total       0            0      0    0 B          -     0.00",
                ],
            ),
            (
                "nothing landed",
                vec![("auth_events", TopicStats::default())],
                Duration::from_millis(1_500),
                &[
                    "topic        landed  quarantined  files  bytes  records/s  seconds",
                    "auth_events       0            0      0    0 B          -",
                    "------------------------------------------------------------------",
                    "total             0            0      0    0 B          -     1.50",
                ],
            ),
            (
                "several topics, big numbers, quarantined records",
                vec![
                    ("auth_events", topic(3_060, &[], 2, 95_200)),
                    ("listen_events", listen),
                    ("page_view_events", TopicStats::default()),
                ],
                Duration::from_secs(10),
                &[
                    "topic                    landed  quarantined  files    bytes    records/s  seconds",
                    "auth_events               3,060            0      2  95.2 kB          306",
                    "listen_events     1,234,567,890            3  1,201  52.4 GB  123,456,789",
                    "page_view_events              0            0      0      0 B            -",
                    "----------------------------------------------------------------------------------",
                    "total             1,234,570,950            3  1,203  52.4 GB  123,457,095    10.00",
                    "quarantined in listen_events: 2 bad_magic, 1 truncated_body",
                ],
            ),
            (
                "only quarantined records",
                vec![
                    ("a", topic(0, &[("schema_unknown", 1_000_000)], 0, 0)),
                    ("b", topic(7, &[("truncated_body", 1)], 1, 999)),
                ],
                Duration::from_secs(4),
                &[
                    "topic  landed  quarantined  files  bytes  records/s  seconds",
                    "a           0    1,000,000      0    0 B    250,000",
                    "b           7            1      1  999 B          2",
                    "------------------------------------------------------------",
                    "total       7    1,000,001      1  999 B    250,002     4.00",
                    "quarantined in a: 1,000,000 schema_unknown",
                    "quarantined in b: 1 truncated_body",
                ],
            ),
        ];
        for (name, topics, elapsed, lines) in cases {
            let stats = Stats {
                topics: topics
                    .into_iter()
                    .map(|(name, t)| (name.to_owned(), t))
                    .collect(),
                ..Stats::default()
            };
            let expected: String = lines.iter().map(|line| format!("{line}\n")).collect();
            assert_eq!(stats.summary(elapsed), expected, "{name}");
        }
    }

    #[test]
    fn the_published_stats_are_served() {
        let telemetry = Telemetry::init("ingest", Some("127.0.0.1:0".parse().unwrap())).unwrap();
        assert!(telemetry.local_addr().is_some());
        let metrics = LanderMetrics::register(&telemetry);
        let listen = TopicStats {
            consumed: 12,
            landed: 9,
            quarantined: BTreeMap::from([("bad_magic", 2), ("truncated_body", 1)]),
            data_files: 4,
            data_bytes: 4000,
            quarantine_files: 1,
            quarantine_bytes: 96,
        };
        let stats = Stats {
            topics: BTreeMap::from([("listen_events".to_string(), listen)]),
            commits: 3,
            commit_failures: 1,
            last_commit_unix_seconds: 1_790_000_000.5,
            lag: BTreeMap::from([(("listen_events".to_string(), 2), 40)]),
            assigned: BTreeMap::from([("listen_events".to_string(), 3)]),
        };
        assert_eq!(
            (stats.consumed(), stats.landed(), stats.quarantined()),
            (12, 9, 3)
        );
        assert_eq!(stats.files(), 5);
        metrics.publish(&stats);
        metrics.record_flush(0.2);
        let text = telemetry.render();
        for line in [
            "soundlake_ingest_consumed_records_total{topic=\"listen_events\"} 12",
            "soundlake_ingest_landed_records_total{topic=\"listen_events\"} 9",
            "soundlake_ingest_quarantined_records_total{reason=\"bad_magic\",topic=\"listen_events\"} 2",
            "soundlake_ingest_quarantined_records_total{reason=\"truncated_body\",topic=\"listen_events\"} 1",
            "soundlake_ingest_succeeded_commits_total 3",
            "soundlake_ingest_failed_commits_total 1",
            "soundlake_ingest_committed_files_total{kind=\"data\",topic=\"listen_events\"} 4",
            "soundlake_ingest_committed_files_total{kind=\"quarantine\",topic=\"listen_events\"} 1",
            "soundlake_ingest_committed_bytes_total{kind=\"data\",topic=\"listen_events\"} 4000",
            "soundlake_ingest_committed_bytes_total{kind=\"quarantine\",topic=\"listen_events\"} 96",
            "soundlake_ingest_last_commit_timestamp_seconds 1790000000.5",
            "soundlake_ingest_consumer_lag_records{partition=\"2\",topic=\"listen_events\"} 40",
            "soundlake_ingest_assigned_partitions{topic=\"listen_events\"} 3",
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
