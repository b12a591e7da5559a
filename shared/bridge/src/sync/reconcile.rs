//! Reconciliation runs: what changed-since feeds never show.
//!
//! Severa has no deleted-records feed, and some edits (custom fields, market segment) do not
//! move a record's modification time. A reconciliation reads a window of Severa through the
//! non-incremental operations (`GetHourEntriesByDate`, `GetInvoicesByDate`,
//! `GetAccountsChangedSince` from [`FULL_WINDOW_START`]), compares it with the ledger (what the
//! sync sent: GUID, content digest, date) and sends typed events:
//! - `severa.<entity>.deleted` for a record sent but gone (confirmed by GUID for dated records,
//!   so an entry only moved to another date is not reported deleted); it then leaves the
//!   ledger, so the next run sends nothing for it;
//! - `severa.<entity>.updated` for a record whose content digest changed without the sync
//!   sending it (a silent edit);
//! - `severa.<entity>.created` for a record in the window that was never sent.
//!
//! Job ids (the `webhook-id`) name the event, the record version and its content digest (an
//! account keeps its `UpdatedTS` through a silent edit), so a re-run sends the same ids, each
//! silent edit gets its own, and receivers apply them idempotently.
//!
//! Quota: a run estimates its calls (one per page, plus the schema check) before it starts and
//! defers when they do not fit under the quota share (unless the sync is urgent). It pages
//! through the window (`page_days` per call), saves its position after every page, and stops
//! when the invocation's budget (pages, time) is used or the quota share is crossed; the next
//! invocation (`{"sync": …, "reconcile": true}`, or `bridgectl sync reconcile`) resumes there.
//! A dry run reads and compares but sends nothing, writes nothing and keeps no position.

use super::config::{Read, Reconcile, SyncDefinition};
use super::read::{self, INCLUDE_INACTIVE, Record};
use super::{RunOutcome, RunReport, Scheduler, SyncError};
use crate::error::JobError;
use crate::ports::{Lease, LedgerEntry};
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use severa::{Quota, SeveraClient, WireDateTime};
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

pub const CREATED: &str = "created";
pub const UPDATED: &str = "updated";
pub const DELETED: &str = "deleted";

/// Accounts are read whole: changed since this instant is every account.
pub const FULL_WINDOW_START: &str = "2000-01-01T00:00:00Z";

/// What to reconcile; the defaults are a scheduled run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileRequest {
    /// First day of the window (default: `window_days` before `to`). Dated records only.
    pub from: Option<NaiveDate>,
    /// Last day of the window (default: today, UTC). Dated records only.
    pub to: Option<NaiveDate>,
    /// Read and compare, send nothing, write nothing.
    pub dry_run: bool,
    /// Pages this invocation reads at most (default: the scheduler's `reconcile_pages`).
    pub max_pages: Option<usize>,
}

/// What a run found so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// Records in the window in Severa.
    pub in_severa: usize,
    /// Sent, and Severa still has the same content.
    pub unchanged: usize,
    /// Sent, but the content changed without the sync sending it: `updated` events.
    pub changed: usize,
    /// Sent, but gone from Severa: `deleted` events.
    pub deleted: usize,
    /// In Severa, never sent: `created` events.
    pub never_sent: usize,
    /// Sent under another date than Severa now has (no event; the ledger follows).
    pub moved: usize,
}

impl Drift {
    /// Records a target is missing or holds wrongly (the `ReconcileDrift` metric).
    pub fn total(&self) -> usize {
        self.changed + self.deleted + self.never_sent
    }

    fn add(&mut self, other: &Drift) {
        self.in_severa += other.in_severa;
        self.unchanged += other.unchanged;
        self.changed += other.changed;
        self.deleted += other.deleted;
        self.never_sent += other.never_sent;
        self.moved += other.moved;
    }
}

/// Where a run stands; saved after every page (not in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The invocation that started the run.
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    /// The window (dated records; `None` for accounts, read whole).
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// First day of the next page (dated records).
    pub next: Option<NaiveDate>,
    pub pages_done: usize,
    pub pages_total: usize,
    pub invocations: usize,
    pub drift: Drift,
}

impl Progress {
    pub fn done(&self) -> bool {
        self.pages_done >= self.pages_total
    }
}

