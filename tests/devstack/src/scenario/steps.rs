//! The demo scenario's steps. Each is one function `fn(&Ctx, &mut Checks) -> StepFuture` and
//! one line in [`all`]. Ids, names and descriptions carry the run's tag, so a `dev` stack can
//! play the scenario again and again.
//!
//! The senders' data follows `examples/sources.json` and the simulator's demo organisation:
//! Toggl workspace 1234567, project 2001 → case 1 "Webshop renewal" / phase "Development",
//! Toggl user 3001 → Severa user AA (Alice Andersson, `sim-user-alice`).

use super::{Checks, Ctx, Step, StepFuture, message_attribute, number};
use crate::error::Context;
use crate::stack::Names;
use bridge::aws::SecretsManagerVersions;
use bridge::rotation::{KeyCheck, Operator};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The scenario, in order.
pub fn all() -> Vec<Step> {
    vec![
        Step {
            name: "Toggl: a time entry is created (signed webhook)",
            run: toggl_entry_created,
        },
        Step {
            name: "Toggl: the same time entry is updated",
            run: toggl_entry_updated,
        },
        Step {
            name: "Toggl: the time entry is deleted",
            run: toggl_entry_deleted,
        },
        Step {
            name: "CRM (Standard Webhooks): an account is upserted",
            run: crm_account_upserted,
        },
        Step {
            name: "CRM: a contact of that account is upserted",
            run: crm_contact_upserted,
        },
        Step {
            name: "Severa answers 503 once: the record is retried, then applied once",
            run: severa_unavailable_then_retried,
        },
        Step {
            name: "CRM: the account webhook is resent (sender retry)",
            run: crm_webhook_resent,
        },
        Step {
            name: "A forged signature is rejected",
            run: forged_signature_rejected,
        },
        Step {
            name: "An oversized body is rejected",
            run: oversized_body_rejected,
        },
        Step {
            name: "A job for an unknown user ends in the DLQ with its reason",
            run: unknown_user_dead_lettered,
        },
        Step {
            name: "The Severa key is regenerated, a job waits, the new key is rotated in",
            run: severa_key_rotated_midway,
        },
        Step {
            name: "Invoice sync: a sent invoice goes to accounting, signed, and is marked transferred",
            run: invoice_sync_delivered,
        },
        Step {
            name: "The job queue is drained",
            run: queue_settles,
        },
        Step {
            name: "Every request Severa received follows its service contract",
            run: requests_follow_the_contract,
        },
    ]
}

const TOGGL_WORKSPACE: u64 = 1234567;
const TOGGL_PROJECT_WEBSHOP_DEVELOPMENT: u64 = 2001;
const TOGGL_USER_ALICE: u64 = 3001;
const SEVERA_ALICE_GUID: &str = severa_sim::fixture::USER_ALICE_GUID;

impl Ctx {
    /// The Toggl time entry id of this run.
    fn toggl_entry_id(&self) -> u64 {
        self.run_number
    }

    /// A Toggl event id of this run (`n` distinguishes the events).
    fn toggl_event_id(&self, n: u64) -> u64 {
        self.run_number * 10 + n
    }

    fn hour_entry_description(&self, text: &str) -> String {
        format!("{text} [{}]", self.tag)
    }

    fn account_name(&self) -> String {
        format!("Aurora Analytics Oy [{}]", self.tag)
    }

    /// The hour entry this run created (found by the tag in its description).
    async fn tagged_hour_entry(&self) -> crate::error::Result<Option<(String, Value)>> {
        let tag = self.tag.clone();
        self.find_entity("HourEntry", |e| {
            e["Description"].as_str().is_some_and(|d| d.contains(&tag))
        })
        .await
    }
}

/// A Toggl Track webhook event around `payload` (the shape Toggl sends).
fn toggl_event(event_id: u64, action: &str, entry_id: u64, payload: Value) -> Vec<u8> {
    let now = chrono::Utc::now().to_rfc3339();
    json!({
        "event_id": event_id,
        "created_at": now,
        "creator_id": TOGGL_USER_ALICE,
        "metadata": {
            "action": action,
            "model": "time_entry",
            "path": format!("/api/v9/workspaces/{TOGGL_WORKSPACE}/time_entries"),
            "workspace_id": TOGGL_WORKSPACE.to_string(),
            "time_entry_id": entry_id.to_string(),
        },
        "payload": payload,
        "subscription_id": 42,
        "timestamp": now,
    })
    .to_string()
    .into_bytes()
}

