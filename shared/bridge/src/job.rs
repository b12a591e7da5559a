//! The job schema: one unit of work, produced by the webhook function (or a replay), consumed by
//! the worker. Versioned JSON; the one definition both sides use.

pub mod limits;

use crate::ports::{MAX_MESSAGE_BYTES, OutgoingMessage};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Bumped on any change a consumer of the previous version could not read.
pub const SCHEMA_VERSION: u32 = 1;

/// Severa rejects hour entries above this many hours.
pub const MAX_HOURS: u32 = 999;

/// The `source` of every outbound job (Severa → the other software). Not a valid webhook source
/// name (it has a `:`), so no webhook delivery can ever produce an outbound job: only the
/// scheduler does.
pub const OUTBOUND_SOURCE: &str = "severa:sync";

/// What outbound jobs may carry: `account`, `case`, `invoice`, `hour_entry` records.
pub const OUTBOUND_ENTITIES: [&str; 4] = ["account", "case", "invoice", "hour_entry"];
/// What a reconciliation found, as the outbound event says it (`severa.<entity>.<event>`).
pub const OUTBOUND_EVENTS: [&str; 3] = ["created", "updated", "deleted"];

/// One job. JSON: `{"schema_version":1,"job_id":…,"source":…,"external_id":…,"occurred_at":…,
/// "correlation_id":…,"kind":"hour_entry.upsert","payload":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub schema_version: u32,
    /// The idempotency key: the same job delivered again carries the same id.
    pub job_id: String,
    /// Configured name of the sending software (`toggl`, `crm`).
    pub source: String,
    /// The sender's id of the record (time entry id, customer id).
    pub external_id: String,
    /// When the change happened at the sender.
    pub occurred_at: DateTime<Utc>,
    /// Ties log lines, queue messages and DLQ entries to the webhook that caused them.
    pub correlation_id: String,
    #[serde(flatten)]
    pub action: Action,
}

/// What to do in Severa.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Action {
    #[serde(rename = "hour_entry.upsert")]
    HourEntryUpsert(HourEntryUpsert),
    #[serde(rename = "hour_entry.delete")]
    HourEntryDelete(HourEntryDelete),
    #[serde(rename = "account.upsert")]
    AccountUpsert(AccountUpsert),
    #[serde(rename = "contact.upsert")]
    ContactUpsert(ContactUpsert),
    #[serde(rename = "case.create")]
    CaseCreate(CaseCreate),
    #[serde(rename = "user.create")]
    UserCreate(UserCreate),
    #[serde(rename = "user.deactivate")]
    UserDeactivate(UserDeactivate),
    /// Severa records to POST to a sync's target (scheduled syncs, Severa → other software).
    #[serde(rename = "outbound.deliver")]
    OutboundDeliver(OutboundDelivery),
}

/// The job kinds, for message attributes, metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobKind {
    #[serde(rename = "hour_entry.upsert")]
    HourEntryUpsert,
    #[serde(rename = "hour_entry.delete")]
    HourEntryDelete,
    #[serde(rename = "account.upsert")]
    AccountUpsert,
    #[serde(rename = "contact.upsert")]
    ContactUpsert,
    #[serde(rename = "case.create")]
    CaseCreate,
    #[serde(rename = "user.create")]
    UserCreate,
    #[serde(rename = "user.deactivate")]
    UserDeactivate,
    #[serde(rename = "outbound.deliver")]
    OutboundDeliver,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HourEntryUpsert => "hour_entry.upsert",
            Self::HourEntryDelete => "hour_entry.delete",
            Self::AccountUpsert => "account.upsert",
            Self::ContactUpsert => "contact.upsert",
            Self::CaseCreate => "case.create",
            Self::UserCreate => "user.create",
            Self::UserDeactivate => "user.deactivate",
            Self::OutboundDeliver => "outbound.deliver",
        }
    }

    /// The entity family the id map keys records under (an upsert and a delete of one hour
    /// entry share it).
    pub fn entity(self) -> &'static str {
        match self {
            Self::HourEntryUpsert | Self::HourEntryDelete => "hour_entry",
            Self::AccountUpsert => "account",
            Self::ContactUpsert => "contact",
            Self::CaseCreate => "case",
            Self::UserCreate | Self::UserDeactivate => "user",
            Self::OutboundDeliver => "outbound",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Action {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::HourEntryUpsert(_) => JobKind::HourEntryUpsert,
            Self::HourEntryDelete(_) => JobKind::HourEntryDelete,
            Self::AccountUpsert(_) => JobKind::AccountUpsert,
            Self::ContactUpsert(_) => JobKind::ContactUpsert,
            Self::CaseCreate(_) => JobKind::CaseCreate,
            Self::UserCreate(_) => JobKind::UserCreate,
            Self::UserDeactivate(_) => JobKind::UserDeactivate,
            Self::OutboundDeliver(_) => JobKind::OutboundDeliver,
        }
    }
}

