//! The indexes of a project: the manifest's declared indexes with `SANCTUARY_INDEX_<NAME>`
//! redirections applied and `{key}` (and the nightly channel) expanded per hardware key, as
//! the index client needs them, and as the set of URLs a lockfile's artifacts may come from.

use std::collections::BTreeMap;

use crate::bail;
use crate::error::{Context as _, Result};
use crate::http::auth::{Credentials, env_key};
use crate::http::redact::{redact_text, without_credentials};
use crate::index::{IndexKind, IndexUrl};
use crate::manifest::{Channel, IndexFormat, Manifest};
use crate::pylock::origin::TrustedIndexes;

/// The name of a keyed index in the shared set: `pytorch[cu130]`.
pub fn keyed_name(name: &str, key: &str) -> String {
    format!("{name}[{key}]")
}

/// The URL of an index: `SANCTUARY_INDEX_<NAME>` redirection applied.
fn index_url_text<'a>(
    manifest: &Manifest,
    name: &str,
    url: &'a str,
    overrides: &'a BTreeMap<String, String>,
) -> Result<(&'a str, Option<String>)> {
    let env_name = name.to_uppercase().replace('-', "_");
    let keys = manifest.foundation.as_ref().map_or(0, |f| f.keys.len());
    match overrides.get(&env_name) {
        // A keyed index serves one URL per hardware key: with several keys, a redirection
        // without `{key}` would send every key's Foundation to one tree.
        Some(redirect) if url.contains("{key}") && !redirect.contains("{key}") && keys > 1 => {
            bail!(
                "SANCTUARY_INDEX_{env_name}=`{}` has no `{{key}}`, but index `{name}` is keyed (`{url}`): give a URL template such as SANCTUARY_INDEX_{env_name}='https://mirror.example/whl/{{key}}'",
                crate::http::redact::redact_text(redirect)
            )
        }
        Some(redirect) => Ok((redirect, Some(env_name))),
        None => Ok((url, None)),
    }
}

/// `{key}` and the channel expanded: nightly inserts `nightly/` before a trailing `{key}`
/// (PyTorch's layout: `.../whl/cu130` and `.../whl/nightly/cu130`), or replaces `{channel}`.
pub(crate) fn expand_url(url: &str, key: &str, channel: Channel) -> String {
    let nightly = channel == Channel::Nightly;
    if url.contains("{channel}") {
        let url = if nightly {
            url.replace("{channel}", "nightly")
        } else {
            url.replace("{channel}/", "").replace("{channel}", "")
        };
        return url.replace("{key}", key);
    }
    if nightly && let Some(head) = url.trim_end_matches('/').strip_suffix("{key}") {
        return format!("{head}nightly/{key}");
    }
    url.replace("{key}", key)
}

/// The indexes of a layer: manifest order, `SANCTUARY_INDEX_<NAME>` redirections applied,
/// `{key}` expanded (indexes with `{key}` are left out when there is no key).
pub fn index_urls(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
    key: Option<&str>,
) -> Result<Vec<IndexUrl>> {
    let channel = manifest
        .foundation
        .as_ref()
        .map_or(Channel::Stable, |f| f.channel);
    let mut out = Vec::new();
    for spec in &manifest.indexes {
        let (raw, env) = index_url_text(manifest, &spec.name, &spec.url, overrides)?;
        let keyed = raw.contains("{key}") || spec.url.contains("{key}");
        let (expanded, name) = match key {
            Some(key) if keyed => (expand_url(raw, key, channel), keyed_name(&spec.name, key)),
            None if keyed => continue,
            _ => (raw.to_string(), spec.name.clone()),
        };
        let url = url::Url::parse(&expanded).with_context(|| {
            let shown = redact_text(&expanded);
            match &env {
                Some(env) => format!("invalid URL `{shown}` in SANCTUARY_INDEX_{env}"),
                None => format!("invalid URL `{shown}` for index `{}`", spec.name),
            }
        })?;
        // Credentials are kept apart, and never recorded with the URL.
        let env_var = |part: &str| overrides.get(&format!("{}_{part}", env_key(&spec.name)));
        let credentials = Credentials::for_index(
            &url,
            env_var("USERNAME").map(String::as_str),
            env_var("PASSWORD").map(String::as_str),
        );
        out.push(IndexUrl {
            name,
            url: without_credentials(&url),
            credentials,
            // A keyed index serves only what is pinned to it: each key's packages must come
            // from that key's index alone.
            explicit: spec.explicit || keyed,
            kind: match spec.format {
                IndexFormat::Simple => IndexKind::Simple,
                IndexFormat::Flat => IndexKind::Flat,
            },
        });
    }
    Ok(out)
}

