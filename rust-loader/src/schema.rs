//! A gold table's ClickHouse schema: its columns (the Parquet files' columns, then the Hive
//! partition columns), sort key, partitioning and `CREATE TABLE` statement.

use arrow::datatypes::{DataType, Schema};

use crate::discover::GoldTable;
use crate::error::Error;
use crate::native::ConstValue;
use crate::types::{map_field, ChType, Features};

/// At most this many data columns (after the partition columns) go into the sort key.
const MAX_KEY_COLUMNS: usize = 3;

/// Where a column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The Parquet column of this name.
    File,
    /// The Hive partition folder `key=value`.
    Partition,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ch_type: ChType,
    pub source: Source,
}

/// A gold table's layout in ClickHouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub table: String,
    pub columns: Vec<Column>,
    /// The `Date` partition column the table is partitioned by month on, if any.
    pub month_column: Option<String>,
    pub order_by: Vec<String>,
}

/// Backquotes an identifier for ClickHouse.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// Days since 1970-01-01 of `YYYY-MM-DD`, if it is one (and within ClickHouse's `Date`).
pub fn parse_day(text: &str) -> Option<u16> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    u16::try_from(date.signed_duration_since(epoch).num_days()).ok()
}

/// `YYYYMM` of a day number, the partition id of `toYYYYMM(date)`.
pub fn month_of(days: u16) -> u32 {
    use chrono::Datelike;
    let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_days(chrono::Days::new(u64::from(days))))
        .unwrap_or_default();
    date.year() as u32 * 100 + date.month()
}

impl TableSchema {
    /// The schema of `table` whose files have the Arrow schema `file_schema`. A partition
    /// column is a `Date` when every partition value is a day; in a table without partitions
    /// (no rows: `file_schema` is its schema file's, which holds the partition columns too)
    /// when the file's column of that name is a date.
    pub fn derive(
        table: &GoldTable,
        file_schema: &Schema,
        features: Features,
    ) -> Result<Self, Error> {
        let mut columns = Vec::new();
        for field in file_schema.fields() {
            if table.partition_keys.contains(field.name()) {
                continue;
            }
            let ch_type = map_field(field, features).map_err(|source| Error::Unmappable {
                table: table.name.clone(),
                source,
            })?;
            columns.push(Column {
                name: field.name().clone(),
                ch_type,
                source: Source::File,
            });
        }
        let mut month_column = None;
        let mut partition_columns = Vec::new();
        for (index, key) in table.partition_keys.iter().enumerate() {
            let all_days = if table.partitions.is_empty() {
                file_schema
                    .field_with_name(key)
                    .is_ok_and(|f| matches!(f.data_type(), DataType::Date32 | DataType::Date64))
            } else {
                table.partitions.iter().all(|p| {
                    p.values
                        .get(index)
                        .is_some_and(|(_, v)| parse_day(v).is_some())
                })
            };
            let ch_type = if all_days {
                ChType::Date
            } else {
                ChType::String
            };
            if all_days && month_column.is_none() {
                month_column = Some(key.clone());
            }
            partition_columns.push(key.clone());
            columns.push(Column {
                name: key.clone(),
                ch_type,
                source: Source::Partition,
            });
        }
        let mut order_by = partition_columns;
        order_by.extend(
            columns
                .iter()
                .filter(|c| c.source == Source::File && c.ch_type.is_key_candidate())
                .take(MAX_KEY_COLUMNS)
                .map(|c| c.name.clone()),
        );
        Ok(Self {
            table: table.name.clone(),
            columns,
            month_column,
            order_by,
        })
    }

    /// The value of each partition column for a lake partition's `key=value` pairs.
    pub fn partition_values(&self, values: &[(String, String)]) -> Result<Vec<ConstValue>, Error> {
        self.columns
            .iter()
            .filter(|c| c.source == Source::Partition)
            .map(|column| {
                let text = values
                    .iter()
                    .find(|(k, _)| *k == column.name)
                    .map(|(_, v)| v.as_str())
                    .ok_or_else(|| {
                        Error::Layout(format!(
                            "gold table {}: a partition folder lacks {}=…",
                            self.table, column.name
                        ))
                    })?;
                Ok(match column.ch_type {
                    ChType::Date => ConstValue::Date(parse_day(text).ok_or_else(|| {
                        Error::Layout(format!(
                            "gold table {}: partition value {}={text} is not a date",
                            self.table, column.name
                        ))
                    })?),
                    _ => ConstValue::String(text.to_owned()),
                })
            })
            .collect()
    }

