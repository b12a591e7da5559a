//! The webhook handler against real moto SQS, DynamoDB and Secrets Manager (started by
//! `test_support::moto()`), called without Lambda. Every test has its own queue, table and
//! secrets, so they run in parallel; each asserts the status AND what the queue holds.
#![allow(unused_imports)]

mod webhook_harness;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::job::{Action, CaseRef, Job, JobKind, PhaseRef, UserRef, WorkTypeRef};
use bridge::secrets::SecretCache;
use bridge::verify::{SigningSecret, standard_webhooks, toggl};
use bridge::webhook::Webhook;
use bridge::webhook::config::Config;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use test_support::{sdk, unique};
use webhook_harness::*;

#[tokio::test]
async fn canonical_delivery_is_enqueued_once_with_attributes() {
    let env = setup().await;
    let response = env
        .webhook
        .handle(env.crm_request("msg_1", &hour_entry("crm-42", "1.5")))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job_id = json_body(&response)["job_id"].as_str().unwrap().to_owned();

    let messages = env.messages().await;
    assert_eq!(messages.len(), 1);
    let job = Job::from_json(messages[0].body().unwrap().as_bytes()).unwrap();
    assert_eq!(job.job_id, job_id);
    assert_eq!(job.source, "crm");
    assert_eq!(job.external_id, "crm-42");
    assert_eq!(job.correlation_id, "msg_1");
    assert_eq!(job.kind(), JobKind::HourEntryUpsert);
    let Action::HourEntryUpsert(p) = &job.action else {
        panic!("{job:?}")
    };
    assert_eq!(p.hours, Decimal::new(15, 1));
    assert!(
        (Utc::now() - job.occurred_at).num_seconds().abs() < 60,
        "defaults to the signed time"
    );
    let attrs = messages[0].message_attributes().unwrap();
    assert_eq!(attrs["correlation_id"].string_value(), Some("msg_1"));
    assert_eq!(attrs["source"].string_value(), Some("crm"));
    assert_eq!(attrs["kind"].string_value(), Some("hour_entry.upsert"));
}

#[tokio::test]
async fn duplicate_webhook_id_is_200_and_not_enqueued_again() {
    let env = setup().await;
    let body = hour_entry("crm-42", "2");
    let first = env.webhook.handle(env.crm_request("msg_dup", &body)).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let again = env.webhook.handle(env.crm_request("msg_dup", &body)).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(json_body(&again)["status"], "duplicate");
    assert_eq!(json_body(&again)["job_id"], json_body(&first)["job_id"]);
    assert_eq!(env.messages().await.len(), 1);
}

#[tokio::test]
async fn bad_or_missing_signature_is_401_and_reveals_nothing() {
    let env = setup().await;
    let body = hour_entry("crm-42", "1");
    let other =
        SigningSecret::from_standard_webhooks(&format!("whsec_{}", STANDARD.encode([9u8; 32])))
            .unwrap();
    let forged = request(
        "/webhooks/crm",
        standard_webhooks::signed_headers(&other, "msg_f", Utc::now(), &body).unwrap(),
        &body,
    );
    let response = env.webhook.handle(forged).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let forged_body = json_body(&response);
    assert_eq!(
        forged_body,
        json!({"error": "unauthorized", "reason": "invalid signature"})
    );

    let mut unsigned = env.crm_request("msg_u", &body);
    unsigned
        .headers_mut()
        .remove(standard_webhooks::SIGNATURE_HEADER);
    let response = env.webhook.handle(unsigned).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A missing header is named (the sender must add it); nothing about the secret or the
    // expected signature is revealed, and a wrong signature still says only "invalid".
    assert_eq!(
        json_body(&response),
        json!({"error": "unauthorized", "reason": "missing header webhook-signature"})
    );
    let mut bare = env.crm_request("msg_b", &body);
    for header in [
        standard_webhooks::ID_HEADER,
        standard_webhooks::TIMESTAMP_HEADER,
        standard_webhooks::SIGNATURE_HEADER,
    ] {
        bare.headers_mut().remove(header);
    }
    let response = env.webhook.handle(bare).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "not 400: unauthenticated"
    );
    assert_eq!(
        json_body(&response),
        json!({"error": "unauthorized", "reason": "missing header webhook-id"})
    );

    // The body of a tampered request fails the same way.
    let mut tampered = env.crm_request("msg_t", &body);
    *tampered.body_mut() = hour_entry("crm-42", "9");
    assert_eq!(
        env.webhook.handle(tampered).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(env.messages().await.is_empty());
}

