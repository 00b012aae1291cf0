//! The Avro schemas of `schema-registry/` are valid Avro, and every generated JSON record
//! resolves against its topic's schema, encodes, and decodes back to the same value.

mod common;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use soundlake_core::event::Topic;

fn schema(topic: Topic) -> Schema {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schema-registry")
        .join(topic.schema_file());
    let text = std::fs::read_to_string(&path).expect("schema file");
    Schema::parse_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn generated_records_round_trip_through_the_avro_schemas() {
    let (_, sink, _) =
        common::run_reference("100", "2015-06-01T00:00:00", "2015-06-04T00:00:00", "2");
    for t in Topic::ALL {
        let schema = schema(t);
        let writer = GenericDatumWriter::builder(&schema)
            .build()
            .expect("writer");
        let reader = GenericDatumReader::builder(&schema)
            .build()
            .expect("reader");
        let mut n = 0;
        for line in sink.lines(t) {
            let json: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let value = Avro::try_from(json)
                .and_then(|v| v.resolve(&schema))
                .unwrap_or_else(|e| panic!("{t}: {line} does not fit the schema: {e}"));
            let bytes = writer.write_value_to_vec(value.clone()).expect("encode");
            let decoded = reader.read_value(&mut bytes.as_slice()).expect("decode");
            assert_eq!(decoded, value, "{t}");
            let Avro::Record(fields) = &decoded else {
                panic!("{t}: not a record");
            };
            let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, t.fields());
            n += 1;
        }
        assert!(n > 0, "{t} has records");
    }
}
