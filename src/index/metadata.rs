//! Core metadata parsing (`METADATA` / `PKG-INFO`, RFC 822 style headers with continuation
//! lines) into [`CoreMetadata`]: `Name`, `Version`, `Requires-Dist`, `Requires-Python`,
//! `Provides-Extra`.
//!
//! Pure: no I/O. Parsing stops at the body (the first blank line). Old releases carry
//! `Requires-Dist` lines that PEP 508 rejects; those are skipped with a warning rather than
//! failing the whole distribution.

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName};

use super::{CoreMetadata, IndexError};

/// Parse core metadata. `file` names the source (a wheel URL or file name) in errors and logs.
pub fn parse_metadata(bytes: &[u8], file: &str) -> Result<CoreMetadata, IndexError> {
    let _parsing = crate::spent::timer(crate::spent::Work::Parsing);
    let text = String::from_utf8_lossy(bytes);
    let bad = |reason: String| IndexError::BadMetadata {
        file: file.to_string(),
        reason,
    };

    let mut name = None;
    let mut version = None;
    let mut requires_dist = Vec::new();
    let mut requires_python = None;
    let mut provides_extra = Vec::new();

    for (line_no, key, value) in headers(&text) {
        match key.to_ascii_lowercase().as_str() {
            "name" => {
                let parsed = PackageName::from_str(value.trim())
                    .map_err(|e| bad(format!("line {line_no}: invalid Name `{value}`: {e}")))?;
                name = Some(parsed);
            }
            "version" => {
                let parsed = Version::from_str(value.trim())
                    .map_err(|e| bad(format!("line {line_no}: invalid Version `{value}`: {e}")))?;
                version = Some(parsed);
            }
            "requires-dist" => match crate::requirement::parse(value.trim()) {
                Ok(req) => requires_dist.push(req),
                Err(err) => {
                    tracing::warn!(file, line = line_no, value, %err, "skipping an invalid Requires-Dist");
                }
            },
            "requires-python" => {
                let value = value.trim();
                if !value.is_empty() {
                    match VersionSpecifiers::from_str(value) {
                        Ok(spec) => requires_python = Some(spec),
                        Err(err) => {
                            tracing::warn!(file, line = line_no, value, %err, "skipping an invalid Requires-Python");
                        }
                    }
                }
            }
            "provides-extra" => match ExtraName::from_str(value.trim()) {
                Ok(extra) => provides_extra.push(extra),
                Err(err) => {
                    tracing::warn!(file, line = line_no, value, %err, "skipping an invalid Provides-Extra");
                }
            },
            _ => {}
        }
    }

    Ok(CoreMetadata {
        name: name.ok_or_else(|| bad("no `Name` field".to_string()))?,
        version: version.ok_or_else(|| bad("no `Version` field".to_string()))?,
        requires_dist,
        requires_python,
        provides_extra,
    })
}

/// The values of every header field named `key` (case-insensitive), in order, as written:
/// for the fields [`parse_metadata`] leaves out (`Metadata-Version`, `Dynamic`) and for a
/// strict reading of those it skips when invalid.
pub(crate) fn field_values(bytes: &[u8], key: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    headers(&text)
        .into_iter()
        .filter(|(_, k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, _, value)| value)
        .collect()
}

