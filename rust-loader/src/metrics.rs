//! The loader's metrics (listed in docs/operations.md, "Metrics").

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use soundlake_core::telemetry::{
    Counter, Gauge, Histogram, KeyValue, ObservableGauge, Telemetry, Unit, SECONDS_BUCKETS,
};

use crate::load_log::Mode;

/// The instruments, and the last-success times the freshness gauge reads at each scrape.
pub struct LoaderMetrics {
    rows: Counter<u64>,
    bytes: Counter<u64>,
    duration: Histogram<f64>,
    succeeded: Counter<u64>,
    failed: Counter<u64>,
    last_success: Gauge<f64>,
    last_success_times: Arc<Mutex<BTreeMap<String, f64>>>,
    _since_last_success: ObservableGauge<f64>,
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

impl LoaderMetrics {
    pub fn register(telemetry: &Telemetry) -> Self {
        let last_success_times: Arc<Mutex<BTreeMap<String, f64>>> = Arc::default();
        let times = Arc::clone(&last_success_times);
        let since = telemetry.observable_gauge(
            "since_last_success",
            Unit::Seconds,
            "Seconds since the table's last successful load",
            move |observer| {
                let now = now_seconds();
                let times = times.lock().unwrap_or_else(PoisonError::into_inner);
                for (table, at) in times.iter() {
                    observer.observe(
                        (now - at).max(0.0),
                        &[KeyValue::new("table", table.clone())],
                    );
                }
            },
        );
        Self {
            rows: telemetry.counter("loaded", Unit::Rows, "Rows inserted into ClickHouse"),
            bytes: telemetry.counter(
                "loaded",
                Unit::Bytes,
                "Bytes of Native-format data sent to ClickHouse",
            ),
            duration: telemetry.histogram(
                "load_duration",
                Unit::Seconds,
                "Wall time of one table's load",
                SECONDS_BUCKETS,
            ),
            succeeded: telemetry.counter(
                "succeeded",
                Unit::Commits,
                "Table loads that succeeded (mode unchanged: nothing to do)",
            ),
            failed: telemetry.counter(
                "failed",
                Unit::Commits,
                "Table loads that failed after their retries",
            ),
            last_success: telemetry.gauge(
                "last_success_timestamp",
                Unit::Seconds,
                "Unix time of the table's last successful load",
            ),
            last_success_times,
            _since_last_success: since,
        }
    }

    /// Seeds the last-success times from the load log (so that a restart keeps them).
    pub fn seed_last_success(&self, times: &BTreeMap<String, f64>) {
        for (table, at) in times {
            self.set_last_success(table, *at);
        }
    }

    fn set_last_success(&self, table: &str, at: f64) {
        self.last_success
            .record(at, &[KeyValue::new("table", table.to_owned())]);
        self.last_success_times
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(table.to_owned(), at);
    }

    /// Rows and bytes sent to ClickHouse for `table`.
    pub fn loaded(&self, table: &str, rows: u64, bytes: u64) {
        let attrs = [KeyValue::new("table", table.to_owned())];
        self.rows.add(rows, &attrs);
        self.bytes.add(bytes, &attrs);
    }

    pub fn succeeded(&self, table: &str, mode: Mode, elapsed: Duration) {
        let attrs = [
            KeyValue::new("table", table.to_owned()),
            KeyValue::new("mode", mode.as_str()),
        ];
        self.succeeded.add(1, &attrs);
        self.duration.record(elapsed.as_secs_f64(), &attrs);
        self.set_last_success(table, now_seconds());
    }

    pub fn failed(&self, table: &str, mode: Mode, elapsed: Duration) {
        self.failed
            .add(1, &[KeyValue::new("table", table.to_owned())]);
        self.duration.record(
            elapsed.as_secs_f64(),
            &[
                KeyValue::new("table", table.to_owned()),
                KeyValue::new("mode", mode.as_str()),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_the_documented_names() {
        let telemetry = Telemetry::init("loader", None).expect("telemetry");
        let metrics = LoaderMetrics::register(&telemetry);
        metrics.seed_last_success(&BTreeMap::from([(
            "gold_churn".to_owned(),
            now_seconds() - 60.0,
        )]));
        metrics.loaded("gold_top_songs", 10, 100);
        metrics.succeeded("gold_top_songs", Mode::Full, Duration::from_millis(5));
        metrics.failed("gold_churn", Mode::Incremental, Duration::from_millis(5));
        let text = telemetry.render();
        for name in [
            "soundlake_loader_loaded_rows_total{table=\"gold_top_songs\"} 10",
            "soundlake_loader_loaded_bytes_total{table=\"gold_top_songs\"} 100",
            "soundlake_loader_succeeded_commits_total{mode=\"full\",table=\"gold_top_songs\"} 1",
            "soundlake_loader_failed_commits_total{table=\"gold_churn\"} 1",
            "soundlake_loader_load_duration_seconds_bucket",
            "soundlake_loader_last_success_timestamp_seconds{table=\"gold_churn\"}",
            "soundlake_loader_since_last_success_seconds{table=\"gold_top_songs\"}",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        let since = text
            .lines()
            .find(|l| {
                l.starts_with("soundlake_loader_since_last_success_seconds{table=\"gold_churn\"}")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .expect("the freshness gauge of gold_churn");
        assert!((59.0..120.0).contains(&since), "{since}");
        telemetry.shutdown().expect("shutdown");
    }
}
