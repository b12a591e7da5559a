//! The operations of `severa::operations::ALL` with the service's rules (facts sheet §3.3, §4).
//! Parameters are read by exactly the names in that table.

use crate::model::{
    self, CUSTOMER, Field, Fields, Kind, Record, WireType, given, merge, non_empty, set, text,
};
use crate::soap::Args;
use crate::state::Org;
use crate::xml::{Fault, Reply};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use severa::WireDateTime;
use severa::operations::Operation;
use std::str::FromStr;

/// One call's context.
pub struct Ctx<'a> {
    pub org: &'a mut Org,
    pub now: DateTime<Utc>,
    /// The authenticated user's GUID.
    pub caller: &'a str,
    pub op: &'a Operation,
    pub args: Args<'a>,
}

impl Ctx<'_> {
    /// Name of the `i`-th parameter of this operation (from the client's table).
    fn p(&self, i: usize) -> &'static str {
        self.op.params.get(i).copied().unwrap_or("")
    }
    fn text(&self, i: usize) -> Option<String> {
        self.args.text(self.p(i))
    }
    fn entity(&self, i: usize, ty: WireType) -> Result<Option<Fields>, Fault> {
        self.args.entity(self.p(i), ty)
    }
    fn date(&self, i: usize) -> Result<Option<WireDateTime>, Fault> {
        self.args.date(self.p(i))
    }
    fn int(&self, i: usize) -> Result<Option<i64>, Fault> {
        self.args.int(self.p(i))
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, Fault> {
        self.args.bool(self.p(i))
    }
}

