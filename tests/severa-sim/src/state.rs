//! The simulated organisation (entities, memberships, keys) and the runtime around it (clock,
//! quota, fault rules, request log). Everything lives behind one mutex in [`crate::server`].

use crate::model::{self, Fields, Kind, Record};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// The seed fixture as stored on disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    pub organization: SeedOrganization,
    #[serde(default)]
    pub api_keys: BTreeMap<String, String>,
    pub entities: BTreeMap<String, Vec<Json>>,
    #[serde(default)]
    pub case_members: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub phase_members: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub phase_work_types: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrganization {
    pub name: String,
    pub version: String,
    pub schema_version: i64,
    pub seeded_at: DateTime<Utc>,
    pub api_user_guid: String,
    pub currency_guid: String,
}

/// The organisation's data.
#[derive(Debug, Clone)]
pub struct Org {
    pub name: String,
    pub version: String,
    pub schema_version: i64,
    pub api_user_guid: String,
    pub currency_guid: String,
    pub entities: BTreeMap<Kind, BTreeMap<String, Record>>,
    pub case_members: BTreeMap<String, Vec<String>>,
    /// Phase members; a phase without an entry uses its case's members.
    pub phase_members: BTreeMap<String, Vec<String>>,
    /// Work types allowed on a phase; a phase without an entry allows every active one.
    pub phase_work_types: BTreeMap<String, Vec<String>>,
    /// API key → user GUID.
    pub keys: BTreeMap<String, String>,
    pub counter: u64,
}

impl Org {
    /// Builds the organisation from a seed; errors name what is wrong.
    pub fn from_seed(seed: &Seed, api_key: Option<&str>) -> Result<Org, String> {
        let at = seed.organization.seeded_at;
        let mut org = Org {
            name: seed.organization.name.clone(),
            version: seed.organization.version.clone(),
            schema_version: seed.organization.schema_version,
            api_user_guid: seed.organization.api_user_guid.clone(),
            currency_guid: seed.organization.currency_guid.clone(),
            entities: BTreeMap::new(),
            case_members: seed.case_members.clone(),
            phase_members: seed.phase_members.clone(),
            phase_work_types: seed.phase_work_types.clone(),
            keys: BTreeMap::new(),
            counter: 0,
        };
        for (type_name, records) in &seed.entities {
            let kind = Kind::from_name(type_name).ok_or_else(|| {
                format!(
                    "entities.{type_name}: unknown entity type (known: {})",
                    Kind::ALL.map(|k| k.name()).join(", ")
                )
            })?;
            for (index, value) in records.iter().enumerate() {
                let fields = model::fields_from_json(kind.ty(), value)
                    .map_err(|e| format!("entities.{type_name}[{index}]: {e}"))?;
                let key_member = kind.key_member();
                let guid = model::non_empty(&fields, key_member)
                    .ok_or_else(|| {
                        format!("entities.{type_name}[{index}]: {key_member} is missing")
                    })?
                    .to_string();
                if key_member == "GUID" && !crate::is_sim_guid(&guid) {
                    return Err(format!(
                        "entities.{type_name}[{index}]: GUID {guid:?} is not of the form sim-<type>-<id>"
                    ));
                }
                let map = org.entities.entry(kind).or_default();
                if map.contains_key(&guid) {
                    return Err(format!(
                        "entities.{type_name}: duplicate {key_member} {guid:?}"
                    ));
                }
                map.insert(
                    guid,
                    Record {
                        fields,
                        created: at,
                        modified: at,
                    },
                );
            }
        }
        let check =
            |what: &str, owner_kind: Kind, map: &BTreeMap<String, Vec<String>>, item_kind: Kind| {
                for (owner, items) in map {
                    if org.get(owner_kind, owner).is_none() {
                        return Err(format!("{what}: unknown {} {owner:?}", owner_kind.name()));
                    }
                    for item in items {
                        if org.get(item_kind, item).is_none() {
                            return Err(format!(
                                "{what}.{owner}: unknown {} {item:?}",
                                item_kind.name()
                            ));
                        }
                    }
                }
                Ok(())
            };
        check("case_members", Kind::Case, &org.case_members, Kind::User)?;
        check("phase_members", Kind::Phase, &org.phase_members, Kind::User)?;
        check(
            "phase_work_types",
            Kind::Phase,
            &org.phase_work_types,
            Kind::WorkType,
        )?;
        if org.get(Kind::User, &org.api_user_guid).is_none() {
            return Err(format!(
                "organization.api_user_guid: unknown User {:?}",
                org.api_user_guid
            ));
        }
        if org.get(Kind::Currency, &org.currency_guid).is_none() {
            return Err(format!(
                "organization.currency_guid: unknown Currency {:?}",
                org.currency_guid
            ));
        }
        for (user, key) in &seed.api_keys {
            if org.get(Kind::User, user).is_none() {
                return Err(format!("api_keys: unknown User {user:?}"));
            }
            if key.trim().is_empty() {
                return Err(format!("api_keys.{user}: empty key"));
            }
            if org.keys.insert(key.clone(), user.clone()).is_some() {
                return Err(format!("api_keys.{user}: the key is used twice"));
            }
        }
        if let Some(key) = api_key {
            let user = org.api_user_guid.clone();
            org.set_key(&user, key);
        } else if !org.keys.values().any(|u| *u == org.api_user_guid) {
            let user = org.api_user_guid.clone();
            org.set_key(&user, crate::DEFAULT_API_KEY);
        }
        // Seeded hour entries get their read-only context like inserted ones.
        let guids: Vec<String> = org
            .all(Kind::HourEntry)
            .map(|r| r.guid().to_string())
            .collect();
        for guid in guids {
            let Some(mut fields) = org.get(Kind::HourEntry, &guid).map(|r| r.fields.clone()) else {
                continue;
            };
            crate::ops::hour_entry_context(&org, &mut fields)
                .map_err(|f| format!("entities.HourEntry {guid:?}: {}", f.message))?;
            if let Some(r) = org.get_mut(Kind::HourEntry, &guid) {
                r.fields = fields;
            }
        }
        Ok(org)
    }

