//! `fixtures/forge` (the ML environment of the mission) on the shipped PyTorch mirror: every
//! key's Foundation from the `file://` trees, the Application from the PyPI stand-in.

use std::collections::BTreeMap;

use crate::common::Project;
use crate::support::TestIndex;
use crate::support::mirror::{KEYS, fixtures_dir, index_url_template, pypi_scenario};

struct Forge {
    project: Project,
    _pypi: TestIndex,
}

fn forge(edit: impl Fn(String) -> String) -> Forge {
    let pypi = TestIndex::start(pypi_scenario());
    let mut project = Project::new();
    project.env("SANCTUARY_INDEX_PYPI", &pypi.index_url());
    project.env("SANCTUARY_INDEX_PYTORCH", &index_url_template("stable"));
    let text = std::fs::read_to_string(fixtures_dir().join("forge/sanctuary.toml")).unwrap();
    project.write_manifest(&edit(text));
    Forge {
        project,
        _pypi: pypi,
    }
}

fn lockfile(project: &Project, name: &str) -> sanctuary::pylock::Lockfile {
    let text = std::fs::read_to_string(project.path().join("lockfiles").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    sanctuary::pylock::Lockfile::parse(&text).unwrap()
}

fn versions(lock: &sanctuary::pylock::Lockfile) -> BTreeMap<String, String> {
    lock.packages
        .iter()
        .map(|p| (p.name.to_string(), p.version.to_string()))
        .collect()
}

#[test]
fn every_key_of_forge_locks_on_the_mirror() {
    let forge = forge(|t| t);
    let p = &forge.project;
    p.lock_ok(&["-q"]);
    for key in KEYS {
        let lock = lockfile(p, &format!("pylock.foundation-{key}.toml"));
        let pins = versions(&lock);
        let torch = &pins["torch"];
        assert!(torch.ends_with(&format!("+{key}")), "{key}: torch {torch}");
        let expected_series = if key == "cu126" { "2.8." } else { "2.9." };
        assert!(torch.starts_with(expected_series), "{key}: torch {torch}");
        assert!(pins["torchvision"].ends_with(&format!("+{key}")), "{key}");
        assert!(pins["torchaudio"].ends_with(&format!("+{key}")), "{key}");
        let cu12: Vec<&String> = pins.keys().filter(|n| n.ends_with("-cu12")).collect();
        let nvidia: Vec<&String> = pins.keys().filter(|n| n.starts_with("nvidia-")).collect();
        match key {
            "cu130" => assert!(cu12.is_empty() && !nvidia.is_empty(), "{key}: {nvidia:?}"),
            "cu128" | "cu126" => assert!(!cu12.is_empty(), "{key}: {pins:?}"),
            _ => assert!(nvidia.is_empty(), "cpu pulls {nvidia:?}"),
        }
    }
    // The Application holds no Foundation package, for any key.
    let app_files: Vec<String> = std::fs::read_dir(p.path().join("lockfiles"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pylock.application"))
        .collect();
    assert!(!app_files.is_empty());
    for file in &app_files {
        let app = versions(&lockfile(p, file));
        for key in KEYS {
            let foundation = versions(&lockfile(p, &format!("pylock.foundation-{key}.toml")));
            for name in foundation.keys() {
                assert!(
                    !app.contains_key(name),
                    "{file} holds Foundation package {name}"
                );
            }
        }
        for name in ["transformers", "peft", "accelerate", "fastapi", "pydantic"] {
            assert!(app.contains_key(name), "{file} lacks {name}");
        }
    }
    // Byte-identical on a second run, and --check passes.
    let before: Vec<String> = app_files
        .iter()
        .map(|f| std::fs::read_to_string(p.path().join("lockfiles").join(f)).unwrap())
        .collect();
    p.lock_ok(&["-q"]);
    let after: Vec<String> = app_files
        .iter()
        .map(|f| std::fs::read_to_string(p.path().join("lockfiles").join(f)).unwrap())
        .collect();
    assert_eq!(before, after);
    assert!(p.run(&["lock", "--check"]).status.success());
}

#[test]
fn nightly_forge_takes_dev_builds_and_pytorch_triton_from_the_foundation_index() {
    let forge = forge(|_| {
        "[project]\nname = \"forge-nightly\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{key}\"\nexplicit = true\n\n\
         [foundation]\nkeys = [\"cu130\", \"cpu\"]\nindex = \"pytorch\"\nchannel = \"nightly\"\n\
         requirements = [\"torch\", \"torchvision\", \"torchaudio\"]\n\
         # Only the nightly index has pytorch-triton: routing it there keeps PyPI out.\n\
         sources = { pytorch-triton = \"pytorch\" }\n\n\
         [application]\nrequirements = [\"fastapi\"]\n"
            .to_string()
    });
    let p = &forge.project;
    p.lock_ok(&["-q"]);
    for key in ["cu130", "cpu"] {
        let lock = lockfile(p, &format!("pylock.foundation-{key}.toml"));
        let pins = versions(&lock);
        assert!(pins["torch"].contains(".dev"), "{key}: {}", pins["torch"]);
        let torch = lock
            .packages
            .iter()
            .find(|p| p.name.as_ref() == "torch")
            .unwrap();
        assert!(torch.index.contains("/nightly/"), "{}", torch.index);
        if key == "cu130" {
            let triton = lock
                .packages
                .iter()
                .find(|p| p.name.as_ref() == "pytorch-triton")
                .expect("pytorch-triton locked");
            assert!(triton.index.starts_with("file://"), "{}", triton.index);
        }
    }
}
