//! The one place that builds the AWS SDK configuration.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig, timeout::TimeoutConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use std::time::Duration;

/// Connecting to an AWS endpoint should take milliseconds; fail fast so the retry can try again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One attempt of one call. Above SQS's longest long poll (20 s) so ReceiveMessage still works,
/// well below a worker's Lambda timeout so a hung connection does not eat the whole invocation.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(25);

/// The SDK's HTTP client: hyper + rustls with ring.
///
/// The lean SDK feature set carries no default client, so without this `ConfigLoader::load`
/// panics. The ring provider is also installed process-wide for reqwest (the Severa client).
pub fn http_client() -> aws_sdk_sqs::config::SharedHttpClient {
    severa::install_crypto_provider();
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// A loader that reads the usual environment (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` and
/// the service-specific `AWS_ENDPOINT_URL_SQS` etc.) with the HTTP client and timeouts set.
/// Tests and tools can override settings on it before `load()`.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        )
}

/// The SDK configuration from the environment; call once per process and share it.
pub async fn load() -> SdkConfig {
    loader().load().await
}
