//! eventsim's statistical model: the site's state machine, users, sessions, timing, the song
//! catalog, and the shipped name and place data.

pub mod catalog;
pub mod data;
pub mod rng;
pub mod sessions;
pub mod timing;
pub mod transitions;
pub mod users;

use soundlake_core::event::{Event, SongFields, UserFields};

use crate::config::{ConfigError, SiteConfig};
use catalog::Catalog;
use data::Data;
use sessions::Current;
use timing::Timing;
use transitions::{AuthAction, Site};
use users::Profile;

/// Everything the simulation reads, shared by all threads.
#[derive(Debug)]
pub struct Model {
    pub site: Site,
    pub catalog: Catalog,
    pub data: Data,
    pub timing: Timing,
    pub alpha: f64,
    pub beta: f64,
}

/// The extra records an event produces besides its page view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outputs {
    pub listen: bool,
    pub status_change: bool,
    /// `Some(success)` when the event closes a login, logout or registration attempt.
    pub auth: Option<bool>,
}

impl Model {
    /// Builds the model from a config; non-fatal findings go to `warnings`.
    pub fn new(cfg: &SiteConfig, warnings: &mut Vec<String>) -> Result<Model, ConfigError> {
        Ok(Model {
            site: Site::build(cfg, warnings)?,
            catalog: Catalog::standard(),
            data: Data::shipped(),
            timing: Timing::new(cfg),
            alpha: cfg.alpha,
            beta: cfg.beta,
        })
    }

    /// The page view of the event a user is at (user fields only where the auth shows them).
    pub fn event<'m>(&'m self, p: &Profile, c: &Current, tag: Option<&'m str>) -> Event<&'m str> {
        let st = self.site.state(c.state);
        let place = &self.data.places[p.place as usize];
        let user = st.show_user.then(|| {
            let (first, gender) = &self.data.first_names[p.first_name as usize];
            UserFields {
                user_id: p.user_id,
                last_name: self.data.last_names[p.last_name as usize].as_str(),
                first_name: first.as_str(),
                gender: gender.as_str(),
                registration: p.registration,
            }
        });
        let song = c.song.filter(|_| st.is_next_song).map(|id| {
            let s = self.catalog.song(id);
            SongFields {
                artist: self.catalog.artist_of(s),
                song: s.title.as_str(),
                duration: s.duration,
            }
        });
        Event {
            ts: c.ts,
            session_id: c.session_id,
            page: &st.key.page,
            auth: &st.key.auth,
            method: &st.key.method,
            status: st.key.status,
            level: &st.key.level,
            item_in_session: c.item_in_session,
            city: &place.city,
            zip: &place.zip,
            state: &place.state,
            user_agent: &self.data.user_agents[p.user_agent as usize],
            lon: place.lon,
            lat: place.lat,
            tag: if user.is_some() { tag } else { None },
            user,
            song,
            success: None,
        }
    }

    /// Which topics besides page views get the event (eventsim's `Output.writeEvents`).
    pub fn outputs(&self, c: &Current) -> Outputs {
        let st = self.site.state(c.state);
        let auth = c
            .previous
            .and_then(|prev| match self.site.state(prev).auth_action {
                AuthAction::Attempt { expect_logged_in } => {
                    Some((st.key.auth == "Logged In") == expect_logged_in)
                }
                AuthAction::None => None,
            });
        Outputs {
            listen: st.is_next_song,
            status_change: st.is_status_change,
            auth,
        }
    }
}
