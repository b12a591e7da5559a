//! `bridgectl sync reconcile` as an operator runs it: the built binary with the scheduler's
//! environment, against moto (table, job queue, secrets) and a `severa-sim` over HTTP. The
//! sync-test harness of the bridge crate (included by path, not copied) provides the stack,
//! the scheduled sync that fills the ledger, the worker that delivers what the binary
//! enqueued, and the receiver standing in for the other software. Checks what the receiver,
//! the queue and the ledger hold afterwards, and the final table's counts.

#[path = "../../shared/bridge/tests/sync_harness/mod.rs"]
mod sync_harness;
#[path = "../../shared/bridge/tests/worker_harness/mod.rs"]
mod worker_harness;

use chrono::{TimeDelta, Utc};
use serde_json::json;
use std::process::{Command, Output};
use sync_harness::{Received, SyncHarness, config};

/// Hour entries, reconciled over a week. `first_run: now`: what existed before the first run
/// (the fixture's entries) is never read by the scheduled sync.
fn hours_sync() -> serde_json::Value {
    config(json!({"hours": {
        "read": "hour_entries",
        "batch_size": 50,
        "first_run": {"from": "now"},
        "reconcile": {"schedule": "rate(1 day)", "window_days": 7, "page_days": 7}
    }}))
}

/// Runs `bridgectl <args>` with the scheduler's environment pointing at the harness. On the
/// blocking pool: the simulator answers from this test's runtime meanwhile.
async fn bridgectl(h: &SyncHarness, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bridgectl"));
    command
        .args(args)
        .env("TABLE_NAME", h.table.table_name())
        .env("JOB_QUEUE_URL", &h.queue_url)
        .env("SEVERA_SECRET_ID", &h.severa_secret_id)
        .env("SEVERA_ENDPOINT", h.sim.endpoint())
        .env("SYNCS_JSON", &h.syncs_json)
        .env_remove("SYNCS_FILE")
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || command.output().expect("run bridgectl"))
        .await
        .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The final table's value for `label` (`label` padded, then the value right-aligned).
fn cell(table: &str, label: &str) -> String {
    table
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(label)?;
            rest.starts_with("  ").then(|| rest.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {label:?} row in:\n{table}"))
}

fn counts(table: &str) -> [String; 6] {
    [
        "records in Severa",
        "sent and unchanged",
        "changed",
        "deleted",
        "never sent",
        "events enqueued",
    ]
    .map(|label| cell(table, label))
}

fn of_type<'a>(got: &'a [Received], kind: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.json()["type"] == kind).collect()
}

