//! `entry_points.txt` (the entry points specification): the `console_scripts` and
//! `gui_scripts` groups, checked, and the small Python launcher each becomes in `bin`.
//!
//! Names are refused when they could escape `bin` or clobber the venv itself: empty, `.`,
//! `..`, anything with `/`, `\`, a NUL or another control character, a leading `-` or `.`,
//! and the venv's own files ([`super::guard::venv_script`]: `python`, `python3`,
//! `python3.N`, `pythonw`, and the `activate*` / `deactivate*` scripts). `pip` is allowed:
//! pip's own wheel declares it.
//! Object references must be dotted Python identifiers (`pkg.mod:obj.attr`), since they are
//! pasted into the launcher's source.

/// One launcher to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    /// The script's file name in `bin`.
    pub name: String,
    /// `pkg.module`.
    pub module: String,
    /// `obj.attr`: what is called.
    pub object: String,
    /// From `gui_scripts` rather than `console_scripts` (same launcher on POSIX).
    pub gui: bool,
}

/// Why an entry point is refused; the wheel names it in [`super::wheel::InstallError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryPointError {
    #[error("line {line}: expected `name = module:object`, found `{text}`")]
    Syntax { line: usize, text: String },
    #[error("script name `{0}` is refused: {1}")]
    BadName(String, &'static str),
    #[error(
        "entry point `{name}`: `{reference}` is not `module.path:object.path` of Python identifiers"
    )]
    BadReference { name: String, reference: String },
    #[error("script `{0}` is declared twice")]
    Duplicate(String),
}

/// The console and GUI scripts of an `entry_points.txt`, checked.
pub fn parse(text: &str) -> Result<Vec<EntryPoint>, EntryPointError> {
    let mut out: Vec<EntryPoint> = Vec::new();
    let mut group: Option<bool> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = match section.trim() {
                "console_scripts" => Some(false),
                "gui_scripts" => Some(true),
                _ => None,
            };
            continue;
        }
        let Some(gui) = group else { continue };
        let syntax = || EntryPointError::Syntax {
            line: i + 1,
            text: raw.to_string(),
        };
        let (name, value) = line.split_once('=').ok_or_else(syntax)?;
        let name = name.trim();
        check_name(name)?;
        // `module:object [extra1, extra2]`: extras do not change the launcher.
        let value = match value.split_once('[') {
            Some((v, _)) => v.trim(),
            None => value.trim(),
        };
        let bad = || EntryPointError::BadReference {
            name: name.to_string(),
            reference: value.to_string(),
        };
        let (module, object) = value.split_once(':').ok_or_else(bad)?;
        let (module, object) = (module.trim(), object.trim());
        if !is_dotted_identifier(module) || !is_dotted_identifier(object) {
            return Err(bad());
        }
        if out.iter().any(|e| e.name == name) {
            return Err(EntryPointError::Duplicate(name.to_string()));
        }
        out.push(EntryPoint {
            name: name.to_string(),
            module: module.to_string(),
            object: object.to_string(),
            gui,
        });
    }
    Ok(out)
}

/// Refuse a script name that could escape `bin` or replace the venv's own files.
pub fn check_name(name: &str) -> Result<(), EntryPointError> {
    let refuse = |why| Err(EntryPointError::BadName(name.to_string(), why));
    if name.is_empty() || name == "." || name == ".." {
        return refuse("empty or a directory name");
    }
    if name.contains(['/', '\\']) {
        return refuse("it contains a path separator");
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains a control character");
    }
    if name.starts_with(['.', '-']) {
        return refuse("it starts with `.` or `-`");
    }
    if let Some(why) = super::guard::venv_script(name) {
        return refuse(why);
    }
    Ok(())
}

/// `a.b.c` where each part is a Python identifier (ASCII or Unicode letters, digits, `_`;
/// not starting with a digit).
fn is_dotted_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// The launcher script for `entry`, run by `shebang` (a full `#!...` line, no newline).
pub fn launcher(entry: &EntryPoint, shebang: &str) -> String {
    let head = entry.object.split('.').next().unwrap_or(&entry.object);
    format!(
        "{shebang}\n\
         # -*- coding: utf-8 -*-\n\
         import re\n\
         import sys\n\
         from {module} import {head}\n\
         if __name__ == \"__main__\":\n\
         \x20   sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n\
         \x20   sys.exit({object}())\n",
        module = entry.module,
        object = entry.object,
    )
}

/// The shebang running `python`: `#!<path>`, or, when the path has spaces or is too long
/// for the kernel's shebang limit, the `/bin/sh` trampoline pip and uv use.
pub fn shebang(python: &std::path::Path) -> String {
    let path = python.to_string_lossy();
    if path.contains([' ', '\t']) || path.len() > 125 {
        let quoted = path.replace('\'', "'\"'\"'");
        format!("#!/bin/sh\n'''exec' '{quoted}' \"$0\" \"$@\"\n' '''")
    } else {
        format!("#!{path}")
    }
}
