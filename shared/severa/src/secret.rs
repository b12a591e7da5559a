//! The Severa API key as a type that cannot leak through `Debug`, `Display` or serde, and the
//! request text that carries it. Both overwrite their memory with zeros before it is freed.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use zeroize::{ZeroizeOnDrop, Zeroizing};

/// A Severa SOAP API key. It identifies one Severa user, so it is as sensitive as a password:
/// `Debug` and `Display` print a redaction and the type has no `Serialize`. Its memory is
/// zeroed on drop (a [`SecretString`]).
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Takes the key; the `String` it came in is zeroed too (the key is copied into a buffer of
    /// its exact size, so no reallocation leaves a copy behind).
    pub fn new(key: impl Into<String>) -> Self {
        Self(into_secret_string(key.into()))
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

/// A secret held in a `String` as a [`SecretString`], with the `String` zeroed (capacity
/// included): `SecretString::from(String)` would shrink it to fit, and a shrinking
/// reallocation frees the old buffer with the secret still in it.
pub fn into_secret_string(value: String) -> SecretString {
    let value = Zeroizing::new(value);
    SecretString::from(value.as_str())
}

/// Text that contains the API key (a request envelope). Zeroed when dropped — also when the
/// HTTP stack drops the request body built on it ([`KeyedText::into_body`]). Builders size it
/// up front so it is never reallocated while it holds the key.
pub struct KeyedText(Zeroizing<String>);

impl KeyedText {
    /// Wraps a buffer the caller filled without outgrowing its capacity.
    pub(crate) fn new(text: Zeroizing<String>) -> Self {
        Self(text)
    }

    /// The text as a request body, without a copy: the body owns this buffer and zeroes it
    /// when it is dropped.
    pub fn into_body(self) -> bytes::Bytes {
        bytes::Bytes::from_owner(self)
    }
}

impl std::ops::Deref for KeyedText {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<[u8]> for KeyedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Documents (and makes the compiler check) that dropping it zeroes the text.
impl ZeroizeOnDrop for KeyedText {}

impl fmt::Debug for KeyedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyedText(<{} bytes, redacted>)", self.0.len())
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

    /// Zeroing on drop is a property of the types: these only compile while it holds.
    #[test]
    fn key_buffers_zeroize_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<KeyedText>();
        zeroized_on_drop::<Zeroizing<String>>();
        fn secret_box<T: ?Sized + zeroize::Zeroize>(_: &secrecy::SecretBox<T>) {}
        secret_box(&ApiKey::new("k").0);
        let text = KeyedText::new(Zeroizing::new("<k>secret</k>".to_string()));
        assert!(!format!("{text:?}").contains("secret"));
        assert_eq!(&*text, "<k>secret</k>");
    }
}
