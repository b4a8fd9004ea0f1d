//! The closing suggestion of a conflict report: one concrete next step, derived from the root
//! requirements the derivation tree rests on (its leaves) and their origins.
//!
//! - The user's requirements against a Foundation pin (`foundation (cu126) pin`): relax the
//!   requirement, drop the key, or move that key's Foundation to a version the requirement
//!   accepts. The pinned package named is the one that decides: when the pin in the tree
//!   (torchaudio 2.7.1) is a package whose pinned version depends on another pin of the same
//!   Foundation (torch 2.7.1+cu126) that the conflicting package depends on too, the report
//!   names that one, and says which pin follows it.
//! - Two or more of the user's requirements or constraints: relax one of them.
//! - One requirement with a version specifier and no other hint: relax it.

use std::collections::BTreeSet;

use pep440_rs::{Operator, Version};
use pep508_rs::{PackageName, VersionOrUrl};
use pubgrub::{DerivationTree, External, Ranges};

use super::{ReportContext, Tree, requirement_at};
use crate::resolve::RootRequirement;
use crate::resolve::provider::{Pkg, root_specifiers};
use crate::resolve::ranges::specifiers_to_ranges;

/// The `kind` of an [`crate::resolve::Origin`] for a Foundation package pinned under the
/// Application (`commands::lock` builds them).
const PIN: &str = "pin";

/// What the tree rests on.
#[derive(Default)]
struct Leaves<'a> {
    /// Root requirements and constraints, each once.
    roots: Vec<&'a RootRequirement>,
    /// "`A` in R depends on `d`", for every such step with `A` a real package.
    users: Vec<(Pkg, Ranges<Version>, PackageName)>,
}

