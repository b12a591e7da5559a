//! Reference resolution against `severa-sim`: every kind of key, exact "not found" messages,
//! and the per-instance cache (checked in the simulator's request log).

use bridge::error::JobError;
use bridge::job::{AccountRef, CaseRef, PhaseRef, UserRef, WorkTypeRef};
use bridge::resolve::Resolver;
use severa::{ApiKey, SeveraClient, SeveraConfig};
use severa_sim::{DEFAULT_API_KEY, RunningSim, SimConfig, fixture};
use std::time::Duration;

async fn start() -> (RunningSim, SeveraClient) {
    let sim = RunningSim::start(SimConfig::default()).await.unwrap();
    let client = SeveraClient::new(
        SeveraConfig {
            timeout: Duration::from_secs(3),
            ..SeveraConfig::with_endpoint(sim.endpoint())
        },
        ApiKey::new(DEFAULT_API_KEY),
    )
    .unwrap();
    (sim, client)
}

async fn request_count(sim: &RunningSim) -> usize {
    let url = format!("{}/requests", sim.admin_url());
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let log: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    log.as_array().map(Vec::len).unwrap_or_default()
}

fn unresolved(err: JobError) -> String {
    match err {
        JobError::Unresolved { .. } => err.to_string(),
        other => panic!("expected Unresolved, got {other:?}"),
    }
}

#[tokio::test]
async fn users_by_code_email_and_guid() {
    let (sim, client) = start().await;
    let r = Resolver::default();
    let code = UserRef::Code(fixture::USER_ALICE_CODE.into());
    assert_eq!(
        r.user(&client, &code).await.unwrap(),
        fixture::USER_ALICE_GUID
    );
    let email = UserRef::Email("  Bob.Berg@DEMO-OY.example ".into());
    assert_eq!(
        r.user(&client, &email).await.unwrap(),
        fixture::USER_BOB_GUID
    );
    // Inactive users are found too (deactivation jobs need them).
    let dave = UserRef::Email("dave.dahl@demo-oy.example".into());
    assert_eq!(
        r.user(&client, &dave).await.unwrap(),
        fixture::USER_DAVE_GUID
    );
    let guid = UserRef::Guid(fixture::USER_CAROL_GUID.into());
    assert_eq!(
        r.user(&client, &guid).await.unwrap(),
        fixture::USER_CAROL_GUID
    );

    let before = request_count(&sim).await;
    for key in [&code, &email, &dave, &guid] {
        r.user(&client, key).await.unwrap();
    }
    assert_eq!(request_count(&sim).await, before, "all from the cache");

    let msg = unresolved(
        r.user(&client, &UserRef::Code("ZZ".into()))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("user with code ZZ"), "{msg}");
    let msg = unresolved(
        r.user(&client, &UserRef::Email("nobody@demo-oy.example".into()))
            .await
            .unwrap_err(),
    );
    assert!(
        msg.contains("user with e-mail nobody@demo-oy.example"),
        "{msg}"
    );
    let msg = unresolved(
        r.user(&client, &UserRef::Guid("sim-user-nobody".into()))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("user sim-user-nobody"), "{msg}");
    sim.shutdown().await;
}

