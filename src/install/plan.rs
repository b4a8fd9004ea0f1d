//! What a sync must do: the locked distributions compared with what is installed. Pure: it
//! reads nothing and writes nothing.
//!
//! A locked distribution is left alone only when one copy of it is installed, at the locked
//! version, with a `RECORD`, from the locked artifact: sanctuary records the artifact's
//! sha256 in `provenance_url.json` (PEP 710), so a wheel of the same version from elsewhere
//! (another index, a re-upload) is replaced. A distribution another installer put there at
//! the locked version has no such record and is reinstalled once, so that every byte in
//! the environment is known to be the locked one. Installed distributions the lockfiles do
//! not list are removed (exact sync), unless the sync is inexact.

use std::collections::BTreeMap;

use pep440_rs::Version;
use pep508_rs::PackageName;

use super::fetch::Artifact;
use crate::environment::{Environment, InstalledDistribution};

/// One distribution the lockfiles ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub name: PackageName,
    pub version: Version,
    /// The wheel chosen for this interpreter, or the sdist to build (see `build`).
    pub artifact: Artifact,
    /// How `artifact` becomes a wheel when it is an sdist.
    pub build: Option<BuildRecipe>,
    /// `foundation (cu130)` or `application`, for the report.
    pub layer: String,
    /// Named by the layer's own requirements (pip's `REQUESTED`).
    pub direct: bool,
}

/// How a locked sdist is built into the wheel that is installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildRecipe {
    /// Built with no isolation in an environment holding the key's Foundation (and
    /// `requires`), so that it compiles against the installed torch.
    pub foundation: bool,
    /// Build requirements added to the build environment (`[build.package.<name>]`).
    pub requires: Vec<pep508_rs::Requirement>,
    /// Environment variables of the build.
    pub env: BTreeMap<String, String>,
    /// The dependencies the lockfile records for the package: the built wheel's metadata
    /// must agree.
    pub dependencies: Vec<PackageName>,
    /// The extras the lockfile asked for (their dependencies count too).
    pub extras: Vec<String>,
    /// What the installed wheel depends on besides the sdist (the Foundation's pins for a
    /// Foundation build, the declared variables), as a digest: when it changes, the wheel is
    /// rebuilt and reinstalled. Recorded in `provenance_url.json`.
    pub id: String,
    /// A local project (a directory or a git commit) built in place of an sdist.
    pub local: Option<LocalBuild>,
}

/// Where a local project's source tree is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalBuild {
    /// A directory (absolute), installed editable (PEP 660) or built into a wheel.
    Directory {
        tree: std::path::PathBuf,
        editable: bool,
    },
    /// A commit of a git repository, and the project's directory in it.
    Git {
        url: String,
        requested_revision: Option<String>,
        commit: String,
        subdirectory: Option<String>,
    },
}

impl LocalBuild {
    /// `direct_url.json` (PEP 610) of an install from here.
    pub fn direct_url(&self) -> String {
        let body = match self {
            LocalBuild::Directory { tree, editable } => {
                let url = url::Url::from_directory_path(tree)
                    .map(|u| u.as_str().trim_end_matches('/').to_string())
                    .unwrap_or_else(|()| tree.display().to_string());
                serde_json::json!({ "url": url, "dir_info": { "editable": editable } })
            }
            LocalBuild::Git {
                url,
                requested_revision,
                commit,
                subdirectory,
            } => {
                let mut vcs = serde_json::json!({ "vcs": "git", "commit_id": commit });
                if let Some(rev) = requested_revision {
                    vcs["requested_revision"] = serde_json::Value::from(rev.as_str());
                }
                let mut body = serde_json::json!({ "url": plain_git_url(url), "vcs_info": vcs });
                if let Some(sub) = subdirectory {
                    body["subdirectory"] = serde_json::Value::from(sub.as_str());
                }
                body
            }
        };
        format!("{body}\n")
    }
}

/// A git URL as PEP 610 records it: without credentials (an ssh account name, which is not
/// a secret, stays).
fn plain_git_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "ssh" && parsed.password().is_none() => url.to_string(),
        Ok(parsed) => crate::http::redact::without_credentials(&parsed).to_string(),
        Err(_) => crate::http::redact::redact_text(url).into_owned(),
    }
}

