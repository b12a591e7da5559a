//! The sources (webhook) and syncs (scheduler, worker) configuration parsers.

use crate::jobs::check_job;
use crate::verify::now;
use bridge::job::{
    Action, CaseRef, InvoiceStatusWriteBack, Job, JobKind, OUTBOUND_EVENTS, OUTBOUND_SOURCE,
    OutboundDelivery, SCHEMA_VERSION, UserRef, is_source_name,
};
use bridge::sync::config::{Read, SyncConfig};
use bridge::sync::reconcile;
use bridge::webhook::config::{
    Config, ConfigError, Format, MAX_BODY_BYTES_LIMIT, Source, TOGGL_KINDS,
};
use bridge::webhook::{BodyOutcome, interpret_verified_body};
use http::StatusCode;
use serde_json::json;
use severa::wire::Param;
use std::time::Duration;

fn check_error(e: &ConfigError) {
    assert!(!e.key.is_empty() && !e.reason.is_empty(), "{e:?}");
}

/// Any text as the webhook's sources configuration. An accepted configuration holds what
/// the handler relies on (valid names, a secret id, a body limit in range, a Toggl mapping
/// exactly for Toggl sources, an allow-list of kinds a source of its format can send), and
/// what it names makes jobs: a finished time entry for a mapped project and user (and, where
/// a workspace has a default case, one without a project) becomes a valid job, not a 400 on
/// every delivery; a user or case on an allow-list is admitted in a job naming it. A refusal
/// names a key.
pub fn sources(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::from_json(text) {
        Ok(config) => config,
        Err(e) => return check_error(&e),
    };
    assert!(!config.sources.is_empty());
    for (name, source) in &config.sources {
        assert_eq!(&source.name, name);
        assert!(is_source_name(name), "{name:?}");
        assert!(!source.secret_id.trim().is_empty());
        assert!((1..=MAX_BODY_BYTES_LIMIT).contains(&source.max_body_bytes));
        assert_eq!(source.toggl.is_some(), source.format == Format::Toggl);
        let allow = &source.allow;
        assert!(!allow.kinds.is_empty() && !allow.kind(JobKind::OutboundDeliver));
        if source.format == Format::Toggl {
            assert!(allow.kinds.iter().all(|k| TOGGL_KINDS.contains(k)));
            assert!(allow.users.is_none() && allow.cases.is_none());
        }
        check_mapping_makes_jobs(source);
        check_allowed_references_admit(source);
    }
}

/// Each user and case on a Standard Webhooks source's allow-list, named in an hour entry, is a
/// valid job the source may send (or a 403 naming the kind when hour entries are not allowed).
fn check_allowed_references_admit(source: &Source) {
    let allow = &source.allow;
    if source.format != Format::StandardWebhooks {
        return;
    }
    let users = allow.users.clone().unwrap_or_default();
    let cases = allow.cases.clone().unwrap_or_default();
    let first_user = users.first().cloned().unwrap_or(UserRef::Code("AA".into()));
    let first_case = cases.first().cloned().unwrap_or(CaseRef::Number(1));
    let pairs = users
        .iter()
        .take(8)
        .map(|u| (u.clone(), first_case.clone()))
        .chain(
            cases
                .iter()
                .take(8)
                .map(|c| (first_user.clone(), c.clone())),
        );
    for (user, case) in pairs {
        let body = json!({
            "kind": "hour_entry.upsert", "external_id": "e-1",
            "payload": {"user": user, "case": case, "event_date": "2026-03-02", "hours": 1.5}
        })
        .to_string();
        match interpret_verified_body(source, "msg_allow", now(), body.as_bytes()) {
            BodyOutcome::Job { job, .. } => check_job(&job),
            BodyOutcome::Answer { status, body }
                if !allow.kind(JobKind::HourEntryUpsert)
                    && status == StatusCode::FORBIDDEN
                    && body["error"] == "kind_not_allowed" => {}
            BodyOutcome::Answer { status, body } => {
                panic!("an allow-listed user {user:?} / case {case:?} is refused: {status} {body}")
            }
        }
    }
}

fn check_mapping_makes_jobs(source: &Source) {
    let Some(mapping) = &source.toggl else {
        return;
    };
    let ids = mapping
        .workspaces
        .keys()
        .chain(mapping.projects.keys())
        .chain(mapping.users.keys());
    for id in ids {
        assert!(*id > 0, "Toggl id {id}");
    }
    let workspace = mapping.workspaces.keys().next().copied().unwrap_or(1);
    let projects = mapping.projects.keys().take(4).map(|p| Some(*p));
    let default_case = mapping
        .workspaces
        .get(&workspace)
        .is_some_and(|d| d.case.is_some());
    let without_project = default_case.then_some(None);
    for project in projects.chain(without_project) {
        for user in mapping.users.keys().take(4) {
            let mut payload = json!({
                "id": 42, "workspace_id": workspace, "user_id": user,
                "start": "2026-03-02T08:00:00Z", "duration": 5400, "description": "Review"
            });
            if let Some(project) = project {
                payload["project_id"] = json!(project);
            }
            let body = json!({
                "event_id": 7, "created_at": "2026-03-02T09:59:00Z",
                "metadata": {"action": "updated", "model": "time_entry"},
                "payload": payload
            })
            .to_string();
            match interpret_verified_body(source, "", now(), body.as_bytes()) {
                BodyOutcome::Job { job, .. } => check_job(&job),
                // A source may leave hour_entry.upsert off its allow-list (deletions only).
                BodyOutcome::Answer { status, body }
                    if !source.allow.kind(JobKind::HourEntryUpsert)
                        && status == StatusCode::FORBIDDEN
                        && body["error"] == "kind_not_allowed" => {}
                BodyOutcome::Answer { status, body } => panic!(
                    "an accepted mapping refuses a mapped entry (project {project:?}, user {user}): {status} {body}"
                ),
            }
        }
    }
}