pub fn execute(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    match cx.op.name {
        // IHourEntry
        "AddNewHourEntry" => add_hour_entry(cx),
        "UpdateHourEntry" => update_hour_entry(cx),
        "DeleteHourEntry" => delete_hour_entry(cx),
        "GetHourEntryByGUID" => Ok(by_guid(cx, Kind::HourEntry)),
        "GetHourEntriesByCaseGUID" => hour_entries_by_case(cx),
        "GetHourEntriesByDateAndUserGUID" => hour_entries_by_user(cx),
        "GetHourEntriesChangedSince" => {
            let start = cx.date(0)?;
            changed_since(cx.org, Kind::HourEntry, start, 2, |_| true)
        }
        // IUser
        "GetUserByGUID" => Ok(by_guid(cx, Kind::User)),
        "GetUserByCode" => {
            let code = cx.text(0);
            Ok(first(cx.org, Kind::User, |r| {
                code.is_some() && r.get("Code") == code.as_deref()
            }))
        }
        "GetUserByName" => {
            let (f, l) = (cx.text(0), cx.text(1));
            Ok(first(cx.org, Kind::User, |r| {
                eq_opt(r.get("FirstName"), f.as_deref()) && eq_opt(r.get("LastName"), l.as_deref())
            }))
        }
        "GetAllUsers" => {
            let bu = cx.text(0);
            let include_inactive = cx.boolean(1)?.unwrap_or(false);
            let org = &*cx.org;
            Ok(list(org, Kind::User, |r| {
                (include_inactive || r.flag("IsActive")) && in_business_unit(org, r, bu.as_deref())
            }))
        }
        "GetUsersChangedSince" => {
            let bu = cx.text(0);
            let start = cx.date(1)?;
            let options = cx.int(2)?.unwrap_or(0);
            let org = &*cx.org;
            changed_since(org, Kind::User, start, options, |r| {
                in_business_unit(org, r, bu.as_deref())
            })
        }
        "AddNewUser" => add_user(cx),
        "DisableUser" => disable_user(cx),
        // ICase / IPhase
        "GetCaseByGUID" => Ok(by_guid(cx, Kind::Case)),
        "AddNewCase" => add_case(cx),
        "UpdateCase" => update_case(cx),
        "GetCasesChangedSince" => {
            let bu = cx.text(0);
            let start = cx.date(1)?;
            let options = cx.int(2)?.unwrap_or(0);
            let org = &*cx.org;
            changed_since(org, Kind::Case, start, options, |r| {
                in_business_unit(org, r, bu.as_deref())
            })
        }
        "GetAllCases" => {
            let bu = cx.text(0);
            let org = &*cx.org;
            Ok(list(org, Kind::Case, |r| {
                in_business_unit(org, r, bu.as_deref())
            }))
        }
        "GetPhasesByCaseGUID" => phases_by_case(cx),
        "GetPhaseByGUID" => Ok(by_guid(cx, Kind::Phase)),
        "AddNewPhase" => add_phase(cx),
        // IWorkType
        "GetWorkTypesByPhaseGUID" => work_types_by_phase(cx),
        "GetAllWorkTypes" => Ok(list(cx.org, Kind::WorkType, |_| true)),
        "GetWorkTypeByGUID" => Ok(by_guid(cx, Kind::WorkType)),
        // IAccount / ICustomer
        "AddNewAccount" => add_account(cx),
        "UpdateAccount" => update_account(cx),
        "GetAccountByGUID" => Ok(by_guid(cx, Kind::Account)),
        "GetAccountByNumber" => {
            let number = cx.int(0)?.map(|n| n.to_string());
            Ok(first(cx.org, Kind::Account, |r| {
                number.is_some() && r.get("Number") == number.as_deref()
            }))
        }
        "GetAccountsChangedSince" => {
            let start = cx.date(0)?;
            let options = cx.int(1)?.unwrap_or(0);
            changed_since(cx.org, Kind::Account, start, options, |_| true)
        }
        "AddNewCustomer" => add_customer(cx),
        // IContact
        "AddNewContact" => {
            let input = cx
                .entity(0, Kind::Contact.into())?
                .ok_or_else(|| Fault::validation("contactInfo is mandatory"))?;
            let guid = add_contact(cx.org, cx.now, &input, false)?;
            Ok(entity(cx.org, Kind::Contact, &guid))
        }
        "UpdateContact" => update_contact(cx),
        "GetContactByGUID" => Ok(by_guid(cx, Kind::Contact)),
        "GetContactsByAccountGUID" => {
            let account = cx.text(0);
            Ok(list(cx.org, Kind::Contact, |r| {
                account.is_some() && r.get("AccountGUID") == account.as_deref()
            }))
        }
        "GetContactsChangedSince" => {
            let account = cx.text(0);
            let start = cx.date(1)?;
            let options = cx.int(2)?.unwrap_or(0);
            changed_since(cx.org, Kind::Contact, start, options, |r| {
                account.is_none() || r.get("AccountGUID") == account.as_deref()
            })
        }
        // IInvoice / IInvoiceStatus
        "GetInvoiceByGUID" => Ok(by_guid(cx, Kind::Invoice)),
        "GetInvoiceByNumber" => invoice_by_number(cx),
        "GetInvoicesByDate" => invoices_by_date(cx),
        "SetInvoiceStatus" => set_invoice_status(cx),
        "SetInvoicePaymentDate" => set_invoice_payment_date(cx),
        "GetAllInvoiceStatuses" => {
            let mut items: Vec<&Record> = cx.org.all(Kind::InvoiceStatus).collect();
            items.sort_by_key(|r| sort_order(r));
            Ok(Reply::List(
                Kind::InvoiceStatus.into(),
                items.into_iter().map(|r| r.fields.clone()).collect(),
            ))
        }
        // IAPI
        "GetVersion" => Ok(Reply::Text(cx.org.version.clone())),
        "GetEntitySchemaVersion" => Ok(Reply::Text(cx.org.schema_version.to_string())),
        other => Err(Fault::general(format!(
            "operation {other} is not supported by severa-sim"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

fn eq_opt(stored: Option<&str>, wanted: Option<&str>) -> bool {
    match (stored, wanted) {
        (Some(a), Some(b)) => a.trim() == b.trim(),
        _ => false,
    }
}

fn same_name(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.trim().to_lowercase() == b.trim().to_lowercase(),
        _ => false,
    }
}

fn sort_order(r: &Record) -> i64 {
    r.get("SortOrder").and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn entity(org: &Org, kind: Kind, guid: &str) -> Reply {
    match org.get(kind, guid) {
        Some(r) => Reply::Entity(kind.into(), r.fields.clone()),
        None => Reply::Null,
    }
}

fn by_guid(cx: &Ctx<'_>, kind: Kind) -> Reply {
    match cx.text(0) {
        Some(guid) => entity(cx.org, kind, &guid),
        None => Reply::Null,
    }
}

fn first(org: &Org, kind: Kind, pred: impl Fn(&Record) -> bool) -> Reply {
    match org.all(kind).find(|r| pred(r)) {
        Some(r) => Reply::Entity(kind.into(), r.fields.clone()),
        None => Reply::Null,
    }
}

fn list(org: &Org, kind: Kind, pred: impl Fn(&Record) -> bool) -> Reply {
    Reply::List(
        kind.into(),
        org.all(kind)
            .filter(|r| pred(r))
            .map(|r| r.fields.clone())
            .collect(),
    )
}

/// A record's business unit is `bu` or one of its direct sub-units (`None` = whole organisation).
fn in_business_unit(org: &Org, r: &Record, bu: Option<&str>) -> bool {
    let Some(bu) = bu else { return true };
    match r.get("BusinessUnitGUID") {
        Some(own) if own == bu => true,
        Some(own) => {
            org.get(Kind::BusinessUnit, own)
                .and_then(|u| u.get("ParentBusinessUnitGUID"))
                == Some(bu)
        }
        None => false,
    }
}

fn is_active(kind: Kind, r: &Record) -> bool {
    match kind {
        Kind::Case => !r.flag("IsClosed"),
        Kind::HourEntry => true,
        _ => r.get("IsActive") != Some("false"),
    }
}

fn truncate_to_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(60), 0).unwrap_or(at)
}

/// Changed-since rule: modified ≥ start truncated to the minute (UTC); options bit 1 = only
/// records created since then, bit 2 = include inactive ones.
fn changed_since(
    org: &Org,
    kind: Kind,
    start: Option<WireDateTime>,
    options: i64,
    filter: impl Fn(&Record) -> bool,
) -> Result<Reply, Fault> {
    let start = start
        .ok_or_else(|| Fault::general("Value cannot be null. Parameter name: startDateTime"))?;
    let start = truncate_to_minute(start.to_utc());
    let new_only = options & 1 != 0;
    let include_inactive = options & 2 != 0;
    Ok(list(org, kind, |r| {
        let stamp = if new_only { r.created } else { r.modified };
        stamp >= start && (include_inactive || is_active(kind, r)) && filter(r)
    }))
}

fn missing_members(input: &Fields, mandatory: &[&str]) -> Result<(), Fault> {
    let missing: Vec<&str> = mandatory
        .iter()
        .copied()
        .filter(|m| !given(input, m))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Fault::validation(format!(
            "Mandatory member(s) missing: {}",
            missing.join(", ")
        )))
    }
}

fn decimal(fields: &Fields, member: &str) -> Option<Decimal> {
    text(fields, member).and_then(|t| Decimal::from_str(t.trim()).ok())
}

fn int(fields: &Fields, member: &str) -> Option<i64> {
    text(fields, member).and_then(|t| t.trim().parse().ok())
}

fn full_name(r: &Record) -> String {
    format!(
        "{} {}",
        r.get("FirstName").unwrap_or_default(),
        r.get("LastName").unwrap_or_default()
    )
}

fn currency_iso(org: &Org, guid: Option<&str>) -> Option<String> {
    guid.and_then(|g| org.get(Kind::Currency, g))
        .and_then(|c| c.get("IsoCode"))
        .map(str::to_string)
}

/// Copies `input`'s writable members over `base` after clearing them (replace semantics).
fn replace_writable(base: &mut Fields, input: &Fields, writable: impl Fn(&str) -> bool) {
    base.retain(|k, _| !writable(k));
    merge(base, input, writable);
}

// ---------------------------------------------------------------------------------------------
// hour entries

const HOUR_WRITABLE: &[&str] = &[
    "Description",
    "EndTime",
    "EventDate",
    "InvoiceDescription",
    "InvoiceQuantity",
    "IsBillable",
    "OverTimeGUID",
    "PhaseGUID",
    "Quantity",
    "StartTime",
    "UseInvoiceQuantity",
    "UserGUID",
    "WorkTypeGUID",
];

/// Fills an hour entry's read-only context members from its phase, case and user.
pub fn hour_entry_context(org: &Org, f: &mut Fields) -> Result<(), Fault> {
    let phase_guid = non_empty(f, "PhaseGUID").unwrap_or_default().to_string();
    let phase = org
        .get(Kind::Phase, &phase_guid)
        .ok_or_else(|| Fault::not_found(format!("Phase {phase_guid} was not found")))?;
    let case_guid = phase.get("CaseGUID").unwrap_or_default();
    let case = org
        .get(Kind::Case, case_guid)
        .ok_or_else(|| Fault::not_found(format!("Case {case_guid} was not found")))?;
    let user_guid = non_empty(f, "UserGUID").unwrap_or_default().to_string();
    let user = org
        .get(Kind::User, &user_guid)
        .ok_or_else(|| Fault::not_found(format!("User {user_guid} was not found")))?;
    if !given(f, "WorkTypeGUID") {
        let wt = phase_default_work_type(org, phase);
        model::set_opt(f, "WorkTypeGUID", wt.as_deref());
    }
    let work_type = non_empty(f, "WorkTypeGUID").and_then(|g| org.get(Kind::WorkType, g));
    let case_bu = case
        .get("BusinessUnitGUID")
        .and_then(|g| org.get(Kind::BusinessUnit, g))
        .and_then(|b| b.get("Code"));
    let invoicing = case.get("CurrencyShortform").map(str::to_string);
    let organisation = currency_iso(org, Some(&org.currency_guid));
    let case_company = case
        .get("CurrencyShortformOfCaseCompanyCurrency")
        .map(str::to_string)
        .or_else(|| organisation.clone());

    model::set_opt(f, "AccountGUID", case.get("AccountGUID"));
    model::set_opt(f, "CaseBusinessUnitCode", case_bu);
    set(f, "CaseGUID", case_guid);
    model::set_opt(f, "CaseName", case.get("Name"));
    model::set_opt(f, "CaseNumber", case.get("CaseNumber"));
    set(f, "TaskGUID", phase_guid.as_str());
    model::set_opt(f, "UserCode", user.get("Code"));
    model::set_opt(f, "UserFirstName", user.get("FirstName"));
    model::set_opt(f, "UserLastName", user.get("LastName"));
    model::set_opt(f, "UserBusinessUnitCode", user.get("BusinessUnitCode"));
    model::set_opt(
        f,
        "IsProductive",
        work_type.and_then(|w| w.get("IsProductive")),
    );
    for m in [
        "CostCurrencyShortform",
        "CostCurrencyShortformOfOrganizationCurrency",
        "CostCurrencyShortformOfUserCompanyCurrency",
        "PriceCurrencyShortformOfOrganizationCurrency",
        "PriceCurrencyShortformOfUserCompanyCurrency",
    ] {
        model::set_opt(f, m, organisation.as_deref());
    }
    for m in [
        "CostCurrencyShortformOfInvoicingCurrency",
        "PriceCurrencyShortformOfInvoicingCurrency",
    ] {
        model::set_opt(f, m, invoicing.as_deref());
    }
    model::set_opt(
        f,
        "PriceCurrencyShortformOfCaseCompanyCurrency",
        case_company.as_deref(),
    );
    if let Some(price) = phase.get("PricePerHour") {
        for m in [
            "UnitPrice",
            "UnitPriceInBaseCurrency",
            "UnitPriceInCaseCompanyCurrency",
            "UnitPriceInUserCompanyCurrency",
        ] {
            f.entry(m.to_string())
                .or_insert_with(|| Field::Text(price.to_string()));
        }
    }
    for (m, default) in [
        ("IsBillable", "true"),
        ("IsApproved", "false"),
        ("IsReadOnly", "false"),
        ("UseInvoiceQuantity", "false"),
    ] {
        f.entry(m.to_string())
            .or_insert_with(|| Field::Text(default.to_string()));
    }
    Ok(())
}

fn phase_default_work_type(org: &Org, phase: &Record) -> Option<String> {
    let mut current = Some(phase);
    let mut hops = 0;
    while let Some(p) = current {
        if let Some(wt) = p.get("WorkTypeGUID").filter(|s| !s.is_empty()) {
            return Some(wt.to_string());
        }
        hops += 1;
        if hops > 64 {
            break;
        }
        current = p
            .get("ParentPhaseGUID")
            .and_then(|g| org.get(Kind::Phase, g));
    }
    org.default_work_type().map(|w| w.guid().to_string())
}

/// Phase membership: the phase's own member list, or its case's when it has none.
fn is_member(org: &Org, phase: &Record, user: &str) -> bool {
    match org.phase_members.get(phase.guid()) {
        Some(members) => members.iter().any(|m| m == user),
        None => phase
            .get("CaseGUID")
            .and_then(|c| org.case_members.get(c))
            .is_some_and(|members| members.iter().any(|m| m == user)),
    }
}

fn write_hour_entry(org: &Org, input: &Fields, mut base: Fields) -> Result<Fields, Fault> {
    missing_members(input, &["EventDate", "PhaseGUID", "Quantity", "UserGUID"])?;
    let quantity = decimal(input, "Quantity").unwrap_or_default();
    if quantity.abs() > Decimal::from(999) {
        return Err(Fault::validation(format!(
            "Quantity {quantity} is too large: 999 is the maximum number of hours for one hour entry"
        )));
    }
    let phase_guid = non_empty(input, "PhaseGUID").unwrap_or_default();
    let phase = org
        .get(Kind::Phase, phase_guid)
        .ok_or_else(|| Fault::not_found(format!("Phase {phase_guid} was not found")))?;
    let user_guid = non_empty(input, "UserGUID").unwrap_or_default();
    let user = org
        .get(Kind::User, user_guid)
        .ok_or_else(|| Fault::not_found(format!("User {user_guid} was not found")))?;
    let phase_name = phase.get("Name").unwrap_or_default();
    if !user.flag("IsActive") {
        return Err(Fault::validation(format!(
            "User {} is inactive: hours cannot be entered for an inactive user",
            full_name(user)
        )));
    }
    if phase.flag("IsLocked") {
        return Err(Fault::validation(format!(
            "Phase '{phase_name}' is locked: hour entries cannot be added or changed"
        )));
    }
    if let Some(case) = phase.get("CaseGUID").and_then(|c| org.get(Kind::Case, c))
        && case.flag("IsClosed")
    {
        return Err(Fault::validation(format!(
            "Case '{}' is closed: hour entries cannot be added or changed",
            case.get("Name").unwrap_or_default()
        )));
    }
    if !is_member(org, phase, user_guid) {
        return Err(Fault::validation(format!(
            "User {} is not a member of phase '{phase_name}'",
            full_name(user)
        )));
    }
    if let Some(wt) = non_empty(input, "WorkTypeGUID") {
        let work_type = org
            .get(Kind::WorkType, wt)
            .ok_or_else(|| Fault::not_found(format!("Work type {wt} was not found")))?;
        if let Some(allowed) = org.phase_work_types.get(phase.guid())
            && !allowed.iter().any(|a| a == wt)
        {
            return Err(Fault::validation(format!(
                "Work type '{}' is not allowed on phase '{phase_name}'",
                work_type.get("Name").unwrap_or_default()
            )));
        }
    }
    replace_writable(&mut base, input, |m| HOUR_WRITABLE.contains(&m));
    hour_entry_context(org, &mut base)?;
    Ok(base)
}

fn add_hour_entry(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx
        .entity(0, Kind::HourEntry.into())?
        .ok_or_else(|| Fault::validation("hourEntryInfo is mandatory"))?;
    let mut fields = write_hour_entry(cx.org, &input, Fields::new())?;
    let guid = cx.org.new_guid(Kind::HourEntry);
    set(&mut fields, "GUID", guid.as_str());
    cx.org.insert(Kind::HourEntry, fields, cx.now);
    Ok(entity(cx.org, Kind::HourEntry, &guid))
}

fn update_hour_entry(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx
        .entity(0, Kind::HourEntry.into())?
        .ok_or_else(|| Fault::validation("hourEntryInfo is mandatory"))?;
    let guid = non_empty(&input, "GUID")
        .ok_or_else(|| Fault::validation("Mandatory member(s) missing: GUID"))?
        .to_string();
    let existing = cx
        .org
        .get(Kind::HourEntry, &guid)
        .ok_or_else(|| Fault::not_found(format!("Hour entry {guid} was not found")))?;
    if existing.get("InvoiceGUID").is_some_and(|s| !s.is_empty()) {
        return Err(Fault::validation(
            "The hour entry is invoiced and cannot be changed",
        ));
    }
    let fields = write_hour_entry(cx.org, &input, existing.fields.clone())?;
    cx.org.replace(Kind::HourEntry, &guid, fields, cx.now);
    Ok(entity(cx.org, Kind::HourEntry, &guid))
}

fn delete_hour_entry(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let Some(guid) = cx.text(0) else {
        return Ok(Reply::Bool(false));
    };
    let deletable = cx.org.get(Kind::HourEntry, &guid).is_some_and(|r| {
        r.get("InvoiceGUID").is_none_or(str::is_empty)
            && r.get("PhaseGUID")
                .and_then(|p| cx.org.get(Kind::Phase, p))
                .is_none_or(|p| !p.flag("IsLocked"))
    });
    if deletable {
        cx.org.remove(Kind::HourEntry, &guid);
    }
    Ok(Reply::Bool(deletable))
}

fn event_in_range(r: &Record, start: Option<NaiveDate>, end: Option<NaiveDate>) -> bool {
    let Some(date) = r
        .get("EventDate")
        .and_then(|d| WireDateTime::from_str(d).ok())
        .map(|d| d.naive_date())
    else {
        return false;
    };
    start.is_none_or(|s| date >= s) && end.is_none_or(|e| date <= e)
}

fn sorted_hours(org: &Org, pred: impl Fn(&Record) -> bool) -> Reply {
    let mut items: Vec<&Record> = org.all(Kind::HourEntry).filter(|r| pred(r)).collect();
    items.sort_by(|a, b| {
        (a.get("EventDate"), a.created, a.guid()).cmp(&(b.get("EventDate"), b.created, b.guid()))
    });
    Reply::List(
        Kind::HourEntry.into(),
        items.into_iter().map(|r| r.fields.clone()).collect(),
    )
}

fn hour_entries_by_case(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let case = cx.text(0);
    let start = cx.date(1)?.map(|d| d.naive_date());
    let end = cx.date(2)?.map(|d| d.naive_date());
    Ok(sorted_hours(cx.org, |r| {
        case.is_some() && r.get("CaseGUID") == case.as_deref() && event_in_range(r, start, end)
    }))
}

fn hour_entries_by_user(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let bu = cx.text(0);
    let start = cx.date(1)?.map(|d| d.naive_date());
    let end = cx.date(2)?.map(|d| d.naive_date());
    let user = cx.text(3);
    let org = &*cx.org;
    let user_in_bu = user
        .as_deref()
        .and_then(|u| org.get(Kind::User, u))
        .is_some_and(|u| in_business_unit(org, u, bu.as_deref()));
    Ok(sorted_hours(org, |r| {
        user_in_bu && r.get("UserGUID") == user.as_deref() && event_in_range(r, start, end)
    }))
}

// ---------------------------------------------------------------------------------------------
// users

fn add_user(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx
        .entity(0, Kind::User.into())?
        .ok_or_else(|| Fault::validation("userInfo is mandatory"))?;
    cx.boolean(1)?; // sendWelcomeEmail: validated, no e-mail is sent
    missing_members(
        &input,
        &["BusinessUnitGUID", "FirstName", "LastName", "Email"],
    )?;
    let bu_guid = non_empty(&input, "BusinessUnitGUID").unwrap_or_default();
    let bu = cx
        .org
        .get(Kind::BusinessUnit, bu_guid)
        .ok_or_else(|| Fault::not_found(format!("Business unit {bu_guid} was not found")))?;
    let email = non_empty(&input, "Email").unwrap_or_default().trim();
    if cx
        .org
        .all(Kind::User)
        .any(|u| same_name(u.get("Email"), Some(email)))
    {
        return Err(Fault::validation(format!(
            "The e-mail address {email} is already in use: e-mail addresses must be unique"
        )));
    }
    if let Some(code) = non_empty(&input, "Code")
        && cx.org.all(Kind::User).any(|u| u.get("Code") == Some(code))
    {
        return Err(Fault::validation(format!(
            "The user code {code} is already in use"
        )));
    }
    const READ_ONLY: &[&str] = &[
        "BusinessUnitCode",
        "BusinessUnitName",
        "GUID",
        "IsActive",
        "LicenseType",
        "OrganizationGUID",
    ];
    let mut fields = Fields::new();
    merge(&mut fields, &input, |m| !READ_ONLY.contains(&m));
    model::set_opt(&mut fields, "BusinessUnitCode", bu.get("Code"));
    model::set_opt(&mut fields, "BusinessUnitName", bu.get("Name"));
    set(&mut fields, "IsActive", "true");
    set(&mut fields, "LicenseType", "FullUser");
    let guid = cx.org.new_guid(Kind::User);
    set(&mut fields, "GUID", guid.as_str());
    cx.org.insert(Kind::User, fields, cx.now);
    Ok(entity(cx.org, Kind::User, &guid))
}

fn disable_user(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text(0).unwrap_or_default();
    let now = cx.now;
    let user = cx
        .org
        .get_mut(Kind::User, &guid)
        .ok_or_else(|| Fault::not_found(format!("User {guid} was not found")))?;
    set(&mut user.fields, "IsActive", "false");
    user.modified = now;
    Ok(Reply::Void)
}

// ---------------------------------------------------------------------------------------------
// cases and phases

const CASE_READ_ONLY: &[&str] = &[
    "AccountName",
    "BusinessUnitName",
    "BusinessUnitNumber",
    "CaseCompanyCurrencyGUID",
    "CaseNumber",
    "CurrencyShortformOfCaseCompanyCurrency",
    "CurrentCaseStatusDescription",
    "CurrentCaseStatusInsertTs",
    "DeadlineDate",
    "GUID",
    "InsertTs",
    "RootTaskGUID",
];

fn case_mandatory(input: &Fields) -> Result<(), Fault> {
    let mut missing = Vec::new();
    if !given(input, "CaseOwnerUserGUID") && !given(input, "CaseOwnerUserCode") {
        missing.push("CaseOwnerUserGUID or CaseOwnerUserCode");
    }
    if !given(input, "AccountGUID") && !given(input, "AccountNumber") {
        missing.push("AccountGUID or AccountNumber");
    }
    if !given(input, "CurrencyGUID") && !given(input, "CurrencyShortform") {
        missing.push("CurrencyGUID or CurrencyShortform");
    }
    if !given(input, "Name") {
        missing.push("Name");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Fault::validation(format!(
            "Mandatory member(s) missing: {}",
            missing.join("; ")
        )))
    }
}

