//! The click-stream event model shared by the generator, the lander and the tests.
//!
//! The shape follows eventsim's output and the Avro schemas in `schema-registry/*.avsc`, which
//! are the single source of truth: [`Topic::fields`] lists each topic's fields in schema order.
//! One [`Event`] struct holds the union of the four topics' fields; a topic uses the subset that
//! its schema names. The struct is generic over its string type so that the generator can fill
//! it with borrowed `&str` (no allocation per event) while consumers own `String`s.

use std::fmt;

/// The four Kafka topics (and bronze tables) of the click-stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `NextSong` page views, with the song played.
    Listen,
    /// Every event.
    PageView,
    /// Login, logout and registration attempts, with their outcome.
    Auth,
    /// Level changes (`Submit Upgrade`, `Submit Downgrade`).
    StatusChange,
}

impl Topic {
    /// All topics, in a stable order (the order of `Topic::index`).
    pub const ALL: [Topic; 4] = [
        Topic::Listen,
        Topic::PageView,
        Topic::Auth,
        Topic::StatusChange,
    ];

    /// The topic's name, as used for Kafka topics, schema files and output files.
    pub const fn name(self) -> &'static str {
        match self {
            Topic::Listen => "listen_events",
            Topic::PageView => "page_view_events",
            Topic::Auth => "auth_events",
            Topic::StatusChange => "status_change_events",
        }
    }

    /// A dense index (0..4) for per-topic arrays.
    pub const fn index(self) -> usize {
        match self {
            Topic::Listen => 0,
            Topic::PageView => 1,
            Topic::Auth => 2,
            Topic::StatusChange => 3,
        }
    }

    /// The topic with this name, if any.
    pub fn from_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The file name of the topic's Avro schema inside `schema-registry/`.
    pub fn schema_file(self) -> String {
        format!("{}.avsc", self.name())
    }

    /// The topic's fields, in the order of its Avro schema (and of the JSON the generator writes).
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            Topic::Listen => &[
                "ts",
                "sessionId",
                "auth",
                "level",
                "itemInSession",
                "city",
                "zip",
                "state",
                "userAgent",
                "lon",
                "lat",
                "userId",
                "lastName",
                "firstName",
                "gender",
                "registration",
                "artist",
                "song",
                "duration",
                "tag",
            ],
            Topic::PageView => &[
                "ts",
                "sessionId",
                "page",
                "auth",
                "method",
                "status",
                "level",
                "itemInSession",
                "city",
                "zip",
                "state",
                "userAgent",
                "lon",
                "lat",
                "userId",
                "lastName",
                "firstName",
                "gender",
                "registration",
                "artist",
                "song",
                "duration",
                "tag",
            ],
            Topic::Auth => &[
                "ts",
                "sessionId",
                "level",
                "itemInSession",
                "city",
                "zip",
                "state",
                "userAgent",
                "lon",
                "lat",
                "userId",
                "lastName",
                "firstName",
                "gender",
                "registration",
                "success",
                "tag",
            ],
            Topic::StatusChange => &[
                "ts",
                "sessionId",
                "auth",
                "level",
                "itemInSession",
                "city",
                "zip",
                "state",
                "userAgent",
                "lon",
                "lat",
                "userId",
                "lastName",
                "firstName",
                "gender",
                "registration",
                "tag",
            ],
        }
    }

    /// Fields that may be absent (Avro `["null", T]`): user fields (guests carry none), song
    /// fields on page views that are not `NextSong`, and the optional `tag`.
    pub fn is_nullable(self, field: &str) -> bool {
        matches!(
            field,
            "userId" | "lastName" | "firstName" | "gender" | "registration" | "tag"
        ) || (self == Topic::PageView && matches!(field, "artist" | "song" | "duration"))
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The user fields of an event; present only when the event's `auth` state shows user details
/// (eventsim's `show-user-details`), absent for guests.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFields<S = String> {
    pub user_id: i64,
    pub last_name: S,
    pub first_name: S,
    /// `M` or `F`.
    pub gender: S,
    /// Registration time, epoch milliseconds.
    pub registration: i64,
}

/// The song of a `NextSong` event.
#[derive(Debug, Clone, PartialEq)]
pub struct SongFields<S = String> {
    pub artist: S,
    pub song: S,
    /// Seconds.
    pub duration: f64,
}

/// One click-stream event: the union of the four topics' fields (see [`Topic::fields`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Event<S = String> {
    /// Epoch milliseconds (UTC).
    pub ts: i64,
    pub session_id: i64,
    pub page: S,
    pub auth: S,
    pub method: S,
    pub status: i32,
    pub level: S,
    /// Position of the event in its session, from 0.
    pub item_in_session: i32,
    pub city: S,
    pub zip: S,
    /// Two-letter US state code.
    pub state: S,
    /// eventsim's user agents are quoted strings, quotes included.
    pub user_agent: S,
    pub lon: f64,
    pub lat: f64,
    pub user: Option<UserFields<S>>,
    pub song: Option<SongFields<S>>,
    /// For `auth_events`: whether the login / logout / registration succeeded.
    pub success: Option<bool>,
    /// eventsim's `--tag` (for example an A/B test group), on events with user details.
    pub tag: Option<S>,
}

impl<S> Event<S> {
    /// The Kafka record key: the user id, or for guests the session id, so that one user's
    /// (or one guest session's) events stay in order.
    pub fn key(&self) -> i64 {
        self.user.as_ref().map_or(self.session_id, |u| u.user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_round_trip() {
        for t in Topic::ALL {
            assert_eq!(Topic::from_name(t.name()), Some(t));
            assert_eq!(Topic::ALL[t.index()], t);
        }
        assert_eq!(Topic::from_name("nope"), None);
    }

    #[test]
    fn fields_are_unique_per_topic() {
        for t in Topic::ALL {
            let mut f = t.fields().to_vec();
            f.sort_unstable();
            f.dedup();
            assert_eq!(f.len(), t.fields().len(), "{t}");
        }
    }
}
