//! The generated distributions: wheels (entries, RECORD, tags, padding) and plain sdists.

use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};

use crate::support::wheelgen::b64_urlsafe_nopad;
use crate::support::*;

use super::web;

pub(crate) fn read_zip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().to_string(), data)
        })
        .collect()
}

#[test]
fn wheels_are_valid() {
    let index = TestIndex::start(web());
    let wheel = index.file("web_app-1.0.0-py3-none-any.whl").unwrap();
    let entries = read_zip(&wheel.dist.bytes);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "web_app/__init__.py",
            "web_app/data.txt",
            "web_app-1.0.0.dist-info/METADATA",
            "web_app-1.0.0.dist-info/WHEEL",
            "web_app-1.0.0.dist-info/entry_points.txt",
            "web_app-1.0.0.dist-info/RECORD",
        ]
    );
    let get = |n: &str| {
        String::from_utf8(entries.iter().find(|(k, _)| k == n).unwrap().1.clone()).unwrap()
    };
    assert_eq!(get("web_app/__init__.py"), "__version__ = \"1.0.0\"\n");
    assert_eq!(get("web_app/data.txt"), "hello");
    let metadata = get("web_app-1.0.0.dist-info/METADATA");
    for line in [
        "Metadata-Version: 2.1",
        "Name: Web_App",
        "Version: 1.0.0",
        "Requires-Python: >=3.8,<4",
        "Requires-Dist: dep>=1",
        "Requires-Dist: winonly ; sys_platform == 'win32'",
        "Provides-Extra: async",
        "Requires-Dist: aio<2 ; extra == \"async\"",
        "Requires-Dist: uvloop ; (sys_platform != 'win32') and extra == \"async\"",
    ] {
        assert!(metadata.lines().any(|l| l == line), "{line}\n{metadata}");
    }
    // Every Requires-Dist parses as PEP 508.
    for req in metadata
        .lines()
        .filter_map(|l| l.strip_prefix("Requires-Dist: "))
    {
        req.parse::<pep508_rs::Requirement>()
            .unwrap_or_else(|e| panic!("{req}: {e}"));
    }
    assert_eq!(
        get("web_app-1.0.0.dist-info/WHEEL"),
        "Wheel-Version: 1.0\nGenerator: sanctuary-testgen (0.1)\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    );
    assert_eq!(
        get("web_app-1.0.0.dist-info/entry_points.txt"),
        "[console_scripts]\nweb = web_app.cli:main\n\n"
    );
    let record = get("web_app-1.0.0.dist-info/RECORD");
    let lines: Vec<&str> = record.lines().collect();
    assert_eq!(lines.len(), entries.len());
    assert_eq!(*lines.last().unwrap(), "web_app-1.0.0.dist-info/RECORD,,");
    for line in &lines[..lines.len() - 1] {
        let mut parts = line.split(',');
        let (path, hash, size) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let data = &entries.iter().find(|(n, _)| n == path).unwrap().1;
        assert_eq!(
            hash,
            format!("sha256={}", b64_urlsafe_nopad(&Sha256::digest(data)))
        );
        assert_eq!(size, data.len().to_string());
    }
    // Fixed timestamps.
    let mut zip = zip::ZipArchive::new(Cursor::new(wheel.dist.bytes.clone())).unwrap();
    for i in 0..zip.len() {
        let f = zip.by_index(i).unwrap();
        let t = f.last_modified().unwrap();
        assert_eq!((t.year(), t.month(), t.day()), (1980, 1, 1));
    }
}

#[test]
fn base64_matches_rfc4648() {
    assert_eq!(b64_urlsafe_nopad(b""), "");
    assert_eq!(b64_urlsafe_nopad(b"f"), "Zg");
    assert_eq!(b64_urlsafe_nopad(b"fo"), "Zm8");
    assert_eq!(b64_urlsafe_nopad(b"foo"), "Zm9v");
    assert_eq!(b64_urlsafe_nopad(b"foobar"), "Zm9vYmFy");
    assert_eq!(b64_urlsafe_nopad(&[0xfb, 0xff, 0xbf]), "-_-_");
}

