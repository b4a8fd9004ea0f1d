//! PEP 440 version specifiers as PubGrub ranges. Pure.
//!
//! Starts from `pep440_rs`'s own conversion and fixes what it gets wrong:
//!
//! - local labels: `==V`, `!=V` and `<=V` treat every `V+local` as equal to `V`
//!   (`==2.9.0` matches `2.9.0+cu130`); `>V` excludes `V+local`; `==V+local` is exact;
//! - `>V` excludes post-releases of `V` (unless `V` is one) and their local versions;
//! - `<V` excludes pre-releases of `V`'s release (unless `V` is a pre-release), but keeps `V`'s
//!   own release when `V` is a post-release (`<1.0.post1` allows `1.0`);
//! - `==1.2.*` / `!=1.2.*` pad release segments with zeros, as `packaging` does.
//!
//! Two exotic cases cannot be expressed as finitely many intervals and are approximated (the
//! property tests assert exactly these differences):
//!
//! - `>V` with `V` not a post-release allows post-releases of *another* pre-release of `V`'s
//!   release (`1.0a2.post1` for `>1.0a1`); PEP 440 only forbids post-releases of `V` itself.
//! - `===V` is compared as a version, not as a string (`===1.0` matches `1.0.0`).

use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};
use pubgrub::Ranges;

/// Post-releases of a release that a `<V.postN` range still lists one by one.
const MAX_POST_HOLES: u64 = 64;

/// The range of versions that satisfy every specifier of `specifiers`.
pub fn specifiers_to_ranges(specifiers: &VersionSpecifiers) -> Ranges<Version> {
    specifiers.iter().fold(Ranges::full(), |acc, s| {
        acc.intersection(&specifier_to_ranges(s))
    })
}

/// The smallest version above `version` and all of its local variants: everything in
/// `[version, local_upper(version))` is `version` with some (or no) local label.
fn local_upper(version: &Version) -> Version {
    let v = version.clone().without_local();
    if let Some(dev) = v.dev() {
        v.with_dev(Some(dev + 1))
    } else if let Some(post) = v.post() {
        v.with_post(Some(post + 1)).with_dev(Some(0))
    } else {
        v.with_post(Some(0)).with_dev(Some(0))
    }
}

/// The final release of `version` (`1.0` for `1.0rc1.post2+x`), epoch kept.
fn release_of(version: &Version) -> Version {
    Version::new(version.release().iter().copied()).with_epoch(version.epoch())
}

/// `release` with its last segment increased (`1.2` -> `1.3`).
fn bump_last(version: &Version) -> Version {
    let mut release = version.release().to_vec();
    if let Some(last) = release.last_mut() {
        *last += 1;
    }
    Version::new(release).with_epoch(version.epoch())
}

/// The range of one specifier.
pub fn specifier_to_ranges(specifier: &VersionSpecifier) -> Ranges<Version> {
    let v = specifier.version();
    let local = v.is_local();
    match specifier.operator() {
        Operator::Equal if local => Ranges::singleton(v.clone()),
        Operator::Equal => Ranges::from_range_bounds(v.clone()..local_upper(v)),
        Operator::NotEqual => {
            specifier_to_ranges(&VersionSpecifier::equals_version(v.clone())).complement()
        }
        #[allow(deprecated)]
        Operator::ExactEqual => Ranges::singleton(v.clone()),
        Operator::LessThanEqual if local => Ranges::lower_than(v.clone()),
        Operator::LessThanEqual => Ranges::strictly_lower_than(local_upper(v)),
        Operator::GreaterThanEqual => Ranges::higher_than(v.clone().without_local()),
        Operator::GreaterThan => greater_than(&v.clone().without_local()),
        Operator::LessThan => less_than(&v.clone().without_local()),
        Operator::EqualStar => equal_star(v),
        Operator::NotEqualStar => equal_star(v).complement(),
        Operator::TildeEqual => {
            let release = v.release();
            let prefix = &release[..release.len().saturating_sub(1)];
            let upper = bump_last(&Version::new(prefix.iter().copied()).with_epoch(v.epoch()))
                .with_dev(Some(0));
            Ranges::from_range_bounds(v.clone().without_local()..upper)
        }
    }
}

/// `==V.*`: every version whose release, padded with zeros, starts with `V`'s release.
fn equal_star(v: &Version) -> Ranges<Version> {
    let low = release_of(v).with_dev(Some(0));
    let high = bump_last(v).with_dev(Some(0));
    Ranges::from_range_bounds(low..high)
}

