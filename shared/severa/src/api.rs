//! Typed operations. Each method is one SOAP call; parameters go out in the order and with the
//! names of [`crate::operations`] (Severa's contract). `None` arguments are omitted (Severa
//! reads them as null); non-nullable parameters are never `Option` here, because Severa would
//! read an absent one as false / 0 / 0001-01-01.

use crate::client::{Response, SeveraClient};
use crate::contract::Entity;
use crate::entities::*;
use crate::error::{SeveraError, TransportKind};
use crate::operations::{self as ops, Operation};
use crate::wire::{FromWire, Param, ToWire, WireDateTime};

type Result<T> = std::result::Result<Response<T>, SeveraError>;

fn params(
    op: &Operation,
    values: &[&(dyn ToWire + Sync)],
) -> std::result::Result<Vec<Param>, SeveraError> {
    debug_assert_eq!(op.params.len(), values.len(), "{}", op.name);
    op.params
        .iter()
        .zip(values)
        .map(|(spec, value)| {
            Param::new(spec.name, *value).map_err(|message| SeveraError::Request {
                operation: op.name.to_string(),
                message,
            })
        })
        .collect()
}

/// `Update*` deserialises a whole entity: a non-nullable member left out is not "unchanged"
/// but false / 0 / 0001-01-01. Refuse to send such an update (read the record, change it,
/// send it back whole).
fn whole_entity<E: Entity>(op: &Operation, entity: &E) -> std::result::Result<(), SeveraError> {
    let unset = entity.unset_non_nullable();
    if unset.is_empty() {
        return Ok(());
    }
    Err(SeveraError::Request {
        operation: op.name.to_string(),
        message: format!(
            "{} leaves out the non-nullable member(s) {}; Severa would read them as false/0/0001-01-01. Read the {} first and send it back whole",
            E::spec().name,
            unset.join(", "),
            E::spec().name
        ),
    })
}

fn missing_result(op: &Operation) -> SeveraError {
    SeveraError::Transport {
        operation: op.name.to_string(),
        kind: TransportKind::NoResult,
        status: None,
        message: "the response carried no result".into(),
        quota: Default::default(),
    }
}

