//! `bridgectl severa call`: resolves the operation, turns the `--param*` flags into wire
//! parameters (checking names against the operation table, so a casing slip like `caseGUID`
//! for `caseGuid` fails here instead of being silently read as null by Severa), calls
//! `call_raw` and renders the generic result tree as JSON.

use crate::args::ParamArg;
use crate::error::CliError;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use severa::operations::{self, Operation};
use severa::wire::{NS_ARRAYS, NS_ENTITIES, NS_SEVERA, NS_XSI};
use severa::{Param, ParamValue, SeveraClient, Value};
use std::io::Read;
use std::path::Path;

/// The operation to call: `Interface.Operation`, plus its table entry when bridge knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub interface: String,
    pub operation: String,
    pub known: Option<&'static Operation>,
}

/// Reads `Interface.Operation`; a bare operation name is accepted when the table knows it.
pub fn resolve_target(spec: &str) -> Result<Target, CliError> {
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
            let known = operations::find(spec);
            if known.is_none() {
                if let Some(other) = operations::find(operation) {
                    tracing::warn!(
                        "bridge knows {} on interface {}, not {interface}; calling as given",
                        other.name,
                        other.interface
                    );
                }
            }
            Ok(Target {
                interface: interface.to_string(),
                operation: operation.to_string(),
                known,
            })
        }
        None => match operations::find(spec) {
            Some(op) => Ok(Target {
                interface: op.interface.to_string(),
                operation: op.name.to_string(),
                known: Some(op),
            }),
            None => Err(CliError::Usage(format!(
                "give the operation as <Interface>.<Operation> (e.g. IHourEntry.GetHourEntryByGUID); {spec:?} is not one bridge knows by name"
            ))),
        },
    }
}

/// Whether Severa returns a list for this operation, judged by its name: `GetAll…`,
/// `…ChangedSince…`, or `Get<plural noun>By…` (`GetHourEntriesBy…`, `GetPhasesBy…`).
/// An empty list arrives as an empty or nil element, which only the name tells apart from an
/// empty text or null single result.
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

/// Turns the flags into wire parameters in command-line order; `read_file` reads `@FILE`
/// (injected so this is testable without files).
pub fn build_params(
    target: &Target,
    args: &[ParamArg],
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Vec<Param>, CliError> {
    let mut params = Vec::with_capacity(args.len());
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
        check_name(target, name)?;
        let param = Param::from_value(name, &value)
            .map_err(|e| CliError::Usage(format!("parameter {name}: {e}")))?;
        params.push(param);
    }
    Ok(params)
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
    Ok(render_result(&target.operation, response.value.as_ref()))
}

/// The JSON printed for a result tree (`None` is a void operation).
pub fn render_result(operation: &str, value: Option<&Value>) -> serde_json::Value {
    match value {
        Some(value) => value.to_json(is_list_operation(operation)),
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

fn check_name(target: &Target, name: &str) -> Result<(), CliError> {
    if !is_xml_name(name) {
        return Err(CliError::Usage(format!(
            "parameter name {name:?} is not a plain element name (letters, digits, _)"
        )));
    }
    if let Some(op) = target.known {
        if !op.params.contains(&name) {
            let expected = if op.params.is_empty() {
                "it takes no parameters".to_string()
            } else {
                format!("expected (in this order): {}", op.params.join(", "))
            };
            let hint = op
                .params
                .iter()
                .find(|p| p.eq_ignore_ascii_case(name))
                .map(|p| format!(" (case matters: did you mean {p}?)"))
                .unwrap_or_default();
            return Err(CliError::Usage(format!(
                "{} has no parameter {name:?}; {expected}{hint}",
                op.qualified_name()
            )));
        }
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
    fn targets_resolve_qualified_and_known_bare_names() {
        let t = resolve_target("ICase.GetCaseByGUID").unwrap();
        assert_eq!(t.interface, "ICase");
        assert!(t.known.is_some());
        let t = resolve_target("GetVersion").unwrap();
        assert_eq!(
            (t.interface.as_str(), t.operation.as_str()),
            ("IAPI", "GetVersion")
        );
        let t = resolve_target("IFoo.DoThing").unwrap();
        assert!(t.known.is_none());
        assert!(resolve_target("DoThing").is_err());
        assert!(resolve_target("I<x>.Op").is_err());
    }

    #[test]
    fn parameter_names_are_checked_for_known_operations_case_sensitively() {
        let target = resolve_target("IPhase.GetPhasesByCaseGUID").unwrap();
        let err = build_params(&target, &[ParamArg::Text("caseGuid=x".into())], &no_files)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected (in this order): caseGUID"), "{err}");
        assert!(err.contains("did you mean caseGUID"), "{err}");
        assert!(build_params(&target, &[ParamArg::Text("caseGUID=x".into())], &no_files).is_ok());
    }

    #[test]
    fn unknown_operations_take_any_plain_name() {
        let target = resolve_target("IFoo.Bar").unwrap();
        let params = build_params(
            &target,
            &[
                ParamArg::Text("b=1 & 2".into()),
                ParamArg::Nil("a".into()),
                ParamArg::Text("c=".into()),
            ],
            &no_files,
        )
        .unwrap();
        let markup: Vec<_> = params.iter().map(|p| p.markup.as_str()).collect();
        assert_eq!(
            markup,
            [
                "<t:b>1 &amp; 2</t:b>",
                "<t:a i:nil=\"true\"/>",
                "<t:c></t:c>"
            ]
        );
        assert!(build_params(&target, &[ParamArg::Text("no-equals".into())], &no_files).is_err());
        assert!(build_params(&target, &[ParamArg::Text("bad name=1".into())], &no_files).is_err());
    }

    #[test]
    fn xml_params_are_read_checked_and_inserted() {
        let target = resolve_target("IHourEntry.AddNewHourEntry").unwrap();
        let files = |path: &str| -> Result<String, String> {
            match path {
                "ok.xml" => Ok("\u{feff}<?xml version=\"1.0\"?>\n<e:Description>a</e:Description><e:InvoiceGUID i:nil=\"true\"/>".into()),
                "prefix.xml" => Ok("<a:Description>a</a:Description>".into()),
                "attr.xml" => Ok("<e:X xsi:nil=\"true\"/>".into()),
                "broken.xml" => Ok("<e:Description>a</e:Quantity>".into()),
                _ => Err("missing".into()),
            }
        };
        let params = build_params(
            &target,
            &[ParamArg::Xml("hourEntryInfo=@ok.xml".into())],
            &files,
        )
        .unwrap();
        assert_eq!(
            params[0].markup,
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
        assert_eq!(
            render_result("SetInvoicePaymentDate", None),
            serde_json::Value::Null
        );
        let empty = Value::Text(String::new());
        assert_eq!(
            render_result("GetAllUsers", Some(&empty)),
            serde_json::json!([])
        );
        assert_eq!(
            render_result("GetVersion", Some(&Value::Text("1.2".into()))),
            serde_json::json!("1.2")
        );
    }
}
