//! A hand-written tar writer for the generated sdists: ustar headers (regular files,
//! directories, symbolic and hard links, devices, FIFOs), PAX extended headers (long paths,
//! or any record a hostile archive wants, such as a `size` that lies), the closing zero
//! blocks and a deterministic gzip wrapper. Every header has mtime 0, uid/gid 0 and empty
//! user/group names, so equal inputs give equal bytes. Nothing here checks that an entry is
//! sensible: hostile archives are built with it too.

use std::io::Write;

/// What a ustar header describes (its typeflag and what that type carries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// `0`: a regular file.
    File,
    /// `5`: a directory.
    Dir,
    /// `2`: a symbolic link to this target.
    Symlink(String),
    /// `1`: a hard link to this (archive member) name.
    Hardlink(String),
    /// `3`: a character device (major, minor).
    CharDevice(u32, u32),
    /// `4`: a block device (major, minor).
    BlockDevice(u32, u32),
    /// `6`: a FIFO.
    Fifo,
}

impl EntryKind {
    fn typeflag(&self) -> u8 {
        match self {
            EntryKind::File => b'0',
            EntryKind::Hardlink(_) => b'1',
            EntryKind::Symlink(_) => b'2',
            EntryKind::CharDevice(..) => b'3',
            EntryKind::BlockDevice(..) => b'4',
            EntryKind::Dir => b'5',
            EntryKind::Fifo => b'6',
        }
    }
}

/// A tar stream being written, entry by entry.
#[derive(Default)]
pub struct TarWriter {
    out: Vec<u8>,
}

impl TarWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A regular file, mode 0644. A path of 100 bytes or more gets a PAX `path` record.
    pub fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.file_with_mode(path, data, 0o644)
    }

    pub fn file_with_mode(&mut self, path: &str, data: &[u8], mode: u32) -> &mut Self {
        self.entry(path, &EntryKind::File, mode, data)
    }

    /// Any entry; `data` follows its header (empty for everything but files).
    pub fn entry(&mut self, path: &str, kind: &EntryKind, mode: u32, data: &[u8]) -> &mut Self {
        if path.len() >= 100 {
            self.pax(&[("path", path)]);
        }
        let header = ustar_header(path, kind, mode, data.len() as u64);
        self.raw(&header, data)
    }

    /// A PAX extended header (`x`) with these records, applying to the next entry.
    pub fn pax(&mut self, records: &[(&str, &str)]) -> &mut Self {
        let mut body = Vec::new();
        for (key, value) in records {
            body.extend_from_slice(&pax_record(key, value));
        }
        let mut header = ustar_header("././@PaxHeader", &EntryKind::File, 0o644, body.len() as u64);
        header[156] = b'x';
        seal(&mut header);
        self.raw(&header, &body)
    }

    /// A header as given (already sealed) followed by `data`, padded to 512 bytes.
    pub fn raw(&mut self, header: &[u8; 512], data: &[u8]) -> &mut Self {
        self.out.extend_from_slice(header);
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    /// The tar stream with its two closing zero blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }

    /// The closed tar stream, gzipped with mtime 0.
    pub fn finish_gz(self) -> Vec<u8> {
        gzip(&self.finish())
    }
}

/// A sealed ustar header: `path` (under 100 bytes, else cut), mode, uid/gid 0, `size` as
/// declared (it need not match the data), mtime 0, the kind's typeflag, link name and device
/// numbers.
pub fn ustar_header(path: &str, kind: &EntryKind, mode: u32, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let name = &path.as_bytes()[..path.len().min(100)];
    put(&mut h, 0, name);
    put(&mut h, 100, format!("{mode:07o}\0").as_bytes());
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, octal_size(size).as_bytes());
    put(&mut h, 136, b"00000000000\0");
    h[156] = kind.typeflag();
    match kind {
        EntryKind::Symlink(target) | EntryKind::Hardlink(target) => {
            let target = &target.as_bytes()[..target.len().min(100)];
            put(&mut h, 157, target);
        }
        EntryKind::CharDevice(major, minor) | EntryKind::BlockDevice(major, minor) => {
            put(&mut h, 329, format!("{major:07o}\0").as_bytes());
            put(&mut h, 337, format!("{minor:07o}\0").as_bytes());
        }
        _ => {}
    }
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    seal(&mut h);
    h
}

/// Writes the checksum of `h` into it (computed with the checksum field as spaces).
pub fn seal(h: &mut [u8; 512]) {
    put(h, 148, b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(h, 148, format!("{sum:06o}\0 ").as_bytes());
}

/// The 12-byte size field: 11 octal digits and NUL, or the base-256 form beyond 8 GiB.
fn octal_size(size: u64) -> String {
    if size < 0o777_7777_7777 {
        format!("{size:011o}\0")
    } else {
        // Callers wanting a huge size use a PAX `size` record; the ustar field says the max.
        "77777777777\0".to_string()
    }
}

/// One PAX record, `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
pub fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // space, '=', newline
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    format!("{len} {key}={value}\n").into_bytes()
}

fn put(h: &mut [u8; 512], at: usize, s: &[u8]) {
    h[at..at + s.len()].copy_from_slice(s);
}

/// `bytes` gzipped at the default level with mtime 0 (deterministic).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip into memory");
    gz.finish().expect("gzip into memory")
}
