//! Generates the client's Severa names from Severa's service contract (`contract/`), so each
//! wire name exists in one place: the contract file.
//!
//! - `operations.rs`: one `Operation` constant per contract operation (all 256), `ALL`.
//! - `types.rs`: every data contract's member table (`TYPES`) and the enums (`ENUMS`).
//! - `entities.rs`: typed structs (via `severa_entity!`) for the entity types the project uses
//!   ([`ENTITY_ROOTS`]) and every type they contain, members in wire order.
//!
//! Anything the client uses beyond the contract must be in `contract/beyond-contract.json`
//! with its source; the build refuses an entry without one.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

/// The entity types the project works with, and why each is typed (shown as its doc comment).
const ENTITY_ROOTS: &[(&str, &str)] = &[
    (
        "HourEntry",
        "Hours a user worked on a phase. Quantity is hours, at most 999.",
    ),
    (
        "Account",
        "A customer account (with its Company). AddNewAccount upserts by Number, then Name.",
    ),
    ("Company", "The company behind an account."),
    (
        "Address",
        "A postal, visiting or billing address of a company.",
    ),
    (
        "Customer",
        "Account and Company in one entity (ICustomer, 2016). Upserts like AddNewAccount.",
    ),
    (
        "Contact",
        "A person at a customer account. Mandatory on insert: AccountGUID, FirstName, LastName.",
    ),
    (
        "Case",
        "A case (project). AddNewCase creates its root phase automatically.",
    ),
    (
        "Phase",
        "A phase (task) of a case; every phase but the root has a parent.",
    ),
    ("WorkType", "A kind of work hours are recorded as."),
    ("User", "A Severa user. E-mail (the login) is unique."),
    (
        "Invoice",
        "An invoice with its rows; statuses are referred to by name.",
    ),
    ("InvoiceStatus", "An invoice status, referred to by Name."),
    ("BusinessUnit", "A business unit of the organisation."),
];

fn main() {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let contract_path = dir.join("contract/s3-contract.json");
    let beyond_path = dir.join("contract/beyond-contract.json");
    println!("cargo::rerun-if-changed={}", contract_path.display());
    println!("cargo::rerun-if-changed={}", beyond_path.display());
    println!("cargo::rerun-if-changed=build.rs");

    let mut contract: Value = read_json(&contract_path);
    let beyond: Value = read_json(&beyond_path);
    let beyond_items = apply_beyond_contract(&mut contract, &beyond);

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    write(&out.join("operations.rs"), &operations(&contract));
    write(&out.join("types.rs"), &types(&contract, &beyond_items));
    write(&out.join("entities.rs"), &entities(&contract));
}

fn read_json(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn write(path: &PathBuf, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn obj<'a>(v: &'a Value, what: &str) -> &'a serde_json::Map<String, Value> {
    v.as_object()
        .unwrap_or_else(|| panic!("{what} is not an object"))
}

fn arr<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not an array"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string {key:?} in {v}"))
}

fn nullable(v: &Value) -> bool {
    v.get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| panic!("missing nullable in {v}"))
}

/// One entry of `beyond-contract.json`, as the generated table lists it.
struct BeyondItem {
    kind: &'static str,
    owner: String,
    name: String,
    source: String,
}

/// Merges the named list into the contract (members in ordinal position, parameters last).
fn apply_beyond_contract(contract: &mut Value, beyond: &Value) -> Vec<BeyondItem> {
    let mut items = Vec::new();
    let empty = Vec::new();
    for m in beyond
        .get("members")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let (ty, name, source) = (s(m, "entity"), s(m, "name"), s(m, "source"));
        assert!(
            !source.trim().is_empty(),
            "beyond-contract member {ty}.{name} needs a source"
        );
        let members = contract["types"][ty]["members"]
            .as_array_mut()
            .unwrap_or_else(|| panic!("beyond-contract: no type {ty} in the contract"));
        assert!(
            members.iter().all(|x| x["name"] != name),
            "beyond-contract: {ty}.{name} is in the contract already"
        );
        let at = members
            .iter()
            .position(|x| x.get("order").is_some() || x["name"].as_str() > Some(name))
            .unwrap_or(members.len());
        members.insert(
            at,
            serde_json::json!({"name": name, "type": s(m, "type"), "nullable": nullable(m)}),
        );
        items.push(BeyondItem {
            kind: "member",
            owner: ty.to_string(),
            name: name.to_string(),
            source: source.to_string(),
        });
    }
    for p in beyond
        .get("params")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let (iface, op, name, source) = (
            s(p, "interface"),
            s(p, "operation"),
            s(p, "name"),
            s(p, "source"),
        );
        assert!(
            !source.trim().is_empty(),
            "beyond-contract parameter {op}.{name} needs a source"
        );
        let params = contract["interfaces"][iface][op]["params"]
            .as_array_mut()
            .unwrap_or_else(|| {
                panic!("beyond-contract: no operation {iface}.{op} in the contract")
            });
        params
            .push(serde_json::json!({"name": name, "type": s(p, "type"), "nullable": nullable(p)}));
        items.push(BeyondItem {
            kind: "param",
            owner: format!("{iface}.{op}"),
            name: name.to_string(),
            source: source.to_string(),
        });
    }
    items
}