/// Why a distribution is (re)installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Not installed.
    Missing,
    /// Installed at another version.
    Version(Version),
    /// The locked version is installed, from another artifact (the sha256 it recorded).
    Artifact(String),
    /// The locked version is installed by another tool, which recorded no artifact.
    Unrecorded { installer: Option<String> },
    /// Installed more than once, or without a `RECORD`, or from a direct URL.
    Broken(String),
    /// Built from the locked sdist against something that changed since (the Foundation, the
    /// declared build variables).
    Rebuild,
}

/// A distribution to install, and the installed copies it replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    pub desired: Desired,
    pub replaces: Vec<InstalledDistribution>,
    pub reason: Reason,
}

/// What a sync does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Sorted by name.
    pub install: Vec<Install>,
    /// Distributions the lockfiles do not list; sorted by name.
    pub remove: Vec<InstalledDistribution>,
    /// Locked distributions already in place.
    pub unchanged: Vec<PackageName>,
}

impl SyncPlan {
    /// Compare `desired` (one entry per name) with `environment`. `exact`: remove what is
    /// not desired.
    pub fn new(desired: &[Desired], environment: &Environment, exact: bool) -> SyncPlan {
        let installed = environment.by_name();
        let wanted: BTreeMap<&PackageName, &Desired> =
            desired.iter().map(|d| (&d.name, d)).collect();
        let mut plan = SyncPlan::default();
        for (name, want) in &wanted {
            let copies: Vec<InstalledDistribution> = installed
                .get(name)
                .map(|v| v.iter().map(|d| (*d).clone()).collect())
                .unwrap_or_default();
            match reason(want, &copies) {
                None => plan.unchanged.push((*name).clone()),
                Some(reason) => plan.install.push(Install {
                    desired: (*want).clone(),
                    replaces: copies,
                    reason,
                }),
            }
        }
        if exact {
            for (name, copies) in &installed {
                if !wanted.contains_key(name) {
                    plan.remove.extend(copies.iter().map(|d| (*d).clone()));
                }
            }
        }
        plan
    }

    /// Nothing to install or remove.
    pub fn is_empty(&self) -> bool {
        self.install.is_empty() && self.remove.is_empty()
    }
}

