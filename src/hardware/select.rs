//! Key selection: which of the manifest's `foundation.keys` (best first) this machine takes.
//! Pure: the declared keys, the user's request and a [`Detection`] in, a [`Selection`] out.
//!
//! Rules: a `cuXY` key needs a driver that runs CUDA X.Y; `cpu` runs everywhere; other
//! families (`rocm6-4`, `xpu`) are taken only when asked for by name. Without a request the
//! first declared key the machine runs wins. A request (flag, else `SANCTUARY_KEY`) picks the
//! key; it is refused when a detected driver is too old for it, unless `--ignore-driver`, and
//! used as given when no driver was found at all (a container build, CI).

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use super::Detection;
use super::cuda::{CudaVersion, DRIVER_CUDA_TABLE, DriverVersion, InvalidDriverVersion};

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRequest {
    /// `--cuda13`: the best declared `cu13x` key.
    Cuda13,
    /// `--cuda12`: the best declared `cu12x` key.
    Cuda12,
    /// `--cpu`: the `cpu` key.
    Cpu,
    /// `--key TAG` or `SANCTUARY_KEY=TAG`: that key.
    Key(String),
}

/// Where a request came from; a flag wins over the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RequestOrigin {
    Flag,
    /// `SANCTUARY_KEY`.
    Env,
    /// The key the environment was last synced with (`doctor` without a flag).
    Venv,
}

/// A request and its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    pub request: KeyRequest,
    pub origin: RequestOrigin,
}

impl fmt::Display for Requested {
    /// As the user wrote it: `--cuda13`, `--key cu128`, `SANCTUARY_KEY=cu128`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.request, self.origin) {
            (KeyRequest::Key(k), RequestOrigin::Env) => write!(f, "SANCTUARY_KEY={k}"),
            (KeyRequest::Key(k), RequestOrigin::Flag) => write!(f, "--key {k}"),
            (KeyRequest::Key(k), RequestOrigin::Venv) => {
                write!(f, "{k} (the key the environment was synced with)")
            }
            (KeyRequest::Cuda13, _) => f.write_str("--cuda13"),
            (KeyRequest::Cuda12, _) => f.write_str("--cuda12"),
            (KeyRequest::Cpu, _) => f.write_str("--cpu"),
        }
    }
}

/// The checked key choice of a command (`detect`, `lock`, `sync`): flags and environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySettings {
    /// The flag if any, else `SANCTUARY_KEY`.
    pub requested: Option<Requested>,
    /// Use a requested key even when the detected driver is too old for it.
    pub ignore_driver: bool,
    /// `SANCTUARY_CUDA_DRIVER_VERSION`: detect as if this driver were installed.
    pub pretend_driver: Option<DriverVersion>,
    /// `SANCTUARY_HARDWARE_ROOT`: probe a file tree standing for `/` instead of this
    /// machine (tests, or a mounted system image). Set by the caller, not by [`KeySettings::new`].
    pub hardware_root: Option<PathBuf>,
}

/// An environment override that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeySettingsError {
    #[error(
        "SANCTUARY_KEY=`{0}` is not a hardware key: use lowercase letters, digits and `-` (e.g. cu130, cpu)"
    )]
    InvalidEnvKey(String),
    #[error(
        "--key `{0}` is not a hardware key: use lowercase letters, digits and `-` (e.g. cu130, cpu)"
    )]
    InvalidFlagKey(String),
    #[error("SANCTUARY_CUDA_DRIVER_VERSION: {0}")]
    InvalidDriver(#[source] InvalidDriverVersion),
}

impl KeySettings {
    /// Combine the flag (`--cuda13`, `--cuda12`, `--cpu`, `--key`; at most one, clap checks)
    /// with the values of `SANCTUARY_KEY` and `SANCTUARY_CUDA_DRIVER_VERSION` (empty counts as
    /// unset). The flag wins over `SANCTUARY_KEY`.
    pub fn new(
        flag: Option<KeyRequest>,
        env_key: Option<&str>,
        env_driver: Option<&str>,
        ignore_driver: bool,
    ) -> Result<KeySettings, KeySettingsError> {
        if let Some(KeyRequest::Key(k)) = &flag
            && !is_key(k)
        {
            return Err(KeySettingsError::InvalidFlagKey(k.clone()));
        }
        let requested = match (flag, set(env_key)) {
            (Some(request), _) => Some(Requested {
                request,
                origin: RequestOrigin::Flag,
            }),
            (None, Some(k)) if is_key(k) => Some(Requested {
                request: KeyRequest::Key(k.to_string()),
                origin: RequestOrigin::Env,
            }),
            (None, Some(k)) => return Err(KeySettingsError::InvalidEnvKey(k.to_string())),
            (None, None) => None,
        };
        let pretend_driver = set(env_driver)
            .map(str::parse)
            .transpose()
            .map_err(KeySettingsError::InvalidDriver)?;
        Ok(KeySettings {
            requested,
            ignore_driver,
            pretend_driver,
            hardware_root: None,
        })
    }
}

