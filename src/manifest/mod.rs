//! The `sanctuary.toml` manifest: its shape (serde + JSON Schema via `schemars`), parsing with
//! errors that point at the line and column, and validation of what TOML alone cannot check
//! (requirement strings, index names, hardware keys, the target).
//!
//! Pure: takes the text and the path it came from; the caller reads the file.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep508_rs::{PackageName, Requirement};
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use crate::target::Target;
use crate::universe::Universe;

pub mod build;
pub mod local;
mod platforms;

pub use build::{BuildSpec, DependencyMetadata, PackageBuildSpec};
pub use local::LocalSource;

/// The manifest as written in `sanctuary.toml`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "sanctuary.toml")]
pub struct ManifestFile {
    pub project: Project,
    /// Package indexes, in order. With none declared, PyPI is the only index; once declared,
    /// exactly these are used and the first one not marked `explicit` is the default.
    #[serde(default)]
    pub index: Vec<IndexDecl>,
    /// The hardware-keyed layer: torch and the CUDA libraries it pulls in.
    pub foundation: Option<Foundation>,
    /// Everything else, resolved against the Foundation pins.
    #[serde(default)]
    pub application: Application,
    #[serde(default)]
    pub sync: SyncDecl,
    /// Building source distributions (see [`build::BuildDecl`]).
    #[serde(default)]
    pub build: build::BuildDecl,
}

/// `[project]`
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Name of the environment.
    pub name: String,
    /// The Python the locks target (not the running interpreter): one version, e.g. `3.12`,
    /// or a range of CPython minors bounded at both ends, e.g. `>=3.11,<3.14` (3.11, 3.12 and
    /// 3.13: the lock then covers each of them).
    #[schemars(
        with = "String",
        regex(pattern = r"^(3\.[0-9]{1,2}(\.[0-9]{1,3})?|[<>=!~][<>=!~0-9., *]*)$")
    )]
    pub python: Spanned<String>,
    /// Target platform: `linux-x86_64`, `linux-aarch64` (glibc 2.28; a floor may be named as in
    /// `linux-x86_64-manylinux_2_34`), `linux-x86_64-musllinux_1_2`, `macos-arm64`,
    /// `macos-x86_64` (macOS 13.0, as uv assumes; a floor may be named as in `macos-arm64-14`
    /// or `macos-x86_64-10.15`), `windows-x86_64`. Default: the host.
    #[schemars(with = "Option<String>")]
    pub platform: Option<Spanned<String>>,
    /// Several target platforms, spelled as `platform` is: the lock covers each of them (for
    /// every Python of `python`), e.g. `["linux-x86_64", "macos-arm64", "windows-x86_64"]`.
    /// Not together with `platform`.
    #[schemars(with = "Option<Vec<String>>")]
    pub platforms: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[[index]]`
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexDecl {
    /// Name used to refer to this index (`foundation.index`, `application.sources`) and in the
    /// `SANCTUARY_INDEX_<NAME>` mirror override.
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"))]
    pub name: Spanned<String>,
    /// Simple API root (`https://pypi.org/simple`), a `file://` URL, or for `format = "flat"` a
    /// page or directory of files. May contain `{key}`, expanded per hardware key.
    #[schemars(with = "String", regex(pattern = r"^(https?|file)://"))]
    pub url: Spanned<String>,
    /// Only packages pinned to this index may come from it.
    #[serde(default)]
    pub explicit: bool,
    #[serde(default)]
    pub format: IndexFormat,
    /// Other origins (`https://host[:port]`) this index serves its files from, such as a
    /// download CDN. A lockfile's wheel URL must be on the origin of a declared index or of
    /// one listed here (PyPI's `files.pythonhosted.org` is known without being listed).
    #[serde(default, rename = "file-origins")]
    #[schemars(with = "Vec<OriginText>")]
    pub file_origins: Vec<Spanned<String>>,
}

/// The schema of one `file-origins` entry: `https://host[:port]`.
#[derive(JsonSchema)]
#[allow(dead_code, reason = "a schema only")]
struct OriginText(
    #[schemars(regex(pattern = r"^https?://[^/?#@]+/?$"))]
    String,
);

/// How an index lists its files.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IndexFormat {
    /// A PEP 503 / PEP 691 simple repository.
    #[default]
    Simple,
    /// A flat page or directory of files (pip's `--find-links`).
    Flat,
}

/// The release channel of the Foundation indexes.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    #[default]
    Stable,
    /// Nightly indexes; pre-releases allowed for the Foundation.
    Nightly,
}

