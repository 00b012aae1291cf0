//! The site's state machine, compiled from the config: states, transitions (eventsim's
//! cumulative probability ranges, the missing mass ends the session), new-session weights per
//! (auth, level), and what each state means for the output streams.

use std::collections::{BTreeMap, HashMap};

use super::rng::{Rng, WeightedTable};
use crate::config::{ConfigError, SiteConfig, StateKey};

pub type StateId = u32;

/// What an event in a state produces besides its page view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthAction {
    /// The event after one in this state is an `auth_events` record (a login, a logout or a
    /// registration attempt); it succeeded if the new auth state is `expect`.
    Attempt {
        expect_logged_in: bool,
    },
    None,
}

#[derive(Debug, Clone)]
pub struct State {
    pub key: StateKey,
    pub auth: u16,
    pub level: u16,
    pub is_next_song: bool,
    pub is_redirect: bool,
    pub is_status_change: bool,
    pub auth_action: AuthAction,
    /// Events in this state carry user details (`show-user-details`).
    pub show_user: bool,
    /// The auth is the `churned-state`: the user ends when the session ends in it.
    pub churned: bool,
}

/// The compiled state machine.
#[derive(Debug)]
pub struct Site {
    pub states: Vec<State>,
    /// Per state: (upper end of the cumulative range, destination), in config order.
    next: Vec<Vec<(f64, StateId)>>,
    /// Per (auth, level): the weighted first states of a session.
    initial: HashMap<(u16, u16), (WeightedTable, Vec<StateId>)>,
    pub auths: Vec<String>,
    pub levels: Vec<String>,
    /// Initial users' auth and level (`auths`, `levels`).
    pub auth_table: Option<(WeightedTable, Vec<u16>)>,
    pub level_table: Option<(WeightedTable, Vec<u16>)>,
    pub new_user_auth: u16,
    pub new_user_level: u16,
}

fn intern(names: &mut Vec<String>, ids: &mut HashMap<String, u16>, name: &str) -> u16 {
    if let Some(&id) = ids.get(name) {
        return id;
    }
    let id = names.len() as u16;
    names.push(name.to_string());
    ids.insert(name.to_string(), id);
    id
}

fn cfg_err<T>(path: &str, message: String) -> Result<T, ConfigError> {
    Err(ConfigError {
        path: path.to_string(),
        message,
    })
}

struct Builder<'c> {
    cfg: &'c SiteConfig,
    states: Vec<State>,
    ids: BTreeMap<StateKey, StateId>,
    auths: Vec<String>,
    auth_ids: HashMap<String, u16>,
    levels: Vec<String>,
    level_ids: HashMap<String, u16>,
}

impl Builder<'_> {
    fn state(&mut self, key: &StateKey) -> StateId {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let auth = intern(&mut self.auths, &mut self.auth_ids, &key.auth);
        let level = intern(&mut self.levels, &mut self.level_ids, &key.level);
        let auth_action = match key.page.as_str() {
            "Login" | "Submit Registration" => AuthAction::Attempt {
                expect_logged_in: true,
            },
            "Logout" => AuthAction::Attempt {
                expect_logged_in: false,
            },
            _ => AuthAction::None,
        };
        let id = self.states.len() as StateId;
        self.states.push(State {
            key: key.clone(),
            auth,
            level,
            is_next_song: key.page == "NextSong",
            is_redirect: (300..400).contains(&key.status),
            is_status_change: key.page == "Submit Upgrade" || key.page == "Submit Downgrade",
            auth_action,
            show_user: self
                .cfg
                .show_user_details
                .get(&key.auth)
                .copied()
                .unwrap_or(false),
            churned: self.cfg.churned_state.as_deref() == Some(key.auth.as_str()),
        });
        self.ids.insert(key.clone(), id);
        id
    }

    fn names_table(
        &mut self,
        items: &[(String, f64)],
        level: bool,
    ) -> Option<(WeightedTable, Vec<u16>)> {
        let ids: Vec<u16> = items
            .iter()
            .map(|(n, _)| {
                if level {
                    intern(&mut self.levels, &mut self.level_ids, n)
                } else {
                    intern(&mut self.auths, &mut self.auth_ids, n)
                }
            })
            .collect();
        WeightedTable::new(items.iter().map(|(_, w)| *w)).map(|t| (t, ids))
    }
}

