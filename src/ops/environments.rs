//! Which one of the manifest's environments (its [`Universe`]: `[project] platforms` x
//! `python`) a command installs or reads, and its lockfiles as seen from there.
//!
//! A universal lockfile covers several environments (`environments`) and may hold a package
//! in several versions whose `marker`s tell them apart. As a PEP 751 installer does, sanctuary
//! evaluates the markers for one environment: every lockfile `sync`, `doctor`, `tree` and
//! `export` read goes through [`narrow`] ([`Lockfile::for_environment`]), so the wheels, plans,
//! reports, trees and pins downstream see a plain single-environment lock. The environment is
//! the host's — this machine's platform and the Python of the venv, or of the interpreter a new
//! venv gets ([`for_venv`]) — or, for `export` and `tree`, the one `--platform` and `--python`
//! name ([`for_reading`]). A host that is none of the declared environments is refused, naming
//! the lockfile and what it covers.
//!
//! A manifest with a single environment keeps to it whatever the host, as before universal
//! locks: `sync` then checks the host and the venv's Python against it
//! ([`super::syncing::check_host`], [`super::syncing::check_venv_python`]).

use std::path::Path;

use pep440_rs::Version;

use super::lockfiles::{Loaded, Selection};
use crate::error::Result;
use crate::install::venv::{self as venvs, Interpreter};
use crate::manifest::Manifest;
use crate::pylock::Lockfile;
use crate::target::{self, Platform, Target};
use crate::universe::{Universe, environment_marker, minor_of, short_name};

/// The environment a command works in.
#[derive(Clone, Debug)]
pub struct ChosenEnv {
    pub target: Target,
    /// The Python an interpreter must be: the manifest's `python` for a single environment,
    /// else the chosen minor (`3.12`).
    pub python: String,
    /// The manifest declares several environments: its lockfiles are read through their
    /// markers, and a lockfile that does not cover this one is refused.
    pub universal: bool,
    /// The base interpreter found for a venv that does not exist yet, which chose the
    /// Python (so `sync` creates the venv with it).
    pub interpreter: Option<Interpreter>,
}

impl ChosenEnv {
    /// The manifest's only environment.
    fn single(manifest: &Manifest) -> ChosenEnv {
        ChosenEnv {
            target: manifest.target.clone(),
            python: manifest.python.clone(),
            universal: false,
            interpreter: None,
        }
    }

    fn of(target: &Target, interpreter: Option<Interpreter>) -> ChosenEnv {
        ChosenEnv {
            python: minor_text(target),
            target: target.clone(),
            universal: true,
            interpreter,
        }
    }

    /// `Python 3.12 on linux-x86_64`.
    pub fn describe(&self) -> String {
        words(&self.target)
    }
}

/// The host (or the environment asked for) is none of the declared environments.
#[derive(Clone, Debug)]
pub struct Outside {
    /// `Python 3.10 on linux-x86_64`, or `linux-x86_64` when no Python could be told.
    pub host: String,
    /// What to change, for the `hint:` line.
    pub hint: String,
}

/// A declared environment, or why the host is none of them.
#[derive(Clone, Debug)]
pub enum Choice {
    Declared(ChosenEnv),
    Outside(Outside),
}

/// The environment could not be chosen, or the lockfiles do not cover it.
#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    #[error("{host} is outside {lockfile}: it covers {}", covered.join("; "))]
    NotCovered {
        host: String,
        lockfile: String,
        covered: Vec<String>,
        hint: String,
    },
    #[error("--platform {platform}: {manifest} declares no such platform (declared: {})", declared.join(", "))]
    UnknownPlatform {
        platform: String,
        manifest: String,
        declared: Vec<String>,
    },
    #[error("--python {python}: {manifest} declares no such Python (declared: {})", declared.join(", "))]
    UnknownPython {
        python: String,
        manifest: String,
        declared: Vec<String>,
    },
    #[error(
        "{manifest} declares several Python versions ({}) and there is no environment at {venv} to take one from: {command} needs --python",
        declared.join(", ")
    )]
    NeedPython {
        command: String,
        manifest: String,
        venv: String,
        declared: Vec<String>,
    },
}

