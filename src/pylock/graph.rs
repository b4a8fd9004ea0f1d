//! The dependency graph of locked packages, drawn as a tree like `cargo tree`: roots first,
//! children sorted by name, a subtree printed once and marked `(*)` where it repeats.
//! Pure: lockfiles in, text out.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

use pep508_rs::PackageName;

use super::Lockfile;

/// One package of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The locked version, when known.
    pub version: Option<String>,
    /// What this package depends on.
    pub dependencies: Vec<PackageName>,
    /// Required by the layer's own requirements.
    pub direct: bool,
    /// A label printed after the version, e.g. `foundation` for a package of the other layer.
    pub label: Option<String>,
}

/// Packages by name, with their dependencies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    pub nodes: BTreeMap<PackageName, Node>,
}

/// How far to draw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeOptions {
    /// Deepest level drawn; the roots are level 0.
    pub depth: Option<usize>,
}

impl Graph {
    /// The packages of `layer` (one or more lockfiles drawn together), with every dependency
    /// found in `outside` (e.g. the Foundation under an Application) added as a leaf labelled
    /// `outside_label`. Dependencies found nowhere are leaves with that label and no version.
    pub fn new(layer: &[&Lockfile], outside: Option<&Lockfile>, outside_label: &str) -> Graph {
        let mut nodes = BTreeMap::new();
        for lock in layer {
            for p in &lock.packages {
                nodes.insert(
                    p.name.clone(),
                    Node {
                        version: Some(p.version.to_string()),
                        dependencies: p.dependencies.clone(),
                        direct: p.direct,
                        label: None,
                    },
                );
            }
        }
        let missing: BTreeSet<PackageName> = nodes
            .values()
            .flat_map(|n| n.dependencies.iter())
            .filter(|d| !nodes.contains_key(*d))
            .cloned()
            .collect();
        for name in missing {
            let version = outside.and_then(|o| {
                o.packages
                    .iter()
                    .find(|p| p.name == name)
                    .map(|p| p.version.to_string())
            });
            nodes.insert(
                name,
                Node {
                    version,
                    dependencies: Vec::new(),
                    direct: false,
                    label: Some(outside_label.to_string()),
                },
            );
        }
        Graph { nodes }
    }

