//! The webhook verifiers, against an independent HMAC-SHA256 oracle.

use crate::{fields, text};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bridge::verify::standard_webhooks::{
    self, DEFAULT_TOLERANCE, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use bridge::verify::{SigningSecret, VerifyError, toggl as toggl_verify};
use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, HeaderValue, StatusCode};
use sha2::Sha256;

/// The Standard Webhooks key the target verifies with.
const KEY: &[u8; 32] = b"fuzz-signing-key-0123456789abcde";
/// Another key: nothing signed with it may verify under [`KEY`].
const OTHER_KEY: &[u8; 32] = b"some-other-signing-key-012345678";
/// Toggl's plain-text subscription secret.
const TOGGL_SECRET: &str = "fuzz toggl secret";

/// The fixed "now" of every verification.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn secret(key: &[u8]) -> SigningSecret {
    SigningSecret::from_bytes(key.to_vec()).unwrap_or_else(|e| panic!("test key: {e}"))
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// A header value as the verifier would see it, when the value can be one at all.
fn header(value: &str) -> Option<HeaderValue> {
    let v = HeaderValue::from_str(value).ok()?;
    v.to_str().is_ok().then_some(v)
}

/// `webhook-id`, `webhook-timestamp`, `webhook-signature` and the body, one per line (the body
/// is the rest). Checks:
/// - anything accepted carries a `v1` entry that is the HMAC of `id.timestamp.body` under the
///   key, with the timestamp inside the tolerance (the independent oracle);
/// - refusals are 400/401;
/// - the `HeaderMap` path agrees with the parts path;
/// - a delivery signed with the key for this id and body verifies, also with the fuzzed entries
///   beside it; a changed body, id or key, or a stale timestamp, does not.
pub fn standard(data: &[u8]) {
    let [id, ts, sigs, body] = fields::<4>(data);
    let (id, ts, sigs) = (text(id), text(ts), text(sigs));
    let key = secret(KEY);
    let result =
        standard_webhooks::verify_parts(&id, &ts, &sigs, body, &key, now(), DEFAULT_TOLERANCE);
    match &result {
        Ok(verified) => {
            assert_eq!(verified.webhook_id, id);
            assert_eq!(ts.parse::<i64>().ok(), Some(verified.timestamp.timestamp()));
            let skew = now() - verified.timestamp;
            assert!(
                skew.abs() <= DEFAULT_TOLERANCE,
                "accepted a stale timestamp"
            );
            let expected = hmac(KEY, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
            let carried = sigs.split_ascii_whitespace().any(|entry| {
                entry
                    .strip_prefix("v1,")
                    .and_then(|b64| STANDARD.decode(b64).ok())
                    .is_some_and(|tag| tag == expected)
            });
            assert!(carried, "accepted without the content's HMAC: {sigs:?}");
        }
        Err(e) => check_refusal(e),
    }

    if let (Some(i), Some(t), Some(s)) = (header(&id), header(&ts), header(&sigs)) {
        let mut headers = HeaderMap::new();
        headers.insert(ID_HEADER, i);
        headers.insert(TIMESTAMP_HEADER, t);
        headers.insert(SIGNATURE_HEADER, s);
        let via_headers = standard_webhooks::verify(&headers, body, &key, now(), DEFAULT_TOLERANCE);
        assert_eq!(via_headers, result, "headers and parts disagree");
    }

    if id.is_empty() {
        return;
    }
    // Signed by us, within the window (the offset comes from the input).
    let offset = i64::from(body.first().copied().unwrap_or(0)) - 128;
    let at = now() - TimeDelta::seconds(offset);
    let at_text = at.timestamp().to_string();
    let signature = standard_webhooks::sign(&key, &id, at, body);
    let check = |id: &str, ts: &str, sigs: &str, body: &[u8], key: &SigningSecret| {
        standard_webhooks::verify_parts(id, ts, sigs, body, key, now(), DEFAULT_TOLERANCE)
    };
    let accepted = check(&id, &at_text, &signature, body, &key);
    assert_eq!(accepted.map(|v| v.webhook_id), Ok(id.clone()));
    let beside = format!("{sigs} {signature} v1a,{sigs}");
    assert!(check(&id, &at_text, &beside, body, &key).is_ok());
    let mut changed = body.to_vec();
    match changed.first_mut() {
        Some(b) => *b ^= 1,
        None => changed.push(b'{'),
    }
    assert_eq!(
        check(&id, &at_text, &signature, &changed, &key),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        check(&format!("{id}x"), &at_text, &signature, body, &key),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        check(&id, &at_text, &signature, body, &secret(OTHER_KEY)),
        Err(VerifyError::BadSignature)
    );
    let stale = now() - DEFAULT_TOLERANCE - TimeDelta::seconds(1);
    let stale_sig = standard_webhooks::sign(&key, &id, stale, body);
    assert!(matches!(
        check(&id, &stale.timestamp().to_string(), &stale_sig, body, &key),
        Err(VerifyError::StaleTimestamp { .. })
    ));
    // Outbound deliveries: headers we sign must verify at the receiver.
    if let Ok(headers) = standard_webhooks::signed_headers(&key, &id, at, body) {
        let received = standard_webhooks::verify(&headers, body, &key, now(), DEFAULT_TOLERANCE);
        assert_eq!(
            received.map(|v| v.webhook_id),
            Ok(id.clone()),
            "signed_headers made headers that do not verify"
        );
    }
    // The id line doubles as a configured secret's text: parsing it must not panic.
    let _ = SigningSecret::from_standard_webhooks(&id);
}

/// `X-Webhook-Signature-256` and the body, one per line. Checks:
/// - anything accepted is `sha256=` (any case) and the hex HMAC of the body under the secret;
/// - every refusal is a 401;
/// - the `HeaderMap` path agrees with the value path;
/// - our own signature of the body verifies (also upper-cased); a changed body or another
///   secret does not.
pub fn toggl(data: &[u8]) {
    let [signature, body] = fields::<2>(data);
    let signature = text(signature);
    let key = SigningSecret::from_plain(TOGGL_SECRET).unwrap_or_else(|e| panic!("{e}"));
    let result = toggl_verify::verify_signature(&signature, body, &key);
    match &result {
        Ok(()) => {
            let expected = hmac(TOGGL_SECRET.as_bytes(), &[body]);
            let prefix_ok = signature
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("sha256="));
            let tag = signature.get(7..).and_then(|h| hex::decode(h).ok());
            assert!(
                prefix_ok && tag == Some(expected),
                "accepted a signature that is not the body's HMAC: {signature:?}"
            );
        }
        Err(e) => {
            assert_eq!(e.http_status(), StatusCode::UNAUTHORIZED, "{e}");
            check_refusal(e);
        }
    }
    if let Some(value) = header(&signature) {
        let mut headers = HeaderMap::new();
        headers.insert(toggl_verify::SIGNATURE_HEADER, value);
        assert_eq!(
            toggl_verify::verify(&headers, body, &key),
            result,
            "headers and value disagree"
        );
    }
    let ours = toggl_verify::sign(&key, body);
    assert_eq!(toggl_verify::verify_signature(&ours, body, &key), Ok(()));
    assert_eq!(
        toggl_verify::verify_signature(&ours.to_ascii_uppercase(), body, &key),
        Ok(())
    );
    let mut changed = body.to_vec();
    changed.push(b'\n');
    assert_eq!(
        toggl_verify::verify_signature(&ours, &changed, &key),
        Err(VerifyError::BadSignature)
    );
    let other = SigningSecret::from_plain("another secret").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        toggl_verify::verify_signature(&ours, body, &other),
        Err(VerifyError::BadSignature)
    );
    // The signature line doubles as a configured secret's text.
    if let Ok(configured) = SigningSecret::from_plain(&signature) {
        assert_eq!(signature.trim(), signature);
        let signed = toggl_verify::sign(&configured, body);
        assert_eq!(
            toggl_verify::verify_signature(&signed, body, &configured),
            Ok(())
        );
    }
}

/// A refusal answers 400 or 401 with a text safe to show (it names at most a header).
fn check_refusal(e: &VerifyError) {
    let status = e.http_status();
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED,
        "{e}: {status}"
    );
    assert!(!e.public_message().is_empty());
}
