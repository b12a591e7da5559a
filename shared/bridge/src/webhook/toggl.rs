//! Toggl Track deliveries → hour-entry jobs, through the source's id mapping.
//!
//! Choices (documented in the answers so the sender's operator sees them):
//! - a running entry (negative duration) is ignored until it stops: its hours are not final,
//!   and the stop arrives as an `updated` event;
//! - an entry shorter than 18 s rounds to 0.00 h, which Severa cannot hold: ignored;
//! - `deleted`, or an `updated` entry carrying `server_deleted_at`, becomes `hour_entry.delete`;
//! - an unmapped workspace, project or user is a 400 that names the Toggl id, so the operator can
//!   add it to the mapping; Toggl's retries then succeed.

use super::Answer;
use super::config::TogglMapping;
use crate::job::{Action, HourEntryDelete, HourEntryUpsert};
use crate::verify::toggl::{self, Event, PayloadError, TimeEntry};
use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;

/// Severa's description limit (see `job::Job::validate`).
const MAX_DESCRIPTION_CHARS: usize = 4000;

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
    let occurred_at = entry.at.or(event.created_at).unwrap_or(now);
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
        event_date: start.with_timezone(&mapping.utc_offset).date_naive(),
        hours,
        description: entry
            .description
            .as_deref()
            .map(|d| d.chars().take(MAX_DESCRIPTION_CHARS).collect::<String>())
            .filter(|d| !d.trim().is_empty()),
        billable: entry.billable,
    }))
}

/// Seconds → hours with two decimals, halves away from zero (5 min = 0.08 h).
pub(super) fn hours(seconds: i64) -> Decimal {
    (Decimal::from(seconds) / Decimal::from(3600))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
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
