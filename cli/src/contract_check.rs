//! Checks a raw call against Severa's service contract before anything is sent.
//!
//! WCF ignores an element it does not know and reads an absent value-type parameter as false /
//! 0 / 0001-01-01, so a misspelt name "works" on the real service and does the wrong thing.
//! Everything found here is a [`Refusal`]: `call` stops on it, or with `--force` warns and
//! sends anyway.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use severa::contract::{self, EnumSpec, MemberSpec, TypeSpec};
use severa::operations::{self, Operation, ParamSpec};
use severa::wire::{NS_ARRAYS, NS_ENTITIES, NS_SEVERA, NS_XSI};
use std::fmt;

/// One way a call does not match the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "Severa's contract has no operation {name}{}",
        did_you_mean(suggestions)
    )]
    UnknownOperation {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("{operation} is on {actual}, not {given}; call it as {actual}.{operation}")]
    WrongInterface {
        operation: String,
        given: String,
        actual: String,
    },
    #[error("{operation} takes {takes}; unknown parameter '{name}'{hint}")]
    UnknownParam {
        operation: String,
        /// `userCode (string)` / `a (string), b (int)` / `no parameters`
        takes: String,
        name: String,
        /// ` (case matters: did you mean userCode?)` or empty.
        hint: String,
    },
    #[error("{operation} takes {param}; {problem}")]
    BadValue {
        operation: String,
        /// `accountNumber (long)`
        param: String,
        /// `'abc' is not a valid long (a whole number)`
        problem: String,
    },
    #[error("{operation}: {param} is not given; Severa would read it as {default}")]
    Missing {
        operation: String,
        param: String,
        default: String,
    },
    #[error(
        "{operation} takes {param}, {what}: give it as XML with --param-xml {name}=@FILE ({content})"
    )]
    NeedsXml {
        operation: String,
        param: String,
        name: String,
        /// `an entity` / `a list`
        what: &'static str,
        /// What the file holds.
        content: String,
    },
    #[error("{operation} takes {param}, which cannot be nil (Severa would fault); give a value")]
    NotNullable { operation: String, param: String },
    #[error("{operation}: parameter {name} is given {count} times")]
    Duplicate {
        operation: String,
        name: String,
        count: usize,
    },
    #[error(
        "--param-xml {param}: {ty} has no member '{member}'{hint}; Severa would ignore it (bridgectl severa ops --type {ty} lists the members)"
    )]
    UnknownMember {
        param: String,
        ty: String,
        member: String,
        hint: String,
    },
    #[error(
        "--param-xml {param}: <{member}> is not in {ty}'s namespace {namespace}, so Severa would ignore it; write it as e:{member}"
    )]
    MemberNamespace {
        param: String,
        ty: String,
        member: String,
        namespace: String,
    },
    #[error(
        "--param-xml {param}: {ty} member {member} is written after {after}; Severa reads members in wire order and would ignore it (bridgectl severa ops --type {ty} shows the order)"
    )]
    MemberOrder {
        param: String,
        ty: String,
        member: String,
        after: String,
    },
    #[error("--param-xml {param}: {ty} member {member}; {problem}")]
    BadMember {
        param: String,
        ty: String,
        /// `Quantity (decimal)`
        member: String,
        problem: String,
    },
}

/// Several refusals on one stderr line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals(pub Vec<Refusal>);

impl fmt::Display for Refusals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, refusal) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{refusal}")?;
        }
        Ok(())
    }
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => "; bridgectl severa ops <filter> lists them".to_string(),
        [one] => format!("; did you mean {one}?"),
        many => format!("; did you mean one of {}?", many.join(", ")),
    }
}

