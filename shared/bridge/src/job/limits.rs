//! Severa's field lengths, in characters: a job whose text is longer is refused with the field
//! and the limit (400 at the webhook, the DLQ at the worker) instead of failing in Severa.
//!
//! **Inferred, not documented.** Neither Severa's service contract (`shared/severa/contract`)
//! nor the API notes (`SOAP-API.md`) give maximum lengths; these values are the usual column
//! sizes of such fields, chosen generously. Change them here, in one place, when Severa's
//! documentation or a rejection says otherwise.
//!
//! They also bound every job a sender can produce: with all text fields capped, an inbound job
//! stays far below SQS's message limit ([`crate::ports::MAX_MESSAGE_BYTES`]), so a delivery
//! is never refused by the queue over and over.

/// Names (account, case, person), job title, city, address lines, website, and every
/// reference by code, name or GUID; also job, external and correlation ids.
pub const NAME: usize = 256;
/// Free text: an hour entry's description, an account's notes, a case's description.
pub const LONG_TEXT: usize = 4000;
/// An e-mail address (RFC 5321's path limit).
pub const EMAIL: usize = 254;
/// Phone numbers, VAT numbers, postal codes.
pub const SHORT_TEXT: usize = 64;
