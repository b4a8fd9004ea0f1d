//! The rules every member of an sdist obeys, whichever archive format holds it and whether it
//! is extracted or only read: a safe relative name under one top-level directory, no path
//! twice, parents that are directories of this archive (never a symlink or a file), links
//! that stay inside the tree, and the entry and size limits.
//!
//! [`Tree`] is the archive as admitted so far; the readers ([`super::tarball`],
//! [`super::zipfile`]) turn each raw entry into an [`EntryKind`], and the consumers
//! ([`super::archive`]'s extractor and static reader) ask [`Tree::admit`] before they act on it.

use std::collections::HashMap;

use super::SdistError;
use super::archive::Limits;
use crate::install::wheel::check_entry_name;

/// What a member is, as the reader understood it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum EntryKind {
    Dir,
    File {
        size: u64,
        executable: bool,
    },
    /// The link's target, as stored.
    Symlink(String),
    /// The archive path of an earlier member.
    HardLink(String),
}

/// A path admitted so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    /// A directory; `explicit` when the archive lists it (else created for a member inside).
    Dir {
        explicit: bool,
    },
    File {
        size: u64,
        executable: bool,
    },
    Symlink,
}

/// A member [`Tree::admit`] accepted.
#[derive(Debug)]
pub(super) struct Admitted {
    /// Its components, the top-level directory first.
    pub parts: Vec<String>,
    /// Parent directories the archive does not list and that do not exist yet, outermost
    /// first, each as its components.
    pub new_dirs: Vec<Vec<String>>,
    pub action: Action,
}

/// What to create for an admitted member.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Action {
    /// A directory; `exists` when a member inside it, listed earlier, already created it.
    Dir { exists: bool },
    /// A file with the member's data.
    File { size: u64, executable: bool },
    /// A file with the contents of an earlier one (a hard link), `source` its components.
    Copy {
        source: Vec<String>,
        size: u64,
        executable: bool,
    },
    /// A symlink to a target checked to stay inside the tree.
    Symlink(String),
}

/// The members of one archive admitted so far.
pub(super) struct Tree<'a> {
    sdist: &'a str,
    limits: &'a Limits,
    top: Option<String>,
    nodes: HashMap<String, Node>,
    entries: u64,
    bytes: u64,
}

impl<'a> Tree<'a> {
    pub fn new(sdist: &'a str, limits: &'a Limits) -> Self {
        Tree {
            sdist,
            limits,
            top: None,
            nodes: HashMap::new(),
            entries: 0,
            bytes: 0,
        }
    }