/// A Severa user by a key the sender knows: `{"code":"AA"}`, `{"email":"…"}` or `{"guid":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRef {
    Guid(String),
    Code(String),
    Email(String),
}

/// A case by number or GUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseRef {
    Guid(String),
    Number(i64),
}

/// A phase within the job's case; absent means the case's root phase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseRef {
    Guid(String),
    Code(String),
    Name(String),
}

/// A work type among the phase's work types; absent means the phase's default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkTypeRef {
    Guid(String),
    Code(String),
    Name(String),
}

/// A customer account by GUID, number or exact name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRef {
    Guid(String),
    Number(i64),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HourEntryUpsert {
    pub user: UserRef,
    pub case: CaseRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PhaseRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_type: Option<WorkTypeRef>,
    pub event_date: NaiveDate,
    /// Hours, > 0 and at most [`MAX_HOURS`].
    pub hours: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable: Option<bool>,
}

/// Deletes the hour entry created earlier for the job's external id (a no-op when none was).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HourEntryDelete {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostalAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
}

/// Severa upserts accounts by Number, then Name (AddNewAccount).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountUpsert {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<PostalAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactUpsert {
    pub account: AccountRef,
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCreate {
    pub name: String,
    pub account: AccountRef,
    pub owner: UserRef,
    /// ISO 4217 code of the invoicing currency.
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub first_name: String,
    pub last_name: String,
    /// The login; unique in Severa.
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub business_unit_guid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDeactivate {
    pub user: UserRef,
}

/// Severa records for a sync's target. The target URL and signing secret are not in the job:
/// the worker looks them up by `sync` in its own configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundDelivery {
    /// The configured sync (`invoices`, `accounts`, …).
    pub sync: String,
    /// One of [`OUTBOUND_ENTITIES`].
    pub entity: String,
    /// The records, members named as Severa names them (`GUID`, `UpdatedTS`, `InvoiceRows`).
    pub records: Vec<serde_json::Value>,
    /// Set after the target answered 2xx (invoices: mark them transferred in Severa).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_back: Option<InvoiceStatusWriteBack>,
    /// Reconciliation deliveries: one of [`OUTBOUND_EVENTS`] (a `deleted` record carries only
    /// `GUID` and its date member). `None`: a scheduled sync's delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// `SetInvoiceStatus(invoice_guid, status)` once the target has the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceStatusWriteBack {
    pub invoice_guid: String,
    /// The status *name* (Severa refers to statuses by name).
    pub status: String,
}

