//! One user's life as a sequence of sessions: eventsim's `User` and `Session` (its
//! `incrementEvent`, `nextSession` and churn), one event at a time.

use super::rng::Rng;
use super::timing::MS_PER_SECOND;
use super::transitions::StateId;
use super::users::Profile;
use super::Model;

/// The event a user is at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Current {
    pub ts: i64,
    pub session_id: i64,
    pub item_in_session: i32,
    pub state: StateId,
    /// The state before, as eventsim tracks it (not updated on redirects).
    pub previous: Option<StateId>,
    pub song: Option<u32>,
}

/// A user being simulated.
///
/// A user's next session starts at least one second after the last event of the session
/// before, so no two of the user's sessions have their first events in the same second: the
/// low bits of [`session_id`] tell them apart.
#[derive(Debug, Clone)]
pub struct UserSim {
    pub profile: Profile,
    rng: Rng,
    cur: Current,
    song_end: i64,
    alive: bool,
    /// The run's start (epoch ms): events at or before it are simulated but not written.
    run_start: i64,
    /// The current session has had no event after `run_start` yet, so its id is not known:
    /// it comes from the session's first written event.
    id_pending: bool,
}

/// Bits of a session id that hold the session's second (the low bits); the user id is above.
pub const SESSION_SECOND_BITS: u32 = 32;
/// The largest user id a session id can carry: 31 bits, so that ids stay positive `i64`s.
pub const MAX_SESSION_USER_ID: i64 = (1 << (63 - SESSION_SECOND_BITS)) - 1;
/// The latest time a session id can carry, epoch ms (2106-02-07T06:28:15.999).
pub const MAX_SESSION_MS: i64 = (1 << SESSION_SECOND_BITS) * MS_PER_SECOND - 1;

/// A session id: the global user id (the `userId` of the user's events, also for the user's
/// sessions as a guest) in the high 31 bits, and the epoch second of the session's first event
/// in the output in the low 32 bits.
///
/// Unique within a run because a user's sessions follow one another at least a second apart
/// (see [`UserSim`]); across runs because other user ids give other high bits and other
/// windows other seconds. `None` when the user id is not in `1..=MAX_SESSION_USER_ID` or
/// the time not in `0..=MAX_SESSION_MS` (the command line rejects runs that could get there).
pub fn session_id(user_id: i64, first_event_ms: i64) -> Option<i64> {
    if !(1..=MAX_SESSION_USER_ID).contains(&user_id)
        || !(0..=MAX_SESSION_MS).contains(&first_event_ms)
    {
        return None;
    }
    Some((user_id << SESSION_SECOND_BITS) | (first_event_ms / MS_PER_SECOND))
}

impl UserSim {
    /// A user whose stream is `rng` (after its profile draws), at its first session.
    pub fn new(model: &Model, profile: Profile, rng: Rng, start: i64) -> UserSim {
        let mut sim = UserSim {
            profile,
            rng,
            cur: Current {
                ts: 0,
                session_id: 0,
                item_in_session: 0,
                state: 0,
                previous: None,
                song: None,
            },
            song_end: 0,
            alive: true,
            run_start: start,
            id_pending: true,
        };
        let first = match sim.profile.arrival {
            // New users start when they arrive (eventsim draws their first session as for
            // initial users, which can put it before their registration).
            Some(t) => t,
            None => model
                .timing
                .first_session_start(start, sim.profile.beta, &mut sim.rng),
        };
        let (auth, level) = (sim.profile.auth, sim.profile.level);
        sim.start_session(model, first, auth, level);
        sim
    }

    /// Whether the user still has events to come.
    #[inline]
    pub fn alive(&self) -> bool {
        self.alive
    }

    /// The event the user is at (meaningful while `alive`; its `session_id` once the event is
    /// after the run's start, as the events written are).
    #[inline]
    pub fn current(&self) -> &Current {
        &self.cur
    }

    fn start_session(&mut self, model: &Model, ts: i64, auth: u16, level: u16) {
        let Some(state) = model.site.first_state(auth, level, &mut self.rng) else {
            // new-session has no entry for this (auth, level): eventsim would crash here.
            self.alive = false;
            return;
        };
        let song = model
            .site
            .state(state)
            .is_next_song
            .then(|| model.catalog.next_song(&mut self.rng));
        self.cur = Current {
            ts,
            session_id: 0,
            item_in_session: 0,
            state,
            previous: None,
            song,
        };
        self.song_end = song.map_or(ts, |s| ts + song_ms(model, s));
        self.id_pending = true;
        self.fix_session_id();
    }

