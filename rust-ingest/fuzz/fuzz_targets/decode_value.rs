//! The wire format and Avro decode path on any Kafka value: byte 0 picks the topic, the rest
//! is the value. Panics (the fuzzer's finding) on a panic in the decoder or a broken promise
//! of `soundlake_ingest::decode_check` (a partial row, a success without a row, invalid
//! batches). Run: `scripts/fuzz-ingest` (see docs/testing.md).
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use soundlake_ingest::decode_check::DecodeCheck;

thread_local! {
    static CHECK: RefCell<Option<DecodeCheck>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    CHECK.with(|cell| {
        let mut slot = cell.borrow_mut();
        let check = slot.get_or_insert_with(|| DecodeCheck::new().expect("the embedded schemas"));
        if let Err(broken) = check.check_bytes(data) {
            panic!("{broken}");
        }
    });
});
