//! The hand-written Avro encoder: every topic's records decode with apache-avro against the
//! schema files, to the same values as the JSON records of the same run (guests' nulls
//! included), and the Confluent header carries each topic's schema id.

mod common;

use std::sync::atomic::AtomicBool;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use eventsim::app::{execute_encoded, execute_into, Encoding};
use eventsim::sinks::avro::AvroEncoder;
use eventsim::sinks::memory::MemorySink;
use eventsim::sinks::{Encoder, Record, TopicBuf};
use soundlake_core::event::{Event, SongFields, Topic, UserFields};
use soundlake_core::schema_registry::schema_text;
use soundlake_core::wire;

const IDS: [u32; 4] = [11, 22, 33, 0x0102_0304];

fn schema(topic: Topic) -> Schema {
    Schema::parse_str(schema_text(topic)).unwrap_or_else(|e| panic!("{topic}: {e}"))
}

/// Decodes one wire-format value with its topic's schema; checks the header and that every
/// byte is used.
fn decode(topic: Topic, value: &[u8]) -> Avro {
    let framed = wire::parse(value).expect("wire format");
    assert_eq!(framed.schema_id, IDS[topic.index()], "{topic}");
    let schema = schema(topic);
    let reader = GenericDatumReader::builder(&schema)
        .build()
        .expect("reader");
    let mut body = framed.body;
    let v = reader.read_value(&mut body).expect("decodes");
    assert!(body.is_empty(), "{topic}: {} bytes left over", body.len());
    v
}

fn field<'a>(v: &'a Avro, name: &str) -> &'a Avro {
    let Avro::Record(fields) = v else {
        panic!("not a record: {v:?}");
    };
    &fields.iter().find(|(k, _)| k == name).expect(name).1
}

#[test]
fn every_topic_decodes_to_the_json_records_values() {
    let config = common::reference_config();
    let plan = common::plan_of(&[
        "-c",
        config.to_str().expect("utf-8"),
        "--nusers",
        "150",
        "--start-time",
        "2015-06-01T00:00:00",
        "--end-time",
        "2015-06-04T00:00:00",
        "--growth-rate",
        "0.5",
        "--tag",
        "grüppe-β ✓",
        "--progress",
        "never",
    ]);
    let stop = AtomicBool::new(false);
    let mut json = MemorySink::new();
    execute_into(&plan, &mut json, &stop).expect("JSON run");
    let mut avro = MemorySink::new();
    let encoding = Encoding::Avro { schema_ids: IDS };
    execute_encoded(&plan, encoding, &mut avro, &stop).expect("Avro run");

    let mut guests = 0;
    for t in Topic::ALL {
        let schema = schema(t);
        let lines: Vec<&str> = json.lines(t).collect();
        let records: Vec<(i64, &[u8])> = avro.records(t).collect();
        assert_eq!(
            records.len(),
            lines.len(),
            "{t}: as many records as JSON lines"
        );
        assert!(!records.is_empty(), "{t} has records");
        for ((key, value), line) in records.iter().zip(&lines) {
            let decoded = decode(t, value);
            let expected =
                Avro::try_from(serde_json::from_str::<serde_json::Value>(line).expect("JSON"))
                    .and_then(|v| v.resolve(&schema))
                    .unwrap_or_else(|e| panic!("{t}: {line}: {e}"));
            assert_eq!(decoded, expected, "{t}: {line}");
            let Avro::Record(fields) = &decoded else {
                panic!("{t}: not a record")
            };
            let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, t.fields());
            // The key is the user id, or the session id for guests.
            match field(&decoded, "userId") {
                Avro::Union(1, id) => assert_eq!(**id, Avro::Long(*key)),
                Avro::Union(0, _) => {
                    guests += 1;
                    assert_eq!(field(&decoded, "sessionId"), &Avro::Long(*key));
                    assert_eq!(
                        field(&decoded, "firstName"),
                        &Avro::Union(0, Box::new(Avro::Null))
                    );
                }
                other => panic!("{t}: userId {other:?}"),
            }
        }
    }
    assert!(guests > 0, "the run has guests");
}

fn event(user: bool, song: bool, tag: Option<&str>) -> Event<&str> {
    Event {
        ts: 1_433_116_800_123,
        session_id: (7 << 32) | 3,
        page: "NextSong",
        auth: if user { "Logged In" } else { "Guest" },
        method: "PUT",
        status: 200,
        level: "paid",
        item_in_session: 0,
        city: "São Paulo – Zürich",
        zip: "01001",
        state: "ÑY",
        user_agent: "\"Mozilla/5.0 (日本語)\"",
        lon: -46.633_308,
        lat: -23.550_52,
        user: user.then_some(UserFields {
            user_id: -42,
            last_name: "Ørsted",
            first_name: "Zoë",
            gender: "F",
            registration: 1_400_000_000_000,
        }),
        song: song.then_some(SongFields {
            artist: "Björk & Sigur Rós",
            song: "Hoppípolla 🎵",
            duration: 268.5,
        }),
        success: Some(false),
        tag,
    }
}

#[test]
fn non_ascii_guests_and_users_round_trip_in_every_topic() {
    for (user, song, tag) in [
        (true, true, Some("ÄB-тест")),
        (false, true, None),
        (true, false, None),
        (false, false, Some("")),
    ] {
        let ev = event(user, song, tag);
        let mut enc = AvroEncoder::new(IDS);
        enc.begin_user(&ev);
        for t in Topic::ALL {
            if t == Topic::Listen && !song {
                continue;
            }
            let rec = Record {
                event: ev.clone(),
                state: 0,
                song: None,
            };
            let mut buf = TopicBuf::default();
            enc.encode(t, &rec, &mut buf);
            let (key, value) = buf.records().next().expect("one record");
            assert_eq!(key, ev.key());
            let v = decode(t, value);
            let some = |x: Avro| Avro::Union(1, Box::new(x));
            let null = Avro::Union(0, Box::new(Avro::Null));
            assert_eq!(field(&v, "city"), &Avro::String(ev.city.to_string()));
            assert_eq!(
                field(&v, "userAgent"),
                &Avro::String(ev.user_agent.to_string())
            );
            assert_eq!(field(&v, "lat"), &Avro::Double(ev.lat));
            assert_eq!(
                field(&v, "lastName"),
                &if user {
                    some(Avro::String("Ørsted".into()))
                } else {
                    null.clone()
                }
            );
            assert_eq!(
                field(&v, "tag"),
                &tag.map_or(null.clone(), |s| some(Avro::String(s.into())))
            );
            match t {
                Topic::PageView => assert_eq!(
                    field(&v, "song"),
                    &if song {
                        some(Avro::String("Hoppípolla 🎵".into()))
                    } else {
                        null.clone()
                    }
                ),
                Topic::Listen => assert_eq!(
                    field(&v, "artist"),
                    &Avro::String("Björk & Sigur Rós".into())
                ),
                Topic::Auth => assert_eq!(field(&v, "success"), &Avro::Boolean(false)),
                Topic::StatusChange => assert_eq!(field(&v, "auth"), &Avro::String(ev.auth.into())),
            }
        }
    }
}
