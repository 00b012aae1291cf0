//! Keeping the Kafka partitions of a topic together in event time during a backfill.
//!
//! librdkafka fetches a topic's partitions unevenly: in the benchmark's backfill one of three
//! partitions fell 5 → 25 hours behind the others over a week of events (docs/benchmarks.md).
//! Bronze is partitioned by event hour, so an hour that the partitions reach in different
//! flushes is written as two files, and [`hold_back`](crate::hold_back) cannot keep it
//! together. The [`Aligner`] pauses a partition that is more than [`AHEAD_HOURS`] ahead of the
//! slowest partition of its topic that is still receiving records, and resumes it once that one
//! has caught up to within an hour.
//!
//! It never stalls the stream: a partition whose records stopped coming (caught up, or quiet)
//! is not waited for, no partition stays paused longer than [`MAX_PAUSE`], and one that had to
//! wait that long is not paused again for [`COOLDOWN`] (the slowest partition may be one that
//! keeps receiving old events, late data: waiting for it does not help). Pausing only
//! changes what librdkafka fetches (it drops what it had prefetched for the partition and fetches
//! it again on resume); offsets, ranges and commits do not see it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A partition is paused when it is more than this many hours ahead of the slowest one.
pub const AHEAD_HOURS: i64 = 2;
/// The longest a partition stays paused.
pub const MAX_PAUSE: Duration = Duration::from_secs(2);
/// A partition resumed because it waited [`MAX_PAUSE`] is not paused again for this long (the
/// slowest partition may be one that keeps receiving old events: then waiting does not help,
/// and the others must not be held most of the time).
pub const COOLDOWN: Duration = Duration::from_secs(4);
/// A partition counts as receiving records if its position moved this recently.
pub const RECEIVING: Duration = Duration::from_millis(500);

/// A Kafka partition of one of the lander's topics: (topic index, partition).
pub type Part = (usize, i32);

/// What the poll loop knows of one partition at a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The event hour (epoch hours) of the last record decoded.
    pub hour: i64,
    /// The offset after the last record read.
    pub position: i64,
}

/// Partitions to pause and to resume.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Moves {
    pub pause: Vec<Part>,
    pub resume: Vec<Part>,
}

/// Which partitions are paused, since when, and when each last moved.
#[derive(Debug, Default)]
pub struct Aligner {
    paused: BTreeMap<Part, Instant>,
    /// Partitions resumed after [`MAX_PAUSE`], and when.
    gave_up: BTreeMap<Part, Instant>,
    /// Per partition: its position at the last check and when it last changed.
    moved: BTreeMap<Part, (i64, Instant)>,
}

impl Aligner {
    /// The partitions paused now.
    pub fn paused(&self) -> impl Iterator<Item = &Part> {
        self.paused.keys()
    }

    /// Forgets everything (after a rebalance: the caller resumes what was paused).
    pub fn reset(&mut self) -> Vec<Part> {
        self.moved.clear();
        self.gave_up.clear();
        std::mem::take(&mut self.paused).into_keys().collect()
    }

