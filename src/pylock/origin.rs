//! Where a lockfile's artifacts may come from. A lockfile arrives in a pull request, so the
//! URLs in it are not trusted by themselves: each package must record one of the indexes the
//! manifest declares, and each wheel or sdist URL must be on the origin of that index, of
//! another declared index, or of a file host the manifest names for it (`file-origins`). A URL
//! moved to another host with a matching hash is refused, not installed.
//!
//! Directory and git packages come from no index: [`TrustedIndexes::check`] passes them, and
//! [`local_sources`] lists them for the caller, which must check each against the path and git
//! requirements of the manifest (a lockfile from a pull request could point a directory or a
//! repository anywhere).
//!
//! Pure: URLs in, problems out.

use pep508_rs::PackageName;
use url::Url;

use super::{LocalSource, Lockfile};

/// File hosts that well-known indexes serve their files from without saying so in the
/// manifest: the index origin, then the file origin.
const KNOWN_FILE_HOSTS: &[(&str, &str)] = &[
    ("https://pypi.org", "https://files.pythonhosted.org"),
    (
        "https://test.pypi.org",
        "https://test-files.pythonhosted.org",
    ),
];

/// The indexes a project trusts: every URL a declared index can have (as written, redirected
/// by `SANCTUARY_INDEX_<NAME>`, expanded per hardware key), with the file origins declared for
/// it.
#[derive(Clone, Debug, Default)]
pub struct TrustedIndexes {
    indexes: Vec<TrustedIndex>,
}

#[derive(Clone, Debug)]
struct TrustedIndex {
    /// Without credentials and trailing slashes, for comparison.
    url: String,
    parsed: Url,
    /// `scheme://host[:port]` of the index and of its file hosts.
    origins: Vec<String>,
}

/// One artifact that does not come from where it may.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginProblem {
    pub package: String,
    pub version: String,
    /// What is wrong, naming the URL.
    pub message: String,
}

impl std::fmt::Display for OriginProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.package, self.version, self.message)
    }
}

/// A lockfile whose artifacts do not all come from where they may.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{file} names artifacts that no declared index serves:\n  {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
pub struct OriginError {
    /// The lockfile, as shown to the user.
    pub file: String,
    pub problems: Vec<OriginProblem>,
}

impl OriginError {
    pub fn hint(&self) -> String {
        "lockfiles arrive in pull requests, so nothing is fetched from a host the manifest does not declare; if an index really serves its files from that host, list it in `file-origins` of that [[index]], otherwise re-lock with `sanctuary lock` and review the diff".to_string()
    }
}

impl TrustedIndexes {
    /// Trust `url` (an index URL) and the `file_origins` declared for it.
    pub fn add(&mut self, url: &Url, file_origins: &[String]) {
        let mut origins = vec![origin(url)];
        for (index, files) in KNOWN_FILE_HOSTS {
            if origins[0] == *index {
                origins.push((*files).to_string());
            }
        }
        origins.extend(file_origins.iter().cloned());
        let key = comparable(url);
        if let Some(existing) = self.indexes.iter_mut().find(|i| i.url == key) {
            for o in origins {
                if !existing.origins.contains(&o) {
                    existing.origins.push(o);
                }
            }
            return;
        }
        self.indexes.push(TrustedIndex {
            url: key,
            parsed: url.clone(),
            origins,
        });
    }

    /// Every artifact of `lock` that does not come from where it may.
    pub fn check(&self, lock: &Lockfile) -> Vec<OriginProblem> {
        let mut problems = Vec::new();
        for package in &lock.packages {
            if package.source.is_some() {
                // From the manifest, not an index: see `local_sources`.
                continue;
            }
            let problem = |message: String| OriginProblem {
                package: package.name.to_string(),
                version: package.version.to_string(),
                message,
            };
            let index = Url::parse(&package.index)
                .ok()
                .and_then(|u| self.indexes.iter().find(|i| i.url == comparable(&u)));
            let Some(index) = index else {
                problems.push(problem(format!(
                    "its index `{}` is not one the manifest declares",
                    package.index
                )));
                continue;
            };
            let files = package.sdist.iter().map(|s| ("sdist", &s.url));
            let files = files.chain(package.wheels.iter().map(|w| ("wheel", &w.url)));
            for (what, file_url) in files {
                let allowed = Url::parse(file_url).is_ok_and(|url| self.allows(index, &url));
                if !allowed {
                    problems.push(problem(format!(
                        "{what} URL `{file_url}` is not on the origin of its index `{}`, of another declared index, or of its `file-origins`",
                        package.index
                    )));
                }
            }
        }
        problems
    }

