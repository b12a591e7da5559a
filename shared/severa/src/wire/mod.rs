//! Severa's SOAP wire rules, in one place: namespaces, escaping, envelope building, streaming
//! response parsing, value formats. Nothing here does I/O beyond reading a `BufRead`.

mod datetime;
mod envelope;
mod escape;
mod reader;
mod tree;
mod values;

pub use datetime::WireDateTime;
pub use envelope::{
    Decoded, Outcome, Param, ParamValue, decode_response, request_envelope, soap_action,
};
pub use escape::{escape_text, invalid_xml_char};
pub use reader::{Child, KnownNs, WireError, XmlIn};
pub use tree::{Value, is_list_item_name};
pub use values::{FromWire, ListItem, Scalar, ToWire, XmlOut};

/// SOAP 1.1 envelope namespace.
pub const NS_SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// Operation wrappers, parameters, results and the auth/quota headers.
pub const NS_SEVERA: &str = "http://soap.severa.com/";
/// Entity data contracts (Account, Case, HourEntry, ...).
pub const NS_ENTITIES: &str = "http://schemas.datacontract.org/2004/07/Severa.Entities.API";
/// Fault detail contracts.
pub const NS_API: &str = "http://schemas.datacontract.org/2004/07/Severa.API";
/// DataContract primitive arrays (`string[]` items are `<string>`).
pub const NS_ARRAYS: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";
/// XML Schema instance (`i:nil`).
pub const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Prefix under which request envelopes bind [`NS_ENTITIES`]; entity members are written with it.
pub const ENTITY_PREFIX: &str = "e";
/// Prefix under which request envelopes bind [`NS_ARRAYS`].
pub const ARRAY_PREFIX: &str = "arr";
/// Prefix under which request envelopes bind [`NS_SEVERA`].
pub const SEVERA_PREFIX: &str = "t";
