//! Which syncs exist (Severa → other software), when they run and where their records go.
//!
//! One JSON document, from a file (`SYNCS_FILE`) or inline (`SYNCS_JSON`), read and validated at
//! start like the webhook's sources: errors name the sync and the field
//! (`syncs.invoices.schedule: …`). Read by the scheduler (what to read, cursor policy, order) and
//! by the worker (target URL, signing secret, write-back). See `examples/syncs.json`.

use crate::job::is_source_name;
use crate::webhook::config::ConfigError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Environment variable naming a file with the configuration.
pub const SYNCS_FILE_VAR: &str = "SYNCS_FILE";
/// Environment variable holding the configuration itself.
pub const SYNCS_JSON_VAR: &str = "SYNCS_JSON";

/// Severa's API policy, quoted when a schedule is refused.
pub const SCHEDULE_POLICY: &str = "Visma Severa's API policy: integrations run on a schedule \
chosen per data type, not by constant polling (for example absences to payroll weekly, invoices \
daily, with accounts and cases transferred before invoices)";

/// Default share of the daily Severa quota above which non-urgent syncs are deferred.
pub const DEFAULT_QUOTA_SHARE: f64 = 0.8;
/// Default timeout of one delivery to a target.
pub const DEFAULT_TARGET_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of hour entries per outbound job.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Default invoice window: invoices dated within this many days before the run.
pub const DEFAULT_INVOICE_WINDOW_DAYS: u32 = 90;
/// Default reconciliation window of hour entries: this many days before the run.
pub const DEFAULT_RECONCILE_WINDOW_DAYS: u32 = 30;
/// Default reconciliation page: this many days of records per Severa call.
pub const DEFAULT_RECONCILE_PAGE_DAYS: u32 = 7;
/// The ledger keeps a record this long after its date (or after it was sent, when later)
/// beyond the reconciliation window, and this long altogether for syncs without one.
pub const LEDGER_GRACE_DAYS: u32 = 35;

/// The whole sync configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfig {
    pub syncs: BTreeMap<String, SyncDefinition>,
    /// Above this share of the daily quota (`UsedQuota / Quota`), non-urgent syncs wait.
    pub quota_share: f64,
    /// Stop every sync when Severa's entity schema version changes, until acknowledged.
    pub pause_on_schema_change: bool,
}

/// One named sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncDefinition {
    pub name: String,
    pub read: Read,
    /// EventBridge Scheduler expression (`rate(1 day)`, `cron(0 5 * * ? *)`); for the schedule
    /// the infrastructure creates, checked here against Severa's policy.
    pub schedule: String,
    pub schedule_timezone: Option<String>,
    pub first_run: FirstRun,
    pub target: Target,
    /// Syncs run (in this order) right before this one, in the same invocation.
    pub after: Vec<String>,
    /// Runs even when the quota guard defers the others.
    pub urgent: bool,
    /// Reconciliation runs (deletions, silent edits, records never sent); `None`: none.
    pub reconcile: Option<Reconcile>,
}

impl SyncDefinition {
    /// How long the ledger keeps what this sync sent: the reconciliation window plus
    /// [`LEDGER_GRACE_DAYS`], after the record's date (or the day it was sent, when later).
    pub fn ledger_retention(&self) -> Duration {
        let window = self.reconcile.as_ref().map_or(0, |r| r.window_days);
        Duration::from_secs(u64::from(window + LEDGER_GRACE_DAYS) * 24 * 3600)
    }
}

/// A sync's reconciliation: reads a window of Severa through the non-incremental operations,
/// compares it with the ledger and sends what differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconcile {
    /// EventBridge Scheduler expression of the reconciliation runs.
    pub schedule: String,
    /// Dated records (hour entries, invoices): the window ends today and starts this many days
    /// before. Accounts are read whole (0).
    pub window_days: u32,
    /// Days per Severa call (a page); accounts: one call.
    pub page_days: u32,
    /// Hour entries: `GetHourEntriesByDate`'s business unit (`None`: all).
    pub business_unit_guid: Option<String>,
}
/// What a sync reads from Severa.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// `GetAccountsChangedSince` → one job per account.
    Accounts,
    /// `GetCasesChangedSince` → one job per case.
    Cases,
    /// `GetHourEntriesChangedSince` → jobs of up to `batch_size` entries.
    HourEntries { batch_size: usize },
    /// `GetInvoicesByDate` filtered by status → one job per invoice (rows included), then
    /// `SetInvoiceStatus(transferred_status)` after the target's 2xx.
    Invoices(InvoiceRead),
}

