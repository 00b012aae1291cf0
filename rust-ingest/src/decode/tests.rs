//! Decoding tests, and the record builders other modules' tests use.

use std::sync::Arc;

use soundlake_core::event::Topic;

use super::*;
use crate::batch_builder::{KafkaMeta, PartitionedBatches};
use crate::schema::{embedded_avsc, BronzeSchema};

fn zigzag(out: &mut Vec<u8>, v: i64) {
    #[allow(clippy::cast_sign_loss)]
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        #[allow(clippy::cast_possible_truncation)]
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    zigzag(out, i64::try_from(s.len()).unwrap_or(0));
    out.extend_from_slice(s.as_bytes());
}

/// An auth event body in the reader schema's own layout.
pub(crate) fn auth_body(ts: i64, user: Option<i64>) -> Vec<u8> {
    let mut b = Vec::new();
    zigzag(&mut b, ts);
    zigzag(&mut b, 42); // sessionId
    string(&mut b, "free");
    zigzag(&mut b, 3); // itemInSession
    for s in ["Boston", "02101", "MA", "ua"] {
        string(&mut b, s);
    }
    b.extend_from_slice(&(-71.0f64).to_le_bytes());
    b.extend_from_slice(&42.0f64.to_le_bytes());
    match user {
        Some(u) => {
            zigzag(&mut b, 1);
            zigzag(&mut b, u);
        }
        None => zigzag(&mut b, 0),
    }
    for _ in 0..3 {
        zigzag(&mut b, 0); // lastName, firstName, gender: null
    }
    zigzag(&mut b, 0); // registration
    b.push(1); // success
    zigzag(&mut b, 0); // tag
    b
}

fn decoder() -> TopicDecoder {
    let bronze = Arc::new(BronzeSchema::for_topic(Topic::Auth).expect("auth"));
    let avsc: Arc<str> = embedded_avsc(Topic::Auth).into();
    let mut d = TopicDecoder::new(bronze, Arc::clone(&avsc), 1000);
    d.add_schema(7, Ok(&avsc));
    d
}

pub(crate) fn framed(id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = soundlake_core::wire::header(id).to_vec();
    v.extend_from_slice(body);
    v
}

const META: KafkaMeta = KafkaMeta {
    partition: 0,
    offset: 1,
    timestamp_ms: None,
    schema_id: 0,
    ingested_at_us: 0,
};

