//! The chaos run: many jobs for many records — creates, updates, deletes — delivered out of
//! order and some twice, through moto SQS / DynamoDB / Secrets Manager and the worker, while
//! severa-sim injects 503, 429, garbage, latency, cut-off answers and hangs, takes a maintenance
//! break and has its key regenerated and then rotated in. At the end every record must be in
//! the state of its newest event, nothing lost, nothing duplicated, nothing dead-lettered.
//!
//! `CHAOS_JOBS` sets the size (default 300, the short form `make test` runs; `make chaos` runs
//! 2 000). The worker's clock is injected and moves one minute per round, so back-offs and the
//! circuit breaker's openings pass without waiting; SQS hands every failed record back each
//! round (the worst case for the breaker).

mod worker_harness;

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use bridge::metrics::Metrics;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use worker_harness::*;

/// A small deterministic generator (splitmix64), so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What the newest event of a record says it should be: `None` = deleted.
type Expected = BTreeMap<String, Option<String>>;

fn events(records: usize) -> (Vec<String>, Expected) {
    let mut bodies = Vec::new();
    let mut expected = Expected::new();
    for r in 0..records {
        let external_id = format!("chaos-{r}");
        let deleted_at_end = r % 4 == 0;
        for k in 0..4u32 {
            let at = format!("2026-01-20T10:{:02}:{:02}Z", k * 5, r % 60);
            let job_id = format!("c-{r}-{k}");
            let body = if k == 3 && deleted_at_end {
                expected.insert(external_id.clone(), None);
                job(&job_id, &external_id, "hour_entry.delete", json!({}))
            } else {
                let hours = format!("{}.{}", k + 1, r % 10);
                if k == 3 {
                    expected.insert(external_id.clone(), Some(hours.clone()));
                }
                job(
                    &job_id,
                    &external_id,
                    "hour_entry.upsert",
                    json!({"user": {"code": "AA"}, "case": {"number": 1},
                           "phase": {"name": "Development"}, "event_date": "2026-01-20",
                           "hours": hours, "description": format!("chaos {external_id}")}),
                )
            };
            let mut value: serde_json::Value = serde_json::from_str(&body).unwrap();
            value["occurred_at"] = json!(at);
            bodies.push(value.to_string());
        }
    }
    (bodies, expected)
}