#[tokio::test]
async fn replay_six_minutes_later_is_400() {
    let env = setup().await;
    let request = env.crm_request("msg_replay", &hour_entry("crm-1", "1"));
    let replay = request.clone();
    assert_eq!(
        env.webhook.handle(request).await.status(),
        StatusCode::ACCEPTED
    );
    *env.skew.lock().unwrap() = TimeDelta::minutes(6);
    let response = env.webhook.handle(replay).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(&response)["reason"], "stale timestamp");
    // A never-seen delivery signed 6 minutes ago is refused too, and not enqueued.
    let late = env.crm_request("msg_late", &hour_entry("crm-2", "1"));
    assert_eq!(
        env.webhook.handle(late).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(env.messages().await.len(), 1);
}

#[tokio::test]
async fn malformed_json_and_invalid_payloads_are_400_naming_the_field() {
    let env = setup().await;
    let response = env
        .webhook
        .handle(env.crm_request("m1", b"{\"kind\": "))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(&response)["error"], "malformed_json");

    let response = env
        .webhook
        .handle(env.crm_request("m2", &hour_entry("crm-1", "1000")))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_body(&response);
    assert_eq!(body["error"], "invalid_payload");
    assert_eq!(body["field"], "payload.hours");
    assert!(body["reason"].as_str().unwrap().contains("999"), "{body}");

    let cases = [
        (
            json!({"kind": "hour_entry.upsert", "payload": {}}),
            "external_id",
        ),
        (json!({"kind": "invoice.pay", "external_id": "x"}), "kind"),
        (
            json!({"kind": "hour_entry.delete", "external_id": "x", "job_id": "mine"}),
            "job_id",
        ),
        (
            json!({"kind": "hour_entry.upsert", "external_id": "x",
                   "payload": {"user": {"code": "AA"}, "case": {"number": 1}, "event_date": "27.11.2026", "hours": "1"}}),
            "payload.event_date",
        ),
        (json!(["not", "an", "object"]), "."),
    ];
    for (i, (payload, field)) in cases.into_iter().enumerate() {
        let response = env
            .webhook
            .handle(env.crm_request(&format!("m-case-{i}"), payload.to_string().as_bytes()))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{payload}");
        assert_eq!(json_body(&response)["field"], field, "{payload}");
    }
    assert!(env.messages().await.is_empty());
}

#[tokio::test]
async fn oversized_body_is_413_before_verification() {
    let env = setup().await;
    // Unsigned and over the crm source's 4096-byte limit: 413, not 401.
    let big = vec![b' '; 5000];
    let response = env
        .webhook
        .handle(request("/webhooks/crm", HeaderMap::new(), &big))
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json_body(&response)["reason"]
            .as_str()
            .unwrap()
            .contains("4096")
    );
    // A declared length over the limit is enough.
    let mut declared = env.crm_request("m-big", &hour_entry("crm-1", "1"));
    declared
        .headers_mut()
        .insert(header::CONTENT_LENGTH, "999999".parse().unwrap());
    assert_eq!(
        env.webhook.handle(declared).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(env.messages().await.is_empty());
}

#[tokio::test]
async fn content_type_method_and_source_are_checked() {
    let env = setup().await;
    let body = hour_entry("crm-1", "1");

    let mut form = env.crm_request("m-ct", &body);
    form.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let response = env.webhook.handle(form).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    json_body(&response);
    let mut none = env.crm_request("m-ct2", &body);
    none.headers_mut().remove(header::CONTENT_TYPE);
    assert_eq!(
        env.webhook.handle(none).await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let mut get = env.crm_request("m-get", &body);
    *get.method_mut() = Method::GET;
    let response = env.webhook.handle(get).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
    json_body(&response);

    let mut unknown = env.crm_request("m-404", &body);
    *unknown.uri_mut() = "/webhooks/hubspot".parse().unwrap();
    let response = env.webhook.handle(unknown).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_body(&response)["error"], "unknown_source");
    let mut elsewhere = env.crm_request("m-404b", &body);
    *elsewhere.uri_mut() = "/admin".parse().unwrap();
    assert_eq!(
        env.webhook.handle(elsewhere).await.status(),
        StatusCode::NOT_FOUND
    );

    // Charset parameters are fine, and so is the `cargo lambda watch` Function URL prefix.
    let mut emulated = env.crm_request("m-ok", &body);
    *emulated.uri_mut() = "/lambda-url/webhook/webhooks/crm".parse().unwrap();
    emulated.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json; charset=utf-8".parse().unwrap(),
    );
    assert_eq!(
        env.webhook.handle(emulated).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(env.messages().await.len(), 1);
}

