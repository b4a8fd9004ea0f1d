//! Universal lockfiles on the live PyPI: the standard and data-science sets lock over Linux
//! x86_64, macOS arm64 and Windows x86_64 for Python 3.11-3.13 in one file, and for each of
//! the nine environments the pins the file selects there, given to `uv pip compile --no-build`
//! for that platform and Python, come back unchanged: the set is closed, consistent and
//! installable there, as uv judges it. uv never downloads an interpreter here
//! (`--python-version` with `--python-platform` resolves for the target, not the host).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sanctuary::pylock::Lockfile;
use sanctuary::universe::{Universe, pythons};

const PLATFORMS: [(&str, &str); 3] = [
    ("linux-x86_64", "x86_64-manylinux_2_28"),
    ("macos-arm64", "aarch64-apple-darwin"),
    ("windows-x86_64", "x86_64-pc-windows-msvc"),
];

/// Lock `set` (a file of `benches/sets`) universally and check every environment with uv.
fn universal_set_is_closed_in_every_environment(set: &str) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("benches/sets/{set}.txt")),
    )
    .unwrap();
    let reqs: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("    {l:?},"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let platforms: Vec<String> = PLATFORMS.iter().map(|(p, _)| format!("{p:?}")).collect();
    let manifest = dir.path().join("sanctuary.toml");
    std::fs::write(
        &manifest,
        format!(
            "[project]\nname = \"{set}\"\npython = \">=3.11,<3.14\"\nplatforms = [{}]\n\n\
             [application]\nrequirements = [\n{}\n]\n",
            platforms.join(", "),
            reqs.join("\n")
        ),
    )
    .unwrap();
    let started = Instant::now();
    super::lock(&manifest, &dir.path().join("cache"), &[]);
    println!("{set}: universal lock in {:.2?}", started.elapsed());
    let lock = Lockfile::parse(
        &std::fs::read_to_string(dir.path().join("lockfiles/pylock.application.toml")).unwrap(),
    )
    .unwrap();
    assert_eq!(lock.environments.len(), 9, "{:?}", lock.environments);
    let universe = Universe::new(
        PLATFORMS
            .iter()
            .map(|(p, _)| sanctuary::target::parse_platform(p).unwrap())
            .collect(),
        pythons(">=3.11,<3.14").unwrap(),
    )
    .unwrap();
    for target in universe.targets() {
        let env = lock.for_environment(target.markers()).unwrap();
        let ours: BTreeMap<String, String> = env
            .packages
            .iter()
            .map(|p| (p.name.to_string(), p.version.to_string()))
            .collect();
        let pins: String = ours.iter().map(|(n, v)| format!("{n}=={v}\n")).collect();
        let input = dir.path().join("pins.txt");
        std::fs::write(&input, pins).unwrap();
        let short = sanctuary::universe::short_name(&target.platform);
        let uv_platform = PLATFORMS.iter().find(|(p, _)| *p == short).unwrap().1;
        let out = Command::new("uv")
            .args(["pip", "compile", "-q", "--no-build", "--no-header"])
            .args(["--python-platform", uv_platform])
            .args(["--python-version", &target.python_shown()])
            .arg(&input)
            .env("UV_CACHE_DIR", dir.path().join("uv-cache"))
            .env("UV_PYTHON_DOWNLOADS", "never")
            .output()
            .expect("uv is installed (pip install uv)");
        assert!(
            out.status.success(),
            "{set} on {target}: uv pip compile refused our pins:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = super::uv_pins(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(ours, theirs, "{set} on {target}: uv changed the pins");
        println!("{set} on {target}: {} pins, unchanged by uv", ours.len());
    }
}

#[test]
fn standard_set_locks_universally_and_uv_agrees_in_every_environment() {
    universal_set_is_closed_in_every_environment("standard");
}

#[test]
fn data_science_set_locks_universally_and_uv_agrees_in_every_environment() {
    universal_set_is_closed_in_every_environment("data-science");
}
