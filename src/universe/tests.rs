//! The environments of a universe: Python ranges, markers of subsets, the host's environment.

use std::str::FromStr;

use pep508_rs::MarkerTree;

use super::*;
use crate::target::parse_platform;

fn universe(platforms: &[&str], python: &str) -> Universe {
    Universe::new(
        platforms
            .iter()
            .map(|p| parse_platform(p).unwrap())
            .collect(),
        pythons(python).unwrap(),
    )
    .unwrap()
}

/// The environments of `u` where `marker` holds.
fn holds(u: &Universe, marker: &str) -> Subset {
    let tree = MarkerTree::from_str(marker).unwrap();
    (0..u.targets().len())
        .filter(|&i| tree.evaluate(u.targets()[i].markers(), &[]))
        .collect()
}

#[test]
fn a_range_means_every_minor_in_it() {
    let minors: Vec<String> = pythons(">=3.11,<3.14")
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(minors, ["3.11.0", "3.12.0", "3.13.0"]);
    assert_eq!(pythons("==3.12.*").unwrap().len(), 1);
    assert_eq!(pythons("3.12").unwrap(), vec![Version::new([3, 12, 0])]);
}

#[test]
fn an_open_range_is_refused_with_the_reason() {
    for bad in [">=3.11", "<3.13", "~=3.11", ">=3.13,<3.12"] {
        let e = pythons(bad).unwrap_err().to_string();
        assert!(e.contains(bad), "{bad}: {e}");
    }
}

#[test]
fn two_platforms_markers_cannot_tell_apart_are_refused() {
    let e = Universe::new(
        vec![
            parse_platform("macos-arm64").unwrap(),
            parse_platform("macos-arm64-14").unwrap(),
        ],
        pythons("3.12").unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("macos-arm64-13.0") && e.contains("macos-arm64-14.0"),
        "{e}"
    );
}

#[test]
fn the_marker_of_a_subset_holds_in_exactly_that_subset() {
    let u = universe(
        &[
            "linux-x86_64",
            "linux-aarch64",
            "macos-arm64",
            "windows-x86_64",
        ],
        ">=3.10,<3.14",
    );
    let n = u.targets().len();
    // Every subset of a few shapes, and a pseudo-random sample of the rest.
    let mut subsets: Vec<Subset> = Vec::new();
    for mask in 1u32..(1 << 8) {
        subsets.push((0..8).filter(|i| mask & (1 << i) != 0).collect());
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        subsets.push((0..n).filter(|i| x & (1 << i) != 0).collect());
    }
    for subset in subsets {
        match u.marker_of(&subset) {
            None => assert_eq!(subset.len(), n),
            Some(marker) => assert_eq!(holds(&u, &marker), subset, "{marker}"),
        }
    }
}

#[test]
fn markers_are_short_where_the_grid_allows() {
    let u = universe(
        &["linux-x86_64", "macos-arm64", "windows-x86_64"],
        ">=3.11,<3.14",
    );
    let py311: Subset = [0, 3, 6].into();
    assert_eq!(u.marker_of(&py311).unwrap(), "python_version == '3.11'");
    let newer: Subset = [1, 2, 4, 5, 7, 8].into();
    assert_eq!(u.marker_of(&newer).unwrap(), "python_version >= '3.12'");
    assert_eq!(u.describe(&newer), "python >= 3.12");
    let mac: Subset = [3, 4, 5].into();
    assert_eq!(u.marker_of(&mac).unwrap(), "sys_platform == 'darwin'");
    assert_eq!(u.describe(&mac), "macos-arm64");
    let not_mac: Subset = [0, 1, 2, 6, 7, 8].into();
    assert_eq!(
        u.marker_of(&not_mac).unwrap(),
        "sys_platform == 'linux' or sys_platform == 'win32'"
    );
    let mixed: Subset = [1, 2, 6, 7, 8].into();
    assert_eq!(
        u.marker_of(&mixed).unwrap(),
        "(sys_platform == 'linux' and python_version >= '3.12') or sys_platform == 'win32'"
    );
    assert_eq!(u.marker_of(&u.all()), None);
}

#[test]
fn an_architecture_is_named_when_the_system_has_two() {
    let u = universe(&["linux-x86_64", "linux-aarch64"], "3.12");
    // Ordered by name: aarch64 first.
    let arm: Subset = [0].into();
    assert_eq!(
        u.marker_of(&arm).unwrap(),
        "sys_platform == 'linux' and platform_machine == 'aarch64'"
    );
}

#[test]
fn requires_python_spans_the_minors() {
    assert_eq!(
        universe(&["linux-x86_64"], ">=3.11,<3.14").requires_python(),
        ">=3.11, <3.14"
    );
    assert_eq!(
        universe(&["linux-x86_64"], "3.12").requires_python(),
        "==3.12.*"
    );
}

#[test]
fn a_host_finds_its_environment() {
    let u = universe(&["linux-x86_64", "macos-arm64"], ">=3.11,<3.13");
    let host = Target::new("3.12.7", Some("macos-arm64-15")).unwrap();
    assert_eq!(
        u.find(host.markers()).unwrap().platform_name(),
        "macos-arm64-13.0"
    );
    let outside = Target::new("3.13", Some("linux-x86_64")).unwrap();
    assert!(u.find(outside.markers()).is_none());
}

#[test]
fn platforms_are_ordered_by_name_whatever_the_order_declared() {
    let a = universe(
        &["windows-x86_64", "linux-x86_64", "macos-arm64"],
        ">=3.11,<3.13",
    );
    let b = universe(
        &["linux-x86_64", "macos-arm64", "windows-x86_64"],
        ">=3.11,<3.13",
    );
    assert_eq!(a, b);
    assert_eq!(a.environment_markers(), b.environment_markers());
    assert!(a.platform_names().starts_with("linux-x86_64"));
}

#[test]
fn a_platform_listed_twice_is_named() {
    let e = Universe::new(
        vec![
            parse_platform("linux-x86_64").unwrap(),
            parse_platform("linux-x86_64").unwrap(),
        ],
        pythons("3.12").unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(e, "platform `linux-x86_64-manylinux_2_28` is listed twice");
}

/// A minor the range leaves out between two declared ones: `requires-python` says so, and a
/// marker never spans it.
#[test]
fn a_gap_in_the_minors_is_excluded() {
    let u = universe(&["linux-x86_64"], ">=3.11,<3.14,!=3.12.*");
    assert_eq!(u.requires_python(), ">=3.11, <3.14, !=3.12.*");
    assert_eq!(u.targets().len(), 2);
    let both: Subset = [0, 1].into();
    assert_eq!(u.marker_of(&both), None);
    let u = universe(&["linux-x86_64", "macos-arm64"], ">=3.10,<3.14,!=3.12.*");
    // 3.11 and 3.13 on Linux: not `>= '3.11'`, which would take in 3.12.
    let linux_311_313: Subset = [1, 2].into();
    let marker = u.marker_of(&linux_311_313).unwrap();
    assert!(!marker.contains(">= '3.11'"), "{marker}");
    assert_eq!(holds(&u, &marker), linux_311_313);
}

#[test]
fn ranges_name_a_patch_or_their_bounds() {
    assert_eq!(pythons("==3.12.4").unwrap(), vec![Version::new([3, 12, 0])]);
    let e = pythons(">=3.8,<3.20").unwrap_err().to_string();
    assert!(e.contains("past 3.15"), "{e}");
    let e = pythons(">=3.6,<3.9").unwrap_err().to_string();
    assert!(e.contains("below 3.8"), "{e}");
}
