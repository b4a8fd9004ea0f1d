//! The scenario model: the packse TOML format (root requirements, packages and their versions,
//! environment, resolver options, expected outcome) plus our own `[server]` table (page
//! format, PEP 658, range requests, caching headers, injected faults) and per-version
//! extensions (entry points, extra files, padding, upload time, an sdist built by an in-tree
//! PEP 517 backend, a crafted sdist). Scenarios load from files or are built in code with the
//! builder methods on [`Scenario`], [`VersionSpec`] and [`BuildSpec`].
//!
//! A version with a `build` table (`[packages.X.versions."1.0".build]`, see [`BuildSpec`])
//! publishes a buildable sdist (see `sdistgen`) instead of the plain one; everything else,
//! and every packse file, is unchanged by it.
//!
//! Unknown fields are ignored everywhere, so newer packse files keep parsing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::wheelgen::Dist;

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
    /// The project's `Requires-Python` (packse's `root.requires_python`): the lowest Python a
    /// universal resolution covers.
    pub requires_python: Option<String>,
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
    /// Our extension: the sdist (when `sdist` is on) is a buildable source tree with the
    /// in-tree test backend (`pyproject.toml`, `_backend/`, the package sources, `PKG-INFO`
    /// as [`BuildSpec::metadata`] says) instead of a lone `PKG-INFO`. Off by default.
    pub build: Option<BuildSpec>,
    /// Set in code only (never read from or written to TOML): serve this file as the
    /// version's sdist, listed on the project page with its own file name and sha256, in
    /// place of the generated one (even with `sdist = false`). For the hostile archives of
    /// `support::hostile`.
    #[serde(skip)]
    pub sdist_override: Option<Dist>,
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
            build: None,
            sdist_override: None,
        }
    }
}

/// Where a buildable sdist's (or a local project's) static metadata lives, that is what a
/// frontend may read without running a hook.
///
/// | mode | `PKG-INFO` (sdists only) | `pyproject.toml` `[project]` |
/// |---|---|---|
/// | `static` (default) | 2.2, dependencies, no `Dynamic` | none |
/// | `dynamic` | 2.2, `Dynamic: Requires-Dist` and `Dynamic: Provides-Extra`, no dependencies | name, version, `dynamic = ["dependencies", "optional-dependencies"]` |
/// | `legacy` | 2.1 (untrusted by PEP 643), dependencies | none |
/// | `pyproject` | 2.1, name and version only | static: `dependencies`, `optional-dependencies`, `requires-python` |
///
/// So only `static` sdists and `pyproject` sdists or projects can be locked without a hook;
/// a local project (which has no `PKG-INFO`) in `static` or `legacy` mode needs one.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MetadataMode {
    #[default]
    Static,
    Dynamic,
    Legacy,
    Pyproject,
}

/// Our `build` table of a version: how its sdist (or a project written by
/// `support::project`) builds with the in-tree backend `sanctuary_test_backend`
/// (`pyproject.toml`: `build-backend = "sanctuary_test_backend"`, `backend-path =
/// ["_backend"]`; pure stdlib). The backend's hooks:
///
/// - `get_requires_for_build_{wheel,editable,sdist}`: `[]`;
/// - `prepare_metadata_for_build_{wheel,editable}` (absent when `prepare_metadata = false`):
///   a `.dist-info` whose `METADATA` declares the version's `requires` (fails when
///   `fail_metadata`);
/// - `build_wheel`: imports `requires_import` (failing when `strict_imports` and one is
///   missing), then fails when `fail`, else writes `<dist>-<ver>-<wheel_tag>.whl`: the
///   sources (`<pkg>/__init__.py` and the version's `files`, read from the tree at build time),
///   `<pkg>/_built.py` (`BUILT_BY`, `HOOK` and `IMPORTS`: what the build imported) and a
///   dist-info (`METADATA` declaring `built_requires`, `WHEEL`, `entry_points.txt`, `RECORD`
///   with sha256s). Given a `metadata_directory`, it copies that `METADATA` instead, unless
///   `ignore_metadata_directory`;
/// - `build_editable` (absent when `editable = false`): as `build_wheel`, but the wheel holds
///   `__editable__.<dist>-<ver>.pth` naming the source tree instead of the sources;
/// - `build_sdist`: the tree as a `.tar.gz`.
///
/// Each hook prints `backend: <hook> for <name> <version>` to stdout. Every hook but the
/// `get_requires` ones first imports each `build_requires` module (its name normalized,
/// `-` → `_`, as the generated wheels name their package) and fails when one is missing. When `SANCTUARY_TEST_HOOK_LOG` names a file, each hook call appends one JSON
/// line: `hook`, `name`, `version`, `outcome` (`ok` / `failed`), `error`, `result`,
/// `imports` (module → `{file, version}` or `{error}`), `env` (`MAX_JOBS`,
/// `CMAKE_BUILD_PARALLEL_LEVEL`, `TORCH_CUDA_ARCH_LIST`, `CUDA_HOME`, `PYTHONPATH`,
/// `PYTHONNOUSERSITE`, `VIRTUAL_ENV`, `PIP_*`, `SANCTUARY_*`, and `record_env`, when set),
/// `python` (`sys.executable`), `prefix`, `sys_path`, `cwd`, `config_settings` and
/// `metadata_directory`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct BuildSpec {
    pub metadata: MetadataMode,
    /// `build_wheel` and `build_editable` print `fail_message` to stderr and raise.
    pub fail: bool,
    /// `prepare_metadata_for_build_*` print `fail_message` to stderr and raise.
    pub fail_metadata: bool,
    /// Default `backend: compiler exploded`.
    pub fail_message: String,
    /// Modules `build_wheel` / `build_editable` import and record (`torch`).
    pub requires_import: Vec<String>,
    /// Fail the build when a `requires_import` module cannot be imported.
    pub strict_imports: bool,
    /// `[build-system] requires`.
    pub build_requires: Vec<String>,
    /// The `Requires-Dist` of the built wheel's `METADATA` (default: the version's
    /// `requires`); differing from `requires` makes static or hook metadata disagree with the
    /// built wheel.
    pub built_requires: Option<Vec<String>>,
    /// The built wheel's tag (a compressed tag set is allowed); default `py3-none-any`.
    pub wheel_tag: Option<String>,
    /// Offer `prepare_metadata_for_build_wheel` / `_editable` (default on).
    pub prepare_metadata: bool,
    /// Offer `build_editable` (PEP 660; default on).
    pub editable: bool,
    /// `build_wheel` ignores a `metadata_directory` (a backend whose wheel disagrees with its
    /// own `prepare_metadata`).
    pub ignore_metadata_directory: bool,
    /// More environment variables the hook log records.
    pub record_env: Vec<String>,
}