/// `[foundation]`
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Foundation {
    /// Hardware keys, best first (`cu130`, `cu128`, `cu126`, `cpu`, ...).
    #[schemars(with = "Vec<String>")]
    pub keys: Vec<Spanned<String>>,
    /// Name of the index Foundation packages come from.
    #[schemars(with = "Option<String>")]
    pub index: Option<Spanned<String>>,
    #[serde(default)]
    pub channel: Channel,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub requirements: Vec<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub constraints: Vec<Spanned<String>>,
    /// Per-key overrides: `[foundation.key.cu126]`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, KeyOverride>")]
    pub key: BTreeMap<Spanned<String>, KeyOverride>,
    /// Routes packages to a named index: a Foundation package that does not live on the
    /// Foundation index (`tensorflow = "pypi"`), or a dependency that only the Foundation index
    /// has (`pytorch-triton = "pytorch"`, so the default index is never asked for it).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub sources: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// `[foundation.key.<key>]`: replaces the Foundation's requirements or constraints for one key.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyOverride {
    #[schemars(with = "Option<Vec<String>>")]
    pub requirements: Option<Vec<Spanned<String>>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub constraints: Option<Vec<Spanned<String>>>,
}

/// `[application]`
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub requirements: Vec<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub constraints: Vec<Spanned<String>>,
    /// Pins packages to a named index: `sources = { torch = "pytorch" }`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub sources: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Allow pre-releases for every application package (default: only when a requirement
    /// names one, or when nothing else fits).
    #[serde(default)]
    pub prereleases: bool,
    /// Directory projects (`name @ ./path` requirements) installed editable (PEP 660).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub editable: Vec<Spanned<String>>,
}

/// `[sync]`
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncDecl {
    /// The virtual environment `sanctuary sync` manages, relative to the manifest.
    #[serde(default = "default_venv")]
    pub venv: String,
}

impl Default for SyncDecl {
    fn default() -> Self {
        SyncDecl {
            venv: default_venv(),
        }
    }
}

fn default_venv() -> String {
    ".venv".to_string()
}

/// The JSON Schema of `sanctuary.toml`, as published in `schema/sanctuary.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ManifestFile);
    // Serialising a schema (plain maps and strings) cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serialises");
    text.push('\n');
    text
}

/// A manifest error, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", path.display())]
pub struct ManifestError {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

/// One requirement string of the manifest, parsed, with its position.
#[derive(Clone, Debug)]
pub struct ManifestRequirement {
    pub requirement: Requirement,
    /// The text as written.
    pub text: String,
    /// 1-based line in the manifest.
    pub line: usize,
    /// Where it is written in the manifest (byte offsets).
    pub span: Option<Range<usize>>,
    /// The local project it names (`name @ ./path`, `name @ git+URL@rev`), if any; then
    /// `requirement` has no URL.
    pub local: Option<LocalSource>,
}

/// A declared index, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    /// May contain `{key}`.
    pub url: String,
    pub explicit: bool,
    pub format: IndexFormat,
    /// Declared `file-origins`, as `scheme://host[:port]`.
    pub file_origins: Vec<String>,
}

/// The Foundation layer, validated.
#[derive(Clone, Debug)]
pub struct FoundationSpec {
    pub keys: Vec<String>,
    pub index: Option<String>,
    pub channel: Channel,
    pub requirements: Vec<ManifestRequirement>,
    pub constraints: Vec<ManifestRequirement>,
    /// Per-key replacements of `requirements` / `constraints`.
    pub overrides: BTreeMap<String, KeySpec>,
    /// Package → index name (`[foundation] sources`).
    pub sources: BTreeMap<PackageName, String>,
}

/// A per-key override, validated.
#[derive(Clone, Debug, Default)]
pub struct KeySpec {
    pub requirements: Option<Vec<ManifestRequirement>>,
    pub constraints: Option<Vec<ManifestRequirement>>,
}

/// The Application layer, validated.
#[derive(Clone, Debug, Default)]
pub struct ApplicationSpec {
    pub requirements: Vec<ManifestRequirement>,
    pub constraints: Vec<ManifestRequirement>,
    /// Package → index name.
    pub sources: BTreeMap<PackageName, String>,
    pub prereleases: bool,
}

/// A parsed and validated manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The file it was read from.
    pub path: PathBuf,
    pub name: String,
    /// The Python version as written (`3.12`).
    pub python: String,
    /// The platform as written, if any (`platforms` joined with `, ` when several are
    /// declared).
    pub platform: Option<String>,
    /// The first declared environment (the only one unless `platforms` or a Python range
    /// declares more).
    pub target: Target,
    /// Every declared environment: each platform for each Python minor.
    pub universe: Universe,
    /// Declared indexes in order; PyPI alone when none are declared.
    pub indexes: Vec<IndexSpec>,
    pub foundation: Option<FoundationSpec>,
    pub application: ApplicationSpec,
    pub venv: String,
    /// `[build]`: what may be built from source, and how.
    pub build: BuildSpec,
}