/// Every URL a declared index can have, as written and as redirected by
/// `SANCTUARY_INDEX_<NAME>`, with `{key}` expanded for each declared key, and its
/// `file-origins`: where a lockfile's artifacts may come from ([`crate::pylock::origin`]).
pub fn trusted_indexes(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
) -> Result<TrustedIndexes> {
    let (keys, channel) = match &manifest.foundation {
        Some(f) => (f.keys.clone(), f.channel),
        None => (Vec::new(), Channel::Stable),
    };
    let mut trusted = TrustedIndexes::default();
    for spec in &manifest.indexes {
        let (redirected, _) = index_url_text(manifest, &spec.name, &spec.url, overrides)?;
        let keyed = spec.url.contains("{key}") || redirected.contains("{key}");
        for raw in [spec.url.as_str(), redirected] {
            let urls: Vec<String> = if keyed {
                keys.iter().map(|k| expand_url(raw, k, channel)).collect()
            } else {
                vec![raw.to_string()]
            };
            for url in urls.iter().filter_map(|u| url::Url::parse(u).ok()) {
                trusted.add(&url, &spec.file_origins);
            }
        }
    }
    Ok(trusted)
}

/// One index set for every key: the plain indexes once, each keyed index once per key.
pub fn shared_indexes(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
    keys: &[String],
) -> Result<Vec<IndexUrl>> {
    let mut out = index_urls(manifest, overrides, None)?;
    for key in keys {
        for index in index_urls(manifest, overrides, Some(key))? {
            if !out.iter().any(|i| i.name == index.name) {
                out.push(index);
            }
        }
    }
    Ok(out)
}

/// The name under which `index` serves `key` in the shared set.
pub fn index_for_key(manifest: &Manifest, index: &str, key: Option<&str>) -> Result<String> {
    let keyed = manifest
        .indexes
        .iter()
        .any(|i| i.name == index && i.url.contains("{key}"));
    match (keyed, key) {
        (false, _) => Ok(index.to_string()),
        (true, Some(key)) => Ok(keyed_name(index, key)),
        (true, None) => bail!(
            "index `{index}` has `{{key}}` in its URL, so only a [foundation] with hardware keys can use it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nightly_and_key_expansion() {
        let url = "https://download.pytorch.org/whl/{key}";
        assert_eq!(
            expand_url(url, "cu130", Channel::Stable),
            "https://download.pytorch.org/whl/cu130"
        );
        assert_eq!(
            expand_url(url, "cu130", Channel::Nightly),
            "https://download.pytorch.org/whl/nightly/cu130"
        );
        assert_eq!(
            expand_url(
                "https://m.example/{channel}/x/{key}/",
                "cpu",
                Channel::Nightly
            ),
            "https://m.example/nightly/x/cpu/"
        );
        assert_eq!(
            expand_url(
                "https://m.example/{channel}/x/{key}/",
                "cpu",
                Channel::Stable
            ),
            "https://m.example/x/cpu/"
        );
        assert_eq!(
            expand_url("file:///srv/whl/{key}", "cu128", Channel::Nightly),
            "file:///srv/whl/nightly/cu128"
        );
    }
}
