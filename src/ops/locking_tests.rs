//! The locking operation on in-memory indexes, without the binary or a server: a Foundation
//! per key from that key's index, the Application against it, staleness, `lock --check`, and
//! all-or-nothing writing.

use std::collections::HashMap;
use std::sync::Arc;

use pep508_rs::PackageName;

use super::*;
use crate::index::{CoreMetadata, IndexError, PackageFiles};
use crate::pylock::origin::TrustedIndexes;
use crate::resolve::memory::{MemorySource, MemoryVersion};

/// Named in-memory indexes, with the set's routing rule: a pinned package from its index
/// alone, any other from the first index that is not explicit and has it.
struct MemoryIndexes {
    indexes: Vec<Arc<MemorySource>>,
}

struct MemoryView {
    set: Arc<MemoryIndexes>,
    pins: HashMap<PackageName, String>,
}

impl PackageSource for MemoryView {
    async fn files(&self, name: &PackageName) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        for source in &self.set.indexes {
            let index = source.index();
            let allowed = match self.pins.get(name) {
                Some(pin) => *pin == index.name,
                None => !index.explicit,
            };
            if allowed && let Some(files) = source.files(name).await? {
                return Ok(Some(files));
            }
        }
        Ok(None)
    }

    async fn metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
    ) -> Result<Arc<CoreMetadata>, IndexError> {
        let source = self
            .set
            .indexes
            .iter()
            .find(|s| s.index().name == package.index.name)
            .ok_or_else(|| IndexError::Other(format!("no index {}", package.index.name)))?;
        source.metadata(package, file).await
    }
}

impl LockSource for Arc<MemoryIndexes> {
    type View = MemoryView;

    fn view(&self, pins: HashMap<PackageName, String>) -> Result<MemoryView> {
        Ok(MemoryView {
            set: Arc::clone(self),
            pins,
        })
    }

    /// A made-up digest and size: what a lockfile needs of a file.
    async fn complete(&self, file: &DistFile) -> Result<DistFile> {
        use sha2::{Digest as _, Sha256};
        let mut out = file.clone();
        out.sha256 = Some(hex::encode(Sha256::digest(file.filename.as_bytes())));
        out.size = Some(file.filename.len() as u64);
        Ok(out)
    }
}

const PYPI: &str = "https://pypi.memory.invalid/simple/";

/// A torch wheel's tags for the target of these tests.
const TAG: &str = "cp312-cp312-manylinux_2_28_x86_64";

/// A torch build: CUDA builds need the CUDA library, CPU builds do not.
fn torch(version: &str) -> MemoryVersion {
    let build = MemoryVersion::new().wheels(&[TAG]).dep("filelock");
    if version.ends_with("+cpu") {
        build
    } else {
        build.dep("nvidia-cublas ; platform_system == 'Linux'")
    }
}

fn indexes() -> Arc<MemoryIndexes> {
    let pypi = MemorySource::named("pypi", PYPI, false)
        .unwrap()
        .with("filelock", "3.19.1", MemoryVersion::new())
        .with("filelock", "3.20.0", MemoryVersion::new())
        .with(
            "nvidia-cublas",
            "13.0.0.19",
            MemoryVersion::new().wheels(&[TAG]),
        )
        .with("peft", "0.13.0", MemoryVersion::new().dep("torch>=2.4"))
        .with("fastapi", "0.115.0", MemoryVersion::new());
    let key = |key: &str| {
        MemorySource::named(
            &format!("pytorch[{key}]"),
            &format!("https://torch.memory.invalid/whl/{key}/"),
            true,
        )
        .unwrap()
        .with(
            "torch",
            &format!("2.9.0+{key}"),
            torch(&format!("2.9.0+{key}")),
        )
    };
    Arc::new(MemoryIndexes {
        indexes: vec![Arc::new(pypi), Arc::new(key("cu130")), Arc::new(key("cpu"))],
    })
}