#[test]
fn decodes_a_record_and_rejects_bad_ones_with_reasons() {
    let d = decoder();
    let mut batches = PartitionedBatches::new(Arc::clone(d.bronze()));
    let good = framed(7, &auth_body(1_700_000_000_000, Some(5)));
    d.decode(Some(&good), &mut batches, &META).expect("good");
    assert_eq!(batches.rows(), 1);
    let reason = |v: Option<&[u8]>, b: &mut PartitionedBatches| {
        d.decode(v, b, &META).expect_err("bad").reason()
    };
    assert_eq!(reason(None, &mut batches), "empty_value");
    assert_eq!(reason(Some(&[]), &mut batches), "empty_value");
    assert_eq!(reason(Some(&[1, 0, 0, 0, 7]), &mut batches), "bad_magic");
    assert_eq!(
        reason(Some(&framed(8, &auth_body(1, None))), &mut batches),
        "unknown_schema_id"
    );
    assert_eq!(
        reason(Some(&good[..good.len() - 3]), &mut batches),
        "truncated_body"
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(reason(Some(&trailing), &mut batches), "trailing_bytes");
    assert_eq!(reason(Some(&[0u8; 2000]), &mut batches), "oversized_value");
    let mut bad_union = framed(7, &auth_body(1_700_000_000_000, None));
    let at = bad_union.len() - 7; // userId's branch index
    bad_union[at] = 8;
    assert!(d.decode(Some(&bad_union), &mut batches, &META).is_err());
    assert_eq!(
        reason(
            Some(&framed(7, &auth_body(i64::MAX / 2, None))),
            &mut batches
        ),
        "invalid_ts"
    );
    assert_eq!(batches.rows(), 1, "no partial rows");
}

#[test]
fn resolves_evolved_writer_schemas() {
    // The writer has an extra field, lacks a nullable one (tag), and writes itemInSession as int.
    let writer = r#"{"type":"record","name":"AuthEvent","fields":[
        {"name":"ts","type":"long"},{"name":"extra","type":{"type":"array","items":"string"}},
        {"name":"sessionId","type":"int"},{"name":"level","type":{"type":"enum","name":"L","symbols":["free","paid"]}},
        {"name":"itemInSession","type":"int"},{"name":"city","type":"string"},{"name":"zip","type":"string"},
        {"name":"state","type":"string"},{"name":"userAgent","type":"string"},{"name":"lon","type":"float"},
        {"name":"lat","type":"double"},{"name":"userId","type":["null","long"]},{"name":"lastName","type":["null","string"]},
        {"name":"firstName","type":["null","string"]},{"name":"gender","type":["null","string"]},
        {"name":"registration","type":["null","long"]},{"name":"success","type":"boolean"}]}"#;
    let mut d = decoder();
    d.add_schema(9, Ok(writer));
    let mut b = Vec::new();
    zigzag(&mut b, 1_700_000_000_000);
    zigzag(&mut b, 2); // array block of 2
    string(&mut b, "x");
    string(&mut b, "y");
    zigzag(&mut b, 0);
    zigzag(&mut b, 42);
    zigzag(&mut b, 1); // paid
    zigzag(&mut b, 3);
    for s in ["Boston", "02101", "MA", "ua"] {
        string(&mut b, s);
    }
    b.extend_from_slice(&1.5f32.to_le_bytes());
    b.extend_from_slice(&42.0f64.to_le_bytes());
    for _ in 0..5 {
        zigzag(&mut b, 0);
    }
    b.push(0);
    let mut batches = PartitionedBatches::new(Arc::clone(d.bronze()));
    d.decode(Some(&framed(9, &b)), &mut batches, &META)
        .expect("resolved");
    let out = batches.finish_all().expect("batch");
    let batch = &out[0].batch;
    let level = batch.column_by_name("level").and_then(|c| {
        c.as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .map(|a| a.value(0).to_owned())
    });
    assert_eq!(level.as_deref(), Some("paid"));
    // A writer without a required field is incompatible.
    d.add_schema(
        10,
        Ok(r#"{"type":"record","name":"x","fields":[{"name":"ts","type":"long"}]}"#),
    );
    assert_eq!(
        d.decode(Some(&framed(10, &[2])), &mut batches, &META)
            .expect_err("incompatible")
            .reason(),
        "incompatible_schema"
    );
}

#[test]
fn never_panics_on_noise() {
    let d = decoder();
    let mut batches = PartitionedBatches::new(Arc::clone(d.bronze()));
    let good = framed(7, &auth_body(1_700_000_000_000, Some(5)));
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut v = good.clone();
        #[allow(clippy::cast_possible_truncation)]
        let i = 5 + (seed as usize) % (v.len() - 5);
        #[allow(clippy::cast_possible_truncation)]
        {
            v[i] = (seed >> 32) as u8;
            v.truncate(5 + (seed >> 40) as usize % (v.len() - 4));
        }
        let _ = d.decode(Some(&v), &mut batches, &META);
    }
}

