//! Random streams: xoshiro256++ seeded through SplitMix64.
//!
//! Written here rather than taken from a crate so that a seed gives the same events on every
//! build, whatever the versions of the `rand` crates elsewhere in the workspace. Each user has
//! its own stream, derived from (run seed, user index), which makes the output independent of the
//! number of threads.

/// SplitMix64 step: a good 64-bit mixer, used to seed streams.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stream ids reserved for things that are not users (user streams use the user index).
pub mod streams {
    /// Arrival times of new users (`growth-rate`).
    pub const GROWTH: u64 = u64::MAX;
    /// The song catalog (fixed, independent of the run's seed).
    pub const CATALOG: u64 = u64::MAX - 1;
}

/// A xoshiro256++ generator.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The stream `stream` of the run seeded with `seed`.
    pub fn stream(seed: u64, stream: u64) -> Rng {
        let mut sm = seed ^ splitmix64(&mut stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    #[inline]
    pub fn next_f64_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Exponential with mean `mu` (eventsim's `exponentialRandomValue`).
    #[inline]
    pub fn exponential(&mut self, mu: f64) -> f64 {
        -mu * self.next_f64_open0().ln()
    }

    /// Standard normal (Box-Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.next_f64_open0();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with mean 1: eventsim's `exp(N(0,1)) / sqrt(e)`.
    pub fn log_normal_unit(&mut self) -> f64 {
        (self.gaussian() - 0.5).exp()
    }
}

/// Picks indices with probability proportional to their weights.
#[derive(Debug, Clone, Default)]
pub struct WeightedTable {
    cumulative: Vec<f64>,
}

impl WeightedTable {
    /// A table over `weights`; `None` when no weight is positive.
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Option<WeightedTable> {
        let mut total = 0.0;
        let cumulative: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        (total > 0.0).then_some(WeightedTable { cumulative })
    }

    /// The weight of entry `i`.
    pub fn weight(&self, i: usize) -> f64 {
        let prev = if i == 0 { 0.0 } else { self.cumulative[i - 1] };
        self.cumulative[i] - prev
    }

    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// A random index.
    #[inline]
    pub fn pick(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let x = rng.next_f64() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        i.min(self.cumulative.len() - 1)
    }
}

/// Walker's alias method: O(1) weighted picks, for big tables (the song catalog).
#[derive(Debug, Clone, Default)]
pub struct AliasTable {
    prob: Vec<f64>,
    alias: Vec<u32>,
}

impl AliasTable {
    /// A table over `weights` (Vose's construction); `None` when no weight is positive.
    pub fn new(weights: &[f64]) -> Option<AliasTable> {
        let n = weights.len();
        let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
        if n == 0 || total <= 0.0 {
            return None;
        }
        let mut prob: Vec<f64> = weights
            .iter()
            .map(|w| w.max(0.0) * n as f64 / total)
            .collect();
        let mut alias = vec![0u32; n];
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| prob[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l as u32;
            prob[l] -= 1.0 - prob[s];
            if prob[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in large.into_iter().chain(small) {
            prob[i] = 1.0;
        }
        Some(AliasTable { prob, alias })
    }

    pub fn len(&self) -> usize {
        self.prob.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prob.is_empty()
    }

    /// A random index.
    #[inline]
    pub fn pick(&self, rng: &mut Rng) -> usize {
        let i = rng.below(self.prob.len() as u64) as usize;
        if rng.next_f64() < self.prob[i] {
            i
        } else {
            self.alias[i] as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, 1).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::stream(7, 1).next_u64(), Rng::stream(7, 2).next_u64());
        assert_ne!(Rng::stream(7, 1).next_u64(), Rng::stream(8, 1).next_u64());
    }

    #[test]
    fn weighted_table_respects_zero_weights() {
        let t = WeightedTable::new([0.0, 1.0, 0.0, 3.0]).expect("positive weights");
        let mut rng = Rng::stream(1, 1);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[t.pick(&mut rng)] += 1;
        }
        assert_eq!(counts[0], 0);
        assert_eq!(counts[2], 0);
        assert!((counts[3] as f64 / counts[1] as f64 - 3.0).abs() < 0.2);
        assert!(WeightedTable::new([0.0]).is_none());
    }

    #[test]
    fn alias_table_matches_weights() {
        let t = AliasTable::new(&[1.0, 0.0, 2.0, 5.0]).expect("positive weights");
        let mut rng = Rng::stream(2, 2);
        let mut counts = [0f64; 4];
        let n = 80_000;
        for _ in 0..n {
            counts[t.pick(&mut rng)] += 1.0;
        }
        assert_eq!(counts[1], 0.0);
        for (i, w) in [(0, 1.0), (2, 2.0), (3, 5.0)] {
            assert!(
                (counts[i] / n as f64 - w / 8.0).abs() < 0.01,
                "{i}: {}",
                counts[i]
            );
        }
    }

    #[test]
    fn exponential_mean() {
        let mut rng = Rng::stream(3, 3);
        let n = 200_000;
        let mean: f64 = (0..n).map(|_| rng.exponential(90.0)).sum::<f64>() / n as f64;
        assert!((mean - 90.0).abs() < 1.5, "{mean}");
        let ln: f64 = (0..n).map(|_| rng.log_normal_unit()).sum::<f64>() / n as f64;
        assert!((ln - 1.0).abs() < 0.03, "{ln}");
    }
}
