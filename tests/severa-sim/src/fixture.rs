//! The built-in demo organisation (`fixtures/demo-org.json`) and its deterministic GUIDs, keys
//! and numbers, so tests can name them. A test checks every constant against the JSON.

use crate::SimError;
use crate::state::Seed;
use std::path::Path;

/// The built-in fixture, as shipped.
pub const DEMO_ORG_JSON: &str = include_str!("../fixtures/demo-org.json");

/// When every seeded record was created/modified (UTC).
pub const SEEDED_AT: &str = "2026-01-05T08:00:00Z";
/// `GetVersion` answer.
pub const VERSION: &str = "1.0.0+severa-sim";
/// `GetEntitySchemaVersion` answer (until changed through the admin API).
pub const SCHEMA_VERSION: i64 = 7;

pub const BUSINESS_UNIT_GUID: &str = "sim-bu-main";
/// A second (sub-)business unit, only used by one invoice (duplicate invoice number 1001).
pub const BUSINESS_UNIT_SE_GUID: &str = "sim-bu-se";
pub const CURRENCY_EUR_GUID: &str = "sim-cur-eur";
pub const CURRENCY_SEK_GUID: &str = "sim-cur-sek";

/// The API user (key [`crate::DEFAULT_API_KEY`] unless `--api-key`).
pub const USER_API_GUID: &str = "sim-user-api";
pub const USER_ALICE_GUID: &str = "sim-user-alice";
/// Alice's own API key (a second authenticated user).
pub const USER_ALICE_API_KEY: &str = "severa-sim-alice-key";
pub const USER_ALICE_CODE: &str = "AA";
pub const USER_ALICE_EMAIL: &str = "alice.andersson@demo-oy.example";
pub const USER_BOB_GUID: &str = "sim-user-bob";
pub const USER_CAROL_GUID: &str = "sim-user-carol";
/// Inactive user.
pub const USER_DAVE_GUID: &str = "sim-user-dave";

pub const WORKTYPE_DESIGN_GUID: &str = "sim-wt-design";
/// The organisation's default work type.
pub const WORKTYPE_DEV_GUID: &str = "sim-wt-dev";
pub const WORKTYPE_PM_GUID: &str = "sim-wt-pm";
/// Not productive.
pub const WORKTYPE_TRAVEL_GUID: &str = "sim-wt-travel";

/// Invoice statuses, by name (the contract's InvoiceStatus has no GUID; SetInvoiceStatus and
/// the invoice's `InvoiceStatus` member refer to statuses by name).
pub const INVOICE_STATUS_DRAFT: &str = "Draft";
pub const INVOICE_STATUS_SENT: &str = "Sent";
pub const INVOICE_STATUS_TRANSFERRED: &str = "Transferred";
pub const INVOICE_STATUS_PAID: &str = "Paid";

pub const COMPANY_NORDIC_GUID: &str = "sim-cmp-nordic";
pub const COMPANY_BLUEWAVE_GUID: &str = "sim-cmp-bluewave";
pub const COMPANY_KALLIO_GUID: &str = "sim-cmp-kallio";
pub const ADDRESS_NORDIC_GUID: &str = "sim-adr-nordic";
pub const ADDRESS_BLUEWAVE_GUID: &str = "sim-adr-bluewave";

pub const ACCOUNT_NORDIC_GUID: &str = "sim-acc-nordic";
/// Account numbers are `long` in the contract.
pub const ACCOUNT_NORDIC_NUMBER: i64 = 1001;
pub const ACCOUNT_NORDIC_NAME: &str = "Nordic Retail Oy";
pub const ACCOUNT_BLUEWAVE_GUID: &str = "sim-acc-bluewave";
pub const ACCOUNT_BLUEWAVE_NUMBER: i64 = 1002;
pub const ACCOUNT_KALLIO_GUID: &str = "sim-acc-kallio";
pub const ACCOUNT_KALLIO_NUMBER: i64 = 1003;

