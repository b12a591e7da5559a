//! Scheduled syncs end to end: the scheduler reads `severa-sim`, enqueues outbound jobs on a moto
//! queue, the worker POSTs them to a local receiver (the other software) and writes invoice
//! statuses back. Time is the simulator's frozen clock, moved by the tests.

mod sync_harness;
mod worker_harness;

use bridge::ports::{Lease, SyncStore};
use bridge::sync::RunOutcome;
use bridge::verify::standard_webhooks;
use serde_json::json;
use severa_sim::fixture::*;
use std::time::Duration;
use sync_harness::{SyncHarness, config, signing_secret};
use worker_harness::{dlq_attr, failed_ids, id_of, redelivered, test_settings};

fn accounts_sync(first_run: &str) -> serde_json::Value {
    config(json!({"accounts": {"read": "accounts", "first_run": {"from": first_run}}}))
}

fn invoices_sync() -> serde_json::Value {
    config(json!({"invoices": {
        "read": "invoices",
        "first_run": {"from": "2025-01-01T00:00:00Z"},
        "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred"}
    }}))
}

#[tokio::test]
async fn first_run_backfills_then_nothing_then_a_changed_account_once() {
    let h = SyncHarness::start(accounts_sync("2026-01-01T00:00:00Z")).await;
    let accounts = h.entities("Account").await.len();
    assert!(accounts >= 3);

    let first = h.run("accounts").await;
    assert_eq!(first.outcome, RunOutcome::Completed, "{first:?}");
    assert_eq!(first.records_enqueued, accounts);
    assert_eq!(h.cursor("accounts").await, Some(h.now()));
    let response = h.drain().await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let got = h.receiver.accepted();
    assert_eq!(got.len(), accounts, "one delivery per account");
    let mut guids = h.receiver.accepted_guids();
    guids.dedup();
    assert_eq!(guids.len(), accounts);
    // Signed the Standard Webhooks way, verifiable with the target's secret.
    for delivery in &got {
        standard_webhooks::verify(
            &delivery.headers,
            &delivery.body,
            &signing_secret(),
            chrono::Utc::now(),
            standard_webhooks::DEFAULT_TOLERANCE,
        )
        .expect("signature verifies");
        assert_eq!(delivery.json()["type"], "severa.account");
        assert_eq!(delivery.json()["data"]["sync"], "accounts");
    }

    // Nothing changed in Severa: nothing is sent.
    h.advance(3600).await;
    let second = h.run("accounts").await;
    assert_eq!(second.outcome, RunOutcome::Completed);
    assert_eq!(second.records_enqueued, 0, "{second:?}");
    assert!(h.take_jobs(1).await.is_empty());
    assert_eq!(h.cursor("accounts").await, Some(h.now()));

    // One account changes: it is sent once, with the change.
    h.advance(600).await;
    h.rename_account(ACCOUNT_NORDIC_GUID, "Nordic Retail Group Oy")
        .await;
    h.advance(3600).await;
    let third = h.run("accounts").await;
    assert_eq!(third.records_enqueued, 1, "{third:?}");
    h.drain().await;
    let got = h.receiver.accepted();
    assert_eq!(got.len(), accounts + 1);
    let last = got.last().unwrap().json();
    assert_eq!(last["data"]["records"][0]["GUID"], ACCOUNT_NORDIC_GUID);
    assert_eq!(last["data"]["records"][0]["Name"], "Nordic Retail Group Oy");

    h.advance(3600).await;
    assert_eq!(h.run("accounts").await.records_enqueued, 0);
    h.drain().await;
    assert_eq!(h.receiver.accepted().len(), accounts + 1);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_change_in_the_cursor_minute_is_not_lost_and_not_sent_twice() {
    let h = SyncHarness::start(accounts_sync("now")).await;
    // 10:00:30: the first run starts from now and sends nothing.
    let first = h.run("accounts").await;
    assert_eq!(first.records_enqueued, 0);
    assert_eq!(h.cursor("accounts").await, Some(h.now()));

    // A change stamped 10:00:25 (Severa's clock a little behind, or committed late) and one at
    // 10:00:45: both in the cursor's minute.
    h.advance(-5).await;
    h.rename_account(ACCOUNT_NORDIC_GUID, "Nordic (late)").await;
    h.advance(20).await;
    h.rename_account(ACCOUNT_BLUEWAVE_GUID, "Bluewave (after)")
        .await;

    // 10:00:50: changed since 09:59:30 → both.
    h.advance(5).await;
    let second = h.run("accounts").await;
    assert_eq!(second.records_enqueued, 2, "{second:?}");
    // 10:01:20: reads from 10:00:20 (minute 10:00) again → both again, both already enqueued.
    h.advance(30).await;
    let third = h.run("accounts").await;
    assert_eq!(third.records_enqueued, 0, "{third:?}");
    assert_eq!(third.records_already_enqueued, 2, "{third:?}");

    h.drain().await;
    assert_eq!(
        h.receiver.accepted_guids(),
        vec![
            ACCOUNT_BLUEWAVE_GUID.to_string(),
            ACCOUNT_NORDIC_GUID.to_string()
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn an_invoice_is_delivered_once_with_rows_and_marked_transferred() {
    let h = SyncHarness::start(invoices_sync()).await;
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Sent");

    let report = h.run("invoices").await;
    assert_eq!(
        report.records_enqueued, 1,
        "only the Sent invoice: {report:?}"
    );
    h.drain().await;
    let got = h.receiver.accepted();
    assert_eq!(got.len(), 1);
    let invoice = &got[0].json()["data"]["records"][0];
    assert_eq!(invoice["GUID"], INVOICE_1001_GUID);
    assert_eq!(invoice["InvoiceRows"].as_array().map(Vec::len), Some(2));
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Transferred");
    assert_eq!(h.calls("SetInvoiceStatus").await.len(), 1);

    // The next run does not send it again: it is no longer Sent.
    h.advance(86_400).await;
    assert_eq!(h.run("invoices").await.records_enqueued, 0);
    h.drain().await;
    assert_eq!(h.receiver.received().len(), 1);
    assert_eq!(h.invoice_status(INVOICE_1002_GUID).await, "Draft");
    h.stop().await;
}

#[tokio::test]
async fn target_down_retries_with_backoff_then_dead_letters_with_the_reason() {
    let h = SyncHarness::start(invoices_sync()).await;
    h.receiver.always(Some(503));
    assert_eq!(h.run("invoices").await.records_enqueued, 1);
    let records = h.take_jobs(60).await;
    assert_eq!(records.len(), 1);
    let max_attempts = test_settings().max_attempts;

    let mut delivery = records[0].clone();
    for attempt in 1..=max_attempts {
        let response = h.handle(vec![delivery.clone()]).await;
        if attempt < max_attempts {
            assert_eq!(
                failed_ids(&response),
                vec![id_of(&delivery)],
                "attempt {attempt} is retried"
            );
            // The back-off hid the message: it is not handed out again at once.
            assert!(
                h.take_jobs(1).await.is_empty(),
                "attempt {attempt}: backed off"
            );
        } else {
            assert!(
                response.batch_item_failures.is_empty(),
                "the last attempt settles"
            );
        }
        delivery = redelivered(&delivery);
    }
    let posts = h.receiver.received();
    assert_eq!(posts.len() as u32, max_attempts);
    let ids: std::collections::BTreeSet<String> = posts.iter().map(|p| p.webhook_id()).collect();
    assert_eq!(ids.len(), 1, "webhook-id is stable across retries");
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Sent");
    assert!(h.calls("SetInvoiceStatus").await.is_empty());

    let dlq = h.dlq_messages().await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq_attr(&dlq[0], "error_type"), "Delivery.HTTP503");
    assert!(dlq_attr(&dlq[0], "error_message").contains("503"));
    assert!(
        dlq_attr(&dlq[0], "retries_exhausted")
            .starts_with(&format!("gave up after {max_attempts} attempts over ")),
        "{}",
        dlq_attr(&dlq[0], "retries_exhausted")
    );
    assert_eq!(dlq_attr(&dlq[0], "kind"), "outbound.deliver");
    h.stop().await;
}

#[tokio::test]
async fn a_recovering_target_gets_the_invoice_once_and_the_status_is_set_once() {
    let h = SyncHarness::start(invoices_sync()).await;
    h.receiver.fail_next(503, 1);
    h.receiver.fail_next(429, 1);
    assert_eq!(h.run("invoices").await.records_enqueued, 1);
    let records = h.take_jobs(60).await;
    let mut delivery = records[0].clone();
    let mut failures = 0;
    for _ in 0..5 {
        let response = h.handle(vec![delivery.clone()]).await;
        if response.batch_item_failures.is_empty() {
            break;
        }
        failures += 1;
        delivery = redelivered(&delivery);
    }
    assert_eq!(failures, 2);
    assert_eq!(h.receiver.accepted().len(), 1);
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Transferred");
    assert_eq!(h.calls("SetInvoiceStatus").await.len(), 1);

    // Delivered again (a lost delete): a duplicate, nothing sent, nothing written.
    let response = h.handle(vec![redelivered(&delivery)]).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(h.receiver.received().len(), 3);
    assert_eq!(h.calls("SetInvoiceStatus").await.len(), 1);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_failed_write_back_is_retried_without_sending_the_invoice_again() {
    let h = SyncHarness::start(invoices_sync()).await;
    h.post(
        "faults",
        json!({"operation": "SetInvoiceStatus", "kind": "http503", "times": 1}),
    )
    .await;
    assert_eq!(h.run("invoices").await.records_enqueued, 1);
    let records = h.take_jobs(60).await;
    let first = h.handle(records.clone()).await;
    assert_eq!(failed_ids(&first), vec![id_of(&records[0])]);
    assert_eq!(h.receiver.accepted().len(), 1);
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Sent");

    let second = h.handle(vec![redelivered(&records[0])]).await;
    assert!(second.batch_item_failures.is_empty(), "{second:?}");
    assert_eq!(
        h.receiver.received().len(),
        1,
        "the invoice is not POSTed again"
    );
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Transferred");
    h.stop().await;
}

#[tokio::test]
async fn two_concurrent_runs_of_one_sync_one_works_the_other_says_why() {
    let h = SyncHarness::start(accounts_sync("2026-01-01T00:00:00Z")).await;
    // The first run to take the lease is slow in Severa, so the other certainly finds it held.
    h.post(
        "faults",
        json!({"operation": "GetEntitySchemaVersion", "kind": "latency", "latency_ms": 1500, "times": 1}),
    )
    .await;
    let (a, b) = tokio::join!(h.run_as("accounts", "run-a"), h.run_as("accounts", "run-b"));
    let mut reports = [a.expect("run a"), b.expect("run b")];
    reports.sort_by_key(|r| r.outcome.as_str());
    let [busy, completed] = reports;
    assert_eq!(busy.outcome, RunOutcome::Busy, "{busy:?}");
    assert_eq!(completed.outcome, RunOutcome::Completed, "{completed:?}");
    assert!(busy.message.contains("holds the lease"), "{}", busy.message);
    assert!(busy.message.contains("run-a") || busy.message.contains("run-b"));
    let accounts = h.entities("Account").await.len();
    assert_eq!(
        h.take_jobs(60).await.len(),
        accounts,
        "the work was done once"
    );
    assert_eq!(h.calls("GetAccountsChangedSince").await.len(), 1);

    // A lease left by a crashed run blocks until it expires, then is taken over.
    let now = h.now();
    let lease = h
        .table
        .acquire_lease(
            "accounts",
            "crashed",
            now,
            now + chrono::Duration::minutes(15),
        )
        .await
        .unwrap();
    assert_eq!(lease, Lease::Acquired);
    assert_eq!(h.run("accounts").await.outcome, RunOutcome::Busy);
    h.advance(16 * 60).await;
    assert_eq!(h.run("accounts").await.outcome, RunOutcome::Completed);
    h.stop().await;
}

#[tokio::test]
async fn a_schema_version_change_emits_a_metric_and_pauses_until_acknowledged() {
    let h = SyncHarness::start(accounts_sync("now")).await;
    assert_eq!(h.run("accounts").await.outcome, RunOutcome::Completed);
    let stored = h.table.schema_state().await.unwrap().unwrap();
    assert_eq!(stored.version, SCHEMA_VERSION.to_string());
    assert!(h.metric_lines("SchemaVersionChanged").is_empty());

    h.post("schema-version", json!({"version": 8})).await;
    h.advance(3600).await;
    h.rename_account(ACCOUNT_NORDIC_GUID, "Changed while paused")
        .await;
    let paused = h.run("accounts").await;
    assert_eq!(paused.outcome, RunOutcome::Paused, "{paused:?}");
    assert!(paused.message.contains("ack-schema"), "{}", paused.message);
    let lines = h.metric_lines("SchemaVersionChanged");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["sync"], "accounts");
    assert_eq!(
        lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "SeveraBridge"
    );
    let state = h.table.schema_state().await.unwrap().unwrap();
    assert!(state.paused);
    assert_eq!(state.previous.as_deref(), Some("7"));
    assert_eq!(state.version, "8");
    assert!(h.take_jobs(1).await.is_empty());

    // Still paused on the next run; the change is reported once.
    h.advance(3600).await;
    assert_eq!(h.run("accounts").await.outcome, RunOutcome::Paused);
    assert_eq!(h.metric_lines("SchemaVersionChanged").len(), 1);

    // Acknowledged: the sync runs and catches up.
    let before = bridge::sync::acknowledge_schema(&h.table)
        .await
        .unwrap()
        .unwrap();
    assert!(before.paused);
    let resumed = h.run("accounts").await;
    assert_eq!(resumed.outcome, RunOutcome::Completed);
    assert_eq!(resumed.records_enqueued, 1);
    h.stop().await;
}

#[tokio::test]
async fn without_pausing_a_schema_change_is_reported_and_the_sync_runs() {
    let mut syncs = accounts_sync("now");
    syncs["pause_on_schema_change"] = json!(false);
    let h = SyncHarness::start(syncs).await;
    h.run("accounts").await;
    h.post("schema-version", json!({"version": 9})).await;
    let report = h.run("accounts").await;
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!(h.metric_lines("SchemaVersionChanged").len(), 1);
    assert!(!h.table.schema_state().await.unwrap().unwrap().paused);
    h.stop().await;
}

#[tokio::test]
async fn the_quota_guard_defers_non_urgent_syncs() {
    let syncs = config(json!({
        "accounts": {"read": "accounts"},
        "hours": {"read": "hour_entries", "urgent": true, "batch_size": 2}
    }));
    let h = SyncHarness::start(syncs).await;
    h.post("quota", json!({"limit": 1000, "used": 850})).await;
    let deferred = h.run("accounts").await;
    assert_eq!(deferred.outcome, RunOutcome::Deferred);
    assert!(deferred.message.contains("quota"), "{}", deferred.message);
    assert!(deferred.message.contains("80 %"), "{}", deferred.message);
    assert_eq!(h.cursor("accounts").await, None);
    assert_eq!(h.metric_lines("SyncDeferred").len(), 1);

    // The urgent one runs; hour entries go in batches.
    let hours = h.run("hours").await;
    assert_eq!(hours.outcome, RunOutcome::Completed, "{hours:?}");
    let entries = h.entities("HourEntry").await.len();
    assert_eq!(hours.records_enqueued, entries);
    assert_eq!(hours.jobs_enqueued, entries.div_ceil(2));
    h.drain().await;
    let mut got = h.receiver.accepted_guids();
    got.dedup();
    assert_eq!(got.len(), entries);
    assert_eq!(h.receiver.accepted().len(), entries.div_ceil(2));
    h.stop().await;
}

#[tokio::test]
async fn syncs_declared_after_others_run_them_first() {
    let syncs = config(json!({
        "accounts": {"read": "accounts"},
        "cases": {"read": "cases"},
        "invoices": {
            "read": "invoices",
            "after": ["accounts", "cases"],
            "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred"}
        }
    }));
    let h = SyncHarness::start(syncs).await;
    let report = h.run("invoices").await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    let deps: Vec<&str> = report
        .dependencies
        .iter()
        .map(|d| d.sync.as_str())
        .collect();
    assert_eq!(deps, ["accounts", "cases"]);
    assert!(
        report
            .dependencies
            .iter()
            .all(|d| d.outcome == RunOutcome::Completed)
    );
    assert!(h.cursor("accounts").await.is_some() && h.cursor("cases").await.is_some());

    // A dependency that cannot run (another run holds it) defers the invoices.
    let now = h.now();
    h.table
        .acquire_lease("accounts", "other", now, now + chrono::Duration::minutes(5))
        .await
        .unwrap();
    h.advance(60).await;
    let deferred = h.run("invoices").await;
    assert_eq!(deferred.outcome, RunOutcome::Deferred, "{deferred:?}");
    assert!(
        deferred.message.contains("after accounts"),
        "{}",
        deferred.message
    );
    h.stop().await;
}

/// A dependency reached through two paths (invoices → accounts, and invoices → cases →
/// accounts) runs once per invocation, not once per path: a second run would read Severa again.
#[tokio::test]
async fn a_dependency_reached_twice_runs_once_per_invocation() {
    let syncs = config(json!({
        "accounts": {"read": "accounts"},
        "cases": {"read": "cases", "after": ["accounts"]},
        "invoices": {
            "read": "invoices",
            "after": ["accounts", "cases"],
            "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred"}
        }
    }));
    let h = SyncHarness::start(syncs).await;
    let report = h.run("invoices").await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert_eq!(
        h.calls("GetAccountsChangedSince").await.len(),
        1,
        "accounts read once"
    );
    assert_eq!(h.calls("GetCasesChangedSince").await.len(), 1);
    // Both paths report the accounts run, the same one.
    let cases = &report.dependencies[1];
    assert_eq!(cases.sync, "cases");
    assert_eq!(cases.dependencies.len(), 1);
    assert_eq!(cases.dependencies[0], report.dependencies[0]);
    h.stop().await;
}

#[tokio::test]
async fn an_unknown_sync_is_an_error_naming_the_configured_ones() {
    let h = SyncHarness::start(accounts_sync("now")).await;
    let err = h.run_as("payroll", "run-x").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("payroll") && text.contains("accounts"),
        "{text}"
    );
    let err = h
        .scheduler
        .handle(json!({"sync": 1}), "run-y")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"sync\""), "{err}");
    let _ = Duration::ZERO;
    h.stop().await;
}

