//! Which senders the webhook accepts and how their deliveries become jobs.
//!
//! One JSON document, from a file (`SOURCES_FILE`) or inline (`SOURCES_JSON`), read and validated
//! once at start so a typo stops the deployment instead of failing deliveries. Errors name the bad
//! key as a path (`sources.toggl.secret_id: missing`). See `examples/sources.json`.
//!
//! ```json
//! {"sources": {
//!   "crm":   {"format": "standard-webhooks", "secret_id": "severa-bridge/crm-signing",
//!             "allow": {"kinds": ["account.upsert", "contact.upsert"]}},
//!   "toggl": {"format": "toggl", "secret_id": "severa-bridge/toggl-signing",
//!             "toggl": {"time_zone": "Europe/Helsinki",
//!                       "workspaces": {"1234567": {"case": {"number": 1}}},
//!                       "projects": {"201": {"case": {"number": 1}, "phase": {"name": "Development"}}},
//!                       "users": {"301": {"code": "AA"}}}}
//! }}
//! ```

use crate::job::{
    self, CaseRef, InvalidJob, JobKind, PhaseRef, UserRef, WorkTypeRef, is_source_name,
};
use chrono::{DateTime, FixedOffset, NaiveDate, Offset as _, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// Body limit when a source sets none: generous for JSON events, far below Lambda's 6 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// Upper bound for `max_body_bytes`: a Function URL cannot deliver more than 6 MB anyway.
pub const MAX_BODY_BYTES_LIMIT: usize = 6 * 1024 * 1024;

/// How old a Toggl event may be when it arrives, when the source sets no `max_event_age_hours`.
pub const DEFAULT_MAX_EVENT_AGE_HOURS: u32 = 12;
/// Upper bound for `max_event_age_hours`: delivery ids are remembered this long
/// ([`super::DEFAULT_DEDUP_TTL`]); an older delivery is no longer recognised as a duplicate, so
/// it must be refused by its age.
pub const MAX_EVENT_AGE_HOURS_LIMIT: u32 = (super::DEFAULT_DEDUP_TTL.as_secs() / 3600) as u32;

/// The only kinds a Toggl source produces (and its default allow-list).
pub const TOGGL_KINDS: [JobKind; 2] = [JobKind::HourEntryUpsert, JobKind::HourEntryDelete];

/// Environment variable naming a file with the configuration.
pub const SOURCES_FILE_VAR: &str = "SOURCES_FILE";
/// Environment variable holding the configuration itself.
pub const SOURCES_JSON_VAR: &str = "SOURCES_JSON";

/// A configuration that cannot be used: where (`key`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    /// Dotted path of the bad key (`sources.toggl.secret_id`), or the environment variable.
    pub key: String,
    pub reason: String,
}

fn err(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The webhook's sources, by name (the `{source}` of `/webhooks/{source}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub sources: BTreeMap<String, Source>,
}

/// One sending system.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub format: Format,
    /// Secrets Manager id of the signing secret (`whsec_…` for Standard Webhooks, the plain
    /// subscription secret for Toggl).
    pub secret_id: String,
    pub max_body_bytes: usize,
    /// Present exactly when `format` is [`Format::Toggl`].
    pub toggl: Option<TogglMapping>,
    /// What its jobs may ask for; anything else is refused with 403.
    pub allow: Allow,
}

/// What a source may ask for (`sources.<name>.allow`), so one sender's signing secret cannot
/// reach what another sender owns (a CRM cannot deactivate the API user).
#[derive(Debug, Clone, PartialEq)]
pub struct Allow {
    /// The job kinds it may send. Required for Standard Webhooks sources; a Toggl source
    /// defaults to [`TOGGL_KINDS`].
    pub kinds: Vec<JobKind>,
    /// When set, the only users its jobs may name: an hour entry's user, a new case's owner, a
    /// deactivated user. Matched by the same key (an e-mail without regard to case).
    pub users: Option<Vec<UserRef>>,
    /// When set, the only cases its hour entries may go to.
    pub cases: Option<Vec<CaseRef>>,
}

impl Allow {
    pub fn kind(&self, kind: JobKind) -> bool {
        self.kinds.contains(&kind)
    }

    pub fn user(&self, user: &UserRef) -> bool {
        self.users
            .as_ref()
            .is_none_or(|users| users.iter().any(|allowed| same_user(allowed, user)))
    }

