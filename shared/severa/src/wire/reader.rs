//! A pull reader over a SOAP response: namespace-aware, streaming, no DOM. Typed values and the
//! generic [`Value`] tree are both read through it.

use super::tree::Value;
use super::{NS_API, NS_ARRAYS, NS_ENTITIES, NS_SEVERA, NS_SOAP_ENV, NS_XSI};
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::{NamespaceResolver, QName, ResolveResult};
use std::io::BufRead;

/// How deep elements may nest in a response.
pub const MAX_DEPTH: usize = 256;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside the document (or the byte stream broke off).
    #[error("response ended before the SOAP envelope was complete")]
    Truncated,
    /// Not well-formed XML.
    #[error("response is not well-formed XML: {0}")]
    Xml(String),
    /// Well-formed, but not a SOAP envelope of the expected shape.
    #[error("response is not a SOAP envelope: {0}")]
    NotSoap(String),
    /// A member's text is not of its type.
    #[error("member {member} holds {value:?}, expected {expected}")]
    BadValue {
        member: String,
        value: String,
        expected: &'static str,
    },
    /// The input stream failed (the transport layer says why).
    #[error("reading the response failed: {0}")]
    Io(String),
}

impl WireError {
    /// Names the member a value error belongs to (set by the entity that owns it).
    pub fn in_member(self, name: &str) -> Self {
        match self {
            Self::BadValue {
                member,
                value,
                expected,
            } if member.is_empty() => Self::BadValue {
                member: name.to_string(),
                value,
                expected,
            },
            other => other,
        }
    }
}

fn xml_error(err: quick_xml::Error) -> WireError {
    match err {
        quick_xml::Error::Io(io) => WireError::Io(io.to_string()),
        // Markup left open at the end of input is a cut-off body; other syntax errors are garbage.
        quick_xml::Error::Syntax(quick_xml::errors::SyntaxError::InvalidBangMarkup) => {
            WireError::Xml("invalid `<!` markup".into())
        }
        quick_xml::Error::Syntax(_) => WireError::Truncated,
        other => WireError::Xml(other.to_string()),
    }
}

/// The namespaces the SOAP layer cares about, resolved once per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownNs {
    SoapEnv,
    Severa,
    Entities,
    Api,
    Arrays,
    Other,
    None,
}

fn classify(ns: &ResolveResult<'_>) -> KnownNs {
    match ns {
        ResolveResult::Bound(n) => match n.as_ref() {
            b if b == NS_ENTITIES => KnownNs::Entities,
            b if b == NS_SOAP_ENV => KnownNs::SoapEnv,
            b if b == NS_SEVERA => KnownNs::Severa,
            b if b == NS_API => KnownNs::Api,
            b if b == NS_ARRAYS => KnownNs::Arrays,
            _ => KnownNs::Other,
        },
        _ => KnownNs::None,
    }
}

/// Appends what a character or predefined entity reference stands for.
fn push_reference(text: &mut String, reference: &BytesRef<'_>) -> Result<(), WireError> {
    // The predefined entities first: they are what escaped text mostly holds.
    let predefined = match &**reference {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    };
    if let Some(c) = predefined {
        text.push(c);
        return Ok(());
    }
    match reference.resolve_char_ref() {
        Ok(Some(c)) => text.push(c),
        Ok(None) => {
            let name = reference.xml10_content();
            match resolve_predefined_entity(&name) {
                Some(s) => text.push_str(s),
                None => return Err(WireError::Xml(format!("unknown entity reference &{name};"))),
            }
        }
        Err(e) => return Err(WireError::Xml(e.to_string())),
    }
    Ok(())
}

fn is_xsi(ns: &ResolveResult<'_>) -> bool {
    matches!(ns, ResolveResult::Bound(n) if n.as_ref() == NS_XSI)
}

/// Whether `raw` (an element's raw attributes, usually empty or short) contains `needle`.
#[inline]
fn has(raw: &str, needle: &[u8]) -> bool {
    let (raw, Some((&first, _))) = (raw.as_bytes(), needle.split_first()) else {
        return true;
    };
    // Cheaper than `windows(..).any(..)`: most positions fail on their first byte.
    raw.len() >= needle.len()
        && raw[..=raw.len() - needle.len()]
            .iter()
            .enumerate()
            .any(|(i, &b)| b == first && raw[i..].starts_with(needle))
}

