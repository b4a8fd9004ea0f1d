//! The local PyTorch mirror under `fixtures/`: the committed trees are exactly what
//! `fixtures/pytorch/mirror.toml` generates (`SANCTUARY_UPDATE_FIXTURES=1 cargo test --test
//! fixtures` rewrites them), every wheel agrees with its index entry, our index client reads
//! every tree through `file://`, and every requirement of every Foundation build can be met
//! from the trees plus the PyPI stand-in.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{
    ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, Requirement, VersionOrUrl,
};
use sanctuary::index::{IndexKind, IndexSet, IndexSettings, IndexUrl, PackageSource};
use support::mirror::{self, Mirror, fixtures_dir, tree_path};
use support::scenario::{Scenario, normalize};
use support::wheelgen::sha256_hex;

fn whl_dir() -> PathBuf {
    fixtures_dir().join("pytorch/whl")
}

/// Every file below `dir`, keyed by its `/`-separated path relative to `base`.
fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(base, &path, out);
        } else {
            let rel = path.strip_prefix(base).unwrap();
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.insert(rel, std::fs::read(&path).unwrap());
        }
    }
}

fn committed() -> BTreeMap<String, Vec<u8>> {
    let base = fixtures_dir().join("pytorch");
    let mut out = BTreeMap::new();
    walk(&base, &whl_dir(), &mut out);
    out
}

#[test]
fn committed_mirror_is_what_the_generator_writes() {
    let mirror = Mirror::load();
    let generated = mirror.all_files();
    // Generating twice gives the same bytes.
    assert!(
        generated == mirror.all_files(),
        "the generator is not deterministic"
    );
    if std::env::var_os("SANCTUARY_UPDATE_FIXTURES").is_some() {
        // Only what changed is written, so the other tests of this file, reading the trees
        // in parallel, see whole files.
        let base = fixtures_dir().join("pytorch");
        let before = committed();
        for (path, bytes) in &generated {
            if before.get(path) != Some(bytes) {
                let path = base.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
            }
        }
        for path in before.keys().filter(|p| !generated.contains_key(*p)) {
            std::fs::remove_file(base.join(path)).unwrap();
        }
    }
    let on_disk = committed();
    let missing: Vec<&String> = generated
        .keys()
        .filter(|p| !on_disk.contains_key(*p))
        .collect();
    let extra: Vec<&String> = on_disk
        .keys()
        .filter(|p| !generated.contains_key(*p))
        .collect();
    let differ: Vec<&String> = generated
        .iter()
        .filter(|(p, b)| on_disk.get(*p).is_some_and(|d| d != *b))
        .map(|(p, _)| p)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "fixtures/pytorch/whl is out of date (regenerate with SANCTUARY_UPDATE_FIXTURES=1 \
         cargo test --test fixtures):\nmissing: {missing:?}\nextra: {extra:?}\ndiffer: {differ:?}"
    );
    let total: usize = on_disk.values().map(Vec::len).sum();
    assert!(
        total < 8 << 20,
        "the mirror grew to {total} bytes; keep it small"
    );
}

/// The links of a project page: (href, attributes, text).
fn links(page: &str) -> Vec<(String, HashMap<String, String>, String)> {
    let mut out = Vec::new();
    for line in page.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("<a ") else {
            continue;
        };
        let (attrs, tail) = rest.split_once('>').unwrap();
        let text = tail.split_once("</a>").unwrap().0.to_string();
        let mut map = HashMap::new();
        for part in attrs.split("\" ") {
            let (k, v) = part.split_once("=\"").unwrap();
            map.insert(k.trim().to_string(), v.trim_end_matches('"').to_string());
        }
        let href = map.remove("href").unwrap();
        out.push((href, map, text));
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// `Name: value` fields of core metadata.
fn fields(metadata: &str, name: &str) -> Vec<String> {
    metadata
        .lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(": ").map(str::to_string))
        .collect()
}