/// A stopped time entry of `seconds` on the Webshop/Development project, today.
fn time_entry(entry_id: u64, seconds: i64, description: &str) -> Value {
    let start = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(6, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(chrono::Utc::now);
    let stop = start + chrono::TimeDelta::seconds(seconds);
    json!({
        "id": entry_id,
        "workspace_id": TOGGL_WORKSPACE,
        "project_id": TOGGL_PROJECT_WEBSHOP_DEVELOPMENT,
        "user_id": TOGGL_USER_ALICE,
        "start": start.to_rfc3339(),
        "stop": stop.to_rfc3339(),
        "duration": seconds,
        "description": description,
        "billable": true,
        "tags": [],
        "at": chrono::Utc::now().to_rfc3339(),
    })
}

fn expect_status(checks: &mut Checks, answer: &super::Answer, status: u16, what: &str) -> bool {
    checks.expect(
        answer.status == status,
        format!("the webhook answers {status} ({what})"),
        answer.describe(),
    )
}

fn ops_evidence(ops: &[String]) -> String {
    if ops.is_empty() {
        "Severa received nothing".to_string()
    } else {
        format!("Severa received {}", ops.join(", "))
    }
}

fn toggl_entry_created<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        let description = ctx.hour_entry_description("Checkout review");
        let body = toggl_event(
            ctx.toggl_event_id(1),
            "created",
            ctx.toggl_entry_id(),
            time_entry(ctx.toggl_entry_id(), 5400, &description),
        );
        let answer = ctx.send_toggl(&body).await?;
        expect_status(checks, &answer, 202, "accepted and queued");
        let entry = ctx.wait_for(|| ctx.tagged_hour_entry()).await?;
        let Some((guid, entry)) = entry else {
            checks.expect(false, "Severa holds the new hour entry", "none appeared");
            return Ok(());
        };
        ctx.remember("hour_entry_guid", &guid);
        checks.expect(
            number(&entry["Quantity"]) == Some(1.5),
            "the hour entry has 1.5 h (5400 s)",
            format!("{guid}: Quantity {}", entry["Quantity"]),
        );
        checks.expect(
            entry["UserGUID"] == SEVERA_ALICE_GUID,
            "it belongs to Toggl user 3001 → Severa user AA",
            format!("UserGUID {}", entry["UserGUID"]),
        );
        let ops = ctx.sim.operations_since(since).await?;
        checks.expect(
            ops.iter().any(|o| o == "AddNewHourEntry"),
            "the worker called AddNewHourEntry",
            ops_evidence(&ops),
        );
        Ok(())
    })
}

fn toggl_entry_updated<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        let description = ctx.hour_entry_description("Checkout review and fixes");
        let body = toggl_event(
            ctx.toggl_event_id(2),
            "updated",
            ctx.toggl_entry_id(),
            time_entry(ctx.toggl_entry_id(), 7200, &description),
        );
        let answer = ctx.send_toggl(&body).await?;
        expect_status(checks, &answer, 202, "accepted and queued");
        let updated = ctx
            .wait_for(|| async {
                Ok(ctx
                    .tagged_hour_entry()
                    .await?
                    .filter(|(_, e)| number(&e["Quantity"]) == Some(2.0)))
            })
            .await?;
        let Some((guid, entry)) = updated else {
            checks.expect(false, "the hour entry now has 2.0 h", "it did not change");
            return Ok(());
        };
        checks.expect(
            true,
            "the hour entry now has 2.0 h and the new description",
            format!(
                "{guid}: {} h, {:?}",
                entry["Quantity"], entry["Description"]
            ),
        );
        checks.expect(
            ctx.recall("hour_entry_guid").as_deref() == Some(guid.as_str()),
            "it is the same Severa entry (updated, not added again)",
            format!("GUID {guid}"),
        );
        let ops = ctx.sim.operations_since(since).await?;
        checks.expect(
            ops.iter().any(|o| o == "UpdateHourEntry")
                && !ops.iter().any(|o| o == "AddNewHourEntry"),
            "the worker called UpdateHourEntry (and no AddNewHourEntry)",
            ops_evidence(&ops),
        );
        Ok(())
    })
}

