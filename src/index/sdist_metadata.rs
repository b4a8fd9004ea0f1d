//! The core metadata of a source distribution for the [`IndexSet`]: without building where
//! the standards allow it (a `PKG-INFO` of Metadata-Version 2.2+ whose dependencies are not
//! `Dynamic`, PEP 643; else a static PEP 621 `[project]` table), otherwise from the build
//! backend through the [`SdistBuilder`] the caller installed (none: an error that says how to
//! avoid the build). The sdist is fetched into the cache and verified first
//! ([`super::sdist_fetch`]); the metadata is cached by its sha256 like a wheel's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::sdist_fetch::{SdistFile, SdistRequest, fetch_sdist};
use super::{CoreMetadata, DistFile, IndexError, IndexSet, PackageFiles};
use crate::cache::CacheRoot;

/// A boxed future, as a trait object returns one.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Computes an sdist's metadata by running its build backend (PEP 517
/// `prepare_metadata_for_build_wheel`); installed on an [`IndexSet`] by the caller that may
/// run build backends ([`IndexSet::with_builder`]).
pub trait SdistBuilder: Send + Sync {
    /// The metadata of `file` (a source distribution of `package`), verified on disk at
    /// `sdist`.
    fn metadata<'a>(
        &'a self,
        package: &'a PackageFiles,
        file: &'a DistFile,
        sdist: &'a SdistFile,
    ) -> BoxFuture<'a, Result<CoreMetadata, IndexError>>;
}

impl IndexSet {
    /// Let this set compute the metadata of sdists that have no static metadata with
    /// `builder`.
    pub fn with_builder(mut self, builder: Arc<dyn SdistBuilder>) -> Self {
        self.builder = Some(builder);
        self
    }

    /// The metadata of `file`, an sdist of `package` (not cached yet).
    pub(super) async fn sdist_metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
    ) -> Result<CoreMetadata, IndexError> {
        let cache = CacheRoot::new(&self.settings.cache_dir);
        let sdist = fetch_sdist(
            &self.client,
            &cache,
            SdistRequest {
                index: &package.index.name,
                url: &file.url,
                filename: &file.filename,
                sha256: file.sha256.as_deref(),
                offline: self.settings.offline,
            },
        )
        .await?;
        let path = sdist.path.clone();
        let filename = file.filename.clone();
        let name = package.name.clone();
        let version = file.parsed.version().clone();
        let static_metadata =
            tokio::task::spawn_blocking(move || static_metadata(&path, &filename, &name, &version))
                .await
                .map_err(|e| IndexError::Other(format!("reading {}: {e}", file.filename)))??;
        if let Some(meta) = static_metadata {
            tracing::debug!("{}: static metadata", file.filename);
            return Ok(meta);
        }
        let Some(builder) = &self.builder else {
            return Err(IndexError::SdistMetadata {
                file: file.filename.clone(),
                reason: "its metadata is not static, and no build backend can be run here"
                    .to_string(),
            });
        };
        builder.metadata(package, file, &sdist).await
    }
}

/// The static metadata of the sdist at `path`, if it has some.
fn static_metadata(
    path: &std::path::Path,
    filename: &str,
    name: &pep508_rs::PackageName,
    version: &pep440_rs::Version,
) -> Result<Option<CoreMetadata>, IndexError> {
    let bad = |e: crate::sdist::SdistError| IndexError::BadMetadata {
        file: filename.to_string(),
        reason: e.to_string(),
    };
    let files = crate::sdist::read_static_files(path, filename, &crate::sdist::Limits::default())
        .map_err(bad)?;
    if let Some(pkg_info) = &files.pkg_info
        && let Some(meta) = crate::sdist::from_pkg_info(pkg_info, name, version).map_err(bad)?
    {
        return Ok(Some(meta));
    }
    if let Some(pyproject) = &files.pyproject {
        let text = std::str::from_utf8(pyproject).map_err(|_| IndexError::BadMetadata {
            file: filename.to_string(),
            reason: "pyproject.toml is not UTF-8".to_string(),
        })?;
        return crate::sdist::from_pyproject(text, name, version).map_err(bad);
    }
    Ok(None)
}
