//! The published JSON Schema of `sanctuary.toml` matches the code, and every manifest under
//! `examples/` and `fixtures/` validates against it (and parses).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            manifests(&path, out);
        } else if path.file_name().is_some_and(|n| n == "sanctuary.toml") {
            out.push(path);
        }
    }
}

#[test]
fn published_schema_matches_the_code() {
    let path = root().join("schema/sanctuary.schema.json");
    let generated = sanctuary::manifest::json_schema();
    if std::env::var_os("SANCTUARY_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "schema/sanctuary.schema.json is out of date; regenerate it with \
         SANCTUARY_UPDATE_SCHEMA=1 cargo test --test schema"
    );
}

#[test]
fn every_example_and_fixture_manifest_validates() {
    let schema: serde_json::Value =
        serde_json::from_str(&sanctuary::manifest::json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut found = Vec::new();
    manifests(&root().join("examples"), &mut found);
    manifests(&root().join("fixtures"), &mut found);
    assert!(
        found.len() >= 2,
        "expected example manifests, found {found:?}"
    );
    for path in &found {
        let text = std::fs::read_to_string(path).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        let json = serde_json::to_value(&value).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        sanctuary::manifest::Manifest::parse(&text, path).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn schema_rejects_what_the_parser_rejects() {
    let schema: serde_json::Value =
        serde_json::from_str(&sanctuary::manifest::json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for bad in [
        "[project]\nname = \"x\"\npython = \"3.12\"\ncolour = \"blue\"\n",
        "[project]\nname = \"x\"\n",
        "[project]\nname = \"x\"\npython = \"3.12\"\n[foundation]\nkeys = [\"cpu\"]\nchannel = \"weekly\"\n",
        "[project]\nname = \"x\"\npython = \"4294967296.1\"\n",
        "[project]\nname = \"x\"\npython = \"3.12\"\n[[index]]\nname = \"a\"\nurl = \"ftp://host/simple\"\n",
        "[project]\nname = \"x\"\npython = \"3.12\"\n[[index]]\nname = \"a\"\nurl = \"https://host/simple\"\nfile-origins = [\"https://cdn/path\"]\n",
    ] {
        let value: toml::Value = toml::from_str(bad).unwrap();
        let json = serde_json::to_value(&value).unwrap();
        assert!(!validator.is_valid(&json), "schema accepted:\n{bad}");
        assert!(
            sanctuary::manifest::Manifest::parse(bad, Path::new("sanctuary.toml")).is_err(),
            "parser accepted:\n{bad}"
        );
    }
}
