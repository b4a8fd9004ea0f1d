//! The declared target of a lock: a Python version and a platform (from the manifest, not the
//! host). Owns the PEP 508 marker environment of that target and the ordered list of wheel
//! tags it can install. Pure: no I/O (the host platform is read from `std::env::consts`).
//!
//! Wheel tags follow `packaging.tags.sys_tags()` for CPython: `cpXY-cpXY-<plat>`,
//! `cpXY-abi3-<plat>`, `cpXY-none-<plat>`, older `cp3N-abi3-<plat>`, `py3N-none-<plat>`, then
//! the `any` tags; platforms newest first within each group.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};
use rustc_hash::FxHashMap;

use crate::wheel::WheelFilename;

/// CPU architecture of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The spelling used in wheel platform tags (`x86_64`, `aarch64`).
    fn linux_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    fn macos_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "arm64",
        }
    }
}

/// Operating system (and its C library floor) of a target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// glibc Linux; `glibc` is the newest manylinux version allowed, `(2, 28)` by default.
    Linux {
        arch: Arch,
        glibc: (u16, u16),
    },
    /// musl Linux (`musllinux_1_2`).
    LinuxMusl {
        arch: Arch,
        musl: (u16, u16),
    },
    /// macOS; `min` is the deployment target (`(11, 0)` for arm64, `(10, 12)` for x86_64).
    MacOs {
        arch: Arch,
        min: (u16, u16),
    },
    Windows {
        arch: Arch,
    },
}

impl Platform {
    /// The CPU architecture.
    pub fn arch(&self) -> Arch {
        match self {
            Platform::Linux { arch, .. }
            | Platform::LinuxMusl { arch, .. }
            | Platform::MacOs { arch, .. }
            | Platform::Windows { arch } => *arch,
        }
    }

    /// The canonical spelling, e.g. `linux-x86_64-manylinux_2_28`, `macos-arm64-13.0`.
    pub fn name(&self) -> String {
        match self {
            Platform::Linux { arch, glibc } => format!(
                "linux-{}-manylinux_{}_{}",
                arch.linux_name(),
                glibc.0,
                glibc.1
            ),
            Platform::LinuxMusl { arch, musl } => format!(
                "linux-{}-musllinux_{}_{}",
                arch.linux_name(),
                musl.0,
                musl.1
            ),
            Platform::MacOs { arch, min } => {
                format!("macos-{}-{}.{}", arch.macos_name(), min.0, min.1)
            }
            Platform::Windows { arch } => match arch {
                Arch::X86_64 => "windows-x86_64".to_string(),
                Arch::Aarch64 => "windows-arm64".to_string(),
            },
        }
    }

    /// `os_name`, `sys_platform`, `platform_system` and `platform_machine`: what the markers
    /// of an environment on this platform say of its system.
    pub fn marker_system(&self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Platform::Linux { arch, .. } | Platform::LinuxMusl { arch, .. } => {
                ("posix", "linux", "Linux", arch.linux_name())
            }
            Platform::MacOs { arch, .. } => ("posix", "darwin", "Darwin", arch.macos_name()),
            Platform::Windows { arch } => (
                "nt",
                "win32",
                "Windows",
                match arch {
                    Arch::X86_64 => "AMD64",
                    Arch::Aarch64 => "ARM64",
                },
            ),
        }
    }

    /// Whether wheels for this platform can run on `host`: the same operating system, C
    /// library and architecture (the glibc, musl and macOS floors are not compared).
    pub fn same_system(&self, host: &Platform) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(host) && self.arch() == host.arch()
    }
}

/// The platform of this machine, as a lock target would name it.
pub fn host() -> Result<Platform, TargetError> {
    host_platform()
}

