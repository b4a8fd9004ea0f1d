//! The environments a lock covers: every declared platform for every declared CPython minor
//! (`[project] platforms` x `python`), in a fixed order. Owns parsing a Python range into its
//! minors, the PEP 508 marker of each environment and of any subset of them (the `marker` of
//! a universal lockfile's package), the words that name a subset in messages, and finding the
//! environment a host's markers select. Pure: no I/O.
//!
//! Markers are written by hand rather than simplified by `pep508_rs`'s marker algebra: the
//! environments form a small grid (platforms x minors), so a subset is named exactly by
//! grouping its platforms by the minors they share, which gives the short, stable markers a
//! reviewer reads (`python_version < '3.12'`, `sys_platform == 'darwin'`) and never depends on
//! how a library version normalizes an expression.

use std::collections::BTreeSet;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::MarkerEnvironment;

use crate::target::{Platform, Target, TargetError};

/// The CPython minors a range may select: older ones have no wheels left to speak of, and a
/// range must name its upper end below the last (so a new CPython never changes what an
/// existing manifest means).
const MINORS: std::ops::RangeInclusive<u64> = 8..=15;

/// The declared environments, platforms outer and Python minors inner, each a [`Target`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Universe {
    targets: Vec<Target>,
    /// The declared platforms, in order, and the minors, ascending (`targets` is their product).
    platforms: Vec<Platform>,
    minors: Vec<u64>,
}

/// A subset of a universe's environments, as indexes into [`Universe::targets`].
pub type Subset = BTreeSet<usize>;

