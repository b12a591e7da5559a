//! The scheduler's state in the same DynamoDB table as the idempotency records ([`SyncStore`]).
//!
//! Items (partition key `pk`; parts escaped like the other items):
//! - `sync#<name>#cursor`: `cursor` (RFC 3339, UTC), `updated_at` (epoch s). No expiry.
//! - `sync#<name>#lease`: `holder`, `lease_until` (epoch s), `expires_at` (a day after the lease
//!   ends). A conditional put takes it; an expired lease is taken over.
//! - `sync#schema`: `version`, `previous`, `paused` (bool), `changed_at`. Organisation-wide.
//! - `sync#<name>#sent#<record key>`: marker of a record version already enqueued; `expires_at`.

use super::dynamo::{
    DynamoTable, EXPIRES_AT, Item, PK, SERVICE, ceil_secs, escape, n, number, s, secs_after, string,
};
use super::error::sdk_error;
use crate::ports::{Lease, PortError, SchemaState, SyncStore};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, SecondsFormat, Utc};
use std::time::Duration;

const SCHEMA_PK: &str = "sync#schema";
/// An ended lease's item lingers this long, for inspection.
const LEASE_RECORD_GRACE_SECS: i64 = 24 * 3600;

fn cursor_pk(sync: &str) -> String {
    format!("sync#{}#cursor", escape(sync))
}

fn lease_pk(sync: &str) -> String {
    format!("sync#{}#lease", escape(sync))
}

fn sent_pk(sync: &str, key: &str) -> String {
    format!("sync#{}#sent#{}", escape(sync), escape(key))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    string(item, name)
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn corrupt(table: &DynamoTable, pk: &str, what: &str) -> PortError {
    PortError {
        service: SERVICE,
        action: "GetItem",
        message: format!(
            "{}: item {pk} has no valid {what}; fix or delete it",
            table.target()
        ),
        retryable: false,
    }
}

#[async_trait]
impl SyncStore for DynamoTable {
    async fn cursor(&self, sync: &str) -> Result<Option<DateTime<Utc>>, PortError> {
        let pk = cursor_pk(sync);
        match self.get(&pk, "GetItem").await? {
            None => Ok(None),
            Some(item) => time(&item, "cursor")
                .map(Some)
                .ok_or_else(|| corrupt(self, &pk, "cursor")),
        }
    }

    async fn set_cursor(&self, sync: &str, cursor: DateTime<Utc>) -> Result<(), PortError> {
        self.client()
            .put_item()
            .table_name(self.table_name())
            .item(PK, s(&cursor_pk(sync)))
            .item("cursor", s(&rfc3339(cursor)))
            .item("updated_at", n(self.now().timestamp()))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutItem", &self.target(), &e, true))?;
        Ok(())
    }

    async fn acquire_lease(
        &self,
        sync: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, PortError> {
        let pk = lease_pk(sync);
        let until_secs = ceil_secs(until);
        let result = self
            .client()
            .put_item()
            .table_name(self.table_name())
            .item(PK, s(&pk))
            .item("holder", s(holder))
            .item("lease_until", n(until_secs))
            .item(
                EXPIRES_AT,
                n(until_secs.saturating_add(LEASE_RECORD_GRACE_SECS)),
            )
            .condition_expression(
                "attribute_not_exists(pk) OR lease_until < :now OR holder = :holder",
            )
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":holder", s(holder))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Lease::Acquired),
            Err(err) => err,
        };
        let old = match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(e)) => e.item.clone(),
            _ => return Err(sdk_error(SERVICE, "PutItem", &self.target(), &err, true)),
        };
        let old = match old {
            Some(item) => Some(item),
            None => self.get(&pk, "GetItem").await?,
        };
        let item = old.unwrap_or_default();
        let holder = string(&item, "holder").unwrap_or("unknown").to_string();
        let until = number(&item, "lease_until")
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .unwrap_or(now);
        Ok(Lease::Held { holder, until })
    }

    async fn release_lease(&self, sync: &str, holder: &str) -> Result<(), PortError> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.table_name())
            .key(PK, s(&lease_pk(sync)))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                // Taken over after it expired: not ours to delete any more.
                tracing::warn!(sync, "the lease was taken over before it was released");
                Ok(())
            }
            Err(e) => Err(sdk_error(SERVICE, "DeleteItem", &self.target(), &e, true)),
        }
    }

    async fn schema_state(&self) -> Result<Option<SchemaState>, PortError> {
        let Some(item) = self.get(SCHEMA_PK, "GetItem").await? else {
            return Ok(None);
        };
        let version = string(&item, "version")
            .ok_or_else(|| corrupt(self, SCHEMA_PK, "version"))?
            .to_string();
        Ok(Some(SchemaState {
            version,
            previous: string(&item, "previous").map(str::to_string),
            paused: matches!(item.get("paused"), Some(AttributeValue::Bool(true))),
            changed_at: time(&item, "changed_at"),
        }))
    }

    async fn put_schema_state(&self, state: &SchemaState) -> Result<(), PortError> {
        let mut request = self
            .client()
            .put_item()
            .table_name(self.table_name())
            .item(PK, s(SCHEMA_PK))
            .item("version", s(&state.version))
            .item("paused", AttributeValue::Bool(state.paused))
            .item("updated_at", n(self.now().timestamp()));
        if let Some(previous) = &state.previous {
            request = request.item("previous", s(previous));
        }
        if let Some(at) = state.changed_at {
            request = request.item("changed_at", s(&rfc3339(at)));
        }
        request
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutItem", &self.target(), &e, true))?;
        Ok(())
    }

    async fn was_enqueued(&self, sync: &str, key: &str) -> Result<bool, PortError> {
        let item = self.get(&sent_pk(sync, key), "GetItem").await?;
        let now = self.now().timestamp();
        Ok(item.is_some_and(|item| number(&item, EXPIRES_AT).is_none_or(|t| t >= now)))
    }

    async fn mark_enqueued(&self, sync: &str, key: &str, ttl: Duration) -> Result<(), PortError> {
        let now = self.now().timestamp();
        self.client()
            .put_item()
            .table_name(self.table_name())
            .item(PK, s(&sent_pk(sync, key)))
            .item("enqueued_at", n(now))
            .item(EXPIRES_AT, n(secs_after(now, ttl)))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutItem", &self.target(), &e, true))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_keys_do_not_collide_with_each_other() {
        assert_ne!(sent_pk("a#sent", "b"), sent_pk("a", "sent#b"));
        assert_eq!(cursor_pk("accounts"), "sync#accounts#cursor");
        assert_eq!(lease_pk("hour-entries"), "sync#hour-entries#lease");
    }
}
