//! Tests of the sdist archive reader: hostile tarballs and zips, each refused with an error
//! naming the sdist and the member and with nothing written outside the destination, and
//! ordinary sdists unpacked and read.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

use super::archive::{Limits, read_static_files_from_bytes, unpack, unpack_bytes};
use super::{SdistError, read_static_files};

const SDIST: &str = "demo-1.0.tar.gz";

/// A tarball written header by header, so that it can take shapes the `tar` crate's own
/// path-setting methods refuse.
struct Tarball {
    builder: tar::Builder<Vec<u8>>,
}

impl Tarball {
    fn new() -> Self {
        Tarball {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    /// A ustar header with `name` written as raw bytes (at most 100).
    fn header(name: &[u8], kind: EntryType, size: u64, mode: u32) -> Header {
        let mut header = Header::new_ustar();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        header
    }

    fn raw(mut self, header: &Header, data: &[u8]) -> Self {
        self.builder.append(header, data).unwrap();
        self
    }

    fn dir(self, name: &str) -> Self {
        let header = Self::header(name.as_bytes(), EntryType::Directory, 0, 0o755);
        self.raw(&header, b"")
    }

    fn file(self, name: &str, data: &[u8]) -> Self {
        self.file_mode(name, data, 0o644)
    }

    fn file_mode(self, name: &str, data: &[u8], mode: u32) -> Self {
        let header = Self::header(name.as_bytes(), EntryType::Regular, data.len() as u64, mode);
        self.raw(&header, data)
    }

    fn link(self, name: &str, kind: EntryType, target: &str) -> Self {
        let mut header = Self::header(name.as_bytes(), kind, 0, 0o777);
        header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        header.set_cksum();
        self.raw(&header, b"")
    }

    fn symlink(self, name: &str, target: &str) -> Self {
        self.link(name, EntryType::Symlink, target)
    }

    fn hardlink(self, name: &str, target: &str) -> Self {
        self.link(name, EntryType::Link, target)
    }

    fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
        self.builder
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self
    }

    fn tar(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }

    fn gz(self) -> Vec<u8> {
        gzip(&self.tar())
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A GNU long name header for `name` (its data: [`nul_terminated`]).
fn gnu_long_name(name: &str) -> Header {
    let mut header = Header::new_gnu();
    header.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    header.set_entry_type(EntryType::GNULongName);
    header.set_size(name.len() as u64 + 1);
    header.set_cksum();
    header
}

fn nul_terminated(name: &str) -> Vec<u8> {
    let mut data = name.as_bytes().to_vec();
    data.push(0);
    data
}

/// One PAX record, `"<len> key=value\n"`.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while rest + len.to_string().len() != len {
        len = rest + len.to_string().len();
    }
    format!("{len} {key}={value}\n").into_bytes()
}

/// A temporary directory holding the destination `dest/`, so that anything written beside
/// it shows.
struct Scratch {
    root: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            root: tempfile::tempdir().unwrap(),
        }
    }

    fn dest(&self) -> PathBuf {
        self.root.path().join("dest")
    }

    /// The entries beside `dest/`: none may appear.
    fn beside_dest(&self) -> Vec<String> {
        std::fs::read_dir(self.root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != "dest")
            .collect()
    }
}

fn unpack_gz(scratch: &Scratch, bytes: &[u8]) -> Result<PathBuf, SdistError> {
    unpack_bytes(bytes, SDIST, &scratch.dest(), &Limits::default())
}

/// `bytes` is refused as a member error naming the sdist and `member`, writes nothing beside
/// the destination, and `read_static_files` refuses it too.
#[track_caller]
fn assert_refused(bytes: &[u8], member: &str, reason: &str) {
    let scratch = Scratch::new();
    let err = unpack_gz(&scratch, bytes).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, SdistError::Member { .. }), "{err:?}");
    assert!(message.contains(SDIST), "{message}");
    assert!(message.contains(&format!("`{member}`")), "{message}");
    assert!(message.contains(reason), "{message}");
    assert_eq!(scratch.beside_dest(), Vec::<String>::new());
    let err = read_static_files_from_bytes(bytes, SDIST, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains(member), "{err}");
}