/// The index used when a manifest declares none.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";

impl Manifest {
    /// Parse and validate `text`, the contents of the manifest at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let mut check = Checker {
            text,
            path,
            index_names: Vec::new(),
        };
        let file: ManifestFile = toml::from_str(text).map_err(|e| {
            // toml's message repeats the location and the source line; keep its first
            // sentence-like part only, since we print the location ourselves.
            check.at(e.span(), e.message().trim().to_string())
        })?;

        let python_text = file.project.python.get_ref().clone();
        let (platform, universe) = check.universe(&file.project)?;
        let target = universe.targets()[0].clone();
        let indexes = check.indexes(&file.index)?;
        check.index_names = indexes.iter().map(|i| i.name.clone()).collect();
        let foundation = file
            .foundation
            .as_ref()
            .map(|f| check.foundation(f))
            .transpose()?;
        let application = ApplicationSpec {
            requirements: check.application_requirements(&file.application)?,
            constraints: check.index_requirements(&file.application.constraints)?,
            sources: check.sources(&file.application.sources)?,
            prereleases: file.application.prereleases,
        };
        let build = check.build(&file.build, foundation.is_some())?;
        Ok(Manifest {
            path: path.to_path_buf(),
            name: file.project.name.clone(),
            python: python_text,
            platform,
            target,
            universe,
            indexes,
            foundation,
            application,
            venv: file.sync.venv.clone(),
            build,
        })
    }

    /// Read and parse the manifest at `path`: at most [`MAX_MANIFEST_BYTES`], UTF-8.
    pub fn read(path: &Path) -> Result<Manifest, ManifestReadError> {
        use std::io::Read as _;
        let io = |source| ManifestReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(ManifestReadError::TooLarge {
                path: path.to_path_buf(),
                max: MAX_MANIFEST_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            // Everything before the error is valid UTF-8, so this cannot fail.
            let before = std::str::from_utf8(valid).unwrap_or_default();
            let (line, column) = line_column(before, before.len());
            ManifestError {
                path: path.to_path_buf(),
                line,
                column,
                message: "invalid UTF-8: a manifest must be UTF-8 text".to_string(),
            }
        })?;
        Ok(Manifest::parse(&text, path)?)
    }

    /// The manifest's file name (`sanctuary.toml`), as messages and origins about its
    /// contents name it; the whole path when it has none.
    pub fn file_name(&self) -> &Path {
        self.path.file_name().map_or(&self.path, Path::new)
    }

    /// The directory the manifest lives in; lockfiles go under `<dir>/lockfiles/`.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

/// Validation of one manifest's text, with errors located in it.
struct Checker<'a> {
    text: &'a str,
    path: &'a Path,
    /// The declared indexes, once known.
    index_names: Vec<String>,
}