/// Why a target could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error(
        "unknown platform `{0}`: expected linux-x86_64, linux-aarch64 (optionally with a glibc floor such as linux-x86_64-manylinux_2_34), linux-x86_64-musllinux_1_2, macos-arm64, macos-x86_64 (optionally with a macOS floor such as macos-arm64-14; 13.0 when none) or windows-x86_64"
    )]
    UnknownPlatform(String),
    #[error(
        "platform `{platform}` names a macOS older than any wheel for its architecture: the oldest is {}.{}",
        oldest.0,
        oldest.1
    )]
    MacOsTooOld {
        platform: String,
        oldest: (u16, u16),
    },
    #[error(
        "invalid Python version `{0}`: expected a CPython 3 version, MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 3.12, or a range of minors such as >=3.11,<3.14"
    )]
    BadPython(String),
    #[error("invalid Python range `{range}`: {reason}")]
    BadPythonRange { range: String, reason: String },
    #[error(
        "platforms `{first}` and `{second}` cannot be told apart by markers (same sys_platform and platform_machine): a lock holds one environment for both; keep the one with the lower floor"
    )]
    Indistinct { first: String, second: String },
    #[error("platform `{0}` is listed twice")]
    Twice(String),
    #[error("no platform or no Python declared")]
    NoEnvironment,
}

/// The default glibc of `linux-<arch>` targets (uv's default Linux targets use the same).
const DEFAULT_GLIBC: (u16, u16) = (2, 28);

/// The Python version and platform a lock is made for.
///
/// Equality and hashing look at `python` and `platform` only; the marker environment and the
/// tag table are derived from them once, in [`Target::new`].
#[derive(Clone, Debug)]
pub struct Target {
    /// The full interpreter version (`3.12` is taken as `3.12.0`).
    pub python: Version,
    pub platform: Platform,
    markers: Arc<MarkerEnvironment>,
    /// `(python, abi, platform)` tag -> priority (higher is better).
    tags: Arc<TagTable>,
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.python == other.python && self.platform == other.platform
    }
}

impl Eq for Target {}

impl Hash for Target {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.python.hash(state);
        self.platform.hash(state);
    }
}

impl Target {
    /// Build a target from the manifest's `python` (e.g. `"3.12"`) and `platform` (e.g.
    /// `"linux-x86_64"`; `None` means the host).
    pub fn new(python: &str, platform: Option<&str>) -> Result<Self, TargetError> {
        let python = parse_python(python)?;
        let platform = match platform {
            Some(name) => parse_platform(name)?,
            None => host_platform()?,
        };
        Ok(Self::from_parts(python, platform))
    }

    /// Build a target from an already parsed Python version (`3.12.0`) and platform.
    pub fn from_parts(python: Version, platform: Platform) -> Self {
        let markers = Arc::new(build_markers(&python, &platform));
        let tags = Arc::new(build_tags(&python, &platform));
        Target {
            python,
            platform,
            markers,
            tags,
        }
    }

    /// The `MAJOR.MINOR` of the target Python.
    pub fn python_minor(&self) -> (u64, u64) {
        let release = self.python.release();
        (
            release.first().copied().unwrap_or(3),
            release.get(1).copied().unwrap_or(0),
        )
    }

    /// The canonical spelling of the platform, e.g. `linux-x86_64-manylinux_2_28`.
    pub fn platform_name(&self) -> String {
        self.platform.name()
    }

    /// The PEP 508 marker environment of this target (`python_version`, `sys_platform`,
    /// `platform_machine`, ...).
    pub fn markers(&self) -> &MarkerEnvironment {
        &self.markers
    }

    /// How well a wheel fits this target: `None` when it cannot be installed, otherwise a
    /// priority where higher is better (a `cp312` wheel beats `abi3`, which beats `py3-none-any`).
    pub fn wheel_priority(&self, wheel: &WheelFilename) -> Option<u32> {
        wheel
            .tag_triples()
            .filter_map(|(py, abi, plat)| self.tags.get(py, abi, plat))
            .max()
    }

    /// The platform tags of this target, best first (`manylinux_2_28_x86_64`, ...,
    /// `linux_x86_64`).
    pub fn platform_tags(&self) -> Vec<String> {
        platform_tags(&self.platform)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Python {} on {}",
            self.python_shown(),
            self.platform_name()
        )
    }
}

impl Target {
    /// The Python version as a manifest writes it: `3.12` (a `.0` patch left out), `3.12.4`.
    pub fn python_shown(&self) -> String {
        match self.python.release() {
            [major, minor, 0] => format!("{major}.{minor}"),
            _ => self.python.to_string(),
        }
    }
}

