//! The hostile sdist builders (`support::hostile`) hold what they claim, as Python's `tarfile`
//! reads them, and a scenario serves one in place of the generated sdist.

use crate::support::hostile::{self, HOSTILE_CONTENT, Hostile, PAX_LIE_SIZE, hostile_member};
use crate::support::wheelgen::Dist;
use crate::support::*;
use serde_json::Value;

use super::builds::python;
use super::client;

/// Every member of `dist` as `tarfile` lists it: name, type, size, link name; and the error
/// that ended the listing, if any.
fn members(dist: &Dist) -> (Vec<Value>, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(&dist.filename);
    std::fs::write(&archive, &dist.bytes).unwrap();
    let code = r#"
import json, sys, tarfile
out, error = [], None
try:
    with tarfile.open(sys.argv[1]) as t:
        for m in t:
            kind = ("file" if m.isreg() else "dir" if m.isdir() else "symlink" if m.issym()
                    else "hardlink" if m.islnk() else "chardev" if m.ischr()
                    else "blockdev" if m.isblk() else "fifo" if m.isfifo() else "other")
            out.append({"name": m.name, "type": kind, "size": m.size, "linkname": m.linkname,
                        "devmajor": m.devmajor, "devminor": m.devminor})
except Exception as e:
    error = "%s: %s" % (type(e).__name__, e)
print(json.dumps({"members": out, "error": error}))
"#;
    let out = python(dir.path(), code, &[archive.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["members"].as_array().unwrap().clone(),
        v["error"].as_str().map(str::to_string),
    )
}

fn member<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no member {name} in {list:?}"))
}

const TREE: [&str; 5] = [
    "evil-1.0/PKG-INFO",
    "evil-1.0/_backend/sanctuary_test_backend.json",
    "evil-1.0/_backend/sanctuary_test_backend.py",
    "evil-1.0/evil/__init__.py",
    "evil-1.0/pyproject.toml",
];

#[test]
fn hostile_sdists_hold_a_whole_valid_tree_then_the_hostile_entry() {
    for kind in [
        Hostile::EscapingPath,
        Hostile::AbsolutePath,
        Hostile::SymlinkOut,
        Hostile::HardlinkOut,
        Hostile::PaxSizeLie,
        Hostile::Device,
        Hostile::Fifo,
    ] {
        let dist = hostile::hostile_sdist("Evil", "1.0", &VersionSpec::new(), kind);
        assert_eq!(dist.filename, "evil-1.0.tar.gz", "{kind:?}");
        let (list, _) = members(&dist);
        let names: Vec<&str> = list.iter().map(|m| m["name"].as_str().unwrap()).collect();
        assert_eq!(names[..5], TREE, "{kind:?}");
        assert!(list[..5].iter().all(|m| m["type"] == "file"), "{kind:?}");
        assert_eq!(names[5], hostile_member("Evil", "1.0", kind), "{kind:?}");
    }
    // The tree's PKG-INFO is a valid static one.
    let dist = hostile::device_sdist("evil", "1.0");
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&dist.bytes[..]), &mut tar)
        .unwrap();
    let text = String::from_utf8_lossy(&tar);
    assert!(text.contains("Metadata-Version: 2.2\nName: evil\nVersion: 1.0\n"));
}

#[test]
fn an_escaping_path_sdist_holds_a_dotdot_member() {
    let (list, error) = members(&hostile::escaping_path_sdist("evil", "1.0"));
    assert_eq!(error, None);
    let m = member(&list, "evil-1.0/../../sanctuary-escaped.txt");
    assert_eq!(m["type"], "file");
    assert_eq!(m["size"], HOSTILE_CONTENT.len());
}

#[test]
fn an_absolute_path_sdist_holds_an_absolute_member() {
    let (list, error) = members(&hostile::absolute_path_sdist("evil", "1.0"));
    assert_eq!(error, None);
    let m = member(&list, "/tmp/sanctuary-absolute-evil-1.0.txt");
    assert_eq!(m["type"], "file");
}

#[test]
fn a_symlink_out_sdist_holds_an_escaping_symlink_and_a_file_through_it() {
    let (list, error) = members(&hostile::symlink_out_sdist("evil", "1.0"));
    assert_eq!(error, None);
    let link = member(&list, "evil-1.0/escape");
    assert_eq!(link["type"], "symlink");
    assert_eq!(link["linkname"], "../..");
    assert_eq!(
        member(&list, "evil-1.0/escape/sanctuary-through-symlink.txt")["type"],
        "file"
    );
}

#[test]
fn a_hardlink_out_sdist_holds_a_link_to_an_outside_file() {
    let (list, error) = members(&hostile::hardlink_out_sdist("evil", "1.0"));
    assert_eq!(error, None);
    let link = member(&list, "evil-1.0/passwd");
    assert_eq!(link["type"], "hardlink");
    assert_eq!(link["linkname"], "/etc/passwd");
}

#[test]
fn a_pax_size_lie_sdist_declares_a_size_its_data_does_not_have() {
    let (list, _) = members(&hostile::pax_size_lie_sdist("evil", "1.0"));
    // tarfile believes the PAX record (the ustar header says 16 bytes).
    let m = member(&list, "evil-1.0/payload.bin");
    assert_eq!(m["size"].as_u64(), Some(PAX_LIE_SIZE));
    const { assert!(PAX_LIE_SIZE > 16 * (1 << 30)) };
}

#[test]
fn a_device_sdist_holds_a_character_device_and_a_fifo_sdist_a_fifo() {
    let (list, error) = members(&hostile::device_sdist("evil", "1.0"));
    assert_eq!(error, None);
    let dev = member(&list, "evil-1.0/dev-null");
    assert_eq!(dev["type"], "chardev");
    assert_eq!(
        (dev["devmajor"].as_u64(), dev["devminor"].as_u64()),
        (Some(1), Some(3))
    );
    let (list, _) = members(&hostile::fifo_sdist("evil", "1.0"));
    assert_eq!(member(&list, "evil-1.0/fifo")["type"], "fifo");
}

#[tokio::test]
async fn a_scenario_serves_a_crafted_sdist_on_the_project_page() {
    let crafted = hostile::symlink_out_sdist("evil", "1.0");
    let index = TestIndex::start(
        Scenario::new("hostile").root(["evil"]).version(
            "evil",
            "1.0",
            VersionSpec::new()
                .wheel(false)
                .sdist_override(crafted.clone()),
        ),
    );
    let page = client()
        .get(format!("{}/evil/", index.index_url()))
        .header("Accept", crate::support::server::JSON_TYPE)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let page: Value = serde_json::from_slice(&page).unwrap();
    let files = page["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{page}");
    assert_eq!(files[0]["filename"], "evil-1.0.tar.gz");
    assert_eq!(files[0]["hashes"]["sha256"], crafted.sha256.as_str());
    let served = client()
        .get(index.file_url("evil-1.0.tar.gz"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&served[..], &crafted.bytes[..]);
}
