//! The job parser (the worker's and the webhook's canonical bodies) and the Toggl parser.

use crate::verify::now;
use bridge::job::{Action, Job, MAX_HOURS};
use bridge::verify::toggl::{Event, parse_event};
use bridge::webhook::config::{Config, Source};
use bridge::webhook::{BodyOutcome, interpret_verified_body};
use http::StatusCode;
use rust_decimal::Decimal;
use std::sync::OnceLock;

/// The sources of `examples/sources.json` (a Toggl source with mappings, a Standard Webhooks
/// source): the configuration the demo and the docs use.
pub fn example_sources() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::from_json(include_str!("../../../examples/sources.json"))
            .unwrap_or_else(|e| panic!("examples/sources.json: {e}"))
    })
}

fn example_source(name: &str) -> &'static Source {
    example_sources()
        .source(name)
        .unwrap_or_else(|| panic!("examples/sources.json has no source {name}"))
}

/// What holds for every job a producer hands over: it validates, and the worker reads its JSON
/// back as the same job, which serialises identically.
pub fn check_job(job: &Job) {
    if let Err(e) = job.validate() {
        panic!("a produced job does not validate: {e}\n{job:?}");
    }
    let json = job.to_json();
    let again = Job::from_json(json.as_bytes())
        .unwrap_or_else(|e| panic!("the worker cannot read a produced job: {e}\n{json}"));
    assert_eq!(&again, job, "the job changed over JSON: {json}");
    assert_eq!(again.to_json(), json, "serialising is not stable");
    let message = job.to_message();
    assert_eq!(message.body, json);
    assert_eq!(
        message.attributes.get("kind").map(String::as_str),
        Some(job.kind().as_str())
    );
}

/// Any bytes as a job (the worker's parser) and as a Standard Webhooks canonical body (the
/// webhook's). A parsed job round-trips through JSON unchanged and agrees with serde's
/// `Deserialize`; a refused one names a field. A canonical body becomes a job of a kind this
/// source may send, or a 400 (unreadable), 403 (a kind outside `allow.kinds`) or 413 (over the
/// queue's limit) — never a 5xx, which would make the sender retry it forever.
pub fn job_parse(data: &[u8]) {
    match Job::from_json(data) {
        Ok(job) => {
            check_job(&job);
            let via_serde = serde_json::from_slice::<Job>(data).map_err(|e| e.to_string());
            assert_eq!(
                via_serde.as_ref(),
                Ok(&job),
                "from_json and Deserialize disagree"
            );
        }
        Err(e) => assert!(!e.field.is_empty() && !e.reason.is_empty(), "{e:?}"),
    }

    let source = example_source("crm");
    match interpret_verified_body(source, "msg_fuzz", now(), data) {
        BodyOutcome::Job { dedup_id, job } => {
            assert_eq!(dedup_id, "msg_fuzz");
            assert_eq!(job.source, source.name);
            assert_eq!(job.correlation_id, "msg_fuzz");
            assert!(source.allow.kind(job.kind()), "{:?}", job.kind());
            check_job(&job);
        }
        BodyOutcome::Answer { status, body } => {
            assert!(
                [
                    StatusCode::BAD_REQUEST,
                    StatusCode::FORBIDDEN,
                    StatusCode::PAYLOAD_TOO_LARGE
                ]
                .contains(&status),
                "{status} {body}"
            );
            assert!(body.get("error").is_some_and(|e| e.is_string()), "{body}");
        }
    }
}

/// Any bytes as a (verified) Toggl delivery to the example Toggl source. The parser's verdict
/// and the handler's agree: unreadable → 400; PING and other entities → 200 without a job; a
/// time-entry event → a valid job for that entry (hours in (0, 999], dedup by event id, an
/// event no older than the source's `max_event_age_hours`, a date within a day of the entry's
/// UTC start) or an answer (ignored 200; unmapped, invalid or stale 400). Interpreting is
/// deterministic.
pub fn toggl_parse(data: &[u8]) {
    let event = parse_event(data);
    let source = example_source("toggl");
    let outcome = interpret_verified_body(source, "", now(), data);
    match (&event, &outcome) {
        (Err(_), BodyOutcome::Answer { status, .. }) => {
            assert_eq!(*status, StatusCode::BAD_REQUEST)
        }
        (Ok(Event::Ping(_) | Event::Other(_)), BodyOutcome::Answer { status, .. }) => {
            assert_eq!(*status, StatusCode::OK)
        }
        (Ok(Event::TimeEntry(_)), BodyOutcome::Answer { status, body }) => assert!(
            *status == StatusCode::OK || *status == StatusCode::BAD_REQUEST,
            "{status} {body}"
        ),
        (Ok(Event::TimeEntry(te)), BodyOutcome::Job { dedup_id, job }) => {
            check_job(job);
            assert_eq!(job.source, source.name);
            assert_eq!(job.external_id, te.entry.id.to_string());
            let mapping = source
                .toggl
                .as_ref()
                .unwrap_or_else(|| panic!("no mapping"));
            let created_at = te
                .created_at
                .unwrap_or_else(|| panic!("a job without created_at"));
            assert!(
                now() - created_at <= mapping.max_event_age,
                "stale event made a job"
            );
            if let Some(id) = te.event_id {
                assert_eq!(dedup_id, &id.to_string());
            }
            match &job.action {
                Action::HourEntryUpsert(p) => {
                    assert!(p.hours > Decimal::ZERO && p.hours <= Decimal::from(MAX_HOURS));
                    assert!(!te.entry.is_running());
                    if let Some(start) = te.entry.start {
                        let utc_date = start.date_naive();
                        let days = (p.event_date - utc_date).num_days().abs();
                        assert!(
                            days <= 1,
                            "event date {} for a start at {start}",
                            p.event_date
                        );
                    }
                }
                Action::HourEntryDelete(_) => {}
                other => panic!("a Toggl event made {other:?}"),
            }
        }
        (event, outcome) => panic!("parser and handler disagree: {event:?} → {outcome:?}"),
    }
    assert_eq!(
        interpret_verified_body(source, "", now(), data),
        outcome,
        "interpreting is not deterministic"
    );
}