impl Checker<'_> {
    /// An error at `span` (the start of the file when unknown).
    fn at(&self, span: Option<Range<usize>>, message: String) -> ManifestError {
        let (line, column) = span.map_or((1, 1), |s| line_column(self.text, s.start));
        ManifestError {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
        }
    }

    /// The declared indexes (PyPI alone when none are): unique names, URLs we can fetch.
    fn indexes(&self, decls: &[IndexDecl]) -> Result<Vec<IndexSpec>, ManifestError> {
        let mut indexes: Vec<IndexSpec> = Vec::new();
        for decl in decls {
            let name = decl.name.get_ref();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(self.at(
                    Some(decl.name.span()),
                    format!("invalid index name `{name}`: use letters, digits, `-` and `_`"),
                ));
            }
            if indexes.iter().any(|i| i.name == *name) {
                return Err(self.at(
                    Some(decl.name.span()),
                    format!("index `{name}` is declared twice"),
                ));
            }
            let url = decl.url.get_ref();
            check_index_url(url.as_str(), name)
                .map_err(|message| self.at(Some(decl.url.span()), message))?;
            let file_origins = decl
                .file_origins
                .iter()
                .map(|o| check_origin(o.get_ref(), name).map_err(|m| self.at(Some(o.span()), m)))
                .collect::<Result<Vec<_>, _>>()?;
            indexes.push(IndexSpec {
                name: name.clone(),
                url: url.clone(),
                explicit: decl.explicit,
                format: decl.format,
                file_origins,
            });
        }
        if indexes.is_empty() {
            indexes.push(IndexSpec {
                name: "pypi".to_string(),
                url: DEFAULT_INDEX_URL.to_string(),
                explicit: false,
                format: IndexFormat::Simple,
                file_origins: Vec::new(),
            });
        }
        Ok(indexes)
    }

    /// A name of a declared index.
    fn index(&self, name: &Spanned<String>) -> Result<String, ManifestError> {
        if self.index_names.iter().any(|n| n == name.get_ref()) {
            return Ok(name.get_ref().clone());
        }
        Err(self.at(
            Some(name.span()),
            format!(
                "unknown index `{}`: declared indexes are {}",
                name.get_ref(),
                self.index_names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    fn requirements(
        &self,
        list: &[Spanned<String>],
    ) -> Result<Vec<ManifestRequirement>, ManifestError> {
        list.iter()
            .map(|item| {
                parse_requirement(self.text, item).map_err(|m| self.at(Some(item.span()), m))
            })
            .collect()
    }

    /// Requirements that must come from an index (constraints, the Foundation's).
    fn index_requirements(
        &self,
        list: &[Spanned<String>],
    ) -> Result<Vec<ManifestRequirement>, ManifestError> {
        let parsed = self.requirements(list)?;
        if let Some(r) = parsed.iter().find(|r| r.local.is_some()) {
            return Err(self.at(
                r.span.clone(),
                format!(
                    "`{}` names a local project; only application requirements may",
                    r.text
                ),
            ));
        }
        Ok(parsed)
    }

    /// The Application's requirements, with `editable` applied to their directory projects.
    fn application_requirements(
        &self,
        application: &Application,
    ) -> Result<Vec<ManifestRequirement>, ManifestError> {
        let mut parsed = self.requirements(&application.requirements)?;
        for name in &application.editable {
            let wanted = PackageName::from_str(name.get_ref()).ok();
            let found = parsed
                .iter_mut()
                .find(|r| Some(&r.requirement.name) == wanted.as_ref());
            match found.and_then(|r| r.local.as_mut()) {
                Some(LocalSource::Directory { editable, .. }) => *editable = true,
                _ => {
                    return Err(self.at(
                        Some(name.span()),
                        format!(
                            "`{}` is listed as editable, but no requirement names it as a directory (`{} @ ./path`)",
                            name.get_ref(),
                            name.get_ref()
                        ),
                    ));
                }
            }
        }
        Ok(parsed)
    }

    /// A `sources` table: package → a declared index.
    fn sources(
        &self,
        table: &BTreeMap<Spanned<String>, Spanned<String>>,
    ) -> Result<BTreeMap<PackageName, String>, ManifestError> {
        let mut out = BTreeMap::new();
        for (package, index) in table {
            let name = PackageName::from_str(package.get_ref()).map_err(|e| {
                self.at(
                    Some(package.span()),
                    format!("invalid package name `{}`: {e}", package.get_ref()),
                )
            })?;
            out.insert(name, self.index(index)?);
        }
        Ok(out)
    }

    /// The hardware keys: valid, each once, at least one.
    fn keys(&self, declared: &[Spanned<String>]) -> Result<Vec<String>, ManifestError> {
        let mut keys: Vec<String> = Vec::new();
        for key in declared {
            let k = key.get_ref();
            if !is_valid_key(k) {
                return Err(self.at(
                    Some(key.span()),
                    format!(
                        "invalid hardware key `{k}`: use lowercase letters, digits and `-` (e.g. cu130, cpu, rocm6-4)"
                    ),
                ));
            }
            if keys.contains(k) {
                return Err(self.at(Some(key.span()), format!("key `{k}` is listed twice")));
            }
            keys.push(k.clone());
        }
        if keys.is_empty() {
            return Err(self.at(
                None,
                "`foundation.keys` must list at least one hardware key".to_string(),
            ));
        }
        Ok(keys)
    }

    fn foundation(&self, f: &Foundation) -> Result<FoundationSpec, ManifestError> {
        let keys = self.keys(&f.keys)?;
        let index = f.index.as_ref().map(|i| self.index(i)).transpose()?;
        let mut overrides = BTreeMap::new();
        for (key, o) in &f.key {
            if !keys.contains(key.get_ref()) {
                return Err(self.at(
                    Some(key.span()),
                    format!(
                        "override for key `{}`, which `foundation.keys` does not list",
                        key.get_ref()
                    ),
                ));
            }
            let list = |l: &Option<Vec<Spanned<String>>>| {
                l.as_deref().map(|l| self.index_requirements(l)).transpose()
            };
            overrides.insert(
                key.get_ref().clone(),
                KeySpec {
                    requirements: list(&o.requirements)?,
                    constraints: list(&o.constraints)?,
                },
            );
        }
        let constraints = self.index_requirements(&f.constraints)?;
        let every_constraint = constraints.iter().chain(
            overrides
                .values()
                .flat_map(|o: &KeySpec| o.constraints.iter().flatten()),
        );
        for c in every_constraint {
            bare_constraint(c, index.as_deref()).map_err(|m| self.at(c.span.clone(), m))?;
        }
        Ok(FoundationSpec {
            keys,
            index,
            channel: f.channel,
            requirements: self.index_requirements(&f.requirements)?,
            constraints,
            overrides,
            sources: self.sources(&f.sources)?,
        })
    }
}

/// Reading a manifest from disk failed.
#[derive(Debug, thiserror::Error)]
pub enum ManifestReadError {
    #[error("cannot read the manifest {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot read the manifest {}: it is larger than {} MiB, which no manifest needs",
        path.display(),
        max / (1024 * 1024)
    )]
    TooLarge { path: PathBuf, max: u64 },
    #[error(transparent)]
    Invalid(#[from] ManifestError),
}

/// The largest manifest read (a manifest is a few kilobytes; this stops `/dev/zero`).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// The URL schemes sanctuary fetches from.
pub const URL_SCHEMES: &[&str] = &["https", "http", "file"];

/// An index URL (`{key}` and `{channel}` allowed) that parses and has a scheme we fetch.
fn check_index_url(url: &str, name: &str) -> Result<(), String> {
    let probe = url.replace("{key}", "cpu").replace("{channel}", "nightly");
    match url::Url::parse(&probe) {
        Err(e) => Err(format!("invalid URL `{url}` for index `{name}`: {e}")),
        Ok(parsed) if !URL_SCHEMES.contains(&parsed.scheme()) => Err(format!(
            "index `{name}`: the URL scheme `{}` is not supported (use https, http or file)",
            parsed.scheme()
        )),
        Ok(_) => Ok(()),
    }
}

/// A `file-origins` entry: `scheme://host[:port]`, nothing else, as its canonical text.
fn check_origin(text: &str, index: &str) -> Result<String, String> {
    let bad = |why: &str| format!("file-origins of index `{index}`: `{text}` {why}");
    let url = url::Url::parse(text).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(bad("must be an http or https origin"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "must be an origin alone (`https://host[:port]`), without a path",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not hold credentials"));
    }
    Ok(url.origin().ascii_serialization())
}

/// A Foundation constraint that names no version constrains nothing. It used to route the
/// package to the Foundation index; that is `[foundation] sources` now, and saying so keeps a
/// manifest written for the old rule from taking the package from the default index unawares
/// (the `torchtriton` dependency-confusion attack of 2022).
fn bare_constraint(c: &ManifestRequirement, index: Option<&str>) -> Result<(), String> {
    let r = &c.requirement;
    if r.version_or_url.is_some() || r.marker.contents().is_some() {
        return Ok(());
    }
    Err(format!(
        "Foundation constraint `{}` names no version, so it constrains nothing; to take {} from the Foundation index, write `sources = {{ {} = \"{}\" }}` under [foundation]",
        c.text,
        r.name,
        r.name,
        index.unwrap_or("<index>")
    ))
}

fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parse one requirement string; errors are messages (the caller adds the location).
fn parse_requirement(text: &str, item: &Spanned<String>) -> Result<ManifestRequirement, String> {
    let raw = item.get_ref();
    if let Some((requirement, local)) = local::split_local(raw)? {
        return Ok(ManifestRequirement {
            requirement,
            text: raw.clone(),
            line: line_column(text, item.span().start).0,
            span: Some(item.span()),
            local: Some(local),
        });
    }
    let requirement = crate::requirement::parse(raw).map_err(|e| {
        format!(
            "invalid requirement `{raw}`: {}",
            first_line(&e.to_string())
        )
    })?;
    if requirement
        .version_or_url
        .as_ref()
        .is_some_and(|v| matches!(v, pep508_rs::VersionOrUrl::Url(_)))
    {
        return Err(format!(
            "requirement `{raw}` names a URL; sanctuary locks from indexes only (declare an [[index]] instead)"
        ));
    }
    Ok(ManifestRequirement {
        requirement,
        text: raw.clone(),
        line: line_column(text, item.span().start).0,
        span: Some(item.span()),
        local: None,
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

impl fmt::Display for ManifestRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;