/// What a reconciliation invocation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileReport {
    pub run: RunReport,
    pub dry_run: bool,
    /// The run's position (absent when it did not start: busy, paused, deferred).
    pub progress: Option<Progress>,
    /// Severa calls the rest of the run needed when this invocation started.
    pub estimated_calls: usize,
}

/// One page compared with the ledger.
#[derive(Debug, Default)]
struct PageDiff {
    drift: Drift,
    changed: Vec<Record>,
    never_sent: Vec<Record>,
    /// Sent, not in this page of Severa: deleted, or moved to another date.
    gone: Vec<LedgerEntry>,
    /// Ledger entries under a date the record no longer has.
    stale: Vec<LedgerEntry>,
    /// Unchanged records whose ledger entry is under another date.
    relocated: Vec<LedgerEntry>,
}

/// Compares Severa's records of a page with the ledger's entries of the same dates.
/// `sendable`: whether the sync would send a record it never sent (invoices: in a configured
/// status).
fn compare(
    severa: Vec<Record>,
    ledger: Vec<LedgerEntry>,
    sendable: impl Fn(&Record) -> bool,
) -> PageDiff {
    let mut sent: BTreeMap<String, Vec<LedgerEntry>> = BTreeMap::new();
    for entry in ledger {
        sent.entry(entry.guid.clone()).or_default().push(entry);
    }
    let mut diff = PageDiff::default();
    let mut seen = BTreeSet::new();
    for record in severa {
        diff.drift.in_severa += 1;
        seen.insert(record.guid.clone());
        let Some(entries) = sent.get(&record.guid) else {
            if sendable(&record) {
                diff.drift.never_sent += 1;
                diff.never_sent.push(record);
            }
            continue;
        };
        let current = entries.iter().find(|e| e.date == record.date);
        diff.stale
            .extend(entries.iter().filter(|e| e.date != record.date).cloned());
        let same = match current {
            Some(e) => e.digest == record.digest,
            None => entries.iter().any(|e| e.digest == record.digest),
        };
        if same {
            diff.drift.unchanged += 1;
            if current.is_none() {
                diff.relocated.push(record.ledger_entry());
            }
        } else {
            diff.drift.changed += 1;
            diff.changed.push(record);
        }
    }
    for (guid, entries) in sent {
        if !seen.contains(&guid) {
            diff.gone.extend(entries);
        }
    }
    diff
}

