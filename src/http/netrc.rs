//! A strict reader of `.netrc` files (`~/.netrc`, or the file `NETRC` names).
//!
//! Written here rather than taken from crates.io: the crates there are unmaintained
//! (`netrc`, last released 2015), heavy for what they do (`netrc-parser` brings nom, regex,
//! serde_json and toml), or read `NETRC` and the home directory themselves and bring a
//! second `thiserror` and `shellexpand` (`rust-netrc`, which uv carries as a fork). The format
//! is small: whitespace-separated tokens (`"quoted"` with `\` escapes allowed), `#` comments,
//! entries `machine NAME` or `default` followed by `login`, `password` and `account`, and
//! `macdef NAME` macros, which run to the next empty line and are skipped.
//!
//! Lookup follows the usual rules: the first `machine` entry whose name is the host (without
//! port; case-insensitive), else the `default` entry. Errors give the line and never the
//! words of the file, which may be secrets.

use std::fmt;
use std::path::{Path, PathBuf};

/// One entry's credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NetrcEntry {
    pub login: Option<String>,
    pub password: Option<String>,
    pub account: Option<String>,
}

impl fmt::Debug for NetrcEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetrcEntry")
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("account", &self.account.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A parsed netrc file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Netrc {
    machines: Vec<(String, NetrcEntry)>,
    default: Option<NetrcEntry>,
}

/// A netrc file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum NetrcError {
    #[error("cannot read the netrc file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid netrc file {}, line {line}: {reason}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: &'static str,
    },
}

impl Netrc {
    /// Read and parse the file at `path`; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Netrc>, NetrcError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(NetrcError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Netrc::parse(&text)
            .map(Some)
            .map_err(|(line, reason)| NetrcError::Syntax {
                path: path.to_path_buf(),
                line,
                reason,
            })
    }

    /// Parse netrc text; the error is the line and what is wrong there.
    pub fn parse(text: &str) -> Result<Netrc, (usize, &'static str)> {
        let mut tokens = Tokens {
            text,
            pos: 0,
            line: 1,
        };
        // Every entry in order (`None`: `default`); `login`, `password` and `account` go to
        // the last one opened.
        let mut entries: Vec<(Option<String>, NetrcEntry)> = Vec::new();
        while let Some(word) = tokens.next()? {
            let line = tokens.line;
            match word.as_str() {
                "machine" => {
                    let name = tokens.value(line, "`machine` without a name")?;
                    entries.push((Some(name), NetrcEntry::default()));
                }
                "default" => entries.push((None, NetrcEntry::default())),
                "login" | "password" | "account" => {
                    let value = tokens.value(line, "a keyword without its value")?;
                    let Some((_, entry)) = entries.last_mut() else {
                        return Err((line, "credentials before any `machine` or `default`"));
                    };
                    let slot = match word.as_str() {
                        "login" => &mut entry.login,
                        "password" => &mut entry.password,
                        _ => &mut entry.account,
                    };
                    *slot = Some(value);
                }
                "macdef" => {
                    tokens.value(line, "`macdef` without a name")?;
                    tokens.skip_macro();
                }
                _ => {
                    return Err((
                        line,
                        "an unexpected word (expected `machine`, `default`, `login`, `password`, `account` or `macdef`)",
                    ));
                }
            }
        }
        let mut netrc = Netrc::default();
        for (name, entry) in entries {
            match name {
                Some(name) => netrc.machines.push((name.to_ascii_lowercase(), entry)),
                // The first `default` counts.
                None => {
                    netrc.default.get_or_insert(entry);
                }
            }
        }
        Ok(netrc)
    }

    /// The entry for `host`: the first `machine` entry naming it, else the `default` entry.
    pub fn get(&self, host: &str) -> Option<&NetrcEntry> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.machines
            .iter()
            .find(|(name, _)| {
                name.trim_start_matches('[')
                    .trim_end_matches(']')
                    .eq_ignore_ascii_case(host)
            })
            .map(|(_, entry)| entry)
            .or(self.default.as_ref())
    }
}

