//! Decoding composed responses in Severa's shape.

use severa::entities::{HourEntry, InvoiceStatus};
use severa::wire::{Decoded, Outcome, decode_response};
use severa::{FaultKind, Value};

const LIST: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Header>
    <Quota xmlns="http://soap.severa.com/">100000</Quota>
    <UsedQuota xmlns="http://soap.severa.com/">42</UsedQuota>
  </s:Header>
  <s:Body>
    <GetHourEntriesByCaseGUIDResponse xmlns="http://soap.severa.com/">
      <GetHourEntriesByCaseGUIDResult xmlns:a="http://schemas.datacontract.org/2004/07/Severa.Entities.API" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
        <a:HourEntry>
          <a:AccountGUID>acc-1</a:AccountGUID>
          <a:Description>Fish &amp; chips &lt;3 &#xD;</a:Description>
          <a:EventDate>2024-05-02T00:00:00</a:EventDate>
          <a:GUID>he-1</a:GUID>
          <a:InvoiceGUID i:nil="true"/>
          <a:IsBillable>true</a:IsBillable>
          <a:Quantity>1.5</a:Quantity>
          <a:SomethingNew>ignored</a:SomethingNew>
        </a:HourEntry>
        <a:HourEntry><a:GUID>he-2</a:GUID><a:Quantity>2</a:Quantity></a:HourEntry>
      </GetHourEntriesByCaseGUIDResult>
    </GetHourEntriesByCaseGUIDResponse>
  </s:Body>
</s:Envelope>"#;

#[test]
fn list_result_with_quota_nil_and_unknown_members() {
    let decoded: Decoded<Vec<HourEntry>> = decode_response(LIST.as_bytes()).unwrap();
    assert_eq!(decoded.quota.limit, Some(100000));
    assert_eq!(decoded.quota.used, Some(42));
    let Outcome::Result(Some(entries)) = decoded.outcome else {
        panic!("{:?}", decoded.outcome)
    };
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[0].description.as_deref(),
        Some("Fish & chips <3 \r")
    );
    assert_eq!(entries[0].invoice_guid, None);
    assert_eq!(entries[0].is_billable, Some(true));
    assert_eq!(
        entries[0].quantity.map(|q| q.to_string()).as_deref(),
        Some("1.5")
    );
    assert_eq!(entries[1].guid.as_deref(), Some("he-2"));
}

#[test]
fn fault_is_typed_by_detail_name() {
    let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring xml:lang="en-US">Quota limit reached</faultstring><detail><QuotaLimitExceededException xmlns="http://schemas.datacontract.org/2004/07/Severa.API" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Description>Quota limit</Description><Source i:nil="true"/></QuotaLimitExceededException></detail></s:Fault></s:Body></s:Envelope>"#;
    let decoded: Decoded<Value> = decode_response(xml.as_bytes()).unwrap();
    let Outcome::Fault(fault) = decoded.outcome else {
        panic!()
    };
    assert_eq!(fault.kind, FaultKind::QuotaLimitExceeded);
    assert_eq!(fault.code, "s:Client");
    assert_eq!(fault.message, "Quota limit reached");
    assert_eq!(fault.description.as_deref(), Some("Quota limit"));
}

