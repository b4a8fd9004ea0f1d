//! Detection on fake machines built from recorded outputs (`tests/data/hardware/`).

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/data/hardware/", $name))
    };
}

/// A machine with nothing NVIDIA on it.
pub(crate) struct NoMachine;

impl Probe for NoMachine {
    fn nvml(&self) -> Result<NvmlReport, NvmlError> {
        Err(NvmlError::NotFound {
            tried: vec!["libnvidia-ml.so.1".into()],
        })
    }
    fn read_file(&self, _: &Path) -> Option<String> {
        None
    }
    fn run_nvidia_smi(&self, _: &[&str]) -> Option<Result<String, String>> {
        None
    }
}

/// A machine made of canned answers.
#[derive(Default)]
struct Fake {
    nvml: Option<Result<NvmlReport, NvmlError>>,
    files: BTreeMap<&'static str, &'static str>,
    /// `None`: not installed.
    smi_query: Option<Result<&'static str, &'static str>>,
    smi_banner: Option<Result<&'static str, &'static str>>,
}

impl Probe for Fake {
    fn nvml(&self) -> Result<NvmlReport, NvmlError> {
        self.nvml.clone().unwrap_or_else(|| NoMachine.nvml())
    }
    fn read_file(&self, path: &Path) -> Option<String> {
        self.files.get(path.to_str()?).map(|s| s.to_string())
    }
    fn run_nvidia_smi(&self, args: &[&str]) -> Option<Result<String, String>> {
        let answer = if args.is_empty() {
            self.smi_banner
        } else {
            assert_eq!(args, parse::SMI_QUERY_ARGS);
            self.smi_query
        };
        answer.map(|r| r.map(str::to_string).map_err(str::to_string))
    }
}

fn detect_on(probe: &dyn Probe) -> Detection {
    detect_with(probe, &KeySettings::default())
}

fn v(s: &str) -> DriverVersion {
    s.parse().unwrap()
}

fn h100(index: u32) -> Gpu {
    Gpu {
        index,
        name: "NVIDIA H100 80GB HBM3".into(),
        memory_mib: Some(81559),
        compute_capability: Some("9.0".into()),
        uuid: Some(format!("GPU-{index}")),
    }
}

#[test]
fn nvml_answers_first() {
    let fake = Fake {
        nvml: Some(Ok(NvmlReport {
            library: "libnvidia-ml.so.1".into(),
            driver: v("580.65.06"),
            cuda: CudaVersion::from_driver_api(13000),
            gpus: vec![h100(0), h100(1)],
            notes: vec![],
        })),
        // Never consulted when NVML answers.
        files: BTreeMap::from([(PROC_VERSION, fixture!("proc-570-open.txt"))]),
        ..Fake::default()
    };
    let d = detect_on(&fake);
    assert_eq!(d.source, Source::Nvml);
    assert_eq!(d.driver_version, Some(v("580.65.06")));
    assert_eq!(d.cuda_version, Some(CudaVersion::new(13, 0)));
    assert_eq!(d.cuda_from, Some(CudaSource::Nvml));
    assert_eq!(d.gpus, vec![h100(0), h100(1)]);
    assert!(d.notes.is_empty(), "{:?}", d.notes);
}

