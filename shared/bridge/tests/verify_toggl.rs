//! Toggl Track webhook signature and payload parsing.

use bridge::verify::toggl::{
    self, Action, Event, OtherEvent, PayloadError, PingAnswer, SIGNATURE_HEADER,
};
use bridge::verify::{SecretFormatError, SigningSecret, VerifyError};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use proptest::prelude::*;

// Secret and PING shape follow the example in Toggl's "Validating Received Events" docs, plus a
// `validation_code`. The expected signature was computed independently at authoring time with:
//   python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"PGuRrhCFajIyEvFlreKL",
//     sys.stdin.buffer.read(), hashlib.sha256).hexdigest())' < ping.json
// (ping.json = PING_BODY byte-for-byte, no trailing newline).
const SECRET: &str = "PGuRrhCFajIyEvFlreKL";
const PING_BODY: &[u8] = br#"{"event_id":0,"created_at":"2022-06-25T03:58:10.207820267Z","creator_id":6,"metadata":{"request_type":"POST","event_user_id":6},"payload":"ping","subscription_id":6,"timestamp":"2022-06-25T03:58:10.207820267Z","url_callback":"https://callback-url.com","validation_code":"b8a4e1c7d2"}"#;
const PING_SIG_HEX: &str = "83c972ae292c9a6f55ef0f3561aa60652888e098331cb194c15d5f34f8f93049";

fn secret() -> SigningSecret {
    SigningSecret::from_plain(SECRET).unwrap()
}

fn with_sig(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(SIGNATURE_HEADER, HeaderValue::from_str(value).unwrap());
    h
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn valid_signature_verifies() {
    let h = with_sig(&format!("sha256={PING_SIG_HEX}"));
    assert_eq!(toggl::verify(&h, PING_BODY, &secret()), Ok(()));
    assert_eq!(
        toggl::sign(&secret(), PING_BODY),
        format!("sha256={PING_SIG_HEX}")
    );
}

#[test]
fn header_name_is_case_insensitive() {
    let mut h = HeaderMap::new();
    h.insert(
        HeaderName::from_bytes(b"X-Webhook-Signature-256").unwrap(),
        HeaderValue::from_str(&format!("sha256={PING_SIG_HEX}")).unwrap(),
    );
    assert_eq!(toggl::verify(&h, PING_BODY, &secret()), Ok(()));
}

#[test]
fn uppercase_hex_is_accepted() {
    let h = with_sig(&format!("sha256={}", PING_SIG_HEX.to_uppercase()));
    assert_eq!(toggl::verify(&h, PING_BODY, &secret()), Ok(()));
}

#[test]
fn wrong_signature_body_or_secret_is_bad() {
    let mut wrong = PING_SIG_HEX.as_bytes().to_vec();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    let err =
        toggl::verify(&with_sig(&format!("sha256={wrong}")), PING_BODY, &secret()).unwrap_err();
    assert_eq!(err, VerifyError::BadSignature);
    assert_eq!(err.http_status(), StatusCode::UNAUTHORIZED);

    let mut body = PING_BODY.to_vec();
    body[10] ^= 1;
    let h = with_sig(&format!("sha256={PING_SIG_HEX}"));
    assert_eq!(
        toggl::verify(&h, &body, &secret()),
        Err(VerifyError::BadSignature)
    );
    let other = SigningSecret::from_plain("another-secret").unwrap();
    assert_eq!(
        toggl::verify(&h, PING_BODY, &other),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn missing_header_is_named_and_401() {
    let err = toggl::verify(&HeaderMap::new(), PING_BODY, &secret()).unwrap_err();
    assert_eq!(err, VerifyError::MissingHeader(SIGNATURE_HEADER));
    assert!(err.to_string().contains("x-webhook-signature-256"));
    assert_eq!(err.http_status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        err.public_message(),
        "missing header x-webhook-signature-256"
    );
}

#[test]
fn malformed_header_values() {
    for value in [
        PING_SIG_HEX.to_owned(),                   // no prefix
        format!("sha1={PING_SIG_HEX}"),            // other algorithm
        "sha256=zz".to_owned(),                    // not hex
        format!("sha256={}", &PING_SIG_HEX[..62]), // short
        "sha256=".to_owned(),
    ] {
        let err = toggl::verify(&with_sig(&value), PING_BODY, &secret()).unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::MalformedHeader {
                    header: SIGNATURE_HEADER,
                    ..
                }
            ),
            "{value}: {err:?}"
        );
        assert_eq!(err.http_status(), StatusCode::UNAUTHORIZED);
    }
    // Prefix case does not matter.
    let h = with_sig(&format!("SHA256={PING_SIG_HEX}"));
    assert_eq!(toggl::verify(&h, PING_BODY, &secret()), Ok(()));
}

#[test]
fn plain_secret_format_and_redaction() {
    assert_eq!(
        SigningSecret::from_plain("").unwrap_err(),
        SecretFormatError::Empty
    );
    assert_eq!(
        SigningSecret::from_plain("PGuRrhCFajIyEvFlreKL\n").unwrap_err(),
        SecretFormatError::SurroundingWhitespace
    );
    let s = secret();
    let mut rendered = vec![format!("{s:?}"), format!("{s}")];
    let mut wrong_body = PING_BODY.to_vec();
    wrong_body[3] ^= 1;
    let good_header = with_sig(&format!("sha256={PING_SIG_HEX}"));
    let errors = [
        toggl::verify(&good_header, &wrong_body, &s).unwrap_err(),
        toggl::verify(&with_sig(PING_SIG_HEX), PING_BODY, &s).unwrap_err(),
        toggl::verify(&HeaderMap::new(), PING_BODY, &s).unwrap_err(),
        SigningSecret::from_plain(&format!(" {SECRET}"))
            .unwrap_err()
            .into(),
    ];
    for e in &errors {
        rendered.push(format!("{e}"));
        rendered.push(format!("{e:?}"));
    }
    for text in rendered {
        assert!(!text.contains(SECRET), "{text} leaks the secret");
        assert!(!text.contains(PING_SIG_HEX), "{text} leaks the signature");
        assert!(
            !text.contains(&PING_SIG_HEX[..16]),
            "{text} leaks the signature"
        );
    }
}

#[test]
fn ping_with_validation_code_is_echoed() {
    let Event::Ping(ping) = toggl::parse_event(PING_BODY).unwrap() else {
        panic!("not a ping");
    };
    assert_eq!(ping.event_id, Some(0));
    assert_eq!(ping.subscription_id, Some(6));
    assert_eq!(ping.validation_code.as_deref(), Some("b8a4e1c7d2"));
    let PingAnswer::EchoValidationCode { body } = ping.answer() else {
        panic!("expected an echo");
    };
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed, serde_json::json!({"validation_code": "b8a4e1c7d2"}));
}

