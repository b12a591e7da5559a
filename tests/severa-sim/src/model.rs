//! Generic records (members keyed by their Severa name), the entity kinds the simulator stores,
//! and reading members the way WCF's DataContractSerializer does, by the types, nullability
//! and order in Severa's contract ([`crate::contract`]).

use crate::contract::{DataType, Member, Ty, contract};
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};
use severa::WireDateTime;
use severa::wire::Value;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One member value.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// Text as written on the wire (dates, numbers and booleans already normalised).
    Text(String),
    /// A list of scalars (`string[]`: Arrays namespace `<string>` items).
    Strings(Vec<String>),
    /// A list of nested entities (`InvoiceRows`, `CommunicationMethods`).
    Items(Vec<Fields>),
    /// One nested entity (`Invoice.InvoiceDetails`).
    Entity(Fields),
    /// Only in parsed requests: the member was sent with `i:nil="true"` (clears on update).
    Nil,
}

pub type Fields = BTreeMap<String, Field>;

impl Field {
    pub fn to_json(&self) -> Json {
        match self {
            Field::Text(t) => Json::String(t.clone()),
            Field::Strings(items) => Json::Array(items.iter().cloned().map(Json::String).collect()),
            Field::Items(items) => Json::Array(items.iter().map(fields_to_json).collect()),
            Field::Entity(fields) => fields_to_json(fields),
            Field::Nil => Json::Null,
        }
    }
}

pub fn fields_to_json(fields: &Fields) -> Json {
    let mut map = Map::new();
    for (k, v) in fields {
        map.insert(k.clone(), v.to_json());
    }
    Json::Object(map)
}

/// A stored entity with its bookkeeping timestamps (sim clock, UTC).
#[derive(Debug, Clone)]
pub struct Record {
    pub fields: Fields,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

impl Record {
    pub fn get(&self, member: &str) -> Option<&str> {
        text(&self.fields, member)
    }

    pub fn flag(&self, member: &str) -> bool {
        self.get(member) == Some("true")
    }

    pub fn guid(&self) -> &str {
        self.get("GUID").unwrap_or("")
    }
}

pub fn text<'a>(fields: &'a Fields, member: &str) -> Option<&'a str> {
    match fields.get(member) {
        Some(Field::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

/// Text that is present and not blank.
pub fn non_empty<'a>(fields: &'a Fields, member: &str) -> Option<&'a str> {
    text(fields, member).filter(|t| !t.trim().is_empty())
}

pub fn set(fields: &mut Fields, member: &str, value: impl Into<String>) {
    fields.insert(member.to_string(), Field::Text(value.into()));
}

pub fn set_opt(fields: &mut Fields, member: &str, value: Option<&str>) {
    match value {
        Some(v) => set(fields, member, v),
        None => {
            fields.remove(member);
        }
    }
}

/// UTC timestamp as the simulator writes documented-UTC members (`…Z`).
pub fn utc_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A data contract of the contract (member list, types, wire order).
pub type WireType = &'static DataType;

/// A data contract the simulator names in its own code. Every such name is checked against the
/// contract by the unit tests, so a missing one is a simulator defect, not a request error.
pub fn wire_type(name: &str) -> WireType {
    match contract().data_type(name) {
        Some(ty) => ty,
        None => panic!("severa-sim: data contract {name} is not in s3-contract.json"),
    }
}