pub(crate) fn parse_python(python: &str) -> Result<Version, TargetError> {
    let bad = || TargetError::BadPython(python.to_string());
    let parts: Vec<&str> = python.trim().split('.').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let numbers = parts
        .iter()
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<Vec<_>, _>>()?;
    // CPython 3 alone has wheels to install; bounds keep tags and markers sane
    // (`4294967296.1` used to pass).
    if numbers[0] != 3 || numbers[1] >= 100 || numbers.get(2).is_some_and(|p| *p >= 1000) {
        return Err(bad());
    }
    let mut release = numbers;
    if release.len() == 2 {
        release.push(0);
    }
    Ok(Version::new(release))
}

fn parse_arch(arch: &str) -> Option<Arch> {
    match arch {
        "x86_64" | "amd64" => Some(Arch::X86_64),
        "aarch64" | "arm64" => Some(Arch::Aarch64),
        _ => None,
    }
}

/// `2_34` -> `(2, 34)`.
fn parse_pair(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once(['_', '.'])?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A platform as a manifest names it (`linux-x86_64`, `macos-arm64-14`, ...).
pub fn parse_platform(name: &str) -> Result<Platform, TargetError> {
    let unknown = || TargetError::UnknownPlatform(name.to_string());
    let lower = name.trim().to_ascii_lowercase();
    let mut parts = lower.splitn(3, '-');
    let os = parts.next().ok_or_else(unknown)?;
    let arch = parts.next().and_then(parse_arch).ok_or_else(unknown)?;
    let extra = parts.next();
    match os {
        "linux" => match extra {
            None => Ok(Platform::Linux {
                arch,
                glibc: DEFAULT_GLIBC,
            }),
            Some(libc) => {
                if let Some(v) = libc.strip_prefix("manylinux_") {
                    let glibc = parse_pair(v).filter(|v| v.0 == 2).ok_or_else(unknown)?;
                    Ok(Platform::Linux { arch, glibc })
                } else if let Some(glibc) = legacy_manylinux(libc) {
                    Ok(Platform::Linux { arch, glibc })
                } else if let Some(v) = libc.strip_prefix("musllinux_") {
                    let musl = parse_pair(v).filter(|v| v.0 == 1).ok_or_else(unknown)?;
                    Ok(Platform::LinuxMusl { arch, musl })
                } else {
                    Err(unknown())
                }
            }
        },
        "macos" => {
            let min = match extra {
                None => DEFAULT_MACOS,
                // `13`, `13.0`, `13_0`, `14.4`.
                Some(v) => {
                    let min = match v.parse::<u16>() {
                        Ok(major) => (major, 0),
                        Err(_) => parse_pair(v).ok_or_else(unknown)?,
                    };
                    if min < oldest_macos(arch) {
                        return Err(TargetError::MacOsTooOld {
                            platform: name.to_string(),
                            oldest: oldest_macos(arch),
                        });
                    }
                    min
                }
            };
            Ok(Platform::MacOs { arch, min })
        }
        "windows" if extra.is_none() && arch == Arch::X86_64 => Ok(Platform::Windows { arch }),
        _ => Err(unknown()),
    }
}

/// The macOS a `macos-*` platform means when it names none: 13.0 (Ventura), as uv assumes.
/// macOS 11 and 12 no longer get security updates, Apple Silicon Macs in use run 13 or later,
/// and a lower floor hides the wheels many projects now publish only for 13+ (scikit-learn,
/// newer onnxruntime, pyarrow), so locks would fail or fall back to old versions. A team on
/// older Macs names its floor: `macos-arm64-12`, `macos-x86_64-10.15`.
pub const DEFAULT_MACOS: (u16, u16) = (13, 0);

/// The oldest floor a `macos-*` platform accepts: the first macOS for the architecture with
/// wheels tagged for it (11.0 on Apple Silicon; 10.9 on Intel, the oldest `macosx_10_*` tag
/// projects still publish).
fn oldest_macos(arch: Arch) -> (u16, u16) {
    match arch {
        Arch::Aarch64 => (11, 0),
        Arch::X86_64 => (10, 9),
    }
}

fn legacy_manylinux(tag: &str) -> Option<(u16, u16)> {
    match tag {
        "manylinux2014" => Some((2, 17)),
        "manylinux2010" => Some((2, 12)),
        "manylinux1" => Some((2, 5)),
        _ => None,
    }
}

fn host_platform() -> Result<Platform, TargetError> {
    let os = std::env::consts::OS;
    let arch_name = std::env::consts::ARCH;
    let unknown = || TargetError::UnknownPlatform(format!("{os}-{arch_name} (the host)"));
    let arch = parse_arch(arch_name).ok_or_else(unknown)?;
    match os {
        "linux" if cfg!(target_env = "musl") => Ok(Platform::LinuxMusl { arch, musl: (1, 2) }),
        "linux" => Ok(Platform::Linux {
            arch,
            glibc: DEFAULT_GLIBC,
        }),
        "macos" => parse_platform(&format!("macos-{}", arch.macos_name())),
        "windows" if arch == Arch::X86_64 => Ok(Platform::Windows { arch }),
        _ => Err(unknown()),
    }
}

fn build_markers(python: &Version, platform: &Platform) -> MarkerEnvironment {
    let (major, minor) = {
        let r = python.release();
        (
            r.first().copied().unwrap_or(3),
            r.get(1).copied().unwrap_or(0),
        )
    };
    let python_version = format!("{major}.{minor}");
    let python_full_version = python.to_string();
    let (os_name, sys_platform, platform_system, machine) = platform.marker_system();
    let builder = MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: &python_full_version,
        os_name,
        platform_machine: machine,
        platform_python_implementation: "CPython",
        // Unknown for a declared target: what no marker of a lock may compare.
        platform_release: "",
        platform_system,
        platform_version: "",
        python_full_version: &python_full_version,
        python_version: &python_version,
        sys_platform,
    };
    // Cannot fail: both version strings are printed from a parsed `Version`.
    MarkerEnvironment::try_from(builder).expect("target versions are valid PEP 440 versions")
}

