//! The sources (webhook) and syncs (scheduler, worker) configuration parsers.

use crate::jobs::check_job;
use crate::verify::now;
use bridge::job::{
    Action, InvoiceStatusWriteBack, Job, OUTBOUND_SOURCE, OutboundDelivery, SCHEMA_VERSION,
    is_source_name,
};
use bridge::sync::config::{Read, SyncConfig};
use bridge::webhook::config::{Config, ConfigError, Format, MAX_BODY_BYTES_LIMIT, Source};
use bridge::webhook::{BodyOutcome, interpret_verified_body};
use serde_json::json;
use std::time::Duration;

fn check_error(e: &ConfigError) {
    assert!(!e.key.is_empty() && !e.reason.is_empty(), "{e:?}");
}

/// Any text as the webhook's sources configuration. An accepted configuration holds what
/// the handler relies on (valid names, a secret id, a body limit in range, a Toggl mapping
/// exactly for Toggl sources), and its mappings make jobs: a finished time entry for a mapped
/// project and user (and, where a workspace has a default case, one without a project)
/// becomes a valid job, not a 400 on every delivery. A refusal names a key.
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
        check_mapping_makes_jobs(source);
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
                "event_id": 7, "metadata": {"action": "updated", "model": "time_entry"},
                "payload": payload
            })
            .to_string();
            match interpret_verified_body(source, "", now(), body.as_bytes()) {
                BodyOutcome::Job { job, .. } => check_job(&job),
                BodyOutcome::Answer { status, body } => panic!(
                    "an accepted mapping refuses a mapped entry (project {project:?}, user {user}): {status} {body}"
                ),
            }
        }
    }
}

/// Any text as the sync configuration. An accepted configuration holds what the scheduler and
/// worker rely on (names, ranges, existing and acyclic `after` lists, an http(s) target), and
/// the outbound job the scheduler makes for each sync is one the worker accepts. A refusal
/// names a key.
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
        // The job the scheduler builds for one record of this sync (see sync::Scheduler).
        let job = Job {
            schema_version: SCHEMA_VERSION,
            job_id: format!("{name}:0f1e2d3c4b5a6978"),
            source: OUTBOUND_SOURCE.to_string(),
            external_id: "sim-inv-1001".into(),
            occurred_at: now(),
            correlation_id: "run-1".into(),
            action: Action::OutboundDeliver(OutboundDelivery {
                sync: name.clone(),
                entity: sync.read.entity().to_string(),
                records: vec![json!({"GUID": "sim-inv-1001"})],
                write_back,
            }),
        };
        check_job(&job);
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