#[test]
fn empty_list_forms() {
    for result in [
        "<R:GetAllInvoiceStatusesResult xmlns:R=\"http://soap.severa.com/\"/>",
        "<GetAllInvoiceStatusesResult xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" i:nil=\"true\"/>",
        "",
    ] {
        let xml = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><GetAllInvoiceStatusesResponse xmlns=\"http://soap.severa.com/\">{result}</GetAllInvoiceStatusesResponse></soap:Body></soap:Envelope>"
        );
        let decoded: Decoded<Vec<InvoiceStatus>> = decode_response(xml.as_bytes()).unwrap();
        match decoded.outcome {
            Outcome::Result(v) => assert!(v.unwrap_or_default().is_empty()),
            other => panic!("{other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Composed responses: prefixes, namespaces, nil, lists, values, faults, broken input.

use rust_decimal::Decimal;
use severa::entities::{Account, Contact, Invoice, User};
use severa::wire::WireError;
use severa::{Fault, WireDateTime};
use std::str::FromStr;

const ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const ENT: &str = "http://schemas.datacontract.org/2004/07/Severa.Entities.API";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// `<s:Envelope>` with the given header content and `<OpResponse><OpResult …>result</OpResult>`.
fn response(op: &str, result_inner: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="{ENV}"><s:Body><{op}Response xmlns="http://soap.severa.com/"><{op}Result xmlns:a="{ENT}" xmlns:i="{XSI}">{result_inner}</{op}Result></{op}Response></s:Body></s:Envelope>"#
    )
}

fn ok<T: severa::wire::FromWire>(xml: &str) -> Option<T> {
    match decode_response::<_, T>(xml.as_bytes()) {
        Ok(Decoded {
            outcome: Outcome::Result(v),
            ..
        }) => v,
        other => panic!("expected a result, got {:?}\n{xml}", other.map(|d| d.quota)),
    }
}

fn err<T: severa::wire::FromWire + std::fmt::Debug>(xml: &[u8]) -> WireError {
    match decode_response::<_, T>(xml) {
        Err(e) => e,
        Ok(d) => panic!("expected an error, got {:?}", d.outcome),
    }
}

fn fault(xml: &str) -> (Fault, severa::Quota) {
    match decode_response::<_, Value>(xml.as_bytes()) {
        Ok(Decoded {
            outcome: Outcome::Fault(f),
            quota,
        }) => (f, quota),
        other => panic!("expected a fault, got {other:?}"),
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn any_envelope_prefix_is_accepted() {
    for (open, close) in [
        (format!("<s:Envelope xmlns:s=\"{ENV}\">"), "</s:Envelope>"),
        (
            format!("<soap:Envelope xmlns:soap=\"{ENV}\">"),
            "</soap:Envelope>",
        ),
        (
            format!("<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{ENV}\">"),
            "</SOAP-ENV:Envelope>",
        ),
        (format!("<Envelope xmlns=\"{ENV}\">"), "</Envelope>"),
    ] {
        let p = open
            .trim_start_matches('<')
            .split_once([':', ' '])
            .map(|(p, _)| p)
            .unwrap();
        let p = if p == "Envelope" {
            String::new()
        } else {
            format!("{p}:")
        };
        let xml = format!(
            "{open}<{p}Header><Quota xmlns=\"http://soap.severa.com/\">10</Quota></{p}Header><{p}Body><GetVersionResponse xmlns=\"http://soap.severa.com/\"><GetVersionResult>1.2.3</GetVersionResult></GetVersionResponse></{p}Body>{close}"
        );
        let d: Decoded<String> =
            decode_response(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}: {xml}"));
        assert_eq!(d.outcome, Outcome::Result(Some("1.2.3".into())), "{xml}");
        assert_eq!(d.quota.limit, Some(10));
    }
}

#[test]
fn result_members_in_any_prefix_or_default_namespace() {
    let forms = [
        // `a:` as Severa sends it
        "<a:Name>Paid</a:Name><a:IsPaid>true</a:IsPaid>".to_string(),
        // default namespace instead of a prefix
        format!("<Name xmlns=\"{ENT}\">Paid</Name><IsPaid xmlns=\"{ENT}\">true</IsPaid>"),
        // another prefix declared on the member itself
        format!(
            "<q:Name xmlns:q=\"{ENT}\">Paid</q:Name><z:IsPaid xmlns:z=\"{ENT}\">true</z:IsPaid>"
        ),
    ];
    for members in forms {
        let xml = response("GetX", &members);
        let s: severa::entities::InvoiceStatus = ok(&xml).expect("an entity");
        assert_eq!(s.name.as_deref(), Some("Paid"), "{xml}");
        assert_eq!(s.is_paid, Some(true), "{xml}");
    }
}

#[test]
fn nil_with_any_xsi_prefix_is_none() {
    let xml = response(
        "GetHourEntryByGUID",
        &format!(
            "<a:GUID>g</a:GUID><a:InvoiceGUID i:nil=\"true\"/><a:Quantity xmlns:xsi=\"{XSI}\" xsi:nil=\"true\"></a:Quantity><a:IsBillable xmlns:n=\"{XSI}\" n:nil=\"1\"/><a:Description i:nil=\"false\">kept</a:Description>"
        ),
    );
    let e: HourEntry = ok(&xml).unwrap();
    assert_eq!(e.guid.as_deref(), Some("g"));
    assert_eq!(e.invoice_guid, None);
    assert_eq!(e.quantity, None);
    assert_eq!(e.is_billable, None);
    assert_eq!(e.description.as_deref(), Some("kept"));
    // `nil` in a namespace other than XSI is an ordinary attribute.
    let xml = response(
        "GetHourEntryByGUID",
        "<a:Description xmlns:o=\"urn:other\" o:nil=\"true\">text</a:Description>",
    );
    let e: HourEntry = ok(&xml).unwrap();
    assert_eq!(e.description.as_deref(), Some("text"));
}

#[test]
fn single_nil_result_is_none_and_void_response_is_no_result() {
    let xml = format!(
        "<s:Envelope xmlns:s=\"{ENV}\"><s:Body><GetHourEntryByGUIDResponse xmlns=\"http://soap.severa.com/\"><GetHourEntryByGUIDResult xmlns:i=\"{XSI}\" i:nil=\"true\"/></GetHourEntryByGUIDResponse></s:Body></s:Envelope>"
    );
    let d: Decoded<Option<HourEntry>> = decode_response(xml.as_bytes()).unwrap();
    assert_eq!(d.outcome, Outcome::Result(Some(None)));
    // Void: <OpResponse/> (§2.2) → no result element at all.
    for body in [
        "<SetInvoicePaymentDateResponse xmlns=\"http://soap.severa.com/\"/>",
        "<SetInvoicePaymentDateResponse xmlns=\"http://soap.severa.com/\"></SetInvoicePaymentDateResponse>",
        "<SetInvoicePaymentDateResponse xmlns=\"http://soap.severa.com/\">\n  </SetInvoicePaymentDateResponse>",
    ] {
        let xml = format!("<s:Envelope xmlns:s=\"{ENV}\"><s:Body>{body}</s:Body></s:Envelope>");
        let d: Decoded<Value> = decode_response(xml.as_bytes()).unwrap();
        assert_eq!(d.outcome, Outcome::Result(None), "{body}");
        let d: Decoded<Option<HourEntry>> = decode_response(xml.as_bytes()).unwrap();
        assert_eq!(d.outcome, Outcome::Result(None), "{body}");
    }
}

#[test]
fn empty_list_results_in_every_form() {
    for inner in [
        "<GetAllInvoiceStatusesResult/>".to_string(),
        "<GetAllInvoiceStatusesResult></GetAllInvoiceStatusesResult>".to_string(),
        "<GetAllInvoiceStatusesResult>\n   </GetAllInvoiceStatusesResult>".to_string(),
        format!("<GetAllInvoiceStatusesResult xmlns:x=\"{XSI}\" x:nil=\"true\"/>"),
        format!(
            "<GetAllInvoiceStatusesResult xmlns:i=\"{XSI}\" i:nil=\"true\"></GetAllInvoiceStatusesResult>"
        ),
    ] {
        let xml = format!(
            "<s:Envelope xmlns:s=\"{ENV}\"><s:Body><GetAllInvoiceStatusesResponse xmlns=\"http://soap.severa.com/\">{inner}</GetAllInvoiceStatusesResponse></s:Body></s:Envelope>"
        );
        let v: Vec<InvoiceStatus> = ok(&xml).unwrap_or_default();
        assert!(v.is_empty(), "{inner}");
    }
}

#[test]
fn nil_items_in_lists_are_skipped() {
    let xml = response(
        "GetAllInvoiceStatuses",
        "<a:InvoiceStatus><a:Name>A</a:Name></a:InvoiceStatus><a:InvoiceStatus i:nil=\"true\"/><a:InvoiceStatus><a:Name>B</a:Name></a:InvoiceStatus>",
    );
    let v: Vec<InvoiceStatus> = ok(&xml).unwrap();
    let names: Vec<_> = v.iter().map(|s| s.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["A", "B"]);
}

#[test]
fn unknown_members_and_unknown_nested_content_are_ignored() {
    let xml = response(
        "GetUserByGUID",
        "<a:BrandNew><a:Deep><a:Deeper>x</a:Deeper></a:Deep></a:BrandNew><a:FirstName>Ann</a:FirstName><a:Zzz i:nil=\"true\"/><a:AAA/><a:LastName>Lee</a:LastName><a:Zzz2><x/></a:Zzz2>",
    );
    let u: User = ok(&xml).unwrap();
    assert_eq!(u.first_name.as_deref(), Some("Ann"));
    assert_eq!(u.last_name.as_deref(), Some("Lee"));
    // Members out of declaration order are still read.
    let xml = response(
        "GetUserByGUID",
        "<a:LastName>Lee</a:LastName><a:Email>a@x</a:Email><a:FirstName>Ann</a:FirstName>",
    );
    let u: User = ok(&xml).unwrap();
    assert_eq!(
        (
            u.first_name.as_deref(),
            u.last_name.as_deref(),
            u.email.as_deref()
        ),
        (Some("Ann"), Some("Lee"), Some("a@x"))
    );
}

#[test]
fn nested_lists_contact_communication_methods() {
    let xml = response(
        "GetContactsByAccountGUID",
        r#"<a:Contact>
             <a:AccountGUID>acc</a:AccountGUID>
             <a:CommunicationMethods>
               <a:Contact.CommunicationMethod>
                 <a:IsForbiddenToUse>false</a:IsForbiddenToUse>
                 <a:Name>Work</a:Name>
                 <a:Type>EmailAddress</a:Type>
                 <a:Value>ann@example.com</a:Value>
               </a:Contact.CommunicationMethod>
               <a:Contact.CommunicationMethod>
                 <a:Type>MobilePhone</a:Type>
                 <a:Value>+358 40 1</a:Value>
               </a:Contact.CommunicationMethod>
             </a:CommunicationMethods>
             <a:FirstName>Ann</a:FirstName>
             <a:Keywords xmlns:b="http://schemas.microsoft.com/2003/10/Serialization/Arrays"><b:string>vip</b:string><b:string>fi</b:string></a:Keywords>
           </a:Contact>
           <a:Contact><a:CommunicationMethods/><a:FirstName>Bob</a:FirstName><a:Keywords i:nil="true"/></a:Contact>"#,
    );
    let v: Vec<Contact> = ok(&xml).unwrap();
    assert_eq!(v.len(), 2);
    let methods = v[0].communication_methods.as_ref().unwrap();
    assert_eq!(methods.len(), 2);
    assert_eq!(methods[0].r#type.as_deref(), Some("EmailAddress"));
    assert_eq!(methods[0].is_forbidden_to_use, Some(false));
    assert_eq!(methods[1].value.as_deref(), Some("+358 40 1"));
    assert_eq!(
        v[0].keywords.as_deref(),
        Some(&["vip".to_string(), "fi".into()][..])
    );
    assert_eq!(
        v[0].first_name.as_deref(),
        Some("Ann"),
        "member after a nested list"
    );
    assert_eq!(v[1].communication_methods.as_deref(), Some(&[][..]));
    assert_eq!(v[1].first_name.as_deref(), Some("Bob"));
    // A nil list member reads as an empty list (Vec<T> reads i:nil as empty).
    assert_eq!(
        v[1].keywords.as_deref().unwrap_or_default(),
        &[] as &[String]
    );
}

#[test]
fn nested_lists_invoice_rows() {
    let xml = response(
        "GetInvoiceByGUID",
        r#"<a:AccountName>Acme</a:AccountName>
           <a:GUID>inv-1</a:GUID>
           <a:InvoiceRows>
             <a:InvoiceRow>
               <a:CaseGUIDs xmlns:b="http://schemas.microsoft.com/2003/10/Serialization/Arrays"><b:string>c1</b:string></a:CaseGUIDs>
               <a:GUID>row-1</a:GUID>
               <a:HourGUIDs xmlns:b="http://schemas.microsoft.com/2003/10/Serialization/Arrays"><b:string>h1</b:string><b:string>h2</b:string></a:HourGUIDs>
               <a:articleName>Consulting</a:articleName>
               <a:deliveredQuantity>7.5</a:deliveredQuantity>
               <a:rowAmount>750.00</a:rowAmount>
               <a:rowNumber>1</a:rowNumber>
             </a:InvoiceRow>
             <a:InvoiceRow><a:GUID>row-2</a:GUID><a:rowFreeText>Travel</a:rowFreeText></a:InvoiceRow>
           </a:InvoiceRows>
           <a:InvoiceStatus>Sent</a:InvoiceStatus>
           <a:Number>1001</a:Number>
           <a:PaymentStatus>Open</a:PaymentStatus>"#,
    );
    let inv: Invoice = ok(&xml).unwrap();
    assert_eq!(inv.guid.as_deref(), Some("inv-1"));
    assert_eq!(inv.number, Some(1001));
    let rows = inv.invoice_rows.as_ref().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].case_guids.as_deref(), Some(&["c1".to_string()][..]));
    assert_eq!(
        rows[0].hour_guids.as_deref(),
        Some(&["h1".to_string(), "h2".into()][..])
    );
    assert_eq!(rows[0].delivered_quantity, Some(dec("7.5")));
    assert_eq!(rows[0].row_amount, Some(dec("750")));
    assert_eq!(rows[0].row_number, Some(1));
    assert_eq!(rows[1].row_free_text.as_deref(), Some("Travel"));
    assert_eq!(
        inv.invoice_status.as_deref(),
        Some("Sent"),
        "member after the rows"
    );
    assert_eq!(inv.payment_status.as_deref(), Some("Open"));
}

#[test]
fn every_xs_datetime_form() {
    let cases = [
        ("2024-05-02", "2024-05-02T00:00:00+00:00", true),
        ("2024-05-02T10:11:12", "2024-05-02T10:11:12+00:00", false),
        (
            "2024-05-02T10:11:12.1234567",
            "2024-05-02T10:11:12.123456700+00:00",
            false,
        ),
        ("2024-05-02T10:11:12Z", "2024-05-02T10:11:12+00:00", false),
        (
            "2024-05-02T10:11:12.5Z",
            "2024-05-02T10:11:12.500+00:00",
            false,
        ),
        (
            "2024-05-02T12:11:12+02:00",
            "2024-05-02T10:11:12+00:00",
            false,
        ),
        (
            "2024-05-02T05:11:12.25-05:00",
            "2024-05-02T10:11:12.250+00:00",
            false,
        ),
        (
            "2024-05-02T00:30:00+05:30",
            "2024-05-01T19:00:00+00:00",
            false,
        ),
        (
            "  2024-05-02T10:11:12  ",
            "2024-05-02T10:11:12+00:00",
            false,
        ),
        ("0001-01-01T00:00:00", "0001-01-01T00:00:00+00:00", false),
        (
            "9999-12-31T23:59:59.9999999",
            "9999-12-31T23:59:59.999999900+00:00",
            false,
        ),
    ];
    for (wire, utc, date_only) in cases {
        let xml = response(
            "GetHourEntryByGUID",
            &format!("<a:EventDate>{wire}</a:EventDate>"),
        );
        let e: HourEntry = ok(&xml).unwrap();
        let at = e.event_date.unwrap_or_else(|| panic!("{wire}"));
        assert_eq!(at.to_utc().to_rfc3339(), utc, "{wire}");
        assert_eq!(at.date_only, date_only, "{wire}");
    }
    let e: HourEntry = ok(&response(
        "GetHourEntryByGUID",
        "<a:EventDate>2024-05-02T12:00:00+02:00</a:EventDate>",
    ))
    .unwrap();
    let at = e.event_date.unwrap();
    assert_eq!(at.naive_date().to_string(), "2024-05-02");
    assert_eq!(at.offset.map(|o| o.local_minus_utc()), Some(7200));
    // Empty date → None; a bad date → BadValue naming the member.
    let e: HourEntry = ok(&response("GetHourEntryByGUID", "<a:EventDate/>")).unwrap();
    assert_eq!(e.event_date, None);
    let bad = err::<HourEntry>(
        response(
            "GetHourEntryByGUID",
            "<a:EventDate>2024-02-30</a:EventDate>",
        )
        .as_bytes(),
    );
    assert!(
        matches!(&bad, WireError::BadValue { member, .. } if member == "EventDate"),
        "{bad:?}"
    );
}

#[test]
fn decimals_including_exponent_forms() {
    for (wire, expected) in [
        ("1.5", "1.5"),
        ("0", "0"),
        ("-2.25", "-2.25"),
        ("+3", "3"),
        ("  7.50  ", "7.5"),
        ("1E3", "1000"),
        ("1e3", "1000"),
        ("2.5E-2", "0.025"),
        ("1.5e+2", "150"),
        ("123456789.123456789", "123456789.123456789"),
        (
            "79228162514264337593543950335",
            "79228162514264337593543950335",
        ),
    ] {
        let e: HourEntry = ok(&response(
            "GetHourEntryByGUID",
            &format!("<a:Quantity>{wire}</a:Quantity>"),
        ))
        .unwrap_or_else(|| panic!("{wire}"));
        assert_eq!(
            e.quantity.map(|q| q.normalize().to_string()).as_deref(),
            Some(expected),
            "{wire}"
        );
    }
}

#[test]
fn booleans_true_false_one_zero() {
    for (wire, expected) in [
        ("true", true),
        ("false", false),
        ("1", true),
        ("0", false),
        (" true ", true),
    ] {
        let e: HourEntry = ok(&response(
            "GetHourEntryByGUID",
            &format!("<a:IsBillable>{wire}</a:IsBillable>"),
        ))
        .unwrap();
        assert_eq!(e.is_billable, Some(expected), "{wire}");
    }
    for bad in ["yes", "True", "2"] {
        let e = err::<HourEntry>(
            response(
                "GetHourEntryByGUID",
                &format!("<a:IsBillable>{bad}</a:IsBillable>"),
            )
            .as_bytes(),
        );
        assert!(
            matches!(&e, WireError::BadValue { member, value, .. } if member == "IsBillable" && value == bad),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn bad_numbers_name_the_member() {
    let e = err::<Vec<HourEntry>>(
        response(
            "GetHourEntriesByCaseGUID",
            "<a:HourEntry><a:GUID>x</a:GUID><a:Quantity>1,5</a:Quantity></a:HourEntry>",
        )
        .as_bytes(),
    );
    match &e {
        WireError::BadValue {
            member,
            value,
            expected,
        } => {
            assert_eq!(member, "Quantity");
            assert_eq!(value, "1,5");
            assert!(expected.contains("decimal"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("Quantity") && msg.contains("1,5"), "{msg}");
    // Integer overflow (Account.Number is a long, PaymentTerm an int) and non-integers.
    for (member, bad) in [
        ("Number", "9223372036854775808"),
        ("PaymentTerm", "2147483648"),
        ("Number", "1.0"),
        ("Number", "abc"),
    ] {
        let e = err::<Account>(
            response(
                "GetAccountByGUID",
                &format!("<a:{member}>{bad}</a:{member}>"),
            )
            .as_bytes(),
        );
        assert!(
            matches!(&e, WireError::BadValue { member: m, .. } if m == member),
            "{bad}: {e:?}"
        );
    }
    // A bad value deep in a nested list names the innermost member.
    let e = err::<Invoice>(
        response(
            "GetInvoiceByGUID",
            "<a:InvoiceRows><a:InvoiceRow><a:rowAmount>ten</a:rowAmount></a:InvoiceRow></a:InvoiceRows>",
        )
        .as_bytes(),
    );
    assert!(
        matches!(&e, WireError::BadValue { member, .. } if member == "rowAmount"),
        "{e:?}"
    );
}

#[test]
fn cdata_references_comments_and_pis() {
    let xml = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<!-- leading comment -->
<?pi before?>
<s:Envelope xmlns:s="{ENV}"><!-- c --><?pi x?>
  <s:Body><!-- c -->
    <GetHourEntryByGUIDResponse xmlns="http://soap.severa.com/"><?pi y?>
      <GetHourEntryByGUIDResult xmlns:a="{ENT}"><!-- c -->
        <a:Description><![CDATA[<b>bold</b> & ]]>more &#65;&#x42;&amp;&lt;&gt;&quot;&apos;&#xD;&#10;end</a:Description>
        <!-- between members --><?pi z?>
        <a:GUID>g<!-- inside text -->1</a:GUID>
        <a:TaskGUID>Äänekoski ✓ 😀</a:TaskGUID>
      </GetHourEntryByGUIDResult>
    </GetHourEntryByGUIDResponse>
  </s:Body>
</s:Envelope>
<!-- trailing comment -->
"#
    );
    let e: HourEntry = ok(&xml).unwrap();
    assert_eq!(
        e.description.as_deref(),
        Some("<b>bold</b> & more AB&<>\"'\r\nend")
    );
    assert_eq!(e.guid.as_deref(), Some("g1"));
    assert_eq!(e.task_guid.as_deref(), Some("Äänekoski ✓ 😀"));
}

#[test]
fn text_whitespace_is_kept_and_line_ends_normalised() {
    let e: HourEntry = ok(&response(
        "GetHourEntryByGUID",
        "<a:Description>  two\r\nlines\ttab  </a:Description>",
    ))
    .unwrap();
    // A literal CR LF is a line end (XML 1.0 §2.11); a CR by reference is kept.
    assert_eq!(e.description.as_deref(), Some("  two\nlines\ttab  "));
}

#[test]
fn fault_of_every_detail_type() {
    for kind in FaultKind::ALL {
        let detail = kind.detail_name();
        let xml = format!(
            r#"<s:Envelope xmlns:s="{ENV}"><s:Header><Quota xmlns="http://soap.severa.com/">100000</Quota><UsedQuota xmlns="http://soap.severa.com/">99</UsedQuota></s:Header><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring xml:lang="en-US">Reason for {detail}</faultstring><detail><{detail} xmlns="http://schemas.datacontract.org/2004/07/Severa.API" xmlns:i="{XSI}"><Description>Described {detail}</Description><Source i:nil="true"/></{detail}></detail></s:Fault></s:Body></s:Envelope>"#
        );
        let (f, quota) = fault(&xml);
        assert_eq!(f.kind, kind);
        assert_eq!(f.detail_type.as_deref(), Some(detail));
        assert_eq!(f.code, "s:Client");
        assert_eq!(f.message, format!("Reason for {detail}"));
        assert_eq!(
            f.description.as_deref(),
            Some(&*format!("Described {detail}"))
        );
        assert_eq!((quota.limit, quota.used), (Some(100000), Some(99)));
        // Typed decoding of a fault works too (the result type does not matter).
        let d: Decoded<Vec<HourEntry>> = decode_response(xml.as_bytes()).unwrap();
        assert!(matches!(d.outcome, Outcome::Fault(ref f) if f.kind == kind));
    }
}

#[test]
fn unknown_fault_detail_is_general_failure_keeping_the_name() {
    let xml = format!(
        r#"<soap:Envelope xmlns:soap="{ENV}"><soap:Body><soap:Fault><faultcode xmlns:a="urn:x">a:InternalServiceFault</faultcode><faultstring>Object reference not set</faultstring><detail><ExceptionDetail xmlns="http://schemas.datacontract.org/2004/07/System.ServiceModel"><HelpLink/><Message>inner</Message></ExceptionDetail></detail></soap:Fault></soap:Body></soap:Envelope>"#
    );
    let (f, quota) = fault(&xml);
    assert_eq!(f.kind, FaultKind::GeneralFailure);
    assert_eq!(f.detail_type.as_deref(), Some("ExceptionDetail"));
    assert_eq!(f.message, "Object reference not set");
    assert_eq!(f.description, None);
    assert!(!quota.is_known());
    // No detail at all.
    let xml = format!(
        r#"<s:Envelope xmlns:s="{ENV}"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>boom</faultstring></s:Fault></s:Body></s:Envelope>"#
    );
    let (f, _) = fault(&xml);
    assert_eq!(
        (f.kind, f.detail_type.as_deref(), f.code.as_str()),
        (FaultKind::GeneralFailure, None, "s:Server")
    );
    assert_eq!(f.text(), "boom");
    // Description only (empty faultstring): text() falls back to it.
    let xml = format!(
        r#"<s:Envelope xmlns:s="{ENV}"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring/><detail><ValidationException xmlns="http://schemas.datacontract.org/2004/07/Severa.API"><Description>Quantity max 999</Description></ValidationException></detail></s:Fault></s:Body></s:Envelope>"#
    );
    let (f, _) = fault(&xml);
    assert_eq!(f.kind, FaultKind::Validation);
    assert_eq!(f.text(), "Quantity max 999");
}

#[test]
fn quota_headers_read_on_results() {
    let xml = format!(
        r#"<s:Envelope xmlns:s="{ENV}"><s:Header><h:Quota xmlns:h="http://soap.severa.com/"> 100000 </h:Quota><Other xmlns="urn:x"><Nested/></Other><UsedQuota xmlns="http://soap.severa.com/">5</UsedQuota></s:Header><s:Body><GetVersionResponse xmlns="http://soap.severa.com/"><GetVersionResult>v</GetVersionResult></GetVersionResponse></s:Body></s:Envelope>"#
    );
    let d: Decoded<String> = decode_response(xml.as_bytes()).unwrap();
    assert_eq!((d.quota.limit, d.quota.used), (Some(100000), Some(5)));
    assert_eq!(d.quota.used_share(), Some(0.00005));
    // No header → unknown; unparsable header values are ignored, not fatal.
    let xml = response("GetVersion", "v");
    let d: Decoded<String> = decode_response(xml.as_bytes()).unwrap();
    assert!(!d.quota.is_known());
    let xml = format!(
        r#"<s:Envelope xmlns:s="{ENV}"><s:Header><Quota xmlns="http://soap.severa.com/">lots</Quota></s:Header><s:Body><GetVersionResponse xmlns="http://soap.severa.com/"><GetVersionResult>v</GetVersionResult></GetVersionResponse></s:Body></s:Envelope>"#
    );
    let d: Decoded<String> = decode_response(xml.as_bytes()).unwrap();
    assert_eq!(d.quota.limit, None);
    assert_eq!(d.outcome, Outcome::Result(Some("v".into())));
}

#[test]
fn broken_input_maps_to_the_right_wire_error() {
    let valid = response("GetHourEntryByGUID", "<a:GUID>g</a:GUID>");
    // Truncated: the stream ends inside the document.
    for cut in [1, 10, valid.len() / 2, valid.len() - 1, valid.len() - 5] {
        let e = err::<Value>(&valid.as_bytes()[..cut]);
        assert_eq!(e, WireError::Truncated, "cut at {cut}: {:?}", &valid[..cut]);
    }
    assert_eq!(err::<Value>(b""), WireError::Truncated);
    assert_eq!(err::<Value>(b"   \n"), WireError::Truncated);
    // Xml: not well-formed.
    for bad in [
        format!("<s:Envelope xmlns:s=\"{ENV}\"><s:Body></s:Bdy></s:Envelope>"),
        format!("{}<second/>", response("GetVersion", "v")),
        response("GetVersion", "&bogus;"),
    ] {
        let e = err::<Value>(bad.as_bytes());
        assert!(matches!(e, WireError::Xml(_)), "{bad}: {e:?}");
    }
    // NotSoap: well-formed but not an envelope.
    for bad in [
        "<html><head><title>Service break</title></head><body>back soon</body></html>".to_string(),
        "<?xml version=\"1.0\"?><Envelope><Body/></Envelope>".to_string(),
        format!("<s:Envelope xmlns:s=\"{ENV}\"><s:Header/></s:Envelope>"),
        format!("<s:Envelope xmlns:s=\"{ENV}\"><s:Body/></s:Envelope>"),
        format!("<s:Body xmlns:s=\"{ENV}\"/>"),
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body/></s:Envelope>"
            .to_string(),
    ] {
        let e = err::<Value>(bad.as_bytes());
        assert!(matches!(e, WireError::NotSoap(_)), "{bad}: {e:?}");
    }
    // HTML that is not even well-formed XML is still "not SOAP" (the root tells).
    let e = err::<Value>(
        b"<!DOCTYPE html><html><head><title>503</title></head><body><br></body></html>",
    );
    assert!(matches!(e, WireError::NotSoap(_)), "{e:?}");
}

#[test]
fn plain_text_garbage_is_not_reported_as_truncated() {
    // A body of text without any element is not an envelope that "ended early": it must not be
    // classified as Truncated (the transport would call it a broken-off download).
    for garbage in [
        &b"Internal error, please retry"[..],
        b"{\"error\":\"nope\"}",
        b"\x00\x01\x02garbage",
    ] {
        let e = err::<Value>(garbage);
        assert!(
            matches!(e, WireError::NotSoap(_) | WireError::Xml(_)),
            "{:?}: {e:?}",
            String::from_utf8_lossy(garbage)
        );
    }
}

#[test]
fn non_utf8_bytes_are_an_error_not_a_panic() {
    let mut xml = response("GetVersion", "XX").into_bytes();
    let at = xml.windows(2).position(|w| w == b"XX").unwrap();
    xml[at] = 0xFF;
    xml[at + 1] = 0xFE;
    let r = decode_response::<_, String>(&xml[..]);
    // Either rejected, or decoded lossily; never a panic.
    if let Ok(d) = r {
        assert!(matches!(d.outcome, Outcome::Result(_)));
    }
}

// ---------------------------------------------------------------------------------------------
// Generic tree

#[test]
fn value_tree_from_a_list_response() {
    let d: Decoded<Value> = decode_response(LIST.as_bytes()).unwrap();
    let Outcome::Result(Some(v)) = d.outcome else {
        panic!()
    };
    let Value::Element(items) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].0, "HourEntry");
    let first = &items[0].1;
    assert_eq!(first.get("GUID").and_then(Value::as_text), Some("he-1"));
    assert_eq!(first.get("InvoiceGUID"), Some(&Value::Nil));
    assert_eq!(
        first.get("Description").and_then(Value::as_text),
        Some("Fish & chips <3 \r")
    );
    assert_eq!(first.get("Missing"), None);
    let json = v.to_json(true);
    assert_eq!(json[0]["GUID"], "he-1");
    assert_eq!(json[0]["InvoiceGUID"], serde_json::Value::Null);
    assert_eq!(json[0]["SomethingNew"], "ignored");
    assert_eq!(json[1]["Quantity"], "2");
    assert_eq!(json.as_array().unwrap().len(), 2);
}

#[test]
fn value_to_json_shapes() {
    let tree = |inner: &str| -> Value {
        let xml = response("GetX", inner);
        ok::<Value>(&xml).unwrap()
    };
    // Scalar result
    assert_eq!(tree("3.1.0").to_json(false), serde_json::json!("3.1.0"));
    // Empty result as a list, and as a single value
    assert_eq!(tree("").to_json(true), serde_json::json!([]));
    assert_eq!(tree("").to_json(false), serde_json::json!(""));
    // Single entity with a string array, a nested entity list and a nil member
    let v = tree(
        r#"<a:AccountGroupGUIDs xmlns:b="http://schemas.microsoft.com/2003/10/Serialization/Arrays"><b:string>g1</b:string></a:AccountGroupGUIDs><a:CommunicationMethods><a:Contact.CommunicationMethod><a:Type>Phone</a:Type></a:Contact.CommunicationMethod></a:CommunicationMethods><a:Empty/><a:GUID>x</a:GUID><a:Keywords xmlns:b="http://schemas.microsoft.com/2003/10/Serialization/Arrays"><b:string>k1</b:string><b:string>k2</b:string></a:Keywords><a:Notes i:nil="true"/>"#,
    );
    assert_eq!(
        v.to_json(false),
        serde_json::json!({
            "AccountGroupGUIDs": ["g1"],
            "CommunicationMethods": [{"Type": "Phone"}],
            "Empty": "",
            "GUID": "x",
            "Keywords": ["k1", "k2"],
            "Notes": null,
        })
    );
    // A list with one entity is still a list
    let v = tree("<a:Case><a:GUID>c1</a:GUID><a:Name>N</a:Name></a:Case>");
    assert_eq!(
        v.to_json(false),
        serde_json::json!([{"GUID": "c1", "Name": "N"}])
    );
    assert_eq!(
        v.to_json(true),
        serde_json::json!([{"GUID": "c1", "Name": "N"}])
    );
    // A nil result
    let xml = format!(
        "<s:Envelope xmlns:s=\"{ENV}\"><s:Body><GetXResponse xmlns=\"http://soap.severa.com/\"><GetXResult xmlns:i=\"{XSI}\" i:nil=\"true\"/></GetXResponse></s:Body></s:Envelope>"
    );
    let v = ok::<Value>(&xml).unwrap();
    assert_eq!(v, Value::Nil);
    assert_eq!(v.to_json(false), serde_json::Value::Null);
    assert_eq!(v.to_json(true), serde_json::json!([]));
}

#[test]
fn wire_datetime_converts_from_chrono() {
    let d = chrono::NaiveDate::from_ymd_opt(2024, 5, 2).unwrap();
    assert_eq!(WireDateTime::from(d).to_string(), "2024-05-02");
    let at = chrono::DateTime::parse_from_rfc3339("2024-05-02T10:11:12Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(WireDateTime::from(at).to_string(), "2024-05-02T10:11:12Z");
    assert_eq!(
        serde_json::to_value(WireDateTime::from(at)).unwrap(),
        serde_json::json!("2024-05-02T10:11:12Z")
    );
}

#[test]
fn elements_nested_50_000_deep_are_an_error_not_a_stack_overflow() {
    let depth = 50_000;
    let inner = format!("{}x{}", "<a:n>".repeat(depth), "</a:n>".repeat(depth));
    // A void operation's result is read as a generic tree (the recursive path).
    let xml = response("GetVersion", &inner);
    match decode_response::<_, Value>(xml.as_bytes()) {
        Err(WireError::NotSoap(message)) => {
            assert!(message.contains("nested deeper than 256"), "{message}")
        }
        other => panic!("expected a nesting error, got {:?}", other.map(|d| d.quota)),
    }
    // Ordinary depth is fine.
    let shallow = format!("{}x{}", "<a:n>".repeat(100), "</a:n>".repeat(100));
    assert!(decode_response::<_, Value>(response("GetVersion", &shallow).as_bytes()).is_ok());
}

/// Fuzzing finding 7 (FUZZING.md): a body that is not UTF-8 and breaks off inside an unclosed
/// `<!DOCTYPE` is refused whether it arrives whole or a few bytes at a time; quick-xml names a
/// different reason (the cut-off whole, the invalid byte in pieces), so only the refusal is
/// asserted, plus that a well-formed answer decodes the same both ways.
#[test]
fn broken_bodies_are_refused_however_they_arrive() {
    let body: &[u8] = b"<!DOCTYPE html[<html>\xff\xfe<s:Envelope xmlns:s=\"x\"><s:Body>";
    let whole = decode_response::<_, Value>(body);
    let pieces = decode_response::<_, Value>(std::io::BufReader::with_capacity(3, body));
    assert!(whole.is_err(), "{whole:?}");
    assert!(pieces.is_err(), "{pieces:?}");
    let list = decode_response::<_, Vec<HourEntry>>(LIST.as_bytes()).unwrap();
    let trickled =
        decode_response::<_, Vec<HourEntry>>(std::io::BufReader::with_capacity(3, LIST.as_bytes()))
            .unwrap();
    assert_eq!(list, trickled);
}
