//! Acceptance against Severa's service contract: every inbound job kind (creates, updates after
//! a person edited the record in Severa, deletes) and one run of every sync go through the
//! worker and the scheduler against `severa-sim`, which judges each request by the contract.
//! The simulator's request log must show no unknown operation, no ignored parameter or member,
//! no absent non-nullable parameter and no `Update*` that left a non-nullable member out; and
//! the fields the jobs did not carry keep the values the person gave them.

mod sync_harness;
mod worker_harness;

use serde_json::json;
use severa_sim::admin_client::{contract_violations, request_log};
use severa_sim::fixture::*;
use sync_harness::{SyncHarness, config};
use worker_harness::{dlq_attr, job};

fn all_syncs() -> serde_json::Value {
    config(json!({
        "accounts": {"read": "accounts", "first_run": {"from": "2026-01-01T00:00:00Z"}},
        "cases": {"read": "cases", "first_run": {"from": "2026-01-01T00:00:00Z"}},
        "hours": {"read": "hour_entries", "first_run": {"from": "2026-01-01T00:00:00Z"}},
        "invoices": {
            "read": "invoices",
            "first_run": {"from": "2025-01-01T00:00:00Z"},
            "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred"}
        }
    }))
}

/// Sends the jobs to the harness's queue and lets the worker apply them; none may fail.
async fn apply(h: &SyncHarness, bodies: &[String]) {
    for body in bodies {
        h.sqs
            .send_message()
            .queue_url(&h.queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send job");
    }
    let response = h.drain().await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let dead: Vec<String> = h
        .dlq_messages()
        .await
        .iter()
        .map(|m| format!("{}: {}", dlq_attr(m, "kind"), dlq_attr(m, "error_message")))
        .collect();
    assert!(dead.is_empty(), "dead-lettered: {dead:?}");
}

fn hour_entry_job(job_id: &str, hours: &str, billable: Option<bool>) -> String {
    let mut payload = json!({
        "user": {"code": USER_ALICE_CODE},
        "case": {"number": 1},
        "phase": {"name": "Development"},
        "event_date": "2026-03-02",
        "hours": hours,
        "description": "contract acceptance",
    });
    if let Some(b) = billable {
        payload["billable"] = json!(b);
    }
    job(job_id, "toggl-entry-1", "hour_entry.upsert", payload)
}

fn only<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    member: &str,
    value: &str,
) -> &'a serde_json::Value {
    let mut found = map.values().filter(|r| r[member] == value);
    let first = found
        .next()
        .unwrap_or_else(|| panic!("no record with {member} = {value}"));
    assert!(
        found.next().is_none(),
        "more than one record with {member} = {value}"
    );
    first
}