/// How a parameter's value is given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given<'a> {
    /// `--param NAME=VALUE`
    Text(&'a str),
    /// `--param-nil NAME`
    Nil,
    /// `--param-xml NAME=@FILE` (the file's content, declaration stripped, well-formed)
    Xml(&'a str),
}

/// What a contract type name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `string`, `int`, `dateTime`, ... (text on the wire).
    Scalar,
    Enum(&'static EnumSpec),
    Entity(&'static TypeSpec),
    /// `X[]`; `unsignedByte[]` is not a list but base64 text ([`Shape::Scalar`]).
    List,
    /// A name the contract file does not describe; treated as text.
    Unknown,
}

/// Looks a type up; a namespace-qualified name (`Severa.Entities.CommunicationMethodType`) is
/// also tried by its last part.
pub fn shape(ty: &str) -> Shape {
    if ty == "unsignedByte[]" {
        return Shape::Scalar;
    }
    if ty.ends_with("[]") {
        return Shape::List;
    }
    if ty == "string" || ty == "unsignedByte" || contract::is_value_type(ty) {
        return Shape::Scalar;
    }
    let short = ty.rsplit('.').next().unwrap_or(ty);
    if let Some(e) = contract::enum_spec(ty).or_else(|| contract::enum_spec(short)) {
        return Shape::Enum(e);
    }
    if let Some(t) = contract::type_spec(ty).or_else(|| contract::type_spec(short)) {
        return Shape::Entity(t);
    }
    Shape::Unknown
}

/// `int`, `dateTime`, enums, ...: types WCF cannot read as null, so an absent non-nullable one
/// becomes its default.
pub fn has_default(ty: &str) -> bool {
    contract::is_value_type(ty) || ty == "unsignedByte" || matches!(shape(ty), Shape::Enum(_))
}

/// What WCF reads an absent non-nullable value as.
pub fn default_text(ty: &str) -> String {
    match ty {
        "boolean" => "false".into(),
        "dateTime" => "0001-01-01T00:00:00".into(),
        _ => match shape(ty) {
            Shape::Enum(e) => e
                .values
                .iter()
                .find_map(|v| {
                    let (name, value) = v.split_once(" = ")?;
                    (value.trim() == "0").then(|| name.trim().to_string())
                })
                .unwrap_or_else(|| "0".into()),
            _ => "0".into(),
        },
    }
}

/// The type as signatures show it: `dateTime?` for a nullable value type.
pub fn type_text(ty: &str, nullable: bool) -> String {
    if nullable && contract::is_value_type(ty) {
        format!("{ty}?")
    } else {
        ty.to_string()
    }
}

/// `userCode (string)`
pub fn param_text(p: &ParamSpec) -> String {
    format!("{} ({})", p.name, type_text(p.ty, p.nullable))
}

/// `userCode (string)`, `a (string), b (int)`, or `no parameters`.
pub fn takes_text(op: &Operation) -> String {
    if op.params.is_empty() {
        return "no parameters".into();
    }
    op.params
        .iter()
        .map(param_text)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks `text` as a value of `ty`; the problem as a user reads it.
pub fn check_value(ty: &str, text: &str) -> Result<(), String> {
    match shape(ty) {
        Shape::Enum(e) => {
            let names: Vec<&str> = e.names().collect();
            let tokens: Vec<&str> = text.split_whitespace().collect();
            // Flags enums are written as space-separated names; each must be a name.
            if tokens.is_empty()
                || tokens
                    .iter()
                    .any(|t| contract::check_scalar(e.name, t).is_err())
            {
                return Err(format!("'{text}' is not one of {}", names.join(", ")));
            }
            Ok(())
        }
        Shape::Scalar => contract::check_scalar(ty, text).map_err(|_| {
            let hint = match ty {
                "int" => " (a whole number up to 2147483647)",
                "long" => " (a whole number)",
                "decimal" => " (a number such as 1.5)",
                "boolean" => " (true or false)",
                "dateTime" => " (such as 2024-05-01 or 2024-05-01T08:30:00)",
                "unsignedByte" => " (0 to 255)",
                _ => "",
            };
            format!("'{text}' is not a valid {ty}{hint}")
        }),
        _ => Ok(()),
    }
}

/// Checks the parameters given for `op` (name and value, in command-line order).
pub fn check_params(op: &Operation, given: &[(&str, Given<'_>)]) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    // Parameters a refusal already points at (case slips), so they are not reported missing too.
    let mut hinted: Vec<&str> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in given {
        if seen.contains(name) {
            continue;
        }
        seen.push(name);
        let count = given.iter().filter(|(n, _)| n == name).count();
        if count > 1 && op.param(name).is_some() {
            refusals.push(Refusal::Duplicate {
                operation: op.name.into(),
                name: (*name).into(),
                count,
            });
        }
        let Some(p) = op.param(name) else {
            let case = op.params.iter().find(|p| p.name.eq_ignore_ascii_case(name));
            let close = || {
                op.params
                    .iter()
                    .filter(|p| edit_distance(&p.name.to_lowercase(), &name.to_lowercase()) <= 2)
                    .min_by_key(|p| edit_distance(p.name, name))
            };
            let hint = match (case, case.is_none().then(close).flatten()) {
                (Some(p), _) => {
                    hinted.push(p.name);
                    format!(" (case matters: did you mean {}?)", p.name)
                }
                (None, Some(p)) => {
                    hinted.push(p.name);
                    format!(" (did you mean {}?)", p.name)
                }
                (None, None) => String::new(),
            };
            refusals.push(Refusal::UnknownParam {
                operation: op.name.into(),
                takes: takes_text(op),
                name: (*name).into(),
                hint,
            });
            continue;
        };
        match value {
            Given::Text(text) => match shape(p.ty) {
                Shape::Entity(t) => refusals.push(Refusal::NeedsXml {
                    operation: op.name.into(),
                    param: param_text(p),
                    name: p.name.into(),
                    what: "an entity",
                    content: format!(
                        "its members as <e:Name>…</e:Name> in wire order; bridgectl severa ops --type {} lists them",
                        t.name
                    ),
                }),
                Shape::List => refusals.push(Refusal::NeedsXml {
                    operation: op.name.into(),
                    param: param_text(p),
                    name: p.name.into(),
                    what: "a list",
                    content: list_items_hint(p.ty),
                }),
                _ => {
                    if let Err(problem) = check_value(p.ty, text) {
                        let problem = if text.is_empty() && p.nullable {
                            format!("{problem}; --param-nil {} sends null", p.name)
                        } else {
                            problem
                        };
                        refusals.push(Refusal::BadValue {
                            operation: op.name.into(),
                            param: param_text(p),
                            problem,
                        });
                    }
                }
            },
            Given::Nil => {
                if !p.nullable && has_default(p.ty) {
                    refusals.push(Refusal::NotNullable {
                        operation: op.name.into(),
                        param: param_text(p),
                    });
                }
            }
            Given::Xml(xml) => {
                if let Shape::Entity(t) = shape(p.ty) {
                    refusals.extend(check_members(p.name, t, xml));
                }
            }
        }
    }
    for p in op.params {
        let absent = !given.iter().any(|(n, _)| *n == p.name);
        if absent && !p.nullable && has_default(p.ty) && !hinted.contains(&p.name) {
            refusals.push(Refusal::Missing {
                operation: op.name.into(),
                param: param_text(p),
                default: default_text(p.ty),
            });
        }
    }
    refusals
}

/// What the items of a list parameter look like in the `--param-xml` file.
fn list_items_hint(ty: &str) -> String {
    let item = ty.trim_end_matches("[]");
    match shape(item) {
        Shape::Entity(t) => format!("one <e:{0}>…</e:{0}> per item", t.name),
        _ => format!("one <arr:{item}>…</arr:{item}> per item"),
    }
}

/// An entity's members in wire order: the base type's first (WCF writes them first).
pub fn wire_members(t: &'static TypeSpec) -> Vec<(&'static MemberSpec, &'static TypeSpec)> {
    let mut chain = vec![t];
    let mut current = t;
    // The contract has no cycles; the bound only guards against a malformed table.
    while let Some(base) = current.base.and_then(contract::type_spec) {
        if chain.len() > 16 || chain.iter().any(|c| c.name == base.name) {
            break;
        }
        chain.push(base);
        current = base;
    }
    chain
        .iter()
        .rev()
        .flat_map(|t| t.members.iter().map(move |m| (m, *t)))
        .collect()
}

/// Checks the top-level members of an entity fragment: known names, the entity's namespace,
/// wire order, and leaf values of scalar and enum members. Only called on well-formed XML.
fn check_members(param: &str, t: &'static TypeSpec, xml: &str) -> Vec<Refusal> {
    let members = wire_members(t);
    let wrapped = format!(
        "<w xmlns:t=\"{NS_SEVERA}\" xmlns:e=\"{NS_ENTITIES}\" xmlns:arr=\"{NS_ARRAYS}\" xmlns:i=\"{NS_XSI}\">{xml}</w>"
    );
    let mut reader = NsReader::from_str(&wrapped);
    let mut refusals = Vec::new();
    let mut depth = 0usize;
    // The member being read: its spec, whether it is plain text so far, its text.
    let mut current: Option<(&'static MemberSpec, bool, String)> = None;
    let mut last: Option<(usize, &'static str)> = None;
    loop {
        let Ok((ns, event)) = reader.read_resolved_event() else {
            return refusals;
        };
        let ns = match ns {
            ResolveResult::Bound(ns) => Some(ns.as_ref().to_string()),
            _ => None,
        };
        let (start, empty) = match &event {
            Event::Start(s) => (Some(s.clone()), false),
            Event::Empty(s) => (Some(s.clone()), true),
            _ => (None, false),
        };
        if let Some(start) = start {
            depth += 1;
            if depth == 2 {
                let local = start.local_name().as_ref().to_string();
                let nil = start.attributes().with_checks(false).flatten().any(|a| {
                    let (ans, local) = reader.resolver().resolve_attribute(a.key);
                    matches!(ans, ResolveResult::Bound(n) if n.as_ref() == NS_XSI)
                        && local.as_ref() == "nil"
                        && a.value.as_ref() == "true"
                });
                current = member_start(
                    param,
                    t,
                    &members,
                    &local,
                    ns.as_deref(),
                    nil,
                    &mut last,
                    &mut refusals,
                );
                if empty {
                    if let Some((m, true, text)) = current.take() {
                        check_member_value(param, t, m, &text, &mut refusals);
                    }
                }
            } else if depth > 2 {
                if let Some(cur) = current.as_mut() {
                    cur.1 = false;
                }
            }
            if empty {
                depth -= 1;
            }
            continue;
        }
        match event {
            Event::Text(text) if depth == 2 => {
                if let Some(cur) = current.as_mut() {
                    cur.2.push_str(&text.xml10_content());
                }
            }
            Event::CData(text) if depth == 2 => {
                if let Some(cur) = current.as_mut() {
                    cur.2.push_str(&text);
                }
            }
            // An entity reference in a value: not worth resolving for a check.
            Event::GeneralRef(_) if depth == 2 => {
                if let Some(cur) = current.as_mut() {
                    cur.1 = false;
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some((m, true, text)) = current.take() {
                        check_member_value(param, t, m, &text, &mut refusals);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => return refusals,
            _ => {}
        }
    }
}

/// Judges one top-level member element; returns its spec when its value should be checked.
#[allow(clippy::too_many_arguments)]
fn member_start(
    param: &str,
    t: &'static TypeSpec,
    members: &[(&'static MemberSpec, &'static TypeSpec)],
    local: &str,
    ns: Option<&str>,
    nil: bool,
    last: &mut Option<(usize, &'static str)>,
    refusals: &mut Vec<Refusal>,
) -> Option<(&'static MemberSpec, bool, String)> {
    let Some(index) = members.iter().position(|(m, _)| m.name == local) else {
        let case = members
            .iter()
            .find(|(m, _)| m.name.eq_ignore_ascii_case(local))
            .map(|(m, _)| format!(" (case matters: did you mean {}?)", m.name));
        let close = || {
            members
                .iter()
                .map(|(m, _)| (edit_distance(m.name, local), m.name))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, name)| format!(" (did you mean {name}?)"))
        };
        refusals.push(Refusal::UnknownMember {
            param: param.into(),
            ty: t.name.into(),
            member: local.into(),
            hint: case.or_else(close).unwrap_or_default(),
        });
        return None;
    };
    let (member, owner) = members[index];
    if ns != Some(owner.namespace) {
        refusals.push(Refusal::MemberNamespace {
            param: param.into(),
            ty: t.name.into(),
            member: local.into(),
            namespace: owner.namespace.into(),
        });
        return None;
    }
    if let Some((previous, previous_name)) = *last {
        if index <= previous {
            refusals.push(Refusal::MemberOrder {
                param: param.into(),
                ty: t.name.into(),
                member: member.name.into(),
                after: previous_name.into(),
            });
            return None;
        }
    }
    *last = Some((index, member.name));
    if nil && !member.nullable && has_default(member.ty) {
        refusals.push(Refusal::BadMember {
            param: param.into(),
            ty: t.name.into(),
            member: format!("{} ({})", member.name, type_text(member.ty, false)),
            problem: "it cannot be nil (Severa would fault); give a value".into(),
        });
        return None;
    }
    (!nil && matches!(shape(member.ty), Shape::Scalar | Shape::Enum(_)))
        .then(|| (member, true, String::new()))
}

fn check_member_value(
    param: &str,
    t: &TypeSpec,
    m: &MemberSpec,
    text: &str,
    refusals: &mut Vec<Refusal>,
) {
    if let Err(problem) = check_value(m.ty, text) {
        refusals.push(Refusal::BadMember {
            param: param.into(),
            ty: t.name.into(),
            member: format!("{} ({})", m.name, type_text(m.ty, m.nullable)),
            problem,
        });
    }
}

/// Up to three names close to `wanted`: a case-insensitive match alone when there is one,
/// else names within a small edit distance or containing it, closest first (and no more than
/// one edit farther than the closest).
pub fn suggest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let candidates: Vec<&str> = candidates.into_iter().collect();
    if let Some(exact) = candidates.iter().find(|c| c.to_lowercase() == wanted_lower) {
        return vec![(*exact).to_string()];
    }
    let limit = (wanted.chars().count() / 4).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .iter()
        .filter_map(|c| {
            let lower = c.to_lowercase();
            let d = edit_distance(&lower, &wanted_lower);
            let contains = wanted_lower.len() >= 4 && lower.contains(&wanted_lower);
            (d <= limit || contains).then_some((d, *c))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    // A near miss is the answer; names much farther than the closest are noise.
    let best = scored.first().map_or(0, |(d, _)| *d);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= best + 1)
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Suggestions for an operation name, bare or `Interface.Operation`.
pub fn suggest_operation(wanted: &str) -> Vec<String> {
    if wanted.contains('.') {
        let qualified: Vec<String> = operations::ALL
            .iter()
            .map(Operation::qualified_name)
            .collect();
        suggest(wanted, qualified.iter().map(String::as_str))
    } else {
        suggest(wanted, operations::ALL.iter().map(|o| o.name))
    }
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> &'static Operation {
        operations::find(name).unwrap()
    }

    fn messages(refusals: &[Refusal]) -> Vec<String> {
        refusals.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn unknown_parameter_names_what_the_operation_takes() {
        let r = messages(&check_params(
            op("GetUserByCode"),
            &[("code", Given::Text("AA"))],
        ));
        assert_eq!(
            r,
            ["GetUserByCode takes userCode (string); unknown parameter 'code'"]
        );
        let r = messages(&check_params(
            op("GetHourEntriesByCaseGUID"),
            &[("caseGUID", Given::Text("c-1"))],
        ));
        assert_eq!(
            r,
            [
                "GetHourEntriesByCaseGUID takes caseGuid (string), startDate (dateTime?), endDate (dateTime?); unknown parameter 'caseGUID' (case matters: did you mean caseGuid?)"
            ]
        );
        let r = messages(&check_params(op("GetVersion"), &[("x", Given::Text("1"))]));
        assert_eq!(r, ["GetVersion takes no parameters; unknown parameter 'x'"]);
    }

    #[test]
    fn values_must_parse_as_the_declared_type() {
        let r = messages(&check_params(
            op("GetAccountByNumber"),
            &[("accountNumber", Given::Text("abc"))],
        ));
        assert_eq!(r.len(), 1);
        assert!(
            r[0].starts_with(
                "GetAccountByNumber takes accountNumber (long); 'abc' is not a valid long"
            ),
            "{}",
            r[0]
        );
        assert!(
            check_params(
                op("GetAccountByNumber"),
                &[("accountNumber", Given::Text("9000000000"))]
            )
            .is_empty()
        );
        // Empty text is no dateTime; null is sent with --param-nil.
        let r = messages(&check_params(
            op("GetHourEntriesByCaseGUID"),
            &[
                ("caseGuid", Given::Text("")),
                ("startDate", Given::Text("")),
            ],
        ));
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].contains("--param-nil startDate"), "{}", r[0]);
        // Enums by name; flags enums as space-separated names.
        let all = op("GetAllAccounts");
        let ok = check_params(
            all,
            &[
                ("options", Given::Text("IncludeInactive ExcludeNotNumbered")),
                ("startFromIndex", Given::Text("0")),
                ("count", Given::Text("100")),
            ],
        );
        assert!(ok.is_empty(), "{ok:?}");
        let r = messages(&check_params(
            all,
            &[
                ("options", Given::Text("2")),
                ("startFromIndex", Given::Text("0")),
                ("count", Given::Text("100")),
            ],
        ));
        assert!(r[0].contains("'2' is not one of None, NewOnly"), "{r:?}");
    }

    #[test]
    fn absent_non_nullable_parameters_are_named_with_their_default() {
        let r = messages(&check_params(
            op("GetInvoicesByDate"),
            &[
                ("startDate", Given::Text("2024-01-01")),
                ("options", Given::Text("0")),
            ],
        ));
        assert_eq!(
            r,
            [
                "GetInvoicesByDate: endDate (dateTime) is not given; Severa would read it as 0001-01-01T00:00:00"
            ]
        );
        let r = messages(&check_params(op("GetAllAccounts"), &[]));
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(
            r[0].ends_with(
                "options (AccountGetOptions) is not given; Severa would read it as None"
            )
        );
        // A case slip is reported once, as the slip.
        let r = messages(&check_params(
            op("GetHourEntriesChangedSince"),
            &[("startdate", Given::Text("2024-01-01"))],
        ));
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].contains("did you mean startDate?"));
    }

    #[test]
    fn entities_and_lists_need_xml_and_value_types_cannot_be_nil() {
        let r = messages(&check_params(
            op("AddNewHourEntry"),
            &[("hourEntryInfo", Given::Text("x"))],
        ));
        assert!(
            r[0].starts_with(
                "AddNewHourEntry takes hourEntryInfo (HourEntry), an entity: give it as XML with --param-xml hourEntryInfo=@FILE"
            ),
            "{r:?}"
        );
        let r = messages(&check_params(
            op("GetUsersByGUIDs"),
            &[("userGUIDs", Given::Text("a,b"))],
        ));
        assert!(r[0].contains("a list"), "{r:?}");
        assert!(r[0].contains("<arr:string>"), "{r:?}");
        let r = messages(&check_params(
            op("GetInvoicesByDate"),
            &[
                ("startDate", Given::Text("2024-01-01")),
                ("endDate", Given::Nil),
                ("options", Given::Text("0")),
            ],
        ));
        assert_eq!(
            r,
            [
                "GetInvoicesByDate takes endDate (dateTime), which cannot be nil (Severa would fault); give a value"
            ]
        );
        let r = messages(&check_params(
            op("GetUserByCode"),
            &[
                ("userCode", Given::Text("a")),
                ("userCode", Given::Text("b")),
            ],
        ));
        assert_eq!(r, ["GetUserByCode: parameter userCode is given 2 times"]);
    }

    #[test]
    fn entity_members_are_checked_by_name_namespace_order_and_value() {
        let add = op("AddNewHourEntry");
        let check = |xml: &str| messages(&check_params(add, &[("hourEntryInfo", Given::Xml(xml))]));
        assert!(
            check("<e:Description>a &amp; b</e:Description><e:EventDate>2024-05-02</e:EventDate><e:InvoiceGUID i:nil=\"true\"/><e:Quantity>1.5</e:Quantity>")
                .is_empty()
        );
        let r = check("<e:Descripton>a</e:Descripton>");
        assert!(
            r[0].contains("HourEntry has no member 'Descripton' (did you mean Description?)"),
            "{r:?}"
        );
        let r = check("<Description>a</Description>");
        assert!(r[0].contains("write it as e:Description"), "{r:?}");
        let r = check("<e:Quantity>1</e:Quantity><e:EventDate>2024-05-02</e:EventDate>");
        assert!(
            r[0].contains("member EventDate is written after Quantity"),
            "{r:?}"
        );
        let r = check("<e:Quantity>lots</e:Quantity>");
        assert!(
            r[0].contains("member Quantity (decimal); 'lots' is not a valid decimal"),
            "{r:?}"
        );
        assert!(check("<e:EndTime i:nil=\"true\"></e:EndTime>").is_empty());
        let r = check("<e:IsBillable i:nil=\"true\"/>");
        assert!(
            r[0].contains("IsBillable (boolean); it cannot be nil"),
            "{r:?}"
        );
    }

    #[test]
    fn derived_types_list_base_members_first() {
        let t = contract::type_spec("TravelExpense").unwrap();
        let names: Vec<&str> = wire_members(t).iter().map(|(m, _)| m.name).collect();
        assert_eq!(names.first(), Some(&"Code"));
        assert_eq!(names.last(), Some(&"ExpenseClass"));
    }

    #[test]
    fn suggestions_prefer_case_then_distance() {
        assert_eq!(suggest_operation("getuserbycode"), ["GetUserByCode"]);
        assert_eq!(suggest_operation("GetUserByCod"), ["GetUserByCode"]);
        assert!(
            suggest_operation("IUser.GetUsrByCode").contains(&"IUser.GetUserByCode".to_string())
        );
        assert!(suggest_operation("Frobnicate").is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn every_contract_parameter_type_is_understood() {
        for op in operations::ALL {
            for p in op.params {
                assert_ne!(shape(p.ty), Shape::Unknown, "{} {}", op.name, p.ty);
            }
        }
    }
}
