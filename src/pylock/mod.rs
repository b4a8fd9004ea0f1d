//! PEP 751 lockfiles (`pylock.<name>.toml`): the data model, a deterministic writer and a
//! reader. Pure: strings in, strings out; the caller does the file I/O.
//!
//! The writer is hand-rolled rather than `toml::to_string` because the layout is part of the
//! product: packages sorted by name, one field a line, wheels as `[[packages.wheels]]` tables,
//! dependencies one per line, so that lockfile diffs in code review stay short and stable.

pub mod diff;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::Deserialize;

use crate::wheel::WheelFilename;

pub mod graph;
pub mod origin;

/// The PEP 751 version this writer produces.
pub const LOCK_VERSION: &str = "1.0";

/// Bumped whenever the meaning of `[tool.sanctuary]` changes, so old lockfiles read as stale.
pub const FORMAT_VERSION: u32 = 1;

/// A whole lockfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lockfile {
    /// PEP 508 marker describing the target, e.g.
    /// `python_full_version == '3.12.0' and sys_platform == 'linux' and platform_machine == 'x86_64'`.
    pub environment: String,
    /// `==3.12.*`: the Python the lock targets.
    pub requires_python: String,
    pub packages: Vec<LockedPackage>,
    pub tool: ToolTable,
}

/// One `[[packages]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: PackageName,
    pub version: Version,
    /// The simple index URL the package came from.
    pub index: String,
    pub requires_python: Option<String>,
    /// Names of the packages this one depends on, sorted.
    pub dependencies: Vec<PackageName>,
    pub wheels: Vec<LockedWheel>,
    /// Required by the layer's own requirements (not only transitively).
    pub direct: bool,
    /// Extras of this package that were requested, sorted.
    pub extras: Vec<String>,
}

