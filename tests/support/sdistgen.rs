//! Buildable source trees with the in-tree test backend: the files of a version's tree
//! (`PKG-INFO`, `pyproject.toml`, `_backend/sanctuary_test_backend.py` and its settings
//! `_backend/sanctuary_test_backend.json`, the package sources), as an sdist
//! (`<dist>-<ver>.tar.gz`, PEP 625, entries sorted under `<dist>-<ver>/`, mtime 0) or, through
//! `support::project`, as a local project directory. What the trees and the backend do is
//! described on [`BuildSpec`] and [`MetadataMode`]; the backend itself is
//! `tests/support/backend/sanctuary_test_backend.py`.

use std::collections::BTreeMap;

use super::scenario::{BuildSpec, MetadataMode, VersionSpec, requirement_name};
use super::tarball::TarWriter;
use super::wheelgen::{
    Dist, MetadataFields, core_metadata, entry_points_txt, expand_tags, file_name_part, init_py,
    metadata, normalize_version, sdist_stem, static_metadata,
};

/// The backend's module name (`build-backend` in `pyproject.toml`).
pub const BACKEND_MODULE: &str = "sanctuary_test_backend";
/// The backend's directory in a tree (`backend-path`).
pub const BACKEND_DIR: &str = "_backend";
/// The backend's source.
pub const BACKEND_SOURCE: &str = include_str!("backend/sanctuary_test_backend.py");
/// The variable naming the file the backend appends one JSON line per hook call to.
pub const HOOK_LOG_ENV: &str = "SANCTUARY_TEST_HOOK_LOG";
/// The wheel tag a build produces when `wheel_tag` is not set.
pub const DEFAULT_WHEEL_TAG: &str = "py3-none-any";

/// The import name of a distribution's package (`Web-App` → `web_app`), as the generated
/// wheels and trees name it.
pub fn package_name(name: &str) -> String {
    file_name_part(name)
}

/// The wheel a build of this version writes: `<dist>-<ver>-<tag>.whl`.
pub fn built_wheel_name(name: &str, version: &str, build: &BuildSpec) -> String {
    format!(
        "{}-{}.whl",
        sdist_stem(name, version),
        build.wheel_tag.as_deref().unwrap_or(DEFAULT_WHEEL_TAG)
    )
}

/// The files of the version's buildable tree, by `/`-separated path relative to its root
/// (sorted): `pyproject.toml`, the backend and its settings, `<pkg>/__init__.py`, the
/// version's `files`, and `PKG-INFO` when `with_pkg_info` (sdists have one, projects do not).
/// A version without a `build` table gets the default [`BuildSpec`].
pub fn source_tree(
    name: &str,
    version: &str,
    spec: &VersionSpec,
    with_pkg_info: bool,
) -> BTreeMap<String, Vec<u8>> {
    let build = spec.build.clone().unwrap_or_default();
    let mut tree = BTreeMap::new();
    for (path, content) in sources(name, version, spec) {
        tree.insert(path, content.into_bytes());
    }
    if with_pkg_info {
        tree.insert(
            "PKG-INFO".to_string(),
            pkg_info(name, version, spec, &build).into_bytes(),
        );
    }
    tree.insert(
        "pyproject.toml".to_string(),
        pyproject(name, version, spec, &build).into_bytes(),
    );
    tree.insert(
        format!("{BACKEND_DIR}/{BACKEND_MODULE}.py"),
        BACKEND_SOURCE.as_bytes().to_vec(),
    );
    let settings = backend_settings(name, version, spec, &build);
    tree.insert(
        format!("{BACKEND_DIR}/{BACKEND_MODULE}.json"),
        format!("{settings:#}\n").into_bytes(),
    );
    tree
}

/// The sdist of a version with a `build` table: its [`source_tree`] under `<dist>-<ver>/`.
pub fn build_sdist(name: &str, version: &str, spec: &VersionSpec) -> Dist {
    let stem = sdist_stem(name, version);
    let mut tar = TarWriter::new();
    for (path, bytes) in source_tree(name, version, spec, true) {
        tar.file(&format!("{stem}/{path}"), &bytes);
    }
    Dist::new(format!("{stem}.tar.gz"), tar.finish_gz(), None)
}

/// The package sources (path → content): `<pkg>/__init__.py` and the version's `files`.
fn sources(name: &str, version: &str, spec: &VersionSpec) -> BTreeMap<String, String> {
    let mut out = spec.files.clone();
    out.insert(
        format!("{}/__init__.py", package_name(name)),
        init_py(version),
    );
    out
}

