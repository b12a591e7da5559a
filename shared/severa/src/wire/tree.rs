//! A generic result tree for operations without typed bindings (`bridgectl severa call`).

use serde_json::{Map, Value as Json};

/// An element's content as Severa sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `i:nil="true"`.
    Nil,
    /// Text content (an empty element is empty text).
    Text(String),
    /// Child elements by local name, in document order.
    Element(Vec<(String, Value)>),
}

/// Element names that are list items rather than members: entity type names (Severa names list
/// items after the entity), nested types (`Contact.CommunicationMethod`) and array items
/// (`string`, `int`, `guid`).
pub fn is_list_item_name(name: &str) -> bool {
    name.contains('.') || KNOWN_TYPE_NAMES.binary_search(&name).is_ok()
}

/// Data contracts and primitive array item names (sorted, for binary search).
const KNOWN_TYPE_NAMES: &[&str] = &[
    "AccessRights",
    "AccessRightsProfile",
    "Account",
    "AccountGroup",
    "AccountTiny",
    "Activity",
    "ActivityParticipant",
    "ActivityType",
    "Address",
    "BillingAndExpenseForecast",
    "BusinessUnit",
    "Case",
    "CaseStatus",
    "Company",
    "Contact",
    "CostAccount",
    "CostCenter",
    "Country",
    "Currency",
    "Customer",
    "Employment",
    "ExtranetCase",
    "ExtranetContact",
    "File",
    "Finvoice",
    "FlatRate",
    "HourEntry",
    "Industry",
    "Invoice",
    "InvoiceFile",
    "InvoiceRow",
    "InvoiceStatus",
    "Item",
    "Language",
    "LeadSource",
    "OverTime",
    "Phase",
    "PhaseTreeNode",
    "Pricelist",
    "Product",
    "ProductCategory",
    "Resource",
    "ResourceAllocation",
    "SalesProcess",
    "SalesStatus",
    "SeveraFinvoice",
    "Tag",
    "TimeEntry",
    "Timezone",
    "TravelExpense",
    "TravelReimbursement",
    "TravelReimbursementRow",
    "TravelReimbursementStatus",
    "User",
    "WorkDayActivity",
    "WorkDayInfo",
    "WorkType",
    "boolean",
    "decimal",
    "guid",
    "int",
    "long",
    "string",
];

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// First member with this local name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Element(children) => children.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// JSON as `bridgectl` prints it: members → keys as Severa names them, nil → null,
    /// repeated items → arrays. `as_list` forces the top level to be read as a list (an empty
    /// list result arrives as an empty element).
    pub fn to_json(&self, as_list: bool) -> Json {
        match self {
            Value::Nil => {
                if as_list {
                    Json::Array(Vec::new())
                } else {
                    Json::Null
                }
            }
            Value::Text(t) => {
                if as_list && t.trim().is_empty() {
                    Json::Array(Vec::new())
                } else {
                    Json::String(t.clone())
                }
            }
            Value::Element(children) => {
                let same_name = children.windows(2).all(|w| w[0].0 == w[1].0);
                let looks_like_list = same_name
                    && (children.len() > 1
                        || as_list
                        || children.first().is_some_and(|(n, _)| is_list_item_name(n)));
                if looks_like_list {
                    Json::Array(children.iter().map(|(_, v)| v.to_json(false)).collect())
                } else {
                    let mut map = Map::new();
                    for (name, value) in children {
                        let json = value.to_json(false);
                        match map.get_mut(name) {
                            Some(Json::Array(items)) => items.push(json),
                            Some(existing) => {
                                let first = existing.take();
                                *existing = Json::Array(vec![first, json]);
                            }
                            None => {
                                map.insert(name.clone(), json);
                            }
                        }
                    }
                    Json::Object(map)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_type_names_are_sorted() {
        assert!(KNOWN_TYPE_NAMES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn json_shapes() {
        let entity = Value::Element(vec![
            ("GUID".into(), Value::Text("g1".into())),
            ("InvoiceGUID".into(), Value::Nil),
            (
                "AccountGroupGUIDs".into(),
                Value::Element(vec![("string".into(), Value::Text("x".into()))]),
            ),
        ]);
        assert_eq!(
            entity.to_json(false),
            serde_json::json!({"GUID": "g1", "InvoiceGUID": null, "AccountGroupGUIDs": ["x"]})
        );
        let list = Value::Element(vec![("HourEntry".into(), entity.clone())]);
        assert!(list.to_json(false).is_array());
        assert_eq!(
            Value::Text(String::new()).to_json(true),
            serde_json::json!([])
        );
        assert_eq!(Value::Nil.to_json(true), serde_json::json!([]));
        assert_eq!(
            Value::Element(Vec::new()).to_json(false),
            serde_json::json!({})
        );
        assert_eq!(
            Value::Element(Vec::new()).to_json(true),
            serde_json::json!([])
        );
    }
}