#[test]
fn ping_variants() {
    // Already validated: no code, just acknowledge.
    let body = br#"{"event_id":0,"metadata":{"request_type":"POST"},"payload":"ping","subscription_id":6}"#;
    let Event::Ping(ping) = toggl::parse_event(body).unwrap() else {
        panic!("not a ping");
    };
    assert_eq!(ping.answer(), PingAnswer::Acknowledge);

    // Only a URL: call it.
    let url = "https://api.track.toggl.com/webhooks/api/v1/validate/1/6/abc";
    let body = format!(r#"{{"event_id":0,"payload":"ping","validation_code_url":"{url}"}}"#);
    let Event::Ping(ping) = toggl::parse_event(body.as_bytes()).unwrap() else {
        panic!("not a ping");
    };
    assert_eq!(
        ping.answer(),
        PingAnswer::CallValidationUrl {
            url: url.to_owned()
        }
    );
}

// Shaped like Toggl deliveries: ids in `metadata` are strings, `payload` is the v9 time entry.
const CREATED: &str = r#"{
  "event_id": 8023169274704072,
  "created_at": "2024-03-05T09:15:02.120Z",
  "creator_id": 9547721,
  "metadata": {
    "action": "created", "event_user_id": "9547721", "model": "time_entry",
    "path": "/api/v9/workspaces/7435584/time_entries", "request_type": "POST",
    "time_entry_id": "3050537739", "workspace_id": "7435584"
  },
  "payload": {
    "id": 3050537739, "workspace_id": 7435584, "project_id": 201, "task_id": null,
    "user_id": 9547721, "billable": true, "start": "2024-03-05T09:15:00+00:00", "stop": null,
    "duration": -1709630100, "description": "Customer workshop", "tags": ["onsite"],
    "at": "2024-03-05T09:15:01Z", "server_deleted_at": null
  },
  "subscription_id": 6,
  "timestamp": "2024-03-05T09:15:02.2Z"
}"#;

