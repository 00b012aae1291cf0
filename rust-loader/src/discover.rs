//! Finding the gold tables on the lake: `gold/<table>/[key=value/…]part-*.parquet`.
//!
//! Names starting with `_` or `.` (Spark's `_SUCCESS`, `_temporary/`, `.crc` files) are
//! ignored. Each Hive partition folder gets a fingerprint of its files' names, sizes and
//! modification times: the incremental load compares it with the one recorded at the last
//! successful load.
//!
//! Spark writes no file at all for a partitioned model without rows, so each dbt gold model
//! also writes a schema file on every build (macro `write_schema_file`):
//! `gold/<table>/_schema/<key>=__HIVE_DEFAULT_PARTITION__/part-*.parquet`, no rows, every
//! column of the Spark table, its folders naming the partition columns. A table without data
//! files takes its schema from it.

use std::collections::BTreeMap;

use soundlake_core::lake::{LakeEntry, LakeStore};

use crate::error::Error;

/// The lake folder holding the gold tables.
pub const GOLD_DIR: &str = "gold";

/// The folder inside a gold table holding its schema file (hidden from Spark and from the
/// data files by its leading `_`).
pub const SCHEMA_DIR: &str = "_schema";

/// A Parquet file of a gold table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldFile {
    /// Path relative to the lake's root.
    pub path: String,
    pub len: u64,
    pub modified_ms: u64,
}

/// One Hive partition of a gold table (or the whole table when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakePartition {
    /// `key=value[/key=value…]`, or empty for an unpartitioned table.
    pub key: String,
    /// The partition columns' values, in folder order.
    pub values: Vec<(String, String)>,
    pub files: Vec<GoldFile>,
    /// A hash of the files' names, sizes and modification times.
    pub fingerprint: String,
}

impl LakePartition {
    /// The size of its files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }
}

/// A gold table found on the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldTable {
    pub name: String,
    /// The Hive partition keys (`event_date`), in folder order.
    pub partition_keys: Vec<String>,
    /// Sorted by key; none when the table has no rows.
    pub partitions: Vec<LakePartition>,
    /// The table's schema file (`_schema/…/*.parquet`, no rows), if the build wrote one: the
    /// schema of a table without data files.
    pub schema_file: Option<GoldFile>,
}

impl GoldTable {
    pub fn files(&self) -> impl Iterator<Item = &GoldFile> {
        self.partitions.iter().flat_map(|p| p.files.iter())
    }

    pub fn bytes(&self) -> u64 {
        self.partitions.iter().map(LakePartition::bytes).sum()
    }

    /// The file whose schema is the table's: its first data file, else its schema file.
    pub fn schema_source(&self) -> Option<&GoldFile> {
        self.files().next().or(self.schema_file.as_ref())
    }
}

/// Which tables to load: `--include` (none = all) and `--exclude`, exact names or `prefix*`.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl TableFilter {
    pub fn accepts(&self, table: &str) -> bool {
        let matches = |pattern: &String| match pattern.strip_suffix('*') {
            Some(prefix) => table.starts_with(prefix),
            None => table == pattern,
        };
        (self.include.is_empty() || self.include.iter().any(matches))
            && !self.exclude.iter().any(matches)
    }
}

/// Whether `name` can be a ClickHouse table name without quoting trouble.
pub fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('.')
}

/// The gold tables under `<lake>/gold/` that `filter` accepts, sorted by name. A table without
/// data files is found by its schema file (no partitions); a table folder with neither is
/// left out (with a log line).
pub async fn discover(store: &LakeStore, filter: &TableFilter) -> Result<Vec<GoldTable>, Error> {
    let mut tables = Vec::new();
    for entry in store.list_or_empty(GOLD_DIR, false).await? {
        let name = entry.name().to_owned();
        if !entry.is_dir || is_hidden(&name) || !filter.accepts(&name) {
            continue;
        }
        if !is_plain_identifier(&name) {
            return Err(Error::Layout(format!(
                "gold table folder {} is not a valid table name (letters, digits and _ only): rename the dbt model",
                store.url_of(&entry.path)
            )));
        }
        let files = store.list(&entry.path, true).await?;
        match table_of(store, &name, &entry.path, &files)? {
            Some(table) => tables.push(table),
            None => tracing::warn!(
                "gold table {name} has no Parquet files and no schema file ({SCHEMA_DIR}/) under {}: skipped \
                 (a dbt gold model writes its schema file on every build: re-run it with the current dbt project)",
                store.url_of(&entry.path)
            ),
        }
    }
    Ok(tables)
}

