//! Standard Webhooks verification against the spec's published vector and the failure modes the
//! `webhook` Lambda must tell apart.

use bridge::verify::standard_webhooks::{
    self, DEFAULT_TOLERANCE, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verified,
};
use bridge::verify::{SecretFormatError, SigningSecret, VerifyError};
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use proptest::prelude::*;

// Test vector from the Standard Webhooks reference Rust library's `test_sign`
// (github.com/standard-webhooks/standard-webhooks, libraries/rust/src/lib.rs); the same values
// appear in the other reference libraries' tests. Cross-checked with Python's hmac/hashlib/base64.
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const SECRET_B64: &str = "C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const MSG_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const TIMESTAMP: i64 = 1_649_367_553;
const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
const SIGNATURE_B64: &str = "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

fn secret() -> SigningSecret {
    SigningSecret::from_standard_webhooks(SECRET).unwrap()
}

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap()
}

fn headers(id: &str, ts: &str, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ID_HEADER, HeaderValue::from_str(id).unwrap());
    h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).unwrap());
    h.insert(SIGNATURE_HEADER, HeaderValue::from_str(sig).unwrap());
    h
}

fn vector_headers() -> HeaderMap {
    headers(MSG_ID, &TIMESTAMP.to_string(), SIGNATURE)
}

