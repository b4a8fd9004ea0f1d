//! Tests of the static metadata of sdists: `PKG-INFO` (PEP 643), `[project]` (PEP 621) and
//! `[build-system]` (PEP 517 / 518).

use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder, PackageName};
use proptest::prelude::*;

use super::SdistError;
use super::metadata::{LEGACY_BACKEND, build_system, from_pkg_info, from_pyproject};

fn name() -> PackageName {
    PackageName::from_str("demo-pkg").unwrap()
}

fn version() -> Version {
    Version::from_str("1.0").unwrap()
}

fn pkg_info(metadata_version: &str, extra: &str) -> String {
    format!(
        "Metadata-Version: {metadata_version}\nName: Demo_Pkg\nVersion: 1.0.0\n\
         Requires-Python: >=3.9\nRequires-Dist: numpy>=1.20\n\
         Requires-Dist: rich; extra == \"cli\"\nProvides-Extra: cli\n{extra}\nlong description\n"
    )
}

fn env() -> MarkerEnvironment {
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: "3.12.0",
        os_name: "posix",
        platform_machine: "x86_64",
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: "3.12.0",
        python_version: "3.12",
        sys_platform: "linux",
    })
    .unwrap()
}

mod pkg_info {
    use super::*;

    #[test]
    fn static_metadata_2_2_is_used() {
        let meta = from_pkg_info(pkg_info("2.2", "").as_bytes(), &name(), &version())
            .unwrap()
            .unwrap();
        assert_eq!(meta.name, name());
        assert_eq!(meta.requires_dist.len(), 2);
        assert_eq!(meta.requires_python.unwrap().to_string(), ">=3.9");
        assert_eq!(meta.provides_extra.len(), 1);
    }

