//! Deciding what to do with each gold table: nothing, a full load, or an incremental load of the
//! ClickHouse months whose lake partitions changed since the last successful load.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::discover::{GoldTable, LakePartition};
use crate::load_log::LogEntry;
use crate::schema::{month_of, parse_day, TableSchema};

/// What a table's load does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The lake has not changed since the last successful load.
    Unchanged,
    /// Load everything into a staging table and swap it in.
    Full { reason: String },
    /// Reload these months (`YYYYMM`) into a staging table and replace them.
    Incremental {
        months: Vec<u32>,
        /// The lake partitions that changed, appeared or disappeared.
        changed: Vec<String>,
    },
}

/// A table, its schema and what to do with it.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub table: GoldTable,
    pub schema: TableSchema,
    pub action: Action,
}

impl TablePlan {
    /// The lake partitions the action reads.
    pub fn partitions_to_read(&self) -> Vec<&LakePartition> {
        match &self.action {
            Action::Unchanged => Vec::new(),
            Action::Full { .. } => self.table.partitions.iter().collect(),
            Action::Incremental { months, .. } => self
                .table
                .partitions
                .iter()
                .filter(|p| {
                    month_of_partition(&self.schema, p).is_some_and(|m| months.contains(&m))
                })
                .collect(),
        }
    }

    /// The lake state to record after a successful load: partition → fingerprint.
    pub fn lake_state(&self) -> BTreeMap<String, String> {
        self.table
            .partitions
            .iter()
            .map(|p| (p.key.clone(), p.fingerprint.clone()))
            .collect()
    }

    /// Whether the month has any lake partition (otherwise an incremental load drops it).
    pub fn month_has_data(&self, month: u32) -> bool {
        self.table
            .partitions
            .iter()
            .any(|p| month_of_partition(&self.schema, p) == Some(month))
    }

    /// The plan as `--dry-run` prints it.
    pub fn describe(&self, database: &str, table_exists: bool) -> String {
        let mut text = String::new();
        let name = &self.table.name;
        let files = self.table.files().count();
        let _ = writeln!(
            text,
            "{name}: {} lake partition(s), {files} file(s), {} bytes",
            self.table.partitions.len(),
            self.table.bytes()
        );
        if files == 0 {
            if let Some(schema_file) = &self.table.schema_file {
                let _ = writeln!(
                    text,
                    "  no rows yet: the columns come from its schema file {}",
                    schema_file.path
                );
            }
        }
        match &self.action {
            Action::Unchanged => {
                let _ = writeln!(
                    text,
                    "  unchanged since the last successful load: nothing to do"
                );
            }
            Action::Full { reason } => {
                let staging = staging_name(name);
                let _ = writeln!(
                    text,
                    "  full load ({reason}): into {database}.{staging}, verified, then swapped in"
                );
                let _ = writeln!(text, "  {}", self.schema.create_sql(database, &staging));
                if table_exists {
                    let _ = writeln!(text, "  then replaces {database}.{name} atomically");
                } else {
                    let _ = writeln!(text, "  then renamed to {database}.{name}");
                }
            }
            Action::Incremental { months, changed } => {
                let _ = writeln!(
                    text,
                    "  incremental: lake partitions changed: {}",
                    changed.join(", ")
                );
                let staging = staging_name(name);
                let _ = writeln!(text, "  {}", self.schema.create_sql(database, &staging));
                for month in months {
                    if self.month_has_data(*month) {
                        let _ = writeln!(text, "  ALTER TABLE {database}.{name} REPLACE PARTITION {month} FROM {database}.{staging}");
                    } else {
                        let _ = writeln!(
                            text,
                            "  ALTER TABLE {database}.{name} DROP PARTITION {month}"
                        );
                    }
                }
            }
        }
        text
    }
}

/// The staging table of a load of `table`.
pub fn staging_name(table: &str) -> String {
    format!("_staging_{table}")
}

/// The table being replaced during a swap (on servers without `EXCHANGE TABLES`).
pub fn old_name(table: &str) -> String {
    format!("_old_{table}")
}

fn month_of_partition(schema: &TableSchema, partition: &LakePartition) -> Option<u32> {
    month_of_values(schema, &partition.values)
}

fn month_of_values(schema: &TableSchema, values: &[(String, String)]) -> Option<u32> {
    let column = schema.month_column.as_ref()?;
    let (_, value) = values.iter().find(|(k, _)| k == column)?;
    parse_day(value).map(month_of)
}

