//! Users: their stable properties (drawn from their own random stream), and the arrival of new
//! users over time (`growth-rate`).

use super::rng::{streams, Rng};
use super::timing::{MS_PER_SECOND, SECONDS_PER_YEAR};
use super::Model;

/// How the population is made: eventsim's `--nusers`, `--growth-rate`, `--attrition-rate`.
#[derive(Debug, Clone)]
pub struct PopulationParams {
    pub seed: u64,
    pub initial_users: u64,
    pub first_user_id: i64,
    /// Annual growth, as a fraction of the current number of users.
    pub growth_rate: f64,
    /// Annual attrition, as a fraction of the current number of users.
    pub attrition_rate: f64,
    /// Start of the simulated span, epoch ms.
    pub start: i64,
}

/// A user's stable properties; names, place and user agent are indices into the shipped data.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Position in the population (0-based): seeds the user's stream.
    pub index: u64,
    /// The global user id, `first_user_id + index`: the events' `userId`, and the high bits of
    /// the user's session ids.
    pub user_id: i64,
    pub first_name: u32,
    pub last_name: u32,
    pub place: u32,
    pub user_agent: u32,
    /// Epoch ms.
    pub registration: i64,
    /// Mean seconds between events in a session (eventsim's `alpha`, scaled per user).
    pub alpha: f64,
    /// Mean seconds between sessions (eventsim's `beta`, scaled per user).
    pub beta: f64,
    pub auth: u16,
    pub level: u16,
    /// For users added by growth: when they arrive (epoch ms).
    pub arrival: Option<i64>,
    /// When the user leaves (attrition), epoch ms; `i64::MAX` for never.
    pub leave_at: i64,
}

impl Profile {
    /// Draws the properties of user `index` from its own stream `rng` (the first draws of it).
    pub fn draw(
        model: &Model,
        params: &PopulationParams,
        index: u64,
        arrival: Option<i64>,
        rng: &mut Rng,
    ) -> Profile {
        let site = &model.site;
        let alpha = model.alpha * rng.log_normal_unit();
        let beta = model.beta * rng.log_normal_unit();
        let (auth, level) = match arrival {
            Some(_) => (site.new_user_auth, site.new_user_level),
            None => (
                site.auth_table
                    .as_ref()
                    .map_or(site.new_user_auth, |(t, ids)| ids[t.pick(rng)]),
                site.level_table
                    .as_ref()
                    .map_or(site.new_user_level, |(t, ids)| ids[t.pick(rng)]),
            ),
        };
        let data = &model.data;
        let first_name = data.first_table.pick(rng) as u32;
        let last_name = data.last_table.pick(rng) as u32;
        let place = data.place_table.pick(rng) as u32;
        let user_agent = data.agent_table.pick(rng) as u32;
        let registration = match arrival {
            Some(t) => t,
            None => {
                // eventsim: exponential with mean growth-rate years, capped at 5 years; with no
                // growth that puts every registration at the start, so we use one year then.
                let mean_years = if params.growth_rate > 0.0 {
                    params.growth_rate
                } else {
                    1.0
                };
                let seconds = rng
                    .exponential(mean_years * SECONDS_PER_YEAR)
                    .min(5.0 * SECONDS_PER_YEAR) as i64;
                params.start - seconds * MS_PER_SECOND
            }
        };
        let leave_at = if params.attrition_rate > 0.0 {
            let lifetime = rng.exponential(SECONDS_PER_YEAR / params.attrition_rate);
            let from = arrival.unwrap_or(params.start);
            from.saturating_add((lifetime.min(1e15)) as i64 * MS_PER_SECOND)
        } else {
            i64::MAX
        };
        Profile {
            index,
            user_id: params.first_user_id + index as i64,
            first_name,
            last_name,
            place,
            user_agent,
            registration,
            alpha,
            beta,
            auth,
            level,
            arrival,
            leave_at,
        }
    }
}

/// Arrival times of new users: eventsim's growth process, a Poisson process whose rate grows
/// with the population (mean gap = one year / (users × growth-rate)). Drawn from its own stream.
#[derive(Debug, Clone)]
pub struct Arrivals {
    rng: Rng,
    users: f64,
    rate: f64,
    current: i64,
}

impl Arrivals {
    pub fn new(params: &PopulationParams) -> Arrivals {
        Arrivals {
            rng: Rng::stream(params.seed, streams::GROWTH),
            users: params.initial_users.max(1) as f64,
            rate: params.growth_rate,
            current: params.start,
        }
    }

    /// The next arrival time (epoch ms), or `None` when there is no growth.
    pub fn next_arrival(&mut self) -> Option<i64> {
        if self.rate <= 0.0 {
            return None;
        }
        let mu = SECONDS_PER_YEAR / (self.users * self.rate);
        self.current += (self.rng.exponential(mu) * 1000.0) as i64;
        self.users += 1.0;
        Some(self.current)
    }

    /// How many arrivals come before `end`, if no more than `limit`.
    pub fn count_until(mut self, end: i64, limit: u64) -> Option<u64> {
        let mut n = 0;
        while let Some(t) = self.next_arrival() {
            if t >= end {
                break;
            }
            n += 1;
            if n > limit {
                return None;
            }
        }
        Some(n)
    }

    /// All arrivals before `end`.
    pub fn until(mut self, end: i64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(t) = self.next_arrival() {
            if t >= end {
                break;
            }
            out.push(t);
        }
        out
    }
}
