//! Severa's service contract (`shared/severa/contract/s3-contract.json`), read by the
//! simulator's own code. It is the simulator's only source of operation names, SOAPActions,
//! parameter names, types and order, and of entity members, their types, nullability and wire
//! order. The simulator deliberately does not use the client crate's tables for any of this:
//! it judges the client by the contract, so a wrong name in the client fails a test instead of
//! being echoed back.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The contract file, embedded at build time.
pub const CONTRACT_JSON: &str = include_str!("../../../shared/severa/contract/s3-contract.json");

/// The parsed contract (parsed on first use; the file is part of the build, so a failure to
/// read it is a build defect, caught by the unit tests).
static CONTRACT: LazyLock<Contract> = LazyLock::new(|| match Contract::parse(CONTRACT_JSON) {
    Ok(contract) => contract,
    Err(e) => panic!("severa-sim: the embedded s3-contract.json is unreadable: {e}"),
});

/// The contract every part of the simulator reads.
pub fn contract() -> &'static Contract {
    &CONTRACT
}

// ---------------------------------------------------------------------------------------------
// the file as it is stored

#[derive(Debug, Deserialize)]
struct RawContract {
    interfaces: BTreeMap<String, BTreeMap<String, RawOperation>>,
    types: BTreeMap<String, RawType>,
    enums: BTreeMap<String, RawEnum>,
}

#[derive(Debug, Deserialize)]
struct RawOperation {
    soap_action: String,
    params: Vec<RawMember>,
    returns: Option<String>,
    #[serde(default)]
    faults: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawMember {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    nullable: bool,
    #[serde(default)]
    order: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct RawType {
    namespace: String,
    base: Option<String>,
    members: Vec<RawMember>,
}

#[derive(Debug, Deserialize)]
struct RawEnum {
    namespace: String,
    values: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// the resolved contract

/// A wire type, resolved against the contract's types and enums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    String,
    Int,
    Long,
    Decimal,
    Boolean,
    DateTime,
    UnsignedByte,
    /// A data contract (key in [`Contract::data_type`]).
    Data(String),
    /// An enum (key in [`Contract::enum_type`]); on the wire as the value's name.
    Enum(String),
    /// `…[]`: list items are named after the item type (`InvoiceRow`, `string`).
    List(Box<Ty>),
    /// A name the contract does not define (a unit test keeps this from happening).
    Unresolved(String),
}

impl Ty {
    /// `bool`, `int`, `long`, `decimal`, `DateTime`, `byte` and enums: .NET value types, the
    /// only ones that can be non-nullable. Strings, data contracts and arrays are reference
    /// types and always nullable, whatever the extraction's flag says (it marks data contract
    /// types `nullable: false`, while the facts sheet shows e.g. `Phase.FlatRate` null).
    pub fn is_value_type(&self) -> bool {
        matches!(
            self,
            Ty::Int
                | Ty::Long
                | Ty::Decimal
                | Ty::Boolean
                | Ty::DateTime
                | Ty::UnsignedByte
                | Ty::Enum(_)
        )
    }

    /// The XML Schema name, for messages.
    pub fn describe(&self) -> String {
        match self {
            Ty::String => "a string".into(),
            Ty::Int => "an int".into(),
            Ty::Long => "a long".into(),
            Ty::Decimal => "a decimal".into(),
            Ty::Boolean => "a boolean".into(),
            Ty::DateTime => "an xs:dateTime".into(),
            Ty::UnsignedByte => "an unsignedByte".into(),
            Ty::Data(name) => format!("a {name}"),
            Ty::Enum(name) => format!("a {name} value"),
            Ty::List(item) => format!("a list of {}", item.item_name()),
            Ty::Unresolved(name) => format!("a {name}"),
        }
    }

    /// Element name of one list item of this type.
    pub fn item_name(&self) -> &str {
        match self {
            Ty::String => "string",
            Ty::Int => "int",
            Ty::Long => "long",
            Ty::Decimal => "decimal",
            Ty::Boolean => "boolean",
            Ty::DateTime => "dateTime",
            Ty::UnsignedByte => "unsignedByte",
            Ty::Data(name) | Ty::Enum(name) | Ty::Unresolved(name) => name,
            Ty::List(_) => "ArrayOf",
        }
    }
}

/// An operation parameter or a data contract member.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub ty: Ty,
    /// Effective nullability: `false` only for value types declared non-nullable; such a
    /// member or parameter that a request leaves out is read as its default.
    pub nullable: bool,
    /// `[DataMember(Order = n)]`, when the contract gives one.
    pub order: Option<u32>,
}

impl Member {
    fn resolve(raw: &RawMember, raw_contract: &RawContract) -> Member {
        let ty = resolve_type(&raw.ty, raw_contract);
        Member {
            nullable: raw.nullable || !ty.is_value_type(),
            name: raw.name.clone(),
            ty,
            order: raw.order,
        }
    }
}

/// One operation of one service contract.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Service contract (`IHourEntry`).
    pub interface: String,
    pub name: String,
    /// The SOAPAction exactly as the contract gives it (two are truncated there; the service
    /// dispatches on the exact text).
    pub soap_action: String,
    /// Parameters in contract order (WCF reads them in this order).
    pub params: Vec<Member>,
    /// `None` for void operations.
    pub returns: Option<Ty>,
    pub faults: Vec<String>,
}