impl ChoiceError {
    /// The `hint:` line for this error.
    pub fn hint(&self) -> Option<String> {
        match self {
            ChoiceError::NotCovered { hint, .. } => Some(hint.clone()),
            ChoiceError::UnknownPlatform { declared, .. } => Some(format!(
                "name one of them (e.g. `--platform {}`), or add it to `[project] platforms` and run `sanctuary lock`",
                declared.first().map_or("linux-x86_64", String::as_str)
            )),
            ChoiceError::UnknownPython { declared, .. } => Some(format!(
                "name one of them (e.g. `--python {}`), or widen `python` in the manifest and run `sanctuary lock`",
                declared.last().map_or("3.12", String::as_str)
            )),
            ChoiceError::NeedPython { declared, .. } => Some(format!(
                "pass `--python {}` (or another declared version), or run `sanctuary sync` first",
                declared.last().map_or("3.12", String::as_str)
            )),
        }
    }
}

/// For `sync` and `doctor`: the environment of the venv at `root` (its Python) on this
/// machine's platform; when the venv does not exist yet, of the interpreter a new one would
/// get: `explicit` (`--python`), which must be a declared Python, else the newest declared
/// minor found on `PATH` (nothing is downloaded).
pub fn for_venv(manifest: &Manifest, root: &Path, explicit: Option<&Path>) -> Result<Choice> {
    let universe = &manifest.universe;
    if !universe.is_universal() {
        return Ok(Choice::Declared(ChosenEnv::single(manifest)));
    }
    let host = target::host()?;
    let venv_python = if root.join("pyvenv.cfg").is_file() {
        match venvs::venv_python_version(root)? {
            Some(version) => Some(minor_of_text(&version).ok_or_else(|| {
                crate::error::Error::msg(format!(
                    "{}/pyvenv.cfg names Python `{version}`, which is not a CPython 3 version",
                    root.display()
                ))
            })?),
            None => crate::bail!("{}/pyvenv.cfg names no Python version", root.display()),
        }
    } else {
        None
    };
    if !universe.runs_on(&host) {
        return Ok(Choice::Outside(outside(
            manifest,
            &host,
            venv_python.as_ref(),
            None,
        )));
    }
    let (python, interpreter) = match venv_python {
        Some(python) => (python, None),
        None => {
            let mut minors = universe.python_minors();
            minors.reverse();
            let interpreter = venvs::find_any_interpreter(&minors, explicit)?;
            let (major, minor) = interpreter.major_minor();
            (Version::new([major, minor]), Some(interpreter))
        }
    };
    Ok(match locate(universe, &host, &python) {
        Some(target) => Choice::Declared(ChosenEnv::of(target, interpreter)),
        None => {
            let mut outside = outside(manifest, &host, Some(&python), None);
            // The venv exists with a Python the manifest no longer declares (it was
            // narrowed): recreating the venv is the likelier fix.
            if interpreter.is_none() {
                let newest = universe.python_minors().pop().unwrap_or_default();
                outside.hint = format!(
                    "{} was made with Python 3.{}: remove it and run `sanctuary sync --python {newest}` to recreate it with a declared Python; or {}",
                    root.display(),
                    minor_of(&python),
                    outside.hint
                );
            }
            Choice::Outside(outside)
        }
    })
}

