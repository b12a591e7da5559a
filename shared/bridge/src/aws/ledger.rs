//! The sync ledger ([`SyncLedger`]) in the state table: what each sync sent, compact.
//!
//! Items (partition key `pk`; parts escaped like the other items):
//! - `sync#<name>#ledger#<YYYY-MM-DD | undated>#<shard>`: one attribute per record sent,
//!   `r#<GUID>` = its content digest, and `expires_at`. A record's shard is a hash of its GUID
//!   ([`LEDGER_SHARDS`] per date), so one item holds about a sixteenth of a day's records and
//!   stays far below DynamoDB's 400 KB per item (a shard holds ~6 000 GUID + digest pairs, so
//!   a sync can have ~90 000 records per date, or undated). Reading one date is
//!   [`LEDGER_SHARDS`] `GetItem`s, whatever the number of records.
//! - `sync#<name>#reconcile`: `progress` (JSON) of an unfinished reconciliation run.

use super::dynamo::{DynamoTable, EXPIRES_AT, Item, PK, SERVICE, escape, n, number, s, string};
use super::error::sdk_error;
use crate::ports::{LedgerEntry, PortError, SyncLedger};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{NaiveDate, NaiveTime, TimeDelta};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// Items per date and sync.
pub const LEDGER_SHARDS: u8 = 16;
/// Prefix of a record's attribute.
const RECORD: &str = "r#";
/// Records per `UpdateItem` (its expression stays well under DynamoDB's 4 KB).
const PER_UPDATE: usize = 100;

fn shard(guid: &str) -> u8 {
    Sha256::digest(guid.as_bytes())[0] % LEDGER_SHARDS
}

fn day(date: Option<NaiveDate>) -> String {
    date.map_or_else(
        || "undated".to_string(),
        |d| d.format("%Y-%m-%d").to_string(),
    )
}

fn ledger_pk(sync: &str, date: Option<NaiveDate>, shard: u8) -> String {
    format!("sync#{}#ledger#{}#{shard:02}", escape(sync), day(date))
}

fn progress_pk(sync: &str) -> String {
    format!("sync#{}#reconcile", escape(sync))
}

type Groups<'a> = BTreeMap<(Option<NaiveDate>, u8), Vec<&'a LedgerEntry>>;

fn groups(entries: &[LedgerEntry]) -> Groups<'_> {
    let mut groups: Groups<'_> = BTreeMap::new();
    for entry in entries {
        groups
            .entry((entry.date, shard(&entry.guid)))
            .or_default()
            .push(entry);
    }
    groups
}

impl DynamoTable {
    async fn update(
        &self,
        pk: &str,
        expression: String,
        names: Vec<(String, String)>,
        values: Vec<(String, AttributeValue)>,
    ) -> Result<(), PortError> {
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(PK, s(pk))
            .update_expression(expression);
        for (k, v) in names {
            request = request.expression_attribute_names(k, v);
        }
        for (k, v) in values {
            request = request.expression_attribute_values(k, v);
        }
        request
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "UpdateItem", &self.target(), &e, true))?;
        Ok(())
    }
}

#[async_trait]
impl SyncLedger for DynamoTable {
    async fn record_sent(
        &self,
        sync: &str,
        entries: &[LedgerEntry],
        retention: Duration,
    ) -> Result<(), PortError> {
        let now = self.now();
        let retention = TimeDelta::from_std(retention).unwrap_or(TimeDelta::days(3660));
        for ((date, shard), entries) in groups(entries) {
            // Kept `retention` after the later of the records' date and now.
            let from = date
                .map(|d| d.and_time(NaiveTime::MIN).and_utc())
                .map_or(now, |d| d.max(now));
            let expires = (from + retention).timestamp();
            let pk = ledger_pk(sync, date, shard);
            for chunk in entries.chunks(PER_UPDATE) {
                let mut sets = vec![format!("{EXPIRES_AT} = :exp")];
                let mut names = Vec::new();
                let mut values = vec![(":exp".to_string(), n(expires))];
                for (i, entry) in chunk.iter().enumerate() {
                    sets.push(format!("#r{i} = :d{i}"));
                    names.push((format!("#r{i}"), format!("{RECORD}{}", entry.guid)));
                    values.push((format!(":d{i}"), s(&entry.digest)));
                }
                self.update(&pk, format!("SET {}", sets.join(", ")), names, values)
                    .await?;
            }
        }
        Ok(())
    }