fn toggl_entry_deleted<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        let body = toggl_event(
            ctx.toggl_event_id(3),
            "deleted",
            ctx.toggl_entry_id(),
            json!({"id": ctx.toggl_entry_id(), "workspace_id": TOGGL_WORKSPACE}),
        );
        let answer = ctx.send_toggl(&body).await?;
        expect_status(checks, &answer, 202, "accepted and queued");
        let gone = ctx
            .wait_for(|| async { Ok(ctx.tagged_hour_entry().await?.is_none().then_some(())) })
            .await?;
        checks.expect(
            gone.is_some(),
            "Severa no longer holds the hour entry",
            match gone {
                Some(()) => format!(
                    "{} is gone",
                    ctx.recall("hour_entry_guid").unwrap_or_default()
                ),
                None => "it is still there".to_string(),
            },
        );
        let ops = ctx.sim.operations_since(since).await?;
        checks.expect(
            ops.iter().any(|o| o == "DeleteHourEntry"),
            "the worker called DeleteHourEntry",
            ops_evidence(&ops),
        );
        Ok(())
    })
}

fn account_body(ctx: &Ctx, name: &str) -> Vec<u8> {
    json!({
        "kind": "account.upsert",
        "external_id": format!("crm-account-{}", ctx.tag),
        "payload": {
            "name": name,
            "email": "office@aurora-analytics.example",
            "website": "https://aurora-analytics.example",
            "address": {"line1": "Mannerheimintie 12", "postal_code": "00100", "city": "Helsinki", "country_code": "FI"},
        }
    })
    .to_string()
    .into_bytes()
}

fn crm_account_upserted<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        let name = ctx.account_name();
        let webhook_id = format!("msg_{}_account", ctx.tag);
        let answer = ctx.send_crm(&webhook_id, &account_body(ctx, &name)).await?;
        expect_status(checks, &answer, 202, "accepted and queued");
        if let Some(job_id) = answer.job_id() {
            ctx.remember("account_job_id", job_id);
        }
        let account = ctx
            .wait_for(|| ctx.find_entity("Account", |a| a["Name"] == name.as_str()))
            .await?;
        let found = checks.expect(
            account.is_some(),
            format!("Severa holds the account {name:?}"),
            account
                .as_ref()
                .map(|(guid, _)| guid.clone())
                .unwrap_or("not found".into()),
        );
        if let Some((guid, _)) = account.filter(|_| found) {
            ctx.remember("account_guid", guid);
        }
        let ops = ctx.sim.operations_since(since).await?;
        checks.expect(
            ops.iter().any(|o| o == "AddNewAccount"),
            "the worker called AddNewAccount",
            ops_evidence(&ops),
        );
        Ok(())
    })
}

fn crm_contact_upserted<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        let last_name = format!("Aalto [{}]", ctx.tag);
        let body = json!({
            "kind": "contact.upsert",
            "external_id": format!("crm-contact-{}", ctx.tag),
            "payload": {
                "account": {"name": ctx.account_name()},
                "first_name": "Aino",
                "last_name": last_name,
                "email": "aino.aalto@aurora-analytics.example",
                "job_title": "CTO",
            }
        })
        .to_string()
        .into_bytes();
        let answer = ctx
            .send_crm(&format!("msg_{}_contact", ctx.tag), &body)
            .await?;
        expect_status(checks, &answer, 202, "accepted and queued");
        let contact = ctx
            .wait_for(|| ctx.find_entity("Contact", |c| c["LastName"] == last_name.as_str()))
            .await?;
        let Some((guid, contact)) = contact else {
            checks.expect(false, "Severa holds the contact Aino Aalto", "not found");
            return Ok(());
        };
        checks.expect(true, "Severa holds the contact Aino Aalto", &guid);
        let account_guid = ctx.recall("account_guid").unwrap_or_default();
        checks.expect(
            !account_guid.is_empty() && contact["AccountGUID"] == account_guid.as_str(),
            "the contact belongs to the account upserted before",
            format!("AccountGUID {}", contact["AccountGUID"]),
        );
        let ops = ctx.sim.operations_since(since).await?;
        checks.expect(
            ops.iter().any(|o| o == "AddNewContact"),
            "the worker called AddNewContact",
            ops_evidence(&ops),
        );
        Ok(())
    })
}