#[test]
fn every_wheel_matches_its_index_entry() {
    let mirror = Mirror::load();
    let files = committed();
    let mut wheels = 0;
    for (channel, key) in mirror.trees() {
        let prefix = tree_path(channel, key);
        let root = String::from_utf8(files[&format!("{prefix}/index.html")].clone()).unwrap();
        let projects: Vec<String> = links(&root).into_iter().map(|(_, _, t)| t).collect();
        assert!(
            projects.contains(&"torch".to_string()),
            "{prefix}: no torch"
        );
        for project in projects {
            let page = &files[&format!("{prefix}/{project}/index.html")];
            let page = String::from_utf8(page.clone()).unwrap();
            for (href, attrs, text) in links(&page) {
                let (path, fragment) = href.split_once('#').unwrap();
                let filename = path.strip_prefix("../").unwrap().replace("%2B", "+");
                assert_eq!(filename, text, "{prefix}/{project}: link text");
                let at = format!("{prefix}/{filename}");
                let bytes = files.get(&at).unwrap_or_else(|| panic!("{at} is missing"));
                assert_eq!(fragment, format!("sha256={}", sha256_hex(bytes)), "{at}");

                let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice()))
                    .unwrap_or_else(|e| panic!("{at} is not a zip: {e}"));
                let stem: Vec<&str> = filename.trim_end_matches(".whl").split('-').collect();
                let dist_info = format!("{}-{}.dist-info", stem[0], stem[1]);
                let mut metadata = String::new();
                zip.by_name(&format!("{dist_info}/METADATA"))
                    .unwrap_or_else(|e| panic!("{at}: no METADATA: {e}"))
                    .read_to_string(&mut metadata)
                    .unwrap();
                let served = &files[&format!("{at}.metadata")];
                assert_eq!(metadata.as_bytes(), served.as_slice(), "{at}.metadata");
                let meta_sha = format!("sha256={}", sha256_hex(served));
                assert_eq!(attrs.get("data-core-metadata"), Some(&meta_sha), "{at}");
                assert_eq!(
                    attrs.get("data-dist-info-metadata"),
                    Some(&meta_sha),
                    "{at}"
                );

                assert_eq!(normalize(&fields(&metadata, "Name")[0]), normalize(stem[0]));
                assert_eq!(
                    fields(&metadata, "Version"),
                    vec![stem[1].to_string()],
                    "{at}"
                );
                let rp = attrs.get("data-requires-python").map(|v| unescape(v));
                assert_eq!(
                    fields(&metadata, "Requires-Python").first(),
                    rp.as_ref(),
                    "{at}"
                );
                let mut wheel = String::new();
                zip.by_name(&format!("{dist_info}/WHEEL"))
                    .unwrap()
                    .read_to_string(&mut wheel)
                    .unwrap();
                let tag = stem[2..].join("-");
                assert!(
                    wheel.contains(&format!("Tag: {tag}\n")),
                    "{at}: WHEEL lacks {tag}"
                );
                // A build for a key carries that key's label, and only CUDA builds pull
                // CUDA libraries.
                let version = stem[1];
                if project != "pytorch-triton" && version.contains('+') {
                    assert!(version.ends_with(&format!("+{key}")), "{at}");
                }
                let requires = fields(&metadata, "Requires-Dist").join("\n");
                let cuda = requires.contains("nvidia-") || requires.contains("cuda-toolkit");
                assert_eq!(cuda, project == "torch" && key != "cpu", "{at}: CUDA deps");
                wheels += 1;
            }
        }
    }
    assert!(wheels > 100, "only {wheels} wheels");
}

/// The local versions each tree must list for torch, from the mirror description.
fn expected_torch_versions(mirror: &Mirror, channel: &str, key: &str) -> BTreeSet<String> {
    let scenario = mirror.scenario(channel, key).unwrap();
    scenario.packages["torch"]
        .versions
        .keys()
        .cloned()
        .collect()
}

#[test]
fn index_client_reads_every_tree_through_file_urls() {
    let mirror = Mirror::load();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for (channel, key) in mirror.trees() {
        let url = url::Url::parse(&mirror::index_url(channel, key)).unwrap();
        assert!(url.scheme() == "file", "{url}");
        let source = IndexSet::new(
            vec![IndexUrl {
                name: "pytorch".to_string(),
                url: url.clone(),
                explicit: false,
                kind: IndexKind::Simple,
                credentials: None,
            }],
            Default::default(),
            IndexSettings {
                cache_dir: cache.path().join(format!("{channel}-{key}")),
                offline: false,
                refresh: false,
                concurrency: 4,
                http: Default::default(),
                netrc: None,
            },
        )
        .unwrap();
        let torch = "torch".parse().unwrap();
        let files = runtime
            .block_on(source.files(&torch))
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .unwrap_or_else(|| panic!("{url}: no torch"));
        let listed: BTreeSet<String> = files.versions.keys().map(ToString::to_string).collect();
        assert_eq!(
            listed,
            expected_torch_versions(&mirror, channel, key),
            "{url}"
        );
        for files in files.versions.values() {
            for file in files.as_slice() {
                assert!(file.sha256.is_some(), "{}: no sha256", file.filename);
                assert!(
                    file.url.to_file_path().unwrap().is_file(),
                    "{} does not point at a file",
                    file.url
                );
            }
        }
        // What the product's manifests rely on.
        let want = match (channel, key) {
            ("stable", "cu126") => "2.8.0+cu126",
            ("stable", k) => &format!("2.9.0+{k}"),
            (_, k) => &format!("2.11.0.dev20261115+{k}"),
        };
        assert!(listed.contains(want), "{url}: no {want} in {listed:?}");
    }
}

