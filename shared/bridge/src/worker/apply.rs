//! One job → Severa calls through the typed client, with the id map keeping the other
//! software's record and the Severa record together.

use super::Inner;
use crate::error::JobError;
use crate::job::{
    AccountUpsert, Action, CaseCreate, ContactUpsert, HourEntryUpsert, Job, PostalAddress,
    UserCreate, UserDeactivate,
};
use crate::ports::{CreateIntent, ExternalKey};
use crate::resolve::HourEntryTarget;
use serde_json::{Value, json};
use severa::entities::{
    Account, Address, Case, CommunicationMethod, Company, Contact, HourEntry, User,
};
use severa::operations as ops;
use severa::{Fault, FaultKind, SeveraClient, SeveraError, WireDateTime};

/// What applying a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Applied {
    /// The Severa record the job produced or changed.
    pub guid: Option<String>,
    /// The Severa write (or the reason none was needed), for the outcome log line.
    pub operation: &'static str,
    /// Nothing to do (a delete of an unknown record, a create that already happened).
    pub skipped: bool,
}

fn applied(guid: impl Into<String>, operation: &'static str) -> Applied {
    Applied {
        guid: Some(guid.into()),
        operation,
        skipped: false,
    }
}

fn skipped(guid: Option<String>, operation: &'static str) -> Applied {
    Applied {
        guid,
        operation,
        skipped: true,
    }
}

/// A Severa answer the worker cannot use. Not retried: repeating a write whose answer made no
/// sense could create the record twice.
fn unexpected(operation: &'static str, message: impl Into<String>) -> JobError {
    JobError::Severa(SeveraError::Fault {
        operation: operation.to_string(),
        fault: Box::new(Fault {
            kind: FaultKind::GeneralFailure,
            detail_type: Some("UnexpectedResponse".into()),
            code: "bridge".into(),
            message: message.into(),
            description: None,
        }),
        quota: Default::default(),
    })
}

fn guid_of(operation: &'static str, guid: Option<String>) -> Result<String, JobError> {
    guid.filter(|g| !g.trim().is_empty())
        .ok_or_else(|| unexpected(operation, "Severa's answer carried no GUID"))
}

/// The record a job writes, the job holding its lock, and the create an earlier attempt started
/// and did not see through (what it was creating, as [`Inner::intend`] recorded it).
struct Rec {
    key: ExternalKey,
    owner: String,
    intent: Option<Value>,
}

/// What an hour-entry create sends, as [`Inner::find_created`] reads it back (the hot path:
/// every new entry records one, so it is written from a struct, not a `json!` map).
#[derive(serde::Serialize)]
struct HourEntryIntent<'a> {
    op: &'static str,
    user: &'a str,
    /// `YYYY-MM-DD`.
    date: chrono::NaiveDate,
    phase: &'a str,
    /// As text, so the decimal reads back exactly.
    #[serde(serialize_with = "as_text")]
    hours: rust_decimal::Decimal,
    description: &'a str,
}

fn as_text<S: serde::Serializer>(
    value: &rust_decimal::Decimal,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// A text member of a recorded intent.
fn field<'a>(intent: &'a Value, name: &str) -> Option<&'a str> {
    intent.get(name).and_then(Value::as_str)
}

fn same_text(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| a.trim().eq_ignore_ascii_case(b.trim()))
}

