//! Guessing ahead of PubGrub: the files of a package, the metadata of the version the
//! resolver will likely choose, then the same for that version's dependencies, each on its
//! own task. A cold resolution then waits on the longest chain of requests in the dependency
//! tree rather than on one round of requests for each package PubGrub decides in turn.
//!
//! A guess only fills the [`Fetcher`]'s memos: the resolver asks for what it needs itself,
//! so a wrong guess costs requests, never the answer. Guesses below the packages PubGrub
//! discovered never start a build (they only read the metadata of wheels) and record
//! nothing in the [`Policy`].

use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName};
use pubgrub::Ranges;
use tracing::trace;

use super::provider::{Fetcher, Policy, metadata_file};
use crate::index::PackageSource;

/// One package to guess for.
pub(super) struct Guess {
    name: PackageName,
    range: Ranges<Version>,
    /// The extras asked of it on the way here: their requirements are followed too.
    extras: Vec<ExtraName>,
    /// Whether PubGrub discovered it (and may build it anyway), rather than a guess.
    discovered: bool,
}

impl Guess {
    /// A package PubGrub discovered, wanted in `range`.
    pub(super) fn discovered(name: PackageName, range: Ranges<Version>) -> Self {
        Guess {
            name,
            range,
            extras: Vec::new(),
            discovered: true,
        }
    }
}

/// Start guessing for `guess` on the fetcher's runtime.
pub(super) fn start<S: PackageSource>(fetcher: Arc<Fetcher<S>>, policy: Arc<Policy>, guess: Guess) {
    let handle = fetcher.handle().clone();
    handle.spawn(async move {
        let Guess {
            name,
            range,
            extras,
            discovered,
        } = guess;
        let Ok(Some(files)) = fetcher.files(&name).await else {
            return;
        };
        // What PubGrub discovered goes through `candidate`, which remembers a version passed
        // over for want of a build, as before guesses went deeper.
        let candidate = match discovered {
            true => policy.candidate(&name, &files, &range),
            false => policy.likely_candidate(&name, &files, &range),
        };
        let Some((version, usable)) = candidate else {
            return;
        };
        if policy.build.declared(&name, &version).is_some() {
            return;
        }
        let Some(best) = metadata_file(&files, &version, &usable) else {
            return;
        };
        if !discovered && best.parsed.as_wheel().is_none() {
            return;
        }
        trace!(%name, %version, "prefetching metadata");
        let Ok(metadata) = fetcher.metadata(&files, &best).await else {
            return;
        };
        let env = policy.target.markers();
        for requirement in &metadata.requires_dist {
            if requirement.name == name
                || !requirement.marker.evaluate(env, &extras)
                || !fetcher.first_guess(&requirement.name)
            {
                continue;
            }
            let Ok(range) = policy.requirement_range(requirement) else {
                continue;
            };
            let guess = Guess {
                name: requirement.name.clone(),
                range,
                extras: requirement.extras.clone(),
                discovered: false,
            };
            start(fetcher.clone(), policy.clone(), guess);
        }
    });
}
