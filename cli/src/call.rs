//! `bridgectl severa call`: resolves the operation, turns the `--param*` flags into wire
//! parameters, checks both against Severa's service contract (names, types, absent
//! non-nullable values: WCF would silently ignore or default them), calls `call_raw` and
//! renders the generic result tree as JSON.

use crate::args::ParamArg;
use crate::contract_check::{self, Given, Refusal};
use crate::error::CliError;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use severa::operations::{self, Operation};
use severa::wire::{NS_ARRAYS, NS_ENTITIES, NS_SEVERA, NS_XSI};
use severa::{Param, ParamValue, SeveraClient, Value};
use std::io::Read;
use std::path::Path;

/// The operation to call: `Interface.Operation`, plus its contract entry when there is one
/// (for a wrong interface: the operation's entry, so its parameters are still checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub interface: String,
    pub operation: String,
    pub known: Option<&'static Operation>,
}

/// Reads `Interface.Operation` or a bare operation name. A name outside the contract (or on
/// the wrong interface) comes back as a refusal, which `--force` may override; a bare unknown
/// name cannot be sent at all (its interface is the SOAPAction's middle).
pub fn resolve_target(spec: &str) -> Result<(Target, Vec<Refusal>), CliError> {
    let spec = spec.trim();
    match spec.split_once('.') {
        Some((interface, operation)) => {
            for (what, part) in [("interface", interface), ("operation", operation)] {
                if !is_xml_name(part) {
                    return Err(CliError::Usage(format!(
                        "{spec:?} is not <Interface>.<Operation>: the {what} name {part:?} is not a plain name"
                    )));
                }
            }
            let target = |known| Target {
                interface: interface.to_string(),
                operation: operation.to_string(),
                known,
            };
            if let Some(op) = operations::find(spec) {
                return Ok((target(Some(op)), Vec::new()));
            }
            if let Some(op) = operations::find(operation) {
                let refusal = Refusal::WrongInterface {
                    operation: op.name.into(),
                    given: interface.into(),
                    actual: op.interface.into(),
                };
                return Ok((target(Some(op)), vec![refusal]));
            }
            let refusal = Refusal::UnknownOperation {
                name: spec.into(),
                suggestions: contract_check::suggest_operation(spec),
            };
            Ok((target(None), vec![refusal]))
        }
        None => match operations::find(spec) {
            Some(op) => Ok((
                Target {
                    interface: op.interface.to_string(),
                    operation: op.name.to_string(),
                    known: Some(op),
                },
                Vec::new(),
            )),
            None => {
                let unknown = Refusal::UnknownOperation {
                    name: format!("{spec:?}"),
                    suggestions: contract_check::suggest_operation(spec),
                };
                Err(CliError::Usage(format!(
                    "{unknown} (an operation outside the contract is sent only as <Interface>.<Operation> with --force)"
                )))
            }
        },
    }
}

/// Whether the result is a list: by the contract's return type (`X[]`; `unsignedByte[]` is
/// base64 text), else by the name (`GetAll…`, `…ChangedSince…`, `Get<plural noun>By…`). An
/// empty list arrives as an empty or nil element, which only this tells apart from an empty
/// text or null single result.
pub fn is_list_result(target: &Target) -> bool {
    match target.known.and_then(|op| op.returns) {
        Some(returns) => returns.ends_with("[]") && returns != "unsignedByte[]",
        None if target.known.is_some() => false,
        None => is_list_operation(&target.operation),
    }
}

/// Whether Severa returns a list for this operation, judged by its name: `GetAll…`,
/// `…ChangedSince…`, or `Get<plural noun>By…` (`GetHourEntriesBy…`, `GetPhasesBy…`).
/// Used for operations outside the contract.
pub fn is_list_operation(operation: &str) -> bool {
    if operation.starts_with("GetAll") || operation.contains("ChangedSince") {
        return true;
    }
    let Some((noun, _)) = operation
        .strip_prefix("Get")
        .and_then(|rest| rest.split_once("By"))
    else {
        return false;
    };
    noun.ends_with('s') && !(noun.ends_with("ss") || noun.ends_with("us") || noun.ends_with("is"))
}

/// The wire parameters of a call, and what the contract check found.
#[derive(Debug)]
pub struct Prepared {
    /// In the contract's order for an operation it knows (WCF reads parameters in that
    /// order), else in command-line order.
    pub params: Vec<Param>,
    pub refusals: Vec<Refusal>,
}