    #[test]
    fn metadata_before_2_2_needs_a_build() {
        for old in ["1.0", "2.1", "garbage", ""] {
            let text = pkg_info(old, "");
            assert!(
                from_pkg_info(text.as_bytes(), &name(), &version())
                    .unwrap()
                    .is_none(),
                "{old}"
            );
        }
        let text = "Name: demo-pkg\nVersion: 1.0\n";
        assert!(
            from_pkg_info(text.as_bytes(), &name(), &version())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_later_metadata_version_is_used() {
        for new in ["2.3", "2.4", "2.10", "3.0"] {
            let text = pkg_info(new, "");
            assert!(
                from_pkg_info(text.as_bytes(), &name(), &version())
                    .unwrap()
                    .is_some(),
                "{new}"
            );
        }
    }

    #[test]
    fn a_dynamic_dependency_field_needs_a_build() {
        for field in ["Requires-Dist", "requires-python", "PROVIDES-EXTRA"] {
            let text = pkg_info("2.2", &format!("Dynamic: {field}\n"));
            assert!(
                from_pkg_info(text.as_bytes(), &name(), &version())
                    .unwrap()
                    .is_none(),
                "{field}"
            );
        }
        // Other dynamic fields do not matter, and field names are case-insensitive.
        let text = pkg_info("2.2", "dynamic: Summary\nDYNAMIC: License\n");
        assert!(
            from_pkg_info(text.as_bytes(), &name(), &version())
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_dynamic_field_in_the_body_does_not_count() {
        let text = format!("{}\nDynamic: Requires-Dist\n", pkg_info("2.2", ""));
        assert!(
            from_pkg_info(text.as_bytes(), &name(), &version())
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn another_name_or_version_is_an_error_naming_both() {
        let other = PackageName::from_str("other").unwrap();
        let err = from_pkg_info(pkg_info("2.2", "").as_bytes(), &other, &version()).unwrap_err();
        assert!(matches!(err, SdistError::Mismatch { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("other 1.0"), "{message}");
        assert!(message.contains("demo-pkg 1.0.0"), "{message}");
        let err = from_pkg_info(
            pkg_info("2.2", "").as_bytes(),
            &name(),
            &Version::from_str("2.0").unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("demo-pkg 2.0"), "{err}");
    }

    #[test]
    fn an_invalid_static_requirement_is_an_error_not_a_lost_dependency() {
        let text = pkg_info("2.2", "Requires-Dist: bad requirement ===\n");
        let err = from_pkg_info(text.as_bytes(), &name(), &version()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("PKG-INFO"), "{message}");
        assert!(message.contains("bad requirement ==="), "{message}");
    }
}

mod pyproject {
    use super::*;

    const PYPROJECT: &str = r#"
[project]
name = "Demo.Pkg"
version = "1.0"
requires-python = ">=3.10"
dependencies = ["numpy>=2", "typing-extensions; python_version < '3.11'"]

[project.optional-dependencies]
CLI = ["rich", "click; sys_platform == 'win32' or sys_platform == 'linux'"]
"#;

    #[test]
    fn static_dependencies_are_used() {
        let meta = from_pyproject(PYPROJECT, &name(), &version())
            .unwrap()
            .unwrap();
        assert_eq!(meta.name, name());
        assert_eq!(meta.version, version());
        assert_eq!(meta.requires_python.unwrap().to_string(), ">=3.10");
        let extras: Vec<String> = meta
            .provides_extra
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(extras, ["cli"]);
        assert_eq!(meta.requires_dist.len(), 4);
    }

    #[test]
    fn optional_dependencies_are_combined_with_their_extra() {
        let meta = from_pyproject(PYPROJECT, &name(), &version())
            .unwrap()
            .unwrap();
        let env = env();
        let cli = [pep508_rs::ExtraName::from_str("cli").unwrap()];
        let click = meta
            .requires_dist
            .iter()
            .find(|r| r.name.as_ref() == "click")
            .unwrap();
        // `(win32 or linux) and extra == "cli"`: not `win32 or (linux and extra)`.
        assert!(click.marker.evaluate(&env, &cli));
        assert!(!click.marker.evaluate(&env, &[]));
        let rich = meta
            .requires_dist
            .iter()
            .find(|r| r.name.as_ref() == "rich")
            .unwrap();
        assert!(rich.marker.evaluate(&env, &cli));
        assert!(!rich.marker.evaluate(&env, &[]));
        let numpy = meta
            .requires_dist
            .iter()
            .find(|r| r.name.as_ref() == "numpy")
            .unwrap();
        assert!(numpy.marker.evaluate(&env, &[]));
    }

    #[test]
    fn a_dynamic_dependency_field_needs_a_build() {
        for field in ["dependencies", "optional-dependencies", "requires-python"] {
            let text = PYPROJECT.replace(
                "[project]\n",
                &format!("[project]\ndynamic = [\"{field}\"]\n"),
            );
            assert!(
                from_pyproject(&text, &name(), &version())
                    .unwrap()
                    .is_none(),
                "{field}"
            );
        }
    }

    #[test]
    fn a_dynamic_version_takes_the_sdists() {
        let text = "[project]\nname = \"demo-pkg\"\ndynamic = [\"version\"]\n";
        let meta = from_pyproject(text, &name(), &version()).unwrap().unwrap();
        assert_eq!(meta.version, version());
        assert!(meta.requires_dist.is_empty());
    }

    #[test]
    fn no_project_table_needs_a_build() {
        let text = "[build-system]\nrequires = [\"poetry-core\"]\n[tool.poetry]\nname = \"x\"\n";
        assert!(from_pyproject(text, &name(), &version()).unwrap().is_none());
    }

    #[test]
    fn another_name_or_static_version_is_an_error() {
        let err =
            from_pyproject(PYPROJECT, &name(), &Version::from_str("1.1").unwrap()).unwrap_err();
        assert!(matches!(err, SdistError::Mismatch { .. }), "{err:?}");
        assert!(err.to_string().contains("pyproject.toml"), "{err}");
        let err = from_pyproject(PYPROJECT, &PackageName::from_str("x").unwrap(), &version())
            .unwrap_err();
        assert!(err.to_string().contains("demo-pkg 1.0"), "{err}");
    }

    #[test]
    fn an_invalid_requirement_names_the_file_the_package_and_the_string() {
        let text = PYPROJECT.replace("numpy>=2", "numpy >= = 2");
        let err = from_pyproject(&text, &name(), &version()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("pyproject.toml"), "{message}");
        assert!(message.contains("demo-pkg 1.0"), "{message}");
        assert!(message.contains("numpy >= = 2"), "{message}");
        let text = PYPROJECT.replace("\"rich\"", "\"rich[\"");
        let err = from_pyproject(&text, &name(), &version()).unwrap_err();
        assert!(
            err.to_string().contains("optional-dependencies.CLI"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_and_missing_fields_are_errors() {
        for text in [
            "[project]\nname = \"demo-pkg\"\n",
            "[project]\nversion = \"1.0\"\n",
            "[project]\nname = \"demo-pkg\"\nversion = \"1.0\"\ndependencies = \"numpy\"\n",
            "[project]\nname = \"demo-pkg\"\nversion = \"1.0\"\nrequires-python = 3\n",
            "[project]\nname = \"demo-pkg\"\nversion = \"1.0\"\n[project.optional-dependencies]\nx = \"y\"\n",
            "[project]\nname = \"demo-pkg\"\nversion = \"1.0\"\n[project.optional-dependencies]\nA = []\na = []\n",
            "project = 1\n",
            "not toml [",
        ] {
            assert!(from_pyproject(text, &name(), &version()).is_err(), "{text}");
        }
    }
}

mod build_systems {
    use super::*;

    #[test]
    fn no_pyproject_or_no_table_is_the_legacy_default() {
        for pyproject in [None, Some("[project]\nname = \"x\"\n")] {
            let system = build_system(pyproject).unwrap();
            assert_eq!(system.backend, LEGACY_BACKEND);
            let requires: Vec<String> = system.requires.iter().map(ToString::to_string).collect();
            assert_eq!(requires, ["setuptools>=40.8.0"]);
            assert!(system.backend_path.is_empty());
        }
    }

    #[test]
    fn a_table_gives_requires_backend_and_backend_path() {
        let text = "[build-system]\nrequires = [\"hatchling>=1.20\", \"hatch-vcs\"]\n\
                    build-backend = \"backend.api:build\"\nbackend-path = [\".\", \"tools/../_build\"]\n";
        let system = build_system(Some(text)).unwrap();
        assert_eq!(system.requires.len(), 2);
        assert_eq!(system.backend, "backend.api:build");
        assert_eq!(system.backend_path, [".", "tools/../_build"]);
    }

    #[test]
    fn a_table_without_a_backend_is_legacy_setuptools_with_its_requires() {
        let system = build_system(Some(
            "[build-system]\nrequires = [\"setuptools\", \"wheel\"]\n",
        ))
        .unwrap();
        assert_eq!(system.backend, LEGACY_BACKEND);
        assert_eq!(system.requires.len(), 2);
    }

    #[test]
    fn a_table_without_requires_is_an_error() {
        let err = build_system(Some(
            "[build-system]\nbuild-backend = \"flit_core.buildapi\"\n",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("requires"), "{err}");
    }

    #[test]
    fn an_invalid_requirement_or_backend_is_an_error() {
        let err =
            build_system(Some("[build-system]\nrequires = [\"setuptools >=\"]\n")).unwrap_err();
        assert!(err.to_string().contains("setuptools >="), "{err}");
        for backend in ["", "a b", "mod:", ":obj", "1mod", "a:b:c", "mod..x"] {
            let text = format!("[build-system]\nrequires = []\nbuild-backend = \"{backend}\"\n");
            assert!(build_system(Some(&text)).is_err(), "{backend}");
        }
    }

    #[test]
    fn a_backend_path_leaving_the_tree_is_refused() {
        for path in ["..", "/abs", "a/../../b", "C:\\\\x", "x\\\\..\\\\.."] {
            let text = format!(
                "[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\"{path}\"]\n"
            );
            let err = build_system(Some(&text)).unwrap_err();
            assert!(err.to_string().contains("backend-path"), "{path}: {err}");
        }
    }
}

proptest! {
    #[test]
    fn pkg_info_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = from_pkg_info(&bytes, &name(), &version());
    }

    #[test]
    fn pkg_info_like_text_never_panics(
        lines in proptest::collection::vec(
            ("(Metadata-Version|Name|Version|Dynamic|Requires-Dist|Provides-Extra|Requires-Python|[a-z]{1,5})",
             "[ -~]{0,20}"),
            0..12,
        )
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        let _ = from_pkg_info(text.as_bytes(), &name(), &version());
    }

    #[test]
    fn pyproject_never_panics(text in "\\PC{0,400}") {
        let _ = from_pyproject(&text, &name(), &version());
        let _ = build_system(Some(&text));
    }

    #[test]
    fn pyproject_like_text_never_panics(
        fields in proptest::collection::vec(
            ("(name|version|dynamic|dependencies|requires-python|optional-dependencies|requires|build-backend|backend-path)",
             "(\"[ -~&&[^\"\\\\]]{0,15}\"|\\[(\"[a-z<>=.;' ]{0,10}\", ?){0,3}\\]|[0-9]{1,3}|\\{\\})"),
            0..8,
        ),
        table in "(project|build-system)",
    ) {
        let mut text = format!("[{table}]\n");
        for (key, value) in &fields {
            text.push_str(&format!("{key} = {value}\n"));
        }
        let _ = from_pyproject(&text, &name(), &version());
        let _ = build_system(Some(&text));
    }
}