/// Active contact Maria Mäkinen at Nordic Retail.
pub const CONTACT_MARIA_GUID: &str = "sim-con-maria";
/// Inactive contact Jussi Jokinen at Nordic Retail.
pub const CONTACT_JUSSI_GUID: &str = "sim-con-jussi";
pub const CONTACT_ERIK_GUID: &str = "sim-con-erik";

/// Case 1 "Webshop renewal" (Nordic Retail, owner Alice; members Alice, Bob, Carol).
pub const CASE_WEBSHOP_GUID: &str = "sim-case-webshop";
/// Case numbers are `long` in the contract.
pub const CASE_WEBSHOP_NUMBER: i64 = 1;
/// Case 2 "ERP integration" (Bluewave, owner Bob; members Bob and the API user).
pub const CASE_ERP_GUID: &str = "sim-case-erp";
pub const CASE_ERP_NUMBER: i64 = 2;
/// Case 3 "Support 2025" (Kallio, closed).
pub const CASE_SUPPORT_GUID: &str = "sim-case-support";
pub const CASE_SUPPORT_NUMBER: i64 = 3;

/// Root phase of the webshop case.
pub const PHASE_WEBSHOP_ROOT_GUID: &str = "sim-phase-webshop";
/// "Specification": locked (and completed); member Alice.
pub const PHASE_WEBSHOP_SPEC_GUID: &str = "sim-phase-webshop-spec";
/// "Design": members Alice and Carol (NOT Bob); work types Design, Project management.
pub const PHASE_WEBSHOP_DESIGN_GUID: &str = "sim-phase-webshop-design";
/// "Development": members Alice and Bob (NOT Carol); work types Development, PM, Travel.
pub const PHASE_WEBSHOP_DEV_GUID: &str = "sim-phase-webshop-dev";
pub const PHASE_ERP_ROOT_GUID: &str = "sim-phase-erp";
/// "Implementation": members Bob and the API user.
pub const PHASE_ERP_IMPL_GUID: &str = "sim-phase-erp-impl";
pub const PHASE_SUPPORT_ROOT_GUID: &str = "sim-phase-support";

pub const HOUR_ENTRY_ALICE_1_GUID: &str = "sim-he-alice-1";
pub const HOUR_ENTRY_ALICE_2_GUID: &str = "sim-he-alice-2";
pub const HOUR_ENTRY_BOB_1_GUID: &str = "sim-he-bob-1";
/// Invoiced (on invoice 1001) and approved.
pub const HOUR_ENTRY_CAROL_1_GUID: &str = "sim-he-carol-1";

/// Invoice 1001 of the main business unit (status Sent, 2 rows). Invoice numbers are the
/// contract's `Invoice.Number` (`int`).
pub const INVOICE_1001_GUID: &str = "sim-inv-1001";
pub const INVOICE_1001_NUMBER: i32 = 1001;
/// Invoice 1002 (status Draft, 1 row).
pub const INVOICE_1002_GUID: &str = "sim-inv-1002";
pub const INVOICE_1002_NUMBER: i32 = 1002;
/// Invoice number 1001 again, in the Swedish business unit (status Paid).
pub const INVOICE_SE_1001_GUID: &str = "sim-inv-se-1001";

/// Reads a seed: the built-in fixture (`None`) or a file. Errors name the file.
pub(crate) fn load(path: Option<&Path>) -> Result<(Seed, String), SimError> {
    let (text, name) = match path {
        None => (
            DEMO_ORG_JSON.to_string(),
            "built-in fixtures/demo-org.json".to_string(),
        ),
        Some(p) => {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| SimError::Fixture {
                path: name.clone(),
                message: format!("cannot read the file: {e}"),
            })?;
            (text, name)
        }
    };
    let seed: Seed = serde_json::from_str(&text).map_err(|e| SimError::Fixture {
        path: name.clone(),
        message: e.to_string(),
    })?;
    Ok((seed, name))
}
