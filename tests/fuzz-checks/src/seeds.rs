//! Seed inputs for every target, built from the project's fixtures: the simulator's demo
//! organisation (`tests/severa-sim/fixtures/demo-org.json`), `examples/*.json`, and the
//! shapes the unit tests use (Severa's fault envelopes, Toggl deliveries, jobs of every kind).
//! `cargo run -p fuzz-checks --bin fuzz-seeds` writes them to `fuzz/corpus/<target>/`; the
//! smoke test runs them through the checks directly.

use crate::verify::now;
use serde_json::{Value as Json, json};
use severa::entities::{Account, Case, Contact, HourEntry, Invoice, User};
use severa::wire::{NS_API, NS_ENTITIES, NS_SEVERA, NS_SOAP_ENV, NS_XSI, ToWire, escape_text};
use severa::{FaultKind, Quota};

/// One seed file: `fuzz/corpus/<target>/<name>`.
pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

const DEMO_ORG: &str = include_str!("../../severa-sim/fixtures/demo-org.json");
const SOURCES: &str = include_str!("../../../examples/sources.json");
const SYNCS: &str = include_str!("../../../examples/syncs.json");

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        seeds.push(Seed {
            target,
            name: name.to_string(),
            bytes,
        })
    };
    for (name, selector, xml) in typed_envelopes() {
        add("soap_envelope", &name, xml.clone().into_bytes());
        add(
            "soap_typed_decode",
            &name,
            [&[selector][..], xml.as_bytes()].concat(),
        );
    }
    for (name, xml) in handwritten_envelopes() {
        add("soap_envelope", name, xml.clone().into_bytes());
        add("soap_typed_decode", name, [b"0", xml.as_bytes()].concat());
    }
    for (i, kind) in FaultKind::ALL.iter().enumerate() {
        let name = kind.detail_name();
        let content = fault_content(name, "s:Client", &format!("{kind} & <more>"), "Details\r\n");
        add(
            "soap_envelope",
            &format!("fault-{name}"),
            fault_envelope(&content).into_bytes(),
        );
        add(
            "soap_fault",
            &format!("raw-{name}"),
            [b"0", content.as_bytes()].concat(),
        );
        let fields =
            format!("s:Client\n{kind}: the request failed\n{name}\nLine 1\r\nLine 2 & <3>");
        add(
            "soap_fault",
            &format!("fields-{name}"),
            [&[b'1' + 2 * (i as u8 % 4)][..], fields.as_bytes()].concat(),
        );
    }
    add(
        "soap_fault",
        "raw-no-detail",
        b"0<faultcode>s:Server</faultcode><faultstring>Internal error</faultstring>".to_vec(),
    );

    for (name, bytes) in standard_deliveries() {
        add("webhook_verify_standard", &name, bytes);
    }
    for (name, body) in toggl_bodies() {
        let signature = bridge::verify::toggl::sign(&toggl_secret(), body.as_bytes());
        add(
            "webhook_verify_toggl",
            &name,
            format!("{signature}\n{body}").into_bytes(),
        );
        add("toggl_parse", &name, body.into_bytes());
    }
    add(
        "webhook_verify_toggl",
        "bad-signature",
        b"sha256=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n{}".to_vec(),
    );
    for (name, job) in jobs() {
        add("job_parse", &name, job.to_string().into_bytes());
    }
    for (name, body) in canonical_bodies() {
        add("job_parse", &name, body.to_string().into_bytes());
    }
    for (name, text) in source_configs() {
        add("sources_config", &name, text.into_bytes());
    }
    for (name, text) in sync_configs() {
        add("syncs_config", &name, text.into_bytes());
    }
    seeds
}