/// XML whitespace (the only bytes allowed around attributes).
fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The attribute name in `raw` when it is exactly ` name="true"`, the one way WCF writes
/// `i:nil`; any other shape returns `None` and goes through quick-xml's attribute iterator.
fn wcf_nil_name(raw: &str) -> Option<&str> {
    let name = raw.strip_prefix(' ')?.strip_suffix("=\"true\"")?;
    let plain = !name.is_empty()
        && !name
            .bytes()
            .any(|b| is_xml_space(b) || matches!(b, b'=' | b'"' | b'\''));
    plain.then_some(name)
}

/// What an event inside a text member asks for next.
enum TextStep {
    /// Keep reading.
    More,
    /// A child element started (not expected in a text member): pass over it.
    Child,
    /// The member's end tag.
    End,
}

/// Appends a text node's content (line ends normalised as XML 1.0 requires).
#[inline]
fn push_text(text: &mut String, content: &str) {
    // Normalisation only changes text that holds a carriage return; skip its call otherwise.
    if has_cr(content.as_bytes()) {
        text.push_str(&BytesText::from_escaped(content).xml10_content());
    } else {
        text.push_str(content);
    }
}

/// The local part of a qualified name (after the first `:`), found with a plain loop: the
/// prefix is short, so a general byte search costs more than it saves.
#[inline]
fn local_part(qname: &[u8]) -> &[u8] {
    match qname.iter().position(|&b| b == b':') {
        Some(colon) => &qname[colon + 1..],
        None => qname,
    }
}

/// Whether `bytes` holds a carriage return (the only thing line-end normalisation changes).
#[inline]
fn has_cr(bytes: &[u8]) -> bool {
    bytes.contains(&b'\r')
}

/// Adds what `event` contributes to a text member's content.
fn absorb(event: Event<'_>, text: &mut String) -> Result<TextStep, WireError> {
    match event {
        Event::Text(t) => push_text(text, &t),
        Event::CData(t) => text.push_str(&t.xml10_content()),
        Event::GeneralRef(r) => push_reference(text, &r)?,
        Event::Start(_) => return Ok(TextStep::Child),
        Event::End(_) => return Ok(TextStep::End),
        Event::Eof => return Err(WireError::Truncated),
        _ => {}
    }
    Ok(TextStep::More)
}

/// Namespace scopes over a plain [`Reader`]: the same bindings `NsReader` would hold, but a
/// resolver scope is only opened for elements that declare namespaces (most carry no `xmlns`
/// attribute at all), so ordinary elements cost a depth counter.
struct Scopes {
    resolver: NamespaceResolver,
    /// Open elements (including an `Empty` one until the next read).
    depth: usize,
    /// Depths of the open elements that opened a resolver scope, innermost last.
    declared: Vec<usize>,
    /// The last event was `Empty`: its scope closes before the next read.
    pending_pop: bool,
    /// The attribute prefix (with its `:`, or empty) last seen on `i:nil`, and whether it is
    /// bound to the XML Schema instance namespace. Only opening or closing a resolver scope
    /// changes bindings, so both clear it.
    nil_prefix: String,
    nil_prefix_is_xsi: Option<bool>,
}

impl Scopes {
    fn new() -> Self {
        Self {
            resolver: NamespaceResolver::default(),
            depth: 0,
            declared: Vec::new(),
            pending_pop: false,
            nil_prefix: String::new(),
            nil_prefix_is_xsi: None,
        }
    }

