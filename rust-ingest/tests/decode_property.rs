//! The decode path on many inputs derived from real eventsim records of every topic (the
//! `cargo test` companion of the fuzz target in `rust-ingest/fuzz`): valid records land,
//! every strict prefix is quarantined as truncated, and bit flips, byte overwrites,
//! insertions, deletions, splices and foreign schema ids never panic, never leave a partial
//! row and never break the builders (see `soundlake_ingest::decode_check`). Seeded: a failure
//! names the seed and the input, and reproduces. With `SOUNDLAKE_FUZZ_SEEDS_DIR` set it also
//! writes the fuzz target's seed corpus there.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use eventsim::app::{execute_encoded, Encoding};
use eventsim::sinks::memory::MemorySink;
use soundlake_core::event::Topic;
use soundlake_ingest::decode_check::{DecodeCheck, Outcome};

/// Mutated inputs per run.
const CASES: usize = 200_000;

/// A few hundred records per topic from eventsim, with the check's schema ids.
fn eventsim_records() -> Vec<(Topic, Vec<u8>)> {
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../eventsim/configs/eventsim-config-example.json"
    );
    let argv = [
        "eventsim",
        "-c",
        config,
        "--nusers",
        "40",
        "--start-time",
        "2025-06-01T00:00:00",
        "--end-time",
        "2025-06-01T12:00:00",
        "--randomseed",
        "7",
        "--progress",
        "never",
    ];
    let cli = eventsim::cli::Cli::try_parse_from(argv).expect("eventsim command line");
    let plan = eventsim::plan::plan(&cli, 1_700_000_000_000).expect("plan");
    let mut sink = MemorySink::new();
    let schema_ids = Topic::ALL.map(DecodeCheck::schema_id);
    execute_encoded(
        &plan,
        Encoding::Avro { schema_ids },
        &mut sink,
        &AtomicBool::new(false),
    )
    .expect("eventsim run");
    let mut out = Vec::new();
    for topic in Topic::ALL {
        let before = out.len();
        out.extend(sink.records(topic).map(|(_, v)| (topic, v.to_vec())));
        assert!(out.len() > before, "eventsim made no {topic} records");
    }
    out
}

/// The fuzz target's seed corpus (`scripts/fuzz-ingest` sets `SOUNDLAKE_FUZZ_SEEDS_DIR`):
/// every 5th record, as the topic's byte followed by the value.
fn write_seeds(dir: &std::path::Path, records: &[(Topic, Vec<u8>)]) {
    std::fs::create_dir_all(dir).expect("the seeds folder");
    for (n, (topic, value)) in records.iter().enumerate().step_by(5) {
        let mut input = vec![u8::try_from(topic.index()).unwrap_or(0)];
        input.extend_from_slice(value);
        std::fs::write(dir.join(format!("eventsim-{n:05}")), input).expect("a seed file");
    }
}

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

/// One random mutation of `v` (`other` is another record, for splices).
fn mutate(rng: &mut Rng, v: &mut Vec<u8>, other: &[u8]) -> &'static str {
    if v.is_empty() {
        v.push(rng.byte());
    }
    let body = 5.min(v.len());
    match rng.below(8) {
        0 => {
            let i = rng.below(v.len());
            v[i] ^= 1 << rng.below(8);
            "bit flip"
        }
        1 => {
            let i = body + rng.below(v.len() - body);
            if i < v.len() {
                v[i] = rng.byte();
            }
            "byte overwrite"
        }
        2 => {
            let i = rng.below(v.len() + 1);
            v.insert(i, rng.byte());
            "insertion"
        }
        3 => {
            let i = rng.below(v.len());
            let n = 1 + rng.below(8);
            v.drain(i..(i + n).min(v.len()));
            "deletion"
        }
        4 => {
            let i = rng.below(v.len());
            let j = rng.below(other.len());
            v.truncate(i);
            v.extend_from_slice(&other[j..]);
            "splice"
        }
        5 => {
            // A long varint (a huge length or count) somewhere in the body.
            let i = body + rng.below(v.len() - body);
            let n = 1 + rng.below(10);
            for k in 0..n {
                if let Some(b) = v.get_mut(i + k) {
                    *b = 0xff;
                }
            }
            "long varint"
        }
        6 => {
            // Another topic's schema id, an unknown one, or a bad magic byte.
            let choice = rng.below(3);
            if choice == 0 && v.len() > 4 {
                v[4] = 1 + u8::try_from(rng.below(4)).unwrap_or(0);
                "other schema id"
            } else if choice == 1 && v.len() > 1 {
                v[1] = rng.byte() | 1;
                "unknown schema id"
            } else {
                v[0] = rng.byte() | 1;
                "bad magic"
            }
        }
        _ => {
            let n = rng.below(64);
            v.clear();
            v.extend((0..n).map(|_| rng.byte()));
            "noise"
        }
    }
}