/// A job that cannot be read or fails validation: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidJob {
    /// JSON path of the offending field (`payload.hours`), or `.` for the whole document.
    pub field: String,
    pub reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> InvalidJob {
    InvalidJob {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// Room a job message keeps under SQS's limit for what the worker attaches when it dead-letters
/// the job (an error message of at most 300 characters and ids of at most 256: under 4 KiB), so
/// a job that fits the job queue also fits the DLQ.
pub const DEAD_LETTER_HEADROOM: usize = 8 * 1024;

/// The largest job message ([`Job::to_message`] plus any attribute a producer adds, counted by
/// [`OutgoingMessage::size`]) a producer may send.
pub const MAX_JOB_MESSAGE_BYTES: usize = MAX_MESSAGE_BYTES - DEAD_LETTER_HEADROOM;

/// Message attributes a job carries on the job queue (see [`Job::to_message`]); a redrive
/// from the DLQ keeps these and drops the failure details. `sync` marks outbound jobs.
pub const ROUTING_ATTRIBUTES: [&str; 4] = ["correlation_id", "source", "kind", "sync"];

impl Job {
    /// Parses and validates a job; errors name the field (`payload.hours`).
    pub fn from_json(bytes: &[u8]) -> Result<Job, InvalidJob> {
        let raw: RawJob<Option<&serde_json::value::RawValue>> = from_slice_at("", bytes)?;
        let job = raw.into_job()?;
        job.validate()?;
        Ok(job)
    }

    pub fn to_json(&self) -> String {
        // A Job holds only strings, numbers, dates and enums: serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The job as a job-queue message: its JSON and the routing attributes that logs and DLQ
    /// tooling read without parsing the body. Every producer (webhook, scheduler, `bridgectl
    /// replay`) sends this.
    pub fn to_message(&self) -> OutgoingMessage {
        OutgoingMessage {
            body: self.to_json(),
            attributes: BTreeMap::from([
                ("correlation_id".to_string(), self.correlation_id.clone()),
                ("source".to_string(), self.source.clone()),
                ("kind".to_string(), self.kind().as_str().to_string()),
            ]),
        }
    }

    pub fn kind(&self) -> JobKind {
        self.action.kind()
    }

    /// Checks what serde's types cannot: non-blank keys, ranges, formats.
    pub fn validate(&self) -> Result<(), InvalidJob> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(invalid(
                "schema_version",
                format!(
                    "is {}, this worker reads version {SCHEMA_VERSION}",
                    self.schema_version
                ),
            ));
        }
        text("job_id", &self.job_id, limits::NAME)?;
        text("external_id", &self.external_id, limits::NAME)?;
        text("correlation_id", &self.correlation_id, limits::NAME)?;
        let outbound = self.kind() == JobKind::OutboundDeliver;
        if outbound && self.source != OUTBOUND_SOURCE {
            return Err(invalid(
                "source",
                format!(
                    "must be {OUTBOUND_SOURCE:?} for outbound jobs (only the scheduler makes them)"
                ),
            ));
        }
        if !outbound && !is_source_name(&self.source) {
            return Err(invalid(
                "source",
                "must be 1-64 characters of a-z, 0-9, '-' or '_'",
            ));
        }
        match &self.action {
            Action::HourEntryUpsert(p) => {
                user_ref("payload.user", &p.user)?;
                case_ref("payload.case", &p.case)?;
                if let Some(phase) = &p.phase {
                    let (PhaseRef::Guid(v) | PhaseRef::Code(v) | PhaseRef::Name(v)) = phase;
                    text("payload.phase", v, limits::NAME)?;
                }
                if let Some(wt) = &p.work_type {
                    let (WorkTypeRef::Guid(v) | WorkTypeRef::Code(v) | WorkTypeRef::Name(v)) = wt;
                    text("payload.work_type", v, limits::NAME)?;
                }
                if p.hours <= Decimal::ZERO {
                    return Err(invalid("payload.hours", "must be more than 0"));
                }
                if p.hours > Decimal::from(MAX_HOURS) {
                    return Err(invalid(
                        "payload.hours",
                        format!("is {}, Severa accepts at most {MAX_HOURS}", p.hours),
                    ));
                }
                if let Some(d) = &p.description {
                    optional_text("payload.description", d, limits::LONG_TEXT)?;
                }
            }
            Action::HourEntryDelete(_) => {}
            Action::OutboundDeliver(p) => {
                if !is_source_name(&p.sync) {
                    return Err(invalid(
                        "payload.sync",
                        "must be 1-64 characters of a-z, 0-9, '-' or '_'",
                    ));
                }
                if !OUTBOUND_ENTITIES.contains(&p.entity.as_str()) {
                    return Err(invalid(
                        "payload.entity",
                        format!("must be one of {}", OUTBOUND_ENTITIES.join(", ")),
                    ));
                }
                if p.records.is_empty() {
                    return Err(invalid("payload.records", "must not be empty"));
                }
                if let Some(i) = p.records.iter().position(|r| !r.is_object()) {
                    return Err(invalid(
                        &format!("payload.records[{i}]"),
                        "must be a JSON object",
                    ));
                }
                if let Some(event) = &p.event
                    && !OUTBOUND_EVENTS.contains(&event.as_str())
                {
                    return Err(invalid(
                        "payload.event",
                        format!("must be one of {}", OUTBOUND_EVENTS.join(", ")),
                    ));
                }
                if let Some(w) = &p.write_back {
                    text(
                        "payload.write_back.invoice_guid",
                        &w.invoice_guid,
                        limits::NAME,
                    )?;
                    text("payload.write_back.status", &w.status, limits::NAME)?;
                }
            }
            Action::AccountUpsert(p) => {
                text("payload.name", &p.name, limits::NAME)?;
                if let Some(n) = p.number {
                    if n <= 0 {
                        return Err(invalid("payload.number", "must be a positive number"));
                    }
                }
                if let Some(email) = &p.email {
                    email_address("payload.email", email)?;
                }
                optional(
                    "payload.vat_number",
                    p.vat_number.as_deref(),
                    limits::SHORT_TEXT,
                )?;
                optional("payload.website", p.website.as_deref(), limits::NAME)?;
                optional("payload.notes", p.notes.as_deref(), limits::LONG_TEXT)?;
                if let Some(a) = &p.address {
                    optional("payload.address.line1", a.line1.as_deref(), limits::NAME)?;
                    optional("payload.address.line2", a.line2.as_deref(), limits::NAME)?;
                    optional(
                        "payload.address.postal_code",
                        a.postal_code.as_deref(),
                        limits::SHORT_TEXT,
                    )?;
                    optional("payload.address.city", a.city.as_deref(), limits::NAME)?;
                }
                if let Some(country) = p.address.as_ref().and_then(|a| a.country_code.as_ref()) {
                    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
                        return Err(invalid(
                            "payload.address.country_code",
                            "must be a two-letter ISO 3166 code",
                        ));
                    }
                }
            }
            Action::ContactUpsert(p) => {
                account_ref("payload.account", &p.account)?;
                text("payload.first_name", &p.first_name, limits::NAME)?;
                text("payload.last_name", &p.last_name, limits::NAME)?;
                if let Some(email) = &p.email {
                    email_address("payload.email", email)?;
                }
                optional("payload.phone", p.phone.as_deref(), limits::SHORT_TEXT)?;
                optional("payload.job_title", p.job_title.as_deref(), limits::NAME)?;
            }
            Action::CaseCreate(p) => {
                text("payload.name", &p.name, limits::NAME)?;
                account_ref("payload.account", &p.account)?;
                user_ref("payload.owner", &p.owner)?;
                if p.currency.len() != 3 || !p.currency.chars().all(|c| c.is_ascii_uppercase()) {
                    return Err(invalid(
                        "payload.currency",
                        "must be a three-letter ISO 4217 code such as EUR",
                    ));
                }
                optional(
                    "payload.description",
                    p.description.as_deref(),
                    limits::LONG_TEXT,
                )?;
            }
            Action::UserCreate(p) => {
                text("payload.first_name", &p.first_name, limits::NAME)?;
                text("payload.last_name", &p.last_name, limits::NAME)?;
                email_address("payload.email", &p.email)?;
                optional("payload.code", p.code.as_deref(), limits::NAME)?;
                text(
                    "payload.business_unit_guid",
                    &p.business_unit_guid,
                    limits::NAME,
                )?;
            }
            Action::UserDeactivate(p) => user_ref("payload.user", &p.user)?,
        }
        Ok(())
    }
}