    async fn sent_on(
        &self,
        sync: &str,
        date: Option<NaiveDate>,
    ) -> Result<Vec<LedgerEntry>, PortError> {
        let now = self.now().timestamp();
        let mut entries = Vec::new();
        for shard in 0..LEDGER_SHARDS {
            let Some(item) = self.get(&ledger_pk(sync, date, shard), "GetItem").await? else {
                continue;
            };
            if number(&item, EXPIRES_AT).is_some_and(|t| t < now) {
                continue;
            }
            entries.extend(records(&item, date));
        }
        entries.sort_by(|a, b| a.guid.cmp(&b.guid));
        Ok(entries)
    }

    async fn forget(&self, sync: &str, entries: &[LedgerEntry]) -> Result<(), PortError> {
        for ((date, shard), entries) in groups(entries) {
            let pk = ledger_pk(sync, date, shard);
            for chunk in entries.chunks(PER_UPDATE) {
                let mut removes = Vec::new();
                let mut names = Vec::new();
                for (i, entry) in chunk.iter().enumerate() {
                    removes.push(format!("#r{i}"));
                    names.push((format!("#r{i}"), format!("{RECORD}{}", entry.guid)));
                }
                self.update(
                    &pk,
                    format!("REMOVE {}", removes.join(", ")),
                    names,
                    Vec::new(),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn reconcile_progress(&self, sync: &str) -> Result<Option<String>, PortError> {
        let item = self.get(&progress_pk(sync), "GetItem").await?;
        Ok(item.and_then(|item| string(&item, "progress").map(str::to_string)))
    }

    async fn set_reconcile_progress(
        &self,
        sync: &str,
        progress: Option<&str>,
    ) -> Result<(), PortError> {
        let pk = progress_pk(sync);
        match progress {
            Some(progress) => {
                self.client()
                    .put_item()
                    .table_name(self.table_name())
                    .item(PK, s(&pk))
                    .item("progress", s(progress))
                    .item("updated_at", n(self.now().timestamp()))
                    .send()
                    .await
                    .map_err(|e| sdk_error(SERVICE, "PutItem", &self.target(), &e, true))?;
            }
            None => {
                self.client()
                    .delete_item()
                    .table_name(self.table_name())
                    .key(PK, s(&pk))
                    .send()
                    .await
                    .map_err(|e| sdk_error(SERVICE, "DeleteItem", &self.target(), &e, true))?;
            }
        }
        Ok(())
    }
}

fn records(item: &Item, date: Option<NaiveDate>) -> impl Iterator<Item = LedgerEntry> + '_ {
    item.iter().filter_map(move |(name, value)| {
        let guid = name.strip_prefix(RECORD)?;
        let digest = value.as_s().ok()?;
        Some(LedgerEntry {
            guid: guid.to_string(),
            digest: digest.clone(),
            date,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_keys_are_per_sync_date_and_shard() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 2);
        assert_eq!(ledger_pk("hours", d, 3), "sync#hours#ledger#2026-03-02#03");
        assert_eq!(
            ledger_pk("accounts", None, 15),
            "sync#accounts#ledger#undated#15"
        );
        assert_ne!(ledger_pk("a#ledger", d, 0), ledger_pk("a", d, 0));
        assert!((0..200).all(|i| shard(&format!("g-{i}")) < LEDGER_SHARDS));
        assert_eq!(progress_pk("hours"), "sync#hours#reconcile");
    }
}