#[tokio::test]
async fn queue_unavailable_is_503_and_the_retry_is_enqueued() {
    let env = setup().await;
    let broken = env.webhook_for(&format!("{}-does-not-exist", env.queue_url));
    let body = hour_entry("crm-7", "3");
    let delivery = env.crm_request("msg_retry", &body);

    let response = broken.handle(delivery.clone()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(json_body(&response)["error"], "unavailable");
    assert!(env.messages().await.is_empty());

    // The sender retries the same delivery once the queue is back: not a duplicate.
    let response = env.webhook.handle(delivery.clone()).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{}",
        response.body()
    );
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].correlation_id, "msg_retry");
    // ... and only now is it a duplicate.
    assert_eq!(env.webhook.handle(delivery).await.status(), StatusCode::OK);
    assert_eq!(env.messages().await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Toggl Track

#[tokio::test]
async fn toggl_created_updated_deleted_become_hour_entry_jobs() {
    let env = setup().await;
    let created = env
        .webhook
        .handle(env.toggl_request(&toggl_event(101, "created", time_entry(2001, 3001, 5400))))
        .await;
    assert_eq!(created.status(), StatusCode::ACCEPTED, "{}", created.body());
    let updated = env
        .webhook
        .handle(env.toggl_request(&toggl_event(102, "updated", time_entry(2003, 3003, 1234))))
        .await;
    assert_eq!(updated.status(), StatusCode::ACCEPTED, "{}", updated.body());
    let deleted = env
        .webhook
        .handle(env.toggl_request(&toggl_event(
            103,
            "deleted",
            json!({"id": 9001, "workspace_id": WORKSPACE}),
        )))
        .await;
    assert_eq!(deleted.status(), StatusCode::ACCEPTED, "{}", deleted.body());

    let mut jobs = env.jobs().await;
    jobs.sort_by(|a, b| a.correlation_id.cmp(&b.correlation_id));
    assert_eq!(jobs.len(), 3);
    for job in &jobs {
        assert_eq!(job.source, "toggl");
        assert_eq!(job.external_id, "9001");
    }
    assert_eq!(jobs[0].correlation_id, "101");
    assert_eq!(json_body(&created)["job_id"], jobs[0].job_id);
    let Action::HourEntryUpsert(first) = &jobs[0].action else {
        panic!("{:?}", jobs[0])
    };
    assert_eq!(first.user, UserRef::Code("AA".into()));
    assert_eq!(first.case, CaseRef::Number(1));
    assert_eq!(first.phase, Some(PhaseRef::Name("Development".into())));
    assert_eq!(
        first.work_type,
        Some(WorkTypeRef::Name("Development".into()))
    );
    assert_eq!(first.hours, Decimal::new(150, 2));
    // 22:30 UTC on the 26th is 00:30 on the 27th at +02:00.
    assert_eq!(
        first.event_date,
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    );
    assert_eq!(first.description.as_deref(), Some("Checkout flow"));
    assert_eq!(first.billable, Some(true));
    assert_eq!(
        jobs[0].occurred_at,
        "2026-11-27T09:30:05Z".parse::<DateTime<Utc>>().unwrap()
    );

    let Action::HourEntryUpsert(second) = &jobs[1].action else {
        panic!("{:?}", jobs[1])
    };
    assert_eq!(second.user, UserRef::Guid("sim-user-carol".into()));
    assert_eq!(second.case, CaseRef::Guid("sim-case-erp".into()));
    assert_eq!(second.phase, None);
    assert_eq!(second.hours, Decimal::new(34, 2), "1234 s = 0.3428 h");
    assert_eq!(jobs[2].kind(), JobKind::HourEntryDelete);

    // Toggl retrying event 101 is a duplicate.
    let retry = env
        .webhook
        .handle(env.toggl_request(&toggl_event(101, "created", time_entry(2001, 3001, 5400))))
        .await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(env.messages().await.len(), 3);
}

#[tokio::test]
async fn toggl_ping_echoes_the_validation_code_and_enqueues_nothing() {
    let env = setup().await;
    let ping = json!({"event_id": 0, "created_at": "2026-11-27T09:00:00Z", "creator_id": 6,
        "metadata": {"request_type": "POST", "event_user_id": 6}, "payload": "ping",
        "subscription_id": 42, "timestamp": "2026-11-27T09:00:00Z", "validation_code": "b8a4e1c7d2"})
    .to_string();
    let response = env.webhook.handle(env.toggl_request(ping.as_bytes())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body(&response),
        json!({"validation_code": "b8a4e1c7d2"})
    );
    // An unsigned ping is refused like anything else.
    let response = env
        .webhook
        .handle(request(
            "/webhooks/toggl",
            HeaderMap::new(),
            ping.as_bytes(),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(env.messages().await.is_empty());
}

#[tokio::test]
async fn toggl_unmapped_ids_are_400_naming_them() {
    let env = setup().await;
    let response = env
        .webhook
        .handle(env.toggl_request(&toggl_event(201, "created", time_entry(7777, 3001, 3600))))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_body(&response);
    assert_eq!(body["error"], "unmapped");
    assert_eq!(body["field"], "payload.project_id");
    assert_eq!(body["toggl_id"], "7777");
    assert!(body["reason"].as_str().unwrap().contains("7777"), "{body}");

    let response = env
        .webhook
        .handle(env.toggl_request(&toggl_event(202, "created", time_entry(2001, 4444, 3600))))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(&response)["toggl_id"], "4444");

    let mut other_workspace = time_entry(2001, 3001, 3600);
    other_workspace["workspace_id"] = json!(55);
    let response = env
        .webhook
        .handle(env.toggl_request(&toggl_event(203, "created", other_workspace)))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(&response)["field"], "payload.workspace_id");
    assert!(env.messages().await.is_empty());
}

#[tokio::test]
async fn toggl_running_entries_and_bad_signatures_are_not_enqueued() {
    let env = setup().await;
    let running = env
        .webhook
        .handle(env.toggl_request(&toggl_event(
            301,
            "created",
            time_entry(2001, 3001, -1_764_000_000),
        )))
        .await;
    assert_eq!(running.status(), StatusCode::OK);
    assert_eq!(
        json_body(&running),
        json!({"status": "ignored", "reason": "time entry is still running"})
    );

    let body = toggl_event(302, "created", time_entry(2001, 3001, 3600));
    let mut forged = env.toggl_request(&body);
    forged.headers_mut().insert(
        toggl::SIGNATURE_HEADER,
        toggl::sign(&SigningSecret::from_plain("guess").unwrap(), &body)
            .parse()
            .unwrap(),
    );
    let response = env.webhook.handle(forged).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&response)["reason"], "invalid signature");
    assert!(env.messages().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Logs

// ---------------------------------------------------------------------------------------------
// Issue 12: late replays, kind allow-lists, SQS size, time zones

/// The harness's sources with `crm` (same secret and kinds) changed by `extra` keys.
fn with_crm(env: &Env, extra: Value) -> Config {
    let mut crm = json!({"format": "standard-webhooks",
        "secret_id": env.config.source("crm").unwrap().secret_id,
        "allow": {"kinds": CRM_KINDS}});
    for (k, v) in extra.as_object().unwrap() {
        crm[k] = v.clone();
    }
    let mut config = env.config.clone();
    let source = Config::from_json(&json!({"sources": {"crm": crm}}).to_string()).unwrap();
    config
        .sources
        .insert("crm".into(), source.source("crm").unwrap().clone());
    config
}

/// The harness's sources with the toggl mapping's `utc_offset` replaced by `local_time`.
fn with_toggl_time(env: &Env, local_time: Value) -> Config {
    let secret_id = env.config.source("toggl").unwrap().secret_id.clone();
    let mut toggl = json!({
        "workspaces": {WORKSPACE.to_string(): {"case": {"number": 1}}},
        "projects": {"2001": {"case": {"number": 1}}},
        "users": {"3001": {"code": "AA"}}
    });
    for (k, v) in local_time.as_object().unwrap() {
        toggl[k] = v.clone();
    }
    let source = Config::from_json(
        &json!({"sources": {"toggl": {"format": "toggl", "secret_id": secret_id, "toggl": toggl}}})
            .to_string(),
    )
    .unwrap();
    let mut config = env.config.clone();
    config
        .sources
        .insert("toggl".into(), source.source("toggl").unwrap().clone());
    config
}

#[tokio::test]
async fn toggl_late_replay_after_the_dedup_marker_expired_is_400_and_not_enqueued() {
    let env = setup().await;
    let body = toggl_event(401, "updated", time_entry(2001, 3001, 3600));
    let first = env.webhook.handle(env.toggl_request(&body)).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED, "{}", first.body());

    // A day and more later the delivery marker is gone; someone replays the signed body.
    *env.skew.lock().unwrap() = TimeDelta::hours(25);
    env.expire_delivery_markers().await;
    let replay = env.webhook.handle(env.toggl_request(&body)).await;
    assert_eq!(
        replay.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        replay.body()
    );
    assert!(!replay.headers().contains_key(header::RETRY_AFTER));
    let answer = json_body(&replay);
    assert_eq!(answer["error"], "stale_event", "{answer}");
    assert_eq!(answer["field"], "created_at", "{answer}");
    let reason = answer["reason"].as_str().unwrap();
    assert!(reason.contains("12 hours"), "names the limit: {reason}");
    assert_eq!(env.messages().await.len(), 1, "the replay is not enqueued");

    // A new event created 13 hours ago (never delivered before) is refused the same way; one
    // created 11 hours ago is still taken (Toggl retries a failed delivery for a while).
    *env.skew.lock().unwrap() = TimeDelta::zero();
    let late = toggl_event_at(
        402,
        "updated",
        time_entry(2001, 3001, 3600),
        Utc::now() - TimeDelta::hours(13),
    );
    let response = env.webhook.handle(env.toggl_request(&late)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let retried = toggl_event_at(
        403,
        "updated",
        time_entry(2001, 3001, 3600),
        Utc::now() - TimeDelta::hours(11),
    );
    let response = env.webhook.handle(env.toggl_request(&retried)).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{}",
        response.body()
    );
    assert_eq!(env.messages().await.len(), 2);
}

