//! Signing as the senders sign (written from the formats' specifications, not with
//! `bridge::verify`, so the demo checks the verifier against an independent implementation),
//! and checking the signature of an outbound delivery as a receiver would.

use crate::error::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>> {
    let mut mac = HmacSha256::new_from_slice(key).context("HMAC key")?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().to_vec())
}

/// Toggl Track: `X-Webhook-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, keyed
/// with the subscription secret as given.
pub fn toggl_signature(secret: &str, body: &[u8]) -> Result<String> {
    Ok(format!(
        "sha256={}",
        hex::encode(hmac(secret.as_bytes(), &[body])?)
    ))
}

/// The key bytes of a Standard Webhooks secret (`whsec_<base64>`).
fn standard_key(secret: &str) -> Result<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .context("the Standard Webhooks secret is not whsec_<base64>")
}

/// Standard Webhooks headers for `body`: `webhook-id`, `webhook-timestamp` and
/// `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
pub fn standard_webhooks_headers(
    secret: &str,
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>> {
    let ts = timestamp.to_string();
    let mac = hmac(
        &standard_key(secret)?,
        &[webhook_id.as_bytes(), b".", ts.as_bytes(), b".", body],
    )?;
    Ok(vec![
        ("webhook-id", webhook_id.to_string()),
        ("webhook-timestamp", ts),
        ("webhook-signature", format!("v1,{}", STANDARD.encode(mac))),
    ])
}

/// True when one of the space-separated `v1,<sig>` entries matches (compared in constant time).
pub fn standard_webhooks_valid(
    secret: &str,
    webhook_id: &str,
    timestamp: &str,
    body: &[u8],
    signature_header: &str,
) -> bool {
    let Ok(key) = standard_key(secret) else {
        return false;
    };
    signature_header.split_whitespace().any(|entry| {
        let Some(signature) = entry
            .strip_prefix("v1,")
            .and_then(|sig| STANDARD.decode(sig).ok())
        else {
            return false;
        };
        let Ok(mut mac) = HmacSha256::new_from_slice(&key) else {
            return false;
        };
        for part in [
            webhook_id.as_bytes(),
            b".",
            timestamp.as_bytes(),
            b".",
            body,
        ] {
            mac.update(part);
        }
        mac.verify_slice(&signature).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's example.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn matches_the_specification_example() {
        let headers = standard_webhooks_headers(SECRET, ID, TS, BODY).unwrap();
        assert_eq!(
            headers[2].1,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(standard_webhooks_valid(
            SECRET,
            ID,
            "1614265330",
            BODY,
            &headers[2].1
        ));
        assert!(!standard_webhooks_valid(
            SECRET,
            ID,
            "1614265331",
            BODY,
            &headers[2].1
        ));
    }

    #[test]
    fn toggl_is_hex_hmac_of_the_body() {
        let sig = toggl_signature("secret", b"{}").unwrap();
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64, "{sig}");
    }
}