    pub fn get(&self, kind: Kind, guid: &str) -> Option<&Record> {
        self.entities.get(&kind).and_then(|m| m.get(guid))
    }

    pub fn get_mut(&mut self, kind: Kind, guid: &str) -> Option<&mut Record> {
        self.entities.get_mut(&kind).and_then(|m| m.get_mut(guid))
    }

    pub fn all(&self, kind: Kind) -> impl Iterator<Item = &Record> {
        self.entities
            .get(&kind)
            .into_iter()
            .flat_map(|m| m.values())
    }

    pub fn new_guid(&mut self, kind: Kind) -> String {
        self.counter += 1;
        format!("sim-{}-{:06}", kind.guid_prefix(), self.counter)
    }

    /// Inserts a record (its key member, the GUID, must be set) created and modified now.
    pub fn insert(&mut self, kind: Kind, fields: Fields, now: DateTime<Utc>) -> String {
        debug_assert_contract_members(kind, &fields);
        let guid = model::text(&fields, kind.key_member())
            .unwrap_or_default()
            .to_string();
        self.entities.entry(kind).or_default().insert(
            guid.clone(),
            Record {
                fields,
                created: now,
                modified: now,
            },
        );
        guid
    }

    /// Replaces a record's fields and stamps it modified now.
    pub fn replace(&mut self, kind: Kind, guid: &str, fields: Fields, now: DateTime<Utc>) {
        debug_assert_contract_members(kind, &fields);
        if let Some(r) = self.get_mut(kind, guid) {
            r.fields = fields;
            r.modified = now;
        }
    }

    pub fn remove(&mut self, kind: Kind, guid: &str) -> Option<Record> {
        self.entities.get_mut(&kind).and_then(|m| m.remove(guid))
    }

    /// Sets a user's one current key (any earlier key of that user stops working).
    pub fn set_key(&mut self, user: &str, key: &str) {
        self.keys.retain(|_, u| u != user);
        self.keys.insert(key.to_string(), user.to_string());
    }

    pub fn user_for_key(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }

    pub fn default_work_type(&self) -> Option<&Record> {
        self.all(Kind::WorkType)
            .find(|w| w.flag("IsDefault") && w.flag("IsActive"))
            .or_else(|| self.all(Kind::WorkType).find(|w| w.flag("IsActive")))
    }

    /// The whole state as JSON (for `GET /__admin/state`).
    pub fn to_json(&self) -> Json {
        let mut entities = Map::new();
        let mut timestamps = Map::new();
        for (kind, records) in &self.entities {
            let mut by_guid = Map::new();
            for (guid, r) in records {
                by_guid.insert(guid.clone(), model::fields_to_json(&r.fields));
                timestamps.insert(
                    guid.clone(),
                    json!({"created": model::utc_text(r.created), "modified": model::utc_text(r.modified)}),
                );
            }
            entities.insert(kind.name().to_string(), Json::Object(by_guid));
        }
        let mut key_users: Vec<&String> = self.keys.values().collect();
        key_users.sort();
        json!({
            "organization": {
                "name": self.name,
                "version": self.version,
                "schema_version": self.schema_version,
                "api_user_guid": self.api_user_guid,
                "currency_guid": self.currency_guid,
            },
            "entities": entities,
            "timestamps": timestamps,
            "case_members": self.case_members,
            "phase_members": self.phase_members,
            "phase_work_types": self.phase_work_types,
            "users_with_api_key": key_users,
        })
    }
}