#[tokio::test]
async fn toggl_job_order_comes_from_the_event_not_from_the_arrival() {
    let env = setup().await;
    // A delete without `at` is ordered by the event's creation time.
    let created = Utc::now() - TimeDelta::minutes(3);
    let deleted = env
        .webhook
        .handle(env.toggl_request(&toggl_event_at(
            501,
            "deleted",
            json!({"id": 9001, "workspace_id": WORKSPACE}),
            created,
        )))
        .await;
    assert_eq!(deleted.status(), StatusCode::ACCEPTED, "{}", deleted.body());
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].occurred_at.timestamp(),
        created.timestamp(),
        "occurred_at is the event's created_at, not the time it arrived"
    );

    // An event with no time of its own cannot be ordered (nor checked for age): refused, where
    // it used to be stamped with the arrival time and so win over every earlier event.
    let mut untimed: Value = serde_json::from_slice(&toggl_event(
        502,
        "deleted",
        json!({"id": 9001, "workspace_id": WORKSPACE}),
    ))
    .unwrap();
    untimed.as_object_mut().unwrap().remove("created_at");
    untimed.as_object_mut().unwrap().remove("timestamp");
    let response = env
        .webhook
        .handle(env.toggl_request(untimed.to_string().as_bytes()))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        response.body()
    );
    assert_eq!(json_body(&response)["field"], "created_at");
    assert_eq!(env.messages().await.len(), 1);
}

