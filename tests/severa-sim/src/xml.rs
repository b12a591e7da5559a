//! Writing responses the way the service does (WCF DataContract serializer conventions):
//! `s:` envelope, `Quota`/`UsedQuota` headers, `a:`-prefixed entity members in the contract's
//! wire order, `i:nil` for nullable members without a value, non-nullable members always
//! (their default when unset), list items named after the entity, typed fault details.
//! Deliberately independent of the client's encoder.

use crate::contract::Ty;
use crate::model::{self, Field, Fields, WireType, wire_type};

pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const NS_SEVERA: &str = "http://soap.severa.com/";
pub const NS_ENTITIES: &str = "http://schemas.datacontract.org/2004/07/Severa.Entities.API";
pub const NS_API: &str = "http://schemas.datacontract.org/2004/07/Severa.API";
pub const NS_ARRAYS: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";
pub const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// A typed service fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Detail element name (`ValidationException`).
    pub detail: String,
    /// `Description` text.
    pub message: String,
    /// `faultstring` text (defaults to the message).
    pub faultstring: Option<String>,
}

impl Fault {
    pub fn new(detail: &str, message: impl Into<String>) -> Fault {
        Fault {
            detail: detail.to_string(),
            message: message.into(),
            faultstring: None,
        }
    }
    pub fn validation(message: impl Into<String>) -> Fault {
        Fault::new("ValidationException", message)
    }
    pub fn not_found(message: impl Into<String>) -> Fault {
        Fault::new("NotFoundException", message)
    }
    pub fn general(message: impl Into<String>) -> Fault {
        Fault::new("GeneralFailureException", message)
    }
    pub fn authentication(message: impl Into<String>) -> Fault {
        Fault::new("AuthenticationFailureException", message)
    }
    pub fn quota() -> Fault {
        Fault {
            detail: "QuotaLimitExceededException".into(),
            message: "Quota limit".into(),
            faultstring: Some("Quota limit reached".into()),
        }
    }
}

/// What an operation returns.
#[derive(Debug, Clone)]
pub enum Reply {
    Entity(WireType, Fields),
    Null,
    List(WireType, Vec<Fields>),
    /// `string[]` (Arrays namespace items).
    Strings(Vec<String>),
    Bool(bool),
    Text(String),
    Void,
}

impl Reply {
    /// Whether the reply has the shape of the return type the contract declares (`None`:
    /// void), so an operation can never answer something the real service could not.
    pub fn fits(&self, returns: Option<&Ty>) -> bool {
        match (self, returns) {
            (Reply::Void, None) => true,
            (Reply::Null, Some(Ty::Data(_))) => true,
            (Reply::Entity(ty, _), Some(Ty::Data(name))) => ty.name == *name,
            (Reply::List(ty, _), Some(Ty::List(item))) => {
                matches!(item.as_ref(), Ty::Data(name) if *name == ty.name)
            }
            (Reply::Strings(_), Some(Ty::List(item))) => **item == Ty::String,
            (Reply::Bool(_), Some(Ty::Boolean)) => true,
            (Reply::Text(_), Some(Ty::String)) => true,
            _ => false,
        }
    }

    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Reply::Entity(ty, _) => ty.name.clone(),
            Reply::Null => "null".into(),
            Reply::List(ty, _) => format!("{}[]", ty.name),
            Reply::Strings(_) => "string[]".into(),
            Reply::Bool(_) => "boolean".into(),
            Reply::Text(_) => "string".into(),
            Reply::Void => "nothing".into(),
        }
    }
}

/// Escapes element text (and attribute values); drops characters XML 1.0 cannot carry.
pub fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

fn envelope(quota: Option<(u64, u64)>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 400);
    out.push_str("<s:Envelope xmlns:s=\"");
    out.push_str(NS_SOAP);
    out.push_str("\">");
    if let Some((limit, used)) = quota {
        out.push_str(&format!(
            "<s:Header><Quota xmlns=\"{NS_SEVERA}\">{limit}</Quota><UsedQuota xmlns=\"{NS_SEVERA}\">{used}</UsedQuota></s:Header>"
        ));
    }
    out.push_str("<s:Body>");
    out.push_str(body);
    out.push_str("</s:Body></s:Envelope>");
    out
}