    pub fn case(&self, case: &CaseRef) -> bool {
        self.cases.as_ref().is_none_or(|cases| cases.contains(case))
    }
}

fn same_user(a: &UserRef, b: &UserRef) -> bool {
    match (a, b) {
        (UserRef::Email(a), UserRef::Email(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

/// How deliveries are signed and what their bodies are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Format {
    /// Standard Webhooks signature; the body is a job in the canonical form.
    #[serde(rename = "standard-webhooks")]
    StandardWebhooks,
    /// Toggl Track signature and time-entry events, mapped to hour-entry jobs.
    #[serde(rename = "toggl")]
    Toggl,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StandardWebhooks => "standard-webhooks",
            Self::Toggl => "toggl",
        })
    }
}

/// Toggl ids → Severa business keys. Toggl ids are numbers; JSON keys are their decimal text.
#[derive(Debug, Clone, PartialEq)]
pub struct TogglMapping {
    /// Workspaces accepted, with defaults for entries whose project sets none. Empty: any
    /// workspace, no defaults.
    pub workspaces: BTreeMap<u64, WorkspaceDefaults>,
    pub projects: BTreeMap<u64, ProjectMapping>,
    pub users: BTreeMap<u64, UserRef>,
    /// The team's local time: Toggl sends UTC, Severa wants the local date.
    pub local_time: LocalTime,
    /// Events created longer ago than this are refused (a late replay of a signed body).
    pub max_event_age: TimeDelta,
}

/// The local time an instant's date is taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTime {
    /// An IANA time zone (`time_zone: "Europe/Helsinki"`): each instant gets the offset in force
    /// then, daylight saving included.
    Zone(Tz),
    /// A fixed offset (`utc_offset: "+02:00"`): the same offset all year.
    Fixed(FixedOffset),
}

impl LocalTime {
    /// The local date of `instant`.
    pub fn date_of(&self, instant: DateTime<Utc>) -> NaiveDate {
        match self {
            Self::Zone(zone) => instant.with_timezone(zone).date_naive(),
            Self::Fixed(offset) => instant.with_timezone(offset).date_naive(),
        }
    }
}

/// Defaults for a workspace's entries.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceDefaults {
    /// The case for entries without a project.
    #[serde(default)]
    pub case: Option<CaseRef>,
    #[serde(default)]
    pub phase: Option<PhaseRef>,
    #[serde(default)]
    pub work_type: Option<WorkTypeRef>,
}

/// Where a Toggl project's hours go in Severa.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectMapping {
    pub case: CaseRef,
    /// Absent: the workspace default, else the case's root phase (resolved by the worker).
    #[serde(default)]
    pub phase: Option<PhaseRef>,
    /// Absent: the workspace default, else the phase's default work type.
    #[serde(default)]
    pub work_type: Option<WorkTypeRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    sources: BTreeMap<String, RawSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    format: Format,
    secret_id: String,
    #[serde(default)]
    max_body_bytes: Option<usize>,
    #[serde(default)]
    toggl: Option<RawToggl>,
    #[serde(default)]
    allow: Option<RawAllow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    kinds: Vec<JobKind>,
    #[serde(default)]
    users: Option<Vec<UserRef>>,
    #[serde(default)]
    cases: Option<Vec<CaseRef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToggl {
    #[serde(default)]
    workspaces: BTreeMap<String, WorkspaceDefaults>,
    #[serde(default)]
    projects: BTreeMap<String, ProjectMapping>,
    #[serde(default)]
    users: BTreeMap<String, UserRef>,
    #[serde(default)]
    utc_offset: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    max_event_age_hours: Option<u32>,
}

impl Config {
    /// Reads `SOURCES_FILE` or `SOURCES_JSON` (exactly one) through `var`, so tests need not
    /// touch the process environment.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let file = var(SOURCES_FILE_VAR).filter(|v| !v.trim().is_empty());
        let json = var(SOURCES_JSON_VAR).filter(|v| !v.trim().is_empty());
        match (file, json) {
            (Some(_), Some(_)) => Err(err(
                format!("{SOURCES_FILE_VAR}/{SOURCES_JSON_VAR}"),
                "both are set; set only one",
            )),
            (None, None) => Err(err(
                format!("{SOURCES_FILE_VAR}/{SOURCES_JSON_VAR}"),
                "missing; set one to the sources configuration (a file path or the JSON)",
            )),
            (Some(path), None) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| err(SOURCES_FILE_VAR, format!("cannot read {path}: {e}")))?;
                Config::from_json(&text)
            }
            (None, Some(text)) => Config::from_json(&text),
        }
    }

    /// The process environment's configuration.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Parses and validates the JSON document.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: RawConfig = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| serde_error(e.path().to_string(), &e.into_inner()))?;
        de.end().map_err(|e| err(".", e.to_string()))?;
        if raw.sources.is_empty() {
            return Err(err("sources", "empty; configure at least one source"));
        }
        let mut sources = BTreeMap::new();
        for (name, source) in raw.sources {
            let source = validate_source(&name, source)?;
            sources.insert(name, source);
        }
        Ok(Config { sources })
    }

    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.get(name)
    }
}

