//! The operations severa-sim simulates, with the service's rules (facts sheet §3.3, §4).
//! Parameters are read by their names in Severa's contract ([`crate::contract`]); entity
//! parameters are written onto stored records by [`model::apply`] (the service deserialises a
//! whole entity: absent non-nullable members become their defaults). Operations of the contract
//! without a handler here answer a "not simulated" fault (see [`crate::server`]).

use crate::model::{
    self, Field, Fields, Input, Kind, Record, WireType, customer_type, given, non_empty, set, text,
};
use crate::soap::Args;
use crate::state::Org;
use crate::xml::{Fault, Reply};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use severa::WireDateTime;
use std::str::FromStr;

/// One call's context.
pub struct Ctx<'a> {
    pub org: &'a mut Org,
    pub now: DateTime<Utc>,
    /// The authenticated user's GUID.
    pub caller: &'a str,
    pub args: &'a Args,
    /// Absent non-nullable entity members the call wrote as their defaults (`param.Member`),
    /// for the request log.
    pub defaulted: Vec<String>,
}

impl<'a> Ctx<'a> {
    fn text(&self, param: &str) -> Option<String> {
        self.args.text(param)
    }
    fn date(&self, param: &str) -> Option<WireDateTime> {
        self.args.date(param)
    }
    fn int(&self, param: &str) -> Option<i64> {
        self.args.int(param)
    }
    fn boolean(&self, param: &str) -> Option<bool> {
        self.args.bool(param)
    }
    fn entity(&self, param: &str) -> Option<&'a Input> {
        self.args.entity(param)
    }
    /// An entity parameter the operation cannot do without (absent or nil: a validation fault).
    fn required_entity(&self, param: &str) -> Result<&'a Input, Fault> {
        self.entity(param)
            .ok_or_else(|| Fault::validation(format!("{param} is mandatory")))
    }
}

