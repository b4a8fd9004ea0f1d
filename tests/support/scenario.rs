//! The scenario model: the packse TOML format (root requirements, packages and their versions,
//! environment, resolver options, expected outcome) plus our own `[server]` table (page
//! format, PEP 658, range requests, caching headers, injected faults) and per-version
//! extensions (entry points, extra files, padding, upload time). Scenarios load from files or
//! are built in code with the builder methods on [`Scenario`] and [`VersionSpec`].
//!
//! Unknown fields are ignored everywhere, so newer packse files keep parsing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One scenario: an index (the packages) plus what a resolver should make of `root`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub root: Root,
    /// Keyed by the project name as written in the scenario (not normalized).
    pub packages: BTreeMap<String, Package>,
    pub environment: Environment,
    pub resolver_options: ResolverOptions,
    pub expected: Expected,
    /// Our extension: how the index behaves.
    pub server: ServerOptions,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Root {
    /// PEP 508 requirements of the user.
    pub requires: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Package {
    /// Keyed by the version string as written (`"1.0.0"`, `"2.9.0+cu130"`, `"1.0.0a1"`).
    pub versions: BTreeMap<String, VersionSpec>,
}

/// One version of a package and the files the index has for it.
///
/// packse semantics: an sdist and a wheel are published unless `sdist = false` /
/// `wheel = false`; with no `wheel_tags` the one wheel is `py3-none-any`, otherwise there is
/// one wheel per entry of `wheel_tags` (each may be a compressed tag set such as
/// `cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct VersionSpec {
    pub requires: Vec<String>,
    /// Extra name → its requirements.
    pub extras: BTreeMap<String, Vec<String>>,
    pub requires_python: Option<String>,
    pub wheel_tags: Vec<String>,
    pub sdist: bool,
    pub wheel: bool,
    pub yanked: Yanked,
    /// Our extension: `entry_points.txt` sections (`console_scripts = { foo = "foo.cli:main" }`).
    pub entry_points: BTreeMap<String, BTreeMap<String, String>>,
    /// Our extension: extra files in the wheel, path → content.
    pub files: BTreeMap<String, String>,
    /// Our extension: bytes of incompressible padding in `<pkg>/_padding.bin`, before the
    /// dist-info entries (a large wheel whose metadata still sits in the tail).
    pub pad_bytes: usize,
    /// Our extension: bytes of incompressible padding in `<dist-info>/licenses/PADDING`,
    /// written after `METADATA` and before `RECORD`, so `METADATA` lies outside a tail range
    /// request of that size (like torch, whose dist-info is large).
    pub tail_pad_bytes: usize,
    /// Our extension: RFC 3339 upload time of every file of this version (a deterministic
    /// default is derived otherwise).
    pub upload_time: Option<String>,
}

impl Default for VersionSpec {
    fn default() -> Self {
        Self {
            requires: Vec::new(),
            extras: BTreeMap::new(),
            requires_python: None,
            wheel_tags: Vec::new(),
            sdist: true,
            wheel: true,
            yanked: Yanked::default(),
            entry_points: BTreeMap::new(),
            files: BTreeMap::new(),
            pad_bytes: 0,
            tail_pad_bytes: 0,
            upload_time: None,
        }
    }
}

/// `yanked = true` or `yanked = "reason"`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Yanked {
    Flag(bool),
    Reason(String),
}

impl Default for Yanked {
    fn default() -> Self {
        Yanked::Flag(false)
    }
}

