//! The JSON output per topic: field names and order as in the Avro schemas of
//! `schema-registry/`, types as the schemas say, nullable fields only where the schemas allow.

mod common;

use std::sync::Arc;

use eventsim::run::simulate_user;
use eventsim::sinks::json::{Fragments, JsonEncoder};
use eventsim::sinks::{Chunk, Encoder};
use serde_json::Value;
use soundlake_core::event::Topic;

/// (name, type, nullable) of each field of a topic's schema.
fn schema_fields(topic: Topic) -> Vec<(String, String, bool)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schema-registry")
        .join(topic.schema_file());
    let text = std::fs::read_to_string(&path).expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            let name = f["name"].as_str().expect("name").to_string();
            match &f["type"] {
                Value::String(t) => (name, t.clone(), false),
                Value::Array(u) => {
                    assert_eq!(u[0], "null", "{name}: null first, with default null");
                    assert!(
                        f.get("default").is_some_and(Value::is_null),
                        "{name}: default null"
                    );
                    (name, u[1].as_str().expect("type").to_string(), true)
                }
                other => panic!("{name}: unexpected type {other}"),
            }
        })
        .collect()
}

#[test]
fn schemas_match_the_event_model() {
    for t in Topic::ALL {
        let fields = schema_fields(t);
        let names: Vec<&str> = fields.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, t.fields(), "{t}");
        for (name, _, nullable) in &fields {
            assert_eq!(*nullable, t.is_nullable(name), "{t}.{name}");
        }
    }
}

fn type_ok(v: &Value, avro: &str) -> bool {
    match avro {
        "long" | "int" => v.is_i64(),
        "double" => v.is_number(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        _ => false,
    }
}

#[test]
fn json_lines_follow_the_schemas() {
    let (_, sink, summary) =
        common::run_reference("200", "2015-06-01T00:00:00", "2015-06-08T00:00:00", "2");
    for t in Topic::ALL {
        let fields = schema_fields(t);
        let mut lines = 0;
        for line in sink.lines(t) {
            lines += 1;
            let obj: serde_json::Map<String, Value> =
                serde_json::from_str(line).expect("JSON object");
            // Keys in schema order (serde_json's map sorts them: order them by where they are in
            // the line), each a schema field; required fields all present.
            let mut keys: Vec<(usize, &String, &Value)> = obj
                .iter()
                .map(|(k, v)| (line.find(&format!("\"{k}\":")).expect("key in line"), k, v))
                .collect();
            keys.sort_by_key(|k| k.0);
            let mut at = 0;
            for (_, k, v) in keys {
                let pos = fields[at..]
                    .iter()
                    .position(|f| &f.0 == k)
                    .unwrap_or_else(|| panic!("{t}: {k} unknown or out of order in {line}"));
                at += pos + 1;
                let (_, ty, _) = &fields[at - 1];
                assert!(type_ok(v, ty), "{t}.{k}: {v} is not {ty}");
            }
            for (name, _, nullable) in &fields {
                assert!(
                    *nullable || obj.contains_key(name),
                    "{t}: {name} missing in {line}"
                );
            }
            let ua = obj["userAgent"].as_str().expect("userAgent");
            assert!(
                ua.starts_with('"') && ua.ends_with('"'),
                "eventsim quotes user agents"
            );
        }
        assert_eq!(lines as u64, summary.per_topic[t.index()], "{t}");
        assert!(lines > 0, "{t} has records");
    }
}

#[test]
fn fragments_encode_the_same_bytes_as_plain_encoding() {
    let config = common::reference_config();
    let plan = common::plan_of(&[
        "-c",
        config.to_str().expect("utf-8 path"),
        "--nusers",
        "50",
        "--start-time",
        "2015-06-01T00:00:00",
        "--end-time",
        "2015-06-08T00:00:00",
        "--tag",
        "x\"y",
    ]);
    let mut fast = JsonEncoder::with_fragments(Arc::new(Fragments::new(&plan.model)));
    let mut plain = JsonEncoder::new();
    for index in 0..50 {
        let (mut a, mut b) = (Chunk::default(), Chunk::default());
        simulate_user(
            &plan.model,
            &plan.params,
            index,
            None,
            &mut fast as &mut dyn Encoder,
            &mut a,
        );
        simulate_user(
            &plan.model,
            &plan.params,
            index,
            None,
            &mut plain as &mut dyn Encoder,
            &mut b,
        );
        for t in Topic::ALL {
            assert!(a.topic(t).data == b.topic(t).data, "user {index}, {t}");
            assert_eq!(a.topic(t).keys, b.topic(t).keys);
        }
    }
}
