//! Names of the local resources (as `infra/template.yaml` declares them, under a stack prefix)
//! and the endpoints of a running stack, shared by every subcommand.

use crate::env_file;
use crate::error::{Context as _, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The stack name the template's `${AWS::StackName}` stands for; `examples/sources.json` names
/// its signing secrets under it.
pub const DEFAULT_PREFIX: &str = "severa-bridge";
/// Region of every local resource (moto accepts any).
pub const REGION: &str = "eu-north-1";
/// The functions `cargo lambda watch` serves (binary names).
pub const WEBHOOK_FUNCTION: &str = "webhook";
pub const WORKER_FUNCTION: &str = "worker";

/// Resource names of one stack.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
}

impl Names {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }
    pub fn job_queue(&self) -> String {
        format!("{}-jobs", self.prefix)
    }
    pub fn dead_letter_queue(&self) -> String {
        format!("{}-dlq", self.prefix)
    }
    pub fn table(&self) -> String {
        format!("{}-state", self.prefix)
    }
    pub fn severa_key_secret(&self) -> String {
        format!("{}/severa-api-key", self.prefix)
    }
    pub fn outbound_signing_secret(&self) -> String {
        format!("{}/outbound/signing-secret", self.prefix)
    }
}

/// Where everything of a running stack answers. Written to `endpoints.env` by `devstack dev`,
/// read by `devstack scenario` / `devstack pump`.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub prefix: String,
    /// `…/lambda-url/webhook/webhooks` (append `/<source>`).
    pub webhook_url: String,
    /// cargo-lambda's invoke API (`…/2015-03-31/functions/<name>/invocations`).
    pub lambda_endpoint: String,
    /// moto.
    pub aws_endpoint_url: String,
    pub severa_endpoint: String,
    pub severa_admin_url: String,
    pub job_queue_url: String,
    pub dlq_url: String,
    pub table_name: String,
    /// The local receiver of outbound deliveries (POST anything under it).
    pub receiver_url: String,
    pub sources_file: PathBuf,
}

impl Endpoints {
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STACK_PREFIX", self.prefix.clone()),
            ("WEBHOOK_URL", self.webhook_url.clone()),
            ("LAMBDA_ENDPOINT", self.lambda_endpoint.clone()),
            ("AWS_ENDPOINT_URL", self.aws_endpoint_url.clone()),
            ("AWS_REGION", REGION.to_string()),
            ("SEVERA_ENDPOINT", self.severa_endpoint.clone()),
            ("SEVERA_ADMIN_URL", self.severa_admin_url.clone()),
            ("JOB_QUEUE_URL", self.job_queue_url.clone()),
            ("DLQ_URL", self.dlq_url.clone()),
            ("TABLE_NAME", self.table_name.clone()),
            ("RECEIVER_URL", self.receiver_url.clone()),
            ("SOURCES_FILE", self.sources_file.display().to_string()),
        ]
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        env_file::write(
            path,
            "Endpoints of the local severa-bridge stack (devstack dev). Secrets are not here:\n\
             they are in moto's Secrets Manager under the names `devstack up` printed.",
            &self.to_pairs(),
        )
    }

    pub fn read(path: &Path) -> Result<Self> {
        let vars = env_file::read(path)?;
        Self::from_vars(&vars).with_context(|| format!("{} is incomplete", path.display()))
    }

    fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, crate::error::Error> {
        let get = |key: &str| -> Result<String> {
            vars.get(key)
                .filter(|v| !v.is_empty())
                .cloned()
                .with_context(|| format!("{key} is missing"))
        };
        Ok(Self {
            prefix: get("STACK_PREFIX")?,
            webhook_url: get("WEBHOOK_URL")?,
            lambda_endpoint: get("LAMBDA_ENDPOINT")?,
            aws_endpoint_url: get("AWS_ENDPOINT_URL")?,
            severa_endpoint: get("SEVERA_ENDPOINT")?,
            severa_admin_url: get("SEVERA_ADMIN_URL")?,
            job_queue_url: get("JOB_QUEUE_URL")?,
            dlq_url: get("DLQ_URL")?,
            table_name: get("TABLE_NAME")?,
            receiver_url: get("RECEIVER_URL")?,
            sources_file: PathBuf::from(get("SOURCES_FILE")?),
        })
    }
}

/// The SDK configuration for moto: explicit endpoint, region and dummy credentials, so nothing
/// from the caller's environment (a profile, real keys) can send a request to real AWS.
pub async fn sdk_config(aws_endpoint_url: &str) -> aws_config::SdkConfig {
    bridge::aws::config::loader()
        .endpoint_url(aws_endpoint_url)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "devstack", "devstack", None, None, "devstack",
        ))
        .load()
        .await
}

/// A 127.0.0.1 port nothing listens on right now.
pub fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("no free port on 127.0.0.1")?;
    Ok(listener.local_addr().context("no local address")?.port())
}

/// `n` bytes from the OS's random source (keys and signing secrets of the demo).
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_template() {
        let names = Names::new(DEFAULT_PREFIX);
        assert_eq!(names.severa_key_secret(), "severa-bridge/severa-api-key");
        assert_eq!(
            names.outbound_signing_secret(),
            "severa-bridge/outbound/signing-secret"
        );
        assert_eq!(names.job_queue(), "severa-bridge-jobs");
    }

    #[test]
    fn endpoints_round_trip() {
        let endpoints = Endpoints {
            prefix: "p".into(),
            webhook_url: "http://127.0.0.1:1/lambda-url/webhook/webhooks".into(),
            lambda_endpoint: "http://127.0.0.1:1".into(),
            aws_endpoint_url: "http://127.0.0.1:2".into(),
            severa_endpoint: "http://127.0.0.1:3/webservice/S3/API.svc".into(),
            severa_admin_url: "http://127.0.0.1:3/__admin".into(),
            job_queue_url: "q".into(),
            dlq_url: "d".into(),
            table_name: "t".into(),
            receiver_url: "http://127.0.0.1:4/deliveries".into(),
            sources_file: "/x/sources.json".into(),
        };
        let vars = endpoints
            .to_pairs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let back = Endpoints::from_vars(&vars).unwrap();
        assert_eq!(back.webhook_url, endpoints.webhook_url);
        assert_eq!(back.sources_file, endpoints.sources_file);
        let mut partial = vars.clone();
        partial.remove("DLQ_URL");
        let err = Endpoints::from_vars(&partial).unwrap_err();
        assert!(err.to_string().contains("DLQ_URL"), "{err}");
    }
}
