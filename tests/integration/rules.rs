//! Every resolution rule, end to end: the binary, the index client and the resolver against one
//! scenario on the local server. Each case is a manifest and the pins it must give.

use crate::common::{Project, assert_pins};
use crate::support::{Scenario, TestIndex, VersionSpec};

fn v() -> VersionSpec {
    VersionSpec::new()
}

/// One index holding a package for each rule.
fn rules_index() -> TestIndex {
    TestIndex::start(
        Scenario::new("rules")
            // Local version labels: `==2.9.0` matches `2.9.0+cu130`.
            .version("loc", "2.8.0", v())
            .version("loc", "2.9.0+cpu", v().sdist(false))
            .version("loc", "2.9.0+cu130", v().sdist(false))
            // Markers: only the Linux dependency applies on Linux.
            .version(
                "mark",
                "1.0",
                v().requires([
                    "winonly ; sys_platform == 'win32'",
                    "linuxdep ; sys_platform == 'linux'",
                ]),
            )
            .versions("linuxdep", &["1.0"])
            // Extras.
            .version("ext", "1.0", v().extra("fast", ["speedup>=1"]))
            .versions("speedup", &["1.0", "1.1"])
            // requires-python of packages.
            .version("rp", "1.0", v().requires_python(">=3.8"))
            .version("rp", "2.0", v().requires_python(">=3.13"))
            // Wheel tags: manylinux, musllinux, Windows, macOS, abi3, a glibc floor.
            .version("tagged", "1.0", v())
            .version(
                "tagged",
                "2.0",
                v().tags(["cp312-cp312-win_amd64"]).sdist(false),
            )
            .version(
                "tagged",
                "3.0",
                v().tags(["cp312-cp312-musllinux_1_2_x86_64"]).sdist(false),
            )
            .version(
                "abi",
                "1.0",
                v().tags(["cp39-abi3-manylinux_2_17_x86_64"]).sdist(false),
            )
            .version(
                "abi",
                "2.0",
                v().tags(["cp313-cp313-manylinux_2_17_x86_64"]).sdist(false),
            )
            .version(
                "glibc",
                "1.0",
                v().tags(["cp312-cp312-manylinux_2_17_x86_64"]).sdist(false),
            )
            .version(
                "glibc",
                "2.0",
                v().tags(["cp312-cp312-manylinux_2_34_x86_64"]).sdist(false),
            )
            .version(
                "mac",
                "1.0",
                v().tags(["cp312-cp312-macosx_11_0_arm64"]).sdist(false),
            )
            // Pre-releases: only when asked for, or when nothing else exists.
            .versions("pre", &["1.0", "2.0b1"])
            .versions("onlypre", &["0.1a1", "0.2a1"])
            // Yanked: never, unless pinned exactly.
            .version("yank", "1.0", v())
            .version("yank", "2.0", v().yanked("broken upload"))
            // Constraints restrict, never add.
            .versions("cons", &["1.0", "2.0"])
            .versions("notrequired", &["1.0"]),
    )
}

struct Case {
    name: &'static str,
    platform: &'static str,
    requirements: &'static [&'static str],
    constraints: &'static [&'static str],
    expected: &'static [(&'static str, &'static str)],
    absent: &'static [&'static str],
}

const LINUX: &str = "linux-x86_64";