/// Words split at case changes, keeping acronyms (`GUID`, `TS`) and their plural (`GUIDs`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            None => false,
            Some(p) if c.is_ascii_uppercase() && (p.is_ascii_lowercase() || p.is_ascii_digit()) => {
                true
            }
            Some(p) if c.is_ascii_uppercase() && p.is_ascii_uppercase() => {
                // `GUIDs`: an acronym's plural stays with it; `GUIDName`: the last capital starts a word.
                let plural_s =
                    next == Some('s') && chars.get(i + 2).is_none_or(|n| !n.is_ascii_lowercase());
                next.is_some_and(|n| n.is_ascii_lowercase()) && !plural_s
            }
            Some(p) if c.is_ascii_digit() && !p.is_ascii_digit() => false,
            _ => false,
        };
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn snake(name: &str) -> String {
    let s = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    match s.as_str() {
        "type" | "ref" | "match" | "self" | "struct" | "enum" | "use" | "mod" | "fn" | "impl" => {
            format!("r#{s}")
        }
        _ => s,
    }
}

fn screaming(name: &str) -> String {
    words(name)
        .iter()
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join("_")
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn operations(contract: &Value) -> String {
    let mut code = String::new();
    let mut consts = Vec::new();
    let mut seen = BTreeSet::new();
    for (iface, ops) in obj(&contract["interfaces"], "interfaces") {
        for (name, op) in obj(ops, iface) {
            let konst = screaming(name);
            assert!(
                seen.insert(konst.clone()),
                "two operations are named {konst}"
            );
            let mut params = String::new();
            for p in arr(&op["params"], name) {
                let _ = write!(
                    params,
                    "ParamSpec {{ name: {}, ty: {}, nullable: {} }}, ",
                    lit(s(p, "name")),
                    lit(s(p, "type")),
                    nullable(p)
                );
            }
            let returns = match op["returns"].as_str() {
                Some(r) => format!("Some({})", lit(r)),
                None => "None".into(),
            };
            let faults: Vec<String> = op["faults"]
                .as_array()
                .map(|f| f.iter().filter_map(Value::as_str).map(lit).collect())
                .unwrap_or_default();
            let _ = writeln!(
                code,
                "/// `{iface}.{name}`\npub const {konst}: Operation = Operation {{ interface: {}, name: {}, soap_action: {}, params: &[{params}], returns: {returns}, faults: &[{}] }};",
                lit(iface),
                lit(name),
                lit(s(op, "soap_action")),
                faults.join(", ")
            );
            consts.push(konst);
        }
    }
    let _ = writeln!(
        code,
        "/// Every operation of Severa's service contract, by interface, then name.\npub const ALL: &[Operation] = &[{}];",
        consts.join(", ")
    );
    code
}

fn types(contract: &Value, beyond: &[BeyondItem]) -> String {
    let mut code = String::from(
        "/// Every data contract of Severa's service contract.\npub static TYPES: &[TypeSpec] = &[\n",
    );
    for (name, ty) in obj(&contract["types"], "types") {
        let base = match ty["base"].as_str() {
            Some(b) => format!("Some({})", lit(b)),
            None => "None".into(),
        };
        let mut members = String::new();
        for m in arr(&ty["members"], name) {
            let _ = write!(
                members,
                "MemberSpec {{ name: {}, ty: {}, nullable: {} }}, ",
                lit(s(m, "name")),
                lit(s(m, "type")),
                nullable(m)
            );
        }
        let _ = writeln!(
            code,
            "    TypeSpec {{ name: {}, namespace: {}, base: {base}, members: &[{members}] }},",
            lit(name),
            lit(s(ty, "namespace"))
        );
    }
    code.push_str("];\n\n/// Every enum of Severa's service contract (`Name = value` texts).\npub static ENUMS: &[EnumSpec] = &[\n");
    for (name, e) in obj(&contract["enums"], "enums") {
        let values: Vec<String> = arr(&e["values"], name)
            .iter()
            .filter_map(Value::as_str)
            .map(lit)
            .collect();
        let _ = writeln!(
            code,
            "    EnumSpec {{ name: {}, values: &[{}] }},",
            lit(name),
            values.join(", ")
        );
    }
    code.push_str("];\n\n/// What the client uses beyond the contract (`contract/beyond-contract.json`).\npub static BEYOND_CONTRACT: &[BeyondContract] = &[\n");
    for b in beyond {
        let _ = writeln!(
            code,
            "    BeyondContract {{ kind: {}, owner: {}, name: {}, source: {} }},",
            lit(b.kind),
            lit(&b.owner),
            lit(&b.name),
            lit(&b.source)
        );
    }
    code.push_str("];\n");
    code
}

/// Rust type of a contract type, and the contract types it refers to.
fn rust_type(ty: &str, types: &serde_json::Map<String, Value>) -> (String, Option<String>) {
    if let Some(item) = ty.strip_suffix("[]") {
        let (inner, refd) = rust_type(item, types);
        return (format!("Vec<{inner}>"), refd);
    }
    match ty {
        "string" => ("String".into(), None),
        "int" => ("i32".into(), None),
        "long" => ("i64".into(), None),
        "decimal" => ("Decimal".into(), None),
        "boolean" => ("bool".into(), None),
        "dateTime" => ("WireDateTime".into(), None),
        other if types.contains_key(other) => (struct_name(other), Some(other.to_string())),
        other => panic!("entity member type {other} has no Rust mapping (add one to build.rs)"),
    }
}

/// `Contact.CommunicationMethod` → `CommunicationMethod`.
fn struct_name(ty: &str) -> String {
    ty.rsplit('.').next().unwrap_or(ty).to_string()
}

fn entities(contract: &Value) -> String {
    let types = obj(&contract["types"], "types");
    let docs: BTreeMap<&str, &str> = ENTITY_ROOTS.iter().copied().collect();
    // The roots and every type they contain.
    let mut wanted: Vec<String> = ENTITY_ROOTS.iter().map(|(n, _)| n.to_string()).collect();
    let mut done = BTreeSet::new();
    let mut code = String::new();
    let mut names = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        let ty = types
            .get(&name)
            .unwrap_or_else(|| panic!("entity {name} is not in the contract"));
        assert!(
            ty["base"].is_null(),
            "entity {name} has a base type; build.rs does not flatten bases yet"
        );
        let rust = struct_name(&name);
        assert!(
            names.insert(rust.clone()),
            "two entity types map to the struct {rust}"
        );
        let doc = docs
            .get(name.as_str())
            .map(|d| d.to_string())
            .unwrap_or_else(|| format!("`{name}`, contained in another entity."));
        let mut fields = String::new();
        let mut unset = String::new();
        let mut field_names = BTreeSet::new();
        for m in arr(&ty["members"], &name) {
            let member = s(m, "name");
            let (rty, refd) = rust_type(s(m, "type"), types);
            if let Some(r) = refd {
                wanted.push(r);
            }
            let field = snake(member);
            assert!(
                field_names.insert(field.clone()),
                "{name}: two members map to the field {field}"
            );
            let _ = writeln!(fields, "        {field}: {rty} = {},", lit(member));
            // Only value types can be non-nullable on the wire: a data-contract member the
            // extraction marks non-nullable is still a reference WCF reads as null.
            let value_type = matches!(
                s(m, "type"),
                "int" | "long" | "decimal" | "boolean" | "dateTime"
            );
            if !nullable(m) && value_type {
                let _ = writeln!(
                    unset,
                    "        if self.{field}.is_none() {{ out.push({}); }}",
                    lit(member)
                );
            }
        }
        let _ = writeln!(
            code,
            "severa_entity! {{\n    /// {doc}\n    {rust} = {} {{\n{fields}    }}\n}}\n",
            lit(&name)
        );
        let _ = writeln!(
            code,
            "impl crate::contract::Entity for {rust} {{\n    fn spec() -> &'static crate::contract::TypeSpec {{\n        crate::contract::type_spec({}).expect(\"generated from the contract\")\n    }}\n    fn unset_non_nullable(&self) -> Vec<&'static str> {{\n        #[allow(unused_mut)]\n        let mut out = Vec::new();\n{unset}        out\n    }}\n}}\n",
            lit(&name)
        );
    }
    code
}
