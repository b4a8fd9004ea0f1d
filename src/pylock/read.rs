//! The lockfile reader: TOML into [`Lockfile`], every value checked before anything uses it.
//! A lockfile's values become cache paths, download URLs, file names, paths on disk and
//! arguments to git, and lockfiles arrive in pull requests, so nothing is handed on that could
//! not have been written by [`Lockfile::render`] from trustworthy values: digests are 64 hex
//! digits, file names are a wheel or sdist of the package's own name and version, URLs have a
//! fetchable scheme, directory paths are relative, git URLs carry no credentials, revisions
//! cannot pass for options and commits are full hashes.

use std::collections::BTreeMap;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::Deserialize;

use super::{
    InputSummary, LOCK_VERSION, LocalSource, LockError, LockedPackage, LockedSdist, LockedWheel,
    Lockfile, ToolTable, VcsKind,
};
use crate::wheel::{DistFilename, WheelFilename};

/// The schemes a `[packages.vcs]` URL may have. Plain URLs, not pip's `git+https://`: PEP 751
/// says the kind in `type`. `http://` and `git://` are refused: unauthenticated transports.
const VCS_SCHEMES: &[&str] = &["https", "ssh", "file"];

impl Lockfile {
    /// Parse a lockfile written by [`Lockfile::render`] (or a compatible PEP 751 file that has
    /// a `[tool.sanctuary]` table).
    pub fn parse(text: &str) -> Result<Lockfile, LockError> {
        let raw: RawLock = toml::from_str(text).map_err(|e| LockError::Parse(e.to_string()))?;
        if raw.lock_version != LOCK_VERSION {
            return Err(LockError::Parse(format!(
                "lock-version `{}` is not supported (expected `{LOCK_VERSION}`)",
                raw.lock_version
            )));
        }
        let tool = raw
            .tool
            .and_then(|t| t.sanctuary)
            .ok_or_else(|| LockError::Parse("no [tool.sanctuary] table".to_string()))?;
        let packages = raw
            .packages
            .into_iter()
            .map(checked_package)
            .collect::<Result<Vec<_>, _>>()?;
        check_forks(&packages)?;
        let inputs = tool.inputs;
        Ok(Lockfile {
            environments: checked_environments(raw.environments)?,
            requires_python: raw.requires_python.unwrap_or_default(),
            packages,
            tool: ToolTable {
                format: tool.format,
                layer: tool.layer,
                key: tool.key,
                python: tool.python,
                platform: tool.platform,
                inputs_hash: tool.inputs_hash,
                inputs: InputSummary {
                    requirements: inputs.requirements,
                    constraints: inputs.constraints,
                    indexes: inputs.indexes,
                    sources: inputs.sources,
                    prereleases: inputs.prereleases,
                    foundation: inputs.foundation,
                    build: inputs.build,
                },
            },
        })
    }
}

/// A PEP 508 marker of the shape lockfiles hold, checked before `pep508_rs` parses it: the
/// environment variables a lock selects on (never `extra`, never the free-form
/// `platform_release` / `platform_version`), comparisons with plain literals (letters, digits,
/// `.`, `_`, `*`, `+`, `-`), `and`, `or` and parentheses, at most [`MAX_MARKER`] bytes and
/// [`MAX_COMPARISONS`] comparisons. The parser builds a decision diagram that grows
/// exponentially in `extra ==` and `in` terms (a marker of 800 bytes took 4 GB), and a marker
/// is shown in `diff`'s Markdown and on terminals, so nothing else is let through.
fn checked_marker(marker: &str) -> Result<String, String> {
    if marker.len() > MAX_MARKER {
        return Err(format!("longer than {MAX_MARKER} bytes"));
    }
    let shown = || marker.escape_default().to_string();
    let mut comparisons = 0usize;
    let mut chars = marker.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '(' | ')' | '=' | '!' | '<' | '>' | '~' => {}
            '\'' | '"' => {
                comparisons += 1;
                let mut closed = false;
                for (_, d) in chars.by_ref() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if !(d.is_ascii_alphanumeric() || matches!(d, '.' | '_' | '*' | '+' | '-')) {
                        return Err(format!(
                            "invalid marker `{}`: a literal may hold letters, digits and `._*+-` only",
                            shown()
                        ));
                    }
                }
                if !closed {
                    return Err(format!("invalid marker `{}`: unclosed literal", shown()));
                }
            }
            'a'..='z' | '_' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if !(d.is_ascii_lowercase() || d == '_') {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                let word = &marker[i..end];
                if !MARKER_WORDS.contains(&word) {
                    return Err(format!(
                        "invalid marker `{}`: `{word}` is not a marker a lockfile selects environments by",
                        shown()
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "invalid marker `{}`: unexpected character `{}`",
                    shown(),
                    c.escape_default()
                ));
            }
        }
    }
    if comparisons > MAX_COMPARISONS {
        return Err(format!("more than {MAX_COMPARISONS} comparisons"));
    }
    pep508_rs::MarkerTree::from_str(marker)
        .map_err(|e| format!("invalid marker `{}`: {e}", shown()))?;
    Ok(marker.to_string())
}

