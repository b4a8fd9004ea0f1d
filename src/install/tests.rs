//! Crafted wheels, built in memory, installed into a temporary venv layout.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use zip::write::SimpleFileOptions;

use super::wheel::InstallError;
use super::*;
use crate::environment::Environment;
use crate::environment::parse::b64_urlsafe_encode;

const METADATA: &str = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n";
const WHEEL: &str = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n";

pub(crate) fn base_files() -> Vec<(String, Vec<u8>)> {
    [
        ("demo/__init__.py", "x = 1  # unique-marker\n"),
        ("demo/cli.py", "def main():\n    return 0\n"),
        ("demo-1.0.dist-info/METADATA", METADATA),
        ("demo-1.0.dist-info/WHEEL", WHEEL),
        (
            "demo-1.0.dist-info/entry_points.txt",
            "[console_scripts]\ndemo = demo.cli:main\n\n[gui_scripts]\ndemo-gui = demo.cli:main [gui]\n",
        ),
        ("demo-1.0.data/scripts/run-demo", "#!python\nprint('hi')\n"),
        ("demo-1.0.data/scripts/plain.sh", "#!/bin/sh\necho hi\n"),
        ("demo-1.0.data/data/share/demo/readme.txt", "data\n"),
        ("demo-1.0.data/headers/demo.h", "int demo;\n"),
        ("demo-1.0.data/platlib/demo_native.so", "ELF"),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec()))
    .collect()
}

/// A stored (uncompressed) zip of `files` plus a RECORD listing them.
pub(crate) fn build_wheel(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    build_wheel_with(files, zip::CompressionMethod::Stored)
}

fn build_wheel_with(files: &[(String, Vec<u8>)], method: zip::CompressionMethod) -> Vec<u8> {
    build_wheel_options(
        files,
        SimpleFileOptions::default().compression_method(method),
    )
}

/// A wheel of `files` and its RECORD, written by the zip crate with `options`.
pub(crate) fn build_wheel_options(
    files: &[(String, Vec<u8>)],
    options: SimpleFileOptions,
) -> Vec<u8> {
    let files: Vec<(&str, &[u8], SimpleFileOptions)> = files
        .iter()
        .map(|(name, content)| (name.as_str(), content.as_slice(), options))
        .collect();
    zip_wheel(&[], &files, options)
}