/// An operation's behaviour.
pub type Handler = fn(&mut Ctx<'_>) -> Result<Reply, Fault>;

/// The behaviour of a contract operation, or `None` when the simulator has none.
pub fn handler(operation: &str) -> Option<Handler> {
    let h: Handler = match operation {
        // IHourEntry
        "AddNewHourEntry" => add_hour_entry,
        "UpdateHourEntry" => update_hour_entry,
        "DeleteHourEntry" => delete_hour_entry,
        "GetHourEntryByGUID" => |cx| Ok(by_guid(cx, Kind::HourEntry, "hourEntryGUID")),
        "GetHourEntriesByCaseGUID" => hour_entries_by_case,
        "GetHourEntriesByDateAndUserGUID" | "GetHourEntriesByDateAndUser" => hour_entries_by_user,
        "GetHourEntriesByDate" => hour_entries_by_date,
        "GetHourEntriesChangedSince" => |cx| {
            let start = cx.date("startDate");
            // Hour entries have no inactive state: every changed one is reported.
            changed_since(cx.org, Kind::HourEntry, start, 2, |_| true)
        },
        // IUser
        "GetUserByGUID" => |cx| Ok(by_guid(cx, Kind::User, "userGUID")),
        "GetUserByCode" => |cx| {
            let code = cx.text("userCode");
            Ok(first(cx.org, Kind::User, |r| {
                code.is_some() && r.get("Code") == code.as_deref()
            }))
        },
        "GetUserByName" => |cx| {
            let (f, l) = (cx.text("firstName"), cx.text("lastName"));
            Ok(first(cx.org, Kind::User, |r| {
                eq_opt(r.get("FirstName"), f.as_deref()) && eq_opt(r.get("LastName"), l.as_deref())
            }))
        },
        "GetAllUsers" => |cx| {
            let bu = cx.text("businessUnitGUID");
            let include_inactive = cx.boolean("includeInactive").unwrap_or(false);
            let org = &*cx.org;
            Ok(list(org, Kind::User, |r| {
                (include_inactive || r.flag("IsActive")) && in_business_unit(org, r, bu.as_deref())
            }))
        },
        "GetUsersChangedSince" => |cx| {
            let bu = cx.text("businessUnitGUID");
            let start = cx.date("startDateTime");
            let options = cx.int("options").unwrap_or(0);
            let org = &*cx.org;
            changed_since(org, Kind::User, start, options, |r| {
                in_business_unit(org, r, bu.as_deref())
            })
        },
        "AddNewUser" => add_user,
        "DisableUser" => disable_user,
        // ICase
        "GetCaseByGUID" => |cx| Ok(by_guid(cx, Kind::Case, "caseGuid")),
        "GetCaseByNumber" => |cx| {
            let number = cx.int("caseNumber").map(|n| n.to_string());
            Ok(first(cx.org, Kind::Case, |r| {
                number.is_some() && r.get("CaseNumber") == number.as_deref()
            }))
        },
        "AddNewCase" => add_case,
        "UpdateCase" => update_case,
        "GetCasesChangedSince" => |cx| {
            let bu = cx.text("businessUnitGUID");
            let start = cx.date("startDateTime");
            let options = cx.int("options").unwrap_or(0);
            let org = &*cx.org;
            changed_since(org, Kind::Case, start, options, |r| {
                in_business_unit(org, r, bu.as_deref())
            })
        },
        "GetAllCases" => |cx| {
            let bu = cx.text("businessUnitGUID");
            let org = &*cx.org;
            Ok(list(org, Kind::Case, |r| {
                in_business_unit(org, r, bu.as_deref())
            }))
        },
        // IPhase / IPhaseMember
        "GetPhasesByCaseGUID" => phases_by_case,
        "GetPhaseByGUID" => |cx| Ok(by_guid(cx, Kind::Phase, "phaseGUID")),
        "AddNewPhase" => add_phase,
        "GetPhasesChangedSince" => |cx| {
            let bu = cx.text("businessUnitGUID");
            let start = cx.date("startDateTime");
            let options = cx.int("options").unwrap_or(0);
            let org = &*cx.org;
            changed_since(org, Kind::Phase, start, options, |p| {
                bu.is_none()
                    || p.get("CaseGUID")
                        .and_then(|c| org.get(Kind::Case, c))
                        .is_some_and(|c| in_business_unit(org, c, bu.as_deref()))
            })
        },
        "GetPhaseMembersByPhaseGUID" => phase_members,
        "SetPhaseMemberListForPhase" => set_phase_members,
        // IWorkType
        "GetWorkTypesByPhaseGUID" => work_types_by_phase,
        "GetAllWorkTypes" => |cx| Ok(list(cx.org, Kind::WorkType, |_| true)),
        "GetWorkTypeByGUID" => |cx| Ok(by_guid(cx, Kind::WorkType, "workTypeGUID")),
        "GetWorkTypesChangedSince" => |cx| {
            let start = cx.date("startDateTime");
            let options = cx.int("options").unwrap_or(0);
            changed_since(cx.org, Kind::WorkType, start, options, |_| true)
        },
        // IAccount / ICustomer / ICompany / IAddress
        "AddNewAccount" => add_account,
        "UpdateAccount" => update_account,
        "GetAccountByGUID" => |cx| Ok(by_guid(cx, Kind::Account, "accountGuid")),
        "GetAccountByNumber" => |cx| {
            let number = cx.int("accountNumber").map(|n| n.to_string());
            Ok(first(cx.org, Kind::Account, |r| {
                number.is_some() && r.get("Number") == number.as_deref()
            }))
        },
        "GetAccountByName" => |cx| {
            let name = cx.text("accountName");
            Ok(first(cx.org, Kind::Account, |r| {
                same_name(r.get("Name"), name.as_deref())
            }))
        },
        "GetAccountsChangedSince" => |cx| {
            let start = cx.date("startDateTime");
            let options = cx.int("options").unwrap_or(0);
            changed_since(cx.org, Kind::Account, start, options, |_| true)
        },
        "AddNewCustomer" => add_customer,
        "GetCustomerByGUID" => |cx| match cx.text("accountGuid") {
            Some(guid) => Ok(customer_view(cx.org, &guid)),
            None => Ok(Reply::Null),
        },
        "GetCompanyByGUID" => |cx| Ok(by_guid(cx, Kind::Company, "companyGuid")),
        "GetAddressByGUID" => |cx| Ok(by_guid(cx, Kind::Address, "addressGUID")),
        "AddNewAddress" => add_address,
        "UpdateAddress" => update_address,
        // IContact
        "AddNewContact" => |cx| {
            let input = cx.required_entity("contactInfo")?;
            let guid = add_contact(
                cx.org,
                cx.now,
                input,
                false,
                "contactInfo",
                &mut cx.defaulted,
            )?;
            Ok(entity(cx.org, Kind::Contact, &guid))
        },
        "UpdateContact" => update_contact,
        "GetContactByGUID" => |cx| Ok(by_guid(cx, Kind::Contact, "contactGUID")),
        "GetContactsByAccountGUID" => |cx| {
            let account = cx.text("accountGUID");
            Ok(list(cx.org, Kind::Contact, |r| {
                account.is_some() && r.get("AccountGUID") == account.as_deref()
            }))
        },
        "GetContactsChangedSince" => |cx| {
            let account = cx.text("accountGUID");
            let start = cx.date("startDateTime");
            // Confirmed: without startDateTime (read as 0001-01-01) this call fails.
            if start.is_none_or(|s| s.naive_date().year() <= 1) {
                return Err(Fault::general(
                    "startDateTime is 0001-01-01T00:00:00 (absent): the date is out of range",
                ));
            }
            let options = cx.int("options").unwrap_or(0);
            changed_since(cx.org, Kind::Contact, start, options, |r| {
                account.is_none() || r.get("AccountGUID") == account.as_deref()
            })
        },
        // IBusinessUnit / ICurrency
        "GetBusinessUnitByGUID" => |cx| Ok(by_guid(cx, Kind::BusinessUnit, "businessUnitGuid")),
        "GetCurrencyByGUID" => |cx| Ok(by_guid(cx, Kind::Currency, "currencyGUID")),
        "GetCurrencies" => |cx| Ok(list(cx.org, Kind::Currency, |_| true)),
        // IInvoice / IInvoiceStatus
        "GetInvoiceByGUID" => |cx| Ok(by_guid(cx, Kind::Invoice, "invoiceGUID")),
        "GetInvoiceByNumber" => invoice_by_number,
        "GetInvoicesByDate" => invoices_by_date,
        "GetInvoicesByStatus" => invoices_by_status,
        "SetInvoiceStatus" => set_invoice_status,
        "SetInvoicePaymentDate" => set_invoice_payment_date,
        "GetAllInvoiceStatuses" => |cx| {
            let mut items: Vec<&Record> = cx.org.all(Kind::InvoiceStatus).collect();
            items.sort_by_key(|r| sort_order(r));
            Ok(Reply::List(
                Kind::InvoiceStatus.ty(),
                items.into_iter().map(|r| r.fields.clone()).collect(),
            ))
        },
        // IAPI
        "GetVersion" => |cx| Ok(Reply::Text(cx.org.version.clone())),
        "GetEntitySchemaVersion" => |cx| Ok(Reply::Text(cx.org.schema_version.to_string())),
        _ => return None,
    };
    Some(h)
}

// ---------------------------------------------------------------------------------------------
// helpers

/// The stored record, or the service's NotFound fault naming it (`Phase sim-x was not found`).
fn require<'o>(org: &'o Org, kind: Kind, guid: &str, what: &str) -> Result<&'o Record, Fault> {
    org.get(kind, guid)
        .ok_or_else(|| Fault::not_found(format!("{what} {guid} was not found")))
}

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
        Some(r) => Reply::Entity(kind.ty(), r.fields.clone()),
        None => Reply::Null,
    }
}

fn by_guid(cx: &Ctx<'_>, kind: Kind, param: &str) -> Reply {
    match cx.text(param) {
        Some(guid) => entity(cx.org, kind, &guid),
        None => Reply::Null,
    }
}

fn first(org: &Org, kind: Kind, pred: impl Fn(&Record) -> bool) -> Reply {
    match org.all(kind).find(|r| pred(r)) {
        Some(r) => Reply::Entity(kind.ty(), r.fields.clone()),
        None => Reply::Null,
    }
}

