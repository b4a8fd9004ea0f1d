//! Conflict reports in plain words: PubGrub's derivation tree rendered with our package names
//! (`torch==2.9.0`, `peft[vision]`), root requirements named with their origin
//! (``application requirement `peft>=0.13` (sanctuary.toml:14)``), and `hint:` lines for
//! versions that exist but were set aside (yanked, pre-release, sdist only, no wheel for the
//! target, requires-python) and for packages no index knows.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use pep440_rs::Version;
use pep508_rs::PackageName;
use pubgrub::{
    DefaultStringReporter, DerivationTree, Derived, External, Map, Ranges, ReportFormatter,
    Reporter, Term,
};

use super::RootRequirement;
use super::provider::{Pkg, Policy};
use crate::index::PackageFiles;

/// Everything the report needs besides the tree.
pub struct ReportContext<'a> {
    /// Root requirements (and constraints) by package name.
    pub roots: BTreeMap<PackageName, Vec<&'a RootRequirement>>,
    pub policy: &'a Policy,
    /// Files of every package that was fetched.
    pub files: BTreeMap<PackageName, std::sync::Arc<PackageFiles>>,
    /// Packages no index knows.
    pub missing: BTreeSet<PackageName>,
    /// Where each missing package was looked for, when the source can say.
    pub scopes: BTreeMap<PackageName, crate::index::SearchScope>,
}

type Tree = DerivationTree<Pkg, Ranges<Version>, String>;