/// The sim clock: real time, optionally frozen, optionally shifted.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    pub frozen: Option<DateTime<Utc>>,
    pub offset: TimeDelta,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self.frozen {
            Some(at) => at,
            None => Utc::now() + self.offset,
        }
    }

    pub fn advance(&mut self, by: TimeDelta) {
        match &mut self.frozen {
            Some(at) => *at += by,
            None => self.offset += by,
        }
    }
}

/// The organisation's daily call counter (UTC day of the sim clock).
#[derive(Debug, Clone)]
pub struct Quota {
    pub limit: u64,
    pub used: u64,
    pub day: Option<NaiveDate>,
}

impl Quota {
    /// Rolls the counter over at the UTC day change.
    pub fn roll(&mut self, now: DateTime<Utc>) {
        let today = now.date_naive();
        if self.day != Some(today) {
            self.day = Some(today);
            self.used = 0;
        }
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InjectKind {
    Fault,
    Http503,
    Http502,
    Http429,
    Maintenance,
    Hang,
    Truncate,
    Garbage,
    Latency,
}

/// A fault injection rule (`POST /__admin/faults`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub operation: String,
    pub kind: InjectKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// `latency` only: each call waits `latency_ms` plus a uniform draw from
    /// `[0, latency_jitter_ms)`, as real calls do not all take the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_jitter_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// How many calls the rule has hit so far (output only).
    #[serde(default)]
    pub applied: u64,
}

/// One logged SOAP request (`GET /__admin/requests`; read back by
/// [`crate::admin_client::request_log`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub seq: u64,
    /// Sim-clock time, UTC (`2026-11-29T10:00:00Z`).
    pub at: String,
    /// Service contract (`IHourEntry`), when the operation was resolved.
    pub interface: Option<String>,
    pub operation: Option<String>,
    pub soap_action: Option<String>,
    /// The authenticated user (never the key).
    pub user_guid: Option<String>,
    pub http_status: Option<u16>,
    /// Fault detail type (`ValidationException`).
    pub fault: Option<String>,
    /// Injected fault kind (`http503`, …).
    pub injected: Option<InjectKind>,
    /// The parameters as sent, as generic JSON.
    pub params: Json,
    /// Elements the service skipped, as Severa's WCF service does silently: parameters by
    /// name (`code`), entity members as `param.Member` (`hourEntryInfo.InvoiceNumber`) —
    /// unknown or wrongly cased names, a wrong namespace, out of contract order, repeated.
    pub ignored: Vec<String>,
    /// Absent non-nullable parameters (`endDate`) and entity members
    /// (`hourEntryInfo.IsBillable`) that the call read as their default (false / 0 /
    /// 0001-01-01T00:00:00) and used.
    pub defaulted: Vec<String>,
}

const LOG_CAP: usize = 10_000;
const RNG_SEED: u64 = 0x5EED_5EED_5EED_5EED;

/// Everything behind the mutex.
pub struct Sim {
    pub seed: Seed,
    pub api_key: Option<String>,
    pub default_quota: u64,
    pub org: Org,
    pub clock: Clock,
    pub quota: Quota,
    pub faults: Vec<FaultRule>,
    pub rng: u64,
    /// The newest [`LOG_CAP`] calls; a ring, so a full log costs nothing more per call.
    pub log: std::collections::VecDeque<LogEntry>,
    pub seq: u64,
    pub maintenance: bool,
}

impl Sim {
    pub fn new(seed: Seed, api_key: Option<String>, default_quota: u64) -> Result<Sim, String> {
        let org = Org::from_seed(&seed, api_key.as_deref())?;
        Ok(Sim {
            seed,
            api_key,
            default_quota,
            org,
            clock: Clock::default(),
            quota: Quota {
                limit: default_quota,
                used: 0,
                day: None,
            },
            faults: Vec::new(),
            rng: RNG_SEED,
            log: std::collections::VecDeque::new(),
            seq: 0,
            maintenance: false,
        })
    }

