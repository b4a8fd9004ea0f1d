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
        build: Default::default(),
        report_width: Some(100),
    }
}

fn name(s: &str) -> PackageName {
    PackageName::from_str(s).unwrap()
}

/// The runtime the resolver's fetches run on in these tests.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn run(source: MemorySource, request: ResolveRequest) -> Result<Resolution, ResolveError> {
    runtime().block_on(resolve(Arc::new(source), request))
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
        report.contains("has no wheel for Python 3.12 on linux-x86_64-manylinux_2_28"),
        "{report}"
    );
}

/// `Policy::usable_files` works a version's usable files out once per resolution: asked again,
/// it gives the very list it kept, the one worked out afresh, and a rejection is kept too.
#[test]
fn usable_files_are_worked_out_once_per_version() {
    let source = MemorySource::new()
        .with(
            "np",
            "2.0",
            V::new().wheels(&[
                "py3-none-any",
                "cp312-cp312-win_amd64",
                "cp312-cp312-manylinux_2_17_x86_64",
            ]),
        )
        .with("np", "1.0", V::new().wheels(&["cp312-cp312-win_amd64"]));
    let files = runtime()
        .block_on(source.files(&name("np")))
        .unwrap()
        .unwrap();
    let policy = provider::Policy::from_request(&request(&["np"])).unwrap();
    let (np, two, one) = (
        name("np"),
        Version::from_str("2.0").unwrap(),
        Version::from_str("1.0").unwrap(),
    );
    let first = policy
        .usable_files(&np, &two, &files.versions[&two])
        .unwrap();
    let again = policy
        .usable_files(&np, &two, &files.versions[&two])
        .unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    let names: Vec<&str> = first.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(
        names,
        [
            "np-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "np-2.0-py3-none-any.whl"
        ]
    );
    assert_eq!(
        policy
            .find_usable(&np, &two, &files.versions[&two])
            .unwrap(),
        first.to_vec()
    );
    let rejected = policy
        .usable_files(&np, &one, &files.versions[&one])
        .unwrap_err();
    assert!(
        matches!(rejected, provider::Rejection::NoCompatibleWheel(_)),
        "{rejected:?}"
    );
    assert_eq!(
        policy
            .usable_files(&np, &one, &files.versions[&one])
            .unwrap_err(),
        rejected
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

fn no_build(requirements: &[&str]) -> ResolveRequest {
    let mut r = request(requirements);
    r.build = crate::resolve::BuildPolicy::no_build();
    r
}

#[test]
fn an_sdist_only_version_is_a_candidate_when_building_is_allowed() {
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new().sdist(true))
            .with("a", "2.0", V::new().wheels(&[]).sdist(true))
    };
    let resolution = run(source(), request(&["a"])).unwrap();
    let a = &resolution.packages[&name("a")];
    assert_eq!(a.version.to_string(), "2.0");
    let files: Vec<&str> = a.files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(files, ["a-2.0.tar.gz"]);
    assert!(resolution.skipped_sdists.is_empty());
    // A version with a usable wheel is locked from its wheels, not its sdist.
    let resolution = run(source(), request(&["a<2"])).unwrap();
    let files: Vec<&str> = resolution.packages[&name("a")]
        .files
        .iter()
        .map(|f| f.filename.as_str())
        .collect();
    assert_eq!(files, ["a-1.0-py3-none-any.whl"]);
}

#[test]
fn with_building_off_a_skipped_newer_sdist_is_reported() {
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new().sdist(true))
            .with("a", "2.0", V::new().wheels(&[]).sdist(true))
            .with("a", "3.0", V::new().wheels(&[]).sdist(true))
    };
    let resolution = run(source(), no_build(&["a"])).unwrap();
    assert_eq!(pins(&resolution), "a==1.0");
    assert_eq!(
        resolution
            .skipped_sdists
            .get(&name("a"))
            .map(|v| v.to_string()),
        Some("3.0".to_string())
    );
    // Nothing is reported when the version taken is the newest the range allows anyway.
    let resolution = run(source(), no_build(&["a<2"])).unwrap();
    assert!(resolution.skipped_sdists.is_empty());
    let report = conflict(source(), no_build(&["a>=2"]));
    assert!(report.contains("only as a source distribution"), "{report}");
    assert!(report.contains("no-build"), "{report}");
}

