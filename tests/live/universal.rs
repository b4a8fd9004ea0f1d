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

/// The pins `tool` would install from `lockfile` into `python`'s environment, from its
/// `--dry-run` output (`uv pip install` lists ` + name==version`; pip `Would install
/// name-version ...`), names normalized.
fn would_install(tool: &str, python: &Path, lockfile: &Path) -> BTreeMap<String, String> {
    let normalize = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    let out = match tool {
        "uv" => Command::new("uv")
            .args(["pip", "install", "--dry-run", "--python"])
            .arg(python)
            .arg("-r")
            .arg(lockfile)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .output(),
        _ => Command::new(tool)
            .args(["--python"])
            .arg(python)
            .args(["install", "--dry-run", "-r"])
            .arg(lockfile)
            .output(),
    }
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{tool} refused {}:\n{text}",
        lockfile.display()
    );
    let mut pins = BTreeMap::new();
    for line in text.lines() {
        if let Some(pin) = line.trim().strip_prefix("+ ") {
            if let Some((n, v)) = pin.split_once("==") {
                pins.insert(normalize(n), v.to_string());
            }
        } else if let Some(list) = line.strip_prefix("Would install ") {
            for item in list.split_whitespace() {
                if let Some((n, v)) = item.rsplit_once('-') {
                    pins.insert(normalize(n), v.to_string());
                }
            }
        }
    }
    pins
}

/// uv and pip 26 (PEP 751 readers) install the standard set's universal lockfile on this
/// machine selecting exactly the entries sanctuary selects for it: Linux x86_64 and the
/// Python of the venv.
#[test]
fn uv_and_pip_select_the_same_environment_of_a_universal_lockfile() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/sets/standard.txt"),
    )
    .unwrap();
    let reqs: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("{l:?}"))
        .collect();
    let manifest = dir.path().join("sanctuary.toml");
    std::fs::write(
        &manifest,
        format!(
            "[project]\nname = \"interop\"\npython = \">=3.11,<3.14\"\n\
             platforms = [\"linux-x86_64\", \"macos-arm64\", \"windows-x86_64\"]\n\n\
             [application]\nrequirements = [{}]\n",
            reqs.join(", ")
        ),
    )
    .unwrap();
    super::lock(&manifest, &dir.path().join("cache"), &[]);
    let lockfile = dir.path().join("lockfiles/pylock.application.toml");
    let lock = Lockfile::parse(&std::fs::read_to_string(&lockfile).unwrap()).unwrap();
    // A venv of the real python3.11 (not a shim), with pip 26 or later in it.
    let venv = dir.path().join("venv");
    let status = Command::new("python3.11")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success());
    let python = venv.join("bin/python");
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "pip>=26"])
        .status()
        .unwrap();
    assert!(status.success(), "pip>=26 could not be installed");
    let target = sanctuary::target::Target::new("3.11", Some("linux-x86_64")).unwrap();
    let ours: BTreeMap<String, String> = lock
        .for_environment(target.markers())
        .unwrap()
        .packages
        .iter()
        .map(|p| {
            (
                p.name.to_string().replace(['_', '.'], "-"),
                p.version.to_string(),
            )
        })
        .collect();
    for tool in ["uv", venv.join("bin/pip").to_str().unwrap()] {
        let theirs = would_install(tool, &python, &lockfile);
        assert_eq!(theirs, ours, "{tool} selects another set");
        println!(
            "{tool}: the same {} pins as sanctuary's linux-x86_64 / 3.11",
            ours.len()
        );
    }
}