impl KeySettings {
    /// Ask for `key`, the one the environment was synced with, when nothing else asks.
    pub fn remember(&mut self, key: &str) {
        if self.requested.is_none() && is_key(key) {
            self.requested = Some(Requested {
                request: KeyRequest::Key(key.to_string()),
                origin: RequestOrigin::Venv,
            });
        }
    }
}

/// A set, non-empty environment value.
fn set(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn is_key(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_lowercase())
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// What a key needs from the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFamily {
    /// `cuXY` (optionally `cuXY-...`): a driver that runs CUDA X.Y; the last digit is the
    /// minor version (`cu130` 13.0, `cu128` 12.8, `cu92` 9.2).
    Cuda(CudaVersion),
    /// `cpu`: runs everywhere.
    Cpu,
    /// Anything else (`rocm6-4`, `xpu`): sanctuary cannot tell, so only by name.
    Other,
}

impl KeyFamily {
    pub fn of(key: &str) -> KeyFamily {
        if key == "cpu" {
            return KeyFamily::Cpu;
        }
        let head = key.split('-').next().unwrap_or(key);
        let Some(digits) = head.strip_prefix("cu") else {
            return KeyFamily::Other;
        };
        if digits.len() < 2 || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return KeyFamily::Other;
        }
        let (major, minor) = digits.split_at(digits.len() - 1);
        match (major.parse(), minor.parse()) {
            (Ok(major), Ok(minor)) => KeyFamily::Cuda(CudaVersion::new(major, minor)),
            _ => KeyFamily::Other,
        }
    }

    /// The CUDA version a `cuXY` key needs.
    pub fn needs_cuda(self) -> Option<CudaVersion> {
        match self {
            KeyFamily::Cuda(v) => Some(v),
            _ => None,
        }
    }
}

/// One declared key, and whether this machine runs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Candidate {
    pub key: String,
    /// The CUDA version the key needs (`cuXY` keys only).
    #[schemars(with = "Option<String>")]
    pub needs_cuda: Option<CudaVersion>,
    /// Whether detection alone would take it.
    pub runs: bool,
    pub why: String,
}

/// How the key was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChosenBy {
    /// A flag (`--cuda13`, `--cuda12`, `--cpu`, `--key`).
    Flag,
    /// `SANCTUARY_KEY`.
    Env,
    /// The first declared key the detected machine runs.
    Detection,
    /// The key the environment was last synced with (`doctor` without a flag).
    Venv,
}

/// The chosen key and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Selection {
    pub key: String,
    pub chosen_by: ChosenBy,
    /// One sentence, for people.
    pub reason: String,
    /// Every declared key, best first.
    pub candidates: Vec<Candidate>,
}

/// No key can be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error(
        "key `{key}` (from {requested}) is not declared: `foundation.keys` lists {}",
        list(declared)
    )]
    NotDeclared {
        key: String,
        requested: String,
        declared: Vec<String>,
    },
    #[error(
        "{requested} asks for a CUDA {major} key (cu{major}x), but `foundation.keys` lists none: {}",
        list(declared)
    )]
    NoKeyOfFamily {
        major: u32,
        requested: String,
        declared: Vec<String>,
    },
    #[error(
        "key `{key}` (from {requested}) needs CUDA {needs}, but the NVIDIA driver {driver} {}",
        runs(cuda)
    )]
    DriverTooOld {
        key: String,
        requested: String,
        needs: CudaVersion,
        /// The driver version as detected.
        driver: String,
        cuda: Option<CudaVersion>,
        /// The first declared key the driver runs, for the hint.
        fallback: Option<String>,
    },
    #[error(
        "no declared key runs on this machine ({machine}): `foundation.keys` lists {}",
        list(declared)
    )]
    NothingRuns {
        machine: String,
        declared: Vec<String>,
    },
}

