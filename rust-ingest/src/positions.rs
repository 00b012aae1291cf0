//! The exactly-once bookkeeping of the poll loop, per Kafka topic: which offsets of each
//! partition are buffered, which are in the flush in flight, and so whether a record that
//! Kafka hands out is new or is already taken care of (`DESIGN-exactly-once.md`).
//!
//! Pure: no Kafka, no lake. The commit log's position of a partition is asked for through a
//! closure, and only when neither the buffers nor a flush in flight know the partition.

use std::collections::BTreeMap;

use crate::commit_log::OffsetRange;

/// What a record at a given offset is to the bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// New: buffer it; the partition's range since the last flush starts at `from`.
    Take { from: i64 },
    /// Already buffered (Kafka delivered it twice, e.g. after a seek): skip it.
    Duplicate,
    /// In the flush in flight (not yet in the log): skip it.
    InFlight,
    /// Below the log's next offset: committed already, skip it.
    Committed,
}

impl Admission {
    /// The start of the partition's range, if the record is new.
    pub fn take_from(self) -> Option<i64> {
        match self {
            Self::Take { from } => Some(from),
            Self::Duplicate | Self::InFlight | Self::Committed => None,
        }
    }
}

/// A half-open range `[from, to)` of a partition's offsets consumed since the last flush
/// started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    pub from: i64,
    pub to: i64,
}

/// The positions of one topic's partitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicPositions {
    /// Per Kafka partition: what was consumed since the last flush started.
    consumed: BTreeMap<i32, Consumed>,
    /// Per Kafka partition: where the last flush in flight ends (the log has not got it yet).
    flushing_to: BTreeMap<i32, i64>,
}

impl TopicPositions {
    /// What a record at `offset` of `partition` is: new, or already buffered, in flight or
    /// committed. `logged` gives the commit log's next offset of the partition (None: never
    /// committed); it is called only when the partition has nothing buffered nor in flight.
    pub fn admit(
        &self,
        partition: i32,
        offset: i64,
        logged: impl FnOnce() -> Option<i64>,
    ) -> Admission {
        if let Some(consumed) = self.consumed.get(&partition) {
            if offset < consumed.to {
                return Admission::Duplicate;
            }
            Admission::Take {
                from: consumed.from,
            }
        } else if let Some(&to) = self.flushing_to.get(&partition) {
            if offset < to {
                return Admission::InFlight;
            }
            Admission::Take { from: to }
        } else {
            match logged() {
                Some(next) if offset < next => Admission::Committed,
                Some(next) => Admission::Take { from: next },
                None => Admission::Take { from: offset },
            }
        }
    }

    /// Counts the record at `offset` of `partition` as buffered, its range starting at `from`
    /// (what [`TopicPositions::admit`] said).
    pub fn buffered(&mut self, partition: i32, from: i64, offset: i64) {
        self.consumed.insert(
            partition,
            Consumed {
                from,
                to: offset + 1,
            },
        );
    }

    /// The consumed position of a partition, if it has buffered records.
    pub fn buffered_to(&self, partition: i32) -> Option<i64> {
        self.consumed.get(&partition).map(|c| c.to)
    }

    /// Partitions with buffered records.
    pub fn buffered_partitions(&self) -> usize {
        self.consumed.len()
    }

    /// The consumed ranges of every partition of `topic`, as a flush commits them: up to
    /// `held_from[partition]` where the flush holds rows back (the hold-back cut). What is held
    /// back stays buffered, the start of the next flush's range; the rest is in flight.
    pub fn take_ranges(&mut self, topic: &str, held_from: &BTreeMap<i32, i64>) -> Vec<OffsetRange> {
        let mut ranges = Vec::new();
        for (partition, Consumed { from, to }) in std::mem::take(&mut self.consumed) {
            let end = match held_from.get(&partition) {
                Some(&cut) => {
                    self.consumed.insert(partition, Consumed { from: cut, to });
                    cut
                }
                None => to,
            };
            if end > from {
                self.flushing_to.insert(partition, end);
                ranges.push(OffsetRange {
                    topic: topic.to_owned(),
                    partition,
                    from,
                    to: end,
                });
            }
        }
        ranges
    }

    /// No flush is in flight any more: committed, the log has these positions; refused, they
    /// are read again.
    pub fn settled(&mut self) {
        self.flushing_to.clear();
    }