/// A wheel written by the zip crate: the directory entries `dirs`, then `files` (each with
/// its options), then a RECORD listing them (written with `record_options`).
pub(crate) fn zip_wheel(
    dirs: &[&str],
    files: &[(&str, &[u8], SimpleFileOptions)],
    record_options: SimpleFileOptions,
) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for dir in dirs {
        zip.add_directory(*dir, SimpleFileOptions::default())
            .unwrap();
    }
    let mut record = String::new();
    for (name, content, options) in files {
        zip.start_file(*name, *options).unwrap();
        zip.write_all(content).unwrap();
        record.push_str(&format!(
            "{name},sha256={},{}\n",
            b64_urlsafe_encode(&Sha256::digest(content)),
            content.len()
        ));
    }
    record.push_str("demo-1.0.dist-info/RECORD,,\n");
    zip.start_file("demo-1.0.dist-info/RECORD", record_options)
        .unwrap();
    zip.write_all(record.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

struct Fixture {
    tmp: tempfile::TempDir,
    venv: Venv,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("venv");
    std::fs::create_dir_all(root.join("lib/python3.12/site-packages")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(root.join("pyvenv.cfg"), "version = 3.12.3\n").unwrap();
    std::fs::write(root.join("bin/python"), "interpreter").unwrap();
    let venv = Venv::from_root(&root).unwrap();
    Fixture { tmp, venv }
}

impl Fixture {
    fn wheel(&self, bytes: &[u8]) -> PathBuf {
        let path = self.tmp.path().join("demo-1.0-py3-none-any.whl");
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// Every path under `dir` (directories with `None`) and file contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn files_only(s: BTreeMap<PathBuf, Option<Vec<u8>>>) -> BTreeMap<PathBuf, Vec<u8>> {
    s.into_iter().filter_map(|(p, c)| Some((p, c?))).collect()
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

#[test]
fn installs_a_wheel_where_the_scheme_says() {
    let f = fixture();
    let wheel = f.wheel(&build_wheel(&base_files()));
    let installed = install(&wheel, &f.venv, &InstallOptions::default()).unwrap();
    let root = &f.venv.root;
    let sp = &f.venv.site_packages;
    assert_eq!(
        (installed.name.as_str(), installed.version.as_str()),
        ("demo", "1.0")
    );
    assert!(sp.join("demo/__init__.py").is_file());
    assert!(sp.join("demo_native.so").is_file());
    assert_eq!(
        std::fs::read_to_string(root.join("share/demo/readme.txt")).unwrap(),
        "data\n"
    );
    assert!(root.join("include/site/python3.12/demo/demo.h").is_file());
    let python = f.venv.python.display().to_string();
    assert_eq!(
        std::fs::read_to_string(root.join("bin/run-demo")).unwrap(),
        format!("#!{python}\nprint('hi')\n")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("bin/plain.sh")).unwrap(),
        "#!/bin/sh\necho hi\n"
    );
    let launcher = std::fs::read_to_string(root.join("bin/demo")).unwrap();
    assert!(launcher.starts_with(&format!("#!{python}\n")), "{launcher}");
    assert!(launcher.contains("from demo.cli import main\n"));
    assert!(launcher.contains("sys.exit(main())"));
    assert!(root.join("bin/demo-gui").is_file());
    #[cfg(unix)]
    for script in ["run-demo", "plain.sh", "demo", "demo-gui"] {
        assert!(is_executable(&root.join("bin").join(script)), "{script}");
    }
    #[cfg(unix)]
    assert!(!is_executable(&sp.join("demo/__init__.py")));
    assert_eq!(installed.scripts.len(), 4);
    // No temporary files left behind.
    assert!(
        snapshot(root)
            .keys()
            .all(|p| !p.to_string_lossy().contains(".sanctuary-"))
    );

    // Read back through `environment`: RECORD is complete and verifies.
    let env = Environment::read(root).unwrap();
    let dist = env.get(&"demo".parse().unwrap()).unwrap();
    assert_eq!(dist.installer.as_deref(), Some("sanctuary"));
    assert!(dist.verify(&env.site_packages).is_empty());
    let paths: Vec<&str> = dist.record.iter().map(|e| e.path.as_str()).collect();
    for expected in [
        "demo/__init__.py",
        "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/entry_points.txt",
        "../../../bin/run-demo",
        "../../../bin/demo",
        "../../../bin/demo-gui",
        "../../../share/demo/readme.txt",
        "../../../include/site/python3.12/demo/demo.h",
        "demo-1.0.dist-info/INSTALLER",
    ] {
        assert!(paths.contains(&expected), "{expected} not in {paths:?}");
    }
    assert_eq!(paths.last(), Some(&"demo-1.0.dist-info/RECORD"));
    assert!(dist.record.last().unwrap().hash.is_none());
    // Every file in the venv that the install wrote is in RECORD (and nothing else).
    let checkable = dist.record.iter().filter(|e| e.is_checkable()).count();
    assert_eq!(checkable, paths.len() - 1);
    assert_eq!(dist.record, installed.record);
}

/// Install `bytes`, expect a refusal, and check the venv is byte-identical.
pub(super) fn refused(bytes: &[u8]) -> InstallError {
    let f = fixture();
    let wheel = f.wheel(bytes);
    let before = snapshot(&f.venv.root);
    let outside_before = snapshot(f.tmp.path());
    let err = install(&wheel, &f.venv, &InstallOptions::default()).unwrap_err();
    assert_eq!(
        snapshot(&f.venv.root),
        before,
        "venv changed by a refused wheel: {err}"
    );
    assert_eq!(snapshot(f.tmp.path()), outside_before, "{err}");
    err
}

fn with(extra: &[(&str, &str)]) -> Vec<u8> {
    let mut files = base_files();
    files.extend(
        extra
            .iter()
            .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec())),
    );
    build_wheel(&files)
}

#[test]
fn refuses_unsafe_entry_names_writing_nothing() {
    for (name, reason) in [
        ("../evil.py", "`..`"),
        ("demo/../../evil.py", "`..`"),
        ("/etc/evil", "absolute"),
        ("C:/evil.py", "`:`"),
        ("C:evil.py", "`:`"),
        ("demo\\..\\..\\evil.py", "backslash"),
        ("../site-packages-evil/x.py", "`..`"),
        ("demo-1.0.data/data/../../venv-evil/x", "`..`"),
        ("demo-1.0.data/unknown/x", "unknown .data scheme"),
    ] {
        let err = refused(&with(&[(name, "evil")]));
        let text = err.to_string();
        assert!(
            matches!(&err, InstallError::UnsafePath { entry, .. } if entry == name),
            "{name}: {text}"
        );
        assert!(text.contains(reason), "{name}: {text}");
        assert!(text.contains("demo-1.0-py3-none-any.whl"), "{text}");
    }
}

#[test]
fn refuses_duplicate_destinations() {
    for extra in [
        "demo//cli.py",
        "demo/./cli.py",
        "demo-1.0.data/purelib/demo/cli.py",
    ] {
        let err = refused(&with(&[(extra, "other")]));
        assert!(
            matches!(&err, InstallError::Duplicate { first, entry, .. }
                if first == "demo/cli.py" && entry == extra),
            "{extra}: {err}"
        );
    }
    // An entry point over a script of `.data/scripts`.
    let err = refused(&with(&[("demo-1.0.data/scripts/demo", "#!python\n")]));
    assert!(matches!(err, InstallError::Duplicate { .. }), "{err}");
}

/// The offset of the last occurrence of `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .rposition(|w| w == needle)
        .unwrap()
}