fn list(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn runs(cuda: &Option<CudaVersion>) -> String {
    match cuda {
        Some(c) => format!("runs CUDA {c} at most"),
        None => "runs no CUDA version sanctuary knows".to_string(),
    }
}

impl SelectError {
    /// What the user can do, for the `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            SelectError::NotDeclared { declared, .. } => Some(format!(
                "choose one of the declared keys (--key {}), or add the key to `foundation.keys` and run `sanctuary lock`",
                declared.first().map_or("cpu", String::as_str)
            )),
            SelectError::NoKeyOfFamily { major, .. } => Some(format!(
                "add a cu{major}x key (e.g. cu{major}0) to `foundation.keys`, or choose a declared key with --key"
            )),
            SelectError::DriverTooOld {
                key,
                needs,
                fallback,
                ..
            } => {
                let update = match min_driver_for(*needs) {
                    Some(d) => format!("update the NVIDIA driver to {d} or newer"),
                    None => "update the NVIDIA driver".to_string(),
                };
                let other = fallback
                    .as_ref()
                    .map(|k| format!(", choose a key this driver runs (--key {k})"))
                    .unwrap_or_default();
                Some(format!(
                    "{update}{other}, or pass --ignore-driver to use `{key}` anyway (e.g. to prepare an environment for another machine)"
                ))
            }
            SelectError::NothingRuns { .. } => Some(
                "add `cpu` to `foundation.keys`, or choose a key with --key TAG (or SANCTUARY_KEY)"
                    .to_string(),
            ),
        }
    }
}

/// The oldest driver the table lists for `cuda`.
fn min_driver_for(cuda: CudaVersion) -> Option<&'static str> {
    DRIVER_CUDA_TABLE
        .iter()
        .rev()
        .find(|(_, c)| *c >= cuda)
        .map(|(d, _)| *d)
}

/// Choose among `keys` (the manifest's `foundation.keys`, best first).
///
/// `lock` should pass `ignore_driver: true` in `settings`: locking a key does not run it.
pub fn select_key(
    keys: &[String],
    settings: &KeySettings,
    detection: &Detection,
) -> Result<Selection, SelectError> {
    let candidates: Vec<Candidate> = keys.iter().map(|k| candidate(k, detection)).collect();
    let machine = describe_machine(detection);

    let Some(requested) = &settings.requested else {
        return match candidates.iter().find(|c| c.runs) {
            Some(c) => Ok(Selection {
                key: c.key.clone(),
                chosen_by: ChosenBy::Detection,
                reason: format!(
                    "{machine}; `{}` is the first declared key this machine runs",
                    c.key
                ),
                candidates,
            }),
            None => Err(SelectError::NothingRuns {
                machine,
                declared: keys.to_vec(),
            }),
        };
    };

    let shown = requested.to_string();
    let key = match &requested.request {
        KeyRequest::Key(k) => k.clone(),
        KeyRequest::Cpu => "cpu".to_string(),
        KeyRequest::Cuda13 | KeyRequest::Cuda12 => {
            let major = if requested.request == KeyRequest::Cuda13 {
                13
            } else {
                12
            };
            let family: Vec<&Candidate> = candidates
                .iter()
                .filter(|c| c.needs_cuda.is_some_and(|v| v.major == major))
                .collect();
            // With a driver to respect: the best of the family it runs, else the least
            // demanding one (refused below, naming what it needs). Otherwise the best.
            let pick = if detection.driver_version.is_some() && !settings.ignore_driver {
                family.iter().find(|c| c.runs).or(family.last())
            } else {
                family.first()
            };
            pick.map(|c| c.key.clone())
                .ok_or_else(|| SelectError::NoKeyOfFamily {
                    major,
                    requested: shown.clone(),
                    declared: keys.to_vec(),
                })?
        }
    };
    if !keys.contains(&key) {
        return Err(SelectError::NotDeclared {
            key,
            requested: shown,
            declared: keys.to_vec(),
        });
    }
    let what = match &requested.request {
        KeyRequest::Cuda13 | KeyRequest::Cuda12 if settings.ignore_driver => {
            format!("{shown} (the best declared of its family)")
        }
        KeyRequest::Cuda13 | KeyRequest::Cuda12 if detection.driver_version.is_some() => {
            format!("{shown} (the best of its family the driver runs)")
        }
        KeyRequest::Cuda13 | KeyRequest::Cuda12 => {
            format!("{shown} (the best declared of its family)")
        }
        _ => shown.clone(),
    };
    let check = match (KeyFamily::of(&key).needs_cuda(), &detection.driver_version) {
        (None, _) => String::new(),
        (Some(_), None) => {
            "; no NVIDIA driver found, so the key is used as asked (e.g. building for another machine)"
                .to_string()
        }
        (Some(needs), Some(driver)) => {
            let ok = detection.cuda_version.is_some_and(|c| c >= needs);
            if ok {
                format!("; {machine}")
            } else if settings.ignore_driver {
                format!(
                    "; --ignore-driver: the NVIDIA driver {driver} {}, older than the key's CUDA {needs}",
                    runs(&detection.cuda_version)
                )
            } else {
                return Err(SelectError::DriverTooOld {
                    key,
                    requested: shown,
                    needs,
                    driver: driver.to_string(),
                    cuda: detection.cuda_version,
                    fallback: candidates.iter().find(|c| c.runs).map(|c| c.key.clone()),
                });
            }
        }
    };
    Ok(Selection {
        key,
        chosen_by: match requested.origin {
            RequestOrigin::Flag => ChosenBy::Flag,
            RequestOrigin::Env => ChosenBy::Env,
            RequestOrigin::Venv => ChosenBy::Venv,
        },
        reason: format!("asked for by {what}{check}"),
        candidates,
    })
}