#[test]
fn mirror_follows_the_release_matrix() {
    let mirror = Mirror::load();
    let torch = |key: &str| expected_torch_versions(&mirror, "stable", key);
    assert!(
        !torch("cu130").iter().any(|v| v.starts_with("2.8.")),
        "cu130 starts at 2.9"
    );
    assert!(torch("cu126").contains("2.8.0+cu126"));
    assert!(
        torch("cpu").contains("2.9.0"),
        "the cpu index's macOS wheels are unlabeled"
    );
    for key in mirror::KEYS {
        assert!(torch(key).contains(&format!("2.9.0+{key}")));
        assert!(mirror.scenario("nightly", key).is_some());
    }
    assert_eq!(mirror.trees().len(), 8);
}

fn target(python: &str) -> MarkerEnvironment {
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: &format!("{python}.0"),
        os_name: "posix",
        platform_machine: "x86_64",
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: &format!("{python}.0"),
        python_version: python,
        sys_platform: "linux",
    })
    .unwrap()
}

/// Name -> version -> (requires, extras) over several scenarios.
type Universe = BTreeMap<String, BTreeMap<Version, (Vec<String>, BTreeMap<String, Vec<String>>)>>;

fn universe(scenarios: &[&Scenario]) -> Universe {
    let mut out: Universe = BTreeMap::new();
    for scenario in scenarios {
        for (name, package) in &scenario.packages {
            for (version, spec) in &package.versions {
                out.entry(normalize(name)).or_default().insert(
                    Version::from_str(version).unwrap(),
                    (spec.requires.clone(), spec.extras.clone()),
                );
            }
        }
    }
    out
}

/// Walks `roots` through `universe` on Linux x86_64 / `python`, always taking the newest
/// version that fits; returns the chosen versions or the first requirement nothing meets.
fn closure(
    universe: &Universe,
    roots: &[String],
    python: &str,
) -> Result<BTreeMap<String, Version>, String> {
    let env = target(python);
    let mut chosen: BTreeMap<String, Version> = BTreeMap::new();
    let mut queue: Vec<(String, Vec<ExtraName>, String)> = roots
        .iter()
        .map(|r| (r.clone(), Vec::new(), "root".to_string()))
        .collect();
    let mut seen = BTreeSet::new();
    let mut constraints: BTreeMap<String, Vec<pep440_rs::VersionSpecifiers>> = BTreeMap::new();
    while let Some((text, extras, from)) = queue.pop() {
        let req = Requirement::<pep508_rs::VerbatimUrl>::from_str(&text)
            .map_err(|e| format!("{from}: `{text}`: {e}"))?;
        if !req.evaluate_markers(&env, &extras) {
            continue;
        }
        let name = req.name.to_string();
        let versions = universe
            .get(&name)
            .ok_or_else(|| format!("{from} needs `{text}`: no {name} at all"))?;
        let specs = constraints.entry(name.clone()).or_default();
        if let Some(VersionOrUrl::VersionSpecifier(s)) = &req.version_or_url {
            specs.push(s.clone());
        }
        // The newest version every requirement on the name so far allows (a sanity walk,
        // not a resolver: it never backtracks).
        let fits = |v: &Version| {
            specs.iter().all(|s| s.contains(v))
                && (specs.iter().any(|s| !s.is_empty()) || (v.pre().is_none() && !v.is_dev()))
        };
        let version = versions
            .keys()
            .rev()
            .find(|v| fits(v))
            .cloned()
            .ok_or_else(|| format!("{from} needs `{text}`: no version of {name} fits {specs:?}"))?;
        let changed = chosen.insert(name.clone(), version.clone()) != Some(version.clone());
        let req_extras: Vec<String> = req.extras.iter().map(ToString::to_string).collect();
        if !seen.insert((name.clone(), version.to_string(), req_extras.clone())) && !changed {
            continue;
        }
        let (requires, spec_extras) = &versions[&version];
        let own: Vec<ExtraName> = req.extras.clone();
        for dep in requires {
            queue.push((dep.clone(), Vec::new(), format!("{name} {version}")));
        }
        for extra in &req_extras {
            let Some(reqs) = spec_extras.get(extra) else {
                return Err(format!("{from}: {name} {version} has no extra `{extra}`"));
            };
            for dep in reqs {
                queue.push((
                    dep.clone(),
                    own.clone(),
                    format!("{name}[{extra}] {version}"),
                ));
            }
        }
    }
    Ok(chosen)
}

