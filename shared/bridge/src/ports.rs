//! The ports the integration logic talks to. AWS adapters (SQS, DynamoDB, Secrets Manager)
//! implement them in `crate::aws`; handlers take them as trait objects so they run without Lambda.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::time::Duration;

/// An infrastructure call (queue, table, secret store) that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} {action} failed: {message}")]
pub struct PortError {
    /// `SQS`, `DynamoDB`, `SecretsManager`.
    pub service: &'static str,
    /// What was attempted, e.g. `SendMessage`.
    pub action: &'static str,
    pub message: String,
    /// Throttling, timeouts, 5xx: worth another try. Missing queue/table/secret, access denied: not.
    pub retryable: bool,
}

/// The most SQS takes in one message (256 KiB), counted as [`OutgoingMessage::size`] counts.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The data type of every message attribute the adapters send.
pub const ATTRIBUTE_DATA_TYPE: &str = "String";

/// A message to put on a queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// String message attributes (correlation id, source, kind, error details).
    pub attributes: BTreeMap<String, String>,
}

impl OutgoingMessage {
    /// Bytes as SQS counts them against [`MAX_MESSAGE_BYTES`]: the body plus, for every
    /// attribute, its name, data type and value. A body that fits alone can still be refused.
    pub fn size(&self) -> usize {
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(name, value)| name.len() + ATTRIBUTE_DATA_TYPE.len() + value.len())
            .sum();
        self.body.len() + attributes
    }
}

/// A queue that accepts messages (the job queue, the dead-letter queue).
#[async_trait]
pub trait MessageSink: Send + Sync {
    /// Sends one message and returns the queue's message id.
    async fn send(&self, message: &OutgoingMessage) -> Result<String, PortError>;
}

/// Per-message controls on the queue a batch came from.
#[async_trait]
pub trait ReceivedMessages: Send + Sync {
    /// Makes the message invisible for `seconds` (retry back-off).
    async fn delay(&self, receipt_handle: &str, seconds: i32) -> Result<(), PortError>;
    /// Removes a message for good (after it was moved to the DLQ).
    async fn delete(&self, receipt_handle: &str) -> Result<(), PortError>;
}

/// Outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours until the lock expires: do the work, then `complete` or `release`.
    Acquired,
    /// Done before; the Severa GUID it produced, if any.
    Completed { severa_guid: Option<String> },
    /// Another invocation holds an unexpired lock.
    InProgress { until: DateTime<Utc> },
}

/// Idempotency records (one table, conditional writes, TTL).
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` until `lock_until` unless it is completed or locked by another holder whose
    /// lock has not expired.
    async fn claim(&self, key: &str, lock_until: DateTime<Utc>) -> Result<Claim, PortError>;
    /// Marks `key` done (kept for `ttl`), remembering the Severa GUID it produced.
    async fn complete(
        &self,
        key: &str,
        severa_guid: Option<&str>,
        ttl: Duration,
    ) -> Result<(), PortError>;
    /// Gives up a claim so a retry can take it at once.
    async fn release(&self, key: &str) -> Result<(), PortError>;
    /// Records `key` if it is new (kept for `ttl`); `false` if it was seen before. For webhook ids.
    async fn first_sighting(&self, key: &str, ttl: Duration) -> Result<bool, PortError>;
}

/// The last event applied to one record of the other software (see [`RecordLocks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordVersion {
    /// The event's `occurred_at`, to the millisecond.
    pub occurred_at: DateTime<Utc>,
    /// A delete: a tombstone an older upsert cannot bring back.
    pub deleted: bool,
}

/// A create that was started and not seen through: Severa may hold the record although its
/// answer was lost (cut off, timed out, a proxy 5xx, or the worker's own deadline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIntent {
    /// What was being created (`AddNewHourEntry user=… date=… phase=… hours=…`), for people.
    pub fingerprint: String,
    pub at: DateTime<Utc>,
}