#[test]
fn refuses_a_central_directory_that_disagrees_with_local_headers() {
    let mut bytes = build_wheel(&base_files());
    // The central directory follows the data: the last occurrence of the name is there.
    let at = rfind(&bytes, b"demo/cli.py");
    bytes[at + "demo/cli".len()] = b'_';
    let err = refused(&bytes);
    assert!(
        matches!(
            &err,
            InstallError::HeaderMismatch {
                field: "file name",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("demo/cli_py"), "{err}");
}

#[test]
fn refuses_a_bad_crc() {
    let mut bytes = build_wheel(&base_files());
    let at = rfind(&bytes, b"unique-marker");
    bytes[at] ^= 0x20;
    let err = refused(&bytes);
    assert!(
        matches!(&err, InstallError::Corrupt { entry, .. } if entry == "demo/__init__.py"),
        "{err}"
    );
}

#[test]
fn refuses_files_that_do_not_match_the_wheels_record() {
    let mut files = base_files();
    let mut bytes = build_wheel(&files);
    // Same length, different content, RECORD unchanged: rebuild with a stale RECORD.
    let record_at = rfind(&bytes, b"demo-1.0.dist-info/RECORD,,");
    assert!(record_at > 0);
    files[1].1 = b"def main():\n    return 1\n".to_vec();
    let good = build_wheel(&files);
    // Take the RECORD text of the first wheel into the second.
    let old_record = {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let mut r = z.by_name("demo-1.0.dist-info/RECORD").unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut r, &mut s).unwrap();
        s
    };
    bytes = {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let mut src = zip::ZipArchive::new(std::io::Cursor::new(&good)).unwrap();
        for i in 0..src.len() {
            let file = src.by_index(i).unwrap();
            if file.name() != "demo-1.0.dist-info/RECORD" {
                zip.raw_copy_file(file).unwrap();
            }
        }
        zip.start_file("demo-1.0.dist-info/RECORD", SimpleFileOptions::default())
            .unwrap();
        zip.write_all(old_record.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    };
    let err = refused(&bytes);
    assert!(
        matches!(&err, InstallError::Record { entry, .. } if entry == "demo/cli.py"),
        "{err}"
    );
}

#[test]
fn refuses_bad_entry_points() {
    for line in [
        "python = demo.cli:main",
        "python3.12 = demo.cli:main",
        "activate = demo.cli:main",
        "../escape = demo.cli:main",
        "sub/dir = demo.cli:main",
        "back\\slash = demo.cli:main",
        ".. = demo.cli:main",
        " = demo.cli:main",
        "ok = demo.cli:main()",
        "ok = os;import os:x",
        "ok = demo.cli",
    ] {
        let mut files = base_files();
        files[4].1 = format!("[console_scripts]\n{line}\n").into_bytes();
        let err = refused(&build_wheel(&files));
        assert!(
            matches!(err, InstallError::EntryPoint { .. }),
            "{line}: {err}"
        );
    }
}

#[test]
fn entry_point_names_and_shebangs() {
    use super::entry_points::{check_name, parse, shebang};
    assert!(check_name("pip").is_ok());
    assert!(check_name("black-fmt").is_ok());
    assert!(check_name("Python").is_err());
    let eps = parse("[console_scripts]\na = m.n:o.p\n[other]\nb = x:y\n").unwrap();
    assert_eq!(eps.len(), 1);
    assert_eq!(
        (eps[0].module.as_str(), eps[0].object.as_str()),
        ("m.n", "o.p")
    );
    assert!(parse("[console_scripts]\na = m:f\na = m:g\n").is_err());
    assert_eq!(shebang(Path::new("/v/bin/python")), "#!/v/bin/python");
    let spaced = shebang(Path::new("/my venv/bin/python"));
    assert!(
        spaced.starts_with("#!/bin/sh\n'''exec' '/my venv/bin/python'"),
        "{spaced}"
    );
}

#[test]
fn uninstall_removes_exactly_the_record_and_nothing_outside() {
    let f = fixture();
    let root = f.venv.root.clone();
    std::fs::write(f.venv.site_packages.join("other.py"), "keep").unwrap();
    let before = files_only(snapshot(&root));
    let wheel = f.wheel(&build_wheel(&base_files()));
    install(&wheel, &f.venv, &InstallOptions::default()).unwrap();
    // A compiled file Python would write, and RECORD entries escaping the venv.
    let cache = f.venv.site_packages.join("demo/__pycache__");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("cli.cpython-312.pyc"), "pyc").unwrap();
    let outside = f.tmp.path().join("outside/passwd");
    let sibling = f.tmp.path().join("venv-evil/x");
    for p in [&outside, &sibling] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "precious").unwrap();
    }
    let record_path = f.venv.site_packages.join("demo-1.0.dist-info/RECORD");
    let mut record = std::fs::read_to_string(&record_path).unwrap();
    record.push_str("../../../../outside/passwd,,\n../../../../venv-evil/x,,\n/etc/hostname,,\n");
    std::fs::write(&record_path, record).unwrap();

    let env = Environment::read(&root).unwrap();
    let dist = env.get(&"demo".parse().unwrap()).unwrap();
    let report = uninstall(dist, &f.venv, &Default::default()).unwrap();
    assert_eq!(
        report.outside,
        [
            "../../../../outside/passwd",
            "../../../../venv-evil/x",
            "/etc/hostname"
        ]
    );
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(&sibling).unwrap(), "precious");
    // Every installed file is gone; what was there before is still there.
    assert_eq!(files_only(snapshot(&root)), before);
    assert!(!f.venv.site_packages.join("demo").exists());
    assert!(!f.venv.site_packages.join("demo-1.0.dist-info").exists());
    assert!(f.venv.site_packages.is_dir() && f.venv.bin.is_dir());
    assert!(
        report
            .removed
            .iter()
            .any(|p| p.ends_with("demo/__pycache__/cli.cpython-312.pyc"))
    );
}

