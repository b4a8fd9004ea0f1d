//! Resolver rules on an in-memory index: local labels, markers, extras, requires-python,
//! wheel tags, pre-releases, yanked files, constraints, preferences and upgrades, and the
//! conflict reports (snapshots).

use std::str::FromStr;
use std::sync::atomic::Ordering;

use super::memory::{MemorySource, MemoryVersion as V};
use super::*;

fn origin(line: usize) -> Origin {
    Origin {
        layer: "application".to_string(),
        kind: "requirement".to_string(),
        file: Some(PathBuf::from("sanctuary.toml")),
        line: Some(line),
    }
}

fn roots(requirements: &[&str]) -> Vec<RootRequirement> {
    requirements
        .iter()
        .enumerate()
        .map(|(i, r)| RootRequirement {
            requirement: Requirement::from_str(r).unwrap(),
            origin: origin(10 + i),
        })
        .collect()
}

fn request(requirements: &[&str]) -> ResolveRequest {
    ResolveRequest {
        requirements: roots(requirements),
        constraints: Vec::new(),
        target: Target::new("3.12", Some("linux-x86_64")).unwrap(),
        prereleases: PrereleaseMode::default(),
        preferences: HashMap::new(),
        upgrade: HashSet::new(),
        upgrade_all: false,
        no_binary: HashSet::new(),
        report_width: Some(100),
    }
}

fn name(s: &str) -> PackageName {
    PackageName::from_str(s).unwrap()
}

fn run(source: MemorySource, request: ResolveRequest) -> Result<Resolution, ResolveError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(resolve(Arc::new(source), request))
}

/// `a==1.0 b==2.0` for a successful resolution.
fn pins(resolution: &Resolution) -> String {
    resolution
        .packages
        .values()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect::<Vec<_>>()
        .join(" ")
}

fn ok(source: MemorySource, request: ResolveRequest) -> String {
    match run(source, request) {
        Ok(r) => pins(&r),
        Err(e) => panic!("expected a resolution, got:\n{e}"),
    }
}

fn conflict(source: MemorySource, request: ResolveRequest) -> String {
    match run(source, request) {
        Ok(r) => panic!("expected a conflict, got {}", pins(&r)),
        Err(ResolveError::NoSolution { report }) => report,
        Err(e) => panic!("expected a conflict, got error {e}"),
    }
}

#[test]
fn picks_newest_and_follows_dependencies() {
    let source = MemorySource::new()
        .with("a", "1.0", V::new().dep("b>=1"))
        .with("a", "2.0", V::new().dep("b>=2"))
        .with("b", "1.0", V::new())
        .with("b", "2.0", V::new())
        .with("b", "3.0", V::new());
    let resolution = run(source, request(&["a"])).unwrap();
    assert_eq!(pins(&resolution), "a==2.0 b==3.0");
    let a = &resolution.packages[&name("a")];
    assert!(a.direct);
    assert_eq!(a.dependencies, BTreeSet::from([name("b")]));
    assert!(!resolution.packages[&name("b")].direct);
    assert_eq!(a.index.name, "memory");
    assert_eq!(a.files.len(), 1);
}

#[test]
fn local_labels() {
    let source = || {
        MemorySource::new()
            .with("torch", "2.9.0+cu130", V::new())
            .with("torch", "2.9.0+cu128", V::new())
            .with("torch", "2.8.0", V::new())
            .with("vision", "0.24.0", V::new().dep("torch==2.9.0"))
    };
    assert_eq!(
        ok(source(), request(&["torch==2.9.0"])),
        "torch==2.9.0+cu130"
    );
    assert_eq!(
        ok(source(), request(&["torch==2.9.0+cu128"])),
        "torch==2.9.0+cu128"
    );
    assert_eq!(
        ok(source(), request(&["vision", "torch==2.9.0+cu128"])),
        "torch==2.9.0+cu128 vision==0.24.0"
    );
    assert_eq!(
        ok(source(), request(&["torch<=2.9.0"])),
        "torch==2.9.0+cu130"
    );
    assert_eq!(ok(source(), request(&["torch!=2.9.0"])), "torch==2.8.0");
    conflict(source(), request(&["torch>2.9.0"]));
}

