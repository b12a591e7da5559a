//! Severa entities (data contracts in `Severa.Entities.API`). Member lists follow the
//! facts sheet; members known only from truncated references are [I] and easy to extend.
//! Unknown members in responses are ignored, unset members are never sent.

use crate::severa_entity;
use crate::wire::WireDateTime;
use rust_decimal::Decimal;

severa_entity! {
    /// Hours a user worked on a phase. Quantity is hours, at most 999.
    HourEntry = "HourEntry" {
        account_guid: String = "AccountGUID",
        case_business_unit_code: String = "CaseBusinessUnitCode",
        case_cost_center_identifier: String = "CaseCostCenterIdentifier",
        case_guid: String = "CaseGUID",
        case_name: String = "CaseName",
        case_number: i32 = "CaseNumber",
        cost_currency_shortform: String = "CostCurrencyShortform",
        cost_currency_shortform_of_invoicing_currency: String = "CostCurrencyShortformOfInvoicingCurrency",
        cost_currency_shortform_of_organization_currency: String = "CostCurrencyShortformOfOrganizationCurrency",
        cost_currency_shortform_of_user_company_currency: String = "CostCurrencyShortformOfUserCompanyCurrency",
        description: String = "Description",
        end_time: WireDateTime = "EndTime",
        event_date: WireDateTime = "EventDate",
        guid: String = "GUID",
        invoice_description: String = "InvoiceDescription",
        invoice_guid: String = "InvoiceGUID",
        invoice_quantity: Decimal = "InvoiceQuantity",
        invoice_row_guid: String = "InvoiceRowGUID",
        is_approved: bool = "IsApproved",
        is_billable: bool = "IsBillable",
        is_productive: bool = "IsProductive",
        is_read_only: bool = "IsReadOnly",
        over_time_guid: String = "OverTimeGUID",
        overtime_code: String = "OvertimeCode",
        phase_guid: String = "PhaseGUID",
        price_currency_shortform_of_case_company_currency: String = "PriceCurrencyShortformOfCaseCompanyCurrency",
        price_currency_shortform_of_invoicing_currency: String = "PriceCurrencyShortformOfInvoicingCurrency",
        price_currency_shortform_of_organization_currency: String = "PriceCurrencyShortformOfOrganizationCurrency",
        price_currency_shortform_of_user_company_currency: String = "PriceCurrencyShortformOfUserCompanyCurrency",
        quantity: Decimal = "Quantity",
        start_time: WireDateTime = "StartTime",
        task_guid: String = "TaskGUID",
        unit_cost: Decimal = "UnitCost",
        unit_cost_in_invoicing_currency: Decimal = "UnitCostInInvoicingCurrency",
        unit_cost_in_organization_currency: Decimal = "UnitCostInOrganizationCurrency",
        unit_cost_in_user_company_currency: Decimal = "UnitCostInUserCompanyCurrency",
        unit_price: Decimal = "UnitPrice",
        unit_price_in_base_currency: Decimal = "UnitPriceInBaseCurrency",
        unit_price_in_case_company_currency: Decimal = "UnitPriceInCaseCompanyCurrency",
        unit_price_in_user_company_currency: Decimal = "UnitPriceInUserCompanyCurrency",
        use_invoice_quantity: bool = "UseInvoiceQuantity",
        user_business_unit_code: String = "UserBusinessUnitCode",
        user_code: String = "UserCode",
        user_first_name: String = "UserFirstName",
        user_guid: String = "UserGUID",
        user_last_name: String = "UserLastName",
        work_type_guid: String = "WorkTypeGUID",
    }
}