    /// Gives the current session its id at its first event after the run's start (the first
    /// event written). A user whose id or time a session id cannot hold ends there.
    #[inline]
    fn fix_session_id(&mut self) {
        if !self.id_pending || self.cur.ts <= self.run_start {
            return;
        }
        match session_id(self.profile.user_id, self.cur.ts) {
            Some(id) => {
                self.cur.session_id = id;
                self.id_pending = false;
            }
            None => self.alive = false,
        }
    }

    /// A random gap between events: exponential with the user's `alpha`, in milliseconds, at
    /// least 1 ms (eventsim truncates to whole seconds, so its events can share a timestamp).
    #[inline]
    fn gap(&mut self) -> i64 {
        ((self.rng.exponential(self.profile.alpha) * 1000.0) as i64).max(1)
    }

    /// Moves to the next event: eventsim's `User.nextEvent` (the next state of the session, or
    /// the user's next session, or the end of the user).
    pub fn advance(&mut self, model: &Model) {
        let site = &model.site;
        let Some(next) = site.next_state(self.cur.state, &mut self.rng) else {
            self.end_session(model);
            return;
        };
        let dest = site.state(next);
        if dest.is_redirect {
            self.cur.ts += MS_PER_SECOND;
        } else if dest.is_next_song {
            match self.cur.song {
                Some(_) if self.cur.ts < self.song_end => self.cur.ts = self.song_end,
                _ => self.cur.ts += self.gap(),
            }
            let song = model.catalog.next_song(&mut self.rng);
            self.cur.song = Some(song);
            self.song_end = self.cur.ts + song_ms(model, song);
            self.cur.previous = Some(self.cur.state);
        } else {
            self.cur.ts += self.gap();
            self.cur.previous = Some(self.cur.state);
        }
        self.cur.state = next;
        self.cur.item_in_session += 1;
        self.fix_session_id();
    }

    fn end_session(&mut self, model: &Model) {
        let last = model.site.state(self.cur.state);
        if last.churned {
            self.alive = false;
            return;
        }
        // At least a second after the last event (eventsim's gap can be zero): the sessions'
        // first events then fall in different seconds, which keeps session ids apart.
        let next = model
            .timing
            .next_session_start(self.cur.ts, self.profile.beta, &mut self.rng)
            .max(self.cur.ts + MS_PER_SECOND);
        if next >= self.profile.leave_at {
            self.alive = false;
            return;
        }
        let (auth, level) = (last.auth, last.level);
        self.start_session(model, next, auth, level);
    }
}

fn song_ms(model: &Model, song: u32) -> i64 {
    (model.catalog.song(song).duration * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_carry_the_user_id_and_the_second() {
        // 2015-06-01T00:00:00.250 UTC
        let t = 1_433_116_800_250;
        let cases: &[(&str, i64, i64, Option<i64>)] = &[
            ("first user", 1, t, Some((1 << 32) | 1_433_116_800)),
            (
                "ms within the second",
                1,
                t + 749,
                Some((1 << 32) | 1_433_116_800),
            ),
            ("next second", 1, t + 750, Some((1 << 32) | 1_433_116_801)),
            ("other user", 2, t, Some((2 << 32) | 1_433_116_800)),
            ("epoch", 1, 0, Some(1 << 32)),
            (
                "largest",
                MAX_SESSION_USER_ID,
                MAX_SESSION_MS,
                Some(i64::MAX),
            ),
            ("user id 0", 0, t, None),
            ("negative user id", -3, t, None),
            ("user id past 31 bits", MAX_SESSION_USER_ID + 1, t, None),
            ("before 1970", 1, -1, None),
            ("past 32 bits of seconds", 1, MAX_SESSION_MS + 1, None),
        ];
        for &(name, user, ms, expected) in cases {
            assert_eq!(session_id(user, ms), expected, "{name}");
            if let Some(id) = expected {
                assert!(id > 0, "{name}: {id} not positive");
                assert_eq!(id >> SESSION_SECOND_BITS, user, "{name}");
            }
        }
    }
}
