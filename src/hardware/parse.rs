//! Parsers of what the fallbacks print: `/proc/driver/nvidia/version`,
//! `/sys/module/nvidia/version`, `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`
//! and the `nvidia-smi` banner. Pure: text in, values out.

use super::Gpu;
use super::cuda::{CudaVersion, DriverVersion};

/// The fields `nvidia-smi` is asked for, in the order [`parse_smi_query`] reads them.
pub const SMI_QUERY_ARGS: &[&str] = &[
    "--query-gpu=name,memory.total,compute_cap,uuid,driver_version",
    "--format=csv,noheader,nounits",
];

/// The driver version in `/proc/driver/nvidia/version`: the first version-shaped word of the
/// `NVRM version:` line, e.g. `580.65.06` in
/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 ...` or
/// `NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.133.20  Release Build ...`.
pub fn parse_proc_version(text: &str) -> Option<DriverVersion> {
    let line = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("NVRM version:"))?;
    line.split_whitespace()
        .filter(|w| w.contains('.'))
        .find_map(|w| w.parse().ok())
}

/// The driver version in `/sys/module/nvidia/version`: the whole file, e.g. `580.65.06\n`.
pub fn parse_sys_module_version(text: &str) -> Option<DriverVersion> {
    text.trim().parse().ok()
}

/// A line of the `nvidia-smi` query that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read nvidia-smi line {line}: `{text}`")]
pub struct SmiParseError {
    /// 1-based.
    pub line: usize,
    pub text: String,
}

/// The answer to [`SMI_QUERY_ARGS`]: one GPU a line, and the driver version they report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmiQuery {
    pub gpus: Vec<Gpu>,
    pub driver: Option<DriverVersion>,
}

/// Parse `name, memory.total, compute_cap, uuid, driver_version` lines. Fields are read from
/// the right, so a GPU name with a comma still parses; `[N/A]` and similar become `None`.
pub fn parse_smi_query(text: &str) -> Result<SmiQuery, SmiParseError> {
    let mut query = SmiQuery::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let error = || SmiParseError {
            line: i + 1,
            text: line.to_string(),
        };
        let mut fields = line.rsplitn(5, ',').map(str::trim);
        let (Some(driver), Some(uuid), Some(cc), Some(memory), Some(name)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(error());
        };
        if name.is_empty() {
            return Err(error());
        }
        let known = |s: &str| !s.is_empty() && !s.starts_with('[') && s != "N/A";
        let memory_mib = if known(memory) {
            Some(memory.parse::<u64>().map_err(|_| error())?)
        } else {
            None
        };
        let compute_capability = if known(cc) {
            // Checked to be `major.minor` so the report stays well-formed.
            Some(cc.parse::<CudaVersion>().map_err(|_| error())?.to_string())
        } else {
            None
        };
        if known(driver) && query.driver.is_none() {
            query.driver = Some(driver.parse().map_err(|_| error())?);
        }
        query.gpus.push(Gpu {
            index: u32::try_from(query.gpus.len()).unwrap_or(u32::MAX),
            name: name.to_string(),
            memory_mib,
            compute_capability,
            uuid: known(uuid).then(|| uuid.to_string()),
        });
    }
    Ok(query)
}

/// What the `nvidia-smi` banner says: `Driver Version: 580.65.06      CUDA Version: 13.0`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmiBanner {
    pub driver: Option<DriverVersion>,
    pub cuda: Option<CudaVersion>,
}

/// Parse the table header of plain `nvidia-smi`.
pub fn parse_smi_banner(text: &str) -> SmiBanner {
    let after = |label: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.split_once(label).map(|(_, rest)| rest))
            .and_then(|rest| rest.split_whitespace().next())
    };
    SmiBanner {
        driver: after("Driver Version:").and_then(|v| v.parse().ok()),
        cuda: after("CUDA Version:").and_then(|v| v.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/data/hardware/", $name))
        };
    }

    fn v(s: &str) -> Option<DriverVersion> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn proc_versions() {
        assert_eq!(
            parse_proc_version(fixture!("proc-580-x86_64.txt")),
            v("580.65.06")
        );
        assert_eq!(
            parse_proc_version(fixture!("proc-570-open.txt")),
            v("570.133.20")
        );
        assert_eq!(
            parse_proc_version(fixture!("proc-550-aarch64.txt")),
            v("550.54.15")
        );
        assert_eq!(
            parse_proc_version(fixture!("proc-580-open-aarch64.txt")),
            v("580.82.07")
        );
        let shown = parse_proc_version(fixture!("proc-570-open.txt")).unwrap();
        assert_eq!(shown.to_string(), "570.133.20");
        assert_eq!(parse_proc_version(""), None);
        assert_eq!(
            parse_proc_version("GCC version:  gcc version 13.3.0\n"),
            None
        );
        assert_eq!(
            parse_proc_version("NVRM version: NVIDIA UNIX x86_64 Kernel Module\n"),
            None
        );
    }

    #[test]
    fn sys_module_version() {
        assert_eq!(
            parse_sys_module_version(fixture!("sys-module-535.txt")),
            v("535.247.01")
        );
        assert_eq!(parse_sys_module_version("\n"), None);
    }

    #[test]
    fn smi_query_one_gpu() {
        let q = parse_smi_query(fixture!("smi-query-one-gpu.csv")).unwrap();
        assert_eq!(q.driver, v("570.133.20"));
        assert_eq!(
            q.gpus,
            vec![Gpu {
                index: 0,
                name: "NVIDIA GeForce RTX 4090".to_string(),
                memory_mib: Some(24564),
                compute_capability: Some("8.9".to_string()),
                uuid: Some("GPU-8d4c7f0e-6a1b-4f3e-9c2d-1e5b7a9f0c34".to_string()),
            }]
        );
    }

    #[test]
    fn smi_query_four_gpus() {
        let q = parse_smi_query(fixture!("smi-query-four-gpus.csv")).unwrap();
        assert_eq!(q.driver, v("580.65.06"));
        assert_eq!(q.gpus.len(), 4);
        assert_eq!(
            q.gpus.iter().map(|g| g.index).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert!(q.gpus.iter().all(|g| g.name == "NVIDIA H100 80GB HBM3"
            && g.memory_mib == Some(81559)
            && g.compute_capability.as_deref() == Some("9.0")));
    }

    #[test]
    fn smi_query_wsl_reports_the_windows_driver() {
        let q = parse_smi_query(fixture!("smi-query-wsl.csv")).unwrap();
        assert_eq!(q.driver, v("566.36"));
        assert_eq!(q.gpus[0].name, "NVIDIA GeForce RTX 3080 Laptop GPU");
    }

    #[test]
    fn smi_query_unknown_fields_and_commas_in_names() {
        let q = parse_smi_query(
            "NVIDIA A100-SXM4-40GB, [N/A], 8.0, GPU-1, 535.183.01\nBoard, rev 2, 4096, [N/A], [N/A], [N/A]\n\n",
        )
        .unwrap();
        assert_eq!(q.gpus[0].memory_mib, None);
        assert_eq!(q.gpus[1].name, "Board, rev 2");
        assert_eq!(q.gpus[1].memory_mib, Some(4096));
        assert_eq!(q.gpus[1].compute_capability, None);
        assert_eq!(q.gpus[1].uuid, None);
        assert_eq!(q.driver, v("535.183.01"));
        assert_eq!(parse_smi_query("").unwrap(), SmiQuery::default());
    }

    #[test]
    fn smi_query_errors_name_the_line() {
        let e = parse_smi_query(fixture!("smi-no-driver.txt")).unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_smi_query("GPU, 1, 9.0, GPU-1, 580.65.06\nGPU, lots, 9.0, GPU-2, 580\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read nvidia-smi line 2: `GPU, lots, 9.0, GPU-2, 580`"
        );
    }

    #[test]
    fn smi_banners() {
        let b = parse_smi_banner(fixture!("smi-banner-580.txt"));
        assert_eq!(b.driver, v("580.65.06"));
        assert_eq!(b.cuda, Some(CudaVersion::new(13, 0)));
        let b = parse_smi_banner(fixture!("smi-banner-wsl.txt"));
        assert_eq!(b.driver, v("566.36"));
        assert_eq!(b.cuda, Some(CudaVersion::new(12, 7)));
        let b = parse_smi_banner(fixture!("smi-banner-535-old-layout.txt"));
        assert_eq!(b.cuda, Some(CudaVersion::new(12, 2)));
        assert_eq!(
            parse_smi_banner(fixture!("smi-no-driver.txt")),
            SmiBanner::default()
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,200}") {
            let _ = parse_proc_version(&s);
            let _ = parse_sys_module_version(&s);
            let _ = parse_smi_query(&s);
            let _ = parse_smi_banner(&s);
        }

        #[test]
        fn proc_line_round_trips(a in 100u32..1000, b in 0u32..300, c in 0u32..100, open in any::<bool>()) {
            let version = format!("{a}.{b}.{c:02}");
            let module = if open { "Open Kernel Module for x86_64" } else { "x86_64 Kernel Module" };
            let text = format!("NVRM version: NVIDIA UNIX {module}  {version}  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Mar 20 13:14:43 UTC 2025\n");
            prop_assert_eq!(parse_proc_version(&text).map(|v| v.to_string()), Some(version));
        }

        #[test]
        fn smi_query_round_trips(gpus in prop::collection::vec(("[A-Za-z0-9 ,-]{1,30}", 1u64..200_000, 3u32..12, 0u32..10), 1..8)) {
            let text: String = gpus.iter().map(|(name, mem, ma, mi)| {
                format!("{name}, {mem}, {ma}.{mi}, GPU-x, 580.65.06\n")
            }).collect();
            let valid_names = gpus.iter().all(|(n, ..)| !n.trim().is_empty() && !n.trim().ends_with(','));
            prop_assume!(valid_names);
            let q = parse_smi_query(&text).unwrap();
            prop_assert_eq!(q.gpus.len(), gpus.len());
            for (g, (name, mem, ma, mi)) in q.gpus.iter().zip(&gpus) {
                prop_assert_eq!(&g.name, name.trim());
                prop_assert_eq!(g.memory_mib, Some(*mem));
                prop_assert_eq!(g.compute_capability.clone(), Some(format!("{ma}.{mi}")));
            }
        }
    }
}
