//! `KEY=VALUE` files: the functions' environment (`cargo lambda watch --env-file`) and the
//! endpoints of a running stack (`.run/dev/endpoints.env`, also `source`-able from a shell).

use crate::error::{Context as _, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Writes `pairs` after a `#` comment header; creates the parent directory.
pub fn write(path: &Path, header: &str, pairs: &[(&str, String)]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let mut text = String::new();
    for line in header.lines() {
        text.push_str("# ");
        text.push_str(line);
        text.push('\n');
    }
    for (key, value) in pairs {
        text.push_str(key);
        text.push('=');
        text.push_str(value);
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a file written by [`write`] (blank lines and `#` comments skipped).
pub fn read(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {} (is the stack running? `devstack dev` writes it)",
            path.display()
        )
    })?;
    Ok(parse(&text))
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_skips_comments() {
        let dir = std::env::temp_dir().join(format!("devstack-env-{}", std::process::id()));
        let path = dir.join("x.env");
        write(
            &path,
            "written by a test\nsecond line",
            &[("A", "1".into()), ("URL", "http://h/p?q=1".into())],
        )
        .unwrap();
        let read = read(&path).unwrap();
        assert_eq!(read["A"], "1");
        assert_eq!(read["URL"], "http://h/p?q=1");
        assert_eq!(read.len(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
