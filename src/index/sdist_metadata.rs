//! The core metadata of a source distribution for the [`IndexSet`]: the sdist is fetched into
//! the cache and verified ([`super::sdist_fetch`]), then read by the [`SdistBuilder`] the
//! caller installed (`ops::building`: static metadata where the standards allow it, else the
//! build backend); without one, an error. The metadata is cached by the sdist's sha256 like a
//! wheel's. The index does not open archives itself: that is the `sdist` module's, above it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::sdist_fetch::{SdistFile, SdistRequest, fetch_sdist};
use super::{CoreMetadata, DistFile, IndexError, IndexSet, PackageFiles};
use crate::cache::CacheRoot;

/// A boxed future, as a trait object returns one.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Reads an sdist's metadata: statically where it can, else (when allowed) by running its
/// build backend (PEP 517 `prepare_metadata_for_build_wheel`); installed on an [`IndexSet`]
/// by its caller ([`IndexSet::with_builder`]).
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
    /// Let this set read the metadata of sdists with `builder`.
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
        let Some(builder) = &self.builder else {
            return Err(IndexError::SdistMetadata {
                file: file.filename.clone(),
                reason: "nothing here can read a source distribution's metadata".to_string(),
            });
        };
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
        builder.metadata(package, file, &sdist).await
    }
}
