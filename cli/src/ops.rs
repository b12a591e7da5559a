//! `bridgectl severa ops`: Severa's operations and types from the contract the CLI checks calls
//! against, so an operator looks a name up here instead of guessing it (a wrong name is
//! silently ignored by the service). No key, no network.

use crate::contract_check::{Shape, has_default, shape, suggest, type_text, wire_members};
use crate::error::CliError;
use severa::contract::{ENUMS, TYPES};
use severa::operations::{ALL, Operation};

pub const OPS_LONG_ABOUT: &str = "\
Lists the operations of Severa's service contract (all 256), the one `severa call` checks
against: one signature per line, `IUser.GetUserByCode(userCode: string) -> User`. Parameters
are in the order Severa reads them; `dateTime?` is nullable, a value type without `?`
(int, long, decimal, boolean, dateTime, enums) is read as its default when left out.
FILTER keeps operations whose interface or name contains it (any case).

--json prints [{\"interface\",\"name\",\"soap_action\",\"params\":[{\"name\",\"type\",\"nullable\"}],
\"returns\"}] instead (returns is null for a void operation).

--type NAME shows a data contract's members in wire order (the order --param-xml must use),
base type's members first, non-nullable value members marked; or an enum's values.
Needs no key and makes no call.

Examples:
  bridgectl severa ops user
  bridgectl severa ops IHourEntry --json
  bridgectl severa ops --type HourEntry";

/// Operations whose interface, name or `Interface.Name` contains `filter` (any case).
pub fn matching(filter: Option<&str>) -> Vec<&'static Operation> {
    let filter = filter.map(str::trim).unwrap_or_default().to_lowercase();
    ALL.iter()
        .filter(|op| {
            filter.is_empty()
                || op.interface.to_lowercase().contains(&filter)
                || op.name.to_lowercase().contains(&filter)
                || op.qualified_name().to_lowercase().contains(&filter)
        })
        .collect()
}

/// The `ops [FILTER]` output: signatures one per line, or JSON.
pub fn list(filter: Option<&str>, json: bool) -> Result<String, CliError> {
    let ops = matching(filter);
    if ops.is_empty() {
        let filter = filter.unwrap_or_default();
        let close = suggest(filter, ALL.iter().map(|o| o.name));
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!("; close: {}", close.join(", "))
        };
        return Err(CliError::Usage(format!(
            "no operation's interface or name contains {filter:?}{hint}"
        )));
    }
    if json {
        return Ok(Ordered::Array(ops.iter().map(|op| op_json(op)).collect()).pretty());
    }
    Ok(ops
        .iter()
        .map(|op| op.signature())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// JSON with keys in a chosen order (serde_json's map sorts them), so `ops --json` reads like
/// a signature: interface, name, soap_action, params, returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    Object(Vec<(&'static str, Ordered)>),
    Array(Vec<Ordered>),
    Value(serde_json::Value),
}

impl Ordered {
    fn text(s: &str) -> Self {
        Self::Value(serde_json::Value::from(s))
    }

    fn opt(s: Option<&str>) -> Self {
        Self::Value(s.map_or(serde_json::Value::Null, serde_json::Value::from))
    }

    /// Pretty-printed like `serde_json::to_string_pretty` (two-space indent).
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.push_str(&"  ".repeat(n));
        match self {
            Self::Value(v) => out.push_str(&v.to_string()),
            Self::Array(items) if items.is_empty() => out.push_str("[]"),
            Self::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Self::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    pad(out, indent + 1);
                    item.write(out, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push(']');
            }
            Self::Object(fields) => {
                out.push_str("{\n");
                for (i, (key, value)) in fields.iter().enumerate() {
                    pad(out, indent + 1);
                    out.push_str(&serde_json::Value::from(*key).to_string());
                    out.push_str(": ");
                    value.write(out, indent + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }
}

/// `{"interface","name","soap_action","params":[{"name","type","nullable"}],"returns"}`
pub fn op_json(op: &Operation) -> Ordered {
    let params = op
        .params
        .iter()
        .map(|p| {
            Ordered::Object(vec![
                ("name", Ordered::text(p.name)),
                ("type", Ordered::text(p.ty)),
                ("nullable", Ordered::Value(p.nullable.into())),
            ])
        })
        .collect();
    Ordered::Object(vec![
        ("interface", Ordered::text(op.interface)),
        ("name", Ordered::text(op.name)),
        ("soap_action", Ordered::text(op.soap_action)),
        ("params", Ordered::Array(params)),
        ("returns", Ordered::opt(op.returns)),
    ])
}

/// The `ops --type NAME` output.
pub fn describe_type(name: &str, json: bool) -> Result<String, CliError> {
    let name = name.trim();
    match shape(name) {
        Shape::Entity(t) => {
            let members = wire_members(t);
            if json {
                let members = members
                    .iter()
                    .map(|(m, owner)| {
                        Ordered::Object(vec![
                            ("name", Ordered::text(m.name)),
                            ("type", Ordered::text(m.ty)),
                            ("nullable", Ordered::Value(m.nullable.into())),
                            ("declared_in", Ordered::text(owner.name)),
                        ])
                    })
                    .collect();
                return Ok(Ordered::Object(vec![
                    ("name", Ordered::text(t.name)),
                    ("kind", Ordered::text("type")),
                    ("namespace", Ordered::text(t.namespace)),
                    ("base", Ordered::opt(t.base)),
                    ("members", Ordered::Array(members)),
                ])
                .pretty());
            }
            let base = t.base.map(|b| format!(" : {b}")).unwrap_or_default();
            let mut lines = vec![format!(
                "{}{base} ({}), {} members in wire order:",
                t.name,
                t.namespace,
                members.len()
            )];
            for (m, owner) in members {
                let mut line = format!("  {}: {}", m.name, type_text(m.ty, m.nullable));
                if !m.nullable && has_default(m.ty) {
                    line.push_str(&format!(
                        "  [non-nullable: read as {} when left out]",
                        crate::contract_check::default_text(m.ty)
                    ));
                }
                if owner.name != t.name {
                    line.push_str(&format!("  (from {})", owner.name));
                }
                lines.push(line);
            }
            Ok(lines.join("\n"))
        }
        Shape::Enum(e) => {
            if json {
                return Ok(Ordered::Object(vec![
                    ("name", Ordered::text(e.name)),
                    ("kind", Ordered::text("enum")),
                    (
                        "values",
                        Ordered::Array(e.values.iter().map(|v| Ordered::text(v)).collect()),
                    ),
                ])
                .pretty());
            }
            let mut lines = vec![format!("{} (enum), written by name:", e.name)];
            lines.extend(e.values.iter().map(|v| format!("  {v}")));
            Ok(lines.join("\n"))
        }
        _ => {
            let names = TYPES
                .iter()
                .map(|t| t.name)
                .chain(ENUMS.iter().map(|e| e.name));
            let close = suggest(name, names);
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", close.join(", "))
            };
            Err(CliError::Usage(format!(
                "{name:?} is not a data contract or enum of Severa's contract{hint}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_256_operations_one_per_line() {
        let all = list(None, false).unwrap();
        assert_eq!(all.lines().count(), 256);
        let users = list(Some("user"), false).unwrap();
        assert!(
            users
                .lines()
                .any(|l| l == "IUser.GetUserByCode(userCode: string) -> User"),
            "{users}"
        );
        // Case-insensitive, by interface or name.
        assert!(
            list(Some("IUSER.getuserbycode"), false)
                .unwrap()
                .lines()
                .count()
                == 1
        );
        assert!(
            list(Some("ihourentry"), false)
                .unwrap()
                .lines()
                .all(|l| l.to_lowercase().contains("hourentr"))
        );
        let err = list(Some("frobnicate"), false).unwrap_err().to_string();
        assert!(err.contains("no operation"), "{err}");
    }

    #[test]
    fn json_lists_params_with_types() {
        let json: serde_json::Value =
            serde_json::from_str(&list(Some("GetUserByCode"), true).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "interface": "IUser",
                "name": "GetUserByCode",
                "soap_action": "http://soap.severa.com/IUser/GetUserByCode",
                "params": [{"name": "userCode", "type": "string", "nullable": true}],
                "returns": "User"
            }])
        );
        let void: serde_json::Value =
            serde_json::from_str(&list(Some("SetInvoicePaymentDate"), true).unwrap()).unwrap();
        assert_eq!(void[0]["returns"], serde_json::Value::Null);
        // Keys in signature order, pretty-printed like the other commands' JSON.
        assert_eq!(
            list(Some("GetUserByCode"), true).unwrap(),
            r#"[
  {
    "interface": "IUser",
    "name": "GetUserByCode",
    "soap_action": "http://soap.severa.com/IUser/GetUserByCode",
    "params": [
      {
        "name": "userCode",
        "type": "string",
        "nullable": true
      }
    ],
    "returns": "User"
  }
]"#
        );
        let all: serde_json::Value = serde_json::from_str(&list(None, true).unwrap()).unwrap();
        assert_eq!(all.as_array().map(Vec::len), Some(256));
        let none: serde_json::Value =
            serde_json::from_str(&list(Some("GetVersion"), true).unwrap()).unwrap();
        assert_eq!(none[0]["params"], serde_json::json!([]));
    }

    #[test]
    fn types_show_members_in_wire_order_and_mark_non_nullable() {
        let text = describe_type("HourEntry", false).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("HourEntry ("), "{text}");
        assert_eq!(lines[1], "  AccountGUID: string");
        assert!(
            lines.contains(&"  IsBillable: boolean  [non-nullable: read as false when left out]"),
            "{text}"
        );
        assert!(lines.contains(&"  EndTime: dateTime?"), "{text}");
        assert!(
            lines.contains(&"  Quantity: decimal  [non-nullable: read as 0 when left out]"),
            "{text}"
        );
        let derived = describe_type("TravelExpense", false).unwrap();
        assert!(
            derived.contains("  Code: string  (from ProductBase)"),
            "{derived}"
        );
        let e = describe_type("AccountGetOptions", false).unwrap();
        assert!(e.contains("  IncludeInactive = 2"), "{e}");
        let err = describe_type("HourEntri", false).unwrap_err().to_string();
        assert!(err.contains("did you mean HourEntry"), "{err}");
        let json: serde_json::Value =
            serde_json::from_str(&describe_type("HourEntry", true).unwrap()).unwrap();
        assert_eq!(json["members"][0]["name"], "AccountGUID");
    }
}
