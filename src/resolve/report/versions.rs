//! Version sets in words. Pure.
//!
//! A PubGrub range is shown as specifiers (`==2.9.0`, `>=1.0, <2.0 | >=3.0`) while it has at
//! most [`EXACT_SEGMENTS`] segments. A longer union (PubGrub builds them by excluding the
//! versions it tried one by one) is summarized by the versions the index actually lists inside
//! it: `0.11.0 ... 0.21.0 (14 versions)`. The summary is exact about those versions: it names
//! the first and last of them and counts all of them. Versions the index does not list (future
//! releases the range also admits) are not part of any step of a conflict, so leaving them out
//! loses nothing a reader can act on.

use std::fmt;
use std::ops::Bound;

use pep440_rs::Version;
use pubgrub::Ranges;

/// Most segments a range may have and still be shown exactly.
pub const EXACT_SEGMENTS: usize = 3;

/// Most versions a summary lists one by one; more are shown as `first ... last`.
const LISTED_VERSIONS: usize = 3;

/// A range in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeWords<'a> {
    /// Every version.
    Any,
    /// No version at all.
    Nothing,
    /// The range as specifier segments (`>=1.0, <2.0`), one per interval.
    Exact(Vec<String>),
    /// The versions the index lists inside a long range.
    Known(Summary<'a>),
}

/// The known versions inside a range, ascending; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary<'a> {
    pub versions: Vec<&'a Version>,
}

impl fmt::Display for Summary<'_> {
    /// `0.11.0 (1 version)`, `0.11.0, 0.11.1 (2 versions)`, `0.11.0 ... 0.21.0 (14 versions)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.versions.len();
        match self.versions.as_slice() {
            [] => write!(f, "(no version)"),
            [only] => write!(f, "{only} (1 version)"),
            [first, .., last] if count > LISTED_VERSIONS => {
                write!(f, "{first} ... {last} ({count} versions)")
            }
            all => {
                let listed: Vec<String> = all.iter().map(|v| v.to_string()).collect();
                write!(f, "{} ({count} versions)", listed.join(", "))
            }
        }
    }
}

/// The versions of `known` inside `range`, ascending.
pub fn known_in<'a>(
    range: &Ranges<Version>,
    known: impl IntoIterator<Item = &'a Version>,
) -> Vec<&'a Version> {
    let mut inside: Vec<&Version> = known.into_iter().filter(|v| range.contains(v)).collect();
    inside.sort();
    inside.dedup();
    inside
}

/// `range` in words: exact while it is short, else summarized by the `known` versions inside
/// it (exact again when there are none).
pub fn range_words<'a>(
    range: &Ranges<Version>,
    known: impl IntoIterator<Item = &'a Version>,
) -> RangeWords<'a> {
    if range == &Ranges::full() {
        return RangeWords::Any;
    }
    if range.is_empty() {
        return RangeWords::Nothing;
    }
    let segments: Vec<String> = range
        .iter()
        .map(|(lower, upper)| segment_text(lower, upper))
        .collect();
    if segments.len() <= EXACT_SEGMENTS {
        return RangeWords::Exact(segments);
    }
    let versions = known_in(range, known);
    if versions.is_empty() {
        RangeWords::Exact(segments)
    } else {
        RangeWords::Known(Summary { versions })
    }
}

/// One interval in specifier words.
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

