//! One job → Severa calls through the typed client, with the id map keeping the other
//! software's record and the Severa record together.

use super::Inner;
use crate::error::JobError;
use crate::job::{
    AccountUpsert, Action, CaseCreate, ContactUpsert, HourEntryUpsert, Job, UserCreate,
    UserDeactivate,
};
use crate::ports::ExternalKey;
use severa::entities::{
    Account, Address, Case, CommunicationMethod, Company, Contact, HourEntry, User,
};
use severa::operations as ops;
use severa::{Fault, FaultKind, SeveraClient, SeveraError, TransportKind, WireDateTime};

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

/// Severa says the record is not there: a NotFound fault, or (the client's reading of) a nil
/// result where a record was expected.
fn is_gone(err: &JobError) -> bool {
    match err {
        JobError::Severa(e) if e.fault_kind() == Some(FaultKind::NotFound) => true,
        JobError::Severa(SeveraError::Transport {
            kind: TransportKind::NoResult,
            ..
        }) => true,
        _ => false,
    }
}

impl Inner {
    pub(super) async fn apply(&self, job: &Job, client: SeveraClient) -> Result<Applied, JobError> {
        let key = ExternalKey {
            source: job.source.clone(),
            entity: job.kind().entity().to_string(),
            external_id: job.external_id.clone(),
        };
        match &job.action {
            Action::HourEntryUpsert(p) => self.upsert_hour_entry(&client, &key, p).await,
            Action::HourEntryDelete(_) => self.delete_hour_entry(&client, &key).await,
            Action::AccountUpsert(p) => self.upsert_account(&client, &key, p).await,
            Action::ContactUpsert(p) => self.upsert_contact(&client, &key, p).await,
            Action::CaseCreate(p) => self.create_case(&client, &key, p).await,
            Action::UserCreate(p) => self.create_user(&client, &key, p).await,
            Action::UserDeactivate(p) => self.deactivate_user(&client, p).await,
            Action::OutboundDeliver(p) => self.deliver(job, p, &client).await,
        }
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

    async fn upsert_hour_entry(
        &self,
        client: &SeveraClient,
        key: &ExternalKey,
        p: &HourEntryUpsert,
    ) -> Result<Applied, JobError> {
        let target = self.resolver.hour_entry_target(client, p).await?;
        let mut entry = HourEntry {
            user_guid: Some(target.user_guid),
            phase_guid: Some(target.phase_guid),
            work_type_guid: target.work_type_guid,
            event_date: Some(WireDateTime::date(p.event_date)),
            quantity: Some(p.hours),
            description: p.description.clone(),
            is_billable: p.billable,
            ..Default::default()
        };
        if let Some(guid) = self.id_map.lookup(key).await? {
            entry.guid = Some(guid.clone());
            match client.update_hour_entry(&entry).await {
                Ok(r) => {
                    let guid = r.value.guid.unwrap_or(guid);
                    return Ok(applied(guid, ops::UPDATE_HOUR_ENTRY.name));
                }
                Err(e) => {
                    let e = JobError::Severa(e);
                    // Gone in Severa (deleted there by a person): add it anew, re-map. Checked
                    // by GUID because NotFound may also name a reference inside the entry.
                    if !is_gone(&e) || client.get_hour_entry_by_guid(&guid).await?.value.is_some() {
                        return Err(e);
                    }
                    tracing::info!(severa_guid = %guid, "mapped hour entry is gone in Severa; adding it anew");
                    entry.guid = None;
                }
            }
        }
        let created = client.add_new_hour_entry(&entry).await?.value;
        let guid = guid_of(ops::ADD_NEW_HOUR_ENTRY.name, created.guid)?;
        self.remember(key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_HOUR_ENTRY.name))
    }

    async fn delete_hour_entry(
        &self,
        client: &SeveraClient,
        key: &ExternalKey,
    ) -> Result<Applied, JobError> {
        let Some(guid) = self.id_map.lookup(key).await? else {
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
        self.id_map.forget(key).await?;
        Ok(applied(guid, ops::DELETE_HOUR_ENTRY.name))
    }

    async fn upsert_account(
        &self,
        client: &SeveraClient,
        key: &ExternalKey,
        p: &AccountUpsert,
    ) -> Result<Applied, JobError> {
        let account = Account {
            name: Some(p.name.clone()),
            number: p.number,
            notes: p.notes.clone(),
            ..Default::default()
        };
        let company = Company {
            name: Some(p.name.clone()),
            vat_number: p.vat_number.clone(),
            email: p.email.clone(),
            website: p.website.clone(),
            ..Default::default()
        };
        let address = p.address.as_ref().map(|a| Address {
            addressline: a.line1.clone(),
            addressline2: a.line2.clone(),
            postal_code: a.postal_code.clone(),
            city: a.city.clone(),
            country_code: a.country_code.clone(),
            is_postal_address: Some(true),
            ..Default::default()
        });
        // AddNewAccount upserts by Number, then Name: a repeat updates the same account.
        let saved = client
            .add_new_account(&account, &company, address.as_ref(), None)
            .await?
            .value;
        self.resolver.account_changed();
        let guid = guid_of(ops::ADD_NEW_ACCOUNT.name, saved.guid)?;
        self.remember(key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_ACCOUNT.name))
    }

