//! The lander's counters. Kept as plain numbers so that a metrics exporter (the shared
//! `soundlake_core::telemetry`) can read them through observable instruments; logged at each
//! commit and at exit meanwhile.

use std::collections::BTreeMap;

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