/// Resolves owner, account, currency and business unit (GUID or business key) and fills the
/// derived members.
fn resolve_case(org: &Org, f: &mut Fields) -> Result<(), Fault> {
    let owner = match non_empty(f, "CaseOwnerUserGUID") {
        Some(g) => org
            .get(Kind::User, g)
            .ok_or_else(|| Fault::not_found(format!("Case owner user {g} was not found")))?,
        None => {
            let code = non_empty(f, "CaseOwnerUserCode").unwrap_or_default();
            org.all(Kind::User)
                .find(|u| u.get("Code") == Some(code))
                .ok_or_else(|| {
                    Fault::not_found(format!("Case owner user with code {code} was not found"))
                })?
        }
    };
    let account = match non_empty(f, "AccountGUID") {
        Some(g) => org
            .get(Kind::Account, g)
            .ok_or_else(|| Fault::not_found(format!("Account {g} was not found")))?,
        None => {
            let number = non_empty(f, "AccountNumber").unwrap_or_default();
            org.all(Kind::Account)
                .find(|a| a.get("Number") == Some(number))
                .ok_or_else(|| {
                    Fault::not_found(format!("Account with number {number} was not found"))
                })?
        }
    };
    let currency = match non_empty(f, "CurrencyGUID") {
        Some(g) => org
            .get(Kind::Currency, g)
            .ok_or_else(|| Fault::not_found(format!("Currency {g} was not found")))?,
        None => {
            let iso = non_empty(f, "CurrencyShortform").unwrap_or_default();
            org.all(Kind::Currency)
                .find(|c| same_name(c.get("IsoCode"), Some(iso)))
                .ok_or_else(|| Fault::not_found(format!("Currency {iso} was not found")))?
        }
    };
    let bu_guid = non_empty(f, "BusinessUnitGUID")
        .or_else(|| owner.get("BusinessUnitGUID"))
        .unwrap_or_default()
        .to_string();
    let bu = org
        .get(Kind::BusinessUnit, &bu_guid)
        .ok_or_else(|| Fault::not_found(format!("Business unit {bu_guid} was not found")))?;
    if let Some(contact) = non_empty(f, "ContactGUID")
        && org.get(Kind::Contact, contact).is_none()
    {
        return Err(Fault::not_found(format!("Contact {contact} was not found")));
    }
    let organisation_currency = currency_iso(org, Some(&org.currency_guid));
    set(f, "CaseOwnerUserGUID", owner.guid());
    model::set_opt(f, "CaseOwnerUserCode", owner.get("Code"));
    set(f, "AccountGUID", account.guid());
    model::set_opt(f, "AccountName", account.get("Name"));
    model::set_opt(f, "AccountNumber", account.get("Number"));
    set(f, "CurrencyGUID", currency.guid());
    model::set_opt(f, "CurrencyShortform", currency.get("IsoCode"));
    set(f, "CaseCompanyCurrencyGUID", org.currency_guid.as_str());
    model::set_opt(
        f,
        "CurrencyShortformOfCaseCompanyCurrency",
        organisation_currency.as_deref(),
    );
    set(f, "BusinessUnitGUID", bu.guid());
    model::set_opt(f, "BusinessUnitName", bu.get("Name"));
    model::set_opt(f, "BusinessUnitNumber", bu.get("Number"));
    for (m, default) in [
        ("IsClosed", "false"),
        ("IsInternal", "false"),
        ("IncludeOverTime", "false"),
    ] {
        f.entry(m.to_string())
            .or_insert_with(|| Field::Text(default.to_string()));
    }
    Ok(())
}

