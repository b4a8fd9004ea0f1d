//! What changed between two sets of lockfiles, classified for code review (`sanctuary diff`,
//! and the summary `sanctuary lock` prints). Pure: lockfiles in, a [`DiffReport`] and its
//! text, Markdown and JSON renderings out; the caller reads the files (or `git show`s them).
//!
//! Each package change is one of: added, removed, upgraded or downgraded (with the major,
//! minor or patch bump read from the release segments), a change of the local label only
//! (`2.9.0+cu128` -> `2.9.0+cu130`), an artifact of the same version and file name whose
//! sha256, URL or size changed (flagged loudly: that is how a re-uploaded or tampered file
//! shows), wheels or the sdist added or removed for the same version (new platform tags,
//! quieter), or the source of a directory or git package moved (a new commit, another
//! repository or path; told with any version change too, as `commit abc1234 -> def5678`).
//! Every change says whether the package is a direct requirement, or which direct package
//! pulled it in (`via peft -> accelerate`), walking `dependencies` in the new lockfile (the old
//! one for removals).
//!
//! A universal lockfile may hold a package several times, each entry for the environments its
//! `marker` names (forks). Entries pair by name and marker (and version), so a fork gained or
//! lost shows as an entry added or removed with its marker, a marker that moved for the same
//! version as `marker-changed`, and a change of the lockfile's `environments` on the file.
//! For lockfiles without markers, the report is what it always was.

use pep440_rs::Version;
use schemars::JsonSchema;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::{LocalSource, LockedPackage, Lockfile};

mod render;

use render::{Paint, change_lines};

/// The current [`DiffReport::format`].
pub const REPORT_FORMAT: u32 = 1;

/// How many hex digits of a sha256 the text and Markdown renderings show.
const SHORT_HASH: usize = 12;

/// How many hex digits of a git commit the text and Markdown renderings show (git's own).
const SHORT_COMMIT: usize = 7;

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
    /// The lockfile's `environments` that were added or removed; absent when they did not
    /// change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<EnvironmentsChange>,
    /// Sorted by package name.
    pub changes: Vec<PackageChange>,
}

/// The environments (PEP 508 markers) a lockfile covers that came or went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EnvironmentsChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
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
    /// For `artifact-changed` and `wheels-changed`: what changed, sorted by file name. For a
    /// directory or git package (of any change kind): how its source moved, last.
    pub artifacts: Vec<ArtifactChange>,
    /// The PEP 508 marker of the entry (the new one, or the old one when removed): the
    /// environments a universal lock's entry is for; absent for an entry for every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// When the entry's marker moved (`marker-changed`, or with a version change): the old
    /// and the new marker; absent when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker_change: Option<MarkerChange>,
}