/// The job's envelope with the payload kept as JSON, so the payload can be read in a second
/// step whose error paths name the payload's fields (serde's flattening loses them). `P` is
/// the payload's raw form: its text borrowed from the message ([`Job::from_json`], no
/// intermediate tree) or a `serde_json::Value` (any other deserializer).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob<P> {
    schema_version: u32,
    job_id: String,
    source: String,
    external_id: String,
    occurred_at: DateTime<Utc>,
    correlation_id: String,
    kind: JobKind,
    #[serde(default)]
    payload: P,
}

/// A payload not yet read into its kind's type.
trait RawPayload {
    fn read<T: serde::de::DeserializeOwned>(self) -> Result<T, InvalidJob>;
}

/// An absent or `null` payload reads as `{}` (kinds whose fields are all optional).
const EMPTY_PAYLOAD: &str = "{}";

impl RawPayload for serde_json::Value {
    fn read<T: serde::de::DeserializeOwned>(self) -> Result<T, InvalidJob> {
        let payload = if self.is_null() {
            serde_json::Value::Object(Default::default())
        } else {
            self
        };
        serde_path_to_error::deserialize(payload)
            .map_err(|e| path_error("payload", e.path().to_string(), e.inner().to_string()))
    }
}

impl RawPayload for Option<&serde_json::value::RawValue> {
    fn read<T: serde::de::DeserializeOwned>(self) -> Result<T, InvalidJob> {
        let text = match self.map(serde_json::value::RawValue::get) {
            None | Some("null") => EMPTY_PAYLOAD,
            Some(text) => text,
        };
        from_slice_at("payload", text.as_bytes())
    }
}