const CASES: &[Case] = &[
    Case {
        name: "local label matches a plain pin",
        platform: LINUX,
        requirements: &["loc==2.9.0"],
        constraints: &[],
        expected: &[("loc", "2.9.0+cu130")],
        absent: &[],
    },
    Case {
        name: "exact local pin",
        platform: LINUX,
        requirements: &["loc==2.9.0+cpu"],
        constraints: &[],
        expected: &[("loc", "2.9.0+cpu")],
        absent: &[],
    },
    Case {
        name: "local label excluded by <",
        platform: LINUX,
        requirements: &["loc<2.9.0"],
        constraints: &[],
        expected: &[("loc", "2.8.0")],
        absent: &[],
    },
    Case {
        name: "markers on linux",
        platform: LINUX,
        requirements: &["mark"],
        constraints: &[],
        expected: &[("mark", "1.0"), ("linuxdep", "1.0")],
        absent: &["winonly"],
    },
    Case {
        name: "markers on macos",
        platform: "macos-arm64",
        requirements: &["mark"],
        constraints: &[],
        expected: &[("mark", "1.0")],
        absent: &["winonly", "linuxdep"],
    },
    Case {
        name: "root marker that does not apply",
        platform: LINUX,
        requirements: &["ext", "winonly ; sys_platform == 'win32'"],
        constraints: &[],
        expected: &[("ext", "1.0")],
        absent: &["winonly", "speedup"],
    },
    Case {
        name: "extra requested",
        platform: LINUX,
        requirements: &["ext[fast]"],
        constraints: &[],
        expected: &[("ext", "1.0"), ("speedup", "1.1")],
        absent: &[],
    },
    Case {
        name: "requires-python skips the newest",
        platform: LINUX,
        requirements: &["rp"],
        constraints: &[],
        expected: &[("rp", "1.0")],
        absent: &[],
    },
    Case {
        name: "manylinux target skips windows and musl wheels",
        platform: LINUX,
        requirements: &["tagged"],
        constraints: &[],
        expected: &[("tagged", "1.0")],
        absent: &[],
    },
    Case {
        name: "musllinux target",
        platform: "linux-x86_64-musllinux_1_2",
        requirements: &["tagged"],
        constraints: &[],
        expected: &[("tagged", "3.0")],
        absent: &[],
    },
    Case {
        name: "windows target",
        platform: "windows-x86_64",
        requirements: &["tagged"],
        constraints: &[],
        expected: &[("tagged", "2.0")],
        absent: &[],
    },
    Case {
        name: "macos target",
        platform: "macos-arm64",
        requirements: &["tagged", "mac"],
        constraints: &[],
        expected: &[("tagged", "1.0"), ("mac", "1.0")],
        absent: &[],
    },
    Case {
        name: "abi3 wheel on a newer python, cp313 wheel refused",
        platform: LINUX,
        requirements: &["abi"],
        constraints: &[],
        expected: &[("abi", "1.0")],
        absent: &[],
    },
    Case {
        name: "default glibc floor is 2.28",
        platform: LINUX,
        requirements: &["glibc"],
        constraints: &[],
        expected: &[("glibc", "1.0")],
        absent: &[],
    },
    Case {
        name: "a named glibc floor",
        platform: "linux-x86_64-manylinux_2_34",
        requirements: &["glibc"],
        constraints: &[],
        expected: &[("glibc", "2.0")],
        absent: &[],
    },
    Case {
        name: "no pre-release unless asked",
        platform: LINUX,
        requirements: &["pre"],
        constraints: &[],
        expected: &[("pre", "1.0")],
        absent: &[],
    },
    Case {
        name: "pre-release when the requirement names one",
        platform: LINUX,
        requirements: &["pre>=2.0b1"],
        constraints: &[],
        expected: &[("pre", "2.0b1")],
        absent: &[],
    },
    Case {
        name: "pre-release when nothing else exists",
        platform: LINUX,
        requirements: &["onlypre"],
        constraints: &[],
        expected: &[("onlypre", "0.2a1")],
        absent: &[],
    },
    Case {
        name: "yanked release skipped",
        platform: LINUX,
        requirements: &["yank"],
        constraints: &[],
        expected: &[("yank", "1.0")],
        absent: &[],
    },
    Case {
        name: "yanked release used when pinned exactly",
        platform: LINUX,
        requirements: &["yank==2.0"],
        constraints: &[],
        expected: &[("yank", "2.0")],
        absent: &[],
    },
    Case {
        name: "constraints restrict and never add",
        platform: LINUX,
        requirements: &["cons"],
        constraints: &["cons<2", "notrequired==1.0"],
        expected: &[("cons", "1.0")],
        absent: &["notrequired"],
    },
];

#[test]
fn every_rule_end_to_end() {
    let index = rules_index();
    for case in CASES {
        let project = Project::with_requirements(
            &index.index_url(),
            case.platform,
            case.requirements,
            case.constraints,
        );
        project.lock_ok(&["-q"]);
        assert_pins(&project.pins(), case.expected, case.absent, case.name);
    }
}

#[test]
fn requested_extras_and_direct_flags_are_recorded() {
    let index = rules_index();
    let project = Project::with_requirements(&index.index_url(), LINUX, &["ext[fast]"], &[]);
    project.lock_ok(&["-q"]);
    let lock = project.lockfile();
    let ext = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "ext")
        .unwrap();
    assert!(ext.direct);
    assert_eq!(ext.extras, ["fast"]);
    assert_eq!(
        ext.dependencies
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        ["speedup"]
    );
    let speedup = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "speedup")
        .unwrap();
    assert!(!speedup.direct);
}

#[test]
fn only_artifacts_for_the_target_are_listed_best_first() {
    let index = TestIndex::start(Scenario::new("artifacts").version(
        "multi",
        "1.0",
        v().tags([
            "py3-none-any",
            "cp312-cp312-manylinux_2_17_x86_64",
            "cp312-cp312-win_amd64",
            "cp312-cp312-macosx_11_0_arm64",
        ]),
    ));
    let project = Project::with_requirements(&index.index_url(), LINUX, &["multi"], &[]);
    project.lock_ok(&["-q"]);
    let lock = project.lockfile();
    let names: Vec<&str> = lock.packages[0]
        .wheels
        .iter()
        .map(|w| w.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "multi-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "multi-1.0-py3-none-any.whl"
        ]
    );
    for wheel in &lock.packages[0].wheels {
        let served = index.file(&wheel.name).expect("served file");
        assert_eq!(
            wheel.size,
            Some(served.dist.bytes.len() as u64),
            "{}",
            wheel.name
        );
        assert_eq!(wheel.sha256, served.dist.sha256, "{}", wheel.name);
    }
}