/// `>V` (no local label on `V`).
fn greater_than(v: &Version) -> Ranges<Version> {
    if v.is_post() {
        // Post-releases of V's own release are allowed; only V and its locals are not.
        return Ranges::higher_than(local_upper(v));
    }
    // Above V, its local versions and (for a pre-release) its own post-releases...
    let above_v = if v.is_dev() {
        Ranges::higher_than(local_upper(v))
    } else {
        Ranges::strictly_higher_than(v.clone().with_max(Some(0)))
    };
    // ...but never a post-release (or local) of V's final release.
    let release = release_of(v);
    let posts = Ranges::from_range_bounds(
        release.clone().with_post(Some(0)).with_dev(Some(0))..=release.with_max(Some(0)),
    );
    above_v.intersection(&posts.complement())
}

/// `<V` (no local label on `V`).
fn less_than(v: &Version) -> Ranges<Version> {
    if v.any_prerelease() {
        return Ranges::strictly_lower_than(v.clone());
    }
    // Below every pre-release of V's release...
    let release = release_of(v);
    let mut range = Ranges::strictly_lower_than(release.clone().with_min(Some(0)));
    // ...plus, for V = R.postN, R and R.post0..R.post(N-1) with their locals, but none of
    // their dev releases (a dev release is a pre-release of R).
    if let Some(post) = v.post() {
        range = range.union(&Ranges::from_range_bounds(
            release.clone()..local_upper(&release),
        ));
        for k in 0..post.min(MAX_POST_HOLES) {
            let p = release.clone().with_post(Some(k));
            range = range.union(&Ranges::from_range_bounds(p.clone()..local_upper(&p)));
        }
        if post > MAX_POST_HOLES {
            // Approximation for absurd post numbers: allow the rest up to V.
            let p = release.with_post(Some(MAX_POST_HOLES));
            range = range.union(&Ranges::from_range_bounds(p..v.clone().with_dev(Some(0))));
        }
    }
    range
}

/// True when `specifiers` name a pre-release (`>=1.0a1`, `==2.0rc1`): an explicit opt-in to
/// pre-releases of that package.
pub fn names_prerelease(specifiers: &VersionSpecifiers) -> bool {
    specifiers.iter().any(|s| s.version().any_prerelease())
}