/// For `export` and `tree`: the environment `platform` and `python` name (each must be
/// declared), by default this machine's platform and the Python of the manifest's venv (or
/// the only declared one). `command` is named when `--python` is needed.
pub fn for_reading(
    manifest: &Manifest,
    platform: Option<&str>,
    python: Option<&str>,
    command: &str,
) -> Result<Choice> {
    let universe = &manifest.universe;
    let shown = manifest.path.display().to_string();
    let platform = match platform {
        Some(name) => {
            let parsed = target::parse_platform(name)?;
            let declared = universe
                .targets()
                .iter()
                .find(|t| t.platform.same_system(&parsed))
                .ok_or_else(|| ChoiceError::UnknownPlatform {
                    platform: name.to_string(),
                    manifest: shown.clone(),
                    declared: universe.platform_short_names(),
                })?;
            Some(declared.platform.clone())
        }
        None => None,
    };
    let python = match python {
        Some(text) => {
            let version = target::parse_python(text)?;
            let minor = Version::new([3, minor_of(&version)]);
            if !universe.python_minors().contains(&minor_text_of(&minor)) {
                return Err(ChoiceError::UnknownPython {
                    python: text.to_string(),
                    manifest: shown,
                    declared: universe.python_minors(),
                }
                .into());
            }
            Some(minor)
        }
        None => None,
    };
    if !universe.is_universal() {
        // The flags, when given, were checked against the one environment above.
        return Ok(Choice::Declared(ChosenEnv::single(manifest)));
    }
    let platform = match platform {
        Some(p) => p,
        None => {
            let host = target::host()?;
            if !universe.runs_on(&host) {
                return Ok(Choice::Outside(outside(
                    manifest,
                    &host,
                    python.as_ref(),
                    Some(command),
                )));
            }
            host
        }
    };
    let python = match python {
        Some(p) => p,
        None => reading_python(manifest, command)?,
    };
    Ok(match locate(universe, &platform, &python) {
        Some(target) => Choice::Declared(ChosenEnv::of(target, None)),
        None => Choice::Outside(outside(manifest, &platform, Some(&python), Some(command))),
    })
}

/// The Python `export` and `tree` read for when not told: the venv's, else the only one.
fn reading_python(manifest: &Manifest, command: &str) -> Result<Version> {
    let universe = &manifest.universe;
    let venv = super::syncing::venv_root(manifest, None)?;
    if venv.join("pyvenv.cfg").is_file()
        && let Some(version) = venvs::venv_python_version(&venv)?
        && let Some(minor) = minor_of_text(&version)
    {
        return Ok(minor);
    }
    let declared = universe.python_minors();
    match declared.as_slice() {
        [only] => Ok(target::parse_python(only)?),
        _ => Err(ChoiceError::NeedPython {
            command: command.to_string(),
            manifest: manifest.path.display().to_string(),
            venv: crate::fs::display(&venv, manifest.dir()),
            declared,
        }
        .into()),
    }
}

/// The declared environment of `platform`'s system with `python`'s minor, found by its
/// markers as an installer would.
fn locate<'a>(universe: &'a Universe, platform: &Platform, python: &Version) -> Option<&'a Target> {
    let probe = Target::from_parts(Version::new([3, minor_of(python)]), platform.clone());
    universe
        .find(probe.markers())
        .filter(|t| t.platform.same_system(platform))
}

/// Why `platform` with `python` (when known) is not declared, and what to change.
fn outside(
    manifest: &Manifest,
    platform: &Platform,
    python: Option<&Version>,
    command: Option<&str>,
) -> Outside {
    let universe = &manifest.universe;
    let platform_name = short_name(platform);
    let host = match python {
        Some(v) => format!("Python 3.{} on {platform_name}", minor_of(v)),
        None => platform_name.clone(),
    };
    let manifest_name = manifest.path.display();
    let platform_declared = universe
        .targets()
        .iter()
        .any(|t| t.platform.same_system(platform));
    let mut hint = if platform_declared {
        let minor = python
            .map(|v| format!("3.{}", minor_of(v)))
            .unwrap_or_default();
        format!(
            "widen `python = \"{}\"` in {manifest_name} to take in {minor}, then run `sanctuary lock`; or use an environment of a declared Python ({})",
            manifest.python,
            universe.python_minors().join(", ")
        )
    } else {
        format!(
            "add \"{platform_name}\" to `[project] platforms` in {manifest_name}, then run `sanctuary lock`"
        )
    };
    if let Some(command) = command {
        hint.push_str(&format!(
            "; or name a declared environment with `sanctuary {command} --platform P --python V`"
        ));
    }
    Outside { host, hint }
}