    /// `col Type, …`: what the load log records to notice schema changes.
    pub fn columns_sql(&self) -> String {
        self.columns
            .iter()
            .map(|c| format!("{} {}", quote(&c.name), c.ch_type))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `CREATE TABLE db.name (…) ENGINE = MergeTree() …`.
    pub fn create_sql(&self, database: &str, name: &str) -> String {
        let partition = match &self.month_column {
            Some(column) => format!(" PARTITION BY toYYYYMM({})", quote(column)),
            None => String::new(),
        };
        let order = if self.order_by.is_empty() {
            "tuple()".to_owned()
        } else {
            format!(
                "({})",
                self.order_by
                    .iter()
                    .map(|c| quote(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            "CREATE TABLE {}.{} ({}) ENGINE = MergeTree(){partition} ORDER BY {order}",
            quote(database),
            quote(name),
            self.columns_sql()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::LakePartition;
    use arrow::datatypes::Field;
    use std::sync::Arc;

    fn table(keys: &[&str], values: &[&str]) -> GoldTable {
        GoldTable {
            name: "gold_t".into(),
            partition_keys: keys.iter().map(|k| k.to_string()).collect(),
            partitions: values
                .iter()
                .map(|v| LakePartition {
                    key: format!("{}={v}", keys[0]),
                    values: vec![(keys[0].to_string(), v.to_string())],
                    files: Vec::new(),
                    fingerprint: String::new(),
                })
                .collect(),
            schema_file: None,
        }
    }

    #[test]
    fn date_partitions_make_monthly_partitions_and_lead_the_key() {
        let schema = Schema::new(vec![
            Field::new("song", DataType::Utf8, false),
            Field::new("plays", DataType::Int64, true),
            Field::new("score", DataType::Float64, false),
        ]);
        let t = TableSchema::derive(
            &table(&["event_date"], &["2024-01-31", "2024-02-01"]),
            &schema,
            Features::LEGACY,
        )
        .unwrap();
        assert_eq!(t.month_column.as_deref(), Some("event_date"));
        assert_eq!(t.order_by, ["event_date", "song"]);
        assert_eq!(
            t.create_sql("db", "gold_t"),
            "CREATE TABLE `db`.`gold_t` (`song` String, `plays` Nullable(Int64), `score` Float64, `event_date` Date) \
             ENGINE = MergeTree() PARTITION BY toYYYYMM(`event_date`) ORDER BY (`event_date`, `song`)"
        );
        let values = t
            .partition_values(&[("event_date".into(), "1970-01-02".into())])
            .unwrap();
        assert_eq!(values, [ConstValue::Date(1)]);
    }

    #[test]
    fn a_table_without_rows_has_the_same_schema_as_with_rows() {
        // What the data files hold, and what the schema file holds (the partition column too).
        let data = Schema::new(vec![
            Field::new("level", DataType::Utf8, true),
            Field::new("cancellations", DataType::Int64, true),
        ]);
        let mut fields = data.fields().to_vec();
        fields.push(Arc::new(Field::new("event_date", DataType::Date32, true)));
        let schema_file = Schema::new(fields);
        let with_rows = TableSchema::derive(
            &table(&["event_date"], &["2024-01-31"]),
            &data,
            Features::LEGACY,
        )
        .unwrap();
        let without =
            TableSchema::derive(&table(&["event_date"], &[]), &schema_file, Features::LEGACY)
                .unwrap();
        assert_eq!(without, with_rows);
        assert_eq!(without.month_column.as_deref(), Some("event_date"));

        // A partition column that is no date stays a string.
        let by_level = Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("level", DataType::Utf8, true),
        ]);
        let t = TableSchema::derive(&table(&["level"], &[]), &by_level, Features::LEGACY).unwrap();
        assert_eq!(t.columns_sql(), "`n` Nullable(Int64), `level` String");
        assert!(t.month_column.is_none());
    }

    #[test]
    fn unpartitioned_nullable_tables_sort_by_nothing() {
        let schema = Schema::new(vec![Field::new("x", DataType::Utf8, true)]);
        let t = TableSchema::derive(&table(&[], &[]), &schema, Features::LEGACY).unwrap();
        assert!(t.month_column.is_none());
        assert!(t
            .create_sql("db", "t")
            .ends_with("ENGINE = MergeTree() ORDER BY tuple()"));
    }

    #[test]
    fn days_and_months() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("1969-12-31"), None);
        assert_eq!(parse_day("nope"), None);
        let day = parse_day("2024-02-29").unwrap();
        assert_eq!(month_of(day), 202402);
    }
}