/// serde names a missing or unknown field in the message and the parent in the path; turn
/// that into one path to the key itself.
fn serde_error(path: String, e: &serde_json::Error) -> ConfigError {
    let message = e.to_string();
    // Drop serde_json's " at line L column C": the path says where.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    let at_root = path.is_empty() || path == "." || path == "?";
    let join = |field: &str| {
        if at_root {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    let quoted = |rest: &str| rest.split('`').next().map(str::to_string);
    if let Some(field) = message.strip_prefix("missing field `").and_then(quoted) {
        return err(join(&field), "missing");
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some(field) = quoted(rest) {
            let expected = rest.split_once(", ").map(|(_, e)| e).unwrap_or("");
            // serde_path_to_error already ends the path with the unknown key.
            let key = if path == field || path.ends_with(&format!(".{field}")) {
                path
            } else {
                join(&field)
            };
            // A top-level key named "" would otherwise be reported under no key at all.
            let key = if key.is_empty() {
                "\"\"".to_string()
            } else {
                key
            };
            return err(key, format!("unknown key ({expected})"));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let expected = rest.split_once(", ").map(|(_, e)| e).unwrap_or("");
        let key = if at_root { ".".to_string() } else { path };
        return err(key, format!("unknown value ({expected})"));
    }
    let key = if at_root { ".".to_string() } else { path };
    err(key, message)
}

fn validate_source(name: &str, raw: RawSource) -> Result<Source, ConfigError> {
    let key = format!("sources.{name}");
    if !is_source_name(name) {
        return Err(err(
            key,
            "not a valid source name: 1-64 characters of a-z, 0-9, '-' or '_'",
        ));
    }
    if raw.secret_id.trim().is_empty() {
        return Err(err(format!("{key}.secret_id"), "must not be empty"));
    }
    let max_body_bytes = raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes == 0 || max_body_bytes > MAX_BODY_BYTES_LIMIT {
        return Err(err(
            format!("{key}.max_body_bytes"),
            format!("must be 1..={MAX_BODY_BYTES_LIMIT}"),
        ));
    }
    let toggl = match (raw.format, raw.toggl) {
        (Format::Toggl, Some(t)) => Some(validate_toggl(&format!("{key}.toggl"), t)?),
        (Format::Toggl, None) => {
            return Err(err(
                format!("{key}.toggl"),
                "missing; format toggl needs the workspace/project/user mapping",
            ));
        }
        (Format::StandardWebhooks, Some(_)) => {
            return Err(err(
                format!("{key}.toggl"),
                "only for format toggl (this source is standard-webhooks)",
            ));
        }
        (Format::StandardWebhooks, None) => None,
    };
    let allow = validate_allow(&format!("{key}.allow"), raw.format, raw.allow)?;
    Ok(Source {
        name: name.to_string(),
        format: raw.format,
        secret_id: raw.secret_id,
        max_body_bytes,
        toggl,
        allow,
    })
}

fn validate_allow(key: &str, format: Format, raw: Option<RawAllow>) -> Result<Allow, ConfigError> {
    let Some(raw) = raw else {
        return match format {
            Format::Toggl => Ok(Allow {
                kinds: TOGGL_KINDS.to_vec(),
                users: None,
                cases: None,
            }),
            Format::StandardWebhooks => Err(err(
                key,
                "missing; list the job kinds this source may send, e.g. \
                 {\"kinds\": [\"account.upsert\", \"contact.upsert\"]}",
            )),
        };
    };
    if raw.kinds.is_empty() {
        return Err(err(
            format!("{key}.kinds"),
            "empty; list at least one job kind",
        ));
    }
    for (i, kind) in raw.kinds.iter().enumerate() {
        let at = format!("{key}.kinds[{i}]");
        if *kind == JobKind::OutboundDeliver {
            return Err(err(
                at,
                "outbound.deliver jobs come only from the scheduler",
            ));
        }
        if format == Format::Toggl && !TOGGL_KINDS.contains(kind) {
            return Err(err(
                at,
                "a toggl source sends only hour_entry.upsert and hour_entry.delete",
            ));
        }
    }
    if format == Format::Toggl {
        for (field, present) in [
            ("users", raw.users.is_some()),
            ("cases", raw.cases.is_some()),
        ] {
            if present {
                return Err(err(
                    format!("{key}.{field}"),
                    "only for format standard-webhooks: a toggl source's mapping already names \
                     its users and cases",
                ));
            }
        }
    }
    if let Some(users) = &raw.users {
        if users.is_empty() {
            return Err(err(
                format!("{key}.users"),
                "empty; leave it out to allow any user",
            ));
        }
        for (i, user) in users.iter().enumerate() {
            check_user(&format!("{key}.users[{i}]"), user)?;
        }
    }
    if let Some(cases) = &raw.cases {
        if cases.is_empty() {
            return Err(err(
                format!("{key}.cases"),
                "empty; leave it out to allow any case",
            ));
        }
        for (i, case) in cases.iter().enumerate() {
            check_case(&format!("{key}.cases[{i}]"), case)?;
        }
    }
    Ok(Allow {
        kinds: raw.kinds,
        users: raw.users,
        cases: raw.cases,
    })
}

fn toggl_id(key: &str, text: &str) -> Result<u64, ConfigError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            err(
                format!("{key}.{text}"),
                "not a Toggl id (a positive number)",
            )
        })
}