/// Longer markers than any lock writes for a few dozen environments are refused unread.
const MAX_MARKER: usize = 4096;

/// More comparisons than a lock over every platform and minor needs.
const MAX_COMPARISONS: usize = 256;

/// The words a lockfile's marker may use: the variables environments differ by, and the
/// connectives.
const MARKER_WORDS: &[&str] = &[
    "and",
    "or",
    "python_version",
    "python_full_version",
    "sys_platform",
    "platform_machine",
    "platform_system",
    "os_name",
    "implementation_name",
    "implementation_version",
    "platform_python_implementation",
];

/// At most this many `environments`: a lock over every platform and CPython minor has fewer.
const MAX_ENVIRONMENTS: usize = 256;

/// The lock's `environments`, each a PEP 508 marker.
fn checked_environments(environments: Vec<String>) -> Result<Vec<String>, LockError> {
    if environments.len() > MAX_ENVIRONMENTS {
        return Err(LockError::Parse(format!(
            "environments: {} of them, more than {MAX_ENVIRONMENTS}",
            environments.len()
        )));
    }
    for e in &environments {
        checked_marker(e).map_err(|m| LockError::Parse(format!("environments: {m}")))?;
    }
    Ok(environments)
}

/// A package may appear more than once only in versions for different environments: every
/// entry of a repeated name needs a marker (overlaps between markers are the installer's to
/// find, for the host it installs on: [`Lockfile::for_environment`]).
fn check_forks(packages: &[LockedPackage]) -> Result<(), LockError> {
    let mut seen: std::collections::HashMap<&PackageName, usize> = Default::default();
    for p in packages {
        *seen.entry(&p.name).or_default() += 1;
    }
    for p in packages {
        if seen[&p.name] > 1 && p.marker.is_none() {
            return Err(LockError::Field {
                package: p.name.to_string(),
                version: p.version.to_string(),
                field: "marker".to_string(),
                message: "the package is locked more than once, and this entry has no marker saying for which environments".to_string(),
            });
        }
    }
    Ok(())
}

/// Builds the [`LockError::Field`] of one package.
struct Fault<'a> {
    package: &'a PackageName,
    version: &'a Version,
}

