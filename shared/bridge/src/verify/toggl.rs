//! Toggl Track webhooks: signature check and the events we act on.
//!
//! Toggl signs the raw body with HMAC-SHA256 keyed by the subscription's `secret` string and sends
//! `X-Webhook-Signature-256: sha256=<hex>`. There is no timestamp, so there is no replay window:
//! deduplicate on `event_id` downstream. A subscription only receives events after it is validated,
//! either synchronously (answer its PING with `{"validation_code": "<code>"}`) or asynchronously
//! (GET `/webhooks/api/v1/validate/{workspace_id}/{subscription_id}/{validation_code}`).
//!
//! Payload model (from Toggl's Webhooks API docs and observed deliveries): a JSON object with
//! `event_id`, `created_at`, `creator_id`, `metadata` (`model`, `action`, `path`, `workspace_id`,
//! `time_entry_id`, ... — ids in `metadata` arrive as strings), `payload` (the entity as the v9 API
//! returns it, or the string `"ping"`), `subscription_id`, `timestamp`. The docs do not promise
//! these shapes, so parsing here is tolerant: unknown fields are ignored, absent or `null`
//! optional fields become `None`, ids are accepted as numbers or numeric strings, and only a field
//! we need that is present with the wrong type is an error.

use chrono::{DateTime, Utc};
use hmac::Mac as _;
use http::HeaderMap;
use serde_json::{Map, Value};

use super::{SigningSecret, VerifyError, mac};

/// Carries `sha256=<hex HMAC-SHA256 of the raw body>`.
pub const SIGNATURE_HEADER: &str = "x-webhook-signature-256";

const SIGNATURE_PREFIX: &str = "sha256=";

/// Verifies `X-Webhook-Signature-256` against the RAW body (header name matched
/// case-insensitively; hex digits of either case accepted).
pub fn verify(
    headers: &HeaderMap,
    raw_body: &[u8],
    secret: &SigningSecret,
) -> Result<(), VerifyError> {
    let signature = mac::required_header(headers, SIGNATURE_HEADER)?;
    verify_signature(signature, raw_body, secret)
}

/// [`verify`] on the header's value.
pub fn verify_signature(
    signature: &str,
    raw_body: &[u8],
    secret: &SigningSecret,
) -> Result<(), VerifyError> {
    let hex_digits = signature
        .get(..SIGNATURE_PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(SIGNATURE_PREFIX))
        .and_then(|_| signature.get(SIGNATURE_PREFIX.len()..))
        .ok_or_else(|| malformed("does not start with `sha256=`"))?;
    let tag = hex::decode(hex_digits).map_err(|_| malformed("not hexadecimal"))?;
    if tag.len() != 32 {
        return Err(malformed("not 64 hex digits"));
    }
    let mut mac = mac::keyed(secret);
    mac.update(raw_body);
    // Constant-time comparison.
    mac.verify_slice(&tag)
        .map_err(|_| VerifyError::BadSignature)
}

/// The header value Toggl would send for `raw_body`, for simulators and tests.
pub fn sign(secret: &SigningSecret, raw_body: &[u8]) -> String {
    let mut mac = mac::keyed(secret);
    mac.update(raw_body);
    format!(
        "{SIGNATURE_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn malformed(reason: &'static str) -> VerifyError {
    VerifyError::MalformedHeader {
        header: SIGNATURE_HEADER,
        reason,
    }
}

/// A (verified) Toggl delivery, classified by what we do with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Setup/test ping; see [`Ping::answer`].
    Ping(Ping),
    /// A time entry was created, updated or deleted.
    TimeEntry(TimeEntryEvent),
    /// Any other entity (projects, clients, tags, ...): acknowledge and ignore.
    Other(OtherEvent),
}

/// Toggl's PING event. For a subscription that is not validated yet it carries a validation code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub event_id: Option<u64>,
    pub subscription_id: Option<u64>,
    pub validation_code: Option<String>,
    /// Ready-made asynchronous validation URL, if Toggl includes one (not in the docs' examples;
    /// read tolerantly from the top level or `metadata`).
    pub validation_code_url: Option<String>,
}

/// How to answer a PING.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingAnswer {
    /// Synchronous validation: reply `200` with this JSON body (`{"validation_code":"..."}`).
    EchoValidationCode { body: String },
    /// Only a URL was given: GET it (asynchronous validation), then reply `200`.
    CallValidationUrl { url: String },
    /// Already validated (no code): reply `200`.
    Acknowledge,
}

impl Ping {
    /// The echo is preferred when a code is present: it validates in-band with no outbound call.
    pub fn answer(&self) -> PingAnswer {
        match (&self.validation_code, &self.validation_code_url) {
            (Some(code), _) => PingAnswer::EchoValidationCode {
                body: serde_json::json!({ "validation_code": code }).to_string(),
            },
            (None, Some(url)) => PingAnswer::CallValidationUrl { url: url.clone() },
            (None, None) => PingAnswer::Acknowledge,
        }
    }
}

/// `metadata.action` of an entity event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    Deleted,
    /// Anything else Toggl may add; kept verbatim.
    Other(String),
}

