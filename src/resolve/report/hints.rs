//! `hint:` lines of a conflict report: why versions that exist were set aside (yanked,
//! pre-release, sdist only, no wheel for the target, requires-python), and where a package no
//! index knows was looked for.

use std::collections::BTreeMap;

use pep440_rs::Version;
use pep508_rs::PackageName;
use pubgrub::{DerivationTree, External, Ranges};

use super::{ReportContext, Tree};
use crate::resolve::provider::Pkg;

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
pub fn hints(tree: &Tree, context: &ReportContext<'_>) -> Vec<String> {
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