#[test]
fn wheel_tags_give_file_names_and_tag_lines() {
    let index = TestIndex::start(
        Scenario::new("tags").version(
            "a",
            "1.0.0",
            VersionSpec::new()
                .tags([
                    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
                    "py3-none-any",
                ])
                .sdist(false),
        ),
    );
    let names: Vec<String> = index
        .files()
        .iter()
        .map(|f| f.dist.filename.clone())
        .collect();
    assert_eq!(
        names,
        [
            "a-1.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "a-1.0.0-py3-none-any.whl",
        ]
    );
    let wheel = index.file(&names[0]).unwrap();
    let entries = read_zip(&wheel.dist.bytes);
    let wheel_file = &entries
        .iter()
        .find(|(n, _)| n == "a-1.0.0.dist-info/WHEEL")
        .unwrap()
        .1;
    let text = String::from_utf8(wheel_file.clone()).unwrap();
    assert!(
        text.contains(
            "Tag: cp312-cp312-manylinux_2_17_x86_64\nTag: cp312-cp312-manylinux2014_x86_64\n"
        ),
        "{text}"
    );
}

#[test]
fn padding_moves_metadata_relative_to_the_tail() {
    const TAIL: u64 = 64 * 1024;
    let index = TestIndex::start(
        Scenario::new("pad")
            .version(
                "big",
                "1.0",
                VersionSpec::new().pad(200 * 1024).sdist(false),
            )
            .version(
                "big",
                "2.0",
                VersionSpec::new().tail_pad(100 * 1024).sdist(false),
            ),
    );
    // `pad`: a large wheel whose METADATA still lies in the last 64 KiB.
    let bytes = &index.file("big-1.0-py3-none-any.whl").unwrap().dist.bytes;
    assert!(bytes.len() > 200 * 1024, "padding is incompressible");
    let pad = zip_entry_offset(bytes, "big/_padding.bin");
    let meta = zip_entry_offset(bytes, "big-1.0.dist-info/METADATA");
    assert!(pad < meta);
    assert!((bytes.len() as u64) - meta < TAIL);
    // `tail_pad`: METADATA lies before the last 64 KiB; RECORD is still last and lists it.
    let bytes = &index.file("big-2.0-py3-none-any.whl").unwrap().dist.bytes;
    let meta = zip_entry_offset(bytes, "big-2.0.dist-info/METADATA");
    assert!((bytes.len() as u64) - meta > TAIL);
    let entries = read_zip(bytes);
    assert_eq!(entries.last().unwrap().0, "big-2.0.dist-info/RECORD");
    let record = String::from_utf8(entries.last().unwrap().1.clone()).unwrap();
    assert!(record.contains("big-2.0.dist-info/licenses/PADDING,sha256="));
}

fn zip_entry_offset(bytes: &[u8], name: &str) -> u64 {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let idx = zip.index_for_name(name).unwrap();
    zip.by_index_raw(idx).unwrap().header_start()
}

#[test]
fn sdists_are_valid_tar_gz() {
    let index = TestIndex::start(web());
    let sdist = index.file("web_app-1.0.0.tar.gz").unwrap();
    assert!(sdist.dist.metadata.is_none());
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&sdist.dist.bytes[..])
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(tar.len() % 512, 0);
    let header = &tar[..512];
    let name_end = header.iter().position(|&b| b == 0).unwrap();
    assert_eq!(&header[..name_end], b"web_app-1.0.0/PKG-INFO");
    assert_eq!(&header[257..263], b"ustar\0");
    let mut sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    sum -= header[148..156].iter().map(|&b| u32::from(b)).sum::<u32>();
    sum += 8 * u32::from(b' ');
    let stored = std::str::from_utf8(&header[148..154]).unwrap();
    assert_eq!(u32::from_str_radix(stored, 8).unwrap(), sum);
    let size_field = std::str::from_utf8(&header[124..135]).unwrap();
    let size = usize::from_str_radix(size_field, 8).unwrap();
    let body = std::str::from_utf8(&tar[512..512 + size]).unwrap();
    assert!(body.starts_with("Metadata-Version: 2.1\nName: Web_App\nVersion: 1.0.0\n"));
    // Two zero blocks close the archive.
    assert!(tar[tar.len() - 1024..].iter().all(|&b| b == 0));
}
