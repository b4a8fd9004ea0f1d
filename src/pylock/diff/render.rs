//! The text and Markdown renderings of a [`DiffReport`] and the lines `sanctuary lock`
//! prints: wording, ordering (the loud artifact changes first) and colours.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use super::*;

impl DiffReport {
    /// The report as text: a block per changed lockfile, one line per change (the loud
    /// artifact changes first), and a closing summary. Empty when nothing changed. ANSI
    /// colours when `color`.
    pub fn to_text(&self, color: bool) -> String {
        let paint = Paint(color);
        let mut out = String::new();
        for f in self
            .files
            .iter()
            .filter(|f| f.status != FileStatus::Unchanged)
        {
            if !out.is_empty() {
                out.push('\n');
            }
            let header = format!("{}: {}{}", group_title(f), f.name, file_note(f));
            let _ = writeln!(out, "{}", paint.bold(&header));
            for line in environment_lines(f, paint) {
                let _ = writeln!(out, "  {line}");
            }
            for line in change_lines(&f.changes, paint) {
                let _ = writeln!(out, "  {line}");
            }
        }
        if !self.has_changes() {
            return out;
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "\n{} in {}: {}",
            plural(s.changes, "package change"),
            plural(s.files_changed, "lockfile"),
            self.counts().join(", ")
        );
        if s.artifact_changed > 0 {
            let (who, pronoun) = match s.artifact_changed {
                1 => ("1 package has".to_string(), "it"),
                n => (format!("{n} packages have"), "they"),
            };
            let line = format!(
                "!! {who} artifacts that changed with no version change: \
                 check where {pronoun} came from before merging"
            );
            let _ = writeln!(out, "{}", paint.alarm(&line));
        }
        out
    }

