//! PEP 751 lockfiles (`pylock.<name>.toml`): the data model, a deterministic writer and a
//! reader. Pure: strings in, strings out; the caller does the file I/O.
//!
//! The writer is hand-rolled rather than `toml::to_string` because the layout is part of the
//! product: packages sorted by name, one field a line, the source distribution as a
//! `[packages.sdist]` table and wheels as `[[packages.wheels]]` tables (PEP 751 order), a local
//! directory or git repository as `[packages.directory]` / `[packages.vcs]`, dependencies one per
//! line, so that lockfile diffs in code review stay short and stable. The reader (`read`)
//! refuses every value it cannot trust.

pub mod diff;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use std::str::FromStr as _;

use pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, PackageName};

pub mod graph;
pub mod origin;
mod read;

/// The PEP 751 version this writer produces.
pub const LOCK_VERSION: &str = "1.0";

/// Bumped whenever the meaning of `[tool.sanctuary]` changes, so old lockfiles read as stale.
/// (Source distributions, directories and git packages are PEP 751 tables of their own, beside
/// `[tool.sanctuary]`, whose meaning they leave as it was: still 1.)
pub const FORMAT_VERSION: u32 = 1;

/// A whole lockfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lockfile {
    /// PEP 508 markers of the environments the lock covers, one per declared platform and
    /// Python minor, e.g.
    /// `python_version == '3.12' and sys_platform == 'linux' and platform_machine == 'x86_64'`.
    /// A host none of them matches is outside the lock ([`Lockfile::covers`]).
    pub environments: Vec<String>,
    /// `==3.12.*`, or `>=3.11, <3.14` for a lock over several Python minors.
    pub requires_python: String,
    pub packages: Vec<LockedPackage>,
    pub tool: ToolTable,
}

/// One `[[packages]]` entry: wheels and/or a source distribution from an index, or else a
/// local directory or a git repository (`source`), never both (the reader refuses either
/// mix, and a package with nothing to install).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: PackageName,
    pub version: Version,
    /// The environments this entry is for, as a PEP 508 marker; `None` for all of the lock's
    /// environments. A package may appear in several versions whose markers are disjoint (a
    /// universal lock's forks); in any one environment, at most one entry applies.
    pub marker: Option<String>,
    /// The simple index URL the package came from; empty (and not written) for a directory or
    /// git package, which comes from the manifest.
    pub index: String,
    pub requires_python: Option<String>,
    /// Names of the packages this one depends on, sorted: in any environment the entry is for.
    pub dependencies: Vec<PackageName>,
    /// Dependencies that apply in only some of the entry's environments, with the marker of
    /// those (`colorama`: `sys_platform == 'win32'`); `[packages.tool.sanctuary]
    /// dependency-markers`, written only when not empty.
    pub dependency_markers: BTreeMap<PackageName, String>,
    /// The source distribution of this version, when the index has one.
    pub sdist: Option<LockedSdist>,
    pub wheels: Vec<LockedWheel>,
    /// A package built from a directory or a git repository; then no sdist, no wheels and no
    /// index.
    pub source: Option<LocalSource>,
    /// Required by the layer's own requirements (not only transitively).
    pub direct: bool,
    /// Extras of this package that were requested, sorted.
    pub extras: Vec<String>,
}

/// One file of a package's version: a `[[packages.wheels]]` entry or the `[packages.sdist]`
/// table (PEP 751 gives both the same fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedArtifact {
    /// The file name, e.g. `demo-1.0-py3-none-any.whl` or `demo-1.0.tar.gz`.
    pub name: String,
    pub url: String,
    pub size: Option<u64>,
    /// RFC 3339, e.g. `2024-05-01T12:30:00Z`.
    pub upload_time: Option<String>,
    /// 64 lower-case hex digits.
    pub sha256: String,
}

/// One `[[packages.wheels]]` entry.
pub type LockedWheel = LockedArtifact;

/// The `[packages.sdist]` table: the source distribution of the package's version.
pub type LockedSdist = LockedArtifact;

/// Where a package that no index serves comes from: `[packages.directory]` or
/// `[packages.vcs]`. Such a package comes from a path or git requirement of the manifest;
/// a lockfile names it, so whoever installs it checks that the manifest does too (see
/// [`origin::local_sources`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalSource {
    Directory {
        /// Relative to the lockfile's directory, `/`-separated, in its shortest form; it may
        /// start with `..` segments (a monorepo's `../libs/x`), never absolute.
        path: String,
        editable: bool,
    },
    Vcs {
        kind: VcsKind,
        /// The repository: `https://`, `ssh://` or `file://`, without `git+` (the kind says
        /// it) and without credentials.
        url: String,
        /// The branch, tag or revision the manifest asked for.
        requested_revision: Option<String>,
        /// The commit installed: 40 lower-case hex digits.
        commit_id: String,
        /// The project's directory inside the repository, when not its root.
        subdirectory: Option<String>,
    },
}