    /// [`TrustedIndexes::check`] of the lockfile shown as `file`, as an error when it finds
    /// anything.
    pub fn check_file(&self, file: &str, lock: &Lockfile) -> Result<(), OriginError> {
        let problems = self.check(lock);
        if problems.is_empty() {
            return Ok(());
        }
        Err(OriginError {
            file: file.to_string(),
            problems,
        })
    }

    fn allows(&self, index: &TrustedIndex, url: &Url) -> bool {
        if url.scheme() == "file" {
            // A local file is only ever named by a local index.
            return index.parsed.scheme() == "file";
        }
        let wanted = origin(url);
        index.origins.contains(&wanted)
            || self
                .indexes
                .iter()
                .any(|i| i.parsed.scheme() != "file" && origin(&i.parsed) == wanted)
    }
}

/// The directory and git packages of `lock`, by name: what the caller checks against the
/// manifest's path and git requirements, since no index vouches for them.
pub fn local_sources(lock: &Lockfile) -> Vec<(&PackageName, &LocalSource)> {
    let mut out: Vec<(&PackageName, &LocalSource)> = lock
        .packages
        .iter()
        .filter_map(|p| p.source.as_ref().map(|s| (&p.name, s)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// `scheme://host[:port]` (the default port left out), lower case; opaque for `file:`.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// An index URL as compared: no credentials, no trailing slash.
fn comparable(url: &Url) -> String {
    let mut url = url.clone();
    // Both fail only for URLs that cannot carry credentials, which then have none.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.as_str().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pylock::{LockedPackage, LockedSdist, LockedWheel, Lockfile, VcsKind};

    fn lock(index: &str, wheel_url: &str) -> Lockfile {
        let mut lock = Lockfile::empty_for_tests();
        lock.packages.push(LockedPackage {
            name: "demo".parse().unwrap(),
            version: "1.0".parse().unwrap(),
            marker: None,
            index: index.to_string(),
            requires_python: None,
            dependencies: vec![],
            dependency_markers: Default::default(),
            sdist: None,
            wheels: vec![LockedWheel {
                name: "demo-1.0-py3-none-any.whl".to_string(),
                url: wheel_url.to_string(),
                size: None,
                upload_time: None,
                sha256: "0".repeat(64),
            }],
            source: None,
            direct: true,
            extras: vec![],
        });
        lock
    }

    fn trusted(urls: &[(&str, &[&str])]) -> TrustedIndexes {
        let mut t = TrustedIndexes::default();
        for (url, files) in urls {
            let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
            t.add(&Url::parse(url).unwrap(), &files);
        }
        t
    }

    #[test]
    fn wheels_on_their_index_or_its_file_hosts_pass() {
        let t = trusted(&[
            ("https://pypi.org/simple", &[]),
            ("https://corp.example/simple/", &["https://cdn.example"]),
            ("file:///srv/wheels/cu130", &[]),
        ]);
        for (index, url) in [
            (
                "https://pypi.org/simple",
                "https://files.pythonhosted.org/packages/ab/demo-1.0-py3-none-any.whl",
            ),
            (
                "https://corp.example/simple",
                "https://corp.example/files/demo-1.0-py3-none-any.whl",
            ),
            (
                "https://corp.example/simple",
                "https://cdn.example/demo-1.0-py3-none-any.whl",
            ),
            // Credentials never take part in the comparison.
            (
                "https://bob:secret@corp.example/simple",
                "https://corp.example/files/demo-1.0-py3-none-any.whl",
            ),
            // Another declared index's origin.
            (
                "https://corp.example/simple",
                "https://pypi.org/demo-1.0-py3-none-any.whl",
            ),
            (
                "file:///srv/wheels/cu130",
                "file:///srv/wheels/cu130/demo-1.0-py3-none-any.whl",
            ),
        ] {
            assert_eq!(t.check(&lock(index, url)), vec![], "{index} {url}");
        }
    }

    /// Regression: a wheel URL moved to another host with a matching hash installed silently.
    #[test]
    fn a_wheel_url_moved_to_another_host_is_refused() {
        let t = trusted(&[("https://pypi.org/simple", &[])]);
        for (index, url) in [
            (
                "https://pypi.org/simple",
                "https://evil.example/demo-1.0-py3-none-any.whl",
            ),
            (
                "https://pypi.org/simple",
                "http://files.pythonhosted.org/demo-1.0-py3-none-any.whl",
            ),
            (
                "https://pypi.org/simple",
                "https://files.pythonhosted.org:8443/demo-1.0-py3-none-any.whl",
            ),
            (
                "https://pypi.org/simple",
                "file:///tmp/demo-1.0-py3-none-any.whl",
            ),
        ] {
            let problems = t.check(&lock(index, url));
            assert_eq!(problems.len(), 1, "{url}");
            assert!(problems[0].to_string().contains(url), "{}", problems[0]);
        }
        // The package's index must be declared too, or the check would mean nothing.
        let problems = t.check(&lock(
            "https://evil.example/simple",
            "https://evil.example/demo-1.0-py3-none-any.whl",
        ));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .message
                .contains("`https://evil.example/simple` is not one the manifest declares"),
            "{}",
            problems[0]
        );
    }

    /// An sdist's URL is held to the same origins as the wheels'.
    #[test]
    fn an_sdist_url_moved_to_another_host_is_refused() {
        let t = trusted(&[("https://pypi.org/simple", &[])]);
        let sdist = |url: &str| LockedSdist {
            name: "demo-1.0.tar.gz".to_string(),
            url: url.to_string(),
            size: None,
            upload_time: None,
            sha256: "1".repeat(64),
        };
        let wheel = "https://files.pythonhosted.org/demo-1.0-py3-none-any.whl";
        let mut good = lock("https://pypi.org/simple", wheel);
        good.packages[0].sdist = Some(sdist("https://files.pythonhosted.org/demo-1.0.tar.gz"));
        assert_eq!(t.check(&good), vec![]);
        // Sdist-only, from elsewhere.
        let mut bad = good.clone();
        bad.packages[0].wheels.clear();
        bad.packages[0].sdist = Some(sdist("https://evil.example/demo-1.0.tar.gz"));
        let problems = t.check(&bad);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.starts_with(
                "sdist URL `https://evil.example/demo-1.0.tar.gz` is not on the origin"
            ),
            "{}",
            problems[0]
        );
    }

    /// Directory and git packages name no index: the origin check passes them, and
    /// `local_sources` hands them to the caller to match against the manifest.
    #[test]
    fn local_packages_pass_the_origin_check_and_are_listed_for_the_caller() {
        let t = trusted(&[("https://pypi.org/simple", &[])]);
        let mut l = lock(
            "https://pypi.org/simple",
            "https://files.pythonhosted.org/demo-1.0-py3-none-any.whl",
        );
        let local = |name: &str, source: LocalSource| LockedPackage {
            name: name.parse().unwrap(),
            version: "0.1".parse().unwrap(),
            marker: None,
            index: String::new(),
            requires_python: None,
            dependencies: vec![],
            dependency_markers: Default::default(),
            sdist: None,
            wheels: vec![],
            source: Some(source),
            direct: true,
            extras: vec![],
        };
        let git = LocalSource::Vcs {
            kind: VcsKind::Git,
            url: "https://evil.example/repo".to_string(),
            requested_revision: None,
            commit_id: "a".repeat(40),
            subdirectory: None,
        };
        let dir = LocalSource::Directory {
            path: "../libs/core".to_string(),
            editable: true,
        };
        l.packages.push(local("zeta", git.clone()));
        l.packages.push(local("alpha", dir.clone()));
        assert_eq!(t.check(&l), vec![]);
        let listed: Vec<(String, &LocalSource)> = local_sources(&l)
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect();
        assert_eq!(
            listed,
            vec![("alpha".to_string(), &dir), ("zeta".to_string(), &git)]
        );
    }
}