fn validate_toggl(key: &str, raw: RawToggl) -> Result<TogglMapping, ConfigError> {
    let mut mapping = TogglMapping {
        workspaces: BTreeMap::new(),
        projects: BTreeMap::new(),
        users: BTreeMap::new(),
        local_time: LocalTime::Fixed(utc()),
        max_event_age: TimeDelta::hours(DEFAULT_MAX_EVENT_AGE_HOURS.into()),
    };
    for (id, defaults) in raw.workspaces {
        let at = format!("{key}.workspaces.{id}");
        let wid = toggl_id(&format!("{key}.workspaces"), &id)?;
        if let Some(case) = &defaults.case {
            check_case(&format!("{at}.case"), case)?;
        }
        check_phase(&format!("{at}.phase"), defaults.phase.as_ref())?;
        check_work_type(&format!("{at}.work_type"), defaults.work_type.as_ref())?;
        mapping.workspaces.insert(wid, defaults);
    }
    for (id, project) in raw.projects {
        let at = format!("{key}.projects.{id}");
        let pid = toggl_id(&format!("{key}.projects"), &id)?;
        check_case(&format!("{at}.case"), &project.case)?;
        check_phase(&format!("{at}.phase"), project.phase.as_ref())?;
        check_work_type(&format!("{at}.work_type"), project.work_type.as_ref())?;
        mapping.projects.insert(pid, project);
    }
    for (id, user) in raw.users {
        let at = format!("{key}.users.{id}");
        let uid = toggl_id(&format!("{key}.users"), &id)?;
        check_user(&at, &user)?;
        mapping.users.insert(uid, user);
    }
    mapping.local_time = match (raw.time_zone, raw.utc_offset) {
        (Some(_), Some(_)) => {
            return Err(err(
                format!("{key}.utc_offset"),
                "set time_zone or utc_offset, not both (time_zone follows daylight saving)",
            ));
        }
        (Some(zone), None) => LocalTime::Zone(zone.parse::<Tz>().map_err(|_| {
            err(
                format!("{key}.time_zone"),
                format!("{zone:?} is not an IANA time zone name like Europe/Helsinki"),
            )
        })?),
        (None, Some(offset)) => LocalTime::Fixed(offset.parse().map_err(|_| {
            err(
                format!("{key}.utc_offset"),
                "not an offset like +02:00 or -05:00; for a zone with daylight saving set \
                 time_zone (\"Europe/Helsinki\") instead",
            )
        })?),
        (None, None) => LocalTime::Fixed(utc()),
    };
    if let Some(hours) = raw.max_event_age_hours {
        if !(1..=MAX_EVENT_AGE_HOURS_LIMIT).contains(&hours) {
            return Err(err(
                format!("{key}.max_event_age_hours"),
                format!(
                    "must be 1..={MAX_EVENT_AGE_HOURS_LIMIT}: delivery ids are remembered \
                     {MAX_EVENT_AGE_HOURS_LIMIT} hours, so an older replay must be refused by age"
                ),
            ));
        }
        mapping.max_event_age = TimeDelta::hours(hours.into());
    }
    Ok(mapping)
}

