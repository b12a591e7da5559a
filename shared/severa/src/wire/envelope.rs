//! Request envelopes and response decoding (SOAP 1.1, Severa's dialect).

use super::escape::{escape_text, invalid_xml_char};
use super::reader::{Child, KnownNs, WireError, XmlIn};
use super::values::{FromWire, ToWire, XmlOut};
use super::{NS_ARRAYS, NS_ENTITIES, NS_SEVERA, NS_SOAP_ENV, NS_XSI, SEVERA_PREFIX, Value};
use crate::error::{Fault, FaultKind, Quota};
use crate::secret::{ApiKey, KeyedText};
use std::io::BufRead;
use zeroize::Zeroizing;

/// Escaping makes one byte of text at most six (`&quot;`, `&apos;`).
const MAX_ESCAPE_GROWTH: usize = 6;

/// `SOAPAction` header value: quoted, `http://soap.severa.com/<Interface>/<Operation>`.
pub fn soap_action(interface: &str, operation: &str) -> String {
    format!("\"{NS_SEVERA}{interface}/{operation}\"")
}

/// One operation parameter, already rendered as its element (`<t:name>…</t:name>`), or nothing
/// when the value was unset (omitted parameters read as null on the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub markup: String,
}

/// A parameter value for [`Param::from_value`] (the raw-call path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// Text, escaped on the way out.
    Text(String),
    /// `i:nil="true"`.
    Nil,
    /// Inner XML written as given (entity members, array items); must be well-formed and declare
    /// or use the envelope's prefixes `e` (entities), `arr` (arrays), `i` (xsi).
    Xml(String),
}

impl Param {
    /// A typed value as the parameter `name`.
    pub fn new<T: ToWire + ?Sized>(name: &str, value: &T) -> Result<Self, String> {
        let mut out = XmlOut::new();
        value.to_wire(&mut out, SEVERA_PREFIX, name)?;
        Ok(Self {
            name: name.to_string(),
            markup: out.into_string(),
        })
    }

    pub fn from_value(name: &str, value: &ParamValue) -> Result<Self, String> {
        let mut out = XmlOut::new();
        match value {
            ParamValue::Text(text) => out.leaf(SEVERA_PREFIX, name, text)?,
            ParamValue::Nil => out.nil(SEVERA_PREFIX, name),
            ParamValue::Xml(inner) => {
                out.open(SEVERA_PREFIX, name);
                out.raw(inner);
                out.close(SEVERA_PREFIX, name);
            }
        }
        Ok(Self {
            name: name.to_string(),
            markup: out.into_string(),
        })
    }
}

/// The whole request document for `operation` with `params` in the order given (C# order).
///
/// The key is written once, escaped straight into the final buffer, which is sized up front
/// so it is never reallocated (a reallocation would free a copy of the key unzeroed) and is
/// zeroed when dropped ([`KeyedText`]).
pub fn request_envelope(
    operation: &str,
    key: &ApiKey,
    params: &[Param],
) -> Result<KeyedText, String> {
    let key = key.expose();
    if invalid_xml_char(key).is_some() {
        return Err("the API key contains a character XML cannot carry".to_string());
    }
    let head = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{NS_SOAP_ENV}\" xmlns:t=\"{NS_SEVERA}\" xmlns:e=\"{NS_ENTITIES}\" xmlns:arr=\"{NS_ARRAYS}\" xmlns:i=\"{NS_XSI}\"><s:Header><WebServicePassword xmlns=\"{NS_SEVERA}\">"
    );
    let mut tail = XmlOut::new();
    tail.raw("</WebServicePassword></s:Header><s:Body>");
    tail.open(SEVERA_PREFIX, operation);
    for param in params {
        tail.raw(&param.markup);
    }
    tail.close(SEVERA_PREFIX, operation);
    tail.raw("</s:Body></s:Envelope>");
    let tail = tail.into_string();

    let capacity = head.len() + key.len() * MAX_ESCAPE_GROWTH + tail.len();
    let mut text = Zeroizing::new(String::with_capacity(capacity));
    let allocated = text.capacity();
    text.push_str(&head);
    escape_text(&mut text, key);
    text.push_str(&tail);
    debug_assert_eq!(
        text.capacity(),
        allocated,
        "the envelope outgrew its buffer"
    );
    Ok(KeyedText::new(text))
}

