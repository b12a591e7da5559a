//! One DynamoDB table for idempotency records and the id map.
//!
//! Items (partition key `pk`, a string):
//! - `job#<key>`: `status` (`in_progress` | `completed`), `lock_until` (epoch s, while in
//!   progress), `severa_guid` (when completed), `expires_at` (epoch s, the table's TTL attribute).
//! - `webhook#<key>`: `first_seen_at`, `expires_at`.
//! - `map#<source>#<entity>#<external_id>`: `severa_guid` (no expiry); `guid#<severa_guid>`:
//!   the reverse (`source`, `entity`, `external_id`).
//! - `rec#<source>#<entity>#<external_id>`: the record's writer lock (`lock_owner`,
//!   `lock_until`), the last event applied to it (`applied_at`, epoch ms; `deleted`) and an
//!   open create intent (`intent`, `intent_at`); no expiry, like the id map, so a tombstone
//!   outlives every late delivery.
//! - `breaker#severa`: the circuit breaker in front of Severa (`open_until`, `reason`, `trips`,
//!   `probe_owner`, `probe_until`).
//! - `sync#…`: the scheduler's cursor, lease, schema version and enqueued markers (see
//!   `sync_state.rs`).
//!
//! `#` and `%` inside the parts are percent-escaped, so no two different keys share an item.
//! DynamoDB deletes expired items lazily (up to days later), so conditions treat an item whose
//! `expires_at` has passed as absent.

use super::error::{build_error, sdk_error};
use crate::ports::{
    Breaker, BreakerState, Claim, CreateIntent, ExternalKey, IdMap, IdempotencyStore, PortError,
    RecordLock, RecordLocks, RecordVersion,
};
use crate::sync::Clock;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(super) const SERVICE: &str = "DynamoDB";
pub(super) const PK: &str = "pk";
const STATUS: &str = "status";
const LOCK_UNTIL: &str = "lock_until";
const SEVERA_GUID: &str = "severa_guid";
pub(super) const EXPIRES_AT: &str = "expires_at";
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";
/// An abandoned lock's item lingers this long after the lock ends, for inspection.
const LOCK_RECORD_GRACE_SECS: i64 = 24 * 3600;
/// Claim attempts when the item changes between our write and our read (lock expired, released).
const CLAIM_ATTEMPTS: usize = 4;
/// How long `create_table` waits for the table to become ACTIVE.
const CREATE_WAIT: Duration = Duration::from_secs(120);

pub(super) type Item = HashMap<String, AttributeValue>;

/// The idempotency / id-map table.
#[derive(Clone)]
pub struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    table_name: String,
    /// Now, for expiries and lock ends; injectable so tests can let markers expire.
    clock: Clock,
}

impl std::fmt::Debug for DynamoTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoTable")
            .field("table_name", &self.table_name)
            .finish_non_exhaustive()
    }
}

/// Escapes the separator so that parts containing `#` cannot collide with other keys.
pub(super) fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('#', "%23")
}

fn job_pk(key: &str) -> String {
    format!("job#{}", escape(key))
}

fn webhook_pk(key: &str) -> String {
    format!("webhook#{}", escape(key))
}

fn map_pk(key: &ExternalKey) -> String {
    format!(
        "map#{}#{}#{}",
        escape(&key.source),
        escape(&key.entity),
        escape(&key.external_id)
    )
}

fn guid_pk(severa_guid: &str) -> String {
    format!("guid#{}", escape(severa_guid))
}