impl<P: RawPayload> RawJob<P> {
    fn into_job(self) -> Result<Job, InvalidJob> {
        let payload = self.payload;
        let action = match self.kind {
            JobKind::HourEntryUpsert => Action::HourEntryUpsert(payload.read()?),
            JobKind::HourEntryDelete => Action::HourEntryDelete(payload.read()?),
            JobKind::AccountUpsert => Action::AccountUpsert(payload.read()?),
            JobKind::ContactUpsert => Action::ContactUpsert(payload.read()?),
            JobKind::CaseCreate => Action::CaseCreate(payload.read()?),
            JobKind::UserCreate => Action::UserCreate(payload.read()?),
            JobKind::UserDeactivate => Action::UserDeactivate(payload.read()?),
            JobKind::OutboundDeliver => Action::OutboundDeliver(payload.read()?),
        };
        Ok(Job {
            schema_version: self.schema_version,
            job_id: self.job_id,
            source: self.source,
            external_id: self.external_id,
            occurred_at: self.occurred_at,
            correlation_id: self.correlation_id,
            action,
        })
    }
}

fn path_error(prefix: &str, path: String, message: String) -> InvalidJob {
    // serde_path_to_error writes `?` when the document broke off before any field.
    let at_root = path.is_empty() || path == "." || path == "?";
    let field = match (prefix.is_empty(), at_root) {
        (true, true) => ".".to_string(),
        (true, false) => path,
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{path}"),
    };
    invalid(&field, message)
}

/// Reads `T` from JSON text. The common case (valid) is a plain serde_json read; only a
/// failure is read again with path tracking, so the error names the field at fault.
fn from_slice_at<'a, T: serde::Deserialize<'a>>(
    prefix: &str,
    bytes: &'a [u8],
) -> Result<T, InvalidJob> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| path_error(prefix, e.path().to_string(), e.inner().to_string()))?;
    de.end().map_err(|e| invalid(".", e.to_string()))?;
    Ok(value)
}