fn normal_sdist() -> Tarball {
    Tarball::new()
        .dir("demo-1.0/")
        .file(
            "demo-1.0/PKG-INFO",
            b"Metadata-Version: 2.2\nName: demo\nVersion: 1.0\n",
        )
        .file("demo-1.0/pyproject.toml", b"[project]\nname = \"demo\"\n")
        .dir("demo-1.0/src/")
        .file("demo-1.0/src/demo.py", b"print('hi')\n")
        .file_mode("demo-1.0/run.sh", b"#!/bin/sh\n", 0o4755)
        .symlink("demo-1.0/README", "src/demo.py")
        .hardlink("demo-1.0/copy.py", "demo-1.0/src/demo.py")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn a_normal_sdist_unpacks_into_its_top_level_directory() {
    let scratch = Scratch::new();
    let top = unpack_gz(&scratch, &normal_sdist().gz()).unwrap();
    assert_eq!(top, scratch.dest().join("demo-1.0"));
    assert_eq!(
        std::fs::read(top.join("src/demo.py")).unwrap(),
        b"print('hi')\n"
    );
    assert_eq!(
        std::fs::read(top.join("copy.py")).unwrap(),
        b"print('hi')\n"
    );
    assert_eq!(
        std::fs::read_link(top.join("README")).unwrap(),
        Path::new("src/demo.py")
    );
    assert_eq!(scratch.beside_dest(), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn files_keep_only_the_execute_bit_and_never_setuid() {
    let scratch = Scratch::new();
    let top = unpack_gz(&scratch, &normal_sdist().gz()).unwrap();
    // The umask may clear bits, never add them.
    assert_eq!(mode(&top.join("run.sh")) & !0o755, 0);
    assert_ne!(mode(&top.join("run.sh")) & 0o100, 0, "the exec bit is kept");
    assert_eq!(mode(&top.join("src/demo.py")) & !0o644, 0);
    assert_eq!(mode(&top.join("src")) & !0o755, 0);
}

#[test]
fn a_file_archive_on_disk_unpacks_and_reads() {
    let scratch = Scratch::new();
    let path = scratch.root.path().join(SDIST);
    std::fs::write(&path, normal_sdist().gz()).unwrap();
    let top = unpack(&path, SDIST, &scratch.dest(), &Limits::default()).unwrap();
    assert!(top.join("PKG-INFO").is_file());
    let statics = read_static_files(&path, SDIST, &Limits::default()).unwrap();
    assert_eq!(statics.top, "demo-1.0");
}

#[test]
fn read_static_files_finds_pkg_info_and_pyproject() {
    let statics =
        read_static_files_from_bytes(&normal_sdist().gz(), SDIST, &Limits::default()).unwrap();
    assert_eq!(statics.top, "demo-1.0");
    assert!(
        statics
            .pkg_info
            .unwrap()
            .starts_with(b"Metadata-Version: 2.2")
    );
    assert_eq!(
        statics.pyproject.unwrap(),
        b"[project]\nname = \"demo\"\n".to_vec()
    );
}

#[test]
fn read_static_files_reports_absent_files_as_none() {
    let bytes = Tarball::new()
        .file("demo-1.0/setup.py", b"")
        .file("demo-1.0/sub/PKG-INFO", b"not the top one")
        .gz();
    let statics = read_static_files_from_bytes(&bytes, SDIST, &Limits::default()).unwrap();
    assert_eq!(statics.pkg_info, None);
    assert_eq!(statics.pyproject, None);
}

#[test]
fn a_linked_pkg_info_is_read_from_the_member_it_names() {
    // A symlink to a member listed after it, and a hard link to one listed before.
    let bytes = Tarball::new()
        .file("demo-1.0/pyproject.in", b"[project]\n")
        .symlink("demo-1.0/PKG-INFO", "docs/PKG-INFO.txt")
        .hardlink("demo-1.0/pyproject.toml", "demo-1.0/pyproject.in")
        .file("demo-1.0/docs/PKG-INFO.txt", b"Name: demo\n")
        .gz();
    let statics = read_static_files_from_bytes(&bytes, SDIST, &Limits::default()).unwrap();
    assert_eq!(statics.pkg_info.unwrap(), b"Name: demo\n");
    assert_eq!(statics.pyproject.unwrap(), b"[project]\n");
}

#[test]
fn a_pkg_info_linked_to_no_file_is_refused() {
    let bytes = Tarball::new()
        .file("demo-1.0/a", b"")
        .symlink("demo-1.0/PKG-INFO", "missing")
        .gz();
    let err = read_static_files_from_bytes(&bytes, SDIST, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("demo-1.0/PKG-INFO"), "{err}");
    assert!(
        err.to_string().contains("not a file of the archive"),
        "{err}"
    );
}

#[test]
fn an_oversized_pyproject_is_refused_before_it_is_read() {
    let big = vec![b'#'; (super::MAX_PYPROJECT_BYTES + 1) as usize];
    let bytes = Tarball::new().file("demo-1.0/pyproject.toml", &big).gz();
    let err = read_static_files_from_bytes(&bytes, SDIST, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");
}

#[test]
fn an_escaping_path_is_refused() {
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .file("demo-1.0/../x", b"escaped")
        .gz();
    assert_refused(&bytes, "demo-1.0/../x", "`..`");
    let bytes = Tarball::new().file("../x", b"escaped").gz();
    assert_refused(&bytes, "../x", "`..`");
}

#[test]
fn an_absolute_path_is_refused() {
    let scratch = Scratch::new();
    let outside = scratch.root.path().join("abs");
    let name = format!("{}", outside.display());
    let bytes = Tarball::new().file(&name, b"escaped").gz();
    assert_refused(&bytes, &name, "absolute");
    assert!(!outside.exists());
    let bytes = Tarball::new().dir("/").file("demo-1.0/a", b"").gz();
    assert_refused(&bytes, "/", "absolute");
}

#[test]
fn a_dot_directory_entry_is_the_archive_root() {
    // `tar -czf x.tar.gz .` lists `./` first.
    let bytes = Tarball::new()
        .dir("./")
        .dir("./demo-1.0/")
        .file("./demo-1.0/a", b"x")
        .gz();
    let scratch = Scratch::new();
    let top = unpack_gz(&scratch, &bytes).unwrap();
    assert_eq!(top, scratch.dest().join("demo-1.0"));
}

#[test]
fn windows_names_are_refused() {
    let bytes = Tarball::new().file("demo-1.0\\..\\x", b"").gz();
    assert_refused(&bytes, "demo-1.0\\..\\x", "backslash");
    let bytes = Tarball::new().file("demo-1.0/C:/x", b"").gz();
    assert_refused(&bytes, "demo-1.0/C:/x", "`:`");
}

#[test]
fn a_symlink_out_of_the_tree_is_refused() {
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .symlink("demo-1.0/out", "../../outside")
        .gz();
    assert_refused(&bytes, "demo-1.0/out", "leaves the source tree");
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .symlink("demo-1.0/out", "/tmp")
        .gz();
    assert_refused(&bytes, "demo-1.0/out", "absolute");
    // One level up from `demo-1.0/` is the destination, not the tree.
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .symlink("demo-1.0/up", "..")
        .gz();
    assert_refused(&bytes, "demo-1.0/up", "leaves the source tree");
}

#[test]
fn a_dotdot_after_a_symlink_is_refused() {
    // `s` is the tree itself, so `s/..` would be its parent although it spells the tree.
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .symlink("demo-1.0/s", ".")
        .symlink("demo-1.0/t", "s/..")
        .gz();
    assert_refused(&bytes, "demo-1.0/t", "a `..` after a name");
}

#[test]
fn a_write_through_a_symlink_is_refused() {
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .dir("demo-1.0/sub/")
        .symlink("demo-1.0/a", "sub")
        .file("demo-1.0/a/x", b"through the link")
        .gz();
    assert_refused(&bytes, "demo-1.0/a/x", "parent `demo-1.0/a` is a symlink");
    let scratch = Scratch::new();
    let _ = unpack_gz(&scratch, &bytes);
    assert!(!scratch.dest().join("demo-1.0/sub/x").exists());
}

#[test]
fn a_symlink_then_a_write_outside_is_refused() {
    let scratch = Scratch::new();
    let outside = scratch.root.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .symlink("demo-1.0/a", &outside.display().to_string())
        .file("demo-1.0/a/x", b"escaped")
        .gz();
    let err = unpack_gz(&scratch, &bytes).unwrap_err();
    assert!(err.to_string().contains("demo-1.0/a"), "{err}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn a_hard_link_out_of_the_tree_is_refused() {
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .hardlink("demo-1.0/passwd", "/etc/passwd")
        .gz();
    assert_refused(&bytes, "demo-1.0/passwd", "absolute");
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .hardlink("demo-1.0/h", "demo-1.0/../../x")
        .gz();
    assert_refused(&bytes, "demo-1.0/h", "`..`");
}

#[test]
fn a_hard_link_to_a_member_not_yet_extracted_is_refused() {
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .hardlink("demo-1.0/h", "demo-1.0/later")
        .file("demo-1.0/later", b"x")
        .gz();
    assert_refused(&bytes, "demo-1.0/h", "not a file earlier in the archive");
    // Nor to a directory or a symlink.
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .symlink("demo-1.0/s", "x")
        .hardlink("demo-1.0/h", "demo-1.0/s")
        .gz();
    assert_refused(&bytes, "demo-1.0/h", "not a file earlier in the archive");
}

#[test]
fn hard_links_count_toward_the_size_limit() {
    let limits = Limits {
        max_bytes: 150,
        ..Limits::default()
    };
    let bytes = Tarball::new()
        .file("demo-1.0/big", &[b'x'; 100])
        .hardlink("demo-1.0/again", "demo-1.0/big")
        .gz();
    let scratch = Scratch::new();
    let err = unpack_bytes(&bytes, SDIST, &scratch.dest(), &limits).unwrap_err();
    assert!(err.to_string().contains("demo-1.0/again"), "{err}");
}

#[test]
fn device_nodes_and_fifos_are_refused() {
    for (kind, reason) in [
        (EntryType::Char, "character device"),
        (EntryType::Block, "block device"),
        (EntryType::Fifo, "FIFO"),
    ] {
        let header = Tarball::header(b"demo-1.0/dev", kind, 0, 0o644);
        let bytes = Tarball::new().dir("demo-1.0/").raw(&header, b"").gz();
        assert_refused(&bytes, "demo-1.0/dev", reason);
    }
}

#[test]
fn a_pax_size_lie_is_refused() {
    // The ustar header says 5 bytes (what an old reader skips), the PAX header 1024 (what
    // Python's tarfile and the `tar` crate skip): a member hides in the difference.
    let header = Tarball::header(b"demo-1.0/a", EntryType::Regular, 5, 0o644);
    let bytes = Tarball::new()
        .dir("demo-1.0/")
        .pax(&[("size", b"1024")])
        .raw(&header, b"hello")
        .file("demo-1.0/hidden", &[b'x'; 1024])
        .gz();
    assert_refused(&bytes, "demo-1.0/a", "readers would disagree");
}

#[test]
fn a_pax_size_that_is_not_a_plain_number_is_refused() {
    let header = Tarball::header(b"demo-1.0/a", EntryType::Regular, 0, 0o644);
    let bytes = Tarball::new()
        .pax(&[("size", b"+5")])
        .raw(&header, b"hello")
        .gz();
    assert_refused(&bytes, "demo-1.0/a", "not a decimal number");
}

#[test]
fn a_pax_size_over_a_zero_ustar_size_is_refused() {
    // What writers do for files over 8 GiB (the ustar field left 0): past any file limit, and
    // a reader that ignored the PAX size would take the data for headers.
    let header = Tarball::header(b"demo-1.0/a", EntryType::Regular, 0, 0o644);
    let bytes = Tarball::new()
        .pax(&[("size", b"5")])
        .raw(&header, b"hello")
        .gz();
    assert_refused(&bytes, "demo-1.0/a", "readers would disagree");
}

#[test]
fn a_pax_path_is_the_members_name() {
    let header = Tarball::header(b"demo-1.0/short", EntryType::Regular, 5, 0o644);
    let long = format!("demo-1.0/{}", "l".repeat(150));
    let bytes = Tarball::new()
        .pax(&[("path", long.as_bytes()), ("mtime", b"1700000000.5")])
        .raw(&header, b"hello")
        .gz();
    let scratch = Scratch::new();
    let top = unpack_gz(&scratch, &bytes).unwrap();
    assert_eq!(std::fs::read(top.join("l".repeat(150))).unwrap(), b"hello");
    assert!(!top.join("short").exists());
}

#[test]
fn a_gnu_long_name_is_the_members_name() {
    let long = format!("demo-1.0/{}", "g".repeat(150));
    let header = Tarball::header(b"demo-1.0/short", EntryType::Regular, 2, 0o644);
    let bytes = Tarball::new()
        .raw(&gnu_long_name(&long), &nul_terminated(&long))
        .raw(&header, b"hi")
        .gz();
    let scratch = Scratch::new();
    let top = unpack_gz(&scratch, &bytes).unwrap();
    assert_eq!(std::fs::read(top.join("g".repeat(150))).unwrap(), b"hi");
}

#[test]
fn an_oversized_extension_header_is_refused_before_it_is_read() {
    // The `tar` crate would hold a PAX header of any size in memory.
    let data = vec![b'x'; (2 << 20) + 1];
    let header = Tarball::header(b"PaxHeader", EntryType::XHeader, data.len() as u64, 0o644);
    let bytes = Tarball::new()
        .raw(&header, &data)
        .file("demo-1.0/a", b"")
        .gz();
    assert_refused(&bytes, "PaxHeader", "over 1 MiB");
}

#[test]
fn an_extension_header_describing_no_member_is_refused() {
    let bytes = Tarball::new()
        .file("demo-1.0/a", b"")
        .pax(&[("path", b"demo-1.0/b")])
        .gz();
    assert_refused(&bytes, "demo-1.0/a", "describe no member");
    let header = Tarball::header(b"demo-1.0/a", EntryType::Regular, 0, 0o644);
    let bytes = Tarball::new()
        .pax(&[("path", b"demo-1.0/b")])
        .pax(&[("path", b"demo-1.0/c")])
        .raw(&header, b"")
        .gz();
    assert_refused(&bytes, "(unnamed)", "two PAX headers");
}

#[test]
fn a_pax_path_given_twice_is_refused() {
    let header = Tarball::header(b"demo-1.0/a", EntryType::Regular, 0, 0o644);
    let bytes = Tarball::new()
        .pax(&[("path", b"demo-1.0/b"), ("path", b"demo-1.0/c")])
        .raw(&header, b"")
        .gz();
    assert_refused(&bytes, "demo-1.0/a", "`path` twice");
}

#[test]
fn a_pax_path_beside_a_gnu_long_name_is_refused() {
    let long = format!("demo-1.0/{}", "l".repeat(120));
    let header = Tarball::header(b"demo-1.0/short", EntryType::Regular, 0, 0o644);
    let bytes = Tarball::new()
        .raw(&gnu_long_name(&long), &nul_terminated(&long))
        .pax(&[("path", b"demo-1.0/pax")])
        .raw(&header, b"")
        .gz();
    assert_refused(&bytes, &long, "GNU long name");
}

#[test]
fn a_global_pax_header_setting_a_path_is_refused() {
    let data = pax_record("path", "demo-1.0/everything");
    let global = Tarball::header(
        b"pax_global_header",
        EntryType::XGlobalHeader,
        data.len() as u64,
        0o644,
    );
    let bytes = Tarball::new()
        .raw(&global, &data)
        .file("demo-1.0/a", b"")
        .gz();
    assert_refused(&bytes, "pax_global_header", "sets `path`");
}

#[test]
fn a_global_pax_comment_is_ignored() {
    // `git archive` writes the commit as a global comment.
    let data = pax_record("comment", "0123456789abcdef");
    let global = Tarball::header(
        b"pax_global_header",
        EntryType::XGlobalHeader,
        data.len() as u64,
        0o644,
    );
    let bytes = Tarball::new()
        .raw(&global, &data)
        .file("demo-1.0/a", b"x")
        .gz();
    let scratch = Scratch::new();
    let top = unpack_gz(&scratch, &bytes).unwrap();
    assert_eq!(top, scratch.dest().join("demo-1.0"));
}

#[test]
fn data_on_a_directory_entry_is_refused() {
    // Python's tarfile reads no data after a directory, so the 512 bytes here are its next
    // header, while the `tar` crate would skip them.
    let inner = Tarball::header(b"demo-1.0/hidden", EntryType::Regular, 0, 0o644);
    let header = Tarball::header(b"demo-1.0/", EntryType::Directory, 512, 0o755);
    let bytes = Tarball::new().raw(&header, inner.as_bytes()).gz();
    assert_refused(&bytes, "demo-1.0/", "not a file");
}

#[test]
fn prefix_bytes_in_a_non_ustar_header_are_refused() {
    let mut header = Header::new_gnu();
    header.as_old_mut().name[..10].copy_from_slice(b"demo-1.0/a");
    header.as_mut_bytes()[345..350].copy_from_slice(b"other");
    header.set_entry_type(EntryType::Regular);
    header.set_size(0);
    header.set_cksum();
    let bytes = Tarball::new().raw(&header, b"").gz();
    assert_refused(&bytes, "demo-1.0/a", "name prefix");
}

#[test]
fn a_gzip_bomb_is_cut_at_the_decompressed_cap() {
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    // 4 MiB of one member compresses to a few KiB.
    let bytes = Tarball::new()
        .file("demo-1.0/zeros", &vec![0u8; 4 << 20])
        .gz();
    assert!(bytes.len() < 64 << 10);
    let scratch = Scratch::new();
    let err = unpack_bytes(&bytes, SDIST, &scratch.dest(), &limits).unwrap_err();
    assert!(matches!(err, SdistError::Archive { .. }), "{err:?}");
    assert!(err.to_string().contains(SDIST), "{err}");
    assert!(
        err.to_string().contains("decompresses to more than"),
        "{err}"
    );
    // Also when the member is only skipped over.
    let err = read_static_files_from_bytes(&bytes, SDIST, &limits).unwrap_err();
    assert!(
        err.to_string().contains("decompresses to more than"),
        "{err}"
    );
}

#[test]
fn a_concatenated_gzip_stream_is_read_whole() {
    // Python's gzip reads every member of the stream; a reader that stopped after the first
    // would miss the second file.
    let tar = Tarball::new()
        .file("demo-1.0/a", &[b'a'; 512])
        .file("demo-1.0/b", b"second")
        .tar();
    let mut bytes = gzip(&tar[..1024]);
    bytes.extend(gzip(&tar[1024..]));
    let scratch = Scratch::new();
    let top = unpack_gz(&scratch, &bytes).unwrap();
    assert_eq!(std::fs::read(top.join("b")).unwrap(), b"second");
}

#[test]
fn two_top_level_directories_are_refused() {
    let bytes = Tarball::new()
        .file("demo-1.0/a", b"")
        .file("other-1.0/b", b"")
        .gz();
    assert_refused(&bytes, "other-1.0/b", "second top-level entry");
}

#[test]
fn a_file_at_the_top_level_is_refused() {
    let bytes = Tarball::new().file("setup.py", b"").gz();
    assert_refused(&bytes, "setup.py", "not a directory");
}

#[test]
fn a_duplicate_path_is_refused() {
    let bytes = Tarball::new()
        .file("demo-1.0/a", b"first")
        .file("demo-1.0/./a", b"second")
        .gz();
    assert_refused(&bytes, "demo-1.0/./a", "twice");
}

#[test]
fn a_file_under_a_file_is_refused() {
    let bytes = Tarball::new()
        .file("demo-1.0/a", b"")
        .file("demo-1.0/a/b", b"")
        .gz();
    assert_refused(&bytes, "demo-1.0/a/b", "is a file");
}

#[test]
fn limits_on_entries_and_file_sizes_are_enforced() {
    let bytes = Tarball::new()
        .file("demo-1.0/a", b"12345")
        .file("demo-1.0/b", b"12345")
        .file("demo-1.0/c", b"12345")
        .gz();
    let scratch = Scratch::new();
    let limits = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    let err = unpack_bytes(&bytes, SDIST, &scratch.dest(), &limits).unwrap_err();
    assert!(err.to_string().contains("demo-1.0/c"), "{err}");
    assert!(err.to_string().contains("more than 2 entries"), "{err}");
    let limits = Limits {
        max_file_bytes: 4,
        ..Limits::default()
    };
    let err = read_static_files_from_bytes(&bytes, SDIST, &limits).unwrap_err();
    assert!(err.to_string().contains("demo-1.0/a"), "{err}");
    let limits = Limits {
        max_bytes: 12,
        ..Limits::default()
    };
    let err = read_static_files_from_bytes(&bytes, SDIST, &limits).unwrap_err();
    assert!(err.to_string().contains("demo-1.0/c"), "{err}");
}

#[test]
fn a_member_name_with_control_characters_is_shown_escaped() {
    let bytes = Tarball::new()
        .file("demo-1.0/a", b"")
        .file("x\x1b[31m/b", b"")
        .gz();
    let scratch = Scratch::new();
    let err = unpack_gz(&scratch, &bytes).unwrap_err();
    assert!(!err.to_string().contains('\x1b'), "{err}");
    assert!(err.to_string().contains("x\\u{1b}[31m/b"), "{err}");
}

#[test]
fn the_destination_must_be_empty() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.dest()).unwrap();
    std::fs::write(scratch.dest().join("old"), b"").unwrap();
    let err = unpack_gz(&scratch, &normal_sdist().gz()).unwrap_err();
    assert!(matches!(err, SdistError::Destination { .. }), "{err:?}");
}

#[cfg(unix)]
#[test]
fn a_destination_that_is_a_symlink_is_refused() {
    let scratch = Scratch::new();
    let real = scratch.root.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, scratch.dest()).unwrap();
    let err = unpack_gz(&scratch, &normal_sdist().gz()).unwrap_err();
    assert!(matches!(err, SdistError::Destination { .. }), "{err:?}");
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);
}

#[test]
fn other_archive_formats_are_refused_by_name() {
    let scratch = Scratch::new();
    for name in [
        "demo-1.0.tar.bz2",
        "demo-1.0.tar.xz",
        "demo-1.0.tgz",
        "demo-1.0.whl",
    ] {
        let err = unpack_bytes(b"", name, &scratch.dest(), &Limits::default()).unwrap_err();
        assert!(matches!(err, SdistError::Unsupported { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
    }
    assert!(!scratch.dest().exists());
}

#[test]
fn a_corrupt_gzip_stream_is_a_read_error_naming_the_sdist() {
    let scratch = Scratch::new();
    let err = unpack_gz(&scratch, b"not gzip at all").unwrap_err();
    assert!(matches!(err, SdistError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains(SDIST), "{err}");
}

#[test]
fn an_empty_archive_is_refused() {
    let scratch = Scratch::new();
    let err = unpack_gz(&scratch, &Tarball::new().gz()).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

mod zip_sdists {
    use super::*;
    use zip::write::SimpleFileOptions;

    const ZIP: &str = "demo-1.0.zip";

    fn build(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data, mode) in entries {
            let options = SimpleFileOptions::default().unix_permissions(*mode);
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_sdist_unpacks_and_reads() {
        let bytes = build(&[
            ("demo-1.0/PKG-INFO", b"Metadata-Version: 2.2\n", 0o644),
            ("demo-1.0/bin/tool", b"#!/bin/sh\n", 0o755),
        ]);
        let scratch = Scratch::new();
        let top = unpack_bytes(&bytes, ZIP, &scratch.dest(), &Limits::default()).unwrap();
        assert_eq!(std::fs::read(top.join("bin/tool")).unwrap(), b"#!/bin/sh\n");
        #[cfg(unix)]
        assert_ne!(mode(&top.join("bin/tool")) & 0o100, 0);
        let statics = read_static_files_from_bytes(&bytes, ZIP, &Limits::default()).unwrap();
        assert_eq!(statics.pkg_info.unwrap(), b"Metadata-Version: 2.2\n");
        assert_eq!(statics.top, "demo-1.0");
    }

    #[test]
    fn an_escaping_zip_member_is_refused() {
        let bytes = build(&[("demo-1.0/../../x", b"escaped", 0o644)]);
        let scratch = Scratch::new();
        let err = unpack_bytes(&bytes, ZIP, &scratch.dest(), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains(ZIP), "{err}");
        assert!(err.to_string().contains("demo-1.0/../../x"), "{err}");
        assert_eq!(scratch.beside_dest(), Vec::<String>::new());
    }

    #[test]
    fn a_zip_symlink_is_refused() {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        writer
            .add_symlink("demo-1.0/link", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let bytes = writer.finish().unwrap().into_inner();
        let scratch = Scratch::new();
        let err = unpack_bytes(&bytes, ZIP, &scratch.dest(), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("demo-1.0/link"), "{err}");
        assert!(err.to_string().contains("symlink"), "{err}");
    }

    #[test]
    fn bytes_before_a_zip_are_refused() {
        let mut bytes = b"#!/bin/sh\nexit 0\n".to_vec();
        bytes.extend(build(&[("demo-1.0/a", b"x", 0o644)]));
        let scratch = Scratch::new();
        let err = unpack_bytes(&bytes, ZIP, &scratch.dest(), &Limits::default()).unwrap_err();
        assert!(matches!(err, SdistError::Archive { .. }), "{err:?}");
        assert!(err.to_string().contains(ZIP), "{err}");
    }
}
