//! Tests of manifest parsing and its error locations.

use super::*;
use proptest::prelude::*;

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(text, Path::new("sanctuary.toml"))
}

const FULL: &str = r#"
[project]
name = "forge"
python = "3.12"
platform = "linux-x86_64"

[[index]]
name = "pypi"
url = "https://pypi.org/simple"

[[index]]
name = "pytorch"
url = "https://download.pytorch.org/whl/{key}"
explicit = true

[foundation]
keys = ["cu130", "cu128", "cu126", "cpu"]
index = "pytorch"
requirements = ["torch==2.9.*", "torchvision==0.24.*", "torchaudio==2.9.*"]
constraints = []
channel = "nightly"

[foundation.key.cu126]
requirements = ["torch==2.8.*", "torchvision==0.23.*", "torchaudio==2.8.*"]

[application]
requirements = ["transformers>=4.40", "peft", "fastapi", "pydantic[email]>=2"]
constraints = ["numpy<2"]
sources = { torch = "pytorch" }

[sync]
venv = ".env"
"#;

#[test]
fn parses_the_whole_contract_shape() {
    let m = parse(FULL).unwrap();
    assert_eq!(m.name, "forge");
    assert_eq!(m.python, "3.12");
    assert_eq!(m.indexes.len(), 2);
    assert!(m.indexes[1].explicit);
    let f = m.foundation.as_ref().unwrap();
    assert_eq!(f.keys, ["cu130", "cu128", "cu126", "cpu"]);
    assert_eq!(f.index.as_deref(), Some("pytorch"));
    assert_eq!(f.channel, Channel::Nightly);
    assert_eq!(f.requirements.len(), 3);
    let cu126 = &f.overrides["cu126"];
    assert_eq!(cu126.requirements.as_ref().unwrap()[0].text, "torch==2.8.*");
    assert!(cu126.constraints.is_none());
    assert_eq!(m.application.requirements[3].text, "pydantic[email]>=2");
    // Line numbers point into the file (1-based; FULL starts with a newline).
    assert_eq!(m.application.requirements[0].line, 27);
    assert_eq!(m.application.constraints[0].line, 28);
    assert_eq!(m.application.sources.len(), 1);
    assert_eq!(m.venv, ".env");
}

#[test]
fn defaults_to_pypi_alone() {
    let m = parse("[project]\nname = \"x\"\npython = \"3.11\"\n").unwrap();
    assert_eq!(m.indexes.len(), 1);
    assert_eq!(m.indexes[0].url, DEFAULT_INDEX_URL);
    assert!(m.foundation.is_none());
    assert!(m.application.requirements.is_empty());
    assert_eq!(m.venv, ".venv");
}