impl Fault<'_> {
    fn at(&self, field: impl Into<String>, message: impl Into<String>) -> LockError {
        LockError::Field {
            package: self.package.to_string(),
            version: self.version.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

fn checked_package(p: RawPackage) -> Result<LockedPackage, LockError> {
    let name = PackageName::from_str(&p.name)
        .map_err(|e| LockError::Parse(format!("package name `{}`: {e}", p.name)))?;
    let version = Version::from_str(&p.version)
        .map_err(|e| LockError::Parse(format!("version `{}` of `{}`: {e}", p.version, p.name)))?;
    let fault = Fault {
        package: &name,
        version: &version,
    };
    let dependencies = p
        .dependencies
        .iter()
        .map(|d| {
            PackageName::from_str(&d.name).map_err(|e| {
                LockError::Parse(format!("dependency `{}` of `{}`: {e}", d.name, p.name))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let wheels = p
        .wheels
        .into_iter()
        .enumerate()
        .map(|(i, w)| checked_wheel(&fault, i, w))
        .collect::<Result<Vec<_>, _>>()?;
    let sdist = p.sdist.map(|s| checked_sdist(&fault, s)).transpose()?;
    if p.archive.is_some() {
        return Err(fault.at(
            "archive",
            "archive packages (a direct URL to a file) are not supported",
        ));
    }
    let source = match (p.directory, p.vcs) {
        (Some(_), Some(_)) => {
            return Err(fault.at(
                "directory",
                "a package comes from a directory or from a repository, not both",
            ));
        }
        (Some(d), None) => Some(checked_directory(&fault, d)?),
        (None, Some(v)) => Some(checked_vcs(&fault, v)?),
        (None, None) => None,
    };
    let index = p.index.unwrap_or_default();
    if let Some(source) = &source {
        let table = match source {
            LocalSource::Directory { .. } => "directory",
            LocalSource::Vcs { .. } => "vcs",
        };
        if !wheels.is_empty() || sdist.is_some() {
            return Err(fault.at(
                table,
                "a package built from a directory or a repository has no wheels or sdist of its own",
            ));
        }
        if !index.is_empty() {
            return Err(fault.at(
                "index",
                format!("a directory or git package comes from the manifest, not from an index (`{index}`)"),
            ));
        }
    } else if wheels.is_empty() && sdist.is_none() {
        return Err(fault.at(
            "wheels",
            "no wheels, sdist, directory or vcs: nothing to install",
        ));
    }
    let marker = match p.marker {
        Some(m) => Some(checked_marker(&m).map_err(|e| fault.at("marker", e))?),
        None => None,
    };
    let extra = p.tool.and_then(|t| t.sanctuary).unwrap_or_default();
    let dependency_markers =
        checked_dependency_markers(&fault, &dependencies, extra.dependency_markers)?;
    Ok(LockedPackage {
        name,
        version,
        marker,
        index,
        requires_python: p.requires_python,
        dependencies,
        dependency_markers,
        sdist,
        wheels,
        source,
        direct: extra.direct,
        extras: extra.extras,
    })
}

/// `[packages.tool.sanctuary] dependency-markers`: each a dependency the entry lists, with a
/// marker that parses.
fn checked_dependency_markers(
    fault: &Fault,
    dependencies: &[PackageName],
    raw: BTreeMap<String, String>,
) -> Result<BTreeMap<PackageName, String>, LockError> {
    let field = "tool.sanctuary.dependency-markers";
    let mut out = BTreeMap::new();
    for (name, marker) in raw {
        let parsed =
            PackageName::from_str(&name).map_err(|e| fault.at(field, format!("`{name}`: {e}")))?;
        if !dependencies.contains(&parsed) {
            return Err(fault.at(
                field,
                format!("`{name}` is not one of the package's dependencies"),
            ));
        }
        let marker = checked_marker(&marker).map_err(|m| fault.at(field, m))?;
        out.insert(parsed, marker);
    }
    Ok(out)
}

/// A `[[packages.wheels]]` entry: its name a wheel of this package and version.
fn checked_wheel(fault: &Fault, index: usize, w: RawWheel) -> Result<LockedWheel, LockError> {
    let field = |f: &str| format!("wheels[{index}].{f}");
    let sha256 =
        checked_sha256(&w.hashes.sha256).map_err(|m| fault.at(field("hashes.sha256"), m))?;
    let parsed: WheelFilename = w
        .name
        .parse()
        .map_err(|e: crate::wheel::FilenameError| fault.at(field("name"), e.to_string()))?;
    if &parsed.name != fault.package || &parsed.version != fault.version {
        return Err(fault.at(
            field("name"),
            format!(
                "`{}` is a wheel of {} {}, not of this package",
                w.name, parsed.name, parsed.version
            ),
        ));
    }
    checked_file_url(&w.url).map_err(|m| fault.at(field("url"), m))?;
    Ok(LockedWheel {
        name: w.name,
        url: w.url,
        size: w.size,
        upload_time: w.upload_time.map(|t| t.to_string()),
        sha256,
    })
}

/// The `[packages.sdist]` table: its name a `.tar.gz` or `.zip` of this package and version.
fn checked_sdist(fault: &Fault, s: RawFile) -> Result<LockedSdist, LockError> {
    let sha256 =
        checked_sha256(&s.hashes.sha256).map_err(|m| fault.at("sdist.hashes.sha256", m))?;
    let not_ours = |why: String| fault.at("sdist.name", why);
    if s.name.contains(['/', '\\']) {
        return Err(not_ours(format!("`{}` is not a plain file name", s.name)));
    }
    match DistFilename::parse(&s.name, fault.package).map_err(|e| not_ours(e.to_string()))? {
        DistFilename::Sdist { version, .. } if &version == fault.version => {}
        DistFilename::Sdist { version, .. } => {
            return Err(not_ours(format!(
                "`{}` is a source distribution of version {version}, not {}",
                s.name, fault.version
            )));
        }
        DistFilename::Wheel(_) => {
            return Err(not_ours(format!(
                "`{}` is a wheel, not a source distribution",
                s.name
            )));
        }
    }
    checked_file_url(&s.url).map_err(|m| fault.at("sdist.url", m))?;
    Ok(LockedSdist {
        name: s.name,
        url: s.url,
        size: s.size,
        upload_time: s.upload_time.map(|t| t.to_string()),
        sha256,
    })
}

fn checked_directory(fault: &Fault, d: RawDirectory) -> Result<LocalSource, LockError> {
    if d.subdirectory.is_some() {
        return Err(fault.at(
            "directory.subdirectory",
            "not supported: name the project's directory in `path`",
        ));
    }
    // `..` is allowed: a monorepo's lockfile may name `../libs/x`. So the path alone does not
    // keep the directory inside the project; what does is the caller's check that every
    // directory package is a path requirement of the manifest (`origin::local_sources`).
    relative_path(&d.path, true).map_err(|m| fault.at("directory.path", m))?;
    Ok(LocalSource::Directory {
        path: d.path,
        editable: d.editable,
    })
}

fn checked_vcs(fault: &Fault, v: RawVcs) -> Result<LocalSource, LockError> {
    let kind = match v.kind.as_str() {
        "git" => VcsKind::Git,
        other => {
            return Err(fault.at(
                "vcs.type",
                format!("`{other}` is not supported (only `git`)"),
            ));
        }
    };
    let url = match (v.url, v.path) {
        (Some(url), None) => url,
        (None, Some(_)) => {
            return Err(fault.at(
                "vcs.path",
                "a repository named by path is not supported: give its `url`",
            ));
        }
        _ => return Err(fault.at("vcs.url", "exactly one of `url` and `path` is needed")),
    };
    checked_vcs_url(&url).map_err(|m| fault.at("vcs.url", m))?;
    if let Some(rev) = &v.requested_revision {
        checked_revision(rev).map_err(|m| fault.at("vcs.requested-revision", m))?;
    }
    let commit = &v.commit_id;
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(fault.at(
            "vcs.commit-id",
            format!("`{commit}` is not a full git commit hash (40 hex digits)"),
        ));
    }
    if let Some(sub) = &v.subdirectory {
        // Inside the repository: no `..` at all.
        relative_path(sub, false).map_err(|m| fault.at("vcs.subdirectory", m))?;
    }
    Ok(LocalSource::Vcs {
        kind,
        url,
        requested_revision: v.requested_revision,
        commit_id: commit.to_ascii_lowercase(),
        subdirectory: v.subdirectory,
    })
}

/// A sha256 digest: 64 hex digits, returned in lower case. (Regression: a digest was joined
/// onto a cache path, so `../../x` installed an arbitrary directory.)
fn checked_sha256(sha256: &str) -> Result<String, String> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{sha256}` is not a sha256 digest (64 hex digits)"));
    }
    Ok(sha256.to_ascii_lowercase())
}

/// A wheel's or sdist's URL: one that can be fetched.
fn checked_file_url(text: &str) -> Result<(), String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "https" | "http" | "file") => Ok(()),
        Ok(url) => Err(format!(
            "`{text}`: the scheme `{}` is not supported",
            url.scheme()
        )),
        Err(e) => Err(format!("`{text}` is not a URL: {e}")),
    }
}

/// A repository URL: one of [`VCS_SCHEMES`], with no credentials (a user name is allowed for
/// `ssh://git@host/...` alone: over https it is usually a token) and no fragment (the
/// revision and subdirectory have fields of their own).
fn checked_vcs_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let scheme = url.scheme();
    if let Some(plain) = scheme.strip_prefix("git+") {
        return Err(format!(
            "`{text}`: write it as a `{plain}://` URL; `type = \"git\"` says it is git"
        ));
    }
    if !VCS_SCHEMES.contains(&scheme) {
        return Err(format!(
            "`{text}`: the scheme `{scheme}` is not supported ({})",
            VCS_SCHEMES.join(", ")
        ));
    }
    if url.password().is_some() || (scheme != "ssh" && !url.username().is_empty()) {
        // The URL itself is not repeated: it holds a secret.
        return Err(format!(
            "the URL of the repository on {} carries credentials, which never belong in a lockfile",
            url.host_str().unwrap_or("its host")
        ));
    }
    if url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a fragment; the revision and subdirectory have fields of their own"
        ));
    }
    Ok(())
}

/// A requested revision reaches git as an argument: nothing that could pass for an option,
/// no whitespace or control characters.
fn checked_revision(rev: &str) -> Result<(), String> {
    if rev.is_empty() {
        return Err("is empty".to_string());
    }
    if rev.starts_with('-') {
        return Err(format!("`{rev}` starts with `-`"));
    }
    if rev.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{rev:?} holds whitespace or a control character"));
    }
    Ok(())
}

