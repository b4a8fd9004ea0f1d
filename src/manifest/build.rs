//! The `[build]` table of `sanctuary.toml`: whether source distributions may be built, the
//! packages built against the installed Foundation (with their build requirements and
//! environment variables), the time a build backend may take, and metadata declared for
//! packages whose metadata cannot be computed without building (uv's `dependency-metadata`).
//! Its serde shape (published in the schema) and its validation into a [`BuildSpec`].

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::{Checker, ManifestError};

/// The seconds a build backend hook may run when `[build] timeout` is not given.
pub const DEFAULT_BUILD_TIMEOUT_SECS: u64 = 3600;

/// `[build]`: building source distributions. Build backends are code from the package's
/// authors, run as you: `no-build` keeps every backend from running.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildDecl {
    /// Never build: versions published only as source distributions are skipped (with a
    /// warning when a newer one would have been chosen).
    #[serde(default)]
    pub no_build: bool,
    /// Never build these packages.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub no_build_package: Vec<Spanned<String>>,
    /// Seconds one build backend hook may run before it is stopped (default 3600).
    pub timeout: Option<u64>,
    /// Per-package build settings: `[build.package.flash-attn]`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, PackageBuildDecl>")]
    pub package: BTreeMap<Spanned<String>, PackageBuildDecl>,
    /// Metadata of packages whose metadata needs a build to compute (for instance the GPU
    /// stack): the lock uses it instead of building.
    #[serde(default)]
    pub dependency_metadata: Vec<DependencyMetadataDecl>,
}

/// `[build.package.<name>]`
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackageBuildDecl {
    /// Build against the Foundation: without isolation, in an environment holding exactly the
    /// key's Foundation lockfile plus `requires` (flash-attn, xformers, mamba-ssm, deepspeed).
    #[serde(default)]
    pub foundation: bool,
    /// Build requirements added to the build environment (for a Foundation build, the only
    /// ones besides the Foundation: list the backend's own, e.g. `setuptools`, `ninja`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub requires: Vec<Spanned<String>>,
    /// Environment variables of the build (`MAX_JOBS`, `TORCH_CUDA_ARCH_LIST`, ...). They are
    /// part of the built wheel's cache key.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: BTreeMap<Spanned<String>, String>,
}

/// `[[build.dependency-metadata]]`
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DependencyMetadataDecl {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The version it describes; every version when absent.
    #[schemars(with = "Option<String>")]
    pub version: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub requires_dist: Vec<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub requires_python: Option<Spanned<String>>,
    #[serde(default)]
    pub provides_extra: Vec<String>,
}

/// `[build]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildSpec {
    pub no_build: bool,
    pub no_build_package: BTreeSet<PackageName>,
    pub timeout_secs: u64,
    pub packages: BTreeMap<PackageName, PackageBuildSpec>,
    pub dependency_metadata: Vec<DependencyMetadata>,
}

impl Default for BuildSpec {
    fn default() -> Self {
        BuildSpec {
            no_build: false,
            no_build_package: BTreeSet::new(),
            timeout_secs: DEFAULT_BUILD_TIMEOUT_SECS,
            packages: BTreeMap::new(),
            dependency_metadata: Vec::new(),
        }
    }
}

impl BuildSpec {
    /// Whether `name` may be built from source.
    pub fn allows(&self, name: &PackageName) -> bool {
        !self.no_build && !self.no_build_package.contains(name)
    }

    /// The canonical lines of what changes a resolution (`lock` inputs): the build switches
    /// and the declared metadata; timeouts and build variables do not change what is locked.
    pub fn lock_inputs(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.no_build {
            out.push("no-build".to_string());
        }
        for name in &self.no_build_package {
            out.push(format!("no-build-package={name}"));
        }
        for m in &self.dependency_metadata {
            out.push(m.canonical());
        }
        out
    }
}

/// `[build.package.<name>]`, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageBuildSpec {
    pub foundation: bool,
    pub requires: Vec<Requirement>,
    pub env: BTreeMap<String, String>,
}

/// One `[[build.dependency-metadata]]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyMetadata {
    pub name: PackageName,
    pub version: Option<Version>,
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
    pub provides_extra: Vec<ExtraName>,
}

impl DependencyMetadata {
    /// One line that changes whenever the declaration does.
    pub fn canonical(&self) -> String {
        let version = self
            .version
            .as_ref()
            .map(|v| format!("=={v}"))
            .unwrap_or_default();
        let deps: Vec<String> = self.requires_dist.iter().map(|r| r.to_string()).collect();
        let extras: Vec<String> = self.provides_extra.iter().map(|e| e.to_string()).collect();
        format!(
            "metadata {}{version}: requires-dist [{}] requires-python [{}] provides-extra [{}]",
            self.name,
            deps.join(", "),
            self.requires_python
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            extras.join(", ")
        )
    }