fn severa_unavailable_then_retried<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        ctx.sim
            .post(
                "faults",
                &json!({"operation": "AddNewAccount", "kind": "http503", "times": 1}),
            )
            .await?;
        let name = format!("Borealis Freight Ab [{}]", ctx.tag);
        let body = json!({
            "kind": "account.upsert",
            "external_id": format!("crm-account-2-{}", ctx.tag),
            "payload": {"name": name, "email": "info@borealis-freight.example"}
        })
        .to_string()
        .into_bytes();
        let answer = ctx
            .send_crm(&format!("msg_{}_account_2", ctx.tag), &body)
            .await?;
        expect_status(checks, &answer, 202, "accepted and queued");
        let account = ctx
            .wait_for(|| ctx.find_entity("Account", |a| a["Name"] == name.as_str()))
            .await?;
        // Clear the rule whatever happened, so later steps see a healthy Severa.
        ctx.sim.delete("faults").await?;
        let ops = ctx.sim.operations_since(since).await?;
        checks.expect(
            ops.iter().any(|o| o == "AddNewAccount!HTTP503"),
            "the first AddNewAccount got 503 (the worker reported the record failed; the pump left it in the queue)",
            ops_evidence(&ops),
        );
        checks.expect(
            account.is_some(),
            "after the back-off the record came back and the account was added",
            account
                .as_ref()
                .map(|(guid, _)| guid.clone())
                .unwrap_or("not found within the wait".into()),
        );
        let added = ops.iter().filter(|o| *o == "AddNewAccount").count();
        let copies = ctx
            .sim
            .entities("Account")
            .await?
            .values()
            .filter(|a| a["Name"] == name.as_str())
            .count();
        checks.expect(
            added == 1 && copies == 1,
            "applied exactly once",
            format!("{added} successful AddNewAccount, {copies} account(s) named {name:?}"),
        );
        Ok(())
    })
}

fn crm_webhook_resent<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        let name = ctx.account_name();
        // A sender's retry: same webhook id and body, signed again with a new timestamp.
        let webhook_id = format!("msg_{}_account", ctx.tag);
        let answer = ctx.send_crm(&webhook_id, &account_body(ctx, &name)).await?;
        expect_status(checks, &answer, 200, "a duplicate, not queued again");
        checks.expect(
            answer.body["status"] == "duplicate"
                && answer.job_id().is_some()
                && answer.job_id() == ctx.recall("account_job_id"),
            "the answer names the first delivery's job",
            answer.describe(),
        );
        let drained = ctx.queue_drained().await?;
        checks.expect(drained, "the job queue drained", "");
        let ops = ctx.sim.operations_since(since).await?;
        checks.expect(
            !ops.iter().any(|o| o == "AddNewAccount"),
            "nothing reached Severa for the resend",
            ops_evidence(&ops),
        );
        let accounts = ctx.sim.entities("Account").await?;
        let copies = accounts
            .values()
            .filter(|a| a["Name"] == name.as_str())
            .count();
        checks.expect(
            copies == 1,
            "Severa holds the account once",
            format!("{copies} account(s) named {name:?}"),
        );
        Ok(())
    })
}

fn forged_signature_rejected<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        let name = format!("Forged Oy [{}]", ctx.tag);
        let webhook_id = format!("msg_{}_forged", ctx.tag);
        let body = account_body(ctx, &name);
        // Signed with a secret of the attacker's own: right format, wrong key.
        let forged_secret = format!(
            "whsec_{}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                crate::stack::random_bytes(32)?
            )
        );
        let headers = crate::sign::standard_webhooks_headers(
            &forged_secret,
            &webhook_id,
            chrono::Utc::now().timestamp(),
            &body,
        )?;
        let answer = ctx.post_webhook("crm", &body, &headers).await?;
        expect_status(checks, &answer, 401, "unauthorized");
        let records = ctx.table_items_mentioning(&webhook_id).await?;
        checks.expect(
            records == 0,
            "no delivery record in the table (nothing was enqueued)",
            format!("{records} item(s) mention {webhook_id}"),
        );
        ctx.queue_drained().await?;
        let ops = ctx.sim.operations_since(since).await?;
        let forged = ctx
            .find_entity("Account", |a| a["Name"] == name.as_str())
            .await?;
        checks.expect(
            forged.is_none() && ops.is_empty(),
            "nothing reached Severa",
            ops_evidence(&ops),
        );
        Ok(())
    })
}