fn list(org: &Org, kind: Kind, pred: impl Fn(&Record) -> bool) -> Reply {
    Reply::List(
        kind.ty(),
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

/// "Inactive" for changed-since options: `IsActive=false`, for cases `IsClosed=true`; hour
/// entries and phases have no inactive state.
fn is_active(kind: Kind, r: &Record) -> bool {
    match kind {
        Kind::Case => !r.flag("IsClosed"),
        Kind::HourEntry | Kind::Phase => true,
        _ => r.get("IsActive") != Some("false"),
    }
}

fn truncate_to_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(60), 0).unwrap_or(at)
}

/// Changed-since rule: modified ≥ start truncated to the minute (UTC); options bit 1 = only
/// records created since then, bit 2 = include inactive ones. The start parameters are
/// non-nullable: absent, they read as 0001-01-01 and everything is reported.
fn changed_since(
    org: &Org,
    kind: Kind,
    start: Option<WireDateTime>,
    options: i64,
    filter: impl Fn(&Record) -> bool,
) -> Result<Reply, Fault> {
    let start = start.map(|s| truncate_to_minute(s.to_utc()));
    let new_only = options & 1 != 0;
    let include_inactive = options & 2 != 0;
    Ok(list(org, kind, |r| {
        let stamp = if new_only { r.created } else { r.modified };
        start.is_none_or(|s| stamp >= s) && (include_inactive || is_active(kind, r)) && filter(r)
    }))
}

fn missing_members(fields: &Fields, mandatory: &[&str]) -> Result<(), Fault> {
    let missing: Vec<&str> = mandatory
        .iter()
        .copied()
        .filter(|m| !given(fields, m))
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

/// The GUID member of an entity parameter (mandatory for updates).
fn guid_of(input: &Input) -> Result<String, Fault> {
    non_empty(&input.fields, "GUID")
        .map(str::to_string)
        .ok_or_else(|| Fault::validation("Mandatory member(s) missing: GUID"))
}

// ---------------------------------------------------------------------------------------------
// hour entries

/// Members a client sets; the rest is context the service computes, or ignored (IsApproved,
/// IsReadOnly).
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
    "UserGUID",
    "WorkTypeGUID",
];

