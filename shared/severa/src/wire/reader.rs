//! A pull reader over a SOAP response: namespace-aware, streaming, no DOM. Typed values and the
//! generic [`Value`] tree are both read through it.

use super::tree::Value;
use super::{NS_API, NS_ARRAYS, NS_ENTITIES, NS_SEVERA, NS_SOAP_ENV, NS_XSI};
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{NamespaceError, NamespaceResolver, ResolveResult};
use std::io::BufRead;

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

/// Whether `raw` (an element's raw attributes, usually empty or short) contains `needle`.
#[inline]
fn has(raw: &str, needle: &[u8]) -> bool {
    raw.len() >= needle.len() && raw.as_bytes().windows(needle.len()).any(|w| w == needle)
}

/// `i:nil="true"` (any prefix bound to the XML Schema instance namespace).
fn is_nil(resolver: &NamespaceResolver, start: &BytesStart<'_>) -> bool {
    if !has(start.attributes_raw(), b"nil") {
        return false;
    }
    start.attributes().with_checks(false).flatten().any(|attr| {
        let (ns, local) = resolver.resolve_attribute(attr.key);
        local.as_ref() == "nil"
            && matches!(ns, ResolveResult::Bound(n) if n.as_ref() == NS_XSI)
            && matches!(attr.value.as_ref(), "true" | "1")
    })
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
}

impl Scopes {
    fn new() -> Self {
        Self {
            resolver: NamespaceResolver::default(),
            depth: 0,
            declared: Vec::new(),
            pending_pop: false,
        }
    }

    #[inline]
    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), WireError> {
        if self.depth >= u16::MAX as usize {
            return Err(xml_error(quick_xml::Error::Namespace(
                NamespaceError::TooDeeplyNested(u16::MAX as usize),
            )));
        }
        self.depth += 1;
        if has(start.attributes_raw(), b"xmlns") {
            self.resolver
                .push(start)
                .map_err(|e| xml_error(quick_xml::Error::Namespace(e)))?;
            self.declared.push(self.depth);
        }
        Ok(())
    }

    #[inline]
    fn close(&mut self) {
        if self.declared.last() == Some(&self.depth) {
            self.declared.pop();
            self.resolver.pop();
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn classify(&self, start: &BytesStart<'_>) -> KnownNs {
        classify(&self.resolver.resolve_element(start.name()).0)
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
            let nil = is_nil(&self.scopes.resolver, &start);
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
            let local = start.local_name();
            let name = local.as_ref().as_bytes();
            let found = if members.get(expected).is_some_and(|m| m.as_bytes() == name) {
                Some(expected)
            } else {
                members.iter().position(|m| m.as_bytes() == name)
            };
            let nil = is_nil(&self.scopes.resolver, &start);
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
        self.read_text_into(&mut text)?;
        Ok(text)
    }

    /// Reads the text of the element just entered and hands it to `f` as a borrowed `&str`
    /// from a reused buffer (scalars need no `String` of their own).
    pub fn with_text<T>(&mut self, f: impl FnOnce(&str) -> T) -> Result<T, WireError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let result = self.read_text_into(&mut scratch).map(|()| f(&scratch));
        self.scratch = scratch;
        result
    }

    fn read_text_into(&mut self, text: &mut String) -> Result<(), WireError> {
        if self.pending_empty {
            self.pending_empty = false;
            return Ok(());
        }
        loop {
            match read_event(&mut self.reader, &mut self.scopes, &mut self.buf)? {
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::CData(t) => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => push_reference(text, &r)?,
                Event::Start(_) => self.skip_open()?,
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(WireError::Truncated),
                _ => {}
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
                            let nil = is_nil(&self.scopes.resolver, s);
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