    /// Back to the seed: state, keys, quota, faults, log, clock.
    pub fn reset(&mut self) -> Result<(), String> {
        let fresh = Sim::new(self.seed.clone(), self.api_key.clone(), self.default_quota)?;
        *self = fresh;
        Ok(())
    }

    /// Deterministic uniform number in [0, 1) (splitmix64).
    pub fn roll(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Picks the injection rule that applies to this call, if any, and counts it.
    pub fn take_injection(&mut self, operation: &str) -> Option<FaultRule> {
        let index = self.faults.iter().position(|r| {
            (r.operation == "*" || r.operation == operation)
                && r.times.is_none_or(|t| r.applied < t)
        })?;
        let rate = self.faults[index].rate.unwrap_or(1.0);
        if rate < 1.0 && self.roll() >= rate {
            return None;
        }
        // Rolled only for a jittered rule: other rules keep the seeded sequence they had.
        let extra = match self.faults[index].latency_jitter_ms {
            Some(jitter) if jitter > 0 => (self.roll() * jitter as f64) as u64,
            _ => 0,
        };
        let rule = &mut self.faults[index];
        rule.applied += 1;
        let mut taken = rule.clone();
        // The returned rule carries this call's drawn wait.
        taken.latency_ms = taken.latency_ms.map(|ms| ms + extra);
        Some(taken)
    }

    pub fn push_log(&mut self, mut entry: LogEntry) {
        self.seq += 1;
        entry.seq = self.seq;
        if self.log.len() >= LOG_CAP {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }
}

/// The simulator stores only members the contract gives the kind.
fn debug_assert_contract_members(kind: Kind, fields: &Fields) {
    debug_assert!(
        fields.keys().all(|m| kind.ty().has(m)),
        "severa-sim stores a member {} does not have: {:?}",
        kind.name(),
        fields
            .keys()
            .filter(|m| !kind.ty().has(m))
            .collect::<Vec<_>>()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> LogEntry {
        LogEntry {
            seq: 0,
            at: String::new(),
            interface: None,
            operation: Some("AddNewHourEntry".into()),
            soap_action: None,
            user_guid: None,
            http_status: Some(200),
            fault: None,
            injected: None,
            params: Json::Null,
            ignored: Vec::new(),
            defaulted: Vec::new(),
        }
    }

    /// A jittered latency rule hands each call its own wait in `[latency_ms, latency_ms +
    /// jitter)`, drawn from the seeded generator; a plain one hands out `latency_ms` as set.
    #[test]
    fn a_jittered_latency_rule_draws_each_wait_within_its_range() {
        let (seed, _) = crate::fixture::load(None).unwrap();
        let mut sim = Sim::new(seed, None, 10).unwrap();
        let rule = |jitter| FaultRule {
            operation: "*".into(),
            kind: InjectKind::Latency,
            fault_type: None,
            message: None,
            latency_ms: Some(40),
            latency_jitter_ms: jitter,
            times: None,
            rate: None,
            applied: 0,
        };
        sim.faults.push(rule(Some(30)));
        let waits: Vec<u64> = (0..50)
            .map(|_| {
                sim.take_injection("GetVersion")
                    .unwrap()
                    .latency_ms
                    .unwrap()
            })
            .collect();
        assert!(waits.iter().all(|ms| (40..70).contains(ms)), "{waits:?}");
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 10, "the draws vary: {waits:?}");
        assert_eq!(
            sim.faults[0].latency_ms,
            Some(40),
            "the rule itself is unchanged"
        );

        sim.faults.clear();
        sim.faults.push(rule(None));
        let rng_before = sim.rng;
        assert_eq!(
            sim.take_injection("GetVersion").unwrap().latency_ms,
            Some(40)
        );
        assert_eq!(sim.rng, rng_before, "a plain rule does not roll");
    }

    /// The request log keeps the newest calls and drops the oldest one at a time (a `Vec` whose
    /// first element was removed moved every other entry on each call once full).
    #[test]
    fn a_full_request_log_keeps_the_newest_calls() {
        let (seed, _) = crate::fixture::load(None).unwrap();
        let mut sim = Sim::new(seed, None, 10).unwrap();
        for _ in 0..LOG_CAP + 5 {
            sim.push_log(entry());
        }
        assert_eq!(sim.log.len(), LOG_CAP);
        assert_eq!(sim.log.front().map(|e| e.seq), Some(6));
        assert_eq!(sim.log.back().map(|e| e.seq), Some(LOG_CAP as u64 + 5));
    }
}
