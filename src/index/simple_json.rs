//! PEP 691 JSON simple pages, written straight into the cache encoding and grouped by version
//! ([`encode_json_groups`]), which is what a fetch does: a page of thousands of files costs a
//! few string copies per file, and only the versions the resolver looks at are ever decoded.
//! Tests check it against `parse_json`, which builds every file.
//!
//! Both read the page into the same borrowed entries: file names, URLs and hashes stay slices
//! of the body. A file entry of the wrong shape is skipped (logged), not fatal; a body that is
//! not a JSON object with `files` is an error naming the page.

use std::borrow::Cow;

use pep508_rs::PackageName;
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::{FileFacts, FileLines, VersionRanges, normalize_sha256};
#[cfg(test)]
use super::{make_file, parse_requires_python, upload_time};
use crate::http::redact::{redact_text, redacted, without_credentials};
#[cfg(test)]
use crate::index::DistFile;
use crate::index::{CoreMetadataRef, IndexError};

/// A page: only its files are read. Each entry is kept raw so that one of the wrong shape
/// is skipped alone.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    files: Vec<&'a RawValue>,
}

/// One file entry, borrowing from the page where no escape forces a copy.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    filename: Cow<'a, str>,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(default, borrow)]
    hashes: Hashes<'a>,
    #[serde(rename = "requires-python", default, borrow)]
    requires_python: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    yanked: Option<Yanked<'a>>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "upload-time", default, borrow)]
    upload_time: Option<Cow<'a, str>>,
    #[serde(rename = "core-metadata", default, borrow)]
    core_metadata: Option<Meta<'a>>,
    #[serde(rename = "dist-info-metadata", default, borrow)]
    dist_info_metadata: Option<Meta<'a>>,
}

/// The hashes of a file or of its metadata: only the sha256 is read.
#[derive(Default, Deserialize)]
struct Hashes<'a> {
    #[serde(default, borrow)]
    sha256: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Yanked<'a> {
    Bool(bool),
    Reason(#[serde(borrow)] Cow<'a, str>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Meta<'a> {
    Bool(bool),
    Hashes(#[serde(borrow)] Hashes<'a>),
}

impl Entry<'_> {
    /// PEP 592: `None` when not yanked, else the reason (empty when none is given).
    fn yanked(&self) -> Option<&str> {
        match &self.yanked {
            None | Some(Yanked::Bool(false)) => None,
            Some(Yanked::Bool(true)) => Some(""),
            Some(Yanked::Reason(reason)) => Some(reason),
        }
    }

    /// PEP 658 / 714: whether the index serves the file's metadata, and its hash.
    fn core_metadata(&self) -> CoreMetadataRef {
        match self
            .core_metadata
            .as_ref()
            .or(self.dist_info_metadata.as_ref())
        {
            None | Some(Meta::Bool(false)) => CoreMetadataRef::Absent,
            Some(Meta::Bool(true)) => CoreMetadataRef::Available { sha256: None },
            Some(Meta::Hashes(h)) => CoreMetadataRef::Available {
                sha256: h.sha256.as_deref().and_then(normalize_sha256),
            },
        }
    }
}

/// The entries of a page that have the shape of a file entry, each read when reached.
fn entries<'a>(
    body: &'a [u8],
    page_url: &'a Url,
) -> Result<impl Iterator<Item = Entry<'a>> + 'a, IndexError> {
    let page: Page<'a> = serde_json::from_slice(body).map_err(|e| IndexError::BadPage {
        url: page_url.clone(),
        reason: format!("invalid JSON: {e}"),
    })?;
    Ok(page.files.into_iter().filter_map(move |raw| {
        match serde_json::from_str::<Entry<'a>>(raw.get()) {
            Ok(entry) => Some(entry),
            Err(err) => {
                tracing::debug!(page_url = %redacted(page_url), %err, "skipping a malformed file entry");
                None
            }
        }
    }))
}

/// Parse a PEP 691 JSON page into the files of `project`: the reference
/// [`encode_json_groups`] is tested against (fetches encode pages, they never build every file).
#[cfg(test)]
pub fn parse_json(
    body: &[u8],
    page_url: &Url,
    project: &PackageName,
) -> Result<Vec<DistFile>, IndexError> {
    let mut files = Vec::new();
    for entry in entries(body, page_url)? {
        let Ok(url) = page_url.join(&entry.url) else {
            tracing::debug!(page_url = %redacted(page_url), url = %redact_text(&entry.url), "skipping a file with an invalid URL");
            continue;
        };
        let Some(mut file) = make_file(&entry.filename, url, project) else {
            continue;
        };
        file.sha256 = entry.hashes.sha256.as_deref().and_then(normalize_sha256);
        file.requires_python = entry
            .requires_python
            .as_deref()
            .and_then(|v| parse_requires_python(v, &entry.filename));
        file.yanked = entry.yanked().map(str::to_string);
        file.size = entry.size;
        file.upload_time = entry.upload_time.as_deref().and_then(upload_time);
        file.core_metadata = entry.core_metadata();
        files.push(file);
    }
    Ok(files)
}

/// The cache encoding of what `parse_json` followed by [`super::group_versions`] gives,
/// written straight from the page, with where the file lines of each version are in it.
pub fn encode_json_groups(
    body: &[u8],
    page_url: &Url,
    project: &PackageName,
) -> Result<(String, VersionRanges), IndexError> {
    let entries = entries(body, page_url)?;
    let mut lines = FileLines::new(page_url, page_url.clone(), project, body.len() * 3 / 4);
    for entry in entries {
        let Some(url) = lines.joined(&entry.url) else {
            tracing::debug!(page_url = %redacted(page_url), url = %redact_text(&entry.url), "skipping a file with an invalid URL");
            continue;
        };
        let facts = FileFacts {
            sha256: entry.hashes.sha256.as_deref(),
            size: entry.size,
            upload_time: entry.upload_time.as_deref(),
            requires_python: entry.requires_python.as_deref(),
            yanked: entry.yanked(),
            core_metadata: entry.core_metadata(),
        };
        lines.push(&entry.filename, &url, facts);
    }
    Ok(lines.grouped())
}

impl FileLines<'_> {
    /// The absolute URL of a file entry's `url`, joined to the page as `parse_json` does
    /// (credentials removed, a fragment kept), without the URL parser when it is a plain link
    /// to a known origin.
    fn joined<'h>(&mut self, href: &'h str) -> Option<Cow<'h, str>> {
        if let Some((url, None, _)) = self.origins.plain_link(href) {
            return Some(Cow::Borrowed(url));
        }
        let url = self.page_url.join(href).ok()?;
        Some(Cow::Owned(String::from(without_credentials(&url))))
    }
}
