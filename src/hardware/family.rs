//! CUDA families: which CUDA major version a package is built for (the `-cuNN` suffix of the
//! NVIDIA libraries, or the version of those that follow CUDA's releases) and which one a
//! hardware key runs, so that a Foundation that would mix families (a `cu130` key pulling
//! `nvidia-*-cu12`) is refused. Pure.

use std::collections::BTreeMap;

use pep440_rs::Version;
use pep508_rs::PackageName;

use super::KeyFamily;
use crate::target::{Arch, Platform};

/// Packages without a `-cuNN` suffix whose version follows the CUDA release (CUDA 13 dropped
/// the suffixes). The math libraries are left out on purpose: CUDA 13 ships cuFFT 12.0,
/// cuSOLVER 12.0 and cuSPARSE 12.6, so their versions say nothing about the family.
const CUDA_VERSIONED: &[&str] = &[
    "cuda-toolkit",
    "cuda-bindings",
    "cuda-python",
    "nvidia-cuda-runtime",
    "nvidia-cuda-nvrtc",
    "nvidia-cuda-cupti",
    "nvidia-cuda-nvcc",
    "nvidia-cublas",
    "nvidia-nvjitlink",
];

/// The CUDA family of a package: the `-cuNN` suffix of `nvidia-*` / `cuda-*` libraries, or
/// the major version of a package whose version follows CUDA's ([`CUDA_VERSIONED`]).
pub fn cuda_family(name: &PackageName, version: &Version) -> Option<u64> {
    let name = name.as_ref();
    if let Some((_, suffix)) = name.rsplit_once("-cu")
        && (name.starts_with("nvidia-") || name.starts_with("cuda-"))
        && let Ok(major) = suffix.parse::<u64>()
    {
        return Some(major);
    }
    let major = version.release().first().copied()?;
    (CUDA_VERSIONED.contains(&name) && (11..=20).contains(&major)).then_some(major)
}

/// The CUDA family a key runs: `cu130` -> 13, `cu128` -> 12, `cpu` -> none; `None` for keys
/// outside these families (e.g. ROCm), which are not checked.
pub fn key_family(key: &str) -> Option<Option<u64>> {
    match KeyFamily::of(key) {
        KeyFamily::Cuda(cuda) => Some(Some(u64::from(cuda.major))),
        KeyFamily::Cpu => Some(None),
        KeyFamily::Other => None,
    }
}

/// Whether the PyTorch builds of `key` run on `platform`: CUDA builds on Linux (glibc,
/// x86_64 and aarch64) and Windows x86_64, as PyTorch publishes them; ROCm and XPU builds on
/// Linux x86_64 (and XPU on Windows x86_64); `cpu` and any other key everywhere.
pub fn serves(key: &str, platform: &Platform) -> bool {
    let linux = matches!(platform, Platform::Linux { .. });
    let windows = matches!(platform, Platform::Windows { .. });
    let x86 = platform.arch() == Arch::X86_64;
    match KeyFamily::of(key) {
        KeyFamily::Cuda(_) => linux || windows,
        KeyFamily::Cpu => true,
        KeyFamily::Other if key.starts_with("rocm") => linux && x86,
        KeyFamily::Other if key.starts_with("xpu") => (linux || windows) && x86,
        KeyFamily::Other => true,
    }
}

/// The platforms a key's builds run on, in words, for messages.
pub fn served_words(key: &str) -> &'static str {
    match KeyFamily::of(key) {
        KeyFamily::Cuda(_) => "Linux (x86_64, aarch64) and Windows x86_64",
        KeyFamily::Other if key.starts_with("rocm") => "Linux x86_64",
        KeyFamily::Other if key.starts_with("xpu") => "Linux x86_64 and Windows x86_64",
        _ => "every platform",
    }
}

/// The packages of a key's Foundation that do not belong to the key's CUDA family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mixed {
    /// The key's CUDA major version; `None` for `cpu` (no CUDA library belongs).
    pub expected: Option<u64>,
    /// Each package of another family (or any CUDA package for `cpu`), with its family.
    pub wrong: Vec<(u64, PackageName)>,
}