fn record_pk(key: &ExternalKey) -> String {
    format!(
        "rec#{}#{}#{}",
        escape(&key.source),
        escape(&key.entity),
        escape(&key.external_id)
    )
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Whole epoch seconds, rounded up so a lock never ends before the time asked for.
pub(super) fn ceil_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

pub(super) fn secs_after(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

pub(super) fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub(super) fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

impl DynamoTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table_name: table_name.into(),
            clock: Arc::new(Utc::now),
        }
    }

    /// The same table read and written as if it were `clock`'s time (tests move time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub fn from_config(config: &aws_config::SdkConfig, table_name: impl Into<String>) -> Self {
        Self::new(aws_sdk_dynamodb::Client::new(config), table_name)
    }

    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub(super) fn target(&self) -> String {
        format!("table {}", self.table_name)
    }

    /// Creates the table (on-demand, `pk` string key) and turns on TTL on `expires_at`.
    /// Idempotent, for tests and the local demo; deployed stacks create it in the template.
    pub async fn create_table(&self) -> Result<(), PortError> {
        const ACTION: &str = "CreateTable";
        let target = self.target();
        let attribute = AttributeDefinition::builder()
            .attribute_name(PK)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| build_error(SERVICE, ACTION, &target, e))?;
        let key = KeySchemaElement::builder()
            .attribute_name(PK)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| build_error(SERVICE, ACTION, &target, e))?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table_name)
            .attribute_definitions(attribute)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        if let Err(e) = created {
            let exists = e
                .as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception());
            if !exists {
                return Err(sdk_error(SERVICE, ACTION, &target, &e, true));
            }
        }
        self.wait_active().await?;
        self.enable_ttl().await
    }

    async fn wait_active(&self) -> Result<(), PortError> {
        const ACTION: &str = "DescribeTable";
        let target = self.target();
        let deadline = tokio::time::Instant::now() + CREATE_WAIT;
        loop {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table_name)
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, ACTION, &target, &e, true))?;
            let status = out.table.and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(PortError {
                    service: SERVICE,
                    action: ACTION,
                    message: format!("{target}: not ACTIVE after {CREATE_WAIT:?} ({status:?})"),
                    retryable: true,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn enable_ttl(&self) -> Result<(), PortError> {
        let target = self.target();
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.table_name)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "DescribeTimeToLive", &target, &e, true))?;
        let already = current.time_to_live_description.is_some_and(|d| {
            d.attribute_name.as_deref() == Some(EXPIRES_AT)
                && matches!(
                    d.time_to_live_status,
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                )
        });
        if already {
            return Ok(());
        }
        const ACTION: &str = "UpdateTimeToLive";
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(EXPIRES_AT)
            .build()
            .map_err(|e| build_error(SERVICE, ACTION, &target, e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table_name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, ACTION, &target, &e, true))?;
        Ok(())
    }

    /// A strongly consistent read, so a just-failed condition is explained by current data.
    pub(super) async fn get(
        &self,
        pk: &str,
        action: &'static str,
    ) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .key(PK, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, action, &self.target(), &e, true))?;
        Ok(out.item)
    }

    /// What an existing job item means for a claim now; `None` when it no longer blocks one
    /// (expired lock or record), so the claim should be tried again.
    fn interpret(&self, pk: &str, item: &Item, now: i64) -> Result<Option<Claim>, PortError> {
        if number(item, EXPIRES_AT).is_some_and(|t| t < now) {
            return Ok(None);
        }
        match string(item, STATUS) {
            Some(COMPLETED) => Ok(Some(Claim::Completed {
                severa_guid: string(item, SEVERA_GUID).map(str::to_owned),
            })),
            Some(IN_PROGRESS) => {
                let until = number(item, LOCK_UNTIL).unwrap_or(0);
                if until < now {
                    return Ok(None);
                }
                Ok(DateTime::from_timestamp(until, 0).map(|until| Claim::InProgress { until }))
            }
            other => Err(PortError {
                service: SERVICE,
                action: "PutItem",
                message: format!(
                    "{}: item {pk} has unexpected status {other:?}; fix or delete it",
                    self.target()
                ),
                retryable: false,
            }),
        }
    }
}

