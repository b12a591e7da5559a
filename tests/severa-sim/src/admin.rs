//! The admin API under [`crate::ADMIN_PREFIX`]: JSON in, JSON out. For tests and demos only.

use crate::contract::contract;
use crate::model::{self, Kind};
use crate::server::Shared;
use crate::state::{FaultRule, InjectKind};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};
use std::sync::atomic::{AtomicU64, Ordering};

static KEY_COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(index))
        .route("/reset", post(reset))
        .route("/state", get(state))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/faults", get(faults).post(add_faults).delete(clear_faults))
        .route("/maintenance", get(get_maintenance).post(maintenance))
        .route("/quota", get(get_quota).post(quota))
        .route("/load", get(load))
        .route("/keys", post(set_key))
        .route("/keys/regenerate", post(regenerate_key))
        .route(
            "/schema-version",
            get(get_schema_version).post(schema_version),
        )
        .route("/clock", get(get_clock).post(clock))
        .route("/clock/advance", post(advance_clock))
        .route("/ui/create", post(ui_create))
        .route("/ui/edit", post(ui_edit))
        .route("/ui/delete", post(ui_delete))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such admin endpoint") })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

fn ok(value: Json) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

/// Parses a JSON body (an empty body reads as `{}`); errors are 400 JSON.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Box<Response>> {
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(text).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {e}"),
        ))
    })
}

async fn index() -> Response {
    ok(json!({
        "endpoints": [
            "POST /__admin/reset",
            "GET /__admin/state",
            "GET|DELETE /__admin/requests",
            "GET|POST|DELETE /__admin/faults",
            "GET|POST /__admin/maintenance",
            "GET|POST /__admin/quota",
            "GET /__admin/load",
            "POST /__admin/keys",
            "POST /__admin/keys/regenerate",
            "GET|POST /__admin/schema-version",
            "GET|POST /__admin/clock",
            "POST /__admin/clock/advance",
            "POST /__admin/ui/create",
            "POST /__admin/ui/edit",
            "POST /__admin/ui/delete",
        ]
    }))
}

async fn reset(State(app): State<Shared>) -> Response {
    let mut sim = app.lock();
    match sim.reset() {
        Ok(()) => {
            app.load.reset_peak();
            ok(json!({ "reset": true }))
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn state(State(app): State<Shared>) -> Response {
    let mut sim = app.lock();
    let now = sim.clock.now();
    sim.quota.roll(now);
    let mut value = sim.org.to_json();
    if let Json::Object(map) = &mut value {
        map.insert("clock".into(), clock_json(&sim.clock));
        map.insert(
            "quota".into(),
            json!({"limit": sim.quota.limit, "used": sim.quota.used}),
        );
        map.insert("maintenance".into(), json!(sim.maintenance));
        map.insert("faults".into(), json!(sim.faults));
    }
    ok(value)
}

async fn requests(State(app): State<Shared>) -> Response {
    let sim = app.lock();
    ok(json!(sim.log))
}

async fn clear_requests(State(app): State<Shared>) -> Response {
    let mut sim = app.lock();
    sim.log.clear();
    ok(json!({ "cleared": true }))
}

async fn faults(State(app): State<Shared>) -> Response {
    ok(json!(app.lock().faults))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<FaultRule>),
    One(Box<FaultRule>),
}

fn check_rule(rule: &mut FaultRule) -> Result<(), String> {
    if rule.operation != "*" && contract().by_name(&rule.operation).is_none() {
        return Err(format!(
            "operation {:?} is not in Severa's contract (use an operation name or \"*\")",
            rule.operation
        ));
    }
    if let Some(rate) = rule.rate
        && !(0.0..=1.0).contains(&rate)
    {
        return Err(format!("rate {rate} is not between 0.0 and 1.0"));
    }
    match rule.kind {
        InjectKind::Fault => {
            let ty = rule
                .fault_type
                .get_or_insert_with(|| "GeneralFailureException".into());
            if ty.is_empty() || !ty.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("fault_type {ty:?} is not an element name"));
            }
            rule.message
                .get_or_insert_with(|| "Injected fault (severa-sim)".into());
        }
        InjectKind::Latency if rule.latency_ms.is_none() => {
            return Err("kind \"latency\" needs latency_ms".into());
        }
        _ => {}
    }
    if rule.latency_jitter_ms.is_some() && rule.kind != InjectKind::Latency {
        return Err("latency_jitter_ms goes only with kind \"latency\"".into());
    }
    rule.applied = 0;
    Ok(())
}

