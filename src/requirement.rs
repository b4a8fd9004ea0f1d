//! PEP 508 requirements parsed from text sanctuary does not control (manifests, `METADATA`,
//! `PKG-INFO`, `pyproject.toml`, what a build backend asks for). Pure.
//!
//! `pep508_rs` 0.9 panics on a name that ends in `.`, `-` or `_` and is followed by another
//! character (`a- >=1`, `a.'`): its parser accepts the characters and then fails to build
//! the `PackageName`. Such text is refused here before it reaches the parser, and any other
//! panic of the parser is caught and turned into an error, so a hostile package's metadata
//! can never bring sanctuary down.

use std::str::FromStr as _;

use pep508_rs::Requirement;

/// `text` as a requirement, or why it is not one.
pub fn parse(text: &str) -> Result<Requirement, String> {
    let name: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if name.ends_with(['.', '-', '_']) {
        return Err(format!(
            "the package name `{name}` must end with a letter or digit"
        ));
    }
    let owned = text.to_string();
    match std::panic::catch_unwind(move || Requirement::from_str(&owned)) {
        Ok(Ok(requirement)) => Ok(requirement),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the PEP 508 parser could not read it".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: these panicked inside `pep508_rs` (found by the pyproject property test).
    #[test]
    fn names_ending_in_punctuation_are_errors_not_panics() {
        for text in [
            "a.'",
            "a- >=1",
            "torch_ ; python_version > '3'",
            "x.[y]",
            " b-(1)",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn ordinary_requirements_parse() {
        let r = parse("flash-attn[all]>=2.0 ; sys_platform == 'linux'").unwrap();
        assert_eq!(r.name.as_ref(), "flash-attn");
        assert!(parse("a.b_c-d").is_ok());
        assert!(parse("").is_err());
    }
}
