//! Toggl Track deliveries → hour-entry jobs, through the source's id mapping.
//!
//! Choices (documented in the answers so the sender's operator sees them):
//! - a running entry (negative duration) is ignored until it stops: its hours are not final,
//!   and the stop arrives as an `updated` event;
//! - an entry shorter than 18 s rounds to 0.00 h, which Severa cannot hold: ignored;
//! - `deleted`, or an `updated` entry carrying `server_deleted_at`, becomes `hour_entry.delete`;
//! - an unmapped workspace, project or user is a 400 that names the Toggl id, so the operator can
//!   add it to the mapping; Toggl's retries then succeed;
//! - an event created longer ago than `max_event_age_hours` is a 400 (`stale_event`): Toggl
//!   signs no timestamp, so once the delivery id is forgotten a replayed body would otherwise
//!   apply again. The job's `occurred_at` is the entry's own `at`, else the event's
//!   `created_at`, never the arrival time, so the worker's per-record order keeps an older event
//!   from overwriting a newer one; an event without `created_at` is refused.

use super::Answer;
use super::config::TogglMapping;
use crate::job::{Action, HourEntryDelete, HourEntryUpsert, limits};
use crate::verify::toggl::{self, Event, PayloadError, TimeEntry};
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;

/// What a verified Toggl delivery asks for.
pub(super) enum Interpreted {
    /// Answer at once (PING, ignored events); nothing is enqueued.
    Answer(Answer),
    /// Enqueue a job built from these parts.
    Job(Box<JobParts>),
}

/// The sender-specific parts of a job; the handler adds ids and the source.
pub(super) struct JobParts {
    /// Stable across Toggl's retries of one event: the event id, else a hash of the body.
    pub dedup_id: String,
    pub external_id: String,
    pub occurred_at: DateTime<Utc>,
    pub action: Action,
}

pub(super) fn interpret(
    source: &str,
    mapping: &TogglMapping,
    raw_body: &[u8],
    now: DateTime<Utc>,
) -> Result<Interpreted, Answer> {
    let event = toggl::parse_event(raw_body).map_err(payload_error)?;
    let event = match event {
        Event::Ping(ping) => return Ok(Interpreted::Answer(super::ping_answer(&ping))),
        Event::Other(other) => {
            let model = other.model.unwrap_or_else(|| "unknown".into());
            return Ok(Interpreted::Answer(Answer::ignored(format!(
                "toggl {model} events are not synced"
            ))));
        }
        Event::TimeEntry(event) => event,
    };
    let created_at = event.created_at.ok_or_else(|| {
        Answer::invalid(
            "created_at",
            "missing; the event's own time orders it and refuses late replays",
        )
    })?;
    if now - created_at > mapping.max_event_age {
        return Err(stale(source, mapping, created_at, now));
    }
    let entry = &event.entry;
    if !mapping.workspaces.is_empty() && !mapping.workspaces.contains_key(&entry.workspace_id) {
        return Err(unmapped(
            "payload.workspace_id",
            entry.workspace_id,
            format!(
                "toggl workspace {} is not mapped; add it under sources.{source}.toggl.workspaces",
                entry.workspace_id
            ),
        ));
    }
    let dedup_id = match event.event_id {
        Some(id) => id.to_string(),
        None => format!("sha256-{}", super::sha256_hex(raw_body)),
    };
    let occurred_at = entry.at.unwrap_or(created_at);
    let deleted = entry.server_deleted_at.is_some();
    let action = match event.action {
        toggl::Action::Deleted => Action::HourEntryDelete(HourEntryDelete {}),
        toggl::Action::Created | toggl::Action::Updated if deleted => {
            Action::HourEntryDelete(HourEntryDelete {})
        }
        toggl::Action::Created | toggl::Action::Updated => {
            if entry.is_running() {
                return Ok(Interpreted::Answer(Answer::ignored(
                    "time entry is still running".into(),
                )));
            }
            match upsert(source, mapping, entry)? {
                Some(upsert) => Action::HourEntryUpsert(upsert),
                None => {
                    return Ok(Interpreted::Answer(Answer::ignored(
                        "time entry is shorter than 18 seconds (0.00 hours)".into(),
                    )));
                }
            }
        }
        toggl::Action::Other(action) => {
            return Ok(Interpreted::Answer(Answer::ignored(format!(
                "time entry action {action:?} is not synced"
            ))));
        }
    };
    Ok(Interpreted::Job(Box::new(JobParts {
        dedup_id,
        external_id: entry.id.to_string(),
        occurred_at,
        action,
    })))
}