/// Each broken manifest, with the error it gives (path:line:column: message).
#[test]
fn errors_point_at_line_and_column() {
    let head = "[project]\nname = \"x\"\npython = \"3.12\"\n";
    let cases = [
        (
            "bad_toml",
            format!("{head}[application\nrequirements = []\n"),
        ),
        ("unknown_field", format!("{head}colour = \"blue\"\n")),
        (
            "unknown_field_in_application",
            format!("{head}[application]\nrequirement = [\"flask\"]\n"),
        ),
        (
            "bad_requirement",
            format!("{head}[application]\nrequirements = [\n  \"flask\",\n  \"peft>=\",\n]\n"),
        ),
        (
            "unknown_index_in_foundation",
            format!("{head}[foundation]\nkeys = [\"cpu\"]\nindex = \"pytroch\"\n"),
        ),
        (
            "unknown_index_in_sources",
            format!("{head}[application]\nsources = {{ torch = \"nowhere\" }}\n"),
        ),
        (
            "override_for_undeclared_key",
            format!(
                "{head}[foundation]\nkeys = [\"cpu\"]\n[foundation.key.cu130]\nrequirements = []\n"
            ),
        ),
        (
            "bad_key",
            format!("{head}[foundation]\nkeys = [\"CU130\"]\n"),
        ),
        (
            "duplicate_index",
            format!(
                "{head}[[index]]\nname = \"a\"\nurl = \"https://a/simple\"\n[[index]]\nname = \"a\"\nurl = \"https://b/simple\"\n"
            ),
        ),
        (
            "bad_index_url",
            format!("{head}[[index]]\nname = \"a\"\nurl = \"not a url\"\n"),
        ),
        (
            "url_requirement",
            format!("{head}[application]\nrequirements = [\"foo @ https://x/foo.whl\"]\n"),
        ),
        (
            "bad_platform",
            "[project]\nname = \"x\"\npython = \"3.12\"\nplatform = \"amiga-68k\"\n".to_string(),
        ),
        (
            "bad_python",
            "[project]\nname = \"x\"\npython = \"three\"\n".to_string(),
        ),
        (
            "missing_project",
            "[application]\nrequirements = []\n".to_string(),
        ),
        // Regression: an index with a scheme that cannot be fetched was accepted.
        (
            "ftp_index_url",
            format!("{head}[[index]]\nname = \"a\"\nurl = \"ftp://host/simple\"\n"),
        ),
        // Regression: `4294967296.1` was accepted as a Python version.
        (
            "huge_python",
            "[project]\nname = \"x\"\npython = \"4294967296.1\"\n".to_string(),
        ),
        (
            "python_2",
            "[project]\nname = \"x\"\npython = \"2.7\"\n".to_string(),
        ),
        (
            "file_origin_with_a_path",
            format!(
                "{head}[[index]]\nname = \"a\"\nurl = \"https://a/simple\"\nfile-origins = [\"https://cdn.a/files\"]\n"
            ),
        ),
        // A bare Foundation constraint used to route the package to the Foundation index.
        (
            "bare_foundation_constraint",
            format!(
                "{head}[[index]]\nname = \"pytorch\"\nurl = \"https://d/whl/{{key}}\"\nexplicit = true\n\
                 [foundation]\nkeys = [\"cpu\"]\nindex = \"pytorch\"\nrequirements = [\"torch\"]\n\
                 constraints = [\"pytorch-triton\"]\n"
            ),
        ),
        (
            "unknown_index_in_foundation_sources",
            format!(
                "{head}[foundation]\nkeys = [\"cpu\"]\nsources = {{ tensorflow = \"pipy\" }}\n"
            ),
        ),
    ];
    let mut report = String::new();
    for (name, text) in &cases {
        let err = parse(text).expect_err(name);
        report.push_str(&format!("{name}: {err}\n"));
    }
    insta::assert_snapshot!(report);
}

/// `[project] platforms` and a `python` range: each error at its line and column.
#[test]
fn platform_and_python_range_errors_point_at_line_and_column() {
    let cases: Vec<(&str, String)> = vec![
        (
            "platform_and_platforms",
            "[project]\nname = \"x\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\nplatforms = [\"macos-arm64\"]\n".to_string(),
        ),
        (
            "empty_platforms",
            "[project]\nname = \"x\"\npython = \"3.12\"\nplatforms = []\n".to_string(),
        ),
        (
            "bad_platform_in_list",
            "[project]\nname = \"x\"\npython = \"3.12\"\nplatforms = [\"linux-x86_64\", \"beos-x86\"]\n".to_string(),
        ),
        (
            "indistinct_platforms",
            "[project]\nname = \"x\"\npython = \"3.12\"\nplatforms = [\"linux-x86_64\", \"linux-x86_64-manylinux_2_34\"]\n".to_string(),
        ),
        (
            "open_python_range",
            "[project]\nname = \"x\"\npython = \">=3.11\"\nplatform = \"linux-x86_64\"\n".to_string(),
        ),
        (
            "empty_python_range",
            "[project]\nname = \"x\"\npython = \">=3.13,<3.12\"\nplatform = \"linux-x86_64\"\n".to_string(),
        ),
    ];
    let mut report = String::new();
    for (name, text) in &cases {
        let err = parse(text).expect_err(name);
        report.push_str(&format!("{name}: {err}\n"));
    }
    insta::assert_snapshot!(report);
}

