//! Reading a sync's records from Severa, each with the key that de-duplicates it: GUID plus
//! version. The version is the record's modification time where Severa gives one
//! (`UpdatedTS` on accounts) and otherwise a digest of the record's content (hour entries,
//! cases and invoices carry no modification time), so an unchanged record re-read in the
//! changed-since overlap has the same key and a changed one a new key.

use super::config::{InvoiceRead, Read};
use crate::error::JobError;
use crate::ports::LedgerEntry;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use severa::{SeveraClient, WireDateTime};
use sha2::{Digest as _, Sha256};

/// Changed-since option bit 2: include inactive records, so deactivations reach the target.
pub(crate) const INCLUDE_INACTIVE: i32 = 2;

/// One Severa record, ready for an outbound job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub guid: String,
    pub version: String,
    /// Members named as Severa names them.
    pub json: Value,
    /// Invoices: the status the record was read in.
    pub status: Option<String>,
    /// Digest of the content (without members the bridge itself changes, see
    /// [`content_digest`]): what the ledger keeps, so a silent edit shows.
    pub digest: String,
    /// The date the record belongs to (hour entries: event date; invoices: invoice date).
    pub date: Option<NaiveDate>,
}

impl Record {
    /// What the ledger keeps of this record.
    pub fn ledger_entry(&self) -> LedgerEntry {
        LedgerEntry {
            guid: self.guid.clone(),
            digest: self.digest.clone(),
            date: self.date,
        }
    }

    /// The de-duplication key: GUID + version.
    pub fn key(&self) -> String {
        format!("{}@{}", self.guid, self.version)
    }
}

/// What a read returned.
pub(crate) struct ReadResult {
    pub records: Vec<Record>,
    /// Records Severa returned without a GUID (cannot be de-duplicated; not sent).
    pub without_guid: usize,
}

/// Short hex digest, for versions and job ids.
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Members the bridge changes itself (invoices are marked transferred after delivery): left
/// out of the content digest, so the write-back is not seen as an edit.
const NOT_CONTENT: &[&str] = &["InvoiceStatus"];

/// The ledger's content digest of a record (members as Severa names them).
pub(crate) fn content_digest(json: &Value) -> String {
    let text = match json {
        Value::Object(map) => {
            let mut map = map.clone();
            for member in NOT_CONTENT {
                map.remove(*member);
            }
            Value::Object(map).to_string()
        }
        other => other.to_string(),
    };
    digest(&[&text])[..16].to_string()
}

/// The member that dates a record of `read`'s entity (hour entries: `EventDate`, invoices:
/// `Date`); accounts and cases are undated.
pub(crate) fn date_member(read: &Read) -> Option<&'static str> {
    match read {
        Read::HourEntries { .. } => Some("EventDate"),
        Read::Invoices(_) => Some("Date"),
        Read::Accounts | Read::Cases => None,
    }
}