/// A target that answers HTTP `status` with a chunked body that never ends. The task returns
/// how many body bytes it wrote before the worker hung up (it gives up at 256 MiB).
async fn endless_error_target(status: u16) -> (String, tokio::task::JoinHandle<u64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/hooks/severa",
        listener.local_addr().expect("address")
    );
    let task = tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return 0;
        };
        // The request: headers, then Content-Length bytes of body.
        let mut request = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let Ok(n) = stream.read(&mut buf).await else {
                return 0;
            };
            if n == 0 {
                return 0;
            }
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let head = format!(
            "HTTP/1.1 {status} Oops\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let data = "error! ".repeat(64 * 1024 / 7);
        let chunk = format!("{:x}\r\n{data}\r\n", data.len());
        let mut written = 0u64;
        while written < 256 * 1024 * 1024 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            written += data.len() as u64;
        }
        written
    });
    (url, task)
}

#[tokio::test]
async fn an_endless_error_answer_is_read_only_up_to_the_cap_and_its_status_reported() {
    let (url, target) = endless_error_target(400).await;
    let mut syncs = invoices_sync();
    syncs["syncs"]["invoices"]["target"]["url"] = json!(url);
    let h = SyncHarness::start(syncs).await;
    assert_eq!(h.run("invoices").await.records_enqueued, 1);
    let records = h.take_jobs(60).await;
    assert_eq!(records.len(), 1);

    // 400 is permanent: dead-lettered at once, with the status and the start of the answer.
    let response = h.handle(records).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let dlq = h.dlq_messages().await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq_attr(&dlq[0], "error_type"), "Delivery.HTTP400");
    let message = dlq_attr(&dlq[0], "error_message");
    assert!(
        message.contains("answered HTTP 400: error! error!"),
        "{message}"
    );
    assert!(
        message.ends_with("(answer truncated after 4096 bytes)"),
        "{message}"
    );

    // The worker hung up after its few KiB: the target wrote no more than the cap plus what
    // the sockets buffer (a few MiB on loopback), not the 256 MiB it would have sent.
    let written = target.await.expect("target task");
    assert!(
        written < 32 * 1024 * 1024,
        "the target wrote {written} bytes"
    );
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Sent");
    h.stop().await;
}
