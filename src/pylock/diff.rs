//! What changed between two sets of lockfiles, classified for code review (`sanctuary diff`,
//! and the summary `sanctuary lock` prints). Pure: lockfiles in, a [`DiffReport`] and its
//! text, Markdown and JSON renderings out; the caller reads the files (or `git show`s them).
//!
//! Each package change is one of: added, removed, upgraded or downgraded (with the major,
//! minor or patch bump read from the release segments), a change of the local label only
//! (`2.9.0+cu128` -> `2.9.0+cu130`), an artifact of the same version and file name whose
//! sha256, URL or size changed (flagged loudly: that is how a re-uploaded or tampered file
//! shows), or wheels added or removed for the same version (new platform tags, quieter).
//! Every change says whether the package is a direct requirement, or which direct package
//! pulled it in (`via peft -> accelerate`), walking `dependencies` in the new lockfile (the old
//! one for removals).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

use pep440_rs::Version;
use schemars::JsonSchema;
use serde::Serialize;

use super::{LockedPackage, LockedWheel, Lockfile};

/// The current [`DiffReport::format`].
pub const REPORT_FORMAT: u32 = 1;

/// How many hex digits of a sha256 the text and Markdown renderings show.
const SHORT_HASH: usize = 12;

/// The report of `sanctuary diff --format json`; its schema is
/// `schema/diff-report.schema.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(title = "sanctuary diff report")]
pub struct DiffReport {
    /// The report format; bumped when a field changes meaning.
    pub format: u32,
    /// The old side, as given: a lockfile, a directory, or `REV:lockfiles/` for `--git`.
    pub old: String,
    /// The new side, as given.
    pub new: String,
    /// Every pair of lockfiles compared, sorted by layer (foundation first), key and name;
    /// unchanged pairs included.
    pub files: Vec<FileDiff>,
    pub summary: Summary,
}

/// One pair of lockfiles (paired by file name), or a lockfile on one side only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FileDiff {
    /// `[tool.sanctuary] layer`: `foundation` or `application`.
    pub layer: String,
    /// `[tool.sanctuary] key`: the hardware key; null for the shared Application file.
    pub key: Option<String>,
    /// The file name the pair shares (`old -> new` when two differently named files were
    /// given).
    pub name: String,
    /// The old file; null when the lockfile is new.
    pub old_path: Option<String>,
    /// The new file; null when the lockfile was removed.
    pub new_path: Option<String>,
    pub status: FileStatus,
    /// Sorted by package name.
    pub changes: Vec<PackageChange>,
}

/// What happened to a lockfile as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    /// Only on the new side: every package is added.
    Added,
    /// Only on the old side: every package is removed.
    Removed,
    Changed,
    Unchanged,
}

/// One package's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PackageChange {
    /// The normalized package name.
    pub name: String,
    pub change: ChangeKind,
    /// For upgrades and downgrades: which part of the version moved.
    pub bump: Option<Bump>,
    /// The old version; null when added.
    pub old: Option<String>,
    /// The new version; null when removed.
    pub new: Option<String>,
    /// A direct requirement of its layer (`[packages.tool.sanctuary] direct = true`).
    pub direct: bool,
    /// For a transitive package: the chain of packages from a direct requirement down to the
    /// one that depends on this package (`["peft", "accelerate"]`), in the new lockfile (the
    /// old one for removals). Empty for direct packages and for packages no direct package
    /// reaches.
    pub via: Vec<String>,
    /// For `artifact-changed` and `wheels-changed`: what changed, sorted by file name.
    pub artifacts: Vec<ArtifactChange>,
}

/// The kind of a package change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The same version's artifact (same file name) has a new sha256, URL or size: the file
    /// was re-uploaded or tampered with, or now comes from elsewhere. Flagged loudly.
    ArtifactChanged,
    Added,
    Removed,
    Upgraded,
    Downgraded,
    /// Only the local label changed (`2.9.0+cu128` -> `2.9.0+cu130`).
    LocalLabel,
    /// Wheels added or removed for the same version (new or dropped platform tags).
    WheelsChanged,
}