#[test]
fn markers_are_evaluated_for_the_target() {
    let source = || {
        MemorySource::new()
            .with(
                "a",
                "1.0",
                V::new()
                    .dep("b ; sys_platform == 'linux'")
                    .dep("c ; sys_platform == 'win32'")
                    .dep("d ; python_version < '3.10'"),
            )
            .with("b", "1.0", V::new())
            .with("c", "1.0", V::new())
            .with("d", "1.0", V::new())
    };
    assert_eq!(ok(source(), request(&["a"])), "a==1.0 b==1.0");
    let mut windows = request(&["a", "e ; sys_platform == 'darwin'"]);
    windows.target = Target::new("3.9", Some("windows-x86_64")).unwrap();
    assert_eq!(ok(source(), windows), "a==1.0 c==1.0 d==1.0");
}

#[test]
fn extras_compose() {
    let source = || {
        MemorySource::new()
            .with(
                "peft",
                "1.0",
                V::new()
                    .dep("torch")
                    .extra("vision", &["pillow>=10"])
                    .extra(
                        "all",
                        &["peft[vision]", "accelerate ; sys_platform == 'linux'"],
                    )
                    .extra("win", &["pywin ; sys_platform == 'win32'"]),
            )
            .with("torch", "2.0", V::new())
            .with("pillow", "9.0", V::new())
            .with("pillow", "10.0", V::new())
            .with("accelerate", "1.0", V::new())
    };
    assert_eq!(ok(source(), request(&["peft"])), "peft==1.0 torch==2.0");
    let resolution = run(source(), request(&["peft[vision]"])).unwrap();
    assert_eq!(pins(&resolution), "peft==1.0 pillow==10.0 torch==2.0");
    let peft = &resolution.packages[&name("peft")];
    assert_eq!(
        peft.extras
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>(),
        ["vision"]
    );
    assert_eq!(
        peft.dependencies,
        BTreeSet::from([name("pillow"), name("torch")])
    );
    assert_eq!(
        ok(source(), request(&["peft[all,win]"])),
        "accelerate==1.0 peft==1.0 pillow==10.0 torch==2.0"
    );
    // A missing extra is not an error.
    assert_eq!(
        ok(source(), request(&["peft[nope]"])),
        "peft==1.0 torch==2.0"
    );
    // Extras of two requirements merge; a conflict inside an extra is found.
    let report = conflict(source(), request(&["peft[vision]", "pillow<10"]));
    assert!(report.contains("peft[vision]"), "{report}");
}

#[test]
fn requires_python_from_files_and_metadata() {
    let mut metadata_only = V::new().requires_python(">=3.13");
    metadata_only.requires_python_on_files = false;
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new().requires_python(">=3.8"))
            .with("a", "2.0", V::new().requires_python(">=3.13"))
            .with("b", "1.0", V::new())
            .with("b", "2.0", metadata_only.clone())
    };
    assert_eq!(ok(source(), request(&["a", "b"])), "a==1.0 b==1.0");
    let report = conflict(source(), request(&["a>=2"]));
    assert!(report.contains("requires Python >=3.13"), "{report}");
    let report = conflict(source(), request(&["b>=2"]));
    assert!(report.contains("requires Python >=3.13"), "{report}");
    let resolution = run(source(), request(&["a"])).unwrap();
    assert_eq!(
        resolution.packages[&name("a")]
            .requires_python
            .as_ref()
            .map(|s| s.to_string())
            .as_deref(),
        Some(">=3.8")
    );
}

#[test]
fn wheel_tags_choose_versions_and_order_files() {
    let source = || {
        MemorySource::new()
            .with(
                "np",
                "2.0",
                V::new().wheels(&["cp312-cp312-manylinux_2_34_x86_64", "cp312-cp312-win_amd64"]),
            )
            .with(
                "np",
                "1.0",
                V::new().wheels(&[
                    "py3-none-any",
                    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
                    "cp39-abi3-manylinux_2_28_x86_64",
                    "cp312-cp312-musllinux_1_2_x86_64",
                    "cp312-cp312-macosx_11_0_arm64",
                    "cp311-cp311-manylinux_2_17_x86_64",
                ]),
            )
    };
    let resolution = run(source(), request(&["np"])).unwrap();
    let np = &resolution.packages[&name("np")];
    assert_eq!(np.version.to_string(), "1.0");
    let files: Vec<&str> = np.files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(
        files,
        [
            "np-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "np-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
            "np-1.0-py3-none-any.whl",
        ]
    );
    let mut newer = request(&["np"]);
    newer.target = Target::new("3.12", Some("linux-x86_64-manylinux_2_34")).unwrap();
    assert_eq!(ok(source(), newer), "np==2.0");
    let mut windows = request(&["np"]);
    windows.target = Target::new("3.12", Some("windows-x86_64")).unwrap();
    assert_eq!(ok(source(), windows), "np==2.0");
    let mut musl = request(&["np==1.0"]);
    musl.target = Target::new("3.12", Some("linux-x86_64-musllinux_1_2")).unwrap();
    let resolution = run(source(), musl).unwrap();
    assert_eq!(
        resolution.packages[&name("np")].files[0].filename,
        "np-1.0-cp312-cp312-musllinux_1_2_x86_64.whl"
    );
    let mut mac = request(&["np"]);
    mac.target = Target::new("3.12", Some("macos-arm64")).unwrap();
    assert_eq!(ok(source(), mac), "np==1.0");
    let report = conflict(source(), request(&["np>=2"]));
    assert!(
        report.contains("has no wheel for Python 3.12.0 on linux-x86_64-manylinux_2_28"),
        "{report}"
    );
}

