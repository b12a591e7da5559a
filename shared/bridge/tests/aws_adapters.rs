//! The AWS adapters against a real moto server (SQS, DynamoDB, Secrets Manager), started by
//! `test_support::moto()` (see there for where it comes from and why it cannot leak).
//!
//! Every test uses its own queue/table/secret names, so the tests run in parallel.

use aws_sdk_sqs::types::QueueAttributeName;
use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::ports::{
    Breaker, Claim, ExternalKey, IdMap, IdempotencyStore, MessageSink, OutgoingMessage,
    ReceivedMessages, RecordLock, RecordLocks, RecordVersion, SecretSource,
};
use chrono::{Duration as ChronoDuration, Utc};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use test_support::{moto, sdk, unique};

async fn new_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

async fn new_table(config: &aws_config::SdkConfig) -> DynamoTable {
    let table = DynamoTable::from_config(config, unique("bridge"));
    table.create_table().await.unwrap();
    table
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    visibility: Option<i32>,
) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .set_visibility_timeout(visibility)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// SQS

#[tokio::test]
async fn send_carries_body_and_string_attributes() {
    let config = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = new_queue(&sqs, &unique("jobs")).await;
    let queue = SqsQueue::new(sqs.clone(), &url);

    let message = OutgoingMessage {
        body: r#"{"kind":"hour_entry"}"#.into(),
        attributes: BTreeMap::from([
            ("correlation_id".to_owned(), "c-123".to_owned()),
            ("source".to_owned(), "clockify".to_owned()),
            ("empty".to_owned(), String::new()),
        ]),
    };
    let id = queue.send(&message).await.unwrap();
    assert!(!id.is_empty());

    let got = receive(&sqs, &url, None).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id.as_deref(), Some(id.as_str()));
    assert_eq!(got[0].body.as_deref(), Some(message.body.as_str()));
    let attrs = got[0].message_attributes.clone().unwrap_or_default();
    assert_eq!(attrs.len(), 2, "empty values are dropped: {attrs:?}");
    assert_eq!(attrs["correlation_id"].string_value(), Some("c-123"));
    assert_eq!(attrs["correlation_id"].data_type(), "String");
    assert_eq!(attrs["source"].string_value(), Some("clockify"));
}

#[tokio::test]
async fn delay_hides_the_message_until_the_visibility_ends() {
    let config = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = new_queue(&sqs, &unique("delay")).await;
    let queue = SqsQueue::new(sqs.clone(), &url);
    queue
        .send(&OutgoingMessage::default_with("x"))
        .await
        .unwrap();

    let first = receive(&sqs, &url, Some(30)).await;
    let handle = first[0].receipt_handle.clone().unwrap();
    // Visible again at once, then hidden for 2 s.
    queue.delay(&handle, 0).await.unwrap();
    let again = receive(&sqs, &url, Some(30)).await;
    assert_eq!(again.len(), 1, "delay(0) makes the message visible at once");
    queue
        .delay(again[0].receipt_handle.as_deref().unwrap(), 2)
        .await
        .unwrap();
    assert!(receive(&sqs, &url, None).await.is_empty());
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let later = receive(&sqs, &url, None).await;
    assert_eq!(later.len(), 1, "re-delivered after the delay");
}

#[tokio::test]
async fn delete_removes_the_message() {
    let config = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = new_queue(&sqs, &unique("delete")).await;
    let queue = SqsQueue::new(sqs.clone(), &url);
    queue
        .send(&OutgoingMessage::default_with("x"))
        .await
        .unwrap();

    let got = receive(&sqs, &url, Some(30)).await;
    queue
        .delete(got[0].receipt_handle.as_deref().unwrap())
        .await
        .unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    assert_eq!(attrs[&QueueAttributeName::ApproximateNumberOfMessages], "0");
    assert_eq!(
        attrs[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible],
        "0"
    );
}

