//! The circuit breaker in front of Severa. When Severa is down (maintenance page, 502/503/504,
//! connection failures, timeouts) or rejects the key, every worker would otherwise keep calling
//! it for every job of every batch. One shared marker (a table item, [`Breaker`]) opens until a
//! time; until then jobs are deferred without calling Severa. After it, exactly one job at a
//! time probes: success closes the breaker, another outage opens it again for twice as long
//! (10 s doubling to 15 min; for a rejected key the worker's `key_rejected_retry`, 5 min by
//! default: a person has to rotate the new key in).
//!
//! Each invocation reads the marker once per batch and keeps what it learns (its own trips and
//! closes) in memory, so a batch does not read the table per record. What it keeps is also the
//! Severa client's [`CallGate`]: a call that waited for a slot while a call beside it tripped the
//! breaker is held back instead of sent. Calls that were already on their way when it tripped
//! fail with the same outage, and that is no new trip: only a failure after an opening ended (a
//! probe's) doubles the next opening.

use crate::error::JobError;
use crate::ports::{Breaker, BreakerState};
use crate::sync::Clock;
use chrono::{DateTime, TimeDelta, Utc};
use severa::{CallGate, SeveraError, TransportKind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The first opening; it doubles with every trip until the breaker closes.
pub const FIRST_OPENING: Duration = Duration::from_secs(10);
/// The longest opening between two probes.
pub const LONGEST_OPENING: Duration = Duration::from_secs(15 * 60);
/// How long a probe may take before another job may probe.
const PROBE_HOLD: Duration = Duration::from_secs(60);
/// A job that finds another probing comes back after this long.
const PROBE_WAIT: Duration = Duration::from_secs(30);
/// The reason of an opening for a rejected key.
const KEY_REJECTED: &str = "KeyRejected";

/// What the breaker says about one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Gate {
    /// Call Severa; `probe` when this job is the one testing whether Severa is back.
    Go { probe: bool },
    /// Do not call Severa: come back in `seconds`.
    Defer { seconds: i32, reason: String },
}