/// Sends every body to the job queue (10 a call) and receives them all as Lambda records.
async fn enqueue_all(h: &Harness, bodies: &[String]) -> Vec<SqsMessage> {
    for (n, chunk) in bodies.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{n}-{i}"))
                    .message_body(body)
                    .build()
                    .unwrap()
            })
            .collect::<Vec<_>>();
        h.sqs
            .send_message_batch()
            .queue_url(&h.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("send batch");
    }
    let mut records = Vec::new();
    for _ in 0..(bodies.len() / 10 + 50) {
        if records.len() >= bodies.len() {
            break;
        }
        let got = receive(&h.sqs, &h.queue_url, Some(43_200)).await;
        records.extend(got.into_iter().map(to_record));
    }
    assert_eq!(records.len(), bodies.len(), "every job was received");
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_run_loses_nothing_duplicates_nothing_and_ends_in_the_newest_state() {
    let jobs: usize = std::env::var("CHAOS_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
        .max(40);
    let records = jobs / 4;
    let clock = TestClock::at("2026-01-20T12:00:00Z");
    let counts: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let seen = counts.clone();
    let settings = bridge::worker::WorkerSettings {
        clock: clock.as_clock(),
        max_attempts: bridge::worker::MAX_RECEIVES,
        metrics: Metrics::with_sink(
            "worker",
            Arc::new(move |line: &str| {
                if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(line) {
                    let mut seen = seen.lock().unwrap();
                    for name in ["JobsApplied", "JobsStale", "JobsDuplicate", "JobsDeferred"] {
                        // The worker sums its counts per invocation (one EMF document).
                        if let Some(value) = map.get(name).and_then(serde_json::Value::as_f64) {
                            *seen.entry(name.to_string()).or_default() += value as u64;
                        }
                    }
                }
            }),
        ),
        ..test_settings()
    };
    let h = Harness::start_with(settings, |ports| ports).await;
    // The table's creation is not the jobs' cost.
    h.table_requests.take();

    let (bodies, expected) = events(records);
    let mut rng = Rng(0x5EED_C4A0_5000 + jobs as u64);
    // Out of order, and one in ten delivered twice (a sender's retry, SQS at-least-once).
    let mut deliveries = bodies.clone();
    for body in &bodies {
        if rng.below(10) == 0 {
            deliveries.push(body.clone());
        }
    }
    for i in (1..deliveries.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        deliveries.swap(i, j);
    }
    let mut pending = enqueue_all(&h, &deliveries).await;
    let sent = pending.len();

    for (operation, kind, rate, extra) in [
        ("*", "http503", 0.03, json!({})),
        ("*", "http429", 0.02, json!({})),
        ("*", "garbage", 0.01, json!({})),
        ("*", "latency", 0.02, json!({"latency_ms": 150})),
        ("*", "hang", 0.002, json!({})),
        ("AddNewHourEntry", "truncate", 0.08, json!({})),
        ("UpdateHourEntry", "truncate", 0.05, json!({})),
        ("DeleteHourEntry", "truncate", 0.05, json!({})),
    ] {
        let mut rule = json!({"operation": operation, "kind": kind, "rate": rate});
        if let (Some(rule), Some(extra)) = (rule.as_object_mut(), extra.as_object()) {
            rule.extend(extra.clone());
        }
        h.post("faults", rule).await;
    }
    let before = h.requests().await.len();

    let mut new_key = None;
    let mut round = 0;
    while !pending.is_empty() && round < 600 {
        match round {
            4 => {
                h.post("maintenance", json!({"enabled": true})).await;
            }
            9 => {
                h.post("maintenance", json!({"enabled": false})).await;
            }
            14 => {
                let key = h.post("keys/regenerate", json!({})).await["api_key"]
                    .as_str()
                    .expect("new key")
                    .to_string();
                new_key = Some(key);
            }
            22 => {
                let key = new_key.take().expect("regenerated");
                h.secrets_client
                    .put_secret_value()
                    .secret_id(&h.secret_id)
                    .secret_string(key)
                    .send()
                    .await
                    .unwrap();
            }
            _ => {}
        }
        let take = pending.len().min(40);
        let this_round: Vec<SqsMessage> = pending.drain(..take).collect();
        for batch in this_round.chunks(10) {
            let response = h.handle_and_finish(batch.to_vec()).await;
            let failed = failed_ids(&response);
            pending.extend(
                batch
                    .iter()
                    .filter(|r| failed.contains(&id_of(r)))
                    .map(redelivered),
            );
        }
        clock.advance(1);
        round += 1;
    }
    let calls = h.requests().await.len() - before;

    // The final state, per record.
    let entries = h.entities("HourEntry").await;
    let mut by_record: HashMap<String, Vec<String>> = HashMap::new();
    for entry in entries.values() {
        if let Some(record) = entry["Description"]
            .as_str()
            .and_then(|d| d.strip_prefix("chaos "))
        {
            by_record
                .entry(record.to_string())
                .or_default()
                .push(entry["Quantity"].as_str().unwrap_or_default().to_string());
        }
    }
    let mut duplicated = 0;
    let mut wrong = Vec::new();
    for (record, want) in &expected {
        let got = by_record.get(record).cloned().unwrap_or_default();
        if got.len() > 1 {
            duplicated += 1;
        }
        let ok = match want {
            None => got.is_empty(),
            Some(hours) => {
                let number = |s: &str| s.parse::<rust_decimal::Decimal>().ok();
                got.len() == 1 && number(&got[0]).is_some() && number(&got[0]) == number(hours)
            }
        };
        if !ok {
            wrong.push(format!("{record}: want {want:?}, Severa has {got:?}"));
        }
    }
    let dead = h.dlq_messages().await;
    let reasons: Vec<String> = dead
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                dlq_attr(m, "error_type"),
                dlq_attr(m, "error_message")
            )
        })
        .collect();
    let counts = counts.lock().unwrap().clone();
    let count = |name: &str| counts.get(name).copied().unwrap_or(0);
    let table_requests: usize = h.table_requests.take().values().sum();
    println!(
        "chaos: {sent} deliveries of {jobs} jobs for {records} records in {round} rounds; \
         applied {} (incl. no-op deletes), stale {}, duplicate deliveries {}, deferred by the breaker {}; \
         dead-lettered {}, lost {}, duplicated records {duplicated}, wrong final state {}; \
         Severa calls {calls} ({:.2} per job), DynamoDB requests {table_requests} ({:.1} per job)",
        count("JobsApplied"),
        count("JobsStale"),
        count("JobsDuplicate"),
        count("JobsDeferred"),
        dead.len(),
        pending.len(),
        wrong.len(),
        calls as f64 / jobs as f64,
        table_requests as f64 / jobs as f64,
    );
    for reason in &reasons {
        println!("  dead-lettered: {reason}");
    }
    for w in wrong.iter().take(20) {
        println!("  wrong: {w}");
    }
    assert!(pending.is_empty(), "{} jobs never settled", pending.len());
    assert!(dead.is_empty(), "dead-lettered: {reasons:?}");
    assert_eq!(duplicated, 0, "duplicated records");
    assert!(wrong.is_empty(), "wrong final state: {wrong:?}");
    h.stop().await;
}