/// A marker before and after; null for an entry of every environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MarkerChange {
    pub old: Option<String>,
    pub new: Option<String>,
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
    /// Wheels (new or dropped platform tags) or the sdist added or removed for the same
    /// version.
    WheelsChanged,
    /// A directory or git package of the same version whose source moved: a new commit,
    /// another repository, subdirectory or path, editable or not; or a package that moved
    /// between an index and a directory or repository.
    SourceChanged,
    /// The same version, for other environments: its marker changed (a universal lock).
    MarkerChanged,
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
    /// The wheel's or sdist's file name; for `commit-changed` and `source-changed`, the
    /// repository URL or directory path (the new one, or the old one when the package now
    /// comes from an index).
    pub file: String,
    /// The old value (sha256, URL, size, commit, or the source as `git URL@COMMIT` or
    /// `directory PATH`); null for added and removed files, and for a source that was an
    /// index.
    pub old: Option<String>,
    /// The new value; null for added and removed files, and for a source that is an index.
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
    SdistAdded,
    SdistRemoved,
    /// A git package's commit moved, in the same repository.
    CommitChanged,
    /// A directory or git package's source moved otherwise, or the package moved between an
    /// index and a directory or repository.
    SourceChanged,
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

    /// A directory or git package's source moved.
    pub fn is_source(self) -> bool {
        matches!(
            self,
            ArtifactChangeKind::CommitChanged | ArtifactChangeKind::SourceChanged
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
    pub source_changed: usize,
    /// Entries of the same version whose marker changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub marker_changed: usize,
    /// Lockfiles whose `environments` changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub environments_changed: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
                let environments = match (&p.old, &p.new) {
                    (Some(o), Some(n)) => environments_change(o, n),
                    _ => None,
                };
                let status = match (&p.old, &p.new) {
                    (None, _) => FileStatus::Added,
                    (_, None) => FileStatus::Removed,
                    _ if changes.is_empty() && environments.is_none() => FileStatus::Unchanged,
                    _ => FileStatus::Changed,
                };
                FileDiff {
                    layer: tool.layer.clone(),
                    key: tool.key.clone(),
                    name: p.name.clone(),
                    old_path: p.old_path.clone(),
                    new_path: p.new_path.clone(),
                    status,
                    environments,
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
            if f.environments.is_some() {
                summary.environments_changed += 1;
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
                    ChangeKind::SourceChanged => &mut summary.source_changed,
                    ChangeKind::MarkerChanged => &mut summary.marker_changed,
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
/// package name (a forked package's entries by version, then marker).
pub fn compare(old: Option<&Lockfile>, new: Option<&Lockfile>) -> Vec<PackageChange> {
    fn index(lock: Option<&Lockfile>) -> BTreeMap<String, Vec<&LockedPackage>> {
        let mut map: BTreeMap<String, Vec<&LockedPackage>> = BTreeMap::new();
        for p in lock.map(|l| l.packages.as_slice()).unwrap_or_default() {
            map.entry(p.name.to_string()).or_default().push(p);
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
        let none = Vec::new();
        let olds = old_pkgs.get(name).unwrap_or(&none);
        let news = new_pkgs.get(name).unwrap_or(&none);
        for (o, n) in pair_entries(olds, news) {
            let Some((change, bump, artifacts)) = classify_pair(o, n) else {
                continue;
            };
            let (pkg, via) = match n {
                Some(p) => (p, lookup(&new_via, name)),
                None => (o.expect("one side"), lookup(&old_via, name)),
            };
            let marker_change = match (o, n) {
                (Some(o), Some(n)) if o.marker != n.marker => Some(MarkerChange {
                    old: o.marker.clone(),
                    new: n.marker.clone(),
                }),
                _ => None,
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
                marker: pkg.marker.clone(),
                marker_change,
            });
        }
    }
    out
}

/// An old and a new entry of one package, either missing.
type Pair<'a> = (Option<&'a LockedPackage>, Option<&'a LockedPackage>);

/// The entries of one package on both sides, paired: the same version and marker first, then
/// the same marker (a fork's version moved), then the same version (its marker moved), then
/// the last one left on each side; whatever is left was added or removed. One entry on each
/// side (every lockfile without forks) always pairs.
fn pair_entries<'a>(olds: &[&'a LockedPackage], news: &[&'a LockedPackage]) -> Vec<Pair<'a>> {
    let mut old_left: Vec<Option<&LockedPackage>> = olds.iter().copied().map(Some).collect();
    let mut new_left: Vec<Option<&LockedPackage>> = news.iter().copied().map(Some).collect();
    let mut pairs: Vec<Pair<'a>> = Vec::new();
    let rules: [fn(&LockedPackage, &LockedPackage) -> bool; 3] = [
        |o, n| o.version == n.version && o.marker == n.marker,
        |o, n| o.marker == n.marker,
        |o, n| o.version == n.version,
    ];
    for same in rules {
        for o in old_left.iter_mut() {
            let Some(op) = *o else { continue };
            if let Some(n) = new_left
                .iter_mut()
                .find(|n| n.is_some_and(|np| same(op, np)))
            {
                pairs.push((o.take(), n.take()));
            }
        }
    }
    let rest_old: Vec<&LockedPackage> = old_left.into_iter().flatten().collect();
    let rest_new: Vec<&LockedPackage> = new_left.into_iter().flatten().collect();
    if let ([o], [n]) = (rest_old.as_slice(), rest_new.as_slice()) {
        pairs.push((Some(o), Some(n)));
    } else {
        pairs.extend(rest_old.into_iter().map(|o| (Some(o), None)));
        pairs.extend(rest_new.into_iter().map(|n| (None, Some(n))));
    }
    let key = |(o, n): &Pair<'a>| {
        let p = n.or(*o).expect("one side");
        (p.version.clone(), p.marker.clone())
    };
    pairs.sort_by_key(key);
    pairs
}

/// What changed between two paired entries; `None` when nothing did.
fn classify_pair(
    o: Option<&LockedPackage>,
    n: Option<&LockedPackage>,
) -> Option<(ChangeKind, Option<Bump>, Vec<ArtifactChange>)> {
    Some(match (o, n) {
        (None, Some(_)) => (ChangeKind::Added, None, Vec::new()),
        (Some(_), None) => (ChangeKind::Removed, None, Vec::new()),
        (Some(o), Some(n)) if o.version != n.version => {
            let sources = source_changes(o, n);
            match classify(&o.version, &n.version) {
                None => (ChangeKind::LocalLabel, None, sources),
                Some((kind, bump)) => (kind, Some(bump), sources),
            }
        }
        (Some(o), Some(n)) => {
            let mut artifacts = artifact_changes(o, n);
            artifacts.extend(source_changes(o, n));
            let kind = if artifacts.iter().any(|a| a.change.is_suspicious()) {
                ChangeKind::ArtifactChanged
            } else if o.marker != n.marker {
                ChangeKind::MarkerChanged
            } else if artifacts.is_empty() {
                return None;
            } else if artifacts.iter().any(|a| a.change.is_source()) {
                ChangeKind::SourceChanged
            } else {
                ChangeKind::WheelsChanged
            };
            (kind, None, artifacts)
        }
        (None, None) => return None,
    })
}

/// The `environments` of `old` and `new` that differ; `None` when none does.
fn environments_change(old: &Lockfile, new: &Lockfile) -> Option<EnvironmentsChange> {
    let added: Vec<String> = new
        .environments
        .iter()
        .filter(|e| !old.environments.contains(e))
        .cloned()
        .collect();
    let removed: Vec<String> = old
        .environments
        .iter()
        .filter(|e| !new.environments.contains(e))
        .cloned()
        .collect();
    (!added.is_empty() || !removed.is_empty()).then_some(EnvironmentsChange { added, removed })
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

/// A wheel's or sdist's fields, as compared.
struct File<'a> {
    sdist: bool,
    sha256: &'a str,
    url: &'a str,
    size: Option<u64>,
}

/// Same-version artifact changes (wheels and the sdist), by file name.
fn artifact_changes(old: &LockedPackage, new: &LockedPackage) -> Vec<ArtifactChange> {
    fn by_name(p: &LockedPackage) -> BTreeMap<&str, File<'_>> {
        let wheels = p.wheels.iter().map(|w| {
            let file = File {
                sdist: false,
                sha256: &w.sha256,
                url: &w.url,
                size: w.size,
            };
            (w.name.as_str(), file)
        });
        let sdist = p.sdist.iter().map(|s| {
            let file = File {
                sdist: true,
                sha256: &s.sha256,
                url: &s.url,
                size: s.size,
            };
            (s.name.as_str(), file)
        });
        wheels.chain(sdist).collect()
    }
    let (old, new) = (by_name(old), by_name(new));
    let mut names: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
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
                    push(kind, name, Some(o.sha256.into()), Some(n.sha256.into()));
                }
                if o.url != n.url {
                    let kind = ArtifactChangeKind::UrlChanged;
                    push(kind, name, Some(o.url.into()), Some(n.url.into()));
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
            (None, Some(f)) if f.sdist => push(ArtifactChangeKind::SdistAdded, name, None, None),
            (None, Some(_)) => push(ArtifactChangeKind::WheelAdded, name, None, None),
            (Some(f), None) if f.sdist => push(ArtifactChangeKind::SdistRemoved, name, None, None),
            (Some(_), None) => push(ArtifactChangeKind::WheelRemoved, name, None, None),
            (None, None) => {}
        }
    }
    out
}

