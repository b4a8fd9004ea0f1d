//! The one error type the operations and commands return. Each module keeps its own typed
//! error (`thiserror`, carrying the file, package, version or URL); this enum holds any of
//! them, with the context that operations add on the way up ("cannot read lockfiles/x"). It
//! knows the hint that helps (one per kind of failure, in [`Error::hint`]) and its exit code
//! ([`Error::exit_code`]): the top of the binary prints it and exits, in one place.

use std::fmt::Display;

use crate::environment::EnvironmentError;
use crate::fs::FsError;
use crate::hardware::{KeySettingsError, SelectError as KeySelectError};
use crate::index::IndexError;
use crate::install::UninstallError;
use crate::install::fetch::FetchError;
use crate::install::journal::JournalError;
use crate::install::venv::VenvError;
use crate::install::wheel::InstallError;
use crate::manifest::ManifestReadError;
use crate::ops::lockfiles::{SelectError, StaleLockfiles};
use crate::pylock::LockError;
use crate::pylock::origin::OriginError;
use crate::resolve::ResolveError;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Any failure of an operation or command: see the module documentation. Boxed, so that a
/// `Result` stays small on the happy path.
pub struct Error(Box<ErrorKind>);

/// What [`Error`] holds.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error(transparent)]
    Manifest(#[from] ManifestReadError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Origin(#[from] OriginError),
    #[error(transparent)]
    Lockfiles(#[from] SelectError),
    #[error(transparent)]
    Choice(#[from] crate::ops::environments::ChoiceError),
    #[error(transparent)]
    Stale(#[from] StaleLockfiles),
    #[error(transparent)]
    KeySettings(#[from] KeySettingsError),
    #[error(transparent)]
    KeySelect(#[from] KeySelectError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    #[error(transparent)]
    Sdist(#[from] crate::sdist::SdistError),
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Uninstall(#[from] UninstallError),
    #[error(transparent)]
    Venv(#[from] VenvError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Url(#[from] url::ParseError),
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    #[error(transparent)]
    ManifestInvalid(#[from] crate::manifest::ManifestError),
    /// A failure described in words where it happened (a rule of an operation).
    #[error("{0}")]
    Message(String),
    /// A wrong use of the command line that clap cannot see: exit code 2.
    #[error("{0}")]
    Usage(String),
    /// `source`, seen from higher up: "cannot install app 2.0".
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Error,
    },
    /// `source`, exiting with `code` (`diff --exit-code` gives errors 2, as diff(1) does).
    #[error("{source}")]
    WithCode { code: u8, source: Error },
    #[error(transparent)]
    Apply(#[from] crate::install::transaction::ApplyError),
    /// A layer cannot be resolved for one environment of a universal lock.
    #[error(transparent)]
    Universal(#[from] crate::ops::universal::UnresolvableEnvironment),
}

impl<E: Into<ErrorKind>> From<E> for Error {
    fn from(e: E) -> Error {
        Error(Box::new(e.into()))
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Error {
    /// A failure described in words ([`ErrorKind::Message`]).
    pub fn msg(message: impl Display) -> Error {
        ErrorKind::Message(message.to_string()).into()
    }

    /// A wrong use of the command line ([`ErrorKind::Usage`], exit code 2).
    pub fn usage(message: impl Display) -> Error {
        ErrorKind::Usage(message.to_string()).into()
    }

    /// `self`, seen from higher up.
    pub fn context(self, context: impl Display) -> Error {
        ErrorKind::Context {
            context: context.to_string(),
            source: self,
        }
        .into()
    }

    /// `self`, exiting with `code`.
    pub fn with_code(self, code: u8) -> Error {
        ErrorKind::WithCode { code, source: self }.into()
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self.kind() {
            ErrorKind::WithCode { code, .. } => *code,
            ErrorKind::Usage(_) => 2,
            ErrorKind::Context { source, .. } => source.exit_code(),
            _ => 1,
        }
    }

    /// The error under every context.
    pub fn innermost(&self) -> &ErrorKind {
        match self.kind() {
            ErrorKind::Context { source, .. } | ErrorKind::WithCode { source, .. } => {
                source.innermost()
            }
            other => other,
        }
    }

    /// What the user can do about it, when something helps.
    pub fn hint(&self) -> Option<String> {
        use ErrorKind as K;
        match self.innermost() {
            K::Manifest(ManifestReadError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Some(
                    "run `sanctuary init` to write one, or point at yours with --manifest PATH"
                        .to_string(),
                )
            }
            K::Index(e) => index_hint(e),
            K::Resolve(ResolveError::Index(e)) => index_hint(e),
            K::Origin(e) => Some(e.hint()),
            K::Lockfiles(e) => e.hint(),
            K::Choice(e) => e.hint(),
            K::Stale(_) => Some(
                "run `sanctuary lock` and commit the lockfiles, or sync without --locked to lock first"
                    .to_string(),
            ),
            K::KeySelect(e) => e.hint(),
            K::Venv(e) => e.hint(),
            K::Install(e) => e.hint(),
            K::Apply(e) => e.install_error().and_then(InstallError::hint),
            K::Fetch(e) => fetch_hint(e),
            K::Universal(e) => Some(e.hint()),
            K::Build(_) => Some(
                "the build backend's output is above; set the package's build variables under [build.package.<name>] env, or declare `[build] no-build-package` to skip versions published only as source".to_string(),
            ),
            _ => None,
        }
    }
}

/// The hint for a failed download.
fn fetch_hint(e: &FetchError) -> Option<String> {
    match e {
        FetchError::HashMismatch { .. } | FetchError::SizeMismatch { .. } => Some(
            "the file at that URL is not the one that was locked (re-uploaded, or tampered with); nothing was installed. If the change is expected, re-lock with `sanctuary lock --upgrade-package NAME` and review the diff"
                .to_string(),
        ),
        FetchError::Offline { .. } => {
            Some("run `sanctuary sync` once without --offline to fill the cache".to_string())
        }
        FetchError::Status {
            status: 401 | 403, ..
        } => Some(credentials_hint("<NAME>")),
        // Downloads name their index by URL: no variable to suggest.
        FetchError::Index { source, .. } => match source.as_ref() {
            IndexError::Unreachable { .. } => Some("check the network".to_string()),
            other => index_hint(other),
        },
        _ => None,
    }
}

/// The hint for a failed index request.
fn index_hint(e: &IndexError) -> Option<String> {
    use crate::http::auth::env_key;
    match e {
        IndexError::Offline { .. } => {
            Some("run the same command once without --offline to fill the cache".to_string())
        }
        IndexError::Unreachable { index, .. } => Some(mirror_hint(index)),
        IndexError::Denied { index, .. } => Some(credentials_hint(&env_key(index))),
        IndexError::Stalled { .. } => Some(
            "the server stopped sending; on a slow link, raise SANCTUARY_HTTP_TIMEOUT (seconds, default 30)"
                .to_string(),
        ),
        IndexError::Deadline { .. } => Some(
            "on a slow link, raise SANCTUARY_HTTP_DEADLINE (seconds, default 300; answers get a second more per 128 KiB they announce)"
                .to_string(),
        ),
        IndexError::BrokenOff { .. } => Some(
            "the server or a proxy closed the connection early; try again, or use a mirror"
                .to_string(),
        ),
        IndexError::SdistMetadata { .. } => Some(
            "declare its metadata under [[build.dependency-metadata]] (name, version, requires-dist) so nothing is built, or skip versions published only as source with `[build] no-build-package`"
                .to_string(),
        ),
        _ => None,
    }
}

/// How to point an index at a mirror. A keyed index is shown as `pytorch[cu130]`; its
/// variable is `SANCTUARY_INDEX_PYTORCH`, and it takes a URL template with `{key}`.
pub fn mirror_hint(index: &str) -> String {
    let (name, keyed) = match index.split_once('[') {
        Some((name, _)) => (name, true),
        None => (index, false),
    };
    let variable = format!("SANCTUARY_INDEX_{}", crate::http::auth::env_key(name));
    if keyed {
        format!(
            "check the network, or point the index at a mirror with {variable}='https://mirror.example/whl/{{key}}' (a URL template: `{{key}}` becomes each hardware key)"
        )
    } else {
        format!("check the network, or point the index at a mirror with {variable}=URL")
    }
}

/// Where the credentials of the index whose variables are `SANCTUARY_INDEX_<name>_*` go.
fn credentials_hint(name: &str) -> String {
    format!(
        "give the index credentials with SANCTUARY_INDEX_{name}_USERNAME and SANCTUARY_INDEX_{name}_PASSWORD, in its URL (https://user:password@host/...), or in ~/.netrc (or the file NETRC names)"
    )
}

/// Context for any error on its way up (as `anyhow::Context`, for [`Error`]).
pub trait Context<T> {
    fn context(self, context: impl Display) -> Result<T>;
    fn with_context<C: Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Display) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context<C: Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(context()))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl Display) -> Result<T> {
        self.ok_or_else(|| Error::msg(context))
    }

    fn with_context<C: Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::msg(context()))
    }
}

/// Return early with an [`Error::Message`] (as `anyhow::bail!`).
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::msg(format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_code_and_the_hint_of_what_it_wraps() {
        let inner = Error::usage("--concurrency must be at least 1");
        let wrapped: Result<()> = Err::<(), _>(inner).context("cannot lock");
        let err = wrapped.unwrap_err();
        assert_eq!(err.to_string(), "cannot lock");
        assert_eq!(err.exit_code(), 2);
        let missing = Error::from(ManifestReadError::Io {
            path: "sanctuary.toml".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
        let wrapped: Result<()> = Err::<(), _>(missing).context("cannot sync");
        let hint = wrapped.unwrap_err().hint().unwrap();
        assert!(hint.contains("sanctuary init"), "{hint}");
    }

    #[test]
    fn a_code_wraps_any_error() {
        let err = Error::msg("no such revision").with_code(2);
        assert_eq!(err.exit_code(), 2);
        assert_eq!(err.to_string(), "no such revision");
    }
}