/// Outcome of taking a record's writer lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordLock {
    /// Ours until the lock's end; the version applied last and an open create intent, if any.
    Acquired {
        last: Option<RecordVersion>,
        intent: Option<CreateIntent>,
    },
    /// Another job of the same record holds it until `until`.
    Held { until: DateTime<Utc> },
}

/// One writer per record, in event order: jobs for the same (source, entity, external id) take
/// a lock before they touch Severa, and leave the version they applied when they let go.
#[async_trait]
pub trait RecordLocks: Send + Sync {
    /// Takes the record's lock for `owner` (a job id) until `until`, unless another owner holds
    /// an unexpired one.
    async fn lock(
        &self,
        key: &ExternalKey,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<RecordLock, PortError>;
    /// Records, before a create, that `owner` is about to create the record: a retry that finds
    /// the intent open looks for the record in Severa before creating another.
    async fn open_intent(
        &self,
        key: &ExternalKey,
        owner: &str,
        fingerprint: &str,
    ) -> Result<(), PortError>;
    /// Lets go of `owner`'s lock. With `applied`, records it as the record's version and closes
    /// any create intent (the job is through); without, an open intent stays.
    async fn unlock(
        &self,
        key: &ExternalKey,
        owner: &str,
        applied: Option<RecordVersion>,
    ) -> Result<(), PortError>;
}

/// The shared circuit breaker in front of Severa (see `crate::worker::breaker`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BreakerState {
    /// Open until then: no job calls Severa; `None`: closed.
    pub open_until: Option<DateTime<Utc>>,
    /// Why it opened (`Maintenance`, `HTTP503`, `KeyRejected`, …).
    pub reason: String,
    /// Trips since it last closed (the open time doubles with each).
    pub trips: u32,
    /// For a rejected key: a short digest of the secret that was rejected (never the key), so
    /// a worker that finds another secret in Secrets Manager tries it at once.
    pub rejected_key: Option<String>,
}

/// One marker every worker reads: when Severa is down or rejects the key, it opens until a
/// time, and after that time exactly one job at a time probes Severa.
#[async_trait]
pub trait Breaker: Send + Sync {
    async fn read(&self) -> Result<BreakerState, PortError>;
    /// Opens it until `until` (never shortens an opening), counting the trip.
    async fn trip(
        &self,
        until: DateTime<Utc>,
        reason: &str,
        trips: u32,
        rejected_key: Option<&str>,
    ) -> Result<(), PortError>;
    /// After the opening ends: `true` for the one caller that may call Severa now (until
    /// `probe_until`), `false` for everyone else.
    async fn take_probe(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        probe_until: DateTime<Utc>,
    ) -> Result<bool, PortError>;
    /// Severa answered: everyone may call again.
    async fn close(&self) -> Result<(), PortError>;
}

/// The other software's record, as the key of the id map.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalKey {
    pub source: String,
    /// Entity family, e.g. `hour_entry`, `account`, `contact`.
    pub entity: String,
    pub external_id: String,
}

/// (source, entity, external id) ↔ Severa GUID, so updates and deletes reach the record made earlier.
#[async_trait]
pub trait IdMap: Send + Sync {
    async fn lookup(&self, key: &ExternalKey) -> Result<Option<String>, PortError>;
    async fn record(&self, key: &ExternalKey, severa_guid: &str) -> Result<(), PortError>;
    /// Removes `key`'s mapping to `severa_guid` (both directions). The caller has just read the
    /// GUID under the record's lock, so the table need not read it again.
    async fn forget(&self, key: &ExternalKey, severa_guid: &str) -> Result<(), PortError>;
    /// The record a Severa GUID is mapped to, if any (so a record found in Severa is adopted
    /// only when no other record of the other software owns it).
    async fn owner(&self, severa_guid: &str) -> Result<Option<ExternalKey>, PortError>;
}

/// Where secrets (the Severa API key, signing secrets) come from.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The secret's current value (stage AWSCURRENT).
    async fn current(&self, secret_id: &str) -> Result<SecretString, PortError>;
}