fn add_case(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx
        .entity(0, Kind::Case.into())?
        .ok_or_else(|| Fault::validation("caseInfo is mandatory"))?;
    case_mandatory(&input)?;
    let mut fields = Fields::new();
    merge(&mut fields, &input, |m| !CASE_READ_ONLY.contains(&m));
    resolve_case(cx.org, &mut fields)?;
    let number = cx
        .org
        .all(Kind::Case)
        .filter_map(|c| int(&c.fields, "CaseNumber"))
        .max()
        .unwrap_or(0)
        + 1;
    let owner = text(&fields, "CaseOwnerUserGUID")
        .unwrap_or_default()
        .to_string();
    let case_guid = cx.org.new_guid(Kind::Case);
    let root_guid = cx.org.new_guid(Kind::Phase);
    set(&mut fields, "GUID", case_guid.as_str());
    set(&mut fields, "CaseNumber", number.to_string());
    set(&mut fields, "InsertTs", model::utc_text(cx.now));
    set(&mut fields, "RootTaskGUID", root_guid.as_str());
    let mut root = Fields::new();
    set(&mut root, "GUID", root_guid.as_str());
    set(&mut root, "CaseGUID", case_guid.as_str());
    model::set_opt(&mut root, "Name", text(&fields, "Name"));
    set(&mut root, "SortOrder", "0");
    set(&mut root, "IsCompleted", "false");
    set(&mut root, "IsLocked", "false");
    set(&mut root, "OwnerUserGUID", owner.as_str());
    let default_wt = cx.org.default_work_type().map(|w| w.guid().to_string());
    model::set_opt(&mut root, "WorkTypeGUID", default_wt.as_deref());
    cx.org.insert(Kind::Case, fields, cx.now);
    cx.org.insert(Kind::Phase, root, cx.now);
    cx.org
        .case_members
        .insert(case_guid.clone(), vec![owner.clone()]);
    cx.org.phase_members.insert(root_guid, vec![owner]);
    Ok(entity(cx.org, Kind::Case, &case_guid))
}

