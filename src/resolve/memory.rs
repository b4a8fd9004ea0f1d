//! An in-memory [`PackageSource`] for tests: packages, versions, wheel file names, dependencies,
//! extras, `requires-python` and yanked flags, built with a small builder. Used by the
//! resolver's unit tests and by the packse conformance harness.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};
use url::Url;

use crate::index::{
    CoreMetadata, CoreMetadataRef, DistFile, IndexError, IndexKind, IndexUrl, PackageFiles,
    PackageSource,
};
use crate::wheel::DistFilename;

/// One version of an in-memory package.
#[derive(Clone, Debug, Default)]
pub struct MemoryVersion {
    /// Wheel tags (`py3-none-any`, `cp312-cp312-manylinux_2_17_x86_64`); one wheel each.
    pub wheel_tags: Vec<String>,
    /// Whether a `.tar.gz` source distribution is listed.
    pub sdist: bool,
    pub requires: Vec<String>,
    pub extras: BTreeMap<String, Vec<String>>,
    pub requires_python: Option<String>,
    /// Whether `requires_python` is also given on the index's file entries (PEP 503
    /// `data-requires-python`), not only in the metadata.
    pub requires_python_on_files: bool,
    pub yanked: bool,
}

impl MemoryVersion {
    /// A version with one `py3-none-any` wheel and no sdist.
    pub fn new() -> Self {
        MemoryVersion {
            wheel_tags: vec!["py3-none-any".to_string()],
            requires_python_on_files: true,
            ..Default::default()
        }
    }

    pub fn dep(mut self, requirement: &str) -> Self {
        self.requires.push(requirement.to_string());
        self
    }

    pub fn extra(mut self, extra: &str, requirements: &[&str]) -> Self {
        self.extras.insert(
            extra.to_string(),
            requirements.iter().map(|r| r.to_string()).collect(),
        );
        self
    }

    pub fn wheels(mut self, tags: &[&str]) -> Self {
        self.wheel_tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }

    pub fn sdist(mut self, sdist: bool) -> Self {
        self.sdist = sdist;
        self
    }

    pub fn requires_python(mut self, specifiers: &str) -> Self {
        self.requires_python = Some(specifiers.to_string());
        self
    }

    pub fn yanked(mut self) -> Self {
        self.yanked = true;
        self
    }
}

/// An in-memory index. `files` and `metadata` count their calls; `metadata` logs when each
/// call starts and ends, and takes its time for the packages made [`MemorySource::slow`].
#[derive(Debug)]
pub struct MemorySource {
    index: Arc<IndexUrl>,
    packages: HashMap<PackageName, BTreeMap<Version, MemoryVersion>>,
    pub files_calls: AtomicUsize,
    pub metadata_calls: AtomicUsize,
    slow: HashMap<PackageName, std::time::Duration>,
    /// `start NAME` and `end NAME` of each metadata call, in order.
    pub metadata_log: std::sync::Mutex<Vec<String>>,
}

impl Default for MemorySource {
    fn default() -> Self {
        Self::new()
    }
}

/// Why the in-memory data is invalid (a test bug).
#[derive(Debug, thiserror::Error)]
#[error("invalid in-memory package data: {0}")]
pub struct MemoryError(pub String);

impl MemorySource {
    pub fn new() -> Self {
        MemorySource {
            index: Arc::new(IndexUrl {
                name: "memory".to_string(),
                // Cannot fail: a constant, valid URL.
                url: Url::parse("https://memory.invalid/simple/").expect("valid URL"),
                explicit: false,
                kind: IndexKind::Simple,
                credentials: None,
            }),
            packages: HashMap::new(),
            files_calls: AtomicUsize::new(0),
            metadata_calls: AtomicUsize::new(0),
            slow: HashMap::new(),
            metadata_log: std::sync::Mutex::default(),
        }
    }

    /// Make the metadata of `name` take `millis` to arrive.
    pub fn slow(mut self, name: &str, millis: u64) -> Result<Self, MemoryError> {
        let name = PackageName::from_str(name).map_err(|e| MemoryError(e.to_string()))?;
        self.slow
            .insert(name, std::time::Duration::from_millis(millis));
        Ok(self)
    }

    fn log(&self, line: String) {
        let mut log = self
            .metadata_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.push(line);
    }

    /// A source standing for the index `name` at `url` (a simple API root ending in `/`).
    pub fn named(name: &str, url: &str, explicit: bool) -> Result<Self, MemoryError> {
        let url = Url::parse(url).map_err(|e| MemoryError(format!("{url}: {e}")))?;
        let mut source = MemorySource::new();
        source.index = Arc::new(IndexUrl {
            name: name.to_string(),
            url,
            explicit,
            kind: IndexKind::Simple,
            credentials: None,
        });
        Ok(source)
    }