async fn add_faults(State(app): State<Shared>, bytes: Bytes) -> Response {
    let rules = match body::<OneOrMany>(&bytes) {
        Ok(OneOrMany::Many(rules)) => rules,
        Ok(OneOrMany::One(rule)) => vec![*rule],
        Err(response) => return *response,
    };
    let mut checked = Vec::new();
    for mut rule in rules {
        if let Err(e) = check_rule(&mut rule) {
            return error(StatusCode::BAD_REQUEST, e);
        }
        checked.push(rule);
    }
    let mut sim = app.lock();
    sim.faults.extend(checked);
    ok(json!(sim.faults))
}

async fn clear_faults(State(app): State<Shared>) -> Response {
    let mut sim = app.lock();
    sim.faults.clear();
    ok(json!([]))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceBody {
    enabled: bool,
}

async fn get_maintenance(State(app): State<Shared>) -> Response {
    ok(json!({ "enabled": app.lock().maintenance }))
}

async fn maintenance(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: MaintenanceBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut sim = app.lock();
    sim.maintenance = b.enabled;
    ok(json!({ "enabled": sim.maintenance }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaBody {
    limit: Option<u64>,
    used: Option<u64>,
}

async fn get_quota(State(app): State<Shared>) -> Response {
    let mut sim = app.lock();
    let now = sim.clock.now();
    sim.quota.roll(now);
    ok(json!({"limit": sim.quota.limit, "used": sim.quota.used}))
}

/// SOAP calls being served now and the most at once since the last reset.
async fn load(State(app): State<Shared>) -> Response {
    ok(json!({"in_flight": app.load.in_flight(), "peak_in_flight": app.load.peak()}))
}

async fn quota(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: QuotaBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut sim = app.lock();
    let now = sim.clock.now();
    sim.quota.roll(now);
    if let Some(limit) = b.limit {
        sim.quota.limit = limit;
    }
    if let Some(used) = b.used {
        sim.quota.used = used;
    }
    ok(json!({"limit": sim.quota.limit, "used": sim.quota.used}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    user_guid: Option<String>,
    api_key: Option<String>,
}

fn key_user(sim: &crate::state::Sim, user: Option<String>) -> Result<String, Box<Response>> {
    let user = user.unwrap_or_else(|| sim.org.api_user_guid.clone());
    if sim.org.get(Kind::User, &user).is_none() {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            format!("unknown user_guid {user:?}"),
        )));
    }
    Ok(user)
}

async fn regenerate_key(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: KeyBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if b.api_key.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "regenerate makes its own key; use POST /__admin/keys to set one",
        );
    }
    let mut sim = app.lock();
    let user = match key_user(&sim, b.user_guid) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let n = KEY_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let nanos = Utc::now().timestamp_subsec_nanos() as u64;
    let mut z = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos;
    z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let key = format!("sim-key-{:016x}{:04x}", z ^ (z >> 29), n & 0xffff);
    sim.org.set_key(&user, &key);
    tracing::info!(user = user.as_str(), "API key regenerated");
    ok(json!({ "user_guid": user, "api_key": key }))
}

async fn set_key(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: KeyBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(key) = b.api_key.filter(|k| !k.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "api_key is required");
    };
    let mut sim = app.lock();
    let user = match key_user(&sim, b.user_guid) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    if sim.org.user_for_key(&key).is_some_and(|u| u != user) {
        return error(StatusCode::CONFLICT, "that key belongs to another user");
    }
    sim.org.set_key(&user, key.trim());
    tracing::info!(user = user.as_str(), "API key set");
    ok(json!({ "user_guid": user, "api_key": key.trim() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaBody {
    version: i64,
}

async fn get_schema_version(State(app): State<Shared>) -> Response {
    ok(json!({ "version": app.lock().org.schema_version }))
}

async fn schema_version(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: SchemaBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut sim = app.lock();
    sim.org.schema_version = b.version;
    ok(json!({ "version": b.version }))
}

fn clock_json(clock: &crate::state::Clock) -> Json {
    json!({
        "now": model::utc_text(clock.now()),
        "frozen": clock.frozen.is_some(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    now: Option<DateTime<Utc>>,
}

async fn get_clock(State(app): State<Shared>) -> Response {
    ok(clock_json(&app.lock().clock))
}

async fn clock(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: ClockBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut sim = app.lock();
    sim.clock.frozen = b.now;
    sim.clock.offset = TimeDelta::zero();
    ok(clock_json(&sim.clock))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    seconds: i64,
}

async fn advance_clock(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: AdvanceBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(by) = TimeDelta::try_seconds(b.seconds) else {
        return error(StatusCode::BAD_REQUEST, "seconds out of range");
    };
    let mut sim = app.lock();
    sim.clock.advance(by);
    ok(clock_json(&sim.clock))
}

// ---------------------------------------------------------------------------------------------
// A person in Severa's UI: creates, edits and deletes records without the API, including the
// edits that do not move the changed-since timestamp (custom fields, market segment on
// customers) and the deletions that no changed-since feed reports.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UiCreateBody {
    kind: String,
    /// Members as the contract names them; each record gets a new GUID.
    records: Vec<Json>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UiEditBody {
    kind: String,
    guid: String,
    /// Members to set, as the contract names them.
    set: serde_json::Map<String, Json>,
    /// The edit does not move the record's modification time (nor `UpdatedTS`), so no
    /// changed-since operation reports it.
    #[serde(default)]
    silent: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UiDeleteBody {
    kind: String,
    guid: String,
}

fn ui_kind(name: &str) -> Result<Kind, Box<Response>> {
    match Kind::from_name(name) {
        Some(kind) if kind.key_member() == "GUID" => Ok(kind),
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("kind {name:?} is not an entity with a GUID (HourEntry, Account, Invoice, …)"),
        ))),
    }
}

async fn ui_create(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: UiCreateBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let kind = match ui_kind(&b.kind) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let mut parsed = Vec::with_capacity(b.records.len());
    for (i, record) in b.records.iter().enumerate() {
        if record.get(kind.key_member()).is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                format!("records[{i}]: the simulator assigns the GUID; leave it out"),
            );
        }
        match model::fields_from_json(kind.ty(), record) {
            Ok(fields) => parsed.push(fields),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("records[{i}]: {e}")),
        }
    }
    let mut sim = app.lock();
    let now = sim.clock.now();
    let mut guids = Vec::with_capacity(parsed.len());
    for mut fields in parsed {
        let guid = sim.org.new_guid(kind);
        model::set(&mut fields, kind.key_member(), guid);
        if kind.ty().member("UpdatedTS").is_some() {
            model::set(&mut fields, "UpdatedTS", model::utc_text(now));
        }
        guids.push(sim.org.insert(kind, fields, now));
    }
    ok(json!({ "kind": kind.name(), "guids": guids }))
}

async fn ui_edit(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: UiEditBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let kind = match ui_kind(&b.kind) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    if b.set.contains_key(kind.key_member()) || b.set.contains_key("UpdatedTS") {
        return error(
            StatusCode::BAD_REQUEST,
            "set may not change GUID or UpdatedTS (silent: true keeps the timestamp)",
        );
    }
    let changes = match model::fields_from_json(kind.ty(), &Json::Object(b.set.clone())) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("set: {e}")),
    };
    let mut sim = app.lock();
    let now = sim.clock.now();
    let Some(record) = sim.org.get_mut(kind, &b.guid) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no {} {:?}", kind.name(), b.guid),
        );
    };
    for (member, value) in &b.set {
        if value.is_null() {
            record.fields.remove(member);
        }
    }
    record.fields.extend(changes);
    if !b.silent {
        record.modified = now;
        if kind.ty().member("UpdatedTS").is_some() {
            model::set(&mut record.fields, "UpdatedTS", model::utc_text(now));
        }
    }
    let modified = model::utc_text(record.modified);
    let fields = model::fields_to_json(&record.fields);
    ok(json!({ "kind": kind.name(), "guid": b.guid, "modified": modified, "record": fields }))
}

async fn ui_delete(State(app): State<Shared>, bytes: Bytes) -> Response {
    let b: UiDeleteBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let kind = match ui_kind(&b.kind) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let mut sim = app.lock();
    match sim.org.remove(kind, &b.guid) {
        Some(_) => ok(json!({ "kind": kind.name(), "guid": b.guid, "deleted": true })),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no {} {:?}", kind.name(), b.guid),
        ),
    }
}