impl Operation {
    pub fn param(&self, name: &str) -> Option<&Member> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// A data contract with its members in wire order (base type's members first).
#[derive(Debug, Clone)]
pub struct DataType {
    pub name: String,
    pub namespace: String,
    pub base: Option<String>,
    pub members: Vec<Member>,
}

impl DataType {
    /// A member by its exact (case-sensitive) name, with its position in wire order.
    pub fn member(&self, name: &str) -> Option<(usize, &Member)> {
        self.members
            .iter()
            .enumerate()
            .find(|(_, m)| m.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.member(name).is_some()
    }
}

/// An enum: value names with their numbers.
#[derive(Debug, Clone)]
pub struct EnumType {
    pub name: String,
    pub namespace: String,
    pub values: Vec<(String, i64)>,
}

impl EnumType {
    /// The value a non-nullable enum reads as when absent (the one numbered 0, else the first).
    pub fn default_name(&self) -> Option<&str> {
        self.values
            .iter()
            .find(|(_, n)| *n == 0)
            .or_else(|| self.values.first())
            .map(|(name, _)| name.as_str())
    }
}

/// The whole contract.
#[derive(Debug)]
pub struct Contract {
    operations: Vec<Operation>,
    types: BTreeMap<String, DataType>,
    enums: BTreeMap<String, EnumType>,
}

/// Why the contract text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("type {ty}: base type {base} is not in the contract")]
    UnknownBase { ty: String, base: String },
    #[error("type {0}: its base types form a cycle")]
    BaseCycle(String),
    #[error("enum {name}: value {value:?} is not `Name = number`")]
    EnumValue { name: String, value: String },
}

impl Contract {
    pub fn parse(text: &str) -> Result<Contract, ContractError> {
        let raw: RawContract = serde_json::from_str(text)?;
        let mut operations = Vec::new();
        for (interface, ops) in &raw.interfaces {
            for (name, op) in ops {
                operations.push(Operation {
                    interface: interface.clone(),
                    name: name.clone(),
                    soap_action: op.soap_action.clone(),
                    params: op.params.iter().map(|p| Member::resolve(p, &raw)).collect(),
                    returns: op.returns.as_deref().map(|r| resolve_type(r, &raw)),
                    faults: op.faults.clone(),
                });
            }
        }
        let mut types = BTreeMap::new();
        for (name, ty) in &raw.types {
            // Base members first (WCF writes the base type's members before the derived
            // type's own); the file lists only each type's own members.
            let mut chain = vec![ty];
            let mut seen = vec![name.as_str()];
            let mut current = ty;
            while let Some(base) = &current.base {
                if seen.contains(&base.as_str()) {
                    return Err(ContractError::BaseCycle(name.clone()));
                }
                let next = raw
                    .types
                    .get(base)
                    .ok_or_else(|| ContractError::UnknownBase {
                        ty: name.clone(),
                        base: base.clone(),
                    })?;
                seen.push(base);
                chain.push(next);
                current = next;
            }
            let members = chain
                .iter()
                .rev()
                .flat_map(|t| t.members.iter().map(|m| Member::resolve(m, &raw)))
                .collect();
            types.insert(
                name.clone(),
                DataType {
                    name: name.clone(),
                    namespace: ty.namespace.clone(),
                    base: ty.base.clone(),
                    members,
                },
            );
        }
        let mut enums = BTreeMap::new();
        for (name, e) in &raw.enums {
            let mut values = Vec::new();
            for value in &e.values {
                let parsed = value
                    .split_once('=')
                    .and_then(|(n, v)| Some((n.trim().to_string(), v.trim().parse().ok()?)))
                    .ok_or_else(|| ContractError::EnumValue {
                        name: name.clone(),
                        value: value.clone(),
                    })?;
                values.push(parsed);
            }
            enums.insert(
                name.clone(),
                EnumType {
                    name: name.clone(),
                    namespace: e.namespace.clone(),
                    values,
                },
            );
        }
        Ok(Contract {
            operations,
            types,
            enums,
        })
    }

    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation a SOAPAction names (exact text, quotes already removed).
    pub fn by_action(&self, action: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.soap_action == action)
    }