/// The version control system of a `[packages.vcs]` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VcsKind {
    Git,
}

impl VcsKind {
    /// The PEP 751 `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            VcsKind::Git => "git",
        }
    }
}

impl std::fmt::Display for LocalSource {
    /// `directory ../libs/x (editable)`, `git https://host/repo@<commit>#subdirectory=py`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalSource::Directory { path, editable } => {
                write!(f, "directory {path}")?;
                if *editable {
                    f.write_str(" (editable)")?;
                }
                Ok(())
            }
            LocalSource::Vcs {
                kind,
                url,
                requested_revision,
                commit_id,
                subdirectory,
            } => {
                write!(f, "{} {url}@{commit_id}", kind.as_str())?;
                if let Some(sub) = subdirectory {
                    write!(f, "#subdirectory={sub}")?;
                }
                if let Some(rev) = requested_revision {
                    write!(f, " ({rev})")?;
                }
                Ok(())
            }
        }
    }
}

/// `[tool.sanctuary]`: what produced the file, so staleness can be checked without resolving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolTable {
    pub format: u32,
    /// `application`, or `foundation` for the keyed files.
    pub layer: String,
    /// The hardware key of a Foundation file.
    pub key: Option<String>,
    pub python: String,
    pub platform: String,
    /// sha256 of the canonical inputs of this layer ([`InputSummary::hash`]).
    pub inputs_hash: String,
    /// The inputs themselves, so `lock --check` can say what changed.
    pub inputs: InputSummary,
}

/// The inputs of one layer's lock, canonicalised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputSummary {
    pub requirements: Vec<String>,
    pub constraints: Vec<String>,
    /// `name=url` (with `explicit` noted) for each index, in order.
    pub indexes: Vec<String>,
    /// `package=index` pins.
    pub sources: Vec<String>,
    pub prereleases: String,
    /// What the layer was resolved against besides its own inputs: for the Application,
    /// `<key>=<inputs hash>` of each Foundation; for a Foundation, `channel=<channel>`.
    /// Written only when not empty.
    pub foundation: Vec<String>,
    /// What `[build]` changes in a resolution (`no-build`, `no-build-package=x`, declared
    /// metadata). Written only when not empty.
    pub build: Vec<String>,
}

impl InputSummary {
    /// The sha256 of these inputs together with the target and layer, in a fixed encoding.
    pub fn hash(&self, layer: &str, key: Option<&str>, python: &str, platform: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut field = |label: &str, values: &[String]| {
            h.update(label.as_bytes());
            h.update([0]);
            for v in values {
                h.update(v.as_bytes());
                h.update([0]);
            }
            h.update([1]);
        };
        field("format", &[FORMAT_VERSION.to_string()]);
        field("layer", &[layer.to_string()]);
        field("key", &[key.unwrap_or("").to_string()]);
        field("python", &[python.to_string()]);
        field("platform", &[platform.to_string()]);
        field("requirements", &self.requirements);
        field("constraints", &self.constraints);
        field("indexes", &self.indexes);
        field("sources", &self.sources);
        field("prereleases", std::slice::from_ref(&self.prereleases));
        if !self.foundation.is_empty() {
            field("foundation", &self.foundation);
        }
        if !self.build.is_empty() {
            field("build", &self.build);
        }
        hex::encode(h.finalize())
    }