#[test]
fn malformed_and_incompatible_writer_schemas_say_what_and_which() {
    let mut d = decoder();
    let mut batches = PartitionedBatches::new(Arc::clone(d.bronze()));
    let cases = [
        (11, "{", "not a valid Avro schema"),
        (
            12,
            r#"{"type":"record","name":"AuthEvent","fields":[{"name":"ts","type":"nope"}]}"#,
            "not a valid Avro schema",
        ),
        (13, r#""long""#, "not a record"),
        // ts written as a string: no resolution rule reads it as the reader's long.
        (
            14,
            r#"{"type":"record","name":"AuthEvent","fields":[{"name":"ts","type":"string"}]}"#,
            "field ts",
        ),
        (
            15,
            r#"{"type":"record","name":"Other","fields":[{"name":"ts","type":"long"}]}"#,
            "Other",
        ),
    ];
    for (id, writer, expected) in cases {
        d.add_schema(id, Ok(writer));
        let err = d
            .decode(Some(&framed(id, &[2])), &mut batches, &META)
            .expect_err("incompatible");
        assert_eq!(err.reason(), "incompatible_schema", "{err}");
        let text = err.to_string();
        assert!(text.contains(&format!("writer schema {id} ")), "{text}");
        assert!(text.contains("auth_events"), "{text}");
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn skips_named_and_recursive_writer_types() {
    // Extra writer fields: a recursive record (a linked list) and a second use of a named enum;
    // both are skipped. `level` is that enum, read as a string.
    let writer = r#"{"type":"record","name":"AuthEvent","namespace":"w","fields":[
        {"name":"ts","type":"long"},
        {"name":"chain","type":{"type":"record","name":"Node","fields":[
            {"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}},
        {"name":"sessionId","type":"long"},
        {"name":"level","type":{"type":"enum","name":"L","symbols":["free","paid"]}},
        {"name":"level2","type":"L"},
        {"name":"itemInSession","type":"int"},{"name":"city","type":"string"},
        {"name":"zip","type":"string"},{"name":"state","type":"string"},
        {"name":"userAgent","type":"string"},{"name":"lon","type":"double"},
        {"name":"lat","type":"double"},{"name":"userId","type":["null","long"]},
        {"name":"lastName","type":["null","string"]},{"name":"firstName","type":["null","string"]},
        {"name":"gender","type":["null","string"]},{"name":"registration","type":["null","long"]},
        {"name":"success","type":"boolean"}]}"#;
    let mut d = decoder();
    d.add_schema(20, Ok(writer));
    let mut b = Vec::new();
    zigzag(&mut b, 1_700_000_000_000);
    for v in [1, 2, 3] {
        zigzag(&mut b, v); // chain node value
        zigzag(&mut b, if v < 3 { 1 } else { 0 }); // next: the Node branch, or null
    }
    zigzag(&mut b, 42);
    zigzag(&mut b, 1); // level: paid
    zigzag(&mut b, 0); // level2: free
    zigzag(&mut b, 3);
    for s in ["Boston", "02101", "MA", "ua"] {
        string(&mut b, s);
    }
    b.extend_from_slice(&1.5f64.to_le_bytes());
    b.extend_from_slice(&42.0f64.to_le_bytes());
    for _ in 0..5 {
        zigzag(&mut b, 0);
    }
    b.push(1);
    let mut batches = PartitionedBatches::new(Arc::clone(d.bronze()));
    d.decode(Some(&framed(20, &b)), &mut batches, &META)
        .expect("skipped");
    let out = batches.finish_all().expect("batch");
    let level = out[0].batch.column_by_name("level").and_then(|c| {
        c.as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .map(|a| a.value(0).to_owned())
    });
    assert_eq!(level.as_deref(), Some("paid"));
}

#[test]
fn the_event_time_is_peeked_from_a_framed_value_without_decoding_it() {
    let ts = 1_764_054_000_123;
    let mut value = vec![0, 0, 0, 0, 7];
    value.extend(auth_body(ts, Some(9)));
    assert_eq!(peek_event_ms(&value), Some(ts));
    assert_eq!(peek_event_ms(&value[..6]), None, "a truncated varint");
    assert_eq!(
        peek_event_ms(&[1, 0, 0, 0, 7, 2]),
        None,
        "not the magic byte"
    );
    assert_eq!(peek_event_ms(&[0, 0, 0]), None, "no header");
}
