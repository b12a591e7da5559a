//! The scheduler's and the outbound worker's logs: a schema drift is an error line naming both
//! versions, a busy run says why it did nothing, every run ends in one line, and neither the
//! Severa key nor the target's signing secret appears in any line.
//!
//! Own test binary: it installs a global subscriber (at `debug`, every crate) writing to a
//! buffer, so lines from every task and thread are captured.

mod sync_harness;
mod worker_harness;

use bridge::sync::RunOutcome;
use serde_json::json;
use severa_sim::DEFAULT_API_KEY;
use sync_harness::{SyncHarness, config, signing_secret_text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_drift_busy_runs_and_outcomes_are_logged_without_secrets() {
    let buffer = test_support::LogCapture::install("debug");

    let syncs = config(json!({"invoices": {
        "read": "invoices",
        "first_run": {"from": "2025-01-01T00:00:00Z"},
        "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred"}
    }}));
    let h = SyncHarness::start(syncs).await;

    // A completed run and its delivery.
    assert_eq!(h.run("invoices").await.outcome, RunOutcome::Completed);
    h.drain().await;
    let lines = buffer.json_lines();
    let run_line = lines
        .iter()
        .find(|l| l["outcome"] == "completed" && l["sync"] == "invoices")
        .expect("a run outcome line");
    assert_eq!(run_line["records_enqueued"], 1);
    assert_eq!(run_line["level"], "INFO");
    let job_line = lines
        .iter()
        .find(|l| l["kind"] == "outbound.deliver" && l["outcome"] == "applied")
        .expect("a job outcome line");
    assert_eq!(job_line["severa_operation"], "SetInvoiceStatus");
    assert_eq!(job_line["source"], "severa:sync");

    // A run while another holds the lease says so.
    let now = h.now();
    bridge::ports::SyncStore::acquire_lease(
        &h.table,
        "invoices",
        "other-run",
        now,
        now + chrono::Duration::minutes(5),
    )
    .await
    .unwrap();
    assert_eq!(h.run("invoices").await.outcome, RunOutcome::Busy);
    let busy = buffer
        .json_lines()
        .into_iter()
        .find(|l| l["outcome"] == "busy")
        .expect("a busy line");
    let message = busy["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("other-run") && message.contains("holds the lease"),
        "{message}"
    );
    bridge::ports::SyncStore::release_lease(&h.table, "invoices", "other-run")
        .await
        .unwrap();

    // The schema version changes: an ERROR line naming both versions, then a paused run.
    h.post("schema-version", json!({"version": 8})).await;
    h.advance(3600).await;
    assert_eq!(h.run("invoices").await.outcome, RunOutcome::Paused);
    let lines = buffer.json_lines();
    let drift = lines
        .iter()
        .find(|l| l["level"] == "ERROR" && l["schema_version"] == "8")
        .expect("a schema drift error line");
    assert_eq!(drift["previous_version"], "7");
    assert!(
        drift["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ack-schema")
    );
    assert!(lines.iter().any(|l| l["outcome"] == "paused"));

    // Acknowledged: the next run completes.
    bridge::sync::acknowledge_schema(&h.table).await.unwrap();
    assert_eq!(h.run("invoices").await.outcome, RunOutcome::Completed);
    let everything = buffer.lines().join("\n");
    assert!(
        !everything.contains(DEFAULT_API_KEY),
        "the Severa key leaked"
    );
    let secret = signing_secret_text();
    assert!(!everything.contains(&secret), "the signing secret leaked");
    assert!(
        !everything.contains(&secret["whsec_".len()..]),
        "the signing key leaked"
    );
    h.stop().await;
}
