//! Conflict reports in plain words: PubGrub's derivation tree rendered with our package names
//! (`torch==2.9.0`, `peft[vision]`), root requirements named with their origin
//! (``application requirement `peft>=0.13` (sanctuary.toml:14)``), `hint:` lines for versions
//! that exist but were set aside (yanked, pre-release, sdist only, no wheel for the target,
//! requires-python) and for packages no index knows, and a closing suggestion naming what to
//! relax, drop or move.
//!
//! Reports stay readable on large conflicts: long version unions are summarized by the versions
//! the index has in them (`vllm 0.11.0 ... 0.21.0 (14 versions)`, `versions`); a package's
//! dependency learned release by release is told once (`simplify`); lines are wrapped to the
//! caller's width without splitting a package and its versions ([`wrap`]); the suggestion
//! comes from the root requirements the conflict rests on (`suggest`).

mod hints;
mod simplify;
mod suggest;
mod versions;
pub mod wrap;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::PackageName;
use pubgrub::{
    DefaultStringReporter, DerivationTree, Derived, External, Map, Ranges, ReportFormatter,
    Reporter, Term,
};

use super::RootRequirement;
use super::provider::{Pkg, Policy};
use crate::index::PackageFiles;
use versions::RangeWords;
use wrap::glue;

/// Everything the report needs besides the tree.
pub struct ReportContext<'a> {
    /// Root requirements (and constraints) by package name.
    pub roots: BTreeMap<PackageName, Vec<&'a RootRequirement>>,
    pub policy: &'a Policy,
    /// Files of every package that was fetched.
    pub files: BTreeMap<PackageName, Arc<PackageFiles>>,
    /// Packages no index knows.
    pub missing: BTreeSet<PackageName>,
    /// Where each missing package was looked for, when the source can say.
    pub scopes: BTreeMap<PackageName, crate::index::SearchScope>,
    /// The dependencies (names) of every version whose metadata the resolver read.
    pub dependencies: BTreeMap<PackageName, BTreeMap<Version, BTreeSet<PackageName>>>,
    /// Line width to wrap at ([`wrap::MIN_WIDTH`] at least).
    pub width: usize,
}

type Tree = DerivationTree<Pkg, Ranges<Version>, String>;

/// Continuation lines of a report paragraph start with this.
const INDENT: &str = "  ";
/// Continuation lines of a hint line up after `hint: `.
const HINT_INDENT: &str = "      ";

/// Render a PubGrub failure.
pub fn render(tree: &Tree, context: &ReportContext<'_>) -> String {
    let mut hints = hints::hints(tree, context);
    // The suggestion reads the unsimplified tree: it needs every dependency step.
    let suggestion = suggest::suggestion(tree, context, !hints.is_empty());
    let mut tree = tree.clone();
    simplify::collapse_empty(&mut tree, context);
    simplify::merge_dependencies(&mut tree, context);
    hints.extend(suggestion);
    let formatter = Formatter { context };
    let body = DefaultStringReporter::report_with_formatter(&tree, &formatter);
    let width = context.width.max(wrap::MIN_WIDTH);
    let header = format!("no resolution for {}:", context.policy.target);
    let mut out = wrap::wrap(&header, width, INDENT);
    for line in body.lines() {
        out.push('\n');
        out.push_str(&wrap::wrap(line, width, INDENT));
    }
    for hint in hints {
        out.push('\n');
        out.push_str(&wrap::wrap(&format!("hint: {hint}"), width, HINT_INDENT));
    }
    out
}

impl ReportContext<'_> {
    /// `torch==2.9.0`, `numpy>=1.26, <2`, `peft[vision]` (any version), `vllm 0.11.0 ...
    /// 0.21.0 (14 versions)`; glued so that a line never breaks inside it (a long exact union
    /// may break after a `|`).
    pub fn package_range(&self, pkg: &Pkg, range: &Ranges<Version>) -> String {
        if *pkg == Pkg::Root {
            return "the requirements".to_string();
        }
        let known = pkg
            .name()
            .and_then(|n| self.files.get(n))
            .into_iter()
            .flat_map(|files| files.versions.keys());
        match versions::range_words(range, known) {
            RangeWords::Any => glue(&pkg.to_string()),
            RangeWords::Nothing => glue(&format!("{pkg} (no version)")),
            RangeWords::Known(summary) => glue(&format!("{pkg} {summary}")),
            RangeWords::Exact(segments) if segments.len() <= versions::EXACT_SEGMENTS => {
                glue(&format!("{pkg}{}", segments.join(" | ")))
            }
            RangeWords::Exact(segments) => {
                let glued: Vec<String> = segments.iter().map(|s| glue(s)).collect();
                format!("{pkg}{}", glued.join("\u{a0}| "))
            }
        }
    }
}

/// ``application requirement `peft>=0.13` (sanctuary.toml:14)``, its requirement and place
/// glued.
fn describe(r: &RootRequirement) -> String {
    let o = &r.origin;
    format!("{} {} {}", glue(&o.layer), o.kind, requirement_at(r))
}