#[tokio::test]
async fn reconcile_dry_run_prints_the_table_and_sends_nothing_then_a_real_run_sends_it() {
    let h = SyncHarness::start(hours_sync()).await;
    // bridgectl runs on the wall clock (lease, ledger expiry, the day the window ends): the
    // simulator and the harness follow it.
    h.set_time(Utc::now()).await;
    let today = h.now().date_naive();
    let (from, to) = ((today - TimeDelta::days(7)).to_string(), today.to_string());
    let window = ["--from", from.as_str(), "--to", to.as_str()];

    // The scheduled sync sends four entries dated today.
    assert_eq!(
        h.run("hours").await.records_enqueued,
        0,
        "first run: from now"
    );
    h.advance(60).await;
    let mut sent = h.add_hour_entries(4, 20).await;
    sent.sort();
    h.advance(3600).await;
    assert_eq!(h.run("hours").await.records_enqueued, 4);
    h.drain().await;
    assert_eq!(h.receiver.accepted_guids(), sent);
    let delivered = h.receiver.accepted().len();

    // In Severa's UI: one deleted, one edited without a new timestamp, one typed in (dated
    // yesterday, after the sync's last run: the sync would find it, the reconciliation first).
    h.advance(3600).await;
    h.ui_delete("HourEntry", &sent[0]).await;
    h.ui_edit(
        "HourEntry",
        &sent[1],
        json!({"Description": "corrected by the manager"}),
        true,
    )
    .await;
    let typed = h
        .ui_create(
            "HourEntry",
            &[json!({"UserGUID": severa_sim::fixture::USER_BOB_GUID,
                "EventDate": (today - TimeDelta::days(1)).to_string(),
                "Quantity": 1, "Description": "typed in the UI"})],
        )
        .await;
    let ledger_before: Vec<_> = {
        let mut all = Vec::new();
        for day in (today - TimeDelta::days(7)).iter_days().take(8) {
            all.extend(h.ledger("hours", Some(day)).await);
        }
        all
    };
    assert_eq!(ledger_before.len(), 4);

    // --dry-run: the table, nothing enqueued, nothing delivered, the ledger untouched.
    let mut args = vec!["sync", "reconcile", "hours", "--dry-run"];
    args.extend(window);
    let dry = bridgectl(&h, &args).await;
    let stdout = text(&dry.stdout);
    assert_eq!(dry.status.code(), Some(0), "{stdout}{}", text(&dry.stderr));
    assert!(
        stdout.starts_with("sync hours: completed (dry run: nothing sent)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("dry run, nothing sent"), "{stdout}");
    assert_eq!(cell(&stdout, "window"), format!("{from} .. {to}"));
    assert_eq!(cell(&stdout, "pages"), "2/2");
    assert_eq!(
        counts(&stdout),
        ["4", "2", "1", "1", "1", "0"].map(String::from)
    );
    assert!(h.take_jobs(1).await.is_empty(), "nothing on the queue");
    assert_eq!(h.receiver.received().len(), delivered, "nothing delivered");
    let mut ledger_after = Vec::new();
    for day in (today - TimeDelta::days(7)).iter_days().take(8) {
        ledger_after.extend(h.ledger("hours", Some(day)).await);
    }
    assert_eq!(ledger_after, ledger_before, "ledger untouched");
    assert_eq!(
        bridge::ports::SyncLedger::reconcile_progress(&h.table, "hours")
            .await
            .expect("progress item"),
        None,
        "no saved position"
    );

    // The real run: the same counts, three events enqueued and delivered, one of each type.
    let mut args = vec!["sync", "reconcile", "hours"];
    args.extend(window);
    let real = bridgectl(&h, &args).await;
    let stdout = text(&real.stdout);
    assert_eq!(
        real.status.code(),
        Some(0),
        "{stdout}{}",
        text(&real.stderr)
    );
    assert!(stdout.starts_with("sync hours: completed\n"), "{stdout}");
    assert_eq!(
        counts(&stdout),
        ["4", "2", "1", "1", "1", "3"].map(String::from)
    );
    h.drain().await;
    let got = h.receiver.accepted();
    assert_eq!(got.len(), delivered + 3, "three events");
    let deleted = of_type(&got, "severa.hour_entry.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].json()["data"]["records"],
        json!([{"GUID": sent[0], "EventDate": today.to_string()}])
    );
    let updated = of_type(&got, "severa.hour_entry.updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].guids(), vec![sent[1].clone()]);
    assert_eq!(
        updated[0].json()["data"]["records"][0]["Description"],
        "corrected by the manager"
    );
    let created = of_type(&got, "severa.hour_entry.created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].guids(), typed);

    // The ledger follows Severa now: a second run finds nothing and sends nothing.
    let again = bridgectl(&h, &args).await;
    let stdout = text(&again.stdout);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{stdout}{}",
        text(&again.stderr)
    );
    assert_eq!(
        counts(&stdout),
        ["4", "4", "0", "0", "0", "0"].map(String::from)
    );
    assert!(h.take_jobs(1).await.is_empty());
    assert_eq!(h.receiver.accepted().len(), delivered + 3);
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn reconcile_of_a_sync_without_a_reconcile_section_says_so_and_sends_nothing() {
    let h = SyncHarness::start(config(json!({"plain": {"read": "hour_entries"}}))).await;
    let out = bridgectl(&h, &["sync", "reconcile", "plain", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("bridgectl: ") && stderr.contains("plain"),
        "{stderr}"
    );
    assert!(h.calls("GetHourEntriesByDate").await.is_empty());
    assert!(h.take_jobs(1).await.is_empty());
    h.stop().await;
}
