//! The client against Severa's service contract, read here independently of `build.rs`: every
//! operation (interface, SOAPAction, parameter names, types, nullability, order, result) and
//! every typed entity (members, Rust types, nullability, wire order). Anything beyond the
//! contract must be on the named list (`contract/beyond-contract.json`) with its source.

use serde_json::Value;
use severa::contract::{self, BEYOND_CONTRACT, Entity};
use severa::entities::*;
use severa::operations;
use std::collections::BTreeMap;

fn contract_json() -> Value {
    let text = include_str!("../contract/s3-contract.json");
    serde_json::from_str(text).expect("the contract is JSON")
}

fn beyond(kind: &str, owner: &str, name: &str) -> bool {
    BEYOND_CONTRACT
        .iter()
        .any(|b| b.kind == kind && b.owner == owner && b.name == name)
}

#[test]
fn every_operation_matches_the_contract() {
    let c = contract_json();
    let mut count = 0;
    for (iface, ops) in c["interfaces"].as_object().unwrap() {
        for (name, spec) in ops.as_object().unwrap() {
            count += 1;
            let op = operations::find(&format!("{iface}.{name}"))
                .unwrap_or_else(|| panic!("{iface}.{name} missing"));
            assert_eq!(op.soap_action, spec["soap_action"], "{name}");
            assert_eq!(op.returns, spec["returns"].as_str(), "{name}");
            let want: Vec<(String, String, bool)> = spec["params"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        p["type"].as_str().unwrap().to_string(),
                        p["nullable"].as_bool().unwrap(),
                    )
                })
                .collect();
            let got: Vec<(String, String, bool)> = op
                .params
                .iter()
                .filter(|p| !beyond("param", &op.qualified_name(), p.name))
                .map(|p| (p.name.to_string(), p.ty.to_string(), p.nullable))
                .collect();
            assert_eq!(got, want, "{iface}.{name}: names, types, order");
        }
    }
    assert_eq!(
        count,
        operations::ALL.len(),
        "no operation outside the contract"
    );
}

/// `field: RustType = "Member"` lines of the generated entities, by type name.
fn generated_fields() -> BTreeMap<String, Vec<(String, String)>> {
    let code = include_str!(concat!(env!("OUT_DIR"), "/entities.rs"));
    let mut out = BTreeMap::new();
    let mut current = None;
    for line in code.lines().map(str::trim) {
        if let Some((_, wire)) = line.split_once(" = \"")
            && line.ends_with("\" {")
            && !line.contains(':')
        {
            let wire = wire.trim_end_matches("\" {").to_string();
            out.insert(wire.clone(), Vec::new());
            current = Some(wire);
        } else if let (Some(ty), Some((lhs, member))) = (&current, line.split_once(" = \"")) {
            if let Some((_, rust)) = lhs.split_once(": ") {
                let member = member.trim_end_matches("\",").to_string();
                out.get_mut(ty)
                    .unwrap()
                    .push((member, rust.trim().to_string()));
            }
        }
    }
    out
}

fn rust_type_of(ty: &str) -> String {
    if let Some(item) = ty.strip_suffix("[]") {
        return format!("Vec<{}>", rust_type_of(item));
    }
    match ty {
        "string" => "String".into(),
        "int" => "i32".into(),
        "long" => "i64".into(),
        "decimal" => "Decimal".into(),
        "boolean" => "bool".into(),
        "dateTime" => "WireDateTime".into(),
        entity => entity.rsplit('.').next().unwrap().to_string(),
    }
}

#[test]
fn every_typed_entity_matches_the_contract() {
    let c = contract_json();
    let generated = generated_fields();
    assert!(generated.len() >= 13, "{:?}", generated.keys());
    for (ty, fields) in &generated {
        let spec = &c["types"][ty];
        let members = spec["members"]
            .as_array()
            .unwrap_or_else(|| panic!("{ty} is not a contract type"));
        let want: Vec<(String, String)> = members
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_string(),
                    rust_type_of(m["type"].as_str().unwrap()),
                )
            })
            .collect();
        let got: Vec<(String, String)> = fields
            .iter()
            .filter(|(m, _)| !beyond("member", ty, m))
            .cloned()
            .collect();
        assert_eq!(got, want, "{ty}: members, types, wire order");
        // Nullability reaches the runtime table the client checks updates with.
        let table = contract::type_spec(ty).unwrap();
        for m in members {
            let name = m["name"].as_str().unwrap();
            assert_eq!(
                table.member(name).map(|t| t.nullable),
                m["nullable"].as_bool(),
                "{ty}.{name}"
            );
        }
    }
}

#[test]
fn the_named_list_beyond_the_contract_is_sourced_and_short() {
    assert!(BEYOND_CONTRACT.len() <= 12, "keep it short");
    for b in BEYOND_CONTRACT {
        assert!(!b.source.trim().is_empty(), "{b:?}");
    }
}

#[test]
fn unset_non_nullable_members_are_named() {
    let entry = HourEntry {
        guid: Some("g".into()),
        quantity: Some(rust_decimal::Decimal::ONE),
        ..Default::default()
    };
    assert_eq!(
        entry.unset_non_nullable(),
        [
            "EventDate",
            "IsBillable",
            "IsReadOnly",
            "UnitCost",
            "UnitPrice",
            "UnitPriceInBaseCurrency"
        ]
    );
    let contact = Contact {
        is_active: Some(true),
        ..Default::default()
    };
    assert!(contact.unset_non_nullable().is_empty());
    assert_eq!(HourEntry::spec().name, "HourEntry");
    // A data-contract member is a reference: absent reads as null, whatever the extraction says.
    let unset = Invoice::default().unset_non_nullable();
    assert!(!unset.contains(&"BuyerOrganization"), "{unset:?}");
    assert!(unset.contains(&"IsCreditNote"), "{unset:?}");
}

#[tokio::test]
async fn an_update_that_would_reset_non_nullable_members_is_refused_before_sending() {
    severa::install_crypto_provider();
    // Nothing listens on port 9: the refusal must come before any connection.
    let client = severa::SeveraClient::new(
        severa::SeveraConfig::with_endpoint("http://127.0.0.1:9/webservice/S3/API.svc"),
        severa::ApiKey::new("k"),
    )
    .unwrap();
    let partial = HourEntry {
        guid: Some("g".into()),
        quantity: Some(rust_decimal::Decimal::ONE),
        ..Default::default()
    };
    let err = client.update_hour_entry(&partial).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, severa::SeveraError::Request { .. }),
        "{err:?}"
    );
    assert!(
        msg.contains("IsBillable") && msg.contains("UnitPrice"),
        "{msg}"
    );
    assert!(!err.is_retryable());
}