    /// Add (or replace) `name==version`.
    pub fn add(
        &mut self,
        name: &str,
        version: &str,
        data: MemoryVersion,
    ) -> Result<(), MemoryError> {
        let name = PackageName::from_str(name).map_err(|e| MemoryError(e.to_string()))?;
        let version = Version::from_str(version).map_err(|e| MemoryError(e.to_string()))?;
        self.packages.entry(name).or_default().insert(version, data);
        Ok(())
    }

    /// Builder form of [`MemorySource::add`] for tests; panics on invalid names.
    pub fn with(mut self, name: &str, version: &str, data: MemoryVersion) -> Self {
        if let Err(e) = self.add(name, version, data) {
            panic!("{e}");
        }
        self
    }

    /// The index every package of this source comes from.
    pub fn index(&self) -> Arc<IndexUrl> {
        self.index.clone()
    }

    fn build_files(&self, name: &PackageName) -> Result<Option<PackageFiles>, IndexError> {
        let Some(versions) = self.packages.get(name) else {
            return Ok(None);
        };
        let bad = |e: String| IndexError::Other(format!("memory index, {name}: {e}"));
        let mut out = BTreeMap::new();
        for (version, data) in versions {
            let stem = format!("{}-{version}", name.as_ref().replace('-', "_"));
            let mut names: Vec<String> = data
                .wheel_tags
                .iter()
                .map(|tags| format!("{stem}-{tags}.whl"))
                .collect();
            if data.sdist {
                names.push(format!("{stem}.tar.gz"));
            }
            let requires_python = match (&data.requires_python, data.requires_python_on_files) {
                (Some(spec), true) => {
                    Some(VersionSpecifiers::from_str(spec).map_err(|e| bad(e.to_string()))?)
                }
                _ => None,
            };
            let mut files = Vec::new();
            for filename in names {
                let parsed =
                    DistFilename::parse(&filename, name).map_err(|e| bad(e.to_string()))?;
                let url = self
                    .index
                    .url
                    .join(&format!("{name}/{filename}"))
                    .map_err(|e| bad(e.to_string()))?;
                files.push(DistFile {
                    filename,
                    parsed,
                    url,
                    sha256: None,
                    size: None,
                    upload_time: None,
                    requires_python: requires_python.clone(),
                    yanked: data.yanked.then(String::new),
                    core_metadata: CoreMetadataRef::Available { sha256: None },
                });
            }
            out.insert(version.clone(), files.into());
        }
        Ok(Some(PackageFiles {
            name: name.clone(),
            index: self.index.clone(),
            versions: out,
        }))
    }

    fn build_metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<CoreMetadata, IndexError> {
        let bad = |e: String| IndexError::BadMetadata {
            file: format!("{name}-{version}"),
            reason: e,
        };
        let data = self
            .packages
            .get(name)
            .and_then(|v| v.get(version))
            .ok_or_else(|| bad("no such version".to_string()))?;
        let parse = |s: &str| Requirement::from_str(s).map_err(|e| bad(e.to_string()));
        let mut requires_dist = data
            .requires
            .iter()
            .map(|r| parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut provides_extra = Vec::new();
        for (extra, requirements) in &data.extras {
            provides_extra.push(ExtraName::from_str(extra).map_err(|e| bad(e.to_string()))?);
            for requirement in requirements {
                let (base, marker) = match requirement.split_once(';') {
                    Some((base, marker)) => {
                        (base, format!("({}) and extra == '{extra}'", marker.trim()))
                    }
                    None => (requirement.as_str(), format!("extra == '{extra}'")),
                };
                requires_dist.push(parse(&format!("{base} ; {marker}"))?);
            }
        }
        let requires_python = data
            .requires_python
            .as_deref()
            .map(VersionSpecifiers::from_str)
            .transpose()
            .map_err(|e| bad(e.to_string()))?;
        Ok(CoreMetadata {
            name: name.clone(),
            version: version.clone(),
            requires_dist,
            requires_python,
            provides_extra,
        })
    }
}

impl PackageSource for MemorySource {
    async fn files(&self, name: &PackageName) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        self.files_calls.fetch_add(1, Ordering::Relaxed);
        Ok(self.build_files(name)?.map(Arc::new))
    }

    async fn metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
    ) -> Result<Arc<CoreMetadata>, IndexError> {
        self.metadata_calls.fetch_add(1, Ordering::Relaxed);
        self.log(format!("start {}", package.name));
        if let Some(delay) = self.slow.get(&package.name) {
            tokio::time::sleep(*delay).await;
        }
        self.log(format!("end {}", package.name));
        Ok(Arc::new(
            self.build_metadata(&package.name, file.parsed.version())?,
        ))
    }
}
