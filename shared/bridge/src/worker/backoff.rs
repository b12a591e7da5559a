//! Retry delays: exponential back-off with full jitter from the message's receive count.
//!
//! Why per-message visibility instead of the queue's fixed timeout: a Severa outage should not
//! be hammered every visibility period by every failed job, and jitter spreads the retries of a
//! batch that failed together (AWS Architecture Blog, "Exponential Backoff And Jitter").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Picks a whole number in `0..=upper`. Injectable so tests get deterministic delays.
pub type Jitter = Arc<dyn Fn(u64) -> u64 + Send + Sync>;

/// The largest delay for the `receive_count`-th delivery: `base · 2^(receive_count − 1)`,
/// at most `cap`.
pub fn ceiling(receive_count: u32, base: Duration, cap: Duration) -> Duration {
    let exponent = receive_count.saturating_sub(1).min(30);
    base.saturating_mul(1u32 << exponent).min(cap)
}

/// The visibility timeout, in seconds, before the next delivery: full jitter below the
/// [`ceiling`], at least one second so the retry never comes back at once.
pub fn delay_seconds(receive_count: u32, base: Duration, cap: Duration, jitter: &Jitter) -> i32 {
    let upper = ceiling(receive_count, base, cap).as_secs();
    let picked = jitter(upper).min(upper).max(1);
    i32::try_from(picked).unwrap_or(i32::MAX)
}

/// Seconds from `now` to the next UTC midnight — when Severa's daily quota starts again — plus
/// up to `spread` of jitter so the deferred jobs do not all return in the same second; at most
/// SQS's 12-hour visibility limit (a job deferred for longer is deferred again on its return).
pub fn until_next_utc_day(
    now: chrono::DateTime<chrono::Utc>,
    spread: Duration,
    jitter: &Jitter,
) -> i32 {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    let midnight = tomorrow.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let wait = (midnight - now).num_seconds().max(1) as u64;
    let total = wait.saturating_add(jitter(spread.as_secs()).min(spread.as_secs()));
    i32::try_from(total.min(MAX_VISIBILITY_SECS)).unwrap_or(i32::MAX)
}

/// SQS's upper bound for a message's visibility timeout.
pub const MAX_VISIBILITY_SECS: u64 = 12 * 3600;

/// Full jitter from a small splitmix64 generator: no dependency, and a statistically fine
/// spread for delays (this is not for anything secret).
pub fn full_jitter(seed: u64) -> Jitter {
    let state = AtomicU64::new(seed);
    Arc::new(move |upper| {
        if upper == 0 {
            return 0;
        }
        let mut z = state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z % (upper + 1)
    })
}

/// [`full_jitter`] seeded from the clock (each warm instance spreads differently).
pub fn clock_seeded_jitter() -> Jitter {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5EED);
    full_jitter(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_waits_until_after_the_utc_day_changes() {
        let none: Jitter = Arc::new(|_| 0);
        let all: Jitter = Arc::new(|upper| upper);
        let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let spread = Duration::from_secs(600);
        assert_eq!(
            until_next_utc_day(at("2026-03-02T23:50:00Z"), spread, &none),
            600
        );
        assert_eq!(
            until_next_utc_day(at("2026-03-02T23:50:00Z"), spread, &all),
            1200
        );
        // More than 12 h to go: the 12-hour visibility limit.
        assert_eq!(
            until_next_utc_day(at("2026-03-02T01:00:00Z"), spread, &none),
            43_200
        );
    }

    const BASE: Duration = Duration::from_secs(10);
    const CAP: Duration = Duration::from_secs(900);

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        assert_eq!(ceiling(0, BASE, CAP), BASE);
        assert_eq!(ceiling(1, BASE, CAP), BASE);
        assert_eq!(ceiling(2, BASE, CAP), Duration::from_secs(20));
        assert_eq!(ceiling(4, BASE, CAP), Duration::from_secs(80));
        assert_eq!(ceiling(7, BASE, CAP), Duration::from_secs(640));
        assert_eq!(ceiling(8, BASE, CAP), CAP);
        assert_eq!(ceiling(u32::MAX, BASE, CAP), CAP);
    }

    #[test]
    fn delays_stay_within_one_second_and_the_ceiling() {
        let jitter = full_jitter(42);
        for count in 1..12 {
            let upper = ceiling(count, BASE, CAP).as_secs() as i32;
            for _ in 0..200 {
                let d = delay_seconds(count, BASE, CAP, &jitter);
                assert!((1..=upper).contains(&d), "{count}: {d}");
            }
        }
        let max: Jitter = Arc::new(|upper| upper);
        assert_eq!(delay_seconds(3, BASE, CAP, &max), 40);
        let zero: Jitter = Arc::new(|_| 0);
        assert_eq!(delay_seconds(3, BASE, CAP, &zero), 1);
    }

    #[test]
    fn jitter_spreads() {
        let jitter = full_jitter(7);
        let picks: std::collections::BTreeSet<u64> = (0..100).map(|_| jitter(900)).collect();
        assert!(picks.len() > 50, "{picks:?}");
    }
}