/// What a response carried.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// `<OpResult>` read as `T`; `None` when the response had no result element (void operation).
    Result(Option<T>),
    Fault(Fault),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    pub quota: Quota,
    pub outcome: Outcome<T>,
}

impl FromWire for Value {
    fn from_wire<R: BufRead>(r: &mut XmlIn<R>, child: Child) -> Result<Self, WireError> {
        r.read_value(child)
    }
}

/// Reads a whole response envelope from a byte stream: quota headers, then either the
/// operation's `…Result` element as `T` or the fault.
pub fn decode_response<R: BufRead, T: FromWire>(input: R) -> Result<Decoded<T>, WireError> {
    let mut r = XmlIn::new(input);
    let root = r.root()?;
    if root.ns != KnownNs::SoapEnv || r.name() != b"Envelope" {
        return Err(WireError::NotSoap(format!(
            "document element is <{}>, not a SOAP 1.1 Envelope",
            r.name_str()
        )));
    }
    let mut quota = Quota::default();
    let mut outcome = None;
    while let Some(child) = r.next_child()? {
        match (child.ns, r.name()) {
            (KnownNs::SoapEnv, b"Header") => read_header(&mut r, &mut quota)?,
            (KnownNs::SoapEnv, b"Body") if outcome.is_none() => outcome = Some(read_body(&mut r)?),
            _ => r.skip()?,
        }
    }
    r.finish()?;
    match outcome {
        Some(outcome) => Ok(Decoded { quota, outcome }),
        None => Err(WireError::NotSoap("the envelope has no Body".into())),
    }
}

fn read_header<R: BufRead>(r: &mut XmlIn<R>, quota: &mut Quota) -> Result<(), WireError> {
    while let Some(child) = r.next_child()? {
        let slot = match r.name() {
            b"Quota" => Some(&mut quota.limit),
            b"UsedQuota" => Some(&mut quota.used),
            _ => None,
        };
        match slot {
            Some(slot) if !child.nil => *slot = r.read_text()?.trim().parse().ok(),
            _ => r.skip()?,
        }
    }
    Ok(())
}

fn read_body<R: BufRead, T: FromWire>(r: &mut XmlIn<R>) -> Result<Outcome<T>, WireError> {
    let Some(first) = r.next_child()? else {
        return Err(WireError::NotSoap("the Body is empty".into()));
    };
    let outcome = if first.ns == KnownNs::SoapEnv && r.name() == b"Fault" {
        Outcome::Fault(read_fault(r)?)
    } else {
        let mut result = None;
        while let Some(child) = r.next_child()? {
            if result.is_none() && r.name().ends_with(b"Result") {
                result = Some(T::from_wire(r, child)?);
            } else {
                r.skip()?;
            }
        }
        Outcome::Result(result)
    };
    while r.next_child()?.is_some() {
        r.skip()?;
    }
    Ok(outcome)
}

fn read_fault<R: BufRead>(r: &mut XmlIn<R>) -> Result<Fault, WireError> {
    let mut fault = Fault {
        kind: FaultKind::GeneralFailure,
        detail_type: None,
        code: String::new(),
        message: String::new(),
        description: None,
    };
    while let Some(_child) = r.next_child()? {
        match r.name() {
            b"faultcode" => fault.code = r.read_text()?.trim().to_string(),
            b"faultstring" => fault.message = r.read_text()?,
            b"detail" => {
                while let Some(detail) = r.next_child()? {
                    if fault.detail_type.is_some() {
                        r.skip()?;
                        continue;
                    }
                    let name = r.name_str();
                    fault.kind = FaultKind::from_detail_name(&name);
                    fault.detail_type = Some(name);
                    if detail.nil {
                        r.skip()?;
                        continue;
                    }
                    while let Some(member) = r.next_child()? {
                        if r.name() == b"Description" && !member.nil {
                            fault.description = Some(r.read_text()?);
                        } else {
                            r.skip()?;
                        }
                    }
                }
            }
            _ => r.skip()?,
        }
    }
    Ok(fault)
}
