//! Helpers: a temporary project with a manifest and its own cache, and a runner for the
//! `sanctuary` binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sanctuary::pylock::Lockfile;

/// A temporary project directory with its own cache directory.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub cache: PathBuf,
    env: Vec<(String, String)>,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = dir.path().join("cache");
        Project {
            dir,
            cache,
            env: Vec::new(),
        }
    }

    /// A project whose manifest locks `requirements` (and `constraints`) from `index_url`
    /// for Python 3.12 on `platform`.
    pub fn with_requirements(
        index_url: &str,
        platform: &str,
        requirements: &[&str],
        constraints: &[&str],
    ) -> Project {
        let p = Project::new();
        p.write_manifest(&manifest(index_url, platform, requirements, constraints));
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.path().join("sanctuary.toml")
    }

    pub fn lockfile_path(&self) -> PathBuf {
        self.path().join("lockfiles/pylock.application.toml")
    }

    pub fn write_manifest(&self, text: &str) {
        std::fs::write(self.manifest_path(), text).expect("write manifest");
    }

    pub fn manifest(&self) -> String {
        std::fs::read_to_string(self.manifest_path()).expect("read manifest")
    }

    /// Set an environment variable for every later run.
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Run `sanctuary <args> --manifest <this project>` with this project's cache.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run sanctuary")
    }

    /// The command [`Project::run`] runs, to spawn it instead.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sanctuary"));
        cmd.args(args)
            .arg("--manifest")
            .arg(self.manifest_path())
            .env("SANCTUARY_CACHE_DIR", &self.cache)
            .env_remove("SANCTUARY_LOG")
            .env("NO_COLOR", "1")
            // Conflict reports wrap at this width, whatever the terminal running the tests.
            .env("COLUMNS", "100");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `sanctuary lock <args>`, which must succeed.
    pub fn lock_ok(&self, args: &[&str]) -> Output {
        let mut all = vec!["lock"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "sanctuary lock {args:?} failed:\n{}",
            stderr(&out)
        );
        out
    }

    /// `sanctuary lock <args>`, which must fail; returns its stderr.
    pub fn lock_err(&self, args: &[&str]) -> String {
        let mut all = vec!["lock"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            !out.status.success(),
            "sanctuary lock {args:?} unexpectedly succeeded:\n{}",
            stderr(&out)
        );
        stderr(&out)
    }

    pub fn lockfile_text(&self) -> Option<String> {
        std::fs::read_to_string(self.lockfile_path()).ok()
    }

    pub fn lockfile(&self) -> Lockfile {
        let text = self.lockfile_text().expect("lockfile exists");
        Lockfile::parse(&text).expect("lockfile parses")
    }

    /// `name -> version` of every locked package.
    pub fn pins(&self) -> BTreeMap<String, String> {
        self.lockfile()
            .packages
            .iter()
            .map(|p| (p.name.to_string(), p.version.to_string()))
            .collect()
    }
}

/// `<python> -m pip` with nothing from the environment's pip settings (this machine sets
/// `PIP_FIND_LINKS`, for one).
pub fn pip(python: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pip"]);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PIP_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_NO_INPUT", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    cmd
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A manifest text for one index called `test`.
pub fn manifest(
    index_url: &str,
    platform: &str,
    requirements: &[&str],
    constraints: &[&str],
) -> String {
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|r| format!("    \"{r}\",\n"))
            .collect::<String>()
    };
    format!(
        "[project]\nname = \"t\"\npython = \"3.12\"\nplatform = \"{platform}\"\n\n\
         [[index]]\nname = \"test\"\nurl = \"{index_url}\"\n\n\
         [application]\nrequirements = [\n{}]\nconstraints = [\n{}]\n",
        list(requirements),
        list(constraints)
    )
}

/// Assert that `pins` has each `(name, version)` of `expected` and none of `absent`.
pub fn assert_pins(
    pins: &BTreeMap<String, String>,
    expected: &[(&str, &str)],
    absent: &[&str],
    case: &str,
) {
    for (name, version) in expected {
        assert_eq!(
            pins.get(*name).map(String::as_str),
            Some(*version),
            "{case}: {name} should be {version}; locked: {pins:?}"
        );
    }
    for name in absent {
        assert!(
            !pins.contains_key(*name),
            "{case}: {name} should not be locked; locked: {pins:?}"
        );
    }
}