impl Inner {
    pub(super) async fn apply(
        &self,
        job: &Job,
        client: SeveraClient,
        intent: Option<&CreateIntent>,
    ) -> Result<Applied, JobError> {
        let rec = Rec {
            key: ExternalKey {
                source: job.source.clone(),
                entity: job.kind().entity().to_string(),
                external_id: job.external_id.clone(),
            },
            owner: job.job_id.clone(),
            // A fingerprint that is not ours (an older format) still says a create was open.
            intent: intent.map(|i| serde_json::from_str(&i.fingerprint).unwrap_or(Value::Null)),
        };
        match &job.action {
            Action::HourEntryUpsert(p) => self.upsert_hour_entry(&client, &rec, p).await,
            Action::HourEntryDelete(_) => self.delete_hour_entry(&client, &rec).await,
            Action::AccountUpsert(p) => self.upsert_account(&client, &rec, p).await,
            Action::ContactUpsert(p) => self.upsert_contact(&client, &rec, p).await,
            Action::CaseCreate(p) => self.create_case(&client, &rec, p).await,
            Action::UserCreate(p) => self.create_user(&client, &rec, p).await,
            Action::UserDeactivate(p) => self.deactivate_user(&client, p).await,
            Action::OutboundDeliver(p) => self.deliver(job, p, &client).await,
        }
    }

    /// The record's Severa GUID: from the id map, or — when an earlier attempt started a create
    /// whose answer was lost — found in Severa by what that create sent ([`Self::find_created`])
    /// and adopted, unless another record of the other software owns it. `None`: create it.
    async fn mapped(&self, client: &SeveraClient, rec: &Rec) -> Result<Option<String>, JobError> {
        if let Some(guid) = self.id_map.lookup(&rec.key).await? {
            return Ok(Some(guid));
        }
        let Some(intent) = &rec.intent else {
            return Ok(None);
        };
        for guid in self.find_created(client, intent).await? {
            if self
                .id_map
                .owner(&guid)
                .await?
                .is_some_and(|owner| owner != rec.key)
            {
                continue;
            }
            tracing::warn!(
                source = %rec.key.source,
                entity = %rec.key.entity,
                external_id = %rec.key.external_id,
                severa_guid = %guid,
                "an earlier attempt created this record but its answer was lost; adopting it"
            );
            self.remember(&rec.key, &guid).await?;
            return Ok(Some(guid));
        }
        Ok(None)
    }

    /// Records in Severa that match what an open create intent sent: hour entries of the user
    /// on the day with the phase, hours and text; accounts by number, then name; contacts by
    /// name in the account; cases by name in the account; users by e-mail.
    async fn find_created(
        &self,
        client: &SeveraClient,
        intent: &Value,
    ) -> Result<Vec<String>, JobError> {
        let text = |name: &str| field(intent, name).unwrap_or_default().to_string();
        let guids = match field(intent, "op") {
            Some("AddNewHourEntry") => {
                let Ok(date) = text("date").parse::<chrono::NaiveDate>() else {
                    return Ok(Vec::new());
                };
                let day = WireDateTime::date(date);
                let hours = text("hours").parse::<rust_decimal::Decimal>().ok();
                let entries = client
                    .get_hour_entries_by_date_and_user_guid(None, day, day, &text("user"))
                    .await?
                    .value;
                entries
                    .into_iter()
                    .filter(|e| {
                        e.phase_guid.as_deref() == Some(text("phase").as_str())
                            && e.quantity == hours
                            && e.description.as_deref().unwrap_or_default() == text("description")
                    })
                    .filter_map(|e| e.guid)
                    .collect()
            }
            Some("AddNewAccount") => {
                let by_number = match intent.get("number").and_then(Value::as_i64) {
                    Some(n) => client.get_account_by_number(n).await?.value,
                    None => None,
                };
                let found = match by_number {
                    Some(account) => Some(account),
                    None => client.get_account_by_name(&text("name")).await?.value,
                };
                found.and_then(|a| a.guid).into_iter().collect()
            }
            Some("AddNewContact") => client
                .get_contacts_by_account_guid(&text("account"))
                .await?
                .value
                .into_iter()
                .filter(|c| {
                    same_text(c.first_name.as_deref(), &text("first_name"))
                        && same_text(c.last_name.as_deref(), &text("last_name"))
                })
                .filter_map(|c| c.guid)
                .collect(),
            Some("AddNewCase") => client
                .get_all_cases(None)
                .await?
                .value
                .into_iter()
                .filter(|c| {
                    same_text(c.name.as_deref(), &text("name"))
                        && c.account_guid.as_deref() == Some(text("account").as_str())
                })
                .filter_map(|c| c.guid)
                .collect(),
            Some("AddNewUser") => client
                .get_all_users(None, true)
                .await?
                .value
                .into_iter()
                .filter(|u| same_text(u.email.as_deref(), &text("email")))
                .filter_map(|u| u.guid)
                .collect(),
            _ => Vec::new(),
        };
        Ok(guids)
    }