fn verify_at(h: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<Verified, VerifyError> {
    standard_webhooks::verify(h, body, &secret(), now, DEFAULT_TOLERANCE)
}

fn verify_vector(h: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
    verify_at(h, body, at(TIMESTAMP))
}

#[test]
fn sign_reproduces_the_spec_vector() {
    assert_eq!(
        standard_webhooks::sign(&secret(), MSG_ID, at(TIMESTAMP), BODY),
        SIGNATURE
    );
}

#[test]
fn valid_vector_verifies() {
    let v = verify_vector(&vector_headers(), BODY).unwrap();
    assert_eq!(
        v,
        Verified {
            webhook_id: MSG_ID.to_owned(),
            timestamp: at(TIMESTAMP)
        }
    );
}

#[test]
fn header_names_are_case_insensitive() {
    let mut h = HeaderMap::new();
    h.insert(
        http::HeaderName::from_bytes(b"Webhook-Id").unwrap(),
        HeaderValue::from_static(MSG_ID),
    );
    h.insert(
        http::HeaderName::from_bytes(b"WEBHOOK-TIMESTAMP").unwrap(),
        HeaderValue::from_str(&TIMESTAMP.to_string()).unwrap(),
    );
    h.insert(
        http::HeaderName::from_bytes(b"Webhook-Signature").unwrap(),
        HeaderValue::from_static(SIGNATURE),
    );
    assert!(verify_vector(&h, BODY).is_ok());
}

#[test]
fn one_byte_body_change_is_bad_signature() {
    for i in 0..BODY.len() {
        let mut body = BODY.to_vec();
        body[i] ^= 0x01;
        let err = verify_vector(&vector_headers(), &body).unwrap_err();
        assert_eq!(err, VerifyError::BadSignature);
        assert_eq!(err.http_status(), StatusCode::UNAUTHORIZED);
    }
    let mut longer = BODY.to_vec();
    longer.push(b'\n');
    assert_eq!(
        verify_vector(&vector_headers(), &longer),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn changed_id_or_timestamp_is_bad_signature() {
    let h = headers("msg_other", &TIMESTAMP.to_string(), SIGNATURE);
    assert_eq!(verify_vector(&h, BODY), Err(VerifyError::BadSignature));
    let h = headers(MSG_ID, &(TIMESTAMP + 1).to_string(), SIGNATURE);
    assert_eq!(verify_vector(&h, BODY), Err(VerifyError::BadSignature));
}

#[test]
fn wrong_secret_is_bad_signature() {
    let other = SigningSecret::from_bytes(vec![7; 32]).unwrap();
    let err = standard_webhooks::verify(
        &vector_headers(),
        BODY,
        &other,
        at(TIMESTAMP),
        DEFAULT_TOLERANCE,
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::BadSignature);
}

#[test]
fn any_of_several_signatures_may_match() {
    let sig = format!(
        "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q= {SIGNATURE} v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE="
    );
    let h = headers(MSG_ID, &TIMESTAMP.to_string(), &sig);
    assert!(verify_vector(&h, BODY).is_ok());
}

#[test]
fn second_of_two_signatures_matching_is_ok() {
    let sig = format!("v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q= {SIGNATURE}");
    let h = headers(MSG_ID, &TIMESTAMP.to_string(), &sig);
    assert!(verify_vector(&h, BODY).is_ok());
}

#[test]
fn several_signature_header_lines_are_one_list() {
    let mut h = headers(
        MSG_ID,
        &TIMESTAMP.to_string(),
        "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
    );
    h.append(SIGNATURE_HEADER, HeaderValue::from_static(SIGNATURE));
    assert!(verify_vector(&h, BODY).is_ok());
}

#[test]
fn only_other_versions_is_bad_signature() {
    // The right bytes under a version we do not implement must not count.
    let h = headers(
        MSG_ID,
        &TIMESTAMP.to_string(),
        &format!("v2,{SIGNATURE_B64}"),
    );
    assert_eq!(verify_vector(&h, BODY), Err(VerifyError::BadSignature));
    let h = headers(
        MSG_ID,
        &TIMESTAMP.to_string(),
        &format!("v1a,{SIGNATURE_B64} v2,{SIGNATURE_B64}"),
    );
    assert_eq!(verify_vector(&h, BODY), Err(VerifyError::BadSignature));
}

#[test]
fn garbage_entries_are_ignored_not_fatal() {
    let sig = format!("nonsense v1,!!notbase64!! v1, {SIGNATURE}");
    let h = headers(MSG_ID, &TIMESTAMP.to_string(), &sig);
    assert!(verify_vector(&h, BODY).is_ok());
    let h = headers(MSG_ID, &TIMESTAMP.to_string(), "nonsense v1,!!notbase64!!");
    assert_eq!(verify_vector(&h, BODY), Err(VerifyError::BadSignature));
}

#[test]
fn missing_headers_are_named() {
    for name in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
        let mut h = vector_headers();
        h.remove(name);
        let err = verify_vector(&h, BODY).unwrap_err();
        assert_eq!(err, VerifyError::MissingHeader(name));
        assert!(err.to_string().contains(name), "{err}");
        // Unauthenticated, as the README promises, and the answer says which header is missing.
        assert_eq!(err.http_status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(err.public_message(), format!("missing header {name}"));
    }
    // A delivery with none of the headers at all names the first one it lacks.
    let err = verify_vector(&http::HeaderMap::new(), BODY).unwrap_err();
    assert_eq!(err.http_status(), StatusCode::UNAUTHORIZED);
    assert_eq!(err.public_message(), format!("missing header {ID_HEADER}"));
}

#[test]
fn six_minutes_old_or_ahead_is_stale() {
    for (now, expected_skew) in [
        (at(TIMESTAMP + 6 * 60), 360),
        (at(TIMESTAMP - 6 * 60), -360),
    ] {
        let err = verify_at(&vector_headers(), BODY, now).unwrap_err();
        assert_eq!(
            err,
            VerifyError::StaleTimestamp {
                skew_seconds: expected_skew,
                tolerance_seconds: 300
            }
        );
        assert_eq!(err.http_status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.public_message(), "stale timestamp");
    }
    let old = verify_at(&vector_headers(), BODY, at(TIMESTAMP + 360)).unwrap_err();
    assert!(old.to_string().contains("too old by 360s"), "{old}");
    let ahead = verify_at(&vector_headers(), BODY, at(TIMESTAMP - 360)).unwrap_err();
    assert!(ahead.to_string().contains("future by 360s"), "{ahead}");
}

#[test]
fn within_tolerance_is_accepted_at_both_edges() {
    for now in [
        at(TIMESTAMP + 300),
        at(TIMESTAMP - 300),
        at(TIMESTAMP + 299),
    ] {
        assert!(verify_at(&vector_headers(), BODY, now).is_ok());
    }
    let tight = standard_webhooks::verify(
        &vector_headers(),
        BODY,
        &secret(),
        at(TIMESTAMP + 2),
        TimeDelta::seconds(1),
    );
    assert!(matches!(tight, Err(VerifyError::StaleTimestamp { .. })));
}

#[test]
fn forged_and_stale_reports_bad_signature_not_stale() {
    let h = headers(
        MSG_ID,
        &TIMESTAMP.to_string(),
        "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
    );
    assert_eq!(
        verify_at(&h, BODY, at(TIMESTAMP + 3600)),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn non_numeric_timestamp_is_malformed() {
    for ts in ["soon", "1649367553.5", "", "1e9", "99999999999999999999"] {
        let h = headers(MSG_ID, ts, SIGNATURE);
        let err = verify_vector(&h, BODY).unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::MalformedHeader {
                    header: TIMESTAMP_HEADER,
                    ..
                }
            ),
            "{ts:?}: {err:?}"
        );
        assert_eq!(err.http_status(), StatusCode::BAD_REQUEST);
    }
}

#[test]
fn empty_id_or_signature_is_malformed() {
    let h = headers("", &TIMESTAMP.to_string(), SIGNATURE);
    assert!(matches!(
        verify_vector(&h, BODY),
        Err(VerifyError::MalformedHeader {
            header: ID_HEADER,
            ..
        })
    ));
    let h = headers(MSG_ID, &TIMESTAMP.to_string(), "  ");
    let err = verify_vector(&h, BODY).unwrap_err();
    assert!(matches!(
        err,
        VerifyError::MalformedHeader {
            header: SIGNATURE_HEADER,
            ..
        }
    ));
    assert_eq!(err.http_status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn secret_format_errors() {
    assert_eq!(
        SigningSecret::from_standard_webhooks(SECRET_B64).unwrap_err(),
        SecretFormatError::MissingWhsecPrefix
    );
    assert_eq!(
        SigningSecret::from_standard_webhooks("whsec_not*base64!").unwrap_err(),
        SecretFormatError::InvalidBase64
    );
    assert_eq!(
        SigningSecret::from_standard_webhooks("whsec_c2hvcnQ=").unwrap_err(),
        SecretFormatError::BadKeyLength
    );
    assert_eq!(
        SigningSecret::from_standard_webhooks("").unwrap_err(),
        SecretFormatError::Empty
    );
    assert_eq!(
        SigningSecret::from_standard_webhooks(&format!("{SECRET}\n")).unwrap_err(),
        SecretFormatError::SurroundingWhitespace
    );
    let as_verify: VerifyError = SecretFormatError::InvalidBase64.into();
    assert_eq!(as_verify.http_status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn nothing_printable_leaks_the_secret_or_signature() {
    let s = secret();
    let forbidden = [SECRET, SECRET_B64, SIGNATURE, SIGNATURE_B64, "C2FVsBQI"];
    let mut rendered = vec![format!("{s:?}"), format!("{s}")];

    let mut errors = vec![
        VerifyError::MissingHeader(SIGNATURE_HEADER),
        VerifyError::BadSignature,
        VerifyError::StaleTimestamp {
            skew_seconds: 360,
            tolerance_seconds: 300,
        },
    ];
    // Errors produced from real inputs that contain the secret or the valid signature.
    for bad in [
        SECRET_B64.to_owned(),
        format!("whsec_{SECRET_B64}*"),
        format!(" {SECRET}"),
        "whsec_".to_owned() + &SECRET_B64[..8],
    ] {
        errors.push(
            SigningSecret::from_standard_webhooks(&bad)
                .unwrap_err()
                .into(),
        );
    }
    let mut body = BODY.to_vec();
    body[0] = b'[';
    errors.push(verify_vector(&vector_headers(), &body).unwrap_err());
    errors.push(verify_at(&vector_headers(), BODY, at(TIMESTAMP + 999)).unwrap_err());
    errors.push(verify_vector(&headers(MSG_ID, "x", SIGNATURE), BODY).unwrap_err());
    errors.push(
        verify_vector(
            &headers(
                MSG_ID,
                &TIMESTAMP.to_string(),
                &format!("v2,{SIGNATURE_B64}"),
            ),
            BODY,
        )
        .unwrap_err(),
    );
    for e in &errors {
        rendered.push(format!("{e}"));
        rendered.push(format!("{e:?}"));
        rendered.push(e.public_message());
    }
    for text in &rendered {
        for f in forbidden {
            assert!(!text.contains(f), "{text:?} leaks {f:?}");
        }
    }
    assert_eq!(format!("{s:?}"), "SigningSecret([REDACTED])");
    assert_eq!(format!("{s}"), "[REDACTED]");
}

#[test]
fn signed_headers_verify() {
    let s = SigningSecret::from_bytes(vec![42; 32]).unwrap();
    let now = at(1_700_000_000);
    let h = standard_webhooks::signed_headers(&s, "evt_1", now, b"{}").unwrap();
    let v = standard_webhooks::verify(&h, b"{}", &s, now, DEFAULT_TOLERANCE).unwrap();
    assert_eq!(v.webhook_id, "evt_1");
    assert!(standard_webhooks::signed_headers(&s, "bad\nid", now, b"{}").is_err());
}

/// Fuzzing regression (FUZZING.md, finding 1): `signed_headers` accepted a non-ASCII id that
/// `HeaderValue` stores as obs-text, producing headers `verify` refuses ("not visible ASCII").
#[test]
fn signed_headers_refuse_ids_receivers_cannot_read() {
    let s = SigningSecret::from_bytes(vec![42; 32]).unwrap();
    let now = at(1_700_000_000);
    for id in ["\u{FFFD}", "msg_ä", "évt"] {
        assert_eq!(
            standard_webhooks::signed_headers(&s, id, now, b"{}").unwrap_err(),
            VerifyError::MalformedHeader {
                header: ID_HEADER,
                reason: "not a valid header value"
            },
            "{id:?}"
        );
    }
    // Visible ASCII, spaces and tabs still go through and verify.
    let h = standard_webhooks::signed_headers(&s, "msg 1\tx", now, b"{}").unwrap();
    assert!(standard_webhooks::verify(&h, b"{}", &s, now, DEFAULT_TOLERANCE).is_ok());
}

proptest! {
    #[test]
    fn sign_then_verify_parts_round_trips(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        id in any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        key in proptest::collection::vec(any::<u8>(), 1..80),
        ts in 0i64..4_000_000_000,
    ) {
        let s = SigningSecret::from_bytes(key).unwrap();
        let when = at(ts);
        let sig = standard_webhooks::sign(&s, &id, when, &body);
        let v = standard_webhooks::verify_parts(
            &id, &ts.to_string(), &sig, &body, &s, when, DEFAULT_TOLERANCE,
        ).unwrap();
        prop_assert_eq!(v.webhook_id, id);
        prop_assert_eq!(v.timestamp, when);
    }

    #[test]
    fn signed_headers_round_trip_and_detect_tampering(
        body in proptest::collection::vec(any::<u8>(), 1..512),
        id in "[!-~]{1,64}",
        flip in any::<proptest::sample::Index>(),
    ) {
        let s = secret();
        let now = at(TIMESTAMP);
        let h = standard_webhooks::signed_headers(&s, &id, now, &body).unwrap();
        prop_assert!(standard_webhooks::verify(&h, &body, &s, now, DEFAULT_TOLERANCE).is_ok());
        let mut tampered = body.clone();
        tampered[flip.index(body.len())] ^= 0x80;
        prop_assert_eq!(
            standard_webhooks::verify(&h, &tampered, &s, now, DEFAULT_TOLERANCE),
            Err(VerifyError::BadSignature)
        );
    }
}