#[test]
fn every_foundation_build_closes_over_the_pypi_standin() {
    let mirror = Mirror::load();
    let pypi = mirror::pypi_scenario();
    for (channel, key) in mirror.trees() {
        let tree = mirror.scenario(channel, key).unwrap();
        let all = universe(&[&pypi, &tree]);
        for (version, spec) in &tree.packages["torch"].versions {
            let Some(python) = ["3.12", "3.10", "3.13"].into_iter().find(|p| {
                spec.requires_python.as_ref().is_none_or(|rp| {
                    pep440_rs::VersionSpecifiers::from_str(rp)
                        .unwrap()
                        .contains(&Version::from_str(p).unwrap())
                })
            }) else {
                continue;
            };
            let roots = vec![format!("torch=={version}")];
            let chosen = closure(&all, &roots, python)
                .unwrap_or_else(|e| panic!("{channel}/{key} torch {version}: {e}"));
            let nvidia = chosen.keys().filter(|n| n.starts_with("nvidia-")).count();
            if key == "cpu" {
                assert_eq!(nvidia, 0, "{key} torch {version}: {chosen:?}");
            } else {
                assert!(
                    nvidia >= 14,
                    "{key} torch {version} pulls {nvidia} nvidia libraries"
                );
                let suffix = if key == "cu130" { "-cu12" } else { "-cu13" };
                assert!(
                    !chosen.keys().any(|n| n.ends_with(suffix)),
                    "{key} torch {version} mixes CUDA majors: {chosen:?}"
                );
            }
        }
        // torchvision and torchaudio pin the torch of their release.
        for project in ["torchvision", "torchaudio"] {
            for version in tree.packages[project].versions.keys() {
                let roots = vec![format!("{project}=={version}")];
                closure(&all, &roots, "3.12")
                    .unwrap_or_else(|e| panic!("{channel}/{key} {project} {version}: {e}"));
            }
        }
    }
    // The Application of the forge fixture, against PyPI alone (torch from PyPI, as an
    // Application resolved without its Foundation would see it).
    let all = universe(&[&pypi]);
    let chosen = closure(&all, &pypi.root.requires, "3.12").unwrap();
    assert!(chosen.contains_key("torch") && chosen.contains_key("pydantic-core"));
}

#[test]
fn pypi_standin_is_served() {
    let index = support::TestIndex::start(mirror::pypi_scenario());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let source = IndexSet::new(
        vec![IndexUrl {
            name: "pypi".to_string(),
            url: url::Url::parse(&index.index_url()).unwrap(),
            explicit: false,
            kind: IndexKind::Simple,
            credentials: None,
        }],
        Default::default(),
        IndexSettings {
            cache_dir: cache.path().to_path_buf(),
            offline: false,
            refresh: false,
            concurrency: 4,
            http: Default::default(),
            netrc: None,
        },
    )
    .unwrap();
    for (name, version) in [
        ("nvidia-cublas", "13.1.0.3"),
        ("nvidia-cudnn-cu12", "9.10.2.21"),
        ("cuda-toolkit", "13.0.2"),
        ("torch", "2.9.0"),
        ("peft", "0.18.0"),
    ] {
        let files = runtime
            .block_on(source.files(&name.parse().unwrap()))
            .unwrap()
            .unwrap_or_else(|| panic!("no {name}"));
        assert!(
            files
                .versions
                .contains_key(&Version::from_str(version).unwrap()),
            "{name} {version}"
        );
    }
}

#[test]
fn forge_fixture_points_at_the_mirror_names() {
    let text = std::fs::read_to_string(fixtures_dir().join("forge/sanctuary.toml")).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    let names: Vec<&str> = value["index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pypi", "pytorch"]);
    let keys = value["foundation"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4);
    // Every Application requirement names a project the stand-in has.
    let pypi = mirror::pypi_scenario();
    let all = universe(&[&pypi]);
    for req in value["application"]["requirements"].as_array().unwrap() {
        let req = Requirement::<pep508_rs::VerbatimUrl>::from_str(req.as_str().unwrap()).unwrap();
        assert!(
            all.contains_key(&req.name.to_string()),
            "{} is not in the stand-in",
            req.name
        );
    }
}
