//! When to try again, and how long to wait first. Pure: the randomness comes in as a number.

use std::time::Duration;

use crate::error::ExchangeError;

/// The most attempts a policy makes, whatever it is set to: a retry loop must stay bounded.
pub const MAX_ATTEMPTS: u32 = 10;

/// Bounded retries with exponential backoff and jitter for transient failures.
///
/// Retried: connection refused or reset, timeouts, HTTP 429, 502, 503 and 504 (see
/// [`ExchangeError::is_transient`]). Never retried: rejections (`invalid_grant`,
/// `invalid_client`, any other 4xx), nonsense answers, configuration errors.
///
/// The wait before retry `n` (1-based) is `base_delay * 2^(n-1)`, capped at `max_delay`,
/// then scaled by a random factor in `[0.5, 1.0]` ("equal jitter"), so many clients that
/// failed together do not come back together. A `Retry-After` from the server replaces
/// that wait when it is at most `max_retry_after` (plus up to 20 % jitter, never less than
/// asked); when it is longer, we give up at once and return the error (waiting less than the
/// server asked would be pointless). At most [`MAX_ATTEMPTS`] attempts are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, including the first; `1` means no retries. `0` is treated as `1`,
    /// anything above [`MAX_ATTEMPTS`] as [`MAX_ATTEMPTS`].
    pub max_attempts: u32,
    /// The wait before the first retry, before jitter.
    pub base_delay: Duration,
    /// The longest wait between attempts, before jitter.
    pub max_delay: Duration,
    /// The longest `Retry-After` we honour.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, 200 ms base delay, 5 s max delay, `Retry-After` honoured up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Exactly one attempt.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The default delays with `max_attempts` attempts in total (including the first).
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            ..Self::default()
        }
    }

    /// Sets the base delay.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the longest wait between attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets the longest `Retry-After` honoured.
    pub fn max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// The attempts actually made: [`RetryPolicy::max_attempts`] within `1..=MAX_ATTEMPTS`.
    pub fn attempts_in_total(&self) -> u32 {
        self.max_attempts.clamp(1, MAX_ATTEMPTS)
    }

    /// The backoff before retry number `retry` (1 = the first retry), without jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay)
    }

    /// How long to wait after `attempt` (1-based) failed with `err`, or `None` to stop.
    ///
    /// `jitter` is a number in `[0, 1)` (clamped); the wait is `backoff * (0.5 + jitter / 2)`.
    /// Pure, so the schedule can be tested with fixed jitter.
    pub fn delay_after(&self, attempt: u32, err: &ExchangeError, jitter: f64) -> Option<Duration> {
        if attempt >= self.attempts_in_total() || !err.is_transient() {
            return None;
        }
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if let Some(after) = err.retry_after() {
            // Never earlier than asked; a little later, so clients told the same instant do
            // not all come back in it.
            return (after <= self.max_retry_after).then(|| {
                // `try_from`: a huge Retry-After (under a huge cap) must not overflow.
                Duration::try_from_secs_f64(after.as_secs_f64() * (1.0 + jitter / 5.0))
                    .unwrap_or(after)
            });
        }
        Some(self.backoff(attempt).mul_f64(0.5 + jitter / 2.0))
    }
}

