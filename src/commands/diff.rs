//! `sanctuary diff`: what a lockfile change means, for code review.
//!
//! `sanctuary diff OLD NEW` compares two lockfiles, or two `lockfiles/` directories (files
//! paired by name); `sanctuary diff --git REV` compares the lockfiles under the manifest's
//! `lockfiles/` directory at a git revision (`git ls-tree`, `git show`) with the working tree.
//! A lockfile on one side only is all added or all removed. The comparison itself is
//! [`crate::pylock::diff`].
//!
//! Exit codes: without `--exit-code`, 0 on success and 1 on an error, like every command.
//! With `--exit-code`, as `git diff --exit-code` and `diff(1)`: 0 when nothing changed, 1 when
//! something changed, and 2 on an error (an unreadable lockfile, a bad revision), so that a
//! script can tell "changed" from "broken".

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::{Command, ExitCode};

use crate::bail;
use crate::error::{Context as _, Error, Result};
use crate::ops::lockfiles::is_lockfile_name;
use crate::printer::Printer;
use crate::pylock::Lockfile;
use crate::pylock::diff::{DiffReport, FilePair};
use crate::settings::{DiffFormat, DiffSettings, DiffSource};

/// Run `sanctuary diff`. With `--exit-code`, 1 means "changed", so errors exit 2 (as
/// diff(1) does).
pub fn diff(settings: &DiffSettings) -> Result<ExitCode> {
    run(settings).map_err(|e| {
        if settings.exit_code {
            e.with_code(2)
        } else {
            e
        }
    })
}

fn run(settings: &DiffSettings) -> Result<ExitCode> {
    let printer = Printer::new(settings.global.quiet);
    let report = match &settings.source {
        DiffSource::Paths { old, new } => compare_paths(old, new)?,
        DiffSource::Git { rev } => compare_git(&settings.global.manifest, rev)?,
    };
    let text = match settings.format {
        DiffFormat::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            report.to_text(color)
        }
        DiffFormat::Markdown => report.to_markdown(),
        DiffFormat::Json => report.to_json(),
    };
    printer.data(&text)?;
    if settings.format == DiffFormat::Text && !report.has_changes() {
        printer.status(format_args!(
            "No lockfile changes between {} and {}",
            report.old, report.new
        ));
    }
    Ok(if settings.exit_code && report.has_changes() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Two lockfiles, or two directories whose `pylock.*.toml` files pair by name.
fn compare_paths(old: &Path, new: &Path) -> Result<DiffReport> {
    let label = |p: &Path| p.display().to_string();
    let pairs = match (old.is_dir(), new.is_dir()) {
        (true, true) => {
            let (old_names, new_names) = (lockfile_names(old)?, lockfile_names(new)?);
            let mut names: Vec<&String> = old_names.iter().chain(&new_names).collect();
            names.sort();
            names.dedup();
            let mut pairs = Vec::new();
            for name in names {
                let side = |dir: &Path, present: &[String]| -> Result<_> {
                    if !present.contains(name) {
                        return Ok((None, None));
                    }
                    let path = dir.join(name);
                    Ok((Some(label(&path)), Some(read_lockfile(&path)?)))
                };
                let (old_path, old_lock) = side(old, &old_names)?;
                let (new_path, new_lock) = side(new, &new_names)?;
                pairs.push(FilePair {
                    name: name.clone(),
                    old_path,
                    new_path,
                    old: old_lock,
                    new: new_lock,
                });
            }
            pairs
        }
        (false, false) => {
            let (o, n) = (read_lockfile(old)?, read_lockfile(new)?);
            let file_name = |p: &Path| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| label(p))
            };
            let name = if file_name(old) == file_name(new) {
                file_name(new)
            } else {
                format!("{} -> {}", file_name(old), file_name(new))
            };
            vec![FilePair {
                name,
                old_path: Some(label(old)),
                new_path: Some(label(new)),
                old: Some(o),
                new: Some(n),
            }]
        }
        (true, false) => bail!(
            "{} is a directory but {} is not: compare two lockfiles or two lockfile directories",
            old.display(),
            new.display()
        ),
        (false, true) => bail!(
            "{} is a directory but {} is not: compare two lockfiles or two lockfile directories",
            new.display(),
            old.display()
        ),
    };
    Ok(DiffReport::new(&label(old), &label(new), &pairs))
}

