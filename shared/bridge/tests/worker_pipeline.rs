//! The worker handler end to end on loopback: real SQS / DynamoDB / Secrets Manager (moto)
//! through the production adapters, and `severa-sim` for Severa. Each test checks what the
//! simulator holds and received, what the queues hold and what the table holds.

mod worker_harness;

use async_trait::async_trait;
use bridge::ports::{ExternalKey, IdMap, IdempotencyStore, PortError};
use serde_json::json;
use severa_sim::fixture;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use worker_harness::*;

fn hour_key(external_id: &str) -> ExternalKey {
    ExternalKey {
        source: "toggl".into(),
        entity: "hour_entry".into(),
        external_id: external_id.into(),
    }
}

#[tokio::test]
async fn create_update_delete_of_one_entry_ends_with_no_entry() {
    let h = Harness::start().await;
    let seeded = h.entities("HourEntry").await.len();

    let create = h.enqueue(&[hours("j-create", "te-1", "1.5")], 30).await;
    let response = h.handle_and_finish(create).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let guid = h
        .table
        .lookup(&hour_key("te-1"))
        .await
        .unwrap()
        .expect("mapped");
    let entry = h.entities("HourEntry").await[&guid].clone();
    assert_eq!(entry["UserGUID"], fixture::USER_ALICE_GUID);
    assert_eq!(entry["PhaseGUID"], fixture::PHASE_WEBSHOP_DEV_GUID);
    assert_eq!(entry["WorkTypeGUID"], fixture::WORKTYPE_DEV_GUID);
    assert_eq!(entry["Quantity"].to_string().trim_matches('"'), "1.5");

    let update = h.enqueue(&[hours("j-update", "te-1", "2.25")], 30).await;
    let response = h.handle_and_finish(update).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let entries = h.entities("HourEntry").await;
    assert_eq!(
        entries.len(),
        seeded + 1,
        "the update changed the same record"
    );
    assert_eq!(
        entries[&guid]["Quantity"].to_string().trim_matches('"'),
        "2.25"
    );
    assert_eq!(h.calls("UpdateHourEntry").await.len(), 1);

    let delete = h.enqueue(&[delete_hours("j-delete", "te-1")], 30).await;
    let response = h.handle_and_finish(delete).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let entries = h.entities("HourEntry").await;
    assert!(!entries.contains_key(&guid));
    assert_eq!(entries.len(), seeded);
    assert_eq!(h.table.lookup(&hour_key("te-1")).await.unwrap(), None);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn the_same_job_three_times_applies_once() {
    let h = Harness::start().await;
    let seeded = h.entities("HourEntry").await.len();

    // Sequentially: the same record delivered three times.
    let record = h.enqueue(&[hours("j-seq", "te-seq", "1")], 30).await;
    let mut delivery = record[0].clone();
    for _ in 0..3 {
        let response = h.handle(vec![delivery.clone()]).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        delivery = redelivered(&delivery);
    }
    assert_eq!(h.calls("AddNewHourEntry").await.len(), 1);

    // Concurrently: three messages with the same job in one batch.
    let body = hours("j-conc", "te-conc", "2");
    let records = h
        .enqueue(&[body.clone(), body.clone(), body.clone()], 30)
        .await;
    let first = h.handle(records.clone()).await;
    // Whoever lost the race is told to come back; redeliver those until nothing is left.
    let mut pending: Vec<_> = records
        .iter()
        .filter(|r| failed_ids(&first).contains(&id_of(r)))
        .map(redelivered)
        .collect();
    for _ in 0..3 {
        if pending.is_empty() {
            break;
        }
        // The losers saw an in-progress lock that has ended by now (the winner completed).
        let response = h.handle(pending.clone()).await;
        pending.retain(|r| failed_ids(&response).contains(&id_of(r)));
    }
    assert!(pending.is_empty(), "every delivery settled");
    assert_eq!(h.calls("AddNewHourEntry").await.len(), 2);
    assert_eq!(h.entities("HourEntry").await.len(), seeded + 2);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn mixed_batch_reports_only_the_transient_record() {
    let h = Harness::start().await;
    // A 429 is transient but no outage: a 503 would open Severa's breaker, and the records whose
    // calls come after it in the batch would wait for the breaker instead of settling.
    h.post(
        "faults",
        json!({"operation": "AddNewAccount", "kind": "http429"}),
    )
    .await;
    let good = hours("j-good", "te-good", "1");
    let poison = "this is { not JSON".to_string();
    let unknown_user = job(
        "j-unknown",
        "te-unknown",
        "hour_entry.upsert",
        json!({"user": {"code": "ZZ"}, "case": {"number": 1}, "event_date": "2026-01-20", "hours": "1"}),
    );
    // Carol is not a member of the Development phase: Severa answers ValidationException.
    let not_member = job(
        "j-member",
        "te-member",
        "hour_entry.upsert",
        json!({"user": {"code": "CC"}, "case": {"number": 1}, "phase": {"name": "Development"},
               "event_date": "2026-01-20", "hours": "1"}),
    );
    let transient = job(
        "j-transient",
        "acc-1",
        "account.upsert",
        json!({"name": "Transient Oy", "number": 4242}),
    );
    let records = h
        .enqueue(
            &[
                good.clone(),
                poison.clone(),
                unknown_user.clone(),
                not_member.clone(),
                transient,
            ],
            1,
        )
        .await;
    let response = h.handle_and_finish(records.clone()).await;
    // The transient record and the first miss of a reference are retried; the rest settle.
    let mut retried = vec![id_of(&records[2]), id_of(&records[4])];
    retried.sort();
    assert_eq!(failed_ids(&response), retried);
    // Delivered again after its back-off, the unknown user is looked up afresh and still
    // missing: now it is permanent.
    let again = h.handle_and_finish(vec![redelivered(&records[2])]).await;
    assert!(again.batch_item_failures.is_empty(), "{again:?}");

    // The good one was applied.
    assert!(
        h.table
            .lookup(&hour_key("te-good"))
            .await
            .unwrap()
            .is_some()
    );

    // Poison and permanent ones are in the DLQ with their reasons and original bodies.
    let dlq = h.dlq_messages().await;
    assert_eq!(dlq.len(), 3, "{dlq:?}");
    let by_body = |body: &str| {
        dlq.iter()
            .find(|m| m.body.as_deref() == Some(body))
            .unwrap_or_else(|| panic!("{body} in the DLQ"))
    };
    let m = by_body(&poison);
    assert_eq!(dlq_attr(m, "error_type"), "MalformedJob");
    assert_eq!(dlq_attr(m, "attempts"), "1");
    assert!(!dlq_attr(m, "first_failure_at").is_empty());
    let m = by_body(&unknown_user);
    assert_eq!(dlq_attr(m, "error_type"), "UnresolvedReference");
    assert!(
        dlq_attr(m, "error_message").contains("user with code ZZ"),
        "{}",
        dlq_attr(m, "error_message")
    );
    assert_eq!(dlq_attr(m, "job_id"), "j-unknown");
    assert_eq!(dlq_attr(m, "correlation_id"), "wh-j-unknown");
    assert_eq!(dlq_attr(m, "source"), "toggl");
    assert_eq!(dlq_attr(m, "kind"), "hour_entry.upsert");
    assert_eq!(dlq_attr(m, "attempts"), "2");
    let m = by_body(&not_member);
    assert_eq!(dlq_attr(m, "error_type"), "ValidationException");
    assert!(dlq_attr(m, "error_message").contains("not a member"));

    // Received with a 1 s visibility: after it, only a changed visibility keeps the transient
    // record hidden, and the permanent ones (the unknown user now too) were deleted.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(h.visible_jobs().await.is_empty());
    let attrs = h
        .sqs
        .get_queue_attributes()
        .queue_url(&h.queue_url)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .send()
        .await
        .unwrap();
    let hidden = attrs
        .attributes
        .unwrap_or_default()
        .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .cloned();
    assert_eq!(hidden.as_deref(), Some("1"));
    h.stop().await;
}

#[tokio::test]
async fn severa_failing_three_times_then_recovering_applies_once() {
    let h = Harness::start().await;
    h.post(
        "faults",
        json!({"operation": "AddNewHourEntry", "kind": "http503", "times": 3}),
    )
    .await;
    let records = h.enqueue(&[hours("j-flaky", "te-flaky", "3")], 30).await;
    let mut delivery = records[0].clone();
    let mut failures = 0;
    for _ in 0..6 {
        let response = h.handle(vec![delivery.clone()]).await;
        if response.batch_item_failures.is_empty() {
            break;
        }
        failures += 1;
        delivery = redelivered(&delivery);
        // Each 503 opened Severa's breaker; the next delivery comes after its opening.
        h.breaker_opening_passes().await;
    }
    assert_eq!(failures, 3);
    let adds = h.calls("AddNewHourEntry").await;
    assert_eq!(adds.len(), 4);
    assert_eq!(
        adds.iter().filter(|r| r["injected"] == "http503").count(),
        3
    );
    let guid = h
        .table
        .lookup(&hour_key("te-flaky"))
        .await
        .unwrap()
        .expect("mapped");
    assert!(h.entities("HourEntry").await.contains_key(&guid));

    // One more delivery (Lambda's delete lost, say) is a duplicate: no Severa write.
    let response = h.handle(vec![redelivered(&delivery)]).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(h.calls("AddNewHourEntry").await.len(), 4);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_regenerated_key_is_picked_up_after_one_refresh() {
    let h = Harness::start().await;
    let first = h.enqueue(&[hours("j-key-1", "te-key-1", "1")], 30).await;
    assert!(h.handle(first).await.batch_item_failures.is_empty());
    assert_eq!(h.secret_reads(), 1);

    let new_key = h.post("keys/regenerate", json!({})).await["api_key"]
        .as_str()
        .expect("new key")
        .to_string();
    h.secrets_client
        .put_secret_value()
        .secret_id(&h.secret_id)
        .secret_string(&new_key)
        .send()
        .await
        .unwrap();
    h.clear_requests().await;

    // The cache still holds the old key (TTL 5 min): one auth fault, one refresh, one retry.
    let records = h
        .enqueue(
            &[
                hours("j-key-2", "te-key-2", "1"),
                hours("j-key-3", "te-key-3", "1"),
            ],
            30,
        )
        .await;
    let response = h.handle(records).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(h.secret_reads(), 2, "exactly one refresh");
    let log = h.requests().await;
    let auth_faults = log
        .iter()
        .filter(|r| r["fault"] == "AuthenticationFailureException")
        .count();
    assert!((1..=2).contains(&auth_faults), "{auth_faults}");
    let added = h
        .calls("AddNewHourEntry")
        .await
        .into_iter()
        .filter(|r| r["fault"].is_null())
        .count();
    assert_eq!(added, 2);
    h.stop().await;
}

#[tokio::test]
async fn a_key_rejected_after_the_refresh_is_retried_not_dead_lettered() {
    let h = Harness::start().await;
    h.post("keys/regenerate", json!({})).await;
    let records = h.enqueue(&[hours("j-rejected", "te-rej", "1")], 30).await;
    let response = h.handle(records.clone()).await;
    assert_eq!(failed_ids(&response), vec![id_of(&records[0])]);
    assert_eq!(h.secret_reads(), 2, "initial read and one refresh");
    assert!(h.dlq_messages().await.is_empty());
    // The claim was released: a retry with a fixed secret is not blocked by the lock.
    let claim = h.table.claim("j-rejected", deadline()).await.unwrap();
    assert_eq!(claim, bridge::ports::Claim::Acquired);
    h.stop().await;
}

#[tokio::test]
async fn unknown_reference_is_dead_lettered_and_unknown_delete_is_a_no_op() {
    let h = Harness::start().await;
    let unknown_phase = job(
        "j-phase",
        "te-phase",
        "hour_entry.upsert",
        json!({"user": {"email": "ALICE.ANDERSSON@demo-oy.example"}, "case": {"number": 1},
               "phase": {"name": "Deployment"}, "event_date": "2026-01-20", "hours": "1"}),
    );
    let records = h
        .enqueue(
            &[
                unknown_phase.clone(),
                delete_hours("j-del", "never-created"),
            ],
            30,
        )
        .await;
    let response = h.handle_and_finish(records.clone()).await;
    assert_eq!(
        failed_ids(&response),
        vec![id_of(&records[0])],
        "a first miss is retried"
    );
    assert!(h.dlq_messages().await.is_empty());
    let again = h.handle_and_finish(vec![redelivered(&records[0])]).await;
    assert!(again.batch_item_failures.is_empty(), "{again:?}");
    let dlq = h.dlq_messages().await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].body.as_deref(), Some(unknown_phase.as_str()));
    assert_eq!(dlq_attr(&dlq[0], "error_type"), "UnresolvedReference");
    assert!(
        dlq_attr(&dlq[0], "error_message").contains("phase named 'Deployment' in case 1"),
        "{}",
        dlq_attr(&dlq[0], "error_message")
    );
    assert!(h.calls("DeleteHourEntry").await.is_empty());
    assert!(h.calls("AddNewHourEntry").await.is_empty());
    // The no-op delete is a completed job: delivered again, it is a duplicate.
    assert_eq!(
        h.table.claim("j-del", deadline()).await.unwrap(),
        bridge::ports::Claim::Completed { severa_guid: None }
    );
    h.stop().await;
}

/// A user created in Severa seconds before their first hours: the worker's cached user list
/// (younger than the miss-refresh age) misses them. The miss is retried, and the retry reads
/// Severa afresh and applies the hours — nothing is dead-lettered.
#[tokio::test]
async fn a_user_created_seconds_ago_is_found_on_the_retry() {
    let h = Harness::start().await;
    let by_email = |job_id: &str, external_id: &str, email: &str| {
        job(
            job_id,
            external_id,
            "hour_entry.upsert",
            json!({"user": {"email": email}, "case": {"number": 1}, "phase": {"name": "Development"},
                   "event_date": "2026-01-20", "hours": "1"}),
        )
    };
    // Fills the worker's user list.
    let first = h
        .enqueue(&[by_email("j-a", "te-a", fixture::USER_ALICE_EMAIL)], 30)
        .await;
    assert!(
        h.handle_and_finish(first)
            .await
            .batch_item_failures
            .is_empty()
    );

    // A person adds a user in Severa (and makes them a member of the case's phase).
    let client = severa::SeveraClient::new(
        severa::SeveraConfig::with_endpoint(h.sim.endpoint()),
        severa::ApiKey::new(severa_sim::DEFAULT_API_KEY),
    )
    .unwrap();
    let newbie = client
        .add_new_user(&severa::entities::User {
            first_name: Some("New".into()),
            last_name: Some("Comer".into()),
            email: Some("new.comer@demo-oy.example".into()),
            business_unit_guid: Some(fixture::BUSINESS_UNIT_GUID.into()),
            is_active: Some(true),
            send_daily_mail: Some(false),
            send_weekly_mail: Some(false),
            ..Default::default()
        })
        .await
        .unwrap()
        .value;
    let mut members = client
        .get_phase_members_by_phase_guid(fixture::PHASE_WEBSHOP_DEV_GUID, false)
        .await
        .unwrap()
        .value;
    members.push(newbie.guid.clone().unwrap());
    client
        .call_raw(
            "IPhaseMember",
            "SetPhaseMemberListForPhase",
            vec![
                severa::Param::new("phaseGUID", fixture::PHASE_WEBSHOP_DEV_GUID).unwrap(),
                severa::Param::new("userGUIDs", &members).unwrap(),
            ],
        )
        .await
        .unwrap();

    let records = h
        .enqueue(
            &[by_email("j-new", "te-new", "new.comer@demo-oy.example")],
            30,
        )
        .await;
    let response = h.handle_and_finish(records.clone()).await;
    assert_eq!(
        failed_ids(&response),
        vec![id_of(&records[0])],
        "missed in the cached list: retried"
    );
    assert!(h.dlq_messages().await.is_empty());
    let again = h.handle_and_finish(vec![redelivered(&records[0])]).await;
    assert!(again.batch_item_failures.is_empty(), "{again:?}");
    assert!(h.dlq_messages().await.is_empty(), "nothing dead-lettered");
    let entries = h.entities("HourEntry").await;
    assert_eq!(
        entries
            .values()
            .filter(|e| e["UserGUID"] == newbie.guid.as_deref().unwrap())
            .count(),
        1,
        "the new user's hours applied once"
    );
    h.stop().await;
}

#[tokio::test]
async fn an_entry_deleted_in_severa_is_added_anew_on_update() {
    let h = Harness::start().await;
    let create = h.enqueue(&[hours("j-a", "te-gone", "1")], 30).await;
    assert!(h.handle(create).await.batch_item_failures.is_empty());
    let old = h.table.lookup(&hour_key("te-gone")).await.unwrap().unwrap();
    // A person deletes it in Severa.
    let client = severa::SeveraClient::new(
        severa::SeveraConfig::with_endpoint(h.sim.endpoint()),
        severa::ApiKey::new(severa_sim::DEFAULT_API_KEY),
    )
    .unwrap();
    assert!(client.delete_hour_entry(&old).await.unwrap().value);

    let update = h.enqueue(&[hours("j-b", "te-gone", "4")], 30).await;
    assert!(h.handle(update).await.batch_item_failures.is_empty());
    let new = h.table.lookup(&hour_key("te-gone")).await.unwrap().unwrap();
    assert_ne!(new, old);
    assert!(h.entities("HourEntry").await.contains_key(&new));

    // A delete of an entry already gone in Severa counts as done.
    assert!(client.delete_hour_entry(&new).await.unwrap().value);
    let delete = h.enqueue(&[delete_hours("j-c", "te-gone")], 30).await;
    assert!(h.handle(delete).await.batch_item_failures.is_empty());
    assert_eq!(h.table.lookup(&hour_key("te-gone")).await.unwrap(), None);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn account_contact_case_and_user_jobs() {
    let h = Harness::start().await;
    let jobs = [
        job(
            "j-acc",
            "crm-acc-1",
            "account.upsert",
            json!({"name": "Bridge Test Oy", "number": 5001, "email": "info@bridge.example",
                   "address": {"line1": "Katu 1", "city": "Helsinki", "country_code": "FI"}}),
        ),
        job(
            "j-user",
            "hr-7",
            "user.create",
            json!({"first_name": "Eve", "last_name": "Example", "email": "eve@demo-oy.example",
                   "code": "EE", "business_unit_guid": fixture::BUSINESS_UNIT_GUID}),
        ),
    ];
    let records = h.enqueue(&jobs, 30).await;
    let response = h.handle(records).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let account_key = ExternalKey {
        source: "toggl".into(),
        entity: "account".into(),
        external_id: "crm-acc-1".into(),
    };
    let account = h
        .table
        .lookup(&account_key)
        .await
        .unwrap()
        .expect("account mapped");
    assert_eq!(
        h.entities("Account").await[&account]["Name"],
        "Bridge Test Oy"
    );

    let jobs = [
        job(
            "j-con",
            "crm-con-1",
            "contact.upsert",
            json!({"account": {"number": 5001}, "first_name": "Ann", "last_name": "Other",
                   "email": "ann@bridge.example"}),
        ),
        job(
            "j-case",
            "crm-case-1",
            "case.create",
            json!({"name": "Bridge project", "account": {"name": "bridge test oy"},
                   "owner": {"code": "EE"}, "currency": "EUR"}),
        ),
        job(
            "j-off",
            "hr-7",
            "user.deactivate",
            json!({"user": {"email": "eve@demo-oy.example"}}),
        ),
    ];
    let records = h.enqueue(&jobs, 30).await;
    let response = h.handle(records).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(h.dlq_messages().await.is_empty());
    let contacts = h.entities("Contact").await;
    let contact = contacts
        .values()
        .find(|c| c["FirstName"] == "Ann")
        .expect("contact");
    assert_eq!(contact["AccountGUID"], account.as_str());
    let cases = h.entities("Case").await;
    let case = cases
        .values()
        .find(|c| c["Name"] == "Bridge project")
        .expect("case");
    assert_eq!(case["AccountGUID"], account.as_str());
    let users = h.entities("User").await;
    let eve = users
        .values()
        .find(|u| u["Email"] == "eve@demo-oy.example")
        .expect("user");
    assert_eq!(eve["IsActive"], "false");
    assert_eq!(case["CaseOwnerUserGUID"], eve["GUID"]);

    // A repeated case.create for the same external id (new job id) does not open a second case.
    let again = h
        .enqueue(
            &[job(
                "j-case-2",
                "crm-case-1",
                "case.create",
                json!({"name": "Bridge project", "account": {"number": 5001},
                       "owner": {"code": "EE"}, "currency": "EUR"}),
            )],
            30,
        )
        .await;
    assert!(h.handle(again).await.batch_item_failures.is_empty());
    assert_eq!(h.calls("AddNewCase").await.len(), 1);
    h.stop().await;
}

/// An id map that panics for one external id: the panic stays with that record.
struct PanickingIdMap(Arc<dyn IdMap>);

#[async_trait]
impl IdMap for PanickingIdMap {
    async fn lookup(&self, key: &ExternalKey) -> Result<Option<String>, PortError> {
        if key.external_id == "boom" {
            panic!("test panic in the id map");
        }
        self.0.lookup(key).await
    }
    async fn record(&self, key: &ExternalKey, guid: &str) -> Result<(), PortError> {
        self.0.record(key, guid).await
    }
    async fn forget(&self, key: &ExternalKey, guid: &str) -> Result<(), PortError> {
        self.0.forget(key, guid).await
    }
    async fn owner(&self, severa_guid: &str) -> Result<Option<ExternalKey>, PortError> {
        self.0.owner(severa_guid).await
    }
}

#[tokio::test]
async fn a_panicking_record_fails_alone() {
    let h = Harness::start_with(test_settings(), |mut ports| {
        ports.id_map = Arc::new(PanickingIdMap(ports.id_map));
        ports
    })
    .await;
    let records = h
        .enqueue(
            &[hours("j-ok", "te-ok", "1"), hours("j-boom", "boom", "1")],
            30,
        )
        .await;
    let response = h.handle(records.clone()).await;
    assert_eq!(failed_ids(&response), vec![id_of(&records[1])]);
    assert!(h.table.lookup(&hour_key("te-ok")).await.unwrap().is_some());
    // The panicked job's claim was released, so its retry is not locked out.
    assert_eq!(
        h.table.claim("j-boom", deadline()).await.unwrap(),
        bridge::ports::Claim::Acquired
    );
    h.stop().await;
}

/// A job of one Toggl entry (`te-order`) that occurred at `at` with `hours`.
fn hours_at(job_id: &str, at: &str, quantity: &str) -> String {
    let mut job: serde_json::Value =
        serde_json::from_str(&hours(job_id, "te-order", quantity)).unwrap();
    job["occurred_at"] = json!(at);
    job.to_string()
}

fn delete_at(job_id: &str, at: &str) -> String {
    let mut job: serde_json::Value =
        serde_json::from_str(&delete_hours(job_id, "te-order")).unwrap();
    job["occurred_at"] = json!(at);
    job.to_string()
}

/// Handles the records, then redelivers what was reported failed until nothing is (as the
/// event source mapping would after the back-offs).
async fn settle(h: &Harness, records: Vec<aws_lambda_events::event::sqs::SqsMessage>) {
    let mut pending = records;
    for _ in 0..5 {
        let response = h.handle_and_finish(pending.clone()).await;
        let failed = failed_ids(&response);
        if failed.is_empty() {
            return;
        }
        pending = pending
            .iter()
            .filter(|r| failed.contains(&id_of(r)))
            .map(redelivered)
            .collect();
    }
    panic!("records still failing after 5 deliveries");
}

async fn order_entries(h: &Harness) -> Vec<serde_json::Value> {
    h.entities("HourEntry")
        .await
        .values()
        .filter(|e| e["Description"] == "worker test")
        .cloned()
        .collect()
}

#[tokio::test]
async fn two_upserts_of_one_record_in_one_batch_end_as_one_entry_with_the_newer_values() {
    let h = Harness::start().await;
    let records = h
        .enqueue(
            &[
                hours_at("j-new", "2026-01-20T10:05:00Z", "3"),
                hours_at("j-old", "2026-01-20T10:00:00Z", "1"),
            ],
            30,
        )
        .await;
    settle(&h, records).await;
    let entries = order_entries(&h).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["Quantity"], "3", "the newer event wins");
    assert_eq!(h.calls("AddNewHourEntry").await.len(), 1);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn an_older_event_after_a_newer_one_is_stale() {
    let h = Harness::start().await;
    let newer = h
        .enqueue(&[hours_at("j-new", "2026-01-20T10:05:00Z", "3")], 30)
        .await;
    settle(&h, newer).await;
    let older = h
        .enqueue(&[hours_at("j-old", "2026-01-20T10:00:00Z", "1")], 30)
        .await;
    settle(&h, older).await;
    let entries = order_entries(&h).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["Quantity"], "3");
    assert!(
        h.calls("UpdateHourEntry").await.is_empty(),
        "the stale job wrote nothing"
    );
    // Completed: delivered again, it is a duplicate.
    assert!(matches!(
        h.table.claim("j-old", deadline()).await.unwrap(),
        bridge::ports::Claim::Completed { .. }
    ));
    h.stop().await;
}

#[tokio::test]
async fn a_delete_leaves_a_tombstone_an_older_upsert_cannot_undo() {
    let h = Harness::start().await;
    let steps = [
        hours_at("j-create", "2026-01-20T10:00:00Z", "1"),
        delete_at("j-delete", "2026-01-20T10:10:00Z"),
        // A late, older edit (sent before the delete, delivered after it).
        hours_at("j-late-edit", "2026-01-20T10:05:00Z", "2"),
    ];
    for body in steps {
        let records = h.enqueue(&[body], 30).await;
        settle(&h, records).await;
    }
    assert!(
        order_entries(&h).await.is_empty(),
        "the entry stays deleted"
    );
    assert_eq!(h.calls("AddNewHourEntry").await.len(), 1);

    // A newer upsert after the delete creates the entry again (the rule in the README).
    let records = h
        .enqueue(&[hours_at("j-again", "2026-01-20T10:20:00Z", "4")], 30)
        .await;
    settle(&h, records).await;
    let entries = order_entries(&h).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["Quantity"], "4");
    h.stop().await;
}