/// The hydra-core case: with building off, hydra-core 1.3 needs the sdist-only
/// antlr4, so 0.11 is taken; the resolution says why.
#[test]
fn with_building_off_a_package_held_back_by_an_sdist_only_dependency_is_reported() {
    let source = MemorySource::new()
        .with("hydra", "0.11.3", V::new())
        .with("hydra", "1.3.8", V::new().dep("antlr4==4.9.*"))
        .with("antlr4", "4.9.3", V::new().wheels(&[]).sdist(true));
    let resolution = run(source, no_build(&["hydra"])).unwrap();
    assert_eq!(pins(&resolution), "hydra==0.11.3");
    let (newer, dep) = &resolution.held_back[&name("hydra")];
    assert_eq!(
        (newer.to_string(), dep.to_string()),
        ("1.3.8".into(), "antlr4".into())
    );
}

#[test]
fn no_binary_takes_the_sdist() {
    let source = || {
        MemorySource::new()
            .with("a", "1.0", V::new().sdist(true))
            .with("b", "1.0", V::new())
    };
    let mut r = request(&["a", "b"]);
    r.no_binary = HashSet::from([name("a"), name("b")]);
    let resolution = run(source(), r.clone());
    let report = match resolution {
        Err(ResolveError::NoSolution { report }) => report,
        other => panic!("expected a conflict, got {other:?}"),
    };
    assert!(report.contains("no source distribution"), "{report}");
    r.no_binary = HashSet::from([name("a")]);
    let resolution = run(source(), r).unwrap();
    assert_eq!(
        resolution.packages[&name("a")].files[0].filename,
        "a-1.0.tar.gz"
    );
}

#[test]
fn declared_metadata_replaces_the_artifacts() {
    let source = MemorySource::new()
        .with("a", "1.0", V::new().wheels(&[]).sdist(true).dep("b"))
        .with("b", "1.0", V::new())
        .with("c", "1.0", V::new());
    let mut r = request(&["a"]);
    let declared = crate::manifest::DependencyMetadata {
        name: name("a"),
        version: None,
        requires_dist: vec![Requirement::from_str("c").unwrap()],
        requires_python: None,
        provides_extra: Vec::new(),
    };
    r.build.declared_metadata = vec![declared];
    assert_eq!(ok(source, r), "a==1.0 c==1.0");
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
    let rt = runtime();
    let resolution = rt
        .block_on(resolve(source.clone(), request(&["p0"])))
        .unwrap();
    assert_eq!(resolution.packages.len(), 20);
    assert_eq!(source.files_calls.load(Ordering::Relaxed), 20);
    assert_eq!(source.metadata_calls.load(Ordering::Relaxed), 20);
}