impl Action {
    fn parse(text: &str) -> Self {
        match text {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "deleted" => Self::Deleted,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A time-entry event: what happened and the entry's state as Toggl sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeEntryEvent {
    /// Unique per event; the dedup key (Toggl retries deliveries).
    pub event_id: Option<u64>,
    pub action: Action,
    pub created_at: Option<DateTime<Utc>>,
    pub entry: TimeEntry,
}

/// The time entry from `payload` (falling back to `metadata` for the ids, which delete events may
/// carry only there).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeEntry {
    pub id: u64,
    pub workspace_id: u64,
    pub project_id: Option<u64>,
    pub task_id: Option<u64>,
    pub user_id: Option<u64>,
    pub start: Option<DateTime<Utc>>,
    pub stop: Option<DateTime<Utc>>,
    /// Seconds; negative while the timer runs (then it is `-(start as unix seconds)`).
    pub duration: Option<i64>,
    pub description: Option<String>,
    pub billable: Option<bool>,
    pub tags: Vec<String>,
    /// Last modification time.
    pub at: Option<DateTime<Utc>>,
    pub server_deleted_at: Option<DateTime<Utc>>,
}

impl TimeEntry {
    /// A running entry has no final duration yet; syncing it to Severa should wait for the stop.
    pub fn is_running(&self) -> bool {
        self.duration.is_some_and(|d| d < 0)
    }
}

/// An event for an entity we do not handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherEvent {
    pub event_id: Option<u64>,
    pub model: Option<String>,
    pub action: Option<String>,
}

/// Why a (verified) body could not be understood. Holds field names, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("body is not a JSON object")]
    NotJsonObject,
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("field `{0}` has an unexpected type or format")]
    InvalidField(&'static str),
}

/// Classifies a Toggl delivery. Call only after [`verify`] succeeded.
pub fn parse_event(raw_body: &[u8]) -> Result<Event, PayloadError> {
    let root: Value = serde_json::from_slice(raw_body).map_err(|_| PayloadError::NotJsonObject)?;
    let root = root.as_object().ok_or(PayloadError::NotJsonObject)?;
    let empty = Map::new();
    let metadata = match root.get("metadata") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err(PayloadError::InvalidField("metadata")),
    };
    let event_id = id(root, "event_id")?;
    let payload = root.get("payload");

    let is_ping = matches!(payload, Some(Value::String(s)) if s.eq_ignore_ascii_case("ping"))
        || root.contains_key("validation_code");
    if is_ping {
        return Ok(Event::Ping(Ping {
            event_id,
            subscription_id: id(root, "subscription_id")?,
            validation_code: string(root, "validation_code")?
                .or(string(metadata, "validation_code")?),
            validation_code_url: string(root, "validation_code_url")?
                .or(string(metadata, "validation_code_url")?),
        }));
    }

    let model = string(metadata, "model")?;
    let action = string(metadata, "action")?;
    let path_is_time_entry = string(metadata, "path")?.is_some_and(|p| p.contains("/time_entries"));
    let is_time_entry = match model.as_deref() {
        Some(m) => m == "time_entry",
        None => path_is_time_entry,
    };
    if !is_time_entry {
        return Ok(Event::Other(OtherEvent {
            event_id,
            model,
            action,
        }));
    }

    let entry = match payload {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => return Err(PayloadError::InvalidField("payload")),
    };
    let action = action.ok_or(PayloadError::MissingField("metadata.action"))?;
    Ok(Event::TimeEntry(TimeEntryEvent {
        event_id,
        action: Action::parse(&action),
        created_at: timestamp(root, "created_at")?,
        entry: TimeEntry {
            id: id(entry, "id")?
                .or(id(metadata, "time_entry_id")?)
                .ok_or(PayloadError::MissingField("payload.id"))?,
            workspace_id: id(entry, "workspace_id")?
                .or(id(metadata, "workspace_id")?)
                .ok_or(PayloadError::MissingField("payload.workspace_id"))?,
            project_id: id(entry, "project_id")?,
            task_id: id(entry, "task_id")?,
            user_id: id(entry, "user_id")?,
            start: timestamp(entry, "start")?,
            stop: timestamp(entry, "stop")?,
            duration: match entry.get("duration") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_i64().ok_or(PayloadError::InvalidField("duration"))?),
            },
            description: string(entry, "description")?,
            billable: match entry.get("billable") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_bool().ok_or(PayloadError::InvalidField("billable"))?),
            },
            tags: tags(entry)?,
            at: timestamp(entry, "at")?,
            server_deleted_at: timestamp(entry, "server_deleted_at")?,
        },
    }))
}

/// An id given as a JSON number or a numeric string (Toggl's `metadata` uses strings).
fn id(obj: &Map<String, Value>, key: &'static str) -> Result<Option<u64>, PayloadError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(PayloadError::InvalidField(key)),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| PayloadError::InvalidField(key)),
        Some(_) => Err(PayloadError::InvalidField(key)),
    }
}

fn string(obj: &Map<String, Value>, key: &'static str) -> Result<Option<String>, PayloadError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PayloadError::InvalidField(key)),
    }
}

/// RFC 3339 with any offset (Toggl sends both `Z` and `+00:00`), normalised to UTC.
fn timestamp(
    obj: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<DateTime<Utc>>, PayloadError> {
    match string(obj, key)? {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(&s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| PayloadError::InvalidField(key)),
    }
}

fn tags(obj: &Map<String, Value>) -> Result<Vec<String>, PayloadError> {
    match obj.get("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or(PayloadError::InvalidField("tags"))
            })
            .collect(),
        Some(_) => Err(PayloadError::InvalidField("tags")),
    }
}
