//! Hostile archives, built byte by byte: what pip, uv and Python's `zipfile` would read
//! differently (prefixes, trailers, concatenations, overlaps, zip64 disagreements), and
//! what would exhaust memory or disk (inflating entries, huge declared sizes).

use sha2::{Digest as _, Sha256};

use super::tests::{base_files, build_wheel, refused};
use super::wheel::{InstallError, UnpackOptions, unpack_bytes};
use crate::environment::parse::b64_urlsafe_encode;

/// One entry of a hand-built archive.
#[derive(Clone)]
struct Raw {
    name: String,
    /// 0: stored, 8: deflated.
    method: u16,
    /// The bytes as stored in the archive (compressed when deflated).
    data: Vec<u8>,
    crc: u32,
    /// The declared uncompressed size.
    size: u64,
    /// Write a local header and the data (otherwise only a central directory record).
    local: bool,
    /// The central directory's local header offset, instead of where it was written.
    offset: Option<u32>,
    /// Bytes written after the data, belonging to no entry.
    after: Vec<u8>,
    /// A data descriptor after the data (with its signature when `true`), the local
    /// header's CRC and sizes zero.
    descriptor: Option<bool>,
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

fn stored(name: &str, content: &[u8]) -> Raw {
    Raw {
        name: name.to_string(),
        method: 0,
        data: content.to_vec(),
        crc: crc32(content),
        size: content.len() as u64,
        local: true,
        offset: None,
        after: Vec::new(),
        descriptor: None,
    }
}

/// The 26 bytes after a local header's signature, as the local header (`local`) or the
/// central directory (from its 7th byte) has them.
fn header_fields(r: &Raw, local: bool) -> Vec<u8> {
    let deferred = local && r.descriptor.is_some();
    let (crc, compressed, size) = match deferred {
        true => (0, 0, 0),
        false => (r.crc, r.data.len() as u32, r.size as u32),
    };
    let mut out = Vec::new();
    out.extend_from_slice(&20u16.to_le_bytes()); // version needed
    out.extend_from_slice(
        &u16::from(r.descriptor.is_some())
            .wrapping_shl(3)
            .to_le_bytes(),
    );
    out.extend_from_slice(&r.method.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&compressed.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(r.name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // extra length
    out
}

/// The local header of `r` and its name.
fn local_header(r: &Raw) -> Vec<u8> {
    let mut out = 0x0403_4b50u32.to_le_bytes().to_vec();
    out.extend(header_fields(r, true));
    out.extend_from_slice(r.name.as_bytes());
    out
}

/// The data descriptor of `r`, if it has one.
fn descriptor(r: &Raw) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(signed) = r.descriptor {
        if signed {
            out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        }
        out.extend_from_slice(&r.crc.to_le_bytes());
        out.extend_from_slice(&(r.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(r.size as u32).to_le_bytes());
    }
    out
}

/// Local headers and data in order, the central directory, the end record.
fn raw_zip(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for r in entries {
        offsets.push(out.len() as u32);
        if r.local {
            out.extend(local_header(r));
            out.extend_from_slice(&r.data);
            out.extend(descriptor(r));
            out.extend_from_slice(&r.after);
        }
    }
    let cd_start = out.len() as u32;
    for (r, at) in entries.iter().zip(offsets) {
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&0x031eu16.to_le_bytes()); // made by: unix
        out.extend(header_fields(r, false));
        out.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        out.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        out.extend_from_slice(&r.offset.unwrap_or(at).to_le_bytes());
        out.extend_from_slice(r.name.as_bytes());
    }
    let cd_size = out.len() as u32 - cd_start;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The base wheel's files as stored entries, `extra` before them, and a RECORD listing
/// every file given (with its true hash) last.
fn raw_wheel(extra: Vec<Raw>, listed: &[(&str, &[u8])]) -> Vec<Raw> {
    let mut entries = extra;
    let mut record = String::new();
    for (name, content) in listed {
        record.push_str(&format!(
            "{name},sha256={},{}\n",
            b64_urlsafe_encode(&Sha256::digest(content)),
            content.len()
        ));
    }
    for (name, content) in base_files() {
        record.push_str(&format!(
            "{name},sha256={},{}\n",
            b64_urlsafe_encode(&Sha256::digest(&content)),
            content.len()
        ));
        entries.push(stored(&name, &content));
    }
    record.push_str("demo-1.0.dist-info/RECORD,,\n");
    entries.push(stored("demo-1.0.dist-info/RECORD", record.as_bytes()));
    entries
}

/// A raw deflate stream of `chunks` MiB of zeros in about a KiB per MiB: one MiB deflated
/// once and repeated (no back-reference leaves its own copy), then an empty final block.
fn zeros_deflated(chunks: usize) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let mut chunk = Vec::with_capacity(64 * 1024);
    compress
        .compress_vec(&vec![0u8; 1 << 20], &mut chunk, flate2::FlushCompress::Sync)
        .unwrap();
    assert_eq!(compress.total_in(), 1 << 20, "one call deflates it all");
    let mut out = chunk.repeat(chunks);
    out.extend_from_slice(&[0x03, 0x00]);
    out
}

fn deflated_zeros(name: &str, chunks: usize, declared: u64) -> Raw {
    Raw {
        name: name.to_string(),
        method: 8,
        data: zeros_deflated(chunks),
        // Never reached: the size is refused first.
        crc: 0,
        size: declared,
        local: true,
        offset: None,
        after: Vec::new(),
        descriptor: None,
    }
}

#[test]
fn the_hand_built_wheel_installs() {
    // The builder itself makes a wheel every check accepts.
    let tmp = tempfile::tempdir().unwrap();
    let bytes = raw_zip(&raw_wheel(Vec::new(), &[]));
    unpack_bytes(
        "demo-1.0-py3-none-any.whl".as_ref(),
        &bytes,
        &tmp.path().join("u"),
        &UnpackOptions::default(),
    )
    .unwrap();
}

#[test]
fn archives_with_bytes_before_the_first_entry_are_refused() {
    // A self-extracting stub in front of an archive whose offsets ignore it.
    let mut bytes = b"#!/bin/sh\necho stub\nexit 0\n".to_vec();
    bytes.extend(build_wheel(&base_files()));
    let err = refused(&bytes);
    let text = err.to_string();
    assert!(text.contains("before the first entry"), "{text}");
    assert!(text.contains("demo-1.0-py3-none-any.whl"), "{text}");
}

#[test]
fn archives_with_bytes_after_the_end_record_are_refused() {
    let mut bytes = build_wheel(&base_files());
    bytes.extend_from_slice(b"trailing bytes no zip reader agrees on");
    let err = refused(&bytes);
    assert!(err.to_string().contains("after the end"), "{err}");
}

#[test]
fn concatenated_zips_are_refused() {
    // Two wheels end to end: readers differ on which one they see.
    let mut evil = base_files();
    evil[0].1 = b"import os  # the hidden one\n".to_vec();
    let mut bytes = build_wheel(&evil);
    bytes.extend(build_wheel(&base_files()));
    let err = refused(&bytes);
    assert!(err.to_string().contains("before the first entry"), "{err}");
}

#[test]
fn overlapping_entries_are_refused() {
    // `demo/inner.py` lies inside the data of `demo/outer.bin`: one byte range, two files.
    let inner_content = b"print('inside another entry')\n";
    let inner = stored("demo/inner.py", inner_content);
    let mut outer_content = local_header(&inner);
    outer_content.extend_from_slice(inner_content);
    let outer = stored("demo/outer.bin", &outer_content);
    let inner_at = local_header(&outer).len() as u32;
    let inner = Raw {
        local: false,
        offset: Some(inner_at),
        ..inner
    };
    let entries = raw_wheel(
        vec![outer, inner],
        &[
            ("demo/outer.bin", &outer_content),
            ("demo/inner.py", inner_content),
        ],
    );
    let err = refused(&raw_zip(&entries));
    let text = err.to_string();
    assert!(text.contains("overlap"), "{text}");
    assert!(text.contains("demo/inner.py"), "{text}");
}

#[test]
fn bytes_between_entries_are_refused() {
    // Room for a local header only a streaming reader would see.
    let hidden = stored("demo/hidden.py", b"import os\n");
    let mut entries = raw_wheel(Vec::new(), &[]);
    entries[0].after = local_header(&hidden);
    entries[0].after.extend_from_slice(&hidden.data);
    let err = refused(&raw_zip(&entries));
    assert!(err.to_string().contains("between"), "{err}");
}

/// The base wheel written by the zip crate with `options`.
fn zip_crate_wheel(options: zip::write::SimpleFileOptions) -> Vec<u8> {
    super::tests::build_wheel_options(&base_files(), options)
}

#[test]
fn zip64_and_data_descriptor_wheels_install() {
    let unpacks = |bytes: &[u8]| {
        let tmp = tempfile::tempdir().unwrap();
        unpack_bytes(
            "demo-1.0-py3-none-any.whl".as_ref(),
            bytes,
            &tmp.path().join("u"),
            &UnpackOptions::default(),
        )
        .unwrap();
    };
    for method in [
        zip::CompressionMethod::Stored,
        zip::CompressionMethod::Deflated,
    ] {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(true);
        unpacks(&zip_crate_wheel(options));
    }
    // Data descriptors, with and without their signature (what a writer that cannot seek
    // leaves: Python's zipfile on a pipe, some index servers).
    for signed in [true, false] {
        let mut entries = raw_wheel(Vec::new(), &[]);
        for r in &mut entries {
            r.descriptor = Some(signed);
        }
        unpacks(&raw_zip(&entries));
    }
}

#[test]
fn a_zip64_local_size_that_disagrees_with_the_central_directory_is_refused() {
    // Every local header carries its sizes in a zip64 extra field; one of them lies.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let mut bytes = zip_crate_wheel(options);
    // The local header of `demo/cli.py` (the first occurrence of its name): its zip64
    // extra field (id 1, 16 bytes: uncompressed, compressed) follows the name.
    let name = b"demo/cli.py";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    assert_eq!(&bytes[at..at + 4], &[1, 0, 16, 0], "a zip64 extra field");
    assert_eq!(
        &bytes[at - name.len() - 12..at - name.len() - 4],
        &[0xff; 8]
    );
    for field in [at + 4, at + 12] {
        let size = u64::from_le_bytes(bytes[field..field + 8].try_into().unwrap());
        bytes[field..field + 8].copy_from_slice(&(size + 7).to_le_bytes());
    }
    let err = refused(&bytes);
    let text = err.to_string();
    assert!(
        matches!(&err, InstallError::HeaderMismatch { entry, .. } if entry == "demo/cli.py"),
        "{text}"
    );
    assert!(text.contains("zip64"), "{text}");
}

/// Unpack `bytes` into a fresh directory: the error, and that nothing is left there.
fn unpack_refused(bytes: &[u8]) -> InstallError {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("cache/entry");
    let err = unpack_bytes(
        "demo-1.0-py3-none-any.whl".as_ref(),
        bytes,
        &dest,
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(!dest.exists(), "{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("cache"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?} ({err})");
    err
}

#[test]
fn a_record_that_inflates_to_gigabytes_is_refused_with_bounded_memory() {
    // 2 GiB of RECORD in about 2 MiB of archive. Declared honestly: refused from the
    // central directory, before a byte is inflated.
    let record = deflated_zeros("demo-1.0.dist-info/RECORD", 2048, 2 << 30);
    let mut entries = raw_wheel(Vec::new(), &[]);
    *entries.last_mut().unwrap() = record.clone();
    let err = unpack_refused(&raw_zip(&entries));
    let text = err.to_string();
    assert!(text.contains("demo-1.0.dist-info/RECORD"), "{text}");
    assert!(text.contains("16 MiB"), "{text}");
    assert!(text.contains("demo-1.0-py3-none-any.whl"), "{text}");

    // Declared as 100 bytes: inflating stops just past them.
    *entries.last_mut().unwrap() = Raw {
        size: 100,
        ..record
    };
    let err = unpack_refused(&raw_zip(&entries));
    let text = err.to_string();
    assert!(text.contains("demo-1.0.dist-info/RECORD"), "{text}");
    assert!(text.contains("more than the 100 bytes"), "{text}");
}

#[test]
fn a_metadata_that_inflates_past_its_cap_is_refused() {
    // Declared small, inflating to 64 MiB: METADATA is read through its cap.
    let mut entries = raw_wheel(Vec::new(), &[]);
    let at = entries
        .iter()
        .position(|r| r.name == "demo-1.0.dist-info/METADATA")
        .unwrap();
    entries[at] = deflated_zeros("demo-1.0.dist-info/METADATA", 64, 50);
    let err = unpack_refused(&raw_zip(&entries));
    let text = err.to_string();
    assert!(text.contains("demo-1.0.dist-info/METADATA"), "{text}");
    assert!(text.contains("more than the 50 bytes"), "{text}");
}

#[test]
fn an_archive_declaring_more_than_the_size_cap_is_refused_before_writing() {
    // Six entries declaring almost 4 GiB each (no zip64 needed); a few KiB of data.
    let mut entries = raw_wheel(Vec::new(), &[]);
    for i in 0..6 {
        entries.insert(
            0,
            deflated_zeros(&format!("demo/huge{i}.bin"), 1, u64::from(u32::MAX - 1)),
        );
    }
    let err = unpack_refused(&raw_zip(&entries));
    let text = err.to_string();
    assert!(text.contains("uncompressed"), "{text}");
    assert!(text.contains("GiB"), "{text}");
}

#[test]
fn an_entry_inflating_past_its_declared_size_stops_there() {
    // 64 MiB of zeros declared as 1000 bytes, listed in RECORD as those 1000 zeros.
    let zeros = vec![0u8; 1000];
    let entries = raw_wheel(
        vec![deflated_zeros("demo/bomb.bin", 64, 1000)],
        &[("demo/bomb.bin", &zeros)],
    );
    let err = unpack_refused(&raw_zip(&entries));
    let text = err.to_string();
    assert!(
        matches!(&err, InstallError::TooLong { entry, .. } if entry == "demo/bomb.bin"),
        "{text}"
    );
    assert!(text.contains("more than the 1000 bytes"), "{err:?}");
}

#[test]
fn unpacking_stops_at_the_first_file_that_disagrees_with_record() {
    // The first file differs from RECORD; a later one is corrupt (bad CRC). Stopping at
    // the first disagreement means the later one is never read.
    let listed = b"x = 1\n";
    let first = stored("demo/first.py", b"x = 2\n");
    let mut later = stored("demo/later.bin", &[7u8; 4096]);
    later.crc ^= 1;
    let entries = raw_wheel(
        vec![first, later],
        &[("demo/first.py", listed), ("demo/later.bin", &[7u8; 4096])],
    );
    let err = unpack_refused(&raw_zip(&entries));
    assert!(
        matches!(&err, InstallError::Record { entry, .. } if entry == "demo/first.py"),
        "{err}"
    );
}

#[test]
fn a_file_whose_size_disagrees_with_record_is_refused_before_it_is_read() {
    // RECORD says 5 bytes, the central directory 4096 (and the data inflates to a MiB):
    // the sizes disagree before a byte is inflated.
    let entries = raw_wheel(
        vec![deflated_zeros("demo/big.bin", 1, 4096)],
        &[("demo/big.bin", b"short")],
    );
    let err = unpack_refused(&raw_zip(&entries));
    let text = err.to_string();
    assert!(
        matches!(&err, InstallError::Record { entry, .. } if entry == "demo/big.bin"),
        "{text}"
    );
    assert!(text.contains("4096"), "{text}");
}

#[test]
fn a_data_descriptor_that_disagrees_with_the_central_directory_is_refused() {
    // A streaming reader takes the CRC and sizes from the descriptor: they must be the
    // central directory's. Built with a wrong CRC everywhere, then the central
    // directory's put right.
    let mut entries = raw_wheel(Vec::new(), &[]);
    let truth = entries[1].crc;
    entries[1].descriptor = Some(true);
    entries[1].crc ^= 0xffff;
    let mut bytes = raw_zip(&entries);
    let name = entries[1].name.as_bytes();
    let record = (0..bytes.len() - 46)
        .find(|&i| bytes[i..].starts_with(b"PK\x01\x02") && bytes[i + 46..].starts_with(name))
        .unwrap();
    bytes[record + 16..record + 20].copy_from_slice(&truth.to_le_bytes());
    let err = refused(&bytes);
    assert!(
        matches!(
            &err,
            InstallError::HeaderMismatch {
                field: "data descriptor CRC-32",
                ..
            }
        ),
        "{err}"
    );
}

/// `content` as a deflated entry (a raw deflate stream) with its true CRC-32 and size.
fn deflated(name: &str, content: &[u8]) -> Raw {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, content).unwrap();
    Raw {
        method: 8,
        data: encoder.finish().unwrap(),
        ..stored(name, content)
    }
}

/// Bytes that deflate poorly, so that a stream of them is longer than one read.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn deflated_entries_one_after_another_unpack_through_one_inflater() {
    // Regression: entries are inflated with one reused inflater, reset between them; one
    // left with the state of the previous entry garbles the next. Large ones span several
    // reads of the archive.
    let contents: Vec<(String, Vec<u8>)> = (0..6u32)
        .map(|i| {
            let mut c = noise(200_000 * (i as usize % 3) + 17, i + 1);
            c.extend(std::iter::repeat_n(b'a', 5_000 * i as usize));
            (format!("demo/data{i}.bin"), c)
        })
        .collect();
    let listed: Vec<(&str, &[u8])> = contents
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    let extra = contents.iter().map(|(n, c)| deflated(n, c)).collect();
    let bytes = raw_zip(&raw_wheel(extra, &listed));
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("u");
    unpack_bytes(
        "demo-1.0-py3-none-any.whl".as_ref(),
        &bytes,
        &dest,
        &UnpackOptions::default(),
    )
    .unwrap();
    for (name, content) in &contents {
        let got = std::fs::read(dest.join("files").join(name)).unwrap();
        assert!(got == *content, "{name} differs");
    }
}

#[test]
fn a_deflated_entry_cut_short_is_refused() {
    let content = noise(100_000, 7);
    let mut entry = deflated("demo/cut.bin", &content);
    entry.data.truncate(entry.data.len() / 2);
    let entries = raw_wheel(vec![entry], &[("demo/cut.bin", &content)]);
    let err = unpack_refused(&raw_zip(&entries));
    let text = err.to_string();
    assert!(
        matches!(&err, InstallError::Corrupt { entry, .. } if entry == "demo/cut.bin"),
        "{text}"
    );
    assert!(
        format!("{err:?}").contains("ends before the deflate stream"),
        "{err:?}"
    );
}

#[test]
fn a_deflated_entry_with_a_wrong_crc_is_refused() {
    let content = noise(3_000, 9);
    let mut entry = deflated("demo/crc.bin", &content);
    entry.crc ^= 0x10;
    let entries = raw_wheel(vec![entry], &[("demo/crc.bin", &content)]);
    let err = unpack_refused(&raw_zip(&entries));
    assert!(
        matches!(&err, InstallError::Corrupt { entry, .. } if entry == "demo/crc.bin"),
        "{err}"
    );
    assert!(format!("{err:?}").contains("CRC-32"), "{err:?}");
}

#[test]
fn an_entry_marked_deflated_that_is_not_deflate_is_refused() {
    let content = b"not compressed at all".to_vec();
    let mut entry = stored("demo/plain.txt", &content);
    entry.method = 8;
    entry.data = vec![0xff; 64];
    let entries = raw_wheel(vec![entry], &[("demo/plain.txt", &content)]);
    let err = unpack_refused(&raw_zip(&entries));
    assert!(
        matches!(&err, InstallError::Corrupt { entry, .. } if entry == "demo/plain.txt"),
        "{err}"
    );
}
