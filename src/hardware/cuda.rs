//! Versions: the NVIDIA driver's, CUDA's, and the table from a driver version to the newest
//! CUDA that driver runs (used when the driver itself could not be asked, e.g. NVML is
//! missing and only `/proc/driver/nvidia/version` is readable, or a version is pretended).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// An NVIDIA driver version such as `580.65.06` (Linux) or `581.15` (Windows, seen on WSL).
///
/// Compared numerically, component by component, missing components counting as zero; shown
/// as written (so `565.57.01` keeps its leading zero).
#[derive(Clone, Debug)]
pub struct DriverVersion {
    text: String,
    parts: Vec<u32>,
}

/// A driver version string that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an NVIDIA driver version (expected numbers separated by dots, e.g. 580.65.06)"
)]
pub struct InvalidDriverVersion(pub String);

impl DriverVersion {
    /// The numeric components, e.g. `[580, 65, 6]`.
    pub fn parts(&self) -> &[u32] {
        &self.parts
    }

    /// The branch, the first component (`580`).
    pub fn major(&self) -> u32 {
        self.parts.first().copied().unwrap_or(0)
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The newest CUDA this driver runs, from [`DRIVER_CUDA_TABLE`]; `None` for a driver
    /// older than every row.
    pub fn max_cuda(&self) -> Option<CudaVersion> {
        max_cuda_for_driver(self)
    }
}

impl FromStr for DriverVersion {
    type Err = InvalidDriverVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let invalid = || InvalidDriverVersion(s.to_string());
        if text.is_empty() {
            return Err(invalid());
        }
        let parts = text
            .split('.')
            .map(|p| {
                if p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    Err(invalid())
                } else {
                    p.parse::<u32>().map_err(|_| invalid())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parts.len() > 4 {
            return Err(invalid());
        }
        Ok(DriverVersion {
            text: text.to_string(),
            parts,
        })
    }
}

impl PartialEq for DriverVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DriverVersion {}

impl PartialOrd for DriverVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DriverVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        let at = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
        (0..n)
            .map(|i| at(&self.parts, i).cmp(&at(&other.parts, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl fmt::Display for DriverVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for DriverVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A CUDA version, `major.minor` (`13.0`, `12.8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CudaVersion {
    pub major: u32,
    pub minor: u32,
}

impl CudaVersion {
    pub const fn new(major: u32, minor: u32) -> CudaVersion {
        CudaVersion { major, minor }
    }

    /// From the integer NVML and the CUDA driver API report (`cuDriverGetVersion`):
    /// `1000 * major + 10 * minor`, so 13000 is 13.0 and 12080 is 12.8.
    pub fn from_driver_api(value: i32) -> Option<CudaVersion> {
        let value = u32::try_from(value).ok().filter(|v| *v > 0)?;
        Some(CudaVersion::new(value / 1000, (value % 1000) / 10))
    }
}

impl FromStr for CudaVersion {
    type Err = ();

    /// `13.0`, `12.8`; a bare `13` means `13.0`.
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        let (major, minor) = s.split_once('.').unwrap_or((s, "0"));
        let num = |p: &str| {
            if !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse::<u32>().map_err(|_| ())
            } else {
                Err(())
            }
        };
        Ok(CudaVersion::new(num(major)?, num(minor)?))
    }
}

impl fmt::Display for CudaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for CudaVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The newest CUDA each Linux driver runs: `(minimum driver version, CUDA version)`, newest
/// first; a driver takes the first row it reaches.
///
/// Source: NVIDIA's CUDA Toolkit Release Notes, "CUDA Toolkit and Corresponding Driver
/// Versions" (Table 3) and "CUDA minor version compatibility" (Table 2), Linux x86_64 column.
/// The CUDA version a driver reports (what NVML's `cuda_driver_version` and the `nvidia-smi`
/// banner show) is fixed by its branch, so rows from CUDA 12.1 on name the branch (`580` rather
/// than 13.0 GA's `580.65.06`): every public driver of a branch reports the same CUDA, and a
/// pretended `SANCTUARY_CUDA_DRIVER_VERSION=580` means what users mean by it. The two floors
/// of minor-version compatibility keep NVIDIA's exact numbers: CUDA 12.x needs 525.60.13 and
/// CUDA 11.x needs 450.80.02. Branch 565 reports 12.7 though no 12.7 toolkit shipped.
/// A driver newer than the first row runs at least that row's CUDA; NVML tells the truth
/// when it can be loaded, and this table is only the fallback.
pub const DRIVER_CUDA_TABLE: &[(&str, CudaVersion)] = &[
    ("590", CudaVersion::new(13, 1)),
    ("580", CudaVersion::new(13, 0)),
    ("575", CudaVersion::new(12, 9)),
    ("570", CudaVersion::new(12, 8)),
    ("565", CudaVersion::new(12, 7)),
    ("560", CudaVersion::new(12, 6)),
    ("555", CudaVersion::new(12, 5)),
    ("550", CudaVersion::new(12, 4)),
    ("545", CudaVersion::new(12, 3)),
    ("535", CudaVersion::new(12, 2)),
    ("530", CudaVersion::new(12, 1)),
    ("525.60.13", CudaVersion::new(12, 0)),
    ("520", CudaVersion::new(11, 8)),
    ("515", CudaVersion::new(11, 7)),
    ("510", CudaVersion::new(11, 6)),
    ("495", CudaVersion::new(11, 5)),
    ("470", CudaVersion::new(11, 4)),
    ("465", CudaVersion::new(11, 3)),
    ("460", CudaVersion::new(11, 2)),
    ("455", CudaVersion::new(11, 1)),
    ("450.80.02", CudaVersion::new(11, 0)),
    ("440.33", CudaVersion::new(10, 2)),
    ("418.39", CudaVersion::new(10, 1)),
    ("410.48", CudaVersion::new(10, 0)),
];

/// The newest CUDA `driver` runs, by [`DRIVER_CUDA_TABLE`].
pub fn max_cuda_for_driver(driver: &DriverVersion) -> Option<CudaVersion> {
    DRIVER_CUDA_TABLE.iter().find_map(|(min, cuda)| {
        // The table's entries are literal versions, checked by a unit test.
        let min: DriverVersion = min.parse().ok()?;
        (*driver >= min).then_some(*cuda)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> DriverVersion {
        s.parse().unwrap()
    }

    fn cuda(s: &str) -> Option<CudaVersion> {
        max_cuda_for_driver(&d(s))
    }

    #[test]
    fn table_rows_parse_and_are_sorted_newest_first() {
        let rows: Vec<(DriverVersion, CudaVersion)> =
            DRIVER_CUDA_TABLE.iter().map(|(v, c)| (d(v), *c)).collect();
        for pair in rows.windows(2) {
            assert!(pair[0].0 > pair[1].0, "{:?}", pair);
            assert!(pair[0].1 > pair[1].1, "{:?}", pair);
        }
    }

    #[test]
    fn table_boundaries() {
        let c = |s: &str| s.parse::<CudaVersion>().ok();
        // (driver, newest CUDA)
        for (driver, expected) in [
            ("600.10", "13.1"),
            ("590.44.01", "13.1"),
            ("589.99", "13.0"),
            ("580", "13.0"),
            ("580.65.06", "13.0"),
            ("580.95.05", "13.0"),
            ("579.99", "12.9"),
            ("575.57.08", "12.9"),
            ("570", "12.8"),
            ("570.133.20", "12.8"),
            ("570.26", "12.8"),
            ("569.9", "12.7"),
            ("565.57.01", "12.7"),
            ("560.35.05", "12.6"),
            ("560", "12.6"),
            ("559.99", "12.5"),
            ("550.54.15", "12.4"),
            ("535.183.01", "12.2"),
            ("530.30.02", "12.1"),
            ("525.60.13", "12.0"),
            ("525.60.12", "11.8"),
            ("520.61.05", "11.8"),
            ("470.256.02", "11.4"),
            ("450.80.02", "11.0"),
            ("450.80.01", "10.2"),
            ("410.48", "10.0"),
        ] {
            assert_eq!(cuda(driver), c(expected), "driver {driver}");
        }
        assert_eq!(cuda("410.47"), None);
        assert_eq!(cuda("390.157"), None);
    }

    #[test]
    fn driver_versions_parse_strictly_and_compare_numerically() {
        assert_eq!(d("580.65.06").parts(), &[580, 65, 6]);
        assert_eq!(d("580.65.06").to_string(), "580.65.06");
        assert_eq!(d(" 570.86.10\n").as_str(), "570.86.10");
        assert!(d("580") == d("580.0.0"));
        assert!(d("570.133.20") > d("570.86.10"));
        for bad in [
            "",
            "580.",
            ".580",
            "58o",
            "580..1",
            "1.2.3.4.5",
            "-580",
            "r580",
        ] {
            assert!(bad.parse::<DriverVersion>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "x".parse::<DriverVersion>().unwrap_err().to_string(),
            "`x` is not an NVIDIA driver version (expected numbers separated by dots, e.g. 580.65.06)"
        );
    }

    #[test]
    fn cuda_from_the_driver_api_integer() {
        assert_eq!(
            CudaVersion::from_driver_api(13000),
            Some(CudaVersion::new(13, 0))
        );
        assert_eq!(
            CudaVersion::from_driver_api(12080),
            Some(CudaVersion::new(12, 8))
        );
        assert_eq!(
            CudaVersion::from_driver_api(11040),
            Some(CudaVersion::new(11, 4))
        );
        assert_eq!(CudaVersion::from_driver_api(0), None);
        assert_eq!(CudaVersion::from_driver_api(-1), None);
        assert_eq!("13".parse(), Ok(CudaVersion::new(13, 0)));
        assert_eq!("12.8".parse(), Ok(CudaVersion::new(12, 8)));
        assert!("12.x".parse::<CudaVersion>().is_err());
    }

    proptest! {
        #[test]
        fn driver_version_round_trips(parts in prop::collection::vec(0u32..100_000, 1..=4)) {
            let text = parts.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            let v: DriverVersion = text.parse().unwrap();
            prop_assert_eq!(v.parts(), &parts[..]);
            prop_assert_eq!(v.to_string(), text);
        }

        #[test]
        fn newer_drivers_never_run_less_cuda(a in 300u32..700, b in 0u32..300, c in 300u32..700, e in 0u32..300) {
            let x = d(&format!("{a}.{b}"));
            let y = d(&format!("{c}.{e}"));
            if x <= y {
                prop_assert!(max_cuda_for_driver(&x) <= max_cuda_for_driver(&y));
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in ".{0,20}") {
            let _ = s.parse::<DriverVersion>();
            let _ = s.parse::<CudaVersion>();
        }
    }
}
