//! Credentials of private indexes, kept apart from their URLs and applied to requests as
//! HTTP Basic authentication when they are sent.
//!
//! Where they come from, strongest first: `SANCTUARY_INDEX_<NAME>_USERNAME` and
//! `SANCTUARY_INDEX_<NAME>_PASSWORD` (each replaces its part), the user info of the index URL
//! (manifest or `SANCTUARY_INDEX_<NAME>`), and the netrc file (`NETRC`, else `~/.netrc`).
//! An index's credentials go with every request to its host and port (pages, metadata, and
//! wheels on the same host alike), never to another: a redirect elsewhere loses them, as
//! reqwest drops `Authorization` when the host changes. When two indexes share a host, the
//! one whose path holds the request's path longest wins, else the first declared. The netrc
//! file is matched by host alone (it has no ports), its `default` entry last.

use std::fmt;
use std::path::Path;

use url::Url;

use super::netrc::Netrc;

/// A user name and password. Never displayed: `Debug` masks the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub username: String,
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Credentials {
    /// The user info of `url` (percent-decoded), if it has any.
    pub fn from_url(url: &Url) -> Option<Credentials> {
        if url.username().is_empty() && url.password().is_none() {
            return None;
        }
        Some(Credentials {
            username: percent_decode(url.username()),
            password: url.password().map(percent_decode),
        })
    }

    /// The credentials of an index: the environment's user name and password (each when
    /// set) over those in its URL.
    pub fn for_index(
        url: &Url,
        env_username: Option<&str>,
        env_password: Option<&str>,
    ) -> Option<Credentials> {
        let from_url = Credentials::from_url(url);
        let username = env_username
            .map(str::to_string)
            .or_else(|| from_url.as_ref().map(|c| c.username.clone()));
        let password = env_password
            .map(str::to_string)
            .or_else(|| from_url.and_then(|c| c.password));
        match (username, password) {
            (None, None) => None,
            (username, password) => Some(Credentials {
                username: username.unwrap_or_default(),
                password,
            }),
        }
    }
}

/// The name of the environment variable holding `part` (`USERNAME`, `PASSWORD`) of the
/// credentials of the index called `index` in the manifest: `SANCTUARY_INDEX_<NAME>_<PART>`,
/// NAME upper-cased with `-` as `_`, as for the URL override `SANCTUARY_INDEX_<NAME>`.
pub fn env_key(index: &str) -> String {
    // A keyed index (`pytorch[cu130]`) has the variables of its manifest name.
    let name = index.split('[').next().unwrap_or(index);
    name.to_uppercase().replace('-', "_")
}

/// What [`Auth`] knows of one index.
#[derive(Clone, Debug)]
struct Realm {
    host: String,
    port: Option<u16>,
    path: String,
    credentials: Credentials,
}

/// The credentials to send with each request, by its URL's host and port.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    realms: Vec<Realm>,
    netrc: Option<Netrc>,
}

impl Auth {
    /// Credentials of the indexes (their URL, with their credentials: see
    /// [`Credentials::for_index`]), in manifest order, and the netrc file.
    pub fn new<'a>(
        indexes: impl IntoIterator<Item = (&'a Url, &'a Credentials)>,
        netrc: Option<Netrc>,
    ) -> Auth {
        let realms = indexes
            .into_iter()
            .filter_map(|(url, credentials)| {
                Some(Realm {
                    host: url.host_str()?.to_ascii_lowercase(),
                    port: url.port_or_known_default(),
                    path: url.path().to_string(),
                    credentials: credentials.clone(),
                })
            })
            .collect();
        Auth { realms, netrc }
    }

    /// Read the netrc file at `path` for [`Auth::new`]: `None` when there is none, or when it
    /// cannot be read (a warning says why; the file is shared with other tools, whose
    /// syntax may be wider than ours).
    pub fn read_netrc(path: Option<&Path>) -> Option<Netrc> {
        match Netrc::read(path?) {
            Ok(netrc) => netrc,
            Err(err) => {
                tracing::warn!("ignoring the netrc file: {err}");
                None
            }
        }
    }

    /// The credentials for a request to `url`: those of an index on its host and port,
    /// else those in `url` itself, else the netrc file's for its host. A user name without
    /// a password takes the password of the netrc entry with the same login.
    pub fn for_url(&self, url: &Url) -> Option<Credentials> {
        let host = url.host_str()?.to_ascii_lowercase();
        let port = url.port_or_known_default();
        let same_host: Vec<&Realm> = self
            .realms
            .iter()
            .filter(|r| r.host == host && r.port == port)
            .collect();
        let first = same_host.first().map(|r| &r.credentials);
        let best = same_host
            .iter()
            .filter(|r| url.path().starts_with(&r.path))
            .max_by_key(|r| r.path.len())
            .map(|r| &r.credentials)
            .or(first)
            .cloned()
            .or_else(|| Credentials::from_url(url));
        let netrc = self.netrc.as_ref().and_then(|n| n.get(&host));
        match (best, netrc) {
            (Some(found), Some(entry)) if found.password.is_none() => {
                let same_login = entry.login.as_deref().is_none_or(|l| l == found.username);
                Some(Credentials {
                    password: entry.password.clone().filter(|_| same_login),
                    ..found
                })
            }
            (Some(found), _) => Some(found),
            (None, Some(entry)) => Some(Credentials {
                username: entry.login.clone().unwrap_or_default(),
                password: entry.password.clone(),
            }),
            (None, None) => None,
        }
    }
}