/// `PKG-INFO` as the mode says (see [`MetadataMode`]).
pub fn pkg_info(name: &str, version: &str, spec: &VersionSpec, build: &BuildSpec) -> String {
    let fields = match build.metadata {
        MetadataMode::Static => return static_metadata(name, version, spec),
        MetadataMode::Dynamic => MetadataFields {
            metadata_version: "2.2",
            requires_python: true,
            requires: None,
            dynamic: &["Requires-Dist", "Provides-Extra"],
        },
        MetadataMode::Legacy => return metadata(name, version, spec),
        MetadataMode::Pyproject => MetadataFields {
            metadata_version: "2.1",
            requires_python: false,
            requires: None,
            dynamic: &[],
        },
    };
    core_metadata(name, version, spec, &fields)
}

/// `pyproject.toml`: `[build-system]` always, `[project]` as the mode says.
pub fn pyproject(name: &str, version: &str, spec: &VersionSpec, build: &BuildSpec) -> String {
    let mut t = String::from("[build-system]\n");
    t.push_str(&format!(
        "requires = {}\n",
        toml_array(&build.build_requires)
    ));
    t.push_str(&format!("build-backend = {}\n", toml_str(BACKEND_MODULE)));
    t.push_str(&format!("backend-path = [{}]\n", toml_str(BACKEND_DIR)));
    let project = |t: &mut String| {
        t.push_str("\n[project]\n");
        t.push_str(&format!("name = {}\n", toml_str(name)));
        t.push_str(&format!(
            "version = {}\n",
            toml_str(&normalize_version(version))
        ));
    };
    match build.metadata {
        MetadataMode::Static | MetadataMode::Legacy => {}
        MetadataMode::Dynamic => {
            project(&mut t);
            if let Some(rp) = &spec.requires_python {
                t.push_str(&format!("requires-python = {}\n", toml_str(rp)));
            }
            t.push_str("dynamic = [\"dependencies\", \"optional-dependencies\"]\n");
        }
        MetadataMode::Pyproject => {
            project(&mut t);
            if let Some(rp) = &spec.requires_python {
                t.push_str(&format!("requires-python = {}\n", toml_str(rp)));
            }
            t.push_str(&format!("dependencies = {}\n", toml_array(&spec.requires)));
            if !spec.extras.is_empty() {
                t.push_str("\n[project.optional-dependencies]\n");
                for (extra, reqs) in &spec.extras {
                    t.push_str(&format!("{} = {}\n", toml_str(extra), toml_array(reqs)));
                }
            }
        }
    }
    t
}

/// The backend's settings (`_backend/sanctuary_test_backend.json`).
fn backend_settings(
    name: &str,
    version: &str,
    spec: &VersionSpec,
    build: &BuildSpec,
) -> serde_json::Value {
    let tag = build.wheel_tag.as_deref().unwrap_or(DEFAULT_WHEEL_TAG);
    let built_spec = VersionSpec {
        requires: build
            .built_requires
            .clone()
            .unwrap_or_else(|| spec.requires.clone()),
        ..spec.clone()
    };
    let build_imports: Vec<String> = build
        .build_requires
        .iter()
        .map(|r| file_name_part(&requirement_name(r)))
        .collect();
    serde_json::json!({
        "name": name,
        "version": normalize_version(version),
        "dist": file_name_part(name),
        "package": package_name(name),
        "wheel_tag": tag,
        "wheel_tags": expand_tags(tag),
        "sources": sources(name, version, spec).keys().collect::<Vec<_>>(),
        "entry_points": entry_points_txt(spec).unwrap_or_default(),
        "metadata": metadata(name, version, spec),
        "built_metadata": metadata(name, version, &built_spec),
        "pkg_info": pkg_info(name, version, spec, build),
        "fail": build.fail,
        "fail_metadata": build.fail_metadata,
        "fail_message": build.fail_message,
        "requires_import": build.requires_import,
        "strict_imports": build.strict_imports,
        "build_imports": build_imports,
        "prepare_metadata": build.prepare_metadata,
        "editable": build.editable,
        "ignore_metadata_directory": build.ignore_metadata_directory,
        "record_env": build.record_env,
    })
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A one-line TOML array of strings.
fn toml_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}