    /// Decides, from what is known of each partition now, which to pause and which to resume;
    /// records the decisions as done.
    pub fn check(&mut self, seen: &BTreeMap<Part, Seen>, now: Instant) -> Moves {
        for (part, s) in seen {
            match self.moved.get(part) {
                Some((position, _)) if *position == s.position => {}
                _ => {
                    self.moved.insert(*part, (s.position, now));
                }
            }
        }
        let receiving = |part: &Part| {
            self.moved
                .get(part)
                .is_some_and(|(_, at)| now.duration_since(*at) <= RECEIVING)
        };
        let topics: BTreeSet<usize> = seen.keys().map(|(topic, _)| *topic).collect();
        let mut moves = Moves::default();
        for topic in topics {
            let parts = || seen.iter().filter(move |((t, _), _)| *t == topic);
            // The slowest partition still receiving records (a paused one receives none).
            let slowest = parts()
                .filter(|(part, _)| !self.paused.contains_key(part) && receiving(part))
                .map(|(_, s)| s.hour)
                .min();
            for (part, s) in parts() {
                match (self.paused.get(part), slowest) {
                    (Some(since), Some(slowest)) => {
                        if s.hour <= slowest + 1 {
                            moves.resume.push(*part);
                        } else if now.duration_since(*since) >= MAX_PAUSE {
                            moves.resume.push(*part);
                            self.gave_up.insert(*part, now);
                        }
                    }
                    // Nobody to wait for.
                    (Some(_), None) => moves.resume.push(*part),
                    (None, Some(slowest)) if s.hour > slowest + AHEAD_HOURS => {
                        let cooling = self
                            .gave_up
                            .get(part)
                            .is_some_and(|at| now.duration_since(*at) < COOLDOWN);
                        if !cooling {
                            moves.pause.push(*part);
                        }
                    }
                    (None, _) => {}
                }
            }
        }
        for part in &moves.resume {
            self.paused.remove(part);
            // Its position did not move while paused: it is receiving again from now.
            if let Some(entry) = self.moved.get_mut(part) {
                entry.1 = now;
            }
        }
        for part in &moves.pause {
            self.paused.insert(*part, now);
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(entries: &[(Part, i64, i64)]) -> BTreeMap<Part, Seen> {
        entries
            .iter()
            .map(|(part, hour, position)| {
                (
                    *part,
                    Seen {
                        hour: *hour,
                        position: *position,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn pauses_a_partition_far_ahead_and_resumes_it_when_the_slowest_catches_up() {
        let mut a = Aligner::default();
        let t0 = Instant::now();
        let moves = a.check(
            &seen(&[((0, 0), 10, 100), ((0, 1), 13, 100), ((0, 2), 12, 100)]),
            t0,
        );
        assert_eq!(moves.pause, [(0, 1)], "3 hours ahead; 2 is not more than 2");
        assert!(moves.resume.is_empty());
        // Partition 0 moves on to hour 11: 13 is still more than an hour ahead.
        let t1 = t0 + Duration::from_millis(100);
        let moves = a.check(
            &seen(&[((0, 0), 11, 200), ((0, 1), 13, 100), ((0, 2), 12, 200)]),
            t1,
        );
        assert_eq!(moves, Moves::default());
        let t2 = t1 + Duration::from_millis(100);
        let moves = a.check(
            &seen(&[((0, 0), 12, 300), ((0, 1), 13, 100), ((0, 2), 12, 300)]),
            t2,
        );
        assert_eq!(moves.resume, [(0, 1)]);
        assert_eq!(a.paused().count(), 0);
    }

    #[test]
    fn a_partition_that_stopped_receiving_is_not_waited_for() {
        let mut a = Aligner::default();
        let t0 = Instant::now();
        a.check(&seen(&[((0, 0), 10, 100), ((0, 1), 20, 100)]), t0);
        assert_eq!(a.paused().count(), 1);
        // Partition 0's position stays: after RECEIVING it is no longer the one to wait for.
        let later = t0 + RECEIVING + Duration::from_millis(1);
        let moves = a.check(&seen(&[((0, 0), 10, 100), ((0, 1), 20, 100)]), later);
        assert_eq!(moves.resume, [(0, 1)]);
        // And a quiet partition never makes others pause.
        let moves = a.check(&seen(&[((0, 0), 10, 100), ((0, 1), 21, 150)]), later);
        assert!(moves.pause.is_empty(), "{moves:?}");
    }

    #[test]
    fn no_partition_stays_paused_longer_than_max_pause() {
        let mut a = Aligner::default();
        let t0 = Instant::now();
        a.check(&seen(&[((0, 0), 10, 100), ((0, 1), 20, 100)]), t0);
        // Partition 0 keeps receiving, but slowly in event time.
        let mut position = 100;
        let mut now = t0;
        while now < t0 + MAX_PAUSE {
            now += Duration::from_millis(200);
            position += 10;
            let moves = a.check(&seen(&[((0, 0), 10, position), ((0, 1), 20, 100)]), now);
            if now < t0 + MAX_PAUSE {
                assert!(moves.resume.is_empty(), "{moves:?}");
            } else {
                assert_eq!(moves.resume, [(0, 1)]);
            }
        }
        // Partition 0 keeps receiving old events: partition 1 is not paused again at once...
        now += Duration::from_millis(200);
        let moves = a.check(&seen(&[((0, 0), 10, 1000), ((0, 1), 21, 150)]), now);
        assert!(moves.pause.is_empty(), "{moves:?}");
        // ...only after the cool-down.
        now += COOLDOWN;
        let moves = a.check(&seen(&[((0, 0), 10, 2000), ((0, 1), 22, 200)]), now);
        assert_eq!(moves.pause, [(0, 1)]);
    }

    #[test]
    fn topics_are_aligned_separately_and_reset_returns_the_paused() {
        let mut a = Aligner::default();
        let t0 = Instant::now();
        let moves = a.check(
            &seen(&[
                ((0, 0), 10, 1),
                ((0, 1), 11, 1),
                ((1, 0), 30, 1),
                ((1, 1), 40, 1),
            ]),
            t0,
        );
        assert_eq!(moves.pause, [(1, 1)]);
        assert_eq!(a.reset(), [(1, 1)]);
        assert_eq!(a.paused().count(), 0);
    }
}
