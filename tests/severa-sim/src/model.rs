//! Generic records: members keyed by their Severa name (a `BTreeMap`, so iteration is the
//! ordinal member order WCF uses), the entity kinds the simulator stores and the value type of
//! every member it knows.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};
use severa::WireDateTime;
use severa::entities as e;
use severa::wire::Value;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One member value.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// Text as written on the wire (dates, numbers and booleans already normalised).
    Text(String),
    /// `string[]` (Arrays namespace `<string>` items).
    Strings(Vec<String>),
    /// A list of nested entities (`InvoiceRows`, `CommunicationMethods`).
    Items(Vec<Fields>),
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

/// Members of the simulator-only kinds (no typed binding in the client).
const BUSINESS_UNIT_MEMBERS: &[&str] = &[
    "Code",
    "GUID",
    "IsActive",
    "Name",
    "Number",
    "ParentBusinessUnitGUID",
];
const CURRENCY_MEMBERS: &[&str] = &["GUID", "IsActive", "IsoCode", "Name"];

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

    pub fn name(self) -> &'static str {
        match self {
            Kind::Account => e::Account::TYPE_NAME,
            Kind::Address => e::Address::TYPE_NAME,
            Kind::BusinessUnit => "BusinessUnit",
            Kind::Case => e::Case::TYPE_NAME,
            Kind::Company => e::Company::TYPE_NAME,
            Kind::Contact => e::Contact::TYPE_NAME,
            Kind::Currency => "Currency",
            Kind::HourEntry => e::HourEntry::TYPE_NAME,
            Kind::Invoice => e::Invoice::TYPE_NAME,
            Kind::InvoiceStatus => e::InvoiceStatus::TYPE_NAME,
            Kind::Phase => e::Phase::TYPE_NAME,
            Kind::User => e::User::TYPE_NAME,
            Kind::WorkType => e::WorkType::TYPE_NAME,
        }
    }

    pub fn members(self) -> &'static [&'static str] {
        match self {
            Kind::Account => e::Account::MEMBERS,
            Kind::Address => e::Address::MEMBERS,
            Kind::BusinessUnit => BUSINESS_UNIT_MEMBERS,
            Kind::Case => e::Case::MEMBERS,
            Kind::Company => e::Company::MEMBERS,
            Kind::Contact => e::Contact::MEMBERS,
            Kind::Currency => CURRENCY_MEMBERS,
            Kind::HourEntry => e::HourEntry::MEMBERS,
            Kind::Invoice => e::Invoice::MEMBERS,
            Kind::InvoiceStatus => e::InvoiceStatus::MEMBERS,
            Kind::Phase => e::Phase::MEMBERS,
            Kind::User => e::User::MEMBERS,
            Kind::WorkType => e::WorkType::MEMBERS,
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
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

/// A wire type: name of the items and member list (also for nested and view types).
#[derive(Debug, Clone, Copy)]
pub struct WireType {
    pub name: &'static str,
    pub members: &'static [&'static str],
}

impl From<Kind> for WireType {
    fn from(kind: Kind) -> Self {
        WireType {
            name: kind.name(),
            members: kind.members(),
        }
    }
}

pub const CUSTOMER: WireType = WireType {
    name: e::Customer::TYPE_NAME,
    members: e::Customer::MEMBERS,
};
const COMMUNICATION_METHOD: WireType = WireType {
    name: e::CommunicationMethod::TYPE_NAME,
    members: e::CommunicationMethod::MEMBERS,
};
const INVOICE_ROW: WireType = WireType {
    name: e::InvoiceRow::TYPE_NAME,
    members: e::InvoiceRow::MEMBERS,
};

/// The value type of a member (by name; names mean the same in every entity).
#[derive(Debug, Clone, Copy)]
pub enum MemberType {
    Text,
    Bool,
    Int,
    Decimal,
    Date,
    Strings,
    Items(WireType),
}

pub fn member_type(member: &str) -> MemberType {
    const DATES: &[&str] = &[
        "ClosedDate",
        "CurrentCaseStatusInsertTs",
        "Date",
        "DateOfBirth",
        "Deadline",
        "DeadlineDate",
        "DueDate",
        "EndTime",
        "EntryDate",
        "EventDate",
        "InsertTS",
        "InsertTs",
        "LatestEstimationDate",
        "OriginalDeadline",
        "OriginalPlannedStartDate",
        "PaymentDate",
        "PlannedStartDate",
        "SalesCloseDate",
        "StartDate",
        "StartTime",
        "UpdatedTS",
    ];
    const BOOLS: &[&str] = &[
        "HasInvoiceNumber",
        "IncludeOverTime",
        "ReverseCharge",
        "SendDailyMail",
        "SendWeeklyMail",
        "UseInvoiceQuantity",
    ];
    const INTS: &[&str] = &[
        "AccountNumber",
        "AccountRating",
        "BusinessUnitNumber",
        "CaseNumber",
        "CostCenterNumber",
        "Employees",
        "InvoiceNumber",
        "LeadRating",
        "MainCaseNumber",
        "Number",
        "PaymentTerm",
        "Priority",
        "Probability",
        "SatisfactionLevel",
        "SortOrder",
        "rowNumber",
    ];
    const DECIMALS: &[&str] = &[
        "AnnualRevenue",
        "AnnualRevenue2",
        "CompletionEstimate",
        "CurrencyRate",
        "ExpectedValue",
        "InvoiceQuantity",
        "InvoicingVat",
        "OriginalWorkEstimate",
        "OverdueInterest",
        "PricePerHour",
        "Quantity",
        "TotalExcludingTax",
        "TotalIncludingTax",
        "WorkEstimate",
        "deliveredQuantity",
        "rowAmount",
        "rowCostAmount",
        "rowVatAmount",
        "rowVatRatePercent",
        "unitPriceAmount",
    ];
    const STRINGS: &[&str] = &[
        "AccountGroupGUIDs",
        "CaseGUIDs",
        "HourGUIDs",
        "InvoiceAllowedCaseGUIDs",
        "ItemGUIDs",
        "Keywords",
        "PhaseGUIDs",
        "ProductGUIDs",
    ];
    let is_flag =
        member.len() > 2 && member.starts_with("Is") && member.as_bytes()[2].is_ascii_uppercase();
    if DATES.contains(&member) {
        MemberType::Date
    } else if is_flag || BOOLS.contains(&member) {
        MemberType::Bool
    } else if INTS.contains(&member) {
        MemberType::Int
    } else if DECIMALS.contains(&member)
        || member.starts_with("UnitCost")
        || member.starts_with("UnitPrice")
    {
        MemberType::Decimal
    } else if STRINGS.contains(&member) {
        MemberType::Strings
    } else if member == "CommunicationMethods" {
        MemberType::Items(COMMUNICATION_METHOD)
    } else if member == "InvoiceRows" {
        MemberType::Items(INVOICE_ROW)
    } else {
        MemberType::Text
    }
}

/// Wire date-time without a zone, as WCF writes an "unspecified" DateTime.
pub fn date_text(value: &WireDateTime) -> String {
    value.local.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Normalises one scalar member text to the form the service writes back.
pub fn normalize(member: &str, raw: &str) -> Result<String, String> {
    let t = raw.trim();
    match member_type(member) {
        MemberType::Text | MemberType::Strings | MemberType::Items(_) => Ok(raw.to_string()),
        MemberType::Bool => match t {
            "true" | "1" => Ok("true".into()),
            "false" | "0" => Ok("false".into()),
            _ => Err(format!("member {member}: {t:?} is not a boolean")),
        },
        MemberType::Int => t
            .parse::<i32>()
            .map(|n| n.to_string())
            .map_err(|_| format!("member {member}: {t:?} is not an int")),
        MemberType::Decimal => Decimal::from_str(t)
            .map(|d| d.to_string())
            .map_err(|_| format!("member {member}: {t:?} is not a decimal")),
        MemberType::Date => WireDateTime::from_str(t)
            .map(|d| {
                if d.offset.is_some() && matches!(member, "InsertTS" | "InsertTs" | "UpdatedTS") {
                    utc_text(d.to_utc())
                } else {
                    date_text(&d)
                }
            })
            .map_err(|_| format!("member {member}: {t:?} is not an xs:dateTime")),
    }
}

/// Reads an entity parameter (already a generic tree) into fields. Unknown members are
/// dropped (as WCF does); `i:nil` members become [`Field::Nil`].
pub fn fields_from_wire(ty: WireType, value: &Value) -> Result<Fields, String> {
    let mut fields = Fields::new();
    let children = match value {
        Value::Nil => return Ok(fields),
        Value::Text(_) => return Ok(fields),
        Value::Element(children) => children,
    };
    for (name, v) in children {
        let Some(member) = ty.members.iter().find(|m| **m == name.as_str()) else {
            continue;
        };
        let field = match (v, member_type(member)) {
            (Value::Nil, _) => Field::Nil,
            (Value::Text(t), MemberType::Strings) if t.trim().is_empty() => {
                Field::Strings(Vec::new())
            }
            (Value::Element(items), MemberType::Strings) => Field::Strings(
                items
                    .iter()
                    .filter_map(|(_, item)| match item {
                        Value::Text(t) => Some(t.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            (Value::Text(t), MemberType::Items(_)) if t.trim().is_empty() => {
                Field::Items(Vec::new())
            }
            (Value::Element(items), MemberType::Items(inner)) => {
                let mut out = Vec::new();
                for (_, item) in items {
                    out.push(fields_from_wire(inner, item)?);
                }
                Field::Items(out)
            }
            (Value::Text(t), _) => Field::Text(normalize(member, t)?),
            (Value::Element(_), _) => {
                return Err(format!("member {member} holds elements, expected text"));
            }
        };
        fields.insert(member.to_string(), field);
    }
    Ok(fields)
}

/// Reads a fixture record (JSON object keyed by member name).
pub fn fields_from_json(ty: WireType, value: &Json) -> Result<Fields, String> {
    let Json::Object(map) = value else {
        return Err(format!("a {} must be a JSON object", ty.name));
    };
    let mut fields = Fields::new();
    for (name, v) in map {
        let Some(member) = ty.members.iter().find(|m| **m == name.as_str()) else {
            return Err(format!("{} has no member {name:?}", ty.name));
        };
        let field = match (v, member_type(member)) {
            (Json::Null, _) => continue,
            (Json::Array(items), MemberType::Strings) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Json::String(s) => out.push(s.clone()),
                        other => return Err(format!("{name}: {other} is not a string")),
                    }
                }
                Field::Strings(out)
            }
            (Json::Array(items), MemberType::Items(inner)) => {
                let mut out = Vec::new();
                for item in items {
                    out.push(fields_from_json(inner, item).map_err(|e| format!("{name}: {e}"))?);
                }
                Field::Items(out)
            }
            (Json::String(s), _) => Field::Text(normalize(member, s)?),
            (Json::Bool(b), _) => Field::Text(normalize(member, &b.to_string())?),
            (Json::Number(n), _) => Field::Text(normalize(member, &n.to_string())?),
            (other, _) => return Err(format!("{name}: unexpected value {other}")),
        };
        fields.insert(member.to_string(), field);
    }
    Ok(fields)
}

/// Applies a parsed request onto stored fields: present members overwrite, `i:nil` clears,
/// absent members are kept. Only `writable` members are taken.
pub fn merge(stored: &mut Fields, input: &Fields, writable: impl Fn(&str) -> bool) {
    for (name, value) in input {
        if !writable(name) {
            continue;
        }
        match value {
            Field::Nil => {
                stored.remove(name);
            }
            other => {
                stored.insert(name.clone(), other.clone());
            }
        }
    }
}

/// A member is "given" when present and not nil.
pub fn given(fields: &Fields, member: &str) -> bool {
    match fields.get(member) {
        None | Some(Field::Nil) => false,
        Some(Field::Text(t)) => !t.trim().is_empty(),
        Some(_) => true,
    }
}

/// Sorted view of a member list (ordinal, byte-wise): the order WCF writes.
pub fn ordinal(members: &[&'static str]) -> Vec<&'static str> {
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_types() {
        assert!(matches!(member_type("IsActive"), MemberType::Bool));
        assert!(matches!(member_type("Issuer"), MemberType::Text));
        assert!(matches!(member_type("Quantity"), MemberType::Decimal));
        assert!(matches!(
            member_type("UnitCostInInvoicingCurrency"),
            MemberType::Decimal
        ));
        assert!(matches!(member_type("EventDate"), MemberType::Date));
        assert!(matches!(member_type("InvoiceRows"), MemberType::Items(_)));
    }

    #[test]
    fn normalizes_values() {
        assert_eq!(
            normalize("EventDate", "2024-05-02").unwrap(),
            "2024-05-02T00:00:00"
        );
        assert_eq!(normalize("IsActive", "1").unwrap(), "true");
        assert_eq!(normalize("Quantity", " 1.50 ").unwrap(), "1.50");
        assert!(normalize("Quantity", "many").is_err());
        assert_eq!(
            normalize("UpdatedTS", "2026-01-05T08:00:00+02:00").unwrap(),
            "2026-01-05T06:00:00Z"
        );
    }

    #[test]
    fn every_entity_member_list_is_ordinal() {
        for kind in Kind::ALL {
            assert_eq!(ordinal(kind.members()), kind.members(), "{}", kind.name());
        }
    }
}
