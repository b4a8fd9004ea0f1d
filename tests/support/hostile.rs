//! Hostile sdists for the sdist safety tests: each is named like a valid sdist
//! (`<dist>-<ver>.tar.gz`) and holds the whole buildable tree of a `static` version (valid
//! `PKG-INFO` 2.2, `pyproject.toml`, the in-tree backend, the package), so a reader that
//! skipped the hostile entry would succeed; the hostile entry comes last (after the tree) and
//! is written with hand-made ustar / PAX headers:
//!
//! | builder | hostile entry ([`hostile_member`]) |
//! |---|---|
//! | [`escaping_path_sdist`] | a file `<stem>/../../sanctuary-escaped.txt` |
//! | [`absolute_path_sdist`] | a file `/tmp/sanctuary-absolute-<stem>.txt` |
//! | [`symlink_out_sdist`] | a symlink `<stem>/escape` → `../..`, then a file `<stem>/escape/sanctuary-through-symlink.txt` written through it |
//! | [`hardlink_out_sdist`] | a hard link `<stem>/passwd` → `/etc/passwd` |
//! | [`pax_size_lie_sdist`] | a file `<stem>/payload.bin` whose PAX `size` says 1 TiB while its ustar header (and its data) say 16 bytes |
//! | [`device_sdist`] | a character device `<stem>/dev-null` (1, 3) |
//! | [`fifo_sdist`] | a FIFO `<stem>/fifo` |
//!
//! Serve one with `VersionSpec::sdist_override` (the project page then lists it).

use super::scenario::{BuildSpec, VersionSpec};
use super::sdistgen::source_tree;
use super::tarball::{EntryKind, TarWriter};
use super::wheelgen::{Dist, sdist_stem};

/// What makes a hostile sdist hostile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hostile {
    EscapingPath,
    AbsolutePath,
    SymlinkOut,
    HardlinkOut,
    PaxSizeLie,
    Device,
    Fifo,
}

/// The size the PAX header of [`Hostile::PaxSizeLie`] declares.
pub const PAX_LIE_SIZE: u64 = 1 << 40;
/// What the hostile regular files hold.
pub const HOSTILE_CONTENT: &[u8] = b"written by a hostile sdist\n";

/// The name (as the tar header, or the PAX `path`, spells it) of the hostile member of
/// `name` `version`'s sdist of this kind.
pub fn hostile_member(name: &str, version: &str, kind: Hostile) -> String {
    let stem = sdist_stem(name, version);
    match kind {
        Hostile::EscapingPath => format!("{stem}/../../sanctuary-escaped.txt"),
        Hostile::AbsolutePath => format!("/tmp/sanctuary-absolute-{stem}.txt"),
        Hostile::SymlinkOut => format!("{stem}/escape"),
        Hostile::HardlinkOut => format!("{stem}/passwd"),
        Hostile::PaxSizeLie => format!("{stem}/payload.bin"),
        Hostile::Device => format!("{stem}/dev-null"),
        Hostile::Fifo => format!("{stem}/fifo"),
    }
}

/// The buildable tree of `spec` (its `build` table, or the default one) with the hostile
/// entry of `kind` appended.
pub fn hostile_sdist(name: &str, version: &str, spec: &VersionSpec, kind: Hostile) -> Dist {
    let stem = sdist_stem(name, version);
    let mut spec = spec.clone();
    spec.build.get_or_insert_with(BuildSpec::default);
    let mut tar = TarWriter::new();
    for (path, bytes) in source_tree(name, version, &spec, true) {
        tar.file(&format!("{stem}/{path}"), &bytes);
    }
    let member = hostile_member(name, version, kind);
    match kind {
        Hostile::EscapingPath | Hostile::AbsolutePath => {
            tar.file(&member, HOSTILE_CONTENT);
        }
        Hostile::SymlinkOut => {
            tar.entry(&member, &EntryKind::Symlink("../..".into()), 0o777, b"");
            tar.file(
                &format!("{member}/sanctuary-through-symlink.txt"),
                HOSTILE_CONTENT,
            );
        }
        Hostile::HardlinkOut => {
            tar.entry(
                &member,
                &EntryKind::Hardlink("/etc/passwd".into()),
                0o644,
                b"",
            );
        }
        Hostile::PaxSizeLie => {
            tar.pax(&[("size", &PAX_LIE_SIZE.to_string())]);
            tar.file(&member, b"0123456789abcdef");
        }
        Hostile::Device => {
            tar.entry(&member, &EntryKind::CharDevice(1, 3), 0o666, b"");
        }
        Hostile::Fifo => {
            tar.entry(&member, &EntryKind::Fifo, 0o644, b"");
        }
    }
    Dist::new(format!("{stem}.tar.gz"), tar.finish_gz(), None)
}

fn plain(name: &str, version: &str, kind: Hostile) -> Dist {
    hostile_sdist(name, version, &VersionSpec::new(), kind)
}

/// A member whose path climbs out of the extraction directory with `..`.
pub fn escaping_path_sdist(name: &str, version: &str) -> Dist {
    plain(name, version, Hostile::EscapingPath)
}

/// A member with an absolute path.
pub fn absolute_path_sdist(name: &str, version: &str) -> Dist {
    plain(name, version, Hostile::AbsolutePath)
}

/// A symlink pointing out of the extraction directory and a file written through it.
pub fn symlink_out_sdist(name: &str, version: &str) -> Dist {
    plain(name, version, Hostile::SymlinkOut)
}

/// A hard link to a file outside the archive (`/etc/passwd`).
pub fn hardlink_out_sdist(name: &str, version: &str) -> Dist {
    plain(name, version, Hostile::HardlinkOut)
}

/// A member whose PAX `size` (1 TiB) disagrees with its ustar header and its data.
pub fn pax_size_lie_sdist(name: &str, version: &str) -> Dist {
    plain(name, version, Hostile::PaxSizeLie)
}

/// A character device member.
pub fn device_sdist(name: &str, version: &str) -> Dist {
    plain(name, version, Hostile::Device)
}

/// A FIFO member.
pub fn fifo_sdist(name: &str, version: &str) -> Dist {
    plain(name, version, Hostile::Fifo)
}