#[test]
fn the_decode_path_keeps_its_promises_on_mutated_eventsim_records() {
    let records = eventsim_records();
    if let Some(dir) = std::env::var_os("SOUNDLAKE_FUZZ_SEEDS_DIR") {
        write_seeds(std::path::Path::new(&dir), &records);
    }
    let mut check = DecodeCheck::new().expect("decoders");
    let fail = |what: &str, topic: Topic, input: &[u8], err: &dyn std::fmt::Display| -> ! {
        panic!(
            "{what} ({topic}, {} bytes {input:02x?}): {err}",
            input.len()
        )
    };

    // Valid records land; each strict prefix is quarantined for a reason that says so.
    for (topic, value) in &records {
        match check.check(*topic, Some(value)) {
            Ok(Outcome::Landed) => {}
            Ok(other) => fail("a valid record", *topic, value, &format!("{other:?}")),
            Err(err) => fail("a valid record", *topic, value, &err),
        }
    }
    for (topic, value) in records.iter().step_by(7) {
        for len in 0..value.len() {
            let prefix = &value[..len];
            let expected = match len {
                0 => "empty_value",
                1..=4 => "short_header",
                _ => "truncated_body",
            };
            match check.check(*topic, Some(prefix)) {
                Ok(Outcome::Quarantined(reason)) if reason == expected => {}
                Ok(other) => fail(
                    &format!("a prefix of {len} bytes"),
                    *topic,
                    prefix,
                    &format!("{other:?}, expected {expected}"),
                ),
                Err(err) => fail("a prefix", *topic, prefix, &err),
            }
        }
    }

    // Mutations: never a panic or a partial row, and each kind is seen to fail and to pass.
    let seed = 0x5eed_0000_0000_0001_u64;
    let mut rng = Rng(seed);
    let mut outcomes: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for case in 0..CASES {
        let (topic, value) = &records[rng.below(records.len())];
        let (_, other) = &records[rng.below(records.len())];
        let mut v = value.clone();
        let rounds = 1 + rng.below(3);
        let mut kind = "";
        for _ in 0..rounds {
            kind = mutate(&mut rng, &mut v, other);
        }
        match check.check(*topic, (!v.is_empty()).then_some(&v)) {
            Ok(Outcome::Landed) => outcomes.entry(kind).or_default().0 += 1,
            Ok(Outcome::Quarantined(_)) => outcomes.entry(kind).or_default().1 += 1,
            Err(err) => fail(
                &format!("case {case} of seed {seed:#x}, {kind}"),
                *topic,
                &v,
                &err,
            ),
        }
    }
    check
        .finish_all()
        .expect("the builders after all mutations");
    eprintln!("{CASES} mutated inputs, (landed, quarantined) by last mutation: {outcomes:?}");
    for kind in [
        "bit flip",
        "byte overwrite",
        "insertion",
        "deletion",
        "splice",
    ] {
        let (landed, quarantined) = outcomes.get(kind).copied().unwrap_or_default();
        assert!(
            quarantined > 0,
            "{kind}: never quarantined ({outcomes:?}): the mutations do not reach the decoder"
        );
        assert!(landed + quarantined > 1000, "{kind}: too few cases");
    }
    let landed: u64 = outcomes.values().map(|(l, _)| l).sum();
    assert!(
        landed > 0,
        "no mutated record landed ({outcomes:?}): the mutations are too coarse to explore"
    );
}