/// The entity kinds the simulator stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Account,
    Address,
    BusinessUnit,
    Case,
    Company,
    Contact,
    Currency,
    HourEntry,
    Invoice,
    InvoiceStatus,
    Phase,
    User,
    WorkType,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Account,
        Kind::Address,
        Kind::BusinessUnit,
        Kind::Case,
        Kind::Company,
        Kind::Contact,
        Kind::Currency,
        Kind::HourEntry,
        Kind::Invoice,
        Kind::InvoiceStatus,
        Kind::Phase,
        Kind::User,
        Kind::WorkType,
    ];

    /// The data contract's name (also the list item element name).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Account => "Account",
            Kind::Address => "Address",
            Kind::BusinessUnit => "BusinessUnit",
            Kind::Case => "Case",
            Kind::Company => "Company",
            Kind::Contact => "Contact",
            Kind::Currency => "Currency",
            Kind::HourEntry => "HourEntry",
            Kind::Invoice => "Invoice",
            Kind::InvoiceStatus => "InvoiceStatus",
            Kind::Phase => "Phase",
            Kind::User => "User",
            Kind::WorkType => "WorkType",
        }
    }

    pub fn ty(self) -> WireType {
        wire_type(self.name())
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The member that identifies a record: `GUID`, except for `InvoiceStatus`, which has no
    /// GUID in the contract and is referred to by name everywhere.
    pub fn key_member(self) -> &'static str {
        match self {
            Kind::InvoiceStatus => "Name",
            _ => "GUID",
        }
    }

    /// Prefix of generated GUIDs (`sim-he-000001`).
    pub fn guid_prefix(self) -> &'static str {
        match self {
            Kind::Account => "acc",
            Kind::Address => "adr",
            Kind::BusinessUnit => "bu",
            Kind::Case => "case",
            Kind::Company => "cmp",
            Kind::Contact => "con",
            Kind::Currency => "cur",
            Kind::HourEntry => "he",
            Kind::Invoice => "inv",
            Kind::InvoiceStatus => "is",
            Kind::Phase => "phase",
            Kind::User => "user",
            Kind::WorkType => "wt",
        }
    }
}

/// The merged Account+Company view of `ICustomer`.
pub fn customer_type() -> WireType {
    wire_type("Customer")
}

/// `DateTime.MinValue` as WCF writes it: what an absent non-nullable date reads as.
pub const DEFAULT_DATE: &str = "0001-01-01T00:00:00";

/// What an absent non-nullable value reads as (`None` for reference types: they read as null).
pub fn default_text(ty: &Ty) -> Option<String> {
    match ty {
        Ty::Boolean => Some("false".into()),
        Ty::Int | Ty::Long | Ty::Decimal | Ty::UnsignedByte => Some("0".into()),
        Ty::DateTime => Some(DEFAULT_DATE.into()),
        Ty::Enum(name) => contract()
            .enum_type(name)
            .and_then(|e| e.default_name())
            .map(str::to_string),
        _ => None,
    }
}

/// Wire date-time without a zone, as WCF writes an "unspecified" DateTime.
pub fn date_text(value: &WireDateTime) -> String {
    value.local.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Members the simulator keeps in UTC and writes with `Z` (documented UTC timestamps).
fn is_utc_member(member: &str) -> bool {
    matches!(member, "InsertTS" | "InsertTs" | "UpdatedTS" | "UpdatedTs")
}

/// Normalises one scalar value of type `ty` to the form the service writes back; the error
/// names `path` (a parameter or `param.Member`).
pub fn normalize(path: &str, member: &str, ty: &Ty, raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let bad = || format!("{path} holds {t:?}, which is not {}", ty.describe());
    match ty {
        Ty::String => Ok(raw.to_string()),
        Ty::Boolean => match t {
            "true" | "1" => Ok("true".into()),
            "false" | "0" => Ok("false".into()),
            _ => Err(bad()),
        },
        Ty::Int => t.parse::<i32>().map(|n| n.to_string()).map_err(|_| bad()),
        Ty::Long => t.parse::<i64>().map(|n| n.to_string()).map_err(|_| bad()),
        Ty::UnsignedByte => t.parse::<u8>().map(|n| n.to_string()).map_err(|_| bad()),
        Ty::Decimal => {
            if t.contains(['e', 'E']) {
                return Err(bad());
            }
            Decimal::from_str(t)
                .map(|d| d.to_string())
                .map_err(|_| bad())
        }
        Ty::DateTime => WireDateTime::from_str(t)
            .map(|d| {
                if d.offset.is_some() && is_utc_member(member) {
                    utc_text(d.to_utc())
                } else {
                    date_text(&d)
                }
            })
            .map_err(|_| bad()),
        Ty::Enum(name) => {
            let Some(e) = contract().enum_type(name) else {
                return Err(bad());
            };
            // Flags enums arrive as space-separated names.
            let known = |token: &str| e.values.iter().any(|(n, _)| n == token);
            if !t.is_empty() && t.split_whitespace().all(known) {
                Ok(t.split_whitespace().collect::<Vec<_>>().join(" "))
            } else {
                Err(bad())
            }
        }
        Ty::Data(_) | Ty::List(_) | Ty::Unresolved(_) => Err(bad()),
    }
}

/// An entity parameter as the service deserialised it: the members that arrived (`i:nil` ones
/// as [`Field::Nil`]). Nested entities inside it (list items, nested members) are complete:
/// their absent non-nullable members already hold defaults, listed per top-level member in
/// `nested_defaulted` (paths such as `contactInfo.CommunicationMethods[0].IsForbiddenToUse`).
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub fields: Fields,
    pub nested_defaulted: BTreeMap<String, Vec<String>>,
}