impl Site {
    /// Compiles the config; `warnings` receives non-fatal findings.
    pub fn build(cfg: &SiteConfig, warnings: &mut Vec<String>) -> Result<Site, ConfigError> {
        let mut b = Builder {
            cfg,
            states: Vec::new(),
            ids: BTreeMap::new(),
            auths: Vec::new(),
            auth_ids: HashMap::new(),
            levels: Vec::new(),
            level_ids: HashMap::new(),
        };
        let mut next: Vec<Vec<(f64, StateId)>> = Vec::new();
        let mut totals: Vec<f64> = Vec::new();
        for (i, t) in cfg.transitions.iter().enumerate() {
            let s = b.state(&t.source) as usize;
            let d = b.state(&t.dest);
            if next.len() < b.states.len() {
                next.resize(b.states.len(), Vec::new());
                totals.resize(b.states.len(), 0.0);
            }
            totals[s] += t.p;
            if totals[s] > 1.0 + 1e-9 {
                return cfg_err(
                    &format!("transitions[{i}].p"),
                    format!(
                        "the probabilities of the transitions from {} add up to {:.6}, more than 1",
                        t.source, totals[s]
                    ),
                );
            }
            next[s].push((totals[s], d));
        }
        let mut initial: HashMap<(u16, u16), (Vec<f64>, Vec<StateId>)> = HashMap::new();
        for (i, (key, w)) in cfg.new_session.iter().enumerate() {
            if !b.ids.contains_key(key) {
                warnings.push(format!(
                    "new-session[{i}]: state {key} appears in no transition (its sessions have one event)"
                ));
            }
            let id = b.state(key);
            let st = &b.states[id as usize];
            let e = initial.entry((st.auth, st.level)).or_default();
            e.0.push(*w);
            e.1.push(id);
        }
        next.resize(b.states.len(), Vec::new());
        let auth_table = b.names_table(&cfg.auths, false);
        let level_table = b.names_table(&cfg.levels, true);
        let new_user_auth = intern(&mut b.auths, &mut b.auth_ids, &cfg.new_user_auth);
        let new_user_level = intern(&mut b.levels, &mut b.level_ids, &cfg.new_user_level);
        for auth in &b.auths {
            if !cfg.show_user_details.contains_key(auth) {
                warnings.push(format!(
                    "show-user-details: no entry for auth {auth:?}; its events carry no user details"
                ));
            }
        }
        if let Some(churned) = &cfg.churned_state {
            if !b.auth_ids.contains_key(churned) {
                warnings.push(format!(
                    "churned-state: {churned:?} is the auth of no state; no user will churn"
                ));
            }
        }
        let initial = initial
            .into_iter()
            .filter_map(|(k, (w, ids))| WeightedTable::new(w).map(|t| (k, (t, ids))))
            .collect();
        Ok(Site {
            states: b.states,
            next,
            initial,
            auths: b.auths,
            levels: b.levels,
            auth_table,
            level_table,
            new_user_auth,
            new_user_level,
        })
    }

    /// Whether sessions can start with this (auth, level).
    pub fn can_start(&self, auth: u16, level: u16) -> bool {
        self.initial.contains_key(&(auth, level))
    }

    /// The first state of a new session, or `None` when `new-session` has none for (auth, level).
    #[inline]
    pub fn first_state(&self, auth: u16, level: u16, rng: &mut Rng) -> Option<StateId> {
        self.initial
            .get(&(auth, level))
            .map(|(table, ids)| ids[table.pick(rng)])
    }

    /// eventsim's `State.nextState`: one uniform draw against the cumulative ranges; `None`
    /// (the session ends) when it falls beyond them.
    #[inline]
    pub fn next_state(&self, from: StateId, rng: &mut Rng) -> Option<StateId> {
        let x = rng.next_f64();
        self.next[from as usize]
            .iter()
            .find(|(hi, _)| x < *hi)
            .map(|&(_, d)| d)
    }

    /// Whether `to` may follow `from` inside a session (for checks and tests).
    pub fn allows(&self, from: StateId, to: StateId) -> bool {
        self.next[from as usize].iter().any(|&(_, d)| d == to)
    }

    /// Whether a session may start in `state`.
    pub fn is_initial(&self, state: StateId) -> bool {
        self.initial.values().any(|(_, ids)| ids.contains(&state))
    }

    /// The id of a state, by its key.
    pub fn find(&self, key: &StateKey) -> Option<StateId> {
        self.states
            .iter()
            .position(|s| &s.key == key)
            .map(|i| i as StateId)
    }

    pub fn state(&self, id: StateId) -> &State {
        &self.states[id as usize]
    }

    pub fn auth_id(&self, name: &str) -> Option<u16> {
        self.auths.iter().position(|a| a == name).map(|i| i as u16)
    }

    pub fn level_id(&self, name: &str) -> Option<u16> {
        self.levels.iter().position(|a| a == name).map(|i| i as u16)
    }

    /// Checks that users can start sessions: initial users with every (auth, level) of positive
    /// weight, and new users (when there are any) with `new-user-auth`/`new-user-level`.
    pub fn check_starts(&self, initial_users: bool, new_users: bool) -> Result<(), ConfigError> {
        if initial_users {
            let Some((at, aids)) = &self.auth_table else {
                return cfg_err(
                    "auths",
                    "no auth has a positive weight: initial users need one".into(),
                );
            };
            let Some((lt, lids)) = &self.level_table else {
                return cfg_err(
                    "levels",
                    "no level has a positive weight: initial users need one".into(),
                );
            };
            for (ai, &a) in aids.iter().enumerate() {
                for (li, &l) in lids.iter().enumerate() {
                    if at.weight(ai) > 0.0 && lt.weight(li) > 0.0 && !self.can_start(a, l) {
                        return cfg_err(
                            "new-session",
                            format!(
                                "no entry with auth {:?} and level {:?}, so initial users with them cannot start a session",
                                self.auths[a as usize], self.levels[l as usize]
                            ),
                        );
                    }
                }
            }
        }
        if new_users && !self.can_start(self.new_user_auth, self.new_user_level) {
            return cfg_err(
                "new-session",
                format!(
                    "no entry with auth {:?} and level {:?} (new-user-auth, new-user-level), so new users cannot start a session",
                    self.auths[self.new_user_auth as usize], self.levels[self.new_user_level as usize]
                ),
            );
        }
        Ok(())
    }
}