impl Yanked {
    /// `Some(reason)` (maybe empty) when yanked.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Yanked::Flag(false) => None,
            Yanked::Flag(true) => Some(""),
            Yanked::Reason(r) => Some(r),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Environment {
    /// The interpreter the user runs.
    pub python: Option<String>,
    /// Other interpreters present on the machine.
    pub additional_python: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ResolverOptions {
    /// Target Python version.
    pub python: Option<String>,
    pub python_platform: Option<String>,
    pub prereleases: Option<bool>,
    pub no_build: Vec<String>,
    pub no_binary: Vec<String>,
    pub universal: bool,
    pub required_environments: Vec<String>,
    pub additional_python: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Expected {
    pub satisfiable: bool,
    /// Name → the version the resolver should choose.
    pub packages: BTreeMap<String, String>,
    pub explanation: Option<String>,
}

/// Simple page formats the server offers.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Html,
    Json,
    /// Both, negotiated with `Accept` (HTML when the client does not say).
    #[default]
    Both,
}

/// Our `[server]` table. Defaults: both formats, PEP 658 on, ranges on, upload times on,
/// no caching headers, no faults.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerOptions {
    pub format: Format,
    /// Serve `<wheel>.metadata` and advertise it on the pages.
    pub pep658: bool,
    /// Honour `Range` on files (otherwise always 200 and `Accept-Ranges: none`).
    pub range: bool,
    /// Sent as `Cache-Control` on pages and files when set.
    pub cache_control: Option<String>,
    /// Send a strong `ETag` and answer `If-None-Match` with 304.
    pub etag: bool,
    /// Send a fixed `Last-Modified`.
    pub last_modified: bool,
    /// Include `upload-time` in JSON pages.
    pub upload_time: bool,
    /// Require HTTP Basic authentication with these credentials on every request
    /// (401 with `WWW-Authenticate` otherwise).
    pub basic_auth: Option<BasicAuth>,
    pub faults: Vec<Fault>,
}

/// The user and password a server requires.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct BasicAuth {
    pub user: String,
    pub password: String,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            format: Format::Both,
            pep658: true,
            range: true,
            cache_control: None,
            etag: false,
            last_modified: false,
            upload_time: true,
            basic_auth: None,
            faults: Vec::new(),
        }
    }
}

/// An injected fault, applied before routing. `path` is a prefix of the request path
/// (`/simple/` hits every page, `/files/` every file) unless `exact = true`. The first fault
/// that matches and still has uses left applies; `times` (default: forever) counts the
/// requests it affects, then it heals. `delay_ms` sleeps first; then `reset` drops the
/// connection without a response, or `status` answers with that status, or `body` answers
/// 200 with that body (and `content_type`); with none of them, the request proceeds normally
/// after the delay. The answer is then sent as it is, or: `truncate` announces its full
/// `Content-Length`, sends the first half and breaks the connection; `drip_ms` sends it one
/// byte every `drip_ms` milliseconds.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Fault {
    pub path: String,
    pub exact: bool,
    pub status: Option<u16>,
    pub reset: bool,
    pub delay_ms: Option<u64>,
    pub body: Option<Vec<u8>>,
    pub content_type: Option<String>,
    pub truncate: bool,
    pub drip_ms: Option<u64>,
    pub times: Option<u32>,
}

impl Fault {
    /// Answers `status` to requests under `path`, `times` times.
    pub fn status(path: &str, status: u16, times: u32) -> Self {
        Self {
            path: path.to_string(),
            status: Some(status),
            times: Some(times),
            ..Self::default()
        }
    }

    /// Drops the connection without answering, `times` times.
    pub fn reset(path: &str, times: u32) -> Self {
        Self {
            path: path.to_string(),
            reset: true,
            times: Some(times),
            ..Self::default()
        }
    }

    /// Delays every request under `path` by `ms`.
    pub fn delay(path: &str, ms: u64) -> Self {
        Self {
            path: path.to_string(),
            delay_ms: Some(ms),
            ..Self::default()
        }
    }

    /// Answers 200 with `body` as `content_type`, `times` times.
    pub fn body(path: &str, content_type: &str, body: impl Into<Vec<u8>>, times: u32) -> Self {
        Self {
            path: path.to_string(),
            body: Some(body.into()),
            content_type: Some(content_type.to_string()),
            times: Some(times),
            ..Self::default()
        }
    }

    /// Sends half the answer, then breaks the connection, `times` times.
    pub fn truncate(path: &str, times: u32) -> Self {
        Self {
            path: path.to_string(),
            truncate: true,
            times: Some(times),
            ..Self::default()
        }
    }

    /// Sends every answer under `path` one byte each `ms` milliseconds.
    pub fn drip(path: &str, ms: u64) -> Self {
        Self {
            path: path.to_string(),
            drip_ms: Some(ms),
            ..Self::default()
        }
    }

    pub fn matches(&self, path: &str) -> bool {
        if self.exact {
            path == self.path
        } else {
            path.starts_with(&self.path)
        }
    }
}

impl Scenario {
    /// Parses a scenario from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses a scenario file; panics with the path on failure (tests only).
    pub fn from_file(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read scenario {}: {e}", path.display()));
        Self::from_toml(&text)
            .unwrap_or_else(|e| panic!("cannot parse scenario {}: {e}", path.display()))
    }