/// A user reference with a non-blank key (and an `@` in an e-mail).
/// A mapped or allowed user: the job schema's rules for a user reference (a value no job could
/// carry would fail every delivery with a 400, or never match).
fn check_user(key: &str, user: &UserRef) -> Result<(), ConfigError> {
    let (UserRef::Guid(v) | UserRef::Code(v) | UserRef::Email(v)) = user;
    not_blank(key, v)?;
    if matches!(user, UserRef::Email(_)) && !v.contains('@') {
        return Err(err(format!("{key}.email"), "not an e-mail address"));
    }
    let field = match user {
        UserRef::Email(_) => format!("{key}.email"),
        UserRef::Guid(_) | UserRef::Code(_) => key.to_string(),
    };
    job_rule(job::user_ref(&field, user))
}

fn utc() -> FixedOffset {
    chrono::Utc.fix()
}

fn not_blank(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(err(key, "must not be empty"))
    } else {
        Ok(())
    }
}

/// Mapped values end up in every job built from them: the job schema's rules apply here, so a
/// value no job could carry stops the deployment instead of failing each delivery with a 400.
fn job_rule(checked: Result<(), InvalidJob>) -> Result<(), ConfigError> {
    checked.map_err(|e| err(e.field, e.reason))
}

/// Phase, work type and case GUIDs: the job schema's limit for a reference.
const MAX_REF_CHARS: usize = 256;

fn check_case(key: &str, case: &CaseRef) -> Result<(), ConfigError> {
    match case {
        CaseRef::Number(n) if *n <= 0 => Err(err(format!("{key}.number"), "must be positive")),
        CaseRef::Number(_) => Ok(()),
        CaseRef::Guid(g) => job_rule(job::text(&format!("{key}.guid"), g, MAX_REF_CHARS)),
    }
}

fn check_phase(key: &str, phase: Option<&PhaseRef>) -> Result<(), ConfigError> {
    match phase {
        Some(PhaseRef::Guid(v) | PhaseRef::Code(v) | PhaseRef::Name(v)) => {
            job_rule(job::text(key, v, MAX_REF_CHARS))
        }
        None => Ok(()),
    }
}