/// Decides what to do with `table` given the last successful load (if any) and whether the
/// ClickHouse table exists.
pub fn decide(
    table: &GoldTable,
    schema: &TableSchema,
    previous: Option<&LogEntry>,
    table_exists: bool,
    force_full: bool,
) -> Action {
    let full = |reason: &str| Action::Full {
        reason: reason.to_owned(),
    };
    if force_full {
        return full("--full");
    }
    if !table_exists {
        return full("the ClickHouse table does not exist");
    }
    let Some(previous) = previous else {
        return full("no successful load in the load log");
    };
    if previous.schema != schema.columns_sql() {
        return full("the table's schema changed");
    }
    let before = previous.lake_state();
    let now: BTreeMap<&str, &str> = table
        .partitions
        .iter()
        .map(|p| (p.key.as_str(), p.fingerprint.as_str()))
        .collect();
    let mut changed: Vec<String> = now
        .iter()
        .filter(|(key, fingerprint)| before.get(**key).map(String::as_str) != Some(**fingerprint))
        .map(|(key, _)| (*key).to_owned())
        .collect();
    changed.extend(
        before
            .keys()
            .filter(|key| !now.contains_key(key.as_str()))
            .cloned(),
    );
    changed.sort();
    if changed.is_empty() {
        return Action::Unchanged;
    }
    if schema.month_column.is_none() {
        return full("files changed in a table without date partitions");
    }
    let mut months = BTreeSet::new();
    for key in &changed {
        let values: Vec<(String, String)> = key
            .split('/')
            .filter_map(|part| part.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        match month_of_values(schema, &values) {
            Some(month) => {
                months.insert(month);
            }
            None => return full("a changed lake partition has no date"),
        }
    }
    Action::Incremental {
        months: months.into_iter().collect(),
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, Source};
    use crate::types::{ChType, Features};

    fn partition(day: &str, fingerprint: &str) -> LakePartition {
        LakePartition {
            key: format!("event_date={day}"),
            values: vec![("event_date".into(), day.into())],
            files: Vec::new(),
            fingerprint: fingerprint.into(),
        }
    }

    fn setup(days: &[(&str, &str)]) -> (GoldTable, TableSchema) {
        let table = GoldTable {
            name: "gold_t".into(),
            partition_keys: vec!["event_date".into()],
            partitions: days.iter().map(|(d, f)| partition(d, f)).collect(),
            schema_file: None,
        };
        let schema = TableSchema {
            table: "gold_t".into(),
            columns: vec![Column {
                name: "event_date".into(),
                ch_type: ChType::Date,
                source: Source::Partition,
            }],
            month_column: Some("event_date".into()),
            order_by: vec!["event_date".into()],
        };
        let _ = Features::LEGACY;
        (table, schema)
    }

    fn entry(table: &GoldTable, schema: &TableSchema) -> LogEntry {
        LogEntry {
            table: table.name.clone(),
            mode: "full".into(),
            status: "success".into(),
            lake_partitions: table.partitions.iter().map(|p| p.key.clone()).collect(),
            fingerprints: table
                .partitions
                .iter()
                .map(|p| p.fingerprint.clone())
                .collect(),
            partitions: vec!["all".into()],
            rows: 0,
            bytes: 0,
            checksum: String::new(),
            schema: schema.columns_sql(),
            started: String::new(),
            finished: String::new(),
            seq: 1,
            error: String::new(),
            loader_version: String::new(),
        }
    }

    #[test]
    fn decisions() {
        let (table, schema) = setup(&[("2024-01-30", "a"), ("2024-02-01", "b")]);
        let previous = entry(&table, &schema);
        assert!(matches!(
            decide(&table, &schema, None, true, false),
            Action::Full { .. }
        ));
        assert!(matches!(
            decide(&table, &schema, Some(&previous), false, false),
            Action::Full { .. }
        ));
        assert_eq!(
            decide(&table, &schema, Some(&previous), true, false),
            Action::Unchanged
        );
        assert!(matches!(
            decide(&table, &schema, Some(&previous), true, true),
            Action::Full { .. }
        ));

        let (changed, _) = setup(&[
            ("2024-01-30", "a"),
            ("2024-02-01", "B"),
            ("2024-03-05", "c"),
        ]);
        assert_eq!(
            decide(&changed, &schema, Some(&previous), true, false),
            Action::Incremental {
                months: vec![202402, 202403],
                changed: vec![
                    "event_date=2024-02-01".into(),
                    "event_date=2024-03-05".into()
                ],
            }
        );
        let (removed, _) = setup(&[("2024-02-01", "b")]);
        let action = decide(&removed, &schema, Some(&previous), true, false);
        assert_eq!(
            action,
            Action::Incremental {
                months: vec![202401],
                changed: vec!["event_date=2024-01-30".into()],
            }
        );
        let plan = TablePlan {
            table: removed,
            schema: schema.clone(),
            action,
        };
        assert!(!plan.month_has_data(202401));
        assert!(plan.partitions_to_read().is_empty());

        // A table without rows (schema file only): created empty, then unchanged while it
        // stays empty, loaded incrementally when rows come, its months dropped when they go.
        let (empty, _) = setup(&[]);
        assert!(matches!(
            decide(&empty, &schema, None, false, false),
            Action::Full { .. }
        ));
        let loaded_empty = entry(&empty, &schema);
        assert_eq!(
            decide(&empty, &schema, Some(&loaded_empty), true, false),
            Action::Unchanged
        );
        assert_eq!(
            decide(&table, &schema, Some(&loaded_empty), true, false),
            Action::Incremental {
                months: vec![202401, 202402],
                changed: vec![
                    "event_date=2024-01-30".into(),
                    "event_date=2024-02-01".into()
                ],
            }
        );
        let emptied = decide(&empty, &schema, Some(&previous), true, false);
        assert_eq!(
            emptied,
            Action::Incremental {
                months: vec![202401, 202402],
                changed: vec![
                    "event_date=2024-01-30".into(),
                    "event_date=2024-02-01".into()
                ],
            }
        );
        let plan = TablePlan {
            table: empty,
            schema: schema.clone(),
            action: emptied,
        };
        assert!(!plan.month_has_data(202401) && !plan.month_has_data(202402));
        assert!(plan.partitions_to_read().is_empty());

        let mut other_schema = previous.clone();
        other_schema.schema = "`x` Int8".into();
        assert!(matches!(
            decide(&table, &schema, Some(&other_schema), true, false),
            Action::Full { .. }
        ));
    }
}