impl Read {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Accounts => "accounts",
            Self::Cases => "cases",
            Self::HourEntries { .. } => "hour_entries",
            Self::Invoices(_) => "invoices",
        }
    }

    /// The entity name outbound jobs carry.
    pub fn entity(&self) -> &'static str {
        match self {
            Self::Accounts => "account",
            Self::Cases => "case",
            Self::HourEntries { .. } => "hour_entry",
            Self::Invoices(_) => "invoice",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceRead {
    /// Status names to send; empty = any status except `transferred_status`.
    pub statuses: Vec<String>,
    /// Set after the target has the invoice, so the next run does not send it again.
    pub transferred_status: String,
    /// Invoices dated at most this many days before the run.
    pub window_days: u32,
    pub business_unit_guid: Option<String>,
}

/// Where the first run of a sync starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstRun {
    /// Send nothing that changed before the first run.
    Now,
    /// Backfill everything changed since then.
    From(DateTime<Utc>),
}

/// The other software's endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub url: String,
    /// Secrets Manager id of the Standard Webhooks signing secret (`whsec_…`).
    pub secret_id: String,
    pub timeout: Duration,
}

impl SyncConfig {
    /// Reads `SYNCS_FILE` or `SYNCS_JSON` (exactly one) through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<SyncConfig, ConfigError> {
        Self::optional_from_vars(var)?.ok_or_else(|| {
            err(
                format!("{SYNCS_FILE_VAR}/{SYNCS_JSON_VAR}"),
                "missing; set one to the sync configuration (a file path or the JSON)",
            )
        })
    }

    /// Like [`Self::from_vars`], but `None` when neither variable is set (a worker without
    /// outbound syncs).
    pub fn optional_from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<SyncConfig>, ConfigError> {
        let file = var(SYNCS_FILE_VAR).filter(|v| !v.trim().is_empty());
        let json = var(SYNCS_JSON_VAR).filter(|v| !v.trim().is_empty());
        match (file, json) {
            (Some(_), Some(_)) => Err(err(
                format!("{SYNCS_FILE_VAR}/{SYNCS_JSON_VAR}"),
                "both are set; set only one",
            )),
            (None, None) => Ok(None),
            (Some(path), None) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| err(SYNCS_FILE_VAR, format!("cannot read {path}: {e}")))?;
                SyncConfig::from_json(&text).map(Some)
            }
            (None, Some(text)) => SyncConfig::from_json(&text).map(Some),
        }
    }

    /// Parses and validates the JSON document.
    pub fn from_json(text: &str) -> Result<SyncConfig, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: RawConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            // serde_json's " at line L column C": the path says where.
            let message = match message.rfind(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            let key = if path.is_empty() || path == "?" {
                ".".to_string()
            } else {
                path
            };
            err(key, message)
        })?;
        de.end().map_err(|e| err(".", e.to_string()))?;
        let quota_share = raw.quota_share.unwrap_or(DEFAULT_QUOTA_SHARE);
        if !(quota_share > 0.0 && quota_share <= 1.0) {
            return Err(err(
                "quota_share",
                "must be more than 0 and at most 1 (0.8 = defer at 80 % of the daily quota)",
            ));
        }
        if raw.syncs.is_empty() {
            return Err(err("syncs", "empty; configure at least one sync"));
        }
        let names: BTreeSet<String> = raw.syncs.keys().cloned().collect();
        let mut syncs = BTreeMap::new();
        for (name, sync) in raw.syncs {
            let sync = validate_sync(&name, sync, &names)?;
            syncs.insert(name, sync);
        }
        check_no_cycles(&syncs)?;
        Ok(SyncConfig {
            syncs,
            quota_share,
            pause_on_schema_change: raw.pause_on_schema_change.unwrap_or(true),
        })
    }

    pub fn sync(&self, name: &str) -> Option<&SyncDefinition> {
        self.syncs.get(name)
    }
}

