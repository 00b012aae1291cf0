//! Holding back the newest hour of a topic at a flush started because the buffers are full.
//!
//! Records reach Kafka roughly in event-time order, so when the buffers fill up, the newest
//! bronze partition (`event_date`, `hour`) of a busy topic is still being read. Writing it then
//! splits that hour over two files: with a flush every few seconds of event time, a backfill
//! made far more files per (topic, hour) than one, and on HDFS every file costs RPCs and
//! DataNode work (docs/benchmarks.md). A flush therefore keeps the rows of the newest hour back
//! and writes them with the next flush.
//!
//! Exactly once stays simple because what is held back is a *suffix of offsets* of each Kafka
//! partition: the flush commits `[from, cut)` and the held rows (offsets `cut..`) belong to the
//! next flush's range. [`Tails`] tracks, per Kafka partition, where the suffix of records at or
//! after each hour starts (a monotonic stack, O(1) amortised per record); a quarantined record
//! ends every suffix before it, so the quarantine never needs to be split.
//!
//! Only flushes for size hold back. A flush for age (an idle stream), for shutdown or for
//! `--until-caught-up` writes everything; and a topic holds back at most half of its rows, so
//! every flush makes progress.

use std::collections::BTreeMap;

use arrow::array::{AsArray, BooleanArray};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{Int32Type, Int64Type};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::batch_builder::{FinishedBatch, PartitionKey};
use crate::offsets::{absorb_spans, add_offset, OffsetSpan};

/// Per Kafka partition, where the suffixes of its records from each hour on start.
#[derive(Debug, Default)]
pub struct Tails {
    partitions: BTreeMap<i32, Tail>,
}

/// A stack of `(hour, first offset)` with strictly increasing hours, where each entry's offset
/// is the first of the longest suffix of the partition's records whose hours are all at or
/// after the entry's hour; and the last record's offset.
#[derive(Debug, Default)]
struct Tail {
    stack: Vec<(PartitionKey, i64)>,
    last: i64,
}

impl Tail {
    /// The first offset of the suffix of records at `hour` or later, if the last one is.
    fn cut(&self, hour: PartitionKey) -> Option<i64> {
        let at = self.stack.partition_point(|(key, _)| *key < hour);
        self.stack.get(at).map(|(_, offset)| *offset)
    }
}

impl Tails {
    /// A record of `partition` at `offset` landed in bronze partition `key`.
    pub fn landed(&mut self, partition: i32, key: PartitionKey, offset: i64) {
        let tail = self.partitions.entry(partition).or_default();
        tail.last = offset;
        let stack = &mut tail.stack;
        if stack.last().is_some_and(|(top, _)| *top == key) {
            return; // the same hour as the record before: nothing changes
        }
        let mut first = offset;
        while let Some(&(top, top_offset)) = stack.last() {
            if top < key {
                break;
            }
            // An hour at or after this record's: its suffix now ends at an earlier hour.
            first = top_offset;
            stack.pop();
        }
        stack.push((key, first));
    }

    /// Per Kafka partition, the bronze partition of its last record (if it was landed).
    pub fn newest(&self) -> impl Iterator<Item = (i32, PartitionKey)> + '_ {
        self.partitions
            .iter()
            .filter_map(|(partition, tail)| tail.stack.last().map(|(key, _)| (*partition, *key)))
    }

    /// A record of `partition` was quarantined: no suffix may reach back past it.
    pub fn quarantined(&mut self, partition: i32) {
        self.partitions.remove(&partition);
    }

    /// The hour from which on rows are held back, and per Kafka partition the first offset
    /// held back: the earliest hour that leaves at most about `max_held` records held (counted
    /// in offsets). Ideally that is the newest hour every partition has reached, so that every
    /// hour before it is complete and written once. A backfill's partitions drift apart in
    /// event time, though (librdkafka fetches them unevenly): then a partition far behind is
    /// written up to where it is, and the hours it has not reached yet will have a second file.
    pub fn cuts(&self, max_held: u64) -> Option<(PartitionKey, BTreeMap<i32, i64>)> {
        let mut tops: Vec<PartitionKey> = self
            .partitions
            .values()
            .filter_map(|tail| tail.stack.last().map(|(key, _)| *key))
            .collect();
        tops.sort_unstable();
        tops.dedup();
        let from = tops.into_iter().find(|&hour| {
            let held: i64 = self
                .partitions
                .values()
                .filter_map(|tail| tail.cut(hour).map(|cut| tail.last + 1 - cut))
                .sum();
            u64::try_from(held).is_ok_and(|held| held <= max_held)
        })?;
        let cuts = self
            .partitions
            .iter()
            .filter_map(|(partition, tail)| tail.cut(from).map(|cut| (*partition, cut)))
            .collect();
        Some((from, cuts))
    }

    /// After the records before `cuts` were flushed: only the held-back suffixes remain.
    pub fn keep_from(&mut self, cuts: &BTreeMap<i32, i64>) {
        self.partitions
            .retain(|partition, tail| match cuts.get(partition) {
                Some(cut) => {
                    tail.stack.retain(|(_, offset)| offset >= cut);
                    !tail.stack.is_empty()
                }
                None => false,
            });
    }

    pub fn clear(&mut self) {
        self.partitions.clear();
    }
}

