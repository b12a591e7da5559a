//! Webhook authenticity checks for the `webhook` Lambda: prove a delivery came from the sender that
//! holds the shared secret before anything is enqueued.
//!
//! - [`standard_webhooks`]: the Standard Webhooks / Svix scheme (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<base64>`), with replay protection by timestamp tolerance.
//! - [`toggl`]: Toggl Track's `X-Webhook-Signature-256: sha256=<hex>` plus its event payloads
//!   (PING/validation and time-entry events).
//!
//! Everything works on the RAW request bytes: re-serialised JSON would not match the signature.
//! Errors carry detail for logs only; [`VerifyError::http_status`] and
//! [`VerifyError::public_message`] are what a handler may show the caller.

mod error;
mod mac;
mod secret;
pub mod standard_webhooks;
pub mod toggl;

pub use error::VerifyError;
pub use secret::{SecretFormatError, SigningSecret};
