//! The Severa API key as a type that cannot leak through `Debug`, `Display` or serde.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// A Severa SOAP API key. It identifies one Severa user, so it is as sensitive as a password:
/// `Debug` and `Display` print a redaction and the type has no `Serialize`.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(SecretString::from(key.into()))
    }

    /// The key itself, for the one place that writes it into the SOAP header.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().trim().is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for ApiKey {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_key() {
        let key = ApiKey::new("super-secret-key-123");
        assert!(!format!("{key:?}").contains("super-secret"));
        assert!(!format!("{key}").contains("super-secret"));
        assert!(!format!("{:?}", Some(key.clone())).contains("super-secret"));
        assert_eq!(key.expose(), "super-secret-key-123");
    }
}