fn oversized_body_rejected<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let limit = ctx
            .sources
            .source("toggl")
            .map(|s| s.max_body_bytes)
            .unwrap_or(bridge::webhook::config::DEFAULT_MAX_BODY_BYTES);
        let event_id = ctx.toggl_event_id(4);
        // A correctly signed, well-formed event whose description makes it too big.
        let padding = "x".repeat(limit + 1024);
        let body = toggl_event(
            event_id,
            "created",
            ctx.toggl_entry_id() + 1,
            time_entry(ctx.toggl_entry_id() + 1, 3600, &padding),
        );
        let answer = ctx.send_toggl(&body).await?;
        expect_status(
            checks,
            &answer,
            413,
            &format!("{} bytes over the source's limit of {limit}", body.len()),
        );
        let records = ctx.table_items_mentioning(&event_id.to_string()).await?;
        checks.expect(
            records == 0,
            "no delivery record in the table (nothing was enqueued)",
            format!("{records} item(s) mention event {event_id}"),
        );
        Ok(())
    })
}

fn unknown_user_dead_lettered<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let since = ctx.sim.last_seq().await?;
        let body = json!({
            "kind": "hour_entry.upsert",
            "external_id": format!("crm-hours-{}", ctx.tag),
            "payload": {
                "user": {"code": "ZZ"},
                "case": {"number": 1},
                "phase": {"name": "Development"},
                "event_date": chrono::Utc::now().date_naive().to_string(),
                "hours": "1.25",
                "description": ctx.hour_entry_description("Hours of a user Severa does not know"),
            }
        })
        .to_string()
        .into_bytes();
        let answer = ctx
            .send_crm(&format!("msg_{}_unknown_user", ctx.tag), &body)
            .await?;
        expect_status(
            checks,
            &answer,
            202,
            "valid job: the user is checked by the worker",
        );
        let Some(job_id) = answer.job_id() else {
            checks.expect(false, "the answer names the job", answer.describe());
            return Ok(());
        };
        let message = ctx.wait_for(|| ctx.dlq_message(&job_id)).await?;
        let Some(message) = message else {
            checks.expect(
                false,
                "the job is in the DLQ",
                format!("no DLQ message for {job_id}"),
            );
            return Ok(());
        };
        let error_type = message_attribute(&message, "error_type").unwrap_or_default();
        let error_message = message_attribute(&message, "error_message").unwrap_or_default();
        checks.expect(true, "the job is in the DLQ", format!("job {job_id}"));
        checks.expect(
            error_type == "UnresolvedReference",
            "error_type says why",
            format!("error_type={error_type}"),
        );
        checks.expect(
            error_message.contains("ZZ"),
            "error_message names the user",
            format!("error_message={error_message:?}"),
        );
        let ops = ctx.sim.operations_since(since).await?;
        checks.expect(
            !ops.iter().any(|o| o == "AddNewHourEntry"),
            "no hour entry was added",
            ops_evidence(&ops),
        );
        Ok(())
    })
}