impl<'a> Leaves<'a> {
    fn of(tree: &Tree, context: &ReportContext<'a>) -> Self {
        let mut leaves = Leaves::default();
        leaves.collect(tree, context);
        leaves.roots.sort_by(|a, b| {
            let key = |r: &RootRequirement| {
                (
                    r.origin.kind == PIN,
                    r.origin.file.clone(),
                    r.origin.line,
                    r.requirement.to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        leaves
    }

    fn collect(&mut self, tree: &Tree, context: &ReportContext<'a>) {
        let (pkg, range, dep) = match tree {
            DerivationTree::Derived(derived) => {
                self.collect(&derived.cause1, context);
                self.collect(&derived.cause2, context);
                return;
            }
            DerivationTree::External(External::FromDependencyOf(pkg, range, dep, _)) => {
                (pkg, range, dep)
            }
            DerivationTree::External(_) => return,
        };
        let Some(name) = dep.name() else { return };
        if pkg.name() == Some(name) {
            // `name[extra]` is `name` at the same version.
            return;
        }
        let env = context.policy.target.markers();
        let roots = context.roots.get(name).map(Vec::as_slice).unwrap_or(&[]);
        for root in roots {
            // A root edge comes from every requirement and constraint on the package; a
            // dependency edge is narrowed by the constraints only.
            let involved = (*pkg == Pkg::Root || root.origin.kind == "constraint")
                && root.requirement.marker.evaluate(env, &[]);
            if involved && !self.roots.iter().any(|r| std::ptr::eq(*r, *root)) {
                self.roots.push(root);
            }
        }
        if *pkg != Pkg::Root {
            self.users.push((pkg.clone(), range.clone(), name.clone()));
        }
    }
}

/// The suggestion, if the roots the tree rests on allow a concrete one. `has_hints`: other
/// hints were given (which then say more than "relax it" would).
pub fn suggestion(tree: &Tree, context: &ReportContext<'_>, has_hints: bool) -> Option<String> {
    let leaves = Leaves::of(tree, context);
    let (pins, others): (Vec<&RootRequirement>, Vec<&RootRequirement>) =
        leaves.roots.iter().partition(|r| r.origin.kind == PIN);
    // A requirement without a version specifier has nothing to relax.
    let relaxable: Vec<&RootRequirement> = others
        .iter()
        .copied()
        .filter(|r| has_specifier(r))
        .collect();
    if !pins.is_empty() {
        return (!others.is_empty())
            .then(|| foundation_suggestion(&pins, &others, &relaxable, &leaves.users, context));
    }
    match relaxable.as_slice() {
        [] => None,
        [_] if others.len() == 1 && has_hints => None,
        [one] if others.len() == 1 => Some(format!(
            "relax {}: none of the versions it allows can be used",
            relaxed(one)
        )),
        [one] => Some(format!("relax {}", relaxed(one))),
        many => Some(format!("relax one of {}", relax_list(many))),
    }
}

fn has_specifier(root: &RootRequirement) -> bool {
    matches!(&root.requirement.version_or_url, Some(VersionOrUrl::VersionSpecifier(s)) if !s.is_empty())
}

/// `` `a>=2` (sanctuary.toml:12)``, `` the constraint `b<1` (sanctuary.toml:13)``
fn relaxed(root: &RootRequirement) -> String {
    match root.origin.kind.as_str() {
        "constraint" => format!("the constraint {}", requirement_at(root)),
        _ => requirement_at(root),
    }
}

/// `` `a>=2` (sanctuary.toml:12) and the constraint `b<1` (sanctuary.toml:13)``
fn relax_list(roots: &[&RootRequirement]) -> String {
    let named: Vec<String> = roots.iter().map(|r| relaxed(r)).collect();
    words_list(&named)
}

/// `a`, `a and b`, `a, b and c`.
fn words_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The key of a Foundation layer named `foundation (cu126)`, as `commands::lock` names it.
fn layer_key(layer: &str) -> Option<&str> {
    layer.strip_prefix("foundation (")?.strip_suffix(')')
}

/// A pin that decides, and the pins of the tree that follow it.
struct Culprit<'a> {
    pin: &'a RootRequirement,
    followers: Vec<&'a RootRequirement>,
}

fn foundation_suggestion(
    pins: &[&RootRequirement],
    others: &[&RootRequirement],
    relaxable: &[&RootRequirement],
    users: &[(Pkg, Ranges<Version>, PackageName)],
    context: &ReportContext<'_>,
) -> String {
    let mut parts = Vec::new();
    match relaxable {
        [] => {}
        [one] => parts.push(format!("relax {}", relaxed(one))),
        many => parts.push(format!("relax one of {}", relax_list(many))),
    }
    let accepting = match others {
        [one] => format!("`{}` accepts", one.requirement),
        _ => "those requirements accept".to_string(),
    };
    let mut layers: Vec<&str> = pins.iter().map(|p| p.origin.layer.as_str()).collect();
    layers.dedup();
    for layer in layers {
        let mut culprits: Vec<Culprit<'_>> = Vec::new();
        for pin in pins.iter().filter(|p| p.origin.layer == layer) {
            let decides = deciding_pin(pin, users, context);
            match culprits.iter_mut().find(|c| std::ptr::eq(c.pin, decides)) {
                Some(c) if !std::ptr::eq(decides, *pin) => c.followers.push(pin),
                Some(_) => {}
                None => culprits.push(Culprit {
                    pin: decides,
                    followers: if std::ptr::eq(decides, *pin) {
                        Vec::new()
                    } else {
                        vec![pin]
                    },
                }),
            }
        }
        let pinned: Vec<String> = culprits.iter().map(culprit_words).collect();
        let names: Vec<String> = culprits
            .iter()
            .map(|c| c.pin.requirement.name.to_string())
            .collect();
        let versions = match names.as_slice() {
            [one] => format!("a {one}"),
            many => format!("versions of {}", words_list(many)),
        };
        match layer_key(layer) {
            Some(key) => {
                parts.push(format!(
                    "drop key `{key}` from `foundation.keys` (its Foundation pins {})",
                    words_list(&pinned)
                ));
                parts.push(format!(
                    "move key `{key}`'s Foundation to {versions} that {accepting}"
                ));
            }
            None => parts.push(format!(
                "move the Foundation to {versions} that {accepting}"
            )),
        }
    }
    parts.join(", or ")
}

/// `torch 2.7.1+cu126`, or `` `torch>=2` `` for a pin that is not `==`.
fn pin_words(pin: &RootRequirement) -> String {
    if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &pin.requirement.version_or_url
        && let [only] = specifiers.iter().collect::<Vec<_>>().as_slice()
        && matches!(only.operator(), Operator::Equal | Operator::ExactEqual)
    {
        return format!("{} {}", pin.requirement.name, only.version());
    }
    format!("`{}`", pin.requirement)
}

/// `torch 2.7.1+cu126, which torchaudio 2.7.1 depends on`
fn culprit_words(culprit: &Culprit<'_>) -> String {
    let pin = pin_words(culprit.pin);
    let followers: Vec<String> = culprit.followers.iter().map(|f| pin_words(f)).collect();
    match followers.as_slice() {
        [] => pin,
        [one] => format!("{pin}, which {one} depends on"),
        many => format!("{pin}, which {} depend on", words_list(many)),
    }
}

/// The pin that decides `pin`: follows, through other pins of the same layer, the packages
/// that `pin`'s pinned version depends on, as long as every package of the tree that depends
/// on `pin`'s package depends on that one too (torchaudio 2.7.1 -> torch, which vllm also
/// requires; not on to triton, which vllm does not).
fn deciding_pin<'a>(
    pin: &'a RootRequirement,
    users: &[(Pkg, Ranges<Version>, PackageName)],
    context: &ReportContext<'a>,
) -> &'a RootRequirement {
    let users: Vec<&(Pkg, Ranges<Version>, PackageName)> = users
        .iter()
        .filter(|(_, _, d)| *d == pin.requirement.name)
        .collect();
    if users.is_empty() {
        return pin;
    }
    let mut current = pin;
    let mut seen = BTreeSet::from([pin.requirement.name.clone()]);
    loop {
        let next = pinned_version_dependencies(current, context)
            .into_iter()
            .filter(|q| !seen.contains(q))
            .find_map(|q| {
                let q_pin = context
                    .roots
                    .get(&q)?
                    .iter()
                    .copied()
                    .find(|r| r.origin.kind == PIN && r.origin.layer == pin.origin.layer)?;
                users
                    .iter()
                    .all(|(a, range, _)| always_depends_on(a, range, &q, context))
                    .then_some(q_pin)
            });
        match next {
            Some(q_pin) => {
                seen.insert(q_pin.requirement.name.clone());
                current = q_pin;
            }
            None => return current,
        }
    }
}

/// The dependencies of the versions of `pin`'s package that `pin` allows, as far as the
/// resolver read them.
fn pinned_version_dependencies(
    pin: &RootRequirement,
    context: &ReportContext<'_>,
) -> BTreeSet<PackageName> {
    let Ok(specifiers) = root_specifiers(pin) else {
        return BTreeSet::new();
    };
    let range = specifiers_to_ranges(&specifiers);
    context
        .dependencies
        .get(&pin.requirement.name)
        .into_iter()
        .flatten()
        .filter(|(v, _)| range.contains(v))
        .flat_map(|(_, deps)| deps.iter().cloned())
        .collect()
}

/// Whether every version of `pkg` in `range` whose dependencies the resolver read (at least
/// one) depends on `dep`.
fn always_depends_on(
    pkg: &Pkg,
    range: &Ranges<Version>,
    dep: &PackageName,
    context: &ReportContext<'_>,
) -> bool {
    let Some(versions) = pkg.name().and_then(|n| context.dependencies.get(n)) else {
        return false;
    };
    let mut read = versions
        .iter()
        .filter(|(v, _)| range.contains(v))
        .peekable();
    read.peek().is_some() && read.all(|(_, deps)| deps.contains(dep))
}