#[test]
fn uninstall_refuses_a_dist_info_outside_site_packages() {
    let f = fixture();
    let dist = crate::environment::InstalledDistribution {
        name: "demo".parse().unwrap(),
        version: "1.0".parse().unwrap(),
        dist_info: f.tmp.path().join("demo-1.0.dist-info"),
        installer: None,
        direct_url: None,
        provenance: None,
        record: Vec::new(),
        has_record: true,
    };
    assert!(matches!(
        uninstall(&dist, &f.venv, &Default::default()),
        Err(UninstallError::NotInSitePackages { .. })
    ));
}

#[test]
fn installs_a_deflated_wheel() {
    let f = fixture();
    let bytes = build_wheel_with(&base_files(), zip::CompressionMethod::Deflated);
    install(&f.wheel(&bytes), &f.venv, &InstallOptions::default()).unwrap();
    let env = Environment::read(&f.venv.root).unwrap();
    let dist = env.get(&"demo".parse().unwrap()).unwrap();
    assert!(dist.verify(&env.site_packages).is_empty());
}

#[test]
fn a_write_failure_rolls_back_what_was_created() {
    let f = fixture();
    // `bin/run-demo` is a non-empty directory: the rename onto it fails mid-install.
    std::fs::create_dir_all(f.venv.bin.join("run-demo/x")).unwrap();
    let before = snapshot(&f.venv.root);
    let wheel = f.wheel(&build_wheel(&base_files()));
    let err = install(&wheel, &f.venv, &InstallOptions::default()).unwrap_err();
    assert!(
        matches!(&err, InstallError::Write { path, .. } if path.ends_with("bin/run-demo")),
        "{err}"
    );
    assert_eq!(snapshot(&f.venv.root), before);
}