/// Platform tags, best first, as `packaging.tags.platform_tags()` yields them.
fn platform_tags(platform: &Platform) -> Vec<String> {
    let mut tags = Vec::new();
    match platform {
        Platform::Linux { arch, glibc } => {
            let a = arch.linux_name();
            // The oldest manylinux each architecture has.
            let oldest_minor = match arch {
                Arch::X86_64 => 5,
                Arch::Aarch64 => 17,
            };
            let mut minor = glibc.1;
            while minor >= oldest_minor {
                tags.push(format!("manylinux_2_{minor}_{a}"));
                match (minor, arch) {
                    (17, _) => tags.push(format!("manylinux2014_{a}")),
                    (12, Arch::X86_64) => tags.push(format!("manylinux2010_{a}")),
                    (5, Arch::X86_64) => tags.push(format!("manylinux1_{a}")),
                    _ => {}
                }
                minor -= 1;
            }
            tags.push(format!("linux_{a}"));
        }
        Platform::LinuxMusl { arch, musl } => {
            let a = arch.linux_name();
            for minor in (0..=musl.1).rev() {
                tags.push(format!("musllinux_{}_{minor}_{a}", musl.0));
            }
            tags.push(format!("linux_{a}"));
        }
        Platform::MacOs { arch, min } => {
            let formats: &[&str] = match arch {
                Arch::Aarch64 => &["arm64", "universal2"],
                Arch::X86_64 => &[
                    "x86_64",
                    "intel",
                    "fat64",
                    "fat32",
                    "universal2",
                    "universal",
                ],
            };
            if min.0 >= 11 {
                for major in (11..=min.0).rev() {
                    // From macOS 11 on, the minor version is not part of compatibility.
                    let minors: Vec<u16> = if major == min.0 {
                        (0..=min.1).rev().collect()
                    } else {
                        vec![0]
                    };
                    for minor in minors {
                        for f in formats {
                            tags.push(format!("macosx_{major}_{minor}_{f}"));
                        }
                    }
                }
                // Every 10.x wheel runs on 11+: x86_64 natively, arm64 only as universal2.
                for minor in (4..=16).rev() {
                    match arch {
                        Arch::X86_64 => {
                            for f in formats {
                                tags.push(format!("macosx_10_{minor}_{f}"));
                            }
                        }
                        Arch::Aarch64 => tags.push(format!("macosx_10_{minor}_universal2")),
                    }
                }
            } else {
                for minor in (0..=min.1).rev() {
                    for f in formats {
                        // universal2 wheels exist only for 10.16 / 11.0 and newer SDKs, but
                        // packaging lists them for every 10.x; keep the same table.
                        tags.push(format!("macosx_10_{minor}_{f}"));
                    }
                }
            }
        }
        Platform::Windows { arch } => tags.push(
            match arch {
                Arch::X86_64 => "win_amd64",
                Arch::Aarch64 => "win_arm64",
            }
            .to_string(),
        ),
    }
    tags
}