#[tokio::test]
async fn a_delete_that_arrives_before_its_create_keeps_the_entry_away() {
    let h = Harness::start().await;
    let records = h
        .enqueue(&[delete_at("j-delete", "2026-01-20T10:10:00Z")], 30)
        .await;
    settle(&h, records).await;
    let records = h
        .enqueue(&[hours_at("j-create", "2026-01-20T10:00:00Z", "1")], 30)
        .await;
    settle(&h, records).await;
    assert!(order_entries(&h).await.is_empty());
    assert!(h.calls("AddNewHourEntry").await.is_empty());
    h.stop().await;
}

/// Severa commits each create, then the answer is cut off (`truncate`): the retry finds the
/// open create intent, looks for the record in Severa, adopts it, and creates nothing twice.
#[tokio::test]
async fn creates_whose_answers_were_lost_are_adopted_not_repeated() {
    let h = Harness::start().await;
    for op in [
        "AddNewHourEntry",
        "AddNewContact",
        "AddNewUser",
        "AddNewCase",
    ] {
        h.post(
            "faults",
            json!({"operation": op, "kind": "truncate", "times": 1}),
        )
        .await;
    }
    let jobs = [
        hours("j-he", "te-lost", "2.5"),
        job(
            "j-user",
            "hr-lost",
            "user.create",
            json!({"first_name": "Lotta", "last_name": "Lost", "email": "lotta.lost@demo-oy.example",
                   "business_unit_guid": fixture::BUSINESS_UNIT_GUID}),
        ),
        job(
            "j-con",
            "crm-con-lost",
            "contact.upsert",
            json!({"account": {"number": fixture::ACCOUNT_NORDIC_NUMBER}, "first_name": "Liisa",
                   "last_name": "Lost"}),
        ),
        job(
            "j-case",
            "crm-case-lost",
            "case.create",
            json!({"name": "Lost answers", "account": {"number": fixture::ACCOUNT_NORDIC_NUMBER},
                   "owner": {"code": fixture::USER_ALICE_CODE}, "currency": "EUR"}),
        ),
    ];
    let records = h.enqueue(&jobs, 30).await;
    let response = h.handle_and_finish(records.clone()).await;
    assert_eq!(
        failed_ids(&response).len(),
        4,
        "every cut-off answer is retried: {response:?}"
    );
    settle(&h, records.iter().map(redelivered).collect()).await;
    assert!(h.dlq_messages().await.is_empty());
    for op in [
        "AddNewHourEntry",
        "AddNewContact",
        "AddNewUser",
        "AddNewCase",
    ] {
        assert_eq!(h.calls(op).await.len(), 1, "{op} was sent once");
    }
    for (kind, member, value) in [
        ("HourEntry", "Description", "worker test"),
        ("User", "Email", "lotta.lost@demo-oy.example"),
        ("Contact", "FirstName", "Liisa"),
        ("Case", "Name", "Lost answers"),
    ] {
        let count = h
            .entities(kind)
            .await
            .values()
            .filter(|r| r[member] == value)
            .count();
        assert_eq!(count, 1, "one {kind} with {member} = {value}");
    }
    // Each adopted record is mapped: an update of the hour entry updates that one entry.
    let update = h.enqueue(&[hours("j-he-2", "te-lost", "3")], 30).await;
    settle(&h, update).await;
    let entries: Vec<_> = h
        .entities("HourEntry")
        .await
        .values()
        .filter(|e| e["Description"] == "worker test")
        .cloned()
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["Quantity"], "3");
    h.stop().await;
}