impl<'de> Deserialize<'de> for Job {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawJob::<serde_json::Value>::deserialize(deserializer)?;
        raw.into_job().map_err(serde::de::Error::custom)
    }
}

/// A required text field: not blank, at most `max_chars`, only characters XML can carry. Also
/// applied by the sources configuration to the values it puts into jobs.
pub(crate) fn text(field: &str, value: &str, max_chars: usize) -> Result<(), InvalidJob> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    optional_text(field, value, max_chars)
}

fn optional_text(field: &str, value: &str, max_chars: usize) -> Result<(), InvalidJob> {
    if value.chars().count() > max_chars {
        return Err(invalid(
            field,
            format!("is longer than {max_chars} characters"),
        ));
    }
    if let Some(c) = severa::wire::invalid_xml_char(value) {
        return Err(invalid(
            field,
            format!("contains the control character U+{:04X}", c as u32),
        ));
    }
    Ok(())
}

/// An optional free-text field: absent, or at most `max_chars` without control characters.
fn optional(field: &str, value: Option<&str>, max_chars: usize) -> Result<(), InvalidJob> {
    match value {
        Some(v) => optional_text(field, v, max_chars),
        None => Ok(()),
    }
}

fn email_address(field: &str, value: &str) -> Result<(), InvalidJob> {
    text(field, value, limits::EMAIL)?;
    match value.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !value.contains(' ') =>
        {
            Ok(())
        }
        _ => Err(invalid(field, "is not an e-mail address")),
    }
}

pub(crate) fn user_ref(field: &str, user: &UserRef) -> Result<(), InvalidJob> {
    match user {
        UserRef::Guid(v) | UserRef::Code(v) => text(field, v, limits::NAME),
        UserRef::Email(v) => email_address(field, v),
    }
}

fn case_ref(field: &str, case: &CaseRef) -> Result<(), InvalidJob> {
    match case {
        CaseRef::Guid(v) => text(field, v, limits::NAME),
        CaseRef::Number(n) if *n > 0 => Ok(()),
        CaseRef::Number(_) => Err(invalid(field, "case number must be positive")),
    }
}

fn account_ref(field: &str, account: &AccountRef) -> Result<(), InvalidJob> {
    match account {
        AccountRef::Guid(v) | AccountRef::Name(v) => text(field, v, limits::NAME),
        AccountRef::Number(n) if *n > 0 => Ok(()),
        AccountRef::Number(_) => Err(invalid(field, "account number must be positive")),
    }
}