/// `pylock.*.toml` in `dir`, sorted.
fn lockfile_names(dir: &Path) -> Result<Vec<String>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| is_lockfile_name(n))
        .collect();
    names.sort();
    Ok(names)
}

fn read_lockfile(path: &Path) -> Result<Lockfile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Lockfile::parse(&text).with_context(|| format!("cannot read {}", path.display()))
}

/// The lockfiles under the manifest's `lockfiles/` at `rev` against those in the working tree.
fn compare_git(manifest: &Path, rev: &str) -> Result<DiffReport> {
    if !manifest.is_file() {
        bail!(
            "no manifest at {}: `sanctuary diff --git` compares the lockfiles next to it (pass --manifest)",
            manifest.display()
        );
    }
    let root = match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = root.join("lockfiles");
    if rev.starts_with('-') {
        bail!("bad revision `{rev}`");
    }
    git(root, &["rev-parse", "--show-toplevel"])
        .with_context(|| format!("{} is not in a git repository", root.display()))?;
    let commit = format!("{rev}^{{commit}}");
    git(root, &["rev-parse", "--verify", &commit])
        .with_context(|| format!("bad revision `{rev}`"))?;

    // Paths relative to the manifest's directory (ls-tree and `REV:./path` resolve them
    // against the directory git runs in), so a manifest below the repository root works.
    let listing = git(root, &["ls-tree", "--name-only", rev, "--", "lockfiles/"])
        .with_context(|| format!("cannot list lockfiles/ at `{rev}`"))?;
    let old_names: Vec<String> = listing
        .lines()
        .filter_map(|l| l.strip_prefix("lockfiles/"))
        .filter(|n| is_lockfile_name(n))
        .map(str::to_string)
        .collect();
    let new_names = if dir.is_dir() {
        lockfile_names(&dir)?
    } else {
        Vec::new()
    };
    let mut names: Vec<&String> = old_names.iter().chain(&new_names).collect();
    names.sort();
    names.dedup();
    let mut pairs = Vec::new();
    for name in names {
        let (old_path, old) = if old_names.contains(name) {
            let spec = format!("{rev}:./lockfiles/{name}");
            let shown = format!("{rev}:lockfiles/{name}");
            let text =
                git(root, &["show", &spec]).with_context(|| format!("cannot read {shown}"))?;
            let lock = Lockfile::parse(&text).with_context(|| format!("cannot read {shown}"))?;
            (Some(shown), Some(lock))
        } else {
            (None, None)
        };
        let (new_path, new) = if new_names.contains(name) {
            let lock = read_lockfile(&dir.join(name))?;
            (Some(format!("lockfiles/{name}")), Some(lock))
        } else {
            (None, None)
        };
        pairs.push(FilePair {
            name: name.clone(),
            old_path,
            new_path,
            old,
            new,
        });
    }
    Ok(DiffReport::new(
        &format!("{rev}:lockfiles/"),
        "lockfiles/",
        &pairs,
    ))
}

/// Run `git` (from PATH) in `dir` and return its stdout; its stderr becomes the error.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run `git`: is it installed and on PATH?")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr.trim();
        if message.is_empty() {
            bail!("`git {}` failed ({})", args.join(" "), out.status);
        }
        bail!("`git {}` failed: {message}", args.join(" "));
    }
    String::from_utf8(out.stdout).map_err(|_| Error::msg("git printed something that is not UTF-8"))
}