/// A person regenerates the API user's key in Severa mid-stream: jobs arriving then fail
/// authentication and wait in the queue (retried, never dead-lettered); the operator stores the
/// new key the way `bridgectl secret rotate --in-process` does (tested against Severa, staged as
/// AWSPENDING, promoted to AWSCURRENT); the waiting job then goes through, once.
fn severa_key_rotated_midway<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let regenerated = ctx.sim.post("keys/regenerate", &json!({})).await?;
        let Some(new_key) = regenerated["api_key"].as_str().map(str::to_string) else {
            checks.expect(
                false,
                "the simulator regenerated the API user's key",
                "its answer carried no api_key",
            );
            return Ok(());
        };
        let name = format!("Rotation Oy [{}]", ctx.tag);
        let body = json!({
            "kind": "account.upsert",
            "external_id": format!("crm-account-rotation-{}", ctx.tag),
            "payload": {"name": name},
        })
        .to_string()
        .into_bytes();
        let answer = ctx
            .send_crm(&format!("msg_{}_rotation", ctx.tag), &body)
            .await?;
        expect_status(
            checks,
            &answer,
            202,
            "accepted and queued while the stored key is stale",
        );

        let secret_id = Names::new(&ctx.endpoints.prefix).severa_key_secret();
        let operator = Operator::new(
            Arc::new(SecretsManagerVersions::new(ctx.secrets.clone())),
            KeyCheck::new(
                Some(ctx.endpoints.severa_endpoint.clone()),
                severa::SeveraConfig::default(),
            ),
        );
        // Secrets Manager wants 32–64 characters; bridgectl uses a UUID.
        let version = hex::encode(crate::stack::random_bytes(16)?);
        let rotated = operator
            .rotate(
                &secret_id,
                severa::ApiKey::new(new_key),
                &version,
                true,
                Duration::from_secs(30),
            )
            .await;
        checks.expect(
            rotated.is_ok(),
            "the new key was tested against Severa, staged and rotated in",
            match &rotated {
                Ok(report) => format!(
                    "{secret_id} version {} ({})",
                    report.version_id,
                    report.mode.name()
                ),
                Err(e) => e.to_string(),
            },
        );
        let current = ctx
            .secrets
            .get_secret_value()
            .secret_id(&secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .context("reading the key secret's AWSCURRENT version")?;
        checks.expect(
            current.version_id() == Some(version.as_str()),
            "AWSCURRENT is the new version",
            format!("AWSCURRENT = {:?}", current.version_id()),
        );

        let account = ctx
            .wait_for(|| ctx.find_entity("Account", |a| a["Name"] == name.as_str()))
            .await?;
        checks.expect(
            account.is_some(),
            format!("the waiting job went through with the new key: Severa holds {name:?}"),
            account
                .as_ref()
                .map(|(guid, _)| guid.clone())
                .unwrap_or("not found".into()),
        );
        let accounts = ctx.sim.entities("Account").await?;
        let copies = accounts
            .values()
            .filter(|a| a["Name"] == name.as_str())
            .count();
        checks.expect(
            copies == 1,
            "applied once",
            format!("{copies} account(s) named so"),
        );
        if let Some(job_id) = answer.job_id() {
            let dead = ctx.dlq_message(&job_id).await?;
            checks.expect(
                dead.is_none(),
                "nothing went to the DLQ",
                format!("job {job_id}"),
            );
        }
        Ok(())
    })
}

/// The invoice in status "Sent" in the demo organisation.
const SENT_INVOICE_GUID: &str = "sim-inv-1001";

/// Deliveries of `invoice_guid` the receiver got on the invoice sync's path.
fn invoice_deliveries(deliveries: &[Value], invoice_guid: &str) -> usize {
    deliveries
        .iter()
        .filter(|d| {
            d["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/accounting/invoices"))
        })
        .filter(|d| {
            d["body"]["data"]["records"]
                .as_array()
                .is_some_and(|records| records.iter().any(|r| r["GUID"] == invoice_guid))
        })
        .count()
}

