//! Reading requests: the envelope (any prefixes), the `WebServicePassword` header, the Body's
//! operation element and its parameters as generic trees. Parsing uses the client crate's
//! namespace-aware pull reader; writing responses is done separately in [`crate::xml`].

use crate::model::{self, Fields, WireType};
use crate::xml::Fault;
use serde_json::{Map, Value as Json};
use severa::WireDateTime;
use severa::wire::{KnownNs, Value, XmlIn};
use std::str::FromStr;

/// A parsed SOAP request.
#[derive(Debug, Clone)]
pub struct SoapRequest {
    /// Local name of the Body's first element.
    pub body_element: Option<String>,
    /// `WebServicePassword` header text (trimmed), when present in `http://soap.severa.com/`.
    pub key: Option<String>,
    /// Children of the operation element, by local name, in document order.
    pub params: Vec<(String, Value)>,
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
                        let pname = r.name_str();
                        let value = r.read_value(param).map_err(|e| e.to_string())?;
                        req.params.push((pname, value));
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
pub fn params_json(params: &[(String, Value)]) -> Json {
    let mut map = Map::new();
    for (name, value) in params {
        map.insert(name.clone(), value_json(value));
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

/// Typed access to an operation's parameters (by exact, case-sensitive element name).
pub struct Args<'a> {
    pub params: &'a [(String, Value)],
}

fn bad_param(name: &str, what: &str, text: &str) -> Fault {
    Fault::general(format!(
        "The formatter threw an exception while trying to deserialize the message: parameter {name} holds {text:?}, which is not {what}"
    ))
}

impl<'a> Args<'a> {
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Text parameter; absent, nil and blank read as `None`.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.raw(name) {
            Some(Value::Text(t)) if !t.trim().is_empty() => Some(t.trim().to_string()),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, Fault> {
        match self.text(name) {
            None => Ok(None),
            Some(t) => t
                .parse::<i64>()
                .map(Some)
                .map_err(|_| bad_param(name, "an integer", &t)),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, Fault> {
        match self.text(name).as_deref() {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(t) => Err(bad_param(name, "a boolean", t)),
        }
    }

    pub fn date(&self, name: &str) -> Result<Option<WireDateTime>, Fault> {
        match self.text(name) {
            None => Ok(None),
            Some(t) => WireDateTime::from_str(&t)
                .map(Some)
                .map_err(|_| bad_param(name, "an xs:dateTime", &t)),
        }
    }

    /// `string[]` parameter; `None` when absent or nil.
    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        match self.raw(name)? {
            Value::Nil => None,
            Value::Text(_) => Some(Vec::new()),
            Value::Element(items) => Some(
                items
                    .iter()
                    .filter_map(|(_, v)| match v {
                        Value::Text(t) => Some(t.trim().to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }

    /// Entity parameter; `None` when absent or nil.
    pub fn entity(&self, name: &str, ty: WireType) -> Result<Option<Fields>, Fault> {
        match self.raw(name) {
            None | Some(Value::Nil) => Ok(None),
            Some(v) => model::fields_from_wire(ty, v).map(Some).map_err(|e| {
                Fault::general(format!(
                    "The formatter threw an exception while trying to deserialize the message: parameter {name}: {e}"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let args = Args {
            params: &req.params,
        };
        assert_eq!(args.text("firstName").as_deref(), Some("Alice"));
        assert_eq!(args.text("lastName"), None);
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