/// A random number in `[0, 1)` for jitter, from the OS's random source via UUID v4.
pub(crate) fn random_jitter() -> f64 {
    // A v4 UUID is random except for 6 bits: the version nibble (in the upper half) and the
    // two variant bits `10`, which are the top bits of the lower 64. Those two must be masked
    // off, or every jitter lands in [0.5, 0.75). The 62 bits below them are random; the top
    // 53 of those give every f64 in [0, 1) spaced 2^-53 apart.
    let random62 = (uuid::Uuid::new_v4().as_u128() as u64) & ((1u64 << 62) - 1);
    (random62 >> 9) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> ExchangeError {
        ExchangeError::UnexpectedStatus {
            url: "u".into(),
            status: 503,
            retry_after: None,
            snippet: String::new(),
        }
    }

    fn rate_limited(secs: u64) -> ExchangeError {
        ExchangeError::UnexpectedStatus {
            url: "u".into(),
            status: 429,
            retry_after: Some(Duration::from_secs(secs)),
            snippet: String::new(),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn schedule_doubles_and_caps() {
        let p = RetryPolicy::attempts(10)
            .base_delay(ms(100))
            .max_delay(ms(1000));
        let got: Vec<_> = (1..=6).map(|n| p.backoff(n)).collect();
        assert_eq!(
            got,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(p.backoff(u32::MAX), ms(1000));
        assert_eq!(RetryPolicy::default().backoff(40), Duration::from_secs(5));
    }

    #[test]
    fn jitter_bounds() {
        let p = RetryPolicy::attempts(5).base_delay(ms(400));
        let e = transient();
        assert_eq!(p.delay_after(1, &e, 0.0), Some(ms(200)));
        assert_eq!(p.delay_after(1, &e, 1.0), Some(ms(400)));
        assert_eq!(p.delay_after(2, &e, 0.5), Some(ms(600)));
        assert_eq!(p.delay_after(1, &e, f64::NAN), Some(ms(200)));
        assert_eq!(p.delay_after(1, &e, -3.0), Some(ms(200)));
        for _ in 0..1000 {
            let j = random_jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn jitter_covers_the_whole_unit_interval() {
        // With uniform jitter, each quarter of [0, 1) misses 1,000 draws with probability
        // (3/4)^1000, about 1e-125: this cannot fail by chance, only by bias.
        let mut quarters = [0u32; 4];
        for _ in 0..1000 {
            let j = random_jitter();
            quarters[((j * 4.0) as usize).min(3)] += 1;
        }
        assert!(quarters.iter().all(|&n| n > 0), "{quarters:?}");
    }

    #[test]
    fn stops_after_max_attempts_and_on_rejections() {
        let p = RetryPolicy::default();
        assert!(p.delay_after(1, &transient(), 0.0).is_some());
        assert!(p.delay_after(2, &transient(), 0.0).is_some());
        assert_eq!(p.delay_after(3, &transient(), 0.0), None);
        assert_eq!(RetryPolicy::never().delay_after(1, &transient(), 0.0), None);
        assert_eq!(
            RetryPolicy::attempts(0).delay_after(1, &transient(), 0.0),
            None
        );
        let rejected =
            ExchangeError::Rejected(crate::Rejection::new(400, "invalid_grant", None, None));
        assert_eq!(p.delay_after(1, &rejected, 0.0), None);
    }

    #[test]
    fn retry_after_replaces_backoff_up_to_cap() {
        let p = RetryPolicy::default().max_retry_after(Duration::from_secs(10));
        // Never earlier than asked, at most 20 % later.
        assert_eq!(
            p.delay_after(1, &rate_limited(2), 0.0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.delay_after(1, &rate_limited(2), 0.5),
            Some(Duration::from_millis(2200))
        );
        assert_eq!(
            p.delay_after(1, &rate_limited(10), 1.0),
            Some(Duration::from_secs(12))
        );
        assert_eq!(p.delay_after(1, &rate_limited(11), 0.0), None);
    }

    #[test]
    fn attempts_are_capped() {
        assert_eq!(RetryPolicy::attempts(0).attempts_in_total(), 1);
        assert_eq!(RetryPolicy::attempts(4).attempts_in_total(), 4);
        assert_eq!(
            RetryPolicy::attempts(u32::MAX).attempts_in_total(),
            MAX_ATTEMPTS
        );
        let p = RetryPolicy::attempts(u32::MAX).max_delay(Duration::from_millis(1));
        assert!(p.delay_after(MAX_ATTEMPTS - 1, &transient(), 0.0).is_some());
        assert_eq!(p.delay_after(MAX_ATTEMPTS, &transient(), 0.0), None);
    }
}
