//! Simplifications of PubGrub's derivation tree before it is put in words: steps that only
//! say "no such version exists" are folded into the fact they qualify.

use std::sync::Arc;

use pep440_rs::Version;
use pubgrub::{DerivationTree, External, Ranges};

use super::{ReportContext, Tree};
use crate::resolve::provider::Pkg;

/// True when the index lists no version of `pkg` in `range` at all: PubGrub's "no versions"
/// step there says nothing a reader needs.
fn trivially_empty(pkg: &Pkg, range: &Ranges<Version>, context: &ReportContext<'_>) -> bool {
    let Some(name) = pkg.name() else {
        return false;
    };
    if context.missing.contains(name) {
        return false;
    }
    context
        .files
        .get(name)
        .is_some_and(|files| !files.versions.keys().any(|v| range.contains(v)))
}

/// Like `DerivationTree::collapse_no_versions`, but only for steps where no version exists
/// at all; steps where versions exist but were set aside stay, as the hints refer to them.
pub fn collapse_empty(tree: &mut Tree, context: &ReportContext<'_>) {
    let DerivationTree::Derived(derived) = tree else {
        return;
    };
    let empty = |t: &Tree| match t {
        DerivationTree::External(External::NoVersions(p, r)) if trivially_empty(p, r, context) => {
            Some((p.clone(), r.clone()))
        }
        _ => None,
    };
    let (no_versions, other) = if let Some(nv) = empty(&derived.cause1) {
        (nv, derived.cause2.clone())
    } else if let Some(nv) = empty(&derived.cause2) {
        (nv, derived.cause1.clone())
    } else {
        collapse_empty(Arc::make_mut(&mut derived.cause1), context);
        collapse_empty(Arc::make_mut(&mut derived.cause2), context);
        return;
    };
    let (package, set) = no_versions;
    let mut other = (*other).clone();
    collapse_empty(&mut other, context);
    match other {
        DerivationTree::External(External::FromDependencyOf(p1, r1, p2, r2)) => {
            *tree = DerivationTree::External(if p1 == package {
                External::FromDependencyOf(p1, r1.union(&set), p2, r2)
            } else {
                External::FromDependencyOf(p1, r1, p2, r2.union(&set))
            });
        }
        DerivationTree::Derived(_) => *tree = other,
        // Cannot be merged without changing what it says; keep the step.
        DerivationTree::External(_) => {}
    }
}
