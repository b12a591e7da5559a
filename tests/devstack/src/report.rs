//! Terminal output: progress lines and the ✔/✘ lines of the report.

use std::io::IsTerminal as _;

fn styled(code: &str, text: &str) -> String {
    if std::io::stdout().is_terminal() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn heading(text: &str) {
    println!("\n{}", styled("1", &format!("== {text}")));
}

pub fn progress(text: &str) {
    println!("  {text}");
}

pub fn pass(text: &str) -> String {
    format!("{} {text}", styled("32", "✔"))
}

pub fn fail(text: &str) -> String {
    format!("{} {text}", styled("31", "✘"))
}

/// At most `max` characters of `text` (on one line), with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    let flat = text.replace(['\n', '\r'], " ");
    match flat.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