/// EventBridge Scheduler's call, made by hand: the scheduler reads invoices in status "Sent"
/// and enqueues one outbound job each; the worker POSTs it to the receiver (Standard Webhooks
/// signature) and only after the 2xx sets the status to "Transferred". A second run sends
/// nothing.
fn invoice_sync_delivered<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let invoice_status = |invoices: &serde_json::Map<String, Value>| {
            invoices
                .get(SENT_INVOICE_GUID)
                .and_then(|i| i["InvoiceStatus"].as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let status = invoice_status(&ctx.sim.entities("Invoice").await?);
        if status != "Sent" {
            // A replay against a `dev` stack: an earlier run transferred it already.
            checks.expect(
                false,
                "the demo organisation's invoice 1001 is in status Sent",
                format!("it is {status:?}; restart the stack (make dev) to replay this step"),
            );
            return Ok(());
        }
        let since = ctx.sim.last_seq().await?;
        let emulator = crate::lambda::Emulator::new(ctx.endpoints.lambda_endpoint.clone())?;
        let run = emulator
            .invoke("scheduler", &json!({"sync": "invoices"}))
            .await?;
        checks.expect(
            matches!(run, crate::lambda::Invocation::Returned(_)),
            "the scheduler ran the invoices sync",
            format!("{run:?}"),
        );

        let delivered = ctx
            .wait_for(|| async {
                let deliveries = ctx.received_deliveries().await?;
                Ok((invoice_deliveries(&deliveries, SENT_INVOICE_GUID) > 0).then_some(deliveries))
            })
            .await?;
        let Some(deliveries) = delivered else {
            checks.expect(false, "accounting received invoice 1001", "nothing arrived");
            return Ok(());
        };
        let delivery = deliveries
            .iter()
            .find(|d| invoice_deliveries(std::slice::from_ref(d), SENT_INVOICE_GUID) > 0);
        checks.expect(
            delivery.is_some_and(|d| d["signature_valid"] == true),
            "accounting received invoice 1001 with a valid Standard Webhooks signature",
            delivery
                .map(|d| format!("webhook-id {}", d["webhook_id"]))
                .unwrap_or_default(),
        );
        let transferred = ctx
            .wait_for(|| async {
                let status = invoice_status(&ctx.sim.entities("Invoice").await?);
                Ok((status == "Transferred").then_some(status))
            })
            .await?;
        checks.expect(
            transferred.is_some(),
            "after the 2xx, Severa's invoice 1001 is marked Transferred",
            transferred.unwrap_or_else(|| "still not Transferred".into()),
        );
        let ops = ctx.sim.operations_since(since).await?;
        let writes = ops.iter().filter(|o| *o == "SetInvoiceStatus").count();
        checks.expect(
            writes == 1,
            "SetInvoiceStatus was called once",
            ops_evidence(&ops),
        );

        let again = emulator
            .invoke("scheduler", &json!({"sync": "invoices"}))
            .await?;
        let enqueued = match &again {
            crate::lambda::Invocation::Returned(report) => report["records_enqueued"].as_u64(),
            crate::lambda::Invocation::Failed(_) => None,
        };
        checks.expect(
            enqueued == Some(0),
            "a second run enqueues nothing",
            format!("{again:?}"),
        );
        let total = invoice_deliveries(&ctx.received_deliveries().await?, SENT_INVOICE_GUID);
        checks.expect(
            total == 1,
            "invoice 1001 was delivered once",
            format!("{total} deliveries"),
        );
        Ok(())
    })
}

fn queue_settles<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let drained = ctx.queue_drained().await?;
        let depth = crate::pump::queue_depth(&ctx.sqs, &ctx.endpoints.job_queue_url).await?;
        checks.expect(
            drained,
            "every job was handled: nothing waits or is being retried",
            format!(
                "{} visible, {} in flight, {} delayed",
                depth.visible, depth.in_flight, depth.delayed
            ),
        );
        let deliveries = ctx.received_deliveries().await?;
        let unsigned = deliveries
            .iter()
            .filter(|d| d["signature_valid"] != true)
            .count();
        checks.expect(
            unsigned == 0,
            "every outbound delivery the receiver got carries a valid signature",
            format!(
                "{} received, {unsigned} without a valid signature",
                deliveries.len()
            ),
        );
        Ok(())
    })
}

/// The simulator judged every request by Severa's contract: nothing it ignored, no parameter
/// read as its default, no update that reset a member the request left out.
fn requests_follow_the_contract<'a>(ctx: &'a Ctx, checks: &'a mut Checks) -> StepFuture<'a> {
    Box::pin(async move {
        let (requests, violations) = ctx.sim.contract_violations().await?;
        checks.expect(
            violations.is_empty() && requests > 0,
            "no unknown parameter or member, no absent non-nullable parameter, no partial update",
            if violations.is_empty() {
                format!("{requests} requests checked")
            } else {
                violations.join("; ")
            },
        );
        Ok(())
    })
}