/// The stub a `deleted` event carries: the GUID and, for dated records, the date it had.
fn deleted_record(entry: &LedgerEntry, read: &Read) -> Record {
    let mut json = json!({ "GUID": entry.guid });
    if let (Some(member), Some(date)) = (read::date_member(read), entry.date) {
        json[member] = Value::String(date.format("%Y-%m-%d").to_string());
    }
    Record {
        guid: entry.guid.clone(),
        version: format!("{DELETED}:{}", entry.digest),
        json,
        status: None,
        digest: entry.digest.clone(),
        date: entry.date,
    }
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

fn pages_in(from: NaiveDate, to: NaiveDate, page_days: u32) -> usize {
    let days = (to - from).num_days().max(0) as usize + 1;
    days.div_ceil(page_days.max(1) as usize)
}

impl Scheduler {
    /// Runs (or resumes) the reconciliation of `sync`: see the module documentation.
    /// `on_page` sees the position after every page (the CLI's progress bar).
    pub async fn reconcile(
        &self,
        sync: &str,
        run_id: &str,
        request: &ReconcileRequest,
        on_page: &(dyn Fn(&Progress) + Send + Sync),
    ) -> Result<ReconcileReport, SyncError> {
        let definition = self.definition(sync)?;
        let Some(reconcile) = &definition.reconcile else {
            return Err(SyncError::NotReconciled {
                sync: sync.to_string(),
            });
        };
        let started = Instant::now();
        let now = self.now();
        let until =
            now + TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::minutes(15));
        let lease = self
            .store
            .acquire_lease(sync, run_id, now, until)
            .await
            .map_err(|e| Self::failed(definition, e))?;
        if let Lease::Held { holder, until } = lease {
            return Ok(ReconcileReport {
                run: RunReport::new(
                    sync,
                    RunOutcome::Busy,
                    format!(
                        "another run of {sync} ({holder}) holds the lease until {}; this \
                         reconciliation does nothing",
                        until.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                ),
                dry_run: request.dry_run,
                progress: None,
                estimated_calls: 0,
            });
        }
        let result = Box::pin(
            self.reconcile_locked(definition, reconcile, run_id, request, on_page, started),
        )
        .await;
        if let Err(e) = self.store.release_lease(sync, run_id).await {
            tracing::warn!(sync, error = %e, "could not release the lease; it ends by itself");
        }
        match &result {
            Ok(report) => {
                let drift = report
                    .progress
                    .as_ref()
                    .map(|p| p.drift.clone())
                    .unwrap_or_default();
                tracing::info!(
                    sync,
                    outcome = report.run.outcome.as_str(),
                    dry_run = report.dry_run,
                    pages_done = report.progress.as_ref().map_or(0, |p| p.pages_done),
                    pages_total = report.progress.as_ref().map_or(0, |p| p.pages_total),
                    in_severa = drift.in_severa,
                    unchanged = drift.unchanged,
                    changed = drift.changed,
                    deleted = drift.deleted,
                    never_sent = drift.never_sent,
                    jobs_enqueued = report.run.jobs_enqueued,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "reconciliation {}: {}",
                    report.run.outcome.as_str(),
                    report.run.message
                );
            }
            Err(e) => tracing::error!(
                sync,
                outcome = "failed",
                error = %e,
                "reconciliation failed; its position stays and the next invocation resumes it"
            ),
        }
        result
    }

    async fn reconcile_locked(
        &self,
        sync: &SyncDefinition,
        reconcile: &Reconcile,
        run_id: &str,
        request: &ReconcileRequest,
        on_page: &(dyn Fn(&Progress) + Send + Sync),
        started: Instant,
    ) -> Result<ReconcileReport, SyncError> {
        let dry_run = request.dry_run;
        let not_started = |run: RunReport, estimated_calls| ReconcileReport {
            run,
            dry_run,
            progress: None,
            estimated_calls,
        };
        let guards = match self.guards(sync).await? {
            Ok(g) => g,
            Err(paused) => return Ok(not_started(paused, 0)),
        };
        let mut progress = self.progress(sync, reconcile, run_id, request).await?;
        progress.invocations += 1;

        // The estimate: one call per page left, plus the schema check already made.
        let estimated_calls = progress.pages_total - progress.pages_done + 1;
        if let Some(report) = self.reconcile_quota_guard(sync, &guards.quota, estimated_calls) {
            return Ok(not_started(report, estimated_calls));
        }

        let max_pages = request
            .max_pages
            .unwrap_or(self.settings.reconcile_pages)
            .max(1);
        let mut report = RunReport::new(&sync.name, RunOutcome::InProgress, "");
        let mut pages = 0;
        let mut stop_reason = None;
        while !progress.done() {
            if pages >= max_pages {
                stop_reason = Some(format!("read {pages} page(s), this invocation's budget"));
                break;
            }
            if pages > 0 && started.elapsed() >= self.settings.reconcile_budget {
                stop_reason = Some(format!(
                    "used this invocation's time budget ({} s)",
                    self.settings.reconcile_budget.as_secs()
                ));
                break;
            }
            let quota = self
                .reconcile_page(
                    sync,
                    reconcile,
                    run_id,
                    &guards.client,
                    &mut progress,
                    dry_run,
                    &mut report,
                )
                .await?;
            pages += 1;
            if !dry_run {
                self.save_progress(sync, Some(&progress)).await?;
            }
            on_page(&progress);
            if !sync.urgent
                && let Some(share) = quota.used_share()
                && share > self.config.quota_share
                && !progress.done()
            {
                stop_reason = Some(format!(
                    "Severa's daily quota is {:.0} % used, above the {:.0} % allowed",
                    share * 100.0,
                    self.config.quota_share * 100.0
                ));
                break;
            }
        }

        let drift = progress.drift.clone();
        if let Some(why) = stop_reason {
            report.message = format!(
                "{} of {} page(s) reconciled; stopped at {} ({why}); the next invocation resumes \
                 there",
                progress.pages_done,
                progress.pages_total,
                progress
                    .next
                    .map_or_else(|| "the start".to_string(), |d| d.to_string())
            );
            return Ok(ReconcileReport {
                run: report,
                dry_run,
                progress: Some(progress),
                estimated_calls,
            });
        }
        if !dry_run {
            self.save_progress(sync, None).await?;
            self.settings.metrics.count(
                "ReconcileDrift",
                drift.total() as u64,
                &[("sync", &sync.name)],
            );
        }
        report.outcome = RunOutcome::Completed;
        report.message = format!(
            "{}reconciled {}: {} in Severa, {} sent and unchanged, {} changed, {} deleted, {} \
             never sent",
            if dry_run {
                "dry run, nothing sent: "
            } else {
                ""
            },
            window_text(&progress),
            drift.in_severa,
            drift.unchanged,
            drift.changed,
            drift.deleted,
            drift.never_sent
        );
        Ok(ReconcileReport {
            run: report,
            dry_run,
            progress: Some(progress),
            estimated_calls,
        })
    }

    /// The stored position (a scheduled run with no window of its own resumes it) or a new one.
    async fn progress(
        &self,
        sync: &SyncDefinition,
        reconcile: &Reconcile,
        run_id: &str,
        request: &ReconcileRequest,
    ) -> Result<Progress, SyncError> {
        let explicit = request.from.is_some() || request.to.is_some();
        if !request.dry_run && !explicit {
            let stored = self
                .ledger
                .reconcile_progress(&sync.name)
                .await
                .map_err(|e| Self::failed(sync, e))?;
            if let Some(text) = stored {
                match serde_json::from_str::<Progress>(&text) {
                    Ok(progress) if !progress.done() => return Ok(progress),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(sync = %sync.name, error = %e, "the stored reconciliation position is unreadable; starting over")
                    }
                }
            }
        }
        let now = self.now();
        let (from, to, pages_total) = if reconcile.window_days == 0 {
            (None, None, 1)
        } else {
            let to = request.to.unwrap_or(now.date_naive());
            let from = request
                .from
                .unwrap_or(to - TimeDelta::days(i64::from(reconcile.window_days)));
            if from > to {
                return Err(SyncError::BadInput(format!(
                    "the reconciliation window starts ({from}) after it ends ({to})"
                )));
            }
            (
                Some(from),
                Some(to),
                pages_in(from, to, reconcile.page_days),
            )
        };
        Ok(Progress {
            run_id: run_id.to_string(),
            started_at: now,
            from,
            to,
            next: from,
            pages_done: 0,
            pages_total,
            invocations: 0,
            drift: Drift::default(),
        })
    }

    async fn save_progress(
        &self,
        sync: &SyncDefinition,
        progress: Option<&Progress>,
    ) -> Result<(), SyncError> {
        let text = progress.map(|p| serde_json::to_string(p).unwrap_or_default());
        self.ledger
            .set_reconcile_progress(&sync.name, text.as_deref())
            .await
            .map_err(|e| Self::failed(sync, e))
    }

    /// Defers a run whose estimated calls do not fit under the quota share (urgent syncs run).
    fn reconcile_quota_guard(
        &self,
        sync: &SyncDefinition,
        quota: &Quota,
        estimate: usize,
    ) -> Option<RunReport> {
        if sync.urgent {
            return None;
        }
        let (Some(limit), Some(used)) = (quota.limit, quota.used) else {
            return None;
        };
        let allowed = (limit as f64 * self.config.quota_share).floor() as u64;
        if used + estimate as u64 <= allowed {
            return None;
        }
        self.settings
            .metrics
            .count("SyncDeferred", 1, &[("sync", &sync.name)]);
        Some(RunReport::new(
            &sync.name,
            RunOutcome::Deferred,
            format!(
                "the reconciliation of {} needs about {estimate} Severa call(s); {used} of {limit} \
                 are used and non-urgent syncs may use {allowed} ({:.0} %); deferred to its next \
                 schedule (a smaller window or page_days > the window needs fewer calls)",
                sync.name,
                self.config.quota_share * 100.0
            ),
        ))
    }

    /// Reads, compares and (unless dry) sends one page; returns the quota Severa reported.
    #[allow(clippy::too_many_arguments)]
    async fn reconcile_page(
        &self,
        sync: &SyncDefinition,
        reconcile: &Reconcile,
        run_id: &str,
        client: &SeveraClient,
        progress: &mut Progress,
        dry_run: bool,
        report: &mut RunReport,
    ) -> Result<Quota, SyncError> {
        let page = match (progress.next, progress.to) {
            (Some(start), Some(to)) => {
                let end = (start + TimeDelta::days(i64::from(reconcile.page_days) - 1)).min(to);
                Some((start, end))
            }
            _ => None,
        };
        let (severa, mut quota) = read_window(client, &sync.read, reconcile, page)
            .await
            .map_err(|e| Self::failed(sync, e))?;
        let mut ledger = Vec::new();
        match page {
            Some((start, end)) => {
                for day in days(start, end) {
                    ledger.extend(
                        self.ledger
                            .sent_on(&sync.name, Some(day))
                            .await
                            .map_err(|e| Self::failed(sync, e))?,
                    );
                }
            }
            None => {
                ledger = self
                    .ledger
                    .sent_on(&sync.name, None)
                    .await
                    .map_err(|e| Self::failed(sync, e))?
            }
        }
        let sendable = |r: &Record| match &sync.read {
            Read::Invoices(inv) => read::wanted_invoice(inv, r.status.as_deref()),
            _ => true,
        };
        let mut diff = compare(severa, ledger, sendable);

        // Gone from this page: deleted, or (dated records) moved to a date outside it.
        let mut deleted = Vec::new();
        for entry in std::mem::take(&mut diff.gone) {
            let exists = match page {
                None => false,
                Some(_) => {
                    let (exists, q) = exists(client, &sync.read, &entry.guid)
                        .await
                        .map_err(|e| Self::failed(sync, e))?;
                    quota = q;
                    exists
                }
            };
            if exists {
                diff.drift.moved += 1;
                diff.stale.push(entry);
            } else {
                diff.drift.deleted += 1;
                deleted.push(deleted_record(&entry, &sync.read));
            }
        }

        if !dry_run {
            let batch_size = match sync.read {
                Read::HourEntries { batch_size } => batch_size,
                _ => 1,
            };
            let mut too_large = Vec::new();
            for (event, records) in [
                (UPDATED, &diff.changed),
                (CREATED, &diff.never_sent),
                (DELETED, &deleted),
            ] {
                for batch in records.chunks(batch_size) {
                    self.enqueue_fitting(sync, run_id, batch, Some(event), report, &mut too_large)
                        .await?;
                }
            }
            if !too_large.is_empty() {
                return Err(SyncError::TooLarge {
                    sync: sync.name.clone(),
                    records: too_large,
                });
            }
            let forget: Vec<LedgerEntry> = diff
                .stale
                .iter()
                .cloned()
                .chain(deleted.iter().map(|r| r.ledger_entry()))
                .collect();
            if !forget.is_empty() {
                self.ledger
                    .forget(&sync.name, &forget)
                    .await
                    .map_err(|e| Self::failed(sync, e))?;
            }
            if !diff.relocated.is_empty() {
                self.ledger
                    .record_sent(&sync.name, &diff.relocated, sync.ledger_retention())
                    .await
                    .map_err(|e| Self::failed(sync, e))?;
            }
        }

        progress.drift.add(&diff.drift);
        progress.pages_done += 1;
        progress.next = page.map(|(_, end)| end + TimeDelta::days(1));
        Ok(quota)
    }
}