    /// The sdist's file name.
    pub fn sdist(&self) -> &'a str {
        self.sdist
    }

    /// The size of the file at `parts`, if one was admitted there.
    pub fn file_size(&self, parts: &[String]) -> Option<u64> {
        match self.nodes.get(&parts.join("/")) {
            Some(Node::File { size, .. }) => Some(*size),
            _ => None,
        }
    }

    /// The top-level directory, once a member named it.
    pub fn top(&self) -> Option<&str> {
        self.top.as_deref()
    }

    /// The error for `member` of this sdist.
    pub fn refuse(&self, member: &str, reason: impl Into<String>) -> SdistError {
        refuse(self.sdist, member, reason)
    }

    /// Check one member named `name` against everything admitted before it; see the module
    /// documentation. `None` for a directory entry that names only the archive root (`./`).
    pub fn admit(&mut self, name: &str, kind: EntryKind) -> Result<Option<Admitted>, SdistError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(self.refuse(
                name,
                format!(
                    "more than {} entries in the archive",
                    self.limits.max_entries
                ),
            ));
        }
        if kind == EntryKind::Dir
            && name.starts_with('.')
            && name.split('/').all(|p| p.is_empty() || p == ".")
        {
            return Ok(None);
        }
        if kind != EntryKind::Dir && name.ends_with('/') {
            return Err(self.refuse(name, "a name ending in `/` that is not a directory"));
        }
        let parts = check_entry_name(name).map_err(|reason| self.refuse(name, reason))?;
        self.check_top(name, &parts, &kind)?;
        let new_dirs = self.check_parents(name, &parts)?;
        let key = parts.join("/");
        let mut exists = false;
        match (self.nodes.get(&key), &kind) {
            (None, _) => {}
            (Some(Node::Dir { explicit: false }), EntryKind::Dir) => exists = true,
            (Some(_), _) => return Err(self.refuse(name, "the archive holds this path twice")),
        }
        let (node, action) = match kind {
            EntryKind::Dir => (Node::Dir { explicit: true }, Action::Dir { exists }),
            EntryKind::File { size, executable } => {
                self.count_bytes(name, size)?;
                let node = Node::File { size, executable };
                (node, Action::File { size, executable })
            }
            EntryKind::Symlink(target) => {
                check_symlink(&parts, &target).map_err(|reason| self.refuse(name, reason))?;
                (Node::Symlink, Action::Symlink(target))
            }
            EntryKind::HardLink(target) => {
                let (size, executable, source) = self.link_source(name, &target)?;
                self.count_bytes(name, size)?;
                let node = Node::File { size, executable };
                let action = Action::Copy {
                    source,
                    size,
                    executable,
                };
                (node, action)
            }
        };
        for dir in &new_dirs {
            self.nodes
                .insert(dir.join("/"), Node::Dir { explicit: false });
        }
        self.nodes.insert(key, node);
        Ok(Some(Admitted {
            parts,
            new_dirs,
            action,
        }))
    }

    /// One top-level directory holds everything, and nothing else sits at the top.
    fn check_top(
        &mut self,
        name: &str,
        parts: &[String],
        kind: &EntryKind,
    ) -> Result<(), SdistError> {
        match &self.top {
            Some(top) if *top != parts[0] => {
                let reason = format!(
                    "a second top-level entry (the source tree is `{}`)",
                    shown(top)
                );
                return Err(self.refuse(name, reason));
            }
            Some(_) => {}
            None => self.top = Some(parts[0].clone()),
        }
        if parts.len() == 1 && *kind != EntryKind::Dir {
            return Err(self.refuse(
                name,
                "a top-level entry that is not a directory (an sdist holds one directory, `name-version/`)",
            ));
        }
        Ok(())
    }

    /// Every parent of `parts` is a directory of this archive, or not created yet.
    fn check_parents(&self, name: &str, parts: &[String]) -> Result<Vec<Vec<String>>, SdistError> {
        let mut new_dirs = Vec::new();
        for depth in 1..parts.len() {
            let parent = &parts[..depth];
            match self.nodes.get(&parent.join("/")) {
                Some(Node::Dir { .. }) => {}
                None => new_dirs.push(parent.to_vec()),
                Some(Node::Symlink) => {
                    let reason = format!("its parent `{}` is a symlink", shown(&parent.join("/")));
                    return Err(self.refuse(name, reason));
                }
                Some(Node::File { .. }) => {
                    let reason = format!("its parent `{}` is a file", shown(&parent.join("/")));
                    return Err(self.refuse(name, reason));
                }
            }
        }
        Ok(new_dirs)
    }

    /// The regular file an in-archive hard link names: its size, mode and components.
    fn link_source(
        &self,
        name: &str,
        target: &str,
    ) -> Result<(u64, bool, Vec<String>), SdistError> {
        let parts = check_entry_name(target).map_err(|reason| {
            self.refuse(
                name,
                format!("a hard link to `{}`: {reason}", shown(target)),
            )
        })?;
        match self.nodes.get(&parts.join("/")) {
            Some(Node::File { size, executable }) => Ok((*size, *executable, parts)),
            _ => Err(self.refuse(
                name,
                format!(
                    "a hard link to `{}`, which is not a file earlier in the archive",
                    shown(target)
                ),
            )),
        }
    }

    fn count_bytes(&mut self, name: &str, size: u64) -> Result<(), SdistError> {
        if size > self.limits.max_file_bytes {
            return Err(self.refuse(
                name,
                format!(
                    "{size} bytes, more than the {} a file may hold",
                    self.limits.max_file_bytes
                ),
            ));
        }
        self.bytes = self.bytes.saturating_add(size);
        if self.bytes > self.limits.max_bytes {
            return Err(self.refuse(
                name,
                format!(
                    "the archive unpacks to more than {} bytes",
                    self.limits.max_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// A symlink at `link` (components, top-level directory first) may point at `target` when the
/// target is relative and stays inside the top-level directory: its `..` components come
/// first, and climb no higher than the link's own directory is deep. A `..` after a name is
/// refused, because through a symlink it would not mean what it spells (`s -> .` then
/// `t -> s/..` is the tree's parent), so every link resolves inside the tree whatever the
/// links it passes through.
fn check_symlink(link: &[String], target: &str) -> Result<(), String> {
    let reason = |why: &str| format!("a symlink to `{}`: {why}", shown(target));
    if target.is_empty() {
        return Err(reason("an empty target"));
    }
    if target.contains('\0') {
        return Err(reason("it contains a NUL"));
    }
    if target.contains('\\') {
        return Err(reason("it contains a backslash"));
    }
    if target.contains(':') {
        return Err(reason("it contains `:` (a drive letter or stream name)"));
    }
    if target.starts_with('/') {
        return Err(reason("an absolute path"));
    }
    // The link's directory, below the top-level directory.
    let depth = link.len().saturating_sub(2);
    let mut ups = 0;
    let mut named = false;
    for part in target.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            if named {
                return Err(reason("a `..` after a name"));
            }
            ups += 1;
        } else {
            named = true;
        }
    }
    if ups > depth {
        return Err(reason("it leaves the source tree"));
    }
    Ok(())
}

/// The error for `member` of `sdist`.
pub(super) fn refuse(sdist: &str, member: &str, reason: impl Into<String>) -> SdistError {
    SdistError::Member {
        sdist: sdist.to_string(),
        member: shown(member),
        reason: reason.into(),
    }
}

/// A member name as shown in messages: control characters escaped, so that an archive
/// cannot write to the terminal.
pub(super) fn shown(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}
