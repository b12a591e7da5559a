//! Property tests: text round-trips through request envelopes; the decoder never panics.

use proptest::prelude::*;
use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use severa::entities::HourEntry;
use severa::wire::{FromWire, XmlIn, decode_response, request_envelope};
use severa::{ApiKey, Param, Value};

/// Any character XML 1.0 can carry, weighted towards the tricky ones.
fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '\r', '\n', '\t', ' ', '&', '<', '>', '"', '\'', ']', ';', '#', 'x', 'D', '\u{85}',
            '\u{2028}', 'ä', '€', '😀', '\u{FFFD}', '\u{E000}', '\u{10FFFF}',
        ]),
        2 => prop::char::range(' ', '~'),
        1 => prop::char::range('\u{A0}', '\u{D7FF}'),
        1 => prop::char::range('\u{E000}', '\u{FFFD}'),
        1 => prop::char::range('\u{10000}', '\u{10FFFF}'),
    ]
}

fn xml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(xml_char(), 0..40).prop_map(|v| v.into_iter().collect()),
        // Concatenations of known troublemakers.
        prop::collection::vec(
            prop::sample::select(vec![
                "]]>",
                "\r\n",
                "\r",
                "&amp;",
                "&#xD;",
                "<![CDATA[",
                "-->",
                "  ",
                "\t",
                "&",
                "<",
                "a",
            ]),
            0..12
        )
        .prop_map(|v| v.concat()),
    ]
}

/// The Description member read back with plain quick_xml (independent of the crate's reader).
fn description_via_quick_xml(xml: &str) -> Option<String> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().expect("the envelope is well-formed") {
            Event::Start(s) if s.local_name().as_ref() == "Description" => inside = true,
            Event::Empty(s) if s.local_name().as_ref() == "Description" => {
                return Some(String::new());
            }
            Event::End(e) if e.local_name().as_ref() == "Description" => return Some(text),
            Event::Text(t) if inside => text.push_str(&t.xml10_content()),
            Event::CData(t) if inside => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside => match r.resolve_char_ref().expect("char ref") {
                Some(c) => text.push(c),
                None => text.push_str(resolve_predefined_entity(&r.xml10_content()).unwrap()),
            },
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// `t:hourEntryInfo` decoded with the crate's own reader.
fn hour_entry_info(xml: &str) -> HourEntry {
    let mut r = XmlIn::new(xml.as_bytes());
    r.root().unwrap();
    while r.next_child().unwrap().is_some() {
        if r.name() != b"Body" {
            r.skip().unwrap();
            continue;
        }
        r.next_child().unwrap().unwrap(); // <t:AddNewHourEntry>
        let child = r.next_child().unwrap().unwrap(); // <t:hourEntryInfo>
        assert_eq!(r.name(), b"hourEntryInfo");
        return HourEntry::from_wire(&mut r, child).unwrap();
    }
    panic!("no body")
}

fn valid_envelopes() -> Vec<String> {
    let entries = (0..3)
        .map(|i| {
            format!(
                "<a:HourEntry><a:Description>d{i} &amp; <![CDATA[x]]></a:Description><a:EventDate>2024-05-0{i}T10:00:00Z</a:EventDate><a:GUID>g{i}</a:GUID><a:InvoiceGUID i:nil=\"true\"/><a:IsBillable>true</a:IsBillable><a:Quantity>1.5</a:Quantity></a:HourEntry>",
                i = i + 1
            )
        })
        .collect::<String>();
    vec![
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><Quota xmlns=\"http://soap.severa.com/\">100000</Quota><UsedQuota xmlns=\"http://soap.severa.com/\">42</UsedQuota></s:Header><s:Body><GetHourEntriesByCaseGUIDResponse xmlns=\"http://soap.severa.com/\"><GetHourEntriesByCaseGUIDResult xmlns:a=\"http://schemas.datacontract.org/2004/07/Severa.Entities.API\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">{entries}</GetHourEntriesByCaseGUIDResult></GetHourEntriesByCaseGUIDResponse></s:Body></s:Envelope>"
        ),
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring xml:lang=\"en-US\">Quota limit reached</faultstring><detail><QuotaLimitExceededException xmlns=\"http://schemas.datacontract.org/2004/07/Severa.API\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"><Description>Quota limit</Description><Source i:nil=\"true\"/></QuotaLimitExceededException></detail></s:Fault></s:Body></s:Envelope>".to_string(),
    ]
}

fn decode_both(bytes: &[u8]) {
    let _ = decode_response::<_, Vec<HourEntry>>(bytes);
    let _ = decode_response::<_, Value>(bytes);
    let _ = decode_response::<_, Option<HourEntry>>(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn description_round_trips_through_the_envelope(text in xml_text()) {
        let entry = HourEntry { description: Some(text.clone()), ..Default::default() };
        let param = Param::new("hourEntryInfo", &entry).expect("XML-allowed text is accepted");
        let xml = request_envelope("AddNewHourEntry", &ApiKey::new("k"), &[param]).unwrap();
        let plain = description_via_quick_xml(&xml);
        prop_assert_eq!(plain.as_deref(), Some(text.as_str()));
        let typed = hour_entry_info(&xml);
        prop_assert_eq!(typed.description.as_deref(), Some(text.as_str()));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_both(&bytes);
    }

    #[test]
    fn never_panics_on_xmlish_noise(parts in prop::collection::vec(prop::sample::select(vec![
        "<", ">", "/", "</", "/>", "a:", "s:", "Envelope", "Body", "Fault", "detail", "Result",
        " xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"", " i:nil=\"true\"",
        " xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"", "&amp;", "&#", "&", ";",
        "<![CDATA[", "]]>", "<!--", "-->", "<?", "?>", "x", " ", "\"", "=", "HourEntry",
        "Quantity", "1e999999", "EventDate", "2024-02-30", "\u{FFFF}",
    ]), 0..64)) {
        decode_both(parts.concat().as_bytes());
    }

    #[test]
    fn never_panics_on_truncated_envelopes(which in 0usize..2, cut in any::<prop::sample::Index>()) {
        let envs = valid_envelopes();
        let valid = &envs[which];
        let at = cut.index(valid.len());
        decode_both(&valid.as_bytes()[..at]);
    }

    #[test]
    fn never_panics_on_mutated_envelopes(
        which in 0usize..2,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = valid_envelopes()[which].clone().into_bytes();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        decode_both(&bytes);
    }
}

#[test]
fn unmutated_envelopes_decode() {
    let envs = valid_envelopes();
    let d = decode_response::<_, Vec<HourEntry>>(envs[0].as_bytes()).unwrap();
    match d.outcome {
        severa::wire::Outcome::Result(Some(v)) => assert_eq!(v.len(), 3),
        other => panic!("{other:?}"),
    }
    assert!(decode_response::<_, Value>(envs[1].as_bytes()).is_ok());
}
