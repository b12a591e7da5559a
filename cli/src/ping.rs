//! `bridgectl severa ping`: proves endpoint and key work, and shows the versions an operator
//! compares between runs (Severa bumps the entity schema version on breaking changes) and the
//! day's quota use.

use severa::{Quota, SeveraClient, SeveraError};

/// What a ping found out.
#[derive(Debug, Clone, PartialEq)]
pub struct PingReport {
    pub endpoint: String,
    pub version: String,
    pub entity_schema_version: String,
    /// Quota headers of the last of the two calls.
    pub quota: Quota,
}

pub async fn run(client: &SeveraClient) -> Result<PingReport, SeveraError> {
    let version = client.get_version().await?;
    let schema = client.get_entity_schema_version().await?;
    let quota = if schema.quota.is_known() {
        schema.quota
    } else {
        version.quota
    };
    Ok(PingReport {
        endpoint: client.endpoint().to_string(),
        version: version.value,
        entity_schema_version: schema.value,
        quota,
    })
}

impl PingReport {
    /// Share of the quota used in percent, two decimals.
    pub fn used_percent(&self) -> Option<f64> {
        self.quota
            .used_share()
            .map(|share| (share * 10_000.0).round() / 100.0)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint,
            "version": self.version,
            "entity_schema_version": self.entity_schema_version,
            "quota": {
                "limit": self.quota.limit,
                "used": self.quota.used,
                "used_percent": self.used_percent(),
            },
        })
    }

    pub fn to_text(&self) -> String {
        let quota = match (self.quota.used, self.quota.limit, self.used_percent()) {
            (Some(used), Some(limit), Some(pct)) => {
                format!("quota {used}/{limit} calls used today ({pct}%)")
            }
            (Some(used), _, _) => format!("{used} calls used today (no limit reported)"),
            _ => "no quota headers".to_string(),
        };
        format!(
            "Severa at {} is up: version {}, entity schema {}, {quota}",
            self.endpoint, self.version, self.entity_schema_version
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(limit: Option<u64>, used: Option<u64>) -> PingReport {
        PingReport {
            endpoint: "http://x".into(),
            version: "1.0".into(),
            entity_schema_version: "7".into(),
            quota: Quota { limit, used },
        }
    }

    #[test]
    fn json_and_text_forms() {
        let r = report(Some(100_000), Some(42));
        assert_eq!(
            r.to_json(),
            serde_json::json!({
                "endpoint": "http://x", "version": "1.0", "entity_schema_version": "7",
                "quota": {"limit": 100000, "used": 42, "used_percent": 0.04}
            })
        );
        assert_eq!(
            r.to_text(),
            "Severa at http://x is up: version 1.0, entity schema 7, quota 42/100000 calls used today (0.04%)"
        );
        let none = report(None, None);
        assert_eq!(
            none.to_json()["quota"]["used_percent"],
            serde_json::Value::Null
        );
        assert!(none.to_text().ends_with("no quota headers"));
    }
}