severa_entity! {
    /// A customer account (with its Company). AddNewAccount upserts by Number, then Name.
    Account = "Account" {
        account_group_guids: Vec<String> = "AccountGroupGUIDs",
        account_owner_user_guid: String = "AccountOwnerUserGUID",
        account_rating: i32 = "AccountRating",
        company_guid: String = "CompanyGUID",
        currency_code: String = "CurrencyCode",
        currency_guid: String = "CurrencyGUID",
        guid: String = "GUID",
        insert_ts: WireDateTime = "InsertTS",
        invoicing_vat: Decimal = "InvoicingVat",
        is_active: bool = "IsActive",
        is_internal: bool = "IsInternal",
        language_code: String = "LanguageCode",
        language_guid: String = "LanguageGUID",
        name: String = "Name",
        notes: String = "Notes",
        number: i32 = "Number",
        overdue_interest: Decimal = "OverdueInterest",
        payment_term: i32 = "PaymentTerm",
        pricelist_guid: String = "PricelistGUID",
        reverse_charge: bool = "ReverseCharge",
        reverse_charge_description: String = "ReverseChargeDescription",
        updated_ts: WireDateTime = "UpdatedTS",
        url_to_account: String = "UrlToAccount",
        e_invoice_address: String = "eInvoiceAddress",
        e_invoice_operator: String = "eInvoiceOperator",
    }
}

severa_entity! {
    /// The company behind an account.
    Company = "Company" {
        annual_revenue: Decimal = "AnnualRevenue",
        annual_revenue2: Decimal = "AnnualRevenue2",
        email: String = "Email",
        employees: i32 = "Employees",
        guid: String = "GUID",
        head_office_address_guid: String = "HeadOfficeAddressGUID",
        hierarchy_guid: String = "HierarchyGUID",
        industry_guid: String = "IndustryGUID",
        language_guid: String = "LanguageGUID",
        name: String = "Name",
        timezone_guid: String = "TimezoneGUID",
        vat_number: String = "VatNumber",
        website: String = "Website",
    }
}

severa_entity! {
    /// A postal, visiting or billing address of a company.
    Address = "Address" {
        addressline: String = "Addressline",
        addressline2: String = "Addressline2",
        addressline3: String = "Addressline3",
        city: String = "City",
        company_guid: String = "CompanyGUID",
        country_code: String = "CountryCode",
        country_guid: String = "CountryGUID",
        country_name: String = "CountryName",
        country_region_guid: String = "CountryRegionGUID",
        country_region_name: String = "CountryRegionName",
        fax: String = "Fax",
        guid: String = "GUID",
        is_billing_address: bool = "IsBillingAddress",
        is_postal_address: bool = "IsPostalAddress",
        is_visit_address: bool = "IsVisitAddress",
        phone: String = "Phone",
        postal_code: String = "PostalCode",
    }
}

severa_entity! {
    /// Account and Company in one entity (ICustomer, 2016). Upserts like AddNewAccount.
    Customer = "Customer" {
        account_group_guids: Vec<String> = "AccountGroupGUIDs",
        account_owner_user_guid: String = "AccountOwnerUserGUID",
        account_rating: i32 = "AccountRating",
        annual_revenue: Decimal = "AnnualRevenue",
        annual_revenue2: Decimal = "AnnualRevenue2",
        company_guid: String = "CompanyGUID",
        currency_code: String = "CurrencyCode",
        currency_guid: String = "CurrencyGUID",
        email: String = "Email",
        employees: i32 = "Employees",
        guid: String = "GUID",
        head_office_address_guid: String = "HeadOfficeAddressGUID",
        industry_guid: String = "IndustryGUID",
        insert_ts: WireDateTime = "InsertTS",
        invoicing_vat: Decimal = "InvoicingVat",
        is_active: bool = "IsActive",
        is_internal: bool = "IsInternal",
        language_code: String = "LanguageCode",
        language_guid: String = "LanguageGUID",
        name: String = "Name",
        notes: String = "Notes",
        number: i32 = "Number",
        overdue_interest: Decimal = "OverdueInterest",
        payment_term: i32 = "PaymentTerm",
        pricelist_guid: String = "PricelistGUID",
        reverse_charge: bool = "ReverseCharge",
        reverse_charge_description: String = "ReverseChargeDescription",
        timezone_guid: String = "TimezoneGUID",
        updated_ts: WireDateTime = "UpdatedTS",
        url_to_account: String = "UrlToAccount",
        vat_number: String = "VatNumber",
        website: String = "Website",
        e_invoice_address: String = "eInvoiceAddress",
        e_invoice_operator: String = "eInvoiceOperator",
    }
}