fn demo_entities<T: serde::de::DeserializeOwned>(kind: &str) -> Vec<T> {
    let org: Json = serde_json::from_str(DEMO_ORG).unwrap_or_else(|e| panic!("demo-org: {e}"));
    org["entities"][kind]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A response carrying `value` as the result, as Severa shapes it (`a:` entity prefix, quota
/// headers, indentation between elements).
fn response<T: ToWire + ?Sized>(operation: &str, value: &T) -> String {
    let mut out = severa::wire::XmlOut::new();
    let quota = Quota {
        limit: Some(100_000),
        used: Some(42),
    };
    out.raw(&format!(
        "<s:Envelope xmlns:s=\"{NS_SOAP_ENV}\">\n  <s:Header>\n    <Quota xmlns=\"{NS_SEVERA}\">{}</Quota>\n    <UsedQuota xmlns=\"{NS_SEVERA}\">{}</UsedQuota>\n  </s:Header>\n  <s:Body><{operation}Response xmlns=\"{NS_SEVERA}\">",
        quota.limit.unwrap_or_default(),
        quota.used.unwrap_or_default()
    ));
    let mut result = severa::wire::XmlOut::new();
    if let Err(e) = value.to_wire(&mut result, "", &format!("{operation}Result")) {
        panic!("demo data cannot be written: {e}");
    }
    // Declare the prefixes on the result element, as WCF does.
    let result = result.into_string().replacen(
        &format!("<{operation}Result>"),
        &format!(
            "<{operation}Result xmlns:e=\"{NS_ENTITIES}\" xmlns:arr=\"http://schemas.microsoft.com/2003/10/Serialization/Arrays\" xmlns:i=\"{NS_XSI}\">"
        ),
        1,
    );
    out.raw(&result);
    out.raw(&format!("</{operation}Response></s:Body>\n</s:Envelope>"));
    out.into_string()
}

/// `(name, selector byte of soap_typed_decode, envelope)` from the demo organisation.
fn typed_envelopes() -> Vec<(String, u8, String)> {
    let mut out = Vec::new();
    let hours: Vec<HourEntry> = demo_entities("HourEntry");
    out.push((
        "hour-entries".into(),
        b'0',
        response("GetHourEntriesChangedSince", &hours),
    ));
    if let Some(one) = hours.first() {
        out.push((
            "hour-entry".into(),
            b'1',
            response("GetHourEntryByGUID", one),
        ));
    }
    let invoices: Vec<Invoice> = demo_entities("Invoice");
    out.push((
        "invoices".into(),
        b'2',
        response("GetInvoicesByDate", &invoices),
    ));
    if let Some(one) = invoices.first() {
        out.push(("invoice".into(), b'3', response("GetInvoiceByGUID", one)));
    }
    let accounts: Vec<Account> = demo_entities("Account");
    out.push((
        "accounts".into(),
        b'4',
        response("GetAccountsChangedSince", &accounts),
    ));
    let cases: Vec<Case> = demo_entities("Case");
    if let Some(one) = cases.first() {
        out.push(("case".into(), b'5', response("GetCaseByGUID", one)));
    }
    let contacts: Vec<Contact> = demo_entities("Contact");
    out.push((
        "contacts".into(),
        b'6',
        response("GetContactsByAccountGUID", &contacts),
    ));
    let users: Vec<User> = demo_entities("User");
    if let Some(one) = users.first() {
        out.push(("user".into(), b'7', response("GetUserByGUID", one)));
    }
    let guids: Vec<String> = users.iter().filter_map(|u| u.guid.clone()).collect();
    out.push(("strings".into(), b'8', response("GetUserGUIDs", &guids)));
    out.push((
        "decimal".into(),
        b'9',
        response("GetRate", &rust_decimal::Decimal::new(-12_345, 2)),
    ));
    let at = severa::WireDateTime::utc(now());
    out.push(("datetime".into(), b':', response("GetServerTime", &at)));
    out.push((
        "scalar".into(),
        b';',
        response("GetVersion", "1.0.0+severa-sim"),
    ));
    out
}

fn handwritten_envelopes() -> Vec<(&'static str, String)> {
    vec![
        (
            "list-with-entities-and-nil",
            format!(
                "<s:Envelope xmlns:s=\"{NS_SOAP_ENV}\"><s:Body><GetHourEntriesByCaseGUIDResponse xmlns=\"{NS_SEVERA}\"><GetHourEntriesByCaseGUIDResult xmlns:a=\"{NS_ENTITIES}\" xmlns:i=\"{NS_XSI}\"><a:HourEntry><a:Description>Fish &amp; chips &lt;3 &#xD;<![CDATA[x]]></a:Description><a:EventDate>2024-05-02T00:00:00+02:00</a:EventDate><a:InvoiceGUID i:nil=\"true\"/><a:IsBillable>1</a:IsBillable><a:Quantity>1.50</a:Quantity><a:SomethingNew>ignored</a:SomethingNew></a:HourEntry></GetHourEntriesByCaseGUIDResult></GetHourEntriesByCaseGUIDResponse></s:Body></s:Envelope>"
            ),
        ),
        (
            "empty-and-nil-results",
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{NS_SOAP_ENV}\"><soap:Body><GetAllResponse xmlns=\"{NS_SEVERA}\"><GetAllResult xmlns:i=\"{NS_XSI}\" i:nil=\"true\"/><R:Other xmlns:R=\"{NS_SEVERA}\"/></GetAllResponse></soap:Body></soap:Envelope>"
            ),
        ),
        (
            "void-result",
            format!(
                "<s:Envelope xmlns:s=\"{NS_SOAP_ENV}\"><s:Body><DeleteHourEntryResponse xmlns=\"{NS_SEVERA}\"/></s:Body></s:Envelope>"
            ),
        ),
        (
            "maintenance-page",
            "<!DOCTYPE html><html><head><title>Service break</title></head><body><p>Severa is being updated.</p></body></html>".into(),
        ),
    ]
}

fn fault_content(detail: &str, code: &str, message: &str, description: &str) -> String {
    let mut xml = String::from("<faultcode>");
    escape_text(&mut xml, code);
    xml.push_str("</faultcode><faultstring xml:lang=\"en-US\">");
    escape_text(&mut xml, message);
    xml.push_str(&format!(
        "</faultstring><detail><{detail} xmlns=\"{NS_API}\" xmlns:i=\"{NS_XSI}\"><Description>"
    ));
    escape_text(&mut xml, description);
    xml.push_str(&format!(
        "</Description><Source i:nil=\"true\"/></{detail}></detail>"
    ));
    xml
}

fn fault_envelope(content: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"{NS_SOAP_ENV}\"><s:Body><s:Fault>{content}</s:Fault></s:Body></s:Envelope>"
    )
}