/// Render a PubGrub failure.
pub fn render(tree: &Tree, context: &ReportContext<'_>) -> String {
    let hints = hints(tree, context);
    let mut tree = tree.clone();
    collapse_empty(&mut tree, context);
    let formatter = Formatter { context };
    let body = DefaultStringReporter::report_with_formatter(&tree, &formatter);
    let mut out = format!("no resolution for {}:\n{body}", context.policy.target);
    for hint in hints {
        out.push_str("\nhint: ");
        out.push_str(&hint);
    }
    out
}

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
fn collapse_empty(tree: &mut Tree, context: &ReportContext<'_>) {
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
        collapse_empty(std::sync::Arc::make_mut(&mut derived.cause1), context);
        collapse_empty(std::sync::Arc::make_mut(&mut derived.cause2), context);
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

/// `torch==2.9.0`, `numpy>=1.26, <2`, `peft[vision]` (any version).
pub fn package_range(pkg: &Pkg, range: &Ranges<Version>) -> String {
    match pkg {
        Pkg::Root => "the requirements".to_string(),
        _ => {
            let r = range_text(range);
            if r.is_empty() {
                pkg.to_string()
            } else if r.starts_with(['=', '<', '>', '!']) {
                format!("{pkg}{r}")
            } else {
                format!("{pkg} {r}")
            }
        }
    }
}

/// A range in specifier words: `==2.9.0`, `>=1.0, <2.0`, `<1.0 | >=2.0`; empty for any.
pub fn range_text(range: &Ranges<Version>) -> String {
    if range == &Ranges::full() {
        return String::new();
    }
    if range.is_empty() {
        return "(no version)".to_string();
    }
    let segments: Vec<String> = range
        .iter()
        .map(|(lower, upper)| segment_text(lower, upper))
        .collect();
    segments.join(" | ")
}

fn segment_text(lower: &Bound<Version>, upper: &Bound<Version>) -> String {
    use Bound::{Excluded, Included, Unbounded};
    match (lower, upper) {
        (Included(a), Included(b)) if a == b => format!("=={a}"),
        (Included(a), Excluded(b)) if is_local_upper(a, b) => format!("=={a}"),
        (Unbounded, Unbounded) => "*".to_string(),
        (Included(a), Unbounded) => format!(">={a}"),
        (Excluded(a), Unbounded) => format!(">{}", plain(a)),
        (Unbounded, Excluded(b)) => format!("<{}", plain(b)),
        (Unbounded, Included(b)) => format!("<={b}"),
        (lo, hi) => {
            let lo = segment_text(lo, &Unbounded);
            let hi = segment_text(&Unbounded, hi);
            format!("{lo}, {hi}")
        }
    }
}

/// The range helper bounds use internal `min`/`max` / `.post0.dev0` markers; show the version
/// the user wrote.
fn plain(v: &Version) -> String {
    if v.min().is_some() || v.max().is_some() {
        Version::new(v.release().iter().copied())
            .with_epoch(v.epoch())
            .with_pre(v.pre())
            .to_string()
    } else {
        v.to_string()
    }
}

fn is_local_upper(a: &Version, b: &Version) -> bool {
    let a = a.clone().without_local();
    let expected = if let Some(dev) = a.dev() {
        a.clone().with_dev(Some(dev + 1))
    } else if let Some(post) = a.post() {
        a.clone().with_post(Some(post + 1)).with_dev(Some(0))
    } else {
        a.clone().with_post(Some(0)).with_dev(Some(0))
    };
    &expected == b
}

/// ``application requirement `peft>=0.13` (sanctuary.toml:14)``
fn describe(r: &RootRequirement) -> String {
    let o = &r.origin;
    let mut s = format!("{} {} `{}`", o.layer, o.kind, r.requirement);
    match (&o.file, o.line) {
        (Some(file), Some(line)) => s.push_str(&format!(" ({}:{line})", file.display())),
        (Some(file), None) => s.push_str(&format!(" ({})", file.display())),
        _ => {}
    }
    s
}

struct Formatter<'a, 'b> {
    context: &'a ReportContext<'b>,
}

impl Formatter<'_, '_> {
    /// The constraints that narrow every dependency on `dep`, described, if any: PubGrub
    /// only sees the narrowed range, so the report says where the narrowing came from.
    fn constraints_on(&self, dep: &Pkg) -> Option<String> {
        let name = dep.name()?;
        let described: Vec<String> = self
            .context
            .roots
            .get(name)?
            .iter()
            .filter(|r| r.origin.kind == "constraint")
            .map(|r| describe(r))
            .collect();
        (!described.is_empty()).then(|| described.join(" and "))
    }

    fn root_requirements(&self, pkg: &Pkg, range: &Ranges<Version>) -> String {
        let requirements = pkg
            .name()
            .and_then(|n| self.context.roots.get(n))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if requirements.is_empty() {
            return format!("the requirements ask for {}", package_range(pkg, range));
        }
        let named: Vec<String> = requirements.iter().map(|r| describe(r)).collect();
        if range.is_empty() {
            return format!(
                "{} cannot all hold: no version of {pkg} satisfies them together",
                named.join(" and ")
            );
        }
        let verb = if named.len() == 1 { "asks" } else { "ask" };
        format!(
            "{} {verb} for {}",
            named.join(" and "),
            package_range(pkg, range)
        )
    }
}

impl ReportFormatter<Pkg, Ranges<Version>, String> for Formatter<'_, '_> {
    type Output = String;

    fn format_external(&self, external: &External<Pkg, Ranges<Version>, String>) -> String {
        match external {
            External::NotRoot(pkg, version) => {
                format!(
                    "we are resolving {}",
                    package_range(pkg, &Ranges::singleton(version.clone()))
                )
            }
            External::NoVersions(pkg, range) => {
                let name = pkg.name();
                if let Some(scope) = name.and_then(|n| self.context.scopes.get(n)) {
                    match (scope.pinned, scope.searched.first()) {
                        (true, Some(index)) => format!("{pkg} was not found in index {index}"),
                        _ => format!("{pkg} was not found in any index searched"),
                    }
                } else if name.is_some_and(|n| self.context.missing.contains(n)) {
                    format!("{pkg} was not found in any index")
                } else if range == &Ranges::full() {
                    format!("there is no usable version of {pkg}")
                } else {
                    format!(
                        "there is no usable version of {}",
                        package_range(pkg, range)
                    )
                }
            }
            External::Custom(pkg, range, reason) => {
                format!("{} is unusable: {reason}", package_range(pkg, range))
            }
            External::FromDependencyOf(Pkg::Root, _, dep, dep_range) => {
                self.root_requirements(dep, dep_range)
            }
            External::FromDependencyOf(pkg, range, dep, dep_range) => {
                if let (Pkg::Extra(n, _), Pkg::Base(d)) = (pkg, dep)
                    && n == d
                {
                    return format!(
                        "{} is {}",
                        package_range(pkg, range),
                        package_range(dep, dep_range)
                    );
                }
                match self.constraints_on(dep) {
                    Some(constraints) if dep_range.is_empty() => format!(
                        "{} depends on {dep}, and no version of it satisfies that together with {constraints}",
                        package_range(pkg, range),
                    ),
                    Some(constraints) => format!(
                        "{} depends on {} (narrowed by {constraints})",
                        package_range(pkg, range),
                        package_range(dep, dep_range)
                    ),
                    None => format!(
                        "{} depends on {}",
                        package_range(pkg, range),
                        package_range(dep, dep_range)
                    ),
                }
            }
        }
    }

    fn format_terms(&self, terms: &Map<Pkg, Term<Ranges<Version>>>) -> String {
        let terms: Vec<_> = terms.iter().collect();
        match terms.as_slice() {
            [] => "the requirements cannot be satisfied".to_string(),
            [(Pkg::Root, Term::Positive(_))] => "the requirements cannot be satisfied".to_string(),
            [(pkg, Term::Positive(range))] => {
                format!("{} cannot be used", package_range(pkg, range))
            }
            [(pkg, Term::Negative(range))] => format!("{} is required", package_range(pkg, range)),
            // Derived from other facts, so not one of the user's own requirements: say what
            // the requirements need, without attributing it to a manifest line.
            [(Pkg::Root, Term::Positive(_)), (dep, Term::Negative(range))]
            | [(dep, Term::Negative(range)), (Pkg::Root, Term::Positive(_))] => {
                format!("the requirements need {}", package_range(dep, range))
            }
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => self.format_external(
                &External::FromDependencyOf((*p1).clone(), r1.clone(), (*p2).clone(), r2.clone()),
            ),
            slice => {
                let parts: Vec<String> = slice
                    .iter()
                    .map(|(p, t)| match t {
                        Term::Positive(r) => package_range(p, r),
                        Term::Negative(r) => format!("not {}", package_range(p, r)),
                    })
                    .collect();
                format!("{} are incompatible", parts.join(", "))
            }
        }
    }

    fn explain_both_external(
        &self,
        external1: &External<Pkg, Ranges<Version>, String>,
        external2: &External<Pkg, Ranges<Version>, String>,
        current_terms: &Map<Pkg, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(external1),
            self.format_external(external2),
            self.format_terms(current_terms)
        )
    }

    fn explain_both_ref(
        &self,
        ref_id1: usize,
        derived1: &Derived<Pkg, Ranges<Version>, String>,
        ref_id2: usize,
        derived2: &Derived<Pkg, Ranges<Version>, String>,
        current_terms: &Map<Pkg, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} ({ref_id1}) and {} ({ref_id2}), {}.",
            self.format_terms(&derived1.terms),
            self.format_terms(&derived2.terms),
            self.format_terms(current_terms)
        )
    }

    fn explain_ref_and_external(
        &self,
        ref_id: usize,
        derived: &Derived<Pkg, Ranges<Version>, String>,
        external: &External<Pkg, Ranges<Version>, String>,
        current_terms: &Map<Pkg, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "Because {} ({ref_id}) and {}, {}.",
            self.format_terms(&derived.terms),
            self.format_external(external),
            self.format_terms(current_terms)
        )
    }

    fn and_explain_external(
        &self,
        external: &External<Pkg, Ranges<Version>, String>,
        current_terms: &Map<Pkg, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(external),
            self.format_terms(current_terms)
        )
    }

    fn and_explain_ref(
        &self,
        ref_id: usize,
        derived: &Derived<Pkg, Ranges<Version>, String>,
        current_terms: &Map<Pkg, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {} ({ref_id}), {}.",
            self.format_terms(&derived.terms),
            self.format_terms(current_terms)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior_external: &External<Pkg, Ranges<Version>, String>,
        external: &External<Pkg, Ranges<Version>, String>,
        current_terms: &Map<Pkg, Term<Ranges<Version>>>,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior_external),
            self.format_external(external),
            self.format_terms(current_terms)
        )
    }
}

