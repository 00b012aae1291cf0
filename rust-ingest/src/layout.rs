//! The bronze lake layout, below the lake root: every folder and file name the lander, the
//! commit log and the bronze jobs agree on, in one place.
//!
//! ```text
//! bronze/<topic>/event_date=YYYY-MM-DD/hour=HH/part-….zstd.parquet  committed data
//! bronze/_commits/00000000000000000007.json             commit-log entry 7
//! bronze/_commits/checkpoint-00000000000000000100.json  the log's state before entry 100
//! bronze/_staging/<writer>/…                            files being written, not yet committed
//! bronze/_quarantine/<topic>/part-….zstd.parquet        records that cannot be landed
//! bronze/_orphans/<topic>/…                             unreferenced files moved out of bronze
//! bronze/_compactions/*.json                            records of committed compactions
//! bronze/_compaction/…                                  the compactor's files being written
//! ```
//!
//! The plain names are one `pub const NAME: &str = "value";` line each: the Python side's
//! mirror (`python/soundlake/lake_layout.py`) is checked against these lines by a test.

use chrono::NaiveDate;

/// The bronze layer's folder.
pub const BRONZE: &str = "bronze";
/// The commit log: its entries and checkpoints (`DESIGN-exactly-once.md`).
pub const COMMITS: &str = "bronze/_commits";
/// Each writer's files being written, below `<writer>/`, before a commit renames them.
pub const STAGING: &str = "bronze/_staging";
/// Unreferenced files moved out of bronze, below `<topic>/…` as they were below `bronze/`.
pub const ORPHANS: &str = "bronze/_orphans";
/// Records that cannot be landed, below `<topic>/`.
pub const QUARANTINE: &str = "bronze/_quarantine";
/// Records of the bronze compaction job (`python/soundlake/jobs/compact_bronze.py`): each
/// names the files it wrote in place of the lander's small ones.
pub const COMPACTIONS: &str = "bronze/_compactions";
/// The bronze compaction job's files being written (the Python compactor's staging folder).
pub const COMPACTION_STAGING: &str = "bronze/_compaction";
/// The name of a commit-log checkpoint starts with this, then the next entry's number.
pub const CHECKPOINT_PREFIX: &str = "checkpoint-";
/// The Hive partition column of the event's UTC date (`YYYY-MM-DD`).
pub const DATE_PARTITION: &str = "event_date";
/// The Hive partition column of the event's UTC hour (`HH`, two digits).
pub const HOUR_PARTITION: &str = "hour";

/// Digits of an entry number in a commit-log file name (zero-padded, so names sort as numbers).
const SEQ_DIGITS: usize = 20;

/// The Hive partition folder of an event hour below the topic's folder:
/// `event_date=2026-11-25/hour=07`.
pub fn partition_dir(event_date: NaiveDate, hour: u8) -> String {
    format!(
        "{DATE_PARTITION}={}/{HOUR_PARTITION}={hour:02}",
        event_date.format("%Y-%m-%d")
    )
}

/// The folder of a topic's bronze table: `bronze/<topic>`.
pub fn topic_dir(topic: &str) -> String {
    format!("{BRONZE}/{topic}")
}

/// The lake path of a bronze data file: `bronze/<topic>/<partition dir>/<name>`.
pub fn bronze_path(topic: &str, partition_dir: &str, name: &str) -> String {
    format!("{BRONZE}/{topic}/{partition_dir}/{name}")
}

/// The lake path of a quarantine file of `topic`: `bronze/_quarantine/<topic>/<name>`.
pub fn quarantine_path(topic: &str, name: &str) -> String {
    format!("{QUARANTINE}/{topic}/{name}")
}

/// A data or quarantine file name unique to a writer: `part-<writer>-<start ms>-<n>.zstd.parquet`
/// (`start_ms` distinguishes the writer's runs, `n` its files within a run).
pub fn data_file_name(writer_id: &str, start_ms: i64, n: u64) -> String {
    format!("part-{writer_id}-{start_ms}-{n:06}.zstd.parquet")
}

