//! Secrets as the functions use them: a cache in front of the secret store (TTL, serve-stale on a
//! store hiccup, one forced refresh in flight) and the Severa key secret's value format.

use crate::ports::{PortError, SecretSource};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use severa::ApiKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Default time a cached secret is served without asking the store again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// A secret value and the cache generation it came from (to tell whether a refresh happened).
#[derive(Clone)]
pub struct CachedSecret {
    pub value: SecretString,
    pub generation: u64,
}

struct Entry {
    value: SecretString,
    fetched_at: Instant,
    generation: u64,
}

/// Per-instance secret cache. Lambda keeps it warm across invocations.
pub struct SecretCache {
    source: Arc<dyn SecretSource>,
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    generation: Mutex<u64>,
    refresh_lock: tokio::sync::Mutex<()>,
}

impl SecretCache {
    pub fn new(source: Arc<dyn SecretSource>, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            entries: Mutex::new(HashMap::new()),
            generation: Mutex::new(0),
            refresh_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The cached value while fresh; otherwise a new read. When the store fails and an older
    /// value exists, the older value is served (and the failure logged) rather than failing work.
    pub async fn get(&self, secret_id: &str) -> Result<CachedSecret, PortError> {
        if let Some(cached) = self.cached(secret_id, true) {
            return Ok(cached);
        }
        match self.source.current(secret_id).await {
            Ok(value) => Ok(self.store(secret_id, value)),
            Err(e) => match self.cached(secret_id, false) {
                Some(stale) => {
                    tracing::warn!(secret_id, error = %e, "secret store failed; serving the cached value");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    /// Re-reads a secret whose value (of `seen_generation`) was rejected. Concurrent callers wait
    /// for one read and share its result, so a burst of auth failures costs one store call.
    pub async fn refresh(
        &self,
        secret_id: &str,
        seen_generation: u64,
    ) -> Result<CachedSecret, PortError> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        if let Some(cached) = self.cached(secret_id, false) {
            if cached.generation > seen_generation {
                return Ok(cached);
            }
        }
        let value = self.source.current(secret_id).await?;
        Ok(self.store(secret_id, value))
    }

    fn cached(&self, secret_id: &str, fresh_only: bool) -> Option<CachedSecret> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(secret_id)?;
        if fresh_only && entry.fetched_at.elapsed() >= self.ttl {
            return None;
        }
        Some(CachedSecret {
            value: entry.value.clone(),
            generation: entry.generation,
        })
    }

    fn store(&self, secret_id: &str, value: SecretString) -> CachedSecret {
        let generation = match self.generation.lock() {
            Ok(mut g) => {
                *g += 1;
                *g
            }
            Err(_) => 0,
        };
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                secret_id.to_string(),
                Entry {
                    value: value.clone(),
                    fetched_at: Instant::now(),
                    generation,
                },
            );
        }
        CachedSecret { value, generation }
    }
}

/// The Severa key secret: either the plain API key, or JSON
/// `{"api_key": "…", "endpoint": "https://…/API.svc"}` (endpoint optional).
pub struct SeveraCredentials {
    pub api_key: ApiKey,
    pub endpoint: Option<String>,
}

impl SeveraCredentials {
    /// The one rule for where a key is used (worker, scheduler, rotation, `bridgectl`): the
    /// secret's own `endpoint` — a key belongs to the environment it was made in, so a key for
    /// Severa's test environment never goes to production — else the configured endpoint
    /// (`SEVERA_ENDPOINT`), else `fallback` (production).
    pub fn endpoint_or(&self, configured: Option<&str>, fallback: &str) -> String {
        self.endpoint
            .as_deref()
            .or(configured.filter(|e| !e.trim().is_empty()))
            .unwrap_or(fallback)
            .to_string()
    }
}

impl std::fmt::Debug for SeveraCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeveraCredentials")
            .field("api_key", &self.api_key)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// Why a Severa key secret could not be read. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("the Severa key secret is empty")]
    Empty,
    #[error(
        "the Severa key secret looks like JSON but is not {{\"api_key\": \"…\", \"endpoint\": \"…\"}}: {0}"
    )]
    BadJson(String),
}

impl SeveraCredentials {
    pub fn parse(secret: &SecretString) -> Result<Self, CredentialsError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Json {
            // Zeroed on drop, like every copy of the key.
            api_key: SecretString,
            #[serde(default)]
            endpoint: Option<String>,
        }
        let text = secret.expose_secret().trim();
        if text.is_empty() {
            return Err(CredentialsError::Empty);
        }
        if text.starts_with('{') {
            // serde_json's messages quote positions and field names, not values.
            let parsed: Json = serde_json::from_str(text).map_err(|e| {
                CredentialsError::BadJson(format!(
                    "line {} column {}: {}",
                    e.line(),
                    e.column(),
                    classify(&e)
                ))
            })?;
            let api_key = parsed.api_key.expose_secret().trim();
            if api_key.is_empty() {
                return Err(CredentialsError::Empty);
            }
            return Ok(Self {
                api_key: ApiKey::new(api_key),
                endpoint: parsed.endpoint.filter(|e| !e.trim().is_empty()),
            });
        }
        Ok(Self {
            api_key: ApiKey::new(text),
            endpoint: None,
        })
    }
}