/// Writes an entity's members: every member of the contract type, in wire order; a nullable
/// member without a value as `i:nil`, a non-nullable one as its default.
fn members(out: &mut String, ty: WireType, fields: &Fields) {
    for m in &ty.members {
        let name = m.name.as_str();
        match fields.get(name) {
            None | Some(Field::Nil) => match model::default_text(&m.ty).filter(|_| !m.nullable) {
                Some(default) => out.push_str(&format!("<a:{name}>{default}</a:{name}>")),
                None => out.push_str(&format!("<a:{name} i:nil=\"true\"/>")),
            },
            Some(Field::Text(t)) if t.is_empty() => out.push_str(&format!("<a:{name}/>")),
            Some(Field::Text(t)) => {
                out.push_str(&format!("<a:{name}>"));
                escape(out, t);
                out.push_str(&format!("</a:{name}>"));
            }
            Some(Field::Strings(items)) if items.is_empty() => {
                out.push_str(&format!("<a:{name} xmlns:b=\"{NS_ARRAYS}\"/>"));
            }
            Some(Field::Strings(items)) => {
                let item = match &m.ty {
                    Ty::List(item) => item.item_name(),
                    _ => "string",
                };
                out.push_str(&format!("<a:{name} xmlns:b=\"{NS_ARRAYS}\">"));
                for value in items {
                    out.push_str(&format!("<b:{item}>"));
                    escape(out, value);
                    out.push_str(&format!("</b:{item}>"));
                }
                out.push_str(&format!("</a:{name}>"));
            }
            Some(Field::Items(items)) if items.is_empty() => out.push_str(&format!("<a:{name}/>")),
            Some(Field::Items(items)) => {
                let Ty::List(item) = &m.ty else { continue };
                let Ty::Data(inner) = item.as_ref() else {
                    continue;
                };
                let inner = wire_type(inner);
                out.push_str(&format!("<a:{name}>"));
                for fields in items {
                    out.push_str(&format!("<a:{}>", inner.name));
                    members(out, inner, fields);
                    out.push_str(&format!("</a:{}>", inner.name));
                }
                out.push_str(&format!("</a:{name}>"));
            }
            Some(Field::Entity(nested)) => {
                let Ty::Data(inner) = &m.ty else { continue };
                out.push_str(&format!("<a:{name}>"));
                members(out, wire_type(inner), nested);
                out.push_str(&format!("</a:{name}>"));
            }
        }
    }
}

/// A successful response envelope.
pub fn success(operation: &str, reply: &Reply, quota: Option<(u64, u64)>) -> String {
    let decl = format!("xmlns:a=\"{NS_ENTITIES}\" xmlns:i=\"{NS_XSI}\"");
    let result = format!("{operation}Result");
    let mut body = String::new();
    body.push_str(&format!("<{operation}Response xmlns=\"{NS_SEVERA}\">"));
    match reply {
        Reply::Void => {
            body.clear();
            body.push_str(&format!("<{operation}Response xmlns=\"{NS_SEVERA}\"/>"));
            return envelope(quota, &body);
        }
        Reply::Null => body.push_str(&format!("<{result} i:nil=\"true\" {decl}/>")),
        Reply::Bool(b) => body.push_str(&format!("<{result}>{b}</{result}>")),
        Reply::Text(t) => {
            body.push_str(&format!("<{result}>"));
            escape(&mut body, t);
            body.push_str(&format!("</{result}>"));
        }
        Reply::Entity(ty, fields) => {
            body.push_str(&format!("<{result} {decl}>"));
            members(&mut body, ty, fields);
            body.push_str(&format!("</{result}>"));
        }
        Reply::Strings(items) => {
            let decl = format!("xmlns:a=\"{NS_ARRAYS}\" xmlns:i=\"{NS_XSI}\"");
            if items.is_empty() {
                body.push_str(&format!("<{result} {decl}/>"));
            } else {
                body.push_str(&format!("<{result} {decl}>"));
                for item in items {
                    body.push_str("<a:string>");
                    escape(&mut body, item);
                    body.push_str("</a:string>");
                }
                body.push_str(&format!("</{result}>"));
            }
        }
        Reply::List(_, items) if items.is_empty() => {
            body.push_str(&format!("<{result} {decl}/>"));
        }
        Reply::List(ty, items) => {
            body.push_str(&format!("<{result} {decl}>"));
            for item in items {
                body.push_str(&format!("<a:{}>", ty.name));
                members(&mut body, ty, item);
                body.push_str(&format!("</a:{}>", ty.name));
            }
            body.push_str(&format!("</{result}>"));
        }
    }
    body.push_str(&format!("</{operation}Response>"));
    envelope(quota, &body)
}

/// A fault response envelope (sent with HTTP 500).
pub fn fault(f: &Fault, quota: Option<(u64, u64)>) -> String {
    let mut body = String::new();
    body.push_str("<s:Fault><faultcode>s:Client</faultcode><faultstring xml:lang=\"en-US\">");
    escape(&mut body, f.faultstring.as_deref().unwrap_or(&f.message));
    body.push_str("</faultstring><detail>");
    let detail = &f.detail;
    body.push_str(&format!(
        "<{detail} xmlns=\"{NS_API}\" xmlns:i=\"{NS_XSI}\"><Description>"
    ));
    escape(&mut body, &f.message);
    body.push_str(&format!(
        "</Description><Source i:nil=\"true\"/></{detail}></detail></s:Fault>"
    ));
    envelope(quota, &body)
}

/// The HTML page served during maintenance breaks.
pub const MAINTENANCE_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Service maintenance</title></head>\n<body><h1>Visma Severa is under maintenance</h1>\n<p>The service is temporarily unavailable because of a scheduled maintenance break. Please try again later.</p>\n<p>(severa-sim)</p></body></html>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text() {
        let mut s = String::new();
        escape(&mut s, "a<b & \"c\"\r\u{1}");
        assert_eq!(s, "a&lt;b &amp; &quot;c&quot;&#xD;");
    }

    #[test]
    fn fault_shape() {
        let xml = fault(&Fault::quota(), Some((10, 10)));
        assert!(xml.contains("<faultstring xml:lang=\"en-US\">Quota limit reached</faultstring>"));
        assert!(xml.contains("<Description>Quota limit</Description><Source i:nil=\"true\"/>"));
        assert!(xml.contains("<UsedQuota xmlns=\"http://soap.severa.com/\">10</UsedQuota>"));
    }
}
