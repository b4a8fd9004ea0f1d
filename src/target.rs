//! The declared target of a lock: a Python version and a platform (from the manifest, not the
//! host). Owns the PEP 508 marker environment of that target and the ordered list of wheel
//! tags it can install. Pure: no I/O.

use std::fmt;

use pep440_rs::Version;
use pep508_rs::MarkerEnvironment;

use crate::wheel::WheelFilename;

/// CPU architecture of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

/// Operating system (and its C library floor) of a target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// glibc Linux; `glibc` is the newest manylinux version allowed, `(2, 28)` by default.
    Linux { arch: Arch, glibc: (u16, u16) },
    /// musl Linux (`musllinux_1_2`).
    LinuxMusl { arch: Arch, musl: (u16, u16) },
    /// macOS; `min` is the deployment target (`(11, 0)` for arm64, `(10, 12)` for x86_64).
    MacOs { arch: Arch, min: (u16, u16) },
    Windows { arch: Arch },
}

/// Why a target could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error(
        "unknown platform `{0}`: expected linux-x86_64, linux-aarch64 (optionally with a glibc floor such as linux-x86_64-manylinux_2_34), linux-x86_64-musllinux_1_2, macos-arm64, macos-x86_64 or windows-x86_64"
    )]
    UnknownPlatform(String),
    #[error("invalid Python version `{0}`: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 3.12")]
    BadPython(String),
}

/// The Python version and platform a lock is made for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The full interpreter version (`3.12` is taken as `3.12.0`).
    pub python: Version,
    pub platform: Platform,
}

impl Target {
    /// Build a target from the manifest's `python` (e.g. `"3.12"`) and `platform` (e.g.
    /// `"linux-x86_64"`; `None` means the host).
    pub fn new(python: &str, platform: Option<&str>) -> Result<Self, TargetError> {
        let _ = (python, platform);
        todo!("resolver helper")
    }

    /// The canonical spelling of the platform, e.g. `linux-x86_64-manylinux_2_28`.
    pub fn platform_name(&self) -> String {
        todo!("resolver helper")
    }

    /// The PEP 508 marker environment of this target (`python_version`, `sys_platform`,
    /// `platform_machine`, ...).
    pub fn markers(&self) -> &MarkerEnvironment {
        todo!("resolver helper")
    }

    /// How well a wheel fits this target: `None` when it cannot be installed, otherwise a
    /// priority where higher is better (a `cp312` wheel beats `abi3`, which beats `py3-none-any`).
    pub fn wheel_priority(&self, wheel: &WheelFilename) -> Option<u32> {
        let _ = wheel;
        todo!("resolver helper")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Python {} on {}", self.python, self.platform_name())
    }
}