fn err(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    syncs: BTreeMap<String, RawSync>,
    #[serde(default)]
    quota_share: Option<f64>,
    #[serde(default)]
    pause_on_schema_change: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    read: RawRead,
    schedule: String,
    #[serde(default)]
    schedule_timezone: Option<String>,
    #[serde(default)]
    allow_frequent_schedule: bool,
    first_run: RawFirstRun,
    target: RawTarget,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    urgent: bool,
    #[serde(default)]
    batch_size: Option<usize>,
    #[serde(default)]
    invoices: Option<RawInvoices>,
    #[serde(default)]
    reconcile: Option<RawReconcile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReconcile {
    schedule: String,
    #[serde(default)]
    window_days: Option<u32>,
    #[serde(default)]
    page_days: Option<u32>,
    #[serde(default)]
    business_unit_guid: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawRead {
    Accounts,
    Cases,
    HourEntries,
    Invoices,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFirstRun {
    from: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    url: String,
    secret_id: String,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvoices {
    #[serde(default)]
    statuses: Vec<String>,
    transferred_status: String,
    #[serde(default)]
    window_days: Option<u32>,
    #[serde(default)]
    business_unit_guid: Option<String>,
}

fn validate_sync(
    name: &str,
    raw: RawSync,
    names: &BTreeSet<String>,
) -> Result<SyncDefinition, ConfigError> {
    let key = format!("syncs.{name}");
    if !is_source_name(name) {
        return Err(err(
            key,
            "not a valid sync name: 1-64 characters of a-z, 0-9, '-' or '_'",
        ));
    }
    check_schedule(
        &format!("{key}.schedule"),
        &raw.schedule,
        raw.allow_frequent_schedule,
    )?;
    let first_run = match raw.first_run.from.trim() {
        "now" => FirstRun::Now,
        text => DateTime::parse_from_rfc3339(text)
            .map(|t| FirstRun::From(t.with_timezone(&Utc)))
            .map_err(|_| {
                err(
                    format!("{key}.first_run.from"),
                    format!(
                        "is {text:?}; expected \"now\" or an RFC 3339 time (2026-01-01T00:00:00Z)"
                    ),
                )
            })?,
    };
    let target = validate_target(&format!("{key}.target"), raw.target)?;
    for (i, dep) in raw.after.iter().enumerate() {
        if dep == name {
            return Err(err(
                format!("{key}.after[{i}]"),
                "a sync cannot run after itself",
            ));
        }
        if !names.contains(dep) {
            return Err(err(
                format!("{key}.after[{i}]"),
                format!("{dep:?} is not a configured sync"),
            ));
        }
    }
    if raw.batch_size.is_some() && raw.read != RawRead::HourEntries {
        return Err(err(
            format!("{key}.batch_size"),
            "only for read hour_entries",
        ));
    }
    if raw.invoices.is_some() && raw.read != RawRead::Invoices {
        return Err(err(format!("{key}.invoices"), "only for read invoices"));
    }
    let read = match raw.read {
        RawRead::Accounts => Read::Accounts,
        RawRead::Cases => Read::Cases,
        RawRead::HourEntries => {
            let batch_size = raw.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
            if !(1..=500).contains(&batch_size) {
                return Err(err(format!("{key}.batch_size"), "must be 1..=500"));
            }
            Read::HourEntries { batch_size }
        }
        RawRead::Invoices => {
            let at = format!("{key}.invoices");
            let inv = raw.invoices.ok_or_else(|| {
                err(
                    &at,
                    "missing; read invoices needs {\"transferred_status\": …, \"statuses\": […]}",
                )
            })?;
            // Every invoice job carries it as `write_back.status`: the job schema's rules apply,
            // or each job would be refused by the worker and dead-lettered.
            crate::job::text(
                &format!("{at}.transferred_status"),
                &inv.transferred_status,
                256,
            )
            .map_err(|e| err(e.field, e.reason))?;
            if let Some(i) = inv.statuses.iter().position(|s| s.trim().is_empty()) {
                return Err(err(format!("{at}.statuses[{i}]"), "must not be empty"));
            }
            if let Some(i) = inv
                .statuses
                .iter()
                .position(|s| *s == inv.transferred_status)
            {
                return Err(err(
                    format!("{at}.statuses[{i}]"),
                    "is the transferred_status: every run would send these invoices again",
                ));
            }
            let window_days = inv.window_days.unwrap_or(DEFAULT_INVOICE_WINDOW_DAYS);
            if !(1..=3660).contains(&window_days) {
                return Err(err(format!("{at}.window_days"), "must be 1..=3660"));
            }
            Read::Invoices(InvoiceRead {
                statuses: inv.statuses,
                transferred_status: inv.transferred_status,
                window_days,
                business_unit_guid: business_unit(
                    &format!("{at}.business_unit_guid"),
                    inv.business_unit_guid,
                )?,
            })
        }
    };
    let reconcile = match raw.reconcile {
        None => None,
        Some(r) => Some(validate_reconcile(&format!("{key}.reconcile"), r, &read)?),
    };
    Ok(SyncDefinition {
        name: name.to_string(),
        reconcile,
        read,
        schedule: raw.schedule,
        schedule_timezone: raw.schedule_timezone,
        first_run,
        target,
        after: raw.after,
        urgent: raw.urgent,
    })
}

fn validate_reconcile(key: &str, raw: RawReconcile, read: &Read) -> Result<Reconcile, ConfigError> {
    check_schedule(&format!("{key}.schedule"), &raw.schedule, false)?;
    let dated = match read {
        Read::HourEntries { .. } => true,
        Read::Invoices(_) => true,
        Read::Accounts => false,
        Read::Cases => {
            return Err(err(
                key,
                "reconciliation is for read hour_entries, invoices and accounts (Severa has no \
                 non-incremental read of cases by date)",
            ));
        }
    };
    if !dated && (raw.window_days.is_some() || raw.page_days.is_some()) {
        return Err(err(
            key,
            "accounts are reconciled whole (one call); window_days and page_days are for dated \
             records (hour_entries, invoices)",
        ));
    }
    if raw.business_unit_guid.is_some() && !matches!(read, Read::HourEntries { .. }) {
        return Err(err(
            format!("{key}.business_unit_guid"),
            "only for read hour_entries (invoices use invoices.business_unit_guid)",
        ));
    }
    let default_window = match read {
        Read::Invoices(inv) => inv.window_days,
        _ => DEFAULT_RECONCILE_WINDOW_DAYS,
    };
    let (window_days, page_days) = if dated {
        let window = raw.window_days.unwrap_or(default_window);
        if !(1..=3660).contains(&window) {
            return Err(err(format!("{key}.window_days"), "must be 1..=3660"));
        }
        let page = raw.page_days.unwrap_or(DEFAULT_RECONCILE_PAGE_DAYS);
        if !(1..=366).contains(&page) {
            return Err(err(format!("{key}.page_days"), "must be 1..=366"));
        }
        (window, page)
    } else {
        (0, 1)
    };
    Ok(Reconcile {
        schedule: raw.schedule,
        window_days,
        page_days,
        business_unit_guid: business_unit(
            &format!("{key}.business_unit_guid"),
            raw.business_unit_guid,
        )?,
    })
}

/// A business unit GUID goes into every read's Severa request: blank means none; otherwise it
/// must be text a request can carry, or every run of the sync would fail at the first call.
fn business_unit(key: &str, raw: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(guid) = raw.filter(|g| !g.trim().is_empty()) else {
        return Ok(None);
    };
    if guid.chars().count() > crate::job::limits::NAME {
        return Err(err(
            key,
            format!(
                "is longer than {} characters; expected a business unit GUID",
                crate::job::limits::NAME
            ),
        ));
    }
    if let Some(c) = severa::wire::invalid_xml_char(&guid) {
        return Err(err(
            key,
            format!(
                "contains the character U+{:04X}, which a Severa request (XML) cannot carry; \
                 expected a business unit GUID",
                c as u32
            ),
        ));
    }
    Ok(Some(guid))
}

fn validate_target(key: &str, raw: RawTarget) -> Result<Target, ConfigError> {
    let url = raw.url.trim();
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if !ok {
        return Err(err(format!("{key}.url"), "must be an http(s) URL"));
    }
    if raw.secret_id.trim().is_empty() {
        return Err(err(format!("{key}.secret_id"), "must not be empty"));
    }
    let seconds = raw.timeout_secs.unwrap_or(DEFAULT_TARGET_TIMEOUT.as_secs());
    if !(1..=60).contains(&seconds) {
        return Err(err(format!("{key}.timeout_secs"), "must be 1..=60"));
    }
    Ok(Target {
        url: url.to_string(),
        secret_id: raw.secret_id,
        timeout: Duration::from_secs(seconds),
    })
}

/// Accepts EventBridge Scheduler expressions (`rate(…)`, `cron(…)`, `at(…)`) and refuses those
/// that fire more than once an hour unless `allow_frequent` says it is deliberate.
fn check_schedule(key: &str, expression: &str, allow_frequent: bool) -> Result<(), ConfigError> {
    let expression = expression.trim();
    let frequent = if let Some(inner) = strip_call(expression, "rate") {
        let mut parts = inner.split_whitespace();
        let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err(
                key,
                "rate(…) takes a value and a unit, e.g. rate(1 day)",
            ));
        };
        let value: u64 = value
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| err(key, "rate(…) needs a positive whole number"))?;
        let minutes = match unit {
            "minute" | "minutes" => value,
            "hour" | "hours" => value.saturating_mul(60),
            "day" | "days" => value.saturating_mul(24 * 60),
            other => {
                return Err(err(
                    key,
                    format!("unknown rate unit {other:?}; use minutes, hours or days"),
                ));
            }
        };
        minutes < 60
    } else if let Some(inner) = strip_call(expression, "cron") {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(err(
                key,
                "cron(…) takes 6 fields: minutes hours day-of-month month day-of-week year",
            ));
        }
        // One fixed minute fires at most once an hour; anything else (*, lists, ranges, steps)
        // fires several times an hour.
        !fields[0].parse::<u8>().is_ok_and(|m| m < 60)
    } else if strip_call(expression, "at").is_some() {
        false
    } else {
        return Err(err(
            key,
            format!(
                "{expression:?} is not an EventBridge Scheduler expression: rate(…), cron(…) or at(…)"
            ),
        ));
    };
    if frequent && !allow_frequent {
        return Err(err(
            key,
            format!(
                "{expression} runs more often than hourly. {SCHEDULE_POLICY}. Choose an hourly \
                 or slower schedule, or set allow_frequent_schedule: true if this sync really \
                 needs it"
            ),
        ));
    }
    Ok(())
}