/// `` `peft>=0.13` (sanctuary.toml:14)``: the requirement and its place each glued (a line
/// may break between them).
fn requirement_at(r: &RootRequirement) -> String {
    let o = &r.origin;
    let requirement = glue(&format!("`{}`", r.requirement));
    match (&o.file, o.line) {
        (Some(file), Some(line)) => format!(
            "{requirement} {}",
            glue(&format!("({}:{line})", file.display()))
        ),
        (Some(file), None) => format!("{requirement} {}", glue(&format!("({})", file.display()))),
        _ => requirement,
    }
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
            return format!(
                "the requirements ask for {}",
                self.context.package_range(pkg, range)
            );
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
            self.context.package_range(pkg, range)
        )
    }
}

impl Formatter<'_, '_> {
    /// One package (or the requirements) and several packages it needs one of: "vllm R depends
    /// on torch S or transformers T", "the requirements need torch S or transformers T".
    fn either(&self, terms: &[(&Pkg, &Term<Ranges<Version>>)]) -> Option<String> {
        let mut positive = None;
        let mut needs: Vec<(&Pkg, &Ranges<Version>)> = Vec::new();
        for (pkg, term) in terms {
            match term {
                Term::Positive(r) if positive.is_none() => positive = Some((*pkg, r)),
                Term::Positive(_) => return None,
                Term::Negative(r) => needs.push((*pkg, r)),
            }
        }
        let (pkg, range) = positive?;
        if needs.len() < 2 {
            return None;
        }
        needs.sort_by(|a, b| a.0.cmp(b.0));
        let named: Vec<String> = needs
            .iter()
            .map(|(d, r)| self.context.package_range(d, r))
            .collect();
        let named = named.join(" or ");
        Some(match pkg {
            Pkg::Root => format!("the requirements need {named}"),
            _ => format!(
                "{} depends on {named}",
                self.context.package_range(pkg, range)
            ),
        })
    }
}

impl ReportFormatter<Pkg, Ranges<Version>, String> for Formatter<'_, '_> {
    type Output = String;

    fn format_external(&self, external: &External<Pkg, Ranges<Version>, String>) -> String {
        match external {
            External::NotRoot(pkg, version) => {
                format!(
                    "we are resolving {}",
                    self.context
                        .package_range(pkg, &Ranges::singleton(version.clone()))
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
                        self.context.package_range(pkg, range)
                    )
                }
            }
            External::Custom(pkg, range, reason) => match reason.strip_prefix(simplify::DEPENDS_ON)
            {
                Some(deps) => format!(
                    "{} depends on {deps}",
                    self.context.package_range(pkg, range)
                ),
                None => format!(
                    "{} is unusable: {reason}",
                    self.context.package_range(pkg, range)
                ),
            },
            External::FromDependencyOf(Pkg::Root, _, dep, dep_range) => {
                self.root_requirements(dep, dep_range)
            }
            External::FromDependencyOf(pkg, range, dep, dep_range) => {
                if let (Pkg::Extra(n, _), Pkg::Base(d)) = (pkg, dep)
                    && n == d
                {
                    return format!(
                        "{} is {}",
                        self.context.package_range(pkg, range),
                        self.context.package_range(dep, dep_range)
                    );
                }
                match self.constraints_on(dep) {
                    Some(constraints) if dep_range.is_empty() => format!(
                        "{} depends on {dep}, and no version of it satisfies that together with {constraints}",
                        self.context.package_range(pkg, range),
                    ),
                    Some(constraints) => format!(
                        "{} depends on {} (narrowed by {constraints})",
                        self.context.package_range(pkg, range),
                        self.context.package_range(dep, dep_range)
                    ),
                    None => format!(
                        "{} depends on {}",
                        self.context.package_range(pkg, range),
                        self.context.package_range(dep, dep_range)
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
                format!("{} cannot be used", self.context.package_range(pkg, range))
            }
            [(pkg, Term::Negative(range))] => {
                format!("{} is required", self.context.package_range(pkg, range))
            }
            // Derived from other facts, so not one of the user's own requirements: say what
            // the requirements need, without attributing it to a manifest line.
            [(Pkg::Root, Term::Positive(_)), (dep, Term::Negative(range))]
            | [(dep, Term::Negative(range)), (Pkg::Root, Term::Positive(_))] => {
                format!(
                    "the requirements need {}",
                    self.context.package_range(dep, range)
                )
            }
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => self.format_external(
                &External::FromDependencyOf((*p1).clone(), r1.clone(), (*p2).clone(), r2.clone()),
            ),
            slice => self.either(slice).unwrap_or_else(|| {
                let parts: Vec<String> = slice
                    .iter()
                    .map(|(p, t)| match t {
                        Term::Positive(r) => self.context.package_range(p, r),
                        Term::Negative(r) => format!("not {}", self.context.package_range(p, r)),
                    })
                    .collect();
                format!("{} are incompatible", parts.join(", "))
            }),
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