impl Input {
    pub fn given(&self, member: &str) -> bool {
        given(&self.fields, member)
    }
}

/// Reads an entity parameter (`path` is the parameter name) of type `ty`. Like WCF's
/// DataContractSerializer it reads members in the contract's order: an unknown element, and
/// one that comes after a later member or repeats one, is skipped and noted in `ignored` as
/// `path.Name`. A value of the wrong type is an error naming `path.Member`.
pub fn read_entity(
    ty: WireType,
    value: &Value,
    path: &str,
    ignored: &mut Vec<String>,
) -> Result<Input, String> {
    let mut input = Input::default();
    let children = match value {
        Value::Nil => return Ok(input),
        Value::Text(t) if t.trim().is_empty() => return Ok(input),
        Value::Text(t) => {
            return Err(format!(
                "{path} holds the text {:?}, which is not a {} (members expected)",
                t.trim(),
                ty.name
            ));
        }
        Value::Element(children) => children,
    };
    let mut last: Option<usize> = None;
    for (name, v) in children {
        let found = ty
            .member(name)
            .filter(|(index, _)| last.is_none_or(|l| *index > l));
        let Some((index, member)) = found else {
            ignored.push(format!("{path}.{name}"));
            continue;
        };
        last = Some(index);
        let mut nested = Vec::new();
        let field = read_member(member, v, &format!("{path}.{name}"), ignored, &mut nested)?;
        if !nested.is_empty() {
            input.nested_defaulted.insert(name.clone(), nested);
        }
        input.fields.insert(name.clone(), field);
    }
    Ok(input)
}

/// A nested entity (list item or nested member): read like [`read_entity`], then completed
/// with the defaults of its absent non-nullable members (noted in `defaulted`).
fn read_nested(
    ty: WireType,
    value: &Value,
    path: &str,
    ignored: &mut Vec<String>,
    defaulted: &mut Vec<String>,
) -> Result<Fields, String> {
    let input = read_entity(ty, value, path, ignored)?;
    let mut fields = input.fields;
    for nested in input.nested_defaulted.into_values() {
        defaulted.extend(nested);
    }
    for m in &ty.members {
        if !m.nullable
            && !fields.contains_key(&m.name)
            && let Some(d) = default_text(&m.ty)
        {
            fields.insert(m.name.clone(), Field::Text(d));
            defaulted.push(format!("{path}.{}", m.name));
        }
    }
    Ok(fields)
}