/// A relative path, `/`-separated, in its shortest form: no absolute path, drive letter,
/// backslash, control character (NUL included), empty or `.` segment. `..` segments are
/// allowed only when `parent` and only at its start (`../../libs/x`, not `a/../b`); the path
/// `.` alone is allowed when `parent` (the lockfile's own directory).
fn relative_path(path: &str, parent: bool) -> Result<(), String> {
    if path.is_empty() {
        return Err("is empty".to_string());
    }
    if path.chars().any(char::is_control) {
        return Err(format!("{path:?} holds a control character"));
    }
    if path.contains('\\') {
        return Err(format!(
            "`{path}` holds a backslash; paths are `/`-separated"
        ));
    }
    let bytes = path.as_bytes();
    if path.starts_with('/')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
    {
        return Err(format!(
            "`{path}` is absolute; paths are relative to the lockfile's directory"
        ));
    }
    if parent && path == "." {
        return Ok(());
    }
    let mut named = false;
    for segment in path.split('/') {
        match segment {
            "" | "." => {
                return Err(format!(
                    "`{path}` is not in its shortest form (an empty or `.` segment)"
                ));
            }
            ".." if !parent => {
                return Err(format!("`{path}` leaves the repository"));
            }
            ".." if named => {
                return Err(format!(
                    "`{path}` is not in its shortest form (`..` after a name)"
                ));
            }
            ".." => {}
            _ => named = true,
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawLock {
    lock_version: String,
    #[serde(default)]
    environments: Vec<String>,
    requires_python: Option<String>,
    #[serde(default)]
    packages: Vec<RawPackage>,
    tool: Option<RawTool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPackage {
    name: String,
    version: String,
    marker: Option<String>,
    requires_python: Option<String>,
    index: Option<String>,
    #[serde(default)]
    dependencies: Vec<RawDependency>,
    sdist: Option<RawFile>,
    #[serde(default)]
    wheels: Vec<RawWheel>,
    directory: Option<RawDirectory>,
    vcs: Option<RawVcs>,
    /// Only to refuse it by name.
    archive: Option<toml::Value>,
    tool: Option<RawPackageTool>,
}

#[derive(Deserialize)]
struct RawDependency {
    name: String,
}

type RawWheel = RawFile;

/// A `[packages.sdist]` or `[[packages.wheels]]` table.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    name: String,
    upload_time: Option<toml::value::Datetime>,
    url: String,
    size: Option<u64>,
    hashes: RawHashes,
}

#[derive(Deserialize)]
struct RawHashes {
    sha256: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawDirectory {
    path: String,
    #[serde(default)]
    editable: bool,
    subdirectory: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawVcs {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    path: Option<String>,
    requested_revision: Option<String>,
    commit_id: String,
    subdirectory: Option<String>,
}

#[derive(Deserialize)]
struct RawPackageTool {
    sanctuary: Option<RawPackageSanctuary>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawPackageSanctuary {
    #[serde(default)]
    direct: bool,
    #[serde(default)]
    extras: Vec<String>,
    #[serde(default)]
    dependency_markers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawTool {
    sanctuary: Option<RawSanctuary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawSanctuary {
    format: u32,
    layer: String,
    key: Option<String>,
    python: String,
    platform: String,
    inputs_hash: String,
    inputs: RawInputs,
}

#[derive(Deserialize)]
struct RawInputs {
    #[serde(default)]
    requirements: Vec<String>,
    #[serde(default)]
    constraints: Vec<String>,
    #[serde(default)]
    indexes: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    prereleases: String,
    #[serde(default)]
    foundation: Vec<String>,
    #[serde(default)]
    build: Vec<String>,
}
