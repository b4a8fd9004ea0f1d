//! The local PyTorch mirror under `fixtures/`: `fixtures/pytorch/mirror.toml` (which
//! torch / torchvision / torchaudio builds exist per channel and hardware key, and their
//! METADATA) expanded into
//!
//! - one [`Scenario`] per channel and key ([`Mirror::scenario`]), to serve over HTTP with
//!   [`super::TestIndex`];
//! - the static PEP 503 trees `fixtures/pytorch/whl/<key>/` and
//!   `fixtures/pytorch/whl/nightly/<key>/` ([`Mirror::tree`]), laid out like
//!   download.pytorch.org (wheels beside the project folders, `+` written `%2B` in links,
//!   `data-requires-python` and PEP 658 / 714 metadata attributes), read through `file://`;
//! - the PyPI stand-in ([`pypi_scenario`]): `fixtures/pypi/scenario.toml` plus the unlabeled
//!   builds that PyPI itself publishes of torch, torchvision and torchaudio.
//!
//! Everything is deterministic: the same `mirror.toml` gives byte-identical files.
//!
//! ```ignore
//! let url = support::mirror::index_url("stable", "cu130"); // file:///.../fixtures/pytorch/whl/cu130
//! let pypi = TestIndex::start(support::mirror::pypi_scenario());
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::scenario::{Scenario, VersionSpec, normalize};
use super::wheelgen::{self, sha256_hex};

/// The hardware keys the mirror publishes, best first.
pub const KEYS: [&str; 4] = ["cu130", "cu128", "cu126", "cpu"];
/// The channels the mirror publishes.
pub const CHANNELS: [&str; 2] = ["stable", "nightly"];

/// `fixtures/` of this crate.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The tree of `channel` and `key` relative to `fixtures/pytorch/` (`whl/cu130`,
/// `whl/nightly/cu130`), as the real index nests its URLs.
pub fn tree_path(channel: &str, key: &str) -> String {
    match channel {
        "stable" => format!("whl/{key}"),
        other => format!("whl/{other}/{key}"),
    }
}

/// `file://` URL of the committed tree of `channel` and `key` (no trailing slash).
pub fn index_url(channel: &str, key: &str) -> String {
    let dir = fixtures_dir().join("pytorch").join(tree_path(channel, key));
    url::Url::from_directory_path(&dir)
        .expect("absolute fixtures path")
        .as_str()
        .trim_end_matches('/')
        .to_string()
}

/// The `SANCTUARY_INDEX_PYTORCH` value for `channel`: the committed trees with `{key}` left
/// for sanctuary to expand.
pub fn index_url_template(channel: &str) -> String {
    index_url(channel, "KEY").replace("KEY", "{key}")
}

/// The PyPI stand-in: `fixtures/pypi/scenario.toml` plus the torch, torchvision and
/// torchaudio builds PyPI publishes (unlabeled, see `pypi = "..."` in `mirror.toml`).
pub fn pypi_scenario() -> Scenario {
    let mut scenario = Scenario::from_file(fixtures_dir().join("pypi/scenario.toml"));
    let mirror = Mirror::load();
    for release in &mirror.releases {
        let Some(key) = &release.pypi else { continue };
        for (version, spec) in mirror.specs(release, key, false) {
            scenario
                .packages
                .entry(release.project.clone())
                .or_default()
                .versions
                .insert(version, spec);
        }
    }
    scenario
}

/// `fixtures/pytorch/mirror.toml`, parsed.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// Default python tags of every release.
    pub python: Vec<String>,
    /// Default platform tags of every release.
    pub platforms: Vec<String>,
    /// Named requirement lists (`"@name"`).
    #[serde(default)]
    pub sets: BTreeMap<String, Vec<String>>,
    #[serde(rename = "release")]
    pub releases: Vec<Release>,
}