    #[inline(always)]
    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), WireError> {
        // Generic trees are read recursively: a hostile or broken answer nested 50 000 levels
        // deep must be an error, not a stack overflow. Severa's answers nest about ten deep.
        if self.depth >= MAX_DEPTH {
            return Err(WireError::NotSoap(format!(
                "elements are nested deeper than {MAX_DEPTH} levels"
            )));
        }
        self.depth += 1;
        if has(start.attributes_raw(), b"xmlns") {
            self.resolver
                .push(start)
                .map_err(|e| xml_error(quick_xml::Error::Namespace(e)))?;
            self.declared.push(self.depth);
            self.nil_prefix_is_xsi = None;
        }
        Ok(())
    }

    #[inline]
    fn close(&mut self) {
        if self.declared.last() == Some(&self.depth) {
            self.declared.pop();
            self.resolver.pop();
            self.nil_prefix_is_xsi = None;
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn classify(&self, start: &BytesStart<'_>) -> KnownNs {
        classify(&self.resolver.resolve_element(start.name()).0)
    }

    /// `i:nil="true"` (any prefix bound to the XML Schema instance namespace).
    #[inline(always)]
    fn is_nil(&mut self, start: &BytesStart<'_>) -> bool {
        // Most elements carry no attributes at all.
        !start.attributes_raw().is_empty() && self.is_nil_attr(start)
    }

    /// [`Self::is_nil`] for an element with attributes.
    fn is_nil_attr(&mut self, start: &BytesStart<'_>) -> bool {
        let raw = start.attributes_raw();
        if !has(raw, b"nil") {
            return false;
        }
        let Some(name) = wcf_nil_name(raw) else {
            return start.attributes().with_checks(false).flatten().any(|attr| {
                let (ns, local) = self.resolver.resolve_attribute(attr.key);
                local.as_ref() == "nil"
                    && is_xsi(&ns)
                    && matches!(attr.value.as_ref(), "true" | "1")
            });
        };
        // Split where quick-xml splits a QName: at the first `:`.
        let (prefix, local) = match name.bytes().position(|b| b == b':') {
            Some(colon) => (&name[..=colon], &name[colon + 1..]),
            None => ("", name),
        };
        if local != "nil" {
            return false;
        }
        if self.nil_prefix_is_xsi.is_none() || self.nil_prefix != prefix {
            let (ns, _) = self.resolver.resolve_attribute(QName(name));
            self.nil_prefix.clear();
            self.nil_prefix.push_str(prefix);
            self.nil_prefix_is_xsi = Some(is_xsi(&ns));
        }
        self.nil_prefix_is_xsi == Some(true)
    }
}

/// Reads the next event, keeping `scopes` in step (what `NsReader` does, minus the work for
/// elements without namespace declarations).
#[inline(always)]
fn read_event<'b, R: BufRead>(
    reader: &mut Reader<R>,
    scopes: &mut Scopes,
    buf: &'b mut Vec<u8>,
) -> Result<Event<'b>, WireError> {
    if scopes.pending_pop {
        scopes.pending_pop = false;
        scopes.close();
    }
    buf.clear();
    let event = reader.read_event_into(buf).map_err(xml_error)?;
    match &event {
        Event::Start(start) => scopes.open(start)?,
        Event::Empty(start) => {
            scopes.open(start)?;
            scopes.pending_pop = true;
        }
        Event::End(_) => scopes.close(),
        _ => {}
    }
    Ok(event)
}

/// An element the reader has just entered. Exactly one of [`XmlIn::read_text`],
/// [`XmlIn::skip`], [`XmlIn::read_value`] or a [`XmlIn::next_child`] loop must consume it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Child {
    /// `i:nil="true"` was set.
    pub nil: bool,
    /// Self-closing (`<a:X/>`).
    pub empty: bool,
    pub ns: KnownNs,
}

/// Streaming reader with a one-element cursor.
pub struct XmlIn<R> {
    reader: Reader<R>,
    scopes: Scopes,
    buf: Vec<u8>,
    name: Vec<u8>,
    pending_empty: bool,
    started: bool,
    /// Before the document element: text there means the body is not XML at all.
    at_document_level: bool,
    /// Reused text buffer for scalar members.
    scratch: String,
}

impl<R: BufRead> XmlIn<R> {
    pub fn new(input: R) -> Self {
        let mut reader = Reader::from_reader(input);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        Self {
            reader,
            scopes: Scopes::new(),
            buf: Vec::with_capacity(256),
            name: Vec::with_capacity(64),
            pending_empty: false,
            started: false,
            at_document_level: false,
            scratch: String::with_capacity(64),
        }
    }