/// A manifest in a temporary directory, with the in-memory indexes' URLs.
fn manifest(dir: &std::path::Path, application: &[&str]) -> Manifest {
    let list: String = application.iter().map(|r| format!("\"{r}\", ")).collect();
    let text = format!(
        "[project]\nname = \"t\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"{PYPI}\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://torch.memory.invalid/whl/{{key}}/\"\nexplicit = true\n\n\
         [foundation]\nkeys = [\"cu130\", \"cpu\"]\nindex = \"pytorch\"\nrequirements = [\"torch==2.9.*\"]\n\n\
         [application]\nrequirements = [{list}]\n"
    );
    let path = dir.join("sanctuary.toml");
    std::fs::write(&path, &text).unwrap();
    Manifest::parse(&text, &path).unwrap()
}

fn trusted(manifest: &Manifest) -> TrustedIndexes {
    super::super::indexes::trusted_indexes(manifest, &Default::default()).unwrap()
}

fn run(manifest: &Manifest) -> Result<Written> {
    let plan = LockPlan::new(manifest, &[])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(lock(
        manifest,
        &plan,
        &LockRequest::default(),
        &indexes(),
        trusted(manifest),
        &Silent,
    ))
}

fn read(dir: &std::path::Path, name: &str) -> Lockfile {
    Lockfile::parse(&std::fs::read_to_string(dir.join("lockfiles").join(name)).unwrap()).unwrap()
}

fn version(lock: &Lockfile, name: &str) -> Option<String> {
    lock.packages
        .iter()
        .find(|p| p.name.as_ref() == name)
        .map(|p| p.version.to_string())
}

#[test]
fn each_key_gets_its_foundation_and_the_application_is_resolved_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["peft", "fastapi"]);
    let written = run(&m).unwrap();
    let files: Vec<&str> = written.files.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        files,
        [
            "lockfiles/pylock.foundation-cu130.toml",
            "lockfiles/pylock.foundation-cpu.toml",
            "lockfiles/pylock.application.toml"
        ]
    );
    let cu130 = read(dir.path(), "pylock.foundation-cu130.toml");
    assert_eq!(version(&cu130, "torch").as_deref(), Some("2.9.0+cu130"));
    assert!(version(&cu130, "nvidia-cublas").is_some());
    let cpu = read(dir.path(), "pylock.foundation-cpu.toml");
    assert_eq!(version(&cpu, "torch").as_deref(), Some("2.9.0+cpu"));
    assert!(version(&cpu, "nvidia-cublas").is_none());
    let app = read(dir.path(), "pylock.application.toml");
    // The Application names what it adds; the Foundation's packages stay in its files.
    assert_eq!(version(&app, "peft").as_deref(), Some("0.13.0"));
    assert!(version(&app, "torch").is_none() && version(&app, "filelock").is_none());

    // Up to date for every key; a second run writes nothing.
    let plan = LockPlan::new(&m, &[]).unwrap();
    assert!(plan.stale_for(&m, Some("cu130")).is_empty());
    assert!(plan.stale_for(&m, Some("cpu")).is_empty());
    let again = run(&m).unwrap();
    assert!(again.files.iter().all(|(_, changed)| !changed));
}

#[test]
fn staleness_says_what_changed_and_check_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["fastapi"]);
    run(&m).unwrap();
    let changed = manifest(dir.path(), &["fastapi", "peft"]);
    let plan = LockPlan::new(&changed, &[]).unwrap();
    let stale = plan.stale_for(&changed, Some("cu130"));
    assert_eq!(stale.len(), 1, "{stale:?}");
    let lines = stale[0].lines().join("\n");
    assert!(
        lines.contains("pylock.application.toml is stale") && lines.contains("`peft` added"),
        "{lines}"
    );
    let checks = plan.check(&changed, &trusted(&changed));
    let stale_files: Vec<&str> = checks
        .iter()
        .filter_map(|c| match c {
            FileCheck::Stale(s) => Some(s.file()),
            _ => None,
        })
        .collect();
    assert_eq!(stale_files, ["lockfiles/pylock.application.toml"]);
}

#[test]
fn a_failed_application_writes_no_lockfile_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["fastapi", "does-not-exist"]);
    let err = run(&m).unwrap_err().to_string();
    assert!(err.contains("does-not-exist"), "{err}");
    assert!(
        !dir.path().join("lockfiles").exists(),
        "nothing was written"
    );
}