/// One `[[packages.wheels]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedWheel {
    pub name: String,
    pub url: String,
    pub size: Option<u64>,
    /// RFC 3339, e.g. `2024-05-01T12:30:00Z`.
    pub upload_time: Option<String>,
    pub sha256: String,
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
        let _ = writeln!(
            out,
            "environments = {}",
            string_array(std::slice::from_ref(&self.environment))
        );
        let _ = writeln!(out, "requires-python = {}", quote(&self.requires_python));
        let _ = writeln!(out, "created-by = \"sanctuary\"");

        let mut packages: Vec<&LockedPackage> = self.packages.iter().collect();
        packages.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        for p in packages {
            out.push_str("\n[[packages]]\n");
            let _ = writeln!(out, "name = {}", quote(p.name.as_ref()));
            let _ = writeln!(out, "version = {}", quote(&p.version.to_string()));
            if let Some(rp) = &p.requires_python {
                let _ = writeln!(out, "requires-python = {}", quote(rp));
            }
            let _ = writeln!(out, "index = {}", quote(&p.index));
            if p.dependencies.is_empty() {
                out.push_str("dependencies = []\n");
            } else {
                out.push_str("dependencies = [\n");
                for d in &p.dependencies {
                    let _ = writeln!(out, "    {{ name = {} }},", quote(d.as_ref()));
                }
                out.push_str("]\n");
            }
            for w in &p.wheels {
                out.push_str("\n[[packages.wheels]]\n");
                let _ = writeln!(out, "name = {}", quote(&w.name));
                if let Some(t) = &w.upload_time {
                    // A TOML offset date-time, unquoted (PEP 751 `upload-time`).
                    let _ = writeln!(out, "upload-time = {t}");
                }
                let _ = writeln!(out, "url = {}", quote(&w.url));
                if let Some(size) = w.size {
                    let _ = writeln!(out, "size = {size}");
                }
                let _ = writeln!(out, "hashes = {{ sha256 = {} }}", quote(&w.sha256));
            }
            if p.direct || !p.extras.is_empty() {
                out.push_str("\n[packages.tool.sanctuary]\n");
                let _ = writeln!(out, "direct = {}", p.direct);
                if !p.extras.is_empty() {
                    let _ = writeln!(out, "extras = {}", inline_array(&p.extras));
                }
            }
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
        out
    }

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
        let mut packages = Vec::new();
        for p in raw.packages {
            let name = PackageName::from_str(&p.name)
                .map_err(|e| LockError::Parse(format!("package name `{}`: {e}", p.name)))?;
            let version = Version::from_str(&p.version).map_err(|e| {
                LockError::Parse(format!("version `{}` of `{}`: {e}", p.version, p.name))
            })?;
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
                .map(|(i, w)| checked_wheel(&name, &version, i, w))
                .collect::<Result<Vec<_>, _>>()?;
            let extra = p.tool.and_then(|t| t.sanctuary).unwrap_or_default();
            packages.push(LockedPackage {
                name,
                version,
                index: p.index.unwrap_or_default(),
                requires_python: p.requires_python,
                dependencies,
                wheels,
                direct: extra.direct,
                extras: extra.extras,
            });
        }
        let inputs = tool.inputs;
        Ok(Lockfile {
            environment: raw.environments.into_iter().next().unwrap_or_default(),
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
                },
            },
        })
    }

    /// An Application lockfile with no packages, for tests.
    #[cfg(test)]
    pub(crate) fn empty_for_tests() -> Lockfile {
        Lockfile {
            environment: String::new(),
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

    /// The locked version of every package, for preferences when re-locking.
    pub fn versions(&self) -> BTreeMap<PackageName, Version> {
        self.packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect()
    }
}

/// A `[[packages.wheels]]` entry checked before anything uses it: the values of a lockfile
/// become cache paths, download URLs and file names, and lockfiles arrive in pull requests.
fn checked_wheel(
    package: &PackageName,
    version: &Version,
    index: usize,
    w: RawWheel,
) -> Result<LockedWheel, LockError> {
    let field = |field: &str, message: String| LockError::Field {
        package: package.to_string(),
        version: version.to_string(),
        field: format!("wheels[{index}].{field}"),
        message,
    };
    let sha256 = w.hashes.sha256;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(field(
            "hashes.sha256",
            format!("`{sha256}` is not a sha256 digest (64 hex digits)"),
        ));
    }
    let parsed: WheelFilename = w
        .name
        .parse()
        .map_err(|e: crate::wheel::FilenameError| field("name", e.to_string()))?;
    if &parsed.name != package || &parsed.version != version {
        return Err(field(
            "name",
            format!(
                "`{}` is a wheel of {} {}, not of this package",
                w.name, parsed.name, parsed.version
            ),
        ));
    }
    match url::Url::parse(&w.url) {
        Ok(url) if matches!(url.scheme(), "https" | "http" | "file") => {}
        Ok(url) => {
            return Err(field(
                "url",
                format!(
                    "`{}`: the scheme `{}` is not supported",
                    w.url,
                    url.scheme()
                ),
            ));
        }
        Err(e) => return Err(field("url", format!("`{}` is not a URL: {e}", w.url))),
    }
    Ok(LockedWheel {
        name: w.name,
        url: w.url,
        size: w.size,
        upload_time: w.upload_time.map(|t| t.to_string()),
        sha256: sha256.to_ascii_lowercase(),
    })
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
    requires_python: Option<String>,
    index: Option<String>,
    #[serde(default)]
    dependencies: Vec<RawDependency>,
    #[serde(default)]
    wheels: Vec<RawWheel>,
    tool: Option<RawPackageTool>,
}

#[derive(Deserialize)]
struct RawDependency {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawWheel {
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
struct RawPackageTool {
    sanctuary: Option<RawPackageSanctuary>,
}

#[derive(Deserialize, Default)]
struct RawPackageSanctuary {
    #[serde(default)]
    direct: bool,
    #[serde(default)]
    extras: Vec<String>,
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
}

#[cfg(test)]
mod tests;