/// Fills an hour entry's read-only context members from its phase, case and work type.
pub fn hour_entry_context(org: &Org, f: &mut Fields) -> Result<(), Fault> {
    let phase_guid = non_empty(f, "PhaseGUID").unwrap_or_default().to_string();
    let phase = require(org, Kind::Phase, &phase_guid, "Phase")?;
    let case_guid = phase.get("CaseGUID").unwrap_or_default();
    let case = require(org, Kind::Case, case_guid, "Case")?;
    let user_guid = non_empty(f, "UserGUID").unwrap_or_default().to_string();
    if org.get(Kind::User, &user_guid).is_none() {
        return Err(Fault::not_found(format!("User {user_guid} was not found")));
    }
    if !given(f, "WorkTypeGUID") {
        let wt = phase_default_work_type(org, phase);
        model::set_opt(f, "WorkTypeGUID", wt.as_deref());
    }
    let work_type = non_empty(f, "WorkTypeGUID").and_then(|g| org.get(Kind::WorkType, g));
    model::set_opt(f, "AccountGUID", case.get("AccountGUID"));
    set(f, "CaseGUID", case_guid);
    set(f, "TaskGUID", phase_guid.as_str());
    model::set_opt(
        f,
        "IsProductive",
        work_type.and_then(|w| w.get("IsProductive")),
    );
    if let Some(price) = phase.get("PricePerHour") {
        for m in ["UnitPrice", "UnitPriceInBaseCurrency"] {
            f.entry(m.to_string())
                .or_insert_with(|| Field::Text(price.to_string()));
        }
    }
    for (m, default) in [("IsApproved", "false"), ("IsReadOnly", "false")] {
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
fn phase_member_list(org: &Org, phase: &Record) -> Vec<String> {
    match org.phase_members.get(phase.guid()) {
        Some(members) => members.clone(),
        None => phase
            .get("CaseGUID")
            .and_then(|c| org.case_members.get(c))
            .cloned()
            .unwrap_or_default(),
    }
}

fn is_member(org: &Org, phase: &Record, user: &str) -> bool {
    phase_member_list(org, phase).iter().any(|m| m == user)
}

/// Writes `input` (the `hourEntryInfo` parameter) onto `base` and checks the result: the
/// service validates the entity it deserialised, so a left-out EventDate is 0001-01-01 (and
/// refused as missing) and a left-out IsBillable is `false`.
fn write_hour_entry(
    org: &Org,
    input: &Input,
    mut base: Fields,
    defaulted: &mut Vec<String>,
) -> Result<Fields, Fault> {
    model::apply(
        &mut base,
        input,
        Kind::HourEntry.ty(),
        "hourEntryInfo",
        |m| HOUR_WRITABLE.contains(&m),
        &[],
        defaulted,
    );
    missing_members(&base, &["EventDate", "PhaseGUID", "UserGUID"])?;
    let quantity = decimal(&base, "Quantity").unwrap_or_default();
    if quantity.abs() > Decimal::from(999) {
        return Err(Fault::validation(format!(
            "Quantity {quantity} is too large: 999 is the maximum number of hours for one hour entry"
        )));
    }
    let phase_guid = non_empty(&base, "PhaseGUID").unwrap_or_default();
    let phase = require(org, Kind::Phase, phase_guid, "Phase")?;
    let user_guid = non_empty(&base, "UserGUID").unwrap_or_default();
    let user = require(org, Kind::User, user_guid, "User")?;
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
    if let Some(wt) = non_empty(&base, "WorkTypeGUID") {
        let work_type = require(org, Kind::WorkType, wt, "Work type")?;
        if let Some(allowed) = org.phase_work_types.get(phase.guid())
            && !allowed.iter().any(|a| a == wt)
        {
            return Err(Fault::validation(format!(
                "Work type '{}' is not allowed on phase '{phase_name}'",
                work_type.get("Name").unwrap_or_default()
            )));
        }
    }
    hour_entry_context(org, &mut base)?;
    Ok(base)
}

fn add_hour_entry(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx.required_entity("hourEntryInfo")?;
    let mut fields = write_hour_entry(cx.org, input, Fields::new(), &mut cx.defaulted)?;
    let guid = cx.org.new_guid(Kind::HourEntry);
    set(&mut fields, "GUID", guid.as_str());
    cx.org.insert(Kind::HourEntry, fields, cx.now);
    Ok(entity(cx.org, Kind::HourEntry, &guid))
}

fn update_hour_entry(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx.required_entity("hourEntryInfo")?;
    let guid = guid_of(input)?;
    let existing = require(&*cx.org, Kind::HourEntry, &guid, "Hour entry")?;
    if existing.get("InvoiceGUID").is_some_and(|s| !s.is_empty()) {
        return Err(Fault::validation(
            "The hour entry is invoiced and cannot be changed",
        ));
    }
    let base = existing.fields.clone();
    let fields = write_hour_entry(cx.org, input, base, &mut cx.defaulted)?;
    cx.org.replace(Kind::HourEntry, &guid, fields, cx.now);
    Ok(entity(cx.org, Kind::HourEntry, &guid))
}

fn delete_hour_entry(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let Some(guid) = cx.text("hourEntryGUID") else {
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
        Kind::HourEntry.ty(),
        items.into_iter().map(|r| r.fields.clone()).collect(),
    )
}

fn hour_entries_by_case(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let case = cx.text("caseGuid");
    let start = cx.date("startDate").map(|d| d.naive_date());
    let end = cx.date("endDate").map(|d| d.naive_date());
    Ok(sorted_hours(cx.org, |r| {
        case.is_some() && r.get("CaseGUID") == case.as_deref() && event_in_range(r, start, end)
    }))
}

fn hour_entries_by_user(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let bu = cx.text("businessUnitGUID");
    let start = cx.date("startdate").map(|d| d.naive_date());
    let end = cx.date("enddate").map(|d| d.naive_date());
    let user = cx.text("userGUID");
    let org = &*cx.org;
    let user_in_bu = user
        .as_deref()
        .and_then(|u| org.get(Kind::User, u))
        .is_some_and(|u| in_business_unit(org, u, bu.as_deref()));
    Ok(sorted_hours(org, |r| {
        user_in_bu && r.get("UserGUID") == user.as_deref() && event_in_range(r, start, end)
    }))
}

/// Hour entries of cases in a business unit (and its direct sub-units), by event date.
fn hour_entries_by_date(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let bu = cx.text("businessUnitGUID");
    let start = cx.date("startdate").map(|d| d.naive_date());
    let end = cx.date("enddate").map(|d| d.naive_date());
    let org = &*cx.org;
    Ok(sorted_hours(org, |r| {
        let case_in_bu = bu.is_none()
            || r.get("CaseGUID")
                .and_then(|c| org.get(Kind::Case, c))
                .is_some_and(|c| in_business_unit(org, c, bu.as_deref()));
        case_in_bu && event_in_range(r, start, end)
    }))
}

// ---------------------------------------------------------------------------------------------
// users

fn add_user(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx.required_entity("userInfo")?;
    missing_members(
        &input.fields,
        &["BusinessUnitGUID", "FirstName", "LastName", "Email"],
    )?;
    let bu_guid = non_empty(&input.fields, "BusinessUnitGUID").unwrap_or_default();
    let bu = require(&*cx.org, Kind::BusinessUnit, bu_guid, "Business unit")?;
    let (bu_code, bu_name) = (
        bu.get("Code").map(str::to_string),
        bu.get("Name").map(str::to_string),
    );
    let email = non_empty(&input.fields, "Email").unwrap_or_default().trim();
    if cx
        .org
        .all(Kind::User)
        .any(|u| same_name(u.get("Email"), Some(email)))
    {
        return Err(Fault::validation(format!(
            "The e-mail address {email} is already in use: e-mail addresses must be unique"
        )));
    }
    if let Some(code) = non_empty(&input.fields, "Code")
        && cx.org.all(Kind::User).any(|u| u.get("Code") == Some(code))
    {
        return Err(Fault::validation(format!(
            "The user code {code} is already in use"
        )));
    }
    // IsActive is forced true (documented), the rest is the service's.
    const READ_ONLY: &[&str] = &[
        "BusinessUnitCode",
        "BusinessUnitName",
        "GUID",
        "IsActive",
        "OrganizationGUID",
    ];
    let mut fields = Fields::new();
    model::apply(
        &mut fields,
        input,
        Kind::User.ty(),
        "userInfo",
        |m| !READ_ONLY.contains(&m),
        &[],
        &mut cx.defaulted,
    );
    model::set_opt(&mut fields, "BusinessUnitCode", bu_code.as_deref());
    model::set_opt(&mut fields, "BusinessUnitName", bu_name.as_deref());
    set(&mut fields, "IsActive", "true");
    let guid = cx.org.new_guid(Kind::User);
    set(&mut fields, "GUID", guid.as_str());
    cx.org.insert(Kind::User, fields, cx.now);
    Ok(entity(cx.org, Kind::User, &guid))
}

/// `true` once the user is disabled; an unknown user is NotFound.
fn disable_user(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text("userGUID").unwrap_or_default();
    let now = cx.now;
    let user = cx
        .org
        .get_mut(Kind::User, &guid)
        .ok_or_else(|| Fault::not_found(format!("User {guid} was not found")))?;
    set(&mut user.fields, "IsActive", "false");
    user.modified = now;
    Ok(Reply::Bool(true))
}

// ---------------------------------------------------------------------------------------------
// cases and phases

/// Case members the service computes (or the contract marks as context).
const CASE_READ_ONLY: &[&str] = &[
    "AccountName",
    "BusinessUnitName",
    "BusinessUnitNumber",
    "CaseNumber",
    "CurrentCaseStatusDescription",
    "CurrentCaseStatusInsertTs",
    "DeadlineDate",
    "GUID",
    "InsertTs",
    "RootTaskGUID",
    "UpdatedTs",
    "UrlToCase",
];

fn case_mandatory(fields: &Fields) -> Result<(), Fault> {
    let mut missing = Vec::new();
    if !given(fields, "CaseOwnerUserGUID") && !given(fields, "CaseOwnerUserCode") {
        missing.push("CaseOwnerUserGUID or CaseOwnerUserCode");
    }
    if !given(fields, "AccountGUID") && !given(fields, "AccountNumber") {
        missing.push("AccountGUID or AccountNumber");
    }
    if !given(fields, "CurrencyGUID") && !given(fields, "CurrencyShortform") {
        missing.push("CurrencyGUID or CurrencyShortform");
    }
    if !given(fields, "Name") {
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
        Some(g) => require(org, Kind::User, g, "Case owner user")?,
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
        Some(g) => require(org, Kind::Account, g, "Account")?,
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
        Some(g) => require(org, Kind::Currency, g, "Currency")?,
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
    let bu = require(org, Kind::BusinessUnit, &bu_guid, "Business unit")?;
    if let Some(contact) = non_empty(f, "ContactGUID")
        && org.get(Kind::Contact, contact).is_none()
    {
        return Err(Fault::not_found(format!("Contact {contact} was not found")));
    }
    set(f, "CaseOwnerUserGUID", owner.guid());
    model::set_opt(f, "CaseOwnerUserCode", owner.get("Code"));
    set(f, "AccountGUID", account.guid());
    model::set_opt(f, "AccountName", account.get("Name"));
    model::set_opt(f, "AccountNumber", account.get("Number"));
    set(f, "CurrencyGUID", currency.guid());
    model::set_opt(f, "CurrencyShortform", currency.get("IsoCode"));
    set(f, "BusinessUnitGUID", bu.guid());
    model::set_opt(f, "BusinessUnitName", bu.get("Name"));
    // The contract's BusinessUnitNumber is a string and BusinessUnit has no number: the
    // simulator shows the unit's Code there.
    model::set_opt(f, "BusinessUnitNumber", bu.get("Code"));
    Ok(())
}

fn add_case(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx.required_entity("caseInfo")?;
    case_mandatory(&input.fields)?;
    let mut fields = Fields::new();
    model::apply(
        &mut fields,
        input,
        Kind::Case.ty(),
        "caseInfo",
        |m| !CASE_READ_ONLY.contains(&m),
        &[],
        &mut cx.defaulted,
    );
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
    set(&mut fields, "UpdatedTs", model::utc_text(cx.now));
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
    let input = cx.required_entity("caseInfo")?;
    let guid = guid_of(input)?;
    let existing = require(&*cx.org, Kind::Case, &guid, "Case")?;
    let was_closed = existing.flag("IsClosed");
    let mut fields = existing.fields.clone();
    model::apply(
        &mut fields,
        input,
        Kind::Case.ty(),
        "caseInfo",
        |m| !CASE_READ_ONLY.contains(&m),
        &[],
        &mut cx.defaulted,
    );
    case_mandatory(&fields)?;
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
    set(&mut fields, "UpdatedTs", model::utc_text(cx.now));
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
    let case = cx.text("caseGUID");
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
        Kind::Phase.ty(),
        items.into_iter().map(|r| r.fields.clone()).collect(),
    ))
}

fn add_phase(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx.required_entity("phaseInfo")?;
    missing_members(&input.fields, &["CaseGUID", "ParentPhaseGUID", "Name"])?;
    let case_guid = non_empty(&input.fields, "CaseGUID")
        .unwrap_or_default()
        .to_string();
    if cx.org.get(Kind::Case, &case_guid).is_none() {
        return Err(Fault::not_found(format!("Case {case_guid} was not found")));
    }
    let parent_guid = non_empty(&input.fields, "ParentPhaseGUID").unwrap_or_default();
    let parent = require(&*cx.org, Kind::Phase, parent_guid, "Parent phase")?;
    if parent.get("CaseGUID") != Some(case_guid.as_str()) {
        return Err(Fault::validation(format!(
            "Parent phase {parent_guid} belongs to another case"
        )));
    }
    if let Some(wt) = non_empty(&input.fields, "WorkTypeGUID")
        && cx.org.get(Kind::WorkType, wt).is_none()
    {
        return Err(Fault::not_found(format!("Work type {wt} was not found")));
    }
    let members = match cx.args.strings("members") {
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
    // FlatRate is ignored when sent (facts sheet §5.8).
    model::apply(
        &mut fields,
        input,
        Kind::Phase.ty(),
        "phaseInfo",
        |m| m != "GUID" && m != "FlatRate",
        &[],
        &mut cx.defaulted,
    );
    if !given(&fields, "WorkTypeGUID") {
        model::set_opt(&mut fields, "WorkTypeGUID", parent_wt.as_deref());
    }
    for (m, default) in [
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

/// GUIDs of the phase's members (its own list, else its case's); `onlyActive` leaves out
/// inactive users. An unknown phase is NotFound.
fn phase_members(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text("phaseGUID").unwrap_or_default();
    let only_active = cx.boolean("onlyActive").unwrap_or(false);
    let org = &*cx.org;
    let phase = require(org, Kind::Phase, &guid, "Phase")?;
    let members = phase_member_list(org, phase)
        .into_iter()
        .filter(|u| !only_active || org.get(Kind::User, u).is_some_and(|r| r.flag("IsActive")))
        .collect();
    Ok(Reply::Strings(members))
}

/// SetPhaseMemberListForPhase(phaseGUID, userGUIDs): the phase's own member list, replaced.
fn set_phase_members(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text("phaseGUID").unwrap_or_default();
    if cx.org.get(Kind::Phase, &guid).is_none() {
        return Err(Fault::not_found(format!("Phase {guid} was not found")));
    }
    let users = cx.args.strings("userGUIDs").unwrap_or_default();
    if let Some(unknown) = users.iter().find(|u| cx.org.get(Kind::User, u).is_none()) {
        return Err(Fault::not_found(format!("User {unknown} was not found")));
    }
    cx.org.phase_members.insert(guid, users);
    Ok(Reply::Bool(true))
}

fn work_types_by_phase(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text("phaseGUID").unwrap_or_default();
    let org = &*cx.org;
    let phase = require(org, Kind::Phase, &guid, "Phase")?;
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
        Kind::WorkType.ty(),
        allowed
            .iter()
            .filter_map(|g| org.get(Kind::WorkType, g))
            .map(|r| r.fields.clone())
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// accounts, customers, contacts

/// Account members the service sets itself (AddNewAccount: "ignored on insert").
const ACCOUNT_READ_ONLY: &[&str] = &[
    "CompanyGUID",
    "CurrencyCode",
    "GUID",
    "InsertTS",
    "IsActive",
    "IsInternal",
    "LanguageCode",
    "UpdatedTS",
];

/// Company members of the merged Customer entity.
const CUSTOMER_COMPANY_MEMBERS: &[&str] = &[
    "AnnualRevenue",
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

/// The entity parameters of AddNewAccount (or AddNewCustomer split into its parts), each with
/// the parameter name it arrived in (for `defaulted`).
struct AccountInput<'a> {
    account: (&'a Input, &'a str),
    company: (&'a Input, &'a str),
    address: Option<(&'a Input, &'a str)>,
    contact: Option<(&'a Input, &'a str)>,
}

/// AddNewAccount / AddNewCustomer: update the account with the same Number, else the same
/// Name; insert otherwise. Returns the account GUID.
fn upsert_account(
    org: &mut Org,
    now: DateTime<Utc>,
    caller: &str,
    input: AccountInput<'_>,
    defaulted: &mut Vec<String>,
) -> Result<String, Fault> {
    let AccountInput {
        account: (account, account_param),
        company: (company, company_param),
        address,
        contact,
    } = input;
    let name = non_empty(&account.fields, "Name")
        .ok_or_else(|| Fault::validation("Mandatory member missing: Account.Name"))?
        .to_string();
    if !company.given("Name") {
        return Err(Fault::validation("Mandatory member missing: Company.Name"));
    }
    if account.given("IsInternal") {
        return Err(Fault::validation(
            "Account.IsInternal must be empty: internal accounts cannot be added through the API",
        ));
    }
    validate_account(&account.fields)?;
    if let Some(currency) = non_empty(&account.fields, "CurrencyGUID")
        && org.get(Kind::Currency, currency).is_none()
    {
        return Err(Fault::not_found(format!(
            "Currency {currency} was not found"
        )));
    }
    let number = non_empty(&account.fields, "Number").map(str::to_string);
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
    let account_ty = Kind::Account.ty();
    let company_ty = Kind::Company.ty();
    let account_guid = match existing {
        Some(guid) => {
            let Some(record) = org.get(Kind::Account, &guid) else {
                return Err(Fault::general("account vanished"));
            };
            let mut fields = record.fields.clone();
            model::apply(
                &mut fields,
                account,
                account_ty,
                account_param,
                writable,
                &[],
                defaulted,
            );
            let currency = currency_iso(org, text(&fields, "CurrencyGUID"));
            model::set_opt(&mut fields, "CurrencyCode", currency.as_deref());
            set(&mut fields, "UpdatedTS", model::utc_text(now));
            let company_guid = text(&fields, "CompanyGUID").map(str::to_string);
            org.replace(Kind::Account, &guid, fields, now);
            if let Some(cg) = company_guid
                && let Some(c) = org.get(Kind::Company, &cg)
            {
                let mut cf = c.fields.clone();
                model::apply(
                    &mut cf,
                    company,
                    company_ty,
                    company_param,
                    company_writable,
                    &[],
                    defaulted,
                );
                org.replace(Kind::Company, &cg, cf, now);
            }
            guid
        }
        None => {
            let mut fields = Fields::new();
            model::apply(
                &mut fields,
                account,
                account_ty,
                account_param,
                writable,
                &[],
                defaulted,
            );
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
            model::apply(
                &mut cf,
                company,
                company_ty,
                company_param,
                company_writable,
                &[],
                defaulted,
            );
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
    if let Some((address, address_param)) = address {
        let billing: Vec<String> = org
            .all(Kind::Address)
            .filter(|a| {
                a.get("CompanyGUID") == Some(company_guid.as_str()) && a.flag("IsBillingAddress")
            })
            .map(|a| a.guid().to_string())
            .collect();
        let writable = |m: &str| m != "GUID" && m != "CompanyGUID";
        let address_ty = Kind::Address.ty();
        if let [only] = billing.as_slice() {
            if let Some(a) = org.get(Kind::Address, only) {
                let mut af = a.fields.clone();
                model::apply(
                    &mut af,
                    address,
                    address_ty,
                    address_param,
                    writable,
                    &[],
                    defaulted,
                );
                org.replace(Kind::Address, only, af, now);
            }
        } else {
            let mut af = Fields::new();
            model::apply(
                &mut af,
                address,
                address_ty,
                address_param,
                writable,
                &[],
                defaulted,
            );
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
    if let Some((contact, contact_param)) = contact {
        let mut contact = contact.clone();
        set(&mut contact.fields, "AccountGUID", account_guid.as_str());
        let existing = non_empty(&contact.fields, "GUID")
            .filter(|g| org.get(Kind::Contact, g).is_some())
            .map(str::to_string);
        match existing {
            Some(guid) => {
                update_contact_fields(org, now, &guid, &contact, contact_param, defaulted)?
            }
            None => {
                add_contact(org, now, &contact, true, contact_param, defaulted)?;
            }
        }
    }
    Ok(account_guid)
}

fn add_account(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let account = cx
        .entity("accountInfo")
        .ok_or_else(|| Fault::validation("Mandatory member missing: Account.Name"))?;
    let company = cx
        .entity("companyInfo")
        .ok_or_else(|| Fault::validation("Mandatory member missing: Company.Name"))?;
    let input = AccountInput {
        account: (account, "accountInfo"),
        company: (company, "companyInfo"),
        address: cx.entity("addressInfo").map(|a| (a, "addressInfo")),
        contact: cx.entity("contactInfo").map(|c| (c, "contactInfo")),
    };
    let guid = upsert_account(cx.org, cx.now, cx.caller, input, &mut cx.defaulted)?;
    Ok(entity(cx.org, Kind::Account, &guid))
}

/// UpdateAccount(accountInfo, companyInfo): the account by its GUID, and its company when
/// `companyInfo` is given. IsActive is writable here (and reads as `false` when left out).
fn update_account(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx.required_entity("accountInfo")?;
    let guid = guid_of(input)?;
    let existing = require(&*cx.org, Kind::Account, &guid, "Account")?;
    validate_account(&input.fields)?;
    let mut fields = existing.fields.clone();
    model::apply(
        &mut fields,
        input,
        Kind::Account.ty(),
        "accountInfo",
        |m| m == "IsActive" || !ACCOUNT_READ_ONLY.contains(&m),
        &[],
        &mut cx.defaulted,
    );
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
    let company = match (cx.entity("companyInfo"), text(&fields, "CompanyGUID")) {
        (Some(company), Some(company_guid)) => {
            let stored = require(&*cx.org, Kind::Company, company_guid, "Company")?;
            let mut cf = stored.fields.clone();
            model::apply(
                &mut cf,
                company,
                Kind::Company.ty(),
                "companyInfo",
                |m| m != "GUID",
                &[],
                &mut cx.defaulted,
            );
            if !given(&cf, "Name") {
                return Err(Fault::validation("Mandatory member missing: Company.Name"));
            }
            Some((company_guid.to_string(), cf))
        }
        _ => None,
    };
    let currency = currency_iso(cx.org, text(&fields, "CurrencyGUID"));
    model::set_opt(&mut fields, "CurrencyCode", currency.as_deref());
    set(&mut fields, "UpdatedTS", model::utc_text(cx.now));
    cx.org.replace(Kind::Account, &guid, fields, cx.now);
    if let Some((company_guid, cf)) = company {
        cx.org.replace(Kind::Company, &company_guid, cf, cx.now);
    }
    Ok(entity(cx.org, Kind::Account, &guid))
}

/// The Customer view of an account: its members plus its company's.
fn customer_view(org: &Org, account_guid: &str) -> Reply {
    let Some(account) = org.get(Kind::Account, account_guid) else {
        return Reply::Null;
    };
    let customer = customer_type();
    let mut fields: Fields = account
        .fields
        .iter()
        .filter(|(k, _)| customer.has(k))
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
    Reply::Entity(customer, fields)
}

/// Splits a Customer parameter into the Account and Company it stands for.
fn split_customer(customer: &Input) -> (Input, Input) {
    let part = |keep: &dyn Fn(&str) -> bool| Input {
        fields: customer
            .fields
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        nested_defaulted: customer
            .nested_defaulted
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let account_ty: WireType = Kind::Account.ty();
    let account = part(&|m| account_ty.has(m));
    let company = part(&|m| CUSTOMER_COMPANY_MEMBERS.contains(&m) || m == "Name");
    (account, company)
}

fn add_customer(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let customer = cx
        .entity("customer")
        .ok_or_else(|| Fault::validation("Mandatory member missing: Customer.Name"))?;
    let (account, company) = split_customer(customer);
    let input = AccountInput {
        account: (&account, "customer"),
        company: (&company, "customer"),
        address: None,
        contact: None,
    };
    let guid =
        upsert_account(cx.org, cx.now, cx.caller, input, &mut cx.defaulted).map_err(|mut f| {
            f.message = f.message.replace("Account.Name", "Customer.Name");
            f.message = f.message.replace("Company.Name", "Customer.Name");
            f
        })?;
    Ok(customer_view(cx.org, &guid))
}

/// AddNewContact rule: an active namesake on the account is an error (or, for AddNewAccount's
/// contactInfo, updated); an inactive one is updated and reactivated. New and reactivated
/// contacts are active (IsActive is the service's). Returns the GUID.
fn add_contact(
    org: &mut Org,
    now: DateTime<Utc>,
    input: &Input,
    update_active_namesake: bool,
    param: &str,
    defaulted: &mut Vec<String>,
) -> Result<String, Fault> {
    missing_members(&input.fields, &["AccountGUID", "FirstName", "LastName"])?;
    let account_guid = non_empty(&input.fields, "AccountGUID")
        .unwrap_or_default()
        .to_string();
    let account = require(org, Kind::Account, &account_guid, "Account")?;
    let language = account.get("LanguageGUID").map(str::to_string);
    let first = text(&input.fields, "FirstName");
    let last = text(&input.fields, "LastName");
    let namesake = org
        .all(Kind::Contact)
        .find(|c| {
            c.get("AccountGUID") == Some(account_guid.as_str())
                && same_name(c.get("FirstName"), first)
                && same_name(c.get("LastName"), last)
        })
        .map(|c| (c.guid().to_string(), c.flag("IsActive")));
    let writable = |m: &str| m != "GUID" && m != "IsActive";
    let ty = Kind::Contact.ty();
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
            model::apply(&mut fields, input, ty, param, writable, &[], defaulted);
            set(&mut fields, "IsActive", "true");
            org.replace(Kind::Contact, &guid, fields, now);
            Ok(guid)
        }
        None => {
            let mut fields = Fields::new();
            model::apply(&mut fields, input, ty, param, writable, &[], defaulted);
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

/// UpdateContact: IsActive is writable (and reads as `false` when left out).
fn update_contact_fields(
    org: &mut Org,
    now: DateTime<Utc>,
    guid: &str,
    input: &Input,
    param: &str,
    defaulted: &mut Vec<String>,
) -> Result<(), Fault> {
    let existing = require(org, Kind::Contact, guid, "Contact")?;
    let mut fields = existing.fields.clone();
    model::apply(
        &mut fields,
        input,
        Kind::Contact.ty(),
        param,
        |m| m != "GUID" && m != "AccountGUID",
        &[],
        defaulted,
    );
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
    let input = cx.required_entity("contactInfo")?;
    let guid = guid_of(input)?;
    update_contact_fields(
        cx.org,
        cx.now,
        &guid,
        input,
        "contactInfo",
        &mut cx.defaulted,
    )?;
    Ok(entity(cx.org, Kind::Contact, &guid))
}

/// AddNewAddress(addressInfo): an address of an existing company (CompanyGUID mandatory); the
/// company's first address becomes its head office.
fn add_address(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx.required_entity("addressInfo")?;
    let company_guid = non_empty(&input.fields, "CompanyGUID")
        .map(str::to_string)
        .ok_or_else(|| Fault::validation("Mandatory member(s) missing: CompanyGUID"))?;
    if cx.org.get(Kind::Company, &company_guid).is_none() {
        return Err(Fault::not_found(format!(
            "Company {company_guid} was not found"
        )));
    }
    let mut fields = Fields::new();
    model::apply(
        &mut fields,
        input,
        Kind::Address.ty(),
        "addressInfo",
        |m| m != "GUID",
        &[],
        &mut cx.defaulted,
    );
    let guid = cx.org.new_guid(Kind::Address);
    set(&mut fields, "GUID", guid.as_str());
    cx.org.insert(Kind::Address, fields, cx.now);
    if let Some(c) = cx.org.get_mut(Kind::Company, &company_guid)
        && !given(&c.fields, "HeadOfficeAddressGUID")
    {
        set(&mut c.fields, "HeadOfficeAddressGUID", guid.as_str());
    }
    Ok(entity(cx.org, Kind::Address, &guid))
}

/// UpdateAddress(addressInfo): the whole address by GUID (non-nullable flags left out reset).
fn update_address(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let input = cx.required_entity("addressInfo")?;
    let guid = guid_of(input)?;
    let existing = require(&*cx.org, Kind::Address, &guid, "Address")?;
    let mut fields = existing.fields.clone();
    model::apply(
        &mut fields,
        input,
        Kind::Address.ty(),
        "addressInfo",
        |m| m != "GUID" && m != "CompanyGUID",
        &[],
        &mut cx.defaulted,
    );
    cx.org.replace(Kind::Address, &guid, fields, cx.now);
    Ok(entity(cx.org, Kind::Address, &guid))
}

// ---------------------------------------------------------------------------------------------
// invoices

fn invoice_by_number(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let number = cx.int("invoiceNumber").unwrap_or(0).to_string();
    let bu = cx.text("businessUnitGUID");
    let matches: Vec<&Record> = cx
        .org
        .all(Kind::Invoice)
        .filter(|i| i.get("Number") == Some(number.as_str()))
        .filter(|i| {
            bu.is_none()
                || i.get("BusinessUnitGUID") == bu.as_deref()
                || i.get("InvoiceNumberingBusinessUnitGUID") == bu.as_deref()
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(Reply::Entity(Kind::Invoice.ty(), one.fields.clone())),
        [] => Err(Fault::not_found(format!(
            "Invoice number {number} was not found"
        ))),
        _ => Err(Fault::not_found(format!(
            "Invoice number {number} is not unique: {} invoices share it; give businessUnitGUID",
            matches.len()
        ))),
    }
}

/// The business-unit filter of the invoice lists: the unit and its direct sub-units, or only
/// the unit itself with option 16 (ExcludeChildBusinessUnits).
fn invoice_in_business_unit(org: &Org, r: &Record, bu: Option<&str>, options: i64) -> bool {
    if options & 16 != 0 {
        bu.is_none() || r.get("BusinessUnitGUID") == bu
    } else {
        in_business_unit(org, r, bu)
    }
}

/// Invoices dated `startDate`..=`endDate`. Both are non-nullable: a left-out `endDate` is
/// 0001-01-01, so nothing matches.
fn invoices_by_date(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let bu = cx.text("businessUnitGUID");
    let start = cx.date("startDate").map(|d| d.naive_date());
    let end = cx.date("endDate").map(|d| d.naive_date());
    let options = cx.int("options").unwrap_or(0);
    let org = &*cx.org;
    Ok(list(org, Kind::Invoice, |r| {
        let date = r
            .get("Date")
            .and_then(|d| WireDateTime::from_str(d).ok())
            .map(|d| d.naive_date());
        let in_range =
            date.is_some_and(|d| start.is_none_or(|s| d >= s) && end.is_none_or(|e| d <= e));
        in_range && invoice_in_business_unit(org, r, bu.as_deref(), options)
    }))
}

/// Invoices whose status has exactly this name, at most `maxInvoices` (when given).
fn invoices_by_status(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let bu = cx.text("businessUnitGUID");
    let status = cx.text("status");
    let options = cx.int("options").unwrap_or(0);
    let max = cx
        .int("maxInvoices")
        .map(|n| usize::try_from(n).unwrap_or(0));
    let org = &*cx.org;
    let Reply::List(ty, mut items) = list(org, Kind::Invoice, |r| {
        status.is_some()
            && r.get("InvoiceStatus") == status.as_deref()
            && invoice_in_business_unit(org, r, bu.as_deref(), options)
    }) else {
        return Ok(Reply::Null);
    };
    if let Some(max) = max {
        items.truncate(max);
    }
    Ok(Reply::List(ty, items))
}

fn set_invoice_status(cx: &mut Ctx<'_>) -> Result<Reply, Fault> {
    let guid = cx.text("invoiceGUID").unwrap_or_default();
    if !crate::is_sim_guid(&guid) {
        return Err(Fault::general(format!(
            "An error occurred while processing the request: '{guid}' is not a valid identifier"
        )));
    }
    let status = cx.text("status").unwrap_or_default();
    if cx.org.get(Kind::Invoice, &guid).is_none() {
        return Err(Fault::not_found(format!("Invoice {guid} was not found")));
    }
    if cx.org.get(Kind::InvoiceStatus, &status).is_none() {
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
    let guid = cx.text("invoiceGUID").unwrap_or_default();
    let date = cx.date("paymentDate");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::contract;

    /// Every operation the simulator implements is one of the contract's.
    #[test]
    fn simulated_operations_are_contract_operations() {
        let simulated: Vec<&str> = contract()
            .operations()
            .iter()
            .filter(|o| handler(&o.name).is_some())
            .map(|o| o.name.as_str())
            .collect();
        for name in [
            "AddNewHourEntry",
            "UpdateHourEntry",
            "GetHourEntriesByDate",
            "GetHourEntriesChangedSince",
            "GetUserByCode",
            "DisableUser",
            "GetCaseByNumber",
            "GetPhasesChangedSince",
            "GetPhaseMembersByPhaseGUID",
            "GetWorkTypesChangedSince",
            "UpdateAccount",
            "GetAccountByName",
            "GetCustomerByGUID",
            "GetInvoicesByDate",
            "GetInvoicesByStatus",
            "GetEntitySchemaVersion",
        ] {
            assert!(simulated.contains(&name), "{name}");
        }
        assert!(handler("GetProductByGUID").is_none());
        assert!(handler("NoSuchOperation").is_none());
    }
}