/// The tokens of a netrc text, with the line of each.
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl Tokens<'_> {
    /// The next token, skipping whitespace and comments.
    fn next(&mut self) -> Result<Option<String>, (usize, &'static str)> {
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Ok(None);
            };
            if c == '\n' {
                self.line += 1;
                self.pos += 1;
            } else if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if c == '#' {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if c == '"' {
                return self.quoted().map(Some);
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                self.pos += end;
                return Ok(Some(rest[..end].to_string()));
            }
        }
    }

    /// A `"quoted"` token (at `"`), `\` escaping the next character.
    fn quoted(&mut self) -> Result<String, (usize, &'static str)> {
        let start_line = self.line;
        let mut out = String::new();
        let mut chars = self.text[self.pos + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += 1 + i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                },
                '\n' => {
                    self.line += 1;
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        Err((start_line, "a quoted word without its closing `\"`"))
    }

    /// The value after a keyword on `line`.
    fn value(
        &mut self,
        line: usize,
        missing: &'static str,
    ) -> Result<String, (usize, &'static str)> {
        self.next()?.ok_or((line, missing))
    }

    /// Skip a macro definition: the rest of its line, then every line up to an empty one.
    fn skip_macro(&mut self) {
        let mut lines = self.text[self.pos..].split_inclusive('\n');
        let mut skipped = 0;
        if let Some(first) = lines.next() {
            skipped += first.len();
            self.line += usize::from(first.ends_with('\n'));
        }
        for line in lines {
            skipped += line.len();
            self.line += usize::from(line.ends_with('\n'));
            if line.trim_end_matches(['\n', '\r']).is_empty() {
                break;
            }
        }
        self.pos += skipped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn machines_default_comments_quotes_and_macros() {
        let text = "# my netrc\nmachine Example.COM login bob password \"p w\\\"d\" account x\n\
                    macdef init\ncd /pub\nmachine evil.example login no password no\n\n\
                    machine example.com login second password second\n\
                    machine 10.0.0.1 login ip password 1\n\
                    default login anonymous password guest\ndefault login other password other\n";
        let netrc = Netrc::parse(text).unwrap();
        let bob = netrc.get("example.com").unwrap();
        assert_eq!(bob.login.as_deref(), Some("bob"));
        assert_eq!(bob.password.as_deref(), Some("p w\"d"));
        assert_eq!(bob.account.as_deref(), Some("x"));
        // Inside the macro: not an entry.
        assert_eq!(
            netrc.get("evil.example").unwrap().login.as_deref(),
            Some("anonymous")
        );
        assert_eq!(netrc.get("10.0.0.1").unwrap().login.as_deref(), Some("ip"));
        assert_eq!(
            netrc.get("elsewhere").unwrap().password.as_deref(),
            Some("guest")
        );
        assert!(!format!("{bob:?}").contains("p w"));

        let no_default = Netrc::parse("machine a login b password c").unwrap();
        assert!(no_default.get("b").is_none());
        assert_eq!(Netrc::parse("").unwrap(), Netrc::default());
    }

    #[test]
    fn errors_give_the_line_and_not_the_words() {
        assert_eq!(
            Netrc::parse("machine a\nlogin b\nhunter2\n").unwrap_err().0,
            3
        );
        assert_eq!(Netrc::parse("login b").unwrap_err().0, 1);
        assert_eq!(Netrc::parse("machine a\n password").unwrap_err().0, 2);
        assert_eq!(Netrc::parse("machine a password \"open").unwrap_err().0, 1);
        let err = Netrc::parse("machine a\nsecret-token\n").unwrap_err();
        assert!(!err.1.contains("secret"));
    }

    #[test]
    fn a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Netrc::read(&dir.path().join("absent")).unwrap().is_none());
        let path = dir.path().join("netrc");
        std::fs::write(&path, "machine h login u password p\nbogus").unwrap();
        let err = Netrc::read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && !err.contains("bogus"), "{err}");
    }

    proptest! {
        #[test]
        fn written_entries_read_back(
            entries in proptest::collection::vec(
                ("[a-z][a-z0-9.-]{0,12}", "[!-~&&[^\"#\\\\]]{1,12}", "[ -~]{0,12}"),
                1..6,
            ),
        ) {
            let mut text = String::new();
            for (host, login, password) in &entries {
                let quoted = password.replace('\\', "\\\\").replace('"', "\\\"");
                text.push_str(&format!("machine {host}\n  login {login}\n  password \"{quoted}\"\n"));
            }
            let netrc = Netrc::parse(&text).unwrap();
            for (host, _, _) in &entries {
                // The first entry of a host wins.
                let (_, login, password) = entries.iter().find(|(h, _, _)| h == host).unwrap();
                let entry = netrc.get(host).unwrap();
                prop_assert_eq!(entry.login.as_deref(), Some(login.as_str()));
                prop_assert_eq!(entry.password.as_deref(), Some(password.as_str()));
            }
        }

        #[test]
        fn never_panics(text in "[ -~\n\t\"\\\\#]{0,200}") {
            let _ = Netrc::parse(&text);
        }
    }
}