/// The date in a record's `member` (`2026-03-02` or `2026-03-02T00:00:00…`).
pub(crate) fn record_date(json: &Value, member: Option<&str>) -> Option<NaiveDate> {
    let text = json.get(member?)?.as_str()?;
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// For entities without a modification time or status.
pub(crate) fn none<T, U>(_: &T) -> Option<&U> {
    None
}

pub(crate) fn to_records<T: Serialize>(
    items: Vec<T>,
    dated_by: Option<&str>,
    modified: impl Fn(&T) -> Option<&WireDateTime>,
    guid: impl Fn(&T) -> Option<&String>,
    status: impl Fn(&T) -> Option<&String>,
) -> (Vec<Record>, usize) {
    let mut records = Vec::with_capacity(items.len());
    let mut without_guid = 0;
    for item in items {
        let Some(guid) = guid(&item).filter(|g| !g.trim().is_empty()).cloned() else {
            without_guid += 1;
            continue;
        };
        // Entities hold strings, numbers, dates and lists: serialising cannot fail.
        let json = serde_json::to_value(&item).unwrap_or(Value::Null);
        let version = match modified(&item) {
            Some(at) => at.to_utc().to_rfc3339(),
            None => format!("c{}", digest(&[&json.to_string()])),
        };
        let status = status(&item).cloned();
        records.push(Record {
            guid,
            version,
            digest: content_digest(&json),
            date: record_date(&json, dated_by),
            json,
            status,
        });
    }
    (records, without_guid)
}

/// How far past the run's start an invoice read reaches: `GetInvoicesByDate`'s `endDate` is a
/// non-nullable DateTime (left out, Severa reads 0001-01-01 and returns nothing), and an invoice
/// can be dated ahead of the day it is sent.
pub(crate) const INVOICES_AHEAD: chrono::TimeDelta = chrono::TimeDelta::days(366);

/// Reads what `read` selects: changed since `since` (rounded down to the minute by Severa), or
/// for invoices dated within `invoices` (both ends inclusive, by date).
pub(crate) async fn read(
    client: &SeveraClient,
    read: &Read,
    since: DateTime<Utc>,
    invoices: std::ops::Range<DateTime<Utc>>,
) -> Result<ReadResult, JobError> {
    let since = WireDateTime::utc(since);
    let dated_by = date_member(read);
    let (records, without_guid) = match read {
        Read::Accounts => {
            let r = client
                .get_accounts_changed_since(since, INCLUDE_INACTIVE)
                .await?;
            let (records, missing) = to_records(
                r.value,
                dated_by,
                |a| a.updated_ts.as_ref(),
                |a| a.guid.as_ref(),
                none,
            );
            (records, missing)
        }
        Read::Cases => {
            let r = client
                .get_cases_changed_since(None, since, INCLUDE_INACTIVE)
                .await?;
            let (records, missing) = to_records(r.value, dated_by, none, |c| c.guid.as_ref(), none);
            (records, missing)
        }
        Read::HourEntries { .. } => {
            let r = client.get_hour_entries_changed_since(since).await?;
            let (records, missing) = to_records(r.value, dated_by, none, |h| h.guid.as_ref(), none);
            (records, missing)
        }
        Read::Invoices(inv) => {
            let r = client
                .get_invoices_by_date(
                    inv.business_unit_guid.as_deref(),
                    WireDateTime::date(invoices.start.date_naive()),
                    WireDateTime::date(invoices.end.date_naive()),
                    0,
                )
                .await?;
            let (records, missing) = to_records(
                r.value,
                dated_by,
                none,
                |i| i.guid.as_ref(),
                |i| i.invoice_status.as_ref(),
            );
            let records = records
                .into_iter()
                .filter(|r| wanted_invoice(inv, r.status.as_deref()))
                .collect();
            (records, missing)
        }
    };
    Ok(ReadResult {
        records,
        without_guid,
    })
}

/// Invoices in a configured status (or, with none configured, in any status but the
/// transferred one).
pub(crate) fn wanted_invoice(inv: &InvoiceRead, status: Option<&str>) -> bool {
    let Some(status) = status else { return false };
    if inv.statuses.is_empty() {
        status != inv.transferred_status
    } else {
        inv.statuses.iter().any(|s| s == status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_use_the_modification_time_else_the_content() {
        use severa::entities::{Account, HourEntry};
        let at = WireDateTime::utc(DateTime::from_timestamp(1_767_600_000, 0).unwrap());
        let accounts = vec![Account {
            guid: Some("a-1".into()),
            updated_ts: Some(at),
            ..Default::default()
        }];
        let (records, _) = to_records(
            accounts,
            None,
            |a| a.updated_ts.as_ref(),
            |a| a.guid.as_ref(),
            |_| None,
        );
        assert_eq!(records[0].key(), "a-1@2026-01-05T08:00:00+00:00");

        let entry = |desc: &str| HourEntry {
            guid: Some("h-1".into()),
            description: Some(desc.into()),
            ..Default::default()
        };
        let (a, _) = to_records(
            vec![entry("x")],
            None,
            |_| None,
            |h| h.guid.as_ref(),
            |_| None,
        );
        let (b, _) = to_records(
            vec![entry("x")],
            None,
            |_| None,
            |h| h.guid.as_ref(),
            |_| None,
        );
        let (c, _) = to_records(
            vec![entry("y")],
            None,
            |_| None,
            |h| h.guid.as_ref(),
            |_| None,
        );
        assert_eq!(a[0].key(), b[0].key());
        assert_ne!(a[0].key(), c[0].key());
        let (none, missing) = to_records(
            vec![HourEntry::default()],
            None,
            |_| None,
            |h| h.guid.as_ref(),
            |_| None,
        );
        assert!(none.is_empty());
        assert_eq!(missing, 1);
    }

    #[test]
    fn the_ledger_digest_ignores_the_status_write_back_and_dates_come_from_the_record() {
        let sent = serde_json::json!({"GUID": "i-1", "Date": "2026-03-02T00:00:00", "InvoiceStatus": "Sent", "Notes": "a"});
        let mut transferred = sent.clone();
        transferred["InvoiceStatus"] = "Transferred".into();
        assert_eq!(content_digest(&sent), content_digest(&transferred));
        let mut edited = sent.clone();
        edited["Notes"] = "b".into();
        assert_ne!(content_digest(&sent), content_digest(&edited));
        assert_eq!(content_digest(&sent).len(), 16);
        assert_eq!(
            record_date(&sent, Some("Date")),
            NaiveDate::from_ymd_opt(2026, 3, 2)
        );
        assert_eq!(record_date(&sent, None), None);
        assert_eq!(record_date(&sent, Some("EventDate")), None);
    }

    #[test]
    fn invoice_status_filter() {
        let mut inv = InvoiceRead {
            statuses: vec!["Sent".into()],
            transferred_status: "Transferred".into(),
            window_days: 90,
            business_unit_guid: None,
        };
        assert!(wanted_invoice(&inv, Some("Sent")));
        assert!(!wanted_invoice(&inv, Some("Draft")));
        assert!(!wanted_invoice(&inv, None));
        inv.statuses.clear();
        assert!(wanted_invoice(&inv, Some("Draft")));
        assert!(!wanted_invoice(&inv, Some("Transferred")));
    }
}