#[test]
fn prereleases() {
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new())
            .with("a", "2.0rc1", V::new())
            .with("b", "1.0a1", V::new())
            .with("b", "1.0a2", V::new())
            .with("c", "1.0", V::new().dep("a>=2.0rc1"))
    };
    assert_eq!(ok(source(), request(&["a"])), "a==1.0");
    assert_eq!(ok(source(), request(&["a>=2.0rc1"])), "a==2.0rc1");
    // Only pre-releases exist: allowed.
    assert_eq!(ok(source(), request(&["b"])), "b==1.0a2");
    // A transitive pre-release specifier is no opt-in.
    let report = conflict(source(), request(&["c"]));
    assert!(report.contains("a==2.0rc1 is a pre-release"), "{report}");
    // ... but a root constraint is.
    let mut constrained = request(&["c"]);
    constrained.constraints = roots(&["a>=2.0rc1"]);
    assert_eq!(ok(source(), constrained), "a==2.0rc1 c==1.0");
    let mut allow = request(&["a"]);
    allow.prereleases = PrereleaseMode::Allow;
    assert_eq!(ok(source(), allow), "a==2.0rc1");
    let mut disallow = request(&["b"]);
    disallow.prereleases = PrereleaseMode::Disallow;
    conflict(source(), disallow);
}

#[test]
fn yanked_only_when_pinned_exactly() {
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new())
            .with("a", "2.0", V::new().yanked())
            .with("b", "1.0", V::new().dep("a==2.0"))
    };
    assert_eq!(ok(source(), request(&["a"])), "a==1.0");
    assert_eq!(ok(source(), request(&["a==2.0"])), "a==2.0");
    let report = conflict(source(), request(&["a>1"]));
    assert!(report.contains("a==2.0 was yanked"), "{report}");
    // A transitive pin is not enough; a root pin or a constraint is.
    conflict(source(), request(&["b"]));
    let mut constrained = request(&["b"]);
    constrained.constraints = roots(&["a==2.0"]);
    assert_eq!(ok(source(), constrained), "a==2.0 b==1.0");
    conflict(source(), request(&["a==2.*"]));
}

#[test]
fn constraints_restrict_but_never_add() {
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new().dep("numpy"))
            .with("numpy", "1.26", V::new())
            .with("numpy", "2.0", V::new())
            .with("torch", "2.0", V::new())
    };
    let mut r = request(&["a"]);
    r.constraints = roots(&["numpy<2", "torch==2.0"]);
    assert_eq!(ok(source(), r), "a==1.0 numpy==1.26");
    let mut r = request(&["a"]);
    r.constraints = roots(&["numpy>3"]);
    let report = conflict(source(), r);
    assert!(report.contains("numpy>3"), "{report}");
}

#[test]
fn preferences_and_upgrades() {
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new())
            .with("a", "2.0", V::new())
            .with("b", "1.0", V::new())
            .with("b", "2.0", V::new())
    };
    let prefer = |upgrade: &[&str], all: bool, reqs: &[&str]| {
        let mut r = request(reqs);
        r.preferences = HashMap::from([
            (name("a"), Version::from_str("1.0").unwrap()),
            (name("b"), Version::from_str("1.0").unwrap()),
        ]);
        r.upgrade = upgrade.iter().map(|n| name(n)).collect();
        r.upgrade_all = all;
        r
    };
    assert_eq!(
        ok(source(), prefer(&[], false, &["a", "b"])),
        "a==1.0 b==1.0"
    );
    assert_eq!(
        ok(source(), prefer(&["b"], false, &["a", "b"])),
        "a==1.0 b==2.0"
    );
    assert_eq!(
        ok(source(), prefer(&[], true, &["a", "b"])),
        "a==2.0 b==2.0"
    );
    // A preference outside the range is ignored.
    assert_eq!(
        ok(source(), prefer(&[], false, &["a>=2", "b"])),
        "a==2.0 b==1.0"
    );
}

