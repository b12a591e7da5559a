//! Resolution of the business keys a sender knows (user code, case number, phase name, …) to
//! Severa GUIDs, through the typed client and cached per warm instance.
//!
//! Why cache: a burst of hour entries for one case would otherwise cost three or four lookups
//! per entry against Severa's daily call quota. Entries live for a TTL (default 10 minutes), so
//! renamed phases or new users are seen soon enough. Misses are not cached: a job that failed
//! on an unknown reference and is redriven after the record was created must succeed. Where a
//! lookup searches a cached list (users by e-mail, cases by number, accounts by name, phases,
//! work types), a miss re-reads the list once it is older than [`Resolver::with_miss_refresh`].
//!
//! Unknown keys become [`JobError::Unresolved`] naming exactly what was not found; Severa
//! errors pass through as [`JobError::Severa`].

use crate::error::JobError;
use crate::job::{AccountRef, CaseRef, HourEntryUpsert, PhaseRef, UserRef, WorkTypeRef};
use severa::SeveraClient;
use severa::WireDateTime;
use severa::entities::{Account, Case, Phase, User, WorkType};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Default lifetime of a cached resolution.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);
/// Default age after which a miss in a cached list re-reads the list.
pub const DEFAULT_MISS_REFRESH: Duration = Duration::from_secs(30);
/// A cache map is cleared when it grows past this, so a stream of distinct keys cannot grow a
/// warm instance's memory without bound.
const MAX_ENTRIES: usize = 10_000;

/// Where an hour entry goes, all references resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourEntryTarget {
    pub user_guid: String,
    pub case_guid: String,
    pub phase_guid: String,
    /// `None` when neither the job, the phase nor the organisation names one: Severa decides.
    pub work_type_guid: Option<String>,
    /// `Case.IsInternal`: hours on an internal case are not billable unless the job says so.
    pub case_is_internal: bool,
}

/// Key → value with a per-entry age.
struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value and its age, if younger than `ttl`.
    fn get(&self, key: &K, ttl: Duration) -> Option<(V, Duration)> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        let age = at.elapsed();
        (age < ttl).then(|| (value.clone(), age))
    }

    fn put(&self, key: K, value: V) -> V {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value.clone()));
        }
        value
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

type List<T> = Arc<Vec<T>>;

/// Resolves and caches. One per warm instance, shared by all records of all batches.
pub struct Resolver {
    ttl: Duration,
    miss_refresh: Duration,
    user_by_code: TtlMap<String, String>,
    user_exists: TtlMap<String, ()>,
    all_users: TtlMap<(), List<User>>,
    case_by_guid: TtlMap<String, Arc<Case>>,
    case_by_number: TtlMap<i64, Arc<Case>>,
    phases: TtlMap<String, List<Phase>>,
    work_types: TtlMap<String, List<WorkType>>,
    account_by_number: TtlMap<i64, String>,
    account_exists: TtlMap<String, ()>,
    all_accounts: TtlMap<(), List<Account>>,
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

fn unresolved(what: &'static str, detail: impl Into<String>) -> JobError {
    JobError::Unresolved {
        what,
        detail: detail.into(),
    }
}

fn same_text(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| {
        let (a, b) = (a.trim(), b.trim());
        // ASCII needs no allocation (every lookup of every job compares names here).
        if a.is_ascii() && b.is_ascii() {
            a.eq_ignore_ascii_case(b)
        } else {
            a.to_lowercase() == b.to_lowercase()
        }
    })
}

/// The one match of `pred`, `Ok(None)` for none, or an error naming the ambiguity.
fn single<'a, T>(
    items: &'a [T],
    pred: impl Fn(&T) -> bool,
    what: &'static str,
    detail: impl FnOnce() -> String,
) -> Result<Option<&'a T>, JobError> {
    let mut found = items.iter().filter(|item| pred(item));
    let first = found.next();
    let more = found.count();
    if more > 0 {
        return Err(unresolved(
            what,
            format!(
                "{} is ambiguous: {} records match; use a GUID",
                detail(),
                more + 1
            ),
        ));
    }
    Ok(first)
}

fn case_label(case: &Case) -> String {
    match (case.case_number, case.guid.as_deref()) {
        (Some(n), _) => format!("case {n}"),
        (None, Some(g)) => format!("case {g}"),
        (None, None) => "the case".into(),
    }
}

fn phase_label(phase: &Phase) -> String {
    match (phase.name.as_deref(), phase.guid.as_deref()) {
        (Some(n), _) => format!("phase '{n}'"),
        (None, Some(g)) => format!("phase {g}"),
        (None, None) => "the phase".into(),
    }
}