impl Universe {
    /// The product of `platforms` (none twice, and no two that markers cannot tell apart) and
    /// the Python versions `pythons` (one version, or every minor of a range), at least one of
    /// each. The platforms are put in their canonical order (by name), so that listing them in
    /// another order changes no lockfile.
    pub fn new(
        mut platforms: Vec<Platform>,
        mut pythons: Vec<Version>,
    ) -> Result<Universe, TargetError> {
        if platforms.is_empty() || pythons.is_empty() {
            return Err(TargetError::NoEnvironment);
        }
        for (i, a) in platforms.iter().enumerate() {
            for b in &platforms[..i] {
                if a == b {
                    return Err(TargetError::Twice(a.name()));
                }
                if markers_of(a) == markers_of(b) {
                    return Err(TargetError::Indistinct {
                        first: b.name(),
                        second: a.name(),
                    });
                }
            }
        }
        platforms.sort_by_key(Platform::name);
        pythons.sort();
        pythons.dedup_by_key(|v| minor_of(v));
        let mut targets = Vec::new();
        for platform in &platforms {
            for python in &pythons {
                targets.push(Target::from_parts(python.clone(), platform.clone()));
            }
        }
        let minors = pythons.iter().map(minor_of).collect();
        Ok(Universe {
            targets,
            platforms,
            minors,
        })
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Every environment.
    pub fn all(&self) -> Subset {
        (0..self.targets.len()).collect()
    }

    /// More than one environment: the lock is universal and its packages may carry markers.
    pub fn is_universal(&self) -> bool {
        self.targets.len() > 1
    }

    /// The universe without the environments of platforms `keep` refuses (a hardware key's
    /// platforms); `None` when none is left.
    pub fn restricted(&self, keep: impl Fn(&Platform) -> bool) -> Option<Universe> {
        let platforms: Vec<Platform> = self.platforms.iter().filter(|p| keep(p)).cloned().collect();
        if platforms.is_empty() {
            return None;
        }
        let pythons: Vec<Version> = self.targets[..self.minors.len()]
            .iter()
            .map(|t| t.python.clone())
            .collect();
        Universe::new(platforms, pythons).ok()
    }

    /// The declared platforms' canonical names joined by `, ` (`linux-x86_64-manylinux_2_28`
    /// for one): what `[tool.sanctuary] platform` records.
    pub fn platform_names(&self) -> String {
        self.platforms
            .iter()
            .map(Platform::name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `linux-x86_64`, `macos-arm64`: the declared platforms without their floors, in order.
    pub fn platform_short_names(&self) -> Vec<String> {
        self.platforms.iter().map(short_name).collect()
    }

    /// `3.11`, `3.12`: the declared CPython minors, lowest first.
    pub fn python_minors(&self) -> Vec<String> {
        self.minors.iter().map(|m| format!("3.{m}")).collect()
    }

    /// Whether a declared platform is `host`'s system (its floor aside).
    pub fn runs_on(&self, host: &Platform) -> bool {
        self.platforms.iter().any(|p| p.same_system(host))
    }

    /// The `environments` of a lockfile: one marker per environment.
    pub fn environment_markers(&self) -> Vec<String> {
        self.targets.iter().map(environment_marker).collect()
    }

    /// The lockfile's `requires-python`: `==3.12.*` for one minor, `>=3.11, <3.14` for several
    /// (with `!=3.12.*` for a minor the range leaves out between them).
    pub fn requires_python(&self) -> String {
        match (self.minors.first(), self.minors.last()) {
            (Some(lo), Some(hi)) if lo != hi => {
                let mut out = format!(">=3.{lo}, <3.{}", hi + 1);
                for gap in (*lo..*hi).filter(|m| !self.minors.contains(m)) {
                    out.push_str(&format!(", !=3.{gap}.*"));
                }
                out
            }
            // `new` refuses an empty universe.
            _ => format!("=={}.*", self.targets[0].markers().python_version().string),
        }
    }

    /// The environment whose marker holds for `env` (a host's interpreter), if one does.
    pub fn find(&self, env: &MarkerEnvironment) -> Option<&Target> {
        self.targets.iter().find(|t| {
            let m = t.markers();
            m.python_version().string == env.python_version().string
                && m.sys_platform() == env.sys_platform()
                && m.platform_machine() == env.platform_machine()
        })
    }

    /// The PEP 508 marker that holds in exactly the environments of `subset`; `None` for all
    /// of them. Platforms sharing the same minors are grouped: `sys_platform == 'darwin'`,
    /// `python_version < '3.12'`, `(sys_platform == 'linux' and python_version >= '3.12') or
    /// sys_platform == 'win32'`.
    pub fn marker_of(&self, subset: &Subset) -> Option<String> {
        if subset.len() == self.targets.len() {
            return None;
        }
        let clauses: Vec<(Option<String>, Option<String>)> = self
            .groups(subset)
            .into_iter()
            .map(|(platforms, minors)| (self.platform_expr(&platforms), self.python_expr(&minors)))
            .collect();
        let several = clauses.len() > 1;
        let parts: Vec<String> = clauses
            .into_iter()
            .map(|(platform, python)| match (platform, python) {
                (Some(p), Some(v)) => {
                    wrap(&format!("{} and {}", paren_or(&p), paren_or(&v)), several)
                }
                (Some(e), None) | (None, Some(e)) => wrap(&e, several),
                // Only when the subset is everything, handled above.
                (None, None) => String::new(),
            })
            .collect();
        if parts.is_empty() {
            // An empty subset: no environment at all.
            return Some("python_version < '0'".to_string());
        }
        Some(parts.join(" or "))
    }

    /// `subset` in words for messages: `python < 3.12`, `macos-arm64`, `linux-x86_64 with
    /// python >= 3.12`; `every environment` for all.
    pub fn describe(&self, subset: &Subset) -> String {
        if subset.len() == self.targets.len() {
            return "every environment".to_string();
        }
        let parts: Vec<String> = self
            .groups(subset)
            .into_iter()
            .map(|(platforms, minors)| {
                let names = (platforms.len() < self.platforms.len()).then(|| {
                    platforms
                        .iter()
                        .map(|&i| short_name(&self.platforms[i]))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                let python = self.python_words(&minors);
                match (names, python) {
                    (Some(n), Some(p)) => format!("{n} with {p}"),
                    (Some(e), None) | (None, Some(e)) => e,
                    (None, None) => String::new(),
                }
            })
            .collect();
        parts.join("; ")
    }

    /// The subset's platforms (indexes into `platforms`) grouped by the minors (indexes into
    /// `minors`) they have in it, in declaration order.
    fn groups(&self, subset: &Subset) -> Vec<(Vec<usize>, Vec<usize>)> {
        let n = self.minors.len();
        let mut groups: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
        for p in 0..self.platforms.len() {
            let minors: Vec<usize> = (0..n).filter(|m| subset.contains(&(p * n + m))).collect();
            if minors.is_empty() {
                continue;
            }
            match groups.iter_mut().find(|(_, m)| *m == minors) {
                Some((platforms, _)) => platforms.push(p),
                None => groups.push((vec![p], minors)),
            }
        }
        groups
    }

    /// The marker naming `platforms` among the declared ones; `None` for all of them.
    fn platform_expr(&self, platforms: &[usize]) -> Option<String> {
        if platforms.len() == self.platforms.len() {
            return None;
        }
        let mut parts = Vec::new();
        let mut done = BTreeSet::new();
        for &i in platforms {
            if done.contains(&i) {
                continue;
            }
            let (sys, _) = markers_of(&self.platforms[i]);
            let same_os: Vec<usize> = (0..self.platforms.len())
                .filter(|&j| markers_of(&self.platforms[j]).0 == sys)
                .collect();
            if same_os.iter().all(|j| platforms.contains(j)) {
                parts.push(format!("sys_platform == '{sys}'"));
                done.extend(same_os);
            } else {
                let (_, machine) = markers_of(&self.platforms[i]);
                parts.push(format!(
                    "(sys_platform == '{sys}' and platform_machine == '{machine}')"
                ));
                done.insert(i);
            }
        }
        if parts.len() == 1 {
            let only = parts.remove(0);
            return Some(
                only.strip_prefix('(')
                    .and_then(|s| s.strip_suffix(')'))
                    .map_or(only.clone(), str::to_string),
            );
        }
        Some(parts.join(" or "))
    }

    /// The marker naming the minors `minors` (indexes) among the declared ones; `None` for all.
    fn python_expr(&self, minors: &[usize]) -> Option<String> {
        let n = self.minors.len();
        if minors.len() == n {
            return None;
        }
        let v = |i: usize| format!("3.{}", self.minors[i]);
        // Contiguous in the declared minors and in CPython's (3.11 and 3.13 around an
        // undeclared 3.12 are not: `>= '3.11'` would take in 3.12).
        let contiguous = minors
            .windows(2)
            .all(|w| w[1] == w[0] + 1 && self.minors[w[1]] == self.minors[w[0]] + 1);
        let (first, last) = (minors[0], minors[minors.len() - 1]);
        Some(if minors.len() == 1 {
            format!("python_version == '{}'", v(first))
        } else if contiguous && first == 0 {
            format!("python_version < '{}'", v(last + 1))
        } else if contiguous && last == n - 1 {
            format!("python_version >= '{}'", v(first))
        } else if contiguous {
            format!(
                "python_version >= '{}' and python_version < '{}'",
                v(first),
                v(last + 1)
            )
        } else {
            minors
                .iter()
                .map(|&i| format!("python_version == '{}'", v(i)))
                .collect::<Vec<_>>()
                .join(" or ")
        })
    }

    fn python_words(&self, minors: &[usize]) -> Option<String> {
        self.python_expr(minors).map(|m| {
            m.replace("python_version", "python")
                .replace(['\''], "")
                .replace(" == ", " ")
        })
    }
}

/// `(expr)` when `several` clauses are joined and `expr` has an `and`/`or` of its own.
fn wrap(expr: &str, several: bool) -> String {
    if several && (expr.contains(" and ") || expr.contains(" or ")) && !is_wrapped(expr) {
        format!("({expr})")
    } else {
        expr.to_string()
    }
}

/// `(expr)` when `expr` is an `or` of clauses, so that `and` can join it.
fn paren_or(expr: &str) -> String {
    if expr.contains(" or ") && !is_wrapped(expr) {
        format!("({expr})")
    } else {
        expr.to_string()
    }
}

/// `(a) or (b)` is not wrapped, `(a or b)` is.
fn is_wrapped(expr: &str) -> bool {
    if !(expr.starts_with('(') && expr.ends_with(')')) {
        return false;
    }
    let mut depth = 0i32;
    for (i, c) in expr.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i + 1 < expr.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// The marker of one environment, as lockfiles have always written it.
pub fn environment_marker(target: &Target) -> String {
    let m = target.markers();
    format!(
        "python_version == '{}' and sys_platform == '{}' and platform_machine == '{}'",
        m.python_version().string,
        m.sys_platform(),
        m.platform_machine()
    )
}

/// `sys_platform` and `platform_machine` of a platform: what markers can tell apart.
fn markers_of(platform: &Platform) -> (&'static str, &'static str) {
    let (_, sys_platform, _, machine) = platform.marker_system();
    (sys_platform, machine)
}

/// `linux-x86_64`, `macos-arm64`, `windows-x86_64`: the platform without its floor.
pub fn short_name(platform: &Platform) -> String {
    let full = platform.name();
    full.splitn(3, '-').take(2).collect::<Vec<_>>().join("-")
}

/// The minor of a CPython 3 version: 12 of `3.12.4`.
pub fn minor_of(python: &Version) -> u64 {
    python.release().get(1).copied().unwrap_or(0)
}

/// The Python versions `python` declares: one (`3.12`, `3.12.4`), or every CPython minor a
/// range admits (`>=3.11,<3.14` is 3.11, 3.12 and 3.13), lowest first. A range must bound
/// both ends within 3.8 ..= 3.15 and admit at least one minor.
pub fn pythons(python: &str) -> Result<Vec<Version>, TargetError> {
    let text = python.trim();
    if !text.starts_with(['<', '>', '=', '!', '~']) {
        return Ok(vec![crate::target::parse_python(text)?]);
    }
    let bad = |why: &str| TargetError::BadPythonRange {
        range: python.to_string(),
        reason: why.to_string(),
    };
    let spec = VersionSpecifiers::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let admits = |minor: u64| (0..100).any(|patch| spec.contains(&Version::new([3, minor, patch])));
    let (below, above) = (admits(MINORS.start() - 1), admits(MINORS.end() + 1));
    if below || above {
        let open_below = admits(0);
        let open_above = admits(99);
        let reason = match (open_below, open_above) {
            (true, _) | (_, true) => format!(
                "name both ends, within 3.{} ..= 3.{} (e.g. `>=3.11,<3.14`), so that a new CPython never changes what the manifest means",
                MINORS.start(),
                MINORS.end()
            ),
            _ if below => format!(
                "it reaches below 3.{}, which sanctuary does not lock for",
                MINORS.start()
            ),
            _ => format!(
                "it reaches past 3.{}, the newest CPython sanctuary locks for",
                MINORS.end()
            ),
        };
        return Err(bad(&reason));
    }
    let minors: Vec<Version> = MINORS
        .filter(|m| admits(*m))
        .map(|m| Version::new([3, m, 0]))
        .collect();
    if minors.is_empty() {
        return Err(bad("it admits no CPython minor"));
    }
    Ok(minors)
}

#[cfg(test)]
mod tests;