    /// Forgets everything buffered and in flight (it is read again from the log's positions).
    pub fn clear(&mut self) {
        self.consumed.clear();
        self.flushing_to.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const P: i32 = 3;

    /// A topic's positions with partition `P` consumed over `consumed` and in flight up to
    /// `flushing_to`.
    fn positions(consumed: Option<(i64, i64)>, flushing_to: Option<i64>) -> TopicPositions {
        let mut positions = TopicPositions::default();
        if let Some((from, to)) = consumed {
            positions.consumed.insert(P, Consumed { from, to });
        }
        if let Some(to) = flushing_to {
            positions.flushing_to.insert(P, to);
        }
        positions
    }

    #[test]
    fn admission_of_a_record() {
        struct Case {
            name: &'static str,
            consumed: Option<(i64, i64)>,
            flushing_to: Option<i64>,
            logged: Option<i64>,
            offset: i64,
            expected: Admission,
            asks_the_log: bool,
        }
        let case = |name, consumed, flushing_to, logged, offset, expected, asks_the_log| Case {
            name,
            consumed,
            flushing_to,
            logged,
            offset,
            expected,
            asks_the_log,
        };
        use Admission::*;
        let cases = [
            case(
                "first record ever",
                None,
                None,
                None,
                5,
                Take { from: 5 },
                true,
            ),
            case(
                "at the log's position",
                None,
                None,
                Some(10),
                10,
                Take { from: 10 },
                true,
            ),
            // The range starts at the log's position: offsets may have gaps.
            case(
                "after a gap",
                None,
                None,
                Some(10),
                12,
                Take { from: 10 },
                true,
            ),
            case(
                "already committed",
                None,
                None,
                Some(10),
                9,
                Committed,
                true,
            ),
            case("long committed", None, None, Some(10), 0, Committed, true),
            case(
                "next after buffered",
                Some((10, 15)),
                None,
                None,
                15,
                Take { from: 10 },
                false,
            ),
            case(
                "gap after buffered",
                Some((10, 15)),
                None,
                None,
                20,
                Take { from: 10 },
                false,
            ),
            case(
                "delivered twice",
                Some((10, 15)),
                None,
                None,
                14,
                Duplicate,
                false,
            ),
            case(
                "delivered twice, first",
                Some((10, 15)),
                None,
                None,
                10,
                Duplicate,
                false,
            ),
            // A seek back below the range (the log is not asked: the buffer knows better).
            case(
                "below the buffered range",
                Some((10, 15)),
                None,
                Some(10),
                3,
                Duplicate,
                false,
            ),
            case(
                "in the flush in flight",
                None,
                Some(20),
                None,
                19,
                InFlight,
                false,
            ),
            case(
                "in flight, first",
                None,
                Some(20),
                Some(10),
                10,
                InFlight,
                false,
            ),
            case(
                "after the flush in flight",
                None,
                Some(20),
                None,
                20,
                Take { from: 20 },
                false,
            ),
            case(
                "gap after in flight",
                None,
                Some(20),
                Some(10),
                25,
                Take { from: 20 },
                false,
            ),
            // Held back by the last flush: buffered from the cut, in flight up to it.
            case(
                "held back, twice",
                Some((20, 25)),
                Some(20),
                None,
                22,
                Duplicate,
                false,
            ),
            case(
                "held back, next",
                Some((20, 25)),
                Some(20),
                None,
                25,
                Take { from: 20 },
                false,
            ),
        ];
        for c in cases {
            let asked = Cell::new(false);
            let got = positions(c.consumed, c.flushing_to).admit(P, c.offset, || {
                asked.set(true);
                c.logged
            });
            assert_eq!(got, c.expected, "{}", c.name);
            assert_eq!(asked.get(), c.asks_the_log, "{}: asks the log", c.name);
            // Other partitions are not concerned.
            let other = positions(c.consumed, c.flushing_to).admit(P + 1, c.offset, || None);
            assert_eq!(
                other,
                Take { from: c.offset },
                "{}: another partition",
                c.name
            );
        }
    }

    #[test]
    fn buffering_extends_the_range() {
        let mut positions = TopicPositions::default();
        let from = positions.admit(P, 7, || Some(7)).take_from();
        assert_eq!(from, Some(7));
        positions.buffered(P, 7, 7);
        assert_eq!(positions.buffered_to(P), Some(8));
        let from = positions.admit(P, 9, || unreachable!()).take_from();
        assert_eq!(from, Some(7));
        positions.buffered(P, 7, 9);
        assert_eq!(positions.buffered_to(P), Some(10));
        assert_eq!(positions.admit(P, 8, || None).take_from(), None);
        assert_eq!(positions.buffered_partitions(), 1);
        assert_eq!(positions.buffered_to(P + 1), None);
    }

    fn range(partition: i32, from: i64, to: i64) -> OffsetRange {
        OffsetRange {
            topic: "t".into(),
            partition,
            from,
            to,
        }
    }

    #[test]
    fn a_flush_takes_the_ranges() {
        struct Case {
            name: &'static str,
            consumed: Vec<(i32, i64, i64)>,
            /// Flushes in flight before, per partition.
            flushing_to: Vec<(i32, i64)>,
            /// The hold-back cut per partition.
            held_from: Vec<(i32, i64)>,
            ranges: Vec<OffsetRange>,
            /// Still buffered afterwards.
            consumed_after: Vec<(i32, i64, i64)>,
            flushing_to_after: Vec<(i32, i64)>,
        }
        let cases = [
            Case {
                name: "everything",
                consumed: vec![(0, 10, 15), (1, 0, 3)],
                flushing_to: vec![],
                held_from: vec![],
                ranges: vec![range(0, 10, 15), range(1, 0, 3)],
                consumed_after: vec![],
                flushing_to_after: vec![(0, 15), (1, 3)],
            },
            Case {
                name: "hold-back cut",
                consumed: vec![(0, 10, 15), (1, 0, 3)],
                flushing_to: vec![],
                held_from: vec![(0, 13)],
                ranges: vec![range(0, 10, 13), range(1, 0, 3)],
                consumed_after: vec![(0, 13, 15)],
                flushing_to_after: vec![(0, 13), (1, 3)],
            },
            Case {
                name: "a partition held back whole",
                consumed: vec![(0, 10, 15), (1, 0, 3)],
                flushing_to: vec![],
                held_from: vec![(0, 10)],
                ranges: vec![range(1, 0, 3)],
                consumed_after: vec![(0, 10, 15)],
                flushing_to_after: vec![(1, 3)],
            },
            Case {
                name: "an earlier flush still in flight",
                consumed: vec![(0, 20, 30)],
                flushing_to: vec![(0, 20), (1, 7)],
                held_from: vec![],
                ranges: vec![range(0, 20, 30)],
                consumed_after: vec![],
                flushing_to_after: vec![(0, 30), (1, 7)],
            },
            Case {
                name: "nothing buffered",
                consumed: vec![],
                flushing_to: vec![(1, 7)],
                held_from: vec![(1, 5)],
                ranges: vec![],
                consumed_after: vec![],
                flushing_to_after: vec![(1, 7)],
            },
        ];
        for c in cases {
            let mut positions = TopicPositions::default();
            for &(partition, from, to) in &c.consumed {
                positions.consumed.insert(partition, Consumed { from, to });
            }
            positions.flushing_to.extend(c.flushing_to.iter().copied());
            let held: BTreeMap<i32, i64> = c.held_from.iter().copied().collect();
            assert_eq!(positions.take_ranges("t", &held), c.ranges, "{}", c.name);
            let consumed: Vec<(i32, i64, i64)> = positions
                .consumed
                .iter()
                .map(|(p, c)| (*p, c.from, c.to))
                .collect();
            assert_eq!(consumed, c.consumed_after, "{}: buffered", c.name);
            let flushing: Vec<(i32, i64)> = positions
                .flushing_to
                .iter()
                .map(|(p, t)| (*p, *t))
                .collect();
            assert_eq!(flushing, c.flushing_to_after, "{}: in flight", c.name);
        }
    }

    #[test]
    fn after_a_flush_records_are_in_flight_then_committed() {
        let mut positions = TopicPositions::default();
        positions.buffered(P, 10, 14);
        let ranges = positions.take_ranges("t", &BTreeMap::new());
        assert_eq!(ranges, vec![range(P, 10, 15)]);
        // Kafka hands a record of the flush again: it is in flight, the log is not asked.
        assert_eq!(
            positions.admit(P, 12, || unreachable!()),
            Admission::InFlight
        );
        assert_eq!(
            positions.admit(P, 15, || unreachable!()),
            Admission::Take { from: 15 }
        );
        // Committed: the log knows the position now.
        positions.settled();
        assert_eq!(positions.admit(P, 12, || Some(15)), Admission::Committed);
        assert_eq!(
            positions.admit(P, 15, || Some(15)),
            Admission::Take { from: 15 }
        );
    }

    #[test]
    fn clearing_forgets_buffered_and_in_flight() {
        let mut positions = positions(Some((20, 25)), Some(20));
        positions.clear();
        assert_eq!(positions, TopicPositions::default());
        // The next record is judged by the log alone.
        assert_eq!(
            positions.admit(P, 22, || Some(20)),
            Admission::Take { from: 20 }
        );
        assert_eq!(positions.admit(P, 12, || Some(20)), Admission::Committed);
    }
}
