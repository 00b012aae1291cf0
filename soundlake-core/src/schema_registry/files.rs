//! The no-registry mode: the schema files of `schema-registry/` and the fixed ids of its
//! `ids.json`, compiled in or read from another copy of the folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{schema_text, SchemaError};
use crate::event::Topic;

const IDS_JSON: &str = include_str!("../../../schema-registry/ids.json");

/// The no-registry mode: each topic's current schema is its `.avsc` file, with the fixed id
/// given in `ids.json` (`{"<topic>": <id>, …}`).
#[derive(Debug, Clone)]
pub struct FileSchemas {
    /// Where they come from, for messages.
    origin: String,
    ids: [u32; 4],
    texts: [Arc<str>; 4],
}

impl FileSchemas {
    /// The schema files and ids compiled into the binary (the repository's `schema-registry/`).
    pub fn embedded() -> FileSchemas {
        let ids = parse_ids(IDS_JSON, "schema-registry/ids.json (built in)")
            .unwrap_or_else(|e| panic!("the built-in schema-registry/ids.json is broken: {e}"));
        FileSchemas {
            origin: "schema-registry/ids.json (built in)".to_string(),
            ids,
            texts: Topic::ALL.map(|t| Arc::from(schema_text(t))),
        }
    }

    /// Reads `dir/ids.json` and `dir/<topic>.avsc` of every topic.
    pub fn load(dir: &Path) -> Result<FileSchemas, SchemaError> {
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path).map_err(|e| SchemaError::Files {
                where_: path.display().to_string(),
                reason: format!("cannot read it: {e}"),
            })
        };
        let ids_path = dir.join("ids.json");
        let origin = ids_path.display().to_string();
        let ids = parse_ids(&read(ids_path)?, &origin)?;
        let mut texts = Topic::ALL.map(|_| Arc::<str>::from(""));
        for t in Topic::ALL {
            texts[t.index()] = Arc::from(read(dir.join(t.schema_file()))?);
        }
        Ok(FileSchemas { origin, ids, texts })
    }

    /// Where they come from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The fixed id of `topic`'s schema.
    pub fn id_of(&self, topic: Topic) -> u32 {
        self.ids[topic.index()]
    }

    /// The topic whose schema has this id.
    pub fn topic_of(&self, id: u32) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| self.ids[t.index()] == id)
    }

    /// The schema text of `topic`.
    pub fn text(&self, topic: Topic) -> Arc<str> {
        Arc::clone(&self.texts[topic.index()])
    }

    /// The schema text of `id`.
    pub fn schema(&self, id: u32) -> Result<Arc<str>, SchemaError> {
        self.topic_of(id)
            .map(|t| self.text(t))
            .ok_or_else(|| SchemaError::UnknownFileId {
                id,
                where_: self.origin.clone(),
                known: Topic::ALL
                    .iter()
                    .map(|t| format!("{t} {}", self.id_of(*t)))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

fn parse_ids(text: &str, origin: &str) -> Result<[u32; 4], SchemaError> {
    let err = |reason: String| SchemaError::Files {
        where_: origin.to_string(),
        reason,
    };
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| err("expected an object {\"<topic>\": <id>, …}".to_string()))?;
    for key in obj.keys() {
        if Topic::from_name(key).is_none() {
            return Err(err(format!("{key:?} is not a topic")));
        }
    }
    let mut ids = [0u32; 4];
    for t in Topic::ALL {
        let v = obj
            .get(t.name())
            .ok_or_else(|| err(format!("no id for {t}")))?;
        ids[t.index()] = v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| err(format!("{t}: expected a positive 32-bit id, found {v}")))?;
    }
    for t in Topic::ALL {
        if Topic::ALL
            .iter()
            .any(|u| u != &t && ids[u.index()] == ids[t.index()])
        {
            return Err(err(format!(
                "{t} shares its id {} with another topic",
                ids[t.index()]
            )));
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_have_distinct_ids_and_their_topic_names() {
        let f = FileSchemas::embedded();
        for t in Topic::ALL {
            let id = f.id_of(t);
            assert_eq!(f.topic_of(id), Some(t));
            let text = f.schema(id).expect("schema");
            let json: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
            let fields: Vec<&str> = json["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| f["name"].as_str().expect("name"))
                .collect();
            assert_eq!(fields, t.fields(), "{t}");
        }
        let err = f.schema(1).expect_err("id 1 is no file id").to_string();
        assert!(err.contains("listen_events 1000001"), "{err}");
    }

    #[test]
    fn load_reads_the_folder_like_the_embedded_copy() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema-registry");
        let f = FileSchemas::load(&dir).expect("load");
        let e = FileSchemas::embedded();
        for t in Topic::ALL {
            assert_eq!(f.id_of(t), e.id_of(t));
            assert_eq!(f.text(t), e.text(t));
        }
        let missing = FileSchemas::load(Path::new("/nonexistent")).expect_err("missing");
        assert!(
            missing.to_string().contains("/nonexistent/ids.json"),
            "{missing}"
        );
    }

    #[test]
    fn bad_ids_files_are_rejected_with_the_reason() {
        let cases = [
            ("[]", "expected an object"),
            ("{\"x\": 1}", "\"x\" is not a topic"),
            ("{\"listen_events\": 1}", "no id for page_view_events"),
            (
                r#"{"listen_events": 1, "page_view_events": 1, "auth_events": 3, "status_change_events": 4}"#,
                "shares its id 1",
            ),
            (
                r#"{"listen_events": -1, "page_view_events": 2, "auth_events": 3, "status_change_events": 4}"#,
                "expected a positive 32-bit id",
            ),
        ];
        for (text, want) in cases {
            let err = parse_ids(text, "ids.json").expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