/// Source names appear in URLs, keys and metric dimensions.
pub fn is_source_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hour_job(payload: serde_json::Value) -> serde_json::Value {
        json!({
            "schema_version": 1,
            "job_id": "toggl:wh_1",
            "source": "toggl",
            "external_id": "te-42",
            "occurred_at": "2026-11-27T10:00:00Z",
            "correlation_id": "wh_1",
            "kind": "hour_entry.upsert",
            "payload": payload,
        })
    }

    fn parse(value: serde_json::Value) -> Result<Job, InvalidJob> {
        Job::from_json(value.to_string().as_bytes())
    }

    #[test]
    fn round_trips_through_json() {
        let job = parse(hour_job(json!({
            "user": {"code": "AA"},
            "case": {"number": 1},
            "phase": {"name": "Development"},
            "event_date": "2026-11-27",
            "hours": "1.5",
            "description": "Review"
        })))
        .unwrap();
        assert_eq!(job.kind(), JobKind::HourEntryUpsert);
        let again = Job::from_json(job.to_json().as_bytes()).unwrap();
        assert_eq!(again, job);
        let v: serde_json::Value = serde_json::from_str(&job.to_json()).unwrap();
        assert_eq!(v["kind"], "hour_entry.upsert");
        assert_eq!(v["payload"]["user"]["code"], "AA");
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse(hour_job(json!({
            "user": {"code": "AA"}, "case": {"number": 1}, "event_date": "2026-11-27", "hours": "1000"
        })))
        .unwrap_err();
        assert_eq!(err.field, "payload.hours");
        assert!(err.reason.contains("999"), "{err}");

        let err = parse(hour_job(json!({
            "user": {"code": "AA"}, "case": {"number": 1}, "event_date": "27.11.2026", "hours": "1"
        })))
        .unwrap_err();
        assert_eq!(err.field, "payload.event_date");

        let err = parse(hour_job(json!({
            "user": {"nickname": "al"}, "case": {"number": 1}, "event_date": "2026-11-27", "hours": "1"
        })))
        .unwrap_err();
        assert_eq!(err.field, "payload.user");

        let err = Job::from_json(b"{not json").unwrap_err();
        assert_eq!(err.field, ".");
    }

    #[test]
    fn rejects_unknown_kinds_and_versions() {
        let mut v = hour_job(json!({}));
        v["kind"] = json!("invoice.pay");
        assert!(parse(v).is_err());
        let mut v = hour_job(json!({
            "user": {"code": "AA"}, "case": {"number": 1}, "event_date": "2026-11-27", "hours": "1"
        }));
        v["schema_version"] = json!(2);
        assert_eq!(parse(v).unwrap_err().field, "schema_version");
    }

    #[test]
    fn delete_needs_no_payload_fields() {
        let mut v = hour_job(json!({}));
        v["kind"] = json!("hour_entry.delete");
        let job = parse(v).unwrap();
        assert_eq!(job.kind().entity(), "hour_entry");
    }

    #[test]
    fn free_text_is_capped_and_the_largest_account_fits_the_queue() {
        // Four bytes per character in UTF-8: the most a capped field can weigh.
        let wide = |n: usize| "\u{1D11E}".repeat(n);
        let account = |notes: String| {
            json!({
                "schema_version": 1, "job_id": wide(limits::NAME), "source": "crm",
                "external_id": wide(limits::NAME), "occurred_at": "2026-11-27T10:00:00Z",
                "correlation_id": wide(limits::NAME), "kind": "account.upsert",
                "payload": {"name": wide(limits::NAME), "vat_number": wide(limits::SHORT_TEXT),
                    "email": format!("{}@example.com", "a".repeat(240)),
                    "website": wide(limits::NAME), "notes": notes,
                    "address": {"line1": wide(limits::NAME), "line2": wide(limits::NAME),
                        "postal_code": wide(limits::SHORT_TEXT), "city": wide(limits::NAME),
                        "country_code": "FI"}}
            })
        };
        let largest = parse(account(wide(limits::LONG_TEXT))).unwrap();
        let size = largest.to_message().size();
        assert!(size < crate::ports::MAX_MESSAGE_BYTES / 4, "{size} bytes");
        let err = parse(account(wide(limits::LONG_TEXT + 1))).unwrap_err();
        assert_eq!(err.field, "payload.notes");
        assert!(err.reason.contains("4000"), "{err}");
        let mut contact = json!({"account": {"number": 1}, "first_name": "A", "last_name": "B",
            "phone": "1".repeat(limits::SHORT_TEXT + 1)});
        let mut v = hour_job(contact.clone());
        v["kind"] = json!("contact.upsert");
        assert_eq!(parse(v).unwrap_err().field, "payload.phone");
        contact["phone"] = json!("+358 40 123 4567");
        let mut v = hour_job(contact);
        v["kind"] = json!("contact.upsert");
        assert!(parse(v).is_ok());
    }

    #[test]
    fn source_names_are_url_and_key_safe() {
        assert!(is_source_name("toggl"));
        assert!(is_source_name("crm_2"));
        assert!(!is_source_name("Toggl"));
        assert!(!is_source_name("a/b"));
        assert!(!is_source_name(""));
    }
}