/// Reads one value of a declared member or parameter.
pub fn read_member(
    member: &Member,
    value: &Value,
    path: &str,
    ignored: &mut Vec<String>,
    defaulted: &mut Vec<String>,
) -> Result<Field, String> {
    match (value, &member.ty) {
        (Value::Nil, ty) if !member.nullable => Err(format!(
            "{path} is i:nil, but {} is not nullable",
            ty.describe()
        )),
        (Value::Nil, _) => Ok(Field::Nil),
        (v, Ty::List(item)) => read_list(item, v, path, ignored, defaulted),
        (v, Ty::Data(name)) => {
            read_nested(wire_type(name), v, path, ignored, defaulted).map(Field::Entity)
        }
        (Value::Text(t), ty) => normalize(path, &member.name, ty, t).map(Field::Text),
        (Value::Element(_), ty) => Err(format!(
            "{path} holds elements, which is not {}",
            ty.describe()
        )),
    }
}

fn read_list(
    item: &Ty,
    value: &Value,
    path: &str,
    ignored: &mut Vec<String>,
    defaulted: &mut Vec<String>,
) -> Result<Field, String> {
    let entity_items = matches!(item, Ty::Data(_));
    let items = match value {
        Value::Element(items) => items.as_slice(),
        Value::Text(t) if t.trim().is_empty() => &[],
        _ => {
            return Err(format!(
                "{path} holds text, which is not a list of {}",
                item.item_name()
            ));
        }
    };
    let mut texts = Vec::new();
    let mut entities = Vec::new();
    for (name, v) in items {
        if name != item.item_name() {
            ignored.push(format!("{path}.{name}"));
            continue;
        }
        let item_path = format!("{path}[{}]", texts.len() + entities.len());
        match (item, v) {
            // A nil item: the simulator keeps no null list items.
            (Ty::Data(_), Value::Nil) => ignored.push(item_path),
            (Ty::Data(ty), v) => entities.push(read_nested(
                wire_type(ty),
                v,
                &item_path,
                ignored,
                defaulted,
            )?),
            (_, Value::Nil) => texts.push(String::new()),
            (scalar, Value::Text(t)) => texts.push(normalize(&item_path, "", scalar, t)?),
            (scalar, Value::Element(_)) => {
                return Err(format!(
                    "{item_path} holds elements, which is not {}",
                    scalar.describe()
                ));
            }
        }
    }
    Ok(if entity_items {
        Field::Items(entities)
    } else {
        Field::Strings(texts)
    })
}

/// Reads a fixture record (JSON object keyed by member name). Members the contract's type does
/// not have are refused, naming them.
pub fn fields_from_json(ty: WireType, value: &Json) -> Result<Fields, String> {
    let Json::Object(map) = value else {
        return Err(format!("a {} must be a JSON object", ty.name));
    };
    let mut fields = Fields::new();
    for (name, v) in map {
        let Some((_, member)) = ty.member(name) else {
            return Err(format!(
                "{} has no member {name:?} in Severa's contract",
                ty.name
            ));
        };
        let field = match (v, &member.ty) {
            (Json::Null, _) => continue,
            (Json::Array(items), Ty::List(item)) => match item.as_ref() {
                Ty::Data(inner) => {
                    let inner = wire_type(inner);
                    let mut out = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        out.push(
                            fields_from_json(inner, item)
                                .map_err(|e| format!("{name}[{i}]: {e}"))?,
                        );
                    }
                    Field::Items(out)
                }
                scalar => {
                    let mut out = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        out.push(json_scalar(&format!("{name}[{i}]"), "", scalar, item)?);
                    }
                    Field::Strings(out)
                }
            },
            (Json::Object(_), Ty::Data(inner)) => Field::Entity(
                fields_from_json(wire_type(inner), v).map_err(|e| format!("{name}: {e}"))?,
            ),
            (other, ty) if matches!(ty, Ty::List(_) | Ty::Data(_)) => {
                return Err(format!("{name}: {other} is not {}", ty.describe()));
            }
            (other, ty) => Field::Text(json_scalar(name, name, ty, other)?),
        };
        fields.insert(name.clone(), field);
    }
    Ok(fields)
}