    /// Human-readable differences from `old` (what made a lockfile stale).
    pub fn changes_from(&self, old: &InputSummary) -> Vec<String> {
        let mut out = Vec::new();
        let mut list = |what: &str, old: &[String], new: &[String]| {
            for n in new.iter().filter(|n| !old.contains(n)) {
                out.push(format!("{what} `{n}` added"));
            }
            for o in old.iter().filter(|o| !new.contains(o)) {
                out.push(format!("{what} `{o}` removed"));
            }
            if out.is_empty() && old != new {
                out.push(format!("{what}s reordered"));
            }
        };
        list("requirement", &old.requirements, &self.requirements);
        list("constraint", &old.constraints, &self.constraints);
        list("index", &old.indexes, &self.indexes);
        list("source", &old.sources, &self.sources);
        list("build setting", &old.build, &self.build);
        for n in self
            .foundation
            .iter()
            .filter(|n| !old.foundation.contains(n))
        {
            match n.split_once('=') {
                Some((key, _))
                    if old
                        .foundation
                        .iter()
                        .any(|o| o.starts_with(&format!("{key}="))) =>
                {
                    out.push(format!("the Foundation for `{key}` changed"))
                }
                _ => out.push(format!("foundation input `{n}` added")),
            }
        }
        for o in old
            .foundation
            .iter()
            .filter(|o| !self.foundation.contains(o))
        {
            if let Some((key, _)) = o.split_once('=')
                && self
                    .foundation
                    .iter()
                    .any(|n| n.starts_with(&format!("{key}=")))
            {
                continue;
            }
            out.push(format!("foundation input `{o}` removed"));
        }
        if old.prereleases != self.prereleases {
            out.push(format!(
                "pre-release mode changed from `{}` to `{}`",
                old.prereleases, self.prereleases
            ));
        }
        out
    }
}

/// Quote a string as a TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn string_array(values: &[String]) -> String {
    if values.is_empty() {
        return "[]".to_string();
    }
    let mut out = String::from("[\n");
    for v in values {
        let _ = writeln!(out, "    {},", quote(v));
    }
    out.push(']');
    out
}