/// Every `(python, abi, platform)` tag the target accepts, best first.
fn ordered_tags(python: &Version, platform: &Platform) -> Vec<(String, String, String)> {
    let release = python.release();
    let major = release.first().copied().unwrap_or(3);
    let minor = release.get(1).copied().unwrap_or(0);
    let plats = platform_tags(platform);
    let cp = format!("cp{major}{minor}");
    let mut out = Vec::new();
    let mut push = |py: &str, abi: &str, plat: &str| {
        out.push((py.to_string(), abi.to_string(), plat.to_string()));
    };
    for plat in &plats {
        push(&cp, &cp, plat);
    }
    let abi3 = major == 3 && minor >= 2;
    if abi3 {
        for plat in &plats {
            push(&cp, "abi3", plat);
        }
    }
    for plat in &plats {
        push(&cp, "none", plat);
    }
    if abi3 {
        for older in (2..minor).rev() {
            let tag = format!("cp{major}{older}");
            for plat in &plats {
                push(&tag, "abi3", plat);
            }
        }
    }
    // `py312`, `py3`, `py311`, ..., `py30`, as packaging's `_py_interpreter_range`.
    let mut py_versions = vec![format!("py{major}{minor}"), format!("py{major}")];
    for older in (0..minor).rev() {
        py_versions.push(format!("py{major}{older}"));
    }
    for py in &py_versions {
        for plat in &plats {
            push(py, "none", plat);
        }
    }
    push(&cp, "none", "any");
    for py in &py_versions {
        push(py, "none", "any");
    }
    out
}

fn build_tags(python: &Version, platform: &Platform) -> TagTable {
    let ordered = ordered_tags(python, platform);
    let n = ordered.len() as u32;
    let mut table = TagTable::default();
    for (i, tag) in ordered.into_iter().enumerate() {
        // Keep the first (best) position of a tag listed twice.
        table.insert_first(tag, n - i as u32);
    }
    table
}

/// `(python, abi, platform)` tag -> priority, by python tag, then abi, then platform, so that
/// a wheel's tags are looked up as the `&str`s its name holds. The resolver asks for the
/// priority of every wheel of every version it looks at, once per target: keyed by a tuple of
/// `String`s, each lookup made three of them, and in a warm universal lock that was 8% of the
/// CPU time.
#[derive(Debug, Default)]
struct TagTable(ByTag<ByTag<ByTag<u32>>>);

/// One level of a [`TagTable`].
type ByTag<V> = FxHashMap<Box<str>, V>;

impl TagTable {
    /// Record `priority` for `tag`, unless the tag already has one.
    fn insert_first(&mut self, (py, abi, plat): (String, String, String), priority: u32) {
        self.0
            .entry(py.into_boxed_str())
            .or_default()
            .entry(abi.into_boxed_str())
            .or_default()
            .entry(plat.into_boxed_str())
            .or_insert(priority);
    }

    fn get(&self, py: &str, abi: &str, plat: &str) -> Option<u32> {
        self.0.get(py)?.get(abi)?.get(plat).copied()
    }
}

