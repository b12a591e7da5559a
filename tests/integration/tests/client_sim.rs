//! `severa::SeveraClient` against `severa-sim` over real HTTP on 127.0.0.1.
//!
//! Every test starts its own simulator on port 0 and checks both what the client returned and
//! what the simulator received or stored (admin API `state` / `requests`).

use rust_decimal::Decimal;
use serde_json::{Value as Json, json};
use severa::entities::*;
use severa::{
    ApiKey, FaultKind, SeveraClient, SeveraConfig, SeveraError, TransportKind, WireDateTime,
};
use severa_sim::{DEFAULT_API_KEY, RunningSim, SimConfig, fixture};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

struct Harness {
    sim: RunningSim,
    client: SeveraClient,
    http: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with(SimConfig::default()).await
    }

    async fn start_with(config: SimConfig) -> Self {
        severa::install_crypto_provider();
        let sim = RunningSim::start(config).await.expect("simulator starts");
        let client = client_for(&sim, DEFAULT_API_KEY);
        Harness {
            sim,
            client,
            http: reqwest::Client::new(),
        }
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        severa_sim::admin_client::admin_request(
            &self.http,
            &self.sim.admin_url(),
            method,
            path,
            body.as_ref(),
        )
        .await
        .expect("simulator admin call")
    }

    async fn post(&self, path: &str, body: Json) -> Json {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    async fn state(&self) -> Json {
        self.admin(reqwest::Method::GET, "state", None).await
    }

    async fn entity(&self, kind: &str, guid: &str) -> Json {
        self.state().await["entities"][kind][guid].clone()
    }

    async fn requests(&self) -> Vec<Json> {
        match self.admin(reqwest::Method::GET, "requests", None).await {
            Json::Array(items) => items,
            other => panic!("requests: {other}"),
        }
    }

    async fn last_request(&self) -> Json {
        self.requests().await.pop().expect("a logged request")
    }

    async fn stop(self) {
        self.sim.shutdown().await;
    }
}

fn client_for(sim: &RunningSim, key: &str) -> SeveraClient {
    SeveraClient::new(
        SeveraConfig {
            endpoint: sim.endpoint(),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            max_response_bytes: 16 << 20,
            ..Default::default()
        },
        ApiKey::new(key),
    )
    .unwrap()
}

