//! Every typed operation's interface, name and parameter element names (C# order), in one
//! table. Names the facts sheet marks inferred ([I]) carry `confirmed: false` and a note: when
//! the real WSDL says otherwise, the fix is one line here.

/// One SOAP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// WCF contract, the middle of the SOAPAction (`IHourEntry`).
    pub interface: &'static str,
    pub name: &'static str,
    /// Parameter element names, exactly as Severa spells them, in C# parameter order.
    pub params: &'static [&'static str],
    /// Whether the parameter names (and interface) are confirmed by a public source.
    pub confirmed: bool,
    pub note: &'static str,
}

impl Operation {
    /// `IHourEntry.AddNewHourEntry`
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.interface, self.name)
    }
}

pub const ADD_NEW_HOUR_ENTRY: Operation = Operation {
    interface: "IHourEntry",
    name: "AddNewHourEntry",
    params: &["hourEntryInfo"],
    confirmed: true,
    note: "",
};

pub const UPDATE_HOUR_ENTRY: Operation = Operation {
    interface: "IHourEntry",
    name: "UpdateHourEntry",
    params: &["hourEntryInfo"],
    confirmed: false,
    note: "parameter name assumed like AddNewHourEntry",
};

pub const DELETE_HOUR_ENTRY: Operation = Operation {
    interface: "IHourEntry",
    name: "DeleteHourEntry",
    params: &["hourEntryGUID"],
    confirmed: false,
    note: "",
};

pub const GET_HOUR_ENTRY_BY_GUID: Operation = Operation {
    interface: "IHourEntry",
    name: "GetHourEntryByGUID",
    params: &["hourEntryGUID"],
    confirmed: false,
    note: "",
};

pub const GET_HOUR_ENTRIES_BY_CASE_GUID: Operation = Operation {
    interface: "IHourEntry",
    name: "GetHourEntriesByCaseGUID",
    params: &["caseGuid", "startDate", "endDate"],
    confirmed: true,
    note: "",
};

pub const GET_HOUR_ENTRIES_BY_DATE_AND_USER_GUID: Operation = Operation {
    interface: "IHourEntry",
    name: "GetHourEntriesByDateAndUserGUID",
    params: &["businessUnitGUID", "startdate", "enddate", "userGUID"],
    confirmed: false,
    note: "startdate/enddate/userGUID confirmed (2012 client); the leading businessUnitGUID of later proxies is inferred",
};

pub const GET_HOUR_ENTRIES_CHANGED_SINCE: Operation = Operation {
    interface: "IHourEntry",
    name: "GetHourEntriesChangedSince",
    params: &["startDateTime"],
    confirmed: false,
    note: "",
};

pub const GET_USER_BY_GUID: Operation = Operation {
    interface: "IUser",
    name: "GetUserByGUID",
    params: &["userGUID"],
    confirmed: false,
    note: "",
};

pub const GET_USER_BY_CODE: Operation = Operation {
    interface: "IUser",
    name: "GetUserByCode",
    params: &["code"],
    confirmed: false,
    note: "",
};

pub const GET_USER_BY_NAME: Operation = Operation {
    interface: "IUser",
    name: "GetUserByName",
    params: &["firstName", "lastName"],
    confirmed: true,
    note: "",
};

pub const GET_ALL_USERS: Operation = Operation {
    interface: "IUser",
    name: "GetAllUsers",
    params: &["businessUnitGUID", "includeInactive"],
    confirmed: false,
    note: "",
};

pub const GET_USERS_CHANGED_SINCE: Operation = Operation {
    interface: "IUser",
    name: "GetUsersChangedSince",
    params: &["businessUnitGUID", "startDateTime", "options"],
    confirmed: true,
    note: "",
};

pub const ADD_NEW_USER: Operation = Operation {
    interface: "IUser",
    name: "AddNewUser",
    params: &["userInfo", "sendWelcomeEmail"],
    confirmed: true,
    note: "",
};

pub const DISABLE_USER: Operation = Operation {
    interface: "IUser",
    name: "DisableUser",
    params: &["userGUID"],
    confirmed: false,
    note: "",
};

pub const GET_CASE_BY_GUID: Operation = Operation {
    interface: "ICase",
    name: "GetCaseByGUID",
    params: &["caseGuid"],
    confirmed: true,
    note: "",
};

pub const ADD_NEW_CASE: Operation = Operation {
    interface: "ICase",
    name: "AddNewCase",
    params: &["caseInfo"],
    confirmed: true,
    note: "",
};

pub const UPDATE_CASE: Operation = Operation {
    interface: "ICase",
    name: "UpdateCase",
    params: &["caseInfo"],
    confirmed: true,
    note: "",
};