impl Resolver {
    /// The worker created or renamed an account: the cached account list no longer tells the
    /// truth, so the next lookup by name reads it again (a contact sent right after its
    /// account must find it, not wait out the miss-refresh window).
    pub fn account_changed(&self) {
        self.all_accounts.clear();
    }

    /// The worker created a user: likewise for the user list (lookups by e-mail).
    /// Forgets every cached lookup, so the next resolution reads Severa afresh (a retry of a
    /// reference miss must not be answered from the cache that missed).
    pub fn forget_all(&self) {
        self.user_by_code.clear();
        self.user_exists.clear();
        self.all_users.clear();
        self.case_by_guid.clear();
        self.case_by_number.clear();
        self.phases.clear();
        self.work_types.clear();
        self.account_by_number.clear();
        self.account_exists.clear();
        self.all_accounts.clear();
    }

    pub fn user_changed(&self) {
        self.all_users.clear();
    }

    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            miss_refresh: DEFAULT_MISS_REFRESH,
            user_by_code: TtlMap::new(),
            user_exists: TtlMap::new(),
            all_users: TtlMap::new(),
            case_by_guid: TtlMap::new(),
            case_by_number: TtlMap::new(),
            phases: TtlMap::new(),
            work_types: TtlMap::new(),
            account_by_number: TtlMap::new(),
            account_exists: TtlMap::new(),
            all_accounts: TtlMap::new(),
        }
    }

    /// A miss in a cached list older than this re-reads the list (the record may be newer than
    /// the list); younger lists answer the miss at once, so a run of bad references cannot turn
    /// into a run of full list reads.
    pub fn with_miss_refresh(mut self, after: Duration) -> Self {
        self.miss_refresh = after;
        self
    }

    /// Every reference of an hour entry.
    pub async fn hour_entry_target(
        &self,
        client: &SeveraClient,
        entry: &HourEntryUpsert,
    ) -> Result<HourEntryTarget, JobError> {
        let user_guid = self.user(client, &entry.user).await?;
        let case = self.case(client, &entry.case).await?;
        let phase = self.phase(client, &case, entry.phase.as_ref()).await?;
        let work_type_guid = self
            .work_type(client, &phase, entry.work_type.as_ref())
            .await?;
        Ok(HourEntryTarget {
            user_guid,
            case_guid: case.guid.clone().unwrap_or_default(),
            phase_guid: phase.guid.clone().unwrap_or_default(),
            work_type_guid,
            case_is_internal: case.is_internal.unwrap_or(false),
        })
    }

    /// A user's GUID by code (GetUserByCode), e-mail (search of all users, inactive included,
    /// case-insensitive; there is no GetUserByEmail) or GUID (checked to exist).
    pub async fn user(&self, client: &SeveraClient, user: &UserRef) -> Result<String, JobError> {
        match user {
            UserRef::Guid(guid) => {
                if self.user_exists.get(guid, self.ttl).is_some() {
                    return Ok(guid.clone());
                }
                match client.get_user_by_guid(guid).await?.value {
                    Some(_) => {
                        self.user_exists.put(guid.clone(), ());
                        Ok(guid.clone())
                    }
                    None => Err(unresolved("user", format!("user {guid}"))),
                }
            }
            UserRef::Code(code) => {
                if let Some((guid, _)) = self.user_by_code.get(code, self.ttl) {
                    return Ok(guid);
                }
                let found = client.get_user_by_code(code).await?.value;
                match found.and_then(|u| u.guid) {
                    Some(guid) => Ok(self.user_by_code.put(code.clone(), guid)),
                    None => Err(unresolved("user", format!("user with code {code}"))),
                }
            }
            UserRef::Email(email) => {
                let find = |users: &[User]| -> Result<Option<String>, JobError> {
                    Ok(single(
                        users,
                        |u| same_text(u.email.as_deref(), email),
                        "user",
                        || format!("user with e-mail {email}"),
                    )?
                    .and_then(|u| u.guid.clone()))
                };
                if let Some((users, age)) = self.all_users.get(&(), self.ttl) {
                    if let Some(guid) = find(&users)? {
                        return Ok(guid);
                    }
                    if age < self.miss_refresh {
                        return Err(unresolved("user", format!("user with e-mail {email}")));
                    }
                }
                let users = client.get_all_users(None, true).await?.value;
                let users = self.all_users.put((), Arc::new(users));
                find(&users)?.ok_or_else(|| unresolved("user", format!("user with e-mail {email}")))
            }
        }
    }

    /// A case by GUID (GetCaseByGUID) or number (GetCaseByNumber).
    pub async fn case(&self, client: &SeveraClient, case: &CaseRef) -> Result<Arc<Case>, JobError> {
        match case {
            CaseRef::Guid(guid) => {
                if let Some((case, _)) = self.case_by_guid.get(guid, self.ttl) {
                    return Ok(case);
                }
                match client.get_case_by_guid(guid).await?.value {
                    Some(case) => Ok(self.case_by_guid.put(guid.clone(), Arc::new(case))),
                    None => Err(unresolved("case", format!("case {guid}"))),
                }
            }
            CaseRef::Number(number) => {
                if let Some((case, _)) = self.case_by_number.get(number, self.ttl) {
                    return Ok(case);
                }
                // A miss is not cached: a case opened seconds ago is found on the next try.
                match client.get_case_by_number(*number).await?.value {
                    Some(case) if case.guid.is_some() => {
                        Ok(self.case_by_number.put(*number, Arc::new(case)))
                    }
                    _ => Err(unresolved("case", format!("case number {number}"))),
                }
            }
        }
    }

    async fn case_phases(
        &self,
        client: &SeveraClient,
        case_guid: &str,
        reload: bool,
    ) -> Result<(List<Phase>, Duration), JobError> {
        if !reload {
            if let Some(hit) = self.phases.get(&case_guid.to_string(), self.ttl) {
                return Ok(hit);
            }
        }
        let phases = client.get_phases_by_case_guid(case_guid).await?.value;
        Ok((
            self.phases.put(case_guid.to_string(), Arc::new(phases)),
            Duration::ZERO,
        ))
    }

    /// A phase within the case by GUID, code or name (case-insensitive); `None` = the case's
    /// root phase (its RootTaskGUID, else the phase without a parent).
    pub async fn phase(
        &self,
        client: &SeveraClient,
        case: &Case,
        phase: Option<&PhaseRef>,
    ) -> Result<Phase, JobError> {
        let case_guid = case
            .guid
            .as_deref()
            .ok_or_else(|| unresolved("case", "a case without a GUID"))?;
        let detail = || match phase {
            Some(PhaseRef::Guid(g)) => format!("phase {g} in {}", case_label(case)),
            Some(PhaseRef::Code(c)) => format!("phase with code '{c}' in {}", case_label(case)),
            Some(PhaseRef::Name(n)) => format!("phase named '{n}' in {}", case_label(case)),
            None => format!("root phase of {}", case_label(case)),
        };
        let find = |phases: &[Phase]| -> Result<Option<Phase>, JobError> {
            let found = match phase {
                Some(PhaseRef::Guid(g)) => phases.iter().find(|p| p.guid.as_deref() == Some(g)),
                Some(PhaseRef::Code(c)) => {
                    single(phases, |p| same_text(p.code.as_deref(), c), "phase", detail)?
                }
                Some(PhaseRef::Name(n)) => {
                    single(phases, |p| same_text(p.name.as_deref(), n), "phase", detail)?
                }
                None => match case.root_task_guid.as_deref() {
                    Some(root) => phases.iter().find(|p| p.guid.as_deref() == Some(root)),
                    None => phases.iter().find(|p| p.parent_phase_guid.is_none()),
                },
            };
            Ok(found.cloned())
        };
        let (phases, age) = self.case_phases(client, case_guid, false).await?;
        if let Some(found) = find(&phases)? {
            return Ok(found);
        }
        if age >= self.miss_refresh {
            let (phases, _) = self.case_phases(client, case_guid, true).await?;
            if let Some(found) = find(&phases)? {
                return Ok(found);
            }
        }
        Err(unresolved("phase", detail()))
    }

    async fn phase_work_types(
        &self,
        client: &SeveraClient,
        phase_guid: &str,
        reload: bool,
    ) -> Result<(List<WorkType>, Duration), JobError> {
        if !reload {
            if let Some(hit) = self.work_types.get(&phase_guid.to_string(), self.ttl) {
                return Ok(hit);
            }
        }
        let types = client.get_work_types_by_phase_guid(phase_guid).await?.value;
        Ok((
            self.work_types.put(phase_guid.to_string(), Arc::new(types)),
            Duration::ZERO,
        ))
    }

    /// A work type among the phase's by GUID, name or code (case-insensitive); `None` = the
    /// phase's WorkTypeGUID, else the phase's work type marked IsDefault, else none (Severa
    /// applies its own default).
    pub async fn work_type(
        &self,
        client: &SeveraClient,
        phase: &Phase,
        work_type: Option<&WorkTypeRef>,
    ) -> Result<Option<String>, JobError> {
        if work_type.is_none() {
            if let Some(guid) = phase.work_type_guid.as_deref().filter(|g| !g.is_empty()) {
                return Ok(Some(guid.to_string()));
            }
        }
        let phase_guid = phase
            .guid
            .as_deref()
            .ok_or_else(|| unresolved("phase", "a phase without a GUID"))?;
        let detail = || match work_type {
            Some(WorkTypeRef::Guid(g)) => format!("work type {g} on {}", phase_label(phase)),
            Some(WorkTypeRef::Code(c)) => {
                format!("work type with code '{c}' on {}", phase_label(phase))
            }
            Some(WorkTypeRef::Name(n)) => {
                format!("work type named '{n}' on {}", phase_label(phase))
            }
            None => format!("default work type of {}", phase_label(phase)),
        };
        let find = |types: &[WorkType]| -> Result<Option<String>, JobError> {
            let found = match work_type {
                Some(WorkTypeRef::Guid(g)) => types.iter().find(|w| w.guid.as_deref() == Some(g)),
                Some(WorkTypeRef::Code(c)) => single(
                    types,
                    |w| same_text(w.code.as_deref(), c),
                    "work type",
                    detail,
                )?,
                Some(WorkTypeRef::Name(n)) => single(
                    types,
                    |w| same_text(w.name.as_deref(), n),
                    "work type",
                    detail,
                )?,
                None => types.iter().find(|w| w.is_default == Some(true)),
            };
            Ok(found.and_then(|w| w.guid.clone()))
        };
        let (types, age) = self.phase_work_types(client, phase_guid, false).await?;
        if let Some(guid) = find(&types)? {
            return Ok(Some(guid));
        }
        if work_type.is_none() {
            return Ok(None);
        }
        if age >= self.miss_refresh {
            let (types, _) = self.phase_work_types(client, phase_guid, true).await?;
            if let Some(guid) = find(&types)? {
                return Ok(Some(guid));
            }
        }
        Err(unresolved("work type", detail()))
    }

    /// An account's GUID by GUID (checked to exist), number (GetAccountByNumber) or exact name
    /// (case-insensitive, among active accounts).
    pub async fn account(
        &self,
        client: &SeveraClient,
        account: &AccountRef,
    ) -> Result<String, JobError> {
        match account {
            AccountRef::Guid(guid) => {
                if self.account_exists.get(guid, self.ttl).is_some() {
                    return Ok(guid.clone());
                }
                match client.get_account_by_guid(guid).await?.value {
                    Some(_) => {
                        self.account_exists.put(guid.clone(), ());
                        Ok(guid.clone())
                    }
                    None => Err(unresolved("account", format!("account {guid}"))),
                }
            }
            AccountRef::Number(number) => {
                if let Some((guid, _)) = self.account_by_number.get(number, self.ttl) {
                    return Ok(guid);
                }
                let found = client.get_account_by_number(*number).await?.value;
                match found.and_then(|a| a.guid) {
                    Some(guid) => Ok(self.account_by_number.put(*number, guid)),
                    None => Err(unresolved("account", format!("account number {number}"))),
                }
            }
            AccountRef::Name(name) => {
                let find = |accounts: &[Account]| -> Result<Option<String>, JobError> {
                    Ok(single(
                        accounts,
                        |a| same_text(a.name.as_deref(), name),
                        "account",
                        || format!("account named '{name}'"),
                    )?
                    .and_then(|a| a.guid.clone()))
                };
                if let Some((accounts, age)) = self.all_accounts.get(&(), self.ttl) {
                    if let Some(guid) = find(&accounts)? {
                        return Ok(guid);
                    }
                    if age < self.miss_refresh {
                        return Err(unresolved("account", format!("account named '{name}'")));
                    }
                }
                // No GetAccountByName exists: every account changed since long ago is every
                // account (options 0 = active ones, inserted or updated).
                let since = WireDateTime::date(
                    chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
                );
                let accounts = client.get_accounts_changed_since(since, 0).await?.value;
                let accounts = self.all_accounts.put((), Arc::new(accounts));
                find(&accounts)?
                    .ok_or_else(|| unresolved("account", format!("account named '{name}'")))
            }
        }
    }
}