severa_entity! {
    /// One way to reach a contact (e-mail, phone, ...).
    CommunicationMethod = "Contact.CommunicationMethod" {
        is_forbidden_to_use: bool = "IsForbiddenToUse",
        name: String = "Name",
        r#type: String = "Type",
        value: String = "Value",
    }
}

severa_entity! {
    /// A person at a customer account. Mandatory on insert: AccountGUID, FirstName, LastName.
    Contact = "Contact" {
        account_guid: String = "AccountGUID",
        address_guid: String = "AddressGUID",
        communication_methods: Vec<CommunicationMethod> = "CommunicationMethods",
        contact_role_guid: String = "ContactRoleGUID",
        date_of_birth: WireDateTime = "DateOfBirth",
        description: String = "Description",
        first_name: String = "FirstName",
        guid: String = "GUID",
        is_active: bool = "IsActive",
        job_title: String = "JobTitle",
        keywords: Vec<String> = "Keywords",
        language_guid: String = "LanguageGUID",
        last_name: String = "LastName",
        salutation: String = "Salutation",
        satisfaction_level: i32 = "SatisfactionLevel",
    }
}

severa_entity! {
    /// A case (project). AddNewCase creates its root phase automatically.
    Case = "Case" {
        account_guid: String = "AccountGUID",
        account_name: String = "AccountName",
        account_number: i32 = "AccountNumber",
        billing_address_guid: String = "BillingAddressGUID",
        billing_notes_before_grid: String = "BillingNotesBeforeGrid",
        business_unit_guid: String = "BusinessUnitGUID",
        business_unit_name: String = "BusinessUnitName",
        business_unit_number: i32 = "BusinessUnitNumber",
        case_company_currency_guid: String = "CaseCompanyCurrencyGUID",
        case_number: i32 = "CaseNumber",
        case_owner_user_code: String = "CaseOwnerUserCode",
        case_owner_user_guid: String = "CaseOwnerUserGUID",
        closed_date: WireDateTime = "ClosedDate",
        completion_estimate: Decimal = "CompletionEstimate",
        contact_guid: String = "ContactGUID",
        cost_center_guid: String = "CostCenterGUID",
        cost_center_number: i32 = "CostCenterNumber",
        currency_guid: String = "CurrencyGUID",
        currency_shortform: String = "CurrencyShortform",
        currency_shortform_of_case_company_currency: String = "CurrencyShortformOfCaseCompanyCurrency",
        current_case_status_description: String = "CurrentCaseStatusDescription",
        current_case_status_guid: String = "CurrentCaseStatusGUID",
        current_case_status_insert_ts: WireDateTime = "CurrentCaseStatusInsertTs",
        deadline_date: WireDateTime = "DeadlineDate",
        description: String = "Description",
        expected_value: Decimal = "ExpectedValue",
        guid: String = "GUID",
        include_over_time: bool = "IncludeOverTime",
        insert_ts: WireDateTime = "InsertTs",
        internal_name: String = "InternalName",
        invoice_template_guid: String = "InvoiceTemplateGUID",
        is_closed: bool = "IsClosed",
        is_daily_allowance_billable: bool = "IsDailyAllowanceBillable",
        is_internal: bool = "IsInternal",
        is_mileage_billable: bool = "IsMileageBillable",
        is_other_travel_expenses_billable: bool = "IsOtherTravelExpensesBillable",
        latest_estimation_date: WireDateTime = "LatestEstimationDate",
        lead_rating: i32 = "LeadRating",
        lead_source_guid: String = "LeadSourceGUID",
        name: String = "Name",
        order_number: String = "OrderNumber",
        our_reference: String = "OurReference",
        overdue_interest: Decimal = "OverdueInterest",
        payment_term: i32 = "PaymentTerm",
        pricelist_guid: String = "PricelistGUID",
        pricing_rule: String = "PricingRule",
        pricing_type: String = "PricingType",
        priority: i32 = "Priority",
        probability: i32 = "Probability",
        root_task_guid: String = "RootTaskGUID",
        sales_close_date: WireDateTime = "SalesCloseDate",
        sales_person_user_code: String = "SalesPersonUserCode",
        sales_person_user_guid: String = "SalesPersonUserGUID",
        sales_process_guid: String = "SalesProcessGUID",
        sales_status_guid: String = "SalesStatusGUID",
        start_date: WireDateTime = "StartDate",
    }
}

