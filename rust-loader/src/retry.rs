//! Retries with exponential backoff, for failures that a later attempt may not meet
//! ([`Error::is_transient`]).

use std::future::Future;
use std::time::Duration;

use crate::error::Error;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = none).
    pub retries: u32,
    /// The wait before the first retry; doubled for each next one, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the retries are spent; logs each retry.
pub async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    what: &str,
    subject: &str,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut retry = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_transient() && retry < policy.retries => {
                retry += 1;
                let delay = policy.delay(retry);
                tracing::warn!(
                    "{what} {subject} failed ({err}); retry {retry}/{} in {delay:?}",
                    policy.retries
                );
                tokio::time::sleep(delay).await;
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1), Duration::from_secs(1));
        assert_eq!(policy.delay(3), Duration::from_secs(4));
        assert_eq!(policy.delay(10), Duration::from_secs(30));
        assert_eq!(policy.delay(40), Duration::from_secs(30));
    }

    fn transient() -> Error {
        Error::clickhouse("http://x", "q", clickhouse::error::Error::TimedOut)
    }

    #[tokio::test]
    async fn retries_transient_errors_only() {
        let policy = RetryPolicy {
            retries: 2,
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        };
        let calls = AtomicU32::new(0);
        let result = with_retries(policy, "t", "x", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(transient()),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(policy, "t", "x", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(transient())
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3, "1 attempt + 2 retries");

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(policy, "t", "x", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::Invalid("bad".into()))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "permanent errors are not retried"
        );
    }
}