fn window_text(progress: &Progress) -> String {
    match (progress.from, progress.to) {
        (Some(from), Some(to)) => format!("{from}..={to}"),
        _ => "all records".to_string(),
    }
}

/// Reads one page of Severa's side: dated records in `page` (both ends inclusive), or every
/// account.
async fn read_window(
    client: &SeveraClient,
    what: &Read,
    reconcile: &Reconcile,
    page: Option<(NaiveDate, NaiveDate)>,
) -> Result<(Vec<Record>, Quota), JobError> {
    let dated_by = read::date_member(what);
    let ((records, _), quota) = match (what, page) {
        (Read::HourEntries { .. }, Some((start, end))) => {
            let r = client
                .get_hour_entries_by_date(
                    reconcile.business_unit_guid.as_deref(),
                    WireDateTime::date(start),
                    WireDateTime::date(end),
                )
                .await?;
            (
                read::to_records(
                    r.value,
                    dated_by,
                    read::none,
                    |h| h.guid.as_ref(),
                    read::none,
                ),
                r.quota,
            )
        }
        (Read::Invoices(inv), Some((start, end))) => {
            let r = client
                .get_invoices_by_date(
                    inv.business_unit_guid.as_deref(),
                    WireDateTime::date(start),
                    WireDateTime::date(end),
                    0,
                )
                .await?;
            (
                read::to_records(
                    r.value,
                    dated_by,
                    read::none,
                    |i| i.guid.as_ref(),
                    |i| i.invoice_status.as_ref(),
                ),
                r.quota,
            )
        }
        _ => {
            let since = DateTime::parse_from_rfc3339(FULL_WINDOW_START)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default();
            let r = client
                .get_accounts_changed_since(WireDateTime::utc(since), INCLUDE_INACTIVE)
                .await?;
            (
                read::to_records(
                    r.value,
                    None,
                    |a| a.updated_ts.as_ref(),
                    |a| a.guid.as_ref(),
                    read::none,
                ),
                r.quota,
            )
        }
    };
    Ok((records, quota))
}