/// Why `want` must be installed over `copies`, or `None` when it is in place.
fn reason(want: &Desired, copies: &[InstalledDistribution]) -> Option<Reason> {
    let [dist] = copies else {
        return Some(if copies.is_empty() {
            Reason::Missing
        } else {
            Reason::Broken(format!("installed {} times", copies.len()))
        });
    };
    if !dist.has_record {
        return Some(Reason::Broken("no RECORD".to_string()));
    }
    let local = want.build.as_ref().is_some_and(|b| b.local.is_some());
    if dist.direct_url.is_some() != local {
        return Some(Reason::Broken(if local {
            "not installed from the local project".to_string()
        } else {
            "installed from a direct URL or a path".to_string()
        }));
    }
    // `2.9.0+cu128` and `2.9.0+cu130` compare unequal: the local label is part of it.
    if dist.version != want.version {
        return Some(Reason::Version(dist.version.clone()));
    }
    let provenance = dist.provenance.as_ref();
    match provenance.and_then(|p| p.sha256.as_deref()) {
        Some(sha) if sha.eq_ignore_ascii_case(&want.artifact.sha256) => {
            let built = provenance.and_then(|p| p.build.as_deref());
            match &want.build {
                Some(recipe) if built != Some(recipe.id.as_str()) => Some(Reason::Rebuild),
                _ => None,
            }
        }
        Some(sha) => Some(Reason::Artifact(sha.to_string())),
        None => Some(Reason::Unrecorded {
            installer: dist.installer.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::environment::{DirectUrl, Provenance};

    fn desired(name: &str, version: &str, sha: &str) -> Desired {
        Desired {
            name: name.parse().unwrap(),
            version: version.parse().unwrap(),
            artifact: Artifact {
                package: format!("{name} {version}"),
                filename: format!("{name}-{version}-py3-none-any.whl"),
                url: format!("https://example.invalid/{name}.whl")
                    .parse()
                    .unwrap(),
                size: Some(1),
                sha256: sha.to_string(),
                index: "pypi".to_string(),
            },
            build: None,
            layer: "application".to_string(),
            direct: false,
        }
    }

    fn installed(name: &str, version: &str, sha: Option<&str>) -> InstalledDistribution {
        InstalledDistribution {
            name: name.parse().unwrap(),
            version: version.parse().unwrap(),
            dist_info: PathBuf::from(format!("/venv/site/{name}-{version}.dist-info")),
            installer: Some(if sha.is_some() { "sanctuary" } else { "pip" }.to_string()),
            direct_url: None,
            provenance: sha.map(|s| Provenance {
                url: String::new(),
                sha256: Some(s.to_string()),
                build: None,
            }),
            record: Vec::new(),
            has_record: true,
        }
    }

    fn env(dists: Vec<InstalledDistribution>) -> Environment {
        Environment {
            root: PathBuf::from("/venv"),
            site_packages: PathBuf::from("/venv/site"),
            python: Some("3.11.7".to_string()),
            distributions: dists,
            unreadable: Vec::new(),
        }
    }

    fn summary(plan: &SyncPlan) -> Vec<String> {
        let mut out: Vec<String> = plan
            .install
            .iter()
            .map(|i| format!("install {} {:?}", i.desired.name, i.reason))
            .collect();
        out.extend(plan.remove.iter().map(|d| format!("remove {}", d.name)));
        out.extend(plan.unchanged.iter().map(|n| format!("keep {n}")));
        out
    }

    #[test]
    fn installs_replaces_removes_and_keeps() {
        let want = [
            desired("torch", "2.9.0+cu130", "aa"),
            desired("numpy", "2.1.0", "bb"),
            desired("six", "1.16.0", "cc"),
            desired("new", "1.0", "dd"),
        ];
        let environment = env(vec![
            installed("torch", "2.9.0+cu128", Some("00")),
            installed("numpy", "2.1.0", Some("bb")),
            installed("six", "1.16.0", Some("ff")),
            installed("nvidia-cublas-cu12", "12.8.4.1", Some("ee")),
        ]);
        let plan = SyncPlan::new(&want, &environment, true);
        assert_eq!(
            summary(&plan),
            [
                "install new Missing",
                "install six Artifact(\"ff\")",
                "install torch Version(\"2.9.0+cu128\")",
                "remove nvidia-cublas-cu12",
                "keep numpy",
            ]
        );
        assert_eq!(plan.install[2].replaces.len(), 1);
        let inexact = SyncPlan::new(&want, &environment, false);
        assert!(inexact.remove.is_empty());
    }

    #[test]
    fn the_same_version_from_another_installer_is_reinstalled_once() {
        let want = [desired("six", "1.16.0", "cc")];
        let plan = SyncPlan::new(&want, &env(vec![installed("six", "1.16.0", None)]), true);
        assert_eq!(
            plan.install[0].reason,
            Reason::Unrecorded {
                installer: Some("pip".to_string())
            }
        );
        let plan = SyncPlan::new(
            &want,
            &env(vec![installed("six", "1.16.0", Some("CC"))]),
            true,
        );
        assert!(plan.is_empty(), "hex case does not matter");
    }

    #[test]
    fn broken_installs_are_replaced() {
        let want = [desired("six", "1.16.0", "cc")];
        let mut no_record = installed("six", "1.16.0", Some("cc"));
        no_record.has_record = false;
        let mut direct = installed("six", "1.16.0", Some("cc"));
        direct.direct_url = Some(DirectUrl {
            url: "file:///src/six".to_string(),
            editable: true,
            vcs: None,
            commit: None,
        });
        let twice = vec![
            installed("six", "1.16.0", Some("cc")),
            installed("six", "1.15.0", Some("cc")),
        ];
        for (dists, expected) in [
            (vec![no_record], "no RECORD"),
            (vec![direct], "direct URL"),
            (twice, "2 times"),
        ] {
            let n = dists.len();
            let plan = SyncPlan::new(&want, &env(dists), true);
            assert!(
                matches!(&plan.install[0].reason, Reason::Broken(m) if m.contains(expected)),
                "{:?}",
                plan.install[0].reason
            );
            assert_eq!(plan.install[0].replaces.len(), n);
        }
    }
}