/// While PubGrub waits for a slow package's metadata, the metadata of a chain of
/// dependencies it has not reached yet is fetched: guesses follow the dependencies of what
/// they fetched. (Before, `d` and `e` were only asked for after `s` arrived: a cold lock
/// waited one round of requests per package PubGrub decided in turn.)
#[test]
fn guesses_fetch_ahead_of_pubgrub() {
    let source = MemorySource::new()
        .with("s", "1.0", V::new())
        .with("b", "1.0", V::new().dep("c"))
        .with("c", "1.0", V::new().dep("d>=1").dep("h"))
        .with("d", "1.0", V::new().dep("e ; sys_platform == 'linux'"))
        .with("e", "1.0", V::new().dep("g ; sys_platform == 'win32'"))
        .with("g", "1.0", V::new())
        .with("h", "1.0", V::new().wheels(&[]).sdist(true).dep("i"))
        .with("i", "1.0", V::new())
        .slow("s", 400)
        .unwrap();
    let source = Arc::new(source);
    let rt = runtime();
    let resolution = rt
        .block_on(resolve(source.clone(), request(&["s", "b"])))
        .unwrap();
    assert_eq!(
        pins(&resolution),
        "b==1.0 c==1.0 d==1.0 e==1.0 h==1.0 i==1.0 s==1.0"
    );
    let log = source.metadata_log.lock().unwrap().clone();
    let at = |line: &str| log.iter().position(|l| l == line);
    let s_done = at("end s").unwrap();
    assert!(at("start e").unwrap() < s_done, "{log:?}");
    // No guess for what a marker leaves out, and none builds: h is sdist-only, so PubGrub
    // asks for it (and finds i) only once it gets there.
    assert_eq!(at("start g"), None, "{log:?}");
    assert!(at("start h").unwrap() > s_done, "{log:?}");
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
        insta::assert_snapshot!(conflict(source, no_build(&["a"])));
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

    /// The closing suggestion names what to relax, and what kind of root it is.
    #[test]
    fn suggestions() {
        let flat = |report: String| report.split_whitespace().collect::<Vec<_>>().join(" ");
        let last = |report: &str| {
            report
                .rsplit("hint: ")
                .next()
                .unwrap_or_default()
                .to_string()
        };
        // One requirement with a specifier and nothing else to say: relax it.
        let source = MemorySource::new()
            .with("a", "1.0", V::new())
            .with("a", "2.0", V::new().dep("b>=5"))
            .with("b", "1.0", V::new());
        let report = flat(conflict(source, request(&["a>=2"])));
        assert_eq!(
            last(&report),
            "relax `a>=2` (sanctuary.toml:10): none of the versions it allows can be used",
            "{report}"
        );
        // A constraint is named as one; a requirement without a specifier is not relaxed.
        let source = MemorySource::new()
            .with("a", "1.0", V::new().dep("numpy"))
            .with("numpy", "1.26", V::new())
            .with("numpy", "2.0", V::new());
        let mut r = request(&["a"]);
        r.constraints = roots(&["numpy>3"]);
        r.constraints[0].origin.kind = "constraint".to_string();
        let report = flat(conflict(source, r));
        assert_eq!(
            last(&report),
            "relax the constraint `numpy>3` (sanctuary.toml:10)",
            "{report}"
        );
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

mod big {
    use super::*;

    /// vLLM-shaped: 14 releases of `vllm` from 0.11.0, each pinning torch, torchvision and
    /// torchaudio exactly; the Foundation (key cu126) pins torch 2.7.1+cu126.
    pub(super) fn vllm_source() -> MemorySource {
        const TORCH: [(&str, &str, &str, &str); 6] = [
            // torch, torchvision, torchaudio, triton
            ("2.7.1", "0.22.1", "2.7.1", "3.3.1"),
            ("2.8.0", "0.23.0", "2.8.0", "3.4.0"),
            ("2.9.0", "0.24.0", "2.9.0", "3.5.0"),
            ("2.9.1", "0.24.1", "2.9.1", "3.5.1"),
            ("2.10.0", "0.25.0", "2.10.0", "3.6.0"),
            ("2.11.0", "0.26.0", "2.11.0", "3.6.1"),
        ];
        const VLLM: [(&str, usize); 16] = [
            ("0.10.1", 0),
            ("0.10.2", 0),
            ("0.11.0", 1),
            ("0.11.1", 1),
            ("0.11.2", 2),
            ("0.12.0", 2),
            ("0.13.0", 2),
            ("0.14.0", 3),
            ("0.14.1", 3),
            ("0.15.0", 3),
            ("0.16.0", 4),
            ("0.17.0", 4),
            ("0.18.0", 4),
            ("0.19.0", 5),
            ("0.20.0", 5),
            ("0.21.0", 5),
        ];
        let mut source = MemorySource::new()
            .with("filelock", "3.20.0", V::new())
            .with("transformers", "4.57.0", V::new().dep("filelock"));
        for (torch, vision, audio, triton) in TORCH {
            source = source
                .with(
                    "torch",
                    &format!("{torch}+cu126"),
                    V::new().dep("filelock").dep(&format!("triton=={triton}")),
                )
                .with("triton", triton, V::new())
                .with(
                    "torchvision",
                    vision,
                    V::new().dep(&format!("torch=={torch}")),
                )
                .with(
                    "torchaudio",
                    audio,
                    V::new().dep(&format!("torch=={torch}")),
                );
        }
        for (vllm, t) in VLLM {
            let (torch, vision, audio, _) = TORCH[t];
            source = source.with(
                "vllm",
                vllm,
                V::new()
                    .dep(&format!("torch=={torch}"))
                    .dep(&format!("torchvision=={vision}"))
                    .dep(&format!("torchaudio=={audio}"))
                    .dep("transformers>=4.56"),
            );
        }
        source
    }

    /// `vllm>=0.11` and `transformers` in the Application; the cu126 Foundation as pins.
    pub(super) fn vllm_request() -> ResolveRequest {
        let mut r = request(&[]);
        r.requirements = ["vllm>=0.11", "transformers>=4.45"]
            .iter()
            .enumerate()
            .map(|(i, text)| RootRequirement {
                requirement: Requirement::from_str(text).unwrap(),
                origin: origin(24 + i),
            })
            .collect();
        for pin in ["filelock==3.20.0", "torch==2.7.1+cu126", "triton==3.3.1"] {
            r.requirements.push(RootRequirement {
                requirement: Requirement::from_str(pin).unwrap(),
                origin: Origin {
                    layer: "foundation (cu126)".to_string(),
                    kind: "pin".to_string(),
                    file: Some(PathBuf::from("lockfiles/pylock.foundation-cu126.toml")),
                    line: None,
                },
            });
        }
        r
    }

    /// Lines and widest line of a report, checked against `width`: no line is wider unless
    /// it is one word.
    fn shape(report: &str, width: usize) -> (usize, usize) {
        for line in report.lines() {
            let words = line.split_whitespace().count();
            assert!(
                line.chars().count() <= width || words == 1,
                "line over {width}: {line}\n{report}"
            );
        }
        let widest = report.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        (report.lines().count(), widest)
    }

    /// `report` on one line, for `contains` checks across wrapped lines.
    fn flat(report: &str) -> String {
        report.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn with_pins(mut r: ResolveRequest, pins: &[&str]) -> ResolveRequest {
        let template = r.requirements.last().unwrap().clone();
        for pin in pins {
            let mut root = template.clone();
            root.requirement = Requirement::from_str(pin).unwrap();
            r.requirements.push(root);
        }
        r
    }

    #[test]
    fn vllm_against_a_foundation_pin() {
        let report = conflict(vllm_source(), vllm_request());
        // Before: 5 lines, the longest 555 characters of version unions.
        let (lines, widest) = shape(&report, 100);
        assert!(lines <= 10 && widest <= 100, "{lines} lines, {widest} wide");
        let text = flat(&report);
        assert!(text.contains("torch 2.8.0+cu126 ... 2.11.0+cu126 (5 versions)"));
        assert!(text.contains("foundation (cu126) pin `torch==2.7.1+cu126`"));
        assert!(text.contains("application requirement `vllm>=0.11` (sanctuary.toml:24)"));
        let last = flat(report.split("\nhint: ").last().unwrap());
        assert!(
            last.starts_with("relax `vllm>=0.11` (sanctuary.toml:24)"),
            "{report}"
        );
        assert!(last.contains("drop key `cu126`"), "{report}");
        assert!(last.contains("pins torch 2.7.1+cu126"), "{report}");
        insta::assert_snapshot!(report);

        let mut narrow = vllm_request();
        narrow.report_width = Some(60);
        let (lines, widest) = shape(&conflict(vllm_source(), narrow), 60);
        assert!(lines <= 16 && widest <= 60, "{lines} lines, {widest} wide");
    }

    /// Yanked releases break PubGrub's run of dependency facts: the unions that remain are
    /// summarized by the releases the index has.
    #[test]
    fn vllm_with_yanked_releases() {
        let mut source = vllm_source();
        for v in ["0.12.0", "0.14.1", "0.18.0"] {
            source = source.with("vllm", v, V::new().dep("torch==2.9.0").yanked());
        }
        let report = conflict(source, vllm_request());
        let (lines, widest) = shape(&report, 100);
        assert!(lines <= 18 && widest <= 100, "{lines} lines, {widest} wide");
        assert!(
            report.contains("vllm 0.11.0 ... 0.18.0 (9 versions)"),
            "{report}"
        );
        assert!(
            report.contains("vllm 0.12.0, 0.14.1, 0.18.0 (3 versions)"),
            "{report}"
        );
        insta::assert_snapshot!(report);
    }

    /// The whole PyTorch stack in the Foundation, and older vllm releases held back by a
    /// transformers cap: PubGrub blames the torchaudio pin, the suggestion names torch.
    #[test]
    fn vllm_against_a_whole_foundation() {
        let mut source = vllm_source();
        for (v, torch, transformers) in [
            ("0.9.2", "2.7.1", "<4.53"),
            ("0.10.0", "2.7.1", "<4.54"),
            ("0.10.1", "2.7.1", "<4.55"),
            ("0.10.2", "2.7.1", "<4.55"),
        ] {
            source = source.with(
                "vllm",
                v,
                V::new()
                    .dep(&format!("torch=={torch}"))
                    .dep(&format!("transformers{transformers}")),
            );
        }
        for t in ["4.52.0", "4.53.0", "4.54.0", "4.56.0"] {
            source = source.with("transformers", t, V::new());
        }
        let mut r = with_pins(
            vllm_request(),
            &["torchaudio==2.7.1", "torchvision==0.22.1"],
        );
        r.requirements[0].requirement = Requirement::from_str("vllm>=0.9").unwrap();
        r.requirements[1].requirement = Requirement::from_str("transformers>=4.56").unwrap();
        let report = conflict(source, r);
        let (lines, widest) = shape(&report, 100);
        assert!(lines <= 14 && widest <= 100, "{lines} lines, {widest} wide");
        let last = flat(report.split("\nhint: ").last().unwrap());
        assert!(last.contains("pins torch 2.7.1+cu126, which"), "{report}");
        assert!(last.contains("to a torch that"), "{report}");
        insta::assert_snapshot!(report);
    }
}

/// A version's wheel tags in a message: listed when few, else summed up by Python tag and
/// system (a popular package has a hundred, and the message ran to a hundred lines).
#[test]
fn many_wheel_tags_are_summed_up_in_a_message() {
    use super::provider::tags_in_words;
    let few: Vec<String> = vec!["cp312-cp312-manylinux_2_17_x86_64".into()];
    assert_eq!(
        tags_in_words(&few),
        "available tags cp312-cp312-manylinux_2_17_x86_64"
    );
    let mut many = Vec::new();
    for py in ["cp310", "cp311", "cp312", "cp313", "cp314"] {
        for platform in [
            "manylinux_2_17_x86_64.manylinux2014_x86_64",
            "manylinux_2_28_aarch64",
            "musllinux_1_2_x86_64",
            "macosx_11_0_arm64",
        ] {
            many.push(format!("{py}-{py}-{platform}"));
        }
    }
    assert_eq!(
        tags_in_words(&many),
        "wheels for cp310 to cp314 on Linux aarch64, Linux x86_64, macOS arm64, musl Linux x86_64 (20 tags)"
    );
}