fn dt(s: &str) -> WireDateTime {
    WireDateTime::from_str(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn fault_of(e: &SeveraError) -> (FaultKind, String) {
    match e {
        SeveraError::Fault { fault, .. } => (fault.kind, fault.text().to_string()),
        other => panic!("expected a SOAP fault, got {other:?}"),
    }
}

fn transport_of(e: &SeveraError) -> (TransportKind, Option<u16>) {
    match e {
        SeveraError::Transport { kind, status, .. } => (*kind, *status),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

fn hour_entry(phase: &str, user: &str, quantity: &str) -> HourEntry {
    HourEntry {
        description: Some("Integration test & <check>".into()),
        event_date: Some(dt("2026-01-20")),
        phase_guid: Some(phase.into()),
        quantity: Some(dec(quantity)),
        user_guid: Some(user.into()),
        work_type_guid: Some(fixture::WORKTYPE_DEV_GUID.into()),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// IAPI

#[tokio::test]
async fn version_and_schema_version() {
    let h = Harness::start().await;
    let r = h.client.get_version().await.unwrap();
    assert_eq!(r.value, fixture::VERSION);
    assert!(
        r.quota.limit.is_some() && r.quota.used.is_some(),
        "{:?}",
        r.quota
    );
    let r = h.client.get_entity_schema_version().await.unwrap();
    assert_eq!(r.value, fixture::SCHEMA_VERSION.to_string());
    h.post("schema-version", json!({"version": 8})).await;
    let r = h.client.get_entity_schema_version().await.unwrap();
    assert_eq!(r.value, "8");
    let last = h.last_request().await;
    assert_eq!(last["interface"], "IAPI");
    assert_eq!(last["operation"], "GetEntitySchemaVersion");
    assert_eq!(
        last["soap_action"], "\"http://soap.severa.com/IAPI/GetEntitySchemaVersion\"",
        "the client sends the SOAPAction quoted"
    );
    assert_eq!(last["user_guid"], fixture::USER_API_GUID);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// IHourEntry

#[tokio::test]
async fn add_hour_entry_then_find_it() {
    let h = Harness::start().await;
    let c = &h.client;
    let added = c
        .add_new_hour_entry(&hour_entry(
            fixture::PHASE_WEBSHOP_DEV_GUID,
            fixture::USER_BOB_GUID,
            "2.75",
        ))
        .await
        .unwrap()
        .value;
    let guid = added.guid.clone().expect("a GUID");
    assert_eq!(added.quantity, Some(dec("2.75")));
    assert_eq!(added.case_guid.as_deref(), Some(fixture::CASE_WEBSHOP_GUID));
    assert_eq!(
        added.description.as_deref(),
        Some("Integration test & <check>")
    );
    // The simulator stored what the client sent.
    let stored = h.entity("HourEntry", &guid).await;
    assert_eq!(stored["Quantity"], "2.75");
    assert_eq!(stored["UserGUID"], fixture::USER_BOB_GUID);
    assert_eq!(stored["PhaseGUID"], fixture::PHASE_WEBSHOP_DEV_GUID);
    assert_eq!(stored["Description"], "Integration test & <check>");
    let logged = h.last_request().await;
    assert_eq!(logged["operation"], "AddNewHourEntry");
    assert!(logged["fault"].is_null(), "{logged}");
    assert!(logged["params"].get("hourEntryInfo").is_some(), "{logged}");

    let by_guid = c
        .get_hour_entry_by_guid(&guid)
        .await
        .unwrap()
        .value
        .expect("found");
    assert_eq!(by_guid.quantity, Some(dec("2.75")));
    assert_eq!(by_guid.user_guid.as_deref(), Some(fixture::USER_BOB_GUID));
    assert_eq!(
        by_guid
            .event_date
            .map(|d| d.naive_date().to_string())
            .as_deref(),
        Some("2026-01-20")
    );

    let by_case = c
        .get_hour_entries_by_case_guid(fixture::CASE_WEBSHOP_GUID, None, None)
        .await
        .unwrap()
        .value;
    let mine = by_case
        .iter()
        .find(|e| e.guid.as_deref() == Some(&*guid))
        .expect("in case list");
    assert_eq!(mine.quantity, Some(dec("2.75")));
    assert!(
        by_case
            .iter()
            .any(|e| e.guid.as_deref() == Some(fixture::HOUR_ENTRY_ALICE_1_GUID))
    );
    assert!(
        !by_case
            .iter()
            .any(|e| e.guid.as_deref() == Some(fixture::HOUR_ENTRY_BOB_1_GUID))
    );
    // The case list honours the date range.
    let january_12 = c
        .get_hour_entries_by_case_guid(
            fixture::CASE_WEBSHOP_GUID,
            Some(dt("2026-01-12")),
            Some(dt("2026-01-12")),
        )
        .await
        .unwrap()
        .value;
    assert!(
        january_12
            .iter()
            .all(|e| e.event_date.unwrap().naive_date().to_string() == "2026-01-12")
    );
    assert!(
        january_12
            .iter()
            .any(|e| e.guid.as_deref() == Some(fixture::HOUR_ENTRY_ALICE_1_GUID))
    );
    let logged = h.last_request().await;
    assert_eq!(
        logged["params"]["caseGuid"],
        fixture::CASE_WEBSHOP_GUID,
        "{logged}"
    );

    let by_user = c
        .get_hour_entries_by_date_and_user_guid(
            None,
            dt("2026-01-01"),
            dt("2026-01-31"),
            fixture::USER_BOB_GUID,
        )
        .await
        .unwrap()
        .value;
    let guids: Vec<_> = by_user.iter().filter_map(|e| e.guid.as_deref()).collect();
    assert!(
        guids.contains(&guid.as_str()) && guids.contains(&fixture::HOUR_ENTRY_BOB_1_GUID),
        "{guids:?}"
    );
    assert!(
        by_user
            .iter()
            .all(|e| e.user_guid.as_deref() == Some(fixture::USER_BOB_GUID))
    );
    h.stop().await;
}

#[tokio::test]
async fn update_and_delete_hour_entry() {
    let h = Harness::start().await;
    let c = &h.client;
    let mut entry = c
        .get_hour_entry_by_guid(fixture::HOUR_ENTRY_ALICE_2_GUID)
        .await
        .unwrap()
        .value
        .unwrap();
    entry.quantity = Some(dec("5.5"));
    entry.description = Some("updated".into());
    let updated = c.update_hour_entry(&entry).await.unwrap().value;
    assert_eq!(updated.quantity, Some(dec("5.5")));
    let stored = h
        .entity("HourEntry", fixture::HOUR_ENTRY_ALICE_2_GUID)
        .await;
    assert_eq!(stored["Quantity"], "5.5");
    assert_eq!(stored["Description"], "updated");

    assert!(
        c.delete_hour_entry(fixture::HOUR_ENTRY_ALICE_2_GUID)
            .await
            .unwrap()
            .value
    );
    assert!(
        h.entity("HourEntry", fixture::HOUR_ENTRY_ALICE_2_GUID)
            .await
            .is_null()
    );
    assert_eq!(
        c.get_hour_entry_by_guid(fixture::HOUR_ENTRY_ALICE_2_GUID)
            .await
            .unwrap()
            .value,
        None
    );
    h.stop().await;
}

#[tokio::test]
async fn hour_entry_validation_faults() {
    let h = Harness::start().await;
    let c = &h.client;
    // Quantity over 999 (§3.3).
    let e = c
        .add_new_hour_entry(&hour_entry(
            fixture::PHASE_WEBSHOP_DEV_GUID,
            fixture::USER_BOB_GUID,
            "1000",
        ))
        .await
        .unwrap_err();
    let (kind, text) = fault_of(&e);
    assert_eq!(kind, FaultKind::Validation);
    assert!(text.contains("999"), "{text}");
    assert!(!e.is_retryable());
    assert_eq!(e.type_name(), "ValidationException");
    assert!(
        e.quota().is_known(),
        "fault responses carry the quota headers"
    );
    let logged = h.last_request().await;
    assert_eq!(logged["fault"], "ValidationException", "{logged}");
    assert_eq!(logged["http_status"], 500);
    // Carol is not a member of the Development phase.
    let e = c
        .add_new_hour_entry(&hour_entry(
            fixture::PHASE_WEBSHOP_DEV_GUID,
            fixture::USER_CAROL_GUID,
            "1",
        ))
        .await
        .unwrap_err();
    let (kind, text) = fault_of(&e);
    assert_eq!(kind, FaultKind::Validation);
    assert!(text.contains("member"), "{text}");
    // Nothing was stored by either call.
    let state = h.state().await;
    let quantities: Vec<_> = state["entities"]["HourEntry"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["Quantity"].clone())
        .collect();
    assert!(!quantities.contains(&json!("1000")), "{quantities:?}");
    assert_eq!(quantities.len(), 4, "only the seeded entries");
    h.stop().await;
}

#[tokio::test]
async fn hour_entries_changed_since_uses_minute_precision() {
    let h = Harness::start().await;
    let c = &h.client;
    h.post("clock", json!({"now": "2026-02-01T10:15:42Z"}))
        .await;
    let added = c
        .add_new_hour_entry(&hour_entry(
            fixture::PHASE_WEBSHOP_DEV_GUID,
            fixture::USER_ALICE_GUID,
            "1",
        ))
        .await
        .unwrap()
        .value;
    let guid = added.guid.unwrap();
    let ts = h.state().await["timestamps"][&guid].clone();
    assert_eq!(
        ts["modified"]
            .as_str()
            .map(|s| s.starts_with("2026-02-01T10:15:42")),
        Some(true),
        "{ts}"
    );
    // A start later in the same minute still includes it (compared to the minute).
    let same_minute = c
        .get_hour_entries_changed_since(dt("2026-02-01T10:15:59Z"))
        .await
        .unwrap()
        .value;
    let guids: Vec<_> = same_minute.iter().filter_map(|e| e.guid.clone()).collect();
    assert_eq!(guids, vec![guid.clone()], "seeded entries are older");
    // The next minute excludes it.
    let next = c
        .get_hour_entries_changed_since(dt("2026-02-01T10:16:00Z"))
        .await
        .unwrap()
        .value;
    assert!(next.is_empty(), "{next:?}");
    // An offset is converted to UTC: 12:15 at +02:00 is 10:15Z.
    let offset = c
        .get_hour_entries_changed_since(dt("2026-02-01T12:15:30+02:00"))
        .await
        .unwrap()
        .value;
    assert_eq!(offset.len(), 1);
    // Everything since the seed.
    let all = c
        .get_hour_entries_changed_since(dt(fixture::SEEDED_AT))
        .await
        .unwrap()
        .value;
    assert_eq!(all.len(), 5);
    let logged = h.last_request().await;
    assert_eq!(
        logged["params"]["startDate"],
        fixture::SEEDED_AT,
        "{logged}"
    );
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// IUser

#[tokio::test]
async fn user_lookups() {
    let h = Harness::start().await;
    let c = &h.client;
    let alice = c
        .get_user_by_guid(fixture::USER_ALICE_GUID)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(alice.email.as_deref(), Some(fixture::USER_ALICE_EMAIL));
    assert_eq!(alice.code.as_deref(), Some(fixture::USER_ALICE_CODE));
    let by_code = c
        .get_user_by_code(fixture::USER_ALICE_CODE)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(by_code.guid.as_deref(), Some(fixture::USER_ALICE_GUID));
    let by_name = c
        .get_user_by_name("Bob", "Berg")
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(by_name.guid.as_deref(), Some(fixture::USER_BOB_GUID));
    let logged = h.last_request().await;
    assert_eq!(logged["params"]["firstName"], "Bob");
    assert_eq!(logged["params"]["lastName"], "Berg");
    assert_eq!(
        c.get_user_by_guid("sim-user-nobody").await.unwrap().value,
        None
    );
    assert_eq!(c.get_user_by_name("No", "Body").await.unwrap().value, None);

    let active = c.get_all_users(None, false).await.unwrap().value;
    let guids: Vec<_> = active.iter().filter_map(|u| u.guid.as_deref()).collect();
    assert!(guids.contains(&fixture::USER_ALICE_GUID));
    assert!(
        !guids.contains(&fixture::USER_DAVE_GUID),
        "inactive excluded"
    );
    let all = c
        .get_all_users(Some(fixture::BUSINESS_UNIT_GUID), true)
        .await
        .unwrap()
        .value;
    assert!(
        all.iter()
            .any(|u| u.guid.as_deref() == Some(fixture::USER_DAVE_GUID))
    );
    assert_eq!(all.len(), active.len() + 1);

    let changed = c
        .get_users_changed_since(None, dt(fixture::SEEDED_AT), 0)
        .await
        .unwrap()
        .value;
    assert_eq!(changed.len(), active.len());
    let changed = c
        .get_users_changed_since(None, dt(fixture::SEEDED_AT), 2)
        .await
        .unwrap()
        .value;
    assert_eq!(
        changed.len(),
        all.len(),
        "options 2 includes inactive users"
    );
    let later = c
        .get_users_changed_since(None, dt("2026-01-05T08:01:00Z"), 0)
        .await
        .unwrap()
        .value;
    assert!(later.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn add_user_disable_user_and_duplicate_email() {
    let h = Harness::start().await;
    let c = &h.client;
    let new = User {
        business_unit_guid: Some(fixture::BUSINESS_UNIT_GUID.into()),
        first_name: Some("Eve".into()),
        last_name: Some("Ek".into()),
        email: Some("eve.ek@demo-oy.example".into()),
        ..Default::default()
    };
    let added = c.add_new_user(&new).await.unwrap().value;
    let guid = added.guid.clone().unwrap();
    assert_eq!(added.is_active, Some(true));
    assert_eq!(
        h.entity("User", &guid).await["Email"],
        "eve.ek@demo-oy.example"
    );
    let logged = h.last_request().await;
    assert!(
        logged["params"].get("sendWelcomeEmail").is_none(),
        "{logged}"
    );

    let dup = User {
        email: Some(fixture::USER_ALICE_EMAIL.to_uppercase()),
        first_name: Some("Other".into()),
        ..new.clone()
    };
    let e = c.add_new_user(&dup).await.unwrap_err();
    let (kind, text) = fault_of(&e);
    assert_eq!(kind, FaultKind::Validation, "{text}");
    assert!(text.to_lowercase().contains("mail"), "{text}");

    assert!(c.disable_user(&guid).await.unwrap().value);
    assert_eq!(h.entity("User", &guid).await["IsActive"], "false");
    let e = c.disable_user("sim-user-nobody").await.unwrap_err();
    assert_eq!(fault_of(&e).0, FaultKind::NotFound);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// ICase / IPhase / IWorkType

#[tokio::test]
async fn add_case_creates_a_root_phase() {
    let h = Harness::start().await;
    let c = &h.client;
    let case = Case {
        account_guid: Some(fixture::ACCOUNT_KALLIO_GUID.into()),
        case_owner_user_guid: Some(fixture::USER_ALICE_GUID.into()),
        currency_guid: Some(fixture::CURRENCY_EUR_GUID.into()),
        name: Some("Bakery webshop".into()),
        ..Default::default()
    };
    let added = c.add_new_case(&case).await.unwrap().value;
    let guid = added.guid.clone().unwrap();
    let root = added.root_task_guid.clone().expect("RootTaskGUID");
    assert_eq!(h.entity("Case", &guid).await["Name"], "Bakery webshop");
    let phases = c.get_phases_by_case_guid(&guid).await.unwrap().value;
    assert_eq!(phases.len(), 1);
    assert_eq!(phases[0].guid.as_deref(), Some(root.as_str()));
    assert_eq!(phases[0].parent_phase_guid, None);
    assert_eq!(phases[0].name.as_deref(), Some("Bakery webshop"));
    let logged = h.last_request().await;
    assert_eq!(logged["params"]["caseGUID"], guid, "{logged}");
    let by_guid = c.get_case_by_guid(&guid).await.unwrap().value.unwrap();
    assert_eq!(
        by_guid.account_guid.as_deref(),
        Some(fixture::ACCOUNT_KALLIO_GUID)
    );

    // A sub-phase under the root with explicit members.
    let phase = Phase {
        case_guid: Some(guid.clone()),
        parent_phase_guid: Some(root.clone()),
        name: Some("Build".into()),
        ..Default::default()
    };
    let sub = c
        .add_new_phase(&phase, Some(vec![fixture::USER_ALICE_GUID.to_string()]))
        .await
        .unwrap()
        .value;
    let sub_guid = sub.guid.clone().unwrap();
    assert_eq!(sub.parent_phase_guid.as_deref(), Some(root.as_str()));
    assert_eq!(
        h.state().await["phase_members"][&sub_guid],
        json!([fixture::USER_ALICE_GUID])
    );
    let fetched = c.get_phase_by_guid(&sub_guid).await.unwrap().value.unwrap();
    assert_eq!(fetched.name.as_deref(), Some("Build"));
    assert_eq!(
        c.get_phases_by_case_guid(&guid).await.unwrap().value.len(),
        2
    );

    // Mandatory members missing.
    let e = c
        .add_new_case(&Case {
            name: Some("x".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fault_of(&e).0, FaultKind::Validation);
    let e = c
        .add_new_phase(
            &Phase {
                case_guid: Some(guid.clone()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(fault_of(&e).0, FaultKind::Validation);
    h.stop().await;
}

#[tokio::test]
async fn case_queries_and_update() {
    let h = Harness::start().await;
    let c = &h.client;
    let mut case = c
        .get_case_by_guid(fixture::CASE_WEBSHOP_GUID)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(case.case_number, Some(fixture::CASE_WEBSHOP_NUMBER));
    case.description = Some("Renewed description".into());
    let updated = c.update_case(&case).await.unwrap().value;
    assert_eq!(updated.description.as_deref(), Some("Renewed description"));
    assert_eq!(
        h.entity("Case", fixture::CASE_WEBSHOP_GUID).await["Description"],
        "Renewed description"
    );

    let open = c.get_all_cases(None).await.unwrap().value;
    let guids: Vec<_> = open.iter().filter_map(|x| x.guid.as_deref()).collect();
    assert!(
        guids.contains(&fixture::CASE_WEBSHOP_GUID) && guids.contains(&fixture::CASE_ERP_GUID),
        "{guids:?}"
    );

    let changed = c
        .get_cases_changed_since(None, dt("2026-01-05T08:00:30Z"), 2)
        .await
        .unwrap()
        .value;
    assert!(
        changed
            .iter()
            .any(|x| x.guid.as_deref() == Some(fixture::CASE_WEBSHOP_GUID))
    );
    assert!(
        changed
            .iter()
            .any(|x| x.guid.as_deref() == Some(fixture::CASE_SUPPORT_GUID)),
        "bit 2 includes closed"
    );
    assert_eq!(
        c.get_case_by_guid("sim-case-nope").await.unwrap().value,
        None
    );
    h.stop().await;
}

#[tokio::test]
async fn work_types() {
    let h = Harness::start().await;
    let c = &h.client;
    let all = c.get_all_work_types().await.unwrap().value;
    assert_eq!(all.len(), 4);
    let design = c
        .get_work_types_by_phase_guid(fixture::PHASE_WEBSHOP_DESIGN_GUID)
        .await
        .unwrap()
        .value;
    let mut guids: Vec<_> = design.iter().filter_map(|w| w.guid.clone()).collect();
    guids.sort();
    assert_eq!(
        guids,
        [fixture::WORKTYPE_DESIGN_GUID, fixture::WORKTYPE_PM_GUID]
    );
    let logged = h.last_request().await;
    assert_eq!(
        logged["params"]["phaseGUID"],
        fixture::PHASE_WEBSHOP_DESIGN_GUID
    );
    let dev = c
        .get_work_type_by_guid(fixture::WORKTYPE_DEV_GUID)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(dev.name.as_deref(), Some("Development"));
    assert_eq!(
        c.get_work_type_by_guid("sim-wt-none").await.unwrap().value,
        None
    );
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// IAccount / ICustomer / IContact

#[tokio::test]
async fn add_new_account_upserts_by_number_then_name() {
    let h = Harness::start().await;
    let c = &h.client;
    let account = Account {
        name: Some("Sauna Systems Oy".into()),
        number: Some(4242),
        notes: Some("first".into()),
        ..Default::default()
    };
    let company = Company {
        name: Some("Sauna Systems Oy".into()),
        ..Default::default()
    };
    let first = c
        .add_new_account(&account, &company, None, None)
        .await
        .unwrap()
        .value;
    let guid = first.guid.clone().unwrap();
    // Same Number, new name → the same account, updated.
    let again = Account {
        name: Some("Sauna Systems Oyj".into()),
        notes: Some("second".into()),
        ..account.clone()
    };
    let second = c
        .add_new_account(&again, &company, None, None)
        .await
        .unwrap()
        .value;
    assert_eq!(second.guid.as_deref(), Some(guid.as_str()));
    // No number, same name → the same account again.
    let by_name = Account {
        name: Some("Sauna Systems Oyj".into()),
        notes: Some("third".into()),
        ..Default::default()
    };
    let third = c
        .add_new_account(&by_name, &company, None, None)
        .await
        .unwrap()
        .value;
    assert_eq!(third.guid.as_deref(), Some(guid.as_str()));
    let state = h.state().await;
    let saunas: Vec<_> = state["entities"]["Account"]
        .as_object()
        .unwrap()
        .values()
        .filter(|a| a["Name"].as_str().is_some_and(|n| n.starts_with("Sauna")))
        .collect();
    assert_eq!(saunas.len(), 1, "{saunas:?}");
    assert_eq!(saunas[0]["Notes"], "third");
    assert_eq!(saunas[0]["Number"], "4242");
    let logged = h.last_request().await;
    for p in ["accountInfo", "companyInfo"] {
        assert!(logged["params"].get(p).is_some(), "{p}: {logged}");
    }

    let by_number = c.get_account_by_number(4242).await.unwrap().value.unwrap();
    assert_eq!(by_number.guid.as_deref(), Some(guid.as_str()));
    let fetched = c.get_account_by_guid(&guid).await.unwrap().value.unwrap();
    assert_eq!(fetched.name.as_deref(), Some("Sauna Systems Oyj"));
    assert_eq!(c.get_account_by_number(999_999).await.unwrap().value, None);

    // Mandatory Company.Name.
    let e = c
        .add_new_account(&account, &Company::default(), None, None)
        .await
        .unwrap_err();
    assert_eq!(fault_of(&e).0, FaultKind::Validation);
    h.stop().await;
}

#[tokio::test]
async fn account_with_address_and_contact_update_and_changed_since() {
    let h = Harness::start().await;
    let c = &h.client;
    h.post("clock", json!({"now": "2026-03-01T12:00:10Z"}))
        .await;
    let account = Account {
        name: Some("Fjord Fish AS".into()),
        number: Some(5050),
        account_group_guids: Some(vec![]),
        ..Default::default()
    };
    let company = Company {
        name: Some("Fjord Fish AS".into()),
        ..Default::default()
    };
    let address = Address {
        addressline: Some("Bryggen 1".into()),
        city: Some("Bergen".into()),
        is_billing_address: Some(true),
        ..Default::default()
    };
    let contact = Contact {
        first_name: Some("Ola".into()),
        last_name: Some("Nordmann".into()),
        ..Default::default()
    };
    let added = c
        .add_new_account(&account, &company, Some(&address), Some(&contact))
        .await
        .unwrap()
        .value;
    let guid = added.guid.clone().unwrap();
    let logged = h.last_request().await;
    for p in ["accountInfo", "companyInfo", "addressInfo", "contactInfo"] {
        assert!(logged["params"].get(p).is_some(), "{p}: {logged}");
    }
    let contacts = c.get_contacts_by_account_guid(&guid).await.unwrap().value;
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].first_name.as_deref(), Some("Ola"));

    let mut fetched = c.get_account_by_guid(&guid).await.unwrap().value.unwrap();
    let company = c
        .get_company_by_guid(fetched.company_guid.as_deref().unwrap())
        .await
        .unwrap()
        .value
        .unwrap();
    fetched.notes = Some("VIP".into());
    let updated = c.update_account(&fetched, &company).await.unwrap().value;
    assert_eq!(updated.notes.as_deref(), Some("VIP"));
    assert_eq!(h.entity("Account", &guid).await["Notes"], "VIP");

    let changed = c
        .get_accounts_changed_since(dt("2026-03-01T12:00:59Z"), 0)
        .await
        .unwrap()
        .value;
    let guids: Vec<_> = changed.iter().filter_map(|a| a.guid.clone()).collect();
    assert_eq!(guids, vec![guid.clone()]);
    h.stop().await;
}

#[tokio::test]
async fn add_new_customer_upserts() {
    let h = Harness::start().await;
    let c = &h.client;
    let customer = Customer {
        name: Some("Arctic Apps Oy".into()),
        number: Some(7070),
        email: Some("hello@arctic.example".into()),
        ..Default::default()
    };
    let first = c.add_new_customer(&customer).await.unwrap().value;
    let guid = first.guid.clone().unwrap();
    assert_eq!(first.name.as_deref(), Some("Arctic Apps Oy"));
    let second = c
        .add_new_customer(&Customer {
            website: Some("arctic.example".into()),
            ..customer
        })
        .await
        .unwrap()
        .value;
    assert_eq!(second.guid.as_deref(), Some(guid.as_str()));
    let logged = h.last_request().await;
    assert_eq!(logged["operation"], "AddNewCustomer");
    assert!(logged["params"].get("customer").is_some(), "{logged}");
    let e = c.add_new_customer(&Customer::default()).await.unwrap_err();
    assert_eq!(fault_of(&e).0, FaultKind::Validation);
    h.stop().await;
}

#[tokio::test]
async fn contacts_duplicates_and_reactivation() {
    let h = Harness::start().await;
    let c = &h.client;
    // Active namesake on the same account → fault.
    let maria = Contact {
        account_guid: Some(fixture::ACCOUNT_NORDIC_GUID.into()),
        first_name: Some("Maria".into()),
        last_name: Some("Mäkinen".into()),
        ..Default::default()
    };
    let e = c.add_new_contact(&maria).await.unwrap_err();
    let (kind, text) = fault_of(&e);
    assert!(
        matches!(kind, FaultKind::Validation | FaultKind::GeneralFailure),
        "{kind}: {text}"
    );
    // Inactive namesake → updated and reactivated, same GUID.
    let jussi = Contact {
        account_guid: Some(fixture::ACCOUNT_NORDIC_GUID.into()),
        first_name: Some("Jussi".into()),
        last_name: Some("Jokinen".into()),
        job_title: Some("CTO".into()),
        communication_methods: Some(vec![CommunicationMethod {
            r#type: Some("EmailAddress".into()),
            value: Some("jussi@nordic-retail.example".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let back = c.add_new_contact(&jussi).await.unwrap().value;
    assert_eq!(back.guid.as_deref(), Some(fixture::CONTACT_JUSSI_GUID));
    assert_eq!(back.is_active, Some(true));
    let stored = h.entity("Contact", fixture::CONTACT_JUSSI_GUID).await;
    assert_eq!(stored["IsActive"], "true");
    assert_eq!(stored["JobTitle"], "CTO");
    let fetched = c
        .get_contact_by_guid(fixture::CONTACT_JUSSI_GUID)
        .await
        .unwrap()
        .value
        .unwrap();
    let methods = fetched.communication_methods.unwrap_or_default();
    assert_eq!(methods.len(), 1, "nested list round trip");
    assert_eq!(
        methods[0].value.as_deref(),
        Some("jussi@nordic-retail.example")
    );

    // A new contact, then UpdateContact.
    let new = c
        .add_new_contact(&Contact {
            account_guid: Some(fixture::ACCOUNT_BLUEWAVE_GUID.into()),
            first_name: Some("Sara".into()),
            last_name: Some("Svensson".into()),
            keywords: Some(vec!["buyer".into()]),
            ..Default::default()
        })
        .await
        .unwrap()
        .value;
    let mut sara = new.clone();
    sara.job_title = Some("Buyer".into());
    let updated = c.update_contact(&sara).await.unwrap().value;
    assert_eq!(updated.job_title.as_deref(), Some("Buyer"));
    let guid = new.guid.unwrap();
    assert_eq!(h.entity("Contact", &guid).await["JobTitle"], "Buyer");
    assert_eq!(
        h.entity("Contact", &guid).await["Keywords"],
        json!(["buyer"])
    );

    let on_bluewave = c
        .get_contacts_by_account_guid(fixture::ACCOUNT_BLUEWAVE_GUID)
        .await
        .unwrap()
        .value;
    assert_eq!(on_bluewave.len(), 2);
    let changed = c
        .get_contacts_changed_since(
            Some(fixture::ACCOUNT_BLUEWAVE_GUID),
            dt(fixture::SEEDED_AT),
            0,
        )
        .await
        .unwrap()
        .value;
    assert_eq!(changed.len(), 2);
    let logged = h.last_request().await;
    assert_eq!(
        logged["params"]["accountGUID"],
        fixture::ACCOUNT_BLUEWAVE_GUID
    );
    let everywhere = c
        .get_contacts_changed_since(None, dt(fixture::SEEDED_AT), 0)
        .await
        .unwrap()
        .value;
    assert!(everywhere.len() >= 4, "{}", everywhere.len());
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// IInvoice / IInvoiceStatus

#[tokio::test]
async fn invoices_and_statuses() {
    let h = Harness::start().await;
    let c = &h.client;
    let statuses = c.get_all_invoice_statuses().await.unwrap().value;
    let names: Vec<_> = statuses.iter().filter_map(|s| s.name.as_deref()).collect();
    for n in ["Draft", "Sent", "Transferred", "Paid"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let inv = c
        .get_invoice_by_guid(fixture::INVOICE_1001_GUID)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(inv.number, Some(fixture::INVOICE_1001_NUMBER));
    assert_eq!(inv.invoice_status.as_deref(), Some("Sent"));
    assert_eq!(
        inv.invoice_rows.as_ref().map(Vec::len),
        Some(2),
        "nested InvoiceRows"
    );
    // Number 1001 exists in two business units: ambiguous without one (§3.3).
    match c
        .get_invoice_by_number(fixture::INVOICE_1001_NUMBER, None)
        .await
    {
        Ok(r) => assert_eq!(r.value, None),
        Err(e) => assert_eq!(fault_of(&e).0, FaultKind::NotFound),
    }
    let se = c
        .get_invoice_by_number(
            fixture::INVOICE_1001_NUMBER,
            Some(fixture::BUSINESS_UNIT_SE_GUID),
        )
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(se.guid.as_deref(), Some(fixture::INVOICE_SE_1001_GUID));
    let unique = c
        .get_invoice_by_number(fixture::INVOICE_1002_NUMBER, None)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(unique.guid.as_deref(), Some(fixture::INVOICE_1002_GUID));

    let by_date = c
        .get_invoices_by_date(None, dt("2026-01-01"), dt("2026-12-31"), 0)
        .await
        .unwrap()
        .value;
    let guids: Vec<_> = by_date.iter().filter_map(|i| i.guid.as_deref()).collect();
    assert!(
        guids.contains(&fixture::INVOICE_1001_GUID) && guids.contains(&fixture::INVOICE_1002_GUID),
        "{guids:?}"
    );
    assert!(
        !guids.contains(&fixture::INVOICE_SE_1001_GUID),
        "dated 2025: {guids:?}"
    );

    // SetInvoiceStatus: good GUID and status → stored.
    c.set_invoice_status(fixture::INVOICE_1002_GUID, "Sent")
        .await
        .unwrap();
    assert_eq!(
        h.entity("Invoice", fixture::INVOICE_1002_GUID).await["InvoiceStatus"],
        "Sent"
    );
    let logged = h.last_request().await;
    assert_eq!(logged["params"]["invoiceGUID"], fixture::INVOICE_1002_GUID);
    assert_eq!(logged["params"]["status"], "Sent");
    // Bogus GUID → GeneralFailure (§3.3), not retryable.
    let e = c
        .set_invoice_status("not-a-guid", "Paid")
        .await
        .unwrap_err();
    assert_eq!(fault_of(&e).0, FaultKind::GeneralFailure);
    assert!(!e.is_retryable());
    // Unknown status → NotFound.
    let e = c
        .set_invoice_status(fixture::INVOICE_1002_GUID, "Lost")
        .await
        .unwrap_err();
    assert_eq!(fault_of(&e).0, FaultKind::NotFound);
    assert_eq!(
        h.entity("Invoice", fixture::INVOICE_1002_GUID).await["InvoiceStatus"],
        "Sent"
    );

    c.set_invoice_payment_date(fixture::INVOICE_1001_GUID, dt("2026-02-15"))
        .await
        .unwrap();
    let paid = c
        .get_invoice_by_guid(fixture::INVOICE_1001_GUID)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        paid.payment_date
            .map(|d| d.naive_date().to_string())
            .as_deref(),
        Some("2026-02-15")
    );
    let logged = h.requests().await;
    let set_date = logged
        .iter()
        .rev()
        .find(|r| r["operation"] == "SetInvoicePaymentDate")
        .unwrap();
    assert_eq!(set_date["params"]["paymentDate"], "2026-02-15");
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Authentication, keys, quota, maintenance, injected transport faults

#[tokio::test]
async fn bad_key_is_authentication_failure() {
    let h = Harness::start().await;
    let bad = h.client.with_key(ApiKey::new("wrong-key-123"));
    let e = bad.get_version().await.unwrap_err();
    let (kind, _) = fault_of(&e);
    assert_eq!(kind, FaultKind::AuthenticationFailure);
    assert!(!e.is_retryable());
    assert!(!format!("{e} {e:?}").contains("wrong-key-123"));
    let logged = h.last_request().await;
    assert_eq!(
        logged["fault"], "AuthenticationFailureException",
        "{logged}"
    );
    assert!(logged["user_guid"].is_null());
    h.stop().await;
}

#[tokio::test]
async fn regenerated_key_replaces_the_old_one() {
    let h = Harness::start().await;
    h.client.get_version().await.unwrap();
    let new_key = h.post("keys/regenerate", json!({})).await["api_key"]
        .as_str()
        .expect("api_key")
        .to_string();
    assert_ne!(new_key, DEFAULT_API_KEY);
    let e = h.client.get_version().await.unwrap_err();
    assert_eq!(fault_of(&e).0, FaultKind::AuthenticationFailure);
    let fresh = h.client.with_key(ApiKey::new(new_key.clone()));
    assert_eq!(fresh.get_version().await.unwrap().value, fixture::VERSION);
    assert!(!format!("{fresh:?}").contains(&new_key));
    h.stop().await;
}

#[tokio::test]
async fn second_users_key_runs_as_that_user() {
    let h = Harness::start().await;
    let alice = client_for(&h.sim, fixture::USER_ALICE_API_KEY);
    alice.get_version().await.unwrap();
    assert_eq!(
        h.last_request().await["user_guid"],
        fixture::USER_ALICE_GUID
    );
    h.stop().await;
}

#[tokio::test]
async fn quota_exhaustion_is_retryable_and_reported() {
    let h = Harness::start_with(SimConfig {
        daily_quota: 5,
        ..Default::default()
    })
    .await;
    let r = h.client.get_version().await.unwrap();
    assert_eq!((r.quota.limit, r.quota.used), (Some(5), Some(1)));
    h.post("quota", json!({"limit": 10, "used": 10})).await;
    let e = h.client.get_all_work_types().await.unwrap_err();
    let (kind, _) = fault_of(&e);
    assert_eq!(kind, FaultKind::QuotaLimitExceeded);
    assert!(e.is_retryable());
    assert_eq!((e.quota().limit, e.quota().used), (Some(10), Some(10)));
    assert_eq!(h.client.last_quota(), e.quota());
    // More headroom → calls work again and the counter moves.
    h.post("quota", json!({"limit": 20})).await;
    let r = h.client.get_all_work_types().await.unwrap();
    assert_eq!((r.quota.limit, r.quota.used), (Some(20), Some(11)));
    h.stop().await;
}

#[tokio::test]
async fn maintenance_is_a_transport_error() {
    let h = Harness::start().await;
    h.post("maintenance", json!({"enabled": true})).await;
    let e = h.client.get_version().await.unwrap_err();
    let (kind, status) = transport_of(&e);
    assert_eq!(kind, TransportKind::Maintenance);
    assert_eq!(status, Some(503));
    assert!(e.is_retryable());
    h.post("maintenance", json!({"enabled": false})).await;
    h.client.get_version().await.unwrap();
    h.stop().await;
}

#[tokio::test]
async fn injected_transport_failures() {
    let h = Harness::start().await;
    let inject = |kind: &str| json!({"operation": "GetAllWorkTypes", "kind": kind, "times": 1});
    let cases: [(&str, TransportKind, Option<u16>); 5] = [
        ("http503", TransportKind::HttpStatus, Some(503)),
        ("http502", TransportKind::HttpStatus, Some(502)),
        ("http429", TransportKind::RateLimited, Some(429)),
        ("maintenance", TransportKind::Maintenance, Some(503)),
        ("truncate", TransportKind::Truncated, Some(200)),
    ];
    for (name, expected, status) in cases {
        h.post("faults", inject(name)).await;
        let e = h.client.get_all_work_types().await.unwrap_err();
        let (kind, got_status) = transport_of(&e);
        assert_eq!(kind, expected, "{name}: {e}");
        assert_eq!(got_status, status, "{name}");
        assert!(e.is_retryable(), "{name}");
        // `times: 1` → the next call works.
        assert_eq!(
            h.client.get_all_work_types().await.unwrap().value.len(),
            4,
            "{name}"
        );
    }
    h.post("faults", inject("garbage")).await;
    let e = h.client.get_all_work_types().await.unwrap_err();
    assert_eq!(transport_of(&e).0, TransportKind::Malformed, "{e}");
    h.stop().await;
}

/// An answer larger than the client reads whole (16 KiB) is parsed as it streams in; cut off,
/// it is `Truncated` like a small one, and read whole it decodes every entry.
#[tokio::test]
async fn a_large_answer_streams_and_a_cut_one_is_truncated() {
    let h = Harness::start().await;
    let c = &h.client;
    let long_text = "x".repeat(1500);
    for _ in 0..20 {
        let mut entry = hour_entry(
            fixture::PHASE_WEBSHOP_DEV_GUID,
            fixture::USER_BOB_GUID,
            "1.5",
        );
        entry.description = Some(long_text.clone());
        c.add_new_hour_entry(&entry).await.unwrap();
    }
    let day = dt("2026-01-20");
    let read = || c.get_hour_entries_by_date_and_user_guid(None, day, day, fixture::USER_BOB_GUID);
    h.post(
        "faults",
        json!({"operation": "GetHourEntriesByDateAndUserGUID", "kind": "truncate", "times": 1}),
    )
    .await;
    let e = read().await.unwrap_err();
    assert_eq!(
        transport_of(&e),
        (TransportKind::Truncated, Some(200)),
        "{e}"
    );
    let entries = read().await.unwrap().value;
    let long: Vec<_> = entries
        .iter()
        .filter(|e| e.description.as_deref() == Some(long_text.as_str()))
        .collect();
    assert_eq!(long.len(), 20);
    let logged = h.last_request().await;
    assert_eq!(logged["operation"], "GetHourEntriesByDateAndUserGUID");
    h.stop().await;
}

#[tokio::test]
async fn injected_hang_times_out() {
    let h = Harness::start().await;
    h.post(
        "faults",
        json!({"operation": "GetVersion", "kind": "hang", "times": 1}),
    )
    .await;
    let quick = SeveraClient::new(
        SeveraConfig {
            endpoint: h.sim.endpoint(),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            ..Default::default()
        },
        ApiKey::new(DEFAULT_API_KEY),
    )
    .unwrap();
    let e = quick.get_version().await.unwrap_err();
    assert_eq!(transport_of(&e).0, TransportKind::Timeout);
    assert!(e.is_retryable());
    h.stop().await;
}

#[tokio::test]
async fn injected_soap_faults_of_every_kind() {
    let h = Harness::start().await;
    for kind in FaultKind::ALL {
        h.post(
            "faults",
            json!({"operation": "GetAllInvoiceStatuses", "kind": "fault", "fault_type": kind.detail_name(), "message": "injected", "times": 1}),
        )
        .await;
        let e = h.client.get_all_invoice_statuses().await.unwrap_err();
        let (got, text) = fault_of(&e);
        assert_eq!(got, kind);
        assert_eq!(text, "injected");
        assert_eq!(
            e.is_retryable(),
            kind == FaultKind::QuotaLimitExceeded,
            "{kind}"
        );
        assert!(
            e.quota().is_known(),
            "{kind}: quota headers on an injected fault"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn raw_call_returns_a_generic_tree() {
    let h = Harness::start().await;
    let r = h
        .client
        .call_raw(
            "IPhase",
            "GetPhasesByCaseGUID",
            vec![
                severa::Param::from_value(
                    "caseGUID",
                    &severa::ParamValue::Text(fixture::CASE_ERP_GUID.into()),
                )
                .unwrap(),
            ],
        )
        .await
        .unwrap();
    let json = r.value.expect("a result").to_json(true);
    let names: Vec<_> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"Implementation".to_string()), "{names:?}");
    h.stop().await;
}

/// The calls typed for reconciliation and reference data, each checked against what the
/// simulator holds and with nothing ignored or defaulted in its request log.
#[tokio::test]
async fn reference_and_reconciliation_reads() {
    let h = Harness::start().await;
    let c = &h.client;
    let in_january = c
        .get_hour_entries_by_date(None, dt("2026-01-12"), dt("2026-01-13"))
        .await
        .unwrap()
        .value;
    let mut guids: Vec<_> = in_january.iter().filter_map(|e| e.guid.clone()).collect();
    guids.sort();
    assert_eq!(
        guids,
        [
            fixture::HOUR_ENTRY_ALICE_1_GUID,
            fixture::HOUR_ENTRY_ALICE_2_GUID,
            fixture::HOUR_ENTRY_BOB_1_GUID
        ]
    );
    let alice = c
        .get_hour_entries_by_date_and_user_guid(
            None,
            dt("2026-01-01"),
            dt("2026-01-31"),
            fixture::USER_ALICE_GUID,
        )
        .await
        .unwrap()
        .value;
    assert_eq!(alice.len(), 2);

    let case = c
        .get_case_by_number(fixture::CASE_ERP_NUMBER)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(case.guid.as_deref(), Some(fixture::CASE_ERP_GUID));
    assert_eq!(case.case_number, Some(fixture::CASE_ERP_NUMBER));

    let phases = c
        .get_phases_changed_since(None, dt("2026-01-01"), 0)
        .await
        .unwrap()
        .value;
    assert!(
        phases
            .iter()
            .any(|p| p.guid.as_deref() == Some(fixture::PHASE_WEBSHOP_DEV_GUID))
    );
    let members = c
        .get_phase_members_by_phase_guid(fixture::PHASE_WEBSHOP_DEV_GUID, true)
        .await
        .unwrap()
        .value;
    assert!(members.contains(&fixture::USER_ALICE_GUID.to_string()));
    assert!(members.contains(&fixture::USER_BOB_GUID.to_string()));
    assert!(!members.contains(&fixture::USER_CAROL_GUID.to_string()));
    let work_types = c
        .get_work_types_changed_since(dt("2026-01-01"), 0)
        .await
        .unwrap()
        .value;
    assert!(
        work_types
            .iter()
            .any(|w| w.guid.as_deref() == Some(fixture::WORKTYPE_DEV_GUID))
    );

    let account = c
        .get_account_by_name(fixture::ACCOUNT_NORDIC_NAME)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(account.guid.as_deref(), Some(fixture::ACCOUNT_NORDIC_GUID));
    assert_eq!(account.number, Some(fixture::ACCOUNT_NORDIC_NUMBER));
    let customer = c
        .get_customer_by_guid(fixture::ACCOUNT_NORDIC_GUID)
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(customer.name.as_deref(), Some(fixture::ACCOUNT_NORDIC_NAME));
    let company = c
        .get_company_by_guid(account.company_guid.as_deref().unwrap())
        .await
        .unwrap()
        .value
        .unwrap();
    let address_guid = company.head_office_address_guid.clone().unwrap();
    let mut address = c
        .get_address_by_guid(&address_guid)
        .await
        .unwrap()
        .value
        .unwrap();
    address.city = Some("Tampere".into());
    c.update_address(&address).await.unwrap();
    assert_eq!(h.entity("Address", &address_guid).await["City"], "Tampere");

    for r in h.requests().await {
        assert_eq!(r["ignored"], json!([]), "{r}");
        assert_eq!(r["defaulted"], json!([]), "{r}");
    }
    h.stop().await;
}

/// The client's bound on its calls in flight, seen from Severa's side (`GET /__admin/load`):
/// twelve calls from twelve tasks at once, each held 150 ms by the simulator, reach it at most
/// three at a time with `max_calls_in_flight: Some(3)` — shared by a `with_key` copy — and all
/// twelve at once without a bound (the control: the simulator would see more).
#[tokio::test]
async fn calls_in_flight_stay_within_the_clients_bound() {
    for (bound, expected_peak) in [(Some(3), 3), (None, 12)] {
        let h = Harness::start().await;
        let client = SeveraClient::new(
            SeveraConfig {
                endpoint: h.sim.endpoint(),
                max_calls_in_flight: bound,
                ..Default::default()
            },
            ApiKey::new(DEFAULT_API_KEY),
        )
        .unwrap();
        let copy = client.with_key(ApiKey::new(DEFAULT_API_KEY));
        h.post(
            "faults",
            json!({"operation": "GetUserByCode", "kind": "latency", "latency_ms": 150}),
        )
        .await;
        let calls: Vec<_> = (0..12)
            .map(|n| {
                let client = if n % 2 == 0 {
                    client.clone()
                } else {
                    copy.clone()
                };
                tokio::spawn(async move { client.get_user_by_code("BB").await })
            })
            .collect();
        for call in calls {
            let user = call.await.unwrap().unwrap();
            assert_eq!(
                user.value.and_then(|u| u.guid).as_deref(),
                Some(fixture::USER_BOB_GUID)
            );
        }
        let load = h.admin(reqwest::Method::GET, "load", None).await;
        assert_eq!(
            load["peak_in_flight"],
            json!(expected_peak),
            "bound {bound:?}: {load}"
        );
        assert_eq!(load["in_flight"], json!(0), "{load}");
        h.stop().await;
    }
}

#[test]
fn a_bound_of_zero_calls_in_flight_is_refused() {
    let err = SeveraClient::new(
        SeveraConfig {
            endpoint: "http://127.0.0.1:9/".into(),
            max_calls_in_flight: Some(0),
            ..Default::default()
        },
        ApiKey::new(DEFAULT_API_KEY),
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_calls_in_flight"), "{err}");
}

/// A gate the test closes while calls wait for their slot.
#[derive(Debug, Default)]
struct TestGate(std::sync::atomic::AtomicBool);

impl severa::CallGate for TestGate {
    fn hold_back(&self) -> Option<String> {
        self.0
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| "the test closed the gate".to_string())
    }
}

/// The client asks its gate after a call has its slot and before it sends anything: with one
/// slot, the first of three calls is in flight (held 150 ms) when the gate closes, and the two
/// waiting behind it fail as `HeldBack` without reaching Severa.
#[tokio::test]
async fn calls_waiting_for_a_slot_ask_the_gate_before_they_are_sent() {
    let h = Harness::start().await;
    let gate = Arc::new(TestGate::default());
    let client = SeveraClient::new(
        SeveraConfig {
            endpoint: h.sim.endpoint(),
            max_calls_in_flight: Some(1),
            call_gate: Some(gate.clone()),
            ..Default::default()
        },
        ApiKey::new(DEFAULT_API_KEY),
    )
    .unwrap();
    h.post(
        "faults",
        json!({"operation": "GetUserByCode", "kind": "latency", "latency_ms": 150}),
    )
    .await;
    let before = h.requests().await.len();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_user_by_code("BB").await })
        })
        .collect();
    // The first call is being served; the other two wait for the one slot.
    for _ in 0..100 {
        let load = h.admin(reqwest::Method::GET, "load", None).await;
        if load["in_flight"] == json!(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gate.0.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answered = 0;
    let mut held_back = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(user) => {
                assert_eq!(
                    user.value.and_then(|u| u.guid).as_deref(),
                    Some(fixture::USER_BOB_GUID)
                );
                answered += 1;
            }
            Err(err @ SeveraError::HeldBack { .. }) => {
                assert!(err.is_retryable());
                assert_eq!(err.type_name(), "HeldBack");
                assert!(
                    err.to_string().contains("the test closed the gate"),
                    "{err}"
                );
                held_back += 1;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((answered, held_back), (1, 2));
    assert_eq!(
        h.requests().await.len() - before,
        1,
        "Severa saw only the first call"
    );
    h.stop().await;
}
