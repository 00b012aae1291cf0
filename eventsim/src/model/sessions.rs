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
#[derive(Debug, Clone)]
pub struct UserSim {
    pub profile: Profile,
    rng: Rng,
    session_no: u32,
    cur: Current,
    song_end: i64,
    alive: bool,
}

/// Session ids: the user's index in the high 31 bits, the user's session number in the low 32,
/// so that they are unique across users without a shared counter (eventsim has one global
/// counter, which would make ids depend on the order users are simulated in).
pub fn session_id(user_index: u64, session_no: u32) -> i64 {
    ((user_index as i64) << 32) | i64::from(session_no)
}

impl UserSim {
    /// A user whose stream is `rng` (after its profile draws), at its first session.
    pub fn new(model: &Model, profile: Profile, rng: Rng, start: i64) -> UserSim {
        let mut sim = UserSim {
            profile,
            rng,
            session_no: 0,
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

    /// The event the user is at (meaningful while `alive`).
    #[inline]
    pub fn current(&self) -> &Current {
        &self.cur
    }

    fn start_session(&mut self, model: &Model, ts: i64, auth: u16, level: u16) {
        self.session_no = match self.session_no.checked_add(1) {
            Some(n) => n,
            None => {
                self.alive = false;
                return;
            }
        };
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
            session_id: session_id(self.profile.index, self.session_no),
            item_in_session: 0,
            state,
            previous: None,
            song,
        };
        self.song_end = song.map_or(ts, |s| ts + song_ms(model, s));
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
    }

    fn end_session(&mut self, model: &Model) {
        let last = model.site.state(self.cur.state);
        if last.churned {
            self.alive = false;
            return;
        }
        let next = model
            .timing
            .next_session_start(self.cur.ts, self.profile.beta, &mut self.rng);
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