impl Lockfile {
    /// Render the lockfile. Deterministic: the same value always gives the same bytes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let layer = match &self.tool.key {
            Some(key) => format!("{} layer, key {key}", self.tool.layer),
            None => format!("{} layer", self.tool.layer),
        };
        let _ = writeln!(
            out,
            "# This file is @generated by sanctuary ({layer}). Do not edit it by hand;\n# run `sanctuary lock` instead."
        );
        let _ = writeln!(out, "lock-version = {}", quote(LOCK_VERSION));
        let _ = writeln!(out, "environments = {}", string_array(&self.environments));
        let _ = writeln!(out, "requires-python = {}", quote(&self.requires_python));
        let _ = writeln!(out, "created-by = \"sanctuary\"");

        let mut packages: Vec<&LockedPackage> = self.packages.iter().collect();
        packages.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        for p in packages {
            render_package(&mut out, p);
        }

        let t = &self.tool;
        out.push_str("\n[tool.sanctuary]\n");
        let _ = writeln!(out, "format = {}", t.format);
        let _ = writeln!(out, "layer = {}", quote(&t.layer));
        if let Some(key) = &t.key {
            let _ = writeln!(out, "key = {}", quote(key));
        }
        let _ = writeln!(out, "python = {}", quote(&t.python));
        let _ = writeln!(out, "platform = {}", quote(&t.platform));
        let _ = writeln!(out, "inputs-hash = {}", quote(&t.inputs_hash));
        out.push_str("\n[tool.sanctuary.inputs]\n");
        let i = &t.inputs;
        let _ = writeln!(out, "requirements = {}", string_array(&i.requirements));
        let _ = writeln!(out, "constraints = {}", string_array(&i.constraints));
        let _ = writeln!(out, "indexes = {}", string_array(&i.indexes));
        let _ = writeln!(out, "sources = {}", string_array(&i.sources));
        let _ = writeln!(out, "prereleases = {}", quote(&i.prereleases));
        if !i.foundation.is_empty() {
            let _ = writeln!(out, "foundation = {}", string_array(&i.foundation));
        }
        if !i.build.is_empty() {
            let _ = writeln!(out, "build = {}", string_array(&i.build));
        }
        out
    }

    /// An Application lockfile with no packages, for tests.
    #[cfg(test)]
    pub(crate) fn empty_for_tests() -> Lockfile {
        Lockfile {
            environments: Vec::new(),
            requires_python: "==3.12.*".to_string(),
            packages: Vec::new(),
            tool: ToolTable {
                format: FORMAT_VERSION,
                layer: "application".to_string(),
                key: None,
                python: "3.12".to_string(),
                platform: "linux-x86_64".to_string(),
                inputs_hash: String::new(),
                inputs: InputSummary::default(),
            },
        }
    }

    /// The locked version of every package, for preferences when re-locking (of a package
    /// locked in several versions, the newest).
    pub fn versions(&self) -> BTreeMap<PackageName, Version> {
        let mut out: BTreeMap<PackageName, Version> = BTreeMap::new();
        for p in &self.packages {
            match out.get(&p.name) {
                Some(v) if *v >= p.version => {}
                _ => {
                    out.insert(p.name.clone(), p.version.clone());
                }
            }
        }
        out
    }

    /// Whether one of the lock's `environments` holds for `env` (a lock that lists none
    /// covers every environment, as PEP 751 says).
    pub fn covers(&self, env: &MarkerEnvironment) -> bool {
        self.environments.is_empty()
            || self
                .environments
                .iter()
                .any(|m| marker_holds(m, env).unwrap_or(false))
    }

    /// The lock as seen from `env`: the entries whose marker holds there, each entry's marker
    /// dropped and its dependencies limited to those that apply there (a dependency with a
    /// `dependency-markers` entry whose marker does not hold is left out). A dependency on a
    /// package the lock does not hold at all (an Application package's on a Foundation one,
    /// which lives in the other lockfile) is kept. `environments` is left as it was, so the
    /// caller can still say what the lock covers.
    ///
    /// Refused, because an installer could only guess: two entries of one package that both
    /// hold in `env`, and a dependency that applies in `env` on a package the lock holds but
    /// none of whose entries does (a marker edited by hand would otherwise drop it silently).
    pub fn for_environment(&self, env: &MarkerEnvironment) -> Result<Lockfile, LockError> {
        let holds = |m: &Option<String>| {
            m.as_deref()
                .is_none_or(|m| marker_holds(m, env).unwrap_or(false))
        };
        let mut kept: Vec<LockedPackage> = Vec::new();
        for p in &self.packages {
            if !holds(&p.marker) {
                continue;
            }
            if let Some(other) = kept.iter().find(|k| k.name == p.name) {
                let first = self
                    .packages
                    .iter()
                    .find(|q| q.name == p.name && q.version == other.version)
                    .and_then(|q| q.marker.clone());
                return Err(LockError::Overlap {
                    package: p.name.to_string(),
                    entries: format!(
                        "{} [{}] and {} [{}]",
                        other.version,
                        first.as_deref().unwrap_or("no marker"),
                        p.version,
                        p.marker.as_deref().unwrap_or("no marker")
                    ),
                    environment: describe_environment(env),
                });
            }
            kept.push(LockedPackage {
                marker: None,
                ..p.clone()
            });
        }
        let names: BTreeSet<PackageName> = kept.iter().map(|p| p.name.clone()).collect();
        let held: BTreeSet<&PackageName> = self.packages.iter().map(|p| &p.name).collect();
        for p in &mut kept {
            let conditional = std::mem::take(&mut p.dependency_markers);
            let mut dependencies = Vec::new();
            for d in std::mem::take(&mut p.dependencies) {
                let applies = conditional
                    .get(&d)
                    .is_none_or(|m| marker_holds(m, env).unwrap_or(false));
                if !applies {
                    continue;
                }
                if held.contains(&d) && !names.contains(&d) {
                    return Err(LockError::MissingDependency {
                        package: p.name.to_string(),
                        version: p.version.to_string(),
                        dependency: d.to_string(),
                        environment: describe_environment(env),
                    });
                }
                dependencies.push(d);
            }
            p.dependencies = dependencies;
        }
        Ok(Lockfile {
            packages: kept,
            ..self.clone()
        })
    }

    /// Whether the lock has entries for other environments than some hosts' (a marker on any
    /// package, or more than one environment).
    pub fn is_universal(&self) -> bool {
        self.environments.len() > 1 || self.packages.iter().any(|p| p.marker.is_some())
    }
}

/// `Python 3.12 on linux x86_64`: an environment as a message names it.
pub fn describe_environment(env: &MarkerEnvironment) -> String {
    format!(
        "Python {} on {} {}",
        env.python_version().string,
        env.sys_platform(),
        env.platform_machine()
    )
}

/// Whether the PEP 508 marker `marker` holds in `env` (no extras); `None` when it does not
/// parse (the reader refuses such a lockfile, so a parsed lockfile never has one).
pub fn marker_holds(marker: &str, env: &MarkerEnvironment) -> Option<bool> {
    let tree = pep508_rs::MarkerTree::from_str(marker).ok()?;
    Some(tree.evaluate(env, &[]))
}