/// The lockfiles of `selection` seen from `choice`: refused when the host is outside the
/// declared environments or a lockfile does not cover the chosen one (naming the lockfile
/// and what it covers), else each read through its markers ([`Lockfile::for_environment`]).
pub fn narrow(
    manifest: &Manifest,
    mut selection: Selection,
    choice: &Choice,
) -> Result<(Selection, ChosenEnv)> {
    let chosen = match choice {
        Choice::Declared(chosen) => chosen,
        Choice::Outside(outside) => {
            let first = selection.files().first().map(|l| (*l).clone());
            let (lockfile, covered) = match &first {
                Some(l) => (l.rel.clone(), covered_words(manifest, &l.lock)),
                None => (manifest.path.display().to_string(), Vec::new()),
            };
            return Err(ChoiceError::NotCovered {
                host: outside.host.clone(),
                lockfile,
                covered,
                hint: outside.hint.clone(),
            }
            .into());
        }
    };
    for loaded in selection
        .foundation
        .iter_mut()
        .chain(selection.application.iter_mut())
    {
        narrow_one(manifest, loaded, chosen)?;
    }
    // Context only (which Foundation version an Application builds on): dropped when it
    // does not cover the environment rather than refused.
    if let Some(beneath) = &mut selection.beneath
        && narrow_one(manifest, beneath, chosen).is_err()
    {
        selection.beneath = None;
    }
    Ok((selection, chosen.clone()))
}

/// One lockfile seen from `chosen`: as it is for a single environment and a lockfile without
/// markers (as before universal locks), else its entries whose markers hold, refused when its
/// `environments` do not cover `chosen`.
fn narrow_one(manifest: &Manifest, loaded: &mut Loaded, chosen: &ChosenEnv) -> Result<()> {
    if !chosen.universal && !loaded.lock.is_universal() {
        return Ok(());
    }
    let markers = chosen.target.markers();
    if !loaded.lock.covers(markers) {
        // A key whose builds do not run on the platform (a CUDA key on a Mac) is not a stale
        // lockfile: say which keys do.
        let hint = match &loaded.lock.tool.key {
            Some(key) if !crate::hardware::family::serves(key, &chosen.target.platform) => {
                let keys: Vec<&str> = manifest
                    .foundation
                    .iter()
                    .flat_map(|f| &f.keys)
                    .filter(|k| crate::hardware::family::serves(k, &chosen.target.platform))
                    .map(String::as_str)
                    .collect();
                format!(
                    "the builds of key `{key}` run on {} only; on {} take {}",
                    crate::hardware::family::served_words(key),
                    crate::universe::short_name(&chosen.target.platform),
                    match keys.as_slice() {
                        [] => "a key that runs there (add `cpu` to [foundation] keys)".to_string(),
                        keys => format!("--key {}", keys.join(" or --key ")),
                    }
                )
            }
            _ => format!(
                "the lockfile was written for other environments than {} declares: run `sanctuary lock`",
                manifest.path.display()
            ),
        };
        return Err(ChoiceError::NotCovered {
            host: chosen.describe(),
            lockfile: loaded.rel.clone(),
            covered: covered_words(manifest, &loaded.lock),
            hint,
        }
        .into());
    }
    loaded.lock = loaded
        .lock
        .for_environment(markers)
        .map_err(|e| crate::error::Error::from(e).context(format!("cannot read {}", loaded.rel)))?;
    Ok(())
}

/// The lock's `environments` in words: `Python 3.12 on linux-x86_64` for the ones the
/// manifest declares, the marker as written for any other.
fn covered_words(manifest: &Manifest, lock: &Lockfile) -> Vec<String> {
    if lock.environments.is_empty() {
        return vec!["every environment".to_string()];
    }
    lock.environments
        .iter()
        .map(|marker| {
            manifest
                .universe
                .targets()
                .iter()
                .find(|t| environment_marker(t) == *marker)
                .map_or_else(|| format!("`{marker}`"), words)
        })
        .collect()
}

/// `Python 3.12 on linux-x86_64`.
fn words(target: &Target) -> String {
    format!(
        "Python {} on {}",
        minor_text(target),
        short_name(&target.platform)
    )
}

fn minor_text(target: &Target) -> String {
    let (major, minor) = target.python_minor();
    format!("{major}.{minor}")
}

fn minor_text_of(version: &Version) -> String {
    format!("3.{}", minor_of(version))
}

/// `3.12` of `3.12.4` (or of `3.13.0rc1`); `None` for what is not `3.N...`.
fn minor_of_text(version: &str) -> Option<Version> {
    let mut parts = version.trim().split('.');
    let major = parts.next()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if major != "3" || minor.is_empty() {
        return None;
    }
    Some(Version::new([3, minor.parse().ok()?]))
}

#[cfg(test)]
mod tests;
