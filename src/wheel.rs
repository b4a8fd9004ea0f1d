//! Distribution file names: wheels (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`,
//! with compressed tag sets) and source distributions (`{name}-{version}.tar.gz` / `.zip`).
//!
//! Pure: parsing only, no I/O. Written by hand because no published crate parses wheel file
//! names against a known project name (uv's `distribution-filename` is not published).

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

/// A parsed wheel file name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WheelFilename {
    pub name: PackageName,
    pub version: Version,
    pub build: Option<String>,
    /// Python tags, e.g. `["py2", "py3"]` for `py2.py3`.
    pub python: Vec<String>,
    /// ABI tags, e.g. `["none"]`.
    pub abi: Vec<String>,
    /// Platform tags, e.g. `["manylinux_2_17_x86_64", "manylinux2014_x86_64"]`.
    pub platform: Vec<String>,
}

impl WheelFilename {
    /// Every `(python, abi, platform)` triple this wheel declares.
    pub fn tag_triples(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.python.iter().flat_map(move |py| {
            self.abi.iter().flat_map(move |abi| {
                self.platform
                    .iter()
                    .map(move |plat| (py.as_str(), abi.as_str(), plat.as_str()))
            })
        })
    }

    /// True for a pure-Python wheel (`py3-none-any` and the like).
    pub fn is_universal(&self) -> bool {
        self.abi.iter().all(|a| a == "none") && self.platform.iter().all(|p| p == "any")
    }
}

/// Why a file name could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilenameError {
    #[error(
        "`{0}` is not a wheel file name: expected `name-version(-build)?-python-abi-platform.whl`"
    )]
    BadWheel(String),
    #[error("`{0}` has an invalid version: {1}")]
    BadVersion(String, String),
    #[error("`{0}` has an invalid project name: {1}")]
    BadName(String, String),
    #[error("`{0}` is neither a wheel nor a source distribution (.tar.gz, .zip)")]
    UnknownKind(String),
    #[error("`{filename}` does not belong to project `{expected}`")]
    OtherProject { filename: String, expected: String },
}

impl FromStr for WheelFilename {
    type Err = FilenameError;

    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let bad = || FilenameError::BadWheel(filename.to_string());
        let stem = filename.strip_suffix(".whl").ok_or_else(bad)?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts.as_slice() {
            [name, version, py, abi, plat] => (*name, *version, None, *py, *abi, *plat),
            [name, version, build, py, abi, plat] => {
                // A build tag must start with a digit (PEP 427).
                if !build.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(bad());
                }
                (*name, *version, Some(build.to_string()), *py, *abi, *plat)
            }
            _ => return Err(bad()),
        };
        if [py, abi, plat].iter().any(|t| t.is_empty()) {
            return Err(bad());
        }
        let name = PackageName::from_str(name)
            .map_err(|e| FilenameError::BadName(filename.to_string(), e.to_string()))?;
        let version = Version::from_str(version)
            .map_err(|e| FilenameError::BadVersion(filename.to_string(), e.to_string()))?;
        let split = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        Ok(WheelFilename {
            name,
            version,
            build,
            python: split(py),
            abi: split(abi),
            platform: split(plat),
        })
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name.as_ref().replace('-', "_");
        write!(f, "{name}-{}", self.version)?;
        if let Some(build) = &self.build {
            write!(f, "-{build}")?;
        }
        write!(
            f,
            "-{}-{}-{}.whl",
            self.python.join("."),
            self.abi.join("."),
            self.platform.join(".")
        )
    }
}

/// A parsed distribution file name: a wheel or a source distribution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DistFilename {
    Wheel(WheelFilename),
    Sdist { name: PackageName, version: Version },
}

impl DistFilename {
    /// Parse `filename` as a file of project `project`. Source distribution names are
    /// ambiguous on their own (`foo-bar-1.0.tar.gz`), so the project name is needed.
    pub fn parse(filename: &str, project: &PackageName) -> Result<Self, FilenameError> {
        if filename.ends_with(".whl") {
            let wheel = WheelFilename::from_str(filename)?;
            if &wheel.name != project {
                return Err(FilenameError::OtherProject {
                    filename: filename.to_string(),
                    expected: project.to_string(),
                });
            }
            return Ok(DistFilename::Wheel(wheel));
        }
        let stem = [".tar.gz", ".zip"]
            .iter()
            .find_map(|ext| filename.strip_suffix(ext))
            .ok_or_else(|| FilenameError::UnknownKind(filename.to_string()))?;
        // The name part is the project name in any spelling (`-`, `_`, `.` and case
        // are equivalent); the version follows the first `-` after it.
        let name_len = project.as_ref().len();
        let (name_part, rest) = (stem.get(..name_len), stem.get(name_len..));
        let (Some(name_part), Some(rest)) = (name_part, rest) else {
            return Err(FilenameError::OtherProject {
                filename: filename.to_string(),
                expected: project.to_string(),
            });
        };
        let same_name = PackageName::from_str(name_part).is_ok_and(|n| &n == project);
        let Some(version) = rest.strip_prefix('-').filter(|_| same_name) else {
            return Err(FilenameError::OtherProject {
                filename: filename.to_string(),
                expected: project.to_string(),
            });
        };
        let version = Version::from_str(version)
            .map_err(|e| FilenameError::BadVersion(filename.to_string(), e.to_string()))?;
        Ok(DistFilename::Sdist {
            name: project.clone(),
            version,
        })
    }

