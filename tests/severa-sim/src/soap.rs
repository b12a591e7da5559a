//! Reading requests: the envelope (any prefixes), the `WebServicePassword` header, the Body's
//! operation element and its parameters, and then the parameters the way WCF's operation
//! formatter reads them, by the operation's declaration in Severa's contract: in contract order,
//! by exact (case-sensitive) name, in the `http://soap.severa.com/` namespace; everything else
//! is ignored (and noted). Parsing uses the client crate's namespace-aware pull reader; writing
//! responses is done separately in [`crate::xml`].

use crate::contract::{Operation, Ty};
use crate::model::{self, Field, Fields, Input};
use crate::xml::{Fault, NS_SEVERA};
use serde_json::{Map, Value as Json};
use severa::WireDateTime;
use severa::wire::{KnownNs, Value, XmlIn};
use std::collections::BTreeMap;
use std::str::FromStr;

/// A parsed SOAP request.
#[derive(Debug, Clone)]
pub struct SoapRequest {
    /// Local name of the Body's first element.
    pub body_element: Option<String>,
    /// `WebServicePassword` header text (trimmed), when present in `http://soap.severa.com/`.
    pub key: Option<String>,
    /// Children of the operation element, in document order.
    pub params: Vec<RawParam>,
}

/// One child of the operation element, as it arrived.
#[derive(Debug, Clone)]
pub struct RawParam {
    /// Local name.
    pub name: String,
    /// In `http://soap.severa.com/` (the only namespace WCF reads parameters from).
    pub in_severa_ns: bool,
    pub value: Value,
}

pub fn parse(body: &[u8]) -> Result<SoapRequest, String> {
    let mut r = XmlIn::new(body);
    let root = r.root().map_err(|e| e.to_string())?;
    if r.name() != b"Envelope" {
        return Err(format!(
            "the document element is {}, not a SOAP Envelope",
            r.name_str()
        ));
    }
    if root.ns != KnownNs::SoapEnv {
        return Err("the Envelope is not in the SOAP 1.1 namespace".into());
    }
    let mut req = SoapRequest {
        body_element: None,
        key: None,
        params: Vec::new(),
    };
    while let Some(section) = r.next_child().map_err(|e| e.to_string())? {
        let name = r.name().to_vec();
        match (name.as_slice(), section.ns) {
            (b"Header", KnownNs::SoapEnv) => {
                while let Some(h) = r.next_child().map_err(|e| e.to_string())? {
                    if r.name() == b"WebServicePassword" && h.ns == KnownNs::Severa {
                        let key = r.read_text().map_err(|e| e.to_string())?;
                        req.key = Some(key.trim().to_string());
                    } else {
                        r.skip().map_err(|e| e.to_string())?;
                    }
                }
            }
            (b"Body", KnownNs::SoapEnv) => {
                let mut first = true;
                while let Some(_op) = r.next_child().map_err(|e| e.to_string())? {
                    if !first {
                        r.skip().map_err(|e| e.to_string())?;
                        continue;
                    }
                    first = false;
                    req.body_element = Some(r.name_str());
                    while let Some(param) = r.next_child().map_err(|e| e.to_string())? {
                        let name = r.name_str();
                        let value = r.read_value(param).map_err(|e| e.to_string())?;
                        req.params.push(RawParam {
                            name,
                            in_severa_ns: param.ns == KnownNs::Severa,
                            value,
                        });
                    }
                }
            }
            _ => r.skip().map_err(|e| e.to_string())?,
        }
    }
    r.finish().map_err(|e| e.to_string())?;
    Ok(req)
}