pub const GET_CASES_CHANGED_SINCE: Operation = Operation {
    interface: "ICase",
    name: "GetCasesChangedSince",
    params: &["businessUnitGUID", "startDateTime", "options"],
    confirmed: false,
    note: "",
};

pub const GET_ALL_CASES: Operation = Operation {
    interface: "ICase",
    name: "GetAllCases",
    params: &["businessUnitGUID", "criteria"],
    confirmed: false,
    note: "the 2012 client sent no parameters",
};

pub const GET_PHASES_BY_CASE_GUID: Operation = Operation {
    interface: "IPhase",
    name: "GetPhasesByCaseGUID",
    params: &["caseGUID"],
    confirmed: true,
    note: "",
};

pub const GET_PHASE_BY_GUID: Operation = Operation {
    interface: "IPhase",
    name: "GetPhaseByGUID",
    params: &["phaseGUID"],
    confirmed: false,
    note: "",
};

pub const ADD_NEW_PHASE: Operation = Operation {
    interface: "IPhase",
    name: "AddNewPhase",
    params: &["phaseInfo", "members"],
    confirmed: true,
    note: "",
};

pub const GET_WORK_TYPES_BY_PHASE_GUID: Operation = Operation {
    interface: "IWorkType",
    name: "GetWorkTypesByPhaseGUID",
    params: &["phaseGUID"],
    confirmed: true,
    note: "",
};

pub const GET_ALL_WORK_TYPES: Operation = Operation {
    interface: "IWorkType",
    name: "GetAllWorkTypes",
    params: &[],
    confirmed: true,
    note: "",
};

pub const GET_WORK_TYPE_BY_GUID: Operation = Operation {
    interface: "IWorkType",
    name: "GetWorkTypeByGUID",
    params: &["workTypeGUID"],
    confirmed: false,
    note: "",
};

pub const ADD_NEW_ACCOUNT: Operation = Operation {
    interface: "IAccount",
    name: "AddNewAccount",
    params: &["accountInfo", "companyInfo", "addressInfo", "contactInfo"],
    confirmed: true,
    note: "",
};

pub const UPDATE_ACCOUNT: Operation = Operation {
    interface: "IAccount",
    name: "UpdateAccount",
    params: &["accountInfo"],
    confirmed: false,
    note: "",
};

pub const GET_ACCOUNT_BY_GUID: Operation = Operation {
    interface: "IAccount",
    name: "GetAccountByGUID",
    params: &["accountGUID"],
    confirmed: false,
    note: "",
};

pub const GET_ACCOUNT_BY_NUMBER: Operation = Operation {
    interface: "IAccount",
    name: "GetAccountByNumber",
    params: &["accountNumber"],
    confirmed: true,
    note: "",
};

pub const GET_ACCOUNTS_CHANGED_SINCE: Operation = Operation {
    interface: "IAccount",
    name: "GetAccountsChangedSince",
    params: &["startDateTime", "options"],
    confirmed: false,
    note: "",
};

pub const ADD_NEW_CUSTOMER: Operation = Operation {
    interface: "ICustomer",
    name: "AddNewCustomer",
    params: &["customer"],
    confirmed: true,
    note: "",
};

pub const ADD_NEW_CONTACT: Operation = Operation {
    interface: "IContact",
    name: "AddNewContact",
    params: &["contactInfo"],
    confirmed: true,
    note: "",
};

pub const UPDATE_CONTACT: Operation = Operation {
    interface: "IContact",
    name: "UpdateContact",
    params: &["contactInfo"],
    confirmed: false,
    note: "",
};

pub const GET_CONTACT_BY_GUID: Operation = Operation {
    interface: "IContact",
    name: "GetContactByGUID",
    params: &["contactGUID"],
    confirmed: false,
    note: "",
};

pub const GET_CONTACTS_BY_ACCOUNT_GUID: Operation = Operation {
    interface: "IContact",
    name: "GetContactsByAccountGUID",
    params: &["accountGUID"],
    confirmed: false,
    note: "",
};

pub const GET_CONTACTS_CHANGED_SINCE: Operation = Operation {
    interface: "IContact",
    name: "GetContactsChangedSince",
    params: &["accountGUID", "startDateTime", "options"],
    confirmed: true,
    note: "",
};

pub const GET_INVOICE_BY_GUID: Operation = Operation {
    interface: "IInvoice",
    name: "GetInvoiceByGUID",
    params: &["invoiceGUID"],
    confirmed: false,
    note: "",
};

pub const GET_INVOICE_BY_NUMBER: Operation = Operation {
    interface: "IInvoice",
    name: "GetInvoiceByNumber",
    params: &["invoiceNumber", "businessUnitGUID"],
    confirmed: false,
    note: "",
};