/// `None` when the entry rounds to zero hours.
fn upsert(
    source: &str,
    mapping: &TogglMapping,
    entry: &TimeEntry,
) -> Result<Option<HourEntryUpsert>, Answer> {
    let defaults = mapping.workspaces.get(&entry.workspace_id);
    let (case, phase, work_type) = match entry.project_id {
        Some(project_id) => {
            let project = mapping.projects.get(&project_id).ok_or_else(|| {
                unmapped(
                    "payload.project_id",
                    project_id,
                    format!(
                        "toggl project {project_id} is not mapped to a Severa case; add it \
                         under sources.{source}.toggl.projects"
                    ),
                )
            })?;
            (
                project.case.clone(),
                project
                    .phase
                    .clone()
                    .or_else(|| defaults.and_then(|d| d.phase.clone())),
                project
                    .work_type
                    .clone()
                    .or_else(|| defaults.and_then(|d| d.work_type.clone())),
            )
        }
        None => {
            let d = defaults.filter(|d| d.case.is_some()).ok_or_else(|| {
                Answer::invalid(
                    "payload.project_id",
                    format!(
                        "the time entry has no project and workspace {} has no default case",
                        entry.workspace_id
                    ),
                )
            })?;
            match &d.case {
                Some(case) => (case.clone(), d.phase.clone(), d.work_type.clone()),
                None => return Err(Answer::invalid("payload.project_id", "no default case")),
            }
        }
    };
    let user_id = entry
        .user_id
        .ok_or_else(|| Answer::invalid("payload.user_id", "missing"))?;
    let user = mapping.users.get(&user_id).cloned().ok_or_else(|| {
        unmapped(
            "payload.user_id",
            user_id,
            format!(
                "toggl user {user_id} is not mapped to a Severa user; add it under \
                 sources.{source}.toggl.users"
            ),
        )
    })?;
    let start = entry
        .start
        .ok_or_else(|| Answer::invalid("payload.start", "missing"))?;
    let seconds = entry
        .duration
        .ok_or_else(|| Answer::invalid("payload.duration", "missing"))?;
    let hours = hours(seconds);
    if hours.is_zero() {
        return Ok(None);
    }
    Ok(Some(HourEntryUpsert {
        user,
        case,
        phase,
        work_type,
        event_date: mapping.local_time.date_of(start),
        hours,
        description: entry
            .description
            .as_deref()
            .map(|d| d.chars().take(limits::LONG_TEXT).collect::<String>())
            .filter(|d| !d.trim().is_empty()),
        billable: entry.billable,
    }))
}

/// Seconds → hours with two decimals, halves away from zero (5 min = 0.08 h).
pub(super) fn hours(seconds: i64) -> Decimal {
    (Decimal::from(seconds) / Decimal::from(3600))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// 400 for an event older than the source accepts: a late or replayed delivery.
fn stale(
    source: &str,
    mapping: &TogglMapping,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Answer {
    let reason = format!(
        "the event was created {} hours ago ({}), longer ago than the {} hours this source \
         accepts (sources.{source}.toggl.max_event_age_hours); a late or replayed delivery is \
         not applied",
        (now - created_at).num_hours(),
        created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        mapping.max_event_age.num_hours(),
    );
    Answer::bad_request(
        "stale_event",
        json!({"error": "stale_event", "field": "created_at", "reason": reason}),
        reason.clone(),
    )
}

fn unmapped(field: &str, toggl_id: u64, reason: String) -> Answer {
    Answer::bad_request(
        "unmapped",
        json!({"error": "unmapped", "field": field, "toggl_id": toggl_id.to_string(), "reason": reason}),
        reason.clone(),
    )
}

fn payload_error(e: PayloadError) -> Answer {
    match e {
        PayloadError::NotJsonObject => Answer::malformed_json("the body is not a JSON object"),
        PayloadError::MissingField(f) => Answer::invalid(f, "missing"),
        PayloadError::InvalidField(f) => Answer::invalid(f, "has an unexpected type or format"),
    }
}

#[cfg(test)]
mod tests {
    use super::hours;
    use rust_decimal::Decimal;

    #[test]
    fn hours_round_to_two_decimals() {
        assert_eq!(hours(3600), Decimal::new(100, 2));
        assert_eq!(hours(5400), Decimal::new(150, 2));
        assert_eq!(hours(300), Decimal::new(8, 2));
        assert_eq!(hours(18), Decimal::new(1, 2));
        assert_eq!(hours(17), Decimal::ZERO);
    }
}
