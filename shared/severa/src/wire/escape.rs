//! XML text escaping for values written into requests.

/// The first character XML 1.0 cannot carry at all (not even as a character reference).
pub fn invalid_xml_char(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    })
}

/// Appends `text` escaped for element content or an attribute value. `\r` becomes `&#xD;` so a
/// parser's end-of-line normalisation cannot turn it into `\n`; tabs and newlines in attribute
/// values are kept by character reference for the same reason.
/// The caller checks [`invalid_xml_char`] first; such characters are dropped here.
pub fn escape_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(pos) = rest
        .find(|c: char| matches!(c, '&' | '<' | '>' | '"' | '\'' | '\r') || invalid_xml_char_c(c))
    {
        out.push_str(&rest[..pos]);
        let c = rest[pos..].chars().next().unwrap_or('\0');
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            _ => {}
        }
        rest = &rest[pos + c.len_utf8()..];
    }
    out.push_str(rest);
}

fn invalid_xml_char_c(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_carriage_returns() {
        let mut out = String::new();
        escape_text(&mut out, "a<b>&\"c'\r\nd");
        assert_eq!(out, "a&lt;b&gt;&amp;&quot;c&apos;&#xD;\nd");
    }

    #[test]
    fn finds_characters_xml_cannot_carry() {
        assert_eq!(invalid_xml_char("ok\tfine\n"), None);
        assert_eq!(invalid_xml_char("bad\u{1}"), Some('\u{1}'));
        assert_eq!(invalid_xml_char("bad\u{FFFE}"), Some('\u{FFFE}'));
    }
}