#[async_trait]
impl IdempotencyStore for DynamoTable {
    async fn claim(&self, key: &str, lock_until: DateTime<Utc>) -> Result<Claim, PortError> {
        const ACTION: &str = "PutItem";
        let pk = job_pk(key);
        let until = ceil_secs(lock_until);
        for _ in 0..CLAIM_ATTEMPTS {
            let now = self.now().timestamp();
            let result = self
                .client
                .put_item()
                .table_name(&self.table_name)
                .item(PK, s(&pk))
                .item(STATUS, s(IN_PROGRESS))
                .item(LOCK_UNTIL, n(until))
                .item(EXPIRES_AT, n(until.saturating_add(LOCK_RECORD_GRACE_SECS)))
                .condition_expression(
                    "attribute_not_exists(pk) \
                     OR (#status = :in_progress AND lock_until < :now) \
                     OR expires_at < :now",
                )
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":now", n(now))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Claim::Acquired),
                Err(err) => err,
            };
            let old = match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e)) => e.item.clone(),
                _ => return Err(sdk_error(SERVICE, ACTION, &self.target(), &err, true)),
            };
            // Without ALL_OLD (older emulators) read the item that blocked us.
            let old = match old {
                Some(item) => Some(item),
                None => self.get(&pk, "GetItem").await?,
            };
            if let Some(item) = old {
                if let Some(claim) = self.interpret(&pk, &item, now)? {
                    return Ok(claim);
                }
            }
        }
        Err(PortError {
            service: SERVICE,
            action: ACTION,
            message: format!(
                "{}: claim of {pk} kept racing with other writers",
                self.target()
            ),
            retryable: true,
        })
    }

    async fn complete(
        &self,
        key: &str,
        severa_guid: Option<&str>,
        ttl: Duration,
    ) -> Result<(), PortError> {
        let now = self.now().timestamp();
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .item(PK, s(&job_pk(key)))
            .item(STATUS, s(COMPLETED))
            .item("completed_at", n(now))
            .item(EXPIRES_AT, n(secs_after(now, ttl)));
        if let Some(guid) = severa_guid {
            request = request.item(SEVERA_GUID, s(guid));
        }
        request
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutItem", &self.target(), &e, true))?;
        Ok(())
    }

    /// Deletes an in-progress claim; a completed record stays (completion wins over release).
    async fn release(&self, key: &str) -> Result<(), PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table_name)
            .key(PK, s(&job_pk(key)))
            .condition_expression("attribute_not_exists(pk) OR #status = :in_progress")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                tracing::debug!(key, "release skipped: the job is already completed");
                Ok(())
            }
            Err(e) => Err(sdk_error(SERVICE, "DeleteItem", &self.target(), &e, true)),
        }
    }

    async fn first_sighting(&self, key: &str, ttl: Duration) -> Result<bool, PortError> {
        let now = self.now().timestamp();
        let result = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .item(PK, s(&webhook_pk(key)))
            .item("first_seen_at", n(now))
            .item(EXPIRES_AT, n(secs_after(now, ttl)))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(SERVICE, "PutItem", &self.target(), &e, true)),
        }
    }
}

#[async_trait]
impl IdMap for DynamoTable {
    async fn lookup(&self, key: &ExternalKey) -> Result<Option<String>, PortError> {
        let item = self.get(&map_pk(key), "GetItem").await?;
        Ok(item.and_then(|item| string(&item, SEVERA_GUID).map(str::to_owned)))
    }

    async fn record(&self, key: &ExternalKey, severa_guid: &str) -> Result<(), PortError> {
        // The reverse first: a GUID never appears mapped without its owner being known.
        self.client
            .put_item()
            .table_name(&self.table_name)
            .item(PK, s(&guid_pk(severa_guid)))
            .item("source", s(&key.source))
            .item("entity", s(&key.entity))
            .item("external_id", s(&key.external_id))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutItem", &self.target(), &e, true))?;
        self.client
            .put_item()
            .table_name(&self.table_name)
            .item(PK, s(&map_pk(key)))
            .item(SEVERA_GUID, s(severa_guid))
            .item("source", s(&key.source))
            .item("entity", s(&key.entity))
            .item("external_id", s(&key.external_id))
            .item("updated_at", n(self.now().timestamp()))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutItem", &self.target(), &e, true))?;
        Ok(())
    }

