//! Credentials never shown: the one way URLs are displayed in messages and logs, and the one
//! way credentials are taken out of URLs before they are recorded.
//!
//! Shown, a URL's password becomes `***` and its user name stays
//! (`http://bob:***@host/simple`); a user name without a password is often a token itself
//! (`https://TOKEN@host/`), so it becomes `***` (`https://***@host/`). Recorded (lockfiles,
//! their inputs, the cache), a URL has no credentials at all: [`without_credentials`].
//! Credentials are kept apart ([`super::auth`]) and applied to requests as they are sent.

use std::borrow::Cow;
use std::fmt;

use url::Url;

/// What stands for hidden credentials.
pub const MASK: &str = "***";

/// A URL displayed with its credentials masked: see the module documentation.
#[derive(Clone, Copy)]
pub struct Redacted<'a>(&'a Url);

/// `url`, to display: credentials masked.
pub fn redacted(url: &Url) -> Redacted<'_> {
    Redacted(url)
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        if url.username().is_empty() && url.password().is_none() {
            return f.write_str(url.as_str());
        }
        let mut shown = url.clone();
        // Setting credentials fails only on URLs that cannot have them (no host), which
        // parsed with none; the fallback below never shows the original then.
        let masked = if url.password().is_some() {
            shown.set_password(Some(MASK)).is_ok()
        } else {
            shown.set_username(MASK).is_ok()
        };
        if masked {
            f.write_str(shown.as_str())
        } else {
            f.write_str(&redact_text(url.as_str()))
        }
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `url` without user name and password, to record or to send.
pub fn without_credentials(url: &Url) -> Url {
    let mut clean = url.clone();
    if !clean.username().is_empty() || clean.password().is_some() {
        // Both only fail for URLs that cannot carry credentials, which then have none.
        let _ = clean.set_password(None);
        let _ = clean.set_username("");
    }
    clean
}

/// Free text (a URL that did not parse, an error message from a library) with the
/// credentials of every `scheme://user:password@` in it masked as [`redacted`] does.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    rewrite_userinfo(text, |userinfo, out| match userinfo.split_once(':') {
        Some((user, _)) => {
            out.push_str(user);
            out.push(':');
            out.push_str(MASK);
            out.push('@');
        }
        None => {
            out.push_str(MASK);
            out.push('@');
        }
    })
}

/// Free text (a URL as the manifest writes it, `{key}` and all) without the credentials of
/// any `scheme://user:password@` in it, and otherwise unchanged.
pub fn strip_credentials_text(text: &str) -> Cow<'_, str> {
    rewrite_userinfo(text, |_, _| {})
}

/// `text` with the user info (and its `@`) of each `scheme://` authority replaced by what
/// `replace` writes.
fn rewrite_userinfo(text: &str, replace: impl Fn(&str, &mut String)) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the path, query, fragment, or anything that cannot be in it.
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '`' | '"' | '\'' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                replace(&authority[..at], &mut out);
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// A writer that masks credentials in what it writes (through [`redact_text`]): the log
/// output, as a last line of defence. Each write is redacted on its own; the log formatter
/// writes one whole line at a time.
pub struct RedactingWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact_text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn passwords_and_lone_user_names_are_masked() {
        let shown = |s: &str| redacted(&url(s)).to_string();
        assert_eq!(
            shown("http://bob:t0ken@host:8080/simple/"),
            "http://bob:***@host:8080/simple/"
        );
        assert_eq!(
            shown("https://t0ken@host/simple"),
            "https://***@host/simple"
        );
        assert_eq!(shown("https://host/simple"), "https://host/simple");
        assert_eq!(shown("file:///srv/wheels/"), "file:///srv/wheels/");
        assert_eq!(
            format!("{:?}", redacted(&url("http://a:b@h/"))),
            "http://a:***@h/"
        );
    }

    #[test]
    fn credentials_are_removed() {
        assert_eq!(
            without_credentials(&url("http://bob:t0ken@host/simple/")).as_str(),
            "http://host/simple/"
        );
        assert_eq!(
            without_credentials(&url("https://t0ken@host/")).as_str(),
            "https://host/"
        );
        let plain = url("https://host/x?y#z");
        assert_eq!(without_credentials(&plain), plain);
    }

    #[test]
    fn text_is_redacted() {
        assert_eq!(
            redact_text("invalid URL `http://bob:t0ken@[::1/simple` in X"),
            "invalid URL `http://bob:***@[::1/simple` in X"
        );
        assert_eq!(
            redact_text("see https://t0ken@a.b/c and http://u:p@d/ (also ftp://e)"),
            "see https://***@a.b/c and http://u:***@d/ (also ftp://e)"
        );
        assert_eq!(redact_text("no url here"), "no url here");
        assert_eq!(redact_text("http://u:p:q@h"), "http://u:***@h");
        assert_eq!(
            strip_credentials_text("https://bob:t0ken@host/whl/{key}"),
            "https://host/whl/{key}"
        );
        let plain = "https://download.pytorch.org/whl/{key}";
        assert_eq!(strip_credentials_text(plain), plain);
        let mut out = Vec::new();
        std::io::Write::write_all(&mut RedactingWriter(&mut out), b"GET http://u:p@h/x\n").unwrap();
        assert_eq!(out, b"GET http://u:***@h/x\n");
    }

    proptest! {
        #[test]
        fn a_password_is_never_shown(
            user in "[a-z]{1,8}",
            password in "[A-Z][A-Z0-9]{5,19}",
            path in "(/[a-z0-9]{1,6}){0,3}/?",
        ) {
            let text = format!("http://{user}:{password}@example.com{path}");
            let parsed = Url::parse(&text).unwrap();
            let shown = redacted(&parsed).to_string();
            prop_assert!(!shown.contains(&password));
            let sentence = format!("x {text} y");
            prop_assert!(!redact_text(&sentence).contains(&password));
            prop_assert!(!without_credentials(&parsed).as_str().contains(&password));
        }

        #[test]
        fn redact_text_never_panics(s in ".{0,80}") {
            let _ = redact_text(&s);
        }
    }
}
