//! Names that never collide between test runs, processes or threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Longest prefix kept, so that names stay well below every limit (Kafka allows 249 characters).
const MAX_PREFIX_LEN: usize = 40;

/// A name unique to this process, moment and call: `<prefix>_<pid>_<millis>_<counter>`.
///
/// The result contains only `[a-z0-9_]` and starts with a letter or `_`, so it is valid as a
/// Kafka topic, an HDFS folder name and an unquoted ClickHouse identifier (database or table).
/// Characters of `prefix` outside `[A-Za-z0-9_]` become `_`; letters are lowercased.
pub fn unique_name(prefix: &str) -> String {
    let pid = std::process::id();
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}_{pid}_{millis}_{count}", sanitize(prefix))
}

fn sanitize(prefix: &str) -> String {
    let mut clean: String = prefix
        .chars()
        .take(MAX_PREFIX_LEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !clean.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        clean.insert_str(0, "t_");
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid_identifier(name: &str) -> bool {
        name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    #[test]
    fn names_are_unique_and_valid_everywhere() {
        let first = unique_name("lander");
        let second = unique_name("lander");
        assert_ne!(first, second);
        assert!(first.starts_with("lander_"), "{first}");
        assert!(is_valid_identifier(&first), "{first}");
    }

    #[test]
    fn odd_prefixes_are_cleaned() {
        for prefix in ["", "9lives", "Bronze.Events-v2", "päth/x", &"x".repeat(300)] {
            let name = unique_name(prefix);
            assert!(is_valid_identifier(&name), "{prefix:?} gave {name:?}");
            assert!(name.len() < 100, "{name}");
        }
    }
}