    async fn forget(&self, key: &ExternalKey, severa_guid: &str) -> Result<(), PortError> {
        for pk in [map_pk(key), guid_pk(severa_guid)] {
            self.client
                .delete_item()
                .table_name(&self.table_name)
                .key(PK, s(&pk))
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, "DeleteItem", &self.target(), &e, true))?;
        }
        Ok(())
    }

    async fn owner(&self, severa_guid: &str) -> Result<Option<ExternalKey>, PortError> {
        let item = self.get(&guid_pk(severa_guid), "GetItem").await?;
        Ok(item.and_then(|item| {
            Some(ExternalKey {
                source: string(&item, "source")?.to_string(),
                entity: string(&item, "entity")?.to_string(),
                external_id: string(&item, "external_id")?.to_string(),
            })
        }))
    }
}

fn record_version(item: &Item) -> Option<RecordVersion> {
    let at = number(item, "applied_at")?;
    Some(RecordVersion {
        occurred_at: DateTime::from_timestamp_millis(at)?,
        deleted: item
            .get("deleted")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
    })
}

#[async_trait]
impl RecordLocks for DynamoTable {
    async fn lock(
        &self,
        key: &ExternalKey,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<RecordLock, PortError> {
        const ACTION: &str = "UpdateItem";
        let pk = record_pk(key);
        let now = self.now().timestamp();
        let result = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(PK, s(&pk))
            .update_expression(
                "SET lock_owner = :owner, lock_until = :until, #source = :source, \
                 entity = :entity, external_id = :external_id",
            )
            .condition_expression(
                "attribute_not_exists(lock_until) OR lock_until < :now OR lock_owner = :owner",
            )
            .expression_attribute_names("#source", "source")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(ceil_secs(until)))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":source", s(&key.source))
            .expression_attribute_values(":entity", s(&key.entity))
            .expression_attribute_values(":external_id", s(&key.external_id))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(RecordLock::Acquired {
                last: out.attributes.as_ref().and_then(record_version),
                intent: out.attributes.as_ref().and_then(|item| {
                    Some(CreateIntent {
                        fingerprint: string(item, "intent")?.to_string(),
                        at: DateTime::from_timestamp(number(item, "intent_at")?, 0)?,
                    })
                }),
            }),
            Err(err) => {
                let old = match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(e)) => e.item.clone(),
                    _ => return Err(sdk_error(SERVICE, ACTION, &self.target(), &err, true)),
                };
                let old = match old {
                    Some(item) => Some(item),
                    None => self.get(&pk, "GetItem").await?,
                };
                let until = old
                    .as_ref()
                    .and_then(|item| number(item, LOCK_UNTIL))
                    .and_then(|t| DateTime::from_timestamp(t, 0))
                    .unwrap_or_else(|| self.now());
                Ok(RecordLock::Held { until })
            }
        }
    }

    async fn open_intent(
        &self,
        key: &ExternalKey,
        owner: &str,
        fingerprint: &str,
    ) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table_name)
            .key(PK, s(&record_pk(key)))
            .update_expression("SET intent = :fingerprint, intent_at = :now")
            .condition_expression("lock_owner = :owner")
            .expression_attribute_values(":fingerprint", s(fingerprint))
            .expression_attribute_values(":now", n(self.now().timestamp()))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            // Without the intent a lost answer could duplicate the record: do not create.
            .map_err(|e| {
                if conditional_failed(&e) {
                    // Our lock ended and another job holds the record: a wait, not a failure.
                    PortError {
                        service: SERVICE,
                        action: "UpdateItem",
                        message: format!(
                            "{}: the record's lock passed to another job before the create; \
                             retrying after it",
                            self.target()
                        ),
                        retryable: true,
                    }
                } else {
                    sdk_error(SERVICE, "UpdateItem", &self.target(), &e, true)
                }
            })?;
        Ok(())
    }

    async fn unlock(
        &self,
        key: &ExternalKey,
        owner: &str,
        applied: Option<RecordVersion>,
    ) -> Result<(), PortError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(PK, s(&record_pk(key)))
            .condition_expression("lock_owner = :owner")
            .expression_attribute_values(":owner", s(owner));
        request = match applied {
            Some(version) => request
                .update_expression(
                    "SET applied_at = :at, deleted = :deleted \
                     REMOVE lock_owner, lock_until, intent, intent_at",
                )
                .expression_attribute_values(":at", n(version.occurred_at.timestamp_millis()))
                .expression_attribute_values(":deleted", AttributeValue::Bool(version.deleted)),
            None => request.update_expression("REMOVE lock_owner, lock_until"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                // Our lock ended and another job took the record: its version stands.
                tracing::warn!(
                    source = %key.source,
                    entity = %key.entity,
                    external_id = %key.external_id,
                    owner,
                    "the record's lock had passed to another job before it was let go"
                );
                Ok(())
            }
            Err(e) => Err(sdk_error(SERVICE, "UpdateItem", &self.target(), &e, true)),
        }
    }
}

