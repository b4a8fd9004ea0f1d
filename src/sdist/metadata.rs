//! What an sdist states about itself without a build (pure: no I/O).
//!
//! - [`from_pkg_info`]: its `PKG-INFO` (PEP 643), trusted when its `Metadata-Version` is 2.2
//!   or later and none of `Requires-Dist`, `Requires-Python` and `Provides-Extra` is
//!   `Dynamic`: a backend then promises a built wheel states the same.
//! - [`from_pyproject`]: its `pyproject.toml` `[project]` table (PEP 621), trusted when
//!   `dependencies`, `optional-dependencies` and `requires-python` are not `dynamic`.
//! - [`build_system`]: its `[build-system]` (PEP 517 / PEP 518), or the legacy setuptools
//!   default.
//!
//! `None` means "build it to know"; an error means the sdist contradicts itself (another
//! name or version than its file name says, a requirement that does not parse).

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{
    ExtraName, ExtraOperator, MarkerExpression, MarkerTree, MarkerValueExtra, PackageName,
    Requirement,
};

use super::{BuildSystem, SdistError};
use crate::index::CoreMetadata;
use crate::index::metadata::{field_values, parse_metadata};

/// The backend of a project without `build-system.build-backend` (PEP 517).
pub const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";
/// `build-system.requires` of a project without `[build-system]` (PEP 518, as pip has it).
pub const LEGACY_REQUIRES: &str = "setuptools>=40.8.0";

/// The fields whose being static makes an sdist's dependencies known without a build.
const DEPENDENCY_FIELDS_PKG_INFO: [&str; 3] =
    ["requires-dist", "requires-python", "provides-extra"];
const DEPENDENCY_FIELDS_PYPROJECT: [&str; 3] =
    ["dependencies", "optional-dependencies", "requires-python"];

/// The core metadata of `PKG-INFO`, when it is static; see the module documentation. Its
/// name and version must be `expected_name` and `expected_version` (normalized).
pub fn from_pkg_info(
    bytes: &[u8],
    expected_name: &PackageName,
    expected_version: &Version,
) -> Result<Option<CoreMetadata>, SdistError> {
    const FILE: &str = "PKG-INFO";
    let Some(metadata_version) = field_values(bytes, "Metadata-Version").into_iter().next() else {
        return Ok(None);
    };
    if !matches!(metadata_version_of(&metadata_version), Some(v) if v >= (2, 2)) {
        return Ok(None);
    }
    let dynamic = field_values(bytes, "Dynamic");
    if dynamic.iter().any(|field| {
        DEPENDENCY_FIELDS_PKG_INFO
            .iter()
            .any(|d| field.trim().eq_ignore_ascii_case(d))
    }) {
        return Ok(None);
    }
    let bad = |reason: String| SdistError::Metadata {
        package: format!("{expected_name} {expected_version}"),
        file: FILE,
        reason,
    };
    let metadata = parse_metadata(bytes, FILE).map_err(|e| bad(e.to_string()))?;
    check_identity(
        FILE,
        expected_name,
        expected_version,
        &metadata.name,
        &metadata.version,
    )?;
    // `parse_metadata` skips invalid values (old wheels have them); static metadata that
    // dropped one would hide a dependency, so each is read again here, strictly.
    for value in field_values(bytes, "Requires-Dist") {
        crate::requirement::parse(value.trim())
            .map(|_: Requirement| ())
            .map_err(|e| bad(format!("invalid Requires-Dist `{value}`: {e}")))?;
    }
    for value in field_values(bytes, "Requires-Python") {
        if !value.trim().is_empty() {
            VersionSpecifiers::from_str(value.trim())
                .map_err(|e| bad(format!("invalid Requires-Python `{value}`: {e}")))?;
        }
    }
    for value in field_values(bytes, "Provides-Extra") {
        ExtraName::from_str(value.trim())
            .map_err(|e| bad(format!("invalid Provides-Extra `{value}`: {e}")))?;
    }
    Ok(Some(metadata))
}