/// When `specifiers` pin one version exactly (`==X`, no wildcard), the range of that pin.
pub fn exact_pins(specifiers: &VersionSpecifiers) -> Vec<Ranges<Version>> {
    specifiers
        .iter()
        .filter(|s| matches!(s.operator(), Operator::Equal | Operator::ExactEqual))
        .map(specifier_to_ranges)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    fn r(s: &str) -> Ranges<Version> {
        specifiers_to_ranges(&VersionSpecifiers::from_str(s).unwrap())
    }

    fn check(spec: &str, yes: &[&str], no: &[&str]) {
        let range = r(spec);
        for y in yes {
            assert!(range.contains(&v(y)), "{spec} should match {y}");
        }
        for n in no {
            assert!(!range.contains(&v(n)), "{spec} should not match {n}");
        }
    }

    #[test]
    fn local_labels() {
        check(
            "==2.9.0",
            &["2.9.0", "2.9.0+cu130", "2.9+cpu"],
            &["2.9.0.post1", "2.9.1", "2.9.0rc1"],
        );
        check("==2.9.0+cu130", &["2.9.0+cu130"], &["2.9.0", "2.9.0+cu128"]);
        check(
            "!=2.9.0",
            &["2.9.1", "2.9.0.post1"],
            &["2.9.0", "2.9.0+cu130"],
        );
        check(
            "<=2.9.0",
            &["2.9.0+cu130", "2.8", "2.9.0rc1"],
            &["2.9.0.post1", "2.9.1"],
        );
        check(">=1.2.3", &["1.2.3+foo", "1.2.3.post1"], &["1.2.3rc1"]);
        check(
            ">1.2.3",
            &["1.2.4", "1.3a1"],
            &["1.2.3+foo", "1.2.3.post1", "1.2.3.post1+x"],
        );
        check(
            "<1.2.3",
            &["1.2.2+foo"],
            &["1.2.3+foo", "1.2.3rc1", "1.2.3.dev0"],
        );
        check("==1.0.dev1", &["1.0.dev1+x"], &["1.0.dev2", "1.0"]);
    }

    #[test]
    fn post_and_pre_releases() {
        check(
            ">1.2.3.post0",
            &["1.2.3.post1", "1.2.3.post1.dev0"],
            &["1.2.3.post0+x"],
        );
        check(">1.2.3.post1", &[], &["1.2.3.post1+local", "1.2.3.post1"]);
        check(
            ">1.0a1",
            &["1.0a2", "1.0", "1.1"],
            &["1.0a1.post1", "1.0a1+x", "1.0.post1"],
        );
        check("<1.0rc1", &["1.0a1", "1.0.dev1", "0.9"], &["1.0rc1"]);
        check("<0.2.0a2", &["0.2.0a1"], &["0.2.0a2"]);
        check("<0.2.0", &["0.1.0"], &["0.2.0a1", "0.2.0.dev0"]);
        check(
            "<1.0.post2",
            &["1.0", "1.0+x", "1.0.post1", "0.9"],
            &["1.0.post1.dev0", "1.0a1", "1.0.post2"],
        );
        check(
            "==1.2.*",
            &["1.2", "1.2.0.dev0", "1.2.9.post1+x", "1.2a1"],
            &["1.3.dev0", "1.1", "1"],
        );
        check("!=1.2.*", &["1.3", "1.1.9"], &["1.2.5"]);
        check(
            "~=1.4.5",
            &["1.4.5", "1.4.9+x"],
            &["1.5.dev0", "1.5", "1.4.4"],
        );
        check("~=2.2", &["2.9", "2.2.post1"], &["3.0.dev0", "3.0"]);
        check("===1.0", &["1.0"], &["1.0+x", "1.0.post1"]);
    }

    #[test]
    fn prerelease_and_pin_helpers() {
        let s = |x: &str| VersionSpecifiers::from_str(x).unwrap();
        assert!(names_prerelease(&s(">=1.0a1")));
        assert!(names_prerelease(&s("<2.0.dev0")));
        assert!(!names_prerelease(&s(">=1.0,<2")));
        assert_eq!(exact_pins(&s("==1.0")).len(), 1);
        assert!(exact_pins(&s("==1.*")).is_empty());
        assert!(exact_pins(&s(">=1")).is_empty());
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        (
            1u64..3,
            0u64..3,
            0u64..3,
            prop::option::weighted(0.3, (0usize..3, 0u64..3)),
            prop::option::weighted(0.3, 0u64..3),
            prop::option::weighted(0.2, 0u64..3),
            prop::option::weighted(0.3, prop::sample::select(vec!["foo", "cu130", "1"])),
        )
            .prop_map(|(a, b, c, pre, post, dev, local)| {
                let mut s = format!("{a}.{b}.{c}");
                if let Some((k, n)) = pre {
                    s.push_str(&format!("{}{n}", ["a", "b", "rc"][k]));
                }
                if let Some(p) = post {
                    s.push_str(&format!(".post{p}"));
                }
                if let Some(d) = dev {
                    s.push_str(&format!(".dev{d}"));
                }
                if let Some(l) = local {
                    s.push_str(&format!("+{l}"));
                }
                s
            })
    }

    fn specifier_strategy() -> impl Strategy<Value = String> {
        let ops = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">=", "~=", "==*", "!=*"]);
        (ops, version_strategy(), 1usize..4).prop_map(|(op, version, segments)| match op {
            "==*" | "!=*" => {
                let release: Vec<&str> = version
                    .split(['+', 'a', 'b', 'r', '.'])
                    .take(segments)
                    .collect();
                format!("{}{}.*", &op[..2], release.join("."))
            }
            _ => format!("{op}{version}"),
        })
    }

    /// Where this module deliberately differs from `VersionSpecifier::contains` (which itself
    /// is wrong in places); `Some(true/false)` is the PEP 440 answer for `candidate`.
    fn pep440_answer(spec: &VersionSpecifier, candidate: &Version) -> Option<bool> {
        let this = spec.version();
        let same_release = release_of(this) == release_of(candidate);
        match spec.operator() {
            // pep440_rs also rejects pre-releases of V's release below a pre-release V; PEP 440
            // allows them ("unless the specified version is itself a pre-release").
            Operator::LessThan if this.any_prerelease() && same_release => {
                Some(candidate.clone().without_local() < *this)
            }
            // pep440_rs rejects `1.0` for `<1.0.post1`; PEP 440 allows it.
            Operator::LessThan if this.is_post() && same_release => {
                Some(!candidate.any_prerelease() && candidate.clone().without_local() < *this)
            }
            // The documented approximation: a post-release of another pre-release of V's
            // release passes `>V`.
            Operator::GreaterThan
                if !this.is_post()
                    && same_release
                    && candidate.is_post()
                    && candidate.pre().is_some()
                    && (this.is_dev() || candidate.pre() != this.pre())
                    && candidate.clone().without_local() > *this =>
            {
                Some(true)
            }
            _ => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn ranges_agree_with_pep440(spec in specifier_strategy(), candidate in version_strategy()) {
            let Ok(specifier) = VersionSpecifier::from_str(&spec) else {
                return Ok(()); // e.g. `~=1.0.0+foo`, `<1.0+foo`: not valid specifiers
            };
            let candidate = v(&candidate);
            let range = specifier_to_ranges(&specifier);
            let expected = pep440_answer(&specifier, &candidate)
                .unwrap_or_else(|| specifier.contains(&candidate));
            prop_assert_eq!(range.contains(&candidate), expected, "{} vs {}", spec, candidate);
        }
    }
}
