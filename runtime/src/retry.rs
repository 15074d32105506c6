//! Deadlines and retries.
//!
//! Fix for *uncleared-timeout*: a deadline is `tokio::time::timeout` around
//! the future, so the timer is dropped with the future whichever finishes
//! first — no detached timer task can outlive the operation. Retries back
//! off exponentially and stop immediately when the caller is cancelled.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// The deadline passed before the operation finished.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("deadline of {0:?} elapsed")]
pub struct DeadlineElapsed(pub Duration);

/// Runs `fut` with a deadline; the armed timer is counted in the timers gauge
/// for exactly as long as it exists.
pub async fn with_timeout<F: Future>(
    metrics: &Arc<Metrics>,
    deadline: Duration,
    fut: F,
) -> Result<F::Output, DeadlineElapsed> {
    let _armed = metrics.track(|m| &m.timers);
    tokio::time::timeout(deadline, fut)
        .await
        .map_err(|_elapsed| DeadlineElapsed(deadline))
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub base_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Why a retried operation gave up.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E> {
    #[error("cancelled while retrying")]
    Cancelled,
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted { attempts: u32, last: E },
    #[error("permanent failure: {0}")]
    Permanent(E),
}

/// Retries `op` while `retryable(&err)` holds, sleeping with backoff between
/// attempts; cancellation of `cancel` ends the wait (and the op) at once.
pub async fn with_retry<T, E, F, Fut>(
    policy: RetryPolicy,
    cancel: &CancellationToken,
    what: &str,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, RetryError<E>>
where
    E: std::fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let attempts = policy.attempts.max(1);
    let mut attempt = 1;
    loop {
        let result = tokio::select! {
            _ = cancel.cancelled() => return Err(RetryError::Cancelled),
            result = op(attempt) => result,
        };
        let err = match result {
            Ok(value) => return Ok(value),
            Err(err) if !retryable(&err) => return Err(RetryError::Permanent(err)),
            Err(err) if attempt >= attempts => {
                return Err(RetryError::Exhausted {
                    attempts,
                    last: err,
                });
            }
            Err(err) => err,
        };
        let delay = policy.backoff(attempt);
        tracing::info!(%err, attempt, ?delay, "{what} failed; retrying");
        tokio::select! {
            _ = cancel.cancelled() => return Err(RetryError::Cancelled),
            () = tokio::time::sleep(delay) => attempt += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            attempts: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(350));
    }
}