/// Turns the flags into wire parameters and checks them against the contract; `read_file`
/// reads `@FILE` (injected so this is testable without files). Malformed flags, unreadable
/// files and broken XML are errors; contract mismatches are [`Prepared::refusals`].
pub fn build_params(
    target: &Target,
    args: &[ParamArg],
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Prepared, CliError> {
    let mut given: Vec<(&str, ParamValue)> = Vec::with_capacity(args.len());
    for arg in args {
        let (name, value) = match arg {
            ParamArg::Text(spec) => {
                let (name, value) = split_assignment(spec, "--param", "NAME=VALUE")?;
                (name, ParamValue::Text(value.to_string()))
            }
            ParamArg::Nil(name) => (name.trim(), ParamValue::Nil),
            ParamArg::Xml(spec) => {
                let (name, source) = split_assignment(spec, "--param-xml", "NAME=@FILE")?;
                let Some(path) = source.strip_prefix('@') else {
                    return Err(CliError::Usage(format!(
                        "--param-xml {name}: expected NAME=@FILE (the @ marks a file; @- is stdin), got {source:?}"
                    )));
                };
                let xml = read_file(path)
                    .map_err(|e| CliError::Usage(format!("--param-xml {name}: {e}")))?;
                let xml = strip_declaration(&xml).to_string();
                check_fragment(name, &xml)?;
                (name, ParamValue::Xml(xml))
            }
        };
        check_name(name)?;
        given.push((name, value));
    }
    let refusals = match target.known {
        Some(op) => {
            let view: Vec<(&str, Given<'_>)> = given
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        ParamValue::Text(text) => Given::Text(text),
                        ParamValue::Nil => Given::Nil,
                        ParamValue::Xml(xml) => Given::Xml(xml),
                    };
                    (*name, value)
                })
                .collect();
            let refusals = contract_check::check_params(op, &view);
            // Stable: names outside the contract (only sent with --force) keep their order, last.
            given.sort_by_key(|(name, _)| {
                op.params
                    .iter()
                    .position(|p| p.name == *name)
                    .unwrap_or(usize::MAX)
            });
            refusals
        }
        None => Vec::new(),
    };
    let params = given
        .iter()
        .map(|(name, value)| {
            Param::from_value(name, value)
                .map_err(|e| CliError::Usage(format!("parameter {name}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Prepared { params, refusals })
}

/// Reads a `--param-xml` file (`-` is stdin) as UTF-8.
pub fn read_param_file(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(Path::new(path)).map_err(|e| format!("cannot read {path:?}: {e}"))
}

/// Calls the operation and renders its result: members → keys, nil → null, lists → arrays,
/// void → `null`.
pub async fn run(
    client: &SeveraClient,
    target: &Target,
    params: Vec<Param>,
) -> Result<serde_json::Value, CliError> {
    let response = client
        .call_raw(&target.interface, &target.operation, params)
        .await?;
    tracing::debug!(
        quota_used = response.quota.used,
        quota_limit = response.quota.limit,
        "call returned"
    );
    Ok(render_result(
        is_list_result(target),
        response.value.as_ref(),
    ))
}

/// The JSON printed for a result tree (`None` is a void operation).
pub fn render_result(is_list: bool, value: Option<&Value>) -> serde_json::Value {
    match value {
        Some(value) => value.to_json(is_list),
        None => serde_json::Value::Null,
    }
}

fn split_assignment<'a>(
    spec: &'a str,
    flag: &str,
    shape: &str,
) -> Result<(&'a str, &'a str), CliError> {
    match spec.split_once('=') {
        Some((name, value)) => Ok((name.trim(), value)),
        None => Err(CliError::Usage(format!(
            "{flag} {spec:?}: expected {shape}"
        ))),
    }
}

fn check_name(name: &str) -> Result<(), CliError> {
    if !is_xml_name(name) {
        return Err(CliError::Usage(format!(
            "parameter name {name:?} is not a plain element name (letters, digits, _)"
        )));
    }
    Ok(())
}

/// Names written into the envelope unescaped must be plain XML names.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A file saved by an editor may start with a BOM and an XML declaration; neither may appear
/// inside the envelope.
fn strip_declaration(xml: &str) -> &str {
    let xml = xml.trim_start_matches('\u{feff}').trim_start();
    if xml.starts_with("<?xml") {
        if let Some(end) = xml.find("?>") {
            return xml[end + 2..].trim_start();
        }
    }
    xml
}

/// Checks the fragment is well-formed and uses only prefixes the envelope declares (or that it
/// declares itself), so a typo fails here with a message instead of as a Severa fault.
fn check_fragment(name: &str, xml: &str) -> Result<(), CliError> {
    let wrapped = format!(
        "<w xmlns:t=\"{NS_SEVERA}\" xmlns:e=\"{NS_ENTITIES}\" xmlns:arr=\"{NS_ARRAYS}\" xmlns:i=\"{NS_XSI}\">{xml}</w>"
    );
    let mut reader = NsReader::from_str(&wrapped);
    reader.config_mut().check_end_names = true;
    let unknown = |prefix: &str| {
        CliError::Usage(format!(
            "--param-xml {name}: prefix {prefix:?} is not declared; use e: (entities), arr: (arrays), i: (xsi) or declare it in the file"
        ))
    };
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| {
            CliError::Usage(format!(
                "--param-xml {name}: the file is not well-formed XML: {e}"
            ))
        })?;
        if let ResolveResult::Unknown(prefix) = ns {
            return Err(unknown(&prefix));
        }
        match event {
            Event::Start(start) | Event::Empty(start) => {
                for attr in start.attributes().with_checks(false).flatten() {
                    if let (ResolveResult::Unknown(prefix), _) =
                        reader.resolver().resolve_attribute(attr.key)
                    {
                        return Err(unknown(&prefix));
                    }
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(_: &str) -> Result<String, String> {
        Err("no files in this test".into())
    }

    fn text(spec: &str) -> ParamArg {
        ParamArg::Text(spec.into())
    }

    fn markup(prepared: &Prepared) -> Vec<&str> {
        prepared.params.iter().map(|p| p.markup.as_str()).collect()
    }

    #[test]
    fn list_operations_are_recognised_by_name() {
        for op in [
            "GetAllUsers",
            "GetAllInvoiceStatuses",
            "GetHourEntriesChangedSince",
            "GetUsersChangedSince",
            "GetHourEntriesByCaseGUID",
            "GetHourEntriesByDateAndUserGUID",
            "GetPhasesByCaseGUID",
            "GetContactsByAccountGUID",
            "GetInvoicesByDate",
            "GetWorkTypesByPhaseGUID",
        ] {
            assert!(is_list_operation(op), "{op}");
        }
        for op in [
            "GetCaseByGUID",
            "GetHourEntryByGUID",
            "GetAccountByNumber",
            "GetUserByName",
            "GetAddressByGUID",
            "GetInvoiceStatusByGUID",
            "GetVersion",
            "GetEntitySchemaVersion",
            "AddNewHourEntry",
            "SetInvoicePaymentDate",
        ] {
            assert!(!is_list_operation(op), "{op}");
        }
    }

    #[test]
    fn list_results_follow_the_contract_return_type() {
        let list = |spec: &str| is_list_result(&resolve_target(spec).unwrap().0);
        assert!(list("GetAllInvoiceStatuses"));
        assert!(list("GetUsersByGUIDs"));
        assert!(!list("GetUserByCode"));
        assert!(!list("SetInvoicePaymentDate"));
        // byte[] is base64 text, not a list of bytes.
        assert!(!list("GetInvoicePdf"));
        // Outside the contract: by name.
        assert!(list("IFoo.GetAllFoos"));
    }

    #[test]
    fn every_contract_operation_resolves_bare_and_qualified() {
        assert_eq!(operations::ALL.len(), 256);
        for op in operations::ALL {
            for spec in [op.name.to_string(), op.qualified_name()] {
                let (t, refusals) = resolve_target(&spec).unwrap();
                assert_eq!(t.known, Some(op));
                assert_eq!(
                    (t.interface.as_str(), t.operation.as_str()),
                    (op.interface, op.name)
                );
                assert!(refusals.is_empty(), "{spec}: {refusals:?}");
            }
        }
    }

    #[test]
    fn unknown_operations_are_refused_with_close_names() {
        let err = resolve_target("GetUserByCod").unwrap_err().to_string();
        assert!(err.contains("did you mean GetUserByCode?"), "{err}");
        let err = resolve_target("getuserbycode").unwrap_err().to_string();
        assert!(err.contains("did you mean GetUserByCode?"), "{err}");
        // Qualified: a refusal --force may override.
        let (t, refusals) = resolve_target("IFoo.DoThing").unwrap();
        assert!(t.known.is_none());
        assert!(matches!(refusals[..], [Refusal::UnknownOperation { .. }]));
        let (t, refusals) = resolve_target("ICase.GetUserByCode").unwrap();
        assert_eq!(t.interface, "ICase");
        assert_eq!(
            refusals[0].to_string(),
            "GetUserByCode is on IUser, not ICase; call it as IUser.GetUserByCode"
        );
        assert!(resolve_target("I<x>.Op").is_err());
    }

    #[test]
    fn parameter_names_are_checked_case_sensitively() {
        let (target, _) = resolve_target("IPhase.GetPhasesByCaseGUID").unwrap();
        let prepared = build_params(&target, &[text("caseGuid=x")], &no_files).unwrap();
        let err = prepared.refusals[0].to_string();
        assert!(
            err.contains("takes caseGUID (string); unknown parameter 'caseGuid'"),
            "{err}"
        );
        assert!(err.contains("did you mean caseGUID"), "{err}");
        let ok = build_params(&target, &[text("caseGUID=x")], &no_files).unwrap();
        assert!(ok.refusals.is_empty());
    }

    #[test]
    fn known_operations_get_their_parameters_in_contract_order() {
        let (target, _) = resolve_target("GetHourEntriesByCaseGUID").unwrap();
        let prepared = build_params(
            &target,
            &[
                ParamArg::Nil("endDate".into()),
                text("startDate=2024-05-01"),
                text("caseGuid=c-1"),
            ],
            &no_files,
        )
        .unwrap();
        assert!(prepared.refusals.is_empty(), "{:?}", prepared.refusals);
        assert_eq!(
            markup(&prepared),
            [
                "<t:caseGuid>c-1</t:caseGuid>",
                "<t:startDate>2024-05-01</t:startDate>",
                "<t:endDate i:nil=\"true\"/>"
            ]
        );
    }

    #[test]
    fn operations_outside_the_contract_take_any_plain_name_in_command_line_order() {
        let (target, _) = resolve_target("IFoo.Bar").unwrap();
        let prepared = build_params(
            &target,
            &[text("b=1 & 2"), ParamArg::Nil("a".into()), text("c=")],
            &no_files,
        )
        .unwrap();
        assert!(prepared.refusals.is_empty());
        assert_eq!(
            markup(&prepared),
            [
                "<t:b>1 &amp; 2</t:b>",
                "<t:a i:nil=\"true\"/>",
                "<t:c></t:c>"
            ]
        );
        assert!(build_params(&target, &[text("no-equals")], &no_files).is_err());
        assert!(build_params(&target, &[text("bad name=1")], &no_files).is_err());
    }

    #[test]
    fn xml_params_are_read_checked_and_inserted() {
        let (target, _) = resolve_target("IHourEntry.AddNewHourEntry").unwrap();
        let files = |path: &str| -> Result<String, String> {
            match path {
                "ok.xml" => Ok("\u{feff}<?xml version=\"1.0\"?>\n<e:Description>a</e:Description><e:InvoiceGUID i:nil=\"true\"/>".into()),
                "prefix.xml" => Ok("<a:Description>a</a:Description>".into()),
                "attr.xml" => Ok("<e:X xsi:nil=\"true\"/>".into()),
                "broken.xml" => Ok("<e:Description>a</e:Quantity>".into()),
                "typo.xml" => Ok("<e:Descripton>a</e:Descripton>".into()),
                _ => Err("missing".into()),
            }
        };
        let prepared = build_params(
            &target,
            &[ParamArg::Xml("hourEntryInfo=@ok.xml".into())],
            &files,
        )
        .unwrap();
        assert!(prepared.refusals.is_empty(), "{:?}", prepared.refusals);
        assert_eq!(
            prepared.params[0].markup,
            "<t:hourEntryInfo><e:Description>a</e:Description><e:InvoiceGUID i:nil=\"true\"/></t:hourEntryInfo>"
        );
        for (file, needle) in [
            ("prefix.xml", "prefix \"a\""),
            ("attr.xml", "prefix \"xsi\""),
            ("broken.xml", "not well-formed"),
            ("gone.xml", "missing"),
        ] {
            let err = build_params(
                &target,
                &[ParamArg::Xml(format!("hourEntryInfo=@{file}"))],
                &files,
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(needle), "{file}: {err}");
        }
        let typo = build_params(
            &target,
            &[ParamArg::Xml("hourEntryInfo=@typo.xml".into())],
            &files,
        )
        .unwrap();
        assert!(
            typo.refusals[0]
                .to_string()
                .contains("did you mean Description?")
        );
        let err = build_params(
            &target,
            &[ParamArg::Xml("hourEntryInfo=ok.xml".into())],
            &files,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("NAME=@FILE"), "{err}");
    }

    #[test]
    fn void_renders_null_and_empty_lists_render_arrays() {
        assert_eq!(render_result(false, None), serde_json::Value::Null);
        let empty = Value::Text(String::new());
        assert_eq!(render_result(true, Some(&empty)), serde_json::json!([]));
        assert_eq!(
            render_result(false, Some(&Value::Text("1.2".into()))),
            serde_json::json!("1.2")
        );
    }
}