    async fn upsert_contact(
        &self,
        client: &SeveraClient,
        key: &ExternalKey,
        p: &ContactUpsert,
    ) -> Result<Applied, JobError> {
        let account_guid = self.resolver.account(client, &p.account).await?;
        let mut methods = Vec::new();
        if let Some(email) = &p.email {
            methods.push(CommunicationMethod {
                r#type: Some("EmailAddress".into()),
                value: Some(email.clone()),
                ..Default::default()
            });
        }
        if let Some(phone) = &p.phone {
            methods.push(CommunicationMethod {
                r#type: Some("Phone".into()),
                value: Some(phone.clone()),
                ..Default::default()
            });
        }
        let mut contact = Contact {
            account_guid: Some(account_guid),
            first_name: Some(p.first_name.clone()),
            last_name: Some(p.last_name.clone()),
            job_title: p.job_title.clone(),
            communication_methods: (!methods.is_empty()).then_some(methods),
            ..Default::default()
        };
        if let Some(guid) = self.id_map.lookup(key).await? {
            contact.guid = Some(guid.clone());
            match client.update_contact(&contact).await {
                Ok(r) => {
                    let guid = r.value.guid.unwrap_or(guid);
                    return Ok(applied(guid, ops::UPDATE_CONTACT.name));
                }
                Err(e) => {
                    let e = JobError::Severa(e);
                    if !is_gone(&e) || client.get_contact_by_guid(&guid).await?.value.is_some() {
                        return Err(e);
                    }
                    contact.guid = None;
                }
            }
        }
        let created = client.add_new_contact(&contact).await?.value;
        let guid = guid_of(ops::ADD_NEW_CONTACT.name, created.guid)?;
        self.remember(key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_CONTACT.name))
    }

    async fn create_case(
        &self,
        client: &SeveraClient,
        key: &ExternalKey,
        p: &CaseCreate,
    ) -> Result<Applied, JobError> {
        // A create that already happened (an earlier job for the same external id) is not
        // repeated: AddNewCase has no upsert and would open a second case.
        if let Some(guid) = self.id_map.lookup(key).await? {
            return Ok(skipped(Some(guid), ops::ADD_NEW_CASE.name));
        }
        let account_guid = self.resolver.account(client, &p.account).await?;
        let owner_guid = self.resolver.user(client, &p.owner).await?;
        let case = Case {
            name: Some(p.name.clone()),
            account_guid: Some(account_guid),
            case_owner_user_guid: Some(owner_guid),
            currency_shortform: Some(p.currency.clone()),
            description: p.description.clone(),
            start_date: p.start_date.map(WireDateTime::date),
            ..Default::default()
        };
        let created = client.add_new_case(&case).await?.value;
        let guid = guid_of(ops::ADD_NEW_CASE.name, created.guid)?;
        self.remember(key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_CASE.name))
    }

    async fn create_user(
        &self,
        client: &SeveraClient,
        key: &ExternalKey,
        p: &UserCreate,
    ) -> Result<Applied, JobError> {
        if let Some(guid) = self.id_map.lookup(key).await? {
            return Ok(skipped(Some(guid), ops::ADD_NEW_USER.name));
        }
        let user = User {
            first_name: Some(p.first_name.clone()),
            last_name: Some(p.last_name.clone()),
            email: Some(p.email.clone()),
            code: p.code.clone(),
            business_unit_guid: Some(p.business_unit_guid.clone()),
            ..Default::default()
        };
        let created = client.add_new_user(&user, Some(false)).await?.value;
        self.resolver.user_changed();
        let guid = guid_of(ops::ADD_NEW_USER.name, created.guid)?;
        self.remember(key, &guid).await?;
        Ok(applied(guid, ops::ADD_NEW_USER.name))
    }

    async fn deactivate_user(
        &self,
        client: &SeveraClient,
        p: &UserDeactivate,
    ) -> Result<Applied, JobError> {
        let guid = self.resolver.user(client, &p.user).await?;
        client.disable_user(&guid).await?;
        Ok(applied(guid, ops::DISABLE_USER.name))
    }
}
