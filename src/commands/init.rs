//! `sanctuary init`: write a commented `sanctuary.toml` to start from: an Application alone
//! by default, with `--foundation` the PyTorch index and hardware keys too. An existing
//! manifest is never overwritten.

use std::path::Path;
use std::process::ExitCode;

use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::printer::Printer;
use crate::settings::InitSettings;

/// Run `sanctuary init`.
pub fn init(settings: &InitSettings) -> Result<ExitCode> {
    let printer = Printer::new(settings.global.quiet);
    let path = &settings.global.manifest;
    if path.exists() {
        return Err(Error::usage(format!(
            "{} already exists; sanctuary init never overwrites a manifest (edit it, or pass --manifest NEW_PATH)",
            path.display()
        )));
    }
    let name = match &settings.name {
        Some(name) => name.clone(),
        None => project_name(path),
    };
    let python = match &settings.python {
        Some(python) => python.clone(),
        None => host_python().unwrap_or_else(|| "3.12".to_string()),
    };
    let text = manifest_text(&name, &python, settings.foundation);
    // What we write must be a manifest we read: checked before it reaches the disk.
    Manifest::parse(&text, path)?;
    // `create_new`: a manifest made meanwhile by someone else is not replaced either.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| crate::fs::FsError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|source| {
        crate::fs::FsError::Write {
            path: path.to_path_buf(),
            source,
        }
    })?;
    printer.status(format_args!(
        "Wrote {} (Python {python}{}); add requirements, then run `sanctuary lock`",
        path.display(),
        if settings.foundation {
            ", with a Foundation"
        } else {
            ""
        }
    ));
    Ok(ExitCode::SUCCESS)
}

/// The name of the directory the manifest goes in, made a valid project name.
fn project_name(path: &Path) -> String {
    let dir = std::path::absolute(path)
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let name: String = dir
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "project".to_string()
    } else {
        name.to_string()
    }
}

/// `MAJOR.MINOR` of the first Python 3 on PATH, if one answers.
fn host_python() -> Option<String> {
    let found = crate::install::venv::Interpreter::query(Path::new("python3")).ok()?;
    let (major, minor) = found.major_minor();
    Some(format!("{major}.{minor}"))
}

/// The commented manifest.
fn manifest_text(name: &str, python: &str, foundation: bool) -> String {
    let mut out = format!(
        "# The environment of {name}, for sanctuary: `sanctuary lock` resolves it into\n\
         # lockfiles/, `sanctuary sync` installs them into .venv. Every field is described in\n\
         # schema/sanctuary.schema.json of sanctuary's sources.\n\n\
         [project]\n\
         name = \"{name}\"\n\
         # The Python the lockfiles target (not the running interpreter).\n\
         python = \"{python}\"\n\
         # The platform they target; the host when left out (e.g. \"linux-x86_64\").\n\
         # platform = \"linux-x86_64\"\n\n\
         [[index]]\n\
         name = \"pypi\"\n\
         url = \"https://pypi.org/simple\"\n"
    );
    if foundation {
        out.push_str(
            "\n# The PyTorch index of each hardware key ({key} is replaced). Explicit: only the\n\
             # packages routed to it come from it.\n\
             [[index]]\n\
             name = \"pytorch\"\n\
             url = \"https://download.pytorch.org/whl/{key}\"\n\
             explicit = true\n\n\
             # The Foundation: torch and the CUDA libraries it pulls in, one lockfile per\n\
             # hardware key (best first); `sanctuary sync` picks the key this machine runs.\n\
             [foundation]\n\
             keys = [\"cu130\", \"cu128\", \"cpu\"]\n\
             index = \"pytorch\"\n\
             requirements = [\"torch\"]\n\
             # A package that only the Foundation index has, or a Foundation package from\n\
             # another index: sources = { pytorch-triton = \"pytorch\" }\n",
        );
    }
    out.push_str(
        "\n# Everything else, resolved against the Foundation's pins (it never moves them).\n\
         [application]\n\
         requirements = [\n\
         \x20   # \"fastapi>=0.110\",\n\
         ]\n\
         constraints = []\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_manifests_init_writes_are_valid() {
        for foundation in [false, true] {
            let text = manifest_text("demo", "3.12", foundation);
            let m = Manifest::parse(&text, Path::new("sanctuary.toml")).unwrap();
            assert_eq!(m.name, "demo");
            assert_eq!(m.foundation.is_some(), foundation);
        }
    }

    #[test]
    fn project_names_come_from_the_directory() {
        assert_eq!(
            project_name(Path::new("/work/My App/sanctuary.toml")),
            "My-App"
        );
        assert_eq!(project_name(Path::new("/sanctuary.toml")), "project");
    }
}
