//! The worker's logs: one JSON line per job outcome with the fields operators search by, and
//! the Severa API key in no line at all, also across a key rotation and failures.
//!
//! Own test binary: it installs a global subscriber (at `debug`, every crate) writing to a
//! buffer, so lines from every task and thread are captured.

mod worker_harness;

use serde_json::{Value as Json, json};
use severa_sim::DEFAULT_API_KEY;
use worker_harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_outcome_line_per_job_and_never_the_key() {
    let buffer = test_support::LogCapture::install("debug");

    let h = Harness::start().await;
    let first = h.enqueue(&[hours("log-1", "te-log-1", "1")], 30).await;
    assert!(h.handle(first).await.batch_item_failures.is_empty());

    let new_key = h.post("keys/regenerate", json!({})).await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    h.secrets_client
        .put_secret_value()
        .secret_id(&h.secret_id)
        .secret_string(&new_key)
        .send()
        .await
        .unwrap();
    let records = h
        .enqueue(
            &[
                hours("log-2", "te-log-2", "2"),
                "not json".to_string(),
                delete_hours("log-3", "te-unknown"),
            ],
            30,
        )
        .await;
    let response = h.handle(records.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    // And a duplicate.
    let again = h.handle(vec![redelivered(&records[0])]).await;
    assert!(again.batch_item_failures.is_empty());
    h.stop().await;

    let lines = buffer.lines();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(!line.contains(DEFAULT_API_KEY), "old key logged: {line}");
        assert!(!line.contains(&new_key), "new key logged: {line}");
    }
    let outcomes: Vec<Json> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter(|v| v.get("outcome").is_some())
        .collect();
    let outcome_of = |job_id: &str| -> Vec<&Json> {
        outcomes.iter().filter(|v| v["job_id"] == job_id).collect()
    };
    for (job_id, outcome) in [("log-1", "applied"), ("log-3", "skipped")] {
        let found = outcome_of(job_id);
        assert_eq!(found.len(), 1, "{job_id}: {found:?}");
        assert_eq!(found[0]["outcome"], outcome);
    }
    let log2 = outcome_of("log-2");
    assert_eq!(log2.len(), 2, "applied, then a duplicate: {log2:?}");
    assert_eq!(log2[0]["outcome"], "applied");
    assert_eq!(log2[1]["outcome"], "duplicate");
    let applied = log2[0];
    assert_eq!(applied["correlation_id"], "wh-log-2");
    assert_eq!(applied["kind"], "hour_entry.upsert");
    assert_eq!(applied["source"], "toggl");
    assert_eq!(applied["severa_operation"], "AddNewHourEntry");
    assert!(applied["duration_ms"].is_u64());
    let poison: Vec<_> = outcomes
        .iter()
        .filter(|v| v["outcome"] == "dead_lettered")
        .collect();
    assert_eq!(poison.len(), 1);
    assert_eq!(poison[0]["error_type"], "MalformedJob");
}
