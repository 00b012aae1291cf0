//! One retry policy for every service: exponential backoff (a first delay, doubled for each
//! next retry up to a cap), an optional limit on the number of retries, retrying only the
//! errors that the caller calls transient, and one log line per retry.
//!
//! Built on [`backon`]; [`RetryPolicy::retry`] runs an async attempt (sleeping with tokio),
//! [`RetryPolicy::retry_blocking`] a blocking one (sleeping the thread).
//!
//! ```
//! use std::time::Duration;
//! use soundlake_core::retry::RetryPolicy;
//!
//! let policy = RetryPolicy::new(Duration::from_millis(500)).with_max_retries(2);
//! let mut calls = 0;
//! let result: Result<(), &str> = policy.retry_blocking(
//!     "asking",
//!     |err| *err == "busy",
//!     || {
//!         calls += 1;
//!         Err("refused")
//!     },
//! );
//! assert_eq!(result, Err("refused"));
//! assert_eq!(calls, 1, "a permanent error is not retried");
//! ```

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, BlockingRetryable, ExponentialBuilder, Retryable};

/// The longest wait between two attempts, unless a policy says otherwise.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before the first retry; doubled for each next one, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Retries after the first attempt (0 = none); `None`: until the attempt succeeds or fails
    /// for good.
    pub max_retries: Option<u32>,
}

impl RetryPolicy {
    /// Retries without limit, waiting `first_delay` first and at most [`MAX_DELAY`].
    pub const fn new(first_delay: Duration) -> Self {
        Self {
            first_delay,
            max_delay: MAX_DELAY,
            max_retries: None,
        }
    }

    /// The same policy with another cap on the wait between two attempts.
    pub const fn with_max_delay(self, max_delay: Duration) -> Self {
        Self { max_delay, ..self }
    }

    /// The same policy, giving up after `retries` retries.
    pub const fn with_max_retries(self, retries: u32) -> Self {
        Self {
            max_retries: Some(retries),
            ..self
        }
    }

    /// The waits before each retry, in order (finite when the retries are limited).
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        self.backoff().build()
    }

    fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::new()
            .with_factor(2.0)
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay);
        match self.max_retries {
            Some(retries) => builder.with_max_times(retries as usize),
            None => builder.without_max_times(),
        }
    }

    /// Runs `attempt` until it succeeds, fails with an error that `is_transient` rejects, or
    /// the retries are spent (then the last error is returned). Logs each retry as
    /// `<what> failed (<error>); retry <n>[/<max>] in <delay>`.
    pub async fn retry<T, E, Fut>(
        &self,
        what: &str,
        is_transient: impl FnMut(&E) -> bool,
        attempt: impl FnMut() -> Fut,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: Display,
    {
        let mut log = RetryLog::new(what, self.max_retries);
        attempt
            .retry(self.backoff())
            .sleep(tokio::time::sleep)
            .when(is_transient)
            .notify(|err: &E, delay| log.retrying(err, delay))
            .await
    }

    /// [`RetryPolicy::retry`] for a blocking `attempt`: the thread sleeps between attempts.
    pub fn retry_blocking<T, E>(
        &self,
        what: &str,
        is_transient: impl FnMut(&E) -> bool,
        attempt: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: Display,
    {
        let mut log = RetryLog::new(what, self.max_retries);
        attempt
            .retry(self.backoff())
            .sleep(std::thread::sleep)
            .when(is_transient)
            .notify(|err: &E, delay| log.retrying(err, delay))
            .call()
    }
}

/// The log line of each retry, numbered.
struct RetryLog<'a> {
    what: &'a str,
    max_retries: Option<u32>,
    retries: u32,
}

impl<'a> RetryLog<'a> {
    fn new(what: &'a str, max_retries: Option<u32>) -> Self {
        Self {
            what,
            max_retries,
            retries: 0,
        }
    }

    fn retrying(&mut self, err: &dyn Display, delay: Duration) {
        self.retries += 1;
        let (what, retry) = (self.what, self.retries);
        match self.max_retries {
            Some(max) => tracing::warn!("{what} failed ({err}); retry {retry}/{max} in {delay:?}"),
            None => tracing::warn!("{what} failed ({err}); retry {retry} in {delay:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, PartialEq, Eq)]
    enum TestError {
        Busy,
        Bad,
    }

    impl Display for TestError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    fn transient(err: &TestError) -> bool {
        *err == TestError::Busy
    }

    const FAST: RetryPolicy = RetryPolicy::new(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(2))
        .with_max_retries(2);

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::new(Duration::from_secs(1));
        let delays: Vec<Duration> = policy.delays().take(40).collect();
        assert_eq!(delays.len(), 40, "no limit unless one is given");
        assert_eq!(delays[0], Duration::from_secs(1));
        assert_eq!(delays[2], Duration::from_secs(4));
        assert_eq!(delays[9], Duration::from_secs(30));
        assert_eq!(delays[39], Duration::from_secs(30));

        let policy = RetryPolicy::new(Duration::from_millis(500)).with_max_retries(4);
        let delays: Vec<Duration> = policy.delays().collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000].map(Duration::from_millis).to_vec()
        );
        assert_eq!(
            RetryPolicy::new(Duration::from_secs(1))
                .with_max_retries(0)
                .delays()
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn retries_transient_errors_only() {
        let calls = AtomicU32::new(0);
        let result = FAST
            .retry("t", transient, || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(TestError::Busy),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = FAST
            .retry("t", transient, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(TestError::Busy)
            })
            .await;
        assert_eq!(result, Err(TestError::Busy));
        assert_eq!(calls.load(Ordering::SeqCst), 3, "1 attempt + 2 retries");

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = FAST
            .retry("t", transient, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(TestError::Bad)
            })
            .await;
        assert_eq!(result, Err(TestError::Bad));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "permanent errors are not retried"
        );
    }

    #[test]
    fn blocking_retries_until_success_without_a_limit() {
        let policy =
            RetryPolicy::new(Duration::from_millis(1)).with_max_delay(Duration::from_millis(1));
        let mut calls = 0;
        let result = policy.retry_blocking("t", transient, || {
            calls += 1;
            if calls < 6 {
                Err(TestError::Busy)
            } else {
                Ok(calls)
            }
        });
        assert_eq!(result, Ok(6));

        let mut calls = 0;
        let result: Result<(), _> = FAST.retry_blocking("t", transient, || {
            calls += 1;
            Err(TestError::Busy)
        });
        assert_eq!(result, Err(TestError::Busy));
        assert_eq!(calls, 3, "1 attempt + 2 retries");

        let mut calls = 0;
        let result: Result<(), _> = FAST.retry_blocking("t", transient, || {
            calls += 1;
            Err(TestError::Bad)
        });
        assert_eq!(result, Err(TestError::Bad));
        assert_eq!(calls, 1, "permanent errors are not retried");
    }

    #[test]
    fn a_transient_predicate_may_stop_retrying() {
        // E.g. a service shutting down stops waiting for the lake.
        let stop = AtomicU32::new(0);
        let policy = RetryPolicy::new(Duration::from_millis(1));
        let mut calls = 0;
        let result: Result<(), _> = policy.retry_blocking(
            "t",
            |err| transient(err) && stop.load(Ordering::SeqCst) == 0,
            || {
                calls += 1;
                if calls == 3 {
                    stop.store(1, Ordering::SeqCst);
                }
                Err(TestError::Busy)
            },
        );
        assert_eq!(result, Err(TestError::Busy));
        assert_eq!(calls, 3);
    }
}