/// `major.minor` of a `Metadata-Version`.
fn metadata_version_of(value: &str) -> Option<(u64, u64)> {
    let mut parts = value.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// The name and version a file states are the sdist's.
fn check_identity(
    file: &'static str,
    expected_name: &PackageName,
    expected_version: &Version,
    name: &PackageName,
    version: &Version,
) -> Result<(), SdistError> {
    if name != expected_name || version != expected_version {
        return Err(SdistError::Mismatch {
            file,
            expected: format!("{expected_name} {expected_version}"),
            found: format!("{name} {version}"),
        });
    }
    Ok(())
}

/// The core metadata of `pyproject.toml`'s `[project]` table, when its dependencies are
/// static; see the module documentation. `None` too when it has no `[project]`. Its name,
/// and its version unless `dynamic`, must be `expected_name` and `expected_version`.
pub fn from_pyproject(
    text: &str,
    expected_name: &PackageName,
    expected_version: &Version,
) -> Result<Option<CoreMetadata>, SdistError> {
    const FILE: &str = "pyproject.toml";
    let bad = |reason: String| SdistError::Metadata {
        package: format!("{expected_name} {expected_version}"),
        file: FILE,
        reason,
    };
    let document: toml::Table =
        toml::from_str(text).map_err(|e| bad(format!("invalid TOML: {e}")))?;
    let Some(project) = document.get("project") else {
        return Ok(None);
    };
    let project = project
        .as_table()
        .ok_or_else(|| bad("`project` is not a table".to_string()))?;
    let dynamic = string_array(project, "dynamic")
        .map_err(&bad)?
        .unwrap_or_default();
    if dynamic
        .iter()
        .any(|field| DEPENDENCY_FIELDS_PYPROJECT.contains(&field.as_str()))
    {
        return Ok(None);
    }
    let name = match project.get("name").map(toml::Value::as_str) {
        Some(Some(name)) => PackageName::from_str(name)
            .map_err(|e| bad(format!("invalid `project.name` `{name}`: {e}")))?,
        Some(None) => return Err(bad("`project.name` is not a string".to_string())),
        None => return Err(bad("`[project]` has no `name`".to_string())),
    };
    let version = if dynamic.iter().any(|field| field == "version") {
        expected_version.clone()
    } else {
        match project.get("version").map(toml::Value::as_str) {
            Some(Some(version)) => Version::from_str(version)
                .map_err(|e| bad(format!("invalid `project.version` `{version}`: {e}")))?,
            Some(None) => return Err(bad("`project.version` is not a string".to_string())),
            None => {
                return Err(bad(
                    "`[project]` has no `version` and does not list it in `dynamic`".to_string(),
                ));
            }
        }
    };
    check_identity(FILE, expected_name, expected_version, &name, &version)?;
    let requires_python = match project.get("requires-python").map(toml::Value::as_str) {
        Some(Some(spec)) => Some(
            VersionSpecifiers::from_str(spec)
                .map_err(|e| bad(format!("invalid `project.requires-python` `{spec}`: {e}")))?,
        ),
        Some(None) => return Err(bad("`project.requires-python` is not a string".to_string())),
        None => None,
    };
    let mut requires_dist = Vec::new();
    for requirement in string_array(project, "dependencies")
        .map_err(&bad)?
        .unwrap_or_default()
    {
        requires_dist.push(crate::requirement::parse(&requirement).map_err(|e| {
            bad(format!(
                "invalid requirement `{requirement}` in `project.dependencies`: {e}"
            ))
        })?);
    }
    let provides_extra = optional_dependencies(project, &mut requires_dist).map_err(&bad)?;
    Ok(Some(CoreMetadata {
        name,
        version,
        requires_dist,
        requires_python,
        provides_extra,
    }))
}

/// `project.optional-dependencies`: each requirement, under `extra == "name"`, added to
/// `requires_dist`; the extras, in the table's order.
fn optional_dependencies(
    project: &toml::Table,
    requires_dist: &mut Vec<Requirement>,
) -> Result<Vec<ExtraName>, String> {
    let Some(table) = project.get("optional-dependencies") else {
        return Ok(Vec::new());
    };
    let table = table
        .as_table()
        .ok_or("`project.optional-dependencies` is not a table")?;
    let mut extras: Vec<ExtraName> = Vec::with_capacity(table.len());
    for (key, value) in table {
        let extra = ExtraName::from_str(key).map_err(|e| {
            format!("invalid extra name `{key}` in `project.optional-dependencies`: {e}")
        })?;
        if extras.contains(&extra) {
            return Err(format!(
                "`project.optional-dependencies` names the extra `{extra}` twice"
            ));
        }
        let field = format!("project.optional-dependencies.{key}");
        for requirement in strings(value, &field)? {
            let mut parsed = crate::requirement::parse(&requirement)
                .map_err(|e| format!("invalid requirement `{requirement}` in `{field}`: {e}"))?;
            parsed
                .marker
                .and(MarkerTree::expression(MarkerExpression::Extra {
                    operator: ExtraOperator::Equal,
                    name: MarkerValueExtra::Extra(extra.clone()),
                }));
            requires_dist.push(parsed);
        }
        extras.push(extra);
    }
    Ok(extras)
}

/// `table.key` as an array of strings, `None` when absent.
fn string_array(table: &toml::Table, key: &str) -> Result<Option<Vec<String>>, String> {
    table
        .get(key)
        .map(|value| strings(value, &format!("project.{key}")))
        .transpose()
}

fn strings(value: &toml::Value, field: &str) -> Result<Vec<String>, String> {
    let not_strings = || format!("`{field}` is not an array of strings");
    value
        .as_array()
        .ok_or_else(not_strings)?
        .iter()
        .map(|item| item.as_str().map(str::to_string).ok_or_else(not_strings))
        .collect()
}

/// The `[build-system]` of `pyproject` (the file's text, `None` when the sdist has none):
/// `requires` (required in the table), `build-backend` (absent: [`LEGACY_BACKEND`]) and
/// `backend-path` (each relative and inside the source tree). Without a file or a table,
/// the legacy default: [`LEGACY_REQUIRES`] and [`LEGACY_BACKEND`].
pub fn build_system(pyproject: Option<&str>) -> Result<BuildSystem, SdistError> {
    let bad = |reason: String| SdistError::BuildSystem { reason };
    let legacy_requires = || {
        // A constant that parses.
        Requirement::from_str(LEGACY_REQUIRES).map_err(|e| bad(e.to_string()))
    };
    let table = match pyproject {
        None => None,
        Some(text) => {
            let document: toml::Table =
                toml::from_str(text).map_err(|e| bad(format!("invalid TOML: {e}")))?;
            document.get("build-system").cloned()
        }
    };
    let Some(table) = table else {
        return Ok(BuildSystem {
            requires: vec![legacy_requires()?],
            backend: LEGACY_BACKEND.to_string(),
            backend_path: Vec::new(),
        });
    };
    let table = table
        .as_table()
        .ok_or_else(|| bad("`build-system` is not a table".to_string()))?;
    let requires = table
        .get("requires")
        .ok_or_else(|| bad("`[build-system]` has no `requires`".to_string()))?;
    let requires = strings(requires, "build-system.requires")
        .map_err(&bad)?
        .into_iter()
        .map(|requirement| {
            crate::requirement::parse(&requirement).map_err(|e| {
                bad(format!(
                    "invalid requirement `{requirement}` in `build-system.requires`: {e}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let backend = match table.get("build-backend") {
        None => LEGACY_BACKEND.to_string(),
        Some(value) => {
            let backend = value
                .as_str()
                .ok_or_else(|| bad("`build-system.build-backend` is not a string".to_string()))?;
            if !is_object_reference(backend) {
                return Err(bad(format!(
                    "`build-system.build-backend` `{backend}` is not `module` or `module:object`"
                )));
            }
            backend.to_string()
        }
    };
    let backend_path = match table.get("backend-path") {
        None => Vec::new(),
        Some(value) => strings(value, "build-system.backend-path").map_err(&bad)?,
    };
    for path in &backend_path {
        check_backend_path(path)
            .map_err(|why| bad(format!("`build-system.backend-path` entry `{path}`: {why}")))?;
    }
    Ok(BuildSystem {
        requires,
        backend,
        backend_path,
    })
}

/// `module` or `module:object`, each a dotted name of Python identifiers.
fn is_object_reference(value: &str) -> bool {
    let dotted = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                let mut chars = part.chars();
                chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                    && chars.all(|c| c == '_' || c.is_alphanumeric())
            })
    };
    match value.split_once(':') {
        Some((module, object)) => dotted(module) && dotted(object),
        None => dotted(value),
    }
}

/// A `backend-path` entry is relative and stays inside the source tree (lexically: the
/// tree's own symlinks are checked to stay inside it when it is unpacked).
fn check_backend_path(path: &str) -> Result<(), &'static str> {
    if path.contains('\0') {
        return Err("it contains a NUL");
    }
    if path.contains('\\') || path.contains(':') {
        return Err("it contains a backslash or `:` (a Windows path)");
    }
    if path.starts_with('/') {
        return Err("it is absolute");
    }
    let mut depth = 0usize;
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            depth = depth.checked_sub(1).ok_or("it leaves the source tree")?;
        } else {
            depth += 1;
        }
    }
    Ok(())
}
