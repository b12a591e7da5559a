//! Reconciliation end to end (issue 13): what changed-since feeds never show, deletions and
//! edits that keep the timestamp, found by reading a window of `severa-sim` and comparing it
//! with the ledger; the events reach a local receiver through moto queues and the worker.

mod sync_harness;
mod worker_harness;

use bridge::sync::RunOutcome;
use bridge::sync::reconcile::{Drift, ReconcileRequest};
use chrono::NaiveDate;
use serde_json::json;
use severa_sim::fixture::{ACCOUNT_KALLIO_GUID, ACCOUNT_NORDIC_GUID, INVOICE_1001_GUID};
use sync_harness::{Received, SyncHarness, config};

/// Hour entries from 10:00 on the harness's first day (2026-03-02), reconciled over a week.
fn hours_sync() -> serde_json::Value {
    config(json!({"hours": {
        "read": "hour_entries",
        "batch_size": 50,
        "first_run": {"from": "2026-03-02T10:00:00Z"},
        "reconcile": {"schedule": "rate(1 day)", "window_days": 7, "page_days": 7}
    }}))
}

fn today() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2026, 3, 2)
}

fn of_type<'a>(got: &'a [Received], kind: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.json()["type"] == kind).collect()
}

/// Three entries sent by the scheduled sync and delivered; returns their GUIDs, sorted.
async fn three_sent(h: &SyncHarness) -> Vec<String> {
    let mut guids = h.add_hour_entries(3, 20).await;
    guids.sort();
    let run = h.run("hours").await;
    assert_eq!(run.records_enqueued, 3, "{run:?}");
    h.drain().await;
    assert_eq!(h.receiver.accepted_guids(), guids);
    guids
}