#[tokio::test]
async fn sending_to_a_missing_queue_is_not_retryable_and_names_it() {
    let config = sdk().await;
    let url = format!("{}/123456789012/{}", moto(), unique("missing"));
    let queue = SqsQueue::from_config(&config, &url);
    let err = queue
        .send(&OutgoingMessage::default_with("x"))
        .await
        .unwrap_err();
    assert_eq!((err.service, err.action), ("SQS", "SendMessage"));
    assert!(!err.retryable, "{err}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn unreachable_endpoint_is_retryable() {
    moto();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = bridge::aws::config::loader()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let queue = SqsQueue::from_config(&config, format!("http://127.0.0.1:{port}/1/q"));
    let err = queue
        .send(&OutgoingMessage::default_with("x"))
        .await
        .unwrap_err();
    assert!(err.retryable, "{err}");
}

#[tokio::test]
async fn redrive_policy_moves_a_message_to_the_dlq_after_max_receives() {
    let config = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let dlq_url = new_queue(&sqs, &unique("dlq")).await;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let url = sqs
        .create_queue()
        .queue_name(unique("src"))
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    SqsQueue::new(sqs.clone(), &url)
        .send(&OutgoingMessage::default_with("poison"))
        .await
        .unwrap();

    // Received twice with visibility 0 (as if the handler failed at once each time).
    for n in 1..=2 {
        assert_eq!(receive(&sqs, &url, Some(0)).await.len(), 1, "receive {n}");
    }
    assert!(receive(&sqs, &url, Some(0)).await.is_empty(), "moved away");
    let dead = receive(&sqs, &dlq_url, None).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body.as_deref(), Some("poison"));
}

trait WithBody {
    fn default_with(body: &str) -> Self;
}

