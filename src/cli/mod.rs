//! The command line, in two stages (ripgrep's low and high arguments): [`args`] holds the
//! clap types, [`settings`] checks them with the environment into [`crate::settings`]; then
//! the command runs, and its [`crate::error::Error`] becomes a message, a `hint:` and an exit
//! code here, in one place.

pub mod args;
pub mod settings;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::commands;
use crate::error::Error;
use args::Cli;
use settings::Checked;

/// Entry point of the binary: run, and turn an error into a message and an exit code.
pub fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            report(&err);
            ExitCode::from(err.exit_code())
        }
    }
}

/// Parse the command line and run the command.
pub fn run() -> Result<ExitCode, Error> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; usage errors exit 2.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(ExitCode::from(code));
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    match settings::check(&cli.global, cli.command)? {
        Checked::Init(s) => commands::init::init(&s),
        Checked::Lock(s) => commands::lock::lock(&s),
        Checked::Sync(s) => commands::sync::sync(&s),
        Checked::Detect(s) => commands::detect::detect(&s),
        Checked::Doctor(s) => commands::doctor::doctor(&s),
        Checked::Export(s) => commands::export::export(&s),
        Checked::Tree(s) => commands::tree::tree(&s),
        Checked::Diff(s) => commands::diff::diff(&s),
    }
}

/// Logs on stderr, coloured only on a terminal.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "sanctuary=info",
        (false, 2) => "sanctuary=debug",
        _ => "sanctuary=trace",
    };
    let filter =
        EnvFilter::try_from_env("SANCTUARY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::http::redact::RedactingWriter(std::io::stderr()))
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .with_target(false)
        .try_init();
}

/// Print an error with its causes and a hint where one helps. A cause whose text the
/// message already holds is not repeated.
fn report(err: &Error) {
    // Every message names its URLs masked already; this catches any text that does not.
    let shown = |text: String| crate::http::redact::redact_text(&text).into_owned();
    let message = shown(err.to_string());
    eprintln!("error: {message}");
    let mut said = message;
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let text = shown(c.to_string());
        if !said.contains(&text) {
            eprintln!("  caused by: {text}");
            said.push_str(&text);
        }
        cause = c.source();
    }
    if let Some(hint) = err.hint() {
        eprintln!("hint: {hint}");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::{CommandFactory as _, Parser as _};

    use super::args::Cli;

    /// Flags of other tools that messages and comments name, with the tool.
    const FOREIGN_FLAGS: &[(&str, &str)] = &[
        ("--no-deps", "pip"),
        ("--require-hashes", "pip"),
        ("--extra-index-url", "pip"),
        ("--index-url", "pip"),
        ("--find-links", "pip"),
        ("--hash", "pip"),
        ("--force-reinstall", "pip"),
        ("--only-binary", "pip"),
        ("--no-binary", "pip"),
        ("--upload-pack", "git"),
        ("--bare", "git"),
        ("--git-dir", "git"),
        ("--force", "git"),
        ("--tags", "git"),
        ("--shared", "git"),
        ("--no-checkout", "git"),
        ("--no-index", "pip"),
        ("--exit-code", "git"),
        ("--show-toplevel", "git"),
        ("--name-only", "git"),
        ("--verify", "git"),
        ("--query-gpu", "nvidia-smi"),
        ("--without-pip", "python -m venv"),
        ("--symlinks", "python -m venv"),
        ("--version", "pip"),
        ("--lib", "cargo"),
        ("--features", "cargo"),
        // Not a flag: `py3--any` in a wheel-name property test.
        ("--any", "a test string"),
    ];

    /// Every long flag of every sanctuary command.
    fn our_flags() -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let cli = Cli::command();
        let mut commands = vec![cli.clone()];
        commands.extend(cli.get_subcommands().cloned());
        for command in commands {
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    out.entry(format!("--{long}"))
                        .or_default()
                        .push(command.get_name().to_string());
                }
            }
        }
        out
    }

    fn sources() -> Vec<(std::path::PathBuf, String)> {
        let mut out = Vec::new();
        let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path, text));
                }
            }
        }
        out
    }

    /// Regression: a hint named a pre-release flag that does not exist. Every flag
    /// the code names is one of ours or a listed one of another tool.
    #[test]
    fn every_flag_a_message_names_exists() {
        let ours = our_flags();
        let mut unknown = Vec::new();
        for (path, text) in sources() {
            for (i, line) in text.lines().enumerate() {
                let mut rest = line;
                while let Some(at) = rest.find("--") {
                    let tail = &rest[at + 2..];
                    let len = tail
                        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
                        .unwrap_or(tail.len());
                    let flag = format!("--{}", &tail[..len]);
                    rest = &tail[len..];
                    if len == 0 || !tail.starts_with(|c: char| c.is_ascii_lowercase()) {
                        continue;
                    }
                    if !ours.contains_key(&flag) && !FOREIGN_FLAGS.iter().any(|(f, _)| *f == flag) {
                        unknown.push(format!("{}:{}: {flag}", path.display(), i + 1));
                    }
                }
            }
        }
        assert!(
            unknown.is_empty(),
            "flags no command has:\n{}",
            unknown.join("\n")
        );
    }

    /// Every `sanctuary ...` command line a message or comment quotes in backticks parses.
    #[test]
    fn every_quoted_command_line_parses() {
        let mut checked = 0;
        let mut failures = Vec::new();
        for (path, text) in sources() {
            for quoted in text.split('`').skip(1).step_by(2) {
                let Some(args) = quoted.strip_prefix("sanctuary ") else {
                    continue;
                };
                if args.contains(['{', '<', '[', '|', '\\']) || args.contains("...") {
                    continue; // a synopsis, not a command line
                }
                let words: Vec<String> = std::iter::once("sanctuary".to_string())
                    .chain(args.split_whitespace().map(|w| {
                        match w {
                            "NAME" => "numpy",
                            "REV" => "HEAD",
                            "PATH" | "DIR" => "x",
                            "TAG" => "cu130",
                            "N" => "4",
                            other => other,
                        }
                        .to_string()
                    }))
                    .collect();
                checked += 1;
                // A quote may name a command without its operands (`sanctuary diff`); what
                // it does write must parse.
                match Cli::try_parse_from(&words) {
                    Err(e) if e.kind() != clap::error::ErrorKind::MissingRequiredArgument => {
                        failures.push(format!("{}: `{quoted}`: {}", path.display(), e.kind()));
                    }
                    _ => {}
                }
            }
        }
        assert!(checked > 5, "only {checked} command lines found");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