    /// The roots: direct packages, or where none is marked, packages nothing depends on.
    pub fn roots(&self) -> Vec<PackageName> {
        let direct: Vec<PackageName> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.direct)
            .map(|(k, _)| k.clone())
            .collect();
        if !direct.is_empty() {
            return direct;
        }
        let depended: HashSet<&PackageName> = self
            .nodes
            .values()
            .flat_map(|n| n.dependencies.iter())
            .collect();
        self.nodes
            .keys()
            .filter(|k| !depended.contains(k))
            .cloned()
            .collect()
    }

    /// The packages that depend on `name`, sorted.
    pub fn dependents(&self, name: &PackageName) -> Vec<PackageName> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.dependencies.contains(name))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The tree from every root, separated by blank lines.
    pub fn render(&self, options: TreeOptions) -> String {
        let mut seen = HashSet::new();
        let trees: Vec<String> = self
            .roots()
            .iter()
            .map(|root| {
                let mut out = String::new();
                self.draw(root, options, false, &mut seen, &mut out);
                out
            })
            .collect();
        trees.join("\n")
    }

    /// What pulls `name` in: its dependents, theirs, and so on up to the roots, which are
    /// marked `[direct]` when the layer requires them itself. `None` when `name` is unknown.
    pub fn render_inverted(&self, name: &PackageName, options: TreeOptions) -> Option<String> {
        if !self.nodes.contains_key(name) {
            return None;
        }
        let mut out = String::new();
        self.draw(name, options, true, &mut HashSet::new(), &mut out);
        Some(out)
    }

    fn line(&self, name: &PackageName, inverted: bool) -> String {
        let mut line = name.to_string();
        let Some(node) = self.nodes.get(name) else {
            return line;
        };
        if let Some(v) = &node.version {
            let _ = write!(line, " {v}");
        }
        if let Some(label) = &node.label {
            let _ = write!(line, " [{label}]");
        }
        if inverted && node.direct {
            line.push_str(" [direct]");
        }
        line
    }

    fn children(&self, name: &PackageName, inverted: bool) -> Vec<PackageName> {
        if inverted {
            self.dependents(name)
        } else {
            let mut deps = self
                .nodes
                .get(name)
                .map(|n| n.dependencies.clone())
                .unwrap_or_default();
            deps.sort();
            deps.dedup();
            deps
        }
    }

    fn draw(
        &self,
        root: &PackageName,
        options: TreeOptions,
        inverted: bool,
        seen: &mut HashSet<PackageName>,
        out: &mut String,
    ) {
        // An explicit stack instead of recursion: (package, prefix, is-last, level).
        let mut stack: Vec<(PackageName, String, Option<bool>, usize)> =
            vec![(root.clone(), String::new(), None, 0)];
        while let Some((name, prefix, last, level)) = stack.pop() {
            let (branch, child_prefix) = match last {
                None => (String::new(), String::new()),
                Some(true) => (format!("{prefix}└── "), format!("{prefix}    ")),
                Some(false) => (format!("{prefix}├── "), format!("{prefix}│   ")),
            };
            let children = self.children(&name, inverted);
            // Only a subtree drawn in full counts as seen: one cut by `--depth` is drawn
            // again where it is shallower.
            let repeated = !children.is_empty() && seen.contains(&name);
            let _ = write!(out, "{branch}{}", self.line(&name, inverted));
            if repeated {
                out.push_str(" (*)");
            }
            out.push('\n');
            if repeated || options.depth.is_some_and(|d| level >= d) {
                continue;
            }
            seen.insert(name.clone());
            let count = children.len();
            for (i, child) in children.into_iter().enumerate().rev() {
                stack.push((child, child_prefix.clone(), Some(i + 1 == count), level + 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn name(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    fn graph(edges: &[(&str, &[&str], bool)]) -> Graph {
        let mut nodes = BTreeMap::new();
        for (n, deps, direct) in edges {
            nodes.insert(
                name(n),
                Node {
                    version: Some("1.0".to_string()),
                    dependencies: deps.iter().map(|d| name(d)).collect(),
                    direct: *direct,
                    label: None,
                },
            );
        }
        Graph { nodes }
    }

    #[test]
    fn repeated_subtrees_are_marked_and_cycles_end() {
        let g = graph(&[
            ("app", &["b", "a"], true),
            ("a", &["c"], false),
            ("b", &["c", "a"], false),
            ("c", &["a"], false),
        ]);
        insta::assert_snapshot!(g.render(TreeOptions::default()), @r"
        app 1.0
        ├── a 1.0
        │   └── c 1.0
        │       └── a 1.0 (*)
        └── b 1.0
            ├── a 1.0 (*)
            └── c 1.0 (*)
        ");
        insta::assert_snapshot!(g.render(TreeOptions { depth: Some(1) }), @r"
        app 1.0
        ├── a 1.0
        └── b 1.0
        ");
        // `a` is cut by the depth under `x`, so it is drawn in full under `y`.
        let cut = graph(&[
            ("x", &["m"], true),
            ("m", &["a"], false),
            ("y", &["a"], true),
            ("a", &["z"], false),
            ("z", &[], false),
        ]);
        insta::assert_snapshot!(cut.render(TreeOptions { depth: Some(2) }), @r"
        x 1.0
        └── m 1.0
            └── a 1.0

        y 1.0
        └── a 1.0
            └── z 1.0
        ");
        insta::assert_snapshot!(g.render_inverted(&name("c"), TreeOptions::default()).unwrap(), @r"
        c 1.0
        ├── a 1.0
        │   ├── app 1.0 [direct]
        │   ├── b 1.0
        │   │   └── app 1.0 [direct]
        │   └── c 1.0 (*)
        └── b 1.0 (*)
        ");
        assert_eq!(
            g.render_inverted(&name("zzz"), TreeOptions::default()),
            None
        );
    }

    #[test]
    fn without_direct_marks_the_roots_are_what_nothing_depends_on() {
        let g = graph(&[("x", &["y"], false), ("y", &[], false), ("z", &[], false)]);
        assert_eq!(g.roots(), vec![name("x"), name("z")]);
        assert_eq!(
            g.render(TreeOptions::default()),
            "x 1.0\n└── y 1.0\n\nz 1.0\n"
        );
    }
}