    /// The report as Markdown to paste into a pull request: a heading and a table per changed
    /// lockfile (package, change, old, new, kind, via), the loud artifact changes in a
    /// caution block above the table.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("## Lockfile changes\n\n");
        if !self.has_changes() {
            out.push_str("No lockfile changes.\n");
            return out;
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "{} in {}: {}.",
            plural(s.changes, "package change"),
            plural(s.files_changed, "lockfile"),
            self.counts().join(", ")
        );
        for f in self
            .files
            .iter()
            .filter(|f| f.status != FileStatus::Unchanged)
        {
            let _ = writeln!(
                out,
                "\n### {} (`{}`){}\n",
                group_title(f),
                f.name,
                file_note(f)
            );
            if let Some(e) = &f.environments {
                for (what, markers) in [("added", &e.added), ("removed", &e.removed)] {
                    if !markers.is_empty() {
                        let list: Vec<String> = markers.iter().map(|m| format!("`{m}`")).collect();
                        let _ = writeln!(out, "Environments {what}: {}.\n", list.join(", "));
                    }
                }
                if f.changes.is_empty() {
                    continue;
                }
            }
            let loud: Vec<&PackageChange> = f
                .changes
                .iter()
                .filter(|c| c.change == ChangeKind::ArtifactChanged)
                .collect();
            if !loud.is_empty() {
                out.push_str("> [!CAUTION]\n> **Artifacts changed with no version change.**\n");
                for c in loud {
                    for line in artifact_sentences(c, true) {
                        let _ = writeln!(out, "> - {line}");
                    }
                }
                out.push('\n');
            }
            out.push_str("| package | change | old | new | kind | via |\n");
            out.push_str("|---|---|---|---|---|---|\n");
            for c in &f.changes {
                let change = match c.change {
                    ChangeKind::ArtifactChanged => "**⚠️ artifact changed**".to_string(),
                    _ => change_words(c),
                };
                let via = c.via.join(" → ");
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    cell(&format!("{}{}", c.name, marker_suffix(c))),
                    change,
                    cell(c.old.as_deref().unwrap_or("")),
                    cell(c.new.as_deref().unwrap_or("")),
                    kind_word(c),
                    cell(&via)
                );
            }
        }
        out
    }

    /// `2 added, 1 upgraded, ...`: the non-zero counts.
    fn counts(&self) -> Vec<String> {
        let s = &self.summary;
        [
            (s.artifact_changed, "with artifacts changed"),
            (s.added, "added"),
            (s.removed, "removed"),
            (s.upgraded, "upgraded"),
            (s.downgraded, "downgraded"),
            (s.local_label, "local label only"),
            (s.wheels_changed, "with files added or removed"),
            (s.source_changed, "with their source moved"),
            (s.marker_changed, "with their marker changed"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .chain((s.environments_changed > 0).then(|| {
            format!(
                "environments changed in {}",
                plural(s.environments_changed, "lockfile")
            )
        }))
        .collect()
    }
}

fn group_title(f: &FileDiff) -> String {
    match &f.key {
        Some(key) => format!("{} layer, key {key}", f.layer),
        None => format!("{} layer", f.layer),
    }
}

fn file_note(f: &FileDiff) -> &'static str {
    match f.status {
        FileStatus::Added => " (new lockfile)",
        FileStatus::Removed => " (lockfile removed)",
        _ => "",
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `direct`, `via a -> b`, or `transitive` when no direct package reaches it.
fn origin_words(c: &PackageChange) -> String {
    if c.direct {
        "direct".to_string()
    } else if c.via.is_empty() {
        "transitive".to_string()
    } else {
        format!("via {}", c.via.join(" -> "))
    }
}

fn kind_word(c: &PackageChange) -> &'static str {
    if c.direct { "direct" } else { "transitive" }
}

/// `major upgrade`, `added`, `local label only`, `1 wheel added, 2 wheels removed`,
/// `minor upgrade, commit abc1234 -> def5678`.
fn change_words(c: &PackageChange) -> String {
    let bump = |b: Option<Bump>| match b {
        Some(Bump::Major) => "major ",
        Some(Bump::Minor) => "minor ",
        Some(Bump::Patch) => "patch ",
        Some(Bump::Other) | None => "",
    };
    let mut parts = match c.change {
        ChangeKind::Added => vec!["added".to_string()],
        ChangeKind::Removed => vec!["removed".to_string()],
        ChangeKind::Upgraded => vec![format!("{}upgrade", bump(c.bump))],
        ChangeKind::Downgraded => vec![format!("{}downgrade", bump(c.bump))],
        ChangeKind::LocalLabel => vec!["local label only".to_string()],
        ChangeKind::ArtifactChanged | ChangeKind::WheelsChanged | ChangeKind::SourceChanged => {
            file_words(c)
        }
        ChangeKind::MarkerChanged => file_words(c),
    };
    if let Some(m) = &c.marker_change {
        parts.insert(
            usize::from(c.change != ChangeKind::MarkerChanged).min(parts.len()),
            marker_words(m),
        );
    }
    parts.extend(
        c.artifacts
            .iter()
            .filter(|a| a.change.is_source())
            .map(source_words),
    );
    parts.join(", ")
}

/// `1 artifact changed`, `2 wheels added`, `sdist removed`.
fn file_words(c: &PackageChange) -> Vec<String> {
    let count = |k| c.artifacts.iter().filter(|a| a.change == k).count();
    let mut parts = Vec::new();
    let files: HashSet<&str> = c
        .artifacts
        .iter()
        .filter(|a| a.change.is_suspicious())
        .map(|a| a.file.as_str())
        .collect();
    if !files.is_empty() {
        parts.push(format!("{} changed", plural(files.len(), "artifact")));
    }
    for (kind, what, done) in [
        (ArtifactChangeKind::WheelAdded, "wheel", "added"),
        (ArtifactChangeKind::WheelRemoved, "wheel", "removed"),
        (ArtifactChangeKind::SdistAdded, "sdist", "added"),
        (ArtifactChangeKind::SdistRemoved, "sdist", "removed"),
    ] {
        match count(kind) {
            0 => {}
            1 if what == "sdist" => parts.push(format!("sdist {done}")),
            n => parts.push(format!("{} {done}", plural(n, what))),
        }
    }
    parts
}

/// `commit abc1234 -> def5678`, `source index -> git https://host/repo@...`.
fn source_words(a: &ArtifactChange) -> String {
    let (old, new) = (a.old.as_deref(), a.new.as_deref());
    if a.change == ArtifactChangeKind::CommitChanged {
        let commit = |c: Option<&str>| {
            c.unwrap_or("")
                .chars()
                .take(SHORT_COMMIT)
                .collect::<String>()
        };
        return format!("commit {} -> {}", commit(old), commit(new));
    }
    format!(
        "source {} -> {}",
        old.unwrap_or("index"),
        new.unwrap_or("index")
    )
}

fn short(hash: &str) -> String {
    if hash.len() > SHORT_HASH {
        format!("{}…", &hash[..SHORT_HASH])
    } else {
        hash.to_string()
    }
}

/// One sentence per artifact file whose sha256, URL or size changed:
/// `torch 2.9.0: artifact F sha256 changed (was a…, now b…) — the same version was
/// re-uploaded or tampered with`.
fn artifact_sentences(c: &PackageChange, markdown: bool) -> Vec<String> {
    let code = |s: &str| {
        if markdown {
            format!("`{s}`")
        } else {
            s.to_string()
        }
    };
    let version = c.new.as_deref().unwrap_or("");
    let mut by_file: BTreeMap<&str, Vec<&ArtifactChange>> = BTreeMap::new();
    for a in c.artifacts.iter().filter(|a| a.change.is_suspicious()) {
        by_file.entry(&a.file).or_default().push(a);
    }
    let mut out = Vec::new();
    for (file, changes) in by_file {
        let mut parts = Vec::new();
        let mut rehashed = false;
        for a in &changes {
            let (old, new) = (
                a.old.as_deref().unwrap_or("none"),
                a.new.as_deref().unwrap_or("none"),
            );
            let part = match a.change {
                ArtifactChangeKind::Sha256Changed => {
                    rehashed = true;
                    format!(
                        "sha256 changed (was {}, now {})",
                        code(&short(old)),
                        code(&short(new))
                    )
                }
                ArtifactChangeKind::UrlChanged => {
                    format!("URL changed (was {}, now {})", code(old), code(new))
                }
                _ => format!("size changed (was {old}, now {new})"),
            };
            parts.push(part);
        }
        let why = if rehashed {
            "the same version was re-uploaded or tampered with"
        } else {
            "the same file now comes from elsewhere or was altered"
        };
        let name = if markdown {
            format!("**{} {version}**{}", c.name, marker_suffix(c))
        } else {
            format!("{} {version}{}", c.name, marker_suffix(c))
        };
        out.push(format!(
            "{name}: artifact {} {} — {why}",
            code(file),
            parts.join(", ")
        ));
    }
    out
}

/// The text lines of some changes: loud artifact changes first, then by package name.
pub(super) fn change_lines(changes: &[PackageChange], paint: Paint) -> Vec<String> {
    let mut loud = Vec::new();
    let mut rest = Vec::new();
    for c in changes {
        let origin = paint.dim(&format!("({})", origin_words(c)));
        let old = c.old.as_deref().unwrap_or("");
        let new = c.new.as_deref().unwrap_or("");
        match c.change {
            ChangeKind::ArtifactChanged => {
                for s in artifact_sentences(c, false) {
                    loud.push(format!("{}  {origin}", paint.alarm(&format!("!! {s}"))));
                }
                let quiet: Vec<&ArtifactChange> = c
                    .artifacts
                    .iter()
                    .filter(|a| !a.change.is_suspicious())
                    .collect();
                rest.extend(file_lines(c, &quiet, &origin, paint));
            }
            ChangeKind::WheelsChanged | ChangeKind::SourceChanged => {
                let all: Vec<&ArtifactChange> = c.artifacts.iter().collect();
                rest.extend(file_lines(c, &all, &origin, paint));
            }
            ChangeKind::MarkerChanged => {
                if let Some(m) = &c.marker_change {
                    let line = format!("~ {} {new}: {}", c.name, marker_words(m));
                    rest.push(format!("{} {origin}", paint.cyan(&line)));
                }
                let all: Vec<&ArtifactChange> = c.artifacts.iter().collect();
                rest.extend(file_lines(c, &all, &origin, paint));
            }
            ChangeKind::Added => {
                rest.push(format!(
                    "{} {origin}",
                    paint.green(&format!("+ {} {new}{}", c.name, marker_suffix(c)))
                ));
            }
            ChangeKind::Removed => {
                rest.push(format!(
                    "{} {origin}",
                    paint.red(&format!("- {} {old}{}", c.name, marker_suffix(c)))
                ));
            }
            ChangeKind::Upgraded | ChangeKind::Downgraded | ChangeKind::LocalLabel => {
                let line = format!("~ {} {old} -> {new}{}", c.name, marker_suffix(c));
                let line = match c.change {
                    ChangeKind::Upgraded => paint.yellow(&line),
                    ChangeKind::Downgraded => paint.magenta(&line),
                    _ => paint.cyan(&line),
                };
                rest.push(format!("{line}  {} {origin}", change_words(c)));
            }
        }
    }
    loud.extend(rest);
    loud
}

/// `* torch 2.9.0: wheel F added`, `* demo 1.0: sdist F removed`,
/// `~ lib 0.1.0: commit abc1234 -> def5678`.
/// The lines of a package's quiet artifact changes: one a file, but more than
/// [`WHEELS_LISTED`] wheels added or removed are counted in one line (`27 wheels removed`:
/// a Python or platform left the lock), the other changes still one a line.
fn file_lines(
    c: &PackageChange,
    artifacts: &[&ArtifactChange],
    origin: &str,
    paint: Paint,
) -> Vec<String> {
    let is_wheel = |a: &&&ArtifactChange| {
        matches!(
            a.change,
            ArtifactChangeKind::WheelAdded | ArtifactChangeKind::WheelRemoved
        )
    };
    let wheels = artifacts.iter().filter(is_wheel).count();
    if wheels <= WHEELS_LISTED {
        return artifacts
            .iter()
            .map(|a| file_line(c, a, origin, paint))
            .collect();
    }
    let count = |kind: ArtifactChangeKind| artifacts.iter().filter(|a| a.change == kind).count();
    let mut parts = Vec::new();
    for (n, what) in [
        (count(ArtifactChangeKind::WheelAdded), "added"),
        (count(ArtifactChangeKind::WheelRemoved), "removed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} wheels {what}"));
        }
    }
    let version = format!("{}{}", c.new.as_deref().unwrap_or(""), marker_suffix(c));
    let line = format!("* {} {version}: {}", c.name, parts.join(", "));
    let mut out = vec![format!("{} {origin}", paint.cyan(&line))];
    out.extend(
        artifacts
            .iter()
            .filter(|a| !is_wheel(a))
            .map(|a| file_line(c, a, origin, paint)),
    );
    out
}