proptest! {
    /// Arbitrary text never panics the parser: it is a manifest or a located error.
    #[test]
    fn never_panics(text in "\\PC{0,200}") {
        if let Err(e) = parse(&text) {
            prop_assert!(e.line >= 1 && e.column >= 1);
            prop_assert!(e.line <= text.lines().count().max(1) + 1);
        }
    }

    /// Requirements survive parsing with the line they were written on.
    #[test]
    fn requirement_lines_are_exact(
        names in proptest::collection::vec("[a-z][a-z0-9]{0,6}", 1..6),
        blank in 0usize..4,
    ) {
        let mut text = String::from("[project]\nname = \"x\"\npython = \"3.12\"\n");
        text.push_str(&"\n".repeat(blank));
        text.push_str("[application]\nrequirements = [\n");
        for n in &names {
            text.push_str(&format!("  \"{n}>=1.0\",\n"));
        }
        text.push_str("]\n");
        let m = parse(&text).unwrap();
        for (i, r) in m.application.requirements.iter().enumerate() {
            prop_assert_eq!(r.line, 6 + blank + i);
            prop_assert_eq!(&r.text, &format!("{}>=1.0", names[i]));
        }
    }
}

#[test]
fn line_column_counts_characters() {
    let text = "ab\nçd=x\n";
    assert_eq!(line_column(text, 0), (1, 1));
    assert_eq!(line_column(text, 3), (2, 1));
    // `=` is after a two-byte character.
    assert_eq!(line_column(text, text.find('=').unwrap()), (2, 3));
    assert_eq!(line_column(text, 999), (3, 1));
}

/// Regression: invalid UTF-8 was reported without a line.
#[test]
fn invalid_utf8_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sanctuary.toml");
    std::fs::write(
        &path,
        b"[project]\nname = \"x\"\npython = \"3.12\"\n# caf\xe9\n".as_slice(),
    )
    .unwrap();
    let err = Manifest::read(&path).unwrap_err().to_string();
    assert!(err.contains("sanctuary.toml:4:6: invalid UTF-8"), "{err}");
}

/// Regression: `--manifest /dev/zero` grew to 7 GB; a manifest is read with a cap.
#[cfg(unix)]
#[test]
fn an_endless_manifest_is_refused_at_the_cap() {
    let err = Manifest::read(Path::new("/dev/zero")).unwrap_err();
    assert!(matches!(err, ManifestReadError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("/dev/zero"), "{err}");
}

/// `[foundation] sources` routes a Foundation package off the Foundation index, and a
/// dependency onto it; `file-origins` are kept as origins.
#[test]
fn foundation_sources_and_file_origins() {
    let m = parse(
        "[project]\nname = \"x\"\npython = \"3.12\"\n\
         [[index]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\n\
         file-origins = [\"https://CDN.example.org:8443/\"]\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://d/whl/{key}\"\nexplicit = true\n\
         [foundation]\nkeys = [\"cpu\"]\nindex = \"pytorch\"\n\
         requirements = [\"torch\", \"tensorflow[and-cuda]\"]\nconstraints = [\"sympy<2\"]\n\
         sources = { tensorflow = \"pypi\", pytorch-triton = \"pytorch\" }\n",
    )
    .unwrap();
    let f = m.foundation.unwrap();
    assert_eq!(f.sources.len(), 2);
    assert_eq!(
        f.sources[&PackageName::from_str("tensorflow").unwrap()],
        "pypi"
    );
    assert_eq!(
        m.indexes[0].file_origins,
        vec!["https://cdn.example.org:8443".to_string()]
    );
}