/// One `[[packages]]` entry, in PEP 751 order: scalars, `[packages.directory]` or
/// `[packages.vcs]`, `[packages.sdist]`, `[[packages.wheels]]`, then sanctuary's own table.
fn render_package(out: &mut String, p: &LockedPackage) {
    out.push_str("\n[[packages]]\n");
    let _ = writeln!(out, "name = {}", quote(p.name.as_ref()));
    let _ = writeln!(out, "version = {}", quote(&p.version.to_string()));
    if let Some(marker) = &p.marker {
        let _ = writeln!(out, "marker = {}", quote(marker));
    }
    if let Some(rp) = &p.requires_python {
        let _ = writeln!(out, "requires-python = {}", quote(rp));
    }
    if !p.index.is_empty() {
        let _ = writeln!(out, "index = {}", quote(&p.index));
    }
    if p.dependencies.is_empty() {
        out.push_str("dependencies = []\n");
    } else {
        out.push_str("dependencies = [\n");
        for d in &p.dependencies {
            let _ = writeln!(out, "    {{ name = {} }},", quote(d.as_ref()));
        }
        out.push_str("]\n");
    }
    match &p.source {
        Some(LocalSource::Directory { path, editable }) => {
            out.push_str("\n[packages.directory]\n");
            let _ = writeln!(out, "path = {}", quote(path));
            let _ = writeln!(out, "editable = {editable}");
        }
        Some(LocalSource::Vcs {
            kind,
            url,
            requested_revision,
            commit_id,
            subdirectory,
        }) => {
            out.push_str("\n[packages.vcs]\n");
            let _ = writeln!(out, "type = {}", quote(kind.as_str()));
            let _ = writeln!(out, "url = {}", quote(url));
            if let Some(rev) = requested_revision {
                let _ = writeln!(out, "requested-revision = {}", quote(rev));
            }
            let _ = writeln!(out, "commit-id = {}", quote(commit_id));
            if let Some(sub) = subdirectory {
                let _ = writeln!(out, "subdirectory = {}", quote(sub));
            }
        }
        None => {}
    }
    if let Some(s) = &p.sdist {
        out.push_str("\n[packages.sdist]\n");
        render_file(
            out,
            &s.name,
            s.upload_time.as_deref(),
            &s.url,
            s.size,
            &s.sha256,
        );
    }
    for w in &p.wheels {
        out.push_str("\n[[packages.wheels]]\n");
        render_file(
            out,
            &w.name,
            w.upload_time.as_deref(),
            &w.url,
            w.size,
            &w.sha256,
        );
    }
    if p.direct || !p.extras.is_empty() || !p.dependency_markers.is_empty() {
        out.push_str("\n[packages.tool.sanctuary]\n");
        let _ = writeln!(out, "direct = {}", p.direct);
        if !p.extras.is_empty() {
            let _ = writeln!(out, "extras = {}", inline_array(&p.extras));
        }
        if !p.dependency_markers.is_empty() {
            out.push_str("dependency-markers = {");
            for (i, (name, marker)) in p.dependency_markers.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                let _ = write!(out, "{sep}{} = {}", quote(name.as_ref()), quote(marker));
            }
            out.push_str(" }\n");
        }
    }
}

/// The fields of a `[packages.sdist]` or `[[packages.wheels]]` table.
fn render_file(
    out: &mut String,
    name: &str,
    upload_time: Option<&str>,
    url: &str,
    size: Option<u64>,
    sha256: &str,
) {
    let _ = writeln!(out, "name = {}", quote(name));
    if let Some(t) = upload_time {
        // A TOML offset date-time, unquoted (PEP 751 `upload-time`).
        let _ = writeln!(out, "upload-time = {t}");
    }
    let _ = writeln!(out, "url = {}", quote(url));
    if let Some(size) = size {
        let _ = writeln!(out, "size = {size}");
    }
    let _ = writeln!(out, "hashes = {{ sha256 = {} }}", quote(sha256));
}

fn inline_array(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| quote(v)).collect();
    format!("[{}]", items.join(", "))
}

/// A lockfile could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LockError {
    #[error("invalid lockfile: {0}")]
    Parse(String),
    /// A field of one package holds a value that must not be used.
    #[error("invalid lockfile: package `{package}` {version}, field `{field}`: {message}")]
    Field {
        package: String,
        version: String,
        field: String,
        message: String,
    },
    /// Two entries of one package both apply in one environment.
    #[error(
        "invalid lockfile: two entries of `{package}` apply to {environment}: {entries}; their markers must not overlap"
    )]
    Overlap {
        package: String,
        entries: String,
        environment: String,
    },
    /// A dependency applies in an environment but no entry of it does.
    #[error(
        "invalid lockfile: `{package}` {version} depends on `{dependency}` in {environment}, but no entry of `{dependency}` applies there (its marker leaves that environment out)"
    )]
    MissingDependency {
        package: String,
        version: String,
        dependency: String,
        environment: String,
    },
}

#[cfg(test)]
mod tests;