fn table_of(
    store: &LakeStore,
    name: &str,
    dir: &str,
    entries: &[LakeEntry],
) -> Result<Option<GoldTable>, Error> {
    let mut partitions: BTreeMap<String, LakePartition> = BTreeMap::new();
    let mut keys: Option<Vec<String>> = None;
    let mut schema_file: Option<(Vec<String>, GoldFile)> = None;
    for entry in entries {
        if entry.is_dir {
            continue;
        }
        let relative = entry.path[dir.len()..].trim_start_matches('/');
        if let Some(inside) = relative
            .strip_prefix(SCHEMA_DIR)
            .and_then(|r| r.strip_prefix('/'))
        {
            if let Some(found) = schema_file_of(store, name, entry, inside)? {
                // The first in name order, should a failed write have left two.
                if schema_file
                    .as_ref()
                    .is_none_or(|(_, f)| found.1.path < f.path)
                {
                    schema_file = Some(found);
                }
            }
            continue;
        }
        let parts: Vec<&str> = relative.split('/').collect();
        let Some((file_name, folders)) = parts.split_last() else {
            continue;
        };
        if parts.iter().any(|p| is_hidden(p)) || !file_name.ends_with(".parquet") {
            continue;
        }
        let mut values = Vec::with_capacity(folders.len());
        for folder in folders {
            let (key, value) = folder.split_once('=').ok_or_else(|| {
                Error::Layout(format!(
                    "{}: folder {folder:?} inside gold table {name} is not a Hive partition (key=value)",
                    store.url_of(&entry.path)
                ))
            })?;
            values.push((key.to_owned(), unescape_hive(value)));
        }
        let these: Vec<String> = values.iter().map(|(k, _)| k.clone()).collect();
        match &keys {
            None => keys = Some(these),
            Some(known) if *known != these => {
                return Err(Error::Layout(format!(
                    "gold table {name} mixes partition layouts: {} is under ({}) but other files under ({}); rewrite the table",
                    store.url_of(&entry.path),
                    these.join(", "),
                    known.join(", ")
                )))
            }
            Some(_) => {}
        }
        let key = folders.join("/");
        partitions
            .entry(key.clone())
            .or_insert_with(|| LakePartition {
                key,
                values,
                files: Vec::new(),
                fingerprint: String::new(),
            })
            .files
            .push(GoldFile {
                path: entry.path.clone(),
                len: entry.len,
                modified_ms: entry.modified_ms,
            });
    }
    let (partition_keys, schema_file) = match (keys, schema_file) {
        (Some(keys), schema) => (keys, schema.map(|(_, file)| file)),
        (None, Some((keys, file))) => (keys, Some(file)),
        (None, None) => return Ok(None),
    };
    let partitions = partitions
        .into_values()
        .map(|mut p| {
            p.files.sort_by(|a, b| a.path.cmp(&b.path));
            p.fingerprint = fingerprint(&p.files);
            p
        })
        .collect();
    Ok(Some(GoldTable {
        name: name.to_owned(),
        partition_keys,
        partitions,
        schema_file,
    }))
}