#[tokio::test]
async fn the_ledger_holds_guid_digest_and_date_of_what_a_sync_sent() {
    let h = SyncHarness::start(hours_sync()).await;
    let guids = three_sent(&h).await;
    let ledger = h.ledger("hours", today()).await;
    let in_ledger: Vec<String> = ledger.iter().map(|e| e.guid.clone()).collect();
    assert_eq!(in_ledger, guids);
    assert!(
        ledger
            .iter()
            .all(|e| e.date == today() && e.digest.len() == 16)
    );
    // Other dates and undated records: nothing.
    assert!(
        h.ledger("hours", NaiveDate::from_ymd_opt(2026, 3, 1))
            .await
            .is_empty()
    );
    assert!(h.ledger("hours", None).await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn an_entry_deleted_in_severa_is_one_deleted_event_then_none() {
    let h = SyncHarness::start(hours_sync()).await;
    let guids = three_sent(&h).await;
    let before = h.receiver.accepted().len();
    let gone = guids[1].clone();
    h.advance(3600).await;
    h.ui_delete("HourEntry", &gone).await;

    // The changed-since sync cannot see it.
    assert_eq!(h.run("hours").await.records_enqueued, 0);

    let first = h.reconcile("hours", &ReconcileRequest::default()).await;
    assert_eq!(first.run.outcome, RunOutcome::Completed, "{first:?}");
    let progress = first.progress.clone().expect("progress");
    assert_eq!(
        progress.drift,
        Drift {
            in_severa: 2,
            unchanged: 2,
            deleted: 1,
            ..Drift::default()
        }
    );
    h.drain().await;
    let got = h.receiver.accepted();
    let deleted = of_type(&got, "severa.hour_entry.deleted");
    assert_eq!(deleted.len(), 1, "exactly one deleted event");
    assert_eq!(deleted[0].guids(), vec![gone.clone()]);
    assert_eq!(
        deleted[0].json()["data"]["records"][0]["EventDate"],
        "2026-03-02"
    );
    assert_eq!(got.len(), before + 1, "nothing else was sent");
    assert!(
        !h.ledger("hours", today())
            .await
            .iter()
            .any(|e| e.guid == gone)
    );
    let drift = h.metric_lines("ReconcileDrift");
    assert_eq!(
        drift.last().and_then(|m| m["ReconcileDrift"].as_f64()),
        Some(1.0)
    );

    // The next reconciliation: nothing.
    h.advance(86_400).await;
    let second = h.reconcile("hours", &ReconcileRequest::default()).await;
    assert_eq!(second.run.outcome, RunOutcome::Completed);
    assert_eq!(second.progress.expect("progress").drift.deleted, 0);
    h.drain().await;
    assert_eq!(
        h.receiver.accepted().len(),
        before + 1,
        "no second deleted event"
    );
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_silent_edit_is_one_updated_event() {
    let h = SyncHarness::start(hours_sync()).await;
    let guids = three_sent(&h).await;
    let before = h.receiver.accepted().len();
    let edited = guids[0].clone();
    // A later run moves the cursor past the entries' minute (no overlap re-read).
    h.advance(3600).await;
    assert_eq!(h.run("hours").await.records_enqueued, 0);
    h.advance(60).await;
    h.ui_edit(
        "HourEntry",
        &edited,
        json!({"Description": "corrected by the manager"}),
        true,
    )
    .await;

    // The timestamp did not move: the changed-since sync sends nothing.
    h.advance(3600).await;
    assert_eq!(h.run("hours").await.records_enqueued, 0);

    let first = h.reconcile("hours", &ReconcileRequest::default()).await;
    let drift = first.progress.expect("progress").drift;
    assert_eq!(
        (drift.changed, drift.deleted, drift.never_sent),
        (1, 0, 0),
        "{drift:?}"
    );
    h.drain().await;
    let got = h.receiver.accepted();
    let updated = of_type(&got, "severa.hour_entry.updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].guids(), vec![edited.clone()]);
    assert_eq!(
        updated[0].json()["data"]["records"][0]["Description"],
        "corrected by the manager"
    );
    assert_eq!(got.len(), before + 1);

    // Sent once: neither the next reconciliation nor the sync sends it again.
    h.advance(86_400).await;
    let second = h.reconcile("hours", &ReconcileRequest::default()).await;
    assert_eq!(second.progress.expect("progress").drift.changed, 0);
    assert_eq!(h.run("hours").await.records_enqueued, 0);
    h.drain().await;
    assert_eq!(h.receiver.accepted().len(), before + 1);
    h.stop().await;
}

#[tokio::test]
async fn a_dry_run_sends_nothing_and_writes_nothing() {
    let h = SyncHarness::start(hours_sync()).await;
    let guids = three_sent(&h).await;
    let before = h.receiver.received().len();
    h.advance(3600).await;
    h.ui_delete("HourEntry", &guids[0]).await;
    h.ui_edit("HourEntry", &guids[1], json!({"Quantity": 3}), true)
        .await;
    let created = h
        .ui_create(
            "HourEntry",
            &[
                json!({"UserGUID": severa_sim::fixture::USER_BOB_GUID, "EventDate": "2026-03-01",
                "Quantity": 1, "Description": "typed in the UI"}),
            ],
        )
        .await;
    let ledger_before = h.ledger("hours", today()).await;

    let dry = h
        .reconcile(
            "hours",
            &ReconcileRequest {
                dry_run: true,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(dry.run.outcome, RunOutcome::Completed, "{dry:?}");
    assert!(dry.dry_run);
    let drift = dry.progress.expect("progress").drift;
    assert_eq!(
        (
            drift.in_severa,
            drift.unchanged,
            drift.changed,
            drift.deleted,
            drift.never_sent
        ),
        (3, 1, 1, 1, 1),
        "{drift:?}"
    );
    assert_eq!(dry.run.jobs_enqueued, 0);
    assert!(h.take_jobs(1).await.is_empty(), "nothing on the queue");
    assert_eq!(h.receiver.received().len(), before, "nothing delivered");
    assert_eq!(
        h.ledger("hours", today()).await,
        ledger_before,
        "ledger untouched"
    );
    assert!(
        h.metric_lines("ReconcileDrift").is_empty(),
        "no drift metric"
    );

    // The real run finds the same three and sends one event of each type.
    let real = h.reconcile("hours", &ReconcileRequest::default()).await;
    assert_eq!(real.progress.expect("progress").drift, drift);
    h.drain().await;
    let got = h.receiver.accepted();
    assert_eq!(
        of_type(&got, "severa.hour_entry.deleted")[0].guids(),
        vec![guids[0].clone()]
    );
    assert_eq!(
        of_type(&got, "severa.hour_entry.updated")[0].guids(),
        vec![guids[1].clone()]
    );
    assert_eq!(
        of_type(&got, "severa.hour_entry.created")[0].guids(),
        created
    );
    assert_eq!(got.len(), before + 3);
    h.stop().await;
}

#[tokio::test]
async fn five_thousand_entries_are_reconciled_within_the_quota_across_invocations() {
    let sync = config(json!({"hours": {
        "read": "hour_entries",
        "batch_size": 100,
        "first_run": {"from": "now"},
        "reconcile": {"schedule": "rate(1 day)", "window_days": 39, "page_days": 7}
    }}));
    let h = SyncHarness::start(sync).await;
    // 125 entries a day over the 40 days of the window (2026-01-22 ..= 2026-03-02), never sent.
    let first_day = NaiveDate::from_ymd_opt(2026, 1, 22).expect("date");
    let records: Vec<serde_json::Value> = (0..5000)
        .map(|i| {
            let date = first_day + chrono::TimeDelta::days(i / 125);
            json!({"UserGUID": severa_sim::fixture::USER_BOB_GUID, "EventDate": date.to_string(),
                "Quantity": 1, "Description": format!("entry {i}")})
        })
        .collect();
    let mut created = h.ui_create("HourEntry", &records).await;
    created.sort();

    // 6 pages + the schema check do not fit in what is left of the quota share: deferred,
    // before reading anything.
    h.post("quota", json!({"limit": 100, "used": 75})).await;
    let deferred = h.reconcile("hours", &ReconcileRequest::default()).await;
    assert_eq!(deferred.run.outcome, RunOutcome::Deferred, "{deferred:?}");
    assert_eq!(deferred.estimated_calls, 7);
    assert!(
        deferred.run.message.contains("about 7 Severa call(s)"),
        "{deferred:?}"
    );
    assert!(h.calls("GetHourEntriesByDate").await.is_empty());

    // A fresh day's quota: the run goes, two pages per invocation, resuming where it stopped.
    h.post("quota", json!({"limit": 100, "used": 0})).await;
    let two_pages = ReconcileRequest {
        max_pages: Some(2),
        ..Default::default()
    };
    let mut invocations = Vec::new();
    loop {
        let report = h.reconcile("hours", &two_pages).await;
        let progress = report.progress.clone().expect("progress");
        invocations.push((report.run.outcome, progress.pages_done));
        let stored = bridge::ports::SyncLedger::reconcile_progress(&h.table, "hours")
            .await
            .expect("progress item");
        if report.run.outcome == RunOutcome::Completed {
            assert!(stored.is_none(), "a finished run leaves no position");
            assert_eq!(progress.invocations, 3);
            assert_eq!(
                progress.drift,
                Drift {
                    in_severa: 5000,
                    never_sent: 5000,
                    ..Drift::default()
                }
            );
            break;
        }
        assert!(
            stored.is_some_and(|s| s.contains("\"pages_done\"")),
            "position saved"
        );
        assert!(invocations.len() < 5, "{invocations:?}");
    }
    assert_eq!(
        invocations,
        vec![
            (RunOutcome::InProgress, 2),
            (RunOutcome::InProgress, 4),
            (RunOutcome::Completed, 6)
        ]
    );
    // One call per page, one schema check per invocation: within the 80 % share.
    assert_eq!(h.calls("GetHourEntriesByDate").await.len(), 6);
    let quota = h.admin(reqwest::Method::GET, "quota", None).await;
    assert!(quota["used"].as_u64().is_some_and(|u| u <= 80), "{quota}");

    h.drain().await;
    let got = h.receiver.accepted();
    assert!(
        got.iter()
            .all(|r| r.json()["type"] == "severa.hour_entry.created")
    );
    assert_eq!(
        h.receiver.accepted_guids(),
        created,
        "every entry exactly once"
    );

    // Everything is in the ledger now: the next run finds nothing to send.
    h.advance(3600).await;
    let again = h
        .reconcile(
            "hours",
            &ReconcileRequest {
                to: today(),
                ..Default::default()
            },
        )
        .await;
    let drift = again.progress.expect("progress").drift;
    assert_eq!((drift.unchanged, drift.total()), (5000, 0), "{drift:?}");
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// accounts: read whole (GetAccountsChangedSince from 2000), undated in the ledger

fn accounts_sync(first_run: &str) -> serde_json::Value {
    config(json!({"accounts": {
        "read": "accounts",
        "first_run": {"from": first_run},
        "reconcile": {"schedule": "rate(7 days)"}
    }}))
}

/// Every account of the simulator, sent by the scheduled sync and delivered; returns their
/// GUIDs, sorted.
async fn accounts_sent(h: &SyncHarness) -> Vec<String> {
    let mut guids: Vec<String> = h.entities("Account").await.keys().cloned().collect();
    guids.sort();
    assert!(guids.len() >= 3, "{guids:?}");
    let run = h.run("accounts").await;
    assert_eq!(run.records_enqueued, guids.len(), "{run:?}");
    h.drain().await;
    assert_eq!(h.receiver.accepted_guids(), guids);
    let in_ledger: Vec<String> = h
        .ledger("accounts", None)
        .await
        .into_iter()
        .map(|e| e.guid)
        .collect();
    assert_eq!(in_ledger, guids, "undated ledger entries");
    guids
}

#[tokio::test]
async fn an_account_deleted_in_severa_is_one_deleted_event_then_none() {
    let h = SyncHarness::start(accounts_sync("2026-01-01T00:00:00Z")).await;
    let guids = accounts_sent(&h).await;
    let before = h.receiver.accepted().len();
    h.advance(3600).await;
    h.ui_delete("Account", ACCOUNT_KALLIO_GUID).await;

    // The changed-since sync cannot see a deletion.
    h.advance(3600).await;
    assert_eq!(h.run("accounts").await.records_enqueued, 0);

    let first = h.reconcile("accounts", &ReconcileRequest::default()).await;
    assert_eq!(first.run.outcome, RunOutcome::Completed, "{first:?}");
    let progress = first.progress.clone().expect("progress");
    assert_eq!((progress.from, progress.to), (None, None), "read whole");
    assert_eq!(
        progress.drift,
        Drift {
            in_severa: guids.len() - 1,
            unchanged: guids.len() - 1,
            deleted: 1,
            ..Drift::default()
        }
    );
    h.drain().await;
    let got = h.receiver.accepted();
    let deleted = of_type(&got, "severa.account.deleted");
    assert_eq!(deleted.len(), 1, "exactly one deleted event");
    assert_eq!(
        deleted[0].json()["data"]["records"],
        json!([{"GUID": ACCOUNT_KALLIO_GUID}]),
        "an undated stub: the GUID only"
    );
    assert_eq!(got.len(), before + 1, "nothing else was sent");
    assert!(
        !h.ledger("accounts", None)
            .await
            .iter()
            .any(|e| e.guid == ACCOUNT_KALLIO_GUID),
        "the deleted account left the ledger"
    );

    // The next reconciliation: nothing.
    h.advance(7 * 86_400).await;
    let second = h.reconcile("accounts", &ReconcileRequest::default()).await;
    assert_eq!(second.run.outcome, RunOutcome::Completed);
    let drift = second.progress.expect("progress").drift;
    assert_eq!((drift.deleted, drift.total()), (0, 0), "{drift:?}");
    h.drain().await;
    assert_eq!(
        h.receiver.accepted().len(),
        before + 1,
        "no second deleted event"
    );
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn each_silent_account_edit_is_one_updated_event() {
    let h = SyncHarness::start(accounts_sync("2026-01-01T00:00:00Z")).await;
    accounts_sent(&h).await;
    let before = h.receiver.accepted().len();
    let sent = h
        .receiver
        .accepted()
        .iter()
        .map(|r| r.json()["data"]["records"][0].clone())
        .find(|r| r["GUID"] == ACCOUNT_NORDIC_GUID)
        .expect("the account was sent");

    // Severa keeps UpdatedTS on this kind of edit (custom fields, market segment).
    h.advance(3600).await;
    h.ui_edit(
        "Account",
        ACCOUNT_NORDIC_GUID,
        json!({"Name": "Nordic Retail Oyj"}),
        true,
    )
    .await;
    h.advance(3600).await;
    assert_eq!(
        h.run("accounts").await.records_enqueued,
        0,
        "changed-since cannot see it"
    );

    let first = h.reconcile("accounts", &ReconcileRequest::default()).await;
    let drift = first.progress.expect("progress").drift;
    assert_eq!(
        (drift.changed, drift.deleted, drift.never_sent),
        (1, 0, 0),
        "{drift:?}"
    );
    h.drain().await;
    let got = h.receiver.accepted();
    let updated = of_type(&got, "severa.account.updated");
    assert_eq!(updated.len(), 1);
    let record = &updated[0].json()["data"]["records"][0];
    assert_eq!(record["GUID"], ACCOUNT_NORDIC_GUID);
    assert_eq!(record["Name"], "Nordic Retail Oyj");
    assert_eq!(
        record["UpdatedTS"], sent["UpdatedTS"],
        "the timestamp did not move"
    );
    assert_eq!(got.len(), before + 1);

    // Nothing new: the next reconciliation sends nothing.
    h.advance(86_400).await;
    let second = h.reconcile("accounts", &ReconcileRequest::default()).await;
    assert_eq!(second.progress.expect("progress").drift.total(), 0);
    h.drain().await;
    assert_eq!(h.receiver.accepted().len(), before + 1);

    // A second silent edit keeps the same UpdatedTS again: it is a new version all the same,
    // one more updated event with its own webhook-id.
    h.ui_edit(
        "Account",
        ACCOUNT_NORDIC_GUID,
        json!({"Name": "Nordic Retail Group Oyj"}),
        true,
    )
    .await;
    h.advance(86_400).await;
    let third = h.reconcile("accounts", &ReconcileRequest::default()).await;
    assert_eq!(third.progress.expect("progress").drift.changed, 1);
    h.drain().await;
    let got = h.receiver.accepted();
    let updated = of_type(&got, "severa.account.updated");
    assert_eq!(updated.len(), 2, "the second edit reached the target");
    assert_eq!(
        updated[1].json()["data"]["records"][0]["Name"],
        "Nordic Retail Group Oyj"
    );
    assert_eq!(
        updated[1].json()["data"]["records"][0]["UpdatedTS"],
        sent["UpdatedTS"]
    );
    assert_ne!(updated[0].webhook_id(), updated[1].webhook_id());
    assert_eq!(got.len(), before + 2);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn accounts_never_sent_arrive_once_as_created() {
    // From now: the accounts that existed before the first run were never sent.
    let h = SyncHarness::start(accounts_sync("now")).await;
    assert_eq!(h.run("accounts").await.records_enqueued, 0);
    h.advance(600).await;
    let typed = h
        .ui_create(
            "Account",
            &[json!({"Name": "Typed in the UI Oy", "IsActive": true})],
        )
        .await;
    let mut all: Vec<String> = h.entities("Account").await.keys().cloned().collect();
    all.sort();
    assert!(all.contains(&typed[0]));

    // Before the next scheduled run: every account is never sent.
    let first = h.reconcile("accounts", &ReconcileRequest::default()).await;
    assert_eq!(
        first.progress.expect("progress").drift,
        Drift {
            in_severa: all.len(),
            never_sent: all.len(),
            ..Drift::default()
        }
    );
    h.drain().await;
    let got = h.receiver.accepted();
    assert_eq!(of_type(&got, "severa.account.created").len(), all.len());
    assert_eq!(got.len(), all.len(), "one created event per account");
    assert_eq!(h.receiver.accepted_guids(), all);

    // The scheduled sync reads the new account (changed since its cursor) but does not send it
    // again, and the next reconciliation finds nothing.
    h.advance(3600).await;
    let run = h.run("accounts").await;
    assert_eq!(
        (run.records_enqueued, run.records_already_enqueued),
        (0, 1),
        "{run:?}"
    );
    let again = h.reconcile("accounts", &ReconcileRequest::default()).await;
    let drift = again.progress.expect("progress").drift;
    assert_eq!(
        (drift.unchanged, drift.total()),
        (all.len(), 0),
        "{drift:?}"
    );
    h.drain().await;
    assert_eq!(h.receiver.accepted().len(), all.len());
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// invoices: read by date (GetInvoicesByDate), dated by `Date`; the sync sends those in status
// Sent and writes Transferred back

fn invoices_sync() -> serde_json::Value {
    config(json!({"invoices": {
        "read": "invoices",
        "first_run": {"from": "2025-01-01T00:00:00Z"},
        "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred"},
        "reconcile": {"schedule": "rate(1 day)", "window_days": 90, "page_days": 31}
    }}))
}

fn invoice_date() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2026, 1, 31)
}

/// Invoice 1001 (Sent, dated 2026-01-31) sent by the scheduled sync, delivered and marked
/// Transferred; returns the record as delivered.
async fn invoice_sent(h: &SyncHarness) -> serde_json::Value {
    let run = h.run("invoices").await;
    assert_eq!(run.records_enqueued, 1, "{run:?}");
    h.drain().await;
    let got = h.receiver.accepted();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "severa.invoice");
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Transferred");
    let ledger = h.ledger("invoices", invoice_date()).await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].guid, INVOICE_1001_GUID);
    got[0].json()["data"]["records"][0].clone()
}

#[tokio::test]
async fn an_invoice_deleted_in_severa_is_one_deleted_event_then_none() {
    let h = SyncHarness::start(invoices_sync()).await;
    invoice_sent(&h).await;
    h.advance(3600).await;
    h.ui_delete("Invoice", INVOICE_1001_GUID).await;
    assert_eq!(h.run("invoices").await.records_enqueued, 0);

    let first = h.reconcile("invoices", &ReconcileRequest::default()).await;
    assert_eq!(first.run.outcome, RunOutcome::Completed, "{first:?}");
    let progress = first.progress.clone().expect("progress");
    assert_eq!(
        (progress.from, progress.to, progress.pages_total),
        (NaiveDate::from_ymd_opt(2025, 12, 2), today(), 3)
    );
    // In the window: the Draft invoice and the Paid one of the other business unit, which the
    // sync would not send (not "never sent").
    assert_eq!(
        progress.drift,
        Drift {
            in_severa: 2,
            deleted: 1,
            ..Drift::default()
        }
    );
    assert_eq!(
        h.calls("GetInvoiceByGUID").await.len(),
        1,
        "confirmed by GUID"
    );
    h.drain().await;
    let got = h.receiver.accepted();
    let deleted = of_type(&got, "severa.invoice.deleted");
    assert_eq!(deleted.len(), 1, "exactly one deleted event");
    assert_eq!(
        deleted[0].json()["data"]["records"],
        json!([{"GUID": INVOICE_1001_GUID, "Date": "2026-01-31"}])
    );
    assert_eq!(got.len(), 2, "nothing else was sent");
    assert_eq!(
        h.calls("SetInvoiceStatus").await.len(),
        1,
        "a deleted event writes nothing back"
    );
    assert!(h.ledger("invoices", invoice_date()).await.is_empty());

    h.advance(86_400).await;
    let second = h.reconcile("invoices", &ReconcileRequest::default()).await;
    assert_eq!(second.progress.expect("progress").drift.total(), 0);
    h.drain().await;
    assert_eq!(h.receiver.accepted().len(), 2, "no second deleted event");
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_silent_invoice_edit_is_one_updated_event() {
    let h = SyncHarness::start(invoices_sync()).await;
    let sent = invoice_sent(&h).await;
    h.advance(3600).await;
    // Re-dated payment terms on an invoice already in accounting: the sync no longer reads it
    // (Transferred), so only a reconciliation can see the edit.
    h.ui_edit(
        "Invoice",
        INVOICE_1001_GUID,
        json!({"DueDate": "2026-03-31", "PaymentTerm": 59}),
        true,
    )
    .await;
    assert_eq!(h.run("invoices").await.records_enqueued, 0);

    let first = h.reconcile("invoices", &ReconcileRequest::default()).await;
    let drift = first.progress.expect("progress").drift;
    assert_eq!(
        (
            drift.unchanged,
            drift.changed,
            drift.deleted,
            drift.never_sent
        ),
        (0, 1, 0, 0),
        "{drift:?}"
    );
    h.drain().await;
    let got = h.receiver.accepted();
    let updated = of_type(&got, "severa.invoice.updated");
    assert_eq!(updated.len(), 1);
    let record = &updated[0].json()["data"]["records"][0];
    assert_eq!(record["GUID"], INVOICE_1001_GUID);
    assert_ne!(record["DueDate"], sent["DueDate"]);
    assert!(
        record["DueDate"]
            .as_str()
            .is_some_and(|d| d.starts_with("2026-03-31")),
        "{record}"
    );
    assert_eq!(record["PaymentTerm"], 59);
    assert_eq!(
        record["InvoiceRows"], sent["InvoiceRows"],
        "the whole invoice"
    );
    assert_eq!(got.len(), 2);
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Transferred");
    assert_eq!(h.calls("SetInvoiceStatus").await.len(), 1);

    h.advance(86_400).await;
    let second = h.reconcile("invoices", &ReconcileRequest::default()).await;
    let drift = second.progress.expect("progress").drift;
    assert_eq!((drift.unchanged, drift.total()), (1, 0), "{drift:?}");
    h.drain().await;
    assert_eq!(h.receiver.accepted().len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn a_sent_invoice_never_sent_is_created_once_and_marked_transferred() {
    let h = SyncHarness::start(invoices_sync()).await;
    invoice_sent(&h).await;
    h.advance(3600).await;
    // Sent in Severa after the scheduled run; the reconciliation comes first.
    let mut invoice = h.entities("Invoice").await[INVOICE_1001_GUID].clone();
    let object = invoice.as_object_mut().expect("an invoice object");
    object.remove("GUID");
    object.remove("InvoiceRows");
    invoice["Number"] = json!(1003);
    invoice["Date"] = json!("2026-02-20");
    invoice["InvoiceStatus"] = json!("Sent");
    let created = h.ui_create("Invoice", &[invoice]).await;

    let first = h.reconcile("invoices", &ReconcileRequest::default()).await;
    let drift = first.progress.expect("progress").drift;
    assert_eq!(
        (drift.unchanged, drift.never_sent, drift.total()),
        (1, 1, 1),
        "{drift:?}"
    );
    h.drain().await;
    let got = h.receiver.accepted();
    let events = of_type(&got, "severa.invoice.created");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].guids(), created);
    assert_eq!(events[0].json()["data"]["records"][0]["Number"], 1003);
    // Delivered the way the sync delivers invoices: marked Transferred in Severa.
    assert_eq!(h.invoice_status(&created[0]).await, "Transferred");
    assert_eq!(got.len(), 2);

    // Neither the scheduled sync nor the next reconciliation sends it again, even once the
    // enqueued markers (35 days) have expired.
    h.advance(3600).await;
    assert_eq!(h.run("invoices").await.records_enqueued, 0);
    h.advance(36 * 86_400).await;
    assert_eq!(h.run("invoices").await.records_enqueued, 0);
    let again = h
        .reconcile(
            "invoices",
            &ReconcileRequest {
                from: NaiveDate::from_ymd_opt(2026, 1, 1),
                to: today(),
                ..Default::default()
            },
        )
        .await;
    let drift = again.progress.expect("progress").drift;
    assert_eq!((drift.unchanged, drift.total()), (2, 0), "{drift:?}");
    h.drain().await;
    assert_eq!(h.receiver.accepted().len(), 2, "the invoice arrived once");
    h.stop().await;
}