    /// Whether this declaration describes `name==version`.
    pub fn describes(&self, name: &PackageName, version: &Version) -> bool {
        &self.name == name && self.version.as_ref().is_none_or(|v| v == version)
    }
}

/// Variables a build may not set: sanctuary sets them to isolate the build.
const RESERVED_VARS: &[&str] = &[
    "PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONNOUSERSITE",
    "VIRTUAL_ENV",
];

impl Checker<'_> {
    /// `[build]`, validated; `has_foundation` says whether Foundation builds can have one.
    pub(super) fn build(
        &self,
        decl: &BuildDecl,
        has_foundation: bool,
    ) -> Result<BuildSpec, ManifestError> {
        let mut spec = BuildSpec {
            no_build: decl.no_build,
            timeout_secs: decl.timeout.unwrap_or(DEFAULT_BUILD_TIMEOUT_SECS),
            ..BuildSpec::default()
        };
        if spec.timeout_secs == 0 {
            return Err(self.at(
                None,
                "`build.timeout` must be at least 1 second".to_string(),
            ));
        }
        for item in &decl.no_build_package {
            spec.no_build_package.insert(self.package_name(item)?);
        }
        for (name, package) in &decl.package {
            let parsed = self.package_name(name)?;
            if package.foundation && !has_foundation {
                return Err(self.at(
                    Some(name.span()),
                    format!("`{parsed}` is built against the Foundation, but the manifest declares no `[foundation]`"),
                ));
            }
            if package.foundation && !spec.allows(&parsed) {
                return Err(self.at(
                    Some(name.span()),
                    format!("`{parsed}` is built against the Foundation, but building it is switched off (`no-build`)"),
                ));
            }
            let mut env = BTreeMap::new();
            for (var, value) in &package.env {
                check_variable(var.get_ref()).map_err(|m| self.at(Some(var.span()), m))?;
                env.insert(var.get_ref().clone(), value.clone());
            }
            let requires = self
                .index_requirements(&package.requires)?
                .into_iter()
                .map(|r| r.requirement)
                .collect();
            spec.packages.insert(
                parsed,
                PackageBuildSpec {
                    foundation: package.foundation,
                    requires,
                    env,
                },
            );
        }
        for m in &decl.dependency_metadata {
            spec.dependency_metadata.push(self.dependency_metadata(m)?);
        }
        Ok(spec)
    }

    fn package_name(&self, item: &Spanned<String>) -> Result<PackageName, ManifestError> {
        PackageName::from_str(item.get_ref()).map_err(|e| {
            self.at(
                Some(item.span()),
                format!("invalid package name `{}`: {e}", item.get_ref()),
            )
        })
    }

    fn dependency_metadata(
        &self,
        decl: &DependencyMetadataDecl,
    ) -> Result<DependencyMetadata, ManifestError> {
        let name = self.package_name(&decl.name)?;
        let version = decl
            .version
            .as_ref()
            .map(|v| {
                Version::from_str(v.get_ref()).map_err(|e| {
                    self.at(
                        Some(v.span()),
                        format!("invalid version `{}` for `{name}`: {e}", v.get_ref()),
                    )
                })
            })
            .transpose()?;
        let requires_dist = self
            .index_requirements(&decl.requires_dist)?
            .into_iter()
            .map(|r| r.requirement)
            .collect();
        let requires_python = decl
            .requires_python
            .as_ref()
            .map(|s| {
                VersionSpecifiers::from_str(s.get_ref()).map_err(|e| {
                    self.at(
                        Some(s.span()),
                        format!(
                            "invalid requires-python `{}` for `{name}`: {e}",
                            s.get_ref()
                        ),
                    )
                })
            })
            .transpose()?;
        let provides_extra = decl
            .provides_extra
            .iter()
            .map(|e| {
                ExtraName::from_str(e).map_err(|err| {
                    self.at(
                        Some(decl.name.span()),
                        format!("invalid extra `{e}` for `{name}`: {err}"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(DependencyMetadata {
            name,
            version,
            requires_dist,
            requires_python,
            provides_extra,
        })
    }
}

/// An environment variable name a build may set.
fn check_variable(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "invalid environment variable name `{name}`: use letters, digits and `_`"
        ));
    }
    if RESERVED_VARS.contains(&name) {
        return Err(format!(
            "`{name}` is set by sanctuary to isolate the build and cannot be declared"
        ));
    }
    Ok(())
}