impl WithBody for OutgoingMessage {
    fn default_with(body: &str) -> Self {
        OutgoingMessage {
            body: body.into(),
            attributes: BTreeMap::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DynamoDB: idempotency

#[tokio::test]
async fn claim_lock_expiry_complete_and_release() {
    let config = sdk().await;
    let table = new_table(&config).await;
    let in_a_minute = Utc::now() + ChronoDuration::seconds(60);

    assert_eq!(
        table.claim("job-1", in_a_minute).await.unwrap(),
        Claim::Acquired
    );
    match table.claim("job-1", in_a_minute).await.unwrap() {
        Claim::InProgress { until } => {
            assert!((until - in_a_minute).num_seconds().abs() <= 1, "{until}")
        }
        other => panic!("expected InProgress, got {other:?}"),
    }

    // A holder whose lock has ended no longer blocks anyone.
    let ended = Utc::now() - ChronoDuration::seconds(5);
    assert_eq!(table.claim("job-2", ended).await.unwrap(), Claim::Acquired);
    assert_eq!(
        table.claim("job-2", in_a_minute).await.unwrap(),
        Claim::Acquired
    );

    // Completed: later claims see the GUID, and a late release does not undo it.
    let day = Duration::from_secs(86_400);
    table.complete("job-1", Some("guid-1"), day).await.unwrap();
    let done = Claim::Completed {
        severa_guid: Some("guid-1".into()),
    };
    assert_eq!(table.claim("job-1", in_a_minute).await.unwrap(), done);
    table.release("job-1").await.unwrap();
    assert_eq!(table.claim("job-1", in_a_minute).await.unwrap(), done);

    table.complete("job-3", None, day).await.unwrap();
    assert_eq!(
        table.claim("job-3", in_a_minute).await.unwrap(),
        Claim::Completed { severa_guid: None }
    );

    // Released: the next claim takes it at once.
    assert_eq!(
        table.claim("job-4", in_a_minute).await.unwrap(),
        Claim::Acquired
    );
    table.release("job-4").await.unwrap();
    assert_eq!(
        table.claim("job-4", in_a_minute).await.unwrap(),
        Claim::Acquired
    );
    // Releasing something never claimed is fine.
    table.release("never-claimed").await.unwrap();
}

#[tokio::test]
async fn an_expired_completed_record_no_longer_blocks() {
    let config = sdk().await;
    let table = new_table(&config).await;
    table
        .complete("job", Some("old"), Duration::ZERO)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let in_a_minute = Utc::now() + ChronoDuration::seconds(60);
    assert_eq!(
        table.claim("job", in_a_minute).await.unwrap(),
        Claim::Acquired
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_have_exactly_one_winner() {
    let config = sdk().await;
    let table = Arc::new(new_table(&config).await);
    let until = Utc::now() + ChronoDuration::seconds(60);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let table = Arc::clone(&table);
            tokio::spawn(async move { table.claim("contended", until).await })
        })
        .collect();
    let mut acquired = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Claim::Acquired => acquired += 1,
            Claim::InProgress { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acquired, 1);
}

#[tokio::test]
async fn first_sighting_is_true_once() {
    let config = sdk().await;
    let table = new_table(&config).await;
    let ttl = Duration::from_secs(3600);
    assert!(table.first_sighting("wh-1", ttl).await.unwrap());
    assert!(!table.first_sighting("wh-1", ttl).await.unwrap());
    assert!(table.first_sighting("wh-2", ttl).await.unwrap());
    // Webhook ids and job keys live in separate key spaces.
    let until = Utc::now() + ChronoDuration::seconds(60);
    assert_eq!(table.claim("wh-1", until).await.unwrap(), Claim::Acquired);
}

#[tokio::test]
async fn create_table_enables_ttl_on_expires_at_and_is_idempotent() {
    let config = sdk().await;
    let table = new_table(&config).await;
    table.create_table().await.unwrap();
    let ttl = table
        .client()
        .describe_time_to_live()
        .table_name(table.table_name())
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some("expires_at"));
    assert_eq!(
        ttl.time_to_live_status,
        Some(aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
}

#[tokio::test]
async fn a_missing_table_is_not_retryable_and_named() {
    let config = sdk().await;
    let name = unique("no-such-table");
    let table = DynamoTable::from_config(&config, &name);
    let err = table
        .claim("k", Utc::now() + ChronoDuration::seconds(60))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.to_string().contains(&name), "{err}");
}

// ---------------------------------------------------------------------------------------------
// DynamoDB: id map

fn ext(source: &str, entity: &str, id: &str) -> ExternalKey {
    ExternalKey {
        source: source.into(),
        entity: entity.into(),
        external_id: id.into(),
    }
}

#[tokio::test]
async fn id_map_record_lookup_forget() {
    let config = sdk().await;
    let table = new_table(&config).await;
    let key = ext("clockify", "hour_entry", "e-1");
    assert_eq!(table.lookup(&key).await.unwrap(), None);
    table.record(&key, "guid-a").await.unwrap();
    assert_eq!(table.lookup(&key).await.unwrap().as_deref(), Some("guid-a"));
    table.record(&key, "guid-b").await.unwrap();
    assert_eq!(table.lookup(&key).await.unwrap().as_deref(), Some("guid-b"));
    assert_eq!(table.owner("guid-b").await.unwrap(), Some(key.clone()));
    table.forget(&key, "guid-b").await.unwrap();
    assert_eq!(table.lookup(&key).await.unwrap(), None);
    assert_eq!(table.owner("guid-b").await.unwrap(), None);
    // Forgetting twice (a redelivered delete) is not an error.
    table.forget(&key, "guid-b").await.unwrap();
}

/// DynamoDB's conditional write is atomic per item; the record lock relies on it. moto's own
/// server checks and writes in two steps on concurrent threads (two winners); the test stack runs
/// it through `scripts/moto_server.py`, which serialises DynamoDB requests. Against plain
/// `moto_server` this test fails.
#[tokio::test]
async fn concurrent_lock_attempts_on_one_record_have_exactly_one_winner() {
    let config = sdk().await;
    let table = Arc::new(new_table(&config).await);
    let soon = Utc::now() + ChronoDuration::seconds(60);
    for round in 0..20 {
        let key = ext("toggl", "hour_entry", &format!("te-race-{round}"));
        let attempts: Vec<_> = (0..12)
            .map(|i| {
                let table = Arc::clone(&table);
                let key = key.clone();
                tokio::spawn(async move { table.lock(&key, &format!("job-{i}"), soon).await })
            })
            .collect();
        let mut winners = 0;
        for attempt in attempts {
            if let RecordLock::Acquired { .. } = attempt.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}: one record, one writer");
    }
}

#[tokio::test]
async fn record_lock_one_owner_at_a_time_keeps_the_last_version() {
    let config = sdk().await;
    let table = new_table(&config).await;
    let key = ext("toggl", "hour_entry", "te-1");
    let soon = Utc::now() + ChronoDuration::seconds(60);
    assert_eq!(
        table.lock(&key, "job-a", soon).await.unwrap(),
        RecordLock::Acquired {
            last: None,
            intent: None
        }
    );
    // A create started by job-a: only the holder may open the intent. For anyone else it is a
    // wait (the record is another job's), not a failure that would dead-letter the job.
    let refused = table
        .open_intent(&key, "job-x", "AddNewHourEntry …")
        .await
        .unwrap_err();
    assert!(refused.retryable, "{refused}");
    assert!(
        refused.message.contains("passed to another job"),
        "{refused}"
    );
    table
        .open_intent(&key, "job-a", "AddNewHourEntry user=u date=2026-01-20")
        .await
        .unwrap();
    // Another job waits; the owner may take it again (a redelivery of the same job).
    assert!(matches!(
        table.lock(&key, "job-b", soon).await.unwrap(),
        RecordLock::Held { until } if until >= soon - ChronoDuration::seconds(1)
    ));
    // Let go without a version (the create failed): the intent stays open for the retry.
    table.unlock(&key, "job-a", None).await.unwrap();
    match table.lock(&key, "job-a", soon).await.unwrap() {
        RecordLock::Acquired {
            intent: Some(intent),
            ..
        } => assert_eq!(intent.fingerprint, "AddNewHourEntry user=u date=2026-01-20"),
        other => panic!("{other:?}"),
    }
    let version = RecordVersion {
        occurred_at: "2026-01-20T10:05:00.123Z".parse().unwrap(),
        deleted: true,
    };
    // Only the owner's unlock counts.
    table.unlock(&key, "job-b", None).await.unwrap();
    assert!(matches!(
        table.lock(&key, "job-b", soon).await.unwrap(),
        RecordLock::Held { .. }
    ));
    table.unlock(&key, "job-a", Some(version)).await.unwrap();
    assert_eq!(
        table.lock(&key, "job-b", soon).await.unwrap(),
        RecordLock::Acquired {
            last: Some(version),
            intent: None
        },
        "a version closes the intent"
    );
    // Let go without a version: the last one stays.
    table.unlock(&key, "job-b", None).await.unwrap();
    // An expired lock is taken over.
    let past = Utc::now() - ChronoDuration::seconds(5);
    assert!(matches!(
        table.lock(&key, "job-c", past).await.unwrap(),
        RecordLock::Acquired { last: Some(v), .. } if v == version
    ));
    assert!(matches!(
        table.lock(&key, "job-d", soon).await.unwrap(),
        RecordLock::Acquired { .. }
    ));
    // The id map of the same record is a different item.
    assert_eq!(table.lookup(&key).await.unwrap(), None);
}

#[tokio::test]
async fn breaker_opens_lets_one_probe_through_and_closes() {
    let config = sdk().await;
    let table = new_table(&config).await;
    assert_eq!(table.read().await.unwrap().open_until, None);
    let now = Utc::now();
    let until = now + ChronoDuration::seconds(20);
    table.trip(until, "Maintenance", 1, None).await.unwrap();
    // A shorter opening does not shorten it.
    table
        .trip(now + ChronoDuration::seconds(5), "HTTP503", 1, None)
        .await
        .unwrap();
    let state = table.read().await.unwrap();
    assert_eq!(state.reason, "Maintenance");
    assert_eq!(state.trips, 1);
    assert!(state.open_until.unwrap() >= until - ChronoDuration::seconds(1));
    // No probe while it is open; after it, exactly one.
    let hold = until + ChronoDuration::seconds(60);
    assert!(!table.take_probe("job-a", now, hold).await.unwrap());
    let later = until + ChronoDuration::seconds(1);
    assert!(table.take_probe("job-a", later, hold).await.unwrap());
    assert!(!table.take_probe("job-b", later, hold).await.unwrap());
    // A rejected key is remembered by its digest; closing forgets everything.
    table
        .trip(
            later + ChronoDuration::seconds(300),
            "KeyRejected",
            2,
            Some("0011aabb"),
        )
        .await
        .unwrap();
    assert_eq!(
        table.read().await.unwrap().rejected_key.as_deref(),
        Some("0011aabb")
    );
    table.close().await.unwrap();
    let state = table.read().await.unwrap();
    assert_eq!(
        (state.open_until, state.trips, state.rejected_key),
        (None, 0, None)
    );
}

#[tokio::test]
async fn id_map_keys_with_hash_signs_do_not_collide() {
    let config = sdk().await;
    let table = new_table(&config).await;
    let keys = [
        ext("crm#a", "b", "c"),
        ext("crm", "a#b", "c"),
        ext("crm", "a", "b#c"),
        ext("crm%23a", "b", "c"),
    ];
    for (i, key) in keys.iter().enumerate() {
        table.record(key, &format!("guid-{i}")).await.unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            table.lookup(key).await.unwrap(),
            Some(format!("guid-{i}")),
            "{key:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets Manager

#[tokio::test]
async fn current_returns_awscurrent_not_a_pending_version() {
    let config = sdk().await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let id = unique("severa/api-key");
    let created = sm
        .create_secret()
        .name(&id)
        .secret_string("key-v1")
        .send()
        .await
        .unwrap();
    let source = SecretsManagerSource::from_config(&config);
    assert_eq!(source.current(&id).await.unwrap().expose_secret(), "key-v1");

    let pending = sm
        .put_secret_value()
        .secret_id(&id)
        .secret_string("key-v2")
        .client_request_token("00000000-0000-4000-8000-000000000002")
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    assert_eq!(source.current(&id).await.unwrap().expose_secret(), "key-v1");

    // Promote the pending version (what a rotation's finishSecret does).
    sm.update_secret_version_stage()
        .secret_id(&id)
        .version_stage("AWSCURRENT")
        .move_to_version_id(pending.version_id.unwrap())
        .remove_from_version_id(created.version_id.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(source.current(&id).await.unwrap().expose_secret(), "key-v2");
}

#[tokio::test]
async fn a_missing_secret_is_not_retryable_named_and_value_free() {
    let config = sdk().await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let present = unique("present");
    sm.create_secret()
        .name(&present)
        .secret_string("s3cr3t-value")
        .send()
        .await
        .unwrap();
    let missing = unique("severa/missing");
    let err = SecretsManagerSource::from_config(&config)
        .current(&missing)
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert_eq!(
        (err.service, err.action),
        ("SecretsManager", "GetSecretValue")
    );
    assert!(!err.retryable, "{text}");
    assert!(text.contains(&missing), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[tokio::test]
async fn a_binary_secret_is_a_clear_error() {
    let config = sdk().await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let id = unique("binary");
    sm.create_secret()
        .name(&id)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(
            b"raw-bytes".to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let err = SecretsManagerSource::from_config(&config)
        .current(&id)
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("binary"), "{err}");
    assert!(!format!("{err:?}").contains("raw-bytes"));
}