/// The header fields before the first blank line, as `(line number of the key, key, value)`
/// with continuation lines (starting with a space or tab) folded into the value.
fn headers(text: &str) -> Vec<(usize, &str, String)> {
    let mut fields: Vec<(usize, &str, String)> = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Only a truly empty line ends the headers: a line of spaces is a continuation (as
        // in Python's email parser), e.g. inside a multi-line `License` field.
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, _, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        match line.split_once(':') {
            Some((key, value)) => fields.push((idx + 1, key.trim(), value.trim().to_string())),
            None => tracing::debug!(line = idx + 1, "ignoring a metadata line without `:`"),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Regression: jupyterlab 4.6.6 and matplotlib 3.11 have a `License` field whose
    /// continuation lines include whitespace-only lines; taking one for the end of the headers
    /// dropped every `Requires-Dist` after it, and their dependencies vanished from locks.
    #[test]
    fn whitespace_only_continuation_lines_do_not_end_the_headers() {
        let text = "Metadata-Version: 2.5\nName: jupyterlab\nVersion: 4.6.6\n\
            License: Copyright (c) 2015\n        All rights reserved.\n        \n        \
            Redistribution is permitted.\nRequires-Python: >=3.10\nRequires-Dist: httpx>=0.25\n\
            Requires-Dist: jinja2>=3.0.3\n\nBody: not a header\n";
        let meta = parse_metadata(text.as_bytes(), "jupyterlab.whl").unwrap();
        let reqs: Vec<String> = meta
            .requires_dist
            .iter()
            .map(|r| r.name.to_string())
            .collect();
        assert_eq!(reqs, ["httpx", "jinja2"]);
        assert_eq!(meta.requires_python.unwrap().to_string(), ">=3.10");
    }

    #[test]
    fn parses_fields_and_skips_bad_requirements() {
        let text = "Metadata-Version: 2.1\r\nName: Foo_Bar\r\nVersion: 1.0.post1\r\n\
            Requires-Python: >=3.8\r\nRequires-Dist: numpy (>=1.20)\r\n\
            Requires-Dist: requests[socks] >=2; extra == 'net'\r\n\
            Requires-Dist: bad requirement ===\r\nRequires-Dist: typing-extensions;\r\n \
            python_version < \"3.10\"\r\nProvides-Extra: net\r\n\r\nRequires-Dist: body-only\r\n";
        let meta = parse_metadata(text.as_bytes(), "foo.whl").unwrap();
        assert_eq!(meta.name.as_ref(), "foo-bar");
        assert_eq!(meta.version.to_string(), "1.0.post1");
        assert_eq!(meta.requires_python.unwrap().to_string(), ">=3.8");
        let reqs: Vec<_> = meta
            .requires_dist
            .iter()
            .map(|r| r.name.to_string())
            .collect();
        assert_eq!(reqs, ["numpy", "requests", "typing-extensions"]);
        assert!(
            meta.requires_dist[2].marker.try_to_string().is_some(),
            "continuation folded"
        );
        assert_eq!(meta.provides_extra.len(), 1);
    }

    #[test]
    fn missing_name_or_version_names_the_file() {
        let err = parse_metadata(b"Name: foo\n", "foo-1.0-py3-none-any.whl").unwrap_err();
        assert!(
            err.to_string().contains("foo-1.0-py3-none-any.whl"),
            "{err}"
        );
        assert!(err.to_string().contains("Version"), "{err}");
        assert!(parse_metadata(b"Version: 1.0\n", "x").is_err());
        // The body does not count.
        assert!(parse_metadata(b"Name: foo\n\nVersion: 1.0\n", "x").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..500)) {
            let _ = parse_metadata(&bytes, "fuzz");
        }

        #[test]
        fn name_and_version_round_trip(
            name in "[a-zA-Z][a-zA-Z0-9]{0,10}([-_.][a-zA-Z0-9]{1,5}){0,2}",
            major in 0u64..100, minor in 0u64..100,
            extras in proptest::collection::vec("[a-z]{1,8}", 0..4),
        ) {
            let mut text = format!("Metadata-Version: 2.3\nName: {name}\nVersion: {major}.{minor}\n");
            for extra in &extras {
                text.push_str(&format!("Provides-Extra: {extra}\nRequires-Dist: dep-{extra}; extra == \"{extra}\"\n"));
            }
            text.push_str("\nbody text: ignored\n");
            let meta = parse_metadata(text.as_bytes(), "p").unwrap();
            prop_assert_eq!(meta.name, PackageName::from_str(&name).unwrap());
            prop_assert_eq!(meta.version, Version::new([major, minor]));
            prop_assert_eq!(meta.provides_extra.len(), extras.len());
            prop_assert_eq!(meta.requires_dist.len(), extras.len());
        }
    }
}
