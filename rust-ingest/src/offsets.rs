//! Offset spans: which Kafka offsets (first, last, how many rows) a batch or a file holds of
//! each Kafka partition. Batches count them as rows are appended, the hold-back split and the
//! Parquet writer merge them, and the commit log records them per file.

use std::collections::BTreeMap;

/// What a batch holds of one Kafka partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetSpan {
    pub first_offset: i64,
    pub last_offset: i64,
    pub rows: u64,
}

impl OffsetSpan {
    /// The span of one offset.
    #[inline]
    pub(crate) fn at(offset: i64) -> Self {
        Self {
            first_offset: offset,
            last_offset: offset,
            rows: 1,
        }
    }

    #[inline]
    pub(crate) fn add(&mut self, offset: i64) {
        self.first_offset = self.first_offset.min(offset);
        self.last_offset = self.last_offset.max(offset);
        self.rows += 1;
    }

    /// Takes in the rows of `other` (of the same Kafka partition).
    pub(crate) fn absorb(&mut self, other: &OffsetSpan) {
        self.first_offset = self.first_offset.min(other.first_offset);
        self.last_offset = self.last_offset.max(other.last_offset);
        self.rows += other.rows;
    }
}

/// Counts a row at `offset` of Kafka partition `partition` in `spans` (for every row: inlined
/// into the batch builder, as when it lived there).
#[inline]
pub(crate) fn add_offset(spans: &mut BTreeMap<i32, OffsetSpan>, partition: i32, offset: i64) {
    spans
        .entry(partition)
        .and_modify(|span| span.add(offset))
        .or_insert_with(|| OffsetSpan::at(offset));
}

/// Takes the rows of every partition's span in `other` into `spans`.
pub(crate) fn absorb_spans(
    spans: &mut BTreeMap<i32, OffsetSpan>,
    other: &BTreeMap<i32, OffsetSpan>,
) {
    for (partition, span) in other {
        spans
            .entry(*partition)
            .and_modify(|known| known.absorb(span))
            .or_insert(*span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(first_offset: i64, last_offset: i64, rows: u64) -> OffsetSpan {
        OffsetSpan {
            first_offset,
            last_offset,
            rows,
        }
    }

    #[test]
    fn adding_offsets_widens_the_span_and_counts_rows() {
        // (offsets added to partition 0 in order, expected span)
        let cases: [(&[i64], OffsetSpan); 4] = [
            (&[7], span(7, 7, 1)),
            (&[7, 8, 9], span(7, 9, 3)),
            // Out of order (a batch's rows are in event time, not offset order).
            (&[9, 3, 5], span(3, 9, 3)),
            // Offsets may have gaps; rows count what was added.
            (&[10, 20], span(10, 20, 2)),
        ];
        for (offsets, expected) in cases {
            let mut spans = BTreeMap::new();
            for &offset in offsets {
                add_offset(&mut spans, 0, offset);
            }
            assert_eq!(spans, BTreeMap::from([(0, expected)]), "{offsets:?}");
        }
    }

    #[test]
    fn partitions_keep_their_own_spans() {
        let mut spans = BTreeMap::new();
        add_offset(&mut spans, 1, 5);
        add_offset(&mut spans, 0, 100);
        add_offset(&mut spans, 1, 6);
        assert_eq!(
            spans,
            BTreeMap::from([(0, span(100, 100, 1)), (1, span(5, 6, 2))])
        );
    }

    #[test]
    fn absorbing_merges_per_partition() {
        let mut spans = BTreeMap::from([(0, span(10, 19, 10)), (1, span(5, 5, 1))]);
        let other = BTreeMap::from([(0, span(20, 29, 10)), (2, span(0, 3, 4))]);
        absorb_spans(&mut spans, &other);
        assert_eq!(
            spans,
            BTreeMap::from([
                (0, span(10, 29, 20)),
                (1, span(5, 5, 1)),
                (2, span(0, 3, 4)),
            ])
        );
        // An earlier span absorbed into a later one widens it downwards.
        let mut later = span(50, 60, 3);
        later.absorb(&span(40, 45, 2));
        assert_eq!(later, span(40, 60, 5));
    }

    #[test]
    fn absorbing_nothing_changes_nothing() {
        let mut spans = BTreeMap::from([(0, span(1, 2, 2))]);
        absorb_spans(&mut spans, &BTreeMap::new());
        assert_eq!(spans, BTreeMap::from([(0, span(1, 2, 2))]));
    }
}