impl SeveraClient {
    async fn one<T: FromWire + Send + 'static>(
        &self,
        op: &Operation,
        values: &[&(dyn ToWire + Sync)],
    ) -> Result<Option<T>> {
        let params = params(op, values)?;
        Ok(self
            .call::<Option<T>>(op, params)
            .await?
            .map(Option::flatten))
    }

    async fn required<T: FromWire + Send + 'static>(
        &self,
        op: &Operation,
        values: &[&(dyn ToWire + Sync)],
    ) -> Result<T> {
        let response = self.one::<T>(op, values).await?;
        match response.value {
            Some(value) => Ok(Response {
                value,
                quota: response.quota,
            }),
            None => Err(missing_result(op)),
        }
    }

    async fn list<T: FromWire + Send + 'static>(
        &self,
        op: &Operation,
        values: &[&(dyn ToWire + Sync)],
    ) -> Result<Vec<T>> {
        let params = params(op, values)?;
        Ok(self
            .call::<Vec<T>>(op, params)
            .await?
            .map(Option::unwrap_or_default))
    }

    async fn void(&self, op: &Operation, values: &[&(dyn ToWire + Sync)]) -> Result<()> {
        let params = params(op, values)?;
        Ok(self
            .call::<crate::wire::Value>(op, params)
            .await?
            .map(|_| ()))
    }

    // IHourEntry

    pub async fn add_new_hour_entry(&self, entry: &HourEntry) -> Result<HourEntry> {
        self.required(&ops::ADD_NEW_HOUR_ENTRY, &[&entry]).await
    }

    /// The entry must be whole (every non-nullable member set): see [`whole_entity`].
    pub async fn update_hour_entry(&self, entry: &HourEntry) -> Result<HourEntry> {
        whole_entity(&ops::UPDATE_HOUR_ENTRY, entry)?;
        self.required(&ops::UPDATE_HOUR_ENTRY, &[&entry]).await
    }

    /// `false` means Severa did not delete it.
    pub async fn delete_hour_entry(&self, guid: &str) -> Result<bool> {
        self.required(&ops::DELETE_HOUR_ENTRY, &[&guid]).await
    }

    pub async fn get_hour_entry_by_guid(&self, guid: &str) -> Result<Option<HourEntry>> {
        self.one(&ops::GET_HOUR_ENTRY_BY_GUID, &[&guid]).await
    }

    pub async fn get_hour_entries_by_case_guid(
        &self,
        case_guid: &str,
        start: Option<WireDateTime>,
        end: Option<WireDateTime>,
    ) -> Result<Vec<HourEntry>> {
        self.list(
            &ops::GET_HOUR_ENTRIES_BY_CASE_GUID,
            &[&case_guid, &start, &end],
        )
        .await
    }

    pub async fn get_hour_entries_by_date_and_user_guid(
        &self,
        business_unit_guid: Option<&str>,
        start: WireDateTime,
        end: WireDateTime,
        user_guid: &str,
    ) -> Result<Vec<HourEntry>> {
        let bu = business_unit_guid.map(str::to_string);
        self.list(
            &ops::GET_HOUR_ENTRIES_BY_DATE_AND_USER_GUID,
            &[&bu, &start, &end, &user_guid],
        )
        .await
    }

    /// Every entry of the business unit (`None`: the whole organisation) dated in the range:
    /// the non-incremental read reconciliation compares against.
    pub async fn get_hour_entries_by_date(
        &self,
        business_unit_guid: Option<&str>,
        start: WireDateTime,
        end: WireDateTime,
    ) -> Result<Vec<HourEntry>> {
        let bu = business_unit_guid.map(str::to_string);
        self.list(&ops::GET_HOUR_ENTRIES_BY_DATE, &[&bu, &start, &end])
            .await
    }

    /// Entries changed at or after `since` (UTC, compared to the minute).
    pub async fn get_hour_entries_changed_since(
        &self,
        since: WireDateTime,
    ) -> Result<Vec<HourEntry>> {
        self.list(&ops::GET_HOUR_ENTRIES_CHANGED_SINCE, &[&since])
            .await
    }

    // IUser

    pub async fn get_user_by_guid(&self, guid: &str) -> Result<Option<User>> {
        self.one(&ops::GET_USER_BY_GUID, &[&guid]).await
    }

    pub async fn get_user_by_code(&self, code: &str) -> Result<Option<User>> {
        self.one(&ops::GET_USER_BY_CODE, &[&code]).await
    }

    pub async fn get_user_by_name(
        &self,
        first_name: &str,
        last_name: &str,
    ) -> Result<Option<User>> {
        self.one(&ops::GET_USER_BY_NAME, &[&first_name, &last_name])
            .await
    }

    pub async fn get_all_users(
        &self,
        business_unit_guid: Option<&str>,
        include_inactive: bool,
    ) -> Result<Vec<User>> {
        let bu = business_unit_guid.map(str::to_string);
        self.list(&ops::GET_ALL_USERS, &[&bu, &include_inactive])
            .await
    }

    /// `options`: 1 = only inserted after `since`, 2 = include inactive.
    pub async fn get_users_changed_since(
        &self,
        business_unit_guid: Option<&str>,
        since: WireDateTime,
        options: i32,
    ) -> Result<Vec<User>> {
        let bu = business_unit_guid.map(str::to_string);
        self.list(&ops::GET_USERS_CHANGED_SINCE, &[&bu, &since, &options])
            .await
    }

    pub async fn add_new_user(&self, user: &User) -> Result<User> {
        self.required(&ops::ADD_NEW_USER, &[&user]).await
    }

    /// `false` means Severa did not disable the user.
    pub async fn disable_user(&self, guid: &str) -> Result<bool> {
        self.required(&ops::DISABLE_USER, &[&guid]).await
    }

    // ICase

    pub async fn get_case_by_guid(&self, guid: &str) -> Result<Option<Case>> {
        self.one(&ops::GET_CASE_BY_GUID, &[&guid]).await
    }

    pub async fn add_new_case(&self, case: &Case) -> Result<Case> {
        self.required(&ops::ADD_NEW_CASE, &[&case]).await
    }

    pub async fn update_case(&self, case: &Case) -> Result<Case> {
        whole_entity(&ops::UPDATE_CASE, case)?;
        self.required(&ops::UPDATE_CASE, &[&case]).await
    }

    pub async fn get_cases_changed_since(
        &self,
        business_unit_guid: Option<&str>,
        since: WireDateTime,
        options: i32,
    ) -> Result<Vec<Case>> {
        let bu = business_unit_guid.map(str::to_string);
        self.list(&ops::GET_CASES_CHANGED_SINCE, &[&bu, &since, &options])
            .await
    }

    pub async fn get_all_cases(&self, business_unit_guid: Option<&str>) -> Result<Vec<Case>> {
        let bu = business_unit_guid.map(str::to_string);
        self.list(&ops::GET_ALL_CASES, &[&bu]).await
    }

    pub async fn get_case_by_number(&self, case_number: i64) -> Result<Option<Case>> {
        self.one(&ops::GET_CASE_BY_NUMBER, &[&case_number]).await
    }

    // IPhase

    pub async fn get_phases_by_case_guid(&self, case_guid: &str) -> Result<Vec<Phase>> {
        self.list(&ops::GET_PHASES_BY_CASE_GUID, &[&case_guid])
            .await
    }

    /// `options`: 0 new and updated active phases (see the facts sheet for the other flags).
    pub async fn get_phases_changed_since(
        &self,
        business_unit_guid: Option<&str>,
        since: WireDateTime,
        options: i32,
    ) -> Result<Vec<Phase>> {
        let bu = business_unit_guid.map(str::to_string);
        self.list(&ops::GET_PHASES_CHANGED_SINCE, &[&bu, &since, &options])
            .await
    }

    /// GUIDs of the users who are members of the phase.
    pub async fn get_phase_members_by_phase_guid(
        &self,
        phase_guid: &str,
        only_active: bool,
    ) -> Result<Vec<String>> {
        self.list(
            &ops::GET_PHASE_MEMBERS_BY_PHASE_GUID,
            &[&phase_guid, &only_active],
        )
        .await
    }

    pub async fn get_phase_by_guid(&self, guid: &str) -> Result<Option<Phase>> {
        self.one(&ops::GET_PHASE_BY_GUID, &[&guid]).await
    }

    /// `members`: user GUIDs; `None` makes every case member a phase member.
    pub async fn add_new_phase(
        &self,
        phase: &Phase,
        members: Option<Vec<String>>,
    ) -> Result<Phase> {
        self.required(&ops::ADD_NEW_PHASE, &[&phase, &members])
            .await
    }

    // IWorkType

    pub async fn get_work_types_by_phase_guid(&self, phase_guid: &str) -> Result<Vec<WorkType>> {
        self.list(&ops::GET_WORK_TYPES_BY_PHASE_GUID, &[&phase_guid])
            .await
    }

    pub async fn get_all_work_types(&self) -> Result<Vec<WorkType>> {
        self.list(&ops::GET_ALL_WORK_TYPES, &[]).await
    }

    /// `options`: 0 new and updated active, 1 exclude updated, 2 include inactive.
    pub async fn get_work_types_changed_since(
        &self,
        since: WireDateTime,
        options: i32,
    ) -> Result<Vec<WorkType>> {
        self.list(&ops::GET_WORK_TYPES_CHANGED_SINCE, &[&since, &options])
            .await
    }

    pub async fn get_work_type_by_guid(&self, guid: &str) -> Result<Option<WorkType>> {
        self.one(&ops::GET_WORK_TYPE_BY_GUID, &[&guid]).await
    }

    // IAccount / ICustomer

    /// Upsert: an account with the same Number, else the same Name, is updated.
    pub async fn add_new_account(
        &self,
        account: &Account,
        company: &Company,
        address: Option<&Address>,
        contact: Option<&Contact>,
    ) -> Result<Account> {
        let address = address.cloned();
        let contact = contact.cloned();
        self.required(
            &ops::ADD_NEW_ACCOUNT,
            &[&account, &company, &address, &contact],
        )
        .await
    }

    /// `UpdateAccount(accountInfo, companyInfo)`: both whole (read them first).
    pub async fn update_account(&self, account: &Account, company: &Company) -> Result<Account> {
        whole_entity(&ops::UPDATE_ACCOUNT, account)?;
        whole_entity(&ops::UPDATE_ACCOUNT, company)?;
        self.required(&ops::UPDATE_ACCOUNT, &[&account, &company])
            .await
    }

    pub async fn get_company_by_guid(&self, guid: &str) -> Result<Option<Company>> {
        self.one(&ops::GET_COMPANY_BY_GUID, &[&guid]).await
    }

    pub async fn get_address_by_guid(&self, guid: &str) -> Result<Option<Address>> {
        self.one(&ops::GET_ADDRESS_BY_GUID, &[&guid]).await
    }

    pub async fn add_new_address(&self, address: &Address) -> Result<Address> {
        self.required(&ops::ADD_NEW_ADDRESS, &[&address]).await
    }

    /// The address must be whole (read it first).
    pub async fn update_address(&self, address: &Address) -> Result<Address> {
        whole_entity(&ops::UPDATE_ADDRESS, address)?;
        self.required(&ops::UPDATE_ADDRESS, &[&address]).await
    }

    pub async fn get_account_by_name(&self, name: &str) -> Result<Option<Account>> {
        self.one(&ops::GET_ACCOUNT_BY_NAME, &[&name]).await
    }

    pub async fn get_account_by_guid(&self, guid: &str) -> Result<Option<Account>> {
        self.one(&ops::GET_ACCOUNT_BY_GUID, &[&guid]).await
    }

    pub async fn get_account_by_number(&self, number: i64) -> Result<Option<Account>> {
        self.one(&ops::GET_ACCOUNT_BY_NUMBER, &[&number]).await
    }

    pub async fn get_accounts_changed_since(
        &self,
        since: WireDateTime,
        options: i32,
    ) -> Result<Vec<Account>> {
        self.list(&ops::GET_ACCOUNTS_CHANGED_SINCE, &[&since, &options])
            .await
    }

    pub async fn get_customer_by_guid(&self, guid: &str) -> Result<Option<Customer>> {
        self.one(&ops::GET_CUSTOMER_BY_GUID, &[&guid]).await
    }

    pub async fn add_new_customer(&self, customer: &Customer) -> Result<Customer> {
        self.required(&ops::ADD_NEW_CUSTOMER, &[&customer]).await
    }

    // IContact

    pub async fn add_new_contact(&self, contact: &Contact) -> Result<Contact> {
        self.required(&ops::ADD_NEW_CONTACT, &[&contact]).await
    }

    pub async fn update_contact(&self, contact: &Contact) -> Result<Contact> {
        whole_entity(&ops::UPDATE_CONTACT, contact)?;
        self.required(&ops::UPDATE_CONTACT, &[&contact]).await
    }

    pub async fn get_contact_by_guid(&self, guid: &str) -> Result<Option<Contact>> {
        self.one(&ops::GET_CONTACT_BY_GUID, &[&guid]).await
    }

    pub async fn get_contacts_by_account_guid(&self, account_guid: &str) -> Result<Vec<Contact>> {
        self.list(&ops::GET_CONTACTS_BY_ACCOUNT_GUID, &[&account_guid])
            .await
    }

    /// `account_guid` `None` = all accounts.
    pub async fn get_contacts_changed_since(
        &self,
        account_guid: Option<&str>,
        since: WireDateTime,
        options: i32,
    ) -> Result<Vec<Contact>> {
        let account = account_guid.map(str::to_string);
        self.list(
            &ops::GET_CONTACTS_CHANGED_SINCE,
            &[&account, &since, &options],
        )
        .await
    }

    // IInvoice / IInvoiceStatus

    pub async fn get_invoice_by_guid(&self, guid: &str) -> Result<Option<Invoice>> {
        self.one(&ops::GET_INVOICE_BY_GUID, &[&guid]).await
    }

    pub async fn get_invoice_by_number(
        &self,
        number: i32,
        business_unit_guid: Option<&str>,
    ) -> Result<Option<Invoice>> {
        let bu = business_unit_guid.map(str::to_string);
        self.one(&ops::GET_INVOICE_BY_NUMBER, &[&number, &bu]).await
    }

    pub async fn get_invoices_by_date(
        &self,
        business_unit_guid: Option<&str>,
        start: WireDateTime,
        end: WireDateTime,
        options: i32,
    ) -> Result<Vec<Invoice>> {
        let bu = business_unit_guid.map(str::to_string);
        self.list(&ops::GET_INVOICES_BY_DATE, &[&bu, &start, &end, &options])
            .await
    }

    /// `status` is the status *name* (see [`Self::get_all_invoice_statuses`]).
    pub async fn set_invoice_status(&self, invoice_guid: &str, status: &str) -> Result<()> {
        self.void(&ops::SET_INVOICE_STATUS, &[&invoice_guid, &status])
            .await
    }

    pub async fn set_invoice_payment_date(
        &self,
        invoice_guid: &str,
        payment_date: WireDateTime,
    ) -> Result<()> {
        self.void(
            &ops::SET_INVOICE_PAYMENT_DATE,
            &[&invoice_guid, &payment_date],
        )
        .await
    }

    pub async fn get_all_invoice_statuses(&self) -> Result<Vec<InvoiceStatus>> {
        self.list(&ops::GET_ALL_INVOICE_STATUSES, &[]).await
    }

    // IAPI

    pub async fn get_version(&self) -> Result<String> {
        self.required(&ops::GET_VERSION, &[]).await
    }

    /// Severa bumps this on breaking entity changes; store it and compare on every run.
    pub async fn get_entity_schema_version(&self) -> Result<String> {
        self.required(&ops::GET_ENTITY_SCHEMA_VERSION, &[]).await
    }
}