/// Why a failure means Severa as a whole is not answering (or not taking the key): the
/// breaker's reason, or `None` for failures of one job only.
pub fn outage(err: &JobError) -> Option<String> {
    match err {
        JobError::KeyRejected(_) => Some(KEY_REJECTED.into()),
        JobError::Severa(SeveraError::Transport { kind, status, .. }) => match kind {
            TransportKind::Maintenance | TransportKind::Connect | TransportKind::Timeout => {
                Some(kind.name().to_string())
            }
            TransportKind::HttpStatus if matches!(status, Some(502..=504)) => {
                Some(format!("HTTP{}", status.unwrap_or_default()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The opening after the `trips`-th trip in a row; a rejected key waits `key_rejected`.
pub fn opening(trips: u32, reason: &str, key_rejected: Duration) -> Duration {
    if reason == KEY_REJECTED {
        return key_rejected;
    }
    let exponent = trips.saturating_sub(1).min(16);
    FIRST_OPENING
        .saturating_mul(1u32 << exponent)
        .min(LONGEST_OPENING)
}

pub(super) struct SharedBreaker {
    port: Arc<dyn Breaker>,
    view: Mutex<BreakerState>,
    clock: Clock,
}

impl std::fmt::Debug for SharedBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBreaker")
            .field("view", &self.view())
            .finish_non_exhaustive()
    }
}

/// The end of the opening, while it lasts at `now`.
fn open_at(view: &BreakerState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    view.open_until.filter(|until| *until > now)
}

/// The Severa client asks this after a call got its slot: while this invocation knows the
/// breaker is open (a call beside it just tripped it), the call is not sent.
impl CallGate for SharedBreaker {
    fn hold_back(&self) -> Option<String> {
        // Asked before every Severa call: read the view in place rather than copy it.
        let now = (self.clock)();
        let view = self
            .view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        open_at(&view, now).map(|_| format!("Severa's circuit breaker opened ({})", view.reason))
    }
}

impl SharedBreaker {
    pub(super) fn new(port: Arc<dyn Breaker>, clock: Clock) -> Self {
        Self {
            port,
            view: Mutex::new(BreakerState::default()),
            clock,
        }
    }

    fn view(&self) -> BreakerState {
        self.view
            .lock()
            .map(|v| v.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn set_view(&self, state: BreakerState) {
        match self.view.lock() {
            Ok(mut v) => *v = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }

    /// Reads the shared marker (once per batch). A table hiccup keeps the last view: the
    /// breaker only saves calls, it never decides a job's fate.
    pub(super) async fn refresh(&self) {
        match self.port.read().await {
            Ok(state) => self.set_view(state),
            Err(e) => tracing::warn!(error = %e, "could not read Severa's circuit breaker"),
        }
    }

    /// The digest of the key Severa rejected, while the breaker is open for that reason.
    pub(super) fn rejected_key(&self) -> Option<String> {
        let view = self.view();
        view.open_until.and(view.rejected_key)
    }

    /// Another key is in the secret than the one rejected: this invocation stops waiting (the
    /// next answer closes the breaker for everyone, or a rejection opens it again).
    pub(super) fn key_changed(&self) {
        self.set_view(BreakerState::default());
    }

    /// While the breaker is open at `now`: the deferral (until it ends, plus `jitter_s`).
    pub(super) fn while_open(&self, now: DateTime<Utc>, jitter_s: u64) -> Option<Gate> {
        let view = self.view();
        let until = open_at(&view, now)?;
        let wait = (until - now).num_seconds().max(1) as u64 + jitter_s;
        Some(Gate::Defer {
            seconds: i32::try_from(wait).unwrap_or(i32::MAX),
            reason: view.reason,
        })
    }

    /// Whether `owner` (a job id) may call Severa now.
    pub(super) async fn gate(&self, owner: &str, now: DateTime<Utc>, jitter_s: u64) -> Gate {
        if let Some(defer) = self.while_open(now, jitter_s) {
            return defer;
        }
        let view = self.view();
        if view.open_until.is_none() {
            return Gate::Go { probe: false };
        }
        let probe_until = now + TimeDelta::from_std(PROBE_HOLD).unwrap_or_default();
        match self.port.take_probe(owner, now, probe_until).await {
            Ok(true) => Gate::Go { probe: true },
            Ok(false) => Gate::Defer {
                seconds: i32::try_from(PROBE_WAIT.as_secs() + jitter_s).unwrap_or(i32::MAX),
                reason: format!("{} (another job is probing)", view.reason),
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not take the breaker's probe; calling Severa anyway");
                Gate::Go { probe: true }
            }
        }
    }

    /// Severa failed as a whole: open (or keep open, for longer) the breaker. Returns the
    /// opening, for the log.
    pub(super) async fn trip(
        &self,
        reason: &str,
        now: DateTime<Utc>,
        key_rejected: Duration,
        rejected_key: Option<String>,
    ) -> Duration {
        let view = self.view();
        // Open already: this call was on its way when a call beside it tripped the breaker —
        // the same outage, not another trip (a batch would otherwise double the opening once
        // per record). A rejected key still replaces another reason: it waits for a rotation.
        let key_news = reason == KEY_REJECTED && view.reason != KEY_REJECTED;
        if let Some(until) = open_at(&view, now).filter(|_| !key_news) {
            return (until - now).to_std().unwrap_or_default();
        }
        let trips = view.trips.saturating_add(1);
        let opening = opening(trips, reason, key_rejected);
        let until = now + TimeDelta::from_std(opening).unwrap_or_default();
        if view.open_until.is_some_and(|open| open >= until) {
            return opening;
        }
        // Known here first: calls of this invocation waiting for a slot are held back from now
        // on, not after the table's round trip.
        self.set_view(BreakerState {
            open_until: Some(until),
            reason: reason.to_string(),
            trips,
            rejected_key: rejected_key.clone(),
        });
        if let Err(e) = self
            .port
            .trip(until, reason, trips, rejected_key.as_deref())
            .await
        {
            tracing::warn!(error = %e, "could not open Severa's circuit breaker");
        }
        opening
    }

    /// Severa answered (a success, or a failure of the job itself): close it if it was open.
    pub(super) async fn answered(&self) {
        if self.view().open_until.is_none() {
            return;
        }
        if let Err(e) = self.port.close().await {
            tracing::warn!(error = %e, "could not close Severa's circuit breaker");
        }
        self.set_view(BreakerState::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openings_double_to_the_cap_and_a_rejected_key_waits_for_a_rotation() {
        let key = Duration::from_secs(300);
        assert_eq!(opening(1, "Maintenance", key), Duration::from_secs(10));
        assert_eq!(opening(2, "HTTP503", key), Duration::from_secs(20));
        assert_eq!(opening(7, "Connect", key), Duration::from_secs(640));
        assert_eq!(opening(8, "Connect", key), LONGEST_OPENING);
        assert_eq!(opening(40, "Connect", key), LONGEST_OPENING);
        assert_eq!(opening(1, "KeyRejected", key), key);
    }

    #[test]
    fn only_service_wide_failures_are_outages() {
        let transport = |kind, status| {
            JobError::Severa(SeveraError::Transport {
                operation: "AddNewHourEntry".into(),
                kind,
                status,
                message: String::new(),
                quota: Default::default(),
            })
        };
        assert_eq!(
            outage(&transport(TransportKind::Maintenance, Some(503))).as_deref(),
            Some("Maintenance")
        );
        assert_eq!(
            outage(&transport(TransportKind::HttpStatus, Some(502))).as_deref(),
            Some("HTTP502")
        );
        assert_eq!(
            outage(&transport(TransportKind::HttpStatus, Some(500))),
            None
        );
        assert_eq!(
            outage(&transport(TransportKind::Truncated, Some(200))),
            None
        );
        assert_eq!(
            outage(&transport(TransportKind::RateLimited, Some(429))),
            None
        );
    }
}