pub const GET_INVOICES_BY_DATE: Operation = Operation {
    interface: "IInvoice",
    name: "GetInvoicesByDate",
    params: &["businessUnitGUID", "startDate", "endDate", "options"],
    confirmed: false,
    note: "",
};

pub const SET_INVOICE_STATUS: Operation = Operation {
    interface: "IInvoice",
    name: "SetInvoiceStatus",
    params: &["invoiceGUID", "status"],
    confirmed: false,
    note: "status is a status name; name as in SetInvoiceNumber",
};

pub const SET_INVOICE_PAYMENT_DATE: Operation = Operation {
    interface: "IInvoice",
    name: "SetInvoicePaymentDate",
    params: &["invoiceGUID", "paymentDate"],
    confirmed: true,
    note: "",
};

pub const GET_ALL_INVOICE_STATUSES: Operation = Operation {
    interface: "IInvoiceStatus",
    name: "GetAllInvoiceStatuses",
    params: &[],
    confirmed: true,
    note: "",
};

pub const GET_VERSION: Operation = Operation {
    interface: "IAPI",
    name: "GetVersion",
    params: &[],
    confirmed: false,
    note: "interface IAPI and the return type are inferred",
};

pub const GET_ENTITY_SCHEMA_VERSION: Operation = Operation {
    interface: "IAPI",
    name: "GetEntitySchemaVersion",
    params: &[],
    confirmed: false,
    note: "interface IAPI and the return type are inferred",
};

/// Every operation with typed bindings.
pub const ALL: &[Operation] = &[
    ADD_NEW_HOUR_ENTRY,
    UPDATE_HOUR_ENTRY,
    DELETE_HOUR_ENTRY,
    GET_HOUR_ENTRY_BY_GUID,
    GET_HOUR_ENTRIES_BY_CASE_GUID,
    GET_HOUR_ENTRIES_BY_DATE_AND_USER_GUID,
    GET_HOUR_ENTRIES_CHANGED_SINCE,
    GET_USER_BY_GUID,
    GET_USER_BY_CODE,
    GET_USER_BY_NAME,
    GET_ALL_USERS,
    GET_USERS_CHANGED_SINCE,
    ADD_NEW_USER,
    DISABLE_USER,
    GET_CASE_BY_GUID,
    ADD_NEW_CASE,
    UPDATE_CASE,
    GET_CASES_CHANGED_SINCE,
    GET_ALL_CASES,
    GET_PHASES_BY_CASE_GUID,
    GET_PHASE_BY_GUID,
    ADD_NEW_PHASE,
    GET_WORK_TYPES_BY_PHASE_GUID,
    GET_ALL_WORK_TYPES,
    GET_WORK_TYPE_BY_GUID,
    ADD_NEW_ACCOUNT,
    UPDATE_ACCOUNT,
    GET_ACCOUNT_BY_GUID,
    GET_ACCOUNT_BY_NUMBER,
    GET_ACCOUNTS_CHANGED_SINCE,
    ADD_NEW_CUSTOMER,
    ADD_NEW_CONTACT,
    UPDATE_CONTACT,
    GET_CONTACT_BY_GUID,
    GET_CONTACTS_BY_ACCOUNT_GUID,
    GET_CONTACTS_CHANGED_SINCE,
    GET_INVOICE_BY_GUID,
    GET_INVOICE_BY_NUMBER,
    GET_INVOICES_BY_DATE,
    SET_INVOICE_STATUS,
    SET_INVOICE_PAYMENT_DATE,
    GET_ALL_INVOICE_STATUSES,
    GET_VERSION,
    GET_ENTITY_SCHEMA_VERSION,
];

/// Looks an operation up by `Interface.Operation` or bare operation name.
pub fn find(name: &str) -> Option<&'static Operation> {
    match name.split_once('.') {
        Some((interface, op)) => ALL
            .iter()
            .find(|o| o.interface == interface && o.name == op),
        None => ALL.iter().find(|o| o.name == name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for op in ALL {
            assert_eq!(find(&op.qualified_name()), Some(op));
            assert_eq!(ALL.iter().filter(|o| o.name == op.name).count(), 1);
        }
    }

    #[test]
    fn confirmed_parameter_casing_is_kept() {
        assert_eq!(GET_CASE_BY_GUID.params, ["caseGuid"]);
        assert_eq!(GET_PHASES_BY_CASE_GUID.params, ["caseGUID"]);
        assert_eq!(
            GET_HOUR_ENTRIES_BY_CASE_GUID.params,
            ["caseGuid", "startDate", "endDate"]
        );
        assert_eq!(
            ADD_NEW_ACCOUNT.params,
            ["accountInfo", "companyInfo", "addressInfo", "contactInfo"]
        );
    }
}