#[test]
fn nvml_without_a_cuda_version_uses_the_table() {
    let fake = Fake {
        nvml: Some(Ok(NvmlReport {
            library: "/usr/lib/wsl/lib/libnvidia-ml.so.1".into(),
            driver: v("566.36"),
            cuda: None,
            gpus: vec![],
            notes: vec!["NVML could not tell the CUDA version: Not Supported".into()],
        })),
        ..Fake::default()
    };
    let d = detect_on(&fake);
    assert_eq!(d.cuda_version, Some(CudaVersion::new(12, 7)));
    assert_eq!(d.cuda_from, Some(CudaSource::DriverTable));
    insta::assert_debug_snapshot!(d.notes, @r#"
    [
        "NVML could not tell the CUDA version: Not Supported",
        "CUDA 12.7 from sanctuary's table of driver versions (driver 566.36)",
        "the driver is loaded but reports no GPU",
    ]
    "#);
}

#[test]
fn proc_version_files() {
    for (text, expected, cuda) in [
        (fixture!("proc-580-x86_64.txt"), "580.65.06", "13.0"),
        (fixture!("proc-570-open.txt"), "570.133.20", "12.8"),
        (fixture!("proc-550-aarch64.txt"), "550.54.15", "12.4"),
        (fixture!("proc-580-open-aarch64.txt"), "580.82.07", "13.0"),
    ] {
        let fake = Fake {
            files: BTreeMap::from([(PROC_VERSION, text)]),
            ..Fake::default()
        };
        let d = detect_on(&fake);
        assert_eq!(d.source, Source::Proc);
        assert_eq!(d.driver_version, Some(v(expected)));
        assert_eq!(d.cuda_version, cuda.parse().ok());
        assert_eq!(d.cuda_from, Some(CudaSource::DriverTable));
        assert!(d.gpus.is_empty());
    }
}

#[test]
fn sys_module_version_when_proc_is_missing() {
    let fake = Fake {
        files: BTreeMap::from([
            (PROC_VERSION, "garbage\n"),
            (SYS_MODULE_VERSION, fixture!("sys-module-535.txt")),
        ]),
        ..Fake::default()
    };
    let d = detect_on(&fake);
    assert_eq!(d.source, Source::Proc);
    assert_eq!(d.driver_version, Some(v("535.247.01")));
    insta::assert_debug_snapshot!(d.notes, @r#"
    [
        "NVML not found (libnvidia-ml.so.1 is not installed)",
        "/proc/driver/nvidia/version names no driver version",
        "driver version from /sys/module/nvidia/version",
        "nvidia-smi not found",
        "CUDA 12.2 from sanctuary's table of driver versions (driver 535.247.01)",
    ]
    "#);
}

#[test]
fn nvidia_smi_one_gpu_with_proc() {
    let fake = Fake {
        files: BTreeMap::from([(PROC_VERSION, fixture!("proc-570-open.txt"))]),
        smi_query: Some(Ok(fixture!("smi-query-one-gpu.csv"))),
        smi_banner: Some(Ok(
            "| NVIDIA-SMI 570.133.20   Driver Version: 570.133.20   CUDA Version: 12.8 |\n",
        )),
        ..Fake::default()
    };
    let d = detect_on(&fake);
    assert_eq!(d.source, Source::Proc);
    assert_eq!(d.cuda_version, Some(CudaVersion::new(12, 8)));
    assert_eq!(d.cuda_from, Some(CudaSource::NvidiaSmi));
    assert_eq!(d.gpus.len(), 1);
    assert_eq!(d.gpus[0].name, "NVIDIA GeForce RTX 4090");
}

#[test]
fn nvidia_smi_alone_several_gpus() {
    let fake = Fake {
        smi_query: Some(Ok(fixture!("smi-query-four-gpus.csv"))),
        smi_banner: Some(Ok(fixture!("smi-banner-580.txt"))),
        ..Fake::default()
    };
    let d = detect_on(&fake);
    assert_eq!(d.source, Source::NvidiaSmi);
    assert_eq!(d.driver_version, Some(v("580.65.06")));
    assert_eq!(d.cuda_version, Some(CudaVersion::new(13, 0)));
    assert_eq!(d.cuda_from, Some(CudaSource::NvidiaSmi));
    assert_eq!(d.gpus.len(), 4);
}

#[test]
fn wsl_reports_the_windows_driver() {
    let fake = Fake {
        // WSL has no /proc/driver/nvidia; NVML may fail where the library is not on the path.
        nvml: Some(Err(NvmlError::Init {
            library: "/usr/lib/wsl/lib/libnvidia-ml.so.1".into(),
            message: "Unknown Error".into(),
        })),
        smi_query: Some(Ok(fixture!("smi-query-wsl.csv"))),
        smi_banner: Some(Ok(fixture!("smi-banner-wsl.txt"))),
        ..Fake::default()
    };
    let d = detect_on(&fake);
    assert_eq!(d.source, Source::NvidiaSmi);
    assert_eq!(d.driver_version, Some(v("566.36")));
    assert_eq!(d.cuda_version, Some(CudaVersion::new(12, 7)));
    assert_eq!(d.gpus[0].memory_mib, Some(16384));
    assert_eq!(
        d.notes[0],
        "NVML in /usr/lib/wsl/lib/libnvidia-ml.so.1 failed to initialise: Unknown Error; falling back"
    );
}

#[test]
fn no_driver_at_all() {
    let d = detect_on(&NoMachine);
    assert_eq!(d.source, Source::None);
    assert_eq!(d.driver_version, None);
    assert_eq!(d.cuda_version, None);
    assert!(d.gpus.is_empty());
    insta::assert_debug_snapshot!(d.notes, @r#"
    [
        "NVML not found (libnvidia-ml.so.1 is not installed)",
        "nvidia-smi not found",
        "no NVIDIA driver found",
    ]
    "#);
}

#[test]
fn broken_library_and_failing_nvidia_smi() {
    // The user-space library is installed but the kernel module is not loaded.
    let fake = Fake {
        nvml: Some(Err(NvmlError::Init {
            library: "libnvidia-ml.so.1".into(),
            message: "a libnvidia-ml.so function returned an error: Driver Not Loaded".into(),
        })),
        smi_query: Some(Err(fixture!("smi-no-driver.txt").trim())),
        ..Fake::default()
    };
    let d = detect_on(&fake);
    assert_eq!(d.source, Source::None);
    insta::assert_debug_snapshot!(d.notes, @r#"
    [
        "NVML in libnvidia-ml.so.1 failed to initialise: a libnvidia-ml.so function returned an error: Driver Not Loaded; falling back",
        "nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
        "no NVIDIA driver found",
    ]
    "#);
}

#[test]
fn unreadable_nvidia_smi_output_is_a_note() {
    let fake = Fake {
        files: BTreeMap::from([(PROC_VERSION, fixture!("proc-580-x86_64.txt"))]),
        smi_query: Some(Ok("Field \"compute_cap\" is not a valid field to query.\n")),
        ..Fake::default()
    };
    let d = detect_on(&fake);
    assert_eq!(d.driver_version, Some(v("580.65.06")));
    assert!(
        d.notes
            .iter()
            .any(|n| n.starts_with("cannot read nvidia-smi line 1"))
    );
}

#[test]
fn pretended_driver_skips_probing() {
    let settings = KeySettings::new(None, None, Some("570.86.10"), false).unwrap();
    let fake = Fake {
        nvml: Some(Ok(NvmlReport {
            library: "x".into(),
            driver: v("580.65.06"),
            cuda: CudaVersion::from_driver_api(13000),
            gpus: vec![h100(0)],
            notes: vec![],
        })),
        ..Fake::default()
    };
    let d = detect_with(&fake, &settings);
    assert_eq!(d.source, Source::Env);
    assert_eq!(d.driver_version, Some(v("570.86.10")));
    assert_eq!(d.cuda_version, Some(CudaVersion::new(12, 8)));
    assert!(d.gpus.is_empty());
}

#[test]
fn detection_serialises_in_a_fixed_shape() {
    let d = detect_on(&Fake {
        smi_query: Some(Ok(fixture!("smi-query-one-gpu.csv"))),
        smi_banner: Some(Ok("Driver Version: 570.133.20   CUDA Version: 12.8\n")),
        ..Fake::default()
    });
    insta::assert_json_snapshot!(d, @r#"
    {
      "source": "nvidia-smi",
      "driver_version": "570.133.20",
      "cuda_version": "12.8",
      "cuda_from": "nvidia-smi",
      "gpus": [
        {
          "index": 0,
          "name": "NVIDIA GeForce RTX 4090",
          "memory_mib": 24564,
          "compute_capability": "8.9",
          "uuid": "GPU-8d4c7f0e-6a1b-4f3e-9c2d-1e5b7a9f0c34"
        }
      ],
      "notes": [
        "NVML not found (libnvidia-ml.so.1 is not installed)"
      ]
    }
    "#);
}