#[tokio::test]
async fn a_job_larger_than_the_queue_takes_is_refused_for_good_not_503() {
    let env = setup().await;
    let config = with_crm(&env, json!({"max_body_bytes": 1024 * 1024}));
    // A queue that takes what SQS's classic limit allows (moto's default is 1 MiB).
    let queue_url = env
        .sqs
        .create_queue()
        .queue_name(unique("webhook-jobs-256k"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize,
            "262144",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let webhook = make_webhook(
        &env.sqs, &env.table, &env.sdk, &config, &env.skew, &queue_url,
    );
    // 300 KB of notes: within the source's body limit, over what SQS takes in one message.
    let body = json!({"kind": "account.upsert", "external_id": "crm-big",
        "payload": {"name": "Big Oy", "notes": "n".repeat(300 * 1024)}})
    .to_string();
    let delivery = env.crm_request("msg_big", body.as_bytes());
    let response = webhook.handle(delivery.clone()).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        response.body()
    );
    assert!(
        !response.headers().contains_key(header::RETRY_AFTER),
        "no retry can succeed"
    );
    let answer = json_body(&response);
    assert_eq!(answer["field"], "payload.notes", "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().contains("4000"),
        "names Severa's length: {answer}"
    );
    // The sender's retry gets the same answer (not a 409/503 loop), and nothing is queued.
    assert_eq!(
        webhook.handle(delivery).await.status(),
        StatusCode::BAD_REQUEST
    );
    let queued = env
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert!(queued.is_empty());
}

#[tokio::test]
async fn a_kind_outside_the_source_allow_list_is_403_naming_it() {
    let env = setup().await;
    let deactivate = json!({"kind": "user.deactivate", "external_id": "api-user",
        "payload": {"user": {"code": "API"}}})
    .to_string();
    let response = env
        .webhook
        .handle(env.crm_request("msg_deact", deactivate.as_bytes()))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "{}",
        response.body()
    );
    let answer = json_body(&response);
    assert_eq!(answer["error"], "kind_not_allowed", "{answer}");
    assert_eq!(answer["kind"], "user.deactivate", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("sources.crm.allow.kinds"),
        "{answer}"
    );
    assert!(env.messages().await.is_empty());
    // An allowed kind from the same source still goes through.
    let response = env
        .webhook
        .handle(env.crm_request("msg_ok", &hour_entry("crm-1", "1")))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(env.messages().await.len(), 1);
}

