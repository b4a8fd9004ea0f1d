//! Reading `file://` indexes from disk: a `file://` simple index is
//! `<root>/<project>/index.html` or, without one, the files in `<root>/<project>/`; a
//! `file://` flat index is a directory of files or an HTML page of links.

use std::path::{Path, PathBuf};

use pep508_rs::PackageName;
use url::Url;

use super::simple::{self, make_file};
use super::{DistFile, IndexError};

/// The path of a `file://` URL.
pub fn file_path(url: &Url) -> Result<PathBuf, IndexError> {
    url.to_file_path()
        .map_err(|()| IndexError::Other(format!("`{url}` is not a valid local file URL")))
}

fn io_error(path: &Path, err: std::io::Error) -> IndexError {
    IndexError::Other(format!("cannot read {}: {err}", path.display()))
}

/// Read a local file (a `file://` wheel or `.metadata`); `Ok(None)` when it does not exist.
pub async fn read_local(url: &Url) -> Result<Option<Vec<u8>>, IndexError> {
    let path = file_path(url)?;
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_error(&path, err)),
    }
}

/// The files of `project` in a `file://` simple index rooted at `root`; `Ok(None)` when the
/// index has no such project.
pub fn read_local_simple(
    root: &Url,
    project: &PackageName,
) -> Result<Option<Vec<DistFile>>, IndexError> {
    let root_path = file_path(root)?;
    let direct = root_path.join(project.as_ref());
    let dir = if direct.is_dir() {
        Some(direct)
    } else {
        // Any spelling of the name (`Foo_Bar/` for `foo-bar`).
        std::fs::read_dir(&root_path)
            .map_err(|e| io_error(&root_path, e))?
            .filter_map(Result::ok)
            .find(|entry| {
                entry.path().is_dir()
                    && entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.parse::<PackageName>().ok())
                        .is_some_and(|n| &n == project)
            })
            .map(|entry| entry.path())
    };
    let Some(dir) = dir else {
        return Ok(None);
    };
    let index_html = dir.join("index.html");
    if index_html.is_file() {
        let body = std::fs::read(&index_html).map_err(|e| io_error(&index_html, e))?;
        let page_url = Url::from_file_path(&index_html)
            .map_err(|()| IndexError::Other(format!("bad path {}", index_html.display())))?;
        return simple::parse_html(&String::from_utf8_lossy(&body), &page_url, project).map(Some);
    }
    list_local_dir(&dir, project).map(Some)
}

/// The files of `project` in a `file://` flat index: a directory of files, or an HTML page.
pub fn read_local_flat(url: &Url, project: &PackageName) -> Result<Vec<DistFile>, IndexError> {
    let path = file_path(url)?;
    if path.is_dir() {
        return list_local_dir(&path, project);
    }
    let body = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
    simple::parse_html(&String::from_utf8_lossy(&body), url, project)
}

/// The distributions of `project` among the files of `dir`, sorted by name.
fn list_local_dir(dir: &Path, project: &PackageName) -> Result<Vec<DistFile>, IndexError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let mut files = Vec::new();
    for entry in entries {
        let Some(filename) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(url) = Url::from_file_path(entry.path()) else {
            continue;
        };
        if let Some(mut file) = make_file(&filename, url, project) {
            file.size = entry.metadata().ok().map(|m| m.len());
            files.push(file);
        }
    }
    Ok(files)
}