fn update_case(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx
        .entity(0, Kind::Case.into())?
        .ok_or_else(|| Fault::validation("caseInfo is mandatory"))?;
    let guid = non_empty(&input, "GUID")
        .ok_or_else(|| Fault::validation("Mandatory member(s) missing: GUID"))?
        .to_string();
    let existing = cx
        .org
        .get(Kind::Case, &guid)
        .ok_or_else(|| Fault::not_found(format!("Case {guid} was not found")))?;
    case_mandatory(&input)?;
    let was_closed = existing.flag("IsClosed");
    let mut fields = existing.fields.clone();
    replace_writable(&mut fields, &input, |m| !CASE_READ_ONLY.contains(&m));
    resolve_case(cx.org, &mut fields)?;
    if !was_closed
        && model::text(&fields, "IsClosed") == Some("true")
        && !given(&fields, "ClosedDate")
    {
        set(
            &mut fields,
            "ClosedDate",
            cx.now.format("%Y-%m-%dT00:00:00").to_string(),
        );
    }
    let owner = text(&fields, "CaseOwnerUserGUID")
        .unwrap_or_default()
        .to_string();
    cx.org.replace(Kind::Case, &guid, fields, cx.now);
    let members = cx.org.case_members.entry(guid.clone()).or_default();
    if !members.contains(&owner) {
        members.push(owner);
    }
    Ok(entity(cx.org, Kind::Case, &guid))
}

fn phases_by_case(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let case = cx.text(0);
    let mut items: Vec<&Record> = cx
        .org
        .all(Kind::Phase)
        .filter(|p| case.is_some() && p.get("CaseGUID") == case.as_deref())
        .collect();
    items.sort_by_key(|p| {
        (
            p.get("ParentPhaseGUID").is_some(),
            sort_order(p),
            p.guid().to_string(),
        )
    });
    Ok(Reply::List(
        Kind::Phase.into(),
        items.into_iter().map(|r| r.fields.clone()).collect(),
    ))
}