/// The partition keys and the file of a schema file at `inside` (its path under `_schema/`),
/// if it is one: `key=…/…/name.parquet`, no hidden names.
fn schema_file_of(
    store: &LakeStore,
    name: &str,
    entry: &LakeEntry,
    inside: &str,
) -> Result<Option<(Vec<String>, GoldFile)>, Error> {
    let parts: Vec<&str> = inside.split('/').collect();
    let Some((file_name, folders)) = parts.split_last() else {
        return Ok(None);
    };
    if parts.iter().any(|p| is_hidden(p)) || !file_name.ends_with(".parquet") {
        return Ok(None);
    }
    let keys = folders
        .iter()
        .map(|folder| {
            folder
                .split_once('=')
                .map(|(key, _)| key.to_owned())
                .ok_or_else(|| {
                    Error::Layout(format!(
                        "{}: folder {folder:?} in the schema folder of gold table {name} is not a Hive partition (key=value); \
                         re-run the gold model to rewrite it",
                        store.url_of(&entry.path)
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((
        keys,
        GoldFile {
            path: entry.path.clone(),
            len: entry.len,
            modified_ms: entry.modified_ms,
        },
    )))
}

/// A hash of the files' names, sizes and modification times.
pub fn fingerprint(files: &[GoldFile]) -> String {
    let mut hash = Fnv::default();
    for file in files {
        hash.write(
            file.path
                .rsplit('/')
                .next()
                .unwrap_or(&file.path)
                .as_bytes(),
        );
        hash.write(&file.len.to_le_bytes());
        hash.write(&file.modified_ms.to_le_bytes());
    }
    format!("{:016x}", hash.finish())
}

/// FNV-1a, 64 bits: a stable hash (the standard library's is not stable across releases).
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// Undoes Hive's `%XX` escaping of partition values.
fn unescape_hive(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&value[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use soundlake_core::lake::LakeUrl;

    fn store() -> LakeStore {
        LakeStore::open(&LakeUrl::parse("file:///nowhere").unwrap()).unwrap()
    }

    fn file(path: &str) -> LakeEntry {
        LakeEntry {
            path: path.into(),
            len: 10,
            is_dir: false,
            modified_ms: 1,
        }
    }

    const SCHEMA: &str = "gold/t/_schema/event_date=__HIVE_DEFAULT_PARTITION__/part-0.parquet";

    #[test]
    fn a_table_without_rows_is_found_by_its_schema_file() {
        let entries = [
            file("gold/t/_SUCCESS"),
            file("gold/t/_schema/event_date=__HIVE_DEFAULT_PARTITION__/_SUCCESS"),
            file(SCHEMA),
        ];
        let table = table_of(&store(), "t", "gold/t", &entries)
            .unwrap()
            .expect("a table");
        assert_eq!(table.partition_keys, ["event_date"]);
        assert!(table.partitions.is_empty());
        assert_eq!(table.files().count(), 0);
        assert_eq!(table.schema_source().map(|f| f.path.as_str()), Some(SCHEMA));
    }

    #[test]
    fn data_files_come_before_the_schema_file_and_it_is_no_partition() {
        let data = "gold/t/event_date=2024-01-01/part-0.parquet";
        let entries = [file(SCHEMA), file(data)];
        let table = table_of(&store(), "t", "gold/t", &entries)
            .unwrap()
            .expect("a table");
        assert_eq!(table.partitions.len(), 1);
        assert_eq!(table.partitions[0].key, "event_date=2024-01-01");
        assert_eq!(table.schema_source().map(|f| f.path.as_str()), Some(data));
        assert_eq!(
            table.schema_file.as_ref().map(|f| f.path.as_str()),
            Some(SCHEMA)
        );
    }

    #[test]
    fn a_folder_with_neither_is_no_table() {
        let entries = [file("gold/t/_SUCCESS"), file("gold/t/_schema/_SUCCESS")];
        assert_eq!(table_of(&store(), "t", "gold/t", &entries).unwrap(), None);
        let unpartitioned = [file("gold/u/_schema/part-0.parquet")];
        let table = table_of(&store(), "u", "gold/u", &unpartitioned)
            .unwrap()
            .expect("a table");
        assert!(table.partition_keys.is_empty());
        assert!(table.schema_file.is_some());
    }

    #[test]
    fn filters() {
        let filter = TableFilter {
            include: vec!["gold_top*".into(), "gold_churn".into()],
            exclude: vec!["gold_top_artists".into()],
        };
        assert!(filter.accepts("gold_top_songs"));
        assert!(filter.accepts("gold_churn"));
        assert!(!filter.accepts("gold_top_artists"));
        assert!(!filter.accepts("gold_device_mix"));
        assert!(TableFilter::default().accepts("anything"));
    }

    #[test]
    fn identifiers_and_escapes() {
        assert!(is_plain_identifier("gold_top_songs"));
        assert!(!is_plain_identifier("gold-top"));
        assert!(!is_plain_identifier("1x"));
        assert_eq!(unescape_hive("a%3Ab"), "a:b");
        assert_eq!(unescape_hive("100%"), "100%");
    }

    #[test]
    fn fingerprints_change_with_any_file_attribute() {
        let file = GoldFile {
            path: "gold/t/part-0.parquet".into(),
            len: 10,
            modified_ms: 1,
        };
        let base = fingerprint(std::slice::from_ref(&file));
        let longer = GoldFile {
            len: 11,
            ..file.clone()
        };
        let newer = GoldFile {
            modified_ms: 2,
            ..file.clone()
        };
        assert_ne!(base, fingerprint(&[longer]));
        assert_ne!(base, fingerprint(&[newer]));
        assert_eq!(base, fingerprint(&[file]));
    }
}