/// Most versions named per package in hints.
const HINTS_PER_PACKAGE: usize = 3;

fn collect_no_versions(tree: &Tree, out: &mut Vec<(Pkg, Ranges<Version>)>) {
    match tree {
        DerivationTree::External(External::NoVersions(p, r)) => out.push((p.clone(), r.clone())),
        DerivationTree::External(_) => {}
        DerivationTree::Derived(d) => {
            collect_no_versions(&d.cause1, out);
            collect_no_versions(&d.cause2, out);
        }
    }
}

/// The hint for a package no index searched has: which indexes those were, and why.
fn not_found_hint(name: &PackageName, scope: Option<&crate::index::SearchScope>) -> String {
    match scope {
        Some(scope) if scope.pinned => format!(
            "package `{name}` was looked for only in index {}, because the manifest routes it there (the layer's `index` or `sources`); check its spelling, or route it to the index that has it with `sources = {{ {name} = \"<index>\" }}` in its layer",
            scope.searched.join(", ")
        ),
        Some(scope) => {
            let mut hint = format!(
                "package `{name}` was not found in the indexes searched: {}",
                if scope.searched.is_empty() {
                    "none".to_string()
                } else {
                    scope.searched.join(", ")
                }
            );
            if !scope.explicit.is_empty() {
                hint.push_str(&format!(
                    "; the explicit indexes {} serve only packages routed to them with `sources`",
                    scope
                        .explicit
                        .iter()
                        .map(|i| format!("`{i}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            hint.push_str("; check its spelling and the `[[index]]` list");
            hint
        }
        None => format!(
            "package `{name}` was not found in any configured index; check its spelling and the `[[index]]` list"
        ),
    }
}

/// `hint:` lines: why versions that exist in a range PubGrub found empty were set aside.
fn hints(tree: &Tree, context: &ReportContext<'_>) -> Vec<String> {
    let mut empty = Vec::new();
    collect_no_versions(tree, &mut empty);
    // Also every package of the tree, over its whole range: versions set aside there explain
    // why PubGrub had to look elsewhere.
    let mut ranges: BTreeMap<PackageName, Ranges<Version>> = BTreeMap::new();
    for (pkg, range) in &empty {
        if let Some(name) = pkg.name() {
            let r = ranges.entry(name.clone()).or_insert_with(Ranges::empty);
            *r = r.union(range);
        }
    }
    let policy = context.policy;
    let mut out = Vec::new();
    for (name, range) in &ranges {
        if context.missing.contains(name) {
            out.push(not_found_hint(name, context.scopes.get(name)));
            continue;
        }
        let Some(files) = context.files.get(name) else {
            continue;
        };
        let pre_ok = policy.allows_prereleases(name, files);
        let mut lines = Vec::new();
        for (version, dist) in files.versions.iter().rev() {
            if !range.contains(version) {
                continue;
            }
            match policy.usable_files(name, version, dist) {
                Err(rejection) => lines.push(rejection.describe(name, version, &policy.target)),
                Ok(_) if version.any_prerelease() && !pre_ok => lines.push(format!(
                    "{name}=={version} is a pre-release; pre-releases are used only when a requirement names one (e.g. `{name}>={version}`), when {name} has no final release, or with `prereleases = true` under [application] (`channel = \"nightly\"` for the Foundation)"
                )),
                Ok(_) => {}
            }
        }
        let extra = lines.len().saturating_sub(HINTS_PER_PACKAGE);
        out.extend(lines.into_iter().take(HINTS_PER_PACKAGE));
        if extra > 0 {
            out.push(format!(
                "{extra} more version(s) of {name} were set aside for the same kinds of reasons"
            ));
        }
    }
    out
}