fn strip_call<'a>(expression: &'a str, name: &str) -> Option<&'a str> {
    expression
        .strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn check_no_cycles(syncs: &BTreeMap<String, SyncDefinition>) -> Result<(), ConfigError> {
    /// Depth-first; `done` holds syncs whose dependencies are known to be acyclic, so each sync
    /// is walked once (without it, dense `after` lists took exponential time: 24 syncs that each
    /// ran after all earlier ones took seconds to check, 30 would take minutes).
    fn visit<'a>(
        name: &'a str,
        syncs: &'a BTreeMap<String, SyncDefinition>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Result<(), ConfigError> {
        if done.contains(name) {
            return Ok(());
        }
        if let Some(start) = path.iter().position(|p| *p == name) {
            let mut cycle = path[start..].to_vec();
            cycle.push(name);
            return Err(err(
                format!("syncs.{}.after", path[start]),
                format!("the syncs wait for each other: {}", cycle.join(" → ")),
            ));
        }
        path.push(name);
        if let Some(sync) = syncs.get(name) {
            for dep in &sync.after {
                visit(dep, syncs, path, done)?;
            }
        }
        path.pop();
        done.insert(name);
        Ok(())
    }
    let mut done = BTreeSet::new();
    for name in syncs.keys() {
        visit(name, syncs, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn base() -> Value {
        json!({
            "syncs": {
                "accounts": {
                    "read": "accounts",
                    "schedule": "cron(0 5 * * ? *)",
                    "first_run": {"from": "now"},
                    "target": {"url": "https://erp.example/hooks/severa", "secret_id": "erp-signing"}
                },
                "invoices": {
                    "read": "invoices",
                    "schedule": "rate(1 day)",
                    "first_run": {"from": "2026-01-01T00:00:00Z"},
                    "after": ["accounts"],
                    "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred"},
                    "target": {"url": "https://erp.example/hooks/severa", "secret_id": "erp-signing", "timeout_secs": 5}
                }
            }
        })
    }

    fn parse(v: Value) -> Result<SyncConfig, ConfigError> {
        SyncConfig::from_json(&v.to_string())
    }

    #[test]
    fn reads_a_complete_configuration() {
        let c = parse(base()).unwrap();
        assert_eq!(c.quota_share, DEFAULT_QUOTA_SHARE);
        assert!(c.pause_on_schema_change);
        let inv = c.sync("invoices").unwrap();
        assert_eq!(inv.after, vec!["accounts".to_string()]);
        assert_eq!(inv.target.timeout, Duration::from_secs(5));
        assert!(matches!(inv.first_run, FirstRun::From(_)));
        let Read::Invoices(read) = &inv.read else {
            panic!("invoices")
        };
        assert_eq!(read.window_days, DEFAULT_INVOICE_WINDOW_DAYS);
        assert_eq!(c.sync("accounts").unwrap().first_run, FirstRun::Now);
    }

    #[test]
    fn a_five_minute_schedule_is_refused_with_the_policy() {
        for schedule in [
            "rate(5 minutes)",
            "cron(0/5 * * * ? *)",
            "cron(* 8 * * ? *)",
        ] {
            let mut v = base();
            v["syncs"]["accounts"]["schedule"] = json!(schedule);
            let e = parse(v).unwrap_err();
            assert_eq!(e.key, "syncs.accounts.schedule", "{schedule}");
            assert!(e.reason.contains(SCHEDULE_POLICY), "{e}");
            assert!(e.reason.contains("allow_frequent_schedule"), "{e}");
        }
        let mut v = base();
        v["syncs"]["accounts"]["schedule"] = json!("rate(5 minutes)");
        v["syncs"]["accounts"]["allow_frequent_schedule"] = json!(true);
        assert!(parse(v).is_ok());
        for ok in [
            "rate(1 hour)",
            "rate(7 days)",
            "cron(30 * * * ? *)",
            "at(2026-12-01T05:00:00)",
        ] {
            let mut v = base();
            v["syncs"]["accounts"]["schedule"] = json!(ok);
            assert!(parse(v).is_ok(), "{ok}");
        }
    }

    #[test]
    fn errors_name_the_sync_and_the_field() {
        type Edit = fn(&mut Value);
        let cases: Vec<(Edit, &str)> = vec![
            (
                |v| v["syncs"]["invoices"]["target"]["url"] = json!("erp.example"),
                "syncs.invoices.target.url",
            ),
            (
                |v| v["syncs"]["invoices"]["first_run"]["from"] = json!("yesterday"),
                "syncs.invoices.first_run.from",
            ),
            (
                |v| v["syncs"]["invoices"]["after"] = json!(["cases"]),
                "syncs.invoices.after[0]",
            ),
            (
                |v| v["syncs"]["invoices"]["invoices"]["statuses"] = json!(["Transferred"]),
                "syncs.invoices.invoices.statuses[0]",
            ),
            (
                |v| v["syncs"]["accounts"]["schedule"] = json!("every day"),
                "syncs.accounts.schedule",
            ),
            (
                |v| v["syncs"]["accounts"]["read"] = json!("absences"),
                "syncs.accounts.read",
            ),
            (
                |v| v["syncs"]["accounts"]["target"]["timeout_secs"] = json!(0),
                "syncs.accounts.target.timeout_secs",
            ),
            (
                |v| {
                    v["syncs"]["accounts"]
                        .as_object_mut()
                        .unwrap()
                        .remove("target");
                },
                "syncs.accounts",
            ),
            (
                |v| v["syncs"]["accounts"]["after"] = json!(["invoices"]),
                "syncs.",
            ),
            (|v| v["quota_share"] = json!(1.5), "quota_share"),
        ];
        for (edit, key) in cases {
            let mut v = base();
            edit(&mut v);
            let e = parse(v).unwrap_err();
            assert!(e.key.starts_with(key), "{key}: {e}");
        }
        let mut v = base();
        v["syncs"]["accounts"]
            .as_object_mut()
            .unwrap()
            .remove("target");
        assert!(parse(v).unwrap_err().reason.contains("target"));
    }

    /// Found with the fuzz target's invariant (FUZZING.md, finding 4): a transferred_status no
    /// job can carry was accepted, so every invoice job of the sync was dead-lettered.
    #[test]
    fn transferred_status_follows_the_job_rules() {
        for bad in ["Transferred\u{1}".to_string(), "T".repeat(257), " ".into()] {
            let mut v = base();
            v["syncs"]["invoices"]["invoices"]["transferred_status"] = json!(bad);
            let e = parse(v).unwrap_err();
            assert_eq!(e.key, "syncs.invoices.invoices.transferred_status", "{e}");
        }
        let mut v = base();
        v["syncs"]["invoices"]["invoices"]["transferred_status"] = json!("T".repeat(256));
        assert!(parse(v).is_ok());
    }

    /// Fuzzing regression (FUZZING.md, finding 9): a business unit GUID Severa requests cannot
    /// carry (a control character) was accepted, and every run of the sync failed at its read.
    #[test]
    fn business_unit_guids_can_be_sent() {
        let found = include_str!(
            "../../../../fuzz/regressions/syncs_config/business-unit-guid-control-char"
        );
        let e = SyncConfig::from_json(found).unwrap_err();
        assert_eq!(e.key, "syncs.hours.invoices.business_unit_guid", "{e}");
        assert!(e.reason.contains("U+0008"), "{e}");
        let reconcile = |guid: &str| {
            let mut v = base();
            v["syncs"]["hours"] = json!({"read": "hour_entries", "schedule": "rate(1 hour)",
                "first_run": {"from": "now"}, "reconcile": {"schedule": "rate(1 day)", "business_unit_guid": guid},
                "target": {"url": "https://erp.example/hours", "secret_id": "s"}});
            parse(v)
        };
        let e = reconcile("bu\u{1}").unwrap_err();
        assert_eq!(e.key, "syncs.hours.reconcile.business_unit_guid", "{e}");
        let e = reconcile(&"b".repeat(257)).unwrap_err();
        assert_eq!(e.key, "syncs.hours.reconcile.business_unit_guid", "{e}");
        let ok = reconcile("sim-bu-main").unwrap();
        let r = ok.sync("hours").unwrap().reconcile.clone().unwrap();
        assert_eq!(r.business_unit_guid.as_deref(), Some("sim-bu-main"));
        let blank = reconcile("  ").unwrap();
        assert_eq!(
            blank
                .sync("hours")
                .unwrap()
                .reconcile
                .clone()
                .unwrap()
                .business_unit_guid,
            None
        );
    }

    /// Found while writing the fuzz target's cycle invariant (FUZZING.md, finding 5): the cycle
    /// check walked every path, exponential in the number of syncs.
    #[test]
    fn dense_after_lists_are_checked_quickly() {
        let mut syncs = serde_json::Map::new();
        for i in 0..40 {
            let mut sync = base()["syncs"]["accounts"].clone();
            sync["after"] = json!((0..i).map(|j| format!("s{j}")).collect::<Vec<_>>());
            syncs.insert(format!("s{i}"), sync);
        }
        let started = std::time::Instant::now();
        let config = parse(json!({ "syncs": syncs })).unwrap();
        assert_eq!(config.syncs.len(), 40);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // A cycle is still found, and named.
        let mut syncs = serde_json::Map::new();
        for i in 0..40 {
            let mut sync = base()["syncs"]["accounts"].clone();
            let mut after: Vec<String> = (0..i).map(|j| format!("s{j}")).collect();
            if i == 0 {
                after.push("s39".into());
            }
            sync["after"] = json!(after);
            syncs.insert(format!("s{i}"), sync);
        }
        let e = parse(json!({ "syncs": syncs })).unwrap_err();
        assert!(e.reason.contains("wait for each other"), "{e}");
    }

    #[test]
    fn reconciliation_is_checked_per_entity() {
        let mut v = base();
        v["syncs"]["accounts"]["reconcile"] = json!({"schedule": "cron(0 2 ? * SUN *)"});
        v["syncs"]["invoices"]["reconcile"] = json!({"schedule": "rate(1 day)", "page_days": 31});
        let c = parse(v).unwrap();
        let acc = c.sync("accounts").unwrap().reconcile.clone().unwrap();
        assert_eq!(acc.window_days, 0);
        let inv = c.sync("invoices").unwrap().reconcile.clone().unwrap();
        assert_eq!(
            (inv.window_days, inv.page_days),
            (DEFAULT_INVOICE_WINDOW_DAYS, 31)
        );
        assert_eq!(
            c.sync("invoices").unwrap().ledger_retention().as_secs(),
            u64::from(DEFAULT_INVOICE_WINDOW_DAYS + LEDGER_GRACE_DAYS) * 86_400
        );

        type Edit = fn(&mut Value);
        let cases: Vec<(Edit, &str)> = vec![
            (
                |v| {
                    v["syncs"]["accounts"]["reconcile"] =
                        json!({"schedule": "rate(1 day)", "window_days": 7})
                },
                "syncs.accounts.reconcile",
            ),
            (
                |v| v["syncs"]["invoices"]["reconcile"] = json!({"schedule": "rate(5 minutes)"}),
                "syncs.invoices.reconcile.schedule",
            ),
            (
                |v| {
                    v["syncs"]["invoices"]["reconcile"] =
                        json!({"schedule": "rate(1 day)", "page_days": 0})
                },
                "syncs.invoices.reconcile.page_days",
            ),
            (
                |v| {
                    v["syncs"]["invoices"]["reconcile"] =
                        json!({"schedule": "rate(1 day)", "days": 3})
                },
                "syncs.invoices.reconcile",
            ),
        ];
        for (edit, key) in cases {
            let mut v = base();
            edit(&mut v);
            let e = parse(v).unwrap_err();
            assert!(e.key.starts_with(key), "{key}: {e}");
        }
    }

    #[test]
    fn the_example_is_valid() {
        let text = include_str!("../../../../examples/syncs.json");
        let c = SyncConfig::from_json(text).unwrap();
        assert_eq!(c.syncs.len(), 4);
        assert_eq!(c.sync("invoices").unwrap().after, ["accounts", "cases"]);
    }

    #[test]
    fn loads_from_file_or_inline() {
        let text = base().to_string();
        let vars = |name: &str| (name == SYNCS_JSON_VAR).then(|| text.clone());
        assert!(SyncConfig::from_vars(vars).is_ok());
        assert_eq!(SyncConfig::optional_from_vars(|_| None).unwrap(), None);
        let e = SyncConfig::from_vars(|_| None).unwrap_err();
        assert!(e.key.contains(SYNCS_FILE_VAR));
    }
}