#[tokio::test]
async fn every_job_kind_and_every_sync_speak_the_contract_and_updates_keep_what_a_person_set() {
    let h = SyncHarness::start(all_syncs()).await;

    // Creates.
    apply(
        &h,
        &[
            job(
                "c-acc",
                "crm-acc-1",
                "account.upsert",
                json!({"name": "Contract Test Oy", "number": 7001, "email": "info@contract.example",
                       "address": {"line1": "Katu 1", "city": "Helsinki", "country_code": "FI"}}),
            ),
            job(
                "c-user",
                "hr-1",
                "user.create",
                json!({"first_name": "Eve", "last_name": "Example", "email": "eve@demo-oy.example",
                       "code": "EE", "business_unit_guid": BUSINESS_UNIT_GUID}),
            ),
            hour_entry_job("c-he", "1.5", Some(false)),
        ],
    )
    .await;
    apply(
        &h,
        &[
            job(
                "c-con",
                "crm-con-1",
                "contact.upsert",
                json!({"account": {"number": 7001}, "first_name": "Ann", "last_name": "Other",
                       "email": "ann@contract.example"}),
            ),
            job(
                "c-case",
                "crm-case-1",
                "case.create",
                json!({"name": "Contract project", "account": {"number": 7001},
                       "owner": {"code": "EE"}, "currency": "EUR"}),
            ),
        ],
    )
    .await;

    // A person edits the records in Severa (read, change, write back whole, as the UI does).
    let entries = h.entities("HourEntry").await;
    let entry_guid = only(&entries, "Description", "contract acceptance")["GUID"]
        .as_str()
        .unwrap()
        .to_string();
    let mut entry = h
        .severa
        .get_hour_entry_by_guid(&entry_guid)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(entry.is_billable, Some(false), "created as the job said");
    entry.is_billable = Some(true);
    entry.invoice_description = Some("Sprint 4".into());
    h.severa
        .update_hour_entry(&entry)
        .await
        .expect("person edits the entry");
    let price_before = h.entities("HourEntry").await[&entry_guid]["UnitPrice"].clone();
    assert_ne!(
        price_before,
        serde_json::Value::Null,
        "priced from the phase"
    );

    let contacts = h.entities("Contact").await;
    let contact_guid = only(&contacts, "FirstName", "Ann")["GUID"]
        .as_str()
        .unwrap()
        .to_string();
    let mut contact = h
        .severa
        .get_contact_by_guid(&contact_guid)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(contact.is_active, Some(true));
    contact.description = Some("VIP".into());
    h.severa
        .update_contact(&contact)
        .await
        .expect("person edits the contact");

    let accounts = h.entities("Account").await;
    let account_guid = only(&accounts, "Name", "Contract Test Oy")["GUID"]
        .as_str()
        .unwrap()
        .to_string();
    let mut account = h
        .severa
        .get_account_by_guid(&account_guid)
        .await
        .unwrap()
        .value
        .unwrap();
    let company_guid = account.company_guid.clone().expect("company");
    let mut company = h
        .severa
        .get_company_by_guid(&company_guid)
        .await
        .unwrap()
        .value
        .unwrap();
    account.payment_term = Some(30);
    company.employees = Some(42);
    h.severa
        .update_account(&account, &company)
        .await
        .expect("person edits the account");

    // Updates from the other software carry only some fields.
    apply(
        &h,
        &[
            hour_entry_job("u-he", "2.5", None),
            job(
                "u-con",
                "crm-con-1",
                "contact.upsert",
                json!({"account": {"number": 7001}, "first_name": "Ann", "last_name": "Other",
                       "job_title": "CTO"}),
            ),
            job(
                "u-acc",
                "crm-acc-1",
                "account.upsert",
                json!({"name": "Contract Test Oy", "number": 7001, "website": "https://contract.example",
                       "address": {"line1": "Katu 2", "city": "Espoo", "country_code": "FI"}}),
            ),
        ],
    )
    .await;

    let entry = &h.entities("HourEntry").await[&entry_guid];
    assert_eq!(entry["Quantity"], "2.5", "the job's change arrived");
    assert_eq!(
        entry["IsBillable"], "true",
        "the person's billable flag kept"
    );
    assert_eq!(entry["UnitPrice"], price_before, "the price is not reset");
    assert_eq!(entry["InvoiceDescription"], "Sprint 4");
    let contact = &h.entities("Contact").await[&contact_guid];
    assert_eq!(contact["JobTitle"], "CTO");
    assert_eq!(
        contact["IsActive"], "true",
        "an update does not deactivate the contact"
    );
    assert_eq!(contact["Description"], "VIP");
    let methods = contact["CommunicationMethods"].to_string();
    assert!(methods.contains("ann@contract.example"), "{methods}");
    let account = &h.entities("Account").await[&account_guid];
    assert_eq!(account["PaymentTerm"], "30");
    assert_eq!(account["IsActive"], "true");
    let company = &h.entities("Company").await[&company_guid];
    assert_eq!(company["Employees"], "42");
    assert_eq!(company["Website"], "https://contract.example");
    let addresses = h.entities("Address").await;
    assert!(
        addresses
            .values()
            .any(|a| a["CompanyGUID"] == company_guid.as_str() && a["City"] == "Espoo"),
        "the address change arrived"
    );

    // Deactivate the user, delete the entry.
    apply(
        &h,
        &[
            job(
                "d-user",
                "hr-1",
                "user.deactivate",
                json!({"user": {"code": "EE"}}),
            ),
            job("d-he", "toggl-entry-1", "hour_entry.delete", json!({})),
        ],
    )
    .await;
    assert!(!h.entities("HourEntry").await.contains_key(&entry_guid));

    // One run of every sync, deliveries and the invoice write-back included.
    for sync in ["accounts", "cases", "hours", "invoices"] {
        let report = h.run(sync).await;
        assert_eq!(
            report.outcome,
            bridge::sync::RunOutcome::Completed,
            "{report:?}"
        );
        assert!(report.records_enqueued > 0, "{sync}: {report:?}");
        let response = h.drain().await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    assert!(h.dlq_messages().await.is_empty());

    let log = request_log(&h.http, &h.sim.admin_url())
        .await
        .expect("request log");
    let violations = contract_violations(&log);
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    // Not vacuous: the log holds the calls the contract fixes were about.
    let sent = |op: &str, param: &str| {
        log.iter()
            .any(|r| r.operation.as_deref() == Some(op) && r.params.get(param).is_some())
    };
    assert!(sent("GetUserByCode", "userCode"));
    assert!(sent("GetHourEntriesChangedSince", "startDate"));
    assert!(sent("GetInvoicesByDate", "endDate"));
    assert!(sent("UpdateHourEntry", "hourEntryInfo"));
    assert!(sent("UpdateAccount", "companyInfo"));
    assert!(sent("UpdateContact", "contactInfo"));
    assert!(sent("SetInvoiceStatus", "status"));
    h.stop().await;
}