fn json_scalar(path: &str, member: &str, ty: &Ty, value: &Json) -> Result<String, String> {
    match value {
        Json::String(s) => normalize(path, member, ty, s),
        Json::Bool(b) => normalize(path, member, ty, &b.to_string()),
        Json::Number(n) => normalize(path, member, ty, &n.to_string()),
        other => Err(format!("{path}: {other} is not {}", ty.describe())),
    }
}

/// Writes a deserialised entity parameter onto a stored record, member by member in the
/// contract, as the service's "whole entity" semantics make it:
/// - a member that arrived replaces the stored one (`i:nil` clears it);
/// - an absent non-nullable member was read as its default (false / 0 / 0001-01-01), so the
///   default replaces the stored value, and `param.Member` goes to `defaulted`;
/// - an absent nullable member is kept (the simulator's choice, see the README).
///
/// Only `writable` members are taken. `service_set` lists non-nullable members the operation
/// sets itself (documented service defaults such as AddNewAccount's IsActive): absent, they are
/// left to the operation and not noted.
pub fn apply(
    stored: &mut Fields,
    input: &Input,
    ty: WireType,
    param: &str,
    writable: impl Fn(&str) -> bool,
    service_set: &[&str],
    defaulted: &mut Vec<String>,
) {
    for m in &ty.members {
        if !writable(&m.name) {
            continue;
        }
        match input.fields.get(&m.name) {
            Some(Field::Nil) => {
                stored.remove(&m.name);
            }
            Some(value) => {
                stored.insert(m.name.clone(), value.clone());
                if let Some(nested) = input.nested_defaulted.get(&m.name) {
                    defaulted.extend(nested.iter().cloned());
                }
            }
            None if !m.nullable && !service_set.contains(&m.name.as_str()) => {
                if let Some(d) = default_text(&m.ty) {
                    stored.insert(m.name.clone(), Field::Text(d));
                    defaulted.push(format!("{param}.{}", m.name));
                }
            }
            None => {}
        }
    }
}