#[cfg(test)]
mod outbound_tests {
    use super::*;
    use serde_json::json;

    fn outbound(source: &str, payload: serde_json::Value) -> Result<Job, InvalidJob> {
        let v = json!({
            "schema_version": 1,
            "job_id": "invoices:0f1e",
            "source": source,
            "external_id": "sim-inv-1001",
            "occurred_at": "2026-03-02T10:00:30Z",
            "correlation_id": "run-1",
            "kind": "outbound.deliver",
            "payload": payload,
        });
        Job::from_json(v.to_string().as_bytes())
    }

    fn invoice_payload() -> serde_json::Value {
        json!({
            "sync": "invoices",
            "entity": "invoice",
            "records": [{"GUID": "sim-inv-1001", "InvoiceRows": []}],
            "write_back": {"invoice_guid": "sim-inv-1001", "status": "Transferred"}
        })
    }

    #[test]
    fn outbound_jobs_round_trip() {
        let job = outbound(OUTBOUND_SOURCE, invoice_payload()).unwrap();
        assert_eq!(job.kind(), JobKind::OutboundDeliver);
        assert_eq!(Job::from_json(job.to_json().as_bytes()).unwrap(), job);
    }

    /// Fuzzing regression (FUZZING.md, finding 6): a number in a record changed by one ulp
    /// over to_json/from_json (serde_json's default float parser is not exact), so a job did
    /// not read back as itself.
    #[test]
    fn record_numbers_survive_the_round_trip() {
        let digits = format!("5{}", "6".repeat(112));
        let mut p = invoice_payload();
        p["records"] = serde_json::from_str(&format!(
            r#"[{{"a": {digits}, "b": 5.666666666666667e+112, "c": 0.1, "d": 1e-300, "e": 12.5}}]"#
        ))
        .unwrap();
        let job = outbound(OUTBOUND_SOURCE, p).unwrap();
        let again = Job::from_json(job.to_json().as_bytes()).unwrap();
        assert_eq!(again, job);
        assert_eq!(again.to_json(), job.to_json());
    }

    #[test]
    fn only_the_scheduler_source_may_carry_outbound_jobs() {
        // Every webhook source name is a valid source name; none can be OUTBOUND_SOURCE.
        assert!(!is_source_name(OUTBOUND_SOURCE));
        let err = outbound("crm", invoice_payload()).unwrap_err();
        assert_eq!(err.field, "source");
        let mut v: serde_json::Value = serde_json::from_str(
            &outbound(OUTBOUND_SOURCE, invoice_payload())
                .unwrap()
                .to_json(),
        )
        .unwrap();
        v["kind"] = json!("account.upsert");
        v["payload"] = json!({"name": "x"});
        assert_eq!(
            Job::from_json(v.to_string().as_bytes()).unwrap_err().field,
            "source"
        );
    }

    #[test]
    fn outbound_errors_name_the_field() {
        let mut p = invoice_payload();
        p["entity"] = json!("absence");
        assert_eq!(
            outbound(OUTBOUND_SOURCE, p).unwrap_err().field,
            "payload.entity"
        );
        let mut p = invoice_payload();
        p["records"] = json!([]);
        assert_eq!(
            outbound(OUTBOUND_SOURCE, p).unwrap_err().field,
            "payload.records"
        );
        let mut p = invoice_payload();
        p["records"] = json!([1]);
        assert_eq!(
            outbound(OUTBOUND_SOURCE, p).unwrap_err().field,
            "payload.records[0]"
        );
        let mut p = invoice_payload();
        p["write_back"]["status"] = json!(" ");
        assert_eq!(
            outbound(OUTBOUND_SOURCE, p).unwrap_err().field,
            "payload.write_back.status"
        );
    }
}