#[test]
fn time_entry_created_running() {
    let Event::TimeEntry(ev) = toggl::parse_event(CREATED.as_bytes()).unwrap() else {
        panic!("not a time entry event");
    };
    assert_eq!(ev.event_id, Some(8_023_169_274_704_072));
    assert_eq!(ev.action, Action::Created);
    assert_eq!(ev.created_at, Some(utc("2024-03-05T09:15:02.120Z")));
    let e = &ev.entry;
    assert_eq!(e.id, 3_050_537_739);
    assert_eq!(e.workspace_id, 7_435_584);
    assert_eq!(e.project_id, Some(201));
    assert_eq!(e.task_id, None);
    assert_eq!(e.user_id, Some(9_547_721));
    assert_eq!(e.start, Some(utc("2024-03-05T09:15:00Z")));
    assert_eq!(e.stop, None);
    assert_eq!(e.duration, Some(-1_709_630_100));
    assert!(e.is_running());
    assert_eq!(e.description.as_deref(), Some("Customer workshop"));
    assert_eq!(e.billable, Some(true));
    assert_eq!(e.tags, vec!["onsite".to_owned()]);
    assert_eq!(e.at, Some(utc("2024-03-05T09:15:01Z")));
}

#[test]
fn time_entry_updated_stopped() {
    let body = CREATED
        .replace(r#""action": "created""#, r#""action": "updated""#)
        .replace(r#""stop": null"#, r#""stop": "2024-03-05T11:45:00+02:00""#)
        .replace("-1709630100", "1800");
    let Event::TimeEntry(ev) = toggl::parse_event(body.as_bytes()).unwrap() else {
        panic!("not a time entry event");
    };
    assert_eq!(ev.action, Action::Updated);
    assert_eq!(ev.entry.stop, Some(utc("2024-03-05T09:45:00Z")));
    assert_eq!(ev.entry.duration, Some(1800));
    assert!(!ev.entry.is_running());
}

#[test]
fn time_entry_deleted_with_ids_only_in_metadata() {
    let body = br#"{"event_id":77,"metadata":{"action":"deleted","model":"time_entry",
        "time_entry_id":"3050537739","workspace_id":"7435584"},"payload":null}"#;
    let Event::TimeEntry(ev) = toggl::parse_event(body).unwrap() else {
        panic!("not a time entry event");
    };
    assert_eq!(ev.action, Action::Deleted);
    assert_eq!(ev.entry.id, 3_050_537_739);
    assert_eq!(ev.entry.workspace_id, 7_435_584);
    assert_eq!(ev.entry.project_id, None);
    assert_eq!(ev.entry.duration, None);
    assert!(ev.entry.tags.is_empty());
}

#[test]
fn other_entities_are_passed_over() {
    let body = br#"{"event_id":5,"metadata":{"action":"created","model":"project","workspace_id":"1"},"payload":{"id":9,"name":"P"}}"#;
    assert_eq!(
        toggl::parse_event(body).unwrap(),
        Event::Other(OtherEvent {
            event_id: Some(5),
            model: Some("project".to_owned()),
            action: Some("created".to_owned()),
        })
    );
}

#[test]
fn unparseable_payloads() {
    assert_eq!(
        toggl::parse_event(b"not json"),
        Err(PayloadError::NotJsonObject)
    );
    assert_eq!(toggl::parse_event(b"[1]"), Err(PayloadError::NotJsonObject));
    let no_id =
        br#"{"metadata":{"action":"updated","model":"time_entry"},"payload":{"workspace_id":1}}"#;
    assert_eq!(
        toggl::parse_event(no_id),
        Err(PayloadError::MissingField("payload.id"))
    );
    let bad_start = CREATED.replace("2024-03-05T09:15:00+00:00", "yesterday");
    assert_eq!(
        toggl::parse_event(bad_start.as_bytes()),
        Err(PayloadError::InvalidField("start"))
    );
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        key in "[!-~]{1,40}",
    ) {
        let s = SigningSecret::from_plain(&key).unwrap();
        let h = with_sig(&toggl::sign(&s, &body));
        prop_assert_eq!(toggl::verify(&h, &body, &s), Ok(()));
    }
}