/// One project version of the mirror (see the header of `mirror.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    #[serde(default = "stable")]
    pub channel: String,
    pub project: String,
    pub version: String,
    #[serde(default)]
    pub dates: Vec<String>,
    #[serde(default = "yes")]
    pub labeled: bool,
    pub requires_python: Option<String>,
    pub python: Option<Vec<String>>,
    pub platforms: Option<Vec<String>>,
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub extras: BTreeMap<String, Vec<String>>,
    /// Key -> requirements appended for that key's build.
    pub keys: BTreeMap<String, Vec<String>>,
    /// Key -> extra wheel tags published without the local label.
    #[serde(default)]
    pub unlabeled: BTreeMap<String, Vec<String>>,
    /// PyPI publishes this version unlabeled with the metadata of this key.
    pub pypi: Option<String>,
}

fn stable() -> String {
    "stable".to_string()
}

fn yes() -> bool {
    true
}

/// One file of a static tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeFile {
    /// Path relative to the tree root, `/`-separated.
    pub path: String,
    pub bytes: Vec<u8>,
}

impl Mirror {
    /// Reads `fixtures/pytorch/mirror.toml`; panics with the reason (tests only).
    pub fn load() -> Mirror {
        let path = fixtures_dir().join("pytorch/mirror.toml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Self::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Mirror, String> {
        let mirror: Mirror = toml::from_str(text).map_err(|e| e.to_string())?;
        for release in &mirror.releases {
            if !CHANNELS.contains(&release.channel.as_str()) {
                return Err(format!("unknown channel `{}`", release.channel));
            }
            for key in release.keys.keys().chain(release.unlabeled.keys()) {
                if !KEYS.contains(&key.as_str()) {
                    return Err(format!("{}: unknown key `{key}`", release.project));
                }
            }
            for req in release
                .requires
                .iter()
                .chain(release.keys.values().flatten())
            {
                if let Some(set) = req.strip_prefix('@')
                    && !mirror.sets.contains_key(set)
                {
                    return Err(format!("{}: unknown set `@{set}`", release.project));
                }
            }
        }
        Ok(mirror)
    }

    fn expand(&self, reqs: &[String], date: &str, out: &mut Vec<String>) {
        for req in reqs {
            match req.strip_prefix('@') {
                Some(set) => self.expand(&self.sets[set], date, out),
                None => out.push(req.replace("{date}", date)),
            }
        }
    }

    /// The versions `release` publishes for `key` (one per date), each with its files;
    /// `labeled` adds `+key` (when the release is labeled at all).
    fn specs(&self, release: &Release, key: &str, labeled: bool) -> Vec<(String, VersionSpec)> {
        let dates: Vec<&str> = if release.dates.is_empty() {
            vec![""]
        } else {
            release.dates.iter().map(String::as_str).collect()
        };
        let python = release.python.as_ref().unwrap_or(&self.python);
        let platforms = release.platforms.as_ref().unwrap_or(&self.platforms);
        let mut out = Vec::new();
        for date in dates {
            let base = release.version.replace("{date}", date);
            let mut requires = Vec::new();
            self.expand(&release.requires, date, &mut requires);
            self.expand(&release.keys[key], date, &mut requires);
            let mut extras = BTreeMap::new();
            for (extra, reqs) in &release.extras {
                let mut expanded = Vec::new();
                self.expand(reqs, date, &mut expanded);
                extras.insert(extra.clone(), expanded);
            }
            let mut tags = Vec::new();
            for platform in platforms {
                for py in python {
                    tags.push(format!("{py}-{py}-{platform}"));
                }
            }
            let spec = VersionSpec {
                requires,
                extras,
                requires_python: release.requires_python.clone(),
                wheel_tags: tags,
                sdist: false,
                ..VersionSpec::default()
            };
            if labeled && release.labeled {
                out.push((format!("{base}+{key}"), spec.clone()));
                if let Some(tags) = release.unlabeled.get(key) {
                    out.push((
                        base.clone(),
                        VersionSpec {
                            wheel_tags: tags.clone(),
                            ..spec
                        },
                    ));
                }
            } else {
                out.push((base, spec));
            }
        }
        out
    }

    /// The index of `channel` and `key` as a scenario (HTML only, PEP 658 on, like
    /// download.pytorch.org today); `None` when the mirror has no such index.
    pub fn scenario(&self, channel: &str, key: &str) -> Option<Scenario> {
        let mut scenario = Scenario::new(&format!("pytorch-{}", tree_path(channel, key)))
            .with_server(|s| s.format = super::Format::Html);
        scenario.description = format!(
            "download.pytorch.org/{} (local mirror)",
            tree_path(channel, key)
        );
        let mut any = false;
        for release in &self.releases {
            if release.channel != channel || !release.keys.contains_key(key) {
                continue;
            }
            for (version, spec) in self.specs(release, key, true) {
                any = true;
                scenario = scenario.version(&release.project, &version, spec);
            }
        }
        any.then_some(scenario)
    }

    /// Every file of the static tree of `channel` and `key`, sorted by path.
    pub fn tree(&self, channel: &str, key: &str) -> Vec<TreeFile> {
        let scenario = self
            .scenario(channel, key)
            .unwrap_or_else(|| panic!("no {channel} index for {key}"));
        let mut files = Vec::new();
        let mut projects = Vec::new();
        for (name, package) in &scenario.packages {
            let project = normalize(name);
            let mut dists = Vec::new();
            for (version, spec) in &package.versions {
                for dist in wheelgen::dists_for(name, version, spec, scenario.server.sdist_pkg_info)
                {
                    dists.push((dist, spec.requires_python.clone()));
                }
            }
            dists.sort_by(|a, b| a.0.filename.cmp(&b.0.filename));
            let mut page =
                format!("<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for {project}</h1>\n");
            for (dist, requires_python) in &dists {
                let metadata = dist.metadata.as_ref().expect("wheels carry METADATA");
                let meta_sha = sha256_hex(metadata);
                let mut attrs = String::new();
                if let Some(rp) = requires_python {
                    attrs.push_str(&format!(" data-requires-python=\"{}\"", html_escape(rp)));
                }
                attrs.push_str(&format!(
                    " data-dist-info-metadata=\"sha256={meta_sha}\" data-core-metadata=\"sha256={meta_sha}\""
                ));
                page.push_str(&format!(
                    "    <a href=\"../{}#sha256={}\"{attrs}>{}</a><br/>\n",
                    encode_href(&dist.filename),
                    dist.sha256,
                    dist.filename
                ));
                files.push(TreeFile {
                    path: dist.filename.clone(),
                    bytes: dist.bytes.clone(),
                });
                files.push(TreeFile {
                    path: format!("{}.metadata", dist.filename),
                    bytes: metadata.clone(),
                });
            }
            page.push_str("  </body>\n</html>\n");
            files.push(TreeFile {
                path: format!("{project}/index.html"),
                bytes: page.into_bytes(),
            });
            projects.push(project);
        }
        projects.sort();
        let mut root = String::from("<!DOCTYPE html>\n<html>\n  <body>\n");
        for project in &projects {
            root.push_str(&format!("    <a href=\"{project}/\">{project}</a><br/>\n"));
        }
        root.push_str("  </body>\n</html>\n");
        files.push(TreeFile {
            path: "index.html".to_string(),
            bytes: root.into_bytes(),
        });
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }

    /// Every tree the mirror publishes: (channel, key) in a fixed order.
    pub fn trees(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        for channel in CHANNELS {
            for key in KEYS {
                if self.scenario(channel, key).is_some() {
                    out.push((channel, key));
                }
            }
        }
        out
    }

    /// Every file under `fixtures/pytorch/whl/`, keyed by its path relative to
    /// `fixtures/pytorch/`.
    pub fn all_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for (channel, key) in self.trees() {
            let prefix = tree_path(channel, key);
            for file in self.tree(channel, key) {
                out.insert(format!("{prefix}/{}", file.path), file.bytes);
            }
        }
        out
    }
}

/// A file name as an href: `+` (a local version's separator) percent-encoded, like the real
/// index writes it.
pub fn encode_href(filename: &str) -> String {
    filename.replace('%', "%25").replace('+', "%2B")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