    /// Everything [`DistFilename::parse`] checks except the version itself: the version text
    /// of `filename` when it is otherwise a well-formed file name of `project`, so that
    /// `parse` succeeds exactly when this does and the text parses as a version.
    /// `is_project` says whether a name part, as written, names `project` (callers scanning
    /// thousands of files memoize it).
    pub fn version_text<'a>(
        filename: &'a str,
        project: &PackageName,
        is_project: &mut impl FnMut(&str) -> bool,
    ) -> Option<&'a str> {
        if let Some(stem) = filename.strip_suffix(".whl") {
            let mut parts = stem.split('-');
            let (name, version) = (parts.next()?, parts.next()?);
            let rest: [Option<&str>; 4] = std::array::from_fn(|_| parts.next());
            if parts.next().is_some() {
                return None;
            }
            let tags = match rest {
                [Some(py), Some(abi), Some(plat), None] => [py, abi, plat],
                [Some(build), Some(py), Some(abi), Some(plat)] => {
                    if !build.starts_with(|c: char| c.is_ascii_digit()) {
                        return None;
                    }
                    [py, abi, plat]
                }
                _ => return None,
            };
            if tags.iter().any(|t| t.is_empty()) || !is_project(name) {
                return None;
            }
            return Some(version);
        }
        let stem = [".tar.gz", ".zip"]
            .iter()
            .find_map(|ext| filename.strip_suffix(ext))?;
        let name_len = project.as_ref().len();
        let name_part = stem.get(..name_len)?;
        let rest = stem.get(name_len..)?;
        let version = rest.strip_prefix('-')?;
        is_project(name_part).then_some(version)
    }

    pub fn version(&self) -> &Version {
        match self {
            DistFilename::Wheel(w) => &w.version,
            DistFilename::Sdist { version, .. } => version,
        }
    }

    pub fn as_wheel(&self) -> Option<&WheelFilename> {
        match self {
            DistFilename::Wheel(w) => Some(w),
            DistFilename::Sdist { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    #[test]
    fn parses_compressed_tag_sets() {
        let w: WheelFilename =
            "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
                .parse()
                .unwrap();
        assert_eq!(w.name, name("numpy"));
        assert_eq!(w.version.to_string(), "2.1.0");
        assert_eq!(
            w.platform,
            vec!["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
        );
        assert_eq!(w.tag_triples().count(), 2);
        assert!(!w.is_universal());
    }

    #[test]
    fn parses_build_tag_and_local_version() {
        let w: WheelFilename = "torch-2.9.0+cu130-1-cp312-cp312-linux_x86_64.whl"
            .parse()
            .unwrap();
        assert_eq!(w.build.as_deref(), Some("1"));
        assert_eq!(w.version.to_string(), "2.9.0+cu130");
        assert_eq!(
            w.to_string(),
            "torch-2.9.0+cu130-1-cp312-cp312-linux_x86_64.whl"
        );
    }

    #[test]
    fn rejects_malformed_wheels() {
        for bad in [
            "foo-1.0.whl",
            "foo-1.0-py3-none.whl",
            "foo-1.0-x-py3-none-any.whl",
            "foo-notaversion-py3-none-any.whl",
            "foo-1.0-py3-none-any.zip",
        ] {
            assert!(bad.parse::<WheelFilename>().is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_sdists_with_any_name_spelling() {
        let p = name("zope-interface");
        for f in [
            "zope.interface-5.0.tar.gz",
            "zope_interface-5.0.tar.gz",
            "Zope-Interface-5.0.zip",
        ] {
            let d = DistFilename::parse(f, &p).unwrap();
            assert_eq!(d.version().to_string(), "5.0", "{f}");
            assert!(d.as_wheel().is_none());
        }
        assert!(DistFilename::parse("zope-5.0.tar.gz", &p).is_err());
        assert!(DistFilename::parse("zope.interface-5.0.exe", &p).is_err());
    }

    #[test]
    fn wheel_of_another_project_is_refused() {
        let err = DistFilename::parse("bar-1.0-py3-none-any.whl", &name("foo")).unwrap_err();
        assert!(matches!(err, FilenameError::OtherProject { .. }));
    }

    proptest::proptest! {
        /// `version_text` accepts exactly what `parse` accepts, bar the version.
        #[test]
        fn version_text_agrees_with_parse(
            name_part in "(foo|Foo|fo_o|foo[-_.]bar|bar|f)",
            version in "(1\\.0|2\\.0rc1|1\\.0\\.0\\+cu1|x|)",
            tail in "(\\.tar\\.gz|\\.zip|\\.exe|-py3-none-any\\.whl|-1-py3-none-any\\.whl|-x-py3-none-any\\.whl|-py3--any\\.whl|-py3-none\\.whl|-a-b-c-d-e\\.whl)",
            project in "(foo|foo-bar|f)",
        ) {
            let filename = format!("{name_part}-{version}{tail}");
            let project = name(&project);
            let mut is_project = |n: &str| PackageName::from_str(n).is_ok_and(|n| n == project);
            let fast = DistFilename::version_text(&filename, &project, &mut is_project)
                .and_then(|v| Version::from_str(v).ok());
            let full = DistFilename::parse(&filename, &project).ok();
            proptest::prop_assert_eq!(fast.as_ref(), full.as_ref().map(|d| d.version()), "{}", filename);
        }
    }
}