/// What a failing test backend prints to stderr (and raises) by default.
pub const DEFAULT_FAIL_MESSAGE: &str = "backend: compiler exploded";

impl Default for BuildSpec {
    fn default() -> Self {
        Self {
            metadata: MetadataMode::Static,
            fail: false,
            fail_metadata: false,
            fail_message: DEFAULT_FAIL_MESSAGE.to_string(),
            requires_import: Vec::new(),
            strict_imports: false,
            build_requires: Vec::new(),
            built_requires: None,
            wheel_tag: None,
            prepare_metadata: true,
            editable: true,
            ignore_metadata_directory: false,
            record_env: Vec::new(),
        }
    }
}

impl BuildSpec {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn metadata(mut self, mode: MetadataMode) -> Self {
        self.metadata = mode;
        self
    }

    /// `build_wheel` and `build_editable` fail with [`DEFAULT_FAIL_MESSAGE`] on stderr.
    pub fn failing(self) -> Self {
        self.fail(DEFAULT_FAIL_MESSAGE)
    }

    /// `build_wheel` and `build_editable` fail with `message` on stderr.
    pub fn fail(mut self, message: &str) -> Self {
        self.fail = true;
        self.fail_message = message.to_string();
        self
    }

    /// `prepare_metadata_for_build_*` fail too (with the same message).
    pub fn fail_metadata(mut self) -> Self {
        self.fail_metadata = true;
        self
    }

    /// Modules the build imports; `strict`: the build fails when one is missing.
    pub fn requires_import<S: AsRef<str>>(
        mut self,
        modules: impl IntoIterator<Item = S>,
        strict: bool,
    ) -> Self {
        self.requires_import = modules
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        self.strict_imports = strict;
        self
    }

    pub fn build_requires<S: AsRef<str>>(mut self, reqs: impl IntoIterator<Item = S>) -> Self {
        self.build_requires = reqs.into_iter().map(|s| s.as_ref().to_string()).collect();
        self
    }

    pub fn built_requires<S: AsRef<str>>(mut self, reqs: impl IntoIterator<Item = S>) -> Self {
        self.built_requires = Some(reqs.into_iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    pub fn wheel_tag(mut self, tag: &str) -> Self {
        self.wheel_tag = Some(tag.to_string());
        self
    }

    pub fn prepare_metadata(mut self, on: bool) -> Self {
        self.prepare_metadata = on;
        self
    }

    pub fn editable(mut self, on: bool) -> Self {
        self.editable = on;
        self
    }

    pub fn ignore_metadata_directory(mut self) -> Self {
        self.ignore_metadata_directory = true;
        self
    }

    pub fn record_env<S: AsRef<str>>(mut self, vars: impl IntoIterator<Item = S>) -> Self {
        self.record_env
            .extend(vars.into_iter().map(|s| s.as_ref().to_string()));
        self
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
/// legacy (2.1) `PKG-INFO` in plain sdists, no caching headers, no faults.
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
    /// The `PKG-INFO` of every plain sdist (a version without a `build` table).
    pub sdist_pkg_info: SdistPkgInfo,
    /// Require HTTP Basic authentication with these credentials on every request
    /// (401 with `WWW-Authenticate` otherwise).
    pub basic_auth: Option<BasicAuth>,
    pub faults: Vec<Fault>,
}

/// The `PKG-INFO` a plain sdist carries (its content is the version's metadata either way).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SdistPkgInfo {
    /// Metadata-Version 2.1: not trusted by PEP 643, so a frontend must ask the build backend
    /// for the dependencies. The default: the sdists (and their hashes) most tests see.
    #[default]
    Legacy,
    /// Metadata-Version 2.2 with no `Dynamic` field: static (PEP 643), readable without a
    /// build, as packse's own sdists are.
    Static,
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
            sdist_pkg_info: SdistPkgInfo::default(),
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
            let name = requirement_name(req);
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

    /// Publishes a buildable sdist (see [`BuildSpec`]).
    pub fn build(mut self, build: BuildSpec) -> Self {
        self.build = Some(build);
        self
    }

    /// Publishes only the buildable sdist: `build(build)` and no wheel.
    pub fn sdist_only(self, build: BuildSpec) -> Self {
        self.build(build).wheel(false)
    }

    /// Serves `dist` as this version's sdist (a crafted archive), listed on the pages.
    pub fn sdist_override(mut self, dist: Dist) -> Self {
        self.sdist_override = Some(dist);
        self
    }
}

/// The project a PEP 508 requirement names, normalized (`Foo_Bar[x]>=1` → `foo-bar`).
pub fn requirement_name(req: &str) -> String {
    let req = req.trim_start();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    normalize(req[..end].trim())
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
