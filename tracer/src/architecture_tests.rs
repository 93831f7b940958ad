//! The tree keeps its shape: data flows one way, so no module imports one above it and no file
//! imports one that imports it back; only the commands read the command line; the journey is
//! pure logic; files and functions stay small. Checked on the sources themselves, by resolving
//! every `crate::` and `super::` path to the file that defines it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Which layer each top-level module is in: a module may only import lower layers (and its
/// own files). `lib.rs` (the old `main`, which the binary calls) and the fuzz entry points are
/// the top.
const LAYERS: &[(&str, u32)] = &[
    ("mac", 0),
    ("netlink", 0),
    ("interrupt", 0),
    ("clock", 0),
    ("shown", 0),
    ("kernel", 1),
    ("netns", 1),
    ("event", 1),
    ("topology", 2),
    ("path", 3),
    ("probes", 4),
    ("capture", 5),
    ("journey", 6),
    ("output", 7),
    ("cli", 8),
    ("cmd", 9),
    ("architecture_tests", 10),
    ("main", 10),
    ("lib", 10),
    ("fuzz", 10),
];

/// Files (module paths) and their text, comments removed.
fn sources() -> BTreeMap<Vec<String>, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code: String = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(module, code);
        }
    }
    out
}

/// Identifier characters.
fn ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path a `use` tree names, from the text right after `use PREFIX::` up to `;`.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], prefix, out);
        return;
    }
    match tree.split_once("::") {
        Some((head, rest)) => {
            let mut p = prefix.to_vec();
            p.push(head.trim().to_string());
            expand(rest, &p, out);
        }
        None => {
            let name = tree.split_whitespace().next().unwrap_or_default();
            let mut p = prefix.to_vec();
            if !name.is_empty() && name != "self" && name != "*" {
                p.push(name.to_string());
            }
            out.push(p);
        }
    }
}

/// The module paths a file refers to, absolute (from the crate root).
fn references(module: &[String], is_mod_rs: bool, code: &str) -> Vec<Vec<String>> {
    // `super` of a file `a/b.rs` is `a`; of `a/mod.rs` (module `a`) it is the crate root.
    let parent: Vec<String> = if is_mod_rs || module.len() <= 1 {
        module[..module.len().saturating_sub(1)].to_vec()
    } else {
        module[..module.len() - 1].to_vec()
    };
    let mut out = Vec::new();
    for (kw, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = code;
        while let Some(i) = rest.find(kw) {
            let before = rest[..i].chars().last();
            let after = &rest[i + kw.len()..];
            rest = after;
            if before.is_some_and(ident) {
                continue;
            }
            let end = after.find([';', '\n']).unwrap_or(after.len());
            let mut stmt = &after[..end];
            if stmt.starts_with('{') {
                let close = after.find(';').unwrap_or(after.len());
                stmt = &after[..close];
                expand(stmt, &base, &mut out);
                continue;
            }
            let path: Vec<String> = stmt
                .split("::")
                .map(|s| s.chars().take_while(|c| ident(*c)).collect::<String>())
                .take_while(|s| !s.is_empty())
                .collect();
            let mut p = base.clone();
            p.extend(path);
            out.push(p);
        }
    }
    out
}

struct Graph {
    /// file module path -> files it refers to.
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    sources: BTreeMap<Vec<String>, String>,
}

fn graph() -> Graph {
    let sources = sources();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges = BTreeMap::new();
    for (module, code) in &sources {
        let is_mod_rs = root.join(module.join("/")).join("mod.rs").exists();
        let mut targets = BTreeSet::new();
        for path in references(module, is_mod_rs, code) {
            // The longest prefix that is a file of ours.
            if let Some(file) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| sources.contains_key(p))
            {
                if &file != module {
                    targets.insert(file);
                }
            }
        }
        edges.insert(module.clone(), targets);
    }
    Graph { edges, sources }
}

fn layer(module: &[String]) -> u32 {
    let top = module.first().map_or("main", String::as_str);
    LAYERS
        .iter()
        .find(|(m, _)| *m == top)
        .unwrap_or_else(|| panic!("module {top} has no layer in LAYERS"))
        .1
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "main".into()
    } else {
        module.join("/")
    }
}

#[test]
fn no_module_imports_one_above_it_and_none_imports_its_importer() {
    let g = graph();
    let mut wrong = Vec::new();
    for (from, targets) in &g.edges {
        for to in targets {
            let (a, b) = (layer(from), layer(to));
            let same_top = from.first() == to.first();
            if !same_top && b >= a {
                wrong.push(format!(
                    "{} (layer {a}) -> {} (layer {b})",
                    name(from),
                    name(to)
                ));
            }
            if g.edges.get(to).is_some_and(|back| back.contains(from)) && from < to {
                wrong.push(format!("{} <-> {}", name(from), name(to)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The resolution works: the layering above was checked on real edges.
    assert!(g.edges.values().map(BTreeSet::len).sum::<usize>() > 100);
}

#[test]
fn only_the_commands_read_the_command_line_and_the_journey_is_pure() {
    let g = graph();
    let mut wrong = Vec::new();
    for (from, targets) in &g.edges {
        let top = from.first().map_or("main", String::as_str);
        for to in targets {
            let to_top = to.first().map(String::as_str);
            if to_top == Some("cli") && !matches!(top, "cmd" | "main" | "lib" | "cli") {
                wrong.push(format!("{} reads cli", name(from)));
            }
            let impure = matches!(to_top, Some("capture" | "probes" | "netns" | "kernel"))
                || to.starts_with(&["topology".to_string(), "sources".to_string()]);
            if top == "journey" && impure {
                wrong.push(format!("{} imports {}", name(from), name(to)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn files_and_functions_stay_small() {
    let g = graph();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in ["path/mod.rs", "event/hop.rs"]
        .iter()
        .map(|f| root.join(f))
        .chain(
            std::fs::read_dir(root.join("journey/verdict"))
                .unwrap()
                .flatten()
                .map(|e| e.path()),
        )
    {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        assert!(lines < 400, "{}: {lines} lines", file.display());
    }
    let mut long = Vec::new();
    for (module, code) in &g.sources {
        let lines: Vec<&str> = code.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let trimmed = l.trim_start();
            let indent = &l[..l.len() - trimmed.len()];
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "const fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if !is_fn || trimmed.ends_with(';') {
                continue;
            }
            let close = format!("{indent}}}");
            if let Some(end) = lines[i + 1..].iter().position(|x| x.trim_end() == close) {
                if end + 2 > 100 {
                    long.push(format!("{}:{} ({} lines)", name(module), i + 1, end + 2));
                }
            }
        }
    }
    assert!(long.is_empty(), "functions over 100 lines: {long:#?}");
}
