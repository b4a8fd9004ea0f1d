//! The members of a legacy `.zip` sdist. The archive's structure is held to the rules wheels
//! are ([`crate::install::archive::check`]: the central directory and the local headers agree,
//! nothing before, between or after the entries, no name twice), so that every zip reader
//! sees the same members; each member's data is then read through its declared size.
//!
//! Symlinks (a Unix mode of `S_IFLNK`) are refused: Python's `zipfile`, and so pip, would
//! write one as a file holding its target, a tree sanctuary would not reproduce.

use std::io::{Read, Seek, SeekFrom};

use super::SdistError;
use super::archive::Visitor;
use super::tree::{EntryKind, refuse};
use crate::install::archive::{ArchiveError, check};

/// Feed every member of the `.zip` in `reader` to `visitor`, in central directory order.
pub(super) fn walk(
    mut reader: impl Read + Seek,
    sdist: &str,
    visitor: &mut dyn Visitor,
) -> Result<(), SdistError> {
    let read_error = |source| SdistError::Read {
        sdist: sdist.to_string(),
        source,
    };
    let structure = |reason: String| SdistError::Archive {
        sdist: sdist.to_string(),
        reason,
    };
    check(&mut reader).map_err(|err| match err {
        ArchiveError::Io(source) => read_error(source),
        other => structure(other.to_string()),
    })?;
    reader.seek(SeekFrom::Start(0)).map_err(read_error)?;
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| structure(format!("zip: {e}")))?;
    for index in 0..zip.len() {
        let mut file = zip
            .by_index(index)
            .map_err(|e| structure(format!("zip entry {index}: {e}")))?;
        let name = file.name().to_string();
        let kind = if file.is_symlink() {
            return Err(refuse(
                sdist,
                &name,
                "a symlink, which sdists in `.zip` files may not hold",
            ));
        } else if file.is_dir() {
            if file.size() != 0 {
                return Err(refuse(sdist, &name, "a directory with data"));
            }
            EntryKind::Dir
        } else {
            EntryKind::File {
                size: file.size(),
                executable: file.unix_mode().is_some_and(|mode| mode & 0o111 != 0),
            }
        };
        visitor.visit(&name, kind, &mut file)?;
    }
    Ok(())
}
