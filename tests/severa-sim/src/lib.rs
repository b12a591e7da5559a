//! `severa-sim`: a local simulator of Visma Severa's SOAP API ("S3" web service).
//!
//! One POST endpoint ([`ENDPOINT_PATH`]) answers SOAP 1.1 requests the way the real service
//! does (envelope shape, `Quota`/`UsedQuota` headers, the contract's member order, `i:nil`,
//! typed faults, the documented validation rules), over an in-memory organisation seeded from
//! a JSON fixture. Operations, parameters and members come from Severa's service contract
//! ([`contract`]), and requests are read as WCF reads them: what the service ignored or read as
//! a default is shown in the request log. An admin API under [`ADMIN_PREFIX`] resets state,
//! injects faults, moves the clock, sets quota and keys, and shows what the service received.
//!
//! ```no_run
//! # async fn demo() -> Result<(), severa_sim::SimError> {
//! let sim = severa_sim::RunningSim::start(severa_sim::SimConfig::default()).await?;
//! println!("{}", sim.endpoint());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod fixture;

mod admin;
pub mod admin_client;
pub mod contract;
mod model;
mod ops;
mod server;
mod soap;
mod state;
mod xml;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The seeded API user's key (unless [`SimConfig::api_key`] overrides it).
pub const DEFAULT_API_KEY: &str = "severa-sim-demo-key";
/// Path of the SOAP endpoint (a trailing `/` is accepted too).
pub const ENDPOINT_PATH: &str = "/webservice/S3/API.svc";
/// Path prefix of the admin API.
pub const ADMIN_PREFIX: &str = "/__admin";

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    /// Seed fixture file; `None` = the built-in demo organisation.
    pub seed: Option<PathBuf>,
    /// Key of the API user; `None` = [`DEFAULT_API_KEY`] (or the fixture's).
    pub api_key: Option<String>,
    /// Calls per organisation per UTC day.
    pub daily_quota: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
            api_key: None,
            daily_quota: 100_000,
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The seed fixture is unreadable or inconsistent.
    #[error("fixture {path}: {message}")]
    Fixture { path: String, message: String },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A simulator serving on [`RunningSim::addr`].
pub struct RunningSim {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningSim {
    /// Loads the seed, binds the listener and starts serving in the background.
    pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
        let (seed, seed_name) = fixture::load(config.seed.as_deref())?;
        let sim = state::Sim::new(seed, config.api_key.clone(), config.daily_quota).map_err(
            |message| SimError::Fixture {
                path: seed_name,
                message,
            },
        )?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let app = Arc::new(server::AppState {
            sim: Mutex::new(sim),
            shutdown: stopped.clone(),
            load: server::CallLoad::default(),
        });
        let router = server::router(app);
        let mut signal = stopped;
        let task = tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = signal.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "severa-sim server stopped with an error");
            }
        });
        tracing::info!(%addr, "severa-sim started");
        Ok(RunningSim { addr, stop, task })
    }

    /// `http://127.0.0.1:PORT/webservice/S3/API.svc`
    pub fn endpoint(&self) -> String {
        format!("http://{}{}", self.addr, ENDPOINT_PATH)
    }

    /// `http://127.0.0.1:PORT/__admin`
    pub fn admin_url(&self) -> String {
        format!("http://{}{}", self.addr, ADMIN_PREFIX)
    }

    /// Stops serving: in-flight requests (also injected hangs) end, then the listener closes.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// The simulator's GUID shape: `sim-<type>-<id>`, lowercase letters, digits and hyphens.