fn add_phase(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx
        .entity(0, Kind::Phase.into())?
        .ok_or_else(|| Fault::validation("phaseInfo is mandatory"))?;
    missing_members(&input, &["CaseGUID", "ParentPhaseGUID", "Name"])?;
    let case_guid = non_empty(&input, "CaseGUID")
        .unwrap_or_default()
        .to_string();
    if cx.org.get(Kind::Case, &case_guid).is_none() {
        return Err(Fault::not_found(format!("Case {case_guid} was not found")));
    }
    let parent_guid = non_empty(&input, "ParentPhaseGUID").unwrap_or_default();
    let parent = cx
        .org
        .get(Kind::Phase, parent_guid)
        .ok_or_else(|| Fault::not_found(format!("Parent phase {parent_guid} was not found")))?;
    if parent.get("CaseGUID") != Some(case_guid.as_str()) {
        return Err(Fault::validation(format!(
            "Parent phase {parent_guid} belongs to another case"
        )));
    }
    if let Some(wt) = non_empty(&input, "WorkTypeGUID")
        && cx.org.get(Kind::WorkType, wt).is_none()
    {
        return Err(Fault::not_found(format!("Work type {wt} was not found")));
    }
    let members = match cx.args.strings(cx.p(1)) {
        Some(list) => {
            for user in &list {
                if cx.org.get(Kind::User, user).is_none() {
                    return Err(Fault::not_found(format!("User {user} was not found")));
                }
            }
            list
        }
        None => cx
            .org
            .case_members
            .get(&case_guid)
            .cloned()
            .unwrap_or_default(),
    };
    let parent_wt = phase_default_work_type(cx.org, parent);
    let siblings = cx
        .org
        .all(Kind::Phase)
        .filter(|p| p.get("ParentPhaseGUID") == Some(parent_guid))
        .count();
    let mut fields = Fields::new();
    merge(&mut fields, &input, |m| m != "GUID");
    if !given(&fields, "WorkTypeGUID") {
        model::set_opt(&mut fields, "WorkTypeGUID", parent_wt.as_deref());
    }
    for (m, default) in [
        ("IsCompleted", "false".to_string()),
        ("IsLocked", "false".to_string()),
        ("SortOrder", (siblings + 1).to_string()),
        ("OwnerUserGUID", cx.caller.to_string()),
    ] {
        fields.entry(m.to_string()).or_insert(Field::Text(default));
    }
    for (original, current) in [
        ("OriginalDeadline", "Deadline"),
        ("OriginalPlannedStartDate", "PlannedStartDate"),
        ("OriginalWorkEstimate", "WorkEstimate"),
    ] {
        if !given(&fields, original)
            && let Some(v) = non_empty(&fields, current).map(str::to_string)
        {
            set(&mut fields, original, v);
        }
    }
    let guid = cx.org.new_guid(Kind::Phase);
    set(&mut fields, "GUID", guid.as_str());
    cx.org.insert(Kind::Phase, fields, cx.now);
    let case_members = cx.org.case_members.entry(case_guid).or_default();
    for m in &members {
        if !case_members.contains(m) {
            case_members.push(m.clone());
        }
    }
    cx.org.phase_members.insert(guid.clone(), members);
    Ok(entity(cx.org, Kind::Phase, &guid))
}