#[cfg(unix)]
#[test]
fn refuses_to_write_through_a_symlink_leaving_the_venv() {
    let f = fixture();
    let outside = f.tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, f.venv.site_packages.join("demo")).unwrap();
    let before = snapshot(&f.venv.root);
    let wheel = f.wheel(&build_wheel(&base_files()));
    let err = install(&wheel, &f.venv, &InstallOptions::default()).unwrap_err();
    assert!(
        matches!(&err, InstallError::UnsafePath { entry, .. } if entry == "demo/__init__.py"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(snapshot(&f.venv.root), before);
}

#[cfg(unix)]
#[test]
fn one_unpacked_wheel_links_into_two_venvs() {
    use std::os::unix::fs::MetadataExt as _;
    let f = fixture();
    let g = fixture();
    let wheel = f.wheel(&build_wheel(&base_files()));
    let cache = f.tmp.path().join("cache/demo");
    let unpacked = unpack(&wheel, &cache, &UnpackOptions::default()).unwrap();
    assert_eq!(UnpackedWheel::load(&cache).as_ref(), Some(&unpacked));
    let options = InstallOptions {
        extra_dist_info: vec![("provenance_url.json".to_string(), b"{}\n".to_vec())],
        ..InstallOptions::default()
    };
    for venv in [&f.venv, &g.venv] {
        link(&unpacked, venv, &options).unwrap();
        let env = Environment::read(&venv.root).unwrap();
        let dist = env.get(&"demo".parse().unwrap()).unwrap();
        assert!(dist.verify(&env.site_packages).is_empty());
        assert!(
            dist.record
                .iter()
                .any(|e| e.path == "demo-1.0.dist-info/provenance_url.json"),
            "extra dist-info files are in RECORD"
        );
    }
    // A plain module is one inode shared by the cache and both venvs; a rewritten script
    // is each venv's own.
    let module = |v: &Venv| std::fs::metadata(v.site_packages.join("demo/__init__.py")).unwrap();
    assert_eq!(module(&f.venv).ino(), module(&g.venv).ino());
    assert_eq!(module(&f.venv).nlink(), 3);
    let script = |v: &Venv| std::fs::metadata(v.bin.join("run-demo")).unwrap();
    assert_eq!(script(&f.venv).nlink(), 1);
    // Copy mode shares nothing.
    let h = fixture();
    let copy = InstallOptions {
        link: LinkMode::Copy,
        ..InstallOptions::default()
    };
    link(&unpacked, &h.venv, &copy).unwrap();
    assert_eq!(module(&h.venv).nlink(), 1);
}

#[test]
fn refuses_a_name_the_central_directory_lists_twice() {
    // Two entries of equal-length names; renaming one in every header makes them twins,
    // which the zip crate would silently collapse into one.
    let mut files = base_files();
    files.push(("demo/aaa.py".to_string(), b"a = 1\n".to_vec()));
    files.push(("demo/bbb.py".to_string(), b"b = 2\n".to_vec()));
    let mut bytes = build_wheel(&files);
    let mut at = 0;
    while let Some(i) = bytes[at..].windows(11).position(|w| w == b"demo/bbb.py") {
        bytes[at + i..at + i + 11].copy_from_slice(b"demo/aaa.py");
        at += i + 11;
    }
    let err = refused(&bytes);
    assert!(
        matches!(&err, InstallError::Duplicate { entry, .. } if entry == "demo/aaa.py"),
        "{err}"
    );
}

#[test]
fn a_wheel_whose_metadata_names_another_project_is_refused() {
    for metadata in [
        "Metadata-Version: 2.1\nName: other\nVersion: 1.0\n",
        "Metadata-Version: 2.1\nName: demo\nVersion: 2.0\n",
    ] {
        let mut files = base_files();
        files[2].1 = metadata.as_bytes().to_vec();
        let err = refused(&build_wheel(&files));
        let text = err.to_string();
        assert!(text.contains("METADATA"), "{text}");
        assert!(text.contains("demo-1.0.dist-info"), "{text}");
    }
    // Spelled differently, the same name and version: accepted.
    let mut files = base_files();
    files[2].1 = b"Metadata-Version: 2.1\nName: Demo\nVersion: 1.0.0\n".to_vec();
    let f = fixture();
    install(
        &f.wheel(&build_wheel(&files)),
        &f.venv,
        &InstallOptions::default(),
    )
    .unwrap();
}

#[test]
fn a_wheel_cannot_replace_the_venvs_own_files() {
    for (entry, venv_file) in [
        ("demo-1.0.data/data/pyvenv.cfg", "pyvenv.cfg"),
        ("demo-1.0.data/data/bin/python", "bin/python"),
        ("demo-1.0.data/scripts/python3.12", "bin/python3.12"),
        ("demo-1.0.data/scripts/activate", "bin/activate"),
        ("demo-1.0.data/scripts/Activate.ps1", "bin/Activate.ps1"),
        ("demo-1.0.data/data/bin/activate.fish", "bin/activate.fish"),
        (
            "demo-1.0.data/data/lib/python3.12/site-packages",
            "lib/python3.12/site-packages",
        ),
        ("demo-1.0.data/data/lib64", "lib64"),
        (
            "demo-1.0.data/data/lib64/python3.12/site-packages",
            "lib64/python3.12/site-packages",
        ),
        ("demo-1.0.data/data/.sanctuary.lock", ".sanctuary.lock"),
        (
            "demo-1.0.data/data/.sanctuary-journal.json",
            ".sanctuary-journal.json",
        ),
    ] {
        let err = refused(&with(&[(entry, "#!/bin/sh\nevil\n")]));
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{venv_file}`")) && text.contains("virtual environment"),
            "{entry}: {text}"
        );
        assert!(
            text.contains("demo-1.0-py3-none-any.whl"),
            "{entry}: {text}"
        );
    }
}

#[test]
fn uninstall_never_removes_the_venvs_own_files() {
    let f = fixture();
    let root = f.venv.root.clone();
    std::fs::write(root.join("bin/activate"), "activate").unwrap();
    std::fs::create_dir_all(root.join("lib")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("lib", root.join("lib64")).unwrap();
    install(
        &f.wheel(&build_wheel(&base_files())),
        &f.venv,
        &InstallOptions::default(),
    )
    .unwrap();
    // A RECORD (crafted, or written by another tool) listing the venv itself.
    let record_path = f.venv.site_packages.join("demo-1.0.dist-info/RECORD");
    let mut record = std::fs::read_to_string(&record_path).unwrap();
    for line in [
        "../../../pyvenv.cfg",
        "../../../bin/python",
        "../../../bin/activate",
        "../../../lib64",
        "../../../.sanctuary.lock",
    ] {
        record.push_str(&format!("{line},,\n"));
    }
    std::fs::write(root.join(".sanctuary.lock"), "").unwrap();
    std::fs::write(&record_path, record).unwrap();
    let env = Environment::read(&root).unwrap();
    let dist = env.get(&"demo".parse().unwrap()).unwrap();
    uninstall(dist, &f.venv, &Default::default()).unwrap();
    for kept in [
        "pyvenv.cfg",
        "bin/python",
        "bin/activate",
        ".sanctuary.lock",
    ] {
        assert!(root.join(kept).is_file(), "{kept} was removed");
    }
    #[cfg(unix)]
    assert!(
        root.join("lib64").symlink_metadata().is_ok(),
        "lib64 was removed"
    );
    assert!(!f.venv.site_packages.join("demo").exists());
}

#[cfg(unix)]
#[test]
fn a_launcher_cannot_land_outside_through_a_symlinked_bin() {
    let f = fixture();
    let outside = f.tmp.path().join("outside-bin");
    std::fs::rename(&f.venv.bin, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &f.venv.bin).unwrap();
    let before = snapshot(&outside);
    // Launchers only: no `.data/scripts` to be caught first.
    let files: Vec<_> = base_files()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("demo-1.0.data/scripts/"))
        .collect();
    let venv_before = snapshot(&f.venv.root);
    let wheel = f.wheel(&build_wheel(&files));
    let err = install(&wheel, &f.venv, &InstallOptions::default()).unwrap_err();
    assert!(
        matches!(&err, InstallError::UnsafePath { entry, .. } if entry.contains("demo")),
        "{err}"
    );
    assert!(err.to_string().contains("symlink"), "{err}");
    assert_eq!(snapshot(&outside), before);
    assert_eq!(snapshot(&f.venv.root), venv_before);
}