/// How the source of a directory or git package moved from `old` to `new`: a commit of the
/// same repository, or any other change (including to or from an index). Empty when neither
/// side is a local package or nothing moved.
fn source_changes(old: &LockedPackage, new: &LockedPackage) -> Vec<ArtifactChange> {
    if old.source == new.source {
        return Vec::new();
    }
    let location = |s: &LocalSource| match s {
        LocalSource::Directory { path, .. } => path.clone(),
        LocalSource::Vcs { url, .. } => url.clone(),
    };
    if let (
        Some(
            o @ LocalSource::Vcs {
                url, commit_id: a, ..
            },
        ),
        Some(n @ LocalSource::Vcs { commit_id: b, .. }),
    ) = (&old.source, &new.source)
    {
        // Only the commit moved (the requested branch or tag may well be the same).
        let mut moved = o.clone();
        if let LocalSource::Vcs { commit_id, .. } = &mut moved {
            commit_id.clone_from(b);
        }
        if &moved == n {
            return vec![ArtifactChange {
                change: ArtifactChangeKind::CommitChanged,
                file: url.clone(),
                old: Some(a.clone()),
                new: Some(b.clone()),
            }];
        }
    }
    let file = new
        .source
        .as_ref()
        .or(old.source.as_ref())
        .map(location)
        .unwrap_or_default();
    vec![ArtifactChange {
        change: ArtifactChangeKind::SourceChanged,
        file,
        old: old.source.as_ref().map(ToString::to_string),
        new: new.source.as_ref().map(ToString::to_string),
    }]
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

#[cfg(test)]
mod tests;
