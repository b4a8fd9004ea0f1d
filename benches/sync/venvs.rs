//! The sync bench's check that both tools leave the same environment: each venv's
//! distributions read from its `*.dist-info` directories and compared with the lockfile and
//! with each other.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::common;
use crate::{Prepared, Tool};

/// A distribution name as PEP 503 normalises it (the library's `PackageName`; a name that
/// does not parse is kept as written, and then shows in the comparison).
pub(crate) fn normalize(name: &str) -> String {
    name.parse::<pep508_rs::PackageName>()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| name.to_string())
}

/// `name-version.dist-info` → (normalised name, version), by the library's own parser.
pub(crate) fn parse_dist_info(dir_name: &str) -> Option<(String, String)> {
    sanctuary::environment::parse::parse_dist_info_name(dir_name)
        .map(|(name, version)| (normalize(&name), version))
}

/// The distributions in a venv: name → version, from its `*.dist-info` directories.
pub(crate) fn installed(venv: &Path) -> Result<BTreeMap<String, String>> {
    let lib = venv.join("lib");
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))? {
        let site = entry?.path().join("site-packages");
        if !site.is_dir() {
            continue;
        }
        for dist in fs::read_dir(&site)? {
            let dist = dist?;
            if let Some((name, version)) = dist.file_name().to_str().and_then(parse_dist_info) {
                out.insert(name, version);
            }
        }
    }
    Ok(out)
}

/// The differences between two name → version maps, one line each.
pub(crate) fn differences(
    left_name: &str,
    left: &BTreeMap<String, String>,
    right_name: &str,
    right: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    for name in names {
        match (left.get(name), right.get(name)) {
            (Some(a), Some(b)) if a != b => {
                out.push(format!("{name}: {left_name} has {a}, {right_name} has {b}"));
            }
            (Some(a), None) => out.push(format!("{name} {a}: only in {left_name}")),
            (None, Some(b)) => out.push(format!("{name} {b}: only in {right_name}")),
            _ => {}
        }
    }
    out
}

/// Whether the venvs hold what the lockfile pins, and the same as each other.
#[derive(Debug, Serialize)]
pub(crate) struct VenvCheck {
    pub(crate) set: String,
    /// The run after which the venvs were read.
    pub(crate) after: String,
    pub(crate) locked: usize,
    pub(crate) installed: BTreeMap<&'static str, usize>,
    /// Every venv holds exactly the lockfile's distributions and versions.
    pub(crate) same: bool,
    pub(crate) differences: Vec<String>,
}

pub(crate) fn check_venvs(
    set: &str,
    after: String,
    prepared: &Prepared,
    venvs: &[(Tool, &Path)],
) -> VenvCheck {
    let mut check = VenvCheck {
        set: set.to_string(),
        after,
        locked: prepared.locked.len(),
        installed: BTreeMap::new(),
        same: true,
        differences: Vec::new(),
    };
    let mut read: Vec<(Tool, BTreeMap<String, String>)> = Vec::new();
    for &(tool, venv) in venvs {
        match installed(venv) {
            Ok(dists) => {
                check.installed.insert(tool.name(), dists.len());
                check.differences.extend(differences(
                    "the lockfile",
                    &prepared.locked,
                    &format!("{}'s venv", tool.name()),
                    &dists,
                ));
                read.push((tool, dists));
            }
            Err(err) => check
                .differences
                .push(format!("{}'s venv: {err:#}", tool.name())),
        }
    }
    if let [(a, left), (b, right)] = read.as_slice() {
        check.differences.extend(differences(
            &format!("{}'s venv", a.name()),
            left,
            &format!("{}'s venv", b.name()),
            right,
        ));
    }
    check.same = check.differences.is_empty();
    if check.same {
        eprintln!(
            "    check: the venvs of {} hold the same {} distributions and versions as the lockfile",
            common::join(read.iter().map(|(t, _)| t.name())),
            check.locked
        );
    } else {
        eprintln!(
            "    CHECK FAILED: the venvs differ ({} difference(s)):",
            check.differences.len()
        );
        for line in &check.differences {
            eprintln!("      {line}");
        }
    }
    check
}