severa_entity! {
    /// A phase (task) of a case; every phase but the root has a parent.
    Phase = "Phase" {
        case_guid: String = "CaseGUID",
        code: String = "Code",
        deadline: WireDateTime = "Deadline",
        description: String = "Description",
        guid: String = "GUID",
        is_completed: bool = "IsCompleted",
        is_locked: bool = "IsLocked",
        name: String = "Name",
        original_deadline: WireDateTime = "OriginalDeadline",
        original_planned_start_date: WireDateTime = "OriginalPlannedStartDate",
        original_work_estimate: Decimal = "OriginalWorkEstimate",
        owner_user_guid: String = "OwnerUserGUID",
        parent_phase_guid: String = "ParentPhaseGUID",
        planned_start_date: WireDateTime = "PlannedStartDate",
        price_per_hour: Decimal = "PricePerHour",
        sort_order: i32 = "SortOrder",
        work_estimate: Decimal = "WorkEstimate",
        work_type_guid: String = "WorkTypeGUID",
    }
}

severa_entity! {
    /// A kind of work hours are recorded as.
    WorkType = "WorkType" {
        code: String = "Code",
        guid: String = "GUID",
        is_active: bool = "IsActive",
        is_default: bool = "IsDefault",
        is_productive: bool = "IsProductive",
        name: String = "Name",
        sales_account_guid: String = "SalesAccountGUID",
    }
}

severa_entity! {
    /// A Severa user. E-mail (the login) is unique.
    User = "User" {
        addressline: String = "Addressline",
        bank_account_number: String = "BankAccountNumber",
        business_unit_code: String = "BusinessUnitCode",
        business_unit_guid: String = "BusinessUnitGUID",
        business_unit_name: String = "BusinessUnitName",
        code: String = "Code",
        country_code: String = "CountryCode",
        country_guid: String = "CountryGUID",
        country_region_guid: String = "CountryRegionGUID",
        country_region_name: String = "CountryRegionName",
        culture: String = "Culture",
        default_activity_type_guid: String = "DefaultActivityTypeGUID",
        email: String = "Email",
        first_name: String = "FirstName",
        guid: String = "GUID",
        is_active: bool = "IsActive",
        language_code: String = "LanguageCode",
        language_guid: String = "LanguageGUID",
        last_name: String = "LastName",
        license_type: String = "LicenseType",
        notes: String = "Notes",
        organization_guid: String = "OrganizationGUID",
        phone: String = "Phone",
        photo_file_guid: String = "PhotoFileGUID",
        post_office: String = "PostOffice",
        postal_code: String = "PostalCode",
        profile_guid: String = "ProfileGUID",
        salutation: String = "Salutation",
        send_daily_mail: bool = "SendDailyMail",
        send_weekly_mail: bool = "SendWeeklyMail",
        social_security_number: String = "SocialSecurityNumber",
        superior_user_guid: String = "SuperiorUserGUID",
    }
}