#[tokio::test]
async fn users_and_cases_outside_the_allow_list_are_403_naming_the_field() {
    let env = setup().await;
    let config = with_crm(
        &env,
        json!({"allow": {"kinds": ["hour_entry.upsert"],
                         "users": [{"code": "AA"}, {"email": "bob@example.com"}],
                         "cases": [{"number": 1}]}}),
    );
    let webhook = make_webhook(
        &env.sqs,
        &env.table,
        &env.sdk,
        &config,
        &env.skew,
        &env.queue_url,
    );
    let entry = |user: Value, case: Value| {
        json!({"kind": "hour_entry.upsert", "external_id": "crm-h",
            "payload": {"user": user, "case": case, "event_date": "2026-11-27", "hours": "1"}})
        .to_string()
    };
    let cases = [
        (
            entry(json!({"code": "ZZ"}), json!({"number": 1})),
            "payload.user",
        ),
        (
            entry(json!({"code": "AA"}), json!({"number": 2})),
            "payload.case",
        ),
    ];
    for (i, (body, field)) in cases.iter().enumerate() {
        let response = webhook
            .handle(env.crm_request(&format!("msg_ref_{i}"), body.as_bytes()))
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{body}");
        let answer = json_body(&response);
        assert_eq!(answer["error"], "reference_not_allowed", "{answer}");
        assert_eq!(answer["field"], *field, "{answer}");
    }
    assert!(env.messages().await.is_empty());
    // E-mail addresses compare without regard to case.
    let ok = entry(json!({"email": "Bob@Example.com"}), json!({"number": 1}));
    let response = webhook
        .handle(env.crm_request("msg_ref_ok", ok.as_bytes()))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{}",
        response.body()
    );
    assert_eq!(env.messages().await.len(), 1);
}

#[tokio::test]
async fn toggl_dates_follow_the_time_zone_across_daylight_saving() {
    let env = setup().await;
    let config = with_toggl_time(&env, json!({"time_zone": "Europe/Helsinki"}));
    let webhook = make_webhook(
        &env.sqs,
        &env.table,
        &env.sdk,
        &config,
        &env.skew,
        &env.queue_url,
    );
    // 21:30 UTC is 00:30 the next day in Helsinki summer time (+03:00); 22:30 UTC is 00:30 the
    // next day in winter time (+02:00). A fixed +02:00 put the summer entry on the 14th.
    for (event_id, start, date) in [
        (601, "2026-07-14T21:30:00Z", "2026-07-15"),
        (602, "2026-11-26T22:30:00Z", "2026-11-27"),
        (603, "2026-07-14T20:30:00Z", "2026-07-14"),
    ] {
        let mut entry = time_entry(2001, 3001, 1800);
        entry["id"] = json!(9100 + event_id);
        entry["start"] = json!(start);
        let response = webhook
            .handle(env.toggl_request(&toggl_event(event_id, "created", entry)))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "{}",
            response.body()
        );
        let jobs = env.jobs().await;
        let job = jobs
            .iter()
            .find(|j| j.external_id == (9100 + event_id).to_string())
            .unwrap();
        let Action::HourEntryUpsert(p) = &job.action else {
            panic!("{job:?}")
        };
        assert_eq!(p.event_date.to_string(), date, "start {start}");
    }
}