/// Wheel changes of one package listed one a line up to this many; more are counted.
const WHEELS_LISTED: usize = 3;

fn file_line(c: &PackageChange, a: &ArtifactChange, origin: &str, paint: Paint) -> String {
    let version = format!("{}{}", c.new.as_deref().unwrap_or(""), marker_suffix(c));
    let line = match a.change {
        ArtifactChangeKind::WheelAdded => format!("* {} {version}: wheel {} added", c.name, a.file),
        ArtifactChangeKind::WheelRemoved => {
            format!("* {} {version}: wheel {} removed", c.name, a.file)
        }
        ArtifactChangeKind::SdistAdded => format!("* {} {version}: sdist {} added", c.name, a.file),
        ArtifactChangeKind::SdistRemoved => {
            format!("* {} {version}: sdist {} removed", c.name, a.file)
        }
        _ => format!("~ {} {version}: {}", c.name, source_words(a)),
    };
    format!("{} {origin}", paint.cyan(&line))
}

/// ` [python_version < '3.12']`: the entry's marker, for a universal lock's entry that is not
/// for every environment; empty otherwise (so lockfiles without markers read as they did).
fn marker_suffix(c: &PackageChange) -> String {
    match &c.marker {
        Some(m) if c.change != ChangeKind::MarkerChanged => format!(" [{m}]"),
        _ => String::new(),
    }
}

/// `marker python_version >= '3.12' -> every environment`.
fn marker_words(m: &MarkerChange) -> String {
    let side = |s: &Option<String>| s.clone().unwrap_or_else(|| "every environment".to_string());
    format!("marker {} -> {}", side(&m.old), side(&m.new))
}

/// `+ environment <marker>` and `- environment <marker>`: the lockfile's environments that
/// came and went.
fn environment_lines(f: &FileDiff, paint: Paint) -> Vec<String> {
    let Some(e) = &f.environments else {
        return Vec::new();
    };
    let added = e
        .added
        .iter()
        .map(|m| paint.green(&format!("+ environment {m}")));
    let removed = e
        .removed
        .iter()
        .map(|m| paint.red(&format!("- environment {m}")));
    removed.chain(added).collect()
}

/// A Markdown table cell: no pipes, no line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// ANSI colours, or none.
#[derive(Clone, Copy)]
pub(super) struct Paint(pub(super) bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn alarm(self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn magenta(self, s: &str) -> String {
        self.wrap("35", s)
    }
    fn cyan(self, s: &str) -> String {
        self.wrap("36", s)
    }
}