/// Any text as the sync configuration. An accepted configuration holds what the scheduler and
/// worker rely on (names, ranges, existing and acyclic `after` lists, an http(s) target,
/// reconciliation only where Severa has a read by date), the values it sends to Severa can be
/// written into a request, and the outbound jobs the scheduler and the reconciliation make for
/// each sync are ones the worker accepts. A refusal names a key.
pub fn syncs(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match SyncConfig::from_json(text) {
        Ok(config) => config,
        Err(e) => return check_error(&e),
    };
    assert!(config.quota_share > 0.0 && config.quota_share <= 1.0);
    assert!(!config.syncs.is_empty());
    for (name, sync) in &config.syncs {
        assert_eq!(&sync.name, name);
        assert!(is_source_name(name), "{name:?}");
        for dep in &sync.after {
            assert!(
                dep != name && config.syncs.contains_key(dep),
                "{name} after {dep}"
            );
        }
        let schedule = sync.schedule.trim();
        assert!(
            ["rate(", "cron(", "at("]
                .iter()
                .any(|p| schedule.starts_with(p))
                && schedule.ends_with(')'),
            "{schedule:?}"
        );
        let url = &sync.target.url;
        assert!(
            url.starts_with("https://") || url.starts_with("http://"),
            "{url}"
        );
        assert!(!sync.target.secret_id.trim().is_empty());
        assert!((Duration::from_secs(1)..=Duration::from_secs(60)).contains(&sync.target.timeout));
        let write_back = match &sync.read {
            Read::HourEntries { batch_size } => {
                assert!((1..=500).contains(batch_size));
                None
            }
            Read::Invoices(inv) => {
                assert!((1..=3660).contains(&inv.window_days));
                check_request_value("invoices.business_unit_guid", &inv.business_unit_guid);
                assert!(!inv.transferred_status.trim().is_empty());
                for status in &inv.statuses {
                    assert!(!status.trim().is_empty() && *status != inv.transferred_status);
                }
                Some(InvoiceStatusWriteBack {
                    invoice_guid: "sim-inv-1001".into(),
                    status: inv.transferred_status.clone(),
                })
            }
            Read::Accounts | Read::Cases => None,
        };
        let mut events = vec![None];
        if let Some(r) = &sync.reconcile {
            let schedule = r.schedule.trim();
            assert!(
                schedule.starts_with("rate(")
                    || schedule.starts_with("cron(")
                    || schedule.starts_with("at("),
                "{schedule:?}"
            );
            match &sync.read {
                Read::HourEntries { .. } | Read::Invoices(_) => {
                    assert!((1..=3660).contains(&r.window_days));
                    assert!((1..=366).contains(&r.page_days));
                }
                Read::Accounts => assert_eq!((r.window_days, r.page_days), (0, 1)),
                Read::Cases => panic!("{name}: reconciliation of cases"),
            }
            if r.business_unit_guid.is_some() {
                assert!(matches!(sync.read, Read::HourEntries { .. }), "{name}");
            }
            check_request_value("reconcile.business_unit_guid", &r.business_unit_guid);
            assert!(
                sync.ledger_retention() >= Duration::from_secs(u64::from(r.window_days) * 86_400)
            );
            events.extend(OUTBOUND_EVENTS.map(Some));
        }
        // The jobs the scheduler (no event) and the reconciliation (an event) build for one
        // record of this sync (see sync::Scheduler and sync::reconcile).
        for event in events {
            let job = Job {
                schema_version: SCHEMA_VERSION,
                job_id: match event {
                    None => format!("{name}:0f1e2d3c4b5a6978"),
                    Some(event) => format!("{name}:{event}:0f1e2d3c4b5a6978"),
                },
                source: OUTBOUND_SOURCE.to_string(),
                external_id: "sim-inv-1001".into(),
                occurred_at: now(),
                correlation_id: "run-1".into(),
                action: Action::OutboundDeliver(OutboundDelivery {
                    sync: name.clone(),
                    entity: sync.read.entity().to_string(),
                    records: vec![json!({"GUID": "sim-inv-1001"})],
                    // Written back after the scheduled delivery and a `created` event.
                    write_back: write_back
                        .clone()
                        .filter(|_| matches!(event, None | Some(reconcile::CREATED))),
                    event: event.map(str::to_string),
                }),
            };
            check_job(&job);
        }
    }
    // `after` has no cycles (a depth-first walk that never meets a sync still on its path).
    let mut done = std::collections::BTreeSet::new();
    for start in config.syncs.keys() {
        let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        while let Some(&mut (name, ref mut next)) = path.last_mut() {
            let deps = config.syncs.get(name).map_or(&[][..], |s| &s.after[..]);
            match deps.get(*next) {
                Some(dep) => {
                    *next += 1;
                    assert!(
                        !path.iter().any(|(p, _)| *p == dep.as_str()),
                        "a cycle through {dep}"
                    );
                    if !done.contains(dep.as_str()) {
                        path.push((dep.as_str(), 0));
                    }
                }
                None => {
                    done.insert(name);
                    path.pop();
                }
            }
        }
    }
}

/// A configured value the sync passes to a Severa operation: not blank (blank means "none" and
/// is dropped) and writable as a request parameter, or every run would fail.
fn check_request_value(what: &str, value: &Option<String>) {
    if let Some(v) = value {
        assert!(!v.trim().is_empty(), "{what}: blank kept");
        if let Err(e) = Param::new("businessUnitGUID", &Some(v.clone())) {
            panic!("{what} {v:?} cannot be sent to Severa: {e}");
        }
    }
}