/// The create's answer is lost, and the record's next event arrives before the create is
/// retried: the update (other hours) and the delete find the entry by what the create sent.
#[tokio::test]
async fn an_event_after_a_lost_create_finds_the_entry_it_created() {
    let h = Harness::start().await;
    h.post(
        "faults",
        json!({"operation": "AddNewHourEntry", "kind": "truncate", "times": 1}),
    )
    .await;
    let create = h
        .enqueue(&[hours_at("j-create", "2026-01-20T10:00:00Z", "1")], 30)
        .await;
    let response = h.handle_and_finish(create.clone()).await;
    assert_eq!(
        failed_ids(&response).len(),
        1,
        "the cut-off create is retried"
    );
    // The newer edit comes first.
    let update = h
        .enqueue(&[hours_at("j-update", "2026-01-20T10:05:00Z", "2")], 30)
        .await;
    settle(&h, update).await;
    let entries = order_entries(&h).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["Quantity"], "2");
    // The create's retry is stale now.
    settle(&h, create.iter().map(redelivered).collect()).await;
    assert_eq!(order_entries(&h).await.len(), 1);
    assert_eq!(h.calls("AddNewHourEntry").await.len(), 1);

    // Same with a delete: the entry a lost create made is deleted, not left behind.
    let h2 = Harness::start().await;
    h2.post(
        "faults",
        json!({"operation": "AddNewHourEntry", "kind": "truncate", "times": 1}),
    )
    .await;
    let create = h2
        .enqueue(&[hours_at("j-create", "2026-01-20T10:00:00Z", "1")], 30)
        .await;
    h2.handle_and_finish(create).await;
    let delete = h2
        .enqueue(&[delete_at("j-delete", "2026-01-20T10:10:00Z")], 30)
        .await;
    settle(&h2, delete).await;
    assert!(
        order_entries(&h2).await.is_empty(),
        "deleted, not left behind"
    );
    h.stop().await;
    h2.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The last allowed receive: a job that cannot be tried is dead-lettered with its reason, not