    /// One of our own scenarios under `tests/scenarios/`, by file stem.
    pub fn ours(stem: &str) -> Self {
        Self::from_file(own_scenarios_dir().join(format!("{stem}.toml")))
    }

    /// An empty scenario to fill with the builder methods.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            expected: Expected {
                satisfiable: true,
                ..Expected::default()
            },
            ..Self::default()
        }
    }

    /// Sets the root requirements.
    pub fn root<S: AsRef<str>>(mut self, requires: impl IntoIterator<Item = S>) -> Self {
        self.root.requires = requires
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        self
    }

    /// Adds (or replaces) one version of a package.
    pub fn version(mut self, package: &str, version: &str, spec: VersionSpec) -> Self {
        self.packages
            .entry(package.to_string())
            .or_default()
            .versions
            .insert(version.to_string(), spec);
        self
    }

    /// Adds plain versions (a `py3-none-any` wheel and an sdist each, no dependencies).
    pub fn versions(mut self, package: &str, versions: &[&str]) -> Self {
        for v in versions {
            self = self.version(package, v, VersionSpec::default());
        }
        self
    }

    /// Edits the `[server]` options in place.
    pub fn with_server(mut self, edit: impl FnOnce(&mut ServerOptions)) -> Self {
        edit(&mut self.server);
        self
    }

    pub fn format(self, format: Format) -> Self {
        self.with_server(|s| s.format = format)
    }

    pub fn pep658(self, on: bool) -> Self {
        self.with_server(|s| s.pep658 = on)
    }

    pub fn range(self, on: bool) -> Self {
        self.with_server(|s| s.range = on)
    }

    pub fn etag(self, on: bool) -> Self {
        self.with_server(|s| s.etag = on)
    }

    pub fn fault(self, fault: Fault) -> Self {
        self.with_server(|s| s.faults.push(fault))
    }

    /// Require HTTP Basic authentication as `user` / `password`.
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        self.with_server(|s| {
            s.basic_auth = Some(BasicAuth {
                user: user.to_string(),
                password: password.to_string(),
            });
        })
    }

    /// The projects the root requirements name (normalized, in order, deduplicated).
    pub fn root_projects(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for req in &self.root.requires {
            let end = req
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                .unwrap_or(req.len());
            let name = normalize(req[..end].trim());
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }
}

impl VersionSpec {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn requires<S: AsRef<str>>(mut self, reqs: impl IntoIterator<Item = S>) -> Self {
        self.requires
            .extend(reqs.into_iter().map(|s| s.as_ref().to_string()));
        self
    }

    pub fn extra<S: AsRef<str>>(mut self, name: &str, reqs: impl IntoIterator<Item = S>) -> Self {
        self.extras.insert(
            name.to_string(),
            reqs.into_iter().map(|s| s.as_ref().to_string()).collect(),
        );
        self
    }

    pub fn requires_python(mut self, spec: &str) -> Self {
        self.requires_python = Some(spec.to_string());
        self
    }

    /// Replaces the default `py3-none-any` wheel by one wheel per tag.
    pub fn tags<S: AsRef<str>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.wheel_tags = tags.into_iter().map(|s| s.as_ref().to_string()).collect();
        self
    }

    pub fn sdist(mut self, on: bool) -> Self {
        self.sdist = on;
        self
    }

    pub fn wheel(mut self, on: bool) -> Self {
        self.wheel = on;
        self
    }

    pub fn yanked(mut self, reason: &str) -> Self {
        self.yanked = Yanked::Reason(reason.to_string());
        self
    }

    pub fn entry_point(mut self, group: &str, name: &str, target: &str) -> Self {
        self.entry_points
            .entry(group.to_string())
            .or_default()
            .insert(name.to_string(), target.to_string());
        self
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.insert(path.to_string(), content.to_string());
        self
    }

    pub fn pad(mut self, bytes: usize) -> Self {
        self.pad_bytes = bytes;
        self
    }

    pub fn tail_pad(mut self, bytes: usize) -> Self {
        self.tail_pad_bytes = bytes;
        self
    }

    pub fn upload_time(mut self, rfc3339: &str) -> Self {
        self.upload_time = Some(rfc3339.to_string());
        self
    }
}

/// PEP 503 name normalization: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// `tests/scenarios/` of this crate.
pub fn own_scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

/// `../shared/conformance/packse/scenarios` beside the repository, when present.
pub fn packse_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/packse/scenarios");
    dir.is_dir().then_some(dir)
}

/// Every `*.toml` below `dir`, sorted.
pub fn scenario_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}