fn work_types_by_phase(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text(0).unwrap_or_default();
    let org = &*cx.org;
    let phase = org
        .get(Kind::Phase, &guid)
        .ok_or_else(|| Fault::not_found(format!("Phase {guid} was not found")))?;
    let default = phase_default_work_type(org, phase);
    let mut allowed: Vec<String> = match org.phase_work_types.get(&guid) {
        Some(list) => list.clone(),
        None => org
            .all(Kind::WorkType)
            .filter(|w| w.flag("IsActive"))
            .map(|w| w.guid().to_string())
            .collect(),
    };
    if let Some(d) = default {
        allowed.retain(|g| *g != d);
        allowed.insert(0, d);
    }
    Ok(Reply::List(
        Kind::WorkType.into(),
        allowed
            .iter()
            .filter_map(|g| org.get(Kind::WorkType, g))
            .map(|r| r.fields.clone())
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// accounts, customers, contacts

const ACCOUNT_READ_ONLY: &[&str] = &[
    "CompanyGUID",
    "CurrencyCode",
    "GUID",
    "InsertTS",
    "IsActive",
    "IsInternal",
    "LanguageCode",
    "UpdatedTS",
    "UrlToAccount",
];

/// Company members of the merged Customer entity.
const CUSTOMER_COMPANY_MEMBERS: &[&str] = &[
    "AnnualRevenue",
    "AnnualRevenue2",
    "Email",
    "Employees",
    "HeadOfficeAddressGUID",
    "IndustryGUID",
    "TimezoneGUID",
    "VatNumber",
    "Website",
];

fn validate_account(f: &Fields) -> Result<(), Fault> {
    if let Some(rating) = int(f, "AccountRating")
        && !(0..=5).contains(&rating)
    {
        return Err(Fault::validation(format!(
            "AccountRating {rating} is out of range: it must be between 0 and 5"
        )));
    }
    if let Some(number) = int(f, "Number")
        && number <= 0
    {
        return Err(Fault::validation(format!(
            "Account Number {number} is not valid: it must be a positive integer"
        )));
    }
    if let Some(term) = int(f, "PaymentTerm")
        && term < 0
    {
        return Err(Fault::validation(format!(
            "PaymentTerm {term} is not valid: it must be zero or positive"
        )));
    }
    if let Some(interest) = decimal(f, "OverdueInterest")
        && interest < Decimal::ZERO
    {
        return Err(Fault::validation(format!(
            "OverdueInterest {interest} is not valid: it must be zero or positive"
        )));
    }
    Ok(())
}

struct AccountInput {
    account: Fields,
    company: Fields,
    address: Option<Fields>,
    contact: Option<Fields>,
}

/// AddNewAccount / AddNewCustomer: update the account with the same Number, else the same
/// Name; insert otherwise. Returns the account GUID.
fn upsert_account(
    org: &mut Org,
    now: DateTime<Utc>,
    caller: &str,
    input: AccountInput,
) -> Result<String, Fault> {
    let AccountInput {
        account,
        company,
        address,
        contact,
    } = input;
    let name = non_empty(&account, "Name")
        .ok_or_else(|| Fault::validation("Mandatory member missing: Account.Name"))?
        .to_string();
    if !given(&company, "Name") {
        return Err(Fault::validation("Mandatory member missing: Company.Name"));
    }
    if given(&account, "IsInternal") {
        return Err(Fault::validation(
            "Account.IsInternal must be empty: internal accounts cannot be added through the API",
        ));
    }
    validate_account(&account)?;
    if let Some(currency) = non_empty(&account, "CurrencyGUID")
        && org.get(Kind::Currency, currency).is_none()
    {
        return Err(Fault::not_found(format!(
            "Currency {currency} was not found"
        )));
    }
    let number = non_empty(&account, "Number").map(str::to_string);
    let existing = number
        .as_deref()
        .and_then(|n| org.all(Kind::Account).find(|a| a.get("Number") == Some(n)))
        .or_else(|| {
            org.all(Kind::Account)
                .find(|a| same_name(a.get("Name"), Some(&name)))
        })
        .map(|a| a.guid().to_string());
    let writable = |m: &str| !ACCOUNT_READ_ONLY.contains(&m);
    let company_writable = |m: &str| m != "GUID";
    let account_guid = match existing {
        Some(guid) => {
            let Some(record) = org.get(Kind::Account, &guid) else {
                return Err(Fault::general("account vanished"));
            };
            let mut fields = record.fields.clone();
            merge(&mut fields, &account, writable);
            let currency = currency_iso(org, text(&fields, "CurrencyGUID"));
            model::set_opt(&mut fields, "CurrencyCode", currency.as_deref());
            set(&mut fields, "UpdatedTS", model::utc_text(now));
            let company_guid = text(&fields, "CompanyGUID").map(str::to_string);
            org.replace(Kind::Account, &guid, fields, now);
            if let Some(cg) = company_guid
                && let Some(c) = org.get(Kind::Company, &cg)
            {
                let mut cf = c.fields.clone();
                merge(&mut cf, &company, company_writable);
                org.replace(Kind::Company, &cg, cf, now);
            }
            guid
        }
        None => {
            let mut fields = Fields::new();
            merge(&mut fields, &account, writable);
            set(&mut fields, "IsActive", "true");
            set(&mut fields, "IsInternal", "false");
            if !given(&fields, "AccountOwnerUserGUID") {
                set(&mut fields, "AccountOwnerUserGUID", caller);
            }
            if !given(&fields, "CurrencyGUID") {
                set(&mut fields, "CurrencyGUID", org.currency_guid.as_str());
            }
            let currency = currency_iso(org, text(&fields, "CurrencyGUID"));
            model::set_opt(&mut fields, "CurrencyCode", currency.as_deref());
            fields
                .entry("AccountGroupGUIDs".into())
                .or_insert(Field::Strings(Vec::new()));
            set(&mut fields, "InsertTS", model::utc_text(now));
            set(&mut fields, "UpdatedTS", model::utc_text(now));
            let mut cf = Fields::new();
            merge(&mut cf, &company, company_writable);
            let company_guid = org.new_guid(Kind::Company);
            set(&mut cf, "GUID", company_guid.as_str());
            org.insert(Kind::Company, cf, now);
            let guid = org.new_guid(Kind::Account);
            set(&mut fields, "GUID", guid.as_str());
            set(&mut fields, "CompanyGUID", company_guid.as_str());
            org.insert(Kind::Account, fields, now);
            guid
        }
    };
    let company_guid = org
        .get(Kind::Account, &account_guid)
        .and_then(|a| a.get("CompanyGUID"))
        .unwrap_or_default()
        .to_string();
    if let Some(address) = address {
        let billing: Vec<String> = org
            .all(Kind::Address)
            .filter(|a| {
                a.get("CompanyGUID") == Some(company_guid.as_str()) && a.flag("IsBillingAddress")
            })
            .map(|a| a.guid().to_string())
            .collect();
        let writable = |m: &str| m != "GUID" && m != "CompanyGUID";
        if let [only] = billing.as_slice() {
            if let Some(a) = org.get(Kind::Address, only) {
                let mut af = a.fields.clone();
                merge(&mut af, &address, writable);
                org.replace(Kind::Address, only, af, now);
            }
        } else {
            let mut af = Fields::new();
            merge(&mut af, &address, writable);
            af.entry("IsBillingAddress".into())
                .or_insert(Field::Text("true".into()));
            let guid = org.new_guid(Kind::Address);
            set(&mut af, "GUID", guid.as_str());
            set(&mut af, "CompanyGUID", company_guid.as_str());
            org.insert(Kind::Address, af, now);
            if let Some(c) = org.get_mut(Kind::Company, &company_guid)
                && !given(&c.fields, "HeadOfficeAddressGUID")
            {
                set(&mut c.fields, "HeadOfficeAddressGUID", guid.as_str());
            }
        }
    }
    if let Some(mut contact) = contact {
        set(&mut contact, "AccountGUID", account_guid.as_str());
        let existing = non_empty(&contact, "GUID")
            .filter(|g| org.get(Kind::Contact, g).is_some())
            .map(str::to_string);
        match existing {
            Some(guid) => update_contact_fields(org, now, &guid, &contact)?,
            None => {
                add_contact(org, now, &contact, true)?;
            }
        }
    }
    Ok(account_guid)
}

fn add_account(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let account = cx
        .entity(0, Kind::Account.into())?
        .ok_or_else(|| Fault::validation("Mandatory member missing: Account.Name"))?;
    let company = cx
        .entity(1, Kind::Company.into())?
        .ok_or_else(|| Fault::validation("Mandatory member missing: Company.Name"))?;
    let address = cx.entity(2, Kind::Address.into())?;
    let contact = cx.entity(3, Kind::Contact.into())?;
    let guid = upsert_account(
        cx.org,
        cx.now,
        cx.caller,
        AccountInput {
            account,
            company,
            address,
            contact,
        },
    )?;
    Ok(entity(cx.org, Kind::Account, &guid))
}

fn update_account(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx
        .entity(0, Kind::Account.into())?
        .ok_or_else(|| Fault::validation("accountInfo is mandatory"))?;
    let guid = non_empty(&input, "GUID")
        .ok_or_else(|| Fault::validation("Mandatory member(s) missing: GUID"))?
        .to_string();
    let existing = cx
        .org
        .get(Kind::Account, &guid)
        .ok_or_else(|| Fault::not_found(format!("Account {guid} was not found")))?;
    validate_account(&input)?;
    let mut fields = existing.fields.clone();
    merge(&mut fields, &input, |m| {
        m == "IsActive" || !ACCOUNT_READ_ONLY.contains(&m)
    });
    if !given(&fields, "Name") {
        return Err(Fault::validation("Mandatory member missing: Account.Name"));
    }
    if let Some(n) = non_empty(&fields, "Number")
        && cx
            .org
            .all(Kind::Account)
            .any(|a| a.guid() != guid && a.get("Number") == Some(n))
    {
        return Err(Fault::validation(format!(
            "Account number {n} is already in use"
        )));
    }
    let currency = currency_iso(cx.org, text(&fields, "CurrencyGUID"));
    model::set_opt(&mut fields, "CurrencyCode", currency.as_deref());
    set(&mut fields, "UpdatedTS", model::utc_text(cx.now));
    cx.org.replace(Kind::Account, &guid, fields, cx.now);
    Ok(entity(cx.org, Kind::Account, &guid))
}

fn customer_view(org: &Org, account_guid: &str) -> Reply {
    let Some(account) = org.get(Kind::Account, account_guid) else {
        return Reply::Null;
    };
    let mut fields: Fields = account
        .fields
        .iter()
        .filter(|(k, _)| CUSTOMER.members.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(company) = account
        .get("CompanyGUID")
        .and_then(|c| org.get(Kind::Company, c))
    {
        for m in CUSTOMER_COMPANY_MEMBERS {
            if let Some(v) = company.fields.get(*m) {
                fields.insert(m.to_string(), v.clone());
            }
        }
    }
    Reply::Entity(CUSTOMER, fields)
}

fn add_customer(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let customer = cx
        .entity(0, CUSTOMER)?
        .ok_or_else(|| Fault::validation("Mandatory member missing: Customer.Name"))?;
    let account_members = Kind::Account.members();
    let account: Fields = customer
        .iter()
        .filter(|(k, _)| account_members.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut company: Fields = customer
        .iter()
        .filter(|(k, _)| CUSTOMER_COMPANY_MEMBERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(name) = customer.get("Name") {
        company.insert("Name".into(), name.clone());
    }
    let guid = upsert_account(
        cx.org,
        cx.now,
        cx.caller,
        AccountInput {
            account,
            company,
            address: None,
            contact: None,
        },
    )
    .map_err(|mut f| {
        f.message = f.message.replace("Account.Name", "Customer.Name");
        f.message = f.message.replace("Company.Name", "Customer.Name");
        f
    })?;
    Ok(customer_view(cx.org, &guid))
}

/// AddNewContact rule: an active namesake on the account is an error (or, for AddNewAccount's
/// contactInfo, updated); an inactive one is updated and reactivated. Returns the GUID.
fn add_contact(
    org: &mut Org,
    now: DateTime<Utc>,
    input: &Fields,
    update_active_namesake: bool,
) -> Result<String, Fault> {
    missing_members(input, &["AccountGUID", "FirstName", "LastName"])?;
    let account_guid = non_empty(input, "AccountGUID")
        .unwrap_or_default()
        .to_string();
    let account = org
        .get(Kind::Account, &account_guid)
        .ok_or_else(|| Fault::not_found(format!("Account {account_guid} was not found")))?;
    let language = account.get("LanguageGUID").map(str::to_string);
    let first = text(input, "FirstName");
    let last = text(input, "LastName");
    let namesake = org
        .all(Kind::Contact)
        .find(|c| {
            c.get("AccountGUID") == Some(account_guid.as_str())
                && same_name(c.get("FirstName"), first)
                && same_name(c.get("LastName"), last)
        })
        .map(|c| (c.guid().to_string(), c.flag("IsActive")));
    let writable = |m: &str| m != "GUID" && m != "IsActive";
    match namesake {
        Some((guid, true)) if !update_active_namesake => Err(Fault::validation(format!(
            "An active contact named {} {} already exists for this account ({guid})",
            first.unwrap_or_default().trim(),
            last.unwrap_or_default().trim()
        ))),
        Some((guid, _)) => {
            let Some(existing) = org.get(Kind::Contact, &guid) else {
                return Err(Fault::general("contact vanished"));
            };
            let mut fields = existing.fields.clone();
            merge(&mut fields, input, writable);
            set(&mut fields, "IsActive", "true");
            org.replace(Kind::Contact, &guid, fields, now);
            Ok(guid)
        }
        None => {
            let mut fields = Fields::new();
            merge(&mut fields, input, writable);
            set(&mut fields, "IsActive", "true");
            if !given(&fields, "LanguageGUID") {
                model::set_opt(&mut fields, "LanguageGUID", language.as_deref());
            }
            let guid = org.new_guid(Kind::Contact);
            set(&mut fields, "GUID", guid.as_str());
            org.insert(Kind::Contact, fields, now);
            Ok(guid)
        }
    }
}

fn update_contact_fields(
    org: &mut Org,
    now: DateTime<Utc>,
    guid: &str,
    input: &Fields,
) -> Result<(), Fault> {
    let existing = org
        .get(Kind::Contact, guid)
        .ok_or_else(|| Fault::not_found(format!("Contact {guid} was not found")))?;
    let mut fields = existing.fields.clone();
    merge(&mut fields, input, |m| m != "GUID" && m != "AccountGUID");
    for m in ["FirstName", "LastName"] {
        if !given(&fields, m) {
            return Err(Fault::validation(format!(
                "Mandatory member(s) missing: {m}"
            )));
        }
    }
    org.replace(Kind::Contact, guid, fields, now);
    Ok(())
}

fn update_contact(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx
        .entity(0, Kind::Contact.into())?
        .ok_or_else(|| Fault::validation("contactInfo is mandatory"))?;
    let guid = non_empty(&input, "GUID")
        .ok_or_else(|| Fault::validation("Mandatory member(s) missing: GUID"))?
        .to_string();
    update_contact_fields(cx.org, cx.now, &guid, &input)?;
    Ok(entity(cx.org, Kind::Contact, &guid))
}

// ---------------------------------------------------------------------------------------------
// invoices

fn invoice_by_number(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let number = cx
        .int(0)?
        .ok_or_else(|| Fault::general("Value cannot be null. Parameter name: invoiceNumber"))?
        .to_string();
    let bu = cx.text(1);
    let matches: Vec<&Record> = cx
        .org
        .all(Kind::Invoice)
        .filter(|i| i.get("InvoiceNumber") == Some(number.as_str()))
        .filter(|i| {
            bu.is_none()
                || i.get("BusinessUnitGUID") == bu.as_deref()
                || i.get("InvoiceNumberingBusinessUnitGUID") == bu.as_deref()
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(Reply::Entity(Kind::Invoice.into(), one.fields.clone())),
        [] => Err(Fault::not_found(format!(
            "Invoice number {number} was not found"
        ))),
        _ => Err(Fault::not_found(format!(
            "Invoice number {number} is not unique: {} invoices share it; give businessUnitGUID",
            matches.len()
        ))),
    }
}

fn invoices_by_date(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let bu = cx.text(0);
    let start = cx.date(1)?.map(|d| d.naive_date());
    let end = cx.date(2)?.map(|d| d.naive_date());
    let options = cx.int(3)?.unwrap_or(0);
    let org = &*cx.org;
    Ok(list(org, Kind::Invoice, |r| {
        let date = r
            .get("Date")
            .and_then(|d| WireDateTime::from_str(d).ok())
            .map(|d| d.naive_date());
        let in_range =
            date.is_some_and(|d| start.is_none_or(|s| d >= s) && end.is_none_or(|e| d <= e));
        let in_bu = if options & 16 != 0 {
            bu.is_none() || r.get("BusinessUnitGUID") == bu.as_deref()
        } else {
            in_business_unit(org, r, bu.as_deref())
        };
        in_range && in_bu
    }))
}

fn set_invoice_status(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text(0).unwrap_or_default();
    if !crate::is_sim_guid(&guid) {
        return Err(Fault::general(format!(
            "An error occurred while processing the request: '{guid}' is not a valid identifier"
        )));
    }
    let status = cx.text(1).unwrap_or_default();
    if cx.org.get(Kind::Invoice, &guid).is_none() {
        return Err(Fault::not_found(format!("Invoice {guid} was not found")));
    }
    if !cx
        .org
        .all(Kind::InvoiceStatus)
        .any(|s| s.get("Name") == Some(status.as_str()))
    {
        return Err(Fault::not_found(format!(
            "Invoice status '{status}' was not found"
        )));
    }
    let now = cx.now;
    if let Some(inv) = cx.org.get_mut(Kind::Invoice, &guid) {
        set(&mut inv.fields, "InvoiceStatus", status);
        inv.modified = now;
    }
    Ok(Reply::Void)
}

fn set_invoice_payment_date(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text(0).unwrap_or_default();
    let date = cx.date(1)?;
    let now = cx.now;
    let inv = cx
        .org
        .get_mut(Kind::Invoice, &guid)
        .ok_or_else(|| Fault::not_found(format!("Invoice {guid} was not found")))?;
    match date {
        Some(d) => set(&mut inv.fields, "PaymentDate", model::date_text(&d)),
        None => {
            inv.fields.remove("PaymentDate");
        }
    }
    inv.modified = now;
    Ok(Reply::Void)
}