fn standard_key() -> bridge::verify::SigningSecret {
    bridge::verify::SigningSecret::from_bytes(b"fuzz-signing-key-0123456789abcde".to_vec())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn toggl_secret() -> bridge::verify::SigningSecret {
    bridge::verify::SigningSecret::from_plain("fuzz toggl secret").unwrap_or_else(|e| panic!("{e}"))
}

/// `id\ntimestamp\nsignatures\nbody` lines: signed ones, and the usual ways to get it wrong.
fn standard_deliveries() -> Vec<(String, Vec<u8>)> {
    use bridge::verify::standard_webhooks::sign;
    let key = standard_key();
    let mut out = Vec::new();
    for (name, body) in canonical_bodies().into_iter().take(3) {
        let body = body.to_string();
        let at = now() - chrono::TimeDelta::seconds(30);
        let sig = sign(&key, "msg_2Lh9", at, body.as_bytes());
        let ts = at.timestamp();
        out.push((
            format!("signed-{name}"),
            format!("msg_2Lh9\n{ts}\n{sig}\n{body}").into_bytes(),
        ));
        out.push((
            format!("rotated-{name}"),
            format!("msg_2Lh9\n{ts}\nv1,AAAA v1a,xyz {sig}\n{body}").into_bytes(),
        ));
    }
    let stale = now() - chrono::TimeDelta::minutes(10);
    let sig = sign(&key, "msg_old", stale, b"{}");
    out.push((
        "stale".into(),
        format!("msg_old\n{}\n{sig}\n{{}}", stale.timestamp()).into_bytes(),
    ));
    out.push(("malformed".into(), b"\n1700000000.5\nv1\n".to_vec()));
    out
}

fn toggl_bodies() -> Vec<(String, String)> {
    let entry = |action: &str, project: Json, duration: i64, deleted: Json| {
        json!({
            "event_id": 8_023_169_274_704_072_u64,
            "created_at": "2026-03-02T09:15:02.120Z",
            "creator_id": 9_547_721,
            "metadata": {
                "action": action, "event_user_id": "3001", "model": "time_entry",
                "path": "/api/v9/workspaces/1234567/time_entries", "request_type": "POST",
                "time_entry_id": "3050537739", "workspace_id": "1234567"
            },
            "payload": {
                "id": 3_050_537_739_u64, "workspace_id": 1_234_567, "project_id": project,
                "task_id": null, "user_id": 3001, "billable": true,
                "start": "2026-03-02T08:15:00+00:00", "stop": null, "duration": duration,
                "description": "Customer workshop", "tags": ["onsite"],
                "at": "2026-03-02T09:15:01Z", "server_deleted_at": deleted
            },
            "subscription_id": 6,
            "timestamp": "2026-03-02T09:15:02.2Z"
        })
        .to_string()
    };
    vec![
        ("created-running".into(), entry("created", json!(2001), -1_772_439_300, Json::Null)),
        ("stale".into(), {
            let mut stale: Json = serde_json::from_str(&entry("updated", json!(2002), 5400, Json::Null))
                .unwrap_or_default();
            stale["created_at"] = json!("2026-03-01T09:15:02Z");
            stale.to_string()
        }),
        ("updated-stopped".into(), entry("updated", json!(2002), 5400, Json::Null)),
        ("no-project".into(), entry("updated", Json::Null, 1800, Json::Null)),
        ("unmapped-project".into(), entry("updated", json!(9999), 1800, Json::Null)),
        (
            "server-deleted".into(),
            entry("updated", json!(2003), 60, json!("2026-03-02T09:30:00Z")),
        ),
        (
            "deleted".into(),
            r#"{"event_id":77,"created_at":"2026-03-02T09:59:00Z","metadata":{"action":"deleted","model":"time_entry","time_entry_id":"3050537739","workspace_id":"1234567"},"payload":null}"#.into(),
        ),
        (
            "ping".into(),
            r#"{"event_id":0,"created_at":"2022-06-25T03:58:10.207820267Z","creator_id":6,"metadata":{"request_type":"POST","event_user_id":6},"payload":"ping","subscription_id":6,"timestamp":"2022-06-25T03:58:10.207820267Z","url_callback":"https://callback-url.com","validation_code":"b8a4e1c7d2"}"#.into(),
        ),
        (
            "project-event".into(),
            r#"{"event_id":5,"metadata":{"action":"created","model":"project","workspace_id":"1"},"payload":{"id":9,"name":"P"}}"#.into(),
        ),
    ]
}

/// Jobs of every kind, as the producers write them.
fn jobs() -> Vec<(String, Json)> {
    let job = |kind: &str, source: &str, payload: Json| {
        json!({
            "schema_version": 1, "job_id": "toggl:wh_1", "source": source,
            "external_id": "te-42", "occurred_at": "2026-11-27T10:00:00Z",
            "correlation_id": "wh_1", "kind": kind, "payload": payload
        })
    };
    canonical_bodies()
        .into_iter()
        .map(|(name, body)| {
            let source = if body["kind"] == "outbound.deliver" {
                bridge::job::OUTBOUND_SOURCE
            } else {
                "toggl"
            };
            (
                format!("job-{name}"),
                job(
                    body["kind"].as_str().unwrap_or(""),
                    source,
                    body["payload"].clone(),
                ),
            )
        })
        .chain([(
            "job-wrong-version".into(),
            json!({"schema_version": 2, "job_id": "j", "source": "crm", "external_id": "x",
                   "occurred_at": "2026-11-27T10:00:00+02:00", "correlation_id": "c",
                   "kind": "hour_entry.delete"}),
        )])
        .collect()
}

/// Canonical Standard Webhooks bodies (`kind`, `external_id`, `occurred_at`?, `payload`).
fn canonical_bodies() -> Vec<(String, Json)> {
    let body = |kind: &str, payload: Json| json!({"kind": kind, "external_id": "crm-7", "payload": payload});
    let mut out = vec![
        (
            "hour-entry".to_string(),
            body(
                "hour_entry.upsert",
                json!({
                    "user": {"code": "AA"}, "case": {"number": 1}, "phase": {"name": "Development"},
                    "work_type": {"guid": "sim-wt-dev"}, "event_date": "2026-11-27", "hours": "1.5",
                    "description": "Review", "billable": true
                }),
            ),
        ),
        (
            "hour-entry-delete".into(),
            body("hour_entry.delete", json!({})),
        ),
        (
            "account".into(),
            body(
                "account.upsert",
                json!({
                    "name": "Acme Oy", "number": 1001, "vat_number": "FI12345678",
                    "email": "billing@acme.example", "website": "https://acme.example", "notes": "n",
                    "address": {"line1": "Katu 1", "postal_code": "00100", "city": "Helsinki", "country_code": "FI"}
                }),
            ),
        ),
        (
            "contact".into(),
            body(
                "contact.upsert",
                json!({
                    "account": {"name": "Acme Oy"}, "first_name": "Aino", "last_name": "Virtanen",
                    "email": "aino@acme.example", "phone": "+358 40 1", "job_title": "CFO"
                }),
            ),
        ),
        (
            "case".into(),
            body(
                "case.create",
                json!({
                    "name": "Webshop", "account": {"number": 1001}, "owner": {"email": "alice@demo-oy.example"},
                    "currency": "EUR", "description": "d", "start_date": "2026-12-01"
                }),
            ),
        ),
        (
            "user".into(),
            body(
                "user.create",
                json!({
                    "first_name": "Eve", "last_name": "E", "email": "eve@demo-oy.example", "code": "EE",
                    "business_unit_guid": "sim-bu-main"
                }),
            ),
        ),
        (
            "user-deactivate".into(),
            body("user.deactivate", json!({"user": {"guid": "sim-user-bob"}})),
        ),
        (
            "outbound".into(),
            body(
                "outbound.deliver",
                json!({
                    "sync": "invoices", "entity": "invoice",
                    "records": [{"GUID": "sim-inv-1001", "InvoiceRows": [], "TotalAmount": 12.5}],
                    "write_back": {"invoice_guid": "sim-inv-1001", "status": "Transferred"}
                }),
            ),
        ),
    ];
    let mut timed = body("hour_entry.delete", json!(null));
    timed["occurred_at"] = json!("2026-11-27T10:00:00.123+02:00");
    out.push(("occurred-at".into(), timed));
    out
}

fn source_configs() -> Vec<(String, String)> {
    vec![
        ("example".into(), SOURCES.to_string()),
        (
            "minimal".into(),
            json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": "s", "max_body_bytes": 1024,
                "allow": {"kinds": ["account.upsert"]}}}}).to_string(),
        ),
        (
            "allow-lists".into(),
            json!({"sources": {"crm": {"format": "standard-webhooks", "secret_id": "s",
                "allow": {"kinds": ["hour_entry.upsert", "user.deactivate", "case.create"],
                          "users": [{"code": "AA"}, {"email": "Bob@Example.com"}, {"guid": "sim-user-carol"}],
                          "cases": [{"number": 1}, {"guid": "sim-case-erp"}]}}}}).to_string(),
        ),
        (
            "toggl-zone-deletes-only".into(),
            json!({"sources": {"toggl": {"format": "toggl", "secret_id": "s",
                "allow": {"kinds": ["hour_entry.delete"]},
                "toggl": {
                    "time_zone": "America/New_York", "max_event_age_hours": 24,
                    "projects": {"201": {"case": {"number": 2}}},
                    "users": {"301": {"code": "AA"}}
            }}}})
            .to_string(),
        ),
        (
            "toggl-defaults".into(),
            json!({"sources": {"toggl": {"format": "toggl", "secret_id": "s", "toggl": {
                "workspaces": {"7": {"case": {"guid": "sim-case-webshop"}, "phase": {"code": "P1"}, "work_type": {"name": "Dev"}}},
                "projects": {"201": {"case": {"number": 2}}},
                "users": {"301": {"email": "alice@example.com"}, "302": {"guid": "g"}},
                "utc_offset": "-05:30"
            }}}})
            .to_string(),
        ),
    ]
}