/// Whether Severa still has the record (by GUID).
async fn exists(client: &SeveraClient, what: &Read, guid: &str) -> Result<(bool, Quota), JobError> {
    Ok(match what {
        Read::HourEntries { .. } => {
            let r = client.get_hour_entry_by_guid(guid).await?;
            (r.value.is_some(), r.quota)
        }
        Read::Invoices(_) => {
            let r = client.get_invoice_by_guid(guid).await?;
            (r.value.is_some(), r.quota)
        }
        Read::Accounts | Read::Cases => {
            let r = client.get_account_by_guid(guid).await?;
            (r.value.is_some(), r.quota)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 3, d)
    }

    fn record(guid: &str, digest: &str, date: Option<NaiveDate>) -> Record {
        Record {
            guid: guid.into(),
            version: digest.into(),
            json: json!({"GUID": guid}),
            status: None,
            digest: digest.into(),
            date,
        }
    }

    fn entry(guid: &str, digest: &str, date: Option<NaiveDate>) -> LedgerEntry {
        LedgerEntry {
            guid: guid.into(),
            digest: digest.into(),
            date,
        }
    }

    #[test]
    fn compare_finds_changed_gone_never_sent_and_moved_records() {
        let severa = vec![
            record("same", "d1", day(2)),
            record("edited", "d2", day(2)),
            record("new", "d3", day(3)),
            record("moved", "d4", day(3)),
        ];
        let ledger = vec![
            entry("same", "d1", day(2)),
            entry("edited", "old", day(2)),
            entry("gone", "d5", day(2)),
            entry("moved", "d4", day(2)),
        ];
        let diff = compare(severa, ledger, |_| true);
        assert_eq!(
            diff.drift,
            Drift {
                in_severa: 4,
                unchanged: 2,
                changed: 1,
                deleted: 0,
                never_sent: 1,
                moved: 0
            }
        );
        assert_eq!(diff.changed[0].guid, "edited");
        assert_eq!(diff.never_sent[0].guid, "new");
        assert_eq!(diff.gone, vec![entry("gone", "d5", day(2))]);
        assert_eq!(diff.stale, vec![entry("moved", "d4", day(2))]);
        assert_eq!(diff.relocated, vec![entry("moved", "d4", day(3))]);

        // Records the sync would not send are not "never sent".
        let diff = compare(vec![record("draft", "d", day(2))], vec![], |_| false);
        assert_eq!(diff.drift.never_sent, 0);
        assert_eq!(diff.drift.in_severa, 1);
    }

    #[test]
    fn a_deleted_event_carries_the_guid_and_the_date_it_had() {
        let read = Read::HourEntries { batch_size: 10 };
        let stub = deleted_record(&entry("h-1", "abc", day(2)), &read);
        assert_eq!(stub.json, json!({"GUID": "h-1", "EventDate": "2026-03-02"}));
        assert_eq!(stub.key(), "h-1@deleted:abc");
        let stub = deleted_record(&entry("a-1", "abc", None), &Read::Accounts);
        assert_eq!(stub.json, json!({"GUID": "a-1"}));
    }

    #[test]
    fn pages_cover_the_window() {
        let (from, to) = (day(1).unwrap(), day(31).unwrap());
        assert_eq!(pages_in(from, to, 7), 5);
        assert_eq!(pages_in(from, from, 7), 1);
        assert_eq!(days(from, day(3).unwrap()).count(), 3);
    }
}