fn check_work_type(key: &str, work_type: Option<&WorkTypeRef>) -> Result<(), ConfigError> {
    match work_type {
        Some(WorkTypeRef::Guid(v) | WorkTypeRef::Code(v) | WorkTypeRef::Name(v)) => {
            job_rule(job::text(key, v, MAX_REF_CHARS))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Config, ConfigError> {
        Config::from_json(&v.to_string())
    }

    fn key_of(v: serde_json::Value) -> String {
        match parse(v) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.key,
        }
    }

    fn toggl_source(toggl: serde_json::Value) -> serde_json::Value {
        json!({"sources": {"toggl": {"format": "toggl", "secret_id": "s", "toggl": toggl}}})
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../../../../examples/sources.json");
        let config = Config::from_json(text).unwrap();
        let toggl = config.source("toggl").unwrap();
        assert_eq!(toggl.format, Format::Toggl);
        assert_eq!(toggl.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        let mapping = toggl.toggl.as_ref().unwrap();
        assert!(!mapping.projects.is_empty() && !mapping.users.is_empty());
        assert_eq!(
            mapping.local_time,
            LocalTime::Zone(chrono_tz::Europe::Helsinki)
        );
        let crm = config.source("crm").unwrap();
        assert_eq!(crm.format, Format::StandardWebhooks);
        assert!(crm.allow.kind(JobKind::AccountUpsert));
        assert!(!crm.allow.kind(JobKind::UserDeactivate));
    }

    #[test]
    fn parses_mappings_and_defaults() {
        let config = parse(toggl_source(json!({
            "workspaces": {"7": {"case": {"number": 2}}},
            "projects": {"201": {"case": {"guid": "sim-case-webshop"}, "work_type": {"code": "DEV"}}},
            "users": {"301": {"email": "alice@example.com"}},
            "utc_offset": "+02:00"
        })))
        .unwrap();
        let m = config.source("toggl").unwrap().toggl.clone().unwrap();
        assert_eq!(m.workspaces[&7].case, Some(CaseRef::Number(2)));
        assert_eq!(
            m.projects[&201].case,
            CaseRef::Guid("sim-case-webshop".into())
        );
        assert_eq!(m.users[&301], UserRef::Email("alice@example.com".into()));
        assert_eq!(
            m.local_time,
            LocalTime::Fixed(FixedOffset::east_opt(7200).unwrap())
        );
        assert_eq!(m.max_event_age, TimeDelta::hours(12));
        let allow = &config.source("toggl").unwrap().allow;
        assert_eq!(allow.kinds, TOGGL_KINDS.to_vec());
    }

    #[test]
    fn time_zones_follow_daylight_saving() {
        let config = parse(toggl_source(json!({"time_zone": "Europe/Helsinki"}))).unwrap();
        let local = config
            .source("toggl")
            .unwrap()
            .toggl
            .clone()
            .unwrap()
            .local_time;
        assert_eq!(local, LocalTime::Zone(chrono_tz::Europe::Helsinki));
        let date = |instant: &str| {
            local
                .date_of(instant.parse::<DateTime<Utc>>().unwrap())
                .to_string()
        };
        // +03:00 in summer, +02:00 in winter.
        assert_eq!(date("2026-07-14T20:59:59Z"), "2026-07-14");
        assert_eq!(date("2026-07-14T21:00:00Z"), "2026-07-15");
        assert_eq!(date("2026-01-14T21:30:00Z"), "2026-01-14");
        assert_eq!(date("2026-01-14T22:00:00Z"), "2026-01-15");
        // The night clocks go forward (29 March 2026, 01:00 UTC): one instant either side.
        assert_eq!(date("2026-03-28T21:59:59Z"), "2026-03-28");
        assert_eq!(date("2026-03-28T22:00:00Z"), "2026-03-29");

        for bad in ["Europe/Helsingfors", "+02:00", "helsinki", ""] {
            assert_eq!(
                key_of(toggl_source(json!({"time_zone": bad}))),
                "sources.toggl.toggl.time_zone",
                "{bad:?}"
            );
        }
        let both = parse(toggl_source(
            json!({"time_zone": "Europe/Helsinki", "utc_offset": "+02:00"}),
        ))
        .unwrap_err();
        assert_eq!(both.key, "sources.toggl.toggl.utc_offset");
        assert!(both.reason.contains("not both"), "{both}");
    }

    #[test]
    fn max_event_age_is_bounded_by_the_dedup_window() {
        for bad in [0, MAX_EVENT_AGE_HOURS_LIMIT + 1] {
            let e = parse(toggl_source(json!({"max_event_age_hours": bad}))).unwrap_err();
            assert_eq!(e.key, "sources.toggl.toggl.max_event_age_hours");
            assert!(e.reason.contains("1..=24"), "{e}");
        }
        let config = parse(toggl_source(json!({"max_event_age_hours": 24}))).unwrap();
        let mapping = config.source("toggl").unwrap().toggl.clone().unwrap();
        assert_eq!(mapping.max_event_age, TimeDelta::hours(24));
    }

    fn crm(allow: serde_json::Value) -> serde_json::Value {
        json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": "s", "allow": allow}}})
    }

    #[test]
    fn allow_lists_are_required_and_checked() {
        let missing =
            parse(json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": "s"}}}))
                .unwrap_err();
        assert_eq!(missing.key, "sources.crm.allow");
        assert!(missing.reason.contains("kinds"), "{missing}");
        for (allow, key) in [
            (json!({}), "sources.crm.allow.kinds"),
            (json!({"kinds": []}), "sources.crm.allow.kinds"),
            (
                json!({"kinds": ["invoice.pay"]}),
                "sources.crm.allow.kinds[0]",
            ),
            (
                json!({"kinds": ["account.upsert", "outbound.deliver"]}),
                "sources.crm.allow.kinds[1]",
            ),
            (
                json!({"kinds": ["user.create"], "users": [{"email": "nobody"}]}),
                "sources.crm.allow.users[0].email",
            ),
            (
                json!({"kinds": ["user.create"], "users": []}),
                "sources.crm.allow.users",
            ),
            (
                json!({"kinds": ["hour_entry.upsert"], "cases": [{"number": 0}]}),
                "sources.crm.allow.cases[0].number",
            ),
            (
                json!({"kinds": ["hour_entry.upsert"], "projects": []}),
                "sources.crm.allow.projects",
            ),
        ] {
            assert_eq!(key_of(crm(allow.clone())), key, "{allow}");
        }
        let toggl = |allow: serde_json::Value| {
            let mut v = toggl_source(json!({}));
            v["sources"]["toggl"]["allow"] = allow;
            v
        };
        assert_eq!(
            key_of(toggl(json!({"kinds": ["user.deactivate"]}))),
            "sources.toggl.allow.kinds[0]"
        );
        assert_eq!(
            key_of(toggl(
                json!({"kinds": ["hour_entry.upsert"], "users": [{"code": "AA"}]})
            )),
            "sources.toggl.allow.users"
        );
        let only_upserts = parse(toggl(json!({"kinds": ["hour_entry.upsert"]}))).unwrap();
        let allow = &only_upserts.source("toggl").unwrap().allow;
        assert!(allow.kind(JobKind::HourEntryUpsert) && !allow.kind(JobKind::HourEntryDelete));

        let config = parse(crm(
            json!({"kinds": ["hour_entry.upsert", "user.deactivate"],
            "users": [{"code": "AA"}, {"email": "Bob@Example.com"}], "cases": [{"number": 1}]}),
        ))
        .unwrap();
        let allow = &config.source("crm").unwrap().allow;
        assert!(allow.kind(JobKind::UserDeactivate) && !allow.kind(JobKind::UserCreate));
        assert!(allow.user(&UserRef::Code("AA".into())));
        assert!(allow.user(&UserRef::Email("bob@example.COM".into())));
        assert!(!allow.user(&UserRef::Code("aa".into())));
        assert!(!allow.user(&UserRef::Guid("AA".into())));
        assert!(allow.case(&CaseRef::Number(1)) && !allow.case(&CaseRef::Number(2)));
        let open = parse(crm(json!({"kinds": ["hour_entry.upsert"]}))).unwrap();
        let allow = &open.source("crm").unwrap().allow;
        assert!(allow.user(&UserRef::Code("ZZ".into())) && allow.case(&CaseRef::Number(9)));
    }

    #[test]
    fn errors_name_the_bad_key() {
        assert_eq!(
            parse(json!({"sources": {"toggl": {"format": "toggl", "toggl": {}}}})).unwrap_err(),
            ConfigError {
                key: "sources.toggl.secret_id".into(),
                reason: "missing".into()
            }
        );
        assert_eq!(
            key_of(json!({"sources": {"crm": {"format": "svix", "secret_id": "s"}}})),
            "sources.crm.format"
        );
        assert_eq!(
            key_of(
                json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": "s", "secret": "x"}}})
            ),
            "sources.crm.secret"
        );
        assert_eq!(
            key_of(json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": " "}}})),
            "sources.crm.secret_id"
        );
        assert_eq!(
            key_of(json!({"sources": {"CRM": {"format": "standard-webhooks", "secret_id": "s"}}})),
            "sources.CRM"
        );
        assert_eq!(
            key_of(
                json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": "s", "max_body_bytes": 0}}})
            ),
            "sources.crm.max_body_bytes"
        );
        assert_eq!(
            key_of(json!({"sources": {"t": {"format": "toggl", "secret_id": "s"}}})),
            "sources.t.toggl"
        );
        assert_eq!(
            key_of(
                json!({"sources": {"c": {"format": "standard-webhooks", "secret_id": "s", "toggl": {}}}})
            ),
            "sources.c.toggl"
        );
        assert_eq!(key_of(json!({"sources": {}})), "sources");
        assert_eq!(key_of(json!({})), "sources");
    }

    /// Fuzzing regression (FUZZING.md, finding 2): an unknown top-level key named "" gave an
    /// error with an empty key.
    #[test]
    fn an_empty_unknown_key_is_named() {
        let e = Config::from_json(r#"{"": 1, "sources": {}}"#).unwrap_err();
        assert_eq!(e.key, "\"\"");
        assert!(e.reason.starts_with("unknown key"), "{e}");
        let nested = key_of(
            json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": "s", "": 1}}}),
        );
        assert!(
            !nested.is_empty() && nested.starts_with("sources.crm"),
            "{nested}"
        );
        // The input the fuzzer found (fuzz/regressions/sources_config/).
        let found = "{\"\"sources\":{\"\\rm\":{\"form     \"max_body_bytes*: 26mboa_dxy_bytes\":10jects\":{\"2\x07_id\":\"s\"}}true}";
        let e = Config::from_json(found).unwrap_err();
        assert_eq!(e.key, "\"\"", "{e:?}");
    }

    /// Fuzzing regression (FUZZING.md, finding 3): the configuration accepted mapped values
    /// that every job built from them fails (`payload.user: is not an e-mail address`), so each
    /// delivery was refused with a 400 instead of the deployment stopping.
    #[test]
    fn mapped_values_follow_the_job_rules() {
        let found = r#"{"sources":{"toggl":{"format":"toggl","secret_id":"s","toggl":{"projects":{"201":{"case":{"number":2}}},"users":{"301":{"email":"alice@example.66666676CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC1CCCCCCCCCCCCCC aCCCCCcom"},"302":{"guid":"g"}},"utc_offset":"-11:30","workspaces":{"7":{"case":{"guid":"sim-case-webshop"},"phase":{"code":"P1"},"work_type":{"name":"Dev"}}}}}}}"#;
        let e = Config::from_json(found).unwrap_err();
        assert_eq!(e.key, "sources.toggl.toggl.users.301.email", "{e}");
        let long = "x".repeat(257);
        for (toggl, key) in [
            (
                json!({"users": {"301": {"email": "alice@localhost"}}}),
                "sources.toggl.toggl.users.301.email",
            ),
            (
                json!({"users": {"301": {"code": "A\u{1}"}}}),
                "sources.toggl.toggl.users.301",
            ),
            (
                json!({"projects": {"201": {"case": {"guid": long}}}}),
                "sources.toggl.toggl.projects.201.case.guid",
            ),
            (
                json!({"projects": {"201": {"case": {"number": 1}, "phase": {"name": "P\u{0}"}}}}),
                "sources.toggl.toggl.projects.201.phase",
            ),
            (
                json!({"workspaces": {"7": {"work_type": {"code": long}}}}),
                "sources.toggl.toggl.workspaces.7.work_type",
            ),
        ] {
            assert_eq!(key_of(toggl_source(toggl)), key);
        }
        // The same rules for the users on an allow-list: one no job can carry never matches.
        let crm = json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": "s",
            "allow": {"kinds": ["user.deactivate"], "users": [{"email": "alice@localhost"}]}}}});
        assert_eq!(key_of(crm), "sources.crm.allow.users[0].email");
    }

    #[test]
    fn mapping_errors_name_the_id() {
        assert_eq!(
            key_of(toggl_source(
                json!({"projects": {"abc": {"case": {"number": 1}}}})
            )),
            "sources.toggl.toggl.projects.abc"
        );
        assert_eq!(
            key_of(toggl_source(
                json!({"projects": {"201": {"phase": {"name": "x"}}}})
            )),
            "sources.toggl.toggl.projects.201.case"
        );
        assert_eq!(
            key_of(toggl_source(
                json!({"projects": {"201": {"case": {"number": 0}}}})
            )),
            "sources.toggl.toggl.projects.201.case.number"
        );
        assert_eq!(
            key_of(toggl_source(json!({"users": {"301": {"nick": "al"}}}))),
            "sources.toggl.toggl.users.301"
        );
        assert_eq!(
            key_of(toggl_source(json!({"users": {"301": {"email": "nobody"}}}))),
            "sources.toggl.toggl.users.301.email"
        );
        assert_eq!(
            key_of(toggl_source(json!({"utc_offset": "Europe/Helsinki"}))),
            "sources.toggl.toggl.utc_offset"
        );
    }

    #[test]
    fn environment_needs_exactly_one_variable() {
        let none = Config::from_vars(|_| None).unwrap_err();
        assert!(none.key.contains(SOURCES_JSON_VAR), "{none}");
        let both = Config::from_vars(|_| Some("{}".into())).unwrap_err();
        assert!(both.reason.contains("only one"), "{both}");
        let missing_file = Config::from_vars(|v| {
            (v == SOURCES_FILE_VAR).then(|| "/nonexistent/sources.json".to_string())
        })
        .unwrap_err();
        assert_eq!(missing_file.key, SOURCES_FILE_VAR);
        let inline = Config::from_vars(|v| {
            (v == SOURCES_JSON_VAR).then(|| crm(json!({"kinds": ["account.upsert"]})).to_string())
        })
        .unwrap();
        assert!(inline.source("crm").is_some());
        let bad_json =
            Config::from_vars(|v| (v == SOURCES_JSON_VAR).then(|| "{".to_string())).unwrap_err();
        assert_eq!(bad_json.key, ".");
    }
}
