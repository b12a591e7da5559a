//! `bridgectl sync ack-schema` against a moto table: paused syncs are released, and a table
//! with nothing paused says so.

use bridge::aws::DynamoTable;
use bridge::ports::{SchemaState, SyncStore};
use bridgectl::args::parse_from;
use test_support::{sdk, unique};

#[tokio::test]
async fn ack_schema_releases_paused_syncs() {
    let config = sdk().await;
    let table = DynamoTable::from_config(&config, unique("cli-sync"));
    table.create_table().await.expect("table");

    let out = bridgectl::sync::ack_schema(&table).await.unwrap();
    assert!(out.contains("not_paused"), "{out}");

    table
        .put_schema_state(&SchemaState {
            version: "8".into(),
            previous: Some("7".into()),
            paused: true,
            changed_at: None,
        })
        .await
        .unwrap();
    let out: serde_json::Value =
        serde_json::from_str(&bridgectl::sync::ack_schema(&table).await.unwrap()).unwrap();
    assert_eq!(out["result"], "acknowledged");
    assert_eq!(out["schema_version"], "8");
    assert_eq!(out["previous_version"], "7");
    let state = table.schema_state().await.unwrap().unwrap();
    assert!(!state.paused);
    assert_eq!(state.version, "8");
}

#[test]
fn the_command_parses() {
    let inv = parse_from(["bridgectl", "sync", "ack-schema", "--table", "bridge"]).unwrap();
    assert!(matches!(inv.cli.command, bridgectl::args::Command::Sync(_)));
}