severa_entity! {
    /// A row of an invoice (Finvoice-style member names; rowUnitCodeText, rowVat*, unitPriceAmount are [I]).
    InvoiceRow = "InvoiceRow" {
        case_guids: Vec<String> = "CaseGUIDs",
        event_date: WireDateTime = "EventDate",
        guid: String = "GUID",
        hour_guids: Vec<String> = "HourGUIDs",
        item_guids: Vec<String> = "ItemGUIDs",
        main_case_guid: String = "MainCaseGUID",
        main_case_name: String = "MainCaseName",
        main_case_number: i32 = "MainCaseNumber",
        main_user_full_name: String = "MainUserFullName",
        main_user_guid: String = "MainUserGUID",
        phase_guids: Vec<String> = "PhaseGUIDs",
        product_guids: Vec<String> = "ProductGUIDs",
        article_identifier: String = "articleIdentifier",
        article_name: String = "articleName",
        delivered_quantity: Decimal = "deliveredQuantity",
        quantity_unit_code: String = "quantityUnitCode",
        row_account_dimension_text: String = "rowAccountDimensionText",
        row_amount: Decimal = "rowAmount",
        row_amount_currency_identifier: String = "rowAmountCurrencyIdentifier",
        row_cost_amount: Decimal = "rowCostAmount",
        row_cost_center_guid: String = "rowCostCenterGUID",
        row_cost_center_name: String = "rowCostCenterName",
        row_cost_center_number: String = "rowCostCenterNumber",
        row_free_text: String = "rowFreeText",
        row_identifier: String = "rowIdentifier",
        row_number: i32 = "rowNumber",
        row_unit_code_text: String = "rowUnitCodeText",
        row_vat_amount: Decimal = "rowVatAmount",
        row_vat_rate_percent: Decimal = "rowVatRatePercent",
        unit_price_amount: Decimal = "unitPriceAmount",
    }
}

severa_entity! {
    /// An invoice with its rows; statuses are referred to by name. InvoiceNumber, PaymentDate, ReferenceNumber and the totals are [I] (past the truncated reference).
    Invoice = "Invoice" {
        account_guid: String = "AccountGUID",
        account_name: String = "AccountName",
        account_number: i32 = "AccountNumber",
        business_unit_code: String = "BusinessUnitCode",
        business_unit_guid: String = "BusinessUnitGUID",
        business_unit_name: String = "BusinessUnitName",
        culture: String = "Culture",
        currency_guid: String = "CurrencyGUID",
        currency_name: String = "CurrencyName",
        currency_rate: Decimal = "CurrencyRate",
        currency_shortform: String = "CurrencyShortform",
        date: WireDateTime = "Date",
        description: String = "Description",
        due_date: WireDateTime = "DueDate",
        entry_date: WireDateTime = "EntryDate",
        guid: String = "GUID",
        invoice_allowed_case_guids: Vec<String> = "InvoiceAllowedCaseGUIDs",
        invoice_number: i32 = "InvoiceNumber",
        invoice_numbering_business_unit_guid: String = "InvoiceNumberingBusinessUnitGUID",
        invoice_rows: Vec<InvoiceRow> = "InvoiceRows",
        invoice_status: String = "InvoiceStatus",
        is_credit_note: bool = "IsCreditNote",
        is_reimbursed: bool = "IsReimbursed",
        is_tax_free: bool = "IsTaxFree",
        language_code: String = "LanguageCode",
        language_guid: String = "LanguageGUID",
        main_case_guid: String = "MainCaseGUID",
        payment_date: WireDateTime = "PaymentDate",
        reference_number: String = "ReferenceNumber",
        total_excluding_tax: Decimal = "TotalExcludingTax",
        total_including_tax: Decimal = "TotalIncludingTax",
    }
}

severa_entity! {
    /// An invoice status, referred to by Name.
    InvoiceStatus = "InvoiceStatus" {
        description: String = "Description",
        guid: String = "GUID",
        has_invoice_number: bool = "HasInvoiceNumber",
        is_active: bool = "IsActive",
        is_default: bool = "IsDefault",
        is_paid: bool = "IsPaid",
        is_read_only: bool = "IsReadOnly",
        is_sent: bool = "IsSent",
        is_waiting_payment: bool = "IsWaitingPayment",
        name: String = "Name",
        sort_order: i32 = "SortOrder",
    }
}