// left to the queue's redrive policy (which moves it without one).

/// The record as the `receive`-th delivery (ApproximateReceiveCount).
fn at_receive(
    record: &aws_lambda_events::event::sqs::SqsMessage,
    receive: u32,
) -> aws_lambda_events::event::sqs::SqsMessage {
    let mut again = record.clone();
    again
        .attributes
        .insert("ApproximateReceiveCount".into(), receive.to_string());
    again
}

/// Messages in the job queue, visible or not (a message the worker deleted is in neither).
async fn jobs_in_queue(h: &Harness) -> u64 {
    let out = h
        .sqs
        .get_queue_attributes()
        .queue_url(&h.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .send()
        .await
        .expect("queue attributes");
    out.attributes
        .unwrap_or_default()
        .values()
        .map(|v| v.parse::<u64>().unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn a_job_whose_claim_is_held_on_its_last_receive_is_dead_lettered_with_the_reason() {
    let h = Harness::start().await;
    let last = test_settings().max_attempts;
    let body = hours("j-held", "te-held", "1");
    let records = h.enqueue(std::slice::from_ref(&body), 30).await;
    // Another invocation holds the job (a duplicate delivery still being worked on).
    let holder_until = chrono::Utc::now() + chrono::Duration::minutes(10);
    assert_eq!(
        h.table.claim("j-held", holder_until).await.unwrap(),
        bridge::ports::Claim::Acquired
    );

    // Before the last receive the job waits for the holder.
    let early = h.handle(vec![at_receive(&records[0], last - 1)]).await;
    assert_eq!(failed_ids(&early), vec![id_of(&records[0])]);
    assert!(h.dlq_messages().await.is_empty());

    // On the last allowed receive the worker moves it itself, with the reason, and deletes it
    // from the job queue (no `finish`: the worker's own delete, not Lambda's).
    let response = h.handle(vec![at_receive(&records[0], last)]).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let dlq = h.dlq_messages().await;
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!(dlq[0].body.as_deref(), Some(body.as_str()));
    assert_eq!(dlq_attr(&dlq[0], "error_type"), "InProgress");
    let reason = dlq_attr(&dlq[0], "error_message");
    assert!(
        reason.contains("claim held by another invocation"),
        "{reason}"
    );
    assert!(
        dlq_attr(&dlq[0], "retries_exhausted")
            .starts_with(&format!("gave up after {last} attempts")),
        "{}",
        dlq_attr(&dlq[0], "retries_exhausted")
    );
    assert_eq!(dlq_attr(&dlq[0], "job_id"), "j-held");
    assert_eq!(dlq_attr(&dlq[0], "attempts"), last.to_string());
    assert_eq!(jobs_in_queue(&h).await, 0, "deleted from the job queue");
    assert!(h.calls("AddNewHourEntry").await.is_empty(), "never tried");
    h.stop().await;
}

#[tokio::test]
async fn a_busy_record_or_an_open_breaker_on_the_last_receive_dead_letters_with_the_reason() {
    let h = Harness::start().await;
    let last = test_settings().max_attempts;

    // Another job of the same record holds its lock.
    let lock =
        bridge::ports::RecordLocks::lock(&h.table, &hour_key("te-busy"), "j-other", deadline())
            .await
            .unwrap();
    assert!(matches!(lock, bridge::ports::RecordLock::Acquired { .. }));
    let busy = h.enqueue(&[hours("j-busy", "te-busy", "1")], 30).await;
    let response = h.handle(vec![at_receive(&busy[0], last)]).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let dlq = h.dlq_messages().await;
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!(dlq_attr(&dlq[0], "error_type"), "RecordBusy");
    assert!(dlq_attr(&dlq[0], "error_message").contains("holds the record's lock"));

    // Severa's breaker is open: the job is not tried, and on its last receive it is moved.
    bridge::ports::Breaker::trip(
        &h.table,
        chrono::Utc::now() + chrono::Duration::minutes(10),
        "HTTP503",
        1,
        None,
    )
    .await
    .unwrap();
    let deferred = h
        .enqueue(&[hours("j-deferred", "te-deferred", "1")], 30)
        .await;
    let response = h.handle(vec![at_receive(&deferred[0], last)]).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let dlq = h.dlq_messages().await;
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!(dlq_attr(&dlq[0], "error_type"), "SeveraUnavailable");
    assert!(
        dlq_attr(&dlq[0], "error_message").contains("circuit breaker is open (HTTP503)"),
        "{}",
        dlq_attr(&dlq[0], "error_message")
    );
    assert_eq!(
        jobs_in_queue(&h).await,
        0,
        "both deleted from the job queue"
    );
    assert!(h.calls("AddNewHourEntry").await.is_empty(), "never tried");
    h.stop().await;
}

/// What an hour-entry job costs in DynamoDB requests at steady state, by operation: the price
/// of exactly-once (claim, record lock, create intent, id map), which DynamoDB bills per request
/// and which adds its round trips to every job. The README's cost figures come from here; a
/// change to the protocol that adds a request shows up as a failure to read.
#[tokio::test]
async fn dynamodb_requests_per_hour_entry_job_at_steady_state() {
    let h = Harness::start().await;
    // Warm: the references resolved and cached, the key read, the breaker item read once.
    settle(&h, h.enqueue(&[hours("j-warm", "te-warm", "1")], 30).await).await;
    h.table_requests.take();

    let batch = |prefix: &str, body: fn(&str, &str) -> String| -> Vec<String> {
        (0..4)
            .map(|n| body(&format!("j-{prefix}-{n}"), &format!("te-cost-{n}")))
            .collect()
    };
    let creates = batch("create", |job, ext| hours(job, ext, "1"));
    let updates = batch("update", |job, ext| hours(job, ext, "2"));
    let deletes = batch("delete", delete_hours);

    let mut per_batch = Vec::new();
    for (what, bodies) in [
        ("4 creates", &creates),
        ("4 updates", &updates),
        ("4 deletes", &deletes),
    ] {
        let records = h.enqueue(bodies, 30).await;
        let response = h.handle_and_finish(records.clone()).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{what}: {response:?}"
        );
        per_batch.push((what, h.table_requests.take()));
        if what == "4 updates" {
            // The same deliveries again (SQS at-least-once): answered from the claims.
            let again: Vec<_> = records.iter().map(redelivered).collect();
            let response = h.handle(again).await;
            assert!(response.batch_item_failures.is_empty(), "{response:?}");
            per_batch.push(("4 redeliveries", h.table_requests.take()));
        }
    }
    for (what, requests) in &per_batch {
        println!("{what}: {requests:?}");
    }
    // The requests paid for real work: each job reached Severa once (the warm-up job too).
    for operation in ["AddNewHourEntry", "UpdateHourEntry", "DeleteHourEntry"] {
        let want = if operation == "AddNewHourEntry" { 5 } else { 4 };
        assert_eq!(h.calls(operation).await.len(), want, "{operation}");
    }
    let requests = |what: &str| -> BTreeMap<String, usize> {
        per_batch
            .iter()
            .find(|(w, _)| *w == what)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    let expect = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|(op, n)| (op.to_string(), *n)).collect()
    };
    // Every batch reads the breaker item once (GetItem); the rest is per job (× 4).
    // A create: claim (PutItem), record lock (UpdateItem), id-map lookup (GetItem), create
    // intent (UpdateItem), the id map's two items (2 PutItem), unlock with the record's version
    // (UpdateItem), completion (PutItem): 8.
    assert_eq!(
        requests("4 creates"),
        expect(&[
            ("GetItem", 1 + 4),
            ("PutItem", 4 * 4),
            ("UpdateItem", 4 * 3)
        ])
    );
    // An update of a mapped entry: claim, lock, lookup, unlock, completion: 5.
    assert_eq!(
        requests("4 updates"),
        expect(&[
            ("GetItem", 1 + 4),
            ("PutItem", 4 * 2),
            ("UpdateItem", 4 * 2)
        ])
    );
    // A delivery of a completed job: its claim fails and the answer carries the item: 1.
    assert_eq!(
        requests("4 redeliveries"),
        expect(&[("GetItem", 1), ("PutItem", 4)])
    );
    // A delete: claim, lock, lookup, the id map's two items deleted, unlock with the
    // tombstone, completion: 7.
    assert_eq!(
        requests("4 deletes"),
        expect(&[
            ("DeleteItem", 4 * 2),
            ("GetItem", 1 + 4),
            ("PutItem", 4 * 2),
            ("UpdateItem", 4 * 2)
        ])
    );
    h.stop().await;
}

/// Records in flight and Severa calls in flight are two bounds: a batch of twelve creates at
/// twelve records in flight, each create held 200 ms by the simulator, reaches Severa at most
/// `SEVERA_CALLS_IN_FLIGHT` calls at a time (seen from the simulator's side) and still applies
/// every job once. Without the client's bound Severa would see twelve at once.
#[tokio::test]
async fn severa_calls_in_flight_stay_within_their_bound_whatever_the_records_in_flight() {
    let settings = bridge::worker::WorkerSettings {
        concurrency: 12,
        ..test_settings()
    };
    let h = Harness::start_with(settings, |ports| ports).await;
    let seeded = h.entities("HourEntry").await.len();
    h.post(
        "faults",
        json!({"operation": "AddNewHourEntry", "kind": "latency", "latency_ms": 200}),
    )
    .await;
    let bodies: Vec<String> = (0..12)
        .map(|n| hours(&format!("j-bound-{n}"), &format!("te-bound-{n}"), "1"))
        .collect();
    let records = h.enqueue(&bodies, 60).await;
    let response = h.handle_and_finish(records).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let load = h.admin(reqwest::Method::GET, "load", None).await;
    assert_eq!(
        load["peak_in_flight"],
        json!(SEVERA_CALLS_IN_FLIGHT),
        "Severa's load: {load}"
    );
    assert_eq!(h.entities("HourEntry").await.len(), seeded + 12);
    assert_eq!(h.calls("AddNewHourEntry").await.len(), 12);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

/// The table's two ends of a job, made to wait for each other: `unlock` and `complete` each
/// wait (at most 5 s) until the other has started, and note whether they met. Sequential ends
/// never meet.
struct MeetingEnds {
    records: Arc<dyn bridge::ports::RecordLocks>,
    idempotency: Arc<dyn IdempotencyStore>,
    started: tokio::sync::Barrier,
    met: std::sync::atomic::AtomicUsize,
}

impl MeetingEnds {
    async fn meet(&self) {
        if tokio::time::timeout(Duration::from_secs(5), self.started.wait())
            .await
            .is_ok()
        {
            self.met.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl bridge::ports::RecordLocks for MeetingEnds {
    async fn lock(
        &self,
        key: &ExternalKey,
        owner: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bridge::ports::RecordLock, PortError> {
        self.records.lock(key, owner, until).await
    }
    async fn open_intent(
        &self,
        key: &ExternalKey,
        owner: &str,
        fingerprint: &str,
    ) -> Result<(), PortError> {
        self.records.open_intent(key, owner, fingerprint).await
    }
    async fn unlock(
        &self,
        key: &ExternalKey,
        owner: &str,
        applied: Option<bridge::ports::RecordVersion>,
    ) -> Result<(), PortError> {
        self.meet().await;
        self.records.unlock(key, owner, applied).await
    }
}

#[async_trait]
impl IdempotencyStore for MeetingEnds {
    async fn claim(
        &self,
        key: &str,
        lock_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bridge::ports::Claim, PortError> {
        self.idempotency.claim(key, lock_until).await
    }
    async fn complete(
        &self,
        key: &str,
        severa_guid: Option<&str>,
        ttl: Duration,
    ) -> Result<(), PortError> {
        self.meet().await;
        self.idempotency.complete(key, severa_guid, ttl).await
    }
    async fn release(&self, key: &str) -> Result<(), PortError> {
        self.idempotency.release(key).await
    }
    async fn first_sighting(&self, key: &str, ttl: Duration) -> Result<bool, PortError> {
        self.idempotency.first_sighting(key, ttl).await
    }
}

/// A job's two closing table writes — the record's unlock with its version, and the claim's
/// completion — go out together: each table request is a round trip the record waits for, and
/// these two do not depend on each other (the id map is written before either). Both still land.
#[tokio::test]
async fn a_jobs_unlock_and_completion_share_one_round_trip() {
    let ends: Arc<std::sync::Mutex<Option<Arc<MeetingEnds>>>> = Default::default();
    let h = Harness::start_with(test_settings(), |mut ports| {
        let meeting = Arc::new(MeetingEnds {
            records: ports.records.clone(),
            idempotency: ports.idempotency.clone(),
            started: tokio::sync::Barrier::new(2),
            met: Default::default(),
        });
        ports.records = meeting.clone();
        ports.idempotency = meeting.clone();
        *ends.lock().unwrap() = Some(meeting);
        ports
    })
    .await;
    let ends = ends.lock().unwrap().clone().expect("ports wrapped");
    let records = h.enqueue(&[hours("j-ends", "te-ends", "1")], 30).await;
    let response = h.handle_and_finish(records).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        ends.met.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "unlock and completion were in flight together"
    );
    assert!(
        h.table
            .lookup(&hour_key("te-ends"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        h.table.claim("j-ends", deadline()).await.unwrap(),
        bridge::ports::Claim::Completed { .. }
    ));
    // The version landed: the record's lock is free and an older event is stale.
    let older = hours("j-ends-older", "te-ends", "3");
    let mut older: serde_json::Value = serde_json::from_str(&older).unwrap();
    older["occurred_at"] = json!("2020-01-01T00:00:00Z");
    let records = h.enqueue(&[older.to_string()], 30).await;
    let response = h.handle_and_finish(records).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        h.calls("UpdateHourEntry").await.len(),
        0,
        "the older event was skipped"
    );
    h.stop().await;
}