/// Which part of a version moved, from the release segments (`1.2.3`: major 1, minor 2,
/// patch 3 and beyond).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Bump {
    /// The first release segment, or the epoch.
    Major,
    Minor,
    /// The third release segment or any later one.
    Patch,
    /// Same release: the pre-, post- or dev-release part moved (`2.0.0rc1` -> `2.0.0`).
    Other,
}

/// One change to one artifact of an unchanged version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ArtifactChange {
    pub change: ArtifactChangeKind,
    /// The wheel's file name.
    pub file: String,
    /// The old value (sha256, URL or size); null for added and removed wheels.
    pub old: Option<String>,
    /// The new value; null for added and removed wheels.
    pub new: Option<String>,
}

/// What changed about an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactChangeKind {
    Sha256Changed,
    UrlChanged,
    SizeChanged,
    WheelAdded,
    WheelRemoved,
}

impl ArtifactChangeKind {
    /// sha256, URL or size of the same file: the loud kind.
    pub fn is_suspicious(self) -> bool {
        matches!(
            self,
            ArtifactChangeKind::Sha256Changed
                | ArtifactChangeKind::UrlChanged
                | ArtifactChangeKind::SizeChanged
        )
    }
}

/// Counts over every file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Summary {
    /// Lockfiles with at least one change (added and removed files included).
    pub files_changed: usize,
    /// Package changes of every kind.
    pub changes: usize,
    pub added: usize,
    pub removed: usize,
    pub upgraded: usize,
    pub downgraded: usize,
    pub local_label: usize,
    /// Packages whose same-version artifacts changed sha256, URL or size.
    pub artifact_changed: usize,
    pub wheels_changed: usize,
}

/// One side-by-side pair to compare: a lockfile on either side or both.
#[derive(Clone, Debug)]
pub struct FilePair {
    pub name: String,
    pub old_path: Option<String>,
    pub new_path: Option<String>,
    pub old: Option<Lockfile>,
    pub new: Option<Lockfile>,
}