/// Whether `packages` (a Foundation for `key`) mix CUDA families, or pull CUDA libraries into
/// a `cpu` key. Keys outside these families (e.g. ROCm) are not checked.
pub fn mixed<'a>(
    key: &str,
    packages: impl IntoIterator<Item = (&'a PackageName, &'a Version)>,
) -> Option<Mixed> {
    let expected = key_family(key)?;
    let mut families: BTreeMap<u64, Vec<&PackageName>> = BTreeMap::new();
    for (name, version) in packages {
        if let Some(f) = cuda_family(name, version) {
            families.entry(f).or_default().push(name);
        }
    }
    let wrong: Vec<(u64, PackageName)> = families
        .iter()
        .filter(|(f, _)| match expected {
            Some(e) => **f != e,
            None => true,
        })
        .flat_map(|(f, names)| names.iter().map(move |n| (*f, (*n).clone())))
        .collect();
    if wrong.is_empty() && families.len() <= 1 {
        return None;
    }
    Some(Mixed { expected, wrong })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use super::*;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    fn n(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    #[test]
    fn cuda_families_of_packages_and_keys() {
        assert_eq!(
            cuda_family(&n("nvidia-cublas-cu12"), &v("12.8.4.1")),
            Some(12)
        );
        assert_eq!(
            cuda_family(&n("nvidia-cudnn-cu13"), &v("9.13.0.50")),
            Some(13)
        );
        assert_eq!(cuda_family(&n("nvidia-cublas"), &v("13.0.0.19")), Some(13));
        assert_eq!(cuda_family(&n("cuda-toolkit"), &v("13.0.2")), Some(13));
        // cuDNN and the math libraries carry their own versions, not CUDA's: CUDA 13 ships
        // cuFFT 12.0 (regression: the forge mirror's cu130 torch was refused for it).
        assert_eq!(cuda_family(&n("nvidia-cudnn"), &v("9.13.0")), None);
        assert_eq!(cuda_family(&n("nvidia-cufft"), &v("12.0.0.15")), None);
        assert_eq!(cuda_family(&n("nvidia-cusparse"), &v("12.6.2.49")), None);
        assert_eq!(cuda_family(&n("cuda-bindings"), &v("12.9.4")), Some(12));
        assert_eq!(cuda_family(&n("nvidia-ml-py"), &v("12.560.30")), None);
        assert_eq!(cuda_family(&n("triton"), &v("3.5.0")), None);
        assert_eq!(cuda_family(&n("numpy"), &v("2.1.0")), None);
        assert_eq!(key_family("cu130"), Some(Some(13)));
        assert_eq!(key_family("cu128"), Some(Some(12)));
        assert_eq!(key_family("cu126"), Some(Some(12)));
        assert_eq!(key_family("cpu"), Some(None));
        assert_eq!(key_family("rocm6-4"), None);
        assert_eq!(key_family("cu1"), None);
        assert_eq!(key_family("xpu"), None);
    }

    #[test]
    fn a_cu130_foundation_with_cu12_libraries_is_mixed() {
        let packages = [
            (n("torch"), v("2.9.0+cu130")),
            (n("nvidia-cublas"), v("13.0.0.19")),
            (n("nvidia-cudnn-cu12"), v("9.10.2.21")),
        ];
        let got = mixed("cu130", packages.iter().map(|(n, v)| (n, v))).unwrap();
        assert_eq!(got.expected, Some(13));
        assert_eq!(got.wrong, vec![(12, n("nvidia-cudnn-cu12"))]);
        assert!(mixed("cu130", packages[..2].iter().map(|(n, v)| (n, v))).is_none());
        assert!(mixed("rocm6-4", packages.iter().map(|(n, v)| (n, v))).is_none());
        assert!(mixed("cpu", packages[..1].iter().map(|(n, v)| (n, v))).is_none());
    }
}
