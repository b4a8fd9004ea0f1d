//! The layout of sanctuary's on-disk cache, and the one place its version and its bucket
//! names are spelled. Every user of the cache takes its directories from [`CacheRoot`]:
//!
//! ```text
//! <cache_dir>/                 SANCTUARY_CACHE_DIR, else the user's cache directory
//!   v3/                        CACHE_VERSION: bumped whenever an entry's format or meaning
//!                              changes, so stale data is never read
//!     simple/<sha256 of page URL (and project)>.page
//!                              parsed simple pages: a JSON header line (HTTP cache
//!                              information, fetch time, a digest of the body, or a
//!                              remembered 404), then one tab-separated line per file,
//!                              grouped by version and decoded per version on first use
//!     metadata/<key>.json      core metadata by artifact sha256 (`url-<sha256 of URL>`
//!                              without one): immutable
//!     facts/<key>.json         artifact size and upload time, same key: immutable
//!     wheels/<sha256>/         unpacked wheels: `files/` and `unpacked.json` (the
//!                              archive's verified sha256, each file's sha256, size and
//!                              mode); installed files are hard links into `files/`
//!     wheels/.unpack-*         a wheel being unpacked, renamed into place when complete
//!     downloads/.download-*/   wheels too large to hold in memory while they download
//!     sdists/<sha256>/<file>   source distributions, kept under the sha256 they were
//!                              verified against (read for static metadata and built)
//!     built/<build key>/<wheel>
//!                              wheels built from an sdist, by the sdist's sha256, the
//!                              interpreter's ABI and platform and the build environment
//!     build-envs/<key>/        build environments (venvs) by the wheels they hold and the
//!                              interpreter; `.complete` is written last
//!     git/db/<digest of URL>/  bare git repositories of git requirements
//!     git/checkouts/<commit>/  one checkout per locked commit
//! ```
//!
//! The stores themselves own their entries: [`crate::index::cache`] the pages, metadata and
//! facts, [`crate::install::fetch`] the unpacked wheels and downloads,
//! [`crate::index::sdist_fetch`] the sdists, [`crate::ops::building`] the built wheels,
//! [`crate::build::env`] the build environments and [`crate::ops::git`] the repositories. Every write is a
//! temporary file or directory renamed into place, so processes can share the cache; an
//! entry that does not read back is a miss, never an error.

use std::path::{Path, PathBuf};

/// The cache format version, the first component under the cache directory. Bumped whenever
/// the layout or an entry format changes, or when a parser fix changes what would be stored
/// (entries hold parsed data). v2: metadata headers with whitespace-only continuation lines
/// were cut short in v1. v3: pages stored as a header line and tab-separated file lines,
/// decoded per version on first use.
pub const CACHE_VERSION: &str = "v3";

/// The versioned cache root, `<cache_dir>/<CACHE_VERSION>/`, and its buckets. Nothing is
/// created here: each store creates its bucket on its first write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheRoot {
    root: PathBuf,
}

impl CacheRoot {
    /// The cache of this version under `cache_dir` (`SANCTUARY_CACHE_DIR`).
    pub fn new(cache_dir: &Path) -> CacheRoot {
        CacheRoot {
            root: cache_dir.join(CACHE_VERSION),
        }
    }

    /// `<cache_dir>/<CACHE_VERSION>/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Parsed simple pages.
    pub fn simple(&self) -> PathBuf {
        self.root.join("simple")
    }

    /// Core metadata, by artifact key.
    pub fn metadata(&self) -> PathBuf {
        self.root.join("metadata")
    }

    /// Artifact facts (size, upload time), by artifact key.
    pub fn facts(&self) -> PathBuf {
        self.root.join("facts")
    }

    /// Unpacked wheels, by the sha256 of their archive.
    pub fn wheels(&self) -> PathBuf {
        self.root.join("wheels")
    }

    /// Downloads too large to hold in memory, while they arrive.
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }

    /// Source distributions, by the sha256 they were verified against.
    pub fn sdists(&self) -> PathBuf {
        self.root.join("sdists")
    }

    /// Wheels built from source distributions, by build key.
    pub fn built(&self) -> PathBuf {
        self.root.join("built")
    }

    /// Build environments, by the wheels and interpreter they hold.
    pub fn build_envs(&self) -> PathBuf {
        self.root.join("build-envs")
    }

    /// Git repositories (`db/`) and checkouts (`checkouts/`).
    pub fn git(&self) -> PathBuf {
        self.root.join("git")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_live_under_the_version() {
        let cache = CacheRoot::new(Path::new("/c"));
        assert_eq!(cache.root(), Path::new("/c").join(CACHE_VERSION));
        let buckets = [
            cache.simple(),
            cache.metadata(),
            cache.facts(),
            cache.wheels(),
            cache.downloads(),
            cache.sdists(),
            cache.built(),
            cache.build_envs(),
            cache.git(),
        ];
        for bucket in &buckets {
            assert_eq!(bucket.parent(), Some(cache.root()), "{}", bucket.display());
        }
        let mut names: Vec<_> = buckets.iter().filter_map(|b| b.file_name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), buckets.len());
    }
}