    /// Records, before a create, what is being created: if the answer is lost, the retry finds
    /// the intent and looks in Severa before creating again.
    async fn intend(&self, rec: &Rec, what: &impl serde::Serialize) -> Result<(), JobError> {
        // Plain strings and numbers: serialisation cannot fail; an empty fingerprint would
        // still read back as "a create was open".
        let fingerprint = serde_json::to_string(what).unwrap_or_default();
        self.records
            .open_intent(&rec.key, &rec.owner, &fingerprint)
            .await
            .map_err(JobError::Infrastructure)
    }

    /// Maps the new record; a failure here is logged with the GUID so a person can tie the
    /// record up if the retry creates another.
    async fn remember(&self, key: &ExternalKey, guid: &str) -> Result<(), JobError> {
        self.id_map.record(key, guid).await.map_err(|e| {
            tracing::error!(
                source = %key.source,
                entity = %key.entity,
                external_id = %key.external_id,
                severa_guid = guid,
                error = %e,
                "created a Severa record but could not map it; the retry may create another"
            );
            JobError::Infrastructure(e)
        })
    }

    /// Update = read the entry, change what the job carries, send it back whole: `UpdateHourEntry`
    /// replaces every non-nullable member, so a partial entry would reset `IsBillable`,
    /// `UnitPrice`, ... to false/0. Create = every non-nullable member that matters explicit.
    async fn upsert_hour_entry(
        &self,
        client: &SeveraClient,
        rec: &Rec,
        p: &HourEntryUpsert,
    ) -> Result<Applied, JobError> {
        let target = self.resolver.hour_entry_target(client, p).await?;
        if let Some(guid) = self.mapped(client, rec).await? {
            match client.get_hour_entry_by_guid(&guid).await?.value {
                Some(mut entry) => {
                    entry.guid = Some(guid.clone());
                    apply_hour_entry_fields(&mut entry, &target, p);
                    let r = client.update_hour_entry(&entry).await?;
                    let guid = r.value.guid.unwrap_or(guid);
                    return Ok(applied(guid, ops::UPDATE_HOUR_ENTRY.name));
                }
                // Gone in Severa (deleted there by a person): add it anew, re-map.
                None => {
                    tracing::info!(severa_guid = %guid, "mapped hour entry is gone in Severa; adding it anew");
                }
            }
        }
        let mut entry = HourEntry {
            // Rule for creates (README): billable as the job says; else not on an internal
            // case, otherwise billable. Prices are left to Severa's price list.
            is_billable: Some(p.billable.unwrap_or(!target.case_is_internal)),
            is_read_only: Some(false),
            ..Default::default()
        };
        apply_hour_entry_fields(&mut entry, &target, p);
        self.intend(
            rec,
            &HourEntryIntent {
                op: ops::ADD_NEW_HOUR_ENTRY.name,
                user: &target.user_guid,
                date: p.event_date,
                phase: &target.phase_guid,
                hours: p.hours,
                description: p.description.as_deref().unwrap_or_default(),
            },
        )
        .await?;
        let created = client.add_new_hour_entry(&entry).await?.value;
        let guid = guid_of(ops::ADD_NEW_HOUR_ENTRY.name, created.guid)?;
        self.remember(&rec.key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_HOUR_ENTRY.name))
    }

    /// A delete of an entry whose create lost its answer finds that entry by the open intent.
    async fn delete_hour_entry(
        &self,
        client: &SeveraClient,
        rec: &Rec,
    ) -> Result<Applied, JobError> {
        let key = &rec.key;
        let Some(guid) = self.mapped(client, rec).await? else {
            tracing::info!(
                source = %key.source,
                external_id = %key.external_id,
                "delete of an hour entry this bridge never created: nothing to do"
            );
            return Ok(skipped(None, ops::DELETE_HOUR_ENTRY.name));
        };
        let deleted = match client.delete_hour_entry(&guid).await {
            Ok(r) => r.value,
            Err(e) if e.fault_kind() == Some(FaultKind::NotFound) => false,
            Err(e) => return Err(e.into()),
        };
        // `false` is also Severa's answer for an entry already gone (deleted by a person or by
        // an earlier delivery whose answer was lost): that counts as done.
        if !deleted && client.get_hour_entry_by_guid(&guid).await?.value.is_some() {
            return Err(JobError::Severa(SeveraError::Fault {
                operation: ops::DELETE_HOUR_ENTRY.name.to_string(),
                fault: Box::new(Fault {
                    kind: FaultKind::Validation,
                    detail_type: Some("DeleteRefused".into()),
                    code: "bridge".into(),
                    message: format!(
                        "Severa did not delete hour entry {guid} (invoiced, or its phase is locked)"
                    ),
                    description: None,
                }),
                quota: Default::default(),
            }));
        }
        self.id_map.forget(key, &guid).await?;
        Ok(applied(guid, ops::DELETE_HOUR_ENTRY.name))
    }

    /// A mapped account is read, changed and written back whole with its company
    /// (`UpdateAccount(accountInfo, companyInfo)`); an unmapped one goes through AddNewAccount,
    /// which upserts by Number, then Name.
    async fn upsert_account(
        &self,
        client: &SeveraClient,
        rec: &Rec,
        p: &AccountUpsert,
    ) -> Result<Applied, JobError> {
        if let Some(guid) = self.mapped(client, rec).await? {
            if let Some(mut account) = client.get_account_by_guid(&guid).await?.value {
                let company = match account.company_guid.as_deref() {
                    Some(company_guid) => client.get_company_by_guid(company_guid).await?.value,
                    None => None,
                };
                let Some(mut company) = company else {
                    return Err(unexpected(
                        ops::GET_COMPANY_BY_GUID.name,
                        format!("account {guid} has no readable company"),
                    ));
                };
                account.name = Some(p.name.clone());
                account.number = p.number.or(account.number);
                account.notes = p.notes.clone().or(account.notes);
                apply_company_fields(&mut company, p);
                client.update_account(&account, &company).await?;
                if let Some(address) = &p.address {
                    self.update_company_address(client, &company, address)
                        .await?;
                }
                self.resolver.account_changed();
                return Ok(applied(guid, ops::UPDATE_ACCOUNT.name));
            }
            tracing::info!(severa_guid = %guid, "mapped account is gone in Severa; adding it anew");
        }
        let account = Account {
            name: Some(p.name.clone()),
            number: p.number,
            notes: p.notes.clone(),
            // Non-nullable; AddNewAccount makes every new account active anyway.
            is_active: Some(true),
            ..Default::default()
        };
        let mut company = Company::default();
        apply_company_fields(&mut company, p);
        let address = p.address.as_ref().map(|a| {
            let mut address = new_address();
            apply_address_fields(&mut address, a);
            address
        });
        // AddNewAccount upserts by Number, then Name: a repeat updates the same account.
        self.intend(
            rec,
            &json!({"op": ops::ADD_NEW_ACCOUNT.name, "name": p.name, "number": p.number}),
        )
        .await?;
        let saved = client
            .add_new_account(&account, &company, address.as_ref(), None)
            .await?
            .value;
        self.resolver.account_changed();
        let guid = guid_of(ops::ADD_NEW_ACCOUNT.name, saved.guid)?;
        self.remember(&rec.key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_ACCOUNT.name))
    }

    /// The company's head-office address, read and written back whole; added when it has none.
    async fn update_company_address(
        &self,
        client: &SeveraClient,
        company: &Company,
        p: &PostalAddress,
    ) -> Result<(), JobError> {
        let existing = match company.head_office_address_guid.as_deref() {
            Some(guid) => client.get_address_by_guid(guid).await?.value,
            None => None,
        };
        match existing {
            Some(mut address) => {
                apply_address_fields(&mut address, p);
                client.update_address(&address).await?;
            }
            None => {
                let mut address = new_address();
                address.company_guid = company.guid.clone();
                apply_address_fields(&mut address, p);
                client.add_new_address(&address).await?;
            }
        }
        Ok(())
    }

    /// A mapped contact is read, changed and written back whole (`UpdateContact` would read a
    /// left-out `IsActive` as false and deactivate the contact).
    async fn upsert_contact(
        &self,
        client: &SeveraClient,
        rec: &Rec,
        p: &ContactUpsert,
    ) -> Result<Applied, JobError> {
        let account_guid = self.resolver.account(client, &p.account).await?;
        if let Some(guid) = self.mapped(client, rec).await? {
            if let Some(mut contact) = client.get_contact_by_guid(&guid).await?.value {
                contact.guid = Some(guid.clone());
                contact.account_guid = Some(account_guid);
                apply_contact_fields(&mut contact, p);
                let r = client.update_contact(&contact).await?;
                let guid = r.value.guid.unwrap_or(guid);
                return Ok(applied(guid, ops::UPDATE_CONTACT.name));
            }
            tracing::info!(severa_guid = %guid, "mapped contact is gone in Severa; adding it anew");
        }
        let mut contact = Contact {
            account_guid: Some(account_guid.clone()),
            is_active: Some(true),
            ..Default::default()
        };
        apply_contact_fields(&mut contact, p);
        self.intend(
            rec,
            &json!({
                "op": ops::ADD_NEW_CONTACT.name,
                "account": account_guid,
                "first_name": p.first_name,
                "last_name": p.last_name,
            }),
        )
        .await?;
        let created = client.add_new_contact(&contact).await?.value;
        let guid = guid_of(ops::ADD_NEW_CONTACT.name, created.guid)?;
        self.remember(&rec.key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_CONTACT.name))
    }

    async fn create_case(
        &self,
        client: &SeveraClient,
        rec: &Rec,
        p: &CaseCreate,
    ) -> Result<Applied, JobError> {
        let account_guid = self.resolver.account(client, &p.account).await?;
        // A create that already happened (an earlier job for the same external id) is not
        // repeated: AddNewCase has no upsert and would open a second case.
        if let Some(guid) = self.mapped(client, rec).await? {
            return Ok(skipped(Some(guid), ops::ADD_NEW_CASE.name));
        }
        let owner_guid = self.resolver.user(client, &p.owner).await?;
        let case = Case {
            name: Some(p.name.clone()),
            account_guid: Some(account_guid.clone()),
            case_owner_user_guid: Some(owner_guid),
            currency_shortform: Some(p.currency.clone()),
            description: p.description.clone(),
            // Non-nullable members, explicit: a left-out StartDate would be 0001-01-01.
            start_date: Some(WireDateTime::date(
                p.start_date
                    .unwrap_or_else(|| chrono::Utc::now().date_naive()),
            )),
            is_closed: Some(false),
            is_internal: Some(false),
            ..Default::default()
        };
        self.intend(
            rec,
            &json!({"op": ops::ADD_NEW_CASE.name, "account": account_guid, "name": p.name}),
        )
        .await?;
        let created = client.add_new_case(&case).await?.value;
        let guid = guid_of(ops::ADD_NEW_CASE.name, created.guid)?;
        self.remember(&rec.key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_CASE.name))
    }

    async fn create_user(
        &self,
        client: &SeveraClient,
        rec: &Rec,
        p: &UserCreate,
    ) -> Result<Applied, JobError> {
        if let Some(guid) = self.mapped(client, rec).await? {
            return Ok(skipped(Some(guid), ops::ADD_NEW_USER.name));
        }
        let user = User {
            first_name: Some(p.first_name.clone()),
            last_name: Some(p.last_name.clone()),
            email: Some(p.email.clone()),
            code: p.code.clone(),
            business_unit_guid: Some(p.business_unit_guid.clone()),
            is_active: Some(true),
            send_daily_mail: Some(false),
            send_weekly_mail: Some(false),
            ..Default::default()
        };
        self.intend(
            rec,
            &json!({"op": ops::ADD_NEW_USER.name, "email": p.email}),
        )
        .await?;
        let created = client.add_new_user(&user).await?.value;
        self.resolver.user_changed();
        let guid = guid_of(ops::ADD_NEW_USER.name, created.guid)?;
        self.remember(&rec.key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_USER.name))
    }

    async fn deactivate_user(
        &self,
        client: &SeveraClient,
        p: &UserDeactivate,
    ) -> Result<Applied, JobError> {
        let guid = self.resolver.user(client, &p.user).await?;
        let disabled = client.disable_user(&guid).await?.value;
        // `false` for a user already inactive counts as done.
        if !disabled
            && client
                .get_user_by_guid(&guid)
                .await?
                .value
                .is_some_and(|u| u.is_active != Some(false))
        {
            return Err(unexpected(
                ops::DISABLE_USER.name,
                format!("Severa did not disable user {guid}"),
            ));
        }
        Ok(applied(guid, ops::DISABLE_USER.name))
    }
}