impl SeveraCredentials {
    /// The secret value `parse` reads back: JSON when an endpoint is set, else the plain key.
    /// Rotation stages a new key in the shape of the current value with this. The JSON is
    /// written into one zeroed-on-drop buffer sized for the worst case of escaping, so no
    /// reallocation leaves a copy of the key behind.
    pub fn to_secret_string(&self) -> SecretString {
        #[derive(serde::Serialize)]
        struct Json<'a> {
            api_key: &'a str,
            endpoint: &'a str,
        }
        let key = self.api_key.expose();
        let Some(endpoint) = &self.endpoint else {
            return SecretString::from(key);
        };
        // JSON escaping makes one byte at most six (`\u001f`).
        let bound = 6 * (key.len() + endpoint.len()) + 64;
        let mut json = zeroize::Zeroizing::new(Vec::with_capacity(bound));
        let value = Json {
            api_key: key,
            endpoint,
        };
        // Writing two strings into a Vec cannot fail, and serde_json writes UTF-8; should
        // either ever happen, the plain key is still a value `parse` reads.
        match serde_json::to_writer(&mut *json, &value).map(|()| std::str::from_utf8(&json)) {
            Ok(Ok(text)) => SecretString::from(text),
            _ => SecretString::from(key),
        }
    }
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "missing api_key or an unknown field",
        serde_json::error::Category::Eof => "ends early",
        serde_json::error::Category::Io => "unreadable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keys_own_endpoint_wins_over_the_configured_one() {
        let test_key = SeveraCredentials::parse(&SecretString::from(
            r#"{"api_key":"k-123456","endpoint":"https://sync-test.severa.com/webservice/S3/API.svc"}"#,
        ))
        .unwrap();
        let production = "https://sync.severa.com/webservice/S3/API.svc";
        assert_eq!(
            test_key.endpoint_or(Some(production), production),
            "https://sync-test.severa.com/webservice/S3/API.svc"
        );
        let plain = SeveraCredentials::parse(&SecretString::from("k-123456")).unwrap();
        assert_eq!(
            plain.endpoint_or(Some("http://127.0.0.1:1/x"), production),
            "http://127.0.0.1:1/x"
        );
        assert_eq!(plain.endpoint_or(Some(" "), production), production);
    }
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// In-memory store for the cache's own logic (the real store is exercised against moto in
    /// the AWS adapter tests).
    struct FakeStore {
        value: Mutex<Result<String, ()>>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl SecretSource for FakeStore {
        async fn current(&self, _secret_id: &str) -> Result<SecretString, PortError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            match &*self.value.lock().unwrap() {
                Ok(v) => Ok(SecretString::from(v.clone())),
                Err(()) => Err(PortError {
                    service: "SecretsManager",
                    action: "GetSecretValue",
                    message: "throttled".into(),
                    retryable: true,
                }),
            }
        }
    }

    fn store(value: &str) -> Arc<FakeStore> {
        Arc::new(FakeStore {
            value: Mutex::new(Ok(value.into())),
            reads: AtomicUsize::new(0),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn serves_from_cache_until_the_ttl() {
        let source = store("k1");
        let cache = SecretCache::new(source.clone(), Duration::from_secs(300));
        assert_eq!(cache.get("s").await.unwrap().value.expose_secret(), "k1");
        assert_eq!(cache.get("s").await.unwrap().value.expose_secret(), "k1");
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        *source.value.lock().unwrap() = Ok("k2".into());
        tokio::time::advance(Duration::from_secs(301)).await;
        assert_eq!(cache.get("s").await.unwrap().value.expose_secret(), "k2");
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn serves_stale_when_the_store_fails() {
        let source = store("k1");
        let cache = SecretCache::new(source.clone(), Duration::from_secs(1));
        cache.get("s").await.unwrap();
        *source.value.lock().unwrap() = Err(());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get("s").await.unwrap().value.expose_secret(), "k1");
        let empty = SecretCache::new(source, Duration::from_secs(1));
        assert!(empty.get("s").await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_refreshes_share_one_read() {
        let source = store("old");
        let cache = Arc::new(SecretCache::new(source.clone(), Duration::from_secs(300)));
        let seen = cache.get("s").await.unwrap().generation;
        *source.value.lock().unwrap() = Ok("new".into());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.refresh("s", seen).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().value.expose_secret(), "new");
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn credentials_plain_or_json_and_never_printed() {
        let plain = SeveraCredentials::parse(&SecretString::from(" key-123 \n")).unwrap();
        assert_eq!(plain.api_key.expose(), "key-123");
        assert_eq!(plain.endpoint, None);
        let json = SeveraCredentials::parse(&SecretString::from(
            r#"{"api_key":"key-456","endpoint":"http://127.0.0.1:8642/webservice/S3/API.svc"}"#,
        ))
        .unwrap();
        assert_eq!(json.api_key.expose(), "key-456");
        assert!(json.endpoint.is_some());
        assert!(!format!("{json:?}").contains("key-456"));
        let bad =
            SeveraCredentials::parse(&SecretString::from(r#"{"apikey":"key-789"}"#)).unwrap_err();
        assert!(!bad.to_string().contains("key-789"), "{bad}");
        assert_eq!(
            SeveraCredentials::parse(&SecretString::from("  ")).unwrap_err(),
            CredentialsError::Empty
        );
    }

    #[test]
    fn credentials_round_trip_through_the_secret_value() {
        for value in [
            "key-123",
            r#"{"api_key":"key-456","endpoint":"http://127.0.0.1:8642/webservice/S3/API.svc"}"#,
        ] {
            let parsed = SeveraCredentials::parse(&SecretString::from(value)).unwrap();
            let again = SeveraCredentials::parse(&parsed.to_secret_string()).unwrap();
            assert_eq!(again.api_key.expose(), parsed.api_key.expose());
            assert_eq!(again.endpoint, parsed.endpoint);
        }
    }
}