/// A writer's staging folder: `bronze/_staging/<writer>`.
pub fn staging_dir(writer_id: &str) -> String {
    format!("{STAGING}/{writer_id}")
}

/// Where an unreferenced file below `bronze/` is moved: the same path below `bronze/_orphans/`.
pub fn orphan_path(bronze_path: &str) -> String {
    let below = bronze_path.trim_start_matches(format!("{BRONZE}/").as_str());
    format!("{ORPHANS}/{below}")
}

/// The lake path of commit-log entry `seq`.
pub fn entry_path(seq: u64) -> String {
    format!("{COMMITS}/{seq:0SEQ_DIGITS$}.json")
}

/// The lake path of the checkpoint of the log's state before entry `next_seq`.
pub fn checkpoint_path(next_seq: u64) -> String {
    format!("{COMMITS}/{CHECKPOINT_PREFIX}{next_seq:0SEQ_DIGITS$}.json")
}

/// The name a checkpoint is written under in the writer's staging folder before it is put in
/// place.
pub fn staged_checkpoint_name(next_seq: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{next_seq}.json")
}

/// The entry number of a commit-log file name (`00000000000000000007.json`), if it is one.
pub fn parse_entry_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    (digits.len() == SEQ_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The next entry number of a checkpoint's file name, if it is one.
pub fn parse_checkpoint_name(name: &str) -> Option<u64> {
    parse_entry_name(name.strip_prefix(CHECKPOINT_PREFIX)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_folder_is_below_bronze() {
        for folder in [
            COMMITS,
            STAGING,
            ORPHANS,
            QUARANTINE,
            COMPACTIONS,
            COMPACTION_STAGING,
        ] {
            assert_eq!(folder.split_once('/').map(|(top, _)| top), Some(BRONZE));
        }
    }

    #[test]
    fn composed_paths() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        let cases = [
            (partition_dir(day, 7), "event_date=2026-11-25/hour=07"),
            (partition_dir(day, 23), "event_date=2026-11-25/hour=23"),
            (topic_dir("auth_events"), "bronze/auth_events"),
            (
                bronze_path("t", "event_date=2026-11-25/hour=07", "f"),
                "bronze/t/event_date=2026-11-25/hour=07/f",
            ),
            (quarantine_path("t", "f"), "bronze/_quarantine/t/f"),
            (
                data_file_name("w", 1_700_000_000_000, 7),
                "part-w-1700000000000-000007.zstd.parquet",
            ),
            (staging_dir("w"), "bronze/_staging/w"),
            (
                orphan_path("bronze/t/event_date=2026-11-25/hour=07/f"),
                "bronze/_orphans/t/event_date=2026-11-25/hour=07/f",
            ),
            (entry_path(7), "bronze/_commits/00000000000000000007.json"),
            (
                checkpoint_path(100),
                "bronze/_commits/checkpoint-00000000000000000100.json",
            ),
            (staged_checkpoint_name(100), "checkpoint-100.json"),
        ];
        for (path, expected) in cases {
            assert_eq!(path, expected);
        }
    }

    #[test]
    fn log_file_names_parse_back() {
        let cases: [(&str, Option<u64>, Option<u64>); 6] = [
            ("00000000000000000007.json", Some(7), None),
            ("checkpoint-00000000000000000100.json", None, Some(100)),
            ("0000000000000000007.json", None, None),
            ("00000000000000000007.tmp", None, None),
            ("0000000000000000000x.json", None, None),
            ("checkpoint-100.json", None, None),
        ];
        for (name, entry, checkpoint) in cases {
            assert_eq!(parse_entry_name(name), entry, "{name}");
            assert_eq!(parse_checkpoint_name(name), checkpoint, "{name}");
        }
        let seq = 12_345;
        let entry = entry_path(seq);
        let name = entry.rsplit('/').next().expect("name");
        assert_eq!(parse_entry_name(name), Some(seq));
    }
}