/// Where the Kafka metadata columns are in a bronze batch.
#[derive(Debug, Clone, Copy)]
pub struct MetaColumns {
    pub partition: usize,
    pub offset: usize,
}

/// A topic's batches divided at the cuts.
#[derive(Debug, Default)]
pub struct Split {
    pub flush: Vec<FinishedBatch>,
    pub held: Vec<FinishedBatch>,
    pub held_rows: usize,
}

/// Divides `batches` into the rows before the cuts (flushed now) and the rows at or after them
/// (held back), unless more than `max_held` rows would be held: then everything is flushed.
/// Only batches of `from` or a later hour can hold rows at or after a cut.
pub fn split(
    batches: Vec<FinishedBatch>,
    from: PartitionKey,
    cuts: &BTreeMap<i32, i64>,
    meta: MetaColumns,
    max_held: usize,
) -> Result<Split, ArrowError> {
    let masks: Vec<Option<BooleanArray>> = batches
        .iter()
        .map(|b| (b.key >= from).then(|| held_mask(&b.batch, cuts, meta)))
        .collect();
    let held_rows: usize = masks.iter().flatten().map(BooleanArray::true_count).sum();
    let mut out = Split::default();
    if held_rows == 0 || held_rows > max_held {
        out.flush = batches;
        return Ok(out);
    }
    out.held_rows = held_rows;
    for (finished, mask) in batches.into_iter().zip(masks) {
        let Some(mask) = mask else {
            out.flush.push(finished);
            continue;
        };
        match mask.true_count() {
            0 => out.flush.push(finished),
            n if n == mask.len() => out.held.push(finished),
            _ => {
                let keep = arrow::compute::not(&mask)?;
                for (mask, to) in [(&keep, &mut out.flush), (&mask, &mut out.held)] {
                    let batch = filter_record_batch(&finished.batch, mask)?;
                    to.push(FinishedBatch {
                        key: finished.key,
                        spans: spans_of(&batch, meta),
                        batch,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Puts the rows held back by the last flush in front of the fresh ones of the same hour
/// (their offsets come first), one batch per hour, in hour order.
pub fn merge(
    held: Vec<FinishedBatch>,
    fresh: Vec<FinishedBatch>,
) -> Result<Vec<FinishedBatch>, ArrowError> {
    if held.is_empty() {
        return Ok(fresh);
    }
    let mut by_key: BTreeMap<PartitionKey, Vec<FinishedBatch>> = BTreeMap::new();
    for finished in held.into_iter().chain(fresh) {
        by_key.entry(finished.key).or_default().push(finished);
    }
    by_key
        .into_values()
        .map(|mut parts| {
            if parts.len() == 1 {
                return Ok(parts.remove(0));
            }
            let schema = parts[0].batch.schema();
            let batch = concat_batches(&schema, parts.iter().map(|p| &p.batch))?;
            let mut spans = BTreeMap::new();
            for part in &parts {
                absorb_spans(&mut spans, &part.spans);
            }
            Ok(FinishedBatch {
                key: parts[0].key,
                spans,
                batch,
            })
        })
        .collect()
}

/// Which rows are at or after their partition's cut.
fn held_mask(batch: &RecordBatch, cuts: &BTreeMap<i32, i64>, meta: MetaColumns) -> BooleanArray {
    let partitions = batch.column(meta.partition).as_primitive::<Int32Type>();
    let offsets = batch.column(meta.offset).as_primitive::<Int64Type>();
    partitions
        .values()
        .iter()
        .zip(offsets.values())
        .map(|(partition, offset)| Some(cuts.get(partition).is_some_and(|cut| offset >= cut)))
        .collect()
}

/// The offsets each Kafka partition has in `batch`.
fn spans_of(batch: &RecordBatch, meta: MetaColumns) -> BTreeMap<i32, OffsetSpan> {
    let partitions = batch.column(meta.partition).as_primitive::<Int32Type>();
    let offsets = batch.column(meta.offset).as_primitive::<Int64Type>();
    let mut spans = BTreeMap::new();
    for (partition, offset) in partitions.values().iter().zip(offsets.values()) {
        add_offset(&mut spans, *partition, *offset);
    }
    spans
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use chrono::NaiveDate;

    use super::*;

    const META: MetaColumns = MetaColumns {
        partition: 0,
        offset: 1,
    };

    fn hour(h: u32) -> PartitionKey {
        let day = NaiveDate::from_ymd_opt(2015, 6, 1).expect("a date")
            + chrono::Days::new(u64::from(h / 24));
        PartitionKey {
            event_date: day,
            hour: u8::try_from(h % 24).expect("an hour"),
        }
    }

    /// A batch of `(partition, offset)` rows of hour `h`, with its spans.
    fn batch(h: u32, rows: &[(i32, i64)]) -> FinishedBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("_kafka_partition", DataType::Int32, false),
            Field::new("_kafka_offset", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .expect("a batch");
        FinishedBatch {
            key: hour(h),
            spans: spans_of(&batch, META),
            batch,
        }
    }

    fn rows(b: &FinishedBatch) -> Vec<(i32, i64)> {
        let p = b
            .batch
            .column(0)
            .as_primitive::<Int32Type>()
            .values()
            .to_vec();
        let o = b
            .batch
            .column(1)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        p.into_iter().zip(o).collect()
    }

    #[test]
    fn cuts_at_the_newest_hour_every_partition_has_reached() {
        let mut tails = Tails::default();
        // Partition 0: hours 1, 1, 2, 3 at offsets 10..14; partition 1: hours 1, 2, 2 at 50..53.
        for (offset, h) in [(10, 1), (11, 1), (12, 2), (13, 3)] {
            tails.landed(0, hour(h), offset);
        }
        for (offset, h) in [(50, 1), (51, 2), (52, 2)] {
            tails.landed(1, hour(h), offset);
        }
        let (from, cuts) = tails.cuts(100).expect("cuts");
        assert_eq!(from, hour(2));
        assert_eq!(cuts, BTreeMap::from([(0, 12), (1, 51)]));
        // Held back: 12, 13 and 51, 52. Only their suffixes remain.
        tails.keep_from(&cuts);
        let (from, cuts) = tails.cuts(100).expect("cuts");
        assert_eq!((from, cuts), (hour(2), BTreeMap::from([(0, 12), (1, 51)])));
    }

    #[test]
    fn a_suffix_reaches_back_over_later_hours_only() {
        let mut tails = Tails::default();
        // Hours 5, 6, 7, 6 (offsets 0..4): from hour 6 on the suffix starts at offset 1, and
        // no suffix is all at hour 7 or later (the last record is at 6).
        for (offset, h) in [(0, 5), (1, 6), (2, 7), (3, 6)] {
            tails.landed(0, hour(h), offset);
        }
        let (from, cuts) = tails.cuts(100).expect("cuts");
        assert_eq!((from, cuts), (hour(6), BTreeMap::from([(0, 1)])));
        // A record of an earlier hour: every record is at hour 4 or later, so the suffix
        // from hour 4 on is all of them.
        tails.landed(0, hour(4), 4);
        let (from, cuts) = tails.cuts(100).expect("cuts");
        assert_eq!((from, cuts), (hour(4), BTreeMap::from([(0, 0)])));
    }

    #[test]
    fn a_quarantined_record_is_never_held_back() {
        let mut tails = Tails::default();
        tails.landed(0, hour(1), 0);
        tails.landed(0, hour(1), 1);
        tails.quarantined(0);
        assert!(tails.cuts(100).is_none(), "nothing before the bad record");
        tails.landed(0, hour(1), 3);
        assert_eq!(tails.cuts(100).expect("cuts").1, BTreeMap::from([(0, 3)]));
    }

    #[test]
    fn a_partition_far_behind_is_not_waited_for_when_too_much_would_be_held() {
        let mut tails = Tails::default();
        // Partition 0 is at hour 1 (offsets 0..10); partitions 1 and 2 went on to hour 5.
        for offset in 0..10 {
            tails.landed(0, hour(1), offset);
        }
        for partition in [1, 2] {
            for offset in 0..10 {
                tails.landed(
                    partition,
                    hour(1 + u32::try_from(offset / 2).expect("small")),
                    offset,
                );
            }
        }
        // Held from hour 1: everything (30); from hour 5: offsets 8, 9 of partitions 1 and 2.
        assert_eq!(tails.cuts(30).expect("cuts").0, hour(1));
        let (from, cuts) = tails.cuts(10).expect("cuts");
        assert_eq!((from, cuts), (hour(5), BTreeMap::from([(1, 8), (2, 8)])));
        assert!(tails.cuts(3).is_none(), "even the newest hour is too much");
    }

    #[test]
    fn split_holds_back_the_rows_at_or_after_the_cuts() {
        let batches = vec![
            batch(1, &[(0, 10), (1, 50)]),
            batch(2, &[(0, 11), (1, 51), (0, 12), (1, 52)]),
            batch(3, &[(0, 13)]),
        ];
        let cuts = BTreeMap::from([(0, 12), (1, 52)]);
        let split = split(batches, hour(2), &cuts, META, 4).expect("split");
        assert_eq!(split.held_rows, 3);
        let flushed: Vec<_> = split.flush.iter().map(|b| (b.key, rows(b))).collect();
        assert_eq!(
            flushed,
            [
                (hour(1), vec![(0, 10), (1, 50)]),
                (hour(2), vec![(0, 11), (1, 51)])
            ]
        );
        let held: Vec<_> = split.held.iter().map(|b| (b.key, rows(b))).collect();
        assert_eq!(
            held,
            [(hour(2), vec![(0, 12), (1, 52)]), (hour(3), vec![(0, 13)])]
        );
        // Spans follow the rows.
        assert_eq!(split.flush[1].spans[&0], OffsetSpan::at(11));
        assert_eq!(
            split.held[1].spans,
            BTreeMap::from([(0, OffsetSpan::at(13))])
        );
    }

    #[test]
    fn split_flushes_everything_when_too_much_would_be_held() {
        let batches = vec![batch(1, &[(0, 10)]), batch(2, &[(0, 11), (0, 12)])];
        let cuts = BTreeMap::from([(0, 11)]);
        let split = split(batches, hour(2), &cuts, META, 1).expect("split");
        assert_eq!(
            (split.held_rows, split.held.len(), split.flush.len()),
            (0, 0, 2)
        );
    }

    #[test]
    fn merge_puts_held_rows_first_one_batch_per_hour() {
        let held = vec![batch(2, &[(0, 12), (1, 52)]), batch(3, &[(0, 13)])];
        let fresh = vec![batch(3, &[(0, 14), (1, 53)]), batch(4, &[(1, 54)])];
        let merged = merge(held, fresh).expect("merge");
        let got: Vec<_> = merged.iter().map(|b| (b.key, rows(b))).collect();
        assert_eq!(
            got,
            [
                (hour(2), vec![(0, 12), (1, 52)]),
                (hour(3), vec![(0, 13), (0, 14), (1, 53)]),
                (hour(4), vec![(1, 54)]),
            ]
        );
        let mut expected = OffsetSpan::at(13);
        expected.add(14);
        assert_eq!(merged[1].spans[&0], expected);
        assert_eq!(merged[1].spans[&1], OffsetSpan::at(53));
    }
}