/// The members an hour-entry job carries; everything else keeps the value read from Severa.
fn apply_hour_entry_fields(entry: &mut HourEntry, target: &HourEntryTarget, p: &HourEntryUpsert) {
    entry.user_guid = Some(target.user_guid.clone());
    entry.phase_guid = Some(target.phase_guid.clone());
    if target.work_type_guid.is_some() {
        entry.work_type_guid = target.work_type_guid.clone();
    }
    entry.event_date = Some(WireDateTime::date(p.event_date));
    entry.quantity = Some(p.hours);
    if p.description.is_some() {
        entry.description = p.description.clone();
    }
    if let Some(billable) = p.billable {
        entry.is_billable = Some(billable);
    }
}

fn apply_company_fields(company: &mut Company, p: &AccountUpsert) {
    company.name = Some(p.name.clone());
    for (field, value) in [
        (&mut company.vat_number, &p.vat_number),
        (&mut company.email, &p.email),
        (&mut company.website, &p.website),
    ] {
        if value.is_some() {
            field.clone_from(value);
        }
    }
}

/// A new address with its non-nullable flags explicit (postal, as CRMs send one address).
fn new_address() -> Address {
    Address {
        is_postal_address: Some(true),
        is_billing_address: Some(false),
        is_visit_address: Some(false),
        ..Default::default()
    }
}

fn apply_address_fields(address: &mut Address, p: &PostalAddress) {
    address.addressline = p.line1.clone();
    address.addressline2 = p.line2.clone();
    address.postal_code = p.postal_code.clone();
    address.city = p.city.clone();
    address.country_code = p.country_code.clone();
}

/// Name and title from the job; e-mail and phone replace the methods of their type and keep
/// the others (a fax entered in Severa stays).
fn apply_contact_fields(contact: &mut Contact, p: &ContactUpsert) {
    contact.first_name = Some(p.first_name.clone());
    contact.last_name = Some(p.last_name.clone());
    if p.job_title.is_some() {
        contact.job_title = p.job_title.clone();
    }
    let mut methods = contact.communication_methods.take().unwrap_or_default();
    for (kind, value) in [("EmailAddress", &p.email), ("Phone", &p.phone)] {
        let Some(value) = value else { continue };
        methods.retain(|m| m.r#type.as_deref() != Some(kind));
        methods.push(CommunicationMethod {
            r#type: Some(kind.into()),
            value: Some(value.clone()),
            is_forbidden_to_use: Some(false),
            ..Default::default()
        });
    }
    contact.communication_methods = (!methods.is_empty()).then_some(methods);
}