pub(crate) fn is_sim_guid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("sim-") else {
        return false;
    };
    let Some((ty, id)) = rest.split_once('-') else {
        return false;
    };
    s.len() <= 64
        && !ty.is_empty()
        && ty.bytes().all(|b| b.is_ascii_lowercase())
        && !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_shape() {
        assert!(is_sim_guid("sim-he-000001"));
        assert!(is_sim_guid("sim-inv-se-1001"));
        assert!(!is_sim_guid("not-a-guid"));
        assert!(!is_sim_guid("6F9619FF-8B86-D011-B42D-00CF4FC964FF"));
        assert!(!is_sim_guid("sim-"));
        assert!(!is_sim_guid("sim-he-"));
    }

    #[test]
    fn builtin_fixture_loads_and_constants_match() {
        let (seed, _) = fixture::load(None).unwrap();
        let sim = state::Sim::new(seed, None, 10).unwrap();
        assert_eq!(
            sim.org.user_for_key(DEFAULT_API_KEY),
            Some(fixture::USER_API_GUID)
        );
        assert_eq!(
            sim.org.user_for_key(fixture::USER_ALICE_API_KEY),
            Some(fixture::USER_ALICE_GUID)
        );
        assert_eq!(sim.org.version, fixture::VERSION);
        assert_eq!(sim.org.schema_version, fixture::SCHEMA_VERSION);
        use model::Kind::*;
        for (kind, guid) in [
            (BusinessUnit, fixture::BUSINESS_UNIT_GUID),
            (BusinessUnit, fixture::BUSINESS_UNIT_SE_GUID),
            (Currency, fixture::CURRENCY_EUR_GUID),
            (Currency, fixture::CURRENCY_SEK_GUID),
            (User, fixture::USER_API_GUID),
            (User, fixture::USER_ALICE_GUID),
            (User, fixture::USER_BOB_GUID),
            (User, fixture::USER_CAROL_GUID),
            (User, fixture::USER_DAVE_GUID),
            (WorkType, fixture::WORKTYPE_DESIGN_GUID),
            (WorkType, fixture::WORKTYPE_DEV_GUID),
            (WorkType, fixture::WORKTYPE_PM_GUID),
            (WorkType, fixture::WORKTYPE_TRAVEL_GUID),
            (InvoiceStatus, fixture::INVOICE_STATUS_DRAFT),
            (InvoiceStatus, fixture::INVOICE_STATUS_SENT),
            (InvoiceStatus, fixture::INVOICE_STATUS_TRANSFERRED),
            (InvoiceStatus, fixture::INVOICE_STATUS_PAID),
            (Company, fixture::COMPANY_NORDIC_GUID),
            (Company, fixture::COMPANY_BLUEWAVE_GUID),
            (Company, fixture::COMPANY_KALLIO_GUID),
            (Address, fixture::ADDRESS_NORDIC_GUID),
            (Address, fixture::ADDRESS_BLUEWAVE_GUID),
            (Account, fixture::ACCOUNT_NORDIC_GUID),
            (Account, fixture::ACCOUNT_BLUEWAVE_GUID),
            (Account, fixture::ACCOUNT_KALLIO_GUID),
            (Contact, fixture::CONTACT_MARIA_GUID),
            (Contact, fixture::CONTACT_JUSSI_GUID),
            (Contact, fixture::CONTACT_ERIK_GUID),
            (Case, fixture::CASE_WEBSHOP_GUID),
            (Case, fixture::CASE_ERP_GUID),
            (Case, fixture::CASE_SUPPORT_GUID),
            (Phase, fixture::PHASE_WEBSHOP_ROOT_GUID),
            (Phase, fixture::PHASE_WEBSHOP_SPEC_GUID),
            (Phase, fixture::PHASE_WEBSHOP_DESIGN_GUID),
            (Phase, fixture::PHASE_WEBSHOP_DEV_GUID),
            (Phase, fixture::PHASE_ERP_ROOT_GUID),
            (Phase, fixture::PHASE_ERP_IMPL_GUID),
            (Phase, fixture::PHASE_SUPPORT_ROOT_GUID),
            (HourEntry, fixture::HOUR_ENTRY_ALICE_1_GUID),
            (HourEntry, fixture::HOUR_ENTRY_ALICE_2_GUID),
            (HourEntry, fixture::HOUR_ENTRY_BOB_1_GUID),
            (HourEntry, fixture::HOUR_ENTRY_CAROL_1_GUID),
            (Invoice, fixture::INVOICE_1001_GUID),
            (Invoice, fixture::INVOICE_1002_GUID),
            (Invoice, fixture::INVOICE_SE_1001_GUID),
        ] {
            assert!(sim.org.get(kind, guid).is_some(), "{guid}");
        }
        let num = |kind, guid| {
            sim.org
                .get(kind, guid)
                .unwrap()
                .get(if kind == Case { "CaseNumber" } else { "Number" })
                .unwrap()
                .to_string()
        };
        assert_eq!(
            num(Account, fixture::ACCOUNT_NORDIC_GUID),
            fixture::ACCOUNT_NORDIC_NUMBER.to_string()
        );
        assert_eq!(
            num(Account, fixture::ACCOUNT_BLUEWAVE_GUID),
            fixture::ACCOUNT_BLUEWAVE_NUMBER.to_string()
        );
        assert_eq!(
            num(Account, fixture::ACCOUNT_KALLIO_GUID),
            fixture::ACCOUNT_KALLIO_NUMBER.to_string()
        );
        assert_eq!(
            num(Case, fixture::CASE_WEBSHOP_GUID),
            fixture::CASE_WEBSHOP_NUMBER.to_string()
        );
        assert_eq!(
            num(Case, fixture::CASE_ERP_GUID),
            fixture::CASE_ERP_NUMBER.to_string()
        );
        assert_eq!(
            num(Case, fixture::CASE_SUPPORT_GUID),
            fixture::CASE_SUPPORT_NUMBER.to_string()
        );
        assert_eq!(
            num(Invoice, fixture::INVOICE_1001_GUID),
            fixture::INVOICE_1001_NUMBER.to_string()
        );
        assert_eq!(
            num(Invoice, fixture::INVOICE_1002_GUID),
            fixture::INVOICE_1002_NUMBER.to_string()
        );
        let alice = sim.org.get(User, fixture::USER_ALICE_GUID).unwrap();
        assert_eq!(alice.get("Code"), Some(fixture::USER_ALICE_CODE));
        assert_eq!(alice.get("Email"), Some(fixture::USER_ALICE_EMAIL));
        let nordic = sim.org.get(Account, fixture::ACCOUNT_NORDIC_GUID).unwrap();
        assert_eq!(nordic.get("Name"), Some(fixture::ACCOUNT_NORDIC_NAME));
        assert_eq!(model::utc_text(nordic.created), fixture::SEEDED_AT);
        // seeded hour entries carry their context
        let he = sim
            .org
            .get(HourEntry, fixture::HOUR_ENTRY_ALICE_1_GUID)
            .unwrap();
        assert_eq!(he.get("CaseGUID"), Some(fixture::CASE_WEBSHOP_GUID));
        assert_eq!(he.get("AccountGUID"), Some(fixture::ACCOUNT_NORDIC_GUID));
        assert_eq!(he.get("TaskGUID"), Some(fixture::PHASE_WEBSHOP_DESIGN_GUID));
        // every seeded member is one of the contract's (fixture loading refuses others, and
        // the context the simulator computes stays inside the contract too)
        for kind in model::Kind::ALL {
            for record in sim.org.all(kind) {
                for member in record.fields.keys() {
                    assert!(kind.ty().has(member), "{}.{member}", kind.name());
                }
            }
        }
    }

    #[test]
    fn fixture_members_outside_the_contract_are_refused_by_name() {
        let (mut seed, _) = fixture::load(None).unwrap();
        seed.entities.get_mut("Invoice").unwrap()[0]["InvoiceNumber"] = serde_json::json!(1001);
        let err = state::Sim::new(seed, None, 10).err().unwrap();
        assert!(
            err.contains("Invoice") && err.contains("InvoiceNumber"),
            "{err}"
        );
        let (mut seed, _) = fixture::load(None).unwrap();
        seed.entities.get_mut("Case").unwrap()[0]["CaseNumber"] = serde_json::json!("one");
        let err = state::Sim::new(seed, None, 10).err().unwrap();
        assert!(err.contains("CaseNumber"), "{err}");
    }

    #[test]
    fn api_key_override_replaces_the_default() {
        let (seed, _) = fixture::load(None).unwrap();
        let sim = state::Sim::new(seed, Some("other".into()), 10).unwrap();
        assert_eq!(sim.org.user_for_key("other"), Some(fixture::USER_API_GUID));
        assert_eq!(sim.org.user_for_key(DEFAULT_API_KEY), None);
    }
}
