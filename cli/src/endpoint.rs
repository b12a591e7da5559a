//! Severa's endpoints by name, so an operator types `--endpoint test` instead of a URL and
//! every command that takes `--endpoint`/`SEVERA_ENDPOINT` reads it the same way.

/// Severa production (the default).
pub const PRODUCTION: &str = severa::DEFAULT_ENDPOINT;

/// Severa's SOAP test environment (facts sheet §11: the URL in the connector's app.config).
/// Severa asks integrations to be developed and tried there before production.
pub const TEST: &str = "https://sync-test.severa.com/webservice/S3/API.svc";

/// The names `--endpoint` accepts besides a URL.
pub const NAMED: &[(&str, &str)] = &[("production", PRODUCTION), ("test", TEST)];

/// Help text for the flag's value.
pub const VALUE_HELP: &str = "production (default), test, or the endpoint URL";

/// Reads an `--endpoint`/`SEVERA_ENDPOINT` value: a name from [`NAMED`] (any case) becomes its
/// URL; anything with a scheme is passed on as given (the client checks it is http(s)); an
/// empty value stays empty (the command reports it). A bare word that is neither is refused
/// here, because as a URL it could only fail later with a less helpful message.
pub fn resolve(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    if let Some((_, url)) = NAMED
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(trimmed))
    {
        return Ok((*url).to_string());
    }
    if trimmed.is_empty() || trimmed.contains("://") {
        return Ok(trimmed.to_string());
    }
    let names: Vec<&str> = NAMED.iter().map(|(name, _)| *name).collect();
    Err(format!(
        "{trimmed:?} is neither a named endpoint ({}) nor a URL",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_their_urls_and_urls_pass_through() {
        assert_eq!(resolve("test").unwrap(), TEST);
        assert_eq!(resolve(" Production ").unwrap(), PRODUCTION);
        assert_eq!(PRODUCTION, "https://sync.severa.com/webservice/S3/API.svc");
        assert_eq!(
            resolve("http://127.0.0.1:8642/webservice/S3/API.svc").unwrap(),
            "http://127.0.0.1:8642/webservice/S3/API.svc"
        );
        // The client reports a wrong scheme; an empty value is reported by the command.
        assert_eq!(resolve("ftp://x/").unwrap(), "ftp://x/");
        assert_eq!(resolve("").unwrap(), "");
        let err = resolve("staging").unwrap_err();
        assert!(err.contains("production, test"), "{err}");
    }
}