/// A member is "given" when present, not nil, not blank and not the default date
/// (0001-01-01, which is what an absent date reads as).
pub fn given(fields: &Fields, member: &str) -> bool {
    match fields.get(member) {
        None | Some(Field::Nil) => false,
        Some(Field::Text(t)) => !t.trim().is_empty() && t != DEFAULT_DATE,
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour_entry(children: &[(&str, Value)]) -> Value {
        Value::Element(
            children
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        )
    }

    fn text(t: &str) -> Value {
        Value::Text(t.into())
    }

    #[test]
    fn every_stored_kind_is_a_contract_type() {
        for kind in Kind::ALL {
            assert!(
                contract().data_type(kind.name()).is_some(),
                "{}",
                kind.name()
            );
            assert!(kind.ty().has(kind.key_member()), "{}", kind.name());
        }
        for name in ["Customer", "InvoiceRow", "Contact.CommunicationMethod"] {
            assert!(contract().data_type(name).is_some(), "{name}");
        }
        assert!(!Kind::InvoiceStatus.ty().has("GUID"));
    }

    #[test]
    fn normalizes_values_by_contract_type() {
        assert_eq!(
            normalize("p", "EventDate", &Ty::DateTime, "2024-05-02").unwrap(),
            "2024-05-02T00:00:00"
        );
        assert_eq!(normalize("p", "x", &Ty::Boolean, "1").unwrap(), "true");
        assert_eq!(normalize("p", "x", &Ty::Decimal, " 1.50 ").unwrap(), "1.50");
        assert!(normalize("p", "x", &Ty::Decimal, "many").is_err());
        assert!(normalize("p", "x", &Ty::Int, "3000000000").is_err());
        assert_eq!(
            normalize("p", "x", &Ty::Long, "3000000000").unwrap(),
            "3000000000"
        );
        assert_eq!(
            normalize("p", "UpdatedTS", &Ty::DateTime, "2026-01-05T08:00:00+02:00").unwrap(),
            "2026-01-05T06:00:00Z"
        );
        let e = normalize(
            "hourEntryInfo.IsBillable",
            "IsBillable",
            &Ty::Boolean,
            "maybe",
        )
        .unwrap_err();
        assert!(e.contains("hourEntryInfo.IsBillable"), "{e}");
    }

    #[test]
    fn reads_in_contract_order_and_notes_what_it_skips() {
        let ty = Kind::HourEntry.ty();
        let mut ignored = Vec::new();
        let value = hour_entry(&[
            ("Description", text("a")),
            ("InvoiceNumber", text("7")),
            ("Quantity", text("2")),
            ("EventDate", text("2026-01-01")), // before Quantity: skipped
            ("Quantity", text("3")),           // repeated: skipped
            ("isBillable", text("true")),      // wrong case: unknown
        ]);
        let input = read_entity(ty, &value, "hourEntryInfo", &mut ignored).unwrap();
        assert_eq!(
            ignored,
            [
                "hourEntryInfo.InvoiceNumber",
                "hourEntryInfo.EventDate",
                "hourEntryInfo.Quantity",
                "hourEntryInfo.isBillable"
            ]
        );
        assert_eq!(super::text(&input.fields, "Quantity"), Some("2"));
        assert!(!input.fields.contains_key("EventDate"));
        let err = read_entity(
            ty,
            &hour_entry(&[("IsBillable", Value::Nil)]),
            "hourEntryInfo",
            &mut ignored,
        )
        .unwrap_err();
        assert!(err.contains("hourEntryInfo.IsBillable"), "{err}");
    }

    #[test]
    fn apply_replaces_non_nullable_members_and_keeps_absent_nullable_ones() {
        let ty = Kind::HourEntry.ty();
        let mut stored = Fields::new();
        set(&mut stored, "IsBillable", "true");
        set(&mut stored, "Description", "kept");
        set(&mut stored, "InvoiceDescription", "cleared");
        let mut ignored = Vec::new();
        let input = read_entity(
            ty,
            &hour_entry(&[("InvoiceDescription", Value::Nil), ("Quantity", text("1"))]),
            "hourEntryInfo",
            &mut ignored,
        )
        .unwrap();
        let mut defaulted = Vec::new();
        apply(
            &mut stored,
            &input,
            ty,
            "hourEntryInfo",
            |m| m != "IsReadOnly",
            &[],
            &mut defaulted,
        );
        assert_eq!(super::text(&stored, "IsBillable"), Some("false"));
        assert_eq!(super::text(&stored, "Description"), Some("kept"));
        assert!(!stored.contains_key("InvoiceDescription"));
        assert_eq!(super::text(&stored, "EventDate"), Some(DEFAULT_DATE));
        assert!(defaulted.contains(&"hourEntryInfo.IsBillable".to_string()));
        assert!(defaulted.contains(&"hourEntryInfo.EventDate".to_string()));
        assert!(!defaulted.iter().any(|d| d.ends_with("IsReadOnly")));
        assert!(!defaulted.iter().any(|d| d.ends_with("Quantity")));
    }

    #[test]
    fn nested_items_are_completed_with_defaults() {
        let ty = Kind::Contact.ty();
        let mut ignored = Vec::new();
        let value = hour_entry(&[(
            "CommunicationMethods",
            Value::Element(vec![(
                "Contact.CommunicationMethod".into(),
                hour_entry(&[("Type", text("EmailAddress")), ("Bogus", text("x"))]),
            )]),
        )]);
        let input = read_entity(ty, &value, "contactInfo", &mut ignored).unwrap();
        assert_eq!(ignored, ["contactInfo.CommunicationMethods[0].Bogus"]);
        let Some(Field::Items(items)) = input.fields.get("CommunicationMethods") else {
            panic!("{input:?}")
        };
        assert_eq!(super::text(&items[0], "IsForbiddenToUse"), Some("false"));
        assert_eq!(
            input.nested_defaulted["CommunicationMethods"],
            ["contactInfo.CommunicationMethods[0].IsForbiddenToUse"]
        );
    }
}