fn sync_configs() -> Vec<(String, String)> {
    vec![
        ("example".into(), SYNCS.to_string()),
        (
            "frequent".into(),
            json!({"quota_share": 0.5, "pause_on_schema_change": false, "syncs": {
                "hours": {"read": "hour_entries", "schedule": "rate(5 minutes)", "allow_frequent_schedule": true,
                          "batch_size": 500, "urgent": true, "first_run": {"from": "2026-01-01T00:00:00+02:00"},
                          "target": {"url": "http://127.0.0.1:9/hook", "secret_id": "s", "timeout_secs": 60}},
                "invoices": {"read": "invoices", "schedule": "at(2026-12-01T05:00:00)", "after": ["hours"],
                             "first_run": {"from": "now"},
                             "invoices": {"statuses": [], "transferred_status": "Transferred", "window_days": 3660,
                                          "business_unit_guid": "sim-bu-main"},
                             "target": {"url": "https://erp.example/hooks", "secret_id": "s"}}
            }})
            .to_string(),
        ),
        (
            "reconcile".into(),
            json!({"syncs": {
                "accounts": {"read": "accounts", "schedule": "rate(1 hour)", "first_run": {"from": "now"},
                             "reconcile": {"schedule": "cron(0 2 ? * SUN *)"},
                             "target": {"url": "https://crm.example/hooks", "secret_id": "s"}},
                "hours": {"read": "hour_entries", "schedule": "rate(1 hour)", "after": ["accounts"], "first_run": {"from": "now"},
                          "reconcile": {"schedule": "rate(1 day)", "window_days": 30, "page_days": 7,
                                        "business_unit_guid": "sim-bu-main"},
                          "target": {"url": "https://erp.example/hours", "secret_id": "s"}},
                "invoices": {"read": "invoices", "schedule": "rate(1 day)", "first_run": {"from": "now"},
                             "invoices": {"statuses": ["Approved"], "transferred_status": "Transferred"},
                             "reconcile": {"schedule": "rate(7 days)", "page_days": 31},
                             "target": {"url": "https://erp.example/invoices", "secret_id": "s"}}
            }})
            .to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use bridge::webhook::{BodyOutcome, interpret_verified_body};

    fn seed(target: &str, name: &str) -> Vec<u8> {
        super::all()
            .into_iter()
            .find(|s| s.target == target && s.name == name)
            .unwrap_or_else(|| panic!("no seed {target}/{name}"))
            .bytes
    }

    /// Seeds are worth something only past the first refusal: the configuration seeds are
    /// accepted, and a stopped Toggl entry makes a job (not a stale or unmapped 400) with the
    /// example source at the targets' fixed "now".
    #[test]
    fn seeds_get_past_validation() {
        for s in super::all() {
            let text = String::from_utf8_lossy(&s.bytes);
            match s.target {
                "sources_config" => {
                    bridge::webhook::config::Config::from_json(&text)
                        .unwrap_or_else(|e| panic!("{}: {e}", s.name));
                }
                "syncs_config" => {
                    bridge::sync::config::SyncConfig::from_json(&text)
                        .unwrap_or_else(|e| panic!("{}: {e}", s.name));
                }
                _ => {}
            }
        }
        let toggl = crate::jobs::example_sources().source("toggl").unwrap();
        let body = seed("toggl_parse", "updated-stopped");
        let outcome = interpret_verified_body(toggl, "", crate::verify::now(), &body);
        assert!(matches!(outcome, BodyOutcome::Job { .. }), "{outcome:?}");
        let body = seed("toggl_parse", "stale");
        let outcome = interpret_verified_body(toggl, "", crate::verify::now(), &body);
        assert!(
            matches!(&outcome, BodyOutcome::Answer { body, .. } if body["error"] == "stale_event"),
            "{outcome:?}"
        );
    }

    #[test]
    fn every_target_has_seeds_and_names_are_unique() {
        let seeds = super::all();
        for (target, _) in crate::TARGETS {
            let names: Vec<&str> = seeds
                .iter()
                .filter(|s| s.target == target)
                .map(|s| s.name.as_str())
                .collect();
            assert!(names.len() >= 2, "{target}: {names:?}");
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{target}");
        }
    }
}
