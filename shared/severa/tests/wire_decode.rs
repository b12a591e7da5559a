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
