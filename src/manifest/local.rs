//! Local projects in the manifest's requirements: `name @ ./path` (a directory relative to
//! the manifest, `.` being the project itself), `name @ file:///abs/path`, and
//! `name @ git+URL@rev` (locked to a commit). `[application] editable = ["name"]` installs a
//! directory project editable (PEP 660), the `pip install -e .` of an environment.
//!
//! Pure: the text is split into the PEP 508 part the resolver sees (`name[extras] ; marker`)
//! and the [`LocalSource`] it comes from.

use pep508_rs::Requirement;

/// Where a local project comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LocalSource {
    /// A directory: relative to the manifest's directory as written (forward slashes), or
    /// absolute.
    Directory { path: String, editable: bool },
    /// A git repository: its URL without the `git+` prefix and the revision, the revision
    /// asked for (a branch, tag or commit; `HEAD` when absent) and a subdirectory.
    Git {
        url: String,
        rev: Option<String>,
        subdirectory: Option<String>,
    },
}

impl std::fmt::Display for LocalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalSource::Directory { path, editable } => {
                write!(f, "{}{path}", if *editable { "editable " } else { "" })
            }
            LocalSource::Git {
                url,
                rev,
                subdirectory,
            } => {
                write!(f, "git+{url}")?;
                if let Some(rev) = rev {
                    write!(f, "@{rev}")?;
                }
                if let Some(sub) = subdirectory {
                    write!(f, "#subdirectory={sub}")?;
                }
                Ok(())
            }
        }
    }
}

/// `text` split into its PEP 508 requirement (no URL) and local source, or `None` when it is
/// not a local requirement. Errors are messages (the caller adds the location).
pub fn split_local(text: &str) -> Result<Option<(Requirement, LocalSource)>, String> {
    let Some((head, rest)) = text.split_once('@') else {
        return Ok(None);
    };
    // `name[extras] @ location ; marker`: the marker follows `; ` (PEP 508 needs a space
    // before `;` after a URL).
    let (location, marker) = match rest.split_once(" ;") {
        Some((location, marker)) => (location.trim(), Some(marker.trim())),
        None => (rest.trim(), None),
    };
    let source = if let Some(git) = location.strip_prefix("git+") {
        git_source(git, text)?
    } else if let Some(path) = location.strip_prefix("file://") {
        let path = path.strip_prefix("localhost").unwrap_or(path);
        if !path.starts_with('/') {
            return Err(format!(
                "`{text}`: a file URL must be absolute (`file:///...`); write a relative path as `./path`"
            ));
        }
        directory(path, text)?
    } else if location == "."
        || location == ".."
        || location.starts_with("./")
        || location.starts_with("../")
        || location.starts_with('/')
    {
        directory(location, text)?
    } else if let Some(rest) = location.strip_prefix("file:") {
        return Err(format!(
            "`{text}`: write a local project as a path relative to the manifest (`./{}`) or an absolute `file:///` URL",
            rest.trim_start_matches("./")
        ));
    } else if !location.contains("://") && location.contains('/') {
        return Err(format!(
            "`{text}`: a local project's path starts with `./`, `../` or `/` (`./{location}`)"
        ));
    } else {
        return Ok(None);
    };
    let pep508 = match marker {
        Some(marker) => format!("{} ; {marker}", head.trim()),
        None => head.trim().to_string(),
    };
    let requirement = crate::requirement::parse(&pep508).map_err(|e| {
        format!(
            "invalid requirement `{text}`: {}",
            e.to_string().lines().next().unwrap_or_default()
        )
    })?;
    if requirement.version_or_url.is_some() {
        return Err(format!(
            "`{text}`: a local project takes its version from the project; remove the version specifier"
        ));
    }
    Ok(Some((requirement, source)))
}

fn directory(path: &str, text: &str) -> Result<LocalSource, String> {
    if path.contains('\0') || path.contains('\\') {
        return Err(format!(
            "`{text}`: a path uses forward slashes and no NUL characters"
        ));
    }
    let trimmed = path.trim_end_matches('/');
    Ok(LocalSource::Directory {
        path: if trimmed.is_empty() {
            "/".to_string()
        } else {
            trimmed.to_string()
        },
        editable: false,
    })
}