/// Outcome of asking for a sync's run lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// Ours until the given time (or until released).
    Acquired,
    /// Another run holds it.
    Held {
        holder: String,
        until: DateTime<Utc>,
    },
}

/// What the scheduler last saw of Severa's entity schema version (organisation-wide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// The version Severa answered last (`GetEntitySchemaVersion`).
    pub version: String,
    /// The version before a change that was not acknowledged yet.
    pub previous: Option<String>,
    /// Syncs do not run until an operator acknowledges the change (`bridgectl sync ack-schema`).
    pub paused: bool,
    pub changed_at: Option<DateTime<Utc>>,
}

/// The scheduler's state: cursor and lease per sync, the schema version, and markers of the
/// records already enqueued (so the changed-since overlap sends nothing twice).
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Where the next changed-since read of `sync` starts; `None` before the first run.
    async fn cursor(&self, sync: &str) -> Result<Option<DateTime<Utc>>, PortError>;
    async fn set_cursor(&self, sync: &str, cursor: DateTime<Utc>) -> Result<(), PortError>;
    /// Takes the lease of `sync` for `holder` until `until`, unless another holder's lease is
    /// still running at `now`.
    async fn acquire_lease(
        &self,
        sync: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, PortError>;
    /// Gives the lease back (only if `holder` still holds it).
    async fn release_lease(&self, sync: &str, holder: &str) -> Result<(), PortError>;
    async fn schema_state(&self) -> Result<Option<SchemaState>, PortError>;
    async fn put_schema_state(&self, state: &SchemaState) -> Result<(), PortError>;
    /// Whether the record version `key` of `sync` was enqueued before.
    async fn was_enqueued(&self, sync: &str, key: &str) -> Result<bool, PortError>;
    /// Remembers that the record version `key` of `sync` was enqueued (kept for `ttl`).
    async fn mark_enqueued(&self, sync: &str, key: &str, ttl: Duration) -> Result<(), PortError>;
}

/// One record version a sync sent, as the ledger keeps it (see [`SyncLedger`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub guid: String,
    /// Digest of the record's content as sent (what a silent edit in Severa changes).
    pub digest: String,
    /// The date the record belongs to (hour entries: event date; invoices: invoice date);
    /// `None` for undated records (accounts).
    pub date: Option<NaiveDate>,
}

/// What each sync sent, per record: GUID, content digest and date. Reconciliation compares a
/// window of Severa with it to find deletions, silent edits and records never sent.
#[async_trait]
pub trait SyncLedger: Send + Sync {
    /// Records (or replaces) `entries` of `sync`; kept at least `retention` after the later of
    /// their date and now.
    async fn record_sent(
        &self,
        sync: &str,
        entries: &[LedgerEntry],
        retention: Duration,
    ) -> Result<(), PortError>;
    /// The entries of `sync` dated `date` (`None`: the undated ones).
    async fn sent_on(
        &self,
        sync: &str,
        date: Option<NaiveDate>,
    ) -> Result<Vec<LedgerEntry>, PortError>;
    /// Forgets `entries` (a deletion was sent, or the record now lives under another date).
    async fn forget(&self, sync: &str, entries: &[LedgerEntry]) -> Result<(), PortError>;
    /// Where an unfinished reconciliation of `sync` stands (JSON of the sync module's progress).
    async fn reconcile_progress(&self, sync: &str) -> Result<Option<String>, PortError>;
    /// Saves (`Some`) or clears (`None`) the reconciliation progress of `sync`.
    async fn set_reconcile_progress(
        &self,
        sync: &str,
        progress: Option<&str>,
    ) -> Result<(), PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_size_counts_attribute_names_types_and_values() {
        let mut message = OutgoingMessage {
            body: "é".repeat(10),
            attributes: BTreeMap::new(),
        };
        assert_eq!(message.size(), 20, "UTF-8 bytes, not characters");
        message
            .attributes
            .insert("sync".to_string(), "invoices".to_string());
        assert_eq!(message.size(), 20 + 4 + 6 + 8);
    }
}