#[test]
fn no_binary_and_sdist_only() {
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new().sdist(true))
            .with("a", "2.0", V::new().wheels(&[]).sdist(true))
    };
    assert_eq!(ok(source(), request(&["a"])), "a==1.0");
    let report = conflict(source(), request(&["a>=2"]));
    assert!(report.contains("only as a source distribution"), "{report}");
    let mut r = request(&["a"]);
    r.no_binary = HashSet::from([name("a")]);
    let report = conflict(source(), r);
    assert!(report.contains("no-binary"), "{report}");
}

#[test]
fn url_requirements_are_refused() {
    let err = run(
        MemorySource::new(),
        request(&["a @ https://example.com/a-1.0-py3-none-any.whl"]),
    )
    .unwrap_err();
    assert!(matches!(err, ResolveError::BadRequirement { .. }), "{err}");
}

#[test]
fn prefetch_fetches_each_page_and_metadata_once() {
    let mut source = MemorySource::new();
    for i in 0..20 {
        let mut v = V::new();
        if i + 1 < 20 {
            v = v.dep(&format!("p{}", i + 1));
        }
        source = source.with(&format!("p{i}"), "1.0", v);
    }
    let source = Arc::new(source);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let resolution = rt
        .block_on(resolve(source.clone(), request(&["p0"])))
        .unwrap();
    assert_eq!(resolution.packages.len(), 20);
    assert_eq!(source.files_calls.load(Ordering::Relaxed), 20);
    assert_eq!(source.metadata_calls.load(Ordering::Relaxed), 20);
}

mod reports {
    use super::*;

    #[test]
    fn direct_incompatibility() {
        let source = MemorySource::new()
            .with("a", "1.0", V::new())
            .with("a", "2.0", V::new());
        insta::assert_snapshot!(conflict(source, request(&["a==1.0", "a>=2"])));
    }

    #[test]
    fn transitive() {
        let source = MemorySource::new()
            .with("peft", "0.13.0", V::new().dep("torch>=2.4"))
            .with("peft", "0.12.0", V::new().dep("torch>=2.3"))
            .with("torch", "2.2.0", V::new())
            .with("torch", "2.4.0", V::new());
        let mut r = request(&["peft>=0.12"]);
        r.requirements
            .extend(roots(&["torch==2.2.0"]).into_iter().map(|mut root| {
                root.origin.layer = "foundation (cu130)".to_string();
                root.origin.line = Some(3);
                root
            }));
        insta::assert_snapshot!(conflict(source, r));
    }

    #[test]
    fn requires_python() {
        let source = MemorySource::new()
            .with("a", "1.0", V::new().requires_python(">=3.13"))
            .with("a", "0.9", V::new().requires_python(">=3.13"));
        insta::assert_snapshot!(conflict(source, request(&["a"])));
    }

    #[test]
    fn sdist_only() {
        let source = MemorySource::new().with("a", "1.0", V::new().wheels(&[]).sdist(true));
        insta::assert_snapshot!(conflict(source, request(&["a"])));
    }

    #[test]
    fn no_wheel_for_target() {
        let source = MemorySource::new().with(
            "a",
            "1.0",
            V::new().wheels(&["cp312-cp312-win_amd64", "cp312-cp312-macosx_11_0_arm64"]),
        );
        insta::assert_snapshot!(conflict(source, request(&["a"])));
    }

    #[test]
    fn yanked() {
        let source =
            MemorySource::new()
                .with("a", "1.0", V::new())
                .with("a", "2.0", V::new().yanked());
        insta::assert_snapshot!(conflict(source, request(&["a>=2"])));
    }

    #[test]
    fn prerelease() {
        let source = MemorySource::new()
            .with("a", "1.0", V::new().dep("b>1"))
            .with("b", "1.0", V::new())
            .with("b", "2.0b1", V::new());
        insta::assert_snapshot!(conflict(source, request(&["a"])));
    }

    #[test]
    fn missing_package() {
        let source = MemorySource::new().with("a", "1.0", V::new().dep("nope"));
        insta::assert_snapshot!(conflict(source, request(&["a"])));
    }

    #[test]
    fn extra_conflict() {
        let source = MemorySource::new()
            .with(
                "a",
                "1.0",
                V::new().extra("x", &["b==1.0"]).extra("y", &["b==2.0"]),
            )
            .with("b", "1.0", V::new())
            .with("b", "2.0", V::new());
        insta::assert_snapshot!(conflict(source, request(&["a[x,y]"])));
    }
}