#[tokio::test]
async fn cases_phases_and_work_types() {
    let (sim, client) = start().await;
    let r = Resolver::default();
    let case = r.case(&client, &CaseRef::Number(1)).await.unwrap();
    assert_eq!(case.guid.as_deref(), Some(fixture::CASE_WEBSHOP_GUID));
    let by_guid = r
        .case(&client, &CaseRef::Guid(fixture::CASE_ERP_GUID.into()))
        .await
        .unwrap();
    assert_eq!(by_guid.case_number, Some(fixture::CASE_ERP_NUMBER));

    let root = r.phase(&client, &case, None).await.unwrap();
    assert_eq!(root.guid.as_deref(), Some(fixture::PHASE_WEBSHOP_ROOT_GUID));
    let design = r
        .phase(&client, &case, Some(&PhaseRef::Name("design".into())))
        .await
        .unwrap();
    assert_eq!(
        design.guid.as_deref(),
        Some(fixture::PHASE_WEBSHOP_DESIGN_GUID)
    );
    let dev = r
        .phase(&client, &case, Some(&PhaseRef::Code("3".into())))
        .await
        .unwrap();
    assert_eq!(dev.guid.as_deref(), Some(fixture::PHASE_WEBSHOP_DEV_GUID));
    let same = r
        .phase(
            &client,
            &case,
            Some(&PhaseRef::Guid(fixture::PHASE_WEBSHOP_DEV_GUID.into())),
        )
        .await
        .unwrap();
    assert_eq!(same, dev);

    // Default: the phase's own work type; else by name, code or GUID among the phase's.
    assert_eq!(
        r.work_type(&client, &design, None)
            .await
            .unwrap()
            .as_deref(),
        Some(fixture::WORKTYPE_DESIGN_GUID)
    );
    let pm = r
        .work_type(
            &client,
            &design,
            Some(&WorkTypeRef::Name("Project Management".into())),
        )
        .await
        .unwrap();
    assert_eq!(pm.as_deref(), Some(fixture::WORKTYPE_PM_GUID));
    let travel = r
        .work_type(&client, &dev, Some(&WorkTypeRef::Code("travel".into())))
        .await
        .unwrap();
    assert_eq!(travel.as_deref(), Some(fixture::WORKTYPE_TRAVEL_GUID));
    // Travel is not allowed on the design phase.
    let msg = unresolved(
        r.work_type(
            &client,
            &design,
            Some(&WorkTypeRef::Guid(fixture::WORKTYPE_TRAVEL_GUID.into())),
        )
        .await
        .unwrap_err(),
    );
    assert!(
        msg.contains("work type sim-wt-travel on phase 'Design'"),
        "{msg}"
    );

    let msg = unresolved(
        r.phase(&client, &case, Some(&PhaseRef::Name("Deployment".into())))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("phase named 'Deployment' in case 1"), "{msg}");
    let msg = unresolved(r.case(&client, &CaseRef::Number(99)).await.unwrap_err());
    assert!(msg.contains("case number 99"), "{msg}");

    let before = request_count(&sim).await;
    r.case(&client, &CaseRef::Number(1)).await.unwrap();
    r.phase(&client, &case, Some(&PhaseRef::Name("Design".into())))
        .await
        .unwrap();
    r.work_type(&client, &design, Some(&WorkTypeRef::Code("PM".into())))
        .await
        .unwrap();
    assert_eq!(request_count(&sim).await, before, "all from the cache");
    sim.shutdown().await;
}

#[tokio::test]
async fn accounts_by_guid_number_and_name() {
    let (sim, client) = start().await;
    let r = Resolver::default();
    assert_eq!(
        r.account(&client, &AccountRef::Number(fixture::ACCOUNT_NORDIC_NUMBER))
            .await
            .unwrap(),
        fixture::ACCOUNT_NORDIC_GUID
    );
    assert_eq!(
        r.account(&client, &AccountRef::Name("nordic retail oy".into()))
            .await
            .unwrap(),
        fixture::ACCOUNT_NORDIC_GUID
    );
    assert_eq!(
        r.account(
            &client,
            &AccountRef::Guid(fixture::ACCOUNT_KALLIO_GUID.into())
        )
        .await
        .unwrap(),
        fixture::ACCOUNT_KALLIO_GUID
    );
    let msg = unresolved(
        r.account(&client, &AccountRef::Number(4040))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("account number 4040"), "{msg}");
    let msg = unresolved(
        r.account(&client, &AccountRef::Name("Nobody Oy".into()))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("account named 'Nobody Oy'"), "{msg}");
    sim.shutdown().await;
}

#[tokio::test]
async fn severa_errors_pass_through() {
    let (sim, client) = start().await;
    let url = format!("{}/faults", sim.admin_url());
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(r#"{"operation":"GetUserByCode","kind":"http503"}"#)
        .send()
        .await
        .unwrap();
    let err = Resolver::default()
        .user(&client, &UserRef::Code("AA".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::Severa(_)), "{err:?}");
    assert!(err.is_retryable());
    sim.shutdown().await;
}