    /// The operation a Body element names (operation names are unique across interfaces).
    pub fn by_name(&self, name: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.name == name)
    }

    pub fn data_type(&self, name: &str) -> Option<&DataType> {
        self.types.get(name)
    }

    pub fn data_types(&self) -> impl Iterator<Item = &DataType> {
        self.types.values()
    }

    pub fn enum_type(&self, name: &str) -> Option<&EnumType> {
        self.enums.get(name)
    }

    pub fn enum_count(&self) -> usize {
        self.enums.len()
    }
}

/// Resolves a type name of the file. Two spellings in it are svcutil's rather than the data
/// contract's: a namespace-qualified enum (`Severa.Entities.CommunicationMethodType`) and a
/// nested class with the dot dropped (`InvoiceOriginDetailsCaseDetails` for
/// `InvoiceOriginDetails.CaseDetails`).
fn resolve_type(name: &str, raw: &RawContract) -> Ty {
    if let Some(item) = name.strip_suffix("[]") {
        return Ty::List(Box::new(resolve_type(item, raw)));
    }
    match name {
        "string" => return Ty::String,
        "int" => return Ty::Int,
        "long" => return Ty::Long,
        "decimal" => return Ty::Decimal,
        "boolean" => return Ty::Boolean,
        "dateTime" => return Ty::DateTime,
        "unsignedByte" => return Ty::UnsignedByte,
        _ => {}
    }
    if raw.types.contains_key(name) {
        return Ty::Data(name.to_string());
    }
    if raw.enums.contains_key(name) {
        return Ty::Enum(name.to_string());
    }
    for prefix in ["Severa.Entities.", "Severa.API."] {
        if let Some(short) = name.strip_prefix(prefix)
            && raw.enums.contains_key(short)
        {
            return Ty::Enum(short.to_string());
        }
    }
    if let Some(key) = raw
        .types
        .keys()
        .find(|k| k.contains('.') && k.replace('.', "") == name)
    {
        return Ty::Data(key.clone());
    }
    Ty::Unresolved(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unresolved(ty: &Ty) -> Option<&str> {
        match ty {
            Ty::Unresolved(name) => Some(name),
            Ty::List(item) => unresolved(item),
            _ => None,
        }
    }

    #[test]
    fn the_contract_loads_with_every_operation_and_type() {
        let c = contract();
        assert_eq!(c.operations().len(), 256);
        assert_eq!(c.data_types().count(), 79);
        assert_eq!(c.enum_count(), 9);
        let mut names: Vec<&str> = c.operations().iter().map(|o| o.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 256, "operation names are unique");
        for op in c.operations() {
            for p in &op.params {
                assert_eq!(unresolved(&p.ty), None, "{}.{}", op.name, p.name);
            }
            if let Some(r) = &op.returns {
                assert_eq!(unresolved(r), None, "{} returns", op.name);
            }
        }
        for ty in c.data_types() {
            for m in &ty.members {
                assert_eq!(unresolved(&m.ty), None, "{}.{}", ty.name, m.name);
            }
        }
    }

    #[test]
    fn names_types_and_order_are_the_contracts() {
        let c = contract();
        let op = c.by_name("GetUserByCode").unwrap();
        assert_eq!(op.interface, "IUser");
        assert_eq!(op.soap_action, "http://soap.severa.com/IUser/GetUserByCode");
        assert_eq!(op.params[0].name, "userCode");
        let op = c
            .by_action("http://soap.severa.com/IInvoice/GetInvoicesByDate")
            .unwrap();
        let end = op.param("endDate").unwrap();
        assert_eq!(end.ty, Ty::DateTime);
        assert!(!end.nullable);
        assert!(op.param("businessUnitGUID").unwrap().nullable);
        let he = c.data_type("HourEntry").unwrap();
        let (_, billable) = he.member("IsBillable").unwrap();
        assert!(!billable.nullable);
        assert!(he.member("isBillable").is_none(), "case-sensitive");
        let invoice = c.data_type("Invoice").unwrap();
        let last: Vec<&str> = invoice.members[invoice.members.len() - 2..]
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(last, ["NotesAfterInvoiceRows", "NotesBeforeInvoiceRows"]);
        // data contract members are reference types, hence nullable
        assert!(
            c.data_type("Phase")
                .unwrap()
                .member("FlatRate")
                .unwrap()
                .1
                .nullable
        );
        // base members come first
        let product = c.data_type("Product").unwrap();
        assert_eq!(product.members[0].name, "Code");
        assert_eq!(product.members.last().unwrap().name, "SalesAccountGUID");
        // svcutil spellings resolve
        let op = c.by_name("GetContactsByCommunicationMethodType").unwrap();
        assert_eq!(op.params[0].ty, Ty::Enum("CommunicationMethodType".into()));
        assert!(!op.params[0].nullable);
        assert_eq!(
            c.enum_type("CommunicationMethodType")
                .unwrap()
                .default_name(),
            Some("Phone")
        );
    }
}