/// `%XX` sequences decoded; invalid UTF-8 replaced. The one percent-decoder of URL text: a
/// URL's user info here, a link's file name in [`crate::index::simple`].
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            username: user.to_string(),
            password: Some(password.to_string()),
        }
    }

    #[test]
    fn the_environment_wins_over_the_url() {
        let u = url("https://bob:old%40pw@host/simple");
        assert_eq!(Credentials::from_url(&u), Some(creds("bob", "old@pw")));
        assert_eq!(
            Credentials::for_index(&u, None, Some("new")),
            Some(creds("bob", "new"))
        );
        assert_eq!(
            Credentials::for_index(&u, Some("al"), Some("x")),
            Some(creds("al", "x"))
        );
        assert_eq!(
            Credentials::for_index(&url("https://host/"), None, None),
            None
        );
        assert!(!format!("{:?}", creds("bob", "s3cret")).contains("s3cret"));
        assert_eq!(env_key("my-corp"), "MY_CORP");
        assert_eq!(env_key("pytorch[cu130]"), "PYTORCH");
    }

    #[test]
    fn matched_by_host_and_port_then_longest_path() {
        let a = url("https://host/a/simple");
        let b = url("https://host/b/simple");
        let other_port = url("https://host:8443/simple");
        let (ca, cb, cp) = (creds("a", "1"), creds("b", "2"), creds("p", "3"));
        let auth = Auth::new([(&a, &ca), (&b, &cb), (&other_port, &cp)], None);
        let get = |s: &str| auth.for_url(&url(s)).map(|c| c.username);
        assert_eq!(get("https://host/b/simple/foo/").as_deref(), Some("b"));
        // Wheels elsewhere on the host: the first declared index's.
        assert_eq!(get("https://host/files/x.whl").as_deref(), Some("a"));
        assert_eq!(get("https://host:443/a/simple/").as_deref(), Some("a"));
        assert_eq!(get("https://host:8443/files/x.whl").as_deref(), Some("p"));
        // Another host, or the same host over another port (http: 80): nothing.
        assert_eq!(get("https://elsewhere/a/simple/"), None);
        assert_eq!(get("http://host/a/simple/"), None);
        // A URL's own user info, when no index matches.
        assert_eq!(get("https://u:p@elsewhere/").as_deref(), Some("u"));
    }

    #[test]
    fn netrc_comes_last() {
        let netrc = Netrc::parse(
            "machine host login bob password fromnetrc\ndefault login anon password guest",
        )
        .unwrap();
        let index = url("https://host/simple");
        let user_only = Credentials {
            username: "bob".to_string(),
            password: None,
        };
        let auth = Auth::new([(&index, &user_only)], Some(netrc.clone()));
        assert_eq!(
            auth.for_url(&url("https://host/simple/x/")),
            Some(creds("bob", "fromnetrc"))
        );
        assert_eq!(
            auth.for_url(&url("https://other/")),
            Some(creds("anon", "guest"))
        );
        let strong = creds("env", "wins");
        let auth = Auth::new([(&index, &strong)], Some(netrc));
        assert_eq!(auth.for_url(&url("https://host/simple/x/")), Some(strong));
        assert_eq!(Auth::default().for_url(&url("https://host/")), None);
    }
}