    /// Local name of the element most recently returned by [`Self::next_child`].
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Takes the name buffer out (to match on it while reading the element); give it back with
    /// [`Self::restore_name`] so the allocation is reused.
    pub fn take_name(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.name)
    }

    pub fn restore_name(&mut self, name: Vec<u8>) {
        self.name = name;
    }

    /// Enters the document element (call once, first).
    pub fn root(&mut self) -> Result<Child, WireError> {
        if self.started {
            return Err(WireError::NotSoap("root() called twice".into()));
        }
        self.started = true;
        self.at_document_level = true;
        let root = self.next_child();
        self.at_document_level = false;
        match root? {
            Some(child) => Ok(child),
            None => Err(WireError::NotSoap("no document element".into())),
        }
    }

    /// Enters the next child element of the current element, or returns `None` after consuming
    /// the current element's end tag. Text, comments and processing instructions between
    /// elements are passed over.
    pub fn next_child(&mut self) -> Result<Option<Child>, WireError> {
        if self.pending_empty {
            self.pending_empty = false;
            return Ok(None);
        }
        self.started = true;
        loop {
            let event = read_event(&mut self.reader, &mut self.scopes, &mut self.buf)?;
            let (start, empty) = match event {
                Event::Start(start) => (start, false),
                Event::Empty(start) => (start, true),
                Event::End(_) => return Ok(None),
                Event::Eof => return Err(WireError::Truncated),
                Event::Text(t)
                    if self.at_document_level && !t.xml10_content().trim().is_empty() =>
                {
                    let text: String = t.xml10_content().trim().chars().take(64).collect();
                    return Err(WireError::NotSoap(format!(
                        "the response is text, not XML: {text:?}"
                    )));
                }
                Event::CData(_) | Event::GeneralRef(_) if self.at_document_level => {
                    return Err(WireError::NotSoap(
                        "the response starts with text, not an element".into(),
                    ));
                }
                _ => continue,
            };
            let ns = self.scopes.classify(&start);
            self.name.clear();
            self.name
                .extend_from_slice(start.local_name().as_ref().as_bytes());
            let nil = self.scopes.is_nil(&start);
            self.pending_empty = empty;
            return Ok(Some(Child { nil, empty, ns }));
        }
    }

    /// Like [`Self::next_child`] for entity members (matched by local name only, so no
    /// namespace is resolved), matching the member's local name against `members` straight
    /// from the event (trying `members[expected]` first) instead of copying it into
    /// [`Self::name`]: the index of the match, or `None` for an unknown member.
    #[inline]
    pub fn next_member_of(
        &mut self,
        members: &[&str],
        expected: usize,
    ) -> Result<Option<(Child, Option<usize>)>, WireError> {
        if self.pending_empty {
            self.pending_empty = false;
            return Ok(None);
        }
        loop {
            let event = read_event(&mut self.reader, &mut self.scopes, &mut self.buf)?;
            let (start, empty) = match event {
                Event::Start(start) => (start, false),
                Event::Empty(start) => (start, true),
                Event::End(_) => return Ok(None),
                Event::Eof => return Err(WireError::Truncated),
                _ => continue,
            };
            let qname = start.name();
            let name = local_part(qname.as_ref().as_bytes());
            let found = if members.get(expected).is_some_and(|m| m.as_bytes() == name) {
                Some(expected)
            } else {
                members.iter().position(|m| m.as_bytes() == name)
            };
            let nil = self.scopes.is_nil(&start);
            self.pending_empty = empty;
            return Ok(Some((
                Child {
                    nil,
                    empty,
                    ns: KnownNs::Other,
                },
                found,
            )));
        }
    }

    /// Reads the text content of the element just entered, through its end tag. Character and
    /// predefined entity references are resolved; child elements (not expected in a text
    /// member) are passed over.
    pub fn read_text(&mut self) -> Result<String, WireError> {
        let mut text = String::new();
        if self.pending_empty {
            self.pending_empty = false;
            return Ok(text);
        }
        // One text node is the usual content: copy it once, into a string of its own size.
        match read_event(&mut self.reader, &mut self.scopes, &mut self.buf)? {
            Event::End(_) => return Ok(text),
            Event::Text(t) if !has_cr(t.as_bytes()) => text = String::from(&*t),
            other => match absorb(other, &mut text)? {
                TextStep::End => return Ok(text),
                TextStep::Child => self.skip_open()?,
                TextStep::More => {}
            },
        }
        self.read_text_into(&mut text)?;
        Ok(text)
    }

    /// Reads the text of the element just entered and hands it to `f` as a borrowed `&str`
    /// from a reused buffer (scalars need no `String` of their own).
    #[inline]
    pub fn with_text<T>(&mut self, f: impl FnOnce(&str) -> T) -> Result<T, WireError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let result = self.read_text_into(&mut scratch).map(|()| f(&scratch));
        self.scratch = scratch;
        result
    }

    /// Appends the content of the element just entered, through its end tag. The usual shapes
    /// (no content, or one text node) take the first two turns of the loop without leaving it.
    #[inline]
    fn read_text_into(&mut self, text: &mut String) -> Result<(), WireError> {
        if self.pending_empty {
            self.pending_empty = false;
            return Ok(());
        }
        loop {
            let step = match read_event(&mut self.reader, &mut self.scopes, &mut self.buf)? {
                Event::Text(t) => {
                    push_text(text, &t);
                    TextStep::More
                }
                Event::End(_) => return Ok(()),
                other => absorb(other, text)?,
            };
            match step {
                TextStep::More => {}
                TextStep::Child => self.skip_open()?,
                TextStep::End => return Ok(()),
            }
        }
    }

    /// Passes over the element just entered, whatever it holds.
    pub fn skip(&mut self) -> Result<(), WireError> {
        if self.pending_empty {
            self.pending_empty = false;
            return Ok(());
        }
        self.skip_open()
    }

    fn skip_open(&mut self) -> Result<(), WireError> {
        let mut depth = 0usize;
        loop {
            match read_event(&mut self.reader, &mut self.scopes, &mut self.buf)? {
                Event::Start(_) => depth += 1,
                Event::End(_) => {
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                Event::Eof => return Err(WireError::Truncated),
                _ => {}
            }
        }
    }

    /// Reads the element just entered as a generic tree: `i:nil` → [`Value::Nil`], text →
    /// [`Value::Text`], child elements → [`Value::Element`] (in document order, by local name).
    pub fn read_value(&mut self, child: Child) -> Result<Value, WireError> {
        if child.nil {
            self.skip()?;
            return Ok(Value::Nil);
        }
        if self.pending_empty {
            self.pending_empty = false;
            return Ok(Value::Text(String::new()));
        }
        let mut text = String::new();
        let mut children: Vec<(String, Value)> = Vec::new();
        loop {
            let event = read_event(&mut self.reader, &mut self.scopes, &mut self.buf)?;
            let ns = match &event {
                Event::Start(s) | Event::Empty(s) => self.scopes.classify(s),
                _ => KnownNs::None,
            };
            match event {
                Event::Text(t) if children.is_empty() => text.push_str(&t.xml10_content()),
                Event::CData(t) if children.is_empty() => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) if children.is_empty() => push_reference(&mut text, &r)?,
                Event::Start(_) | Event::Empty(_) => {
                    let empty = matches!(event, Event::Empty(_));
                    let (start_name, nil) = match &event {
                        Event::Start(s) | Event::Empty(s) => {
                            let nil = self.scopes.is_nil(s);
                            (s.local_name().as_ref().to_string(), nil)
                        }
                        _ => (String::new(), false),
                    };
                    self.pending_empty = empty;
                    let value = self.read_value(Child { nil, empty, ns })?;
                    children.push((start_name, value));
                }
                Event::End(_) => {
                    return Ok(if children.is_empty() {
                        Value::Text(text)
                    } else {
                        Value::Element(children)
                    });
                }
                Event::Eof => return Err(WireError::Truncated),
                _ => {}
            }
        }
    }

    /// After the document element is closed: only whitespace, comments and PIs may follow.
    pub fn finish(&mut self) -> Result<(), WireError> {
        loop {
            match read_event(&mut self.reader, &mut self.scopes, &mut self.buf)? {
                Event::Eof => return Ok(()),
                Event::Start(_) | Event::Empty(_) => {
                    return Err(WireError::Xml("content after the document element".into()));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wcf_nil_shape_or_steps_aside() {
        assert_eq!(wcf_nil_name(r#" i:nil="true""#), Some("i:nil"));
        assert_eq!(wcf_nil_name(r#" nil="true""#), Some("nil"));
        for other in [
            "",
            r#"i:nil="true""#,
            r#"  i:nil="true""#,
            r#" i:nil = "true""#,
            r#" i:nil="1""#,
            r#" i:nil='true'"#,
            r#" i:nil="true" "#,
            r#" a="x" i:nil="true""#,
            r#" ="true""#,
        ] {
            assert_eq!(wcf_nil_name(other), None, "{other:?}");
        }
    }

    /// The cached `i:nil` prefix must follow rebinding in nested scopes.
    #[test]
    fn nil_follows_prefix_rebinding() {
        let xml = format!(
            r#"<r xmlns:i="{NS_XSI}"><a i:nil="true"/><p xmlns:i="urn:other"><b i:nil="true"/><q xmlns:i="{NS_XSI}"><c i:nil="true"/></q><d i:nil="true"/></p><e i:nil="true"/><f j:nil="true" xmlns:j="{NS_XSI}"/><g nil="true"/><h i:nil="false"/><k  i:nil = '1' /><m a="x" i:nil="true"/><n i:nil="true" xmlns:i="urn:other"/></r>"#
        );
        let mut r = XmlIn::new(xml.as_bytes());
        assert!(r.root().is_ok());
        let mut seen = Vec::new();
        while r.scopes.depth > 0 {
            match r.next_child() {
                Ok(Some(child)) => {
                    let name = r.name_str();
                    // Enter the two scopes that rebind `i`; pass over everything else.
                    if name != "p" && name != "q" {
                        assert!(r.skip().is_ok());
                    }
                    seen.push((name, child.nil));
                }
                Ok(None) => {}
                Err(e) => panic!("{e}"),
            }
        }
        let nil: Vec<(&str, bool)> = seen.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        assert_eq!(
            nil,
            [
                ("a", true),
                ("p", false),
                ("b", false),
                ("q", false),
                ("c", true),
                ("d", false),
                ("e", true),
                ("f", true),
                ("g", false),
                ("h", false),
                ("k", true),
                ("m", true),
                ("n", false),
            ]
        );
    }
}