/// Whether `[a, b)` is `a` with any local label (`==a`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn short_ranges_stay_exact() {
        let known = [v("1.0"), v("2.0")];
        let range =
            Ranges::from_range_bounds(v("1.0")..v("2.0")).union(&Ranges::singleton(v("3.0")));
        assert_eq!(
            range_words(&range, &known),
            RangeWords::Exact(vec![">=1.0, <2.0".to_string(), "==3.0".to_string()])
        );
        assert_eq!(range_words(&Ranges::full(), &known), RangeWords::Any);
        assert_eq!(range_words(&Ranges::empty(), &known), RangeWords::Nothing);
    }

    #[test]
    fn long_unions_are_summarized_by_known_versions() {
        let known: Vec<Version> = (0..14).map(|i| v(&format!("0.{}.0", 11 + i))).collect();
        // `>=0.11` without 0.12.0 and 0.14.0: five segments.
        let range = Ranges::higher_than(v("0.11"))
            .intersection(&Ranges::singleton(v("0.12.0")).complement())
            .intersection(&Ranges::singleton(v("0.14.0")).complement())
            .intersection(&Ranges::singleton(v("0.16.0")).complement())
            .intersection(&Ranges::singleton(v("0.18.0")).complement());
        let RangeWords::Known(summary) = range_words(&range, &known) else {
            panic!("not summarized");
        };
        assert_eq!(summary.to_string(), "0.11.0 ... 0.24.0 (10 versions)");
        let few = [v("0.11.0"), v("0.13.0")];
        let RangeWords::Known(summary) = range_words(&range, &few) else {
            panic!("not summarized");
        };
        assert_eq!(summary.to_string(), "0.11.0, 0.13.0 (2 versions)");
        let one = [v("0.13.0")];
        let RangeWords::Known(summary) = range_words(&range, &one) else {
            panic!("not summarized");
        };
        assert_eq!(summary.to_string(), "0.13.0 (1 version)");
        // Nothing known inside: the exact segments.
        let RangeWords::Exact(segments) = range_words(&range, &[v("0.1")]) else {
            panic!("not exact");
        };
        assert_eq!(segments.len(), 5);
    }

    fn version() -> impl Strategy<Value = Version> {
        (0u64..4, 0u64..6, prop::option::of(0u64..3))
            .prop_map(|(major, minor, post)| Version::new([major, minor]).with_post(post))
    }

    fn range() -> impl Strategy<Value = Ranges<Version>> {
        let piece = prop_oneof![
            version().prop_map(Ranges::singleton),
            version().prop_map(Ranges::higher_than),
            version().prop_map(Ranges::strictly_lower_than),
            (version(), version()).prop_map(|(a, b)| Ranges::from_range_bounds(a..b)),
        ];
        (
            proptest::collection::vec(piece.clone(), 1..8),
            proptest::collection::vec(piece, 0..4),
        )
            .prop_map(|(add, remove)| {
                let union = add.iter().fold(Ranges::empty(), |acc, r| acc.union(r));
                remove
                    .iter()
                    .fold(union, |acc, r| acc.intersection(&r.complement()))
            })
    }

    proptest! {
        /// The summary names exactly the known versions in the range: its first, last and
        /// count agree with a brute-force filter, and a short range stays exact.
        #[test]
        fn summaries_name_exactly_the_known_versions(
            range in range(),
            known in proptest::collection::vec(version(), 0..20),
        ) {
            let mut expected: Vec<&Version> = known.iter().filter(|v| range.contains(v)).collect();
            expected.sort();
            expected.dedup();
            let segments = range.iter().count();
            match range_words(&range, &known) {
                RangeWords::Any => prop_assert_eq!(&range, &Ranges::full()),
                RangeWords::Nothing => prop_assert!(range.is_empty()),
                RangeWords::Exact(exact) => {
                    prop_assert_eq!(exact.len(), segments);
                    prop_assert!(segments <= EXACT_SEGMENTS || expected.is_empty());
                }
                RangeWords::Known(summary) => {
                    prop_assert!(segments > EXACT_SEGMENTS);
                    prop_assert_eq!(&summary.versions, &expected);
                    let text = summary.to_string();
                    let count = expected.len();
                    let first = expected[0].to_string();
                    let last = expected[count - 1].to_string();
                    prop_assert!(text.starts_with(&first), "{}", text);
                    let unit = if count == 1 { "version" } else { "versions" };
                    let suffix = format!("({count} {unit})");
                    prop_assert!(text.ends_with(&suffix), "{}", text);
                    if count > 1 {
                        let before = format!("{last} ({count}");
                        prop_assert!(text.contains(&before), "{}", text);
                    }
                    if count <= LISTED_VERSIONS {
                        for v in &expected {
                            prop_assert!(text.contains(&v.to_string()), "{}", text);
                        }
                    }
                }
            }
        }
    }
}