/// `driver 580.65.06 runs CUDA 13.0`, `no NVIDIA driver found`.
fn describe_machine(detection: &Detection) -> String {
    match (&detection.driver_version, detection.cuda_version) {
        (None, _) => "no NVIDIA driver found".to_string(),
        (Some(d), c) => format!("the NVIDIA driver {d} {}", runs(&c)),
    }
}

fn candidate(key: &str, detection: &Detection) -> Candidate {
    let family = KeyFamily::of(key);
    let (runs, why) = match family {
        KeyFamily::Cpu => (true, "runs everywhere".to_string()),
        KeyFamily::Other => (
            false,
            "sanctuary cannot detect this family; taken only when asked for by name".to_string(),
        ),
        KeyFamily::Cuda(needs) => match (&detection.driver_version, detection.cuda_version) {
            (None, _) => (false, format!("needs CUDA {needs}; no NVIDIA driver found")),
            (Some(_), Some(c)) if c >= needs => {
                (true, format!("needs CUDA {needs}; the driver runs {c}"))
            }
            (Some(d), c) => (
                false,
                format!("needs CUDA {needs}; the driver {d} {}", runs(&c)),
            ),
        },
    };
    Candidate {
        key: key.to_string(),
        needs_cuda: family.needs_cuda(),
        runs,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{CudaSource, Detection, Source};

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const FORGE: &[&str] = &["cu130", "cu128", "cu126", "cpu"];

    fn none() -> Detection {
        Detection::nothing()
    }

    /// A machine whose driver reports what the table says.
    fn driver(v: &str) -> Detection {
        let driver: DriverVersion = v.parse().unwrap();
        Detection {
            source: Source::Proc,
            cuda_version: driver.max_cuda(),
            cuda_from: Some(CudaSource::DriverTable),
            driver_version: Some(driver),
            gpus: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn settings(flag: Option<KeyRequest>, env: Option<&str>) -> KeySettings {
        KeySettings::new(flag, env, None, false).unwrap()
    }

    fn choose(list: &[&str], s: &KeySettings, d: &Detection) -> Result<String, SelectError> {
        select_key(&keys(list), s, d).map(|s| s.key)
    }

    fn detected(list: &[&str], d: &Detection) -> String {
        choose(list, &KeySettings::default(), d).unwrap()
    }

    #[test]
    fn families() {
        assert_eq!(
            KeyFamily::of("cu130"),
            KeyFamily::Cuda(CudaVersion::new(13, 0))
        );
        assert_eq!(
            KeyFamily::of("cu128"),
            KeyFamily::Cuda(CudaVersion::new(12, 8))
        );
        assert_eq!(
            KeyFamily::of("cu92"),
            KeyFamily::Cuda(CudaVersion::new(9, 2))
        );
        assert_eq!(
            KeyFamily::of("cu102"),
            KeyFamily::Cuda(CudaVersion::new(10, 2))
        );
        assert_eq!(
            KeyFamily::of("cu128-sm90"),
            KeyFamily::Cuda(CudaVersion::new(12, 8))
        );
        assert_eq!(KeyFamily::of("cpu"), KeyFamily::Cpu);
        for other in ["rocm6-4", "xpu", "cu", "cu1", "cuda13", "cpu-avx2", "cu13x"] {
            assert_eq!(KeyFamily::of(other), KeyFamily::Other, "{other}");
        }
    }

    #[test]
    fn detection_takes_the_first_key_the_driver_runs() {
        assert_eq!(detected(FORGE, &driver("580.65.06")), "cu130");
        assert_eq!(detected(FORGE, &driver("590.44.01")), "cu130");
        assert_eq!(detected(FORGE, &driver("579.1")), "cu128");
        assert_eq!(detected(FORGE, &driver("570.133.20")), "cu128");
        assert_eq!(detected(FORGE, &driver("565.57.01")), "cu126");
        assert_eq!(detected(FORGE, &driver("560.35.03")), "cu126");
        assert_eq!(detected(FORGE, &driver("555.42.02")), "cpu");
        assert_eq!(detected(FORGE, &driver("470.256.02")), "cpu");
        assert_eq!(detected(FORGE, &none()), "cpu");
        // Order is the manifest's: best first, as written.
        assert_eq!(
            detected(&["cu126", "cu130", "cpu"], &driver("580")),
            "cu126"
        );
    }

    #[test]
    fn unknown_families_only_by_name() {
        let list = &["rocm6-4", "cu128", "cpu"];
        assert_eq!(detected(list, &driver("570.86.10")), "cu128");
        assert_eq!(detected(list, &none()), "cpu");
        let s = settings(Some(KeyRequest::Key("rocm6-4".into())), None);
        assert_eq!(choose(list, &s, &driver("570.86.10")).unwrap(), "rocm6-4");
        let e = choose(&["rocm6-4", "cu130"], &KeySettings::default(), &none()).unwrap_err();
        assert!(matches!(e, SelectError::NothingRuns { .. }));
        insta::assert_snapshot!(
            format!("error: {e}\nhint: {}", e.hint().unwrap()),
            @r"
        error: no declared key runs on this machine (no NVIDIA driver found): `foundation.keys` lists `rocm6-4`, `cu130`
        hint: add `cpu` to `foundation.keys`, or choose a key with --key TAG (or SANCTUARY_KEY)
        "
        );
    }

    #[test]
    fn cuda13_and_cuda12_take_the_best_of_their_family() {
        let s13 = settings(Some(KeyRequest::Cuda13), None);
        let s12 = settings(Some(KeyRequest::Cuda12), None);
        assert_eq!(choose(FORGE, &s13, &driver("580.65.06")).unwrap(), "cu130");
        assert_eq!(choose(FORGE, &s12, &driver("580.65.06")).unwrap(), "cu128");
        assert_eq!(choose(FORGE, &s12, &driver("570.133.20")).unwrap(), "cu128");
        // The best of the family the driver runs.
        assert_eq!(choose(FORGE, &s12, &driver("560.35.03")).unwrap(), "cu126");
        // None of it: refused, naming the least demanding one.
        let e = choose(FORGE, &s12, &driver("555.42.02")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key `cu126` (from --cuda12) needs CUDA 12.6, but the NVIDIA driver 555.42.02 runs CUDA 12.5 at most"
        );
        // --ignore-driver: the best of the family.
        let mut s = s12.clone();
        s.ignore_driver = true;
        assert_eq!(choose(FORGE, &s, &driver("555.42.02")).unwrap(), "cu128");
        // No driver: used as asked.
        assert_eq!(choose(FORGE, &s13, &none()).unwrap(), "cu130");
        let e = choose(&["cu128", "cpu"], &s13, &none()).unwrap_err();
        insta::assert_snapshot!(
            format!("error: {e}\nhint: {}", e.hint().unwrap()),
            @r"
        error: --cuda13 asks for a CUDA 13 key (cu13x), but `foundation.keys` lists none: `cu128`, `cpu`
        hint: add a cu13x key (e.g. cu130) to `foundation.keys`, or choose a declared key with --key
        "
        );
    }

    #[test]
    fn cpu_and_key_flags() {
        let cpu = settings(Some(KeyRequest::Cpu), None);
        assert_eq!(choose(FORGE, &cpu, &driver("580.65.06")).unwrap(), "cpu");
        let k = settings(Some(KeyRequest::Key("cu126".into())), None);
        assert_eq!(choose(FORGE, &k, &driver("580.65.06")).unwrap(), "cu126");
        let e = choose(&["cu130"], &cpu, &none()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key `cpu` (from --cpu) is not declared: `foundation.keys` lists `cu130`"
        );
        let k = settings(Some(KeyRequest::Key("cu118".into())), None);
        let e = choose(FORGE, &k, &none()).unwrap_err();
        insta::assert_snapshot!(
            format!("error: {e}\nhint: {}", e.hint().unwrap()),
            @r"
        error: key `cu118` (from --key cu118) is not declared: `foundation.keys` lists `cu130`, `cu128`, `cu126`, `cpu`
        hint: choose one of the declared keys (--key cu130), or add the key to `foundation.keys` and run `sanctuary lock`
        "
        );
    }

    #[test]
    fn flag_beats_sanctuary_key_beats_detection() {
        let d = driver("580.65.06");
        let env = settings(None, Some("cu126"));
        let s = select_key(&keys(FORGE), &env, &d).unwrap();
        assert_eq!((s.key.as_str(), s.chosen_by), ("cu126", ChosenBy::Env));
        assert_eq!(
            s.reason,
            "asked for by SANCTUARY_KEY=cu126; the NVIDIA driver 580.65.06 runs CUDA 13.0 at most"
        );
        let both = settings(Some(KeyRequest::Cpu), Some("cu126"));
        let s = select_key(&keys(FORGE), &both, &d).unwrap();
        assert_eq!((s.key.as_str(), s.chosen_by), ("cpu", ChosenBy::Flag));
        let s = select_key(&keys(FORGE), &settings(None, Some("")), &d).unwrap();
        assert_eq!(
            (s.key.as_str(), s.chosen_by),
            ("cu130", ChosenBy::Detection)
        );
        // SANCTUARY_KEY is checked like --key.
        let e = choose(FORGE, &settings(None, Some("cu999")), &d).unwrap_err();
        assert!(e.to_string().contains("(from SANCTUARY_KEY=cu999)"), "{e}");
    }

    #[test]
    fn settings_reject_malformed_overrides() {
        assert_eq!(
            KeySettings::new(None, Some("CU130"), None, false).unwrap_err(),
            KeySettingsError::InvalidEnvKey("CU130".into())
        );
        assert_eq!(
            KeySettings::new(Some(KeyRequest::Key("cu 130".into())), None, None, false)
                .unwrap_err()
                .to_string(),
            "--key `cu 130` is not a hardware key: use lowercase letters, digits and `-` (e.g. cu130, cpu)"
        );
        let e = KeySettings::new(None, None, Some("five-eighty"), false).unwrap_err();
        assert!(matches!(e, KeySettingsError::InvalidDriver(_)));
        let s = KeySettings::new(None, None, Some(" 580.65.06 "), true).unwrap();
        assert_eq!(s.pretend_driver, Some("580.65.06".parse().unwrap()));
        assert!(s.ignore_driver);
    }

    #[test]
    fn an_explicit_key_newer_than_the_driver_is_refused() {
        let d = driver("570.133.20");
        let s = settings(Some(KeyRequest::Cuda13), None);
        let e = choose(FORGE, &s, &d).unwrap_err();
        insta::assert_snapshot!(
            format!("error: {e}\nhint: {}", e.hint().unwrap()),
            @r"
        error: key `cu130` (from --cuda13) needs CUDA 13.0, but the NVIDIA driver 570.133.20 runs CUDA 12.8 at most
        hint: update the NVIDIA driver to 580 or newer, choose a key this driver runs (--key cu128), or pass --ignore-driver to use `cu130` anyway (e.g. to prepare an environment for another machine)
        "
        );
        let env = settings(None, Some("cu128"));
        let e = choose(FORGE, &env, &driver("535.183.01")).unwrap_err();
        insta::assert_snapshot!(
            format!("error: {e}\nhint: {}", e.hint().unwrap()),
            @r"
        error: key `cu128` (from SANCTUARY_KEY=cu128) needs CUDA 12.8, but the NVIDIA driver 535.183.01 runs CUDA 12.2 at most
        hint: update the NVIDIA driver to 570 or newer, choose a key this driver runs (--key cpu), or pass --ignore-driver to use `cu128` anyway (e.g. to prepare an environment for another machine)
        "
        );
        let old = driver("390.157");
        let e = choose(
            FORGE,
            &settings(Some(KeyRequest::Key("cu126".into())), None),
            &old,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "key `cu126` (from --key cu126) needs CUDA 12.6, but the NVIDIA driver 390.157 runs no CUDA version sanctuary knows"
        );
    }

    #[test]
    fn ignore_driver_uses_the_key_and_says_so() {
        let mut s = settings(Some(KeyRequest::Cuda13), None);
        s.ignore_driver = true;
        let sel = select_key(&keys(FORGE), &s, &driver("570.133.20")).unwrap();
        assert_eq!(sel.key, "cu130");
        assert_eq!(
            sel.reason,
            "asked for by --cuda13 (the best declared of its family); --ignore-driver: the NVIDIA driver 570.133.20 runs CUDA 12.8 at most, older than the key's CUDA 13.0"
        );
    }

    #[test]
    fn pretended_driver_versions_choose_like_real_ones() {
        // SANCTUARY_CUDA_DRIVER_VERSION feeds detection; see `detect_with` in the module tests.
        for (pretend, key) in [
            ("580", "cu130"),
            ("570.86.10", "cu128"),
            ("560", "cu126"),
            ("535", "cpu"),
        ] {
            let s = KeySettings::new(None, None, Some(pretend), false).unwrap();
            let d = crate::hardware::detect_with(&crate::hardware::tests::NoMachine, &s);
            assert_eq!(choose(FORGE, &s, &d).unwrap(), key, "{pretend}");
        }
    }

    #[test]
    fn reasons_and_candidates_explain_the_choice() {
        let sel = select_key(&keys(FORGE), &KeySettings::default(), &driver("570.133.20")).unwrap();
        assert_eq!(
            sel.reason,
            "the NVIDIA driver 570.133.20 runs CUDA 12.8 at most; `cu128` is the first declared key this machine runs"
        );
        let why: Vec<(bool, &str)> = sel
            .candidates
            .iter()
            .map(|c| (c.runs, c.why.as_str()))
            .collect();
        assert_eq!(
            why,
            [
                (
                    false,
                    "needs CUDA 13.0; the driver 570.133.20 runs CUDA 12.8 at most"
                ),
                (true, "needs CUDA 12.8; the driver runs 12.8"),
                (true, "needs CUDA 12.6; the driver runs 12.8"),
                (true, "runs everywhere"),
            ]
        );
        let sel = select_key(&keys(FORGE), &KeySettings::default(), &none()).unwrap();
        assert_eq!(
            sel.reason,
            "no NVIDIA driver found; `cpu` is the first declared key this machine runs"
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Detection never picks a key the machine cannot run, and picks the first it can.
            #[test]
            fn detection_picks_the_first_runnable(
                minors in prop::collection::vec((9u32..14, 0u32..10), 0..6),
                with_cpu in any::<bool>(),
                branch in 400u32..700,
            ) {
                let mut list: Vec<String> = minors.iter().map(|(a, b)| format!("cu{a}{b}")).collect();
                list.dedup();
                if with_cpu { list.push("cpu".into()); }
                let d = driver(&branch.to_string());
                match select_key(&list, &KeySettings::default(), &d) {
                    Ok(sel) => {
                        let pos = list.iter().position(|k| *k == sel.key).unwrap();
                        for earlier in &list[..pos] {
                            let needs = KeyFamily::of(earlier).needs_cuda().unwrap();
                            prop_assert!(d.cuda_version.is_none_or(|c| c < needs));
                        }
                        if let Some(needs) = KeyFamily::of(&sel.key).needs_cuda() {
                            prop_assert!(d.cuda_version.unwrap() >= needs);
                        }
                    }
                    Err(SelectError::NothingRuns { .. }) => prop_assert!(!with_cpu),
                    Err(e) => prop_assert!(false, "{e}"),
                }
            }
        }
    }
}