const BREAKER_PK: &str = "breaker#severa";

fn conditional_failed<E>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

#[async_trait]
impl Breaker for DynamoTable {
    async fn read(&self) -> Result<BreakerState, PortError> {
        let Some(item) = self.get(BREAKER_PK, "GetItem").await? else {
            return Ok(BreakerState::default());
        };
        Ok(BreakerState {
            open_until: number(&item, "open_until").and_then(|t| DateTime::from_timestamp(t, 0)),
            reason: string(&item, "reason").unwrap_or_default().to_string(),
            trips: number(&item, "trips")
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(0),
            rejected_key: string(&item, "rejected_key").map(str::to_string),
        })
    }

    async fn trip(
        &self,
        until: DateTime<Utc>,
        reason: &str,
        trips: u32,
        rejected_key: Option<&str>,
    ) -> Result<(), PortError> {
        let (set_key, remove_key) = match rejected_key {
            Some(_) => (", rejected_key = :rejected_key", ""),
            None => ("", ", rejected_key"),
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(PK, s(BREAKER_PK))
            .update_expression(format!(
                "SET open_until = :until, reason = :reason, trips = :trips{set_key} \
                 REMOVE probe_owner, probe_until{remove_key}"
            ));
        if let Some(key) = rejected_key {
            request = request.expression_attribute_values(":rejected_key", s(key));
        }
        let result = request
            .condition_expression("attribute_not_exists(open_until) OR open_until < :until")
            .expression_attribute_values(":until", n(ceil_secs(until)))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":trips", n(i64::from(trips)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already open for longer: that stands.
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(sdk_error(SERVICE, "UpdateItem", &self.target(), &e, true)),
        }
    }

    async fn take_probe(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        probe_until: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .key(PK, s(BREAKER_PK))
            .update_expression("SET probe_owner = :owner, probe_until = :probe_until")
            .condition_expression(
                "open_until <= :now AND (attribute_not_exists(probe_until) OR probe_until < :now)",
            )
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":probe_until", n(ceil_secs(probe_until)))
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error(SERVICE, "UpdateItem", &self.target(), &e, true)),
        }
    }

    async fn close(&self) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table_name)
            .key(PK, s(BREAKER_PK))
            .update_expression(
                "SET trips = :zero REMOVE open_until, reason, probe_owner, probe_until, rejected_key",
            )
            .expression_attribute_values(":zero", n(0))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "UpdateItem", &self.target(), &e, true))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_separators_do_not_collide() {
        let a = ExternalKey {
            source: "crm#a".into(),
            entity: "b".into(),
            external_id: "c".into(),
        };
        let b = ExternalKey {
            source: "crm".into(),
            entity: "a#b".into(),
            external_id: "c".into(),
        };
        assert_ne!(map_pk(&a), map_pk(&b));
        assert_eq!(map_pk(&a), "map#crm%23a#b#c");
        assert_ne!(job_pk("a%23"), job_pk("a#"));
    }

    #[test]
    fn lock_end_rounds_up() {
        let t = DateTime::from_timestamp(100, 1).unwrap_or_default();
        assert_eq!(ceil_secs(t), 101);
        let t = DateTime::from_timestamp(100, 0).unwrap_or_default();
        assert_eq!(ceil_secs(t), 100);
    }
}