/// Generic JSON of the parameters (for the request log).
pub fn params_json(params: &[RawParam]) -> Json {
    let mut map = Map::new();
    for p in params {
        map.insert(p.name.clone(), value_json(&p.value));
    }
    Json::Object(map)
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Text(t) => Json::String(t.clone()),
        Value::Element(children) => {
            let is_list = children
                .iter()
                .all(|(n, _)| n == "string" || n.contains('.') || n == "int" || n == "guid");
            if is_list {
                return Json::Array(children.iter().map(|(_, v)| value_json(v)).collect());
            }
            let mut map = Map::new();
            for (name, v) in children {
                let json = value_json(v);
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

/// What the service did not take as sent: elements it skipped (`ignored`: unknown names,
/// wrong namespace, out of contract order, repeated; members as `param.Member`) and absent
/// non-nullable values it read as their defaults (`defaulted`). Both go to the request log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notes {
    pub ignored: Vec<String>,
    pub defaulted: Vec<String>,
}

/// One deserialised parameter.
#[derive(Debug, Clone)]
pub enum Arg {
    /// Absent (nullable), or `i:nil`.
    Null,
    /// A scalar, normalised (absent non-nullable ones hold their default).
    Text(String),
    Strings(Vec<String>),
    Entity(Input),
    /// A list of entities (`Item[]`, `ResourceAllocation[]`: no simulated operation reads one).
    #[allow(dead_code)]
    Items(Vec<Fields>),
}

/// An operation's parameters as the service deserialised them.
#[derive(Debug, Clone)]
pub struct Args {
    op: &'static Operation,
    values: BTreeMap<String, Arg>,
}

/// The fault WCF's formatter answers for a value it cannot read.
pub fn deserialize_fault(param: &str, detail: &str) -> Fault {
    Fault::general(format!(
        "The formatter threw an exception while trying to deserialize the message: There was an error while trying to deserialize parameter {NS_SEVERA}:{param}. {detail}"
    ))
}

/// Reads the request's parameters by `op`'s declaration. WCF's operation formatter walks the
/// elements once, matching each against the declared parameters from the one after the last
/// match onwards; an element that matches none of those (unknown, wrong case, wrong namespace,
/// out of order, repeated) is skipped and noted. Declared parameters that did not arrive read
/// as null, or as their default when non-nullable (noted in `defaulted`).
pub fn read_args(
    op: &'static Operation,
    params: &[RawParam],
    notes: &mut Notes,
) -> Result<Args, Fault> {
    let mut values = BTreeMap::new();
    let mut next = 0;
    for p in params {
        let found = if p.in_severa_ns {
            op.params[next..]
                .iter()
                .position(|d| d.name == p.name)
                .map(|i| i + next)
        } else {
            None
        };
        let Some(index) = found else {
            notes.ignored.push(p.name.clone());
            continue;
        };
        next = index + 1;
        let decl = &op.params[index];
        let arg = match (&decl.ty, &p.value) {
            (Ty::Data(_), Value::Nil) => Ok(Arg::Null),
            // A date-time argument keeps its zone (changed-since arguments are instants).
            (Ty::DateTime, Value::Text(t)) => WireDateTime::from_str(t)
                .map(|_| Arg::Text(t.trim().to_string()))
                .map_err(|_| {
                    format!(
                        "{} holds {:?}, which is not {}",
                        decl.name,
                        t.trim(),
                        decl.ty.describe()
                    )
                }),
            (Ty::Data(name), v) => {
                model::read_entity(model::wire_type(name), v, &decl.name, &mut notes.ignored)
                    .map(Arg::Entity)
            }
            (_, v) => model::read_member(
                decl,
                v,
                &decl.name,
                &mut notes.ignored,
                &mut notes.defaulted,
            )
            .map(|field| match field {
                Field::Text(t) => Arg::Text(t),
                Field::Strings(items) => Arg::Strings(items),
                Field::Items(items) => Arg::Items(items),
                Field::Entity(fields) => Arg::Entity(Input {
                    fields,
                    nested_defaulted: BTreeMap::new(),
                }),
                Field::Nil => Arg::Null,
            }),
        }
        .map_err(|detail| deserialize_fault(&decl.name, &detail))?;
        values.insert(decl.name.clone(), arg);
    }
    for decl in &op.params {
        if values.contains_key(&decl.name) {
            continue;
        }
        let arg = match model::default_text(&decl.ty) {
            Some(default) if !decl.nullable => {
                notes.defaulted.push(decl.name.clone());
                Arg::Text(default)
            }
            _ => Arg::Null,
        };
        values.insert(decl.name.clone(), arg);
    }
    Ok(Args { op, values })
}

impl Args {
    fn get(&self, name: &str) -> Option<&Arg> {
        debug_assert!(
            self.op.param(name).is_some(),
            "severa-sim reads parameter {name}, which {} does not declare",
            self.op.name
        );
        self.values.get(name)
    }

    /// Text parameter; null and blank read as `None`.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(Arg::Text(t)) if !t.trim().is_empty() => Some(t.trim().to_string()),
            _ => None,
        }
    }

    /// `int`/`long` parameter (already validated); `None` when null.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.text(name).and_then(|t| t.parse().ok())
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.text(name).map(|t| t == "true")
    }

    pub fn date(&self, name: &str) -> Option<WireDateTime> {
        self.text(name)
            .and_then(|t| WireDateTime::from_str(&t).ok())
    }

    /// `string[]` parameter; `None` when null.
    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        match self.get(name) {
            Some(Arg::Strings(items)) => Some(items.iter().map(|s| s.trim().to_string()).collect()),
            _ => None,
        }
    }

    /// Entity parameter; `None` when null.
    pub fn entity(&self, name: &str) -> Option<&Input> {
        match self.get(name) {
            Some(Arg::Entity(input)) => Some(input),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::contract;

    #[test]
    fn parses_any_prefixes() {
        let xml = br#"<?xml version="1.0"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://soap.severa.com/">
 <SOAP-ENV:Header><ns1:WebServicePassword> k1 </ns1:WebServicePassword></SOAP-ENV:Header>
 <SOAP-ENV:Body><GetUserByName xmlns="http://soap.severa.com/"><firstName>Alice</firstName><lastName/></GetUserByName></SOAP-ENV:Body>
</SOAP-ENV:Envelope>"#;
        let req = parse(xml).unwrap();
        assert_eq!(req.key.as_deref(), Some("k1"));
        assert_eq!(req.body_element.as_deref(), Some("GetUserByName"));
        let op = contract().by_name("GetUserByName").unwrap();
        let mut notes = Notes::default();
        let args = read_args(op, &req.params, &mut notes).unwrap();
        assert_eq!(args.text("firstName").as_deref(), Some("Alice"));
        assert_eq!(args.text("lastName"), None);
        assert_eq!(notes, Notes::default());
    }

    fn params(xml: &str) -> Vec<RawParam> {
        let body = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://soap.severa.com/"><s:Body><t:Op>{xml}</t:Op></s:Body></s:Envelope>"#
        );
        parse(body.as_bytes()).unwrap().params
    }

    #[test]
    fn parameters_follow_the_contract_declaration() {
        let op = contract().by_name("GetInvoicesByDate").unwrap();
        // wrong case, wrong namespace, out of order: ignored; endDate and options defaulted
        let mut notes = Notes::default();
        let args = read_args(
            op,
            &params(
                "<t:startdate>2026-01-01</t:startdate><startDate xmlns='urn:x'>2026-01-01</startDate><t:startDate>2026-01-02</t:startDate><t:businessUnitGUID>bu</t:businessUnitGUID>",
            ),
            &mut notes,
        )
        .unwrap();
        assert_eq!(
            notes.ignored,
            ["startdate", "startDate", "businessUnitGUID"]
        );
        assert_eq!(notes.defaulted, ["endDate", "options"]);
        assert_eq!(args.text("businessUnitGUID"), None);
        assert_eq!(
            args.date("startDate").map(|d| d.naive_date().to_string()),
            Some("2026-01-02".into())
        );
        assert_eq!(
            args.date("endDate").map(|d| d.naive_date().to_string()),
            Some("0001-01-01".into())
        );
        assert_eq!(args.int("options"), Some(0));
        // a value of the wrong type names the parameter
        let fault = read_args(op, &params("<t:options>abc</t:options>"), &mut notes).unwrap_err();
        assert!(
            fault.message.contains("deserialize the message"),
            "{}",
            fault.message
        );
        assert!(
            fault.message.contains("options holds \"abc\""),
            "{}",
            fault.message
        );
        // a nil value for a non-nullable parameter too
        let fault = read_args(
            op,
            &params(
                r#"<t:endDate xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>"#,
            ),
            &mut notes,
        )
        .unwrap_err();
        assert!(fault.message.contains("endDate"), "{}", fault.message);
    }

    #[test]
    fn rejects_non_soap() {
        assert!(parse(b"<html/>").is_err());
        assert!(
            parse(b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'>").is_err()
        );
        assert!(parse(b"not xml at all").is_err());
    }
}