impl FromStr for Platform {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_platform(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pep508_rs::MarkerTree;

    fn wheel(tags: &str) -> WheelFilename {
        format!("pkg-1.0-{tags}.whl").parse().unwrap()
    }

    fn prio(t: &Target, tags: &str) -> Option<u32> {
        t.wheel_priority(&wheel(tags))
    }

    fn linux() -> Target {
        Target::new("3.12", Some("linux-x86_64")).unwrap()
    }

    #[test]
    fn the_tag_table_gives_each_tag_its_first_position_in_the_ordered_list() {
        for t in [
            linux(),
            Target::new("3.11", Some("macos-arm64")).unwrap(),
            Target::new("3.13", Some("windows-x86_64")).unwrap(),
        ] {
            let ordered = ordered_tags(&t.python, &t.platform);
            let n = ordered.len() as u32;
            for tag @ (py, abi, plat) in &ordered {
                let first = ordered.iter().position(|other| other == tag).unwrap() as u32;
                assert_eq!(t.tags.get(py, abi, plat), Some(n - first), "{tag:?} on {t}");
            }
            assert_eq!(t.tags.get("cp311", "cp311", "no_such_platform"), None);
            assert_eq!(t.tags.get("cp311", "no_such_abi", "any"), None);
            assert_eq!(t.tags.get("no_such_python", "none", "any"), None);
        }
    }

    #[test]
    fn parses_python_versions() {
        assert_eq!(linux().python.to_string(), "3.12.0");
        let t = Target::new("3.12.3", Some("linux-x86_64")).unwrap();
        assert_eq!(t.python.to_string(), "3.12.3");
        for bad in ["3", "three", "3.12.1.1", "3.x"] {
            assert_eq!(
                Target::new(bad, Some("linux-x86_64")).unwrap_err(),
                TargetError::BadPython(bad.to_string())
            );
        }
    }

    #[test]
    fn parses_platforms() {
        let cases = [
            ("linux-x86_64", "linux-x86_64-manylinux_2_28"),
            ("linux-aarch64", "linux-aarch64-manylinux_2_28"),
            ("linux-x86_64-manylinux_2_34", "linux-x86_64-manylinux_2_34"),
            ("linux-x86_64-manylinux2014", "linux-x86_64-manylinux_2_17"),
            ("linux-x86_64-musllinux_1_2", "linux-x86_64-musllinux_1_2"),
            ("macos-arm64", "macos-arm64-13.0"),
            ("macos-x86_64", "macos-x86_64-13.0"),
            ("macos-arm64-14", "macos-arm64-14.0"),
            ("macos-arm64-12.0", "macos-arm64-12.0"),
            ("macos-x86_64-10_15", "macos-x86_64-10.15"),
            ("macos-arm64-11", "macos-arm64-11.0"),
            ("windows-x86_64", "windows-x86_64"),
        ];
        for (input, canonical) in cases {
            let t = Target::new("3.12", Some(input)).unwrap();
            assert_eq!(t.platform_name(), canonical, "{input}");
            // The canonical name parses back to the same target.
            assert_eq!(Target::new("3.12", Some(canonical)).unwrap(), t);
        }
        for bad in [
            "linux",
            "linux-riscv64",
            "freebsd-x86_64",
            "linux-x86_64-glibc",
        ] {
            assert!(matches!(
                Target::new("3.12", Some(bad)),
                Err(TargetError::UnknownPlatform(_))
            ));
        }
    }

    #[test]
    fn host_is_a_known_platform_here() {
        // The test machines are Linux or macOS on x86_64 / arm64.
        let t = Target::new("3.12", None).unwrap();
        assert!(!t.platform_name().is_empty());
    }

    #[test]
    fn marker_environment_per_platform() {
        let cases = [
            ("linux-x86_64", "linux", "Linux", "x86_64", "posix"),
            ("linux-aarch64", "linux", "Linux", "aarch64", "posix"),
            ("macos-arm64", "darwin", "Darwin", "arm64", "posix"),
            ("macos-x86_64", "darwin", "Darwin", "x86_64", "posix"),
            ("windows-x86_64", "win32", "Windows", "AMD64", "nt"),
        ];
        for (plat, sys, system, machine, os) in cases {
            let t = Target::new("3.12.3", Some(plat)).unwrap();
            let marker = format!(
                "sys_platform == '{sys}' and platform_system == '{system}' and \
                 platform_machine == '{machine}' and os_name == '{os}' and \
                 python_version == '3.12' and python_full_version == '3.12.3' and \
                 implementation_name == 'cpython' and platform_python_implementation == 'CPython'"
            );
            let tree = MarkerTree::from_str(&marker).unwrap();
            assert!(tree.evaluate(t.markers(), &[]), "{plat}");
        }
        let t = linux();
        let tree = MarkerTree::from_str("python_version < '3.12'").unwrap();
        assert!(!tree.evaluate(t.markers(), &[]));
    }

    #[test]
    fn cpython_tag_order() {
        let t = linux();
        let order = [
            "cp312-cp312-manylinux_2_28_x86_64",
            "cp312-cp312-manylinux_2_17_x86_64",
            "cp312-cp312-linux_x86_64",
            "cp312-abi3-manylinux_2_28_x86_64",
            "cp312-none-manylinux_2_17_x86_64",
            "cp311-abi3-manylinux_2_28_x86_64",
            "cp38-abi3-manylinux2014_x86_64",
            "py312-none-manylinux_2_17_x86_64",
            "py3-none-manylinux1_x86_64",
            "cp312-none-any",
            "py312-none-any",
            "py3-none-any",
            "py311-none-any",
        ];
        let prios: Vec<u32> = order
            .iter()
            .map(|tag| prio(&t, tag).unwrap_or_else(|| panic!("{tag} not accepted")))
            .collect();
        for (w, pair) in prios.windows(2).zip(order.windows(2)) {
            assert!(w[0] > w[1], "{} should beat {}", pair[0], pair[1]);
        }
        // py2.py3 wheels match through py3.
        assert_eq!(prio(&t, "py2.py3-none-any"), prio(&t, "py3-none-any"));
        // Compressed tag sets take their best triple.
        assert_eq!(
            prio(&t, "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"),
            prio(&t, "cp312-cp312-manylinux_2_17_x86_64")
        );
        for bad in [
            "cp311-cp311-manylinux_2_17_x86_64",
            "cp313-cp313-manylinux_2_17_x86_64",
            "cp313-abi3-manylinux_2_17_x86_64",
            "py2-none-any",
            "cp312-cp312-manylinux_2_17_aarch64",
            "cp312-cp312-win_amd64",
            "cp312-cp312-macosx_11_0_arm64",
            "cp312-cp312-musllinux_1_1_x86_64",
            "graalpy310-none-any",
            "py3-graalpy240_310_native-any",
        ] {
            assert_eq!(prio(&t, bad), None, "{bad}");
        }
    }

    #[test]
    fn glibc_floor_and_aliases() {
        let t = linux();
        assert!(prio(&t, "cp312-cp312-manylinux_2_28_x86_64").is_some());
        assert!(prio(&t, "cp312-cp312-manylinux_2_34_x86_64").is_none());
        for alias in ["manylinux2014", "manylinux2010", "manylinux1"] {
            assert!(
                prio(&t, &format!("cp312-cp312-{alias}_x86_64")).is_some(),
                "{alias}"
            );
        }
        let newer = Target::new("3.12", Some("linux-x86_64-manylinux_2_34")).unwrap();
        assert!(prio(&newer, "cp312-cp312-manylinux_2_34_x86_64").is_some());
        assert!(prio(&newer, "cp312-cp312-manylinux_2_35_x86_64").is_none());
        assert!(
            prio(&newer, "cp312-cp312-manylinux_2_34_x86_64")
                > prio(&newer, "cp312-cp312-manylinux_2_28_x86_64")
        );
        let arm = Target::new("3.12", Some("linux-aarch64")).unwrap();
        assert!(prio(&arm, "cp312-cp312-manylinux2014_aarch64").is_some());
        assert!(prio(&arm, "cp312-cp312-manylinux2010_aarch64").is_none());
        assert!(prio(&arm, "cp312-cp312-manylinux_2_28_x86_64").is_none());
        assert!(prio(&arm, "cp312-cp312-linux_aarch64").is_some());
    }

    #[test]
    fn musl_is_not_glibc() {
        let t = Target::new("3.12", Some("linux-x86_64-musllinux_1_2")).unwrap();
        assert!(
            prio(&t, "cp312-cp312-musllinux_1_2_x86_64")
                > prio(&t, "cp312-cp312-musllinux_1_1_x86_64")
        );
        assert!(prio(&t, "cp312-cp312-musllinux_1_3_x86_64").is_none());
        assert!(prio(&t, "cp312-cp312-manylinux_2_17_x86_64").is_none());
        assert!(prio(&t, "py3-none-any").is_some());
        assert!(prio(&linux(), "cp312-cp312-musllinux_1_2_x86_64").is_none());
    }

    #[test]
    fn a_macos_floor_below_the_first_wheels_is_refused_by_name() {
        let err = Target::new("3.12", Some("macos-arm64-10.15")).unwrap_err();
        assert!(err.to_string().contains("oldest is 11.0"), "{err}");
        assert!(Target::new("3.12", Some("macos-x86_64-10.9")).is_ok());
    }

    #[test]
    fn macos_versions() {
        // The default floor is 13.0, as uv assumes.
        let arm = Target::new("3.12", Some("macos-arm64")).unwrap();
        assert!(prio(&arm, "cp312-cp312-macosx_11_0_arm64").is_some());
        assert!(prio(&arm, "cp312-cp312-macosx_13_0_arm64").is_some());
        assert!(prio(&arm, "cp312-cp312-macosx_14_0_arm64").is_none());
        let arm11 = Target::new("3.12", Some("macos-arm64-11")).unwrap();
        assert!(prio(&arm11, "cp312-cp312-macosx_13_0_arm64").is_none());
        assert!(prio(&arm, "cp312-cp312-macosx_10_9_universal2").is_some());
        assert!(prio(&arm, "cp312-cp312-macosx_10_9_x86_64").is_none());
        assert!(
            prio(&arm, "cp312-cp312-macosx_11_0_arm64")
                > prio(&arm, "cp312-cp312-macosx_11_0_universal2")
        );
        let arm14 = Target::new("3.12", Some("macos-arm64-14.0")).unwrap();
        assert!(
            prio(&arm14, "cp312-cp312-macosx_14_0_arm64")
                > prio(&arm14, "cp312-cp312-macosx_11_0_arm64")
        );
        let intel13 = Target::new("3.12", Some("macos-x86_64")).unwrap();
        assert!(prio(&intel13, "cp312-cp312-macosx_13_0_x86_64").is_some());
        assert!(prio(&intel13, "cp312-cp312-macosx_10_13_x86_64").is_some());
        assert!(prio(&intel13, "cp312-cp312-macosx_14_0_x86_64").is_none());
        let intel = Target::new("3.12", Some("macos-x86_64-10.12")).unwrap();
        for ok in [
            "cp312-cp312-macosx_10_12_x86_64",
            "cp312-cp312-macosx_10_9_x86_64",
            "cp312-cp312-macosx_10_9_universal2",
            "cp312-cp312-macosx_10_9_intel",
            "cp312-cp312-macosx_10_6_universal",
        ] {
            assert!(prio(&intel, ok).is_some(), "{ok}");
        }
        assert!(prio(&intel, "cp312-cp312-macosx_10_13_x86_64").is_none());
        assert!(prio(&intel, "cp312-cp312-macosx_11_0_x86_64").is_none());
        assert!(prio(&intel, "cp312-cp312-macosx_11_0_arm64").is_none());
        assert!(
            prio(&intel, "cp312-cp312-macosx_10_12_x86_64")
                > prio(&intel, "cp312-cp312-macosx_10_9_x86_64")
        );
    }

    #[test]
    fn windows_and_abi3() {
        let t = Target::new("3.12", Some("windows-x86_64")).unwrap();
        assert!(prio(&t, "cp312-cp312-win_amd64") > prio(&t, "cp39-abi3-win_amd64"));
        assert!(prio(&t, "cp39-abi3-win_amd64") > prio(&t, "py3-none-any"));
        assert!(prio(&t, "cp313-abi3-win_amd64").is_none());
        assert!(prio(&t, "cp312-cp312-win32").is_none());
        assert!(prio(&t, "cp312-cp312-manylinux_2_17_x86_64").is_none());
    }
}