impl DiffReport {
    /// Compare every pair.
    pub fn new(old: &str, new: &str, pairs: &[FilePair]) -> DiffReport {
        let mut files: Vec<FileDiff> = pairs
            .iter()
            .filter(|p| p.old.is_some() || p.new.is_some())
            .map(|p| {
                // Grouped by what the newest side says it is.
                let tool = &p.new.as_ref().or(p.old.as_ref()).expect("one side").tool;
                let changes = compare(p.old.as_ref(), p.new.as_ref());
                let status = match (&p.old, &p.new) {
                    (None, _) => FileStatus::Added,
                    (_, None) => FileStatus::Removed,
                    _ if changes.is_empty() => FileStatus::Unchanged,
                    _ => FileStatus::Changed,
                };
                FileDiff {
                    layer: tool.layer.clone(),
                    key: tool.key.clone(),
                    name: p.name.clone(),
                    old_path: p.old_path.clone(),
                    new_path: p.new_path.clone(),
                    status,
                    changes,
                }
            })
            .collect();
        files.sort_by(|a, b| {
            layer_rank(&a.layer)
                .cmp(&layer_rank(&b.layer))
                .then_with(|| a.layer.cmp(&b.layer))
                .then_with(|| a.key.cmp(&b.key))
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut summary = Summary::default();
        for f in &files {
            if f.status != FileStatus::Unchanged {
                summary.files_changed += 1;
            }
            for c in &f.changes {
                summary.changes += 1;
                *match c.change {
                    ChangeKind::Added => &mut summary.added,
                    ChangeKind::Removed => &mut summary.removed,
                    ChangeKind::Upgraded => &mut summary.upgraded,
                    ChangeKind::Downgraded => &mut summary.downgraded,
                    ChangeKind::LocalLabel => &mut summary.local_label,
                    ChangeKind::ArtifactChanged => &mut summary.artifact_changed,
                    ChangeKind::WheelsChanged => &mut summary.wheels_changed,
                } += 1;
            }
        }
        DiffReport {
            format: REPORT_FORMAT,
            old: old.to_string(),
            new: new.to_string(),
            files,
            summary,
        }
    }

    /// Whether anything changed (what `--exit-code` reports).
    pub fn has_changes(&self) -> bool {
        self.summary.files_changed > 0
    }

    /// The report as pretty JSON, with a final newline.
    pub fn to_json(&self) -> String {
        // Plain strings, numbers and lists: serialising cannot fail.
        let mut text = serde_json::to_string_pretty(self).expect("report serialises");
        text.push('\n');
        text
    }

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
                    cell(&c.name),
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
            (s.wheels_changed, "with wheels added or removed"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect()
    }
}

/// The JSON Schema of [`DiffReport`], as published in `schema/diff-report.schema.json`.
pub fn report_json_schema() -> String {
    let schema = schemars::schema_for!(DiffReport);
    // Serialising a schema (plain maps and strings) cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serialises");
    text.push('\n');
    text
}

/// The changes from `old` to `new` (either may be missing: all added, all removed), sorted by
/// package name.
pub fn compare(old: Option<&Lockfile>, new: Option<&Lockfile>) -> Vec<PackageChange> {
    fn index(lock: Option<&Lockfile>) -> BTreeMap<String, &LockedPackage> {
        let mut map = BTreeMap::new();
        for p in lock.map(|l| l.packages.as_slice()).unwrap_or_default() {
            map.entry(p.name.to_string()).or_insert(p);
        }
        map
    }
    let (old_pkgs, new_pkgs) = (index(old), index(new));
    let (old_via, new_via) = (old.map(via_chains), new.map(via_chains));
    let lookup = |chains: &Option<HashMap<String, Vec<String>>>, name: &str| {
        chains
            .as_ref()
            .and_then(|c| c.get(name).cloned())
            .unwrap_or_default()
    };
    let mut names: Vec<&String> = old_pkgs.keys().chain(new_pkgs.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let (o, n) = (old_pkgs.get(name), new_pkgs.get(name));
        let (change, bump, artifacts) = match (o, n) {
            (None, Some(_)) => (ChangeKind::Added, None, Vec::new()),
            (Some(_), None) => (ChangeKind::Removed, None, Vec::new()),
            (Some(o), Some(n)) if o.version != n.version => {
                match classify(&o.version, &n.version) {
                    None => (ChangeKind::LocalLabel, None, Vec::new()),
                    Some((kind, bump)) => (kind, Some(bump), Vec::new()),
                }
            }
            (Some(o), Some(n)) => {
                let artifacts = artifact_changes(&o.wheels, &n.wheels);
                if artifacts.is_empty() {
                    continue;
                }
                let kind = if artifacts.iter().any(|a| a.change.is_suspicious()) {
                    ChangeKind::ArtifactChanged
                } else {
                    ChangeKind::WheelsChanged
                };
                (kind, None, artifacts)
            }
            (None, None) => continue,
        };
        let (pkg, via) = match n {
            Some(p) => (p, lookup(&new_via, name)),
            None => (o.expect("one side"), lookup(&old_via, name)),
        };
        out.push(PackageChange {
            name: name.clone(),
            change,
            bump,
            old: o.map(|p| p.version.to_string()),
            new: n.map(|p| p.version.to_string()),
            direct: pkg.direct,
            via: if pkg.direct { Vec::new() } else { via },
            artifacts,
        });
    }
    out
}

/// The lines `sanctuary lock` prints under a lockfile it wrote: the text rendering of the
/// changes, uncoloured, loud artifact changes first. Empty when nothing changed.
pub fn summary_lines(old: Option<&Lockfile>, new: &Lockfile) -> Vec<String> {
    change_lines(&compare(old, Some(new)), Paint(false))
}

/// Upgrade or downgrade and the bump; `None` when only the local label differs.
pub fn classify(old: &Version, new: &Version) -> Option<(ChangeKind, Bump)> {
    let (o, n) = (old.clone().without_local(), new.clone().without_local());
    let kind = match n.cmp(&o) {
        Ordering::Equal => return None,
        Ordering::Greater => ChangeKind::Upgraded,
        Ordering::Less => ChangeKind::Downgraded,
    };
    let bump = if o.epoch() != n.epoch() {
        Bump::Major
    } else {
        let (a, b) = (o.release(), n.release());
        let len = a.len().max(b.len());
        let seg = |r: &[u64], i: usize| r.get(i).copied().unwrap_or(0);
        match (0..len).find(|&i| seg(a, i) != seg(b, i)) {
            Some(0) => Bump::Major,
            Some(1) => Bump::Minor,
            Some(_) => Bump::Patch,
            None => Bump::Other,
        }
    };
    Some((kind, bump))
}

/// Same-version artifact changes, by wheel file name.
fn artifact_changes(old: &[LockedWheel], new: &[LockedWheel]) -> Vec<ArtifactChange> {
    let by_name = |wheels: &[LockedWheel]| -> BTreeMap<String, LockedWheel> {
        wheels.iter().map(|w| (w.name.clone(), w.clone())).collect()
    };
    let (old, new) = (by_name(old), by_name(new));
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    let mut push = |change, file: &str, old: Option<String>, new: Option<String>| {
        out.push(ArtifactChange {
            change,
            file: file.to_string(),
            old,
            new,
        })
    };
    for name in names {
        match (old.get(name), new.get(name)) {
            (Some(o), Some(n)) => {
                if o.sha256 != n.sha256 {
                    let kind = ArtifactChangeKind::Sha256Changed;
                    push(kind, name, Some(o.sha256.clone()), Some(n.sha256.clone()));
                }
                if o.url != n.url {
                    let kind = ArtifactChangeKind::UrlChanged;
                    push(kind, name, Some(o.url.clone()), Some(n.url.clone()));
                }
                if o.size != n.size {
                    let size = |s: Option<u64>| s.map(|s| s.to_string());
                    push(
                        ArtifactChangeKind::SizeChanged,
                        name,
                        size(o.size),
                        size(n.size),
                    );
                }
            }
            (None, Some(_)) => push(ArtifactChangeKind::WheelAdded, name, None, None),
            (Some(_), None) => push(ArtifactChangeKind::WheelRemoved, name, None, None),
            (None, None) => {}
        }
    }
    out
}

/// For every package a direct package reaches: the shortest chain of packages from a direct
/// package down to the one that depends on it (empty for direct packages). Breadth first from
/// the direct packages in name order, dependencies in name order, so ties break the same way
/// every time.
pub fn via_chains(lock: &Lockfile) -> HashMap<String, Vec<String>> {
    let deps: HashMap<String, Vec<String>> = lock
        .packages
        .iter()
        .map(|p| {
            let mut d: Vec<String> = p.dependencies.iter().map(|d| d.to_string()).collect();
            d.sort();
            (p.name.to_string(), d)
        })
        .collect();
    let mut roots: Vec<String> = lock
        .packages
        .iter()
        .filter(|p| p.direct)
        .map(|p| p.name.to_string())
        .collect();
    roots.sort();
    let mut chains: HashMap<String, Vec<String>> = HashMap::new();
    let mut queue = VecDeque::new();
    let mut seen = HashSet::new();
    for r in roots {
        if seen.insert(r.clone()) {
            chains.insert(r.clone(), Vec::new());
            queue.push_back(r);
        }
    }
    while let Some(name) = queue.pop_front() {
        let chain = chains[&name].clone();
        for d in deps.get(&name).into_iter().flatten() {
            if seen.insert(d.clone()) {
                let mut c = chain.clone();
                c.push(name.clone());
                chains.insert(d.clone(), c);
                queue.push_back(d.clone());
            }
        }
    }
    chains
}

/// Foundation first, then Application, then anything else by name.
fn layer_rank(layer: &str) -> u8 {
    match layer {
        "foundation" => 0,
        "application" => 1,
        _ => 2,
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

/// `major upgrade`, `added`, `local label only`, `1 wheel added, 2 removed`.
fn change_words(c: &PackageChange) -> String {
    let bump = |b: Option<Bump>| match b {
        Some(Bump::Major) => "major ",
        Some(Bump::Minor) => "minor ",
        Some(Bump::Patch) => "patch ",
        Some(Bump::Other) | None => "",
    };
    match c.change {
        ChangeKind::Added => "added".to_string(),
        ChangeKind::Removed => "removed".to_string(),
        ChangeKind::Upgraded => format!("{}upgrade", bump(c.bump)),
        ChangeKind::Downgraded => format!("{}downgrade", bump(c.bump)),
        ChangeKind::LocalLabel => "local label only".to_string(),
        ChangeKind::ArtifactChanged | ChangeKind::WheelsChanged => {
            let count = |k| c.artifacts.iter().filter(|a| a.change == k).count();
            let (added, removed) = (
                count(ArtifactChangeKind::WheelAdded),
                count(ArtifactChangeKind::WheelRemoved),
            );
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
            if added > 0 {
                parts.push(format!("{} added", plural(added, "wheel")));
            }
            if removed > 0 {
                parts.push(format!("{} removed", plural(removed, "wheel")));
            }
            parts.join(", ")
        }
    }
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
            format!("**{} {version}**", c.name)
        } else {
            format!("{} {version}", c.name)
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
fn change_lines(changes: &[PackageChange], paint: Paint) -> Vec<String> {
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
                for a in c.artifacts.iter().filter(|a| !a.change.is_suspicious()) {
                    rest.push(wheel_line(c, a, &origin, paint));
                }
            }
            ChangeKind::WheelsChanged => {
                for a in &c.artifacts {
                    rest.push(wheel_line(c, a, &origin, paint));
                }
            }
            ChangeKind::Added => {
                rest.push(format!(
                    "{} {origin}",
                    paint.green(&format!("+ {} {new}", c.name))
                ));
            }
            ChangeKind::Removed => {
                rest.push(format!(
                    "{} {origin}",
                    paint.red(&format!("- {} {old}", c.name))
                ));
            }
            ChangeKind::Upgraded | ChangeKind::Downgraded | ChangeKind::LocalLabel => {
                let line = format!("~ {} {old} -> {new}", c.name);
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

fn wheel_line(c: &PackageChange, a: &ArtifactChange, origin: &str, paint: Paint) -> String {
    let what = if a.change == ArtifactChangeKind::WheelAdded {
        "added"
    } else {
        "removed"
    };
    let version = c.new.as_deref().unwrap_or("");
    format!(
        "{} {origin}",
        paint.cyan(&format!("* {} {version}: wheel {} {what}", c.name, a.file))
    )
}

/// A Markdown table cell: no pipes, no line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// ANSI colours, or none.
#[derive(Clone, Copy)]
struct Paint(bool);

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    fn wheel(file: &str, sha: &str) -> LockedWheel {
        LockedWheel {
            name: file.to_string(),
            url: format!("https://example.test/{file}"),
            size: Some(100),
            upload_time: None,
            sha256: sha.repeat(64 / sha.len()),
        }
    }

    fn pkg(name: &str, version: &str, deps: &[&str], direct: bool) -> LockedPackage {
        LockedPackage {
            name: pep508_rs::PackageName::from_str(name).unwrap(),
            version: v(version),
            index: "https://example.test/simple".to_string(),
            requires_python: None,
            dependencies: deps
                .iter()
                .map(|d| pep508_rs::PackageName::from_str(d).unwrap())
                .collect(),
            wheels: vec![wheel(&format!("{name}-{version}-py3-none-any.whl"), "a")],
            direct,
            extras: Vec::new(),
        }
    }

    fn lock(packages: Vec<LockedPackage>) -> Lockfile {
        Lockfile {
            packages,
            ..Lockfile::empty_for_tests()
        }
    }

    #[test]
    fn versions_are_classified_from_their_release_segments() {
        use Bump::*;
        use ChangeKind::*;
        for (old, new, expected) in [
            ("1.26.4", "2.1.0", Some((Upgraded, Major))),
            ("2.1.0", "1.26.4", Some((Downgraded, Major))),
            ("4.40.0", "4.41.2", Some((Upgraded, Minor))),
            ("1.0", "1.0.1", Some((Upgraded, Patch))),
            ("1.0.0.1", "1.0.0", Some((Downgraded, Patch))),
            ("1.0", "1.0.0", None),
            ("2.0.0rc1", "2.0.0", Some((Upgraded, Other))),
            ("1.0.post1", "1.0", Some((Downgraded, Other))),
            ("1!1.0", "2.0", Some((Downgraded, Major))),
            ("2.9.0+cu128", "2.9.0+cu130", None),
            ("2.8.0+cu128", "2.9.0+cu130", Some((Upgraded, Minor))),
        ] {
            assert_eq!(classify(&v(old), &v(new)), expected, "{old} -> {new}");
        }
    }

    #[test]
    fn via_chains_take_the_shortest_path_from_a_direct_package() {
        let l = lock(vec![
            pkg("peft", "0.13.0", &["accelerate", "torch"], true),
            pkg("accelerate", "1.0.0", &["psutil", "safetensors"], false),
            pkg("safetensors", "0.4.5", &[], false),
            pkg("psutil", "6.0.0", &[], false),
            pkg("torch", "2.9.0", &[], false),
            pkg("orphan", "1.0", &[], false),
        ]);
        let chains = via_chains(&l);
        assert_eq!(chains["peft"], Vec::<String>::new());
        assert_eq!(chains["torch"], vec!["peft"]);
        assert_eq!(chains["psutil"], vec!["peft", "accelerate"]);
        assert!(!chains.contains_key("orphan"));
    }

    #[test]
    fn same_version_artifacts_are_compared_by_file_name() {
        let mut old = pkg("torch", "2.9.0", &[], true);
        old.wheels
            .push(wheel("torch-2.9.0-cp312-cp312-linux_x86_64.whl", "b"));
        let mut rehashed = old.clone();
        rehashed.wheels[1].sha256 = "c".repeat(64);
        let mut more = old.clone();
        more.wheels
            .push(wheel("torch-2.9.0-cp312-cp312-linux_aarch64.whl", "d"));
        let (o, r, m) = (lock(vec![old]), lock(vec![rehashed]), lock(vec![more]));

        let loud = compare(Some(&o), Some(&r));
        assert_eq!(loud.len(), 1);
        assert_eq!(loud[0].change, ChangeKind::ArtifactChanged);
        assert_eq!(
            loud[0].artifacts[0].change,
            ArtifactChangeKind::Sha256Changed
        );
        let quiet = compare(Some(&o), Some(&m));
        assert_eq!(quiet[0].change, ChangeKind::WheelsChanged);
        assert_eq!(quiet[0].artifacts[0].change, ArtifactChangeKind::WheelAdded);
        assert!(compare(Some(&o), Some(&o)).is_empty());

        let lines = summary_lines(Some(&o), &r);
        assert!(lines[0].starts_with("!! torch 2.9.0: artifact torch-2.9.0-cp312"));
        assert!(lines[0].contains("sha256 changed (was bbbbbbbbbbbb…, now cccccccccccc…)"));
        assert!(lines[0].contains("re-uploaded or tampered with"));
    }

    #[test]
    fn a_missing_side_is_all_added_or_all_removed() {
        let l = lock(vec![
            pkg("a", "1.0", &["b"], true),
            pkg("b", "2.0", &[], false),
        ]);
        assert_eq!(
            summary_lines(None, &l),
            vec!["+ a 1.0 (direct)", "+ b 2.0 (via a)"]
        );
        let removed = compare(Some(&l), None);
        assert!(removed.iter().all(|c| c.change == ChangeKind::Removed));
        assert_eq!(removed[1].via, vec!["a"]);
    }
}
