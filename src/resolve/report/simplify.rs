//! Simplifications of PubGrub's derivation tree before it is put in words: steps that only
//! say "no such version exists" are folded into the fact they qualify, and chains of
//! "p R1 depends on d S1", "p R2 depends on d S2", ... into the one fact they derive.

use std::sync::Arc;

use pep440_rs::Version;
use pubgrub::{DerivationTree, External, Ranges, Term};

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

/// Marks an `External::Custom` fact made by [`merge_dependencies`]: "`p` R depends on one of
/// several packages"; the rest of the message names them ("torch==2.8.0 or
/// transformers<4.55"). No reason the provider gives starts with a control character.
pub const DEPENDS_ON: &str = "\u{1}depends on ";

/// The package whose dependency `tree` states, if it is such a fact.
fn dependency_fact_of(tree: &Tree) -> Option<&Pkg> {
    match tree {
        DerivationTree::External(External::FromDependencyOf(p, _, _, _)) if *p != Pkg::Root => {
            Some(p)
        }
        DerivationTree::External(External::Custom(p, _, m)) if m.starts_with(DEPENDS_ON) => Some(p),
        _ => None,
    }
}

/// Replace every derived step whose two causes both say what one package `p` depends on by
/// the fact it derives, "`p` R depends on `d` S" (or on one of several packages), taken from
/// its own terms. PubGrub learns a package's dependencies one release (or run of releases) at
/// a time, so a package with many releases otherwise explains them once per release. The
/// derived fact is what PubGrub proved, so the report says nothing it did not; only the
/// per-release detail goes.
pub fn merge_dependencies(tree: &mut Tree, context: &ReportContext<'_>) {
    let DerivationTree::Derived(derived) = tree else {
        return;
    };
    merge_dependencies(Arc::make_mut(&mut derived.cause1), context);
    merge_dependencies(Arc::make_mut(&mut derived.cause2), context);
    let (Some(p), Some(p2)) = (
        dependency_fact_of(&derived.cause1),
        dependency_fact_of(&derived.cause2),
    ) else {
        return;
    };
    if p != p2 {
        return;
    }
    let mut range = None;
    let mut deps: Vec<(&Pkg, &Ranges<Version>)> = Vec::new();
    for (pkg, term) in &derived.terms {
        match term {
            Term::Positive(r) if pkg == p => range = Some(r),
            Term::Negative(s) if pkg != p && *pkg != Pkg::Root => deps.push((pkg, s)),
            _ => return,
        }
    }
    let Some(range) = range else { return };
    deps.sort_by(|a, b| a.0.cmp(b.0));
    let merged = match deps.as_slice() {
        [] => return,
        [(d, s)] => {
            External::FromDependencyOf(p.clone(), range.clone(), (*d).clone(), (*s).clone())
        }
        many => {
            let named: Vec<String> = many
                .iter()
                .map(|(d, s)| context.package_range(d, s))
                .collect();
            External::Custom(
                p.clone(),
                range.clone(),
                format!("{DEPENDS_ON}{}", named.join(" or ")),
            )
        }
    };
    *tree = DerivationTree::External(merged);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pubgrub::{Derived, Map};
    use std::str::FromStr;

    fn pkg(name: &str) -> Pkg {
        Pkg::Base(pep508_rs::PackageName::from_str(name).unwrap())
    }

    fn single(version: &str) -> Ranges<Version> {
        Ranges::singleton(Version::from_str(version).unwrap())
    }

    fn depends(p: &str, v: &str, d: &str, dv: &str) -> Arc<Tree> {
        Arc::new(DerivationTree::External(External::FromDependencyOf(
            pkg(p),
            single(v),
            pkg(d),
            single(dv),
        )))
    }

    fn derived(terms: Vec<(Pkg, Term<Ranges<Version>>)>, c1: Arc<Tree>, c2: Arc<Tree>) -> Tree {
        let terms: Map<Pkg, Term<Ranges<Version>>> = terms.into_iter().collect();
        DerivationTree::Derived(Derived {
            terms,
            shared_id: None,
            cause1: c1,
            cause2: c2,
        })
    }

    fn with_context(check: impl FnOnce(&ReportContext<'_>)) {
        let policy = crate::resolve::provider::Policy {
            target: crate::target::Target::new("3.12", Some("linux-x86_64")).unwrap(),
            mode: Default::default(),
            explicit_prerelease: Default::default(),
            pins: Default::default(),
            no_binary: Default::default(),
            build: Default::default(),
            skipped: Default::default(),
            usable: Default::default(),
            preferences: Default::default(),
            constraints: Default::default(),
        };
        check(&ReportContext {
            roots: Default::default(),
            policy: &policy,
            files: Default::default(),
            missing: Default::default(),
            scopes: Default::default(),
            dependencies: Default::default(),
            width: 100,
        });
    }

    #[test]
    fn dependencies_of_one_package_on_another_merge() {
        let both = single("1").union(&single("2"));
        let deps = single("10").union(&single("20"));
        let mut tree = derived(
            vec![
                (pkg("a"), Term::Positive(both.clone())),
                (pkg("b"), Term::Negative(deps.clone())),
            ],
            depends("a", "1", "b", "10"),
            depends("a", "2", "b", "20"),
        );
        with_context(|context| merge_dependencies(&mut tree, context));
        let expected: Tree =
            DerivationTree::External(External::FromDependencyOf(pkg("a"), both, pkg("b"), deps));
        assert_eq!(format!("{tree:?}"), format!("{expected:?}"));
    }

    #[test]
    fn other_steps_stay() {
        // a depends on b, b depends on c: the chain names b, so it stays.
        let mut tree = derived(
            vec![
                (pkg("a"), Term::Positive(single("1"))),
                (pkg("c"), Term::Negative(single("30"))),
            ],
            depends("a", "1", "b", "10"),
            depends("b", "10", "c", "30"),
        );
        let before = format!("{tree:?}");
        with_context(|context| merge_dependencies(&mut tree, context));
        assert_eq!(format!("{tree:?}"), before);
    }

    #[test]
    fn dependencies_on_several_packages_merge_into_one_fact() {
        let mut terms = vec![
            (pkg("a"), Term::Positive(single("1").union(&single("2")))),
            (pkg("b"), Term::Negative(single("10"))),
            (pkg("c"), Term::Negative(single("30"))),
        ];
        let mut tree = derived(
            terms.clone(),
            depends("a", "1", "b", "10"),
            depends("a", "2", "c", "30"),
        );
        with_context(|context| {
            merge_dependencies(&mut tree, context);
            let DerivationTree::External(External::Custom(p, _, message)) = &tree else {
                panic!("not merged: {tree:?}");
            };
            assert_eq!(*p, pkg("a"));
            assert_eq!(message, &format!("{DEPENDS_ON}b==10 or c==30"));
            // A step with a positive term for another package is no dependency fact.
            terms[2].1 = Term::Positive(single("30"));
            let mut tree = derived(
                terms,
                depends("a", "1", "b", "10"),
                depends("a", "2", "c", "30"),
            );
            let before = format!("{tree:?}");
            merge_dependencies(&mut tree, context);
            assert_eq!(format!("{tree:?}"), before);
        });
    }
}