/// `URL[@rev][#subdirectory=dir]` after `git+`.
fn git_source(git: &str, text: &str) -> Result<LocalSource, String> {
    let (location, fragment) = match git.split_once('#') {
        Some((l, f)) => (l, Some(f)),
        None => (git, None),
    };
    let subdirectory = match fragment {
        None => None,
        Some(f) => match f.strip_prefix("subdirectory=") {
            Some(dir)
                if !dir.is_empty()
                    && !dir.split('/').any(|c| c == "..")
                    && !dir.starts_with('/') =>
            {
                Some(dir.to_string())
            }
            _ => {
                return Err(format!(
                    "`{text}`: the only fragment a git URL takes is `#subdirectory=<relative dir>`"
                ));
            }
        },
    };
    let scheme_end = location.find("://").ok_or_else(|| {
        format!("`{text}`: a git requirement is `name @ git+https://host/repo@rev`")
    })?;
    let scheme = &location[..scheme_end];
    if !matches!(scheme, "https" | "http" | "ssh" | "file") {
        return Err(format!(
            "`{text}`: git URLs use https, ssh, http or file, not `{scheme}`"
        ));
    }
    // The revision follows the last `@` of the path (an `@` before it is user info).
    let after_scheme = &location[scheme_end + 3..];
    let path_start = after_scheme.find('/').unwrap_or(after_scheme.len());
    let (url, rev) = match after_scheme[path_start..].rfind('@') {
        Some(at) => {
            let at = scheme_end + 3 + path_start + at;
            (&location[..at], Some(location[at + 1..].to_string()))
        }
        None => (location, None),
    };
    if rev
        .as_deref()
        .is_some_and(|r| r.is_empty() || r.starts_with('-'))
    {
        return Err(format!("`{text}`: invalid git revision"));
    }
    if url.contains(char::is_whitespace) {
        return Err(format!("`{text}`: a git URL has no spaces"));
    }
    Ok(LocalSource::Git {
        url: url.to_string(),
        rev,
        subdirectory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> (String, LocalSource) {
        let (r, s) = split_local(text).unwrap().unwrap();
        (r.to_string(), s)
    }

    #[test]
    fn relative_paths_become_directory_sources() {
        let (r, s) = split("mylib[cli] @ ./libs/mylib/ ; python_version >= '3.10'");
        assert_eq!(r, "mylib[cli] ; python_full_version >= '3.10'");
        assert_eq!(
            s,
            LocalSource::Directory {
                path: "./libs/mylib".to_string(),
                editable: false
            }
        );
        assert_eq!(split("proj @ .").1.to_string(), ".");
        assert_eq!(split("x @ file:///srv/x").1.to_string(), "/srv/x");
    }

    #[test]
    fn git_requirements_keep_their_revision_and_subdirectory() {
        let (r, s) = split("tool @ git+https://user@example.com/org/tool.git@v1.2#subdirectory=py");
        assert_eq!(r, "tool");
        assert_eq!(
            s,
            LocalSource::Git {
                url: "https://user@example.com/org/tool.git".to_string(),
                rev: Some("v1.2".to_string()),
                subdirectory: Some("py".to_string()),
            }
        );
        let (_, s) = split("tool @ git+file:///tmp/repo");
        assert_eq!(s.to_string(), "git+file:///tmp/repo");
    }

    #[test]
    fn index_requirements_are_not_local() {
        assert_eq!(split_local("numpy>=2").unwrap(), None);
        assert_eq!(
            split_local("x @ https://example.com/x-1.0.tar.gz").unwrap(),
            None
        );
    }

    #[test]
    fn bad_local_requirements_are_refused() {
        for bad in [
            "x==1.0 @ ./x",
            "x @ git+ftp://host/repo",
            "x @ git+https://host/repo#egg=x",
            "x @ git+https://host/repo#subdirectory=../up",
            "x @ git+https://host/repo@",
            "x @ file://relative/x",
            "x @ file:./libs/x",
            "x @ libs/x",
        ] {
            assert!(split_local(bad).is_err(), "{bad}");
        }
    }
}
